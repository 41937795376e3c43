//! `db update` against a bucket-like HTTP server (`support::http`) started by each test on
//! 127.0.0.1: OSV's layout (`/<ecosystem>/all.zip`, `/<ecosystem>/modified_id.csv`, `/<ecosystem>/<id>.json`),
//! built from the records in `testdata/osv/`, with ETags, ranges, and faults injected per path
//! (HTTP 500, 429 with Retry-After, bodies cut short, stalls).

use crate::support::http::{Fault, HttpServer, Request};
use imagegate::advisory::db;
use imagegate::advisory::update::{UpdateError, UpdateOptions, UpdateReport, UpdateStatus, update};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Records and dumps
// ---------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (id, modified, json) of every record in `testdata/osv/<dir>`.
fn records(dir: &str) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("testdata/osv").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for p in paths {
        let bytes = std::fs::read(&p).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        out.push((
            v["id"].as_str().unwrap().to_string(),
            v["modified"].as_str().unwrap().to_string(),
            bytes,
        ));
    }
    assert!(out.len() >= 3, "testdata/osv/{dir} has the records");
    out
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    for (name, bytes) in entries {
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
    buf.into_inner()
}

fn dump(records: &[(String, String, Vec<u8>)]) -> Vec<u8> {
    zip_of(
        &records
            .iter()
            .map(|(id, _, b)| (format!("{id}.json"), b.clone()))
            .collect::<Vec<_>>(),
    )
}

/// `modified_id.csv` as OSV writes it: newest first.
fn csv(records: &[(String, String, Vec<u8>)]) -> Vec<u8> {
    let mut lines: Vec<(&str, &str)> = records.iter().map(|(id, m, _)| (m.as_str(), id.as_str())).collect();
    lines.sort_by(|a, b| b.cmp(a));
    lines
        .iter()
        .map(|(m, id)| format!("{m},{id}\n"))
        .collect::<String>()
        .into_bytes()
}

/// A copy of a record with a new `modified` time and summary.
fn revised(record: &[u8], modified: &str, summary: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(record).unwrap();
    v["modified"] = modified.into();
    v["summary"] = summary.into();
    serde_json::to_vec(&v).unwrap()
}

const LODASH: &str = "GHSA-35jh-r3h4-6jhm";

fn options(server: &HttpServer) -> UpdateOptions {
    UpdateOptions {
        mirror: Some(server.url().to_string()),
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(3),
        progress: false,
        ..UpdateOptions::default()
    }
}

/// A server with both ecosystems' dumps (and no csv).
fn bucket() -> (HttpServer, Vec<u8>, Vec<u8>) {
    let server = HttpServer::start();
    let npm = dump(&records("npm"));
    let alpine = dump(&records("alpine"));
    server.put("/npm/all.zip", npm.clone());
    server.put("/Alpine/all.zip", alpine.clone());
    (server, npm, alpine)
}

fn eco<'a>(r: &'a UpdateReport, name: &str) -> &'a imagegate::advisory::update::EcosystemUpdate {
    r.ecosystems.iter().find(|e| e.ecosystem == name).unwrap()
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn only_db_files(dir: &Path) {
    let expected: BTreeSet<String> = ["advisories.igdb", "update-state.json"].map(String::from).into();
    assert_eq!(names_in(dir), expected, "no temporary file is left behind");
}

/// (id, modified) of the records the index has for lodash.
fn lodash_versions(dir: &Path) -> BTreeSet<(String, String)> {
    let index = db::open(dir).expect("the index opens");
    index
        .lookup("npm", "lodash")
        .expect("lookup works")
        .into_iter()
        .map(|r| (r.id.clone(), r.modified.clone().unwrap_or_default()))
        .collect()
}

fn lodash_modified(dir: &Path) -> String {
    lodash_versions(dir)
        .into_iter()
        .find(|(id, _)| id == LODASH)
        .map(|(_, m)| m)
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn a_first_update_downloads_both_dumps_and_indexes_them() {
    let (server, npm, alpine) = bucket();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let report = update(&dir, &options(&server)).unwrap();

    assert!(report.rebuilt);
    assert_eq!(report.bytes, (npm.len() + alpine.len()) as u64);
    assert_eq!(eco(&report, "npm").bytes, npm.len() as u64);
    for e in &report.ecosystems {
        assert!(matches!(e.status, UpdateStatus::Full { .. }), "{e:?}");
        assert_eq!(e.invalid, 0);
    }
    assert_eq!(eco(&report, "npm").read, records("npm").len());
    assert_eq!(eco(&report, "Alpine").read, records("alpine").len());
    assert_eq!(
        report.meta.records,
        records("npm").len() + records("alpine").len(),
        "{report}"
    );

    let index = db::open(&dir).unwrap();
    assert_eq!(index.meta(), &report.meta);
    assert!(index.lookup("npm", "lodash").unwrap().iter().any(|r| r.id == LODASH));
    assert!(!index.lookup("npm", "next").unwrap().is_empty());
    assert!(!index.lookup("Alpine:v3.20", "openssl").unwrap().is_empty());
    assert_eq!(
        index.meta().sources,
        vec![
            format!("{}/npm/all.zip", server.url()),
            format!("{}/Alpine/all.zip", server.url())
        ]
    );
    only_db_files(&dir);
    let text = report.to_string();
    assert!(
        text.contains("npm: full download (no previous download to go on from)"),
        "{text}"
    );
    assert!(text.contains("index rebuilt"), "{text}");
}

#[test]
fn a_second_update_of_unchanged_dumps_downloads_nothing() {
    let (server, _, _) = bucket();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let first = update(&dir, &options(&server)).unwrap();
    server.take_log();

    let second = update(&dir, &options(&server)).unwrap();
    eprintln!("second (304) update: {} bytes\n{second}", second.bytes);
    assert_eq!(second.bytes, 0);
    assert!(!second.rebuilt);
    for e in &second.ecosystems {
        assert_eq!(e.status, UpdateStatus::NotModified);
    }
    assert_eq!(second.meta, first.meta);
    let log = server.take_log();
    let zips: Vec<&Request> = log.iter().filter(|l| l.path.ends_with("all.zip")).collect();
    assert_eq!(zips.len(), 2);
    assert!(zips.iter().all(|l| l.headers.contains_key("if-none-match")), "{zips:?}");
    // The index is still the first one, and whole.
    assert_eq!(db::open(&dir).unwrap().meta(), &first.meta);
    only_db_files(&dir);
}

#[test]
fn a_deleted_index_is_downloaded_again_despite_the_etags() {
    let (server, npm, alpine) = bucket();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    update(&dir, &options(&server)).unwrap();
    std::fs::remove_file(dir.join("advisories.igdb")).unwrap();
    let again = update(&dir, &options(&server)).unwrap();
    assert_eq!(again.bytes, (npm.len() + alpine.len()) as u64);
    assert!(db::open(&dir).is_ok());
}

#[test]
fn a_server_error_is_retried() {
    let (server, _, _) = bucket();
    server.fault("/npm/all.zip", &[Fault::Status(500), Fault::Status(503)]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let report = update(&dir, &options(&server)).unwrap();
    assert!(report.rebuilt);
    let npm_requests = server.take_log().iter().filter(|l| l.path == "/npm/all.zip").count();
    assert_eq!(npm_requests, 3);
    assert!(!db::open(&dir).unwrap().lookup("npm", "lodash").unwrap().is_empty());
}

#[test]
fn rate_limiting_is_waited_out_as_the_server_asks() {
    let (server, _, _) = bucket();
    server.fault("/Alpine/all.zip", &[Fault::RateLimited(1)]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    update(&dir, &options(&server)).unwrap();
    let log = server.take_log();
    let alpine: Vec<&Request> = log.iter().filter(|l| l.path == "/Alpine/all.zip").collect();
    assert_eq!(alpine.len(), 2);
    let waited = alpine[1].at - alpine[0].at;
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(
        !db::open(&dir)
            .unwrap()
            .lookup("Alpine:v3.20", "openssl")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn rate_limiting_that_never_ends_is_an_error_saying_so() {
    let (server, _, _) = bucket();
    server.fault("/npm/all.zip", &[Fault::RateLimited(1), Fault::RateLimited(1)]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let o = UpdateOptions {
        max_attempts: 2,
        ..options(&server)
    };
    let err = update(&dir, &o).unwrap_err();
    assert!(
        matches!(
            err,
            UpdateError::RateLimited {
                retry_after: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("/npm/all.zip: rate limited, retry after 1 s"), "{text}");
    assert!(!dir.join("advisories.igdb").exists());
}

#[test]
fn a_download_cut_short_is_resumed() {
    let (server, npm, _) = bucket();
    let half = npm.len() / 2;
    server.fault("/npm/all.zip", &[Fault::Truncate(half)]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let report = update(&dir, &options(&server)).unwrap();
    let log = server.take_log();
    let npm_requests: Vec<&Request> = log.iter().filter(|l| l.path == "/npm/all.zip").collect();
    assert_eq!(npm_requests.len(), 2);
    assert_eq!(
        npm_requests[1].headers.get("range").map(String::as_str),
        Some(format!("bytes={half}-").as_str())
    );
    // The first half once, then the rest: nothing downloaded twice.
    assert_eq!(eco(&report, "npm").bytes, npm.len() as u64);
    assert_eq!(eco(&report, "npm").read, records("npm").len());
    assert!(db::open(&dir).unwrap().lookup("npm", "lodash").unwrap().len() >= 2);
    only_db_files(&dir);
}

#[test]
fn a_download_that_stays_cut_short_fails_and_keeps_the_old_index() {
    let (server, npm, _) = bucket();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let first = update(&dir, &options(&server)).unwrap();

    // A newer dump that never arrives whole, behind a mirror URL with credentials.
    let mut newer = records("npm");
    newer[0].2 = revised(&newer[0].2, "2030-01-01T00:00:00Z", "newer");
    let newer = dump(&newer);
    server.put("/npm/all.zip", newer.clone());
    server.fault("/npm/all.zip", &vec![Fault::Truncate(newer.len() / 3); 3]);
    let o = UpdateOptions {
        mirror: Some(server.url().replace("http://", "http://ci-bot:s3cret@")),
        max_attempts: 3,
        incremental: false,
        ..options(&server)
    };
    let err = update(&dir, &o).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, UpdateError::Truncated { attempts: 3, .. }), "{err:?}");
    assert!(text.contains(&format!("{}/npm/all.zip", server.url())), "{text}");
    assert!(text.contains("cut short"), "{text}");
    assert!(!text.contains("s3cret") && !text.contains("ci-bot"), "{text}");

    let index = db::open(&dir).unwrap();
    assert_eq!(index.meta(), &first.meta, "the old index is untouched");
    assert_ne!(lodash_modified(&dir), "2030-01-01T00:00:00Z");
    only_db_files(&dir);
    assert!(npm.len() != newer.len() || npm != newer);
}

#[test]
fn a_zip_that_is_not_a_zip_is_fetched_again_then_refused() {
    let (server, _, _) = bucket();
    server.put("/npm/all.zip", b"<html>an error page from a proxy</html>".to_vec());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let o = UpdateOptions {
        max_attempts: 2,
        ..options(&server)
    };
    let err = update(&dir, &o).unwrap_err();
    assert!(matches!(err, UpdateError::Corrupt { attempts: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("not a zip archive"), "{err}");
    assert_eq!(server.take_log().iter().filter(|l| l.path == "/npm/all.zip").count(), 2);
    assert!(!dir.join("advisories.igdb").exists());
    assert_eq!(names_in(&dir), BTreeSet::new(), "no index, no state, no temporary file");
}

#[test]
fn a_stalled_download_times_out_and_is_retried() {
    let (server, _, _) = bucket();
    server.fault("/Alpine/all.zip", &[Fault::Stall(Duration::from_secs(3))]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let o = UpdateOptions {
        read_timeout: Duration::from_millis(300),
        ..options(&server)
    };
    let started = Instant::now();
    let report = update(&dir, &o).unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(eco(&report, "Alpine").read, records("alpine").len());
}

#[test]
fn corrupt_records_inside_the_zip_are_skipped_and_counted() {
    let server = HttpServer::start();
    let mut entries: Vec<(String, Vec<u8>)> = records("npm")
        .into_iter()
        .map(|(id, _, b)| (format!("{id}.json"), b))
        .collect();
    entries.push(("not-json.json".into(), b"{\"id\": \"GHSA-broken\", ".to_vec()));
    // An entry whose stored bytes are damaged after writing: its CRC no longer matches.
    let marker =
        b"{\"id\":\"GHSA-crc0-crc0-crc0\",\"modified\":\"2024-01-01T00:00:00Z\",\"summary\":\"MARKER-MARKER\"}";
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, bytes) in &entries {
            w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        w.start_file("crc.json", stored).unwrap();
        w.write_all(marker).unwrap();
        w.finish().unwrap();
    }
    let mut zip = buf.into_inner();
    let at = zip.windows(13).position(|w| w == b"MARKER-MARKER").unwrap();
    zip[at] = b'X';
    server.put("/npm/all.zip", zip);
    server.put("/Alpine/all.zip", dump(&records("alpine")));

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let report = update(&dir, &options(&server)).unwrap();
    let npm = eco(&report, "npm");
    assert_eq!(npm.read, records("npm").len() + 2);
    assert_eq!(npm.invalid, 2, "{:?}", report.warnings);
    assert!(
        report.warnings.iter().any(|w| w.contains("not-json.json")),
        "{:?}",
        report.warnings
    );
    assert!(
        report.warnings.iter().any(|w| w.contains("crc.json")),
        "{:?}",
        report.warnings
    );
    assert_eq!(report.meta.ecosystems.get("npm"), Some(&records("npm").len()));
    assert!(db::open(&dir).unwrap().by_id("GHSA-crc0-crc0-crc0").unwrap().is_empty());
    assert!(report.to_string().contains("2 invalid (skipped)"), "{report}");
}

#[test]
fn an_incremental_update_fetches_only_the_changed_records() {
    let server = HttpServer::start();
    let npm_records = records("npm");
    let full_zip = dump(&npm_records);
    server.put("/npm/all.zip", full_zip.clone());
    server.put("/npm/modified_id.csv", csv(&npm_records));
    server.put("/Alpine/all.zip", dump(&records("alpine")));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let first = update(&dir, &options(&server)).unwrap();
    assert!(matches!(eco(&first, "npm").status, UpdateStatus::Full { .. }));
    let newest_before = npm_records.iter().map(|(_, m, _)| m.clone()).max().unwrap();
    assert_eq!(
        eco(&first, "npm").newest_modified.as_deref(),
        Some(newest_before.as_str())
    );
    let old_lodash = lodash_modified(&dir);

    // Upstream, lodash's advisory is revised: the csv lists it first, the zip is rebuilt.
    let mut changed = npm_records.clone();
    let i = changed.iter().position(|(id, _, _)| id == LODASH).unwrap();
    changed[i].1 = "2030-01-01T00:00:00Z".into();
    changed[i].2 = revised(&changed[i].2, "2030-01-01T00:00:00Z", "revised upstream");
    let record_len = changed[i].2.len();
    server.put(&format!("/npm/{LODASH}.json"), changed[i].2.clone());
    server.put("/npm/all.zip", dump(&changed));
    let new_csv = csv(&changed);
    server.put("/npm/modified_id.csv", new_csv.clone());
    server.take_log();

    let second = update(&dir, &options(&server)).unwrap();
    let npm = eco(&second, "npm");
    eprintln!(
        "incremental update: npm {} bytes (csv {} bytes, record {record_len} bytes; the full zip is {} bytes), total {}\n{second}",
        npm.bytes,
        new_csv.len(),
        full_zip.len(),
        second.bytes
    );
    assert_eq!(npm.status, UpdateStatus::Incremental { changed: 1 });
    assert!(npm.bytes <= (new_csv.len() + record_len) as u64, "{}", npm.bytes);
    assert!(npm.bytes < full_zip.len() as u64 / 2);
    assert_eq!(npm.newest_modified.as_deref(), Some("2030-01-01T00:00:00Z"));
    // Alpine has no csv: its zip was asked for conditionally and had not changed.
    assert_eq!(eco(&second, "Alpine").status, UpdateStatus::NotModified);
    let npm_paths: BTreeSet<String> = server
        .take_log()
        .into_iter()
        .map(|l| l.path)
        .filter(|p| p.starts_with("/npm/"))
        .collect();
    assert_eq!(
        npm_paths,
        ["/npm/modified_id.csv".to_string(), format!("/npm/{LODASH}.json")].into()
    );
    assert!(second.rebuilt);
    assert_eq!(second.meta.records, first.meta.records);
    assert_eq!(lodash_modified(&dir), "2030-01-01T00:00:00Z");
    assert_ne!(old_lodash, "2030-01-01T00:00:00Z");
    let index = db::open(&dir).unwrap();
    let lodash = index.by_id(LODASH).unwrap();
    assert_eq!(lodash.len(), 1, "the old copy is superseded");
    assert_eq!(lodash[0].summary.as_deref(), Some("revised upstream"));
    assert!(
        !index.lookup("Alpine:v3.20", "openssl").unwrap().is_empty(),
        "Alpine kept"
    );

    // Nothing new since: the csv answers 304.
    let third = update(&dir, &options(&server)).unwrap();
    eprintln!("update after the incremental one: {} bytes", third.bytes);
    assert_eq!(third.bytes, 0);
    assert!(!third.rebuilt);
    assert_eq!(eco(&third, "npm").status, UpdateStatus::NotModified);
    only_db_files(&dir);
}

#[test]
fn too_many_changes_or_no_csv_fall_back_to_the_full_zip() {
    let server = HttpServer::start();
    let npm_records = records("npm");
    server.put("/npm/all.zip", dump(&npm_records));
    server.put("/npm/modified_id.csv", csv(&npm_records));
    server.put("/Alpine/all.zip", dump(&records("alpine")));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    update(&dir, &options(&server)).unwrap();

    let mut changed = npm_records.clone();
    for (n, r) in changed.iter_mut().take(3).enumerate() {
        r.1 = format!("2030-01-0{}T00:00:00Z", n + 1);
        r.2 = revised(&r.2, &r.1, "changed");
    }
    server.put("/npm/all.zip", dump(&changed));
    server.put("/npm/modified_id.csv", csv(&changed));
    let o = UpdateOptions {
        max_incremental: 2,
        ..options(&server)
    };
    let report = update(&dir, &o).unwrap();
    assert_eq!(
        eco(&report, "npm").status,
        UpdateStatus::Full {
            reason: "more than 2 records changed".into()
        }
    );
    assert_eq!(report.meta.ecosystems.get("npm"), Some(&npm_records.len()));

    // The csv disappears and the zip changes again: the full zip, conditionally.
    server.remove("/npm/modified_id.csv");
    changed[5].2 = revised(&changed[5].2, "2031-01-01T00:00:00Z", "changed again");
    server.put("/npm/all.zip", dump(&changed));
    let report = update(&dir, &options(&server)).unwrap();
    assert_eq!(
        eco(&report, "npm").status,
        UpdateStatus::Full {
            reason: "the source has no modified_id.csv".into()
        }
    );
    assert_eq!(
        eco(&report, "npm").newest_modified.as_deref(),
        Some("2031-01-01T00:00:00Z")
    );
}

#[test]
fn an_unknown_ecosystem_is_a_clear_error() {
    let (server, _, _) = bucket();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let o = UpdateOptions {
        ecosystems: vec!["Alpine".into(), "NPM".into()],
        ..options(&server)
    };
    let err = update(&dir, &o).unwrap_err();
    assert!(matches!(err, UpdateError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("/NPM/all.zip: not found"), "{err}");
    let bad = UpdateOptions {
        ecosystems: vec!["../npm".into()],
        ..options(&server)
    };
    assert!(matches!(update(&dir, &bad), Err(UpdateError::BadEcosystem(_))));
}

#[test]
fn updates_racing_each_other_and_scans_never_show_a_broken_index() {
    let server = HttpServer::start();
    let v1 = records("npm");
    let mut v2 = v1.clone();
    let i = v2.iter().position(|(id, _, _)| id == LODASH).unwrap();
    v2[i].2 = revised(&v2[i].2, "2030-01-01T00:00:00Z", "v2");
    let (zip1, zip2) = (dump(&v1), dump(&v2));
    server.put("/npm/all.zip", zip1.clone());
    server.put("/Alpine/all.zip", dump(&records("alpine")));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let o = UpdateOptions {
        incremental: false,
        ..options(&server)
    };
    update(&dir, &o).unwrap();
    let old_set = lodash_versions(&dir);
    server.put("/npm/all.zip", zip2.clone());
    update(&dir, &o).unwrap();
    let new_set = lodash_versions(&dir);
    assert_ne!(old_set, new_set);
    let records_count = db::open(&dir).unwrap().meta().records;

    let stop = Arc::new(AtomicBool::new(false));
    let lookups = Arc::new(AtomicUsize::new(0));
    let olds = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (dir, stop, lookups, olds) = (dir.clone(), stop.clone(), lookups.clone(), olds.clone());
        let (old_set, new_set) = (old_set.clone(), new_set.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let index = db::open(&dir).expect("every open succeeds");
                assert_eq!(index.meta().records, records_count);
                let seen: BTreeSet<(String, String)> = index
                    .lookup("npm", "lodash")
                    .expect("every lookup succeeds")
                    .into_iter()
                    .map(|r| (r.id.clone(), r.modified.clone().unwrap_or_default()))
                    .collect();
                assert!(seen == old_set || seen == new_set, "a mixed record set: {seen:?}");
                if seen == old_set {
                    olds.fetch_add(1, Ordering::Relaxed);
                }
                assert!(!index.lookup("Alpine:v3.20", "openssl").unwrap().is_empty());
                lookups.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Two updaters at once while the dump flips between the two versions.
    let updaters: Vec<_> = (0..2)
        .map(|t| {
            let (dir, o, server) = (dir.clone(), o.clone(), server.clone());
            let (zip1, zip2) = (zip1.clone(), zip2.clone());
            std::thread::spawn(move || {
                for round in 0..5 {
                    let zip = if (round + t) % 2 == 0 { &zip1 } else { &zip2 };
                    server.put("/npm/all.zip", zip.clone());
                    update(&dir, &o).expect("each update succeeds");
                }
            })
        })
        .collect();
    for u in updaters {
        u.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().expect("the reader saw only whole indexes");
    let (lookups, olds) = (lookups.load(Ordering::Relaxed), olds.load(Ordering::Relaxed));
    eprintln!("{lookups} scans during the updates, {olds} of them saw the older record set");
    assert!(lookups > 0);
    let last = lodash_versions(&dir);
    assert!(last == old_set || last == new_set);
    only_db_files(&dir);
    // The state file is whole JSON after concurrent writes.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("update-state.json")).unwrap()).unwrap();
    assert_eq!(state["version"], 1);
}

// ---------------------------------------------------------------------------------------------
// The Node.js security WG's index.json (`--ecosystem nodejs`)
// ---------------------------------------------------------------------------------------------

/// The working group's real index, served at `/wg/vuln/core/index.json` beside the npm dump.
fn nodejs_server() -> (HttpServer, Vec<u8>, UpdateOptions) {
    let server = HttpServer::start();
    let index = std::fs::read(root().join("testdata/nodejs-security-wg/core/index.json")).unwrap();
    server.put("/npm/all.zip", dump(&records("npm")));
    server.put("/wg/vuln/core/index.json", index.clone());
    let options = UpdateOptions {
        ecosystems: vec!["npm".into(), "nodejs".into()],
        nodejs_index: Some(format!("{}/wg/vuln/core/index.json", server.url())),
        ..options(&server)
    };
    (server, index, options)
}

#[test]
fn the_nodejs_index_is_fetched_from_its_url_with_etags_and_retries() {
    let (server, index, options) = nodejs_server();
    let wg: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&index).unwrap();
    // A server error first: retried, as for the dumps.
    server.fault("/wg/vuln/core/index.json", &[Fault::Status(500)]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let first = update(&dir, &options).unwrap();
    let node = eco(&first, "nodejs");
    assert!(matches!(node.status, UpdateStatus::Full { .. }), "{node:?}");
    assert_eq!((node.read, node.invalid), (wg.len(), 0), "{first}");
    assert_eq!(node.url, format!("{}/wg/vuln/core/index.json", server.url()));
    assert_eq!(first.meta.records, records("npm").len() + wg.len());
    let db = db::open(&dir).unwrap();
    assert!(db.lookup("Node.js", "node").unwrap().len() == wg.len());
    assert!(db.lookup("npm", "lodash").unwrap().iter().any(|r| r.id == LODASH));
    let gets = server
        .take_log()
        .iter()
        .filter(|r| r.path == "/wg/vuln/core/index.json")
        .count();
    assert_eq!(gets, 2, "one 500, one retry");

    // Unchanged: a conditional request, nothing downloaded, nothing rebuilt.
    let second = update(&dir, &options).unwrap();
    assert_eq!(eco(&second, "nodejs").status, UpdateStatus::NotModified);
    assert!(!second.rebuilt);
    let log = server.take_log();
    let get = log.iter().find(|r| r.path == "/wg/vuln/core/index.json").unwrap();
    assert!(get.header("if-none-match").is_some(), "{get:?}");

    // A changed index replaces the old records (none is left twice, a removed one is gone).
    let mut fewer = wg.clone();
    let dropped = fewer.keys().next().unwrap().clone();
    fewer.remove(&dropped);
    server.put("/wg/vuln/core/index.json", serde_json::to_vec(&fewer).unwrap());
    let third = update(&dir, &options).unwrap();
    assert!(third.rebuilt);
    assert_eq!(
        db::open(&dir).unwrap().lookup("Node.js", "node").unwrap().len(),
        wg.len() - 1
    );
    // A plain update of the OSV dumps keeps them.
    let plain = UpdateOptions {
        ecosystems: vec!["npm".into()],
        incremental: false,
        ..options.clone()
    };
    server.put("/npm/all.zip", dump(&records("npm")[1..]));
    update(&dir, &plain).unwrap();
    assert_eq!(
        db::open(&dir).unwrap().lookup("Node.js", "node").unwrap().len(),
        wg.len() - 1
    );
    only_db_files(&dir);
}

#[test]
fn an_index_that_is_not_json_is_an_error_and_keeps_the_old_index() {
    let (server, _, options) = nodejs_server();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let first = update(&dir, &options).unwrap();
    server.put("/wg/vuln/core/index.json", b"<html>not the index</html>".to_vec());
    let err = update(&dir, &options).unwrap_err();
    assert!(matches!(err, UpdateError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("/wg/vuln/core/index.json"), "{err}");
    assert_eq!(db::open(&dir).unwrap().meta(), &first.meta, "the old index stays");
    // And the CLI names the flag's URL in its message, with exit 2, never reaching GitHub.
    server.remove("/wg/vuln/core/index.json");
    let r = crate::support::imagegate()
        .args(["db", "update", "--ecosystem", "nodejs", "--nodejs-index"])
        .arg(format!("{}/wg/vuln/core/index.json", server.url()))
        .arg("--db")
        .arg(&dir)
        .run();
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("/wg/vuln/core/index.json"), "{}", r.stderr);
}
