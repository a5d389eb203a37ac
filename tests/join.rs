//! `tcpc join-command`: the `kubeadm join` line a worker needs, computed offline. The CA pin
//! must be what kubeadm's documentation computes with openssl from the CA the tenant publishes
//! (`kube-public/cluster-info`, here read from the rendered tenant bundle in `golden/`), and
//! the endpoint the server that ConfigMap names.

mod common;

use std::process::{Command, Stdio};

use common::{copy_dir, root, run, tcpc};

/// The CA bundle and server of a rendered `cluster-info` ConfigMap.
fn cluster_info(tenant_dir: &str) -> (String, String) {
    let path = root().join("golden").join(tenant_dir).join("tenant/configmap-cluster-info.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let field = |key: &str| {
        let line = text.lines().find(|l| l.trim_start().starts_with(key)).unwrap_or_else(|| panic!("{key} in {}", path.display()));
        line.split_once(':').unwrap().1.trim().trim_matches('"').to_owned()
    };
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.decode(field("certificate-authority-data:")).expect("base64 CA");
    (String::from_utf8(ca).unwrap(), field("server:"))
}

/// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum` (kubeadm's docs).
fn openssl_pin(ca_pem: &str) -> String {
    let pipe = |args: &[&str], input: &[u8]| -> Vec<u8> {
        let mut child = Command::new("openssl").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("openssl");
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl {args:?} failed");
        out.stdout
    };
    let pubkey = pipe(&["x509", "-pubkey", "-noout"], ca_pem.as_bytes());
    let der = pipe(&["pkey", "-pubin", "-outform", "der"], &pubkey);
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&der)))
}

#[test]
fn join_command_pins_the_published_ca_and_names_its_server() {
    for (tenant, dir) in [("tenants/minimal", "tenants/minimal"), ("tenants/edge", "tenants/edge"), ("platform/full", "platform/full")] {
        let (ca, server) = cluster_info(dir);
        let r = run(tcpc().args(["join-command", tenant, "examples"]).current_dir(root())).expect_code(0, tenant);
        let expected = format!(
            "kubeadm join {} --discovery-token-ca-cert-hash {}\n",
            server.strip_prefix("https://").expect("https server"),
            openssl_pin(&ca)
        );
        assert_eq!(r.stdout, expected, "{tenant}");
        assert!(r.stderr.contains("--token"), "the hint says a token is still needed: {}", r.stderr);
    }
}

#[test]
fn join_command_of_an_unrendered_or_unknown_tenant_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_dir(&root().join("examples"), &repo);
    let r = run(tcpc().args(["join-command", "tenants/nope"]).current_dir(&repo));
    assert_eq!(r.code, 2, "{}", r.describe());
    assert!(r.stderr.contains("no TenantControlPlane tenants/nope"), "{}", r.stderr);
    assert!(r.stdout.is_empty());

    std::fs::remove_file(repo.join("tcpc.lock")).unwrap();
    std::fs::remove_dir_all(repo.join("tcpc.lock.d")).unwrap();
    let r = run(tcpc().args(["join-command", "tenants/minimal"]).current_dir(&repo));
    assert_eq!(r.code, 2, "{}", r.describe());
    assert!(r.stderr.contains("tenants/minimal has no CA in the lock yet: run `tcpc render --identity"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

/// `--create-token` against a real kube-apiserver (`tools/apiserver.sh`, bootstrap-token auth on)
/// that serves with the tenant's CA: the tenant is a fresh repository whose CA is imported from
/// that API server (`tcpc import ca`), so the kubeconfig leads to exactly this tenant.
/// The Secret must be kubeadm's, the printed token must authenticate as kubeadm's bootstrap
/// group, and it must appear nowhere but on stdout. A kubeconfig of another cluster and an
/// unreachable server are clear errors that create nothing.
#[test]
fn create_token_makes_a_bootstrap_token_that_the_api_server_accepts() {
    let (Some(kubectl), Some(apiserver), Some(etcd)) =
        (common::peers::require_peer("kubectl"), common::peers::require_peer("kube-apiserver"), common::peers::require_peer("etcd"))
    else {
        return;
    };
    let cp = common::apiserver::ControlPlane::start(&apiserver, &etcd);
    let pki = cp.dir.path().join("pki");
    let tmp = tempfile::tempdir().unwrap();
    let (repo, identity) = (tmp.path().join("repo"), tmp.path().join("identity.txt"));
    // Real time throughout: the imported CA was made just now.
    let tcpc_now = || {
        let mut c = tcpc();
        c.env_remove("SOURCE_DATE_EPOCH");
        c
    };
    let r = run(tcpc_now().args(["identity", "-o"]).arg(&identity)).expect_code(0, "tcpc identity");
    let recipient = r.stderr.split_whitespace().find(|w| w.starts_with("age1")).expect("a recipient").to_owned();
    run(tcpc_now().arg("init").arg(&repo).args(["--recipient", &recipient])).expect_code(0, "tcpc init");
    std::fs::copy(root().join("examples/sealed-secrets.crt"), repo.join("sealed-secrets.crt")).unwrap();
    for (what, name) in [("datastore-ca", "default"), ("ca", "tenants/example")] {
        run(tcpc_now().args(["import", what, name]).arg(&repo).arg("--cert").arg(pki.join("ca.crt")).arg("--key").arg(pki.join("ca.key")))
            .expect_code(0, &format!("tcpc import {what}"));
    }
    run(tcpc_now().arg("render").arg(&repo).arg("--identity").arg(&identity)).expect_code(0, "tcpc render");

    let secrets = || {
        let out = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&cp.kubeconfig)
            .args(["-n", "kube-system", "get", "secrets", "-o", "name"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().filter(|l| l.contains("bootstrap-token-")).map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(secrets().is_empty());

    let r = run(tcpc_now()
        .args(["join-command", "tenants/example"])
        .arg(&repo)
        .args(["--create-token", "--ttl", "1h", "--kubeconfig"])
        .arg(&cp.kubeconfig))
    .expect_code(0, "join-command --create-token");
    let line = r.stdout.trim();
    let token =
        line.split_whitespace().skip_while(|w| *w != "--token").nth(1).unwrap_or_else(|| panic!("no --token in {line:?}")).to_owned();
    let (id, secret) = token.split_once('.').expect("id.secret");
    let offline = run(tcpc_now().args(["join-command", "tenants/example"]).arg(&repo)).expect_code(0, "join-command");
    assert_eq!(line.replace(&format!(" --token {token}"), ""), offline.stdout.trim(), "the same command, with the token");
    assert!(!r.stderr.contains(secret), "the secret reached stderr: {}", r.stderr);
    assert!(r.stderr.contains(&format!("created bootstrap token {id}")), "{}", r.stderr);

    // kubeadm's Secret
    assert_eq!(secrets(), [format!("secret/bootstrap-token-{id}")]);
    let out = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .args(["-n", "kube-system", "get", "secret", &format!("bootstrap-token-{id}"), "-o", "json"])
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the Secret as JSON");
    assert_eq!(s["type"], "bootstrap.kubernetes.io/token");
    use base64::Engine as _;
    let data = |k: &str| {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s["data"][k].as_str().unwrap_or_else(|| panic!("{k}"))).unwrap())
            .unwrap()
    };
    assert_eq!((data("token-id"), data("token-secret")), (id.to_owned(), secret.to_owned()));
    assert_eq!(data("auth-extra-groups"), "system:bootstrappers:kubeadm:default-node-token");
    assert_eq!((data("usage-bootstrap-authentication"), data("usage-bootstrap-signing")), ("true".into(), "true".into()));
    let expires =
        time::OffsetDateTime::parse(&data("expiration"), &time::format_description::well_known::Rfc3339).expect("RFC 3339 expiration");
    let in_an_hour = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert!(expires <= in_an_hour && expires > in_an_hour - time::Duration::minutes(5), "expiration {expires}");

    // the token authenticates, as kubeadm's bootstrap group
    let server = std::fs::read_to_string(cp.dir.path().join("env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("APISERVER_URL=").map(str::to_owned))
        .unwrap();
    let out = Command::new(&kubectl)
        .args(["--kubeconfig", "/dev/null", "--server", &server, "--token", &token])
        .arg("--certificate-authority")
        .arg(pki.join("ca.crt"))
        .args(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"])
        .output()
        .unwrap();
    let who = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the token does not authenticate: {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        who.starts_with(&format!("system:bootstrap:{id} ")) && who.contains("system:bootstrappers:kubeadm:default-node-token"),
        "{who}"
    );

    // the token is nowhere on disk
    for entry in walkdir::WalkDir::new(tmp.path()).into_iter().flatten().filter(|e| e.file_type().is_file()) {
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{} holds the token", entry.path().display());
    }

    // another cluster's kubeconfig: refused before anything is created
    let other = tmp.path().join("other.conf");
    let text = std::fs::read_to_string(&cp.kubeconfig).unwrap();
    let examples_ca = base64::engine::general_purpose::STANDARD.encode(std::fs::read(root().join("examples/sealed-secrets.crt")).unwrap());
    let swapped: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("certificate-authority-data:") {
                format!("    certificate-authority-data: {examples_ca}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&other, swapped).unwrap();
    let r = run(tcpc_now().args(["join-command", "tenants/example"]).arg(&repo).args(["--create-token", "--kubeconfig"]).arg(&other));
    assert_eq!(r.code, 2, "{}", r.describe());
    assert!(r.stderr.contains("trusts another CA than tenants/example's"), "{}", r.stderr);
    assert!(r.stdout.is_empty());

    // an unreachable server: a clear error, nothing printed
    let closed = text.replace(&server, "https://127.0.0.1:9");
    let unreachable = tmp.path().join("closed.conf");
    std::fs::write(&unreachable, closed).unwrap();
    let r = run(tcpc_now().args(["join-command", "tenants/example"]).arg(&repo).args(["--create-token", "--kubeconfig"]).arg(&unreachable));
    assert_eq!(r.code, 2, "{}", r.describe());
    assert!(r.stderr.contains("cannot reach the tenant API server https://127.0.0.1:9"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert_eq!(secrets().len(), 1, "only the first token was created");

    // a bad --ttl is refused before anything happens
    let r = run(tcpc_now()
        .args(["join-command", "tenants/example"])
        .arg(&repo)
        .args(["--create-token", "--ttl", "1d", "--kubeconfig"])
        .arg(&cp.kubeconfig));
    assert_eq!(r.code, 2, "{}", r.describe());
    assert!(r.stderr.contains("invalid --ttl `1d`"), "{}", r.stderr);
    assert_eq!(secrets().len(), 1);
}
