//! Pretty JSON, faster: the bytes `serde_json::to_writer_pretty` writes (two
//! spaces an indent level, `": "` after a key, `[]` and `{}` when empty, floats by zmij (as serde_json formats them) and
//! `null` when not finite, map keys that are numbers or booleans quoted), from any
//! `Serialize`, written to a buffer of its own and handed on 64 KiB at a time.
//!
//! Why not serde_json's own: a JSON report carries every file of the image, and it is written
//! after everything else is done, on one core. On the 200 MB bench image (33k files, 6.1 MB
//! of JSON) serde_json's printer took 15–17 ms, 100.7 M instructions (callgrind), a third of
//! them its string escape, which looks up every byte in a table, and most of the rest small
//! writes through its formatter. Here a string is searched eight bytes at a time for what
//! must be escaped (nearly always nothing) and copied whole, and the structure is pushed
//! straight into a `Vec`: 61.0 M instructions, 10–12 ms.
//!
//! The escape rules are JSON's as serde_json applies them: `"` and `\` escaped with a
//! backslash, the control characters U+0000–U+001F as `\b \t \n \f \r` or `\u00xx` (lower-case
//! hex), everything else (DEL and non-ASCII included) as it is. The tests compare the two
//! printers byte for byte, and the `json_pretty` fuzz target does so on arbitrary documents.

use serde::ser::{self, Serialize};
use std::fmt::Display;
use std::io::{self, Write};

/// The buffer is handed to the writer when it holds this much.
const FLUSH_AT: usize = 64 << 10;

/// Writes `value` as pretty JSON to `w` (no newline after it).
pub fn to_writer_pretty<T: Serialize + ?Sized>(value: &T, w: &mut dyn Write) -> io::Result<()> {
    let mut p = Pretty {
        out: Vec::with_capacity(FLUSH_AT + 4096),
        w,
        depth: 0,
    };
    value.serialize(&mut p).map_err(Error::into_io)?;
    p.w.write_all(&p.out)
}

#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    Message(String),
}

impl Error {
    fn into_io(self) -> io::Error {
        match self {
            Error::Io(e) => e,
            Error::Message(m) => io::Error::other(m),
        }
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

type Result<T> = std::result::Result<T, Error>;

pub struct Pretty<'w> {
    out: Vec<u8>,
    w: &'w mut dyn Write,
    /// Open arrays and objects around the value being written.
    depth: usize,
}

impl Pretty<'_> {
    fn newline_indent(&mut self) {
        const SPACES: &[u8; 64] = b"                                                                ";
        self.out.push(b'\n');
        let mut n = self.depth * 2;
        while n > 0 {
            let k = n.min(SPACES.len());
            self.out.extend_from_slice(&SPACES[..k]);
            n -= k;
        }
    }

    /// Before an element or a key: its separator and indent.
    fn next_item(&mut self, first: bool) {
        if !first {
            self.out.push(b',');
        }
        self.newline_indent();
    }

    fn maybe_flush(&mut self) -> Result<()> {
        if self.out.len() >= FLUSH_AT {
            self.w.write_all(&self.out).map_err(Error::Io)?;
            self.out.clear();
        }
        Ok(())
    }

    fn open(&mut self, bracket: u8) {
        self.out.push(bracket);
        self.depth += 1;
    }

    /// Closes an array or object; one that held something ends on a line of its own.
    fn close(&mut self, bracket: u8, held: bool) {
        self.depth -= 1;
        if held {
            self.newline_indent();
        }
        self.out.push(bracket);
    }

    fn int(&mut self, v: impl itoa::Integer) {
        self.out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn float(&mut self, v: impl zmij::Float, finite: bool) {
        if finite {
            self.out
                .extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
        } else {
            self.out.extend_from_slice(b"null");
        }
    }

    fn string(&mut self, s: &str) {
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        escape_into(&mut self.out, s.as_bytes());
        self.out.push(b'"');
    }

    /// `{"variant": ` of an enum variant with content.
    fn open_variant(&mut self, variant: &str) {
        self.open(b'{');
        self.newline_indent();
        self.string(variant);
        self.out.extend_from_slice(b": ");
    }
}

/// Whether any of the eight bytes of `w` must be escaped: below 0x20, `"` or `\`. (The usual
/// word tricks: `x - 0x01…` borrows into a byte's high bit only where the byte is below the
/// subtrahend and its own high bit is clear; exact for "any byte", not for which.)
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let control = below(w, 0x20);
    let quote = below(w ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(w ^ (ONES * u64::from(b'\\')), 1);
    control | quote | backslash != 0
}

/// The escape of one byte, or `None` for a byte written as it is.
fn escape_of(b: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006", b"\\u0007", b"\\b", b"\\t",
        b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f", b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013",
        b"\\u0014", b"\\u0015", b"\\u0016", b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c",
        b"\\u001d", b"\\u001e", b"\\u001f",
    ];
    match b {
        b'"' => Some(b"\\\""),
        b'\\' => Some(b"\\\\"),
        0..0x20 => CONTROL.get(usize::from(b)).copied(),
        _ => None,
    }
}

/// Appends `bytes` with JSON's escapes (without the quotes): the runs between escapes are
/// copied whole.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut run = 0; // start of the bytes not yet copied
    while let Some(at) = find_escape(bytes, run) {
        out.extend_from_slice(&bytes[run..at]);
        out.extend_from_slice(escape_of(bytes[at]).unwrap_or_default());
        run = at + 1;
    }
    out.extend_from_slice(&bytes[run..]);
}

/// The first byte at or after `from` that must be escaped: whole words that need nothing
/// are skipped, then the bytes of the word that does (or of the short tail) are looked at.
fn find_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let needs = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
    let rest = bytes.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut at = from;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if word_needs_escape(u64::from_le_bytes(word)) {
            return chunk.iter().position(needs).map(|p| at + p);
        }
        at += 8;
    }
    // The short tail: within a longer run, as the run's last eight bytes (they overlap the
    // words already looked at, which need nothing); else byte by byte.
    let tail = chunks.remainder();
    if tail.is_empty() {
        return None;
    }
    if rest.len() >= 8 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&rest[rest.len() - 8..]);
        if !word_needs_escape(u64::from_le_bytes(word)) {
            return None;
        }
    }
    tail.iter().position(needs).map(|p| at + p)
}

/// An array or object being written; `first` until its first element or member.
pub struct Compound<'a, 'w> {
    p: &'a mut Pretty<'w>,
    first: bool,
    /// The variant object around it (`{"variant": …}`) is closed with it.
    in_variant: bool,
}

impl Compound<'_, '_> {
    fn end_with(self, bracket: u8) -> Result<()> {
        self.p.close(bracket, !self.first);
        if self.in_variant {
            self.p.close(b'}', true);
        }
        Ok(())
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.p.next_item(self.first);
        self.first = false;
        value.serialize(&mut *self.p)?;
        self.p.maybe_flush()
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.p.next_item(self.first);
        self.first = false;
        key.serialize(MapKey(&mut *self.p))?;
        self.p.out.extend_from_slice(b": ");
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.p)?;
        self.p.maybe_flush()
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.p.next_item(self.first);
        self.first = false;
        self.p.string(key);
        self.p.out.extend_from_slice(b": ");
        self.value(value)
    }
}

/// The eleven integer methods of a `Serializer`, each `|serializer, v| body`.
macro_rules! integers {
    (|$s:ident, $v:ident| $body:expr) => {
        integers!(@each $s $v $body; serialize_i8 i8, serialize_i16 i16, serialize_i32 i32,
            serialize_i64 i64, serialize_i128 i128, serialize_u8 u8, serialize_u16 u16,
            serialize_u32 u32, serialize_u64 u64, serialize_u128 u128);
    };
    (@each $s:ident $v:ident $body:expr; $($method:ident $t:ty),*) => {
        $(fn $method(self, $v: $t) -> Result<()> {
            let $s = self;
            $body
        })*
    };
}

impl<'a, 'w> ser::Serializer for &'a mut Pretty<'w> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'w>;
    type SerializeTuple = Compound<'a, 'w>;
    type SerializeTupleStruct = Compound<'a, 'w>;
    type SerializeTupleVariant = Compound<'a, 'w>;
    type SerializeMap = Compound<'a, 'w>;
    type SerializeStruct = Compound<'a, 'w>;
    type SerializeStructVariant = Compound<'a, 'w>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    integers!(|p, v| {
        p.int(v);
        Ok(())
    });
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.float(v, v.is_finite());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.float(v, v.is_finite());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.string(v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        use ser::SerializeSeq as _;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<()> {
        self.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.close(b'}', true);
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a, 'w>> {
        self.open(b'[');
        Ok(Compound {
            p: self,
            first: true,
            in_variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'w>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a, 'w>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'w>> {
        self.open_variant(variant);
        self.open(b'[');
        Ok(Compound {
            p: self,
            first: true,
            in_variant: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, 'w>> {
        self.open(b'{');
        Ok(Compound {
            p: self,
            first: true,
            in_variant: false,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a, 'w>> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'w>> {
        self.open_variant(variant);
        self.open(b'{');
        Ok(Compound {
            p: self,
            first: true,
            in_variant: true,
        })
    }
}

// The four kinds of array differ only in name, and so do the two kinds of struct.
macro_rules! arrays {
    ($($kind:ident :: $method:ident),*) => {
        $(impl ser::$kind for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.element(value)
            }
            fn end(self) -> Result<()> {
                self.end_with(b']')
            }
        })*
    };
}

macro_rules! structs {
    ($($kind:ident),*) => {
        $(impl ser::$kind for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
                self.field(key, value)
            }
            fn end(self) -> Result<()> {
                self.end_with(b'}')
            }
        })*
    };
}

arrays!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);
structs!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.value(value)
    }
    fn end(self) -> Result<()> {
        self.end_with(b'}')
    }
}

/// A map key: a string as it is; a number, boolean or char quoted; anything else refused (as
/// serde_json refuses it: "key must be a string").
struct MapKey<'a, 'w>(&'a mut Pretty<'w>);

impl MapKey<'_, '_> {
    fn quoted(self, write: impl FnOnce(&mut Pretty<'_>)) -> Result<()> {
        self.0.out.push(b'"');
        write(self.0);
        self.0.out.push(b'"');
        Ok(())
    }
}

fn key_must_be_a_string() -> Error {
    Error::Message("key must be a string".into())
}

impl ser::Serializer for MapKey<'_, '_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<()> {
        self.0.string(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.0.string(v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<()> {
        self.0.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.quoted(|p| p.out.extend_from_slice(if v { b"true" } else { b"false" }))
    }
    integers!(|key, v| key.quoted(|p| p.int(v)));
    fn serialize_f32(self, v: f32) -> Result<()> {
        if !v.is_finite() {
            return Err(Error::Message("float key must be finite (got NaN or +/-inf)".into()));
        }
        self.quoted(|p| p.float(v, true))
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        if !v.is_finite() {
            return Err(Error::Message("float key must be finite (got NaN or +/-inf)".into()));
        }
        self.quoted(|p| p.float(v, true))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeTupleStruct> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> io::Result<String> {
        let mut out = Vec::new();
        to_writer_pretty(value, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn same<T: Serialize>(value: &T) {
        let theirs = serde_json::to_string_pretty(value).unwrap();
        let ours = to_string_pretty(value).unwrap();
        assert_eq!(ours, theirs);
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u32),
        Tuple(i8, String),
        EmptyTuple(),
        Struct { a: Vec<u8>, b: Option<bool> },
        EmptyStruct {},
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    struct Wrapper(String);

    #[derive(Serialize)]
    struct Flat {
        id: u8,
        #[serde(flatten)]
        rest: BTreeMap<String, u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gone: Option<u8>,
    }

    #[test]
    fn writes_every_shape_as_serde_json_does() {
        same(&Shape::Unit);
        same(&Shape::Newtype(7));
        same(&Shape::Tuple(-3, "x".into()));
        same(&Shape::EmptyTuple());
        same(&Shape::Struct { a: vec![1, 2], b: None });
        same(&Shape::Struct {
            a: vec![],
            b: Some(true),
        });
        same(&Shape::EmptyStruct {});
        same(&vec![
            Shape::Unit,
            Shape::Newtype(1),
            Shape::Struct { a: vec![], b: None },
        ]);
        same(&(Unit, Wrapper("w".into()), (), 'c', '\u{1}'));
        same(&Flat {
            id: 1,
            rest: [("z".to_string(), 2), ("a".to_string(), 3)].into(),
            gone: None,
        });
        same(&Vec::<u8>::new());
        same(&vec![Vec::<u8>::new(), vec![1], vec![]]);
        same(&BTreeMap::<String, Vec<u8>>::new());
        same(&[BTreeMap::<String, u8>::new()]);
        same(&serde_json::json!({"a": [], "b": {}, "c": [[], {}, [{}]], "d": {"e": {"f": null}}}));
        // Deeper than the indent buffer is wide.
        let mut deep = serde_json::json!(1);
        for _ in 0..40 {
            deep = serde_json::json!([deep, {"k": deep}]);
            if deep.to_string().len() > 1 << 20 {
                break;
            }
        }
        same(&deep);
        let mut nested = serde_json::json!("leaf");
        for i in 0..50 {
            nested = serde_json::json!({ format!("k{i}"): nested });
        }
        same(&nested);
    }

    #[test]
    fn writes_numbers_and_keys_as_serde_json_does() {
        same(&(i8::MIN, i16::MIN, i32::MIN, i64::MIN, i128::MIN));
        same(&(u8::MAX, u16::MAX, u32::MAX, u64::MAX, u128::MAX, 0u8));
        let floats = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e300,
            -1e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            123456789.125,
        ];
        same(&floats);
        same(&[1.5f32, f32::MAX, f32::NAN, 0.1f32, -0.0f32]);
        same(&BTreeMap::from([(1u64, "a"), (u64::MAX, "b")]));
        same(&BTreeMap::from([(-5i32, 1), (7, 2)]));
        same(&BTreeMap::from([(true, 1), (false, 2)]));
        same(&BTreeMap::from([('x', 1), ('"', 2)]));
        same(&BTreeMap::from([(Wrapper("w\n".into()), 1)]));
        #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
        enum Key {
            A,
            B,
        }
        same(&BTreeMap::from([(Key::B, 1), (Key::A, 2)]));
        same(&BTreeMap::from([(Some("k"), 1)]));
        let bad = BTreeMap::from([(vec![1u8], 1)]);
        assert!(serde_json::to_string_pretty(&bad).is_err());
        assert!(to_string_pretty(&bad).is_err());
        let bad = BTreeMap::from([(None::<&str>, 1)]);
        assert!(to_string_pretty(&bad).is_err());
    }

    #[test]
    fn escapes_strings_as_serde_json_does() {
        // Every byte value in every position of a word, and runs around word edges.
        let mut strings: Vec<String> = Vec::new();
        for c in (0u32..0x80).chain([0xa0, 0xff, 0x2028, 0xfeff, 0x1f600]) {
            let Some(ch) = char::from_u32(c) else { continue };
            for pad in 0..17 {
                let mut s = "a".repeat(pad);
                s.push(ch);
                s.push_str(&"b".repeat(17 - pad));
                strings.push(s.clone());
                s.insert(0, ch);
                strings.push(s);
            }
            strings.push(ch.to_string().repeat(9));
        }
        strings.push(String::new());
        strings.push("plain ascii path/to/node_modules/x/package.json".into());
        strings.push("ünïcödé \u{7f} \"quoted\" back\\slash\ttab\r\n".into());
        for s in &strings {
            same(s);
        }
        same(&strings);
    }

    #[test]
    fn word_check_agrees_with_the_byte_rule_on_every_byte_in_every_place() {
        for b in 0..=255u8 {
            for place in 0..8 {
                for fill in [b'a', 0xff, 0x7f, 0x20, 0x80] {
                    let mut w = [fill; 8];
                    w[place] = b;
                    let expected = w.iter().any(|&x| escape_of(x).is_some());
                    assert_eq!(word_needs_escape(u64::from_le_bytes(w)), expected, "{w:?}");
                }
            }
        }
    }

    /// The inventory of the demo image (a Next.js app on Alpine, every field a real report
    /// fills), as the `inventory` and `scan` reports carry it.
    #[test]
    fn writes_a_real_inventory_as_serde_json_does() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo/app.tar");
        let source = crate::image::source::ImageSource::parse(path).unwrap();
        let inv = crate::inventory::read(path, &source, &crate::image::LoadOptions::default()).unwrap();
        assert!(inv.files.len() > 50 && !inv.npm.is_empty() && !inv.apk.is_empty() && inv.size.is_some());
        same(&inv);
    }

    #[test]
    fn streams_through_the_writer_in_pieces() {
        struct Counting(Vec<usize>, Vec<u8>);
        impl Write for Counting {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.push(b.len());
                self.1.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let big: Vec<String> = (0..20_000).map(|i| format!("file-{i}")).collect();
        let mut w = Counting(Vec::new(), Vec::new());
        to_writer_pretty(&big, &mut w).unwrap();
        assert!(w.0.len() > 3, "{} writes", w.0.len());
        assert!(w.0.iter().all(|&n| n < FLUSH_AT + 4096), "{:?}", w.0);
        assert_eq!(
            String::from_utf8(w.1).unwrap(),
            serde_json::to_string_pretty(&big).unwrap()
        );
    }
}
