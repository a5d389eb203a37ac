//! Sanity checks across fields: specs that parse and resolve field by field but describe a
//! control plane that can never work (overlapping ranges, clashing ports, addresses inside the
//! wrong range). Only tcpc can catch these offline, before anything is applied.
//!
//! Each check is a located diagnostic (the offending value, and the value it clashes with as a
//! secondary label) with a hint. Invariant: pure; runs only on a [`Tenant`] that resolved
//! without errors, so every range and address here already parsed.

use std::net::IpAddr;

use tcpc_spec::TenantControlPlane;
use tcpc_spec::defaults as d;

use super::Tenant;
use super::net::Cidr;
use crate::diag::{Diagnostic, Diagnostics};
use crate::parse::Doc;

/// One range as the user wrote it, with the JSON pointer it came from (or the parent key when
/// it is Kamaji's default).
struct Range {
    cidr: Cidr,
    pointer: String,
    defaulted: bool,
}

impl Range {
    /// Points at the range as a secondary label, or — when it is Kamaji's default and so
    /// written nowhere — says so in a note.
    fn show(&self, d: Diagnostic, doc: &Doc<TenantControlPlane>, what: &str) -> Diagnostic {
        if self.defaulted {
            d.note(format!("the {what} is not set: it defaults to {} (Kamaji's default)", self.cidr))
        } else {
            d.also(doc.file, doc.span(&self.pointer), format!("{what} {}", self.cidr))
        }
    }

    /// Primary label text of the range.
    fn label(&self, what: &str) -> String {
        format!("{what} {}", self.cidr)
    }
}

fn ranges(list_key: &str, legacy_key: &str, list: Option<&[String]>, legacy: Option<&str>, default: &str) -> Vec<Range> {
    let given: Vec<(String, String)> = match (list, legacy) {
        (Some(l), _) if !l.is_empty() => {
            l.iter().enumerate().map(|(i, v)| (v.clone(), format!("/spec/networkProfile/{list_key}/{i}"))).collect()
        }
        (_, Some(s)) if !s.is_empty() => vec![(s.to_string(), format!("/spec/networkProfile/{legacy_key}"))],
        _ => {
            return Cidr::parse(default)
                .map(|cidr| Range { cidr, pointer: "/spec/networkProfile".into(), defaulted: true })
                .into_iter()
                .collect();
        }
    };
    given.into_iter().filter_map(|(v, pointer)| Cidr::parse(&v).ok().map(|cidr| Range { cidr, pointer, defaulted: false })).collect()
}

fn overlap(a: &Cidr, b: &Cidr) -> bool {
    a.network.is_ipv4() == b.network.is_ipv4() && (a.contains(b.network) || b.contains(a.network))
}

/// Runs every cross-field check on a resolved tenant.
pub fn check(doc: &Doc<TenantControlPlane>, t: &Tenant, diags: &mut Diagnostics) {
    let spec = &doc.value.spec;
    let np = spec.network_profile.clone().unwrap_or_default();
    let service = ranges("serviceCidrs", "serviceCidr", np.service_cidrs.as_deref(), np.service_cidr.as_deref(), d::DEFAULT_SERVICE_CIDR);
    let pod = ranges("podCidrs", "podCidr", np.pod_cidrs.as_deref(), np.pod_cidr.as_deref(), d::DEFAULT_POD_CIDR);
    let mut push = |d: Diagnostic| diags.push(d);

    // Service and pod ranges must be disjoint, in every family.
    for s in &service {
        for p in pod.iter().filter(|p| overlap(&s.cidr, &p.cidr)) {
            let how = if s.cidr == p.cidr { "are the same range" } else { "overlap" };
            // Point at the range that is written down (two defaults never overlap).
            let (primary, other, what, other_what) =
                if s.defaulted { (p, s, "pod CIDR", "service CIDR") } else { (s, p, "service CIDR", "pod CIDR") };
            let d = Diagnostic::error(format!("the service CIDR {} and the pod CIDR {} {how}", s.cidr, p.cidr)).at(
                doc.file,
                doc.span(&primary.pointer),
                primary.label(what),
            );
            push(
                other
                    .show(d, doc, other_what)
                    .note("Service virtual IPs and pod IPs share one routing space in the tenant cluster: no address may be both")
                    .help(format!(
                        "choose disjoint ranges, e.g. Kamaji's defaults: serviceCidr {} and podCidr {}",
                        d::DEFAULT_SERVICE_CIDR,
                        d::DEFAULT_POD_CIDR
                    )),
            );
        }
    }

    // DNS service IPs: inside the service range (checked while resolving), but neither a pod
    // address nor the `kubernetes` Service's own address.
    for (i, ip) in np.dns_service_ips.clone().unwrap_or_default().iter().enumerate() {
        let Ok(addr) = ip.parse::<IpAddr>() else { continue };
        let pointer = format!("/spec/networkProfile/dnsServiceIPs/{i}");
        let conventional = service.iter().find(|s| s.cidr.network.is_ipv4() == addr.is_ipv4()).and_then(|s| {
            s.cidr.nth(if addr.is_ipv4() { u128::from(d::DNS_SERVICE_IP_OFFSET_V4) } else { u128::from(d::DNS_SERVICE_IP_OFFSET_V6) })
        });
        let hint = conventional.map_or_else(String::new, |c| format!("the conventional choice is {c}"));
        if let Some(p) = pod.iter().find(|p| p.cidr.contains(addr)) {
            let d = Diagnostic::error(format!("DNS service IP {ip} is inside the pod CIDR {}", p.cidr)).at(
                doc.file,
                doc.span(&pointer),
                "a pod address",
            );
            push(p.show(d, doc, "pod CIDR").help(hint.clone()));
        }
        if t.kubernetes_service_ips.contains(&addr) {
            push(
                Diagnostic::error(format!("DNS service IP {ip} is the address of the `kubernetes` Service"))
                    .at(doc.file, doc.span(&pointer), "taken by the API server's Service")
                    .note("the first address of each service range always belongs to the tenant's `kubernetes` Service")
                    .help(hint),
            );
        }
    }

    // The advertise address is where the API server says it can be reached: a virtual IP of
    // the tenant's own Service range or a pod address cannot be that.
    if let Some(addr) = t.advertise_address.as_deref().and_then(|a| a.parse::<IpAddr>().ok()) {
        let pointer = if np.advertise_address.as_deref().is_some_and(|a| !a.is_empty()) {
            "/spec/networkProfile/advertiseAddress"
        } else {
            "/spec/networkProfile/address"
        };
        for (range, what) in service.iter().map(|r| (r, "service CIDR")).chain(pod.iter().map(|r| (r, "pod CIDR"))) {
            if range.cidr.contains(addr) {
                let d = Diagnostic::error(format!("the advertise address {addr} is inside the tenant's {what} {}", range.cidr)).at(
                    doc.file,
                    doc.span(pointer),
                    "the API server advertises this address",
                );
                push(
                    range
                        .show(d, doc, what)
                        .note("worker nodes reach the API server at this address; inside the tenant's own ranges it is routed into the tenant cluster, not to the control plane")
                        .help("advertise an address of the management cluster (a node, load balancer or gateway address)"),
                );
            }
        }
    }

    // Ports: the API server shares the pod with the controller manager and the scheduler, and
    // its Service port with every additional port.
    let port_pointer = "/spec/networkProfile/port";
    for (other, name) in [(d::CONTROLLER_MANAGER_PORT, "kube-controller-manager"), (d::SCHEDULER_PORT, "kube-scheduler")] {
        if t.port == other {
            push(
                Diagnostic::error(format!("API server port {other} clashes with {name}"))
                    .at(doc.file, doc.span(port_pointer), format!("{name} listens on {other} in the same pod"))
                    .help(format!("use another port, e.g. {}", d::DEFAULT_PORT)),
            );
        }
    }
    for (i, p) in spec.control_plane.service.additional_ports.clone().unwrap_or_default().iter().enumerate() {
        if p.port == t.port {
            let d = Diagnostic::error(format!("Service port {} is used twice", p.port))
                .at(doc.file, doc.span(&format!("/spec/controlPlane/service/additionalPorts/{i}/port")), "an additional port")
                .help("each port of the Service must be distinct: pick another port for this entry");
            let d = if np.port.is_some() {
                d.also(doc.file, doc.span(port_pointer), "the API server's port")
            } else {
                d.note(format!("the API server's port is {} (the default)", t.port))
            };
            push(d);
        }
    }
    use tcpc_spec::tcp::ServiceType;
    if spec.control_plane.service.service_type == ServiceType::NodePort && !(30000..=32767).contains(&t.port) {
        let d = Diagnostic::warning(format!("NodePort {} is outside the default node port range 30000-32767", t.port))
            .help("choose a port from 30000 to 32767, or make sure the management cluster's --service-node-port-range covers it");
        let d = if np.port.is_some() {
            d.at(doc.file, doc.span(port_pointer), "used as the Service nodePort")
        } else {
            d.at(doc.file, doc.span("/spec/controlPlane/service/serviceType"), format!("the default port {} is used as nodePort", t.port))
        };
        push(d);
    }
    if let Some(k) = t.konnectivity.as_ref().filter(|_| spec.control_plane.service.service_type == ServiceType::NodePort) {
        if !(30000..=32767).contains(&k.port) {
            let at = "/spec/addons/konnectivity/server/port";
            push(
                Diagnostic::warning(format!("NodePort {} is outside the default node port range 30000-32767", k.port))
                    .at(doc.file, doc.span(at), "used as the konnectivity nodePort")
                    .help("choose a port from 30000 to 32767, or make sure the management cluster's --service-node-port-range covers it"),
            );
        }
    }

    // certSANs listed twice (DNS names compare case-insensitively).
    let sans = np.cert_sans.clone().unwrap_or_default();
    for (i, san) in sans.iter().enumerate() {
        if let Some(first) = sans[..i].iter().position(|s| s.eq_ignore_ascii_case(san)) {
            push(
                Diagnostic::warning(format!("certificate SAN `{san}` is listed twice"))
                    .at(doc.file, doc.span(&format!("/spec/networkProfile/certSANs/{i}")), "listed again here")
                    .also(doc.file, doc.span(&format!("/spec/networkProfile/certSANs/{first}")), "first listed here")
                    .help("remove the duplicate; the certificate holds each name once"),
            );
        }
    }
}

/// `tcpc.yaml` settings that contradict each other: `tcpc check` thresholds must fire only
/// after renewal was due (`pki.renewBeforeFraction` of a leaf's lifetime before it expires),
/// and fail no earlier than they warn.
pub fn check_config(inputs: &crate::parse::Inputs, diags: &mut Diagnostics) {
    let cfg = &inputs.config;
    let Some(doc) = &inputs.config_doc else { return };
    let (warn, fail) = (cfg.check_warn_days(), cfg.check_fail_days());
    if fail > warn {
        diags.push(
            Diagnostic::error(format!("check.failDays ({fail}) is greater than check.warnDays ({warn})"))
                .at(doc.file, doc.span("/check/failDays"), "fails before it would ever warn")
                .help("`tcpc check` warns within warnDays of expiry, then fails within failDays: make failDays the smaller one"),
        );
    }
    let window = renewal_window_days(cfg.renew_before_fraction(), cfg.leaf_validity_days());
    if f64::from(warn) > window {
        let pointer = if cfg.check.as_ref().and_then(|c| c.warn_days).is_some() {
            "/check/warnDays"
        } else if cfg.pki.as_ref().and_then(|p| p.renew_before_fraction).is_some() {
            "/pki/renewBeforeFraction"
        } else {
            "/pki/leafValidityDays"
        };
        diags.push(
            Diagnostic::error(format!("check.warnDays ({warn}) warns before renewal is due ({} days before expiry)", window.floor()))
                .at(doc.file, doc.span(pointer), "warns about certificates tcpc would not renew yet")
                .note(format!(
                    "leaves are renewed once less than pki.renewBeforeFraction ({}) of their {} days is left",
                    fraction(cfg.renew_before_fraction()),
                    cfg.leaf_validity_days()
                ))
                .help(format!("set check.warnDays to at most {}, or raise pki.renewBeforeFraction", window.floor())),
        );
    }
}

/// `0.3333` for 1/3: four decimals, trailing zeros dropped.
fn fraction(f: f64) -> String {
    let s = format!("{f:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Days before expiry at which a leaf valid for `validity_days` is due for renewal.
pub fn renewal_window_days(fraction: f64, validity_days: u32) -> f64 {
    fraction * f64::from(validity_days)
}

/// A TenantControlPlane whose own `spec.pki.leafValidityDays` makes the renewal window
/// shorter than `check.warnDays`.
pub fn check_tenant_pki(doc: &Doc<TenantControlPlane>, config: &tcpc_spec::Config, diags: &mut Diagnostics) {
    let Some(leaf) = doc.value.spec.pki.as_ref().and_then(|p| p.leaf_validity_days) else { return };
    let warn = config.check_warn_days();
    let window = renewal_window_days(config.renew_before_fraction(), leaf);
    if f64::from(warn) > window {
        diags.push(
            Diagnostic::error(format!(
                "leaf certificates valid for {leaf} days are renewed {} days before expiry, later than check.warnDays ({warn})",
                window.floor()
            ))
            .at(doc.file, doc.span("/spec/pki/leafValidityDays"), "too short for the check thresholds of tcpc.yaml")
            .help(format!(
                "use at least {} days, or lower check.warnDays in tcpc.yaml",
                (f64::from(warn) / config.renew_before_fraction()).ceil()
            )),
        );
    }
}
