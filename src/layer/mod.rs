//! One streaming pass over a layer blob: detect its compression, decompress, verify both
//! digests, walk the tar, record what each entry does to the filesystem, and read into memory
//! only the few files a [`Capture`] asks for. Nothing is written to disk.
//!
//! Whiteouts are recorded here and applied later, in layer order, by [`merge`]; that split is
//! what lets layers be walked in parallel.

pub mod cache;
pub mod merge;
pub mod targuard;

use crate::digest::{Algorithm, Digest, Hasher};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, BufReader, Cursor, Read};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use merge::{Event, Filesystem, FsNode};

/// Decides which files of a layer are read, and turns their bytes into facts.
pub trait Capture: Sync {
    /// Serializable so a layer's walk can be cached.
    type Fact: Clone + Send + serde::Serialize + serde::de::DeserializeOwned;
    /// The size cap if the file at `path` (normalized, no leading `/`) should be read.
    fn wants(&self, path: &str) -> Option<u64>;
    /// Parses a wanted file. A non-fatal error becomes a warning naming the path.
    fn capture(&self, path: &str, bytes: &[u8]) -> Result<Self::Fact, CaptureError>;
    /// Names what this capture reads and how it parses it, for the layer cache: walks made
    /// by another analyzer (or another version of this one) are never reused. `None`: the
    /// walks are not cached.
    fn analyzer(&self) -> Option<&str> {
        None
    }
    /// What a wanted file of `size` bytes, over its `cap`, means. By default a warning (the
    /// file is not read); a capture makes it fatal where not reading it would hide packages.
    fn too_large(&self, path: &str, size: u64, cap: u64) -> CaptureError {
        let _ = path;
        CaptureError {
            fatal: false,
            message: format!("{size} bytes is over the {cap}-byte cap for this file; not read"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CaptureError {
    /// Fatal errors stop the scan (the result would be wrong); others are warnings.
    pub fatal: bool,
    pub message: String,
}

/// How a blob was compressed, detected from its first bytes (the media type can lie, and
/// `docker save` writes no media types at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

/// What a tar entry does to the filesystem of the layers below.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Change<F> {
    /// `dir/.wh.name`: removes `dir/name` and everything below it.
    Whiteout(String),
    /// `dir/.wh..wh..opq`: hides everything lower layers put in `dir`.
    Opaque(String),
    Add(Node<F>),
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Node<F> {
    pub path: String,
    pub kind: NodeKind,
    /// The parsed content, for the files the capture asked for.
    pub fact: Option<F>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum NodeKind {
    File {
        size: u64,
        mode: u32,
    },
    Dir,
    Symlink {
        target: String,
    },
    /// Target is a normalized path inside the image.
    Hardlink {
        target: String,
    },
}

/// The result of walking one layer.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LayerWalk<F> {
    pub compression: Compression,
    /// Digest and size of the blob as stored (what the manifest names).
    pub blob_digest: Digest,
    pub blob_size: u64,
    /// Digest and size of the uncompressed tar (what the config's `diff_ids` name).
    pub diff_id: Digest,
    pub uncompressed_size: u64,
    pub changes: Vec<Change<F>>,
    pub warnings: Vec<String>,
    /// Hardlinks at wanted paths whose target this pass had not read (pnpm links every
    /// `package.json` to a store file with a hash for a name): (index into `changes`, target).
    /// [`resolve_links`] reads them in a second pass where the blob can be read again.
    /// Never cached: a cached walk has resolved them.
    #[serde(skip)]
    pub unresolved_links: Vec<(usize, String)>,
}

impl<F> LayerWalk<F> {
    /// Gives up on unresolved hardlinks (the blob cannot be read again), with a warning each.
    pub fn abandon_links(&mut self) {
        for (i, target) in std::mem::take(&mut self.unresolved_links) {
            if let Some(Change::Add(n)) = self.changes.get(i) {
                self.warnings.push(format!(
                    "`{}`: hardlink to `{target}`, which could not be read from a one-pass stream",
                    n.path
                ));
            }
        }
    }
}

/// Caps that stop a decompression bomb early. The total is shared by every layer of an image.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Uncompressed bytes one layer may expand to.
    pub max_layer_size: u64,
    /// Uncompressed bytes all layers together may expand to.
    pub max_total_size: u64,
    /// Largest uncompressed ÷ compressed ratio, checked once a layer has expanded past
    /// `ratio_floor` (small layers legitimately compress very well).
    pub max_ratio: u64,
    pub ratio_floor: u64,
    pub total_used: Arc<AtomicU64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_size: 32 << 30,
            max_total_size: 64 << 30,
            max_ratio: 250,
            ratio_floor: 64 << 20,
            total_used: Arc::new(AtomicU64::new(0)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("unsupported layer compression (first bytes {0}); expected gzip, zstd or tar")]
    UnsupportedCompression(String),
    #[error("corrupt or truncated {compression:?} stream{}: {source}", at(.path))]
    Corrupt {
        compression: Compression,
        path: Option<String>,
        source: io::Error,
    },
    #[error("entry `{path}`: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("decompression bomb: {0}")]
    Bomb(String),
    #[error("`{path}`: {message}")]
    Capture { path: String, message: String },
    #[error("{source}{}", .path.as_ref().map(|p| format!(" (after entry `{p}`)")).unwrap_or_default())]
    Header {
        source: Box<targuard::TarHeaderError>,
        path: Option<String>,
    },
    #[error("reading the blob: {0}")]
    Io(#[source] io::Error),
}

fn at(path: &Option<String>) -> String {
    path.as_ref().map(|p| format!(" at `{p}`")).unwrap_or_default()
}

/// Shared state of a reader tap: the running hash and byte count.
struct TapState {
    hasher: Hasher,
    count: u64,
}

/// Hashes and counts the bytes flowing through a reader whose ownership is taken by a decoder.
struct Tap<R> {
    inner: R,
    state: Rc<RefCell<TapState>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.state.borrow_mut();
        s.hasher.update(&buf[..n]);
        s.count += n as u64;
        Ok(n)
    }
}

/// Enforces [`Limits`] on the decompressed stream.
struct BombGuard<'l, R> {
    inner: R,
    raw: Rc<RefCell<TapState>>,
    count: u64,
    limits: &'l Limits,
    tripped: Rc<RefCell<Option<String>>>,
}

impl<R: Read> Read for BombGuard<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        let total = self.limits.total_used.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        let raw = self.raw.borrow().count.max(1);
        let problem = if self.count > self.limits.max_layer_size {
            Some(format!("layer expands past {} bytes", self.limits.max_layer_size))
        } else if total > self.limits.max_total_size {
            Some(format!("image expands past {} bytes", self.limits.max_total_size))
        } else if self.count > self.limits.ratio_floor && self.count / raw > self.limits.max_ratio {
            Some(format!(
                "{} compressed bytes expanded to {} (ratio over {}:1)",
                raw, self.count, self.limits.max_ratio
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            *self.tripped.borrow_mut() = Some(p.clone());
            return Err(io::Error::other(p));
        }
        Ok(n)
    }
}

/// A decompressed view of a blob, with the blob's running hash and the bomb guard's verdict.
pub struct Decoded<'l> {
    pub compression: Compression,
    reader: Tap<BombGuard<'l, Box<dyn Read + 'l>>>,
    raw: Rc<RefCell<TapState>>,
    out: Rc<RefCell<TapState>>,
    tripped: Rc<RefCell<Option<String>>>,
}

impl Read for Decoded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Decoded<'_> {
    /// Turns a read error into the most telling [`WalkError`]: a tripped bomb guard wins.
    pub fn error(&self, e: io::Error, path: Option<String>) -> WalkError {
        if let Some(p) = self.tripped.borrow().clone() {
            return WalkError::Bomb(p);
        }
        // A header the guard refused: a tar problem, not a compression one.
        if let Some(h) = targuard::TarHeaderError::find(&e) {
            return WalkError::Header {
                source: Box::new(h.clone()),
                path,
            };
        }
        WalkError::Corrupt {
            compression: self.compression,
            path,
            source: e,
        }
    }

    /// Reads what is left and returns (blob digest, blob size, decoded digest, decoded size).
    pub fn finish(mut self) -> Result<(Digest, u64, Digest, u64), WalkError> {
        io::copy(&mut self.reader, &mut io::sink()).map_err(|e| self.error(e, None))?;
        let Decoded { reader, raw, out, .. } = self;
        drop(reader);
        let still_used = || WalkError::Io(io::Error::other("blob reader still in use"));
        let raw = Rc::try_unwrap(raw).map_err(|_| still_used())?.into_inner();
        let out = Rc::try_unwrap(out).map_err(|_| still_used())?.into_inner();
        Ok((raw.hasher.finish(), raw.count, out.hasher.finish(), out.count))
    }
}

/// Sniffs the compression of `blob` from its magic bytes and decompresses it, hashing both
/// sides and enforcing `limits`.
pub fn decode<'l, R: Read + 'l>(
    blob: R,
    limits: &'l Limits,
    blob_alg: Algorithm,
    out_alg: Algorithm,
) -> Result<Decoded<'l>, WalkError> {
    let raw_state = Rc::new(RefCell::new(TapState {
        hasher: Hasher::new(blob_alg),
        count: 0,
    }));
    let mut raw = BufReader::with_capacity(
        256 << 10,
        Tap {
            inner: blob,
            state: raw_state.clone(),
        },
    );
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        match raw.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(WalkError::Io(e)),
        }
    }
    let head = Cursor::new(magic[..got].to_vec()).chain(raw);
    let compression = match &magic[..got] {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        // xz, bzip2: real formats, but no registry or `docker save` produces them for layers.
        [0xfd, b'7', b'z', b'X'] | [b'B', b'Z', b'h', _] => {
            return Err(WalkError::UnsupportedCompression(hex::encode(&magic[..got])));
        }
        _ => Compression::None,
    };
    let decoded: Box<dyn Read + 'l> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(head)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(head).map_err(WalkError::Io)?),
        Compression::None => Box::new(head),
    };
    let tripped = Rc::new(RefCell::new(None));
    let guard = BombGuard {
        inner: decoded,
        raw: raw_state.clone(),
        count: 0,
        limits,
        tripped: tripped.clone(),
    };
    let out = Rc::new(RefCell::new(TapState {
        hasher: Hasher::new(out_alg),
        count: 0,
    }));
    Ok(Decoded {
        compression,
        reader: Tap {
            inner: guard,
            state: out.clone(),
        },
        raw: raw_state,
        out,
        tripped,
    })
}

/// Walks one layer blob. `blob_alg` and `diff_alg` are the algorithms of the digests the
/// caller will verify against (sha256 in practice).
pub fn walk<R: Read, C: Capture>(
    blob: R,
    capture: &C,
    limits: &Limits,
    blob_alg: Algorithm,
    diff_alg: Algorithm,
) -> Result<LayerWalk<C::Fact>, WalkError> {
    let decoded = decode(blob, limits, blob_alg, diff_alg)?;
    let compression = decoded.compression;
    let mut walker = Walker {
        capture,
        changes: Vec::new(),
        warnings: Vec::new(),
        captured: HashMap::new(),
        unresolved: Vec::new(),
    };
    let mut archive = tar::Archive::new(targuard::TarGuard::new(decoded));
    let mut last_path: Option<String> = None;
    let result = (|| {
        for entry in archive.entries()? {
            let entry = entry?;
            match walker.entry(entry) {
                Ok(path) => last_path = path,
                Err(EntryError::Walk(w)) => return Ok(Some(w)),
                Err(EntryError::Io(e, path)) => {
                    last_path = Some(path);
                    return Err(e);
                }
            }
        }
        Ok(None)
    })();
    let decoded = archive.into_inner().into_inner();
    match result {
        Ok(None) => {}
        Ok(Some(w)) => return Err(w),
        Err(e) => return Err(decoded.error(e, last_path)),
    }
    // The digests cover every byte, including tar padding after the end-of-archive marker.
    let (blob_digest, blob_size, diff_id, uncompressed_size) = decoded.finish()?;
    Ok(LayerWalk {
        compression,
        blob_digest,
        blob_size,
        diff_id,
        uncompressed_size,
        changes: walker.changes,
        warnings: walker.warnings,
        unresolved_links: walker.unresolved,
    })
}

/// Second pass over a blob already walked (and verified) by [`walk`]: reads the targets of
/// its unresolved hardlinks and captures them under the links' paths. Only layers with such
/// links pay for it.
pub fn resolve_links<R: Read, C: Capture>(
    blob: R,
    capture: &C,
    limits: &Limits,
    walk: &mut LayerWalk<C::Fact>,
) -> Result<(), WalkError> {
    if walk.unresolved_links.is_empty() {
        return Ok(());
    }
    let mut wanted: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, target) in std::mem::take(&mut walk.unresolved_links) {
        wanted.entry(target).or_default().push(i);
    }
    // The first pass already counted these bytes against the image total.
    let limits = Limits {
        total_used: Default::default(),
        ..limits.clone()
    };
    let decoded = decode(blob, &limits, Algorithm::Sha256, Algorithm::Sha256)?;
    let mut archive = tar::Archive::new(targuard::TarGuard::new(decoded));
    let entries = archive.entries().map_err(WalkError::Io)?;
    for entry in entries {
        if wanted.is_empty() {
            break;
        }
        let mut entry = entry.map_err(WalkError::Io)?;
        let regular = matches!(
            entry.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        );
        let Ok(Some(path)) = normalize(&entry.path_bytes()) else {
            continue;
        };
        if !regular {
            continue;
        }
        let Some(links) = wanted.remove(&path) else { continue };
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_LINKED_READ + 1)
            .read_to_end(&mut bytes)
            .map_err(WalkError::Io)?;
        for i in links {
            let Some(Change::Add(node)) = walk.changes.get_mut(i) else {
                continue;
            };
            let cap = capture.wants(&node.path).unwrap_or(0);
            if bytes.len() as u64 > cap {
                let e = capture.too_large(&node.path, bytes.len() as u64, cap);
                if e.fatal {
                    return Err(WalkError::Capture {
                        path: node.path.clone(),
                        message: e.message,
                    });
                }
                walk.warnings.push(format!("`{}`: {}", node.path, e.message));
                continue;
            }
            match capture.capture(&node.path, &bytes) {
                Ok(f) => node.fact = Some(f),
                Err(e) if e.fatal => {
                    return Err(WalkError::Capture {
                        path: node.path.clone(),
                        message: e.message,
                    });
                }
                Err(e) => walk.warnings.push(format!("`{}`: {}", node.path, e.message)),
            }
        }
    }
    for (target, links) in wanted {
        for i in links {
            if let Some(Change::Add(n)) = walk.changes.get(i) {
                walk.warnings.push(format!(
                    "`{}`: hardlink to `{target}`, which is not in this layer",
                    n.path
                ));
            }
        }
    }
    Ok(())
}

/// The most a hardlink target is read in the second pass; the link's own cap then applies.
const MAX_LINKED_READ: u64 = 64 << 20;

enum EntryError {
    Walk(WalkError),
    Io(io::Error, String),
}

struct Walker<'c, C: Capture> {
    capture: &'c C,
    changes: Vec<Change<C::Fact>>,
    warnings: Vec<String>,
    /// Index into `changes` of each captured file, so a hardlink to it gets the same fact.
    captured: HashMap<String, usize>,
    unresolved: Vec<(usize, String)>,
}

impl<C: Capture> Walker<'_, C> {
    /// Records one tar entry; returns its path for error messages.
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<Option<String>, EntryError> {
        let raw_path = entry.path_bytes().into_owned();
        let path = match normalize(&raw_path) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None), // the root directory itself
            Err(reason) => {
                return Err(EntryError::Walk(WalkError::BadPath {
                    path: String::from_utf8_lossy(&raw_path).into_owned(),
                    reason,
                }));
            }
        };
        if std::str::from_utf8(&raw_path).is_err() {
            self.warnings.push(format!(
                "`{path}`: file name is not valid UTF-8; shown with replacement characters"
            ));
        }

        // Whiteouts are markers, not files.
        let (parent, base) = match path.rsplit_once('/') {
            Some((p, b)) => (p, b),
            None => ("", path.as_str()),
        };
        if let Some(hidden) = base.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                self.changes.push(Change::Opaque(parent.to_string()));
            } else if !hidden.starts_with(".wh.") && !hidden.is_empty() {
                let target = if parent.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{parent}/{hidden}")
                };
                self.changes.push(Change::Whiteout(target));
            }
            // Other `.wh..wh.*` names are aufs bookkeeping with no meaning in an image.
            return Ok(Some(path));
        }

        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => NodeKind::File {
                size: entry.size(),
                mode: header.mode().unwrap_or(0o644),
            },
            tar::EntryType::Directory => NodeKind::Dir,
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                NodeKind::Symlink { target }
            }
            tar::EntryType::Link => {
                let raw_target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                match normalize(&raw_target) {
                    Ok(Some(target)) => NodeKind::Hardlink { target },
                    Ok(None) | Err(_) => {
                        return Err(EntryError::Walk(WalkError::BadPath {
                            path: format!("{path} -> {}", String::from_utf8_lossy(&raw_target)),
                            reason: "hardlink target escapes the image root",
                        }));
                    }
                }
            }
            // Devices and FIFOs carry no content a gate looks at.
            _ => return Ok(Some(path)),
        };

        let fact = match &kind {
            NodeKind::File { size, .. } => match self.capture.wants(&path) {
                Some(cap) if *size > cap => {
                    let e = self.capture.too_large(&path, *size, cap);
                    if e.fatal {
                        return Err(EntryError::Walk(WalkError::Capture {
                            path,
                            message: e.message,
                        }));
                    }
                    self.warnings.push(format!("`{path}`: {}", e.message));
                    None
                }
                Some(cap) => {
                    let mut bytes = Vec::with_capacity(*size as usize);
                    (&mut entry)
                        .take(cap + 1)
                        .read_to_end(&mut bytes)
                        .map_err(|e| EntryError::Io(e, path.clone()))?;
                    match self.capture.capture(&path, &bytes) {
                        Ok(f) => Some(f),
                        Err(e) if e.fatal => {
                            return Err(EntryError::Walk(WalkError::Capture {
                                path,
                                message: e.message,
                            }));
                        }
                        Err(e) => {
                            self.warnings.push(format!("`{path}`: {}", e.message));
                            None
                        }
                    }
                }
                None => None,
            },
            NodeKind::Hardlink { target } if self.capture.wants(&path).is_some() => {
                let linked = self.captured.get(target).and_then(|&i| match &self.changes[i] {
                    Change::Add(n) => n.fact.clone(),
                    _ => None,
                });
                if linked.is_none() {
                    self.unresolved.push((self.changes.len(), target.clone()));
                }
                linked
            }
            _ => None,
        };
        if fact.is_some() {
            self.captured.insert(path.clone(), self.changes.len());
        }
        self.changes.push(Change::Add(Node {
            path: path.clone(),
            kind,
            fact,
        }));
        Ok(Some(path))
    }
}

/// Normalizes a tar entry name to `a/b/c`. `./` and empty components are dropped; absolute
/// names and `..` are refused, since a layer that names them is either broken or hostile.
pub fn normalize(raw: &[u8]) -> Result<Option<String>, &'static str> {
    if raw.first() == Some(&b'/') {
        return Err("absolute path in a layer");
    }
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("path climbs out of the image root with `..`"),
            p => {
                if p.contains('\0') {
                    return Err("NUL byte in a path");
                }
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(p);
            }
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_strips_dot_prefix_and_trailing_slash() {
        assert_eq!(normalize(b"./etc/passwd").unwrap().as_deref(), Some("etc/passwd"));
        assert_eq!(normalize(b"usr/lib//x/").unwrap().as_deref(), Some("usr/lib/x"));
        assert_eq!(normalize(b"./").unwrap(), None);
    }

    #[test]
    fn normalize_refuses_escapes() {
        assert!(normalize(b"/etc/passwd").is_err());
        assert!(normalize(b"../../etc/shadow").is_err());
        assert!(normalize(b"a/../../b").is_err());
    }
}
