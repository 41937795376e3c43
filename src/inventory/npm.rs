//! npm: `package.json` of installed packages, and lockfiles (`node_modules/.package-lock.json`,
//! npm's record of what it installed, and the app's `package-lock.json`, which tells dev
//! dependencies apart but never adds packages that are absent).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The fields of an installed package's `package.json` a gate needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The names in `dependencies` and `optionalDependencies` (sorted, at most
    /// [`MAX_DEPENDENCIES`]): the SBOMs' dependency edges, resolved through node_modules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
}

/// More dependency names than any real package declares: the rest are not kept.
pub const MAX_DEPENDENCIES: usize = 10_000;

#[derive(Deserialize)]
struct RawManifest {
    name: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
    license: Option<serde_json::Value>,
    dependencies: Option<serde_json::Value>,
    #[serde(rename = "optionalDependencies")]
    optional_dependencies: Option<serde_json::Value>,
}

/// Parses a `package.json`. `Ok(None)` for one without a name or version (folders such as
/// `node_modules/x/dist/package.json` that only set `"type": "module"`).
pub fn parse_manifest(bytes: &[u8]) -> Result<Option<Manifest>, String> {
    let raw: RawManifest = serde_json::from_slice(bytes)
        .map_err(|e| format!("invalid package.json: {}", crate::image::json_problem(&e)))?;
    let (Some(serde_json::Value::String(name)), Some(serde_json::Value::String(version))) = (raw.name, raw.version)
    else {
        return Ok(None);
    };
    let license = match raw.license {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Object(o)) => o.get("type").and_then(|t| t.as_str()).map(str::to_string),
        _ => None,
    };
    // Names only (an object's keys); anything else is not a dependency list.
    let mut dependencies: Vec<String> = [raw.dependencies, raw.optional_dependencies]
        .into_iter()
        .flatten()
        .filter_map(|v| match v {
            serde_json::Value::Object(o) => Some(o.into_iter().map(|(k, _)| k)),
            _ => None,
        })
        .flatten()
        .filter(|k| !k.is_empty())
        .take(MAX_DEPENDENCIES)
        .collect();
    dependencies.sort();
    dependencies.dedup();
    Ok(Some(Manifest {
        name,
        version,
        license,
        dependencies,
    }))
}

/// One package as a lockfile records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockEntry {
    /// Set where the folder name differs from the package name (aliases).
    pub name: Option<String>,
    pub version: Option<String>,
    pub dev: bool,
}

/// A lockfile, keyed by install path relative to the project (`node_modules/a/node_modules/b`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    pub packages: BTreeMap<String, LockEntry>,
}

#[derive(Deserialize)]
struct RawLock {
    #[serde(default)]
    packages: BTreeMap<String, RawLockPackage>,
    #[serde(default)]
    dependencies: BTreeMap<String, RawLockDependency>,
}

#[derive(Deserialize)]
struct RawLockPackage {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    link: bool,
}

/// Lockfile v1 nests dependencies instead of keying them by path.
#[derive(Deserialize)]
struct RawLockDependency {
    version: Option<String>,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    dependencies: BTreeMap<String, RawLockDependency>,
}

/// Parses lockfile v1, v2 or v3.
pub fn parse_lockfile(bytes: &[u8]) -> Result<Lockfile, String> {
    let raw: RawLock =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid lockfile: {}", crate::image::json_problem(&e)))?;
    let mut packages = BTreeMap::new();
    for (key, p) in raw.packages {
        if key.is_empty() || p.link || !key.starts_with("node_modules/") {
            continue;
        }
        packages.insert(
            key,
            LockEntry {
                name: p.name,
                version: p.version,
                dev: p.dev,
            },
        );
    }
    if packages.is_empty() {
        fn flatten(
            prefix: &str,
            deps: BTreeMap<String, RawLockDependency>,
            out: &mut BTreeMap<String, LockEntry>,
            depth: usize,
        ) {
            if depth > 64 {
                return; // deeper than any real tree; stop rather than overflow the stack
            }
            for (name, d) in deps {
                let key = format!("{prefix}node_modules/{name}");
                flatten(&format!("{key}/"), d.dependencies, out, depth + 1);
                // An npm alias is written `npm:real@1.0.0` in v1.
                let (name, version) = match d
                    .version
                    .as_deref()
                    .and_then(|v| v.strip_prefix("npm:"))
                    .and_then(|v| v.rsplit_once('@'))
                {
                    Some((real, v)) => (Some(real.to_string()), Some(v.to_string())),
                    None => (None, d.version),
                };
                out.insert(
                    key,
                    LockEntry {
                        name,
                        version,
                        dev: d.dev,
                    },
                );
            }
        }
        flatten("", raw.dependencies, &mut packages, 0);
    }
    Ok(Lockfile { packages })
}

/// What kind of npm file a path is, decided from the path alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpmFile {
    /// `…/node_modules/name/package.json` or `…/node_modules/@scope/name/package.json`.
    Manifest,
    /// A `package.json` inside a package's `dist/`, `compiled/` or `vendor/` folder: a copy
    /// the parent package ships (`next/dist/compiled/@babel/runtime`), if it names a version.
    Vendored,
    /// `…/node_modules/.package-lock.json`.
    HiddenLockfile,
    /// A project's `package-lock.json` or `npm-shrinkwrap.json`, outside any node_modules.
    AppLockfile,
}

/// Folders inside a package whose `package.json` files are copies it ships.
pub const VENDOR_DIRS: [&str; 3] = ["dist", "compiled", "vendor"];
/// Folders inside a package that hold its tests and examples: a `package.json` below them is
/// a fixture (`beep-boop 1.2.3`), not a package the image runs.
pub const FIXTURE_DIRS: [&str; 7] = [
    "test",
    "tests",
    "__tests__",
    "fixtures",
    "__fixtures__",
    "example",
    "examples",
];

/// Where a `package.json` directory sits: in a package's own root, inside a package (with the
/// parent package's directory), or nowhere we count.
#[derive(Debug, PartialEq, Eq)]
enum Place<'a> {
    Root,
    Inside { parent: &'a str, vendored: bool },
}

/// Walks `dir` from the first `node_modules`: each `node_modules/<name>` (or `@scope/<name>`)
/// opens a package, the folders after it are inside that package until the next
/// `node_modules`. Any folder inside any package named like a test fixture disqualifies it.
fn place(dir: &str) -> Option<Place<'_>> {
    let mut parts = dir.split('/');
    let mut offset = 0; // byte offset of the part being looked at
    let mut seen_node_modules = false;
    let mut parent_end = None; // end of the innermost package's directory
    let mut inside: Vec<&str> = Vec::new();
    while let Some(part) = parts.next() {
        offset += part.len() + 1;
        if part == "node_modules" {
            seen_node_modules = true;
            let name = parts.next()?;
            offset += name.len() + 1;
            if name.starts_with('.') && name != ".pnpm" {
                return None; // .bin, .cache: not packages
            }
            if name == ".pnpm" {
                // The virtual store: `.pnpm/<name>@<version>/node_modules/<name>`.
                let entry = parts.next()?;
                offset += entry.len() + 1;
                parent_end = None;
                inside.clear();
                continue;
            }
            if name.starts_with('@') {
                let scoped = parts.next()?;
                offset += scoped.len() + 1;
            }
            parent_end = Some(offset - 1);
            inside.clear();
            continue;
        }
        if !seen_node_modules {
            continue;
        }
        parent_end?; // inside the virtual store but not in a package
        if FIXTURE_DIRS.contains(&part) {
            return None;
        }
        inside.push(part);
    }
    let end = parent_end?;
    if inside.is_empty() {
        return Some(Place::Root);
    }
    Some(Place::Inside {
        parent: dir.get(..end)?,
        vendored: inside.iter().any(|p| VENDOR_DIRS.contains(p)),
    })
}

/// The directory of the package a vendored copy at `dir` ships inside.
pub fn vendor_parent(dir: &str) -> Option<&str> {
    match place(dir)? {
        Place::Inside { parent, vendored: true } => Some(parent),
        _ => None,
    }
}

pub fn classify(path: &str) -> Option<NpmFile> {
    // Every file of an image passes here: a look at the end of the path turns most away
    // before it is split (each name below ends in one of these).
    if !path.ends_with("package.json") && !path.ends_with("package-lock.json") && !path.ends_with("npm-shrinkwrap.json")
    {
        return None;
    }
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    match base {
        "package.json" => match place(dir)? {
            Place::Root => Some(NpmFile::Manifest),
            Place::Inside { vendored: true, .. } => Some(NpmFile::Vendored),
            Place::Inside { vendored: false, .. } => None,
        },
        ".package-lock.json" if dir == "node_modules" || dir.ends_with("/node_modules") => {
            Some(NpmFile::HiddenLockfile)
        }
        "package-lock.json" | "npm-shrinkwrap.json" if !path.split('/').any(|p| p == "node_modules") => {
            Some(NpmFile::AppLockfile)
        }
        _ => None,
    }
}

/// Splits a package directory `app/node_modules/a/node_modules/b` into the project root
/// (`app`) and the lockfile key (`node_modules/a/node_modules/b`).
pub fn split_project(package_dir: &str) -> Option<(&str, &str)> {
    if package_dir.starts_with("node_modules/") {
        return Some(("", package_dir));
    }
    let i = memchr::memmem::find(package_dir.as_bytes(), b"/node_modules/")?;
    Some((&package_dir[..i], &package_dir[i + 1..]))
}

/// Joins a project root and a lockfile key into a path.
pub fn join(root: &str, key: &str) -> String {
    if root.is_empty() {
        key.to_string()
    } else {
        [root, "/", key].concat()
    }
}

/// `dir/package.json` (asked of thousands of directories an image: without `format!`'s
/// machinery, which costs more than the copy).
pub fn manifest_of(dir: &str) -> String {
    [dir, "/package.json"].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert_eq!(classify("app/node_modules/next/package.json"), Some(NpmFile::Manifest));
        assert_eq!(
            classify("app/node_modules/@babel/traverse/package.json"),
            Some(NpmFile::Manifest)
        );
        assert_eq!(
            classify("node_modules/a/node_modules/b/package.json"),
            Some(NpmFile::Manifest)
        );
        assert_eq!(
            classify("usr/local/lib/node_modules/npm/package.json"),
            Some(NpmFile::Manifest)
        );
        // Inside a package: vendored copies count, test fixtures and other folders do not.
        assert_eq!(
            classify("app/node_modules/next/dist/package.json"),
            Some(NpmFile::Vendored)
        );
        assert_eq!(
            classify("app/node_modules/next/dist/compiled/@babel/runtime/package.json"),
            Some(NpmFile::Vendored)
        );
        assert_eq!(
            classify("app/node_modules/@scope/x/vendor/y/package.json"),
            Some(NpmFile::Vendored)
        );
        assert_eq!(
            vendor_parent("app/node_modules/next/dist/compiled/@babel/runtime"),
            Some("app/node_modules/next")
        );
        assert_eq!(
            vendor_parent("app/node_modules/@scope/x/vendor/y"),
            Some("app/node_modules/@scope/x")
        );
        assert_eq!(classify("app/node_modules/resolve/test/resolver/package.json"), None);
        assert_eq!(
            classify("app/node_modules/x/dist/fixtures/package-a/package.json"),
            None
        );
        assert_eq!(
            classify("app/node_modules/x/test/fixtures/node_modules/beep-boop/package.json"),
            None,
            "a package inside another's tests is a fixture"
        );
        assert_eq!(classify("app/node_modules/x/lib/package.json"), None);
        assert_eq!(classify("app/node_modules/test/package.json"), Some(NpmFile::Manifest));
        assert_eq!(
            classify("app/test/node_modules/x/package.json"),
            Some(NpmFile::Manifest),
            "the project's own folders are not inside a package"
        );
        assert_eq!(
            classify("app/node_modules/.pnpm/@babel+runtime@7.15.4/node_modules/@babel/runtime/package.json"),
            Some(NpmFile::Manifest)
        );
        assert_eq!(
            classify("app/node_modules/.pnpm/next@13.4.0/node_modules/next/dist/compiled/@babel/runtime/package.json"),
            Some(NpmFile::Vendored)
        );
        assert_eq!(classify("app/node_modules/.pnpm/lock.yaml"), None);
        assert_eq!(classify("app/node_modules/.pnpm/node_modules/ms/package.json"), None);
        assert_eq!(classify("app/node_modules/@babel/package.json"), None);
        assert_eq!(classify("app/node_modules/.bin/package.json"), None);
        assert_eq!(classify("app/package.json"), None);
        assert_eq!(
            classify("app/node_modules/.package-lock.json"),
            Some(NpmFile::HiddenLockfile)
        );
        assert_eq!(classify("app/package-lock.json"), Some(NpmFile::AppLockfile));
        assert_eq!(classify("app/node_modules/x/package-lock.json"), None);
    }

    #[test]
    fn splits_project_and_key() {
        assert_eq!(
            split_project("app/node_modules/a/node_modules/b"),
            Some(("app", "node_modules/a/node_modules/b"))
        );
        assert_eq!(split_project("node_modules/a"), Some(("", "node_modules/a")));
        assert_eq!(
            split_project("usr/local/lib/node_modules/npm/node_modules/semver"),
            Some(("usr/local/lib", "node_modules/npm/node_modules/semver"))
        );
        assert_eq!(split_project("app/lib"), None);
        assert_eq!(join("", "node_modules/a"), "node_modules/a");
    }

    #[test]
    fn parses_manifests() {
        let m = parse_manifest(br#"{"name":"lodash","version":"4.17.20","license":"MIT","dependencies":{}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            m,
            Manifest {
                name: "lodash".into(),
                version: "4.17.20".into(),
                license: Some("MIT".into()),
                dependencies: Vec::new(),
            }
        );
        let m = parse_manifest(br#"{"name":"x","version":"1.0.0","license":{"type":"BSD"}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(m.license.as_deref(), Some("BSD"));
        let m = parse_manifest(
            br#"{"name":"x","version":"1.0.0","dependencies":{"b":"^1","a":"2"},"optionalDependencies":{"a":"2","c":"*"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.dependencies, ["a", "b", "c"]);
        let m = parse_manifest(br#"{"name":"x","version":"1.0.0","dependencies":["a"]}"#)
            .unwrap()
            .unwrap();
        assert!(m.dependencies.is_empty(), "a list is not a dependency map");
        assert_eq!(parse_manifest(br#"{"type":"module"}"#).unwrap(), None);
        assert_eq!(parse_manifest(br#"{"name":"x","version":1}"#).unwrap(), None);
        assert!(parse_manifest(b"{not json").is_err());
        assert!(parse_manifest(b"\xff\xfe").is_err());
    }

    #[test]
    fn parses_lockfile_v3_and_v1() {
        let v3 = br#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/jest":{"version":"29.0.0","dev":true},"node_modules/next":{"version":"13.4.0"},"node_modules/alias":{"name":"real","version":"1.0.0"},"node_modules/linked":{"link":true}}}"#;
        let lock = parse_lockfile(v3).unwrap();
        assert_eq!(lock.packages.len(), 3);
        assert!(lock.packages["node_modules/jest"].dev);
        assert!(!lock.packages["node_modules/next"].dev);
        assert_eq!(lock.packages["node_modules/alias"].name.as_deref(), Some("real"));
        let v1 = br#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dev":true,"dependencies":{"b":{"version":"2.0.0","dev":true}}},"c":{"version":"npm:d@3.0.0"}}}"#;
        let lock = parse_lockfile(v1).unwrap();
        assert!(lock.packages["node_modules/a/node_modules/b"].dev);
        assert_eq!(lock.packages["node_modules/c"].name.as_deref(), Some("d"));
        assert_eq!(lock.packages["node_modules/c"].version.as_deref(), Some("3.0.0"));
    }
}
