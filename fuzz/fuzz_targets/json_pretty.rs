//! The reports' JSON printer (`report::json`) against serde_json's own pretty printer: on any
//! JSON document and on any string (the bytes read lossily, control characters and quotes
//! included), the two write the same bytes.
#![no_main]

use imagegate::report::json;
use libfuzzer_sys::fuzz_target;

fn ours<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    json::to_writer_pretty(value, &mut out).expect("writing to a Vec");
    out
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        assert_eq!(ours(&value), serde_json::to_vec_pretty(&value).expect("serde_json"));
    }
    let text = String::from_utf8_lossy(data);
    assert_eq!(ours(&*text), serde_json::to_vec_pretty(&*text).expect("serde_json"));
    let words: Vec<&str> = text.split(' ').collect();
    assert_eq!(ours(&words), serde_json::to_vec_pretty(&words).expect("serde_json"));
});
