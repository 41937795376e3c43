//! `db update`: fetch OSV's per-ecosystem dumps, or only the records changed since the last
//! update, and build a new index from them.
//!
//! Nothing half-done is ever read back: a zip is downloaded to a temporary file in the database
//! directory and verified before it is imported, the index is rebuilt by [`IndexBuilder`] (which
//! renames a finished file into place), and the per-URL state (ETags, watermarks) is written with
//! temp + rename too. An update is all or nothing: if one ecosystem fails, the old index stays.
//!
//! The state is trusted only while it describes the index in place (the same [`Meta`]): after a
//! `db import`, a deleted or damaged index, or two updates racing, the next update downloads
//! everything again rather than trusting ETags and watermarks that belong to another index.

use super::db::{self, DbError, ImportReport};
use super::index::{INDEX_FILE, Index, IndexBuilder, IndexError, Meta, Skip};
use crate::http::{Attempt, Http, HttpOptions, Transport, redact, redact_str};
use crate::progress::Progress;
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Url;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// Where OSV publishes its dumps: `<base>/<ecosystem>/all.zip` and `<base>/<ecosystem>/modified_id.csv`.
pub const DEFAULT_BASE: &str = "https://osv-vulnerabilities.storage.googleapis.com";
/// The environment variable naming a mirror of [`DEFAULT_BASE`] (used when no mirror is passed).
pub const MIRROR_ENV: &str = "IMAGEGATE_OSV_MIRROR";
/// The ecosystems `db update` fetches unless told otherwise (OSV's directory names).
pub const DEFAULT_ECOSYSTEMS: [&str; 2] = ["npm", "Alpine"];
/// The per-URL download state, inside the database directory.
/// The pseudo-ecosystem `db update --ecosystem nodejs` fetches: the Node.js security working
/// group's advisories for the runtime itself (`vuln/core/index.json`), which OSV does not carry.
pub const NODEJS: &str = "nodejs";
/// Where the working group publishes that index.
pub const DEFAULT_NODEJS_INDEX: &str = "https://raw.githubusercontent.com/nodejs/security-wg/main/vuln/core/index.json";
/// The environment variable naming a mirror of [`DEFAULT_NODEJS_INDEX`] (used when no URL is passed).
pub const NODEJS_INDEX_ENV: &str = "IMAGEGATE_NODEJS_INDEX";
pub const STATE_FILE: &str = "update-state.json";

/// A single OSV record larger than this is not a record (the largest real ones are ~1 MB).
const MAX_RECORD: u64 = 16 << 20;
/// A `modified_id.csv` line longer than this means the file is not what we think it is.
const MAX_CSV_LINE: usize = 4096;
/// Changed records fetched at once in an incremental update.
const RECORD_CONCURRENCY: usize = 8;
/// Temporary files of crashed runs older than this are removed (a live run is never this old).
const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);
const STATE_VERSION: u32 = 1;

/// How `db update` fetches. [`UpdateOptions::default`] is what the CLI uses.
#[derive(Clone, Debug)]
pub struct UpdateOptions {
    /// OSV ecosystem directory names, e.g. `npm`, `Alpine`.
    pub ecosystems: Vec<String>,
    /// Base URL of a mirror of OSV's bucket. `None`: `$IMAGEGATE_OSV_MIRROR`, else [`DEFAULT_BASE`].
    pub mirror: Option<String>,
    /// URL of the Node.js security WG's `index.json`, fetched when `ecosystems` names
    /// [`NODEJS`]. `None`: `$IMAGEGATE_NODEJS_INDEX`, else [`DEFAULT_NODEJS_INDEX`].
    pub nodejs_index: Option<String>,
    /// Use `modified_id.csv` to fetch only changed records when a previous download allows it.
    pub incremental: bool,
    /// More changed records than this and the full zip is cheaper.
    pub max_incremental: usize,
    /// Attempts per URL, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time, up to `max_backoff`, with jitter.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` asking for longer than this fails at once (the error says how long).
    pub max_retry_after: Duration,
    pub connect_timeout: Duration,
    /// The longest wait for the next bytes of a response (not a limit on the whole download).
    pub read_timeout: Duration,
    /// Draw progress bars on stderr. Defaults to whether stderr is a terminal.
    pub progress: bool,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        UpdateOptions {
            ecosystems: DEFAULT_ECOSYSTEMS.iter().map(|s| s.to_string()).collect(),
            mirror: None,
            nodejs_index: None,
            incremental: true,
            max_incremental: 5000,
            max_attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            progress: io::stderr().is_terminal(),
        }
    }
}

impl UpdateOptions {
    /// The base URL in force: `mirror`, else `$IMAGEGATE_OSV_MIRROR`, else [`DEFAULT_BASE`].
    pub fn base(&self) -> String {
        self.mirror
            .clone()
            .filter(|m| !m.trim().is_empty())
            .or_else(|| std::env::var(MIRROR_ENV).ok().filter(|m| !m.trim().is_empty()))
            .unwrap_or_else(|| DEFAULT_BASE.to_string())
    }

    /// The Node.js index URL in force: `nodejs_index`, else `$IMAGEGATE_NODEJS_INDEX`, else
    /// [`DEFAULT_NODEJS_INDEX`].
    pub fn nodejs_index_url(&self) -> String {
        self.nodejs_index
            .clone()
            .filter(|m| !m.trim().is_empty())
            .or_else(|| std::env::var(NODEJS_INDEX_ENV).ok().filter(|m| !m.trim().is_empty()))
            .unwrap_or_else(|| DEFAULT_NODEJS_INDEX.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("mirror URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("ecosystem {0:?}: not an OSV ecosystem directory name (e.g. `npm`, `Alpine`)")]
    BadEcosystem(String),
    #[error("{url}: HTTP {status} (after {attempts} attempt(s))")]
    Http { url: String, status: String, attempts: u32 },
    #[error("{url}: not found (HTTP 404); does the mirror have this ecosystem? OSV spells them `npm`, `Alpine`")]
    NotFound { url: String },
    #[error("{url}: rate limited, retry after {} (gave up after {attempts} attempts)", retry_after_text(*.retry_after))]
    RateLimited {
        url: String,
        retry_after: Option<u64>,
        attempts: u32,
    },
    #[error("{url}: timed out ({detail}) after {attempts} attempt(s)")]
    Timeout { url: String, detail: String, attempts: u32 },
    #[error("{url}: {detail} (after {attempts} attempt(s))")]
    Network { url: String, detail: String, attempts: u32 },
    #[error("{url}: download cut short, got {got} of {} bytes ({detail}) after {attempts} attempt(s)", expected_text(*.expected))]
    Truncated {
        url: String,
        got: u64,
        expected: Option<u64>,
        detail: String,
        attempts: u32,
    },
    #[error("{url}: the download is unusable ({reason}) after {attempts} attempt(s)")]
    Corrupt { url: String, reason: String, attempts: u32 },
    #[error("{url}: {size} bytes is more than the {limit} bytes allowed for it")]
    TooLarge { url: String, size: u64, limit: u64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("cannot start the network client: {0}")]
    Client(String),
    #[error("`db update` blocks; call it outside an async runtime (or from `spawn_blocking`)")]
    InsideRuntime,
}

fn retry_after_text(s: Option<u64>) -> String {
    s.map_or_else(|| "an unspecified time".to_string(), |s| format!("{s} s"))
}

fn expected_text(e: Option<u64>) -> String {
    e.map_or_else(|| "an unknown number of".to_string(), |e| e.to_string())
}

/// What happened to one ecosystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UpdateStatus {
    /// The whole dump was downloaded; `reason` says why not incrementally.
    Full { reason: String },
    /// Only the records changed since the last update were downloaded.
    Incremental { changed: usize },
    /// The source had nothing new (HTTP 304, or no id in `modified_id.csv` past the watermark).
    NotModified,
}

/// One ecosystem's part of an update.
#[derive(Clone, Debug, Serialize)]
pub struct EcosystemUpdate {
    pub ecosystem: String,
    /// The dump's URL, credentials removed.
    pub url: String,
    pub status: UpdateStatus,
    /// Response body bytes received for this ecosystem (retries and resumed parts included).
    pub bytes: u64,
    pub read: usize,
    pub invalid: usize,
    pub unknown_ecosystem: usize,
    /// The newest `modified` timestamp the index now holds from this source, if known.
    pub newest_modified: Option<String>,
}

/// What `db update` did.
#[derive(Clone, Debug, Serialize)]
pub struct UpdateReport {
    pub ecosystems: Vec<EcosystemUpdate>,
    /// Bytes received in total.
    pub bytes: u64,
    /// Whether a new index was written (not when every source was unchanged).
    pub rebuilt: bool,
    /// Records carried over from the previous index.
    pub kept_from_previous: usize,
    /// The first few problems (skipped records, odd lines), each naming its source.
    pub warnings: Vec<String>,
    /// The index now in place.
    pub meta: Meta,
}

impl fmt::Display for UpdateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.ecosystems {
            let status = match &e.status {
                UpdateStatus::Full { reason } => format!("full download ({reason})"),
                UpdateStatus::Incremental { changed } => format!("incremental, {changed} changed record(s)"),
                UpdateStatus::NotModified => "not modified".to_string(),
            };
            write!(f, "{}: {status}, {} downloaded", e.ecosystem, HumanBytes(e.bytes))?;
            if e.read > 0 {
                write!(f, ", {} record(s) read", e.read)?;
                if e.invalid > 0 {
                    write!(f, ", {} invalid (skipped)", e.invalid)?;
                }
            }
            if let Some(m) = &e.newest_modified {
                write!(f, ", newest {m}")?;
            }
            writeln!(f)?;
        }
        write!(f, "{} downloaded in total; ", HumanBytes(self.bytes))?;
        if self.rebuilt {
            write!(f, "index rebuilt with {} record(s)", self.meta.records)?;
        } else {
            write!(f, "index unchanged, {} record(s)", self.meta.records)?;
        }
        let per: Vec<String> = self.meta.ecosystems.iter().map(|(k, v)| format!("{k} {v}")).collect();
        if !per.is_empty() {
            write!(f, " ({})", per.join(", "))?;
        }
        Ok(())
    }
}

/// Per-URL download state, as kept in [`STATE_FILE`].
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    version: u32,
    /// The index this state was written with; the state is ignored for any other index.
    index: Option<Meta>,
    #[serde(default)]
    urls: BTreeMap<String, UrlState>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct UrlState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
    /// Unix seconds of the last successful fetch (a 304 counts).
    #[serde(default)]
    fetched_at: i64,
    /// For an `all.zip`: the newest `modified` among the records the index has from this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest_modified: Option<String>,
    /// Ids modified exactly at `newest_modified`: a csv line with that time and one of these ids
    /// is not new, any other id with that time is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ids_at_newest: Vec<String>,
}

/// Downloads OSV dumps into the database at `dir`; see the module docs.
pub fn update(dir: &Path, options: &UpdateOptions) -> Result<UpdateReport, UpdateError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(UpdateError::InsideRuntime);
    }
    let base = parse_base(&options.base())?;
    let mut ecosystems: Vec<String> = Vec::new();
    for e in &options.ecosystems {
        check_ecosystem(e)?;
        if !ecosystems.contains(e) {
            ecosystems.push(e.clone());
        }
    }
    if ecosystems.is_empty() {
        return Err(UpdateError::BadEcosystem(String::new()));
    }
    // Not an OSV dump: fetched from its own URL, after the dumps.
    let nodejs = ecosystems.iter().any(|e| e.eq_ignore_ascii_case(NODEJS));
    ecosystems.retain(|e| !e.eq_ignore_ascii_case(NODEJS));
    let nodejs_url = if nodejs {
        Some(parse_base(&options.nodejs_index_url())?)
    } else {
        None
    };
    std::fs::create_dir_all(dir).map_err(|source| UpdateError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    remove_stale_temps(dir);

    let mut warnings = Vec::new();
    let index_path = dir.join(INDEX_FILE);
    let old = if index_path.exists() {
        match Index::open(&index_path) {
            Ok(i) => Some(i),
            Err(e @ IndexError::Corrupt { .. }) => {
                // A damaged index is what an update is for: rebuild it from the sources.
                warnings.push(format!("{e}; rebuilding it"));
                None
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let state_path = dir.join(STATE_FILE);
    let mut state = load_state(&state_path, &mut warnings);
    let trusted = old.as_ref().is_some_and(|i| state.index.as_ref() == Some(i.meta()));
    if !trusted {
        state.urls.clear();
    }

    let fetcher = Fetcher::new(options);
    let mut fetched = Vec::new();
    for eco in &ecosystems {
        fetched.push(fetcher.ecosystem(dir, &base, eco, &state, options, &mut warnings)?);
    }
    if let Some(url) = &nodejs_url {
        fetched.push(fetcher.nodejs(url, &state)?);
    }

    let now = unix_now();
    let mut report = UpdateReport {
        ecosystems: Vec::new(),
        bytes: fetched.iter().map(|f| f.bytes).sum(),
        rebuilt: false,
        kept_from_previous: 0,
        warnings: Vec::new(),
        meta: old.as_ref().map(|i| i.meta().clone()).unwrap_or_default(),
    };
    let rebuild = old.is_none() || fetched.iter().any(|f| !matches!(f.kind, Fetched::NotModified));
    // Indexing a full dump takes seconds after the download bar is gone: say what is happening.
    let line = Progress::stderr(options.progress);
    let mut builder = if rebuild { Some(IndexBuilder::new(dir)?) } else { None };
    if let (Some(builder), Some(old)) = (builder.as_mut(), old.as_ref()) {
        line.show(|| format!("indexing: keeping the old index's {} records", old.stored_records()));
        // The Node.js index's records carry the ecosystem `Node.js`.
        let replaced: Vec<String> = fetched
            .iter()
            .filter(|f| matches!(f.kind, Fetched::Full { .. } | Fetched::Replace { .. }))
            .map(|f| match f.ecosystem.as_str() {
                NODEJS => super::osv::Ecosystem::NodeJs.to_string(),
                e => e.to_string(),
            })
            .collect();
        let replaced: Vec<&str> = replaced.iter().map(String::as_str).collect();
        report.kept_from_previous = copy_old(builder, old, &replaced)?;
    }

    for f in fetched {
        let zip_key = f.zip_url.clone();
        let mut entry = state.urls.get(&zip_key).cloned().unwrap_or_default();
        let mut eco = EcosystemUpdate {
            ecosystem: f.ecosystem.clone(),
            url: f.zip_url.clone(),
            status: UpdateStatus::NotModified,
            bytes: f.bytes,
            read: 0,
            invalid: 0,
            unknown_ecosystem: 0,
            newest_modified: None,
        };
        for (url, v) in &f.validators {
            let s = state.urls.entry(url.clone()).or_default();
            s.etag = v.etag.clone();
            s.last_modified = v.last_modified.clone();
            s.fetched_at = now;
        }
        match f.kind {
            Fetched::NotModified => entry.fetched_at = now,
            Fetched::Full {
                file,
                validators,
                reason,
            } => {
                eco.status = UpdateStatus::Full { reason };
                line.show(|| format!("indexing {}: reading the dates of its records", f.ecosystem));
                let newest = scan_zip(file.path(), &f.zip_url)?;
                let mut imported = ImportReport::default();
                if let Some(builder) = builder.as_mut() {
                    let reader = File::open(file.path()).map_err(|source| UpdateError::Io {
                        path: file.path().to_path_buf(),
                        source,
                    })?;
                    let len = reader.metadata().map(|m| m.len()).unwrap_or(0);
                    db::read_zip(
                        Tracked {
                            inner: BufReader::with_capacity(1 << 16, reader),
                            at: 0,
                            len,
                            line: &line,
                            what: &f.ecosystem,
                        },
                        Path::new(&f.zip_url),
                        builder,
                        &mut imported,
                    )?;
                }
                drop(file);
                eco.read = imported.read;
                eco.invalid = imported.invalid + imported.oversized;
                eco.unknown_ecosystem = imported.unknown_ecosystem;
                warnings.extend(imported.warnings);
                entry = UrlState {
                    etag: validators.etag,
                    last_modified: validators.last_modified,
                    fetched_at: now,
                    newest_modified: newest.newest.map(|t| t.to_string()),
                    ids_at_newest: newest.ids,
                };
            }
            Fetched::Replace { records, validators } => {
                eco.status = UpdateStatus::Full {
                    reason: "the index is one file, always fetched whole".into(),
                };
                if let Some(builder) = builder.as_mut() {
                    for (number, bytes) in &records {
                        eco.read += 1;
                        let outcome = match bytes {
                            Ok(b) => builder.add(b)?,
                            Err(reason) => Err(Skip::Invalid(reason.clone())),
                        };
                        match outcome {
                            Ok(()) => {}
                            Err(Skip::NoKnownEcosystem) => eco.unknown_ecosystem += 1,
                            Err(Skip::Invalid(reason) | Skip::Oversized(reason)) => {
                                eco.invalid += 1;
                                warnings.push(format!("{}: record {number}: skipped, {reason}", f.zip_url));
                            }
                        }
                    }
                }
                entry = UrlState {
                    etag: validators.etag,
                    last_modified: validators.last_modified,
                    fetched_at: now,
                    newest_modified: None,
                    ids_at_newest: Vec::new(),
                };
            }
            Fetched::Incremental { records, newest } => {
                eco.status = UpdateStatus::Incremental { changed: records.len() };
                line.show(|| format!("indexing {}: {} changed records", f.ecosystem, records.len()));
                if let Some(builder) = builder.as_mut() {
                    for (id, bytes) in &records {
                        eco.read += 1;
                        match builder.add(bytes)? {
                            Ok(()) => {}
                            Err(Skip::Invalid(reason)) => {
                                eco.invalid += 1;
                                warnings.push(format!("{}: {id}: skipped, {reason}", f.zip_url));
                            }
                            Err(Skip::NoKnownEcosystem) => eco.unknown_ecosystem += 1,
                            Err(Skip::Oversized(reason)) => {
                                eco.invalid += 1;
                                warnings.push(format!("{}: {id}: skipped, {reason}", f.zip_url));
                            }
                        }
                    }
                }
                entry.newest_modified = Some(newest.newest.to_string());
                entry.ids_at_newest = newest.ids;
            }
        }
        eco.newest_modified = entry.newest_modified.clone();
        state.urls.insert(zip_key, entry);
        report.ecosystems.push(eco);
    }

    if let Some(builder) = builder {
        let mut sources: Vec<String> = report.ecosystems.iter().map(|e| e.url.clone()).collect();
        if let Some(old) = &old {
            for s in &old.meta().sources {
                // A source replaced by a full download of its ecosystem no longer contributes.
                let replaced = report.ecosystems.iter().any(|e| {
                    matches!(e.status, UpdateStatus::Full { .. }) && s.ends_with(&format!("/{}/all.zip", e.ecosystem))
                });
                if !replaced && !sources.contains(s) {
                    sources.push(s.clone());
                }
            }
        }
        line.show(|| "indexing: writing the index".to_string());
        report.meta = builder.finish(sources)?;
        report.rebuilt = true;
    }
    line.clear();
    state.version = STATE_VERSION;
    state.index = Some(report.meta.clone());
    save_state(dir, &state_path, &state)?;
    warnings.truncate(50);
    report.warnings = warnings;
    Ok(report)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn parse_base(base: &str) -> Result<Url, UpdateError> {
    let bad = |reason: &str| UpdateError::BadUrl {
        url: redact_str(base),
        reason: reason.to_string(),
    };
    let url = Url::parse(base.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only http and https are supported"));
    }
    if url.cannot_be_a_base() {
        return Err(bad("not a base URL"));
    }
    Ok(url)
}

fn check_ecosystem(e: &str) -> Result<(), UpdateError> {
    let ok = !e.is_empty()
        && e != "."
        && e != ".."
        && e.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | ' '));
    if ok {
        Ok(())
    } else {
        Err(UpdateError::BadEcosystem(e.to_string()))
    }
}

/// An OSV id is used as a file name in a URL: nothing that could climb out of the directory.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

fn file_url(base: &Url, ecosystem: &str, file: &str) -> Result<Url, UpdateError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| UpdateError::BadUrl {
            url: redact(base),
            reason: "not a base URL".into(),
        })?
        .pop_if_empty()
        .push(ecosystem)
        .push(file);
    Ok(url)
}

fn load_state(path: &Path, warnings: &mut Vec<String>) -> State {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return State::default(),
        Err(e) => {
            warnings.push(format!("{}: {e}; downloading everything", path.display()));
            return State::default();
        }
    };
    match serde_json::from_slice::<State>(&bytes) {
        Ok(s) if s.version == STATE_VERSION => s,
        Ok(_) => State::default(),
        Err(e) => {
            warnings.push(format!("{}: unreadable ({e}); downloading everything", path.display()));
            State::default()
        }
    }
}

fn save_state(dir: &Path, path: &Path, state: &State) -> Result<(), UpdateError> {
    let io_err = |source| UpdateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_vec_pretty(state).map_err(|e| io_err(io::Error::other(e)))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".update-state.")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_err)?;
    tmp.write_all(&json).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

/// Removes temporary files that a killed run left behind (a live run's files are younger).
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = [".download.", ".update-state.", ".advisories."]
            .iter()
            .any(|p| name.starts_with(p))
            && name.ends_with(".tmp");
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        if ours && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The ecosystems a record is listed under, read without parsing the whole record.
#[derive(Deserialize)]
struct Ecosystems {
    #[serde(default)]
    affected: Vec<AffectedEcosystem>,
}
#[derive(Deserialize)]
struct AffectedEcosystem {
    package: Option<PackageEcosystem>,
}
#[derive(Deserialize)]
struct PackageEcosystem {
    #[serde(default)]
    ecosystem: String,
}

/// Whether a record's ecosystem `e` is part of the dump of `dump` (`Alpine` holds `Alpine:v3.20`).
/// A downloaded dump as the import reads it, its position on the progress line.
struct Tracked<'a, R> {
    inner: R,
    at: u64,
    len: u64,
    line: &'a Progress,
    what: &'a str,
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.at = self.at.saturating_add(n as u64);
        self.line.update(|| {
            format!(
                "indexing {}: {} / {} of the dump read",
                self.what,
                HumanBytes(self.at.min(self.len)),
                HumanBytes(self.len)
            )
        });
        Ok(n)
    }
}

impl<R: io::Seek> io::Seek for Tracked<'_, R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        self.at = self.inner.seek(to)?;
        Ok(self.at)
    }
}

fn in_dump(e: &str, dump: &str) -> bool {
    e == dump || (!dump.contains(':') && e.strip_prefix(dump).is_some_and(|rest| rest.starts_with(':')))
}

/// Copies the old index's records, except those a fresh full dump replaces (so records that
/// left the dump leave the index too).
fn copy_old(builder: &mut IndexBuilder, old: &Index, replaced: &[&str]) -> Result<usize, IndexError> {
    if replaced.is_empty() {
        return builder.add_index(old);
    }
    let mut kept = 0;
    for i in 0..old.stored_records() {
        let raw = old.raw(i)?;
        let covered = serde_json::from_slice::<Ecosystems>(raw).is_ok_and(|r| {
            let mut ecos = r.affected.iter().filter_map(|a| a.package.as_ref()).peekable();
            ecos.peek().is_some() && ecos.all(|p| replaced.iter().any(|d| in_dump(&p.ecosystem, d)))
        });
        if !covered && builder.add(raw)?.is_ok() {
            kept += 1;
        }
    }
    Ok(kept)
}

struct Newest {
    newest: Option<jiff::Timestamp>,
    ids: Vec<String>,
}

/// Reads the `id` and `modified` of every record of a downloaded zip: the watermark from which
/// a later update can go incremental. Damaged entries are left to the import to report.
fn scan_zip(path: &Path, shown: &str) -> Result<Newest, UpdateError> {
    #[derive(Deserialize)]
    struct IdModified {
        id: Option<String>,
        modified: Option<String>,
    }
    let file = File::open(path).map_err(|source| UpdateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut archive =
        zip::ZipArchive::new(BufReader::with_capacity(1 << 16, file)).map_err(|e| UpdateError::Corrupt {
            url: shown.to_string(),
            reason: format!("not a zip archive: {e}"),
            attempts: 1,
        })?;
    let mut out = Newest {
        newest: None,
        ids: Vec::new(),
    };
    let mut buf = Vec::new();
    for i in 0..archive.len() {
        {
            // The entry (and its inflate buffers) is dropped before parsing: interleaving the
            // parse's allocations with live ~40 KB decompressor buffers fragments glibc's heap.
            let Ok(mut entry) = archive.by_index(i) else { continue };
            if !entry.is_file() || entry.size() > MAX_RECORD {
                continue;
            }
            buf.clear();
            if (&mut entry).take(MAX_RECORD + 1).read_to_end(&mut buf).is_err() {
                continue;
            }
        }
        let Ok(r) = serde_json::from_slice::<IdModified>(&buf) else {
            continue;
        };
        let (Some(id), Some(Ok(t))) = (r.id, r.modified.map(|m| m.parse::<jiff::Timestamp>())) else {
            continue;
        };
        match out.newest {
            Some(n) if t < n => {}
            Some(n) if t == n => out.ids.push(id),
            _ => {
                out.newest = Some(t);
                out.ids = vec![id];
            }
        }
    }
    Ok(out)
}

/// An ecosystem's downloads, before the index is built.
struct EcoFetch {
    ecosystem: String,
    /// The `all.zip` URL, redacted: the key of its state.
    zip_url: String,
    bytes: u64,
    kind: Fetched,
    /// Validators to remember for URLs other than the zip (the csv).
    validators: Vec<(String, Validators)>,
}

enum Fetched {
    NotModified,
    Full {
        file: tempfile::NamedTempFile,
        validators: Validators,
        reason: String,
    },
    Incremental {
        records: Vec<(String, Vec<u8>)>,
        newest: Watermark,
    },
    /// A source fetched whole into memory (the Node.js index): its records replace the
    /// ecosystem's, one answer per record (a bad record costs that record).
    Replace {
        records: Vec<(u32, Result<Vec<u8>, String>)>,
        validators: Validators,
    },
}

#[derive(Clone, Debug)]
struct Watermark {
    newest: jiff::Timestamp,
    ids: Vec<String>,
}

#[derive(Clone, Debug, Default)]
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Validators {
    fn from_headers(h: &HeaderMap) -> Self {
        let get = |name| {
            h.get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        Validators {
            etag: get(header::ETAG),
            last_modified: get(header::LAST_MODIFIED),
        }
    }

    /// What `If-Range` may carry: a strong ETag, else the Last-Modified date.
    fn for_resume(&self) -> Option<String> {
        match &self.etag {
            Some(e) if !e.starts_with("W/") => Some(e.clone()),
            Some(_) => None,
            None => self.last_modified.clone(),
        }
    }
}

enum Outcome {
    Done(Validators),
    NotModified,
    NotFound,
}

/// Where a response body goes.
trait Sink {
    /// Throws away what was received: a new body starts from the beginning.
    fn reset(&mut self) -> io::Result<()>;
    /// Bytes received so far.
    fn len(&self) -> u64;
    /// Whether a body cut short can be continued with a Range request.
    fn resumable(&self) -> bool {
        false
    }
    /// The most this body may be.
    fn limit(&self) -> Option<u64> {
        None
    }
    /// Takes the next bytes; `Ok(false)` when the sink has read enough.
    fn write(&mut self, chunk: &[u8]) -> io::Result<bool>;
    /// Checks a complete body; an error means "download it again".
    fn verify(&mut self) -> Result<(), String> {
        Ok(())
    }
}

struct FileSink {
    file: tempfile::NamedTempFile,
    len: u64,
}

impl Sink for FileSink {
    fn reset(&mut self) -> io::Result<()> {
        let f = self.file.as_file_mut();
        f.set_len(0)?;
        f.rewind()?;
        self.len = 0;
        Ok(())
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn resumable(&self) -> bool {
        true
    }
    fn write(&mut self, chunk: &[u8]) -> io::Result<bool> {
        self.file.as_file_mut().write_all(chunk)?;
        self.len += chunk.len() as u64;
        Ok(true)
    }
    fn verify(&mut self) -> Result<(), String> {
        // The central directory is at the end: a zip cut short or mangled fails here, before
        // anything is imported.
        let f = self.file.as_file_mut();
        f.rewind().map_err(|e| e.to_string())?;
        zip::ZipArchive::new(BufReader::new(&*f))
            .map(|_| ())
            .map_err(|e| format!("not a zip archive: {e}"))
    }
}

struct MemSink {
    buf: Vec<u8>,
    limit: u64,
}

impl Sink for MemSink {
    fn reset(&mut self) -> io::Result<()> {
        self.buf.clear();
        Ok(())
    }
    fn len(&self) -> u64 {
        self.buf.len() as u64
    }
    fn limit(&self) -> Option<u64> {
        Some(self.limit)
    }
    fn write(&mut self, chunk: &[u8]) -> io::Result<bool> {
        if self.buf.len() as u64 + chunk.len() as u64 > self.limit {
            return Err(io::Error::other(TooLarge));
        }
        self.buf.extend_from_slice(chunk);
        Ok(true)
    }
}

#[derive(Debug)]
struct TooLarge;
impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too large")
    }
}
impl std::error::Error for TooLarge {}

#[derive(Debug, PartialEq, Eq)]
enum CsvEnd {
    Reading,
    /// Reached a line at or before the watermark: everything after it is older.
    Caught,
    TooMany,
    Unusable(String),
}

/// Reads `modified_id.csv` (`<RFC 3339 time>,<id>`, newest first) only as far as the watermark.
struct CsvSink {
    watermark: jiff::Timestamp,
    known_at_watermark: HashSet<String>,
    max: usize,
    partial: Vec<u8>,
    consumed: u64,
    lines: usize,
    ids: Vec<(jiff::Timestamp, String)>,
    seen: HashSet<String>,
    end: CsvEnd,
    bad_lines: Vec<String>,
}

impl CsvSink {
    fn new(watermark: jiff::Timestamp, known: &[String], max: usize) -> Self {
        CsvSink {
            watermark,
            known_at_watermark: known.iter().cloned().collect(),
            max,
            partial: Vec::new(),
            consumed: 0,
            lines: 0,
            ids: Vec::new(),
            seen: HashSet::new(),
            end: CsvEnd::Reading,
            bad_lines: Vec::new(),
        }
    }

    fn line(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.lines += 1;
        let parsed = text
            .split_once(',')
            .and_then(|(t, id)| Some((t.trim().parse::<jiff::Timestamp>().ok()?, id.trim())));
        let Some((t, id)) = parsed else {
            // A first line that is not `time,id` means this is not the file we know (an HTML
            // error page, another format): better the full zip than guesses.
            if self.lines == 1 {
                self.end = CsvEnd::Unusable(format!("first line is not `time,id`: {:.80}", text));
            } else if self.bad_lines.len() < 5 {
                self.bad_lines.push(format!("{text:.80}"));
            }
            return;
        };
        // The bucket-wide csv writes `ecosystem/id`; take the id either way.
        let id = id.rsplit('/').next().unwrap_or(id);
        if t < self.watermark {
            self.end = CsvEnd::Caught;
            return;
        }
        if t == self.watermark && self.known_at_watermark.contains(id) {
            return;
        }
        if !valid_id(id) {
            if self.bad_lines.len() < 5 {
                self.bad_lines.push(format!("{text:.80}"));
            }
            return;
        }
        if self.seen.insert(id.to_string()) {
            self.ids.push((t, id.to_string()));
            if self.ids.len() > self.max {
                self.end = CsvEnd::TooMany;
            }
        }
    }

    /// The last line, when the body ended without a newline.
    fn finish(&mut self) {
        if self.end == CsvEnd::Reading && !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.line(&last);
        }
    }
}

impl Sink for CsvSink {
    fn reset(&mut self) -> io::Result<()> {
        self.partial.clear();
        self.consumed = 0;
        self.lines = 0;
        self.ids.clear();
        self.seen.clear();
        self.end = CsvEnd::Reading;
        self.bad_lines.clear();
        Ok(())
    }
    fn len(&self) -> u64 {
        self.consumed
    }
    fn write(&mut self, chunk: &[u8]) -> io::Result<bool> {
        self.consumed += chunk.len() as u64;
        self.partial.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(nl) = self.partial[start..].iter().position(|&b| b == b'\n') {
            let line = self.partial[start..start + nl].to_vec();
            start += nl + 1;
            self.line(&line);
            if self.end != CsvEnd::Reading {
                return Ok(false);
            }
        }
        self.partial.drain(..start);
        if self.partial.len() > MAX_CSV_LINE {
            self.end = CsvEnd::Unusable("a line is too long".into());
            return Ok(false);
        }
        Ok(true)
    }
}

/// Why one attempt failed.
enum Failure {
    Status {
        status: reqwest::StatusCode,
        retry_after: Option<Duration>,
    },
    Timeout(String),
    Network(String),
    Body {
        got: u64,
        expected: Option<u64>,
        detail: String,
    },
    /// Retry from the start, not resuming (the server would not resume, the data was bad).
    Restart(String),
    Fatal(UpdateError),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Status { status, .. } => {
                status.is_server_error()
                    || *status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || *status == reqwest::StatusCode::REQUEST_TIMEOUT
            }
            Failure::Fatal(_) => false,
            _ => true,
        }
    }

    fn resumable(&self) -> bool {
        !matches!(self, Failure::Restart(_) | Failure::Fatal(_))
    }

    fn into_error(self, url: &str, attempts: u32) -> UpdateError {
        let url = url.to_string();
        match self {
            Failure::Status { status, retry_after } if status == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                UpdateError::RateLimited {
                    url,
                    retry_after: retry_after.map(|d| d.as_secs()),
                    attempts,
                }
            }
            Failure::Status { status, .. } => UpdateError::Http {
                url,
                status: status.to_string(),
                attempts,
            },
            Failure::Timeout(detail) => UpdateError::Timeout { url, detail, attempts },
            Failure::Network(detail) => UpdateError::Network { url, detail, attempts },
            Failure::Body { got, expected, detail } => UpdateError::Truncated {
                url,
                got,
                expected,
                detail,
                attempts,
            },
            Failure::Restart(reason) => UpdateError::Corrupt { url, reason, attempts },
            Failure::Fatal(e) => e,
        }
    }
}

fn request_failure(t: Transport) -> Failure {
    if t.fatal {
        Failure::Fatal(UpdateError::Client(t.detail))
    } else if t.timeout {
        Failure::Timeout(t.detail)
    } else {
        Failure::Network(t.detail)
    }
}

/// The first byte position of a `Content-Range: bytes a-b/n` header.
fn content_range_start(h: &HeaderMap) -> Option<u64> {
    let v = h.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let range = v.trim().strip_prefix("bytes ")?;
    range.split_once('-')?.0.trim().parse().ok()
}

/// One changed record's download: its id, its URL as shown, the bytes received, the outcome.
type RecordFetch = (String, String, u64, Result<(Outcome, Vec<u8>), UpdateError>);

/// Downloads, on the shared [`Http`] client (which owns the retry policy).
struct Fetcher {
    http: Http,
    max_incremental: usize,
    progress: bool,
}

impl Fetcher {
    fn new(o: &UpdateOptions) -> Fetcher {
        Fetcher {
            http: Http::new(HttpOptions {
                connect_timeout: o.connect_timeout,
                read_timeout: o.read_timeout,
                max_attempts: o.max_attempts.max(1),
                backoff: o.backoff,
                max_backoff: o.max_backoff,
                max_retry_after: o.max_retry_after,
                warn_on_retry: true,
            }),
            max_incremental: o.max_incremental,
            progress: o.progress,
        }
    }

    fn bar(&self, len: Option<u64>, template: &str, msg: String) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(msg);
        bar
    }

    /// The Node.js security WG's `index.json`: conditional, retried, capped like a dump, and
    /// parsed before anything is replaced (an index that does not parse keeps the old one).
    fn nodejs(&self, url: &Url, state: &State) -> Result<EcoFetch, UpdateError> {
        let key = redact(url);
        let mut fetch = EcoFetch {
            ecosystem: NODEJS.to_string(),
            zip_url: key.clone(),
            bytes: 0,
            kind: Fetched::NotModified,
            validators: Vec::new(),
        };
        let mut sink = MemSink {
            buf: Vec::new(),
            limit: super::nodejs::MAX_INDEX as u64,
        };
        let bar = self.bar(None, "{msg:>8} {bytes} {bytes_per_sec}", NODEJS.to_string());
        let outcome = self.fetch(url, state.urls.get(&key), &mut sink, &mut fetch.bytes, &bar);
        bar.finish_and_clear();
        match outcome? {
            Outcome::NotModified => {}
            Outcome::NotFound => return Err(UpdateError::NotFound { url: key }),
            Outcome::Done(validators) => {
                let parsed = super::nodejs::parse_index_records(&sink.buf).map_err(|e| UpdateError::Corrupt {
                    url: key.clone(),
                    reason: e.to_string(),
                    attempts: 1,
                })?;
                let records = parsed
                    .into_iter()
                    .map(|(number, r)| {
                        let bytes = r
                            .map_err(|e| e.to_string())
                            .and_then(|a| serde_json::to_vec(&a.to_osv_json()).map_err(|e| e.to_string()));
                        (number, bytes)
                    })
                    .collect();
                fetch.kind = Fetched::Replace { records, validators };
            }
        }
        Ok(fetch)
    }

    /// GETs `url` into `sink`, retrying what a retry can fix.
    fn fetch<S: Sink>(
        &self,
        url: &Url,
        conditional: Option<&UrlState>,
        sink: &mut S,
        bytes: &mut u64,
        bar: &ProgressBar,
    ) -> Result<Outcome, UpdateError> {
        let shown = redact(url);
        let mut validators = Validators::default();
        let mut resume: Option<String> = None;
        self.http.retry(|attempt| {
            let failure = match self.attempt(
                url,
                &shown,
                conditional,
                resume.as_deref(),
                &mut validators,
                sink,
                bytes,
                bar,
            ) {
                Ok(outcome) => return Ok(outcome),
                Err(f) => f,
            };
            // Continue a body cut short where it stopped, if the server can prove it is the
            // same file; otherwise the next attempt starts over.
            resume = if failure.resumable() && sink.resumable() && sink.len() > 0 {
                validators.for_resume()
            } else {
                None
            };
            let retry_after = match &failure {
                Failure::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            let retryable = failure.retryable();
            let error = failure.into_error(&shown, attempt);
            Err(if retryable {
                Attempt::Retry { error, retry_after }
            } else {
                Attempt::Fail(error)
            })
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn attempt<S: Sink>(
        &self,
        url: &Url,
        shown: &str,
        conditional: Option<&UrlState>,
        resume: Option<&str>,
        validators: &mut Validators,
        sink: &mut S,
        bytes: &mut u64,
        bar: &ProgressBar,
    ) -> Result<Outcome, Failure> {
        let io_fatal = |source| {
            Failure::Fatal(UpdateError::Io {
                path: PathBuf::from(shown),
                source,
            })
        };
        let mut headers = HeaderMap::new();
        let resume = resume.and_then(|v| HeaderValue::from_str(v).ok());
        let offset = match resume {
            Some(v) => {
                if let Ok(range) = HeaderValue::from_str(&format!("bytes={}-", sink.len())) {
                    headers.insert(header::RANGE, range);
                }
                headers.insert(header::IF_RANGE, v);
                sink.len()
            }
            None => {
                sink.reset().map_err(io_fatal)?;
                if let Some(c) = conditional {
                    // Values come from a file on disk: skip any that is not a valid header.
                    if let Some(v) = c.etag.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                        headers.insert(header::IF_NONE_MATCH, v);
                    }
                    if let Some(v) = c.last_modified.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                        headers.insert(header::IF_MODIFIED_SINCE, v);
                    }
                }
                0
            }
        };
        let mut resp = self
            .http
            .execute(|c| c.get(url.clone()).headers(headers.clone()))
            .map_err(request_failure)?;
        let status = resp.status();
        let offset = match status.as_u16() {
            200 => {
                if offset > 0 {
                    sink.reset().map_err(io_fatal)?;
                }
                *validators = Validators::from_headers(resp.headers());
                0
            }
            206 if offset > 0 => {
                if content_range_start(resp.headers()) != Some(offset) {
                    return Err(Failure::Restart("the server resumed at another offset".into()));
                }
                offset
            }
            304 if offset == 0 && conditional.is_some() => return Ok(Outcome::NotModified),
            404 | 410 => return Ok(Outcome::NotFound),
            416 if offset > 0 => return Err(Failure::Restart("the server refused to resume".into())),
            _ => {
                return Err(Failure::Status {
                    status,
                    retry_after: crate::http::retry_after(resp.headers()),
                });
            }
        };
        let expected = resp.content_length().map(|l| offset + l);
        if let (Some(total), Some(limit)) = (expected, sink.limit())
            && total > limit
        {
            return Err(Failure::Fatal(UpdateError::TooLarge {
                url: shown.to_string(),
                size: total,
                limit,
            }));
        }
        if let Some(total) = expected {
            bar.set_length(total);
        }
        bar.set_position(offset);
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let chunk = &buf[..n];
                    *bytes += chunk.len() as u64;
                    bar.inc(chunk.len() as u64);
                    match sink.write(chunk) {
                        Ok(true) => {}
                        // Read enough: dropping the response closes the connection.
                        Ok(false) => return Ok(Outcome::Done(validators.clone())),
                        Err(e) if e.get_ref().is_some_and(|i| i.is::<TooLarge>()) => {
                            return Err(Failure::Fatal(UpdateError::TooLarge {
                                url: shown.to_string(),
                                size: sink.len() + chunk.len() as u64,
                                limit: sink.limit().unwrap_or(0),
                            }));
                        }
                        Err(e) => return Err(io_fatal(e)),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if crate::http::io_timed_out(&e) => return Err(Failure::Timeout(crate::http::describe_io(&e))),
                Err(e) => {
                    return Err(Failure::Body {
                        got: sink.len(),
                        expected,
                        detail: crate::http::describe_io(&e),
                    });
                }
            }
        }
        if let Some(total) = expected
            && sink.len() < total
        {
            return Err(Failure::Body {
                got: sink.len(),
                expected,
                detail: "connection closed early".into(),
            });
        }
        sink.verify().map_err(Failure::Restart)?;
        Ok(Outcome::Done(validators.clone()))
    }

    /// Downloads what one ecosystem needs: nothing, the changed records, or the full zip.
    fn ecosystem(
        &self,
        dir: &Path,
        base: &Url,
        eco: &str,
        state: &State,
        options: &UpdateOptions,
        warnings: &mut Vec<String>,
    ) -> Result<EcoFetch, UpdateError> {
        let zip = file_url(base, eco, "all.zip")?;
        let zip_key = redact(&zip);
        let mut fetch = EcoFetch {
            ecosystem: eco.to_string(),
            zip_url: zip_key.clone(),
            bytes: 0,
            kind: Fetched::NotModified,
            validators: Vec::new(),
        };
        let previous = state.urls.get(&zip_key);
        let watermark = previous
            .and_then(|p| p.newest_modified.as_deref())
            .and_then(|m| m.parse::<jiff::Timestamp>().ok());
        let reason = match (watermark, options.incremental) {
            (_, false) => "incremental updates off".to_string(),
            (None, true) => "no previous download to go on from".to_string(),
            (Some(w), true) => {
                let known = previous.map(|p| p.ids_at_newest.as_slice()).unwrap_or(&[]);
                match self.incremental(base, eco, w, known, state, &mut fetch, warnings)? {
                    None => return Ok(fetch),
                    Some(why) => why,
                }
            }
        };

        let tmp = tempfile::Builder::new()
            .prefix(".download.")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|source| UpdateError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        let mut sink = FileSink { file: tmp, len: 0 };
        let bar = self.bar(
            None,
            "{msg:>8} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            eco.to_string(),
        );
        let outcome = self.fetch(&zip, previous, &mut sink, &mut fetch.bytes, &bar);
        bar.finish_and_clear();
        match outcome? {
            Outcome::NotModified => {}
            Outcome::NotFound => return Err(UpdateError::NotFound { url: zip_key }),
            Outcome::Done(validators) => {
                fetch.kind = Fetched::Full {
                    file: sink.file,
                    validators,
                    reason,
                };
            }
        }
        Ok(fetch)
    }

    /// Tries the cheap way. `Ok(None)`: done (records fetched, or nothing new);
    /// `Ok(Some(reason))`: take the full zip, for that reason.
    #[allow(clippy::too_many_arguments)]
    fn incremental(
        &self,
        base: &Url,
        eco: &str,
        watermark: jiff::Timestamp,
        known: &[String],
        state: &State,
        fetch: &mut EcoFetch,
        warnings: &mut Vec<String>,
    ) -> Result<Option<String>, UpdateError> {
        let csv_url = file_url(base, eco, "modified_id.csv")?;
        let csv_key = redact(&csv_url);
        let mut csv = CsvSink::new(watermark, known, self.max_incremental);
        let outcome = self.fetch(
            &csv_url,
            state.urls.get(&csv_key),
            &mut csv,
            &mut fetch.bytes,
            &ProgressBar::hidden(),
        )?;
        let validators = match outcome {
            Outcome::NotModified => return Ok(None),
            Outcome::NotFound => return Ok(Some("the source has no modified_id.csv".into())),
            Outcome::Done(v) => v,
        };
        csv.finish();
        match &csv.end {
            CsvEnd::TooMany => {
                return Ok(Some(format!("more than {} records changed", self.max_incremental)));
            }
            CsvEnd::Unusable(why) => return Ok(Some(format!("modified_id.csv unusable: {why}"))),
            CsvEnd::Reading | CsvEnd::Caught => {}
        }
        for line in &csv.bad_lines {
            warnings.push(format!("{csv_key}: line skipped: {line}"));
        }
        fetch.validators.push((csv_key, validators));
        if csv.ids.is_empty() {
            return Ok(None);
        }
        let mut newest = Watermark {
            newest: watermark,
            ids: known.to_vec(),
        };
        for (t, id) in &csv.ids {
            if *t > newest.newest {
                newest.newest = *t;
                newest.ids.clear();
            }
            if *t == newest.newest {
                newest.ids.push(id.clone());
            }
        }
        let ids: Vec<String> = csv.ids.into_iter().map(|(_, id)| id).collect();
        let records = self.records(base, eco, ids, &mut fetch.bytes, warnings)?;
        fetch.kind = Fetched::Incremental { records, newest };
        Ok(None)
    }

    /// Fetches `<base>/<eco>/<id>.json` for every id, a few at a time.
    fn records(
        &self,
        base: &Url,
        eco: &str,
        ids: Vec<String>,
        bytes: &mut u64,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<(String, Vec<u8>)>, UpdateError> {
        let bar = self.bar(
            Some(ids.len() as u64),
            "{msg:>8} [{bar:30}] {pos}/{len} changed records",
            eco.to_string(),
        );
        let urls = ids
            .into_iter()
            .map(|id| Ok((file_url(base, eco, &format!("{id}.json"))?, id)))
            .collect::<Result<Vec<_>, UpdateError>>()?;
        let next = Mutex::new(urls.into_iter());
        // The first error stops the workers taking more ids.
        let failed = AtomicBool::new(false);
        let done: Mutex<Vec<RecordFetch>> = Mutex::default();
        std::thread::scope(|s| {
            for _ in 0..RECORD_CONCURRENCY {
                s.spawn(|| {
                    while !failed.load(Ordering::Relaxed) {
                        let Some((url, id)) = next.lock().unwrap_or_else(|p| p.into_inner()).next() else {
                            return;
                        };
                        let mut sink = MemSink {
                            buf: Vec::new(),
                            limit: MAX_RECORD,
                        };
                        let mut n = 0;
                        let r = self.fetch(&url, None, &mut sink, &mut n, &ProgressBar::hidden());
                        if r.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        bar.inc(1);
                        let result = r.map(|o| (o, sink.buf));
                        done.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((id, redact(&url), n, result));
                    }
                });
            }
        });
        let mut out = Vec::new();
        for (id, shown, n, result) in done.into_inner().unwrap_or_else(|p| p.into_inner()) {
            *bytes += n;
            match result {
                Ok((Outcome::Done(_), body)) => out.push((id, body)),
                Ok((Outcome::NotFound, _)) => warnings.push(format!(
                    "{shown}: listed in modified_id.csv but not found (HTTP 404); skipped"
                )),
                Ok((Outcome::NotModified, _)) => {}
                Err(e) => return Err(e),
            }
        }
        bar.finish_and_clear();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_queries() {
        let u = Url::parse("https://user:secret@mirror.example/osv/?token=abc").unwrap();
        let shown = redact(&u);
        assert!(!shown.contains("secret") && !shown.contains("user") && !shown.contains("abc"));
        assert_eq!(shown, "https://mirror.example/osv/?…");
        assert_eq!(redact_str("not a url user:pw@host"), "…@host");
    }

    #[test]
    fn builds_urls_under_a_base_with_or_without_a_slash() {
        for base in ["http://h/osv", "http://h/osv/"] {
            let u = file_url(&Url::parse(base).unwrap(), "Alpine", "all.zip").unwrap();
            assert_eq!(u.as_str(), "http://h/osv/Alpine/all.zip");
        }
        assert!(!valid_id("../etc/passwd") && !valid_id("..") && valid_id("GHSA-35jh-r3h4-6jhm"));
        assert!(check_ecosystem("npm/../x").is_err() && check_ecosystem("Alpine").is_ok());
    }

    #[test]
    fn csv_stops_at_the_watermark() {
        let w: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let mut csv = CsvSink::new(w, &["B".to_string()], 10);
        let body = b"2024-03-01T00:00:00Z,A\n2024-01-01T00:00:00Z,B\n2024-01-01T00:00:00Z,C\n2023-12-01T00:00:00Z,D\n2020-01-01T00:00:00Z,E\n";
        // Fed in awkward pieces: lines split across chunks.
        let mut more = true;
        for piece in body.chunks(7) {
            more = csv.write(piece).unwrap();
            if !more {
                break;
            }
        }
        assert!(!more);
        csv.finish();
        assert_eq!(csv.end, CsvEnd::Caught);
        let ids: Vec<&str> = csv.ids.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["A", "C"]);

        let mut html = CsvSink::new(w, &[], 10);
        assert!(!html.write(b"<html>\n").unwrap());
        assert!(matches!(html.end, CsvEnd::Unusable(_)));

        let mut many = CsvSink::new(w, &[], 2);
        many.write(b"2025-01-01T00:00:00Z,npm/A\n2025-01-01T00:00:00Z,B\n2025-01-01T00:00:00Z,C\n")
            .unwrap();
        assert_eq!(many.end, CsvEnd::TooMany);
        assert_eq!(many.ids[0].1, "A");
    }

    #[test]
    fn ecosystem_dumps_cover_their_branches() {
        assert!(in_dump("Alpine:v3.20", "Alpine") && in_dump("npm", "npm"));
        assert!(!in_dump("Alpine:v3.20", "npm") && !in_dump("AlpineX", "Alpine"));
        assert!(!in_dump("Alpine:v3.19", "Alpine:v3.20"));
    }
}
