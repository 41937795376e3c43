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
    /// Hints the lookups to come (see [`lookups`]) so a source can fetch them together.
    fn prefetch(&self, _lookups: &[(Ecosystem, String, String)]) {}
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
    fn prefetch(&self, lookups: &[(Ecosystem, String, String)]) {
        let keys: Vec<(String, &str)> = lookups
            .iter()
            .flat_map(|(eco, name, _)| {
                let mut keys = vec![(eco.to_string(), name.as_str())];
                // `lookup` also reads bare `Alpine` for a branch.
                if let Ecosystem::Alpine { branch: Some(_) } = eco {
                    keys.push(("Alpine".to_string(), name.as_str()));
                }
                keys
            })
            .collect();
        Index::prefetch(self, keys.iter().map(|(e, n)| (e.as_str(), *n)));
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

/// A package to look up, whatever its ecosystem.
struct Query<'a> {
    ecosystem: Ecosystem,
    /// Names to look up, in order: an apk package's origin first, then its own name.
    names: Vec<&'a str>,
    package: AffectedPackage,
    layer: &'a LayerRef,
}

/// The lookups a scan of `inv` makes, as (ecosystem, name, installed version): an apk
/// package's origin and its own name, every npm package. A live source fetches these up front.
pub fn lookups(inv: &Inventory) -> Vec<(Ecosystem, String, String)> {
    let mut out: Vec<(Ecosystem, String, String)> = queries(inv, &|_| true)
        .0
        .into_iter()
        .flat_map(|q| {
            let (eco, version) = (q.ecosystem, q.package.version);
            q.names
                .into_iter()
                .map(move |n| (eco.clone(), n.to_string(), version.clone()))
        })
        .collect();
    out.sort_by(|a, b| (a.0.to_string(), &a.1, &a.2).cmp(&(b.0.to_string(), &b.1, &b.2)));
    out.dedup();
    out
}

/// Matches every apk and npm package of `inv` against `source`.
pub fn scan(inv: &Inventory, source: &dyn Advisories) -> Result<ScanResult, IndexError> {
    let mut result = ScanResult::default();
    let (queries, coverage) = queries(inv, &|eco| source.covers(eco));
    result.coverage = coverage;
    source.prefetch(&lookups(inv));
    result.packages_checked = queries.len();
    for q in queries {
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

/// What to look up for each package, and each source's coverage: a source whose ecosystem
/// the advisory source does not cover is not looked up, and says so.
fn queries<'a>(inv: &'a Inventory, covers: &dyn Fn(&Ecosystem) -> bool) -> (Vec<Query<'a>>, Vec<Coverage>) {
    let mut queries = Vec::new();
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
            Source::Npm => (Some(Ecosystem::Npm), ""),
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
                "the image has {} {kind} packages but {missing}: they were NOT checked",
                c.packages
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
                "the advisory database has no records for {eco}{hint}: the {} {kind} packages were NOT checked",
                c.packages
            ));
            coverage.push(c);
            continue;
        }
        c.status = Status::Checked;
        let source = c.source;
        coverage.push(c);
        match source {
            Source::Apk => queries.extend(inv.apk.iter().map(|p| {
                let r = &p.record;
                let mut names = vec![];
                if let Some(o) = r.origin.as_deref() {
                    names.push(o);
                }
                if r.origin.as_deref() != Some(r.name.as_str()) {
                    names.push(r.name.as_str());
                }
                Query {
                    ecosystem: eco.clone(),
                    names,
                    package: AffectedPackage {
                        ecosystem: eco.to_string(),
                        kind: PackageKind::Apk,
                        name: r.name.clone(),
                        version: r.version.clone(),
                        origin: r.origin.clone(),
                        paths: vec![],
                        dev: None,
                    },
                    layer: &p.layer,
                }
            })),
            // Debian's and Ubuntu's advisories are written against the source package at the
            // source version.
            Source::Dpkg => queries.extend(inv.deb.iter().map(|p| {
                let r = &p.record;
                Query {
                    ecosystem: eco.clone(),
                    names: vec![r.source_name()],
                    package: AffectedPackage {
                        ecosystem: eco.to_string(),
                        kind: PackageKind::Deb,
                        name: r.name.clone(),
                        version: r.source_version().to_string(),
                        origin: r.source.clone(),
                        paths: vec![],
                        dev: None,
                    },
                    layer: &p.layer,
                }
            })),
            // The runtime's own advisories, stored under package `node` (advisory::nodejs).
            Source::NodeRuntime => queries.extend(inv.node_runtime.iter().map(|r| Query {
                ecosystem: Ecosystem::NodeJs,
                names: vec![r.name],
                package: AffectedPackage {
                    ecosystem: Ecosystem::NodeJs.to_string(),
                    kind: PackageKind::NodeRuntime,
                    name: r.name.to_string(),
                    version: r.runtime.version.to_string(),
                    origin: None,
                    paths: r.paths.clone(),
                    dev: None,
                },
                layer: &r.layer,
            })),
            // Modules by path (the toolchain as `stdlib`); a main module built from a
            // checkout, `(devel)`, has no version an advisory could name.
            Source::Go => queries.extend(inv.go.iter().filter(|p| p.is_matchable()).map(|p| Query {
                ecosystem: Ecosystem::Go,
                names: vec![p.name.as_str()],
                package: AffectedPackage {
                    ecosystem: Ecosystem::Go.to_string(),
                    kind: PackageKind::Go,
                    name: p.name.clone(),
                    version: p.version.clone(),
                    origin: None,
                    paths: p.binaries.clone(),
                    dev: None,
                },
                layer: &p.layer,
            })),
            // Only crates from crates.io have RustSec advisories.
            Source::Rust => queries.extend(inv.rust.iter().filter(|p| p.is_matchable()).map(|p| Query {
                ecosystem: Ecosystem::CratesIo,
                names: vec![p.name.as_str()],
                package: AffectedPackage {
                    ecosystem: Ecosystem::CratesIo.to_string(),
                    kind: PackageKind::Cargo,
                    name: p.name.clone(),
                    version: p.version.clone(),
                    origin: None,
                    paths: p.binaries.clone(),
                    dev: None,
                },
                layer: &p.layer,
            })),
            _ => queries.extend(inv.npm.iter().map(|p| Query {
                ecosystem: Ecosystem::Npm,
                names: vec![p.name.as_str()],
                package: AffectedPackage {
                    ecosystem: Ecosystem::Npm.to_string(),
                    kind: PackageKind::Npm,
                    name: p.name.clone(),
                    version: p.version.clone(),
                    origin: None,
                    paths: p.paths.clone(),
                    dev: p.dev,
                },
                layer: &p.layer,
            })),
        }
    }
    (queries, coverage)
}

fn check(q: Query<'_>, source: &dyn Advisories, result: &mut ScanResult) -> Result<(), IndexError> {
    let mut matched: Vec<(Record, AffectedMatch)> = Vec::new();
    for name in &q.names {
        for record in source.lookup(&q.ecosystem, name)? {
            if matched.iter().any(|(r, _)| r.id == record.id) {
                continue;
            }
            match matcher::affected(&record, &q.ecosystem, name, &q.package.version) {
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
        let (id, remediation) = if q.ecosystem == Ecosystem::NodeJs {
            // The WG names a core record by its CVE first (advisory::nodejs).
            let id = members
                .first()
                .map_or_else(|| group.primary.clone(), |(r, _)| super::nodejs::finding_id(r));
            let upgrade = match fixed.as_slice() {
                [] => format!("no patched Node.js release for {} yet", q.package.version),
                [one] => format!("upgrade Node.js {} → {one}", q.package.version),
                many => format!(
                    "upgrade Node.js {} → {} (its line has no fix)",
                    q.package.version,
                    many.join(" or ")
                ),
            };
            (id, Some(upgrade))
        } else {
            (group.primary.clone(), None)
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
            package: q.package.clone(),
            fixed,
            remediation,
            layer: q.layer.clone(),
        });
    }
    Ok(())
}
