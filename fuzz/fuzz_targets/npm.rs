//! npm files as the inventory reads them: the same bytes as an installed package's
//! `package.json` and as a lockfile (v1 nested `dependencies`, v2/v3 `packages`); then the
//! path helpers on every lockfile key, as `inventory::npm_packages` uses them.
#![no_main]

use imagegate::inventory::npm::{classify, join, parse_lockfile, parse_manifest, split_project};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_manifest(data);
    if let Ok(lock) = parse_lockfile(data) {
        for key in lock.packages.keys() {
            // Kept keys are install paths below a project.
            assert!(key.starts_with("node_modules/"), "{key:?}");
            let path = join("app", key);
            let _ = classify(&format!("{path}/package.json"));
            let (root, rest) = split_project(&path).expect("a joined path splits again");
            assert_eq!((root, rest), ("app", key.as_str()));
        }
    }
    if let Ok(path) = std::str::from_utf8(data) {
        let _ = classify(path);
        let _ = split_project(path);
    }
});
