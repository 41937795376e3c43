//! Everything a Node image ships (issue 17): the Node.js runtime from nodejs.org, detected from
//! its version header, the config's `NODE_VERSION` and the `node` binary (streamed), matched
//! against the Node.js security WG's core records (`testdata/nodejs-security-wg/`, real).

use crate::support::*;
use serde_json::Value;
use std::path::Path;

/// `node_version.h` as the nodejs.org tarball installs it, reduced to the lines that matter.
fn header(major: u32, minor: u32, patch: u32) -> String {
    format!(
        "#ifndef SRC_NODE_VERSION_H_\n#define SRC_NODE_VERSION_H_\n\n#define NODE_MAJOR_VERSION {major}\n\
         #define NODE_MINOR_VERSION {minor}\n#define NODE_PATCH_VERSION {patch}\n\n#define NODE_VERSION_IS_LTS 1\n\
         #define NODE_VERSION_IS_RELEASE 1\n#endif\n"
    )
}

/// A stand-in for the `node` binary: megabytes of noise around the two markers a real one
/// carries (the inspector's `node.js/v…\0` and the release URL), plus a decoy `v9.9.9` that
/// is neither.
fn binary(version: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u32 = 0x1234_5678;
    let mut noise = |n: usize, out: &mut Vec<u8>| {
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out.push(x as u8);
        }
    };
    noise(3 << 20, &mut out);
    out.extend_from_slice(b"\0release/v9.9.9\0");
    out.extend_from_slice(format!("node.js/v{version}\0").as_bytes());
    noise(1 << 20, &mut out);
    out.extend_from_slice(
        format!("https://nodejs.org/download/release/v{version}/node-v{version}.tar.gz\0").as_bytes(),
    );
    noise(1 << 16, &mut out);
    out
}

fn os_layer() -> Layer {
    Layer::new()
        .file(
            "etc/os-release",
            "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        )
        .file("etc/debian_version", "12.7\n")
}

const NODE_STEP: &str = "RUN /bin/sh -c set -ex && curl -fsSLO https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-x64.tar.xz # buildkit";

fn write_image(spec: ImageSpec, dir: &Path) -> String {
    let img = spec.build();
    let mut layout = Layout::new();
    layout.add_image(&img, None);
    layout.write_dir(dir).unwrap();
    dir.display().to_string()
}

fn with_env(mut spec: ImageSpec, version: &str) -> ImageSpec {
    spec.env.push(format!("NODE_VERSION={version}"));
    spec
}

fn inventory(image: &str) -> Value {
    let r = imagegate().args(["inventory", image, "--format", "json"]).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

fn coverage(v: &Value, source: &str) -> Option<Value> {
    v["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == source)
        .cloned()
}

fn wg_db(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("db");
    let wg = repo_root().join("testdata/nodejs-security-wg");
    let r = imagegate()
        .args(["db", "import", "--db", db.to_str().unwrap(), wg.to_str().unwrap()])
        .run();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    db
}

fn scan(image: &str, db: &Path, dir: &Path) -> Value {
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[vulnerabilities]\nfail_on = \"none\"\nreport_from = \"all\"\n",
    )
    .unwrap();
    let r = imagegate()
        .args([
            "scan",
            image,
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
            "--policy",
        ])
        .arg(&policy)
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

fn runtime_findings(v: &Value) -> Vec<Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.get("vulnerability").filter(|v| !v.is_null()))
        .filter(|v| v["package"]["ecosystem"] == "Node.js")
        .cloned()
        .collect()
}

#[test]
fn the_header_alone_names_the_runtime_and_the_scan_says_what_to_upgrade_to() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = ImageSpec::new()
        .layer(os_layer(), Compression::Gzip, "ADD rootfs.tar.xz / # buildkit")
        .layer(
            Layer::new().file("usr/local/include/node/node_version.h", header(20, 17, 0)),
            Compression::Gzip,
            NODE_STEP,
        );
    let image = write_image(spec, &tmp.path().join("img"));
    let inv = inventory(&image);
    let rt = &inv["node_runtime"];
    assert_eq!(rt["version"], "20.17.0", "{inv}");
    assert_eq!(rt["decided_by"], "header");
    assert_eq!(rt["layer"]["index"], 1);
    let c = coverage(&inv, "node-runtime").expect("listed");
    assert_eq!((c["status"].as_str(), c["packages"].as_u64()), (Some("read"), Some(1)));

    let db = wg_db(tmp.path());
    let v = scan(&image, &db, tmp.path());
    let c = coverage(&v, "node-runtime").expect("coverage in the report");
    assert_eq!(c["status"], "checked", "{c}");
    let found = runtime_findings(&v);
    // CVE-2026-21717 (HashDoS in V8, march-2026 security release): patched ^20.20.2.
    let hashdos = found
        .iter()
        .find(|f| f["ids"].as_array().unwrap().iter().any(|i| i == "CVE-2026-21717"))
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(hashdos["id"], "CVE-2026-21717");
    assert_eq!(hashdos["fixed"], serde_json::json!(["20.20.2"]));
    assert_eq!(hashdos["remediation"], "upgrade Node.js 20.17.0 → 20.20.2");
    assert_eq!(hashdos["severity"]["level"], "medium", "{hashdos}");
    assert_eq!(hashdos["layer"]["index"], 1);
    assert!(hashdos["layer"]["created_by"].as_str().unwrap().contains("nodejs.org"));
    assert!(found.len() > 1, "20.17.0 has more than one published advisory");
}

#[test]
fn the_env_alone_is_used_and_said_to_be_unconfirmed() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = with_env(
        ImageSpec::new().layer(os_layer(), Compression::Gzip, "ADD rootfs.tar.xz / # buildkit"),
        "20.17.0",
    );
    let inv = inventory(&write_image(spec, &tmp.path().join("img")));
    assert_eq!(inv["node_runtime"]["version"], "20.17.0", "{inv}");
    assert_eq!(inv["node_runtime"]["decided_by"], "env");
    assert!(
        warnings(&inv)
            .iter()
            .any(|w| w.contains("only the image config's NODE_VERSION")),
        "{:?}",
        warnings(&inv)
    );
}

#[test]
fn header_and_env_disagreeing_is_a_warning_and_the_header_decides() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = with_env(
        ImageSpec::new()
            .layer(os_layer(), Compression::Gzip, "ADD rootfs.tar.xz / # buildkit")
            .layer(
                Layer::new().file("usr/local/include/node/node_version.h", header(22, 12, 0)),
                Compression::Gzip,
                NODE_STEP,
            ),
        "20.17.0",
    );
    let inv = inventory(&write_image(spec, &tmp.path().join("img")));
    assert_eq!(inv["node_runtime"]["version"], "22.12.0");
    assert_eq!(inv["node_runtime"]["decided_by"], "header");
    let w = warnings(&inv);
    assert!(
        w.iter()
            .any(|w| w.contains("NODE_VERSION says Node.js 20.17.0") && w.contains("using 22.12.0")),
        "{w:?}"
    );
}

#[test]
fn the_binary_alone_is_scanned_as_a_stream_and_decides() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = with_env(
        ImageSpec::new()
            .layer(os_layer(), Compression::Gzip, "ADD rootfs.tar.xz / # buildkit")
            .layer(
                Layer::new().exe("usr/local/bin/node", binary("20.17.0")),
                Compression::Gzip,
                NODE_STEP,
            ),
        "20.16.0",
    );
    let inv = inventory(&write_image(spec, &tmp.path().join("img")));
    let rt = &inv["node_runtime"];
    assert_eq!(rt["version"], "20.17.0", "{inv}");
    assert_eq!(rt["decided_by"], "binary");
    assert_eq!(rt["paths"], serde_json::json!(["usr/local/bin/node"]));
    assert!(
        warnings(&inv).iter().any(|w| w.contains("20.16.0")),
        "the stale env is reported"
    );
}

#[test]
fn a_binary_without_a_marker_leaves_the_runtime_not_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = ImageSpec::new()
        .layer(os_layer(), Compression::Gzip, "ADD rootfs.tar.xz / # buildkit")
        .layer(
            Layer::new().exe("usr/local/bin/node", vec![0u8; 100_000]),
            Compression::Gzip,
            NODE_STEP,
        );
    let inv = inventory(&write_image(spec, &tmp.path().join("img")));
    assert!(inv.get("node_runtime").is_none_or(Value::is_null), "{inv}");
    let c = coverage(&inv, "node-runtime").expect("still listed");
    assert_eq!(c["status"], "not_checked");
    assert!(warnings(&inv).iter().any(|w| w.contains("no version marker")));
}

#[test]
fn an_apk_owned_nodejs_is_left_to_the_os_advisories() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = with_env(
        ImageSpec::new().layer(
            Layer::new()
                .file("etc/alpine-release", "3.20.3\n")
                .file("etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\n")
                .file(
                    "lib/apk/db/installed",
                    "P:nodejs\nV:20.15.1-r0\nA:x86_64\no:nodejs\nL:MIT\n\n",
                )
                .file("usr/local/include/node/node_version.h", header(20, 15, 1)),
            Compression::Gzip,
            "RUN apk add nodejs",
        ),
        "20.15.1",
    );
    let inv = inventory(&write_image(spec, &tmp.path().join("img")));
    assert!(inv.get("node_runtime").is_none_or(Value::is_null), "{inv}");
    assert!(coverage(&inv, "node-runtime").is_none(), "{inv}");
}

#[test]
fn a_database_without_node_js_records_leaves_the_runtime_not_checked_with_the_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let npm = repo_root().join("testdata/osv/npm");
    let r = imagegate()
        .args(["db", "import", "--db", db.to_str().unwrap(), npm.to_str().unwrap()])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let spec = ImageSpec::new().layer(
        os_layer().file("usr/local/include/node/node_version.h", header(20, 17, 0)),
        Compression::Gzip,
        "ADD rootfs.tar.xz / # buildkit",
    );
    let image = write_image(spec, &tmp.path().join("img"));
    let v = scan(&image, &db, tmp.path());
    let ig016 = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "IG016" && f["message"].as_str().unwrap().contains("Node.js"))
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert!(ig016["message"].as_str().unwrap().contains("db import"), "{ig016}");
    assert!(runtime_findings(&v).is_empty());
}

/// A runtime that dpkg installed is the OS's to report, however the package is named: its
/// file list (`var/lib/dpkg/info/*.list`) owning the runtime's path is enough. Without the
/// list the same files are the nodejs.org runtime.
#[test]
fn a_dpkg_file_list_owning_the_runtime_leaves_it_to_the_os() {
    let tmp = tempfile::tempdir().unwrap();
    let status =
        "Package: node-runtime-repack\nStatus: install ok installed\nArchitecture: amd64\nVersion: 20.15.1-1\n";
    let list = "/.\n/usr\n/usr/local\n/usr/local/bin\n/usr/local/bin/node\n/usr/local/include\n\
                /usr/local/include/node\n/usr/local/include/node/node_version.h\n";
    let image = |name: &str, with_list: bool| {
        let mut layer = os_layer()
            .file("var/lib/dpkg/status", status)
            .file("usr/local/bin/node", binary("20.15.1"))
            .file("usr/local/include/node/node_version.h", header(20, 15, 1));
        if with_list {
            layer = layer.file("var/lib/dpkg/info/node-runtime-repack.list", list);
        }
        let spec = with_env(
            ImageSpec::new().layer(layer, Compression::Gzip, "RUN dpkg -i node.deb"),
            "20.15.1",
        );
        write_image(spec, &tmp.path().join(name))
    };
    let inv = inventory(&image("without-list", false));
    assert_eq!(inv["node_runtime"]["version"], "20.15.1", "{inv}");

    let inv = inventory(&image("with-list", true));
    assert!(inv.get("node_runtime").is_none_or(Value::is_null), "{inv}");
    assert!(coverage(&inv, "node-runtime").is_none(), "{inv}");
    let deb = &inv["deb"][0];
    assert_eq!(deb["name"], "node-runtime-repack");
    assert_eq!(deb["files"]["count"], 2, "leaf paths only: {deb}");
    assert_eq!(deb["files"]["executables"], serde_json::json!(["usr/local/bin/node"]));
}

/// Debian's own `nodejs` owns `usr/bin/node` (its real list names it); the runtime reader
/// looks only where the nodejs.org tarball puts it, so nothing is reported twice.
#[test]
fn debian_s_nodejs_package_is_not_also_a_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let status =
        "Package: nodejs\nStatus: install ok installed\nArchitecture: amd64\nVersion: 18.19.0+dfsg-6~deb12u2\n";
    let list = "/.\n/usr\n/usr/bin\n/usr/bin/node\n/usr/bin/nodejs\n/usr/share\n/usr/share/doc\n/usr/share/doc/nodejs\n\
                /usr/share/doc/nodejs/changelog.Debian.gz\n/usr/share/man\n/usr/share/man/man1\n/usr/share/man/man1/node.1.gz\n";
    let spec = with_env(
        ImageSpec::new().layer(
            os_layer()
                .file("var/lib/dpkg/status", status)
                .file("var/lib/dpkg/info/nodejs.list", list)
                .file("usr/bin/node", binary("18.19.0")),
            Compression::Gzip,
            "RUN apt-get install -y nodejs",
        ),
        "18.19.0",
    );
    let inv = inventory(&write_image(spec, &tmp.path().join("img")));
    assert!(inv.get("node_runtime").is_none_or(Value::is_null), "{inv}");
    let deb = &inv["deb"][0];
    assert_eq!(deb["files"]["count"], 4, "{deb}");
    assert_eq!(
        deb["files"]["executables"],
        serde_json::json!(["usr/bin/node", "usr/bin/nodejs"])
    );
}
