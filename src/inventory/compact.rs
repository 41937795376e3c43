//! A package record in one allocation: its few text fields end to end in one `Box<str>`, with
//! where each ends and which are present. A database at the 64 MiB cap holds about a million
//! stanzas; five `String`s a record (24 bytes each inline and a heap block each, 32 bytes at
//! least) cost about 280 bytes a record, several times the text itself. This costs 40 bytes
//! inline and one block sized to the text.

/// `N` optional text fields (`N` ≤ 8), packed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Packed<const N: usize> {
    text: Box<str>,
    /// `ends[i]` is where field `i` ends in `text`; it starts where field `i - 1` ends.
    ends: [u32; N],
    /// Bit `i` set: field `i` is present (an absent field and an empty one differ).
    present: u8,
}

/// The fields together are longer than a `u32` can address (never for a capped database).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a package record over 4 GiB")]
pub struct TooLong;

impl<const N: usize> Packed<N> {
    /// Packs `fields`.
    ///
    /// # Errors
    ///
    /// [`TooLong`] when the fields together are over `u32::MAX` bytes.
    pub fn new(fields: [Option<&str>; N]) -> Result<Self, TooLong> {
        const { assert!(N <= 8) };
        let len: usize = fields.iter().flatten().map(|f| f.len()).sum();
        u32::try_from(len).map_err(|_| TooLong)?;
        let mut text = String::with_capacity(len);
        let mut ends = [0u32; N];
        let mut present = 0u8;
        for (i, f) in fields.iter().enumerate() {
            if let Some(f) = f {
                text.push_str(f);
                present |= 1 << i;
            }
            // Cannot truncate: the total was checked above.
            ends[i] = text.len() as u32;
        }
        Ok(Packed {
            text: text.into_boxed_str(),
            ends,
            present,
        })
    }

    /// Field `i`, when present (`None` past `N` too).
    #[must_use]
    pub fn get(&self, i: usize) -> Option<&str> {
        if i >= N || self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize)
    }

    /// Field `i`, or `""` when absent.
    #[must_use]
    pub fn str(&self, i: usize) -> &str {
        self.get(i).unwrap_or_default()
    }
}

impl<const N: usize> std::fmt::Debug for Packed<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries((0..N).map(|i| self.get(i))).finish()
    }
}

/// Serializes a record as a struct of two required and some optional string fields, leaving
/// out the ones it does not have (the shape the inventory JSON always had).
pub fn serialize_fields<S: serde::Serializer>(
    s: S,
    name: &'static str,
    required: [(&'static str, &str); 2],
    optional: &[(&'static str, Option<&str>)],
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct(name, 2 + optional.iter().filter(|(_, v)| v.is_some()).count())?;
    for (key, value) in required {
        st.serialize_field(key, value)?;
    }
    for &(key, value) in optional {
        match value {
            Some(v) => st.serialize_field(key, v)?,
            None => st.skip_field(key)?,
        }
    }
    st.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_absent_differs_from_empty() {
        let p = Packed::new([Some("musl"), Some("1.2.5-r0"), None, Some(""), Some("MIT")]).unwrap();
        assert_eq!(p.get(0), Some("musl"));
        assert_eq!(p.get(1), Some("1.2.5-r0"));
        assert_eq!(p.get(2), None);
        assert_eq!(p.get(3), Some(""));
        assert_eq!(p.get(4), Some("MIT"));
        assert_eq!(p.get(5), None);
        assert_eq!(p.str(2), "");
        // Multi-byte text stays whole.
        let p = Packed::new([Some("ünï"), None, Some("çødé")]).unwrap();
        assert_eq!((p.get(0), p.get(1), p.get(2)), (Some("ünï"), None, Some("çødé")));
    }

    #[test]
    fn a_record_costs_forty_bytes_inline() {
        assert_eq!(std::mem::size_of::<Packed<5>>(), 40);
    }
}
