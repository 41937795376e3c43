//! The upgrade that clears the failing findings: per package, the smallest version change.
//!
//! For each failing advisory finding, the fixed version it needs: among the advisory's fixed
//! versions above the installed one (the matcher lists those of the ranges the installed
//! version is in), for npm the lowest on the installed major where one exists, else the
//! lowest; for apk and dpkg the lowest (the records are the image's branch's, `Alpine:v3.20`,
//! `Debian:12`). Per package, the highest of those clears them all. For npm, where it is
//! installed says whether the app depends on it at the top of `node_modules` or through a
//! parent (`a/node_modules/b`: transitive, through `a`). A finding in the base image's layers
//! is cleared by rebuilding on a newer base, not by the app.

use super::base::{BaseImage, Part};
use super::finding::{Finding, Level};
use crate::advisory::{apk_version, dpkg_version, npm_version};
use crate::inventory::{Inventory, PackageKind, npm};
use serde::Serialize;
use std::cmp::Ordering;

#[derive(Clone, Debug, Serialize)]
pub struct Upgrade {
    /// `npm:next@13.4.0`.
    pub package: String,
    pub name: String,
    pub from: String,
    /// The version that clears every listed finding; `None` when one has no fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub part: Part,
    /// The advisories it clears.
    pub fixes: Vec<String>,
    /// npm: `top-level …` or `transitive, via PARENT` for each install path; for the base's
    /// entry (`package` is `base`), the packages it holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependency: Vec<String>,
    /// The one line reports print.
    pub line: String,
}

fn compare(kind: PackageKind, a: &str, b: &str) -> Option<Ordering> {
    match kind {
        // Node.js releases are SemVer too.
        PackageKind::Npm | PackageKind::NodeRuntime | PackageKind::Cargo => npm_version::compare(a, b),
        // Go module versions carry a `v` that OSV's fixed versions do not.
        PackageKind::Go => npm_version::compare(a.trim_start_matches('v'), b.trim_start_matches('v')),
        PackageKind::Apk => apk_version::compare(a, b),
        PackageKind::Deb => dpkg_version::compare(a, b),
    }
}

/// The smallest fixed version above `installed` (npm: on its major where one exists).
pub fn smallest_fix(kind: PackageKind, installed: &str, fixed: &[String]) -> Option<String> {
    let mut above: Vec<&String> = fixed
        .iter()
        .filter(|f| compare(kind, f, installed) == Some(Ordering::Greater))
        .collect();
    above.sort_by(|a, b| compare(kind, a, b).unwrap_or(Ordering::Equal));
    if matches!(kind, PackageKind::Npm | PackageKind::NodeRuntime)
        && let Some(major) = npm_version::parse(installed).map(|v| v.major)
        && let Some(same) = above
            .iter()
            .find(|f| npm_version::parse(f).is_some_and(|v| v.major == major))
    {
        return Some((*same).clone());
    }
    above.first().map(|f| (*f).clone())
}

/// Where an npm package sits: `app/node_modules/a/node_modules/b` is transitive, through `a`;
/// at the top of a project's `node_modules`, a direct dependency where the project's
/// `package.json` names it, else hoisted there by npm through the packages that depend on it.
fn dependency_of(path: &str, inventory: &Inventory) -> String {
    if let Some((root, name)) = top_level(path)
        && let Some(project) = inventory.npm_projects.iter().find(|p| p.root == root)
    {
        let manifest = npm::join(root, "package.json");
        if project.dependencies.contains(name) {
            return format!("a direct dependency of {manifest}");
        }
        if project.dev_dependencies.contains(name) {
            return format!("a direct dev dependency of {manifest}");
        }
        let modules = npm::join(root, "node_modules/");
        let mut parents: Vec<&str> = inventory
            .npm
            .iter()
            .filter(|p| p.dependencies.iter().any(|d| d == name))
            .filter(|p| p.paths.iter().any(|path| path.starts_with(&modules)))
            .map(|p| p.name.as_str())
            .collect();
        parents.sort_unstable();
        parents.dedup();
        return match parents.as_slice() {
            [] => format!("transitive (hoisted; not named by {manifest})"),
            [one] => format!("transitive (hoisted), via {one}"),
            [first, rest @ ..] => format!("transitive (hoisted), via {first} and {} more", rest.len()),
        };
    }
    dependency_of_path(path)
}

/// `app/node_modules/next` → (`app`, `next`); `node_modules/@scope/x` → (``, `@scope/x`);
/// `None` for a nested install.
fn top_level(path: &str) -> Option<(&str, &str)> {
    let (root, rest) = match path.strip_prefix("node_modules/") {
        Some(rest) => ("", rest),
        None => {
            let i = path.find("/node_modules/")?;
            (&path[..i], &path[i + "/node_modules/".len()..])
        }
    };
    let segments = if rest.starts_with('@') { 2 } else { 1 };
    (!rest.contains("/node_modules/") && rest.split('/').count() == segments).then_some((root, rest))
}

/// From the path alone.
fn dependency_of_path(path: &str) -> String {
    let parts: Vec<&str> = path.split("/node_modules/").collect();
    let parts: Vec<&str> = if path.starts_with("node_modules/") {
        path.trim_start_matches("node_modules/")
            .split("/node_modules/")
            .collect()
    } else {
        parts.into_iter().skip(1).collect()
    };
    match parts.len() {
        0 | 1 => "top-level in node_modules (a direct dependency, or one npm hoisted)".to_string(),
        n => format!("transitive, via {}", parts[n - 2]),
    }
}

/// One upgrade per package with failing findings, app packages first.
pub fn advise(findings: &[Finding], base: &BaseImage, inventory: &Inventory) -> Vec<Upgrade> {
    let mut out: Vec<Upgrade> = Vec::new();
    // Packages with a failing finding that no version fixes: no upgrade clears them all.
    let mut unfixable: Vec<bool> = Vec::new();
    for f in findings.iter().filter(|f| f.level == Level::Fail) {
        let Some(v) = &f.vulnerability else { continue };
        let kind = v.package.kind;
        let part = f.origin.map_or(Part::App, |o| o.part);
        // The base's findings are one entry: the fix is the same rebuild for all of them.
        let package = if part == Part::Base {
            "base".to_string()
        } else {
            v.package.package_ref().to_string()
        };
        let need = smallest_fix(kind, &v.package.version, &v.fixed);
        let i = match out.iter().position(|u| u.package == package) {
            Some(i) => i,
            None => {
                out.push(Upgrade {
                    package: package.clone(),
                    name: v.package.name.clone(),
                    from: v.package.version.clone(),
                    to: need.clone(),
                    part,
                    fixes: Vec::new(),
                    dependency: if kind == PackageKind::Npm && part == Part::App {
                        let mut d: Vec<String> = v.package.paths.iter().map(|p| dependency_of(p, inventory)).collect();
                        d.dedup();
                        d
                    } else {
                        Vec::new()
                    },
                    line: String::new(),
                });
                unfixable.push(false);
                out.len() - 1
            }
        };
        let u = &mut out[i];
        if !u.fixes.contains(&v.id) {
            u.fixes.push(v.id.clone());
        }
        if part == Part::Base {
            if !u.dependency.contains(&v.package.name) {
                u.dependency.push(v.package.name.clone());
            }
            continue;
        }
        match need {
            None => unfixable[i] = true,
            Some(b) => {
                u.to = match u.to.take() {
                    Some(a) if compare(kind, &a, &b) != Some(Ordering::Less) => Some(a),
                    _ => Some(b),
                }
            }
        }
    }
    for (u, none) in out.iter_mut().zip(&unfixable) {
        if *none {
            u.to = None;
        }
    }
    for u in &mut out {
        let n = u.fixes.len();
        let what = format!(
            "fixes {n} finding{}: {}",
            if n == 1 { "" } else { "s" },
            u.fixes.join(", ")
        );
        u.line = match (&u.to, u.part) {
            (_, Part::Base) => format!(
                "rebuild on a newer base than {} ({what}, in {})",
                base.display_name(),
                u.dependency.join(", ")
            ),
            (Some(to), Part::App) => format!("upgrade {} {} → {to} ({what})", u.name, u.from),
            (None, Part::App) => format!("{} {}: no fixed version clears it yet ({what})", u.name, u.from),
        };
        if u.part == Part::App
            && let Some(d) = u.dependency.first()
        {
            u.line.push_str(&format!("; {d}"));
        }
    }
    out.sort_by_key(|u| u.part == Part::Base);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_fix_on_the_installed_major() {
        // GHSA-c2qf-rxjj-qqgw (semver) is fixed in 5.7.2, 6.3.1 and 7.5.2.
        let fixed: Vec<String> = ["5.7.2", "6.3.1", "7.5.2"].map(String::from).to_vec();
        assert_eq!(
            smallest_fix(PackageKind::Npm, "6.0.0", &fixed).as_deref(),
            Some("6.3.1")
        );
        assert_eq!(
            smallest_fix(PackageKind::Npm, "7.1.0", &fixed).as_deref(),
            Some("7.5.2")
        );
        // No fix on the major (4.x): the lowest above.
        assert_eq!(
            smallest_fix(PackageKind::Npm, "4.3.0", &fixed).as_deref(),
            Some("5.7.2")
        );
        assert_eq!(smallest_fix(PackageKind::Npm, "7.6.0", &fixed), None);
        assert_eq!(
            smallest_fix(PackageKind::Apk, "3.3.2-r0", &["3.3.2-r1".to_string()]).as_deref(),
            Some("3.3.2-r1")
        );
    }

    #[test]
    fn nested_paths_are_transitive_through_their_parent() {
        assert!(dependency_of_path("app/node_modules/next").starts_with("top-level"));
        assert_eq!(
            dependency_of_path("app/node_modules/@babel/core/node_modules/json5"),
            "transitive, via @babel/core"
        );
        assert_eq!(dependency_of_path("node_modules/a/node_modules/b"), "transitive, via a");
    }
}
