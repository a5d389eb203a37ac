//! MySQL, PostgreSQL and NATS DataStores: the kine sidecar and the per-tenant setup Job.
//!
//! kube-apiserver speaks etcd's API; kine translates it to SQL or NATS JetStream. As Kamaji runs
//! it, kine is a sidecar of the control-plane pod listening on a socket in a shared in-memory
//! volume, and its `--endpoint` is built from the `<tcp>-datastore-config` Secret's
//! `DB_CONNECTION_STRING`, `DB_SCHEMA`, `DB_USER` and `DB_PASSWORD`.
//!
//! What Kamaji's operator does at runtime — create each tenant's database and a user allowed
//! only on it — is a Job here (`templates/management/datastore-setup.yaml.j2`), rendered into the
//! management bundle with a Secret holding the DataStore's admin credentials, which nothing else
//! mounts. The Job is idempotent (it creates what is missing and sets the user's password), and
//! its name carries a hash of what it sets up, so a changed database or user runs it again.
//! NATS has no per-tenant users: each tenant gets its own bucket and uses the DataStore's
//! credentials, as in Kamaji.
//!
//! Ordering: kine retries until its database accepts the tenant's user, and kube-apiserver
//! retries kine, so the Job and the Deployment are applied together (no sync wave, no Flux
//! `dependsOn`): the control plane becomes ready as soon as the Job has run, with no step
//! that a GitOps tool must order, and the admin credentials never enter the control-plane pod.

use serde_json::Value;
use sha2::{Digest, Sha256};
use tcpc_spec::DataStore;
use tcpc_spec::datastore::Driver;

use super::{EnvSource, FileRef, KinePlan, Resolver, SetupPlan, hardening};
use crate::diag::{Diagnostic, Diagnostics};
use crate::parse::Doc;

/// Where kine listens and kube-apiserver dials (`--etcd-servers`), in the `kine-uds` volume.
pub const SOCKET: &str = "unix:///uds/kine";

/// Flags tcpc sets that `extraArgs.kine` cannot change: the socket kube-apiserver dials and the
/// endpoint built from the tenant's credentials.
const MANAGED: &[&str] = &["listen-address", "endpoint"];

/// What a DataStore of a kine driver needs, checked once per DataStore.
pub fn check_datastore(ds: &Doc<DataStore>, diags: &mut Diagnostics) {
    let spec = &ds.value.spec;
    let driver = spec.driver.as_str();
    let name = &ds.value.metadata.name;
    if spec.basic_auth.is_none() {
        let help = if spec.driver == Driver::Nats {
            format!(
                "reference the Secret holding them, and run `tcpc import datastore-credentials {name} --username USER --password-file FILE`: each tenant's kine connects with them"
            )
        } else {
            "reference the Secret holding them: `basicAuth.password.secretReference: {name, namespace, keyPath}` (the user the same way, or inline)".to_string()
        };
        diags.push(
            Diagnostic::error(format!("a {driver} DataStore needs `basicAuth`"))
                .at(ds.file, ds.key_span("/spec"), "basicAuth missing")
                .note("the setup Job creates each tenant's database and user with these credentials (NATS tenants connect with them)")
                .help(help),
        );
    } else if spec.driver != Driver::Nats {
        check_admin_refs(ds, diags);
    }
    if let Some(tls) = &spec.tls_config {
        if let Some(client) = &tls.client_certificate {
            check_client_certificate(ds, client, diags);
        }
        if tls.certificate_authority.private_key.is_some() {
            diags.push(
                Diagnostic::error("a kine DataStore's CA needs no private key")
                    .at(ds.file, ds.key_span("/spec/tlsConfig/certificateAuthority/privateKey"), "not used")
                    .note("kine only verifies the database server's certificate; nothing is signed with the CA")
                    .help("remove `privateKey`"),
            );
        }
    }
    for (i, ep) in spec.endpoints.iter().enumerate() {
        if let Some((scheme, rest)) = ep.split_once("://") {
            let at = ds.span(&format!("/spec/endpoints/{i}"));
            let d = if scheme_driver(scheme).is_some_and(|d| d != spec.driver) {
                Diagnostic::error(format!("endpoint scheme `{scheme}://` does not match driver `{driver}`"))
                    .at(ds.file, at, "another database's scheme")
                    .also(ds.file, ds.span("/spec/driver"), format!("driver `{driver}`"))
                    .help("point the DataStore at its own server, or set the driver this server speaks")
            } else {
                Diagnostic::error(format!("invalid DataStore endpoint `{ep}`"))
                    .at(ds.file, at, "expected `host:port` without a scheme")
                    .help(format!("write `{rest}`; kine's endpoint URL is built from the driver"))
            };
            diags.push(d);
            continue;
        }
        if i > 0 {
            diags.push(
                Diagnostic::warning(format!("kine uses only the first endpoint of a {driver} DataStore"))
                    .at(ds.file, ds.span(&format!("/spec/endpoints/{i}")), "not used")
                    .note("kine connects to one server; put a load balancer or a cluster address first"),
            );
        }
        if split_host_port(ep).is_none() {
            diags.push(Diagnostic::error(format!("invalid DataStore endpoint `{ep}`")).at(
                ds.file,
                ds.span(&format!("/spec/endpoints/{i}")),
                "expected `host:port`, port 1–65535",
            ));
        }
    }
}

/// `tlsConfig.clientCertificate` of a kine DataStore: kine presents it to the database server
/// (`--cert-file`, `--key-file`), from the tenant's datastore-certificate Secret, sealed from the
/// pair imported with `tcpc import datastore-client-certificate`. A SQL DataStore's setup Job
/// presents it too, mounting the referenced Secrets as they are: they must be in the namespace of
/// the admin password, where the Job runs.
fn check_client_certificate(ds: &Doc<DataStore>, client: &tcpc_spec::datastore::ClientCertificate, diags: &mut Diagnostics) {
    if ds.value.spec.driver == Driver::Nats {
        return;
    }
    let admin_ns =
        ds.value.spec.basic_auth.as_ref().and_then(|a| a.password.secret_reference.as_ref()).and_then(|r| r.namespace.as_deref());
    for (part, r) in [("certificate", &client.certificate.secret_reference), ("privateKey", &client.private_key.secret_reference)] {
        let pointer = format!("/spec/tlsConfig/clientCertificate/{part}");
        let usable = r.as_ref().is_some_and(|r| {
            r.name.as_deref().is_some_and(|n| !n.is_empty()) && r.namespace.is_some() && r.namespace.as_deref() == admin_ns
        });
        if !usable && !(part == "privateKey" && client.private_key.content.is_some()) {
            let mut d = Diagnostic::error(format!("the client {part} must be a Secret reference in the admin password's namespace"))
                .at(ds.file, ds.key_span(&pointer), "not reachable from the setup Job")
                .note(
                    "each tenant's setup Job runs beside the admin password and presents the client certificate from its Secret as it is",
                );
            if admin_ns.is_some() {
                d = d.also(ds.file, ds.key_span("/spec/basicAuth/password/secretReference"), "the admin password's Secret");
            }
            diags.push(d.help(format!(
                "reference the Secret, e.g. `secretReference: {{name: {}-client, namespace: {}, keyPath: tls.{}}}`",
                ds.value.metadata.name,
                admin_ns.unwrap_or("kamaji-system"),
                if part == "certificate" { "crt" } else { "key" }
            )));
        }
    }
}

fn scheme_driver(scheme: &str) -> Option<Driver> {
    match scheme {
        "mysql" => Some(Driver::MySql),
        "postgres" | "postgresql" => Some(Driver::PostgreSql),
        "nats" => Some(Driver::Nats),
        "http" | "https" | "unix" => Some(Driver::Etcd),
        _ => None,
    }
}

pub(super) fn split_host_port(ep: &str) -> Option<(&str, u16)> {
    let (host, port) = ep.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then_some((host, port))
}

/// Longest database (`schema`) and user names each driver accepts.
fn limits(driver: Driver) -> (usize, usize) {
    match driver {
        // PostgreSQL: NAMEDATALEN - 1.
        Driver::PostgreSql => (63, 63),
        // MySQL 8: databases 64, users 32 (MariaDB allows 80; the lower limit works on both).
        Driver::MySql => (64, 32),
        // NATS: a KV bucket name; the user is the DataStore's.
        Driver::Nats | Driver::Etcd => (64, usize::MAX),
    }
}

/// Database, user and bucket names are quoted wherever tcpc writes them, but they also travel in
/// kine's endpoint URL and as NATS bucket names: letters, digits, `_` and `-` only.
fn valid_identifier(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The namespace and the admin user and password sources of a SQL DataStore's `basicAuth`
/// (checked by [`check_datastore`]; `None` when they are not usable).
pub(super) fn admin_refs(ds: &Doc<DataStore>) -> Option<(String, EnvSource, EnvSource)> {
    let auth = ds.value.spec.basic_auth.as_ref()?;
    let pw = auth.password.secret_reference.as_ref()?;
    let namespace = pw.namespace.clone()?;
    let password = EnvSource { name: "ADMIN_PASSWORD", value: None, secret: pw.name.clone(), key: Some(pw.key_path.clone()) };
    let user = match (&auth.username.content, &auth.username.secret_reference) {
        (Some(b64), _) => {
            use base64::Engine as _;
            let v = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok().and_then(|b| String::from_utf8(b).ok())?;
            EnvSource { name: "ADMIN_USER", value: Some(v), secret: None, key: None }
        }
        (None, Some(r)) if r.namespace.as_deref() == Some(namespace.as_str()) => {
            EnvSource { name: "ADMIN_USER", value: None, secret: r.name.clone(), key: Some(r.key_path.clone()) }
        }
        _ => return None,
    };
    Some((namespace, user, password))
}

/// `basicAuth` of a SQL DataStore as the setup Job reads it: the password from a Secret
/// (`name`, `namespace`), the user inline or from a Secret of the same namespace.
fn check_admin_refs(ds: &Doc<DataStore>, diags: &mut Diagnostics) {
    let Some(auth) = &ds.value.spec.basic_auth else { return };
    let name = &ds.value.metadata.name;
    let pw = auth.password.secret_reference.as_ref();
    let pw_ns = pw.and_then(|r| r.namespace.as_deref());
    if pw.is_none_or(|r| r.name.as_deref().is_none_or(str::is_empty) || r.namespace.as_deref().is_none_or(str::is_empty)) {
        diags.push(
            Diagnostic::error("the DataStore's password needs a Secret reference with `name` and `namespace`")
                .at(ds.file, ds.key_span("/spec/basicAuth/password"), "no complete secretReference")
                .note("each tenant's setup Job runs in that namespace and reads the admin password from the Secret as it is")
                .help(format!(
                    "reference the Secret: `secretReference: {{name: {name}-admin, namespace: kamaji-system, keyPath: password}}`"
                )),
        );
        return;
    }
    match (&auth.username.content, &auth.username.secret_reference) {
        (Some(b64), _) => {
            use base64::Engine as _;
            if base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok().and_then(|b| String::from_utf8(b).ok()).is_none() {
                diags.push(Diagnostic::error("the DataStore's user name is not base64-encoded UTF-8").at(
                    ds.file,
                    ds.span("/spec/basicAuth/username/content"),
                    "not base64",
                ));
            }
        }
        (None, Some(r)) if r.namespace.as_deref() != pw_ns || r.name.as_deref().is_none_or(str::is_empty) => {
            diags.push(
                Diagnostic::error("the DataStore's user name must come from a Secret in the password's namespace")
                    .at(ds.file, ds.key_span("/spec/basicAuth/username/secretReference"), "another namespace")
                    .also(ds.file, ds.key_span("/spec/basicAuth/password/secretReference"), "the password's Secret")
                    .note("the setup Job reads both in one namespace"),
            );
        }
        (None, Some(_)) => {}
        (None, None) => diags.push(Diagnostic::error("the DataStore's user name needs `content` or `secretReference`").at(
            ds.file,
            ds.key_span("/spec/basicAuth/username"),
            "empty",
        )),
    }
}

impl Resolver<'_> {
    pub(super) fn kine(&mut self, ds: &Doc<DataStore>, tcp: &str, schema: &str, user: &str) -> Option<KinePlan> {
        let spec = &self.doc.value.spec;
        let dspec = &ds.value.spec;
        let driver = dspec.driver;
        let (max_schema, max_user) = limits(driver);
        let mut ok = true;
        if !valid_identifier(schema, max_schema) {
            let pointer = if spec.data_store_schema.is_some() { "/spec/dataStoreSchema" } else { "/metadata/name" };
            let d = self
                .error(pointer, format!("`{schema}` is not a valid {} database name", driver.as_str()), "invalid dataStoreSchema")
                .note(format!("the tenant's database (NATS: bucket) name: letters, digits, `_` and `-`, at most {max_schema} characters"))
                .help("set `spec.dataStoreSchema`");
            self.push(d);
            ok = false;
        }
        if driver != Driver::Nats && !valid_identifier(user, max_user) {
            let pointer = if spec.data_store_username.is_some() { "/spec/dataStoreUsername" } else { "/metadata/name" };
            let d = self
                .error(pointer, format!("`{user}` is not a valid {} user name", driver.as_str()), "invalid dataStoreUsername")
                .note(format!("the tenant's database user: letters, digits, `_` and `-`, at most {max_user} characters"))
                .help("set `spec.dataStoreUsername`");
            self.push(d);
            ok = false;
        }
        if !spec.data_store_overrides.as_ref().is_none_or(Vec::is_empty) {
            let d = Diagnostic::error("dataStoreOverrides need an etcd DataStore")
                .at(self.doc.file, self.doc.key_span("/spec/dataStoreOverrides"), "the tenant's DataStore is not etcd")
                .also(ds.file, ds.span("/spec/driver"), format!("`{}`", driver.as_str()))
                .note("kube-apiserver dials overrides with the etcd TLS settings of its main DataStore, which a kine tenant does not have");
            self.push(d);
            ok = false;
        }
        let (host, port) = dspec.endpoints.first().and_then(|e| split_host_port(e))?;
        let connection_string = format!("{host}:{port}");

        let dep = spec.control_plane.deployment.clone().unwrap_or_default();
        let tls = dspec.tls_config.is_some();
        let client = dspec.tls_config.as_ref().and_then(|t| t.client_certificate.as_ref());
        let mut flags: std::collections::BTreeMap<String, Option<String>> = std::collections::BTreeMap::new();
        flags.insert("listen-address".into(), Some(SOCKET.into()));
        if tls {
            flags.insert("ca-file".into(), Some("/certs/ca.crt".into()));
        }
        if client.is_some() {
            // Kamaji's file names: the tenant's datastore-certificate Secret carries the pair.
            flags.insert("cert-file".into(), Some("/certs/server.crt".into()));
            flags.insert("key-file".into(), Some("/certs/server.key".into()));
        }
        for (i, raw) in dep.extra_args.as_ref().and_then(|e| e.kine.as_deref()).unwrap_or_default().iter().enumerate() {
            let pointer = format!("/spec/controlPlane/deployment/extraArgs/kine/{i}");
            let Some(flag) = raw.strip_prefix("--").filter(|f| !f.is_empty() && !f.starts_with('=')) else {
                let d = self.error(&pointer, format!("invalid kine argument `{raw}`"), "expected `--flag=value` or `--flag`");
                self.push(d);
                ok = false;
                continue;
            };
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            if MANAGED.contains(&name) {
                let d = self
                    .error(&pointer, format!("`--{name}` is set by tcpc"), "managed flag")
                    .note("kube-apiserver dials kine's socket, and the endpoint carries the tenant's own database and user")
                    .help("the DataStore's endpoints and the TCP's dataStoreSchema/dataStoreUsername decide it");
                self.push(d);
                ok = false;
                continue;
            }
            flags.insert(name.to_string(), value);
        }
        let mut args: Vec<String> = flags
            .into_iter()
            .map(|(k, v)| match v {
                Some(v) => format!("--{k}={v}"),
                None => format!("--{k}"),
            })
            .collect();
        args.push(format!(
            "--endpoint={}",
            match driver {
                Driver::MySql => "mysql://$(DB_USER):$(DB_PASSWORD)@tcp($(DB_CONNECTION_STRING))/$(DB_SCHEMA)",
                Driver::PostgreSql => "postgres://$(DB_USER):$(DB_PASSWORD)@$(DB_CONNECTION_STRING)/$(DB_SCHEMA)",
                Driver::Nats | Driver::Etcd => "nats://$(DB_USER):$(DB_PASSWORD)@$(DB_CONNECTION_STRING)?bucket=$(DB_SCHEMA)&noEmbed",
            }
        ));

        let ca_pem = match dspec.tls_config.as_ref().and_then(|t| t.certificate_authority.certificate.content.as_deref()) {
            Some(b64) => {
                use base64::Engine as _;
                match base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok().and_then(|b| String::from_utf8(b).ok()) {
                    Some(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Some(pem),
                    _ => {
                        let d = Diagnostic::error("the DataStore's CA certificate is not a base64-encoded PEM certificate").at(
                            ds.file,
                            ds.span("/spec/tlsConfig/certificateAuthority/certificate/content"),
                            "not a PEM certificate",
                        );
                        self.push(d);
                        ok = false;
                        None
                    }
                }
            }
            None => None,
        };

        let setup = if driver == Driver::Nats { None } else { admin_refs(ds) }.map(|(namespace, admin_user, admin_password)| {
            let ns = &self.doc.value.metadata.namespace.clone().unwrap_or_else(|| self.inputs.config.default_namespace().to_string());
            let short = |s: &str| hex::encode(&Sha256::digest(s.as_bytes())[..4]);
            // Several tenants' Jobs share the DataStore's namespace: names carry a hash of the
            // tenant (Secret) and of what the Job sets up (Job), and stay within 63 characters.
            let tenant_hash = short(&crate::model::tenant_key(ns, tcp));
            let facts = format!(
                "{ns}/{tcp}\n{}\n{}\n{connection_string}\n{schema}\n{user}\n{admin_user:?}\n{admin_password:?}{}",
                ds.value.metadata.name,
                driver.as_str(),
                // Unchanged for DataStores without a client certificate (their Jobs keep their names).
                client.map(|c| format!("\n{:?}", (&c.certificate.secret_reference, &c.private_key.secret_reference))).unwrap_or_default()
            );
            let prefix: String = tcp.chars().take(28).collect();
            let secret = format!("{tcp}-datastore-setup-{tenant_hash}");
            let mut files = if tls { vec![FileRef { secret: secret.clone(), key: "ca.crt".into(), path: "ca.crt" }] } else { vec![] };
            // The client certificate, from the DataStore's Secrets as they are (checked to be in
            // the Job's namespace by `check_client_certificate`).
            if let Some(c) = client {
                for (r, path) in [(&c.certificate.secret_reference, "tls.crt"), (&c.private_key.secret_reference, "tls.key")] {
                    if let Some(r) = r {
                        files.push(FileRef { secret: r.name.clone().unwrap_or_default(), key: r.key_path.clone(), path });
                    }
                }
            }
            SetupPlan {
                job_name: format!("{prefix}-datastore-setup-{}", short(&facts)),
                namespace,
                secret: Some(secret),
                env: vec![admin_user, admin_password],
                files,
                image: self.inputs.config.datastore_setup_image(driver == Driver::MySql).to_string(),
                dialect: if driver == Driver::MySql { "mysql" } else { "postgresql" },
                host: host.to_string(),
                port,
            }
        });
        let resources: Value = dep
            .resources
            .as_ref()
            .and_then(|r| r.kine.as_ref())
            .map_or_else(|| hardening::default_resources(hardening::Container::Kine), |r| serde_json::json!(r));
        ok.then(|| KinePlan {
            image: self.inputs.config.kine_image().to_string(),
            args,
            resources,
            security_context: hardening::default_container_security_context(),
            connection_string,
            ca_pem,
            tls,
            client_certificate: client.is_some(),
            setup,
            config_secret: format!("{tcp}-datastore-config"),
            shared_credentials: driver == Driver::Nats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_need_a_host_and_a_real_port() {
        assert_eq!(split_host_port("db.svc:5432"), Some(("db.svc", 5432)));
        assert_eq!(split_host_port("[fd00::1]:3306"), Some(("[fd00::1]", 3306)));
        for bad in ["db.svc", ":5432", "db:0", "db:65536", "db:port"] {
            assert_eq!(split_host_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn identifiers_are_what_urls_buckets_and_quoted_sql_all_take() {
        assert!(valid_identifier("platform_sql", 63));
        assert!(valid_identifier("e2e-sql_pg", 63));
        for bad in ["", "a.b", "a b", "a'b", "a`b", "a/b", "ü"] {
            assert!(!valid_identifier(bad, 63), "{bad:?}");
        }
        assert!(valid_identifier(&"u".repeat(32), limits(Driver::MySql).1));
        assert!(!valid_identifier(&"u".repeat(33), limits(Driver::MySql).1));
    }

    #[test]
    fn schemes_name_their_driver() {
        assert_eq!(scheme_driver("postgres"), Some(Driver::PostgreSql));
        assert_eq!(scheme_driver("mysql"), Some(Driver::MySql));
        assert_eq!(scheme_driver("nats"), Some(Driver::Nats));
        assert_eq!(scheme_driver("https"), Some(Driver::Etcd));
        assert_eq!(scheme_driver("tcp"), None);
    }
}
