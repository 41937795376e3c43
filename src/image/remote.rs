//! Images in a registry: the manifest chain and the config fetched over HTTP, layer blobs
//! streamed straight into the walk (several at a time), walks cached by diff_id.

use super::registry::{Client, Manifest, Reference, RegistryError};
use super::{Chosen, Ctx, ImageError, LayerBlobs, LayerRef, Loaded, Resolved, model};
use crate::digest::Digest;
use crate::image::store::StoreError;
use crate::layer::cache::LayerCache;
use crate::layer::{self, Capture, Compression, LayerWalk, Limits, WalkError};
use crate::progress::Progress;
use crate::units::human_size;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Blobs downloaded at once. Downloads wait on the network, not the CPU, so more than the
/// machine's cores pay off; registries throttle clients that open many more.
pub const PARALLEL_DOWNLOADS: usize = 4;

/// Cached walks of an image that together take less than this on disk are read and merged
/// on one thread (see `load_remote`).
const SMALL_CACHED_WALKS: u64 = 64 << 10;

/// Manifest lists nest at most this deep (real images use one level).
const MAX_INDEX_DEPTH: usize = 4;

pub(super) struct RemoteBlobs<'a> {
    pub client: Client,
    pub reference: Reference,
    pub cache: Option<&'a LayerCache>,
    pub pull: Arc<PullProgress>,
}

/// "pulling REF: 1/3 layers, 12.4 MB / 31.0 MB" while the layers download; a layer found in the
/// layer cache counts as pulled (its bytes are not downloaded).
pub(super) struct PullProgress {
    line: Progress,
    image: String,
    layers: usize,
    total: u64,
    done: AtomicUsize,
    bytes: AtomicU64,
}

impl PullProgress {
    fn new(line: Progress, image: &str, chosen: &Chosen) -> PullProgress {
        let total = chosen
            .layers
            .iter()
            .filter_map(|l| l.descriptor.as_ref())
            .map(|d| d.size)
            .sum();
        PullProgress {
            line,
            image: image.to_string(),
            layers: chosen.layers.len(),
            total,
            done: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn received(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.line.update(|| self.text());
    }

    fn layer_done(&self, skipped_bytes: u64) {
        self.bytes.fetch_add(skipped_bytes, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
        self.line.show(|| self.text());
    }

    fn text(&self) -> String {
        // A second download of a layer (pnpm hardlinks) may count more bytes than the total.
        let bytes = self.bytes.load(Ordering::Relaxed).min(self.total);
        format!(
            "pulling {}: {}/{} layers, {} / {}",
            self.image,
            self.done.load(Ordering::Relaxed),
            self.layers,
            human_size(bytes),
            human_size(self.total)
        )
    }
}

/// A blob reader that counts what it hands the walk.
struct Counted<R> {
    inner: R,
    pull: Arc<PullProgress>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.pull.received(n as u64);
        }
        Ok(n)
    }
}

impl Ctx<'_> {
    pub(super) fn load_remote<C: Capture, T>(
        &self,
        reference: &Reference,
        capture: &C,
        known: &dyn Fn(&Resolved) -> Option<T>,
    ) -> Result<Loaded<C::Fact, T>, ImageError> {
        let client = match &self.options.registry_client {
            Some(c) => c.clone(),
            None => Client::new(self.options.registry.clone()).map_err(|e| self.registry_err(e))?,
        };
        let chosen = self.choose_remote(&client, reference)?;
        if let Some(manifest_digest) = &chosen.manifest_digest
            && let Some(done) = known(&Resolved {
                manifest_digest,
                config_digest: &chosen.config_digest,
                repo_tags: &chosen.repo_tags,
            })
        {
            return Ok(Loaded::Known(done));
        }
        let line = Progress::stderr(self.options.progress);
        let pull = Arc::new(PullProgress::new(line, &self.image, &chosen));
        pull.line.show(|| pull.text());
        let blobs = RemoteBlobs {
            client,
            reference: reference.clone(),
            cache: self.options.cache.as_deref(),
            pull: pull.clone(),
        };
        // Its own pool: layer downloads wait on the network, so more of them than cores run at
        // once. A re-scan whose every layer walk is cached downloads nothing: reading the
        // walks back is CPU work, one thread a core, merged beside them; unless they are small
        // (a base image and a few files): then this thread reads them, with no pool started.
        // Measured on two cores (hyperfine): the 200 MB bench image's re-scan 80 → 70 ms with
        // a thread a core; the 100 MB registry bench's (3 KB of walks) 4.1 → 4.4 ms with
        // them, 4.2 → 3.9 ms on this thread (no thread start, no malloc arena of its own).
        let cached = self
            .options
            .cache
            .as_deref()
            .zip(capture.analyzer())
            .and_then(|(cache, analyzer)| {
                let config = serde_json::from_slice::<model::ImageConfig>(&chosen.config_bytes).ok()?;
                config
                    .rootfs
                    .diff_ids
                    .iter()
                    .map(|d| cache.stored_size(d, analyzer))
                    .sum::<Option<u64>>()
            });
        let light = cached.is_some_and(|bytes| bytes < SMALL_CACHED_WALKS);
        let image = if light {
            // Read on this thread: no pool to start at all.
            self.finish(&blobs, chosen, capture, false)
        } else {
            let threads = match cached {
                Some(_) => std::thread::available_parallelism().map_or(1, |n| n.get().min(PARALLEL_DOWNLOADS)),
                None => PARALLEL_DOWNLOADS,
            };
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| self.layout(format!("starting download threads: {e}")))?;
            pool.install(|| self.finish(&blobs, chosen, capture, true))
        };
        pull.line.clear();
        image.map(|i| Loaded::Walked(Box::new(i)))
    }

    /// A manifest named by digest comes from the cache when it is there (checked against that
    /// digest on read), so an image named by digest whose manifest, config and layer walks are
    /// all cached is scanned without a single request. A manifest named by tag is always
    /// asked for (the tag may have moved); every manifest fetched is cached by its digest.
    fn manifest(
        &self,
        client: &Client,
        cache: Option<&LayerCache>,
        reference: &Reference,
        wanted: &str,
        expected: Option<&Digest>,
    ) -> Result<Manifest, ImageError> {
        if let (Some(cache), Some(digest)) = (cache, expected)
            && let Some(bytes) = cache.get_blob(digest)
        {
            let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
                .unwrap_or_else(|| "no mediaType".to_string());
            return Ok(Manifest {
                digest: digest.clone(),
                media_type,
                bytes,
            });
        }
        let fetched = client.manifest(reference, wanted).map_err(|e| self.registry_err(e))?;
        // Cached only once it matches the digest asked for (a tag's manifest is cached too:
        // the platform manifest it names, or a later scan by digest, then finds it).
        if let Some(cache) = cache
            && expected.is_none_or(|d| d == &fetched.digest)
            && let Err(e) = cache.put_blob(&fetched.digest, &fetched.bytes)
        {
            tracing::warn!("layer cache: {e}");
        }
        Ok(fetched)
    }

    fn registry_err(&self, source: RegistryError) -> ImageError {
        ImageError::Registry {
            image: self.image.clone(),
            source: Box::new(source),
        }
    }

    /// Follows the reference (through manifest lists, by platform) to one image manifest and
    /// its config. Every manifest fetched by digest is checked against that digest.
    fn choose_remote(&self, client: &Client, reference: &Reference) -> Result<Chosen, ImageError> {
        let mut wanted = reference.manifest_ref();
        let mut expected: Option<Digest> = reference.digest.clone();
        let cache = self.options.cache.as_deref();
        for _ in 0..=MAX_INDEX_DEPTH {
            let fetched = self.manifest(client, cache, reference, &wanted, expected.as_ref())?;
            if let Some(expected) = &expected
                && &fetched.digest != expected
            {
                return Err(ImageError::Digest {
                    image: self.image.clone(),
                    what: format!("manifest {wanted}"),
                    expected: expected.clone(),
                    actual: fetched.digest,
                });
            }
            let path = format!("manifest {}", fetched.digest);
            let manifest: model::Manifest = self.parse(&fetched.bytes, &path, "an image manifest or index")?;
            if let Some(entries) = manifest.manifests.as_ref().filter(|_| manifest.config.is_none()) {
                let pick = self.pick_platform(entries)?;
                wanted = pick.digest.to_string();
                expected = Some(pick.digest);
                continue;
            }
            let config = manifest.config.ok_or_else(|| {
                self.layout(format!(
                    "manifest {} ({}) has no config; only OCI and Docker schema 2 images are supported",
                    fetched.digest, fetched.media_type
                ))
            })?;
            let config_bytes = match cache.and_then(|c| c.get_blob(&config.digest)) {
                Some(bytes) => bytes,
                None => {
                    let bytes = client
                        .blob_bytes(reference, &config.digest, config.size)
                        .map_err(|e| self.registry_err(e))?;
                    if let Some(Err(e)) = cache.map(|c| c.put_blob(&config.digest, &bytes)) {
                        tracing::warn!("layer cache: {e}");
                    }
                    bytes
                }
            };
            let layers = manifest
                .layers
                .into_iter()
                .map(|d| LayerRef {
                    path: d.digest.to_string(),
                    descriptor: Some(d),
                })
                .collect();
            return Ok(Chosen {
                manifest_digest: Some(fetched.digest),
                config_digest: config.digest,
                config_bytes,
                repo_tags: vec![reference.to_string()],
                layers,
            });
        }
        Err(self.layout(format!("manifest lists nested more than {MAX_INDEX_DEPTH} deep")))
    }
}

impl<C: Capture> LayerBlobs<C> for RemoteBlobs<'_> {
    /// The registry is asked for the blob only when it is walked; the walk checks its real size.
    fn stored_size(&self, layer: &LayerRef) -> Result<Option<u64>, StoreError> {
        Ok(layer.descriptor.as_ref().map(|d| d.size))
    }

    fn walk(
        &self,
        layer: &LayerRef,
        diff_id: &Digest,
        capture: &C,
        limits: &Limits,
    ) -> Result<LayerWalk<C::Fact>, WalkError> {
        let Some(d) = &layer.descriptor else {
            return Err(WalkError::Io(io::Error::other("a registry layer without a descriptor")));
        };
        let cache = self.cache.zip(capture.analyzer());
        // Another worker of this process walking the same layer finishes first; we then find
        // its result in the cache instead of downloading the blob again.
        let _claim = cache.map(|(c, _)| c.claim(diff_id));
        if let Some((cache, analyzer)) = cache
            && let Some(mut hit) = cache.get::<C::Fact>(diff_id, analyzer)
        {
            // The walk was verified against this diff_id when it was cached. The blob itself
            // (which may be compressed differently in this image) is not downloaded.
            hit.blob_digest = d.digest.clone();
            hit.blob_size = d.size;
            hit.compression = compression_of(&d.media_type).unwrap_or(hit.compression);
            self.pull.layer_done(d.size);
            return Ok(hit);
        }
        let open = || -> Result<_, WalkError> {
            let blob = self
                .client
                .open_blob(&self.reference, &d.digest, d.size)
                .map_err(|e| WalkError::Io(io::Error::other(e)))?;
            // One byte more than promised is enough to catch a blob that is too long.
            Ok(Counted {
                inner: blob.take(d.size.saturating_add(1)),
                pull: self.pull.clone(),
            })
        };
        let mut walk = layer::walk(open()?, capture, limits, d.digest.algorithm(), diff_id.algorithm())?;
        if !walk.unresolved_links.is_empty() {
            // pnpm hardlinks: a second download of this one layer resolves them.
            layer::resolve_links(open()?, capture, limits, &mut walk)?;
        }
        self.pull.layer_done(0);
        // Only a verified walk may be cached; the caller rejects the others.
        if let Some((cache, analyzer)) = cache
            && walk.blob_digest == d.digest
            && walk.blob_size == d.size
            && &walk.diff_id == diff_id
            && let Err(e) = cache.put(diff_id, analyzer, &walk)
        {
            tracing::warn!("layer cache: {e}");
        }
        Ok(walk)
    }
}

/// The compression a layer media type names, for cached walks whose blob was not read.
fn compression_of(media_type: &str) -> Option<Compression> {
    if media_type.ends_with("gzip") {
        Some(Compression::Gzip)
    } else if media_type.ends_with("zstd") {
        Some(Compression::Zstd)
    } else if media_type.ends_with(".tar") {
        Some(Compression::None)
    } else {
        None
    }
}
