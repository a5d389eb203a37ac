//! The PKI tcpc renders is checked by the real tools that consume it.
//!
//! - `golden_pki_agrees_with_kubeseal_openssl_kubectl_kubeadm`: every committed SealedSecret
//!   unseals with kubeseal into the Secret Kamaji expects (name, namespace, keys); with
//!   openssl every leaf verifies against its CA, keys match certificates, SANs, key usages,
//!   EKUs and Os match what the peers' kubeadm issues for the same algorithm; every kubeconfig
//!   loads in kubectl and its client certificate verifies; the P-384 tenant has P-384 keys.
//! - `sops_sealing_agrees_with_sops`: with `sealing.sops`, `sops -d` verifies the MAC and yields
//!   v1 Secrets whose certificates verify; a tampered file is rejected.
//! - `render_without_identity_is_byte_stable`, `certsan_change_reissues_only_the_apiserver_cert`,
//!   `renewal_reissues_leaves_only`, `imported_intermediate_ca_publishes_its_chain`: the reuse
//!   and re-issue logic, observed on the rendered tree, the lock and tcpc's report.
//!
//! Missing peers: see `tests/common/peers.rs` (skip loudly, or fail under `TCPC_REQUIRE_PEERS=1`).

mod common;
use common::peers;
use common::pki as harness;
use common::snapshot;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use harness::*;

/// What a tenant of `examples/` must get.
struct TenantExp {
    ns: &'static str,
    tcp: &'static str,
    /// openssl's `NIST CURVE:` of every key.
    curve: &'static str,
    port: u16,
    /// SANs the apiserver certificate must carry, as openssl prints them.
    sans: &'static [&'static str],
    datastore_user: &'static str,
    /// The admin Secret carries `super-admin.conf` (annotation `tcpc.dev/super-admin-in-cluster`).
    super_admin_in_cluster: bool,
    /// `tcpc.dev/dedicated-etcd`: its own etcd CA signs its etcd's server and peer certificates
    /// (`<tcp>-etcd-certs`) and its datastore client certificate.
    dedicated_etcd: bool,
    /// `spec.addons.konnectivity`: the proxy server's kubeconfig (`<tcp>-konnectivity-kubeconfig`).
    konnectivity: bool,
}

const TENANTS: &[TenantExp] = &[
    TenantExp {
        ns: "platform",
        tcp: "full",
        curve: "P-384",
        port: 6443,
        sans: &[
            "DNS:kubernetes.default.svc.tenant.local",
            "DNS:full.platform.svc",
            "DNS:api.full.example.com",
            "IP Address:198.51.100.7",
            "IP Address:203.0.113.20",
            "IP Address:10.96.0.1",
            "IP Address:127.0.0.1",
            "DNS:localhost",
        ],
        datastore_user: "platform_full",
        super_admin_in_cluster: true,
        dedicated_etcd: false,
        konnectivity: true,
    },
    TenantExp {
        ns: "tenants",
        tcp: "edge",
        curve: "P-256",
        port: 31443,
        sans: &[
            "DNS:kubernetes.default.svc.cluster.local",
            "DNS:edge.tenants.svc",
            "DNS:edge.k8s.example.com",
            "IP Address:192.0.2.10",
            "IP Address:10.96.0.1",
            "IP Address:127.0.0.1",
            "DNS:localhost",
        ],
        datastore_user: "tenants_edge",
        super_admin_in_cluster: false,
        dedicated_etcd: false,
        konnectivity: true,
    },
    TenantExp {
        ns: "tenants",
        tcp: "minimal",
        curve: "P-256",
        port: 6443,
        sans: &[
            "DNS:kubernetes.default.svc.cluster.local",
            "DNS:minimal.tenants.svc",
            "IP Address:10.96.0.1",
            "IP Address:127.0.0.1",
            "DNS:localhost",
        ],
        datastore_user: "tenants_minimal",
        super_admin_in_cluster: false,
        dedicated_etcd: false,
        konnectivity: false,
    },
    TenantExp {
        ns: "tenants",
        tcp: "trusting",
        curve: "P-256",
        port: 6443,
        sans: &[
            "DNS:kubernetes.default.svc.cluster.local",
            "DNS:trusting.tenants.svc",
            "IP Address:10.100.0.1",
            "IP Address:127.0.0.1",
            "DNS:localhost",
        ],
        datastore_user: "tenants_trusting",
        super_admin_in_cluster: false,
        dedicated_etcd: false,
        konnectivity: false,
    },
    TenantExp {
        ns: "platform",
        tcp: "isolated",
        curve: "P-256",
        port: 6443,
        sans: &[
            "DNS:kubernetes.default.svc.cluster.local",
            "DNS:isolated.platform.svc",
            "DNS:isolated.k8s.example.com",
            "IP Address:10.96.0.1",
            "IP Address:127.0.0.1",
            "DNS:localhost",
        ],
        datastore_user: "platform_isolated",
        super_admin_in_cluster: false,
        dedicated_etcd: true,
        konnectivity: true,
    },
];

fn tenant(ns: &str, tcp: &str) -> &'static TenantExp {
    TENANTS.iter().find(|t| t.ns == ns && t.tcp == tcp).unwrap()
}

/// The Secrets Kamaji's control plane mounts, with their keys (the super-admin kubeconfig only
/// when the tenant asks for it in the cluster).
fn expected_secrets(t: &TenantExp) -> BTreeMap<String, BTreeSet<&'static str>> {
    let admin: &[&str] = if t.super_admin_in_cluster {
        &["admin.conf", "admin.svc", "super-admin.conf", "super-admin.svc"]
    } else {
        &["admin.conf", "admin.svc"]
    };
    [
        ("ca", &["ca.crt", "ca.key"][..]),
        ("front-proxy-ca-certificate", &["front-proxy-ca.crt", "front-proxy-ca.key"]),
        ("sa-certificate", &["sa.key", "sa.pub"]),
        ("api-server-certificate", &["apiserver.crt", "apiserver.key"]),
        ("api-server-kubelet-client-certificate", &["apiserver-kubelet-client.crt", "apiserver-kubelet-client.key"]),
        ("front-proxy-client-certificate", &["front-proxy-client.crt", "front-proxy-client.key"]),
        ("datastore-certificate", &["ca.crt", "server.crt", "server.key"]),
        ("admin-kubeconfig", admin),
        ("controller-manager-kubeconfig", &["controller-manager.conf"]),
        ("scheduler-kubeconfig", &["scheduler.conf"]),
    ]
    .into_iter()
    .chain(t.dedicated_etcd.then_some(("etcd-certs", &["ca.crt", "peer.crt", "peer.key", "server.crt", "server.key"][..])))
    .chain(t.konnectivity.then_some(("konnectivity-kubeconfig", &["konnectivity-server.conf"][..])))
    .map(|(suffix, keys)| (format!("{}-{suffix}", t.tcp), keys.iter().copied().collect()))
    .collect()
}

/// Collects every disagreement, so one run reports all of them.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.0.push(msg());
        }
    }
    fn assert_none(self, what: &str) {
        assert!(self.0.is_empty(), "{what}: {} problem(s):\n  - {}", self.0.len(), self.0.join("\n  - "));
    }
}

/// What kubeadm issues, per artefact, for one key algorithm.
struct KubeadmRef {
    certs: BTreeMap<&'static str, CertText>,
}

/// `kubeadm init phase certs all` + `kubeconfig all` with `encryptionAlgorithm: alg`.
fn kubeadm_reference(p: &Peers, kubeadm: &Path, dir: &Path, alg: &str) -> KubeadmRef {
    let pki = dir.join("pki");
    let kc = dir.join("kc");
    std::fs::create_dir_all(&kc).unwrap();
    let cfg = dir.join("kubeadm.yaml");
    std::fs::write(
        &cfg,
        format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.0.2.10\n  bindPort: 6443\nnodeRegistration:\n  name: tenant-0\n---\n\
             apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.36.3\nclusterName: tenant-0\ncontrolPlaneEndpoint: tenant-0.example.com:6443\n\
             encryptionAlgorithm: {alg}\ncertificatesDir: {}\nnetworking:\n  serviceSubnet: 10.96.0.0/16\n  dnsDomain: cluster.local\n",
            pki.display()
        ),
    )
    .unwrap();
    run_ok(Command::new(kubeadm).args(["init", "phase", "certs", "all", "--config"]).arg(&cfg));
    run_ok(Command::new(kubeadm).args(["init", "phase", "kubeconfig", "all", "--config"]).arg(&cfg).arg("--kubeconfig-dir").arg(&kc));
    let mut certs = BTreeMap::new();
    for a in ["ca", "front-proxy-ca", "apiserver", "apiserver-kubelet-client", "front-proxy-client"] {
        certs.insert(a, cert_text(&p.openssl, &std::fs::read(pki.join(format!("{a}.crt"))).unwrap()));
    }
    // A stacked etcd's (what a dedicated etcd's member certificates are compared with).
    for (a, file) in [("etcd-server", "etcd/server"), ("etcd-peer", "etcd/peer")] {
        certs.insert(a, cert_text(&p.openssl, &std::fs::read(pki.join(format!("{file}.crt"))).unwrap()));
    }
    for a in ["admin", "super-admin", "controller-manager", "scheduler"] {
        let k = kubeconfig(&p.kubectl, &kc.join(format!("{a}.conf")));
        certs.insert(a, cert_text(&p.openssl, &k.cert));
    }
    KubeadmRef { certs }
}

/// kubeadm's key usage for `artefact`, adjusted by tcpc's one documented deviation
/// (crates/pki/src/cert.rs): ECDSA leaves carry digitalSignature only, since keyEncipherment
/// has meaning only for RSA key transport (RFC 5480 §3); kubeadm sets it on every leaf.
fn kubeadm_key_usage(r: &KubeadmRef, artefact: &str, ecdsa: bool) -> String {
    let ku = r.certs[artefact].key_usage.clone();
    let is_ca = r.certs[artefact].basic_constraints.contains("CA:TRUE");
    if ecdsa && !is_ca { ku.replace(", Key Encipherment", "") } else { ku }
}

/// Checks one tenant's decoded Secrets (from kubeseal or sops) with openssl and kubectl.
fn check_tenant(
    p: &Peers,
    scratch: &Path,
    offline: (&Path, &Path),
    secrets: &BTreeMap<String, Unsealed>,
    t: &TenantExp,
    kubeadm: Option<&KubeadmRef>,
    probs: &mut Problems,
) {
    let who = format!("{}/{}", t.ns, t.tcp);
    let get = |suffix: &str| -> &Unsealed {
        let name = format!("{}/{}-{suffix}", t.ns, t.tcp);
        secrets.get(&name).unwrap_or_else(|| panic!("{who}: Secret {name} missing (have {:?})", secrets.keys()))
    };
    let o = &p.openssl;

    // Names, namespaces, keys.
    for (name, keys) in expected_secrets(t) {
        let Some(s) = secrets.get(&format!("{}/{name}", t.ns)) else {
            probs.check(false, || format!("{who}: Secret {name} missing"));
            continue;
        };
        let have: BTreeSet<&str> = s.data.keys().map(String::as_str).collect();
        probs.check(have == keys, || format!("{who}: Secret {name} has keys {have:?}, expected {keys:?}"));
        probs.check(s.object["type"] == "Opaque", || format!("{who}: Secret {name} type {}", s.object["type"]));
        probs.check(s.object["metadata"]["labels"]["kamaji.clastix.io/name"] == t.tcp, || {
            format!("{who}: Secret {name} lacks the kamaji.clastix.io/name label")
        });
    }

    let ca_secret = get("ca");
    let ca_bundle = ca_secret.data["ca.crt"].clone();
    let ca_blocks = pem_blocks(&String::from_utf8_lossy(&ca_bundle));
    probs.check(!ca_blocks.is_empty(), || format!("{who}: ca.crt has no certificate"));
    let ca_cert = ca_blocks[0].as_bytes().to_vec();
    let fp_ca = get("front-proxy-ca-certificate").data["front-proxy-ca.crt"].clone();
    let ds = get("datastore-certificate");

    // Every (artefact, cert, key, issuer bundle) pair tcpc emits.
    struct Pair {
        artefact: &'static str,
        cert: Vec<u8>,
        key: Vec<u8>,
        issuer: Vec<u8>,
    }
    let data = |suffix: &str, key: &str| get(suffix).data[key].clone();
    let mut pairs = vec![
        Pair { artefact: "ca", cert: ca_cert.clone(), key: data("ca", "ca.key"), issuer: ca_cert.clone() },
        Pair {
            artefact: "front-proxy-ca",
            cert: fp_ca.clone(),
            key: data("front-proxy-ca-certificate", "front-proxy-ca.key"),
            issuer: fp_ca.clone(),
        },
        Pair {
            artefact: "apiserver",
            cert: data("api-server-certificate", "apiserver.crt"),
            key: data("api-server-certificate", "apiserver.key"),
            issuer: ca_bundle.clone(),
        },
        Pair {
            artefact: "apiserver-kubelet-client",
            cert: data("api-server-kubelet-client-certificate", "apiserver-kubelet-client.crt"),
            key: data("api-server-kubelet-client-certificate", "apiserver-kubelet-client.key"),
            issuer: ca_bundle.clone(),
        },
        Pair {
            artefact: "front-proxy-client",
            cert: data("front-proxy-client-certificate", "front-proxy-client.crt"),
            key: data("front-proxy-client-certificate", "front-proxy-client.key"),
            issuer: fp_ca.clone(),
        },
        Pair {
            artefact: "datastore-client",
            cert: ds.data["server.crt"].clone(),
            key: ds.data["server.key"].clone(),
            issuer: ds.data["ca.crt"].clone(),
        },
    ];
    if t.dedicated_etcd {
        let etcd_ca = data("etcd-certs", "ca.crt");
        probs.check(ds.data["ca.crt"] == etcd_ca, || format!("{who}: kube-apiserver does not verify its etcd with the etcd's CA"));
        probs.check(etcd_ca != ca_cert && etcd_ca != fp_ca, || format!("{who}: the etcd CA is another CA of the tenant"));
        for (artefact, base) in [("etcd-server", "server"), ("etcd-peer", "peer")] {
            let cert = data("etcd-certs", &format!("{base}.crt"));
            // Members dial each other and are dialled by name (usages: checked with the others).
            let c = cert_text(o, &cert);
            let member = format!("DNS:*.{}-etcd.{}.svc.cluster.local", t.tcp, t.ns);
            probs.check(c.sans.contains(&member), || format!("{who}: {artefact}: SAN {member} missing (has {:?})", c.sans));
            pairs.push(Pair { artefact, cert, key: data("etcd-certs", &format!("{base}.key")), issuer: etcd_ca.clone() });
        }
    }

    // Kubeconfigs: kubectl loads them; their CA is the tenant CA bundle; their servers.
    let svc = format!("https://{}.{}.svc:{}", t.tcp, t.ns, t.port);
    let local = format!("https://127.0.0.1:{}", t.port);
    let mut kubeconfigs = vec![
        ("admin-kubeconfig", "admin.conf", "admin", None),
        ("admin-kubeconfig", "admin.svc", "admin", Some(svc.as_str())),
        ("controller-manager-kubeconfig", "controller-manager.conf", "controller-manager", Some(local.as_str())),
        ("scheduler-kubeconfig", "scheduler.conf", "scheduler", Some(local.as_str())),
    ];
    if t.super_admin_in_cluster {
        kubeconfigs.push(("admin-kubeconfig", "super-admin.conf", "super-admin", None));
        kubeconfigs.push(("admin-kubeconfig", "super-admin.svc", "super-admin", Some(svc.as_str())));
    }
    if t.konnectivity {
        // The proxy server is a sidecar of kube-apiserver: it dials it on the loopback.
        kubeconfigs.push(("konnectivity-kubeconfig", "konnectivity-server.conf", "konnectivity", Some(local.as_str())));
    }
    // `tcpc kubeconfig` (offline, from the state) writes exactly the kubeconfig the admin Secret
    // holds or would hold; a super-admin kept out of the cluster is checked through it.
    for (user, key) in [("admin", "admin.conf"), ("super-admin", "super-admin.conf")] {
        let path = scratch.join(format!("{}-{}-offline-{key}", t.ns, t.tcp));
        let _ = std::fs::remove_file(&path);
        let (dir, identity) = offline;
        let run = tcpc(
            &[
                "kubeconfig".into(),
                format!("{}/{}", t.ns, t.tcp),
                "--user".into(),
                user.into(),
                "--dir".into(),
                s(dir),
                "--identity".into(),
                s(identity),
                "-o".into(),
                s(&path),
            ],
            EPOCH,
        )
        .expect_ok();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        probs.check(mode == 0o600, || format!("{who}: tcpc kubeconfig --user {user} wrote mode {mode:o}"));
        probs
            .check(!run.stderr.contains("PRIVATE KEY") && run.stdout.is_empty(), || format!("{who}: tcpc kubeconfig printed key material"));
        let offline_bytes = std::fs::read(&path).unwrap();
        if let Some(in_secret) = get("admin-kubeconfig").data.get(key) {
            probs.check(&offline_bytes == in_secret, || format!("{who}: tcpc kubeconfig --user {user} differs from the Secret's {key}"));
        } else {
            probs.check(user == "super-admin" && !t.super_admin_in_cluster, || format!("{who}: the admin Secret lacks {key}"));
            let k = kubeconfig(&p.kubectl, &path);
            probs.check(k.ca == ca_bundle, || format!("{who}: offline {key}: certificate-authority-data is not the tenant CA bundle"));
            pairs.push(Pair { artefact: "super-admin", cert: k.cert, key: k.key, issuer: k.ca });
        }
    }
    for (suffix, key, artefact, server) in kubeconfigs {
        let path = scratch.join(format!("{}-{}-{key}", t.ns, t.tcp));
        std::fs::write(&path, &get(suffix).data[key]).unwrap();
        let k = kubeconfig(&p.kubectl, &path);
        probs.check(k.ca == ca_bundle, || format!("{who}: {key}: certificate-authority-data is not the tenant CA bundle"));
        if let Some(server) = server {
            probs.check(k.server == server, || format!("{who}: {key}: server {} != {server}", k.server));
        }
        pairs.push(Pair { artefact, cert: k.cert, key: k.key, issuer: k.ca });
    }

    for pair in &pairs {
        let what = format!("{who}: {}", pair.artefact);
        // The key belongs to the certificate.
        probs.check(cert_pubkey(o, &pair.cert) == key_pubkey(o, &pair.key), || {
            format!("{what}: private key does not match the certificate")
        });
        // The certificate verifies against its CA.
        let (ok, msg) = verify(o, scratch, &pair.issuer, None, &pair.cert, EPOCH);
        probs.check(ok, || format!("{what}: openssl verify failed: {msg}"));
        // Key algorithm.
        let c = cert_text(o, &pair.cert);
        probs.check(c.text.contains(&format!("NIST CURVE: {}", t.curve)), || format!("{what}: certificate key is not {}", t.curve));
        let key_text = openssl_ok(o, &["pkey", "-noout", "-text"], Some(&pair.key));
        probs.check(key_text.contains(&format!("NIST CURVE: {}", t.curve)), || format!("{what}: private key is not {}", t.curve));

        // Usages and subject, explicitly ...
        let is_ca = pair.artefact.ends_with("ca");
        if is_ca {
            probs.check(c.basic_constraints == "critical: CA:TRUE", || format!("{what}: basicConstraints {:?}", c.basic_constraints));
            probs.check(c.key_usage.contains("Certificate Sign"), || format!("{what}: CA without keyCertSign: {:?}", c.key_usage));
        } else {
            probs.check(c.basic_constraints == "critical: CA:FALSE", || format!("{what}: basicConstraints {:?}", c.basic_constraints));
            let eku = match pair.artefact {
                "apiserver" => "TLS Web Server Authentication",
                "etcd-server" | "etcd-peer" => "TLS Web Server Authentication, TLS Web Client Authentication",
                _ => "TLS Web Client Authentication",
            };
            probs.check(c.ext_key_usage == eku, || format!("{what}: extendedKeyUsage {:?}, expected {eku:?}", c.ext_key_usage));
            probs.check(c.key_usage.starts_with("critical: Digital Signature"), || format!("{what}: keyUsage {:?}", c.key_usage));
        }
        let (cn, orgs): (&str, &[&str]) = match pair.artefact {
            "ca" => ("kubernetes", &[]),
            "front-proxy-ca" => ("front-proxy-ca", &[]),
            "apiserver" => ("kube-apiserver", &[]),
            "apiserver-kubelet-client" => ("kube-apiserver-kubelet-client", &[]),
            "front-proxy-client" => ("front-proxy-client", &[]),
            "datastore-client" => (t.datastore_user, &[]),
            "admin" => ("kubernetes-admin", &["kubeadm:cluster-admins"]),
            "super-admin" => ("kubernetes-super-admin", &["system:masters"]),
            "controller-manager" => ("system:kube-controller-manager", &[]),
            "scheduler" => ("system:kube-scheduler", &[]),
            // Kamaji's identity for the proxy server (bound to system:auth-delegator only).
            "konnectivity" => ("system:konnectivity-server", &[]),
            "etcd-server" | "etcd-peer" => (&format!("{}-etcd", t.tcp), &[]),
            other => unreachable!("{other}"),
        };
        probs.check(c.cn() == cn, || format!("{what}: CN {:?}, expected {cn:?}", c.cn()));
        probs.check(c.organizations() == orgs, || format!("{what}: O {:?}, expected {orgs:?}", c.organizations()));

        // ... and against what kubeadm issues for the same algorithm.
        if let Some(r) = kubeadm {
            // kubeadm issues neither a datastore client nor a konnectivity server certificate:
            // they are compared with kubeadm's client certificates of the same kind.
            let reference = match pair.artefact {
                "datastore-client" => "front-proxy-client",
                "konnectivity" => "scheduler",
                other => other,
            };
            let k = &r.certs[reference];
            let want_ku = kubeadm_key_usage(r, reference, true);
            probs.check(c.key_usage == want_ku, || format!("{what}: keyUsage {:?}, kubeadm: {want_ku:?}", c.key_usage));
            probs.check(c.ext_key_usage == k.ext_key_usage, || {
                format!("{what}: extendedKeyUsage {:?}, kubeadm: {:?}", c.ext_key_usage, k.ext_key_usage)
            });
            probs.check(c.basic_constraints == k.basic_constraints, || {
                format!("{what}: basicConstraints {:?}, kubeadm: {:?}", c.basic_constraints, k.basic_constraints)
            });
            // (kubeadm names a stacked etcd's certificates after the node)
            if !["datastore-client", "konnectivity", "etcd-server", "etcd-peer"].contains(&pair.artefact) {
                probs.check(c.organizations() == k.organizations(), || {
                    format!("{what}: O {:?}, kubeadm: {:?}", c.organizations(), k.organizations())
                });
                probs.check(c.cn() == k.cn(), || format!("{what}: CN {:?}, kubeadm: {:?}", c.cn(), k.cn()));
            }
        }

        if pair.artefact == "apiserver" {
            for san in t.sans {
                probs.check(c.sans.iter().any(|x| x == san), || format!("{what}: SAN {san} missing (has {:?})", c.sans));
            }
        }
    }

    // sa.pub is the public half of sa.key.
    let sa = get("sa-certificate");
    let sa_pub = key_pubkey(o, &sa.data["sa.key"]);
    let published = openssl_ok(o, &["pkey", "-pubin", "-pubout"], Some(&sa.data["sa.pub"]));
    probs.check(sa_pub == published, || format!("{who}: sa.pub does not match sa.key"));
    let sa_text = openssl_ok(o, &["pkey", "-noout", "-text"], Some(&sa.data["sa.key"]));
    probs.check(sa_text.contains(&format!("NIST CURVE: {}", t.curve)), || format!("{who}: sa.key is not {}", t.curve));
}

#[test]
fn golden_pki_agrees_with_kubeseal_openssl_kubectl_kubeadm() {
    let Some(p) = require_base_peers() else { return };
    let Some(kubeadm) = peers::require_peer("kubeadm") else { return };
    let scratch = tempfile::tempdir().unwrap();
    let golden = repo().join("golden");

    // kubeseal: every SealedSecret unseals, into a Secret named like its file and directory.
    let mut secrets = BTreeMap::new();
    let mut probs = Problems::default();
    for rel in snapshot(&golden).keys() {
        let file = Path::new(rel).file_name().unwrap().to_string_lossy().into_owned();
        if !(file.starts_with("sealedsecret-") && file.ends_with(".yaml")) {
            continue;
        }
        let u = unseal_file(&p.kubeseal, &golden.join(rel));
        let parts: Vec<&str> = rel.split('/').collect();
        probs.check(
            // (a SQL tenant's setup Secret lives beside its DataStore's admin Secret, `databases`)
            parts.len() == 4
                && (parts[0] == u.namespace
                    || (u.namespace == "databases" && u.name.starts_with(&format!("{}-datastore-setup-", parts[1]))))
                && parts[2] == "management"
                && file == format!("sealedsecret-{}.yaml", u.name),
            || format!("{rel}: unsealed Secret {}/{} does not match its path", u.namespace, u.name),
        );
        let sealed = yaml_file(&golden.join(rel));
        probs.check(sealed["metadata"]["name"] == u.name.as_str() && sealed["metadata"]["namespace"] == u.namespace.as_str(), || {
            format!("{rel}: SealedSecret metadata differs from its Secret")
        });
        secrets.insert(format!("{}/{}", u.namespace, u.name), u);
    }
    // The PostgreSQL tenant (kine): its PKI is the same code as the others' (checked below for
    // them); here its Secrets, their keys and the one password both carry. tests/e2e unseals all
    // of them with the real controller and runs the tenant on them.
    let kine_names: Vec<String> =
        secrets.keys().filter(|k| k.starts_with("platform/sql-") || k.starts_with("databases/")).cloned().collect();
    let kine: BTreeMap<String, _> = kine_names.iter().map(|k| (k.clone(), secrets.remove(k).unwrap())).collect();
    let keys_of = |k: &str| kine.get(k).map(|u| u.data.keys().map(String::as_str).collect::<Vec<_>>()).unwrap_or_default();
    let setup = kine.keys().find(|k| k.starts_with("databases/sql-datastore-setup-")).cloned().expect("the SQL tenant's setup Secret");
    assert_eq!(keys_of(&setup), ["DB_HOST", "DB_PASSWORD", "DB_PORT", "DB_SCHEMA", "DB_USER", "ca.crt"], "{setup}");
    assert_eq!(keys_of("platform/sql-datastore-config"), ["DB_CONNECTION_STRING", "DB_PASSWORD", "DB_SCHEMA", "DB_USER"]);
    assert_eq!(keys_of("platform/sql-datastore-certificate"), ["ca.crt"]);
    let config = &kine["platform/sql-datastore-config"];
    assert_eq!(config.text("DB_USER"), "platform_sql");
    assert_eq!(config.text("DB_PASSWORD"), kine[&setup].text("DB_PASSWORD"), "kine and the setup Job use one password");
    assert!(config.text("DB_PASSWORD").len() == 32 && config.text("DB_PASSWORD").bytes().all(|b| b.is_ascii_alphanumeric()));
    let mut sql_expected: BTreeSet<String> = [
        "ca",
        "front-proxy-ca-certificate",
        "sa-certificate",
        "api-server-certificate",
        "api-server-kubelet-client-certificate",
        "front-proxy-client-certificate",
        "datastore-certificate",
        "datastore-config",
        "admin-kubeconfig",
        "controller-manager-kubeconfig",
        "scheduler-kubeconfig",
    ]
    .iter()
    .map(|s| format!("platform/sql-{s}"))
    .collect();
    sql_expected.insert(setup.clone());
    assert_eq!(kine.keys().cloned().collect::<BTreeSet<_>>(), sql_expected, "the SQL tenant's Secrets");

    let want: BTreeSet<String> =
        TENANTS.iter().flat_map(|t| expected_secrets(t).into_keys().map(move |n| format!("{}/{n}", t.ns))).collect();
    // `rotation: companion` (tenants/rotating): Git holds the trust roots, the service-account key
    // and the DataStore client pair; the companion issues the rest in the cluster.
    let (rotating, have): (BTreeSet<String>, BTreeSet<String>) = secrets.keys().cloned().partition(|k| k.starts_with("tenants/rotating-"));
    assert_eq!(have, want, "the SealedSecrets under golden/ are not exactly the Secrets Kamaji mounts");
    let git_held = ["ca", "front-proxy-ca-certificate", "sa-certificate", "datastore-certificate"];
    assert_eq!(rotating, git_held.iter().map(|s| format!("tenants/rotating-{s}")).collect(), "rotation: companion keeps these in Git");

    let refs: BTreeMap<&str, KubeadmRef> = ["P-256", "P-384"]
        .into_iter()
        .map(|c| {
            let dir = scratch.path().join(format!("kubeadm-{c}"));
            (c, kubeadm_reference(&p, &kubeadm, &dir, &format!("ECDSA-{}", c.replace('-', ""))))
        })
        .collect();
    for t in TENANTS {
        check_tenant(&p, scratch.path(), (&repo().join("examples"), &identity_file()), &secrets, t, Some(&refs[t.curve]), &mut probs);
    }
    // One DataStore CA for all four tenants of DataStore `default`.
    let ds_cas: BTreeSet<Vec<u8>> = TENANTS
        .iter()
        .filter(|t| !t.dedicated_etcd)
        .map(|t| secrets[&format!("{}/{}-datastore-certificate", t.ns, t.tcp)].data["ca.crt"].clone())
        .collect();
    probs.check(ds_cas.len() == 1, || "the tenants of DataStore `default` publish different DataStore CAs".into());
    probs.assert_none("golden/ PKI");
}

/// A single-tenant copy of the examples (only `tenants/minimal.yaml`), with no key material,
/// a DataStore CA made with openssl and imported, and `tcpc.yaml` from `config`.
fn minimal_repo(p: &Peers, config: &str) -> Workspace {
    let ws = Workspace::examples();
    std::fs::remove_dir_all(ws.golden()).unwrap();
    std::fs::remove_dir_all(ws.state()).unwrap();
    ws.remove_lock();
    for f in [
        "tenants/full.yaml",
        "tenants/internal-ca.yaml",
        "tenants/nodeport.yaml",
        "tenants/sql.yaml",
        "tenants/isolated.yaml",
        "tenants/rotating.yaml",
        "datastores/postgresql.yaml",
    ] {
        std::fs::remove_file(ws.path(f)).unwrap();
    }
    std::fs::write(ws.path("tcpc.yaml"), config).unwrap();
    let ca = openssl_ca(&p.openssl, &ws.root().join("ds-ca"), "etcd-ca", "etcd-ca");
    import_datastore_ca(&ws.examples_dir(), "default", &ca);
    ws
}

/// A new age identity from `tcpc identity`: (identity file, recipient).
fn new_identity(dir: &Path) -> (std::path::PathBuf, String) {
    let run = tcpc(&["identity".into()], EPOCH).expect_ok();
    let recipient = run.stderr.lines().find_map(|l| l.strip_prefix("recipient: ")).expect("recipient on stderr").trim().to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    assert!(run.stdout.contains("AGE-SECRET-KEY-1"), "identity on stdout");
    let path = dir.join("age-identity.txt");
    std::fs::write(&path, &run.stdout).unwrap();
    (path, recipient)
}

#[test]
fn sops_sealing_agrees_with_sops() {
    let Some(p) = require_base_peers() else { return };
    let Some(sops) = peers::require_peer("sops") else { return };
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = new_identity(keys.path());
    let config = format!(
        "apiVersion: tcpc.dev/v1alpha1\nkind: Config\noutput: ../golden\nexclude:\n- kamaji/**\npki:\n  keyAlgorithm: ECDSA-P256\n  recipients:\n  - {recipient}\n\
         sealing:\n  sops:\n    ageRecipients:\n    - {recipient}\n"
    );
    let ws = minimal_repo(&p, &config);
    ws.render(Some(&identity), EPOCH).expect_ok();

    // sops, offline: no version check, no proxies that could reach anything.
    let sops_cmd = |file: &Path| {
        let mut c = Command::new(&sops);
        c.args(["-d", "--input-type", "yaml", "--output-type", "json"])
            .arg(file)
            .env("SOPS_AGE_KEY_FILE", &identity)
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_CMD")
            .env("HOME", keys.path());
        c
    };
    let tree = snapshot(&ws.golden());
    let mut secrets = BTreeMap::new();
    let mut encrypted_files = Vec::new();
    for (rel, bytes) in &tree {
        let text = String::from_utf8_lossy(bytes);
        if !text.lines().any(|l| l.starts_with("sops:")) {
            continue;
        }
        assert!(!text.contains("PRIVATE KEY"), "{rel}: plaintext key material");
        let out = run_ok(&mut sops_cmd(&ws.golden().join(rel)));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let u = secret_from_json(v, rel);
        assert!(rel.starts_with(&"tenants/minimal/management/".to_string()), "{rel}");
        encrypted_files.push(rel.clone());
        secrets.insert(format!("{}/{}", u.namespace, u.name), u);
    }
    let want: BTreeSet<String> = expected_secrets(tenant("tenants", "minimal")).into_keys().map(|n| format!("tenants/{n}")).collect();
    assert_eq!(secrets.keys().cloned().collect::<BTreeSet<_>>(), want, "sops-encrypted Secrets");
    let mut probs = Problems::default();
    check_tenant(&p, keys.path(), (&ws.examples_dir(), &identity), &secrets, tenant("tenants", "minimal"), None, &mut probs);
    probs.assert_none("sops Secrets");

    // Tampering is detected: a changed ciphertext, and a removed value (only the MAC sees it).
    let victim = ws.golden().join(encrypted_files.iter().find(|f| f.contains("api-server-certificate")).unwrap());
    let original = std::fs::read_to_string(&victim).unwrap();
    let enc_line = original.lines().find(|l| l.contains("apiserver.key: ENC[AES256_GCM,data:")).expect("an encrypted apiserver.key");
    let at = enc_line.find("data:").unwrap() + 5;
    let mut changed = enc_line.to_string();
    let c = changed.as_bytes()[at];
    changed.replace_range(at..at + 1, if c == b'A' { "B" } else { "A" });
    std::fs::write(&victim, original.replacen(enc_line, &changed, 1)).unwrap();
    let out = sops_cmd(&victim).output().unwrap();
    assert!(!out.status.success(), "sops accepted a tampered ciphertext");
    let removed: String = original.lines().filter(|l| !l.contains("apiserver.key: ENC[")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&victim, removed).unwrap();
    let out = sops_cmd(&victim).output().unwrap();
    assert!(!out.status.success(), "sops accepted a file with a value removed (MAC not checked?)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("mac"), "expected a MAC mismatch, got: {err}");
}

#[test]
fn render_without_identity_is_byte_stable() {
    let ws = Workspace::examples();
    let golden = snapshot(&ws.golden());
    let lock = ws.lock_files();
    let state = snapshot(&ws.state());
    let first = ws.render(None, EPOCH).expect_ok();
    let t1 = snapshot(&ws.golden());
    let second = ws.render(None, EPOCH).expect_ok();
    let t2 = snapshot(&ws.golden());
    assert_eq!(changed_paths(&t1, &t2), Vec::<String>::new(), "a second render changed the tree");
    assert_eq!(
        changed_paths(&golden, &t1),
        Vec::<String>::new(),
        "rendering the committed examples changed golden/ (stale golden or unstable render)"
    );
    assert!(ws.lock_files() == lock, "the lock changed");
    assert_eq!(changed_paths(&state, &snapshot(&ws.state())), Vec::<String>::new(), "the state changed");
    for run in [&first, &second] {
        assert!(
            !run.stderr.contains("issued") && !run.stderr.contains("sealed Secret"),
            "nothing should be issued or sealed:\n{}",
            run.stderr
        );
    }
}

const EXTRA_SAN: &str = "api.minimal.example.com";

fn add_cert_sans(ws: &Workspace, sans: &[&str]) {
    let path = ws.path("tenants/minimal.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("networkProfile"), "tenants/minimal.yaml changed shape; update this test");
    text.push_str("  networkProfile:\n    certSANs:\n");
    for s in sans {
        text.push_str(&format!("    - {s}\n"));
    }
    std::fs::write(&path, text).unwrap();
}

/// The report lines of a render about issuing and sealing.
fn report_lines(stderr: &str) -> Vec<String> {
    stderr.lines().filter(|l| l.contains(": issued ") || l.contains(": sealed Secret ")).map(str::to_string).collect()
}

#[test]
fn certsan_change_reissues_only_the_apiserver_cert() {
    let Some(p) = require_base_peers() else { return };
    let ws = Workspace::examples();
    let before = snapshot(&ws.golden());
    let lock_before = ws.lock_files();
    let state_before = snapshot(&ws.state());
    add_cert_sans(&ws, &[EXTRA_SAN]);
    let run = ws.render(Some(&identity_file()), EPOCH).expect_ok();
    let after = snapshot(&ws.golden());

    let secret_file = "tenants/minimal/management/sealedsecret-minimal-api-server-certificate.yaml";
    let deployment = "tenants/minimal/management/deployment-minimal.yaml";
    let kubeadm_config = "tenants/minimal/tenant/configmap-kubeadm-config.yaml";
    let record = "tenants/minimal/management/renderedcontrolplane-minimal.yaml";
    let mut changed = changed_paths(&before, &after);
    changed.sort();
    // The tenant's kubeadm-config (ClusterConfiguration.apiServer.certSANs) records the new SAN
    // too, as kubeadm does; that is the only non-PKI change allowed, besides the companion's
    // record (the input fingerprint, the new certificate's notAfter).
    let mut want = vec![secret_file.to_string(), deployment.to_string(), kubeadm_config.to_string(), record.to_string()];
    want.sort();
    assert_eq!(changed, want, "files changed by adding one certSAN");
    let (old, new) =
        (String::from_utf8_lossy(&before[kubeadm_config]).into_owned(), String::from_utf8_lossy(&after[kubeadm_config]).into_owned());
    let old_lines: Vec<&str> = old.lines().collect();
    let added: Vec<&str> = new.lines().filter(|l| !old_lines.contains(l)).collect();
    assert_eq!(added, vec![format!("      - \"{EXTRA_SAN}\"").as_str()], "kubeadm-config diff");
    assert_eq!(new.lines().count(), old_lines.len() + 1, "kubeadm-config diff");
    // In the Deployment, only the checksum annotation.
    let (old, new) = (String::from_utf8_lossy(&before[deployment]).into_owned(), String::from_utf8_lossy(&after[deployment]).into_owned());
    let diff: Vec<(&str, &str)> = old.lines().zip(new.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(old.lines().count(), new.lines().count());
    assert!(
        diff.len() == 1 && diff[0].0.contains("tcpc.dev/pki-checksum:") && diff[0].1.contains("tcpc.dev/pki-checksum:"),
        "Deployment diff: {diff:?}"
    );
    // tcpc says exactly that.
    assert_eq!(
        report_lines(&run.stderr),
        vec![
            "tenants/minimal: issued apiserver (its inputs changed)".to_string(),
            "tenants/minimal: sealed Secret minimal-api-server-certificate".to_string()
        ],
        "stderr:\n{}",
        run.stderr
    );
    // Only minimal's state, and in the lock only minimal's apiserver artefact and Secret.
    assert_eq!(changed_paths(&state_before, &snapshot(&ws.state())), vec!["tenants/tenants/minimal.age".to_string()]);
    let lock_after = ws.lock_files();
    assert_ne!(lock_before, lock_after, "the lock did not record the re-issue");
    // The new certificate has the SAN, keeps the CA, and its key matches.
    let u = unseal_file(&p.kubeseal, &ws.golden().join(secret_file));
    let c = cert_text(&p.openssl, &u.data["apiserver.crt"]);
    assert!(c.sans.contains(&format!("DNS:{EXTRA_SAN}")), "{:?}", c.sans);
    let ca = unseal_file(&p.kubeseal, &ws.golden().join("tenants/minimal/management/sealedsecret-minimal-ca.yaml"));
    let (ok, msg) = verify(&p.openssl, ws.root(), &ca.data["ca.crt"], None, &u.data["apiserver.crt"], EPOCH);
    assert!(ok, "{msg}");
    assert_eq!(cert_pubkey(&p.openssl, &u.data["apiserver.crt"]), key_pubkey(&p.openssl, &u.data["apiserver.key"]));

    // Without the identity, a change that needs new material fails, says who, what and why,
    // and writes nothing.
    let tree = snapshot(&ws.golden());
    add_cert_sans_more(&ws, "api2.minimal.example.com");
    let run = ws.render(None, EPOCH).expect_fail();
    for needle in ["tenants/minimal", "apiserver must be issued", "its inputs changed", "--identity"] {
        assert!(run.stderr.contains(needle), "message lacks {needle:?}:\n{}", run.stderr);
    }
    assert_eq!(changed_paths(&tree, &snapshot(&ws.golden())), Vec::<String>::new(), "a failed render wrote files");
    assert_eq!(ws.lock_files(), lock_after, "a failed render wrote the lock");
}

fn add_cert_sans_more(ws: &Workspace, san: &str) {
    let path = ws.path("tenants/minimal.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}    - {san}\n")).unwrap();
}

#[test]
fn renewal_reissues_leaves_only() {
    let Some(p) = require_base_peers() else { return };
    let ws = Workspace::examples();
    let before = snapshot(&ws.golden());
    let later = EPOCH + 250 * DAY;

    let run = ws.render(None, later).expect_fail();
    for needle in ["tenants/minimal", "apiserver must be issued", "less than 33% of its lifetime is left", "--identity"] {
        assert!(run.stderr.contains(needle), "renewal message lacks {needle:?}:\n{}", run.stderr);
    }
    assert_eq!(changed_paths(&before, &snapshot(&ws.golden())), Vec::<String>::new());

    let run = ws.render(Some(&identity_file()), later).expect_ok();
    let after = snapshot(&ws.golden());
    let leaves = [
        "admin",
        "apiserver",
        "apiserver-kubelet-client",
        "controller-manager",
        "datastore-client",
        "front-proxy-client",
        "scheduler",
        "super-admin",
    ];
    let mut want_issued = BTreeSet::new();
    for t in TENANTS {
        // A dedicated etcd's members' certificates are leaves too; its CA is a root, kept.
        let etcd: &[&str] = if t.dedicated_etcd { &["etcd-peer", "etcd-server"] } else { &[] };
        let konnectivity: &[&str] = if t.konnectivity { &["konnectivity"] } else { &[] };
        for l in leaves.iter().chain(etcd).chain(konnectivity) {
            want_issued.insert(format!("{}/{}: issued {l} (less than 33% of its lifetime is left)", t.ns, t.tcp));
        }
    }
    // The PostgreSQL tenant (kine) renews the same leaves but the etcd client certificate.
    for l in leaves.iter().filter(|l| **l != "datastore-client") {
        want_issued.insert(format!("platform/sql: issued {l} (less than 33% of its lifetime is left)"));
    }
    // `rotation: companion`: Git renews only the leaves it keeps; the companion renews the rest.
    for l in ["datastore-client", "super-admin"] {
        want_issued.insert(format!("tenants/rotating: issued {l} (less than 33% of its lifetime is left)"));
    }
    let issued: BTreeSet<String> = run.stderr.lines().filter(|l| l.contains(": issued ")).map(str::to_string).collect();
    assert_eq!(issued, want_issued, "stderr:\n{}", run.stderr);
    // CA and sa Secrets untouched; every leaf Secret re-sealed.
    let changed: BTreeSet<String> = changed_paths(&before, &after).into_iter().collect();
    for t in TENANTS {
        let dir = format!("{}/{}/management", t.ns, t.tcp);
        for unchanged in ["ca", "front-proxy-ca-certificate", "sa-certificate"] {
            let f = format!("{dir}/sealedsecret-{}-{unchanged}.yaml", t.tcp);
            assert!(!changed.contains(&f), "{f} changed on renewal");
        }
        if t.dedicated_etcd {
            let f = format!("{dir}/sealedsecret-{}-etcd-certs.yaml", t.tcp);
            assert!(changed.contains(&f), "{f} not re-sealed on renewal");
            let old = unseal_file(&p.kubeseal, &repo().join("golden").join(&f));
            let new = unseal_file(&p.kubeseal, &ws.golden().join(&f));
            assert_eq!(old.data["ca.crt"], new.data["ca.crt"], "{f}: the etcd CA changed on renewal");
            assert_ne!(old.data["server.crt"], new.data["server.crt"], "{f}: the etcd server certificate was not renewed");
        }
        for leaf in [
            "api-server-certificate",
            "api-server-kubelet-client-certificate",
            "front-proxy-client-certificate",
            "datastore-certificate",
            "admin-kubeconfig",
            "controller-manager-kubeconfig",
            "scheduler-kubeconfig",
        ]
        .into_iter()
        .chain(t.konnectivity.then_some("konnectivity-kubeconfig"))
        {
            let f = format!("{dir}/sealedsecret-{}-{leaf}.yaml", t.tcp);
            assert!(changed.contains(&f), "{f} not re-sealed on renewal");
        }
        // The renewed apiserver certificate starts at the new time and chains to the old CA.
        let ca = unseal_file(&p.kubeseal, &ws.golden().join(format!("{dir}/sealedsecret-{}-ca.yaml", t.tcp)));
        let api = unseal_file(&p.kubeseal, &ws.golden().join(format!("{dir}/sealedsecret-{}-api-server-certificate.yaml", t.tcp)));
        let scratch = tempfile::tempdir().unwrap();
        let (ok, msg) = verify(&p.openssl, scratch.path(), &ca.data["ca.crt"], None, &api.data["apiserver.crt"], later);
        assert!(ok, "{}/{}: renewed apiserver does not verify against the kept CA: {msg}", t.ns, t.tcp);
        let end = openssl_ok(&p.openssl, &["x509", "-noout", "-enddate"], Some(&api.data["apiserver.crt"]));
        let old =
            unseal_file(&p.kubeseal, &repo().join("golden").join(format!("{dir}/sealedsecret-{}-api-server-certificate.yaml", t.tcp)));
        let old_end = openssl_ok(&p.openssl, &["x509", "-noout", "-enddate"], Some(&old.data["apiserver.crt"]));
        assert_ne!(end, old_end, "{}/{}: apiserver not renewed", t.ns, t.tcp);
    }
    // A second render at the same time needs nothing.
    ws.render(None, later).expect_ok();
}

#[test]
fn imported_intermediate_ca_publishes_its_chain() {
    let Some(p) = require_base_peers() else { return };
    let ws = Workspace::examples();
    let pki = ws.root().join("corp-pki");
    let root = openssl_ca(&p.openssl, &pki, "root", "Example Corp Root CA");
    let int = openssl_signed(&p.openssl, &pki, "int", "Example Corp Kubernetes Intermediate", &root, CA_EXT);
    let e = ws.examples_dir();
    tcpc(
        &[
            "import".into(),
            "ca".into(),
            "tenants/minimal".into(),
            "--cert".into(),
            s(&int.0),
            "--key".into(),
            s(&int.1),
            "--chain".into(),
            s(&root.0),
            "--dir".into(),
            s(&e),
        ],
        EPOCH,
    )
    .expect_ok();
    let run = ws.render(Some(&identity_file()), EPOCH).expect_ok();
    assert!(!run.stderr.contains("tenants/minimal: issued ca "), "the imported CA was re-issued:\n{}", run.stderr);

    let dir = ws.golden().join("tenants/minimal/management");
    let ca = unseal_file(&p.kubeseal, &dir.join("sealedsecret-minimal-ca.yaml"));
    let blocks = pem_blocks(&ca.text("ca.crt"));
    let (int_pem, root_pem) = (std::fs::read_to_string(&int.0).unwrap(), std::fs::read_to_string(&root.0).unwrap());
    assert_eq!(
        blocks,
        vec![pem_blocks(&int_pem)[0].clone(), pem_blocks(&root_pem)[0].clone()],
        "minimal-ca ca.crt must be intermediate + root"
    );
    assert_eq!(
        key_pubkey(&p.openssl, &ca.data["ca.key"]),
        key_pubkey(&p.openssl, &std::fs::read(&int.1).unwrap()),
        "ca.key is not the imported key"
    );

    let api = unseal_file(&p.kubeseal, &dir.join("sealedsecret-minimal-api-server-certificate.yaml"));
    let (ok, msg) = verify(&p.openssl, ws.root(), root_pem.as_bytes(), Some(int_pem.as_bytes()), &api.data["apiserver.crt"], EPOCH);
    assert!(ok, "openssl verify -CAfile root.crt -untrusted int.crt apiserver.crt: {msg}");
    // Clients get the chain too: the admin kubeconfig verifies up to the root.
    let admin = unseal_file(&p.kubeseal, &dir.join("sealedsecret-minimal-admin-kubeconfig.yaml"));
    let path = ws.root().join("admin.conf");
    std::fs::write(&path, &admin.data["admin.conf"]).unwrap();
    let k = kubeconfig(&p.kubectl, &path);
    assert_eq!(k.ca, ca.data["ca.crt"], "admin.conf must carry the CA chain");
    let (ok, msg) = verify(&p.openssl, ws.root(), root_pem.as_bytes(), Some(int_pem.as_bytes()), &k.cert, EPOCH);
    assert!(ok, "admin client cert: {msg}");
    // The other tenants are untouched, and the next render needs no identity.
    for t in TENANTS.iter().filter(|t| t.tcp != "minimal") {
        assert!(!run.stderr.contains(&format!("{}/{}:", t.ns, t.tcp)), "{}/{} touched:\n{}", t.ns, t.tcp, run.stderr);
    }
    ws.render(None, EPOCH).expect_ok();
}
