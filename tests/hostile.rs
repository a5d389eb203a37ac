//! The hostile corpus: several hundred bad repositories, generated here from templates by
//! category, each run through the real binary (`validate`, then `render`). For every run:
//!
//! * no panic (exit 101), no abort or other signal (134), no `panicked at` on stderr;
//! * at most 2 s of CPU and 512 MB of peak RSS, measured for the child with `wait4`. CPU time
//!   rather than wall time, so the bound does not depend on what else the (shared) machine is
//!   doing; it is generous — a typical refusal takes about 0.1 s — yet far below what the
//!   unbounded parser took (a 50 MB file: 31 s; an alias bomb: 22 s and 6.1 GB). A runaway child
//!   is killed by `RLIMIT_CPU`/`RLIMIT_AS` rather than hanging the suite;
//! * a refusal about a YAML file the user writes (specs, `tcpc.yaml`, the lock) points into it
//!   as `--> file:line:col`; a refusal about another file names it;
//! * a failed run changes no file (hashes of the whole repository before and after), and a
//!   `validate` never changes anything.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::root;
use sha2::Digest as _;

/// CPU seconds one run may take (a debug build, on a 2-core machine that CI shares with other
/// builds: a valid render of one tenant takes ~0.3 s idle and up to ~2.5 s loaded). The bound
/// is there to catch blow-ups (the alias bomb took 22 s before the limits), not to time tcpc.
const CPU_LIMIT_SECS: f64 = 6.0;
const RSS_LIMIT_KB: i64 = 512 * 1024;

/// What a case must end in (beyond never crashing and staying within the bounds).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Refused (exit 1) with a location in this file.
    Located(&'static str),
    /// Refused with a location in this file, or accepted.
    LocatedOrOk(&'static str),
    /// Refused (exit 1 or 2), naming this (a file or a variable) in the message.
    Refused(&'static str),
    /// Anything but a crash.
    NoCrash,
}

/// Writes a (large) file's bytes; kept as a generator so this test process stays small — a
/// child's peak RSS counts the parent's pages at `fork`.
type Generator = std::sync::Arc<dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()> + Send + Sync>;

#[derive(Clone)]
enum Edit {
    Write(String, Vec<u8>),
    Gen(String, Generator),
    Remove(String),
    Mkdir(String),
    Symlink(String, PathBuf),
}

#[derive(Clone)]
struct Case {
    name: String,
    edits: Vec<Edit>,
    env: Vec<(&'static str, String)>,
    /// Extra arguments of `render` (`@OUT@` is replaced by a directory outside the repository).
    render_args: Vec<String>,
    expect: Expect,
    /// The expectation concerns what only `render` reads (keys, sealing, where to write).
    render_only: bool,
}

impl Case {
    fn render_only(mut self) -> Case {
        self.render_only = true;
        self
    }
}

fn case(name: impl Into<String>, edits: Vec<Edit>, expect: Expect) -> Case {
    Case { name: name.into(), edits, env: Vec::new(), render_args: Vec::new(), expect, render_only: false }
}

fn write(path: &str, bytes: impl Into<Vec<u8>>) -> Edit {
    Edit::Write(path.to_string(), bytes.into())
}

fn generate(path: &str, f: impl Fn(&mut dyn std::io::Write) -> std::io::Result<()> + Send + Sync + 'static) -> Edit {
    Edit::Gen(path.to_string(), std::sync::Arc::new(f))
}

/// `head`, then `unit` repeated until the file holds `len` bytes (cut there), then `tail`.
fn repeat(path: &str, head: &str, unit: &str, len: usize, tail: &str) -> Edit {
    let (head, unit, tail) = (head.to_string(), unit.to_string(), tail.to_string());
    generate(path, move |w| {
        w.write_all(head.as_bytes())?;
        let mut left = len.saturating_sub(head.len() + tail.len());
        while left > 0 {
            let n = left.min(unit.len());
            w.write_all(&unit.as_bytes()[..n])?;
            left -= n;
        }
        w.write_all(tail.as_bytes())
    })
}

const TENANT: &str = "tenants/a.yaml";
const CONFIG: &str = "tcpc.yaml";
const LOCK: &str = "tcpc.lock";
/// The tenant's shard of the lock (`tcpc.lock.d/<namespace>/<name>.json`).
const SHARD: &str = "tcpc.lock.d/tenants/a.json";
const RECIPIENT: &str = "age1l073q08ujmk99f2ucgt7t46sn26v0n2u89wnk2xnclrwry4ur46ssqpdzg";

/// The valid values of the tenant template, by placeholder.
const TCP_DEFAULTS: &[(&str, &str)] = &[
    ("name", "a"),
    ("namespace", "tenants"),
    ("dataStore", "default"),
    ("replicas", "2"),
    ("serviceType", "ClusterIP"),
    ("port", "6443"),
    ("serviceCidr", "10.96.0.0/16"),
    ("podCidr", "10.244.0.0/16"),
    ("dnsServiceIPs", "[10.96.0.10]"),
    ("certSANs", "[a.example.com]"),
    ("version", "v1.36.3"),
    ("cgroupfs", "systemd"),
    ("extra", ""),
];

const TCP_TEMPLATE: &str = "apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: {name}
  namespace: {namespace}
spec:
  dataStore: {dataStore}
  controlPlane:
    deployment:
      replicas: {replicas}
    service:
      serviceType: {serviceType}
  networkProfile:
    port: {port}
    serviceCidr: {serviceCidr}
    podCidr: {podCidr}
    dnsServiceIPs: {dnsServiceIPs}
    certSANs: {certSANs}
  kubernetes:
    version: {version}
    kubelet:
      cgroupfs: {cgroupfs}
{extra}";

/// The tenant with some placeholders replaced (YAML text, inserted as written).
fn tcp(overrides: &[(&str, &str)]) -> String {
    let mut text = TCP_TEMPLATE.to_string();
    for (key, default) in TCP_DEFAULTS {
        let value = overrides.iter().find(|(k, _)| k == key).map_or(*default, |(_, v)| *v);
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}

const CONFIG_TEMPLATE: &str = "apiVersion: tcpc.dev/v1alpha1
kind: Config
pki:
  keyAlgorithm: ECDSA-P256
  recipients: [RECIPIENT]
sealing:
  sops: {ageRecipients: [RECIPIENT]}
";

fn config(extra: &str) -> String {
    CONFIG_TEMPLATE.replace("RECIPIENT", RECIPIENT) + extra
}

/// A deterministic byte stream (xorshift), so "random" cases are the same on every run.
fn noise(seed: u64, len: usize, printable: bool) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = (x >> 24) as u8;
            const ALPHABET: &[u8] = b" \n:-[]{}&*!|>'\"#%@`,?abcxyz0123456789\t.";
            if printable { ALPHABET[b as usize % ALPHABET.len()] } else { b }
        })
        .collect()
}

fn nested(style: &str, depth: usize) -> String {
    let mut out = Vec::new();
    write_nested(&mut out, style, depth).unwrap();
    String::from_utf8(out).unwrap()
}

/// `depth` levels of one collection style, written as they are produced (10,000 levels of
/// block indentation are 50 MB).
fn write_nested(w: &mut dyn std::io::Write, style: &str, depth: usize) -> std::io::Result<()> {
    let (open, close) = match style {
        "flow-map" => ("{a: ", "}"),
        "flow-seq" => ("[", "]"),
        "flow-mixed" => ("[{a: ", "}]"),
        "unclosed-flow" => ("[", ""),
        "block-seq-compact" => ("- ", ""),
        _ => ("", ""),
    };
    for i in 0..depth {
        match style {
            "block-map" => writeln!(w, "{:i$}k:", "")?,
            "block-seq" => writeln!(w, "{:n$}-", "", n = 2 * i)?,
            _ => w.write_all(open.as_bytes())?,
        }
    }
    if style == "block-seq-compact" {
        w.write_all(b"x")?;
    }
    for _ in 0..depth {
        w.write_all(close.as_bytes())?;
    }
    if !style.starts_with("block-map") && style != "block-seq" {
        w.write_all(b"\n")?;
    }
    Ok(())
}

fn billion_laughs(levels: usize, fan: usize) -> String {
    let mut s = format!("  l0: &l0 [{}]\n", vec!["lol"; fan].join(", "));
    for i in 1..levels {
        s.push_str(&format!("  l{i}: &l{i} [{}]\n", vec![format!("*l{}", i - 1); fan].join(", ")));
    }
    s
}

fn yaml_cases(base: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let located = Expect::Located(TENANT);
    let loc_or_ok = Expect::LocatedOrOk(TENANT);
    // Deep nesting, in every collection style, as a whole document and inside the spec.
    for style in ["block-map", "block-seq", "block-seq-compact", "flow-map", "flow-seq", "flow-mixed", "unclosed-flow"] {
        for depth in [65, 257, 1_000, 10_000, 100_000] {
            if style.starts_with("block") && style != "block-seq-compact" && depth > 10_000 {
                continue;
            }
            out.push(case(format!("nesting/{style}/{depth}"), vec![generate(TENANT, move |w| write_nested(w, style, depth))], located));
        }
        let inside = tcp(&[("extra", &format!("  deep: {}", nested(style, 300).replace('\n', "\n    ")))]);
        out.push(case(format!("nesting/{style}/in-spec"), vec![write(TENANT, inside)], located));
    }
    // Alias bombs (billion laughs) and alias abuse, inside the tenant.
    for (levels, fan) in [(9, 10), (6, 10), (5, 10), (4, 10), (3, 10), (30, 2), (20, 3), (2, 1000), (64, 2)] {
        let text = tcp(&[("extra", &format!("  bomb:\n{}", billion_laughs(levels, fan)))]);
        out.push(case(format!("alias/laughs-{levels}x{fan}"), vec![write(TENANT, text)], located));
    }
    let long = "x".repeat(100_000);
    let aliases: String = (0..200).map(|_| "*s, ").collect();
    out.push(case("alias/long-scalar", vec![write(TENANT, tcp(&[("extra", &format!("  s: &s {long}\n  t: [{aliases}]\n"))]))], located));
    let many: String = (0..20_001).map(|_| "*a, ").collect();
    out.push(case("alias/many-uses", vec![write(TENANT, tcp(&[("extra", &format!("  a: &a x\n  t: [{many}]\n"))]))], located));
    out.push(case("alias/unknown", vec![write(TENANT, tcp(&[("replicas", "*nope")]))], located));
    out.push(case("alias/self", vec![write(TENANT, tcp(&[("extra", "  a: &a [*a]\n")]))], located));
    out.push(case("alias/used-for-a-field", vec![write(TENANT, tcp(&[("replicas", "&r 2"), ("port", "*r")]))], loc_or_ok));
    out.push(case("alias/merge-key", vec![write(TENANT, tcp(&[("extra", "  x: &x {a: 1}\n  y:\n    <<: *x\n")]))], located));
    out.push(case("alias/anchor-on-key", vec![write(TENANT, tcp(&[("extra", "  &k key: 1\n")]))], loc_or_ok));
    // Huge files and documents.
    let mib = 1 << 20;
    let comment_line = "# ".to_string() + &"x".repeat(78) + "\n";
    for (name, size) in [("2MiB+1", 2 * mib + 1), ("5MB", 5_000_000), ("50MB", 50_000_000)] {
        out.push(case(format!("huge/comments-{name}"), vec![repeat(TENANT, "", &comment_line, size, "")], located));
    }
    out.push(case("huge/one-line-50MB", vec![repeat(TENANT, "k: ", "v", 50_000_000, "\n")], located));
    let keys = generate(TENANT, |w| (0..400_000).try_for_each(|i| writeln!(w, "k{i}: {i}")));
    out.push(case("huge/many-keys-in-one-document", vec![keys], located));
    out.push(case("huge/flow-seq-of-2MB", vec![repeat(TENANT, "[", "a,", 2_000_000, "a]\n")], located));
    // The largest a file may be by default, in flow documents: the most nodes (and the most
    // scanner memory) the defaults allow.
    let docs = generate(TENANT, move |w| {
        for _ in 0..2 {
            w.write_all(b"--- [")?;
            for _ in 0..(mib - 20) / 2 {
                w.write_all(b"a,")?;
            }
            w.write_all(b"a]\n")?;
        }
        Ok(())
    });
    out.push(case("huge/two-1MiB-flow-documents", vec![docs], loc_or_ok));
    let docs: String = "---\n".repeat(10_001);
    out.push(case("huge/10001-empty-documents", vec![write(TENANT, docs)], located));
    let docs: String = (0..10_001).map(|i| format!("---\nk: {i}\n")).collect();
    out.push(case("huge/10001-documents", vec![write(TENANT, docs)], located));
    let tcps: String = (0..300).map(|_| format!("---\n{}", tcp(&[]))).collect();
    out.push(case("huge/300-duplicate-tenants", vec![write(TENANT, tcps)], located));
    let unknown: String = (0..60_000).map(|i| format!("  u{i}: 1\n")).collect();
    out.push(case("huge/60000-unknown-fields", vec![write(TENANT, tcp(&[("extra", &unknown)]))], located));
    let long_key = format!("  {}: 1\n", "k".repeat(900_000));
    out.push(case("huge/long-key", vec![write(TENANT, tcp(&[("extra", &long_key)]))], located));
    out.push(case("huge/long-value", vec![write(TENANT, tcp(&[("name", &"n".repeat(900_000))]))], located));
    out.push(case("huge/many-files", (0..2000).map(|i| write(&format!("tenants/x{i}.yaml"), "# nothing\n")).collect(), Expect::NoCrash));
    let big_files = (0..10).map(|i| repeat(&format!("tenants/big{i}.yaml"), "", &comment_line, 3_600_000, "")).collect();
    out.push(case("huge/total-over-32MiB", big_files, Expect::Located("tenants/big")));
    // Encodings.
    let valid = tcp(&[]).into_bytes();
    for (name, at, bytes) in [
        ("latin1-in-value", 60, &b"caf\xe9"[..]),
        ("lone-continuation", 10, b"\x80"),
        ("overlong", 100, b"\xc0\xaf"),
        ("surrogate", 200, b"\xed\xa0\x80"),
        ("ff", 0, b"\xff"),
        ("truncated-sequence", 300, b"\xe2\x82"),
        ("at-end", usize::MAX, b"\xfe"),
        ("nul", 50, b"\x00"),
        ("in-comment", 0, b"# \xff\xfe\n"),
    ] {
        let mut text = valid.clone();
        let at = at.min(text.len());
        text.splice(at..at, bytes.iter().copied());
        let expect = if name == "nul" { loc_or_ok } else { located };
        out.push(case(format!("encoding/{name}"), vec![write(TENANT, text)], expect));
    }
    let utf16le: Vec<u8> = [0xff, 0xfe].into_iter().chain(tcp(&[]).encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let utf16be: Vec<u8> = [0xfe, 0xff].into_iter().chain(tcp(&[]).encode_utf16().flat_map(u16::to_be_bytes)).collect();
    out.push(case("encoding/utf16le", vec![write(TENANT, utf16le)], located));
    out.push(case("encoding/utf16be", vec![write(TENANT, utf16be)], located));
    out.push(case("encoding/utf32", vec![write(TENANT, b"\xff\xfe\x00\x00a\x00\x00\x00".to_vec())], located));
    out.push(case("encoding/bom", vec![write(TENANT, format!("\u{feff}{}", tcp(&[])))], loc_or_ok));
    out.push(case("encoding/bom-per-document", vec![write(TENANT, format!("\u{feff}{}---\n\u{feff}k: v\n", tcp(&[])))], loc_or_ok));
    out.push(case("encoding/bom-inside", vec![write(TENANT, tcp(&[("name", "a\u{feff}b")]))], loc_or_ok));
    out.push(case("encoding/crlf", vec![write(TENANT, tcp(&[]).replace('\n', "\r\n"))], loc_or_ok));
    out.push(case("encoding/cr-only", vec![write(TENANT, tcp(&[]).replace('\n', "\r"))], loc_or_ok));
    for (i, c) in ['\u{1}', '\u{7f}', '\u{85}', '\u{2028}', '\u{200b}', '\u{202e}', '\u{fffe}'].iter().enumerate() {
        out.push(case(format!("encoding/control-{i}"), vec![write(TENANT, tcp(&[("name", &format!("a{c}b"))]))], loc_or_ok));
    }
    // Tabs.
    for (i, text) in [
        tcp(&[]).replace("  name", "\tname"),
        tcp(&[]).replace("    service:", "\tservice:"),
        tcp(&[]).replace("name: a", "name:\ta"),
        tcp(&[]).replace("      cgroupfs", "\t\t\tcgroupfs"),
        tcp(&[("certSANs", "[\ta.example.com]")]),
    ]
    .into_iter()
    .enumerate()
    {
        out.push(case(format!("tabs/{i}"), vec![write(TENANT, text)], loc_or_ok));
    }
    // Duplicate keys.
    for (i, text) in [
        tcp(&[]) + "kind: TenantControlPlane\n",
        tcp(&[]).replace("  namespace: tenants\n", "  namespace: tenants\n  name: b\n"),
        tcp(&[]).replace("  dataStore: default\n", "  dataStore: default\n  dataStore: other\n"),
        tcp(&[]).replace("      cgroupfs: systemd\n", "      cgroupfs: systemd\n      cgroupfs: cgroupfs\n"),
        tcp(&[("dnsServiceIPs", "{a: 1, a: 2}")]),
        tcp(&[]).replace("  namespace: tenants\n", "  \"name\": b\n"),
        tcp(&[]).replace("  namespace: tenants\n", "  'name': b\n"),
        tcp(&[("extra", "  x: {? a : 1, a: 2}\n")]),
    ]
    .into_iter()
    .enumerate()
    {
        out.push(case(format!("duplicate-key/{i}"), vec![write(TENANT, text)], located));
    }
    // YAML features tcpc refuses or must survive.
    for (i, extra) in [
        "  t: !!binary aGVsbG8=\n",
        "  t: !custom x\n",
        "  t: !!set {a, b}\n",
        "  t: !!omap [a: 1]\n",
        "  ? [a, b]\n  : complex\n",
        "  ? {a: 1}\n  : complex\n",
        "  80: port\n",
        "  true: yes\n",
        "  ~: null-key\n",
        "  \"\": empty-key\n",
        "  t: !!int x\n",
        "  t: !!float 1.x\n",
        "  t: !<tag:example.com,2000:x> y\n",
        "  t: |\n    literal\n  u: >\n    folded\n",
        "  t: \"\\uD800\"\n",
        "  t: \"\\x\"\n",
        "  t: 'unterminated\n",
        "  t: \"unterminated\n",
        "  t: [a, b\n",
        "  t: {a: b\n",
        "  t: &\n",
        "  t: *\n",
        "  - item\n",
        "  t: @reserved\n",
        "  t: `reserved\n",
        ": no key\n",
    ]
    .iter()
    .enumerate()
    {
        out.push(case(format!("syntax/{i}"), vec![write(TENANT, tcp(&[("extra", extra)]))], located));
    }
    for (i, text) in [
        "%YAML 1.1\n---\na: 1\n",
        "%YAML 9.9\n---\na: 1\n",
        "%TAG ! tag:x,2000:\n---\n!a b\n",
        "--- |\n  x\n",
        "...\n...\n",
        "---\n---\n---\n",
    ]
    .iter()
    .enumerate()
    {
        out.push(case(format!("directives/{i}"), vec![write(TENANT, *text)], Expect::LocatedOrOk(TENANT)));
    }
    // Crashes the fuzzers found (fuzz/regressions), as readable cases.
    let tabs = |n: usize| "\t".repeat(n);
    let renderer = format!(
        "{}\u{1}'{}\u{1}:{}\u{4}{}al{}\u{1}'{}\u{1}:{}\u{4}{}{}{}",
        tabs(8),
        tabs(10),
        tabs(2),
        tabs(9),
        tabs(8),
        tabs(10),
        tabs(2),
        tabs(9),
        "i".repeat(12),
        "\0".repeat(100)
    );
    out.push(case("fuzz/diagnostic-renderer-overflow-on-tabs", vec![write(TENANT, renderer)], located));
    for (i, (lead, tail)) in [(40, 200), (200, 10), (30, 3000)].iter().enumerate() {
        let text = format!("{}x: y: z{}\n", " ".repeat(*lead), " w".repeat(*tail));
        out.push(case(format!("fuzz/diagnostic-leading-whitespace/{i}"), vec![write(TENANT, text)], loc_or_ok));
    }
    // The valid tenant cut at many places, and noise.
    let text = std::fs::read(base.join(TENANT)).unwrap();
    for cut in (0..text.len()).step_by(text.len() / 40 + 1) {
        out.push(case(format!("truncated/{cut}"), vec![write(TENANT, text[..cut].to_vec())], loc_or_ok));
    }
    for seed in 0..12 {
        out.push(case(format!("noise/binary-{seed}"), vec![write(TENANT, noise(seed, 64 << seed.min(10), false))], loc_or_ok));
        out.push(case(format!("noise/yaml-chars-{seed}"), vec![write(TENANT, noise(seed, 64 << seed.min(10), true))], loc_or_ok));
    }
    out
}

fn type_and_range_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let wrong = ["{a: 1}", "[1, 2]", "x y", "1", "null", "true", "-1.5", "\"\""];
    for field in [
        "name",
        "namespace",
        "dataStore",
        "replicas",
        "serviceType",
        "port",
        "serviceCidr",
        "dnsServiceIPs",
        "certSANs",
        "version",
        "cgroupfs",
    ] {
        for (i, v) in wrong.iter().enumerate() {
            out.push(case(format!("type/{field}/{i}"), vec![write(TENANT, tcp(&[(field, v)]))], Expect::LocatedOrOk(TENANT)));
        }
    }
    let numbers = [
        "0",
        "-1",
        "65536",
        "2147483647",
        "2147483648",
        "-2147483649",
        "9223372036854775807",
        "99999999999999999999",
        "1e400",
        "-1e400",
        ".nan",
        ".inf",
        "6443.5",
        "0x10000",
        "0o777777",
    ];
    for field in ["port", "replicas"] {
        for (i, v) in numbers.iter().enumerate() {
            out.push(case(format!("range/{field}/{i}"), vec![write(TENANT, tcp(&[(field, v)]))], Expect::LocatedOrOk(TENANT)));
        }
    }
    for (i, v) in ["0", "-1", "36501", "4294967295", "4294967296", "1.5", "\"365\""].iter().enumerate() {
        out.push(case(
            format!("range/spec.pki.leafValidityDays/{i}"),
            vec![write(TENANT, tcp(&[("extra", &format!("  pki:\n    leafValidityDays: {v}\n"))]))],
            Expect::Located(TENANT),
        ));
    }
    for (i, extra) in [
        "    additionalPorts: [{name: x, port: 0, targetPort: 1}]\n",
        "    additionalPorts: [{name: x, port: 70000, targetPort: 1}]\n",
        "    additionalPorts: [{name: x, port: 1, targetPort: -1}]\n",
    ]
    .iter()
    .enumerate()
    {
        let text = tcp(&[]).replace("      serviceType: ClusterIP\n", &format!("      serviceType: ClusterIP\n{extra}"));
        out.push(case(format!("range/additionalPorts/{i}"), vec![write(TENANT, text)], Expect::LocatedOrOk(TENANT)));
    }
    for (i, v) in ["0", "-5", "2147483648"].iter().enumerate() {
        let text = tcp(&[]).replace(
            "      replicas: 2\n",
            &format!("      replicas: 2\n      probes:\n        liveness:\n          periodSeconds: {v}\n"),
        );
        out.push(case(format!("range/probe-period/{i}"), vec![write(TENANT, text)], Expect::LocatedOrOk(TENANT)));
    }
    // tcpc.yaml numbers.
    let days = ["0", "-1", "36501", "3000000", "4294967295", "4294967296", "1.5", "\"365\"", "1e400"];
    for key in ["leafValidityDays", "caValidityDays"] {
        for (i, v) in days.iter().enumerate() {
            let text = config("").replace("  keyAlgorithm: ECDSA-P256\n", &format!("  keyAlgorithm: ECDSA-P256\n  {key}: {v}\n"));
            out.push(case(format!("range/pki.{key}/{i}"), vec![write(CONFIG, text)], Expect::Located(CONFIG)));
        }
    }
    for (i, v) in ["0", "1", "-0.5", "1.5", ".nan", ".inf", "-.inf", "x"].iter().enumerate() {
        let text = config("").replace("  keyAlgorithm: ECDSA-P256\n", &format!("  keyAlgorithm: ECDSA-P256\n  renewBeforeFraction: {v}\n"));
        out.push(case(format!("range/pki.renewBeforeFraction/{i}"), vec![write(CONFIG, text)], Expect::Located(CONFIG)));
    }
    for key in ["warnDays", "failDays"] {
        for (i, v) in ["-1", "36501", "4294967296"].iter().enumerate() {
            out.push(case(
                format!("range/check.{key}/{i}"),
                vec![write(CONFIG, config(&format!("check: {{{key}: {v}}}\n")))],
                Expect::Located(CONFIG),
            ));
        }
    }
    let caps = [
        ("maxFileBytes", 8u64 << 20),
        ("maxTotalBytes", 256 << 20),
        ("maxDocuments", 1_000_000),
        ("maxDocumentChars", 8 << 20),
        ("maxDepth", 256),
        ("maxAliases", 1_000_000),
        ("maxAliasExpansion", 4_000_000),
    ];
    for (key, cap) in caps {
        for v in ["0".to_string(), "-1".into(), (cap + 1).to_string(), "18446744073709551616".into(), "x".into()] {
            out.push(case(
                format!("range/limits.{key}/{v}"),
                vec![write(CONFIG, config(&format!("limits: {{{key}: {v}}}\n")))],
                Expect::Located(CONFIG),
            ));
        }
    }
    // Raised limits still hold at their hard caps: nesting 256 deep parses (and is refused by
    // the schema), 257 is refused by the parser.
    let deep = |d: usize| tcp(&[("extra", &format!("  deep: {}\n", "[".repeat(d) + &"]".repeat(d)))]);
    for d in [255, 257, 100_000] {
        out.push(case(
            format!("limits/maxDepth-at-cap/{d}"),
            vec![write(CONFIG, config("limits: {maxDepth: 256}\n")), write(TENANT, deep(d))],
            Expect::Located(TENANT),
        ));
    }
    let mut bomb = case(
        "limits/expansion-at-cap",
        vec![write(CONFIG, config("limits: {maxAliasExpansion: 4000000, maxAliases: 1000000}\n"))],
        Expect::Located(TENANT),
    );
    bomb.edits.push(write(TENANT, tcp(&[("extra", &format!("  bomb:\n{}", billion_laughs(9, 10)))])));
    out.push(bomb);
    out.push(case(
        "limits/lowered",
        vec![write(CONFIG, config("limits: {maxFileBytes: 100}\n")), write(TENANT, tcp(&[]))],
        Expect::Located(TENANT),
    ));
    // SOURCE_DATE_EPOCH, far and wrong.
    for v in ["-1", "253402300800", "9223372036854775807", "99999999999999999999", "abc", "1e9", "0x10", " 12 34"] {
        let mut c = case(format!("epoch/invalid/{v}"), vec![], Expect::Refused("SOURCE_DATE_EPOCH"));
        c.env.push(("SOURCE_DATE_EPOCH", v.to_string()));
        out.push(c);
    }
    // Valid but extreme: certificates would end after year 9999, or the CA is not yet valid.
    for v in ["253402300799", "253370764800", "0", "86400"] {
        let mut c = case(format!("epoch/extreme/{v}"), vec![], Expect::NoCrash);
        c.env.push(("SOURCE_DATE_EPOCH", v.to_string()));
        out.push(c);
        let mut c = case(format!("epoch/extreme-new-tenant/{v}"), vec![write("tenants/b.yaml", tcp(&[("name", "b")]))], Expect::NoCrash);
        c.env.push(("SOURCE_DATE_EPOCH", v.to_string()));
        out.push(c);
    }
    for (i, (leaf, ca, epoch)) in
        [("36500", "36500", "253370764800"), ("36500", "36500", "4102444800"), ("1", "1", "1795317058")].iter().enumerate()
    {
        let cfg = config("").replace(
            "  keyAlgorithm: ECDSA-P256\n",
            &format!("  keyAlgorithm: ECDSA-P256\n  leafValidityDays: {leaf}\n  caValidityDays: {ca}\n"),
        );
        let mut c = case(
            format!("epoch/long-validity/{i}"),
            vec![write(CONFIG, cfg), write("tenants/b.yaml", tcp(&[("name", "b")]))],
            Expect::NoCrash,
        );
        c.env.push(("SOURCE_DATE_EPOCH", epoch.to_string()));
        out.push(c);
    }
    out
}

fn network_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let cidrs = [
        "10.0.0.0/33",
        "300.1.1.1/8",
        "::/129",
        "10.0.0.1/8",
        "\"\"",
        "abc",
        "10.0.0.0/-1",
        "1.2.3.4.5/8",
        "10.0.0.0/0",
        "\"10.0.0.0/ 8\"",
        "fe80::/10%eth0",
        "10.96.0.0/16/16",
        "10.96.0.0",
        "010.096.000.000/16",
        "10.96.0.0/31",
        "10.96.0.0/32",
    ];
    for field in ["serviceCidr", "podCidr"] {
        for (i, v) in cidrs.iter().enumerate() {
            out.push(case(format!("network/{field}/{i}"), vec![write(TENANT, tcp(&[(field, v)]))], Expect::LocatedOrOk(TENANT)));
        }
    }
    for (i, v) in [
        "[300.0.0.1]",
        "[10.97.0.10]",
        "[\"::1\"]",
        "[\"\"]",
        "[a.b.c.d]",
        "[10.96.0.10, 10.96.0.10]",
        "[10.96.0.0]",
        "[10.96.255.255]",
        "[]",
    ]
    .iter()
    .enumerate()
    {
        out.push(case(
            format!("network/dnsServiceIPs/{i}"),
            vec![write(TENANT, tcp(&[("dnsServiceIPs", v)]))],
            Expect::LocatedOrOk(TENANT),
        ));
    }
    for (i, v) in ["999.1.1.1", "\"\"", "\"::ffff:1.2.3.4\"", "1.2.3", "-", "a b"].iter().enumerate() {
        let text = tcp(&[]).replace("    port: 6443\n", &format!("    port: 6443\n    address: {v}\n"));
        out.push(case(format!("network/address/{i}"), vec![write(TENANT, text)], Expect::LocatedOrOk(TENANT)));
    }
    let long_san = format!("[{}]", "a".repeat(300));
    let many_sans = format!("[{}]", (0..5000).map(|i| format!("s{i}.example.com")).collect::<Vec<_>>().join(", "));
    for (i, v) in [
        "[\"*\"]",
        "[a..b]",
        "[-a]",
        "[\"\"]",
        "[1.2.3.4/8]",
        long_san.as_str(),
        many_sans.as_str(),
        "[\"a b\"]",
        "[\"é.example.com\"]",
        "[\"*.*.example.com\"]",
    ]
    .iter()
    .enumerate()
    {
        out.push(case(format!("network/certSANs/{i}"), vec![write(TENANT, tcp(&[("certSANs", v)]))], Expect::LocatedOrOk(TENANT)));
    }
    out
}

/// Encrypts `plaintext` to a fresh identity that is not the repository's recipient.
fn encrypt_to_stranger(plaintext: &[u8]) -> Vec<u8> {
    let stranger = age::x25519::Identity::generate().to_public();
    let text = tcpc_seal::state::encrypt_to_recipients(plaintext, &[stranger.to_string()]).expect("encrypts");
    text.into_bytes()
}

/// One lock file damaged every way: cut at `cuts` places, replaced by each of `variants`, by
/// noise, and by a directory. A parse error must point into the file, anything else name it.
fn damaged_file_cases(what: &str, file: &'static str, bytes: &[u8], cuts: usize, variants: Vec<String>) -> Vec<Case> {
    let mut out = Vec::new();
    for cut in (0..bytes.len()).step_by(bytes.len() / cuts + 1) {
        out.push(case(format!("{what}/truncated/{cut}"), vec![write(file, bytes[..cut].to_vec())], Expect::LocatedOrOk(file)));
    }
    for (i, text) in variants.into_iter().enumerate() {
        out.push(case(format!("{what}/corrupt/{i}"), vec![write(file, text)], Expect::LocatedOrOk(file)));
    }
    out.push(case(format!("{what}/binary"), vec![write(file, noise(7, 4096, false))], Expect::Refused(file)));
    out.push(case(format!("{what}/directory"), vec![Edit::Remove(file.into()), Edit::Mkdir(file.into())], Expect::Refused(file)));
    out
}

fn key_material_cases(base: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    // An input change that forces re-issuance, so the state and the identity are needed.
    let reissue = write(TENANT, tcp(&[("certSANs", "[b.example.com]")]));
    // The tenant's shard: where its entry (certificates, sealed objects) is.
    let shard = std::fs::read(base.join(SHARD)).unwrap();
    let shard_text = String::from_utf8(shard.clone()).unwrap();
    let shard_variants = vec![
        shard_text.replacen("\"artefacts\": {", "\"artefacts\": [], \"x\": {", 1),
        shard_text.replacen("\"notAfter\": \"", "\"notAfter\": \"9999-99-99", 1),
        shard_text.replacen("\"notAfter\": \"", "\"notAfter\": \"-", 1),
        shard_text.replacen("sha256:", "sha256:zz", 3),
        "artefacts: {a: &a [x, x], b: [*a, *a]}\n".into(),
        format!("a: &a [x]\n{}", billion_laughs(9, 10).replace("  l", "l")),
        format!("{{\"state\": {}}}", "[".repeat(100_000)),
        "[".repeat(200) + &"]".repeat(200),
        "null".into(),
        "{}".into(),
        "\"string\"".into(),
    ];
    out.extend(damaged_file_cases("lock", SHARD, &shard, 25, shard_variants));
    // `validate` reads no lock (it compiles without keys): only `render` meets the damage.
    out.push(case("lock/huge-garbage", vec![repeat(SHARD, "", "[", 20_000_000, "")], Expect::Located(SHARD)).render_only());
    out.push(case("lock/stray-file", vec![write("tcpc.lock.d/tenants/notes.txt", "hi")], Expect::Refused("notes.txt")));
    // The root file.
    let lock = std::fs::read(base.join(LOCK)).unwrap();
    let lock_text = String::from_utf8(lock.clone()).unwrap();
    let root_variants = vec![
        lock_text.replace("tcpc.dev/v1alpha1", "tcpc.dev/v9"),
        lock_text.replace("\"kind\": \"Lock\"", "\"kind\": \"Lock\", \"tenants\": [], \"x\": {}"),
        // A root that still lists tenants, beside the shards: one lock in two places.
        lock_text.replace("\"kind\": \"Lock\"", "\"kind\": \"Lock\", \"tenants\": {\"tenants/b\": {}}"),
        "apiVersion: tcpc.dev/v1alpha1\nkind: Lock\ntenants: {a: &a [x, x], b: [*a, *a]}\n".into(),
        "null".into(),
        "{}".into(),
    ];
    out.extend(damaged_file_cases("lock-root", LOCK, &lock, 8, root_variants));
    // The tenant's state.
    let state_rel = find_state(base);
    let state = std::fs::read(base.join(&state_rel)).unwrap();
    let mut state_variants: Vec<(String, Vec<u8>)> =
        (0..state.len()).step_by(state.len() / 12 + 1).map(|c| (format!("truncated/{c}"), state[..c].to_vec())).collect();
    state_variants.push(("garbage".into(), noise(3, 2000, false)));
    state_variants.push(("empty".into(), Vec::new()));
    state_variants.push(("wrong-recipient-json".into(), encrypt_to_stranger(b"{\"artefacts\": {}}")));
    state_variants.push(("wrong-recipient-garbage".into(), encrypt_to_stranger(&noise(4, 300, false))));
    let bit_flip = {
        let mut s = state.clone();
        let i = s.len() / 2;
        s[i] ^= 0x01;
        s
    };
    state_variants.push(("bit-flip".into(), bit_flip));
    for (name, bytes) in state_variants {
        out.push(case(format!("state/{name}/unchanged-input"), vec![write(&state_rel, bytes.clone())], Expect::NoCrash));
        out.push(case(format!("state/{name}/reissue"), vec![write(&state_rel, bytes), reissue.clone()], Expect::Refused("")));
    }
    out.push(case(
        "state/directory-instead-of-file",
        vec![Edit::Remove(state_rel.clone()), Edit::Mkdir(state_rel.clone()), reissue.clone()],
        Expect::NoCrash,
    ));
    out.push(case(
        "state/new-tenant-state-path-is-a-directory",
        vec![write("tenants/b.yaml", tcp(&[("name", "b")])), Edit::Mkdir(state_rel.replace("/a.age", "/b.age"))],
        Expect::Refused(""),
    ));
    // Identities.
    let stranger = age::x25519::Identity::generate();
    let stranger_text = {
        use age::secrecy::ExposeSecret as _;
        stranger.to_string().expose_secret().to_string()
    };
    for (name, identity) in [
        ("wrong-recipient", stranger_text.clone()),
        ("garbage", "AGE-SECRET-KEY-1NOTAKEY".to_string()),
        ("empty", String::new()),
        ("binary", String::from_utf8_lossy(&noise(5, 200, false)).replace('\0', "")),
        ("public-key", RECIPIENT.to_string()),
    ] {
        let mut c = case(format!("identity/{name}"), vec![reissue.clone()], Expect::Refused(""));
        c.env.push(("TCPC_AGE_IDENTITY", identity));
        out.push(c);
    }
    let mut c = case("identity/directory", vec![reissue.clone(), Edit::Mkdir("id-dir".into())], Expect::Refused("id-dir"));
    c.env.push(("TCPC_AGE_IDENTITY_FILE", "id-dir".into()));
    out.push(c);
    let mut c = case("identity/missing-file", vec![reissue.clone()], Expect::Refused("no-such-identity"));
    c.env.push(("TCPC_AGE_IDENTITY_FILE", "no-such-identity".into()));
    out.push(c);
    // Sealed-secrets certificates.
    let ss_config = config("").replace(&format!("  sops: {{ageRecipients: [{RECIPIENT}]}}\n"), "  sealedSecrets: {certificate: ss.crt}\n");
    let real = std::fs::read(root().join("examples/sealed-secrets.crt")).unwrap();
    let mut certs: Vec<(String, Option<Vec<u8>>)> = vec![
        ("garbage".into(), Some(noise(9, 1500, false))),
        ("empty".into(), Some(Vec::new())),
        ("pem-garbage".into(), Some(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec())),
        ("missing".into(), None),
        ("huge".into(), Some(Vec::new())),
        (
            "bit-flip".into(),
            Some({
                let mut r = real.clone();
                r[real.len() / 2] ^= 0x04;
                r
            }),
        ),
    ];
    for cut in [30, real.len() / 2, real.len() - 30] {
        certs.push((format!("truncated/{cut}"), Some(real[..cut].to_vec())));
    }
    for (name, bytes) in certs {
        let mut edits = vec![write(CONFIG, ss_config.clone()), reissue.clone()];
        match bytes {
            Some(_) if name == "huge" => edits.push(repeat("ss.crt", "", "A", 10_000_000, "")),
            Some(b) => edits.push(write("ss.crt", b)),
            None => {}
        }
        // A bit flip may leave a certificate that still parses (its self-signature is not checked).
        let expect = if name == "bit-flip" { Expect::NoCrash } else { Expect::Refused("ss.crt") };
        out.push(case(format!("sealing-cert/{name}"), edits, expect));
    }
    out.push(case(
        "sealing-cert/directory",
        vec![write(CONFIG, ss_config.clone()), Edit::Mkdir("ss.crt".into())],
        Expect::Refused("ss.crt"),
    ));
    out.push(case(
        "sealing-cert/outside-the-repository",
        vec![write(CONFIG, ss_config.replace("ss.crt", "/etc/hostname"))],
        Expect::NoCrash,
    ));
    out.push(
        case(
            "sealing/none",
            vec![write(CONFIG, config("").replace(&format!("sealing:\n  sops: {{ageRecipients: [{RECIPIENT}]}}\n"), ""))],
            Expect::Located(CONFIG),
        )
        .render_only(),
    );
    out.push(case(
        "sealing/sops-bad-recipient",
        vec![write(CONFIG, config("").replace(&format!("ageRecipients: [{RECIPIENT}]"), "ageRecipients: [age1nope]"))],
        Expect::NoCrash,
    ));
    out
}

fn find_state(base: &Path) -> String {
    walkdir::WalkDir::new(base.join(".tcpc/state/tenants"))
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "age"))
        .map(|e| e.path().strip_prefix(base).unwrap().to_string_lossy().into_owned())
        .expect("the base render wrote a tenant state")
}

fn path_cases(outside: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, o) in [
        ".",
        "./",
        "..",
        "../..",
        "../escape",
        "/tmp/tcpc-hostile-abs",
        ".tcpc",
        ".tcpc/state",
        ".git",
        ".git/x",
        "a/../../b",
        "link-out/x",
        "tenants/..",
        "/",
    ]
    .iter()
    .enumerate()
    {
        let mut edits = vec![write(CONFIG, config(&format!("output: \"{o}\"\n")))];
        if o.starts_with("link-out") {
            edits.push(Edit::Symlink("link-out".into(), outside.to_path_buf()));
        }
        out.push(case(format!("paths/config-output/{i}"), edits, Expect::Located(CONFIG)).render_only());
    }
    for (i, (key, v)) in [
        ("stateDir", "../state"),
        ("stateDir", "/tmp/tcpc-hostile-state"),
        ("lockFile", "../tcpc.lock"),
        ("lockFile", "/tmp/tcpc-hostile.lock"),
    ]
    .iter()
    .enumerate()
    {
        let text = config("").replace("  keyAlgorithm: ECDSA-P256\n", &format!("  keyAlgorithm: ECDSA-P256\n  {key}: \"{v}\"\n"));
        out.push(case(format!("paths/config-{key}/{i}"), vec![write(CONFIG, text)], Expect::Located(CONFIG)).render_only());
    }
    for (i, args) in
        [vec!["-o", "."], vec!["-o", ".."], vec!["-o", "@OUT@"], vec!["-o", "@OUT@/../x"], vec!["-o", "../..", "--allow-outside"]]
            .into_iter()
            .enumerate()
    {
        let mut c = case(format!("paths/cli-output/{i}"), vec![], Expect::Refused("output directory"));
        c.render_args = args.into_iter().map(String::from).collect();
        out.push(c);
    }
    let mut c = case("paths/cli-output-allowed", vec![], Expect::NoCrash);
    c.render_args = vec!["-o".into(), "@OUT@".into(), "--allow-outside".into()];
    out.push(c);
    // A symlinked output directory pointing out of the repository.
    out.push(
        case("paths/output-is-symlink-out", vec![Edit::Symlink("rendered".into(), outside.to_path_buf())], Expect::Located(CONFIG))
            .render_only(),
    );
    out
}

fn config_file_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let located = Expect::Located(CONFIG);
    for style in ["block-map", "flow-seq", "flow-map"] {
        out.push(case(
            format!("config/nesting/{style}"),
            vec![write(CONFIG, config(&format!("x: {}", nested(style, 1_000).replace('\n', "\n  "))))],
            located,
        ));
    }
    out.push(case("config/bomb", vec![write(CONFIG, config(&format!("x:\n{}", billion_laughs(9, 10))))], located));
    out.push(case("config/50MB", vec![repeat(CONFIG, &config(""), "#", 50_000_000, "")], located));
    out.push(case("config/latin1", vec![write(CONFIG, b"apiVersion: tcpc.dev/v1alpha1\nkind: Config\noutput: r\xe9\n".to_vec())], located));
    out.push(case("config/duplicate", vec![write(CONFIG, config("output: a\noutput: b\n"))], located));
    out.push(case("config/unknown-field", vec![write(CONFIG, config("outptu: a\n"))], located));
    out.push(case("config/wrong-kind", vec![write(CONFIG, config("").replace("kind: Config", "kind: Lock"))], located));
    out.push(case("config/not-a-map", vec![write(CONFIG, "[1, 2]\n")], located));
    out.push(case("config/limits-in-a-limit-bomb", vec![write(CONFIG, config("limits: &l {maxDepth: 10}\nx: [*l, *l]\n"))], located));
    out.push(case("config/glob", vec![write(CONFIG, config("exclude: [\"[\"]\n"))], Expect::Refused("[")));
    out.push(case("config/many-documents", vec![write(CONFIG, config("") + &"---\na: 1\n".repeat(20_000))], Expect::LocatedOrOk(CONFIG)));
    out
}

// ---------------------------------------------------------------------------------------------

/// Runs `tcpc` with `args` in `dir`, measuring it. Returns (exit code or -signal, stderr, CPU s, max RSS kB).
fn measured(dir: &Path, args: &[String], env: &[(&'static str, String)], scratch: &Path) -> (i32, String, f64, i64) {
    let err_path = scratch.join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tcpc"));
    cmd.args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", common::EXAMPLES_EPOCH)
        .env_remove("TCPC_AGE_IDENTITY")
        .env_remove("TCPC_AGE_IDENTITY_FILE")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let cpu = libc::rlimit { rlim_cur: 20, rlim_max: 25 };
            let mem = libc::rlimit { rlim_cur: 4 << 30, rlim_max: 4 << 30 };
            if libc::setrlimit(libc::RLIMIT_CPU, &cpu) != 0 || libc::setrlimit(libc::RLIMIT_AS, &mem) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, which also reports its rusage
    let child = cmd.spawn().expect("spawning tcpc");
    let mut status = 0;
    // SAFETY: plain syscall on our own child; `rusage` is fully written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -libc::WTERMSIG(status) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = secs(usage.ru_utime) + secs(usage.ru_stime);
    let stderr = String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned();
    (code, stderr, cpu, usage.ru_maxrss)
}

/// Hash of every entry under `dir` (files by content, links by target, directories by name).
fn fingerprint(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let ft = e.file_type();
        let what = if ft.is_symlink() {
            format!("link:{}", std::fs::read_link(e.path()).unwrap().display())
        } else if ft.is_dir() {
            "dir".to_string()
        } else {
            // Streamed: reading a 50 MB file whole would grow this process, and a child's peak
            // RSS counts the parent's pages at fork.
            let mut hasher = sha2::Sha256::new();
            std::io::copy(&mut std::fs::File::open(e.path()).unwrap(), &mut hasher).unwrap();
            hex::encode(hasher.finalize())
        };
        out.insert(rel, what);
    }
    out
}

fn has_location(stderr: &str, file: &str) -> bool {
    stderr.match_indices(&format!("--> {file}")).any(|(i, m)| {
        let rest = &stderr[i + m.len()..];
        let rest = rest.trim_start_matches(|c: char| c != ':' && !c.is_whitespace());
        let mut parts = rest.splitn(3, ':').skip(1);
        let line = parts.next().unwrap_or_default();
        let col: String = parts.next().unwrap_or_default().chars().take_while(char::is_ascii_digit).collect();
        !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()) && !col.is_empty()
    })
}

fn apply(dir: &Path, edits: &[Edit]) {
    for e in edits {
        match e {
            Edit::Write(p, bytes) => {
                let path = dir.join(p);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            Edit::Gen(p, f) => {
                let path = dir.join(p);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
                f(&mut w).unwrap();
                std::io::Write::flush(&mut w).unwrap();
            }
            Edit::Remove(p) => std::fs::remove_file(dir.join(p)).unwrap(),
            Edit::Mkdir(p) => std::fs::create_dir_all(dir.join(p)).unwrap(),
            Edit::Symlink(p, target) => {
                let path = dir.join(p);
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_dir_all(&path);
                std::os::unix::fs::symlink(target, path).unwrap();
            }
        }
    }
}

/// Checks one case; returns the problems found and the worst (CPU s, RSS kB).
fn run_case(c: &Case, base: &Path, work: &Path, outside: &Path, identity: &Path) -> (Vec<String>, f64, i64) {
    let dir = work.join("repo");
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(base, &dir);
    apply(&dir, &c.edits);
    let mut problems = Vec::new();
    let (mut worst_cpu, mut worst_rss) = (0.0f64, 0i64);
    let before = fingerprint(&dir);
    let mut render = vec!["render".to_string(), ".".into()];
    render.extend(c.render_args.iter().map(|a| a.replace("@OUT@", &outside.join("out").display().to_string())));
    let mut env = c.env.clone();
    if !env.iter().any(|(k, _)| k.starts_with("TCPC_AGE_IDENTITY")) {
        env.push(("TCPC_AGE_IDENTITY_FILE", identity.display().to_string()));
    }
    for args in [vec!["validate".to_string(), ".".into()], render] {
        let cmd = &args[0];
        let (code, stderr, cpu, rss) = measured(&dir, &args, &env, work);
        worst_cpu = worst_cpu.max(cpu);
        worst_rss = worst_rss.max(rss);
        let mut fail = |what: String| problems.push(format!("{} ({cmd}): {what}\n{}", c.name, tail(&stderr)));
        if code == 101 || code < 0 || stderr.contains("panicked at") {
            fail(format!("crashed (exit {code})"));
        }
        if cpu > CPU_LIMIT_SECS {
            fail(format!("took {cpu:.2} s of CPU (limit {CPU_LIMIT_SECS} s)"));
        }
        if rss > RSS_LIMIT_KB {
            fail(format!("peaked at {} MB RSS (limit {} MB)", rss / 1024, RSS_LIMIT_KB / 1024));
        }
        let after = fingerprint(&dir);
        if (code != 0 || cmd == "validate") && after != before {
            let changed: Vec<_> = before.keys().chain(after.keys()).filter(|k| before.get(*k) != after.get(*k)).take(5).cloned().collect();
            fail(format!("exit {code} but files changed: {changed:?}"));
        }
        // `validate` does not read keys, time or the output settings; only YAML expectations apply to it.
        let applies = cmd == "render" || (!c.render_only && matches!(c.expect, Expect::Located(_) | Expect::LocatedOrOk(_)));
        match c.expect {
            Expect::Located(file) if applies => {
                if code != 1 {
                    fail(format!("expected a refusal (exit 1), got exit {code}"));
                } else if !has_location(&stderr, file) {
                    fail(format!("refusal without a `--> {file}:line:col` location"));
                }
            }
            // A file that now holds no TenantControlPlane makes a rendered tenant vanish: the render
            // refuses to delete it (explicit removal), which is about the lock, not a place in the file.
            Expect::LocatedOrOk(file)
                if applies
                    && code != 0
                    && !has_location(&stderr, file)
                    && !stderr.contains("recorded in tcpc.lock but no longer found") =>
            {
                fail(format!("refusal (exit {code}) without a `--> {file}:line:col` location"));
            }
            Expect::Refused(what) if cmd == "render" => {
                if code != 1 && code != 2 {
                    fail(format!("expected a refusal, got exit {code}"));
                } else if !stderr.contains(what) {
                    fail(format!("the refusal does not name `{what}`"));
                }
            }
            _ => {}
        }
    }
    (problems, worst_cpu, worst_rss)
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.len().saturating_sub(12);
    lines[start..].iter().map(|l| format!("    | {}\n", l.chars().take(200).collect::<String>())).collect()
}

/// The repository every case starts from: one tenant, rendered once (state, lock and tree).
fn base_repo(dir: &Path, identity: &Path) {
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    apply(
        dir,
        &[
            write(CONFIG, config("")),
            write(TENANT, tcp(&[])),
            write("datastores/default.yaml", std::fs::read(root().join("examples/datastores/default.yaml")).unwrap()),
            write(".tcpc/state/datastores/default.age", std::fs::read(root().join("examples/.tcpc/state/datastores/default.age")).unwrap()),
        ],
    );
    let args = ["render".to_string(), ".".into()];
    let (code, stderr, ..) = measured(dir, &args, &[("TCPC_AGE_IDENTITY_FILE", identity.display().to_string())], dir.parent().unwrap());
    assert_eq!(code, 0, "rendering the base repository:\n{stderr}");
}

#[test]
fn hostile_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    let identity = root().join(common::EXAMPLES_IDENTITY);
    let base = tmp.path().join("base");
    base_repo(&base, &identity);
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let mut cases = yaml_cases(&base);
    cases.extend(type_and_range_cases());
    cases.extend(network_cases());
    cases.extend(key_material_cases(&base));
    cases.extend(path_cases(&outside));
    cases.extend(config_file_cases());
    let filter = std::env::var("TCPC_HOSTILE_FILTER").unwrap_or_default();
    cases.retain(|c| c.name.contains(&filter));
    assert!(filter.is_empty() || !cases.is_empty(), "no case matches {filter}");
    if filter.is_empty() {
        assert!(cases.len() >= 300, "the corpus has only {} cases", cases.len());
    }
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");

    // Two workers: the machine running the suite is small and shared.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for w in 0..2 {
            let (cases, next, results, base, outside, identity) = (&cases, &next, &results, &base, &outside, &identity);
            let work = tmp.path().join(format!("work-{w}"));
            s.spawn(move || {
                std::fs::create_dir_all(&work).unwrap();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(c) = cases.get(i) else { break };
                    let t0 = std::time::Instant::now();
                    let r = run_case(c, base, &work, outside, identity);
                    results.lock().unwrap().push((c.name.clone(), r, t0.elapsed().as_secs_f64()));
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let (cpu_max, rss_max) = results.iter().fold((0.0f64, 0i64), |(c, r), (_, (_, cpu, rss), _)| (c.max(*cpu), r.max(*rss)));
    let mut by_cpu: Vec<_> = results.iter().map(|(n, (_, cpu, rss), wall)| (*cpu, rss / 1024, *wall, n.as_str())).collect();
    by_cpu.sort_by(|a, b| b.0.total_cmp(&a.0));
    eprintln!(
        "hostile corpus: {} cases, {} runs; worst CPU {cpu_max:.2} s, worst RSS {} MB",
        results.len(),
        2 * results.len(),
        rss_max / 1024
    );
    for (cpu, rss, wall, name) in by_cpu.iter().take(8) {
        eprintln!("  {name}: {cpu:.2} s CPU, {rss} MB, case wall time {wall:.1} s (both runs, setup and checks)");
    }
    let problems: Vec<String> = results.into_iter().flat_map(|(_, (p, ..), _)| p).collect();
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}
