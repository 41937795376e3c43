//! Where an image's files live: an OCI layout directory, a seekable tar (indexed once, then
//! read at offsets, so layers can be walked in parallel), or a tar stream (stdin, or a
//! gzip-compressed `docker save`) that can only be read once, front to back. A stream puts
//! `manifest.json` last, so every layer-looking blob is walked as it passes and the small JSON
//! documents are kept; the layout is resolved afterwards.

use crate::digest::Algorithm;
use crate::layer::targuard::{TarGuard, TarHeaderError};
use crate::layer::{self, Capture, LayerWalk, Limits, WalkError};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// JSON documents (index, manifests, configs) above this size are refused.
pub const META_CAP: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{path}`: {source}")]
    Io { path: String, source: io::Error },
    #[error("`{path}`: {size} bytes, over the {cap}-byte limit for an image document")]
    TooLarge { path: String, size: u64, cap: u64 },
    #[error("archive entry `{path}`: {reason}")]
    BadEntry { path: String, reason: String },
    #[error("`{path}`: link loop or dangling link inside the archive")]
    Link { path: String },
    #[error("`{path}`: not a tar archive, an OCI layout or a docker save stream")]
    NotAnArchive { path: String },
    #[error("`{path}`: {source}")]
    Header { path: String, source: TarHeaderError },
}

pub enum TarItem {
    File { offset: u64, size: u64 },
    Link(String),
}

pub enum Store<F> {
    Dir(PathBuf),
    Tar {
        path: PathBuf,
        items: HashMap<String, TarItem>,
    },
    Streamed(Streamed<F>),
}

pub struct Streamed<F> {
    meta: HashMap<String, Vec<u8>>,
    sizes: HashMap<String, u64>,
    links: HashMap<String, String>,
    walks: Mutex<HashMap<String, Result<LayerWalk<F>, WalkError>>>,
}

fn io_err(path: &str) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_string(),
        source,
    }
}

/// An error reading the archive's own tar structure. The `tar` crate's messages can quote a
/// header's name field, so a file that is not a tar at all is named as such instead, by the
/// guard in front of the crate; no byte of it is ever quoted.
fn tar_err(path: &str) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| match TarHeaderError::find(&source) {
        Some(TarHeaderError::NotTar) => StoreError::NotAnArchive { path: path.to_string() },
        Some(h) => StoreError::Header {
            path: path.to_string(),
            source: h.clone(),
        },
        None => StoreError::Io {
            path: path.to_string(),
            source,
        },
    }
}

/// Whether the file starts with a gzip or zstd magic number (a compressed outer tar).
fn is_compressed(path: &Path) -> Result<bool, StoreError> {
    let p = path.display().to_string();
    let mut f = File::open(path).map_err(io_err(&p))?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).map_err(io_err(&p))?;
    Ok(matches!(&magic[..n], [0x1f, 0x8b, ..] | [0x28, 0xb5, 0x2f, 0xfd]))
}

/// The name of an archive entry as the store keys it: normalized, never escaping.
fn entry_name(raw: &[u8]) -> Result<Option<String>, StoreError> {
    layer::normalize(raw).map_err(|reason| StoreError::BadEntry {
        path: String::from_utf8_lossy(raw).into_owned(),
        reason: reason.to_string(),
    })
}

/// Resolves a symlink found in an archive at `from` to its target's archive path.
fn link_target(from: &str, target: &[u8], symlink: bool) -> Result<String, StoreError> {
    let target = String::from_utf8_lossy(target);
    let joined = match (symlink, from.rsplit_once('/')) {
        (true, Some((dir, _))) if !target.starts_with('/') => format!("{dir}/{target}"),
        _ => target.trim_start_matches('/').to_string(),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(StoreError::BadEntry {
                        path: from.into(),
                        reason: "link points outside the archive".into(),
                    });
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

impl<F: Clone + Send> Store<F> {
    pub fn dir(dir: &Path) -> Self {
        Store::Dir(dir.to_path_buf())
    }

    /// Opens a tar file: indexed in place when it is a plain tar, streamed when compressed.
    pub fn tar_file<C: Capture<Fact = F>>(path: &Path, capture: &C, limits: &Limits) -> Result<Self, StoreError> {
        let p = path.display().to_string();
        if is_compressed(path)? {
            let file = File::open(path).map_err(io_err(&p))?;
            return Self::stream(file, capture, limits);
        }
        let file = File::open(path).map_err(io_err(&p))?;
        let mut archive = tar::Archive::new(TarGuard::new(BufReader::new(file)));
        let mut items = HashMap::new();
        for entry in archive.entries_with_seek().map_err(tar_err(&p))? {
            let entry = entry.map_err(tar_err(&p))?;
            let Some(name) = entry_name(&entry.path_bytes())? else {
                continue;
            };
            let item = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => TarItem::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                t @ (tar::EntryType::Symlink | tar::EntryType::Link) => {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    TarItem::Link(link_target(&name, &target, t == tar::EntryType::Symlink)?)
                }
                _ => continue,
            };
            items.insert(name, item);
        }
        Ok(Store::Tar {
            path: path.to_path_buf(),
            items,
        })
    }

    /// Reads a tar stream once, front to back. A gzip- or zstd-compressed one (`docker save |
    /// gzip`) is decompressed under the same bomb limits as a layer, with its own running total,
    /// since the layers inside count again.
    pub fn stream<R: Read, C: Capture<Fact = F>>(reader: R, capture: &C, limits: &Limits) -> Result<Self, StoreError> {
        let outer_limits = Limits {
            total_used: Default::default(),
            ..limits.clone()
        };
        let decoded =
            layer::decode(reader, &outer_limits, Algorithm::Sha256, Algorithm::Sha256).map_err(|e| StoreError::Io {
                path: "archive stream".into(),
                source: io::Error::other(e.to_string()),
            })?;
        Ok(Store::Streamed(Streamed::read(decoded, capture, limits)?))
    }

    /// Follows archive links to the entry that holds the bytes.
    fn resolve<'a>(&'a self, path: &'a str) -> Result<String, StoreError> {
        let mut current = path.to_string();
        for _ in 0..16 {
            let next = match self {
                Store::Dir(_) => return Ok(current),
                Store::Tar { items, .. } => match items.get(&current) {
                    Some(TarItem::Link(t)) => t.clone(),
                    _ => return Ok(current),
                },
                Store::Streamed(s) => match s.links.get(&current) {
                    Some(t) => t.clone(),
                    None => return Ok(current),
                },
            };
            current = next;
        }
        Err(StoreError::Link { path: path.to_string() })
    }

    /// The size of a stored file, or `None` when it is absent.
    pub fn size(&self, path: &str) -> Result<Option<u64>, StoreError> {
        let path = self.resolve(path)?;
        Ok(match self {
            Store::Dir(dir) => match std::fs::metadata(dir.join(&path)) {
                Ok(m) if m.is_file() => Some(m.len()),
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(StoreError::Io { path, source: e }),
            },
            Store::Tar { items, .. } => match items.get(&path) {
                Some(TarItem::File { size, .. }) => Some(*size),
                _ => None,
            },
            Store::Streamed(s) => s.sizes.get(&path).copied(),
        })
    }

    /// Reads a small document (index, manifest, config); `None` when absent.
    pub fn read_meta(&self, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(size) = self.size(path)? else { return Ok(None) };
        if size > META_CAP {
            return Err(StoreError::TooLarge {
                path: path.into(),
                size,
                cap: META_CAP,
            });
        }
        if let Store::Streamed(s) = self {
            // Only JSON-looking entries were kept; anything else was walked as a layer.
            return Ok(s.meta.get(&self.resolve(path)?).cloned());
        }
        let mut bytes = Vec::with_capacity(size as usize);
        self.open(path)?
            .take(META_CAP)
            .read_to_end(&mut bytes)
            .map_err(io_err(path))?;
        Ok(Some(bytes))
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send>, StoreError> {
        let real = self.resolve(path)?;
        match self {
            Store::Dir(dir) => {
                let f = File::open(dir.join(&real)).map_err(io_err(path))?;
                Ok(Box::new(f))
            }
            Store::Tar { path: tar, items } => match items.get(&real) {
                Some(TarItem::File { offset, size }) => {
                    let mut f = File::open(tar).map_err(io_err(path))?;
                    f.seek(SeekFrom::Start(*offset)).map_err(io_err(path))?;
                    Ok(Box::new(f.take(*size)))
                }
                _ => Err(StoreError::Io {
                    path: path.into(),
                    source: io::ErrorKind::NotFound.into(),
                }),
            },
            Store::Streamed(_) => Err(StoreError::Io {
                path: path.into(),
                source: io::Error::other("a streamed archive cannot be read twice"),
            }),
        }
    }

    /// Walks the layer stored at `path`, reading at most `expected_size + 1` bytes so a blob
    /// longer than its descriptor says is caught without reading all of it.
    pub fn walk<C: Capture<Fact = F>>(
        &self,
        path: &str,
        expected_size: Option<u64>,
        capture: &C,
        limits: &Limits,
        algs: (Algorithm, Algorithm),
    ) -> Result<LayerWalk<F>, WalkError> {
        if let Store::Streamed(s) = self {
            let real = self
                .resolve(path)
                .map_err(|e| WalkError::Io(io::Error::other(e.to_string())))?;
            let mut walks = s.walks.lock().unwrap_or_else(|p| p.into_inner());
            return match walks.get(&real) {
                Some(Ok(w)) => {
                    let mut w = w.clone();
                    w.abandon_links();
                    Ok(w)
                }
                Some(Err(_)) => walks
                    .remove(&real)
                    .and_then(Result::err)
                    .map_or_else(|| unreachable_walk(path), Err),
                None => unreachable_walk(path),
            };
        }
        let open = || -> Result<Box<dyn Read>, WalkError> {
            let reader = self
                .open(path)
                .map_err(|e| WalkError::Io(io::Error::other(e.to_string())))?;
            Ok(match expected_size {
                Some(n) => Box::new(reader.take(n.saturating_add(1))),
                None => reader,
            })
        };
        let mut walk = layer::walk(open()?, capture, limits, algs.0, algs.1)?;
        // Hardlinks whose targets were not read: this store can read the blob again.
        layer::resolve_links(open()?, capture, limits, &mut walk)?;
        Ok(walk)
    }
}

fn unreachable_walk<T>(path: &str) -> Result<T, WalkError> {
    Err(WalkError::Io(io::Error::other(format!(
        "`{path}` was not a layer in the archive stream"
    ))))
}

impl<F: Clone + Send> Streamed<F> {
    fn read<R: Read, C: Capture<Fact = F>>(reader: R, capture: &C, limits: &Limits) -> Result<Self, StoreError> {
        let mut s = Streamed {
            meta: HashMap::new(),
            sizes: HashMap::new(),
            links: HashMap::new(),
            walks: Mutex::new(HashMap::new()),
        };
        let mut walks = HashMap::new();
        let mut archive = tar::Archive::new(TarGuard::new(reader));
        let stream = "archive stream";
        for entry in archive.entries().map_err(tar_err(stream))? {
            let mut entry = entry.map_err(tar_err(stream))?;
            let Some(name) = entry_name(&entry.path_bytes())? else {
                continue;
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                t @ (tar::EntryType::Symlink | tar::EntryType::Link) => {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    s.links
                        .insert(name.clone(), link_target(&name, &target, t == tar::EntryType::Symlink)?);
                    continue;
                }
                _ => continue,
            }
            let size = entry.size();
            s.sizes.insert(name.clone(), size);
            // Small entries are read whole: JSON documents are kept, anything else is a
            // candidate layer walked from memory. Big ones are walked as they stream past.
            // Digests are computed with sha256, the only algorithm `docker save` uses.
            let result = if size <= META_CAP {
                let mut bytes = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut bytes).map_err(io_err(&name))?;
                if looks_like_json(&bytes) {
                    s.meta.insert(name, bytes);
                    continue;
                }
                layer::walk(&bytes[..], capture, limits, Algorithm::Sha256, Algorithm::Sha256)
            } else {
                let r = layer::walk(&mut entry, capture, limits, Algorithm::Sha256, Algorithm::Sha256);
                // Keep the outer stream in step even when the layer walk stopped early.
                io::copy(&mut entry, &mut io::sink()).map_err(io_err(&name))?;
                r
            };
            walks.insert(name, result);
        }
        s.walks = Mutex::new(walks);
        Ok(s)
    }
}

/// A document (index, manifest, config) rather than a layer. A layer is a tar (or compressed):
/// one whose first entry is named `{…` or `[…` starts with the same byte as JSON, so the tar
/// header decides, not the first byte.
fn looks_like_json(bytes: &[u8]) -> bool {
    !is_tar_header(bytes) && matches!(bytes.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
}

/// Whether `bytes` starts with a tar header whose checksum holds (what the `tar` crate checks).
fn is_tar_header(bytes: &[u8]) -> bool {
    let Some(h) = bytes.get(..512) else { return false };
    let sum: u64 = h[..148].iter().chain(&h[156..]).map(|&b| u64::from(b)).sum::<u64>() + 8 * 32;
    let field = &h[148..156];
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    std::str::from_utf8(&field[..end])
        .ok()
        .and_then(|t| u64::from_str_radix(t.trim(), 8).ok())
        == Some(sum)
}
