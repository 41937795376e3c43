//! The layer reader's gzip decoder (`layer::gzip::Gunzip`, no CRC-32) against flate2's
//! `MultiGzDecoder`, which checks the CRC: on any bytes, whatever flate2 inflates, ours gives
//! byte for byte; whatever ours accepts, flate2 accepts too unless only a CRC differs (its
//! error then, and the same bytes from both up to there). Read whole and in 7-byte pieces.
#![no_main]

use flate2::bufread::MultiGzDecoder;
use imagegate::layer::gzip::Gunzip;
use libfuzzer_sys::fuzz_target;
use std::io::{BufReader, Read};

/// Read to the end (or the first error), at most 64 MiB out: a bomb stops there.
fn drain(mut r: impl Read, piece: usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; piece];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > 64 << 20 {
                    return (out, false);
                }
            }
            Err(_) => return (out, false),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 || data[..2] != [0x1f, 0x8b] {
        return; // the layer reader only hands gzip magic to Gunzip
    }
    let (ours, ours_ok) = drain(Gunzip::new(BufReader::with_capacity(256 << 10, data)), 1 << 20);
    let (small, small_ok) = drain(Gunzip::new(BufReader::with_capacity(3, data)), 7);
    assert_eq!(ours_ok, small_ok);
    if ours_ok {
        assert_eq!(ours, small);
    }
    let (theirs, theirs_ok) = drain(MultiGzDecoder::new(BufReader::with_capacity(256 << 10, data)), 1 << 20);
    if theirs_ok {
        assert!(ours_ok, "flate2 inflated what Gunzip refused");
        assert_eq!(ours, theirs);
    }
    if ours_ok && !theirs_ok {
        // Only a checksum can tell them apart: flate2 stopped at a CRC, after the same bytes.
        assert!(ours.starts_with(&theirs));
    }
});
