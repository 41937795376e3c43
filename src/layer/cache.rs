//! The per-layer cache: a layer's walk is a pure function of its uncompressed digest (diff_id)
//! and of the analyzer that read it, so it is stored under those and reused — a re-scan of a
//! registry image downloads only manifest and config, and an audit walks a base layer shared
//! by many tags once.
//!
//! Beside the walks, a whole image's built inventory may be stored under its manifest digest
//! ([`LayerCache::put_doc`]): what a re-scan of an unchanged image reads instead of every walk.
//!
//! Entries are written to a temporary file and renamed into place: readers see a whole entry
//! or none, and parallel scans (parallel CI jobs) never block each other on a lock. Each entry
//! repeats its key and is checked on read; anything unreadable is deleted and walked again.

use super::LayerWalk;
use crate::digest::Digest;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime};

const EXTENSION: &str = "walk";
const BLOB_EXTENSION: &str = "blob";
const DOC_EXTENSION: &str = "doc";
/// Entries larger than this are not read (a real walk is a few MB at most).
const MAX_ENTRY: u64 = 256 << 20;
/// And may not expand past this.
const MAX_DECODED: u64 = 2 << 30;
/// The zstd window entries are written with (2^17 = 128 KB).
const WINDOW_LOG: u32 = 17;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("layer cache {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("layer cache: a walk with unresolved hardlinks is not cached")]
    Unresolved,
}

/// What a file in the cache directory is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Walk,
    /// Something built from a whole image (its inventory), by manifest digest.
    Doc,
    /// A config blob, by digest.
    Blob,
    /// Left by a writer that was killed.
    Temp,
}

/// How much the cache holds (or, from `clean`, held).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheStatus {
    /// Layer walks.
    pub entries: u64,
    /// Walks, config blobs and whole-image inventories.
    pub bytes: u64,
}

pub struct LayerCache {
    dir: PathBuf,
    /// diff_ids being walked by this process, so a second worker waits for the first.
    in_flight: Mutex<HashSet<String>>,
    done: Condvar,
}

#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct Key {
    diff_id: Digest,
    analyzer: String,
    version: String,
}

#[derive(Serialize)]
struct EntryOut<'a, F> {
    key: Key,
    walk: &'a LayerWalk<F>,
}

#[derive(Deserialize)]
struct EntryIn<F> {
    key: Key,
    walk: LayerWalk<F>,
}

#[derive(Serialize)]
struct DocOut<'a, T> {
    key: Key,
    doc: &'a T,
}

#[derive(Deserialize)]
struct DocIn<T> {
    key: Key,
    doc: T,
}

fn key(digest: &Digest, analyzer: &str) -> Key {
    Key {
        diff_id: digest.clone(),
        analyzer: analyzer.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Marks an entry used, for [`LayerCache::clean_unused_for`]; a read-only cache is still a cache.
fn touch(path: &Path) {
    let _ = std::fs::File::options()
        .append(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now()));
}

/// Holds a diff_id for this process until dropped; see [`LayerCache::claim`].
pub struct Claim<'a> {
    cache: &'a LayerCache,
    key: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut set = self.cache.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.key);
        self.cache.done.notify_all();
    }
}

impl LayerCache {
    pub fn new(dir: PathBuf) -> LayerCache {
        LayerCache {
            dir,
            in_flight: Mutex::new(HashSet::new()),
            done: Condvar::new(),
        }
    }

    /// `$IMAGEGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/imagegate/layers`, else
    /// `~/.cache/imagegate/layers`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        var("IMAGEGATE_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("imagegate/layers")))
            .or_else(|| var("HOME").map(|h| h.join(".cache/imagegate/layers")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, diff_id: &Digest, analyzer: &str) -> PathBuf {
        self.entry_path(diff_id, analyzer, EXTENSION)
    }

    fn entry_path(&self, digest: &Digest, analyzer: &str, extension: &str) -> PathBuf {
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        self.dir.join(format!(
            "{}-{}.{}.{}.{extension}",
            digest.algorithm_name(),
            digest.hex(),
            safe(analyzer),
            safe(env!("CARGO_PKG_VERSION"))
        ))
    }

    /// Reads a zstd-compressed JSON entry; `None` on a miss. An entry that cannot be read, or
    /// that `check` refuses, is deleted (and said so).
    fn read_entry<E: DeserializeOwned, T>(&self, path: &Path, check: impl FnOnce(E) -> Result<T, String>) -> Option<T> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("layer cache {}: {e}", path.display());
                return None;
            }
        };
        let read = || -> Result<T, String> {
            if file.metadata().map_err(|e| e.to_string())?.len() > MAX_ENTRY {
                return Err("entry too large".into());
            }
            let decoder = zstd::stream::read::Decoder::new(file.take(MAX_ENTRY)).map_err(|e| e.to_string())?;
            let entry: E =
                serde_json::from_reader(io::BufReader::new(decoder.take(MAX_DECODED))).map_err(|e| e.to_string())?;
            check(entry)
        };
        match read() {
            Ok(value) => {
                touch(path);
                Some(value)
            }
            Err(why) => {
                tracing::warn!("layer cache {}: ignored and removed: {why}", path.display());
                let _ = std::fs::remove_file(path);
                None
            }
        }
    }

    /// Writes `entry` as zstd-compressed JSON to a temporary file renamed to `path`.
    fn write_entry<E: Serialize>(&self, path: &Path, entry: &E) -> Result<(), CacheError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(io_err(&self.dir))?;
        let write = |file: &mut std::fs::File| -> io::Result<()> {
            let mut encoder = zstd::stream::write::Encoder::new(io::BufWriter::new(file), 3)?;
            // A 128 KB window instead of level 3's 2 MB: the reader allocates (and faults in)
            // the window, which for the usual few-KB entry was most of a re-scan's read.
            encoder.window_log(WINDOW_LOG)?;
            serde_json::to_writer(&mut encoder, entry)?;
            encoder.finish()?.flush()
        };
        write(tmp.as_file_mut()).map_err(io_err(tmp.path()))?;
        tmp.persist(path).map_err(|e| CacheError::Io {
            path: path.to_path_buf(),
            source: e.error,
        })?;
        Ok(())
    }

    /// What `analyzer` built from the whole image whose manifest is `manifest` (its
    /// inventory), or `None` on a miss.
    pub fn get_doc<T: DeserializeOwned>(&self, manifest: &Digest, analyzer: &str) -> Option<T> {
        let wanted = key(manifest, analyzer);
        self.read_entry(
            &self.entry_path(manifest, analyzer, DOC_EXTENSION),
            |entry: DocIn<T>| {
                if entry.key != wanted {
                    return Err("the entry is for another image or analyzer".into());
                }
                Ok(entry.doc)
            },
        )
    }

    /// Stores what `analyzer` built from the verified image whose manifest is `manifest`.
    pub fn put_doc<T: Serialize>(&self, manifest: &Digest, analyzer: &str, doc: &T) -> Result<(), CacheError> {
        let entry = DocOut {
            key: key(manifest, analyzer),
            doc,
        };
        self.write_entry(&self.entry_path(manifest, analyzer, DOC_EXTENSION), &entry)
    }

    /// The cached walk, or `None` on a miss. An entry that cannot be read, or whose key is not
    /// the one asked for, is deleted.
    pub fn get<F: DeserializeOwned>(&self, diff_id: &Digest, analyzer: &str) -> Option<LayerWalk<F>> {
        let wanted = key(diff_id, analyzer);
        self.read_entry(&self.path(diff_id, analyzer), |entry: EntryIn<F>| {
            if entry.key != wanted || &entry.walk.diff_id != diff_id {
                return Err("the entry is for another layer or analyzer".into());
            }
            Ok(entry.walk)
        })
    }

    /// Stores a walk (verified by the caller) under its diff_id, atomically.
    pub fn put<F: Serialize>(&self, diff_id: &Digest, analyzer: &str, walk: &LayerWalk<F>) -> Result<(), CacheError> {
        if !walk.unresolved_links.is_empty() {
            return Err(CacheError::Unresolved);
        }
        let entry = EntryOut {
            key: key(diff_id, analyzer),
            walk,
        };
        self.write_entry(&self.path(diff_id, analyzer), &entry)
    }

    /// A small content-addressed blob (an image config) cached earlier, checked against its
    /// digest: a re-scan then asks the registry for nothing but the manifest.
    pub fn get_blob(&self, digest: &Digest) -> Option<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).ok()?;
        if Digest::of(digest.algorithm(), &bytes) == *digest {
            touch(&path);
            return Some(bytes);
        }
        tracing::warn!("layer cache {}: digest mismatch; ignored and removed", path.display());
        let _ = std::fs::remove_file(&path);
        None
    }

    /// Whether a walk of `diff_id` by `analyzer` is stored (not whether it is readable).
    #[must_use]
    pub fn has(&self, diff_id: &Digest, analyzer: &str) -> bool {
        self.stored_size(diff_id, analyzer).is_some()
    }

    /// The size of the stored walk of `diff_id` by `analyzer` (compressed, as on disk): what
    /// reading it back will cost, roughly.
    #[must_use]
    pub fn stored_size(&self, diff_id: &Digest, analyzer: &str) -> Option<u64> {
        std::fs::metadata(self.path(diff_id, analyzer))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Stores a blob under its digest (verified by the caller). One already stored is left
    /// as it is: its name is its digest, and [`Self::get_blob`] checks it on every read.
    pub fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), CacheError> {
        if self.blob_path(digest).is_file() {
            return Ok(());
        }
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(io_err(&self.dir))?;
        tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
        let path = self.blob_path(digest);
        tmp.persist(&path)
            .map_err(|e| CacheError::Io { path, source: e.error })?;
        Ok(())
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!(
            "blob-{}-{}.{BLOB_EXTENSION}",
            digest.algorithm_name(),
            digest.hex()
        ))
    }

    /// Serializes walks of one diff_id within this process: the second caller waits until the
    /// first drops its claim, then finds the walk with [`Self::get`]. Other diff_ids never
    /// wait. Across processes there is no lock: at worst two jobs both walk a layer and both
    /// rename the same content into place.
    pub fn claim(&self, diff_id: &Digest) -> Claim<'_> {
        let key = diff_id.to_string();
        let mut set = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        while set.contains(&key) {
            set = self.done.wait(set).unwrap_or_else(|p| p.into_inner());
        }
        set.insert(key.clone());
        Claim { cache: self, key }
    }

    fn entries(&self) -> Result<Vec<(PathBuf, u64, Kind)>, CacheError> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(CacheError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut out = Vec::new();
        for entry in read.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = match path.extension().and_then(|e| e.to_str()) {
                Some(EXTENSION) => Kind::Walk,
                Some(DOC_EXTENSION) => Kind::Doc,
                Some(BLOB_EXTENSION) => Kind::Blob,
                _ if name.starts_with(".tmp-") => Kind::Temp,
                _ => continue,
            };
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            out.push((path, len, kind));
        }
        Ok(out)
    }

    pub fn status(&self) -> Result<CacheStatus, CacheError> {
        let mut status = CacheStatus::default();
        for (_, len, kind) in self.entries()? {
            match kind {
                Kind::Walk => {
                    status.entries += 1;
                    status.bytes += len;
                }
                Kind::Blob | Kind::Doc => status.bytes += len,
                Kind::Temp => {}
            }
        }
        Ok(status)
    }

    /// Removes every entry (and temporary files left by killed writers).
    pub fn clean(&self) -> Result<CacheStatus, CacheError> {
        self.clean_unused_for(Duration::ZERO)
    }

    /// Removes the entries not used for `age` (a hit marks an entry used), so a nightly audit
    /// can keep the cache to the layers its registry still ships.
    pub fn clean_unused_for(&self, age: Duration) -> Result<CacheStatus, CacheError> {
        let mut removed = CacheStatus::default();
        let now = SystemTime::now();
        for (path, len, kind) in self.entries()? {
            let used = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(now);
            if !age.is_zero() && now.duration_since(used).unwrap_or_default() < age {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) if kind == Kind::Walk => {
                    removed.entries += 1;
                    removed.bytes += len;
                }
                Ok(()) if matches!(kind, Kind::Blob | Kind::Doc) => removed.bytes += len,
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(CacheError::Io { path, source }),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algorithm;
    use crate::inventory::{Collector, Fact};
    use crate::layer::{self, Change, Limits};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_blob_already_stored_is_not_written_again_and_a_bad_one_is_replaced() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path().to_path_buf());
        let bytes = br#"{"schemaVersion":2}"#;
        let digest = Digest::sha256_of(bytes);
        cache.put_blob(&digest, bytes).unwrap();
        let inode = std::fs::metadata(cache.blob_path(&digest)).unwrap().ino();
        // A re-scan puts the manifest it fetched again: the stored file stays as it is.
        cache.put_blob(&digest, bytes).unwrap();
        assert_eq!(std::fs::metadata(cache.blob_path(&digest)).unwrap().ino(), inode);
        assert_eq!(cache.get_blob(&digest).as_deref(), Some(&bytes[..]));
        // A stored blob that no longer matches its name is dropped on read, then stored anew.
        std::fs::write(cache.blob_path(&digest), b"tampered").unwrap();
        assert_eq!(cache.get_blob(&digest), None);
        cache.put_blob(&digest, bytes).unwrap();
        assert_eq!(cache.get_blob(&digest).as_deref(), Some(&bytes[..]));
    }

    /// A real walk: a layer with an apk database and a package.json.
    fn walk() -> LayerWalk<Fact> {
        let mut b = tar::Builder::new(Vec::new());
        let files: [(&str, &[u8]); 2] = [
            (
                "lib/apk/db/installed",
                b"P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\nP:libcrypto3\nV:3.3.2-r0\no:openssl\n\n",
            ),
            (
                "app/node_modules/lodash/package.json",
                br#"{"name":"lodash","version":"4.17.20"}"#,
            ),
        ];
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, data).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        layer::walk(
            &bytes[..],
            &Collector,
            &Limits::default(),
            Algorithm::Sha256,
            Algorithm::Sha256,
        )
        .unwrap()
    }

    fn facts(w: &LayerWalk<Fact>) -> String {
        let nodes: Vec<_> = w
            .changes
            .iter()
            .map(|c| match c {
                Change::Add(n) => format!("{} {:?} {:?}", n.path, n.kind, n.fact),
                other => format!("{other:?}"),
            })
            .collect();
        nodes.join("\n")
    }

    #[test]
    fn a_walk_round_trips_and_misses_for_another_analyzer() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path().join("layers"));
        let w = walk();
        assert!(cache.get::<Fact>(&w.diff_id, "inventory-1").is_none());
        cache.put(&w.diff_id, "inventory-1", &w).unwrap();
        let back: LayerWalk<Fact> = cache.get(&w.diff_id, "inventory-1").unwrap();
        assert_eq!(facts(&back), facts(&w));
        assert!(facts(&back).contains("lodash") && facts(&back).contains("libcrypto3"));
        assert_eq!(
            (back.diff_id, back.uncompressed_size),
            (w.diff_id.clone(), w.uncompressed_size)
        );
        assert!(cache.get::<Fact>(&w.diff_id, "inventory-2").is_none());
        assert!(cache.get::<Fact>(&Digest::sha256_of(b"other"), "inventory-1").is_none());
        assert_eq!(cache.status().unwrap().entries, 1);
        let removed = cache.clean().unwrap();
        assert_eq!(removed.entries, 1);
        assert_eq!(cache.status().unwrap(), CacheStatus::default());
    }

    #[test]
    fn clean_by_age_keeps_what_was_used_recently() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path().to_path_buf());
        let w = walk();
        cache.put(&w.diff_id, "inventory-1", &w).unwrap();
        cache.put(&w.diff_id, "inventory-0", &w).unwrap();
        let old = SystemTime::now() - Duration::from_secs(30 * 24 * 3600);
        for analyzer in ["inventory-1", "inventory-0"] {
            let f = std::fs::File::options()
                .append(true)
                .open(cache.path(&w.diff_id, analyzer))
                .unwrap();
            f.set_modified(old).unwrap();
        }
        // A hit marks the entry used.
        assert!(cache.get::<Fact>(&w.diff_id, "inventory-1").is_some());
        let removed = cache.clean_unused_for(Duration::from_secs(7 * 24 * 3600)).unwrap();
        assert_eq!(removed.entries, 1);
        assert!(cache.get::<Fact>(&w.diff_id, "inventory-1").is_some());
        assert!(cache.get::<Fact>(&w.diff_id, "inventory-0").is_none());
    }

    #[test]
    fn damaged_or_foreign_entries_are_ignored_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path().to_path_buf());
        let w = walk();
        cache.put(&w.diff_id, "inventory-1", &w).unwrap();
        let path = cache.path(&w.diff_id, "inventory-1");
        let good = std::fs::read(&path).unwrap();
        for damaged in [good[..good.len() / 2].to_vec(), b"garbage".to_vec(), Vec::new()] {
            std::fs::write(&path, &damaged).unwrap();
            assert!(cache.get::<Fact>(&w.diff_id, "inventory-1").is_none());
            assert!(!path.exists(), "a damaged entry is removed");
        }
        // A valid entry renamed to another layer's name is not trusted.
        let other = Digest::sha256_of(b"other layer");
        std::fs::write(cache.path(&other, "inventory-1"), &good).unwrap();
        assert!(cache.get::<Fact>(&other, "inventory-1").is_none());
    }

    #[test]
    fn concurrent_writers_never_show_readers_a_partial_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(LayerCache::new(dir.path().to_path_buf()));
        let w = Arc::new(walk());
        cache.put(&w.diff_id, "inventory-1", &w).unwrap();
        let misses = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..50 {
                        cache.put(&w.diff_id, "inventory-1", &w).unwrap();
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..200 {
                    match cache.get::<Fact>(&w.diff_id, "inventory-1") {
                        Some(back) => assert_eq!(facts(&back), facts(&w)),
                        None => {
                            misses.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        });
        assert_eq!(
            misses.load(Ordering::Relaxed),
            0,
            "rename is atomic: never a miss, never garbage"
        );
        assert_eq!(cache.status().unwrap().entries, 1, "no temporary files left behind");
    }

    #[test]
    fn claims_serialize_one_layer_and_not_others() {
        let cache = LayerCache::new(PathBuf::from("/nonexistent"));
        let (a, b) = (Digest::sha256_of(b"a"), Digest::sha256_of(b"b"));
        let inside = AtomicUsize::new(0);
        let max_inside = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let _claim = cache.claim(&a);
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max_inside.fetch_max(now, Ordering::SeqCst);
                    // Another layer is not held up by a claim on `a`.
                    drop(cache.claim(&b));
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(max_inside.load(Ordering::SeqCst), 1);
    }
}
