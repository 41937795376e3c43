//! Which Node.js runtime an image ships, from three pieces of evidence, each a pure function:
//!
//! - the header `usr/local/include/node/node_version.h` the nodejs.org tarball installs
//!   (`#define NODE_MAJOR_VERSION 20`, `…_MINOR_…`, `…_PATCH_…`, and
//!   `NODE_VERSION_IS_RELEASE`: 0 makes it a `-pre` build): [`parse_version_header`];
//! - the image config's `NODE_VERSION` environment variable, which the official `node:*`
//!   Dockerfiles set (`NODE_VERSION=20.17.0`): [`parse_env`];
//! - the `node` binary itself (`usr/local/bin/node`), read as a byte stream by
//!   [`VersionScanner`] with bounded memory.
//!
//! [`detect`] combines them: the binary decides when it names one version (it is what runs),
//! then the header, then the environment (metadata a later build stage can leave stale), and
//! every disagreement or unreadable piece becomes a warning.
//!
//! # The marker in the binary
//!
//! A Node.js binary carries its version as C string literals built from
//! `NODE_VERSION_STRING`. Two are specific enough to trust (seen in this machine's Node.js
//! v20.20.2, a 99 MB ELF: `grep -obaE 'v20\.20\.2[^0-9]'` finds them at fixed offsets):
//! - `node.js/v20.20.2\0`: the inspector's `Browser` string, NUL-terminated;
//! - `nodejs.org/download/release/v20.20.2/`: `process.release.sourceUrl` / `headersUrl`
//!   (`https://nodejs.org/download/release/v20.20.2/node-v20.20.2.tar.gz`), in release builds.
//!
//! Other `v20.20.2` bytes in the binary (V8 snapshot data, length-prefixed) are not used. The
//! scanner looks for the `/v` at the end of either prefix, reads the version up to its
//! terminator (NUL or `/`), and keeps at most a few dozen bytes between chunks, so a 100 MB
//! binary is read in chunks of any size with memory bounded by the chunk.

use std::collections::BTreeMap;
use std::io::{self, Read};

use crate::node_version;
use semver::Version;
use serde::{Deserialize, Serialize};

/// The package name the runtime is listed under (OSV's `Node.js` ecosystem names it so).
pub const PACKAGE: &str = "node";

/// Where the nodejs.org tarball (and so the official images) puts the binary.
pub const NODE_BINARY: &str = "usr/local/bin/node";
/// Where it puts the version header.
pub const NODE_VERSION_HEADER: &str = "usr/local/include/node/node_version.h";
/// The environment variable the official images set.
pub const NODE_VERSION_ENV: &str = "NODE_VERSION";
/// `node_version.h` is ~4 KB; more is not that header.
pub const MAX_HEADER: usize = 64 << 10;
/// The longest version token read after a marker.
const MAX_TOKEN: usize = 64;
/// The longest marker prefix before the `/v` anchor (`/download/release`).
const MAX_PREFIX: usize = 17;

/// A file of the runtime the inventory reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeFile {
    /// `usr/local/bin/node`: stream it through a [`VersionScanner`] (it is ~100 MB).
    Binary,
    /// `usr/local/include/node/node_version.h`: read it whole, up to [`MAX_HEADER`].
    Header,
}

/// Whether `path` (normalized, no leading `/`) is a runtime file. Only the nodejs.org layout
/// under `usr/local`: a `node` from apk or dpkg (`usr/bin/node`) is a package the OS
/// advisories already cover.
#[must_use]
pub fn classify(path: &str) -> Option<RuntimeFile> {
    match path {
        NODE_BINARY => Some(RuntimeFile::Binary),
        NODE_VERSION_HEADER => Some(RuntimeFile::Header),
        _ => None,
    }
}

/// Which piece of evidence decided, or disagreed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// The `node` binary's embedded version string.
    Binary,
    /// `node_version.h`.
    Header,
    /// The config's `NODE_VERSION`.
    Env,
}

impl Evidence {
    fn describe(self) -> &'static str {
        match self {
            Self::Binary => "the node binary (usr/local/bin/node)",
            Self::Header => "usr/local/include/node/node_version.h",
            Self::Env => "the image config's NODE_VERSION",
        }
    }
}

/// Why a piece of evidence could not be read. Messages never quote the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error("node_version.h: {len} bytes is over the {MAX_HEADER}-byte limit")]
    HeaderTooLarge { len: usize },
    #[error("node_version.h: no `#define NODE_{0}_VERSION <number>`")]
    HeaderMissing(&'static str),
    #[error("node_version.h: `NODE_{0}_VERSION` is not a number")]
    HeaderNumber(&'static str),
    #[error("NODE_VERSION is not a SemVer version")]
    Env,
}

/// Reads `node_version.h`.
///
/// # Errors
///
/// [`RuntimeError`] when the header is over [`MAX_HEADER`] or lacks a major, minor or patch
/// `#define` with a number.
pub fn parse_version_header(bytes: &[u8]) -> Result<Version, RuntimeError> {
    if bytes.len() > MAX_HEADER {
        return Err(RuntimeError::HeaderTooLarge { len: bytes.len() });
    }
    let text = String::from_utf8_lossy(bytes);
    let mut defines: BTreeMap<&str, &str> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix('#') else { continue };
        let mut words = rest.split_whitespace();
        if words.next() != Some("define") {
            continue;
        }
        if let (Some(name), Some(value)) = (words.next(), words.next()) {
            // The first definition wins, as the preprocessor would warn on a second.
            defines.entry(name).or_insert(value);
        }
    }
    let number = |part: &'static str| -> Result<u64, RuntimeError> {
        let key = match part {
            "MAJOR" => "NODE_MAJOR_VERSION",
            "MINOR" => "NODE_MINOR_VERSION",
            _ => "NODE_PATCH_VERSION",
        };
        let value = defines.get(key).ok_or(RuntimeError::HeaderMissing(part))?;
        if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RuntimeError::HeaderNumber(part));
        }
        value.parse().map_err(|_| RuntimeError::HeaderNumber(part))
    };
    let mut version = Version::new(number("MAJOR")?, number("MINOR")?, number("PATCH")?);
    // `NODE_VERSION_IS_RELEASE 0` is a development build: NODE_TAG is then "-pre".
    if defines.get("NODE_VERSION_IS_RELEASE") == Some(&"0") {
        version.pre = semver::Prerelease::new("pre").unwrap_or(semver::Prerelease::EMPTY);
    }
    Ok(version)
}

/// The `NODE_VERSION` value among a config's `Env` entries (`KEY=VALUE`), parsed; `None` when
/// the variable is not set. The last entry wins, as in a container's environment.
#[must_use]
pub fn parse_env<S: AsRef<str>>(env: &[S]) -> Option<Result<Version, RuntimeError>> {
    let value = env
        .iter()
        .filter_map(|e| e.as_ref().split_once('='))
        .filter(|(k, _)| *k == NODE_VERSION_ENV)
        .map(|(_, v)| v)
        .next_back()?;
    Some(node_version::parse(value).map_err(|_| RuntimeError::Env))
}

/// Which marker a version was found after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Marker {
    /// `node.js/v<version>\0`.
    Inspector,
    /// `/download/release/v<version>/`.
    ReleaseUrl,
}

/// Finds the version markers in a byte stream fed in chunks of any size. Memory: the last
/// chunk plus under 100 bytes carried between chunks.
#[derive(Debug, Default)]
pub struct VersionScanner {
    /// Bytes kept from the previous chunks: the prefix of the next anchor, or a token cut
    /// by the chunk boundary.
    carry: Vec<u8>,
    /// Reused buffer: carry + chunk.
    buf: Vec<u8>,
    /// Offset into `carry` from which anchors have not been looked at yet.
    scan_from: usize,
    found: BTreeMap<(String, Marker), usize>,
    bytes: u64,
}

/// What [`VersionScanner`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryScan {
    /// Every distinct version seen, with the markers and how often: one entry for a real
    /// binary.
    pub versions: BTreeMap<String, Vec<(Marker, usize)>>,
    pub bytes: u64,
}

impl BinaryScan {
    /// The version when exactly one was found.
    #[must_use]
    pub fn version(&self) -> Option<Version> {
        match self.versions.keys().collect::<Vec<_>>().as_slice() {
            [one] => node_version::parse(one).ok(),
            _ => None,
        }
    }
}

fn is_version_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+')
}

impl VersionScanner {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.extend_from_slice(&self.carry);
        buf.extend_from_slice(chunk);
        self.scan(&buf, false);
        self.buf = buf;
    }

    /// Ends the stream.
    #[must_use]
    pub fn finish(mut self) -> BinaryScan {
        let carry = std::mem::take(&mut self.carry);
        self.scan(&carry, true);
        let mut versions: BTreeMap<String, Vec<(Marker, usize)>> = BTreeMap::new();
        for ((version, marker), n) in self.found {
            versions.entry(version).or_default().push((marker, n));
        }
        BinaryScan {
            versions,
            bytes: self.bytes,
        }
    }

    /// Looks at every anchor in `buf[scan_from..]`; a token cut by the end of `buf` is left
    /// for the next chunk unless `last`.
    fn scan(&mut self, buf: &[u8], last: bool) {
        // The anchor: `v` after `/`, found with memchr's vector search (a real node binary is
        // 100 MB of bytes that are mostly not one; a byte loop cost 6 instructions each).
        static ANCHOR: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"/v"));
        let mut end = buf.len();
        let mut i = self.scan_from.max(1);
        while i < buf.len() {
            let Some(at) = buf.get(i - 1..).and_then(|rest| ANCHOR.find(rest)) else {
                break;
            };
            i += at;
            let before = &buf[..i - 1];
            let marker = if before.ends_with(b"node.js") {
                Marker::Inspector
            } else if before.ends_with(b"/download/release") {
                Marker::ReleaseUrl
            } else {
                i += 1;
                continue;
            };
            let start = i + 1;
            let mut j = start;
            while j < buf.len() && j - start <= MAX_TOKEN && is_version_byte(buf[j]) {
                j += 1;
            }
            if j == buf.len() && !last && j - start <= MAX_TOKEN {
                end = i;
                break;
            }
            let terminated = matches!(
                (marker, buf.get(j)),
                (Marker::Inspector, Some(0)) | (Marker::ReleaseUrl, Some(b'/'))
            );
            if terminated
                && j - start <= MAX_TOKEN
                && buf.get(start).is_some_and(u8::is_ascii_digit)
                && let Ok(token) = std::str::from_utf8(&buf[start..j])
                && let Ok(v) = node_version::parse(token)
            {
                *self.found.entry((v.to_string(), marker)).or_default() += 1;
            }
            i = j.max(i + 1);
        }
        // Keep what the next anchor's prefix check and an unfinished token need.
        let keep_from = end.saturating_sub(MAX_PREFIX + 1);
        self.carry.clear();
        self.carry.extend_from_slice(&buf[keep_from..]);
        self.scan_from = end - keep_from;
    }
}

/// Streams `reader` (at most `max_bytes`) through a [`VersionScanner`] in 64 KiB chunks.
///
/// # Errors
///
/// The reader's I/O error.
pub fn scan_reader<R: Read>(reader: R, max_bytes: u64) -> io::Result<BinaryScan> {
    let mut reader = reader.take(max_bytes);
    let mut scanner = VersionScanner::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        scanner.feed(&chunk[..n]);
    }
    Ok(scanner.finish())
}

/// The Node.js runtime an image ships.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRuntime {
    #[serde(serialize_with = "display")]
    pub version: Version,
    /// The evidence that decided.
    pub decided_by: Evidence,
    /// Every piece of evidence that named a version, with that version.
    pub evidence: Vec<(Evidence, String)>,
    /// Disagreements and unreadable evidence, for the report.
    pub warnings: Vec<String>,
}

fn display<S: serde::Serializer>(v: &Version, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Combines the evidence (each `None` when absent from the image): the binary decides when it
/// names exactly one version, then the header, then `NODE_VERSION`. `None` when nothing names
/// a version; the warnings then still say what could not be read.
#[must_use]
pub fn detect(
    binary: Option<&BinaryScan>,
    header: Option<Result<Version, RuntimeError>>,
    env: Option<Result<Version, RuntimeError>>,
) -> (Option<NodeRuntime>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut named: Vec<(Evidence, Version)> = Vec::new();
    if let Some(scan) = binary {
        match (scan.version(), scan.versions.len()) {
            (Some(v), _) => named.push((Evidence::Binary, v)),
            (None, 0) => warnings.push(format!(
                "{}: no version marker found in {} bytes",
                Evidence::Binary.describe(),
                scan.bytes
            )),
            (None, n) => warnings.push(format!(
                "{}: {n} different versions embedded ({}); not used",
                Evidence::Binary.describe(),
                scan.versions.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }
    for (evidence, answer) in [(Evidence::Header, header), (Evidence::Env, env)] {
        match answer {
            Some(Ok(v)) => named.push((evidence, v)),
            Some(Err(e)) => warnings.push(format!("{}: {e}", evidence.describe())),
            None => {}
        }
    }
    let Some((decided_by, version)) = named.first().cloned() else {
        return (None, warnings);
    };
    for (evidence, v) in &named[1..] {
        if v.cmp_precedence(&version) != std::cmp::Ordering::Equal {
            warnings.push(format!(
                "{} says Node.js {v}, but {} says {version}: using {version}",
                evidence.describe(),
                decided_by.describe()
            ));
        }
    }
    if decided_by == Evidence::Env {
        warnings.push(format!(
            "only {} names Node.js {version}: no node binary or version header was found to confirm it",
            Evidence::Env.describe()
        ));
    }
    let evidence = named.iter().map(|(e, v)| (*e, v.to_string())).collect();
    (
        Some(NodeRuntime {
            version,
            decided_by,
            evidence,
            warnings: warnings.clone(),
        }),
        warnings,
    )
}

/// The most of `usr/local/bin/node` streamed through the scanner. A real binary is ~100 MB
/// and both markers sit in its read-only data, so the whole file is scanned; a bigger file
/// is scanned up to here (the markers of a real binary are well inside it).
pub const MAX_BINARY_SCAN: u64 = 512 << 20;

/// The Node.js runtime as the inventory lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuntimePackage {
    /// `node`, the package name the advisories are stored under.
    /// Always `node`: read back (a cached inventory) without looking.
    #[serde(skip_deserializing, default = "node_name")]
    pub name: &'static str,
    #[serde(flatten)]
    pub runtime: NodeRuntime,
    /// The runtime's files found in the image (the binary, the header), or the config's
    /// `NODE_VERSION` when only it names the version.
    pub paths: Vec<String>,
    /// The layer that put the binary there (else the header; else the top layer, for a
    /// version only the config names).
    pub layer: std::sync::Arc<super::LayerRef>,
}

fn node_name() -> &'static str {
    PACKAGE
}

/// Detects the runtime in the merged filesystem and the config's `Env`. `os_owns_node`: apk or
/// dpkg installed `nodejs`, whose advisories already cover it: then nothing is reported.
/// Returns the runtime (if a version was named) and the warnings (disagreements, unreadable
/// evidence), which name the files but never quote them.
pub fn inventory(
    fs: &crate::layer::Filesystem<super::Fact>,
    env: &[String],
    os_owns_node: bool,
    layer_ref: &impl Fn(usize) -> std::sync::Arc<super::LayerRef>,
    top_layer: usize,
) -> (Option<RuntimePackage>, Vec<String>) {
    use super::Fact;
    if os_owns_node {
        return (None, Vec::new());
    }
    let binary = match fs.fact(NODE_BINARY) {
        Some(Fact::NodeBinary(scan)) => Some(scan),
        _ => None,
    };
    let header_text = match fs.fact(NODE_VERSION_HEADER) {
        Some(Fact::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let header = header_text.as_deref().map(|t| parse_version_header(t.as_bytes()));
    let env_answer = parse_env(env);
    let (runtime, warnings) = detect(binary, header, env_answer);
    let Some(runtime) = runtime else {
        return (None, warnings);
    };
    let mut paths = Vec::new();
    let mut layer = None;
    for (path, present) in [
        (NODE_BINARY, binary.is_some()),
        (NODE_VERSION_HEADER, header_text.is_some()),
    ] {
        if present {
            paths.push(path.to_string());
            layer = layer.or_else(|| fs.introduced(path, |_| true));
        }
    }
    if paths.is_empty() {
        paths.push(format!("config env {NODE_VERSION_ENV}={}", runtime.version));
    }
    (
        Some(RuntimePackage {
            name: PACKAGE,
            runtime,
            paths,
            layer: layer_ref(layer.unwrap_or(top_layer)),
        }),
        warnings,
    )
}

/// Turns the recognised-but-not-read `node-runtime` source into a read one (one package, its
/// paths) when a version was detected. Files of a runtime without a readable version stay
/// `not_checked`, saying so.
pub fn coverage(coverage: &mut Vec<super::coverage::Coverage>, runtime: Option<&RuntimePackage>) {
    use super::coverage::{Coverage, Source};
    let at = coverage.iter().position(|c| c.source == Source::NodeRuntime);
    match (runtime, at) {
        (Some(r), at) => {
            let read = Coverage::read(Source::NodeRuntime, 1, r.paths.clone());
            match at {
                Some(i) => coverage[i] = read,
                None => coverage.push(read),
            }
        }
        (None, Some(i)) => {
            coverage[i].reason = Some(
                "a Node.js runtime is installed outside the OS packages but no version could be read from it (see the warnings)"
                    .into(),
            );
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header of Node.js v20.20.2 as the nodejs.org tarball installs it, reduced to the
    /// lines that matter (the real file is on this machine at /usr/include/node/).
    const HEADER_20_20_2: &str = "#ifndef SRC_NODE_VERSION_H_\n#define SRC_NODE_VERSION_H_\n\n\
        #define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 20\n#define NODE_PATCH_VERSION 2\n\n\
        #define NODE_VERSION_IS_LTS 1\n#define NODE_VERSION_LTS_CODENAME \"Iron\"\n\n\
        #define NODE_VERSION_IS_RELEASE 1\n\n#ifndef NODE_STRINGIFY\n#define NODE_STRINGIFY(n) NODE_STRINGIFY_HELPER(n)\n#endif\n";

    fn v(s: &str) -> Version {
        node_version::parse(s).unwrap()
    }

    fn scan_chunks(bytes: &[u8], chunk: usize) -> BinaryScan {
        let mut s = VersionScanner::new();
        for c in bytes.chunks(chunk.max(1)) {
            s.feed(c);
        }
        s.finish()
    }

    #[test]
    fn header() {
        assert_eq!(parse_version_header(HEADER_20_20_2.as_bytes()), Ok(v("20.20.2")));
        let pre = HEADER_20_20_2.replace("IS_RELEASE 1", "IS_RELEASE 0");
        assert_eq!(parse_version_header(pre.as_bytes()), Ok(v("20.20.2-pre")));
        let spaced =
            "  #  define NODE_MAJOR_VERSION  22\n#define NODE_MINOR_VERSION 4\r\n#define NODE_PATCH_VERSION 1\r\n";
        assert_eq!(parse_version_header(spaced.as_bytes()), Ok(v("22.4.1")));
        let no_patch = HEADER_20_20_2.replace("#define NODE_PATCH_VERSION 2", "");
        assert_eq!(
            parse_version_header(no_patch.as_bytes()),
            Err(RuntimeError::HeaderMissing("PATCH"))
        );
        let word = HEADER_20_20_2.replace("MINOR_VERSION 20", "MINOR_VERSION twenty");
        assert_eq!(
            parse_version_header(word.as_bytes()),
            Err(RuntimeError::HeaderNumber("MINOR"))
        );
        let commented = "// #define NODE_MAJOR_VERSION 20\n";
        assert!(parse_version_header(commented.as_bytes()).is_err());
        assert!(parse_version_header(&[0xff; 100]).is_err());
        assert!(matches!(
            parse_version_header(&vec![b'\n'; MAX_HEADER + 1]),
            Err(RuntimeError::HeaderTooLarge { .. })
        ));
    }

    #[test]
    fn this_machines_header_if_installed() {
        // Debian's nodejs ships the same header; when it is here, it must agree with the
        // binary's own answer (checked in `this_machines_node_binary`).
        let Ok(bytes) = std::fs::read("/usr/include/node/node_version.h") else {
            return;
        };
        let version = parse_version_header(&bytes).unwrap();
        assert!(version.major >= 10, "{version}");
    }

    #[test]
    fn runtime_files() {
        assert_eq!(classify("usr/local/bin/node"), Some(RuntimeFile::Binary));
        assert_eq!(
            classify("usr/local/include/node/node_version.h"),
            Some(RuntimeFile::Header)
        );
        for other in [
            "usr/bin/node",
            "/usr/local/bin/node",
            "usr/local/bin/nodejs",
            "usr/local/bin/node/x",
        ] {
            assert_eq!(classify(other), None, "{other}");
        }
    }

    #[test]
    fn env() {
        let env = [
            "PATH=/usr/local/bin:/usr/bin",
            "NODE_VERSION=20.17.0",
            "YARN_VERSION=1.22.22",
        ];
        assert_eq!(parse_env(&env), Some(Ok(v("20.17.0"))));
        assert_eq!(parse_env(&["NODE_VERSION=v22.4.1"]), Some(Ok(v("22.4.1"))));
        assert_eq!(
            parse_env(&["NODE_VERSION=1", "NODE_VERSION=24.0.0"]),
            Some(Ok(v("24.0.0"))),
            "last wins"
        );
        assert_eq!(parse_env(&["NODE_VERSION=lts"]), Some(Err(RuntimeError::Env)));
        assert_eq!(parse_env(&["NODE_VERSION_X=20.0.0", "XNODE_VERSION=20.0.0"]), None);
        assert_eq!(parse_env::<&str>(&[]), None);
    }

    #[test]
    fn markers_in_a_byte_stream_whatever_the_chunking() {
        let mut bytes = vec![0u8; 1000];
        bytes.extend_from_slice(b"https://nodejs.org/download/release/v20.17.0/node-v20.17.0.tar.gz\0");
        bytes.extend_from_slice(&[7u8; 333]);
        bytes.extend_from_slice(b"\0node.js/v20.17.0\0");
        bytes.extend_from_slice(b"\0node.js/v20.17.0\0");
        // Near misses: no terminator, other prefix, a length-prefixed snapshot string,
        // a version that is not SemVer, a too-long token.
        bytes.extend_from_slice(b"node.js/v20.17.0x\x01 nodejs/v21.0.0\0 \x08v99.0.0\0 node.js/v1.2\0");
        bytes.extend_from_slice(b"node.js/v1.2.3");
        bytes.extend_from_slice(&[b'1'; 100]);
        bytes.push(0);
        for chunk in [1, 2, 3, 5, 7, 16, 64, 1000, 1 << 20] {
            let scan = scan_chunks(&bytes, chunk);
            assert_eq!(scan.version(), Some(v("20.17.0")), "chunk {chunk}: {scan:?}");
            assert_eq!(
                scan.versions["20.17.0"],
                [(Marker::Inspector, 2), (Marker::ReleaseUrl, 1)],
                "chunk {chunk}"
            );
            assert_eq!(scan.versions.len(), 1, "chunk {chunk}: {scan:?}");
            assert_eq!(scan.bytes, bytes.len() as u64);
        }
        // A marker cut by the end of the stream is not a version.
        assert_eq!(scan_chunks(b"node.js/v20.17.0", 4).versions.len(), 0);
        // Two versions: reported, not chosen.
        let two = scan_chunks(b"node.js/v20.17.0\0 node.js/v22.4.1\0", 5);
        assert_eq!(two.versions.len(), 2);
        assert_eq!(two.version(), None);
    }

    #[test]
    fn the_scanner_carries_little_between_chunks() {
        let mut s = VersionScanner::new();
        let noise: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        for c in noise.chunks(4096) {
            s.feed(c);
            assert!(s.carry.len() <= MAX_PREFIX + 1 + MAX_TOKEN + 2, "{}", s.carry.len());
        }
        let mut partial = b"xxxxnode.js/v".to_vec();
        partial.extend_from_slice(&[b'9'; 60]);
        s.feed(&partial);
        assert!(s.carry.len() <= MAX_PREFIX + 1 + MAX_TOKEN + 2, "{}", s.carry.len());
        assert!(s.finish().versions.is_empty());
    }

    #[test]
    fn this_machines_node_binary() {
        // The real thing: Node.js on this machine (v20.20.2 when this was written). Its
        // version from the embedded markers must be what `node --version` prints.
        // Without Node.js on PATH there is nothing to check: say so instead of passing quietly.
        let Ok(path) = which_node() else {
            eprintln!("SKIPPED this_machines_node_binary: no node on PATH");
            return;
        };
        let out = std::process::Command::new(&path).arg("--version").output().unwrap();
        let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        eprintln!("{}: node --version says {printed}", path.display());
        let file = std::fs::File::open(&path).unwrap();
        let started = std::time::Instant::now();
        let scan = scan_reader(file, 512 << 20).unwrap();
        eprintln!("scanned in {:?}", started.elapsed());
        eprintln!("{} bytes scanned: {:?}", scan.bytes, scan.versions);
        assert!(scan.bytes > 10 << 20, "a real node binary is tens of MB");
        assert_eq!(scan.version(), Some(v(&printed)), "{path:?}: {scan:?}");
        let markers: Vec<Marker> = scan.versions.values().next().unwrap().iter().map(|m| m.0).collect();
        assert_eq!(markers, [Marker::Inspector, Marker::ReleaseUrl], "both markers present");
        if let Ok(header) = std::fs::read("/usr/include/node/node_version.h") {
            assert_eq!(parse_version_header(&header), Ok(v(&printed)));
        }
    }

    fn which_node() -> Result<std::path::PathBuf, ()> {
        let path = std::env::var_os("PATH").ok_or(())?;
        std::env::split_paths(&path)
            .map(|d| d.join("node"))
            .find(|p| p.is_file())
            .ok_or(())
    }

    #[test]
    fn detect_prefers_the_binary_and_reports_disagreements() {
        let binary = scan_chunks(b"node.js/v20.17.0\0", 64);
        let (rt, warnings) = detect(Some(&binary), Some(Ok(v("20.17.0"))), Some(Ok(v("20.17.0"))));
        let rt = rt.unwrap();
        assert_eq!((rt.version.clone(), rt.decided_by), (v("20.17.0"), Evidence::Binary));
        assert_eq!(rt.evidence.len(), 3);
        assert!(warnings.is_empty(), "{warnings:?}");

        // A later stage copied another node over: the binary wins, the rest is a warning.
        let (rt, warnings) = detect(Some(&binary), Some(Ok(v("20.17.0"))), Some(Ok(v("18.20.4"))));
        assert_eq!(rt.unwrap().version, v("20.17.0"));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("NODE_VERSION says Node.js 18.20.4") && warnings[0].contains("20.17.0"));

        // No binary marker: the header decides.
        let empty = scan_chunks(&[0u8; 100], 10);
        let (rt, warnings) = detect(Some(&empty), Some(Ok(v("22.4.1"))), None);
        assert_eq!(rt.unwrap().decided_by, Evidence::Header);
        assert!(warnings[0].contains("no version marker found in 100 bytes"));

        // Only the environment: used, and said to be unconfirmed.
        let (rt, warnings) = detect(None, None, Some(Ok(v("24.0.0"))));
        assert_eq!(rt.unwrap().decided_by, Evidence::Env);
        assert!(warnings[0].contains("only the image config's NODE_VERSION"));

        // Unreadable pieces are warnings; nothing at all is no runtime.
        let (rt, warnings) = detect(
            None,
            Some(Err(RuntimeError::HeaderMissing("MAJOR"))),
            Some(Err(RuntimeError::Env)),
        );
        assert!(rt.is_none());
        assert_eq!(warnings.len(), 2);
        assert_eq!(detect(None, None, None), (None, vec![]));

        // Two versions in one binary: not used, the header decides.
        let two = scan_chunks(b"node.js/v20.17.0\0node.js/v22.4.1\0", 64);
        let (rt, warnings) = detect(Some(&two), Some(Ok(v("22.4.1"))), None);
        assert_eq!(rt.unwrap().decided_by, Evidence::Header);
        assert!(warnings[0].contains("2 different versions"));
    }
}
