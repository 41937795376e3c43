//! How IMAGE is read: the platform, registry credentials and plain-HTTP hosts, and the layer
//! cache. Shared by `inventory`, `scan`, `audit` and the hook.

use crate::image::LoadOptions;
use crate::image::registry::RegistryOptions;
use crate::layer::cache::LayerCache;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct PullArgs {
    /// Platform to pick from a multi-platform image (os/arch[/variant]) [default: linux/amd64].
    /// A single-platform image of another platform is read as it is, with a warning.
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Registry user name (sent only to the registry of the image).
    #[arg(long, env = "IMAGEGATE_USERNAME")]
    pub username: Option<String>,
    /// Registry password or token (sent only to the registry of the image).
    #[arg(long, env = "IMAGEGATE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// A registry (HOST:PORT) to reach over plain HTTP; 127.0.0.1 and localhost always are.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
    pub insecure: Vec<String>,
    /// Seconds a registry may stay silent before the pull fails.
    #[arg(long, env = "IMAGEGATE_REGISTRY_TIMEOUT", default_value_t = 30, value_name = "SECS")]
    pub registry_timeout: u64,
    /// Walk every layer again instead of using the layer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// The layer cache [default: $XDG_CACHE_HOME/imagegate/layers]
    #[arg(long, env = "IMAGEGATE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// The platform picked from a multi-platform image when `--platform` is not given.
pub const DEFAULT_PLATFORM: &str = "linux/amd64";

impl PullArgs {
    /// `--platform` as given (not the default).
    pub fn requested_platform(&self) -> Option<crate::image::model::Platform> {
        self.platform.as_deref().and_then(crate::image::model::Platform::parse)
    }

    pub fn load_options(&self) -> anyhow::Result<LoadOptions> {
        let platform = super::parse_platform(self.platform.as_deref().unwrap_or(DEFAULT_PLATFORM))?;
        let mut registry = RegistryOptions {
            username: self.username.clone(),
            password: self.password.clone(),
            insecure: self.insecure.clone(),
            read_timeout: Duration::from_secs(self.registry_timeout.max(1)),
            ..Default::default()
        };
        if registry.username.is_some() != registry.password.is_some() {
            anyhow::bail!("--username and --password go together (or IMAGEGATE_USERNAME and IMAGEGATE_PASSWORD)");
        }
        registry.connect_timeout = registry.connect_timeout.min(registry.read_timeout);
        let cache = if self.no_cache {
            None
        } else {
            cache_dir(self.cache_dir.as_ref())
        };
        Ok(LoadOptions {
            platform,
            registry,
            cache: cache.map(|dir| Arc::new(LayerCache::new(dir))),
            // Layers and bytes on stderr while a registry image downloads (only on a terminal).
            progress: true,
            ..Default::default()
        })
    }
}

/// The layer cache directory: `--cache-dir`, else the default; `None` when there is no home.
pub fn cache_dir(explicit: Option<&PathBuf>) -> Option<PathBuf> {
    explicit.cloned().or_else(LayerCache::default_dir)
}
