//! OSV records (<https://ossf.github.io/osv-schema/>), as read from OSV's dumps and API.
//!
//! The types are lenient on purpose: a dump holds hundreds of thousands of records written
//! by many databases over several schema versions, and one odd field must not cost the
//! whole record, let alone the whole dump. So unknown fields are ignored, `null` reads as
//! empty, and unknown ecosystems, range types, severity types and malformed events are
//! kept as values the matcher can report, not parse failures. Only what cannot be an OSV
//! record at all (not JSON, no `id`) is an error, returned as [`OsvError`], never a panic.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A record that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    #[error("not an OSV record: {0}")]
    Parse(#[from] serde_json::Error),
}

/// One OSV record (vulnerability or malicious package advisory).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    pub id: String,
    /// RFC 3339 timestamps are kept as the strings the record has: nothing here orders by
    /// time, and a malformed date must not cost the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when the record was retracted; a withdrawn record matches nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Ids this record was derived from (`ALPINE-CVE-…` → `CVE-…`).
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// Related but different vulnerabilities: never folded together.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// Free-form; GitHub puts its `severity` (LOW, MODERATE, HIGH, CRITICAL) here, read
    /// through [`Record::database_severity`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

impl Record {
    /// Parses one record from JSON bytes.
    ///
    /// # Errors
    ///
    /// [`OsvError::Parse`] when the bytes are not JSON or not an object with a string `id`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, OsvError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// Whether the record was retracted (it then matches nothing).
    #[must_use]
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }

    /// Whether this is a malicious-package record (OSV's `MAL-` database).
    #[must_use]
    pub fn is_malicious(&self) -> bool {
        self.id.starts_with("MAL-")
    }

    /// `database_specific.severity` when it is a string (GitHub: LOW, MODERATE, HIGH,
    /// CRITICAL); anything else there is ignored rather than failing the record.
    #[must_use]
    pub fn database_severity(&self) -> Option<&str> {
        self.database_specific.as_ref()?.get("severity")?.as_str()
    }
}

impl FromStr for Record {
    type Err = OsvError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_json(s.as_bytes())
    }
}

/// A `severity[]` entry: a scoring system and its vector or label.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    pub kind: SeverityType,
    #[serde(default)]
    pub score: String,
}

/// `severity[].type`. Unknown systems are kept by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum SeverityType {
    CvssV2,
    CvssV3,
    CvssV4,
    Ubuntu,
    Other(String),
}

impl From<String> for SeverityType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "CVSS_V2" => Self::CvssV2,
            "CVSS_V3" => Self::CvssV3,
            "CVSS_V4" => Self::CvssV4,
            "Ubuntu" => Self::Ubuntu,
            _ => Self::Other(s),
        }
    }
}

impl From<SeverityType> for String {
    fn from(t: SeverityType) -> Self {
        match t {
            SeverityType::CvssV2 => "CVSS_V2".into(),
            SeverityType::CvssV3 => "CVSS_V3".into(),
            SeverityType::CvssV4 => "CVSS_V4".into(),
            SeverityType::Ubuntu => "Ubuntu".into(),
            SeverityType::Other(s) => s,
        }
    }
}

/// One `affected[]` entry: a package and which of its versions are affected.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Affected {
    /// Absent in some GIT-only records; such an entry matches no package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// Per-package severity (allowed only when the top-level one is absent).
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Exact affected versions, in the ecosystem's syntax.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// `affected[].package`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// An OSV ecosystem string, parsed as far as imagegate needs.
///
/// OSV's Alpine data is per release branch (`Alpine:v3.20`); the same package and version
/// can be fixed on one branch and not on another, so the branch is part of the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum Ecosystem {
    Npm,
    /// `Go`: Go modules by module path, and the toolchain as `stdlib` (golang/vulndb).
    Go,
    /// `crates.io`: Rust crates (RustSec).
    CratesIo,
    /// The Node.js runtime itself (`Node.js`): imagegate's own name for the security WG's core
    /// advisories, converted by [`nodejs`](super::nodejs); OSV has no such ecosystem.
    NodeJs,
    /// `Alpine:<branch>` (`branch` as written, e.g. `v3.20`), or bare `Alpine` (`None`).
    Alpine {
        branch: Option<String>,
    },
    /// `Debian:<release>` (the major version as written, e.g. `12`), or bare `Debian`
    /// (`None`). OSV's Debian records (DSA-, DLA-, DTSA-, DEBIAN-CVE-) name the source
    /// package and compare its version in dpkg's order.
    Debian {
        release: Option<String>,
    },
    /// `Ubuntu:[Pro:]<YY.MM>[:LTS]`: `Ubuntu:22.04:LTS`, `Ubuntu:23.10`,
    /// `Ubuntu:Pro:18.04:LTS` (fixes published under Ubuntu Pro / ESM). The `:LTS` suffix
    /// is part of OSV's name (mandatory for LTS releases), so it is kept to display the
    /// name back exactly. Other spellings (`Ubuntu:Pro:FIPS…`) stay [`Ecosystem::Unknown`].
    Ubuntu {
        pro: bool,
        release: String,
        lts: bool,
    },
    /// Any other ecosystem, kept verbatim so it can be reported by name.
    Unknown(String),
}

impl Ecosystem {
    /// The ecosystem of an Alpine release branch, e.g. `Ecosystem::alpine("v3.20")`.
    #[must_use]
    pub fn alpine(branch: &str) -> Self {
        Self::Alpine {
            branch: Some(branch.to_owned()),
        }
    }

    /// The ecosystem of a Debian release, e.g. `Ecosystem::debian("12")`.
    #[must_use]
    pub fn debian(release: &str) -> Self {
        Self::Debian {
            release: Some(release.to_owned()),
        }
    }

    /// The ecosystem of an Ubuntu release as OSV names it: `Ecosystem::ubuntu("22.04",
    /// true)` is `Ubuntu:22.04:LTS`.
    #[must_use]
    pub fn ubuntu(release: &str, lts: bool) -> Self {
        Self::Ubuntu {
            pro: false,
            release: release.to_owned(),
            lts,
        }
    }

    /// Parses an OSV ecosystem string. Never fails: what imagegate has no version order
    /// for is [`Ecosystem::Unknown`].
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s.split_once(':') {
            None if s == "npm" => Self::Npm,
            None if s == "Go" => Self::Go,
            None if s == "crates.io" => Self::CratesIo,
            None if s == "Node.js" => Self::NodeJs,
            None if s == "Alpine" => Self::Alpine { branch: None },
            None if s == "Debian" => Self::Debian { release: None },
            Some(("Alpine", branch)) if !branch.is_empty() => Self::Alpine {
                branch: Some(branch.to_owned()),
            },
            Some(("Debian", release)) if is_debian_release(release) => Self::debian(release),
            Some(("Ubuntu", rest)) => parse_ubuntu(rest).unwrap_or_else(|| Self::Unknown(s.to_owned())),
            _ => Self::Unknown(s.to_owned()),
        }
    }

    /// The OSV ecosystem an identified OS's packages are matched in: `Alpine:v3.20`,
    /// `Debian:12`, `Ubuntu:22.04:LTS`, `Ubuntu:23.10`. None when there is none (another OS,
    /// Debian testing/sid, a release that could not be read): the caller reports its packages
    /// as not checked.
    #[must_use]
    pub fn of_os(os: &crate::inventory::os::OsInfo) -> Option<Ecosystem> {
        match os.id.as_str() {
            "alpine" => os.branch.as_deref().map(Ecosystem::alpine),
            "debian" if !os.testing => os.release.as_deref().map(Ecosystem::debian),
            "ubuntu" => os.release.as_deref().map(|r| Ecosystem::ubuntu(r, os.lts)),
            _ => None,
        }
    }

    /// Whether imagegate knows this ecosystem's version order.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown(_))
    }

    /// Whether a record's `affected[].package.ecosystem` (`self`) applies to packages of
    /// `installed`. Alpine branches must be equal; a bare `Alpine` record applies to
    /// every branch. Unknown ecosystems apply to nothing.
    #[must_use]
    pub fn covers(&self, installed: &Self) -> bool {
        match (self, installed) {
            (Self::Npm, Self::Npm) | (Self::NodeJs, Self::NodeJs) => true,
            (Self::Go, Self::Go) | (Self::CratesIo, Self::CratesIo) => true,
            (Self::Alpine { branch: None }, Self::Alpine { .. }) => true,
            (Self::Alpine { branch: Some(a) }, Self::Alpine { branch: Some(b) }) => a == b,
            (Self::Debian { release: None }, Self::Debian { .. }) => true,
            (Self::Debian { release: Some(a) }, Self::Debian { release: Some(b) }) => a == b,
            // Exact: a Pro (ESM) record is about packages from Ubuntu Pro's archive, a
            // plain record about the release's own archive.
            (a @ Self::Ubuntu { .. }, b @ Self::Ubuntu { .. }) => a == b,
            _ => false,
        }
    }
}

/// OSV's Debian releases are the numeric versions of distro-info-data (`7`, `12`).
fn is_debian_release(s: &str) -> bool {
    !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `22.04:LTS`, `23.10`, `Pro:18.04:LTS` (what follows `Ubuntu:`).
fn parse_ubuntu(rest: &str) -> Option<Ecosystem> {
    let (pro, rest) = match rest.strip_prefix("Pro:") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let (release, lts) = match rest.strip_suffix(":LTS") {
        Some(release) => (release, true),
        None => (rest, false),
    };
    let b = release.as_bytes();
    let yy_mm = b.len() == 5 && b[2] == b'.' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit());
    yy_mm.then(|| Ecosystem::Ubuntu {
        pro,
        release: release.to_owned(),
        lts,
    })
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Npm => f.write_str("npm"),
            Self::Go => f.write_str("Go"),
            Self::CratesIo => f.write_str("crates.io"),
            Self::NodeJs => f.write_str("Node.js"),
            Self::Alpine { branch: None } => f.write_str("Alpine"),
            Self::Alpine { branch: Some(b) } => write!(f, "Alpine:{b}"),
            Self::Debian { release: None } => f.write_str("Debian"),
            Self::Debian { release: Some(r) } => write!(f, "Debian:{r}"),
            Self::Ubuntu { pro, release, lts } => write!(
                f,
                "Ubuntu:{}{release}{}",
                if *pro { "Pro:" } else { "" },
                if *lts { ":LTS" } else { "" }
            ),
            Self::Unknown(s) => f.write_str(s),
        }
    }
}

impl FromStr for Ecosystem {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

impl From<String> for Ecosystem {
    fn from(s: String) -> Self {
        Self::parse(&s)
    }
}

impl From<Ecosystem> for String {
    fn from(e: Ecosystem) -> Self {
        e.to_string()
    }
}

/// `affected[].ranges[]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// `affected[].ranges[].type`. Unknown types are kept by name (the matcher skips them and
/// says so rather than failing the record).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum RangeType {
    Ecosystem,
    Semver,
    Git,
    Unknown(String),
}

impl From<String> for RangeType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "ECOSYSTEM" => Self::Ecosystem,
            "SEMVER" => Self::Semver,
            "GIT" => Self::Git,
            _ => Self::Unknown(s),
        }
    }
}

impl From<RangeType> for String {
    fn from(t: RangeType) -> Self {
        match t {
            RangeType::Ecosystem => "ECOSYSTEM".into(),
            RangeType::Semver => "SEMVER".into(),
            RangeType::Git => "GIT".into(),
            RangeType::Unknown(s) => s,
        }
    }
}

impl fmt::Display for RangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from(self.clone()))
    }
}

/// One `events[]` entry. The schema allows exactly one key per event; anything else
/// (two keys, an unknown key, a non-string value) is kept as [`Event::Invalid`] with a
/// description, so the matcher can report the range instead of guessing.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "Map<String, Value>", into = "Map<String, Value>")]
pub enum Event {
    /// `"0"` means "before every version".
    Introduced(String),
    /// The first version without the vulnerability (exclusive bound).
    Fixed(String),
    /// The last version known to have it (inclusive bound).
    LastAffected(String),
    /// Only versions below a limit are in the range; `"*"` means no limit.
    Limit(String),
    Invalid(String),
}

impl From<Map<String, Value>> for Event {
    fn from(map: Map<String, Value>) -> Self {
        let mut entries = map.into_iter();
        let (Some((key, value)), None) = (entries.next(), entries.next()) else {
            return Self::Invalid("an event must have exactly one key".into());
        };
        let Value::String(version) = value else {
            return Self::Invalid(format!("`{key}` is not a string"));
        };
        match key.as_str() {
            "introduced" => Self::Introduced(version),
            "fixed" => Self::Fixed(version),
            "last_affected" => Self::LastAffected(version),
            "limit" => Self::Limit(version),
            _ => Self::Invalid(format!("unknown event `{key}`")),
        }
    }
}

impl From<Event> for Map<String, Value> {
    fn from(e: Event) -> Self {
        let (key, value) = match e {
            Event::Introduced(v) => ("introduced", v),
            Event::Fixed(v) => ("fixed", v),
            Event::LastAffected(v) => ("last_affected", v),
            Event::Limit(v) => ("limit", v),
            Event::Invalid(why) => ("x_invalid", why),
        };
        Self::from_iter([(key.to_owned(), Value::String(value))])
    }
}

/// `references[]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Reference {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub url: String,
}

/// `null` where the schema allows an array (`"aliases": null` occurs in real dumps) reads
/// as empty instead of failing the record.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPM_FIXTURES: [&str; 10] = [
        "GHSA-35jh-r3h4-6jhm",
        "GHSA-42xw-2xvc-qx8m",
        "GHSA-4xc9-xhrj-v574",
        "GHSA-67hx-6x53-jw92",
        "GHSA-78xj-cgh5-2h22",
        "GHSA-9c47-m6qq-7p4h",
        "GHSA-c2qf-rxjj-qqgw",
        "GHSA-cm22-4g7w-348p",
        "GHSA-fr5h-rqp8-mj6g",
        "GHSA-vh95-rmgr-6w4m",
    ];

    const DEBIAN_FIXTURES: [&str; 3] = ["DEBIAN-CVE-2023-4911", "DEBIAN-CVE-2023-5363", "DEBIAN-CVE-2024-6119"];
    const UBUNTU_FIXTURES: [&str; 2] = ["USN-6409-1", "USN-6986-1"];

    fn testdata(rel: &str) -> Vec<u8> {
        let path = format!("{}/testdata/osv/{rel}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn parses_every_real_npm_record() {
        for id in NPM_FIXTURES {
            let record = Record::from_json(&testdata(&format!("npm/{id}.json"))).unwrap();
            assert_eq!(record.id, id);
            assert!(!record.affected.is_empty(), "{id}");
            assert!(record.aliases.iter().all(|a| a.starts_with("CVE-")), "{id}");
            for affected in &record.affected {
                let package = affected.package.as_ref().unwrap();
                assert_eq!(package.ecosystem, Ecosystem::Npm, "{id}");
                for range in &affected.ranges {
                    assert_eq!(range.kind, RangeType::Ecosystem, "{id}");
                    assert!(range.events.iter().all(|e| !matches!(e, Event::Invalid(_))), "{id}");
                }
            }
            assert!(record.database_severity().is_some(), "{id}");
        }
    }

    #[test]
    fn reads_the_fields_of_a_real_record() {
        let r = Record::from_json(&testdata("npm/GHSA-cm22-4g7w-348p.json")).unwrap();
        assert_eq!(r.schema_version.as_deref(), Some("1.4.0"));
        assert_eq!(r.modified.as_deref(), Some("2024-09-10T19:42:33Z"));
        assert_eq!(r.aliases, ["CVE-2024-43800"]);
        assert_eq!(r.database_severity(), Some("MODERATE"));
        assert_eq!(r.severity.len(), 2);
        assert_eq!(r.severity[0].kind, SeverityType::CvssV3);
        assert_eq!(r.severity[1].kind, SeverityType::CvssV4);
        assert_eq!(
            r.severity[1].score,
            "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:L"
        );
        assert_eq!(r.affected.len(), 2);
        assert_eq!(
            r.affected[1].ranges[0].events,
            [Event::Introduced("2.0.0".into()), Event::Fixed("2.1.0".into())]
        );
        assert!(!r.is_withdrawn());
        assert!(!r.is_malicious());
        assert_eq!(r.references[0].kind, "WEB");
    }

    #[test]
    fn parses_the_alpine_records() {
        let r = Record::from_json(&testdata("alpine/ALPINE-CVE-2024-9143.json")).unwrap();
        assert_eq!(r.upstream, ["CVE-2024-9143"]);
        let package = r.affected[0].package.as_ref().unwrap();
        assert_eq!(package.ecosystem, Ecosystem::alpine("v3.20"));
        assert_eq!(package.name, "openssl");
        assert_eq!(package.purl.as_deref(), Some("pkg:apk/alpine/openssl?arch=source"));

        assert!(!r.is_withdrawn());

        // Built here (not data, hence the `TEST-` ids): a GIT range and a withdrawn record.
        let git: Record = r#"{"id": "TEST-GIT-RANGE", "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "musl"},
            "ranges": [{"type": "GIT", "repo": "https://git.musl-libc.org/git/musl", "events": [{"introduced": "0"}]}]}]}"#
            .parse()
            .unwrap();
        assert_eq!(git.affected[0].ranges[0].kind, RangeType::Git);
        assert!(git.affected[0].ranges[0].repo.is_some());
        let withdrawn: Record = r#"{"id": "TEST-WITHDRAWN", "withdrawn": "2024-01-03T00:00:00Z"}"#
            .parse()
            .unwrap();
        assert!(withdrawn.is_withdrawn());
    }

    #[test]
    fn ecosystems() {
        assert_eq!(Ecosystem::parse("npm"), Ecosystem::Npm);
        assert_eq!(Ecosystem::parse("Alpine:v3.20"), Ecosystem::alpine("v3.20"));
        assert_eq!(Ecosystem::parse("Alpine"), Ecosystem::Alpine { branch: None });
        for unknown in ["PyPI", "NPM", "Alpine:", "alpine:v3.20", "debian:12", ""] {
            let e = Ecosystem::parse(unknown);
            assert_eq!(e, Ecosystem::Unknown(unknown.into()));
            assert!(!e.is_known());
            assert_eq!(e.to_string(), unknown, "reported by its own name");
        }
        for s in ["npm", "Alpine", "Alpine:v3.18", "Alpine:edge"] {
            assert_eq!(Ecosystem::parse(s).to_string(), s, "round trip");
        }

        let v320 = Ecosystem::alpine("v3.20");
        assert!(v320.covers(&Ecosystem::alpine("v3.20")));
        assert!(!v320.covers(&Ecosystem::alpine("v3.18")));
        assert!(!v320.covers(&Ecosystem::Npm));
        assert!(Ecosystem::Alpine { branch: None }.covers(&v320));
        assert!(Ecosystem::Npm.covers(&Ecosystem::Npm));
        let pypi = Ecosystem::parse("PyPI");
        assert!(!pypi.covers(&pypi), "no order, no match");
    }

    #[test]
    fn debian_and_ubuntu_ecosystems_as_osv_spells_them() {
        assert_eq!(Ecosystem::parse("Debian:12"), Ecosystem::debian("12"));
        assert_eq!(Ecosystem::parse("Debian"), Ecosystem::Debian { release: None });
        assert_eq!(Ecosystem::parse("Ubuntu:22.04:LTS"), Ecosystem::ubuntu("22.04", true));
        assert_eq!(Ecosystem::parse("Ubuntu:23.10"), Ecosystem::ubuntu("23.10", false));
        assert_eq!(
            Ecosystem::parse("Ubuntu:Pro:18.04:LTS"),
            Ecosystem::Ubuntu {
                pro: true,
                release: "18.04".into(),
                lts: true
            }
        );
        for s in [
            "Debian",
            "Debian:7",
            "Debian:12",
            "Debian:13",
            "Ubuntu:22.04:LTS",
            "Ubuntu:24.04:LTS",
            "Ubuntu:23.10",
            "Ubuntu:Pro:14.04:LTS",
            "Ubuntu:Pro:20.04:LTS",
        ] {
            let e = Ecosystem::parse(s);
            assert!(e.is_known(), "{s}");
            assert_eq!(e.to_string(), s, "round trip");
        }
        for unknown in [
            "Debian:",
            "Debian:bookworm",
            "Debian:12.7",
            "Ubuntu",
            "Ubuntu:",
            "Ubuntu:jammy",
            "Ubuntu:22.04:lts",
            "Ubuntu:22.4:LTS",
            "Ubuntu:Pro:FIPS:22.04:LTS",
            "ubuntu:22.04:LTS",
        ] {
            let e = Ecosystem::parse(unknown);
            assert_eq!(e, Ecosystem::Unknown(unknown.into()), "{unknown}");
            assert_eq!(e.to_string(), unknown);
        }

        let d12 = Ecosystem::debian("12");
        assert!(d12.covers(&Ecosystem::debian("12")));
        assert!(!d12.covers(&Ecosystem::debian("11")));
        assert!(Ecosystem::Debian { release: None }.covers(&d12));
        assert!(!d12.covers(&Ecosystem::ubuntu("22.04", true)));
        let jammy = Ecosystem::ubuntu("22.04", true);
        assert!(jammy.covers(&Ecosystem::parse("Ubuntu:22.04:LTS")));
        assert!(!jammy.covers(&Ecosystem::ubuntu("24.04", true)));
        assert!(!Ecosystem::parse("Ubuntu:Pro:22.04:LTS").covers(&jammy));
        assert!(!jammy.covers(&d12));
    }

    #[test]
    fn parses_the_real_ubuntu_and_written_debian_records() {
        let usn = Record::from_json(&testdata("ubuntu/USN-6986-1.json")).unwrap();
        assert_eq!(usn.upstream, ["UBUNTU-CVE-2024-6119"]);
        let ecosystems: Vec<_> = usn
            .affected
            .iter()
            .map(|a| a.package.as_ref().unwrap().ecosystem.clone())
            .collect();
        assert_eq!(
            ecosystems,
            [Ecosystem::ubuntu("22.04", true), Ecosystem::ubuntu("24.04", true)]
        );
        assert_eq!(usn.severity, [], "USN records carry severity per CVE, not at the top");
        let dsa = Record::from_json(&testdata("debian/DEBIAN-CVE-2023-5363.json")).unwrap();
        let package = dsa.affected[0].package.as_ref().unwrap();
        assert_eq!(
            (package.ecosystem.clone(), package.name.as_str()),
            (Ecosystem::debian("12"), "openssl")
        );
    }

    #[test]
    fn lenient_about_what_does_not_matter() {
        let r: Record = r#"{
            "id": "GHSA-xxxx-xxxx-xxxx",
            "aliases": null,
            "severity": null,
            "credits": [{"name": "someone"}],
            "x_future_field": {"a": 1},
            "database_specific": {"severity": 3},
            "affected": [
                {"package": {"ecosystem": "Hackage", "name": "x"}, "ranges": null, "versions": null},
                {"ranges": [{"type": "GIT", "repo": "https://example.org/x", "events": [{"introduced": "0"}]}]},
                {"package": {"ecosystem": "npm", "name": "y"}, "ranges": [{"type": "FANCY", "events": [
                    {"introduced": "0", "fixed": "1.0.0"},
                    {"fixed": 2},
                    {"patched": "1.0.1"},
                    {"limit": "*"}
                ]}]}
            ]
        }"#
        .parse()
        .unwrap();
        assert!(r.aliases.is_empty() && r.severity.is_empty() && r.modified.is_none());
        assert_eq!(r.database_severity(), None, "a non-string severity is ignored");
        assert_eq!(
            r.affected[0].package.as_ref().unwrap().ecosystem,
            Ecosystem::Unknown("Hackage".into())
        );
        assert!(r.affected[1].package.is_none());
        let fancy = &r.affected[2].ranges[0];
        assert_eq!(fancy.kind, RangeType::Unknown("FANCY".into()));
        assert!(matches!(&fancy.events[0], Event::Invalid(why) if why.contains("exactly one")));
        assert!(matches!(&fancy.events[1], Event::Invalid(why) if why.contains("not a string")));
        assert!(matches!(&fancy.events[2], Event::Invalid(why) if why.contains("patched")));
        assert_eq!(fancy.events[3], Event::Limit("*".into()));
    }

    #[test]
    fn what_is_not_a_record_is_an_error_value() {
        for bad in [
            "",
            "{",
            "[]",
            "null",
            r#"{"modified": "2024-01-01T00:00:00Z"}"#,
            r#"{"id": 7}"#,
        ] {
            let err = Record::from_str(bad).unwrap_err();
            assert!(err.to_string().starts_with("not an OSV record"), "{bad:?}: {err}");
        }
        assert!(Record::from_json(&[0xff, 0xfe]).is_err(), "invalid UTF-8");
    }

    #[test]
    fn testdata_records_validate_against_the_osv_schema() {
        // Every Alpine record (written from published advisories, see testdata/osv/README.md)
        // must be valid OSV, or the tests built on them prove nothing; the npm records are
        // copies and are checked too, as a control.
        let schema: Value = serde_json::from_slice(&testdata("osv-schema.json")).unwrap();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let dir = format!("{}/testdata/osv/alpine", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| format!("alpine/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        files.sort();
        assert_eq!(files.len(), 3, "{files:?}");
        files.extend(NPM_FIXTURES.iter().map(|id| format!("npm/{id}.json")));
        files.extend(DEBIAN_FIXTURES.iter().map(|id| format!("debian/{id}.json")));
        files.extend(UBUNTU_FIXTURES.iter().map(|id| format!("ubuntu/{id}.json")));
        for file in files {
            let record: Value = serde_json::from_slice(&testdata(&file)).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&record)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{file}: {errors:#?}");
        }
        // And the validator does reject what the schema forbids.
        let bad: Value = serde_json::json!({"id": "TEST-BAD-MODIFIED", "modified": "yesterday",
            "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "x"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "1.0-r0"}]}]}]});
        assert!(!validator.is_valid(&bad));
    }

    #[test]
    fn serializes_back_to_an_equivalent_record() {
        let original = Record::from_json(&testdata("npm/GHSA-9c47-m6qq-7p4h.json")).unwrap();
        let json = serde_json::to_vec(&original).unwrap();
        assert_eq!(Record::from_json(&json).unwrap(), original);
    }
}

/// From os-release (and Debian's `debian_version`) to the ecosystem advisories are looked up in:
/// `inventory::os` reads the files, [`Ecosystem::of_os`] names the ecosystem.
#[cfg(test)]
mod os_ecosystem {
    use super::Ecosystem;
    use crate::inventory::os::{OsInfo, identify, identify_with_debian_version};

    const JAMMY: &str = "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n";

    fn eco(os: &Option<OsInfo>) -> Option<String> {
        os.as_ref().and_then(Ecosystem::of_os).map(|e| e.to_string())
    }

    #[test]
    fn real_debian_12_release() {
        let (os, warnings) = identify_with_debian_version(
            Some(include_str!("../../testdata/debian-12/etc/os-release")),
            None,
            None,
            Some(include_str!("../../testdata/debian-12/etc/debian_version")),
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let info = os.clone().unwrap();
        assert_eq!((info.id.as_str(), info.release.as_deref()), ("debian", Some("12")));
        assert_eq!(info.codename.as_deref(), Some("bookworm"));
        assert!(!info.testing && !info.lts && info.branch.is_none());
        assert_eq!(eco(&os).as_deref(), Some("Debian:12"));
    }

    #[test]
    fn debian_version_is_the_fallback() {
        for (file, release) in [("12.7\n", "12"), ("11.9", "11"), ("8.11", "8"), ("10", "10")] {
            let (os, warnings) = identify_with_debian_version(None, None, None, Some(file));
            assert!(warnings.is_empty());
            assert_eq!(eco(&os), Some(format!("Debian:{release}")), "{file}");
        }
        // An os-release without VERSION_ID (a stripped image) and the file.
        let (os, _) = identify_with_debian_version(Some("ID=debian\n"), None, None, Some("12.7"));
        assert_eq!(eco(&os).as_deref(), Some("Debian:12"));
        // Both, disagreeing: os-release wins, and it is said.
        let (os, warnings) =
            identify_with_debian_version(Some("ID=debian\nVERSION_ID=\"12\"\n"), None, None, Some("11.9"));
        assert_eq!(eco(&os).as_deref(), Some("Debian:12"));
        assert_eq!(warnings.len(), 1);
        // `identify` keeps its old signature and reads no debian_version.
        assert_eq!(identify(None, None, None).0, None);
    }

    #[test]
    fn debian_testing_and_sid_are_said_loudly() {
        let testing = "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\nID=debian\n";
        for (os_release, file) in [
            (Some(testing), Some("trixie/sid\n")),
            (Some(testing), None),
            (None, Some("bookworm/sid")),
        ] {
            let (os, warnings) = identify_with_debian_version(os_release, None, None, file);
            let info = os.clone().unwrap();
            assert!(info.testing, "{os_release:?} {file:?}");
            assert_eq!(info.release, None);
            assert_eq!(eco(&os), None, "no ecosystem: its packages are reported as not checked");
            assert_eq!(warnings.len(), 1);
            assert!(warnings[0].contains("testing/unstable") && warnings[0].contains("NOT checked"));
        }
        let (_, warnings) = identify_with_debian_version(Some(testing), None, None, Some("trixie/sid"));
        assert!(warnings[0].contains("trixie/sid"));
    }

    #[test]
    fn ubuntu_releases_and_lts() {
        let (os, warnings) = identify_with_debian_version(Some(JAMMY), None, None, Some("bookworm/sid\n"));
        assert!(
            warnings.is_empty(),
            "Ubuntu's debian_version names Debian's testing: not Ubuntu's release"
        );
        let info = os.clone().unwrap();
        assert!(info.lts && !info.testing);
        assert_eq!(info.id_like, ["debian"]);
        assert_eq!(eco(&os).as_deref(), Some("Ubuntu:22.04:LTS"));
        let noble = JAMMY
            .replace("22.04.4", "24.04.1")
            .replace("22.04", "24.04")
            .replace("Jammy Jellyfish", "Noble Numbat")
            .replace("jammy", "noble");
        assert_eq!(
            eco(&identify(Some(&noble), None, None).0).as_deref(),
            Some("Ubuntu:24.04:LTS")
        );
        let mantic = "PRETTY_NAME=\"Ubuntu 23.10\"\nVERSION_ID=\"23.10\"\nVERSION=\"23.10 (Mantic Minotaur)\"\nVERSION_CODENAME=mantic\nID=ubuntu\n";
        assert_eq!(
            eco(&identify(Some(mantic), None, None).0).as_deref(),
            Some("Ubuntu:23.10")
        );
        // Only VERSION_ID: Ubuntu's rule (even-year .04) decides.
        assert_eq!(
            eco(&identify(Some("ID=ubuntu\nVERSION_ID=20.04\n"), None, None).0).as_deref(),
            Some("Ubuntu:20.04:LTS")
        );
        assert_eq!(
            eco(&identify(Some("ID=ubuntu\nVERSION_ID=21.04\n"), None, None).0).as_deref(),
            Some("Ubuntu:21.04")
        );
        assert_eq!(
            eco(&identify(Some("ID=ubuntu\nVERSION_ID=jammy\n"), None, None).0),
            None
        );
    }

    #[test]
    fn alpine_ecosystem_and_others() {
        let (os, _) = identify(
            Some(include_str!("../../testdata/alpine-3.20.3/etc/os-release")),
            Some(include_str!("../../testdata/alpine-3.20.3/etc/alpine-release")),
            None,
        );
        assert_eq!(eco(&os).as_deref(), Some("Alpine:v3.20"));
        let info = os.unwrap();
        assert!(
            info.release.is_none() && !info.testing && !info.lts,
            "Debian fields stay empty for Alpine"
        );
        let json = serde_json::to_string(&info).unwrap();
        assert!(
            !json.contains("release") && !json.contains("testing"),
            "Alpine's JSON is unchanged: {json}"
        );
        // A derivative is not Debian: its packages are not matched as Debian's.
        let (os, _) = identify(Some("ID=raspbian\nID_LIKE=debian\nVERSION_ID=\"12\"\n"), None, None);
        assert_eq!(os.as_ref().unwrap().id_like, ["debian"]);
        assert_eq!(eco(&os), None);
        assert_eq!(eco(&identify(Some("ID=fedora\nVERSION_ID=40\n"), None, None).0), None);
    }
}
