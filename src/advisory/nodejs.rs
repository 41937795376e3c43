//! The Node.js runtime's own advisories: the Node.js security working group's `vuln/core`
//! records (<https://github.com/nodejs/security-wg>), and whether one affects an installed
//! Node.js.
//!
//! Official `node:*` images install Node.js from the nodejs.org tarball into `/usr/local`, not
//! through apk or dpkg, so no OS advisory covers it; these records do. One record per file
//! (`core/<n>.json`), or all of them in `core/index.json` keyed by `<n>`:
//!
//! ```json
//! {"cve": ["CVE-2026-21717"], "vulnerable": "20.x || 22.x || 24.x || 25.x",
//!  "patched": "^20.20.2 || ^22.22.2 || ^24.14.1 || ^25.8.2", "severity": "medium",
//!  "ref": "https://nodejs.org/en/blog/vulnerability/march-2026-security-releases",
//!  "affectedEnvironments": ["all"], "description": "HashDoS in V8", "overview": "…"}
//! ```
//!
//! A version is affected when it satisfies `vulnerable` and does not satisfy `patched`, both
//! node-semver ranges ([`node_semver`](super::node_semver)). `affectedEnvironments` names the
//! platforms (`all`, `linux`, `win32`): a `win32`-only advisory does not affect a Linux image.
//!
//! Names: the WG's README (`vuln/REAMDE.md`) says a core record "is to be referred by its CVE
//! number or as `NSWG-COR-<ID>`", `<ID>` the file number. So a finding is named after its
//! first CVE, lists every CVE, and keeps `NSWG-COR-<n>` as an alias; a record without a CVE is
//! `NSWG-COR-<n>`.
//!
//! # Storage in the advisory index
//!
//! [`CoreAdvisory::to_osv`] turns a record into an OSV-shaped record, so `db import` stores it
//! in the same index, looked up by the same key, with no new file format:
//! - `id` `NSWG-COR-<n>` (unique: two WG records share CVE-2024-27980, and an id must not
//!   collide with another database's `CVE-…` record, which the index would then replace),
//!   `aliases` the CVEs; so the alias fold puts every CVE in the finding, and a policy
//!   ignore can name either;
//! - one `affected` entry for package `node` in ecosystem [`Ecosystem::NodeJs`] (`Node.js`,
//!   our own name: OSV has no ecosystem for the runtime), with no `ranges` and the
//!   original `vulnerable` / `patched` strings and `affectedEnvironments` in its
//!   `database_specific`. OSV's `ECOSYSTEM` ranges cannot say "every 20.x below 20.20.2 and
//!   every 21.x" faithfully without re-deriving the WG's intent; keeping the strings means the
//!   matcher evaluates exactly what the WG wrote ([`affected_osv`], called by
//!   [`matcher::affected`](super::matcher::affected) for the `Node.js` ecosystem);
//! - the WG's `severity` label as `database_specific.severity` (`unknown` left out). The two
//!   records with a CVSS vector keep it as `database_specific.cvss` but not in `severity[]`:
//!   record 40 is `high` by the WG and 5.9 (medium) by its vector, and the WG's judgement is
//!   the one a gate should not undercut;
//! - this is OSV-shaped, not registered OSV: the OSV schema knows neither the `Node.js`
//!   ecosystem nor the `NSWG-` id prefix; the rest of each converted record validates (a test
//!   checks all 171);
//! - `description` → `summary`, `overview` → `details`, `ref` → an `ADVISORY` reference,
//!   `publish_date` → `published`.
//!
//! Every byte is hostile: records over [`MAX_RECORD`] bytes, an index over [`MAX_INDEX`] or
//! with more than [`MAX_RECORDS`] records, a missing or mistyped field, a range that does not
//! parse: each is a [`NodeAdvisoryError`], never a panic. Messages name the record number and
//! field, not their contents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use semver::Version;
use serde::Deserialize;
use serde_json::{Value, json};

use super::node_semver::{self, Range, RangeError};
use super::osv::{Ecosystem, Record};

/// One WG record is under 2 KB; 1 MiB is not a record.
pub const MAX_RECORD: usize = 1 << 20;
/// `core/index.json` is ~200 KB for 171 records.
pub const MAX_INDEX: usize = 64 << 20;
/// Records in one index.
pub const MAX_RECORDS: usize = 100_000;
/// CVEs on one record (the most in the WG's data is 8).
pub const MAX_CVES: usize = 256;
/// The package name the runtime is stored under in the `Node.js` ecosystem.
pub const PACKAGE: &str = crate::inventory::node_runtime::PACKAGE;
/// What `database_specific.source` says on a converted record.
pub const SOURCE: &str = "nodejs/security-wg vuln/core";
/// The platform of the images imagegate reads, as `affectedEnvironments` spells it.
pub const LINUX: &str = "linux";

/// Why a WG record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NodeAdvisoryError {
    #[error("Node.js advisory {what}: {len} bytes is over the {max}-byte limit")]
    TooLarge { what: String, len: usize, max: usize },
    #[error("Node.js advisory {what}: not JSON of the security WG's format ({reason})")]
    Json { what: String, reason: String },
    #[error("Node.js advisory index has more than {MAX_RECORDS} records")]
    TooMany,
    #[error("Node.js advisory index key is not a record number (key {position}, counting from 1)")]
    BadNumber { position: usize },
    #[error("Node.js advisory NSWG-COR-{number}: `{field}` {reason}")]
    Field {
        number: u32,
        field: &'static str,
        reason: &'static str,
    },
    #[error("Node.js advisory NSWG-COR-{number}: `{field}` is not a node-semver range: {source}")]
    Range {
        number: u32,
        field: &'static str,
        source: RangeError,
    },
}

/// The fields of a WG record imagegate reads; the rest are ignored.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    cve: Option<Value>,
    vulnerable: Option<Value>,
    patched: Option<Value>,
    #[serde(default)]
    severity: Option<Value>,
    #[serde(default, rename = "ref")]
    reference: Option<Value>,
    #[serde(default)]
    description: Option<Value>,
    #[serde(default)]
    overview: Option<Value>,
    #[serde(default, rename = "affectedEnvironments")]
    environments: Option<Value>,
    #[serde(default)]
    publish_date: Option<Value>,
    #[serde(default)]
    cvss: Option<Value>,
}

/// One core advisory.
#[derive(Clone, Debug)]
pub struct CoreAdvisory {
    /// The file number (`core/<n>.json`).
    pub number: u32,
    /// `CVE-…` ids, as listed (may be empty).
    pub cves: Vec<String>,
    /// `vulnerable`, as written and parsed.
    pub vulnerable_raw: String,
    pub vulnerable: Range,
    /// `patched`, as written and parsed.
    pub patched_raw: String,
    pub patched: Range,
    /// The WG's label, lower-case (`low`, `medium`, `high`, `critical`); `None` for
    /// `unknown` or absent.
    pub severity: Option<String>,
    /// `ref`: the nodejs.org security release post, usually.
    pub reference: Option<String>,
    pub description: Option<String>,
    pub overview: Option<String>,
    /// `affectedEnvironments` (`all`, `linux`, `win32`); empty when absent.
    pub environments: Vec<String>,
    /// `publish_date` as RFC 3339 (`2018-08-16T00:00:00Z`), on a few records.
    pub published: Option<String>,
    /// A CVSS vector (`CVSS:3.0/…`), on two records.
    pub cvss: Option<String>,
}

/// An installed Node.js that an advisory affects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeMatch {
    /// The first CVE, else `NSWG-COR-<n>`.
    pub id: String,
    /// Every CVE, then `NSWG-COR-<n>`.
    pub ids: Vec<String>,
    /// The lowest patched release on the installed major line above the installed version
    /// ("upgrade Node.js 20.17.0 → 20.20.2"); `None` when the line got no fix (end of life).
    pub fixed_on_line: Option<Version>,
    /// The first patched release of every line `patched` names, ascending.
    pub patched_lines: Vec<Version>,
    pub severity: Option<String>,
    pub reference: Option<String>,
}

fn opt_string(number: u32, field: &'static str, v: Option<Value>) -> Result<Option<String>, NodeAdvisoryError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(NodeAdvisoryError::Field {
            number,
            field,
            reason: "is not a string",
        }),
    }
}

fn string_list(number: u32, field: &'static str, v: Option<Value>) -> Result<Vec<String>, NodeAdvisoryError> {
    let bad = |reason| NodeAdvisoryError::Field { number, field, reason };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            if items.len() > MAX_CVES {
                return Err(bad("has too many entries"));
            }
            items
                .into_iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s),
                    _ => Err(bad("has an entry that is not a string")),
                })
                .collect()
        }
        Some(_) => Err(bad("is not a list")),
    }
}

fn is_cve(s: &str) -> bool {
    let mut parts = s.splitn(3, '-');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("CVE"), Some(year), Some(seq))
            if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit())
                && (4..=12).contains(&seq.len()) && seq.bytes().all(|b| b.is_ascii_digit())
    )
}

impl CoreAdvisory {
    /// Parses one record (`core/<number>.json`).
    ///
    /// # Errors
    ///
    /// [`NodeAdvisoryError`] when it is too large, not JSON, lacks `vulnerable` or `patched`,
    /// has a field of the wrong type or a CVE id that is not one, or a range that does not parse.
    pub fn parse(number: u32, bytes: &[u8]) -> Result<Self, NodeAdvisoryError> {
        let what = || format!("NSWG-COR-{number}");
        if bytes.len() > MAX_RECORD {
            return Err(NodeAdvisoryError::TooLarge {
                what: what(),
                len: bytes.len(),
                max: MAX_RECORD,
            });
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| NodeAdvisoryError::Json {
            what: what(),
            reason: e.to_string(),
        })?;
        Self::from_value(number, value)
    }

    fn from_value(number: u32, value: Value) -> Result<Self, NodeAdvisoryError> {
        let raw: Raw = serde_json::from_value(value).map_err(|e| NodeAdvisoryError::Json {
            what: format!("NSWG-COR-{number}"),
            reason: e.to_string(),
        })?;
        let range = |field: &'static str, v: Option<Value>| -> Result<(String, Range), NodeAdvisoryError> {
            let Some(s) = opt_string(number, field, v)? else {
                return Err(NodeAdvisoryError::Field {
                    number,
                    field,
                    reason: "is missing",
                });
            };
            let parsed = Range::parse(&s).map_err(|source| NodeAdvisoryError::Range { number, field, source })?;
            Ok((s, parsed))
        };
        let (vulnerable_raw, vulnerable) = range("vulnerable", raw.vulnerable)?;
        let (patched_raw, patched) = range("patched", raw.patched)?;
        let cves = string_list(number, "cve", raw.cve)?;
        if !cves.iter().all(|c| is_cve(c)) {
            return Err(NodeAdvisoryError::Field {
                number,
                field: "cve",
                reason: "has an entry that is not a CVE id",
            });
        }
        let severity = opt_string(number, "severity", raw.severity)?
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| matches!(s.as_str(), "low" | "medium" | "high" | "critical"));
        let cvss =
            opt_string(number, "cvss", raw.cvss)?.map(|v| if v.starts_with("CVSS:") { v } else { format!("CVSS:{v}") });
        Ok(Self {
            number,
            cves,
            vulnerable_raw,
            vulnerable,
            patched_raw,
            patched,
            severity,
            reference: opt_string(number, "ref", raw.reference)?,
            description: opt_string(number, "description", raw.description)?,
            overview: opt_string(number, "overview", raw.overview)?,
            environments: string_list(number, "affectedEnvironments", raw.environments)?,
            published: opt_string(number, "publish_date", raw.publish_date)?.and_then(|d| rfc3339_day(&d)),
            cvss,
        })
    }

    /// `NSWG-COR-<n>`, the WG's own name for the record.
    #[must_use]
    pub fn wg_id(&self) -> String {
        format!("NSWG-COR-{}", self.number)
    }

    /// The finding's id: the first CVE, else [`wg_id`](Self::wg_id).
    #[must_use]
    pub fn id(&self) -> String {
        self.cves.first().cloned().unwrap_or_else(|| self.wg_id())
    }

    /// Every CVE, then `NSWG-COR-<n>`.
    #[must_use]
    pub fn ids(&self) -> Vec<String> {
        self.cves.iter().cloned().chain([self.wg_id()]).collect()
    }

    /// Whether the advisory applies on `os` (`linux` for a container image).
    #[must_use]
    pub fn applies_on(&self, os: &str) -> bool {
        applies_on(&self.environments, os)
    }

    /// Whether the advisory affects Node.js `installed` running on `os`; with the fix.
    /// node-semver's rules apply as they are: a prerelease `installed` (`21.0.0-pre`) matches
    /// no `20.x`-style range, so a caller must not read `None` for a prerelease as "safe"
    /// ([`affected_osv`] answers [`OsvMatchError::Prerelease`] instead).
    #[must_use]
    pub fn assess(&self, installed: &Version, os: &str) -> Option<RuntimeMatch> {
        if !self.applies_on(os) || !is_affected(&self.vulnerable, &self.patched, installed) {
            return None;
        }
        let (fixed_on_line, patched_lines) = fixes(&self.patched, installed);
        Some(RuntimeMatch {
            id: self.id(),
            ids: self.ids(),
            fixed_on_line,
            patched_lines,
            severity: self.severity.clone(),
            reference: self.reference.clone(),
        })
    }

    /// The record as an OSV record of ecosystem `Node.js` (see the module documentation).
    #[must_use]
    pub fn to_osv_json(&self) -> Value {
        let mut database_specific = serde_json::Map::new();
        database_specific.insert("source".into(), json!(SOURCE));
        if let Some(s) = &self.severity {
            database_specific.insert("severity".into(), json!(s.to_ascii_uppercase()));
        }
        if let Some(c) = &self.cvss {
            database_specific.insert("cvss".into(), json!(c));
        }
        let mut record = json!({
            "id": self.wg_id(),
            "aliases": self.cves,
            "affected": [{
                "package": {"ecosystem": Ecosystem::NodeJs.to_string(), "name": PACKAGE},
                "database_specific": {
                    "vulnerable": self.vulnerable_raw,
                    "patched": self.patched_raw,
                    "affectedEnvironments": self.environments,
                },
            }],
            "database_specific": database_specific,
        });
        let fields = [
            ("summary", self.description.as_ref()),
            ("details", self.overview.as_ref()),
            ("published", self.published.as_ref()),
        ];
        if let Value::Object(map) = &mut record {
            for (key, value) in fields {
                if let Some(v) = value {
                    map.insert(key.into(), json!(v));
                }
            }
            if let Some(url) = &self.reference {
                map.insert("references".into(), json!([{"type": "ADVISORY", "url": url}]));
            }
        }
        record
    }

    /// [`to_osv_json`](Self::to_osv_json) as a typed record.
    #[must_use]
    pub fn to_osv(&self) -> Record {
        // The JSON built above is always a valid record (it has a string `id`); a failure
        // here would be a bug, answered with a bare record rather than a panic.
        serde_json::from_value(self.to_osv_json()).unwrap_or_else(|_| Record {
            schema_version: None,
            id: self.wg_id(),
            modified: None,
            published: None,
            withdrawn: None,
            aliases: self.cves.clone(),
            upstream: Vec::new(),
            related: Vec::new(),
            summary: None,
            details: None,
            severity: Vec::new(),
            affected: Vec::new(),
            references: Vec::new(),
            database_specific: None,
        })
    }
}

/// `2018-08-16` → `2018-08-16T00:00:00Z` (OSV wants RFC 3339); anything else is dropped.
fn rfc3339_day(d: &str) -> Option<String> {
    let b = d.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape.then(|| format!("{d}T00:00:00Z"))
}

fn applies_on(environments: &[String], os: &str) -> bool {
    // No list: fail closed, it applies.
    environments.is_empty() || environments.iter().any(|e| e == "all" || e == os)
}

/// `vulnerable` satisfied and `patched` not.
#[must_use]
pub fn is_affected(vulnerable: &Range, patched: &Range, installed: &Version) -> bool {
    vulnerable.satisfies(installed) && !patched.satisfies(installed)
}

/// The fix on `installed`'s major line (the lowest first-patched release of a `patched` set
/// on that major, above `installed`), and the first patched release of every line.
#[must_use]
pub fn fixes(patched: &Range, installed: &Version) -> (Option<Version>, Vec<Version>) {
    let lines = patched.set_minimums();
    let on_line = lines
        .iter()
        .filter(|v| v.major == installed.major && v.cmp_precedence(installed) == std::cmp::Ordering::Greater)
        .min_by(|a, b| a.cmp_precedence(b))
        .cloned();
    (on_line, lines)
}

/// Parses `core/index.json`: an object of records keyed by their number. Records come out
/// in ascending number.
///
/// # Errors
///
/// [`NodeAdvisoryError`] when the index is too large, not an object, has too many records or a
/// key that is not a number, or any record fails [`CoreAdvisory::parse`]'s checks.
pub fn parse_index(bytes: &[u8]) -> Result<Vec<CoreAdvisory>, NodeAdvisoryError> {
    parse_index_records(bytes)?.into_iter().map(|(_, r)| r).collect()
}

/// Parses `core/index.json`, one answer per record (so one bad record costs that record, not
/// the import), in ascending number; the key is kept for messages when it is not a number.
///
/// # Errors
///
/// [`NodeAdvisoryError`] when the index as a whole is too large, not a JSON object, or has
/// too many records.
#[allow(clippy::type_complexity)]
pub fn parse_index_records(
    bytes: &[u8],
) -> Result<Vec<(u32, Result<CoreAdvisory, NodeAdvisoryError>)>, NodeAdvisoryError> {
    if bytes.len() > MAX_INDEX {
        return Err(NodeAdvisoryError::TooLarge {
            what: "index".into(),
            len: bytes.len(),
            max: MAX_INDEX,
        });
    }
    let map: BTreeMap<String, Value> = serde_json::from_slice(bytes).map_err(|e| NodeAdvisoryError::Json {
        what: "index".into(),
        reason: e.to_string(),
    })?;
    if map.len() > MAX_RECORDS {
        return Err(NodeAdvisoryError::TooMany);
    }
    let mut out = Vec::with_capacity(map.len());
    for (position, (key, value)) in map.into_iter().enumerate() {
        match parse_number(&key) {
            Some(number) => out.push((number, CoreAdvisory::from_value(number, value))),
            None => out.push((0, Err(NodeAdvisoryError::BadNumber { position: position + 1 }))),
        }
    }
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

/// Where `db import` finds the security WG's core advisories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WgSource {
    /// `core/index.json`: every record in one object.
    Index(PathBuf),
    /// A `core` directory of `<n>.json` files without an index.
    Files(PathBuf),
}

/// Whether `source` is the WG's data: a file named `index.json`, a directory named `core`, or
/// a directory with a `core/` subdirectory (the WG repository's `vuln/`, or a copy of it),
/// holding `index.json` or numbered records. Anything else is left to the OSV reader.
#[must_use]
pub fn locate(source: &Path) -> Option<WgSource> {
    if source.is_file() {
        return (source.file_name()? == "index.json").then(|| WgSource::Index(source.to_path_buf()));
    }
    let core = if source.file_name().is_some_and(|n| n == "core") {
        source.to_path_buf()
    } else if source.join("core").is_dir() {
        source.join("core")
    } else {
        return None;
    };
    let index = core.join("index.json");
    if index.is_file() {
        return Some(WgSource::Index(index));
    }
    // Without an index, only a directory of numbered records is the WG's: a directory of OSV
    // records that happens to be called `core` stays the OSV reader's.
    let numbered = std::fs::read_dir(&core).ok()?.filter_map(Result::ok).any(|e| {
        e.file_name()
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(parse_number)
            .is_some()
    });
    numbered.then_some(WgSource::Files(core))
}

/// Why the WG's data could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum WgLoadError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Index { path: PathBuf, source: NodeAdvisoryError },
}

/// Reads every record at `source`: `(origin, record or why it is unusable)`, in ascending
/// record number. Files are read with caps ([`MAX_INDEX`], [`MAX_RECORD`]); in a `core`
/// directory, only `<n>.json` files are records.
///
/// # Errors
///
/// [`WgLoadError`] when the index or directory cannot be read, or the index as a whole is
/// not the WG's format.
#[allow(clippy::type_complexity)]
pub fn load(source: &WgSource) -> Result<Vec<(String, Result<CoreAdvisory, NodeAdvisoryError>)>, WgLoadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WgLoadError::Io { path, source }
    };
    match source {
        WgSource::Index(path) => {
            let bytes = read_capped(path, MAX_INDEX).map_err(io(path))?;
            let records = parse_index_records(&bytes).map_err(|source| WgLoadError::Index {
                path: path.clone(),
                source,
            })?;
            Ok(records
                .into_iter()
                .map(|(n, r)| (format!("{}: record {n}", path.display()), r))
                .collect())
        }
        WgSource::Files(dir) => {
            let mut numbered = Vec::new();
            for entry in std::fs::read_dir(dir).map_err(io(dir))? {
                let path = entry.map_err(io(dir))?.path();
                let number = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".json"))
                    .and_then(parse_number);
                if let Some(n) = number
                    && path.is_file()
                {
                    numbered.push((n, path));
                }
            }
            if numbered.len() > MAX_RECORDS {
                return Err(WgLoadError::Index {
                    path: dir.clone(),
                    source: NodeAdvisoryError::TooMany,
                });
            }
            numbered.sort();
            let mut out = Vec::with_capacity(numbered.len());
            for (n, path) in numbered {
                let bytes = read_capped(&path, MAX_RECORD).map_err(io(&path))?;
                out.push((path.display().to_string(), CoreAdvisory::parse(n, &bytes)));
            }
            Ok(out)
        }
    }
}

/// Reads at most `cap + 1` bytes (so an oversized file is seen as such, never buffered whole).
fn read_capped(path: &Path, cap: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(cap as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A record number: decimal digits, no sign, no leading zero (`7`, from `7.json`).
#[must_use]
pub fn parse_number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// Whether a converted OSV record (ecosystem `Node.js`, see [`CoreAdvisory::to_osv`]) affects
/// Node.js `version` on Linux. `Ok(None)`: not affected (or withdrawn, or not a `node` record).
/// The fixed versions are the fix on the installed line when there is one, else every later
/// line's first patched release (an end-of-life line is fixed by moving to a newer major).
///
/// # Errors
///
/// A reason string when the installed version is not SemVer, or the record names `node` but
/// its ranges are missing or do not parse: "cannot tell", never "not affected".
pub fn affected_osv(record: &Record, version: &str) -> Result<Option<OsvMatch>, OsvMatchError> {
    if record.is_withdrawn() {
        return Ok(None);
    }
    let installed = node_semver::parse_version(version).map_err(|_| OsvMatchError::Version)?;
    // node-semver keeps prereleases out of `20.x`: a `-pre` or nightly build would match no
    // record at all. Official images ship releases; anything else is "cannot tell".
    if !installed.pre.is_empty() {
        return Err(OsvMatchError::Prerelease);
    }
    let mut matched: Option<OsvMatch> = None;
    for entry in &record.affected {
        let Some(p) = &entry.package else { continue };
        if p.ecosystem != Ecosystem::NodeJs || p.name != PACKAGE {
            continue;
        }
        let specific = entry.database_specific.as_ref();
        let field = |name: &'static str| -> Result<(String, Range), OsvMatchError> {
            let s = specific
                .and_then(|d| d.get(name))
                .and_then(Value::as_str)
                .ok_or(OsvMatchError::Missing(name))?;
            let r = Range::parse(s).map_err(|e| OsvMatchError::Range(name, e))?;
            Ok((s.to_owned(), r))
        };
        let (vulnerable_raw, vulnerable) = field("vulnerable")?;
        let (patched_raw, patched) = field("patched")?;
        let environments: Vec<String> = specific
            .and_then(|d| d.get("affectedEnvironments"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        if !applies_on(&environments, LINUX) || !is_affected(&vulnerable, &patched, &installed) {
            continue;
        }
        let (on_line, lines) = fixes(&patched, &installed);
        let fixed: Vec<String> = match on_line {
            Some(v) => vec![v.to_string()],
            None => lines
                .iter()
                .filter(|v| v.major > installed.major)
                .map(ToString::to_string)
                .collect(),
        };
        matched.get_or_insert(OsvMatch {
            fixed,
            vulnerable: vulnerable_raw,
            patched: patched_raw,
        });
    }
    Ok(matched)
}

/// The id to show for a finding from a converted record: its first CVE alias, else the record
/// id (`NSWG-COR-<n>`). The alias fold ([`fold`](super::matcher::fold)) picks a record id as
/// primary, which for these records is the WG number; the WG names a record by its CVE first.
#[must_use]
pub fn finding_id(record: &Record) -> String {
    record
        .aliases
        .iter()
        .find(|a| is_cve(a))
        .cloned()
        .unwrap_or_else(|| record.id.clone())
}

/// What [`affected_osv`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsvMatch {
    /// Ascending.
    pub fixed: Vec<String>,
    pub vulnerable: String,
    pub patched: String,
}

/// Why [`affected_osv`] could not decide.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OsvMatchError {
    #[error("the installed Node.js version is not a SemVer version")]
    Version,
    #[error("the installed Node.js is a prerelease build, which the security WG's ranges do not cover")]
    Prerelease,
    #[error("`database_specific.{0}` is missing or not a string")]
    Missing(&'static str),
    #[error("`database_specific.{0}` is not a node-semver range: {1}")]
    Range(&'static str, RangeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> String {
        format!("{}/testdata/nodejs-security-wg/core", env!("CARGO_MANIFEST_DIR"))
    }

    fn index() -> Vec<CoreAdvisory> {
        parse_index(&std::fs::read(format!("{}/index.json", dir())).unwrap()).unwrap()
    }

    fn record(n: u32) -> CoreAdvisory {
        let bytes = std::fs::read(format!("{}/{n}.json", dir())).unwrap();
        CoreAdvisory::parse(n, &bytes).unwrap()
    }

    fn v(s: &str) -> Version {
        node_semver::parse_version(s).unwrap()
    }

    #[test]
    fn reads_every_real_record_in_both_forms() {
        let all = index();
        assert_eq!(all.len(), 171);
        assert_eq!(all.first().map(|a| a.number), Some(1));
        assert_eq!(all.last().map(|a| a.number), Some(171));
        for a in &all {
            let single = record(a.number);
            assert_eq!(single.cves, a.cves);
            assert_eq!(single.vulnerable, a.vulnerable);
            assert_eq!(single.patched, a.patched);
            assert_eq!(single.severity, a.severity);
        }
        let with_cve = all.iter().filter(|a| !a.cves.is_empty()).count();
        assert_eq!(with_cve, 157, "14 records have no CVE");
    }

    #[test]
    fn march_2026_hashdos_on_node_20_17_needs_20_20_2() {
        // 171.json: CVE-2026-21717, HashDoS in V8; vulnerable 20.x || 22.x || 24.x || 25.x,
        // patched ^20.20.2 || ^22.22.2 || ^24.14.1 || ^25.8.2.
        let a = record(171);
        let m = a.assess(&v("20.17.0"), LINUX).unwrap();
        assert_eq!(m.id, "CVE-2026-21717");
        assert_eq!(m.ids, ["CVE-2026-21717", "NSWG-COR-171"]);
        assert_eq!(m.fixed_on_line, Some(v("20.20.2")));
        assert_eq!(m.patched_lines, [v("20.20.2"), v("22.22.2"), v("24.14.1"), v("25.8.2")]);
        assert_eq!(m.severity.as_deref(), Some("medium"));
        assert_eq!(
            m.reference.as_deref(),
            Some("https://nodejs.org/en/blog/vulnerability/march-2026-security-releases")
        );
        assert_eq!(
            a.assess(&v("22.22.1"), LINUX).unwrap().fixed_on_line,
            Some(v("22.22.2"))
        );
        assert!(a.assess(&v("20.20.2"), LINUX).is_none(), "the fix itself");
        assert!(a.assess(&v("20.21.0"), LINUX).is_none(), "later on the line");
        assert!(
            a.assess(&v("21.7.3"), LINUX).is_none(),
            "21.x is not listed as vulnerable"
        );
        assert!(a.assess(&v("18.20.8"), LINUX).is_none(), "18.x is not listed");
    }

    #[test]
    fn end_of_life_lines_have_no_fix_on_their_line() {
        // 19.json: CVE-2016-7099, vulnerable 6.x || 4.x || 5.x, patched ^6.7.0 || ^4.6.0:
        // 5.x was never fixed.
        let a = record(19);
        let m = a.assess(&v("5.12.0"), LINUX).unwrap();
        assert_eq!(m.fixed_on_line, None);
        assert_eq!(m.patched_lines, [v("4.6.0"), v("6.7.0")]);
        assert_eq!(a.assess(&v("4.5.0"), LINUX).unwrap().fixed_on_line, Some(v("4.6.0")));
        assert!(a.assess(&v("4.6.0"), LINUX).is_none());
    }

    #[test]
    fn windows_only_advisories_do_not_affect_linux_images() {
        // 141.json and 150.json: CVE-2024-27980, child_process.spawn on Windows.
        for n in [141, 150] {
            let a = record(n);
            assert_eq!(a.environments, ["win32"]);
            assert!(a.assess(&v("20.12.1"), LINUX).is_none());
            assert_eq!(
                a.assess(&v("20.12.1"), "win32").unwrap().fixed_on_line,
                Some(v("20.12.2"))
            );
        }
    }

    #[test]
    fn records_without_a_cve_are_named_by_the_wg_number() {
        let a = record(2);
        assert!(a.cves.is_empty());
        assert_eq!(a.id(), "NSWG-COR-2");
        assert_eq!(a.ids(), ["NSWG-COR-2"]);
        let many = record(62);
        assert_eq!(many.cves.len(), 8);
        assert_eq!(many.ids().len(), 9);
        assert_eq!(many.id(), "CVE-2019-9511");
    }

    #[test]
    fn every_record_against_every_vector_version_agrees_with_node_semver() {
        // affected = satisfies(vulnerable) && !satisfies(patched), with node-semver's own
        // answers for both ranges from the vectors file.
        #[derive(serde::Deserialize)]
        struct Vectors {
            versions: Vec<String>,
            ranges: Vec<Vector>,
        }
        #[derive(serde::Deserialize)]
        struct Vector {
            range: String,
            #[serde(default)]
            satisfied_by: Vec<String>,
        }
        let path = format!("{}/testdata/node-semver/vectors.json", env!("CARGO_MANIFEST_DIR"));
        let vectors: Vectors = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let answers: BTreeMap<&str, &Vec<String>> = vectors
            .ranges
            .iter()
            .map(|r| (r.range.as_str(), &r.satisfied_by))
            .collect();
        let mut affected_pairs = 0;
        for a in index() {
            let vulnerable = answers[a.vulnerable_raw.as_str()];
            let patched = answers[a.patched_raw.as_str()];
            for s in &vectors.versions {
                let expected = vulnerable.contains(s) && !patched.contains(s);
                let got = is_affected(&a.vulnerable, &a.patched, &v(s));
                assert_eq!(got, expected, "NSWG-COR-{} vs {s}", a.number);
                affected_pairs += usize::from(got);
            }
        }
        assert!(affected_pairs > 10_000, "{affected_pairs}");
    }

    #[test]
    fn a_fix_on_the_line_is_never_below_the_installed_version_and_is_patched() {
        for a in index() {
            for installed in [
                "0.10.47", "4.8.3", "6.11.0", "8.9.2", "10.24.0", "12.22.1", "14.17.0", "16.13.1", "18.19.0",
                "20.17.0", "22.4.0", "24.0.1", "25.8.1",
            ] {
                let installed = v(installed);
                let Some(m) = a.assess(&installed, "all") else { continue };
                if let Some(fix) = &m.fixed_on_line {
                    assert_eq!(fix.major, installed.major);
                    assert!(fix > &installed);
                    assert!(a.patched.satisfies(fix), "NSWG-COR-{}: {fix}", a.number);
                    assert!(!is_affected(&a.vulnerable, &a.patched, fix));
                }
            }
        }
    }

    #[test]
    fn hostile_records_are_errors() {
        let ok = br#"{"cve":["CVE-2099-0001"],"vulnerable":"20.x","patched":"^20.1.0","severity":"high"}"#;
        assert!(CoreAdvisory::parse(1, ok).is_ok());
        for (bad, field) in [
            (&br#"{"cve":[],"patched":"^20.1.0"}"#[..], "vulnerable"),
            (br#"{"cve":[],"vulnerable":"20.x"}"#, "patched"),
            (br#"{"cve":[],"vulnerable":20,"patched":"^20.1.0"}"#, "vulnerable"),
            (br#"{"cve":[],"vulnerable":"blerg","patched":"^20.1.0"}"#, "vulnerable"),
            (
                br#"{"cve":[],"vulnerable":"20.x","patched":"^20.1.0 ||| x.1"}"#,
                "patched",
            ),
            (
                br#"{"cve":"CVE-2099-0001","vulnerable":"20.x","patched":"^20.1"}"#,
                "cve",
            ),
            (br#"{"cve":["GHSA-x"],"vulnerable":"20.x","patched":"^20.1"}"#, "cve"),
            (br#"{"cve":[7],"vulnerable":"20.x","patched":"^20.1"}"#, "cve"),
            (br#"{"cve":[],"vulnerable":"20.x","patched":"^20.1","ref":{}}"#, "ref"),
            (
                br#"{"cve":[],"vulnerable":"20.x","patched":"^20.1","affectedEnvironments":"all"}"#,
                "affectedEnvironments",
            ),
        ] {
            let err = CoreAdvisory::parse(9, bad).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("NSWG-COR-9") && text.contains(field), "{text}");
            assert!(!text.contains("blerg"), "no quoting: {text}");
        }
        for bad in [&b""[..], b"[]", b"null", b"{", b"\xff\xfe"] {
            assert!(matches!(
                CoreAdvisory::parse(3, bad),
                Err(NodeAdvisoryError::Json { .. })
            ));
        }
        let huge = vec![b' '; MAX_RECORD + 1];
        assert!(matches!(
            CoreAdvisory::parse(3, &huge),
            Err(NodeAdvisoryError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_index(b"{\"x\": {}}"),
            Err(NodeAdvisoryError::BadNumber { position: 1 })
        ));
        assert!(matches!(
            parse_index(b"{\"01\": {}}"),
            Err(NodeAdvisoryError::BadNumber { .. })
        ));
        assert!(matches!(parse_index(b"[]"), Err(NodeAdvisoryError::Json { .. })));
        assert!(parse_index(b"{}").unwrap().is_empty());
        // Truncations of the real index: an error, never a panic.
        let real = std::fs::read(format!("{}/index.json", dir())).unwrap();
        for cut in (0..real.len()).step_by(997) {
            assert!(parse_index(&real[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn converted_records_round_trip_through_the_osv_matcher() {
        let a = record(171);
        let osv = a.to_osv();
        assert_eq!(osv.id, "NSWG-COR-171");
        assert_eq!(osv.aliases, ["CVE-2026-21717"]);
        assert_eq!(osv.database_severity(), Some("MEDIUM"));
        let severity = crate::advisory::severity::of_record(&osv);
        assert_eq!(severity.level, Some(crate::advisory::severity::Level::Medium));
        assert_eq!(finding_id(&osv), "CVE-2026-21717");
        assert_eq!(finding_id(&record(2).to_osv()), "NSWG-COR-2");
        assert_eq!(finding_id(&record(62).to_osv()), "CVE-2019-9511");
        // `unknown` (record 6) is no level: the policy decides how it gates.
        assert_eq!(record(6).severity, None);
        assert_eq!(crate::advisory::severity::of_record(&record(6).to_osv()).level, None);
        assert_eq!(
            crate::advisory::severity::of_record(&record(3).to_osv()).level,
            Some(crate::advisory::severity::Level::High)
        );
        assert_eq!(osv.summary.as_deref(), Some("HashDoS in V8"));
        assert_eq!(osv.references[0].url, a.reference.clone().unwrap());
        let p = osv.affected[0].package.as_ref().unwrap();
        assert_eq!((p.ecosystem.clone(), p.name.as_str()), (Ecosystem::NodeJs, "node"));
        let m = affected_osv(&osv, "20.17.0").unwrap().unwrap();
        assert_eq!(m.fixed, ["20.20.2"]);
        assert_eq!(m.vulnerable, "20.x || 22.x || 24.x || 25.x");
        assert_eq!(affected_osv(&osv, "v20.17.0").unwrap().unwrap().fixed, ["20.20.2"]);
        assert_eq!(affected_osv(&osv, "20.20.2").unwrap(), None);
        assert_eq!(affected_osv(&osv, "node"), Err(OsvMatchError::Version));
        assert_eq!(affected_osv(&osv, "20.17.0-pre"), Err(OsvMatchError::Prerelease));
        assert_eq!(
            record(171).assess(&v("20.17.0-pre"), LINUX),
            None,
            "node-semver's own rule"
        );
        // An EOL line: fixed by moving to a later major.
        let eol = record(19).to_osv();
        assert_eq!(affected_osv(&eol, "5.12.0").unwrap().unwrap().fixed, ["6.7.0"]);
        // Windows-only: not on Linux.
        assert_eq!(affected_osv(&record(141).to_osv(), "20.12.1").unwrap(), None);
        // The CVSS vector is kept, but not as the severity.
        let forty = record(40).to_osv();
        assert!(forty.severity.is_empty());
        assert_eq!(forty.database_severity(), Some("HIGH"));
        assert_eq!(
            forty.database_specific.as_ref().unwrap()["cvss"],
            "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H"
        );
        // Damaged stored records cannot tell.
        let mut broken = osv.clone();
        broken.affected[0].database_specific = Some(json!({"vulnerable": "20.x"}));
        assert_eq!(affected_osv(&broken, "20.17.0"), Err(OsvMatchError::Missing("patched")));
        broken.affected[0].database_specific = Some(json!({"vulnerable": "20.x", "patched": "x.1"}));
        assert!(matches!(
            affected_osv(&broken, "20.17.0"),
            Err(OsvMatchError::Range("patched", _))
        ));
    }

    #[test]
    fn db_import_reads_the_wg_data_in_each_form_and_the_matcher_evaluates_it() {
        use crate::advisory::{db, matcher};
        let tmp = tempfile::tempdir().unwrap();
        let wg = std::path::PathBuf::from(format!("{}/testdata/nodejs-security-wg", env!("CARGO_MANIFEST_DIR")));
        // Numbered files only, no index, next to a file that is not a record.
        let files = tmp.path().join("copy").join("core");
        std::fs::create_dir_all(&files).unwrap();
        for n in [19, 141, 171] {
            std::fs::copy(wg.join(format!("core/{n}.json")), files.join(format!("{n}.json"))).unwrap();
        }
        std::fs::write(files.join("README.json"), "{}").unwrap();
        std::fs::write(
            files.join("7.json"),
            br#"{"cve": [], "vulnerable": "x.1", "patched": "^4.1.1"}"#,
        )
        .unwrap();
        assert_eq!(locate(&files), Some(WgSource::Files(files.clone())));
        assert_eq!(locate(&wg), Some(WgSource::Index(wg.join("core/index.json"))));
        assert_eq!(
            locate(&wg.join("core")),
            Some(WgSource::Index(wg.join("core/index.json")))
        );
        assert_eq!(
            locate(&wg.join("core/index.json")),
            Some(WgSource::Index(wg.join("core/index.json")))
        );
        assert_eq!(
            locate(&wg.join("core/1.json")),
            None,
            "a single file is not the WG's data"
        );
        assert_eq!(locate(&wg.join("../osv")), None, "an OSV directory is not");
        let osv_core = tmp.path().join("osv").join("core");
        std::fs::create_dir_all(&osv_core).unwrap();
        std::fs::write(osv_core.join("GHSA-35jh-r3h4-6jhm.json"), "{}").unwrap();
        assert_eq!(locate(&osv_core), None, "OSV records in a directory called core");
        assert_eq!(locate(osv_core.parent().unwrap()), None);

        for (source, records, invalid) in [
            (wg.clone(), 171, 0),
            (wg.join("core/index.json"), 171, 0),
            (files.parent().unwrap().to_path_buf(), 3, 1),
        ] {
            let db_dir = tmp.path().join(format!("db-{records}-{invalid}"));
            let report = db::import(&db_dir, std::slice::from_ref(&source), true).unwrap();
            assert_eq!(
                (report.meta.records, report.invalid),
                (records, invalid),
                "{}",
                source.display()
            );
            assert_eq!(report.meta.ecosystems.get("Node.js"), Some(&records));
            if invalid > 0 {
                assert!(report.warnings[0].contains("7.json") && report.warnings[0].contains("NSWG-COR-7"));
            }
            let index = db::open(&db_dir).unwrap();
            let node = index.lookup("Node.js", "node").unwrap();
            assert_eq!(node.len(), records);
            let hits: Vec<(String, Vec<String>)> = node
                .iter()
                .filter_map(|r| matcher::affected(r, &Ecosystem::NodeJs, PACKAGE, "20.17.0").unwrap())
                .map(|m| (m.id, m.fixed))
                .collect();
            assert!(
                hits.contains(&("NSWG-COR-171".to_string(), vec!["20.20.2".to_string()])),
                "{hits:?}"
            );
            assert!(!hits.iter().any(|(id, _)| id == "NSWG-COR-141"), "win32 only");
            assert_eq!(index.by_id("CVE-2026-21717").unwrap()[0].id, "NSWG-COR-171");
            if records == 171 {
                // node-semver, on the same data: 147,149,152,153,156-161,163,164,167-171.
                assert_eq!(hits.len(), 17, "{hits:?}");
                // Both WG records of CVE-2024-27980 are kept, and found by their CVE.
                assert_eq!(index.by_id("CVE-2024-27980").unwrap().len(), 2);
            }
        }
        // The matcher's answers for other inputs.
        let r = record(171).to_osv();
        assert_eq!(matcher::affected(&r, &Ecosystem::NodeJs, "npm", "20.17.0"), Ok(None));
        assert_eq!(matcher::affected(&r, &Ecosystem::Npm, "node", "20.17.0"), Ok(None));
        assert!(matches!(
            matcher::affected(&r, &Ecosystem::NodeJs, "node", "twenty"),
            Err(matcher::MatchError::UnparsableVersion { .. })
        ));
        let pre = matcher::affected(&r, &Ecosystem::NodeJs, "node", "20.17.0-pre").unwrap_err();
        assert!(matches!(pre, matcher::MatchError::NodeRuntime { .. }));
        assert!(pre.to_string().contains("prerelease"), "{pre}");
        let m = matcher::affected(&r, &Ecosystem::NodeJs, "node", "25.0.0")
            .unwrap()
            .unwrap();
        assert_eq!(m.fixed, ["25.8.2"]);
        assert_eq!(
            m.reasons,
            [matcher::Reason::NodeSemver {
                vulnerable: "20.x || 22.x || 24.x || 25.x".into(),
                patched: "^20.20.2 || ^22.22.2 || ^24.14.1 || ^25.8.2".into(),
            }]
        );
    }

    #[test]
    fn the_node_js_ecosystem() {
        assert_eq!(Ecosystem::parse("Node.js"), Ecosystem::NodeJs);
        assert_eq!(Ecosystem::NodeJs.to_string(), "Node.js");
        assert!(Ecosystem::NodeJs.is_known());
        assert!(Ecosystem::NodeJs.covers(&Ecosystem::NodeJs));
        assert!(!Ecosystem::NodeJs.covers(&Ecosystem::Npm) && !Ecosystem::Npm.covers(&Ecosystem::NodeJs));
        for other in ["node.js", "Node", "NodeJS", "Node.js:20"] {
            assert!(!Ecosystem::parse(other).is_known(), "{other}");
        }
    }

    #[test]
    fn converted_records_validate_against_the_osv_schema() {
        let path = format!("{}/testdata/osv/osv-schema.json", env!("CARGO_MANIFEST_DIR"));
        let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let validator = jsonschema::options().build(&schema).unwrap();
        for a in index() {
            let mut json = a.to_osv_json();
            // The schema requires `modified`; the WG records carry no date, so the converted
            // ones have none (the index does not need one). Supply one to check the rest.
            json["modified"] = json!("2026-04-08T00:00:00Z");
            // OSV registers neither the `Node.js` ecosystem nor the `NSWG-` id prefix: those two
            // are the only departures from the schema.
            let mut errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            let before = errors.len();
            let departure = |e: &String| {
                let ecosystem = e.starts_with("\"Node.js\" does not match") && e.ends_with("/package/ecosystem");
                let id = e.starts_with(&format!("\"{}\" does not match", a.wg_id())) && e.ends_with(" at /id");
                ecosystem || id
            };
            errors.retain(|e| !departure(e));
            assert_eq!(before, 2, "NSWG-COR-{}: the ecosystem and the id", a.number);
            assert!(errors.is_empty(), "NSWG-COR-{}: {errors:?}", a.number);
        }
    }
}
