#!/usr/bin/env bash
# Build and cache the real upstream tools ("peers") that tcpc's tests check against.
#
#   tools/peers.sh all                 everything below
#   tools/peers.sh sops kubeseal ...   only these
#   tools/peers.sh --bin-dir           print the directory the binaries land in
#   tools/peers.sh --list              print the known names
#
# Names: sops, kubeseal, sealed-secrets-controller, kustomize, kubernetes, flux, argocd, kine, nats, kube-router, coredns, konnectivity, gateway-api, debian.
# Versions live in tools/peers/versions.env (the only place to change them).
#
# Binaries land in ${TCPC_PEERS_DIR:-$HOME/.cache/tcpc/peers}/bin as <name>-<version>
# plus an unversioned symlink <name> -> <name>-<version> for the default version.
# Each build writes a stamp file keyed by version and build inputs; when the stamp
# matches and the binary is there, nothing is built and nothing is printed, so a
# warm run takes well under a second. Go builds use the ordinary module cache
# (GOMODCACHE) and build cache (GOCACHE), which persist under $HOME by default,
# so a version bump only recompiles what changed. Build timings go to stderr.
# Debian packages are installed with apt only when `dpkg-query` reports them missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# CI may run with a minimal environment: make HOME and the usual Go install visible.
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
command -v go >/dev/null || { [[ -x /usr/local/go/bin/go ]] && PATH=$PATH:/usr/local/go/bin; }
# shellcheck source=peers/versions.env
source "$here/peers/versions.env"

peers_dir=${TCPC_PEERS_DIR:-$HOME/.cache/tcpc/peers}
bin_dir=$peers_dir/bin
stamp_dir=$peers_dir/stamps
all_names=(sops kubeseal sealed-secrets-controller kustomize kubernetes flux argocd kine nats kube-router coredns konnectivity gateway-api debian)
k8s_commands=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubeadm kubectl)

built=0  # set to 1 by any step that did work; only then is a summary printed

log() { printf 'peers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# stamp_ok NAME KEY FILE... : the stamp for NAME holds KEY and every FILE exists.
stamp_ok() {
  local name=$1 key=$2 f; shift 2
  [[ -f $stamp_dir/$name && "$(<"$stamp_dir/$name")" == "$key" ]] || return 1
  for f in "$@"; do [[ -x $f ]] || return 1; done
}
stamp_write() { printf '%s' "$2" > "$stamp_dir/$1.tmp" && mv -f "$stamp_dir/$1.tmp" "$stamp_dir/$1"; }

go_env() {
  command -v go >/dev/null || die "go is not on PATH (needed to build the Go peers)"
  # No toolchain downloads (only the module proxy is reachable); static binaries.
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
  export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
}

# go_tool NAME PACKAGE VERSION BINARY [LDFLAGS]: `go install PACKAGE@VERSION`, land the
# result as bin/NAME-VERSION and point bin/NAME at it.
go_tool() {
  local name=$1 pkg=$2 version=$3 binary=$4 ldflags=${5:-}
  local out="$bin_dir/$name-$version"
  local key="go-install $pkg@$version ldflags=[-s -w $ldflags]"
  if ! stamp_ok "$name" "$key" "$out"; then
    go_env
    local t0 tmp; t0=$(now); tmp=$(mktemp -d "$peers_dir/.build.XXXXXX")
    log "building $name $version ($pkg) ..."
    if ! (cd "$tmp" && GOBIN="$tmp/bin" go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$version"); then
      rm -rf "$tmp"; die "building $name $version failed"
    fi
    mv -f "$tmp/bin/$binary" "$out"
    rm -rf "$tmp"
    stamp_write "$name" "$key"
    built=1
    log "built $name $version in $(elapsed "$t0")"
  fi
  ln -sfn "$name-$version" "$bin_dir/$name"
}

# mod_tool NAME MODDIR VERSION PACKAGE BINARY [LDFLAGS]: build PACKAGE from the committed
# tools module MODDIR (go.mod requires VERSION), land it as bin/NAME-VERSION, link bin/NAME.
mod_tool() {
  local name=$1 mod=$2 version=$3 pkg=$4 binary=$5 ldflags=${6:-}
  local out="$bin_dir/$name-$version"
  [[ -f $mod/go.mod && -f $mod/go.sum ]] || die "no tools module $mod"
  grep -q " $version\$" <(grep -v '=>' "$mod/go.mod") ||
    die "$mod/go.mod does not pin $version (versions.env); run $mod/gen.sh $version"
  local key; key="go-build $pkg@$version ldflags=[-s -w $ldflags] $(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)"
  if ! stamp_ok "$name" "$key" "$out"; then
    go_env
    local t0 tmp; t0=$(now); tmp=$(mktemp -d "$peers_dir/.build.XXXXXX")
    log "building $name $version ($pkg) ..."
    if ! (cd "$mod" && go build -mod=readonly -trimpath -ldflags "-s -w $ldflags" -o "$tmp/$binary" "$pkg"); then
      rm -rf "$tmp"; die "building $name $version failed"
    fi
    mv -f "$tmp/$binary" "$out"
    rm -rf "$tmp"
    stamp_write "$name" "$key"
    built=1
    log "built $name $version in $(elapsed "$t0")"
  fi
  ln -sfn "$name-$version" "$bin_dir/$name"
}

# The SealedSecret CRD of the pinned release, copied out of the module cache (never
# committed) to share/sealedsecrets.bitnami.com.yaml beside bin/ for tests that
# need the CRD installed in a throwaway apiserver.
sealed_secrets_crd() {
  local share=$peers_dir/share out
  out=$share/sealedsecrets.bitnami.com-$SEALED_SECRETS_VERSION.yaml
  if [[ ! -s $out ]]; then
    go_env
    local dir
    dir=$(cd "$here/peers/sealed-secrets" && go mod download -json github.com/bitnami-labs/sealed-secrets@"$SEALED_SECRETS_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -f $dir/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml ]] || die "SealedSecret CRD not found in $dir"
    mkdir -p "$share"
    cp "$dir/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml" "$out.tmp"
    chmod 644 "$out.tmp" && mv -f "$out.tmp" "$out"
  fi
  ln -sfn "$(basename "$out")" "$share/sealedsecrets.bitnami.com.yaml"
}

# Gateway API's TLSRoute CRD of the pinned release, from the module cache (never committed),
# to share/gateway-api/ for the dry run's throwaway apiserver.
gateway_api_crds() {
  local share=$peers_dir/share/gateway-api out
  out=$share/tlsroutes-$GATEWAY_API_VERSION.yaml
  if [[ ! -s $out ]]; then
    go_env
    local t0 dir
    t0=$(now)
    dir=$(mod_dir "$here/peers" sigs.k8s.io/gateway-api@"$GATEWAY_API_VERSION")
    [[ -f $dir/config/crd/standard/gateway.networking.k8s.io_tlsroutes.yaml ]] || die "TLSRoute CRD not found in $dir"
    mkdir -p "$share"
    cp "$dir/config/crd/standard/gateway.networking.k8s.io_tlsroutes.yaml" "$out.tmp"
    chmod 644 "$out.tmp" && mv -f "$out.tmp" "$out"
    built=1
    log "fetched gateway-api $GATEWAY_API_VERSION CRDs in $(elapsed "$t0")"
  fi
  ln -sfn "$(basename "$out")" "$share/tlsroutes.yaml"
}

# flux_controller NAME MODULE VERSION [REPLACE...]: build a Flux controller (its main package)
# inside a copy of the downloaded module source, so the module's own go.mod (requires and
# replaces) applies. Module zips leave out the nested api/ module that go.mod replaces with
# ./api, so that replace is dropped (the api module of the same release then comes from the
# proxy); each REPLACE (OLD=NEW@VERSION) is added with `go mod edit -replace`. Lands
# bin/NAME-VERSION, links bin/NAME, and copies the module's CRDs (config/crd/bases) to
# share/flux/NAME-VERSION/ (never committed).
flux_controller() {
  local name=$1 module=$2 version=$3; shift 3
  local out="$bin_dir/$name-$version" crds="$peers_dir/share/flux/$name-$version"
  local key="flux $module@$version replace=[$*] ldflags=[-s -w]"
  if ! stamp_ok "$name" "$key" "$out" || [[ ! -d $crds ]]; then
    go_env
    local t0 tmp dir r; t0=$(now); tmp=$(mktemp -d "$peers_dir/.build.XXXXXX")
    log "building $name $version ($module) ..."
    dir=$(cd "$tmp" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' || true)
    [[ -f $dir/go.mod && -d $dir/config/crd/bases ]] || { rm -rf "$tmp"; die "$module@$version: no module source (go mod download)"; }
    cp -r "$dir" "$tmp/src" && chmod -R u+w "$tmp/src"
    local edits=(-dropreplace "$module/api")
    for r in "$@"; do edits+=(-replace "$r"); done
    if ! (cd "$tmp/src" && go mod edit "${edits[@]}" &&
      go build -mod=mod -trimpath -ldflags "-s -w" -o "$tmp/$name" .); then
      rm -rf "$tmp"; die "building $name $version failed"
    fi
    mkdir -p "$crds.tmp"
    cp "$tmp/src/config/crd/bases/"*.yaml "$crds.tmp/" && chmod 644 "$crds.tmp/"*.yaml
    rm -rf "$crds" && mv "$crds.tmp" "$crds"
    mv -f "$tmp/$name" "$out"
    rm -rf "$tmp"
    stamp_write "$name" "$key"
    built=1
    log "built $name $version in $(elapsed "$t0")"
  fi
  ln -sfn "$name-$version" "$bin_dir/$name"
  ln -sfn "$name-$version" "$peers_dir/share/flux/$name"
}

# k8s_build VERSION DEFAULT: build the Kubernetes commands of one release from its
# tools module tools/peers/k8s/VERSION; DEFAULT=1 also points the unversioned names at it.
k8s_build() {
  local version=$1 default=$2
  local mod="$here/peers/k8s/$version"
  [[ -f $mod/go.mod && -f $mod/go.sum ]] || die "no tools module $mod; run tools/peers/k8s/gen.sh $version and commit it"
  [[ $version =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || die "bad Kubernetes version $version"
  local major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]} p ldflags="-s -w"
  # kubeadm and the components parse their own version: set it as hack/lib/version.sh does.
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  local outs=() c
  for c in "${k8s_commands[@]}"; do outs+=("$bin_dir/$c-$version"); done
  local key; key="k8s $version ldflags=[$ldflags] $(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)"
  if ! stamp_ok "kubernetes-$version" "$key" "${outs[@]}"; then
    go_env
    local t0 tmp pkgs=(); t0=$(now); tmp=$(mktemp -d "$peers_dir/.build.XXXXXX")
    for c in "${k8s_commands[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    log "building Kubernetes $version (${k8s_commands[*]}) ..."
    if ! (cd "$mod" && go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}"); then
      rm -rf "$tmp"; die "building Kubernetes $version failed"
    fi
    for c in "${k8s_commands[@]}"; do mv -f "$tmp/$c" "$bin_dir/$c-$version"; done
    rm -rf "$tmp"
    stamp_write "kubernetes-$version" "$key"
    built=1
    log "built Kubernetes $version in $(elapsed "$t0")"
  fi
  if [[ $default == 1 ]]; then
    for c in "${k8s_commands[@]}"; do ln -sfn "$c-$version" "$bin_dir/$c"; done
  fi
}

# argocd_build: argocd-cmp-server (Argo CD's config-management plugin server), our
# driver tools/peers/argocd/cmp-drive (talks to it through argo-cd's own repo-server
# code) and tools/peers/argocd/cluster-check (a cluster Secret through argo-cd's own
# db/REST config and ApplicationSet cluster-generator code), built from a writable copy of the argo-cd module so that its go.mod (replace
# directives, go.sum) applies. The module zip lacks the nested ./gitops-engine module its
# go.mod replaces, so that directory is filled from the proxy's gitops-engine module
# (ARGOCD_GITOPS_ENGINE_VERSION). Only the three small mains are compiled (one go build).
# mod_dir TMP MODULE@VERSION: download MODULE@VERSION (from TMP, outside any module); print its directory.
mod_dir() { (cd "$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'); }

# tree_build TMP TREE LDFLAGS STAMP KEY LABEL T0 PKG=OUT...: build each PKG in the module tree TREE
# (-mod=mod: with its go.mod's own replaces), move the binaries to their OUTs, remove TMP, stamp.
tree_build() {
  local tmp=$1 tree=$2 ldflags=$3 stamp=$4 key=$5 label=$6 t0=$7 pair pkgs=()
  shift 7
  for pair in "$@"; do pkgs+=("${pair%%=*}"); done
  if ! (cd "$tree" && go build -mod=mod -trimpath -ldflags "$ldflags" -o "$tmp/bin/" "${pkgs[@]}"); then
    chmod -R u+w "$tmp"; rm -rf "$tmp"; die "building $label failed"
  fi
  for pair in "$@"; do mv -f "$tmp/bin/$(basename "${pair%%=*}")" "${pair#*=}"; done
  chmod -R u+w "$tmp"; rm -rf "$tmp"
  stamp_write "$stamp" "$key"
  built=1
  log "built $label in $(elapsed "$t0")"
}

# anp_build: proxy-server and proxy-agent of sigs.k8s.io/apiserver-network-proxy (konnectivity),
# built in the module's own tree: its go.mod replaces konnectivity-client with ./konnectivity-client,
# a module of its own (not in the zip), so that one is downloaded at the same version into place.
anp_build() {
  local version=$KONNECTIVITY_VERSION
  local server="$bin_dir/proxy-server-$version" agent="$bin_dir/proxy-agent-$version"
  local key="anp $version ldflags=[-s -w]"
  if ! stamp_ok konnectivity "$key" "$server" "$agent"; then
    go_env
    local t0 tmp dir cdir; t0=$(now); tmp=$(mktemp -d "$peers_dir/.build.XXXXXX")
    log "building proxy-server, proxy-agent $version (sigs.k8s.io/apiserver-network-proxy) ..."
    dir=$(mod_dir "$tmp" "sigs.k8s.io/apiserver-network-proxy@$version") && [[ -f $dir/go.mod ]] ||
      { rm -rf "$tmp"; die "apiserver-network-proxy $version not downloadable"; }
    cdir=$(mod_dir "$tmp" "sigs.k8s.io/apiserver-network-proxy/konnectivity-client@$version") && [[ -f $cdir/go.mod ]] ||
      { rm -rf "$tmp"; die "konnectivity-client $version not downloadable"; }
    mkdir -p "$tmp/anp/konnectivity-client"
    tar -C "$dir" -cf - . | tar -C "$tmp/anp" -xf -
    tar -C "$cdir" -cf - . | tar -C "$tmp/anp/konnectivity-client" -xf -
    chmod -R u+w "$tmp/anp"
    tree_build "$tmp" "$tmp/anp" "-s -w" konnectivity "$key" "proxy-server, proxy-agent $version" "$t0" \
      ./cmd/server="$server" ./cmd/agent="$agent"
  fi
  ln -sfn "proxy-server-$version" "$bin_dir/proxy-server"
  ln -sfn "proxy-agent-$version" "$bin_dir/proxy-agent"
}

argocd_build() {
  local version=$ARGOCD_VERSION engine=$ARGOCD_GITOPS_ENGINE_VERSION src="$here/peers/argocd"
  local server="$bin_dir/argocd-cmp-server-$version" drive="$bin_dir/argocd-cmp-drive-$version"
  local check="$bin_dir/argocd-cluster-check-$version"
  local ldflags="-s -w -X github.com/argoproj/argo-cd/v3/common.version=${version#v}"
  local key; key="argocd $version engine=$engine ldflags=[$ldflags] $(cat "$src"/*/main.go | sha256sum | cut -c1-16)"
  if ! stamp_ok argocd "$key" "$server" "$drive" "$check"; then
    go_env
    local t0 tmp dir edir; t0=$(now); tmp=$(mktemp -d "$peers_dir/.build.XXXXXX")
    log "building argocd-cmp-server $version (argo-cd module, gitops-engine $engine) ..."
    dir=$(mod_dir "$tmp" "github.com/argoproj/argo-cd/v3@$version") && [[ -f $dir/go.mod ]] || { rm -rf "$tmp"; die "argo-cd $version not downloadable"; }
    edir=$(mod_dir "$tmp" "github.com/argoproj/argo-cd/gitops-engine@$engine") && [[ -f $edir/go.mod ]] ||
      { rm -rf "$tmp"; die "gitops-engine $engine not downloadable"; }
    mkdir -p "$tmp/argo-cd"
    tar -C "$dir" --exclude=./docs --exclude=./gitops-engine -cf - . | tar -C "$tmp/argo-cd" -xf -
    mkdir -p "$tmp/argo-cd/gitops-engine" "$tmp/argo-cd/cmd/tcpc-peer"
    tar -C "$edir" -cf - . | tar -C "$tmp/argo-cd/gitops-engine" -xf -
    chmod -R u+w "$tmp/argo-cd"
    cp -r "$src/cmp-server" "$src/cmp-drive" "$src/cluster-check" "$tmp/argo-cd/cmd/tcpc-peer/"
    tree_build "$tmp" "$tmp/argo-cd" "$ldflags" argocd "$key" "argocd-cmp-server $version" "$t0" \
      ./cmd/tcpc-peer/cmp-server="$server" ./cmd/tcpc-peer/cmp-drive="$drive" ./cmd/tcpc-peer/cluster-check="$check"
  fi
  ln -sfn "argocd-cmp-server-$version" "$bin_dir/argocd-cmp-server"
  ln -sfn "argocd-cmp-drive-$version" "$bin_dir/argocd-cmp-drive"
  ln -sfn "argocd-cluster-check-$version" "$bin_dir/argocd-cluster-check"
}

debian_packages() {
  local missing=() p
  for p in $DEBIAN_PACKAGES; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
  local sudo=; ((EUID == 0)) || sudo=sudo
  local t0; t0=$(now)
  log "installing Debian packages: ${missing[*]} ..."
  # Never start the packaged daemons (etcd, containerd): tests start their own.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && made_policy=1
  fi
  local rc=0
  {
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600 update &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
  } >"$peers_dir/apt.log" 2>&1 || rc=$?
  ((made_policy)) && $sudo rm -f "$policy"
  ((rc == 0)) || { tail -n 30 "$peers_dir/apt.log" >&2; die "apt-get failed (full log: $peers_dir/apt.log)"; }
  built=1
  log "installed Debian packages in $(elapsed "$t0")"
}

build() {
  case $1 in
    sops)
      go_tool sops github.com/getsops/sops/v3/cmd/sops "$SOPS_VERSION" sops ;;
    kubeseal)
      mod_tool kubeseal "$here/peers/sealed-secrets" "$SEALED_SECRETS_VERSION" \
        github.com/bitnami/sealed-secrets/cmd/kubeseal kubeseal "-X main.VERSION=$SEALED_SECRETS_VERSION"
      sealed_secrets_crd ;;
    sealed-secrets-controller)
      mod_tool sealed-secrets-controller "$here/peers/sealed-secrets" "$SEALED_SECRETS_VERSION" \
        github.com/bitnami/sealed-secrets/cmd/controller controller "-X main.VERSION=$SEALED_SECRETS_VERSION"
      sealed_secrets_crd ;;
    kustomize)
      go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" kustomize ;;
    kubernetes)
      k8s_build "$KUBERNETES_VERSION" 1
      local v
      # TCPC_MORE_KUBERNETES_VERSIONS: releases beyond versions.env, e.g. every supported minor for
      # tests/kubeadm_parity.rs and tests/pki_apiserver.rs, which run every release they find.
      for v in $KUBERNETES_EXTRA_VERSIONS ${TCPC_MORE_KUBERNETES_VERSIONS:-}; do k8s_build "$v" 0; done ;;
    flux)
      # shellcheck disable=SC2086 # the replace lists are word lists
      flux_controller source-controller github.com/fluxcd/source-controller "$FLUX_SOURCE_CONTROLLER_VERSION" \
        $FLUX_SOURCE_CONTROLLER_REPLACE
      # shellcheck disable=SC2086
      flux_controller kustomize-controller github.com/fluxcd/kustomize-controller "$FLUX_KUSTOMIZE_CONTROLLER_VERSION" \
        $FLUX_KUSTOMIZE_CONTROLLER_REPLACE ;;
    argocd)
      argocd_build ;;
    kine)
      go_tool kine github.com/k3s-io/kine "$KINE_VERSION" kine ;;
    nats)
      go_tool nats-server github.com/nats-io/nats-server/v2 "$NATS_SERVER_VERSION" nats-server ;;
    kube-router)
      go_tool kube-router github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "$KUBE_ROUTER_VERSION" kube-router ;;
    coredns)
      go_tool coredns github.com/coredns/coredns "$COREDNS_VERSION" coredns ;;
    konnectivity)
      anp_build ;;
    gateway-api)
      gateway_api_crds ;;
    debian)
      debian_packages ;;
    *) die "unknown peer '$1' (known: ${all_names[*]})" ;;
  esac
}

(($#)) || usage
case $1 in
  --bin-dir) echo "$bin_dir"; exit 0 ;;
  --list) printf '%s\n' "${all_names[@]}"; exit 0 ;;
  -h|--help) usage ;;
esac

names=()
for a in "$@"; do
  if [[ $a == all ]]; then names+=("${all_names[@]}"); else names+=("$a"); fi
done
for a in "${names[@]}"; do
  [[ " ${all_names[*]} " == *" $a "* ]] || die "unknown peer '$a' (known: ${all_names[*]})"
done

mkdir -p "$bin_dir" "$stamp_dir"
t_all=$(now)
for a in "${names[@]}"; do
  # One builder per peer at a time (tests and developers may race); a run that
  # waited finds the stamp written and builds nothing.
  exec {lock_fd}>"$stamp_dir/.$a.lock"
  flock "$lock_fd"
  build "$a"
  exec {lock_fd}>&-
done
((built)) && log "done in $(elapsed "$t_all"); binaries in $bin_dir"
exit 0
