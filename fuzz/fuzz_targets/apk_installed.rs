//! The apk installed database (`lib/apk/db/installed`), as the inventory reads it: the bytes
//! must be UTF-8 (the capture refuses anything else), then [`parse_installed`].
#![no_main]

use imagegate::inventory::apk::parse_installed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (records, skipped) = parse_installed(text);
    // Every record kept has a name and a version; every stanza is a record or a skip, and a
    // stanza needs at least one `key:value` line, which takes two bytes and a separator.
    for r in &records {
        assert!(!r.name().is_empty() && !r.version().is_empty());
    }
    assert!(records.len() + skipped <= text.len() / 2 + 1);
});
