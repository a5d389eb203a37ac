//! Specs that resolve field by field but describe a control plane that can never work
//! (`src/resolve/sanity.rs`): each case is a repository in a temp dir, run through
//! `tcpc validate`; the exit code and the WHOLE stderr are compared with
//! `tests/snapshots/sanity-<case>.snap` (TCPC_BLESS=1 rewrites them; review with git diff).
//!
//! The repositories start from `examples/tenants/minimal.yaml` and the example DataStore,
//! edited by exact text replacement (a replacement that no longer matches fails the test).

mod common;

use common::snap::{check_snapshot, filter};
use common::{root, run, tcpc};

const MINIMAL: &str = "tenants/minimal.yaml";

fn example(rel: &str) -> String {
    std::fs::read_to_string(root().join("examples").join(rel)).unwrap_or_else(|e| panic!("reading examples/{rel}: {e}"))
}

/// The minimal TenantControlPlane with `spec.networkProfile` set to `lines` and `edits` applied.
fn tcp(network: &str, edits: &[(&str, &str)]) -> String {
    let mut text = example(MINIMAL);
    let mut all: Vec<(&str, String)> = Vec::new();
    if !network.is_empty() {
        all.push(("  kubernetes:\n", format!("  networkProfile:\n{network}  kubernetes:\n")));
    }
    all.extend(edits.iter().map(|(a, b)| (*a, b.to_string())));
    for (from, to) in all {
        assert!(text.contains(from), "examples/{MINIMAL} no longer contains {from:?}: update this case");
        text = text.replacen(from, &to, 1);
    }
    text
}

const CONFIG: &str = "apiVersion: tcpc.dev/v1alpha1\nkind: Config\n";

fn cases() -> Vec<(&'static str, String)> {
    vec![
        ("equal-service-and-pod-cidr", tcp("    serviceCidr: 10.244.0.0/16\n    podCidr: 10.244.0.0/16\n", &[])),
        ("service-cidr-contains-pod-cidr", tcp("    serviceCidr: 10.96.0.0/12\n    podCidr: 10.100.0.0/16\n", &[])),
        ("service-cidr-contains-default-pod-cidr", tcp("    serviceCidr: 10.240.0.0/12\n", &[])),
        (
            "dual-stack-ipv6-overlap",
            tcp(
                "    serviceCidrs:\n    - 10.96.0.0/16\n    - fd00:10:96::/108\n    podCidrs:\n    - 10.244.0.0/16\n    - fd00:10:96::/64\n",
                &[],
            ),
        ),
        (
            "dns-service-ip-inside-pod-cidr",
            tcp("    serviceCidr: 10.96.0.0/12\n    podCidr: 10.100.0.0/16\n    dnsServiceIPs:\n    - 10.100.0.10\n", &[]),
        ),
        ("dns-service-ip-is-the-kubernetes-service", tcp("    dnsServiceIPs:\n    - 10.96.0.1\n", &[])),
        ("advertise-address-inside-service-cidr", tcp("    advertiseAddress: 10.96.0.20\n", &[])),
        ("apiserver-port-clashes-with-controller-manager", tcp("    port: 10257\n", &[])),
        (
            "additional-service-port-clashes-with-apiserver",
            tcp(
                "",
                &[(
                    "      serviceType: ClusterIP\n",
                    "      serviceType: ClusterIP\n      additionalPorts:\n      - name: metrics\n        port: 6443\n        targetPort: 9100\n",
                )],
            ),
        ),
        (
            "nodeport-outside-the-default-range",
            tcp("    address: 192.0.2.10\n    port: 6443\n", &[("serviceType: ClusterIP", "serviceType: NodePort")]),
        ),
        (
            "load-balancer-source-range-not-a-cidr",
            tcp(
                "    address: 203.0.113.10\n    loadBalancerSourceRanges:\n    - 198.51.100.7\n",
                &[("serviceType: ClusterIP", "serviceType: LoadBalancer")],
            ),
        ),
        ("duplicate-cert-sans", tcp("    certSANs:\n    - api.example.com\n    - 192.0.2.10\n    - api.example.com\n", &[])),
    ]
}

/// `tcpc.yaml` settings that contradict each other (with the unedited tenant, or one of its own).
fn config_cases() -> Vec<(&'static str, String, String)> {
    let base = tcp("", &[]);
    vec![
        ("check-fail-days-above-warn-days", format!("{CONFIG}check:\n  warnDays: 10\n  failDays: 20\n"), base.clone()),
        ("check-warn-days-before-renewal-is-due", format!("{CONFIG}check:\n  warnDays: 200\n"), base.clone()),
        (
            "check-warn-days-beyond-a-short-renewal-window",
            format!("{CONFIG}pki:\n  leafValidityDays: 365\n  renewBeforeFraction: 0.05\n"),
            base.clone(),
        ),
        (
            "tenant-leaf-validity-too-short-for-warn-days",
            CONFIG.to_string(),
            tcp("", &[("  kubernetes:\n", "  pki:\n    leafValidityDays: 60\n  kubernetes:\n")]),
        ),
    ]
}

#[test]
fn cross_field_validations_have_located_diagnostics_with_hints() {
    let mut failures = Vec::new();
    let all = cases().into_iter().map(|(n, t)| (n, CONFIG.to_string(), t)).chain(config_cases());
    for (name, config, tenant) in all {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in [("tcpc.yaml", config), ("datastores/default.yaml", example("datastores/default.yaml")), (MINIMAL, tenant)] {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let r = run(tcpc().arg("validate").arg(dir.path()));
        let stderr = filter(&r.stderr, dir.path(), "[REPO]");
        // Every case points into a file with a hint.
        if !stderr.contains(".yaml:") || !stderr.contains("= help: ") {
            failures.push(format!("[{name}] no location or no hint:\n{stderr}"));
        }
        if let Some(problem) = check_snapshot(&format!("sanity-{name}"), &format!("exit code: {}\n{stderr}", r.code)) {
            failures.push(format!("[{name}] {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The unedited base is valid, so each case fails for its own edit only.
#[test]
fn the_base_repository_has_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in
        [("tcpc.yaml", CONFIG.to_string()), ("datastores/default.yaml", example("datastores/default.yaml")), (MINIMAL, tcp("", &[]))]
    {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let r = run(tcpc().arg("validate").arg(dir.path())).expect_code(0, "validate on the base");
    assert_eq!(r.stderr, "ok: 1 TenantControlPlane(s) valid\n", "{}", r.describe());
}
