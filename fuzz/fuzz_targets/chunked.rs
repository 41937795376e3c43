//! The HTTP/1.1 chunked decoder that reads a `docker save` stream from the engine socket:
//! arbitrary bytes as the body after the response head, read to the end in small and large
//! reads.
#![no_main]

use imagegate::image::engine::Chunked;
use libfuzzer_sys::fuzz_target;
use std::io::{BufReader, Read};

fuzz_target!(|data: &[u8]| {
    // One read of everything, through a buffer as big as the real one.
    let mut whole = Vec::new();
    let all = Chunked::new(BufReader::with_capacity(256 << 10, data)).read_to_end(&mut whole);
    // The same bytes through a tiny buffer and tiny reads: same answer.
    let mut decoder = Chunked::new(BufReader::with_capacity(3, data));
    let mut pieces = Vec::new();
    let mut buf = [0u8; 7];
    let small = loop {
        match decoder.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => pieces.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    assert_eq!(all.is_ok(), small.is_ok());
    if all.is_ok() {
        assert_eq!(whole, pieces);
        // The body is never longer than what came in.
        assert!(whole.len() <= data.len());
    }
});
