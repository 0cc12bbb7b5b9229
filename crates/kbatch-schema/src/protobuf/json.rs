//! A decoded Protobuf message as natural JSON, for `dump` and JSONL: the schema's field names
//! in declaration order, every field present (proto3 defaults included, `null` for a field
//! with presence that is absent), 64-bit integers as JSON numbers (unsigned ones with their
//! true value), enums as their names, bytes as base64, map entries in key order.
//! Well-known types (`Timestamp`, `Duration`, wrappers, `Struct`...) take their canonical
//! Protobuf JSON form (a timestamp is an RFC 3339 string), written by prost-reflect.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use prost_reflect::{DynamicMessage, Kind, MapKey, ReflectMessage as _, SerializeOptions, Value};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::arrow::fields_in_declaration_order;

/// Serializes a message as natural JSON: `serde_json::to_writer(out, &NaturalJson(&m))`.
#[derive(Debug, Clone, Copy)]
pub struct NaturalJson<'a>(pub &'a DynamicMessage);

impl Serialize for NaturalJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let message = self.0;
        let descriptor = message.descriptor();
        if descriptor.full_name().starts_with("google.protobuf.") {
            let options = SerializeOptions::new()
                .stringify_64_bit_integers(false)
                .use_proto_field_name(true)
                .skip_default_fields(false);
            return message.serialize_with_options(serializer, &options);
        }
        let fields = fields_in_declaration_order(&descriptor);
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for field in &fields {
            if field.supports_presence() && !message.has_field(field) {
                map.serialize_entry(field.name(), &())?;
            } else {
                let value = message.get_field(field);
                let kind = field.kind();
                map.serialize_entry(field.name(), &Typed(&value, &kind))?;
            }
        }
        map.end()
    }
}

/// A value with its kind (an enum's name needs its descriptor; a map's values their kind).
struct Typed<'a>(&'a Value, &'a Kind);

impl Serialize for Typed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Bool(v) => serializer.serialize_bool(*v),
            Value::I32(v) => serializer.serialize_i32(*v),
            Value::I64(v) => serializer.serialize_i64(*v),
            Value::U32(v) => serializer.serialize_u32(*v),
            Value::U64(v) => serializer.serialize_u64(*v),
            Value::F32(v) => float(serializer, f64::from(*v)),
            Value::F64(v) => float(serializer, *v),
            Value::String(v) => serializer.serialize_str(v),
            Value::Bytes(v) => serializer.collect_str(&Base64Display::new(v, &STANDARD)),
            Value::EnumNumber(n) => match self.1 {
                Kind::Enum(e) => match e.get_value(*n) {
                    Some(symbol) => serializer.serialize_str(symbol.name()),
                    None => serializer.serialize_i32(*n),
                },
                _ => serializer.serialize_i32(*n),
            },
            Value::Message(m) => NaturalJson(m).serialize(serializer),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Typed(item, self.1))?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let value_kind = match self.1 {
                    Kind::Message(entry) => entry.map_entry_value_field().kind(),
                    other => other.clone(),
                };
                let mut sorted: Vec<(&MapKey, &Value)> = entries.iter().collect();
                sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut map = serializer.serialize_map(Some(sorted.len()))?;
                for (key, value) in sorted {
                    map.serialize_entry(&Key(key), &Typed(value, &value_kind))?;
                }
                map.end()
            }
        }
    }
}

/// JSON object keys are strings; numbers and booleans as their text.
struct Key<'a>(&'a MapKey);

impl Serialize for Key<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            MapKey::Bool(v) => serializer.collect_str(v),
            MapKey::I32(v) => serializer.collect_str(v),
            MapKey::I64(v) => serializer.collect_str(v),
            MapKey::U32(v) => serializer.collect_str(v),
            MapKey::U64(v) => serializer.collect_str(v),
            MapKey::String(v) => serializer.serialize_str(v),
        }
    }
}

/// JSON has no NaN or infinities; Protobuf's JSON mapping writes them as strings.
fn float<S: Serializer>(serializer: S, v: f64) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        serializer.serialize_f64(v)
    } else if v.is_nan() {
        serializer.serialize_str("NaN")
    } else if v > 0.0 {
        serializer.serialize_str("Infinity")
    } else {
        serializer.serialize_str("-Infinity")
    }
}
