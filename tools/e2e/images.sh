#!/usr/bin/env bash
# Container images for the e2e cluster, built without a registry or a container builder.
#
#   tools/e2e/images.sh tools          build our static Go helpers (pause, probe, netnsfwd, oidc, gitserve, svcdns); print their dir
#   tools/e2e/images.sh build          build every image tarball (cached); print "REF TARBALL" lines
#   tools/e2e/images.sh import DIR [REF…]  build, then import into the containerd of cluster DIR
#                                      (only the images carrying one of the REFs, when given)
#   tools/e2e/images.sh refs           print the image references
#
# Each image is a docker-archive tarball (one layer tar + config JSON + manifest.json with
# RepoTags), imported with `ctr -n k8s.io images import`. Tarballs are cached under
# ${TCPC_E2E_CACHE:-$HOME/.cache/tcpc/e2e}/images, keyed by the sha256 of every file in the
# image, so a warm run only hashes and imports.
#
# Images (Kubernetes and sealed-secrets versions from tools/peers/versions.env):
#   registry.k8s.io/kube-apiserver:vX.Y.Z            /usr/local/bin/kube-apiserver
#   registry.k8s.io/kube-controller-manager:vX.Y.Z   /usr/local/bin/kube-controller-manager
#   registry.k8s.io/kube-scheduler:vX.Y.Z            /usr/local/bin/kube-scheduler
#     (like upstream: no ENTRYPOINT, so pods must set `command:`; the host's
#      /etc/ssl/certs/ca-certificates.crt is the public trust bundle)
#   registry.k8s.io/pause:3.10.2 (also :3.10)        /pause, our own static Go pause
#   docker.io/bitnami/sealed-secrets-controller:X.Y.Z (also :vX.Y.Z)  /usr/local/bin/controller, user 1001
#   localhost/tcpc-e2e/probe:v1                      /usr/local/bin/probe, our static HTTPS probe
#   localhost/tcpc-e2e/oidc:v1                       /usr/local/bin/oidc, our static OIDC issuer (discovery + JWKS)
#   localhost/tcpc-e2e/kine:KINE_VERSION             /bin/kine, built from its Go module by tools/peers.sh kine
#   localhost/tcpc-e2e/psql:v1                       /bin/sh and psql from the host's Debian packages, with the
#                                                    shared libraries they load (the datastore setup Job's client)
#   localhost/tcpc-e2e/mariadb:v1                    /bin/sh and the mariadb client, the same way
#   localhost/tcpc-e2e/etcdctl:v1                    /bin/sh and etcdctl (Debian etcd-client), the same way
#   localhost/tcpc-e2e/etcd:v1                       etcd (Debian etcd-server) and its libraries: dedicated etcds
#   registry.k8s.io/kube-proxy:vX.Y.Z (every release built)  /usr/local/bin/kube-proxy and the host's
#                                                    iptables (nf_tables multi-call binary under each name
#                                                    kube-proxy runs, its extensions and libraries)
#   registry.k8s.io/coredns/coredns:vX.Y.Z           /coredns, built from its Go module (tools/peers.sh coredns)
#   registry.k8s.io/kas-network-proxy/proxy-agent:vX.Y.Z  /proxy-agent (tools/peers.sh konnectivity)
#     (these three only run on workers of tenant clusters: imported only when asked for by REF)
#   registry.k8s.io/kas-network-proxy/proxy-server:vX.Y.Z /proxy-server, the control-plane sidecar
#   localhost/tcpc-e2e/companion:v1                  /usr/local/bin/tcpc-companion (TCPC_COMPANION_BIN, stripped)
#                                                    and the shared libraries it loads, user 65532
# The three control-plane images are also built for every KUBERNETES_EXTRA_VERSIONS release whose
# binaries (bin/<name>-<version>) tools/peers.sh built; missing ones are skipped with a note.
set -euo pipefail

# shellcheck source=tools/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHE=${TCPC_E2E_CACHE:-$HOME/.cache/tcpc/e2e}
FORMAT=1  # bump to invalidate every cached tarball
PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

# build_tools: the static Go helpers, cached by the hash of their sources.
build_tools() {
  local src=$e2e_here/go key out
  key=$( (cd "$src" && find . -type f \( -name '*.go' -o -name go.mod \) | sort | xargs sha256sum; go version) | sha256sum | cut -c1-16)
  out=$CACHE/tools/$key
  if [[ ! -x $out/probe || ! -x $out/pause || ! -x $out/netnsfwd || ! -x $out/oidc || ! -x $out/gitserve ||
        ! -x $out/svcdns ]]; then
    local t0; t0=$(now)
    mkdir -p "$out.tmp"
    (cd "$src" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
      go build -trimpath -ldflags '-s -w' -o "$out.tmp/" ./pause ./probe ./netnsfwd ./oidc ./gitserve ./svcdns) >&2
    rm -rf "$out"; mv "$out.tmp" "$out"
    log "built e2e tools in $(elapsed "$t0")s"
  fi
  printf '%s\n' "$out"
}

# file_sha256 FILE: sha256 of FILE, memoised by (path, size, mtime, inode) in $CACHE/hashes
# so a warm run does not re-read ~300 MB of binaries.
file_sha256() {
  local f; f=$(readlink -f "$1")
  local id; id=$(stat -c '%s %Y %i' "$f")
  local memo; memo=$CACHE/hashes/$(printf '%s' "$f" | sha256sum | cut -c1-32)
  if [[ -f $memo && $(head -n 1 "$memo") == "$id" ]]; then
    sed -n 2p "$memo"
    return 0
  fi
  mkdir -p "$CACHE/hashes"
  local h; h=$(sha256sum < "$f" | cut -c1-64)
  printf '%s\n%s\n' "$id" "$h" > "$memo.tmp" && mv -f "$memo.tmp" "$memo"
  printf '%s\n' "$h"
}

# image_tarball OUTVAR USER ENTRYPOINT_JSON REFS FILE_SPEC...
#   REFS: space-separated image references (RepoTags)
#   FILE_SPEC: SRC:DST[:MODE] copied into the single layer
# Sets OUTVAR to the cached tarball path, building it when missing.
image_tarball() {
  local -n _out=$1
  local user=$2 entrypoint=$3 refs=$4; shift 4
  local spec key
  key=$( {
    echo "format=$FORMAT user=$user entrypoint=$entrypoint refs=$refs"
    for spec in "$@"; do
      IFS=: read -r s d m <<< "$spec"
      echo "$d ${m:-0755} $(file_sha256 "$s")"
    done
  } | sha256sum | cut -c1-32)
  _out=$CACHE/images/$key.tar
  [[ -f $_out ]] && return 0

  local work; work=$(mktemp -d)
  mkdir -p "$work/rootfs/tmp" "$work/rootfs/etc" "$work/rootfs/etc/ssl/certs" "$CACHE/images"
  chmod 1777 "$work/rootfs/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:1001:1001:nonroot:/home/nonroot:/sbin/nologin\n' > "$work/rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:1001:\n' > "$work/rootfs/etc/group"
  for spec in "$@"; do
    IFS=: read -r s d m <<< "$spec"
    mkdir -p "$work/rootfs$(dirname "$d")"
    cp -L "$s" "$work/rootfs$d"
    chmod "${m:-0755}" "$work/rootfs$d"
  done
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/layer.tar" .
  local diff_id; diff_id=$(sha256sum "$work/layer.tar" | cut -c1-64)
  mkdir "$work/$diff_id"; mv "$work/layer.tar" "$work/$diff_id/layer.tar"
  jq -n --arg user "$user" --argjson ep "$entrypoint" --arg path "$PATH_ENV" --arg diff "sha256:$diff_id" '{
      architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
      config: ({Env: [$path], User: $user, WorkingDir: "/"} + (if $ep == null then {} else {Entrypoint: $ep} end)),
      rootfs: {type: "layers", diff_ids: [$diff]},
      history: [{created: "1970-01-01T00:00:00Z", created_by: "tools/e2e/images.sh"}]
    }' > "$work/config.json"
  local cfg; cfg=$(sha256sum "$work/config.json" | cut -c1-64)
  mv "$work/config.json" "$work/$cfg.json"
  jq -n --arg cfg "$cfg.json" --arg layer "$diff_id/layer.tar" --arg refs "$refs" \
    '[{Config: $cfg, RepoTags: ($refs | split(" ")), Layers: [$layer]}]' > "$work/manifest.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" \
    -cf "$_out.tmp" manifest.json "$cfg.json" "$diff_id/layer.tar"
  mv -f "$_out.tmp" "$_out"
  rm -rf "$work"
}

# closure_specs BINARY...: FILE_SPECs for each binary and every shared library it loads
# (ldd), at the paths the dynamic loader looks for them.
closure_specs() {
  local b lib
  for b in "$@"; do
    printf '%s:%s\n' "$b" "$b"
    ldd "$b" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'
  done | while read -r lib; do
    [[ $lib == *:* ]] && { printf '%s\n' "$lib"; continue; }
    printf '%s:%s:0755\n' "$lib" "$lib"  # the loader must be executable; libraries may be
  done | sort -u
}

# client_image REF DEBIAN_PACKAGE BINARY [PATH]: an image of /bin/sh (dash) and BINARY (also at
# PATH) with their shared libraries, for the datastore setup Jobs; prints "REF<TAB>TARBALL".
client_image() {
  local ref=$1 package=$2 binary=$3 path=${4:-} specs tar
  if [[ ! -x $binary ]]; then
    log "no $binary (Debian $package): skipping the image $ref"
    return 0
  fi
  mapfile -t specs < <(closure_specs /bin/dash "$binary")
  image_tarball tar 0 null "$ref" "${specs[@]}" "/bin/dash:/bin/sh" ${path:+"$binary:$path"}
  printf '%s\t%s\n' "$ref" "$tar"
}

# build_images: print "REFS<TAB>TARBALL" for every image.
build_images() {
  local t0; t0=$(now)
  local bin tools kver ssver tar
  bin=$(peers_bin_dir)
  tools=$(build_tools)
  kver=$(kubernetes_version)
  ssver=$(sealed_secrets_version)
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    [[ -x $bin/$c ]] || die "$bin/$c missing: run tools/peers.sh kubernetes"
    image_tarball tar 0 null "registry.k8s.io/$c:$kver" \
      "$bin/$c:/usr/local/bin/$c" "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:0644"
    printf '%s\t%s\n' "registry.k8s.io/$c:$kver" "$tar"
  done
  local xver
  for xver in $(kubernetes_extra_versions); do
    for c in kube-apiserver kube-controller-manager kube-scheduler; do
      if [[ ! -x $bin/$c-$xver ]]; then
        log "no $bin/$c-$xver (KUBERNETES_EXTRA_VERSIONS; tools/peers.sh kubernetes): skipping its image"
        continue
      fi
      image_tarball tar 0 null "registry.k8s.io/$c:$xver" \
        "$bin/$c-$xver:/usr/local/bin/$c" "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:0644"
      printf '%s\t%s\n' "registry.k8s.io/$c:$xver" "$tar"
    done
  done
  local pause_refs=$E2E_PAUSE_IMAGE
  [[ $E2E_PAUSE_IMAGE == registry.k8s.io/pause:3.10 ]] || pause_refs+=" registry.k8s.io/pause:3.10"
  image_tarball tar 0 '["/pause"]' "$pause_refs" "$tools/pause:/pause"
  printf '%s\t%s\n' "$pause_refs" "$tar"
  image_tarball tar 0 '["/usr/local/bin/probe"]' "localhost/tcpc-e2e/probe:v1" \
    "$tools/probe:/usr/local/bin/probe" "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:0644"
  printf '%s\t%s\n' "localhost/tcpc-e2e/probe:v1" "$tar"
  image_tarball tar 0 '["/usr/local/bin/oidc"]' "localhost/tcpc-e2e/oidc:v1" "$tools/oidc:/usr/local/bin/oidc"
  printf '%s\t%s\n' "localhost/tcpc-e2e/oidc:v1" "$tar"
  if [[ -x $bin/kine ]]; then
    local kref; kref="localhost/tcpc-e2e/kine:$(readlink "$bin/kine" | sed 's/^kine-//')"
    image_tarball tar 0 '["/bin/kine"]' "$kref" "$bin/kine:/bin/kine"
    printf '%s\t%s\n' "$kref" "$tar"
  else
    log "no $bin/kine (tools/peers.sh kine): skipping its image"
  fi
  local psql_bin; psql_bin=$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
  client_image "localhost/tcpc-e2e/psql:v1" postgresql-client "${psql_bin:-/usr/bin/psql}" /usr/bin/psql
  client_image "localhost/tcpc-e2e/mariadb:v1" mariadb-client /usr/bin/mariadb
  client_image "localhost/tcpc-e2e/etcdctl:v1" etcd-client /usr/bin/etcdctl
  local etcd_bin; etcd_bin=$(command -v etcd || true)
  if [[ -x $etcd_bin ]]; then
    local specs; mapfile -t specs < <(closure_specs "$etcd_bin")
    image_tarball tar 0 null "localhost/tcpc-e2e/etcd:v1" "${specs[@]}" "$etcd_bin:/usr/local/bin/etcd"
    printf '%s\t%s\n' "localhost/tcpc-e2e/etcd:v1" "$tar"
  else
    log "no etcd (Debian etcd-server): skipping the image localhost/tcpc-e2e/etcd:v1"
  fi
  if [[ -x $bin/sealed-secrets-controller ]]; then
    local refs="docker.io/bitnami/sealed-secrets-controller:${ssver#v} docker.io/bitnami/sealed-secrets-controller:$ssver"
    image_tarball tar 1001 '["controller"]' "$refs" \
      "$bin/sealed-secrets-controller:/usr/local/bin/controller" "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:0644"
    printf '%s\t%s\n' "$refs" "$tar"
  else
    log "no $bin/sealed-secrets-controller (tools/peers.sh sealed-secrets-controller): skipping its image"
  fi
  local pver
  for pver in "$kver" $(kubernetes_extra_versions); do
    local pbin=$bin/kube-proxy-$pver
    if [[ -x $pbin ]]; then kube_proxy_image "$pver" "$pbin"; else log "no $pbin: skipping its image"; fi
  done
  if [[ -x $bin/proxy-server && -x $bin/proxy-agent ]]; then
    local kver_anp; kver_anp=$(readlink "$bin/proxy-server" | sed 's/^proxy-server-//')
    image_tarball tar 0 '["/proxy-server"]' "registry.k8s.io/kas-network-proxy/proxy-server:$kver_anp" "$bin/proxy-server:/proxy-server"
    printf '%s\t%s\n' "registry.k8s.io/kas-network-proxy/proxy-server:$kver_anp" "$tar"
    image_tarball tar 0 '["/proxy-agent"]' "registry.k8s.io/kas-network-proxy/proxy-agent:$kver_anp" "$bin/proxy-agent:/proxy-agent"
    printf '%s\t%s\n' "registry.k8s.io/kas-network-proxy/proxy-agent:$kver_anp" "$tar"
  else
    log "no $bin/proxy-server, $bin/proxy-agent (tools/peers.sh konnectivity): skipping their images"
  fi
  if [[ -x $bin/coredns ]]; then
    local cref; cref="registry.k8s.io/coredns/coredns:$(readlink "$bin/coredns" | sed 's/^coredns-//')"
    image_tarball tar 0 '["/coredns"]' "$cref" "$bin/coredns:/coredns"
    printf '%s\t%s\n' "$cref" "$tar"
  else
    log "no $bin/coredns (tools/peers.sh coredns): skipping its image"
  fi
  companion_image
  log "images ready in $(elapsed "$t0")s"
}

# companion_image: localhost/tcpc-e2e/companion:v1 from TCPC_COMPANION_BIN (stripped) and the
# shared libraries it loads, run as 65532 (`tcpc install companion`'s securityContext).
companion_image() {
  local bin=${TCPC_COMPANION_BIN:-} ref=localhost/tcpc-e2e/companion:v1 stripped specs tar
  if [[ -z $bin || ! -x $bin ]]; then
    log "no TCPC_COMPANION_BIN (cargo build -p tcpc-companion): skipping the image $ref"
    return 0
  fi
  stripped=$CACHE/companion/tcpc-companion-$(file_sha256 "$bin" | cut -c1-16)
  if [[ ! -x $stripped ]]; then
    mkdir -p "$CACHE/companion"
    strip -o "$stripped.tmp" "$bin" && mv -f "$stripped.tmp" "$stripped"
  fi
  mapfile -t specs < <(closure_specs "$stripped" | grep -v "^$stripped:")
  image_tarball tar 65532 '["/usr/local/bin/tcpc-companion"]' "$ref" "${specs[@]}" "$stripped:/usr/local/bin/tcpc-companion"
  printf '%s\t%s\n' "$ref" "$tar"
}

# kube_proxy_image VERSION BINARY: kube-proxy with the host's iptables (nf_tables backend).
kube_proxy_image() {
  local ver=$1 pbin=$2 multi=/usr/sbin/xtables-nft-multi ext=/usr/lib/x86_64-linux-gnu/xtables specs name tar
  [[ -x $multi && -d $ext ]] || { log "no $multi or $ext (Debian iptables): skipping registry.k8s.io/kube-proxy:$ver"; return 0; }
  mapfile -t specs < <(closure_specs "$multi" "$ext"/*.so)
  for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    specs+=("$multi:/usr/sbin/$name")
  done
  [[ -f /etc/protocols ]] && specs+=("/etc/protocols:/etc/protocols:0644")
  image_tarball tar 0 null "registry.k8s.io/kube-proxy:$ver" "${specs[@]}" "$pbin:/usr/local/bin/kube-proxy"
  printf '%s\t%s\n' "registry.k8s.io/kube-proxy:$ver" "$tar"
}

# import_images DIR [REF…]: import every image (or those carrying one of the REFs) into the
# containerd of DIR (skips ones already imported).
import_images() {
  local dir; dir=$(realpath -m "$1"); shift
  local only=" $* "
  local sock=$dir/containerd/containerd.sock marks=$dir/containerd/imported
  [[ -S $sock ]] || die "no containerd socket at $sock (is the cluster up?)"
  mkdir -p "$marks"
  local t0 refs tar key list; t0=$(now)
  list=$(build_images) || die "building images failed"
  # one `ctr import` per image, in parallel
  local pids=() names=()
  while IFS=$'\t' read -r refs tar; do
    key=$(basename "$tar" .tar)
    [[ -f $marks/$key ]] && continue
    if (( $# == 0 )) && [[ $refs == registry.k8s.io/kube-proxy:* || $refs == registry.k8s.io/coredns/* || $refs == registry.k8s.io/kas-network-proxy/proxy-agent:* ]]; then
      continue  # worker images
    fi
    if (( $# > 0 )); then
      local r want=0
      for r in $refs; do [[ $only == *" $r "* ]] && want=1; done
      (( want )) || continue
    fi
    ( ctr --address "$sock" -n k8s.io images import "$tar" >/dev/null && touch "$marks/$key" ) &
    pids+=($!); names+=("$refs")
  done <<< "$list"
  local i failed=0
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then log "imported ${names[$i]}"; else log "importing ${names[$i]} failed"; failed=1; fi
  done
  (( failed == 0 )) || die "image import failed"
  log "images imported in $(elapsed "$t0")s"
}

print_refs() {
  local kver ssver; kver=$(kubernetes_version); ssver=$(sealed_secrets_version)
  printf '%s\n' "registry.k8s.io/kube-apiserver:$kver" "registry.k8s.io/kube-controller-manager:$kver" \
    "registry.k8s.io/kube-scheduler:$kver" "$E2E_PAUSE_IMAGE" "localhost/tcpc-e2e/probe:v1" "localhost/tcpc-e2e/oidc:v1" \
    "docker.io/bitnami/sealed-secrets-controller:${ssver#v}"
  local xver
  for xver in $(kubernetes_extra_versions); do
    printf '%s\n' "registry.k8s.io/kube-apiserver:$xver" "registry.k8s.io/kube-controller-manager:$xver" "registry.k8s.io/kube-scheduler:$xver"
  done
}

case ${1:-} in
  tools) build_tools ;;
  build) build_images ;;
  import) [[ -n ${2:-} ]] || die "usage: images.sh import DIR [REF…]"; shift; import_images "$@" ;;
  refs) print_refs ;;
  *) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
