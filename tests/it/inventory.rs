//! End-to-end tests of `imagegate inventory`: images are built in memory by `tests/it/support`
//! (real Alpine 3.20.3 files for the base layer), written in every container format the command
//! reads, and the binary is run as a user would run it. Assertions are on the exit code and on
//! what a user reads: the JSON report's packages, versions, paths and layers, and the error
//! message naming the image, layer and entry.

use crate::support::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn imagegate(args: &[&str], stdin: Option<Vec<u8>>) -> Out {
    let mut cmd = crate::support::imagegate();
    cmd.args(args).timeout(Duration::from_secs(120));
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.output();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `imagegate inventory IMAGE --format json EXTRA...`: must exit 0 with a schema-1 report.
fn inventory_json_with(image: &str, extra: &[&str], stdin: Option<Vec<u8>>) -> Value {
    let mut args = vec!["inventory", image, "--format", "json"];
    args.extend_from_slice(extra);
    let out = imagegate(&args, stdin);
    assert_eq!(
        out.code,
        Some(0),
        "imagegate {args:?} failed\n--- stderr\n{}\n--- stdout\n{}",
        out.stderr,
        out.stdout
    );
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", out.stdout));
    assert_eq!(v["schema"], 1, "schema version");
    v
}

/// The inventory of `img`, written as an OCI layout in a temporary directory.
fn inventory_of(img: &BuiltImage) -> Value {
    let dir = tmpdir();
    oci_layout(img, None).write_dir(dir.path()).unwrap();
    inventory_json(&s(dir.path()))
}

fn inventory_json(image: &str) -> Value {
    inventory_json_with(image, &[], None)
}

/// `imagegate inventory IMAGE EXTRA...`: must exit 2 (not 0, not 1, not a panic's 101) with a
/// message on stderr. Returns stderr.
fn inventory_fails_with(image: &str, extra: &[&str], stdin: Option<Vec<u8>>) -> String {
    let mut args = vec!["inventory", image, "--format", "json"];
    args.extend_from_slice(extra);
    let out = imagegate(&args, stdin);
    assert_eq!(
        out.code,
        Some(2),
        "imagegate {args:?} must exit 2\n--- stderr\n{}\n--- stdout\n{}",
        out.stderr,
        out.stdout
    );
    assert!(
        !out.stderr.contains("panicked"),
        "a panic is not an error message:\n{}",
        out.stderr
    );
    assert!(!out.stderr.trim().is_empty(), "exit 2 without a message");
    assert!(
        out.stdout.trim().is_empty(),
        "no report may be printed when the image could not be read:\n{}",
        out.stdout
    );
    out.stderr
}

fn inventory_fails(image: &str) -> String {
    inventory_fails_with(image, &[], None)
}

fn assert_mentions(stderr: &str, needles: &[&str]) {
    for n in needles {
        assert!(stderr.contains(n), "the message must mention `{n}`:\n{stderr}");
    }
}

fn assert_mentions_ci(stderr: &str, needle: &str) {
    assert!(
        stderr.to_lowercase().contains(&needle.to_lowercase()),
        "the message must mention `{needle}`:\n{stderr}"
    );
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temp dir")
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("writing a test file");
    p
}

fn s(p: &Path) -> String {
    p.to_str().expect("UTF-8 temp path").to_string()
}

// ---------------------------------------------------------------------------------------------
// Reading the report
// ---------------------------------------------------------------------------------------------

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` must be an array, got {}", v[key]))
}

/// apk packages by name: (version, origin, layer index).
fn apk(v: &Value) -> BTreeMap<String, (String, String, u64)> {
    let mut out = BTreeMap::new();
    for p in arr(v, "apk") {
        let name = p["name"].as_str().expect("apk name").to_string();
        let prev = out.insert(
            name.clone(),
            (
                p["version"].as_str().expect("apk version").to_string(),
                p["origin"].as_str().unwrap_or("").to_string(),
                p["layer"]["index"].as_u64().expect("apk layer index"),
            ),
        );
        assert!(prev.is_none(), "apk package {name} listed twice");
    }
    out
}

fn apk_entry<'a>(v: &'a Value, name: &str) -> &'a Value {
    arr(v, "apk")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("apk package {name} missing from {}", names(v, "apk")))
}

/// npm packages by `name@version`.
fn npm(v: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for p in arr(v, "npm") {
        let key = format!(
            "{}@{}",
            p["name"].as_str().expect("npm name"),
            p["version"].as_str().expect("npm version")
        );
        let prev = out.insert(key.clone(), p.clone());
        assert!(
            prev.is_none(),
            "npm package {key} listed twice: one entry per (name, version)"
        );
    }
    out
}

fn npm_entry(v: &Value, key: &str) -> Value {
    npm(v)
        .remove(key)
        .unwrap_or_else(|| panic!("npm package {key} missing from {:?}", npm(v).keys().collect::<Vec<_>>()))
}

fn npm_keys(v: &Value) -> BTreeSet<String> {
    npm(v).into_keys().collect()
}

fn paths(p: &Value) -> BTreeSet<String> {
    p["paths"]
        .as_array()
        .expect("npm paths")
        .iter()
        .map(|x| x.as_str().expect("a path").to_string())
        .collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|x| x.as_str().expect("a string").to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn names(v: &Value, key: &str) -> String {
    arr(v, key)
        .iter()
        .map(|p| p["name"].as_str().unwrap_or("?"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Files of the final filesystem: path → (size, layer index).
fn files(v: &Value) -> BTreeMap<String, (u64, u64)> {
    arr(v, "files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("file path").to_string(),
                (
                    f["size"].as_u64().expect("file size"),
                    f["layer"].as_u64().expect("file layer"),
                ),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Images used by several tests
// ---------------------------------------------------------------------------------------------

/// The Alpine base files except `skip` (for tests that replace one of them).
fn alpine_layer_without(skip: &[&str]) -> Layer {
    let mut l = Layer::new();
    for f in [
        "etc/alpine-release",
        "etc/apk/repositories",
        "etc/group",
        "etc/os-release",
        "etc/passwd",
        "lib/apk/db/installed",
    ] {
        if !skip.contains(&f) {
            l = l.file(f, read_alpine(f));
        }
    }
    l
}

fn npm_layer(pkgs: &[(&str, &str)]) -> Layer {
    let mut l = Layer::new();
    for (path, version) in pkgs {
        let name = path.rsplit("node_modules/").next().unwrap_or(path);
        l = l.file(&format!("{path}/package.json"), package_json(name, version, "MIT"));
    }
    l
}

/// Base + one app layer: a small image distinct from the demo.
fn small_spec() -> ImageSpec {
    ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .empty("CMD [\"/bin/sh\"]")
        .layer(
            npm_layer(&[("srv/node_modules/lodash", "4.17.21")]),
            Compression::Gzip,
            "RUN /bin/sh -c npm install lodash@4.17.21 # buildkit",
        )
}

static DEMO: OnceLock<BuiltImage> = OnceLock::new();
static DEMO_PLAIN: OnceLock<BuiltImage> = OnceLock::new();

/// The demo image with gzip layers (what `testdata/demo/app.tar` holds).
fn demo() -> &'static BuiltImage {
    DEMO.get_or_init(|| demo_spec().build())
}

/// The demo image with uncompressed layers, as `docker save` writes them.
fn demo_plain() -> &'static BuiltImage {
    DEMO_PLAIN.get_or_init(|| demo_spec().with_compression(Compression::None).build())
}

/// What the source kind changes in the report of the demo image.
struct Expect<'a> {
    img: &'a BuiltImage,
    /// `None`: the report must say `null` (classic `docker save` has no manifest digest).
    manifest_digest: Option<&'a str>,
    repo_tags: &'a [&'a str],
}

/// Everything a user reads in the demo image's inventory.
fn assert_demo(v: &Value, e: &Expect) {
    let img = e.img;
    let image = &v["image"];

    // Image facts.
    match e.manifest_digest {
        Some(d) => assert_eq!(image["manifest_digest"], d, "manifest_digest"),
        None => assert!(
            image["manifest_digest"].is_null(),
            "manifest_digest must be null: {}",
            image["manifest_digest"]
        ),
    }
    assert_eq!(image["config_digest"], img.config_digest.as_str(), "config_digest");
    // Docker 25+ archives carry both `demo/app:1.0.0` (manifest.json) and
    // `docker.io/demo/app:1.0.0` (index.json): either spelling names the same image.
    let short = |t: &str| {
        t.strip_prefix("docker.io/library/")
            .or_else(|| t.strip_prefix("docker.io/"))
            .unwrap_or(t)
            .to_string()
    };
    let tags: BTreeSet<String> = strings(&image["repo_tags"]).iter().map(|t| short(t)).collect();
    assert_eq!(tags, set(e.repo_tags), "repo_tags: {}", image["repo_tags"]);
    assert_eq!(image["platform"], "linux/amd64");
    assert_eq!(image["layer_count"], 4);
    assert_eq!(
        image["compressed_size"],
        img.compressed_size(),
        "compressed_size = sum of the layer blobs"
    );
    assert_eq!(
        image["uncompressed_size"],
        img.uncompressed_size(),
        "uncompressed_size = sum of the layer tars"
    );
    assert_eq!(image["user"], "1001");
    assert_eq!(strings(&image["healthcheck"]["Test"]).len(), 2);
    assert_eq!(image["healthcheck"]["Test"], serde_json::json!(DEMO_HEALTHCHECK));
    assert_eq!(
        image["labels"]["org.opencontainers.image.source"],
        "https://github.com/example/demo-app"
    );
    assert_eq!(image["labels"]["org.opencontainers.image.version"], "1.0.0");
    assert_eq!(image["exposed_ports"], serde_json::json!(["3000/tcp"]));

    let history = arr(image, "history");
    assert_eq!(history.len(), 13, "every history entry, empty layers included");
    let empties: Vec<bool> = history
        .iter()
        .map(|h| h["empty_layer"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(
        empties,
        [
            false, true, true, false, true, true, false, false, true, true, true, true, true
        ],
        "empty_layer flags"
    );
    assert_eq!(history[8]["created_by"], "USER 1001");

    let layers = arr(image, "layers");
    assert_eq!(layers.len(), 4);
    for (i, l) in layers.iter().enumerate() {
        let b = &img.layers[i];
        assert_eq!(l["index"], i as u64);
        assert_eq!(l["diff_id"], b.diff_id.as_str(), "layer {i} diff_id");
        assert_eq!(l["digest"], b.digest.as_str(), "layer {i} digest");
        assert_eq!(l["compression"], b.compression.name(), "layer {i} compression");
        assert_eq!(l["compressed_size"], b.blob.len() as u64, "layer {i} compressed_size");
        assert_eq!(l["uncompressed_size"], b.tar_len, "layer {i} uncompressed_size");
        assert_eq!(
            l["created_by"], DEMO_CREATED_BY[i],
            "layer {i} created_by (history paired skipping empty layers)"
        );
    }

    // OS.
    assert_eq!(v["os"]["id"], "alpine");
    assert_eq!(v["os"]["version"], "3.20.3");
    assert_eq!(v["os"]["pretty_name"], "Alpine Linux v3.20");
    assert_eq!(v["os"]["branch"], "v3.20");

    // apk: the 14 base packages stay attributed to layer 0 although layer 1 rewrote the DB.
    let mut expected: BTreeMap<String, (String, String, u64)> = ALPINE_PACKAGES
        .iter()
        .map(|(n, ver, o)| (n.to_string(), (ver.to_string(), o.to_string(), 0)))
        .collect();
    for (n, ver, o) in DEMO_APK_ADDED {
        expected.insert(n.to_string(), (ver.to_string(), o.to_string(), 1));
    }
    assert_eq!(apk(v), expected, "apk packages (name → version, origin, layer)");
    let libcrypto = apk_entry(v, "libcrypto3");
    assert_eq!(libcrypto["arch"], "x86_64");
    assert_eq!(libcrypto["license"], "Apache-2.0");
    let libstdcxx = apk_entry(v, "libstdc++");
    assert_eq!(libstdcxx["layer"]["digest"], layers[1]["digest"]);
    assert_eq!(libstdcxx["layer"]["created_by"], DEMO_CREATED_BY[1]);
    assert_eq!(apk_entry(v, "busybox")["layer"]["created_by"], DEMO_CREATED_BY[0]);

    // npm: minimist was deleted by layer 3's whiteout (its stale hidden-lockfile entry must not
    // bring it back); semver 7.3.5 lives at two paths and is listed once.
    let mut want: BTreeSet<String> = DEMO_NPM
        .iter()
        .filter(|(p, ..)| !p.ends_with("/minimist"))
        .map(|(p, ver, ..)| format!("{}@{ver}", p.rsplit("node_modules/").next().unwrap_or(p)))
        .collect();
    for (n, ver, _) in DEMO_NPM_GLOBAL {
        want.insert(format!("{n}@{ver}"));
    }
    assert_eq!(npm_keys(v), want, "npm packages");
    assert_eq!(
        paths(&npm_entry(v, "semver@7.3.5")),
        set(&["app/node_modules/semver", "app/node_modules/next/node_modules/semver"]),
        "one entry, both paths"
    );
    let ts = npm_entry(v, "typescript@5.0.4");
    assert_eq!(ts["dev"], true, "typescript is a dev dependency in package-lock.json");
    assert_eq!(ts["license"], "Apache-2.0");
    let lodash = npm_entry(v, "lodash@4.17.20");
    assert_eq!(lodash["dev"], false);
    assert_eq!(paths(&lodash), set(&["app/node_modules/lodash"]));
    assert!(strings(&lodash["sources"]).contains("node-modules"), "{lodash}");
    assert_eq!(lodash["layer"]["index"], 2);
    assert_eq!(lodash["layer"]["digest"], layers[2]["digest"]);
    assert_eq!(lodash["layer"]["created_by"], DEMO_CREATED_BY[2]);
    assert_eq!(
        npm_entry(v, "@next/env@13.4.0")["paths"],
        serde_json::json!(["app/node_modules/@next/env"])
    );
    let npm_cli = npm_entry(v, "npm@10.8.2");
    assert_eq!(paths(&npm_cli), set(&["usr/local/lib/node_modules/npm"]));
    assert!(strings(&npm_cli["sources"]).contains("global"), "{npm_cli}");
    assert_eq!(npm_cli["layer"]["index"], 1);
    assert!(
        npm_cli["dev"].is_null(),
        "no lockfile speaks about the global npm: {npm_cli}"
    );

    // Users and groups: the app layer's rewrite of etc/passwd and etc/group.
    let users = arr(v, "users");
    let nextjs = users.iter().find(|u| u["name"] == "nextjs").expect("user nextjs");
    assert_eq!(nextjs["uid"], 1001);
    assert_eq!(nextjs["gid"], 1001);
    assert_eq!(nextjs["home"], "/home/nextjs");
    assert_eq!(nextjs["shell"], "/sbin/nologin");
    let root = users.iter().find(|u| u["name"] == "root").expect("user root");
    assert_eq!(root["uid"], 0);
    assert_eq!(users.len(), 18, "17 Alpine users + nextjs");
    let nodejs = arr(v, "groups")
        .iter()
        .find(|g| g["name"] == "nodejs")
        .expect("group nodejs");
    assert_eq!(nodejs["gid"], 1001);

    // Files: whiteouts applied, no directories, symlinks or whiteout markers, no leading '/'.
    let f = files(v);
    assert!(
        !f.keys().any(|p| p.contains("minimist")),
        "minimist's files were deleted"
    );
    assert!(!f.keys().any(|p| p.contains(".wh.")), "whiteout markers are not files");
    assert!(
        !f.keys().any(|p| p.starts_with('/') || p.starts_with("./")),
        "paths are relative"
    );
    assert!(!f.contains_key("bin/sh"), "a symlink is not a regular file");
    assert!(!f.contains_key("app"), "a directory is not a regular file");
    assert_eq!(f.get("app/server.js").map(|x| x.1), Some(2));
    assert_eq!(
        f.get("etc/passwd"),
        Some(&(749, 2)),
        "etc/passwd as rewritten by layer 2"
    );
    assert_eq!(f.get("etc/alpine-release"), Some(&(7, 0)));
    assert_eq!(f.get("lib/apk/db/installed").map(|x| x.1), Some(1));
    assert_eq!(f.len(), 65);

    // Its `usr/local/bin/node` is a 53-byte placeholder script: the runtime's version comes
    // from NODE_VERSION alone, and the report says so. Nothing else deserves a warning.
    assert_eq!(
        warnings(v),
        [
            "the node binary (usr/local/bin/node): no version marker found in 53 bytes",
            "only the image config's NODE_VERSION names Node.js 20.17.0: no node binary or version header was found to confirm it"
        ],
        "the demo image deserves no other warning"
    );
    assert_eq!(v["node_runtime"]["version"], "20.17.0");
}

// ---------------------------------------------------------------------------------------------
// The demo image and the builder's determinism
// ---------------------------------------------------------------------------------------------

#[test]
fn demo_archive_is_deterministic_and_matches_the_committed_file() {
    let dir = tmpdir();
    let a = dir.path().join("a/app.tar");
    let b = dir.path().join("b/app.tar");
    write_demo(&a).unwrap();
    write_demo(&b).unwrap();
    let a = std::fs::read(a).unwrap();
    assert_eq!(a, std::fs::read(b).unwrap(), "two runs, same bytes");
    let committed = std::fs::read(repo_root().join("testdata/demo/app.tar"))
        .expect("testdata/demo/app.tar is committed (cargo run --example make_demo)");
    assert!(
        a == committed,
        "testdata/demo/app.tar is stale: regenerate it with `cargo run --example make_demo`"
    );
    assert!(a.len() < 512 * 1024, "keep the demo small ({} bytes)", a.len());
}

#[test]
fn committed_demo_image_inventory() {
    let path = repo_root().join("testdata/demo/app.tar");
    let v = inventory_json(&s(&path));
    assert_demo(
        &v,
        &Expect {
            img: demo(),
            manifest_digest: Some(&demo().manifest_digest),
            repo_tags: &[],
        },
    );
    assert_eq!(v["image"]["reference"], s(&path));
}

#[test]
fn crc32_zero_extension_matches_a_direct_crc() {
    let data = [b"tar header".to_vec(), vec![0u8; 100_003]].concat();
    let mut direct = flate2::Crc::new();
    direct.update(&data);
    let mut head = flate2::Crc::new();
    head.update(b"tar header");
    assert_eq!(crc32_extend_zeros(head.sum(), 100_003), direct.sum());
}

// ---------------------------------------------------------------------------------------------
// Source kinds
// ---------------------------------------------------------------------------------------------

#[test]
fn oci_layout_directory_plain_path_and_oci_prefix() {
    let dir = tmpdir();
    let layout = dir.path().join("layout");
    oci_layout(demo(), Some("1.0.0")).write_dir(&layout).unwrap();
    let expect = Expect {
        img: demo(),
        manifest_digest: Some(&demo().manifest_digest),
        repo_tags: &[],
    };
    let v = inventory_json(&s(&layout));
    assert_demo(&v, &expect);
    let v = inventory_json(&format!("oci:{}", s(&layout)));
    assert_demo(&v, &expect);
}

#[test]
fn oci_layout_with_two_images_selected_by_tag_and_by_digest() {
    let dir = tmpdir();
    let layout = dir.path().join("layout");
    let small = small_spec().build();
    let mut l = Layout::new();
    l.add_image(&small, Some("0.9.0")).add_image(demo(), Some("1.0.0"));
    l.write_dir(&layout).unwrap();
    let expect = Expect {
        img: demo(),
        manifest_digest: Some(&demo().manifest_digest),
        repo_tags: &[],
    };

    assert_demo(&inventory_json(&format!("oci:{}:1.0.0", s(&layout))), &expect);

    let v = inventory_json(&format!("oci:{}:0.9.0", s(&layout)));
    assert_eq!(v["image"]["manifest_digest"], small.manifest_digest.as_str());
    assert_eq!(npm_keys(&v), set(&["lodash@4.17.21"]));

    let v = inventory_json(&format!("oci:{}@{}", s(&layout), small.manifest_digest));
    assert_eq!(v["image"]["manifest_digest"], small.manifest_digest.as_str());
    assert_eq!(v["image"]["layer_count"], 2);

    assert_demo(
        &inventory_json(&format!("oci:{}@{}", s(&layout), demo().manifest_digest)),
        &expect,
    );

    let err = inventory_fails(&format!("oci:{}:2.0.0", s(&layout)));
    assert_mentions(&err, &["2.0.0"]);
}

#[test]
fn oci_layout_with_docker_media_types() {
    let dir = tmpdir();
    let img = small_spec().media(MediaTypes::Docker).build();
    let layout = dir.path().join("layout");
    oci_layout(&img, Some("latest")).write_dir(&layout).unwrap();
    let v = inventory_json(&format!("oci:{}", s(&layout)));
    assert_eq!(v["image"]["manifest_digest"], img.manifest_digest.as_str());
    assert_eq!(
        v["image"]["layers"][1]["media_type"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    assert_eq!(v["image"]["layers"][1]["compression"], "gzip");
    assert_eq!(npm_keys(&v), set(&["lodash@4.17.21"]));
    assert_eq!(apk(&v).len(), 14);
}

#[test]
fn oci_archive_prefixed_and_plain_path() {
    let dir = tmpdir();
    let path = write(dir.path(), "app.oci.tar", &oci_layout(demo(), Some("1.0.0")).to_tar());
    let expect = Expect {
        img: demo(),
        manifest_digest: Some(&demo().manifest_digest),
        repo_tags: &[],
    };
    assert_demo(&inventory_json(&format!("oci-archive:{}", s(&path))), &expect);
    assert_demo(&inventory_json(&s(&path)), &expect);
}

#[test]
fn classic_docker_save_prefixed_and_plain_path() {
    let dir = tmpdir();
    let tar = docker_classic(&[(demo_plain(), &["demo/app:1.0.0"])]);
    let path = write(dir.path(), "app.tar", &tar);
    let expect = Expect {
        img: demo_plain(),
        manifest_digest: None,
        repo_tags: &["demo/app:1.0.0"],
    };
    let v = inventory_json(&format!("docker-archive:{}", s(&path)));
    assert_demo(&v, &expect);
    assert_eq!(v["image"]["layers"][0]["compression"], "none");
    assert_demo(&inventory_json(&s(&path)), &expect);
}

#[test]
fn classic_docker_save_with_a_symlinked_duplicate_layer() {
    // Layers 1 and 2 have the same content (`RUN touch` twice): docker save writes the second
    // `layer.tar` as a symlink to the first.
    let same = Layer::new().file("var/lib/marker", "same\n");
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::None, ALPINE_ADD)
        .layer(
            same.clone(),
            Compression::None,
            "RUN /bin/sh -c touch /var/lib/marker # buildkit",
        )
        .layer(
            npm_layer(&[("app/node_modules/lodash", "4.17.21")]),
            Compression::None,
            "RUN /bin/sh -c npm i lodash # buildkit",
        )
        .layer(
            same,
            Compression::None,
            "RUN /bin/sh -c touch /var/lib/marker # buildkit",
        )
        .build();
    let tar = docker_classic(&[(&img, &["dup:1"])]);
    // The builder really wrote a symlink.
    let mut archive = tar::Archive::new(&tar[..]);
    let symlinks = archive
        .entries()
        .unwrap()
        .filter(|e| e.as_ref().unwrap().header().entry_type() == tar::EntryType::Symlink)
        .count();
    assert_eq!(symlinks, 1);

    let dir = tmpdir();
    let path = write(dir.path(), "dup.tar", &tar);
    let v = inventory_json(&format!("docker-archive:{}", s(&path)));
    assert_eq!(v["image"]["layer_count"], 4);
    assert_eq!(v["image"]["layers"][3]["diff_id"], img.layers[1].diff_id.as_str());
    assert_eq!(npm_keys(&v), set(&["lodash@4.17.21"]));
    let marker = files(&v).get("var/lib/marker").map(|x| x.1);
    assert!(
        matches!(marker, Some(1) | Some(3)),
        "var/lib/marker comes from layer 1 or 3: {marker:?}"
    );
    assert_eq!(apk(&v).len(), 14);
}

#[test]
fn classic_docker_save_with_two_images_selected_by_tag() {
    let dir = tmpdir();
    let small = small_spec().with_compression(Compression::None).build();
    let tar = docker_classic(&[(demo_plain(), &["demo/app:1.0.0"]), (&small, &["demo/app:0.9.0"])]);
    let path = write(dir.path(), "two.tar", &tar);
    let v = inventory_json(&format!("docker-archive:{}:demo/app:0.9.0", s(&path)));
    assert_eq!(strings(&v["image"]["repo_tags"]), set(&["demo/app:0.9.0"]));
    assert_eq!(v["image"]["config_digest"], small.config_digest.as_str());
    assert_eq!(npm_keys(&v), set(&["lodash@4.17.21"]));
    let v = inventory_json(&format!("docker-archive:{}:demo/app:1.0.0", s(&path)));
    assert_demo(
        &v,
        &Expect {
            img: demo_plain(),
            manifest_digest: None,
            repo_tags: &["demo/app:1.0.0"],
        },
    );
}

#[test]
fn docker_25_save_oci_layout_inside_the_tar() {
    let dir = tmpdir();
    let tar = docker25(&[(demo_plain(), &["demo/app:1.0.0"])]);
    let path = write(dir.path(), "app25.tar", &tar);
    let expect = Expect {
        img: demo_plain(),
        manifest_digest: Some(&demo_plain().manifest_digest),
        repo_tags: &["demo/app:1.0.0"],
    };
    assert_demo(&inventory_json(&s(&path)), &expect);
    assert_demo(&inventory_json(&format!("docker-archive:{}", s(&path))), &expect);
}

#[test]
fn gzip_compressed_docker_save() {
    let dir = tmpdir();
    let classic = write(
        dir.path(),
        "app.tar.gz",
        &gzip(&docker_classic(&[(demo_plain(), &["demo/app:1.0.0"])])),
    );
    let expect = Expect {
        img: demo_plain(),
        manifest_digest: None,
        repo_tags: &["demo/app:1.0.0"],
    };
    assert_demo(&inventory_json(&s(&classic)), &expect);
    assert_demo(&inventory_json(&format!("docker-archive:{}", s(&classic))), &expect);

    let d25 = write(
        dir.path(),
        "app25.tgz",
        &gzip(&docker25(&[(demo_plain(), &["demo/app:1.0.0"])])),
    );
    assert_demo(
        &inventory_json(&s(&d25)),
        &Expect {
            img: demo_plain(),
            manifest_digest: Some(&demo_plain().manifest_digest),
            repo_tags: &["demo/app:1.0.0"],
        },
    );
}

#[test]
fn docker_save_on_stdin() {
    let classic = docker_classic(&[(demo_plain(), &["demo/app:1.0.0"])]);
    let v = inventory_json_with("-", &[], Some(classic));
    assert_demo(
        &v,
        &Expect {
            img: demo_plain(),
            manifest_digest: None,
            repo_tags: &["demo/app:1.0.0"],
        },
    );
    assert_eq!(v["image"]["reference"], "-");

    let d25 = docker25(&[(demo_plain(), &["demo/app:1.0.0"])]);
    let v = inventory_json_with("-", &[], Some(d25));
    assert_demo(
        &v,
        &Expect {
            img: demo_plain(),
            manifest_digest: Some(&demo_plain().manifest_digest),
            repo_tags: &["demo/app:1.0.0"],
        },
    );
}

#[test]
fn gzip_compressed_docker_save_on_stdin() {
    // `docker save app | gzip | imagegate inventory -`
    let classic = gzip(&docker_classic(&[(demo_plain(), &["demo/app:1.0.0"])]));
    let v = inventory_json_with("-", &[], Some(classic));
    assert_demo(
        &v,
        &Expect {
            img: demo_plain(),
            manifest_digest: None,
            repo_tags: &["demo/app:1.0.0"],
        },
    );
    let d25 = gzip(&docker25(&[(demo_plain(), &["demo/app:1.0.0"])]));
    let v = inventory_json_with("-", &[], Some(d25));
    assert_eq!(v["image"]["manifest_digest"], demo_plain().manifest_digest.as_str());
}

#[test]
fn docker_save_on_stdin_with_a_layer_over_16_mib() {
    // Big archive entries are walked as they stream past, not buffered.
    let big = Layer::new().file("var/lib/big.bin", vec![7u8; 17 << 20]).file(
        "app/node_modules/lodash/package.json",
        package_json("lodash", "4.17.21", "MIT"),
    );
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::None, ALPINE_ADD)
        .layer(big, Compression::None, "COPY . /app # buildkit")
        .build();
    let v = inventory_json_with("-", &[], Some(docker_classic(&[(&img, &["big:1"])])));
    assert_eq!(npm_keys(&v), set(&["lodash@4.17.21"]));
    assert_eq!(files(&v).get("var/lib/big.bin"), Some(&(17 << 20, 1)));
    assert_eq!(v["image"]["layers"][1]["diff_id"], img.layers[1].diff_id.as_str());
    assert_eq!(apk(&v).len(), 14);
}

#[test]
fn empty_stdin_is_an_error() {
    let err = inventory_fails_with("-", &[], Some(Vec::new()));
    assert_mentions(&err, &["`-`"]);
    assert_mentions_ci(&err, "not an image");
}

// ---------------------------------------------------------------------------------------------
// Layer semantics
// ---------------------------------------------------------------------------------------------

#[test]
fn whiteouts_delete_npm_packages_directories_and_apk_del_removes_a_package() {
    let l1 = npm_layer(&[
        ("app/node_modules/lodash", "4.17.20"),
        ("app/node_modules/minimist", "1.2.5"),
        ("app/node_modules/debug", "4.3.4"),
        ("srv/node_modules/express", "4.17.1"),
        ("srv/node_modules/express/node_modules/qs", "6.7.0"),
    ])
    .file("app/node_modules/minimist/index.js", "module.exports = {};\n");
    let l2 = Layer::new()
        .whiteout("app/node_modules/minimist")
        .whiteout("srv/node_modules")
        .file("lib/apk/db/installed", apk_db_without(&alpine_installed(), "scanelf"))
        .whiteout("usr/bin/scanelf");
    let img = ImageSpec::new()
        .layer(
            alpine_base().file("usr/bin/scanelf", "placeholder\n"),
            Compression::Gzip,
            ALPINE_ADD,
        )
        .layer(l1, Compression::Gzip, "RUN /bin/sh -c npm ci # buildkit")
        .layer(
            l2,
            Compression::Gzip,
            "RUN /bin/sh -c rm -rf node_modules/minimist /srv/node_modules && apk del scanelf # buildkit",
        )
        .build();
    let v = inventory_of(&img);

    assert_eq!(npm_keys(&v), set(&["debug@4.3.4", "lodash@4.17.20"]));
    let a = apk(&v);
    assert!(!a.contains_key("scanelf"), "apk del scanelf: {a:?}");
    assert_eq!(a.len(), 13);
    assert!(
        a.values().all(|(_, _, layer)| *layer == 0),
        "the DB rewrite keeps the others at layer 0: {a:?}"
    );
    let f = files(&v);
    assert!(
        !f.keys()
            .any(|p| p.starts_with("srv/") || p.contains("minimist") || p == "usr/bin/scanelf"),
        "{f:?}"
    );
    assert_eq!(f.get("lib/apk/db/installed").map(|x| x.1), Some(2));
}

#[test]
fn opaque_directory_hides_lower_layers_but_not_its_own_layer() {
    // The opaque marker comes after `c` in the tar: it still only hides what lower layers had.
    let l2 = npm_layer(&[("app/node_modules/c", "3.0.0")]).opaque("app/node_modules");
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(
            npm_layer(&[("app/node_modules/a", "1.0.0"), ("app/node_modules/b", "2.0.0")])
                .file("app/keep.txt", "kept\n"),
            Compression::Gzip,
            "RUN /bin/sh -c npm ci # buildkit",
        )
        .layer(
            l2,
            Compression::Gzip,
            "RUN /bin/sh -c rm -rf node_modules && npm i c # buildkit",
        )
        .build();
    let v = inventory_of(&img);
    assert_eq!(npm_keys(&v), set(&["c@3.0.0"]));
    assert_eq!(npm_entry(&v, "c@3.0.0")["layer"]["index"], 2);
    let f = files(&v);
    assert!(f.contains_key("app/node_modules/c/package.json"));
    assert!(!f.contains_key("app/node_modules/a/package.json"));
    assert_eq!(
        f.get("app/keep.txt").map(|x| x.1),
        Some(1),
        "opaque app/node_modules leaves app/ alone"
    );
    assert!(!f.keys().any(|p| p.contains(".wh.")));
}

#[test]
fn zstd_uncompressed_and_gzip_layers_in_one_image() {
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Zstd, ALPINE_ADD)
        .layer(
            npm_layer(&[("app/node_modules/lodash", "4.17.21")]),
            Compression::None,
            "COPY node_modules /app/node_modules # buildkit",
        )
        .layer(
            npm_layer(&[("app/node_modules/debug", "4.3.4")]),
            Compression::Gzip,
            "RUN /bin/sh -c npm i debug # buildkit",
        )
        .build();
    let dir = tmpdir();
    let path = write(dir.path(), "mixed.tar", &oci_layout(&img, None).to_tar());
    let v = inventory_json(&format!("oci-archive:{}", s(&path)));
    let layers = arr(&v["image"], "layers");
    let comp: Vec<&str> = layers
        .iter()
        .map(|l| l["compression"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(comp, ["zstd", "none", "gzip"]);
    assert_eq!(layers[0]["media_type"], "application/vnd.oci.image.layer.v1.tar+zstd");
    assert_eq!(layers[1]["media_type"], "application/vnd.oci.image.layer.v1.tar");
    for (i, l) in layers.iter().enumerate() {
        assert_eq!(l["diff_id"], img.layers[i].diff_id.as_str());
        assert_eq!(l["uncompressed_size"], img.layers[i].tar_len);
    }
    assert_eq!(apk(&v).len(), 14, "apk DB read from the zstd layer");
    assert_eq!(apk(&v)["musl"], ("1.2.5-r0".to_string(), "musl".to_string(), 0));
    assert_eq!(npm_entry(&v, "lodash@4.17.21")["layer"]["index"], 1);
    assert_eq!(npm_entry(&v, "debug@4.3.4")["layer"]["index"], 2);
    assert_eq!(v["os"]["branch"], "v3.20");
}

#[test]
fn layer_attribution_follows_the_version_continuously_present_up_to_the_top() {
    const L: [&str; 4] = [
        ALPINE_ADD,
        "RUN /bin/sh -c npm i lodash@4.17.20 json5@2.2.1 axios@0.21.1 # buildkit",
        "RUN /bin/sh -c npm i lodash@4.17.21 && rm -rf node_modules/json5 && apk upgrade libcrypto3 libssl3 # buildkit",
        "RUN /bin/sh -c npm i json5@2.2.1 && npm i axios@0.21.1 # buildkit",
    ];
    let db = alpine_installed();
    let db = apk_db_with_version(
        &apk_db_with_version(&db, "libcrypto3", "3.3.3-r0"),
        "libssl3",
        "3.3.3-r0",
    );
    let img = ImageSpec::new()
        .empty("LABEL maintainer=someone")
        .layer(alpine_base(), Compression::Gzip, L[0])
        .empty("ENV NODE_ENV=production")
        .empty("ARG BUILD=1")
        .layer(
            npm_layer(&[
                ("app/node_modules/lodash", "4.17.20"),
                ("app/node_modules/json5", "2.2.1"),
                ("app/node_modules/axios", "0.21.1"),
            ]),
            Compression::Gzip,
            L[1],
        )
        .empty("WORKDIR /app")
        .layer(
            npm_layer(&[("app/node_modules/lodash", "4.17.21")])
                .whiteout("app/node_modules/json5")
                .file("lib/apk/db/installed", db),
            Compression::Gzip,
            L[2],
        )
        .layer(
            // axios rewritten with the same version: still attributed to layer 1.
            npm_layer(&[
                ("app/node_modules/json5", "2.2.1"),
                ("app/node_modules/axios", "0.21.1"),
            ]),
            Compression::Gzip,
            L[3],
        )
        .empty("USER node")
        .build();
    let v = inventory_of(&img);

    let layers = arr(&v["image"], "layers");
    for (i, l) in layers.iter().enumerate() {
        assert_eq!(
            l["created_by"], L[i],
            "layer {i}: history paired skipping empty_layer entries"
        );
    }
    let at = |key: &str| {
        let p = npm_entry(&v, key);
        (
            p["layer"]["index"].as_u64().unwrap(),
            p["layer"]["created_by"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(npm_keys(&v), set(&["axios@0.21.1", "json5@2.2.1", "lodash@4.17.21"]));
    assert_eq!(at("lodash@4.17.21"), (2, L[2].to_string()), "upgraded in layer 2");
    assert_eq!(at("json5@2.2.1"), (3, L[3].to_string()), "deleted in 2, back in 3");
    assert_eq!(at("axios@0.21.1"), (1, L[1].to_string()), "same version since layer 1");
    assert_eq!(npm_entry(&v, "lodash@4.17.21")["layer"]["digest"], layers[2]["digest"]);

    let a = apk(&v);
    assert_eq!(a["libcrypto3"], ("3.3.3-r0".to_string(), "openssl".to_string(), 2));
    assert_eq!(a["libssl3"], ("3.3.3-r0".to_string(), "openssl".to_string(), 2));
    assert_eq!(a["busybox"], ("1.36.1-r29".to_string(), "busybox".to_string(), 0));
    assert_eq!(apk_entry(&v, "libssl3")["layer"]["created_by"], L[2]);
    assert_eq!(apk_entry(&v, "zlib")["layer"]["created_by"], L[0]);
}

#[test]
fn hardlinked_package_json_is_read_through_its_target() {
    // A hoisted package hard-linked to a nested copy: both are package locations.
    let l1 = Layer::new()
        .file(
            "app/node_modules/a/node_modules/is-number/package.json",
            package_json("is-number", "7.0.0", "MIT"),
        )
        .hardlink(
            "app/node_modules/is-number/package.json",
            "app/node_modules/a/node_modules/is-number/package.json",
        );
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(l1, Compression::Gzip, "RUN /bin/sh -c npm ci # buildkit")
        .build();
    let v = inventory_of(&img);
    assert_eq!(npm_keys(&v), set(&["is-number@7.0.0"]));
    assert_eq!(
        paths(&npm_entry(&v, "is-number@7.0.0")),
        set(&[
            "app/node_modules/is-number",
            "app/node_modules/a/node_modules/is-number"
        ])
    );
    let f = files(&v);
    assert!(
        f.contains_key("app/node_modules/is-number/package.json"),
        "hard links are files: {f:?}"
    );
}

#[test]
fn an_apk_database_streamed_or_hard_linked_lists_the_same_packages() {
    // The database is read as the walk streams it; a hard link at its path is read through
    // its target (a second pass over the layer) and must list the same packages.
    let db = alpine_installed().replace("L:MIT\no:musl\n", "L:MIT-linked\no:musl\n");
    let l1 = Layer::new()
        .file("var/backup/installed", db.as_bytes())
        .hardlink("lib/apk/db/installed", "var/backup/installed");
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(l1, Compression::Gzip, "RUN /bin/sh -c apk upgrade # buildkit")
        .build();
    let linked = inventory_of(&img);
    let base = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .build();
    let streamed = inventory_of(&base);
    let names = |v: &Value| {
        apk(v)
            .into_iter()
            .map(|(n, (ver, o, _))| (n, ver, o))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&linked), names(&streamed));
    assert_eq!(apk(&streamed).len(), ALPINE_PACKAGES.len());
    assert_eq!(
        apk_entry(&linked, "musl")["license"],
        "MIT-linked",
        "read through the link"
    );
    // Unchanged since the base layer listed it: still the base layer's package.
    assert_eq!(apk_entry(&linked, "musl")["layer"]["index"], 0);
}

#[test]
fn hardlinked_package_json_whose_target_is_a_pnpm_store_file() {
    // pnpm with `ENV PNPM_HOME=/pnpm` and `WORKDIR /usr/src/app`: the content-addressed store
    // file sorts first, so the tar holds it as the regular file and every package.json under
    // node_modules is a hard link to it.
    let store = "pnpm/store/v3/files/3a/9f1c2b7e4d5a6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
    let l1 = Layer::new()
        .file(store, package_json("left-pad", "1.3.0", "WTFPL"))
        .hardlink(
            "usr/src/app/node_modules/.pnpm/left-pad@1.3.0/node_modules/left-pad/package.json",
            store,
        )
        .symlink(
            "usr/src/app/node_modules/left-pad",
            ".pnpm/left-pad@1.3.0/node_modules/left-pad",
        );
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(
            l1,
            Compression::Gzip,
            "RUN /bin/sh -c pnpm install --frozen-lockfile # buildkit",
        )
        .build();
    let v = inventory_of(&img);
    let lp = npm_entry(&v, "left-pad@1.3.0");
    assert!(
        paths(&lp).contains("usr/src/app/node_modules/.pnpm/left-pad@1.3.0/node_modules/left-pad"),
        "{lp}"
    );
    assert_eq!(lp["license"], "WTFPL");
    assert_eq!(lp["layer"]["index"], 1);
    let f = files(&v);
    assert!(f.contains_key(store));
    assert!(f.contains_key("usr/src/app/node_modules/.pnpm/left-pad@1.3.0/node_modules/left-pad/package.json"));
}

#[test]
fn symlinked_os_release_is_followed() {
    let base = alpine_layer_without(&["etc/os-release"])
        .file("usr/lib/os-release", read_alpine("etc/os-release"))
        .symlink("etc/os-release", "../usr/lib/os-release");
    let img = ImageSpec::new().layer(base, Compression::Gzip, ALPINE_ADD).build();
    let v = inventory_of(&img);
    assert_eq!(v["os"]["id"], "alpine");
    assert_eq!(v["os"]["version"], "3.20.3");
    assert_eq!(v["os"]["pretty_name"], "Alpine Linux v3.20");
    assert_eq!(v["os"]["branch"], "v3.20");

    // An absolute symlink whose target comes from a later layer.
    let base = alpine_layer_without(&["etc/os-release"]).symlink("etc/os-release", "/usr/lib/os-release");
    let img = ImageSpec::new()
        .layer(base, Compression::Gzip, ALPINE_ADD)
        .layer(
            Layer::new().file("usr/lib/os-release", read_alpine("etc/os-release")),
            Compression::Gzip,
            "COPY os-release /usr/lib/os-release # buildkit",
        )
        .build();
    let v = inventory_of(&img);
    assert_eq!(v["os"]["pretty_name"], "Alpine Linux v3.20");
    assert_eq!(v["os"]["version"], "3.20.3");
}

#[test]
fn symlink_loop_does_not_hang_or_crash() {
    let base = alpine_layer_without(&["etc/os-release"])
        .symlink("etc/os-release", "../usr/lib/os-release")
        .symlink("usr/lib/os-release", "../../etc/os-release");
    let img = ImageSpec::new().layer(base, Compression::Gzip, ALPINE_ADD).build();
    let dir = tmpdir();
    oci_layout(&img, None).write_dir(dir.path()).unwrap();
    // etc/alpine-release still says which Alpine this is.
    let v = inventory_json(&s(dir.path()));
    assert_eq!(v["os"]["id"], "alpine", "{}", v["os"]);
    assert_eq!(v["os"]["version"], "3.20.3");
    assert_eq!(v["os"]["branch"], "v3.20");
    assert_eq!(apk(&v).len(), 14);
}

#[test]
fn alpine_edge_branch() {
    let base = alpine_layer_without(&["etc/os-release", "etc/alpine-release", "etc/apk/repositories"])
        .file("etc/alpine-release", "3.21_alpha20240807\n")
        .file(
            "etc/os-release",
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.21_alpha20240807\nPRETTY_NAME=\"Alpine Linux edge\"\nHOME_URL=\"https://alpinelinux.org/\"\n",
        )
        .file(
            "etc/apk/repositories",
            "https://dl-cdn.alpinelinux.org/alpine/edge/main\nhttps://dl-cdn.alpinelinux.org/alpine/edge/community\n",
        );
    let img = ImageSpec::new().layer(base, Compression::Gzip, ALPINE_ADD).build();
    let v = inventory_of(&img);
    assert_eq!(v["os"]["id"], "alpine");
    assert_eq!(v["os"]["branch"], "edge");
    assert_eq!(v["os"]["pretty_name"], "Alpine Linux edge");
}

#[test]
fn dot_slash_entry_names_are_normalised() {
    // A base layer written like the minirootfs tarball: `./etc/passwd`.
    let base = alpine_base().dot_prefix();
    let img = ImageSpec::new()
        .layer(base, Compression::Gzip, ALPINE_ADD)
        .layer(
            npm_layer(&[("app/node_modules/lodash", "4.17.21")]).dot_prefix(),
            Compression::Gzip,
            "RUN /bin/sh -c npm i # buildkit",
        )
        .build();
    let v = inventory_of(&img);
    assert_eq!(apk(&v).len(), 14);
    assert_eq!(v["os"]["version"], "3.20.3");
    assert_eq!(
        paths(&npm_entry(&v, "lodash@4.17.21")),
        set(&["app/node_modules/lodash"])
    );
    let f = files(&v);
    assert!(f.contains_key("etc/passwd"), "{f:?}");
    assert!(!f.keys().any(|p| p.starts_with("./") || p.starts_with('/')), "{f:?}");
    assert!(
        arr(&v, "users")
            .iter()
            .any(|u| u["name"] == "nobody" && u["uid"] == 65534)
    );
}

#[test]
fn npm_package_locations_scopes_nesting_and_non_packages() {
    let l1 = Layer::new()
        .file(
            "app/package.json",
            package_json_deps("myapp", "1.0.0", "UNLICENSED", &[("@babel/runtime", "7.22.5")]),
        )
        .file(
            "app/node_modules/@babel/runtime/package.json",
            package_json("@babel/runtime", "7.22.5", "MIT"),
        )
        // Not packages: package.json files deeper inside a package.
        .file(
            "app/node_modules/@babel/runtime/helpers/esm/package.json",
            "{\n  \"type\": \"module\"\n}\n",
        )
        .file(
            "app/node_modules/debug/test/fixtures/package.json",
            package_json("fixture-not-installed", "0.0.1", "MIT"),
        )
        .file(
            "app/node_modules/debug/package.json",
            package_json("debug", "4.3.4", "MIT"),
        )
        .file(
            "app/node_modules/@babel/runtime/node_modules/debug/package.json",
            package_json("debug", "4.3.4", "MIT"),
        )
        .file(
            "app/node_modules/@babel/runtime/node_modules/ms/package.json",
            package_json("ms", "2.1.2", "MIT"),
        )
        .file("app/node_modules/ms/package.json", package_json("ms", "2.1.3", "MIT"));
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(l1, Compression::Gzip, "COPY . /app # buildkit")
        .build();
    let v = inventory_of(&img);
    assert_eq!(
        npm_keys(&v),
        set(&["@babel/runtime@7.22.5", "debug@4.3.4", "ms@2.1.2", "ms@2.1.3"]),
        "the app itself and package.json files inside packages are not packages"
    );
    assert_eq!(
        paths(&npm_entry(&v, "debug@4.3.4")),
        set(&[
            "app/node_modules/debug",
            "app/node_modules/@babel/runtime/node_modules/debug"
        ])
    );
    assert_eq!(
        paths(&npm_entry(&v, "ms@2.1.2")),
        set(&["app/node_modules/@babel/runtime/node_modules/ms"])
    );
    assert_eq!(
        paths(&npm_entry(&v, "@babel/runtime@7.22.5")),
        set(&["app/node_modules/@babel/runtime"])
    );
}

#[test]
fn dev_flags_come_from_the_project_lockfile_or_the_hidden_lockfile() {
    let pkgs: &[(&str, &str, &str, bool)] = &[
        ("node_modules/express", "4.17.1", "MIT", false),
        ("node_modules/typescript", "5.0.4", "Apache-2.0", true),
        ("node_modules/eslint", "8.40.0", "MIT", true),
    ];
    let installed = npm_layer(&[
        ("app/node_modules/express", "4.17.1"),
        ("app/node_modules/typescript", "5.0.4"),
        ("app/node_modules/eslint", "8.40.0"),
        ("app/node_modules/not-in-any-lockfile", "1.0.0"),
    ]);

    // 1. The project's package-lock.json.
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(
            installed
                .clone()
                .file("app/package-lock.json", lockfile("app", pkgs, false)),
            Compression::Gzip,
            "RUN /bin/sh -c npm ci # buildkit",
        )
        .build();
    let v = inventory_of(&img);
    assert_eq!(npm_entry(&v, "typescript@5.0.4")["dev"], true);
    assert_eq!(npm_entry(&v, "eslint@8.40.0")["dev"], true);
    assert_eq!(npm_entry(&v, "express@4.17.1")["dev"], false);
    assert!(
        npm_entry(&v, "not-in-any-lockfile@1.0.0")["dev"].is_null(),
        "unknown is null, not false"
    );
    assert_eq!(npm(&v).len(), 4);

    // 2. Only node_modules/.package-lock.json.
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(
            installed.file("app/node_modules/.package-lock.json", lockfile("app", pkgs, true)),
            Compression::Gzip,
            "RUN /bin/sh -c npm ci # buildkit",
        )
        .build();
    let v = inventory_of(&img);
    assert_eq!(npm_entry(&v, "typescript@5.0.4")["dev"], true);
    assert_eq!(npm_entry(&v, "express@4.17.1")["dev"], false);
    assert!(npm_entry(&v, "not-in-any-lockfile@1.0.0")["dev"].is_null());

    // 3. A lockfile listing a package that is not installed does not invent it.
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(
            npm_layer(&[("app/node_modules/express", "4.17.1")])
                .file("app/package-lock.json", lockfile("app", pkgs, false)),
            Compression::Gzip,
            "RUN /bin/sh -c npm ci --omit=dev # buildkit",
        )
        .build();
    let v = inventory_of(&img);
    assert_eq!(npm_keys(&v), set(&["express@4.17.1"]));
}

#[test]
fn long_paths_in_gnu_and_pax_headers() {
    // npm nests deeply; names past 100 bytes need GNU long-name entries or PAX `path` records
    // (Go's archive/tar, hence docker and buildkit, writes PAX).
    let deep = "usr/src/app/node_modules/@aws-sdk/client-s3/node_modules/@aws-sdk/middleware-sdk-s3/node_modules/@smithy/signature-v4";
    assert!(deep.len() + "/package.json".len() > 100);
    for (kind, layer) in [
        ("gnu", npm_layer(&[(deep, "2.0.1")])),
        ("pax", npm_layer(&[(deep, "2.0.1")]).pax_long_names()),
    ] {
        let tar = layer.tar();
        let mut a = tar::Archive::new(&tar[..]);
        let found = a
            .entries()
            .unwrap()
            .any(|e| e.unwrap().path_bytes().as_ref() == format!("{deep}/package.json").as_bytes());
        assert!(found, "{kind}: the builder wrote the long name");
        let img = ImageSpec::new()
            .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
            .layer(layer, Compression::Gzip, "RUN /bin/sh -c npm ci # buildkit")
            .build();
        let dir = tmpdir();
        oci_layout(&img, None).write_dir(dir.path()).unwrap();
        let v = inventory_json(&s(dir.path()));
        let p = npm_entry(&v, "@smithy/signature-v4@2.0.1");
        assert_eq!(paths(&p), set(&[deep]), "{kind}");
        assert!(files(&v).contains_key(&format!("{deep}/package.json")), "{kind}");
    }
}

#[test]
fn apk_db_under_usr_lib_with_sloppy_formatting() {
    // Newer Alpine keeps the DB in usr/lib/apk/db/installed. apk tolerates extra blank lines,
    // missing fields and a missing final newline, so must we.
    let db = format!(
        "\n\n{}\n\nP:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\n\n\n\nP:no-origin\nV:1.0-r0\n\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl",
        apk_stanza("zlib", "1.3.1-r1", "x86_64", "Zlib", "zlib").trim_end()
    );
    let base = alpine_layer_without(&["lib/apk/db/installed"]).file("usr/lib/apk/db/installed", db);
    let img = ImageSpec::new().layer(base, Compression::Gzip, ALPINE_ADD).build();
    let v = inventory_of(&img);
    let a = apk(&v);
    assert_eq!(
        a.keys().map(String::as_str).collect::<Vec<_>>(),
        ["busybox", "musl", "no-origin", "zlib"],
        "{a:?}"
    );
    assert_eq!(a["musl"], ("1.2.5-r0".to_string(), "musl".to_string(), 0));
    assert_eq!(a["no-origin"].0, "1.0-r0");
    assert_eq!(apk_entry(&v, "musl")["license"], "MIT");
}

#[test]
fn whiteout_of_the_apk_db_removes_every_apk_package() {
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(
            Layer::new().whiteout("lib/apk/db/installed").whiteout("sbin/apk"),
            Compression::Gzip,
            "RUN /bin/sh -c rm -rf /lib/apk/db/installed /sbin/apk # buildkit",
        )
        .build();
    let v = inventory_of(&img);
    assert_eq!(apk(&v).len(), 0, "no DB, no apk packages: {}", names(&v, "apk"));
    assert_eq!(v["os"]["id"], "alpine", "the OS is still Alpine");
    assert!(!files(&v).contains_key("lib/apk/db/installed"));
}

#[test]
fn scratch_image_without_os_or_history() {
    // `FROM scratch` + `COPY node_modules`: no OS release, no apk DB, and a config without
    // history (as ko or crane write it).
    let mut spec = ImageSpec::new().layer(
        npm_layer(&[("app/node_modules/lodash", "4.17.20")]).file("app/index.js", "console.log(1)\n"),
        Compression::Gzip,
        "unused",
    );
    spec.omit_history = true;
    spec.cmd = vec![];
    let img = spec.build();
    let v = inventory_of(&img);
    assert!(v["os"].is_null(), "no os-release, no OS: {}", v["os"]);
    assert_eq!(arr(&v, "apk").len(), 0);
    assert_eq!(arr(&v, "users").len(), 0);
    let p = npm_entry(&v, "lodash@4.17.20");
    assert_eq!(p["layer"]["index"], 0);
    assert_eq!(p["layer"]["digest"], img.layers[0].digest.as_str());
    assert!(p["layer"]["created_by"].is_null(), "no history, no created_by: {p}");
    assert!(
        v["image"]["user"].is_null() || v["image"]["user"] == "",
        "{}",
        v["image"]["user"]
    );
    assert!(v["image"]["healthcheck"].is_null());
}

// ---------------------------------------------------------------------------------------------
// Multi-platform
// ---------------------------------------------------------------------------------------------

fn platform_image(arch: &str, variant: Option<&str>, apk_arch: &str) -> BuiltImage {
    let db = alpine_installed().replace("A:x86_64", &format!("A:{apk_arch}"));
    let base = alpine_layer_without(&["lib/apk/db/installed"])
        .file("lib/apk/db/installed", db)
        .file("etc/apk/arch", format!("{apk_arch}\n"));
    ImageSpec::new()
        .platform("linux", arch, variant)
        .layer(base, Compression::Gzip, ALPINE_ADD)
        .layer(
            npm_layer(&[("app/node_modules/lodash", "4.17.21")]),
            Compression::Gzip,
            &format!("RUN /bin/sh -c npm ci # {arch}"),
        )
        .build()
}

struct Platforms {
    amd64: BuiltImage,
    arm64: BuiltImage,
    armv7: BuiltImage,
}

fn platforms() -> &'static Platforms {
    static P: OnceLock<Platforms> = OnceLock::new();
    P.get_or_init(|| Platforms {
        amd64: platform_image("amd64", None, "x86_64"),
        arm64: platform_image("arm64", Some("v8"), "aarch64"),
        armv7: platform_image("arm", Some("v7"), "armv7"),
    })
}

fn multi_platform_layout(nested: bool) -> Layout {
    let p = platforms();
    let mut l = Layout::new();
    l.add_multi_platform(&[&p.amd64, &p.arm64, &p.armv7], true, Some("1.0.0"), nested);
    l
}

#[test]
fn multi_platform_index_selects_by_platform() {
    let p = platforms();
    let dir = tmpdir();
    multi_platform_layout(true).write_dir(dir.path()).unwrap();
    let r = format!("oci:{}", s(dir.path()));

    let v = inventory_json(&r);
    assert_eq!(v["image"]["platform"], "linux/amd64", "default platform");
    assert_eq!(v["image"]["manifest_digest"], p.amd64.manifest_digest.as_str());
    assert_eq!(apk_entry(&v, "busybox")["arch"], "x86_64");

    let v = inventory_json_with(&r, &["--platform", "linux/arm64/v8"], None);
    assert_eq!(v["image"]["manifest_digest"], p.arm64.manifest_digest.as_str());
    assert!(
        v["image"]["platform"].as_str().unwrap_or("").starts_with("linux/arm64"),
        "{}",
        v["image"]["platform"]
    );
    assert_eq!(apk_entry(&v, "busybox")["arch"], "aarch64");
    assert_eq!(npm_keys(&v), set(&["lodash@4.17.21"]));

    let v = inventory_json_with(&format!("{r}:1.0.0"), &["--platform", "linux/arm64/v8"], None);
    assert_eq!(
        v["image"]["manifest_digest"],
        p.arm64.manifest_digest.as_str(),
        "tag, then platform"
    );

    let v = inventory_json_with(&r, &["--platform", "linux/arm/v7"], None);
    assert_eq!(v["image"]["manifest_digest"], p.armv7.manifest_digest.as_str());
    assert_eq!(apk_entry(&v, "musl")["arch"], "armv7");
}

#[test]
fn multi_platform_linux_arm64_matches_the_arm64_v8_manifest() {
    // Docker Hub's indexes say arm64 + variant v8; `--platform linux/arm64` must find it
    // (containerd normalises arm64 to arm64/v8).
    let p = platforms();
    let dir = tmpdir();
    let path = write(dir.path(), "multi.tar", &multi_platform_layout(false).to_tar());
    let v = inventory_json_with(
        &format!("oci-archive:{}", s(&path)),
        &["--platform", "linux/arm64"],
        None,
    );
    assert_eq!(v["image"]["manifest_digest"], p.arm64.manifest_digest.as_str());
    assert_eq!(apk_entry(&v, "busybox")["arch"], "aarch64");
}

#[test]
fn multi_platform_missing_platform_lists_the_available_ones() {
    let dir = tmpdir();
    multi_platform_layout(true).write_dir(dir.path()).unwrap();
    let err = inventory_fails_with(&format!("oci:{}", s(dir.path())), &["--platform", "linux/s390x"], None);
    assert_mentions(&err, &["linux/s390x", "linux/amd64", "linux/arm64", "linux/arm/v7"]);
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

#[test]
fn output_file_receives_the_report() {
    let dir = tmpdir();
    let image = repo_root().join("testdata/demo/app.tar");
    let report = dir.path().join("report.json");
    let out = imagegate(
        &["inventory", &s(&image), "--format", "json", "--output", &s(&report)],
        None,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.trim().is_empty(),
        "the report goes to the file, not stdout: {}",
        out.stdout
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&report).expect("report written")).expect("JSON report");
    assert_demo(
        &v,
        &Expect {
            img: demo(),
            manifest_digest: Some(&demo().manifest_digest),
            repo_tags: &[],
        },
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind: {leftovers:?}");
}

#[test]
fn table_output_names_packages_versions_and_layers() {
    let image = repo_root().join("testdata/demo/app.tar");
    let out = imagegate(&["inventory", &s(&image)], None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let t = &out.stdout;
    for needle in [
        "busybox",
        "1.36.1-r29",
        "libstdc++",
        "13.2.1_git20240309-r0",
        "lodash",
        "4.17.20",
        "typescript",
        "next",
        "13.4.0",
        "Alpine Linux v3.20",
        "nextjs",
        "3000/tcp",
    ] {
        assert!(t.contains(needle), "the table must mention `{needle}`:\n{t}");
    }
    assert!(
        !t.lines().any(|l| l.contains(" minimist ")),
        "a deleted package has no row in the table:\n{t}"
    );
    let same = imagegate(&["inventory", &s(&image), "--format", "table"], None);
    assert_eq!(same.stdout, out.stdout, "table is the default format");
}

// ---------------------------------------------------------------------------------------------
// Bad input and faults
// ---------------------------------------------------------------------------------------------

/// An image with two layers; layer 1 is the app layer (the one the faults hit).
fn two_layer_spec(c: Compression) -> ImageSpec {
    ImageSpec::new().layer(alpine_base(), c, ALPINE_ADD).layer(
        npm_layer(&[
            ("app/node_modules/lodash", "4.17.21"),
            ("app/node_modules/debug", "4.3.4"),
        ]),
        c,
        "RUN /bin/sh -c npm ci # buildkit",
    )
}

fn faulty_layout(spec: ImageSpec, faults: Faults) -> (tempfile::TempDir, BuiltImage, String) {
    let img = spec.faults(faults).build();
    let dir = tmpdir();
    oci_layout(&img, None).write_dir(dir.path()).unwrap();
    let r = format!("oci:{}", s(dir.path()));
    (dir, img, r)
}

#[test]
fn a_layer_that_does_not_verify_is_an_error_naming_the_layer() {
    struct Case {
        compression: Compression,
        faults: Faults,
        layer: usize,
        /// The message names the layer's digest too.
        digest: bool,
        /// A word the message must contain (any case).
        word: Option<&'static str>,
    }
    let case = |compression, faults, layer, digest, word| Case {
        compression,
        faults,
        layer,
        digest,
        word,
    };
    let none = Faults::default;
    for_each_case(
        [
            (
                "blob digest mismatch",
                case(
                    Compression::Gzip,
                    Faults {
                        wrong_blob_digest: Some(1),
                        ..none()
                    },
                    1,
                    true,
                    Some("digest"),
                ),
            ),
            (
                "diff_id mismatch",
                case(
                    Compression::Gzip,
                    Faults {
                        wrong_diff_id: Some(1),
                        ..none()
                    },
                    1,
                    true,
                    Some("diff_id"),
                ),
            ),
            (
                "size 100 bytes short",
                case(
                    Compression::Gzip,
                    Faults {
                        lying_size: Some((1, -100)),
                        ..none()
                    },
                    1,
                    false,
                    Some("size"),
                ),
            ),
            (
                "size 100 bytes over",
                case(
                    Compression::Gzip,
                    Faults {
                        lying_size: Some((1, 100)),
                        ..none()
                    },
                    1,
                    false,
                    Some("size"),
                ),
            ),
            (
                "truncated gzip",
                case(
                    Compression::Gzip,
                    Faults {
                        truncate: Some(1),
                        ..none()
                    },
                    1,
                    true,
                    None,
                ),
            ),
            (
                "truncated zstd",
                case(
                    Compression::Zstd,
                    Faults {
                        truncate: Some(0),
                        ..none()
                    },
                    0,
                    true,
                    None,
                ),
            ),
        ],
        |c| {
            let (dir, img, r) = faulty_layout(two_layer_spec(c.compression), c.faults);
            let err = inventory_fails(&r);
            let layer = format!("layer {}", c.layer);
            let mut needles = vec![s(dir.path()), layer];
            if c.digest {
                needles.push(hex_of(&img.layers[c.layer].digest).to_string());
            }
            assert_mentions(&err, &needles.iter().map(String::as_str).collect::<Vec<_>>());
            if let Some(word) = c.word {
                assert_mentions_ci(&err, word);
            }
        },
    );
}

#[test]
fn diff_id_mismatch_in_a_classic_docker_save_is_an_error_naming_the_layer() {
    // Classic docker save has no compressed digest: the diff_id is the only check.
    let img = two_layer_spec(Compression::None)
        .faults(Faults {
            wrong_diff_id: Some(0),
            ..Faults::default()
        })
        .build();
    let dir = tmpdir();
    let path = write(dir.path(), "swapped.tar", &docker_classic(&[(&img, &["swapped:1"])]));
    let err = inventory_fails(&s(&path));
    assert_mentions(&err, &[&s(&path), "layer 0", "layer.tar"]);
    assert_mentions_ci(&err, "diff_id");
}

#[test]
fn truncated_docker_save_is_an_error() {
    let tar = docker_classic(&[(demo_plain(), &["demo/app:1.0.0"])]);
    let dir = tmpdir();
    let path = write(dir.path(), "cut.tar", &tar[..tar.len() / 2]);
    let err = inventory_fails(&s(&path));
    assert_mentions(&err, &[&s(&path)]);
    let gz = gzip(&tar);
    let err = inventory_fails_with("-", &[], Some(gz[..gz.len() - 100].to_vec()));
    assert!(!err.is_empty());
}

fn hostile_image(layer: Layer) -> (tempfile::TempDir, BuiltImage, String) {
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(layer, Compression::Gzip, "RUN /bin/sh -c evil # buildkit")
        .build();
    let dir = tmpdir();
    oci_layout(&img, None).write_dir(dir.path()).unwrap();
    let r = format!("oci:{}", s(dir.path()));
    (dir, img, r)
}

#[test]
fn an_entry_escaping_the_root_is_an_error_naming_the_path() {
    // (the hostile layer, the path the message names, whether it names the layer's digest)
    let lodash = || npm_layer(&[("app/node_modules/lodash", "4.17.21")]);
    for_each_case(
        [
            (
                "parent dir entry",
                (lodash().raw_file(b"../evil", "pwned\n"), "../evil", true),
            ),
            (
                "parent dirs inside the path",
                (
                    lodash().raw_file(b"app/../../../etc/shadow", "pwned\n"),
                    "app/../../../etc/shadow",
                    true,
                ),
            ),
            (
                "absolute entry",
                (
                    Layer::new().raw_file(b"/etc/passwd", "root::0:0::/:/bin/sh\n"),
                    "/etc/passwd",
                    true,
                ),
            ),
            (
                "hardlink escaping the root",
                (
                    Layer::new().raw_hardlink(b"app/node_modules/x/package.json", b"../../../../etc/shadow"),
                    "app/node_modules/x/package.json",
                    false,
                ),
            ),
        ],
        |(layer, path, digest)| {
            let (dir, img, r) = hostile_image(layer);
            let err = inventory_fails(&r);
            let dir = s(dir.path());
            let mut needles = vec![dir.as_str(), "layer 1", path];
            if digest {
                needles.push(hex_of(&img.layers[1].digest));
            }
            assert_mentions(&err, &needles);
        },
    );
}

#[test]
fn absolute_symlink_targets_are_normal() {
    // `bin/sh -> /bin/busybox` is in every Alpine image: not hostile.
    let (_dir, _img, r) = hostile_image(
        Layer::new()
            .exe("bin/busybox", "placeholder\n")
            .symlink("bin/sh", "/bin/busybox")
            .symlink("app/node_modules/.bin/x", "../../../../../../usr/bin/x"),
    );
    let v = inventory_json(&r);
    assert_eq!(apk(&v).len(), 14);
}

fn cut_in_half(b: Vec<u8>) -> Vec<u8> {
    b[..b.len() / 2].to_vec()
}

fn replace_bytes(b: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    let pos = b.windows(from.len()).position(|w| w == from).expect("pattern present");
    [&b[..pos], to, &b[pos + from.len()..]].concat()
}

#[test]
fn invalid_json_manifest_is_an_error() {
    let (dir, img, r) = faulty_layout(
        two_layer_spec(Compression::Gzip),
        Faults {
            edit_manifest: Some(cut_in_half),
            ..Faults::default()
        },
    );
    let err = inventory_fails(&r);
    assert_mentions(&err, &[&s(dir.path())]);
    assert_mentions_ci(&err, "manifest");
    let _ = img;

    // docker save's manifest.json.
    let t = Layer::new()
        .file("repositories", "{}")
        .file(
            "manifest.json",
            "[{\"Config\":\"abc.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[",
        )
        .tar();
    let dir = tmpdir();
    let path = write(dir.path(), "bad.tar", &t);
    let err = inventory_fails(&format!("docker-archive:{}", s(&path)));
    assert_mentions(&err, &[&s(&path), "manifest.json"]);

    // index.json.
    let dir = tmpdir();
    write(dir.path(), "oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}");
    write(
        dir.path(),
        "index.json",
        b"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":",
    );
    let err = inventory_fails(&format!("oci:{}", s(dir.path())));
    assert_mentions(&err, &[&s(dir.path()), "index.json"]);
}

fn break_utf8(b: Vec<u8>) -> Vec<u8> {
    replace_bytes(b, b"\"User\":\"1001\"", b"\"User\":\"10\xff\xfe1\"")
}

#[test]
fn invalid_utf8_in_config_is_an_error() {
    let spec = two_layer_spec(Compression::Gzip).user("1001");
    let (dir, img, r) = faulty_layout(
        spec,
        Faults {
            edit_config: Some(break_utf8),
            ..Faults::default()
        },
    );
    assert!(
        std::str::from_utf8(&img.config).is_err(),
        "the fixture really is invalid UTF-8"
    );
    let err = inventory_fails(&r);
    assert_mentions(&err, &[&s(dir.path())]);
    assert_mentions_ci(&err, "config");
}

#[test]
fn oversized_package_json_is_a_warning_not_an_error() {
    let big = format!(
        "{{\"name\":\"big\",\"version\":\"1.0.0\",\"description\":\"{}\"}}",
        "x".repeat((1 << 20) + 10)
    );
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(
            npm_layer(&[("app/node_modules/lodash", "4.17.21")]).file("app/node_modules/big/package.json", big),
            Compression::Gzip,
            "RUN /bin/sh -c npm ci # buildkit",
        )
        .build();
    let v = inventory_of(&img);
    let w = warnings(&v);
    assert!(
        w.iter().any(|w| w.contains("app/node_modules/big/package.json")),
        "a warning names the oversized file: {w:?}"
    );
    assert!(
        npm(&v).contains_key("lodash@4.17.21"),
        "the rest of the inventory is intact"
    );
    assert_eq!(apk(&v).len(), 14);
    assert!(
        files(&v).contains_key("app/node_modules/big/package.json"),
        "the file is still a file"
    );
}

#[test]
fn decompression_bomb_is_an_error() {
    let t = std::time::Instant::now();
    let bomb = bomb_layer(80);
    assert!(
        bomb.tar_len / bomb.blob.len() as u64 > 250,
        "the fixture must be a bomb: ratio {}",
        bomb.tar_len / bomb.blob.len() as u64
    );
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .prebuilt(
            bomb,
            "RUN /bin/sh -c dd if=/dev/zero of=/var/cache/zeros.bin # buildkit",
        )
        .build();
    let built = t.elapsed();
    let dir = tmpdir();
    oci_layout(&img, None).write_dir(dir.path()).unwrap();
    let err = inventory_fails(&s(dir.path()));
    assert_mentions(&err, &["decompression bomb", "layer 1", &s(dir.path())]);
    assert!(built < Duration::from_secs(10), "building the bomb took {built:?}");
}

#[test]
fn tampered_manifest_or_config_blob_is_an_error() {
    // Someone edits the config to say `User: 1001` without changing its digest.
    let img = two_layer_spec(Compression::Gzip).user("0").build();
    let dir = tmpdir();
    oci_layout(&img, None).write_dir(dir.path()).unwrap();
    let config_path = dir.path().join("blobs/sha256").join(hex_of(&img.config_digest));
    let tampered = replace_bytes(img.config.clone(), b"\"User\":\"0\"", b"\"User\":\"1\"");
    std::fs::write(&config_path, tampered).unwrap();
    let err = inventory_fails(&s(dir.path()));
    assert_mentions(&err, &[&s(dir.path()), hex_of(&img.config_digest)]);

    // A manifest edited to drop its second layer (same digest name, other bytes).
    let dir = tmpdir();
    oci_layout(&img, None).write_dir(dir.path()).unwrap();
    let mut m: Value = serde_json::from_slice(&img.manifest).unwrap();
    m["layers"].as_array_mut().unwrap().pop();
    std::fs::write(
        dir.path().join("blobs/sha256").join(hex_of(&img.manifest_digest)),
        serde_json::to_vec(&m).unwrap(),
    )
    .unwrap();
    let err = inventory_fails(&s(dir.path()));
    assert_mentions(&err, &[&s(dir.path()), hex_of(&img.manifest_digest)]);
}

fn drop_last_diff_id(b: Vec<u8>) -> Vec<u8> {
    let mut c: Value = serde_json::from_slice(&b).unwrap();
    c["rootfs"]["diff_ids"].as_array_mut().unwrap().pop();
    serde_json::to_vec(&c).unwrap()
}

#[test]
fn config_and_manifest_disagreeing_on_the_layer_count_is_an_error() {
    let (dir, _img, r) = faulty_layout(
        two_layer_spec(Compression::Gzip),
        Faults {
            edit_config: Some(drop_last_diff_id),
            ..Faults::default()
        },
    );
    let err = inventory_fails(&r);
    assert_mentions(&err, &[&s(dir.path())]);
    assert_mentions_ci(&err, "diff_id");
}

#[test]
fn descriptor_digest_with_a_path_is_rejected() {
    let dir = tmpdir();
    let secret = dir.path().join("secret.json");
    std::fs::write(&secret, b"{\"schemaVersion\":2,\"layers\":[]}").unwrap();
    let layout = dir.path().join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    write(&layout, "oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}");
    write(
        &layout,
        "index.json",
        br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../secret.json","size":31}]}"#,
    );
    let err = inventory_fails(&format!("oci:{}", s(&layout)));
    assert_mentions(&err, &[&s(&layout), "sha256:../../secret.json"]);
}

#[test]
fn missing_blob_is_an_error_naming_it() {
    let img = two_layer_spec(Compression::Gzip).build();
    let dir = tmpdir();
    oci_layout(&img, None).write_dir(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join("blobs/sha256").join(hex_of(&img.layers[1].digest))).unwrap();
    let err = inventory_fails(&s(dir.path()));
    assert_mentions(&err, &[&s(dir.path()), hex_of(&img.layers[1].digest)]);
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let dir = tmpdir();
    let missing = dir.path().join("no/such/image.tar");
    for r in [
        s(&missing),
        format!("docker-archive:{}", s(&missing)),
        format!("oci-archive:{}", s(&missing)),
        format!("oci:{}", s(&missing)),
    ] {
        let err = inventory_fails(&r);
        assert_mentions(&err, &[&s(&missing)]);
    }
}

#[test]
fn garbage_file_is_an_error_naming_it() {
    let dir = tmpdir();
    // Deterministic noise (an LCG), not a tar, not gzip.
    let mut x: u32 = 12345;
    let noise: Vec<u8> = (0..8192)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    let path = write(dir.path(), "garbage.tar", &noise);
    let err = inventory_fails(&s(&path));
    assert_mentions(&err, &[&s(&path)]);
    let err = inventory_fails(&format!("docker-archive:{}", s(&path)));
    assert_mentions(&err, &[&s(&path)]);

    let empty = write(dir.path(), "empty.tar", b"");
    let err = inventory_fails(&s(&empty));
    assert_mentions(&err, &[&s(&empty)]);

    // A valid tar that is not an image.
    let not_image = write(
        dir.path(),
        "notes.tar",
        &Layer::new().file("notes.txt", "hello\n").tar(),
    );
    let err = inventory_fails(&s(&not_image));
    assert_mentions(&err, &[&s(&not_image)]);
}

#[test]
fn bad_command_line_exits_2() {
    let out = imagegate(&["inventory", "x.tar", "--format", "yaml"], None);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let out = imagegate(&["inventory"], None);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}
