//! Matching an inventory against advisories: one finding per package and vulnerability
//! (records about the same vulnerability folded through their aliases), with every id, the
//! severity and where it came from, the fixed versions, and the layer that added the package.

use super::index::{Index, IndexError};
use super::matcher::{self, AffectedMatch};
use super::osv::{Ecosystem, Record};
use super::severity::{self, Level, Severity};
use crate::inventory::coverage::{Coverage, Source, Status};
use crate::inventory::{Inventory, LayerRef, PackageKind, PackageRef};
use serde::Serialize;

/// Where advisories come from: the local index, or (with `--online`) the OSV API.
pub trait Advisories {
    /// Records with an `affected[]` entry for this package.
    fn lookup(&self, ecosystem: &Ecosystem, name: &str) -> Result<Vec<Record>, IndexError>;
    /// Records whose id or alias is `id`, to borrow a severity.
    fn by_id(&self, id: &str) -> Result<Vec<Record>, IndexError>;
    /// Whether the source has advisories for this ecosystem at all (`Alpine:v3.21` may be
    /// missing from an old database: that is "not covered", never "no vulnerabilities").
    fn covers(&self, ecosystem: &Ecosystem) -> bool;
    /// Hints the lookups to come, as (ecosystem, name), so a source can fetch them together.
    fn prefetch(&self, _lookups: &[(&Ecosystem, &str)]) {}
}

impl Advisories for Index {
    fn lookup(&self, ecosystem: &Ecosystem, name: &str) -> Result<Vec<Record>, IndexError> {
        let mut records = Index::lookup(self, &ecosystem.to_string(), name)?;
        if let Ecosystem::Alpine { branch: Some(_) } = ecosystem {
            // Records for bare `Alpine` apply to every branch.
            records.extend(Index::lookup(self, "Alpine", name)?);
        }
        Ok(records)
    }
    fn by_id(&self, id: &str) -> Result<Vec<Record>, IndexError> {
        Index::by_id(self, id)
    }
    fn prefetch(&self, lookups: &[(&Ecosystem, &str)]) {
        // One spelling per ecosystem, not one per lookup.
        let mut spelled: Vec<(&Ecosystem, String)> = Vec::new();
        for (eco, _) in lookups {
            if !spelled.iter().any(|(e, _)| e == eco) {
                spelled.push((eco, eco.to_string()));
            }
        }
        let spelling = |eco: &Ecosystem| spelled.iter().find(|(e, _)| *e == eco).map_or("", |(_, s)| s.as_str());
        Index::prefetch(
            self,
            lookups.iter().flat_map(|&(eco, name)| {
                // `lookup` also reads bare `Alpine` for a branch.
                let bare = matches!(eco, Ecosystem::Alpine { branch: Some(_) }).then_some(("Alpine", name));
                std::iter::once((spelling(eco), name)).chain(bare)
            }),
        );
    }
    fn covers(&self, ecosystem: &Ecosystem) -> bool {
        let e = &self.meta().ecosystems;
        e.contains_key(&ecosystem.to_string())
            || (matches!(ecosystem, Ecosystem::Alpine { .. }) && e.contains_key("Alpine"))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct AffectedPackage {
    /// `npm` or `Alpine:v3.20`.
    pub ecosystem: String,
    /// Which of the image's package databases it comes from.
    #[serde(skip)]
    pub kind: PackageKind,
    pub name: String,
    pub version: String,
    /// For apk, the source package the advisory is written against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Where the package is installed (npm directories).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<bool>,
}

impl AffectedPackage {
    pub fn package_ref(&self) -> PackageRef {
        PackageRef::new(self.kind, &self.name, &self.version)
    }
}

/// One vulnerability in one package.
#[derive(Clone, Debug, Serialize)]
pub struct Vulnerability {
    /// The id shown first (`MAL-`, then `GHSA-`, then `ALPINE-`, then `CVE-`).
    pub id: String,
    /// Every id of the records folded into this finding, aliases included.
    pub ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub severity: Severity,
    pub malicious: bool,
    pub package: AffectedPackage,
    /// Versions that fix it; empty when no fix exists.
    pub fixed: Vec<String>,
    /// What to do, where it is not "upgrade the package": `upgrade Node.js 20.17.0 → 20.20.2`
    /// for the runtime (the patched release on its major line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    pub layer: LayerRef,
}

impl Vulnerability {
    pub fn is_fixable(&self) -> bool {
        !self.fixed.is_empty()
    }
}

/// Something the scan could not decide, which a reader must see.
#[derive(Clone, Debug, Serialize)]
pub struct Note {
    pub kind: NoteKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// A record could not be evaluated against a package version.
    Unevaluated,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct ScanResult {
    pub vulnerabilities: Vec<Vulnerability>,
    pub notes: Vec<Note>,
    pub packages_checked: usize,
    /// Every package source of the image, and whether its packages were matched: a source
    /// the advisory data does not cover is `not_checked`, never "no vulnerabilities".
    pub coverage: Vec<Coverage>,
}

/// A package to look up, whatever its ecosystem. It borrows the inventory's package: a
/// database of a million packages is not copied for the scan; the [`AffectedPackage`] a
/// finding reports is built only for a package that matched.
struct Query<'a> {
    ecosystem: &'a Ecosystem,
    subject: Subject<'a>,
}

#[derive(Clone, Copy)]
enum Subject<'a> {
    Apk(&'a crate::inventory::ApkPackage),
    Deb(&'a crate::inventory::DebPackage),
    Npm(&'a crate::inventory::NpmPackage),
    Runtime(&'a crate::inventory::node_runtime::RuntimePackage),
    Go(&'a crate::inventory::gobin::GoPackage),
    Rust(&'a crate::inventory::rustbin::RustPackage),
}

impl<'a> Subject<'a> {
    /// Names to look up, in order: an apk package's origin first, then its own name.
    fn names(self) -> [Option<&'a str>; 2] {
        match self {
            Subject::Apk(p) => {
                let r = &p.record;
                [r.origin(), (r.origin() != Some(r.name())).then(|| r.name())]
            }
            // Debian's and Ubuntu's advisories are written against the source package at the
            // source version.
            Subject::Deb(p) => [Some(p.record.source_name()), None],
            Subject::Npm(p) => [Some(p.name.as_str()), None],
            // The runtime's own advisories, stored under package `node` (advisory::nodejs).
            Subject::Runtime(r) => [Some(r.name), None],
            // Modules by path (the toolchain as `stdlib`), crates by name.
            Subject::Go(p) => [Some(p.name.as_str()), None],
            Subject::Rust(p) => [Some(p.name.as_str()), None],
        }
    }

    /// The version advisories compare.
    fn version(self) -> std::borrow::Cow<'a, str> {
        match self {
            Subject::Apk(p) => p.record.version().into(),
            Subject::Deb(p) => p.record.source_version().into(),
            Subject::Npm(p) => p.version.as_str().into(),
            Subject::Runtime(r) => r.runtime.version.to_string().into(),
            Subject::Go(p) => p.version.as_str().into(),
            Subject::Rust(p) => p.version.as_str().into(),
        }
    }

    /// What to do instead of "upgrade the package" (a copy vendored inside another package).
    fn remediation(self) -> Option<String> {
        match self {
            Subject::Npm(p) => vendored_remediation(p),
            _ => None,
        }
    }

    fn layer(self) -> &'a LayerRef {
        match self {
            Subject::Apk(p) => &p.layer,
            Subject::Deb(p) => &p.layer,
            Subject::Npm(p) => &p.layer,
            Subject::Runtime(r) => &r.layer,
            Subject::Go(p) => &p.layer,
            Subject::Rust(p) => &p.layer,
        }
    }

    fn affected(self, ecosystem: &Ecosystem) -> AffectedPackage {
        let (kind, name, origin, paths, dev) = match self {
            Subject::Apk(p) => (PackageKind::Apk, p.record.name(), p.record.origin(), Vec::new(), None),
            Subject::Deb(p) => (PackageKind::Deb, p.record.name(), p.record.source(), Vec::new(), None),
            Subject::Npm(p) => (PackageKind::Npm, p.name.as_str(), None, p.paths.clone(), p.dev),
            Subject::Runtime(r) => (PackageKind::NodeRuntime, r.name, None, r.paths.clone(), None),
            Subject::Go(p) => (PackageKind::Go, p.name.as_str(), None, p.binaries.clone(), None),
            Subject::Rust(p) => (PackageKind::Cargo, p.name.as_str(), None, p.binaries.clone(), None),
        };
        AffectedPackage {
            ecosystem: ecosystem.to_string(),
            kind,
            name: name.to_string(),
            version: self.version().into_owned(),
            origin: origin.map(str::to_string),
            paths,
            dev,
        }
    }
}

/// The lookups a scan of `inv` makes, as (ecosystem, name, installed version): an apk
/// package's origin and its own name, every npm package. A live source fetches these up front.
pub fn lookups(inv: &Inventory) -> Vec<(Ecosystem, String, String)> {
    let (ecosystems, _) = plan(inv, &|_| true);
    let mut out: Vec<(Ecosystem, String, String)> = queries(inv, &ecosystems)
        .flat_map(|q| {
            let version = q.subject.version();
            q.subject
                .names()
                .into_iter()
                .flatten()
                .map(move |n| (q.ecosystem.clone(), n.to_string(), version.to_string()))
        })
        .collect();
    out.sort_by(|a, b| (a.0.to_string(), &a.1, &a.2).cmp(&(b.0.to_string(), &b.1, &b.2)));
    out.dedup();
    out
}

/// How many lookups are hinted to the source at a time.
const PREFETCH_CHUNK: usize = 1 << 16;

/// Matches every apk and npm package of `inv` against `source`.
pub fn scan(inv: &Inventory, source: &dyn Advisories) -> Result<ScanResult, IndexError> {
    let mut result = ScanResult::default();
    let (ecosystems, coverage) = plan(inv, &|eco| source.covers(eco));
    result.coverage = coverage;
    // Hinted in chunks: a million packages' hints at once would cost more than the packages.
    let mut hints: Vec<(&Ecosystem, &str)> = Vec::with_capacity(PREFETCH_CHUNK);
    for hint in
        queries(inv, &ecosystems).flat_map(|q| q.subject.names().into_iter().flatten().map(move |n| (q.ecosystem, n)))
    {
        hints.push(hint);
        if hints.len() == PREFETCH_CHUNK {
            source.prefetch(&hints);
            hints.clear();
        }
    }
    if !hints.is_empty() {
        source.prefetch(&hints);
    }
    drop(hints);
    for q in queries(inv, &ecosystems) {
        result.packages_checked += 1;
        check(q, source, &mut result)?;
    }
    result.vulnerabilities.sort_by(|a, b| {
        b.severity
            .cmp_worse(&a.severity)
            .then_with(|| a.package.name.cmp(&b.package.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(result)
}

/// Every package of the checked sources, borrowed, with the ecosystem it is matched in.
fn queries<'a>(inv: &'a Inventory, ecosystems: &'a [(Source, Ecosystem)]) -> impl Iterator<Item = Query<'a>> {
    ecosystems.iter().flat_map(move |(source, ecosystem)| {
        let subjects: Box<dyn Iterator<Item = Subject<'a>>> = match source {
            Source::Apk => Box::new(inv.apk.iter().map(Subject::Apk)),
            Source::Dpkg => Box::new(inv.deb.iter().map(Subject::Deb)),
            Source::NodeRuntime => Box::new(inv.node_runtime.iter().map(Subject::Runtime)),
            // A main module built from a checkout, `(devel)`, has no version an advisory could
            // name; only crates from crates.io have RustSec advisories.
            Source::Go => Box::new(inv.go.iter().filter(|p| p.is_matchable()).map(Subject::Go)),
            Source::Rust => Box::new(inv.rust.iter().filter(|p| p.is_matchable()).map(Subject::Rust)),
            // npm's own trees under `npm`, Yarn Plug'n'Play's under `yarn-pnp`: each once.
            source => {
                let pnp = *source == Source::YarnPnp;
                Box::new(inv.npm.iter().filter(move |p| p.is_yarn_pnp() == pnp).map(Subject::Npm))
            }
        };
        subjects.map(move |subject| Query { ecosystem, subject })
    })
}

/// What to look up for each package, and each source's coverage: a source whose ecosystem
/// the advisory source does not cover is not looked up, and says so.
fn plan(inv: &Inventory, covers: &dyn Fn(&Ecosystem) -> bool) -> (Vec<(Source, Ecosystem)>, Vec<Coverage>) {
    let mut checked = Vec::new();
    let mut coverage = Vec::new();
    let os_ecosystem = inv.os.as_ref().and_then(Ecosystem::of_os);
    for c in &inv.coverage {
        let mut c = c.clone();
        if c.status != Status::Read {
            coverage.push(c);
            continue;
        }
        let (eco, missing) = match c.source {
            Source::Apk => (
                os_ecosystem.clone().filter(|e| matches!(e, Ecosystem::Alpine { .. })),
                "no Alpine release (etc/alpine-release)",
            ),
            Source::Dpkg => (
                os_ecosystem
                    .clone()
                    .filter(|e| matches!(e, Ecosystem::Debian { .. } | Ecosystem::Ubuntu { .. })),
                "no Debian or Ubuntu release (etc/os-release; Debian testing and sid have none)",
            ),
            // Yarn Plug'n'Play packages are npm packages, matched as such.
            Source::Npm | Source::YarnPnp => (Some(Ecosystem::Npm), ""),
            Source::NodeRuntime => (Some(Ecosystem::NodeJs), ""),
            Source::Go => (Some(Ecosystem::Go), ""),
            Source::Rust => (Some(Ecosystem::CratesIo), ""),
            _ => (None, "no advisory ecosystem"),
        };
        let kind = match c.source {
            Source::Apk => "apk",
            Source::Dpkg => "dpkg",
            Source::NodeRuntime => "Node.js runtime",
            Source::Go => "Go module",
            Source::Rust => "Rust crate",
            _ => "npm",
        };
        let Some(eco) = eco else {
            c.status = Status::NotChecked;
            c.reason = Some(format!(
                "the image has {} but {missing}: {} NOT checked",
                crate::units::plural(c.packages, &format!("{kind} package")),
                if c.packages == 1 { "it was" } else { "they were" }
            ));
            coverage.push(c);
            continue;
        };
        c.ecosystem = Some(eco.to_string());
        if !covers(&eco) {
            c.status = Status::NotChecked;
            let hint = if eco == Ecosystem::NodeJs {
                " (the OSV API has none, so --online cannot check it; `imagegate db import` the Node.js security WG's vuln/core directory or its index.json)"
            } else {
                ""
            };
            c.reason = Some(format!(
                "the advisory database has no records for {eco}{hint}: the {} {} NOT checked",
                crate::units::plural(c.packages, &format!("{kind} package")),
                if c.packages == 1 { "was" } else { "were" }
            ));
            coverage.push(c);
            continue;
        }
        c.status = Status::Checked;
        checked.push((c.source, eco));
        coverage.push(c);
    }
    (checked, coverage)
}

/// For a package with copies vendored inside others: the fix is the parent's upgrade, since
/// installing a newer copy of the package itself leaves the parent's copy as it is.
fn vendored_remediation(p: &crate::inventory::NpmPackage) -> Option<String> {
    if p.vendored_in.is_empty() {
        return None;
    }
    let copies: Vec<String> = p
        .vendored_in
        .iter()
        .map(|v| format!("{} ships a copy at {}", v.parent, v.path))
        .collect();
    let parents: Vec<&str> = p
        .vendored_in
        .iter()
        .map(|v| {
            v.parent
                .rsplit_once('@')
                .filter(|(n, _)| !n.is_empty())
                .map_or(v.parent.as_str(), |(n, _)| n)
        })
        .collect();
    let also = if p.paths.len() > p.vendored_in.len() {
        format!(", and upgrade {} where it is installed itself", p.name)
    } else {
        String::new()
    };
    Some(format!(
        "vendored: {}; the fix is an upgrade of {} to a release that ships a fixed {}{also}",
        copies.join("; "),
        parents.join(", "),
        p.name
    ))
}

fn check(q: Query<'_>, source: &dyn Advisories, result: &mut ScanResult) -> Result<(), IndexError> {
    let mut matched: Vec<(Record, AffectedMatch)> = Vec::new();
    let version = q.subject.version();
    for name in q.subject.names().into_iter().flatten() {
        for record in source.lookup(q.ecosystem, name)? {
            if matched.iter().any(|(r, _)| r.id == record.id) {
                continue;
            }
            match matcher::affected(&record, q.ecosystem, name, &version) {
                Ok(Some(m)) => matched.push((record, m)),
                Ok(None) => {}
                Err(e) => result.notes.push(Note {
                    kind: NoteKind::Unevaluated,
                    message: e.to_string(),
                }),
            }
        }
    }
    if matched.is_empty() {
        return Ok(());
    }
    let package = q.subject.affected(q.ecosystem);
    let records: Vec<&Record> = matched.iter().map(|(r, _)| r).collect();
    for group in matcher::fold(&records) {
        let members: Vec<&(Record, AffectedMatch)> = group.records.iter().map(|&i| &matched[i]).collect();
        let mut related: Vec<Record> = members.iter().map(|(r, _)| r.clone()).collect();
        // Records elsewhere in the database that share an id can lend a severity; look them up
        // only when some member states none itself (each lookup parses whole records).
        if members.iter().any(|(r, _)| severity::of_record(r).level.is_none()) {
            for id in &group.ids {
                for r in source.by_id(id)? {
                    if !related.iter().any(|o| o.id == r.id) {
                        related.push(r);
                    }
                }
            }
        }
        let severity = members
            .iter()
            .map(|(r, _)| severity::resolve(r, &related))
            .max_by(|a, b| a.cmp_worse(b))
            .unwrap_or_else(Severity::unknown);
        let mut fixed: Vec<String> = Vec::new();
        for (_, m) in &members {
            for f in &m.fixed {
                if !fixed.contains(f) {
                    fixed.push(f.clone());
                }
            }
        }
        let malicious = members.iter().any(|(r, _)| r.is_malicious());
        let summary = members.iter().find_map(|(r, _)| r.summary.clone());
        let (id, remediation) = if *q.ecosystem == Ecosystem::NodeJs {
            // The WG names a core record by its CVE first (advisory::nodejs).
            let id = members
                .first()
                .map_or_else(|| group.primary.clone(), |(r, _)| super::nodejs::finding_id(r));
            let upgrade = match fixed.as_slice() {
                [] => format!("no patched Node.js release for {} yet", package.version),
                [one] => format!("upgrade Node.js {} → {one}", package.version),
                many => format!(
                    "upgrade Node.js {} → {} (its line has no fix)",
                    package.version,
                    many.join(" or ")
                ),
            };
            (id, Some(upgrade))
        } else {
            (group.primary.clone(), q.subject.remediation())
        };
        result.vulnerabilities.push(Vulnerability {
            id,
            ids: group.ids.clone(),
            summary,
            severity: if malicious {
                Severity {
                    level: Some(Level::Critical),
                    ..severity
                }
            } else {
                severity
            },
            malicious,
            package: package.clone(),
            fixed,
            remediation,
            layer: q.subject.layer().clone(),
        });
    }
    Ok(())
}
