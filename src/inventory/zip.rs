//! A small zip reader for archives already held in a bounded buffer (a Yarn cache zip read
//! out of a layer). It parses the central directory, then reads the few entries asked for:
//! stored or deflated, each checked against the sizes and CRC the directory states.
//!
//! Our own rather than the `zip` crate's archive: this reader only needs one entry of an
//! archive, must treat every number in it as a lie until checked against the buffer it
//! came in (an entry count, an offset, a size), and must bound what it inflates by the size
//! it was told, not by what the stream produces. Here each of those is one visible check;
//! zip64 and encryption, which no Yarn cache zip uses, are refused.

use std::io::Read;

/// End of central directory record: fixed part.
const EOCD_LEN: usize = 22;
const EOCD_SIG: u32 = 0x0605_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const CENTRAL_LEN: usize = 46;
const LOCAL_SIG: u32 = 0x0403_4b50;
const LOCAL_LEN: usize = 30;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;

/// What is wrong with an archive; the caller names the path.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ZipError {
    #[error("not a zip archive (no end of central directory record)")]
    NotZip,
    #[error("truncated zip: {0}")]
    Truncated(&'static str),
    #[error("zip64 archives are not read")]
    Zip64,
    #[error("the zip lists {count} entries, over the cap of {cap}")]
    TooManyEntries { count: usize, cap: usize },
    #[error("zip entry `{name}` is encrypted")]
    Encrypted { name: String },
    #[error("zip entry `{name}` uses compression method {method} (only stored and deflate are read)")]
    Method { name: String, method: u16 },
    #[error("zip entry `{name}` states {size} bytes, over the {cap}-byte cap")]
    TooLarge { name: String, size: u64, cap: u64 },
    #[error("zip entry `{name}` does not hold the {stated} bytes its directory states ({reason})")]
    SizeMismatch {
        name: String,
        stated: u64,
        reason: &'static str,
    },
    #[error("zip entry `{name}` fails its CRC check")]
    Crc { name: String },
    #[error("zip entry `{name}` does not inflate: {reason}")]
    Inflate { name: String, reason: String },
}

/// One entry of the central directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// As stored (lossy UTF-8: the name is matched, never trusted as a path).
    pub name: String,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u64,
    pub size: u64,
    local_offset: u64,
}

/// A parsed archive over its bytes.
#[derive(Debug)]
pub struct Archive<'a> {
    data: &'a [u8],
    entries: Vec<Entry>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Archive<'a> {
    /// Parses the central directory of `data`, refusing more than `max_entries` entries.
    pub fn open(data: &'a [u8], max_entries: usize) -> Result<Archive<'a>, ZipError> {
        if data.len() < EOCD_LEN {
            return Err(ZipError::NotZip);
        }
        // The record sits at the end, before a comment of at most 65,535 bytes.
        let last = data.len() - EOCD_LEN;
        let first = last.saturating_sub(u16::MAX as usize);
        let eocd = (first..=last)
            .rev()
            .find(|&i| u32_at(data, i) == Some(EOCD_SIG))
            .ok_or(ZipError::NotZip)?;
        let field16 = |off| u16_at(data, eocd + off).ok_or(ZipError::Truncated("end record"));
        let field32 = |off| u32_at(data, eocd + off).ok_or(ZipError::Truncated("end record"));
        let count = field16(10)?;
        let cd_size = field32(12)?;
        let cd_offset = field32(16)?;
        if count == u16::MAX || cd_size == u32::MAX || cd_offset == u32::MAX {
            return Err(ZipError::Zip64);
        }
        let count = count as usize;
        if count > max_entries {
            return Err(ZipError::TooManyEntries {
                count,
                cap: max_entries,
            });
        }
        let (cd_size, cd_offset) = (cd_size as usize, cd_offset as usize);
        let cd_end = cd_offset
            .checked_add(cd_size)
            .filter(|&end| end <= eocd)
            .ok_or(ZipError::Truncated("the central directory lies outside the archive"))?;
        if count.saturating_mul(CENTRAL_LEN) > cd_size {
            return Err(ZipError::Truncated(
                "the central directory is shorter than its entry count",
            ));
        }
        let cd = &data[cd_offset..cd_end];
        let mut entries = Vec::with_capacity(count);
        let mut at = 0usize;
        for _ in 0..count {
            let bad = ZipError::Truncated("a central directory entry runs past the directory");
            if u32_at(cd, at) != Some(CENTRAL_SIG) {
                return Err(ZipError::Truncated("a central directory entry has no signature"));
            }
            let f16 = |off| u16_at(cd, at + off).ok_or(ZipError::Truncated("central directory entry"));
            let f32 = |off| u32_at(cd, at + off).ok_or(ZipError::Truncated("central directory entry"));
            let (flags, method) = (f16(8)?, f16(10)?);
            let (crc, compressed, size) = (f32(16)?, f32(20)?, f32(24)?);
            let (name_len, extra_len, comment_len) = (f16(28)? as usize, f16(30)? as usize, f16(32)? as usize);
            let local_offset = f32(42)?;
            if compressed == u32::MAX || size == u32::MAX || local_offset == u32::MAX {
                return Err(ZipError::Zip64);
            }
            let name = cd.get(at + CENTRAL_LEN..at + CENTRAL_LEN + name_len).ok_or(bad)?;
            entries.push(Entry {
                name: String::from_utf8_lossy(name).into_owned(),
                flags,
                method,
                crc,
                compressed: compressed.into(),
                size: size.into(),
                local_offset: local_offset.into(),
            });
            at += CENTRAL_LEN + name_len + extra_len + comment_len;
        }
        Ok(Archive { data, entries })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The bytes of `entry`, refused when it states more than `cap` bytes, and checked
    /// against its stated size and CRC: a bomb or a lying size is an error, never memory.
    pub fn read(&self, entry: &Entry, cap: u64) -> Result<Vec<u8>, ZipError> {
        let name = || entry.name.clone();
        if entry.flags & 1 != 0 {
            return Err(ZipError::Encrypted { name: name() });
        }
        if entry.size > cap {
            return Err(ZipError::TooLarge {
                name: name(),
                size: entry.size,
                cap,
            });
        }
        let local = usize::try_from(entry.local_offset).map_err(|_| ZipError::Truncated("local header"))?;
        if u32_at(self.data, local) != Some(LOCAL_SIG) {
            return Err(ZipError::Truncated("an entry's local header is missing"));
        }
        let name_len = u16_at(self.data, local + 26).ok_or(ZipError::Truncated("local header"))? as usize;
        let extra_len = u16_at(self.data, local + 28).ok_or(ZipError::Truncated("local header"))? as usize;
        let start = local + LOCAL_LEN + name_len + extra_len;
        let raw = usize::try_from(entry.compressed)
            .ok()
            .and_then(|len| self.data.get(start..start.checked_add(len)?))
            .ok_or(ZipError::Truncated("an entry's data runs past the archive"))?;
        let mismatch = |reason| ZipError::SizeMismatch {
            name: name(),
            stated: entry.size,
            reason,
        };
        let bytes = match entry.method {
            STORED => {
                if entry.compressed != entry.size {
                    return Err(mismatch("a stored entry's two sizes differ"));
                }
                raw.to_vec()
            }
            DEFLATED => {
                // `size` is at most `cap`: the buffer and the inflater stop one byte past it.
                let mut out = Vec::with_capacity(entry.size as usize);
                flate2::read::DeflateDecoder::new(raw)
                    .take(entry.size + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| ZipError::Inflate {
                        name: name(),
                        reason: e.to_string(),
                    })?;
                if out.len() as u64 > entry.size {
                    return Err(mismatch("it inflates to more"));
                }
                if (out.len() as u64) < entry.size {
                    return Err(mismatch("it inflates to less"));
                }
                out
            }
            method => return Err(ZipError::Method { name: name(), method }),
        };
        let mut crc = flate2::Crc::new();
        crc.update(&bytes);
        if crc.sum() != entry.crc {
            return Err(ZipError::Crc { name: name() });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal zip writer for the tests (the real archives come from Yarn itself).
    pub(crate) fn build(files: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data, deflate) in files {
            let mut crc = flate2::Crc::new();
            crc.update(data);
            let body = if *deflate {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            } else {
                data.to_vec()
            };
            let method: u16 = if *deflate { DEFLATED } else { STORED };
            let offset = out.len() as u32;
            let header = |sig: u32, central: bool| {
                let mut h = Vec::new();
                h.extend(sig.to_le_bytes());
                if central {
                    h.extend(20u16.to_le_bytes());
                }
                h.extend(20u16.to_le_bytes());
                h.extend(0u16.to_le_bytes());
                h.extend(method.to_le_bytes());
                h.extend([0u8; 4]);
                h.extend(crc.sum().to_le_bytes());
                h.extend((body.len() as u32).to_le_bytes());
                h.extend((data.len() as u32).to_le_bytes());
                h.extend((name.len() as u16).to_le_bytes());
                h.extend(0u16.to_le_bytes());
                if central {
                    // comment length, disk, internal and external attributes
                    h.extend([0u8; 10]);
                    h.extend(offset.to_le_bytes());
                }
                h.extend(name.as_bytes());
                h
            };
            out.extend(header(LOCAL_SIG, false));
            out.extend(&body);
            central.extend(header(CENTRAL_SIG, true));
        }
        let cd_offset = out.len() as u32;
        out.extend(&central);
        out.extend(EOCD_SIG.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    #[test]
    fn reads_stored_and_deflated_entries() {
        let zip = build(&[
            ("a.txt", b"stored bytes", false),
            ("b.txt", b"deflated deflated deflated", true),
        ]);
        let a = Archive::open(&zip, 10).unwrap();
        let names: Vec<&str> = a.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        assert_eq!(a.read(&a.entries()[0], 100).unwrap(), b"stored bytes");
        assert_eq!(a.read(&a.entries()[1], 100).unwrap(), b"deflated deflated deflated");
    }

    #[test]
    fn refuses_hostile_archives() {
        let zip = build(&[("a", b"hello hello hello", true)]);
        // Truncated anywhere: an error, never a panic.
        for cut in 0..zip.len() {
            if let Ok(a) = Archive::open(&zip[..cut], 10) {
                for e in a.entries() {
                    let _ = a.read(e, 100);
                }
            }
        }
        assert_eq!(
            Archive::open(b"not a zip at all, really not", 10).unwrap_err(),
            ZipError::NotZip
        );
        assert!(matches!(
            Archive::open(&zip, 0).unwrap_err(),
            ZipError::TooManyEntries { count: 1, cap: 0 }
        ));
        let a = Archive::open(&zip, 10).unwrap();
        assert!(matches!(
            a.read(&a.entries()[0], 5).unwrap_err(),
            ZipError::TooLarge { .. }
        ));

        // A bomb: 4 MiB of zeros stated as 16 bytes inflates no further than 17.
        let bomb = build(&[("p", &vec![0u8; 4 << 20], true)]);
        let mut a = Archive::open(&bomb, 10).unwrap();
        a.entries[0].size = 16;
        assert!(matches!(
            a.read(&a.entries()[0].clone(), 100).unwrap_err(),
            ZipError::SizeMismatch {
                reason: "it inflates to more",
                ..
            }
        ));
        // A size that claims more than is there, and a wrong CRC.
        let mut a = Archive::open(&zip, 10).unwrap();
        a.entries[0].size = 30;
        assert!(matches!(
            a.read(&a.entries()[0].clone(), 100).unwrap_err(),
            ZipError::SizeMismatch { .. }
        ));
        let mut a = Archive::open(&zip, 10).unwrap();
        a.entries[0].crc ^= 1;
        assert!(matches!(
            a.read(&a.entries()[0].clone(), 100).unwrap_err(),
            ZipError::Crc { .. }
        ));
        // An entry count the directory cannot hold.
        let mut lying = zip.clone();
        let n = lying.len();
        lying[n - 12..n - 10].copy_from_slice(&500u16.to_le_bytes());
        assert!(matches!(
            Archive::open(&lying, 1000).unwrap_err(),
            ZipError::Truncated(_)
        ));
    }
}
