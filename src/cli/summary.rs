//! The one-line report of `tcpc render`: what changed, for how many tenants, what did not.

use tcpc::model::Tree;

/// How the new tree differs from the previous one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    /// `<ns>/<tcp>` of every tenant with a changed file.
    pub tenants: std::collections::BTreeSet<String>,
}

impl Changes {
    pub fn between(previous: &Tree, new: &Tree) -> Changes {
        let mut c = Changes::default();
        for (path, text) in new {
            match previous.get(path) {
                Some(old) if old == text => c.unchanged += 1,
                Some(_) => c.changed.push(path.clone()),
                None => c.added.push(path.clone()),
            }
        }
        c.removed = previous.keys().filter(|p| !new.contains_key(*p)).cloned().collect();
        for p in c.added.iter().chain(&c.changed).chain(&c.removed) {
            let parts: Vec<&str> = p.split('/').collect();
            if parts.len() >= 3 {
                c.tenants.insert(format!("{}/{}", parts[0], parts[1]));
            }
        }
        c
    }

    pub fn count(&self) -> usize {
        self.added.len() + self.changed.len() + self.removed.len()
    }

    /// `3 files changed for 1 tenant, 9,549 unchanged`.
    pub fn line(&self) -> String {
        let n = self.count();
        let t = self.tenants.len();
        format!(
            "{} {} changed for {} {}, {} unchanged",
            thousands(n),
            if n == 1 { "file" } else { "files" },
            thousands(t),
            if t == 1 { "tenant" } else { "tenants" },
            thousands(self.unchanged)
        )
    }

    /// One line per changed path: `+` added, `~` changed, `-` removed.
    pub fn details(&self) -> Vec<String> {
        let mut lines: Vec<(String, char)> = self
            .added
            .iter()
            .map(|p| (p.clone(), '+'))
            .chain(self.changed.iter().map(|p| (p.clone(), '~')))
            .chain(self.removed.iter().map(|p| (p.clone(), '-')))
            .collect();
        lines.sort();
        lines.into_iter().map(|(p, c)| format!("  {c} {p}")).collect()
    }
}

/// `9549` → `9,549`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_and_tenants() {
        let tree = |entries: &[(&str, &str)]| entries.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect::<Tree>();
        let old = tree(&[("kustomization.yaml", "k"), ("ns/a/management/x.yaml", "1"), ("ns/b/management/x.yaml", "1")]);
        let new = tree(&[("kustomization.yaml", "k"), ("ns/a/management/x.yaml", "2"), ("ns/a/tenant/y.yaml", "y")]);
        let c = Changes::between(&old, &new);
        assert_eq!(c.line(), "3 files changed for 2 tenants, 1 unchanged");
        assert_eq!(c.details(), vec!["  ~ ns/a/management/x.yaml", "  + ns/a/tenant/y.yaml", "  - ns/b/management/x.yaml"]);
        assert_eq!(thousands(9549), "9,549");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
    }
}
