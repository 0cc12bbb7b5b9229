//! Values written by confluent-kafka's own `ProtobufSerializer` (fixtures/schema/protobuf.json,
//! made by fixtures/schema/gen_protobuf.py), decoded and compared with what the serializer
//! was given.

use std::sync::Arc;

use arrow_array::cast::AsArray as _;
use arrow_array::types::{
    DurationMicrosecondType, Float32Type, Float64Type, Int32Type, Int64Type,
    TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, StructArray};
use arrow_schema::DataType;
use base64::Engine as _;
use prost_reflect::DynamicMessage;
use serde_json::{json, Value as Json};

use super::*;

const FIXTURE: &str = include_str!("../../../../fixtures/schema/protobuf.json");

struct Record {
    message: String,
    framed: Vec<u8>,
    given: Json,
}

struct Fixture {
    schema_id: u32,
    text: ProtoSchema,
    base64: ProtoSchema,
    records: Vec<Record>,
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn refs(list: &Json) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = r["name"].as_str().unwrap().to_owned();
            (name, r["schema"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn fixture() -> Fixture {
    let doc: Json = serde_json::from_str(FIXTURE).unwrap();
    let text = ProtoSchema::parse(
        doc["schema_text"].as_str().unwrap(),
        refs(&doc["references_text"]),
    )
    .unwrap();
    let base64 = ProtoSchema::parse(
        doc["schema_base64"].as_str().unwrap(),
        refs(&doc["references_base64"]),
    )
    .unwrap();
    let records = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Record {
            message: r["message"].as_str().unwrap().to_owned(),
            framed: hex(r["framed_hex"].as_str().unwrap()),
            given: r["value"].clone(),
        })
        .collect();
    Fixture {
        schema_id: doc["schema_id"].as_u64().unwrap() as u32,
        text,
        base64,
        records,
    }
}

/// The Protobuf part of a framed value: after the magic byte and the 4-byte id.
fn after_prefix(fixture: &Fixture, framed: &[u8]) -> Vec<u8> {
    assert_eq!(framed[0], 0, "magic byte");
    let id = u32::from_be_bytes(framed[1..5].try_into().unwrap());
    assert_eq!(id, fixture.schema_id);
    framed[5..].to_vec()
}

/// What a field the serializer was not given must hold: its proto3 default, or null.
fn is_default(value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::Bool(b) => !b,
        Json::Number(n) => n.as_f64() == Some(0.0),
        Json::String(s) => s.is_empty() || s == "STATUS_UNKNOWN",
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
    }
}

/// `decoded` holds every field; those in `given` equal it (recursively), the others are
/// defaults. Floats compare as f32 where the schema's type is float.
fn assert_matches(decoded: &Json, given: &Json, path: &str) {
    match (decoded, given) {
        (Json::Object(d), Json::Object(g)) => {
            for key in g.keys() {
                assert!(d.contains_key(key), "{path}.{key} given but not decoded");
            }
            for (key, value) in d {
                match g.get(key) {
                    Some(expected) => assert_matches(value, expected, &format!("{path}.{key}")),
                    None => assert!(is_default(value), "{path}.{key} = {value}, not a default"),
                }
            }
        }
        (Json::Array(d), Json::Array(g)) => {
            assert_eq!(d.len(), g.len(), "{path}");
            for (i, (d, g)) in d.iter().zip(g).enumerate() {
                assert_matches(d, g, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(decoded, given, "{path}"),
    }
}

#[test]
fn both_schema_forms_compile_to_the_same_types() {
    let fixture = fixture();
    for name in ["shop.Header", "shop.Order", "shop.Order.Line"] {
        let text = fixture.text.message_by_name(name).unwrap();
        let base64 = fixture.base64.message_by_name(name).unwrap();
        assert_eq!(
            arrow_type(&text).unwrap(),
            arrow_type(&base64).unwrap(),
            "{name}"
        );
    }
    // The registry answered the descriptor the Python client registered, not text.
    let doc: Json = serde_json::from_str(FIXTURE).unwrap();
    assert!(!doc["schema_base64"].as_str().unwrap().contains(' '));
}

#[test]
fn serializer_values_decode_to_natural_json_equal_to_what_it_was_given() {
    let fixture = fixture();
    let mut seen = std::collections::BTreeSet::new();
    for schema in [&fixture.text, &fixture.base64] {
        for record in &fixture.records {
            let value = after_prefix(&fixture, &record.framed);
            let (message, payload) = schema.message_for(&value).unwrap();
            assert_eq!(message.full_name(), record.message);
            seen.insert((
                record.message.clone(),
                value[..value.len() - payload.len()].to_vec(),
            ));
            let decoded = DynamicMessage::decode(message, payload).unwrap();
            let json = serde_json::to_value(NaturalJson(&decoded)).unwrap();
            assert_matches(&json, &record.given, &record.message);
        }
    }
    // The index lists the serializer wrote: [1] as 02 02, [0] as the 0 shortcut, [1, 0].
    let lists: Vec<_> = seen.into_iter().collect();
    assert_eq!(
        lists,
        [
            ("shop.Header".to_owned(), vec![0]),
            ("shop.Order".to_owned(), vec![2, 2]),
            ("shop.Order.Line".to_owned(), vec![4, 2, 0]),
        ]
    );
}

#[test]
fn natural_json_spells_out_every_field_in_declaration_order() {
    let fixture = fixture();
    let record = &fixture.records[1]; // the Order with nothing set
    assert_eq!(record.given, json!({}));
    let value = after_prefix(&fixture, &record.framed);
    let (message, payload) = fixture.base64.message_for(&value).unwrap();
    let decoded = DynamicMessage::decode(message, payload).unwrap();
    let text = serde_json::to_string(&NaturalJson(&decoded)).unwrap();
    assert_eq!(
        text,
        r#"{"id":"","customer_id":0,"big":0,"delta":0,"status":"STATUS_UNKNOWN","lines":[],"counters":{},"blob":"","note":null,"first_line":null,"tags":[],"score":0.0,"ratio":0.0,"gift":false,"placed_at":null,"card":null,"voucher":null,"f32":0,"u32":0,"sf64":0,"packed_ints":[]}"#
    );
}

/// One row of an Arrow column as JSON, for comparison (timestamps and durations as µs).
fn row_json(array: &ArrayRef, row: usize) -> Json {
    if array.is_null(row) {
        return Json::Null;
    }
    match array.data_type() {
        DataType::Boolean => json!(array.as_boolean().value(row)),
        DataType::Int32 => json!(array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => json!(array.as_primitive::<Int64Type>().value(row)),
        DataType::Float32 => json!(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => json!(array.as_primitive::<Float64Type>().value(row)),
        DataType::Timestamp(..) => {
            json!(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        DataType::Duration(_) => json!(array.as_primitive::<DurationMicrosecondType>().value(row)),
        DataType::Utf8 => json!(array.as_string::<i32>().value(row)),
        DataType::Binary => {
            json!(base64::engine::general_purpose::STANDARD
                .encode(array.as_binary::<i32>().value(row)))
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut object = serde_json::Map::new();
            for (field, column) in fields.iter().zip(s.columns()) {
                object.insert(field.name().clone(), row_json(column, row));
            }
            Json::Object(object)
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            Json::Array((0..items.len()).map(|i| row_json(&items, i)).collect())
        }
        DataType::Map(..) => {
            let entries = array.as_map().value(row);
            let keys: ArrayRef = entries.column(0).clone();
            let values: ArrayRef = entries.column(1).clone();
            let mut object = serde_json::Map::new();
            for i in 0..entries.len() {
                let key = match row_json(&keys, i) {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                object.insert(key, row_json(&values, i));
            }
            Json::Object(object)
        }
        other => panic!("no JSON for {other}"),
    }
}

fn decode_all(schema: &ProtoSchema, fixture: &Fixture, message: &str) -> (StructArray, Vec<Json>) {
    let descriptor = schema.message_by_name(message).unwrap();
    let mut decoder = ProtoDecoder::new(descriptor).unwrap();
    let mut given = Vec::new();
    for record in fixture.records.iter().filter(|r| r.message == message) {
        let value = after_prefix(fixture, &record.framed);
        let (_, payload) = schema.message_for(&value).unwrap();
        decoder.append(payload).unwrap();
        given.push(record.given.clone());
    }
    decoder.append_null();
    given.push(Json::Null);
    (decoder.finish(), given)
}

#[test]
fn serializer_values_decode_to_arrow_rows_equal_to_what_it_was_given() {
    let fixture = fixture();
    for schema in [&fixture.text, &fixture.base64] {
        for message in ["shop.Order", "shop.Header", "shop.Order.Line"] {
            let (array, mut given) = decode_all(schema, &fixture, message);
            assert_eq!(array.len(), given.len());
            if message == "shop.Order" {
                // The documented Arrow differences from the given JSON: unsigned 64- and
                // 32-bit integers keep their bits in signed columns (as Spark's), and a
                // timestamp is microseconds since the epoch.
                let first = &mut given[0];
                first["big"] = json!(-1);
                first["f32"] = json!(-1);
                first["u32"] = json!(3_000_000_000u32 as i32);
                first["placed_at"] = json!(1_714_566_645_123_456i64);
                given[2]["placed_at"] = json!(-1_000_000);
            }
            let column: ArrayRef = Arc::new(array);
            for (row, given) in given.iter().enumerate() {
                let decoded = row_json(&column, row);
                if given.is_null() {
                    assert!(decoded.is_null(), "{message} row {row}");
                } else {
                    assert_matches(&decoded, given, &format!("{message}[{row}]"));
                }
            }
        }
    }
}

#[test]
fn text_and_descriptor_forms_decode_to_equal_columns() {
    let fixture = fixture();
    let (text, _) = decode_all(&fixture.text, &fixture, "shop.Order");
    let (base64, _) = decode_all(&fixture.base64, &fixture, "shop.Order");
    assert_eq!(text, base64);
}
