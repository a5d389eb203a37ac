#!/usr/bin/env python3
"""Generate a tcpc repository with N TenantControlPlanes, for benchmarks.

    tools/gen-tenants.py N OUTDIR

OUTDIR gets the examples' tcpc.yaml (output set to `rendered`), sealed-secrets.crt, the
`default` DataStore and its encrypted CA (.tcpc/state/datastores/default.age), and N
TenantControlPlanes spread over namespaces, files, Kubernetes versions, ports and service
types. Nothing else: the first render issues every tenant's PKI, which needs the examples'
identity (tests/fixtures/examples-age-identity.txt). The output is a function of N only.
"""

import os
import re
import shutil
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
EXAMPLES = os.path.join(ROOT, "examples")

VERSIONS = ["v1.34.2", "v1.35.4", "v1.36.3", "v1.37.0"]
PORTS = [6443, 443, 8443, 16443]
TENANTS_PER_FILE = 10
NAMESPACES = 50


def tenant(i: int) -> str:
    name = f"tcp-{i:05d}"
    namespace = f"team-{i % NAMESPACES:02d}"
    version = VERSIONS[i % len(VERSIONS)]
    replicas = 1 + i % 3
    if i % 5 == 4:
        # NodePort: needs an address workers can reach, and a port in the node port range
        service = "NodePort"
        network = f"    address: 192.0.2.{1 + i % 250}\n    port: {30000 + i % 2700}\n"
    else:
        service = "ClusterIP"
        network = f"    port: {PORTS[i % len(PORTS)]}\n"
    sans = f"    certSANs:\n    - {name}.k8s.example.com\n" if i % 2 else ""
    return (
        "apiVersion: kamaji.clastix.io/v1alpha1\n"
        "kind: TenantControlPlane\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"  namespace: {namespace}\n"
        "spec:\n"
        "  controlPlane:\n"
        "    deployment:\n"
        f"      replicas: {replicas}\n"
        "    service:\n"
        f"      serviceType: {service}\n"
        "  kubernetes:\n"
        f"    version: {version}\n"
        "    kubelet:\n"
        f"      cgroupfs: {'systemd' if i % 4 else 'cgroupfs'}\n"
        "  networkProfile:\n"
        f"{network}"
        f"{sans}"
    )


def main() -> int:
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        print(__doc__.strip(), file=sys.stderr)
        return 2
    n, out = int(sys.argv[1]), sys.argv[2]
    if os.path.exists(out) and os.listdir(out):
        print(f"{out} exists and is not empty", file=sys.stderr)
        return 2
    os.makedirs(os.path.join(out, ".tcpc/state/datastores"), exist_ok=True)
    os.makedirs(os.path.join(out, "datastores"), exist_ok=True)

    with open(os.path.join(EXAMPLES, "tcpc.yaml")) as f:
        config = f.read()
    config, count = re.subn(r"(?m)^output: .*$", "output: rendered", config)
    assert count == 1, "examples/tcpc.yaml has no `output:` line"
    with open(os.path.join(out, "tcpc.yaml"), "w") as f:
        f.write(config)
    for rel in ["sealed-secrets.crt", "datastores/default.yaml", ".tcpc/state/datastores/default.age"]:
        shutil.copyfile(os.path.join(EXAMPLES, rel), os.path.join(out, rel))

    for start in range(0, n, TENANTS_PER_FILE):
        ids = range(start, min(start + TENANTS_PER_FILE, n))
        ns = f"team-{start % NAMESPACES:02d}"
        path = os.path.join(out, "tenants", ns, f"batch-{start // TENANTS_PER_FILE:05d}.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("---\n".join(tenant(i) for i in ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
