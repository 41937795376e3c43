//! A reader in front of the `tar` crate that looks at every raw 512-byte header before the
//! crate does. The crate reads GNU long names (`L`, `K`) and PAX headers (`x`, `g`) into memory
//! whole, whatever their size field says: a 3.5 MB layer whose long name claims 600 MiB cost
//! 2.4 GB of RSS. This guard refuses such a header before a byte of it is buffered. It also
//! checks each header's checksum and size field itself, so a file that is not a tar at all
//! fails here with a message that never quotes its bytes (the crate's own errors quote the
//! header's name field, which for a stray `.env` file is its first 100 bytes).
//!
//! The guard follows the archive's layout the way `tar` 0.4.46 does (`next_entry_raw`): a
//! header, GNU sparse extension blocks when `isextended` is set, the data (the size field, or
//! the `size` record of a preceding PAX header), padding to 512 bytes; reading stops being
//! checked at the first all-zero block, where the crate stops.

use std::io::{self, Read, Seek, SeekFrom};

const BLOCK: u64 = 512;
/// A path (GNU long name or long link) longer than this is not a path.
pub const MAX_LONG_NAME: u64 = 64 << 10;
/// PAX headers carry paths, link targets, times and xattrs (capabilities, SELinux labels,
/// ACLs): kilobytes. A megabyte is generous.
pub const MAX_PAX_HEADER: u64 = 1 << 20;

/// Why the guard stopped the stream. Carried inside the `io::Error` the reader returns; find
/// it with [`TarHeaderError::find`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TarHeaderError {
    #[error("not a tar archive (no valid tar header at the start)")]
    NotTar,
    #[error("broken tar header at byte {offset} ({reason})")]
    Broken { offset: u64, reason: &'static str },
    #[error("{what} of {size} bytes at byte {offset} is over the {cap}-byte cap")]
    TooLong {
        what: &'static str,
        size: u64,
        cap: u64,
        offset: u64,
    },
}

impl TarHeaderError {
    /// The guard's verdict inside an error the `tar` crate passed on, if that is what it is.
    pub fn find(e: &io::Error) -> Option<&TarHeaderError> {
        e.get_ref()?.downcast_ref::<TarHeaderError>()
    }

    fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

pub struct TarGuard<R> {
    inner: R,
    /// Bytes handed out so far (the crate's position in the archive).
    pos: u64,
    /// Where the next header (or sparse extension block) starts.
    next: u64,
    /// The block at `next` once read, and how much of it was handed out.
    block: [u8; BLOCK as usize],
    block_len: usize,
    block_served: usize,
    /// After the end-of-archive block (or a short read at a header): no more checks.
    done: bool,
    /// The next block is a GNU sparse extension; the data that follows the last one.
    sparse_data: Option<u64>,
    /// The data of a PAX `x` header being read, and where it ends.
    pax: Option<(Vec<u8>, u64)>,
    /// The `size` record of the last PAX header, for the next file header.
    pax_size: Option<u64>,
}

impl<R> TarGuard<R> {
    pub fn new(inner: R) -> Self {
        TarGuard {
            inner,
            pos: 0,
            next: 0,
            block: [0; BLOCK as usize],
            block_len: 0,
            block_served: 0,
            done: false,
            sparse_data: None,
            pax: None,
            pax_size: None,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Checks the header block just read at `self.next` and moves `self.next` past it.
    fn inspect(&mut self) -> Result<(), TarHeaderError> {
        let offset = self.next;
        let b = &self.block;
        if let Some(data) = self.sparse_data {
            // A GNU sparse extension block: 21 sparse entries, `isextended` at byte 504.
            if b[504] == 1 {
                self.next = offset + BLOCK;
            } else {
                self.sparse_data = None;
                self.next = offset + BLOCK + round_up(data).ok_or(broken(offset, "size overflow"))?;
            }
            return Ok(());
        }
        if let Some((data, _)) = self.pax.take() {
            self.pax_size = pax_size(&data);
        }
        if b.iter().all(|&x| x == 0) {
            self.done = true; // the end of the archive, where the crate stops reading headers
            return Ok(());
        }
        // Two plain sums (they vectorize; a chained iterator does not): at most 504 × 255.
        let sum = b[..148].iter().map(|&x| u32::from(x)).sum::<u32>()
            + b[156..].iter().map(|&x| u32::from(x)).sum::<u32>()
            + 8 * 32;
        let sum = u64::from(sum);
        let stated = octal(&b[148..156]);
        if stated != Some(sum) {
            return Err(if offset == 0 {
                TarHeaderError::NotTar
            } else {
                broken(offset, "checksum mismatch")
            });
        }
        let size = numeric(&b[124..136]).ok_or(broken(offset, "size field is not a number"))?;
        let recognized = &b[257..265] == b"ustar\x0000" || &b[257..265] == b"ustar  \x00";
        let gnu = &b[257..265] == b"ustar  \x00";
        let too_long = |what, cap| TarHeaderError::TooLong {
            what,
            size,
            cap,
            offset,
        };
        let data = match b[156] {
            b'L' if size > MAX_LONG_NAME => return Err(too_long("a GNU long name", MAX_LONG_NAME)),
            b'K' if size > MAX_LONG_NAME => return Err(too_long("a GNU long link name", MAX_LONG_NAME)),
            b'x' | b'g' if size > MAX_PAX_HEADER => return Err(too_long("a PAX header", MAX_PAX_HEADER)),
            b'L' | b'K' | b'g' => size,
            b'x' => {
                if recognized {
                    self.pax = Some((Vec::with_capacity(size as usize), offset + BLOCK + size));
                }
                size
            }
            // A file header: the PAX header before it may say its size.
            _ => self.pax_size.take().unwrap_or(size),
        };
        if b[156] == b'S' && gnu && b[482] == 1 {
            self.sparse_data = Some(data);
            self.next = offset + BLOCK;
        } else {
            let padded = round_up(data).ok_or(broken(offset, "size overflow"))?;
            self.next = (offset + BLOCK)
                .checked_add(padded)
                .ok_or(broken(offset, "size overflow"))?;
        }
        Ok(())
    }

    /// Keeps the bytes of a PAX header's data as they pass.
    fn collect(&mut self, bytes: &[u8]) {
        if let Some((data, end)) = &mut self.pax {
            let room = end.saturating_sub(self.pos) as usize;
            data.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
    }
}

fn broken(offset: u64, reason: &'static str) -> TarHeaderError {
    TarHeaderError::Broken { offset, reason }
}

fn round_up(n: u64) -> Option<u64> {
    Some(n.checked_add(BLOCK - 1)? & !(BLOCK - 1))
}

/// An octal field as the crate reads it: up to the first NUL, whitespace trimmed, then
/// `u64::from_str_radix(_, 8)`. ASCII fields (all real ones) are parsed in place; any other
/// goes the crate's way, through `str::trim` and its Unicode whitespace.
pub(super) fn octal(field: &[u8]) -> Option<u64> {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    let field = &field[..end];
    if !field.is_ascii() {
        let text = std::str::from_utf8(field).ok()?;
        return u64::from_str_radix(text.trim(), 8).ok();
    }
    // `char::is_whitespace` on ASCII.
    let space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let start = field.iter().position(|c| !space(c)).unwrap_or(field.len());
    let stop = field.iter().rposition(|c| !space(c)).map_or(start, |i| i + 1);
    let digits = field.get(start..stop)?;
    let digits = digits.strip_prefix(b"+").unwrap_or(digits);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &c| match c {
        b'0'..=b'7' => n.checked_mul(8)?.checked_add(u64::from(c - b'0')),
        _ => None,
    })
}

/// A numeric field: octal, or GNU base-256 when the high bit is set (the last 8 bytes count).
fn numeric(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 == 0 {
        return octal(field);
    }
    let skip = field.len().saturating_sub(8).max(1);
    let mut n = if field.len() == 8 {
        u64::from(field[0] ^ 0x80)
    } else {
        0
    };
    for &byte in &field[skip..] {
        n = (n << 8) | u64::from(byte);
    }
    Some(n)
}

/// The `size` record of a PAX header, read the way the crate reads it (the first `size` key;
/// a malformed record or value means none).
fn pax_size(data: &[u8]) -> Option<u64> {
    for ext in tar::PaxExtensions::new(data) {
        let ext = ext.ok()?;
        if ext.key() != Ok("size") {
            continue;
        }
        return ext.value().ok()?.parse().ok();
    }
    None
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.block_served < self.block_len {
            let n = (self.block_len - self.block_served).min(buf.len());
            buf[..n].copy_from_slice(&self.block[self.block_served..self.block_served + n]);
            self.block_served += n;
            self.pos += n as u64;
            return Ok(n);
        }
        if self.done {
            let n = self.inner.read(buf)?;
            self.pos += n as u64;
            return Ok(n);
        }
        if self.pos == self.next {
            let mut got = 0;
            while got < self.block.len() {
                match self.inner.read(&mut self.block[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            if got == 0 {
                return Ok(0);
            }
            self.block_len = got;
            self.block_served = 0;
            if got < self.block.len() && self.next == 0 {
                return Err(TarHeaderError::NotTar.into_io());
            } else if got < self.block.len() {
                // A cut archive: the crate reports it; nothing more to check.
                self.done = true;
            } else {
                self.inspect().map_err(TarHeaderError::into_io)?;
            }
            return self.read(buf);
        }
        let room = (self.next - self.pos).min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..room])?;
        self.collect(&buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// The crate skips file data with `SeekFrom::Current` to the next header; a seek that would
/// jump over a header unread is refused.
impl<R: Read + Seek> Seek for TarGuard<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let SeekFrom::Current(delta) = to else {
            return Err(io::Error::other("the tar guard only seeks forward from where it is"));
        };
        let unserved = (self.block_len - self.block_served) as u64;
        let target = self
            .pos
            .checked_add_signed(delta)
            .filter(|t| *t >= self.pos && unserved == 0 && (self.done || *t <= self.next))
            .ok_or_else(|| io::Error::other("seek over an unread tar header"))?;
        if target > self.pos {
            self.inner.seek(SeekFrom::Current(delta))?;
            self.pos = target;
        }
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-place parse against the crate's way (`from_utf8`, `trim`, `from_str_radix`) on
    /// every field of up to four bytes over the characters that matter, and on long ones.
    #[test]
    fn octal_reads_a_field_as_the_crate_does() {
        let reference = |field: &[u8]| -> Option<u64> {
            let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
            let text = std::str::from_utf8(&field[..end]).ok()?;
            u64::from_str_radix(text.trim(), 8).ok()
        };
        let alphabet: &[u8] = b"07 8+-\t\x0b\0a\xc2\xa0";
        let mut fields: Vec<Vec<u8>> = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|f: &Vec<u8>| alphabet.iter().map(move |&c| [f.as_slice(), &[c]].concat()))
                .collect();
            fields.extend(last.iter().cloned());
        }
        fields.extend([
            b"7777777777777777777777".to_vec(), // 2^66 - 1: overflows
            b"1777777777777777777777".to_vec(), // u64::MAX
            b"0000644\0".to_vec(),
            b"  1234 \0junk".to_vec(),
            b"12\xc2\xa0".to_vec(), // NBSP: Unicode whitespace, trimmed by str::trim
        ]);
        assert!(fields.len() > 10_000);
        for f in &fields {
            assert_eq!(octal(f), reference(f), "{f:?}");
        }
    }

    fn header(name: &[u8], kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h
    }

    fn paths(tar_bytes: &[u8]) -> io::Result<Vec<String>> {
        let mut archive = tar::Archive::new(TarGuard::new(tar_bytes));
        let mut out = Vec::new();
        for e in archive.entries()? {
            let mut e = e?;
            out.push(String::from_utf8_lossy(&e.path_bytes()).into_owned());
            io::copy(&mut e, &mut io::sink())?;
        }
        Ok(out)
    }

    #[test]
    fn lets_ordinary_archives_through_unchanged() {
        let mut b = tar::Builder::new(Vec::new());
        let long = "d/".repeat(200) + "file";
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "small", &b"hello"[..]).unwrap();
        // A PAX header that gives the next entry's path and size.
        let mut pax = Vec::new();
        let rec = |k: &str, v: &str| {
            let rest = k.len() + v.len() + 3;
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            format!("{len} {k}={v}\n")
        };
        pax.extend(rec("path", "pax/named").bytes());
        pax.extend(rec("size", "600").bytes());
        let mut xh = tar::Header::new_ustar();
        xh.set_entry_type(tar::EntryType::XHeader);
        xh.set_size(pax.len() as u64);
        xh.set_cksum();
        b.append(&xh, &pax[..]).unwrap();
        // The header says 1 byte, the PAX record 600: the crate (and the guard) use 600.
        let mut fh = tar::Header::new_ustar();
        fh.as_old_mut().name[..4].copy_from_slice(b"orig");
        fh.set_size(1);
        fh.set_mode(0o644);
        fh.set_cksum();
        b.append(&fh, &vec![7u8; 600][..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "last", &b"zz"[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        assert_eq!(
            paths(&bytes).unwrap(),
            vec![long, "small".into(), "pax/named".into(), "last".into()]
        );
        // Trailing garbage after the end-of-archive blocks is not a header.
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0xab; 700]);
        assert_eq!(paths(&padded).unwrap().len(), 4);
    }

    #[test]
    fn refuses_a_huge_long_name_before_buffering_it() {
        let mut bytes = header(b"././@LongLink", tar::EntryType::GNULongName, 600 << 20)
            .as_bytes()
            .to_vec();
        bytes.extend_from_slice(&[b'a'; 4096]); // the rest is never read
        let err = paths(&bytes).unwrap_err();
        assert!(
            matches!(
                TarHeaderError::find(&err),
                Some(TarHeaderError::TooLong {
                    what: "a GNU long name",
                    ..
                })
            ),
            "{err}"
        );
        let mut pax = header(b"PaxHeaders/x", tar::EntryType::XHeader, 2 << 20)
            .as_bytes()
            .to_vec();
        pax.extend_from_slice(&[b'1'; 4096]);
        let err = paths(&pax).unwrap_err();
        assert!(matches!(
            TarHeaderError::find(&err),
            Some(TarHeaderError::TooLong {
                what: "a PAX header",
                ..
            })
        ));
    }

    #[test]
    fn a_file_that_is_not_a_tar_is_named_so_without_its_bytes() {
        let mut secret = b"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n".repeat(20);
        secret.truncate(1024);
        let err = paths(&secret).unwrap_err();
        assert_eq!(TarHeaderError::find(&err), Some(&TarHeaderError::NotTar));
        assert!(!err.to_string().contains("wJal"), "{err}");
    }
}
