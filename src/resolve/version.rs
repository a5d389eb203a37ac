//! Tenant Kubernetes versions: which are supported, and which flags exist in which minor.
//!
//! tcpc renders flags the way kubeadm does for the tenant's minor. A flag that upstream removed
//! is never rendered for a version that lacks it, and a user extra argument naming such a flag is
//! refused with the version that removed it.

use std::fmt;

/// The oldest and newest supported minors: from the oldest Kamaji documents (v1.30) on.
pub const MIN_MINOR: u32 = 30;
pub const MAX_MINOR: u32 = 37;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// Pre-release suffix after `-`, e.g. `rc.1`.
    pub pre: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    MissingV,
    Syntax,
    /// A well-formed version outside `v1.MIN_MINOR`..=`v1.MAX_MINOR`.
    Unsupported {
        major: u32,
        minor: u32,
    },
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionError::MissingV => write!(f, "the version is used as the image tag and upstream tags start with `v`"),
            VersionError::Syntax => write!(f, "expected a version such as `v1.{MAX_MINOR}.0`"),
            VersionError::Unsupported { major, minor } => {
                write!(f, "v{major}.{minor} is not supported; supported: v1.{MIN_MINOR} to v1.{MAX_MINOR}")
            }
        }
    }
}

impl VersionError {
    /// Why the range is what it is, for a version outside it.
    pub fn hint(&self) -> Option<String> {
        match self {
            VersionError::MissingV | VersionError::Syntax => None,
            VersionError::Unsupported { .. } => Some(format!(
                "tcpc renders the minors whose flags, feature gates and images it knows and tests against the real \
                 binaries: v1.{MIN_MINOR} to v1.{MAX_MINOR} (Kamaji documents v1.30 to v1.35)"
            )),
        }
    }
}

impl KubeVersion {
    /// Parses `vMAJOR.MINOR.PATCH[-pre]` and checks the supported range.
    pub fn parse_supported(s: &str) -> Result<KubeVersion, VersionError> {
        let v = Self::parse(s)?;
        if v.major != 1 || !(MIN_MINOR..=MAX_MINOR).contains(&v.minor) {
            return Err(VersionError::Unsupported { major: v.major, minor: v.minor });
        }
        Ok(v)
    }

    pub fn parse(s: &str) -> Result<KubeVersion, VersionError> {
        let rest = match s.strip_prefix('v') {
            Some(r) => r,
            None if s.starts_with(|c: char| c.is_ascii_digit()) => return Err(VersionError::MissingV),
            None => return Err(VersionError::Syntax),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) if !p.is_empty() => (c, Some(p.to_string())),
            Some(_) => return Err(VersionError::Syntax),
            None => (rest, None),
        };
        let nums: Vec<u32> = core.split('.').map(|p| p.parse::<u32>().map_err(|_| VersionError::Syntax)).collect::<Result<_, _>>()?;
        match nums.as_slice() {
            [major, minor, patch] => Ok(KubeVersion { major: *major, minor: *minor, patch: *patch, pre }),
            _ => Err(VersionError::Syntax),
        }
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    ApiServer,
    ControllerManager,
    Scheduler,
}

/// The CoreDNS image tag kubeadm of `minor` installs (`constants.CoreDNSVersion` of its latest
/// patch release: v1.30.14, v1.31.14, v1.32.13, v1.33.13, v1.34.4, v1.35.4, v1.36.3, v1.37.2).
pub fn coredns_version(minor: u32) -> &'static str {
    match minor {
        ..=32 => "v1.11.3",
        33 => "v1.12.0",
        34 => "v1.12.1",
        35 => "v1.13.1",
        36 => "v1.14.2",
        _ => "v1.14.6",
    }
}

/// The kubeadm API version kubeadm of `minor` writes into `kube-system/kubeadm-config`:
/// v1beta4 from v1.31 (which added `proxy`, `certificateValidityPeriod` and
/// `caCertificateValidityPeriod`), v1beta3 before.
pub fn kubeadm_api(minor: u32) -> &'static str {
    if minor >= 31 { "kubeadm.k8s.io/v1beta4" } else { "kubeadm.k8s.io/v1beta3" }
}

/// Flags upstream removed, with the minor that removed them.
const REMOVED_FLAGS: &[(Component, &str, u32)] = &[
    (Component::ApiServer, "insecure-port", 24),
    (Component::ApiServer, "insecure-bind-address", 24),
    (Component::ApiServer, "port", 24),
    (Component::ApiServer, "address", 24),
    (Component::ApiServer, "kubelet-https", 22),
    (Component::ApiServer, "deserialization-cache-size", 24),
    (Component::ApiServer, "target-ram-mb", 24),
    (Component::ApiServer, "service-account-api-audiences", 25),
    (Component::ApiServer, "master-service-namespace", 27),
    (Component::ApiServer, "audit-log-version", 32),
    (Component::ApiServer, "audit-webhook-version", 32),
    (Component::ControllerManager, "pod-eviction-timeout", 27),
    (Component::ControllerManager, "address", 24),
    (Component::ControllerManager, "port", 24),
    (Component::ControllerManager, "horizontal-pod-autoscaler-use-rest-clients", 24),
    (Component::ControllerManager, "enable-taint-manager", 29),
    (Component::Scheduler, "address", 24),
    (Component::Scheduler, "port", 24),
    (Component::Scheduler, "policy-config-file", 23),
    (Component::Scheduler, "policy-configmap", 23),
    (Component::Scheduler, "use-legacy-policy-config", 23),
];

/// The minor that removed `flag` (without leading dashes) from `component`, if the flag is
/// absent in `minor`.
pub fn removed_in(component: Component, flag: &str, minor: u32) -> Option<u32> {
    REMOVED_FLAGS.iter().find(|(c, f, removed)| *c == component && *f == flag && minor >= *removed).map(|(_, _, removed)| *removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_versions() {
        let v = KubeVersion::parse_supported("v1.36.3").unwrap();
        assert_eq!((v.minor, v.patch), (36, 3));
        assert_eq!(KubeVersion::parse_supported("v1.37.0-rc.1").unwrap().to_string(), "v1.37.0-rc.1");
        assert_eq!(KubeVersion::parse_supported("1.36.3"), Err(VersionError::MissingV));
        assert_eq!(KubeVersion::parse_supported("v1.30.14").unwrap().minor, 30);
        assert_eq!(KubeVersion::parse_supported("v1.29.9"), Err(VersionError::Unsupported { major: 1, minor: 29 }));
        assert_eq!(KubeVersion::parse_supported("v1.38.0"), Err(VersionError::Unsupported { major: 1, minor: 38 }));
        assert_eq!(KubeVersion::parse_supported("v1.36"), Err(VersionError::Syntax));
        assert!(VersionError::Unsupported { major: 1, minor: 29 }.to_string().contains("v1.30 to v1.37"));
    }

    #[test]
    fn removed_flags_are_known_per_minor() {
        assert_eq!(removed_in(Component::ApiServer, "insecure-port", 36), Some(24));
        assert_eq!(removed_in(Component::ApiServer, "audit-log-version", 31), None);
        assert_eq!(removed_in(Component::ApiServer, "secure-port", 37), None);
    }
}
