//! The operating system: `etc/os-release`, and for Alpine `etc/alpine-release` and
//! `etc/apk/repositories`, which tell the branch that OSV's Alpine ecosystem is keyed by;
//! for Debian `etc/debian_version` as a fallback (`12.7` → Debian 12, `trixie/sid` →
//! testing/unstable). Debian and Ubuntu releases map to OSV's `Debian:12` and
//! `Ubuntu:22.04:LTS` (`advisory::osv::Ecosystem::of_os`, which is tested there with these files).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `KEY=value` pairs of an os-release file, quotes removed.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// `alpine`, `debian`, … (`ID` of os-release).
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// For Alpine, the branch OSV keys advisories by: `v3.20`, or `edge`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// For Debian and Ubuntu, the release OSV keys advisories by: `12`, `22.04`. None for
    /// Debian testing/unstable, which has no release number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// `VERSION_CODENAME`: `bookworm`, `jammy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// An Ubuntu long-term-support release (OSV spells its ecosystem `Ubuntu:22.04:LTS`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lts: bool,
    /// Debian testing or unstable (sid): a moving target with no stable release, whose
    /// packages no per-release advisory covers. Always comes with a warning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub testing: bool,
    /// `ID_LIKE`: `debian` for a derivative such as Raspbian, `ubuntu debian` for Mint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
}

/// Combines what the image says about its OS. Returns the info and any inconsistency found.
/// Reads no `etc/debian_version`: see [`identify_with_debian_version`].
pub fn identify(
    os_release: Option<&str>,
    alpine_release: Option<&str>,
    repositories: Option<&str>,
) -> (Option<OsInfo>, Vec<String>) {
    identify_with_debian_version(os_release, alpine_release, repositories, None)
}

/// [`identify`], with `etc/debian_version` too: the fallback for a Debian image without
/// an os-release (or with one that does not say the release), and what tells testing/sid.
pub fn identify_with_debian_version(
    os_release: Option<&str>,
    alpine_release: Option<&str>,
    repositories: Option<&str>,
    debian_version: Option<&str>,
) -> (Option<OsInfo>, Vec<String>) {
    let mut warnings = Vec::new();
    let fields = os_release.map(parse_os_release).unwrap_or_default();
    let alpine_version = alpine_release.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let debian_version = debian_version.map(str::trim).filter(|s| !s.is_empty());
    let id = fields
        .get("ID")
        .cloned()
        .or_else(|| alpine_version.as_ref().map(|_| "alpine".to_string()))
        .or_else(|| debian_version.map(|_| "debian".to_string()));
    let Some(id) = id else { return (None, warnings) };
    let mut version = fields.get("VERSION_ID").cloned();
    let mut branch = None;
    if id == "alpine" {
        if let (Some(a), Some(v)) = (&alpine_version, &version)
            && a != v
        {
            warnings.push(format!(
                "etc/alpine-release says {a} but os-release says VERSION_ID={v}; using {a}"
            ));
        }
        if alpine_version.is_some() {
            version = alpine_version.clone();
        }
        let edge = repositories.is_some_and(|r| {
            r.lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("/edge/"))
        }) || version
            .as_deref()
            .is_some_and(|v| v.contains("_alpha") || v.contains("_git"));
        branch = if edge {
            Some("edge".to_string())
        } else {
            version.as_deref().and_then(alpine_branch)
        };
    }
    let codename = fields
        .get("VERSION_CODENAME")
        .or_else(|| fields.get("UBUNTU_CODENAME"))
        .filter(|c| !c.is_empty())
        .cloned();
    let id_like: Vec<String> = fields
        .get("ID_LIKE")
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let (mut release, mut lts, mut testing) = (None, false, false);
    match id.as_str() {
        "debian" => {
            let from_os_release = version.as_deref().and_then(debian_major);
            let from_file = debian_version.map(parse_debian_version);
            match (&from_os_release, &from_file) {
                (Some(a), Some(DebianVersion::Release(b))) if a != b => warnings.push(format!(
                    "etc/debian_version says Debian {b} but os-release says VERSION_ID={a}; using {a}"
                )),
                _ => {}
            }
            release = from_os_release.clone().or(match &from_file {
                Some(DebianVersion::Release(r)) => Some(r.clone()),
                _ => None,
            });
            if release.is_none() {
                // No number anywhere: testing or unstable (os-release has a codename but
                // no VERSION_ID there, debian_version says `trixie/sid`).
                testing = true;
                let which = match &from_file {
                    Some(DebianVersion::Testing(t)) => t.clone(),
                    _ => codename.clone().unwrap_or_else(|| "testing/sid".into()),
                };
                warnings.push(format!(
                    "Debian testing/unstable ({which}): not a stable release, so no release's \
                     advisories apply and its packages are NOT checked against any"
                ));
            }
        }
        "ubuntu" => {
            release = version.as_deref().and_then(ubuntu_release);
            let says_lts = ["VERSION", "PRETTY_NAME"]
                .iter()
                .any(|k| fields.get(*k).is_some_and(|v| v.contains("LTS")));
            // Without VERSION or PRETTY_NAME, Ubuntu's rule: every YY.04 of an even year.
            let by_rule = release
                .as_deref()
                .is_some_and(|r| r.ends_with(".04") && r[..2].parse::<u8>().is_ok_and(|y| y % 2 == 0));
            lts = release.is_some() && (says_lts || (!fields.contains_key("VERSION") && by_rule));
        }
        _ => {}
    }
    (
        Some(OsInfo {
            id,
            version,
            pretty_name: fields.get("PRETTY_NAME").cloned(),
            branch,
            release,
            codename,
            lts,
            testing,
            id_like,
        }),
        warnings,
    )
}

/// What `etc/debian_version` says.
#[derive(Debug, PartialEq, Eq)]
enum DebianVersion {
    /// `12.7` → `12` (and `8.11` → `8`).
    Release(String),
    /// `trixie/sid`, `sid`: no number.
    Testing(String),
}

fn parse_debian_version(s: &str) -> DebianVersion {
    match debian_major(s) {
        Some(major) => DebianVersion::Release(major),
        None => DebianVersion::Testing(s.to_owned()),
    }
}

/// `12`, `12.7`, `8.11` → the major release; anything else → None.
fn debian_major(v: &str) -> Option<String> {
    let major = v.split('.').next()?;
    let digits = !major.is_empty() && major.len() <= 3 && major.bytes().all(|b| b.is_ascii_digit());
    let rest_ok = v[major.len()..].bytes().all(|b| b.is_ascii_digit() || b == b'.');
    (digits && rest_ok)
        .then(|| major.trim_start_matches('0').to_owned())
        .filter(|m| !m.is_empty())
}

/// `22.04` (os-release's VERSION_ID) → `22.04`; anything not `YY.MM` → None.
fn ubuntu_release(v: &str) -> Option<String> {
    let b = v.as_bytes();
    (b.len() == 5 && b[2] == b'.' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit())).then(|| v.to_owned())
}

/// `3.20.3` → `v3.20`.
pub fn alpine_branch(version: &str) -> Option<String> {
    let mut parts = version.split('.');
    let major = parts
        .next()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    let minor = parts
        .next()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    Some(format!("v{major}.{minor}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_alpine_3_20_release_gives_branch_v3_20() {
        let (os, warnings) = identify(
            Some(include_str!("../../testdata/alpine-3.20.3/etc/os-release")),
            Some(include_str!("../../testdata/alpine-3.20.3/etc/alpine-release")),
            Some(include_str!("../../testdata/alpine-3.20.3/etc/apk/repositories")),
        );
        let os = os.unwrap();
        assert!(warnings.is_empty());
        assert_eq!(os.id, "alpine");
        assert_eq!(os.version.as_deref(), Some("3.20.3"));
        assert_eq!(os.branch.as_deref(), Some("v3.20"));
        assert_eq!(os.pretty_name.as_deref(), Some("Alpine Linux v3.20"));
    }

    #[test]
    fn edge_repositories_mean_edge_and_mismatch_warns() {
        let (os, warnings) = identify(
            Some("ID=alpine\nVERSION_ID=3.21.0\n"),
            Some("3.21.0_alpha20240807\n"),
            Some("https://dl-cdn.alpinelinux.org/alpine/edge/main\n"),
        );
        assert_eq!(os.unwrap().branch.as_deref(), Some("edge"));
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn non_alpine_and_missing() {
        let (os, _) = identify(Some("ID=debian\nVERSION_ID=\"12\"\n"), None, None);
        assert_eq!(
            os.unwrap(),
            OsInfo {
                id: "debian".into(),
                version: Some("12".into()),
                pretty_name: None,
                branch: None,
                release: Some("12".into()),
                codename: None,
                lts: false,
                testing: false,
                id_like: vec![],
            }
        );
        assert_eq!(identify(None, None, None).0, None);
        assert_eq!(alpine_branch("3"), None);
        assert_eq!(alpine_branch("3.18.12").as_deref(), Some("v3.18"));
    }
}
