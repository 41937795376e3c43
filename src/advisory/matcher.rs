//! Does an OSV record affect an installed package version, and which versions fix it?
//! And which records describe the same vulnerability?
//!
//! The public surface is two functions:
//! - [`affected`]: one record against one installed package; the answer carries the fixed
//!   version(s) that apply ("upgrade lodash to 4.17.21") and why it matched.
//! - [`fold`]: records that name each other through `aliases` / `upstream` become one
//!   [`AliasGroup`], so a finding lists `GHSA-…`, `CVE-…` and `ALPINE-CVE-…` once.
//!
//! Ranges are evaluated as the OSV schema's reference algorithm does ("Evaluation" in
//! <https://ossf.github.io/osv-schema/>): events sorted by version in the ecosystem's
//! order, then walked, `introduced` turning "affected" on, `fixed` (exclusive) and
//! `last_affected` (inclusive) turning it off, `limit` bounding the range from above.
//! Version orders: npm → [`npm_version`](super::npm_version) (SemVer precedence), Alpine →
//! [`apk_version`](super::apk_version) (apk-tools' own), Debian and Ubuntu →
//! [`dpkg_version`](super::dpkg_version) (dpkg's own; their records name the source
//! package, so pass the source package and the source version).
//!
//! What this never does: read "cannot tell" as "not affected". An installed version or
//! an event version the order cannot parse, a malformed event, or a range type it does
//! not know is a [`MatchError`] unless another range or `versions[]` already shows the
//! package affected (then the answer is "affected", which stays true whatever the rest
//! says). `GIT` ranges are the exception: they need the upstream repository's commit
//! graph, say nothing about package versions, and OSV lists their versions in
//! `versions[]` anyway; they are skipped without ending the evaluation of later ranges.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::osv::{Ecosystem, Event, RangeType, Record};
use super::{apk_version, dpkg_version, npm_version};

/// Why a record could not be evaluated against a package version.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error("no version order for ecosystem `{0}`: cannot match its packages")]
    UnsupportedEcosystem(String),
    #[error("Alpine packages need their release branch (e.g. `Alpine:v3.20`): OSV's Alpine records are per branch")]
    MissingAlpineBranch,
    #[error("{0} packages need their release (e.g. `Debian:12`): OSV's {0} records are per release")]
    MissingRelease(&'static str),
    #[error("{ecosystem} {package} version `{version}` cannot be parsed: cannot tell whether {id} affects it")]
    UnparsableVersion {
        id: String,
        ecosystem: String,
        package: String,
        version: String,
    },
    #[error("{id}: `{version}` in a {range_type} range is not a valid {ecosystem} version")]
    UnparsableEventVersion {
        id: String,
        ecosystem: String,
        range_type: RangeType,
        version: String,
    },
    #[error("{id}: malformed range event ({detail})")]
    InvalidEvent { id: String, detail: String },
    #[error("{id}: cannot tell whether it affects Node.js {version}: {detail}")]
    NodeRuntime {
        id: String,
        version: String,
        detail: String,
    },
    #[error("{id}: range type `{range_type}` is not supported: cannot tell whether it affects {package} {version}")]
    UnsupportedRangeType {
        id: String,
        range_type: String,
        package: String,
        version: String,
    },
}

/// A record affects the queried package version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffectedMatch {
    /// The record's id.
    pub id: String,
    /// Versions that fix it, ascending in the ecosystem's order, without duplicates: the
    /// upper bound of each affected interval the installed version is in. Empty when no
    /// fix is known (open range, `last_affected`, or only `versions[]`).
    pub fixed: Vec<String>,
    /// Every part of the record that matched, in record order.
    pub reasons: Vec<Reason>,
}

/// One part of a record that matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The version is listed in `affected[].versions[]`.
    Listed,
    /// Node.js runtime: the version satisfies `vulnerable` and not `patched` (node-semver
    /// ranges of the security WG's record).
    NodeSemver { vulnerable: String, patched: String },
    /// The version is in an interval of an `ECOSYSTEM` or `SEMVER` range.
    Range {
        range_type: RangeType,
        /// The `introduced` event that opened the interval (`"0"`: from the start).
        introduced: String,
        /// What closes the interval above the installed version, if anything does.
        until: Option<Until>,
    },
}

/// The upper bound of an affected interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Until {
    /// Exclusive: this version has the fix.
    Fixed(String),
    /// Inclusive: the last version known to be affected; no fix known.
    LastAffected(String),
}

/// Whether `record` affects `package` at `version` in `ecosystem`.
///
/// `ecosystem` is the installed package's (`Ecosystem::Npm`, `Ecosystem::alpine("v3.20")`).
/// For Alpine, pass the origin (source) package name, as OSV's Alpine records name it.
///
/// Returns `Ok(None)` when the record does not affect the version (or is withdrawn, or
/// names other packages), `Ok(Some(_))` when it does, and `Err` when it cannot tell (see
/// the module documentation); the caller must report an `Err`, not drop it.
///
/// # Errors
///
/// [`MatchError`] when `ecosystem` has no version order here (or is Alpine without a
/// branch), or when the record names the package but cannot be evaluated for `version`
/// (unparsable installed or event version, malformed event, unknown range type) and no
/// other part of it shows the version affected.
pub fn affected(
    record: &Record,
    ecosystem: &Ecosystem,
    package: &str,
    version: &str,
) -> Result<Option<AffectedMatch>, MatchError> {
    if *ecosystem == Ecosystem::NodeJs {
        return node_runtime(record, package, version);
    }
    let order = Order::for_ecosystem(ecosystem)?;
    if record.is_withdrawn() {
        return Ok(None);
    }
    let entries = record.affected.iter().filter(|a| {
        a.package
            .as_ref()
            .is_some_and(|p| p.name == package && p.ecosystem.covers(ecosystem))
    });

    let installed_valid = order.is_valid(version);
    let mut reasons = Vec::new();
    let mut fixed = Vec::new();
    // The first reason the record could not be fully evaluated; it only becomes the answer
    // if nothing else shows the version affected.
    let mut undecided: Option<MatchError> = None;
    for entry in entries {
        let listed = entry.versions.iter().any(|listed| {
            // Equal in the order too: npm's `1.0.0+build` is the release `1.0.0`.
            listed == version || (installed_valid && order.cmp(listed, version) == Some(Ordering::Equal))
        });
        if listed {
            reasons.push(Reason::Listed);
        }
        for range in &entry.ranges {
            let outcome = match &range.kind {
                RangeType::Git => continue,
                RangeType::Unknown(kind) => Err(MatchError::UnsupportedRangeType {
                    id: record.id.clone(),
                    range_type: kind.clone(),
                    package: package.to_owned(),
                    version: version.to_owned(),
                }),
                RangeType::Ecosystem | RangeType::Semver if !installed_valid => Err(MatchError::UnparsableVersion {
                    id: record.id.clone(),
                    ecosystem: ecosystem.to_string(),
                    package: package.to_owned(),
                    version: version.to_owned(),
                }),
                // SEMVER ranges use the ecosystem's order too: the installed version is in
                // the ecosystem's syntax, and for npm the two orders are the same.
                RangeType::Ecosystem | RangeType::Semver => evaluate_range(order, &range.kind, &range.events, version)
                    .map_err(|bad| match bad {
                        BadEvent::Unparsable(v) => MatchError::UnparsableEventVersion {
                            id: record.id.clone(),
                            ecosystem: ecosystem.to_string(),
                            range_type: range.kind.clone(),
                            version: v,
                        },
                        BadEvent::Invalid(detail) => MatchError::InvalidEvent {
                            id: record.id.clone(),
                            detail,
                        },
                    }),
            };
            match outcome {
                Ok(Some(reason)) => {
                    if let Reason::Range {
                        until: Some(Until::Fixed(v)),
                        ..
                    } = &reason
                    {
                        fixed.push(v.clone());
                    }
                    reasons.push(reason);
                }
                Ok(None) => {}
                Err(e) => {
                    undecided.get_or_insert(e);
                }
            }
        }
    }

    if reasons.is_empty() {
        return match undecided {
            Some(e) => Err(e),
            None => Ok(None),
        };
    }
    // Fixed versions were validated by the range evaluation, so the order is total here.
    fixed.sort_by(|a, b| order.cmp(a, b).unwrap_or(Ordering::Equal));
    fixed.dedup_by(|a, b| order.cmp(a, b) == Some(Ordering::Equal));
    Ok(Some(AffectedMatch {
        id: record.id.clone(),
        fixed,
        reasons,
    }))
}

/// The Node.js runtime (`Node.js` ecosystem): the security WG's node-semver ranges, kept in
/// the converted record, evaluated by [`nodejs::affected_osv`](super::nodejs::affected_osv).
fn node_runtime(record: &Record, package: &str, version: &str) -> Result<Option<AffectedMatch>, MatchError> {
    if package != super::nodejs::PACKAGE {
        return Ok(None);
    }
    match super::nodejs::affected_osv(record, version) {
        Ok(None) => Ok(None),
        Ok(Some(m)) => Ok(Some(AffectedMatch {
            id: record.id.clone(),
            fixed: m.fixed,
            reasons: vec![Reason::NodeSemver {
                vulnerable: m.vulnerable,
                patched: m.patched,
            }],
        })),
        Err(super::nodejs::OsvMatchError::Version) => Err(MatchError::UnparsableVersion {
            id: record.id.clone(),
            ecosystem: Ecosystem::NodeJs.to_string(),
            package: package.to_owned(),
            version: version.to_owned(),
        }),
        Err(e) => Err(MatchError::NodeRuntime {
            id: record.id.clone(),
            version: version.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Records about the same vulnerability, folded through `aliases` and `upstream`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasGroup {
    /// The id to show first; see [`fold`] for how it is chosen.
    pub primary: String,
    /// Every id of the vulnerability: the records' ids and all their aliases and
    /// upstream ids, sorted, without duplicates.
    pub ids: Vec<String>,
    /// Indices into the slice given to [`fold`], ascending.
    pub records: Vec<usize>,
}

/// Folds records into groups, one per vulnerability: two records are in the same group
/// when they share an id through `id`, `aliases` or `upstream`, transitively (GHSA-a
/// aliases CVE-1, ALPINE-CVE-1 has upstream CVE-1: one group). `related` is not followed:
/// it links different vulnerabilities. Withdrawn records are in no group.
///
/// Note that `upstream` can be wide (a distribution advisory fixing several CVEs); the
/// ecosystems imagegate reads (npm, Alpine) write one record per vulnerability, but a
/// record listing several upstream CVEs would fold them all into one group.
///
/// The primary id is the id of a record in the group (so it can be looked up), chosen
/// deterministically by prefix: `MAL-` (a malicious package outranks everything), then
/// `GHSA-`, then `ALPINE-`, then any other database, then `CVE-` last: the ecosystem's
/// own advisory is the one written against the package (its ranges, its severity), while
/// the CVE id is always in `ids` and a policy ignore may name any id. Ties: the smallest
/// id. Groups come sorted by primary id.
pub fn fold<R: Borrow<Record>>(records: &[R]) -> Vec<AliasGroup> {
    let mut sets = UnionFind::default();
    for record in records.iter().map(Borrow::borrow).filter(|r| !r.is_withdrawn()) {
        let own = sets.insert(&record.id);
        for other in record.aliases.iter().chain(&record.upstream) {
            let other = sets.insert(other);
            sets.union(own, other);
        }
    }

    let mut groups: BTreeMap<usize, AliasGroup> = BTreeMap::new();
    for (index, record) in records.iter().map(Borrow::borrow).enumerate() {
        if record.is_withdrawn() {
            continue;
        }
        let Some(node) = sets.index.get(record.id.as_str()).copied() else {
            continue;
        };
        let root = sets.find(node);
        let group = groups.entry(root).or_insert_with(|| AliasGroup {
            primary: record.id.clone(),
            ids: Vec::new(),
            records: Vec::new(),
        });
        group.records.push(index);
        if primary_rank(&record.id) < primary_rank(&group.primary) {
            group.primary.clone_from(&record.id);
        }
    }
    let names: Vec<(String, usize)> = sets.index.iter().map(|(id, &node)| (id.clone(), node)).collect();
    for (id, node) in names {
        let root = sets.find(node);
        if let Some(group) = groups.get_mut(&root) {
            group.ids.push(id);
        }
    }
    let mut groups: Vec<AliasGroup> = groups.into_values().collect();
    for group in &mut groups {
        // BTreeMap iteration already yields ids sorted; sort anyway so this does not
        // depend on that.
        group.ids.sort();
        group.ids.dedup();
    }
    groups.sort_by(|a, b| a.primary.cmp(&b.primary));
    groups
}

/// Lower is preferred as primary id; ties broken by the id itself.
fn primary_rank(id: &str) -> (u8, &str) {
    let class = if id.starts_with("MAL-") {
        0
    } else if id.starts_with("GHSA-") {
        1
    } else if id.starts_with("ALPINE-") {
        2
    } else if id.starts_with("CVE-") {
        4
    } else {
        3
    };
    (class, id)
}

#[derive(Default)]
struct UnionFind {
    index: BTreeMap<String, usize>,
    parent: Vec<usize>,
}

impl UnionFind {
    fn insert(&mut self, id: &str) -> usize {
        if let Some(&node) = self.index.get(id) {
            return node;
        }
        let node = self.parent.len();
        self.parent.push(node);
        self.index.insert(id.to_owned(), node);
        node
    }

    fn find(&mut self, mut node: usize) -> usize {
        let mut root = node;
        while self.parent[root] != root {
            root = self.parent[root];
        }
        // Path compression keeps long alias chains cheap on a full dump.
        while self.parent[node] != root {
            let next = self.parent[node];
            self.parent[node] = root;
            node = next;
        }
        root
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            // Deterministic: the smaller node becomes the root.
            let (root, child) = if a < b { (a, b) } else { (b, a) };
            self.parent[child] = root;
        }
    }
}

/// A version order imagegate implements.
#[derive(Clone, Copy, Debug)]
enum Order {
    Npm,
    /// Go module versions: SemVer with a leading `v` (`v0.3.6`, pseudo-versions
    /// `v0.0.0-20220722155237-a158d28d115b`, which order as the pre-releases they are);
    /// OSV's Go records write them without it.
    Go,
    Apk,
    Dpkg,
}

impl Order {
    fn for_ecosystem(ecosystem: &Ecosystem) -> Result<Self, MatchError> {
        match ecosystem {
            Ecosystem::Npm | Ecosystem::CratesIo => Ok(Self::Npm),
            Ecosystem::Go => Ok(Self::Go),
            Ecosystem::Alpine { branch: Some(_) } => Ok(Self::Apk),
            Ecosystem::Alpine { branch: None } => Err(MatchError::MissingAlpineBranch),
            Ecosystem::Debian { release: Some(_) } | Ecosystem::Ubuntu { .. } => Ok(Self::Dpkg),
            Ecosystem::Debian { release: None } => Err(MatchError::MissingRelease("Debian")),
            Ecosystem::Unknown(name) => Err(MatchError::UnsupportedEcosystem(name.clone())),
            // Matched by `node_runtime` before an order is needed.
            Ecosystem::NodeJs => Err(MatchError::UnsupportedEcosystem(ecosystem.to_string())),
        }
    }

    fn is_valid(self, v: &str) -> bool {
        match self {
            Self::Npm => npm_version::is_valid(v),
            Self::Go => npm_version::is_valid(go_semver(v)),
            Self::Apk => apk_version::is_valid(v),
            Self::Dpkg => dpkg_version::is_valid(v),
        }
    }

    fn cmp(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Self::Npm => npm_version::compare(a, b),
            Self::Go => npm_version::compare(go_semver(a), go_semver(b)),
            Self::Apk => apk_version::compare(a, b),
            Self::Dpkg => dpkg_version::compare(a, b),
        }
    }
}

/// A Go version as SemVer: `v1.2.3` → `1.2.3` (`+incompatible` stays build metadata, which
/// precedence ignores).
fn go_semver(v: &str) -> &str {
    v.strip_prefix('v').unwrap_or(v)
}

/// A point on the version line of a range event.
#[derive(Clone, Copy, Debug)]
enum Point<'a> {
    /// `"0"`: before every version (the schema's sentinel, whatever the ecosystem's
    /// syntax; npm's order could not even parse it).
    Start,
    Version(&'a str),
    /// `limit: "*"`: after every version.
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    // Declaration order is the tie-break for events at the same version: `introduced`
    // first, so `[X, X)` is empty and `[X, X]` is `{X}`. In particular Alpine's
    // `introduced 0` + `fixed 0` ("never affected on this branch") stays empty whatever
    // order the record lists them in.
    Introduced,
    LastAffected,
    Fixed,
    Limit,
}

enum BadEvent {
    Unparsable(String),
    Invalid(String),
}

/// Evaluates one range for a valid installed `version`: `Ok(None)` when not in it.
fn evaluate_range(
    order: Order,
    range_type: &RangeType,
    events: &[Event],
    version: &str,
) -> Result<Option<Reason>, BadEvent> {
    let mut points = Vec::with_capacity(events.len());
    for event in events {
        let (kind, raw) = match event {
            Event::Introduced(v) => (Kind::Introduced, v),
            Event::Fixed(v) => (Kind::Fixed, v),
            Event::LastAffected(v) => (Kind::LastAffected, v),
            Event::Limit(v) => (Kind::Limit, v),
            Event::Invalid(detail) => return Err(BadEvent::Invalid(detail.clone())),
        };
        let point = match raw.as_str() {
            "0" => Point::Start,
            "*" if kind == Kind::Limit => Point::End,
            v if order.is_valid(v) => Point::Version(v),
            v => return Err(BadEvent::Unparsable(v.to_owned())),
        };
        points.push((point, kind, raw.as_str()));
    }
    // All versions are valid now, so comparisons are total; `Equal` is never a fallback
    // that decides anything.
    let cmp = |a: Point<'_>, b: Point<'_>| match (a, b) {
        (Point::Start, Point::Start) | (Point::End, Point::End) => Ordering::Equal,
        (Point::Start, _) | (_, Point::End) => Ordering::Less,
        (_, Point::Start) | (Point::End, _) => Ordering::Greater,
        (Point::Version(a), Point::Version(b)) => order.cmp(a, b).unwrap_or(Ordering::Equal),
    };
    // The schema allows events in any order; its evaluation sorts them first.
    points.sort_by(|a, b| cmp(a.0, b.0).then(a.1.cmp(&b.1)));

    let v = Point::Version(version);
    let limits: Vec<_> = points.iter().filter(|p| p.1 == Kind::Limit).collect();
    if !limits.is_empty() && !limits.iter().any(|p| cmp(v, p.0) == Ordering::Less) {
        return Ok(None);
    }

    let mut introduced: Option<&str> = None;
    for &(point, kind, raw) in &points {
        let at_or_above = cmp(v, point) != Ordering::Less;
        match kind {
            Kind::Introduced if at_or_above => introduced = Some(raw),
            Kind::Fixed if at_or_above => introduced = None,
            Kind::LastAffected if cmp(v, point) == Ordering::Greater => introduced = None,
            _ => {}
        }
    }
    let Some(introduced) = introduced else {
        return Ok(None);
    };
    // The interval's upper bound: the first closing event above the installed version.
    let until = points.iter().find_map(|&(point, kind, raw)| match kind {
        Kind::Fixed if cmp(v, point) == Ordering::Less => Some(Until::Fixed(raw.to_owned())),
        Kind::LastAffected if cmp(v, point) != Ordering::Greater => Some(Until::LastAffected(raw.to_owned())),
        _ => None,
    });
    Ok(Some(Reason::Range {
        range_type: range_type.clone(),
        introduced: introduced.to_owned(),
        until,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(rel: &str) -> Record {
        let path = format!("{}/testdata/osv/{rel}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Record::from_json(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn npm(id: &str) -> Record {
        load(&format!("npm/{id}.json"))
    }

    /// A real Alpine record from `testdata/osv/alpine/` (sources in its README).
    fn alpine(id: &str) -> Record {
        load(&format!("alpine/{id}.json"))
    }

    /// ALPINE-CVE-2024-9143: openssl on v3.20, fixed in 3.3.2-r1.
    fn openssl_9143() -> Record {
        alpine("ALPINE-CVE-2024-9143")
    }

    fn debian(cve: &str) -> Record {
        load(&format!("debian/DEBIAN-CVE-{cve}.json"))
    }

    fn ubuntu(usn: &str) -> Record {
        load(&format!("ubuntu/{usn}.json"))
    }

    fn record(json: &str) -> Record {
        json.parse().unwrap()
    }

    /// The fixed versions when affected; panics when not affected or undecided.
    fn fixes(r: &Record, eco: &Ecosystem, package: &str, version: &str) -> Vec<String> {
        match affected(r, eco, package, version) {
            Ok(Some(m)) => {
                assert_eq!(m.id, r.id);
                m.fixed
            }
            other => panic!("{} should affect {package} {version}: {other:?}", r.id),
        }
    }

    fn not_affected(r: &Record, eco: &Ecosystem, package: &str, version: &str) -> bool {
        matches!(affected(r, eco, package, version), Ok(None))
    }

    const NPM: &Ecosystem = &Ecosystem::Npm;

    fn v320() -> Ecosystem {
        Ecosystem::alpine("v3.20")
    }

    #[test]
    fn lodash_4_17_20_needs_4_17_21() {
        // GHSA-35jh-r3h4-6jhm: command injection in `template`, fixed in 4.17.21.
        let r = npm("GHSA-35jh-r3h4-6jhm");
        let m = affected(&r, NPM, "lodash", "4.17.20").unwrap().unwrap();
        assert_eq!(m.fixed, ["4.17.21"]);
        assert_eq!(
            m.reasons,
            [Reason::Range {
                range_type: RangeType::Ecosystem,
                introduced: "0".into(),
                until: Some(Until::Fixed("4.17.21".into())),
            }]
        );
        assert!(not_affected(&r, NPM, "lodash", "4.17.21"));
        assert!(
            not_affected(&r, NPM, "lodash", "4.17.21+build.7"),
            "build metadata ignored"
        );
        assert!(not_affected(&r, NPM, "lodash", "5.0.0"));
        assert_eq!(fixes(&r, NPM, "lodash", "0.1.0"), ["4.17.21"]);
        assert_eq!(
            fixes(&r, NPM, "lodash", "4.17.21-rc.1"),
            ["4.17.21"],
            "pre-release sorts before"
        );
        // The same record's second package.
        assert_eq!(fixes(&r, NPM, "lodash-es", "4.17.20"), ["4.17.21"]);
        // Other packages, other ecosystems.
        assert!(not_affected(&r, NPM, "underscore", "1.0.0"));
        assert!(not_affected(&r, &v320(), "lodash", "4.17.20-r0"));
    }

    #[test]
    fn lodash_prototype_pollution_is_fixed_in_4_17_11() {
        // GHSA-4xc9-xhrj-v574: the prototype pollution record among the fixtures.
        let r = npm("GHSA-4xc9-xhrj-v574");
        assert_eq!(fixes(&r, NPM, "lodash", "4.17.10"), ["4.17.11"]);
        assert!(not_affected(&r, NPM, "lodash", "4.17.11"));
        assert!(not_affected(&r, NPM, "lodash", "4.17.20"));
        assert!(not_affected(&r, NPM, "lodash", "4.17.21"));
    }

    #[test]
    fn minimist_two_affected_entries() {
        // GHSA-vh95-rmgr-6w4m: [0, 0.2.1) and [1.0.0, 1.2.3), in two `affected` entries.
        let r = npm("GHSA-vh95-rmgr-6w4m");
        assert_eq!(fixes(&r, NPM, "minimist", "0.0.8"), ["0.2.1"]);
        assert!(not_affected(&r, NPM, "minimist", "0.2.1"));
        assert!(not_affected(&r, NPM, "minimist", "0.2.4"), "between the two intervals");
        assert_eq!(fixes(&r, NPM, "minimist", "1.0.0"), ["1.2.3"]);
        assert_eq!(fixes(&r, NPM, "minimist", "1.2.2"), ["1.2.3"]);
        // 1.2.5 is past this record's fix; its own advisory (CVE-2021-44906, fixed in
        // 1.2.6) is not among the fixtures.
        assert!(not_affected(&r, NPM, "minimist", "1.2.3"));
        assert!(not_affected(&r, NPM, "minimist", "1.2.5"));
    }

    #[test]
    fn semver_three_branches() {
        // GHSA-c2qf-rxjj-qqgw: each major line has its own fix; report the one for the
        // installed line.
        let r = npm("GHSA-c2qf-rxjj-qqgw");
        assert_eq!(fixes(&r, NPM, "semver", "7.5.1"), ["7.5.2"]);
        assert_eq!(fixes(&r, NPM, "semver", "6.3.0"), ["6.3.1"]);
        assert_eq!(fixes(&r, NPM, "semver", "5.7.1"), ["5.7.2"]);
        assert_eq!(fixes(&r, NPM, "semver", "2.0.0"), ["5.7.2"]);
        for safe in ["5.7.2", "6.3.1", "7.5.2", "7.6.0", "5.8.0"] {
            assert!(not_affected(&r, NPM, "semver", safe), "{safe}");
        }
    }

    #[test]
    fn babel_traverse_pre_release_range_and_open_range() {
        let r = npm("GHSA-67hx-6x53-jw92");
        assert_eq!(fixes(&r, NPM, "@babel/traverse", "7.23.1"), ["7.23.2"]);
        assert!(not_affected(&r, NPM, "@babel/traverse", "7.23.2"));
        assert_eq!(fixes(&r, NPM, "@babel/traverse", "8.0.0-alpha.3"), ["8.0.0-alpha.4"]);
        assert!(not_affected(&r, NPM, "@babel/traverse", "8.0.0-alpha.4"));
        assert!(
            not_affected(&r, NPM, "@babel/traverse", "8.0.0-alpha.10"),
            "numeric identifiers"
        );
        // `babel-traverse`: introduced 0, no fix: every version, nothing to upgrade to.
        let m = affected(&r, NPM, "babel-traverse", "6.26.0").unwrap().unwrap();
        assert!(m.fixed.is_empty());
        assert_eq!(
            m.reasons,
            [Reason::Range {
                range_type: RangeType::Ecosystem,
                introduced: "0".into(),
                until: None
            }]
        );
    }

    #[test]
    fn last_affected_is_inclusive() {
        // GHSA-78xj-cgh5-2h22: ip, introduced 0, last_affected 1.1.8.
        let r = npm("GHSA-78xj-cgh5-2h22");
        let m = affected(&r, NPM, "ip", "1.1.8").unwrap().unwrap();
        assert!(m.fixed.is_empty(), "last_affected is not a fix");
        assert_eq!(
            m.reasons,
            [Reason::Range {
                range_type: RangeType::Ecosystem,
                introduced: "0".into(),
                until: Some(Until::LastAffected("1.1.8".into())),
            }]
        );
        assert!(affected(&r, NPM, "ip", "1.1.5").unwrap().is_some());
        assert!(not_affected(&r, NPM, "ip", "1.1.9"));
        assert!(not_affected(&r, NPM, "ip", "2.0.0"));
    }

    #[test]
    fn the_other_real_records() {
        assert_eq!(fixes(&npm("GHSA-42xw-2xvc-qx8m"), NPM, "axios", "0.18.0"), ["0.18.1"]);
        assert!(not_affected(&npm("GHSA-42xw-2xvc-qx8m"), NPM, "axios", "0.18.1"));
        let json5 = npm("GHSA-9c47-m6qq-7p4h");
        assert_eq!(fixes(&json5, NPM, "json5", "1.0.1"), ["1.0.2"]);
        assert_eq!(fixes(&json5, NPM, "json5", "2.2.1"), ["2.2.2"]);
        assert!(not_affected(&json5, NPM, "json5", "1.0.2"));
        assert!(not_affected(&json5, NPM, "json5", "2.2.3"));
        let serve = npm("GHSA-cm22-4g7w-348p");
        assert_eq!(fixes(&serve, NPM, "serve-static", "1.15.0"), ["1.16.0"]);
        assert_eq!(fixes(&serve, NPM, "serve-static", "2.0.0"), ["2.1.0"]);
        assert!(not_affected(&serve, NPM, "serve-static", "1.16.2"));
        let next = npm("GHSA-fr5h-rqp8-mj6g");
        assert_eq!(fixes(&next, NPM, "next", "14.1.0"), ["14.1.1"]);
        assert!(not_affected(&next, NPM, "next", "13.3.4"), "below introduced");
        assert!(not_affected(&next, NPM, "next", "14.1.1"));
        assert_eq!(
            fixes(&next, NPM, "next", "13.4.0"),
            ["14.1.1"],
            "introduced is inclusive"
        );
    }

    #[test]
    fn openssl_on_v3_20_through_its_origin() {
        // libcrypto3 3.3.2-r0 (origin openssl) < fixed 3.3.2-r1.
        let r = openssl_9143();
        assert_eq!(fixes(&r, &v320(), "openssl", "3.3.2-r0"), ["3.3.2-r1"]);
        assert!(not_affected(&r, &v320(), "openssl", "3.3.2-r1"));
        assert!(not_affected(&r, &v320(), "openssl", "3.3.3-r0"));
        assert_eq!(
            fixes(&r, &v320(), "openssl", "3.3.2_rc1-r0"),
            ["3.3.2-r1"],
            "apk pre-release"
        );
        assert!(
            not_affected(&r, &Ecosystem::alpine("v3.19"), "openssl", "3.3.2-r0"),
            "other branch"
        );
        assert!(
            not_affected(&r, &v320(), "libcrypto3", "3.3.2-r0"),
            "written against the origin"
        );
    }

    #[test]
    fn debian_12_openssl_by_its_source_version() {
        let bookworm = Ecosystem::debian("12");
        // CVE-2023-5363, fixed in bookworm-security's 3.0.11-1~deb12u2.
        let r = debian("2023-5363");
        assert_eq!(
            fixes(&r, &bookworm, "openssl", "3.0.11-1~deb12u1"),
            ["3.0.11-1~deb12u2"]
        );
        assert_eq!(fixes(&r, &bookworm, "openssl", "3.0.9-1"), ["3.0.11-1~deb12u2"]);
        assert_eq!(
            fixes(&r, &bookworm, "openssl", "3.0.11-1~deb12u1+b1"),
            ["3.0.11-1~deb12u2"],
            "a binary rebuild of the vulnerable source is still vulnerable"
        );
        for fixed in [
            "3.0.11-1~deb12u2",
            "3.0.11-1~deb12u2+b1",
            "3.0.11-1",
            "3.0.13-1~deb12u1",
            "1:3.0.0-1",
        ] {
            assert!(not_affected(&r, &bookworm, "openssl", fixed), "{fixed}");
        }
        assert!(
            not_affected(&r, &Ecosystem::debian("11"), "openssl", "1.1.1n-0+deb11u5"),
            "a Debian 12 record says nothing about Debian 11"
        );
        assert!(
            not_affected(&r, &bookworm, "libssl3", "3.0.11-1~deb12u1"),
            "written against the source package"
        );
        assert!(
            not_affected(&r, &Ecosystem::ubuntu("22.04", true), "openssl", "3.0.2-0ubuntu1.10"),
            "Debian records do not apply to Ubuntu"
        );
        // 3.0.11-1~deb12u2 is itself affected by CVE-2024-6119, fixed in 3.0.14-1~deb12u2.
        let r = debian("2024-6119");
        assert_eq!(
            fixes(&r, &bookworm, "openssl", "3.0.11-1~deb12u2"),
            ["3.0.14-1~deb12u2"]
        );
        assert_eq!(
            fixes(&r, &bookworm, "openssl", "3.0.14-1~deb12u1"),
            ["3.0.14-1~deb12u2"]
        );
        assert!(not_affected(&r, &bookworm, "openssl", "3.0.15-1~deb12u1"));
        // glibc: CVE-2023-4911 (GLIBC_TUNABLES), fixed in 2.36-9+deb12u3; libc6 comes
        // from source glibc.
        let r = debian("2023-4911");
        assert_eq!(fixes(&r, &bookworm, "glibc", "2.36-9+deb12u2"), ["2.36-9+deb12u3"]);
        assert!(not_affected(&r, &bookworm, "glibc", "2.36-9+deb12u3"));
        assert!(
            not_affected(&r, &bookworm, "glibc", "2.36-9+deb12u10"),
            "u10 > u3 numerically"
        );
        assert!(matches!(
            affected(&r, &bookworm, "glibc", "2.36 9"),
            Err(MatchError::UnparsableVersion { .. })
        ));
    }

    #[test]
    fn ubuntu_lts_releases_from_a_real_usn() {
        // USN-6986-1 (openssl, CVE-2024-6119): jammy fixed in 3.0.2-0ubuntu1.18, noble in
        // 3.0.13-0ubuntu3.4.
        let r = ubuntu("USN-6986-1");
        let jammy = Ecosystem::ubuntu("22.04", true);
        let noble = Ecosystem::ubuntu("24.04", true);
        let m = affected(&r, &jammy, "openssl", "3.0.2-0ubuntu1.15").unwrap().unwrap();
        assert_eq!(m.fixed, ["3.0.2-0ubuntu1.18"]);
        assert_eq!(m.reasons.len(), 2, "listed in versions[] and inside the range");
        assert!(not_affected(&r, &jammy, "openssl", "3.0.2-0ubuntu1.18"));
        assert!(not_affected(&r, &jammy, "openssl", "3.0.2-0ubuntu1.19"));
        assert_eq!(fixes(&r, &noble, "openssl", "3.0.13-0ubuntu3.1"), ["3.0.13-0ubuntu3.4"]);
        assert!(not_affected(&r, &noble, "openssl", "3.0.13-0ubuntu3.4"));
        assert!(
            not_affected(&r, &Ecosystem::ubuntu("23.10", false), "openssl", "3.0.10-1ubuntu2"),
            "no entry for 23.10"
        );
        assert!(
            not_affected(&r, &jammy, "libssl3", "3.0.2-0ubuntu1.15"),
            "source package only"
        );
        // USN-6409-1 (glibc, CVE-2023-4911 on jammy).
        let r = ubuntu("USN-6409-1");
        assert_eq!(fixes(&r, &jammy, "glibc", "2.35-0ubuntu3.1"), ["2.35-0ubuntu3.4"]);
        assert!(not_affected(&r, &jammy, "glibc", "2.35-0ubuntu3.4"));
        assert!(not_affected(&r, &noble, "glibc", "2.39-0ubuntu8"));
    }

    #[test]
    fn busybox_on_v3_20() {
        // ALPINE-CVE-2023-42364: busybox 1.36.1-r29 (the 3.20.3 minirootfs) < fixed 1.36.1-r30.
        let r = alpine("ALPINE-CVE-2023-42364");
        assert_eq!(fixes(&r, &v320(), "busybox", "1.36.1-r29"), ["1.36.1-r30"]);
        assert!(not_affected(&r, &v320(), "busybox", "1.36.1-r30"));
        assert!(not_affected(&r, &v320(), "busybox", "1.37.0-r0"));
        assert!(
            not_affected(&r, &v320(), "ssl_client", "1.36.1-r29"),
            "written against the origin"
        );
    }

    #[test]
    fn records_apply_per_branch() {
        // ALPINE-CVE-2024-2511: openssl fixed in 3.1.4-r6 on v3.19; the record has no entry
        // for v3.20, so the same package there is not matched by it.
        let r = alpine("ALPINE-CVE-2024-2511");
        let v319 = Ecosystem::alpine("v3.19");
        assert_eq!(fixes(&r, &v319, "openssl", "3.1.4-r5"), ["3.1.4-r6"]);
        assert!(not_affected(&r, &v319, "openssl", "3.1.4-r6"));
        assert!(not_affected(&r, &v320(), "openssl", "3.1.4-r5"));
        // And ALPINE-CVE-2024-9143 (v3.20 only) says nothing about v3.19.
        assert!(not_affected(&openssl_9143(), &v319, "openssl", "3.1.4-r5"));
    }

    // The records below are built here, not read from `testdata/`: they test how the matcher
    // handles odd but valid OSV (unsorted events, a GIT range first, `fixed 0`, withdrawn),
    // not any advisory. Their ids start with `TEST-` so they cannot be taken for real ones.

    #[test]
    fn unsorted_events_are_sorted_first() {
        // Events listed as fixed r30, introduced r25, fixed r20, introduced 0: affected
        // [0, r20) and [r25, r30).
        let r = record(
            r#"{"id": "TEST-UNSORTED-EVENTS", "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "busybox"},
                "ranges": [{"type": "ECOSYSTEM", "events": [
                    {"fixed": "1.36.1-r30"}, {"introduced": "1.36.1-r25"}, {"fixed": "1.36.1-r20"}, {"introduced": "0"}
                ]}]}]}"#,
        );
        assert_eq!(fixes(&r, &v320(), "busybox", "1.36.1-r29"), ["1.36.1-r30"]);
        assert_eq!(fixes(&r, &v320(), "busybox", "1.36.1-r25"), ["1.36.1-r30"]);
        assert_eq!(fixes(&r, &v320(), "busybox", "1.36.1-r15"), ["1.36.1-r20"]);
        // Walking the events as listed would end on `introduced 0` and say "affected".
        assert!(not_affected(&r, &v320(), "busybox", "1.36.1-r22"));
        assert!(not_affected(&r, &v320(), "busybox", "1.36.1-r30"));
        let m = affected(&r, &v320(), "busybox", "1.36.1-r29").unwrap().unwrap();
        assert_eq!(
            m.reasons,
            [Reason::Range {
                range_type: RangeType::Ecosystem,
                introduced: "1.36.1-r25".into(),
                until: Some(Until::Fixed("1.36.1-r30".into())),
            }]
        );
    }

    #[test]
    fn a_git_range_first_does_not_end_the_evaluation() {
        let r = record(
            r#"{"id": "TEST-GIT-RANGE-FIRST", "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "musl"},
                "ranges": [
                    {"type": "GIT", "repo": "https://git.musl-libc.org/git/musl",
                     "events": [{"introduced": "0"}, {"fixed": "0123456789abcdef0123456789abcdef01234567"}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.5-r1"}]}
                ]}]}"#,
        );
        assert_eq!(fixes(&r, &v320(), "musl", "1.2.5-r0"), ["1.2.5-r1"]);
        assert!(not_affected(&r, &v320(), "musl", "1.2.5-r1"));
    }

    #[test]
    fn fixed_zero_means_never_affected() {
        // secfixes' "0" (the branch never shipped the flaw) becomes `introduced 0, fixed 0`.
        let r = record(
            r#"{"id": "TEST-FIXED-ZERO", "affected": [
                {"package": {"ecosystem": "Alpine:v3.18", "name": "zlib"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.13-r2"}]}]},
                {"package": {"ecosystem": "Alpine:v3.20", "name": "zlib"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0"}]}]}
            ]}"#,
        );
        let v318 = Ecosystem::alpine("v3.18");
        assert_eq!(fixes(&r, &v318, "zlib", "1.2.13-r1"), ["1.2.13-r2"]);
        assert!(not_affected(&r, &v318, "zlib", "1.2.13-r2"));
        // v3.20's entry: never affected, for any version.
        for v in ["1.3.1-r1", "1.2.13-r1", "0.1-r0", "0_alpha1"] {
            assert!(not_affected(&r, &v320(), "zlib", v), "{v}");
        }
        // However the events are ordered, and with `fixed 0` alone.
        for events in [
            r#"[{"fixed": "0"}, {"introduced": "0"}]"#,
            r#"[{"introduced": "0"}, {"fixed": "0"}]"#,
            r#"[{"fixed": "0"}]"#,
        ] {
            let r = record(&format!(
                r#"{{"id": "TEST-FIXED-ZERO-ORDER", "affected": [{{
                    "package": {{"ecosystem": "Alpine:v3.20", "name": "zlib"}},
                    "ranges": [{{"type": "ECOSYSTEM", "events": {events}}}]}}]}}"#
            ));
            assert!(not_affected(&r, &v320(), "zlib", "1.3.1-r1"), "{events}");
        }
    }

    /// Every busybox on v3.20, but withdrawn.
    fn withdrawn() -> Record {
        record(
            r#"{"id": "TEST-WITHDRAWN", "withdrawn": "2024-01-03T00:00:00Z", "upstream": ["CVE-TEST-WITHDRAWN"],
                "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "busybox"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}"#,
        )
    }

    #[test]
    fn withdrawn_records_match_nothing() {
        let r = withdrawn();
        assert!(not_affected(&r, &v320(), "busybox", "1.36.1-r29"));
        assert!(
            not_affected(&r, &v320(), "busybox", "not a version"),
            "not even an error"
        );
        // The same record, not withdrawn, would match.
        let mut live = r.clone();
        live.withdrawn = None;
        assert!(affected(&live, &v320(), "busybox", "1.36.1-r29").unwrap().is_some());
    }

    #[test]
    fn unparsable_installed_versions_are_reported() {
        let lodash = npm("GHSA-35jh-r3h4-6jhm");
        for bad in ["4.17", "v4.17.20", "latest", "", "4.17.20.1"] {
            let err = affected(&lodash, NPM, "lodash", bad).unwrap_err();
            assert!(
                matches!(&err, MatchError::UnparsableVersion { version, .. } if version == bad),
                "{err}"
            );
            assert!(err.to_string().contains("GHSA-35jh-r3h4-6jhm"), "{err}");
        }
        let err = affected(&openssl_9143(), &v320(), "openssl", "3.3.2-r0-custom").unwrap_err();
        assert!(matches!(err, MatchError::UnparsableVersion { .. }), "{err}");
        // A record about another package does not need to parse it.
        assert!(not_affected(&lodash, NPM, "left-pad", "whatever"));
    }

    #[test]
    fn unparsable_event_versions_and_malformed_events_are_reported() {
        let r = record(
            r#"{"id": "GHSA-aaaa-bbbb-cccc", "affected": [{"package": {"ecosystem": "npm", "name": "x"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.x"}, {"fixed": "2.0.0"}]}]}]}"#,
        );
        let err = affected(&r, NPM, "x", "1.5.0").unwrap_err();
        assert!(
            matches!(&err, MatchError::UnparsableEventVersion { version, .. } if version == "1.x"),
            "{err}"
        );

        let r = record(
            r#"{"id": "GHSA-aaaa-bbbb-cccc", "affected": [{"package": {"ecosystem": "npm", "name": "x"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "2.0.0"}]}]}]}"#,
        );
        assert!(matches!(
            affected(&r, NPM, "x", "1.5.0"),
            Err(MatchError::InvalidEvent { .. })
        ));
    }

    #[test]
    fn unknown_range_types_are_skipped_but_never_silently_safe() {
        let r = record(
            r#"{"id": "GHSA-aaaa-bbbb-cccc", "affected": [{"package": {"ecosystem": "npm", "name": "x"},
                "ranges": [
                    {"type": "CALVER", "events": [{"introduced": "2020.1"}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": "1.0.0"}, {"fixed": "1.2.0"}]}
                ]}]}"#,
        );
        // The known range decides "affected" on its own.
        assert_eq!(fixes(&r, NPM, "x", "1.1.0"), ["1.2.0"]);
        // Outside it, the unknown range might still say "affected": report it.
        let err = affected(&r, NPM, "x", "2.0.0").unwrap_err();
        assert!(matches!(&err, MatchError::UnsupportedRangeType { range_type, .. } if range_type == "CALVER"));
    }

    #[test]
    fn git_only_records_rely_on_versions() {
        let r = record(
            r#"{"id": "TEST-GIT-ONLY", "affected": [{"package": {"ecosystem": "npm", "name": "x"},
                "ranges": [{"type": "GIT", "repo": "https://example.org/x.git",
                            "events": [{"introduced": "0"}, {"fixed": "0123456789abcdef0123456789abcdef01234567"}]}],
                "versions": ["1.0.0", "1.0.1"]}]}"#,
        );
        let m = affected(&r, NPM, "x", "1.0.1").unwrap().unwrap();
        assert_eq!(m.reasons, [Reason::Listed]);
        assert!(m.fixed.is_empty());
        assert!(affected(&r, NPM, "x", "1.0.1+build").unwrap().is_some(), "same release");
        assert!(not_affected(&r, NPM, "x", "1.0.2"));
        // Listed versions are compared as strings first, so even an odd one matches.
        let odd = record(
            r#"{"id": "TEST-ODD-LISTED", "affected": [{"package": {"ecosystem": "npm", "name": "x"},
                "versions": ["1.0"]}]}"#,
        );
        assert!(affected(&odd, NPM, "x", "1.0").unwrap().is_some());
    }

    #[test]
    fn limit_events_bound_the_range() {
        let r = record(
            r#"{"id": "TEST-LIMIT", "affected": [{"package": {"ecosystem": "npm", "name": "x"},
                "ranges": [
                    {"type": "SEMVER", "events": [{"introduced": "0"}, {"limit": "2.0.0"}]},
                    {"type": "SEMVER", "events": [{"introduced": "3.0.0"}, {"limit": "*"}]}
                ]}]}"#,
        );
        assert!(affected(&r, NPM, "x", "1.9.9").unwrap().is_some());
        assert!(not_affected(&r, NPM, "x", "2.0.0"));
        assert!(not_affected(&r, NPM, "x", "2.5.0"));
        assert!(affected(&r, NPM, "x", "3.1.0").unwrap().is_some());
    }

    #[test]
    fn several_intervals_in_one_range_and_equal_bounds() {
        let r = record(
            r#"{"id": "TEST-INTERVALS", "affected": [{"package": {"ecosystem": "npm", "name": "x"},
                "ranges": [{"type": "SEMVER", "events": [
                    {"introduced": "3.0.0"}, {"fixed": "3.2.5"},
                    {"introduced": "1.0.0"}, {"fixed": "1.0.2"},
                    {"introduced": "5.0.0"}, {"fixed": "5.0.0"}
                ]}]}]}"#,
        );
        assert_eq!(fixes(&r, NPM, "x", "1.0.1"), ["1.0.2"]);
        assert!(not_affected(&r, NPM, "x", "2.0.0"));
        assert_eq!(fixes(&r, NPM, "x", "3.2.4"), ["3.2.5"]);
        assert!(not_affected(&r, NPM, "x", "5.0.0"), "[5.0.0, 5.0.0) is empty");
    }

    #[test]
    fn query_ecosystem_must_have_an_order() {
        let lodash = npm("GHSA-35jh-r3h4-6jhm");
        let pypi = Ecosystem::parse("PyPI");
        assert_eq!(
            affected(&lodash, &pypi, "lodash", "4.17.20"),
            Err(MatchError::UnsupportedEcosystem("PyPI".into()))
        );
        assert_eq!(
            affected(
                &openssl_9143(),
                &Ecosystem::Alpine { branch: None },
                "openssl",
                "3.3.2-r0"
            ),
            Err(MatchError::MissingAlpineBranch)
        );
        assert_eq!(
            affected(
                &debian("2023-5363"),
                &Ecosystem::Debian { release: None },
                "openssl",
                "3.0.9-1"
            ),
            Err(MatchError::MissingRelease("Debian"))
        );
    }

    #[test]
    fn bare_alpine_records_apply_to_every_branch() {
        let r = record(
            r#"{"id": "ALPINE-TEST-BARE-ECOSYSTEM", "affected": [{"package": {"ecosystem": "Alpine", "name": "musl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.5-r1"}]}]}]}"#,
        );
        assert_eq!(fixes(&r, &v320(), "musl", "1.2.5-r0"), ["1.2.5-r1"]);
        assert_eq!(fixes(&r, &Ecosystem::alpine("v3.18"), "musl", "1.2.4-r2"), ["1.2.5-r1"]);
    }

    #[test]
    fn fixed_versions_from_several_entries_are_sorted_and_deduplicated() {
        let r = record(
            r#"{"id": "TEST-SEVERAL-ENTRIES", "affected": [
                {"package": {"ecosystem": "npm", "name": "x"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}]},
                {"package": {"ecosystem": "npm", "name": "x"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0.0"}, {"fixed": "1.10.0"}]}]},
                {"package": {"ecosystem": "npm", "name": "x"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.0+dup"}]}]}
            ]}"#,
        );
        assert_eq!(fixes(&r, NPM, "x", "1.2.0"), ["1.10.0", "2.0.0"]);
    }

    #[test]
    fn fold_ghsa_cve_and_alpine_records_into_one_group() {
        let records = vec![
            openssl_9143(), // upstream CVE-2024-9143
            // Built here (made-up GHSA and OSV ids) to join it.
            record(r#"{"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2024-9143"]}"#),
            record(r#"{"id": "CVE-2024-9143", "modified": "2024-10-16T00:00:00Z"}"#),
            // Joined only through the GHSA id: transitive.
            record(r#"{"id": "OSV-TEST-0001", "aliases": ["GHSA-aaaa-bbbb-cccc"]}"#),
            // Related is not alias.
            record(r#"{"id": "GHSA-dddd-eeee-ffff", "related": ["CVE-2024-9143"]}"#),
            npm("GHSA-35jh-r3h4-6jhm"),
            npm("GHSA-4xc9-xhrj-v574"),
            withdrawn(),
        ];
        let groups = fold(&records);
        assert_eq!(
            groups,
            [
                AliasGroup {
                    primary: "GHSA-35jh-r3h4-6jhm".into(),
                    ids: vec!["CVE-2021-23337".into(), "GHSA-35jh-r3h4-6jhm".into()],
                    records: vec![5],
                },
                AliasGroup {
                    primary: "GHSA-4xc9-xhrj-v574".into(),
                    ids: vec!["CVE-2018-16487".into(), "GHSA-4xc9-xhrj-v574".into()],
                    records: vec![6],
                },
                AliasGroup {
                    primary: "GHSA-aaaa-bbbb-cccc".into(),
                    ids: vec![
                        "ALPINE-CVE-2024-9143".into(),
                        "CVE-2024-9143".into(),
                        "GHSA-aaaa-bbbb-cccc".into(),
                        "OSV-TEST-0001".into(),
                    ],
                    records: vec![0, 1, 2, 3],
                },
                AliasGroup {
                    primary: "GHSA-dddd-eeee-ffff".into(),
                    ids: vec!["GHSA-dddd-eeee-ffff".into()],
                    records: vec![4],
                },
            ]
        );
    }

    #[test]
    fn fold_is_deterministic_and_prefers_ecosystem_ids_over_cve() {
        let alpine_and_cve = [record(r#"{"id": "CVE-2024-9143"}"#), openssl_9143()];
        let groups = fold(&alpine_and_cve);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].primary, "ALPINE-CVE-2024-9143");

        let mal = [
            record(r#"{"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["MAL-TEST-7"]}"#),
            record(r#"{"id": "MAL-TEST-7"}"#),
        ];
        assert_eq!(fold(&mal)[0].primary, "MAL-TEST-7");

        // Input order does not change the groups (only the indices).
        let mut records = vec![
            npm("GHSA-35jh-r3h4-6jhm"),
            record(r#"{"id": "CVE-2021-23337"}"#),
            record(r#"{"id": "GHSA-zzzz-zzzz-zzzz", "aliases": ["CVE-2021-23337"]}"#),
        ];
        let forward = fold(&records);
        records.reverse();
        let backward = fold(&records);
        assert_eq!(forward.len(), 1);
        assert_eq!(forward[0].primary, "GHSA-35jh-r3h4-6jhm");
        assert_eq!(
            (&forward[0].primary, &forward[0].ids),
            (&backward[0].primary, &backward[0].ids)
        );

        // Works on borrowed records too; an empty input folds to nothing.
        let borrowed: Vec<&Record> = records.iter().collect();
        assert_eq!(fold(&borrowed), backward);
        assert!(fold::<Record>(&[]).is_empty());
    }

    /// Real golang/vulndb and RustSec records (`testdata/osv/go/`, `crates.io/`).
    #[test]
    fn go_modules_compare_without_their_v_and_the_toolchain_as_stdlib() {
        let text = load("go/GO-2021-0113.json");
        let go = Ecosystem::parse("Go");
        assert_eq!(go, Ecosystem::Go);
        assert_eq!(go.to_string(), "Go");
        let fixed = |v: &str| affected(&text, &go, "golang.org/x/text", v).map(|m| m.map(|m| m.fixed));
        assert_eq!(fixed("v0.3.6"), Ok(Some(vec!["0.3.7".to_string()])));
        assert_eq!(fixed("v0.3.7"), Ok(None));
        assert_eq!(fixed("v0.3.8"), Ok(None));
        // Pseudo-versions are pre-releases of the next patch: before 0.3.7 or after it.
        assert_eq!(
            fixed("v0.3.7-0.20210503000000-abcdefabcdef"),
            Ok(Some(vec!["0.3.7".to_string()]))
        );
        assert_eq!(fixed("v0.3.8-0.20220101000000-abcdefabcdef"), Ok(None));
        assert_eq!(
            fixed("v0.0.0-20170915032832-14c0d48ead0c"),
            Ok(Some(vec!["0.3.7".to_string()]))
        );
        // `+incompatible` is build metadata; another module's record says nothing.
        assert!(affected(&text, &go, "golang.org/x/net", "v0.3.6").unwrap().is_none());
        assert!(matches!(fixed("latest"), Err(MatchError::UnparsableVersion { .. })));

        let host = load("go/GO-2023-1878.json");
        let stdlib = |v: &str| affected(&host, &go, "stdlib", v).map(|m| m.map(|m| m.fixed));
        assert_eq!(stdlib("1.19.8"), Ok(Some(vec!["1.19.11".to_string()])));
        assert_eq!(stdlib("1.19.11"), Ok(None));
        assert_eq!(stdlib("1.20.0-rc.2"), Ok(Some(vec!["1.20.6".to_string()])));
        assert_eq!(stdlib("1.20.6"), Ok(None));
        assert_eq!(stdlib("1.21.0"), Ok(None));
    }

    #[test]
    fn crates_match_in_the_crates_io_ecosystem() {
        let smallvec = load("crates.io/RUSTSEC-2021-0003.json");
        let eco = Ecosystem::parse("crates.io");
        assert_eq!(eco, Ecosystem::CratesIo);
        let fixed = |v: &str| affected(&smallvec, &eco, "smallvec", v).map(|m| m.map(|m| m.fixed));
        assert_eq!(fixed("1.6.0"), Ok(Some(vec!["1.6.1".to_string()])));
        assert_eq!(fixed("0.6.13"), Ok(Some(vec!["0.6.14".to_string()])));
        assert_eq!(fixed("0.6.2"), Ok(None));
        assert_eq!(fixed("1.6.1"), Ok(None));
        assert_eq!(affected(&smallvec, &Ecosystem::Npm, "smallvec", "1.6.0"), Ok(None));
    }
}
