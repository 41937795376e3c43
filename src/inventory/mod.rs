//! What an image really ships: its OS, apk and npm packages (each tied to the layer that
//! introduced it), users, and files, after whiteouts. Built from the merged layer view.

pub mod apk;
pub mod compact;
pub mod coverage;
pub mod dpkg;
pub mod eol;
pub mod gobin;
pub mod node_runtime;
pub mod npm;
pub mod os;
pub mod pnpm;
pub mod purl;
pub mod rustbin;
pub mod users;
pub mod yarn;
pub mod zip;

use crate::digest::Digest;
use crate::image::model::{Healthcheck, History};
use crate::image::source::ImageSource;
use crate::image::{Image, ImageError, LayerInfo, LoadOptions, Loaded, Resolved};
use crate::layer::{Capture, CaptureError, Filesystem, NodeKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// Version of the JSON inventory document; bumped on any incompatible change.
pub const SCHEMA: u32 = 1;

/// Read caps: an installed database or lockfile is big but bounded; a `package.json` over
/// 1 MiB is not a real manifest.
pub const MAX_DB_SIZE: u64 = 64 << 20;
pub const MAX_MANIFEST_SIZE: u64 = 1 << 20;
pub const MAX_TEXT_SIZE: u64 = 1 << 20;
/// A dpkg file list is one path a line; Debian's biggest (kernel headers, TeX) are a few MB.
pub const MAX_FILE_LIST_SIZE: u64 = 16 << 20;

const APK_DBS: [&str; 2] = ["lib/apk/db/installed", "usr/lib/apk/db/installed"];
const DPKG_STATUS: &str = "var/lib/dpkg/status";
const TEXT_FILES: [&str; 7] = [
    "etc/debian_version",
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/apk/repositories",
    "etc/passwd",
    "etc/group",
];
/// npm itself and globally installed tools live here.
const GLOBAL_NODE_MODULES: &str = "usr/local/lib/node_modules/";

/// A file read from a layer, parsed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Fact {
    ApkDb {
        records: Arc<Vec<apk::ApkRecord>>,
        skipped: usize,
    },
    Text(Arc<str>),
    NpmManifest(npm::Manifest),
    Lockfile(Arc<npm::Lockfile>),
    /// `var/lib/dpkg/status`, or one `var/lib/dpkg/status.d/` file (distroless).
    DpkgStatus(Arc<dpkg::Status>),
    /// A dpkg file list (`var/lib/dpkg/info/*.list`, distroless `status.d/*.md5sums`), kept
    /// compact: a count and the programs and libraries (see [`dpkg::OwnedFiles`]).
    DpkgFiles(Arc<dpkg::OwnedFiles>),
    /// What the version scan found in `usr/local/bin/node` (streamed, never buffered).
    NodeBinary(node_runtime::BinaryScan),
    /// A `package.json` inside a package's `dist/`, `compiled/` or `vendor/`: a copy it ships
    /// when it names a version, `None` when it does not (`{"type": "module"}` markers).
    VendoredManifest(Option<npm::Manifest>),
    /// `node_modules/.pnpm/lock.yaml` or a project's `pnpm-lock.yaml`.
    PnpmLock(Arc<pnpm::PnpmLock>),
    /// The `package.json` inside a Yarn cache zip (`.yarn/cache/*.zip`).
    YarnZip(npm::Manifest),
    /// A project's Berry `yarn.lock`.
    YarnLock(Arc<yarn::Lock>),
    /// A project's own `package.json` (its dev dependencies, for Yarn projects).
    ProjectManifest(Arc<yarn::ProjectManifest>),
    /// A Yarn project's Plug'n'Play index (`.pnp.cjs`, `.pnp.data.json`): the packages it says
    /// are installed, and where.
    PnpIndex(Arc<yarn::PnpIndex>),
    /// An ELF file anywhere that is a Go binary or carries cargo-auditable data (streamed).
    Binary(Arc<BinaryFacts>),
}

/// What a streamed ELF file says of the code it was built from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub go: Option<gobin::GoBinary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rust: Option<rustbin::RustBinary>,
}

/// The most bytes of one ELF file scanned for Go build info and cargo-auditable data.
pub const MAX_ELF_SCAN: u64 = 4 << 30;

/// Streams an ELF file through the Go and the Rust scanner at once; `None` when it is
/// neither.
fn scan_elf(reader: &mut dyn std::io::Read) -> std::io::Result<Option<BinaryFacts>> {
    let mut go = gobin::GoScanner::new();
    let mut rust = rustbin::RustScanner::new();
    let mut chunk = vec![0u8; 256 << 10];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        go.feed(&chunk[..n]);
        rust.feed(&chunk[..n]);
    }
    let facts = BinaryFacts {
        go: go.finish(),
        rust: rust.finish(),
    };
    Ok((facts.go.is_some() || facts.rust.is_some()).then_some(facts))
}

/// Whether the readers of issue 17 run: the Node.js runtime (its header and binary), Yarn
/// (classic in `/opt`, Plug'n'Play zips, lockfile and index), pnpm's lockfile, vendored
/// `package.json` copies and every ELF file sniffed for Go and Rust build data. Only the
/// `bench-readers-off` feature turns them off, for `benches/readers.sh` to measure what they
/// cost; a build with it is not a gate (it does not see what they see).
const NODE_READERS: bool = !cfg!(feature = "bench-readers-off");

/// A database we cannot read would silently drop every OS package: stop instead.
fn apk_unreadable(e: &apk::ReadError) -> CaptureError {
    CaptureError {
        fatal: true,
        message: format!("apk database is unreadable: {e}"),
    }
}

/// The [`Capture`] that reads what the inventory needs and nothing else.
pub struct Collector;

impl Capture for Collector {
    type Fact = Fact;

    /// Bump when `wants` or `capture` change what a layer's walk holds.
    fn analyzer(&self) -> Option<&str> {
        Some("inventory-9")
    }

    /// The apk database too: read line by line as the walk streams it, never held whole (a
    /// database at the cap is a million stanzas; issue 12 item 5).
    fn streams(&self, path: &str) -> Option<u64> {
        if APK_DBS.contains(&path) {
            return Some(MAX_DB_SIZE);
        }
        if !NODE_READERS {
            return None;
        }
        (node_runtime::classify(path) == Some(node_runtime::RuntimeFile::Binary))
            .then_some(node_runtime::MAX_BINARY_SCAN)
    }

    /// Every other regular file's first bytes: an ELF file may be a Go binary or carry
    /// cargo-auditable data, wherever it sits.
    fn sniffs(&self) -> bool {
        NODE_READERS
    }

    fn sniff(&self, _path: &str, head: &[u8]) -> Option<u64> {
        head.starts_with(b"\x7fELF").then_some(MAX_ELF_SCAN)
    }

    fn capture_stream(
        &self,
        path: &str,
        size: u64,
        reader: &mut dyn std::io::Read,
    ) -> std::io::Result<Result<Fact, CaptureError>> {
        if APK_DBS.contains(&path) {
            if size > MAX_DB_SIZE {
                // Not read at all: the walk skips the entry's bytes.
                return Ok(Err(self.too_large(path, size, MAX_DB_SIZE)));
            }
            return match apk::read_installed(std::io::BufReader::with_capacity(64 << 10, reader)) {
                Ok((records, skipped)) => Ok(Ok(Fact::ApkDb {
                    records: Arc::new(records),
                    skipped,
                })),
                Err(apk::ReadError::Io(e)) => Err(e),
                Err(e @ apk::ReadError::NotUtf8 { .. }) => Ok(Err(apk_unreadable(&e))),
            };
        }
        if node_runtime::classify(path) == Some(node_runtime::RuntimeFile::Binary) {
            return Ok(Ok(Fact::NodeBinary(node_runtime::scan_reader(
                reader,
                node_runtime::MAX_BINARY_SCAN,
            )?)));
        }
        Ok(match scan_elf(reader)? {
            Some(facts) => Ok(Fact::Binary(Arc::new(facts))),
            // Most ELF files are neither: no fact, and no warning either.
            None => Err(CaptureError {
                fatal: false,
                message: String::new(),
            }),
        })
    }

    /// A package database or lockfile we cannot read would hide every package it lists: over
    /// its cap it stops the scan. A `package.json` over 1 MiB is one package's manifest, not a
    /// database: that stays a warning (the package is reported as not read).
    fn too_large(&self, path: &str, size: u64, cap: u64) -> CaptureError {
        let database = APK_DBS.contains(&path)
            || dpkg::classify(path).is_some_and(|f| matches!(f, dpkg::DpkgFile::Status | dpkg::DpkgFile::StatusD))
            || matches!(
                npm::classify(path),
                Some(npm::NpmFile::HiddenLockfile | npm::NpmFile::AppLockfile)
            )
            || pnpm::classify(path).is_some();
        if yarn::classify(path) == Some(yarn::YarnFile::PnpIndex) {
            return CaptureError {
                fatal: false,
                message: format!(
                    "{size} bytes is over the {cap}-byte cap for a Plug'n'Play index; whether every package it lists is in the image was NOT checked"
                ),
            };
        }
        if yarn::classify(path) == Some(yarn::YarnFile::CacheZip) {
            return CaptureError {
                fatal: false,
                message: format!(
                    "{size} bytes is over the {cap}-byte cap for a Yarn cache zip; its package was NOT checked"
                ),
            };
        }
        CaptureError {
            fatal: database,
            message: if database {
                format!(
                    "{size} bytes is over the {cap}-byte cap for a package database; its packages cannot be checked"
                )
            } else {
                format!("{size} bytes is over the {cap}-byte cap for this file; not read")
            },
        }
    }

    fn wants(&self, path: &str) -> Option<u64> {
        if APK_DBS.contains(&path) {
            return Some(MAX_DB_SIZE);
        }
        if matches!(
            dpkg::classify(path),
            Some(dpkg::DpkgFile::Status | dpkg::DpkgFile::StatusD)
        ) {
            return Some(MAX_DB_SIZE);
        }
        if matches!(
            dpkg::classify(path),
            Some(dpkg::DpkgFile::InfoList | dpkg::DpkgFile::Md5sums)
        ) {
            return Some(MAX_FILE_LIST_SIZE);
        }
        if TEXT_FILES.contains(&path) {
            return Some(MAX_TEXT_SIZE);
        }
        if !NODE_READERS {
            return match npm::classify(path) {
                Some(npm::NpmFile::Manifest) => Some(MAX_MANIFEST_SIZE),
                Some(npm::NpmFile::HiddenLockfile | npm::NpmFile::AppLockfile) => Some(MAX_DB_SIZE),
                _ => None,
            };
        }
        if node_runtime::classify(path) == Some(node_runtime::RuntimeFile::Header) {
            return Some(node_runtime::MAX_HEADER as u64);
        }
        if pnpm::classify(path).is_some() {
            return Some(MAX_DB_SIZE);
        }
        match npm_file(path) {
            Some(npm::NpmFile::Manifest | npm::NpmFile::Vendored) => Some(MAX_MANIFEST_SIZE),
            Some(npm::NpmFile::HiddenLockfile | npm::NpmFile::AppLockfile) => Some(MAX_DB_SIZE),
            None => match yarn::classify(path)? {
                yarn::YarnFile::CacheZip => Some(yarn::MAX_ZIP),
                yarn::YarnFile::Lockfile => Some(MAX_DB_SIZE),
                yarn::YarnFile::ProjectManifest => Some(MAX_MANIFEST_SIZE),
                yarn::YarnFile::PnpIndex => Some(yarn::MAX_PNP_INDEX),
            },
        }
    }

    fn capture(&self, path: &str, bytes: &[u8]) -> Result<Fact, CaptureError> {
        let warn = |message: String| CaptureError { fatal: false, message };
        if APK_DBS.contains(&path) {
            // Streamed (see `streams`) unless it is a hardlink, whose target is read whole.
            let (records, skipped) = apk::read_installed(bytes).map_err(|e| apk_unreadable(&e))?;
            return Ok(Fact::ApkDb {
                records: Arc::new(records),
                skipped,
            });
        }
        if matches!(
            dpkg::classify(path),
            Some(dpkg::DpkgFile::Status | dpkg::DpkgFile::StatusD)
        ) {
            // As for apk: a database we cannot read would drop every OS package. Stop.
            let status = dpkg::parse_status(bytes, MAX_DB_SIZE as usize).map_err(|e| CaptureError {
                fatal: true,
                message: format!("dpkg database is unreadable: {e}"),
            })?;
            return Ok(Fact::DpkgStatus(Arc::new(status)));
        }
        if matches!(
            dpkg::classify(path),
            Some(dpkg::DpkgFile::InfoList | dpkg::DpkgFile::Md5sums)
        ) {
            // A list says which files a package owns, not which packages are installed: one
            // we cannot read is a warning (ownership unknown), never a hidden package.
            let name = path.rsplit('/').next().unwrap_or(path);
            return match dpkg::parse_owned(name, bytes, MAX_FILE_LIST_SIZE as usize) {
                Ok(Some(owned)) => Ok(Fact::DpkgFiles(Arc::new(owned))),
                Ok(None) => Err(warn("not a dpkg file list".into())),
                Err(e) => Err(warn(format!("dpkg file list is unreadable: {e}"))),
            };
        }
        if TEXT_FILES.contains(&path) || node_runtime::classify(path).is_some() {
            return Ok(Fact::Text(String::from_utf8_lossy(bytes).into()));
        }
        if pnpm::classify(path).is_some() {
            // Like npm's lockfiles: one we cannot read stops the scan rather than read as empty.
            return Ok(Fact::PnpmLock(Arc::new(pnpm::parse(bytes).map_err(|message| {
                CaptureError {
                    fatal: true,
                    message: format!("pnpm lockfile is unreadable: {message}"),
                }
            })?)));
        }
        if npm_file(path).is_none() {
            return match yarn::classify(path) {
                Some(yarn::YarnFile::CacheZip) => {
                    let name = path.rsplit('/').next().unwrap_or(path);
                    yarn::read_cache_zip(name, bytes)
                        .map(Fact::YarnZip)
                        .map_err(|e| warn(format!("Yarn cache zip not read, its package was NOT checked: {e}")))
                }
                // The lockfile only tells dev dependencies apart: unreadable, they stay undecided.
                Some(yarn::YarnFile::Lockfile) => yarn::parse_lock(bytes)
                    .map(|l| Fact::YarnLock(Arc::new(l)))
                    .map_err(warn),
                Some(yarn::YarnFile::ProjectManifest) => yarn::parse_project_manifest(bytes)
                    .map(|m| Fact::ProjectManifest(Arc::new(m)))
                    .ok_or_else(|| {
                        warn("package.json is not a JSON object; its dev dependencies are not known".into())
                    }),
                Some(yarn::YarnFile::PnpIndex) => {
                    let name = path.rsplit('/').next().unwrap_or(path);
                    yarn::parse_pnp_index(name, bytes)
                        .map(|i| Fact::PnpIndex(Arc::new(i)))
                        .map_err(|e| {
                            warn(format!(
                                "{e}; whether every package it lists is in the image was NOT checked"
                            ))
                        })
                }
                None => Err(warn("not a file the inventory reads".into())),
            };
        }
        match npm_file(path) {
            // Most `package.json` files in `dist/` only set `"type"`: not packages, not worth a warning.
            Some(npm::NpmFile::Vendored) => Ok(Fact::VendoredManifest(npm::parse_manifest(bytes).map_err(warn)?)),
            Some(npm::NpmFile::Manifest) => match npm::parse_manifest(bytes).map_err(warn)? {
                Some(m) => Ok(Fact::NpmManifest(m)),
                None => Err(warn(
                    "package.json has no name or version; not counted as a package".into(),
                )),
            },
            // Like the apk database, a lockfile that does not parse is fatal, not a warning.
            Some(_) => Ok(Fact::Lockfile(Arc::new(
                npm::parse_lockfile(bytes).map_err(|message| CaptureError { fatal: true, message })?,
            ))),
            None => Err(warn("not a file the inventory reads".into())),
        }
    }
}

/// npm's files, and Yarn 1 as the official Node.js images bundle it (`opt/yarn-v1.22.22/`,
/// one package with its `package.json` at the root).
fn npm_file(path: &str) -> Option<npm::NpmFile> {
    npm::classify(path).or_else(|| yarn::is_classic_manifest(path).then_some(npm::NpmFile::Manifest))
}

/// The package managers whose databases the inventory reads. Policies, findings and reports
/// name a package `kind:name@version` (`apk:busybox@1.36.1-r29`, `npm:lodash@4.17.20`); this
/// is the one place that spelling and each kind's facts live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    Apk,
    /// Debian and Ubuntu packages (dpkg).
    Deb,
    Npm,
    /// The Node.js runtime installed outside the OS packages (`node-runtime:node@20.17.0`).
    #[serde(rename = "node-runtime")]
    NodeRuntime,
    /// A Go module (or `stdlib`) built into a Go binary (`go:golang.org/x/text@v0.3.6`).
    Go,
    /// A crate built into a cargo-auditable Rust binary (`cargo:smallvec@1.6.0`).
    Cargo,
}

impl PackageKind {
    pub const ALL: [PackageKind; 6] = [
        PackageKind::Apk,
        PackageKind::Deb,
        PackageKind::Npm,
        PackageKind::NodeRuntime,
        PackageKind::Go,
        PackageKind::Cargo,
    ];

    /// The prefix in `kind:name` (policies) and `kind:name@version` (findings).
    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Apk => "apk",
            PackageKind::Deb => "deb",
            PackageKind::Npm => "npm",
            PackageKind::NodeRuntime => "node-runtime",
            PackageKind::Go => "go",
            PackageKind::Cargo => "cargo",
        }
    }

    pub fn parse(prefix: &str) -> Option<PackageKind> {
        PackageKind::ALL.into_iter().find(|k| k.as_str() == prefix)
    }

    /// The one file that lists every package of this kind, when there is one (an npm
    /// package's own `package.json` is where it is, not a shared database).
    pub fn database_path(self) -> Option<&'static str> {
        match self {
            PackageKind::Apk => Some(APK_DBS[0]),
            PackageKind::Deb => Some(DPKG_STATUS),
            PackageKind::Npm | PackageKind::NodeRuntime | PackageKind::Go | PackageKind::Cargo => None,
        }
    }
}

impl std::fmt::Display for PackageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One installed package, as findings point at it: written `kind:name@version`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackageRef {
    pub kind: PackageKind,
    pub name: String,
    pub version: String,
}

impl PackageRef {
    pub fn new(kind: PackageKind, name: &str, version: &str) -> PackageRef {
        PackageRef {
            kind,
            name: name.to_string(),
            version: version.to_string(),
        }
    }
}

impl std::fmt::Display for PackageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}@{}", self.kind, self.name, self.version)
    }
}

impl Serialize for PackageRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The layer that introduced a package.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerRef {
    pub index: usize,
    pub digest: Digest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApkPackage {
    #[serde(flatten)]
    pub record: apk::ApkRecord,
    /// Shared by every package of the layer: a million packages hold one copy of its step.
    pub layer: Arc<LayerRef>,
}

/// A Debian or Ubuntu package.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DebPackage {
    #[serde(flatten)]
    pub record: dpkg::DpkgRecord,
    /// The database it is listed in: `var/lib/dpkg/status` or a `status.d/` file.
    pub database: Arc<str>,
    pub layer: Arc<LayerRef>,
    /// What its file list says it owns (`var/lib/dpkg/info/<package>.list`, or distroless's
    /// `status.d/<package>.md5sums`): the count and the programs and libraries.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "dpkg::serialize_owned")]
    pub files: Option<Arc<dpkg::OwnedFiles>>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum NpmSource {
    /// A `package.json` under a project's `node_modules`.
    NodeModules,
    /// A `package.json` under the global `usr/local/lib/node_modules`.
    Global,
    /// An entry of `node_modules/.package-lock.json`.
    HiddenLockfile,
    /// A copy shipped inside another package (`next/dist/compiled/@babel/runtime`).
    Vendored,
    /// A Yarn Plug'n'Play cache zip (`.yarn/cache/*.zip`).
    YarnCache,
    /// A Yarn Plug'n'Play package unpacked to `.yarn/unplugged/`.
    YarnUnplugged,
}

/// Where a vendored copy sits, and the package that ships it: upgrading that package is the
/// fix, since upgrading the copy's own name installs a second copy beside it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct VendoredIn {
    pub path: String,
    /// `next@13.4.0`; the directory's name where the parent's `package.json` was not read.
    pub parent: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NpmPackage {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Every directory the package is installed at.
    pub paths: Vec<String>,
    /// Whether a lockfile marks it a dev dependency; `None` where no lockfile says.
    pub dev: Option<bool>,
    pub sources: Vec<NpmSource>,
    /// The paths where it is a copy inside another package, with that package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vendored_in: Vec<VendoredIn>,
    pub layer: Arc<LayerRef>,
    /// The names its `package.json` depends on (SBOM edges resolve them through
    /// node_modules); empty where no `package.json` was read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
}

impl NpmPackage {
    /// Installed only by Yarn Plug'n'Play (counted under the `yarn-pnp` source).
    pub fn is_yarn_pnp(&self) -> bool {
        !self.sources.is_empty()
            && self
                .sources
                .iter()
                .all(|s| matches!(s, NpmSource::YarnCache | NpmSource::YarnUnplugged))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub layer: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageFacts {
    pub reference: String,
    pub manifest_digest: Option<Digest>,
    pub config_digest: Digest,
    pub repo_tags: Vec<String>,
    pub platform: String,
    pub layer_count: usize,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    /// The config's `User`; empty means root.
    pub user: String,
    pub healthcheck: Option<Healthcheck>,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
    pub history: Vec<History>,
    pub layers: Vec<LayerInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Inventory {
    pub schema: u32,
    pub image: ImageFacts,
    pub os: Option<os::OsInfo>,
    /// Every package source the image holds, and whether it was read.
    pub coverage: Vec<coverage::Coverage>,
    pub apk: Vec<ApkPackage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deb: Vec<DebPackage>,
    pub npm: Vec<NpmPackage>,
    /// The npm projects in the image (a `package.json` outside `node_modules`: `app/`), with
    /// the packages each names as its own dependencies: what tells a direct dependency of the
    /// app from one npm hoisted to the top of `node_modules`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub npm_projects: Vec<NpmProject>,
    /// The Node.js runtime from nodejs.org (not apk's or dpkg's `nodejs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_runtime: Option<node_runtime::RuntimePackage>,
    /// Go modules (and `stdlib`) of the image's Go binaries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub go: Vec<gobin::GoPackage>,
    /// Crates of the image's cargo-auditable Rust binaries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rust: Vec<rustbin::RustPackage>,
    pub users: Vec<users::User>,
    pub groups: Vec<users::Group>,
    /// Regular files (hardlinks included) in the final filesystem, with sizes.
    pub files: Vec<FileEntry>,
    /// The size explained, from the merge of the layers (`None` from an SBOM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<crate::image::size::ImageSize>,
    pub warnings: Vec<String>,
}

/// A project's own `package.json`: where it sits and what it depends on directly.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NpmProject {
    /// The project directory (`app`; `""` at the image root).
    pub root: String,
    /// `dependencies`, `optionalDependencies` and `peerDependencies`.
    pub dependencies: BTreeSet<String>,
    pub dev_dependencies: BTreeSet<String>,
}

/// The projects whose `node_modules` holds packages: a `package.json` outside any
/// `node_modules` with a `node_modules` directory beside it.
fn npm_projects(fs: &Filesystem<Fact>) -> Vec<NpmProject> {
    fs.facts()
        .filter_map(|(path, fact)| {
            let Fact::ProjectManifest(m) = fact else { return None };
            let root = path.strip_suffix("package.json")?.trim_end_matches('/');
            let modules = npm::join(root, "node_modules");
            matches!(fs.get(&modules), Some(n) if n.kind == NodeKind::Dir).then(|| NpmProject {
                root: root.to_string(),
                dependencies: m.production.clone(),
                dev_dependencies: m.dev.clone(),
            })
        })
        .collect()
}

/// Reads the image `reference` (parsed as `source`) and lists what it ships. A registry image
/// whose manifest was inventoried before by this very build is not read again: its inventory
/// comes from the layer cache under the manifest's digest (see [`doc_analyzer`]), so a re-scan
/// of an unchanged image costs the manifest request and one read, whatever its size. The
/// advisories and the policy are applied afresh every time; only what the image ships is kept.
pub fn read(reference: &str, source: &ImageSource, options: &LoadOptions) -> Result<Inventory, ImageError> {
    let cache = options.cache.as_deref().zip(doc_analyzer());
    let known = |r: &Resolved| -> Option<Inventory> {
        let (cache, analyzer) = cache.as_ref()?;
        let mut inventory: Inventory = cache.get_doc(r.manifest_digest, analyzer)?;
        if inventory.image.manifest_digest.as_ref() != Some(r.manifest_digest)
            || inventory.image.config_digest != *r.config_digest
        {
            return None;
        }
        // How it was named this time; the rest is the manifest's.
        inventory.image.reference = reference.to_string();
        inventory.image.repo_tags = r.repo_tags.to_vec();
        Some(inventory)
    };
    let image = match crate::image::load_source_or(reference, source, options, &Collector, &known)? {
        Loaded::Known(inventory) => return Ok(inventory),
        Loaded::Walked(image) => image,
    };
    let inventory = build(*image);
    if let (Some((cache, analyzer)), ImageSource::Registry(_), Some(manifest)) =
        (&cache, source, &inventory.image.manifest_digest)
        && let Err(e) = cache.put_doc(manifest, analyzer, &inventory)
    {
        tracing::warn!("{e}");
    }
    Ok(inventory)
}

/// The key of a cached inventory beside the manifest digest: the walks' analyzer and this
/// binary itself (its size and modification time). [`build`] changes more often than
/// `Collector`'s analyzer id is bumped; keyed by the executable, a rebuilt or upgraded binary
/// never reads an inventory an older one built (it re-reads the walks, which are still
/// cached). `None` (no caching) when the executable cannot be looked at.
fn doc_analyzer() -> Option<String> {
    let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    let modified = exe.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!(
        "{}.build-{:x}-{:x}.{:x}",
        Collector.analyzer()?,
        exe.len(),
        modified.as_secs(),
        modified.subsec_nanos()
    ))
}

/// Merges the layers of `image` and lists what the result ships.
pub fn build(image: Image<Fact>) -> Inventory {
    let Image {
        reference,
        manifest_digest,
        config_digest,
        repo_tags,
        config,
        layers,
        fs,
    } = image;
    let mut warnings = Vec::new();
    let mut infos = Vec::with_capacity(layers.len());
    for layer in layers {
        warnings.extend(layer.warnings);
        infos.push(layer.info);
    }
    // One shared value a layer: every package points at the layer that added it.
    let layer_refs: Vec<Arc<LayerRef>> = infos
        .iter()
        .enumerate()
        .map(|(index, l)| {
            Arc::new(LayerRef {
                index,
                digest: l.digest.clone(),
                created_by: l.created_by.clone(),
            })
        })
        .collect();
    let layer_ref = |index: usize| Arc::clone(&layer_refs[index]);

    let text = |path: &str| -> Option<Arc<str>> {
        match fs.fact(&fs.resolve(path)?)? {
            Fact::Text(t) => Some(t.clone()),
            _ => None,
        }
    };
    let os_release = text("etc/os-release").or_else(|| text("usr/lib/os-release"));
    let (os, os_warnings) = os::identify_with_debian_version(
        os_release.as_deref(),
        text("etc/alpine-release").as_deref(),
        text("etc/apk/repositories").as_deref(),
        text("etc/debian_version").as_deref(),
    );
    warnings.extend(os_warnings);

    let (apk_records, apk_layers, apk_db) = apk_packages(&fs, &layer_ref, &mut warnings);
    let deb = deb_packages(&fs, &layer_ref, &mut warnings);
    let os_owns_node = os_owns_node(&apk_records, &deb);
    // The file list, the size explained and the unsupported package sources each read the
    // whole filesystem and nothing else: beside the npm packages, on the other core, instead
    // of after them.
    let (npm, ((files, size), unsupported)) = rayon::join(
        || npm_packages(&fs, &layer_ref),
        || {
            rayon::join(
                || {
                    let files: Vec<FileEntry> = fs
                        .files()
                        .map(|(path, n)| FileEntry {
                            path: path.clone(),
                            size: fs.file_size(n).unwrap_or(0),
                            layer: n.layer,
                        })
                        .collect();
                    (files, Some(crate::image::size::ImageSize::of(&fs, infos.len())))
                },
                || unsupported_sources(&fs, os.is_some(), &config, os_owns_node),
            )
        },
    );
    let npm_projects = npm_projects(&fs);
    let (node_runtime, runtime_warnings) = node_runtime::inventory(
        &fs,
        config.config.env.as_deref().unwrap_or_default(),
        os_owns_node,
        &layer_ref,
        infos.len().saturating_sub(1),
    );
    warnings.extend(runtime_warnings);
    let mut coverage = coverage_of(&fs, &apk_records, &deb, &npm, unsupported, &mut warnings);
    node_runtime::coverage(&mut coverage, node_runtime.as_ref());
    let go = gobin::inventory(&fs, &layer_ref);
    let rust = rustbin::inventory(&fs, &layer_ref);
    for (path, reason) in go.unreadable.iter().chain(&rust.unreadable) {
        warnings.push(format!("{path}: {reason}"));
    }
    coverage.extend(gobin::coverage(&go));
    coverage.extend(rustbin::coverage(&rust));

    let (users, bad) = text("etc/passwd").map(|t| users::parse_passwd(&t)).unwrap_or_default();
    if bad > 0 {
        warnings.push(format!(
            "etc/passwd: {} skipped",
            crate::units::plural(bad, "malformed line")
        ));
    }
    let (groups, bad) = text("etc/group").map(|t| users::parse_group(&t)).unwrap_or_default();
    if bad > 0 {
        warnings.push(format!(
            "etc/group: {} skipped",
            crate::units::plural(bad, "malformed line")
        ));
    }

    // The filesystem held the only other reference to the database's records: take them
    // out of it, then free the rest (every path of the image: ~6 ms on the 200 MB bench
    // image) on a thread of its own while the gate and the report go on.
    let mut fs = fs;
    if let Some(db) = &apk_db {
        drop(fs.take_history(db));
    }
    drop_beside(fs);
    let apk = apk_with_layers(
        Arc::try_unwrap(apk_records).unwrap_or_else(|shared| (*shared).clone()),
        apk_layers,
    );

    let c = &config.config;
    let image = ImageFacts {
        reference,
        manifest_digest,
        config_digest,
        repo_tags,
        platform: crate::image::model::Platform {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone(),
        }
        .to_string(),
        layer_count: infos.len(),
        compressed_size: infos.iter().map(|l| l.compressed_size).sum(),
        uncompressed_size: infos.iter().map(|l| l.uncompressed_size).sum(),
        user: c.user.clone().unwrap_or_default(),
        healthcheck: c.healthcheck.clone(),
        labels: c.labels.clone().unwrap_or_default(),
        exposed_ports: c
            .exposed_ports
            .as_ref()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default(),
        history: config.history.clone(),
        layers: infos,
    };
    Inventory {
        schema: SCHEMA,
        image,
        os,
        coverage,
        apk,
        deb,
        npm,
        npm_projects,
        node_runtime,
        go: go.packages,
        rust: rust.packages,
        users,
        groups,
        files,
        size,
        warnings,
    }
}

/// Drops `value` on a thread of its own: when none can be started, the closure (and `value`
/// with it) is dropped here.
pub fn drop_beside<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(value));
}

/// Whether an OS package installed Node.js, whose advisories then cover it: apk's or dpkg's
/// `nodejs`, or a dpkg package whose file list owns `usr/bin/node` or the runtime's own
/// `usr/local/bin/node` (a repackaged runtime under another name).
fn os_owns_node(apk: &[apk::ApkRecord], deb: &[DebPackage]) -> bool {
    apk.iter().any(|r| r.name().starts_with("nodejs"))
        || deb.iter().any(|p| {
            p.record.name() == "nodejs"
                || p.files
                    .as_ref()
                    .is_some_and(|f| f.owns("usr/bin/node") || f.owns(node_runtime::NODE_BINARY))
        })
}

/// The read sources with their counts, then what is recognised but not read.
fn coverage_of(
    fs: &Filesystem<Fact>,
    apk: &[apk::ApkRecord],
    deb: &[DebPackage],
    npm: &[NpmPackage],
    unsupported: Unsupported,
    warnings: &mut Vec<String>,
) -> Vec<coverage::Coverage> {
    use coverage::{Coverage, Source};
    let mut out = Vec::new();
    if !apk.is_empty() {
        out.push(Coverage::read(Source::Apk, apk.len(), vec![APK_DBS[0].to_string()]));
    }
    if !deb.is_empty() {
        let mut dbs: Vec<String> = deb.iter().map(|p| p.database.to_string()).collect();
        dbs.sort();
        dbs.dedup();
        let more = dbs.len().saturating_sub(coverage::MAX_PATHS);
        dbs.truncate(coverage::MAX_PATHS);
        let mut c = Coverage::read(Source::Dpkg, deb.len(), dbs);
        c.more_paths = more;
        out.push(c);
    }
    let pnp = npm.iter().filter(|p| p.is_yarn_pnp()).count();
    if npm.len() > pnp {
        out.push(Coverage::read(Source::Npm, npm.len() - pnp, Vec::new()));
    }
    let Unsupported { sources, unread_zips } = unsupported;
    out.extend(sources);
    yarn_coverage(fs, pnp, unread_zips, &mut out, warnings);
    out
}

/// What the file list alone says about coverage: the package sources no reader here supports,
/// by the files that show them (see [`coverage::recognise`]), and the Yarn cache zips that
/// were not read.
struct Unsupported {
    sources: Vec<coverage::Coverage>,
    unread_zips: BTreeSet<String>,
}

fn unsupported_sources(
    fs: &Filesystem<Fact>,
    os_known: bool,
    config: &crate::image::model::ImageConfig,
    os_owns_node: bool,
) -> Unsupported {
    let node_version = config
        .config
        .env
        .iter()
        .flatten()
        .find_map(|e| e.strip_prefix("NODE_VERSION="));
    let sources = coverage::recognise(
        fs.files().map(|(path, _)| path.as_str()),
        os_known,
        node_version,
        os_owns_node,
    );
    let unread_zips = fs
        .files()
        .filter(|(path, _)| {
            yarn::classify(path) == Some(yarn::YarnFile::CacheZip) && !matches!(fs.fact(path), Some(Fact::YarnZip(_)))
        })
        .map(|(path, _)| path.clone())
        .collect();
    Unsupported { sources, unread_zips }
}

/// Yarn Plug'n'Play, once read: the packages found in cache zips (and `.yarn/unplugged`),
/// and, apart, every cache zip that could not be read (over its cap, hostile, no manifest),
/// which stays not checked with its path; then the cross-check against each project's
/// Plug'n'Play index (see [`pnp_cross_check`]).
fn yarn_coverage(
    fs: &Filesystem<Fact>,
    packages: usize,
    unread: BTreeSet<String>,
    out: &mut Vec<coverage::Coverage>,
    warnings: &mut Vec<String>,
) {
    use coverage::{Coverage, Source, Status};
    let (missing, unindexed) = pnp_cross_check(fs, warnings);
    if packages == 0 && unread.is_empty() && missing.is_empty() && unindexed.is_empty() {
        return; // as recognised: a .pnp.cjs without a cache in the image
    }
    // Replaces what recognition found; where it found nothing (a cache it does not know by
    // path), the packages read still get their entry, or they would go unmatched.
    let mut roots: Vec<String> = Vec::new();
    if let Some(at) = out.iter().position(|c| c.source == Source::YarnPnp) {
        roots = out[at]
            .paths
            .iter()
            .filter(|p| p.ends_with("/.pnp.cjs") || p.as_str() == ".pnp.cjs")
            .cloned()
            .collect();
        roots.truncate(coverage::MAX_PATHS);
        out.remove(at);
    }
    if packages > 0 {
        out.push(Coverage::read(Source::YarnPnp, packages, roots));
    }
    let not_checked = |paths: BTreeSet<String>, reason: String| Coverage {
        source: Source::YarnPnp,
        status: Status::NotChecked,
        packages: 0,
        ecosystem: None,
        reason: Some(reason),
        more_paths: paths.len().saturating_sub(coverage::MAX_PATHS),
        paths: paths.into_iter().take(coverage::MAX_PATHS).collect(),
    };
    if !unread.is_empty() {
        let reason = format!(
            "{} Yarn cache zip(s) could not be read (see the warnings): their packages were NOT checked",
            unread.len()
        );
        out.push(not_checked(unread, reason));
    }
    if !missing.is_empty() {
        let reason = format!(
            "{} the Plug'n'Play index lists {} not in the image (no cache zip or unplugged directory; see the warnings): NOT checked",
            crate::units::plural(missing.len(), "package"),
            if missing.len() == 1 { "is" } else { "are" }
        );
        out.push(not_checked(missing, reason));
    }
    if !unindexed.is_empty() {
        let reason = "the Plug'n'Play index could not be read (see the warnings): whether every package it lists is in the image was NOT checked".to_string();
        out.push(not_checked(unindexed, reason));
    }
}

/// Warnings per index about packages it lists that are missing, past which they are counted.
const MAX_MISSING_WARNINGS: usize = 10;

/// Yarn's own list against the image: every package a project's Plug'n'Play index
/// (`.pnp.cjs`, `.pnp.data.json`) lists on disk must have its cache zip or unplugged
/// directory in the image, or the inventory never saw it. Returns the missing places (a
/// warning names each package) and the indexes that could not be read (their warning came
/// from the layer walk), each to be listed `not_checked`.
fn pnp_cross_check(fs: &Filesystem<Fact>, warnings: &mut Vec<String>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut missing = BTreeSet::new();
    let mut unindexed = BTreeSet::new();
    let is_file = |path: &str| {
        let resolved = fs.resolve(path);
        matches!(
            resolved.as_deref().and_then(|p| fs.get(p)).map(|n| &n.kind),
            Some(NodeKind::File { .. } | NodeKind::Hardlink { .. })
        )
    };
    let indexes: Vec<&String> = fs
        .nodes()
        .filter(|(path, n)| !matches!(n.kind, NodeKind::Dir) && yarn::classify(path) == Some(yarn::YarnFile::PnpIndex))
        .map(|(path, _)| path)
        .collect();
    let mut seen_in: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for path in indexes {
        let (root, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let packages = match fs.fact(path) {
            Some(Fact::PnpIndex(index)) => match index.as_ref() {
                yarn::PnpIndex::Packages(p) => p,
                yarn::PnpIndex::InDataFile => {
                    let data = npm::join(root, ".pnp.data.json");
                    if !matches!(fs.fact(&data), Some(Fact::PnpIndex(_))) && !is_file(&data) {
                        warnings.push(format!(
                            "{path}: its Plug'n'Play state is in {data}, which is not in the image; whether every package it lists is in the image was NOT checked"
                        ));
                        unindexed.insert(path.clone());
                    }
                    continue;
                }
            },
            // A symlink to an index is checked where it points (Node loads `.pnp.cjs` from its
            // real path, so the locations are relative to that directory); one to a file that
            // was not read as an index leaves the project unchecked.
            _ if fs.get(path).is_some_and(|n| matches!(n.kind, NodeKind::Symlink { .. })) => {
                let target = fs.resolve(path);
                if !matches!(target.as_deref().and_then(|t| fs.fact(t)), Some(Fact::PnpIndex(_))) {
                    warnings.push(format!(
                        "{path}: a symlink to {}, which was not read as a Plug'n'Play index; whether every package it lists is in the image was NOT checked",
                        target.as_deref().unwrap_or("nothing in the image")
                    ));
                    unindexed.insert(path.clone());
                }
                continue;
            }
            _ => {
                unindexed.insert(path.clone());
                continue;
            }
        };
        // A project with both an inline `.pnp.cjs` and a `.pnp.data.json` lists its packages
        // twice: each missing one is warned of once.
        let seen = seen_in.entry(root).or_default();
        let mut absent = 0usize;
        for p in packages {
            let (file, shown) = yarn::expected_location(root, &p.location);
            if !seen.insert(file.clone()) || is_file(&file) {
                continue;
            }
            absent += 1;
            if absent <= MAX_MISSING_WARNINGS {
                warnings.push(format!(
                    "{path}: Yarn lists {}@{} at {shown}, which is not in the image: that package was NOT checked",
                    p.name, p.reference
                ));
            }
            missing.insert(shown);
        }
        if absent > MAX_MISSING_WARNINGS {
            warnings.push(format!(
                "{path}: and {} more package(s) {name} lists are not in the image: NOT checked",
                absent - MAX_MISSING_WARNINGS
            ));
        }
    }
    (missing, unindexed)
}

/// Debian and Ubuntu packages from `var/lib/dpkg/status` and distroless `status.d/` files.
fn deb_packages(
    fs: &Filesystem<Fact>,
    layer_ref: &impl Fn(usize) -> Arc<LayerRef>,
    warnings: &mut Vec<String>,
) -> Vec<DebPackage> {
    // The file lists, by package, and by package and architecture (`libssl3:amd64.list`).
    let mut lists: BTreeMap<(&str, Option<&str>), &Arc<dpkg::OwnedFiles>> = BTreeMap::new();
    for (_, fact) in fs.facts() {
        if let Fact::DpkgFiles(owned) = fact {
            lists.insert((&owned.package, owned.arch.as_deref()), owned);
        }
    }
    let list_of = |r: &dpkg::DpkgRecord| {
        lists
            .get(&(r.name(), r.arch()))
            .or_else(|| lists.get(&(r.name(), None)))
            .map(|o| Arc::clone(o))
    };
    let mut out = Vec::new();
    for (path, fact) in fs.facts() {
        let Fact::DpkgStatus(status) = fact else { continue };
        if status.skipped > 0 {
            warnings.push(format!(
                "{path}: {} without a package name or version skipped",
                entries(status.skipped)
            ));
        }
        // Like apk's database, `status` is rewritten whole by every apt run: a package
        // belongs to the earliest layer, in an unbroken run up to the top, that lists it.
        // The top version is `status` itself and lists every package: only the earlier
        // ones need a set (a set of the top would cost as much as the records).
        type NameVersions<'a> = HashSet<(&'a str, &'a str)>;
        let (top_layer, earlier) = match fs.history(path).split_last() {
            Some((top, earlier)) => (top.layer, earlier),
            None => (0, &[][..]),
        };
        let history: Vec<(usize, Option<NameVersions>)> = earlier
            .iter()
            .map(|e| {
                let set = match &e.fact {
                    Some(Fact::DpkgStatus(s)) => Some(s.records.iter().map(|r| (r.name(), r.version())).collect()),
                    _ => None,
                };
                (e.layer, set)
            })
            .collect();
        let database: Arc<str> = Arc::from(path.as_str());
        for r in &status.records {
            let key = (r.name(), r.version());
            let mut layer = top_layer;
            for (l, set) in history.iter().rev() {
                match set {
                    Some(s) if s.contains(&key) => layer = *l,
                    _ => break,
                }
            }
            out.push(DebPackage {
                record: r.clone(),
                database: database.clone(),
                layer: layer_ref(layer),
                files: list_of(r),
            });
        }
    }
    out.sort_by(|a, b| (a.record.name(), a.record.arch()).cmp(&(b.record.name(), b.record.arch())));
    out
}

/// The apk database of the final image and, per record, the layer that introduced it. The
/// records are returned as the shared fact itself, so the caller can move them out once the
/// filesystem is gone instead of copying a database of a million stanzas.
fn apk_packages(
    fs: &Filesystem<Fact>,
    layer_ref: &impl Fn(usize) -> Arc<LayerRef>,
    warnings: &mut Vec<String>,
) -> (Arc<Vec<apk::ApkRecord>>, Vec<Arc<LayerRef>>, Option<String>) {
    let none = || (Arc::new(Vec::new()), Vec::new(), None);
    let db = APK_DBS
        .iter()
        .filter_map(|p| fs.resolve(p))
        .find(|p| matches!(fs.fact(p), Some(Fact::ApkDb { .. })));
    let Some(db) = db else { return none() };
    let Some(Fact::ApkDb { records, skipped }) = fs.fact(&db) else {
        return none();
    };
    if *skipped > 0 {
        warnings.push(format!("{db}: {} without a name or version skipped", entries(*skipped)));
    }
    // The database is rewritten whole by every `apk add`: a package belongs to the earliest
    // version of it, in an unbroken run up to the top, that already lists it. The top version
    // lists every package by definition: only the earlier ones need a set.
    let Some((top, earlier)) = fs.history(&db).split_last() else {
        return none();
    };
    type NameVersions<'a> = HashSet<(&'a str, &'a str)>;
    let history: Vec<(usize, Option<NameVersions>)> = earlier
        .iter()
        .map(|e| {
            let set = match &e.fact {
                Some(Fact::ApkDb { records, .. }) => Some(records.iter().map(|r| (r.name(), r.version())).collect()),
                _ => None,
            };
            (e.layer, set)
        })
        .collect();
    let layers = records
        .iter()
        .map(|r| {
            let key = (r.name(), r.version());
            let mut layer = top.layer;
            for (l, set) in history.iter().rev() {
                match set {
                    Some(s) if s.contains(&key) => layer = *l,
                    _ => break,
                }
            }
            layer_ref(layer)
        })
        .collect();
    (records.clone(), layers, Some(db))
}

/// Pairs each record with its layer. A database at the cap is a million records: rather than
/// hold the records' vector and the packages' at once (~100 MB of vectors alone), the records
/// are taken from the back and their vector shortened as it goes, which gives its pages back;
/// the packages' vector is only reserved up front, and a reserved page costs nothing until it
/// is written.
fn apk_with_layers(mut records: Vec<apk::ApkRecord>, mut layers: Vec<Arc<LayerRef>>) -> Vec<ApkPackage> {
    const STEP: usize = 1 << 16;
    let mut packages = Vec::with_capacity(records.len());
    while let (Some(record), Some(layer)) = (records.pop(), layers.pop()) {
        packages.push(ApkPackage { record, layer });
        if records.len().is_multiple_of(STEP) {
            records.shrink_to_fit();
            layers.shrink_to_fit();
        }
    }
    packages.reverse();
    packages
}

fn npm_packages(fs: &Filesystem<Fact>, layer_ref: &impl Fn(usize) -> Arc<LayerRef>) -> Vec<NpmPackage> {
    struct Acc {
        license: Option<String>,
        paths: BTreeSet<String>,
        sources: BTreeSet<NpmSource>,
        vendored_in: BTreeSet<VendoredIn>,
        layer: usize,
        dev: Vec<Option<bool>>,
        dependencies: Vec<String>,
    }
    type Found = BTreeMap<(String, String), Acc>;
    let mut found: Found = BTreeMap::new();
    let mut dev_flags = DevFlags::new(fs);
    /// One install of a package: where, how it was found, and what a lockfile says of it.
    struct Install<'a> {
        name: &'a str,
        version: &'a str,
        dir: &'a str,
        source: NpmSource,
        layer: usize,
        license: Option<&'a String>,
        dev: Option<bool>,
    }
    fn add<'f>(found: &'f mut Found, i: Install<'_>) -> &'f mut Acc {
        let acc = found
            .entry((i.name.to_string(), i.version.to_string()))
            .or_insert_with(|| Acc {
                license: i.license.cloned(),
                paths: BTreeSet::new(),
                sources: BTreeSet::new(),
                vendored_in: BTreeSet::new(),
                layer: i.layer,
                dev: Vec::new(),
                dependencies: Vec::new(),
            });
        acc.layer = acc.layer.min(i.layer);
        acc.sources.insert(i.source);
        if acc.paths.insert(i.dir.to_string()) {
            acc.dev.push(i.dev);
        }
        acc
    }

    for (path, fact) in fs.facts() {
        let dir = path.strip_suffix("/package.json").unwrap_or(path);
        match fact {
            Fact::NpmManifest(m) => {
                let source = if path.starts_with(GLOBAL_NODE_MODULES) || yarn::is_classic_manifest(path) {
                    NpmSource::Global
                } else if yarn::project_root(path).is_some() {
                    NpmSource::YarnUnplugged
                } else {
                    NpmSource::NodeModules
                };
                let layer = fs
                    .introduced(
                        path,
                        |f| matches!(f, Fact::NpmManifest(o) if o.name == m.name && o.version == m.version),
                    )
                    .unwrap_or(0);
                let acc = add(
                    &mut found,
                    Install {
                        name: &m.name,
                        version: &m.version,
                        dir,
                        source,
                        layer,
                        license: m.license.as_ref(),
                        dev: dev_flags.of(dir, &m.name, &m.version),
                    },
                );
                if acc.dependencies.is_empty() {
                    acc.dependencies = m.dependencies.clone();
                }
            }
            // A copy inside its parent: reported with the parent, whose dev flag it shares.
            Fact::VendoredManifest(Some(m)) => {
                let Some(parent_dir) = npm::vendor_parent(dir) else {
                    continue;
                };
                let parent = match fs.fact(&npm::manifest_of(parent_dir)) {
                    Some(Fact::NpmManifest(p)) => Some(p),
                    _ => None,
                };
                let layer = fs
                    .introduced(
                        path,
                        |f| matches!(f, Fact::VendoredManifest(Some(o)) if o.name == m.name && o.version == m.version),
                    )
                    .unwrap_or(0);
                let acc = add(
                    &mut found,
                    Install {
                        name: &m.name,
                        version: &m.version,
                        dir,
                        source: NpmSource::Vendored,
                        layer,
                        license: m.license.as_ref(),
                        dev: parent.and_then(|p| dev_flags.of(parent_dir, &p.name, &p.version)),
                    },
                );
                acc.vendored_in.insert(VendoredIn {
                    path: dir.to_string(),
                    parent: parent.map_or_else(
                        || {
                            parent_dir
                                .rsplit("node_modules/")
                                .next()
                                .unwrap_or(parent_dir)
                                .to_string()
                        },
                        |p| format!("{}@{}", p.name, p.version),
                    ),
                });
            }
            _ => {}
        }
    }

    // Yarn Plug'n'Play: one package per cache zip, at the zip's path.
    for (path, fact) in fs.facts() {
        let Fact::YarnZip(m) = fact else { continue };
        let layer = fs
            .introduced(path, |f| matches!(f, Fact::YarnZip(o) if o == m))
            .unwrap_or(0);
        let acc = add(
            &mut found,
            Install {
                name: &m.name,
                version: &m.version,
                dir: path,
                source: NpmSource::YarnCache,
                layer,
                license: m.license.as_ref(),
                dev: dev_flags.of(path, &m.name, &m.version),
            },
        );
        if acc.dependencies.is_empty() {
            acc.dependencies = m.dependencies.clone();
        }
    }

    // npm's own record of node_modules: it confirms what package.json files say, and names
    // packages whose directory is present even where their package.json was not read.
    for (path, fact) in fs.facts() {
        let Fact::Lockfile(lock) = fact else { continue };
        if npm::classify(path) != Some(npm::NpmFile::HiddenLockfile) {
            continue;
        }
        let root = path
            .strip_suffix("node_modules/.package-lock.json")
            .unwrap_or_default()
            .trim_end_matches('/');
        let layer = fs.introduced(path, |_| true).unwrap_or(0);
        for (key, entry) in &lock.packages {
            let Some(version) = &entry.version else { continue };
            let dir = npm::join(root, key);
            let name = entry
                .name
                .clone()
                .unwrap_or_else(|| key.rsplit("node_modules/").next().unwrap_or(key).to_string());
            match fs.fact(&npm::manifest_of(&dir)) {
                Some(Fact::NpmManifest(m)) if &m.version == version && m.name == name => {
                    if let Some(acc) = found.get_mut(&(name, version.clone())) {
                        acc.sources.insert(NpmSource::HiddenLockfile);
                    }
                }
                Some(_) => {}
                None if matches!(fs.get(&dir), Some(n) if n.kind == NodeKind::Dir) => {
                    let dev = dev_flags.of(&dir, &name, version);
                    add(
                        &mut found,
                        Install {
                            name: &name,
                            version,
                            dir: &dir,
                            source: NpmSource::HiddenLockfile,
                            layer,
                            license: None,
                            dev,
                        },
                    );
                }
                None => {}
            }
        }
    }

    // pnpm links each direct dependency, `node_modules/<name>`, to its directory in the virtual
    // store: the same install, reachable at one more path (not another package).
    for (path, node) in fs.nodes() {
        let NodeKind::Symlink { target } = &node.kind else {
            continue;
        };
        if !target.contains(".pnpm/") || path.contains("/.pnpm/") || !path.contains("node_modules/") {
            continue;
        }
        let Some(resolved) = fs.resolve(path) else { continue };
        if let Some(Fact::NpmManifest(m)) = fs.fact(&npm::manifest_of(&resolved))
            && let Some(acc) = found.get_mut(&(m.name.clone(), m.version.clone()))
            && acc.paths.contains(&resolved)
        {
            acc.paths.insert(path.clone());
        }
    }

    found
        .into_iter()
        .map(|((name, version), acc)| {
            // Dev only if every install of it is dev; any production install makes it shipped code.
            let dev = if acc.dev.contains(&Some(false)) {
                Some(false)
            } else if !acc.dev.is_empty() && acc.dev.iter().all(|d| *d == Some(true)) {
                Some(true)
            } else {
                None
            };
            NpmPackage {
                name,
                version,
                license: acc.license,
                paths: acc.paths.into_iter().collect(),
                dev,
                sources: acc.sources.into_iter().collect(),
                vendored_in: acc.vendored_in.into_iter().collect(),
                layer: layer_ref(acc.layer),
                dependencies: acc.dependencies,
            }
        })
        .collect()
}

/// Per Yarn project root, the dev flags its `yarn.lock` and `package.json` decide.
type YarnDev = HashMap<String, HashMap<(String, String), bool>>;

fn yarn_dev_flags(fs: &Filesystem<Fact>) -> YarnDev {
    let mut out = YarnDev::new();
    for (path, fact) in fs.facts() {
        let Fact::YarnLock(lock) = fact else { continue };
        let root = path.strip_suffix("yarn.lock").unwrap_or_default().trim_end_matches('/');
        // Without the project's package.json, dev and production cannot be told apart.
        let Some(Fact::ProjectManifest(manifest)) = fs.fact(&npm::join(root, "package.json")) else {
            continue;
        };
        out.insert(root.to_string(), yarn::dev_flags(lock, manifest));
    }
    out
}

/// The dev flags of installs: what a Yarn project's `yarn.lock` decides, else what the
/// project's npm or pnpm lockfiles say. Asked once a package (thousands an image) of a few
/// projects: each project's lockfiles are looked up once.
struct DevFlags<'a> {
    fs: &'a Filesystem<Fact>,
    yarn: YarnDev,
    /// Per project root, its npm lockfiles in the order they are asked.
    npm: HashMap<String, Vec<&'a npm::Lockfile>>,
    /// Per project root, its pnpm lockfiles in the order they are asked.
    pnpm: HashMap<String, Vec<&'a pnpm::PnpmLock>>,
}

impl<'a> DevFlags<'a> {
    fn new(fs: &'a Filesystem<Fact>) -> Self {
        DevFlags {
            fs,
            yarn: yarn_dev_flags(fs),
            npm: HashMap::new(),
            pnpm: HashMap::new(),
        }
    }

    /// The dev flag of the package `name@version` installed at `dir`.
    fn of(&mut self, dir: &str, name: &str, version: &str) -> Option<bool> {
        if let Some(root) = yarn::project_root(dir) {
            return self
                .yarn
                .get(root)
                .and_then(|flags| flags.get(&(name.to_string(), version.to_string())).copied());
        }
        let fs = self.fs;
        // pnpm's virtual store: by name and version.
        if let Some(i) = memchr::memmem::find(dir.as_bytes(), b"node_modules/.pnpm/") {
            let root = dir[..i].trim_end_matches('/');
            let locks = once_per_root(&mut self.pnpm, root, || {
                pnpm::lockfiles_of(root)
                    .iter()
                    .filter_map(|lock| match fs.fact(lock) {
                        Some(Fact::PnpmLock(l)) => Some(&**l),
                        _ => None,
                    })
                    .collect()
            });
            return locks?.iter().find_map(|l| l.dev(name, version));
        }
        // npm's: by install path.
        let (root, key) = npm::split_project(dir)?;
        let locks = once_per_root(&mut self.npm, root, || {
            [
                "package-lock.json",
                "npm-shrinkwrap.json",
                "node_modules/.package-lock.json",
            ]
            .iter()
            .filter_map(|lock| match fs.fact(&npm::join(root, lock)) {
                Some(Fact::Lockfile(l)) => Some(&**l),
                _ => None,
            })
            .collect()
        });
        locks?.iter().find_map(|l| l.packages.get(key).map(|e| e.dev))
    }
}

/// `root`'s entry of `map`, made by `find` the first time (the key copied only then; always
/// `Some`).
fn once_per_root<'m, V>(map: &'m mut HashMap<String, V>, root: &str, find: impl FnOnce() -> V) -> Option<&'m V> {
    if !map.contains_key(root) {
        map.insert(root.to_string(), find());
    }
    map.get(root)
}

/// `1 entry`, `2 entries`.
fn entries(n: usize) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{n} entries")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn apk_records_keep_their_order_and_layer_across_the_shortening_steps() {
        let layer = |index| {
            Arc::new(LayerRef {
                index,
                digest: Digest::sha256_of(&[index as u8]),
                created_by: None,
            })
        };
        let (low, high) = (layer(0), layer(1));
        let n = 3 * (1 << 16) + 5;
        let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let records = names
            .iter()
            .map(|name| apk::ApkRecord::new(name, "1-r0", None, None, None).unwrap())
            .collect();
        let layers = (0..n).map(|i| if i < 7 { low.clone() } else { high.clone() }).collect();
        let packages = apk_with_layers(records, layers);
        assert_eq!(packages.len(), n);
        for (i, p) in packages.iter().enumerate() {
            assert_eq!(p.record.name(), names[i]);
            assert_eq!(p.layer.index, usize::from(i >= 7));
        }
    }
}
