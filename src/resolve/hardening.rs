//! Hardened defaults of the control-plane pod, and how the spec's own fields override them.
//!
//! Every control-plane pod tcpc renders passes Pod Security "restricted" unless the spec says
//! otherwise: a fixed non-root identity and the runtime's default seccomp profile for the pod
//! (inherited by every container), no privilege escalation, no capabilities and a read-only root
//! filesystem for each control-plane container, no service-account token, and CPU and memory
//! requests. Kamaji's fields override these defaults and are never dropped:
//!
//! - `podSecurityContext` / `containerSecurityContexts.<component>`: merged field by field over
//!   the default, the spec winning for every field it sets (a nested object such as
//!   `capabilities` or `seccompProfile` replaces the default's as a whole) — the way a container's
//!   securityContext already overrides its pod's in Kubernetes;
//! - `resources.<component>`: replaces the default requests of that container as a whole;
//! - `automountServiceAccountToken`: used as given.
//!
//! Invariant: pure; the defaults are constants documented in README.md.

use serde_json::{Map, Value, json};

use super::Resolver;

/// TenantControlPlane annotation that puts the super-admin kubeconfig (`O=system:masters`,
/// beyond RBAC) back into the admin Secret as Kamaji has it (`super-admin.conf`,
/// `super-admin.svc`), for tools that read it from there: `"true"`. By default it stays out of
/// the cluster, and `tcpc kubeconfig NS/NAME --user super-admin` writes it from the encrypted
/// state for whoever holds the identity.
pub const SUPER_ADMIN_ANNOTATION: &str = "tcpc.dev/super-admin-in-cluster";

/// UID and GID of every control-plane process, and the `fsGroup` that lets them read their
/// key files. The upstream images declare no user (they run as root unless told otherwise), so
/// `runAsNonRoot` alone would make the kubelet refuse to start them: a number is needed. 65532 is
/// `nonroot` in the distroless base images (upstream's control-plane images are distroless-based),
/// far above the range of host accounts (a container escape lands on no real user), and not
/// 65534 (`nobody`, which NFS squashes unknown users to and other workloads share).
pub const CONTROL_PLANE_UID: i64 = 65532;

/// Mode of the Secret files mounted into the control plane (0600, kubeadm's for keys). With an
/// `fsGroup`, the kubelet changes every file of a (read-only) Secret or projected volume to that
/// group and adds group read (Kubernetes v1.36 `pkg/volume/volume_linux.go`, `changeFilePermission`:
/// `Lchown(-1, fsGroup)`, mode | 0440), so the files are 0640 root:65532 in the container:
/// readable by the control-plane processes through their group, by no other user.
/// `tests/e2e/tenants.sh` (scenario `hardening`) checks exactly that on running pods.
pub const SECRET_FILE_MODE: i32 = 0o600;

/// The pod securityContext a control-plane pod gets when the spec does not override it.
pub fn default_pod_security_context() -> Value {
    json!({
        "fsGroup": CONTROL_PLANE_UID,
        "runAsGroup": CONTROL_PLANE_UID,
        "runAsNonRoot": true,
        "runAsUser": CONTROL_PLANE_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

/// The securityContext of each control-plane container when the spec does not override it:
/// the container-only fields. `runAsNonRoot` and `seccompProfile` come from the pod (every
/// container inherits them, the spec's own containers too), so a spec that sets them in its
/// `podSecurityContext` is not overridden by a container-level default.
pub fn default_container_security_context() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": true,
    })
}

/// Control-plane containers, for their default requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    ApiServer,
    ControllerManager,
    Scheduler,
    /// The kine sidecar of MySQL, PostgreSQL and NATS DataStores.
    Kine,
    /// A dedicated etcd member.
    Etcd,
    /// The konnectivity-server sidecar.
    Konnectivity,
}

/// Default requests (no limits: a memory limit turns a load spike into an OOM kill of the API
/// server, a CPU limit into throttled requests). Memory is the idle RSS measured in `tests/e2e`
/// (scenario `hardening`, v1.36.3: kube-apiserver 251–279 MB, kube-controller-manager 68–107 MB,
/// kube-scheduler 60–64 MB), so the pods are Burstable rather than BestEffort and the scheduler
/// places them by what they use; CPU is what an idle control plane needs, small enough that a
/// two-core node still runs a dozen of them.
pub fn default_resources(c: Container) -> Value {
    let (cpu, memory) = match c {
        Container::ApiServer => ("100m", "256Mi"),
        Container::ControllerManager => ("50m", "96Mi"),
        Container::Scheduler => ("20m", "64Mi"),
        Container::Kine => ("20m", "48Mi"),
        Container::Etcd => ("50m", "64Mi"),
        // not measured yet: the proxy-server's idle RSS with a few agents is tens of MB
        Container::Konnectivity => ("10m", "32Mi"),
    };
    json!({"requests": {"cpu": cpu, "memory": memory}})
}

/// `base` with every top-level field of `over` set over it (`over` wins; `null` in `over` is
/// not a value and changes nothing).
pub fn merge(base: Value, over: Option<Value>) -> Value {
    let mut out: Map<String, Value> = match base {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Some(Value::Object(over)) = over {
        for (k, v) in over {
            if !v.is_null() {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

impl Resolver<'_> {
    /// A spec that sets `runAsUser: 0` while the (default) `runAsNonRoot: true` stays would give
    /// a pod the kubelet refuses to start: an error naming the field, not a crash loop.
    pub(super) fn check_root_contradiction(&mut self, pod: Option<&Value>, containers: [&super::ContainerPlan; 3]) {
        let field = |v: Option<&Value>, k: &str| v.and_then(|v| v.get(k)).cloned();
        let keys = ["apiServer", "controllerManager", "scheduler"];
        for (key, c) in keys.into_iter().zip(containers) {
            let sc = c.security_context.as_ref();
            let uid = field(sc, "runAsUser").or_else(|| field(pod, "runAsUser"));
            let non_root = field(sc, "runAsNonRoot").or_else(|| field(pod, "runAsNonRoot"));
            if uid.as_ref().and_then(Value::as_i64) != Some(0) || non_root != Some(Value::Bool(true)) {
                continue;
            }
            let pointer = if field(sc, "runAsUser").is_some() {
                format!("/spec/controlPlane/deployment/containerSecurityContexts/{key}/runAsUser")
            } else {
                "/spec/controlPlane/deployment/podSecurityContext/runAsUser".to_string()
            };
            let d = self
                .error(&pointer, format!("`{key}` would run as root while `runAsNonRoot` is true"), "runAsUser 0")
                .note("tcpc's default pod securityContext sets runAsNonRoot: true; the kubelet refuses to start such a container")
                .help("to run as root, also set `runAsNonRoot: false` (the pod then fails Pod Security \"restricted\")");
            self.push(d);
            return;
        }
    }

    /// Whether the admin Secret carries the super-admin kubeconfig ([`SUPER_ADMIN_ANNOTATION`]).
    /// `delivered` (`delivery.flux` of tcpc.yaml) implies it: before the tenant bundle exists,
    /// only `system:masters` can create the RBAC that admin.conf's group is bound by (the reason
    /// kubeadm has super-admin.conf), so Flux connects with it; an explicit `"false"` then is an
    /// error rather than a delivery that can never succeed.
    pub(super) fn super_admin_in_cluster(&mut self, delivered: bool) -> bool {
        let value = self.doc.value.metadata.annotations.as_ref().and_then(|a| a.get(SUPER_ADMIN_ANNOTATION)).cloned();
        let pointer = format!("/metadata/annotations/{}", SUPER_ADMIN_ANNOTATION.replace('/', "~1"));
        match value.as_deref() {
            None => delivered,
            Some("false") if delivered => {
                let d = self
                    .error(&pointer, "`delivery.flux` needs the super-admin kubeconfig in the cluster", "\"false\" here")
                    .note("Flux applies the tenant bundle before its RBAC exists: only system:masters can create that RBAC")
                    .help("remove the annotation, or turn delivery.flux off in tcpc.yaml and apply the tenant bundle yourself");
                self.push(d);
                false
            }
            Some("false") => false,
            Some("true") => true,
            Some(other) => {
                let d = self
                    .error(&pointer, format!("invalid value `{other}` for `{SUPER_ADMIN_ANNOTATION}`"), "expected \"true\" or \"false\"")
                    .help("\"true\" puts super-admin.conf into the admin Secret; leave it out to keep it offline");
                self.push(d);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_wins_field_by_field_and_keeps_everything_else() {
        let user = json!({"runAsUser": 1000, "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "privileged": false});
        let c = merge(default_container_security_context(), Some(user));
        assert_eq!(c["runAsUser"], 1000);
        assert_eq!(c["capabilities"], json!({"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}));
        assert_eq!(c["privileged"], false);
        // defaults the spec did not touch stay
        assert_eq!(c["readOnlyRootFilesystem"], true);
        assert_eq!(c["allowPrivilegeEscalation"], false);
        // a field set to the opposite value is honoured, not "hardened" back
        let c = merge(default_container_security_context(), Some(json!({"readOnlyRootFilesystem": false})));
        assert_eq!(c["readOnlyRootFilesystem"], false);
    }

    #[test]
    fn no_override_is_the_default_and_null_changes_nothing() {
        assert_eq!(merge(default_pod_security_context(), None), default_pod_security_context());
        assert_eq!(merge(default_pod_security_context(), Some(json!({"fsGroup": null}))), default_pod_security_context());
    }

    /// Resolves one TenantControlPlane whose `spec.controlPlane.deployment` is `deployment`.
    fn resolved(deployment: &str) -> crate::resolve::Tenant {
        let ds = "apiVersion: kamaji.clastix.io/v1alpha1\nkind: DataStore\nmetadata:\n  name: default\nspec:\n  driver: etcd\n  endpoints:\n  - etcd:2379\n  tlsConfig:\n    certificateAuthority:\n      certificate:\n        secretReference:\n          name: etcd-certs\n          namespace: kamaji-system\n          keyPath: ca.crt\n";
        let tcp = format!(
            "apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n  name: a\n  namespace: t\nspec:\n  controlPlane:\n{deployment}    service:\n      serviceType: ClusterIP\n  kubernetes:\n    version: v1.36.3\n    kubelet:\n      cgroupfs: systemd\n"
        );
        crate::resolve::resolve_one(ds, tcp)
    }

    #[test]
    fn a_plain_spec_gets_every_default() {
        let t = resolved("");
        assert!(!t.super_admin_in_cluster);
        let d = t.deployment;
        assert_eq!(d.pod["securityContext"], default_pod_security_context());
        assert_eq!(d.pod["automountServiceAccountToken"], false);
        for (c, which) in [
            (&d.apiserver, Container::ApiServer),
            (&d.controller_manager, Container::ControllerManager),
            (&d.scheduler, Container::Scheduler),
        ] {
            assert_eq!(c.security_context.as_ref(), Some(&default_container_security_context()));
            assert_eq!(c.resources.as_ref(), Some(&default_resources(which)));
            assert!(c.args.contains(&"--profiling=false".to_string()), "{:?}", c.args);
        }
        assert_eq!(d.secret_mode, 0o600);
    }

    #[test]
    fn root_is_possible_when_asked_for_explicitly() {
        let d = resolved("    deployment:\n      podSecurityContext:\n        runAsUser: 0\n        runAsNonRoot: false\n").deployment;
        assert_eq!(d.pod["securityContext"]["runAsUser"], 0);
        assert_eq!(d.pod["securityContext"]["runAsNonRoot"], false);
        assert_eq!(
            d.apiserver.security_context.as_ref().unwrap().get("runAsNonRoot"),
            None,
            "no container-level default overrides the pod"
        );
    }

    #[test]
    fn kamaji_fields_override_the_defaults() {
        let d = resolved(
            "    deployment:\n      automountServiceAccountToken: true\n      podSecurityContext:\n        runAsUser: 1000\n      containerSecurityContexts:\n        scheduler:\n          readOnlyRootFilesystem: false\n      resources:\n        apiServer:\n          limits:\n            memory: 1Gi\n      extraArgs:\n        scheduler:\n        - --profiling=true\n",
        )
        .deployment;
        assert_eq!(d.pod["automountServiceAccountToken"], true);
        assert_eq!(d.pod["securityContext"]["runAsUser"], 1000);
        assert_eq!(d.pod["securityContext"]["fsGroup"], CONTROL_PLANE_UID);
        let sc = d.scheduler.security_context.as_ref().unwrap();
        assert_eq!((sc["readOnlyRootFilesystem"].clone(), sc["allowPrivilegeEscalation"].clone()), (json!(false), json!(false)));
        assert_eq!(d.apiserver.resources, Some(json!({"limits": {"memory": "1Gi"}})), "the spec's resources replace the default whole");
        assert_eq!(d.controller_manager.resources, Some(default_resources(Container::ControllerManager)));
        assert!(d.scheduler.args.contains(&"--profiling=true".to_string()) && !d.scheduler.args.contains(&"--profiling=false".to_string()));
    }
}
