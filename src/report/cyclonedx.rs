//! CycloneDX 1.6 JSON: the inventory as an SBOM (`inventory --cyclonedx`), and on `scan` the
//! findings as `vulnerabilities`. The image is the root component (`metadata.component`);
//! every package is a component with its purl ([`crate::inventory::purl`]), its licence (an
//! SPDX expression when the package states one, else the text as a name), and as properties
//! its install paths and the layer that introduced it. Deterministic: the same image gives the
//! same bytes apart from `serialNumber` and `metadata.timestamp`.

use crate::gate::Run;
use crate::inventory::{Inventory, LayerRef, PackageKind, purl};
use serde_json::{Value, json};
use std::borrow::Cow;
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

/// One package as both SBOM formats list it, formed as it is written (see [`Components`]).
pub(crate) struct Component<'a> {
    pub kind: PackageKind,
    pub name: Cow<'a, str>,
    pub version: Cow<'a, str>,
    pub purl: String,
    pub license: Option<&'a str>,
    pub paths: Vec<&'a str>,
    pub layer: &'a LayerRef,
    pub dev: Option<bool>,
    /// The purls of the packages it depends on, where the data says (npm: its
    /// `package.json` dependencies, resolved as Node.js does through node_modules).
    pub depends_on: Vec<String>,
    /// Kind-specific facts as (property name, value): a Go main module, a replacement, a
    /// crate's source, as `scan sbom:` reads them back.
    pub extra: Vec<(&'static str, &'a str)>,
}

/// Where a component comes from in the inventory.
#[derive(Clone, Copy, Debug)]
enum Src {
    Apk(usize),
    Deb(usize),
    Npm(usize),
    Node,
    Go(usize),
    Crate(usize),
}

/// Every package of the inventory, sorted by purl, with unique purls: the order, eight to
/// sixteen bytes a package, with each [`Component`] formed when it is asked for. An image with
/// a million packages never holds a million components (several times its package database).
pub(crate) struct Components<'a> {
    inv: &'a Inventory,
    npm_purls: Vec<String>,
    /// An npm install directory and the package there (an index into `inv.npm`).
    installed: BTreeMap<&'a str, usize>,
    order: Vec<Src>,
}

/// Where Node.js finds `dep` required from the package at `dir`: `dir/node_modules/dep`, then
/// the same under each ancestor directory (skipping ones that are themselves `node_modules`),
/// up to the root. `installed` maps an install directory to the purl there.
fn resolve_npm<T: Copy>(dir: &str, dep: &str, installed: &BTreeMap<&str, T>) -> Option<T> {
    let mut base = Some(dir.trim_end_matches('/'));
    while let Some(d) = base {
        if !(d == "node_modules" || d.ends_with("/node_modules")) {
            let candidate = if d.is_empty() {
                format!("node_modules/{dep}")
            } else {
                format!("{d}/node_modules/{dep}")
            };
            if let Some(p) = installed.get(candidate.as_str()) {
                return Some(*p);
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

impl<'a> Components<'a> {
    /// The packages of `inv`, in purl order.
    pub fn of(inv: &'a Inventory) -> Components<'a> {
        let npm_purls: Vec<String> = inv.npm.iter().map(|p| purl::npm(p).to_string()).collect();
        let installed: BTreeMap<&str, usize> = inv
            .npm
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.paths.iter().map(move |path| (path.as_str(), i)))
            .collect();
        let mut c = Components {
            inv,
            npm_purls,
            installed,
            order: Vec::new(),
        };
        let mut order = Vec::with_capacity(inv.apk.len() + inv.deb.len() + inv.npm.len() + 1);
        order.extend((0..inv.apk.len()).map(Src::Apk));
        order.extend((0..inv.deb.len()).map(Src::Deb));
        order.extend((0..inv.npm.len()).map(Src::Npm));
        if inv.node_runtime.is_some() {
            order.push(Src::Node);
        }
        order.extend((0..inv.go.len()).map(Src::Go));
        order.extend((0..inv.rust.len()).map(Src::Crate));
        // Purls formed as they are compared, never held: a stable sort of a database's own
        // order (usually sorted already) compares each package with its neighbour only.
        let (mut x, mut y) = (String::new(), String::new());
        order.sort_by(|a, b| {
            c.purl(*a, &mut x);
            c.purl(*b, &mut y);
            x.cmp(&y)
        });
        // The same purl twice (one package in two distroless status files): keep the first.
        order.dedup_by(|b, a| {
            c.purl(*a, &mut x);
            c.purl(*b, &mut y);
            x == y
        });
        c.order = order;
        c
    }

    /// The purl of `s`, written to `buf` (npm purls are formed once, for their dependencies).
    fn purl(&self, s: Src, buf: &mut String) {
        use std::fmt::Write as _;
        buf.clear();
        let os = self.inv.os.as_ref();
        let _ = match s {
            Src::Apk(i) => write!(buf, "{}", purl::apk(&self.inv.apk[i], os)),
            Src::Deb(i) => write!(buf, "{}", purl::deb(&self.inv.deb[i], os)),
            Src::Npm(i) => {
                buf.push_str(&self.npm_purls[i]);
                Ok(())
            }
            Src::Node => write!(buf, "{}", node_purl(self.inv)),
            Src::Go(i) => write!(buf, "{}", purl::go(&self.inv.go[i])),
            Src::Crate(i) => write!(buf, "{}", purl::cargo(&self.inv.rust[i])),
        };
    }

    /// The components, in purl order.
    pub fn iter(&self) -> impl Iterator<Item = Component<'_>> + '_ {
        self.order.iter().filter_map(|s| self.component(*s))
    }

    /// The kind, name and matched version of each component, in order, without forming it.
    fn keys(&self) -> impl Iterator<Item = (usize, (PackageKind, &str, Cow<'_, str>))> + '_ {
        self.order.iter().enumerate().map(|(i, s)| {
            let key = match *s {
                Src::Apk(j) => {
                    let r = &self.inv.apk[j].record;
                    (PackageKind::Apk, r.name(), Cow::Borrowed(r.version()))
                }
                Src::Deb(j) => {
                    let r = &self.inv.deb[j].record;
                    (PackageKind::Deb, r.name(), Cow::Borrowed(r.source_version()))
                }
                Src::Npm(j) => {
                    let p = &self.inv.npm[j];
                    (PackageKind::Npm, p.name.as_str(), Cow::Borrowed(p.version.as_str()))
                }
                Src::Node => match &self.inv.node_runtime {
                    Some(rt) => (
                        PackageKind::NodeRuntime,
                        rt.name,
                        Cow::Owned(rt.runtime.version.to_string()),
                    ),
                    None => (PackageKind::NodeRuntime, "", Cow::Borrowed("")),
                },
                Src::Go(j) => {
                    let p = &self.inv.go[j];
                    (PackageKind::Go, p.name.as_str(), Cow::Borrowed(p.version.as_str()))
                }
                Src::Crate(j) => {
                    let p = &self.inv.rust[j];
                    (PackageKind::Cargo, p.name.as_str(), Cow::Borrowed(p.version.as_str()))
                }
            };
            (i, key)
        })
    }

    /// The purl of each `(kind, name, matched version)` in `wanted` that a component has (the
    /// last such component's, as a map of every component would give).
    pub fn purls_of<'k>(
        &self,
        wanted: &BTreeSet<(PackageKind, &'k str, &'k str)>,
    ) -> BTreeMap<(PackageKind, &'k str, &'k str), String> {
        let mut out = BTreeMap::new();
        if wanted.is_empty() {
            return out;
        }
        let sorted: Vec<(PackageKind, &'k str, &'k str)> = wanted.iter().copied().collect();
        for (i, (kind, name, version)) in self.keys() {
            let found = sorted.binary_search_by(|w| {
                w.0.cmp(&kind)
                    .then_with(|| w.1.cmp(name))
                    .then_with(|| w.2.cmp(version.as_ref()))
            });
            if let Some(k) = found.ok().and_then(|j| sorted.get(j)) {
                let mut p = String::new();
                if let Some(s) = self.order.get(i) {
                    self.purl(*s, &mut p);
                }
                out.insert(*k, p);
            }
        }
        out
    }

    fn component(&self, s: Src) -> Option<Component<'_>> {
        let inv = self.inv;
        let mut purl = String::new();
        self.purl(s, &mut purl);
        Some(match s {
            Src::Apk(i) => {
                let p = &inv.apk[i];
                Component {
                    kind: PackageKind::Apk,
                    name: Cow::Borrowed(p.record.name()),
                    version: Cow::Borrowed(p.record.version()),
                    purl,
                    license: p.record.license(),
                    paths: PackageKind::Apk.database_path().into_iter().collect(),
                    layer: &p.layer,
                    dev: None,
                    depends_on: Vec::new(),
                    extra: Vec::new(),
                }
            }
            Src::Deb(i) => {
                let p = &inv.deb[i];
                Component {
                    kind: PackageKind::Deb,
                    name: Cow::Borrowed(p.record.name()),
                    version: Cow::Borrowed(p.record.version()),
                    purl,
                    license: None,
                    paths: vec![&*p.database],
                    layer: &p.layer,
                    dev: None,
                    depends_on: Vec::new(),
                    extra: Vec::new(),
                }
            }
            Src::Npm(i) => {
                let p = &inv.npm[i];
                let own = purl.as_str();
                let mut depends_on: BTreeSet<&str> = BTreeSet::new();
                for dir in &p.paths {
                    for dep in &p.dependencies {
                        if let Some(u) = resolve_npm(dir, dep, &self.installed)
                            .and_then(|j| self.npm_purls.get(j))
                            .filter(|u| u.as_str() != own)
                        {
                            depends_on.insert(u);
                        }
                    }
                }
                let depends_on = depends_on.into_iter().map(str::to_string).collect();
                Component {
                    kind: PackageKind::Npm,
                    name: Cow::Borrowed(&p.name),
                    version: Cow::Borrowed(&p.version),
                    purl,
                    license: p.license.as_deref(),
                    paths: p.paths.iter().map(String::as_str).collect(),
                    layer: &p.layer,
                    dev: p.dev,
                    depends_on,
                    extra: Vec::new(),
                }
            }
            // The Node.js runtime from nodejs.org, as Syft's binary cataloger names it: a
            // generic purl.
            Src::Node => {
                let rt = inv.node_runtime.as_ref()?;
                let version = rt.runtime.version.to_string();
                Component {
                    kind: PackageKind::NodeRuntime,
                    name: Cow::Borrowed(rt.name),
                    version: Cow::Owned(version),
                    purl,
                    license: None,
                    paths: rt.paths.iter().map(String::as_str).collect(),
                    layer: &rt.layer,
                    dev: None,
                    depends_on: Vec::new(),
                    extra: Vec::new(),
                }
            }
            // Go modules and the toolchain (`pkg:golang/stdlib@1.19.8`), at the binaries
            // holding them.
            Src::Go(i) => {
                let p = &inv.go[i];
                let mut extra = Vec::new();
                if p.main {
                    extra.push((PROP_GO_MAIN, "true"));
                }
                if let Some(r) = &p.replaced_by {
                    extra.push((PROP_GO_REPLACED_BY, r.as_str()));
                }
                if let Some(r) = &p.replaces {
                    extra.push((PROP_GO_REPLACES, r.as_str()));
                }
                Component {
                    kind: PackageKind::Go,
                    name: Cow::Borrowed(&p.name),
                    version: Cow::Borrowed(&p.version),
                    purl,
                    license: None,
                    paths: p.binaries.iter().map(String::as_str).collect(),
                    layer: &p.layer,
                    dev: None,
                    depends_on: Vec::new(),
                    extra,
                }
            }
            Src::Crate(i) => {
                let p = &inv.rust[i];
                let mut extra = vec![(PROP_CARGO_SOURCE, p.source.as_str())];
                if p.kind != "runtime" {
                    extra.push((PROP_CARGO_KIND, p.kind.as_str()));
                }
                Component {
                    kind: PackageKind::Cargo,
                    name: Cow::Borrowed(&p.name),
                    version: Cow::Borrowed(&p.version),
                    purl,
                    license: None,
                    paths: p.binaries.iter().map(String::as_str).collect(),
                    layer: &p.layer,
                    dev: None,
                    depends_on: Vec::new(),
                    extra,
                }
            }
        })
    }
}

fn node_purl(inv: &Inventory) -> purl::Purl {
    let (name, version) = match &inv.node_runtime {
        Some(rt) => (rt.name.to_string(), Some(rt.runtime.version.to_string())),
        None => (String::new(), None),
    };
    purl::Purl {
        ty: "generic".into(),
        namespace: None,
        name,
        version,
        qualifiers: BTreeMap::new(),
    }
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
    to_string(|w| write(inv, None, jiff::Timestamp::now(), w))
}

/// The SBOM of a run, with its vulnerability findings.
pub fn cyclonedx_run(run: &Run) -> Result<String, serde_json::Error> {
    to_string(|w| write(&run.inventory, Some(run), jiff::Timestamp::now(), w))
}

/// [`cyclonedx`], written as it is formed: one component at a time.
///
/// # Errors
///
/// What writing to `w` gives.
pub fn write_cyclonedx(inv: &Inventory, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    write(inv, None, jiff::Timestamp::now(), w)
}

/// [`cyclonedx_run`], written as it is formed.
///
/// # Errors
///
/// What writing to `w` gives.
pub fn write_cyclonedx_run(run: &Run, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    write(&run.inventory, Some(run), jiff::Timestamp::now(), w)
}

/// The text a writer of JSON writes.
pub(crate) fn to_string(
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    write(&mut out).map_err(serde_json::Error::io)?;
    // serde_json writes UTF-8.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn component_json(c: &Component<'_>) -> Value {
    let mut props = Vec::new();
    for p in &c.paths {
        props.push(prop(PROP_PATH, *p));
    }
    layer_props(c.layer, &mut props);
    if let Some(dev) = c.dev {
        props.push(prop(PROP_DEV, dev.to_string()));
    }
    for (name, value) in &c.extra {
        props.push(prop(name, *value));
    }
    let mut v = json!({
        "type": if c.kind == PackageKind::NodeRuntime { "application" } else { "library" },
        "bom-ref": c.purl,
        "name": c.name,
        "version": c.version,
        "purl": c.purl,
        "properties": props,
    });
    if let Some(l) = c.license.map(str::trim).filter(|l| !l.is_empty()) {
        v["licenses"] = if is_spdx_expression(l) {
            json!([{"expression": l}])
        } else {
            json!([{"license": {"name": l}}])
        };
    }
    v
}

fn write(inv: &Inventory, run: Option<&Run>, now: jiff::Timestamp, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    use super::stream::{Json, Lazy, object};
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

    let comps = Components::of(inv);
    let os = inv.os.as_ref().map(|os| {
        let mut c = json!({"type": "operating-system", "bom-ref": "os", "name": os.id});
        if let Some(v) = &os.version {
            c["version"] = json!(v);
        }
        if let Some(p) = &os.pretty_name {
            c["description"] = json!(p);
        }
        Json::Value(c)
    });
    let list = Lazy::new(
        os.into_iter()
            .chain(comps.iter().map(|c| Json::Value(component_json(&c)))),
    );
    let has_os = inv.os.is_some();
    let depends = Lazy::new(
        has_os
            .then(|| Json::Value(json!("os")))
            .into_iter()
            .chain(comps.iter().map(|c| Json::Value(Value::String(c.purl)))),
    );
    let image_deps = object(json!({"ref": "image", "dependsOn": []}), vec![("dependsOn", depends)]);
    let dependencies = Lazy::new(
        std::iter::once(image_deps)
            .chain(has_os.then(|| Json::Value(json!({"ref": "os", "dependsOn": []}))))
            .chain(
                comps
                    .iter()
                    .map(|c| Json::Value(json!({"ref": c.purl, "dependsOn": c.depends_on}))),
            ),
    );

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
        "components": [],
        "dependencies": [],
    });
    if let Some(run) = run {
        doc["vulnerabilities"] = Value::Array(vulnerabilities(run, &comps));
    }
    let doc = object(doc, vec![("components", list), ("dependencies", dependencies)]);
    super::stream::write_pretty(&doc, w)
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

/// The package of each finding that carries a vulnerability, as [`Components::purls_of`]
/// takes them.
pub(crate) fn finding_keys(run: &Run) -> BTreeSet<(PackageKind, &str, &str)> {
    run.outcome
        .findings
        .iter()
        .filter_map(|f| f.vulnerability.as_ref())
        .map(|v| (v.package.kind, v.package.name.as_str(), v.package.version.as_str()))
        .collect()
}

/// One entry per finding that carries a vulnerability, ignored ones with their reason.
fn vulnerabilities(run: &Run, comps: &Components<'_>) -> Vec<Value> {
    let by_key = comps.purls_of(&finding_keys(run));
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
