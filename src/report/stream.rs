//! JSON documents written as they are formed: an SBOM of an image with a million packages is
//! many times its package database as a `serde_json::Value`, so its long arrays are written
//! one element at a time. The bytes are what `serde_json::to_string_pretty` gives of the
//! whole document: the small parts are a `Value`, and each long array stands in its place.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// A JSON value, or an object some of whose members are written as they are formed.
pub(crate) enum Json<'a> {
    Value(Value),
    /// `fields` in serde_json's key order, the value of a key in `lazy` written by it (the
    /// key must be in `fields`: its value there is not written).
    Object(Map<String, Value>, Vec<(&'static str, Lazy<'a>)>),
}

type Items<'a> = Box<dyn Iterator<Item = Json<'a>> + 'a>;

/// An array whose elements are formed as it is written.
pub(crate) struct Lazy<'a>(std::cell::RefCell<Option<Items<'a>>>);

impl<'a> Lazy<'a> {
    pub fn new(items: impl Iterator<Item = Json<'a>> + 'a) -> Lazy<'a> {
        Lazy(std::cell::RefCell::new(Some(Box::new(items))))
    }
}

impl Serialize for Lazy<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let items = self.0.borrow_mut().take();
        let mut seq = s.serialize_seq(None)?;
        for item in items.into_iter().flatten() {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Value(v) => v.serialize(s),
            Json::Object(fields, lazy) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    match lazy.iter().find(|(name, _)| name == k) {
                        Some((_, l)) => map.serialize_entry(k, l)?,
                        None => map.serialize_entry(k, v)?,
                    }
                }
                map.end()
            }
        }
    }
}

/// `doc` pretty-printed to `w` as `serde_json::to_string_pretty` prints it, and a newline.
///
/// # Errors
///
/// What writing to `w` gives.
pub(crate) fn write_pretty(doc: &Json<'_>, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::pretty(&mut *w);
    doc.serialize(&mut ser)?;
    w.write_all(b"\n")
}

/// An object of `value`'s members (an object), `lazy` written in place of theirs.
pub(crate) fn object<'a>(value: Value, lazy: Vec<(&'static str, Lazy<'a>)>) -> Json<'a> {
    match value {
        Value::Object(fields) => Json::Object(fields, lazy),
        other => Json::Value(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_streamed_document_is_the_whole_document_byte_for_byte() {
        let whole = json!({
            "z": 1, "a": [1, 2], "m": {"k": [], "b": "x"}, "e": [], "list": [{"ref": "r", "dependsOn": ["p", "q"]}]
        });
        let streamed = object(
            json!({"z": 1, "a": [], "m": {"k": [], "b": "x"}, "e": [], "list": []}),
            vec![
                ("a", Lazy::new([1, 2].into_iter().map(|n| Json::Value(json!(n))))),
                ("e", Lazy::new(std::iter::empty())),
                (
                    "list",
                    Lazy::new(std::iter::once(object(
                        json!({"ref": "r", "dependsOn": []}),
                        vec![(
                            "dependsOn",
                            Lazy::new(["p", "q"].into_iter().map(|p| Json::Value(json!(p)))),
                        )],
                    ))),
                ),
            ],
        );
        let mut out = Vec::new();
        write_pretty(&streamed, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string_pretty(&whole).unwrap() + "\n"
        );
    }
}
