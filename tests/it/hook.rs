//! The pre-push hook, for real: a temporary git repository pushing to a local bare remote,
//! with `imagegate hook install` in between. Also the completion scripts.

use crate::support::*;
use std::path::Path;
use std::process::Output;

fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    isolated("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .envs(env)
        .output()
}

fn imagegate(dir: &Path, args: &[&str]) -> Output {
    crate::support::imagegate().args(args).current_dir(dir).output()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An image that passes the default policy, as an OCI archive.
fn passing_image(dir: &Path) -> String {
    let path = dir.join("passing.tar");
    std::fs::write(&path, oci_layout(&passing_spec("hook").build(), Some("1.0")).to_tar()).unwrap();
    path.display().to_string()
}

#[test]
fn the_hook_blocks_a_failing_image_and_lets_a_passing_one_through() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo_root();
    let db = testdata_db();
    let remote = tmp.path().join("remote.git");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    assert!(
        git(tmp.path(), &["init", "-q", "--bare", remote.to_str().unwrap()], &[])
            .status
            .success()
    );
    assert!(git(&work, &["init", "-q", "-b", "main"], &[]).status.success());
    assert!(
        git(&work, &["remote", "add", "origin", remote.to_str().unwrap()], &[])
            .status
            .success()
    );

    let r = imagegate(&work, &["hook", "install"]);
    assert!(r.status.success(), "{}", text(&r));
    let hook = work.join(".git/hooks/pre-push");
    assert!(std::fs::read_to_string(&hook).unwrap().contains("hook run"));
    // A second install does not replace it without --force.
    let r = imagegate(&work, &["hook", "install"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(text(&r).contains("already exists"), "{}", text(&r));
    assert!(imagegate(&work, &["hook", "install", "--force"]).status.success());

    let env = [("IMAGEGATE_DB", db.to_str().unwrap())];
    let demo = root.join("testdata/demo/app.tar");
    // The demo ships fixable high vulnerabilities: the default policy fails it.
    std::fs::write(
        work.join("imagegate.toml"),
        format!("[hook]\nimages = [\"{}\"]\n", demo.display()),
    )
    .unwrap();
    assert!(git(&work, &["add", "."], &[]).status.success());
    assert!(git(&work, &["commit", "-qm", "one"], &[]).status.success());
    let push = git(&work, &["push", "-q", "origin", "main"], &env);
    assert!(!push.status.success(), "a failing image must block the push");
    let out = text(&push);
    assert!(out.contains("FAIL") && out.contains("--no-verify"), "{out}");
    assert!(
        !git(&remote, &["rev-parse", "--verify", "-q", "refs/heads/main"], &[])
            .status
            .success()
    );

    // An image that cannot be read blocks too, and says how to skip once.
    std::fs::write(work.join("imagegate.toml"), "[hook]\nimages = [\"./missing.tar\"]\n").unwrap();
    let push = git(&work, &["push", "-q", "origin", "main"], &env);
    assert!(!push.status.success());
    assert!(
        text(&push).contains("could not be scanned") && text(&push).contains("git push --no-verify"),
        "{}",
        text(&push)
    );

    // So does a policy file that does not parse.
    std::fs::write(work.join("imagegate.toml"), "[hook]\nimages = 3\n").unwrap();
    let push = git(&work, &["push", "-q", "origin", "main"], &env);
    assert!(!push.status.success());
    assert!(
        text(&push).contains("imagegate.toml") && text(&push).contains("--no-verify"),
        "{}",
        text(&push)
    );

    let passing = passing_image(tmp.path());
    std::fs::write(
        work.join("imagegate.toml"),
        format!("[hook]\nimages = [\"{passing}\"]\n"),
    )
    .unwrap();
    let push = git(&work, &["push", "-q", "origin", "main"], &env);
    assert!(
        push.status.success(),
        "a passing image lets the push through: {}",
        text(&push)
    );
    assert!(
        git(&remote, &["rev-parse", "--verify", "-q", "refs/heads/main"], &[])
            .status
            .success()
    );
}

#[test]
fn completion_scripts_name_the_subcommands() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let r = imagegate(tmp.path(), &["completions", shell]);
        assert!(r.status.success(), "{shell}: {}", text(&r));
        let script = String::from_utf8_lossy(&r.stdout);
        for sub in ["scan", "audit", "inventory", "hook"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let r = imagegate(tmp.path(), &["completions", "tcsh"]);
    assert_eq!(r.status.code(), Some(2));
}
