//! The apk installed database (`lib/apk/db/installed`): stanzas of `X:value` lines separated
//! by blank lines. Only the fields a gate needs are kept.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApkRecord {
    pub name: String,
    pub version: String,
    /// The source package advisories are written against (`libcrypto3` → `openssl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// Parses the database in one pass. Tolerates missing fields, extra blank lines, CRLF and a
/// missing final newline; a stanza without a name or version is skipped and counted.
///
/// Memory: the database can be 64 MiB and a million stanzas. Only the five kept fields are
/// ever copied (file lists, checksums and the other lines are never allocated), each into a
/// string of exactly its length, and the record vector is sized once from a count of the `P:`
/// lines, so the records cost little more than the text of those fields.
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
        *slot = Some(value.to_string());
    }
    (records, skipped)
}

#[derive(Default)]
struct Stanza {
    seen: bool,
    name: Option<String>,
    version: Option<String>,
    origin: Option<String>,
    arch: Option<String>,
    license: Option<String>,
}

impl Stanza {
    fn take(&mut self) -> Option<Result<ApkRecord, ()>> {
        let s = std::mem::take(self);
        if !s.seen {
            return None;
        }
        match (s.name, s.version) {
            (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => Some(Ok(ApkRecord {
                name,
                version,
                origin: s.origin,
                arch: s.arch,
                license: s.license,
            })),
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
        assert_eq!(recs[0].name, "libcrypto3");
        assert_eq!(recs[0].origin.as_deref(), Some("openssl"));
        assert_eq!(recs[0].license.as_deref(), Some("Apache-2.0"));
        assert_eq!(recs[1].version, "1.2.5-r0");
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
        let ssl = recs.iter().find(|r| r.name == "libssl3").unwrap();
        assert_eq!(ssl.origin.as_deref(), Some("openssl"));
        assert!(recs.iter().any(|r| r.name == "busybox" && r.version == "1.36.1-r29"));
    }
}
