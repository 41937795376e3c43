//! The advisory database directory: where it lives, importing OSV dumps (an `all.zip` or a
//! directory of records) into a new index, and reporting its state.

use super::index::{INDEX_FILE, Index, IndexBuilder, IndexError, Meta, Skip};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// A single OSV record larger than this is not a record (the largest real ones are ~1 MB).
const MAX_RECORD: u64 = 16 << 20;

/// Field caps, far above any real record (ids are ~20 characters, `ALPINE-CVE-2024-12345` or
/// `GHSA-xxxx-xxxx-xxxx`; summaries are one line; versions are short) and far below what made
/// a 15-million-character id cost 23 s and most of a gigabyte in `scan --format table`.
pub const MAX_ID_LEN: usize = 128;
pub const MAX_ALIASES: usize = 1_000;
pub const MAX_SUMMARY_LEN: usize = 4 << 10;
pub const MAX_VERSION_LEN: usize = 256;

/// Why a record's fields are too long to be real, if they are. Such a record is skipped at
/// import, counted and named in the import report's warnings.
pub fn oversized(r: &super::osv::Record) -> Option<String> {
    use super::osv::Event;
    let long = |what: &str, len: usize, cap: usize| Some(format!("{what} of {len} bytes (the cap is {cap})"));
    if r.id.len() > MAX_ID_LEN {
        return long("an id", r.id.len(), MAX_ID_LEN);
    }
    let ids = r.aliases.len() + r.upstream.len() + r.related.len();
    if ids > MAX_ALIASES {
        return Some(format!(
            "{ids} aliases, upstream and related ids (the cap is {MAX_ALIASES})"
        ));
    }
    if let Some(id) = r
        .aliases
        .iter()
        .chain(&r.upstream)
        .chain(&r.related)
        .find(|a| a.len() > MAX_ID_LEN)
    {
        return long("an alias", id.len(), MAX_ID_LEN);
    }
    if let Some(summary) = r.summary.as_ref().filter(|s| s.len() > MAX_SUMMARY_LEN) {
        return long("a summary", summary.len(), MAX_SUMMARY_LEN);
    }
    for a in &r.affected {
        let events = a.ranges.iter().flat_map(|range| &range.events).map(|e| match e {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) | Event::Invalid(v) => v,
        });
        if let Some(v) = a.versions.iter().chain(events).find(|v| v.len() > MAX_VERSION_LEN) {
            return long("a version", v.len(), MAX_VERSION_LEN);
        }
    }
    None
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a readable zip archive ({reason}); nothing was imported")]
    Zip { path: PathBuf, reason: String },
    #[error(transparent)]
    NodeJs(#[from] super::nodejs::WgLoadError),
    #[error(
        "no advisory database at {dir}; get one with `imagegate db update`, or `imagegate db import all.zip` on an offline runner"
    )]
    Missing { dir: PathBuf },
}

/// The database directory: `--db`, else `$IMAGEGATE_DB`, else the user's cache directory.
pub fn resolve_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("IMAGEGATE_DB").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("imagegate").join("db")
}

/// Opens the index in `dir`, or says how to get one.
pub fn open(dir: &Path) -> Result<Index, DbError> {
    let path = dir.join(INDEX_FILE);
    if !path.exists() {
        return Err(DbError::Missing { dir: dir.to_path_buf() });
    }
    Ok(Index::open(&path)?)
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub read: usize,
    pub invalid: usize,
    pub unknown_ecosystem: usize,
    /// Records skipped for a field longer than any real record has.
    pub oversized: usize,
    pub kept_from_previous: usize,
    /// The first few problems, each naming the file and entry.
    pub warnings: Vec<String>,
    pub meta: Meta,
}

impl ImportReport {
    fn skip(&mut self, origin: &str, skip: Skip) {
        match skip {
            Skip::Invalid(reason) => {
                self.invalid += 1;
                if self.warnings.len() < 20 {
                    self.warnings.push(format!("{origin}: skipped, {reason}"));
                }
            }
            Skip::NoKnownEcosystem => self.unknown_ecosystem += 1,
            Skip::Oversized(reason) => {
                self.oversized += 1;
                if self.warnings.len() < 20 {
                    self.warnings.push(format!("{origin}: skipped, {reason}"));
                }
            }
        }
    }
}

/// Feeds the OSV records found at `source` (a zip or a directory of `.json` files) to the builder.
/// The Node.js security WG's core advisories (`core/index.json`, a `core/` directory, or a
/// directory holding `core/`) are converted to OSV records first (see [`super::nodejs`]).
pub fn read_source(source: &Path, builder: &mut IndexBuilder, report: &mut ImportReport) -> Result<(), DbError> {
    if let Some(wg) = super::nodejs::locate(source) {
        return read_nodejs(&wg, builder, report);
    }
    let io_err = |source_err| DbError::Io {
        path: source.to_path_buf(),
        source: source_err,
    };
    if source.is_dir() {
        let mut stack = vec![source.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| DbError::Io {
                    path: dir.clone(),
                    source: e,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for path in entries {
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let origin = path.display().to_string();
                    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    if len > MAX_RECORD {
                        report.skip(&origin, Skip::Invalid(format!("{len} bytes is too large for a record")));
                        continue;
                    }
                    let bytes = std::fs::read(&path).map_err(|e| DbError::Io {
                        path: path.clone(),
                        source: e,
                    })?;
                    report.read += 1;
                    if let Err(skip) = builder.add(&bytes)? {
                        report.skip(&origin, skip);
                    }
                }
            }
        }
        return Ok(());
    }
    let file = File::open(source).map_err(io_err)?;
    read_zip(file, source, builder, report)
}

/// Converts and adds the Node.js security WG's core advisories; a record that cannot be read
/// is skipped with a warning, like an OSV record.
fn read_nodejs(
    source: &super::nodejs::WgSource,
    builder: &mut IndexBuilder,
    report: &mut ImportReport,
) -> Result<(), DbError> {
    for (origin, record) in super::nodejs::load(source)? {
        report.read += 1;
        let bytes = record
            .map_err(|e| e.to_string())
            .and_then(|a| serde_json::to_vec(&a.to_osv_json()).map_err(|e| e.to_string()));
        match bytes {
            Ok(bytes) => {
                if let Err(skip) = builder.add(&bytes)? {
                    report.skip(&origin, skip);
                }
            }
            Err(reason) => report.skip(&origin, Skip::Invalid(reason)),
        }
    }
    Ok(())
}

/// Reads every `.json` entry of an OSV zip dump.
///
/// Entries are read raw and inflated with one reused decoder: a new decoder per entry (what
/// `ZipArchive::by_index` does) leaves a ~45 KB allocation per record between the index
/// builder's small long-lived ones, and on the 300,000-record npm dump that fragmented the heap
/// to ~6 GB of RSS (measured with `cargo bench --bench advisory`).
pub fn read_zip<R: Read + io::Seek>(
    reader: R,
    source: &Path,
    builder: &mut IndexBuilder,
    report: &mut ImportReport,
) -> Result<(), DbError> {
    let zip_err = |e: zip::result::ZipError| DbError::Zip {
        path: source.to_path_buf(),
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_err)?;
    let mut inflater = flate2::Decompress::new(false);
    let mut raw = Vec::new();
    let mut bytes = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index_raw(i).map_err(zip_err)?;
        let name = match entry.name() {
            Ok(n) => n.into_owned(),
            Err(e) => {
                report.read += 1;
                report.skip(
                    &format!("{}: entry {i}", source.display()),
                    Skip::Invalid(e.to_string()),
                );
                continue;
            }
        };
        if !entry.is_file() || !name.ends_with(".json") {
            continue;
        }
        let origin = format!("{}:{name}", source.display());
        report.read += 1;
        if entry.size() > MAX_RECORD || entry.compressed_size() > MAX_RECORD {
            report.skip(
                &origin,
                Skip::Invalid(format!("{} bytes is too large for a record", entry.size())),
            );
            continue;
        }
        raw.clear();
        // A damaged entry (bad CRC, broken deflate) costs that record, not the import.
        if let Err(e) = (&mut entry).take(MAX_RECORD + 1).read_to_end(&mut raw) {
            report.skip(&origin, Skip::Invalid(format!("unreadable zip entry: {e}")));
            continue;
        }
        let expected = entry.size() as usize;
        let inflated = match entry.compression() {
            zip::CompressionMethod::Stored => {
                bytes.clear();
                bytes.extend_from_slice(&raw);
                Ok(())
            }
            zip::CompressionMethod::Deflated => inflate(&mut inflater, &raw, expected, &mut bytes),
            other => Err(format!("unsupported compression {other:?}")),
        };
        let checked = inflated.and_then(|()| {
            let mut crc = flate2::Crc::new();
            crc.update(&bytes);
            if bytes.len() != expected || crc.sum() != entry.crc32() {
                Err("size or CRC mismatch (damaged entry)".to_string())
            } else {
                Ok(())
            }
        });
        if let Err(reason) = checked {
            report.skip(&origin, Skip::Invalid(format!("unreadable zip entry: {reason}")));
            continue;
        }
        if let Err(skip) = builder.add(&bytes)? {
            report.skip(&origin, skip);
        }
    }
    Ok(())
}

/// Inflates one raw deflate stream into `out` (cleared first), reusing `inflater`.
fn inflate(inflater: &mut flate2::Decompress, raw: &[u8], expected: usize, out: &mut Vec<u8>) -> Result<(), String> {
    inflater.reset(false);
    out.clear();
    out.reserve(expected.min(MAX_RECORD as usize) + 1);
    loop {
        let consumed = inflater.total_in() as usize;
        let input = raw.get(consumed..).unwrap_or_default();
        if out.len() == out.capacity() {
            if out.len() > MAX_RECORD as usize {
                return Err("expands past the record size limit".into());
            }
            out.reserve(64 << 10);
        }
        let before = (inflater.total_in(), inflater.total_out());
        match inflater.decompress_vec(input, out, flate2::FlushDecompress::Finish) {
            Ok(flate2::Status::StreamEnd) => return Ok(()),
            Ok(_) if (inflater.total_in(), inflater.total_out()) == before && out.len() < out.capacity() => {
                return Err("truncated deflate stream".into());
            }
            Ok(_) => {}
            Err(e) => return Err(format!("corrupt deflate stream: {e}")),
        }
    }
}

/// Imports `sources` into the database at `dir`. Unless `replace`, the records already there
/// are kept (a newer copy of a record replaces an older one). The new index replaces the old
/// one only when everything was read.
pub fn import(dir: &Path, sources: &[PathBuf], replace: bool) -> Result<ImportReport, DbError> {
    let mut report = ImportReport::default();
    let mut builder = IndexBuilder::new(dir)?;
    let mut names: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
    if !replace && dir.join(INDEX_FILE).exists() {
        let old = Index::open(&dir.join(INDEX_FILE))?;
        report.kept_from_previous = builder.add_index(&old)?;
        for s in &old.meta().sources {
            if !names.contains(s) {
                names.push(s.clone());
            }
        }
    }
    for source in sources {
        read_source(source, &mut builder, &mut report)?;
    }
    report.meta = builder.finish(names)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const LODASH: &str = r#"{"id":"GHSA-35jh-r3h4-6jhm","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2021-23337"],
        "affected":[{"package":{"ecosystem":"npm","name":"lodash"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"4.17.21"}]}]}]}"#;
    // Built here, not an advisory: hence the `TEST-` ids.
    const OPENSSL: &str = r#"{"id":"ALPINE-TEST-0001","modified":"2024-01-01T00:00:00Z","upstream":["CVE-TEST-0001"],
        "affected":[{"package":{"ecosystem":"Alpine:v3.20","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.3.2-r1"}]}]}]}"#;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, bytes) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
        buf.into_inner()
    }

    #[test]
    fn imports_a_zip_and_looks_records_up() {
        let dir = tempfile::tempdir().unwrap();
        let zip_path = dir.path().join("all.zip");
        std::fs::write(
            &zip_path,
            zip_of(&[
                ("a.json", LODASH.as_bytes()),
                ("b.json", OPENSSL.as_bytes()),
                ("c.json", b"{not json"),
                (
                    "d.json",
                    br#"{"id":"PYSEC-1","affected":[{"package":{"ecosystem":"PyPI","name":"x"}}]}"#,
                ),
            ]),
        )
        .unwrap();
        let db = dir.path().join("db");
        let report = import(&db, std::slice::from_ref(&zip_path), false).unwrap();
        assert_eq!((report.read, report.invalid, report.unknown_ecosystem), (4, 1, 1));
        assert_eq!(report.meta.records, 2);
        assert_eq!(report.meta.ecosystems.get("Alpine:v3.20"), Some(&1));
        let index = open(&db).unwrap();
        assert_eq!(index.lookup("npm", "lodash").unwrap()[0].id, "GHSA-35jh-r3h4-6jhm");
        assert!(index.lookup("npm", "lodas").unwrap().is_empty());
        assert_eq!(index.lookup("Alpine:v3.20", "openssl").unwrap().len(), 1);
        assert!(index.lookup("Alpine:v3.18", "openssl").unwrap().is_empty());
        assert_eq!(index.by_id("CVE-2021-23337").unwrap()[0].id, "GHSA-35jh-r3h4-6jhm");
        assert_eq!(index.by_id("CVE-TEST-0001").unwrap()[0].id, "ALPINE-TEST-0001");
        // Prefetched lookups answer exactly what plain ones do (hits, misses, unknown keys).
        let fresh = open(&db).unwrap();
        fresh.prefetch([
            ("npm", "lodash"),
            ("npm", "lodas"),
            ("Alpine:v3.20", "openssl"),
            ("x", ""),
        ]);
        for (eco, name) in [
            ("npm", "lodash"),
            ("npm", "lodas"),
            ("Alpine:v3.20", "openssl"),
            ("npm", "other"),
        ] {
            assert_eq!(
                fresh.lookup(eco, name).unwrap(),
                index.lookup(eco, name).unwrap(),
                "{eco} {name}"
            );
        }
        // Only the index is left in the directory: no temporary files.
        let names: Vec<_> = std::fs::read_dir(&db)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(INDEX_FILE)]);
    }

    #[test]
    fn records_with_fields_longer_than_real_ones_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let long = |from: &str, to: String| LODASH.replacen(from, &to, 1);
        let cases = [
            long("GHSA-35jh-r3h4-6jhm", "X".repeat(MAX_ID_LEN + 1)),
            long("CVE-2021-23337", "C".repeat(MAX_ID_LEN + 1)),
            long("4.17.21", "9".repeat(MAX_VERSION_LEN + 1)),
            LODASH.replacen(
                r#""aliases""#,
                &format!(r#""summary":"{}","aliases""#, "s".repeat(MAX_SUMMARY_LEN + 1)),
                1,
            ),
        ];
        for (i, c) in cases.iter().enumerate() {
            std::fs::write(src.join(format!("{i}.json")), c).unwrap();
        }
        std::fs::write(src.join("ok.json"), OPENSSL).unwrap();
        let report = import(&dir.path().join("db"), &[src], false).unwrap();
        assert_eq!((report.read, report.oversized, report.invalid), (5, 4, 0));
        assert_eq!(report.meta.records, 1);
        let text = report.warnings.join("\n");
        for what in [
            "an id of 129",
            "an alias of 129",
            "a version of 257",
            "a summary of 4097",
        ] {
            assert!(text.contains(what), "{what}: {text}");
        }
    }

    #[test]
    fn a_truncated_zip_is_an_error_and_keeps_the_old_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let good = dir.path().join("good.zip");
        std::fs::write(&good, zip_of(&[("a.json", LODASH.as_bytes())])).unwrap();
        import(&db, &[good], true).unwrap();
        let bad = dir.path().join("bad.zip");
        let bytes = zip_of(&[("b.json", OPENSSL.as_bytes())]);
        std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(import(&db, &[bad], true), Err(DbError::Zip { .. })));
        let index = open(&db).unwrap();
        assert_eq!(index.meta().records, 1);
        assert_eq!(index.lookup("npm", "lodash").unwrap().len(), 1);
        assert_eq!(std::fs::read_dir(&db).unwrap().count(), 1);
    }

    #[test]
    fn import_merges_and_newer_records_win() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let a = dir.path().join("a");
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("lodash.json"), LODASH).unwrap();
        import(&db, std::slice::from_ref(&a), false).unwrap();
        let b = dir.path().join("b");
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("openssl.json"), OPENSSL).unwrap();
        let newer = LODASH.replace("2024-01-01", "2025-01-01").replace("4.17.21", "4.17.22");
        std::fs::write(b.join("lodash.json"), newer).unwrap();
        let report = import(&db, &[b], false).unwrap();
        assert_eq!(report.meta.records, 2);
        let index = open(&db).unwrap();
        let lodash = index.lookup("npm", "lodash").unwrap();
        assert_eq!(lodash.len(), 1);
        assert_eq!(lodash[0].modified.as_deref(), Some("2025-01-01T00:00:00Z"));
    }

    #[test]
    fn damaged_index_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let a = dir.path().join("a");
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("lodash.json"), LODASH).unwrap();
        import(&db, &[a], false).unwrap();
        let path = db.join(INDEX_FILE);
        let good = std::fs::read(&path).unwrap();
        for cut in [0, 7, 20, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert!(
                matches!(open(&db), Err(DbError::Index(IndexError::Corrupt { .. }))),
                "cut at {cut}"
            );
        }
        // Flip bytes across the file: every lookup either works or errors.
        for i in (8..good.len() - 16).step_by(7) {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            std::fs::write(&path, &bad).unwrap();
            if let Ok(index) = open(&db) {
                let _ = index.lookup("npm", "lodash");
                let _ = index.by_id("CVE-2021-23337");
            }
        }
    }
}
