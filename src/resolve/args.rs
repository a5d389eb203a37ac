//! Command-line flags of the control-plane components, and how user extra arguments merge in.
//!
//! Three classes, as in Kamaji: *managed* flags (tcpc owns them; a user override is an error,
//! because silently dropping it — Kamaji's behaviour — hides mistakes), *defaults* (a user value
//! replaces them) and the user's own flags. Rendering is sorted by flag name except for the API
//! server, whose user flags follow the sorted tcpc flags verbatim (repeatable flags such as
//! `--admission-control-config-file` keep their order).

use std::collections::BTreeMap;

pub type Flags = BTreeMap<String, String>;

#[derive(Debug, Default)]
pub struct ArgSet {
    pub managed: Flags,
    pub defaults: Flags,
    /// User flags in the order given: (name, value or None for a bare flag).
    pub user: Vec<(String, Option<String>)>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ArgError {
    Syntax,
    Managed { flag: String, hint: String },
}

impl ArgSet {
    /// Adds one user argument (`--flag=value` or `--flag`); returns the flag name.
    pub fn add_user(&mut self, raw: &str) -> Result<String, ArgError> {
        let body = raw.strip_prefix("--").or_else(|| raw.strip_prefix('-')).ok_or(ArgError::Syntax)?;
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(ArgError::Syntax);
        }
        if self.managed.contains_key(&name) {
            return Err(ArgError::Managed { hint: managed_hint(&name), flag: name });
        }
        self.user.push((name.clone(), value));
        Ok(name)
    }

    /// kube-apiserver: sorted(managed ∪ defaults not overridden) ++ user flags in order.
    pub fn render_apiserver(&self) -> Vec<String> {
        let overridden: Vec<&str> = self.user.iter().map(|(n, _)| n.as_str()).collect();
        let mut own: Flags = self.managed.clone();
        for (k, v) in &self.defaults {
            if !overridden.contains(&k.as_str()) {
                own.insert(k.clone(), v.clone());
            }
        }
        // `--authorization-config` replaces `--authorization-mode` (they are mutually exclusive).
        if overridden.contains(&"authorization-config") {
            own.remove("authorization-mode");
        }
        let mut out: Vec<String> = own.iter().map(|(k, v)| flag(k, Some(v))).collect();
        out.extend(self.user.iter().map(|(k, v)| flag(k, v.as_deref())));
        out
    }

    /// Other components: one map, user values over defaults, managed over everything.
    pub fn render_sorted(&self) -> Vec<String> {
        let mut all: BTreeMap<String, Option<String>> = self.defaults.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        for (k, v) in &self.user {
            all.insert(k.clone(), v.clone());
        }
        for (k, v) in &self.managed {
            all.insert(k.clone(), Some(v.clone()));
        }
        all.iter().map(|(k, v)| flag(k, v.as_deref())).collect()
    }
}

fn flag(name: &str, value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => format!("--{name}={v}"),
        _ => format!("--{name}"),
    }
}

fn managed_hint(flag: &str) -> String {
    match flag {
        "secure-port" => "set spec.networkProfile.port instead".into(),
        "advertise-address" => "set spec.networkProfile.advertiseAddress instead".into(),
        "service-cluster-ip-range" => "set spec.networkProfile.serviceCidrs instead".into(),
        "enable-admission-plugins" => "set spec.kubernetes.admissionControllers instead".into(),
        "kubelet-preferred-address-types" => "set spec.kubernetes.kubelet.preferredAddressTypes instead".into(),
        f if f.starts_with("etcd-") => "the DataStore decides the etcd flags".into(),
        _ => "tcpc sets this flag to match the certificates and files it renders".into(),
    }
}

pub struct ApiServerInputs<'a> {
    pub port: i32,
    pub advertise_address: Option<&'a str>,
    pub service_cidrs: &'a str,
    pub admission: &'a str,
    pub preferred_address_types: &'a str,
    pub etcd_servers: String,
    /// `--etcd-servers-overrides`, empty for none.
    pub etcd_servers_overrides: String,
    pub etcd_prefix: String,
    /// kube-apiserver reaches the DataStore through the kine sidecar's socket: no etcd TLS,
    /// prefix or compaction flags (kine compacts, and each tenant has its own database).
    pub kine: bool,
    pub cluster_domain: &'a str,
}

/// kube-apiserver flags: (managed, defaults).
pub fn apiserver(i: &ApiServerInputs<'_>) -> (Flags, Flags) {
    let pki = "/etc/kubernetes/pki";
    let mut m = Flags::new();
    let mut set = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    if let Some(a) = i.advertise_address {
        set("advertise-address", a.to_string());
    }
    set("client-ca-file", format!("{pki}/ca.crt"));
    set("enable-admission-plugins", i.admission.to_string());
    set("service-cluster-ip-range", i.service_cidrs.to_string());
    set("kubelet-client-certificate", format!("{pki}/apiserver-kubelet-client.crt"));
    set("kubelet-client-key", format!("{pki}/apiserver-kubelet-client.key"));
    set("kubelet-preferred-address-types", i.preferred_address_types.to_string());
    set("proxy-client-cert-file", format!("{pki}/front-proxy-client.crt"));
    set("proxy-client-key-file", format!("{pki}/front-proxy-client.key"));
    set("requestheader-allowed-names", "front-proxy-client".into());
    set("requestheader-client-ca-file", format!("{pki}/front-proxy-ca.crt"));
    set("secure-port", i.port.to_string());
    set("service-account-key-file", format!("{pki}/sa.pub"));
    set("service-account-signing-key-file", format!("{pki}/sa.key"));
    set("tls-cert-file", format!("{pki}/apiserver.crt"));
    set("tls-private-key-file", format!("{pki}/apiserver.key"));
    set("etcd-servers", i.etcd_servers.clone());
    if !i.etcd_servers_overrides.is_empty() {
        set("etcd-servers-overrides", i.etcd_servers_overrides.clone());
    }
    if !i.kine {
        set("etcd-prefix", i.etcd_prefix.clone());
        set("etcd-compaction-interval", "0".into());
        set("etcd-cafile", format!("{pki}/etcd/ca.crt"));
        set("etcd-certfile", format!("{pki}/etcd/server.crt"));
        set("etcd-keyfile", format!("{pki}/etcd/server.key"));
    }

    let mut d = Flags::new();
    for (k, v) in [
        ("allow-privileged", "true".to_string()),
        ("authorization-mode", "Node,RBAC".into()),
        ("enable-bootstrap-token-auth", "true".into()),
        // Profiling endpoints serve heap and CPU profiles; off unless a spec turns them on.
        ("profiling", "false".into()),
        ("requestheader-extra-headers-prefix", "X-Remote-Extra-".into()),
        ("requestheader-group-headers", "X-Remote-Group".into()),
        ("requestheader-username-headers", "X-Remote-User".into()),
        // Kamaji hard-codes cluster.local here; tcpc follows the tenant's clusterDomain.
        ("service-account-issuer", format!("https://kubernetes.default.svc.{}", i.cluster_domain)),
    ] {
        d.insert(k.to_string(), v);
    }
    (m, d)
}

/// Why kube-controller-manager and kube-scheduler listen on 0.0.0.0 and not on 127.0.0.1 as
/// kubeadm's static pods do: kubeadm's pods share the host's network, where 0.0.0.0 would mean
/// every host interface. These pods have their own network namespace, whose only addresses are
/// loopback and the pod IP — and the kubelet's httpGet probes dial the pod IP (Kubernetes v1.36
/// `pkg/probe/http/request.go`: an empty probe `host` becomes the pod IP; a `host` of 127.0.0.1
/// would be dialled from the kubelet's namespace, not the pod's; the images have no shell for an
/// exec probe). Binding 127.0.0.1 therefore only breaks liveness and readiness. No Service
/// selects ports 10257/10259, and behind them only `/healthz`, `/livez` and `/readyz` answer
/// without credentials of the tenant (profiling is off).
pub const COMPONENT_BIND_ADDRESS: &str = "0.0.0.0";

/// kube-controller-manager defaults (the user may override any of them, as in Kamaji).
pub fn controller_manager(cluster_name: &str, service_cidrs: &str, pod_cidrs: &str) -> Flags {
    let kubeconfig = "/etc/kubernetes/controller-manager.conf";
    let pki = "/etc/kubernetes/pki";
    [
        ("allocate-node-cidrs", "true".to_string()),
        ("authentication-kubeconfig", kubeconfig.into()),
        ("authorization-kubeconfig", kubeconfig.into()),
        ("bind-address", COMPONENT_BIND_ADDRESS.into()),
        ("client-ca-file", format!("{pki}/ca.crt")),
        ("cluster-cidr", pod_cidrs.into()),
        ("cluster-name", cluster_name.into()),
        ("cluster-signing-cert-file", format!("{pki}/ca.crt")),
        ("cluster-signing-key-file", format!("{pki}/ca.key")),
        ("controllers", "*,bootstrapsigner,tokencleaner".into()),
        ("kubeconfig", kubeconfig.into()),
        ("leader-elect", "true".into()),
        ("profiling", "false".into()),
        ("requestheader-client-ca-file", format!("{pki}/front-proxy-ca.crt")),
        ("root-ca-file", format!("{pki}/ca.crt")),
        ("service-account-private-key-file", format!("{pki}/sa.key")),
        ("service-cluster-ip-range", service_cidrs.into()),
        ("use-service-account-credentials", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// kube-scheduler flags tcpc owns.
pub fn scheduler() -> Flags {
    let kubeconfig = "/etc/kubernetes/scheduler.conf";
    [
        ("authentication-kubeconfig", kubeconfig),
        ("authorization-kubeconfig", kubeconfig),
        ("bind-address", COMPONENT_BIND_ADDRESS),
        ("kubeconfig", kubeconfig),
        ("leader-elect", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// kube-scheduler defaults (a user value replaces them).
pub fn scheduler_defaults() -> Flags {
    Flags::from([("profiling".to_string(), "false".to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apiserver_user_flags_follow_sorted_own_flags_and_replace_defaults() {
        let mut a = ArgSet::default();
        a.managed.insert("secure-port".into(), "6443".into());
        a.defaults.insert("authorization-mode".into(), "Node,RBAC".into());
        a.defaults.insert("allow-privileged".into(), "true".into());
        a.add_user("--allow-privileged=false").unwrap();
        a.add_user("--v=4").unwrap();
        a.add_user("--profiling").unwrap();
        assert_eq!(
            a.render_apiserver(),
            ["--authorization-mode=Node,RBAC", "--secure-port=6443", "--allow-privileged=false", "--v=4", "--profiling"]
        );
    }

    #[test]
    fn managed_flags_cannot_be_overridden_and_syntax_is_checked() {
        let mut a = ArgSet::default();
        a.managed.insert("secure-port".into(), "6443".into());
        assert!(matches!(a.add_user("--secure-port=1"), Err(ArgError::Managed { .. })));
        assert_eq!(a.add_user("secure-port"), Err(ArgError::Syntax));
        assert_eq!(a.add_user("--bad flag"), Err(ArgError::Syntax));
    }

    #[test]
    fn authorization_config_replaces_authorization_mode() {
        let mut a = ArgSet::default();
        a.defaults.insert("authorization-mode".into(), "Node,RBAC".into());
        a.add_user("--authorization-config=/etc/authz.yaml").unwrap();
        assert_eq!(a.render_apiserver(), ["--authorization-config=/etc/authz.yaml"]);
    }

    #[test]
    fn sorted_components_let_users_win_over_defaults_only() {
        let mut a = ArgSet { defaults: controller_manager("x", "10.96.0.0/16", "10.244.0.0/16"), ..ArgSet::default() };
        a.add_user("--controllers=*").unwrap();
        let out = a.render_sorted();
        assert!(out.contains(&"--controllers=*".to_string()));
        let mut s = ArgSet { managed: scheduler(), ..ArgSet::default() };
        assert!(s.add_user("--kubeconfig=/x").is_err());
    }
}
