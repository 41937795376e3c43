//! Arbitrary bytes as one layer blob (gzip, zstd or plain tar, sniffed): the tar walk, the
//! hardlink second pass, then the merged view of that single layer and its queries.
#![no_main]

#[path = "common.rs"]
mod common;

use imagegate::layer::{Change, Filesystem, NodeKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = common::limits();
    let Some(walk) = common::walk(data, &limits) else {
        return;
    };
    for change in &walk.changes {
        let path = match change {
            Change::Add(n) => &n.path,
            Change::Whiteout(p) | Change::Opaque(p) => p,
        };
        // Normalized: relative, no empty, `.` or `..` component.
        assert!(!path.starts_with('/'), "{path:?}");
        assert!(
            path.split('/').all(|p| !matches!(p, "" | "." | "..")) || path.is_empty(),
            "{path:?}"
        );
    }
    let mut fs = Filesystem::default();
    fs.apply(0, walk.changes);
    let paths: Vec<String> = fs.nodes().map(|(p, _)| p.clone()).collect();
    for path in &paths {
        let node = fs.get(path).expect("listed node");
        if matches!(node.kind, NodeKind::File { .. }) {
            assert!(fs.file_size(node).is_some());
        }
        if let Some(resolved) = fs.resolve(path) {
            // Symlinks never lead out of the image root.
            assert!(
                !resolved.starts_with('/') && !resolved.split('/').any(|p| p == ".."),
                "{resolved:?}"
            );
        }
        let _ = fs.introduced(path, |_| true);
    }
});
