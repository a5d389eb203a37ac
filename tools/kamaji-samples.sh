#!/usr/bin/env bash
# Kamaji's own published samples (config/samples of github.com/clastix/kamaji), validated by tcpc
# as a new user would: every TenantControlPlane and DataStore in one repository with an empty
# tcpc.yaml. Kamaji's repository is not vendored here (nor on the Go module proxy): point this at
# a checkout, or at its git directory.
#
#   tools/kamaji-samples.sh KAMAJI_DIR [TCPC]
#
# What is changed first, and why (each change is printed):
# - a `default` etcd DataStore is added: Kamaji's Helm chart installs it, the samples name it;
# - versions below v1.30 (samples written for older Kamaji releases) become v1.30.14: Kamaji itself
#   supports v1.30 to v1.35 today;
# - samples with keys at the wrong level (which Kubernetes' pruning would drop silently, and tcpc
#   refuses) are reported, fixed, then validated;
# - a name two samples share gets a suffix (one repository, one namespace).
set -euo pipefail
src=${1:?usage: tools/kamaji-samples.sh KAMAJI_DIR [TCPC]}
tcpc=${2:-tcpc}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -d $src/config/samples ]]; then
  cp "$src"/config/samples/*.yaml "$work/"
else
  git --git-dir="$src" archive HEAD config/samples | tar -x -C "$work" --strip-components=2
fi
rm -f "$work"/*kubeconfiggenerator*.yaml   # another kind (KubeconfigGenerator), no tenant
note() { printf 'kamaji-samples: %s\n' "$*" >&2; }
note "$(ls "$work"/*.yaml | wc -l) samples"
note "validating as published:"
printf 'apiVersion: tcpc.dev/v1alpha1\nkind: Config\n' > "$work/tcpc.yaml"
"$tcpc" validate "$work" 2>&1 | awk '/^error/ { e = $0; if ((getline l) > 0 && l ~ /-->/) e = e " " l; print e }' | sed 's/  */ /g' >&2 || true

cp "$here/examples/kamaji/datastore-etcd.yaml" "$work/zz-default-datastore.yaml"
note "added: a \`default\` etcd DataStore (Kamaji's Helm chart installs it)"
for f in "$work"/*.yaml; do
  if grep -qE 'version: "?v1\.(1[0-9]|2[0-9])\.' "$f"; then
    sed -i -E 's/version: "?v1\.(1[0-9]|2[0-9])\.[0-9]+"?/version: v1.30.14/' "$f"
    note "$(basename "$f"): version below Kamaji's supported range, set to v1.30.14"
  fi
  if python3 - "$f" <<'PY'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
changed = False
for d in docs:
    if not d or d.get("kind") != "TenantControlPlane":
        continue
    spec = d.get("spec") or {}
    if "spec" in spec and spec["spec"] is None:      # `spec:` repeated inside spec
        del spec["spec"]; changed = True
    for k in ("deployment", "service", "ingress", "gateway"):
        if k in spec:                                 # controlPlane's keys one level too high
            spec.setdefault("controlPlane", {})[k] = spec.pop(k); changed = True
if changed:
    yaml.safe_dump_all(docs, open(sys.argv[1], "w"), sort_keys=False)
sys.exit(0 if changed else 1)
PY
  then note "$(basename "$f"): keys at the wrong level moved where Kamaji's CRD has them"; fi
done
# one namespace: a TenantControlPlane name used twice gets the file's suffix
python3 - "$work" <<'PY'
import sys, yaml, glob, os, collections
seen = collections.Counter()
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    docs = list(yaml.safe_load_all(open(f)))
    changed = False
    for d in docs:
        if d and d.get("kind") == "TenantControlPlane":
            name = d["metadata"]["name"]
            seen[name] += 1
            if seen[name] > 1:
                d["metadata"]["name"] = f"{name}-{seen[name]}"; changed = True
                print(f"kamaji-samples: {os.path.basename(f)}: name {name} already used, renamed {d['metadata']['name']}", file=sys.stderr)
    if changed:
        yaml.safe_dump_all(docs, open(f, "w"), sort_keys=False)
PY
note "validating after those changes:"
"$tcpc" validate "$work"
