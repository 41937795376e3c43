//! pnpm: the virtual store and its lockfiles.
//!
//! pnpm installs every package once, at `node_modules/.pnpm/<name>@<version>[_peers]/node_modules/<name>`
//! (its files hard links into the content-addressed store), and links each direct dependency
//! into `node_modules/<name>`. The `package.json` files in the store are read like any other
//! (`npm::classify` already names them); this module reads the lockfiles that tell dev
//! dependencies apart: `node_modules/.pnpm/lock.yaml` (the "current lockfile", what this
//! `node_modules` holds) and the project's `pnpm-lock.yaml`.
//!
//! Formats read: lockfile v5.x (`/name/1.0.0` keys, `dev:` flags), v6 (`/name@1.0.0`, `dev:`)
//! and v9 (`name@1.0.0`, no flags: dev is what only `devDependencies` reach through
//! `snapshots`), including pnpm 11's multi-document form (an "env" document with pnpm's own
//! `packageManagerDependencies` first, the project's graph last). Anything else is an error:
//! a lockfile we cannot read is reported, never read as "no packages".

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use yaml_rust2::parser::{Event, Parser};

/// Deeper than any lockfile pnpm writes (about 5 levels); a bound on the tree we build.
const MAX_DEPTH: usize = 32;

/// What kind of pnpm file a path is, from the path alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PnpmFile {
    /// `…/node_modules/.pnpm/lock.yaml`: what this node_modules holds.
    CurrentLockfile,
    /// A project's `pnpm-lock.yaml`, outside any node_modules.
    ProjectLockfile,
}

pub fn classify(path: &str) -> Option<PnpmFile> {
    if let Some(dir) = path.strip_suffix("/.pnpm/lock.yaml") {
        return (dir == "node_modules" || dir.ends_with("/node_modules")).then_some(PnpmFile::CurrentLockfile);
    }
    // Every file of an image passes here: the end of the path turns most away unsplit.
    if !path.ends_with("pnpm-lock.yaml") {
        return None;
    }
    let base = path.rsplit('/').next().unwrap_or(path);
    (base == "pnpm-lock.yaml" && !path.split('/').any(|p| p == "node_modules")).then_some(PnpmFile::ProjectLockfile)
}

/// The lockfile paths that may describe the project rooted at `root` (`""` for the image root),
/// best first.
pub fn lockfiles_of(root: &str) -> [String; 2] {
    let join = |p: &str| {
        if root.is_empty() {
            p.to_string()
        } else {
            format!("{root}/{p}")
        }
    };
    [join("node_modules/.pnpm/lock.yaml"), join("pnpm-lock.yaml")]
}

/// A pnpm lockfile, reduced to what the inventory asks of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PnpmLock {
    /// `lockfileVersion` as written (`9.0`, `6.0`, `5.4`).
    pub version: String,
    /// (name, version) → whether it is a dev dependency only.
    pub packages: BTreeMap<(String, String), bool>,
}

impl PnpmLock {
    pub fn dev(&self, name: &str, version: &str) -> Option<bool> {
        self.packages.get(&(name.to_string(), version.to_string())).copied()
    }
}

/// A YAML node as pnpm writes them: no aliases, no tags that matter, scalar keys.
#[derive(Debug)]
enum Node {
    Scalar(String),
    Seq,
    Map(BTreeMap<String, Node>),
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.get(key),
            _ => None,
        }
    }
    fn str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }
    fn entries(&self) -> impl Iterator<Item = (&String, &Node)> {
        let map = match self {
            Node::Map(m) => Some(m),
            _ => None,
        };
        map.into_iter().flatten()
    }
}

/// Parses every document of a YAML stream, without recursion and without aliases (pnpm never
/// writes them, and expanding them is how a small file becomes a huge tree).
fn documents(text: &str) -> Result<Vec<Node>, String> {
    enum Open {
        Seq,
        Map(BTreeMap<String, Node>, Option<String>),
    }
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            format!(
                "not valid YAML (line {}, column {})",
                e.marker().line(),
                e.marker().col() + 1
            )
        })?;
        let done = match event {
            Event::StreamEnd => break,
            Event::Alias(_) => {
                return Err(format!("YAML alias at line {}: pnpm never writes one", mark.line()));
            }
            Event::SequenceStart(..) => {
                stack.push(Open::Seq);
                None
            }
            Event::MappingStart(..) => {
                stack.push(Open::Map(BTreeMap::new(), None));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq) => Some(Node::Seq),
                _ => return Err("unbalanced YAML sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(m, None)) => Some(Node::Map(m)),
                _ => return Err("unbalanced YAML mapping".into()),
            },
            Event::Scalar(s, ..) => Some(Node::Scalar(s)),
            _ => None,
        };
        if stack.len() > MAX_DEPTH {
            return Err(format!(
                "YAML nested deeper than {MAX_DEPTH} levels at line {}",
                mark.line()
            ));
        }
        let Some(node) = done else { continue };
        match stack.last_mut() {
            None => docs.push(node),
            Some(Open::Seq) => {} // pnpm's sequences (cpu, os, …) carry nothing the inventory needs
            Some(Open::Map(m, key)) => match key.take() {
                None => match node {
                    Node::Scalar(k) => *key = Some(k),
                    _ => {
                        return Err(format!(
                            "a YAML mapping key that is not a string at line {}",
                            mark.line()
                        ));
                    }
                },
                Some(k) => {
                    m.insert(k, node);
                }
            },
        }
    }
    Ok(docs)
}

/// Parses a pnpm lockfile (`pnpm-lock.yaml` or `node_modules/.pnpm/lock.yaml`).
pub fn parse(bytes: &[u8]) -> Result<PnpmLock, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("pnpm lockfile is not UTF-8 ({e})"))?;
    let docs = documents(text)?;
    // The project's graph is the last document (pnpm 11 writes its own env document first).
    let doc = docs
        .iter()
        .rev()
        .find(|d| d.get("lockfileVersion").is_some())
        .ok_or("not a pnpm lockfile: no document states a lockfileVersion")?;
    let version = doc
        .get("lockfileVersion")
        .and_then(Node::str)
        .ok_or("lockfileVersion is not a string or number")?
        .to_string();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| "lockfileVersion is not a number".to_string())?;
    let packages = match major {
        5 | 6 => flagged(doc, major),
        9 => reached(doc),
        _ => {
            return Err(format!(
                "pnpm lockfile version {version} is not one imagegate reads (5.x, 6.0, 9.0)"
            ));
        }
    };
    Ok(PnpmLock { version, packages })
}

/// Splits `name@1.0.0(peer@2.0.0)` (v9 keys, v6 keys without their `/`) into name and version.
fn split_at_version(key: &str) -> Option<(&str, &str)> {
    let at = key.get(1..)?.find('@')? + 1;
    let version = &key[at + 1..];
    let version = version.split('(').next().unwrap_or(version);
    (!version.is_empty()).then_some((&key[..at], version))
}

/// Splits a v5 key `/name/1.0.0_peer@2.0.0` or `/@scope/name/1.0.0` into name and version.
fn split_v5(key: &str) -> Option<(&str, &str)> {
    let key = key.strip_prefix('/')?;
    let slash = if key.starts_with('@') {
        key.find('/').and_then(|i| key[i + 1..].find('/').map(|j| i + 1 + j))?
    } else {
        key.find('/')?
    };
    let version = &key[slash + 1..];
    let version = version.split('_').next().unwrap_or(version);
    (!version.is_empty()).then_some((&key[..slash], version))
}

/// v5 and v6: each package says `dev: true` (dev only), `dev: false` (prod only), or nothing
/// (both), which makes it shipped code.
fn flagged(doc: &Node, major: u32) -> BTreeMap<(String, String), bool> {
    let mut out: BTreeMap<(String, String), bool> = BTreeMap::new();
    for (key, entry) in doc.get("packages").map(Node::entries).into_iter().flatten() {
        let split = if major == 5 {
            split_v5(key)
        } else {
            key.strip_prefix('/').and_then(split_at_version)
        };
        let Some((name, version)) = split else { continue };
        let dev = entry.get("dev").and_then(Node::str) == Some("true");
        let slot = out.entry((name.to_string(), version.to_string())).or_insert(dev);
        *slot = *slot && dev;
    }
    out
}

/// v9: no flags. What the importers' `dependencies` and `optionalDependencies` reach through
/// `snapshots` ships; what only `devDependencies` reach is dev.
fn reached(doc: &Node) -> BTreeMap<(String, String), bool> {
    let snapshots = doc.get("snapshots");
    let snapshot_deps = |key: &str| -> Vec<String> {
        let Some(s) = snapshots.and_then(|s| s.get(key)) else {
            return Vec::new();
        };
        ["dependencies", "optionalDependencies"]
            .iter()
            .flat_map(|f| s.get(f).map(Node::entries).into_iter().flatten())
            .filter_map(|(name, v)| v.str().map(|v| dep_key(name, v)))
            .collect()
    };
    let mut prod: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<String> = Vec::new();
    for (_, importer) in doc.get("importers").map(Node::entries).into_iter().flatten() {
        for field in ["dependencies", "optionalDependencies"] {
            for (name, dep) in importer.get(field).map(Node::entries).into_iter().flatten() {
                if let Some(v) = dep.get("version").and_then(Node::str) {
                    pending.push(dep_key(name, v));
                }
            }
        }
    }
    while let Some(k) = pending.pop() {
        if prod.insert(k.clone()) {
            pending.extend(snapshot_deps(&k));
        }
    }
    let mut out: BTreeMap<(String, String), bool> = BTreeMap::new();
    let keys = snapshots
        .map(Node::entries)
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .chain(
            doc.get("packages")
                .map(Node::entries)
                .into_iter()
                .flatten()
                .map(|(k, _)| k),
        );
    for key in keys {
        let Some((name, version)) = split_at_version(key) else {
            continue;
        };
        let dev = !prod.contains(key);
        let slot = out.entry((name.to_string(), version.to_string())).or_insert(dev);
        *slot = *slot && dev;
    }
    // A `packages` key has no peer suffix: it is prod if any of its snapshots is.
    for k in &prod {
        if let Some((name, version)) = split_at_version(k) {
            out.insert((name.to_string(), version.to_string()), false);
        }
    }
    out
}

/// The snapshot key a dependency points at: `name@version(peers)`, or the alias target
/// (`alias: real@1.0.0`) as written.
fn dep_key(name: &str, version: &str) -> String {
    if split_at_version(version).is_some() && !version.starts_with(|c: char| c.is_ascii_digit()) {
        version.to_string()
    } else {
        format!("{name}@{version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_lockfile_paths() {
        assert_eq!(
            classify("app/node_modules/.pnpm/lock.yaml"),
            Some(PnpmFile::CurrentLockfile)
        );
        assert_eq!(
            classify("node_modules/.pnpm/lock.yaml"),
            Some(PnpmFile::CurrentLockfile)
        );
        assert_eq!(classify("app/pnpm-lock.yaml"), Some(PnpmFile::ProjectLockfile));
        assert_eq!(classify("pnpm-lock.yaml"), Some(PnpmFile::ProjectLockfile));
        assert_eq!(classify("app/node_modules/x/pnpm-lock.yaml"), None);
        assert_eq!(classify("app/.pnpm/lock.yaml"), None);
        assert_eq!(classify("app/lock.yaml"), None);
    }

    #[test]
    fn splits_keys() {
        assert_eq!(
            split_at_version("@babel/runtime@7.15.4"),
            Some(("@babel/runtime", "7.15.4"))
        );
        assert_eq!(
            split_at_version("react-dom@18.2.0(react@18.2.0)"),
            Some(("react-dom", "18.2.0"))
        );
        assert_eq!(split_at_version("ms"), None);
        assert_eq!(split_v5("/@babel/runtime/7.15.4"), Some(("@babel/runtime", "7.15.4")));
        assert_eq!(
            split_v5("/react-dom/18.2.0_react@18.2.0"),
            Some(("react-dom", "18.2.0"))
        );
    }

    const V9: &str = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      debug:\n        specifier: 4.3.4\n        version: 4.3.4\n      react-dom:\n        specifier: 18.2.0\n        version: 18.2.0(react@18.2.0)\n    devDependencies:\n      ms:\n        specifier: 2.1.3\n        version: 2.1.3\n      is-odd:\n        specifier: 3.0.1\n        version: 3.0.1\npackages:\n  debug@4.3.4:\n    resolution: {integrity: sha512-x}\n  ms@2.1.2:\n    resolution: {integrity: sha512-x}\n  ms@2.1.3:\n    resolution: {integrity: sha512-x}\n    cpu: [x64]\nsnapshots:\n  debug@4.3.4:\n    dependencies:\n      ms: 2.1.2\n  ms@2.1.2: {}\n  ms@2.1.3: {}\n  is-odd@3.0.1:\n    dependencies:\n      is-number: 6.0.0\n  is-number@6.0.0: {}\n  react@18.2.0: {}\n  react-dom@18.2.0(react@18.2.0):\n    dependencies:\n      react: 18.2.0\n";

    #[test]
    fn v9_dev_is_what_only_dev_dependencies_reach() {
        let lock = parse(V9.as_bytes()).unwrap();
        assert_eq!(lock.version, "9.0");
        assert_eq!(lock.dev("debug", "4.3.4"), Some(false));
        assert_eq!(lock.dev("ms", "2.1.2"), Some(false));
        assert_eq!(lock.dev("react", "18.2.0"), Some(false));
        assert_eq!(lock.dev("react-dom", "18.2.0"), Some(false));
        assert_eq!(lock.dev("ms", "2.1.3"), Some(true));
        assert_eq!(lock.dev("is-number", "6.0.0"), Some(true));
        assert_eq!(lock.dev("left-pad", "1.3.0"), None);
    }

    #[test]
    fn multi_document_lockfile_reads_the_project_document() {
        let env = "---\nlockfileVersion: '9.0'\nimporters:\n  .:\n    configDependencies: {}\n    packageManagerDependencies:\n      pnpm:\n        specifier: 11.28.6\n        version: 11.28.6\npackages:\n  pnpm@11.28.6:\n    resolution: {integrity: sha512-x}\nsnapshots:\n  pnpm@11.28.6: {}\n\n---\n";
        let lock = parse(format!("{env}{V9}").as_bytes()).unwrap();
        assert_eq!(lock.dev("ms", "2.1.3"), Some(true));
        assert_eq!(lock.dev("debug", "4.3.4"), Some(false));
        assert_eq!(lock.dev("pnpm", "11.28.6"), None);
    }

    #[test]
    fn v6_and_v5_use_the_dev_flags() {
        let v6 = "lockfileVersion: '6.0'\npackages:\n  /ms@2.1.3:\n    dev: true\n  /@babel/runtime@7.15.4:\n    dev: false\n  /react-dom@18.2.0(react@18.2.0):\n    dev: false\n  /both@1.0.0:\n    resolution: {integrity: x}\n";
        let lock = parse(v6.as_bytes()).unwrap();
        assert_eq!(lock.dev("ms", "2.1.3"), Some(true));
        assert_eq!(lock.dev("@babel/runtime", "7.15.4"), Some(false));
        assert_eq!(lock.dev("react-dom", "18.2.0"), Some(false));
        assert_eq!(lock.dev("both", "1.0.0"), Some(false));
        let v5 =
            "lockfileVersion: 5.4\npackages:\n  /ms/2.1.3:\n    dev: true\n  /@babel/runtime/7.15.4:\n    dev: false\n";
        let lock = parse(v5.as_bytes()).unwrap();
        assert_eq!(lock.version, "5.4");
        assert_eq!(lock.dev("ms", "2.1.3"), Some(true));
        assert_eq!(lock.dev("@babel/runtime", "7.15.4"), Some(false));
    }

    #[test]
    fn what_cannot_be_read_is_an_error_not_an_empty_lockfile() {
        for bad in [
            &b"{\"lockfileVersion\": 9, \"packages\": ["[..], // JSON cut short
            b"lockfileVersion: '10.0'\npackages: {}\n",
            b"lockfileVersion: '3.0'\n",
            b"packages:\n  /a@1.0.0: {}\n",
            b"\xff\xfe",
            b"a: &x [1]\nb: *x\n",
            b"",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!("lockfileVersion: '9.0'\nx: {}{}\n", "[".repeat(200), "]".repeat(200));
        assert!(parse(deep.as_bytes()).is_err());
        let mut block = String::from("lockfileVersion: '9.0'\n");
        for i in 0..100 {
            block.push_str(&" ".repeat(i));
            block.push_str("k:\n");
        }
        assert!(parse(block.as_bytes()).is_err());
    }
}
