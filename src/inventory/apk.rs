//! The apk installed database (`lib/apk/db/installed`): stanzas of `X:value` lines separated
//! by blank lines. Only the fields a gate needs are kept.

use super::compact::{Packed, TooLong};
use serde::{Deserialize, Serialize};

const NAME: usize = 0;
const VERSION: usize = 1;
const ORIGIN: usize = 2;
const ARCH: usize = 3;
const LICENSE: usize = 4;

/// One package: name, version, origin, arch and license in one allocation (see
/// [`super::compact`]). JSON (reports and the layer cache) has the fields by name, as before.
#[derive(Clone, PartialEq, Eq)]
pub struct ApkRecord(Packed<5>);

impl ApkRecord {
    /// # Errors
    ///
    /// [`TooLong`] when the fields together are over 4 GiB.
    pub fn new(
        name: &str,
        version: &str,
        origin: Option<&str>,
        arch: Option<&str>,
        license: Option<&str>,
    ) -> Result<ApkRecord, TooLong> {
        Packed::new([Some(name), Some(version), origin, arch, license]).map(ApkRecord)
    }

    #[must_use]
    pub fn name(&self) -> &str {
        self.0.str(NAME)
    }

    #[must_use]
    pub fn version(&self) -> &str {
        self.0.str(VERSION)
    }

    /// The source package advisories are written against (`libcrypto3` → `openssl`).
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        self.0.get(ORIGIN)
    }

    #[must_use]
    pub fn arch(&self) -> Option<&str> {
        self.0.get(ARCH)
    }

    #[must_use]
    pub fn license(&self) -> Option<&str> {
        self.0.get(LICENSE)
    }
}

impl std::fmt::Debug for ApkRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApkRecord")
            .field("name", &self.name())
            .field("version", &self.version())
            .field("origin", &self.origin())
            .field("arch", &self.arch())
            .field("license", &self.license())
            .finish()
    }
}

impl Serialize for ApkRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::compact::serialize_fields(
            s,
            "ApkRecord",
            [("name", self.name()), ("version", self.version())],
            &[
                ("origin", self.origin()),
                ("arch", self.arch()),
                ("license", self.license()),
            ],
        )
    }
}

/// The JSON form, read back from the layer cache and from inventory documents.
#[derive(Deserialize)]
struct Fields {
    name: String,
    version: String,
    origin: Option<String>,
    arch: Option<String>,
    license: Option<String>,
}

impl<'de> Deserialize<'de> for ApkRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = Fields::deserialize(d)?;
        ApkRecord::new(
            &f.name,
            &f.version,
            f.origin.as_deref(),
            f.arch.as_deref(),
            f.license.as_deref(),
        )
        .map_err(serde::de::Error::custom)
    }
}

/// Parses the database in one pass. Tolerates missing fields, extra blank lines, CRLF and a
/// missing final newline; a stanza without a name or version is skipped and counted.
///
/// Memory: the database can be 64 MiB and a million stanzas. Only the five kept fields are
/// ever copied (file lists, checksums and the other lines are never allocated), each record
/// into one allocation of exactly their length (see [`super::compact`]), and the record
/// vector is sized once from a count of the `P:` lines: about 40 bytes a record and the text
/// of its kept fields.
pub fn parse_installed(text: &str) -> (Vec<ApkRecord>, usize) {
    let names = text.lines().filter(|l| l.starts_with("P:")).count();
    let mut records = Vec::with_capacity(names);
    let mut skipped = 0;
    let mut current = Stanza::default();
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            match current.take() {
                Some(Ok(r)) => records.push(r),
                Some(Err(())) => skipped += 1,
                None => {}
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        current.seen = true;
        let slot = match key {
            "P" => &mut current.name,
            "V" => &mut current.version,
            "o" => &mut current.origin,
            "A" => &mut current.arch,
            "L" => &mut current.license,
            _ => continue,
        };
        *slot = Some(value);
    }
    (records, skipped)
}

#[derive(Default)]
struct Stanza<'a> {
    seen: bool,
    name: Option<&'a str>,
    version: Option<&'a str>,
    origin: Option<&'a str>,
    arch: Option<&'a str>,
    license: Option<&'a str>,
}

impl Stanza<'_> {
    fn take(&mut self) -> Option<Result<ApkRecord, ()>> {
        let s = std::mem::take(self);
        if !s.seen {
            return None;
        }
        match (s.name, s.version) {
            (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => {
                Some(ApkRecord::new(name, version, s.origin, s.arch, s.license).map_err(|_| ()))
            }
            _ => Some(Err(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stanzas_with_blank_lines_and_no_final_newline() {
        let db = "C:Q1abc=\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\nL:Apache-2.0\no:openssl\nF:usr/lib\nR:libcrypto.so.3\n\n\n\nP:musl\nV:1.2.5-r0\r\nA:x86_64\no:musl";
        let (recs, skipped) = parse_installed(db);
        assert_eq!(skipped, 0);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].name(), "libcrypto3");
        assert_eq!(recs[0].origin(), Some("openssl"));
        assert_eq!(recs[0].license(), Some("Apache-2.0"));
        assert_eq!(recs[1].version(), "1.2.5-r0");
    }

    #[test]
    fn json_has_the_fields_by_name_and_round_trips() {
        let (recs, _) = parse_installed("P:musl\nV:1.2.5-r0\nA:x86_64\n\nP:x\nV:1\no:\nL:MIT\n");
        let json = serde_json::to_string(&recs).unwrap();
        assert_eq!(
            json,
            r#"[{"name":"musl","version":"1.2.5-r0","arch":"x86_64"},{"name":"x","version":"1","origin":"","license":"MIT"}]"#
        );
        assert_eq!(serde_json::from_str::<Vec<ApkRecord>>(&json).unwrap(), recs);
    }

    #[test]
    fn a_record_is_one_allocation_of_its_text() {
        // 40 bytes inline, the five fields' text in one block: a million stanzas cost ~100 MB,
        // not the ~280 MB five `String`s a record did.
        assert_eq!(std::mem::size_of::<ApkRecord>(), 40);
    }

    #[test]
    fn counts_stanzas_without_name_or_version() {
        let (recs, skipped) = parse_installed("P:onlyname\n\nV:1.0\n\nP:ok\nV:1\n");
        assert_eq!(recs.len(), 1);
        assert_eq!(skipped, 2);
    }

    #[test]
    fn parses_the_real_alpine_3_20_database() {
        let (recs, skipped) = parse_installed(include_str!("../../testdata/alpine-3.20.3/lib/apk/db/installed"));
        assert_eq!(skipped, 0);
        assert_eq!(recs.len(), 14);
        let ssl = recs.iter().find(|r| r.name() == "libssl3").unwrap();
        assert_eq!(ssl.origin(), Some("openssl"));
        assert!(
            recs.iter()
                .any(|r| r.name() == "busybox" && r.version() == "1.36.1-r29")
        );
    }
}
