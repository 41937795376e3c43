//! Advisory index benchmark: cold open + lookups against a synthetic OSV dump the size of the
//! real npm + Alpine ones, compared with parsing the dump straight from its zip.
//!
//! ```text
//! cargo bench --bench advisory
//! IMAGEGATE_BENCH_REPS=20 cargo bench --bench advisory      # lookup runs per variant (default 10)
//! IMAGEGATE_BENCH_SCALE=0.1 cargo bench --bench advisory    # a tenth of the records, for a quick try
//! ```
//!
//! `cargo bench` builds `target/release/imagegate` itself (the bench profile inherits release,
//! and Cargo hands benches the path as `CARGO_BIN_EXE_imagegate`), so no separate
//! `cargo build --release` is needed and the binary measured is always the current source.
//!
//! Steps:
//!
//! 1. A deterministic synthetic OSV dump is generated once (splitmix64, fixed seeds) and cached
//!    under `target/bench-advisory/`: `npm/all.zip` (~270k small `MAL-` malicious-package
//!    records, ~20k `GHSA-` records with CVE aliases, CVSS vectors, several ranges and a few KB
//!    of details) and `Alpine/all.zip` (~15k `ALPINE-CVE-` records, one per CVE, with an
//!    `affected` entry per branch v3.16–v3.21), deflate like OSV's `all.zip`; plus the lookup
//!    queries. Shapes follow `testdata/osv/{npm,alpine}`.
//! 2. The floor: every record of both zips inflated and parsed with `Record::from_json`, in
//!    this process (what a tool without an index does on every scan), reading the zip the way
//!    `db::read_zip` does (`ZipArchive::by_index` per entry, one reused buffer). Best of 2
//!    runs, so that noise cannot flatter the ratio; inflating alone is timed too.
//! 3. `imagegate db import npm/all.zip Alpine/all.zip --db DIR --replace`, wall time and peak
//!    RSS (`wait4` `ru_maxrss`), the child started by the launcher of `benches/common` (started
//!    while this process is small: Linux carries the *spawning* process's RSS high-water mark
//!    into a child). `db update` downloads the same zips and runs this same import, so this peak
//!    stands in for it; `cargo bench --bench db_update` measures an update itself.
//! 4. Cold open + lookups: a fresh process each time (this binary re-executed with
//!    `--lookup-child`, by the launcher) times, from before `Index::open` to after the last lookup, 1,000 npm
//!    lookups (10% hits, MAL and GHSA; 90% misses) and 200 apk packages on `Alpine:v3.20`
//!    (origin, then name when different, through `Advisories::lookup` like `scan` does, which
//!    also asks for bare `Alpine`). Every returned record is parsed (the index API returns
//!    parsed records). Reported separately, not in that figure: `by_id` for every id and alias
//!    of every record found (`scan` does it for matched findings, to borrow a severity, so
//!    this is an upper bound). Two variants: the page cache warm (the open is cold for the
//!    process only), and the index file dropped from the page cache first with
//!    `posix_fadvise(POSIX_FADV_DONTNEED)` (a truly cold read from disk; the child reports its
//!    major page faults to show the drop worked).
//! 5. A table, with PASS/OVER against the targets (50 ms, lookup/parse <= 0.05, 1 GiB) as
//!    information only: nothing is asserted, the machine is shared and noisy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
#![allow(unsafe_code)] // the launcher measures child processes with wait4 and drops page caches

use imagegate::advisory::index::{INDEX_FILE, Index};
use imagegate::advisory::osv::{Ecosystem, Record};
use imagegate::advisory::scan::Advisories;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod common;
use common::{Launcher, Spec, env_f64, max, mb, median, verdict};

/// Bump whenever the generator changes, so cached dumps are regenerated.
const GEN_VERSION: u32 = 2;
const MAL_RECORDS: f64 = 270_000.0;
const GHSA_RECORDS: f64 = 20_000.0;
const ALPINE_RECORDS: f64 = 15_000.0;
const NPM_QUERIES: usize = 1000;
const NPM_HIT_SHARE: f64 = 0.10;
const APK_QUERIES: usize = 200;
const APK_HITS: usize = 60;
const QUERY_BRANCH: &str = "v3.20";
const BRANCHES: [&str; 6] = ["v3.16", "v3.17", "v3.18", "v3.19", "v3.20", "v3.21"];

const TARGET_MS: f64 = 50.0;
const TARGET_RATIO: f64 = 0.05;
const TARGET_RSS_MB: f64 = 1024.0;

// ---------------------------------------------------------------------------------------------
// Deterministic pseudo-random numbers (splitmix64).

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
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
    /// Strongly skewed towards small indexes.
    fn skewed(&mut self, n: usize) -> usize {
        let a = self.below(n);
        let b = self.below(n);
        a * b / n
    }
    /// Mildly skewed towards small indexes: index 0 twice as likely as average.
    fn mild(&mut self, n: usize) -> usize {
        self.below(n).min(self.below(n))
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary.

/// Real, popular npm package names: where most GHSA advisories are, and typosquat targets.
const POPULAR_NPM: &[&str] = &[
    "lodash",
    "lodash-es",
    "react",
    "react-dom",
    "express",
    "axios",
    "chalk",
    "debug",
    "commander",
    "moment",
    "minimist",
    "semver",
    "json5",
    "ws",
    "qs",
    "ip",
    "tar",
    "node-fetch",
    "next",
    "serve-static",
    "send",
    "body-parser",
    "cookie",
    "path-to-regexp",
    "jsonwebtoken",
    "underscore",
    "handlebars",
    "marked",
    "jquery",
    "webpack",
    "babel-traverse",
    "@babel/traverse",
    "@babel/core",
    "postcss",
    "glob",
    "minimatch",
    "braces",
    "micromatch",
    "tough-cookie",
    "request",
    "xml2js",
    "yaml",
    "js-yaml",
    "ejs",
    "pug",
    "socket.io",
    "socket.io-parser",
    "engine.io",
    "follow-redirects",
    "undici",
    "vite",
    "esbuild",
    "rollup",
    "nanoid",
    "uuid",
    "dompurify",
    "sanitize-html",
    "validator",
    "mongoose",
    "sequelize",
    "pg",
    "mysql2",
    "redis",
    "ioredis",
    "dotenv",
    "cross-spawn",
    "shell-quote",
    "loader-utils",
    "terser",
    "got",
    "http-proxy-middleware",
    "vue",
    "angular",
    "@angular/core",
    "svelte",
    "electron",
    "highlight.js",
    "ansi-regex",
    "trim-newlines",
    "word-wrap",
];

const NAME_WORDS: &[&str] = &[
    "react",
    "vue",
    "angular",
    "svelte",
    "node",
    "web",
    "data",
    "json",
    "yaml",
    "parse",
    "util",
    "utils",
    "core",
    "http",
    "https",
    "client",
    "server",
    "config",
    "logger",
    "log",
    "color",
    "colors",
    "string",
    "array",
    "async",
    "stream",
    "buffer",
    "crypto",
    "token",
    "auth",
    "cache",
    "query",
    "router",
    "plugin",
    "loader",
    "babel",
    "eslint",
    "webpack",
    "rollup",
    "vite",
    "types",
    "cli",
    "tools",
    "helper",
    "helpers",
    "sdk",
    "api",
    "ui",
    "kit",
    "form",
    "forms",
    "table",
    "grid",
    "chart",
    "charts",
    "icon",
    "icons",
    "theme",
    "style",
    "styles",
    "css",
    "sass",
    "less",
    "image",
    "file",
    "files",
    "fs",
    "path",
    "url",
    "uri",
    "mail",
    "email",
    "sms",
    "pdf",
    "csv",
    "xml",
    "html",
    "markdown",
    "md",
    "date",
    "time",
    "timer",
    "event",
    "events",
    "emitter",
    "queue",
    "worker",
    "job",
    "task",
    "tasks",
    "test",
    "mock",
    "fake",
    "spec",
    "env",
    "dotenv",
    "proxy",
    "socket",
    "ws",
    "rpc",
    "grpc",
    "graphql",
    "redux",
    "store",
    "state",
    "hooks",
    "hook",
    "context",
    "native",
    "mobile",
    "ios",
    "android",
    "electron",
    "app",
    "apps",
    "admin",
    "dashboard",
    "auth0",
    "oauth",
    "jwt",
    "session",
    "cookie",
    "cookies",
    "redis",
    "mongo",
    "sql",
    "mysql",
    "pg",
    "db",
    "orm",
    "model",
    "schema",
    "validate",
    "validator",
    "format",
    "formatter",
    "lint",
    "prettier",
    "build",
    "bundle",
    "compile",
    "compiler",
    "transform",
    "minify",
    "uglify",
    "terser",
    "gulp",
    "grunt",
    "task",
    "deploy",
    "cloud",
    "aws",
    "azure",
    "gcp",
    "s3",
    "lambda",
    "function",
    "functions",
    "fn",
    "lib",
    "pkg",
    "module",
    "modules",
    "common",
    "shared",
    "internal",
    "private",
    "base",
    "light",
    "lite",
    "mini",
    "micro",
    "tiny",
    "fast",
    "simple",
    "easy",
    "smart",
    "super",
    "ultra",
    "next",
    "nuxt",
    "gatsby",
    "express",
    "koa",
    "hapi",
    "fastify",
    "nest",
    "sdk-js",
    "js",
    "ts",
    "typescript",
    "wasm",
    "bindings",
    "native-addon",
    "canvas",
    "svg",
    "map",
    "maps",
    "geo",
    "payment",
    "payments",
    "stripe",
    "paypal",
    "crypto-js",
    "wallet",
    "web3",
    "ethers",
    "solana",
    "bitcoin",
    "nft",
    "discord",
    "telegram",
    "slack",
    "bot",
    "bots",
    "twitter",
    "github",
    "gitlab",
    "npm",
    "yarn",
    "pnpm",
    "monorepo",
];

const SCOPES: &[&str] = &[
    "types",
    "babel",
    "angular",
    "vue",
    "aws-sdk",
    "azure",
    "google-cloud",
    "nestjs",
    "nx",
    "storybook",
    "testing-library",
    "emotion",
    "mui",
    "radix-ui",
    "tanstack",
    "trpc",
    "prisma",
    "sentry",
    "octokit",
    "vercel",
    "netlify",
    "stripe",
    "acme",
    "corp-internal",
    "company",
    "platform",
    "infra",
    "design-system",
    "frontend",
    "backend",
];

const PROSE: &[&str] = &[
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "is",
    "that",
    "for",
    "by",
    "with",
    "when",
    "an attacker",
    "can",
    "may",
    "could",
    "allows",
    "remote",
    "attackers",
    "to cause",
    "denial of service",
    "via",
    "crafted",
    "input",
    "request",
    "payload",
    "prototype pollution",
    "regular expression",
    "ReDoS",
    "path traversal",
    "arbitrary code execution",
    "cross-site scripting",
    "server-side request forgery",
    "command injection",
    "header",
    "parameter",
    "object",
    "property",
    "function",
    "version",
    "versions",
    "before",
    "prior to",
    "affected",
    "vulnerable",
    "fixed",
    "patched",
    "upgrade",
    "users",
    "should",
    "application",
    "library",
    "package",
    "module",
    "untrusted",
    "user",
    "data",
    "string",
    "buffer",
    "memory",
    "exhaustion",
    "infinite loop",
    "CPU",
    "consumption",
    "parsing",
    "parser",
    "validation",
    "missing",
    "improper",
    "sanitization",
    "escaping",
    "output",
    "template",
    "redirect",
    "URL",
    "host",
    "cookie",
    "token",
    "authentication",
    "bypass",
    "leads to",
    "results in",
    "exposure",
    "sensitive",
    "information",
    "credentials",
    "environment",
    "variables",
    "network",
    "connection",
    "TLS",
    "certificate",
    "verification",
    "this",
    "issue",
    "was",
    "reported",
    "discovered",
    "researchers",
    "maintainers",
    "release",
];

fn sentence(rng: &mut Rng) -> String {
    let n = rng.range(8, 22);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(PROSE));
    }
    let mut c = s.chars();
    let mut out: String = c.next().map(|f| f.to_uppercase().collect()).unwrap_or_default();
    out.extend(c);
    out.push('.');
    out
}

fn paragraph(rng: &mut Rng, min: usize, max: usize) -> String {
    (0..rng.range(min, max))
        .map(|_| sentence(rng))
        .collect::<Vec<_>>()
        .join(" ")
}

fn npm_name(rng: &mut Rng) -> String {
    let parts = match rng.below(10) {
        0..=2 => 1,
        3..=7 => 2,
        _ => 3,
    };
    let mut name = (0..parts)
        .map(|_| rng.pick(NAME_WORDS))
        .collect::<Vec<_>>()
        .join(if rng.chance(0.85) { "-" } else { "." });
    if rng.chance(0.12) {
        name.push_str(&rng.range(1, 99).to_string());
    }
    if rng.chance(0.15) {
        name = format!("@{}/{name}", rng.pick(SCOPES));
    }
    name
}

fn gibberish(rng: &mut Rng) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let len = rng.range(5, 16);
    let mut s: String = (0..len).map(|_| CHARS[rng.below(26)] as char).collect();
    for _ in 0..rng.below(3) {
        s.push(CHARS[rng.below(CHARS.len())] as char);
    }
    s
}

fn typosquat(rng: &mut Rng) -> String {
    let base = rng.pick(POPULAR_NPM);
    let bytes: Vec<char> = base.chars().collect();
    match rng.below(6) {
        0 if bytes.len() > 3 => {
            // swap two neighbours
            let i = rng.below(bytes.len() - 1);
            let mut b = bytes.clone();
            b.swap(i, i + 1);
            b.into_iter().collect()
        }
        1 if bytes.len() > 3 => {
            // drop a letter
            let i = rng.below(bytes.len());
            bytes
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, c)| c)
                .collect()
        }
        2 => format!(
            "{base}-{}",
            rng.pick(&["js", "utils", "lib", "core", "helper", "v2", "pro", "dev", "node"])
        ),
        3 => format!("{base}{}", rng.range(1, 2025)),
        4 => format!(
            "{}-{base}",
            rng.pick(&["node", "js", "real", "official", "secure", "fast", "new"])
        ),
        _ => {
            // double a letter
            let i = rng.below(bytes.len());
            let mut b = bytes.clone();
            b.insert(i, bytes[i]);
            b.into_iter().collect()
        }
    }
}

fn semver(rng: &mut Rng) -> String {
    format!("{}.{}.{}", rng.skewed(12), rng.below(20), rng.below(15))
}

fn timestamp(rng: &mut Rng, year_lo: usize, year_hi: usize) -> String {
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        rng.range(year_lo, year_hi),
        rng.range(1, 12),
        rng.range(1, 28),
        rng.below(24),
        rng.below(60),
        rng.below(60)
    )
}

fn hex(rng: &mut Rng, len: usize) -> String {
    const H: &[u8] = b"0123456789abcdef";
    (0..len).map(|_| H[rng.below(16)] as char).collect()
}

fn cvss3(rng: &mut Rng) -> String {
    format!(
        "CVSS:3.1/AV:{}/AC:{}/PR:{}/UI:{}/S:{}/C:{}/I:{}/A:{}",
        rng.pick(&["N", "N", "N", "A", "L", "P"]),
        rng.pick(&["L", "L", "H"]),
        rng.pick(&["N", "N", "L", "H"]),
        rng.pick(&["N", "R"]),
        rng.pick(&["U", "U", "C"]),
        rng.pick(&["N", "L", "H"]),
        rng.pick(&["N", "L", "H"]),
        rng.pick(&["N", "L", "H"]),
    )
}

fn cvss4(rng: &mut Rng) -> String {
    format!(
        "CVSS:4.0/AV:{}/AC:{}/AT:{}/PR:{}/UI:{}/VC:{}/VI:{}/VA:{}/SC:{}/SI:{}/SA:{}",
        rng.pick(&["N", "A", "L", "P"]),
        rng.pick(&["L", "H"]),
        rng.pick(&["N", "P"]),
        rng.pick(&["N", "L", "H"]),
        rng.pick(&["N", "P", "A"]),
        rng.pick(&["N", "L", "H"]),
        rng.pick(&["N", "L", "H"]),
        rng.pick(&["N", "L", "H"]),
        rng.pick(&["N", "L", "H"]),
        rng.pick(&["N", "L", "H"]),
        rng.pick(&["N", "L", "H"]),
    )
}

// ---------------------------------------------------------------------------------------------
// Records.

fn mal_record(rng: &mut Rng, i: usize, name: &str) -> (String, Value) {
    let id = format!("MAL-{}-{}", 2022 + i % 4, i / 4 + 1);
    let modified = timestamp(rng, 2022, 2025);
    let source = rng.pick(&[
        "ossf-package-analysis",
        "ghsa-malware",
        "amazon-inspector",
        "socket",
        "checkmarx",
    ]);
    let versions: Vec<String> = (0..rng.range(1, 3)).map(|_| semver(rng)).collect();
    let why = rng.pick(&[
        "The package communicates with a domain associated with malicious activity.",
        "The package executes one or more commands associated with malicious behavior.",
        "The package downloads and runs a remote payload during installation.",
        "The package exfiltrates environment variables and host information to a remote server.",
    ]);
    let details = format!(
        "\n---\n_-= Per source details. Do not edit below this line.=-_\n\n## Source: {source} ({})\n\
         The OpenSSF Package Analysis project identified '{name}' @ {} (npm) as malicious.\n\n\
         It is considered malicious because:\n\n- {why}\n",
        hex(rng, 64),
        versions[0]
    );
    let mut affected = json!({
        "package": {"ecosystem": "npm", "name": name},
        "database_specific": {
            "source": format!("https://github.com/ossf/malicious-packages/blob/main/osv/malicious/npm/{name}/{id}.json")
        }
    });
    if rng.chance(0.85) {
        affected["ranges"] = json!([{"type": "SEMVER", "events": [{"introduced": "0"}]}]);
    } else {
        affected["versions"] = json!(versions);
    }
    let record = json!({
        "modified": modified,
        "published": modified,
        "schema_version": "1.5.0",
        "id": id,
        "summary": format!("Malicious code in {name} (npm)"),
        "details": details,
        "affected": [affected],
        "database_specific": {
            "malicious-packages-origins": [{
                "import_time": timestamp(rng, 2022, 2025),
                "modified_time": modified,
                "sha256": hex(rng, 64),
                "source": source,
                "versions": versions,
            }]
        }
    });
    (id, record)
}

fn ghsa_id(rng: &mut Rng) -> String {
    const C: &[u8] = b"23456789cfghjmpqrvwx";
    let mut group = || (0..4).map(|_| C[rng.below(C.len())] as char).collect::<String>();
    format!("GHSA-{}-{}-{}", group(), group(), group())
}

fn npm_range(rng: &mut Rng) -> Value {
    let fixed = semver(rng);
    let introduced = if rng.chance(0.6) { "0".to_string() } else { semver(rng) };
    if rng.chance(0.1) {
        json!({"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"last_affected": fixed}]})
    } else {
        json!({"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]})
    }
}

fn ghsa_record(rng: &mut Rng, id: &str, cve: Option<&str>, names: &[&str]) -> Value {
    let published = timestamp(rng, 2017, 2025);
    let main = names[0];
    let mut affected = Vec::new();
    for &name in names {
        for _ in 0..rng.range(1, 2) {
            let ranges: Vec<Value> = (0..if rng.chance(0.15) { 2 } else { 1 })
                .map(|_| npm_range(rng))
                .collect();
            let mut a = json!({"package": {"ecosystem": "npm", "name": name}, "ranges": ranges});
            if rng.chance(0.2) {
                a["database_specific"] = json!({"last_known_affected_version_range": format!("< {}", semver(rng))});
            }
            affected.push(a);
        }
    }
    let mut severity = vec![json!({"type": "CVSS_V3", "score": cvss3(rng)})];
    if rng.chance(0.3) {
        severity.push(json!({"type": "CVSS_V4", "score": cvss4(rng)}));
    }
    let repo = format!(
        "https://github.com/{}/{}",
        rng.pick(NAME_WORDS),
        main.trim_start_matches('@')
    );
    let mut details = format!("### Impact\n\n{}\n\n", paragraph(rng, 3, 10));
    details += &format!(
        "### Patches\n\nThis issue is patched in {main} {}. {}\n\n",
        semver(rng),
        paragraph(rng, 1, 4)
    );
    details += &format!("### Workarounds\n\n{}\n\n", paragraph(rng, 1, 6));
    if rng.chance(0.5) {
        details += &format!("### Details\n\n{}\n\n```js\n", paragraph(rng, 3, 12));
        for _ in 0..rng.range(3, 15) {
            details += &format!(
                "const {} = require('{main}')({{ input: '{}' }});\n",
                rng.pick(NAME_WORDS),
                sentence(rng)
            );
        }
        details += "```\n\n";
    }
    details += &format!("### References\n\n- {repo}/issues/{}\n", rng.range(10, 5000));
    let mut references = vec![json!({"type": "WEB", "url": format!("{repo}/security/advisories/{id}")})];
    if let Some(cve) = cve {
        references.push(json!({"type": "ADVISORY", "url": format!("https://nvd.nist.gov/vuln/detail/{cve}")}));
    }
    for _ in 0..rng.range(1, 6) {
        references.push(json!({"type": "WEB", "url": format!("{repo}/commit/{}", hex(rng, 40))}));
    }
    references.push(json!({"type": "PACKAGE", "url": repo}));
    let level = rng.pick(&["LOW", "MODERATE", "MODERATE", "HIGH", "HIGH", "CRITICAL"]);
    let mut record = json!({
        "schema_version": "1.4.0",
        "id": id,
        "modified": timestamp(rng, 2023, 2025),
        "published": published,
        "summary": format!("{main} vulnerable to {}", rng.pick(&[
            "Prototype Pollution", "Regular Expression Denial of Service", "Cross-site Scripting",
            "Path Traversal", "Command Injection", "Server-Side Request Forgery", "Improper Input Validation",
            "Uncontrolled Resource Consumption", "Open Redirect", "Arbitrary Code Execution",
        ])),
        "details": details,
        "severity": severity,
        "affected": affected,
        "references": references,
        "database_specific": {
            "cwe_ids": [format!("CWE-{}", rng.range(20, 1400))],
            "severity": level,
            "github_reviewed": true,
            "github_reviewed_at": published,
            "nvd_published_at": if cve.is_some() { json!(published) } else { Value::Null },
        }
    });
    if let Some(cve) = cve {
        record["aliases"] = json!([cve]);
    }
    record
}

/// Alpine source packages that carry most CVEs (and are in nearly every image).
const ALPINE_CORE: &[&str] = &[
    "openssl",
    "busybox",
    "musl",
    "zlib",
    "curl",
    "expat",
    "libxml2",
    "sqlite",
    "git",
    "python3",
    "nginx",
    "openssh",
    "libxslt",
    "libpng",
    "libjpeg-turbo",
    "tiff",
    "freetype",
    "gnutls",
    "krb5",
    "ncurses",
    "pcre2",
    "xz",
    "bzip2",
    "libarchive",
    "binutils",
    "gcc",
    "perl",
    "ruby",
    "php83",
    "nodejs",
    "postgresql16",
    "redis",
    "apache2",
    "bind",
    "dnsmasq",
    "samba",
    "vim",
    "tar",
    "gzip",
    "libx11",
    "ghostscript",
    "imagemagick",
    "ffmpeg",
    "qemu",
    "xen",
    "linux-lts",
    "go",
    "rust",
    "unbound",
    "haproxy",
    "c-ares",
    "nghttp2",
    "libssh2",
    "jq",
    "libtasn1",
    "gnupg",
    "libgcrypt",
    "sudo",
    "shadow",
    "util-linux",
    "e2fsprogs",
    "file",
    "apk-tools",
    "ca-certificates",
    "libidn2",
    "libksba",
    "libwebp",
    "giflib",
    "openldap",
    "cyrus-sasl",
];

fn alpine_package_names(rng: &mut Rng, n: usize) -> Vec<String> {
    let mut seen: HashSet<String> = ALPINE_CORE.iter().map(|s| s.to_string()).collect();
    let mut out: Vec<String> = ALPINE_CORE.iter().map(|s| s.to_string()).collect();
    while out.len() < n {
        let w = rng.pick(NAME_WORDS).replace('.', "");
        let name = match rng.below(6) {
            0 => format!("py3-{w}"),
            1 => format!("perl-{w}-{}", rng.pick(NAME_WORDS)),
            2 => format!("lib{w}"),
            3 => format!("{w}-{}", rng.pick(NAME_WORDS)),
            4 => format!("ruby-{w}"),
            _ => format!("{w}{}", rng.range(1, 9)),
        };
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

fn apk_version(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}-r{}",
        rng.range(0, 9),
        rng.below(40),
        rng.below(12),
        rng.below(30)
    )
}

/// One record per CVE, with an `affected` entry per branch that ships the package.
fn alpine_record(rng: &mut Rng, cve: &str, name: &str, v320: &mut bool) -> Value {
    let first = rng.skewed(BRANCHES.len());
    let last = if rng.chance(0.8) {
        BRANCHES.len() - 1
    } else {
        rng.range(first, BRANCHES.len() - 1)
    };
    let base = apk_version(rng);
    let mut affected = Vec::new();
    for (b, branch) in BRANCHES.iter().enumerate().take(last + 1).skip(first) {
        *v320 |= *branch == QUERY_BRANCH;
        let fixed = if rng.chance(0.05) {
            "0".to_string()
        } else {
            let (v, r) = base.rsplit_once("-r").unwrap_or((&base, "0"));
            format!("{v}-r{}", r.parse::<usize>().unwrap_or(0) + b + rng.below(3))
        };
        affected.push(json!({
            "package": {
                "ecosystem": format!("Alpine:{branch}"),
                "name": name,
                "purl": format!("pkg:apk/alpine/{name}?arch=source"),
            },
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
        }));
    }
    let published = timestamp(rng, 2016, 2025);
    let mut record = json!({
        "schema_version": "1.6.0",
        "id": format!("ALPINE-{cve}"),
        "modified": timestamp(rng, 2024, 2025),
        "published": published,
        "upstream": [cve],
        "affected": affected,
        "references": [
            {"type": "ADVISORY", "url": format!("https://security.alpinelinux.org/vuln/{cve}")},
            {"type": "WEB", "url": format!("https://nvd.nist.gov/vuln/detail/{cve}")},
        ],
    });
    if rng.chance(0.7) {
        record["details"] = json!(paragraph(rng, 1, 4));
    }
    record
}

// ---------------------------------------------------------------------------------------------
// The cached dataset.

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct ZipInfo {
    entries: usize,
    compressed: u64,
    uncompressed: u64,
}

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct Dataset {
    gen_version: u32,
    scale: f64,
    mal: usize,
    ghsa: usize,
    alpine: usize,
    npm_zip: ZipInfo,
    alpine_zip: ZipInfo,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Queries {
    /// npm package names, hits and misses shuffled.
    npm: Vec<String>,
    npm_hits: usize,
    /// (origin, name) of apk packages on `QUERY_BRANCH`.
    apk: Vec<(String, String)>,
    apk_hits: usize,
}

struct ZipOut {
    writer: zip::ZipWriter<BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
    info: ZipInfo,
}

impl ZipOut {
    fn create(path: &Path) -> io::Result<ZipOut> {
        fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        let tmp = path.with_extension("zip.tmp");
        let writer = zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, File::create(&tmp)?));
        Ok(ZipOut {
            writer,
            tmp,
            path: path.to_path_buf(),
            info: ZipInfo {
                entries: 0,
                compressed: 0,
                uncompressed: 0,
            },
        })
    }

    fn add(&mut self, id: &str, record: &Value) -> io::Result<()> {
        // OSV writes its records pretty-printed, two-space indents.
        let bytes = serde_json::to_vec_pretty(record)?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(6))
            .last_modified_time(zip::DateTime::default());
        self.writer
            .start_file(format!("{id}.json"), options)
            .map_err(io::Error::other)?;
        self.writer.write_all(&bytes)?;
        self.info.entries += 1;
        self.info.uncompressed += bytes.len() as u64;
        Ok(())
    }

    fn finish(self) -> io::Result<ZipInfo> {
        let mut out = self.writer.finish().map_err(io::Error::other)?;
        out.flush()?;
        drop(out);
        fs::rename(&self.tmp, &self.path)?;
        let mut info = self.info;
        info.compressed = fs::metadata(&self.path)?.len();
        Ok(info)
    }
}

fn generate(root: &Path, scale: f64) -> io::Result<Dataset> {
    let mal = (MAL_RECORDS * scale).round().max(1.0) as usize;
    let ghsa = (GHSA_RECORDS * scale).round().max(1.0) as usize;
    let alpine = (ALPINE_RECORDS * scale).round().max(1.0) as usize;
    let stamp = root.join("dataset.json");
    if let Ok(bytes) = fs::read(&stamp)
        && let Ok(d) = serde_json::from_slice::<Dataset>(&bytes)
        && d.gen_version == GEN_VERSION
        && (d.mal, d.ghsa, d.alpine) == (mal, ghsa, alpine)
        && root.join("npm/all.zip").exists()
        && root.join("Alpine/all.zip").exists()
        && root.join("queries.json").exists()
    {
        return Ok(d);
    }
    let _ = fs::remove_file(&stamp);
    eprintln!(
        "generating {mal} MAL + {ghsa} GHSA npm records and {alpine} Alpine records in {} ...",
        root.display()
    );
    let start = Instant::now();

    // npm: GHSA records over popular and generated names, MAL records over fresh names.
    let mut rng = Rng::new(1);
    let mut npm_names: HashSet<String> = HashSet::new();
    let mut ghsa_targets: Vec<String> = POPULAR_NPM.iter().map(|s| s.to_string()).collect();
    let mut target_set: HashSet<String> = ghsa_targets.iter().cloned().collect();
    while ghsa_targets.len() < (6000.0 * scale).max(200.0) as usize {
        let n = npm_name(&mut rng);
        if target_set.insert(n.clone()) {
            ghsa_targets.push(n);
        }
    }
    let mut zip = ZipOut::create(&root.join("npm/all.zip"))?;
    let mut ghsa_ids = HashSet::new();
    let mut ghsa_hit_names: Vec<String> = Vec::new();
    let mut mal_hit_names: Vec<String> = Vec::new();
    let per_ghsa = mal.div_ceil(ghsa.max(1));
    let mut mal_done = 0;
    for g in 0..ghsa {
        let id = loop {
            let id = ghsa_id(&mut rng);
            if ghsa_ids.insert(id.clone()) {
                break id;
            }
        };
        let cve = rng
            .chance(0.9)
            .then(|| format!("CVE-{}-{}", 2017 + g % 9, 20000 + g / 9));
        // Popular packages get ~25 advisories each, the rest a few (up to ~10).
        let first = if rng.chance(0.1) {
            ghsa_targets[rng.below(POPULAR_NPM.len())].clone()
        } else {
            ghsa_targets[POPULAR_NPM.len() + rng.mild(ghsa_targets.len() - POPULAR_NPM.len())].clone()
        };
        let mut names = vec![first.as_str()];
        let second;
        if rng.chance(0.1) {
            second = ghsa_targets[rng.below(ghsa_targets.len())].clone();
            if second != first {
                names.push(&second);
            }
        }
        let record = ghsa_record(&mut rng, &id, cve.as_deref(), &names);
        for n in &names {
            if npm_names.insert(n.to_string()) {
                ghsa_hit_names.push(n.to_string());
            }
        }
        zip.add(&id, &record)?;
        // Interleave the MAL records so the zip is not sorted by kind.
        for _ in 0..per_ghsa {
            if mal_done == mal {
                break;
            }
            let name = if mal_done > 0 && rng.chance(0.04) {
                // a re-published malicious package gets another MAL id
                mal_hit_names[rng.below(mal_hit_names.len())].clone()
            } else {
                loop {
                    let n = match rng.below(20) {
                        0..=8 => npm_name(&mut rng),
                        9..=13 => gibberish(&mut rng),
                        14..=17 => typosquat(&mut rng),
                        _ => format!("@{}/{}", rng.pick(SCOPES), npm_name(&mut rng).trim_start_matches('@')),
                    };
                    if !target_set.contains(&n) && npm_names.insert(n.clone()) {
                        mal_hit_names.push(n.clone());
                        break n;
                    }
                }
            };
            let (id, record) = mal_record(&mut rng, mal_done, &name);
            zip.add(&id, &record)?;
            mal_done += 1;
        }
    }
    while mal_done < mal {
        let name = gibberish(&mut rng);
        if !npm_names.insert(name.clone()) {
            continue;
        }
        let (id, record) = mal_record(&mut rng, mal_done, &name);
        zip.add(&id, &record)?;
        mal_hit_names.push(name);
        mal_done += 1;
    }
    let npm_zip = zip.finish()?;

    // Alpine.
    let mut rng = Rng::new(2);
    let packages = alpine_package_names(&mut rng, (2000.0 * scale).max(200.0) as usize);
    let mut zip = ZipOut::create(&root.join("Alpine/all.zip"))?;
    let mut apk_hit_names: Vec<String> = Vec::new();
    let mut apk_seen = HashSet::new();
    for i in 0..alpine {
        let cve = format!("CVE-{}-{}", 2016 + i % 10, 1000 + (i / 10) * 4 + rng.below(4));
        // Core packages get ~85 CVEs each on average (openssl ~170), the rest a few.
        let name = if rng.chance(0.4) {
            packages[rng.mild(ALPINE_CORE.len())].clone()
        } else {
            packages[ALPINE_CORE.len() + rng.mild(packages.len() - ALPINE_CORE.len())].clone()
        };
        let mut v320 = false;
        let record = alpine_record(&mut rng, &cve, &name, &mut v320);
        if v320 && apk_seen.insert(name.clone()) {
            apk_hit_names.push(name);
        }
        zip.add(&format!("ALPINE-{cve}"), &record)?;
    }
    let alpine_zip = zip.finish()?;

    // Queries: 10% of npm names hit (30% of those popular packages, 40% other GHSA, 30% MAL),
    // the rest miss; apk
    // packages on v3.20, APK_HITS of them with records.
    let mut rng = Rng::new(3);
    let hits = (NPM_QUERIES as f64 * NPM_HIT_SHARE).round() as usize;
    let mut npm: Vec<String> = Vec::new();
    let mut picked = HashSet::new();
    let popular: Vec<&String> = ghsa_hit_names
        .iter()
        .filter(|n| POPULAR_NPM.contains(&n.as_str()))
        .collect();
    while npm.len() < hits {
        let n = if npm.len() < (hits * 3 / 10).min(popular.len()) {
            popular[rng.below(popular.len())].clone()
        } else if npm.len() < hits * 7 / 10 {
            ghsa_hit_names[rng.below(ghsa_hit_names.len())].clone()
        } else {
            mal_hit_names[rng.below(mal_hit_names.len())].clone()
        };
        if picked.insert(n.clone()) {
            npm.push(n);
        }
    }
    while npm.len() < NPM_QUERIES {
        let mut n = npm_name(&mut rng);
        if rng.chance(0.3) {
            n = format!("{n}-{}", rng.pick(NAME_WORDS));
        }
        if !npm_names.contains(&n) && picked.insert(n.clone()) {
            npm.push(n);
        }
    }
    for i in (1..npm.len()).rev() {
        let j = rng.below(i + 1);
        npm.swap(i, j);
    }
    let alpine_names: HashSet<&String> = packages.iter().collect();
    let mut apk = Vec::new();
    let mut apk_picked = HashSet::new();
    let apk_hits = APK_HITS.min(apk_hit_names.len());
    while apk.len() < apk_hits {
        let origin = apk_hit_names[rng.mild(apk_hit_names.len())].clone();
        let name = match rng.below(4) {
            0 => origin.clone(),
            1 => format!("lib{origin}"),
            2 => format!("{origin}-libs"),
            _ => format!("{origin}-{}", rng.pick(&["dev", "doc", "openrc", "common", "utils"])),
        };
        if apk_picked.insert(name.clone()) {
            apk.push((origin, name));
        }
    }
    while apk.len() < APK_QUERIES {
        let origin = format!(
            "{}{}",
            rng.pick(&["font-", "py3-", "perl-", "", "lib", "ruby-", "x"]),
            rng.pick(NAME_WORDS).replace('.', "")
        ) + &rng.range(0, 99).to_string();
        if alpine_names.contains(&origin) {
            continue;
        }
        let name = if rng.chance(0.5) {
            origin.clone()
        } else {
            format!("{origin}-libs")
        };
        if apk_picked.insert(name.clone()) {
            apk.push((origin, name));
        }
    }
    for i in (1..apk.len()).rev() {
        let j = rng.below(i + 1);
        apk.swap(i, j);
    }
    let queries = Queries {
        npm,
        npm_hits: hits,
        apk,
        apk_hits,
    };
    fs::write(root.join("queries.json"), serde_json::to_vec(&queries)?)?;

    let d = Dataset {
        gen_version: GEN_VERSION,
        scale,
        mal,
        ghsa,
        alpine,
        npm_zip,
        alpine_zip,
    };
    fs::write(&stamp, serde_json::to_vec_pretty(&d)?)?;
    eprintln!("generated in {:.1} s", start.elapsed().as_secs_f64());
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// The floor: every record parsed straight from the zips.

struct Floor {
    secs: f64,
    records: usize,
}

fn parse_from_zips(zips: &[PathBuf], parse: bool) -> io::Result<Floor> {
    let start = Instant::now();
    let mut records = 0;
    let mut bytes = Vec::new();
    for path in zips {
        // Like `db::read_zip`: a plain `File`, one reused buffer.
        let mut archive = zip::ZipArchive::new(File::open(path)?).map_err(io::Error::other)?;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(io::Error::other)?;
            bytes.clear();
            entry.read_to_end(&mut bytes)?;
            if parse {
                let record = Record::from_json(&bytes).map_err(io::Error::other)?;
                std::hint::black_box(&record);
            } else {
                std::hint::black_box(&bytes);
            }
            records += 1;
        }
    }
    Ok(Floor {
        secs: start.elapsed().as_secs_f64(),
        records,
    })
}

// ---------------------------------------------------------------------------------------------
// Children.

fn self_rusage() -> libc::rusage {
    // SAFETY: rusage is plain old data; an all-zero value is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage
}

/// Evicts `path` from the page cache (clean pages of a file nobody maps).
fn drop_page_cache(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    // SAFETY: a valid open descriptor; offset 0, length 0 means the whole file.
    let r = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

/// What a lookup child reports.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Default)]
struct LookupRun {
    /// From before `Index::open` to after the last lookup: the headline figure.
    total_ms: f64,
    open_ms: f64,
    npm_ms: f64,
    apk_ms: f64,
    /// After that, `by_id` for every id of every record found (not in `total_ms`).
    by_id_ms: f64,
    /// Index lookups (package keys) and `by_id` calls made.
    lookups: usize,
    by_id: usize,
    /// Queried packages with at least one record.
    npm_hits: usize,
    apk_hits: usize,
    /// Records parsed by the lookups, and by the `by_id` calls.
    records: usize,
    by_id_records: usize,
    /// Bytes of `details` in the records the lookups parsed.
    details_bytes: usize,
    /// Page faults during `total_ms`.
    major_faults: i64,
    minor_faults: i64,
    /// The parent's wall time for the whole child process (exec to exit).
    process_ms: f64,
}

/// `--lookup-child INDEX QUERIES [--drop-cache]`: one cold open and the lookups of a scan.
fn lookup_child(args: &[String]) -> io::Result<()> {
    let [index_path, queries, rest @ ..] = args else {
        return Err(io::Error::other("usage: --lookup-child INDEX QUERIES [--drop-cache]"));
    };
    let index_path = Path::new(index_path);
    let queries: Queries = serde_json::from_slice(&fs::read(queries)?)?;
    if rest.iter().any(|a| a == "--drop-cache") {
        drop_page_cache(index_path)?;
    }
    let mut run = LookupRun::default();
    let mut ids: Vec<String> = Vec::new();
    let mut found = |records: Vec<Record>, run: &mut LookupRun| -> bool {
        for r in &records {
            run.records += 1;
            run.details_bytes += r.details.as_ref().map_or(0, String::len);
            ids.extend(std::iter::once(&r.id).chain(&r.aliases).chain(&r.upstream).cloned());
        }
        !std::hint::black_box(records).is_empty()
    };
    let before = self_rusage();
    let start = Instant::now();

    let index = Index::open(index_path).map_err(io::Error::other)?;
    let source: &dyn Advisories = &index;
    // What `scan` does first: hint every lookup to come, so a cold disk reads them together.
    let eco = Ecosystem::alpine(QUERY_BRANCH);
    let mut hints: Vec<(Ecosystem, String, String)> = queries
        .npm
        .iter()
        .map(|n| (Ecosystem::Npm, n.clone(), String::new()))
        .collect();
    for (origin, name) in &queries.apk {
        hints.push((eco.clone(), origin.clone(), String::new()));
        hints.push((eco.clone(), name.clone(), String::new()));
    }
    let hints: Vec<(&Ecosystem, &str)> = hints.iter().map(|(e, n, _)| (e, n.as_str())).collect();
    source.prefetch(&hints);
    let opened = Instant::now();
    for name in &queries.npm {
        let records = source.lookup(&Ecosystem::Npm, name).map_err(io::Error::other)?;
        run.lookups += 1;
        if found(records, &mut run) {
            run.npm_hits += 1;
        }
    }
    let npm_done = Instant::now();
    if !source.covers(&eco) {
        return Err(io::Error::other(format!("the index does not cover {eco}")));
    }
    for (origin, name) in &queries.apk {
        let mut hit = false;
        // Like `scan`: the origin first, then the package's own name when different.
        let names = if origin == name {
            vec![origin]
        } else {
            vec![origin, name]
        };
        for n in names {
            let records = source.lookup(&eco, n).map_err(io::Error::other)?;
            run.lookups += 2; // the branch, and bare `Alpine`
            hit |= found(records, &mut run);
        }
        if hit {
            run.apk_hits += 1;
        }
    }
    let end = Instant::now();
    let after = self_rusage();

    // Not in the headline: `scan` calls `by_id` for the ids of each *matched* finding (to
    // borrow a severity); doing it for every record found is an upper bound.
    for id in &ids {
        let more = source.by_id(id).map_err(io::Error::other)?;
        run.by_id += 1;
        run.by_id_records += std::hint::black_box(more).len();
    }
    run.by_id_ms = end.elapsed().as_secs_f64() * 1e3;
    run.total_ms = (end - start).as_secs_f64() * 1e3;
    run.open_ms = (opened - start).as_secs_f64() * 1e3;
    run.npm_ms = (npm_done - opened).as_secs_f64() * 1e3;
    run.apk_ms = (end - npm_done).as_secs_f64() * 1e3;
    run.major_faults = after.ru_majflt - before.ru_majflt;
    run.minor_faults = after.ru_minflt - before.ru_minflt;
    println!("{}", serde_json::to_string(&run)?);
    Ok(())
}

/// One lookup child, started by the launcher; it writes its [`LookupRun`] to `out`.
fn run_lookup_child(
    launcher: &mut Launcher,
    index: &Path,
    queries: &Path,
    drop_cache: bool,
    out: &Path,
) -> io::Result<LookupRun> {
    let exe = std::env::current_exe()?;
    let mut argv = vec![
        exe.display().to_string(),
        "--lookup-child".into(),
        index.display().to_string(),
        queries.display().to_string(),
    ];
    if drop_cache {
        argv.push("--drop-cache".into());
    }
    let log = out.with_extension("log");
    let s = launcher.measure(Spec::new(argv).stdout(out).stderr(&log))?;
    if s.code != 0 {
        let log = fs::read_to_string(&log).unwrap_or_default();
        return Err(io::Error::other(format!(
            "lookup child failed (exit {}):\n{log}",
            s.code
        )));
    }
    let mut run: LookupRun = serde_json::from_slice(&fs::read(out)?)?;
    run.process_ms = s.wall * 1e3;
    Ok(run)
}

// ---------------------------------------------------------------------------------------------
// Reporting.

/// The section sizes of an index, from its footer (`…footer JSON, u64 length, b"IGDBEND1"`).
fn index_sections(path: &Path) -> Option<String> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path).ok()?;
    let n = file.metadata().ok()?.len();
    let mut tail = [0u8; 16];
    file.seek(SeekFrom::Start(n.checked_sub(16)?)).ok()?;
    file.read_exact(&mut tail).ok()?;
    let len = u64::from_le_bytes(tail[..8].try_into().ok()?);
    let mut json = vec![0u8; usize::try_from(len).ok()?];
    file.seek(SeekFrom::Start(n.checked_sub(16 + len)?)).ok()?;
    file.read_exact(&mut json).ok()?;
    let footer: Value = serde_json::from_slice(&json).ok()?;
    let mut parts = Vec::new();
    let mut data_end = n;
    for name in ["table", "packages", "ids", "strings", "postings"] {
        let off = footer.get(name)?.get(0)?.as_u64()?;
        let size = footer.get(name)?.get(1)?.as_u64()?;
        data_end = data_end.min(off);
        parts.push(format!("{name} {:.1} MB", mb(size)));
    }
    Some(format!("records (JSON) {:.1} MB, {}", mb(data_end), parts.join(", ")))
}

/// `read_ahead_kb` of the block device holding `path` (the whole disk's, for a partition).
fn read_ahead_kb(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata(path).ok()?.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let base = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    [base.join("queue/read_ahead_kb"), base.join("../queue/read_ahead_kb")]
        .iter()
        .find_map(|p| fs::read_to_string(p).ok()?.trim().parse().ok())
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(launcher) = common::launcher_main() {
        return launcher;
    }
    if args.get(1).map(String::as_str) == Some("--lookup-child") {
        return lookup_child(&args[2..]);
    }
    // `cargo test --benches` (or `--all-targets`) must not spend a minute generating 300,000
    // records.
    if !common::is_bench_run() {
        println!("advisory benchmark: skipped (run it with `cargo bench --bench advisory`)");
        return Ok(());
    }
    // First, while this process is small (see `common`).
    let mut launcher = Launcher::start()?;
    let reps = (env_f64("IMAGEGATE_BENCH_REPS", 10.0) as usize).max(1);
    let scale = env_f64("IMAGEGATE_BENCH_SCALE", 1.0).clamp(0.001, 10.0);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_imagegate"));
    // target/<profile>/imagegate -> target/bench-advisory
    let mut root = bin
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("bench-advisory");
    if scale != 1.0 {
        root = root.join(format!("scale-{scale}"));
    }
    fs::create_dir_all(&root)?;
    println!(
        "imagegate advisory benchmark: {} ({} cores), scale {scale}, {reps} lookup runs per variant, data in {}",
        bin.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        root.display()
    );
    let data = generate(&root, scale)?;
    let zips = [root.join("npm/all.zip"), root.join("Alpine/all.zip")];
    let queries = root.join("queries.json");
    let db = root.join("db");
    let index_path = db.join(INDEX_FILE);

    // 1. The floor, warm page cache (read the zips once first).
    for z in &zips {
        io::copy(&mut File::open(z)?, &mut io::sink())?;
    }
    let inflate = parse_from_zips(&zips, false)?;
    let floors = [parse_from_zips(&zips, true)?, parse_from_zips(&zips, true)?];
    let floor = floors.iter().map(|f| f.secs).fold(f64::INFINITY, f64::min);
    let floor_records = floors[0].records;

    // 2. The import, in a child started by the launcher.
    let log = root.join("import.log");
    let mut argv = vec![bin.display().to_string(), "db".into(), "import".into()];
    argv.extend(zips.iter().map(|z| z.display().to_string()));
    argv.extend(["--db".into(), db.display().to_string(), "--replace".into()]);
    let import = launcher.measure(Spec::new(argv).stdout(&log).stderr(&log))?;
    let import_log = fs::read_to_string(&log).unwrap_or_default();
    if import.code != 0 {
        return Err(io::Error::other(format!("import failed:\n{import_log}")));
    }
    let (import_wall, import_cpu, import_rss_kib) = (import.wall, import.cpu, import.rss_kib as f64);
    let import_rss_mb = import_rss_kib / 1024.0;
    let index_size = fs::metadata(&index_path)?.len();
    let meta = Index::open(&index_path).map_err(io::Error::other)?.meta().clone();

    // 3. Cold open + lookups: fresh processes, warm page cache first, then dropped.
    let mut warm = Vec::new();
    let mut cold = Vec::new();
    let child_out = root.join("lookup-child.json");
    let mut lookup = |drop_cache| run_lookup_child(&mut launcher, &index_path, &queries, drop_cache, &child_out);
    let _ = lookup(false)?; // warm-up: the binary itself
    for _ in 0..reps {
        warm.push(lookup(false)?);
    }
    for _ in 0..reps {
        cold.push(lookup(true)?);
    }
    let totals = |runs: &[LookupRun]| runs.iter().map(|r| r.total_ms).collect::<Vec<_>>();
    let (warm_med, warm_max) = (median(&totals(&warm)), max(&totals(&warm)));
    let (cold_med, cold_max) = (median(&totals(&cold)), max(&totals(&cold)));
    let ratio = warm_med / 1e3 / floor;
    let ratio_cold = cold_med / 1e3 / floor;

    // 4. The table.
    let q: Queries = serde_json::from_slice(&fs::read(&queries)?)?;
    let r0 = warm[0];
    println!();
    println!("{:<44} {:>22}   target", "", "");
    let row = |label: &str, value: String, target: &str| println!("{label:<44} {value:>22}   {target}");
    row(
        "records: npm MAL / npm GHSA / Alpine",
        format!("{} / {} / {}", data.mal, data.ghsa, data.alpine),
        "",
    );
    row(
        "npm/all.zip (uncompressed)",
        format!(
            "{:.1} MB ({:.1} MB)",
            mb(data.npm_zip.compressed),
            mb(data.npm_zip.uncompressed)
        ),
        "",
    );
    row(
        "Alpine/all.zip (uncompressed)",
        format!(
            "{:.1} MB ({:.1} MB)",
            mb(data.alpine_zip.compressed),
            mb(data.alpine_zip.uncompressed)
        ),
        "",
    );
    row(
        "index size (records indexed)",
        format!("{:.1} MB ({})", mb(index_size), meta.records),
        "",
    );
    row(
        "parse from zip, floor (best of 2)",
        format!("{:.3} s", floor),
        &format!("({} records; inflate alone {:.3} s)", floor_records, inflate.secs),
    );
    row(
        "import wall time",
        format!("{import_wall:.3} s"),
        &format!("(CPU {import_cpu:.2} s)"),
    );
    row(
        "import peak RSS",
        format!("{import_rss_mb:.1} MB"),
        &format!("<= {TARGET_RSS_MB:.0} MB  {}", verdict(import_rss_mb, TARGET_RSS_MB)),
    );
    row(
        "cold open+lookup, warm cache: median / max",
        format!("{warm_med:.2} / {warm_max:.2} ms"),
        &format!(
            "<= {TARGET_MS:.0} ms  {} / {}",
            verdict(warm_med, TARGET_MS),
            verdict(warm_max, TARGET_MS)
        ),
    );
    row(
        "cold open+lookup, dropped cache: med / max",
        format!("{cold_med:.2} / {cold_max:.2} ms"),
        &format!(
            "<= {TARGET_MS:.0} ms  {} / {}",
            verdict(cold_med, TARGET_MS),
            verdict(cold_max, TARGET_MS)
        ),
    );
    row(
        "ratio lookup/parse, warm cache (median)",
        format!("{ratio:.5} (1/{:.0})", 1.0 / ratio),
        &format!("<= {TARGET_RATIO}  {}", verdict(ratio, TARGET_RATIO)),
    );
    row(
        "ratio lookup/parse, dropped cache (median)",
        format!("{ratio_cold:.5} (1/{:.0})", 1.0 / ratio_cold),
        &format!("<= {TARGET_RATIO}  {}", verdict(ratio_cold, TARGET_RATIO)),
    );
    println!();
    println!(
        "lookups per run: {} npm names ({} hit, {} expected) + {} apk packages on Alpine:{QUERY_BRANCH} ({} hit, {} expected) \
         = {} index lookups; {} records parsed ({:.0} KB of details)",
        q.npm.len(),
        r0.npm_hits,
        q.npm_hits,
        q.apk.len(),
        r0.apk_hits,
        q.apk_hits,
        r0.lookups,
        r0.records,
        r0.details_bytes as f64 / 1024.0
    );
    for (label, runs) in [("warm cache", &warm), ("dropped cache", &cold)] {
        let col = |f: fn(&LookupRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        println!(
            "{label:>13}: median open {:.2} ms, npm {:.2} ms, apk {:.2} ms; page faults major {:.0} minor {:.0}; \
             whole child process (exec to exit, by_id phase included) {:.1} ms",
            col(|r| r.open_ms),
            col(|r| r.npm_ms),
            col(|r| r.apk_ms),
            col(|r| r.major_faults as f64),
            col(|r| r.minor_faults as f64),
            col(|r| r.process_ms),
        );
        println!(
            "{:>13}  total ms {:?}",
            "",
            totals(runs)
                .iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
        println!(
            "{:>13}  then, not in total: by_id for every id of every record found ({} calls, {} records): median {:.2} ms",
            "",
            r0.by_id,
            r0.by_id_records,
            col(|r| r.by_id_ms),
        );
    }
    let faults = median(&cold.iter().map(|r| r.major_faults as f64).collect::<Vec<_>>());
    if faults > 0.0 {
        println!(
            "dropped cache costs {:.1} ms more for {faults:.0} major faults: {:.2} ms per fault on this disk",
            cold_med - warm_med,
            (cold_med - warm_med) / faults
        );
    }
    if let Some(kb) = read_ahead_kb(&index_path) {
        println!(
            "read-ahead of the disk holding the index: {kb} KB (a major fault on a mapping reads up to that much around the page)"
        );
    }
    if let Some(sections) = index_sections(&index_path) {
        println!("index sections: {sections}");
    }
    println!(
        "\nThe open is cold for each process (fresh exec, fresh mmap); with a warm page cache the index pages \
         are still in memory (minor faults only). \"dropped cache\" first evicts the index file with \
         posix_fadvise(DONTNEED), so its pages come from disk (major faults). Peak RSS is ru_maxrss of the \
         import child (MB = 2^20 bytes); `db update` downloads the same zips and runs this import. Targets are \
         information only; nothing is asserted."
    );
    print!("\nimport said:\n{import_log}");
    Ok(())
}
