#!/usr/bin/env bash
# Regenerate the sealed-secrets tools module (go.mod/go.sum here) for a release:
#   tools/peers/sealed-secrets/gen.sh v0.40.0
# then set SEALED_SECRETS_VERSION in tools/peers/versions.env and commit.
# See tools.go for why this is a module and not `go install ...@version`.
set -euo pipefail
version=${1:?usage: gen.sh vX.Y.Z}
cd "$(dirname "${BASH_SOURCE[0]}")"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS=-mod=mod
old=github.com/bitnami-labs/sealed-secrets new=github.com/bitnami/sealed-secrets
gomod=$(go mod download -json "$old@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
go_line=$(awk '$1=="go"{print $2; exit}' "$gomod")
rm -f go.mod go.sum
go mod init tcpc.local/peers/sealed-secrets 2>/dev/null
go mod edit -go="$go_line" -require="$new@$version" -replace="$new=$old@$version"
go mod tidy
go mod verify >/dev/null
