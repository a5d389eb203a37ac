//! Render: a resolved [`Tenant`] → Kubernetes objects, through the minijinja templates in
//! `templates/`.
//!
//! Templates are compiled into the binary (`include_str!`), so output depends only on the
//! binary and its inputs. Each template renders one or more YAML documents; every
//! interpolation goes through `tojson`, so a value can never break the YAML around it.
//!
//! Invariant: pure. A template error is a tcpc bug and says so.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

use crate::emit::{Bundle, Rendered};
use crate::resolve::{SSL_CERT_DIR, Tenant};

/// (template name, source, bundle). Order does not matter: output is sorted by path later.
const TEMPLATES: &[(&str, &str, Bundle)] = &[
    ("management/_macros.j2", include_str!("../templates/management/_macros.j2"), Bundle::Management),
    ("management/deployment.yaml.j2", include_str!("../templates/management/deployment.yaml.j2"), Bundle::Management),
    ("management/service.yaml.j2", include_str!("../templates/management/service.yaml.j2"), Bundle::Management),
    ("management/poddisruptionbudget.yaml.j2", include_str!("../templates/management/poddisruptionbudget.yaml.j2"), Bundle::Management),
    ("management/ingress.yaml.j2", include_str!("../templates/management/ingress.yaml.j2"), Bundle::Management),
    ("management/tlsroute.yaml.j2", include_str!("../templates/management/tlsroute.yaml.j2"), Bundle::Management),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source, _) in TEMPLATES {
            env.add_template(name, source).unwrap_or_else(|e| panic!("template {name} does not compile: {e:#}"));
        }
        env
    })
}

/// Values a template may use beyond the tenant itself.
#[derive(Debug, Serialize)]
struct Context<'a> {
    t: &'a Tenant,
    ssl_cert_dir: &'static str,
    /// Pod-template annotations (user's, the internal-CA checksum, the PKI checksum).
    pod_annotations: &'a std::collections::BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("internal error in template {template} for {namespace}/{tcp}: {message} (this is a tcpc bug)")]
pub struct RenderError {
    pub template: String,
    pub namespace: String,
    pub tcp: String,
    pub message: String,
}

/// Which templates apply to this tenant.
fn selected(t: &Tenant) -> Vec<&'static str> {
    let mut names = vec!["management/deployment.yaml.j2", "management/service.yaml.j2"];
    if t.deployment.pdb {
        names.push("management/poddisruptionbudget.yaml.j2");
    }
    if t.ingress.is_some() {
        names.push("management/ingress.yaml.j2");
    }
    if t.gateway.is_some() {
        names.push("management/tlsroute.yaml.j2");
    }
    names
}

/// Renders every object of one tenant's bundles, unchecked.
pub fn render(t: &Tenant, pod_annotations: &std::collections::BTreeMap<String, String>) -> Result<Vec<Rendered>, RenderError> {
    let ctx = Context { t, ssl_cert_dir: SSL_CERT_DIR, pod_annotations };
    let mut out = Vec::new();
    for name in selected(t) {
        let fail = |message: String| RenderError { template: name.to_string(), namespace: t.namespace.clone(), tcp: t.name.clone(), message };
        let bundle = TEMPLATES.iter().find(|(n, _, _)| *n == name).map(|(_, _, b)| *b).expect("selected templates exist");
        let text = env().get_template(name).and_then(|tpl| tpl.render(&ctx)).map_err(|e| fail(format!("{e:#}")))?;
        let docs = tcpc_yaml::parse_stream(&text).map_err(|e| fail(format!("produced invalid YAML at {}: {}\n{text}", e.span.start.line, e.message)))?;
        for doc in docs {
            out.push(Rendered { namespace: t.namespace.clone(), tcp: t.name.clone(), bundle, object: doc.root.to_json() });
        }
    }
    Ok(out)
}

/// For tests and debugging: the raw text a template produces.
pub fn render_text(template: &str, t: &Tenant) -> Result<String, minijinja::Error> {
    let empty = Default::default();
    env().get_template(template)?.render(Context { t, ssl_cert_dir: SSL_CERT_DIR, pod_annotations: &empty })
}
