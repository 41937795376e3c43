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

/// Why a database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The layer itself could not be read (decompression, truncation): the walk's error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A database we cannot read would drop every OS package: the capture stops the scan.
    #[error("not valid UTF-8 (line {line})")]
    NotUtf8 { line: usize },
}

/// Reads the database from `reader` in one pass, line by line: the database itself is never
/// held (the layer walk streams it here), only one line at a time and the records kept.
/// Tolerates missing fields, extra blank lines, CRLF and a missing final newline; a stanza
/// without a name or version is skipped and counted.
///
/// Memory: the database can be 64 MiB and a million stanzas. Only the five kept fields are
/// ever copied (file lists, checksums and the other lines are never allocated), each record
/// into one allocation of exactly their length (see [`super::compact`]): about 40 bytes a
/// record and the text of its kept fields.
///
/// # Errors
///
/// [`ReadError::Io`] when `reader` fails; [`ReadError::NotUtf8`] for a line that is not UTF-8.
pub fn read_installed(mut reader: impl std::io::BufRead) -> Result<(Vec<ApkRecord>, usize), ReadError> {
    let mut records = Vec::new();
    let mut skipped = 0;
    let mut current = Stanza::default();
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        number += 1;
        let text = std::str::from_utf8(&line).map_err(|_| ReadError::NotUtf8 { line: number })?;
        let text = text.trim_end_matches('\n').trim_end_matches('\r');
        if text.is_empty() {
            match current.take() {
                Some(Ok(r)) => records.push(r),
                Some(Err(())) => skipped += 1,
                None => {}
            }
            if n == 0 {
                break;
            }
            continue;
        }
        let Some((key, value)) = text.split_once(':') else {
            continue;
        };
        current.seen = true;
        let field = match key {
            "P" => NAME,
            "V" => VERSION,
            "o" => ORIGIN,
            "A" => ARCH,
            "L" => LICENSE,
            _ => continue,
        };
        let slot = &mut current.fields[field];
        slot.clear();
        slot.push_str(value);
        current.present |= 1 << field;
    }
    // Grown by doubling: give back the unused tail (a realloc in place for a big vector).
    records.shrink_to_fit();
    Ok((records, skipped))
}

/// The stanza being read: its kept fields in buffers reused from one stanza to the next, so
/// a record costs one allocation (its [`Packed`] text) however many stanzas there are.
#[derive(Default)]
struct Stanza {
    seen: bool,
    fields: [String; 5],
    /// Bit `i`: field `i` was given (an absent field and an empty one differ).
    present: u8,
}

impl Stanza {
    fn get(&self, field: usize) -> Option<&str> {
        (self.present & (1 << field) != 0).then(|| self.fields[field].as_str())
    }

    /// The record this stanza makes, if it had any line; then starts the next.
    fn take(&mut self) -> Option<Result<ApkRecord, ()>> {
        if !std::mem::take(&mut self.seen) {
            return None;
        }
        let record = match (self.get(NAME), self.get(VERSION)) {
            (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => {
                ApkRecord::new(name, version, self.get(ORIGIN), self.get(ARCH), self.get(LICENSE)).map_err(|_| ())
            }
            _ => Err(()),
        };
        self.present = 0;
        Some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_installed(text: &str) -> (Vec<ApkRecord>, usize) {
        read_installed(text.as_bytes()).unwrap()
    }

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
    fn reads_a_stream_in_small_pieces_as_it_reads_the_whole() {
        // The walk hands the database over in whatever pieces the layer inflates to: a
        // stanza split across reads, CRLF split from its line, a field repeated (the last wins).
        let db = "P:a\r\nV:1\r\nV:2\r\n\r\nC:Q1=\nP:b\nV:3\no:bb\n\n\nP:c\nV:4";
        let whole = parse_installed(db);
        let pieces = std::io::BufReader::with_capacity(3, db.as_bytes());
        let (recs, skipped) = read_installed(pieces).unwrap();
        assert_eq!((&recs, skipped), (&whole.0, whole.1));
        let got: Vec<_> = recs.iter().map(|r| (r.name(), r.version(), r.origin())).collect();
        assert_eq!(got, [("a", "2", None), ("b", "3", Some("bb")), ("c", "4", None)]);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused_by_number() {
        let err = read_installed(&b"P:a\nV:1\n\nP:b\xff\nV:2\n"[..]).unwrap_err();
        assert!(matches!(err, ReadError::NotUtf8 { line: 4 }), "{err:?}");
        assert_eq!(err.to_string(), "not valid UTF-8 (line 4)");
    }

    #[test]
    fn fields_of_one_stanza_do_not_leak_into_the_next() {
        let (recs, _) = parse_installed("P:a\nV:1\no:src\nL:MIT\nA:x86\n\nP:b\nV:2\n");
        assert_eq!(recs[1].origin(), None);
        assert_eq!(recs[1].license(), None);
        assert_eq!(recs[1].arch(), None);
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
