//! The GitHub Action's shell parts (`scripts/action.sh`), run as a runner would, offline: the
//! release comes from a `file://` mirror laid out like GitHub's release downloads.

use crate::support::{import_testdata_db, isolated, repo_root};
use std::path::Path;
use std::process::{Command, Output};

fn action(step: &str, env: &[(&str, &str)]) -> Output {
    isolated(repo_root().join("scripts/action.sh"))
        .arg(step)
        .envs(env)
        .output()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A release of the binary under test, as `<base>/download/<tag>/imagegate-<target>.tar.gz`.
fn release(base: &Path, tag: &str) -> String {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "aarch64",
        _ => "x86_64",
    };
    let asset = format!("imagegate-{arch}-unknown-linux-musl.tar.gz");
    let dir = base.join("download").join(tag);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("imagegate");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(dir.join(&asset))
        .arg("-C")
        .arg(bin.parent().unwrap())
        .arg("imagegate")
        .status()
        .unwrap();
    assert!(ok.success());
    let sum = Command::new("sha256sum")
        .arg(&asset)
        .current_dir(&dir)
        .output()
        .unwrap();
    std::fs::write(dir.join(format!("{asset}.sha256")), &sum.stdout).unwrap();
    asset
}

#[test]
fn install_checks_the_checksum_and_puts_the_binary_on_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("releases");
    let asset = release(&base, "v9.9.9");
    let runner = tmp.path().join("runner");
    std::fs::create_dir_all(&runner).unwrap();
    let github_path = tmp.path().join("github_path");
    let env = [
        ("INPUT_VERSION", "v9.9.9"),
        ("IMAGEGATE_RELEASE_BASE", &format!("file://{}", base.display())),
        ("RUNNER_TEMP", runner.to_str().unwrap()),
        ("GITHUB_PATH", github_path.to_str().unwrap()),
    ];
    let r = action("install", &env);
    assert!(r.status.success(), "{}", text(&r));
    assert!(
        text(&r).contains("imagegate 0."),
        "prints the installed version: {}",
        text(&r)
    );
    let dir = std::fs::read_to_string(&github_path).unwrap();
    assert!(Path::new(dir.trim()).join("imagegate").is_file());

    // A tampered download is refused.
    let sums = base.join("download/v9.9.9").join(format!("{asset}.sha256"));
    std::fs::write(&sums, format!("{}  {asset}\n", "0".repeat(64))).unwrap();
    let r = action("install", &env);
    assert_eq!(r.status.code(), Some(2));
    assert!(text(&r).contains("does not match its sha256"), "{}", text(&r));
    // A release that does not exist.
    let r = action("install", &[("INPUT_VERSION", "v0.0.0"), env[1], env[2]]);
    assert_eq!(r.status.code(), Some(2));
    assert!(text(&r).contains("downloading"), "{}", text(&r));
}

#[test]
fn scan_writes_sarif_and_the_summary_and_records_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo_root();
    let db = tmp.path().join("db");
    let bin = assert_cmd::cargo::cargo_bin("imagegate");
    import_testdata_db(&db);
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (sarif, summary, output) = (
        tmp.path().join("out.sarif"),
        tmp.path().join("summary.md"),
        tmp.path().join("output"),
    );
    let demo = root.join("testdata/demo/app.tar");
    let run = |extra: &[(&str, &str)]| {
        let _ = std::fs::remove_file(&output);
        let mut env = vec![
            ("PATH", path.as_str()),
            ("IMAGEGATE_DB", db.to_str().unwrap()),
            ("INPUT_IMAGE", demo.to_str().unwrap()),
            ("INPUT_SARIF", sarif.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ];
        env.extend_from_slice(extra);
        let r = action("scan", &env);
        (r, std::fs::read_to_string(&output).unwrap_or_default())
    };
    // The demo fails the default policy: the step records 1 and leaves failing to a later step,
    // after the SARIF upload.
    let (r, out) = run(&[]);
    assert!(r.status.success(), "{}", text(&r));
    assert_eq!(out.trim(), "exit-code=1");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    assert!(std::fs::read_to_string(&summary).unwrap().contains("FAIL"));
    // The fail-on override: no vulnerability level fails, and the demo is otherwise clean.
    let (r, out) = run(&[("INPUT_FAIL_ON", "none")]);
    assert!(r.status.success(), "{}", text(&r));
    assert_eq!(out.trim(), "exit-code=0", "{}", text(&r));
    // An image that cannot be read fails the step itself (exit 2).
    let (r, out) = run(&[("INPUT_IMAGE", "/nonexistent.tar")]);
    assert_eq!(r.status.code(), Some(2), "{}", text(&r));
    assert_eq!(out.trim(), "exit-code=2");
}
