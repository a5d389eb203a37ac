//! The Secrets of a tenant: which there are and what each is made from ([`SecretPlan`]), their
//! payloads from the issued material, sealing, and the public certificate facts annotated on
//! each sealed object.

use std::collections::BTreeMap;

use rand_core::{CryptoRng, RngCore};
use serde_json::{Value, json};
use tcpc_pki::issuance::{IssuedEntry, IssuedSecret, KubeconfigFile, Reload, Signer};
use tcpc_pki::{Artefact, CertInfo, Issued, PrivateKey};
use zeroize::Zeroizing;

use super::{DataStoreCredentials, DataStoreState, PkiEnv, Sealer, sha256};
use crate::lock::ArtefactLock;
use crate::model::{Bundle, Rendered};
use crate::resolve::Tenant;

/// The Secrets the companion owns under `rotation: companion` (never rendered then).
pub fn companion_secrets(t: &Tenant) -> Vec<String> {
    let s = &t.secrets;
    let mut names = vec![
        s.apiserver.clone(),
        s.apiserver_kubelet_client.clone(),
        s.front_proxy_client.clone(),
        s.admin_kubeconfig.clone(),
        s.controller_manager_kubeconfig.clone(),
        s.scheduler_kubeconfig.clone(),
    ];
    if t.konnectivity.is_some() {
        names.push(s.konnectivity_kubeconfig.clone());
    }
    names
}

/// What the companion issues under `rotation: companion`: the Secrets of
/// [`companion_secrets`], each with the keys [`secret_data`] would give it, except that the
/// component kubeconfigs name their certificate and key as files beside them (client-go re-reads
/// those, so a renewal needs no restart). `specs`: every certificate of the tenant
/// ([`super::cert_specs`]).
pub fn companion_issuance(t: &Tenant, specs: &BTreeMap<Artefact, tcpc_pki::CertSpec>) -> Vec<IssuedSecret> {
    if !t.pki.companion_rotation {
        return Vec::new();
    }
    let s = &t.secrets;
    let ca = Signer { secret: s.ca.clone(), cert: "ca.crt".into(), key: "ca.key".into() };
    let front_proxy_ca = Signer { secret: s.front_proxy_ca.clone(), cert: "front-proxy-ca.crt".into(), key: "front-proxy-ca.key".into() };
    let local = format!("https://127.0.0.1:{}", t.port);
    let svc = format!("https://{}.{}.svc:{}", t.name, t.namespace, t.port);
    let entry = |a: Artefact, signer: &Signer, files: Option<&str>, kubeconfigs: Vec<(&str, &str, bool)>| {
        let Some(spec) = specs.get(&a) else { return None };
        let mut spec = spec.clone();
        if let Some(seconds) = t.pki.companion_leaf_validity_seconds {
            spec.validity = tcpc_pki::Validity::Seconds(seconds);
        }
        let user = a.kubeconfig().map_or("user", |(u, _)| u);
        Some(IssuedEntry {
            artefact: a.as_str().to_string(),
            signer: signer.clone(),
            spec,
            cert_key: files.map(|f| format!("{f}.crt")),
            key_key: files.map(|f| format!("{f}.key")),
            kubeconfigs: kubeconfigs
                .into_iter()
                .map(|(key, server, files)| KubeconfigFile {
                    key: key.into(),
                    cluster: t.name.clone(),
                    server: server.into(),
                    user: user.into(),
                    files,
                })
                .collect(),
        })
    };
    let secret = |name: &str, reload: Reload, entries: Vec<Option<IssuedEntry>>| IssuedSecret {
        secret: name.to_string(),
        reload,
        entries: entries.into_iter().flatten().collect(),
    };
    // konnectivity-server reads the API server's pair once (`--cluster-cert`): a renewal rolls.
    let apiserver_reload = if t.konnectivity.is_some() { Reload::Roll } else { Reload::Files };
    let mut admin = vec![entry(Artefact::Admin, &ca, None, vec![("admin.conf", &t.server_url, false), ("admin.svc", &svc, false)])];
    if t.super_admin_in_cluster {
        admin.push(entry(
            Artefact::SuperAdmin,
            &ca,
            None,
            vec![("super-admin.conf", &t.server_url, false), ("super-admin.svc", &svc, false)],
        ));
    }
    let mut out = vec![
        secret(&s.apiserver, apiserver_reload, vec![entry(Artefact::Apiserver, &ca, Some("apiserver"), vec![])]),
        secret(
            &s.apiserver_kubelet_client,
            Reload::Files,
            vec![entry(Artefact::ApiserverKubeletClient, &ca, Some("apiserver-kubelet-client"), vec![])],
        ),
        secret(
            &s.front_proxy_client,
            Reload::Files,
            vec![entry(Artefact::FrontProxyClient, &front_proxy_ca, Some("front-proxy-client"), vec![])],
        ),
        secret(&s.admin_kubeconfig, Reload::None, admin),
        secret(
            &s.controller_manager_kubeconfig,
            Reload::Files,
            vec![entry(Artefact::ControllerManager, &ca, Some("controller-manager"), vec![("controller-manager.conf", &local, true)])],
        ),
        secret(
            &s.scheduler_kubeconfig,
            Reload::Files,
            vec![entry(Artefact::Scheduler, &ca, Some("scheduler"), vec![("scheduler.conf", &local, true)])],
        ),
    ];
    if t.konnectivity.is_some() {
        out.push(secret(
            &s.konnectivity_kubeconfig,
            Reload::Files,
            vec![entry(Artefact::Konnectivity, &ca, Some("konnectivity-server"), vec![("konnectivity-server.conf", &local, true)])],
        ));
    }
    out
}

/// One Secret: its name, component label and keys (key → which artefact and part it holds).
pub(super) struct SecretPlan {
    pub(super) name: String,
    pub(super) component: &'static str,
    pub(super) inputs: String,
}

/// The Secrets and the public facts each one's content depends on.
pub(super) fn secret_plans(
    t: &Tenant,
    fp: &BTreeMap<Artefact, String>,
    ds_fp: &str,
    sealer: &Sealer,
    sa_extra: Option<&str>,
) -> Vec<SecretPlan> {
    let s = &t.secrets;
    let f = |a: Artefact| fp.get(&a).cloned().unwrap_or_default();
    let seal_id = sealer.id();
    let plan = |name: &str, component: &'static str, facts: Vec<String>| SecretPlan {
        name: name.to_string(),
        component,
        inputs: sha256(format!("{}/{name}\n{seal_id}\n{}", t.namespace, facts.join("\n")).as_bytes()),
    };
    let local = format!("https://127.0.0.1:{}", t.port);
    let svc = format!("https://{}.{}.svc:{}", t.name, t.namespace, t.port);
    let mut plans = vec![
        plan(&s.ca, "ca", vec![f(Artefact::Ca)]),
        plan(&s.front_proxy_ca, "front-proxy-ca-certificate", vec![f(Artefact::FrontProxyCa)]),
        plan(&s.sa, "sa-certificate", [f(Artefact::Sa)].into_iter().chain(sa_extra.map(|e| format!("sa-extra={e}"))).collect()),
        plan(&s.apiserver, "api-server-certificate", vec![f(Artefact::Apiserver)]),
        plan(&s.apiserver_kubelet_client, "api-server-kubelet-client-certificate", vec![f(Artefact::ApiserverKubeletClient)]),
        plan(&s.front_proxy_client, "front-proxy-client-certificate", vec![f(Artefact::FrontProxyClient)]),
        plan(
            &s.admin_kubeconfig,
            "admin-kubeconfig",
            vec![
                f(Artefact::Ca),
                f(Artefact::Admin),
                if t.super_admin_in_cluster { f(Artefact::SuperAdmin) } else { "no super-admin".into() },
                t.server_url.clone(),
                svc,
            ],
        ),
        plan(
            &s.controller_manager_kubeconfig,
            "controller-manager-kubeconfig",
            vec![f(Artefact::Ca), f(Artefact::ControllerManager), local.clone()],
        ),
        plan(&s.scheduler_kubeconfig, "scheduler-kubeconfig", vec![f(Artefact::Ca), f(Artefact::Scheduler), local.clone()]),
    ];
    if t.pki.companion_rotation {
        let owned = companion_secrets(t);
        plans.retain(|p| !owned.contains(&p.name));
    }
    if t.konnectivity.is_some() && !t.pki.companion_rotation {
        plans.push(plan(&s.konnectivity_kubeconfig, "konnectivity-kubeconfig", vec![f(Artefact::Ca), f(Artefact::Konnectivity), local]));
    }
    if let Some(a) = &t.argocd_delivery {
        let facts = vec![f(Artefact::Ca), f(Artefact::SuperAdmin), a.server.clone(), a.cluster_name.clone(), a.namespace.clone()];
        plans.push(plan(&a.secret_name, "argocd-cluster", [facts, a.project.iter().cloned().collect()].concat()));
    }
    if let Some(e) = &t.datastore.dedicated {
        plans.push(plan(&e.secret, "etcd-certificates", vec![f(Artefact::EtcdCa), f(Artefact::EtcdServer), f(Artefact::EtcdPeer)]));
    }
    match &t.datastore.kine {
        None => {
            let mut facts = vec![f(Artefact::DatastoreClient), ds_fp.to_string()];
            if t.datastore.dedicated.is_some() {
                facts.push(f(Artefact::EtcdCa));
            }
            plans.push(plan(&s.datastore, "datastore-certificate", facts));
        }
        Some(k) => {
            if k.tls {
                plans.push(plan(&s.datastore, "datastore-certificate", vec![ds_fp.to_string()]));
            }
            plans.push(plan(&k.config_secret, "datastore-config", vec![ds_fp.to_string()]));
            if let Some(secret) = k.setup.as_ref().and_then(|s| s.secret.as_ref()) {
                plans.push(plan(secret, "datastore-setup", vec![ds_fp.to_string()]));
            }
        }
    }
    plans
}

type Payload = BTreeMap<String, Zeroizing<Vec<u8>>>;

/// The plaintext content of every Secret, by name (Kamaji's key names).
pub(super) fn secret_data(
    t: &Tenant,
    issued: &BTreeMap<Artefact, Issued>,
    key_pems: &BTreeMap<Artefact, Zeroizing<String>>,
    sa: &PrivateKey,
    sa_extra_pub: Option<&str>,
    ds_ca_cert: &str,
    ca_bundle: &str,
    creds: Option<&DataStoreCredentials>,
    client: Option<&DataStoreState>,
    tenant_password: Option<&str>,
) -> BTreeMap<String, Payload> {
    let s = &t.secrets;
    let bytes = |v: &str| Zeroizing::new(v.as_bytes().to_vec());
    let pair = |a: Artefact, base: &str| -> Payload {
        let i = &issued[&a];
        BTreeMap::from([
            (format!("{base}.crt"), bytes(&i.cert_pem)),
            (format!("{base}.key"), Zeroizing::new(key_pems[&a].as_bytes().to_vec())),
        ])
    };
    let kubeconfig = |a: Artefact, server: &str| -> Zeroizing<Vec<u8>> {
        let i = &issued[&a];
        let user = a.kubeconfig().map_or("user", |(u, _)| u);
        Zeroizing::new(tcpc_pki::kubeconfig_with_key_pem(&t.name, server, ca_bundle, user, &i.cert_pem, &key_pems[&a]).as_bytes().to_vec())
    };
    let local = format!("https://127.0.0.1:{}", t.port);
    let svc = format!("https://{}.{}.svc:{}", t.name, t.namespace, t.port);
    let mut ca = pair(Artefact::Ca, "ca");
    ca.insert("ca.crt".into(), bytes(ca_bundle));
    let mut out = BTreeMap::from([
        (s.ca.clone(), ca),
        (s.front_proxy_ca.clone(), pair(Artefact::FrontProxyCa, "front-proxy-ca")),
        (
            s.sa.clone(),
            BTreeMap::from([
                ("sa.key".to_string(), Zeroizing::new(key_pems[&Artefact::Sa].as_bytes().to_vec())),
                // During a rotation both keys verify: the signer's first.
                ("sa.pub".to_string(), bytes(&format!("{}{}", sa.public_key_pem(), sa_extra_pub.unwrap_or_default()))),
            ]),
        ),
    ]);
    // `rotation: companion`: the leaves and component kubeconfigs are the companion's.
    let leaves = (!t.pki.companion_rotation).then(|| {
        [
            (s.apiserver.clone(), pair(Artefact::Apiserver, "apiserver")),
            (s.apiserver_kubelet_client.clone(), pair(Artefact::ApiserverKubeletClient, "apiserver-kubelet-client")),
            (s.front_proxy_client.clone(), pair(Artefact::FrontProxyClient, "front-proxy-client")),
            (s.admin_kubeconfig.clone(), {
                let mut m = BTreeMap::from([
                    ("admin.conf".to_string(), kubeconfig(Artefact::Admin, &t.server_url)),
                    ("admin.svc".to_string(), kubeconfig(Artefact::Admin, &svc)),
                ]);
                // system:masters bypasses RBAC: in the cluster only when the spec asks for it.
                if t.super_admin_in_cluster {
                    m.insert("super-admin.conf".to_string(), kubeconfig(Artefact::SuperAdmin, &t.server_url));
                    m.insert("super-admin.svc".to_string(), kubeconfig(Artefact::SuperAdmin, &svc));
                }
                m
            }),
            (
                s.controller_manager_kubeconfig.clone(),
                BTreeMap::from([("controller-manager.conf".to_string(), kubeconfig(Artefact::ControllerManager, &local))]),
            ),
            (s.scheduler_kubeconfig.clone(), BTreeMap::from([("scheduler.conf".to_string(), kubeconfig(Artefact::Scheduler, &local))])),
        ]
    });
    out.extend(leaves.into_iter().flatten());
    if t.konnectivity.is_some() && !t.pki.companion_rotation {
        out.insert(
            s.konnectivity_kubeconfig.clone(),
            BTreeMap::from([("konnectivity-server.conf".to_string(), kubeconfig(Artefact::Konnectivity, &local))]),
        );
    }
    if let Some(a) = &t.argocd_delivery {
        out.insert(
            a.secret_name.clone(),
            argocd_cluster(a, ca_bundle, &issued[&Artefact::SuperAdmin].cert_pem, &key_pems[&Artefact::SuperAdmin]),
        );
    }
    if let Some(e) = &t.datastore.dedicated {
        let mut m = pair(Artefact::EtcdServer, "server");
        m.extend(pair(Artefact::EtcdPeer, "peer"));
        m.insert("ca.crt".to_string(), bytes(ds_ca_cert));
        out.insert(e.secret.clone(), m);
    }
    match (&t.datastore.kine, creds) {
        (None, _) => {
            let ds = &issued[&Artefact::DatastoreClient];
            out.insert(
                s.datastore.clone(),
                BTreeMap::from([
                    ("ca.crt".to_string(), bytes(ds_ca_cert)),
                    ("server.crt".to_string(), bytes(&ds.cert_pem)),
                    ("server.key".to_string(), Zeroizing::new(key_pems[&Artefact::DatastoreClient].as_bytes().to_vec())),
                ]),
            );
        }
        (Some(k), creds) => {
            if k.tls {
                let mut m = BTreeMap::from([("ca.crt".to_string(), bytes(ds_ca_cert))]);
                // kine's `--cert-file`/`--key-file` (Kamaji's names for the DataStore's client pair).
                if let Some(c) = client {
                    m.insert("server.crt".to_string(), bytes(&c.cert));
                    m.insert("server.key".to_string(), bytes(&c.key));
                }
                out.insert(s.datastore.clone(), m);
            }
            // NATS: the DataStore's own credentials (one bucket per tenant); SQL: the tenant's user.
            let (user, password) = match (&k.setup, tenant_password, creds) {
                (Some(_), Some(p), _) => (t.datastore.user.as_str(), p),
                (_, _, Some(c)) => (c.username.as_str(), c.password.as_str()),
                _ => ("", ""),
            };
            out.insert(
                k.config_secret.clone(),
                BTreeMap::from([
                    ("DB_CONNECTION_STRING".to_string(), bytes(&k.connection_string)),
                    ("DB_SCHEMA".to_string(), bytes(&t.datastore.schema)),
                    ("DB_USER".to_string(), bytes(user)),
                    ("DB_PASSWORD".to_string(), bytes(password)),
                ]),
            );
            if let Some((setup, secret)) = k.setup.as_ref().and_then(|s| Some((s, s.secret.as_ref()?))) {
                let mut m = BTreeMap::from([
                    ("DB_HOST".to_string(), bytes(&setup.host)),
                    ("DB_PORT".to_string(), bytes(&setup.port.to_string())),
                    ("DB_SCHEMA".to_string(), bytes(&t.datastore.schema)),
                    ("DB_USER".to_string(), bytes(&t.datastore.user)),
                    ("DB_PASSWORD".to_string(), bytes(tenant_password.unwrap_or_default())),
                ]);
                if k.tls {
                    m.insert("ca.crt".to_string(), bytes(ds_ca_cert));
                }
                out.insert(secret.clone(), m);
            }
        }
    }
    out
}

/// Argo CD's cluster Secret: the cluster's name and server, and `config` with the TLS client
/// credentials (`tlsClientConfig` of base64 PEMs, Argo CD's `ClusterConfig`). Only the key is
/// secret; it never leaves zeroizing buffers.
fn argocd_cluster(a: &crate::resolve::delivery::ArgoCdPlan, ca_bundle: &str, cert_pem: &str, key_pem: &str) -> Payload {
    use base64::Engine as _;
    let b64 = |v: &[u8]| Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(v));
    let (ca, cert, key) = (b64(ca_bundle.as_bytes()), b64(cert_pem.as_bytes()), b64(key_pem.as_bytes()));
    let config = Zeroizing::new(format!(r#"{{"tlsClientConfig":{{"caData":"{}","certData":"{}","keyData":"{}"}}}}"#, *ca, *cert, *key));
    let mut m = BTreeMap::from([
        ("config".to_string(), Zeroizing::new(config.as_bytes().to_vec())),
        ("name".to_string(), Zeroizing::new(a.cluster_name.as_bytes().to_vec())),
        ("server".to_string(), Zeroizing::new(a.server.as_bytes().to_vec())),
    ]);
    if let Some(p) = &a.project {
        m.insert("project".to_string(), Zeroizing::new(p.as_bytes().to_vec()));
    }
    m
}

pub(super) fn seal(
    t: &Tenant,
    plan: &SecretPlan,
    payload: &Payload,
    env: &PkiEnv<'_>,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Value, String> {
    let labels = crate::lock_check::secret_labels(t, plan.component);
    match env.sealer {
        Sealer::SealedSecrets { cert, scope, .. } => tcpc_seal::sealedsecrets::sealed_secret(
            cert,
            *scope,
            &plan.name,
            crate::lock_check::secret_namespace(t, plan.component),
            "Opaque",
            &labels,
            &BTreeMap::new(),
            payload,
            rng,
        )
        .map_err(|e| e.to_string()),
        Sealer::Sops { recipients, .. } => {
            use base64::Engine as _;
            let data: serde_json::Map<String, Value> = payload
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(base64::engine::general_purpose::STANDARD.encode(v.as_slice()))))
                .collect();
            let secret = json!({
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": plan.name, "namespace": crate::lock_check::secret_namespace(t, plan.component), "labels": labels},
                "data": data,
            });
            crate::check::check(secret.clone()).map_err(|e| e.to_string())?;
            let lastmodified =
                env.now.format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")).expect("formats");
            tcpc_seal::sops::encrypt_secret(&secret, recipients, &lastmodified, rng).map_err(|e| e.to_string())
        }
    }
}

/// A sealed object for output, with the public facts of the certificate it holds as
/// annotations. The lock keeps the object without them: they are derived on every render from
/// the certificate specs and the lock (never from the identity). SOPS documents are left as
/// they are: their MAC covers the metadata.
pub(super) fn rendered(t: &Tenant, mut object: Value, annotations: BTreeMap<String, String>) -> Rendered {
    if object.get("sops").is_none()
        && !annotations.is_empty()
        && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(a) = meta.entry("annotations").or_insert_with(|| json!({})).as_object_mut()
    {
        for (k, v) in annotations {
            a.insert(k, Value::String(v));
        }
    }
    Rendered { namespace: t.namespace.clone(), tcp: t.name.clone(), bundle: Bundle::Management, object }
}

/// The certificate a Secret is about (for kubeconfigs: the client certificate; `admin`'s Secret
/// also holds `super-admin`, issued with it).
fn secret_certificate(t: &Tenant, secret: &str) -> Option<Artefact> {
    let s = &t.secrets;
    [
        (&s.ca, Artefact::Ca),
        (&s.front_proxy_ca, Artefact::FrontProxyCa),
        (&s.apiserver, Artefact::Apiserver),
        (&s.apiserver_kubelet_client, Artefact::ApiserverKubeletClient),
        (&s.front_proxy_client, Artefact::FrontProxyClient),
        (&s.datastore, Artefact::DatastoreClient),
        (&s.admin_kubeconfig, Artefact::Admin),
        (&s.controller_manager_kubeconfig, Artefact::ControllerManager),
        (&s.scheduler_kubeconfig, Artefact::Scheduler),
        (&s.konnectivity_kubeconfig, Artefact::Konnectivity),
    ]
    .into_iter()
    .find(|(name, _)| name.as_str() == secret)
    .map(|(_, a)| a)
    // A dedicated etcd's Secret: described by its serving certificate (the peer one is its twin).
    .or_else(|| t.datastore.dedicated.as_ref().filter(|e| e.secret == secret).map(|_| Artefact::EtcdServer))
    // Argo CD's cluster Secret: its client certificate.
    .or_else(|| t.argocd_delivery.as_ref().filter(|a| a.secret_name == secret).map(|_| Artefact::SuperAdmin))
}

/// `tcpc.dev/certificate-subject`, `-sans` and `-not-after` of the certificate a Secret holds:
/// public facts, from the certificate spec (or, for an imported CA, the published CA bundle)
/// and the lock.
pub(super) fn certificate_annotations(
    t: &Tenant,
    secret: &str,
    specs: &BTreeMap<Artefact, tcpc_pki::CertSpec>,
    artefacts: &BTreeMap<String, ArtefactLock>,
    ca_bundle: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(a) = secret_certificate(t, secret) else { return out };
    let Some(entry) = artefacts.get(a.as_str()) else { return out };
    let subject = |cn: &str, orgs: &[String]| {
        let mut s = format!("CN={cn}");
        for o in orgs {
            s.push_str(&format!(",O={o}"));
        }
        s
    };
    let (subject, sans) = if entry.imported {
        match CertInfo::parse(ca_bundle) {
            Ok(info) => (subject(&info.subject_cn, &info.organizations), san_list(&info.dns_sans, &info.ip_sans)),
            Err(_) => return out,
        }
    } else {
        match specs.get(&a) {
            Some(spec) => (subject(&spec.common_name, &spec.organizations), san_list(&spec.dns_sans, &spec.ip_sans)),
            None => return out,
        }
    };
    out.insert("tcpc.dev/certificate-subject".into(), subject);
    if !sans.is_empty() {
        out.insert("tcpc.dev/certificate-sans".into(), sans);
    }
    if let Some(na) = &entry.not_after {
        out.insert("tcpc.dev/certificate-not-after".into(), na.clone());
    }
    out
}

fn san_list(dns: &[String], ips: &[std::net::IpAddr]) -> String {
    dns.iter().cloned().chain(ips.iter().map(ToString::to_string)).collect::<Vec<_>>().join(",")
}
