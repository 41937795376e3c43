//! `imagegate hook install | run`: a git pre-push hook that gates the images `imagegate.toml`
//! names under `[hook]` (for example `images = ["docker:myapp:dev"]`) with the project's policy.

use super::db::DbArg;
use super::pull::PullArgs;
use super::scan::{Reports, check_and_report};
use super::{EXIT_ERROR, EXIT_OK};
use crate::gate::{AdvisorySource, Gate};
use crate::policy::{PROJECT_FILE, Policy};
use anyhow::Context as _;
use std::path::PathBuf;
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
    Run {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        pull: PullArgs,
    },
}

pub fn run(command: HookCommand) -> anyhow::Result<u8> {
    match command {
        HookCommand::Install { force } => install(force),
        // Whatever stops the hook blocks the push: say how to skip it once.
        HookCommand::Run { db, pull } => run_hook(&db, &pull).or_else(|e| {
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

/// Gates each image as `imagegate scan IMAGE --policy imagegate.toml` would, with image paths
/// taken relative to the repository root.
fn run_hook(db: &DbArg, pull: &PullArgs) -> anyhow::Result<u8> {
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
    let images = policy.hook_images.clone();
    let load = pull.load_options()?;
    let gate = Gate::new(policy, AdvisorySource::Local(db.resolve()))?;
    let mut worst = EXIT_OK;
    for image in &images {
        eprintln!("imagegate hook: scanning {image}");
        let code = check_and_report(&gate, image, &load, Some(&root), &Reports::table()).unwrap_or_else(|e| {
            eprintln!("error: {}", super::describe(&e));
            EXIT_ERROR
        });
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
