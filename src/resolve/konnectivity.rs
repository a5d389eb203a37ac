//! `spec.addons.konnectivity`: kube-apiserver reaches the tenant's nodes through a tunnel the
//! nodes open, instead of dialling their kubelets.
//!
//! Management side: a `konnectivity-server` sidecar in the control-plane pod, listening for
//! agents on `server.port` (also a port of the tenant's Service) and for kube-apiserver on a
//! Unix socket in a memory `emptyDir` both containers mount; kube-apiserver's
//! `--egress-selector-config-file` sends its `cluster` traffic (kubelets, pods, services) there.
//! The server authenticates agents by their service-account token (audience
//! [`AUDIENCE`]) through a TokenReview, with a client certificate of the tenant CA whose only
//! power is `system:auth-delegator` (the tenant bundle binds it): Kamaji issues it in
//! `system:masters`, tcpc never does. It serves agents with the API server's certificate (the
//! agents reach it at the API server's address and verify it with the tenant CA).
//!
//! Tenant side: ServiceAccount `kube-system/konnectivity-agent`, the ClusterRoleBinding
//! `system:konnectivity-server` → `system:auth-delegator`, and the agent as a DaemonSet (one per
//! node) or a Deployment (`replicas`), with a projected token of that audience.
//!
//! Flags and names follow Kamaji (shared/kamaji-tcp-fields.md §5.3, §7); the server's flags
//! are managed (a user value for one of them is an error, as for the control plane), the
//! agent's are defaults the user's `extraArgs` replace (Kamaji: user wins).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use tcpc_spec::defaults as d;
use tcpc_spec::tcp::KonnectivityAgentMode;

use super::args::{ArgError, ArgSet};
use super::{Resolver, hardening, kamaji_labels};

/// The server's socket, in the `konnectivity-uds` volume both containers mount at [`UDS_DIR`].
pub const UDS_DIR: &str = "/run/konnectivity";
pub const UDS: &str = "/run/konnectivity/konnectivity-server.socket";
/// Where kube-apiserver reads its EgressSelectorConfiguration.
pub const EGRESS_DIR: &str = "/etc/kubernetes/konnectivity/configurations";
pub const EGRESS_FILE: &str = "egress-selector-configuration.yaml";
/// The audience of the agents' tokens, checked by the server.
pub const AUDIENCE: &str = "system:konnectivity-server";
/// The server's files: the API server's serving pair and its own kubeconfig, nothing else.
pub const SERVER_DIR: &str = "/etc/kubernetes/konnectivity-server";
/// The agent's projected token.
const AGENT_TOKEN_DIR: &str = "/var/run/secrets/tokens";
const AGENT_TOKEN: &str = "konnectivity-agent-token";

#[derive(Debug, Clone, Serialize)]
pub struct KonnectivityPlan {
    /// The agent port (`server.port`): the server listens on it, the Service exposes it.
    pub port: i32,
    pub admin_port: i32,
    pub health_port: i32,
    pub server: ServerPlan,
    pub agent: AgentPlan,
    /// `<tcp>-konnectivity-egress-selector-configuration`.
    pub egress_config_map: String,
    pub egress_dir: &'static str,
    pub egress_file: &'static str,
    /// The EgressSelectorConfiguration kube-apiserver reads.
    pub egress_configuration: String,
    pub uds_dir: &'static str,
    pub server_dir: &'static str,
    pub audience: &'static str,
    pub agent_token_dir: &'static str,
    pub agent_token: &'static str,
    /// Kamaji's labels of the tenant objects, by component.
    pub labels: Labels,
    /// With a Gateway: the TLSRoute `<tcp>-konnectivity` (set by [`KonnectivityPlan::route_through`]).
    pub route: Option<RoutePlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoutePlan {
    pub labels: BTreeMap<String, String>,
    pub parent_refs: Vec<Value>,
}

impl KonnectivityPlan {
    /// Agents reach the server behind the tenant's Gateway too: the control plane's route with
    /// each parentRef aimed at the konnectivity listener (Kamaji: `port` and `sectionName`
    /// replaced) and the route component's label.
    pub fn route_through(&mut self, g: &super::GatewayPlan) {
        let mut labels = g.labels.clone();
        labels.insert("kamaji.clastix.io/component".into(), "konnectivity_gateway_routes".into());
        let parent_refs = g
            .parent_refs
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r["port"] = json!(self.port);
                r["sectionName"] = json!("konnectivity-server");
                r
            })
            .collect();
        self.route = Some(RoutePlan { labels, parent_refs });
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Labels {
    pub agent: BTreeMap<String, String>,
    pub service_account: BTreeMap<String, String>,
    pub cluster_role_binding: BTreeMap<String, String>,
    pub egress_config_map: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerPlan {
    pub image: String,
    pub args: Vec<String>,
    pub resources: Value,
    pub security_context: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentPlan {
    pub image: String,
    pub args: Vec<String>,
    /// `DaemonSet` or `Deployment`.
    pub kind: &'static str,
    /// Deployment mode only (`None`: Kubernetes' default of 1).
    pub replicas: Option<i32>,
    pub host_network: bool,
    pub tolerations: Value,
}

/// The kube-apiserver flag that routes its `cluster` egress through the server.
pub fn egress_selector_flag() -> (String, String) {
    ("egress-selector-config-file".to_string(), format!("{EGRESS_DIR}/{EGRESS_FILE}"))
}

fn egress_configuration() -> String {
    format!(
        "apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n- name: cluster\n  connection:\n    proxyProtocol: GRPC\n    transport:\n      uds:\n        udsName: {UDS}\n"
    )
}

/// What [`Resolver::konnectivity`] needs from the rest of the tenant.
pub struct Context<'a> {
    pub tcp: &'a str,
    /// The tenant's release (`v1.M.P`): the default image tag is `v0.M.0`.
    pub version: &'a str,
    pub apiserver_port: i32,
    pub replicas: i32,
    /// The host agents dial: the gateway hostname, else the advertise address, else the endpoint host.
    pub agent_host: &'a str,
    /// Ports the Service already has (additionalPorts), with the pointer of each.
    pub taken: Vec<(i32, String)>,
}

impl Resolver<'_> {
    pub(super) fn konnectivity(&mut self, cx: &Context<'_>) -> Option<KonnectivityPlan> {
        let spec = self.doc.value.spec.addons.as_ref()?.konnectivity.clone()?;
        let base = "/spec/addons/konnectivity";
        let server = spec
            .server
            .clone()
            .unwrap_or_else(|| tcpc_spec::tcp::KonnectivityServerSpec { port: d::DEFAULT_KONNECTIVITY_SERVER_PORT, ..Default::default() });
        let agent = spec.agent.clone().unwrap_or_default();
        let mut ok = true;

        let port = server.port;
        let port_at = format!("{base}/server/port");
        if !(1..=65535).contains(&port) {
            let d = self.error(&port_at, format!("invalid konnectivity port {port}"), "must be 1 to 65535");
            self.push(d);
            ok = false;
        } else if port == cx.apiserver_port {
            let d = self
                .error(&port_at, format!("konnectivity port {port} is the API server's port"), "the API server's port")
                .help("agents and API clients share the tenant's Service: give konnectivity its own port (Kamaji's default is 8132)");
            let explicit = self.doc.value.spec.network_profile.as_ref().and_then(|n| n.port).is_some();
            let d = if explicit {
                d.also(self.doc.file, self.doc.span("/spec/networkProfile/port"), "the API server listens here")
            } else {
                d.note(format!("the API server's port is {port} (the default)"))
            };
            self.push(d);
            ok = false;
        } else if port == d::KONNECTIVITY_ADMIN_PORT || port == d::KONNECTIVITY_HEALTH_PORT {
            let d = self
                .error(&port_at, format!("konnectivity port {port} is taken in the control-plane pod"), "the server's admin/health port")
                .help(format!(
                    "the server also listens on {} (admin) and {} (health): choose another port",
                    d::KONNECTIVITY_ADMIN_PORT,
                    d::KONNECTIVITY_HEALTH_PORT
                ));
            self.push(d);
            ok = false;
        } else if let Some((_, at)) = cx.taken.iter().find(|(p, _)| *p == port) {
            let d = self
                .error(&port_at, format!("konnectivity port {port} is also an additional Service port"), "already on the Service")
                .also(self.doc.file, self.doc.span(at), "declared here");
            self.push(d);
            ok = false;
        }

        // Kamaji's CRD rule: replicas only in Deployment mode, and then at least one.
        let mode = agent.mode.unwrap_or(d::DEFAULT_KONNECTIVITY_AGENT_MODE);
        let replicas = agent.replicas;
        match (mode, replicas) {
            (KonnectivityAgentMode::DaemonSet, Some(r)) if r != 0 => {
                let d = self
                    .error(&format!("{base}/agent/replicas"), "`replicas` needs agent mode Deployment", "the agent is a DaemonSet")
                    .help("a DaemonSet runs one agent per node: remove `replicas`, or set `mode: Deployment`");
                self.push(d);
                ok = false;
            }
            (KonnectivityAgentMode::Deployment, Some(r)) if r < 1 => {
                let d = self
                    .error(&format!("{base}/agent/replicas"), format!("invalid agent replicas {r}"), "must be 1 or more")
                    .help("leave it unset for one agent");
                self.push(d);
                ok = false;
            }
            _ => {}
        }

        let default_tag = d::konnectivity_version_for(cx.version).unwrap_or_default();
        let server_image = format!(
            "{}:{}",
            server.image.as_deref().unwrap_or(d::DEFAULT_KONNECTIVITY_SERVER_IMAGE),
            server.version.as_deref().unwrap_or(&default_tag)
        );
        let agent_image = format!(
            "{}:{}",
            agent.image.as_deref().unwrap_or(d::DEFAULT_KONNECTIVITY_AGENT_IMAGE),
            agent.version.as_deref().unwrap_or(&default_tag)
        );

        // Server: Kamaji's flags are managed; the user's other flags are kept.
        let mut set = ArgSet::default();
        for (k, v) in [
            ("uds-name", UDS.to_string()),
            ("cluster-cert", format!("{SERVER_DIR}/apiserver.crt")),
            ("cluster-key", format!("{SERVER_DIR}/apiserver.key")),
            ("mode", "grpc".into()),
            ("server-port", "0".into()),
            ("agent-port", port.to_string()),
            ("admin-port", d::KONNECTIVITY_ADMIN_PORT.to_string()),
            ("health-port", d::KONNECTIVITY_HEALTH_PORT.to_string()),
            ("agent-namespace", "kube-system".into()),
            ("agent-service-account", "konnectivity-agent".into()),
            ("kubeconfig", format!("{SERVER_DIR}/konnectivity-server.conf")),
            ("authentication-audience", AUDIENCE.into()),
            ("server-count", cx.replicas.max(1).to_string()),
        ] {
            set.managed.insert(k.to_string(), v);
        }
        for (i, raw) in server.extra_args.clone().unwrap_or_default().iter().enumerate() {
            let at = format!("{base}/server/extraArgs/{i}");
            match set.add_user(raw) {
                Ok(_) => {}
                Err(ArgError::Managed { flag, .. }) => {
                    let d = self
                        .error(&at, format!("`--{flag}` is managed by tcpc"), "cannot be overridden")
                        .help("tcpc sets the konnectivity server's flags to match the files, ports and identity it renders");
                    self.push(d);
                    ok = false;
                }
                Err(ArgError::Syntax) => {
                    let d = self.error(&at, format!("invalid extra argument `{raw}`"), "expected `--flag=value` or `--flag`");
                    self.push(d);
                    ok = false;
                }
            }
        }
        let server_args = set.render_sorted();

        // Agent: Kamaji's flags are defaults; the user's win.
        let mut set = ArgSet::default();
        for (k, v) in [
            ("admin-server-port", d::KONNECTIVITY_ADMIN_PORT.to_string()),
            ("ca-cert", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt".into()),
            ("health-server-port", d::KONNECTIVITY_HEALTH_PORT.to_string()),
            ("logtostderr", "true".into()),
            ("proxy-server-host", cx.agent_host.to_string()),
            ("proxy-server-port", port.to_string()),
            ("service-account-token-path", format!("{AGENT_TOKEN_DIR}/{AGENT_TOKEN}")),
            ("v", "8".into()),
        ] {
            set.defaults.insert(k.to_string(), v);
        }
        for (i, raw) in agent.extra_args.clone().unwrap_or_default().iter().enumerate() {
            if set.add_user(raw).is_err() {
                let d = self.error(
                    &format!("{base}/agent/extraArgs/{i}"),
                    format!("invalid extra argument `{raw}`"),
                    "expected `--flag=value` or `--flag`",
                );
                self.push(d);
                ok = false;
            }
        }
        let agent_args = set.render_sorted();

        let resources =
            server.resources.as_ref().map_or_else(|| hardening::default_resources(hardening::Container::Konnectivity), |r| json!(r));
        let security_context =
            hardening::merge(hardening::default_container_security_context(), server.security_context.as_ref().map(|s| json!(s)));
        let tolerations = json!(agent.tolerations.clone().unwrap_or_else(d::default_konnectivity_agent_tolerations));

        ok.then(|| KonnectivityPlan {
            port,
            admin_port: d::KONNECTIVITY_ADMIN_PORT,
            health_port: d::KONNECTIVITY_HEALTH_PORT,
            server: ServerPlan { image: server_image, args: server_args, resources, security_context },
            agent: AgentPlan {
                image: agent_image,
                args: agent_args,
                kind: match mode {
                    KonnectivityAgentMode::DaemonSet => "DaemonSet",
                    KonnectivityAgentMode::Deployment => "Deployment",
                },
                replicas: (mode == KonnectivityAgentMode::Deployment).then_some(replicas).flatten(),
                host_network: agent.host_network.unwrap_or(d::DEFAULT_KONNECTIVITY_AGENT_HOST_NETWORK),
                tolerations,
            },
            egress_config_map: format!("{}-konnectivity-egress-selector-configuration", cx.tcp),
            egress_dir: EGRESS_DIR,
            egress_file: EGRESS_FILE,
            egress_configuration: egress_configuration(),
            uds_dir: UDS_DIR,
            server_dir: SERVER_DIR,
            audience: AUDIENCE,
            agent_token_dir: AGENT_TOKEN_DIR,
            agent_token: AGENT_TOKEN,
            labels: Labels {
                agent: {
                    let mut l = kamaji_labels(cx.tcp, "konnectivity-agent");
                    l.insert("k8s-app".into(), "konnectivity-agent".into());
                    l
                },
                service_account: kamaji_labels(cx.tcp, "konnectivity-sa"),
                cluster_role_binding: {
                    let mut l = kamaji_labels(cx.tcp, "konnectivity-clusterrolebinding");
                    l.insert("kubernetes.io/cluster-service".into(), "true".into());
                    l.insert("addonmanager.kubernetes.io/mode".into(), "Reconcile".into());
                    l
                },
                egress_config_map: kamaji_labels(cx.tcp, "konnectivity-egress-selector-configuration"),
            },
            route: None,
        })
    }
}
