//! Applies layer changes in order (whiteouts first, then additions, as the OCI spec says) to
//! get the filesystem the container really sees, and keeps the history of every captured file
//! so a package can be tied to the layer that introduced it.

use super::{Change, NodeKind};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsNode {
    /// Index of the layer that last wrote this path.
    pub layer: usize,
    pub kind: NodeKind,
}

/// One change to a captured path: the fact a layer wrote, or `None` where a layer deleted or
/// replaced it with something not captured.
#[derive(Clone, Debug)]
pub struct Event<F> {
    pub layer: usize,
    pub fact: Option<F>,
}

/// The merged view of an image's layers.
#[derive(Debug)]
pub struct Filesystem<F> {
    nodes: BTreeMap<String, FsNode>,
    history: BTreeMap<String, Vec<Event<F>>>,
}

impl<F> Default for Filesystem<F> {
    fn default() -> Self {
        Filesystem {
            nodes: BTreeMap::new(),
            history: BTreeMap::new(),
        }
    }
}

/// Keys of `map` equal to `path` (when `include_self`) or below `path/`. An empty `path` is the
/// root, below which everything lies.
fn keys_under<V>(map: &BTreeMap<String, V>, path: &str, include_self: bool) -> Vec<String> {
    if path.is_empty() {
        return map.keys().cloned().collect();
    }
    let mut keys: Vec<String> = if include_self && map.contains_key(path) {
        vec![path.to_string()]
    } else {
        Vec::new()
    };
    // Every key below `path/` sorts between `path/` and `path0` ('0' follows '/').
    let lo = format!("{path}/");
    let hi = format!("{path}0");
    keys.extend(map.range(lo..hi).map(|(k, _)| k.clone()));
    keys
}

impl<F: Clone> Filesystem<F> {
    /// Applies the next layer (layers must come in order, bottom first).
    pub fn apply(&mut self, layer: usize, changes: Vec<Change<F>>) {
        let (removals, additions): (Vec<_>, Vec<_>) = changes.into_iter().partition(|c| !matches!(c, Change::Add(_)));
        for change in removals {
            let (path, include_self) = match &change {
                Change::Opaque(dir) => (dir.as_str(), false),
                Change::Whiteout(path) => (path.as_str(), true),
                Change::Add(_) => continue,
            };
            self.remove_under(layer, path, include_self);
        }
        for change in additions {
            let Change::Add(node) = change else { continue };
            let replaces_dir = matches!(
                self.nodes.get(&node.path),
                Some(FsNode {
                    kind: NodeKind::Dir,
                    ..
                })
            );
            if replaces_dir && node.kind != NodeKind::Dir {
                // A file over a directory hides the whole lower directory.
                self.remove_under(layer, &node.path, false);
            }
            match node.fact {
                Some(fact) => self.history.entry(node.path.clone()).or_default().push(Event {
                    layer,
                    fact: Some(fact),
                }),
                None => self.forget(layer, &node.path),
            }
            self.nodes.insert(node.path, FsNode { layer, kind: node.kind });
        }
    }

    fn remove_under(&mut self, layer: usize, path: &str, include_self: bool) {
        for key in keys_under(&self.nodes, path, include_self) {
            self.nodes.remove(&key);
        }
        for key in keys_under(&self.history, path, include_self) {
            self.forget(layer, &key);
        }
    }

    /// Records that a captured path no longer holds its fact.
    fn forget(&mut self, layer: usize, path: &str) {
        if let Some(events) = self.history.get_mut(path)
            && events.last().is_some_and(|e| e.fact.is_some())
        {
            events.push(Event { layer, fact: None });
        }
    }

    pub fn get(&self, path: &str) -> Option<&FsNode> {
        self.nodes.get(path)
    }

    pub fn nodes(&self) -> impl Iterator<Item = (&String, &FsNode)> {
        self.nodes.iter()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Size of a regular file, following a hardlink to its target.
    pub fn file_size(&self, node: &FsNode) -> Option<u64> {
        match &node.kind {
            NodeKind::File { size, .. } => Some(*size),
            NodeKind::Hardlink { target } => match self.nodes.get(target).map(|n| &n.kind) {
                Some(NodeKind::File { size, .. }) => Some(*size),
                _ => None,
            },
            _ => None,
        }
    }

    /// The fact a captured path holds in the final image, if it still exists.
    pub fn fact(&self, path: &str) -> Option<&F> {
        self.history.get(path)?.last()?.fact.as_ref()
    }

    /// Every captured path whose fact is present in the final image.
    pub fn facts(&self) -> impl Iterator<Item = (&String, &F)> {
        self.history
            .iter()
            .filter_map(|(p, ev)| Some((p, ev.last()?.fact.as_ref()?)))
    }

    /// The history of a captured path, oldest first.
    pub fn history(&self, path: &str) -> &[Event<F>] {
        self.history.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The layer from which `path` has continuously held a fact satisfying `same` up to the
    /// top: a package rewritten with the same version by a later `chown -R` layer still
    /// belongs to the layer that installed it.
    pub fn introduced(&self, path: &str, same: impl Fn(&F) -> bool) -> Option<usize> {
        let mut found = None;
        for event in self.history(path).iter().rev() {
            match &event.fact {
                Some(f) if same(f) => found = Some(event.layer),
                _ => break,
            }
        }
        found
    }

    /// Resolves symlinks in `path` the way the kernel would inside the container, so a link
    /// never leads outside the image: `..` stops at the root, absolute targets start at it.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: VecDeque<String> = path.split('/').map(str::to_string).collect();
        let mut current: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    current.pop();
                    continue;
                }
                _ => current.push(part),
            }
            let here = current.join("/");
            if let Some(FsNode {
                kind: NodeKind::Symlink { target },
                ..
            }) = self.nodes.get(&here)
            {
                hops += 1;
                if hops > 40 {
                    return None; // a loop, as ELOOP would say
                }
                current.pop();
                if target.starts_with('/') {
                    current.clear();
                }
                for piece in target.split('/').rev() {
                    pending.push_front(piece.to_string());
                }
            }
        }
        Some(current.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Node;

    fn file(path: &str, fact: Option<&'static str>) -> Change<&'static str> {
        Change::Add(Node {
            path: path.into(),
            kind: NodeKind::File { size: 1, mode: 0o644 },
            fact,
        })
    }
    fn dir(path: &str) -> Change<&'static str> {
        Change::Add(Node {
            path: path.into(),
            kind: NodeKind::Dir,
            fact: None,
        })
    }
    fn link(path: &str, target: &str) -> Change<&'static str> {
        Change::Add(Node {
            path: path.into(),
            kind: NodeKind::Symlink { target: target.into() },
            fact: None,
        })
    }

    #[test]
    fn whiteout_removes_path_and_children_but_not_siblings_with_same_prefix() {
        let mut fs = Filesystem::default();
        fs.apply(
            0,
            vec![
                dir("app"),
                file("app/a", None),
                file("app/a/b", None),
                file("app/ab", None),
            ],
        );
        fs.apply(1, vec![Change::Whiteout("app/a".into())]);
        assert!(fs.get("app/a").is_none());
        assert!(fs.get("app/a/b").is_none());
        assert!(fs.get("app/ab").is_some());
    }

    #[test]
    fn opaque_hides_lower_contents_but_keeps_the_same_layers_additions() {
        let mut fs = Filesystem::default();
        fs.apply(0, vec![dir("d"), file("d/old", Some("old"))]);
        fs.apply(1, vec![file("d/new", Some("new")), Change::Opaque("d".into())]);
        assert!(fs.get("d/old").is_none());
        assert!(fs.get("d").is_some());
        assert_eq!(fs.fact("d/new"), Some(&"new"));
        assert_eq!(fs.fact("d/old"), None);
    }

    #[test]
    fn introduced_skips_rewrites_with_the_same_fact() {
        let mut fs = Filesystem::default();
        fs.apply(0, vec![file("p", Some("v1"))]);
        fs.apply(1, vec![file("p", Some("v2"))]);
        fs.apply(2, vec![file("p", Some("v2"))]);
        assert_eq!(fs.introduced("p", |f| *f == "v2"), Some(1));
        // Deleted then re-added: introduced by the re-adding layer.
        fs.apply(3, vec![Change::Whiteout("p".into())]);
        fs.apply(4, vec![file("p", Some("v2"))]);
        assert_eq!(fs.introduced("p", |f| *f == "v2"), Some(4));
    }

    #[test]
    fn a_file_over_a_directory_hides_it() {
        let mut fs = Filesystem::default();
        fs.apply(0, vec![dir("x"), file("x/y", Some("y"))]);
        fs.apply(1, vec![file("x", None)]);
        assert!(fs.get("x/y").is_none());
        assert_eq!(fs.fact("x/y"), None);
    }

    #[test]
    fn resolve_follows_links_and_stays_inside_the_root() {
        let mut fs: Filesystem<&str> = Filesystem::default();
        fs.apply(
            0,
            vec![
                link("etc/os-release", "../usr/lib/os-release"),
                link("lib", "usr/lib"),
                link("escape", "../../../../etc/passwd"),
                link("loop1", "loop2"),
                link("loop2", "loop1"),
            ],
        );
        assert_eq!(fs.resolve("etc/os-release").as_deref(), Some("usr/lib/os-release"));
        assert_eq!(
            fs.resolve("lib/apk/db/installed").as_deref(),
            Some("usr/lib/apk/db/installed")
        );
        assert_eq!(fs.resolve("escape").as_deref(), Some("etc/passwd"));
        assert_eq!(fs.resolve("loop1"), None);
    }
}
