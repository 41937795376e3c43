//! Arbitrary bytes as a sequence of layers (split at `SEPARATOR`): each walked, the walks
//! merged in order (whiteouts, opaque directories, files over directories), the merged view
//! compared with a naive model of the OCI rules, and the inventory built from it.
#![no_main]

#[path = "common.rs"]
mod common;

use imagegate::image::digest::Digest;
use imagegate::image::model::ImageConfig;
use imagegate::image::{Image, Layer, LayerInfo};
use imagegate::inventory::{self, Fact};
use imagegate::layer::{Change, Filesystem, NodeKind};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

/// Between two layers of an input (the seeds are built with it).
const SEPARATOR: &[u8] = b"\xffIGLAYER";
const MAX_LAYERS: usize = 8;

fn under(key: &str, path: &str) -> bool {
    path.is_empty() || key.strip_prefix(path).is_some_and(|rest| rest.starts_with('/'))
}

/// The OCI layer rules, written the slow and obvious way.
fn model_apply(model: &mut BTreeMap<String, (usize, NodeKind)>, layer: usize, changes: &[Change<Fact>]) {
    for change in changes {
        match change {
            Change::Whiteout(p) => model.retain(|k, _| k != p && !under(k, p)),
            Change::Opaque(d) => model.retain(|k, _| !under(k, d)),
            Change::Add(_) => {}
        }
    }
    for change in changes {
        let Change::Add(n) = change else { continue };
        if matches!(model.get(&n.path), Some((_, NodeKind::Dir))) && n.kind != NodeKind::Dir {
            model.retain(|k, _| !under(k, &n.path));
        }
        model.insert(n.path.clone(), (layer, n.kind.clone()));
    }
}

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut layers = Vec::new();
    let mut rest = data;
    while layers.len() + 1 < MAX_LAYERS {
        match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(i) => {
                layers.push(&rest[..i]);
                rest = &rest[i + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    layers.push(rest);
    layers
}

fuzz_target!(|data: &[u8]| {
    let limits = common::limits();
    let mut fs = Filesystem::default();
    let mut model = BTreeMap::new();
    let mut layers = Vec::new();
    for blob in split(data) {
        let Some(walk) = common::walk(blob, &limits) else {
            continue;
        };
        let index = layers.len();
        model_apply(&mut model, index, &walk.changes);
        fs.apply(index, walk.changes);
        layers.push(Layer {
            info: LayerInfo {
                index,
                digest: walk.blob_digest,
                diff_id: walk.diff_id,
                media_type: String::new(),
                compression: walk.compression,
                compressed_size: walk.blob_size,
                uncompressed_size: walk.uncompressed_size,
                created_by: None,
            },
            warnings: walk.warnings,
        });
    }
    let merged: Vec<(String, usize, NodeKind)> =
        fs.nodes().map(|(p, n)| (p.clone(), n.layer, n.kind.clone())).collect();
    let expected: Vec<(String, usize, NodeKind)> = model.into_iter().map(|(p, (l, k))| (p, l, k)).collect();
    assert_eq!(merged, expected, "merged view differs from the OCI rules");

    let inventory = inventory::build(Image {
        reference: "fuzz".into(),
        manifest_digest: None,
        config_digest: Digest::sha256_of(b"{}"),
        repo_tags: Vec::new(),
        config: ImageConfig::default(),
        layers,
        fs,
    });
    // Every package is attributed to a layer of the image.
    let count = inventory.image.layer_count;
    assert!(inventory.apk.iter().all(|p| p.layer.index < count));
    assert!(inventory.npm.iter().all(|p| p.layer.index < count));
});
