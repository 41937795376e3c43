//! The local advisory index: one immutable file, memory-mapped, opened in milliseconds.
//!
//! Layout (little-endian):
//! ```text
//! b"IGDB0001"
//! records   the OSV records as JSON, one after the other
//! table     per record: offset u64, length u32
//! keys      sorted package keys "ecosystem\0name" and id keys (ids and aliases), each an
//!           entry (key offset u64, key length u32, postings offset u64, postings count u32)
//! strings   key bytes
//! postings  u32 record numbers
//! footer    JSON: metadata and section offsets
//! u64       footer length
//! b"IGDBEND1"
//! ```
//! Written to a temporary file beside the index and renamed into place, so a reader sees the
//! old index or the new one, never a mix, and two writers never corrupt it (the last wins).
//! Every offset read from the file is bounds-checked: a damaged file is an error, not a panic.

use super::osv::{Ecosystem, Record};
use memmap2::{Advice, Mmap};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const MAGIC: &[u8; 8] = b"IGDB0001";
const END: &[u8; 8] = b"IGDBEND1";
const ENTRY: usize = 24;
/// Records this close together are prefetched with one call.
const PREFETCH_GAP: usize = 64 << 10;
/// The file name of the index inside the database directory.
pub const INDEX_FILE: &str = "advisories.igdb";

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("advisory database {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("advisory database {path} is damaged ({reason}); rebuild it with `imagegate db update` or `db import`")]
    Corrupt { path: PathBuf, reason: String },
    #[error("advisory database {path}: record {index} is not a valid OSV record: {reason}")]
    Record {
        path: PathBuf,
        index: usize,
        reason: String,
    },
}

/// What the index says about itself.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Meta {
    /// Unix seconds when the index was written.
    pub built_at: i64,
    /// Where the records came from (URLs or paths), most recent first.
    pub sources: Vec<String>,
    /// Live records per ecosystem (`npm`, `Alpine:v3.20`, …).
    pub ecosystems: BTreeMap<String, usize>,
    pub records: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Footer {
    meta: Meta,
    /// Each section as (offset, length in bytes).
    table: (u64, u64),
    packages: (u64, u64),
    ids: (u64, u64),
    strings: (u64, u64),
    postings: (u64, u64),
}

/// An open index.
pub struct Index {
    path: PathBuf,
    map: Mmap,
    footer: Footer,
    /// Postings found by [`Index::prefetch`], reused by the lookups that ask for them.
    prefetched: Mutex<HashMap<Vec<u8>, Vec<usize>>>,
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Tells the kernel how a lookup reads the file, which matters when it is not in the page
/// cache (the first scan after a reboot or a fresh DB restore): records are read at scattered
/// offsets, so a fault there should read that page, not the disk's whole read-ahead window
/// (8 MB here; measured 5 ms per record fault before this); the key tables are small and
/// binary-searched, so they are read in ahead, sequentially. Advice only: failures are ignored.
fn advise(map: &Mmap, footer: &Footer) {
    let sections = [
        footer.table,
        footer.packages,
        footer.ids,
        footer.strings,
        footer.postings,
    ];
    // Records come first, from the magic to the first section.
    let records_end = sections.iter().map(|s| s.0).min().unwrap_or(0) as usize;
    if records_end > MAGIC.len() {
        let _ = map.advise_range(Advice::Random, MAGIC.len(), records_end - MAGIC.len());
    }
    for (off, len) in [footer.table, footer.packages, footer.strings, footer.postings] {
        let _ = map.advise_range(Advice::WillNeed, off as usize, len as usize);
    }
}

/// The package key of an ecosystem and name.
pub fn package_key(ecosystem: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(ecosystem.len() + 1 + name.len());
    k.extend_from_slice(ecosystem.as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

impl Index {
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        let io_err = |source| IndexError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        // SAFETY: imagegate never modifies an index in place: writers build a new file and
        // rename it over the old one, so this mapping keeps the old inode's bytes for as long
        // as we hold it. Another program writing into the file in place could change the
        // bytes under us (or truncate it: reads past the new end would raise SIGBUS). Bytes
        // that change are no worse than a damaged file — every read is bounds-checked and
        // every record parsed as hostile — but SIGBUS would end the process; nothing in a
        // gate's normal operation truncates the index, and this is the one `unsafe` in the
        // crate (the lint denies it elsewhere).
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(io_err)?;
        let corrupt = |reason: &str| IndexError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let n = map.len();
        if n < 24 || &map[..8] != MAGIC || &map[n - 8..] != END {
            return Err(corrupt("not an imagegate index, or cut short"));
        }
        let footer_len = read_u64(&map, n - 16).ok_or_else(|| corrupt("no footer"))? as usize;
        let footer_start = (n - 16)
            .checked_sub(footer_len)
            .ok_or_else(|| corrupt("footer length"))?;
        let footer: Footer =
            serde_json::from_slice(&map[footer_start..n - 16]).map_err(|e| corrupt(&format!("footer: {e}")))?;
        for (name, (off, len)) in [
            ("table", footer.table),
            ("packages", footer.packages),
            ("ids", footer.ids),
            ("strings", footer.strings),
            ("postings", footer.postings),
        ] {
            if off.checked_add(len).is_none_or(|end| end > footer_start as u64) {
                return Err(corrupt(&format!("section {name} out of bounds")));
            }
        }
        advise(&map, &footer);
        Ok(Index {
            path: path.to_path_buf(),
            map,
            footer,
            prefetched: Mutex::default(),
        })
    }

    pub fn meta(&self) -> &Meta {
        &self.footer.meta
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn corrupt(&self, reason: &str) -> IndexError {
        IndexError::Corrupt {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    fn section(&self, (off, len): (u64, u64)) -> &[u8] {
        // Bounds were checked on open.
        &self.map[off as usize..(off + len) as usize]
    }

    /// Number of records stored (including any superseded by a newer copy).
    pub fn stored_records(&self) -> usize {
        self.footer.table.1 as usize / 12
    }

    /// The raw JSON of record `i`.
    pub fn raw(&self, i: usize) -> Result<&[u8], IndexError> {
        let table = self.section(self.footer.table);
        let off = read_u64(table, i * 12).ok_or_else(|| self.corrupt("record table"))?;
        let len = read_u32(table, i * 12 + 8).ok_or_else(|| self.corrupt("record table"))?;
        let end = off
            .checked_add(len as u64)
            .ok_or_else(|| self.corrupt("record bounds"))?;
        if off < 8 || end > self.footer.table.0 {
            return Err(self.corrupt("record out of bounds"));
        }
        Ok(&self.map[off as usize..end as usize])
    }

    /// Asks the kernel to read, all at once, the records these packages will look up. On a
    /// cold page cache the disk then serves them in parallel instead of one fault at a time;
    /// on a warm one it costs the key searches, which the lookups repeat from cache.
    pub fn prefetch<'a>(&self, keys: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut found = HashMap::new();
        for (ecosystem, name) in keys {
            let key = package_key(ecosystem, name);
            let Ok(records) = self.postings(self.footer.packages, &key) else {
                continue;
            };
            for &i in &records {
                if let Ok(raw) = self.raw(i) {
                    let off = raw.as_ptr() as usize - self.map.as_ptr() as usize;
                    ranges.push((off, raw.len()));
                }
            }
            found.insert(key, records);
        }
        // The lookups that follow take these instead of searching the table again.
        self.prefetched.lock().unwrap_or_else(|p| p.into_inner()).extend(found);
        // Neighbouring records in one call: each madvise walks the page cache, which is most of
        // the cost when the file is already cached.
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (off, len) in ranges {
            match merged.last_mut() {
                Some((start, end)) if off <= *end + PREFETCH_GAP => *end = (*end).max(off + len),
                _ => merged.push((off, off + len)),
            }
        }
        for (start, end) in merged {
            let _ = self.map.advise_range(Advice::WillNeed, start, end - start);
        }
    }

    pub fn record(&self, i: usize) -> Result<Record, IndexError> {
        Record::from_json(self.raw(i)?).map_err(|e| IndexError::Record {
            path: self.path.clone(),
            index: i,
            reason: e.to_string(),
        })
    }

    /// Binary search of a key table; returns the record numbers posted under `key`.
    fn postings(&self, table: (u64, u64), key: &[u8]) -> Result<Vec<usize>, IndexError> {
        let entries = self.section(table);
        let strings = self.section(self.footer.strings);
        let postings = self.section(self.footer.postings);
        let count = entries.len() / ENTRY;
        let key_at = |i: usize| -> Result<&[u8], IndexError> {
            let off = read_u64(entries, i * ENTRY).ok_or_else(|| self.corrupt("key table"))? as usize;
            let len = read_u32(entries, i * ENTRY + 8).ok_or_else(|| self.corrupt("key table"))? as usize;
            strings
                .get(off..off.saturating_add(len))
                .ok_or_else(|| self.corrupt("key bytes"))
        };
        let (mut lo, mut hi) = (0, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match key_at(mid)?.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let off = read_u64(entries, mid * ENTRY + 12).ok_or_else(|| self.corrupt("key table"))? as usize;
                    let n = read_u32(entries, mid * ENTRY + 20).ok_or_else(|| self.corrupt("key table"))? as usize;
                    let bytes = postings
                        .get(off..off.saturating_add(n.saturating_mul(4)))
                        .ok_or_else(|| self.corrupt("postings"))?;
                    return Ok(bytes
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
                        .collect());
                }
            }
        }
        Ok(Vec::new())
    }

    /// Records with an `affected[]` entry for this package (`ecosystem` as OSV writes it).
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<Record>, IndexError> {
        let key = package_key(ecosystem, name);
        let known = self
            .prefetched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let postings = match known {
            Some(p) => p,
            None => self.postings(self.footer.packages, &key)?,
        };
        postings.into_iter().map(|i| self.record(i)).collect()
    }

    /// Records whose id, alias or upstream id is `id`.
    pub fn by_id(&self, id: &str) -> Result<Vec<Record>, IndexError> {
        self.postings(self.footer.ids, id.as_bytes())?
            .into_iter()
            .map(|i| self.record(i))
            .collect()
    }
}

/// Why a record was left out of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Not JSON, or not an OSV record.
    Invalid(String),
    /// No `affected` entry in an ecosystem imagegate reads.
    NoKnownEcosystem,
    /// A field longer than any real record has (see [`super::db::oversized`]).
    Oversized(String),
}

/// Writes a new index next to the old one; [`IndexBuilder::finish`] renames it into place.
pub struct IndexBuilder {
    dir: PathBuf,
    tmp: PathBuf,
    /// Deleted on drop unless persisted: a build that did not finish leaves nothing behind.
    out: BufWriter<tempfile::NamedTempFile>,
    written: u64,
    records: Vec<StoredRecord>,
    /// id → (record number, modified), so a newer copy of a record supersedes the older.
    live: HashMap<String, (usize, Option<String>)>,
}

/// Where a record was written, and the keys it is posted under.
struct StoredRecord {
    offset: u64,
    len: u32,
    packages: Vec<Vec<u8>>,
    ids: Vec<String>,
    ecosystems: Vec<String>,
}

impl IndexBuilder {
    pub fn new(dir: &Path) -> Result<IndexBuilder, IndexError> {
        let io_err = |source| IndexError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let file = tempfile::Builder::new()
            .prefix(".advisories.")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(io_err)?;
        let tmp = file.path().to_path_buf();
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(MAGIC).map_err(|source| IndexError::Io {
            path: tmp.clone(),
            source,
        })?;
        Ok(IndexBuilder {
            dir: dir.to_path_buf(),
            tmp,
            out,
            written: MAGIC.len() as u64,
            records: Vec::new(),
            live: HashMap::new(),
        })
    }

    fn io(&self, source: io::Error) -> IndexError {
        IndexError::Io {
            path: self.tmp.clone(),
            source,
        }
    }

    /// Adds one record. Records that cannot be used are reported, not fatal.
    pub fn add(&mut self, bytes: &[u8]) -> Result<Result<(), Skip>, IndexError> {
        let record = match Record::from_json(bytes) {
            Ok(r) => r,
            // By position: serde's message quotes values, and a hostile one is megabytes long.
            Err(super::osv::OsvError::Parse(e)) => {
                return Ok(Err(Skip::Invalid(format!(
                    "not an OSV record: {}",
                    crate::image::json_problem(&e)
                ))));
            }
        };
        if record.id.trim().is_empty() {
            return Ok(Err(Skip::Invalid("empty id".into())));
        }
        if let Some(why) = super::db::oversized(&record) {
            return Ok(Err(Skip::Oversized(why)));
        }
        let mut keys = Vec::new();
        let mut ecosystems = Vec::new();
        for a in &record.affected {
            let Some(p) = &a.package else { continue };
            if matches!(p.ecosystem, Ecosystem::Unknown(_)) || p.name.is_empty() {
                continue;
            }
            let eco = p.ecosystem.to_string();
            keys.push(package_key(&eco, &p.name));
            ecosystems.push(eco);
        }
        if keys.is_empty() {
            return Ok(Err(Skip::NoKnownEcosystem));
        }
        keys.sort();
        keys.dedup();
        ecosystems.sort();
        ecosystems.dedup();
        let mut ids: Vec<String> = std::iter::once(record.id.clone())
            .chain(record.aliases.iter().cloned())
            .chain(record.upstream.iter().cloned())
            .collect();
        ids.sort();
        ids.dedup();

        let number = self.records.len();
        if let Some((_, old_modified)) = self.live.get(&record.id)
            && old_modified.as_deref() > record.modified.as_deref()
        {
            return Ok(Ok(())); // an older copy of a record we already have
        }
        self.live.insert(record.id.clone(), (number, record.modified.clone()));
        let len = u32::try_from(bytes.len()).map_err(|_| self.io(io::Error::other("record over 4 GiB")))?;
        self.out.write_all(bytes).map_err(|e| self.io(e))?;
        self.records.push(StoredRecord {
            offset: self.written,
            len,
            packages: keys,
            ids,
            ecosystems,
        });
        self.written += bytes.len() as u64;
        Ok(Ok(()))
    }

    /// Copies every live record of an existing index (an update merges into what is there).
    pub fn add_index(&mut self, old: &Index) -> Result<usize, IndexError> {
        let mut n = 0;
        for i in 0..old.stored_records() {
            if self.add(old.raw(i)?)?.is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Writes the tables and footer, syncs, and renames the file into place.
    pub fn finish(mut self, sources: Vec<String>) -> Result<Meta, IndexError> {
        let live: Vec<bool> = {
            let mut v = vec![false; self.records.len()];
            for (n, _) in self.live.values() {
                v[*n] = true;
            }
            v
        };
        let mut meta = Meta {
            built_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            sources,
            ..Meta::default()
        };
        let mut packages: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        let mut ids: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        for (n, r) in self.records.iter().enumerate() {
            if !live[n] {
                continue;
            }
            meta.records += 1;
            for e in &r.ecosystems {
                *meta.ecosystems.entry(e.clone()).or_default() += 1;
            }
            for k in &r.packages {
                packages.entry(k.clone()).or_default().push(n as u32);
            }
            for id in &r.ids {
                ids.entry(id.as_bytes().to_vec()).or_default().push(n as u32);
            }
        }

        let mut table = Vec::with_capacity(self.records.len() * 12);
        for r in &self.records {
            table.extend_from_slice(&r.offset.to_le_bytes());
            table.extend_from_slice(&r.len.to_le_bytes());
        }
        let mut strings = Vec::new();
        let mut postings = Vec::new();
        let mut encode = |map: BTreeMap<Vec<u8>, Vec<u32>>| {
            let mut entries = Vec::with_capacity(map.len() * ENTRY);
            for (key, posts) in map {
                entries.extend_from_slice(&(strings.len() as u64).to_le_bytes());
                entries.extend_from_slice(&(key.len() as u32).to_le_bytes());
                entries.extend_from_slice(&(postings.len() as u64).to_le_bytes());
                entries.extend_from_slice(&(posts.len() as u32).to_le_bytes());
                strings.extend_from_slice(&key);
                for p in posts {
                    postings.extend_from_slice(&p.to_le_bytes());
                }
            }
            entries
        };
        let package_entries = encode(packages);
        let id_entries = encode(ids);

        let mut at = self.written;
        let mut place = |len: usize| {
            let s = (at, len as u64);
            at += len as u64;
            s
        };
        let footer = Footer {
            meta: meta.clone(),
            table: place(table.len()),
            packages: place(package_entries.len()),
            ids: place(id_entries.len()),
            strings: place(strings.len()),
            postings: place(postings.len()),
        };
        let footer_json = serde_json::to_vec(&footer).map_err(|e| self.io(io::Error::other(e)))?;
        for part in [&table, &package_entries, &id_entries, &strings, &postings, &footer_json] {
            self.out.write_all(part).map_err(|e| self.io(e))?;
        }
        self.out
            .write_all(&(footer_json.len() as u64).to_le_bytes())
            .map_err(|e| self.io(e))?;
        self.out.write_all(END).map_err(|e| self.io(e))?;
        let tmp = self.tmp;
        let file = self.out.into_inner().map_err(|e| IndexError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        file.as_file().sync_all().map_err(|source| IndexError::Io {
            path: tmp.clone(),
            source,
        })?;
        let target = self.dir.join(INDEX_FILE);
        file.persist(&target).map_err(|e| IndexError::Io {
            path: target,
            source: e.error,
        })?;
        Ok(meta)
    }
}
