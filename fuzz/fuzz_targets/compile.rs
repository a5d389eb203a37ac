//! The whole pure `compile` on arbitrary repositories: a `tcpc.yaml` and spec files built from
//! templates whose numbers and strings the fuzzer chooses (so it reaches resolve, PKI and
//! render), or raw text. With keys, certificates are issued at an arbitrary `now` and sealed
//! with SOPS/age. Any panic is a bug: hostile input must end in diagnostics.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcpc::source::Sources;

const IDENTITY: &str = include_str!("../../tests/fixtures/examples-age-identity.txt");
const RECIPIENT: &str = "age1l073q08ujmk99f2ucgt7t46sn26v0n2u89wnk2xnclrwry4ur46ssqpdzg";
const DATASTORE_STATE: &str = include_str!("../../examples/.tcpc/state/datastores/default.age");
const DATASTORE: &str = include_str!("../../examples/datastores/default.yaml");

#[derive(Arbitrary, Debug)]
enum Value {
    Int(i64),
    Float(f64),
    Text(String),
    Seq(Vec<String>),
    Absent,
}

impl Value {
    fn yaml(&self) -> Option<String> {
        match self {
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(format!("{f:?}")),
            Value::Text(s) => Some(s.clone()),
            Value::Seq(items) => Some(format!("[{}]", items.join(", "))),
            Value::Absent => None,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Config {
    output: Value,
    leaf_validity_days: Value,
    ca_validity_days: Value,
    renew_before_fraction: Value,
    key_algorithm: Value,
    max_depth: Value,
    max_aliases: Value,
    check_warn_days: Value,
}

#[derive(Arbitrary, Debug)]
struct Tcp {
    name: Value,
    namespace: Value,
    version: Value,
    port: Value,
    replicas: Value,
    service_type: Value,
    service_cidr: Value,
    pod_cidr: Value,
    dns_service_ips: Value,
    address: Value,
    cert_sans: Value,
    leaf_validity_days: Value,
    additional_port: Value,
    probe_period: Value,
}

#[derive(Arbitrary, Debug)]
enum File {
    Tcp(Tcp),
    Raw(String),
    DataStore,
}

#[derive(Arbitrary, Debug)]
struct Repo {
    config: Option<Config>,
    files: Vec<File>,
    /// `Some(unix seconds)`: compile with keys at that time.
    keys_at: Option<i64>,
}

fn line(out: &mut String, indent: &str, key: &str, v: &Value) {
    if let Some(v) = v.yaml() {
        out.push_str(&format!("{indent}{key}: {v}\n"));
    }
}

fn config_text(c: &Config) -> String {
    let mut s = String::from("apiVersion: tcpc.dev/v1alpha1\nkind: Config\n");
    line(&mut s, "", "output", &c.output);
    s.push_str(&format!("pki:\n  recipients: [{RECIPIENT}]\n"));
    line(&mut s, "  ", "leafValidityDays", &c.leaf_validity_days);
    line(&mut s, "  ", "caValidityDays", &c.ca_validity_days);
    line(&mut s, "  ", "renewBeforeFraction", &c.renew_before_fraction);
    line(&mut s, "  ", "keyAlgorithm", &c.key_algorithm);
    s.push_str(&format!("sealing:\n  sops: {{ageRecipients: [{RECIPIENT}]}}\nlimits:\n"));
    line(&mut s, "  ", "maxDepth", &c.max_depth);
    line(&mut s, "  ", "maxAliases", &c.max_aliases);
    s.push_str("check:\n");
    line(&mut s, "  ", "warnDays", &c.check_warn_days);
    s
}

fn tcp_text(t: &Tcp) -> String {
    let mut s = String::from("apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n");
    s.push_str(&format!("  name: {}\n", t.name.yaml().unwrap_or_else(|| "t".into())));
    line(&mut s, "  ", "namespace", &t.namespace);
    s.push_str("spec:\n  controlPlane:\n    deployment:\n");
    line(&mut s, "      ", "replicas", &t.replicas);
    if let Some(p) = t.probe_period.yaml() {
        s.push_str(&format!("      probes:\n        liveness:\n          periodSeconds: {p}\n"));
    }
    s.push_str("    service:\n");
    s.push_str(&format!("      serviceType: {}\n", t.service_type.yaml().unwrap_or_else(|| "ClusterIP".into())));
    if let Some(p) = t.additional_port.yaml() {
        s.push_str(&format!("      additionalPorts:\n      - name: extra\n        port: {p}\n        targetPort: {p}\n"));
    }
    s.push_str("  networkProfile:\n");
    line(&mut s, "    ", "port", &t.port);
    line(&mut s, "    ", "serviceCidr", &t.service_cidr);
    line(&mut s, "    ", "podCidr", &t.pod_cidr);
    line(&mut s, "    ", "dnsServiceIPs", &t.dns_service_ips);
    line(&mut s, "    ", "address", &t.address);
    line(&mut s, "    ", "certSANs", &t.cert_sans);
    s.push_str(&format!("  kubernetes:\n    version: {}\n    kubelet:\n      cgroupfs: systemd\n", t.version.yaml().unwrap_or_else(|| "v1.36.3".into())));
    if let Some(v) = t.leaf_validity_days.yaml() {
        s.push_str(&format!("  pki:\n    leafValidityDays: {v}\n"));
    }
    s
}

struct Fixed {
    identities: Vec<age::x25519::Identity>,
    sealer: tcpc::pki::Sealer,
    states: BTreeMap<String, String>,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let recipients = vec![RECIPIENT.to_string()];
        Fixed {
            identities: tcpc_seal::state::parse_identity_file(IDENTITY).expect("identity"),
            sealer: tcpc::pki::Sealer::Sops {
                recipients: tcpc_seal::state::parse_recipients(&recipients).expect("recipient"),
                recipient_strings: recipients,
            },
            states: BTreeMap::from([("datastores/default".to_string(), DATASTORE_STATE.to_string())]),
        }
    })
}

fuzz_target!(|repo: Repo| {
    if repo.files.len() > 4 {
        return;
    }
    let mut sources = Sources::default();
    let config = repo.config.as_ref().map(|c| sources.add("tcpc.yaml".into(), config_text(c)));
    for (i, f) in repo.files.iter().enumerate() {
        let text = match f {
            File::Tcp(t) => tcp_text(t),
            File::Raw(s) => s.clone(),
            File::DataStore => DATASTORE.to_string(),
        };
        sources.add(format!("f{i}.yaml"), text);
    }
    let lock = tcpc::lock::Lock::new();
    let f = fixed();
    let intent = tcpc::intent::Intent::default();
    let digests = tcpc::stamp::InputFiles::default();
    let keys = repo.keys_at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()).map(|now| tcpc::Keys {
        lock: &lock,
        now,
        seed: [7; 32],
        identities: &f.identities,
        states: &f.states,
        sealer: Some(&f.sealer),
        intent: &intent,
        cache: None,
        digests: &digests,
        kept: None,
    });
    // As the CLI's edge: tcpc.yaml first, parsed once; its errors end the run.
    let mut config_diags = tcpc::diag::Diagnostics::default();
    let config = tcpc::parse::ConfigFile::parse(&sources, config, &mut config_diags);
    if config_diags.has_errors() {
        let _ = config_diags.render(&sources);
        return;
    }
    if let Err(diags) = tcpc::compile(&sources, &config, keys.as_ref()) {
        // Rendering the diagnostics is part of the run (spans must point into the sources).
        let _ = diags.render(&sources);
    }
});
