//! Test image builder: layer tars built in memory, compressed, digested, and packed into the
//! containers `imagegate` reads (OCI layout directory, OCI archive, classic `docker save`,
//! Docker 25+ `docker save`, multi-platform indexes), with knobs to corrupt every part a gate
//! must verify.
//!
//! Everything is deterministic: fixed mtimes, uid/gid 0, entries in the order they were added
//! (parent directories are emitted just before their first child), JSON objects with sorted
//! keys, gzip with mtime 0. The same calls give the same bytes, which is what lets
//! `examples/make_demo.rs` and the tests share [`write_demo`] and compare bytes.
//!
//! Used by `tests/*.rs` (`mod support;`) and by `examples/make_demo.rs`
//! (`#[path = "../tests/it/support/mod.rs"] mod support;`).

#![allow(dead_code)]

pub mod cmd;
pub mod http;
pub mod registry;

// `examples/make_demo.rs` and the benches include this module and use only part of it.
#[allow(unused_imports)]
pub use cmd::{Cmd, Run, imagegate, isolated};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// mtime of every tar entry we write (2024-09-06T22:20:07Z, the Alpine 3.20.3 release day).
pub const MTIME: u64 = 1_725_661_207;
/// `created` of configs and history entries.
pub const CREATED: &str = "2024-09-06T22:20:07Z";

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The repository root (where `testdata/` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real Alpine 3.20.3 files copied from the minirootfs.
pub fn alpine_dir() -> PathBuf {
    repo_root().join("testdata/alpine-3.20.3")
}

/// The `warnings` of an inventory or scan report (none when the field is absent).
pub fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .map(|a| a.iter().map(|w| w.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `sha256:<hex>`
pub fn digest_of(data: &[u8]) -> String {
    if data.len() > 4 << 20 {
        // The sha2 crate unoptimised (tests build in debug) does ~20 MB/s.
        return sha256_stream(data, 0);
    }
    format!("sha256:{}", sha256_hex(data))
}

/// The hex part of `sha256:<hex>`.
pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// Pretty-printed JSON with sorted keys (serde_json's map is a BTreeMap here, but sort anyway
/// so the output does not depend on a feature flag).
pub fn json_bytes(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec(&sorted(v)).expect("serializing a Value cannot fail");
    out.push(b'\n');
    out
}

/// Compact JSON with sorted keys (what registries and `docker save` write for manifests).
pub fn json_compact(v: &Value) -> Vec<u8> {
    serde_json::to_vec(&sorted(v)).expect("serializing a Value cannot fail")
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
            let mut out = serde_json::Map::new();
            for (k, v) in b {
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Compression
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }

    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Compression::Gzip => gzip(data),
            Compression::Zstd => zstd_compress(data),
            Compression::None => data.to_vec(),
        }
    }
}

/// Deterministic gzip (mtime 0, no file name, default level).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_level(data, flate2::Compression::default())
}

/// Deterministic gzip at the fastest level (for big test inputs).
pub fn gzip_fast(data: &[u8]) -> Vec<u8> {
    gzip_level(data, flate2::Compression::fast())
}

fn gzip_level(data: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::with_capacity(data.len() / 4 + 64), level);
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

pub fn zstd_compress(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd into memory cannot fail")
}

// ---------------------------------------------------------------------------------------------
// Layer tars
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(Vec<u8>),
    Hardlink(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Entry {
    name: Vec<u8>,
    kind: Kind,
    mode: u32,
    /// Raw entries are written exactly as given: no prefix, no parent directories.
    raw: bool,
}

/// A layer (or any tar): entries in insertion order; parent directories are added on the fly
/// (as `docker`/buildkit do) unless [`Layer::without_parents`] is used.
#[derive(Clone, Debug, Default)]
pub struct Layer {
    entries: Vec<Entry>,
    prefix: String,
    no_parents: bool,
    pax: bool,
}

impl Layer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Names entries `./etc/passwd` instead of `etc/passwd` (like a minirootfs tarball).
    pub fn dot_prefix(mut self) -> Self {
        self.prefix = "./".into();
        self
    }

    /// Long names (over 100 bytes) as PAX `path`/`linkpath` records, as Go's archive/tar
    /// (docker, buildkit) writes them, instead of GNU `././@LongLink` entries.
    pub fn pax_long_names(mut self) -> Self {
        self.pax = true;
        self
    }

    /// Do not emit parent directory entries.
    pub fn without_parents(mut self) -> Self {
        self.no_parents = true;
        self
    }

    fn push(mut self, name: &str, kind: Kind, mode: u32) -> Self {
        let name = name.trim_start_matches('/').trim_end_matches('/');
        assert!(!name.is_empty(), "empty entry name: use raw_* for hostile names");
        self.entries.push(Entry {
            name: name.as_bytes().to_vec(),
            kind,
            mode,
            raw: false,
        });
        self
    }

    /// A regular file, mode 0644.
    pub fn file(self, path: &str, content: impl AsRef<[u8]>) -> Self {
        self.push(path, Kind::File(content.as_ref().to_vec()), 0o644)
    }

    pub fn file_mode(self, path: &str, content: impl AsRef<[u8]>, mode: u32) -> Self {
        self.push(path, Kind::File(content.as_ref().to_vec()), mode)
    }

    /// An executable placeholder (mode 0755).
    pub fn exe(self, path: &str, content: impl AsRef<[u8]>) -> Self {
        self.file_mode(path, content, 0o755)
    }

    pub fn dir(self, path: &str) -> Self {
        self.push(path, Kind::Dir, 0o755)
    }

    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.push(path, Kind::Symlink(target.as_bytes().to_vec()), 0o777)
    }

    /// A hard link; `target` is the archive path of an earlier entry (same layer).
    pub fn hardlink(self, path: &str, target: &str) -> Self {
        let target = target.trim_start_matches('/');
        self.push(path, Kind::Hardlink(target.as_bytes().to_vec()), 0o644)
    }

    /// `dir/.wh.name`: deletes `dir/name` (and everything below it) from lower layers.
    pub fn whiteout(self, path: &str) -> Self {
        let path = path.trim_end_matches('/');
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n),
            None => (String::new(), path),
        };
        self.push(&format!("{dir}.wh.{name}"), Kind::File(Vec::new()), 0o644)
    }

    /// `dir/.wh..wh..opq`: hides everything lower layers put in `dir`.
    pub fn opaque(self, dir: &str) -> Self {
        let dir = dir.trim_end_matches('/');
        self.push(&format!("{dir}/.wh..wh..opq"), Kind::File(Vec::new()), 0o644)
    }

    /// A regular file whose header name is exactly `name` (`../evil`, `/etc/passwd`, ...).
    pub fn raw_file(mut self, name: &[u8], content: impl AsRef<[u8]>) -> Self {
        self.entries.push(Entry {
            name: name.to_vec(),
            kind: Kind::File(content.as_ref().to_vec()),
            mode: 0o644,
            raw: true,
        });
        self
    }

    /// A symlink whose header name is exactly `name`.
    pub fn raw_symlink(mut self, name: &[u8], target: &[u8]) -> Self {
        self.entries.push(Entry {
            name: name.to_vec(),
            kind: Kind::Symlink(target.to_vec()),
            mode: 0o777,
            raw: true,
        });
        self
    }

    /// A hard link whose header name and link name are exactly as given.
    pub fn raw_hardlink(mut self, name: &[u8], target: &[u8]) -> Self {
        self.entries.push(Entry {
            name: name.to_vec(),
            kind: Kind::Hardlink(target.to_vec()),
            mode: 0o644,
            raw: true,
        });
        self
    }

    /// Every regular file under `host_dir`, sorted, placed under `prefix` (`""` for the root).
    pub fn tree(mut self, prefix: &str, host_dir: &Path) -> io::Result<Self> {
        let mut files = Vec::new();
        collect_files(host_dir, host_dir, &mut files)?;
        files.sort();
        for rel in files {
            let content = std::fs::read(host_dir.join(&rel))?;
            let name = if prefix.is_empty() {
                rel
            } else {
                format!("{}/{rel}", prefix.trim_end_matches('/'))
            };
            self = self.file(&name, content);
        }
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The layer as an uncompressed tar.
    pub fn tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut emitted_dirs: BTreeSet<Vec<u8>> = BTreeSet::new();
        for e in &self.entries {
            if e.raw {
                append_raw(&mut b, &e.name, &e.kind, e.mode, self.pax).expect("tar into memory");
                continue;
            }
            if !self.no_parents {
                let parts: Vec<&[u8]> = e.name.split(|&c| c == b'/').collect();
                for i in 1..parts.len() {
                    let dir = parts[..i].join(&b'/');
                    if emitted_dirs.insert(dir.clone()) {
                        let name = self.full_name(&dir, true);
                        append_raw(&mut b, &name, &Kind::Dir, 0o755, self.pax).expect("tar into memory");
                    }
                }
            }
            if let Kind::Dir = e.kind
                && !emitted_dirs.insert(e.name.clone())
            {
                continue;
            }
            let name = self.full_name(&e.name, matches!(e.kind, Kind::Dir));
            append_raw(&mut b, &name, &e.kind, e.mode, self.pax).expect("tar into memory");
        }
        b.into_inner().expect("tar into memory")
    }

    fn full_name(&self, name: &[u8], dir: bool) -> Vec<u8> {
        let mut out = self.prefix.as_bytes().to_vec();
        out.extend_from_slice(name);
        if dir {
            out.push(b'/');
        }
        out
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .to_str()
                .ok_or_else(|| io::Error::other("non-UTF-8 file name"))?
                .to_string();
            out.push(rel);
        }
    }
    Ok(())
}

/// Appends one entry with exactly the given name bytes (GNU long-name records when longer than
/// 100 bytes). The `tar` crate's path setters refuse `..` and absolute names; this does not.
fn append_raw(b: &mut tar::Builder<Vec<u8>>, name: &[u8], kind: &Kind, mode: u32, pax: bool) -> io::Result<()> {
    let (etype, data, link): (tar::EntryType, &[u8], Option<&[u8]>) = match kind {
        Kind::File(d) => (tar::EntryType::Regular, d, None),
        Kind::Dir => (tar::EntryType::Directory, &[], None),
        Kind::Symlink(t) => (tar::EntryType::Symlink, &[], Some(t)),
        Kind::Hardlink(t) => (tar::EntryType::Link, &[], Some(t)),
    };
    let long_link = link.filter(|l| l.len() > 100);
    if pax && (name.len() > 100 || long_link.is_some()) {
        let mut records = Vec::new();
        if name.len() > 100 {
            records.extend(pax_record("path", name));
        }
        if let Some(l) = long_link {
            records.extend(pax_record("linkpath", l));
        }
        let mut h = tar::Header::new_ustar();
        let short = b"PaxHeaders/entry";
        h.as_ustar_mut().expect("a ustar header").name[..short.len()].copy_from_slice(short);
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h.set_size(records.len() as u64);
        h.set_cksum();
        b.append(&h, &records[..])?;
    } else {
        if name.len() > 100 {
            append_long(b, tar::EntryType::GNULongName, name)?;
        }
        if let Some(l) = long_link {
            append_long(b, tar::EntryType::GNULongLink, l)?;
        }
    }
    let mut h = if pax {
        tar::Header::new_ustar()
    } else {
        tar::Header::new_gnu()
    };
    {
        let old = h.as_old_mut();
        let n = name.len().min(100);
        old.name[..n].copy_from_slice(&name[..n]);
        if let Some(l) = link {
            let n = l.len().min(100);
            old.linkname[..n].copy_from_slice(&l[..n]);
        }
    }
    h.set_entry_type(etype);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_size(data.len() as u64);
    h.set_username("root")?;
    h.set_groupname("root")?;
    h.set_cksum();
    b.append(&h, data)
}

/// One PAX record: `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

fn append_long(b: &mut tar::Builder<Vec<u8>>, etype: tar::EntryType, value: &[u8]) -> io::Result<()> {
    let mut data = value.to_vec();
    data.push(0);
    let mut h = tar::Header::new_gnu();
    {
        let gnu = h.as_gnu_mut().expect("a GNU header");
        gnu.name[..13].copy_from_slice(b"././@LongLink");
    }
    h.set_entry_type(etype);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, &data[..])
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaTypes {
    /// `application/vnd.oci.image.*` (what buildx's OCI exporter and Docker 25+ write).
    Oci,
    /// `application/vnd.docker.*` (Docker v2 schema 2, what most registries still serve).
    Docker,
}

#[derive(Clone, Debug)]
pub enum Step {
    Layer {
        layer: Layer,
        compression: Compression,
        created_by: String,
    },
    /// A history entry with `empty_layer: true` (ENV, USER, EXPOSE, ...).
    Empty { created_by: String },
    /// A layer whose blob was made elsewhere (see [`bomb_layer`]).
    Prebuilt { layer: PrebuiltLayer, created_by: String },
}

/// A layer blob made outside [`Layer::tar`], with what the config must say about it.
#[derive(Clone, Debug)]
pub struct PrebuiltLayer {
    pub blob: Vec<u8>,
    pub compression: Compression,
    pub diff_id: String,
    pub tar_len: u64,
}

/// Ways to break an image, each aimed at one check.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// `rootfs.diff_ids[i]` in the config is not the sha256 of the layer's tar.
    pub wrong_diff_id: Option<usize>,
    /// The manifest descriptor of layer `i` names a digest the blob's bytes do not hash to (the
    /// blob is stored under that name, with the right size): a swapped layer.
    pub wrong_blob_digest: Option<usize>,
    /// The manifest descriptor of layer `i` states a size off by the given delta.
    pub lying_size: Option<(usize, i64)>,
    /// Layer `i`'s blob is cut to half its length; the descriptor matches the cut bytes, so the
    /// only fault is the truncated stream.
    pub truncate: Option<usize>,
    /// Rewrites the config bytes (the descriptor follows the new bytes).
    pub edit_config: Option<fn(Vec<u8>) -> Vec<u8>>,
    /// Rewrites the manifest bytes (the descriptor follows the new bytes).
    pub edit_manifest: Option<fn(Vec<u8>) -> Vec<u8>>,
}

#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub user: Option<String>,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: Option<String>,
    pub healthcheck: Option<Value>,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
    pub steps: Vec<Step>,
    pub media: MediaTypes,
    pub faults: Faults,
    /// Write no `history` (ko, crane and some other builders do not).
    pub omit_history: bool,
}

impl Default for ImageSpec {
    fn default() -> Self {
        Self::new()
    }
}

impl ImageSpec {
    pub fn new() -> Self {
        ImageSpec {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
            user: None,
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cmd: vec!["/bin/sh".into()],
            working_dir: None,
            healthcheck: None,
            labels: BTreeMap::new(),
            exposed_ports: Vec::new(),
            steps: Vec::new(),
            media: MediaTypes::Oci,
            faults: Faults::default(),
            omit_history: false,
        }
    }

    pub fn platform(mut self, os: &str, arch: &str, variant: Option<&str>) -> Self {
        self.os = os.into();
        self.architecture = arch.into();
        self.variant = variant.map(str::to_string);
        self
    }

    pub fn layer(mut self, layer: Layer, compression: Compression, created_by: &str) -> Self {
        self.steps.push(Step::Layer {
            layer,
            compression,
            created_by: created_by.into(),
        });
        self
    }

    pub fn prebuilt(mut self, layer: PrebuiltLayer, created_by: &str) -> Self {
        self.steps.push(Step::Prebuilt {
            layer,
            created_by: created_by.into(),
        });
        self
    }

    pub fn empty(mut self, created_by: &str) -> Self {
        self.steps.push(Step::Empty {
            created_by: created_by.into(),
        });
        self
    }

    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.into());
        self
    }

    pub fn healthcheck(mut self, test: &[&str]) -> Self {
        self.healthcheck = Some(json!({
            "Test": test,
            "Interval": 30_000_000_000u64,
            "Timeout": 5_000_000_000u64,
            "Retries": 3,
        }));
        self
    }

    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.labels.insert(k.into(), v.into());
        self
    }

    pub fn expose(mut self, port: &str) -> Self {
        self.exposed_ports.push(port.into());
        self
    }

    pub fn media(mut self, media: MediaTypes) -> Self {
        self.media = media;
        self
    }

    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Every layer step recompressed with `c` (docker archives carry uncompressed layers).
    pub fn with_compression(mut self, c: Compression) -> Self {
        for s in &mut self.steps {
            if let Step::Layer { compression, .. } = s {
                *compression = c;
            }
        }
        self
    }

    pub fn platform_string(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{}", self.os, self.architecture, v),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }

    fn layer_media_type(&self, c: Compression) -> &'static str {
        match (self.media, c) {
            (MediaTypes::Oci, Compression::Gzip) => "application/vnd.oci.image.layer.v1.tar+gzip",
            (MediaTypes::Oci, Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
            (MediaTypes::Oci, Compression::None) => "application/vnd.oci.image.layer.v1.tar",
            (MediaTypes::Docker, Compression::Gzip) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            // Docker has no zstd media type of its own; registries serve the OCI one.
            (MediaTypes::Docker, Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
            (MediaTypes::Docker, Compression::None) => "application/vnd.docker.image.rootfs.diff.tar",
        }
    }

    pub fn build(&self) -> BuiltImage {
        let f = &self.faults;
        let mut layers = Vec::new();
        let mut history = Vec::new();
        for step in &self.steps {
            match step {
                Step::Layer { .. } | Step::Prebuilt { .. } => {
                    let i = layers.len();
                    let (tar, mut blob, compression, created_by, true_diff_id, tar_len) = match step {
                        Step::Layer {
                            layer,
                            compression,
                            created_by,
                        } => {
                            let tar = layer.tar();
                            let blob = compression.compress(&tar);
                            let d = digest_of(&tar);
                            let n = tar.len() as u64;
                            (tar, blob, *compression, created_by, d, n)
                        }
                        Step::Prebuilt { layer, created_by } => (
                            Vec::new(),
                            layer.blob.clone(),
                            layer.compression,
                            created_by,
                            layer.diff_id.clone(),
                            layer.tar_len,
                        ),
                        Step::Empty { .. } => unreachable!(),
                    };
                    if f.truncate == Some(i) {
                        blob.truncate(blob.len() / 2);
                    }
                    let diff_id = if f.wrong_diff_id == Some(i) {
                        digest_of(format!("{true_diff_id} is not this layer").as_bytes())
                    } else {
                        true_diff_id
                    };
                    let digest = if f.wrong_blob_digest == Some(i) {
                        digest_of(&[&blob[..], b"swapped"].concat())
                    } else {
                        digest_of(&blob)
                    };
                    let mut size = blob.len() as i64;
                    if let Some((j, delta)) = f.lying_size
                        && j == i
                    {
                        size += delta;
                    }
                    layers.push(BuiltLayer {
                        media_type: self.layer_media_type(compression).to_string(),
                        compression,
                        diff_id,
                        digest,
                        size: size as u64,
                        created_by: created_by.clone(),
                        tar,
                        tar_len,
                        blob,
                    });
                    history.push(json!({
                        "created": CREATED,
                        "created_by": created_by,
                        "comment": "buildkit.dockerfile.v0",
                    }));
                }
                Step::Empty { created_by } => history.push(json!({
                    "created": CREATED,
                    "created_by": created_by,
                    "comment": "buildkit.dockerfile.v0",
                    "empty_layer": true,
                })),
            }
        }

        let mut config = serde_json::Map::new();
        config.insert("Env".into(), json!(self.env));
        if !self.cmd.is_empty() {
            config.insert("Cmd".into(), json!(self.cmd));
        }
        if let Some(u) = &self.user {
            config.insert("User".into(), json!(u));
        }
        if let Some(w) = &self.working_dir {
            config.insert("WorkingDir".into(), json!(w));
        }
        if let Some(h) = &self.healthcheck {
            config.insert("Healthcheck".into(), h.clone());
        }
        if !self.labels.is_empty() {
            config.insert("Labels".into(), json!(self.labels));
        }
        if !self.exposed_ports.is_empty() {
            let ports: BTreeMap<&str, Value> = self.exposed_ports.iter().map(|p| (p.as_str(), json!({}))).collect();
            config.insert("ExposedPorts".into(), json!(ports));
        }
        let mut cfg = json!({
            "architecture": self.architecture,
            "os": self.os,
            "created": CREATED,
            "config": Value::Object(config),
            "rootfs": {
                "type": "layers",
                "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            },
            "history": history,
        });
        if let Some(v) = &self.variant {
            cfg["variant"] = json!(v);
        }
        if self.omit_history
            && let Some(o) = cfg.as_object_mut()
        {
            o.remove("history");
        }
        let mut config_bytes = json_compact(&cfg);
        if let Some(edit) = f.edit_config {
            config_bytes = edit(config_bytes);
        }
        let config_digest = digest_of(&config_bytes);

        let (manifest_type, config_type) = match self.media {
            MediaTypes::Oci => (OCI_MANIFEST, OCI_CONFIG),
            MediaTypes::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG),
        };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": config_digest, "size": config_bytes.len()},
            "layers": layers.iter().map(|l| json!({
                "mediaType": l.media_type, "digest": l.digest, "size": l.size,
            })).collect::<Vec<_>>(),
        });
        let mut manifest_bytes = json_compact(&manifest);
        if let Some(edit) = f.edit_manifest {
            manifest_bytes = edit(manifest_bytes);
        }
        let manifest_digest = digest_of(&manifest_bytes);

        let mut platform = json!({"architecture": self.architecture, "os": self.os});
        if let Some(v) = &self.variant {
            platform["variant"] = json!(v);
        }
        BuiltImage {
            platform,
            platform_string: self.platform_string(),
            manifest_media_type: manifest_type.to_string(),
            layers,
            config: config_bytes,
            config_digest,
            manifest: manifest_bytes,
            manifest_digest,
        }
    }
}

#[derive(Clone, Debug)]
pub struct BuiltLayer {
    /// The uncompressed tar (its sha256 is the true diff_id); empty for a prebuilt layer.
    pub tar: Vec<u8>,
    /// The uncompressed tar's length.
    pub tar_len: u64,
    /// The stored blob (compressed, possibly truncated).
    pub blob: Vec<u8>,
    /// What the config says.
    pub diff_id: String,
    /// What the manifest descriptor says (the blob's name in a layout).
    pub digest: String,
    /// What the manifest descriptor says.
    pub size: u64,
    pub media_type: String,
    pub compression: Compression,
    pub created_by: String,
}

#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub platform: Value,
    pub platform_string: String,
    pub manifest_media_type: String,
    pub layers: Vec<BuiltLayer>,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
}

impl BuiltImage {
    pub fn compressed_size(&self) -> u64 {
        self.layers.iter().map(|l| l.blob.len() as u64).sum()
    }

    pub fn uncompressed_size(&self) -> u64 {
        self.layers.iter().map(|l| l.tar_len).sum()
    }

    /// The descriptor of this image's manifest, as an index lists it.
    pub fn descriptor(&self, ref_name: Option<&str>, with_platform: bool) -> Value {
        let mut d = json!({
            "mediaType": self.manifest_media_type,
            "digest": self.manifest_digest,
            "size": self.manifest.len(),
        });
        if with_platform {
            d["platform"] = self.platform.clone();
        }
        if let Some(r) = ref_name {
            d["annotations"] = json!({ REF_NAME: r });
        }
        d
    }
}

// ---------------------------------------------------------------------------------------------
// OCI image layout (directory or archive)
// ---------------------------------------------------------------------------------------------

/// An OCI image layout being assembled: blobs by hex digest, and the descriptors `index.json`
/// lists.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub blobs: BTreeMap<String, Vec<u8>>,
    pub manifests: Vec<Value>,
}

impl Layout {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `data` under `digest` (normally `digest_of(data)`; faults may name it otherwise).
    pub fn put_blob(&mut self, digest: &str, data: &[u8]) {
        self.blobs.insert(hex_of(digest).to_string(), data.to_vec());
    }

    /// Stores an image's blobs (manifest, config, layers) without listing it.
    pub fn put_image(&mut self, img: &BuiltImage) {
        self.put_blob(&img.manifest_digest, &img.manifest);
        self.put_blob(&img.config_digest, &img.config);
        for l in &img.layers {
            self.put_blob(&l.digest, &l.blob);
        }
    }

    /// Stores an image and lists it in `index.json` (with the ref-name annotation when given).
    pub fn add_image(&mut self, img: &BuiltImage, ref_name: Option<&str>) -> &mut Self {
        self.put_image(img);
        self.manifests.push(img.descriptor(ref_name, false));
        self
    }

    /// A multi-platform image the way `docker buildx build --platform ... --output type=oci`
    /// writes it: `index.json` → one image index (annotated with `ref_name`) → one manifest per
    /// platform, plus, when `attestation` is set, a provenance attestation manifest for the first
    /// image with platform `unknown/unknown`. With `nested == false` the platform manifests are
    /// listed in `index.json` directly.
    pub fn add_multi_platform(
        &mut self,
        images: &[&BuiltImage],
        attestation: bool,
        ref_name: Option<&str>,
        nested: bool,
    ) -> &mut Self {
        let mut descs: Vec<Value> = Vec::new();
        for img in images {
            self.put_image(img);
            descs.push(img.descriptor(None, true));
        }
        if attestation && let Some(first) = images.first() {
            descs.push(self.attestation_for(first));
        }
        if nested {
            let index = json!({
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": descs,
            });
            let bytes = json_compact(&index);
            let digest = digest_of(&bytes);
            self.put_blob(&digest, &bytes);
            let mut d = json!({"mediaType": OCI_INDEX, "digest": digest, "size": bytes.len()});
            if let Some(r) = ref_name {
                d["annotations"] = json!({ REF_NAME: r });
            }
            self.manifests.push(d);
        } else {
            for mut d in descs {
                if let Some(r) = ref_name {
                    let ann = d
                        .as_object_mut()
                        .expect("a descriptor is an object")
                        .entry("annotations")
                        .or_insert_with(|| json!({}));
                    ann[REF_NAME] = json!(r);
                }
                self.manifests.push(d);
            }
        }
        self
    }

    fn attestation_for(&mut self, img: &BuiltImage) -> Value {
        let statement = json_compact(&json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "pkg:docker/demo/app@1.0.0", "digest": {"sha256": hex_of(&img.manifest_digest)}}],
            "predicate": {"builder": {"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1"},
        }));
        let st_digest = digest_of(&statement);
        self.put_blob(&st_digest, &statement);
        let config = json_compact(&json!({
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [st_digest]},
        }));
        let config_digest = digest_of(&config);
        self.put_blob(&config_digest, &config);
        let manifest = json_compact(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len()},
            "layers": [{
                "mediaType": "application/vnd.in-toto+json",
                "digest": st_digest,
                "size": statement.len(),
                "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
            }],
        }));
        let digest = digest_of(&manifest);
        self.put_blob(&digest, &manifest);
        json!({
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": manifest.len(),
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {
                "vnd.docker.reference.digest": img.manifest_digest,
                "vnd.docker.reference.type": "attestation-manifest",
            },
        })
    }

    pub fn index_json(&self) -> Vec<u8> {
        json_compact(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": self.manifests,
        }))
    }

    /// The layout's files, in archive order: `oci-layout`, `index.json`, then blobs by digest.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![
            ("oci-layout".to_string(), b"{\"imageLayoutVersion\":\"1.0.0\"}".to_vec()),
            ("index.json".to_string(), self.index_json()),
        ];
        for (hex, data) in &self.blobs {
            out.push((format!("blobs/sha256/{hex}"), data.clone()));
        }
        out
    }

    pub fn write_dir(&self, dir: &Path) -> io::Result<()> {
        for (name, data) in self.files() {
            let path = dir.join(&name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, data)?;
        }
        Ok(())
    }

    /// An OCI archive (`oci-archive:`): the layout as a tar.
    pub fn to_tar(&self) -> Vec<u8> {
        let mut t = Layer::new();
        for (name, data) in self.files() {
            t = t.file(&name, data);
        }
        t.tar()
    }
}

/// An OCI layout holding one image, tagged `tag`.
pub fn oci_layout(img: &BuiltImage, tag: Option<&str>) -> Layout {
    let mut l = Layout::new();
    l.add_image(img, tag);
    l
}

// ---------------------------------------------------------------------------------------------
// docker save
// ---------------------------------------------------------------------------------------------

/// A classic (pre-25) `docker save` tar: `<id>/VERSION`, `<id>/json`, `<id>/layer.tar` per layer,
/// `<config hex>.json`, `repositories`, and `manifest.json` written last. A layer whose content
/// was already written (same diff_id) becomes a symlink `<id>/layer.tar -> ../<first id>/layer.tar`,
/// as docker does. Each image comes with its repo tags (`app:1`).
pub fn docker_classic(images: &[(&BuiltImage, &[&str])]) -> Vec<u8> {
    let mut t = Layer::new();
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (img, tags) in images {
        let mut parent: Option<String> = None;
        let mut layer_paths = Vec::new();
        for l in &img.layers {
            let chain = format!("{}|{}", parent.as_deref().unwrap_or(""), l.diff_id);
            let id = sha256_hex(chain.as_bytes());
            let mut v1 = json!({"id": id, "created": CREATED, "container_config": {"Cmd": null}});
            if let Some(p) = &parent {
                v1["parent"] = json!(p);
            }
            t = t.file(&format!("{id}/VERSION"), "1.0");
            t = t.file(&format!("{id}/json"), json_compact(&v1));
            let path = format!("{id}/layer.tar");
            let key = digest_of(&l.blob);
            match written.get(&key) {
                Some(first) => t = t.symlink(&path, &format!("../{first}")),
                None => {
                    t = t.file(&path, &l.blob);
                    written.insert(key, path.clone());
                }
            }
            layer_paths.push(path);
            parent = Some(id);
        }
        let config_name = format!("{}.json", hex_of(&img.config_digest));
        t = t.file(&config_name, &img.config);
        for tag in tags.iter() {
            if let (Some((repo, tag)), Some(top)) = (tag.rsplit_once(':'), &parent) {
                repositories
                    .entry(repo.to_string())
                    .or_default()
                    .insert(tag.to_string(), top.clone());
            }
        }
        manifest.push(json!({"Config": config_name, "RepoTags": tags, "Layers": layer_paths}));
    }
    t = t.file("repositories", json_compact(&json!(repositories)));
    t = t.file("manifest.json", json_compact(&Value::Array(manifest)));
    t.tar()
}

/// A Docker 25+ `docker save` tar: an OCI layout (`blobs/sha256/...`, `index.json` with
/// `io.containerd.image.name` and ref-name annotations, `oci-layout`) plus the legacy
/// `manifest.json` (Config/Layers pointing at `blobs/sha256/<hex>`) and `repositories`.
/// Build the images with `MediaTypes::Oci` and `Compression::None`, as docker does.
pub fn docker25(images: &[(&BuiltImage, &[&str])]) -> Vec<u8> {
    let mut layout = Layout::new();
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (img, tags) in images {
        layout.put_image(img);
        for tag in tags.iter() {
            let (repo, short) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
            let mut d = img.descriptor(None, false);
            d["annotations"] = json!({
                "io.containerd.image.name": format!("{}:{short}", fully_qualified(repo)),
                REF_NAME: short,
            });
            layout.manifests.push(d);
            if let Some(top) = img.layers.last() {
                repositories
                    .entry(repo.to_string())
                    .or_default()
                    .insert(short.to_string(), hex_of(&top.digest).to_string());
            }
        }
        manifest.push(json!({
            "Config": format!("blobs/sha256/{}", hex_of(&img.config_digest)),
            "RepoTags": tags,
            "Layers": img.layers.iter().map(|l| format!("blobs/sha256/{}", hex_of(&l.digest))).collect::<Vec<_>>(),
        }));
    }
    let mut t = Layer::new();
    for (hex, data) in &layout.blobs {
        t = t.file(&format!("blobs/sha256/{hex}"), data);
    }
    t = t.file("index.json", layout.index_json());
    t = t.file("manifest.json", json_compact(&Value::Array(manifest)));
    t = t.file("oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}");
    t = t.file("repositories", json_compact(&json!(repositories)));
    t.tar()
}

/// `app` → `docker.io/library/app`, `demo/app` → `docker.io/demo/app`, `ghcr.io/x/y` unchanged
/// (the name containerd and Docker 25+ write in `io.containerd.image.name`).
pub fn fully_qualified(repo: &str) -> String {
    match repo.split_once('/') {
        None => format!("docker.io/library/{repo}"),
        Some((host, _)) if host.contains('.') || host.contains(':') || host == "localhost" => repo.to_string(),
        Some(_) => format!("docker.io/{repo}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Content helpers: Alpine and npm
// ---------------------------------------------------------------------------------------------

pub fn read_alpine(rel: &str) -> Vec<u8> {
    let p = alpine_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// The real Alpine 3.20.3 `lib/apk/db/installed` (14 packages).
pub fn alpine_installed() -> String {
    String::from_utf8(read_alpine("lib/apk/db/installed")).expect("the apk DB is UTF-8")
}

/// The 14 packages of the Alpine 3.20.3 minirootfs: (name, version, origin).
pub const ALPINE_PACKAGES: &[(&str, &str, &str)] = &[
    ("alpine-baselayout", "3.6.5-r0", "alpine-baselayout"),
    ("alpine-baselayout-data", "3.6.5-r0", "alpine-baselayout"),
    ("alpine-keys", "2.4-r1", "alpine-keys"),
    ("apk-tools", "2.14.4-r0", "apk-tools"),
    ("busybox", "1.36.1-r29", "busybox"),
    ("busybox-binsh", "1.36.1-r29", "busybox"),
    ("ca-certificates-bundle", "20240705-r0", "ca-certificates"),
    ("libcrypto3", "3.3.2-r0", "openssl"),
    ("libssl3", "3.3.2-r0", "openssl"),
    ("musl", "1.2.5-r0", "musl"),
    ("musl-utils", "1.2.5-r0", "musl"),
    ("scanelf", "1.3.7-r2", "pax-utils"),
    ("ssl_client", "1.36.1-r29", "busybox"),
    ("zlib", "1.3.1-r1", "zlib"),
];

/// The DB text without the stanza of package `name` (what `apk del name` leaves).
pub fn apk_db_without(db: &str, name: &str) -> String {
    let needle = format!("P:{name}");
    let stanzas: Vec<&str> = db
        .split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .filter(|s| !s.lines().any(|l| l == needle))
        .collect();
    let mut out = stanzas.join("\n\n");
    out.push_str("\n\n");
    out
}

/// The DB text with one package's version replaced (what `apk upgrade name` leaves).
pub fn apk_db_with_version(db: &str, name: &str, version: &str) -> String {
    let needle = format!("P:{name}");
    let stanzas: Vec<String> = db
        .split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            if s.lines().any(|l| l == needle) {
                s.lines()
                    .map(|l| {
                        if l.starts_with("V:") {
                            format!("V:{version}")
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                s.to_string()
            }
        })
        .collect();
    let mut out = stanzas.join("\n\n");
    out.push_str("\n\n");
    out
}

/// A minimal stanza: name, version, arch, license, origin (empty values are left out).
pub fn apk_stanza(name: &str, version: &str, arch: &str, license: &str, origin: &str) -> String {
    let mut s = format!("P:{name}\nV:{version}\n");
    if !arch.is_empty() {
        s += &format!("A:{arch}\n");
    }
    if !license.is_empty() {
        s += &format!("L:{license}\n");
    }
    if !origin.is_empty() {
        s += &format!("o:{origin}\n");
    }
    s + "\n"
}

/// A `Q1`-prefixed base64 SHA-1-sized checksum as apk writes them, derived from `seed` (the
/// values are not real package checksums; they only look like them).
pub fn apk_checksum(seed: &str) -> String {
    format!("Q1{}", base64(&Sha256::digest(seed.as_bytes())[..20]))
}

/// Standard base64 with padding (what Docker's `config.json` `auth` fields hold).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A `package.json` as npm leaves it in `node_modules`.
pub fn package_json(name: &str, version: &str, license: &str) -> Vec<u8> {
    package_json_deps(name, version, license, &[])
}

pub fn package_json_deps(name: &str, version: &str, license: &str, deps: &[(&str, &str)]) -> Vec<u8> {
    let mut v = json!({
        "name": name,
        "version": version,
        "description": format!("{name} (test fixture)"),
        "license": license,
        "main": "index.js",
    });
    if !deps.is_empty() {
        let d: BTreeMap<&str, &str> = deps.iter().copied().collect();
        v["dependencies"] = json!(d);
    }
    let mut out = serde_json::to_vec_pretty(&sorted(&v)).expect("serializing a Value");
    out.push(b'\n');
    out
}

/// A lockfile v3 (`package-lock.json` or `node_modules/.package-lock.json`): `packages` maps
/// `node_modules/...` paths to (version, license, dev).
pub fn lockfile(root_name: &str, pkgs: &[(&str, &str, &str, bool)], hidden: bool) -> Vec<u8> {
    let mut packages = serde_json::Map::new();
    if !hidden {
        let deps: BTreeMap<String, String> = pkgs
            .iter()
            .filter(|(p, _, _, dev)| !dev && p.matches("node_modules/").count() == 1)
            .map(|(p, v, _, _)| (p.trim_start_matches("node_modules/").to_string(), v.to_string()))
            .collect();
        let dev_deps: BTreeMap<String, String> = pkgs
            .iter()
            .filter(|(p, _, _, dev)| *dev && p.matches("node_modules/").count() == 1)
            .map(|(p, v, _, _)| (p.trim_start_matches("node_modules/").to_string(), v.to_string()))
            .collect();
        let mut root = json!({"name": root_name, "version": "1.0.0", "dependencies": deps});
        if !dev_deps.is_empty() {
            root["devDependencies"] = json!(dev_deps);
        }
        packages.insert(String::new(), root);
    }
    for (path, version, license, dev) in pkgs {
        let name = path.rsplit("node_modules/").next().unwrap_or(path);
        let base = name.rsplit('/').next().unwrap_or(name);
        let mut e = json!({
            "version": version,
            "resolved": format!("https://registry.npmjs.org/{name}/-/{base}-{version}.tgz"),
            "license": license,
        });
        if *dev {
            e["dev"] = json!(true);
        }
        packages.insert(path.to_string(), e);
    }
    let v = json!({
        "name": root_name,
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": true,
        "packages": Value::Object(packages),
    });
    let mut out = serde_json::to_vec_pretty(&sorted(&v)).expect("serializing a Value");
    out.push(b'\n');
    out
}

/// The Alpine 3.20.3 base layer as the tests use it: the real `lib/apk/db/installed`,
/// `etc/os-release`, `etc/alpine-release`, `etc/passwd`, `etc/group`, `etc/apk/repositories`.
pub fn alpine_base() -> Layer {
    Layer::new()
        .tree("", &alpine_dir())
        .expect("reading testdata/alpine-3.20.3")
}

pub const ALPINE_ADD: &str = "ADD alpine-minirootfs-3.20.3-x86_64.tar.gz / # buildkit";

// ---------------------------------------------------------------------------------------------
// The demo image (examples/make_demo.rs writes it to testdata/demo/app.tar)
// ---------------------------------------------------------------------------------------------

pub const DEMO_APK_ADDED: &[(&str, &str, &str)] = &[
    ("libgcc", "13.2.1_git20240309-r0", "gcc"),
    ("libstdc++", "13.2.1_git20240309-r0", "gcc"),
];

/// npm packages of the demo app under `app/node_modules`: (lockfile path, version, licence,
/// dev). `minimist` is deleted again by layer 3.
pub const DEMO_NPM: &[(&str, &str, &str, bool)] = &[
    ("node_modules/@next/env", "13.4.0", "MIT", false),
    ("node_modules/axios", "0.21.1", "MIT", false),
    ("node_modules/follow-redirects", "1.14.0", "MIT", false),
    ("node_modules/js-tokens", "4.0.0", "MIT", false),
    ("node_modules/json5", "2.2.1", "MIT", false),
    ("node_modules/lodash", "4.17.20", "MIT", false),
    ("node_modules/loose-envify", "1.4.0", "MIT", false),
    ("node_modules/lru-cache", "6.0.0", "ISC", false),
    ("node_modules/minimist", "1.2.5", "MIT", false),
    ("node_modules/next", "13.4.0", "MIT", false),
    ("node_modules/next/node_modules/semver", "7.3.5", "ISC", false),
    ("node_modules/react", "18.2.0", "MIT", false),
    ("node_modules/react-dom", "18.2.0", "MIT", false),
    ("node_modules/scheduler", "0.23.0", "MIT", false),
    ("node_modules/semver", "7.3.5", "ISC", false),
    ("node_modules/typescript", "5.0.4", "Apache-2.0", true),
    ("node_modules/yallist", "4.0.0", "ISC", false),
];

/// Global npm packages (layer 1, from the node tarball).
pub const DEMO_NPM_GLOBAL: &[(&str, &str, &str)] = &[("corepack", "0.29.3", "MIT"), ("npm", "10.8.2", "Artistic-2.0")];

pub const DEMO_HEALTHCHECK: &[&str] = &["CMD-SHELL", "wget -qO- http://localhost:3000/api/health || exit 1"];

pub const DEMO_CREATED_BY: &[&str] = &[
    "ADD alpine-minirootfs-3.20.3-x86_64.tar.gz / # buildkit",
    "RUN /bin/sh -c apk add --no-cache libstdc++ && tar -xJf node-v20.17.0-linux-x64-musl.tar.xz -C /usr/local --strip-components=1 --no-same-owner && rm node-v20.17.0-linux-x64-musl.tar.xz # buildkit",
    "RUN /bin/sh -c addgroup -S -g 1001 nodejs && adduser -S -D -H -u 1001 -G nodejs -h /home/nextjs -s /sbin/nologin nextjs && npm ci # buildkit",
    "RUN /bin/sh -c rm -rf node_modules/minimist # buildkit",
];

pub fn demo_base_layer() -> Layer {
    let busybox_applets = [
        "ash", "cat", "chmod", "chown", "cp", "date", "dd", "df", "echo", "grep", "gunzip", "gzip", "hostname", "kill",
        "ln", "ls", "mkdir", "mount", "mv", "ping", "ps", "pwd", "rm", "sed", "sh", "sleep", "tar", "touch", "umount",
        "uname",
    ];
    let mut l = Layer::new();
    for d in [
        "dev", "home", "media", "mnt", "opt", "proc", "root", "run", "srv", "sys", "tmp", "var",
    ] {
        l = l.dir(d);
    }
    l = l
        .exe(
            "bin/busybox",
            "#!/bin/false\n# placeholder for busybox 1.36.1-r29 (imagegate demo image)\n",
        )
        .exe(
            "lib/ld-musl-x86_64.so.1",
            "placeholder for musl 1.2.5-r0 (imagegate demo image)\n",
        )
        .symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1")
        .exe(
            "lib/libz.so.1.3.1",
            "placeholder for zlib 1.3.1-r1 (imagegate demo image)\n",
        )
        .symlink("lib/libz.so.1", "libz.so.1.3.1")
        .exe(
            "lib/libcrypto.so.3",
            "placeholder for libcrypto3 3.3.2-r0 (imagegate demo image)\n",
        )
        .exe(
            "lib/libssl.so.3",
            "placeholder for libssl3 3.3.2-r0 (imagegate demo image)\n",
        )
        .exe(
            "sbin/apk",
            "placeholder for apk-tools 2.14.4-r0 (imagegate demo image)\n",
        )
        .exe(
            "usr/bin/ssl_client",
            "placeholder for ssl_client 1.36.1-r29 (imagegate demo image)\n",
        );
    for a in busybox_applets {
        l = l.symlink(&format!("bin/{a}"), "/bin/busybox");
    }
    l = l
        .file("etc/alpine-release", read_alpine("etc/alpine-release"))
        .file("etc/apk/arch", "x86_64\n")
        .file("etc/apk/repositories", read_alpine("etc/apk/repositories"))
        .file(
            "etc/apk/world",
            "alpine-baselayout\nalpine-keys\napk-tools\nbusybox\nca-certificates-bundle\nlibc-utils\n",
        )
        .file("etc/group", read_alpine("etc/group"))
        .file("etc/hostname", "localhost\n")
        .file("etc/os-release", read_alpine("etc/os-release"))
        .file("etc/passwd", read_alpine("etc/passwd"))
        .file("etc/shells", "# valid login shells\n/bin/sh\n/bin/ash\n")
        .file_mode("etc/shadow", "root:*::0:::::\n", 0o640)
        .file("lib/apk/db/installed", read_alpine("lib/apk/db/installed"))
        .symlink("usr/bin/env", "/bin/busybox")
        .symlink("var/run", "/run");
    l
}

fn demo_apk_stanzas() -> String {
    // Shaped like the real Alpine 3.20 x86_64 stanzas (field order, sizes, dependencies); the
    // checksums and commit id are made up.
    let stanza = |name: &str,
                  size: u32,
                  installed: u32,
                  desc: &str,
                  deps: &str,
                  provides: &str,
                  files: &[(&str, &str)]| {
        let mut s = format!(
            "C:{}\nP:{name}\nV:13.2.1_git20240309-r0\nA:x86_64\nS:{size}\nI:{installed}\nT:{desc}\nU:https://gcc.gnu.org\nL:GPL-2.0-or-later AND LGPL-2.1-or-later\no:gcc\nm:Ariadne Conill <ariadne@dereferenced.org>\nt:1710191004\nc:ee5deb6c5fbb6a0bdd0b0fd5c3e2e7b1a5d1c1a9\nD:{deps}\np:{provides}\nF:usr\nF:usr/lib\n",
            apk_checksum(&format!("{name}-13.2.1_git20240309-r0.apk"))
        );
        for (file, mode) in files {
            s += &format!(
                "R:{file}\na:0:0:{mode}\nZ:{}\n",
                apk_checksum(&format!("usr/lib/{file}"))
            );
        }
        s + "\n"
    };
    stanza(
        "libgcc",
        78244,
        208896,
        "GNU C compiler runtime libraries",
        "so:libc.musl-x86_64.so.1",
        "so:libgcc_s.so.1=1",
        &[("libgcc_s.so.1", "755")],
    ) + &stanza(
        "libstdc++",
        851732,
        2551808,
        "GNU C++ standard runtime library",
        "libgcc so:libc.musl-x86_64.so.1 so:libgcc_s.so.1",
        "so:libstdc++.so.6=6.0.32",
        &[("libstdc++.so.6", "777"), ("libstdc++.so.6.0.32", "755")],
    )
}

fn demo_node_layer() -> Layer {
    let mut db = alpine_installed();
    db.push_str(&demo_apk_stanzas());
    let mut l = Layer::new()
        .file(
            "etc/apk/world",
            "alpine-baselayout\nalpine-keys\napk-tools\nbusybox\nca-certificates-bundle\nlibc-utils\nlibstdc++\n",
        )
        .file("lib/apk/db/installed", db)
        .exe(
            "usr/lib/libgcc_s.so.1",
            "placeholder for libgcc 13.2.1_git20240309-r0 (imagegate demo image)\n",
        )
        .symlink("usr/lib/libstdc++.so.6", "libstdc++.so.6.0.32")
        .exe(
            "usr/lib/libstdc++.so.6.0.32",
            "placeholder for libstdc++ 13.2.1_git20240309-r0 (imagegate demo image)\n",
        )
        .exe(
            "usr/local/bin/node",
            "placeholder for node v20.17.0 (imagegate demo image)\n",
        )
        .symlink("usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js")
        .symlink("usr/local/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js")
        .symlink(
            "usr/local/bin/corepack",
            "../lib/node_modules/corepack/dist/corepack.js",
        );
    for (name, version, license) in DEMO_NPM_GLOBAL {
        l = l.file(
            &format!("usr/local/lib/node_modules/{name}/package.json"),
            package_json(name, version, license),
        );
    }
    l = l
        .exe(
            "usr/local/lib/node_modules/npm/bin/npm-cli.js",
            "#!/usr/bin/env node\n// placeholder (imagegate demo image)\n",
        )
        .exe(
            "usr/local/lib/node_modules/npm/bin/npx-cli.js",
            "#!/usr/bin/env node\n// placeholder (imagegate demo image)\n",
        )
        .exe(
            "usr/local/lib/node_modules/corepack/dist/corepack.js",
            "#!/usr/bin/env node\n// placeholder (imagegate demo image)\n",
        );
    l
}

fn demo_deps(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        "next" => &[
            ("@next/env", "13.4.0"),
            ("semver", "7.3.5"),
            ("react", "^18.2.0"),
            ("react-dom", "^18.2.0"),
        ],
        "axios" => &[("follow-redirects", "^1.10.0")],
        "react" => &[("loose-envify", "^1.1.0")],
        "react-dom" => &[("loose-envify", "^1.1.0"), ("scheduler", "^0.23.0")],
        "scheduler" => &[("loose-envify", "^1.1.0")],
        "loose-envify" => &[("js-tokens", "^3.0.0 || ^4.0.0")],
        "semver" => &[("lru-cache", "^6.0.0")],
        "lru-cache" => &[("yallist", "^4.0.0")],
        _ => &[],
    }
}

fn demo_app_layer() -> Layer {
    let mut passwd = String::from_utf8(read_alpine("etc/passwd")).expect("UTF-8 passwd");
    passwd.push_str("nextjs:x:1001:1001::/home/nextjs:/sbin/nologin\n");
    let mut group = String::from_utf8(read_alpine("etc/group")).expect("UTF-8 group");
    group.push_str("nodejs:x:1001:\n");
    let app_pkg = json!({
        "name": "demo-app",
        "version": "1.0.0",
        "private": true,
        "scripts": {"build": "next build", "start": "next start -p 3000"},
        "dependencies": {
            "axios": "0.21.1", "json5": "2.2.1", "lodash": "4.17.20", "minimist": "1.2.5",
            "next": "13.4.0", "react": "18.2.0", "react-dom": "18.2.0", "semver": "7.3.5",
        },
        "devDependencies": {"typescript": "5.0.4"},
    });
    let mut app_pkg = serde_json::to_vec_pretty(&sorted(&app_pkg)).expect("serializing");
    app_pkg.push(b'\n');

    let mut l = Layer::new()
        .file("etc/group", group)
        .file("etc/passwd", passwd)
        .dir("home/nextjs")
        .file("app/package.json", app_pkg)
        .file("app/package-lock.json", lockfile("demo-app", DEMO_NPM, false))
        .file(
            "app/server.js",
            "const { createServer } = require('http');\nconst next = require('next');\nconst app = next({ dev: false });\napp.prepare().then(() => createServer(app.getRequestHandler()).listen(3000));\n",
        )
        .file("app/.next/BUILD_ID", "imagegate-demo\n")
        .file(
            "app/node_modules/.package-lock.json",
            lockfile("demo-app", DEMO_NPM, true),
        )
        .symlink("app/node_modules/.bin/next", "../next/dist/bin/next")
        .symlink("app/node_modules/.bin/tsc", "../typescript/bin/tsc");
    for (path, version, license, _) in DEMO_NPM {
        let name = path.rsplit("node_modules/").next().unwrap_or(path);
        l = l
            .file(
                &format!("app/{path}/package.json"),
                package_json_deps(name, version, license, demo_deps(name)),
            )
            .file(
                &format!("app/{path}/index.js"),
                format!("// {name}@{version}: placeholder (imagegate demo image)\nmodule.exports = {{}};\n"),
            );
    }
    l.exe(
        "app/node_modules/next/dist/bin/next",
        "#!/usr/bin/env node\n// placeholder (imagegate demo image)\n",
    )
    .exe(
        "app/node_modules/typescript/bin/tsc",
        "#!/usr/bin/env node\n// placeholder (imagegate demo image)\n",
    )
}

/// The demo image: a Next.js app on Alpine 3.20, four gzip layers.
pub fn demo_spec() -> ImageSpec {
    ImageSpec::new()
        .layer(demo_base_layer(), Compression::Gzip, DEMO_CREATED_BY[0])
        .empty("CMD [\"/bin/sh\"]")
        .empty("ENV NODE_VERSION=20.17.0")
        .layer(demo_node_layer(), Compression::Gzip, DEMO_CREATED_BY[1])
        .empty("WORKDIR /app")
        .empty("ENV NODE_ENV=production")
        .layer(demo_app_layer(), Compression::Gzip, DEMO_CREATED_BY[2])
        .layer(
            Layer::new().whiteout("app/node_modules/minimist"),
            Compression::Gzip,
            DEMO_CREATED_BY[3],
        )
        .empty("USER 1001")
        .empty("EXPOSE map[3000/tcp:{}]")
        .empty("HEALTHCHECK &{[\"CMD-SHELL\" \"wget -qO- http://localhost:3000/api/health || exit 1\"] \"30s\" \"5s\" \"0s\" \"0s\" '\\x03'}")
        .empty("LABEL org.opencontainers.image.source=https://github.com/example/demo-app org.opencontainers.image.version=1.0.0")
        .empty("CMD [\"node\" \"server.js\"]")
        .user("1001")
        .healthcheck(DEMO_HEALTHCHECK)
        .expose("3000/tcp")
        .label(
            "org.opencontainers.image.source",
            "https://github.com/example/demo-app",
        )
        .label("org.opencontainers.image.version", "1.0.0")
        .demo_env()
}

impl ImageSpec {
    fn demo_env(mut self) -> Self {
        self.env = vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "NODE_VERSION=20.17.0".into(),
            "NODE_ENV=production".into(),
        ];
        self.cmd = vec!["node".into(), "server.js".into()];
        self.working_dir = Some("/app".into());
        self
    }
}

/// The bytes of `testdata/demo/app.tar`: an OCI archive tagged `1.0.0`.
pub fn demo_archive() -> Vec<u8> {
    oci_layout(&demo_spec().build(), Some("1.0.0")).to_tar()
}

/// Writes the demo image (see [`demo_archive`]) to `path`.
pub fn write_demo(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, demo_archive())
}

// ---------------------------------------------------------------------------------------------
// Decompression bomb
// ---------------------------------------------------------------------------------------------

/// A gzip layer whose tar holds one file of `mib` MiB of zeros (`var/cache/zeros.bin`),
/// compressed about 1000:1 (deflate's ceiling), made in well under a second even in a debug build: a 1 MiB block of
/// zeros is deflated once with a full flush (which makes the segment self-contained) and
/// repeated; the gzip CRC-32 is extended over the zeros arithmetically, and the diff_id is
/// hashed by `sha256sum` when available (in-process otherwise).
pub fn bomb_layer(mib: usize) -> PrebuiltLayer {
    const MIB: usize = 1 << 20;
    let size = (mib * MIB) as u64;
    let header_tar = {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().expect("a GNU header").name[..20].copy_from_slice(b"var/cache/zeros.bin\0");
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h.set_size(size);
        h.set_cksum();
        h.as_bytes().to_vec()
    };
    // header + data (a multiple of 512, no padding) + the two zero end-of-archive blocks.
    let zeros_after_header = size + 1024;
    let tar_len = header_tar.len() as u64 + zeros_after_header;

    let seg_header = deflate_segment(&header_tar, flate2::FlushCompress::Full);
    let seg_mib = deflate_segment(&vec![0u8; MIB], flate2::FlushCompress::Full);
    let seg_end = deflate_segment(&[0u8; 1024], flate2::FlushCompress::Finish);
    let mut blob = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    blob.extend_from_slice(&seg_header);
    for _ in 0..mib {
        blob.extend_from_slice(&seg_mib);
    }
    blob.extend_from_slice(&seg_end);
    let mut crc = flate2::Crc::new();
    crc.update(&header_tar);
    let crc = crc32_extend_zeros(crc.sum(), zeros_after_header);
    blob.extend_from_slice(&crc.to_le_bytes());
    blob.extend_from_slice(&(tar_len as u32).to_le_bytes());

    let diff_id = sha256_stream(&header_tar, zeros_after_header);
    PrebuiltLayer {
        blob,
        compression: Compression::Gzip,
        diff_id,
        tar_len,
    }
}

fn deflate_segment(data: &[u8], flush: flate2::FlushCompress) -> Vec<u8> {
    // Level 9: zlib-rs's level 1 uses static Huffman codes and only reaches ~100:1 on zeros.
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() / 8 + 1024);
    loop {
        let consumed = c.total_in() as usize;
        out.reserve(4096);
        let status = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .expect("deflate into memory");
        if c.total_in() as usize == data.len() && (status == flate2::Status::StreamEnd || out.len() < out.capacity()) {
            break;
        }
    }
    out
}

/// The CRC-32 (gzip's) of `data ++ [0; n]`, given `crc` = CRC-32 of `data`: appending a zero
/// byte is linear on the CRC register, so apply that operator `n` times by squaring.
pub fn crc32_extend_zeros(crc: u32, n: u64) -> u32 {
    fn times(mat: &[u32; 32], mut vec: u32) -> u32 {
        let mut sum = 0;
        let mut i = 0;
        while vec != 0 {
            if vec & 1 != 0 {
                sum ^= mat[i];
            }
            vec >>= 1;
            i += 1;
        }
        sum
    }
    fn square(mat: &[u32; 32]) -> [u32; 32] {
        let mut out = [0u32; 32];
        for (o, m) in out.iter_mut().zip(mat.iter()) {
            *o = times(mat, *m);
        }
        out
    }
    // One zero bit: reg = (reg >> 1) ^ (reg & 1 ? 0xEDB88320 : 0), as a matrix of columns.
    let mut op = [0u32; 32];
    op[0] = 0xEDB8_8320;
    for (i, o) in op.iter_mut().enumerate().skip(1) {
        *o = 1 << (i - 1);
    }
    let mut op = square(&square(&square(&op))); // one zero byte
    let mut reg = !crc;
    let mut n = n;
    while n > 0 {
        if n & 1 == 1 {
            reg = times(&op, reg);
        }
        op = square(&op);
        n >>= 1;
    }
    !reg
}

/// sha256 of `head ++ [0; zeros]`, via `sha256sum` (fast even when this crate is built without
/// optimisation), falling back to the `sha2` crate.
fn sha256_stream(head: &[u8], zeros: u64) -> String {
    use std::process::{Command, Stdio};
    let feed = |w: &mut dyn Write| -> io::Result<()> {
        w.write_all(head)?;
        let chunk = vec![0u8; 1 << 20];
        let mut left = zeros;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            w.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        Ok(())
    };
    if let Ok(mut child) = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        let mut stdin = child.stdin.take().expect("piped stdin");
        let fed = feed(&mut stdin);
        drop(stdin);
        if let Ok(out) = child.wait_with_output()
            && fed.is_ok()
            && out.status.success()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(hex) = text.split_whitespace().next()
                && hex.len() == 64
            {
                return format!("sha256:{hex}");
            }
        }
    }
    struct H(Sha256);
    impl Write for H {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.update(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut h = H(Sha256::new());
    feed(&mut h).expect("hashing in memory");
    format!("sha256:{}", hex::encode(h.0.finalize()))
}

/// Builds an advisory database at `db` from the OSV snapshot in `testdata/osv/`, with the
/// binary under test.
pub fn import_testdata_db(db: &Path) {
    let root = repo_root();
    let r = imagegate()
        .args(["db", "import", "--db"])
        .arg(db)
        .arg(root.join("testdata/osv/npm"))
        .arg(root.join("testdata/osv/alpine"))
        .run();
    assert_eq!(r.code, 0, "db import: {}", r.stderr);
}

/// Runs `check` on every `(name, case)` row of a table-driven test. Every row runs; the test
/// then fails naming each row that failed, with its message.
pub fn for_each_case<T>(cases: impl IntoIterator<Item = (&'static str, T)>, check: impl Fn(T)) {
    let mut failed = Vec::new();
    for (name, case) in cases {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case))) {
            let message = e
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| e.downcast_ref::<&str>().copied())
                .unwrap_or("(a panic without a message)");
            failed.push(format!("case `{name}`: {message}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// One advisory database for the whole test process, built once by [`import_testdata_db`],
/// for tests that only read it. A test that writes to its database builds its own.
pub fn testdata_db() -> &'static Path {
    static DB: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &DB.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let db = tmp.path().join("db");
        import_testdata_db(&db);
        (tmp, db)
    })
    .1
}

/// An image that passes the default policy: an Alpine release file, no packages with
/// advisories, user 1001 and a health check. `note` makes each one distinct.
pub fn passing_spec(note: &str) -> ImageSpec {
    ImageSpec::new()
        .layer(
            Layer::new().file("etc/alpine-release", "3.20.3\n").file(
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001::/app:/sbin/nologin\n",
            ),
            Compression::Gzip,
            "ADD rootfs /",
        )
        .layer(
            Layer::new().file("app/version.txt", note),
            Compression::Gzip,
            "COPY version.txt /app/",
        )
        .user("1001")
        .healthcheck(&["CMD", "true"])
}

/// A gzipped layer of one GNU sparse file at `path`: `real_size` bytes long, all holes but
/// `tail` at its end. A file as big as a cap (64 MiB) costs a few hundred bytes of tar.
pub fn sparse_layer(path: &str, real_size: u64, tail: &[u8]) -> PrebuiltLayer {
    let mut h = tar::Header::new_gnu();
    {
        let gnu = h.as_gnu_mut().expect("a GNU header");
        gnu.name[..path.len()].copy_from_slice(path.as_bytes());
        // One chunk: `tail` at the end of the file.
        let offset = real_size - tail.len() as u64;
        gnu.sparse[0].offset = octal12(offset);
        gnu.sparse[0].numbytes = octal12(tail.len() as u64);
        gnu.realsize = octal12(real_size);
    }
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_size(tail.len() as u64);
    h.set_cksum();
    let mut tar_bytes = h.as_bytes().to_vec();
    tar_bytes.extend_from_slice(tail);
    tar_bytes.resize(tar_bytes.len().div_ceil(512) * 512 + 1024, 0);
    PrebuiltLayer {
        blob: gzip(&tar_bytes),
        compression: Compression::Gzip,
        diff_id: digest_of(&tar_bytes),
        tar_len: tar_bytes.len() as u64,
    }
}

fn octal12(n: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..11].copy_from_slice(format!("{n:011o}").as_bytes());
    out
}

/// An advisory database imported once per test run from `testdata/osv/<name>` for each of
/// `sources` (`["npm", "alpine"]`), shared by every test that asks for the same sources. It
/// lives as long as the test binary (like a `static`'s, its directory is never removed early).
pub fn osv_db(sources: &[&str]) -> &'static Path {
    static DBS: std::sync::Mutex<BTreeMap<String, &'static Path>> = std::sync::Mutex::new(BTreeMap::new());
    // A test that failed while holding the lock left nothing half-made: the map is still good.
    let mut dbs = DBS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = sources.join(",");
    if let Some(db) = dbs.get(&key) {
        return db;
    }
    let tmp = tempfile::tempdir().expect("a temp dir");
    let db = tmp.path().join("db");
    let root = repo_root();
    let r = cmd::imagegate()
        .args(["db", "import", "--db"])
        .arg(&db)
        .args(sources.iter().map(|s| root.join("testdata/osv").join(s)))
        .run();
    assert_eq!(r.code, 0, "importing {key}: {}", r.stderr);
    std::mem::forget(tmp);
    let db: &'static Path = Box::leak(db.into_boxed_path());
    dbs.insert(key, db);
    db
}
