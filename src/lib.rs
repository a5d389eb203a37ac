//! tcpc — the TenantControlPlane compiler.
//!
//! The pipeline, top to bottom, one module per stage:
//!
//! ```text
//! discover (IO) → parse → resolve → pki → render (templates) → check (typed) → emit::layout → emit::write_tree (IO)
//! ```
//!
//! [`compile`] is the pure core: it takes the files already read, the lock, the encrypted state
//! and what the IO edge hands it (time, a random seed, identities) and returns the output tree,
//! the new lock and state, and every diagnostic. It touches no file system and reads no clock
//! or randomness of its own.

pub mod cache;
pub mod check;
pub mod commit;
pub mod companion_install;
pub mod crd;
pub mod diag;
pub mod diff;
pub mod discover;
pub mod emit;
pub mod fault;
pub mod filter;
pub mod flux;
pub mod index;
pub mod intent;
pub mod join;
pub mod kubeconfig;
pub mod limits;
pub mod lock;
pub mod lock_check;
pub mod model;
pub mod par;
pub mod parse;
pub mod paths;
pub mod pki;
pub mod record;
pub mod render;
pub mod repo_lock;
pub mod report;
pub mod resolve;
pub mod review;
pub mod source;
pub mod spare;
pub mod stamp;
pub mod status;

use diag::{Diagnostic, Diagnostics};
use model::{EmittedFile, Rendered, Tree};
use source::Sources;

/// A JSON Schema as written to `schemas/`: pretty JSON with a trailing newline.
pub fn schema_text(schema: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).expect("schemas serialise");
    s.push('\n');
    s
}

/// The result of a successful compile.
pub struct Compiled {
    pub tree: Tree,
    /// Warnings (a successful compile has no errors).
    pub diagnostics: Diagnostics,
    pub tenants: usize,
    /// The new lock, or `None` when no tenant's entry changed and no tenant was added or removed.
    pub lock: Option<lock::Lock>,
    /// The tenants whose lock entry this compile made anew (the others are the previous lock's):
    /// the only shards a render may have to write.
    pub lock_changed: std::collections::BTreeSet<String>,
    /// Encrypted state files that changed, by state key.
    pub new_states: std::collections::BTreeMap<String, String>,
    /// What was issued or sealed, one line each.
    pub report: Vec<String>,
    /// Tenants that need new key material but got no identity: not rendered, each with what
    /// is due. Their previous lock entry is kept; [`keep_previous`] keeps their previous files.
    pub pending: Vec<Pending>,
    /// The Namespace objects in the tree (`<ns>/namespace.yaml`), by namespace.
    pub namespaces: std::collections::BTreeMap<String, String>,
    /// Each rendered tenant's render-cache key and spec fingerprint (`cache`), by
    /// `<namespace>/<name>`: what the output's marker records for the next render.
    pub render_keys: std::collections::BTreeMap<String, cache::Entry>,
    /// Tenants not rendered because a previous render vouches for them (`validate` given the
    /// marker's spec fingerprints, [`compile_with`]): their source path, by `<namespace>/<name>`.
    pub vouched: std::collections::BTreeMap<String, String>,
    /// Tenants whose files came from the render cache.
    pub cache_hits: usize,
    /// Of those, tenants whose PKI stage was skipped too (`cache::RenderCache::unchanged`).
    pub pki_skips: usize,
    /// The companion's install as a kustomize Component (`companion.image`), or empty.
    pub component: model::Tree,
    /// Tenants taken as they are ([`Keys::kept`]): `tree` holds none of their files, `lock` none
    /// of their entries; their directories on disk are the output.
    pub kept: std::collections::BTreeSet<String>,
    /// Of those, how many were not even parsed (`Stub`s).
    pub unparsed: usize,
}

/// A tenant left as it was because rendering it needs the age identity.
#[derive(Debug, Clone)]
pub struct Pending {
    pub namespace: String,
    pub name: String,
    /// What must be issued or sealed, one line each.
    pub message: String,
    /// The lock has an entry for it (it was rendered before).
    pub known: bool,
}

/// What the IO edge hands the core for key material. Without it (`validate`), Secrets are
/// not produced.
pub struct Keys<'a> {
    pub lock: &'a lock::Lock,
    pub now: time::OffsetDateTime,
    /// Seed of all randomness of this run; each tenant derives its own stream from it, so
    /// output never depends on thread scheduling.
    pub seed: [u8; 32],
    pub identities: &'a [age::x25519::Identity],
    pub states: &'a std::collections::BTreeMap<String, String>,
    pub sealer: Option<&'a pki::Sealer>,
    /// What the user explicitly allowed (removals, CA rotations).
    pub intent: &'a intent::Intent,
    /// The previous render's files and keys (`cache`): tenants whose template inputs did not
    /// change take their files from it.
    pub cache: Option<&'a cache::RenderCache<'a>>,
    /// The SHA-256 of each file the lock and `states` were read from, and of `tcpc.yaml` and
    /// the sealer certificate, as the IO edge read them (`stamp::InputFiles` labels): what a
    /// tenant's PKI fingerprint is made of (`cache::pki_fingerprint`).
    pub digests: &'a stamp::InputFiles,
    /// Tenants the IO edge takes as they are, by `<namespace>/<name>`, with their marker entry
    /// ([`keepable`], narrowed by the edge to tenants whose files on disk it vouches for): not
    /// rendered, their lock entry, state and files not even read. Listed in [`Compiled::kept`].
    pub kept: Option<&'a std::collections::BTreeMap<String, cache::Entry>>,
}

/// How far a compile is: tenants rendered so far out of the total. Shared with whoever shows it
/// (the CLI's progress bar); the core only counts, it never prints.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: std::sync::atomic::AtomicUsize,
    pub total: std::sync::atomic::AtomicUsize,
}

/// Compiles the repository held in `sources` under its `tcpc.yaml` (`config`, parsed by the
/// caller, whose diagnostics are the caller's to report: a config with errors is not compiled).
/// On failure, returns every diagnostic found, errors and warnings.
pub fn compile(sources: &Sources, config: &parse::ConfigFile, keys: Option<&Keys<'_>>) -> Result<Compiled, Diagnostics> {
    compile_with_progress(sources, config, keys, &Progress::default())
}

/// [`compile`], counting rendered tenants into `progress` as it goes.
pub fn compile_with_progress(
    sources: &Sources,
    config: &parse::ConfigFile,
    keys: Option<&Keys<'_>>,
    progress: &Progress,
) -> Result<Compiled, Diagnostics> {
    compile_with(sources, config, keys, None, progress)
}

/// [`compile_with_progress`]; without keys (`validate`), a tenant whose spec fingerprint
/// (`cache::spec_fingerprint`) is the one `vouched` records for it is parsed and resolved but
/// not rendered: a render of this build succeeded on the same resolved tenant, and templates and
/// the typed check are a function of it. It is listed in [`Compiled::vouched`].
pub fn compile_with(
    sources: &Sources,
    config: &parse::ConfigFile,
    keys: Option<&Keys<'_>>,
    vouched: Option<&std::collections::BTreeMap<String, String>>,
    progress: &Progress,
) -> Result<Compiled, Diagnostics> {
    let prepared = prepare(sources, config)?;
    compile_prepared(sources, prepared, keys, vouched, progress)
}

/// The first half of a compile: every document parsed, every tenant resolved (no key
/// material, no lock). The IO edge may look at the tenants ([`keepable`]) before it reads
/// the lock and the state for [`compile_prepared`].
pub struct Prepared<'c> {
    inputs: parse::Inputs<'c>,
    tenants: Vec<resolve::Tenant>,
    /// Tenants of files left unparsed ([`prepare_skipping`]).
    stubs: Vec<Stub>,
    diags: Diagnostics,
}

impl Prepared<'_> {
    pub fn tenants(&self) -> &[resolve::Tenant] {
        &self.tenants
    }

    pub fn stubs(&self) -> &[Stub] {
        &self.stubs
    }

    /// The tenants of each file that holds TenantControlPlanes and nothing else, stubs
    /// included, as (`<namespace>/<name>`, DataStore): what an index records to skip the file
    /// next time it is unchanged.
    pub fn tcp_only_files(&self) -> std::collections::BTreeMap<source::SourceId, Vec<(String, String)>> {
        let mut out: std::collections::BTreeMap<source::SourceId, Vec<(String, String)>> = std::collections::BTreeMap::new();
        for t in self.tenants.iter().filter(|t| self.inputs.tcp_only.contains(&t.file)) {
            out.entry(t.file).or_default().push((t.key(), t.datastore.name.clone()));
        }
        for s in &self.stubs {
            out.entry(s.file).or_default().push((s.key.clone(), s.datastore.clone()));
        }
        out
    }
}

/// A tenant of a file the IO edge vouches is byte for byte the one the last render parsed,
/// with the same `tcpc.yaml`, the same other documents (DataStores and the like) and this
/// build: it resolves as it did then, so it is known by what that render recorded
/// (`index`), not parsed. It must be kept ([`Keys::kept`]): with nothing resolved, it cannot
/// be rendered.
#[derive(Debug, Clone)]
pub struct Stub {
    /// `<namespace>/<name>`.
    pub key: String,
    pub datastore: String,
    pub file: source::SourceId,
}

/// Parses and resolves; on errors, every diagnostic found.
pub fn prepare<'c>(sources: &Sources, config: &'c parse::ConfigFile) -> Result<Prepared<'c>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let inputs = parse::parse(sources, config, &mut diags);
    let tenants = resolve::resolve(&inputs, &mut diags);
    if diags.has_errors() {
        diags.sort();
        return Err(diags);
    }
    Ok(Prepared { inputs, tenants, stubs: Vec::new(), diags })
}

/// [`prepare`] without parsing the files of `skip`, whose tenants are given (`Stub`s). `None`
/// when that cannot be the same as a full prepare: a file of `tcp_only` (changed or new) holds
/// more than TenantControlPlanes, a parsed tenant has a stub's name, or the repository has
/// ConfigMaps (whether one is used depends on every tenant); the caller then prepares in full.
pub fn prepare_skipping<'c>(
    sources: &Sources,
    config: &'c parse::ConfigFile,
    skip: &std::collections::BTreeMap<source::SourceId, Vec<(String, String)>>,
    tcp_only: &std::collections::BTreeSet<source::SourceId>,
) -> Option<Result<Prepared<'c>, Diagnostics>> {
    let mut diags = Diagnostics::default();
    let ids = skip.keys().copied().collect();
    let inputs = parse::parse_except(sources, config, &ids, &mut diags);
    let stubs: Vec<Stub> = skip
        .iter()
        .flat_map(|(file, tenants)| tenants.iter().map(|(key, ds)| Stub { key: key.clone(), datastore: ds.clone(), file: *file }))
        .collect();
    let default_ns = config.config.default_namespace();
    let parsed_keys: std::collections::BTreeSet<String> = inputs
        .tcps
        .iter()
        .map(|d| model::tenant_key(d.value.metadata.namespace.as_deref().unwrap_or(default_ns), &d.value.metadata.name))
        .collect();
    let clash = stubs.iter().any(|s| parsed_keys.contains(&s.key));
    if !inputs.configmaps.is_empty() || clash || tcp_only.iter().any(|id| !inputs.tcp_only.contains(id)) {
        return None;
    }
    let tenants = resolve::resolve(&inputs, &mut diags);
    if diags.has_errors() {
        diags.sort();
        return Some(Err(diags));
    }
    Some(Ok(Prepared { inputs, tenants, stubs, diags }))
}

/// The tenants of `prepared` whose marker entry (`recorded`) says nothing of them can have
/// changed: the same PKI fingerprint (spec, `tcpc.yaml`, sealer, lock shard and state files,
/// by the `digests` of the files as they are) before the entry's `until`. A recorded
/// fingerprint is one the stage left with no service-account rotation under way (it records
/// none otherwise), and the same shard holds the same entry: neither has to be read to know.
/// The edge keeps only those whose files it vouches for ([`Keys::kept`]).
pub fn keepable(
    sources: &Sources,
    prepared: &Prepared<'_>,
    digests: &stamp::InputFiles,
    recorded: &std::collections::BTreeMap<String, cache::Entry>,
    now: i64,
) -> std::collections::BTreeMap<String, cache::Entry> {
    let check = |key: String, datastore: &str, spec: Option<String>| -> Option<(String, cache::Entry)> {
        let entry = recorded.get(&key)?;
        let (pki, until) = (entry.pki.as_deref()?, entry.until);
        if until.is_some_and(|u| now >= u) {
            return None;
        }
        // A stub resolves as it did: to the recorded spec fingerprint.
        let spec = spec.unwrap_or_else(|| entry.spec.clone());
        (spec == entry.spec && pki_fingerprint_by(&key, datastore, &spec, digests, None)? == pki).then(|| (key, entry.clone()))
    };
    let one = |t: &resolve::Tenant| check(t.key(), &t.datastore.name, Some(cache::spec_fingerprint(t, &sources.get(t.file).display)));
    let mut kept: std::collections::BTreeMap<String, cache::Entry> = par::map(&prepared.tenants, one).into_iter().flatten().collect();
    kept.extend(prepared.stubs.iter().filter_map(|s| check(s.key.clone(), &s.datastore, None)));
    kept
}

/// The second half of a compile ([`compile_with`]): PKI, templates, the typed check, the layout.
pub fn compile_prepared(
    sources: &Sources,
    prepared: Prepared<'_>,
    keys: Option<&Keys<'_>>,
    vouched: Option<&std::collections::BTreeMap<String, String>>,
    progress: &Progress,
) -> Result<Compiled, Diagnostics> {
    let vouched = if keys.is_some() { None } else { vouched };
    let Prepared { inputs, tenants, stubs, mut diags } = prepared;
    if let (false, Some(kept)) = (stubs.is_empty(), keys.and_then(|k| k.kept))
        && stubs.iter().any(|s| !kept.contains_key(&s.key))
    {
        diags.push(Diagnostic::error("internal error: an unparsed tenant was not kept (this is a tcpc bug)"));
        return Err(diags);
    }
    let pki_env = match keys {
        None => None,
        Some(k) => match k.sealer {
            Some(sealer) => Some(pki::PkiEnv {
                now: k.now,
                identities: k.identities,
                states: k.states,
                recipients: inputs.config.pki_recipients(),
                sealer,
                renew_before_fraction: inputs.config.renew_before_fraction(),
                rotate_ca: &k.intent.rotate_ca,
                rotate_sa: &k.intent.rotate_sa,
                sa_min_overlap: k.intent.sa_min_overlap,
            }),
            None => {
                let d = Diagnostic::error("tcpc.yaml configures no sealing: tcpc never writes plaintext Secrets").help(
                    "add `sealing: {sealedSecrets: {certificate: sealed-secrets.crt}}` or `sealing: {sops: {ageRecipients: [age1…]}}`",
                );
                let d = match inputs.config_doc {
                    Some(doc) => d.at(doc.file, doc.node.span, "in this file"),
                    None => d.note("there is no tcpc.yaml at the repository root"),
                };
                diags.push(d);
                return Err(diags);
            }
        },
    };
    progress.total.store(tenants.len(), std::sync::atomic::Ordering::Relaxed);
    let results = render_all(sources, &tenants, keys, pki_env.as_ref(), vouched, progress);
    let mut objects = Vec::new();
    let mut changed: std::collections::BTreeMap<String, lock::TenantLock> = std::collections::BTreeMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut new_states = std::collections::BTreeMap::new();
    let mut report = Vec::new();
    let mut pending = Vec::new();
    let mut render_keys = std::collections::BTreeMap::new();
    let mut vouched_tenants = std::collections::BTreeMap::new();
    let mut cache_hits = 0;
    let mut pki_skips = 0;
    let mut kept = std::collections::BTreeSet::new();
    for (t, r) in tenants.iter().zip(results) {
        match r {
            Ok(out) => {
                objects.extend(out.objects);
                let key = t.key();
                cache_hits += usize::from(out.cached);
                pki_skips += usize::from(out.pki_skipped);
                if out.vouched {
                    vouched_tenants.insert(key.clone(), sources.get(t.file).display.clone());
                }
                if out.kept {
                    kept.insert(key.clone());
                }
                if let Some(k) = out.render_key {
                    render_keys.insert(key.clone(), cache::Entry { key: k, spec: out.spec, pki: out.pki, until: out.until });
                }
                if let Some(l) = out.lock {
                    changed.insert(key.clone(), l);
                }
                names.push(key);
                if let Some(s) = out.new_state {
                    new_states.insert(pki::tenant_state_key(t), s);
                }
                report.extend(out.report);
            }
            Err(pki::PkiError::NeedsIdentity(message)) => {
                let key = t.key();
                let known = keys.is_some_and(|k| k.lock.tenants.contains_key(&key));
                if known {
                    // Its previous entry stays, matching the previous files kept for it.
                    names.push(key);
                }
                pending.push(Pending { namespace: t.namespace.clone(), name: t.name.clone(), message, known });
            }
            Err(pki::PkiError::Failed(e)) => {
                // Failed, not gone: it must not count as removed.
                names.push(t.key());
                diags.push(Diagnostic::error(e))
            }
        }
    }
    // Stubs are kept tenants whose files were not even parsed.
    for s in &stubs {
        if let Some(entry) = keys.and_then(|k| k.kept).and_then(|k| k.get(&s.key)) {
            render_keys.insert(s.key.clone(), entry.clone());
            kept.insert(s.key.clone());
            names.push(s.key.clone());
            cache_hits += 1;
            pki_skips += 1;
        }
    }
    names.sort();
    // Destruction is explicit: a tenant the lock records may leave the output only on request.
    if let Some(k) = keys {
        let (removal_diags, removal_report) = intent::check_removals(k.lock, &names, k.intent, &inputs.tombstones);
        diags.extend(removal_diags);
        diags.extend(intent::check_datastore_changes(k.lock, &tenants, &inputs));
        report.extend(removal_report);
    }
    // Opt-in teardown: a Job in the place of each tenant removed with a Tombstone.
    let teardown = match keys {
        Some(k) if inputs.config.teardown_datastore() => teardown_jobs(&inputs, k.lock, &mut objects, &mut diags),
        _ => std::collections::BTreeMap::new(),
    };
    if diags.has_errors() {
        diags.sort();
        return Err(diags);
    }
    // The lock changes when an entry changed, or when the set of tenants did.
    let lock_changed = changed.keys().cloned().collect();
    // Kept tenants' entries were never read (`Keys::kept`): the lock here is the others'.
    let new_lock = keys.and_then(|k| {
        let read: Vec<&String> = names.iter().filter(|n| !kept.contains(*n)).collect();
        let same_set = k.lock.tenants.len() == read.len() && read.iter().all(|n| k.lock.tenants.contains_key(*n));
        if changed.is_empty() && same_set && k.lock.teardown == teardown {
            return None;
        }
        let mut l = lock::Lock::new();
        l.teardown = teardown;
        for n in read {
            match changed.remove(n) {
                Some(entry) => l.tenants.insert(n.clone(), entry),
                None => l.tenants.insert(n.clone(), k.lock.tenants[n].clone()),
            };
        }
        Some(l)
    });
    match emit::layout(objects, &kept) {
        Ok(mut tree) => {
            let mut namespaces = std::collections::BTreeMap::new();
            if inputs.config.create_namespaces() {
                for (ns, _) in names.iter().filter_map(|n| n.split_once('/')) {
                    namespaces.entry(ns.to_string()).or_insert_with(|| namespace_object(ns));
                }
                emit::add_namespaces(&mut tree, namespaces.clone(), &kept);
            }
            let component = companion_install::component(&inputs.config);
            emit::add_component(&mut tree, &component);
            diags.sort();
            Ok(Compiled {
                tree,
                diagnostics: diags,
                tenants: tenants.len() + stubs.len(),
                lock: new_lock,
                lock_changed,
                new_states,
                report,
                pending,
                namespaces,
                render_keys,
                vouched: vouched_tenants,
                cache_hits,
                pki_skips,
                component,
                kept,
                unparsed: stubs.len(),
            })
        }
        Err(e) => {
            diags.push(Diagnostic::error(e));
            Err(diags)
        }
    }
}

/// The teardown Jobs of tenants removed with a Tombstone (`resolve/teardown.rs`), added to
/// `objects`; returns what the lock keeps recording for them.
fn teardown_jobs(
    inputs: &parse::Inputs,
    lock: &lock::Lock,
    objects: &mut Vec<model::EmittedFile>,
    diags: &mut Diagnostics,
) -> std::collections::BTreeMap<String, lock::DataStoreRecord> {
    let mut kept = std::collections::BTreeMap::new();
    let tombstones: std::collections::BTreeSet<&String> = inputs.tombstones.iter().collect();
    for name in tombstones {
        // A tenant never rendered made nothing.
        let Some(rec) = lock.tenants.get(name).and_then(|l| l.datastore.clone()).or_else(|| lock.teardown.get(name).cloned()) else {
            continue;
        };
        let Some((ns, tcp)) = name.split_once('/') else { continue };
        let ds = inputs.datastores.iter().find(|d| d.value.metadata.name == rec.name);
        match resolve::teardown::plan(ds, &inputs.config, ns, tcp, &rec) {
            Ok(resolve::teardown::Teardown::Job(plan)) => {
                let rendered = match render::render_teardown(ns, tcp, &plan) {
                    Ok(r) => r,
                    Err(e) => {
                        diags.push(Diagnostic::error(e.to_string()));
                        continue;
                    }
                };
                for mut r in rendered {
                    match check::check(r.object) {
                        Ok(o) => {
                            r.object = o;
                            objects.push(r.emit());
                        }
                        Err(e) => {
                            diags.push(Diagnostic::error(format!("{name}: the teardown Job: {e} (this is a tcpc bug)")));
                            break;
                        }
                    }
                }
                kept.insert(name.clone(), rec);
            }
            Ok(resolve::teardown::Teardown::Nothing(why)) => diags.push(Diagnostic::warning(format!("teardown of {why}"))),
            Err(d) => diags.push(d),
        }
    }
    kept
}

struct TenantOutput {
    objects: Vec<EmittedFile>,
    lock: Option<lock::TenantLock>,
    new_state: Option<String>,
    report: Vec<String>,
    /// The render-cache key of its templates' inputs (`cache`), when rendered with keys.
    render_key: Option<String>,
    /// Its spec fingerprint (`cache::spec_fingerprint`).
    spec: String,
    /// Its PKI fingerprint after this render, and until when it holds (`cache::Entry`).
    pki: Option<String>,
    until: Option<i64>,
    /// Its template files came from the cache.
    cached: bool,
    /// Its PKI stage was skipped too.
    pki_skipped: bool,
    /// Not rendered: a previous render vouches for it (`compile_with`).
    vouched: bool,
    /// Taken as it is ([`Keys::kept`]).
    kept: bool,
}

/// Runs PKI, templates and the typed check for every tenant, spread over the available cores.
/// Results come back in the tenants' order, whatever the scheduling.
fn render_all(
    sources: &Sources,
    tenants: &[resolve::Tenant],
    keys: Option<&Keys<'_>>,
    pki_env: Option<&pki::PkiEnv<'_>>,
    vouched: Option<&std::collections::BTreeMap<String, String>>,
    progress: &Progress,
) -> Vec<Result<TenantOutput, pki::PkiError>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(tenants.len().max(1));
    let chunk = tenants.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = tenants
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|t| {
                            let out = render_one(t, &sources.get(t.file).display, keys, pki_env, vouched);
                            progress.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            out
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("render worker panicked")).collect()
    })
}

/// The annotation naming the spec file (relative to the repository) an object was rendered from.
pub const SOURCE_ANNOTATION: &str = "tcpc.dev/source";

/// Sets `tcpc.dev/source` on an object. SOPS documents are left alone: their MAC covers the
/// metadata.
fn annotate_source(object: &mut serde_json::Value, source: &str) {
    if object.get("sops").is_some() {
        return;
    }
    if let Some(meta) = object.get_mut("metadata").and_then(serde_json::Value::as_object_mut) {
        let annotations = meta.entry("annotations").or_insert_with(|| serde_json::json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(SOURCE_ANNOTATION.into(), source.into());
        }
    }
}

/// The Namespace object of one namespace: never pruned by Flux or Argo CD (deleting it would
/// delete everything in it), and tolerant of a namespace that already exists.
fn namespace_object(ns: &str) -> String {
    let object = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "annotations": {
                "argocd.argoproj.io/sync-options": "Prune=false",
                "kustomize.toolkit.fluxcd.io/prune": "disabled",
                SOURCE_ANNOTATION: "tcpc.yaml",
            },
        },
    });
    let checked = check::check(object).expect("a Namespace object is valid");
    tcpc_yaml::emit(&checked)
}

fn render_one(
    t: &resolve::Tenant,
    source: &str,
    keys: Option<&Keys<'_>>,
    pki_env: Option<&pki::PkiEnv<'_>>,
    vouched: Option<&std::collections::BTreeMap<String, String>>,
) -> Result<TenantOutput, pki::PkiError> {
    if let Some(entry) = keys.and_then(|k| k.kept).and_then(|kept| kept.get(&t.key())) {
        // `keepable` found its fingerprints the recorded ones.
        return Ok(TenantOutput {
            objects: Vec::new(),
            lock: None,
            new_state: None,
            report: Vec::new(),
            render_key: Some(entry.key.clone()),
            spec: entry.spec.clone(),
            pki: entry.pki.clone(),
            until: entry.until,
            cached: true,
            pki_skipped: true,
            vouched: false,
            kept: true,
        });
    }
    let spec = cache::spec_fingerprint(t, source);
    let mut out = TenantOutput {
        objects: Vec::new(),
        lock: None,
        new_state: None,
        report: Vec::new(),
        render_key: None,
        vouched: vouched.and_then(|v| v.get(&t.key())) == Some(&spec),
        spec,
        pki: None,
        until: None,
        cached: false,
        pki_skipped: false,
        kept: false,
    };
    if out.vouched {
        return Ok(out);
    }
    if let (Some(keys), Some(cache)) = (keys, keys.and_then(|k| k.cache))
        && keys.intent.is_empty()
        && let Some(prev) = keys.lock.tenants.get(&t.key())
        && let Some(pki) = pki_fingerprint(t, &out.spec, keys, prev, None)
        && let Some((files, entry)) = cache.unchanged(&t.key(), &pki, keys.now.unix_timestamp())
    {
        // The same lock entry, states and spec before a renewal window: the PKI stage would
        // reuse every sealed object, and the templates render what they did.
        out.objects = files;
        out.render_key = Some(entry.key);
        (out.pki, out.until) = (entry.pki, entry.until);
        (out.cached, out.pki_skipped) = (true, true);
        return Ok(out);
    }
    let mut annotations = t.deployment.pod_annotations.clone();
    let mut ca_cert_b64 = None;
    let mut etcd_checksum = None;
    let mut record = None;
    let mut secrets = Vec::new();
    if let (Some(keys), Some(env)) = (keys, pki_env) {
        use rand_core::SeedableRng as _;
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(keys.seed);
        h.update(t.key().as_bytes());
        let mut rng = rand_chacha::ChaCha20Rng::from_seed(h.finalize().into());
        let prev = keys.lock.tenants.get(&t.key());
        let p = pki::tenant_pki(t, prev, env, &mut rng)?;
        annotations.insert("tcpc.dev/pki-checksum".into(), p.pod_checksum.clone());
        for mut s in p.secrets {
            annotate_source(&mut s.object, source);
            flux::guard(&mut s.object);
            secrets.push(s);
        }
        ca_cert_b64 = Some(p.ca_cert_b64);
        etcd_checksum = p.etcd_checksum;
        record = t.companion.as_ref().map(|c| record::record(t, p.lock.as_ref().or(prev), c.renew_before_fraction));
        // The fingerprint of the lock entry and state this render leaves: what the next render
        // compares with.
        if let Some(entry) = p.lock.as_ref().or(prev) {
            let shard = p.lock.as_ref().map(|l| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(lock::shard_text(l))));
            let state = p.new_state.as_ref().map(|s| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(s)));
            out.pki = pki_fingerprint(t, &out.spec, keys, entry, Some((shard, state)));
            out.until = stamp::renewal_from(entry, env.renew_before_fraction);
        }
        out.lock = p.lock;
        out.new_state = p.new_state;
        out.report = p.report;
    }
    // Without the PKI stage (no sealing configured) the record lists no certificates.
    let record = record.or_else(|| t.companion.as_ref().map(|c| record::record(t, None, c.renew_before_fraction)));
    if let Some(keys) = keys {
        let key = cache::KeyInputs {
            secrets: &secrets,
            spec: &out.spec,
            annotations: &annotations,
            ca_cert_b64: ca_cert_b64.as_deref(),
            etcd_checksum: etcd_checksum.as_deref(),
            record: record.as_ref(),
        }
        .key();
        // The same inputs (sealed Secrets included) rendered these files last time (`cache`).
        let hit = keys.cache.and_then(|c| c.get(&t.key(), &key));
        out.render_key = Some(key);
        if let Some(files) = hit {
            out.objects = files;
            out.cached = true;
            return Ok(out);
        }
    }
    for s in secrets {
        // SOPS documents carry a `sops` key no Kubernetes type has; their plaintext form was
        // checked before encryption.
        let checked = if s.object.get("sops").is_some() { s.object } else { check::check(s.object).map_err(|e| e.to_string())? };
        out.objects.push(Rendered { object: checked, ..s }.emit());
    }
    for mut r in render::render_with(t, &annotations, ca_cert_b64.as_deref(), etcd_checksum.as_deref(), record.as_ref())
        .map_err(|e| e.to_string())?
    {
        annotate_source(&mut r.object, source);
        flux::guard(&mut r.object);
        r.object = check::check(r.object).map_err(|e| e.to_string())?;
        out.objects.push(r.emit());
    }
    Ok(out)
}

/// The PKI fingerprint (`cache::pki_fingerprint`) of tenant `t` with lock entry `entry`:
/// from the digests of the files as read, or, for `written = Some((shard, state))`, with the
/// shard and tenant state this render writes (`None`: as read). `None` when its PKI stage may
/// not be skipped: a service-account key rotation is under way (it is stepped by the clock and
/// intents), or the lock entry was not read from a shard of its own (a single-file lock of an
/// earlier release).
fn pki_fingerprint(
    t: &resolve::Tenant,
    spec: &str,
    keys: &Keys<'_>,
    entry: &lock::TenantLock,
    written: Option<(Option<String>, Option<String>)>,
) -> Option<String> {
    if pki::sa_rotation::extra_record(entry).is_some() {
        return None;
    }
    pki_fingerprint_of(t, spec, keys.digests, written)
}

/// [`pki_fingerprint`] from the digests alone, whatever the lock entry holds.
fn pki_fingerprint_of(
    t: &resolve::Tenant,
    spec: &str,
    digests: &stamp::InputFiles,
    written: Option<(Option<String>, Option<String>)>,
) -> Option<String> {
    pki_fingerprint_by(&t.key(), &t.datastore.name, spec, digests, written)
}

/// [`pki_fingerprint_of`] of the tenant `key` (`<namespace>/<name>`) on DataStore `ds`.
fn pki_fingerprint_by(
    key: &str,
    ds: &str,
    spec: &str,
    digests: &stamp::InputFiles,
    written: Option<(Option<String>, Option<String>)>,
) -> Option<String> {
    let read = |label: String| digests.get(&label).map(hex::encode);
    let (shard, state) = written.unwrap_or_default();
    let shard = shard.or_else(|| read(format!("lock/{key}")))?;
    let states = [
        state.or_else(|| read(format!("state/tenants/{key}"))),
        read(format!("state/{}", pki::datastore_state_key(ds))),
        read(format!("state/{}", pki::datastore_credentials_key(ds))),
        read(format!("state/{}", pki::datastore_client_certificate_key(ds))),
    ];
    let fleet = format!("{}:{}", read("source/tcpc.yaml".into())?, read("sealer".into()).unwrap_or_default());
    Some(cache::pki_fingerprint(spec, &fleet, &shard, &states))
}

/// Adds the previous files of `keep` (tenants not rendered this run, see [`Compiled::pending`])
/// from `previous` to `tree`, and lays the aggregating kustomizations out again, so a tenant
/// that needs the identity stays exactly as it was applied. Pure.
pub fn keep_previous(tree: Tree, previous: &Tree, compiled: &Compiled) -> Result<Tree, String> {
    let keep: std::collections::BTreeSet<(&str, &str)> =
        compiled.pending.iter().filter(|p| p.known).map(|p| (p.namespace.as_str(), p.name.as_str())).collect();
    if keep.is_empty() {
        return Ok(tree);
    }
    /// `<ns>/<tcp>/<bundle>/<file>` of a tenant's object file (not its kustomization).
    fn tenant_file(path: &str) -> Option<(&str, &str, model::Bundle, &str)> {
        let parts: Vec<&str> = path.split('/').collect();
        let &[ns, tcp, bundle, file] = parts.as_slice() else { return None };
        let bundle = match bundle {
            "management" => model::Bundle::Management,
            "tenant" => model::Bundle::Tenant,
            _ => return None,
        };
        (file != "kustomization.yaml").then_some((ns, tcp, bundle, file))
    }
    let mut files = Vec::new();
    for (path, text) in &tree {
        if let Some((ns, tcp, bundle, file)) = tenant_file(path).filter(|(ns, tcp, ..)| !keep.contains(&(*ns, *tcp))) {
            files.push(EmittedFile { namespace: ns.into(), tcp: tcp.into(), bundle, file: file.into(), text: text.clone() });
        }
    }
    for (path, text) in previous {
        if let Some((ns, tcp, bundle, file)) = tenant_file(path).filter(|(ns, tcp, ..)| keep.contains(&(*ns, *tcp))) {
            files.push(EmittedFile { namespace: ns.into(), tcp: tcp.into(), bundle, file: file.into(), text: text.clone() });
        }
    }
    let mut out = emit::layout(files, &compiled.kept)?;
    emit::add_namespaces(&mut out, compiled.namespaces.clone(), &compiled.kept);
    emit::add_component(&mut out, &compiled.component);
    Ok(out)
}
