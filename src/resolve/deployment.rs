//! The control-plane Deployment: containers, flags per component and minor, probes, the
//! internal CA mounts and the user's overrides merged over the hardened defaults.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use tcpc_spec::defaults as d;

use super::addresses::{join, sorted_cidrs};
use super::args::{self, ArgSet};
use super::net::Cidr;
use super::version::{self, Component, KubeVersion};
use super::{
    ContainerPlan, DataStorePlan, DeploymentPlan, InternalCa, Resolver, data_checksum, hardening, is_dns1123_subdomain, kamaji_labels,
    konnectivity,
};
use crate::parse::ConfigMapDoc;

impl Resolver<'_> {
    pub(super) fn internal_ca(&mut self, cm: &str, namespace: &str) -> InternalCa {
        if !is_dns1123_subdomain(cm) {
            let d =
                self.error("/spec/internalCACertificatesConfigMap", format!("invalid ConfigMap name `{cm}`"), "not a DNS-1123 subdomain");
            self.push(d);
        }
        let found: Option<&ConfigMapDoc> = self.inputs.configmaps.iter().find(|c| c.name == cm && c.namespace == namespace);
        match found {
            Some(c) => InternalCa {
                config_map: format!("{}-{cm}", self.doc.value.metadata.name),
                checksum: Some(data_checksum(&c.data)),
                data: Some(c.data.clone()),
            },
            None => InternalCa { config_map: cm.to_string(), checksum: None, data: None },
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn deployment(
        &mut self,
        name: &str,
        version: Option<&KubeVersion>,
        port: i32,
        service_cidrs: &[Cidr],
        pod_cidrs: &[Cidr],
        advertise: Option<&str>,
        datastore: &Option<DataStorePlan>,
        cluster_domain: &str,
        konnectivity: bool,
    ) -> Option<DeploymentPlan> {
        let spec = &self.doc.value.spec;
        let dep = spec.control_plane.deployment.clone().unwrap_or_default();
        let minor = version.map_or(version::MAX_MINOR, |v| v.minor);
        let tag = version.map(|v| format!("{v}{}", dep.registry_settings.as_ref().and_then(|r| r.tag_suffix.clone()).unwrap_or_default()));
        let reg = dep.registry_settings.clone().unwrap_or_default();
        let registry = reg
            .registry
            .clone()
            .or_else(|| self.inputs.config.image_registry().map(str::to_string))
            .unwrap_or_else(|| d::DEFAULT_REGISTRY.to_string());
        let image = |img: Option<&String>, default: &str| {
            format!("{registry}/{}:{}", img.map_or(default, String::as_str), tag.clone().unwrap_or_default())
        };

        let replicas = dep.replicas.unwrap_or(d::DEFAULT_REPLICAS);
        if replicas < 0 {
            let d = self.error("/spec/controlPlane/deployment/replicas", format!("invalid replicas {replicas}"), "must be 0 or more");
            self.push(d);
        }
        let strategy = match dep.strategy.clone() {
            None => serde_json::to_value(d::default_deployment_strategy()).expect("strategy serialises"),
            Some(mut s) => {
                if s.type_.as_deref() != Some("Recreate") && s.rolling_update.is_none() {
                    s.rolling_update = Some(d::default_rolling_update());
                }
                serde_json::to_value(s).expect("strategy serialises")
            }
        };

        let selector = BTreeMap::from([("kamaji.clastix.io/name".to_string(), name.to_string())]);
        let mut labels = kamaji_labels(name, "deployment");
        let mut annotations = BTreeMap::new();
        if let Some(m) = &dep.additional_metadata {
            labels.extend(m.labels.clone().unwrap_or_default());
            annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        let mut pod_labels = selector.clone();
        pod_labels.insert("kamaji.clastix.io/component".into(), "deployment".into());
        let mut pod_annotations = BTreeMap::new();
        if let Some(m) = &dep.pod_additional_metadata {
            pod_labels.extend(m.labels.clone().unwrap_or_default());
            pod_annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        if pod_labels.get("kamaji.clastix.io/name").map(String::as_str) != Some(name) {
            let d = self.error(
                "/spec/controlPlane/deployment/podAdditionalMetadata/labels",
                "`kamaji.clastix.io/name` cannot be overridden",
                "the Deployment and Service select pods by it",
            );
            self.push(d);
        }
        if let Some(ca) = self.doc.value.spec.internal_ca_certificates_config_map.as_ref() {
            let ns = self.doc.value.metadata.namespace.clone().unwrap_or_else(|| self.inputs.config.default_namespace().to_string());
            if let Some(cm) = self.inputs.configmaps.iter().find(|c| &c.name == ca && c.namespace == ns) {
                pod_annotations.insert("tcpc.dev/internal-ca-checksum".into(), data_checksum(&cm.data));
            }
        }

        let mut pod = BTreeMap::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                pod.insert(k.to_string(), v);
            }
        };
        put("nodeSelector", dep.node_selector.as_ref().map(|v| json!(v)));
        put("runtimeClassName", dep.runtime_class_name.as_ref().filter(|s| !s.is_empty()).map(|v| json!(v)));
        put("tolerations", dep.tolerations.as_ref().map(|v| json!(v)));
        put("affinity", dep.affinity.as_ref().map(|v| json!(v)));
        put(
            "securityContext",
            Some(hardening::merge(hardening::default_pod_security_context(), dep.pod_security_context.as_ref().map(|v| json!(v)))),
        );
        put("automountServiceAccountToken", Some(json!(dep.automount_service_account_token.unwrap_or(false))));
        put(
            "topologySpreadConstraints",
            dep.topology_spread_constraints.as_ref().map(|tscs| {
                let filled: Vec<Value> = tscs
                    .iter()
                    .map(|t| {
                        let mut v = json!(t);
                        if t.label_selector.is_none() {
                            v["labelSelector"] = json!({ "matchLabels": selector });
                        }
                        v
                    })
                    .collect();
                json!(filled)
            }),
        );

        // Flags.
        let extra = dep.extra_args.clone().unwrap_or_default();
        let apiserver_args = {
            let mut a = ArgSet::default();
            let (managed, defaults) = args::apiserver(&args::ApiServerInputs {
                port,
                advertise_address: advertise,
                service_cidrs: &join(sorted_cidrs(service_cidrs)),
                admission: &self.admission_plugins(),
                preferred_address_types: &self.preferred_address_types(),
                etcd_servers: datastore.as_ref().map(|d| d.servers.join(",")).unwrap_or_default(),
                etcd_servers_overrides: datastore.as_ref().map(|d| d.overrides.join(",")).unwrap_or_default(),
                etcd_prefix: datastore.as_ref().map(|d| format!("/{}", d.schema)).unwrap_or_default(),
                kine: datastore.as_ref().is_some_and(|d| d.kine.is_some()),
                cluster_domain,
            });
            a.managed = managed;
            a.defaults = defaults;
            if konnectivity {
                let (k, v) = konnectivity::egress_selector_flag();
                a.managed.insert(k, v);
            }
            self.apply_user_args(&mut a, extra.api_server.as_deref(), Component::ApiServer, minor, "apiServer");
            a.render_apiserver()
        };
        let cm_args = {
            let mut a = ArgSet {
                defaults: args::controller_manager(name, &join(sorted_cidrs(service_cidrs)), &join(sorted_cidrs(pod_cidrs))),
                ..ArgSet::default()
            };
            self.apply_user_args(&mut a, extra.controller_manager.as_deref(), Component::ControllerManager, minor, "controllerManager");
            a.render_sorted()
        };
        let scheduler_args = {
            let mut a = ArgSet { managed: args::scheduler(), defaults: args::scheduler_defaults(), ..ArgSet::default() };
            self.apply_user_args(&mut a, extra.scheduler.as_deref(), Component::Scheduler, minor, "scheduler");
            a.render_sorted()
        };

        self.guard_insecure_flags(&extra);
        let resources = dep.resources.clone().unwrap_or_default();
        let sc = dep.container_security_contexts.clone().unwrap_or_default();
        let mounts = dep.additional_volume_mounts.clone().unwrap_or_default();
        let probes = dep.probes.clone().unwrap_or_default();
        let probe = |kind: ProbeKind, path: &str, port: i32, comp: Option<&tcpc_spec::tcp::ComponentProbes>| {
            build_probe(&probes, kind, comp, path, port)
        };
        let container = |which: hardening::Container,
                         img: String,
                         args: Vec<String>,
                         res: Option<&k8s_openapi::api::core::v1::ResourceRequirements>,
                         sc: Option<&k8s_openapi::api::core::v1::SecurityContext>,
                         mounts: Option<&Vec<k8s_openapi::api::core::v1::VolumeMount>>,
                         live: Value,
                         ready: Value,
                         start: Value| ContainerPlan {
            image: img,
            args,
            resources: Some(res.map_or_else(|| hardening::default_resources(which), |r| json!(r))),
            security_context: Some(hardening::merge(hardening::default_container_security_context(), sc.map(|s| json!(s)))),
            extra_mounts: mounts.map(|m| m.iter().map(|x| json!(x)).collect()).unwrap_or_default(),
            liveness: live,
            readiness: ready,
            startup: start,
        };
        let apiserver = container(
            hardening::Container::ApiServer,
            image(reg.api_server_image.as_ref(), d::DEFAULT_API_SERVER_IMAGE),
            apiserver_args,
            resources.api_server.as_ref(),
            sc.api_server.as_ref(),
            mounts.api_server.as_ref(),
            probe(ProbeKind::Liveness, "/livez", port, probes.api_server.as_ref()),
            probe(ProbeKind::Readiness, "/readyz", port, probes.api_server.as_ref()),
            probe(ProbeKind::Startup, "/livez", port, probes.api_server.as_ref()),
        );
        let controller_manager = container(
            hardening::Container::ControllerManager,
            image(reg.controller_manager_image.as_ref(), d::DEFAULT_CONTROLLER_MANAGER_IMAGE),
            cm_args,
            resources.controller_manager.as_ref(),
            sc.controller_manager.as_ref(),
            mounts.controller_manager.as_ref(),
            probe(ProbeKind::Liveness, "/healthz", d::CONTROLLER_MANAGER_PORT, probes.controller_manager.as_ref()),
            probe(ProbeKind::Readiness, "/healthz", d::CONTROLLER_MANAGER_PORT, probes.controller_manager.as_ref()),
            probe(ProbeKind::Startup, "/healthz", d::CONTROLLER_MANAGER_PORT, probes.controller_manager.as_ref()),
        );
        let scheduler = container(
            hardening::Container::Scheduler,
            image(reg.scheduler_image.as_ref(), d::DEFAULT_SCHEDULER_IMAGE),
            scheduler_args,
            resources.scheduler.as_ref(),
            sc.scheduler.as_ref(),
            mounts.scheduler.as_ref(),
            probe(ProbeKind::Liveness, "/healthz", d::SCHEDULER_PORT, probes.scheduler.as_ref()),
            probe(ProbeKind::Readiness, "/healthz", d::SCHEDULER_PORT, probes.scheduler.as_ref()),
            probe(ProbeKind::Startup, "/healthz", d::SCHEDULER_PORT, probes.scheduler.as_ref()),
        );

        self.check_root_contradiction(pod.get("securityContext"), [&apiserver, &controller_manager, &scheduler]);

        Some(DeploymentPlan {
            labels,
            annotations,
            replicas,
            strategy,
            pod_labels,
            pod_annotations,
            pod,
            service_account_name: dep
                .service_account_name
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| d::DEFAULT_SERVICE_ACCOUNT_NAME.to_string()),
            init_containers: to_values(&dep.additional_init_containers),
            extra_containers: to_values(&dep.additional_containers),
            extra_volumes: to_values(&dep.additional_volumes),
            apiserver,
            controller_manager,
            scheduler,
            pdb: replicas > 1,
            secret_mode: hardening::SECRET_FILE_MODE,
        })
    }

    pub(super) fn admission_plugins(&self) -> String {
        match &self.doc.value.spec.kubernetes.admission_controllers {
            Some(list) => list.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
            None => d::DEFAULT_ADMISSION_CONTROLLERS.join(","),
        }
    }

    pub(super) fn preferred_address_types(&self) -> String {
        match &self.doc.value.spec.kubernetes.kubelet.preferred_address_types {
            Some(list) => list.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
            None => d::DEFAULT_PREFERRED_ADDRESS_TYPES.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
        }
    }

    pub(super) fn apply_user_args(&mut self, set: &mut ArgSet, user: Option<&[String]>, component: Component, minor: u32, key: &str) {
        for (i, raw) in user.unwrap_or_default().iter().enumerate() {
            let pointer = format!("/spec/controlPlane/deployment/extraArgs/{key}/{i}");
            match set.add_user(raw) {
                Ok(flag) => {
                    if let Some(removed) = version::removed_in(component, &flag, minor) {
                        let d = self
                            .error(&pointer, format!("`--{flag}` does not exist in v1.{minor}"), format!("removed in v1.{removed}"))
                            .help("remove the flag; check the upstream release notes for its replacement");
                        self.push(d);
                    }
                }
                Err(args::ArgError::Managed { flag, hint }) => {
                    let d = self.error(&pointer, format!("`--{flag}` is managed by tcpc"), "cannot be overridden").help(hint);
                    self.push(d);
                }
                Err(args::ArgError::Syntax) => {
                    let d = self.error(&pointer, format!("invalid extra argument `{raw}`"), "expected `--flag=value` or `--flag`");
                    self.push(d);
                }
            }
        }
    }
}

fn to_values<T: Serialize>(v: &Option<Vec<T>>) -> Vec<Value> {
    v.as_ref().map(|x| x.iter().map(|c| json!(c)).collect()).unwrap_or_default()
}

#[derive(Clone, Copy)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn build_probe(
    all: &tcpc_spec::tcp::ControlPlaneProbes,
    kind: ProbeKind,
    comp: Option<&tcpc_spec::tcp::ComponentProbes>,
    path: &str,
    port: i32,
) -> Value {
    let pick = |p: Option<&tcpc_spec::tcp::ComponentProbes>| -> Option<tcpc_spec::tcp::ProbeSpec> {
        p.and_then(|c| match kind {
            ProbeKind::Liveness => c.liveness.clone(),
            ProbeKind::Readiness => c.readiness.clone(),
            ProbeKind::Startup => c.startup.clone(),
        })
    };
    let global = match kind {
        ProbeKind::Liveness => all.liveness.clone(),
        ProbeKind::Readiness => all.readiness.clone(),
        ProbeKind::Startup => all.startup.clone(),
    };
    // Kamaji probes every 10 s. tcpc detects startup every second (for up to 60 s) so a new
    // API server receives traffic within a second or two of being ready, which keeps rollouts
    // and first applies fast; liveness and readiness keep Kamaji's values.
    let base = match kind {
        ProbeKind::Startup => tcpc_spec::tcp::ProbeSpec { period_seconds: Some(1), failure_threshold: Some(60), ..d::PROBE_BASE },
        ProbeKind::Liveness | ProbeKind::Readiness => d::PROBE_BASE,
    };
    let layers = [global, pick(comp)];
    let field = |f: fn(&tcpc_spec::tcp::ProbeSpec) -> Option<i32>| layers.iter().flatten().filter_map(f).next_back().or(f(&base));
    json!({
        "httpGet": {"path": path, "port": port, "scheme": "HTTPS"},
        "initialDelaySeconds": field(|p| p.initial_delay_seconds),
        "timeoutSeconds": field(|p| p.timeout_seconds),
        "periodSeconds": field(|p| p.period_seconds),
        "successThreshold": field(|p| p.success_threshold),
        "failureThreshold": field(|p| p.failure_threshold),
    })
}
