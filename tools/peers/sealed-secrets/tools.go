//go:build tools

// Package tools pins the sealed-secrets commands that tools/peers.sh builds
// (kubeseal and the controller). The imports only keep them in go.mod/go.sum.
//
// Since v0.40.0 the module declares its path as github.com/bitnami/sealed-secrets
// while the proxy serves it only under the old path github.com/bitnami-labs/
// sealed-secrets, so `go install ...@v0.40.0` fails ("module declares its path
// as ..."); go.mod requires the new path and replaces it with the old one.
package tools

import (
	_ "github.com/bitnami/sealed-secrets/cmd/controller"
	_ "github.com/bitnami/sealed-secrets/cmd/kubeseal"
)
