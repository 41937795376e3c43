//! Reading an image: resolve the reference, find its manifest and config, walk and verify
//! every layer, and merge the verified layers in order as their walks finish. The result is an
//! [`Image`]: the layers' facts and the merged filesystem, ready for the inventory.

/// Digests moved below `image` and `layer`, which both use them; the old path stays for callers.
pub use crate::digest;
pub mod engine;
pub mod model;
pub mod name;
pub mod registry;
mod remote;
pub mod size;
pub mod source;
pub mod store;

use crate::digest::{Algorithm, Digest};
use crate::layer::cache::LayerCache;
use crate::layer::merge::Filesystem;
use crate::layer::{Capture, Compression, LayerWalk, Limits, WalkError};
use model::{DockerArchiveEntry, Healthcheck, History, ImageConfig, Index, Manifest, Platform};
use serde::{Deserialize, Serialize};
use source::{ImageSource, Selector};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::{Store, StoreError};

/// How to load an image.
#[derive(Clone)]
pub struct LoadOptions {
    /// Platform to pick from a multi-platform index.
    pub platform: Platform,
    pub limits: Limits,
    /// Credentials, plain-HTTP hosts and timeouts for registry pulls.
    pub registry: registry::RegistryOptions,
    /// A client to reuse (the audit shares one across images: its connections and tokens);
    /// `None` builds one from `registry` per load.
    pub registry_client: Option<registry::Client>,
    /// Walks of registry layers, by diff_id; `None` walks every layer. Local images are
    /// always read: their bytes are already here, and reading them verifies them.
    pub cache: Option<Arc<LayerCache>>,
    /// A progress line on stderr (layers and bytes) while a registry image is pulled, when
    /// stderr is a terminal. Off by default: the CLI turns it on, except where it runs many
    /// pulls at once (the audit has its own lines).
    pub progress: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            platform: default_platform(),
            limits: Limits::default(),
            registry: Default::default(),
            registry_client: None,
            cache: None,
            progress: false,
        }
    }
}

pub fn default_platform() -> Platform {
    Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    }
}

/// Everything wrong with an image is one of these; each names the image it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error("image `{image}`: {source}")]
    Store { image: String, source: StoreError },
    /// Only where the document went wrong: serde's own message can quote its bytes.
    #[error("image `{image}`: `{path}` is not valid JSON for {what}: {problem}")]
    Json {
        image: String,
        path: String,
        what: &'static str,
        problem: String,
    },
    #[error("image `{image}`: {message}")]
    Layout { image: String, message: String },
    #[error("image `{image}`: {source}")]
    Engine {
        image: String,
        source: Box<engine::EngineError>,
    },
    #[error("image `{image}`: {source}")]
    Registry {
        image: String,
        source: Box<registry::RegistryError>,
    },
    #[error("image `{image}`: no image for platform {wanted}; the index has: {}", available.join(", "))]
    Platform {
        image: String,
        wanted: String,
        available: Vec<String>,
    },
    #[error("image `{image}`: {what}: digest mismatch: expected {expected}, got {actual}")]
    Digest {
        image: String,
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("image `{image}`: {what}: size mismatch: the manifest says {expected} bytes, the blob has {actual}")]
    Size {
        image: String,
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("image `{image}`: layer {index} ({blob}): {source}")]
    Layer {
        image: String,
        index: usize,
        blob: String,
        source: WalkError,
    },
}

/// What is wrong with a JSON document, by kind and position only. serde_json's messages quote
/// the offending value (`invalid type: string "…"`), and an image's documents, like the files
/// inside it, may hold secrets.
pub fn json_problem(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Syntax => "a syntax error",
        serde_json::error::Category::Data => "a value of the wrong type or shape",
        serde_json::error::Category::Eof => "the document ends early",
        serde_json::error::Category::Io => "a read error",
    };
    // Our own validators' messages (a digest that is not one, a missing field) name what the
    // schema expects, so they are kept; serde's own data messages quote the input, so not.
    let text = e.to_string();
    let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
    let quotes_input = [
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown variant",
        "unknown field",
    ]
    .iter()
    .any(|p| message.starts_with(p));
    if e.classify() == serde_json::error::Category::Data && !quotes_input && message.len() <= 200 {
        return format!("{message} (line {}, column {})", e.line(), e.column());
    }
    format!("{kind} at line {}, column {}", e.line(), e.column())
}

/// The facts about one layer that reports show.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerInfo {
    pub index: usize,
    /// Digest of the blob as stored (for `docker save` classic archives, the uncompressed tar).
    pub digest: Digest,
    pub diff_id: Digest,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub compression: Compression,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    /// The Dockerfile step that made the layer, from the config's history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// A verified layer: what reports show of it and what its walk warned of (its changes are
/// in the image's merged [`Image::fs`]).
pub struct Layer {
    pub info: LayerInfo,
    pub warnings: Vec<String>,
}

/// A loaded, verified image.
pub struct Image<F> {
    /// What the user typed.
    pub reference: String,
    pub manifest_digest: Option<Digest>,
    pub config_digest: Digest,
    pub repo_tags: Vec<String>,
    pub config: ImageConfig,
    pub layers: Vec<Layer>,
    /// Every layer's changes applied in order: the filesystem the image ships.
    pub fs: Filesystem<F>,
}

impl<F> Image<F> {
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.config.os.clone(),
            architecture: self.config.architecture.clone(),
            variant: self.config.variant.clone(),
        }
    }
    pub fn healthcheck(&self) -> Option<&Healthcheck> {
        self.config.config.healthcheck.as_ref()
    }
    pub fn history(&self) -> &[History] {
        &self.config.history
    }
}

/// A layer to walk: where its blob is and what the manifest promises about it.
struct LayerRef {
    path: String,
    descriptor: Option<model::Descriptor>,
}

/// The manifest and config picked out of a layout.
struct Chosen {
    manifest_digest: Option<Digest>,
    config_digest: Digest,
    config_bytes: Vec<u8>,
    repo_tags: Vec<String>,
    layers: Vec<LayerRef>,
}

/// Loads the image `reference`, walking its layers with `capture`.
pub fn load<C: Capture>(reference: &str, options: &LoadOptions, capture: &C) -> Result<Image<C::Fact>, ImageError> {
    load_source(reference, &ImageSource::parse(reference)?, options, capture)
}

/// [`load`] of a source already parsed from `reference` (which names the image in errors).
pub fn load_source<C: Capture>(
    reference: &str,
    source: &ImageSource,
    options: &LoadOptions,
    capture: &C,
) -> Result<Image<C::Fact>, ImageError> {
    match load_source_or(
        reference,
        source,
        options,
        capture,
        &|_| None::<std::convert::Infallible>,
    )? {
        Loaded::Walked(image) => Ok(*image),
        Loaded::Known(never) => match never {},
    }
}

/// A registry image once its manifest is resolved, before any layer is read: the digest of
/// the manifest it resolved to (a tag asked for now, a digest checked against the bytes) and
/// of the config that manifest names.
pub struct Resolved<'a> {
    pub manifest_digest: &'a Digest,
    pub config_digest: &'a Digest,
    /// The reference as a tag (`host/repo:tag`): two tags may name one manifest.
    pub repo_tags: &'a [String],
}

/// What [`load_source_or`] gives.
pub enum Loaded<F, T> {
    /// Every layer walked, verified and merged (boxed: `T` is usually small beside it).
    Walked(Box<Image<F>>),
    /// What the caller already had for that manifest: no layer was read.
    Known(T),
}

/// [`load_source`], asking `known` first, for a registry image, whether what the caller makes
/// of this manifest is already at hand (the inventory cache): then no layer is read at all.
/// Local images are always read (their bytes are here, and reading them verifies them).
pub fn load_source_or<C: Capture, T>(
    reference: &str,
    source: &ImageSource,
    options: &LoadOptions,
    capture: &C,
    known: &dyn Fn(&Resolved) -> Option<T>,
) -> Result<Loaded<C::Fact, T>, ImageError> {
    let ctx = Ctx {
        image: reference.to_string(),
        options,
    };
    let store_err = |source| ImageError::Store {
        image: reference.to_string(),
        source,
    };
    let (store, select) = match source {
        ImageSource::Registry(reference) => return ctx.load_remote(reference, capture, known),
        ImageSource::OciDir { dir, select } => (Store::dir(dir), select.clone()),
        ImageSource::DockerArchive { path, select } | ImageSource::OciArchive { path, select } => (
            Store::tar_file(path, capture, &options.limits).map_err(store_err)?,
            select.clone(),
        ),
        ImageSource::Stdin => {
            let stdin = std::io::stdin().lock();
            (Store::stream(stdin, capture, &options.limits).map_err(store_err)?, None)
        }
        ImageSource::Engine { engine, name } => {
            let stream = engine::open(*engine, name).map_err(|e| ImageError::Engine {
                image: reference.to_string(),
                source: Box::new(e),
            })?;
            (
                Store::stream(stream, capture, &options.limits).map_err(store_err)?,
                None,
            )
        }
    };
    let chosen = if store.size("index.json").map_err(store_err)?.is_some() {
        ctx.choose_oci(&store, select.as_ref())?
    } else if store.size("manifest.json").map_err(store_err)?.is_some() {
        ctx.choose_docker(&store, select.as_ref())?
    } else {
        return Err(ctx.layout("not an image: no index.json (OCI layout) or manifest.json (docker save) found"));
    };
    ctx.finish(&store, chosen, capture, true)
        .map(|i| Loaded::Walked(Box::new(i)))
}

struct Ctx<'a> {
    image: String,
    options: &'a LoadOptions,
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm_name(), d.hex())
}

impl Ctx<'_> {
    fn layout(&self, message: impl Into<String>) -> ImageError {
        ImageError::Layout {
            image: self.image.clone(),
            message: message.into(),
        }
    }

    fn store_err(&self, source: StoreError) -> ImageError {
        ImageError::Store {
            image: self.image.clone(),
            source,
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        bytes: &[u8],
        path: &str,
        what: &'static str,
    ) -> Result<T, ImageError> {
        serde_json::from_slice(bytes).map_err(|e| ImageError::Json {
            image: self.image.clone(),
            path: path.to_string(),
            what,
            problem: json_problem(&e),
        })
    }

    fn read(&self, store: &Store<impl Clone + Send>, path: &str, what: &str) -> Result<Vec<u8>, ImageError> {
        store
            .read_meta(path)
            .map_err(|e| self.store_err(e))?
            .ok_or_else(|| self.layout(format!("{what} `{path}` is missing")))
    }

    /// Reads a blob named by a descriptor and checks its size and digest.
    fn read_blob(
        &self,
        store: &Store<impl Clone + Send>,
        d: &model::Descriptor,
        what: &str,
    ) -> Result<Vec<u8>, ImageError> {
        let path = blob_path(&d.digest);
        let bytes = self.read(store, &path, what)?;
        if bytes.len() as u64 != d.size {
            return Err(ImageError::Size {
                image: self.image.clone(),
                what: format!("{what} {path}"),
                expected: d.size,
                actual: bytes.len() as u64,
            });
        }
        let actual = Digest::of(d.digest.algorithm(), &bytes);
        if actual != d.digest {
            return Err(ImageError::Digest {
                image: self.image.clone(),
                what: format!("{what} {path}"),
                expected: d.digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    fn choose_oci(&self, store: &Store<impl Clone + Send>, select: Option<&Selector>) -> Result<Chosen, ImageError> {
        let index: Index = self.parse(
            &self.read(store, "index.json", "the OCI index")?,
            "index.json",
            "an OCI index",
        )?;
        let candidates: Vec<&model::Descriptor> = match select {
            None => index.manifests.iter().collect(),
            Some(Selector::Digest(d)) => index.manifests.iter().filter(|m| &m.digest == d).collect(),
            Some(Selector::Tag(t)) => index.manifests.iter().filter(|m| tag_matches(m, t)).collect(),
        };
        let descriptor = match candidates.as_slice() {
            [one] => (*one).clone(),
            // A layout holding one multi-platform image lists its platforms directly.
            several if !several.is_empty() && several.iter().all(|m| m.platform.is_some()) => {
                let entries: Vec<model::Descriptor> = several.iter().map(|m| (*m).clone()).collect();
                self.pick_local_platform(store, &entries)?
            }
            [] => {
                return Err(match select {
                    Some(s) => self.layout(format!(
                        "no image with {s} in index.json; it has: {}",
                        describe_refs(&index.manifests)
                    )),
                    None => self.layout("index.json lists no manifests"),
                });
            }
            _ => {
                return Err(self.layout(format!(
                    "index.json holds several images; pick one with :TAG or @DIGEST: {}",
                    describe_refs(&index.manifests)
                )));
            }
        };
        let repo_tags = descriptor
            .annotations
            .get("io.containerd.image.name")
            .cloned()
            .into_iter()
            .collect();
        let (manifest_digest, manifest) = self.resolve_manifest(store, descriptor, 0)?;
        let config = manifest
            .config
            .ok_or_else(|| self.layout(format!("manifest {manifest_digest} has no config")))?;
        let config_bytes = self.read_blob(store, &config, "config")?;
        let layers = manifest
            .layers
            .into_iter()
            .map(|d| LayerRef {
                path: blob_path(&d.digest),
                descriptor: Some(d),
            })
            .collect();
        Ok(Chosen {
            manifest_digest: Some(manifest_digest),
            config_digest: config.digest,
            config_bytes,
            repo_tags,
            layers,
        })
    }

    /// Follows indexes down to one image manifest, choosing by platform.
    fn resolve_manifest(
        &self,
        store: &Store<impl Clone + Send>,
        d: model::Descriptor,
        depth: usize,
    ) -> Result<(Digest, Manifest), ImageError> {
        if depth > 4 {
            return Err(self.layout("indexes nested more than 4 deep"));
        }
        let bytes = self.read_blob(store, &d, "manifest")?;
        let path = blob_path(&d.digest);
        let manifest: Manifest = self.parse(&bytes, &path, "an image manifest or index")?;
        let Some(entries) = manifest.manifests.as_ref().filter(|_| manifest.config.is_none()) else {
            return Ok((d.digest, manifest));
        };
        let m = self.pick_local_platform(store, entries)?;
        self.resolve_manifest(store, m, depth + 1)
    }

    /// Picks the entry for the requested platform: an exact match first, then one that
    /// satisfies it (a request without a variant takes any variant).
    fn pick_platform(&self, entries: &[model::Descriptor]) -> Result<model::Descriptor, ImageError> {
        let wanted = &self.options.platform;
        // Attestation manifests carry platform unknown/unknown; they are never an image.
        let images: Vec<&model::Descriptor> = entries
            .iter()
            .filter(|m| m.platform.as_ref().is_some_and(|p| p.os != "unknown"))
            .collect();
        let platform_of = |m: &&&model::Descriptor| m.platform.clone().unwrap_or_default();
        let pick = images
            .iter()
            .find(|m| platform_of(m) == *wanted)
            .or_else(|| images.iter().find(|m| platform_of(m).satisfies(wanted)));
        let Some(m) = pick else {
            return Err(ImageError::Platform {
                image: self.image.clone(),
                wanted: wanted.to_string(),
                available: images.iter().map(|m| platform_of(&m).to_string()).collect(),
            });
        };
        Ok((*m).clone())
    }

    /// [`Self::pick_platform`] for a local layout, whose index may name platforms it holds no blobs for.
    fn pick_local_platform(
        &self,
        store: &Store<impl Clone + Send>,
        entries: &[model::Descriptor],
    ) -> Result<model::Descriptor, ImageError> {
        let m = self.pick_platform(entries)?;
        if store
            .size(&blob_path(&m.digest))
            .map_err(|e| self.store_err(e))?
            .is_none()
        {
            return Err(self.layout(format!(
                "the index names {} as {} but its blobs are not in the image (saved for another platform?)",
                self.options.platform, m.digest
            )));
        }
        Ok(m)
    }

    fn choose_docker(&self, store: &Store<impl Clone + Send>, select: Option<&Selector>) -> Result<Chosen, ImageError> {
        let entries: Vec<DockerArchiveEntry> = self.parse(
            &self.read(store, "manifest.json", "the archive manifest")?,
            "manifest.json",
            "a docker save manifest",
        )?;
        let tags = |e: &DockerArchiveEntry| e.repo_tags.clone().unwrap_or_default();
        let candidates: Vec<&DockerArchiveEntry> = match select {
            None => entries.iter().collect(),
            Some(Selector::Tag(t)) => entries
                .iter()
                .filter(|e| tags(e).iter().any(|r| repo_tag_matches(r, t)))
                .collect(),
            Some(Selector::Digest(d)) => entries.iter().filter(|e| e.config.contains(d.hex())).collect(),
        };
        let all = || entries.iter().flat_map(tags).collect::<Vec<_>>().join(", ");
        let entry = match candidates.as_slice() {
            [one] => *one,
            [] => {
                return Err(self.layout(match select {
                    Some(s) => format!("no image with {s} in manifest.json; it has: {}", all()),
                    None => "manifest.json lists no images".into(),
                }));
            }
            _ => {
                return Err(self.layout(format!(
                    "the archive holds several images; pick one with :TAG: {}",
                    all()
                )));
            }
        };
        let config_path = layer_name(&entry.config).map_err(|e| self.store_err(e))?;
        let config_bytes = self.read(store, &config_path, "config")?;
        let config_digest = Digest::sha256_of(&config_bytes);
        // Docker names the config after its digest (`<hex>.json` or `blobs/sha256/<hex>`).
        let stem = config_path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".json");
        if stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()) && stem != config_digest.hex() {
            return Err(ImageError::Digest {
                image: self.image.clone(),
                what: format!("config {config_path}"),
                expected: Digest::parse(&format!("sha256:{stem}")).map_err(|e| self.layout(e.to_string()))?,
                actual: config_digest,
            });
        }
        let layers = entry
            .layers
            .iter()
            .map(|l| {
                Ok(LayerRef {
                    path: layer_name(l)?,
                    descriptor: None,
                })
            })
            .collect::<Result<_, StoreError>>()
            .map_err(|e| self.store_err(e))?;
        Ok(Chosen {
            manifest_digest: None,
            config_digest,
            config_bytes,
            repo_tags: tags(entry),
            layers,
        })
    }

    /// Walks every layer (in parallel), verifies it against manifest and config, and pairs
    /// it with its history entry. `beside`: merge on a thread of its own while the walks run (not worth its start when
    /// every walk is a small read from the layer cache).
    fn finish<C: Capture>(
        &self,
        blobs: &impl LayerBlobs<C>,
        chosen: Chosen,
        capture: &C,
        beside: bool,
    ) -> Result<Image<C::Fact>, ImageError> {
        let config_path = blob_path(&chosen.config_digest);
        let config: ImageConfig = self.parse(&chosen.config_bytes, &config_path, "an image config")?;
        if config.rootfs.diff_ids.len() != chosen.layers.len() {
            return Err(self.layout(format!(
                "the manifest lists {} layers but the config's rootfs has {} diff_ids",
                chosen.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        // Sizes first: a manifest that lies about a blob fails before anything is read.
        for (index, l) in chosen.layers.iter().enumerate() {
            let stored = blobs.stored_size(l).map_err(|e| self.store_err(e))?;
            let stored = stored.ok_or_else(|| self.layout(format!("layer {index} blob `{}` is missing", l.path)))?;
            if let Some(d) = &l.descriptor
                && d.size != stored
            {
                return Err(ImageError::Size {
                    image: self.image.clone(),
                    what: format!("layer {index} ({})", l.path),
                    expected: d.size,
                    actual: stored,
                });
            }
        }
        let limits = &self.options.limits;
        let diff_ids = &config.rootfs.diff_ids;
        let descriptors: Vec<(String, Option<model::Descriptor>)> = chosen
            .layers
            .iter()
            .map(|l| (l.path.clone(), l.descriptor.clone()))
            .collect();
        let mut history = config.history.iter().filter(|h| !h.empty_layer);
        let mut merge = Merge {
            fs: Filesystem::default(),
            layers: Vec::with_capacity(chosen.layers.len()),
        };
        let mut accept = |index: usize, walk: Result<LayerWalk<C::Fact>, WalkError>| -> Result<(), ImageError> {
            let (blob, descriptor) = &descriptors[index];
            let walk = self.verified(index, blob, descriptor.as_ref(), &diff_ids[index], walk)?;
            let entry = history.next();
            merge.fs.apply(index, walk.changes);
            merge.layers.push(Layer {
                info: LayerInfo {
                    index,
                    digest: descriptor
                        .as_ref()
                        .map_or_else(|| walk.blob_digest.clone(), |d| d.digest.clone()),
                    diff_id: walk.diff_id,
                    media_type: descriptor.as_ref().map(|d| d.media_type.clone()).unwrap_or_default(),
                    compression: walk.compression,
                    compressed_size: walk.blob_size,
                    uncompressed_size: walk.uncompressed_size,
                    created_by: entry.and_then(|h| h.created_by.clone()),
                },
                warnings: walk
                    .warnings
                    .into_iter()
                    .map(|w| format!("layer {index}: {w}"))
                    .collect(),
            });
            Ok(())
        };
        if chosen.layers.len() < 2 || !beside {
            for (index, (l, diff_id)) in chosen.layers.iter().zip(diff_ids).enumerate() {
                accept(index, blobs.walk(l, diff_id, capture, limits))?;
            }
        } else {
            // Layers are merged as they come, in order, on a thread of their own: the merge of
            // the lower layers hides under the walks of the upper ones instead of following
            // the last walk on one core. Each is verified before it is merged.
            let (tx, rx) = std::sync::mpsc::channel();
            let merged = std::thread::scope(|s| {
                let merger = s.spawn(move || {
                    let mut waiting = BTreeMap::new();
                    let mut next = 0;
                    for (index, walk) in rx {
                        waiting.insert(index, walk);
                        while let Some(walk) = waiting.remove(&next) {
                            accept(next, walk)?;
                            next += 1;
                        }
                    }
                    Ok::<(), ImageError>(())
                });
                // Walks start in layer order, one a thread (a parallel iterator would split
                // the list in halves and walk layer 2 before layer 1, so no merge could start
                // until both halves were nearly done).
                let next = std::sync::atomic::AtomicUsize::new(0);
                let workers = rayon::current_num_threads().clamp(1, chosen.layers.len());
                rayon::scope(|scope| {
                    for _ in 0..workers {
                        let tx = tx.clone();
                        let next = &next;
                        let layers = &chosen.layers;
                        scope.spawn(move |_| {
                            loop {
                                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let (Some(l), Some(diff_id)) = (layers.get(index), diff_ids.get(index)) else {
                                    break;
                                };
                                let walk = blobs.walk(l, diff_id, capture, limits);
                                // The merger stops at the first bad layer: later walks go unheard.
                                if tx.send((index, walk)).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                });
                drop(tx);
                merger.join()
            });
            match merged {
                Ok(result) => result?,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        let Merge { fs, layers } = merge;
        Ok(Image {
            reference: self.image.clone(),
            manifest_digest: chosen.manifest_digest,
            config_digest: chosen.config_digest,
            repo_tags: chosen.repo_tags,
            config,
            layers,
            fs,
        })
    }

    /// A layer's walk, once its blob and its uncompressed tar are what the manifest and the
    /// config say they are.
    fn verified<F>(
        &self,
        index: usize,
        blob: &str,
        descriptor: Option<&model::Descriptor>,
        diff_id: &Digest,
        walk: Result<LayerWalk<F>, WalkError>,
    ) -> Result<LayerWalk<F>, ImageError> {
        let walk = walk.map_err(|source| ImageError::Layer {
            image: self.image.clone(),
            index,
            blob: blob.to_string(),
            source,
        })?;
        let what = format!("layer {index} ({blob})");
        if let Some(d) = descriptor {
            if walk.blob_size != d.size {
                return Err(ImageError::Size {
                    image: self.image.clone(),
                    what,
                    expected: d.size,
                    actual: walk.blob_size,
                });
            }
            if walk.blob_digest != d.digest {
                return Err(ImageError::Digest {
                    image: self.image.clone(),
                    what,
                    expected: d.digest.clone(),
                    actual: walk.blob_digest,
                });
            }
        }
        if &walk.diff_id != diff_id {
            return Err(ImageError::Digest {
                image: self.image.clone(),
                what: format!("{what} uncompressed (diff_id)"),
                expected: diff_id.clone(),
                actual: walk.diff_id,
            });
        }
        Ok(walk)
    }
}

/// What [`Ctx::finish`] builds as the layers are verified.
struct Merge<F> {
    fs: Filesystem<F>,
    layers: Vec<Layer>,
}

/// Where an image's layer blobs are read from: a local store, or a registry.
trait LayerBlobs<C: Capture>: Sync {
    /// The size of the blob as stored, `None` when it is missing.
    fn stored_size(&self, layer: &LayerRef) -> Result<Option<u64>, StoreError>;
    /// Walks the layer; `diff_id` is what the config says its uncompressed tar hashes to.
    fn walk(
        &self,
        layer: &LayerRef,
        diff_id: &Digest,
        capture: &C,
        limits: &Limits,
    ) -> Result<LayerWalk<C::Fact>, WalkError>;
}

impl<C: Capture> LayerBlobs<C> for Store<C::Fact> {
    fn stored_size(&self, layer: &LayerRef) -> Result<Option<u64>, StoreError> {
        self.size(&layer.path)
    }
    fn walk(
        &self,
        layer: &LayerRef,
        diff_id: &Digest,
        capture: &C,
        limits: &Limits,
    ) -> Result<LayerWalk<C::Fact>, WalkError> {
        let blob_alg = layer
            .descriptor
            .as_ref()
            .map_or(Algorithm::Sha256, |d| d.digest.algorithm());
        let size = layer.descriptor.as_ref().map(|d| d.size);
        Store::walk(
            self,
            &layer.path,
            size,
            capture,
            limits,
            (blob_alg, diff_id.algorithm()),
        )
    }
}

/// A path named in `manifest.json`, normalized like any archive entry.
fn layer_name(raw: &str) -> Result<String, StoreError> {
    crate::layer::normalize(raw.as_bytes())
        .map_err(|reason| StoreError::BadEntry {
            path: raw.to_string(),
            reason: reason.to_string(),
        })?
        .ok_or_else(|| StoreError::BadEntry {
            path: raw.to_string(),
            reason: "empty path".into(),
        })
}

fn tag_matches(d: &model::Descriptor, tag: &str) -> bool {
    d.annotations
        .get("org.opencontainers.image.ref.name")
        .is_some_and(|t| t == tag)
        || d.annotations
            .get("io.containerd.image.name")
            .is_some_and(|r| repo_tag_matches(r, tag))
}

/// `app:dev` matches `app:dev`, `docker.io/library/app:dev` and a bare `dev` tag.
fn repo_tag_matches(repo_tag: &str, wanted: &str) -> bool {
    repo_tag == wanted
        || repo_tag.ends_with(&format!("/{wanted}"))
        || repo_tag.rsplit_once(':').is_some_and(|(_, t)| t == wanted)
}

fn describe_refs(ms: &[model::Descriptor]) -> String {
    let refs: BTreeMap<String, ()> = ms
        .iter()
        .map(|m| {
            (
                m.annotations
                    .get("org.opencontainers.image.ref.name")
                    .cloned()
                    .unwrap_or_else(|| m.digest.to_string()),
                (),
            )
        })
        .collect();
    refs.into_keys().collect::<Vec<_>>().join(", ")
}
