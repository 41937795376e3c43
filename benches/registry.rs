//! Registry benchmark: what the layer cache and the audit's sharing buy.
//!
//! ```text
//! cargo bench --bench registry            # needs docker-registry (scripts/test.sh installs it)
//! IMAGEGATE_BENCH_BASE_MB=100 IMAGEGATE_BENCH_TAGS=20 cargo bench --bench registry
//! ```
//!
//! It starts Debian's `docker-registry` on a free 127.0.0.1 port and pushes TAGS images that
//! share one BASE_MB base layer (an Alpine-like root plus generated files, gzip level 6), each
//! with a small layer of its own. Then, with the release binary:
//!
//! * cold: `imagegate inventory` of one tag with an empty layer cache (median of 3);
//! * cached: the same with the cache that run left (median of 5) — target ≤ 0.05 × cold;
//! * separate: TAGS cold scans one after the other, each with its own empty cache;
//! * audit: `imagegate audit --concurrency 4` of all TAGS with one empty cache — target ≤ 0.2 ×
//!   separate;
//! * peak RSS (`wait4` rusage) of that audit against one cold scan — target ≤ 4×.
//!
//! Ratios are measured in one run; nothing is asserted (the machine is shared and noisy).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
#![allow(unsafe_code)] // the launcher measures child processes with wait4 and drops page caches

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use support::registry::Registry;
use support::{Compression, ImageSpec, Layer, demo_base_layer};

struct Sample {
    seconds: f64,
    max_rss_kib: i64,
    code: i32,
}

/// Runs `argv` and measures its wall time and peak RSS (`wait4` on the child itself).
fn run_measured(argv: &[String]) -> Sample {
    let started = Instant::now();
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("imagegate starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for the child we spawned and
    // have not waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage are valid for writes.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let seconds = started.elapsed().as_secs_f64();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    std::mem::forget(child);
    Sample {
        seconds,
        max_rss_kib: usage.ru_maxrss,
        code,
    }
}

/// Children are started by a small launcher process forked before the images are built: a
/// child spawned from this (large) process would inherit its resident size as its own peak
/// (Linux carries `maxrss` across exec), and every RSS would read as the bench's own.
struct Launcher {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl Launcher {
    fn start() -> Launcher {
        let exe = std::env::current_exe().expect("bench executable");
        let mut child = Command::new(exe)
            .arg("--launcher")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("launcher starts");
        let input = child.stdin.take().expect("stdin");
        let output = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Launcher { child, input, output }
    }

    fn measure(&mut self, argv: &[&str]) -> Sample {
        use std::io::{BufRead, Write};
        writeln!(self.input, "{}", serde_json::to_string(argv).expect("json")).expect("to launcher");
        let mut line = String::new();
        self.output.read_line(&mut line).expect("from launcher");
        let v: Vec<f64> = serde_json::from_str(&line).expect("launcher answer");
        Sample {
            seconds: v[0],
            max_rss_kib: v[1] as i64,
            code: v[2] as i32,
        }
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The launcher's loop: one JSON argv per line in, `[seconds, max_rss_kib, code]` out.
fn launcher() {
    use std::io::{BufRead, Write};
    let mut out = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let argv: Vec<String> = serde_json::from_str(&line).expect("argv");
        let s = run_measured(&argv);
        let _ = writeln!(out, "[{}, {}, {}]", s.seconds, s.max_rss_kib, s.code);
        let _ = out.flush();
    }
}

/// Deterministic filler: pseudo-random bytes and repeated text.
fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // About a third of the bytes random: gzip shrinks the layer ~2.5×, like real binaries
        // and bundled JavaScript.
        if !(x >> 59).is_multiple_of(5) {
            out.extend_from_slice(&x.to_le_bytes());
        } else {
            out.extend_from_slice(b"export function render(props) { return props.children; }\n");
        }
    }
    out.truncate(len);
    out
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn verdict(value: f64, target: f64) -> &'static str {
    if value <= target { "PASS" } else { "OVER" }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--launcher") {
        return launcher();
    }
    // `cargo test` runs bench targets too (with --bench absent): skip quietly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut launch = Launcher::start();
    let base_mb = env_usize("IMAGEGATE_BENCH_BASE_MB", 100);
    let tags = env_usize("IMAGEGATE_BENCH_TAGS", 20);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_imagegate"));
    let work = tempfile::tempdir().expect("temp dir");

    eprintln!("building a {base_mb} MB base layer and {tags} images…");
    let mut base = demo_base_layer();
    for i in 0..base_mb {
        base = base.file(&format!("usr/lib/bench/blob-{i:04}.bin"), filler(i as u64 + 1, 1 << 20));
    }
    let registry = Registry::start();
    let mut first = None;
    for t in 0..tags {
        let img = ImageSpec::new()
            .layer(base.clone(), Compression::Gzip, "ADD rootfs.tar /")
            .layer(
                Layer::new().file(
                    "app/package.json",
                    format!(r#"{{"name":"app-{t}","version":"1.0.{t}"}}"#),
                ),
                Compression::Gzip,
                "COPY . /app",
            )
            .user("1001")
            .healthcheck(&["CMD", "true"])
            .build();
        if first.is_none() {
            eprintln!(
                "base blob: {:.1} MB compressed, {:.1} MB uncompressed",
                img.layers[0].blob.len() as f64 / 1e6,
                img.layers[0].tar_len as f64 / 1e6
            );
        }
        registry.push("bench/app", Some(&format!("1.0.{t}")), &img);
        first.get_or_insert(img);
    }
    let image = format!("{}/bench/app:1.0.0", registry.addr());

    let db = work.path().join("db");
    let root = support::repo_root();
    let bin = bin.display().to_string();
    let path = |p: &Path| p.display().to_string();
    let (npm, alpine) = (
        path(&root.join("testdata/osv/npm")),
        path(&root.join("testdata/osv/alpine")),
    );
    let s = launch.measure(&[&bin, "db", "import", "--db", &path(&db), &npm, &alpine]);
    assert_eq!(s.code, 0, "db import");

    let fresh = |name: &str| work.path().join(name).display().to_string();
    let mut scan = |cache: &str, image: &str| {
        launch.measure(&[&bin, "inventory", image, "--format", "json", "--cache-dir", cache])
    };

    let mut cold = Vec::new();
    let mut cold_rss = 0;
    for rep in 0..3 {
        let s = scan(&fresh(&format!("cold-{rep}")), &image);
        assert_eq!(s.code, 0, "cold scan");
        cold.push(s.seconds);
        cold_rss = cold_rss.max(s.max_rss_kib);
    }
    let mut cached = Vec::new();
    for _ in 0..5 {
        let s = scan(&fresh("cold-0"), &image);
        assert_eq!(s.code, 0, "cached scan");
        cached.push(s.seconds);
    }
    let (cold, cached) = (median(cold), median(cached));

    let mut separate = 0.0;
    for t in 0..tags {
        let s = scan(
            &fresh(&format!("separate-{t}")),
            &format!("{}/bench/app:1.0.{t}", registry.addr()),
        );
        assert_eq!(s.code, 0, "separate scan");
        separate += s.seconds;
    }
    let (out, audit_cache) = (fresh("audit-out"), fresh("audit-cache"));
    let audit = launch.measure(&[
        &bin,
        "audit",
        registry.addr(),
        "--concurrency",
        "4",
        "--db",
        &path(&db),
        "--out",
        &out,
        "--cache-dir",
        &audit_cache,
    ]);
    assert!(audit.code == 0 || audit.code == 1, "audit exit {}", audit.code);

    let rescan_ratio = cached / cold;
    let audit_ratio = audit.seconds / separate;
    let rss_ratio = audit.max_rss_kib as f64 / cold_rss as f64;
    println!("registry benchmark: {tags} tags sharing a {base_mb} MB base layer");
    println!(
        "  cold scan            {:>8.3} s   rss {:>6.1} MB",
        cold,
        cold_rss as f64 / 1024.0
    );
    println!(
        "  cached re-scan       {:>8.3} s   ratio {:.3} (target ≤ 0.05) {}",
        cached,
        rescan_ratio,
        verdict(rescan_ratio, 0.05)
    );
    println!("  {tags} separate scans  {:>8.3} s", separate);
    println!(
        "  audit --concurrency 4 {:>7.3} s   ratio {:.3} (target ≤ 0.2) {}",
        audit.seconds,
        audit_ratio,
        verdict(audit_ratio, 0.2)
    );
    println!(
        "  audit peak rss       {:>8.1} MB  ratio {:.2} × one scan (target ≤ 4) {}",
        audit.max_rss_kib as f64 / 1024.0,
        rss_ratio,
        verdict(rss_ratio, 4.0)
    );
}
