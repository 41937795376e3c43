//! Peak memory of a package database at the read cap: an image whose `lib/apk/db/installed`
//! is just under 64 MiB (about 1.2 million short stanzas, ~56 bytes each, the shape of the
//! 400,000-records-in-22-MiB database of issue 12), run through
//!
//! * `imagegate inventory IMAGE` with `--format table`, `--format json`, `--cyclonedx FILE`
//!   and `--spdx FILE`,
//! * `imagegate scan IMAGE` with `--format table|json|sarif|markdown`, `--cyclonedx`, `--spdx`,
//!   `--gitlab` and `--junit`, against a database imported from `testdata/osv` (real Alpine,
//!   Debian and npm records),
//!
//! and the same for a `var/lib/dpkg/status` of the same size. It prints each child's peak RSS
//! (`wait4` rusage, via the launcher of `benches/common`) divided by the database's size;
//! the target is ≤ 3 (issue 12 item 5), reported as PASS/OVER, not asserted: this is a
//! measurement, and the machine is shared.
//!
//! ```text
//! cargo bench --bench package_db
//! cargo bench --profile dev --bench package_db      # no release build: the RSS is the same
//! IMAGEGATE_BENCH_DB_MIB=22 cargo bench --bench package_db
//! IMAGEGATE_BENCH_KINDS=apk cargo bench --bench package_db   # apk, dpkg or both (default)
//! IMAGEGATE_BENCH_ROWS=spdx,table cargo bench --bench package_db   # rows whose label has one
//! IMAGEGATE_BENCH_BIN=/tmp/imagegate-old cargo bench --bench package_db   # another build
//! IMAGEGATE_BENCH_KEEP=/tmp/keep cargo bench --bench package_db   # keep the images (heaptrack)
//! ```
//!
//! The image is a `docker save` archive with one uncompressed layer, written to a temporary
//! directory; records are generated, so no advisory matches (no id is invented): the scan's
//! memory is the inventory's plus its queries and the report.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
#![allow(unsafe_code)] // the launcher measures child processes with wait4 and drops page caches

mod common;

use common::{Launcher, Spec, env_usize, mib, verdict};
use sha2::{Digest as _, Sha256};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const TARGET_RATIO: f64 = 3.0;

/// One measured run: `imagegate COMMAND IMAGE ARGS…` with the measured report written by `to`
/// (`--output`, or a flag such as `--cyclonedx`, the `--format` report then going to /dev/null).
struct Row {
    label: &'static str,
    command: &'static str,
    args: &'static [&'static str],
    to: &'static str,
}

const fn row(label: &'static str, command: &'static str, args: &'static [&'static str], to: &'static str) -> Row {
    Row {
        label,
        command,
        args,
        to,
    }
}

/// Every report a user can ask for of such an image.
const ROWS: &[Row] = &[
    row(
        "inventory --format table",
        "inventory",
        &["--format", "table"],
        "--output",
    ),
    row(
        "inventory --format json",
        "inventory",
        &["--format", "json"],
        "--output",
    ),
    row(
        "inventory --cyclonedx",
        "inventory",
        &["--format", "json"],
        "--cyclonedx",
    ),
    row("inventory --spdx", "inventory", &["--format", "json"], "--spdx"),
    row("scan --format table", "scan", &["--format", "table"], "--output"),
    row("scan --format json", "scan", &["--format", "json"], "--output"),
    row("scan --format sarif", "scan", &["--format", "sarif"], "--output"),
    row("scan --format markdown", "scan", &["--format", "markdown"], "--output"),
    row("scan --cyclonedx", "scan", &["--format", "markdown"], "--cyclonedx"),
    row("scan --spdx", "scan", &["--format", "markdown"], "--spdx"),
    row("scan --gitlab", "scan", &["--format", "markdown"], "--gitlab"),
    row("scan --junit", "scan", &["--format", "markdown"], "--junit"),
];

/// An apk database of at most `size` bytes: stanzas of name, version, arch, license, origin.
fn apk_db(size: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(size);
    let mut n = 0;
    loop {
        let rec = format!(
            "P:pkg{n:07}\nV:1.{}.{}-r{}\nA:x86_64\nL:MIT\no:origin{:06}\n\n",
            n % 97,
            n % 13,
            n % 5,
            n / 4
        );
        if out.len() + rec.len() > size {
            return (out, n);
        }
        out.extend_from_slice(rec.as_bytes());
        n += 1;
    }
}

/// A dpkg status of at most `size` bytes: the fields dpkg writes for a small package.
fn dpkg_status(size: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(size);
    let mut n = 0;
    loop {
        let rec = format!(
            "Package: pkg{n:07}\nStatus: install ok installed\nArchitecture: amd64\nSource: src{:06} (1.{}-{})\n\
             Version: 1.{}-{}+b1\nDescription: package {n}\n\n",
            n / 4,
            n % 97,
            n % 7,
            n % 97,
            n % 7
        );
        if out.len() + rec.len() > size {
            return (out, n);
        }
        out.extend_from_slice(rec.as_bytes());
        n += 1;
    }
}

fn tar_of(files: &[(&str, &[u8])]) -> io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data)?;
    }
    b.into_inner()
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A `docker save` archive of one layer holding `files`.
fn image(path: &Path, files: &[(&str, &[u8])]) -> io::Result<()> {
    let layer = tar_of(files)?;
    let diff = sha256(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {"User": "1000"},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff}")]},
        "history": [{"created_by": "/bin/sh -c #(nop) ADD file:generated-package-database in / "}]
    }))?;
    let cfg = sha256(&config);
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": format!("{cfg}.json"), "RepoTags": ["bench:package-db"],
        "Layers": [format!("{diff}/layer.tar")]
    }]))?;
    let outer = tar_of(&[
        (&format!("{cfg}.json"), &config),
        (&format!("{diff}/layer.tar"), &layer),
        ("manifest.json", &manifest),
    ])?;
    std::fs::write(path, outer)
}

fn main() -> io::Result<()> {
    if let Some(launcher) = common::launcher_main() {
        return launcher;
    }
    if !common::is_bench_run() {
        println!("package_db benchmark: skipped (run it with `cargo bench --bench package_db`)");
        return Ok(());
    }
    // First, while this process is small (see `common`).
    let mut launcher = Launcher::start()?;
    // IMAGEGATE_BENCH_BIN: another build to compare (a copy of an earlier one).
    let bin = std::env::var("IMAGEGATE_BENCH_BIN")
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_imagegate")).display().to_string());
    let size = (env_usize("IMAGEGATE_BENCH_DB_MIB", 64) << 20) - 4096;
    let kinds = std::env::var("IMAGEGATE_BENCH_KINDS").unwrap_or_else(|_| "apk,dpkg".into());
    let tmp = tempfile::tempdir()?;
    let db = tmp.path().join("db");
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/osv");
    let import = Spec::new([
        bin.clone(),
        "db".into(),
        "import".into(),
        testdata.join("alpine").display().to_string(),
        testdata.join("debian").display().to_string(),
        testdata.join("npm").display().to_string(),
        "--db".into(),
        db.display().to_string(),
    ]);
    let s = launcher.measure(import)?;
    assert_eq!(s.code, 0, "db import failed");
    let alpine_release: &[u8] = b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n";
    let debian_release: &[u8] = b"ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";
    for kind in kinds.split(',').map(str::trim) {
        let (path, bytes, n, files): (_, _, _, Vec<(&str, &[u8])>) = match kind {
            "apk" => {
                let (b, n) = apk_db(size);
                (
                    "lib/apk/db/installed",
                    b,
                    n,
                    vec![("etc/os-release", alpine_release), ("etc/alpine-release", b"3.20.3\n")],
                )
            }
            "dpkg" => {
                let (b, n) = dpkg_status(size);
                ("var/lib/dpkg/status", b, n, vec![("etc/os-release", debian_release)])
            }
            other => return Err(io::Error::other(format!("IMAGEGATE_BENCH_KINDS: unknown kind {other}"))),
        };
        let mut all = files;
        all.push((path, &bytes));
        let img = tmp.path().join(format!("{kind}.tar"));
        image(&img, &all)?;
        // IMAGEGATE_BENCH_KEEP=DIR: keep a copy of each image, to profile one run by hand.
        if let Ok(keep) = std::env::var("IMAGEGATE_BENCH_KEEP") {
            std::fs::copy(&img, Path::new(&keep).join(format!("{kind}.tar")))?;
        }
        let db_mib = bytes.len() as f64 / f64::from(1 << 20);
        drop(all);
        drop(bytes);
        println!("{kind}: {path} of {db_mib:.1} MiB, {n} packages");
        let only = std::env::var("IMAGEGATE_BENCH_ROWS").unwrap_or_default();
        for row in ROWS
            .iter()
            .filter(|r| only.is_empty() || only.split(',').any(|w| r.label.contains(w.trim())))
        {
            let out = tmp.path().join("report");
            let log = tmp.path().join("log");
            let _ = std::fs::remove_file(&out);
            let mut argv = vec![bin.clone(), row.command.into(), img.display().to_string()];
            if row.command == "scan" {
                argv.extend(["--db".into(), db.display().to_string()]);
            }
            argv.extend(row.args.iter().map(|a| a.to_string()));
            // The measured report to a file; the `--format` report, when it is not the one
            // measured, to /dev/null (it is streamed, and a row's peak is the larger of the two).
            match row.to {
                "--output" => argv.extend(["--output".into(), out.display().to_string()]),
                flag => argv.extend([
                    "--output".into(),
                    "/dev/null".into(),
                    flag.into(),
                    out.display().to_string(),
                ]),
            }
            let s = launcher.measure(Spec::new(argv).stdout(&log).stderr(&log))?;
            // scan: 0 (pass) or 1 (fail) both ran; 2 could not.
            if s.code != 0 && !(row.command == "scan" && s.code == 1) {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(io::Error::other(format!("{} exited {}:\n{said}", row.label, s.code)));
            }
            let report = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            let peak = mib(s.rss_kib);
            let ratio = peak / db_mib;
            println!(
                "  {:<28} {:>7.1} s wall  peak RSS {peak:>6.0} MiB = {ratio:.2} x the database \
                 (target <= {TARGET_RATIO}) {}   report {:.0} MiB",
                row.label,
                s.wall,
                verdict(ratio, TARGET_RATIO),
                report as f64 / f64::from(1 << 20)
            );
            io::stdout().flush()?;
        }
    }
    launcher.stop()
}
