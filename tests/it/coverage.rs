//! Fail closed: every package source an image holds is either checked or reported as not
//! checked, by name and path, and an unreadable package database stops the check. Each image
//! here is otherwise fit for `policies/production.toml` (user 1001 in etc/passwd, a health
//! check, the source label), so the exit codes are the coverage's doing: the built-in default
//! policy warns on what was not checked (exit 0), production fails on it (exit 1).

use crate::support::*;
use serde_json::Value;
use std::path::Path;

/// The whole OSV snapshot: npm, Alpine, Debian and Ubuntu records.
fn full_db() -> &'static Path {
    crate::support::osv_db(&["npm", "alpine", "debian", "ubuntu"])
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001::/app:/sbin/nologin\n";

/// An image fit for production but for what `layer` holds.
fn image(dir: &Path, name: &str, layer: Layer) -> String {
    let img = ImageSpec::new()
        .layer(layer.file("etc/passwd", PASSWD), Compression::Gzip, "ADD rootfs /")
        .layer(
            Layer::new().file("app/version.txt", name),
            Compression::Gzip,
            "COPY version.txt /app/",
        )
        .user("1001")
        .healthcheck(&["CMD", "true"])
        .label("org.opencontainers.image.source", "https://example.com/app")
        .build();
    let path = dir.join(name);
    oci_layout(&img, None).write_dir(&path).unwrap();
    path.display().to_string()
}

/// `scan --format json` under a policy (`None`: the built-in default) → (exit code, report).
fn scan(image: &str, db: &Path, policy: Option<&str>) -> (i32, Value, String) {
    let mut cmd = imagegate();
    cmd.args(["scan", image, "--format", "json", "--db"]).arg(db);
    if let Some(p) = policy {
        cmd.arg("--policy").arg(repo_root().join(p));
    }
    // No imagegate.toml in the working directory: the default is the built-in one.
    let cwd = tempfile::tempdir().unwrap();
    let r = cmd.current_dir(cwd.path()).run();
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, v, r.stderr)
}

/// (source, status, packages, ecosystem) of each coverage entry.
fn coverage(v: &Value) -> Vec<(String, String, u64, String)> {
    v["coverage"]
        .as_array()
        .unwrap_or_else(|| panic!("no coverage in {v}"))
        .iter()
        .map(|c| {
            (
                c["source"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                c["packages"].as_u64().unwrap(),
                c["ecosystem"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// (advisory id, package, installed, fixed) of every vulnerability found.
fn vulns(v: &Value) -> Vec<(String, String, String, Vec<String>)> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let x = f.get("vulnerability")?;
            Some((
                x["id"].as_str()?.to_string(),
                x["package"]["name"].as_str()?.to_string(),
                x["package"]["version"].as_str()?.to_string(),
                x["fixed"]
                    .as_array()?
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
            ))
        })
        .collect();
    out.sort();
    out
}

fn rules(v: &Value, level: &str) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == level)
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

fn debian_os_release() -> String {
    std::fs::read_to_string(repo_root().join("testdata/debian-12/etc/os-release")).unwrap()
}

/// The real Debian 12 status file with openssl and libssl3 set back to 3.0.11-1~deb12u1.
fn old_openssl_status() -> String {
    let real = std::fs::read_to_string(repo_root().join("testdata/debian-12/var/lib/dpkg/status")).unwrap();
    real.split("\n\n")
        .map(|stanza| {
            let name = stanza.lines().find_map(|l| l.strip_prefix("Package: ")).unwrap_or("");
            if name == "openssl" || name == "libssl3" {
                stanza
                    .lines()
                    .map(|l| {
                        if l.starts_with("Version: ") {
                            "Version: 3.0.11-1~deb12u1".to_string()
                        } else if l.starts_with("Source: ") {
                            "Source: openssl".to_string()
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                stanza.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn debian_12_packages_are_matched_by_source_package_and_version() {
    let tmp = tempfile::tempdir().unwrap();
    let img = image(
        tmp.path(),
        "debian",
        Layer::new()
            .file("etc/os-release", debian_os_release())
            .file("etc/debian_version", "12.11\n")
            .file("var/lib/dpkg/status", old_openssl_status()),
    );
    let (_, v, err) = scan(&img, full_db(), None);
    let cov = coverage(&v);
    assert_eq!(cov.len(), 1, "{cov:?} {err}");
    assert_eq!((cov[0].0.as_str(), cov[0].1.as_str()), ("dpkg", "checked"));
    assert_eq!(cov[0].3, "Debian:12");
    assert_eq!(cov[0].2, 15, "the 15 real stanzas");
    let found = vulns(&v);
    // Both binaries from source openssl, each with both advisories and their fixed versions.
    for pkg in ["libssl3", "openssl"] {
        for (id, fixed) in [
            ("DEBIAN-CVE-2023-5363", "3.0.11-1~deb12u2"),
            ("DEBIAN-CVE-2024-6119", "3.0.14-1~deb12u2"),
        ] {
            assert!(
                found
                    .iter()
                    .any(|f| f.0 == id && f.1 == pkg && f.2 == "3.0.11-1~deb12u1" && f.3 == [fixed]),
                "{pkg} {id}: {found:?}"
            );
        }
    }
    // Without Debian records the same image is not checked: a warning by default, a failure
    // in production — never a silent pass.
    let (code, v, _) = scan(&img, testdata_db(), None);
    assert_eq!(code, 0);
    assert!(vulns(&v).is_empty());
    assert_eq!(coverage(&v)[0].1, "not_checked");
    assert_eq!(rules(&v, "warn"), ["IG016"]);
    let (code, v, _) = scan(&img, testdata_db(), Some("policies/production.toml"));
    assert_eq!(code, 1, "{v}");
    assert!(rules(&v, "fail").contains(&"IG016".to_string()), "{v}");
}

#[test]
fn ubuntu_lts_releases_and_distroless_status_d() {
    let tmp = tempfile::tempdir().unwrap();
    let ubuntu = |release: &str, version: &str| {
        image(
            tmp.path(),
            &format!("ubuntu-{release}"),
            Layer::new()
                .file(
                    "etc/os-release",
                    format!("NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"{release}\"\n"),
                )
                .file(
                    "var/lib/dpkg/status",
                    format!(
                        "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n"
                    ),
                ),
        )
    };
    for (release, installed, fixed, ecosystem) in [
        ("22.04", "3.0.2-0ubuntu1.15", "3.0.2-0ubuntu1.18", "Ubuntu:22.04:LTS"),
        ("24.04", "3.0.13-0ubuntu3.1", "3.0.13-0ubuntu3.4", "Ubuntu:24.04:LTS"),
    ] {
        let (_, v, err) = scan(&ubuntu(release, installed), full_db(), None);
        assert_eq!(coverage(&v)[0].3, ecosystem, "{err}");
        assert_eq!(coverage(&v)[0].1, "checked");
        let found = vulns(&v);
        assert!(
            found
                .iter()
                .any(|f| f.0 == "USN-6986-1" && f.2 == installed && f.3 == [fixed]),
            "{release}: {found:?}"
        );
    }
    // Distroless: one stanza per file under status.d, no Status field.
    let img = image(
        tmp.path(),
        "distroless",
        Layer::new().file("etc/os-release", debian_os_release()).file(
            "var/lib/dpkg/status.d/libssl3",
            "Package: libssl3\nVersion: 3.0.11-1~deb12u1\nArchitecture: amd64\nSource: openssl\n",
        ),
    );
    let (_, v, _) = scan(&img, full_db(), None);
    assert_eq!(coverage(&v), [("dpkg".into(), "checked".into(), 1, "Debian:12".into())]);
    assert!(
        vulns(&v)
            .iter()
            .any(|f| f.0 == "DEBIAN-CVE-2023-5363" && f.1 == "libssl3")
    );
}

#[test]
fn sources_imagegate_does_not_read_are_named_with_their_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Layer, &str, &str)> = vec![
        (
            "rpm",
            Layer::new()
                .file("etc/os-release", "ID=fedora\nVERSION_ID=40\n")
                .file("var/lib/rpm/rpmdb.sqlite", "SQLite format 3\0"),
            "rpm",
            "var/lib/rpm/rpmdb.sqlite",
        ),
        (
            "python",
            Layer::new().file("etc/alpine-release", "3.20.3\n").file(
                "usr/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA",
                "Name: requests\nVersion: 2.31.0\n",
            ),
            "python",
            "usr/lib/python3.12/site-packages/requests-2.31.0.dist-info",
        ),
        (
            "scratch",
            Layer::new().exe("app", b"\x7fELF\x02\x01\x01\0 a static binary"),
            "os",
            "etc/os-release (missing)",
        ),
        (
            "yarn-pnp",
            Layer::new()
                .file("etc/alpine-release", "3.20.3\n")
                .file("app/.pnp.cjs", "module.exports = {};\n")
                .file(
                    "app/.yarn/cache/lodash-npm-4.17.20-0d4b5ba1b4-2a4c2a0bd4.zip",
                    "PK\x05\x06",
                ),
            "yarn-pnp",
            // A cache zip that is not a zip: not checked, by its path.
            "app/.yarn/cache/lodash-npm-4.17.20-0d4b5ba1b4-2a4c2a0bd4.zip",
        ),
    ];
    for (name, layer, source, path) in cases {
        let img = image(tmp.path(), name, layer);
        let (code, v, err) = scan(&img, testdata_db(), None);
        assert_eq!(code, 0, "{name}: the default policy warns: {err}");
        let entry = v["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["source"] == source)
            .unwrap_or_else(|| panic!("{name}: no {source} in {}", v["coverage"]));
        assert_eq!(entry["status"], "not_checked", "{name}");
        assert!(
            entry["paths"].as_array().unwrap().iter().any(|p| p == path),
            "{name}: {entry}"
        );
        let warning = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "IG018")
            .unwrap_or_else(|| panic!("{name}: no IG018"));
        assert_eq!(warning["level"], "warn");
        let message = warning["message"].as_str().unwrap();
        assert!(message.contains(source) && message.contains(path), "{name}: {message}");
        // The same image fails production.
        let (code, v, _) = scan(&img, testdata_db(), Some("policies/production.toml"));
        assert_eq!(code, 1, "{name}: {}", v["findings"]);
        assert!(rules(&v, "fail").contains(&"IG018".to_string()), "{name}");
        // The inventory lists it too, as not read.
        let r = imagegate().args(["inventory", &img, "--format", "json"]).run();
        let inv: Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(
            inv["coverage"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["source"] == source && c["status"] == "not_checked"),
            "{name}: {}",
            inv["coverage"]
        );
    }
}

#[test]
fn a_database_without_npm_records_leaves_npm_not_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let r = imagegate()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(repo_root().join("testdata/osv/alpine"))
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let demo = repo_root().join("testdata/demo/app.tar").display().to_string();
    let (_, v, _) = scan(&demo, &db, None);
    let npm = coverage(&v).into_iter().find(|c| c.0 == "npm").unwrap();
    assert_eq!(npm.1, "not_checked", "{npm:?}");
    let message = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "IG016")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .unwrap();
    assert!(message.contains("npm") && message.contains("NOT checked"), "{message}");
    // The table says so in its coverage line.
    let r = imagegate()
        .args(["scan", &demo, "--db"])
        .arg(&db)
        .current_dir(tmp.path())
        .run();
    let sources = r.stdout.lines().find(|l| l.starts_with("Sources")).unwrap_or("");
    assert!(
        sources.contains("not checked:") && sources.contains("npm"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_unreadable_package_database_stops_the_check_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, path) in [
        ("apk", "lib/apk/db/installed"),
        ("dpkg", "var/lib/dpkg/status"),
        ("distroless", "var/lib/dpkg/status.d/libssl3"),
    ] {
        let img = image(
            tmp.path(),
            &format!("corrupt-{name}"),
            Layer::new()
                .file("etc/os-release", debian_os_release())
                .file(path, b"Package: x\nVersion: \xff\xfe not UTF-8\n"),
        );
        let (code, v, err) = scan(&img, testdata_db(), None);
        assert_eq!(code, 2, "{name}: {v}");
        assert!(err.contains(path), "{name}: {err}");
        assert!(
            !err.contains('\u{fffd}') && !err.contains("\\xff"),
            "{name}: never the bytes: {err}"
        );
    }
}

#[test]
fn an_os_past_its_end_of_life_fails_production() {
    let tmp = tempfile::tempdir().unwrap();
    // Alpine v3.20's main repository was supported until 2026-04-01 (src/inventory/eol.rs).
    let img = image(tmp.path(), "eol", Layer::new().file("etc/alpine-release", "3.20.3\n"));
    let (code, v, _) = scan(&img, testdata_db(), None);
    assert_eq!(code, 0, "the default policy does not ask: {v}");
    assert!(!v["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "IG019"));
    let (code, v, _) = scan(&img, testdata_db(), Some("policies/production.toml"));
    assert_eq!(code, 1);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "IG019")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(f["level"], "fail");
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("Alpine v3.20") && message.contains("2026-04-01"),
        "{message}"
    );
}
