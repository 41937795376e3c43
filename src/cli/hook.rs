//! `imagegate hook install | run`: a git pre-push hook that gates the images `imagegate.toml`
//! names under `[hook]` (for example `images = ["docker:myapp:dev"]`) with the project's policy.

use super::{EXIT_ERROR, EXIT_OK};
use crate::policy::{PROJECT_FILE, Policy};
use anyhow::Context as _;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Subcommand, Debug)]
pub enum HookCommand {
    /// Write `.git/hooks/pre-push`, which runs `imagegate hook run` before every push.
    #[command(
        after_help = "Examples:\n  imagegate hook install\n  imagegate hook install --force   # replace an existing pre-push hook"
    )]
    Install {
        /// Replace an existing pre-push hook.
        #[arg(long)]
        force: bool,
    },
    /// Scan the images `imagegate.toml` lists under `[hook] images`, as `imagegate scan` would;
    /// exit 1 (block the push) when one fails the policy, 2 when one could not be scanned.
    #[command(after_help = "Example imagegate.toml:\n  [hook]\n  images = [\"docker:myapp:dev\"]")]
    Run,
}

pub fn run(command: HookCommand) -> anyhow::Result<u8> {
    match command {
        HookCommand::Install { force } => install(force),
        // Whatever stops the hook blocks the push: say how to skip it once.
        HookCommand::Run => run_hook().or_else(|e| {
            eprintln!("error: {}", super::describe(&e));
            eprintln!("{SKIP_HINT}");
            Ok(EXIT_ERROR)
        }),
    }
}

const SKIP_HINT: &str = "imagegate hook: the push is blocked because an image could not be scanned. Fix it, or skip the check once with `git push --no-verify`.";

fn git(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        anyhow::bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn install(force: bool) -> anyhow::Result<u8> {
    // `--git-path` honours worktrees and core.hooksPath.
    let hooks = PathBuf::from(git(&["rev-parse", "--git-path", "hooks"])?);
    let path = hooks.join("pre-push");
    if path.exists() && !force {
        eprintln!(
            "error: {} already exists; not replacing it (use --force, or call `imagegate hook run` from it)",
            path.display()
        );
        return Ok(EXIT_ERROR);
    }
    let exe = std::env::current_exe().context("finding the imagegate executable")?;
    let script = format!(
        "#!/bin/sh\n\
         # Installed by `imagegate hook install`: gates the images imagegate.toml lists under\n\
         # [hook] before every push. Skip it once with `git push --no-verify`.\n\
         IMAGEGATE={}\n\
         [ -x \"$IMAGEGATE\" ] || IMAGEGATE=imagegate\n\
         exec \"$IMAGEGATE\" hook run\n",
        shell_quote(&exe.display().to_string())
    );
    std::fs::create_dir_all(&hooks).with_context(|| format!("creating {}", hooks.display()))?;
    std::fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))?;
    println!("installed {}", path.display());
    Ok(EXIT_OK)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `imagegate scan`'s own arguments, so the hook scans exactly as the command does.
#[derive(Parser)]
#[command(name = "imagegate scan")]
struct ScanLine {
    #[command(flatten)]
    args: super::scan::Args,
}

fn run_hook() -> anyhow::Result<u8> {
    let root = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    let project = root.join(PROJECT_FILE);
    let policy = Policy::discover(None, &root)?;
    if policy.hook_images.is_empty() {
        println!(
            "imagegate hook: {} lists no images under [hook] images; nothing to gate",
            project.display()
        );
        return Ok(EXIT_OK);
    }
    let mut worst = EXIT_OK;
    for image in &policy.hook_images {
        eprintln!("imagegate hook: scanning {image}");
        let mut line = vec!["imagegate scan".to_string(), image.clone()];
        if project.is_file() {
            line.extend(["--policy".to_string(), project.display().to_string()]);
        }
        let code = match ScanLine::try_parse_from(&line) {
            Ok(parsed) => in_dir(&root, || super::scan::run(parsed.args)).unwrap_or_else(|e| {
                eprintln!("error: {}", super::describe(&e));
                EXIT_ERROR
            }),
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_ERROR
            }
        };
        worst = worst.max(code);
    }
    match worst {
        EXIT_OK => {}
        EXIT_ERROR => eprintln!("{SKIP_HINT}"),
        _ => eprintln!(
            "imagegate hook: the push is blocked: an image fails the policy in {}. Skip once with `git push --no-verify`.",
            if project.is_file() {
                project.display().to_string()
            } else {
                "the built-in default policy".into()
            }
        ),
    }
    Ok(worst)
}

/// Runs `f` with the repository root as the working directory (relative image paths in
/// imagegate.toml are relative to it).
fn in_dir<T>(dir: &Path, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let before = std::env::current_dir().context("reading the current directory")?;
    std::env::set_current_dir(dir).with_context(|| format!("entering {}", dir.display()))?;
    let result = f();
    let _ = std::env::set_current_dir(before);
    result
}
