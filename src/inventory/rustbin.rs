//! Rust binaries built with `cargo auditable`: the crates they were built from, found in a
//! byte stream with bounded memory.
//!
//! `cargo auditable build` links a `.dep-v0` section into the binary: the dependency tree
//! as JSON (`{"packages":[{"name","version","source","kind","dependencies","root"}]}`),
//! zlib-compressed. Where that section sits is written in the ELF section headers, which
//! come at the end of the file, after the section itself: a one-pass reader cannot look it
//! up. So [`RustScanner`] recognises the section by its content instead: a zlib header
//! (`0x78` and a valid check byte) whose first inflated bytes are `{"packages":`. Each
//! candidate costs a trial inflate of at most [`TRIAL_INPUT`] bytes into a 16-byte buffer;
//! the one that matches is inflated to its end, capped at [`MAX_JSON`] bytes.
//!
//! Crates whose `source` is `crates.io` are matched against OSV's `crates.io` ecosystem;
//! local and git crates are listed (they are in the binary) but have no advisories.

use flate2::{Decompress, FlushDecompress, Status};
use serde::{Deserialize, Serialize};

/// The most inflated JSON read: a dependency tree of a thousand crates is ~150 KB.
pub const MAX_JSON: usize = 8 << 20;
/// Compressed bytes a trial may read before its first 16 inflated bytes (a dynamic Huffman
/// block header is at most ~300 bytes).
pub const TRIAL_INPUT: usize = 512;
const PREFIX: &[u8] = b"{\"packages\":";

/// One crate of a cargo-auditable binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crate {
    pub name: String,
    pub version: String,
    /// `crates.io`, `local`, `git`, or another registry.
    pub source: String,
    /// `build` for build-time dependencies (build scripts, proc macros); `runtime` otherwise.
    pub kind: String,
    /// The binary's own crate.
    pub root: bool,
}

#[derive(Deserialize)]
struct Audit {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    source: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    root: bool,
}

/// The verdict on one file that carries audit data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RustBinary {
    Read(Vec<Crate>),
    /// The section is there but could not be read: why (no bytes of it quoted).
    Unreadable(String),
}

/// Parses the inflated `.dep-v0` JSON.
///
/// # Errors
///
/// A message (without the input) when it is not cargo-auditable's JSON.
pub fn parse_json(json: &[u8]) -> Result<Vec<Crate>, String> {
    let audit: Audit = serde_json::from_slice(json).map_err(|e| {
        format!(
            "cargo-auditable data is not the expected JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    Ok(audit
        .packages
        .into_iter()
        .map(|p| Crate {
            name: p.name,
            version: p.version,
            source: p.source,
            kind: p.kind.unwrap_or_else(|| "runtime".into()),
            root: p.root,
        })
        .collect())
}

fn zlib_header(a: u8, b: u8) -> bool {
    // CM = 8 (deflate), CINFO = 7, FDICT = 0, and the check bits: the four headers zlib
    // and miniz write.
    a == 0x78 && matches!(b, 0x01 | 0x5e | 0x9c | 0xda)
}

/// Finds and inflates a cargo-auditable section in a stream of any chunking.
pub struct RustScanner {
    /// The last [`TRIAL_INPUT`] bytes, whose candidates need the next chunk to be tried.
    carry: Vec<u8>,
    buf: Vec<u8>,
    trial: Decompress,
    active: Option<(Decompress, Vec<u8>)>,
    done: Option<RustBinary>,
}

impl Default for RustScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl RustScanner {
    #[must_use]
    pub fn new() -> Self {
        RustScanner {
            carry: Vec::new(),
            buf: Vec::new(),
            trial: Decompress::new(true),
            active: None,
            done: None,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.done.is_some() {
            return;
        }
        if self.active.is_some() {
            self.inflate(chunk);
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.extend_from_slice(&self.carry);
        buf.extend_from_slice(chunk);
        self.search(&buf, false);
        self.buf = buf;
    }

    /// Tries every candidate in `buf` that has [`TRIAL_INPUT`] bytes after it (all of them
    /// when `last`), starts inflating at the first that is audit data, and keeps the rest.
    fn search(&mut self, buf: &[u8], last: bool) {
        let limit = if last {
            buf.len().saturating_sub(1)
        } else {
            buf.len().saturating_sub(TRIAL_INPUT)
        };
        for i in memchr::memchr_iter(0x78, buf.get(..limit).unwrap_or_default()) {
            if !buf.get(i + 1).is_some_and(|&b| zlib_header(0x78, b)) {
                continue;
            }
            let input = &buf[i..buf.len().min(i + TRIAL_INPUT)];
            if self.is_audit_data(input) {
                self.active = Some((Decompress::new(true), Vec::new()));
                self.carry.clear();
                self.inflate(&buf[i..]);
                return;
            }
        }
        self.carry.clear();
        self.carry.extend_from_slice(buf.get(limit..).unwrap_or_default());
    }

    fn is_audit_data(&mut self, input: &[u8]) -> bool {
        self.trial.reset(true);
        let mut out = [0u8; 16];
        let mut filled = 0;
        let mut read = 0;
        while filled < PREFIX.len() && read < input.len() {
            let (before_in, before_out) = (self.trial.total_in(), self.trial.total_out());
            let status = self
                .trial
                .decompress(&input[read..], &mut out[filled..], FlushDecompress::None);
            read += (self.trial.total_in() - before_in) as usize;
            filled += (self.trial.total_out() - before_out) as usize;
            match status {
                Ok(Status::Ok) if self.trial.total_in() > before_in || self.trial.total_out() > before_out => {}
                _ => break,
            }
        }
        filled >= PREFIX.len() && out.starts_with(PREFIX)
    }

    fn inflate(&mut self, mut input: &[u8]) {
        let Some((d, out)) = self.active.as_mut() else { return };
        while !input.is_empty() {
            if out.len() >= MAX_JSON {
                self.done = Some(RustBinary::Unreadable(format!(
                    "cargo-auditable data inflates past the {MAX_JSON}-byte cap; its crates were not read"
                )));
                self.active = None;
                return;
            }
            out.reserve((64 << 10).min(MAX_JSON - out.len()));
            let (before, grown) = (d.total_in(), out.len());
            let status = d.decompress_vec(input, out, FlushDecompress::None);
            let used = (d.total_in() - before) as usize;
            input = &input[used.min(input.len())..];
            if matches!(status, Ok(Status::Ok | Status::BufError)) && used == 0 && out.len() == grown {
                // No progress: wait for more input rather than spin.
                return;
            }
            match status {
                Ok(Status::StreamEnd) => {
                    let json = std::mem::take(out);
                    self.active = None;
                    self.done = Some(match parse_json(&json) {
                        Ok(crates) => RustBinary::Read(crates),
                        Err(e) => RustBinary::Unreadable(e),
                    });
                    return;
                }
                Ok(_) => {}
                Err(_) => {
                    self.active = None;
                    self.done = Some(RustBinary::Unreadable(
                        "cargo-auditable data is corrupt (the zlib stream does not inflate)".into(),
                    ));
                    return;
                }
            }
        }
    }

    /// `None`: no audit data in the file.
    #[must_use]
    pub fn finish(mut self) -> Option<RustBinary> {
        if self.done.is_none() && self.active.is_none() {
            let carry = std::mem::take(&mut self.carry);
            self.search(&carry, true);
        }
        if self.active.take().is_some() {
            return Some(RustBinary::Unreadable(
                "cargo-auditable data is cut short by the end of the file".into(),
            ));
        }
        self.done
    }
}

/// One crate of an image's cargo-auditable binaries, with every binary that holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RustPackage {
    pub name: String,
    pub version: String,
    /// `crates.io` (matched), `local`, `git`, or another registry (listed, not matched).
    pub source: String,
    /// `build` when every binary lists it as a build-time dependency.
    pub kind: String,
    pub binaries: Vec<String>,
    pub layer: std::sync::Arc<super::LayerRef>,
}

impl RustPackage {
    /// Whether OSV's `crates.io` advisories apply.
    #[must_use]
    pub fn is_matchable(&self) -> bool {
        self.source == "crates.io"
    }
}

/// The cargo-auditable binaries of an image and what they hold.
#[derive(Clone, Debug, Default)]
pub struct RustInventory {
    pub packages: Vec<RustPackage>,
    pub binaries: Vec<String>,
    pub unreadable: Vec<(String, String)>,
}

/// Lists the crates of every cargo-auditable binary in the final filesystem.
pub fn inventory(
    fs: &crate::layer::Filesystem<super::Fact>,
    layer_ref: &impl Fn(usize) -> std::sync::Arc<super::LayerRef>,
) -> RustInventory {
    use std::collections::{BTreeMap, BTreeSet};
    /// (name, version, source) → (kind, binaries, earliest layer).
    type Found = BTreeMap<(String, String, String), (String, BTreeSet<String>, usize)>;
    let mut found: Found = BTreeMap::new();
    let mut out = RustInventory::default();
    for (path, fact) in fs.facts() {
        let super::Fact::Binary(facts) = fact else { continue };
        let layer = fs.get(path).map_or(0, |n| n.layer);
        let crates = match &facts.rust {
            None => continue,
            Some(RustBinary::Unreadable(reason)) => {
                out.unreadable.push((path.clone(), reason.clone()));
                continue;
            }
            Some(RustBinary::Read(crates)) => crates,
        };
        out.binaries.push(path.clone());
        for c in crates {
            let acc = found
                .entry((c.name.clone(), c.version.clone(), c.source.clone()))
                .or_insert_with(|| (c.kind.clone(), BTreeSet::new(), layer));
            if c.kind != "build" {
                acc.0 = c.kind.clone();
            }
            acc.1.insert(path.clone());
            acc.2 = acc.2.min(layer);
        }
    }
    out.packages = found
        .into_iter()
        .map(|((name, version, source), (kind, binaries, layer))| RustPackage {
            name,
            version,
            source,
            kind,
            binaries: binaries.into_iter().collect(),
            layer: layer_ref(layer),
        })
        .collect();
    out
}

/// The coverage entries for cargo-auditable binaries.
#[must_use]
pub fn coverage(rust: &RustInventory) -> Vec<super::coverage::Coverage> {
    super::coverage::Coverage::of_binaries(
        super::coverage::Source::Rust,
        rust.packages.len(),
        &rust.binaries,
        rust.unreadable.iter().map(|(p, _)| p.clone()).collect(),
        "Rust binaries whose cargo-auditable data could not be read (see the warnings): their crates were NOT checked",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const JSON: &str = r#"{"packages":[{"name":"hello","version":"0.1.0","source":"local","dependencies":[1],"root":true},{"name":"smallvec","version":"1.6.0","source":"crates.io"},{"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"}]}"#;

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    }

    fn scan(bytes: &[u8], chunk: usize) -> Option<RustBinary> {
        let mut s = RustScanner::new();
        for c in bytes.chunks(chunk.max(1)) {
            s.feed(c);
        }
        s.finish()
    }

    #[test]
    fn finds_the_section_by_its_content_in_any_chunking() {
        // Other zlib streams (and 'x' bytes) before it are not it.
        let mut file = b"\x7fELF xx\x78\x9c".to_vec();
        file.extend(zlib(b"some other compressed data"));
        file.extend(std::iter::repeat_n(b'x', 3000));
        file.extend(zlib(JSON.as_bytes()));
        file.extend(std::iter::repeat_n(0u8, 100));
        for chunk in [1, 2, 100, 511, 512, 513, 1 << 16] {
            let Some(RustBinary::Read(crates)) = scan(&file, chunk) else {
                panic!("chunk {chunk}: not found");
            };
            assert_eq!(crates.len(), 3);
            assert_eq!(
                (crates[1].name.as_str(), crates[1].version.as_str()),
                ("smallvec", "1.6.0")
            );
            assert_eq!(crates[1].source, "crates.io");
            assert_eq!(crates[2].kind, "build");
            assert!(crates[0].root);
        }
        assert_eq!(scan(b"\x7fELF no audit data here", 3), None);
    }

    #[test]
    fn reads_a_binary_built_by_cargo_auditable() {
        // testdata/rustbin/generate.sh: `cargo auditable build` of a crate using smallvec 1.6.0.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rustbin/smallvec-demo");
        let bytes = std::fs::read(path).unwrap();
        for chunk in [4096, 256 << 10] {
            let Some(RustBinary::Read(crates)) = scan(&bytes, chunk) else {
                panic!("no audit data found");
            };
            let names: Vec<(&str, &str, &str, bool)> = crates
                .iter()
                .map(|c| (c.name.as_str(), c.version.as_str(), c.source.as_str(), c.root))
                .collect();
            assert_eq!(
                names,
                [
                    ("smallvec", "1.6.0", "crates.io", false),
                    ("smallvec-demo", "0.1.0", "local", true)
                ]
            );
        }
    }

    #[test]
    fn a_bomb_a_cut_and_bad_json_are_unreadable() {
        let mut bomb = b"{\"packages\":[".to_vec();
        bomb.resize(MAX_JSON + 10, b' ');
        let bomb = zlib(&bomb);
        assert!(bomb.len() < 100_000, "the test's bomb is small: {}", bomb.len());
        assert!(matches!(scan(&bomb, 4096), Some(RustBinary::Unreadable(r)) if r.contains("cap")));
        let whole = zlib(JSON.as_bytes());
        let cut = &whole[..whole.len() - 8];
        assert!(matches!(scan(cut, 7), Some(RustBinary::Unreadable(r)) if r.contains("cut short")));
        let bad = zlib(br#"{"packages": 5}"#);
        assert!(matches!(scan(&bad, 64), Some(RustBinary::Unreadable(r)) if r.contains("JSON")));
    }
}
