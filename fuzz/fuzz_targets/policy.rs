//! The policy file (`imagegate.toml`): TOML, then the policy's own validation with positions;
//! and the size, duration and severity literals it is written with.
#![no_main]

use imagegate::policy::{FailOn, Policy, PolicySource, parse_duration, parse_size};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Policy::parse(text, PolicySource::File("fuzz.toml".into())) {
        // Errors name the file and a position; rendering them must not panic.
        assert!(e.to_string().starts_with("fuzz.toml:"), "{e}");
    }
    let _ = parse_size(text);
    let _ = parse_duration(text);
    let _ = FailOn::parse(text);
});
