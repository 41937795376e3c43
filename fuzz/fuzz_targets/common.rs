//! Shared by the layer targets: one layer walked as `imagegate::image` walks it (the
//! inventory's capture, both passes), under limits small enough for a fuzzer.

use imagegate::image::digest::{Algorithm, Digest};
use imagegate::inventory::{Collector, Fact};
use imagegate::layer::{self, Compression, LayerWalk, Limits};

/// The production caps are tens of GiB; a fuzzer input may be a gzip or zstd bomb, and the
/// guard must trip long before the rss limit (the caps themselves are what is tested).
pub fn limits() -> Limits {
    Limits {
        max_layer_size: 16 << 20,
        max_total_size: 48 << 20,
        max_ratio: 250,
        ratio_floor: 1 << 20,
        total_used: Default::default(),
    }
}

/// Walks `blob` as a layer; `None` where the walk refuses it (that is the answer for a broken
/// layer: an error, never a panic).
pub fn walk(blob: &[u8], limits: &Limits) -> Option<LayerWalk<Fact>> {
    let mut walk = layer::walk(blob, &Collector, limits, Algorithm::Sha256, Algorithm::Sha256).ok()?;
    // The walk hashed and counted every byte of the blob.
    assert_eq!(walk.blob_size, blob.len() as u64);
    assert_eq!(walk.blob_digest, Digest::sha256_of(blob));
    if walk.compression == Compression::None {
        assert_eq!(walk.diff_id, walk.blob_digest);
        assert_eq!(walk.uncompressed_size, walk.blob_size);
    }
    // The second pass, as the store and the registry run it for pnpm-style hardlinks.
    layer::resolve_links(blob, &Collector, limits, &mut walk).ok()?;
    assert!(walk.unresolved_links.is_empty());
    Some(walk)
}
