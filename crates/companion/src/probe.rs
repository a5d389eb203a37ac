//! Talking to a tenant: its API client (from the admin kubeconfig Secret), the `/readyz`,
//! `/readyz/etcd`, `/version` and Node probes, and the certificates in their Secrets.
//!
//! Secrets are read by name (`get`), never listed or written. Their contents never reach a log, an
//! error or a status: problems name the Secret and key only.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{Api, ListParams};
use kube::client::Body;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::crd::{NodeCounts, RenderedControlPlaneSpec};
use crate::status::{CertificateInfo, CertificateProbe, Probe, ProbeResults, Problem};

/// Every probe of the tenant API gives up after this long.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Tenant API clients, one per tenant, rebuilt when the kubeconfig Secret's resourceVersion moves.
#[derive(Default)]
pub struct TenantClients {
    cache: Mutex<BTreeMap<(String, String), (String, Client)>>,
}

impl TenantClients {
    /// The client of tenant `namespace/name`, from the Secret its spec names.
    pub async fn client_for(
        &self,
        management: &Client,
        namespace: &str,
        name: &str,
        spec: &RenderedControlPlaneSpec,
    ) -> Result<Client, Problem> {
        let (secret_name, key) = match spec.admin_kubeconfig.as_ref() {
            Some(r) => match (r.secret.as_deref(), r.key.as_deref()) {
                (Some(s), Some(k)) if !s.is_empty() && !k.is_empty() => (s, k),
                _ => return Err(Problem::new("KubeconfigNotSpecified", "spec.adminKubeconfig names no Secret and key")),
            },
            None => return Err(Problem::new("KubeconfigNotSpecified", "spec.adminKubeconfig is missing")),
        };
        let secret = get_secret(management, namespace, secret_name).await?;
        let secret = secret.ok_or_else(|| Problem::new("SecretNotFound", format!("Secret {secret_name} not found")))?;
        let version = secret.metadata.resource_version.clone().unwrap_or_default();
        let cache_key = (namespace.to_string(), name.to_string());
        if let Some((cached_version, client)) = self.lock().get(&cache_key)
            && *cached_version == version
            && !version.is_empty()
        {
            return Ok(client.clone());
        }
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .ok_or_else(|| Problem::new("KubeconfigKeyMissing", format!("Secret {secret_name} has no key {key}")))?;
        let client = client_from_kubeconfig(&bytes.0, secret_name, key).await?;
        self.lock().insert(cache_key, (version, client.clone()));
        Ok(client)
    }

    /// Drops the client of one tenant.
    pub fn forget(&self, key: &(String, String)) {
        self.lock().remove(key);
    }

    /// Drops the clients of tenants not in `keep`.
    pub fn retain(&self, keep: &std::collections::BTreeSet<(String, String)>) {
        self.lock().retain(|k, _| keep.contains(k));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), (String, Client)>> {
        // A poisoned cache is still a valid cache.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn get_secret(client: &Client, namespace: &str, name: &str) -> Result<Option<Secret>, Problem> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    match tokio::time::timeout(PROBE_TIMEOUT * 2, api.get_opt(name)).await {
        Ok(Ok(secret)) => Ok(secret),
        Ok(Err(e)) => Err(Problem::new("SecretUnreadable", format!("Secret {name}: {}", api_error(&e)))),
        Err(_) => Err(Problem::new("SecretUnreadable", format!("Secret {name}: timed out"))),
    }
}

/// An API error's message without anything from the object's contents (the API server never echoes
/// Secret data; transport errors are cut to their first clause).
fn api_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => first_clause(&other.to_string()),
    }
}

/// The part of an error message before its first `:`, which for kube's errors is the kind of
/// failure without the detail (detail may quote the input).
fn first_clause(message: &str) -> String {
    message.split(':').next().unwrap_or(message).trim().to_string()
}

/// Refuses what would make the companion run a program, read its own files or use a proxy on
/// behalf of whoever wrote the Secret.
pub fn vet_kubeconfig(kubeconfig: &Kubeconfig) -> Result<(), &'static str> {
    for user in &kubeconfig.auth_infos {
        if let Some(auth) = &user.auth_info {
            if auth.exec.is_some() {
                return Err("an exec credential plugin");
            }
            if auth.auth_provider.is_some() {
                return Err("an auth provider");
            }
            if auth.token_file.is_some() || auth.client_certificate.is_some() || auth.client_key.is_some() {
                return Err("a credential file path");
            }
        }
    }
    for cluster in &kubeconfig.clusters {
        if let Some(c) = &cluster.cluster {
            if c.certificate_authority.is_some() {
                return Err("a certificate-authority file path");
            }
            if c.proxy_url.is_some() {
                return Err("a proxy");
            }
        }
    }
    Ok(())
}

/// A client for the tenant API from kubeconfig bytes, with short timeouts.
pub async fn client_from_kubeconfig(bytes: &[u8], secret: &str, key: &str) -> Result<Client, Problem> {
    let invalid = |what: &str| Problem::new("KubeconfigInvalid", format!("Secret {secret} key {key}: {what}"));
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8"))?;
    // The parser's message may quote the input: it is not passed on.
    let kubeconfig = Kubeconfig::from_yaml(text).map_err(|_| invalid("not a kubeconfig"))?;
    vet_kubeconfig(&kubeconfig).map_err(|what| {
        Problem::new(
            "KubeconfigRefused",
            format!("Secret {secret} key {key}: the kubeconfig uses {what}, which the companion does not follow"),
        )
    })?;
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| invalid(&first_clause(&e.to_string())))?;
    config.connect_timeout = Some(PROBE_TIMEOUT);
    config.read_timeout = Some(PROBE_TIMEOUT);
    config.write_timeout = Some(PROBE_TIMEOUT);
    Client::try_from(config).map_err(|e| invalid(&first_clause(&e.to_string())))
}

/// `GET path` on the tenant API: 200, another status, or why it could not be asked.
pub async fn http_probe(client: &Client, path: &str) -> Probe {
    let request = match http::Request::get(path).body(Body::from(Vec::new())) {
        Ok(r) => r,
        Err(_) => return Probe::Unavailable(Problem::new("ProbeInvalid", format!("GET {path}: bad request"))),
    };
    match tokio::time::timeout(PROBE_TIMEOUT, client.send(request)).await {
        Ok(Ok(response)) if response.status() == http::StatusCode::OK => Probe::Ok,
        Ok(Ok(response)) => Probe::Status(response.status().as_u16()),
        Ok(Err(e)) => Probe::Unavailable(Problem::new("ApiServerUnreachable", format!("GET {path}: {}", api_error(&e)))),
        Err(_) => Probe::Unavailable(Problem::new("ProbeTimeout", format!("GET {path} timed out after {}s", PROBE_TIMEOUT.as_secs()))),
    }
}

/// Probes the tenant API: `/readyz` first; when it answers, `/readyz/etcd`, `/version` and the
/// Nodes at once. `certificates` are passed through.
pub async fn probe_tenant(client: &Client, certificates: Vec<CertificateProbe>) -> ProbeResults {
    let readyz = http_probe(client, "/readyz").await;
    if let Probe::Unavailable(problem) = readyz {
        return ProbeResults::unavailable(problem, certificates);
    }
    let version = async {
        match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
            Ok(Ok(info)) => Some(info.git_version),
            _ => None,
        }
    };
    let nodes = async {
        let api: Api<Node> = Api::all(client.clone());
        match tokio::time::timeout(PROBE_TIMEOUT, api.list(&ListParams::default())).await {
            Ok(Ok(list)) => Some(count_nodes(&list.items)),
            _ => None,
        }
    };
    let jwks = async {
        let request = http::Request::get("/openid/v1/jwks").body(Vec::new()).ok()?;
        let keys: serde_json::Value = tokio::time::timeout(PROBE_TIMEOUT, client.request(request)).await.ok()?.ok()?;
        keys["keys"].as_array().map(|k| saturate(k.len()))
    };
    let (etcd, version, nodes, service_account_keys) = tokio::join!(http_probe(client, "/readyz/etcd"), version, nodes, jwks);
    ProbeResults { readyz, etcd, version, nodes, service_account_keys, certificates }
}

/// Ready = the Node's `Ready` condition is `True`.
pub fn count_nodes(nodes: &[Node]) -> NodeCounts {
    let ready = nodes
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count();
    NodeCounts { ready: saturate(ready), total: saturate(nodes.len()) }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Reads every certificate the spec lists with a Secret and key, each Secret once. A certificate
/// without one is kept in Git only (`super-admin.conf`, which tcpc never puts in the cluster):
/// there is nothing to observe, `tcpc check` watches its `notAfter` in the lock.
pub async fn read_certificates(client: &Client, namespace: &str, spec: &RenderedControlPlaneSpec) -> Vec<CertificateProbe> {
    let mut secrets: BTreeMap<String, Result<Option<Secret>, Problem>> = BTreeMap::new();
    let all = spec.all_certificates();
    let mut out = Vec::with_capacity(all.len());
    for cert in &all {
        let (secret_name, key) = match (cert.secret.as_deref(), cert.key.as_deref()) {
            (Some(s), Some(k)) if !s.is_empty() && !k.is_empty() => (s, k),
            _ => continue,
        };
        let name = cert.name.clone().unwrap_or_else(|| format!("{secret_name}/{key}"));
        if !secrets.contains_key(secret_name) {
            let got = get_secret(client, namespace, secret_name).await;
            secrets.insert(secret_name.to_string(), got);
        }
        let result = match &secrets[secret_name] {
            Err(problem) => Err(problem.clone()),
            Ok(None) => Err(Problem::new("SecretNotFound", format!("Secret {secret_name} not found"))),
            Ok(Some(secret)) => match secret.data.as_ref().and_then(|d| d.get(key)) {
                None => Err(Problem::new("CertificateKeyMissing", format!("Secret {secret_name} has no key {key}"))),
                Some(bytes) => kubeconfig_client_certificate(&bytes.0)
                    .map_or_else(|| parse_certificate(&bytes.0), |pem| parse_certificate(&pem))
                    .map_err(|what| Problem::new("CertificateUnreadable", format!("Secret {secret_name} key {key}: {what}"))),
            },
        };
        out.push(CertificateProbe { name, result });
    }
    out
}

/// A kubeconfig's client certificate (`client-certificate-data`, base64 of a PEM): the
/// certificate of a `*.conf` key (`admin.conf`, `scheduler.conf`, …). `None` for anything else.
pub fn kubeconfig_client_certificate(text: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(text).ok()?;
    let b64 = text.lines().find_map(|l| l.trim().strip_prefix("client-certificate-data:"))?;
    base64::engine::general_purpose::STANDARD.decode(b64.trim().trim_matches('"')).ok()
}

/// The validity and serial of the first certificate of a PEM bundle.
pub fn parse_certificate(pem: &[u8]) -> Result<CertificateInfo, &'static str> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|_| "not a PEM certificate")?;
    if pem.label != "CERTIFICATE" {
        return Err("not a PEM certificate");
    }
    let cert = pem.parse_x509().map_err(|_| "not an X.509 certificate")?;
    let validity = cert.validity();
    let time = |t: i64| Timestamp::from_second(t).map_err(|_| "validity out of range");
    Ok(CertificateInfo {
        not_before: time(validity.not_before.timestamp())?,
        not_after: time(validity.not_after.timestamp())?,
        serial: serial_hex(cert.raw_serial()),
    })
}

/// Upper-case hex without leading zero bytes, as `openssl x509 -serial` prints it.
pub fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    let hex: String = raw[start..].iter().map(|b| format!("{b:02X}")).collect();
    if hex.is_empty() { "00".to_string() } else { hex }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// `openssl req -x509 -newkey ec … -days 30 -set_serial 0x00ab12cd` (public certificate only).
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIEAKsSzTAKBggqhkjOPQQDAjAZMRcwFQYDVQQDDA5rdWJl
LWFwaXNlcnZlcjAeFw0yNjEyMDQwNzI1NTdaFw0yNzAxMDMwNzI1NTdaMBkxFzAV
BgNVBAMMDmt1YmUtYXBpc2VydmVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
zKM0vwpDG38dh95Lsc6iOIFKOl0vIPd9bS2s1iclX2LQwBI989tuQC84ufxvG08U
m2iFSH6nIC/fPFL5Wk7wc6NTMFEwHQYDVR0OBBYEFOz9jVk4iztv+HtKDX+R0SE3
ww6FMB8GA1UdIwQYMBaAFOz9jVk4iztv+HtKDX+R0SE3ww6FMA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhALIKm5nzokrYiBs4tJt2zBIy79HxPwJ9
DM+gXAW0OeK0AiAgFKhnzelXdgFWxgI9GqQPqmoe4FrEvWY44Vie6qdYmQ==
-----END CERTIFICATE-----
";

    #[test]
    fn reads_the_client_certificate_of_a_kubeconfig() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(CERT);
        let conf = format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-certificate-data: {b64}\n    client-key-data: eA==\n"
        );
        let pem = kubeconfig_client_certificate(conf.as_bytes()).unwrap();
        assert_eq!(parse_certificate(&pem).unwrap().serial, "AB12CD");
        assert!(kubeconfig_client_certificate(CERT.as_bytes()).is_none(), "a PEM is not a kubeconfig");
    }

    #[test]
    fn parses_validity_and_serial_like_openssl() {
        let info = parse_certificate(CERT.as_bytes()).unwrap();
        assert_eq!(info.serial, "AB12CD");
        assert_eq!(info.not_before, "2026-12-04T07:25:57Z".parse::<Timestamp>().unwrap());
        assert_eq!(info.not_after, "2027-01-03T07:25:57Z".parse::<Timestamp>().unwrap());
        // A bundle: the first certificate counts.
        let bundle = format!("{CERT}{CERT}");
        assert_eq!(parse_certificate(bundle.as_bytes()).unwrap().serial, "AB12CD");
    }

    #[test]
    fn bad_pem_is_an_error_not_a_panic() {
        // a PEM of another label (built here: no key-shaped literal in the tree)
        let other_label = format!("-----BEGIN {0}-----\nAAAA\n-----END {0}-----\n", ["PRIVATE", "KEY"].join(" "));
        for input in [
            &b""[..],
            b"hello",
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            other_label.as_bytes(),
            &[0xff, 0xfe, 0x00, 0x30, 0x82],
        ] {
            assert!(parse_certificate(input).is_err());
        }
        let truncated = &CERT.as_bytes()[..CERT.len() / 2];
        assert!(parse_certificate(truncated).is_err());
    }

    #[test]
    fn serial_hex_strips_leading_zeros() {
        assert_eq!(serial_hex(&[0x00, 0xab, 0x01]), "AB01");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "00");
        assert_eq!(serial_hex(&[0x7f, 0x00]), "7F00");
    }

    fn kubeconfig(user: &str, cluster_extra: &str) -> String {
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: t
  cluster:
    server: https://full.tenant-a.svc:6443
    certificate-authority-data: {ca}
{cluster_extra}
users:
- name: admin
  user:
{user}
contexts:
- name: t
  context: {{cluster: t, user: admin}}
current-context: t
",
            ca = base64::engine::general_purpose::STANDARD.encode(CERT.as_bytes())
        )
    }

    #[tokio::test]
    async fn builds_a_client_from_a_token_kubeconfig() {
        let text = kubeconfig("    token: not-a-real-token", "");
        let client = client_from_kubeconfig(text.as_bytes(), "full-admin-kubeconfig", "admin.svc").await;
        assert!(client.is_ok(), "{:?}", client.err());
    }

    #[tokio::test]
    async fn refuses_exec_files_and_proxies() {
        let cases = [
            kubeconfig("    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}", ""),
            kubeconfig("    client-certificate: /etc/passwd\n    client-key: /etc/shadow", ""),
            kubeconfig("    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token", ""),
            kubeconfig("    token: x", "    proxy-url: http://127.0.0.1:3128"),
        ];
        for text in cases {
            let err = client_from_kubeconfig(text.as_bytes(), "s", "k").await.err().expect("refused");
            assert_eq!(err.reason, "KubeconfigRefused", "{}", err.message);
        }
    }

    #[tokio::test]
    async fn malformed_kubeconfigs_are_problems_that_do_not_quote_the_input() {
        let secret_looking = "c2VjcmV0LWtleS1tYXRlcmlhbA";
        let cases: Vec<Vec<u8>> = vec![
            vec![0xff, 0xfe],
            format!("clusters: [{secret_looking}").into_bytes(),
            format!("users: {secret_looking}").into_bytes(),
            b"apiVersion: v1\nkind: Config\n".to_vec(),
            kubeconfig("    token: x", "").replace("https://full.tenant-a.svc:6443", "::not a url::").into_bytes(),
        ];
        for bytes in cases {
            let err = client_from_kubeconfig(&bytes, "full-admin-kubeconfig", "admin.svc").await.err().expect("error");
            assert!(err.reason.starts_with("Kubeconfig"), "{err:?}");
            assert!(err.message.contains("full-admin-kubeconfig"));
            assert!(!err.message.contains(secret_looking), "{err:?}");
        }
    }

    #[test]
    fn counts_ready_nodes() {
        let node = |ready: Option<&str>| {
            let mut n: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": "n"}})).unwrap();
            if let Some(status) = ready {
                n = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": "n"},
                    "status": {"conditions": [
                        {"type": "MemoryPressure", "status": "False"},
                        {"type": "Ready", "status": status}
                    ]}
                }))
                .unwrap();
            }
            n
        };
        let nodes = [node(Some("True")), node(Some("False")), node(Some("Unknown")), node(None), node(Some("True"))];
        assert_eq!(count_nodes(&nodes), NodeCounts { ready: 2, total: 5 });
        assert_eq!(count_nodes(&[]), NodeCounts { ready: 0, total: 0 });
    }
}
