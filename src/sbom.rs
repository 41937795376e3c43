//! SBOMs in: `scan sbom:FILE` reads a CycloneDX JSON, SPDX JSON or imagegate inventory JSON
//! document into an [`Inventory`] that the gate judges like an image's. Packages are taken
//! from their purls ([`crate::inventory::purl`]): `pkg:apk/…`, `pkg:deb/…`, `pkg:npm/…`,
//! `pkg:golang/…` (the toolchain as `pkg:golang/stdlib`), `pkg:cargo/…` and the Node.js
//! runtime's `pkg:generic/node` are matched; any other type is listed as `other` in the coverage (not checked). The OS
//! comes from an `operating-system` component, else from the purls' `distro` qualifier.
//!
//! An SBOM carries no image facts (user, health check, size, layers, files): the coverage
//! lists `image-facts` as not checked and the policy's image and file checks are not run.
//! Where the SBOM names no layer, packages point at a stand-in layer whose digest is the
//! SBOM document's own sha256 and whose `created_by` says so.
//!
//! Every byte is hostile: the file is capped at [`MAX_SBOM_SIZE`], components at
//! [`MAX_COMPONENTS`], nesting at [`MAX_DEPTH`]; anything that is not one of the three
//! formats is an error (exit 2), never an empty inventory.

use crate::digest::Digest;
use crate::inventory::coverage::{Coverage, Source, Status};
use crate::inventory::dpkg::DpkgRecord;
use crate::inventory::gobin::GoPackage;
use crate::inventory::os::{self, OsInfo};
use crate::inventory::purl::{self, Purl};
use crate::inventory::rustbin::RustPackage;
use crate::inventory::{
    self, ApkPackage, DebPackage, ImageFacts, Inventory, LayerRef, NpmPackage, NpmSource, PackageKind, apk,
};
use crate::report::cyclonedx as cdx;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const MAX_SBOM_SIZE: u64 = 256 << 20;
pub const MAX_COMPONENTS: usize = 200_000;
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("SBOM {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("SBOM {path}: {size} bytes, over the {max}-byte cap")]
    TooBig { path: PathBuf, size: u64, max: u64 },
    #[error("SBOM {path}: not JSON ({message})")]
    NotJson { path: PathBuf, message: String },
    #[error("SBOM {path}: not a CycloneDX, SPDX or imagegate inventory JSON document")]
    Unknown { path: PathBuf },
    #[error("SBOM {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Reads the SBOM at `path`.
pub fn read(path: &Path) -> Result<Inventory, SbomError> {
    use std::io::Read;
    let read_err = |source| SbomError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_SBOM_SIZE + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > MAX_SBOM_SIZE {
        return Err(SbomError::TooBig {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            max: MAX_SBOM_SIZE,
        });
    }
    parse(&bytes, path)
}

/// One package as an SBOM lists it.
#[derive(Default)]
struct Pkg {
    purl: Option<Purl>,
    name: String,
    version: String,
    license: Option<String>,
    paths: Vec<String>,
    layer_index: Option<usize>,
    layer_digest: Option<Digest>,
    created_by: Option<String>,
    dev: Option<bool>,
    /// Trivy's `SrcName` / `SrcVersion`.
    src_name: Option<String>,
    src_version: Option<String>,
    /// imagegate's Go and cargo properties ([`cdx::PROP_GO_MAIN`], …).
    go_main: bool,
    go_replaced_by: Option<String>,
    go_replaces: Option<String>,
    cargo_source: Option<String>,
    cargo_kind: Option<String>,
}

impl Pkg {
    /// Takes `name` when it is one of imagegate's Go or cargo properties.
    fn kind_prop(&mut self, name: &str, value: &str) {
        match name {
            cdx::PROP_GO_MAIN => self.go_main = value == "true",
            cdx::PROP_GO_REPLACED_BY => self.go_replaced_by = Some(value.to_string()),
            cdx::PROP_GO_REPLACES => self.go_replaces = Some(value.to_string()),
            cdx::PROP_CARGO_SOURCE => self.cargo_source = Some(value.to_string()),
            cdx::PROP_CARGO_KIND => self.cargo_kind = Some(value.to_string()),
            _ => {}
        }
    }
}

#[derive(Default)]
struct Doc {
    root_name: Option<String>,
    reference: Option<String>,
    manifest: Option<Digest>,
    config: Option<Digest>,
    platform: Option<String>,
    os: Option<(String, String)>,
    pkgs: Vec<Pkg>,
    /// Components with a purl of a type imagegate does not match, by type.
    other: BTreeMap<String, usize>,
}

/// Parses an SBOM document; `path` names it in messages and in the inventory.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Inventory, SbomError> {
    let invalid = |message: String| SbomError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let value: Value = serde_json::from_slice(bytes).map_err(|e| SbomError::NotJson {
        path: path.to_path_buf(),
        message: format!("line {} column {}", e.line(), e.column()),
    })?;
    let mut doc = Doc::default();
    if value.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        cyclonedx(&value, &mut doc).map_err(invalid)?;
    } else if value.get("spdxVersion").and_then(Value::as_str).is_some() {
        spdx(&value, &mut doc).map_err(invalid)?;
    } else if value.get("schema").and_then(Value::as_u64) == Some(u64::from(inventory::SCHEMA))
        && value.get("image").is_some_and(Value::is_object)
    {
        own(&value, &mut doc).map_err(invalid)?;
    } else {
        return Err(SbomError::Unknown {
            path: path.to_path_buf(),
        });
    }
    Ok(build(doc, bytes, path))
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn props(v: &Value) -> Vec<(&str, &str)> {
    v.get("properties")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p.get("name")?.as_str()?, p.get("value")?.as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn cyclonedx(v: &Value, doc: &mut Doc) -> Result<(), String> {
    if let Some(root) = v.pointer("/metadata/component") {
        doc.root_name = str_of(root, "name");
        if let Some(d) = str_of(root, "version").and_then(|s| Digest::parse(&s).ok()) {
            doc.manifest = Some(d);
        }
        for (name, value) in props(root) {
            match name {
                cdx::PROP_MANIFEST => doc.manifest = Digest::parse(value).ok(),
                cdx::PROP_CONFIG => doc.config = Digest::parse(value).ok(),
                cdx::PROP_PLATFORM => doc.platform = Some(value.to_string()),
                cdx::PROP_REFERENCE => doc.reference = Some(value.to_string()),
                _ => {}
            }
        }
    }
    let mut count = 0;
    match v.get("components") {
        None => {}
        Some(Value::Array(list)) => walk(list, 0, &mut count, doc)?,
        Some(_) => return Err("`components` is not an array".into()),
    }
    Ok(())
}

fn walk(list: &[Value], depth: usize, count: &mut usize, doc: &mut Doc) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("components nested deeper than {MAX_DEPTH}"));
    }
    for c in list {
        *count += 1;
        if *count > MAX_COMPONENTS {
            return Err(format!("more than {MAX_COMPONENTS} components"));
        }
        let ty = c.get("type").and_then(Value::as_str).unwrap_or_default();
        if ty == "operating-system" {
            if let Some(name) = str_of(c, "name") {
                doc.os = Some((name.to_ascii_lowercase(), str_of(c, "version").unwrap_or_default()));
            }
        } else if let Some(text) = c.get("purl").and_then(Value::as_str) {
            let p = purl::parse(text).ok_or_else(|| format!("component purl `{}` does not parse", clip(text)))?;
            if p.kind().is_none() {
                *doc.other.entry(p.ty.clone()).or_default() += 1;
            } else {
                let mut pkg = Pkg {
                    name: str_of(c, "name").unwrap_or_else(|| p.full_name()),
                    version: str_of(c, "version").or_else(|| p.version.clone()).unwrap_or_default(),
                    license: license_of(c),
                    purl: Some(p),
                    ..Pkg::default()
                };
                for (name, value) in props(c) {
                    match name {
                        cdx::PROP_PATH => pkg.paths.push(value.to_string()),
                        cdx::PROP_LAYER_INDEX => pkg.layer_index = value.parse().ok(),
                        cdx::PROP_LAYER_DIGEST | "aquasecurity:trivy:LayerDigest" => {
                            pkg.layer_digest = Digest::parse(value).ok()
                        }
                        cdx::PROP_LAYER_CREATED_BY => pkg.created_by = Some(value.to_string()),
                        cdx::PROP_DEV => pkg.dev = value.parse().ok(),
                        "aquasecurity:trivy:SrcName" => pkg.src_name = Some(value.to_string()),
                        "aquasecurity:trivy:SrcVersion" => pkg.src_version = Some(value.to_string()),
                        n if n.starts_with("syft:location:") && n.ends_with(":path") => {
                            pkg.paths.push(value.trim_start_matches('/').to_string())
                        }
                        n => pkg.kind_prop(n, value),
                    }
                }
                doc.pkgs.push(pkg);
            }
        }
        if let Some(Value::Array(nested)) = c.get("components") {
            walk(nested, depth + 1, count, doc)?;
        }
    }
    Ok(())
}

fn license_of(c: &Value) -> Option<String> {
    let list = c.get("licenses")?.as_array()?;
    let parts: Vec<String> = list
        .iter()
        .filter_map(|l| {
            str_of(l, "expression").or_else(|| {
                l.get("license")
                    .and_then(|x| str_of(x, "id").or_else(|| str_of(x, "name")))
            })
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

fn spdx(v: &Value, doc: &mut Doc) -> Result<(), String> {
    let Some(list) = v.get("packages") else { return Ok(()) };
    let list = list.as_array().ok_or("`packages` is not an array")?;
    if list.len() > MAX_COMPONENTS {
        return Err(format!("more than {MAX_COMPONENTS} packages"));
    }
    let mut described: Vec<&str> = v
        .get("documentDescribes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // Syft and Trivy say it with a relationship instead.
    for r in v
        .get("relationships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(MAX_COMPONENTS)
    {
        if r.get("spdxElementId").and_then(Value::as_str) == Some("SPDXRef-DOCUMENT")
            && r.get("relationshipType").and_then(Value::as_str) == Some("DESCRIBES")
            && let Some(id) = r.get("relatedSpdxElement").and_then(Value::as_str)
        {
            described.push(id);
        }
    }
    for p in list {
        let id = p.get("SPDXID").and_then(Value::as_str).unwrap_or_default();
        let purl_text = p
            .get("externalRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
            .and_then(|r| r.get("referenceLocator").and_then(Value::as_str));
        let primary = p
            .get("primaryPackagePurpose")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // The schema spells it OPERATING_SYSTEM; Trivy 0.76 writes OPERATING-SYSTEM.
        if matches!(primary, "OPERATING_SYSTEM" | "OPERATING-SYSTEM") {
            if let Some(name) = str_of(p, "name") {
                doc.os = Some((name.to_ascii_lowercase(), str_of(p, "versionInfo").unwrap_or_default()));
            }
            continue;
        }
        if described.contains(&id) || primary == "CONTAINER" {
            doc.root_name = doc.root_name.take().or_else(|| str_of(p, "name"));
            if let Some(d) = str_of(p, "versionInfo").and_then(|s| Digest::parse(&s).ok()) {
                doc.manifest = Some(d);
            }
            for a in p.get("annotations").and_then(Value::as_array).into_iter().flatten() {
                if let Some((k, val)) = a.get("comment").and_then(Value::as_str).and_then(|c| c.split_once('=')) {
                    match k {
                        cdx::PROP_CONFIG => doc.config = Digest::parse(val).ok(),
                        cdx::PROP_PLATFORM => doc.platform = Some(val.to_string()),
                        cdx::PROP_REFERENCE => doc.reference = Some(val.to_string()),
                        _ => {}
                    }
                }
            }
            // The image itself (Syft gives it a `pkg:oci` purl), not one of its packages.
            continue;
        }
        let Some(text) = purl_text else { continue };
        let pu = purl::parse(text).ok_or_else(|| format!("package purl `{}` does not parse", clip(text)))?;
        if pu.kind().is_none() {
            *doc.other.entry(pu.ty.clone()).or_default() += 1;
            continue;
        }
        let license = ["licenseDeclared", "licenseConcluded"]
            .iter()
            .filter_map(|k| str_of(p, k))
            .find(|l| l != "NOASSERTION" && l != "NONE");
        let mut pkg = Pkg {
            name: str_of(p, "name").unwrap_or_else(|| pu.full_name()),
            version: str_of(p, "versionInfo")
                .or_else(|| pu.version.clone())
                .unwrap_or_default(),
            license,
            purl: Some(pu),
            ..Pkg::default()
        };
        // Trivy: `sourceInfo: "built package from: openssl 3.3.2-r0"`.
        if let Some(from) = p
            .get("sourceInfo")
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix("built package from: "))
        {
            let mut words = from.split_whitespace();
            pkg.src_name = words.next().map(str::to_string);
            pkg.src_version = words.next().map(str::to_string);
        }
        for a in p.get("annotations").and_then(Value::as_array).into_iter().flatten() {
            if let Some((k, val)) = a.get("comment").and_then(Value::as_str).and_then(|c| c.split_once('=')) {
                match k {
                    cdx::PROP_PATH => pkg.paths.push(val.to_string()),
                    cdx::PROP_LAYER_INDEX => pkg.layer_index = val.parse().ok(),
                    cdx::PROP_LAYER_DIGEST => pkg.layer_digest = Digest::parse(val).ok(),
                    cdx::PROP_LAYER_CREATED_BY => pkg.created_by = Some(val.to_string()),
                    cdx::PROP_DEV => pkg.dev = val.parse().ok(),
                    n => pkg.kind_prop(n, val),
                }
            }
        }
        doc.pkgs.push(pkg);
    }
    Ok(())
}

/// imagegate's own inventory JSON (`inventory --format json`).
fn own(v: &Value, doc: &mut Doc) -> Result<(), String> {
    let img = &v["image"];
    doc.reference = str_of(img, "reference");
    doc.manifest = str_of(img, "manifest_digest").and_then(|s| Digest::parse(&s).ok());
    doc.config = str_of(img, "config_digest").and_then(|s| Digest::parse(&s).ok());
    doc.platform = str_of(img, "platform");
    doc.root_name = img
        .get("repo_tags")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(os) = v.get("os").filter(|o| o.is_object()) {
        let info: OsInfo = serde_json::from_value(os.clone()).map_err(|e| format!("`os`: {e}"))?;
        doc.os = Some((info.id.clone(), info.version.clone().unwrap_or_default()));
    }
    let layer = |p: &Value, pkg: &mut Pkg| {
        let l = &p["layer"];
        pkg.layer_index = l.get("index").and_then(Value::as_u64).map(|i| i as usize);
        pkg.layer_digest = str_of(l, "digest").and_then(|s| Digest::parse(&s).ok());
        pkg.created_by = str_of(l, "created_by");
    };
    let array = |key: &str| -> Result<&Vec<Value>, String> {
        match v.get(key) {
            None => Ok(EMPTY.get_or_init(Vec::new)),
            Some(Value::Array(a)) if a.len() <= MAX_COMPONENTS => Ok(a),
            Some(_) => Err(format!("`{key}` is not an array of at most {MAX_COMPONENTS} packages")),
        }
    };
    static EMPTY: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    for p in array("apk")? {
        let r: apk::ApkRecord = serde_json::from_value(p.clone()).map_err(|e| format!("`apk`: {e}"))?;
        let mut pkg = Pkg {
            purl: Some(Purl {
                ty: "apk".into(),
                namespace: None,
                name: r.name().to_string(),
                version: Some(r.version().to_string()),
                qualifiers: r
                    .origin()
                    .iter()
                    .map(|o| ("upstream".to_string(), o.to_string()))
                    .collect(),
            }),
            name: r.name().to_string(),
            version: r.version().to_string(),
            license: r.license().map(str::to_string),
            ..Pkg::default()
        };
        if let Some(a) = r.arch()
            && let Some(p) = pkg.purl.as_mut()
        {
            p.qualifiers.insert("arch".into(), a.to_string());
        }
        layer(p, &mut pkg);
        doc.pkgs.push(pkg);
    }
    for p in array("deb")? {
        let r: DpkgRecord = serde_json::from_value(p.clone()).map_err(|e| format!("`deb`: {e}"))?;
        let mut q = BTreeMap::new();
        if let Some(a) = r.arch() {
            q.insert("arch".to_string(), a.to_string());
        }
        let mut pkg = Pkg {
            purl: Some(Purl {
                ty: "deb".into(),
                namespace: None,
                name: r.name().to_string(),
                version: Some(r.version().to_string()),
                qualifiers: q,
            }),
            name: r.name().to_string(),
            version: r.version().to_string(),
            src_name: r.source().map(str::to_string),
            src_version: r.stated_source_version().map(str::to_string),
            paths: str_of(p, "database").into_iter().collect(),
            ..Pkg::default()
        };
        layer(p, &mut pkg);
        doc.pkgs.push(pkg);
    }
    for p in array("npm")? {
        let (Some(name), Some(version)) = (str_of(p, "name"), str_of(p, "version")) else {
            return Err("an `npm` entry has no name or version".into());
        };
        let mut pkg = Pkg {
            purl: Some(Purl {
                ty: "npm".into(),
                namespace: None,
                name: name.clone(),
                version: Some(version.clone()),
                qualifiers: BTreeMap::new(),
            }),
            name,
            version,
            license: str_of(p, "license"),
            paths: p
                .get("paths")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            dev: p.get("dev").and_then(Value::as_bool),
            ..Pkg::default()
        };
        layer(p, &mut pkg);
        doc.pkgs.push(pkg);
    }
    let strings = |p: &Value, key: &str| -> Vec<String> {
        p.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    for (key, ty) in [("go", "golang"), ("rust", "cargo")] {
        for p in array(key)? {
            let (Some(name), Some(version)) = (str_of(p, "name"), str_of(p, "version")) else {
                return Err(format!("a `{key}` entry has no name or version"));
            };
            // The purl's namespace split does not matter here: `full_name` joins it back.
            let (namespace, last) = match name.rsplit_once('/') {
                Some((ns, n)) if ty == "golang" => (Some(ns.to_string()), n.to_string()),
                _ => (None, name.clone()),
            };
            let mut pkg = Pkg {
                purl: Some(Purl {
                    ty: ty.into(),
                    namespace,
                    name: last,
                    version: Some(version.clone()),
                    qualifiers: BTreeMap::new(),
                }),
                name,
                version,
                paths: strings(p, "binaries"),
                go_main: p.get("main").and_then(Value::as_bool).unwrap_or(false),
                go_replaced_by: str_of(p, "replaced_by"),
                go_replaces: str_of(p, "replaces"),
                cargo_source: str_of(p, "source"),
                cargo_kind: str_of(p, "kind"),
                ..Pkg::default()
            };
            layer(p, &mut pkg);
            doc.pkgs.push(pkg);
        }
    }
    Ok(())
}

fn os_info(id: &str, version: &str) -> Option<OsInfo> {
    let mut release = format!("ID={id}\n");
    if !version.is_empty() {
        release.push_str(&format!("VERSION_ID={version}\n"));
    }
    let alpine = (id == "alpine" && !version.is_empty()).then_some(version);
    os::identify(Some(&release), alpine, None).0
}

fn build(doc: Doc, bytes: &[u8], path: &Path) -> Inventory {
    let sbom_digest = Digest::sha256_of(bytes);
    let config = doc.config.clone().unwrap_or_else(|| sbom_digest.clone());
    let standin = Arc::new(LayerRef {
        index: 0,
        digest: sbom_digest.clone(),
        created_by: Some(format!("(no layer information in the SBOM {})", path.display())),
    });
    let layer_of = |p: &Pkg| match &p.layer_digest {
        Some(d) => Arc::new(LayerRef {
            index: p.layer_index.unwrap_or(0),
            digest: d.clone(),
            created_by: p.created_by.clone(),
        }),
        None => Arc::clone(&standin),
    };
    // The OS: an operating-system component, else the first purl's `distro` qualifier.
    let os = doc
        .os
        .clone()
        .or_else(|| {
            doc.pkgs.iter().filter_map(|p| p.purl.as_ref()).find_map(|p| {
                let d = p.qualifiers.get("distro")?;
                let ns = p.namespace.clone().unwrap_or_default();
                Some(match d.split_once('-') {
                    Some((id, v)) if !id.is_empty() && !id.starts_with(|c: char| c.is_ascii_digit()) => {
                        (id.to_string(), v.to_string())
                    }
                    _ => (ns, d.clone()),
                })
            })
        })
        .and_then(|(id, v)| os_info(&id, &v));
    let mut inv_apk = Vec::new();
    let mut inv_deb = Vec::new();
    let mut npm: BTreeMap<(String, String), NpmPackage> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut runtime: Option<inventory::node_runtime::RuntimePackage> = None;
    let mut go: BTreeMap<(String, String), GoPackage> = BTreeMap::new();
    let mut rust: BTreeMap<(String, String), RustPackage> = BTreeMap::new();
    // Go modules and crates without a version to match (named in a not-checked entry).
    let mut go_unreadable: Vec<String> = Vec::new();
    let mut rust_unreadable: Vec<String> = Vec::new();
    for p in &doc.pkgs {
        let Some(pu) = &p.purl else { continue };
        let layer = layer_of(p);
        match pu.kind() {
            Some(PackageKind::Apk) => {
                let origin = pu
                    .qualifiers
                    .get("upstream")
                    .map(|u| u.split('@').next().unwrap_or(u))
                    .or(p.src_name.as_deref());
                let arch = pu.qualifiers.get("arch").map(String::as_str);
                match apk::ApkRecord::new(&p.name, &p.version, origin, arch, p.license.as_deref()) {
                    Ok(record) => inv_apk.push(ApkPackage { record, layer }),
                    Err(e) => warnings.push(format!("apk package skipped: {e}")),
                }
            }
            Some(PackageKind::Deb) => {
                let upstream = pu.qualifiers.get("upstream");
                let (source, source_version) = match upstream.and_then(|u| u.split_once('@')) {
                    Some((n, v)) => (Some(n.to_string()), Some(v.to_string())),
                    None => (upstream.cloned().or_else(|| p.src_name.clone()), p.src_version.clone()),
                };
                let arch = pu.qualifiers.get("arch").map(String::as_str);
                match DpkgRecord::new(&p.name, &p.version, arch, source.as_deref(), source_version.as_deref()) {
                    Ok(record) => inv_deb.push(DebPackage {
                        record,
                        database: p
                            .paths
                            .first()
                            .cloned()
                            .unwrap_or_else(|| format!("sbom:{}", path.display()))
                            .into(),
                        layer,
                        files: None,
                    }),
                    Err(e) => warnings.push(format!("deb package skipped: {e}")),
                }
            }
            Some(PackageKind::Npm) => {
                let name = pu.full_name();
                let entry = npm
                    .entry((name.clone(), p.version.clone()))
                    .or_insert_with(|| NpmPackage {
                        name,
                        version: p.version.clone(),
                        license: p.license.clone(),
                        paths: Vec::new(),
                        dev: p.dev,
                        sources: vec![NpmSource::NodeModules],
                        vendored_in: Vec::new(),
                        layer,
                        dependencies: Vec::new(),
                    });
                for path in &p.paths {
                    if !entry.paths.contains(path) {
                        entry.paths.push(path.clone());
                    }
                }
            }
            // The Node.js runtime (`pkg:generic/node@20.17.0`): matched as the image's would be.
            Some(PackageKind::NodeRuntime) => match semver::Version::parse(p.version.trim_start_matches('v')) {
                Ok(version) if runtime.is_none() => {
                    use inventory::node_runtime::{Evidence, NodeRuntime, RuntimePackage};
                    // Which file the SBOM says the version came from (imagegate's paths).
                    let decided_by = if p.paths.iter().any(|x| x.ends_with("node_version.h")) {
                        Evidence::Header
                    } else if p.paths.is_empty() {
                        Evidence::Env
                    } else {
                        Evidence::Binary
                    };
                    runtime = Some(RuntimePackage {
                        name: "node",
                        runtime: NodeRuntime {
                            version,
                            decided_by,
                            evidence: Vec::new(),
                            warnings: Vec::new(),
                        },
                        paths: p.paths.clone(),
                        layer,
                    });
                }
                Ok(_) => warnings.push(format!(
                    "SBOM {}: more than one Node.js runtime; only the first is checked",
                    path.display()
                )),
                Err(_) => warnings.push(format!(
                    "SBOM {}: a Node.js runtime version is not a version; it was NOT checked",
                    path.display()
                )),
            },
            // Go modules (`pkg:golang/github.com/evanw/esbuild@v0.24.0`) and the toolchain
            // (`pkg:golang/stdlib@1.19.8`, Trivy's `@v1.19.8`; Syft's version `go1.19.8`).
            Some(PackageKind::Go) => {
                let name = pu.full_name();
                let version = if name == "stdlib" {
                    let stated = pu.version.as_deref().unwrap_or(&p.version);
                    match purl::stdlib_version(stated).or_else(|| purl::stdlib_version(&p.version)) {
                        Some(v) => v,
                        None => {
                            go_unreadable.push(format!("stdlib@{stated}"));
                            continue;
                        }
                    }
                } else {
                    pu.version.clone().unwrap_or_else(|| p.version.clone())
                };
                if version.is_empty() {
                    go_unreadable.push(name);
                    continue;
                }
                let main = p.go_main || version == "(devel)";
                let entry = go.entry((name.clone(), version.clone())).or_insert_with(|| GoPackage {
                    name,
                    version,
                    main,
                    replaced_by: p.go_replaced_by.clone(),
                    replaces: p.go_replaces.clone(),
                    binaries: Vec::new(),
                    layer,
                });
                for path in &p.paths {
                    if !entry.binaries.contains(path) {
                        entry.binaries.push(path.clone());
                    }
                }
            }
            // Crates (`pkg:cargo/smallvec@1.6.0`): from crates.io unless imagegate's
            // source property says otherwise (Syft's cargo-auditable cataloger reads crates.io's).
            Some(PackageKind::Cargo) => {
                let version = pu.version.clone().unwrap_or_else(|| p.version.clone());
                if version.is_empty() {
                    rust_unreadable.push(pu.name.clone());
                    continue;
                }
                let entry = rust
                    .entry((pu.name.clone(), version.clone()))
                    .or_insert_with(|| RustPackage {
                        name: pu.name.clone(),
                        version,
                        source: p.cargo_source.clone().unwrap_or_else(|| "crates.io".into()),
                        kind: p.cargo_kind.clone().unwrap_or_else(|| "runtime".into()),
                        binaries: Vec::new(),
                        layer,
                    });
                for path in &p.paths {
                    if !entry.binaries.contains(path) {
                        entry.binaries.push(path.clone());
                    }
                }
            }
            None => {}
        }
    }
    if os.is_none() && (!inv_apk.is_empty() || !inv_deb.is_empty()) {
        warnings.push(format!(
            "SBOM {}: no operating system (no operating-system component, no purl distro qualifier)",
            path.display()
        ));
    }
    let here = format!("sbom:{}", path.display());
    let mut coverage = Vec::new();
    if !inv_apk.is_empty() {
        coverage.push(Coverage::read(Source::Apk, inv_apk.len(), vec![here.clone()]));
    }
    if !inv_deb.is_empty() {
        coverage.push(Coverage::read(Source::Dpkg, inv_deb.len(), vec![here.clone()]));
    }
    if !npm.is_empty() {
        coverage.push(Coverage::read(Source::Npm, npm.len(), vec![here.clone()]));
    }
    if runtime.is_some() {
        coverage.push(Coverage::read(Source::NodeRuntime, 1, vec![here.clone()]));
    }
    let read_here = |n: usize| if n > 0 { vec![here.clone()] } else { Vec::new() };
    coverage.extend(Coverage::of_binaries(
        Source::Go,
        go.len(),
        &read_here(go.len()),
        go_unreadable,
        "Go modules in the SBOM with no version to match were NOT checked",
    ));
    coverage.extend(Coverage::of_binaries(
        Source::Rust,
        rust.len(),
        &read_here(rust.len()),
        rust_unreadable,
        "Rust crates in the SBOM with no version to match were NOT checked",
    ));
    if !doc.other.is_empty() {
        let total: usize = doc.other.values().sum();
        coverage.push(Coverage {
            source: Source::Other,
            status: Status::NotChecked,
            packages: 0,
            ecosystem: None,
            reason: Some(format!(
                "{total} packages of ecosystems imagegate does not match ({}) were NOT checked",
                doc.other.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
            paths: doc.other.iter().map(|(t, n)| format!("pkg:{t} ({n})")).collect(),
            more_paths: 0,
        });
    }
    coverage.push(Coverage {
        source: Source::ImageFacts,
        status: Status::NotChecked,
        packages: 0,
        ecosystem: None,
        reason: Some(
            "the SBOM carries no image facts: user, health check, size, layers and files were NOT checked".into(),
        ),
        paths: vec![here.clone()],
        more_paths: 0,
    });
    Inventory {
        schema: inventory::SCHEMA,
        image: ImageFacts {
            reference: doc.reference.unwrap_or(here),
            manifest_digest: doc.manifest,
            config_digest: config,
            repo_tags: doc.root_name.into_iter().collect(),
            platform: doc.platform.unwrap_or_default(),
            layer_count: 0,
            compressed_size: 0,
            uncompressed_size: 0,
            user: String::new(),
            healthcheck: None,
            labels: BTreeMap::new(),
            exposed_ports: Vec::new(),
            history: Vec::new(),
            layers: Vec::new(),
        },
        os,
        coverage,
        // `pkg:generic/node` only (npm's `node` package is not the runtime).
        node_runtime: runtime,
        go: go.into_values().collect(),
        rust: rust.into_values().collect(),
        apk: inv_apk,
        deb: inv_deb,
        npm: npm.into_values().collect(),
        npm_projects: Vec::new(),
        users: Vec::new(),
        groups: Vec::new(),
        files: Vec::new(),
        size: None,
        warnings,
    }
}
