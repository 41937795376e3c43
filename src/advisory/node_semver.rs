//! node-semver range semantics: what `semver.satisfies(version, range)` answers in npm's
//! `semver` package (default options: not loose, prereleases excluded), over SemVer versions.
//!
//! The Node.js security working group writes which Node.js releases an advisory affects and
//! which fix it as node-semver ranges (`"vulnerable": "20.x || 22.x"`, `"patched": "^20.20.2 ||
//! ^22.22.2"`), so this is the order those records are evaluated in.
//!
//! Grammar (node-semver's README, "Ranges"):
//! - a range is comparator sets joined by `||`; a version satisfies the range when it satisfies
//!   every comparator of one set; an empty set is `*`;
//! - comparators: `<`, `<=`, `>`, `>=`, `=` or none (equality) before a version, spaces allowed
//!   after the operator (`>= 1.2.3`), a leading `v` allowed (`v1.2.3`);
//! - x-ranges: `*`, `x`, `X` or a missing part: `1.2.x` is `>=1.2.0 <1.3.0-0`, `20` is `20.x`;
//!   with an operator, `>1.2` is `>=1.3.0`, `<=1.2` is `<1.3.0-0`, `>*`/`<*` match nothing;
//! - tilde `~1.2.3` (`>=1.2.3 <1.3.0-0`), `~1` (`>=1.0.0 <2.0.0-0`), `~>` is the same;
//! - caret: `^1.2.3` is `>=1.2.3 <2.0.0-0`, but `^0.2.3` is `>=0.2.3 <0.3.0-0`, `^0.0.3` is
//!   `>=0.0.3 <0.0.4-0`, `^0.x` is `>=0.0.0 <1.0.0-0`, `^0.0` is `>=0.0.0 <0.1.0-0`;
//! - hyphen ranges `1.2.3 - 2.3.4` (`>=1.2.3 <=2.3.4`); a partial lower end fills zeros
//!   (`1.2 - 2.3.4` is `>=1.2.0 <=2.3.4`), a partial upper end takes the whole line
//!   (`1.2.3 - 2.3` is `>=1.2.3 <2.4.0-0`);
//! - build metadata (`+build`) is ignored, in ranges and in versions;
//! - prereleases: a version with a prerelease tag (`20.0.0-rc.1`) satisfies a set only if it
//!   satisfies every comparator AND some comparator of the set has a prerelease on the same
//!   `major.minor.patch` (`>=1.2.3-alpha <1.3.0` admits `1.2.3-beta`, never `1.2.4-beta`); a set
//!   that is just `*` never admits a prerelease.
//!
//! node-semver's quirks are kept where they change an answer: when one `||` alternative is `*`
//! the whole range is `*`; `>=0.0.0` is read as `*`; an operator standing alone joins the next
//! word (`< =1.2.3` is `<=1.2.3`); `~`, `^` and hyphen ends read a version up to its first
//! wildcard (`~*.1.1` is `*`) while a plain comparator refuses a number after a wildcard
//! (`1.x.3`); alternatives that match nothing (`<*`) are dropped from a longer range.
//!
//! What is not a range (garbage, `1.x.3`, leading zeros, numbers past 2^53 − 1) is a
//! [`RangeError`], never a range that matches nothing: a caller must not read "cannot parse"
//! as "not affected". The tests check every answer against the real `semver` package: see
//! `testdata/node-semver/vectors.json` (the advisories' ranges and the grammar, against 725
//! versions), `random.json` (3,000 random strings) and their generator
//! `scripts/node-semver/vectors.cjs`.

use std::cmp::Ordering;
use std::fmt;

use semver::{BuildMetadata, Prerelease, Version};

/// Longest range string parsed. The Node.js security WG's longest is under 80 bytes; the cap
/// bounds the work on hostile input (a range is parsed in time linear in its length).
pub const MAX_RANGE_LEN: usize = 1024;
pub use crate::node_version::MAX_VERSION_LEN;
use crate::node_version::{MAX_NUMBER, Partial, parse_partial};

/// Why a string is not a node-semver range or version. Messages say where and why, without
/// quoting the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("{len} bytes is too long for a version range (at most {max})")]
    TooLong { len: usize, max: usize },
    #[error("not a version range: alternative {alternative} (counting from 1) {reason}")]
    Invalid { alternative: usize, reason: &'static str },
    #[error("not a SemVer version: {reason}")]
    Version { reason: &'static str },
}

/// A comparison operator of a desugared comparator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "",
        }
    }
}

/// One primitive comparator, after the sugar (x-ranges, `~`, `^`, hyphens) is expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparator {
    /// Matches every version (what `*` becomes).
    Any,
    Cmp(Op, Version),
}

impl Comparator {
    fn test(&self, v: &Version) -> bool {
        match self {
            Self::Any => true,
            Self::Cmp(op, bound) => {
                let o = v.cmp_precedence(bound);
                match op {
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                    Op::Eq => o == Ordering::Equal,
                }
            }
        }
    }

    fn version(&self) -> Option<&Version> {
        match self {
            Self::Any => None,
            Self::Cmp(_, v) => Some(v),
        }
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Cmp(op, v) => write!(f, "{}{v}", op.as_str()),
        }
    }
}

/// A parsed range: comparator sets, any one of which must be satisfied entirely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    sets: Vec<Vec<Comparator>>,
}

impl fmt::Display for Range {
    /// The desugared form (`20.x` shows as `>=20.0.0 <21.0.0-0`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, set) in self.sets.iter().enumerate() {
            if i > 0 {
                f.write_str(" || ")?;
            }
            for (k, c) in set.iter().enumerate() {
                if k > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Range {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Range {
    /// Parses a node-semver range.
    ///
    /// # Errors
    ///
    /// [`RangeError`] when `s` is longer than [`MAX_RANGE_LEN`] or is not a range.
    pub fn parse(s: &str) -> Result<Self, RangeError> {
        if s.len() > MAX_RANGE_LEN {
            return Err(RangeError::TooLong {
                len: s.len(),
                max: MAX_RANGE_LEN,
            });
        }
        let mut sets = Vec::new();
        for (i, part) in s.split("||").enumerate() {
            let set = parse_set(part).map_err(|reason| RangeError::Invalid {
                alternative: i + 1,
                reason,
            })?;
            sets.push(set);
        }
        // node-semver: with several alternatives, null sets are dropped (unless all are), and
        // one that is just `*` makes the range `*`.
        if sets.len() > 1 {
            let first = sets[0].clone();
            sets.retain(|s| !matches!(s.as_slice(), [c] if is_null_set(c)));
            if sets.is_empty() {
                sets.push(first);
            }
        }
        if sets.len() > 1
            && let Some(any) = sets.iter().position(|s| matches!(s.as_slice(), [Comparator::Any]))
        {
            let keep = sets.swap_remove(any);
            sets = vec![keep];
        }
        Ok(Self { sets })
    }

    /// The comparator sets (each already desugared).
    #[must_use]
    pub fn sets(&self) -> &[Vec<Comparator>] {
        &self.sets
    }

    /// Whether `version` satisfies the range, as `semver.satisfies` decides it.
    #[must_use]
    pub fn satisfies(&self, version: &Version) -> bool {
        self.sets.iter().any(|set| test_set(set, version))
    }

    /// The lowest version that satisfies the range (node-semver's `minVersion`), if any.
    #[must_use]
    pub fn min_version(&self) -> Option<Version> {
        for floor in [Version::new(0, 0, 0), version(0, 0, 0, "0")] {
            if self.satisfies(&floor) {
                return Some(floor);
            }
        }
        self.sets
            .iter()
            .filter_map(|set| set_lower_bound(set))
            .min_by(Version::cmp_precedence)
            .filter(|v| self.satisfies(v))
    }

    /// The lowest version of each comparator set that satisfies it, ascending, without
    /// duplicates: for a `patched` range such as `^18.20.2 || ^20.12.2`, the first fixed
    /// release of each line (`18.20.2`, `20.12.2`).
    #[must_use]
    pub fn set_minimums(&self) -> Vec<Version> {
        let mut mins: Vec<Version> = self
            .sets
            .iter()
            .filter_map(|set| {
                let floor = [Version::new(0, 0, 0), version(0, 0, 0, "0")]
                    .into_iter()
                    .find(|f| test_set(set, f));
                floor.or_else(|| set_lower_bound(set).filter(|v| test_set(set, v)))
            })
            .collect();
        mins.sort_by(Version::cmp_precedence);
        mins.dedup_by(|a, b| a.cmp_precedence(b) == Ordering::Equal);
        mins
    }
}

/// Parses `s` and tells whether `version` satisfies it.
///
/// # Errors
///
/// [`RangeError`] when `s` is not a range.
pub fn satisfies(version: &Version, s: &str) -> Result<bool, RangeError> {
    Ok(Range::parse(s)?.satisfies(version))
}

/// Parses a version as node-semver does (strict SemVer 2.0, surrounding whitespace and a
/// leading `v` allowed: `v20.17.0`; build metadata kept out of the answer, as precedence
/// ignores it).
///
/// # Errors
///
/// [`RangeError::Version`] when it is not one.
pub fn parse_version(s: &str) -> Result<Version, RangeError> {
    crate::node_version::parse(s).map_err(|reason| RangeError::Version { reason })
}

fn version(major: u64, minor: u64, patch: u64, pre: &str) -> Version {
    Version {
        major,
        minor,
        patch,
        pre: Prerelease::new(pre).unwrap_or(Prerelease::EMPTY),
        build: BuildMetadata::EMPTY,
    }
}

/// `-0`, the lowest prerelease: `<2.0.0-0` excludes every 2.0.0 prerelease too.
fn zero_pre() -> Prerelease {
    Prerelease::new("0").unwrap_or(Prerelease::EMPTY)
}

/// `<0.0.0-0`: matches nothing.
fn is_null_set(c: &Comparator) -> bool {
    matches!(c, Comparator::Cmp(Op::Lt, v) if *v == version(0, 0, 0, "0"))
}

fn test_set(set: &[Comparator], v: &Version) -> bool {
    if !set.iter().all(|c| c.test(v)) {
        return false;
    }
    if v.pre.is_empty() {
        return true;
    }
    // A prerelease passes only through a comparator that names a prerelease of the same
    // major.minor.patch.
    set.iter()
        .filter_map(Comparator::version)
        .any(|c| !c.pre.is_empty() && (c.major, c.minor, c.patch) == (v.major, v.minor, v.patch))
}

/// The greatest lower bound of a set (node-semver's `minVersion` for one set), unchecked.
fn set_lower_bound(set: &[Comparator]) -> Option<Version> {
    let mut best: Option<Version> = None;
    for c in set {
        let Comparator::Cmp(op, v) = c else { continue };
        let candidate = match op {
            Op::Gt => {
                let mut v = v.clone();
                if v.pre.is_empty() {
                    v.patch = v.patch.checked_add(1)?;
                } else {
                    v.pre = Prerelease::new(&format!("{}.0", v.pre)).ok()?;
                }
                v
            }
            Op::Ge | Op::Eq => v.clone(),
            Op::Lt | Op::Le => continue,
        };
        if best
            .as_ref()
            .is_none_or(|b| candidate.cmp_precedence(b) == Ordering::Greater)
        {
            best = Some(candidate);
        }
    }
    best
}
/// Splits off the operator of one comparator token.
fn split_op(token: &str) -> (&str, &str) {
    for op in ["~>", "~", "^", ">=", "<=", ">", "<", "="] {
        if let Some(rest) = token.strip_prefix(op) {
            return (op, rest);
        }
    }
    ("", token)
}

/// Strips the `v` / `=` noise node-semver allows before a version (`v1.2.3`, `=v1.2.3`).
/// For a full version after a plain comparator only one `v` is allowed, as in node-semver.
fn strip_noise(rest: &str) -> (&str, &str) {
    let body = rest.trim_start_matches(['v', '=']);
    (&rest[..rest.len() - body.len()], body)
}

/// Removes build metadata (`+build.5`) wherever it is, as node-semver does before parsing a
/// set: `+` and dot-separated identifiers. A `+` with no identifier after it stays (and fails).
fn strip_build(part: &str) -> String {
    let id = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    let bytes = part.as_bytes();
    let mut out = String::with_capacity(part.len());
    let mut i = 0;
    let mut kept = 0;
    while i < bytes.len() {
        if bytes[i] == b'+' && bytes.get(i + 1).copied().is_some_and(id) {
            out.push_str(&part[kept..i]);
            let mut j = i + 1;
            loop {
                while bytes.get(j).copied().is_some_and(id) {
                    j += 1;
                }
                if bytes.get(j) == Some(&b'.') && bytes.get(j + 1).copied().is_some_and(id) {
                    j += 1;
                } else {
                    break;
                }
            }
            i = j;
            kept = j;
        } else {
            i += 1;
        }
    }
    out.push_str(&part[kept..]);
    out
}

fn parse_set(part: &str) -> Result<Vec<Comparator>, &'static str> {
    let part = strip_build(part);
    let tokens: Vec<&str> = part.split_whitespace().collect();
    let mut out = Vec::new();
    if let [from, "-", to] = tokens.as_slice() {
        hyphen(from, to, &mut out)?;
    } else {
        // `>= 1.2.3`, `~ 1.2`, `^ 1`: an operator alone joins the next token, as node-semver
        // joins them (so `< =1.2.3`, `=` being allowed noise before a version, is `<=1.2.3`).
        let mut i = 0;
        while i < tokens.len() {
            let token = tokens[i];
            let (op, rest) = split_op(token);
            if rest.is_empty() && !op.is_empty() {
                let Some(next) = tokens.get(i + 1) else {
                    return Err("ends with an operator and no version");
                };
                if !next.starts_with(|c: char| c.is_ascii_digit() || matches!(c, 'v' | '=' | 'x' | 'X' | '*')) {
                    return Err("has an operator without a version");
                }
                let joined = format!("{op}{next}");
                let (op, rest) = split_op(&joined);
                comparator(op, rest, &mut out)?;
                i += 2;
            } else {
                comparator(op, rest, &mut out)?;
                i += 1;
            }
        }
    }
    if out.is_empty() {
        out.push(Comparator::Any);
    }
    // `>=0.0.0` is `*`, wherever it came from (`>=0`, `^0.x`, `0.x - 1`), as node-semver
    // rewrites it: it then no longer keeps `0.0.0-alpha` out of `<=0.0.0-beta`.
    for c in &mut out {
        if matches!(c, Comparator::Cmp(Op::Ge, v) if *v == Version::new(0, 0, 0)) {
            *c = Comparator::Any;
        }
    }
    // A set with the null set (`<0.0.0-0`, what `<*` and `>*` become) is just the null set.
    if let Some(null) = out.iter().find(|c| is_null_set(c)).cloned() {
        return Ok(vec![null]);
    }
    if out.len() > 1 {
        out.retain(|c| *c != Comparator::Any);
        if out.is_empty() {
            out.push(Comparator::Any);
        }
    }
    out.dedup();
    Ok(out)
}

fn bump_major(m: u64) -> Result<u64, &'static str> {
    m.checked_add(1)
        .filter(|&n| n <= MAX_NUMBER)
        .ok_or("has a number too large")
}

/// `<M.m.p-0`.
fn below(major: u64, minor: u64, patch: u64) -> Comparator {
    Comparator::Cmp(
        Op::Lt,
        Version {
            major,
            minor,
            patch,
            pre: zero_pre(),
            build: BuildMetadata::EMPTY,
        },
    )
}

fn at_least(major: u64, minor: u64, patch: u64) -> Comparator {
    Comparator::Cmp(Op::Ge, Version::new(major, minor, patch))
}

/// The version after an operator. `raw`: node-semver keeps this version's text as written
/// (a plain comparator, a hyphen end without a prerelease), so only one `v` may precede it;
/// elsewhere it rebuilds the version from its numbers and any `v`/`=` noise is fine.
fn parse_body(rest: &str, raw: Raw) -> Result<Partial, &'static str> {
    let (noise, body) = strip_noise(rest);
    let p = parse_partial(body)?;
    let kept = match raw {
        Raw::Always => true,
        Raw::UnlessPrerelease => p.pre.is_empty(),
        Raw::Never => false,
    };
    if kept && p.is_full() && !matches!(noise, "" | "v") {
        return Err("has a version with a malformed prefix");
    }
    Ok(p)
}

#[derive(Clone, Copy)]
enum Raw {
    Always,
    UnlessPrerelease,
    Never,
}

fn comparator(op: &str, rest: &str, out: &mut Vec<Comparator>) -> Result<(), &'static str> {
    if rest.is_empty() {
        return Err("has an operator without a version");
    }
    match op {
        "~" | "~>" => tilde(&parse_body(rest, Raw::Never)?, out),
        "^" => caret(&parse_body(rest, Raw::Never)?, out),
        _ => xrange(op, &parse_body(rest, Raw::Always)?, out),
    }
}

fn tilde(p: &Partial, out: &mut Vec<Comparator>) -> Result<(), &'static str> {
    let Some(major) = p.major else {
        out.push(Comparator::Any);
        return Ok(());
    };
    let Some(minor) = p.minor else {
        out.extend([at_least(major, 0, 0), below(bump_major(major)?, 0, 0)]);
        return Ok(());
    };
    let upper = below(major, bump_major(minor)?, 0);
    match p.full() {
        None => out.push(at_least(major, minor, 0)),
        Some(v) => out.push(Comparator::Cmp(Op::Ge, v)),
    }
    out.push(upper);
    Ok(())
}

fn caret(p: &Partial, out: &mut Vec<Comparator>) -> Result<(), &'static str> {
    let Some(major) = p.major else {
        out.push(Comparator::Any);
        return Ok(());
    };
    let Some(minor) = p.minor else {
        out.extend([at_least(major, 0, 0), below(bump_major(major)?, 0, 0)]);
        return Ok(());
    };
    let Some(full) = p.full() else {
        let upper = if major == 0 {
            below(0, bump_major(minor)?, 0)
        } else {
            below(bump_major(major)?, 0, 0)
        };
        out.extend([at_least(major, minor, 0), upper]);
        return Ok(());
    };
    let upper = match (major, minor) {
        (0, 0) => below(0, 0, bump_major(full.patch)?),
        (0, _) => below(0, bump_major(minor)?, 0),
        _ => below(bump_major(major)?, 0, 0),
    };
    out.extend([Comparator::Cmp(Op::Ge, full), upper]);
    Ok(())
}

fn xrange(op: &str, p: &Partial, out: &mut Vec<Comparator>) -> Result<(), &'static str> {
    if p.number_after_wildcard {
        return Err("has a number after a wildcard");
    }
    let op = match op {
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        _ => Op::Eq,
    };
    if let Some(v) = p.full() {
        out.push(Comparator::Cmp(op, v));
        return Ok(());
    }
    let Some(major) = p.major else {
        // `>*` and `<*` admit nothing; every other operator with `*` admits everything.
        out.push(if matches!(op, Op::Gt | Op::Lt) {
            below(0, 0, 0)
        } else {
            Comparator::Any
        });
        return Ok(());
    };
    let (minor, minor_x) = match p.minor {
        Some(m) => (m, false),
        None => (0, true),
    };
    match op {
        Op::Eq => {
            if minor_x {
                out.extend([at_least(major, 0, 0), below(bump_major(major)?, 0, 0)]);
            } else {
                out.extend([at_least(major, minor, 0), below(major, bump_major(minor)?, 0)]);
            }
        }
        Op::Gt if minor_x => out.push(at_least(bump_major(major)?, 0, 0)),
        Op::Gt => out.push(at_least(major, bump_major(minor)?, 0)),
        Op::Le if minor_x => out.push(below(bump_major(major)?, 0, 0)),
        Op::Le => out.push(below(major, bump_major(minor)?, 0)),
        Op::Lt => out.push(below(major, minor, 0)),
        Op::Ge => out.push(at_least(major, minor, 0)),
    }
    Ok(())
}

fn hyphen(from: &str, to: &str, out: &mut Vec<Comparator>) -> Result<(), &'static str> {
    let lo = parse_body(from, Raw::Always)?;
    let hi = parse_body(to, Raw::UnlessPrerelease)?;
    match (lo.major, lo.minor, lo.full()) {
        (None, _, _) => {}
        (Some(m), None, _) => out.push(at_least(m, 0, 0)),
        (Some(m), Some(n), None) => out.push(at_least(m, n, 0)),
        (_, _, Some(v)) => out.push(Comparator::Cmp(Op::Ge, v)),
    }
    match (hi.major, hi.minor, hi.full()) {
        (None, _, _) => {}
        (Some(m), None, _) => out.push(below(bump_major(m)?, 0, 0)),
        (Some(m), Some(n), None) => out.push(below(m, bump_major(n)?, 0)),
        (_, _, Some(v)) => out.push(Comparator::Cmp(Op::Le, v)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        semver: String,
        versions: Vec<String>,
        ranges: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        range: String,
        valid: bool,
        #[serde(default)]
        satisfied_by: Vec<String>,
        #[serde(default)]
        min_version: Option<String>,
    }

    fn vectors(file: &str) -> Vectors {
        let path = format!("{}/testdata/node-semver/{file}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_slice(&bytes).unwrap()
    }

    fn v(s: &str) -> Version {
        parse_version(s).unwrap()
    }

    fn sat(range: &str, version: &str) -> bool {
        satisfies(&v(version), range).unwrap()
    }

    /// Every (range, version) pair of a vectors file: validity, `satisfies`, `minVersion`.
    /// Returns the number of pairs compared.
    fn check_against(vectors: &Vectors) -> usize {
        assert!(vectors.semver.starts_with("7."), "generated with node-semver 7");
        let versions: Vec<(String, Version)> = vectors.versions.iter().map(|s| (s.clone(), v(s))).collect();
        let mut pairs = 0;
        let mut wrong = Vec::new();
        for vector in &vectors.ranges {
            let parsed = Range::parse(&vector.range);
            if parsed.is_ok() != vector.valid {
                wrong.push(format!(
                    "{:?}: valid is {}, parsed {parsed:?}",
                    vector.range, vector.valid
                ));
                continue;
            }
            let Ok(range) = parsed else { continue };
            for (s, version) in &versions {
                pairs += 1;
                let expected = vector.satisfied_by.contains(s);
                if range.satisfies(version) != expected {
                    wrong.push(format!(
                        "{:?} ({range}) vs {s}: node-semver says {expected}",
                        vector.range
                    ));
                }
            }
            let min = range.min_version().map(|m| m.to_string());
            if min != vector.min_version {
                wrong.push(format!(
                    "{:?}: min {min:?}, node-semver {:?}",
                    vector.range, vector.min_version
                ));
            }
        }
        assert!(wrong.is_empty(), "{} disagreements:\n{}", wrong.len(), wrong.join("\n"));
        pairs
    }

    #[test]
    fn agrees_with_node_semver_on_every_vector() {
        let vectors = vectors("vectors.json");
        assert!(vectors.versions.len() > 700, "{} versions", vectors.versions.len());
        let pairs = check_against(&vectors);
        assert!(pairs > 100_000, "{pairs} pairs");
    }

    #[test]
    fn agrees_with_node_semver_on_random_ranges() {
        let vectors = vectors("random.json");
        assert_eq!(vectors.ranges.len(), 3000);
        let valid = vectors.ranges.iter().filter(|r| r.valid).count();
        assert!(valid > 500 && valid < 2500, "both kinds: {valid} valid");
        check_against(&vectors);
    }

    #[test]
    fn the_advisory_forms() {
        assert!(sat("20.x || 22.x", "20.17.0"));
        assert!(sat("20.x || 22.x", "22.0.0"));
        assert!(!sat("20.x || 22.x", "21.7.3"));
        assert!(!sat("20.x || 22.x", "24.0.0"));
        assert!(sat("^20.20.2 || ^22.22.2", "20.20.2"));
        assert!(!sat("^20.20.2 || ^22.22.2", "20.20.1"));
        assert!(sat("^20.20.2 || ^22.22.2", "22.22.3"));
        assert!(!sat("^20.20.2 || ^22.22.2", "22.21.9"));
        assert!(sat("^20.20.2 || ^22.22.2", "20.99.0"), "caret: whole major line");
        assert!(!sat("^20.20.2 || ^22.22.2", "21.0.0"));
        assert!(sat("<= 10", "10.24.1"), "`<= 10` is `<11.0.0-0`");
        assert!(!sat("<= 10", "11.0.0"));
        assert!(sat(">=6.0.0 <6.2.0 || 5.x || 4.x", "6.1.9"));
        assert!(!sat(">=6.0.0 <6.2.0 || 5.x || 4.x", "6.2.0"));
        assert!(sat("4.x || 6.x  || 8.x || 9.x", "9.0.0"), "double space");
        assert!(sat(" ^12.22.2", "12.22.2"), "leading space");
        assert!(sat("9.7.x || 10.x", "9.7.5"));
        assert!(!sat("9.7.x || 10.x", "9.8.0"));
        assert!(sat("8.5.0", "8.5.0"));
        assert!(!sat("8.5.0", "8.5.1"));
    }

    #[test]
    fn caret_and_tilde_on_zero_majors() {
        assert!(sat("^0.10.48", "0.10.99") && !sat("^0.10.48", "0.11.0"));
        assert!(sat("^0.0.3", "0.0.3") && !sat("^0.0.3", "0.0.4"));
        assert!(sat("^0.x", "0.99.0") && !sat("^0.x", "1.0.0"));
        assert!(sat("^0.0", "0.0.9") && !sat("^0.0", "0.1.0"));
        assert!(sat("~0.2", "0.2.9") && !sat("~0.2", "0.3.0"));
        assert!(sat("~1", "1.9.0") && !sat("~1", "2.0.0"));
    }

    #[test]
    fn prereleases_are_excluded_unless_named() {
        assert!(!sat("20.x", "20.0.0-rc.1"));
        assert!(!sat("*", "20.0.0-rc.1"));
        assert!(!sat(">=19.0.0", "20.0.0-rc.1"));
        assert!(sat(">=20.0.0-rc.0", "20.0.0-rc.1"), "same major.minor.patch");
        assert!(!sat(">=20.0.0-rc.0", "20.0.1-rc.1"), "other patch");
        assert!(sat(">=20.0.0-rc.0", "20.0.1"));
        assert!(
            !sat("<21.0.0", "21.0.0-pre"),
            "`<21.0.0` admits no 21 prerelease by the rule"
        );
        assert!(
            !sat("* || 1.2.3-alpha", "1.2.3-alpha"),
            "`*` alternative swallows the range"
        );
        assert!(sat("1.2.3 || 1.2.3-alpha", "1.2.3-alpha"));
        assert!(sat("1.2.3", "1.2.3+build.7"), "build ignored");
    }

    #[test]
    fn garbage_is_a_typed_error() {
        for bad in [
            "blerg", "1.2.3.4", "01.2.3", ">=", "1.x.3", "x.1", "1.2.3-01", ">>1", "1.2.3 -", "~", "^",
        ] {
            let err = Range::parse(bad).unwrap_err();
            assert!(matches!(err, RangeError::Invalid { .. }), "{bad:?}: {err:?}");
            assert!(
                !err.to_string().contains(bad),
                "message does not quote the input: {err}"
            );
        }
        let long = "1.x || ".repeat(200);
        assert!(matches!(Range::parse(&long), Err(RangeError::TooLong { .. })));
        assert_eq!(
            Range::parse("20.x || blerg").unwrap_err(),
            RangeError::Invalid {
                alternative: 2,
                reason: "has a version part that is not a number"
            }
        );
        for bad in [
            "",
            "1.2",
            "20.x",
            "v",
            "1.2.3-",
            "9007199254740992.0.0",
            &"1".repeat(300),
        ] {
            assert!(parse_version(bad).is_err(), "{bad:?}");
        }
        assert_eq!(v(" v20.17.0 "), Version::new(20, 17, 0));
        assert!(
            parse_version("=20.17.0").is_err(),
            "node-semver's strict SemVer refuses `=`"
        );
    }

    #[test]
    fn hostile_input_never_panics() {
        // Every prefix of a busy range, and bytes spliced into it: an answer or an error.
        let seed = "~>v1.2.3-alpha.1+b || ^0.0.x - 2 >=*.x <=9007199254740991.9007199254740991 ||";
        for cut in 0..=seed.len() {
            let _ = Range::parse(&seed[..cut]);
        }
        for i in 0..seed.len() {
            for c in ["-", ".", "x", "|", " ", "+", "0", "99999999999999999999", "é"] {
                let s = format!("{}{c}{}", &seed[..i], &seed[i..]);
                if let Ok(r) = Range::parse(&s) {
                    let _ = r.satisfies(&Version::new(1, 2, 3));
                    let _ = r.min_version();
                    let _ = r.set_minimums();
                }
            }
        }
    }

    #[test]
    fn set_minimums_are_the_first_fixed_release_per_line() {
        let r = Range::parse("^18.20.2 || ^20.12.2 || ^21.7.3").unwrap();
        assert_eq!(
            r.set_minimums(),
            [Version::new(18, 20, 2), Version::new(20, 12, 2), Version::new(21, 7, 3)]
        );
        let r = Range::parse("^6.14.4 || ^8.11.4 || >= 10.9.0").unwrap();
        assert_eq!(r.set_minimums()[2], Version::new(10, 9, 0));
        let r = Range::parse("^4.8.2 || ^6.10.2  || 8.x").unwrap();
        assert_eq!(r.set_minimums()[2], Version::new(8, 0, 0));
        assert_eq!(Range::parse(">1.2.3").unwrap().set_minimums(), [Version::new(1, 2, 4)]);
        assert!(Range::parse("<0.0.0-0").unwrap().set_minimums().is_empty());
    }
}
