//! Parsing, strictness, round-trip and schema tests for the input types.
//!
//! The JSON fixtures are `examples/kamaji/*.yaml` converted to JSON (this
//! crate has no YAML parser); regenerate them with
//! `python3 -c 'import sys,yaml,json; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2],"w"), indent=2)' IN OUT`.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tcpc_spec::{
    AdmissionController, Config, DataStore, Driver, KeyAlgorithm, KonnectivityAgentMode, SealedSecretsScope, SealingMode, ServiceType,
    TenantControlPlane, defaults, round_trip_mismatch, schemas,
};

const TCP_MINIMAL: &str = include_str!("fixtures/tcp-minimal.json");
const TCP_FULL: &str = include_str!("fixtures/tcp-full.json");
const TCP_INGRESS: &str = include_str!("fixtures/tcp-ingress.json");
const DS_ETCD: &str = include_str!("fixtures/datastore-etcd.json");
const DS_POSTGRESQL: &str = include_str!("fixtures/datastore-postgresql.json");

fn config_full() -> Value {
    json!({
        "apiVersion": "tcpc.dev/v1alpha1",
        "kind": "Config",
        "output": "out/manifests",
        "exclude": ["examples/**", "**/*.draft.yaml"],
        "defaults": {"kubernetesVersion": "v1.35.7", "namespace": "tenants"},
        "images": {"registry": "mirror.example.com"},
        "pki": {
            "keyAlgorithm": "ECDSA-P384",
            "leafValidityDays": 180,
            "caValidityDays": 1825,
            "renewBeforeFraction": 0.25,
            "recipients": ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"],
            "stateDir": "secrets/state",
            "lockFile": "tcpc.lock"
        },
        "sealing": {
            "mode": "sealedSecrets",
            "sealedSecrets": {
                "certificate": "keys/sealed-secrets.pem",
                "scope": "namespace-wide",
                "controllerName": "sealed-secrets",
                "controllerNamespace": "kube-system"
            },
            "sops": {"ageRecipients": ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]}
        },
        "check": {"warnDays": 45, "failDays": 10}
    })
}

fn value(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

/// Deserialises, re-serialises and demands exact equality with the input.
fn assert_round_trip<T: DeserializeOwned + serde::Serialize>(input: &Value) -> T {
    let typed: T = serde_json::from_value(input.clone()).unwrap_or_else(|e| panic!("parse: {e}"));
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(&again, input, "round trip changed the document");
    assert_eq!(round_trip_mismatch::<T>(input).unwrap(), None);
    typed
}

/// Error message of a failed typed parse, with serde's path to the field.
fn parse_error<T: DeserializeOwned>(input: &Value) -> (String, String) {
    let text = input.to_string();
    let de = &mut serde_json::Deserializer::from_str(&text);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(_) => panic!("expected a parse error"),
        Err(e) => (e.path().to_string(), e.inner().to_string()),
    }
}

// --- parsing and round trips ------------------------------------------------

#[test]
fn minimal_tcp_parses_without_materialising_defaults() {
    let tcp: TenantControlPlane = assert_round_trip(&value(TCP_MINIMAL));
    assert_eq!(tcp.metadata.name, "tenant-00");
    assert_eq!(tcp.spec.control_plane.service.service_type, ServiceType::LoadBalancer);
    assert_eq!(tcp.spec.kubernetes.version, "v1.35.7");
    let np = tcp.spec.network_profile.as_ref().unwrap();
    assert_eq!(np.port, Some(6443));
    assert_eq!(np.cluster_domain, None, "CRD defaults must not be applied");
    assert_eq!(np.service_cidr, None);
    let addons = tcp.spec.addons.as_ref().unwrap();
    assert!(addons.core_dns.is_some() && addons.kube_proxy.is_some());
    let konnectivity = addons.konnectivity.as_ref().unwrap();
    assert_eq!(konnectivity.server.as_ref().unwrap().port, 8132);
    assert!(konnectivity.agent.is_none());
    let dep = tcp.spec.control_plane.deployment.as_ref().unwrap();
    assert_eq!(dep.registry_settings, None);
    assert_eq!(dep.extra_args.as_ref().unwrap().api_server.as_deref(), Some(&[][..]));
}

#[test]
fn full_tcp_round_trips_exactly() {
    let tcp: TenantControlPlane = assert_round_trip(&value(TCP_FULL));
    let spec = &tcp.spec;
    assert_eq!(spec.internal_ca_certificates_config_map.as_deref(), Some("internal-ca-bundle"));
    assert_eq!(spec.pki.as_ref().unwrap().key_algorithm, Some(KeyAlgorithm::EcdsaP256));
    let kubelet = &spec.kubernetes.kubelet;
    let patches = kubelet.configuration_json_patches.as_ref().unwrap();
    assert_eq!(patches.len(), 6);
    assert_eq!(patches[4].value, Some(json!(true)));
    assert_eq!(patches[3].value, None);
    // An explicit JSON null (RFC 6902 `test` of a null value) is a value, not an absent one.
    let mut with_null = value(TCP_FULL);
    with_null["spec"]["kubernetes"]["kubelet"]["configurationJSONPatches"][4]["value"] = Value::Null;
    let tcp_null: TenantControlPlane = assert_round_trip(&with_null);
    let patches_null = tcp_null.spec.kubernetes.kubelet.configuration_json_patches.unwrap();
    assert_eq!(patches_null[4].value, Some(Value::Null), "explicit null is kept");
    let acs = spec.kubernetes.admission_controllers.as_ref().unwrap();
    assert!(acs.contains(&AdmissionController::NodeRestriction));
    let agent = spec.addons.as_ref().unwrap().konnectivity.as_ref().unwrap().agent.as_ref().unwrap();
    assert_eq!(agent.mode, Some(KonnectivityAgentMode::Deployment));
    assert_eq!(spec.network_profile.as_ref().unwrap().dns_service_ips.as_ref().unwrap().len(), 2);
}

#[test]
fn ingress_tcp_round_trips_exactly() {
    let tcp: TenantControlPlane = assert_round_trip(&value(TCP_INGRESS));
    assert_eq!(tcp.spec.control_plane.service.service_type, ServiceType::NodePort);
    assert!(tcp.spec.control_plane.ingress.is_some());
}

#[test]
fn datastores_round_trip_exactly() {
    let etcd: DataStore = assert_round_trip(&value(DS_ETCD));
    assert_eq!(etcd.spec.driver, Driver::Etcd);
    assert!(!etcd.spec.driver.uses_kine());
    let pg: DataStore = assert_round_trip(&value(DS_POSTGRESQL));
    assert_eq!(pg.spec.driver, Driver::PostgreSql);
    assert_eq!(pg.spec.basic_auth.unwrap().username.content.as_deref(), Some("cG9zdGdyZXM="));
}

#[test]
fn config_round_trips_and_defaults_are_methods() {
    let full: Config = assert_round_trip(&config_full());
    assert_eq!(full.output_dir(), "out/manifests");
    assert_eq!(full.key_algorithm(), KeyAlgorithm::EcdsaP384);
    assert_eq!(full.sealing_mode(), Some(SealingMode::SealedSecrets));
    assert_eq!(full.sealed_secrets_scope(), SealedSecretsScope::NamespaceWide);
    assert_eq!(full.renew_before_fraction(), 0.25);

    let empty: Config = assert_round_trip(&json!({"apiVersion": "tcpc.dev/v1alpha1", "kind": "Config"}));
    assert_eq!(empty, Config::empty());
    assert_eq!(empty.output_dir(), "rendered");
    assert_eq!(empty.default_namespace(), "default");
    assert_eq!(empty.default_kubernetes_version(), None);
    assert_eq!(empty.leaf_validity_days(), 365);
    assert_eq!(empty.ca_validity_days(), 3650);
    assert!((empty.renew_before_fraction() - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(empty.state_dir(), ".tcpc/state");
    assert_eq!(empty.lock_file(), "tcpc.lock");
    assert_eq!(empty.key_algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(empty.sealing_mode(), None);
    assert_eq!(empty.sealed_secrets_scope(), SealedSecretsScope::Strict);
    assert_eq!((empty.check_warn_days(), empty.check_fail_days()), (30, 7));
    assert!(empty.exclude_globs().is_empty() && empty.pki_recipients().is_empty());

    let sops_only: Config = serde_json::from_value(json!({
        "apiVersion": "tcpc.dev/v1alpha1", "kind": "Config",
        "sealing": {"sops": {"ageRecipients": ["age1x"]}}
    }))
    .unwrap();
    assert_eq!(sops_only.sealing_mode(), Some(SealingMode::Sops));
}

// --- strictness ---------------------------------------------------------------

#[test]
fn unknown_fields_are_rejected_with_their_path() {
    let mut tcp = value(TCP_MINIMAL);
    tcp["spec"]["networkProfile"]["serviceCIDR"] = json!("10.0.0.0/16");
    let (path, msg) = parse_error::<TenantControlPlane>(&tcp);
    assert_eq!(path, "spec.networkProfile.serviceCIDR");
    assert!(msg.contains("unknown field `serviceCIDR`"), "{msg}");

    let mut tcp = value(TCP_FULL);
    tcp["spec"]["controlPlane"]["deployment"]["probes"]["apiServer"]["liveness"]["period"] = json!(3);
    let (path, msg) = parse_error::<TenantControlPlane>(&tcp);
    assert_eq!(path, "spec.controlPlane.deployment.probes.apiServer.liveness.period");
    assert!(msg.contains("unknown field `period`"), "{msg}");

    let mut ds = value(DS_ETCD);
    ds["spec"]["tlsConfig"]["clientCertificate"]["certificate"]["secretReference"]["key"] = json!("x");
    let (path, msg) = parse_error::<DataStore>(&ds);
    assert_eq!(path, "spec.tlsConfig.clientCertificate.certificate.secretReference.key");
    assert!(msg.contains("unknown field `key`"), "{msg}");

    let mut cfg = config_full();
    cfg["pki"]["leafValidity"] = json!(10);
    let (path, msg) = parse_error::<Config>(&cfg);
    assert_eq!(path, "pki.leafValidity");
    assert!(msg.contains("unknown field `leafValidity`"), "{msg}");
}

#[test]
fn server_populated_metadata_is_rejected() {
    for field in ["uid", "resourceVersion", "managedFields", "creationTimestamp", "generation"] {
        let mut tcp = value(TCP_MINIMAL);
        tcp["metadata"][field] = json!("x");
        let (path, msg) = parse_error::<TenantControlPlane>(&tcp);
        assert_eq!(path, format!("metadata.{field}"));
        assert!(msg.contains(&format!("unknown field `{field}`")), "{msg}");
    }
    let mut ds = value(DS_ETCD);
    ds["metadata"]["namespace"] = json!("kamaji-system");
    let (path, msg) = parse_error::<DataStore>(&ds);
    assert_eq!(path, "metadata.namespace");
    assert!(msg.contains("unknown field `namespace`"), "{msg}");
}

#[test]
fn unknown_fields_inside_kubernetes_types_break_the_round_trip() {
    let mut tcp = value(TCP_FULL);
    tcp["spec"]["controlPlane"]["deployment"]["tolerations"][0]["operater"] = json!("Exists");
    assert_eq!(
        round_trip_mismatch::<TenantControlPlane>(&tcp).unwrap().as_deref(),
        Some("/spec/controlPlane/deployment/tolerations/0/operater")
    );
}

#[test]
fn enum_typos_are_rejected() {
    let cases: &[(&str, Value, &str)] = &[
        ("/spec/controlPlane/service/serviceType", json!("Loadbalancer"), "spec.controlPlane.service.serviceType"),
        ("/spec/kubernetes/kubelet/cgroupfs", json!("Systemd"), "spec.kubernetes.kubelet.cgroupfs"),
        ("/spec/kubernetes/admissionControllers/1", json!("LimitRange"), "spec.kubernetes.admissionControllers[1]"),
        ("/spec/kubernetes/kubelet/preferredAddressTypes/0", json!("InternalIp"), "spec.kubernetes.kubelet.preferredAddressTypes[0]"),
        ("/spec/addons/konnectivity/agent/mode", json!("Daemonset"), "spec.addons.konnectivity.agent.mode"),
        ("/spec/pki/keyAlgorithm", json!("ECDSA_P256"), "spec.pki.keyAlgorithm"),
        ("/spec/controlPlane/service/additionalPorts/1/protocol", json!("tcp"), "spec.controlPlane.service.additionalPorts[1].protocol"),
        (
            "/spec/kubernetes/kubelet/configurationJSONPatches/0/op",
            json!("append"),
            "spec.kubernetes.kubelet.configurationJSONPatches[0].op",
        ),
    ];
    for (pointer, bad, expected_path) in cases {
        let mut tcp = value(TCP_FULL);
        *tcp.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = bad.clone();
        let (path, msg) = parse_error::<TenantControlPlane>(&tcp);
        assert_eq!(&path, expected_path);
        assert!(msg.contains("unknown variant"), "{msg}");
    }
    let mut ds = value(DS_ETCD);
    ds["spec"]["driver"] = json!("Etcd");
    let (path, msg) = parse_error::<DataStore>(&ds);
    assert_eq!(path, "spec.driver");
    assert!(msg.contains("unknown variant `Etcd`"), "{msg}");
}

#[test]
fn required_fields_are_required() {
    let mut tcp = value(TCP_MINIMAL);
    tcp["spec"]["kubernetes"].as_object_mut().unwrap().remove("kubelet");
    let (path, msg) = parse_error::<TenantControlPlane>(&tcp);
    assert_eq!(path, "spec.kubernetes");
    assert!(msg.contains("missing field `kubelet`"), "{msg}");

    let mut tcp = value(TCP_MINIMAL);
    tcp["spec"]["addons"]["konnectivity"]["server"] = json!({});
    let (_, msg) = parse_error::<TenantControlPlane>(&tcp);
    assert!(msg.contains("missing field `port`"), "{msg}");
}

#[test]
fn enum_spellings_match_kamaji() {
    let spelled = |v: &dyn erased::Ser| v.json();
    assert_eq!(spelled(&ServiceType::ClusterIp), json!("ClusterIP"));
    assert_eq!(spelled(&KonnectivityAgentMode::DaemonSet), json!("DaemonSet"));
    assert_eq!(spelled(&tcpc_spec::KubeletAddressType::InternalDns), json!("InternalDNS"));
    assert_eq!(spelled(&AdmissionController::DenyServiceExternalIps), json!("DenyServiceExternalIPs"));
    assert_eq!(spelled(&Driver::MySql), json!("MySQL"));
    assert_eq!(spelled(&KeyAlgorithm::Rsa4096), json!("RSA-4096"));
    assert_eq!(spelled(&SealedSecretsScope::ClusterWide), json!("cluster-wide"));
    assert_eq!("NodePort".parse::<ServiceType>().unwrap(), ServiceType::NodePort);
    let err = "nodeport".parse::<ServiceType>().unwrap_err();
    assert!(err.to_string().contains("ClusterIP, NodePort, LoadBalancer"), "{err}");
    for ac in defaults::DEFAULT_ADMISSION_CONTROLLERS {
        ac.parse::<AdmissionController>().unwrap();
    }
}

mod erased {
    pub trait Ser {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}

// --- schemas ------------------------------------------------------------------

fn validator(file: &str) -> jsonschema::Validator {
    let all = schemas();
    jsonschema::validator_for(&all[file]).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn schema_errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect()
}

#[test]
fn schemas_have_the_expected_files_and_shape() {
    let all = schemas();
    assert_eq!(all.keys().copied().collect::<Vec<_>>(), ["config.schema.json", "datastore.schema.json", "tenantcontrolplane.schema.json"]);
    for (name, schema) in &all {
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
        assert_eq!(schema["additionalProperties"], json!(false), "{name}");
        // Self-contained: every $ref points into $defs of the same document.
        let text = schema.to_string();
        for r in text.split("\"$ref\":\"").skip(1) {
            let target = &r[..r.find('"').unwrap()];
            assert!(target.starts_with("#/$defs/"), "{name}: {target}");
            let key = target.trim_start_matches("#/$defs/").replace("~1", "/").replace("~0", "~");
            assert!(schema["$defs"].get(&key).is_some(), "{name}: dangling {target}");
        }
    }
    let tcp = &all["tenantcontrolplane.schema.json"];
    for def in ["TenantControlPlaneSpec", "NetworkProfile", "ProbeSpec", "ParentReference", "ObjectMeta"] {
        assert_eq!(tcp["$defs"][def]["additionalProperties"], json!(false), "{def}");
    }
    assert_eq!(tcp["properties"]["apiVersion"]["const"], "kamaji.clastix.io/v1alpha1");
    let np = &tcp["$defs"]["NetworkProfile"]["properties"];
    for key in ["serviceCidr", "podCidr", "dnsServiceIPs", "certSANs", "allowAddressAsExternalIP"] {
        assert!(np.get(key).is_some(), "{key}");
    }
    // No materialised defaults: no "default" keyword in our own definitions.
    assert!(!tcp["properties"].to_string().contains("\"default\""));
}

#[test]
fn examples_validate_against_the_schemas() {
    let tcp = validator("tenantcontrolplane.schema.json");
    for text in [TCP_MINIMAL, TCP_FULL, TCP_INGRESS] {
        let errors = schema_errors(&tcp, &value(text));
        assert!(errors.is_empty(), "{errors:#?}");
    }
    let ds = validator("datastore.schema.json");
    for text in [DS_ETCD, DS_POSTGRESQL] {
        let errors = schema_errors(&ds, &value(text));
        assert!(errors.is_empty(), "{errors:#?}");
    }
    let cfg = validator("config.schema.json");
    assert!(schema_errors(&cfg, &config_full()).is_empty());
    assert!(schema_errors(&cfg, &json!({"apiVersion": "tcpc.dev/v1alpha1", "kind": "Config"})).is_empty());
}

#[test]
fn schemas_reject_what_serde_rejects() {
    let tcp = validator("tenantcontrolplane.schema.json");
    let mut bad = value(TCP_MINIMAL);
    bad["spec"]["networkProfile"]["serviceCIDR"] = json!("10.0.0.0/16");
    assert!(!tcp.is_valid(&bad));
    let mut bad = value(TCP_MINIMAL);
    bad["spec"]["controlPlane"]["service"]["serviceType"] = json!("Loadbalancer");
    let errors = schema_errors(&tcp, &bad);
    assert!(errors.len() == 1 && errors[0].contains("is not one of"), "{errors:?}");
    let mut bad = value(TCP_MINIMAL);
    bad["spec"]["kubernetes"]["kubelet"]["cgroupfs"] = json!("cgroupsfs");
    let errors = schema_errors(&tcp, &bad);
    assert!(errors.len() == 1 && errors[0].contains("is not one of"), "{errors:?}");
    // Explicit nulls cannot round-trip (they read as absent), so the schema
    // rejects them.
    for pointer in ["/spec/networkProfile/port", "/spec/addons/coreDNS", "/metadata/labels"] {
        let mut bad = value(TCP_MINIMAL);
        *bad.pointer_mut(pointer).unwrap() = Value::Null;
        assert!(!tcp.is_valid(&bad), "{pointer}");
    }
    let mut bad = value(TCP_MINIMAL);
    bad["apiVersion"] = json!("kamaji.clastix.io/v1beta1");
    assert!(!tcp.is_valid(&bad));
    let mut bad = value(TCP_FULL);
    bad["spec"]["controlPlane"]["deployment"]["probes"]["liveness"]["periodSeconds"] = json!(0);
    assert!(!tcp.is_valid(&bad));
    let mut bad = value(TCP_MINIMAL);
    bad["metadata"]["uid"] = json!("1234");
    assert!(!tcp.is_valid(&bad));

    let ds = validator("datastore.schema.json");
    let mut bad = value(DS_ETCD);
    bad["spec"]["endpoints"] = json!([]);
    assert!(!ds.is_valid(&bad));

    let cfg = validator("config.schema.json");
    let mut bad = config_full();
    bad["sealing"]["sealedSecrets"]["scope"] = json!("namespace");
    assert!(!cfg.is_valid(&bad));
}
