//! Reading a parsed JSON body into a request type with objects as the only form of a struct.
//!
//! serde's derived `Deserialize` for a struct also accepts a JSON array of the fields in
//! declaration order, and serde_json's deserializers offer it: `[[]]` reads as
//! `{"items": []}`, `{"items": [["id", 1]]}` as `{"items": [{"product_id": "id",
//! "quantity": 1}]}`. That is a second, undocumented shape of every body, one the OpenAPI
//! document does not allow; a client that found it would depend on field order. [`Strict`]
//! walks the value like serde_json's own deserializer but refuses an array wherever a struct
//! is expected, at any depth, so the caller answers 400 naming the place.
//!
//! Enums are read by serde_json itself: the API's enums are strings (unit variants), which
//! carry no struct to be given as an array.

use serde::de::{
    self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Error, Map, Value};

/// A JSON value to deserialize with structs accepted only as objects.
#[derive(Debug)]
pub struct Strict(pub Value);

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => n.as_u64().map_or_else(
            || {
                n.as_i64().map_or_else(
                    || Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
                    Unexpected::Signed,
                )
            },
            Unexpected::Unsigned,
        ),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

impl<'de> de::Deserializer<'de> for Strict {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => {
                let len = items.len();
                let mut seq = Elements(items.into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                if seq.0.len() == 0 {
                    Ok(value)
                } else {
                    Err(de::Error::invalid_length(len, &"fewer elements in array"))
                }
            }
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct Elements(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Elements {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|value| seed.deserialize(Strict(value)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl Entries {
    fn new(map: Map<String, Value>) -> Self {
        Self {
            entries: map.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("a value was asked for before its key"))?;
        seed.deserialize(Strict(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::Strict;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line {
        product_id: String,
        quantity: i64,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Method {
        Standard,
        Express,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        items: Vec<Line>,
        note: Option<String>,
        #[serde(default)]
        method: Option<Method>,
        #[serde(default)]
        tags: BTreeMap<String, u32>,
        #[serde(default)]
        pair: Option<(u8, bool)>,
    }

    fn read(value: serde_json::Value) -> Result<Body, String> {
        serde_path_to_error::deserialize(Strict(value)).map_err(|err| err.to_string())
    }

    #[test]
    fn objects_read_as_serde_json_reads_them() {
        let body = read(json!({
            "items": [{ "product_id": "p", "quantity": 2 }],
            "note": null,
            "method": "express",
            "tags": { "gift": 1 },
            "pair": [7, true],
        }))
        .unwrap();
        assert_eq!(
            body,
            Body {
                items: vec![Line {
                    product_id: "p".to_owned(),
                    quantity: 2
                }],
                note: None,
                method: Some(Method::Express),
                tags: BTreeMap::from([("gift".to_owned(), 1)]),
                pair: Some((7, true)),
            }
        );
    }

    #[test]
    fn a_struct_given_as_an_array_is_refused_at_any_depth_naming_the_place() {
        let top = read(json!([[]])).unwrap_err();
        assert!(
            top.contains("invalid type: sequence, expected struct Body"),
            "{top}"
        );
        let nested = read(json!({ "items": [["p", 1]], "note": null })).unwrap_err();
        assert!(
            nested.starts_with("items[0]: invalid type: sequence"),
            "{nested}"
        );
    }

    #[test]
    fn wrong_types_unknown_fields_and_long_tuples_are_still_errors() {
        let wrong = read(json!({ "items": [{ "product_id": "p", "quantity": 1.5 }] })).unwrap_err();
        assert!(
            wrong.starts_with("items[0].quantity: invalid type: floating point"),
            "{wrong}"
        );
        let unknown = read(json!({ "items": [], "colour": "red" })).unwrap_err();
        assert!(unknown.contains("unknown field `colour`"), "{unknown}");
        let long = read(json!({ "items": [], "pair": [1, true, 3] })).unwrap_err();
        assert!(long.starts_with("pair: invalid length 3"), "{long}");
        let method = read(json!({ "items": [], "method": "teleport" })).unwrap_err();
        assert!(method.contains("unknown variant `teleport`"), "{method}");
    }
}
