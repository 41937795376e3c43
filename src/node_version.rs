//! Node.js and npm version strings as node-semver reads them (strict SemVer 2.0, a leading `v`
//! and surrounding whitespace allowed, numbers up to 2^53 − 1), and the partial versions with
//! wildcards its ranges are made of. Below both users: the inventory reads the version a
//! Node.js binary or `NODE_VERSION` names, the advisory matcher evaluates ranges
//! ([`crate::advisory::node_semver`]) over the same parse.

use semver::{BuildMetadata, Prerelease, Version};

/// Longest version string parsed (node-semver's own `MAX_LENGTH`).
pub const MAX_VERSION_LEN: usize = 256;
/// node-semver's numbers are JavaScript numbers: it rejects anything past
/// `Number.MAX_SAFE_INTEGER`.
pub(crate) const MAX_NUMBER: u64 = (1 << 53) - 1;

/// Parses a version as node-semver does (strict SemVer 2.0, surrounding whitespace and a
/// leading `v` allowed: `v20.17.0`; build metadata kept out of the answer, as precedence
/// ignores it).
///
/// # Errors
///
/// Why it is not one, without quoting it.
pub fn parse(s: &str) -> Result<Version, &'static str> {
    if s.len() > MAX_VERSION_LEN {
        return Err("too long");
    }
    let t = s.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    let p = parse_partial(t)?;
    match (p.major, p.minor, p.patch) {
        (Some(major), Some(minor), Some(patch)) => Ok(Version {
            major,
            minor,
            patch,
            pre: p.pre,
            build: BuildMetadata::EMPTY,
        }),
        _ => Err("needs major.minor.patch, without wildcards"),
    }
}

/// A version with wildcards: `None` is `x`, `X`, `*` or a missing part.
#[derive(Debug)]
pub(crate) struct Partial {
    pub major: Option<u64>,
    pub minor: Option<u64>,
    pub patch: Option<u64>,
    pub pre: Prerelease,
    /// `x.1`, `1.x.3`: an x-range comparator refuses it.
    pub number_after_wildcard: bool,
}

impl Partial {
    pub fn is_full(&self) -> bool {
        self.patch.is_some() && self.minor.is_some() && self.major.is_some()
    }

    pub fn full(&self) -> Option<Version> {
        Some(Version {
            major: self.major?,
            minor: self.minor?,
            patch: self.patch?,
            pre: self.pre.clone(),
            build: BuildMetadata::EMPTY,
        })
    }
}

fn parse_number(s: &str) -> Result<Option<u64>, &'static str> {
    match s {
        "x" | "X" | "*" => return Ok(None),
        "" => return Err("has an empty version part"),
        _ => {}
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("has a version part that is not a number");
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err("has a number with a leading zero");
    }
    match s.parse::<u64>() {
        Ok(n) if n <= MAX_NUMBER => Ok(Some(n)),
        _ => Err("has a number too large"),
    }
}

fn valid_identifiers(s: &str, numeric_rule: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(numeric_rule && id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// `M[.m[.p[-pre][+build]]]`, each of M, m, p a number or a wildcard.
pub(crate) fn parse_partial(s: &str) -> Result<Partial, &'static str> {
    let (s, build) = match s.split_once('+') {
        Some((s, build)) => (s, Some(build)),
        None => (s, None),
    };
    if let Some(build) = build
        && !valid_identifiers(build, false)
    {
        return Err("has invalid build metadata");
    }
    // The prerelease starts at the first `-` after the third number.
    let mut parts = s.splitn(3, '.');
    let major = parts.next().unwrap_or_default();
    let minor = parts.next();
    let rest = parts.next();
    let (patch, pre) = match rest {
        Some(r) => match r.split_once('-') {
            Some((p, pre)) => (Some(p), Some(pre)),
            None => (Some(r), None),
        },
        None => (None, None),
    };
    if build.is_some() && patch.is_none() {
        return Err("has build metadata on a partial version");
    }
    let major = parse_number(major)?;
    let minor = minor.map(parse_number).transpose()?.flatten();
    let patch = patch.map(parse_number).transpose()?.flatten();
    let pre = match pre {
        None => Prerelease::EMPTY,
        Some(pre) if valid_identifiers(pre, true) => Prerelease::new(pre).map_err(|_| "has an invalid prerelease")?,
        Some(_) => return Err("has an invalid prerelease"),
    };
    // A number after a wildcard (`x.1`, `1.x.3`): not an x-range; `~` and `^` and hyphen ends
    // read such a version up to its first wildcard, as node-semver does.
    let raw: Vec<&str> = s.splitn(3, '.').collect();
    let raw_minor = raw.get(1).copied();
    let raw_patch = raw.get(2).map(|p| p.split_once('-').map_or(*p, |(p, _)| p));
    let x_then_number =
        |a: Option<u64>, b: Option<&str>| a.is_none() && b.is_some_and(|b| !matches!(b, "x" | "X" | "*"));
    let number_after_wildcard = x_then_number(major, raw_minor) || x_then_number(minor, raw_patch);
    // Up to the first wildcard: `*.1.2` is `*`, `1.x.3` is `1.x`.
    let (minor, patch) = match (major, minor) {
        (None, _) => (None, None),
        (_, None) => (None, None),
        _ => (minor, patch),
    };
    Ok(Partial {
        major,
        minor,
        patch,
        pre,
        number_after_wildcard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_release_versions_as_node_semver_does() {
        assert_eq!(parse(" v20.17.0 ").unwrap(), Version::new(20, 17, 0));
        assert_eq!(parse("22.0.0-rc.1").unwrap().pre.as_str(), "rc.1");
        assert_eq!(parse("20.17.0+build.1").unwrap(), Version::new(20, 17, 0));
        for bad in ["20.x.0", "20.17", "020.1.0", "9007199254740992.0.0", "", "v"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
