//! imagegate's own image (the repository's `Dockerfile`) passes imagegate's gate with the
//! shipped `policies/cli.toml`: built by buildah (Debian's `buildah`, as root; `scripts/test.sh`
//! installs it), exported with `buildah push … docker-archive:`, scanned by the binary.
//!
//! What is exercised: the real Dockerfile and `.dockerignore` (labels from build args, the
//! passwd entry of user 65532, `USER`, `ENTRYPOINT`, the CA bundle, the shipped policies), the
//! export, and the gate's verdict on the result. What is not: the binary in the image is the
//! test build of imagegate (debug info stripped to keep the scan short), which is dynamically
//! linked and would not start in `scratch`; the gate only reads it, it never runs it. The
//! static binaries the release puts in the image are built by `.github/workflows/release.yml`.

use crate::support::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test.sh installs buildah)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The build context the Dockerfile expects: `dist/linux-amd64/imagegate`,
/// `dist/ca-certificates.crt`, `docker/` and `policies/`, plus the Dockerfile itself.
fn context(dir: &Path) {
    let root = repo_root();
    for file in ["Dockerfile", ".dockerignore"] {
        std::fs::copy(root.join(file), dir.join(file)).unwrap();
    }
    for tree in ["docker", "policies"] {
        run(Command::new("cp").arg("-r").arg(root.join(tree)).arg(dir));
    }
    std::fs::create_dir_all(dir.join("dist/linux-amd64")).unwrap();
    run(Command::new("strip")
        .args(["--strip-debug", "-o"])
        .arg(dir.join("dist/linux-amd64/imagegate"))
        .arg(env!("CARGO_BIN_EXE_imagegate")));
    std::fs::copy(
        "/etc/ssl/certs/ca-certificates.crt",
        dir.join("dist/ca-certificates.crt"),
    )
    .expect("the host's CA bundle (Debian's ca-certificates)");
}

fn scan(archive: &Path, policy: &str, db: &Path) -> (i32, Value) {
    let out = assert_cmd::Command::cargo_bin("imagegate")
        .unwrap()
        .arg("scan")
        .arg(format!("docker-archive:{}", archive.display()))
        .arg("--db")
        .arg(db)
        .args(["--policy", &repo_root().join(policy).display().to_string()])
        .args(["--format", "json"])
        .env_remove("IMAGEGATE_DB")
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout);
    let report =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), report)
}

/// The image's config, read from the docker-archive `buildah push` wrote.
fn archive_config(archive: &Path) -> Value {
    let mut entries = std::collections::BTreeMap::new();
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name.ends_with(".json") {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            entries.insert(name, text);
        }
    }
    let manifest: Value = serde_json::from_str(&entries["manifest.json"]).unwrap();
    let config = manifest[0]["Config"].as_str().unwrap();
    serde_json::from_str(&entries[config]).unwrap()
}

#[test]
fn the_dockerfile_builds_an_image_that_passes_the_cli_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("context");
    std::fs::create_dir(&ctx).unwrap();
    context(&ctx);
    let name = format!("localhost/imagegate-selfimage-{}:test", std::process::id());
    let started = Instant::now();
    run(Command::new("buildah")
        .args(["bud", "--isolation", "chroot", "--format", "docker", "--quiet"])
        .args(["--build-arg", "TARGETARCH=amd64"])
        .args(["--build-arg", "VERSION=9.8.7", "--build-arg", "REVISION=0123abc"])
        .args(["-t", &name])
        .arg(&ctx));
    let archive = tmp.path().join("imagegate.tar");
    let pushed = Command::new("buildah")
        .args(["push", "--quiet", &name])
        .arg(format!("docker-archive:{}", archive.display()))
        .output();
    let _ = Command::new("buildah").args(["rmi", &name]).output();
    assert!(pushed.unwrap().status.success(), "buildah push");
    eprintln!(
        "selfimage: built and exported in {:.1} s, {} bytes",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&archive).unwrap().len()
    );

    let config = archive_config(&archive);
    let c = &config["config"];
    assert_eq!(c["User"], "65532:65532");
    assert_eq!(c["Entrypoint"], serde_json::json!(["imagegate"]));
    let labels = &c["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], "9.8.7");
    assert_eq!(labels["org.opencontainers.image.revision"], "0123abc");
    assert!(labels["org.opencontainers.image.source"].is_string(), "{labels}");
    let env: Vec<&str> = c["Env"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        env.contains(&"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"),
        "{env:?}"
    );

    let db = tmp.path().join("db");
    import_testdata_db(&db);
    let (code, report) = scan(&archive, "policies/cli.toml", &db);
    assert_eq!(code, 0, "the image passes its own gate: {report:#}");
    assert_eq!(report["verdict"]["pass"], true);
    let inv = &report["inventory"];
    assert_eq!(inv["image"]["user"], "65532:65532");
    let users: Vec<(String, u64)> = inv["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["name"].as_str().unwrap().to_string(), u["uid"].as_u64().unwrap()))
        .collect();
    assert!(users.contains(&("imagegate".to_string(), 65532)), "{users:?}");
    assert!(
        inv["image"]["uncompressed_size"].as_u64().unwrap() < 500_000_000,
        "{}",
        inv["image"]
    );

    // The coverage report says what was not checked: the image has no OS release (a scratch
    // image of one static binary), which cli.toml reports as a warning. The binary carries no
    // cargo-auditable data, so its crates are not listed; see the Dockerfile.
    let coverage = report["coverage"].as_array().unwrap();
    assert!(
        coverage
            .iter()
            .any(|c| c["source"] == "os" && c["status"] == "not_checked"),
        "{coverage:?}"
    );
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "IG018" && f["level"] == "warn"),
        "{report:#}"
    );

    // cli.toml is production.toml less the health check, with the scratch image's OS
    // exception, and nothing else.
    let policy = |name: &str| -> toml::Table {
        toml::from_str(&std::fs::read_to_string(repo_root().join(name)).unwrap()).unwrap()
    };
    let (cli, mut production) = (policy("policies/cli.toml"), policy("policies/production.toml"));
    assert_eq!(production["image"]["require_healthcheck"].as_bool(), Some(true));
    production["image"]
        .as_table_mut()
        .unwrap()
        .insert("require_healthcheck".into(), toml::Value::Boolean(false));
    let os_warns: toml::Table = toml::from_str("[coverage.sources]\nos = \"warn\"\n").unwrap();
    production["coverage"]
        .as_table_mut()
        .unwrap()
        .insert("sources".into(), os_warns["coverage"]["sources"].clone());
    assert_eq!(cli, production);
}
