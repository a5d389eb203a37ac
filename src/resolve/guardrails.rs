//! Guardrails: extra arguments that switch off authentication or authorization of the tenant
//! API server render only when the spec acknowledges them by name.
//!
//! A flag such as `--authorization-mode=AlwaysAllow` is legal and occasionally wanted (a
//! throw-away lab), but one line in a reviewed spec should not silently open a cluster. So each
//! such flag is an error unless the TenantControlPlane's annotation
//! [`ACKNOWLEDGE`] lists it:
//!
//! ```yaml
//! metadata:
//!   annotations:
//!     tcpc.dev/acknowledge-insecure-flags: "authorization-mode,anonymous-auth"
//! ```
//!
//! An acknowledgement that matches no flag is a warning (a stale acknowledgement would
//! otherwise wave the next such flag through unnoticed).
//!
//! Invariant: pure; only the spec is read.

use super::Resolver;
use crate::diag::Diagnostic;

/// The annotation that acknowledges insecure flags: a comma-separated list of flag names.
pub const ACKNOWLEDGE: &str = "tcpc.dev/acknowledge-insecure-flags";

/// An insecure setting made by one extra argument.
#[derive(Debug, PartialEq, Eq)]
pub struct Insecure {
    /// The flag name, without dashes (what the acknowledgement lists).
    pub flag: &'static str,
    /// What it switches off.
    pub why: &'static str,
}

/// Go's `strconv.ParseBool` true spellings (how the components read a boolean flag).
fn go_true(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

/// The insecure setting `raw` (`--flag=value` or `--flag`) makes, if any.
pub fn insecure(raw: &str) -> Option<Insecure> {
    let body = raw.strip_prefix("--").or_else(|| raw.strip_prefix('-'))?;
    let (name, value) = match body.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (body, None),
    };
    match name {
        "authorization-mode" if value.is_some_and(|v| v.split(',').any(|m| m.trim() == "AlwaysAllow")) => Some(Insecure {
            flag: "authorization-mode",
            why: "`AlwaysAllow` lets every client that reaches the API server do anything: RBAC is not consulted",
        }),
        "anonymous-auth" if value.is_none_or(go_true) => Some(Insecure {
            flag: "anonymous-auth",
            why: "serves requests without credentials as `system:anonymous`; only RBAC stands between them and the cluster",
        }),
        "token-auth-file" => Some(Insecure {
            flag: "token-auth-file",
            why: "static bearer tokens never expire and are revoked only by restarting every API server",
        }),
        _ => None,
    }
}

impl Resolver<'_> {
    /// Refuses unacknowledged insecure extra arguments; warns about acknowledgements that match
    /// nothing.
    pub(super) fn guard_insecure_flags(&mut self, extra: &tcpc_spec::tcp::ComponentExtraArgs) {
        let annotation = self.doc.value.metadata.annotations.as_ref().and_then(|a| a.get(ACKNOWLEDGE)).cloned();
        let acknowledged: Vec<String> = annotation
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_start_matches('-').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let mut used: Vec<&'static str> = Vec::new();
        let components =
            [("apiServer", &extra.api_server), ("controllerManager", &extra.controller_manager), ("scheduler", &extra.scheduler)];
        for (key, args) in components {
            for (i, raw) in args.as_deref().unwrap_or_default().iter().enumerate() {
                let Some(found) = insecure(raw) else { continue };
                used.push(found.flag);
                if acknowledged.iter().any(|a| a == found.flag) {
                    continue;
                }
                let d = self
                    .error(
                        &format!("/spec/controlPlane/deployment/extraArgs/{key}/{i}"),
                        format!("`{raw}` switches off a protection of the tenant API server"),
                        "needs an explicit acknowledgement",
                    )
                    .note(found.why.to_string())
                    .help(format!("if this is intended, add `{ACKNOWLEDGE}: \"{}\"` to metadata.annotations", found.flag));
                self.push(d);
            }
        }
        let pointer = format!("/metadata/annotations/{}", ACKNOWLEDGE.replace('/', "~1"));
        for a in &acknowledged {
            if !used.contains(&a.as_str()) {
                let d = Diagnostic::warning(format!("`{ACKNOWLEDGE}` lists `{a}`, which no extra argument sets")).at(
                    self.doc.file,
                    self.doc.span(&pointer),
                    "acknowledges nothing",
                );
                let d = d.help("remove it, so that a later insecure flag needs its own acknowledgement");
                self.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_flags_are_recognised_in_every_spelling() {
        for raw in [
            "--authorization-mode=Node,RBAC,AlwaysAllow",
            "--authorization-mode=AlwaysAllow",
            "--anonymous-auth",
            "--anonymous-auth=true",
            "--anonymous-auth=1",
            "-anonymous-auth=T",
            "--token-auth-file=/etc/tokens.csv",
        ] {
            assert!(insecure(raw).is_some(), "{raw} not recognised");
        }
    }

    #[test]
    fn safe_values_pass() {
        for raw in [
            "--authorization-mode=Node,RBAC",
            "--authorization-mode=Node,RBAC,AlwaysAllowX",
            "--anonymous-auth=false",
            "--anonymous-auth=0",
            "--audit-log-maxage=30",
            "--authorization-config=/etc/authz.yaml",
            "token-auth-file",
        ] {
            assert_eq!(insecure(raw), None, "{raw}");
        }
    }
}
