//! The setup Job of an etcd DataStore: each tenant's etcd role (read/write on its prefix only)
//! and user (the CN of its client certificate) bound to it — what Kamaji's operator creates at
//! runtime with the DataStore's `tlsConfig.clientCertificate`. With auth on in etcd, a tenant's
//! certificate then reads and writes its own keys and nothing else.
//!
//! The Job runs in the namespace of that client certificate's Secret and mounts it as it is,
//! beside the CA certificate (a Secret of the same namespace, or inline). Nothing it uses is
//! secret beyond that Secret, so it has no Secret of its own. Idempotent: existing roles and
//! users are kept, the permission and the binding are granted again.

use sha2::{Digest, Sha256};
use tcpc_spec::DataStore;

use super::{EnvSource, FileRef, Resolver, SetupPlan};
use crate::diag::Diagnostic;
use crate::parse::Doc;

impl Resolver<'_> {
    /// `None` when the DataStore has no client certificate (nothing to set up with); errors when
    /// it has one the Job cannot use.
    pub(super) fn etcd_setup(&mut self, ds: &Doc<DataStore>, tcp: &str, ns: &str, schema: &str, user: &str) -> Option<SetupPlan> {
        let tls = ds.value.spec.tls_config.as_ref()?;
        let client = tls.client_certificate.as_ref()?;
        let (Some(cert), Some(key)) = (client.certificate.secret_reference.as_ref(), client.private_key.secret_reference.as_ref()) else {
            // Inline private keys are refused with the DataStore; an inline certificate with a
            // referenced key cannot be mounted as one pair.
            let d = Diagnostic::error("the etcd client certificate and key must both be Secret references")
                .at(ds.file, ds.key_span("/spec/tlsConfig/clientCertificate"), "not both secretReference")
                .note("each tenant's setup Job mounts them as they are to create the tenant's etcd role and user")
                .help("reference the Secret of the root client certificate, e.g. `{name: etcd-root-client-certs, namespace: kamaji-system, keyPath: tls.crt}` and `tls.key`");
            self.push(d);
            return None;
        };
        let namespace = cert.namespace.clone().filter(|n| !n.is_empty());
        let same_ns = |r: &tcpc_spec::SecretReference| r.namespace.is_some() && r.namespace == namespace;
        let (Some(namespace), Some(cert_name), Some(key_name)) = (namespace.clone(), cert.name.clone(), key.name.clone()) else {
            let d = Diagnostic::error("the etcd client certificate's Secret reference needs `name` and `namespace`")
                .at(ds.file, ds.key_span("/spec/tlsConfig/clientCertificate"), "incomplete secretReference")
                .note("each tenant's setup Job runs in that namespace");
            self.push(d);
            return None;
        };
        if !same_ns(key) {
            let d = Diagnostic::error("the etcd client key must be in a Secret of the certificate's namespace")
                .at(ds.file, ds.key_span("/spec/tlsConfig/clientCertificate/privateKey/secretReference"), "another namespace")
                .also(ds.file, ds.key_span("/spec/tlsConfig/clientCertificate/certificate/secretReference"), "the certificate's")
                .note("the setup Job mounts both in one namespace");
            self.push(d);
            return None;
        }
        let mut files = vec![
            FileRef { secret: cert_name, key: cert.key_path.clone(), path: "tls.crt" },
            FileRef { secret: key_name, key: key.key_path.clone(), path: "tls.key" },
        ];
        let endpoints = ds.value.spec.endpoints.iter().map(|e| format!("https://{e}")).collect::<Vec<_>>().join(",");
        let value = |name: &'static str, v: &str| EnvSource { name, value: Some(v.to_string()), secret: None, key: None };
        let mut env = vec![value("ENDPOINTS", &endpoints), value("DB_SCHEMA", schema), value("DB_USER", user)];
        let ca = &tls.certificate_authority.certificate;
        match (&ca.content, &ca.secret_reference) {
            (Some(b64), _) => {
                use base64::Engine as _;
                match base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok().and_then(|b| String::from_utf8(b).ok()) {
                    Some(pem) => env.push(value("CA_PEM", &pem)),
                    None => {
                        let d = Diagnostic::error("the DataStore's CA certificate is not base64-encoded PEM").at(
                            ds.file,
                            ds.span("/spec/tlsConfig/certificateAuthority/certificate/content"),
                            "not base64",
                        );
                        self.push(d);
                        return None;
                    }
                }
            }
            (None, Some(r)) if same_ns(r) && r.name.as_deref().is_some_and(|n| !n.is_empty()) => {
                files.insert(0, FileRef { secret: r.name.clone().unwrap_or_default(), key: r.key_path.clone(), path: "ca.crt" });
            }
            _ => {
                let d = Diagnostic::error("the etcd CA certificate must be inline or in a Secret of the client certificate's namespace")
                    .at(ds.file, ds.key_span("/spec/tlsConfig/certificateAuthority/certificate"), "not reachable from the setup Job")
                    .also(ds.file, ds.key_span("/spec/tlsConfig/clientCertificate/certificate/secretReference"), "the Job's namespace")
                    .note("the setup Job verifies etcd with it");
                self.push(d);
                return None;
            }
        }
        let facts = format!("{ns}/{tcp}\n{}\n{endpoints}\n{schema}\n{user}\n{env:?}\n{files:?}", ds.value.metadata.name);
        let hash = hex::encode(&Sha256::digest(facts.as_bytes())[..4]);
        let prefix: String = tcp.chars().take(28).collect();
        Some(SetupPlan {
            job_name: format!("{prefix}-datastore-setup-{hash}"),
            namespace,
            secret: None,
            env,
            files,
            image: self.inputs.config.datastore_setup_image_etcd().to_string(),
            dialect: "etcd",
            host: String::new(),
            port: 0,
        })
    }
}
