//! Addresses: service and pod CIDRs, the cluster DNS IPs, the advertise address and the
//! serving certificate's SANs.

use std::net::IpAddr;

use tcpc_spec::defaults as d;

use super::net::Cidr;
use super::{Resolver, is_dns1123_subdomain};

impl Resolver<'_> {
    pub(super) fn cidrs(
        &mut self,
        list_key: &str,
        legacy_key: &str,
        list: Option<&[String]>,
        legacy: Option<&str>,
        default: &str,
    ) -> Vec<Cidr> {
        let (values, pointer_of): (Vec<String>, Box<dyn Fn(usize) -> String>) = match (list, legacy) {
            (Some(l), _) if !l.is_empty() => (l.to_vec(), Box::new(move |i| format!("/spec/networkProfile/{list_key}/{i}"))),
            (_, Some(s)) if !s.is_empty() => (vec![s.to_string()], Box::new(move |_| format!("/spec/networkProfile/{legacy_key}"))),
            _ => (vec![default.to_string()], Box::new(|_| "/spec/networkProfile".to_string())),
        };
        let mut out: Vec<Cidr> = Vec::new();
        for (i, v) in values.iter().enumerate() {
            match Cidr::parse(v) {
                Ok(c) if !out.contains(&c) => out.push(c),
                Ok(_) => {}
                Err(e) => {
                    let d = self.error(&pointer_of(i), format!("invalid CIDR `{v}` in {list_key}"), e.to_string());
                    self.push(d);
                }
            }
        }
        if out.len() > 2 || (out.len() == 2 && out[0].network.is_ipv4() == out[1].network.is_ipv4()) {
            let d = self.error(
                &format!("/spec/networkProfile/{list_key}"),
                format!("`{list_key}` must hold one range, or one IPv4 and one IPv6 range"),
                "not a valid dual-stack pair",
            );
            self.push(d);
        }
        out
    }

    pub(super) fn dns_ips(&mut self, given: Option<&[String]>, service: &[Cidr]) -> Vec<String> {
        match given {
            Some(ips) if !ips.is_empty() => {
                if ips.len() > 8 {
                    let d = self.error("/spec/networkProfile/dnsServiceIPs", "at most 8 dnsServiceIPs are allowed", "too many");
                    self.push(d);
                }
                for (i, ip) in ips.iter().enumerate() {
                    let pointer = format!("/spec/networkProfile/dnsServiceIPs/{i}");
                    match ip.parse::<IpAddr>() {
                        Ok(addr) if service.iter().any(|c| c.contains(addr)) => {}
                        Ok(_) => {
                            let ranges = service.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                            let d = self
                                .error(&pointer, format!("DNS service IP {ip} is outside the service CIDR"), format!("not in {ranges}"))
                                .help(
                                    service
                                        .first()
                                        .and_then(|c| c.nth(10))
                                        .map(|ip| format!("the conventional choice is {ip}"))
                                        .unwrap_or_default(),
                                );
                            self.push(d);
                        }
                        Err(_) => {
                            let d = self.error(&pointer, format!("invalid IP `{ip}` in dnsServiceIPs"), "expected an IP address");
                            self.push(d);
                        }
                    }
                }
                ips.to_vec()
            }
            // Kamaji's webhook default: one per service range, in the user's order.
            _ => service
                .iter()
                .filter_map(|c| {
                    c.nth(if c.network.is_ipv4() {
                        u128::from(d::DNS_SERVICE_IP_OFFSET_V4)
                    } else {
                        u128::from(d::DNS_SERVICE_IP_OFFSET_V6)
                    })
                })
                .map(|ip| ip.to_string())
                .collect(),
        }
    }

    pub(super) fn advertise_address(&mut self, advertise: Option<&str>, address: Option<&str>) -> Option<String> {
        match advertise.filter(|a| !a.is_empty()) {
            Some(a) => match a.parse::<IpAddr>() {
                Ok(ip) => Some(ip.to_string()),
                Err(_) => {
                    let d = self.error(
                        "/spec/networkProfile/advertiseAddress",
                        format!("invalid advertiseAddress `{a}`"),
                        "expected an IP address",
                    );
                    self.push(d);
                    None
                }
            },
            None => address.and_then(|a| a.parse::<IpAddr>().ok()).map(|ip| ip.to_string()),
        }
    }

    pub(super) fn cert_sans(&mut self, given: Option<&[String]>, endpoint_host: &str, address: Option<&str>) -> Vec<String> {
        let mut sans: Vec<String> = Vec::new();
        for (i, san) in given.unwrap_or_default().iter().enumerate() {
            let ok = san.parse::<IpAddr>().is_ok() || is_dns1123_subdomain(san.strip_prefix("*.").unwrap_or(san));
            if ok {
                sans.push(san.clone());
            } else {
                let d = self.error(
                    &format!("/spec/networkProfile/certSANs/{i}"),
                    format!("invalid certificate SAN `{san}`"),
                    "expected an IP address or a DNS name (a leading `*.` is allowed)",
                );
                self.push(d);
            }
        }
        sans.push(endpoint_host.to_string());
        if let Some(a) = address.filter(|a| !a.is_empty()) {
            if a.parse::<IpAddr>().is_ok() || is_dns1123_subdomain(a) {
                sans.push(a.to_string());
            } else {
                let d =
                    self.error("/spec/networkProfile/address", format!("invalid address `{a}`"), "expected an IP address or a DNS name");
                self.push(d);
            }
        }
        sans.sort();
        sans.dedup();
        sans
    }
}

/// Kamaji sorts and deduplicates ranges (by string) before they reach flags.
pub(super) fn sorted_cidrs(c: &[Cidr]) -> Vec<Cidr> {
    let mut v = c.to_vec();
    v.sort_by_key(|c| c.to_string());
    v.dedup();
    v
}

pub(super) fn join(c: Vec<Cidr>) -> String {
    c.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

pub(super) fn bracket(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{host}]"),
        _ => host.to_string(),
    }
}

pub(super) fn with_port(host: &str, port: i32) -> String {
    if host.contains(':') { host.to_string() } else { format!("{host}:{port}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_are_bracketed_for_host_port() {
        assert_eq!(bracket("fd00::10"), "[fd00::10]");
        assert_eq!(bracket("10.0.0.10"), "10.0.0.10");
        assert_eq!(bracket("api.example.com"), "api.example.com");
    }

    #[test]
    fn an_ingress_or_gateway_hostname_keeps_its_own_port() {
        assert_eq!(with_port("api.example.com", 6443), "api.example.com:6443");
        assert_eq!(with_port("api.example.com:443", 6443), "api.example.com:443");
    }

    #[test]
    fn cidr_lists_are_sorted_deduplicated_and_comma_joined() {
        let c = |s: &str| Cidr::parse(s).unwrap();
        let list = [c("fd00:10::/108"), c("10.96.0.0/16"), c("10.96.0.0/16")];
        assert_eq!(join(sorted_cidrs(&list)), "10.96.0.0/16,fd00:10::/108");
    }
}
