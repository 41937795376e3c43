//! The operating system: `etc/os-release`, and for Alpine `etc/alpine-release` and
//! `etc/apk/repositories`, which tell the branch that OSV's Alpine ecosystem is keyed by.

use serde::Serialize;
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
}

/// Combines what the image says about its OS. Returns the info and any inconsistency found.
pub fn identify(
    os_release: Option<&str>,
    alpine_release: Option<&str>,
    repositories: Option<&str>,
) -> (Option<OsInfo>, Vec<String>) {
    let mut warnings = Vec::new();
    let fields = os_release.map(parse_os_release).unwrap_or_default();
    let alpine_version = alpine_release.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let id = fields
        .get("ID")
        .cloned()
        .or_else(|| alpine_version.as_ref().map(|_| "alpine".to_string()));
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
    (
        Some(OsInfo {
            id,
            version,
            pretty_name: fields.get("PRETTY_NAME").cloned(),
            branch,
        }),
        warnings,
    )
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
                branch: None
            }
        );
        assert_eq!(identify(None, None, None).0, None);
        assert_eq!(alpine_branch("3"), None);
        assert_eq!(alpine_branch("3.18.12").as_deref(), Some("v3.18"));
    }
}
