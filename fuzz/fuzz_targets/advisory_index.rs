//! The advisory index reader: arbitrary bytes written to a file and opened as an index (it is
//! memory-mapped, so the file is real), then every reader call a scan makes: metadata, the
//! record table, package and id lookups (with and without prefetch).
#![no_main]

use imagegate::advisory::index::Index;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Records read per input, whatever the table claims.
const MAX_RECORDS: usize = 64;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
}

fuzz_target!(|data: &[u8]| {
    let path = dir().path().join("advisories.igdb");
    std::fs::write(&path, data).expect("writing the input");
    let Ok(index) = Index::open(&path) else {
        return;
    };
    let _ = index.meta();
    let mut names = Vec::new();
    for i in 0..index.stored_records().min(MAX_RECORDS) {
        if let Ok(raw) = index.raw(i) {
            assert!(raw.len() < data.len());
        }
        if let Ok(record) = index.record(i) {
            names.push(record.id.clone());
            for a in record.affected.iter().filter_map(|a| a.package.as_ref()) {
                names.push(a.name.clone());
            }
        }
    }
    names.extend(["lodash", "openssl", "", "\0"].map(String::from));
    let ecosystems = ["npm", "Alpine:v3.20", ""];
    let keys: Vec<(&str, &str)> = ecosystems
        .iter()
        .flat_map(|e| names.iter().map(move |n| (*e, n.as_str())))
        .take(MAX_RECORDS)
        .collect();
    for &(e, n) in &keys {
        let _ = index.lookup(e, n);
    }
    index.prefetch(keys.iter().copied());
    for &(e, n) in &keys {
        let _ = index.lookup(e, n);
    }
    for n in names.iter().take(MAX_RECORDS) {
        let _ = index.by_id(n);
    }
});
