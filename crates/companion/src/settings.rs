//! Settings from the environment.

use std::net::SocketAddr;
use std::time::Duration;

/// What the environment configures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `WATCH_NAMESPACE`: watch only this namespace (unset or empty: all).
    pub watch_namespace: Option<String>,
    /// `TCPC_COMPANION_RESYNC_SECONDS` (default 5): every tenant is re-probed this often.
    pub resync: Duration,
    /// `TCPC_COMPANION_LEADER_ELECTION` (default true; `false`, `0`, `no`, `off` disable it).
    pub leader_election: bool,
    /// `POD_NAMESPACE`: where the Lease lives (default: the client's namespace).
    pub pod_namespace: Option<String>,
    /// `POD_NAME`: the Lease holder identity and the Events' reporting instance.
    pub pod_name: Option<String>,
    /// `TCPC_COMPANION_LISTEN` (default `0.0.0.0:8080`).
    pub listen: SocketAddr,
}

impl Settings {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let non_empty = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let resync = match non_empty("TCPC_COMPANION_RESYNC_SECONDS") {
            None => Duration::from_secs(5),
            Some(v) => match v.parse::<u64>() {
                Ok(s) if (1..=3600).contains(&s) => Duration::from_secs(s),
                _ => return Err(format!("TCPC_COMPANION_RESYNC_SECONDS must be a whole number of seconds from 1 to 3600, not {v:?}")),
            },
        };
        let leader_election = match non_empty("TCPC_COMPANION_LEADER_ELECTION").map(|v| v.to_ascii_lowercase()) {
            None => true,
            Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => return Err(format!("TCPC_COMPANION_LEADER_ELECTION must be true or false, not {v:?}")),
        };
        let listen = match non_empty("TCPC_COMPANION_LISTEN") {
            None => crate::http::DEFAULT_ADDR.parse().map_err(|_| "bad default address".to_string())?,
            Some(v) => v.parse().map_err(|_| format!("TCPC_COMPANION_LISTEN must be an address like 0.0.0.0:8080, not {v:?}"))?,
        };
        Ok(Settings {
            watch_namespace: non_empty("WATCH_NAMESPACE"),
            resync,
            leader_election,
            pod_namespace: non_empty("POD_NAMESPACE"),
            pod_name: non_empty("POD_NAME").or_else(|| non_empty("HOSTNAME")),
            listen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let env: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| env.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.watch_namespace, None);
        assert_eq!(s.resync, Duration::from_secs(5));
        assert!(s.leader_election);
        assert_eq!(s.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(s.pod_name, None);
    }

    #[test]
    fn reads_the_environment() {
        let s = settings(&[
            ("WATCH_NAMESPACE", "tenants"),
            ("TCPC_COMPANION_RESYNC_SECONDS", "30"),
            ("TCPC_COMPANION_LEADER_ELECTION", "false"),
            ("POD_NAMESPACE", "tcpc-system"),
            ("POD_NAME", "tcpc-companion-abc"),
            ("HOSTNAME", "ignored"),
            ("TCPC_COMPANION_LISTEN", "127.0.0.1:9090"),
        ])
        .unwrap();
        assert_eq!(s.watch_namespace.as_deref(), Some("tenants"));
        assert_eq!(s.resync, Duration::from_secs(30));
        assert!(!s.leader_election);
        assert_eq!(s.pod_namespace.as_deref(), Some("tcpc-system"));
        assert_eq!(s.pod_name.as_deref(), Some("tcpc-companion-abc"));
        assert_eq!(s.listen.port(), 9090);
        assert_eq!(settings(&[("WATCH_NAMESPACE", " ")]).unwrap().watch_namespace, None);
        assert_eq!(settings(&[("HOSTNAME", "h")]).unwrap().pod_name.as_deref(), Some("h"));
    }

    #[test]
    fn refuses_bad_values() {
        assert!(settings(&[("TCPC_COMPANION_RESYNC_SECONDS", "0")]).is_err());
        assert!(settings(&[("TCPC_COMPANION_RESYNC_SECONDS", "five")]).is_err());
        assert!(settings(&[("TCPC_COMPANION_LEADER_ELECTION", "maybe")]).is_err());
        assert!(settings(&[("TCPC_COMPANION_LISTEN", "8080")]).is_err());
    }
}
