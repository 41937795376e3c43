//! `imagegate cache status | clean`: the per-layer cache of registry pulls.

use super::{EXIT_OK, Format, emit};
use crate::layer::cache::LayerCache;
use crate::report::human_size;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum CacheCommand {
    /// Where the layer cache is, how many layer walks it holds and their size.
    #[command(after_help = "Examples:\n  imagegate cache status\n  imagegate cache status --format json")]
    Status {
        #[arg(long, env = "IMAGEGATE_CACHE_DIR", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Remove every cached layer walk.
    #[command(after_help = "Examples:\n  imagegate cache clean")]
    Clean {
        #[arg(long, env = "IMAGEGATE_CACHE_DIR", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
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
        CacheCommand::Clean { cache_dir } => {
            let cache = open(cache_dir.as_ref())?;
            let removed = cache.clean()?;
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
