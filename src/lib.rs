//! tcpc — the TenantControlPlane compiler.
//!
//! The pipeline, top to bottom, one module per stage:
//!
//! ```text
//! discover (IO) → parse → resolve → render (templates) → check (typed) → emit::layout → emit::write_tree (IO)
//! ```
//!
//! [`compile`] is the pure core: it takes the files already read and returns the output tree
//! and every diagnostic. It touches no file system, clock or randomness.

pub mod check;
pub mod crd;
pub mod diag;
pub mod diff;
pub mod discover;
pub mod emit;
pub mod parse;
pub mod render;
pub mod resolve;
pub mod source;

use diag::{Diagnostic, Diagnostics};
use emit::{Rendered, Tree};
use source::{SourceId, Sources};

/// A JSON Schema as written to `schemas/`: pretty JSON with a trailing newline.
pub fn schema_text(schema: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).expect("schemas serialise");
    s.push('\n');
    s
}

/// The result of a successful compile.
#[derive(Debug)]
pub struct Compiled {
    pub tree: Tree,
    /// Warnings (a successful compile has no errors).
    pub diagnostics: Diagnostics,
    pub tenants: usize,
}

/// Compiles the repository held in `sources` (`config` is `tcpc.yaml`, if present).
/// On failure, returns every diagnostic found, errors and warnings.
pub fn compile(sources: &Sources, config: Option<SourceId>) -> Result<Compiled, Diagnostics> {
    let mut diags = Diagnostics::default();
    let inputs = parse::parse(sources, config, &mut diags);
    let tenants = resolve::resolve(&inputs, &mut diags);
    if diags.has_errors() {
        diags.sort();
        return Err(diags);
    }
    let objects = render_all(&tenants, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    match emit::layout(&objects) {
        Ok(tree) => {
            diags.sort();
            Ok(Compiled { tree, diagnostics: diags, tenants: tenants.len() })
        }
        Err(e) => {
            diags.push(Diagnostic::error(e));
            Err(diags)
        }
    }
}

/// Renders and type-checks every tenant, spread over the available cores. Output order is
/// the tenants' order, whatever the scheduling.
fn render_all(tenants: &[resolve::Tenant], diags: &mut Diagnostics) -> Vec<Rendered> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(tenants.len().max(1));
    let chunk = tenants.len().div_ceil(workers).max(1);
    let results: Vec<Result<Vec<Rendered>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = tenants.chunks(chunk).map(|part| scope.spawn(move || part.iter().map(render_one).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("render worker panicked")).collect()
    });
    let mut out = Vec::new();
    for r in results {
        match r {
            Ok(objects) => out.extend(objects),
            Err(e) => diags.push(Diagnostic::error(e)),
        }
    }
    out
}

fn render_one(t: &resolve::Tenant) -> Result<Vec<Rendered>, String> {
    let annotations = t.deployment.pod_annotations.clone();
    let objects = render::render(t, &annotations).map_err(|e| e.to_string())?;
    objects
        .into_iter()
        .map(|mut r| {
            r.object = check::check(r.object).map_err(|e| e.to_string())?;
            Ok(r)
        })
        .collect()
}
