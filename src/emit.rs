//! Output: the file layout (pure) and the atomic write (IO edge).
//!
//! Layout, for every TenantControlPlane `<tcp>` in namespace `<ns>`:
//!
//! ```text
//! OUT/kustomization.yaml                      -> every <ns>
//! OUT/<ns>/kustomization.yaml                 -> every <tcp>
//! OUT/<ns>/<tcp>/kustomization.yaml           -> management
//! OUT/<ns>/<tcp>/management/<kind>-<name>.yaml + kustomization.yaml   (applied to the management cluster)
//! OUT/<ns>/<tcp>/tenant/<kind>-<name>.yaml     + kustomization.yaml   (applied to the tenant cluster)
//! ```
//!
//! The aggregating kustomizations only reach management bundles: tenant bundles go to a
//! different cluster (a Flux Kustomization with the tenant's kubeconfig, say) and are applied
//! on their own.
//!
//! Invariants: file names derive from object identity (kind, name), never from input file
//! names; the write either replaces the whole previous tree or leaves it untouched.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::model::{Bundle, EmittedFile, Tree};

/// The marker that says a directory was written by tcpc and may be replaced wholesale. It also
/// holds the render cache's entries (`crate::cache`).
pub const MARKER: &str = ".tcpc-generated";

/// Lays emitted files out as a tree plus kustomizations.
pub fn layout(files: Vec<EmittedFile>, kept: &std::collections::BTreeSet<String>) -> Result<Tree, String> {
    let mut tree = Tree::new();
    let mut bundles: BTreeMap<(String, String), BTreeMap<Bundle, Vec<String>>> = BTreeMap::new();
    for r in files {
        let path = format!("{}/{}/{}/{}", r.namespace, r.tcp, r.bundle.dir(), r.file);
        if tree.insert(path.clone(), r.text).is_some() {
            return Err(format!("internal error: two objects map to `{path}` (this is a tcpc bug)"));
        }
        bundles.entry((r.namespace, r.tcp)).or_default().entry(r.bundle).or_default().push(r.file);
    }
    let mut namespaces: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for ((ns, tcp), by_bundle) in &bundles {
        for (bundle, files) in by_bundle {
            let mut files = files.clone();
            files.sort();
            tree.insert(format!("{ns}/{tcp}/{}/kustomization.yaml", bundle.dir()), kustomization(files));
        }
        if by_bundle.contains_key(&Bundle::Management) {
            tree.insert(format!("{ns}/{tcp}/kustomization.yaml"), kustomization(vec!["management".into()]));
            namespaces.entry(ns).or_default().push(tcp);
        }
    }
    // A kept tenant's directory (`Compiled::kept`) is on disk as it was, its kustomizations too;
    // every tenant has a management bundle.
    for (ns, tcp) in kept.iter().filter_map(|k| k.split_once('/')) {
        namespaces.entry(ns).or_default().push(tcp);
    }
    for (ns, tcps) in &mut namespaces {
        tcps.sort_unstable();
        tree.insert(format!("{ns}/kustomization.yaml"), kustomization(tcps.iter().map(|t| t.to_string()).collect()));
    }
    tree.insert("kustomization.yaml".into(), kustomization(namespaces.keys().map(|n| n.to_string()).collect()));
    Ok(tree)
}

fn kustomization(resources: Vec<String>) -> String {
    tcpc_yaml::emit(&json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }))
}

/// `deployment-alpha.yaml`; characters outside `[a-z0-9.-]` (e.g. `:` in RBAC names) become `-`.

/// All documents of the chosen bundles as one YAML stream, each preceded by its would-be path,
/// in the order `kubectl apply -f -` must create them: per namespace its Namespace first (with
/// the management bundle), then each bundle by [`apply_rank`], so a workload never starts
/// before the ServiceAccount, RBAC, ConfigMaps and Secrets it uses (kube-proxy and CoreDNS in a
/// tenant that workers are joining, the control plane in the management cluster). Argo CD and
/// kustomize order by kind themselves; the tree keeps its files sorted by name.
pub fn stream(tree: &Tree, bundles: &[Bundle]) -> String {
    let mut docs: Vec<(&str, u8, &str)> = Vec::new();
    let mut namespaces = std::collections::BTreeSet::new();
    for path in tree.keys() {
        let Some(bundle) = bundles.iter().find(|b| path.contains(&format!("/{}/", b.dir()))) else { continue };
        if path.ends_with("kustomization.yaml") {
            continue;
        }
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
        docs.push((dir, apply_rank(file), path));
        if *bundle == Bundle::Management {
            namespaces.extend(path.split_once('/').map(|(ns, _)| ns));
        }
    }
    for ns in namespaces {
        let path = format!("{ns}/{NAMESPACE_FILE}");
        if let Some((path, _)) = tree.get_key_value(&path) {
            // `<ns>` sorts before `<ns>/<tcp>/…`: the Namespace precedes its tenants.
            docs.push((ns, 0, path));
        }
    }
    docs.sort();
    let mut out = String::new();
    for (_, _, path) in docs {
        out.push_str("---\n# Source: ");
        out.push_str(path);
        out.push('\n');
        out.push_str(&tree[path]);
    }
    out
}

/// Creation order of a file `<kind>-<name>.yaml` by its kind: what others refer to comes first
/// (namespaces, policies, identities, configuration, RBAC), then Services, then workloads, then
/// what routes to them; admission policies last, so they never block the rest of the bundle
/// (the tenant bundle's write-permissions policy has Argo CD sync wave 1 for the same reason).
/// Kinds not listed come after the workloads.
fn apply_rank(file: &str) -> u8 {
    const ORDER: &[&str] = &[
        "namespace",
        "networkpolicy",
        "resourcequota",
        "limitrange",
        "poddisruptionbudget",
        "serviceaccount",
        "sealedsecret",
        "secret",
        "configmap",
        "persistentvolumeclaim",
        "customresourcedefinition",
        "clusterrole",
        "clusterrolebinding",
        "role",
        "rolebinding",
        "service",
        "daemonset",
        "deployment",
        "statefulset",
        "job",
        "cronjob",
    ];
    const LAST: &[&str] = &["ingress", "tlsroute", "validatingadmissionpolicy", "validatingadmissionpolicybinding"];
    let kind = file.split_once('-').map_or(file, |(kind, _)| kind);
    if let Some(i) = ORDER.iter().position(|k| *k == kind) {
        return i as u8 + 1;
    }
    match LAST.iter().position(|k| *k == kind) {
        Some(i) => 100 + i as u8,
        None => 50,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The directory already held exactly this tree; nothing was touched.
    Unchanged,
    Written {
        files: usize,
        /// Directories written in the spare tree before the swap (`crate::spare`).
        dirs: usize,
    },
}

/// A tree as `render` last wrote it, with its marker's text.
#[derive(Debug, Default)]
pub struct Previous {
    pub tree: Tree,
    pub marker: String,
}

/// Reads the tree `render` last wrote to `dir` (empty when there is none: no marker).
pub fn read_previous(dir: &Path) -> io::Result<Previous> {
    match std::fs::read_to_string(dir.join(MARKER)) {
        Ok(marker) => Ok(Previous { tree: read_tree(dir)?, marker }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Previous::default()),
        Err(e) => Err(e),
    }
}

/// [`write_tree_with`] with a marker recording no render cache.
pub fn write_tree(out: &Path, tree: &Tree) -> io::Result<WriteOutcome> {
    write_tree_with(out, tree, &format!("{}\n", crate::cache::MARKER_HEADER), None, &Default::default())
}

/// Replaces `out` with `tree` atomically: the new tree is prepared in the spare beside it
/// (`crate::spare`: only the directories that differ are rewritten) and swapped in with one
/// `renameat2(RENAME_EXCHANGE)`, so a crash leaves either the old or the new tree; the old tree
/// becomes the spare. Refuses to replace a non-empty directory that tcpc did not write.
/// `previous`, when given, is what `out` holds (read under the output lock): the tree is
/// compared with it instead of being read again, and its unchanged files are hard-linked rather
/// than written. When only the marker differs, the marker alone is replaced (atomically).
/// `kept`: groups (`<ns>/<tcp>`) that neither `tree` nor `previous` holds, to stay as they are
/// (`Compiled::kept`).
pub fn write_tree_with(
    out: &Path,
    tree: &Tree,
    marker: &str,
    previous: Option<&Previous>,
    kept: &std::collections::BTreeSet<String>,
) -> io::Result<WriteOutcome> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name =
        out.file_name().ok_or_else(|| io::Error::other(format!("invalid output path {}", out.display())))?.to_string_lossy().to_string();
    std::fs::create_dir_all(parent)?;
    remove_leftovers(parent, &name)?;

    let exists = out.exists();
    if exists {
        if !out.join(MARKER).exists() && std::fs::read_dir(out)?.next().is_some() {
            return Err(io::Error::other(format!(
                "refusing to replace {}: it is not empty and was not written by tcpc (no {MARKER})",
                out.display()
            )));
        }
        let same = match previous {
            Some(p) => p.tree == *tree && out.join(MARKER).exists(),
            None => tree_matches(out, tree)?,
        };
        if same {
            let old = match previous {
                Some(p) => Some(p.marker.clone()),
                None => std::fs::read_to_string(out.join(MARKER)).ok(),
            };
            if old.as_deref() != Some(marker) {
                crate::commit::write_durable(&out.join(MARKER), marker.as_bytes(), "marker", parent)?;
            }
            return Ok(WriteOutcome::Unchanged);
        }
    }

    // On an error here nothing was swapped: the live tree is intact, and the spare has no
    // manifest (the next render rebuilds it).
    let spare = crate::spare::Spare::beside(parent, &name);
    let prepared = spare.prepare(out, tree, marker, previous.map(|p| &p.tree), kept)?;
    crate::fault::point("tree-tmp")?;
    if exists {
        exchange(&prepared.tree, out)?
    } else {
        std::fs::rename(&prepared.tree, out)?
    }
    crate::commit::fsync_dir(parent)?;
    crate::fault::point("tree-swapped")?;
    let dirs = prepared.rewritten;
    if exists {
        spare.record(out, prepared)?;
    }
    Ok(WriteOutcome::Written { files: tree.len(), dirs })
}

/// Makes a freshly written tree durable: on Linux one `syncfs` of its file system (thousands
/// of files cost one call), elsewhere an fsync per file; then an fsync of every directory.
pub(crate) fn sync_tree(root: &Path, dirs: &std::collections::BTreeSet<PathBuf>) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        let f = std::fs::File::open(root)?;
        // SAFETY: a valid open descriptor for the duration of the call.
        if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.map_err(io::Error::other)?;
        if entry.file_type().is_file() {
            std::fs::File::open(entry.path())?.sync_all()?;
        }
    }
    let mut all: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    all.push(root);
    // Deepest first, so each directory's entry in its parent is synced after its own content.
    all.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    let mut done = std::collections::BTreeSet::new();
    for d in all {
        let mut cur = Some(d);
        while let Some(c) = cur.filter(|c| c.starts_with(root)) {
            if done.insert(c.to_path_buf()) {
                crate::commit::fsync_dir(c)?;
            }
            cur = c.parent();
        }
    }
    Ok(())
}

/// Whether `dir` holds exactly `tree` (marker aside), compared file by file without loading
/// the old tree into memory.
pub fn tree_matches(dir: &Path, tree: &Tree) -> io::Result<bool> {
    let mut files = 0usize;
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(io::Error::other)?;
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).map_err(io::Error::other)?;
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            if rel == MARKER {
                continue;
            }
            match tree.get(&rel) {
                Some(expected) if entry.metadata().map_err(io::Error::other)?.len() == expected.len() as u64 => {
                    if std::fs::read(entry.path())? != expected.as_bytes() {
                        return Ok(false);
                    }
                }
                _ => return Ok(false),
            }
            files += 1;
        }
    }
    Ok(files == tree.len())
}

/// Reads a previously written tree (marker excluded), the files spread over the available cores.
pub fn read_tree(dir: &Path) -> io::Result<Tree> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(io::Error::other)?;
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).map_err(io::Error::other)?;
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            if rel != MARKER {
                files.push((rel, entry.into_path()));
            }
        }
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len().max(1));
    let chunk = files.len().div_ceil(workers).max(1);
    let parts: Vec<io::Result<Vec<(String, String)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|(rel, path)| Ok((rel.clone(), std::fs::read_to_string(path)?))).collect()))
            .collect();
        handles.into_iter().map(|h| h.join().expect("tree reader panicked")).collect()
    });
    let mut tree = Tree::new();
    for part in parts {
        tree.extend(part?);
    }
    Ok(tree)
}

/// The digest of the tree in `dir` (marker excluded), as [`crate::stamp::TreeDigest::of`] computes
/// it for a tree in memory, with its number of files. The files are read and hashed on every
/// core and never held: memory stays flat whatever the tree's size.
pub fn tree_digest(dir: &Path) -> io::Result<(String, usize)> {
    let parts = for_each_top_entry(dir, |top| {
        let mut leaves = Vec::new();
        for entry in walkdir::WalkDir::new(dir.join(top)) {
            let entry = entry.map_err(io::Error::other)?;
            let kind = entry.file_type();
            if kind.is_dir() {
                continue;
            }
            let rel = entry.path().strip_prefix(dir).map_err(io::Error::other)?;
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            leaves.push(if kind.is_file() {
                crate::stamp::leaf(rel, &std::fs::read(entry.path())?)
            } else {
                // Not something tcpc writes: the digest differs, so the tree counts as changed.
                crate::stamp::leaf(format!("{rel}\0not a file"), b"")
            });
        }
        Ok(leaves)
    })?;
    let leaves: Vec<_> = parts.into_iter().flatten().collect();
    let files = leaves.len();
    Ok((crate::stamp::TreeDigest::from_leaves(leaves).finish(), files))
}

/// `f` of every top-level entry of `dir` but the marker (by name), spread over every core, one
/// entry at a time; the results in no particular order.
fn for_each_top_entry<T: Send>(dir: &Path, f: impl Fn(&str) -> io::Result<T> + Sync) -> io::Result<Vec<T>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().into_string().map_err(|n| io::Error::other(format!("non-UTF-8 file name {n:?}")))?;
        if name != MARKER {
            names.push(name);
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(names.len()).max(1);
    let parts: Vec<io::Result<Vec<T>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut part = Vec::new();
                    while let Some(name) = names.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                        part.push(f(name)?);
                    }
                    Ok(part)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("tree walker panicked")).collect()
    });
    let mut out = Vec::new();
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// Temp trees left by a killed run (`.<name>.tcpc-tmp-<pid>`). Runs under the output lock
/// (`repo_lock`), so no other tcpc is writing here; as a second guard, a temp tree whose pid
/// is a live process other than this one is never touched.
pub fn remove_leftovers(parent: &Path, name: &str) -> io::Result<()> {
    let prefix = format!(".{name}.tcpc-tmp-");
    for entry in std::fs::read_dir(parent)? {
        let entry = entry?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = file_name.strip_prefix(&prefix) {
            if pid.parse::<u32>().is_ok_and(|p| p != std::process::id() && process_alive(p)) {
                continue;
            }
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_: u32) -> bool {
    false
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: both pointers are valid NUL-terminated paths for the duration of the call.
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    // Not atomic: a crash between the two renames leaves the old tree at `<out>.tcpc-old`.
    let old = b.with_extension("tcpc-old");
    std::fs::rename(b, &old)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&old, a)
}

/// File name of a namespace's own Namespace object, next to its kustomization.
pub const NAMESPACE_FILE: &str = "namespace.yaml";

/// Adds each namespace's Namespace object (already emitted YAML, by namespace) as
/// `<ns>/namespace.yaml` and lists it first in `<ns>/kustomization.yaml`. One object per
/// namespace, however many tenants share it, so the aggregating kustomization never holds a
/// resource twice.
/// Adds a kustomize Component (`component`: its files, under one directory) to the tree, and
/// to the top-level kustomization's `components`. Nothing when it is empty.
pub fn add_component(tree: &mut Tree, component: &Tree) {
    let Some(dir) = component.keys().next().and_then(|p| p.split_once('/')).map(|(d, _)| d.to_string()) else { return };
    tree.extend(component.iter().map(|(p, t)| (p.clone(), t.clone())));
    let namespaces: Vec<String> = tree
        .keys()
        .filter_map(|p| p.strip_suffix("/kustomization.yaml"))
        .filter(|d| !d.contains('/') && *d != dir)
        .map(str::to_string)
        .collect();
    tree.insert(
        "kustomization.yaml".into(),
        tcpc_yaml::emit(&json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": namespaces,
            "components": [dir],
        })),
    );
}

/// `kept`: tenants (`<ns>/<tcp>`) whose directories are on disk but not in `tree`
/// (`Compiled::kept`).
pub fn add_namespaces(tree: &mut Tree, objects: BTreeMap<String, String>, kept: &std::collections::BTreeSet<String>) {
    for (ns, text) in objects {
        let path = format!("{ns}/kustomization.yaml");
        if !tree.contains_key(&path) {
            continue;
        }
        // The namespace's tenants are the directories with a top-level kustomization.
        let prefix = format!("{ns}/");
        let mut tcps: Vec<String> = tree
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter_map(|(p, _)| p[prefix.len()..].strip_suffix("/kustomization.yaml").filter(|tcp| !tcp.contains('/')).map(str::to_string))
            .chain(kept.iter().filter_map(|k| k.strip_prefix(&prefix)).map(str::to_string))
            .collect();
        tcps.sort();
        let mut resources = vec![NAMESPACE_FILE.to_string()];
        resources.extend(tcps);
        tree.insert(path, kustomization(resources));
        tree.insert(format!("{ns}/{NAMESPACE_FILE}"), text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Rendered;
    use serde_json::Value;

    fn obj(kind: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}})
    }

    #[test]
    fn lays_out_bundles_with_kustomizations() {
        let objects = vec![
            Rendered { namespace: "ns".into(), tcp: "a".into(), bundle: Bundle::Management, object: obj("Service", "a") },
            Rendered {
                namespace: "ns".into(),
                tcp: "a".into(),
                bundle: Bundle::Tenant,
                object: obj("ClusterRoleBinding", "kubeadm:get-nodes"),
            },
        ];
        let tree = layout(objects.into_iter().map(Rendered::emit).collect(), &Default::default()).unwrap();
        let paths: Vec<_> = tree.keys().cloned().collect();
        assert_eq!(
            paths,
            [
                "kustomization.yaml",
                "ns/a/kustomization.yaml",
                "ns/a/management/kustomization.yaml",
                "ns/a/management/service-a.yaml",
                "ns/a/tenant/clusterrolebinding-kubeadm-get-nodes.yaml",
                "ns/a/tenant/kustomization.yaml",
                "ns/kustomization.yaml",
            ]
        );
        assert!(tree["ns/a/management/kustomization.yaml"].contains("- service-a.yaml"));
        assert!(tree["kustomization.yaml"].contains("- ns\n"));
    }

    #[test]
    fn atomic_write_replaces_only_its_own_tree() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rendered");
        let mut tree = Tree::new();
        tree.insert("a/x.yaml".into(), "x: 1\n".into());
        assert_eq!(write_tree(&out, &tree).unwrap(), WriteOutcome::Written { files: 1, dirs: 2 });
        assert_eq!(write_tree(&out, &tree).unwrap(), WriteOutcome::Unchanged);
        let mut tree2 = Tree::new();
        tree2.insert("b/y.yaml".into(), "y: 2\n".into());
        write_tree(&out, &tree2).unwrap();
        assert!(!out.join("a/x.yaml").exists(), "stale files are gone");
        assert_eq!(read_tree(&out).unwrap(), tree2);
        // Beside it: the spare (the old tree, kept for the next render), nothing else.
        let mut beside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        beside.sort();
        assert_eq!(beside, [".rendered.tcpc-spare", "rendered"]);

        let foreign = dir.path().join("src");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("main.rs"), "fn main(){}").unwrap();
        let err = write_tree(&foreign, &tree).unwrap_err().to_string();
        assert!(err.contains("refusing to replace"), "{err}");
        assert!(foreign.join("main.rs").exists());
    }
}
