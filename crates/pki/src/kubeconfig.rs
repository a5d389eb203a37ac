//! kubeconfig (client-go `v1.Config`) rendering.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::PrivateKey;

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("string serializes")
}

/// Render a client-certificate kubeconfig.
///
/// One cluster (`cluster_name`), one user (`user_name`), one context named
/// `<user>@<cluster>` which is also the current context — the layout kubeadm
/// writes. Certificates and key are embedded base64 (`*-data` fields), the
/// key in the PEM form of [`PrivateKey::to_pem`]. Output is deterministic;
/// keys appear in the order `kubectl config view` prints them.
pub fn kubeconfig(
    cluster_name: &str,
    server_url: &str,
    ca_pem: &str,
    user_name: &str,
    client_cert_pem: &str,
    client_key: &PrivateKey,
) -> Zeroizing<String> {
    kubeconfig_with_key_pem(cluster_name, server_url, ca_pem, user_name, client_cert_pem, &client_key.to_pem())
}

/// [`kubeconfig`] with the client key already in PEM form (saves re-encoding a key used
/// several times).
pub fn kubeconfig_with_key_pem(
    cluster_name: &str,
    server_url: &str,
    ca_pem: &str,
    user_name: &str,
    client_cert_pem: &str,
    key_pem: &str,
) -> Zeroizing<String> {
    let context = format!("{user_name}@{cluster_name}");
    let key_b64 = Zeroizing::new(STANDARD.encode(key_pem.as_bytes()));
    let mut out = Zeroizing::new(String::with_capacity(1024 + ca_pem.len() * 2 + client_cert_pem.len() * 2 + key_b64.len()));
    out.push_str("apiVersion: v1\n");
    out.push_str("clusters:\n");
    out.push_str("- cluster:\n");
    out.push_str("    certificate-authority-data: ");
    out.push_str(&STANDARD.encode(ca_pem.as_bytes()));
    out.push_str("\n    server: ");
    out.push_str(&q(server_url));
    out.push_str("\n  name: ");
    out.push_str(&q(cluster_name));
    out.push_str("\ncontexts:\n");
    out.push_str("- context:\n");
    out.push_str("    cluster: ");
    out.push_str(&q(cluster_name));
    out.push_str("\n    user: ");
    out.push_str(&q(user_name));
    out.push_str("\n  name: ");
    out.push_str(&q(&context));
    out.push_str("\ncurrent-context: ");
    out.push_str(&q(&context));
    out.push_str("\nkind: Config\n");
    out.push_str("preferences: {}\n");
    out.push_str("users:\n");
    out.push_str("- name: ");
    out.push_str(&q(user_name));
    out.push_str("\n  user:\n");
    out.push_str("    client-certificate-data: ");
    out.push_str(&STANDARD.encode(client_cert_pem.as_bytes()));
    out.push_str("\n    client-key-data: ");
    out.push_str(&key_b64);
    out.push('\n');
    out
}
