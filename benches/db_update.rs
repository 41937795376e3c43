//! `db update` of a dump the size of OSV's npm one: the time, and the peak memory of the
//! update, which must stay under 1 GiB (`db::read_zip` reuses one inflater for that reason: a
//! new one per entry fragmented the heap, 2.2 GiB at 100k records).
//!
//! ```text
//! cargo bench --bench db_update
//! IMAGEGATE_BENCH_RECORDS=50000 cargo bench --bench db_update     # default 200,000 records
//! ```
//!
//! A deterministic `npm/all.zip` of MAL-like records with ~1.5 KB of details each is served by
//! the tests' HTTP server (`tests/it/support/http.rs`) on 127.0.0.1, and
//! `imagegate db update --ecosystem npm --mirror URL --db DIR` runs against it in a child
//! started by the launcher of `benches/common` (wall time, CPU time, `wait4` peak RSS). This
//! was an `#[ignore]`d test; it is a measurement, not coverage, so it lives here. The 1 GiB
//! target is reported as PASS/OVER; a failed update is an error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
#![allow(unsafe_code)] // the launcher measures child processes with wait4 and drops page caches

#[allow(dead_code)]
#[path = "../tests/it/support/http.rs"]
mod http;

mod common;

use common::{Launcher, Spec, env_usize, mb, mib, verdict};
use std::io::{self, Write};
use std::path::PathBuf;

const TARGET_RSS_MB: f64 = 1024.0;

/// The dump: `n` records and the bytes of JSON in it.
fn dump(n: usize) -> io::Result<(Vec<u8>, usize)> {
    let mut seed: u64 = 42;
    let mut noise = |len: usize| {
        (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                char::from(b"abcdefghijklmnopqrstuvwxyz0123456789 "[(seed >> 33) as usize % 37])
            })
            .collect::<String>()
    };
    let mut buf = io::Cursor::new(Vec::new());
    let mut raw = 0usize;
    let mut w = zip::ZipWriter::new(&mut buf);
    for i in 0..n {
        let rec = serde_json::json!({
            "id": format!("MAL-2024-{i}"),
            "modified": format!("2024-{:02}-{:02}T00:00:00Z", 1 + i % 12, 1 + i % 28),
            "published": "2024-01-01T00:00:00Z",
            "summary": format!("Malicious code in pkg-{i} (npm)"),
            "details": noise(1500),
            "affected": [{"package": {"ecosystem": "npm", "name": format!("pkg-{i}")},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}],
            "references": [{"type": "WEB", "url": format!("https://example.invalid/{}", noise(40))}]
        });
        let bytes = serde_json::to_vec(&rec)?;
        raw += bytes.len();
        w.start_file(format!("MAL-2024-{i}.json"), zip::write::SimpleFileOptions::default())
            .map_err(io::Error::other)?;
        w.write_all(&bytes)?;
    }
    w.finish().map_err(io::Error::other)?;
    Ok((buf.into_inner(), raw))
}

fn main() -> io::Result<()> {
    if let Some(launcher) = common::launcher_main() {
        return launcher;
    }
    // `cargo test --benches` (or `--all-targets`) must not spend a minute building the dump.
    if !common::is_bench_run() {
        println!("db_update benchmark: skipped (run it with `cargo bench --bench db_update`)");
        return Ok(());
    }
    // First, while this process is small (see `common`).
    let mut launcher = Launcher::start()?;
    let n = env_usize("IMAGEGATE_BENCH_RECORDS", 200_000).max(1);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_imagegate"));
    eprintln!("building a dump of {n} records…");
    let (zip, raw) = dump(n)?;
    let zip_len = zip.len() as u64;
    let server = http::HttpServer::start();
    server.put("/npm/all.zip", zip);
    let tmp = tempfile::tempdir()?;
    let db = tmp.path().join("db");
    let log = tmp.path().join("update.log");
    let spec = Spec::new([
        bin.display().to_string(),
        "db".into(),
        "update".into(),
        "--ecosystem".into(),
        "npm".into(),
        "--mirror".into(),
        server.url().to_string(),
        "--db".into(),
        db.display().to_string(),
    ])
    .stdout(&log)
    .stderr(&log);
    let s = launcher.measure(spec)?;
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    if s.code != 0 {
        return Err(io::Error::other(format!("db update exited {}:\n{said}", s.code)));
    }
    let peak = mib(s.rss_kib);
    println!(
        "db update of {n} records ({:.0} MiB of JSON, zip {:.0} MiB) from 127.0.0.1: {:.2} s wall, {:.2} s CPU, \
         peak RSS {peak:.0} MiB (target <= {TARGET_RSS_MB:.0} MiB) {}",
        mb(raw as u64),
        mb(zip_len),
        s.wall,
        s.cpu,
        verdict(peak, TARGET_RSS_MB)
    );
    print!("update said:\n{said}");
    launcher.stop()
}
