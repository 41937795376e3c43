//! Inflater comparison on a real-shaped layer: which gzip decoder should the layer reader use?
//!
//! ```text
//! apt-get install libisal-dev            # ISA-L for isal-rs (its use-system-isal feature)
//! cargo bench --bench inventory -- 200   # generates the 200 MB image once, if not yet there
//! cargo bench --features bench-inflaters --bench inflate
//! IMAGEGATE_BENCH_BLOB=path/to/layer.tar.gz cargo bench --features bench-inflaters --bench inflate
//! ```
//!
//! It takes the largest layer of the 200 MB image `benches/inventory.rs` generates (cached under
//! `target/bench-images/200mb-g*`), reads the blob into memory once (so the disk is out of it),
//! and times, interleaved over `IMAGEGATE_BENCH_REPS` (default 5) rounds, median MB/s of
//! uncompressed output:
//!
//! * zlib-rs through flate2's `bufread::MultiGzDecoder` (what `src/layer` uses), 256 KB in,
//!   1 MB out, streaming;
//! * ISA-L's igzip through `isal-rs`' `read::Decoder`, streaming;
//! * ISA-L `decompress_into` and libdeflate (`libdeflater`) into one buffer the size of the
//!   whole tar: libdeflate has no streaming form, so neither can be shipped behind a reader
//!   whose memory is bounded (a 1 GB layer would need 1 GB); they show what a whole-buffer
//!   decoder would buy.
//!
//! Then the hostile-input checks a shipped inflater must pass, on each streaming one: the blob
//! truncated at half, a byte flipped in the middle, the gzip trailer's CRC flipped, trailing
//! garbage after the member, and a bomb (1 GiB of zeros, ~1 MB compressed) that must come out in
//! bounded pieces so the layer reader's bomb guard can stop it (read 64 MB, then stop).
//! Nothing is asserted (the machine is shared and noisy); the table says PASS/FAIL per check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test
#![allow(unsafe_code)] // benches/common (shared) reaps children with wait4

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

mod common;
use common::{env_usize, median};

/// A streaming decoder over a compressed buffer.
type Open = fn(&[u8]) -> Box<dyn Read + '_>;

fn zlib_rs(blob: &[u8]) -> Box<dyn Read + '_> {
    Box::new(flate2::bufread::MultiGzDecoder::new(io::BufReader::with_capacity(
        256 << 10,
        blob,
    )))
}

fn isal_stream(blob: &[u8]) -> Box<dyn Read + '_> {
    Box::new(isal::read::Decoder::new(blob, isal::Codec::Gzip))
}

/// What `src/layer` uses: zlib-rs raw inflate under imagegate's own gzip framing, without the
/// CRC-32 (both layer digests cover those bytes; see `src/layer/gzip.rs`).
fn layer_gunzip(blob: &[u8]) -> Box<dyn Read + '_> {
    Box::new(imagegate::layer::gzip::Gunzip::new(io::BufReader::with_capacity(
        256 << 10,
        blob,
    )))
}

const STREAMING: [(&str, Open); 3] = [
    ("zlib-rs (flate2)", zlib_rs),
    ("ISA-L igzip (isal-rs)", isal_stream),
    ("zlib-rs, layer::gzip", layer_gunzip),
];

/// Reads everything in 1 MB pieces; the byte count, or the first error.
fn drain(mut r: impl Read, limit: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf)? {
            0 => return Ok(n),
            k => {
                n += k as u64;
                if n >= limit {
                    return Ok(n);
                }
            }
        }
    }
}

/// The largest layer of the newest cached 200 MB image.
fn find_blob() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("IMAGEGATE_BENCH_BLOB") {
        return Some(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-images");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("200mb-g") && !name.contains(".partial") && p.join("bench.json").is_file()
        })
        .collect();
    dirs.sort();
    let dir = dirs.pop()?;
    let info: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("bench.json")).ok()?).ok()?;
    let blobs = info["blobs"].as_array()?;
    let sizes = info["layer_uncompressed"].as_array()?;
    let (i, _) = sizes.iter().enumerate().max_by_key(|(_, s)| s.as_u64().unwrap_or(0))?;
    Some(dir.join(blobs.get(i)?.as_str()?))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn main() -> io::Result<()> {
    if !common::is_bench_run() {
        println!("inflate benchmark: skipped (run it with `cargo bench --features bench-inflaters --bench inflate`)");
        return Ok(());
    }
    let Some(path) = find_blob() else {
        println!(
            "inflate benchmark: no 200 MB bench image under target/bench-images; run `cargo bench --bench inventory -- 200` first"
        );
        return Ok(());
    };
    let blob = fs::read(&path)?;
    let out_len = drain(zlib_rs(&blob), u64::MAX)?;
    let reps = env_usize("IMAGEGATE_BENCH_REPS", 5).max(3);
    println!(
        "inflate benchmark: {} ({:.1} MB gzip -> {:.1} MB tar, {:.2}:1), {reps} interleaved rounds, in memory",
        path.display(),
        blob.len() as f64 / 1048576.0,
        out_len as f64 / 1048576.0,
        out_len as f64 / blob.len() as f64
    );

    // Whole-buffer decoders need the output size; the generated layers are one gzip member.
    let mut whole = vec![0u8; out_len as usize];
    let mut deflater = libdeflater::Decompressor::new();
    const NAMES: [&str; 5] = [
        "zlib-rs (flate2), streaming",
        "ISA-L igzip (isal-rs), streaming",
        "zlib-rs, layer::gzip (no CRC), streaming",
        "ISA-L decompress_into, whole buffer",
        "libdeflate, whole buffer",
    ];
    let mut times: [Vec<f64>; 5] = Default::default();
    for rep in 0..reps {
        for k in 0..5 {
            let which = (k + rep) % 5;
            let start = Instant::now();
            let n = match which {
                0..=2 => drain(STREAMING[which].1(&blob), u64::MAX)?,
                3 => isal::decompress_into(&blob, &mut whole, isal::Codec::Gzip)
                    .map_err(|e| io::Error::other(format!("isal: {e:?}")))? as u64,
                _ => deflater
                    .gzip_decompress(&blob, &mut whole)
                    .map_err(|e| io::Error::other(format!("libdeflate: {e:?}")))? as u64,
            };
            times[which].push(start.elapsed().as_secs_f64());
            assert_eq!(n, out_len, "{} decoded a different length", NAMES[which]);
        }
    }
    let base = median(&times[0]);
    println!(
        "\n{:<42} {:>9} {:>9} {:>12}",
        "inflater", "median s", "MB/s", "vs zlib-rs"
    );
    for (name, t) in NAMES.iter().zip(&times) {
        let m = median(t);
        println!(
            "{:<42} {:>9.3} {:>9.0} {:>11.2}x",
            name,
            m,
            out_len as f64 / 1048576.0 / m,
            base / m
        );
    }

    // Hostile input, for the streaming decoders (the only ones the layer reader can use).
    let mut flipped = blob.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let mut bad_crc = blob.clone();
    let crc_at = bad_crc.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    let mut garbage = blob.clone();
    garbage.extend_from_slice(b"trailing garbage, not a gzip member\n");
    let bomb = {
        let zeros = vec![0u8; 1 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
        for _ in 0..1024 {
            gz.write_all(&zeros).unwrap();
        }
        gz.finish().unwrap()
    };
    let small = gzip(b"a small member\n");
    println!(
        "\nhostile input (PASS = an error, never a silent success; bomb: {:.1} KB expanding to 1 GiB must stream in pieces)",
        bomb.len() as f64 / 1024.0
    );
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "inflater", "truncated", "flipped", "bad CRC", "garbage", "bomb", "small ok"
    );
    for (name, open) in STREAMING {
        let fails = |bytes: &[u8]| {
            if drain(open(bytes), u64::MAX).is_err() {
                "PASS"
            } else {
                "FAIL"
            }
        };
        let truncated = fails(&blob[..blob.len() / 2]);
        let flip = fails(&flipped);
        // Not an error for layer::gzip, by design: the blob digest differs, so the layer is
        // refused before its walk is used (the output, which the diff_id covers, is the same).
        let crc = if name.ends_with("layer::gzip") {
            "digests"
        } else {
            fails(&bad_crc)
        };
        let trailing = fails(&garbage);
        // 64 MB out of a 1 GiB bomb, then stop: the guard above the decoder can stop it.
        let bombed = match drain(open(&bomb), 64 << 20) {
            Ok(n) if n < (128 << 20) => "PASS",
            _ => "FAIL",
        };
        let ok = match drain(open(&small), u64::MAX) {
            Ok(15) => "PASS",
            _ => "FAIL",
        };
        println!("{name:<24} {truncated:>10} {flip:>10} {crc:>10} {trailing:>10} {bombed:>10} {ok:>10}");
    }
    println!(
        "\nwhole-buffer decoders are not shippable behind a bounded-memory reader (the output buffer is the whole layer); \
         ISA-L also needs the C library and nasm for the static musl release targets."
    );
    Ok(())
}
