//! Kamaji's DataStores as its samples write them ("gold": the CA and a client certificate in
//! Secrets, basicAuth from Secrets) render as they are, for PostgreSQL, MySQL and NATS.
//!
//! The client pair is imported once (`tcpc import datastore-client-certificate`); each tenant's
//! kine presents it (`--cert-file`, `--key-file`) from its datastore-certificate Secret, which
//! kubeseal unseals here to the imported pair and the imported CA. A SQL DataStore's setup Job
//! presents the DataStore's own Secrets, mounted as they are. Before the import, the render
//! names the command that is missing; the key never appears in the repository or the output.

mod common;
use common::pki as harness;
use common::snapshot;

use harness::*;
use serde_json::Value;

/// A DataStore in the shape of Kamaji's gold samples (names of our own).
fn gold_datastore(name: &str, driver: &str, endpoint: &str, username_inline: bool) -> String {
    let username = if username_inline {
        "    username:\n      content: YWRtaW4=\n".to_string()
    } else {
        format!(
            "    username:\n      secretReference:\n        name: {name}-superuser\n        namespace: db-system\n        keyPath: username\n"
        )
    };
    format!(
        "apiVersion: kamaji.clastix.io/v1alpha1\nkind: DataStore\nmetadata:\n  name: {name}\nspec:\n  driver: {driver}\n  endpoints:\n    - {endpoint}\n  basicAuth:\n{username}    password:\n      secretReference:\n        name: {name}-superuser\n        namespace: db-system\n        keyPath: password\n  tlsConfig:\n    certificateAuthority:\n      certificate:\n        secretReference:\n          name: {name}-ca\n          namespace: db-system\n          keyPath: ca.crt\n    clientCertificate:\n      certificate:\n        secretReference:\n          name: {name}-root-cert\n          namespace: db-system\n          keyPath: tls.crt\n      privateKey:\n        secretReference:\n          name: {name}-root-cert\n          namespace: db-system\n          keyPath: tls.key\n"
    )
}

fn tenant(name: &str, ds: &str) -> String {
    format!(
        "apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n  name: {name}\n  namespace: gold\nspec:\n  dataStore: {ds}\n  controlPlane:\n    deployment:\n      replicas: 1\n    service:\n      serviceType: ClusterIP\n  kubernetes:\n    version: v1.36.3\n    kubelet:\n      cgroupfs: systemd\n"
    )
}

fn import(what: &str, name: &str, args: &[String], dir: &std::path::Path) {
    let mut a: Vec<String> = vec!["import".into(), what.into(), name.into(), "--dir".into(), s(dir)];
    a.extend_from_slice(args);
    tcpc(&a, EPOCH).expect_ok();
}

fn kine_args(deployment: &Value) -> Vec<String> {
    let containers = deployment["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    let kine = containers.iter().find(|c| c["name"] == "kine").expect("a kine container");
    kine["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

#[test]
fn kamaji_gold_datastores_render_with_their_client_certificate() {
    let Some(p) = require_base_peers() else { return };
    let ws = Workspace::examples();
    let dir = ws.examples_dir();
    let stores = [
        ("pg-gold", "PostgreSQL", "pg-gold-rw.db-system.svc:5432"),
        ("mysql-gold", "MySQL", "mysql-gold.db-system.svc:3306"),
        ("nats-gold", "NATS", "nats-gold.db-system.svc:4222"),
    ];
    for (name, driver, endpoint) in stores {
        std::fs::write(dir.join(format!("datastores/{name}.yaml")), gold_datastore(name, driver, endpoint, driver != "PostgreSQL"))
            .unwrap();
        std::fs::write(dir.join(format!("tenants/{name}.yaml")), tenant(name, name)).unwrap();
    }

    // Before the imports: the render names what is missing, per tenant.
    let r = ws.render(Some(&identity_file()), EPOCH).expect_fail();
    assert!(
        r.stderr.contains("gold/pg-gold: DataStore `pg-gold` has a client certificate, and it has not been imported; run `tcpc import datastore-client-certificate pg-gold --cert CLIENT.crt --key CLIENT.key`"),
        "{}",
        r.stderr
    );

    // The database CA and a client certificate it signed, made with openssl outside the repository.
    let outside = tempfile::tempdir().unwrap();
    let ca = openssl_ca(&p.openssl, outside.path(), "db-ca", "db-ca");
    let client = openssl_signed(
        &p.openssl,
        outside.path(),
        "db-client",
        "kamaji",
        &ca,
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    let password = outside.path().join("nats-password");
    std::fs::write(&password, "nats-admin-password\n").unwrap();
    for (name, _, _) in stores {
        import("datastore-ca", name, &["--cert".into(), s(&ca.0)], &dir);
        import("datastore-client-certificate", name, &["--cert".into(), s(&client.0), "--key".into(), s(&client.1)], &dir);
    }
    import("datastore-credentials", "nats-gold", &["--username".into(), "admin".into(), "--password-file".into(), s(&password)], &dir);
    // A key that is not the certificate's is refused, and nothing is imported.
    let wrong = tcpc(
        &[
            "import".into(),
            "datastore-client-certificate".into(),
            "other".into(),
            "--dir".into(),
            s(&dir),
            "--cert".into(),
            s(&client.0),
            "--key".into(),
            s(&ca.1),
        ],
        EPOCH,
    )
    .expect_fail();
    assert!(wrong.stderr.contains("is not the certificate's"), "{}", wrong.stderr);
    assert!(!ws.state().join("datastore-client-certificate/other.age").exists());

    let r = ws.render(Some(&identity_file()), EPOCH).expect_ok();
    let ca_pem = std::fs::read_to_string(&ca.0).unwrap();
    let (client_crt, client_key) = (std::fs::read_to_string(&client.0).unwrap(), std::fs::read_to_string(&client.1).unwrap());
    for (name, driver, _) in stores {
        let bundle = ws.golden().join(format!("gold/{name}/management"));
        let args = kine_args(&yaml_file(&bundle.join(format!("deployment-{name}.yaml"))));
        for flag in ["--ca-file=/certs/ca.crt", "--cert-file=/certs/server.crt", "--key-file=/certs/server.key"] {
            assert!(args.contains(&flag.to_string()), "{name}: kine lacks {flag}: {args:?}");
        }
        let certs = unseal_file(&p.kubeseal, &bundle.join(format!("sealedsecret-{name}-datastore-certificate.yaml")));
        assert_eq!(certs.data.keys().collect::<Vec<_>>(), ["ca.crt", "server.crt", "server.key"], "{name}");
        assert_eq!(certs.text("ca.crt"), ca_pem, "{name}: the imported CA");
        assert_eq!(
            (certs.text("server.crt"), certs.text("server.key")),
            (client_crt.clone(), client_key.clone()),
            "{name}: the imported pair"
        );

        // The setup Job (SQL) presents the DataStore's own Secret, mounted as it is, in its namespace.
        let jobs: Vec<_> = std::fs::read_dir(&bundle)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("job-"))
            .collect();
        if driver == "NATS" {
            assert!(jobs.is_empty(), "NATS tenants have no setup Job: {jobs:?}");
            continue;
        }
        assert_eq!(jobs.len(), 1, "{name}: {jobs:?}");
        let job = yaml_file(&jobs[0]);
        assert_eq!(job["metadata"]["namespace"], "db-system");
        let sources = job["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "tls")
            .expect("a tls volume")["projected"]["sources"]
            .clone();
        let from_root_cert: Vec<(String, String)> = sources
            .as_array()
            .unwrap()
            .iter()
            .filter(|src| src["secret"]["name"] == format!("{name}-root-cert").as_str())
            .map(|src| {
                let item = &src["secret"]["items"][0];
                (item["key"].as_str().unwrap().to_string(), item["path"].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(from_root_cert, [("tls.crt".into(), "tls.crt".into()), ("tls.key".into(), "tls.key".into())], "{name}: {sources}");
        let script = job["spec"]["template"]["spec"]["containers"][0]["command"][2].as_str().unwrap();
        let presents = if driver == "MySQL" {
            "--ssl-cert=/tls/tls.crt --ssl-key=/tls/tls.key"
        } else {
            "PGSSLCERT=/tls/tls.crt PGSSLKEY=/tls/tls.key"
        };
        assert!(script.contains(presents), "{name}: the setup script does not present the client certificate:\n{script}");
    }

    // The client key is nowhere in the repository or the rendered tree, nor in what tcpc printed.
    let body: String = client_key.lines().filter(|l| !l.starts_with("-----")).collect();
    for (rel, bytes) in snapshot(ws.root()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&body) && !text.contains("PRIVATE KEY"), "{rel} holds the client key");
    }
    assert!(!r.stderr.contains(&body) && !r.stdout.contains(&body));
}
