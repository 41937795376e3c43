//! Go binaries: the build info the Go toolchain embeds in every binary it links (what
//! `go version -m BINARY` prints), found in a byte stream with bounded memory.
//!
//! # The format (Go 1.18 and later)
//!
//! The linker writes a `.go.buildinfo` section that begins with a 32-byte header: the
//! 14-byte magic `\xff Go buildinf:`, the pointer size (1 byte), a flags byte (bit 0: big
//! endian; bit 1: the strings are inline), then padding. With the inline flag, two strings
//! follow the header, each prefixed by its length as an unsigned LEB128 varint: the Go
//! toolchain version (`go1.19.8`) and the module info. The module info is framed by two
//! 16-byte sentinels and holds tab-separated lines:
//!
//! ```text
//! path    example.com/hello
//! mod     example.com/hello   (devel)
//! dep     golang.org/x/text   v0.3.6   h1:…
//! =>      ./text              (devel)   (the dep above is replaced by a local directory)
//! build   -compiler=gc
//! ```
//!
//! Before Go 1.18 the header held two pointers (to the version string and the module info)
//! instead: following them needs the ELF's virtual-address map and a second look at bytes
//! already streamed past. That older format is reported as unreadable (`not_checked`,
//! with its path), never read as "no modules".
//!
//! # In a stream
//!
//! [`GoScanner`] is fed a file in chunks of any size. It looks for the magic at a 16-byte
//! boundary (where the linker aligns the section) followed by a plausible header (pointer
//! size 4 or 8, known flags), and after each of at most
//! [`MAX_CANDIDATES`] occurrences of the magic keeps exactly the bytes the lengths ask for,
//! up to [`MAX_BUILD_INFO`]. A length that runs past that cap or past the end of the file is
//! a lie: the binary is unreadable, with a reason naming neither its bytes nor a guess.
//! The magic can also occur as a literal inside a program that reads build info (the `go`
//! command itself); the first occurrence that decodes wins.

use memchr::memmem;
use serde::{Deserialize, Serialize};

/// The first bytes of the `.go.buildinfo` section.
pub const MAGIC: &[u8] = b"\xff Go buildinf:";
/// What the Go linker writes at the start of a binary's text (`go tool buildid`).
pub const BUILD_ID: &[u8] = b"\xff Go build ID: \"";
/// The most bytes of build info kept (header and both strings): a module list of a
/// thousand dependencies is ~150 KB.
pub const MAX_BUILD_INFO: usize = 1 << 20;
/// Occurrences of the magic followed; a real binary has one (two in the `go` command).
pub const MAX_CANDIDATES: usize = 4;
const HEADER: usize = 32;
const FLAG_INLINE: u8 = 0x2;
/// A LEB128 varint of a `usize` is at most this long.
const MAX_VARINT: usize = 10;

/// One module of a Go binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    pub path: String,
    /// `v0.3.6`, a pseudo-version, or `(devel)` for a main module built from a checkout.
    pub version: String,
    /// A `=>` replacement: the module whose code was really built (`version` `(devel)` or
    /// empty for a local directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace: Option<Box<Module>>,
}

/// What a Go binary says of itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The toolchain that built it, as written: `go1.19.8`.
    pub go_version: String,
    /// The main package's import path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main: Option<Module>,
    pub deps: Vec<Module>,
}

/// The verdict on one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GoBinary {
    Read(BuildInfo),
    /// A Go binary (its markers are there) whose build info could not be read: why.
    Unreadable(String),
}

/// Why build info could not be decoded. Messages state lengths and offsets, never bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GoError {
    #[error("Go build info in the pre-Go 1.18 pointer format (no inline strings); its modules were not read")]
    PointerFormat,
    #[error("Go build info has a malformed length varint at offset {0}")]
    Varint(usize),
    #[error(
        "Go build info says a string of {len} bytes at offset {at}: past the {MAX_BUILD_INFO}-byte cap or the end of the file; lengths that lie are not followed"
    )]
    Length { at: usize, len: u64 },
    #[error("Go build info's version string is not a Go toolchain version")]
    Version,
    #[error("Go build info's module list is not UTF-8")]
    Utf8,
    /// The magic's bytes, but not a build-info header (a pointer size other than 4 or 8, or
    /// unknown flags): the string inside another program (this one holds it as a constant).
    #[error("not a Go build-info header")]
    NotHeader,
}

/// The Go linker aligns the build-info section (and the text its build ID starts) to 16
/// bytes, and ELF keeps file offsets congruent to addresses: a marker elsewhere in a file is
/// a string some other program holds, not a Go binary's.
const ALIGN: u64 = 16;

/// The result of decoding a buffer that begins with the magic.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    /// The buffer must be at least this long.
    Need(usize),
    Done(Result<BuildInfo, GoError>),
}

fn uvarint(buf: &[u8], at: usize) -> Result<Option<(u64, usize)>, GoError> {
    let mut value: u64 = 0;
    for i in 0..MAX_VARINT {
        let Some(&b) = buf.get(at + i) else {
            return Ok(None);
        };
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return Err(GoError::Varint(at));
        }
        value |= part << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    Err(GoError::Varint(at))
}

/// Decodes `buf` (the magic first): what it holds, or how much more it needs.
fn decode(buf: &[u8]) -> Decoded {
    // The pointer size and flags follow the magic: anything else is not a header at all.
    if let (Some(&ptr_size), Some(&flags)) = (buf.get(14), buf.get(15))
        && (!matches!(ptr_size, 4 | 8) || flags & !0x3 != 0)
    {
        return Decoded::Done(Err(GoError::NotHeader));
    }
    if buf.len() < HEADER {
        return Decoded::Need(HEADER + MAX_VARINT);
    }
    let flags = buf.get(15).copied().unwrap_or(0);
    if flags & FLAG_INLINE == 0 {
        return Decoded::Done(Err(GoError::PointerFormat));
    }
    let mut at = HEADER;
    let mut strings: Vec<&[u8]> = Vec::with_capacity(2);
    for _ in 0..2 {
        let (len, n) = match uvarint(buf, at) {
            Err(e) => return Decoded::Done(Err(e)),
            Ok(None) => return Decoded::Need(at + MAX_VARINT),
            Ok(Some(v)) => v,
        };
        let start = at + n;
        let end = match usize::try_from(len).ok().and_then(|l| start.checked_add(l)) {
            Some(end) if end <= MAX_BUILD_INFO => end,
            _ => return Decoded::Done(Err(GoError::Length { at, len })),
        };
        let Some(s) = buf.get(start..end) else {
            return Decoded::Need(end + if strings.is_empty() { MAX_VARINT } else { 0 });
        };
        strings.push(s);
        at = end;
    }
    let (version, modinfo) = (strings[0], strings[1]);
    let version = String::from_utf8_lossy(version).into_owned();
    if !version.starts_with("go") || version.len() > 64 || version.contains(['\n', '\t']) {
        return Decoded::Done(Err(GoError::Version));
    }
    // The module info is framed by 16-byte sentinels, as the runtime checks: a newline
    // just before the closing one.
    let inner = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        &modinfo[16..modinfo.len() - 16]
    } else {
        modinfo
    };
    let Ok(text) = std::str::from_utf8(inner) else {
        return Decoded::Done(Err(GoError::Utf8));
    };
    Decoded::Done(Ok(parse_modinfo(version, text)))
}

/// Reads the module lines (`path`, `mod`, `dep`, `=>`); other lines (`build`) are skipped.
#[must_use]
pub fn parse_modinfo(go_version: String, text: &str) -> BuildInfo {
    let mut info = BuildInfo {
        go_version,
        path: None,
        main: None,
        deps: Vec::new(),
    };
    let module = |fields: &[&str]| -> Option<Module> {
        let path = fields.first().filter(|p| !p.is_empty())?;
        Some(Module {
            path: (*path).to_string(),
            version: fields.get(1).copied().unwrap_or_default().to_string(),
            replace: None,
        })
    };
    // Which module a `=>` line replaces: the last `mod` or `dep`.
    let mut last_is_main = false;
    for line in text.lines() {
        let mut fields = line.split('\t');
        let key = fields.next().unwrap_or_default();
        let rest: Vec<&str> = fields.collect();
        match key {
            "path" => info.path = rest.first().map(|p| (*p).to_string()),
            "mod" => {
                info.main = module(&rest);
                last_is_main = true;
            }
            "dep" => {
                if let Some(m) = module(&rest) {
                    info.deps.push(m);
                    last_is_main = false;
                }
            }
            "=>" => {
                let target = if last_is_main {
                    info.main.as_mut()
                } else {
                    info.deps.last_mut()
                };
                if let (Some(t), Some(r)) = (target, module(&rest)) {
                    t.replace = Some(Box::new(r));
                }
            }
            _ => {}
        }
    }
    info
}

/// The `stdlib` version OSV's Go records use for a toolchain version: `go1.19.8` →
/// `1.19.8`, `go1.21` → `1.21.0`, `go1.21rc2` → `1.21.0-rc.2` (OSV's `1.21.0-rc.2`), with
/// any ` X:…` experiment suffix dropped. `None` for `devel` builds and anything else.
#[must_use]
pub fn stdlib_version(go: &str) -> Option<String> {
    let v = go.strip_prefix("go")?.split([' ', '-']).next()?;
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (release, pre) = v.split_at(split);
    let mut parts: Vec<&str> = release.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty() || p.len() > 9) {
        return None;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    let mut out = parts.join(".");
    if !pre.is_empty() {
        let tag = pre.trim_end_matches(|c: char| c.is_ascii_digit());
        let num = &pre[tag.len()..];
        if !matches!(tag, "rc" | "beta") || num.is_empty() {
            return None;
        }
        out = format!("{out}-{tag}.{num}");
    }
    semver::Version::parse(&out).ok().map(|_| out)
}

/// A pattern found across chunk boundaries.
struct Seek {
    finder: memmem::Finder<'static>,
    tail: Vec<u8>,
}

impl Seek {
    fn new(needle: &'static [u8]) -> Self {
        Seek {
            finder: memmem::Finder::new(needle),
            tail: Vec::new(),
        }
    }

    /// The end offsets (in `chunk`) of the matches that end inside `chunk`.
    fn ends(&mut self, chunk: &[u8], out: &mut Vec<usize>) {
        let n = self.finder.needle().len();
        if !self.tail.is_empty() {
            // Matches that straddle the boundary: the tail plus the first n-1 bytes.
            let mut joined = std::mem::take(&mut self.tail);
            let from_tail = joined.len();
            joined.extend_from_slice(&chunk[..chunk.len().min(n - 1)]);
            for i in self.finder.find_iter(&joined) {
                if i < from_tail {
                    out.push(i + n - from_tail);
                }
            }
            joined.truncate(from_tail);
            self.tail = joined;
        }
        out.extend(self.finder.find_iter(chunk).map(|i| i + n));
        // Keep the last n-1 bytes of the stream so far.
        let keep = n - 1;
        if chunk.len() >= keep {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            self.tail.extend_from_slice(chunk);
            let extra = self.tail.len().saturating_sub(keep);
            self.tail.drain(..extra);
        }
    }
}

struct Candidate {
    buf: Vec<u8>,
    need: usize,
    done: Option<Result<BuildInfo, GoError>>,
}

impl Candidate {
    fn new() -> Self {
        let mut c = Candidate {
            buf: MAGIC.to_vec(),
            need: HEADER + MAX_VARINT,
            done: None,
        };
        c.settle();
        c
    }

    /// Appends what the decoder still needs from `bytes`.
    fn feed(&mut self, bytes: &[u8]) {
        let mut bytes = bytes;
        while self.done.is_none() && !bytes.is_empty() {
            let take = self.need.saturating_sub(self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            self.settle();
            if take == 0 {
                break;
            }
        }
    }

    fn settle(&mut self) {
        while self.done.is_none() && self.buf.len() >= self.need {
            match decode(&self.buf) {
                Decoded::Done(r) => self.done = Some(r),
                Decoded::Need(n) if n > self.buf.len() => self.need = n.min(MAX_BUILD_INFO),
                // The decoder asks for nothing new: a bug, not a reason to loop.
                Decoded::Need(_) => self.done = Some(Err(GoError::Varint(self.buf.len()))),
            }
        }
    }

    fn finish(mut self) -> Result<BuildInfo, GoError> {
        if let Some(r) = self.done.take() {
            return r;
        }
        // The file ended first: decode what there is; a length past it is a lie.
        match decode(&self.buf) {
            Decoded::Done(r) => r,
            Decoded::Need(_) => {
                let at = HEADER;
                let len = uvarint(&self.buf, at).ok().flatten().map_or(0, |(l, _)| l);
                Err(GoError::Length { at, len })
            }
        }
    }
}

/// Finds a Go binary's build info in a stream of any chunking (see the module docs).
pub struct GoScanner {
    magic: Seek,
    candidates: Vec<Candidate>,
    ends: Vec<usize>,
    /// Bytes fed before the current chunk.
    offset: u64,
}

impl Default for GoScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl GoScanner {
    #[must_use]
    pub fn new() -> Self {
        GoScanner {
            magic: Seek::new(MAGIC),
            candidates: Vec::new(),
            ends: Vec::new(),
            offset: 0,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        let offset = self.offset;
        self.offset += chunk.len() as u64;
        // Where a marker ending at `end` of this chunk starts in the file.
        let aligned = |end: usize, len: usize| {
            (offset + end as u64)
                .checked_sub(len as u64)
                .is_some_and(|start| start % ALIGN == 0)
        };
        for c in &mut self.candidates {
            c.feed(chunk);
        }
        if self.candidates.iter().any(|c| matches!(c.done, Some(Ok(_)))) {
            return;
        }
        let mut ends = std::mem::take(&mut self.ends);
        ends.clear();
        self.magic.ends(chunk, &mut ends);
        ends.retain(|&end| aligned(end, MAGIC.len()));
        for &end in &ends {
            if self.candidates.len() >= MAX_CANDIDATES {
                break;
            }
            let mut c = Candidate::new();
            c.feed(&chunk[end..]);
            self.candidates.push(c);
        }
        self.ends = ends;
    }

    /// `None`: not a Go binary (no markers at all).
    #[must_use]
    pub fn finish(self) -> Option<GoBinary> {
        let mut first_error = None;
        for c in self.candidates {
            match c.finish() {
                Ok(info) => return Some(GoBinary::Read(info)),
                Err(GoError::NotHeader) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map(|e| GoBinary::Unreadable(e.to_string()))
    }
}

/// One Go module (or the toolchain's standard library, `stdlib`) an image's Go binaries
/// were built from, with every binary that holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GoPackage {
    /// The module path; `stdlib` for the toolchain (OSV's name for it).
    pub name: String,
    /// As the binary states it (`v0.3.6`, a pseudo-version, `(devel)`); for `stdlib` the
    /// toolchain's version as OSV spells it (`1.19.8` for `go1.19.8`).
    pub version: String,
    /// The binary's main module (`(devel)` when built from a checkout: not matched).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub main: bool,
    /// A `=>` replacement by a local directory: the code built came from there, and the
    /// version is the one the `go.mod` requires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// The module a versioned `=>` replacement stands in for (`name@version` is then the
    /// replacement, the code really built).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    pub binaries: Vec<String>,
    pub layer: std::sync::Arc<super::LayerRef>,
}

impl GoPackage {
    /// Whether advisories can name this version: not a main module built from a checkout.
    #[must_use]
    pub fn is_matchable(&self) -> bool {
        !(self.main && self.version == "(devel)")
    }
}

/// The Go binaries of an image and what they hold.
#[derive(Clone, Debug, Default)]
pub struct GoInventory {
    pub packages: Vec<GoPackage>,
    /// Binaries whose build info was read.
    pub binaries: Vec<String>,
    /// Go binaries whose build info could not be read, with why.
    pub unreadable: Vec<(String, String)>,
}

/// Lists the modules of every Go binary in the final filesystem.
pub fn inventory(
    fs: &crate::layer::Filesystem<super::Fact>,
    layer_ref: &impl Fn(usize) -> std::sync::Arc<super::LayerRef>,
) -> GoInventory {
    use std::collections::{BTreeMap, BTreeSet};
    struct Acc {
        main: bool,
        replaced_by: Option<String>,
        replaces: Option<String>,
        binaries: BTreeSet<String>,
        layer: usize,
    }
    let mut found: BTreeMap<(String, String), Acc> = BTreeMap::new();
    let mut out = GoInventory::default();
    for (path, fact) in fs.facts() {
        let super::Fact::Binary(facts) = fact else { continue };
        let layer = fs.get(path).map_or(0, |n| n.layer);
        let info = match &facts.go {
            None => continue,
            Some(GoBinary::Unreadable(reason)) => {
                out.unreadable.push((path.clone(), reason.clone()));
                continue;
            }
            Some(GoBinary::Read(info)) => info,
        };
        out.binaries.push(path.clone());
        let mut add = |name: &str, version: &str, main: bool, replaced_by: Option<String>, replaces: Option<String>| {
            let acc = found
                .entry((name.to_string(), version.to_string()))
                .or_insert_with(|| Acc {
                    main,
                    replaced_by: replaced_by.clone(),
                    replaces: replaces.clone(),
                    binaries: BTreeSet::new(),
                    layer,
                });
            acc.binaries.insert(path.clone());
            acc.layer = acc.layer.min(layer);
        };
        let stdlib = stdlib_version(&info.go_version).unwrap_or_else(|| info.go_version.clone());
        add("stdlib", &stdlib, false, None, None);
        for (m, main) in info
            .main
            .iter()
            .map(|m| (m, true))
            .chain(info.deps.iter().map(|m| (m, false)))
        {
            match m.replace.as_deref() {
                // A versioned replacement is the module really built.
                // A local directory has no version (`(devel)` since Go 1.18, empty before).
                Some(r) if !r.version.is_empty() && r.version != "(devel)" => add(
                    &r.path,
                    &r.version,
                    main,
                    None,
                    Some(format!("{}@{}", m.path, m.version)),
                ),
                Some(r) => add(&m.path, &m.version, main, Some(r.path.clone()), None),
                None => add(&m.path, &m.version, main, None, None),
            }
        }
    }
    out.packages = found
        .into_iter()
        .map(|((name, version), acc)| GoPackage {
            name,
            version,
            main: acc.main,
            replaced_by: acc.replaced_by,
            replaces: acc.replaces,
            binaries: acc.binaries.into_iter().collect(),
            layer: layer_ref(acc.layer),
        })
        .collect();
    out
}

/// The coverage entries for Go binaries: the ones read, and the ones that could not be.
#[must_use]
pub fn coverage(go: &GoInventory) -> Vec<super::coverage::Coverage> {
    super::coverage::Coverage::of_binaries(
        super::coverage::Source::Go,
        go.packages.len(),
        &go.binaries,
        go.unreadable.iter().map(|(p, _)| p.clone()).collect(),
        "Go binaries whose build info could not be read (see the warnings): their modules and Go toolchain were NOT checked",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: [u8; 16] = [
        0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6,
    ];
    const END: [u8; 16] = [
        0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2,
    ];

    fn varint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    /// A `.go.buildinfo` section as the Go 1.18+ linker lays it out.
    fn section(version: &str, modinfo: &str) -> Vec<u8> {
        let mut s = MAGIC.to_vec();
        s.push(8);
        s.push(FLAG_INLINE);
        s.resize(HEADER, 0);
        varint(version.len(), &mut s);
        s.extend_from_slice(version.as_bytes());
        let mut m = START.to_vec();
        m.extend_from_slice(modinfo.as_bytes());
        m.extend_from_slice(&END);
        varint(m.len(), &mut s);
        s.extend_from_slice(&m);
        s
    }

    const MODINFO: &str = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n\
        dep\tgolang.org/x/text\tv0.3.6\t\n=>\t./text\t\t\n\
        dep\tgolang.org/x/net\tv0.0.0-20220722155237-a158d28d115b\th1:abc=\n\
        build\t-compiler=gc\n";

    fn scan(bytes: &[u8], chunk: usize) -> Option<GoBinary> {
        let mut s = GoScanner::new();
        for c in bytes.chunks(chunk.max(1)) {
            s.feed(c);
        }
        s.finish()
    }

    #[test]
    fn reads_inline_build_info_in_any_chunking() {
        let mut file = vec![0x7f, b'E', b'L', b'F'];
        // The section at a 16-byte boundary, as the linker aligns it.
        file.extend(std::iter::repeat_n(0xffu8, 5004));
        file.extend_from_slice(&section("go1.19.8", MODINFO));
        file.extend(std::iter::repeat_n(0u8, 3000));
        for chunk in [1, 3, 13, 14, 15, 64, 4096, 1 << 20] {
            let Some(GoBinary::Read(info)) = scan(&file, chunk) else {
                panic!("chunk {chunk}: not read");
            };
            assert_eq!(info.go_version, "go1.19.8");
            assert_eq!(info.path.as_deref(), Some("example.com/hello"));
            assert_eq!(info.main.as_ref().map(|m| m.version.as_str()), Some("(devel)"));
            assert_eq!(info.deps.len(), 2, "chunk {chunk}");
            assert_eq!(info.deps[0].path, "golang.org/x/text");
            assert_eq!(info.deps[0].version, "v0.3.6");
            assert_eq!(info.deps[0].replace.as_ref().map(|r| r.path.as_str()), Some("./text"));
            assert_eq!(info.deps[1].version, "v0.0.0-20220722155237-a158d28d115b");
            assert!(info.deps[1].replace.is_none());
        }
    }

    #[test]
    fn lengths_that_lie_are_unreadable_never_an_over_read() {
        // Version length past the cap, past the end of the file, and a runaway varint.
        let mut huge = MAGIC.to_vec();
        huge.extend([8, FLAG_INLINE]);
        huge.resize(HEADER, 0);
        varint(1 << 40, &mut huge);
        huge.extend_from_slice(b"go1.19");
        let mut short = MAGIC.to_vec();
        short.extend([8, FLAG_INLINE]);
        short.resize(HEADER, 0);
        varint(5000, &mut short);
        short.extend_from_slice(b"go1.19");
        let mut runaway = MAGIC.to_vec();
        runaway.extend([8, FLAG_INLINE]);
        runaway.resize(HEADER, 0);
        runaway.extend([0xff; 12]);
        for (name, bytes) in [("huge", huge), ("short", short), ("runaway", runaway)] {
            for chunk in [1, 7, 4096] {
                match scan(&bytes, chunk) {
                    Some(GoBinary::Unreadable(reason)) => assert!(reason.contains("Go build info"), "{name}: {reason}"),
                    other => panic!("{name}/{chunk}: {other:?}"),
                }
            }
        }
        // The pointer format, and a build ID with no build info at all.
        let mut old = MAGIC.to_vec();
        old.extend([8, 0]);
        old.resize(HEADER, 0);
        assert!(matches!(scan(&old, 5), Some(GoBinary::Unreadable(r)) if r.contains("pre-Go 1.18")));
        let id = b"\x7fELF............\xff Go build ID: \"abc/def\"\n \xff".to_vec();
        // The build ID marker alone is not taken for a Go binary: the same 16 bytes sit, by
        // chance 16-byte aligned, in this program's own constants (every Go binary since 1.13
        // has build info; before 1.18 in the pointer format, reported above).
        assert_eq!(scan(&id, 3), None);
        assert_eq!(scan(b"\x7fELF plain C binary", 4), None);
    }

    #[test]
    fn a_literal_magic_before_the_section_does_not_hide_it() {
        // The `go` command carries the magic in its rodata too.
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(b"\x00\x00 not a header at all");
        file.resize(208, 0);
        file.extend_from_slice(&section("go1.21.0", "path\tcmd/go\nmod\tcmd\t(devel)\t\n"));
        let Some(GoBinary::Read(info)) = scan(&file, 50) else {
            panic!("not read")
        };
        assert_eq!(info.go_version, "go1.21.0");
    }

    #[test]
    fn markers_inside_another_program_are_not_a_go_binary() {
        // A Rust program holding both markers as constants (imagegate itself does): in its
        // rodata, off the 16-byte alignment the Go linker gives them, or without a header.
        let mut file = b"\x7fELF".to_vec();
        file.resize(37, 0);
        file.extend_from_slice(&section("go1.19.8", MODINFO));
        while file.len() % 16 != 3 {
            file.push(b'.');
        }
        file.extend_from_slice(BUILD_ID);
        file.resize(4096, 0);
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(b"\x00\x00 not a header");
        for chunk in [1, 64, 4096] {
            assert_eq!(scan(&file, chunk), None, "chunk {chunk}");
        }
    }

    #[test]
    fn toolchain_versions_as_osv_spells_them() {
        for (go, osv) in [
            ("go1.19.8", Some("1.19.8")),
            ("go1.21", Some("1.21.0")),
            ("go1.21rc2", Some("1.21.0-rc.2")),
            ("go1.9beta1", Some("1.9.0-beta.1")),
            ("go1.22.1 X:boringcrypto", Some("1.22.1")),
            ("devel go1.23-abcdef", None),
            ("go", None),
            ("go1.x", None),
        ] {
            assert_eq!(stdlib_version(go).as_deref(), osv, "{go}");
        }
    }
}
