//! A JSON object read into a [`Value`] without what the extractor's walk
//! (`json.rs`) cannot use: a string that holds no `{` under a key the walk
//! never asks for, a number, `true`, `false` or `null` under such a key,
//! and an array's strings without `{`. Such values were most of the
//! allocations of an error record's read (a Hydra error line's request
//! headers: a `String` for every key and value).
//!
//! Invariant: the walk over the pruned value finds what it finds over the
//! whole one (tested on every JSON object of the sample logs and the
//! corpus, and on objects made to hold the cases below). It holds because
//! - every key the walk reads an object's value by is a read key,
//!   whose values are kept whole;
//! - a value under another key is only walked into: an object, an array
//!   and a string with `{` are kept, the rest is left out, and a key
//!   repeated is left out too when its last value is (the whole value
//!   keeps the last);
//! - an array keeps its length (a string without `{` becomes `null`), as
//!   the walk reads its first 64 items and `error_codes`' first;
//! - objects are `serde_json`'s maps, ordered by key either way.
//!
//! One difference no log makes: `serde_json` built with `raw_value` reads an
//! object whose key is its private `$serde_json::private::RawValue` as the
//! JSON text of its string; here that string is walked as JSON in a string
//! is (one level deeper, one parse attempt more).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Every key whose value the walk reads from an object: the error and
/// description keys of `read_object`, those of `read_error_object`, the
/// hint and status keys. One list makes both the constant (for the tests)
/// and the test for a key, a `match` the compiler decides by length and
/// bytes (a search of the list was a tenth of a Hydra error line's read).
macro_rules! read_keys {
    ($($key:literal),* $(,)?) => {
        #[cfg(test)]
        const READ_KEYS: &[&str] = &[$($key),*];

        fn is_read_key(key: &str) -> bool {
            matches!(key, $($key)|*)
        }
    };
}

read_keys![
    "error",
    "message",
    "error_description",
    "errorDescription",
    "error_message",
    "errorMessage",
    "errorSummary",
    "MessageTemplate",
    "@mt",
    "RenderedMessage",
    "@m",
    "sub_error",
    "suberror",
    "subError",
    "error_subtype",
    "error_uri",
    "errorUri",
    "error_code",
    "errorCode",
    "error_codes",
    "name",
    "code",
    "type",
    "description",
    "reason",
    "hint",
    "status",
    "statusCode",
    "status_code",
    "http_status",
    "httpStatus",
];

/// A JSON value read with what the walk cannot use left out.
pub(super) struct Pruned(pub(super) Value);

impl<'de> serde::Deserialize<'de> for Pruned {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pruned, D::Error> {
        d.deserialize_any(Reader { keep_text: true }).map(Pruned)
    }
}

/// Reads one value; `keep_text`: a string without `{` is kept (the value
/// of a read key) rather than made `null`.
#[derive(Clone, Copy)]
struct Reader {
    keep_text: bool,
}

impl<'de> DeserializeSeed<'de> for Reader {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Reader {
    /// Whether the walk can use the string `s` read here.
    fn keeps(self, s: &str) -> bool {
        self.keep_text || s.contains('{')
    }
}

// As `serde_json::Value`'s own visitor, but for strings and containers.
impl<'de> Visitor<'de> for Reader {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(if self.keeps(v) {
            Value::String(v.to_owned())
        } else {
            Value::Null
        })
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(if self.keeps(&v) {
            Value::String(v)
        } else {
            Value::Null
        })
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Reader { keep_text: false })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(Key(key)) = map.next_key()? {
            let read = is_read_key(&key);
            let value = map.next_value_seed(Reader { keep_text: read })?;
            let walked = matches!(value, Value::Object(_) | Value::Array(_) | Value::String(_));
            if read || walked {
                object.insert(key.into_owned(), value);
            } else {
                // The whole map keeps a repeated key's last value: this one,
                // which the walk cannot use.
                object.remove(key.as_ref());
            }
        }
        Ok(Value::Object(object))
    }
}

/// An object's key, borrowed from the text when it holds no escape.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeyReader)
    }
}

struct KeyReader;

impl<'de> Visitor<'de> for KeyReader {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

#[cfg(test)]
#[path = "json_pruned_tests.rs"]
mod tests;
