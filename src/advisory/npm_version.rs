//! npm package version validation and ordering.
//!
//! npm orders versions by SemVer 2.0 precedence (spec item 11): numeric major, minor,
//! patch, then pre-release identifiers, with a pre-release lower than its release
//! (`1.0.0-rc.1 < 1.0.0`). Build metadata (`+build.5`) takes no part in precedence. The
//! `semver` crate's `Ord` does compare build metadata (to be a total order consistent with
//! `Eq`), so this uses [`semver::Version::cmp_precedence`] instead: `1.0.0+a` and `1.0.0+b`
//! are the same release to npm, and to an advisory's `fixed: 1.0.0`.
//!
//! Parsing is strict SemVer, as npm itself requires of a published `package.json`. A
//! version that does not parse yields `None`: the caller must report it, never read it as
//! "not affected".

use std::cmp::Ordering;

use semver::Version;

/// The version, if it is valid SemVer 2.0.
#[must_use]
pub fn parse(v: &str) -> Option<Version> {
    Version::parse(v).ok()
}

/// Whether `v` is a version npm's order can place (strict SemVer 2.0).
#[must_use]
pub fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// npm's ordering of two versions (SemVer precedence, build metadata ignored).
/// Invalid versions: return None.
#[must_use]
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse(a)?.cmp_precedence(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn orders_by_semver_precedence() {
        // The chain from SemVer 2.0 spec item 11.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
        ];
        for pair in chain.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Some(Less), "{} < {}", pair[0], pair[1]);
            assert_eq!(compare(pair[1], pair[0]), Some(Greater), "{} > {}", pair[1], pair[0]);
        }
        // Numeric, not lexical: the classic string-compare bug.
        assert_eq!(compare("4.17.9", "4.17.21"), Some(Less));
        assert_eq!(compare("8.0.0-alpha.4", "8.0.0-alpha.10"), Some(Less));
    }

    #[test]
    fn build_metadata_is_ignored() {
        assert_eq!(compare("1.0.0+build.1", "1.0.0+build.2"), Some(Equal));
        assert_eq!(compare("1.0.0+sha.abc", "1.0.0"), Some(Equal));
        assert_eq!(compare("1.0.0-rc.1+x", "1.0.0"), Some(Less));
    }

    #[test]
    fn invalid_versions_are_reported() {
        for bad in [
            "", "1", "1.2", "v1.2.3", "01.2.3", "1.2.3.4", "latest", "1.2.x", " 1.2.3", "0",
        ] {
            assert!(!is_valid(bad), "{bad:?} should be invalid");
            assert_eq!(compare(bad, "1.0.0"), None, "{bad:?}");
            assert_eq!(compare("1.0.0", bad), None, "{bad:?}");
        }
    }
}
