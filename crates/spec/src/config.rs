//! `tcpc.yaml` (`tcpc.dev/v1alpha1`, kind `Config`): repository-wide settings.
//!
//! Every field except `apiVersion`/`kind` is optional and nothing is defaulted
//! during deserialisation. The defaults are the `DEFAULT_*` consts of this
//! module, applied by the accessor methods on [`Config`] (e.g.
//! [`Config::leaf_validity_days`]), so the parsed file still round-trips.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::pki::KeyAlgorithm;

/// Default output directory, relative to the repository root.
pub const DEFAULT_OUTPUT: &str = "rendered";
/// Default namespace for TenantControlPlanes without `metadata.namespace`.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Default validity of leaf certificates, in days.
pub const DEFAULT_LEAF_VALIDITY_DAYS: u32 = 365;
/// Default validity of CA certificates, in days.
pub const DEFAULT_CA_VALIDITY_DAYS: u32 = 3650;
/// Default share of a certificate's lifetime left when it is renewed.
pub const DEFAULT_RENEW_BEFORE_FRACTION: f64 = 1.0 / 3.0;
/// Default directory of the age-encrypted PKI state, relative to the repo root.
pub const DEFAULT_STATE_DIR: &str = ".tcpc/state";
/// Default lock file path, relative to the repository root.
pub const DEFAULT_LOCK_FILE: &str = "tcpc.lock";
/// Default SealedSecret scope.
pub const DEFAULT_SEALED_SECRETS_SCOPE: SealedSecretsScope = SealedSecretsScope::Strict;
/// `tcpc check` warns when a certificate expires within this many days.
pub const DEFAULT_CHECK_WARN_DAYS: u32 = 30;
/// `tcpc check` fails when a certificate expires within this many days.
pub const DEFAULT_CHECK_FAIL_DAYS: u32 = 7;
/// Longest certificate validity (and `check` threshold) accepted, in days: 100 years. Longer
/// is a typo, and would approach the year 9999 that X.509 cannot pass.
pub const MAX_VALIDITY_DAYS: u32 = 36_500;
/// Default of `limits.maxTotalBytes`: all input files of a repository together.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 32 << 20;
/// Hard cap of `limits.maxTotalBytes`.
pub const MAX_TOTAL_BYTES_CAP: u64 = 256 << 20;

/// The companion's namespace unless `companion.namespace` says otherwise.
pub const DEFAULT_COMPANION_NAMESPACE: &str = "tcpc-system";

/// The `tcpc.yaml` file at the repository root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Always `tcpc.dev/v1alpha1`.
    #[schemars(extend("const" = crate::CONFIG_API_VERSION))]
    pub api_version: String,
    /// Always `Config`.
    #[schemars(extend("const" = Config::KIND))]
    pub kind: String,
    /// Output directory, relative to the repository root. Default: `rendered`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Glob patterns, relative to the repository root, of paths not scanned
    /// for inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<String>>,
    /// Values filled into TenantControlPlanes that omit them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults: Option<ConfigDefaults>,
    /// Image settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Images>,
    /// Certificate generation, state and lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pki: Option<PkiConfig>,
    /// How Secrets are encrypted in the output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealing: Option<Sealing>,
    /// Thresholds of `tcpc check`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// The Namespace objects of the management bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Namespaces>,
    /// Resource limits for reading the repository's YAML (`tcpc.yaml` itself is always read
    /// under the defaults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// The etcd StatefulSet of tenants annotated `tcpc.dev/dedicated-etcd: "true"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedicated_etcd: Option<DedicatedEtcd>,
    /// How each tenant bundle reaches its tenant cluster without a human. Off when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// What is destroyed when a tenant is removed with a Tombstone. Nothing when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teardown: Option<Teardown>,
    /// The NetworkPolicy of each tenant's control-plane pods. On when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicyConfig>,
    /// The in-cluster companion (`tcpc install companion`): live status of each tenant. Off when
    /// unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub companion: Option<CompanionConfig>,
}

/// `companion`: what each tenant bundle carries for the companion — a `RenderedControlPlane`
/// (`tcpc.dev/v1alpha1`) recording what was rendered, whose status the companion writes, and a
/// Role letting the companion read, by name, the tenant's admin kubeconfig and certificate
/// Secrets. Install the companion (and its CRD) first: `tcpc install companion`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompanionConfig {
    /// Render the records and the companion's read access. Default: true once `companion` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The companion's namespace (where `tcpc install companion` puts it). Default: `tcpc-system`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The companion's image. When set, the rendered tree also holds the companion's install
    /// (what `tcpc install companion` prints) as a kustomize Component, `_companion/`, which the
    /// top-level kustomization includes: one apply of the tree brings the companion up with the
    /// records it serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// `networkPolicy`: one NetworkPolicy per tenant, selecting its control-plane pods, admitting
/// only what the control plane needs (a tenant opts out with the annotation
/// `tcpc.dev/network-policy: "false"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyConfig {
    /// Render the NetworkPolicies. Default: true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// More egress rules for every tenant (`networking.k8s.io/v1` NetworkPolicyEgressRule), for
    /// what the control plane calls that tcpc cannot see: authentication, authorization and
    /// audit webhooks, admission webhooks and aggregated APIs reached without konnectivity.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<serde_json::Map<String, serde_json::Value>>>")]
    pub egress: Option<Vec<serde_json::Value>>,
}

/// `teardown`: opt-in destruction of what a tenant's setup Job made, once the tenant is
/// removed with a Tombstone (never with `--allow-removal` alone: the Job must stay in Git until
/// it has run).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Teardown {
    /// While a tenant's Tombstone is in the repository, render a Job in its place that drops
    /// the tenant's database and user (MySQL, PostgreSQL), or deletes its keys, role and user
    /// (etcd with `tlsConfig.clientCertificate`). Default: false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore: Option<bool>,
}

/// `delivery`: what carries each tenant bundle into its tenant cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delivery {
    /// Flux: one `kustomize.toolkit.fluxcd.io/v1` Kustomization per tenant in its management
    /// bundle, applying `<output>/<ns>/<name>/tenant` to the tenant through its admin
    /// kubeconfig Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flux: Option<FluxDelivery>,
    /// Argo CD: one cluster Secret per tenant (`argocd.argoproj.io/secret-type: cluster`,
    /// sealed like every Secret) registering the tenant API server with TLS client credentials,
    /// for an Application or ApplicationSet to target (`tcpc install argocd-applicationset`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdDelivery>,
}

/// `delivery.argocd`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdDelivery {
    /// The namespace Argo CD runs in, where it reads cluster Secrets. Default: `argocd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The tenant API address Argo CD connects to: `service` (the in-cluster Service, for an
    /// Argo CD in the management cluster) or `public` (the tenant's control-plane endpoint).
    /// Default: `service`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The Argo CD project the cluster is scoped to (the Secret's `project` key). Default: none
    /// (every project may target it, as permitted by the projects' destinations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// `delivery.flux`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxDelivery {
    /// The GitRepository Flux reads this repository from. Default: `tcpc` in `flux-system`,
    /// what `tcpc install flux` creates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<FluxSourceRef>,
    /// The output directory as a path in that Git repository. Default: `./<output>` (tcpc.yaml
    /// at the root of the Git repository).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How often Flux re-applies the tenant bundle (a Go duration). Default: `10m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// How soon Flux retries while the tenant API server does not answer yet. Default: `30s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<String>,
    /// The key of the tenant's admin kubeconfig Secret Flux connects with: `super-admin.svc`
    /// (the in-cluster Service name, for a kustomize-controller running in the management
    /// cluster) or `super-admin.conf` (the tenant's public endpoint). Default: `super-admin.svc`.
    /// Delivery puts the super-admin kubeconfig into that Secret: only `system:masters` can
    /// create the tenant's RBAC before it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig_key: Option<String>,
}

/// A Flux source: `GitRepository` `name` in `namespace`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxSourceRef {
    /// GitRepository name.
    pub name: String,
    /// Its namespace. Default: `flux-system`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `namespaces`: whether the management bundle creates the tenants' namespaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Namespaces {
    /// Emit one Namespace object per namespace holding TenantControlPlanes (`<ns>/namespace.yaml`).
    /// Turn off when the namespaces are managed elsewhere. Default: true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create: Option<bool>,
}

/// `limits`: each at least 1 and at most its hard cap; unset means the default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Size of one input file in bytes. Default 2 MiB, at most 8 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = tcpc_yaml::Limits::HARD_CAP.max_file_bytes))]
    pub max_file_bytes: Option<u64>,
    /// Size of all input files together in bytes. Default 32 MiB, at most 256 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_TOTAL_BYTES_CAP))]
    pub max_total_bytes: Option<u64>,
    /// Documents in one file. Default 10000, at most 1000000.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = tcpc_yaml::Limits::HARD_CAP.max_documents))]
    pub max_documents: Option<u64>,
    /// Characters in one document. Default 1 Mi, at most 8 Mi.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = tcpc_yaml::Limits::HARD_CAP.max_document_chars))]
    pub max_document_chars: Option<u64>,
    /// Nesting depth of mappings and sequences. Default 64, at most 256.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = tcpc_yaml::Limits::HARD_CAP.max_depth))]
    pub max_depth: Option<u64>,
    /// Alias uses (`*name`) in one file. Default 10000, at most 1000000.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = tcpc_yaml::Limits::HARD_CAP.max_aliases))]
    pub max_aliases: Option<u64>,
    /// Nodes plus scalar bytes that aliases expand to in one file. Default 1000000, at most
    /// 4000000.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = tcpc_yaml::Limits::HARD_CAP.max_alias_expansion))]
    pub max_alias_expansion: Option<u64>,
}

/// `defaults`: values for TenantControlPlanes that omit them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigDefaults {
    /// Used when `spec.kubernetes.version` is empty. No default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// Used when `metadata.namespace` is absent. Default: `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `images`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Images {
    /// Registry replacing Kamaji's `registry.k8s.io` default for control-plane
    /// images when a TCP sets no `registrySettings.registry`. No default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// kine sidecar image for MySQL, PostgreSQL and NATS DataStores. Default: Kamaji's
    /// `--kine-image` default, `rancher/kine:v0.11.10-amd64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kine: Option<String>,
    /// Images of the per-tenant datastore setup Job (the SQL client it runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore_setup: Option<DatastoreSetupImages>,
    /// The dedicated etcd's image (it runs `etcd` and `etcdctl`). Default: kubeadm's etcd image
    /// for Kubernetes v1.33+, `registry.k8s.io/etcd:3.5.21-0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<String>,
}

/// `dedicatedEtcd`: the etcd a tenant annotated `tcpc.dev/dedicated-etcd: "true"` gets in its
/// own namespace, with its own CA, instead of a shared DataStore.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DedicatedEtcd {
    /// Members: 1, 3 or 5. Default: 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = [1, 3, 5]))]
    pub replicas: Option<u8>,
    /// Size of each member's PersistentVolumeClaim. Default: `1Gi`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"))]
    pub storage: Option<String>,
    /// StorageClass of those claims. Default: the cluster's default StorageClass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// `images.datastoreSetup`: the image whose SQL client creates each tenant's database and user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatastoreSetupImages {
    /// Runs `psql`. Default: `docker.io/library/postgres:17-alpine`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgresql: Option<String>,
    /// Runs `mariadb` (or `mysql`). Default: `docker.io/library/mariadb:11`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mysql: Option<String>,
    /// Runs `etcdctl` and `/bin/sh` (etcd DataStores with `tlsConfig.clientCertificate`).
    /// Default: `docker.io/bitnami/etcd:3.5`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<String>,
}

/// `pki`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PkiConfig {
    /// Key algorithm. Default: [`KeyAlgorithm::DEFAULT`] (`RSA-2048`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Leaf certificate validity in days. Default: 365. At most 36500.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_VALIDITY_DAYS))]
    pub leaf_validity_days: Option<u32>,
    /// CA certificate validity in days. Default: 3650. At most 36500.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_VALIDITY_DAYS))]
    pub ca_validity_days: Option<u32>,
    /// Renew a certificate once less than this share of its lifetime is
    /// left (0 < x < 1). Default: 1/3.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0.0, "exclusiveMaximum" = 1.0))]
    pub renew_before_fraction: Option<f64>,
    /// Who renews leaf certificates: `git` (default) or `companion`; `spec.pki.rotation`
    /// overrides it per TCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<crate::pki::Rotation>,
    /// Test only: the validity of leaves the companion issues, in seconds (`rotation:
    /// companion`). Refused unless the environment sets `TCPC_ALLOW_TEST_ONLY=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60))]
    pub test_only_leaf_validity_seconds: Option<u64>,
    /// age recipients (`age1…`, `ssh-ed25519 …`) the PKI state is encrypted to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<String>>,
    /// Directory of the encrypted PKI state. Default: `.tcpc/state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<String>,
    /// Lock file path; each tenant's entry is a shard in `<lockFile>.d/<namespace>/<name>.json`.
    /// Default: `tcpc.lock`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_file: Option<String>,
}

/// `sealing`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sealing {
    /// Which sealing backend to use. When absent, see [`Config::sealing_mode`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<SealingMode>,
    /// Settings for `mode: sealedSecrets`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed_secrets: Option<SealedSecretsConfig>,
    /// Settings for `mode: sops`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sops: Option<SopsConfig>,
}

string_enum! {
    /// Sealing backend.
    pub enum SealingMode {
        /// Bitnami sealed-secrets `SealedSecret` objects.
        SealedSecrets = "sealedSecrets",
        /// SOPS-encrypted Secret manifests (age).
        Sops = "sops",
    }
}

/// `sealing.sealedSecrets`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedSecretsConfig {
    /// Path (relative to the repository root) of the controller's public
    /// certificate PEM (`kubeseal --fetch-cert`). Required.
    pub certificate: String,
    /// Sealing scope. Default: `strict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<SealedSecretsScope>,
    /// Controller name (informational, as for `kubeseal --controller-name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_name: Option<String>,
    /// Controller namespace (as for `kubeseal --controller-namespace`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_namespace: Option<String>,
}

string_enum! {
    /// sealed-secrets scope: what the ciphertext is bound to.
    pub enum SealedSecretsScope {
        /// Bound to namespace and name.
        Strict = "strict",
        /// Bound to namespace only.
        NamespaceWide = "namespace-wide",
        /// Not bound.
        ClusterWide = "cluster-wide",
    }
}

/// `sealing.sops`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SopsConfig {
    /// age recipients the data key is encrypted to. Required.
    #[schemars(length(min = 1))]
    pub age_recipients: Vec<String>,
}

/// `check`: certificate expiry thresholds of `tcpc check`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Check {
    /// Warn below this many days. Default: 30. At most 36500.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_VALIDITY_DAYS))]
    pub warn_days: Option<u32>,
    /// Fail below this many days. Default: 7. At most 36500.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_VALIDITY_DAYS))]
    pub fail_days: Option<u32>,
}

impl Config {
    /// The `kind` of this file.
    pub const KIND: &'static str = "Config";

    /// An empty config (all defaults), as used when `tcpc.yaml` is absent.
    pub fn empty() -> Self {
        Config {
            api_version: crate::CONFIG_API_VERSION.to_owned(),
            kind: Self::KIND.to_owned(),
            output: None,
            exclude: None,
            defaults: None,
            images: None,
            pki: None,
            sealing: None,
            check: None,
            namespaces: None,
            limits: None,
            dedicated_etcd: None,
            delivery: None,
            teardown: None,
            network_policy: None,
            companion: None,
        }
    }

    /// `networkPolicy.enabled`. Default: true.
    pub fn network_policy_enabled(&self) -> bool {
        self.network_policy.as_ref().and_then(|n| n.enabled).unwrap_or(true)
    }

    /// The companion's namespace when `companion` is on (`companion.enabled`, default true once
    /// set), else `None`.
    pub fn companion_namespace(&self) -> Option<&str> {
        let c = self.companion.as_ref().filter(|c| c.enabled != Some(false))?;
        Some(c.namespace.as_deref().unwrap_or(DEFAULT_COMPANION_NAMESPACE))
    }

    /// `teardown.datastore`. Default: false.
    pub fn teardown_datastore(&self) -> bool {
        self.teardown.as_ref().and_then(|t| t.datastore).unwrap_or(false)
    }

    /// `namespaces.create`. Default: true.
    pub fn create_namespaces(&self) -> bool {
        self.namespaces.as_ref().and_then(|n| n.create).unwrap_or(true)
    }

    /// Output directory. Default: [`DEFAULT_OUTPUT`].
    pub fn output_dir(&self) -> &str {
        self.output.as_deref().unwrap_or(DEFAULT_OUTPUT)
    }

    /// Exclude globs (empty when unset).
    pub fn exclude_globs(&self) -> &[String] {
        self.exclude.as_deref().unwrap_or_default()
    }

    /// `defaults.kubernetesVersion` (no default).
    pub fn default_kubernetes_version(&self) -> Option<&str> {
        self.defaults.as_ref()?.kubernetes_version.as_deref()
    }

    /// `defaults.namespace`. Default: [`DEFAULT_NAMESPACE`].
    pub fn default_namespace(&self) -> &str {
        self.defaults.as_ref().and_then(|d| d.namespace.as_deref()).unwrap_or(DEFAULT_NAMESPACE)
    }

    /// `images.registry` (no default; Kamaji's own default applies after it).
    pub fn image_registry(&self) -> Option<&str> {
        self.images.as_ref()?.registry.as_deref()
    }

    /// `images.etcd`, or kubeadm's etcd image.
    pub fn etcd_image(&self) -> &str {
        self.images.as_ref().and_then(|i| i.etcd.as_deref()).unwrap_or(crate::defaults::DEFAULT_ETCD_IMAGE)
    }

    /// `images.kine`, or Kamaji's default.
    pub fn kine_image(&self) -> &str {
        self.images.as_ref().and_then(|i| i.kine.as_deref()).unwrap_or(crate::defaults::DEFAULT_KINE_IMAGE)
    }

    /// The setup Job image for etcd DataStores.
    pub fn datastore_setup_image_etcd(&self) -> &str {
        self.images
            .as_ref()
            .and_then(|i| i.datastore_setup.as_ref())
            .and_then(|s| s.etcd.as_deref())
            .unwrap_or(crate::defaults::DEFAULT_ETCD_SETUP_IMAGE)
    }

    /// The setup Job image for a SQL driver (`postgresql` or `mysql`).
    pub fn datastore_setup_image(&self, mysql: bool) -> &str {
        let set = self.images.as_ref().and_then(|i| i.datastore_setup.as_ref());
        if mysql {
            set.and_then(|s| s.mysql.as_deref()).unwrap_or(crate::defaults::DEFAULT_MYSQL_SETUP_IMAGE)
        } else {
            set.and_then(|s| s.postgresql.as_deref()).unwrap_or(crate::defaults::DEFAULT_POSTGRESQL_SETUP_IMAGE)
        }
    }

    fn pki(&self) -> Option<&PkiConfig> {
        self.pki.as_ref()
    }

    /// `pki.keyAlgorithm`. Default: [`KeyAlgorithm::DEFAULT`].
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.pki().and_then(|p| p.key_algorithm).unwrap_or(KeyAlgorithm::DEFAULT)
    }

    /// `pki.leafValidityDays`. Default: [`DEFAULT_LEAF_VALIDITY_DAYS`].
    pub fn leaf_validity_days(&self) -> u32 {
        self.pki().and_then(|p| p.leaf_validity_days).unwrap_or(DEFAULT_LEAF_VALIDITY_DAYS)
    }

    /// `pki.caValidityDays`. Default: [`DEFAULT_CA_VALIDITY_DAYS`].
    pub fn ca_validity_days(&self) -> u32 {
        self.pki().and_then(|p| p.ca_validity_days).unwrap_or(DEFAULT_CA_VALIDITY_DAYS)
    }

    /// `pki.renewBeforeFraction`. Default: [`DEFAULT_RENEW_BEFORE_FRACTION`].
    pub fn renew_before_fraction(&self) -> f64 {
        self.pki().and_then(|p| p.renew_before_fraction).unwrap_or(DEFAULT_RENEW_BEFORE_FRACTION)
    }

    /// `pki.recipients` (empty when unset).
    pub fn pki_recipients(&self) -> &[String] {
        self.pki().and_then(|p| p.recipients.as_deref()).unwrap_or_default()
    }

    /// `pki.stateDir`. Default: [`DEFAULT_STATE_DIR`].
    pub fn state_dir(&self) -> &str {
        self.pki().and_then(|p| p.state_dir.as_deref()).unwrap_or(DEFAULT_STATE_DIR)
    }

    /// `pki.lockFile`. Default: [`DEFAULT_LOCK_FILE`].
    pub fn lock_file(&self) -> &str {
        self.pki().and_then(|p| p.lock_file.as_deref()).unwrap_or(DEFAULT_LOCK_FILE)
    }

    /// Effective sealing mode: `sealing.mode` if set; otherwise inferred from
    /// which of `sealing.sealedSecrets` / `sealing.sops` is present (only when
    /// exactly one is); otherwise `None` (no sealing configured).
    pub fn sealing_mode(&self) -> Option<SealingMode> {
        let s = self.sealing.as_ref()?;
        if let Some(mode) = s.mode {
            return Some(mode);
        }
        match (&s.sealed_secrets, &s.sops) {
            (Some(_), None) => Some(SealingMode::SealedSecrets),
            (None, Some(_)) => Some(SealingMode::Sops),
            _ => None,
        }
    }

    /// `sealing.sealedSecrets.scope`. Default: [`DEFAULT_SEALED_SECRETS_SCOPE`].
    pub fn sealed_secrets_scope(&self) -> SealedSecretsScope {
        self.sealing.as_ref().and_then(|s| s.sealed_secrets.as_ref()).and_then(|s| s.scope).unwrap_or(DEFAULT_SEALED_SECRETS_SCOPE)
    }

    /// `check.warnDays`. Default: [`DEFAULT_CHECK_WARN_DAYS`].
    pub fn check_warn_days(&self) -> u32 {
        self.check.as_ref().and_then(|c| c.warn_days).unwrap_or(DEFAULT_CHECK_WARN_DAYS)
    }

    /// `check.failDays`. Default: [`DEFAULT_CHECK_FAIL_DAYS`].
    pub fn check_fail_days(&self) -> u32 {
        self.check.as_ref().and_then(|c| c.fail_days).unwrap_or(DEFAULT_CHECK_FAIL_DAYS)
    }
}

impl Config {
    /// The parser limits for input files (`limits.*`, each capped at its hard cap).
    pub fn yaml_limits(&self) -> tcpc_yaml::Limits {
        let d = tcpc_yaml::Limits::DEFAULT;
        let cap = tcpc_yaml::Limits::HARD_CAP;
        let Some(l) = &self.limits else { return d };
        let pick = |v: Option<u64>, default: usize, cap: usize| v.map_or(default, |v| usize::try_from(v).unwrap_or(cap).clamp(1, cap));
        tcpc_yaml::Limits {
            max_file_bytes: pick(l.max_file_bytes, d.max_file_bytes, cap.max_file_bytes),
            max_documents: pick(l.max_documents, d.max_documents, cap.max_documents),
            max_document_chars: pick(l.max_document_chars, d.max_document_chars, cap.max_document_chars),
            max_depth: pick(l.max_depth, d.max_depth, cap.max_depth),
            max_aliases: pick(l.max_aliases, d.max_aliases, cap.max_aliases),
            max_alias_expansion: pick(l.max_alias_expansion, d.max_alias_expansion, cap.max_alias_expansion),
        }
    }

    /// `limits.maxTotalBytes`. Default: [`DEFAULT_MAX_TOTAL_BYTES`], capped at [`MAX_TOTAL_BYTES_CAP`].
    pub fn max_total_bytes(&self) -> u64 {
        self.limits.as_ref().and_then(|l| l.max_total_bytes).unwrap_or(DEFAULT_MAX_TOTAL_BYTES).clamp(1, MAX_TOTAL_BYTES_CAP)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::empty()
    }
}
