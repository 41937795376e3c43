//! Debian and Ubuntu, end to end as far as the pieces go today: `imagegate db update
//! --ecosystem Debian --ecosystem Ubuntu` against a bucket-like server on 127.0.0.1 (OSV's
//! layout `<base>/Debian/all.zip`, `<base>/Ubuntu/all.zip`, built from `testdata/osv/`), the
//! index it builds, and the real Debian 12 dpkg database of `testdata/debian-12` matched
//! against it through its source packages and source versions.

use crate::support::http::HttpServer;
use crate::support::{imagegate, repo_root};
use imagegate::advisory::matcher;
use imagegate::advisory::osv::{Ecosystem, Record};
use imagegate::advisory::{db, index::Index};
use imagegate::inventory::{dpkg, os};
use std::io::Write;
use std::path::{Path, PathBuf};

fn dump(dir: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo_root().join("testdata/osv").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file(p.file_name().unwrap().to_string_lossy(), opts).unwrap();
        w.write_all(&std::fs::read(&p).unwrap()).unwrap();
    }
    w.finish().unwrap();
    buf.into_inner()
}

fn updated_db() -> (tempfile::TempDir, PathBuf, String, HttpServer) {
    let server = HttpServer::start();
    server.put("/Debian/all.zip", dump("debian"));
    server.put("/Ubuntu/all.zip", dump("ubuntu"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let r = imagegate()
        .args([
            "db",
            "update",
            "--ecosystem",
            "Debian",
            "--ecosystem",
            "Ubuntu",
            "--mirror",
            server.url(),
            "--db",
        ])
        .arg(&dir)
        .run();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    (tmp, dir, r.stdout, server)
}

#[test]
fn db_update_fetches_debian_and_ubuntu_and_indexes_them_per_release() {
    let (_tmp, dir, stdout, _server) = updated_db();
    assert!(stdout.contains("Debian") && stdout.contains("Ubuntu"), "{stdout}");
    let index = db::open(&dir).unwrap();
    let per: Vec<(&str, usize)> = index.meta().ecosystems.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        per,
        [("Debian:12", 3), ("Ubuntu:22.04:LTS", 2), ("Ubuntu:24.04:LTS", 1)],
        "every record kept, none dropped as an unknown ecosystem"
    );
    let ids = |eco: &str, name: &str| -> Vec<String> {
        let mut ids: Vec<String> = index.lookup(eco, name).unwrap().into_iter().map(|r| r.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids("Debian:12", "openssl"),
        ["DEBIAN-CVE-2023-5363", "DEBIAN-CVE-2024-6119"]
    );
    assert_eq!(ids("Ubuntu:22.04:LTS", "openssl"), ["USN-6986-1"]);
    assert_eq!(ids("Ubuntu:22.04:LTS", "glibc"), ["USN-6409-1"]);
    assert!(
        ids("Debian:12", "libssl3").is_empty(),
        "records are keyed by source package"
    );

    let status = imagegate().args(["db", "status", "--db"]).arg(&dir).run();
    assert!(
        status.code == 0 && status.stdout.contains("Ubuntu:22.04:LTS"),
        "{}",
        status.stdout
    );
}

/// (package, source version, advisory id, fixed versions) for every affected package.
fn findings(index: &Index, eco: &Ecosystem, status: &dpkg::Status) -> Vec<(String, String, String, Vec<String>)> {
    let mut out = Vec::new();
    for r in &status.records {
        let records: Vec<Record> = index.lookup(&eco.to_string(), r.source_name()).unwrap();
        for rec in &records {
            if let Some(m) = matcher::affected(rec, eco, r.source_name(), r.source_version()).unwrap() {
                out.push((r.name().to_string(), r.source_version().to_string(), m.id, m.fixed));
            }
        }
    }
    out.sort();
    out
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join("testdata/debian-12").join(rel)).unwrap()
}

#[test]
fn a_real_debian_12_database_matched_through_its_source_packages() {
    let (_tmp, dir, _, _server) = updated_db();
    let index = db::open(Path::new(&dir)).unwrap();
    let (info, warnings) = os::identify_with_debian_version(
        Some(&read("etc/os-release")),
        None,
        None,
        Some(&read("etc/debian_version")),
    );
    assert!(warnings.is_empty());
    let eco = Ecosystem::of_os(&info.unwrap()).unwrap();
    assert_eq!(eco.to_string(), "Debian:12");

    // As shipped (openssl 3.0.19-1~deb12u2, glibc 2.36-9+deb12u14): nothing to report.
    let status_text = read("var/lib/dpkg/status");
    let status = dpkg::parse_status(status_text.as_bytes(), 64 << 20).unwrap();
    assert!(status.records.len() >= 15);
    assert_eq!(findings(&index, &eco, &status), []);

    // The same database with the openssl of Debian 12.2 (3.0.11-1~deb12u1) and an older
    // glibc: libssl3 and openssl are affected through source openssl, libc6 and libc-bin
    // through source glibc.
    let old = status_text
        .replace("3.0.19-1~deb12u2", "3.0.11-1~deb12u1")
        .replace("2.36-9+deb12u14", "2.36-9+deb12u2");
    let status = dpkg::parse_status(old.as_bytes(), 64 << 20).unwrap();
    let got = findings(&index, &eco, &status);
    let want = |pkg: &str, v: &str, id: &str, fixed: &str| {
        (pkg.to_string(), v.to_string(), id.to_string(), vec![fixed.to_string()])
    };
    assert_eq!(
        got,
        [
            want("libc-bin", "2.36-9+deb12u2", "DEBIAN-CVE-2023-4911", "2.36-9+deb12u3"),
            want("libc6", "2.36-9+deb12u2", "DEBIAN-CVE-2023-4911", "2.36-9+deb12u3"),
            want(
                "libssl3",
                "3.0.11-1~deb12u1",
                "DEBIAN-CVE-2023-5363",
                "3.0.11-1~deb12u2"
            ),
            want(
                "libssl3",
                "3.0.11-1~deb12u1",
                "DEBIAN-CVE-2024-6119",
                "3.0.14-1~deb12u2"
            ),
            want(
                "openssl",
                "3.0.11-1~deb12u1",
                "DEBIAN-CVE-2023-5363",
                "3.0.11-1~deb12u2"
            ),
            want(
                "openssl",
                "3.0.11-1~deb12u1",
                "DEBIAN-CVE-2024-6119",
                "3.0.14-1~deb12u2"
            ),
        ]
    );
    // The Ubuntu records say nothing about a Debian image.
    let jammy = Ecosystem::ubuntu("22.04", true);
    assert!(index.lookup(&eco.to_string(), "openssl").unwrap().iter().all(|r| {
        matcher::affected(r, &jammy, "openssl", "3.0.11-1~deb12u1")
            .unwrap()
            .is_none()
    }));
}

/// `inventory --format json` of an OCI layout holding `layer`.
fn inventory_of(layer: crate::support::Layer) -> serde_json::Value {
    use crate::support::{Compression, ImageSpec, imagegate, oci_layout};
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageSpec::new()
        .layer(layer, Compression::Gzip, "RUN apt-get install -y openssl")
        .build();
    let dir = tmp.path().join("img");
    oci_layout(&img, None).write_dir(&dir).unwrap();
    let r = imagegate()
        .args(["inventory", dir.to_str().unwrap(), "--format", "json"])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

fn deb<'a>(inv: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    inv["deb"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name}: {inv}"))
}

/// The real file lists of Debian 12's `openssl` and `libssl3` (`info/libssl3:amd64.list`, named
/// with the architecture of a `Multi-Arch: same` package) say which programs and libraries
/// each package owns; the bulk of a list (documentation, man pages, directories) is counted,
/// not kept. A package without a list has no `files`.
#[test]
fn real_dpkg_file_lists_say_which_programs_and_libraries_a_package_owns() {
    let info = "var/lib/dpkg/info";
    let openssl_list = read(&format!("{info}/openssl.list"));
    let inv = inventory_of(
        crate::support::Layer::new()
            .file("etc/os-release", read("etc/os-release"))
            .file("var/lib/dpkg/status", read("var/lib/dpkg/status"))
            .file("var/lib/dpkg/info/openssl.list", &openssl_list)
            .file(
                "var/lib/dpkg/info/libssl3:amd64.list",
                read(&format!("{info}/libssl3:amd64.list")),
            ),
    );
    let openssl = &deb(&inv, "openssl")["files"];
    let listed_files = openssl_list
        .lines()
        .filter(|l| !openssl_list.lines().any(|o| o.starts_with(&format!("{l}/"))))
        .filter(|l| *l != "/.")
        .count();
    assert_eq!(openssl["count"], listed_files, "{openssl}");
    let exes: Vec<&str> = openssl["executables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(exes.contains(&"usr/bin/openssl"), "{exes:?}");
    assert!(
        exes.iter()
            .all(|e| !e.starts_with("usr/share/") && !e.starts_with("etc/")),
        "{exes:?}"
    );
    let libssl = &deb(&inv, "libssl3")["files"];
    assert!(
        libssl["executables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "usr/lib/x86_64-linux-gnu/libssl.so.3"),
        "{libssl}"
    );
    assert!(deb(&inv, "zlib1g").get("files").is_none(), "no list, no files");
}

/// A file list says what a package owns, not which packages are installed: one that cannot
/// be read is a warning naming it, and the package is still listed (and checked).
#[test]
fn an_unreadable_file_list_is_a_warning_not_a_hidden_package() {
    let mut bad = b"/usr/bin/openssl\n".to_vec();
    bad.push(0xff);
    let inv = inventory_of(
        crate::support::Layer::new()
            .file("etc/os-release", read("etc/os-release"))
            .file("var/lib/dpkg/status", read("var/lib/dpkg/status"))
            .file("var/lib/dpkg/info/openssl.list", bad),
    );
    assert!(deb(&inv, "openssl").get("files").is_none());
    let warnings = inv["warnings"].to_string();
    assert!(warnings.contains("var/lib/dpkg/info/openssl.list"), "{warnings}");
    assert!(warnings.contains("not valid UTF-8"), "{warnings}");
}
