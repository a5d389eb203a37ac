//! Render: a resolved [`Tenant`] → Kubernetes objects, through the minijinja templates in
//! `templates/`.
//!
//! Templates are compiled into the binary (`include_str!`), so output depends only on the
//! binary and its inputs. Each template renders one or more YAML documents; every
//! interpolation goes through `tojson`, so a value can never break the YAML around it.
//!
//! Invariant: pure. A template error is a tcpc bug and says so.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

use crate::model::{Bundle, Rendered};
use crate::record::Record;
use crate::resolve::{Derived, SSL_CERT_DIR, Tenant};

/// (template name, source, bundle). Order does not matter: output is sorted by path later.
const TEMPLATES: &[(&str, &str, Bundle)] = &[
    ("management/_macros.j2", include_str!("../templates/management/_macros.j2"), Bundle::Management),
    ("management/deployment.yaml.j2", include_str!("../templates/management/deployment.yaml.j2"), Bundle::Management),
    ("management/service.yaml.j2", include_str!("../templates/management/service.yaml.j2"), Bundle::Management),
    ("management/poddisruptionbudget.yaml.j2", include_str!("../templates/management/poddisruptionbudget.yaml.j2"), Bundle::Management),
    ("management/configmap-internal-ca.yaml.j2", include_str!("../templates/management/configmap-internal-ca.yaml.j2"), Bundle::Management),
    ("management/ingress.yaml.j2", include_str!("../templates/management/ingress.yaml.j2"), Bundle::Management),
    ("management/flux-kustomization.yaml.j2", include_str!("../templates/management/flux-kustomization.yaml.j2"), Bundle::Management),
    ("management/tlsroute.yaml.j2", include_str!("../templates/management/tlsroute.yaml.j2"), Bundle::Management),
    ("management/datastore-setup.yaml.j2", include_str!("../templates/management/datastore-setup.yaml.j2"), Bundle::Management),
    ("management/etcd.yaml.j2", include_str!("../templates/management/etcd.yaml.j2"), Bundle::Management),
    ("tenant/_macros.j2", include_str!("../templates/tenant/_macros.j2"), Bundle::Tenant),
    ("tenant/rbac.yaml.j2", include_str!("../templates/tenant/rbac.yaml.j2"), Bundle::Tenant),
    ("tenant/kubeadm-config.yaml.j2", include_str!("../templates/tenant/kubeadm-config.yaml.j2"), Bundle::Tenant),
    ("tenant/kubelet-config.yaml.j2", include_str!("../templates/tenant/kubelet-config.yaml.j2"), Bundle::Tenant),
    ("tenant/cluster-info.yaml.j2", include_str!("../templates/tenant/cluster-info.yaml.j2"), Bundle::Tenant),
    ("tenant/coredns.yaml.j2", include_str!("../templates/tenant/coredns.yaml.j2"), Bundle::Tenant),
    ("management/networkpolicy.yaml.j2", include_str!("../templates/management/networkpolicy.yaml.j2"), Bundle::Management),
    ("tenant/kube-proxy.yaml.j2", include_str!("../templates/tenant/kube-proxy.yaml.j2"), Bundle::Tenant),
    ("tenant/write-permissions.yaml.j2", include_str!("../templates/tenant/write-permissions.yaml.j2"), Bundle::Tenant),
    ("management/konnectivity.yaml.j2", include_str!("../templates/management/konnectivity.yaml.j2"), Bundle::Management),
    ("tenant/konnectivity.yaml.j2", include_str!("../templates/tenant/konnectivity.yaml.j2"), Bundle::Tenant),
    ("management/companion.yaml.j2", include_str!("../templates/management/companion.yaml.j2"), Bundle::Management),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source, _) in TEMPLATES {
            env.add_template(name, source).unwrap_or_else(|e| panic!("template {name} does not compile: {e:#}"));
        }
        env
    })
}

/// Values a template may use beyond the tenant itself.
#[derive(Debug, Serialize)]
struct Context<'a> {
    t: &'a Tenant,
    ssl_cert_dir: &'static str,
    /// Pod-template annotations (user's, the internal-CA checksum, the PKI checksum).
    pod_annotations: &'a std::collections::BTreeMap<String, String>,
    /// Values the resolver derived for the tenant bundle (kubelet configuration, certSANs,
    /// kubeadm API).
    x: &'a Derived,
    /// Base64 of the tenant CA certificate PEM (see `templates/tenant/cluster-info.yaml.j2`);
    /// `None` until the PKI stage provides it, and then `cluster-info` is not rendered.
    ca_cert_b64: Option<&'a str>,
    /// Kamaji's labels for the internal-CA ConfigMap copy.
    labels: std::collections::BTreeMap<String, String>,
    /// UID/GID of tcpc's own pods (the datastore setup Job), as the control plane's.
    uid: i64,
    /// A dedicated etcd (`templates/management/etcd.yaml.j2`): its certificates' checksum
    /// (empty before the PKI stage), ports and Secret file mode.
    etcd_checksum: &'a str,
    client_port: u16,
    peer_port: u16,
    metrics_port: u16,
    secret_mode: i32,
    /// `companion` of tcpc.yaml: the tenant's record (`crate::record`), the Secrets the
    /// companion may read, and its ServiceAccount.
    record: Option<&'a Record>,
    companion_secrets: Vec<String>,
    /// The Secrets the companion creates and updates (`rotation: companion`).
    companion_owned: Vec<String>,
    companion_service_account: &'static str,
}

impl<'a> Context<'a> {
    fn new(
        t: &'a Tenant,
        pod_annotations: &'a std::collections::BTreeMap<String, String>,
        ca_cert_b64: Option<&'a str>,
        etcd_checksum: Option<&'a str>,
        record: Option<&'a Record>,
    ) -> Self {
        Context {
            t,
            ssl_cert_dir: SSL_CERT_DIR,
            pod_annotations,
            x: &t.derived,
            ca_cert_b64,
            labels: crate::resolve::kamaji_labels(&t.name, "internal-ca-certificates"),
            uid: crate::resolve::hardening::CONTROL_PLANE_UID,
            etcd_checksum: etcd_checksum.unwrap_or_default(),
            client_port: crate::resolve::dedicated::CLIENT_PORT,
            peer_port: crate::resolve::dedicated::PEER_PORT,
            metrics_port: crate::resolve::dedicated::METRICS_PORT,
            secret_mode: crate::resolve::hardening::SECRET_FILE_MODE,
            record,
            companion_secrets: record.map(crate::record::readable_secrets).unwrap_or_default(),
            companion_owned: record.map(crate::record::owned_secrets).unwrap_or_default(),
            companion_service_account: crate::resolve::COMPANION_SERVICE_ACCOUNT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("internal error in template {template} for {namespace}/{tcp}: {message} (this is a tcpc bug)")]
pub struct RenderError {
    pub template: String,
    pub namespace: String,
    pub tcp: String,
    pub message: String,
}

/// Which templates apply to this tenant.
fn selected(t: &Tenant, has_ca_cert: bool, has_record: bool) -> Vec<&'static str> {
    let mut names = vec!["management/deployment.yaml.j2", "management/service.yaml.j2"];
    if t.deployment.pdb {
        names.push("management/poddisruptionbudget.yaml.j2");
    }
    if t.internal_ca.as_ref().is_some_and(|ca| ca.data.is_some()) {
        names.push("management/configmap-internal-ca.yaml.j2");
    }
    if t.ingress.is_some() {
        names.push("management/ingress.yaml.j2");
    }
    if t.gateway.is_some() {
        names.push("management/tlsroute.yaml.j2");
    }
    if t.flux_delivery.is_some() {
        names.push("management/flux-kustomization.yaml.j2");
    }
    if t.network_policy.is_some() {
        names.push("management/networkpolicy.yaml.j2");
    }
    if t.datastore.setup().is_some() {
        names.push("management/datastore-setup.yaml.j2");
    }
    if t.datastore.dedicated.is_some() {
        names.push("management/etcd.yaml.j2");
    }
    if t.konnectivity.is_some() {
        names.push("management/konnectivity.yaml.j2");
    }
    if has_record {
        names.push("management/companion.yaml.j2");
    }
    names.extend(["tenant/rbac.yaml.j2", "tenant/kubeadm-config.yaml.j2", "tenant/kubelet-config.yaml.j2"]);
    if has_ca_cert {
        names.push("tenant/cluster-info.yaml.j2");
    }
    if t.addons.core_dns.is_some() {
        names.push("tenant/coredns.yaml.j2");
    }
    if t.addons.kube_proxy.is_some() {
        names.push("tenant/kube-proxy.yaml.j2");
    }
    if t.write_limits.is_some() {
        names.push("tenant/write-permissions.yaml.j2");
    }
    if t.konnectivity.is_some() {
        names.push("tenant/konnectivity.yaml.j2");
    }
    names
}

/// Renders every object of one tenant's bundles, unchecked. With the tenant CA certificate
/// (base64 of its PEM, from the PKI stage) the tenant bundle also holds `kube-public/cluster-info`;
/// with a `record` (`companion` of tcpc.yaml) the management bundle holds the tenant's
/// RenderedControlPlane and the companion's Role.
pub fn render_with(
    t: &Tenant,
    pod_annotations: &std::collections::BTreeMap<String, String>,
    ca_cert_b64: Option<&str>,
    etcd_checksum: Option<&str>,
    record: Option<&Record>,
) -> Result<Vec<Rendered>, RenderError> {
    let ctx = Context::new(t, pod_annotations, ca_cert_b64, etcd_checksum, record);
    let mut out = Vec::new();
    for name in selected(t, ca_cert_b64.is_some(), record.is_some()) {
        let fail =
            |message: String| RenderError { template: name.to_string(), namespace: t.namespace.clone(), tcp: t.name.clone(), message };
        let bundle = TEMPLATES.iter().find(|(n, _, _)| *n == name).map(|(_, _, b)| *b).expect("selected templates exist");
        let text = env().get_template(name).and_then(|tpl| tpl.render(&ctx)).map_err(|e| fail(format!("{e:#}")))?;
        let docs = tcpc_yaml::parse_stream(&text)
            .map_err(|e| fail(format!("produced invalid YAML at {}: {}\n{text}", e.span.start.line, e.message)))?;
        for doc in docs {
            out.push(Rendered { namespace: t.namespace.clone(), tcp: t.name.clone(), bundle, object: doc.root.to_json() });
        }
    }
    Ok(out)
}

/// The teardown Job of the tenant `namespace/tcp`, removed with a Tombstone
/// (`resolve/teardown.rs`): the setup template with `action` "teardown".
pub fn render_teardown(namespace: &str, tcp: &str, plan: &crate::resolve::SetupPlan) -> Result<Vec<Rendered>, RenderError> {
    #[derive(Serialize)]
    struct Removed<'a> {
        name: &'a str,
        namespace: &'a str,
    }
    #[derive(Serialize)]
    struct TeardownContext<'a> {
        action: &'static str,
        t: Removed<'a>,
        plan: &'a crate::resolve::SetupPlan,
        uid: i64,
    }
    let name = "management/datastore-setup.yaml.j2";
    let fail =
        |message: String| RenderError { template: name.to_string(), namespace: namespace.to_string(), tcp: tcp.to_string(), message };
    let ctx = TeardownContext {
        action: "teardown",
        t: Removed { name: tcp, namespace },
        plan,
        uid: crate::resolve::hardening::CONTROL_PLANE_UID,
    };
    let text = env().get_template(name).and_then(|tpl| tpl.render(&ctx)).map_err(|e| fail(format!("{e:#}")))?;
    let docs = tcpc_yaml::parse_stream(&text)
        .map_err(|e| fail(format!("produced invalid YAML at {}: {}\n{text}", e.span.start.line, e.message)))?;
    Ok(docs
        .into_iter()
        .map(|doc| Rendered {
            namespace: namespace.to_string(),
            tcp: tcp.to_string(),
            bundle: Bundle::Management,
            object: doc.root.to_json(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn tenant(network: &str, addons: bool) -> Tenant {
        crate::resolve::resolve_one(crate::resolve::TEST_DATASTORE, tcp_yaml(network, addons))
    }

    /// The test tenant `tenants/alpha`, with `network` under `networkProfile`.
    fn tcp_yaml(network: &str, addons: bool) -> String {
        format!(
            "apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: alpha
  namespace: tenants
spec:
  controlPlane:
    service:
      serviceType: ClusterIP
  kubernetes:
    version: v1.36.3
    kubelet:
      cgroupfs: cgroupfs
{}  networkProfile:
    port: 6443
{network}",
            if addons { "  addons:\n    coreDNS: {}\n    kubeProxy: {}\n" } else { "" }
        )
    }

    /// Renders and type-checks; returns the tenant bundle by (kind, namespace/name).
    fn tenant_bundle(t: &Tenant, ca: Option<&str>) -> std::collections::BTreeMap<(String, String), Value> {
        let objects = render_with(t, &Default::default(), ca, None, None).unwrap();
        objects
            .into_iter()
            .filter(|r| r.bundle == Bundle::Tenant)
            .map(|r| {
                let o = crate::check::check(r.object).unwrap();
                let kind = o["kind"].as_str().unwrap().to_string();
                let ns = o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
                let id = format!("{ns}/{}", o["metadata"]["name"].as_str().unwrap());
                ((kind, id), o)
            })
            .collect()
    }

    fn get<'a>(b: &'a std::collections::BTreeMap<(String, String), Value>, kind: &str, id: &str) -> &'a Value {
        b.get(&(kind.to_string(), id.to_string())).unwrap_or_else(|| panic!("no {kind} {id}; have {:?}", b.keys().collect::<Vec<_>>()))
    }

    fn subjects(o: &Value) -> Vec<(String, String)> {
        o["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["kind"].as_str().unwrap().to_string(), s["name"].as_str().unwrap().to_string()))
            .collect()
    }

    const BOOTSTRAP: &str = "system:bootstrappers:kubeadm:default-node-token";

    /// A dedicated etcd is a StatefulSet of its own: the control plane's Service never selects
    /// its pods (they would receive API traffic), and kube-apiserver dials exactly its members,
    /// under names its certificates cover.
    #[test]
    fn a_dedicated_etcd_is_never_selected_by_the_control_plane_service() {
        let tcp = tcp_yaml("", false).replacen(
            "  namespace: tenants\n",
            "  namespace: tenants\n  annotations:\n    tcpc.dev/dedicated-etcd: \"true\"\n",
            1,
        );
        let t = crate::resolve::resolve_one(crate::resolve::TEST_DATASTORE, tcp);
        let objects: Vec<Value> = render_with(&t, &Default::default(), None, Some("sha256:x"), None)
            .unwrap()
            .into_iter()
            .map(|r| crate::check::check(r.object).unwrap())
            .collect();
        let find = |kind: &str, name: &str| {
            objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name).unwrap_or_else(|| panic!("{kind} {name}"))
        };
        let etcd = find("StatefulSet", "alpha-etcd");
        let pod_labels = etcd["spec"]["template"]["metadata"]["labels"].as_object().unwrap();
        let selector = find("Service", "alpha")["spec"]["selector"].as_object().unwrap();
        assert!(
            selector.iter().any(|(k, v)| pod_labels.get(k) != Some(v)),
            "the control plane's Service selects the etcd pods: {selector:?} ⊆ {pod_labels:?}"
        );
        assert_eq!(find("Service", "alpha-etcd")["spec"]["clusterIP"], "None");
        assert_eq!(etcd["spec"]["template"]["metadata"]["annotations"]["tcpc.dev/etcd-certificates-checksum"], "sha256:x");
        let args: Vec<&str> = find("Deployment", "alpha")["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(args.contains(&"--etcd-servers=https://alpha-etcd-0.alpha-etcd.tenants.svc.cluster.local:2379"), "{args:?}");
        let names = &t.datastore.dedicated.as_ref().unwrap().dns_names;
        assert!(names.contains(&"*.alpha-etcd.tenants.svc.cluster.local".to_string()), "{names:?}");
        // The datastore setup Job is for shared DataStores only.
        assert!(!objects.iter().any(|o| o["kind"] == "Job"));
    }

    #[test]
    fn join_rbac_is_kubeadms() {
        let b = tenant_bundle(&tenant("", false), None);
        let g = |n: &str| ("Group".to_string(), n.to_string());
        assert_eq!(subjects(get(&b, "RoleBinding", "kube-system/kubeadm:nodes-kubeadm-config")), vec![g(BOOTSTRAP), g("system:nodes")]);
        assert_eq!(subjects(get(&b, "RoleBinding", "kube-system/kubeadm:kubelet-config")), vec![g("system:nodes"), g(BOOTSTRAP)]);
        assert_eq!(
            subjects(get(&b, "RoleBinding", "kube-public/kubeadm:bootstrap-signer-clusterinfo")),
            vec![("User".into(), "system:anonymous".into())]
        );
        let role = get(&b, "Role", "kube-public/kubeadm:bootstrap-signer-clusterinfo");
        assert_eq!(
            role["rules"],
            serde_json::json!([{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"], "verbs": ["get"]}])
        );
        assert_eq!(
            get(&b, "Role", "kube-system/kubeadm:kubelet-config")["rules"][0]["resourceNames"],
            serde_json::json!(["kubelet-config"])
        );
        assert_eq!(
            get(&b, "ClusterRole", "/kubeadm:get-nodes")["rules"],
            serde_json::json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}])
        );
        for (crb, role, subject) in [
            ("kubeadm:get-nodes", "kubeadm:get-nodes", g(BOOTSTRAP)),
            ("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", g(BOOTSTRAP)),
            ("kubeadm:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", g(BOOTSTRAP)),
            (
                "kubeadm:node-autoapprove-certificate-rotation",
                "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                g("system:nodes"),
            ),
            ("kubeadm:apiserver-kubelet-client", "system:kubelet-api-admin", ("User".into(), "kube-apiserver-kubelet-client".into())),
            ("kubeadm:cluster-admins", "cluster-admin", g("kubeadm:cluster-admins")),
        ] {
            let o = get(&b, "ClusterRoleBinding", &format!("/{crb}"));
            assert_eq!(o["roleRef"]["name"], role, "{crb}");
            assert_eq!(subjects(o), vec![subject], "{crb}");
        }
        // No addons, no CA: nothing else.
        assert_eq!(b.len(), 3 * 2 + 1 + 6 + 2, "{:?}", b.keys().collect::<Vec<_>>());
    }

    #[test]
    fn kubeadm_and_kubelet_config() {
        let t = tenant("    serviceCidr: 10.32.0.0/16\n    podCidr: 10.244.0.0/16\n    clusterDomain: tenant.example\n", false);
        let b = tenant_bundle(&t, None);
        let cc = get(&b, "ConfigMap", "kube-system/kubeadm-config")["data"]["ClusterConfiguration"].as_str().unwrap().to_string();
        let cc = tcpc_yaml::parse_stream(&cc).unwrap().remove(0).root.to_json();
        assert_eq!(cc["apiVersion"], "kubeadm.k8s.io/v1beta4");
        assert_eq!(cc["clusterName"], "alpha");
        assert_eq!(cc["kubernetesVersion"], "v1.36.3");
        assert_eq!(cc["controlPlaneEndpoint"], t.control_plane_endpoint.as_str());
        assert_eq!(
            cc["networking"],
            serde_json::json!({"dnsDomain": "tenant.example", "podSubnet": "10.244.0.0/16", "serviceSubnet": "10.32.0.0/16"})
        );
        assert_eq!(cc["etcd"]["external"]["endpoints"], serde_json::json!(["https://etcd-0.etcd.kamaji-system.svc:2379"]));
        let sans = cc["apiServer"]["certSANs"].as_array().unwrap();
        assert_eq!(&sans[..2], &[serde_json::json!("127.0.0.1"), serde_json::json!("localhost")]);
        assert!(sans.contains(&serde_json::json!("alpha.tenants.svc.cluster.local")));

        let kc = get(&b, "ConfigMap", "kube-system/kubelet-config")["data"]["kubelet"].as_str().unwrap().to_string();
        let kc = tcpc_yaml::parse_stream(&kc).unwrap().remove(0).root.to_json();
        assert_eq!(kc["kind"], "KubeletConfiguration");
        assert_eq!(kc["clusterDNS"], serde_json::json!(["10.32.0.10"]));
        assert_eq!(kc["clusterDomain"], "tenant.example");
        assert_eq!(kc["cgroupDriver"], "cgroupfs");
        assert_eq!(kc["authentication"]["x509"]["clientCAFile"], "/etc/kubernetes/pki/ca.crt");
        assert_eq!(kc["rotateCertificates"], true);
        assert!(kc.get("resolvConf").is_none());
    }

    /// What kubeadm of each minor writes: the kubeadm API (v1beta3 before v1.31, without the
    /// fields v1beta4 added), KubeletConfiguration fields the minor's kubelet has, its CoreDNS.
    #[test]
    fn tenant_bundle_follows_the_minor() {
        for (version, api, crash_loop, coredns) in [
            ("v1.30.14", "kubeadm.k8s.io/v1beta3", false, "v1.11.3"),
            ("v1.31.14", "kubeadm.k8s.io/v1beta4", false, "v1.11.3"),
            ("v1.32.13", "kubeadm.k8s.io/v1beta4", true, "v1.11.3"),
            ("v1.33.13", "kubeadm.k8s.io/v1beta4", true, "v1.12.0"),
            ("v1.34.4", "kubeadm.k8s.io/v1beta4", true, "v1.12.1"),
            ("v1.35.4", "kubeadm.k8s.io/v1beta4", true, "v1.13.1"),
            ("v1.36.3", "kubeadm.k8s.io/v1beta4", true, "v1.14.2"),
            ("v1.37.2", "kubeadm.k8s.io/v1beta4", true, "v1.14.6"),
        ] {
            let t = crate::resolve::resolve_one(
                crate::resolve::TEST_DATASTORE,
                tcp_yaml("", true).replace("version: v1.36.3", &format!("version: {version}")),
            );
            let b = tenant_bundle(&t, None);
            let cc = get(&b, "ConfigMap", "kube-system/kubeadm-config")["data"]["ClusterConfiguration"].as_str().unwrap().to_string();
            let cc = tcpc_yaml::parse_stream(&cc).unwrap().remove(0).root.to_json();
            assert_eq!(cc["apiVersion"], api, "{version}");
            assert_eq!(cc["kubernetesVersion"], version);
            let v1beta4 = api.ends_with("v1beta4");
            for field in ["proxy", "certificateValidityPeriod", "caCertificateValidityPeriod"] {
                assert_eq!(cc.get(field).is_some(), v1beta4, "{version}: {field}");
            }
            let kc = get(&b, "ConfigMap", "kube-system/kubelet-config")["data"]["kubelet"].as_str().unwrap().to_string();
            let kc = tcpc_yaml::parse_stream(&kc).unwrap().remove(0).root.to_json();
            assert_eq!(kc.get("crashLoopBackOff").is_some(), crash_loop, "{version}");
            let dep = get(&b, "Deployment", "kube-system/coredns");
            assert_eq!(dep["spec"]["template"]["spec"]["containers"][0]["image"], format!("registry.k8s.io/coredns/coredns:{coredns}"));
        }
    }

    #[test]
    fn cluster_info_only_with_the_ca() {
        let t = tenant("", false);
        assert!(!tenant_bundle(&t, None).keys().any(|(_, id)| id == "kube-public/cluster-info"));
        let b = tenant_bundle(&t, Some("Q0EK"));
        let kc = get(&b, "ConfigMap", "kube-public/cluster-info")["data"]["kubeconfig"].as_str().unwrap().to_string();
        let kc = tcpc_yaml::parse_stream(&kc).unwrap().remove(0).root.to_json();
        assert_eq!(kc["clusters"][0]["name"], "");
        assert_eq!(kc["clusters"][0]["cluster"]["server"], t.server_url.as_str());
        assert_eq!(kc["clusters"][0]["cluster"]["certificate-authority-data"], "Q0EK");
    }

    #[test]
    fn addons() {
        let t = tenant("    serviceCidr: 10.32.0.0/16\n    podCidr: 10.244.0.0/16\n    clusterDomain: tenant.example\n", true);
        let b = tenant_bundle(&t, None);
        let svc = get(&b, "Service", "kube-system/kube-dns");
        assert_eq!(svc["spec"]["clusterIP"], "10.32.0.10");
        assert!(svc["spec"].get("clusterIPs").is_none());
        assert_eq!(svc["metadata"]["labels"]["kamaji.clastix.io/project"], "kamaji");
        let corefile = get(&b, "ConfigMap", "kube-system/coredns")["data"]["Corefile"].as_str().unwrap();
        assert!(corefile.contains("kubernetes tenant.example in-addr.arpa ip6.arpa {"), "{corefile}");
        assert!(corefile.contains("disable success tenant.example\n"), "{corefile}");
        let dep = get(&b, "Deployment", "kube-system/coredns");
        assert_eq!(dep["spec"]["replicas"], 2);
        assert_eq!(dep["spec"]["template"]["spec"]["containers"][0]["image"], t.addons.core_dns.as_ref().unwrap().image.as_str());
        assert_eq!(subjects(get(&b, "ClusterRoleBinding", "/system:coredns")), vec![("ServiceAccount".into(), "coredns".into())]);

        let cm = get(&b, "ConfigMap", "kube-system/kube-proxy");
        let conf = tcpc_yaml::parse_stream(cm["data"]["config.conf"].as_str().unwrap()).unwrap().remove(0).root.to_json();
        assert_eq!(conf["clusterCIDR"], "10.244.0.0/16");
        let kubeconfig = tcpc_yaml::parse_stream(cm["data"]["kubeconfig.conf"].as_str().unwrap()).unwrap().remove(0).root.to_json();
        assert_eq!(kubeconfig["clusters"][0]["cluster"]["server"], t.server_url.as_str());
        let ds = get(&b, "DaemonSet", "kube-system/kube-proxy");
        assert_eq!(ds["spec"]["template"]["spec"]["containers"][0]["image"], t.addons.kube_proxy.as_ref().unwrap().image.as_str());
        assert_eq!(subjects(get(&b, "RoleBinding", "kube-system/kube-proxy")), vec![("Group".into(), BOOTSTRAP.into())]);
        assert_eq!(get(&b, "ClusterRoleBinding", "/kubeadm:node-proxier")["roleRef"]["name"], "system:node-proxier");
    }

    #[test]
    fn dual_stack_kube_dns() {
        let t = tenant(
            "    serviceCidrs: [10.32.0.0/16, fd00:10::/108]\n    podCidrs: [10.244.0.0/16, fd00:244::/56]\n    dnsServiceIPs: [10.32.0.10, fd00:10::a]\n",
            true,
        );
        let b = tenant_bundle(&t, None);
        let spec = &get(&b, "Service", "kube-system/kube-dns")["spec"];
        assert_eq!(spec["clusterIPs"], serde_json::json!(["10.32.0.10", "fd00:10::a"]));
        assert_eq!(spec["ipFamilies"], serde_json::json!(["IPv4", "IPv6"]));
        assert_eq!(spec["ipFamilyPolicy"], "PreferDualStack");
        let cm = get(&b, "ConfigMap", "kube-system/kube-proxy");
        assert!(cm["data"]["config.conf"].as_str().unwrap().contains("clusterCIDR: \"10.244.0.0/16,fd00:244::/56\""));
    }
}
