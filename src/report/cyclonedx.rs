//! CycloneDX 1.6 JSON: the inventory as an SBOM (`inventory --cyclonedx`), and on `scan` the
//! findings as `vulnerabilities`. The image is the root component (`metadata.component`);
//! every package is a component with its purl ([`crate::inventory::purl`]), its licence (an
//! SPDX expression when the package states one, else the text as a name), and as properties
//! its install paths and the layer that introduced it. Deterministic: the same image gives the
//! same bytes apart from `serialNumber` and `metadata.timestamp`.

use crate::gate::Run;
use crate::inventory::{Inventory, LayerRef, PackageKind, purl};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Property names, as `scan sbom:` reads them back.
pub const PROP_PATH: &str = "imagegate:path";
pub const PROP_LAYER_INDEX: &str = "imagegate:layer:index";
pub const PROP_LAYER_DIGEST: &str = "imagegate:layer:digest";
pub const PROP_LAYER_CREATED_BY: &str = "imagegate:layer:created_by";
pub const PROP_DEV: &str = "imagegate:npm:dev";
pub const PROP_MANIFEST: &str = "imagegate:image:manifest_digest";
pub const PROP_CONFIG: &str = "imagegate:image:config_digest";
pub const PROP_PLATFORM: &str = "imagegate:image:platform";
pub const PROP_REFERENCE: &str = "imagegate:image:reference";
/// `true` on a Go binary's main module.
pub const PROP_GO_MAIN: &str = "imagegate:go:main";
/// The local directory a Go module was replaced by (`=> ./text`).
pub const PROP_GO_REPLACED_BY: &str = "imagegate:go:replaced_by";
/// The `module@version` a versioned Go replacement stands in for.
pub const PROP_GO_REPLACES: &str = "imagegate:go:replaces";
/// A crate's source (`crates.io`, `local`, `git`, …): only `crates.io` is matched.
pub const PROP_CARGO_SOURCE: &str = "imagegate:cargo:source";
/// `build` for a crate only built with (a build-time dependency).
pub const PROP_CARGO_KIND: &str = "imagegate:cargo:kind";

/// One package as both SBOM formats list it.
pub(crate) struct Component {
    pub kind: PackageKind,
    pub name: String,
    pub version: String,
    /// The version advisories compare (a Debian package's source version).
    pub matched_version: String,
    pub purl: String,
    pub license: Option<String>,
    pub paths: Vec<String>,
    pub layer: std::sync::Arc<LayerRef>,
    pub dev: Option<bool>,
    /// The purls of the packages it depends on, where the data says (npm: its
    /// `package.json` dependencies, resolved as Node.js does through node_modules).
    pub depends_on: Vec<String>,
    /// Kind-specific facts as (property name, value): a Go main module, a replacement, a
    /// crate's source, as `scan sbom:` reads them back.
    pub extra: Vec<(&'static str, String)>,
}

/// Where Node.js finds `dep` required from the package at `dir`: `dir/node_modules/dep`, then
/// the same under each ancestor directory (skipping ones that are themselves `node_modules`),
/// up to the root. `installed` maps an install directory to the purl there.
fn resolve_npm<'a>(dir: &str, dep: &str, installed: &BTreeMap<&str, &'a str>) -> Option<&'a str> {
    let mut base = Some(dir.trim_end_matches('/'));
    while let Some(d) = base {
        if !(d == "node_modules" || d.ends_with("/node_modules")) {
            let candidate = if d.is_empty() {
                format!("node_modules/{dep}")
            } else {
                format!("{d}/node_modules/{dep}")
            };
            if let Some(p) = installed.get(candidate.as_str()) {
                return Some(p);
            }
        }
        base = if d.is_empty() {
            None
        } else {
            Some(d.rsplit_once('/').map_or("", |(parent, _)| parent))
        };
    }
    None
}

/// Every package of the inventory, sorted, with unique purls.
pub(crate) fn components(inv: &Inventory) -> Vec<Component> {
    let os = inv.os.as_ref();
    let mut out: Vec<Component> = Vec::new();
    for p in &inv.apk {
        out.push(Component {
            kind: PackageKind::Apk,
            name: p.record.name().to_string(),
            version: p.record.version().to_string(),
            matched_version: p.record.version().to_string(),
            purl: purl::apk(p, os).to_string(),
            license: p.record.license().map(str::to_string),
            paths: PackageKind::Apk.database_path().map(String::from).into_iter().collect(),
            layer: p.layer.clone(),
            dev: None,
            depends_on: Vec::new(),
            extra: Vec::new(),
        });
    }
    for p in &inv.deb {
        out.push(Component {
            kind: PackageKind::Deb,
            name: p.record.name().to_string(),
            version: p.record.version().to_string(),
            matched_version: p.record.source_version().to_string(),
            purl: purl::deb(p, os).to_string(),
            license: None,
            paths: vec![p.database.to_string()],
            layer: p.layer.clone(),
            dev: None,
            depends_on: Vec::new(),
            extra: Vec::new(),
        });
    }
    let npm_purls: Vec<String> = inv.npm.iter().map(|p| purl::npm(p).to_string()).collect();
    let installed: BTreeMap<&str, &str> = inv
        .npm
        .iter()
        .zip(&npm_purls)
        .flat_map(|(p, u)| p.paths.iter().map(move |path| (path.as_str(), u.as_str())))
        .collect();
    for (p, own) in inv.npm.iter().zip(&npm_purls) {
        let mut depends_on: BTreeSet<String> = BTreeSet::new();
        for dir in &p.paths {
            for dep in &p.dependencies {
                if let Some(u) = resolve_npm(dir, dep, &installed).filter(|u| *u != own.as_str()) {
                    depends_on.insert(u.to_string());
                }
            }
        }
        out.push(Component {
            kind: PackageKind::Npm,
            name: p.name.clone(),
            version: p.version.clone(),
            matched_version: p.version.clone(),
            purl: purl::npm(p).to_string(),
            license: p.license.clone(),
            paths: p.paths.clone(),
            layer: p.layer.clone(),
            dev: p.dev,
            depends_on: depends_on.into_iter().collect(),
            extra: Vec::new(),
        });
    }
    // The Node.js runtime from nodejs.org, as Syft's binary cataloger names it: a generic purl.
    if let Some(rt) = &inv.node_runtime {
        let version = rt.runtime.version.to_string();
        out.push(Component {
            kind: PackageKind::NodeRuntime,
            name: rt.name.to_string(),
            version: version.clone(),
            matched_version: version.clone(),
            purl: purl::Purl {
                ty: "generic".into(),
                namespace: None,
                name: rt.name.to_string(),
                version: Some(version),
                qualifiers: BTreeMap::new(),
            }
            .to_string(),
            license: None,
            paths: rt.paths.clone(),
            layer: rt.layer.clone(),
            dev: None,
            depends_on: Vec::new(),
            extra: Vec::new(),
        });
    }
    // Go modules and the toolchain (`pkg:golang/stdlib@1.19.8`), at the binaries holding them.
    for p in &inv.go {
        let mut extra = Vec::new();
        if p.main {
            extra.push((PROP_GO_MAIN, "true".to_string()));
        }
        if let Some(r) = &p.replaced_by {
            extra.push((PROP_GO_REPLACED_BY, r.clone()));
        }
        if let Some(r) = &p.replaces {
            extra.push((PROP_GO_REPLACES, r.clone()));
        }
        out.push(Component {
            kind: PackageKind::Go,
            name: p.name.clone(),
            version: p.version.clone(),
            matched_version: p.version.clone(),
            purl: purl::go(p).to_string(),
            license: None,
            paths: p.binaries.clone(),
            layer: p.layer.clone(),
            dev: None,
            depends_on: Vec::new(),
            extra,
        });
    }
    for p in &inv.rust {
        let mut extra = vec![(PROP_CARGO_SOURCE, p.source.clone())];
        if p.kind != "runtime" {
            extra.push((PROP_CARGO_KIND, p.kind.clone()));
        }
        out.push(Component {
            kind: PackageKind::Cargo,
            name: p.name.clone(),
            version: p.version.clone(),
            matched_version: p.version.clone(),
            purl: purl::cargo(p).to_string(),
            license: None,
            paths: p.binaries.clone(),
            layer: p.layer.clone(),
            dev: None,
            depends_on: Vec::new(),
            extra,
        });
    }
    out.sort_by(|a, b| a.purl.cmp(&b.purl));
    // The same purl twice (one package in two distroless status files): keep one.
    out.dedup_by(|a, b| a.purl == b.purl);
    out
}

/// Whether `text` reads as an SPDX licence expression: licence ids joined by AND, OR and
/// WITH, with parentheses. Alpine's older space-separated lists (`MIT BSD`) do not.
pub fn is_spdx_expression(text: &str) -> bool {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    if tokens.is_empty() || text.len() > 512 {
        return false;
    }
    let mut want_id = true;
    let mut depth = 0i32;
    for t in tokens {
        match t {
            "(" if want_id => depth += 1,
            ")" if !want_id => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            "AND" | "OR" | "WITH" if !want_id => want_id = true,
            id if want_id
                && !matches!(id, "AND" | "OR" | "WITH")
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b':')) =>
            {
                want_id = false
            }
            _ => return false,
        }
    }
    !want_id && depth == 0
}

/// A serial number of the form `urn:uuid:…` (v4 layout), from the image and the time.
pub(crate) fn serial(inv: &Inventory, now: jiff::Timestamp) -> String {
    let seed = format!("{}{}", inv.image.config_digest, now.as_nanosecond());
    let d = crate::digest::Digest::sha256_of(seed.as_bytes());
    let h = d.hex();
    format!(
        "urn:uuid:{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({"name": name, "value": value.into()})
}

fn layer_props(layer: &LayerRef, props: &mut Vec<Value>) {
    props.push(prop(PROP_LAYER_INDEX, layer.index.to_string()));
    props.push(prop(PROP_LAYER_DIGEST, layer.digest.to_string()));
    if let Some(c) = &layer.created_by {
        props.push(prop(PROP_LAYER_CREATED_BY, c.clone()));
    }
}

/// The SBOM of an inventory.
pub fn cyclonedx(inv: &Inventory) -> Result<String, serde_json::Error> {
    render(inv, None, jiff::Timestamp::now())
}

/// The SBOM of a run, with its vulnerability findings.
pub fn cyclonedx_run(run: &Run) -> Result<String, serde_json::Error> {
    render(&run.inventory, Some(run), jiff::Timestamp::now())
}

fn render(inv: &Inventory, run: Option<&Run>, now: jiff::Timestamp) -> Result<String, serde_json::Error> {
    let img = &inv.image;
    let repository = match run {
        Some(r) => r.repository.clone(),
        None => crate::gate::repository_of(inv),
    };
    let mut image_props = vec![
        prop(PROP_REFERENCE, img.reference.clone()),
        prop(PROP_CONFIG, img.config_digest.to_string()),
        prop(PROP_PLATFORM, img.platform.clone()),
    ];
    if let Some(m) = &img.manifest_digest {
        image_props.push(prop(PROP_MANIFEST, m.to_string()));
    }
    let version = img.manifest_digest.as_ref().unwrap_or(&img.config_digest).to_string();
    let root = json!({
        "type": "container",
        "bom-ref": "image",
        "name": repository,
        "version": version,
        "properties": image_props,
    });

    let comps = components(inv);
    let mut list: Vec<Value> = Vec::new();
    if let Some(os) = &inv.os {
        let mut c = json!({"type": "operating-system", "bom-ref": "os", "name": os.id});
        if let Some(v) = &os.version {
            c["version"] = json!(v);
        }
        if let Some(p) = &os.pretty_name {
            c["description"] = json!(p);
        }
        list.push(c);
    }
    for c in &comps {
        let mut props = Vec::new();
        for p in &c.paths {
            props.push(prop(PROP_PATH, p.clone()));
        }
        layer_props(&c.layer, &mut props);
        if let Some(dev) = c.dev {
            props.push(prop(PROP_DEV, dev.to_string()));
        }
        for (name, value) in &c.extra {
            props.push(prop(name, value.clone()));
        }
        let mut v = json!({
            "type": if c.kind == PackageKind::NodeRuntime { "application" } else { "library" },
            "bom-ref": c.purl,
            "name": c.name,
            "version": c.version,
            "purl": c.purl,
            "properties": props,
        });
        if let Some(l) = c.license.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            v["licenses"] = if is_spdx_expression(l) {
                json!([{"expression": l}])
            } else {
                json!([{"license": {"name": l}}])
            };
        }
        list.push(v);
    }
    let mut depends: Vec<String> = Vec::new();
    if inv.os.is_some() {
        depends.push("os".into());
    }
    depends.extend(comps.iter().map(|c| c.purl.clone()));
    let mut dependencies = vec![json!({"ref": "image", "dependsOn": depends})];
    if inv.os.is_some() {
        dependencies.push(json!({"ref": "os", "dependsOn": []}));
    }
    dependencies.extend(comps.iter().map(|c| json!({"ref": c.purl, "dependsOn": c.depends_on})));

    let mut doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial(inv, now),
        "version": 1,
        "metadata": {
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "tools": {"components": [{
                "type": "application",
                "name": "imagegate",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": root,
        },
        "components": list,
        "dependencies": dependencies,
    });
    if let Some(run) = run {
        doc["vulnerabilities"] = Value::Array(vulnerabilities(run, &comps));
    }
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}

fn method(vector: &str) -> &'static str {
    if vector.starts_with("CVSS:3.1/") {
        "CVSSv31"
    } else if vector.starts_with("CVSS:3.0/") {
        "CVSSv3"
    } else if vector.starts_with("CVSS:4.0/") {
        "CVSSv4"
    } else {
        "other"
    }
}

/// One entry per finding that carries a vulnerability, ignored ones with their reason.
fn vulnerabilities(run: &Run, comps: &[Component]) -> Vec<Value> {
    let by_key: BTreeMap<(PackageKind, &str, &str), &str> = comps
        .iter()
        .map(|c| ((c.kind, c.name.as_str(), c.matched_version.as_str()), c.purl.as_str()))
        .collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for f in &run.outcome.findings {
        let Some(v) = &f.vulnerability else { continue };
        let p = &v.package;
        let Some(component) = by_key.get(&(p.kind, p.name.as_str(), p.version.as_str())) else {
            continue;
        };
        let bom_ref = format!("{}@{component}", v.id);
        if !seen.insert(bom_ref.clone()) {
            continue;
        }
        let mut rating = json!({"source": {"name": "OSV"}, "severity": v.severity.label()});
        if let Some(s) = v.severity.score {
            rating["score"] = json!(s);
        }
        match &v.severity.vector {
            Some(vec) => {
                rating["method"] = json!(method(vec));
                rating["vector"] = json!(vec);
            }
            None => rating["method"] = json!("other"),
        }
        let mut versions = vec![json!({"version": p.version, "status": "affected"})];
        versions.extend(v.fixed.iter().map(|x| json!({"version": x, "status": "unaffected"})));
        let references: Vec<Value> = v
            .ids
            .iter()
            .filter(|i| **i != v.id)
            .map(|i| json!({"id": i, "source": {"name": "OSV", "url": format!("https://osv.dev/vulnerability/{i}")}}))
            .collect();
        let mut entry = json!({
            "bom-ref": bom_ref,
            "id": v.id,
            "source": {"name": "OSV", "url": format!("https://osv.dev/vulnerability/{}", v.id)},
            "ratings": [rating],
            "affects": [{"ref": component, "versions": versions}],
            "properties": [prop("imagegate:gate:level", f.level.as_str())],
        });
        if !references.is_empty() {
            entry["references"] = json!(references);
        }
        if let Some(s) = &v.summary {
            entry["description"] = json!(s);
        }
        if !v.fixed.is_empty() {
            entry["recommendation"] = json!(format!("Upgrade {} to {}", p.name, v.fixed.join(" or ")));
        }
        if let Some(reason) = &f.ignored {
            entry["analysis"] = json!({"response": ["will_not_fix"], "detail": reason});
        }
        out.push(entry);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_dependencies_resolve_as_node_looks_them_up() {
        let installed: BTreeMap<&str, &str> = [
            ("app/node_modules/next", "next"),
            ("app/node_modules/next/node_modules/postcss", "postcss-nested"),
            ("app/node_modules/postcss", "postcss-top"),
            ("app/node_modules/@next/env", "env"),
            ("node_modules/rootdep", "root"),
        ]
        .into_iter()
        .collect();
        let next = "app/node_modules/next";
        // Nested first, then up the tree.
        assert_eq!(resolve_npm(next, "postcss", &installed), Some("postcss-nested"));
        assert_eq!(
            resolve_npm("app/node_modules/@next/env", "postcss", &installed),
            Some("postcss-top")
        );
        assert_eq!(resolve_npm(next, "@next/env", &installed), Some("env"));
        assert_eq!(resolve_npm(next, "rootdep", &installed), Some("root"));
        assert_eq!(resolve_npm(next, "absent", &installed), None);
    }

    #[test]
    fn spdx_expressions_are_told_from_free_text() {
        for ok in [
            "MIT",
            "GPL-2.0-only",
            "MIT AND BSD-2-Clause",
            "(MIT OR Apache-2.0) AND Zlib",
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
        ] {
            assert!(is_spdx_expression(ok), "{ok}");
        }
        for bad in ["MIT BSD", "", "AND", "(MIT", "MIT)", "MIT OR", "see LICENSE file"] {
            assert!(!is_spdx_expression(bad), "{bad}");
        }
    }
}
