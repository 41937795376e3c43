//! Yarn Plug'n'Play as the inventory reads it: the same bytes as a cache zip (the bounded zip
//! reader: central directory, then every entry with a small cap), as a Berry `yarn.lock` and
//! as a project's `package.json`, then the dev flags the two decide.
#![no_main]

use imagegate::inventory::yarn::{dev_flags, parse_lock, parse_project_manifest, read_cache_zip};
use imagegate::inventory::zip::Archive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_cache_zip("lodash-npm-4.17.20-c0db62021c-a5f94125d7.zip", data);
    if let Ok(archive) = Archive::open(data, 1_000) {
        for e in archive.entries() {
            if let Ok(bytes) = archive.read(e, 1 << 16) {
                assert_eq!(bytes.len() as u64, e.size, "an entry is what its directory says");
            }
        }
    }
    if let Ok(lock) = parse_lock(data) {
        let manifest = parse_project_manifest(data).unwrap_or_default();
        let _ = dev_flags(&lock, &manifest);
    }
});
