//! Teardown (opt-in, `tcpc.yaml` `teardown.datastore: true`): once a tenant is removed with a
//! Tombstone, a Job in its place drops what its setup Job made — the SQL database and user, or
//! the etcd keys under its prefix, its role and its user — as Kamaji's operator does when a
//! TenantControlPlane is deleted.
//!
//! The tenant is gone from the inputs, so the plan is built from what the lock recorded
//! ([`DataStoreRecord`]: DataStore, driver, schema, user) and from the DataStore, which must
//! still be in the repository. The Job reads the admin credentials from the DataStore's Secrets
//! as they are, like the setup Job, and needs nothing sealed: the names it drops are public.
//! It is idempotent (`IF EXISTS`), and it is rendered for as long as the Tombstone stays, so a
//! GitOps tool keeps it until it has run; deleting the Tombstone afterwards prunes it.
//!
//! Invariant: pure; nothing is dropped unless the user turned teardown on *and* committed the
//! Tombstone.

use sha2::{Digest, Sha256};
use tcpc_spec::DataStore;
use tcpc_spec::datastore::Driver;

use super::{EnvSource, FileRef, SetupPlan};
use crate::diag::Diagnostic;
use crate::lock::DataStoreRecord;
use crate::parse::Doc;

/// What a teardown of one removed tenant does.
pub enum Teardown {
    /// The Job to render.
    Job(SetupPlan),
    /// Nothing tcpc can drop, and why (a warning: the user turned teardown on).
    Nothing(String),
}

/// The teardown of tenant `ns/tcp`, recorded as `rec`, on its DataStore `ds` (`None`: not in
/// the repository).
pub fn plan(
    ds: Option<&Doc<DataStore>>,
    config: &tcpc_spec::Config,
    ns: &str,
    tcp: &str,
    rec: &DataStoreRecord,
) -> Result<Teardown, Diagnostic> {
    let who = crate::model::tenant_key(ns, tcp);
    let Some(user) = rec.user.as_deref() else {
        return Ok(Teardown::Nothing(match (ds, rec.driver.as_str()) {
            (None, "etcd") => format!(
                "{who}: its own etcd is pruned with its bundle; the members' PersistentVolumeClaims `data-{tcp}-etcd-N` in `{ns}` stay (delete them to free the volumes)"
            ),
            (_, "NATS") => {
                format!(
                    "{who}: NATS tenants share the DataStore's user; kine's bucket `{}` stays (delete it with `nats kv rm`)",
                    rec.schema
                )
            }
            (_, "etcd") => format!(
                "{who}: DataStore `{}` has no client certificate, so no setup Job made a role or user; its keys under `/{}/` stay (delete them with `etcdctl del --prefix /{}/`)",
                rec.name, rec.schema, rec.schema
            ),
            _ => format!(
                "{who}: tcpc.lock does not record the tenant's database user (written by an older tcpc); drop database `{}` by hand",
                rec.schema
            ),
        }));
    };
    let Some(ds) = ds else {
        return Err(Diagnostic::error(format!("the teardown of {who} needs DataStore `{}`, which is not in the repository", rec.name))
            .note("the teardown Job reads the DataStore's endpoints and admin credentials")
            .help(
                "keep the DataStore until the teardown Job has run, or set `teardown.datastore: false` and drop the tenant's data by hand",
            ));
    };
    let spec = &ds.value.spec;
    let value = |name: &'static str, v: &str| EnvSource { name, value: Some(v.to_string()), secret: None, key: None };
    let tls = spec.tls_config.as_ref();
    // The Job's namespace: the admin password's (SQL) or the root client certificate's (etcd).
    let namespace = match spec.driver {
        Driver::Etcd => tls
            .and_then(|t| t.client_certificate.as_ref())
            .and_then(|c| c.certificate.secret_reference.as_ref())
            .and_then(|r| r.namespace.clone()),
        _ => spec.basic_auth.as_ref().and_then(|a| a.password.secret_reference.as_ref()).and_then(|r| r.namespace.clone()),
    };
    let Some(namespace) = namespace else {
        return Err(Diagnostic::error(format!("the teardown of {who} cannot reach the admin credentials of DataStore `{}`", rec.name))
            .at(ds.file, ds.key_span("/spec"), "no Secret reference with a namespace")
            .note("the teardown Job reads them from the DataStore's Secrets, in their namespace"));
    };
    let mut env = vec![value("DB_SCHEMA", &rec.schema), value("DB_USER", user)];
    let mut files = Vec::new();
    let unreachable = |what: &str, pointer: &str| {
        Diagnostic::error(format!("the teardown of {who} cannot reach the {what} of DataStore `{}`", rec.name))
            .at(ds.file, ds.key_span(pointer), format!("not in namespace `{namespace}`"))
            .note("the teardown Job mounts the DataStore's Secrets as they are, in the namespace of its admin credentials")
            .help("reference a Secret of that namespace, or set `teardown.datastore: false` and drop it by hand")
    };
    // The CA that verifies the server: inline, or a Secret of the Job's namespace.
    if let Some(t) = tls {
        let ca = &t.certificate_authority.certificate;
        match (&ca.content, &ca.secret_reference) {
            (Some(b64), _) => {
                use base64::Engine as _;
                let pem = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default();
                env.push(value("CA_PEM", &pem));
            }
            (None, Some(r)) if r.namespace.as_deref() == Some(namespace.as_str()) && r.name.is_some() => {
                files.push(FileRef { secret: r.name.clone().unwrap_or_default(), key: r.key_path.clone(), path: "ca.crt" })
            }
            _ => return Err(unreachable("CA certificate", "/spec/tlsConfig/certificateAuthority/certificate")),
        }
        if let Some(c) = &t.client_certificate {
            for (r, path, pointer) in [
                (&c.certificate.secret_reference, "tls.crt", "/spec/tlsConfig/clientCertificate/certificate"),
                (&c.private_key.secret_reference, "tls.key", "/spec/tlsConfig/clientCertificate/privateKey"),
            ] {
                match r {
                    Some(r) if r.namespace.as_deref() == Some(namespace.as_str()) && r.name.is_some() => {
                        files.push(FileRef { secret: r.name.clone().unwrap_or_default(), key: r.key_path.clone(), path })
                    }
                    _ => return Err(unreachable("client certificate", pointer)),
                }
            }
        }
    }
    let (image, dialect, host, port) =
        match spec.driver {
            Driver::Etcd => {
                let endpoints = spec.endpoints.iter().map(|e| format!("https://{e}")).collect::<Vec<_>>().join(",");
                env.push(value("ENDPOINTS", &endpoints));
                (config.datastore_setup_image_etcd(), "etcd", String::new(), 0)
            }
            Driver::Nats => unreachable!("NATS tenants record no user"),
            driver => {
                let admin =
                    super::kine::admin_refs(ds).filter(|(n, _, _)| *n == namespace).ok_or_else(|| {
                        Diagnostic::error(format!("the teardown of {who} cannot read the admin credentials of DataStore `{}`", rec.name))
                            .at(ds.file, ds.key_span("/spec/basicAuth"), "incomplete")
                    })?;
                env.insert(0, admin.1);
                env.insert(1, admin.2);
                let (host, port) = spec.endpoints.first().and_then(|e| super::kine::split_host_port(e)).ok_or_else(|| {
                    Diagnostic::error(format!("the teardown of {who} needs an endpoint of DataStore `{}`", rec.name)).at(
                        ds.file,
                        ds.span("/spec/endpoints"),
                        "expected `host:port`",
                    )
                })?;
                env.push(value("DB_HOST", host));
                env.push(value("DB_PORT", &port.to_string()));
                let mysql = driver == Driver::MySql;
                (config.datastore_setup_image(mysql), if mysql { "mysql" } else { "postgresql" }, host.to_string(), port)
            }
        };
    let facts = format!("{who}\n{}\n{}\n{}\n{user}\n{env:?}\n{files:?}", rec.name, rec.driver, rec.schema);
    let hash = hex::encode(&Sha256::digest(facts.as_bytes())[..4]);
    let prefix: String = tcp.chars().take(28).collect();
    Ok(Teardown::Job(SetupPlan {
        job_name: format!("{prefix}-datastore-teardown-{hash}"),
        namespace,
        secret: None,
        env,
        files,
        image: image.to_string(),
        dialect,
        host,
        port,
    }))
}
