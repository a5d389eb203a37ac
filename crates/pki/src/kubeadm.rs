//! The tenant control plane certificate set (kubeadm-equivalent, with
//! Kamaji's additions).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    CertKind, CertSpec, DEFAULT_CA_VALIDITY_DAYS, DEFAULT_LEAF_VALIDITY_DAYS, Error, Issued, Issuer, KeyAlgorithm, PrivateKey, Rng,
    Validity, issue, self_signed_ca,
};

/// Group bound to `cluster-admin` by kubeadm (≥ 1.29) via the
/// `kubeadm:cluster-admins` ClusterRoleBinding.
pub const CLUSTER_ADMINS_GROUP: &str = "kubeadm:cluster-admins";
/// The superuser group that bypasses RBAC.
pub const MASTERS_GROUP: &str = "system:masters";

/// One artefact of the tenant PKI. The declaration order (also the `Ord`
/// order, hence the iteration order of the maps below) puts every CA before
/// the certificates it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Artefact {
    /// `ca`: the cluster CA (self-signed).
    Ca,
    /// `front-proxy-ca`: the aggregation-layer CA (self-signed).
    FrontProxyCa,
    /// `etcd-ca`: the CA of a tenant's dedicated etcd (self-signed); it also signs
    /// `datastore-client` then.
    EtcdCa,
    /// `apiserver`: kube-apiserver serving cert (ca).
    Apiserver,
    /// `apiserver-kubelet-client`: kube-apiserver → kubelet client cert (ca).
    ApiserverKubeletClient,
    /// `front-proxy-client`: aggregation-layer client cert (front-proxy-ca).
    FrontProxyClient,
    /// `datastore-client`: kube-apiserver → DataStore client cert (datastore CA).
    DatastoreClient,
    /// `admin`: `admin.conf` client cert (ca).
    Admin,
    /// `super-admin`: `super-admin.conf` client cert (ca).
    SuperAdmin,
    /// `controller-manager`: `controller-manager.conf` client cert (ca).
    ControllerManager,
    /// `scheduler`: `scheduler.conf` client cert (ca).
    Scheduler,
    /// `konnectivity`: konnectivity-server kubeconfig client cert (ca).
    Konnectivity,
    /// `etcd-server`: the dedicated etcd's serving cert (etcd-ca), also its client cert for
    /// its own health checks, as kubeadm's `etcd/server`.
    EtcdServer,
    /// `etcd-peer`: the dedicated etcd members' peer cert (etcd-ca), server and client.
    EtcdPeer,
    /// `sa`: service-account signing key pair (`sa.key` / `sa.pub`), no certificate.
    Sa,
}

/// Who signs an artefact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IssuerRef {
    /// Self-signed CA.
    SelfSigned,
    /// The cluster CA ([`Artefact::Ca`]).
    Ca,
    /// The front-proxy CA ([`Artefact::FrontProxyCa`]).
    FrontProxyCa,
    /// The DataStore's CA, owned by the DataStore and passed in by the caller (a dedicated
    /// etcd's DataStore CA is [`Artefact::EtcdCa`]).
    DatastoreCa,
    /// The tenant's dedicated etcd CA ([`Artefact::EtcdCa`]).
    EtcdCa,
    /// Not a certificate (the `sa` key pair).
    None,
}

impl Artefact {
    /// Every artefact, in issuance order.
    pub const ALL: [Artefact; 15] = [
        Artefact::Ca,
        Artefact::FrontProxyCa,
        Artefact::EtcdCa,
        Artefact::Apiserver,
        Artefact::ApiserverKubeletClient,
        Artefact::FrontProxyClient,
        Artefact::DatastoreClient,
        Artefact::Admin,
        Artefact::SuperAdmin,
        Artefact::ControllerManager,
        Artefact::Scheduler,
        Artefact::Konnectivity,
        Artefact::EtcdServer,
        Artefact::EtcdPeer,
        Artefact::Sa,
    ];

    /// Kubeadm-style base name (`apiserver-kubelet-client`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Artefact::Ca => "ca",
            Artefact::FrontProxyCa => "front-proxy-ca",
            Artefact::Apiserver => "apiserver",
            Artefact::ApiserverKubeletClient => "apiserver-kubelet-client",
            Artefact::FrontProxyClient => "front-proxy-client",
            Artefact::DatastoreClient => "datastore-client",
            Artefact::Admin => "admin",
            Artefact::SuperAdmin => "super-admin",
            Artefact::ControllerManager => "controller-manager",
            Artefact::Scheduler => "scheduler",
            Artefact::Konnectivity => "konnectivity",
            Artefact::EtcdCa => "etcd-ca",
            Artefact::EtcdServer => "etcd-server",
            Artefact::EtcdPeer => "etcd-peer",
            Artefact::Sa => "sa",
        }
    }

    /// Who signs this artefact.
    pub fn issuer(self) -> IssuerRef {
        match self {
            Artefact::Ca | Artefact::FrontProxyCa | Artefact::EtcdCa => IssuerRef::SelfSigned,
            Artefact::EtcdServer | Artefact::EtcdPeer => IssuerRef::EtcdCa,
            Artefact::FrontProxyClient => IssuerRef::FrontProxyCa,
            Artefact::DatastoreClient => IssuerRef::DatastoreCa,
            Artefact::Sa => IssuerRef::None,
            _ => IssuerRef::Ca,
        }
    }

    /// For the kubeconfig client certs: the kubeconfig user name (the CN, as
    /// kubeadm names users) and file name.
    pub fn kubeconfig(self) -> Option<(&'static str, &'static str)> {
        match self {
            Artefact::Admin => Some(("kubernetes-admin", "admin.conf")),
            Artefact::SuperAdmin => Some(("kubernetes-super-admin", "super-admin.conf")),
            Artefact::ControllerManager => Some(("system:kube-controller-manager", "controller-manager.conf")),
            Artefact::Scheduler => Some(("system:kube-scheduler", "scheduler.conf")),
            Artefact::Konnectivity => Some(("system:konnectivity-server", "konnectivity-server.conf")),
            _ => None,
        }
    }
}

impl fmt::Display for Artefact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Artefact {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Artefact::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| Error::InvalidSpec(format!("unknown PKI artefact {s:?}")))
    }
}

impl From<Artefact> for &'static str {
    fn from(a: Artefact) -> Self {
        a.as_str()
    }
}

impl TryFrom<String> for Artefact {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

/// Inputs that determine the tenant certificate set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantPkiParams {
    /// TenantControlPlane name (`<tcp>`).
    pub cluster_name: String,
    /// Namespace of the TenantControlPlane in the management cluster (`<ns>`).
    pub namespace: String,
    /// DNS names of the management-cluster Service fronting the API server:
    /// `<tcp>`, `<tcp>.<ns>`, `<tcp>.<ns>.svc`, `<tcp>.<ns>.svc.<mgmt domain>`.
    /// See [`TenantPkiParams::management_service_dns_names`].
    #[serde(default)]
    pub service_dns_names: Vec<String>,
    /// The tenant cluster's DNS domain (kubeadm `networking.dnsDomain`, e.g. `cluster.local`).
    pub cluster_domain: String,
    /// First IP of each tenant Service CIDR (the `kubernetes` Service ClusterIP).
    #[serde(default)]
    pub service_ips: Vec<IpAddr>,
    /// Address the API server advertises (`--advertise-address`).
    #[serde(default)]
    pub advertise_address: Option<IpAddr>,
    /// Host (IP or DNS name, no port) clients use to reach the control plane.
    #[serde(default)]
    pub endpoint_host: Option<String>,
    /// Extra apiserver SANs; each an IP or a (possibly wildcard) DNS name.
    #[serde(default)]
    pub cert_sans: Vec<String>,
    /// Key algorithm for every key (CA, leaves, `sa`).
    #[serde(default)]
    pub key_algorithm: KeyAlgorithm,
    /// Lifetime of leaves.
    pub leaf_validity: Validity,
    /// Lifetime of the self-signed CAs.
    pub ca_validity: Validity,
    /// DataStore user (CN of `datastore-client`); `None` = no datastore client cert.
    #[serde(default)]
    pub datastore_user: Option<String>,
    /// A dedicated etcd: the DNS names its members serve and peer on. `Some` adds `etcd-ca`,
    /// `etcd-server` and `etcd-peer`, and `etcd-ca` signs `datastore-client`.
    #[serde(default)]
    pub dedicated_etcd: Option<Vec<String>>,
}

impl TenantPkiParams {
    /// Parameters with kubeadm defaults (ECDSA-P256, 1 year leaves, 10 year
    /// CAs, `cluster.local`) and the management Service names derived for a
    /// management cluster domain of `cluster.local`.
    pub fn new(cluster_name: impl Into<String>, namespace: impl Into<String>) -> Self {
        let cluster_name = cluster_name.into();
        let namespace = namespace.into();
        TenantPkiParams {
            service_dns_names: Self::management_service_dns_names(&cluster_name, &namespace, "cluster.local"),
            cluster_name,
            namespace,
            cluster_domain: "cluster.local".into(),
            service_ips: vec![],
            advertise_address: None,
            endpoint_host: None,
            cert_sans: vec![],
            key_algorithm: KeyAlgorithm::default(),
            leaf_validity: Validity::Days(DEFAULT_LEAF_VALIDITY_DAYS),
            ca_validity: Validity::Days(DEFAULT_CA_VALIDITY_DAYS),
            datastore_user: None,
            dedicated_etcd: None,
        }
    }

    /// `<tcp>`, `<tcp>.<ns>`, `<tcp>.<ns>.svc`, `<tcp>.<ns>.svc.<mgmt_domain>`.
    pub fn management_service_dns_names(tcp: &str, ns: &str, mgmt_domain: &str) -> Vec<String> {
        vec![tcp.to_string(), format!("{tcp}.{ns}"), format!("{tcp}.{ns}.svc"), format!("{tcp}.{ns}.svc.{mgmt_domain}")]
    }

    fn apiserver_sans(&self) -> Result<(Vec<String>, Vec<IpAddr>), Error> {
        let (tcp, ns) = (&self.cluster_name, &self.namespace);
        // kubeadm GetAPIServerAltNames: kubernetes.default.svc.<dnsDomain> & co.
        let mut dns = vec![
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
            format!("kubernetes.default.svc.{}", self.cluster_domain),
            // Kamaji's additions.
            "localhost".to_string(),
            tcp.clone(),
            format!("{tcp}.{ns}.svc"),
            format!("{tcp}.{ns}.svc.cluster.local"),
        ];
        dns.extend(self.service_dns_names.iter().cloned());
        let mut ips: Vec<IpAddr> = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        ips.extend(self.service_ips.iter().copied());
        ips.extend(self.advertise_address);
        let extra = self.endpoint_host.iter().chain(self.cert_sans.iter());
        for san in extra {
            let san = san.trim();
            if let Ok(ip) = san.parse::<IpAddr>() {
                ips.push(ip);
            } else if is_dns_name(san) {
                dns.push(san.to_string());
            } else {
                return Err(Error::InvalidSpec(format!("apiserver SAN {san:?} is neither an IP address nor an RFC 1123 DNS name")));
            }
        }
        Ok((dns, ips))
    }
}

/// RFC 1123 subdomain, optionally with a leading `*.` label.
fn is_dns_name(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The tenant certificate set (everything but `sa`, which is a bare key
/// pair), keyed and ordered by [`Artefact`]. `datastore-client` is present
/// only when `datastore_user` is set.
///
/// | artefact | CN | O | usage | issuer |
/// |---|---|---|---|---|
/// | ca | kubernetes | | CA | self |
/// | front-proxy-ca | front-proxy-ca | | CA | self |
/// | apiserver | kube-apiserver | | server | ca |
/// | apiserver-kubelet-client | kube-apiserver-kubelet-client | (none, as kubeadm ≥ 1.32) | client | ca |
/// | front-proxy-client | front-proxy-client | | client | front-proxy-ca |
/// | datastore-client | *datastore user* | | client | datastore CA (etcd-ca if dedicated) |
/// | admin | kubernetes-admin | kubeadm:cluster-admins | client | ca |
/// | super-admin | kubernetes-super-admin | system:masters | client | ca |
/// | controller-manager | system:kube-controller-manager | | client | ca |
/// | scheduler | system:kube-scheduler | | client | ca |
/// | konnectivity | system:konnectivity-server | | client | ca |
/// | etcd-ca (dedicated etcd) | etcd-ca | | CA | self |
/// | etcd-server, etcd-peer (dedicated etcd) | first etcd name | | server + client | etcd-ca |
pub fn tenant_cert_specs(p: &TenantPkiParams) -> Result<BTreeMap<Artefact, CertSpec>, Error> {
    let alg = p.key_algorithm;
    let client = |cn: &str, org: Option<&str>| {
        CertSpec::leaf(cn, org.into_iter().map(str::to_string).collect(), CertKind::Client, vec![], vec![], alg)
            .with_validity(p.leaf_validity)
    };
    let (dns, ips) = p.apiserver_sans()?;
    let mut m = BTreeMap::new();
    m.insert(Artefact::Ca, CertSpec::ca("kubernetes", alg).with_validity(p.ca_validity));
    m.insert(Artefact::FrontProxyCa, CertSpec::ca("front-proxy-ca", alg).with_validity(p.ca_validity));
    m.insert(Artefact::Apiserver, CertSpec::leaf("kube-apiserver", vec![], CertKind::Server, dns, ips, alg).with_validity(p.leaf_validity));
    // kubeadm ≥ 1.32 (checked against v1.36.3) issues this cert without an
    // O and authorizes the user through the `kubeadm:kubelet-api-admin`
    // ClusterRoleBinding (User kube-apiserver-kubelet-client → ClusterRole
    // system:kubelet-api-admin); the tenant needs that binding.
    m.insert(Artefact::ApiserverKubeletClient, client("kube-apiserver-kubelet-client", None));
    m.insert(Artefact::FrontProxyClient, client("front-proxy-client", None));
    if let Some(user) = &p.datastore_user {
        m.insert(Artefact::DatastoreClient, client(user, None));
    }
    m.insert(Artefact::Admin, client("kubernetes-admin", Some(CLUSTER_ADMINS_GROUP)));
    m.insert(Artefact::SuperAdmin, client("kubernetes-super-admin", Some(MASTERS_GROUP)));
    m.insert(Artefact::ControllerManager, client("system:kube-controller-manager", None));
    m.insert(Artefact::Scheduler, client("system:kube-scheduler", None));
    m.insert(Artefact::Konnectivity, client("system:konnectivity-server", None));
    if let Some(names) = &p.dedicated_etcd {
        // kubeadm's etcd/server and etcd/peer: both usages, localhost included (etcd's own
        // health checks and etcdctl inside the pod dial 127.0.0.1).
        let mut dns = vec!["localhost".to_string()];
        for n in names {
            if !is_dns_name(n) {
                return Err(Error::InvalidSpec(format!("etcd SAN {n:?} is not an RFC 1123 DNS name")));
            }
            dns.push(n.clone());
        }
        let ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)];
        let cn = names.first().cloned().unwrap_or_else(|| "etcd".into());
        let both =
            |cn: &str| CertSpec::leaf(cn, vec![], CertKind::ServerAndClient, dns.clone(), ips.clone(), alg).with_validity(p.leaf_validity);
        m.insert(Artefact::EtcdCa, CertSpec::ca("etcd-ca", alg).with_validity(p.ca_validity));
        m.insert(Artefact::EtcdServer, both(&cn));
        m.insert(Artefact::EtcdPeer, both(&cn));
    }
    Ok(m)
}

/// A freshly issued tenant PKI.
#[derive(Debug, Clone)]
pub struct TenantPki {
    /// Certificates and keys by artefact (no `sa`).
    pub certs: BTreeMap<Artefact, Issued>,
    /// The service-account signing key (`sa.key`; `sa.pub` is its
    /// [`PrivateKey::public_key_pem`]).
    pub sa: PrivateKey,
}

/// Issue the whole set from scratch: both CAs, every leaf, and `sa`.
///
/// `datastore_ca` signs `datastore-client`; it is required when
/// `datastore_user` is set. For partial re-issuance, use
/// [`tenant_cert_specs`] with [`crate::issue`] directly.
pub fn issue_tenant_pki(
    p: &TenantPkiParams,
    datastore_ca: Option<&Issuer>,
    now: OffsetDateTime,
    rng: &mut impl Rng,
) -> Result<TenantPki, Error> {
    let specs = tenant_cert_specs(p)?;
    let mut certs = BTreeMap::new();
    let mut ca = None;
    let mut fp_ca = None;
    let mut etcd_ca = None;
    for (a, spec) in &specs {
        let issued = match a.issuer() {
            IssuerRef::SelfSigned => {
                let i = self_signed_ca(spec, None, now, rng)?;
                match a {
                    Artefact::Ca => ca = Some(i.to_issuer()?),
                    Artefact::EtcdCa => etcd_ca = Some(i.to_issuer()?),
                    _ => fp_ca = Some(i.to_issuer()?),
                }
                i
            }
            IssuerRef::Ca => issue(spec, None, ca.as_ref().expect("ca first"), now, rng)?,
            IssuerRef::FrontProxyCa => issue(spec, None, fp_ca.as_ref().expect("fp ca first"), now, rng)?,
            IssuerRef::DatastoreCa => {
                let dca = etcd_ca
                    .as_ref()
                    .or(datastore_ca)
                    .ok_or_else(|| Error::InvalidSpec("datastore_user is set but no DataStore CA was provided".into()))?;
                issue(spec, None, dca, now, rng)?
            }
            IssuerRef::EtcdCa => issue(spec, None, etcd_ca.as_ref().expect("etcd ca first"), now, rng)?,
            IssuerRef::None => continue,
        };
        certs.insert(*a, issued);
    }
    let sa = PrivateKey::generate(p.key_algorithm, rng)?;
    Ok(TenantPki { certs, sa })
}
