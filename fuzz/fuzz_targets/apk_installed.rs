//! The apk installed database (`lib/apk/db/installed`), as the inventory reads it: line by
//! line through [`read_installed`], a line that is not UTF-8 refused.
#![no_main]

use imagegate::inventory::apk::{ReadError, read_installed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (records, skipped) = match read_installed(data) {
        Ok(read) => read,
        Err(ReadError::NotUtf8 { line }) => {
            // Only a database that is not UTF-8 is refused, and at a line it has.
            assert!(std::str::from_utf8(data).is_err());
            assert!(line >= 1 && line <= data.len() + 1);
            return;
        }
        Err(ReadError::Io(e)) => panic!("a byte slice cannot fail to read: {e}"),
    };
    // Every record kept has a name and a version; every stanza is a record or a skip, and a
    // stanza needs at least one `key:value` line, which takes two bytes and a separator.
    for r in &records {
        assert!(!r.name().is_empty() && !r.version().is_empty());
    }
    assert!(records.len() + skipped <= data.len() / 2 + 1);
});
