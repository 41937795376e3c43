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
    /// A project's Plug'n'Play index: `.pnp.cjs` (Yarn 2's `.pnp.js`) with its state inline,
    /// or `.pnp.data.json` (`pnpEnableInlining: false`).
    PnpIndex,
}

pub fn classify(path: &str) -> Option<YarnFile> {
    // Every file of an image passes here, most of them none of these: a look at the end of
    // the path turns them away before it is split.
    const ENDINGS: [&str; 6] = [
        ".zip",
        ".pnp.cjs",
        ".pnp.js",
        ".pnp.data.json",
        "yarn.lock",
        "package.json",
    ];
    if !ENDINGS.iter().any(|e| path.ends_with(e)) {
        return None;
    }
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    let outside = || !path.split('/').any(|p| p == "node_modules" || p == ".yarn");
    // A project's cache, or Yarn's global one (`~/.yarn/berry/cache`, Yarn 4's default).
    let cache = |d: &str| dir == d || dir.ends_with(&format!("/{d}"));
    if base.ends_with(".zip") && (cache(".yarn/cache") || cache(".yarn/berry/cache")) {
        return Some(YarnFile::CacheZip);
    }
    match base {
        ".pnp.cjs" | ".pnp.js" | ".pnp.data.json" if outside() => Some(YarnFile::PnpIndex),
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
    // Asked of every package of an image: most paths hold no `.yarn/` at all.
    memchr::memmem::find(path.as_bytes(), b".yarn/")?;
    for marker in ["/.yarn/cache/", "/.yarn/unplugged/"] {
        if path.starts_with(&marker[1..]) {
            return Some("");
        }
        if let Some(i) = path.find(marker) {
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

/// A Plug'n'Play index over this is not read (a warning, and the cross-check of the project
/// is not done, which `yarn-pnp` says): Yarn's runtime alone is some 430 KB, the state of a
/// monorepo with thousands of packages a few MB. Held in memory while it is parsed.
pub const MAX_PNP_INDEX: u64 = 32 << 20;
/// Deepest `__virtual__/<hash>/<depth>/` a location is followed back up (deeper than any
/// real path; `..` stops at the image root anyway).
const MAX_VIRTUAL_DEPTH: usize = 256;

/// One package a Plug'n'Play index says the project has on disk (`linkType: HARD`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PnpPackage {
    pub name: String,
    /// `npm:4.17.20`, `virtual:<hash>#npm:1.0.0`, `patch:…`.
    pub reference: String,
    /// Relative to the project: `./.yarn/cache/lodash-npm-4.17.20-…zip/node_modules/lodash/`.
    pub location: String,
}

/// What a `.pnp.cjs`, `.pnp.js` or `.pnp.data.json` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PnpIndex {
    /// The packages it lists (the top level, workspaces and links, `SOFT`, left out).
    Packages(Vec<PnpPackage>),
    /// A `.pnp.cjs` that loads its state from the `.pnp.data.json` beside it.
    InDataFile,
}

/// Why a Plug'n'Play index could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PnpError {
    #[error("the Plug'n'Play index is not UTF-8")]
    NotUtf8,
    #[error("no runtime state in it (no RAW_RUNTIME_STATE, no hydrateRuntimeState({{…}}), no .pnp.data.json)")]
    NoState,
    #[error("its RAW_RUNTIME_STATE string never ends")]
    Unterminated,
    #[error("its runtime state is not the JSON Yarn writes: {0}")]
    Json(String),
}

/// The part of Yarn's serialized runtime state the cross-check needs; the rest (each
/// package's dependencies, the fallback lists) is skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PnpState {
    /// `[name, [[reference, info], …]]`; `null` names the top level.
    package_registry_data: Vec<(Option<String>, Vec<PnpEntry>)>,
}

/// `[reference, info]`.
type PnpEntry = (Option<String>, PnpInfo);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PnpInfo {
    package_location: String,
    #[serde(default)]
    link_type: Option<String>,
}

/// Reads a Plug'n'Play index: `.pnp.data.json` is the state itself; `.pnp.cjs` (Yarn 3+)
/// embeds it as the JavaScript string `RAW_RUNTIME_STATE`, Yarn 2's `.pnp.js` as the object
/// passed to `hydrateRuntimeState(…)`, or either loads `.pnp.data.json`.
pub fn parse_pnp_index(file_name: &str, bytes: &[u8]) -> Result<PnpIndex, PnpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| PnpError::NotUtf8)?;
    let json = |e: serde_json::Error| PnpError::Json(e.to_string());
    let state: PnpState = if file_name == ".pnp.data.json" {
        serde_json::from_str(text).map_err(json)?
    } else if let Some(i) = text.find("RAW_RUNTIME_STATE =") {
        let rest = text[i + "RAW_RUNTIME_STATE =".len()..].trim_start();
        let body = rest.strip_prefix('\'').ok_or(PnpError::NoState)?;
        serde_json::from_str(&decode_js_string(body)?).map_err(json)?
    } else if let Some(object) = text
        .match_indices("hydrateRuntimeState(")
        .map(|(i, m)| text[i + m.len()..].trim_start())
        .find(|rest| rest.starts_with('{'))
    {
        // The object literal, then `, {basePath: …})`: only the first value is read.
        let mut values = serde_json::Deserializer::from_str(object).into_iter::<PnpState>();
        values.next().ok_or(PnpError::NoState)?.map_err(json)?
    } else if text.contains(".pnp.data.json") {
        return Ok(PnpIndex::InDataFile);
    } else {
        return Err(PnpError::NoState);
    };
    let mut packages = Vec::new();
    for (name, references) in state.package_registry_data {
        let Some(name) = name else { continue };
        for (reference, info) in references {
            let Some(reference) = reference else { continue };
            if info.link_type.as_deref() == Some("SOFT") {
                continue;
            }
            packages.push(PnpPackage {
                name: name.clone(),
                reference,
                location: info.package_location,
            });
        }
    }
    Ok(PnpIndex::Packages(packages))
}

/// The body of a single-quoted JavaScript string, up to its closing quote, as Yarn writes
/// `RAW_RUNTIME_STATE`: `\\`, `\'` and a line continuation (`\` and a newline).
fn decode_js_string(body: &str) -> Result<String, PnpError> {
    let mut out = String::with_capacity(body.len().min(MAX_PNP_INDEX as usize));
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => return Ok(out),
            '\\' => match chars.next().ok_or(PnpError::Unterminated)? {
                '\n' => {}
                '\r' => {
                    let mut ahead = chars.clone();
                    if ahead.next() == Some('\n') {
                        chars = ahead;
                    }
                }
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    Err(PnpError::Unterminated)
}

/// Where a package an index lists must be in the image, for a project at `root` (`""` at the
/// image root): `(file, shown)`, the file whose presence proves it (its cache zip, or the
/// unplugged directory's `package.json`) and the path to name in a warning (the zip, the
/// directory). A virtual location (`.yarn/__virtual__/<name>-virtual-<hash>/<depth>/…`, a
/// package with peer dependencies) is the real one `<depth>` levels up from `.yarn`, as
/// Yarn's VirtualFS resolves it; `.` and `..` are resolved, `..` stopping at the image root.
pub fn expected_location(root: &str, location: &str) -> (String, String) {
    let mut parts: Vec<&str> = root.split('/').chain(location.split('/')).collect();
    let mut from = 0;
    while let Some(at) = parts[from..]
        .iter()
        .position(|p| *p == "__virtual__" || *p == "$$virtual")
    {
        let i = from + at;
        let depth = parts.get(i + 2).and_then(|d| d.parse::<usize>().ok());
        let (Some(_hash), Some(depth)) = (parts.get(i + 1), depth) else {
            from = i + 1; // a folder of that name, not a virtual path
            continue;
        };
        let rest = parts.split_off(i + 3);
        parts.truncate(i);
        parts.extend(std::iter::repeat_n("..", depth.min(MAX_VIRTUAL_DEPTH)));
        parts.extend(rest);
        from = i;
    }
    let mut normal: Vec<&str> = Vec::new();
    for p in parts {
        match p {
            "" | "." => {}
            ".." => {
                normal.pop();
            }
            p => normal.push(p),
        }
    }
    // Inside a zip, a location goes on into its `node_modules/<name>/`.
    let zip = (1..normal.len()).find(|&i| normal[i - 1].ends_with(".zip") && normal[i] == "node_modules");
    if let Some(end) = zip {
        let zip = end - 1;
        let path = normal[..=zip].join("/");
        return (path.clone(), path);
    }
    let dir = normal.join("/");
    (npm::join(&dir, "package.json"), dir)
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

    const PNP_CJS: &[u8] = include_bytes!("../../testdata/yarn-pnp/app/.pnp.cjs");

    fn listed(index: PnpIndex) -> Vec<(String, String, String)> {
        let PnpIndex::Packages(p) = index else {
            panic!("{index:?}")
        };
        p.into_iter().map(|p| (p.name, p.reference, p.location)).collect()
    }

    #[test]
    fn reads_the_packages_yarns_real_pnp_cjs_lists() {
        let got = listed(parse_pnp_index(".pnp.cjs", PNP_CJS).unwrap());
        let names: Vec<(&str, &str)> = got.iter().map(|(n, r, _)| (n.as_str(), r.as_str())).collect();
        // The workspace (`pnp-app@workspace:.`, SOFT) and the top level are not packages.
        assert_eq!(
            names,
            [
                ("is-number", "npm:6.0.0"),
                ("is-odd", "npm:3.0.1"),
                ("lodash", "npm:4.17.20"),
                ("minimist", "npm:1.2.0"),
                ("ms", "npm:2.1.3")
            ]
        );
        assert_eq!(
            got[2].2,
            "./.yarn/cache/lodash-npm-4.17.20-c0db62021c-a5f94125d7.zip/node_modules/lodash/"
        );
        assert_eq!(
            expected_location("app", &got[2].2),
            (
                "app/.yarn/cache/lodash-npm-4.17.20-c0db62021c-a5f94125d7.zip".to_string(),
                "app/.yarn/cache/lodash-npm-4.17.20-c0db62021c-a5f94125d7.zip".to_string()
            )
        );
        assert_eq!(
            expected_location("app", &got[4].2),
            (
                "app/.yarn/unplugged/ms-npm-2.1.3-81ff3cfac1/node_modules/ms/package.json".to_string(),
                "app/.yarn/unplugged/ms-npm-2.1.3-81ff3cfac1/node_modules/ms".to_string()
            )
        );
    }

    #[test]
    fn reads_the_same_state_from_pnp_data_json_and_yarn_2s_pnp_js() {
        // The state as Yarn writes `.pnp.data.json` (`pnpEnableInlining: false`): the JSON
        // RAW_RUNTIME_STATE holds, undone from its JavaScript string.
        let text = std::str::from_utf8(PNP_CJS).unwrap();
        let start = text.find("RAW_RUNTIME_STATE =\n'").unwrap() + "RAW_RUNTIME_STATE =\n'".len();
        let json = decode_js_string(&text[start..]).unwrap();
        assert!(
            json.contains(r#""ignorePatternData": "(^(?:\\.yarn\\/sdks"#),
            "`\\\\` undone once"
        );
        let inline = listed(parse_pnp_index(".pnp.cjs", PNP_CJS).unwrap());
        assert_eq!(
            listed(parse_pnp_index(".pnp.data.json", json.as_bytes()).unwrap()),
            inline
        );
        let pnp_js = format!(
            "function $$SETUP_STATE(hydrateRuntimeState, basePath) {{\n  return hydrateRuntimeState({json}, {{basePath: basePath || __dirname}});\n}}\n"
        );
        assert_eq!(listed(parse_pnp_index(".pnp.js", pnp_js.as_bytes()).unwrap()), inline);
        let split = b"function $$SETUP_STATE(hydrateRuntimeState, basePath) {\n  return hydrateRuntimeState(require(\"./.pnp.data.json\"), {basePath: basePath || __dirname});\n}\n";
        assert_eq!(parse_pnp_index(".pnp.cjs", split), Ok(PnpIndex::InDataFile));
    }

    #[test]
    fn a_hostile_pnp_index_is_an_error_not_a_panic() {
        let cut = &PNP_CJS[..PNP_CJS.len().min(600)];
        assert_eq!(parse_pnp_index(".pnp.cjs", cut), Err(PnpError::Unterminated));
        assert_eq!(
            parse_pnp_index(".pnp.cjs", b"const RAW_RUNTIME_STATE =\n'{\\"),
            Err(PnpError::Unterminated)
        );
        assert_eq!(parse_pnp_index(".pnp.cjs", b"\xff\xfe"), Err(PnpError::NotUtf8));
        assert_eq!(
            parse_pnp_index(".pnp.cjs", b"module.exports = {}\n"),
            Err(PnpError::NoState)
        );
        assert_eq!(
            parse_pnp_index(".pnp.cjs", b"const RAW_RUNTIME_STATE = 42;"),
            Err(PnpError::NoState)
        );
        // Nested past serde_json's depth limit, in a field the reader skips.
        let deep = format!("{{\"x\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            parse_pnp_index(".pnp.data.json", deep.as_bytes()),
            Err(PnpError::Json(_))
        ));
        let wrong = br#"{"packageRegistryData": [["x", [["npm:1", {"packageLocation": 7}]]]]}"#;
        assert!(matches!(
            parse_pnp_index(".pnp.data.json", wrong),
            Err(PnpError::Json(_))
        ));
        assert!(matches!(
            parse_pnp_index(".pnp.cjs", b"const RAW_RUNTIME_STATE =\n'{\\'a\\': 1}';"),
            Err(PnpError::Json(_))
        ));
        // In the walk: a warning naming what was not checked, never a stopped scan.
        use crate::layer::Capture;
        let c = super::super::Collector;
        assert_eq!(c.wants("app/.pnp.cjs"), Some(MAX_PNP_INDEX));
        assert_eq!(c.wants("app/.pnp.data.json"), Some(MAX_PNP_INDEX));
        assert_eq!(c.wants("app/node_modules/x/.pnp.cjs"), None);
        let e = c.too_large("app/.pnp.cjs", MAX_PNP_INDEX + 1, MAX_PNP_INDEX);
        assert!(!e.fatal && e.message.contains("NOT checked"), "{}", e.message);
        let e = c.capture("app/.pnp.cjs", cut).unwrap_err();
        assert!(!e.fatal && e.message.contains("NOT checked"), "{}", e.message);
    }

    #[test]
    fn a_virtual_location_is_the_real_one_and_dot_dot_stops_at_the_root() {
        // A package with peer dependencies, as Yarn writes it into `.pnp.cjs`: depth 0 from
        // `.yarn` is `.yarn/cache/…`.
        let (file, _) = expected_location(
            "app",
            "./.yarn/__virtual__/react-dom-virtual-1cb40a477a/0/cache/react-dom-npm-18.3.1-a805663f38-a752496c19.zip/node_modules/react-dom/",
        );
        assert_eq!(file, "app/.yarn/cache/react-dom-npm-18.3.1-a805663f38-a752496c19.zip");
        // Yarn 4's global cache seen from `/app`: depth 3 from `app/.yarn` is the image root.
        let (file, _) = expected_location(
            "app",
            "./.yarn/__virtual__/x-virtual-0123abcd/3/root/.yarn/berry/cache/x-npm-1.0.0-0123456789-10c0.zip/node_modules/x/",
        );
        assert_eq!(file, "root/.yarn/berry/cache/x-npm-1.0.0-0123456789-10c0.zip");
        let (file, _) = expected_location("", "../../../../x.zip/node_modules/x/");
        assert_eq!(file, "x.zip");
        // Hostile depths are bounded; a folder named `__virtual__` is just a folder.
        let (file, _) = expected_location("a", "./__virtual__/h/99999999999999/y/");
        assert_eq!(file, "y/package.json");
        let (file, _) = expected_location("a", "./__virtual__/not-a-depth/");
        assert_eq!(file, "a/__virtual__/not-a-depth/package.json");
    }

    #[test]
    fn a_lockfile_that_is_not_berrys_is_an_error() {
        assert!(parse_lock(b"# yarn lockfile v1\n\nlodash@^4:\n  version \"4.17.21\"\n").is_err());
        assert!(parse_lock(b"__metadata:\n  version: 8\n\n\"a@npm:1\":\n  version: 1\n").is_err());
        assert!(parse_lock(b"__metadata:\n  version: 8\nnot a key\n").is_err());
        assert!(parse_lock(b"\xff\xfe").is_err());
    }
}
