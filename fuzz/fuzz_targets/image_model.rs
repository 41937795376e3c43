//! The JSON documents of an image, as the loader reads them: an OCI index / Docker manifest
//! list, a manifest, `docker save`'s `manifest.json`, an image config; then the platform and
//! digest strings they carry.
#![no_main]

use imagegate::image::digest::Digest;
use imagegate::image::model::{DockerArchiveEntry, ImageConfig, Index, Manifest, Platform};
use libfuzzer_sys::fuzz_target;

fn descriptor_checks(d: &imagegate::image::model::Descriptor) {
    let _ = d.is_index();
    // A digest that parsed prints back to itself.
    let text = d.digest.to_string();
    assert_eq!(Digest::parse(&text).expect("a parsed digest reparses"), d.digest);
    if let Some(p) = &d.platform {
        let shown = p.to_string();
        if let Some(back) = Platform::parse(&shown) {
            assert!(back.satisfies(&back));
        }
        let _ = p.satisfies(&Platform::default());
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = serde_json::from_slice::<Index>(data) {
        index.manifests.iter().for_each(descriptor_checks);
    }
    if let Ok(manifest) = serde_json::from_slice::<Manifest>(data) {
        manifest
            .config
            .iter()
            .chain(&manifest.layers)
            .for_each(descriptor_checks);
        manifest.manifests.iter().flatten().for_each(descriptor_checks);
    }
    let _ = serde_json::from_slice::<Vec<DockerArchiveEntry>>(data);
    if let Ok(config) = serde_json::from_slice::<ImageConfig>(data) {
        let _ = serde_json::to_vec(&config).expect("a parsed config serializes");
        for d in &config.rootfs.diff_ids {
            assert_eq!(Digest::parse(&d.to_string()).expect("reparses"), *d);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(p) = Platform::parse(text) {
            assert!(p.satisfies(&p));
        }
        let _ = Digest::parse(text);
    }
});
