//! Hostile images and records (issue 12): inputs a fuzzer found that cost minutes, gigabytes,
//! a silently empty inventory or a leaked secret. Each test builds the input in memory, runs
//! the binary as a user would, and checks the exit code, the time or the message.

use crate::support::*;
use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary; a run past `limit` is killed (and fails the test through its exit code).
fn imagegate(args: &[&str], stdin: Option<Vec<u8>>, limit: Duration) -> Out {
    let mut cmd = Command::cargo_bin("imagegate").expect("the imagegate binary is built");
    cmd.args(args).timeout(limit).env_remove("IMAGEGATE_LOG");
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.output().expect("running imagegate");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn inventory(image: &str, stdin: Option<Vec<u8>>, limit: Duration) -> Out {
    imagegate(&["inventory", image, "--format", "json"], stdin, limit)
}

fn ok_json(out: &Out, what: &str) -> Value {
    assert_eq!(
        out.code,
        Some(0),
        "{what} must pass\n--- stderr\n{}\n--- stdout\n{}",
        out.stderr,
        out.stdout
    );
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", out.stdout))
}

/// Exit 2 with a message and no report, never a panic.
fn fails(out: &Out, what: &str) -> String {
    assert_eq!(
        out.code,
        Some(2),
        "{what} must exit 2\n--- stderr\n{}\n--- stdout\n{}",
        out.stderr,
        out.stdout
    );
    assert!(
        !out.stderr.contains("panicked"),
        "a panic is not a message:\n{}",
        out.stderr
    );
    assert!(out.stdout.trim().is_empty(), "no report on an error:\n{}", out.stdout);
    out.stderr.clone()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("writing a test file");
    p
}

fn s(p: &Path) -> String {
    p.to_str().expect("UTF-8 temp path").to_string()
}

fn npm_count(v: &Value) -> usize {
    v["npm"].as_array().map_or(0, Vec::len)
}

// ---------------------------------------------------------------------------------------------
// 1. Whiteouts repeated many times merge in linear time
// ---------------------------------------------------------------------------------------------

const MANY: usize = 20_000;

fn many_packages() -> Layer {
    let mut layer = Layer::new();
    for i in 0..MANY {
        layer = layer.file(
            &format!("app/node_modules/p{i}/package.json"),
            package_json(&format!("p{i}"), "1.0.0", "MIT"),
        );
    }
    layer
}

fn merge_case(markers: Layer) -> (Value, Duration) {
    let img = ImageSpec::new()
        .layer(many_packages(), Compression::Gzip, "COPY node_modules /app/")
        .layer(markers, Compression::Gzip, "RUN rm -rf /app/node_modules")
        .build();
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write(dir.path(), "img.tar", &docker_classic(&[(&img, &["many:1"])]));
    let start = Instant::now();
    // Before the fix 8,000 copies took 32 s and 20,000 more than 120 s (release build).
    let out = inventory(&s(&path), None, Duration::from_secs(60));
    let took = start.elapsed();
    (ok_json(&out, "an image with 20,000 copies of a whiteout"), took)
}

#[test]
fn twenty_thousand_copies_of_one_whiteout_merge_quickly() {
    let mut markers = Layer::new();
    for _ in 0..MANY {
        markers = markers.whiteout("app/node_modules");
    }
    let (v, took) = merge_case(markers);
    assert_eq!(npm_count(&v), 0, "the whiteout deletes every package below it");
    assert!(took < Duration::from_secs(60), "{took:?}");
}

#[test]
fn twenty_thousand_root_opaque_markers_merge_quickly() {
    let mut markers = Layer::new().file("etc/alpine-release", "3.20.3\n");
    for _ in 0..MANY {
        markers = markers.raw_file(b".wh..wh..opq", "");
    }
    let (v, took) = merge_case(markers);
    assert_eq!(npm_count(&v), 0, "the root's opaque marker hides every lower file");
    let files: Vec<&str> = v["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(files, ["etc/alpine-release"], "only the top layer's own file is left");
    assert!(took < Duration::from_secs(60), "{took:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. Tar extension headers are capped before they are buffered
// ---------------------------------------------------------------------------------------------

fn one_layer_image(layer: Layer) -> Vec<u8> {
    let img = ImageSpec::new()
        .layer(
            Layer::new().file("etc/alpine-release", "3.20.3\n"),
            Compression::Gzip,
            "ADD rootfs /",
        )
        .layer(layer, Compression::Gzip, "COPY . /app/")
        .build();
    docker_classic(&[(&img, &["ext:1"])])
}

#[test]
fn a_path_longer_than_64_kib_is_an_error_naming_the_layer() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let name = format!("app/{}", "x".repeat(100 << 10));
    for (kind, layer) in [
        ("gnu", Layer::new().raw_file(name.as_bytes(), "hi")),
        // Over the PAX header cap (1 MiB) too.
        (
            "pax",
            Layer::new()
                .pax_long_names()
                .raw_file(format!("app/{}", "y".repeat(2 << 20)).as_bytes(), "hi"),
        ),
    ] {
        let path = write(dir.path(), &format!("{kind}.tar"), &one_layer_image(layer));
        let err = fails(&inventory(&s(&path), None, Duration::from_secs(60)), kind);
        assert!(err.contains("layer 1"), "{kind}: the layer is named:\n{err}");
        let what = if kind == "gnu" { "GNU long name" } else { "PAX header" };
        assert!(err.contains(what) && err.contains("cap"), "{kind}: says why:\n{err}");
    }
    // A long name under the cap (4 KiB, deep node_modules trees have them) still reads.
    let deep = format!("app/{}/f", "d".repeat(4 << 10));
    let path = write(dir.path(), "ok.tar", &one_layer_image(Layer::new().file(&deep, "hi")));
    let v = ok_json(&inventory(&s(&path), None, Duration::from_secs(60)), "a 4 KiB path");
    assert!(
        v["files"]
            .as_array()
            .expect("files")
            .iter()
            .any(|f| f["path"] == deep.as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Error messages never quote the bytes of what they could not read
// ---------------------------------------------------------------------------------------------

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn secrets_env() -> Vec<u8> {
    // AWS's documented example keys, over one tar block so a header parse is attempted.
    format!("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
        .repeat(20)
        .into_bytes()
}

#[test]
fn a_file_that_is_not_an_image_is_named_and_never_quoted() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (name, bytes) in [
        ("secrets.env", secrets_env()),
        ("short.env", b"TOKEN=abcdef0123\n".to_vec()),
    ] {
        let path = write(dir.path(), name, &bytes);
        for out in [
            inventory(&s(&path), None, Duration::from_secs(60)),
            inventory("-", Some(bytes.clone()), Duration::from_secs(60)),
            imagegate(
                &["scan", &s(&path), "--db", &s(dir.path())],
                None,
                Duration::from_secs(60),
            ),
        ] {
            let err = fails(&out, name);
            assert!(
                !err.contains("wJal") && !err.contains("AKIA") && !err.contains("abcdef"),
                "{err}"
            );
            if !err.contains("advisory database") {
                assert!(
                    err.contains("not a tar archive, an OCI layout or a docker save stream"),
                    "says what the file is not:\n{err}"
                );
            }
        }
    }
}

#[test]
fn json_errors_in_manifests_and_configs_give_positions_not_values() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // A manifest of the wrong shape whose strings are secrets: serde_json would quote them.
    let mut files = Layer::new().file("manifest.json", format!("[\"{SECRET}\", 1]"));
    files = files.file("config.json", format!("{{\"architecture\": [\"{SECRET}\"]}}"));
    let path = write(dir.path(), "lying.tar", &files.tar());
    let err = fails(&inventory(&s(&path), None, Duration::from_secs(60)), "a bad manifest");
    assert!(!err.contains("wJal"), "{err}");
    assert!(
        err.contains("manifest.json") && err.contains("line 1"),
        "names the file and position:\n{err}"
    );
    // The same for a config whose field has the wrong type.
    let img = ImageSpec::new()
        .layer(Layer::new().file("a", "b"), Compression::Gzip, "ADD a /")
        .faults(Faults {
            edit_config: Some(|_| format!("{{\"architecture\": [\"{SECRET}\"], \"os\": 7}}").into_bytes()),
            ..Faults::default()
        })
        .build();
    let path = write(dir.path(), "config.tar", &docker_classic(&[(&img, &["c:1"])]));
    let err = fails(&inventory(&s(&path), None, Duration::from_secs(60)), "a bad config");
    assert!(!err.contains("wJal"), "{err}");
    assert!(err.contains("line 1"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// 6. A layer whose first entry is named `{…` or `[…` is a layer in a stream too
// ---------------------------------------------------------------------------------------------

#[test]
fn a_layer_whose_first_entry_looks_like_json_reads_from_a_stream() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for first in ["{app}", "[config].txt"] {
        let img = ImageSpec::new()
            .layer(
                Layer::new()
                    .without_parents()
                    .file(first, "x")
                    .file("etc/alpine-release", "3.20.3\n"),
                Compression::None,
                "ADD rootfs /",
            )
            .build();
        let archive = docker_classic(&[(&img, &["json:1"])]);
        let path = write(dir.path(), "plain.tar", &archive);
        let plain = ok_json(&inventory(&s(&path), None, Duration::from_secs(60)), "read as a path");
        let from_stdin = ok_json(
            &inventory("-", Some(archive.clone()), Duration::from_secs(60)),
            "from stdin",
        );
        let gz = write(dir.path(), "img.tar.gz", &gzip(&archive));
        let compressed = ok_json(&inventory(&s(&gz), None, Duration::from_secs(60)), "a gzipped archive");
        for v in [&plain, &from_stdin, &compressed] {
            assert_eq!(v["os"], plain["os"]);
            assert!(
                v["files"].as_array().expect("files").iter().any(|f| f["path"] == first),
                "{first}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. A package database or lockfile we cannot read stops the scan
// ---------------------------------------------------------------------------------------------

const DB_CAP: u64 = 64 << 20;

fn alpine_then(top: PrebuiltLayer) -> Vec<u8> {
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, "ADD alpine-minirootfs /")
        .prebuilt(top, "RUN apk add --no-cache something")
        .build();
    docker_classic(&[(&img, &["db:1"])])
}

#[test]
fn an_apk_database_one_byte_over_the_cap_is_fatal() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let tail = alpine_installed();
    let archive = alpine_then(sparse_layer("lib/apk/db/installed", DB_CAP + 1, tail.as_bytes()));
    assert!(
        archive.len() < 100 << 10,
        "the hostile image is small: {} bytes",
        archive.len()
    );
    let path = write(dir.path(), "big-db.tar", &archive);
    let err = fails(
        &inventory(&s(&path), None, Duration::from_secs(60)),
        "an over-cap apk db",
    );
    assert!(err.contains("lib/apk/db/installed") && err.contains("layer 1"), "{err}");
    assert!(err.contains("cap"), "{err}");
    // At the cap exactly it is read (the packages are in its last bytes).
    let archive = alpine_then(sparse_layer("lib/apk/db/installed", DB_CAP, tail.as_bytes()));
    let path = write(dir.path(), "at-cap.tar", &archive);
    let out = inventory(&s(&path), None, Duration::from_secs(120));
    let v = ok_json(&out, "an apk db at the cap");
    assert!(
        v["apk"].as_array().expect("apk").iter().any(|p| p["name"] == "musl"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_apk_database_that_is_not_utf8_or_cut_short_is_fatal() {
    // The database is read as the layer streams: a bad line deep in it, or the layer ending
    // inside it, must still stop the scan (exit 2, the layer and path named), never list the
    // stanzas read before it as the image's packages.
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut db = alpine_installed().into_bytes();
    let at = db.len() / 2;
    db.splice(at..at, b"\nT:\xff\xfe\n".iter().copied());
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, "ADD alpine-minirootfs /")
        .layer(
            Layer::new().file("lib/apk/db/installed", db),
            Compression::Gzip,
            "RUN apk add --no-cache something",
        )
        .build();
    let path = write(dir.path(), "bad-db.tar", &docker_classic(&[(&img, &["db:1"])]));
    let err = fails(
        &inventory(&s(&path), None, Duration::from_secs(60)),
        "a non-UTF-8 apk db",
    );
    for part in ["lib/apk/db/installed", "layer 1", "not valid UTF-8 (line"] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert!(
        !err.contains('\u{fffd}') && !err.contains("\\xff"),
        "the bytes are not quoted: {err}"
    );

    // The layer's tar cut in the middle of the database (its digests those of the cut tar,
    // so only the cut itself is wrong).
    let big = format!("{}{}", alpine_installed(), "P:pad\nV:1-r0\n\n".repeat(4000));
    let tar = Layer::new().file("lib/apk/db/installed", big.as_bytes()).tar();
    let cut = &tar[..1024 + big.len() / 2];
    let archive = alpine_then(PrebuiltLayer {
        blob: gzip(cut),
        compression: Compression::Gzip,
        diff_id: digest_of(cut),
        tar_len: cut.len() as u64,
    });
    let path = write(dir.path(), "cut-db.tar", &archive);
    let err = fails(
        &inventory(&s(&path), None, Duration::from_secs(60)),
        "an apk db cut short",
    );
    assert!(err.contains("layer 1") && err.contains("lib/apk/db/installed"), "{err}");
}

#[test]
fn an_npm_lockfile_over_the_cap_or_unreadable_is_fatal() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for lock in ["app/node_modules/.package-lock.json", "app/package-lock.json"] {
        let archive = alpine_then(sparse_layer(lock, DB_CAP + 1, b"{}"));
        let path = write(dir.path(), "big-lock.tar", &archive);
        let err = fails(&inventory(&s(&path), None, Duration::from_secs(60)), lock);
        assert!(err.contains(lock) && err.contains("layer 1"), "{err}");
        let img = ImageSpec::new()
            .layer(
                Layer::new().file(lock, "{\"packages\": [1, 2"),
                Compression::Gzip,
                "COPY . /app",
            )
            .build();
        let path = write(dir.path(), "bad-lock.tar", &docker_classic(&[(&img, &["l:1"])]));
        let err = fails(&inventory(&s(&path), None, Duration::from_secs(60)), lock);
        assert!(err.contains(lock) && err.contains("lockfile"), "{err}");
    }
    // One package.json over 1 MiB is one package's manifest: a warning, as before.
    let archive = alpine_then(sparse_layer("app/node_modules/x/package.json", (1 << 20) + 1, b"{}"));
    let path = write(dir.path(), "big-manifest.tar", &archive);
    let v = ok_json(
        &inventory(&s(&path), None, Duration::from_secs(60)),
        "a big package.json",
    );
    let warned = v["warnings"].as_array().expect("warnings");
    assert!(
        warned
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("package.json"))),
        "{v}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. OSV records with fields longer than any real record are skipped at import
// ---------------------------------------------------------------------------------------------

#[test]
fn an_osv_record_with_a_15_million_character_id_is_skipped_and_counted() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let osv = dir.path().join("osv");
    std::fs::create_dir(&osv).expect("mkdir");
    // A real record (testdata/osv: GitHub's advisory for lodash), and hostile copies of it.
    let real = std::fs::read_to_string(repo_root().join("testdata/osv/npm/GHSA-35jh-r3h4-6jhm.json")).expect("read");
    let mut v: Value = serde_json::from_str(&real).expect("JSON");
    v["id"] = Value::String("G".repeat(15_000_000));
    write(&osv, "long-id.json", &serde_json::to_vec(&v).expect("JSON"));
    let mut v: Value = serde_json::from_str(&real).expect("JSON");
    v["id"] = "HOSTILE-SUMMARY".into();
    v["summary"] = Value::String("s".repeat(1 << 20));
    write(&osv, "long-summary.json", &serde_json::to_vec(&v).expect("JSON"));
    write(&osv, "real.json", real.as_bytes());
    let db = dir.path().join("db");
    let start = Instant::now();
    let out = imagegate(
        &["db", "import", "--db", &s(&db), &s(&osv)],
        None,
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("Imported 1 record "), "{}", out.stdout);
    assert!(out.stdout.contains("Skipped 2 records"), "{}", out.stdout);
    assert!(out.stderr.contains("an id of 15000000 bytes"), "{}", out.stderr);
    assert!(out.stderr.contains("a summary of 1048576 bytes"), "{}", out.stderr);
    assert!(out.stderr.len() < 10_000, "warnings never quote the field");
    assert!(start.elapsed() < Duration::from_secs(30));
}

// ---------------------------------------------------------------------------------------------
// 8. An audit keeps a row for every repository that holds a shared digest
// ---------------------------------------------------------------------------------------------

#[test]
fn audit_keeps_every_repository_that_shares_a_digest() {
    let registry = crate::support::registry::Registry::start();
    let shared = passing_spec("shared").build();
    registry.push("team/web", Some("1.0"), &shared);
    registry.push("team/api", Some("1.0"), &shared);
    registry.push("team/api", Some("latest"), &shared);
    registry.push("team/other", Some("2.0"), &passing_spec("other").build());
    let home = tempfile::tempdir().expect("a temp dir");
    let db = home.path().join("db");
    import_testdata_db(&db);
    let out = home.path().join("out");
    let run = Command::cargo_bin("imagegate")
        .expect("binary")
        .args(["audit", registry.addr(), "--db", &s(&db), "--out", &s(&out)])
        .env("HOME", home.path())
        .env("IMAGEGATE_CACHE_DIR", home.path().join("cache"))
        .env("DOCKER_CONFIG", home.path().join("docker"))
        .env_remove("IMAGEGATE_DB")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(120))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}\n{stdout}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary.json")).expect("JSON");
    let rows: Vec<(String, Value, Option<&str>)> = summary["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| {
            (
                i["repository"].as_str().unwrap_or("").to_string(),
                i["tags"].clone(),
                i["digest"].as_str(),
            )
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["team/api", "team/other", "team/web"], "{summary}");
    assert_eq!(rows[0].1, serde_json::json!(["1.0", "latest"]));
    assert_eq!(rows[2].1, serde_json::json!(["1.0"]), "team/web's tags are its own");
    assert_eq!(rows[0].2, rows[2].2, "one digest");
    assert!(stdout.contains("team/web") && stdout.contains("team/api"), "{stdout}");
    // The shared image was scanned once.
    assert_eq!(stderr.matches("  pass").count(), 2, "{stderr}");
}
