//! Registry benchmark: what the layer cache and the audit's sharing buy.
//!
//! ```text
//! cargo bench --bench registry            # needs docker-registry (scripts/test.sh installs it)
//! IMAGEGATE_BENCH_BASE_MB=100 IMAGEGATE_BENCH_TAGS=20 cargo bench --bench registry
//! IMAGEGATE_BENCH_HOLD=600 cargo bench --bench registry   # keep the registry up to profile by hand
//! ```
//!
//! It starts Debian's `docker-registry` on a free 127.0.0.1 port and pushes TAGS images that
//! share one BASE_MB base layer (an Alpine-like root plus generated files, gzip level 6), each
//! with a small layer of its own. Then, with the release binary:
//!
//! * cold: `imagegate inventory` of one tag with an empty layer cache;
//! * cached: the same with the cache the first cold run left — target ≤ 0.03 × cold; cold and
//!   cached runs interleaved, medians of `IMAGEGATE_BENCH_REPS` (default 5, at least 3);
//! * the same pair for a one-layer image shaped like a Node image: `IMAGEGATE_BENCH_FILES`
//!   packages (default 20,000) of a package.json and a 5 KB module each, ~100 MB — the bytes
//!   in many small files, where a cached re-scan still reads and merges a walk per file;
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

mod common;

use common::{Launcher, Sample, Spec, env_usize, median, verdict};
use std::path::{Path, PathBuf};
use support::registry::Registry;
use support::{Compression, ImageSpec, Layer, demo_base_layer};

/// Cached re-scan ÷ cold scan at 100 MB (issue 13).
const TARGET_RESCAN: f64 = 0.03;

/// Runs `argv` through the launcher, output discarded.
fn measure(launcher: &mut Launcher, argv: &[&str]) -> Sample {
    launcher
        .measure(Spec::new(argv))
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
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

/// `imagegate inventory IMAGE` with the layer cache in `cache`.
fn scan(launcher: &mut Launcher, bin: &str, image: &str, cache: &str) -> Sample {
    measure(
        launcher,
        &[bin, "inventory", image, "--format", "json", "--cache-dir", cache],
    )
}

/// Cold and cached scans of `image` interleaved (the first cold run fills the cache the cached
/// runs use), so load from other work hits both alike: their medians and the cold runs' peak
/// RSS (KiB). `dir(name)` is a fresh directory path.
fn cold_and_cached(
    launcher: &mut Launcher,
    bin: &str,
    image: &str,
    dir: &dyn Fn(&str) -> String,
    reps: usize,
) -> (f64, f64, u64) {
    let (mut cold, mut cached, mut rss) = (Vec::new(), Vec::new(), 0);
    for rep in 0..reps {
        let s = scan(launcher, bin, image, &dir(&format!("cold-{rep}")));
        assert_eq!(s.code, 0, "cold scan of {image}");
        cold.push(s.wall);
        rss = rss.max(s.rss_kib);
        let s = scan(launcher, bin, image, &dir("cold-0"));
        assert_eq!(s.code, 0, "cached scan of {image}");
        cached.push(s.wall);
    }
    (median(&cold), median(&cached), rss)
}

fn main() {
    if let Some(launcher) = common::launcher_main() {
        return launcher.expect("the launcher");
    }
    // `cargo test` runs bench targets too (with --bench absent): skip quietly then.
    if !common::is_bench_run() {
        return;
    }
    // First, while this process is small (see `common`).
    let mut launch = Launcher::start().expect("the launcher starts");
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
    // A knob for profiling: the registry stays up this long with the images pushed, for
    // `perf` or `hyperfine` of a re-scan by hand (`--cache-dir` of your own).
    if let Some(secs) = std::env::var("IMAGEGATE_BENCH_HOLD").ok().and_then(|s| s.parse().ok()) {
        eprintln!("holding {image} for {secs} s");
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }

    let db = work.path().join("db");
    let root = support::repo_root();
    let bin = bin.display().to_string();
    let path = |p: &Path| p.display().to_string();
    let (npm, alpine) = (
        path(&root.join("testdata/osv/npm")),
        path(&root.join("testdata/osv/alpine")),
    );
    let s = measure(&mut launch, &[&bin, "db", "import", "--db", &path(&db), &npm, &alpine]);
    assert_eq!(s.code, 0, "db import");

    let fresh = |name: &str| work.path().join(name).display().to_string();
    // Medians of REPS (at least 3).
    let reps = env_usize("IMAGEGATE_BENCH_REPS", 5).max(3);
    let (cold, cached, cold_rss) = cold_and_cached(&mut launch, &bin, &image, &fresh, reps);

    let mut separate = 0.0;
    for t in 0..tags {
        let s = scan(
            &mut launch,
            &bin,
            &format!("{}/bench/app:1.0.{t}", registry.addr()),
            &fresh(&format!("separate-{t}")),
        );
        assert_eq!(s.code, 0, "separate scan");
        separate += s.wall;
    }
    let (out, audit_cache) = (fresh("audit-out"), fresh("audit-cache"));
    let audit = measure(
        &mut launch,
        &[
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
        ],
    );
    assert!(audit.code == 0 || audit.code == 1, "audit exit {}", audit.code);

    // The same measure on the shape a Node image has (pushed after the audit, which audits
    // the whole registry): the bytes in many small files (a
    // `node_modules` of FILES packages, a package.json and a ~5 KB module each), where a
    // re-scan reads and merges a walk per file instead of downloading the layer.
    let files = env_usize("IMAGEGATE_BENCH_FILES", 20_000);
    let mut modules = demo_base_layer();
    for i in 0..files {
        let dir = format!("app/node_modules/pkg-{i:05}");
        modules = modules
            .file(
                &format!("{dir}/package.json"),
                format!(r#"{{"name":"pkg-{i:05}","version":"1.{}.0"}}"#, i % 50),
            )
            .file(&format!("{dir}/index.js"), filler(i as u64 + 7, 5 << 10));
    }
    let node = ImageSpec::new()
        .layer(modules, Compression::Gzip, "COPY node_modules /app/node_modules")
        .user("1001")
        .healthcheck(&["CMD", "true"])
        .build();
    eprintln!(
        "node-shaped blob: {files} packages, {:.1} MB compressed, {:.1} MB uncompressed",
        node.layers[0].blob.len() as f64 / 1e6,
        node.layers[0].tar_len as f64 / 1e6
    );
    registry.push("bench/node", Some("1"), &node);
    let node_image = format!("{}/bench/node:1", registry.addr());
    let node_dir = |name: &str| fresh(&format!("node-{name}"));
    let (node_cold, node_cached, _) = cold_and_cached(&mut launch, &bin, &node_image, &node_dir, reps);

    let rescan_ratio = cached / cold;
    let audit_ratio = audit.wall / separate;
    let rss_ratio = audit.rss_kib as f64 / cold_rss as f64;
    println!("registry benchmark: {tags} tags sharing a {base_mb} MB base layer");
    println!(
        "  cold scan            {:>8.3} s   rss {:>6.1} MB",
        cold,
        cold_rss as f64 / 1024.0
    );
    println!(
        "  cached re-scan       {:>8.3} s   ratio {:.3} (target ≤ {TARGET_RESCAN}) {}",
        cached,
        rescan_ratio,
        verdict(rescan_ratio, TARGET_RESCAN)
    );
    let node_ratio = node_cached / node_cold;
    println!(
        "  node-shaped ({files} packages): cold {:.3} s, cached {:.3} s   ratio {:.3} (target ≤ {TARGET_RESCAN}) {}",
        node_cold,
        node_cached,
        node_ratio,
        verdict(node_ratio, TARGET_RESCAN)
    );
    println!("  {tags} separate scans  {:>8.3} s", separate);
    println!(
        "  audit --concurrency 4 {:>7.3} s   ratio {:.3} (target ≤ 0.2) {}",
        audit.wall,
        audit_ratio,
        verdict(audit_ratio, 0.2)
    );
    println!(
        "  audit peak rss       {:>8.1} MB  ratio {:.2} × one scan (target ≤ 4) {}",
        audit.rss_kib as f64 / 1024.0,
        rss_ratio,
        verdict(rss_ratio, 4.0)
    );
}
