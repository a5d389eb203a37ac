//! `delivery.argocd`: one Argo CD cluster Secret per tenant, and the ApplicationSet of
//! `tcpc install argocd-applicationset` that turns them into one Application per tenant.
//!
//! The Secrets are unsealed with kubeseal and handed to Argo CD's own ApplicationSet code
//! (`argocd-cluster-check generate`: the cluster generator and template rendering of argo-cd,
//! built by tools/peers.sh): every tenant gets exactly one Application, aimed at that tenant's
//! cluster, syncing the directory that holds that tenant's bundle. That the credentials reach a
//! real tenant API server as Argo CD dials it is tests/pki_apiserver.rs.

mod common;
use common::peers;
use common::pki as harness;
use common::snapshot;

use std::process::Command;

use harness::*;
use serde_json::Value;

#[test]
fn argocd_delivery_registers_every_tenant_and_the_applicationset_syncs_its_bundle() {
    let Some(p) = require_base_peers() else { return };
    let ws = Workspace::examples();
    let config = std::fs::read_to_string(ws.path("tcpc.yaml")).unwrap();
    std::fs::write(ws.path("tcpc.yaml"), format!("{config}delivery:\n  argocd:\n    endpoint: public\n")).unwrap();
    // Without the identity the new Secrets cannot be sealed: the render says so.
    let r = ws.render(None, EPOCH).expect_fail();
    assert!(r.stderr.contains("--identity"), "{}", r.stderr);
    ws.render(Some(&identity_file()), EPOCH).expect_ok();

    let golden = ws.golden();
    let tree = snapshot(&golden);
    let mut tenants = Vec::new();
    for path in tree.keys() {
        let Some(dir) = path.strip_suffix("/management/kustomization.yaml") else { continue };
        let (ns, name) = dir.rsplit_once('/').unwrap();
        let kustomization = String::from_utf8(tree[path].clone()).unwrap();
        let files: Vec<&String> = tree.keys().filter(|k| k.starts_with(&format!("{dir}/management/sealedsecret-tcpc-{name}-"))).collect();
        assert_eq!(files.len(), 1, "{dir}: one cluster Secret: {files:?}");
        let file = files[0].rsplit('/').next().unwrap();
        assert!(kustomization.contains(&format!("- {file}\n")), "{dir}: the management kustomization lists {file}");
        let secret = unseal_file(&p.kubeseal, &golden.join(files[0]));
        assert_eq!(secret.namespace, "argocd");
        let labels = &secret.object["metadata"]["labels"];
        assert_eq!(labels["argocd.argoproj.io/secret-type"], "cluster", "{labels}");
        assert_eq!(labels["tcpc.dev/tenant-namespace"], ns);
        assert_eq!(labels["kamaji.clastix.io/name"], name);
        assert_eq!(secret.text("name"), format!("{ns}/{name}"));
        assert!(!secret.data.contains_key("project"), "no project unless tcpc.yaml names one");
        // endpoint: public → the server of the rendered admin.conf (under `rotation: companion`,
        // which leaves admin.conf to the companion, the record's endpoint and the CA Secret's bundle).
        let admin_file = golden.join(format!("{dir}/management/sealedsecret-{name}-admin-kubeconfig.yaml"));
        let (server, ca_b64) = if admin_file.exists() {
            let admin_conf = unseal_file(&p.kubeseal, &admin_file).text("admin.conf");
            let field = |f: &str| admin_conf.lines().find_map(|l| l.trim().strip_prefix(f)).unwrap().trim_matches('"').to_string();
            (field("server: "), field("certificate-authority-data: "))
        } else {
            let record = yaml_file(&golden.join(format!("{dir}/management/renderedcontrolplane-{name}.yaml")));
            assert_eq!(record["spec"]["rotation"], "companion", "{dir}: no admin kubeconfig in the bundle");
            let ca = unseal_file(&p.kubeseal, &golden.join(format!("{dir}/management/sealedsecret-{name}-ca.yaml")));
            (record["spec"]["endpoint"].as_str().unwrap().to_string(), b64e(&ca.data["ca.crt"]))
        };
        assert_eq!(secret.text("server"), server, "{dir}");
        // The TLS client credentials: the CA bundle of admin.conf, and super-admin's pair.
        let config: Value = serde_json::from_str(&secret.text("config")).unwrap();
        let tls = &config["tlsClientConfig"];
        assert_eq!(tls.as_object().unwrap().len(), 3, "caData, certData, keyData only: {}", tls.as_object().unwrap().keys().len());
        let ca = b64d(tls["caData"].as_str().unwrap());
        assert_eq!(b64e(&ca), ca_b64, "{dir}: caData is admin.conf's certificate-authority-data");
        let cert = b64d(tls["certData"].as_str().unwrap());
        let key = b64d(tls["keyData"].as_str().unwrap());
        let text = cert_text(&p.openssl, &cert);
        assert_eq!(text.cn(), "kubernetes-super-admin");
        assert_eq!(text.organizations(), vec!["system:masters".to_string()]);
        assert_eq!(cert_pubkey(&p.openssl, &cert), key_pubkey(&p.openssl, &key), "{dir}: keyData is certData's key");
        let secret_file = ws.root().join(format!("cluster-{ns}-{name}.json"));
        std::fs::write(&secret_file, serde_json::to_vec(&secret.object).unwrap()).unwrap();
        tenants.push((ns.to_string(), name.to_string(), secret_file));
    }
    assert!(tenants.len() >= 5, "{} tenants", tenants.len());

    // The key never reaches the repository or the output in the clear.
    for (path, bytes) in snapshot(ws.root()) {
        if !path.ends_with(".json") {
            assert!(!String::from_utf8_lossy(&bytes).contains("PRIVATE KEY"), "{path} holds a private key");
        }
    }

    // The ApplicationSet, as Argo CD's ApplicationSet controller expands it.
    let install = tcpc(
        &["install".into(), "argocd-applicationset".into(), s(&ws.examples_dir()), "--url".into(), "https://git.example.com/p.git".into()],
        EPOCH,
    )
    .expect_ok();
    let appset = ws.root().join("applicationset.yaml");
    std::fs::write(&appset, &install.stdout).unwrap();
    let Some(check) = peers::require_peer("argocd-cluster-check") else { return };
    let mut cmd = Command::new(check);
    cmd.args(["generate", "-applicationset"]).arg(&appset);
    for (_, _, f) in &tenants {
        cmd.arg("-secret").arg(f);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "argocd-cluster-check generate: {}", String::from_utf8_lossy(&out.stderr));
    let apps: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(apps.len(), tenants.len(), "one Application per tenant, none for the in-cluster cluster");
    let base = std::fs::read_to_string(&appset).unwrap();
    let base = base.lines().find_map(|l| l.trim().strip_prefix("path: ")).unwrap().split("/{{").next().unwrap().to_string();
    for (ns, name, _) in &tenants {
        let app = apps
            .iter()
            .find(|a| a["spec"]["destination"]["name"] == format!("{ns}/{name}"))
            .unwrap_or_else(|| panic!("no Application for {ns}/{name}"));
        assert_eq!(app["spec"]["source"]["path"], format!("{base}/{ns}/{name}/tenant"));
        assert!(tree.contains_key(&format!("{ns}/{name}/tenant/kustomization.yaml")), "the path holds {ns}/{name}'s tenant bundle");
        assert_eq!(app["spec"]["project"], "default");
        assert_eq!(app["metadata"]["namespace"], "argocd");
    }
}
