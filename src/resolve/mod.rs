//! Resolve: typed inputs → one fully-decided [`Tenant`] per TenantControlPlane.
//!
//! Applies Kamaji's defaults, derives values (service IPs, endpoint, SANs, flags for the tenant's
//! minor), validates everything a compiler can check offline, and refuses — with a diagnostic
//! naming the field — anything tcpc does not implement yet. Templates then only fill values in.
//!
//! Invariants: pure; every decision is visible in [`Tenant`] (templates contain no defaults,
//! and compute nothing: [`Derived`] holds what they would); maps are ordered.
//!
//! This module holds the entry point, the repository-wide checks and [`Resolver::tenant`],
//! which reads one TenantControlPlane top to bottom and calls, by concern:
//! `addresses` (CIDRs, DNS IPs, advertise address, SANs), `datastore` (the DataStore, its
//! overrides), `deployment` (containers, flags, probes, internal CA), `exposure` (Service,
//! Ingress, Gateway), `tenant_bundle` (kubelet configuration, certSANs), and the feature
//! planners (`kine`, `setup`, `dedicated`, `konnectivity`, `network_policy`, `delivery`,
//! `hardening`, `guardrails`). `plan` holds the types they fill in.

mod addresses;
pub mod args;
mod datastore;
pub mod dedicated;
pub mod delivery;
mod deployment;
mod exposure;
pub mod guardrails;
pub mod hardening;
mod kine;
pub mod konnectivity;
pub mod net;
pub mod network_policy;
mod plan;
pub mod sanity;
mod setup;
pub mod teardown;
pub mod tenant_bundle;
pub mod version;

use std::collections::BTreeMap;

use tcpc_spec::defaults as d;
use tcpc_spec::pki::Rotation;
use tcpc_spec::{DataStore, TenantControlPlane};

use crate::diag::{Diagnostic, Diagnostics};
use crate::parse::{Doc, Inputs};
use version::KubeVersion;

pub use plan::*;

use addresses::{bracket, sorted_cidrs, with_port};
use datastore::check_datastore;

/// `companion.namespace` must be a namespace name.
fn check_companion(inputs: &Inputs, diags: &mut Diagnostics) {
    let (Some(ns), Some(doc)) = (inputs.config.companion.as_ref().and_then(|c| c.namespace.as_deref()), &inputs.config_doc) else {
        return;
    };
    if !is_dns1123_label(ns) {
        diags.push(
            Diagnostic::error(format!("`{ns}` is not a namespace name"))
                .at(doc.file, doc.span("/companion/namespace"), "expected a DNS-1123 label")
                .help("lower-case letters, digits and `-`, at most 63 characters, e.g. `tcpc-system`"),
        );
    }
}

/// Resolves every TCP. Errors are pushed to `diags`; a TCP with errors yields no [`Tenant`].
pub fn resolve(inputs: &Inputs, diags: &mut Diagnostics) -> Vec<Tenant> {
    check_duplicates(inputs, diags);
    sanity::check_config(inputs, diags);
    delivery::check_config(inputs, diags);
    network_policy::check_config(inputs, diags);
    check_companion(inputs, diags);
    let datastores: BTreeMap<&str, &Doc<DataStore>> = inputs.datastores.iter().map(|d| (d.value.metadata.name.as_str(), d)).collect();
    // Every DataStore is checked, used or not: one committed ahead of its first tenant is
    // refused when it is written, not when a tenant first needs it.
    for ds in &inputs.datastores {
        check_datastore(ds, diags);
    }
    // Each tenant on its own (on every core), the results taken in order.
    let resolved = crate::par::map(&inputs.tcps, |doc| {
        let mut r = Resolver { doc, inputs, diags: Diagnostics::default() };
        let tenant = r.tenant(&datastores);
        if let Some(t) = tenant.as_ref().filter(|_| !r.diags.has_errors()) {
            sanity::check(doc, t, &mut r.diags);
            sanity::check_tenant_pki(doc, &inputs.config, &mut r.diags);
        }
        (tenant.filter(|_| !r.diags.has_errors()), r.diags)
    });
    let mut out = Vec::new();
    for (tenant, d) in resolved {
        diags.extend(d);
        out.extend(tenant);
    }
    warn_unused_configmaps(inputs, diags);
    out
}

/// A ConfigMap in the repository is compiled only as a tenant's internal CA bundle; any other is
/// left out of the output, which is said rather than done in silence (a ConfigMap that
/// `additionalVolumes` mounts must reach the cluster some other way).
fn warn_unused_configmaps(inputs: &Inputs, diags: &mut Diagnostics) {
    let default_ns = inputs.config.default_namespace();
    for cm in &inputs.configmaps {
        let used = inputs.tcps.iter().any(|t| {
            t.value.spec.internal_ca_certificates_config_map.as_deref() == Some(cm.name.as_str())
                && t.value.metadata.namespace.as_deref().unwrap_or(default_ns) == cm.namespace
        });
        if !used {
            diags.push(
                Diagnostic::warning(format!("skipping ConfigMap {}/{}: no TenantControlPlane uses it as `internalCACertificatesConfigMap`", cm.namespace, cm.name))
                    .at(cm.file, cm.span, "not in the output")
                    .note("tcpc copies a ConfigMap of the repository only as a tenant's internal CA bundle; one that `additionalVolumes` mount must be applied to the management cluster with its other objects"),
            );
        }
    }
}

fn check_duplicates(inputs: &Inputs, diags: &mut Diagnostics) {
    let ns = inputs.config.default_namespace();
    let mut seen: BTreeMap<(String, String), &Doc<TenantControlPlane>> = BTreeMap::new();
    for doc in &inputs.tcps {
        let m = &doc.value.metadata;
        let key = (m.namespace.clone().unwrap_or_else(|| ns.to_string()), m.name.clone());
        if let Some(first) = seen.get(&key) {
            diags.push(
                Diagnostic::error(format!("duplicate TenantControlPlane `{}/{}`", key.0, key.1))
                    .at(doc.file, doc.span("/metadata/name"), "defined again here")
                    .also(first.file, first.span("/metadata/name"), "first defined here")
                    .help("names must be unique within a namespace"),
            );
        } else {
            seen.insert(key, doc);
        }
    }
    let mut seen_ds: BTreeMap<&str, &Doc<DataStore>> = BTreeMap::new();
    for doc in &inputs.datastores {
        if let Some(first) = seen_ds.insert(&doc.value.metadata.name, doc) {
            diags.push(
                Diagnostic::error(format!("duplicate DataStore `{}`", doc.value.metadata.name))
                    .at(doc.file, doc.span("/metadata/name"), "defined again here")
                    .also(first.file, first.span("/metadata/name"), "first defined here"),
            );
        }
    }
}

struct Resolver<'a> {
    doc: &'a Doc<TenantControlPlane>,
    inputs: &'a Inputs<'a>,
    diags: Diagnostics,
}

impl Resolver<'_> {
    fn error(&mut self, pointer: &str, message: impl Into<String>, label: impl Into<String>) -> Diagnostic {
        Diagnostic::error(message).at(self.doc.file, self.doc.span(pointer), label)
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn tenant(&mut self, datastores: &BTreeMap<&str, &Doc<DataStore>>) -> Option<Tenant> {
        let tcp = &self.doc.value;
        let spec = &tcp.spec;
        let name = tcp.metadata.name.clone();
        let namespace = tcp.metadata.namespace.clone().unwrap_or_else(|| self.inputs.config.default_namespace().to_string());

        if !is_dns1035_label(&name) {
            let d = self
                .error("/metadata/name", format!("invalid TenantControlPlane name `{name}`"), "not a DNS-1035 label")
                .help("use at most 63 lower-case letters, digits and `-`, starting with a letter and ending with a letter or digit");
            self.push(d);
        }
        if !is_dns1123_label(&namespace) {
            let d = self.error("/metadata/namespace", format!("invalid namespace `{namespace}`"), "not a DNS-1123 label");
            self.push(d);
        }
        if tcp.status.is_some() {
            self.push(Diagnostic::warning("`status` is ignored: tcpc compiles desired state only").at(
                self.doc.file,
                self.doc.key_span("/status"),
                "ignored",
            ));
        }
        let version = match KubeVersion::parse_supported(&spec.kubernetes.version) {
            Ok(v) => Some(v),
            Err(e) => {
                let title = match e {
                    version::VersionError::Unsupported { .. } => "unsupported",
                    _ => "invalid",
                };
                let d = self.error(
                    "/spec/kubernetes/version",
                    format!("{title} Kubernetes version `{}`", spec.kubernetes.version),
                    e.to_string(),
                );
                let d = match (&e, e.hint()) {
                    (version::VersionError::MissingV, _) => d.help(format!("write `v{}`", spec.kubernetes.version)),
                    (_, Some(hint)) => d.help(hint),
                    _ => d,
                };
                self.push(d);
                None
            }
        };

        let np = spec.network_profile.clone().unwrap_or_default();
        let cluster_domain = np.cluster_domain.clone().unwrap_or_else(|| d::DEFAULT_CLUSTER_DOMAIN.to_string());
        if !cluster_domain.contains('.') || !cluster_domain.split('.').all(is_dns1123_label) {
            let d = self.error(
                "/spec/networkProfile/clusterDomain",
                format!("invalid clusterDomain `{cluster_domain}`"),
                "expected a DNS domain such as `cluster.local`",
            );
            self.push(d);
        }
        let port = np.port.unwrap_or(d::DEFAULT_PORT);
        if !(1..=65535).contains(&port) {
            let d = self.error("/spec/networkProfile/port", format!("invalid port {port}"), "expected 1 to 65535");
            self.push(d);
        }

        let service_cidrs =
            self.cidrs("serviceCidrs", "serviceCidr", np.service_cidrs.as_deref(), np.service_cidr.as_deref(), d::DEFAULT_SERVICE_CIDR);
        let pod_cidrs = self.cidrs("podCidrs", "podCidr", np.pod_cidrs.as_deref(), np.pod_cidr.as_deref(), d::DEFAULT_POD_CIDR);
        let dns_service_ips = self.dns_ips(np.dns_service_ips.as_deref(), &service_cidrs);
        let kubernetes_service_ips: Vec<std::net::IpAddr> = sorted_cidrs(&service_cidrs).iter().filter_map(|c| c.nth(1)).collect();

        let advertise_address = self.advertise_address(np.advertise_address.as_deref(), np.address.as_deref());
        let service_type = spec.control_plane.service.service_type;
        let service_dns_names = vec![
            name.clone(),
            format!("{name}.{namespace}"),
            format!("{name}.{namespace}.svc"),
            format!("{name}.{namespace}.svc.cluster.local"),
        ];
        let endpoint_host = match (&np.address, &advertise_address) {
            (Some(a), _) if !a.is_empty() => a.clone(),
            (_, Some(a)) => a.clone(),
            _ => {
                use tcpc_spec::tcp::ServiceType;
                match service_type {
                    ServiceType::NodePort => {
                        let d = self
                            .error(
                                "/spec/controlPlane/service/serviceType",
                                "a NodePort control plane needs `networkProfile.address`",
                                "NodePort",
                            )
                            .help("set networkProfile.address to a node address the tenant's workers can reach");
                        self.push(d);
                    }
                    ServiceType::LoadBalancer => self.push(
                        Diagnostic::warning(
                            "the load balancer address is unknown offline: kubeconfigs will use the in-cluster Service name",
                        )
                        .at(
                            self.doc.file,
                            self.doc.span("/spec/controlPlane/service/serviceType"),
                            "LoadBalancer without networkProfile.address",
                        )
                        .help("set networkProfile.address to the load balancer's address so external clients and workers can connect"),
                    ),
                    ServiceType::ClusterIp => {}
                }
                format!("{name}.{namespace}.svc")
            }
        };
        let mut endpoint = format!("{}:{port}", bracket(&endpoint_host));
        let mut control_plane_endpoint = format!("{}:{port}", bracket(advertise_address.as_deref().unwrap_or(&endpoint_host)));
        if let Some(host) = spec.control_plane.gateway.as_ref().and_then(|g| g.hostname.clone()) {
            control_plane_endpoint = with_port(&host, port);
            endpoint = control_plane_endpoint.clone();
        }
        if let Some(host) = spec.control_plane.ingress.as_ref().and_then(|i| i.hostname.clone()) {
            control_plane_endpoint = with_port(&host, port);
            endpoint = control_plane_endpoint.clone();
        }
        let mut cert_sans = self.cert_sans(np.cert_sans.as_deref(), &endpoint_host, np.address.as_deref());
        // Behind an Ingress or a TLSRoute (TLS passthrough) clients dial that hostname.
        let exposed = [
            spec.control_plane.ingress.as_ref().and_then(|i| i.hostname.clone()),
            spec.control_plane.gateway.as_ref().and_then(|g| g.hostname.clone()),
        ];
        for host in exposed.into_iter().flatten() {
            let host = host.split(':').next().unwrap_or_default().to_string();
            if !host.is_empty() && !cert_sans.contains(&host) {
                cert_sans.push(host);
            }
        }
        cert_sans.sort();

        let datastore = self.datastore(datastores, &name, &namespace);
        let internal_ca = spec.internal_ca_certificates_config_map.as_ref().map(|cm| self.internal_ca(cm, &namespace));
        let deployment = self.deployment(
            &name,
            version.as_ref(),
            port,
            &service_cidrs,
            &pod_cidrs,
            advertise_address.as_deref(),
            &datastore,
            &cluster_domain,
            spec.addons.as_ref().is_some_and(|a| a.konnectivity.is_some()),
        );
        let konnectivity = match &version {
            Some(v) => {
                let agent_host = spec
                    .control_plane
                    .gateway
                    .as_ref()
                    .and_then(|g| g.hostname.clone())
                    .map(|h| h.split(':').next().unwrap_or_default().to_string())
                    .or_else(|| advertise_address.clone())
                    .unwrap_or_else(|| endpoint_host.clone());
                let taken = spec
                    .control_plane
                    .service
                    .additional_ports
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, p)| (p.port, format!("/spec/controlPlane/service/additionalPorts/{i}/port")))
                    .collect();
                self.konnectivity(&konnectivity::Context {
                    tcp: &name,
                    version: &v.to_string(),
                    apiserver_port: port,
                    replicas: deployment.as_ref().map_or(1, |d| d.replicas),
                    agent_host: &agent_host,
                    taken,
                })
            }
            None => None,
        };
        let service = self.service(
            &name,
            port,
            konnectivity.as_ref().map(|k| k.port),
            np.address.as_deref(),
            np.allow_address_as_external_ip.unwrap_or(false),
            np.load_balancer_class.clone(),
            np.load_balancer_source_ranges.clone(),
        );
        let ingress = self.ingress(&name);
        let gateway = self.gateway(&name);
        let mut konnectivity = konnectivity;
        if let (Some(k), Some(g)) = (konnectivity.as_mut(), gateway.as_ref()) {
            k.route_through(g);
        }
        let network_policy = match (&datastore, &deployment) {
            (Some(ds), Some(dep)) => {
                let mut endpoints = ds.kine.as_ref().map_or_else(|| ds.servers.clone(), |k| vec![k.connection_string.clone()]);
                endpoints.extend(ds.overrides.iter().filter_map(|o| o.split_once('#')).flat_map(|(_, s)| s.split(';').map(str::to_string)));
                let selector = BTreeMap::from([
                    ("kamaji.clastix.io/component".to_string(), "deployment".to_string()),
                    ("kamaji.clastix.io/name".to_string(), name.clone()),
                ]);
                self.network_policy(&name, &service.ports, selector, &endpoints, &dep.apiserver.args)
            }
            _ => None,
        };
        let kubelet = KubeletPlan {
            cgroup_driver: spec.kubernetes.kubelet.cgroupfs.map(|c| c.as_str().to_string()),
            preferred_address_types: spec
                .kubernetes
                .kubelet
                .preferred_address_types
                .clone()
                .map(|v| v.iter().map(|t| t.as_str().to_string()).collect())
                .unwrap_or_else(|| d::DEFAULT_PREFERRED_ADDRESS_TYPES.iter().map(|t| t.as_str().to_string()).collect()),
            configuration_json_patches: spec.kubernetes.kubelet.configuration_json_patches.clone().unwrap_or_default(),
        };
        let addons = self.addons(version.as_ref());
        let pki = self.pki();
        let flux_delivery = delivery::flux_plan(self.inputs, &namespace, &name);
        let super_admin_in_cluster = self.super_admin_in_cluster(flux_delivery.is_some());

        let version = version?;
        let argocd_delivery = delivery::argocd_plan(
            self.inputs,
            &namespace,
            &name,
            &format!("https://{name}.{namespace}.svc:{port}"),
            &format!("https://{endpoint}"),
        );
        let mut tenant = Tenant {
            file: self.doc.file,
            secrets: secret_names(&name),
            labels: Labels { selector: BTreeMap::from([("kamaji.clastix.io/name".to_string(), name.clone())]) },
            name,
            namespace,
            version: version.to_string(),
            minor: version.minor,
            cluster_domain,
            service_cidrs: sorted_cidrs(&service_cidrs).iter().map(ToString::to_string).collect(),
            pod_cidrs: sorted_cidrs(&pod_cidrs).iter().map(ToString::to_string).collect(),
            dns_service_ips,
            kubernetes_service_ips,
            port,
            advertise_address,
            server_url: format!("https://{endpoint}"),
            control_plane_endpoint,
            cert_sans,
            service_dns_names,
            deployment: deployment?,
            service,
            ingress,
            gateway,
            datastore: datastore?,
            internal_ca,
            kubelet,
            addons,
            pki,
            super_admin_in_cluster,
            write_limits: WriteLimits::of(spec.write_permissions.as_ref()),
            flux_delivery,
            argocd_delivery,
            network_policy,
            konnectivity,
            companion: self.inputs.config.companion_namespace().map(|namespace| CompanionPlan {
                namespace: namespace.to_string(),
                renew_before_fraction: self.inputs.config.renew_before_fraction(),
            }),
            derived: Derived::default(),
        };
        let kubelet = match tenant_bundle::kubelet_configuration(&tenant, &tenant.kubelet.configuration_json_patches) {
            Ok(kubelet) => kubelet,
            Err(e) => {
                let d = self
                    .error(
                        "/spec/kubernetes/kubelet/configurationJSONPatches",
                        "a kubelet configuration patch does not apply",
                        e.to_string(),
                    )
                    .help("patches apply to the KubeletConfiguration tcpc generates (kubelet.config.k8s.io/v1beta1)");
                self.push(d);
                return None;
            }
        };
        tenant.derived = Derived {
            kubelet_config: tcpc_yaml::emit(&kubelet),
            api_server_cert_sans: tenant_bundle::api_server_cert_sans(&tenant),
            kubeadm_api: version::kubeadm_api(tenant.minor),
            ca_validity_period: tenant_bundle::go_duration_days(tenant.pki.ca_validity_days),
            leaf_validity_period: tenant_bundle::go_duration_days(tenant.pki.leaf_validity_days),
            dns_ip_families: tenant_bundle::dual_stack_families(&tenant.dns_service_ips),
        };
        Some(tenant)
    }

    fn addons(&mut self, version: Option<&KubeVersion>) -> AddonsPlan {
        let Some(addons) = self.doc.value.spec.addons.clone() else {
            return AddonsPlan { core_dns: None, kube_proxy: None };
        };
        let tag = version.map(ToString::to_string).unwrap_or_default();
        let coredns = version::coredns_version(version.map_or(version::MAX_MINOR, |v| v.minor));
        AddonsPlan {
            core_dns: addons.core_dns.map(|c| {
                // Kamaji honours imageTag only together with imageRepository.
                let (repo, tag) = match (&c.image_repository, &c.image_tag) {
                    (Some(r), Some(t)) => (r.clone(), t.clone()),
                    (Some(r), None) => (r.clone(), coredns.to_string()),
                    (None, _) => (d::DEFAULT_COREDNS_IMAGE_REPOSITORY.to_string(), coredns.to_string()),
                };
                AddonImage { image: format!("{repo}/coredns:{tag}") }
            }),
            kube_proxy: addons.kube_proxy.map(|k| AddonImage {
                image: format!(
                    "{}/kube-proxy:{}",
                    k.image_repository.unwrap_or_else(|| d::DEFAULT_KUBE_PROXY_IMAGE_REPOSITORY.to_string()),
                    k.image_tag.unwrap_or(tag)
                ),
            }),
        }
    }

    fn pki(&mut self) -> PkiPlan {
        let cfg = &self.inputs.config;
        let tcp_pki = self.doc.value.spec.pki.clone().unwrap_or_default();
        let leaf = tcp_pki.leaf_validity_days.unwrap_or_else(|| cfg.leaf_validity_days());
        if leaf == 0 {
            let d = self.error("/spec/pki/leafValidityDays", "leafValidityDays must be at least 1", "zero");
            self.push(d);
        }
        let rotation = tcp_pki.rotation.or(cfg.pki.as_ref().and_then(|p| p.rotation)).unwrap_or(Rotation::Git);
        let companion_rotation = rotation == Rotation::Companion;
        if companion_rotation && cfg.companion_namespace().is_none() {
            let pointer = if tcp_pki.rotation.is_some() { "/spec/pki/rotation" } else { "/metadata/name" };
            let d = self
                .error(pointer, "`rotation: companion` needs the companion", "the companion renews this tenant's leaves")
                .help("turn it on in tcpc.yaml (`companion: {}`) and install it (`tcpc install companion`), or use `rotation: git`");
            self.push(d);
        }
        PkiPlan {
            key_algorithm: tcp_pki.key_algorithm.unwrap_or_else(|| cfg.key_algorithm()),
            leaf_validity_days: leaf,
            ca_validity_days: cfg.ca_validity_days(),
            companion_rotation,
            companion_leaf_validity_seconds: companion_rotation
                .then(|| cfg.pki.as_ref().and_then(|p| p.test_only_leaf_validity_seconds))
                .flatten(),
        }
    }
}

fn secret_names(tcp: &str) -> SecretNames {
    SecretNames {
        ca: format!("{tcp}-ca"),
        apiserver: format!("{tcp}-api-server-certificate"),
        apiserver_kubelet_client: format!("{tcp}-api-server-kubelet-client-certificate"),
        front_proxy_ca: format!("{tcp}-front-proxy-ca-certificate"),
        front_proxy_client: format!("{tcp}-front-proxy-client-certificate"),
        sa: format!("{tcp}-sa-certificate"),
        datastore: format!("{tcp}-datastore-certificate"),
        admin_kubeconfig: format!("{tcp}-admin-kubeconfig"),
        controller_manager_kubeconfig: format!("{tcp}-controller-manager-kubeconfig"),
        scheduler_kubeconfig: format!("{tcp}-scheduler-kubeconfig"),
        konnectivity_kubeconfig: format!("{tcp}-konnectivity-kubeconfig"),
    }
}

pub fn kamaji_labels(tcp: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("kamaji.clastix.io/component".to_string(), component.to_string()),
        ("kamaji.clastix.io/name".to_string(), tcp.to_string()),
        ("kamaji.clastix.io/project".to_string(), "kamaji".to_string()),
    ])
}

/// SHA-256 over `key NUL value NUL` in key order: changes whenever any key or value does.
pub fn data_checksum(data: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (k, v) in data {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// Test fixture: the etcd DataStore `default`, its CA referenced from kamaji-system.
#[cfg(test)]
pub(crate) const TEST_DATASTORE: &str = "apiVersion: kamaji.clastix.io/v1alpha1
kind: DataStore
metadata:
  name: default
spec:
  driver: etcd
  endpoints:
  - etcd-0.etcd.kamaji-system.svc:2379
  tlsConfig:
    certificateAuthority:
      certificate:
        secretReference:
          name: etcd-certs
          namespace: kamaji-system
          keyPath: ca.crt
";

/// Test helper: the one TenantControlPlane of `tcp`, resolved against the DataStore document `ds`;
/// panics on any error diagnostic.
#[cfg(test)]
pub(crate) fn resolve_one(ds: &str, tcp: String) -> Tenant {
    let mut sources = crate::source::Sources::default();
    sources.add("ds.yaml".into(), ds.into());
    sources.add("tcp.yaml".into(), tcp);
    let mut diags = crate::diag::Diagnostics::default();
    let config = crate::parse::ConfigFile::parse(&sources, None, &mut diags);
    let inputs = crate::parse::parse(&sources, &config, &mut diags);
    let mut tenants = resolve(&inputs, &mut diags);
    assert!(!diags.has_errors(), "{diags:?}");
    tenants.remove(0)
}
