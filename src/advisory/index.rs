//! The local advisory index: one immutable file, memory-mapped, opened in milliseconds.
//!
//! Layout (little-endian):
//! ```text
//! b"IGDB0001"
//! records   the OSV records as minified JSON, grouped by package: the records of one package
//!           key are contiguous (in key order), so a lookup reads one stretch of the file; a
//!           record affecting several packages is stored once per package
//! table     per stored copy: offset u64, length u32; the first `unique` rows are each live
//!           record once (the id keys post these), the rest the extra copies
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
use std::os::unix::fs::FileExt;
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
    /// Rows of the table that are distinct records (the rest are copies, one per further
    /// package); absent in indexes written before records were grouped by package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unique: Option<u64>,
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

    /// Number of distinct records stored (including, in older indexes, any superseded by a
    /// newer copy): `raw(0..stored_records())` is each of them once.
    pub fn stored_records(&self) -> usize {
        let rows = self.footer.table.1 as usize / 12;
        self.footer.unique.map_or(rows, |u| rows.min(u as usize))
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
            // Only hits are kept: a database of a million packages with no advisories must not
            // hold a million keys (a miss is one more binary search at lookup).
            if !records.is_empty() {
                found.insert(key, records);
            }
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
        // Stored minified, as the fields a record is read into: less to read from disk and to
        // parse on every lookup (unknown fields and whitespace dropped; it parses back the same).
        let bytes = serde_json::to_vec(&record).map_err(|e| self.io(io::Error::other(e)))?;
        let len = u32::try_from(bytes.len()).map_err(|_| self.io(io::Error::other("record over 4 GiB")))?;
        self.out.write_all(&bytes).map_err(|e| self.io(e))?;
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

    /// Writes the index proper — the live records grouped by package, then the tables and
    /// footer — beside the staging file the records were added to, syncs it, and renames it
    /// into place.
    pub fn finish(self, sources: Vec<String>) -> Result<Meta, IndexError> {
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
        // Each live record's row among the distinct ones, in the order they were added.
        let mut row_of: Vec<Option<u32>> = vec![None; self.records.len()];
        let mut packages: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
        for (n, r) in self.records.iter().enumerate() {
            if !live[n] {
                continue;
            }
            row_of[n] = Some(meta.records as u32);
            meta.records += 1;
            for e in &r.ecosystems {
                *meta.ecosystems.entry(e.clone()).or_default() += 1;
            }
            for k in &r.packages {
                packages.entry(k.clone()).or_default().push(n);
            }
        }

        let staging = self.out.into_inner().map_err(|e| IndexError::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        let staged_err = |source| IndexError::Io {
            path: self.tmp.clone(),
            source,
        };
        let file = tempfile::Builder::new()
            .prefix(".advisories.")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|source| IndexError::Io {
                path: self.dir.clone(),
                source,
            })?;
        let tmp = file.path().to_path_buf();
        let out_err = |source| IndexError::Io {
            path: tmp.clone(),
            source,
        };
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(MAGIC).map_err(out_err)?;
        let mut at = MAGIC.len() as u64;

        // The records, package by package; the first copy of each is its distinct row.
        let mut table: Vec<(u64, u32)> = vec![(0, 0); meta.records];
        let mut package_posts: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        let mut buf = Vec::new();
        let mut placed = vec![false; meta.records];
        for (key, numbers) in packages {
            let mut posts = Vec::with_capacity(numbers.len());
            for n in numbers {
                let (r, Some(row)) = (&self.records[n], row_of[n]) else {
                    continue; // only live records are posted
                };
                buf.resize(r.len as usize, 0);
                staging
                    .as_file()
                    .read_exact_at(&mut buf, r.offset)
                    .map_err(staged_err)?;
                out.write_all(&buf).map_err(out_err)?;
                if placed[row as usize] {
                    posts.push(table.len() as u32);
                    table.push((at, r.len));
                } else {
                    placed[row as usize] = true;
                    table[row as usize] = (at, r.len);
                    posts.push(row);
                }
                at += r.len as u64;
            }
            package_posts.insert(key, posts);
        }
        drop(staging);
        let mut ids: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        for (n, r) in self.records.iter().enumerate() {
            let Some(row) = row_of[n] else { continue };
            for id in &r.ids {
                ids.entry(id.as_bytes().to_vec()).or_default().push(row);
            }
        }

        let unique = meta.records as u64;
        let mut table_bytes = Vec::with_capacity(table.len() * 12);
        for (offset, len) in &table {
            table_bytes.extend_from_slice(&offset.to_le_bytes());
            table_bytes.extend_from_slice(&len.to_le_bytes());
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
        let package_entries = encode(package_posts);
        let id_entries = encode(ids);

        let mut place = |len: usize| {
            let s = (at, len as u64);
            at += len as u64;
            s
        };
        let footer = Footer {
            meta: meta.clone(),
            table: place(table_bytes.len()),
            packages: place(package_entries.len()),
            ids: place(id_entries.len()),
            strings: place(strings.len()),
            postings: place(postings.len()),
            unique: Some(unique),
        };
        let footer_json = serde_json::to_vec(&footer).map_err(|e| out_err(io::Error::other(e)))?;
        for part in [
            &table_bytes,
            &package_entries,
            &id_entries,
            &strings,
            &postings,
            &footer_json,
        ] {
            out.write_all(part).map_err(out_err)?;
        }
        out.write_all(&(footer_json.len() as u64).to_le_bytes())
            .map_err(out_err)?;
        out.write_all(END).map_err(out_err)?;
        let file = out.into_inner().map_err(|e| out_err(e.into_error()))?;
        file.as_file().sync_all().map_err(out_err)?;
        let target = self.dir.join(INDEX_FILE);
        file.persist(&target).map_err(|e| IndexError::Io {
            path: target,
            source: e.error,
        })?;
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, packages: &[(&str, &str)]) -> Vec<u8> {
        let affected: Vec<serde_json::Value> = packages
            .iter()
            .map(|(eco, name)| {
                serde_json::json!({
                    "package": {"ecosystem": eco, "name": name},
                    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}],
                    "ecosystem_specific": {"note": "kept"}
                })
            })
            .collect();
        serde_json::to_vec_pretty(&serde_json::json!({
            "id": id,
            "modified": "2024-01-01T00:00:00Z",
            "aliases": [format!("{id}-ALIAS")],
            "details": "some text",
            "affected": affected,
            "credits": [{"name": "not read by imagegate"}]
        }))
        .unwrap()
    }

    fn ids(records: &[Record]) -> Vec<&str> {
        records.iter().map(|r| r.id.as_str()).collect()
    }

    /// The stretch of the file a package's records occupy, or `None` if they are not contiguous.
    fn contiguous(index: &Index, eco: &str, name: &str) -> Option<(usize, usize)> {
        let rows = index.postings(index.footer.packages, &package_key(eco, name)).unwrap();
        let mut spans: Vec<(usize, usize)> = rows
            .iter()
            .map(|&i| {
                let raw = index.raw(i).unwrap();
                let off = raw.as_ptr() as usize - index.map.as_ptr() as usize;
                (off, off + raw.len())
            })
            .collect();
        spans.sort_unstable();
        spans
            .windows(2)
            .all(|w| w[0].1 == w[1].0)
            .then(|| (spans[0].0, spans[spans.len() - 1].1))
    }

    #[test]
    fn records_of_a_package_are_contiguous_minified_and_each_found_once_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = IndexBuilder::new(dir.path()).unwrap();
        // Interleaved on purpose: a, b, a, both, a.
        for (id, pkgs) in [
            ("TEST-1", vec![("npm", "a")]),
            ("TEST-2", vec![("npm", "b")]),
            ("TEST-3", vec![("npm", "a")]),
            ("TEST-4", vec![("npm", "a"), ("npm", "b")]),
            ("TEST-5", vec![("npm", "a")]),
        ] {
            b.add(&record(id, &pkgs)).unwrap().unwrap();
        }
        let meta = b.finish(vec![]).unwrap();
        assert_eq!(meta.records, 5);
        let index = Index::open(&dir.path().join(INDEX_FILE)).unwrap();
        assert_eq!(
            ids(&index.lookup("npm", "a").unwrap()),
            ["TEST-1", "TEST-3", "TEST-4", "TEST-5"]
        );
        assert_eq!(ids(&index.lookup("npm", "b").unwrap()), ["TEST-2", "TEST-4"]);
        assert!(contiguous(&index, "npm", "a").is_some(), "a's records are one stretch");
        assert!(contiguous(&index, "npm", "b").is_some(), "b's records are one stretch");
        assert_eq!(ids(&index.by_id("TEST-4-ALIAS").unwrap()), ["TEST-4"], "one copy by id");
        // Each distinct record once, minified, and it parses to what was added.
        assert_eq!(index.stored_records(), 5);
        for i in 0..index.stored_records() {
            let raw = index.raw(i).unwrap();
            assert!(!raw.contains(&b'\n'), "minified");
            assert!(
                !raw.windows(7).any(|w| w == b"credits"),
                "fields imagegate never reads are dropped"
            );
            let r = index.record(i).unwrap();
            assert_eq!(
                r.affected[0].ecosystem_specific,
                Some(serde_json::json!({"note": "kept"}))
            );
            assert_eq!(r.details.as_deref(), Some("some text"));
        }

        // An update copying this index keeps each record once.
        let dir2 = tempfile::tempdir().unwrap();
        let mut b = IndexBuilder::new(dir2.path()).unwrap();
        assert_eq!(b.add_index(&index).unwrap(), 5);
        assert_eq!(b.finish(vec![]).unwrap().records, 5);
        let copy = Index::open(&dir2.path().join(INDEX_FILE)).unwrap();
        assert_eq!(
            ids(&copy.lookup("npm", "a").unwrap()),
            ["TEST-1", "TEST-3", "TEST-4", "TEST-5"]
        );
    }
}
