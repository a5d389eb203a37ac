//! `tcpc init [DIR]`: a new repository — `tcpc.yaml` with every setting at its default,
//! a `.gitignore` that keeps keys and identities out of Git, an example TenantControlPlane
//! and DataStore — and what to do next.

use std::path::Path;

/// Patterns that keep private keys and age identities out of Git.
pub const GITIGNORE: &[&str] = &["*.key", "*-key.pem", "*.agekey", "*identity*.txt", "keys.txt"];

const EXAMPLE_TENANT: &str = "\
# A TenantControlPlane, written as for Kamaji. `tcpc render` turns it into the control plane's
# Deployment, Service and SealedSecrets (rendered/<namespace>/<name>/management/) and what its
# worker nodes need to join (rendered/<namespace>/<name>/tenant/).
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: example
  namespace: tenants
spec:
  controlPlane:
    deployment:
      replicas: 2
    service:
      serviceType: ClusterIP
  kubernetes:
    version: v1.36.3
    kubelet:
      cgroupfs: systemd
  networkProfile:
    serviceCidr: 10.96.0.0/16
    podCidr: 10.244.0.0/16
";

const EXAMPLE_DATASTORE: &str = "\
# The etcd of the management cluster that stores the tenants' data. Its CA key is never
# written here: `tcpc import datastore-ca default --cert etcd-ca.crt --key etcd-ca.key`
# stores it age-encrypted under .tcpc/state/.
apiVersion: kamaji.clastix.io/v1alpha1
kind: DataStore
metadata:
  name: default
spec:
  driver: etcd
  endpoints:
  - etcd-0.etcd.kamaji-system.svc.cluster.local:2379
  - etcd-1.etcd.kamaji-system.svc.cluster.local:2379
  - etcd-2.etcd.kamaji-system.svc.cluster.local:2379
  tlsConfig:
    certificateAuthority:
      certificate:
        secretReference:
          name: etcd-certs
          namespace: kamaji-system
          keyPath: ca.crt
";

/// `tcpc.yaml` with every setting at its default; `recipients` holds the given ones.
pub fn config(recipients: &[String]) -> String {
    use tcpc_spec::config as c;
    let recipients = if recipients.is_empty() {
        "  # Who can open .tcpc/state: the recipient `tcpc identity` prints (age1…). Required.\n  recipients: []\n".to_string()
    } else {
        let mut s = "  # Who can open .tcpc/state (age recipients; add your colleagues' too).\n  recipients:\n".to_string();
        for r in recipients {
            s.push_str(&format!("  - {r}\n"));
        }
        s
    };
    format!(
        "\
# tcpc repository settings. Every setting is shown with its default.
apiVersion: tcpc.dev/v1alpha1
kind: Config
# Where `tcpc render` writes the manifests (relative to this file). Commit them: Flux or Argo CD apply them.
output: {output}
# Globs of paths tcpc does not read, relative to this file.
exclude: []
defaults:
  # Namespace of TenantControlPlanes without metadata.namespace.
  namespace: {namespace}
# images:
#   registry: registry.k8s.io    # control-plane image registry (Kamaji's default when unset)
pki:
  keyAlgorithm: {alg}             # or ECDSA-P384, RSA-2048, RSA-3072, RSA-4096
  leafValidityDays: {leaf}
  caValidityDays: {ca}
  # Re-issue a certificate once less than this share of its lifetime is left. Default 1/3
  # (of 365 days: about 121 days before it expires).
  # renewBeforeFraction: 0.3333
{recipients}  stateDir: {state}
  lockFile: {lock}
sealing:
  sealedSecrets:
    # The sealed-secrets controller's public certificate: `kubeseal --fetch-cert > sealed-secrets.crt`.
    certificate: sealed-secrets.crt
    scope: strict
check:
  # `tcpc check` warns, then fails, when a certificate expires within this many days. Renewal
  # is due long before (see renewBeforeFraction): these only fire when renewals were missed.
  warnDays: {warn}
  failDays: {fail}
namespaces:
  # One Namespace object per namespace in the management bundle (<output>/<namespace>/namespace.yaml).
  create: true
# Parser limits for the repository's YAML (each may be raised up to a hard cap; README \"Hostile input\").
limits:
  maxFileBytes: {max_file}
  maxTotalBytes: {max_total}
  maxDocuments: {max_docs}
  maxDocumentChars: {max_chars}
  maxDepth: {max_depth}
  maxAliases: {max_aliases}
  maxAliasExpansion: {max_expansion}
",
        output = c::DEFAULT_OUTPUT,
        namespace = c::DEFAULT_NAMESPACE,
        alg = tcpc_spec::pki::KeyAlgorithm::DEFAULT.as_str(),
        leaf = c::DEFAULT_LEAF_VALIDITY_DAYS,
        ca = c::DEFAULT_CA_VALIDITY_DAYS,
        state = c::DEFAULT_STATE_DIR,
        lock = c::DEFAULT_LOCK_FILE,
        warn = c::DEFAULT_CHECK_WARN_DAYS,
        fail = c::DEFAULT_CHECK_FAIL_DAYS,
        max_file = tcpc_yaml::Limits::DEFAULT.max_file_bytes,
        max_total = c::DEFAULT_MAX_TOTAL_BYTES,
        max_docs = tcpc_yaml::Limits::DEFAULT.max_documents,
        max_chars = tcpc_yaml::Limits::DEFAULT.max_document_chars,
        max_depth = tcpc_yaml::Limits::DEFAULT.max_depth,
        max_aliases = tcpc_yaml::Limits::DEFAULT.max_aliases,
        max_expansion = tcpc_yaml::Limits::DEFAULT.max_alias_expansion,
    )
}

/// Writes a new repository into `dir` (created if needed). Refuses to overwrite any file;
/// an existing `.gitignore` gets the missing patterns appended.
pub fn init(dir: &Path, recipients: &[String]) -> Result<Vec<String>, String> {
    let files: [(&str, String); 3] = [
        ("tcpc.yaml", config(recipients)),
        ("tenants/example.yaml", EXAMPLE_TENANT.to_string()),
        ("datastores/default.yaml", EXAMPLE_DATASTORE.to_string()),
    ];
    for (rel, _) in &files {
        if dir.join(rel).exists() {
            return Err(format!("{} already exists; tcpc init writes only into a new repository", dir.join(rel).display()));
        }
    }
    let mut written = Vec::new();
    for (rel, text) in &files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("relative paths have a parent"))
            .map_err(|e| format!("creating {}: {e}", path.display()))?;
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        written.push(rel.to_string());
    }
    let gitignore = dir.join(".gitignore");
    let existing = match std::fs::read_to_string(&gitignore) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("reading {}: {e}", gitignore.display())),
    };
    let missing: Vec<&str> = GITIGNORE.iter().copied().filter(|p| !existing.lines().any(|l| l.trim() == *p)).collect();
    if !missing.is_empty() {
        let mut text = existing.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# Private keys and age identities never go into Git (tcpc keeps them age-encrypted in .tcpc/state).\n");
        for p in missing {
            text.push_str(p);
            text.push('\n');
        }
        std::fs::write(&gitignore, text).map_err(|e| format!("writing {}: {e}", gitignore.display()))?;
        written.push(".gitignore".into());
    }
    Ok(written)
}
