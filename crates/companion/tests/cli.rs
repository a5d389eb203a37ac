//! The real `tcpc-companion` binary: its CLI, and the CRD it prints is the one `tcpc install
//! companion` ships (`crd.yaml`). (It also makes `cargo test` build the binary the e2e harness
//! puts in the companion's image, tests/e2e/tenants.sh.)

use std::process::Command;

fn companion(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tcpc-companion")).args(args).output().expect("run tcpc-companion")
}

#[test]
fn prints_its_version() {
    let out = companion(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
}

#[test]
fn the_crd_it_prints_is_the_one_tcpc_installs() {
    let out = companion(&["crd"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crd.yaml")).unwrap();
    let docs = tcpc_yaml::parse_stream(&shipped).expect("crd.yaml parses");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].root.to_json(), printed, "crd.yaml is stale: TCPC_BLESS=1 cargo test -p tcpc-companion");
    assert_eq!(printed["spec"]["group"], "tcpc.dev");
    assert_eq!(printed["spec"]["names"]["shortNames"], serde_json::json!(["rcp"]));
}

#[test]
fn refuses_unknown_arguments() {
    let out = companion(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}
