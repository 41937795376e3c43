//! Applies layer changes in order (whiteouts first, then additions, as the OCI spec says) to
//! get the filesystem the container really sees, and keeps the history of every captured file
//! so a package can be tied to the layer that introduced it.

use super::{Change, Node, NodeKind};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque, btree_map};
use std::ops::Bound;

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
///
/// Merging costs O(entries · log n) whatever the whiteouts: a removal only visits what is
/// still there (`nodes`, and `live`: the captured paths that hold a fact), and every path it
/// visits it removes, so each addition is paid for once however many markers name it.
#[derive(Debug)]
pub struct Filesystem<F> {
    nodes: BTreeMap<String, FsNode>,
    history: BTreeMap<String, Vec<Event<F>>>,
    /// The keys of `history` whose last event holds a fact.
    live: BTreeSet<String>,
    tally: SizeTally,
}

impl<F> Default for Filesystem<F> {
    fn default() -> Self {
        Filesystem {
            nodes: BTreeMap::new(),
            history: BTreeMap::new(),
            live: BTreeSet::new(),
            tally: SizeTally::default(),
        }
    }
}

/// The merge's byte accounting, kept as it goes: every added, overwritten and deleted file
/// passes through [`Filesystem::apply`], so explaining an image's size needs no second walk.
///
/// Two views. Ours: the bytes of each layer that later layers overwrite or delete (`hidden`:
/// what squashing the layers would save). Dive's (`wagoodman/dive`, `--ci`): every leaf entry
/// of every layer is a visit of its path; a deletion is a visit of 0 bytes (a deleted
/// directory: the bytes below it, as a first visit); a path visited twice or more is
/// inefficient and all its visits count as wasted, the surviving copy included; efficiency is
/// the sum over paths of their smallest visit over the sum of all visits. Dive ignores
/// opaque markers, so they are no visits here either.
#[derive(Clone, Debug, Default)]
pub struct SizeTally {
    /// Per layer: bytes of the regular files its entries add.
    pub added: Vec<u64>,
    /// Per layer: bytes of its files that a later layer (or a later entry of the same
    /// layer) overwrote or deleted.
    pub hidden: Vec<u64>,
    /// Paths visited more than once.
    rewritten: HashMap<String, Rewrite>,
    /// Bytes of all visits.
    visited: u64,
}

#[derive(Clone, Copy, Debug)]
struct Rewrite {
    cumulative: u64,
    smallest: u64,
}

impl SizeTally {
    fn grow(&mut self, layer: usize) {
        if self.added.len() <= layer {
            self.added.resize(layer + 1, 0);
            self.hidden.resize(layer + 1, 0);
        }
    }

    /// A visit of `path` with `size` bytes; `previous` is the size of its earlier visit when
    /// the path exists below (as a file, link or other non-directory).
    fn visit(&mut self, path: &str, previous: Option<u64>, size: u64) {
        self.visited += size;
        if let Some(r) = self.rewritten.get_mut(path) {
            r.cumulative += size;
            r.smallest = r.smallest.min(size);
        } else if let Some(prev) = previous {
            self.rewritten.insert(
                path.to_string(),
                Rewrite {
                    cumulative: prev + size,
                    smallest: prev.min(size),
                },
            );
        }
    }

    /// Dive's wasted bytes: all visits of the paths visited more than once.
    pub fn wasted(&self) -> u64 {
        self.rewritten.values().map(|r| r.cumulative).sum()
    }

    /// Dive's efficiency: 1.0 for an image without bytes.
    pub fn efficiency(&self) -> f64 {
        if self.visited == 0 {
            return 1.0;
        }
        let excess: u64 = self.rewritten.values().map(|r| r.cumulative - r.smallest).sum();
        self.visited.saturating_sub(excess) as f64 / self.visited as f64
    }

    /// How many paths were written more than once.
    pub fn rewritten_paths(&self) -> usize {
        self.rewritten.len()
    }
}

/// Bytes a node holds itself (a regular file's size; links and directories hold none).
fn own_size(kind: &NodeKind) -> u64 {
    match kind {
        NodeKind::File { size, .. } => *size,
        _ => 0,
    }
}

/// The `n` largest of `items` by size, largest first (ties by path).
fn top_n<'a>(items: impl Iterator<Item = (&'a str, u64)>, n: usize) -> Vec<(String, u64)> {
    let mut heap: BinaryHeap<Reverse<(u64, Reverse<&'a str>)>> = BinaryHeap::with_capacity(n + 1);
    for (path, size) in items {
        let item = Reverse((size, Reverse(path)));
        // Full, and no larger than the smallest kept: it would be the one popped.
        if heap.len() >= n && heap.peek().is_none_or(|smallest| item >= *smallest) {
            continue;
        }
        heap.push(item);
        if heap.len() > n {
            heap.pop();
        }
    }
    let mut out: Vec<(String, u64)> = heap
        .into_iter()
        .map(|Reverse((size, Reverse(path)))| (path.to_string(), size))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Keys of `keys` equal to `path` (when `include_self`) or below `path/`. An empty `path` is
/// the root, below which everything lies.
fn keys_under<'a>(keys: impl RangeKeys<'a>, path: &str, include_self: bool) -> Vec<String> {
    if path.is_empty() {
        return keys.all();
    }
    let mut found: Vec<String> = if include_self && keys.has(path) {
        vec![path.to_string()]
    } else {
        Vec::new()
    };
    // Every key below `path/` sorts between `path/` and `path0` ('0' follows '/').
    found.extend(keys.between(&format!("{path}/"), &format!("{path}0")));
    found
}

/// The ordered key sets a removal looks into.
trait RangeKeys<'a> {
    fn all(self) -> Vec<String>;
    fn has(&self, key: &str) -> bool;
    fn between(self, lo: &str, hi: &str) -> Vec<String>;
}

impl<'a, V> RangeKeys<'a> for &'a BTreeMap<String, V> {
    fn all(self) -> Vec<String> {
        self.keys().cloned().collect()
    }
    fn has(&self, key: &str) -> bool {
        self.contains_key(key)
    }
    fn between(self, lo: &str, hi: &str) -> Vec<String> {
        self.range::<str, _>((Bound::Included(lo), Bound::Excluded(hi)))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

impl<'a> RangeKeys<'a> for &'a BTreeSet<String> {
    fn all(self) -> Vec<String> {
        self.iter().cloned().collect()
    }
    fn has(&self, key: &str) -> bool {
        self.contains(key)
    }
    fn between(self, lo: &str, hi: &str) -> Vec<String> {
        self.range::<str, _>((Bound::Included(lo), Bound::Excluded(hi)))
            .cloned()
            .collect()
    }
}

/// The removals of one layer, each path once (a whiteout of `p` covers the opaque marker of
/// `p`), in path order. Each removal then costs a range lookup plus what it removes.
fn dedup_removals(markers: impl Iterator<Item = (String, bool)>) -> BTreeMap<String, bool> {
    let mut once: BTreeMap<String, bool> = BTreeMap::new();
    for (path, include_self) in markers {
        *once.entry(path).or_default() |= include_self;
    }
    once
}

impl<F: Clone> Filesystem<F> {
    /// Applies the next layer (layers must come in order, bottom first).
    pub fn apply(&mut self, layer: usize, changes: Vec<Change<F>>) {
        self.tally.grow(layer);
        // Removals first, whatever their place in the layer; the markers are few, so their
        // paths are copied rather than the layer's changes moved into two new vectors.
        let markers = changes.iter().filter_map(|change| match change {
            Change::Opaque(dir) => Some((dir.clone(), false)),
            Change::Whiteout(path) => Some((path.clone(), true)),
            Change::Add(_) => None,
        });
        for (path, include_self) in dedup_removals(markers) {
            if include_self {
                // A whiteout is a visit of its path in dive's count: 0 bytes for a file; for
                // a directory, a first visit of the bytes below it.
                match self.nodes.get(&path).map(|n| &n.kind) {
                    Some(NodeKind::Dir) => {
                        let below = self.bytes_under(&path);
                        self.tally.visit(&path, None, below);
                    }
                    Some(kind) => {
                        let previous = own_size(kind);
                        self.tally.visit(&path, Some(previous), 0);
                    }
                    None => {}
                }
            }
            self.remove_under(layer, &path, include_self);
        }
        for change in changes {
            let Change::Add(node) = change else { continue };
            let size = own_size(&node.kind);
            self.tally.added[layer] += size;
            // Most paths are new: one lookup does it (a layer of tens of thousands of files).
            let node = match self.nodes.entry(node.path) {
                btree_map::Entry::Vacant(v) => {
                    if node.kind != NodeKind::Dir {
                        self.tally.visit(v.key(), None, size);
                    }
                    // A path without a node holds no fact: nothing to forget.
                    debug_assert!(!self.live.contains(v.key()));
                    if let Some(fact) = node.fact {
                        self.history.entry(v.key().clone()).or_default().push(Event {
                            layer,
                            fact: Some(fact),
                        });
                        self.live.insert(v.key().clone());
                    }
                    v.insert(FsNode { layer, kind: node.kind });
                    continue;
                }
                btree_map::Entry::Occupied(o) => Node {
                    path: o.key().clone(),
                    kind: node.kind,
                    fact: node.fact,
                },
            };
            let below = self
                .nodes
                .get(&node.path)
                .map(|n| (n.layer, own_size(&n.kind), n.kind == NodeKind::Dir));
            if let Some((lower, lower_size, _)) = below {
                self.tally.hidden[lower] += lower_size;
            }
            if node.kind != NodeKind::Dir {
                let previous = below.filter(|b| !b.2).map(|b| b.1);
                self.tally.visit(&node.path, previous, size);
            }
            let replaces_dir = below.is_some_and(|b| b.2);
            if replaces_dir && node.kind != NodeKind::Dir {
                // A file over a directory hides the whole lower directory.
                self.remove_under(layer, &node.path, false);
            }
            match node.fact {
                Some(fact) => {
                    self.history.entry(node.path.clone()).or_default().push(Event {
                        layer,
                        fact: Some(fact),
                    });
                    self.live.insert(node.path.clone());
                }
                None => self.forget(layer, &node.path),
            }
            self.nodes.insert(node.path, FsNode { layer, kind: node.kind });
        }
    }

    /// Bytes of the regular files below `path`.
    fn bytes_under(&self, path: &str) -> u64 {
        keys_under(&self.nodes, path, false)
            .iter()
            .filter_map(|k| self.nodes.get(k))
            .map(|n| own_size(&n.kind))
            .sum()
    }

    fn remove_under(&mut self, layer: usize, path: &str, include_self: bool) {
        for key in keys_under(&self.nodes, path, include_self) {
            if let Some(gone) = self.nodes.remove(&key) {
                self.tally.hidden[gone.layer] += own_size(&gone.kind);
            }
        }
        for key in keys_under(&self.live, path, include_self) {
            self.forget(layer, &key);
        }
    }

    /// Records that a captured path no longer holds its fact.
    fn forget(&mut self, layer: usize, path: &str) {
        if self.live.remove(path)
            && let Some(events) = self.history.get_mut(path)
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

    /// The nodes with content: regular files and hardlinks, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&String, &FsNode)> {
        self.nodes
            .iter()
            .filter(|(_, n)| matches!(n.kind, NodeKind::File { .. } | NodeKind::Hardlink { .. }))
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The byte accounting of the layers applied so far.
    pub fn tally(&self) -> &SizeTally {
        &self.tally
    }

    /// Bytes of the regular files in the merged filesystem (hardlinks count once).
    pub fn visible_bytes(&self) -> u64 {
        self.nodes.values().map(|n| own_size(&n.kind)).sum()
    }

    /// The `n` largest regular files of the merged filesystem, largest first, with the layer
    /// that wrote each. A heap of `n`: nothing beyond the merge's own map is held.
    pub fn largest_files(&self, n: usize) -> Vec<(String, u64, usize)> {
        let files = self.nodes.iter().filter_map(|(p, node)| match node.kind {
            NodeKind::File { size, .. } => Some((p.as_str(), size)),
            _ => None,
        });
        top_n(files, n)
            .into_iter()
            .map(|(p, size)| {
                let layer = self.nodes.get(&p).map(|node| node.layer).unwrap_or(0);
                (p, size, layer)
            })
            .collect()
    }

    /// The `n` largest directories of the merged filesystem by the bytes of the regular files
    /// below them (at any depth), largest first. The root is left out (it is the image).
    ///
    /// One pass over the sorted paths, no map: everything below `dir/` is one run of keys in
    /// that order (a prefix's keys are contiguous), so a stack holds the directories above the
    /// current path, each with the bytes seen below it so far; a directory is complete, and
    /// handed to the top-n, when the first path outside it comes.
    pub fn largest_dirs(&self, n: usize) -> Vec<(String, u64)> {
        let mut open: Vec<(&str, u64)> = Vec::new();
        let mut done: Vec<(&str, u64)> = Vec::new();
        // Closes the innermost open directory: its bytes count for its parent too.
        fn close<'a>(open: &mut Vec<(&'a str, u64)>, done: &mut Vec<(&'a str, u64)>) {
            if let Some((dir, bytes)) = open.pop() {
                if let Some(parent) = open.last_mut() {
                    parent.1 += bytes;
                }
                done.push((dir, bytes));
            }
        }
        for (path, node) in &self.nodes {
            let size = own_size(&node.kind);
            if size == 0 {
                continue;
            }
            while let Some(&(dir, _)) = open.last() {
                let inside = path.len() > dir.len() && path.as_bytes()[dir.len()] == b'/' && path.starts_with(dir);
                if inside {
                    break;
                }
                close(&mut open, &mut done);
            }
            let from = open.last().map_or(0, |(dir, _)| dir.len() + 1);
            for (i, _) in path[from..].match_indices('/') {
                open.push((&path[..from + i], 0));
            }
            if let Some(innermost) = open.last_mut() {
                innermost.1 += size;
            }
        }
        while !open.is_empty() {
            close(&mut open, &mut done);
        }
        top_n(done.into_iter(), n)
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

    /// Takes the history of a captured path out of the filesystem (what holds its facts).
    pub fn take_history(&mut self, path: &str) -> Vec<Event<F>> {
        self.live.remove(path);
        self.history.remove(path).unwrap_or_default()
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

    /// 20,000 captured files and 20,000 copies of one whiteout, then of the root's opaque
    /// marker: each marker used to rescan every captured path (minutes); now each removal
    /// visits only what it removes.
    #[test]
    fn many_copies_of_a_marker_merge_in_linear_time() {
        const N: usize = 20_000;
        let start = std::time::Instant::now();
        let mut fs = Filesystem::default();
        let mut base = vec![dir("app"), dir("app/node_modules")];
        base.extend((0..N).map(|i| file(&format!("app/node_modules/p{i}/package.json"), Some("pkg"))));
        fs.apply(0, base);
        fs.apply(1, (0..N).map(|_| Change::Whiteout("app/node_modules".into())).collect());
        assert_eq!(fs.facts().count(), 0);
        assert!(fs.get("app").is_some() && fs.get("app/node_modules").is_none());
        // The same files again, then the root opaque marker N times.
        let mut again = vec![dir("app/node_modules")];
        again.extend((0..N).map(|i| file(&format!("app/node_modules/p{i}/package.json"), Some("pkg"))));
        fs.apply(2, again);
        assert_eq!(fs.facts().count(), N);
        fs.apply(3, (0..N).map(|_| Change::Opaque(String::new())).collect());
        assert_eq!(fs.facts().count(), 0);
        assert!(fs.is_empty());
        // Each deleted path's history says where it went, once.
        assert_eq!(fs.history("app/node_modules/p7/package.json").len(), 4);
        let took = start.elapsed();
        assert!(took < std::time::Duration::from_secs(10), "merge took {took:?}");
    }

    #[test]
    fn whiteouts_of_one_layer_never_touch_its_own_additions() {
        let mut fs = Filesystem::default();
        fs.apply(0, vec![dir("d"), file("d/a", Some("a0"))]);
        fs.apply(
            1,
            vec![
                file("d/a", Some("a1")),
                Change::Whiteout("d".into()),
                Change::Opaque("d".into()),
                Change::Whiteout("d/a".into()),
            ],
        );
        assert_eq!(fs.fact("d/a"), Some(&"a1"));
        assert_eq!(fs.introduced("d/a", |f| *f == "a1"), Some(1));
        // A sibling sharing the prefix survives a whiteout of `d`.
        fs.apply(2, vec![file("d-x", Some("x")), file("d0", Some("y"))]);
        fs.apply(3, vec![Change::Whiteout("d".into())]);
        assert_eq!(fs.fact("d/a"), None);
        assert_eq!(fs.fact("d-x"), Some(&"x"));
        assert_eq!(fs.fact("d0"), Some(&"y"));
    }

    #[test]
    fn a_file_over_a_directory_hides_it() {
        let mut fs = Filesystem::default();
        fs.apply(0, vec![dir("x"), file("x/y", Some("y"))]);
        fs.apply(1, vec![file("x", None)]);
        assert!(fs.get("x/y").is_none());
        assert_eq!(fs.fact("x/y"), None);
    }

    fn sized(path: &str, size: u64) -> Change<&'static str> {
        Change::Add(Node {
            path: path.into(),
            kind: NodeKind::File { size, mode: 0o644 },
            fact: None,
        })
    }

    /// The figures dive 0.13 prints for the same layers: a file rewritten bigger (both copies
    /// are wasted, the smaller one is the path's minimum), a file deleted (its bytes are
    /// wasted and it has a minimum of 0), a directory deleted (a first visit of the bytes
    /// below it: not wasted as dive counts it, but hidden as we count it).
    #[test]
    fn size_tally_matches_dive_and_says_what_later_layers_hide() {
        let mut fs: Filesystem<&str> = Filesystem::default();
        fs.apply(
            0,
            vec![
                dir("etc"),
                sized("etc/big", 1000),
                sized("etc/keep", 500),
                dir("cache"),
                sized("cache/a", 300),
                sized("cache/b", 200),
            ],
        );
        fs.apply(1, vec![sized("etc/big", 1200), sized("tmp.tar", 4000)]);
        fs.apply(
            2,
            vec![Change::Whiteout("tmp.tar".into()), Change::Whiteout("cache".into())],
        );
        let t = fs.tally();
        assert_eq!(t.added, vec![2000, 5200, 0]);
        // Layer 0: etc/big (1000) rewritten, cache/* (500) deleted; layer 1: tmp.tar deleted.
        assert_eq!(t.hidden, vec![1500, 4000, 0]);
        assert_eq!(fs.visible_bytes(), 2000 + 5200 - 1500 - 4000);
        // Dive: etc/big 1000+1200 and tmp.tar 4000+0 are inefficient.
        assert_eq!(t.wasted(), 6200);
        assert_eq!(t.rewritten_paths(), 2);
        // Visits: 2000 + 5200 + 0 + 500 (the deleted directory); excess: 1200 + 4000.
        let expected = (7700.0 - 5200.0) / 7700.0;
        assert!((t.efficiency() - expected).abs() < 1e-12, "{}", t.efficiency());
        assert_eq!(
            fs.largest_files(2),
            vec![("etc/big".to_string(), 1200, 1), ("etc/keep".to_string(), 500, 0)]
        );
        assert_eq!(fs.largest_dirs(5), vec![("etc".to_string(), 1700)]);
    }

    #[test]
    fn opaque_markers_hide_bytes_but_are_no_visits_for_dive() {
        let mut fs: Filesystem<&str> = Filesystem::default();
        fs.apply(0, vec![dir("d"), sized("d/old", 100)]);
        fs.apply(1, vec![Change::Opaque("d".into()), sized("d/new", 10)]);
        assert_eq!(fs.tally().hidden, vec![100, 0]);
        assert_eq!(fs.tally().wasted(), 0);
        assert_eq!(fs.tally().efficiency(), 1.0);
        assert_eq!(Filesystem::<&str>::default().tally().efficiency(), 1.0);
    }

    #[test]
    fn largest_keeps_only_the_top_n() {
        let mut fs: Filesystem<&str> = Filesystem::default();
        let files: Vec<_> = (0..100u64).map(|i| sized(&format!("a/b{}/f", i % 7), i)).collect();
        fs.apply(0, files);
        let top = fs.largest_files(3);
        assert_eq!(top.len(), 3);
        assert!(top[0].1 >= top[1].1 && top[1].1 >= top[2].1);
        let dirs = fs.largest_dirs(2);
        assert_eq!(dirs[0].0, "a");
        assert_eq!(dirs[0].1, fs.visible_bytes());
    }

    /// The one-pass directory totals against the plain definition (every ancestor of every
    /// file gets its bytes), on names whose sort order interleaves a directory's siblings
    /// with its children (`b-x` and `b.c` sort before `b/`).
    #[test]
    fn largest_dirs_sums_every_ancestor_whatever_the_sort_order_of_names() {
        let mut fs: Filesystem<&str> = Filesystem::default();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let names = ["b", "b-x", "b.c", "b0", "a", "", "z"];
        let mut changes = vec![sized("top", 7), sized("b-x", 3), sized("zero/empty", 0)];
        for i in 0..400u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let depth = 1 + (x % 4) as usize;
            let mut path = String::new();
            for d in 0..depth {
                let name = names[((x >> (8 * d)) % names.len() as u64) as usize];
                path.push_str(if name.is_empty() { "q" } else { name });
                path.push('/');
            }
            path.push_str(&format!("f{i}"));
            changes.push(sized(&path, x % 1000));
        }
        fs.apply(0, changes);
        let mut expected: HashMap<String, u64> = HashMap::new();
        for (path, node) in &fs.nodes {
            for (i, _) in path.match_indices('/') {
                *expected.entry(path[..i].to_string()).or_default() += own_size(&node.kind);
            }
        }
        expected.retain(|_, bytes| *bytes > 0);
        let mut expected: Vec<(String, u64)> = expected.into_iter().collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        assert!(
            expected.len() > 50,
            "the tree is too small to test anything: {}",
            expected.len()
        );
        assert_eq!(fs.largest_dirs(expected.len() + 5), expected);
        assert_eq!(fs.largest_dirs(10), expected[..10].to_vec());
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
