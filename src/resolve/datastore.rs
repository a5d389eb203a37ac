//! The tenant's DataStore: the document it names (or a dedicated etcd), checked; the etcd
//! servers overrides; the endpoints of an etcd DataStore.

use std::collections::BTreeMap;

use tcpc_spec::DataStore;
use tcpc_spec::defaults as d;

use super::{DataStorePlan, Resolver, dedicated, is_dns1123_subdomain, kine};
use crate::diag::{Diagnostic, Diagnostics};
use crate::parse::Doc;

impl Resolver<'_> {
    pub(super) fn datastore(&mut self, datastores: &BTreeMap<&str, &Doc<DataStore>>, name: &str, namespace: &str) -> Option<DataStorePlan> {
        let spec = &self.doc.value.spec;
        if let Some(value) = dedicated::requested(self.doc.value.metadata.annotations.as_ref()) {
            let default_id = format!("{namespace}_{name}");
            let schema = spec.data_store_schema.clone().unwrap_or_else(|| default_id.clone());
            let user = spec.data_store_username.clone().unwrap_or(default_id);
            let value = value.to_string();
            return self.dedicated_etcd(&value, name, namespace, schema, user);
        }
        let ds_name = spec.data_store.clone().unwrap_or_else(|| d::DEFAULT_DATASTORE.to_string());
        let Some(ds) = datastores.get(ds_name.as_str()) else {
            if self.inputs.invalid_datastores.contains(&ds_name) {
                // Its own errors were reported; one more per tenant would only add noise.
                return None;
            }
            let pointer = if spec.data_store.is_some() { "/spec/dataStore" } else { "/spec" };
            let known = datastores.keys().copied().collect::<Vec<_>>().join(", ");
            let d = self.error(pointer, format!("DataStore `{ds_name}` is not defined in this repository"), "unknown DataStore").help(
                if known.is_empty() {
                    "add a kamaji.clastix.io/v1alpha1 DataStore document".to_string()
                } else {
                    format!("defined DataStores: {known}")
                },
            );
            self.push(d);
            return None;
        };
        let default_id = format!("{namespace}_{name}");
        let schema = spec.data_store_schema.clone().unwrap_or_else(|| default_id.clone());
        let user = spec.data_store_username.clone().unwrap_or(default_id);
        if schema.is_empty() || schema.contains(['/', ' ']) {
            let d = self.error(
                "/spec/dataStoreSchema",
                format!("invalid dataStoreSchema `{schema}`"),
                "must be non-empty, without `/` or spaces",
            );
            self.push(d);
        }
        let overrides = if ds.value.spec.driver.uses_kine() { Vec::new() } else { self.datastore_overrides(datastores, ds) };
        let kine = if ds.value.spec.driver.uses_kine() { self.kine(ds, name, &schema, &user) } else { None };
        let etcd_setup = if ds.value.spec.driver.uses_kine() { None } else { self.etcd_setup(ds, name, namespace, &schema, &user) };
        Some(DataStorePlan {
            name: ds_name,
            driver: ds.value.spec.driver.as_str().to_string(),
            servers: if kine.is_some() { vec![kine::SOCKET.to_string()] } else { etcd_urls(ds) },
            schema,
            user,
            overrides,
            kine,
            etcd_setup,
            dedicated: None,
        })
    }

    /// `spec.dataStoreOverrides`: per-resource etcd servers. kube-apiserver dials every override
    /// with the one etcd TLS configuration it has (`--etcd-cafile`, `--etcd-certfile`: Kubernetes
    /// `staging/src/k8s.io/apiserver/pkg/server/options/etcd.go` copies the storage config and
    /// replaces only the server list), so an override DataStore must be an etcd that trusts the
    /// tenant DataStore's CA: tcpc requires the same CA certificate and refuses anything else.
    pub(super) fn datastore_overrides(&mut self, datastores: &BTreeMap<&str, &Doc<DataStore>>, main: &Doc<DataStore>) -> Vec<String> {
        let spec = &self.doc.value.spec;
        let mut out = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, o) in spec.data_store_overrides.iter().flatten().enumerate() {
            let at = format!("/spec/dataStoreOverrides/{i}");
            let resource = o.resource.clone().unwrap_or_default();
            match resource.split_once('/') {
                Some((group, res))
                    if !res.is_empty()
                        && !res.contains('/')
                        && (group.is_empty() || is_dns1123_subdomain(group))
                        && res.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') => {}
                _ => {
                    let pointer = if o.resource.is_some() { format!("{at}/resource") } else { at.clone() };
                    let d = self
                        .error(&pointer, format!("invalid dataStoreOverrides resource `{resource}`"), "expected `group/resource`")
                        .help("kube-apiserver keys overrides by `group/resource`: `/events` for core events, `coordination.k8s.io/leases`");
                    self.push(d);
                    continue;
                }
            }
            if let Some(first) = seen.insert(resource.clone(), i) {
                let d = self
                    .error(&format!("{at}/resource"), format!("`{resource}` is overridden twice"), "again here")
                    .also(self.doc.file, self.doc.span(&format!("/spec/dataStoreOverrides/{first}/resource")), "first here")
                    .help("a resource is stored in one place: keep one override per resource");
                self.push(d);
                continue;
            }
            let Some(ds_name) = o.data_store.as_deref().filter(|n| !n.is_empty()) else {
                let d = self.error(&at, "a dataStoreOverrides entry needs `dataStore`", "dataStore missing");
                self.push(d);
                continue;
            };
            let Some(ds) = datastores.get(ds_name) else {
                if !self.inputs.invalid_datastores.iter().any(|n| n == ds_name) {
                    let known = datastores.keys().copied().collect::<Vec<_>>().join(", ");
                    let d = self
                        .error(
                            &format!("{at}/dataStore"),
                            format!("DataStore `{ds_name}` is not defined in this repository"),
                            "unknown DataStore",
                        )
                        .help(format!("defined DataStores: {known}"));
                    self.push(d);
                }
                continue;
            };
            use tcpc_spec::datastore::Driver;
            if ds.value.spec.driver != Driver::Etcd {
                let d = self
                    .error(&format!("{at}/dataStore"), format!("override DataStore `{ds_name}` is not etcd"), "driver must be etcd")
                    .also(ds.file, ds.span("/spec/driver"), format!("`{}`", ds.value.spec.driver.as_str()))
                    .note("kube-apiserver's --etcd-servers-overrides only speaks etcd (Kamaji refuses other drivers too)");
                self.push(d);
                continue;
            }
            let ca = |d: &Doc<DataStore>| d.value.spec.tls_config.as_ref().map(|t| t.certificate_authority.certificate.clone());
            if ca(ds) != ca(main) {
                let d = self
                    .error(&format!("{at}/dataStore"), format!("override DataStore `{ds_name}` has another CA than `{}`", main.value.metadata.name), "different CA")
                    .also(ds.file, ds.key_span("/spec/tlsConfig"), "this CA")
                    .also(main.file, main.key_span("/spec/tlsConfig"), "the tenant DataStore's CA")
                    .note("kube-apiserver dials every etcd override with the same --etcd-cafile and client certificate as --etcd-servers")
                    .help("serve the override etcd with a certificate of the same CA and point `tlsConfig.certificateAuthority.certificate` at the same certificate");
                self.push(d);
                continue;
            }
            out.push(format!("{resource}#{}", etcd_urls(ds).join(";")));
        }
        out
    }
}

/// The client URLs of an etcd DataStore.
fn etcd_urls(ds: &Doc<DataStore>) -> Vec<String> {
    ds.value.spec.endpoints.iter().map(|e| format!("https://{e}")).collect()
}

pub(super) fn check_datastore(ds: &Doc<DataStore>, diags: &mut Diagnostics) {
    use tcpc_spec::datastore::Driver;
    let spec = &ds.value.spec;
    if spec.driver.uses_kine() {
        kine::check_datastore(ds, diags);
    }
    if spec.endpoints.is_empty() {
        diags.push(Diagnostic::error("a DataStore needs at least one endpoint").at(ds.file, ds.span("/spec/endpoints"), "empty"));
    }
    for (i, ep) in spec.endpoints.iter().enumerate() {
        // kine drivers: resolve/kine.rs checks their endpoints.
        if !spec.driver.uses_kine() && (ep.contains("://") || !ep.contains(':')) {
            diags.push(
                Diagnostic::error(format!("invalid DataStore endpoint `{ep}`"))
                    .at(ds.file, ds.span(&format!("/spec/endpoints/{i}")), "expected `host:port` without a scheme")
                    .help("write `etcd-0.etcd.kamaji-system.svc:2379`; tcpc adds `https://` for etcd"),
            );
        }
    }
    if spec.driver == Driver::Etcd && spec.tls_config.is_none() {
        diags.push(
            Diagnostic::error("an etcd DataStore needs `tlsConfig`")
                .at(ds.file, ds.key_span("/spec"), "tlsConfig missing")
                .help("set spec.tlsConfig.certificateAuthority.certificate; its key is imported with `tcpc import datastore-ca`"),
        );
    }
    // Private keys never live in specs: they are imported into the encrypted state.
    let tls = spec.tls_config.as_ref();
    let inline_keys = [
        (
            "/spec/tlsConfig/certificateAuthority/privateKey/content",
            tls.and_then(|t| t.certificate_authority.private_key.as_ref()).and_then(|k| k.content.as_ref()),
        ),
        (
            "/spec/tlsConfig/clientCertificate/privateKey/content",
            tls.and_then(|t| t.client_certificate.as_ref()).and_then(|c| c.private_key.content.as_ref()),
        ),
        ("/spec/basicAuth/password/content", spec.basic_auth.as_ref().and_then(|b| b.password.content.as_ref())),
    ];
    for (pointer, content) in inline_keys {
        if content.is_some() && pointer.starts_with("/spec/basicAuth") {
            diags.push(
                Diagnostic::error("a DataStore in Git must not carry a password in plaintext")
                    .at(ds.file, ds.span(pointer), "password inline")
                    .help(format!("use `secretReference`, and run `tcpc import datastore-credentials {} --username USER --password-file FILE`; the password is stored age-encrypted", ds.value.metadata.name)),
            );
        } else if content.is_some() {
            diags.push(
                Diagnostic::error("a DataStore in Git must not carry a private key or password in plaintext")
                    .at(ds.file, ds.span(pointer), "secret material inline")
                    .help(format!("remove `content` and run `tcpc import datastore-ca {} --cert CA.crt --key CA.key`; the key is stored age-encrypted", ds.value.metadata.name)),
            );
        }
    }
    if spec.driver == Driver::Etcd && spec.basic_auth.is_some() {
        diags.push(Diagnostic::error("`basicAuth` cannot be used with etcd").at(ds.file, ds.key_span("/spec/basicAuth"), "not for etcd"));
    }
}
