//! How the tenant is reached: its Service, and an Ingress or a Gateway TLSRoute.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::json;
use tcpc_spec::defaults as d;

use super::net::Cidr;
use super::{GatewayPlan, IngressPlan, Resolver, ServicePlan, is_dns1123_subdomain, kamaji_labels};

impl Resolver<'_> {
    pub(super) fn service(
        &mut self,
        name: &str,
        port: i32,
        konnectivity_port: Option<i32>,
        address: Option<&str>,
        address_as_external: bool,
        lb_class: Option<String>,
        lb_ranges: Option<Vec<String>>,
    ) -> ServicePlan {
        use tcpc_spec::tcp::ServiceType;
        let svc = &self.doc.value.spec.control_plane.service;
        let is_lb = svc.service_type == ServiceType::LoadBalancer;
        let is_np = svc.service_type == ServiceType::NodePort;
        let mut labels = kamaji_labels(name, "service");
        let mut annotations = BTreeMap::new();
        if let Some(m) = &svc.additional_metadata {
            labels.extend(m.labels.clone().unwrap_or_default());
            annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        let mut api = json!({"name": "kube-apiserver", "port": port, "protocol": "TCP", "targetPort": port});
        if is_np {
            // The node port range is checked in `sanity`.
            api["nodePort"] = json!(port);
        }
        let mut ports = vec![api];
        let mut names = vec!["kube-apiserver".to_string()];
        if let Some(kp) = konnectivity_port {
            // Kamaji's order: the API server, konnectivity, then additionalPorts.
            let mut k = json!({"name": "konnectivity-server", "port": kp, "protocol": "TCP", "targetPort": kp});
            if is_np {
                k["nodePort"] = json!(kp);
            }
            ports.push(k);
            names.push("konnectivity-server".to_string());
        }
        for (i, p) in svc.additional_ports.clone().unwrap_or_default().iter().enumerate() {
            if names.contains(&p.name) {
                let d = self.error(
                    &format!("/spec/controlPlane/service/additionalPorts/{i}/name"),
                    format!("duplicate Service port name `{}`", p.name),
                    "already used",
                );
                self.push(d);
            }
            names.push(p.name.clone());
            let mut v =
                json!({"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": p.protocol.map_or("TCP", |x| x.as_str())});
            if let Some(ap) = &p.app_protocol {
                v["appProtocol"] = json!(ap);
            }
            ports.push(v);
        }
        let ranges = lb_ranges.unwrap_or_default();
        for (i, r) in ranges.iter().enumerate() {
            if let Err(e) = Cidr::parse(r) {
                let d = self
                    .error(&format!("/spec/networkProfile/loadBalancerSourceRanges/{i}"), format!("invalid CIDR `{r}`"), e.to_string())
                    .help("loadBalancerSourceRanges lists client networks allowed to connect, e.g. `203.0.113.0/24`; a single address is `/32`");
                self.push(d);
            }
        }
        if !is_lb && !ranges.is_empty() {
            let d = self.error(
                "/spec/networkProfile/loadBalancerSourceRanges",
                "loadBalancerSourceRanges requires serviceType LoadBalancer",
                "only for LoadBalancer",
            );
            self.push(d);
        }
        if !is_lb && lb_class.is_some() {
            let d = self.error(
                "/spec/networkProfile/loadBalancerClass",
                "loadBalancerClass requires serviceType LoadBalancer",
                "only for LoadBalancer",
            );
            self.push(d);
        }
        if !is_lb && svc.allocate_load_balancer_node_ports.is_some() {
            let d = self.error(
                "/spec/controlPlane/service/allocateLoadBalancerNodePorts",
                "allocateLoadBalancerNodePorts requires serviceType LoadBalancer",
                "only for LoadBalancer",
            );
            self.push(d);
        }
        let external_ips = match address.filter(|a| !a.is_empty()) {
            Some(a) if address_as_external && !is_lb => {
                if a.parse::<IpAddr>().is_err() {
                    let d = self.error(
                        "/spec/networkProfile/address",
                        format!("`{a}` is not an IP address"),
                        "allowAddressAsExternalIP needs an IP",
                    );
                    self.push(d);
                }
                vec![a.to_string()]
            }
            _ => vec![],
        };
        ServicePlan {
            labels,
            annotations,
            type_: svc.service_type.as_str().to_string(),
            ports,
            external_ips,
            load_balancer_class: lb_class.filter(|_| is_lb),
            load_balancer_source_ranges: if is_lb { ranges } else { vec![] },
            allocate_load_balancer_node_ports: is_lb
                .then(|| svc.allocate_load_balancer_node_ports.unwrap_or(d::DEFAULT_ALLOCATE_LOAD_BALANCER_NODE_PORTS)),
        }
    }

    pub(super) fn ingress(&mut self, name: &str) -> Option<IngressPlan> {
        let cp = &self.doc.value.spec.control_plane;
        let ing = cp.ingress.as_ref()?;
        if cp.gateway.is_some() {
            let d = self.error("/spec/controlPlane/gateway", "`ingress` and `gateway` cannot both be set", "choose one exposure");
            self.push(d);
        }
        let Some(hostname) = ing.hostname.clone().filter(|h| !h.is_empty()) else {
            let d = self
                .error("/spec/controlPlane/ingress", "an Ingress needs `hostname`", "hostname missing")
                .help("set ingress.hostname, e.g. `tenant-a.k8s.example.com`");
            self.push(d);
            return None;
        };
        let host = hostname.split(':').next().unwrap_or_default().to_string();
        if !is_dns1123_subdomain(&host) {
            let d = self.error(
                "/spec/controlPlane/ingress/hostname",
                format!("invalid hostname `{hostname}`"),
                "expected a DNS name, optionally with `:port`",
            );
            self.push(d);
        }
        let mut labels = kamaji_labels(name, "ingress");
        let mut annotations = BTreeMap::new();
        if let Some(m) = &ing.additional_metadata {
            labels.extend(m.labels.clone().unwrap_or_default());
            annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        Some(IngressPlan { labels, annotations, class_name: ing.ingress_class_name.clone().filter(|c| !c.is_empty()), host })
    }

    pub(super) fn gateway(&mut self, name: &str) -> Option<GatewayPlan> {
        let gw = self.doc.value.spec.control_plane.gateway.as_ref()?;
        let Some(hostname) = gw.hostname.clone().filter(|h| !h.is_empty()) else {
            let d = self.error("/spec/controlPlane/gateway", "a gateway exposure needs `hostname`", "hostname missing");
            self.push(d);
            return None;
        };
        let refs = gw.parent_refs.clone().unwrap_or_default();
        if refs.is_empty() {
            let d =
                self.error("/spec/controlPlane/gateway", "a gateway exposure needs at least one `parentRefs` entry", "parentRefs missing");
            self.push(d);
        }
        let mut labels = kamaji_labels(name, "gateway_routes");
        let mut annotations = BTreeMap::new();
        if let Some(m) = &gw.additional_metadata {
            labels.extend(m.labels.clone().unwrap_or_default());
            annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        let parent_refs = refs
            .iter()
            .map(|r| {
                let mut v = json!(r);
                v["group"] = json!(r.group.clone().unwrap_or_else(|| d::DEFAULT_PARENT_REF_GROUP.into()));
                v["kind"] = json!(r.kind.clone().unwrap_or_else(|| d::DEFAULT_PARENT_REF_KIND.into()));
                v
            })
            .collect();
        Some(GatewayPlan { labels, annotations, parent_refs, hostname })
    }
}
