//! Yarn Plug'n'Play (Yarn 2+, "Berry"): no `node_modules`; each package is a zip in the
//! project's `.yarn/cache/` (`lodash-npm-4.17.20-<hash>-<checksum>.zip`, holding
//! `node_modules/lodash/package.json` and the package's files), or, for packages that must
//! exist on disk, a directory under `.yarn/unplugged/` (read by the npm reader, since it
//! holds a `node_modules/<name>/package.json`). `.pnp.cjs` is the runtime's index of them.
//!
//! Dev or production comes from the project's `yarn.lock` (the dependency graph) and its
//! `package.json` (which of the root's dependencies are `devDependencies`): a package only
//! reachable from dev dependencies is dev; one reachable from a production dependency, or
//! from another workspace (whose own dev dependencies the lockfile does not tell apart), is
//! production; a package the lockfile does not list is undecided.

use super::npm;
use super::zip::{Archive, ZipError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A cache zip over this is not read (a warning, and the zip is listed as not checked):
/// a package's zip is a few hundred KB, the biggest real ones tens of MB (stored, Yarn 4's
/// default). The zip is held in memory while its manifest is found.
pub const MAX_ZIP: u64 = 64 << 20;
/// Entries in one cache zip: the biggest npm packages have some 30,000 files.
pub const MAX_ZIP_ENTRIES: usize = 200_000;

/// What kind of Yarn file a path is, decided from the path alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YarnFile {
    /// `…/.yarn/cache/<locator>.zip`.
    CacheZip,
    /// A project's `yarn.lock`.
    Lockfile,
    /// A project's own `package.json` (outside `node_modules` and `.yarn`): which of its
    /// dependencies are dev ones.
    ProjectManifest,
}

pub fn classify(path: &str) -> Option<YarnFile> {
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    let outside = || !path.split('/').any(|p| p == "node_modules" || p == ".yarn");
    // A project's cache, or Yarn's global one (`~/.yarn/berry/cache`, Yarn 4's default).
    let cache = |d: &str| dir == d || dir.ends_with(&format!("/{d}"));
    if base.ends_with(".zip") && (cache(".yarn/cache") || cache(".yarn/berry/cache")) {
        return Some(YarnFile::CacheZip);
    }
    match base {
        "yarn.lock" if outside() => Some(YarnFile::Lockfile),
        "package.json" if outside() => Some(YarnFile::ProjectManifest),
        _ => None,
    }
}

/// Yarn 1 as the official Node.js images install it: `opt/yarn-v1.22.22/package.json`, one
/// package (its dependencies are bundled into `lib/cli.js`, not installed).
pub fn is_classic_manifest(path: &str) -> bool {
    path.strip_prefix("opt/yarn-v")
        .and_then(|rest| rest.strip_suffix("/package.json"))
        .is_some_and(|v| !v.is_empty() && !v.contains('/'))
}

/// The project directory of a path inside its `.yarn/cache/` or `.yarn/unplugged/` (`""`
/// for a project at the image root).
pub fn project_root(path: &str) -> Option<&str> {
    for marker in [".yarn/cache/", ".yarn/unplugged/"] {
        if path.starts_with(marker) {
            return Some("");
        }
        if let Some(i) = path.find(&format!("/{marker}")) {
            return Some(&path[..i]);
        }
    }
    None
}

/// The package a cache zip holds: the `node_modules/<name>/package.json` inside it.
pub fn read_cache_zip(file_name: &str, bytes: &[u8]) -> Result<npm::Manifest, String> {
    let zip_err = |e: ZipError| e.to_string();
    let archive = Archive::open(bytes, MAX_ZIP_ENTRIES).map_err(zip_err)?;
    let candidates: Vec<_> = archive
        .entries()
        .iter()
        .filter(|e| is_package_manifest(&e.name))
        .collect();
    let entry = match candidates.as_slice() {
        [] => return Err("the zip holds no node_modules/<name>/package.json".into()),
        [one] => *one,
        many => {
            // Yarn names the zip after the package (`@babel-core-npm-…` for `@babel/core`).
            let slug = |e: &&super::zip::Entry| {
                let dir = e.name.trim_start_matches("node_modules/");
                let name = dir.strip_suffix("/package.json").unwrap_or(dir);
                file_name.starts_with(&format!("{}-", name.replace('/', "-")))
            };
            let matching: Vec<_> = many.iter().filter(|e| slug(e)).collect();
            match matching.as_slice() {
                [one] => **one,
                _ => return Err(format!("the zip holds {} package manifests; not read", many.len())),
            }
        }
    };
    let bytes = archive.read(entry, super::MAX_MANIFEST_SIZE).map_err(zip_err)?;
    match npm::parse_manifest(&bytes) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(format!("`{}` has no name or version", entry.name)),
        Err(e) => Err(format!("`{}`: {e}", entry.name)),
    }
}

/// `node_modules/<name>/package.json` or `node_modules/@scope/name/package.json`.
fn is_package_manifest(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("node_modules/") else {
        return false;
    };
    let Some(dir) = rest.strip_suffix("/package.json") else {
        return false;
    };
    let parts: Vec<&str> = dir.split('/').collect();
    let ok = |p: &str| !p.is_empty() && p != "." && p != "..";
    match parts.as_slice() {
        [n] => ok(n) && !n.starts_with('@') && !n.starts_with('.'),
        [scope, n] => scope.len() > 1 && scope.starts_with('@') && ok(n),
        _ => false,
    }
}

/// One package of a Berry `yarn.lock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockPackage {
    /// The locator: `lodash@npm:4.17.20`, `app@workspace:.`.
    pub resolution: String,
    pub version: String,
    /// Descriptors of its dependencies (`is-number@npm:^6.0.0`), optional ones included.
    pub dependencies: Vec<String>,
}

impl LockPackage {
    /// The package name of the locator (`@scope/name` keeps its `@`).
    pub fn name(&self) -> &str {
        locator_name(&self.resolution)
    }

    fn is_workspace(&self) -> bool {
        self.resolution[self.name().len()..].starts_with("@workspace:")
    }
}

fn locator_name(s: &str) -> &str {
    let from = usize::from(s.starts_with('@'));
    match s[from..].find('@') {
        Some(i) => &s[..from + i],
        None => s,
    }
}

/// A Berry `yarn.lock`: its packages and which descriptors resolve to each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub packages: Vec<LockPackage>,
    pub descriptors: BTreeMap<String, usize>,
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s)
}

/// Parses a Berry lockfile (the YAML subset Yarn writes). A Yarn 1 lockfile, which PnP
/// never uses, is an error: the caller leaves dev flags undecided.
pub fn parse_lock(bytes: &[u8]) -> Result<Lock, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "yarn.lock is not UTF-8".to_string())?;
    if !text.lines().any(|l| l.trim_end() == "__metadata:") {
        return Err("yarn.lock is not a Yarn 2+ lockfile (no __metadata); dev dependencies are not told apart".into());
    }
    struct Open {
        keys: Vec<String>,
        resolution: Option<String>,
        version: Option<String>,
        dependencies: Vec<String>,
    }
    let mut lock = Lock::default();
    let mut open: Option<Open> = None;
    let mut in_deps = false;
    let finish = |open: Option<Open>, lock: &mut Lock| -> Result<(), String> {
        let Some(o) = open else { return Ok(()) };
        if o.keys.iter().any(|k| k == "__metadata") {
            return Ok(());
        }
        let resolution = o
            .resolution
            .ok_or_else(|| format!("yarn.lock entry `{}` has no resolution", o.keys.join(", ")))?;
        let index = lock.packages.len();
        for k in o.keys {
            lock.descriptors.insert(k, index);
        }
        lock.packages.push(LockPackage {
            resolution,
            version: o.version.unwrap_or_default(),
            dependencies: o.dependencies,
        });
        Ok(())
    };
    for (number, line) in text.lines().enumerate() {
        let bad = || format!("yarn.lock line {}: not the format Yarn writes", number + 1);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = line.trim();
        match indent {
            0 => {
                finish(open.take(), &mut lock)?;
                let key = body.strip_suffix(':').ok_or_else(bad)?;
                let keys = unquote(key).split(',').map(|k| k.trim().to_string()).collect();
                open = Some(Open {
                    keys,
                    resolution: None,
                    version: None,
                    dependencies: Vec::new(),
                });
                in_deps = false;
            }
            2 => {
                let o = open.as_mut().ok_or_else(bad)?;
                let (k, v) = split_pair(body).ok_or_else(bad)?;
                in_deps = matches!(k, "dependencies" | "optionalDependencies") && v.is_empty();
                match k {
                    "resolution" => o.resolution = Some(v.to_string()),
                    "version" => o.version = Some(v.to_string()),
                    _ => {}
                }
            }
            _ if in_deps && indent == 4 => {
                let o = open.as_mut().ok_or_else(bad)?;
                let (k, v) = split_pair(body).ok_or_else(bad)?;
                o.dependencies.push(format!("{k}@{v}"));
            }
            _ => {}
        }
    }
    finish(open.take(), &mut lock)?;
    Ok(lock)
}

/// `key: value` with either side possibly quoted; `("dependencies", "")` for a map's head.
fn split_pair(body: &str) -> Option<(&str, &str)> {
    if let Some(rest) = body.strip_prefix('"') {
        let end = rest.find('"')?;
        let value = rest[end + 1..].strip_prefix(':')?;
        return Some((&rest[..end], unquote(value)));
    }
    let (k, v) = body.split_once(':')?;
    Some((k.trim(), unquote(v)))
}

/// A project's `package.json`: the names it lists as production and as dev dependencies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectManifest {
    pub production: BTreeSet<String>,
    pub dev: BTreeSet<String>,
}

/// Parses a project's `package.json`; `None` where it is not a JSON object (not ours to
/// judge: only a Yarn project's is used, and there the packages stay undecided).
pub fn parse_project_manifest(bytes: &[u8]) -> Option<ProjectManifest> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let names = |field: &str| -> BTreeSet<String> {
        v.get(field)
            .and_then(|d| d.as_object())
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut production = names("dependencies");
    production.extend(names("optionalDependencies"));
    production.extend(names("peerDependencies"));
    Some(ProjectManifest {
        production,
        dev: names("devDependencies"),
    })
}

/// Dev flags of a project's packages, keyed by (name, version): `true` only where every
/// path to it starts at a root dev dependency.
pub fn dev_flags(lock: &Lock, manifest: &ProjectManifest) -> HashMap<(String, String), bool> {
    let mut prod_roots = Vec::new();
    let mut dev_roots = Vec::new();
    for (i, p) in lock.packages.iter().enumerate() {
        if !p.is_workspace() {
            continue;
        }
        let root = p.resolution.ends_with("@workspace:.");
        for d in &p.dependencies {
            let Some(&to) = lock.descriptors.get(d) else { continue };
            let name = locator_name(d);
            // Only the root workspace's package.json is read; in another workspace every
            // dependency counts as production.
            if root && manifest.dev.contains(name) && !manifest.production.contains(name) {
                dev_roots.push(to);
            } else {
                prod_roots.push(to);
            }
        }
        if !root {
            prod_roots.push(i);
        }
    }
    let reach = |roots: Vec<usize>| {
        let mut seen = vec![false; lock.packages.len()];
        let mut stack = roots;
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            for d in &lock.packages[i].dependencies {
                if let Some(&to) = lock.descriptors.get(d) {
                    stack.push(to);
                }
            }
        }
        seen
    };
    let (prod, dev) = (reach(prod_roots), reach(dev_roots));
    let mut out: HashMap<(String, String), bool> = HashMap::new();
    for (i, p) in lock.packages.iter().enumerate() {
        if p.is_workspace() || !(prod[i] || dev[i]) {
            continue;
        }
        let key = (p.name().to_string(), p.version.clone());
        let is_dev = !prod[i];
        // A patched and an unpatched copy of one version: production if either is.
        out.entry(key).and_modify(|d| *d &= is_dev).or_insert(is_dev);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &[u8] = include_bytes!("../../testdata/yarn-pnp/app/yarn.lock");
    const MANIFEST: &[u8] = include_bytes!("../../testdata/yarn-pnp/app/package.json");

    #[test]
    fn classifies_paths() {
        assert_eq!(
            classify("app/.yarn/cache/lodash-npm-4.17.20-c0db62021c-a5f94125d7.zip"),
            Some(YarnFile::CacheZip)
        );
        assert_eq!(classify(".yarn/cache/ms-npm-2.1.3-x.zip"), Some(YarnFile::CacheZip));
        assert_eq!(classify("app/yarn.lock"), Some(YarnFile::Lockfile));
        assert_eq!(classify("app/package.json"), Some(YarnFile::ProjectManifest));
        assert_eq!(classify("app/node_modules/x/yarn.lock"), None);
        assert_eq!(classify("app/node_modules/x/package.json"), None);
        assert_eq!(
            classify("app/.yarn/unplugged/ms-npm-2.1.3-81ff3cfac1/node_modules/ms/package.json"),
            None
        );
        assert_eq!(classify("app/.yarn/cache/sub/x.zip"), None);
        assert_eq!(
            classify("root/.yarn/berry/cache/lodash-npm-4.17.20-c0db62021c-10c0.zip"),
            Some(YarnFile::CacheZip)
        );
        assert_eq!(
            project_root("root/.yarn/berry/cache/x.zip"),
            None,
            "shared by every project"
        );
        assert_eq!(classify("package.json"), Some(YarnFile::ProjectManifest));
        assert!(is_classic_manifest("opt/yarn-v1.22.22/package.json"));
        assert!(!is_classic_manifest("opt/yarn-v1.22.22/lib/package.json"));
        assert!(!is_classic_manifest("opt/yarn/package.json"));
        assert_eq!(project_root("app/.yarn/cache/x.zip"), Some("app"));
        assert_eq!(project_root(".yarn/unplugged/x/node_modules/ms"), Some(""));
        assert_eq!(project_root("app/node_modules/x"), None);
    }

    #[test]
    fn finds_the_manifest_inside_a_real_cache_zip() {
        let zip = include_bytes!("../../testdata/yarn-pnp/app/.yarn/cache/is-odd-npm-3.0.1-93c3c3f41b-c9d35c336c.zip");
        let m = read_cache_zip("is-odd-npm-3.0.1-93c3c3f41b-c9d35c336c.zip", zip).unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str()), ("is-odd", "3.0.1"));
        assert!(is_package_manifest("node_modules/@babel/core/package.json"));
        assert!(!is_package_manifest("node_modules/lodash/fp/package.json"));
        assert!(!is_package_manifest("node_modules/@babel/package.json"));
    }

    #[test]
    fn reads_the_real_lockfile_and_tells_dev_apart() {
        let lock = parse_lock(LOCK).unwrap();
        assert_eq!(lock.packages.len(), 6);
        assert_eq!(lock.packages[1].dependencies, ["is-number@npm:^6.0.0"]);
        let manifest = parse_project_manifest(MANIFEST).unwrap();
        let flags = dev_flags(&lock, &manifest);
        let dev = |n: &str, v: &str| flags.get(&(n.to_string(), v.to_string())).copied();
        assert_eq!(dev("lodash", "4.17.20"), Some(false));
        assert_eq!(
            dev("is-number", "6.0.0"),
            Some(false),
            "a production package's dependency"
        );
        assert_eq!(dev("minimist", "1.2.0"), Some(true));
        assert_eq!(
            dev("pnp-app", "0.0.0-use.local"),
            None,
            "the workspace is not a package"
        );
        // With no dev list, everything is production.
        let flags = dev_flags(&lock, &ProjectManifest::default());
        assert_eq!(flags.get(&("minimist".into(), "1.2.0".into())), Some(&false));
    }

    #[test]
    fn a_cache_zip_over_its_cap_or_unreadable_is_a_warning_saying_it_was_not_checked() {
        use crate::layer::Capture;
        let c = super::super::Collector;
        let path = "app/.yarn/cache/next-npm-15.0.0-0000000000-0000000000.zip";
        assert_eq!(c.wants(path), Some(MAX_ZIP));
        let e = c.too_large(path, MAX_ZIP + 1, MAX_ZIP);
        assert!(!e.fatal, "one package's zip, not a database");
        assert!(
            e.message.contains("Yarn cache zip") && e.message.contains("NOT checked"),
            "{}",
            e.message
        );
        let e = c.capture(path, b"PK\x03\x04 cut short").unwrap_err();
        assert!(!e.fatal && e.message.contains("NOT checked"), "{}", e.message);
        // A project's unreadable package.json or yarn.lock only leaves dev flags undecided.
        assert!(!c.capture("app/package.json", b"{").unwrap_err().fatal);
        assert!(!c.capture("app/yarn.lock", b"# yarn lockfile v1\n").unwrap_err().fatal);
    }

    #[test]
    fn a_lockfile_that_is_not_berrys_is_an_error() {
        assert!(parse_lock(b"# yarn lockfile v1\n\nlodash@^4:\n  version \"4.17.21\"\n").is_err());
        assert!(parse_lock(b"__metadata:\n  version: 8\n\n\"a@npm:1\":\n  version: 1\n").is_err());
        assert!(parse_lock(b"__metadata:\n  version: 8\nnot a key\n").is_err());
        assert!(parse_lock(b"\xff\xfe").is_err());
    }
}
