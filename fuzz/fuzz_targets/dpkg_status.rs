//! The dpkg database (`var/lib/dpkg/status`, distroless `status.d/*`), as the inventory reads
//! it: [`parse_status`] under the database cap, then the file lists of `info/*.list`.
#![no_main]

use imagegate::inventory::dpkg::{parse_file_list, parse_md5sums, parse_status};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(status) = parse_status(data, CAP) {
        // Every record kept names a package and a version.
        for r in &status.records {
            assert!(!r.name().is_empty() && !r.version().is_empty());
            let _ = (r.source_name(), r.source_version());
        }
    }
    let _ = parse_file_list("fuzz.list", data, CAP);
    let _ = parse_md5sums("fuzz.md5sums", data, CAP);
});
