//! `imagegate policy check | init`

use super::{EXIT_OK, emit};
use crate::policy::{PROJECT_FILE, Policy};
use anyhow::{Context, anyhow, bail};
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Validate a policy file; errors carry line and column.
    #[command(after_help = "Example:\n  imagegate policy check imagegate.toml")]
    Check {
        /// The policy file (TOML) to check.
        file: PathBuf,
    },
    /// Write a ready policy to ./imagegate.toml (or --output; - for stdout).
    #[command(
        after_help = "Examples:\n  imagegate policy init --preset production\n  imagegate policy init --output -"
    )]
    Init {
        /// Which built-in policy to write.
        #[arg(long, default_value = "default", value_parser = ["default", "production", "audit"])]
        preset: String,
        /// Where to write it (`-` is stdout) [default: ./imagegate.toml].
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(command: PolicyCommand) -> anyhow::Result<u8> {
    match command {
        PolicyCommand::Check { file } => {
            let p = Policy::load(&file)?;
            // The VEX documents it names must parse too.
            let statements = crate::vex::load_policy(&p)?;
            println!(
                "{}: valid ({} ignore entries, {} VEX statements, {} denied package patterns, {} denied file patterns)",
                file.display(),
                p.vulnerabilities.ignores.len(),
                statements.len(),
                p.deny_packages.len(),
                p.deny_files.len()
            );
        }
        PolicyCommand::Init { preset, output, force } => {
            let text = Policy::preset(&preset).ok_or_else(|| anyhow!("unknown preset `{preset}`"))?;
            match output.as_deref() {
                Some(p) if p.as_os_str() == "-" => emit(text, None)?,
                target => {
                    let path = target.map(PathBuf::from).unwrap_or_else(|| PathBuf::from(PROJECT_FILE));
                    if path.exists() && !force {
                        bail!("{} exists; use --force to replace it", path.display());
                    }
                    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                    println!("wrote {} ({preset} policy)", path.display());
                }
            }
        }
    }
    Ok(EXIT_OK)
}
