//! End-to-end tests of the gate (`imagegate scan` with a policy): the demo image against each
//! shipped policy, variations of it that break one rule each, ignores in every state, and the
//! exit codes a pipeline relies on (0 pass, 1 fail, 2 could not run).

use crate::support::*;
use serde_json::Value;
use std::path::Path;

fn imagegate(args: &[&str], cwd: &Path) -> Run {
    crate::support::imagegate().args(args).current_dir(cwd).run()
}

fn demo() -> String {
    repo_root().join("testdata/demo/app.tar").display().to_string()
}

/// Runs the gate with a policy given as text; returns the exit code and the JSON report.
fn gate(image: &str, policy: &str) -> (i32, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let policy_path = tmp.path().join("policy.toml");
    std::fs::write(&policy_path, policy).unwrap();
    gate_with(image, &["--policy", policy_path.to_str().unwrap()], tmp.path())
}

fn gate_with(image: &str, extra: &[&str], cwd: &Path) -> (i32, Value) {
    let mut args = vec![
        "scan",
        image,
        "--db",
        testdata_db().to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let r = imagegate(&args, cwd);
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
    (
        r.code,
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout)),
    )
}

fn rules(v: &Value, level: &str) -> Vec<String> {
    let mut r: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == level)
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    r.sort();
    r
}

/// Writes `spec` as an OCI layout in a temp dir; returns the dir (kept alive) and its path.
fn image_of(spec: &ImageSpec) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("oci");
    let mut layout = Layout::new();
    layout.add_image(&spec.build(), None);
    layout.write_dir(&dir).unwrap();
    let path = dir.display().to_string();
    (tmp, path)
}

const STRICT_IMAGE: &str =
    "[vulnerabilities]\nfail_on = \"none\"\n[image]\nrequire_non_root = true\nrequire_healthcheck = true\n";

#[test]
fn demo_against_each_shipped_policy() {
    let root = repo_root();
    let policy = |name: &str| root.join("policies").join(name).display().to_string();
    // Default: fixable high vulnerabilities fail.
    let (code, v) = gate_with(&demo(), &["--policy", &policy("default.toml")], &root);
    assert_eq!(code, 1);
    assert_eq!(
        rules(&v, "fail"),
        vec!["GHSA-35jh-r3h4-6jhm", "GHSA-9c47-m6qq-7p4h", "GHSA-fr5h-rqp8-mj6g"]
    );
    assert_eq!(v["verdict"]["pass"], false);
    // Production: the same, plus the dev dependency that shipped (typescript).
    let (code, v) = gate_with(&demo(), &["--policy", &policy("production.toml")], &root);
    assert_eq!(code, 1);
    let fail = rules(&v, "fail");
    assert!(fail.contains(&"IG009".to_string()), "{fail:?}");
    let dev = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "IG009")
        .unwrap();
    assert!(
        dev["evidence"]["package"]
            .as_str()
            .unwrap()
            .starts_with("npm:typescript@"),
        "{dev}"
    );
    // Not IG001/IG003: the demo runs as 1001 with a health check.
    assert!(!fail.iter().any(|r| r == "IG001" || r == "IG003"), "{fail:?}");
    // Audit: only critical fails, and there is none: pass, with everything reported.
    let (code, v) = gate_with(&demo(), &["--policy", &policy("audit.toml")], &root);
    assert_eq!(code, 0, "{}", v["verdict"]);
    assert!(rules(&v, "warn").contains(&"GHSA-35jh-r3h4-6jhm".to_string()));
}

#[test]
fn imagegate_toml_in_the_current_directory_is_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("imagegate.toml"),
        "[vulnerabilities]\nfail_on = \"none\"\n",
    )
    .unwrap();
    let (code, v) = gate_with(&demo(), &[], tmp.path());
    assert_eq!(code, 0);
    assert!(v["policy"].as_str().unwrap().ends_with("imagegate.toml"));
    // Without one, the built-in default applies (and fails the demo on its vulnerabilities).
    let empty = tempfile::tempdir().unwrap();
    let (code, v) = gate_with(&demo(), &[], empty.path());
    assert_eq!(code, 1);
    assert_eq!(v["policy"], "built-in default policy");
}

#[test]
fn root_user_variants_fail_and_a_missing_user_is_its_own_finding() {
    for (user, expect) in [
        ("", "IG001"),
        ("root", "IG001"),
        ("0", "IG001"),
        ("0:0", "IG001"),
        ("0:1001", "IG001"),
        ("toor", "IG001"),
        ("ghost", "IG002"),
    ] {
        let mut spec = demo_spec();
        spec.user = if user.is_empty() { None } else { Some(user.to_string()) };
        // `toor` is a second name for uid 0.
        let spec = spec.layer(
            Layer::new().file(
                "etc/passwd",
                format!(
                    "{}toor:x:0:0:root:/root:/bin/sh\nnextjs:x:1001:1001::/home/nextjs:/sbin/nologin\n",
                    alpine_passwd()
                ),
            ),
            Compression::Gzip,
            "RUN echo toor >> /etc/passwd",
        );
        let (_keep, image) = image_of(&spec);
        let (code, v) = gate(&image, STRICT_IMAGE);
        assert_eq!(code, 1, "user {user:?}");
        assert_eq!(rules(&v, "fail"), vec![expect.to_string()], "user {user:?}");
    }
    for ok in ["1001", "nextjs", "1001:1001", "nextjs:nodejs"] {
        let mut spec = demo_spec();
        spec.user = Some(ok.to_string());
        let (_keep, image) = image_of(&spec);
        let (code, v) = gate(&image, STRICT_IMAGE);
        assert_eq!((code, rules(&v, "fail")), (0, vec![]), "user {ok:?}");
    }
}

fn alpine_passwd() -> String {
    String::from_utf8(std::fs::read(alpine_dir().join("etc/passwd")).unwrap()).unwrap()
}

#[test]
fn missing_or_disabled_health_check_fails() {
    for hc in [None, Some(vec!["NONE"])] {
        let mut spec = demo_spec();
        spec.healthcheck = None;
        if let Some(test) = &hc {
            spec = spec.healthcheck(test);
        }
        let (_keep, image) = image_of(&spec);
        let (code, v) = gate(&image, STRICT_IMAGE);
        assert_eq!(code, 1);
        assert_eq!(rules(&v, "fail"), vec!["IG003"], "{hc:?}");
    }
}

#[test]
fn over_the_size_limit_names_the_largest_layers() {
    // 3 MB of incompressible-ish bytes in one layer.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let blob: Vec<u8> = (0..3_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let spec = demo_spec().layer(
        Layer::new().file("app/public/video.mp4", blob),
        Compression::Gzip,
        "COPY public/ ./public/",
    );
    let (_keep, image) = image_of(&spec);
    let (code, v) = gate(
        &image,
        "[vulnerabilities]\nfail_on = \"none\"\n[image]\nmax_size = \"2MB\"\nmax_compressed_size = \"2.5MB\"\nmax_layers = 3\n",
    );
    assert_eq!(code, 1);
    assert_eq!(rules(&v, "fail"), vec!["IG004", "IG005", "IG006"]);
    let size = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "IG004")
        .unwrap();
    assert_eq!(size["evidence"]["limit"], "2.0 MB");
    let top = size["evidence"]["details"][0].as_str().unwrap();
    assert!(top.contains("COPY public/ ./public/"), "{top}");
}

#[test]
fn toolchain_secrets_and_dev_dependencies_fail_with_their_layer() {
    let mut db = String::from_utf8(std::fs::read(alpine_dir().join("lib/apk/db/installed")).unwrap()).unwrap();
    db.push_str("\nP:gcc\nV:13.2.1_git20240309-r0\nA:x86_64\no:gcc\nL:GPL-2.0-or-later\n\n");
    let spec = demo_spec()
        .layer(
            Layer::new().file("lib/apk/db/installed", db),
            Compression::Gzip,
            "RUN apk add --no-cache gcc",
        )
        .layer(
            Layer::new().file("app/.env", "DATABASE_URL=postgres://u:p@db/app\n"),
            Compression::Gzip,
            "COPY . .",
        );
    let (_keep, image) = image_of(&spec);
    let policy = std::fs::read_to_string(repo_root().join("policies/production.toml")).unwrap();
    let (code, v) = gate(&image, &policy.replace("fail_on = \"high\"", "fail_on = \"none\""));
    assert_eq!(code, 1);
    let fail = rules(&v, "fail");
    for r in ["IG008", "IG009", "IG010"] {
        assert!(fail.contains(&r.to_string()), "{r} missing from {fail:?}");
    }
    let find = |rule: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap()
            .clone()
    };
    let gcc = find("IG008");
    assert_eq!(gcc["evidence"]["package"], "apk:gcc@13.2.1_git20240309-r0");
    assert_eq!(gcc["evidence"]["created_by"], "RUN apk add --no-cache gcc");
    let env = find("IG010");
    assert_eq!(env["evidence"]["path"], "app/.env");
    assert_eq!(env["evidence"]["created_by"], "COPY . .");
}

fn date_in(days: i64) -> String {
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    today.checked_add(jiff::Span::new().days(days)).unwrap().to_string()
}

#[test]
fn ignores_active_expired_expiring_stale_and_unknown() {
    let ignore = |id: &str, extra: &str, days: i64| {
        format!(
            "[[vulnerabilities.ignore]]\nid = \"{id}\"\n{extra}reason = \"tested\"\nexpires = \"{}\"\n\n",
            date_in(days)
        )
    };
    let mut policy = String::from("[vulnerabilities]\nfail_on = \"high\"\n\n");
    // Active, by an alias, scoped to the package: lodash stops failing.
    policy += &ignore("CVE-2021-23337", "package = \"npm:lodash\"\n", 100);
    // Expired: json5 fails again, and the entry says so.
    policy += &ignore("GHSA-9c47-m6qq-7p4h", "", -1);
    // Expiring within 14 days: still ignores next, and warns ahead.
    policy += &ignore("GHSA-fr5h-rqp8-mj6g", "", 5);
    // Stale: a real advisory this image does not have.
    policy += &ignore("GHSA-78xj-cgh5-2h22", "", 100);
    // Unknown to the database.
    policy += &ignore("CVE-1999-99999", "", 100);
    // Scoped to another package: does not apply.
    policy += &ignore("GHSA-c2qf-rxjj-qqgw", "package = \"npm:not-semver\"\n", 100);
    let (code, v) = gate(&demo(), &policy);
    assert_eq!(code, 1);
    assert_eq!(rules(&v, "fail"), vec!["GHSA-9c47-m6qq-7p4h"]);
    assert_eq!(rules(&v, "info"), vec!["GHSA-35jh-r3h4-6jhm", "GHSA-fr5h-rqp8-mj6g"]);
    let warn = rules(&v, "warn");
    for r in ["IG012", "IG013", "IG014", "IG015"] {
        assert!(warn.contains(&r.to_string()), "{r} missing from {warn:?}");
    }
    let lodash = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "GHSA-35jh-r3h4-6jhm")
        .unwrap();
    assert_eq!(lodash["ignored"], "tested");
    let expired = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "IG012")
        .unwrap();
    assert_eq!(expired["evidence"]["policy_line"], 10, "{expired}");
}

#[test]
fn shown_and_failing_are_set_apart() {
    // Fail on critical only, show from medium: the high ones are shown, nothing fails, and
    // semver's medium is shown too; everything is still reported in one run.
    let (code, v) = gate(
        &demo(),
        "[vulnerabilities]\nfail_on = \"critical\"\nreport_from = \"medium\"\n",
    );
    assert_eq!(code, 0);
    assert!(rules(&v, "warn").contains(&"GHSA-c2qf-rxjj-qqgw".to_string()));
    // Show only critical: the rest is counted as hidden.
    let (_, v) = gate(
        &demo(),
        "[vulnerabilities]\nfail_on = \"critical\"\nreport_from = \"critical\"\n",
    );
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["vulnerability"].is_null())
    );
    assert_eq!(v["hidden"], 9);
}

#[test]
fn errors_exit_2_never_0_or_1() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[image]\nmax_size = \"lots\"\n").unwrap();
    let root = repo_root();
    let db = testdata_db().to_str().unwrap();
    let demo = demo();
    let demo = demo.as_str();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["scan", demo, "--db", db, "--policy", bad.to_str().unwrap()],
            "bad.toml:2:12",
        ),
        (vec!["scan", demo, "--db", "/nonexistent/db"], "no advisory database"),
        (
            vec!["scan", "/nonexistent/image.tar", "--db", db],
            "no such file or directory",
        ),
        (
            vec!["scan", demo, "--db", db, "--policy", "/nonexistent/policy.toml"],
            "policy.toml",
        ),
        (vec!["policy", "check", bad.to_str().unwrap()], "not a size"),
    ];
    for (args, expect) in cases {
        let r = imagegate(&args, &root);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(expect), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?} printed a report: {}", r.stdout);
    }
}

#[test]
fn table_groups_by_level_and_closes_with_the_verdict() {
    let root = repo_root();
    let r = imagegate(
        &[
            "scan",
            &demo(),
            "--db",
            testdata_db().to_str().unwrap(),
            "--policy",
            "policies/production.toml",
        ],
        &root,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let fail_at = r.stdout.find("FAIL (").expect("a FAIL group");
    let warn_at = r.stdout.find("WARN (").unwrap_or(usize::MAX);
    assert!(fail_at < warn_at);
    assert!(r.stdout.contains("4.17.20 → 4.17.21"), "{}", r.stdout);
    let last = r.stdout.trim_end().lines().last().unwrap();
    assert!(last.starts_with("FAIL: ") && last.contains("scanned in"), "{last}");
    assert!(!r.stdout.contains('\x1b'), "no colour when not on a terminal");
}

#[test]
fn several_reports_from_one_run_and_the_step_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let (sarif, json, md, summary) = (
        tmp.path().join("r.sarif"),
        tmp.path().join("r.json"),
        tmp.path().join("r.md"),
        tmp.path().join("summary.md"),
    );
    std::fs::write(&summary, "previous step\n").unwrap();
    let out = crate::support::imagegate()
        .args(["scan", &demo(), "--db", testdata_db().to_str().unwrap(), "--policy"])
        .arg(repo_root().join("policies/production.toml"))
        .arg("--sarif")
        .arg(&sarif)
        .arg("--json")
        .arg(&json)
        .arg("--markdown")
        .arg(&md)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL ("));
    let s: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let j: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["schema"], 1);
    assert_eq!(j["verdict"]["pass"], false);
    let m = std::fs::read_to_string(&md).unwrap();
    let step = std::fs::read_to_string(&summary).unwrap();
    assert!(step.starts_with("previous step\n") && step.contains(m.trim()), "{step}");
}

#[test]
fn a_stale_database_is_a_finding_not_an_error() {
    let db_path = testdata_db();
    // The database must be older than the policy's limit: wait until it is 2 s old.
    let index = db_path.join("advisories.igdb");
    let built = std::fs::metadata(&index).unwrap().modified().unwrap();
    while built.elapsed().unwrap_or_default() < std::time::Duration::from_secs(2) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (code, v) = gate(&demo(), "[vulnerabilities]\nfail_on = \"none\"\nmax_db_age = \"1s\"\n");
    assert_eq!(code, 1);
    assert_eq!(rules(&v, "fail"), vec!["IG011"]);
    let (code, _) = gate(&demo(), "[vulnerabilities]\nfail_on = \"none\"\nmax_db_age = \"1d\"\n");
    assert_eq!(code, 0);
}
