//! Go and Rust binaries, found wherever they sit and checked: a real Go binary built here by
//! the real toolchain (Debian's `golang-go`, installed by `scripts/test.sh`), with a
//! dependency supplied by a local `replace` so nothing is downloaded (`GOPROXY=off`), and
//! the same built with `-ldflags=-s -w` (stripped) where esbuild ships in `node_modules`; a
//! real `cargo auditable` binary (`testdata/rustbin/`, with its generator). Matched against
//! real golang/vulndb and RustSec records (`testdata/osv/go/`, `testdata/osv/crates.io/`).

use crate::support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `hello` (plain) and `hello-stripped` built from a tiny module that requires
/// golang.org/x/text v0.3.6, replaced by a local directory.
fn go_binaries() -> &'static (PathBuf, PathBuf) {
    static BIN: OnceLock<(tempfile::TempDir, (PathBuf, PathBuf))> = OnceLock::new();
    &BIN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("text/language")).unwrap();
        std::fs::write(
            src.join("go.mod"),
            "module example.com/hello\n\ngo 1.19\n\nrequire golang.org/x/text v0.3.6\n\nreplace golang.org/x/text => ./text\n",
        )
        .unwrap();
        std::fs::write(
            src.join("main.go"),
            "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() { fmt.Println(language.Parse(\"en\")) }\n",
        )
        .unwrap();
        std::fs::write(src.join("text/go.mod"), "module golang.org/x/text\n\ngo 1.19\n").unwrap();
        std::fs::write(
            src.join("text/language/language.go"),
            "package language\n\n// Parse stands in for the real one.\nfunc Parse(s string) string { return s }\n",
        )
        .unwrap();
        let build = |out: &str, ldflags: &str| {
            let status = Command::new("go")
                .args(["build", "-trimpath", "-ldflags", ldflags, "-o"])
                .arg(tmp.path().join(out))
                .arg(".")
                .current_dir(&src)
                .env("GOPROXY", "off")
                .env("GOFLAGS", "-mod=mod")
                .env("CGO_ENABLED", "0")
                .env("GOCACHE", tmp.path().join("cache"))
                .env("GOPATH", tmp.path().join("gopath"))
                .env("HOME", tmp.path())
                .status()
                .expect("the Go toolchain (`go`; scripts/test.sh installs golang-go)");
            assert!(status.success(), "go build {out}");
            tmp.path().join(out)
        };
        let plain = build("hello", "");
        let stripped = build("hello-stripped", "-s -w");
        (tmp, (plain, stripped))
    })
    .1
}

/// The toolchain's version as OSV spells it (`go1.19.8` → `1.19.8`).
fn go_version() -> String {
    let out = Command::new("go").args(["env", "GOVERSION"]).output().unwrap();
    let v = String::from_utf8(out.stdout).unwrap();
    imagegate::inventory::gobin::stdlib_version(v.trim()).unwrap()
}

fn db() -> &'static Path {
    crate::support::osv_db(&["npm", "debian", "go", "crates.io"])
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001::/app:/sbin/nologin\n";

/// An image fit for production but for its binaries: Debian's os-release, user 1001, a
/// health check, the source label; `bins` in a second layer.
fn image(dir: &Path, name: &str, bins: &[(&str, Vec<u8>)]) -> String {
    let os_release = std::fs::read_to_string(repo_root().join("testdata/debian-12/etc/os-release")).unwrap();
    let mut layer = Layer::new();
    for (path, bytes) in bins {
        layer = layer.file_mode(path, bytes, 0o755);
    }
    let img = ImageSpec::new()
        .layer(
            Layer::new()
                .file("etc/passwd", PASSWD)
                .file("etc/os-release", os_release),
            Compression::Gzip,
            "ADD rootfs /",
        )
        .layer(layer, Compression::Gzip, "COPY bin/ /")
        .user("1001")
        .healthcheck(&["CMD", "true"])
        .label("org.opencontainers.image.source", "https://example.com/app")
        .build();
    let path = dir.join(name);
    oci_layout(&img, None).write_dir(&path).unwrap();
    path.display().to_string()
}

fn run(args: &[&str], policy: Option<&str>) -> (i32, Value, String) {
    let mut cmd = imagegate();
    cmd.args(args).args(["--format", "json"]);
    if args.first() == Some(&"scan") {
        cmd.arg("--db").arg(db());
    }
    if let Some(p) = policy {
        cmd.arg("--policy").arg(repo_root().join(p));
    }
    let cwd = tempfile::tempdir().unwrap();
    let r = cmd.current_dir(cwd.path()).run();
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, v, r.stderr)
}

/// (source, status, packages, ecosystem, paths) of each coverage entry for `source`.
fn coverage_of(v: &Value, source: &str) -> Vec<(String, u64, String, Vec<String>)> {
    v["coverage"]
        .as_array()
        .unwrap_or_else(|| panic!("no coverage in {v}"))
        .iter()
        .filter(|c| c["source"] == source)
        .map(|c| {
            (
                c["status"].as_str().unwrap().to_string(),
                c["packages"].as_u64().unwrap(),
                c["ecosystem"].as_str().unwrap_or("").to_string(),
                c["paths"]
                    .as_array()
                    .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// (advisory id, package, installed, fixed, layer index, paths) of a vulnerability.
type Vuln = (String, String, String, Vec<String>, u64, Vec<String>);

fn vulns(v: &Value) -> Vec<Vuln> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let x = f.get("vulnerability")?;
            let strings = |a: &Value| -> Vec<String> {
                a.as_array()
                    .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default()
            };
            Some((
                x["id"].as_str()?.to_string(),
                x["package"]["name"].as_str()?.to_string(),
                x["package"]["version"].as_str()?.to_string(),
                strings(&x["fixed"]),
                x["layer"]["index"].as_u64()?,
                strings(&x["package"]["paths"]),
            ))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn go_and_rust_binaries_anywhere_are_listed_with_their_layer_and_matched() {
    let (plain, stripped) = go_binaries();
    let tmp = tempfile::tempdir().unwrap();
    const ESBUILD: &str = "app/node_modules/@esbuild/linux-x64/bin/esbuild";
    let rust = std::fs::read(repo_root().join("testdata/rustbin/smallvec-demo")).unwrap();
    let img = image(
        tmp.path(),
        "bins",
        &[
            ("usr/local/bin/hello", std::fs::read(plain).unwrap()),
            (ESBUILD, std::fs::read(stripped).unwrap()),
            ("usr/local/bin/smallvec-demo", rust),
            // An ELF that is neither: no package, no warning.
            ("usr/lib/libplain.so", b"\x7fELF\x02\x01\x01 nothing else".to_vec()),
        ],
    );
    let stdlib = go_version();

    // The inventory: every module of both Go binaries (the stripped one too: `-s -w` drops
    // the symbol table, not the build info), the toolchain as `stdlib`, the Rust crates.
    let (code, inv, stderr) = run(&["inventory", &img], None);
    assert_eq!(code, 0, "{stderr}");
    let go: Vec<(String, String, Vec<String>, u64)> = inv["go"]
        .as_array()
        .unwrap_or_else(|| panic!("no go packages: {inv}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
                p["binaries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_str().unwrap().to_string())
                    .collect(),
                p["layer"]["index"].as_u64().unwrap(),
            )
        })
        .collect();
    let both = vec![ESBUILD.to_string(), "usr/local/bin/hello".to_string()];
    assert_eq!(
        go,
        [
            ("example.com/hello".into(), "(devel)".into(), both.clone(), 1),
            ("golang.org/x/text".into(), "v0.3.6".into(), both.clone(), 1),
            ("stdlib".into(), stdlib.clone(), both.clone(), 1),
        ]
    );
    let text = &inv["go"][1];
    assert_eq!(text["replaced_by"], "./text", "{text}");
    let crates: Vec<(&str, &str, &str)> = inv["rust"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap(),
                c["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        crates,
        [("smallvec", "1.6.0", "crates.io"), ("smallvec-demo", "0.1.0", "local")]
    );
    assert!(inv["warnings"].as_array().unwrap().is_empty(), "{}", inv["warnings"]);

    // The table lists them too: one row per module and crate, with the binaries holding it.
    for wide in [false, true] {
        let mut cmd = imagegate();
        cmd.args(["inventory", &img]).env("COLUMNS", "200");
        if wide {
            cmd.arg("--wide");
        }
        let r = cmd.run();
        assert_eq!(r.code, 0, "{}", r.stderr);
        let section = |title: &str| -> Vec<String> {
            let start = r
                .stdout
                .find(title)
                .unwrap_or_else(|| panic!("no {title} in:\n{}", r.stdout));
            r.stdout[start..]
                .lines()
                .skip(1)
                .take_while(|l| !l.trim().is_empty())
                .map(|l| {
                    l.split(['│', '┆', ' '])
                        .filter(|c| !c.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|l| l.chars().any(char::is_alphanumeric))
                .collect()
        };
        let go_rows = section("Go modules (3)");
        let has = |rows: &[String], needle: &str| rows.iter().any(|l| l.contains(needle));
        for needle in [
            "example.com/hello (devel) main".to_string(),
            "golang.org/x/text v0.3.6 => ./text".to_string(),
            format!("stdlib {stdlib} toolchain"),
        ] {
            assert!(has(&go_rows, &needle), "wide={wide}: {needle:?} in {go_rows:#?}");
        }
        assert!(has(&go_rows, ESBUILD), "wide={wide}: {go_rows:#?}");
        let rust_rows = section("Rust crates (2)");
        for needle in ["smallvec 1.6.0 crates.io", "smallvec-demo 0.1.0 local"] {
            assert!(has(&rust_rows, needle), "wide={wide}: {needle:?} in {rust_rows:#?}");
        }
        assert!(
            has(&rust_rows, "usr/local/bin/smallvec-demo"),
            "wide={wide}: {rust_rows:#?}"
        );
    }

    // The scan: both ecosystems checked, findings against the real records with their fixes
    // and the layer that added the binaries.
    for policy in [None, Some("policies/production.toml")] {
        let (code, v, stderr) = run(&["scan", &img], policy);
        assert_eq!(
            coverage_of(&v, "go"),
            [("checked".into(), 3, "Go".into(), both.clone())],
            "{policy:?}"
        );
        assert_eq!(
            coverage_of(&v, "rust"),
            [(
                "checked".into(),
                2,
                "crates.io".into(),
                vec!["usr/local/bin/smallvec-demo".to_string()]
            )]
        );
        let found = vulns(&v);
        let ids: Vec<(&str, &str, &str, &[String])> = found
            .iter()
            .map(|(id, name, version, fixed, _, _)| (id.as_str(), name.as_str(), version.as_str(), fixed.as_slice()))
            .collect();
        let mut expected: Vec<(&str, &str, &str, Vec<String>)> = vec![
            ("GO-2021-0113", "golang.org/x/text", "v0.3.6", vec!["0.3.7".into()]),
            ("RUSTSEC-2021-0003", "smallvec", "1.6.0", vec!["1.6.1".into()]),
        ];
        // GO-2023-1878 affects every toolchain before 1.19.11 and 1.20.0–1.20.5.
        let old_toolchain =
            imagegate::advisory::npm_version::compare(&stdlib, "1.19.11") == Some(std::cmp::Ordering::Less);
        if old_toolchain {
            expected.push(("GO-2023-1878", "stdlib", &stdlib, vec!["1.19.11".into()]));
        }
        expected.sort();
        let expected: Vec<(&str, &str, &str, &[String])> =
            expected.iter().map(|(a, b, c, d)| (*a, *b, *c, d.as_slice())).collect();
        assert_eq!(ids, expected, "{policy:?}: {stderr}");
        for (_, name, _, _, layer, paths) in &found {
            assert_eq!(*layer, 1, "{name}: added by the second layer");
            assert!(!paths.is_empty(), "{name}: names its binaries");
        }
        // Findings with fixes fail both policies' vulnerability rules.
        assert_eq!(code, 1, "{policy:?}: {stderr}");
    }
}

/// `\x7fELF`, padding, then a `.go.buildinfo` header whose version length is 2^40.
fn lying_go_binary() -> Vec<u8> {
    let mut b = b"\x7fELF\x02\x01\x01\x00".to_vec();
    b.resize(4096, 0);
    b.extend_from_slice(b"\xff Go buildinf:");
    b.extend([8, 0x2]);
    b.resize(4096 + 32, 0);
    b.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]); // 2^40 as a varint
    b.extend_from_slice(b"go1.19.8");
    b.resize(8192, 0);
    b
}

#[test]
fn a_go_binary_that_lies_about_its_lengths_is_a_warning_and_not_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let img = image(tmp.path(), "liar", &[("opt/tool/bin/tool", lying_go_binary())]);
    let (code, v, stderr) = run(&["scan", &img], None);
    let go = coverage_of(&v, "go");
    assert_eq!(go.len(), 1, "{}", v["coverage"]);
    assert_eq!((go[0].0.as_str(), go[0].1), ("not_checked", 0));
    assert_eq!(go[0].3, ["opt/tool/bin/tool"]);
    let warnings = v["warnings"].to_string() + &stderr;
    assert!(
        warnings.contains("opt/tool/bin/tool") && warnings.contains("lengths that lie"),
        "{warnings}"
    );
    // The built-in default warns on what was not checked; production fails on it.
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(&["scan", &img], Some("policies/production.toml"));
    assert_eq!(code, 1, "{stderr}");
}

/// The real esbuild binary from its npm package `@esbuild/linux-x64` (one pinned version,
/// checked against the registry's integrity), which scripts/test.sh downloads into target/.
fn real_esbuild() -> PathBuf {
    let run_it = "run scripts/test.sh, which downloads @esbuild/linux-x64 from the npm registry into target/ and sets IMAGEGATE_ESBUILD";
    let path = std::env::var_os("IMAGEGATE_ESBUILD")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("IMAGEGATE_ESBUILD is not set: {run_it}"));
    assert!(path.is_file(), "{} is not a file: {run_it}", path.display());
    path
}

/// What the Go toolchain reads from a binary's build info, `go version -m FILE`: the
/// toolchain (`go1.23.1`), the main module and its version, and each dependency as built
/// (a versioned `=>` replacement stands in for the module it replaces).
struct GoVersionM {
    toolchain: String,
    main: (String, String),
    deps: Vec<(String, String)>,
}

fn go_version_m(file: &Path) -> GoVersionM {
    let out = Command::new("go")
        .arg("version")
        .arg("-m")
        .arg(file)
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `go` ({e}): scripts/test.sh installs it (golang-go)"));
    assert!(
        out.status.success(),
        "go version -m: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let toolchain = lines.next().unwrap().rsplit(": ").next().unwrap().to_string();
    let mut main = None;
    let mut deps: Vec<(String, String)> = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.trim_start_matches('\t').split('\t').collect();
        match fields.as_slice() {
            ["mod", path, version, ..] => main = Some((path.to_string(), version.to_string())),
            ["dep", path, version, ..] => deps.push((path.to_string(), version.to_string())),
            ["=>", path, version, ..] if !version.is_empty() => {
                *deps.last_mut().unwrap() = (path.to_string(), version.to_string());
            }
            _ => {}
        }
    }
    GoVersionM {
        toolchain,
        main: main.expect("a main module"),
        deps,
    }
}

#[test]
fn the_real_esbuild_binary_from_npm_lists_what_go_version_m_reads() {
    const ESBUILD: &str = "app/node_modules/@esbuild/linux-x64/bin/esbuild";
    let bin = real_esbuild();
    let expected = go_version_m(&bin);
    assert_eq!(expected.main.0, "github.com/evanw/esbuild");
    let tmp = tempfile::tempdir().unwrap();
    let img = image(tmp.path(), "esbuild", &[(ESBUILD, std::fs::read(&bin).unwrap())]);
    let (code, inv, stderr) = run(&["inventory", &img], None);
    assert_eq!(code, 0, "{stderr}");
    let modules: Vec<&Value> = inv["go"]
        .as_array()
        .unwrap_or_else(|| panic!("no go packages: {inv}"))
        .iter()
        .filter(|p| p["binaries"].as_array().unwrap().iter().any(|b| b == ESBUILD))
        .collect();
    let of = |p: &Value| {
        (
            p["name"].as_str().unwrap().to_string(),
            p["version"].as_str().unwrap().to_string(),
        )
    };
    let main: Vec<_> = modules.iter().filter(|p| p["main"] == true).map(|p| of(p)).collect();
    assert_eq!(main, std::slice::from_ref(&expected.main), "the main module");
    let stdlib: Vec<_> = modules
        .iter()
        .filter(|p| p["name"] == "stdlib")
        .map(|p| of(p))
        .collect();
    let toolchain = imagegate::inventory::gobin::stdlib_version(&expected.toolchain).unwrap();
    assert_eq!(
        stdlib,
        [("stdlib".to_string(), toolchain)],
        "go version -m says {}",
        expected.toolchain
    );
    let mut deps: Vec<_> = modules
        .iter()
        .filter(|p| p["main"] != true && p["name"] != "stdlib")
        .map(|p| of(p))
        .collect();
    deps.sort();
    let mut want = expected.deps.clone();
    want.sort();
    assert!(!want.is_empty(), "esbuild depends on golang.org/x/sys");
    assert_eq!(deps, want, "the dependencies");
    assert!(modules.iter().all(|p| p["layer"]["index"] == 1));
    assert_eq!(inv["warnings"], serde_json::json!([]));
    let go = coverage_of(&inv, "go");
    assert_eq!(go.len(), 1, "{}", inv["coverage"]);
    assert_eq!((go[0].0.as_str(), &go[0].3), ("read", &vec![ESBUILD.to_string()]));
}

/// OSV's bucket layout for one ecosystem: `all.zip` of the records in `testdata/osv/<dir>`.
fn all_zip(dir: &str) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo_root().join("testdata/osv").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        w.start_file(
            p.file_name().unwrap().to_string_lossy(),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(&std::fs::read(&p).unwrap()).unwrap();
    }
    w.finish().unwrap();
    buf.into_inner()
}

#[test]
fn db_update_fetches_go_and_crates_io_from_the_bucket_layout() {
    let server = crate::support::http::HttpServer::start();
    server.put("/Go/all.zip", all_zip("go"));
    server.put("/crates.io/all.zip", all_zip("crates.io"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let r = imagegate()
        .args([
            "db",
            "update",
            "--ecosystem",
            "Go",
            "--ecosystem",
            "crates.io",
            "--mirror",
            server.url(),
            "--db",
        ])
        .arg(&dir)
        .env_remove("IMAGEGATE_OSV_MIRROR")
        .run();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let index = imagegate::advisory::db::open(&dir).unwrap();
    let eco = &index.meta().ecosystems;
    assert_eq!((eco.get("Go"), eco.get("crates.io")), (Some(&2), Some(&1)), "{eco:?}");
    let ids =
        |e: &str, name: &str| -> Vec<String> { index.lookup(e, name).unwrap().into_iter().map(|r| r.id).collect() };
    assert_eq!(ids("Go", "stdlib"), ["GO-2023-1878"]);
    assert_eq!(ids("Go", "golang.org/x/text"), ["GO-2021-0113"]);
    assert_eq!(ids("crates.io", "smallvec"), ["RUSTSEC-2021-0003"]);
}

/// The Go modules and crates an SBOM lists: (purl, name, version).
fn sbom_purls(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = if let Some(c) = doc["components"].as_array() {
        c.iter()
            .filter_map(|c| c["purl"].as_str())
            .map(str::to_string)
            .collect()
    } else {
        doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
            .map(str::to_string)
            .collect()
    };
    out.retain(|p| p.starts_with("pkg:golang/") || p.starts_with("pkg:cargo/"));
    out.sort();
    out
}

#[test]
fn go_modules_and_crates_travel_through_both_sboms_to_the_same_findings_as_the_image() {
    let (plain, _) = go_binaries();
    let tmp = tempfile::tempdir().unwrap();
    let rust = std::fs::read(repo_root().join("testdata/rustbin/smallvec-demo")).unwrap();
    let img = image(
        tmp.path(),
        "bins",
        &[
            ("usr/local/bin/hello", std::fs::read(plain).unwrap()),
            ("usr/local/bin/smallvec-demo", rust),
        ],
    );
    let stdlib = go_version();
    let (cdx, spdx, inv) = (
        tmp.path().join("sbom.cdx.json"),
        tmp.path().join("sbom.spdx.json"),
        tmp.path().join("inventory.json"),
    );
    let r = imagegate()
        .args(["inventory", &img, "--cyclonedx"])
        .arg(&cdx)
        .arg("--spdx")
        .arg(&spdx)
        .arg("--output")
        .arg(&inv)
        .args(["--format", "json"])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let read = |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let (cdx_doc, spdx_doc) = (read(&cdx), read(&spdx));
    let errors = crate::formats::schema_errors(crate::formats::cyclonedx_validator(), &cdx_doc);
    assert!(errors.is_empty(), "not valid CycloneDX 1.6: {errors:#?}");
    let errors = crate::formats::schema_errors(crate::formats::spdx_validator(), &spdx_doc);
    assert!(errors.is_empty(), "not valid SPDX 2.3: {errors:#?}");
    // The purls Syft and Trivy give them: the module path as namespace/name, the toolchain
    // as `stdlib`, crates by name.
    let expected = [
        "pkg:cargo/smallvec-demo@0.1.0".to_string(),
        "pkg:cargo/smallvec@1.6.0".to_string(),
        "pkg:golang/example.com/hello@%28devel%29".to_string(),
        "pkg:golang/golang.org/x/text@v0.3.6".to_string(),
        format!("pkg:golang/stdlib@{stdlib}"),
    ];
    assert_eq!(sbom_purls(&cdx_doc), expected);
    assert_eq!(sbom_purls(&spdx_doc), expected);

    // The image and each SBOM of it give the same findings (id, package, version, fixes,
    // layer, binaries) and the same checked coverage.
    let (code, from_image, stderr) = run(&["scan", &img], None);
    assert_eq!(code, 1, "{stderr}");
    let image_vulns = vulns(&from_image);
    assert!(
        image_vulns.iter().any(|v| v.0 == "GO-2021-0113") && image_vulns.iter().any(|v| v.0 == "RUSTSEC-2021-0003"),
        "{image_vulns:#?}"
    );
    for sbom in [&cdx, &spdx, &inv] {
        let target = format!("sbom:{}", sbom.display());
        let (code, v, stderr) = run(&["scan", &target], None);
        assert_eq!(code, 1, "{}: {stderr}", sbom.display());
        assert_eq!(vulns(&v), image_vulns, "{}", sbom.display());
        let go = coverage_of(&v, "go");
        assert_eq!(
            (go.len(), go[0].0.as_str(), go[0].1),
            (1, "checked", 3),
            "{}",
            sbom.display()
        );
        let rs = coverage_of(&v, "rust");
        assert_eq!(
            (rs.len(), rs[0].0.as_str(), rs[0].1),
            (1, "checked", 2),
            "{}",
            sbom.display()
        );
        assert!(
            coverage_of(&v, "other").is_empty(),
            "{}: {}",
            sbom.display(),
            v["coverage"]
        );
    }
}

#[test]
fn foreign_go_and_cargo_purls_are_matched_with_the_toolchain_spelled_as_syft_or_trivy_do() {
    let tmp = tempfile::tempdir().unwrap();
    for (spelling, name) in [("1.19.8", "stdlib"), ("v1.19.8", "stdlib"), ("go1.19.8", "stdlib")] {
        // Syft: version `go1.19.8`, purl `@1.19.8`; Trivy: `@v1.19.8`.
        let doc = serde_json::json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "version": 1,
            "components": [
                {"type": "library", "name": name, "version": format!("go{}", spelling.trim_start_matches(['g', 'o', 'v'])),
                 "purl": format!("pkg:golang/stdlib@{spelling}")},
                {"type": "library", "name": "golang.org/x/text", "version": "v0.3.6",
                 "purl": "pkg:golang/golang.org/x/text@v0.3.6"},
                {"type": "library", "name": "smallvec", "version": "1.6.0", "purl": "pkg:cargo/smallvec@1.6.0"},
            ],
        });
        let path = tmp.path().join("foreign.cdx.json");
        std::fs::write(&path, doc.to_string()).unwrap();
        let target = format!("sbom:{}", path.display());
        let (code, v, stderr) = run(&["scan", &target], None);
        assert_eq!(code, 1, "{spelling}: {stderr}");
        let ids: Vec<(String, String, String)> = vulns(&v).into_iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(
            ids,
            [
                ("GO-2021-0113".into(), "golang.org/x/text".into(), "v0.3.6".into()),
                ("GO-2023-1878".into(), "stdlib".into(), "1.19.8".into()),
                ("RUSTSEC-2021-0003".into(), "smallvec".into(), "1.6.0".into()),
            ],
            "{spelling}"
        );
    }
    // A toolchain version that is none: the Go source is not checked, never clean.
    let doc = serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "stdlib", "version": "devel", "purl": "pkg:golang/stdlib@devel"}],
    });
    let path = tmp.path().join("devel.cdx.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let (_, v, stderr) = run(&["scan", &format!("sbom:{}", path.display())], None);
    let go = coverage_of(&v, "go");
    assert_eq!(go.len(), 1, "{stderr}: {}", v["coverage"]);
    assert_eq!(
        (go[0].0.as_str(), go[0].3.as_slice()),
        ("not_checked", ["stdlib@devel".to_string()].as_slice())
    );
}
