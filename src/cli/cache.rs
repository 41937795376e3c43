//! `imagegate cache status | clean`: the per-layer cache of registry pulls.

use super::{EXIT_OK, Format, emit};
use crate::layer::cache::LayerCache;
use crate::units::human_size;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum CacheCommand {
    /// Where the layer cache is, how many layer walks it holds and their size.
    #[command(after_help = "Examples:\n  imagegate cache status\n  imagegate cache status --format json")]
    Status {
        /// The layer cache [default: $XDG_CACHE_HOME/imagegate/layers]
        #[arg(long, env = "IMAGEGATE_CACHE_DIR", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Format of the report.
        #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Remove cached layer walks: all of them, or those unused for --unused-for DAYS.
    #[command(
        after_help = "Examples:\n  imagegate cache clean\n  imagegate cache clean --unused-for 14   # after a nightly audit"
    )]
    Clean {
        /// The layer cache [default: $XDG_CACHE_HOME/imagegate/layers]
        #[arg(long, env = "IMAGEGATE_CACHE_DIR", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Only entries no scan has used for this many days.
        #[arg(long, value_name = "DAYS")]
        unused_for: Option<u64>,
    },
}

pub fn run(command: CacheCommand) -> anyhow::Result<u8> {
    let open = |dir: Option<&PathBuf>| {
        super::pull::cache_dir(dir)
            .map(LayerCache::new)
            .ok_or_else(|| anyhow::anyhow!("no cache directory: set --cache-dir, IMAGEGATE_CACHE_DIR or HOME"))
    };
    match command {
        CacheCommand::Status { cache_dir, format } => {
            let cache = open(cache_dir.as_ref())?;
            let status = cache.status()?;
            let text = match format {
                Format::Json => {
                    serde_json::to_string_pretty(&serde_json::json!({
                        "dir": cache.dir(),
                        "entries": status.entries,
                        "bytes": status.bytes,
                    }))? + "\n"
                }
                Format::Table => format!(
                    "layer cache {}: {} layer walks, {}\n",
                    cache.dir().display(),
                    status.entries,
                    human_size(status.bytes)
                ),
            };
            emit(&text, None)?;
        }
        CacheCommand::Clean { cache_dir, unused_for } => {
            let cache = open(cache_dir.as_ref())?;
            let removed = match unused_for {
                Some(days) => cache.clean_unused_for(std::time::Duration::from_secs(days.saturating_mul(24 * 3600)))?,
                None => cache.clean()?,
            };
            println!(
                "layer cache {}: removed {} layer walks ({})",
                cache.dir().display(),
                removed.entries,
                human_size(removed.bytes)
            );
        }
    }
    Ok(EXIT_OK)
}
