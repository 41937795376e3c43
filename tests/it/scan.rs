//! End-to-end tests of `imagegate db import` and `imagegate scan`: the demo image against the
//! advisory snapshot in `testdata/osv/` (real GitHub npm records, Alpine ones written from
//! published advisories), and small images built here for Alpine branch handling.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

fn run(args: &[&str]) -> (i32, String, String) {
    let r = imagegate().args(args).run();
    (r.code, r.stdout, r.stderr)
}

fn import(db: &Path, sources: &[&str]) {
    let mut args = vec!["db", "import", "--db", db.to_str().unwrap()];
    let paths: Vec<String> = sources
        .iter()
        .map(|s| repo_root().join(s).display().to_string())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "import failed: {out}{err}");
}

/// A policy that shows every match and fails on none, so these tests see the matching alone.
fn show_all() -> &'static str {
    static P: std::sync::OnceLock<tempfile::TempPath> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(
            &mut f,
            b"[vulnerabilities]\nfail_on = \"none\"\nreport_from = \"all\"\n",
        )
        .unwrap();
        f.into_temp_path()
    })
    .to_str()
    .unwrap()
}

fn scan_json(image: &str, db: &Path) -> Value {
    let (code, out, err) = run(&[
        "scan",
        image,
        "--db",
        db.to_str().unwrap(),
        "--format",
        "json",
        "--policy",
        show_all(),
    ]);
    assert_eq!(code, 0, "scan failed: {err}");
    serde_json::from_str(&out).expect("scan JSON")
}

/// The vulnerabilities of a gate report.
fn vulns(v: &Value) -> Vec<Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.get("vulnerability").cloned())
        .collect()
}

/// (package, version, primary id, fixed) of every finding.
fn findings(v: &Value) -> Vec<(String, String, String, Vec<String>)> {
    let mut f: Vec<_> = vulns(v)
        .iter()
        .map(|x| {
            (
                x["package"]["name"].as_str().unwrap().to_string(),
                x["package"]["version"].as_str().unwrap().to_string(),
                x["id"].as_str().unwrap().to_string(),
                x["fixed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    f.sort();
    f
}

fn demo() -> String {
    repo_root().join("testdata/demo/app.tar").display().to_string()
}

#[test]
fn demo_image_against_the_shipped_snapshot() {
    let v = scan_json(&demo(), testdata_db());
    let s = |a: &str, b: &str, c: &str, d: &[&str]| {
        (a.into(), b.into(), c.into(), d.iter().map(|x| x.to_string()).collect())
    };
    assert_eq!(
        findings(&v),
        vec![
            s("busybox", "1.36.1-r29", "ALPINE-CVE-2023-42364", &["1.36.1-r30"]),
            s("busybox-binsh", "1.36.1-r29", "ALPINE-CVE-2023-42364", &["1.36.1-r30"]),
            s("json5", "2.2.1", "GHSA-9c47-m6qq-7p4h", &["2.2.2"]),
            s("libcrypto3", "3.3.2-r0", "ALPINE-CVE-2024-9143", &["3.3.2-r1"]),
            s("libssl3", "3.3.2-r0", "ALPINE-CVE-2024-9143", &["3.3.2-r1"]),
            s("lodash", "4.17.20", "GHSA-35jh-r3h4-6jhm", &["4.17.21"]),
            s("next", "13.4.0", "GHSA-fr5h-rqp8-mj6g", &["14.1.1"]),
            s("semver", "7.3.5", "GHSA-c2qf-rxjj-qqgw", &["7.5.2"]),
            s("ssl_client", "1.36.1-r29", "ALPINE-CVE-2023-42364", &["1.36.1-r30"]),
        ]
    );
    let lodash = vulns(&v)
        .into_iter()
        .find(|x| x["package"]["name"] == "lodash")
        .unwrap();
    // Every id of the vulnerability, the score and where it came from, the layer and step.
    assert_eq!(
        lodash["ids"],
        serde_json::json!(["CVE-2021-23337", "GHSA-35jh-r3h4-6jhm"])
    );
    assert_eq!(lodash["severity"]["level"], "high");
    assert_eq!(lodash["severity"]["score"], 7.2);
    assert_eq!(lodash["severity"]["source"], "cvss_v3");
    assert_eq!(lodash["layer"]["index"], 2);
    assert!(
        lodash["layer"]["created_by"].as_str().unwrap().contains("npm"),
        "{}",
        lodash["layer"]
    );
    // libcrypto3 is matched through its origin, openssl.
    let ssl = vulns(&v)
        .into_iter()
        .find(|x| x["package"]["name"] == "libcrypto3")
        .unwrap();
    assert_eq!(ssl["package"]["origin"], "openssl");
    assert_eq!(ssl["package"]["ecosystem"], "Alpine:v3.20");
    // minimist was deleted by a whiteout: its advisory must not show up.
    assert!(!findings(&v).iter().any(|f| f.0 == "minimist"));
    assert_eq!(vulns(&v).len(), 9);
    assert_eq!(v["inventory"]["schema"], 1);
}

#[test]
fn table_output_has_ids_fix_and_summary_line() {
    let db = testdata_db();
    let (code, out, _) = run(&["scan", &demo(), "--db", db.to_str().unwrap(), "--policy", show_all()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("GHSA-35jh-r3h4-6jhm") && out.contains("CVE-2021-23337"),
        "{out}"
    );
    assert!(out.contains("4.17.20 → 4.17.21"), "{out}");
    let last = out.trim_end().lines().last().unwrap();
    // 9 vulnerabilities, and the Node.js runtime the demo installs from a tarball
    // (NODE_VERSION 20.17.0; its usr/local/bin/node placeholder names no version), read but
    // not checked: this database has no Node.js records (IG016).
    assert!(
        last.starts_with("PASS: no finding fails the policy (10 warnings, 0 info)"),
        "{last}"
    );
    assert!(out.contains("IG016") && out.contains("Node.js runtime"), "{out}");
}

#[test]
fn no_database_says_how_to_get_one_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["scan", &demo(), "--db", tmp.path().join("none").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no advisory database") && err.contains("imagegate db update"),
        "{err}"
    );
}

#[test]
fn a_branch_the_database_lacks_is_reported_not_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    import(&db, &["testdata/osv/npm"]);
    let v = scan_json(&demo(), &db);
    assert!(
        findings(&v).iter().all(|f| !f.1.contains("-r")),
        "no apk finding without Alpine records"
    );
    let notes = v["findings"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["rule"] == "IG016" && n["message"].as_str().unwrap().contains("Alpine:v3.20")),
        "{notes:?}"
    );
    let (_, out, _) = run(&["scan", &demo(), "--db", db.to_str().unwrap(), "--policy", show_all()]);
    assert!(out.contains("NOT checked"), "{out}");
}

#[test]
fn alpine_records_apply_per_branch() {
    // openssl 3.1.4-r5 on v3.19 is affected by ALPINE-CVE-2024-2511 (fixed in -r6 there); the
    // record has no v3.20 entry, so the same package on v3.20 is not matched by it.
    let layer = |release: &str| {
        Layer::new()
            .file("etc/alpine-release", format!("{release}\n"))
            .file("etc/os-release", format!("ID=alpine\nVERSION_ID={release}\n"))
            .file(
                "lib/apk/db/installed",
                "P:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\nL:Apache-2.0\n\n",
            )
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    import(&db, &["testdata/osv/alpine"]);
    for (release, expect) in [("3.19.1", true), ("3.20.3", false)] {
        let img = ImageSpec::new()
            .layer(layer(release), Compression::Gzip, "ADD rootfs.tar /")
            .build();
        let dir = tmp.path().join(release);
        let mut layout = Layout::new();
        layout.add_image(&img, None);
        layout.write_dir(&dir).unwrap();
        let v = scan_json(dir.to_str().unwrap(), &db);
        let found = findings(&v)
            .iter()
            .any(|f| f.0 == "libcrypto3" && f.2 == "ALPINE-CVE-2024-2511");
        assert_eq!(found, expect, "Alpine {release}: {v}");
    }
}

#[test]
fn db_status_reports_counts_and_import_rejects_a_broken_zip() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    import_testdata_db(&db);
    let (code, out, _) = run(&["db", "status", "--db", db.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["records"], 13);
    assert_eq!(v["ecosystems"]["npm"], 10);
    assert_eq!(v["ecosystems"]["Alpine:v3.20"], 2);
    assert_eq!(v["ecosystems"]["Alpine:v3.19"], 1);
    let broken = tmp.path().join("all.zip");
    std::fs::write(&broken, b"PK\x03\x04 this is not a whole zip").unwrap();
    let (code, _, err) = run(&["db", "import", "--db", db.to_str().unwrap(), broken.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a readable zip"), "{err}");
    // The old database is still there, whole.
    let (_, out, _) = run(&["db", "status", "--db", db.to_str().unwrap(), "--format", "json"]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["records"], 13);
}
