//! The dpkg database of Debian and Ubuntu images: `var/lib/dpkg/status` (deb822 stanzas,
//! one per package, separated by blank lines), distroless's `var/lib/dpkg/status.d/*` (one
//! stanza per file, no `Status` field), and the file lists `var/lib/dpkg/info/*.list` and
//! `status.d/*.md5sums` (which files a package owns).
//!
//! Advisories for Debian and Ubuntu are written against the source package at the source
//! version (`libssl3 3.0.11-1~deb12u1` is source `openssl 3.0.11-1~deb12u1`; `libc6`'s
//! status says `Source: glibc (2.36-9+deb12u4)` when a binary-only rebuild moved the binary
//! version past the source's), so both are kept.
//!
//! Which stanzas count: a package whose files are on disk. dpkg's `Status` is `want flag
//! state`; the state is kept unless it is `not-installed` or `config-files` (only conffiles
//! left). `installed` is the usual case, but `unpacked`, `half-configured`,
//! `half-installed` and `triggers-*` packages have their files in the image too, and a gate
//! that skipped them would pass a vulnerable library because its postinst did not run. A
//! stanza without `Status` (distroless) counts.

use super::compact::{Packed, TooLong};
use serde::{Deserialize, Serialize, ser::SerializeStruct};

const NAME: usize = 0;
const VERSION: usize = 1;
const ARCH: usize = 2;
const SOURCE: usize = 3;
const SOURCE_VERSION: usize = 4;

/// One installed package, in one allocation (see [`super::compact`]): a status file of a
/// hundred thousand stanzas costs a few MB, not one `String` per field. JSON (reports and
/// the layer cache) has the fields by name.
#[derive(Clone, PartialEq, Eq)]
pub struct DpkgRecord(Packed<5>);

impl DpkgRecord {
    /// # Errors
    ///
    /// [`TooLong`] when the fields together are over 4 GiB.
    pub fn new(
        name: &str,
        version: &str,
        arch: Option<&str>,
        source: Option<&str>,
        source_version: Option<&str>,
    ) -> Result<DpkgRecord, TooLong> {
        Packed::new([Some(name), Some(version), arch, source, source_version]).map(DpkgRecord)
    }

    #[must_use]
    pub fn name(&self) -> &str {
        self.0.str(NAME)
    }

    #[must_use]
    pub fn version(&self) -> &str {
        self.0.str(VERSION)
    }

    #[must_use]
    pub fn arch(&self) -> Option<&str> {
        self.0.get(ARCH)
    }

    /// The source package, when the stanza names one (`libssl3` → `openssl`).
    #[must_use]
    pub fn source(&self) -> Option<&str> {
        self.0.get(SOURCE)
    }

    /// The source version, when `Source: name (version)` gives one.
    #[must_use]
    pub fn stated_source_version(&self) -> Option<&str> {
        self.0.get(SOURCE_VERSION)
    }

    /// The package advisories are written against: the source, else the package itself.
    #[must_use]
    pub fn source_name(&self) -> &str {
        self.source().unwrap_or(self.name())
    }

    /// The version advisories compare: the source's, else the package's.
    #[must_use]
    pub fn source_version(&self) -> &str {
        self.stated_source_version().unwrap_or(self.version())
    }
}

impl std::fmt::Debug for DpkgRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpkgRecord")
            .field("name", &self.name())
            .field("version", &self.version())
            .field("arch", &self.arch())
            .field("source", &self.source())
            .field("source_version", &self.stated_source_version())
            .finish()
    }
}

impl Serialize for DpkgRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::compact::serialize_fields(
            s,
            "DpkgRecord",
            [("name", self.name()), ("version", self.version())],
            &[
                ("arch", self.arch()),
                ("source", self.source()),
                ("source_version", self.stated_source_version()),
            ],
        )
    }
}

/// The JSON form, read back from the layer cache and from inventory documents.
#[derive(Deserialize)]
struct Fields {
    name: String,
    version: String,
    arch: Option<String>,
    source: Option<String>,
    source_version: Option<String>,
}

impl<'de> Deserialize<'de> for DpkgRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = Fields::deserialize(d)?;
        DpkgRecord::new(
            &f.name,
            &f.version,
            f.arch.as_deref(),
            f.source.as_deref(),
            f.source_version.as_deref(),
        )
        .map_err(serde::de::Error::custom)
    }
}

/// A dpkg database that cannot be read. The caller must stop the check (exit 2): a
/// database that is present but unread would silently drop every OS package.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DpkgError {
    #[error("not valid UTF-8 (line {line})")]
    NotUtf8 { line: usize },
    #[error("{size} bytes is over the {cap}-byte cap")]
    TooLarge { size: usize, cap: usize },
}

/// The packages of one status file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub records: Vec<DpkgRecord>,
    /// Stanzas without a `Package` or `Version` (or with an empty one).
    pub skipped: usize,
    /// Stanzas whose state says the package's files are gone (`config-files`, `not-installed`).
    pub not_installed: usize,
}

fn text(bytes: &[u8], cap: usize) -> Result<&str, DpkgError> {
    if bytes.len() > cap {
        return Err(DpkgError::TooLarge { size: bytes.len(), cap });
    }
    std::str::from_utf8(bytes).map_err(|e| DpkgError::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count(),
    })
}

/// Parses `var/lib/dpkg/status` or one `status.d/` file. Tolerates CRLF, a missing final
/// newline, extra blank lines and continuation lines (` ` or tab first: part of the field
/// above, which for the fields kept here is ignored). Field names are case-insensitive, as
/// in dpkg.
///
/// # Errors
///
/// [`DpkgError`] when `bytes` is over `cap` or not UTF-8.
pub fn parse_status(bytes: &[u8], cap: usize) -> Result<Status, DpkgError> {
    let text = text(bytes, cap)?;
    let mut status = Status::default();
    let mut stanza = Stanza::default();
    for line in text.split('\n').chain(std::iter::once("")) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // A line of blanks only ends the stanza too (dpkg would refuse it in a value).
        if line.trim().is_empty() {
            stanza.finish(&mut status);
            continue;
        }
        stanza.seen = true;
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let slot = match key.trim_end() {
            k if k.eq_ignore_ascii_case("Package") => &mut stanza.package,
            k if k.eq_ignore_ascii_case("Version") => &mut stanza.version,
            k if k.eq_ignore_ascii_case("Architecture") => &mut stanza.arch,
            k if k.eq_ignore_ascii_case("Source") => &mut stanza.source,
            k if k.eq_ignore_ascii_case("Status") => &mut stanza.status,
            _ => continue,
        };
        *slot = Some(value);
    }
    Ok(status)
}

#[derive(Default)]
struct Stanza<'a> {
    seen: bool,
    package: Option<&'a str>,
    version: Option<&'a str>,
    arch: Option<&'a str>,
    source: Option<&'a str>,
    status: Option<&'a str>,
}

impl Stanza<'_> {
    fn finish(&mut self, out: &mut Status) {
        let s = std::mem::take(self);
        if !s.seen {
            return;
        }
        let (Some(name), Some(version)) = (s.package.filter(|p| !p.is_empty()), s.version.filter(|v| !v.is_empty()))
        else {
            out.skipped += 1;
            return;
        };
        if s.status.is_some_and(|st| !files_present(st)) {
            out.not_installed += 1;
            return;
        }
        let (source, source_version) = match s.source.map(split_source) {
            Some((n, v)) => (Some(n), v),
            None => (None, None),
        };
        match DpkgRecord::new(
            name,
            version,
            s.arch.filter(|a| !a.is_empty()),
            source.filter(|n| !n.is_empty()),
            source_version.filter(|v| !v.is_empty()),
        ) {
            Ok(r) => out.records.push(r),
            Err(TooLong) => out.skipped += 1,
        }
    }
}

/// Whether a `Status: want flag state` value leaves the package's files on disk.
fn files_present(status: &str) -> bool {
    !matches!(status.split_whitespace().last(), Some("not-installed" | "config-files"))
}

/// `glibc (2.36-9+deb12u4)` → (`glibc`, `2.36-9+deb12u4`); `openssl` → (`openssl`, none).
fn split_source(source: &str) -> (&str, Option<&str>) {
    match source.split_once('(') {
        Some((name, rest)) => (name.trim(), Some(rest.trim_end().trim_end_matches(')').trim())),
        None => (source.trim(), None),
    }
}

/// The files a package owns, compact: leaf paths (no directory that only holds other listed
/// paths), normalised without the leading `/`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileList {
    pub package: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    pub paths: Vec<String>,
}

impl FileList {
    /// Paths that are programs or shared libraries by where they live: what a later check
    /// of "who owns this binary" needs.
    pub fn executables(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(String::as_str).filter(|p| is_executable_path(p))
    }
}

fn is_executable_path(p: &str) -> bool {
    let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
    let file = p.rsplit_once('/').map_or(p, |(_, f)| f);
    matches!(
        dir,
        "bin" | "sbin" | "usr/bin" | "usr/sbin" | "usr/local/bin" | "usr/local/sbin"
    ) || dir.starts_with("usr/libexec/")
        || dir == "usr/libexec"
        || file.ends_with(".so")
        || file.contains(".so.")
}

/// `libssl3:amd64.list` → (`libssl3`, `amd64`); `base-files.md5sums` → (`base-files`, none).
fn package_of(file_name: &str, suffix: &str) -> Option<(String, Option<String>)> {
    let stem = file_name.strip_suffix(suffix)?;
    let (name, arch) = match stem.split_once(':') {
        Some((n, a)) => (n, Some(a.to_owned())),
        None => (stem, None),
    };
    (!name.is_empty()).then(|| (name.to_owned(), arch))
}

fn leaves(mut paths: Vec<&str>) -> Vec<String> {
    paths.sort_unstable();
    paths.dedup();
    // Sorted, a directory is directly followed by its first child (`usr` < `usr/bin`
    // unless a sibling such as `usr-x` sorts between: `-` < `/`), so check the next few.
    let is_parent = |dir: &str, rest: &[&str]| {
        rest.iter()
            .take_while(|p| p.starts_with(dir))
            .any(|p| p.as_bytes().get(dir.len()) == Some(&b'/'))
    };
    paths
        .iter()
        .enumerate()
        .filter(|(i, p)| !is_parent(p, &paths[i + 1..]))
        .map(|(_, p)| (*p).to_owned())
        .collect()
}

fn normalise(line: &str) -> Option<&str> {
    let p = line.strip_suffix('\r').unwrap_or(line).trim_start_matches('/');
    (!p.is_empty() && p != ".").then_some(p)
}

/// Parses `var/lib/dpkg/info/<package>[:<arch>].list` (one absolute path a line, directories
/// included). `file_name` is the file's name, which names the package.
///
/// # Errors
///
/// [`DpkgError`] when `bytes` is over `cap` or not UTF-8. `Ok(None)` when the name is not
/// a `.list` file's.
pub fn parse_file_list(file_name: &str, bytes: &[u8], cap: usize) -> Result<Option<FileList>, DpkgError> {
    let Some((package, arch)) = package_of(file_name, ".list") else {
        return Ok(None);
    };
    let text = text(bytes, cap)?;
    Ok(Some(FileList {
        package,
        arch,
        paths: leaves(text.split('\n').filter_map(normalise).collect()),
    }))
}

/// Parses distroless's `var/lib/dpkg/status.d/<package>.md5sums` (`<md5>  <path>` a line,
/// files only) into the same form. Lines without a checksum and a path are ignored.
///
/// # Errors
///
/// [`DpkgError`] when `bytes` is over `cap` or not UTF-8. `Ok(None)` when the name is not
/// an `.md5sums` file's.
pub fn parse_md5sums(file_name: &str, bytes: &[u8], cap: usize) -> Result<Option<FileList>, DpkgError> {
    let Some((package, arch)) = package_of(file_name, ".md5sums") else {
        return Ok(None);
    };
    let text = text(bytes, cap)?;
    let paths = text
        .split('\n')
        .filter_map(|l| {
            let (sum, path) = l.split_once(' ')?;
            (sum.len() == 32 && sum.bytes().all(|b| b.is_ascii_hexdigit())).then_some(())?;
            normalise(path.trim_start())
        })
        .collect();
    Ok(Some(FileList {
        package,
        arch,
        paths: leaves(paths),
    }))
}

/// At most this many owned paths are kept a package (the rest are counted): `usr/lib/*.so*`
/// of a big library package runs to hundreds, and nothing needs them all.
pub const MAX_KEPT_PATHS: usize = 256;

/// What a package's file list (`info/*.list`, distroless `status.d/*.md5sums`) says, kept
/// small for a whole image's worth of packages: how many files the package owns, and only the
/// ones a check asks "who owns this?" about — programs (`bin`, `sbin`, `usr/bin`, `usr/sbin`,
/// `usr/local/bin`, `usr/local/sbin`, `usr/libexec`) and shared libraries (`*.so`, `*.so.*`):
/// which package put `usr/bin/node` or `libssl.so.3` there. Documentation, locales, headers
/// and data files, the bulk of every list, are counted, not kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedFiles {
    /// The package the list is named for (`libssl3:amd64.list` → `libssl3`). Only pairing
    /// lists with packages reads it; the inventory document leaves it out (it is the package's
    /// own name), so read back from one it is empty, and so is `arch`.
    #[serde(default)]
    pub package: Box<str>,
    /// The architecture the list is named with, for a `Multi-Arch: same` package.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub arch: Option<Box<str>>,
    /// Files (leaf paths) the list names.
    pub count: usize,
    /// The programs and shared libraries among them, sorted, at most [`MAX_KEPT_PATHS`].
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub executables: Vec<Box<str>>,
    /// Programs and libraries past [`MAX_KEPT_PATHS`], counted.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub more_executables: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// [`OwnedFiles`] as a package's `files` in the inventory: the package is the one it is under.
pub(crate) fn serialize_owned<S: serde::Serializer>(
    owned: &Option<std::sync::Arc<OwnedFiles>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let Some(o) = owned else { return s.serialize_none() };
    let fields = 1 + usize::from(!o.executables.is_empty()) + usize::from(o.more_executables > 0);
    let mut st = s.serialize_struct("OwnedFiles", fields)?;
    st.serialize_field("count", &o.count)?;
    if o.executables.is_empty() {
        st.skip_field("executables")?;
    } else {
        st.serialize_field("executables", &o.executables)?;
    }
    if o.more_executables > 0 {
        st.serialize_field("more_executables", &o.more_executables)?;
    } else {
        st.skip_field("more_executables")?;
    }
    st.end()
}

impl OwnedFiles {
    fn of(list: FileList) -> OwnedFiles {
        let count = list.paths.len();
        let mut executables: Vec<Box<str>> = list.executables().map(Box::from).collect();
        let more_executables = executables.len().saturating_sub(MAX_KEPT_PATHS);
        executables.truncate(MAX_KEPT_PATHS);
        executables.shrink_to_fit();
        OwnedFiles {
            package: list.package.into(),
            arch: list.arch.map(Into::into),
            count,
            executables,
            more_executables,
        }
    }

    /// Whether the package's list names `path` (normalised, no leading `/`) among the kept ones.
    #[must_use]
    pub fn owns(&self, path: &str) -> bool {
        self.executables.binary_search_by(|p| (**p).cmp(path)).is_ok()
    }
}

/// Reads an `info/*.list` or `status.d/*.md5sums` file into [`OwnedFiles`]; `Ok(None)` when
/// `file_name` is neither.
///
/// # Errors
///
/// [`DpkgError`] when `bytes` is over `cap` or not UTF-8.
pub fn parse_owned(file_name: &str, bytes: &[u8], cap: usize) -> Result<Option<OwnedFiles>, DpkgError> {
    let list = if file_name.ends_with(".md5sums") {
        parse_md5sums(file_name, bytes, cap)?
    } else {
        parse_file_list(file_name, bytes, cap)?
    };
    Ok(list.map(OwnedFiles::of))
}

/// The dpkg files an inventory reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DpkgFile {
    /// `var/lib/dpkg/status`.
    Status,
    /// `var/lib/dpkg/status.d/<package>` (distroless): a stanza.
    StatusD,
    /// `var/lib/dpkg/status.d/<package>.md5sums` (distroless): a file list.
    Md5sums,
    /// `var/lib/dpkg/info/<package>.list`.
    InfoList,
}

/// Which dpkg file `path` (normalised, no leading `/`) is, if any.
#[must_use]
pub fn classify(path: &str) -> Option<DpkgFile> {
    if path == "var/lib/dpkg/status" {
        return Some(DpkgFile::Status);
    }
    let plain = |name: &str| !name.is_empty() && !name.contains('/') && !name.starts_with('.');
    if let Some(name) = path.strip_prefix("var/lib/dpkg/status.d/").filter(|n| plain(n)) {
        return Some(if name.ends_with(".md5sums") {
            DpkgFile::Md5sums
        } else {
            DpkgFile::StatusD
        });
    }
    path.strip_prefix("var/lib/dpkg/info/")
        .filter(|n| plain(n) && n.len() > ".list".len() && n.ends_with(".list"))
        .map(|_| DpkgFile::InfoList)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: usize = 64 << 20;
    const STATUS: &str = include_str!("../../testdata/debian-12/var/lib/dpkg/status");

    fn parse(s: &str) -> Status {
        parse_status(s.as_bytes(), CAP).unwrap()
    }

    #[test]
    fn parses_a_real_debian_12_status() {
        let st = parse(STATUS);
        assert_eq!((st.skipped, st.not_installed), (0, 0));
        assert_eq!(st.records.len(), STATUS.matches("\nPackage: ").count() + 1);
        let ssl = st.records.iter().find(|r| r.name() == "libssl3").unwrap();
        assert_eq!(
            (ssl.source_name(), ssl.source_version()),
            ("openssl", "3.0.19-1~deb12u2")
        );
        assert_eq!(ssl.arch(), Some("amd64"));
        let zlib = st.records.iter().find(|r| r.name() == "zlib1g").unwrap();
        assert_eq!((zlib.source_name(), zlib.version()), ("zlib", "1:1.2.13.dfsg-1"));
        let openssl = st.records.iter().find(|r| r.name() == "openssl").unwrap();
        assert_eq!((openssl.source(), openssl.source_name()), (None, "openssl"));
        // `Source: name (version)` when a binNMU moved the binary version.
        let with_version = st.records.iter().find(|r| r.stated_source_version().is_some()).unwrap();
        assert_ne!(with_version.source_version(), with_version.version());
    }

    #[test]
    fn source_with_version_and_the_source_version_advisories_use() {
        let st = parse(
            "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc (2.36-9+deb12u4)\nVersion: 2.36-9+deb12u4+b1\n",
        );
        let r = &st.records[0];
        assert_eq!((r.source_name(), r.source_version()), ("glibc", "2.36-9+deb12u4"));
        assert_eq!(r.version(), "2.36-9+deb12u4+b1");
    }

    #[test]
    fn only_packages_whose_files_are_present() {
        let db = "Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
                  Package: never\nStatus: purge ok not-installed\nVersion: 1.0\n\n\
                  Package: ok\nStatus: install ok installed\nVersion: 1.0\n\n\
                  Package: removing\nStatus: deinstall ok installed\nVersion: 1.0\n\n\
                  Package: unpacked\nStatus: install ok unpacked\nVersion: 1.0\n\n\
                  Package: half\nStatus: install reinstreq half-installed\nVersion: 1.0\n\n\
                  Package: trig\nStatus: install ok triggers-pending\nVersion: 1.0\n";
        let st = parse(db);
        let names: Vec<_> = st.records.iter().map(|r| r.name()).collect();
        assert_eq!(names, ["ok", "removing", "unpacked", "half", "trig"]);
        assert_eq!(st.not_installed, 2);
    }

    #[test]
    fn tolerates_crlf_blank_lines_continuations_and_no_final_newline() {
        let db = "\r\n\r\nPackage: a\r\nStatus: install ok installed\r\nVersion: 1.0-1\r\nDescription: x\r\n Package: not-a-field\r\n .\r\n\r\n\r\n\r\n\
                  package: b\nversion:2.0\nSOURCE:  bsrc  \nConffiles:\n /etc/b abc\n \t\nPackage: c\nVersion: 3";
        let st = parse(db);
        assert_eq!(st.skipped, 0);
        assert_eq!(st.records.len(), 3, "a whitespace-only line ends a stanza too: {st:?}");
        assert_eq!((st.records[0].name(), st.records[0].version()), ("a", "1.0-1"));
        assert_eq!(st.records[1].source(), Some("bsrc"));
        assert_eq!(st.records[1].version(), "2.0");
    }

    #[test]
    fn stanzas_without_package_or_version_are_counted() {
        let st = parse("Package: onlyname\n\nVersion: 1.0\n\nPackage: empty\nVersion:\n\nPackage: ok\nVersion: 1\n");
        assert_eq!(st.records.len(), 1);
        assert_eq!(st.skipped, 3);
        assert_eq!(parse("").records.len(), 0);
        assert_eq!(parse("\n\n \n").skipped, 0);
    }

    #[test]
    fn distroless_stanzas_have_no_status_and_count() {
        let st = parse("Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n");
        assert_eq!(st.records.len(), 1);
        assert_eq!(st.records[0].source_name(), "openssl");
    }

    #[test]
    fn unreadable_databases_are_typed_errors() {
        let mut bad = b"Package: a\nVersion: 1\n\nPackage: b\nDescription: ".to_vec();
        bad.push(0xff);
        assert_eq!(parse_status(&bad, CAP), Err(DpkgError::NotUtf8 { line: 5 }));
        assert_eq!(
            parse_status(STATUS.as_bytes(), 100),
            Err(DpkgError::TooLarge {
                size: STATUS.len(),
                cap: 100
            })
        );
        assert_eq!(
            parse_file_list("x.list", &[0xc3], CAP),
            Err(DpkgError::NotUtf8 { line: 1 })
        );
        assert!(parse_md5sums("x.md5sums", b"0123", 2).is_err());
        // The message names no content.
        assert_eq!(DpkgError::NotUtf8 { line: 5 }.to_string(), "not valid UTF-8 (line 5)");
    }

    #[test]
    fn a_real_file_list_keeps_leaves_and_finds_executables() {
        let list = include_bytes!("../../testdata/debian-12/var/lib/dpkg/info/openssl.list");
        let fl = parse_file_list("openssl.list", list, CAP).unwrap().unwrap();
        assert_eq!((fl.package.as_str(), fl.arch.as_deref()), ("openssl", None));
        assert!(fl.paths.iter().any(|p| p == "usr/bin/openssl"));
        assert!(
            !fl.paths.iter().any(|p| p == "usr" || p == "usr/bin" || p.is_empty()),
            "directories dropped"
        );
        assert!(fl.paths.iter().all(|p| !p.starts_with('/')));
        assert!(fl.executables().any(|p| p == "usr/bin/openssl"));
        assert!(fl.executables().all(|p| p != "etc/ssl/openssl.cnf"));

        let lib = include_bytes!("../../testdata/debian-12/var/lib/dpkg/info/libssl3:amd64.list");
        let fl = parse_file_list("libssl3:amd64.list", lib, CAP).unwrap().unwrap();
        assert_eq!((fl.package.as_str(), fl.arch.as_deref()), ("libssl3", Some("amd64")));
        assert!(fl.executables().any(|p| p == "usr/lib/x86_64-linux-gnu/libssl.so.3"));
        assert_eq!(parse_file_list("openssl.md5sums", list, CAP), Ok(None));
    }

    #[test]
    fn leaves_handle_siblings_that_sort_between_parent_and_child() {
        let fl = parse_file_list(
            "p.list",
            b"/.\n/usr\n/usr-x\n/usr/bin\n/usr/bin/a\n/usr/bin/a.d\n/etc\n",
            CAP,
        )
        .unwrap()
        .unwrap();
        assert_eq!(fl.paths, ["etc", "usr-x", "usr/bin/a", "usr/bin/a.d"]);
    }

    #[test]
    fn distroless_md5sums() {
        let sums = b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/openssl\r\nnot a line\n\
                     0123456789abcdef0123456789abcdef  usr/lib/x86_64-linux-gnu/libssl.so.3\n";
        let fl = parse_md5sums("libssl3.md5sums", sums, CAP).unwrap().unwrap();
        assert_eq!(fl.paths, ["usr/bin/openssl", "usr/lib/x86_64-linux-gnu/libssl.so.3"]);
        assert_eq!(fl.executables().count(), 2);
    }

    #[test]
    fn classifies_paths() {
        assert_eq!(classify("var/lib/dpkg/status"), Some(DpkgFile::Status));
        assert_eq!(classify("var/lib/dpkg/status.d/libssl3"), Some(DpkgFile::StatusD));
        assert_eq!(
            classify("var/lib/dpkg/status.d/libssl3.md5sums"),
            Some(DpkgFile::Md5sums)
        );
        assert_eq!(
            classify("var/lib/dpkg/info/libssl3:amd64.list"),
            Some(DpkgFile::InfoList)
        );
        for no in [
            "var/lib/dpkg/status-old",
            "var/lib/dpkg/status.d/",
            "var/lib/dpkg/status.d/sub/x",
            "var/lib/dpkg/info/libssl3.md5sums",
            "var/lib/dpkg/info/.list",
            "usr/var/lib/dpkg/status",
        ] {
            assert_eq!(classify(no), None, "{no}");
        }
    }

    #[test]
    fn records_round_trip_through_the_cache_format() {
        let st = parse(STATUS);
        let json = serde_json::to_string(&st).unwrap();
        assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), st);
        assert!(!json.contains("\"source\":null"), "absent fields are left out");
    }

    #[test]
    fn hostile_input_never_panics() {
        let mut seed = 7u64;
        let alphabet: [&[u8]; 12] = [
            b"Package:",
            b"Version:",
            b"Source:",
            b" (",
            b")",
            b"\n",
            b"\r\n",
            b" ",
            b"Status: x",
            b"a",
            b":",
            b"\n\n",
        ];
        for _ in 0..5000 {
            let mut input = Vec::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                input.extend_from_slice(alphabet[(seed % 12) as usize]);
            }
            let st = parse_status(&input, CAP).unwrap();
            assert!(
                st.records
                    .iter()
                    .all(|r| !r.name().is_empty() && !r.version().is_empty())
            );
            let _ = parse_file_list("x.list", &input, CAP);
            let _ = parse_md5sums("x.md5sums", &input, CAP);
        }
    }
}
