//! `tcpc join-command --create-token`: a bootstrap token created in the tenant through its API
//! server, like `kubeadm token create --print-join-command`.
//!
//! IO edge: reads a kubeconfig, makes one HTTPS request. The token exists only in zeroizing
//! buffers, the request body and stdout; no error message, log line or file ever holds it
//! (responses are reduced to their HTTP status and the API server's `Status.message`, which
//! never echoes a Secret's data).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use zeroize::Zeroizing;

/// How to reach and authenticate to one API server, from a kubeconfig's current context.
pub struct Access {
    pub server: String,
    /// PEM of the CA bundle to verify the server with (`None`: the kubeconfig names none).
    pub ca_pem: Option<Vec<u8>>,
    client_cert_pem: Option<Vec<u8>>,
    client_key_pem: Option<Zeroizing<Vec<u8>>>,
    bearer: Option<Zeroizing<String>>,
}

/// Reads the current context of the kubeconfig at `path` (`*-data` fields, or files relative
/// to the kubeconfig, as kubectl resolves them).
pub fn read_kubeconfig(path: &Path) -> Result<Access, String> {
    let shown = path.display();
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("reading kubeconfig {shown}: {e}"))?);
    let docs = tcpc_yaml::parse_stream(&text).map_err(|e| format!("{shown}:{}: not a kubeconfig: {}", e.span.start.line, e.message))?;
    let Some(doc) = docs.first() else { return Err(format!("{shown}: empty kubeconfig")) };
    let v = doc.root.to_json();
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let named = |list: &str, name: &str| -> Option<Value> {
        v.get(list)?.as_array()?.iter().find(|e| e.get("name").and_then(Value::as_str) == Some(name)).cloned()
    };
    let context =
        v.get("current-context").and_then(Value::as_str).filter(|c| !c.is_empty()).ok_or_else(|| format!("{shown}: no current-context"))?;
    let ctx = named("contexts", context)
        .and_then(|c| c.get("context").cloned())
        .ok_or_else(|| format!("{shown}: context `{context}` is not defined"))?;
    let field = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    let cluster_name = field(&ctx, "cluster").ok_or_else(|| format!("{shown}: context `{context}` names no cluster"))?;
    let cluster = named("clusters", &cluster_name)
        .and_then(|c| c.get("cluster").cloned())
        .ok_or_else(|| format!("{shown}: cluster `{cluster_name}` is not defined"))?;
    let user = match field(&ctx, "user") {
        Some(u) => named("users", &u).and_then(|c| c.get("user").cloned()).ok_or_else(|| format!("{shown}: user `{u}` is not defined"))?,
        None => Value::Null,
    };
    let server = field(&cluster, "server").ok_or_else(|| format!("{shown}: cluster `{cluster_name}` has no server"))?;
    if !server.starts_with("https://") {
        return Err(format!("{shown}: server `{server}` is not https: a bootstrap token is never sent in clear text"));
    }
    let material = |o: &Value, data_key: &str, file_key: &str| -> Result<Option<Vec<u8>>, String> {
        if let Some(d) = field(o, data_key) {
            return base64::engine::general_purpose::STANDARD
                .decode(d.trim())
                .map(Some)
                .map_err(|_| format!("{shown}: `{data_key}` is not base64"));
        }
        match field(o, file_key) {
            Some(f) => {
                let p: PathBuf = base.join(f);
                std::fs::read(&p).map(Some).map_err(|e| format!("{shown}: reading {file_key} {}: {e}", p.display()))
            }
            None => Ok(None),
        }
    };
    let bearer = match (field(&user, "token"), field(&user, "tokenFile")) {
        (Some(t), _) => Some(Zeroizing::new(t)),
        (None, Some(f)) => Some(Zeroizing::new(
            std::fs::read_to_string(base.join(&f)).map_err(|e| format!("{shown}: reading tokenFile {f}: {e}"))?.trim().to_owned(),
        )),
        (None, None) => None,
    };
    Ok(Access {
        server: server.trim_end_matches('/').to_owned(),
        ca_pem: material(&cluster, "certificate-authority-data", "certificate-authority")?,
        client_cert_pem: material(&user, "client-certificate-data", "client-certificate")?,
        client_key_pem: material(&user, "client-key-data", "client-key")?.map(Zeroizing::new),
        bearer,
    })
}

/// What became of the create request.
pub enum Created {
    Yes,
    /// A Secret of that name exists (a token id collision: draw another).
    AlreadyExists,
}

/// POSTs the Secret `body` (JSON) to `kube-system` of the API server `access` names. `secret`
/// is scrubbed from whatever the server answers, should a message ever echo it.
pub fn create_secret(access: &Access, body: &str, secret: &str) -> Result<Created, String> {
    use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};
    let server = &access.server;
    let mut tls = TlsConfig::builder();
    if let Some(ca) = &access.ca_pem {
        let roots: Vec<Certificate<'static>> = ureq::tls::parse_pem(ca)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if roots.is_empty() {
            return Err("the kubeconfig's certificate authority holds no PEM certificate".into());
        }
        tls = tls.root_certs(RootCerts::Specific(Arc::new(roots)));
    }
    if let (Some(cert), Some(key)) = (&access.client_cert_pem, &access.client_key_pem) {
        let chain: Vec<Certificate<'static>> = ureq::tls::parse_pem(cert)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        let key = PrivateKey::from_pem(key).map_err(|_| "the kubeconfig's client key is not a PEM private key".to_string())?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls.build())
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{server}/api/v1/namespaces/kube-system/secrets");
    let mut request = agent.post(&url).header("Content-Type", "application/json").header("Accept", "application/json");
    let auth;
    if let Some(b) = &access.bearer {
        auth = Zeroizing::new(format!("Bearer {}", b.as_str()));
        request = request.header("Authorization", auth.as_str());
    }
    let mut response = request.send(body.as_bytes()).map_err(|e| format!("cannot reach the tenant API server {server}: {e}"))?;
    let status = response.status().as_u16();
    if status == 201 {
        return Ok(Created::Yes);
    }
    if status == 409 {
        return Ok(Created::AlreadyExists);
    }
    let message = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
        .replace(secret, "<redacted>");
    let hint = match status {
        401 => " (the kubeconfig's credentials are not accepted: is it this tenant's?)",
        403 => " (the kubeconfig's user may not create Secrets in kube-system: use the tenant's admin kubeconfig)",
        _ => "",
    };
    Err(format!("the tenant API server {server} refused the bootstrap token Secret: HTTP {status} {message}{hint}"))
}
