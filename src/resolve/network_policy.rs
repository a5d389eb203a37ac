//! The NetworkPolicy of a tenant's control-plane pods (`networkPolicy` of tcpc.yaml, on unless
//! turned off there or by the tenant's `tcpc.dev/network-policy: "false"`): beyond Kamaji, which
//! leaves the pods open to every pod of the management cluster.
//!
//! Ingress: the pod ports behind the Service only — the API server's and `additionalPorts`
//! (kube-controller-manager's and kube-scheduler's secure
//! ports, bound to the pod IP for the kubelet's probes, are closed to other pods; traffic from
//! the pod's own node is always allowed, so the probes still pass). From any source: a
//! LoadBalancer's `loadBalancerSourceRanges` filter clients at the load balancer, and an
//! `ipBlock` of them here would also drop the clients kube-proxy masquerades.
//!
//! Egress: DNS; the DataStore endpoints (to their address when it is an IP, else to their port
//! anywhere, as names are unknown offline); the kubelets of the tenant's nodes (10250: logs,
//! exec, port-forward without konnectivity); the OIDC issuer of `--oidc-issuer-url`; and the
//! rules of `networkPolicy.egress` for what tcpc cannot see (webhooks and aggregated APIs).
//!
//! Invariant: pure; rules in a fixed order, ports deduplicated and sorted.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Value, json};

use super::Resolver;
use crate::diag::{Diagnostic, Diagnostics};
use crate::parse::Inputs;

/// The annotation that turns the policy off for one tenant.
pub const ANNOTATION: &str = "tcpc.dev/network-policy";

/// The kubelet port the API server dials for logs, exec and port-forward.
const KUBELET_PORT: u16 = 10250;

#[derive(Debug, Clone, Serialize)]
pub struct NetworkPolicyPlan {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub pod_selector: std::collections::BTreeMap<String, String>,
    pub ingress: Vec<Value>,
    pub egress: Vec<Value>,
}

/// Checks `networkPolicy.egress` of tcpc.yaml: each rule must be a NetworkPolicyEgressRule.
pub fn check_config(inputs: &Inputs, diags: &mut Diagnostics) {
    let Some(rules) = inputs.config.network_policy.as_ref().and_then(|n| n.egress.as_ref()) else { return };
    let Some(doc) = &inputs.config_doc else { return };
    for (i, rule) in rules.iter().enumerate() {
        let parsed = serde_json::from_value::<k8s_openapi::api::networking::v1::NetworkPolicyEgressRule>(rule.clone());
        let round_trip = parsed.as_ref().ok().map(|r| serde_json::to_value(r).unwrap_or_default());
        if parsed.is_err() || round_trip.as_ref() != Some(rule) {
            let why = parsed.err().map_or_else(|| "unknown or misspelt fields".to_string(), |e| e.to_string());
            diags.push(
                Diagnostic::error(format!("invalid egress rule: {why}"))
                    .at(doc.file, doc.span(&format!("/networkPolicy/egress/{i}")), "not a NetworkPolicyEgressRule")
                    .help("write `{to: [{ipBlock: {cidr: 203.0.113.0/24}}], ports: [{port: 443, protocol: TCP}]}`"),
            );
        }
    }
}

/// `host:port` or `scheme://host:port/…` → (host, port).
fn host_port(endpoint: &str) -> Option<(String, u16)> {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.trim_start_matches('[').trim_end_matches(']').to_string(), port.parse().ok()?))
}

/// One egress rule to `port` at `host` (an `ipBlock` when it is an address, anywhere otherwise).
fn egress_to(host: &str, port: u16) -> Value {
    let ports = json!([{"port": port, "protocol": "TCP"}]);
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => json!({"to": [{"ipBlock": {"cidr": format!("{a}/32")}}], "ports": ports}),
        Ok(IpAddr::V6(a)) => json!({"to": [{"ipBlock": {"cidr": format!("{a}/128")}}], "ports": ports}),
        Err(_) => json!({"ports": ports}),
    }
}

impl Resolver<'_> {
    /// The plan, or `None` when the policy is off (tcpc.yaml, or the tenant's annotation).
    pub(super) fn network_policy(
        &mut self,
        name: &str,
        service_ports: &[Value],
        pod_selector: std::collections::BTreeMap<String, String>,
        datastore_endpoints: &[String],
        apiserver_args: &[String],
    ) -> Option<NetworkPolicyPlan> {
        let value = self.doc.value.metadata.annotations.as_ref().and_then(|a| a.get(ANNOTATION)).cloned();
        let on = match value.as_deref() {
            None => self.inputs.config.network_policy_enabled(),
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                let pointer = format!("/metadata/annotations/{}", ANNOTATION.replace('/', "~1"));
                let d = self
                    .error(&pointer, format!("invalid value `{other}` for `{ANNOTATION}`"), "expected \"true\" or \"false\"")
                    .help("\"false\" leaves this tenant's control-plane pods without a NetworkPolicy");
                self.push(d);
                return None;
            }
        };
        if !on {
            return None;
        }
        // The pod ports behind the Service: the API server's, then `additionalPorts`.
        let ports: Vec<Value> = service_ports
            .iter()
            .map(|p| {
                let target = p.get("targetPort").filter(|t| !t.is_null()).unwrap_or(&p["port"]);
                json!({"port": target, "protocol": p.get("protocol").cloned().unwrap_or_else(|| json!("TCP"))})
            })
            .collect();
        let ingress = vec![json!({ "ports": ports })];
        let mut egress = vec![json!({"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]})];
        let mut seen = BTreeSet::new();
        let mut push = |rule: Value, egress: &mut Vec<Value>| {
            if seen.insert(rule.to_string()) {
                egress.push(rule);
            }
        };
        let mut endpoints: Vec<(String, u16)> = datastore_endpoints.iter().filter_map(|e| host_port(e)).collect();
        endpoints.sort();
        for (host, p) in endpoints {
            push(egress_to(&host, p), &mut egress);
        }
        push(json!({"ports": [{"port": KUBELET_PORT, "protocol": "TCP"}]}), &mut egress);
        for arg in apiserver_args {
            if let Some(url) = arg.strip_prefix("--oidc-issuer-url=") {
                let (host, p) = host_port(url).unwrap_or_else(|| {
                    let host = url.split_once("://").map_or(url, |(_, r)| r).split('/').next().unwrap_or_default();
                    (host.to_string(), 443)
                });
                push(egress_to(&host, p), &mut egress);
            }
        }
        for rule in self.inputs.config.network_policy.as_ref().and_then(|n| n.egress.clone()).unwrap_or_default() {
            push(rule, &mut egress);
        }
        Some(NetworkPolicyPlan {
            name: format!("{name}-control-plane"),
            labels: super::kamaji_labels(name, "network-policy"),
            pod_selector,
            ingress,
            egress,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split_into_host_and_port() {
        assert_eq!(host_port("etcd-0.etcd.kamaji-system.svc:2379"), Some(("etcd-0.etcd.kamaji-system.svc".into(), 2379)));
        assert_eq!(host_port("https://10.0.0.5:2379"), Some(("10.0.0.5".into(), 2379)));
        assert_eq!(host_port("https://[2001:db8::1]:6443/path"), Some(("2001:db8::1".into(), 6443)));
        assert_eq!(host_port("unix:///var/run/kine.sock"), None);
        assert_eq!(host_port("https://issuer.example.com/realms/x"), None);
    }

    const DS: &str = "apiVersion: kamaji.clastix.io/v1alpha1\nkind: DataStore\nmetadata:\n  name: default\nspec:\n  driver: etcd\n  endpoints:\n  - 10.9.0.1:2379\n  - etcd-1.db:2379\n  tlsConfig:\n    certificateAuthority:\n      certificate:\n        secretReference: {name: c, namespace: kamaji-system, keyPath: ca.crt}\n";

    fn tenant(annotations: &str, extra: &str) -> crate::resolve::Tenant {
        crate::resolve::resolve_one(
            DS,
            format!(
                "apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n  name: alpha\n  namespace: tenants\n{annotations}spec:\n  dataStore: default\n  controlPlane:\n    deployment:\n{extra}    service:\n      serviceType: ClusterIP\n      additionalPorts:\n      - {{name: metrics, port: 9443, targetPort: 9444}}\n  kubernetes:\n    version: v1.36.3\n    kubelet:\n      cgroupfs: systemd\n"
            ),
        )
    }

    #[test]
    fn the_policy_admits_the_service_ports_and_reaches_what_the_spec_names() {
        let t = tenant("", "      extraArgs:\n        apiServer:\n        - --oidc-issuer-url=https://10.1.2.3:8443/realms/x\n");
        let p = t.network_policy.expect("on by default");
        assert_eq!(p.pod_selector["kamaji.clastix.io/name"], "alpha");
        assert_eq!(p.pod_selector["kamaji.clastix.io/component"], "deployment");
        assert_eq!(p.ingress, vec![json!({"ports": [{"port": 6443, "protocol": "TCP"}, {"port": 9444, "protocol": "TCP"}]})]);
        let rules: Vec<String> = p.egress.iter().map(Value::to_string).collect();
        assert_eq!(
            rules,
            [
                r#"{"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]}"#,
                r#"{"ports":[{"port":2379,"protocol":"TCP"}],"to":[{"ipBlock":{"cidr":"10.9.0.1/32"}}]}"#,
                r#"{"ports":[{"port":2379,"protocol":"TCP"}]}"#,
                r#"{"ports":[{"port":10250,"protocol":"TCP"}]}"#,
                r#"{"ports":[{"port":8443,"protocol":"TCP"}],"to":[{"ipBlock":{"cidr":"10.1.2.3/32"}}]}"#,
            ]
        );
        assert!(tenant("  annotations:\n    tcpc.dev/network-policy: \"false\"\n", "").network_policy.is_none());
    }

    #[test]
    fn addresses_become_ip_blocks_and_names_any_destination() {
        assert_eq!(egress_to("10.0.0.5", 5432)["to"][0]["ipBlock"]["cidr"], "10.0.0.5/32");
        assert_eq!(egress_to("2001:db8::1", 5432)["to"][0]["ipBlock"]["cidr"], "2001:db8::1/128");
        assert!(egress_to("db.example.com", 5432).get("to").is_none());
    }
}
