//! JSON Schema values behind the Confluent prefix: the bytes after the 5-byte prefix are the
//! JSON text itself (confluent-kafka's `JSONSerializer` writes no index list). The Arrow column
//! is that text (utf8), checked to be one JSON value; the registered JSON Schema is not needed
//! to read it (typed columns from the schema would be an addition, not a change).

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::builder::{ArrayBuilder as _, StringBuilder};
use arrow_array::StringArray;
use arrow_schema::DataType;
use serde::de::IgnoredAny;

use crate::avro::{Decoded, Role, RowError, SchemaSource};
use crate::registry::SchemaType;
use crate::{framing, OnUndecodable, SchemaError};

/// Why a JSON Schema value is not JSON text.
#[derive(Debug, thiserror::Error)]
pub enum JsonSchemaError {
    /// The value is not UTF-8.
    #[error("the JSON Schema value is not UTF-8 (byte {valid_up_to} starts an invalid sequence)")]
    NotUtf8 {
        /// Bytes before the first invalid one.
        valid_up_to: usize,
    },
    /// The value is UTF-8 but not one JSON value.
    #[error("the JSON Schema value is not JSON: {0}")]
    NotJson(String),
}

/// The JSON text of a value (the bytes after the prefix), checked to be one JSON value.
pub fn json_text(value: &[u8]) -> Result<&str, JsonSchemaError> {
    let text = std::str::from_utf8(value).map_err(|err| JsonSchemaError::NotUtf8 {
        valid_up_to: err.valid_up_to(),
    })?;
    serde_json::from_str::<IgnoredAny>(text)
        .map_err(|err| JsonSchemaError::NotJson(err.to_string()))?;
    Ok(text)
}

/// Appends JSON Schema values as one utf8 column; a refused value appends nothing.
#[derive(Debug, Default)]
pub struct JsonSchemaDecoder {
    builder: StringBuilder,
}

impl JsonSchemaDecoder {
    /// An empty column.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks and appends one value (the bytes after the prefix).
    pub fn append(&mut self, value: &[u8]) -> Result<(), JsonSchemaError> {
        self.builder.append_value(json_text(value)?);
        Ok(())
    }

    /// Appends a null row.
    pub fn append_null(&mut self) {
        self.builder.append_null();
    }

    /// Rows appended since the last `finish`.
    pub fn len(&self) -> usize {
        self.builder.len()
    }

    /// Whether no row was appended since the last `finish`.
    pub fn is_empty(&self) -> bool {
        self.builder.is_empty()
    }

    /// The column so far; the decoder starts a new one.
    pub fn finish(&mut self) -> StringArray {
        self.builder.finish()
    }
}

/// Decodes Confluent-framed JSON Schema values for one run, with
/// [`crate::avro::AvroDecoder`]'s contract: the column is utf8, the JSON text of each value.
/// Each schema id is fetched once (the registry caches it) to check that it is a JSON Schema.
#[derive(Debug)]
pub struct JsonSchemaColumn {
    registry: Arc<dyn SchemaSource>,
    on_undecodable: OnUndecodable,
    role: Role,
}

impl JsonSchemaColumn {
    /// A decoder of `role` fetching schemas from `registry`.
    pub fn new(
        registry: Arc<dyn SchemaSource>,
        on_undecodable: OnUndecodable,
        role: Role,
    ) -> JsonSchemaColumn {
        JsonSchemaColumn {
            registry,
            on_undecodable,
            role,
        }
    }

    /// `Utf8` when the subject `{topic}-key` / `{topic}-value` exists (and is a JSON Schema),
    /// `None` when it does not.
    pub fn prepare(&self, topic: &str) -> Result<Option<DataType>, SchemaError> {
        match self.registry.latest(&self.role.subject(topic), 0)? {
            Some(s) => match s.not_of(SchemaType::Json) {
                Some(e) => Err(e),
                None => Ok(Some(DataType::Utf8)),
            },
            None => Ok(None),
        }
    }

    /// Decode `values` of `topic` (`None`: a null value) into one utf8 column, in order.
    pub fn decode(&self, _topic: &str, values: &[Option<&[u8]>]) -> Result<Decoded, RowError> {
        let mut column = JsonSchemaDecoder::new();
        let mut checked: HashSet<u32> = HashSet::new();
        let mut undecodable = 0u64;
        let mut reader_id = None;
        for (row, v) in values.iter().enumerate() {
            let Some(v) = v else {
                column.append_null();
                continue;
            };
            let outcome = match framing::split(v) {
                Err(e) => Err(SchemaError::from(e)),
                Ok(f) => {
                    if checked.insert(f.id) {
                        let s = self
                            .registry
                            .schema(f.id)
                            .map_err(|error| RowError { row, error })?;
                        if let Some(error) = s.not_of(SchemaType::Json) {
                            return Err(RowError { row, error });
                        }
                    }
                    reader_id.get_or_insert(f.id);
                    column.append(f.body).map_err(|e| SchemaError::Decode {
                        id: f.id,
                        reason: e.to_string(),
                    })
                }
            };
            if let Err(error) = outcome {
                if self.on_undecodable == OnUndecodable::Fail {
                    return Err(RowError { row, error });
                }
                undecodable += 1;
                column.append_null();
            }
        }
        Ok(Decoded {
            array: Arc::new(column.finish()),
            undecodable,
            reader_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray as _;
    use arrow_array::Array as _;
    use serde_json::Value;

    use super::*;

    /// Values written by confluent-kafka's own `JSONSerializer` (fixtures/schema/gen_protobuf.py).
    const FIXTURE: &str = include_str!("../../../fixtures/schema/json_schema.json");

    #[test]
    fn serializer_values_are_the_json_they_were_given() {
        let doc: Value = serde_json::from_str(FIXTURE).unwrap();
        let records = doc["records"].as_array().unwrap();
        let mut decoder = JsonSchemaDecoder::new();
        for record in records {
            let hex = record["framed_hex"].as_str().unwrap();
            let framed: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            assert_eq!(framed[0], 0, "magic byte");
            decoder.append(&framed[5..]).unwrap();
        }
        let column = decoder.finish();
        assert_eq!(column.len(), records.len());
        for (i, record) in records.iter().enumerate() {
            let decoded: Value = serde_json::from_str(column.value(i)).unwrap();
            assert_eq!(decoded, record["value"], "record {i}");
        }
        // 2^53 + 1 survives as text (a float would round it).
        assert!(column.value(0).contains("9007199254740993"));
    }

    #[test]
    fn refuses_what_is_not_one_json_value() {
        let cases: &[(&[u8], &str)] = &[
            (b"\xff{}", "not UTF-8 (byte 0"),
            (b"{\"a\":1", "not JSON"),
            (b"{} {}", "not JSON"),
            (b"", "not JSON"),
        ];
        let mut decoder = JsonSchemaDecoder::new();
        for &(value, expected) in cases {
            let err = decoder.append(value).unwrap_err().to_string();
            assert!(err.contains(expected), "{value:?}: {err}");
        }
        assert!(decoder.is_empty());
        decoder.append(b" [1, null] ").unwrap();
        decoder.append_null();
        let column = decoder.finish();
        assert_eq!((column.len(), column.null_count()), (2, 1));
    }

    #[test]
    fn the_column_checks_the_schema_type_and_follows_the_choice() {
        use crate::avro::tests::Table;
        let table: Arc<dyn SchemaSource> = Arc::new(
            Table::default()
                .with_typed(1, SchemaType::Json, r#"{"type":"object"}"#, Vec::new())
                .with(2, r#""long""#)
                .subject("t-value", &[1])
                .subject("a-value", &[2]),
        );
        let framed = |id: u8, body: &[u8]| [&[0, 0, 0, 0, id][..], body].concat();
        let good = framed(1, br#"{"n": 9007199254740993}"#);
        let bad = framed(1, b"{");
        let values = [Some(&good[..]), None, Some(&b"x"[..]), Some(&bad[..])];
        let null = JsonSchemaColumn::new(table.clone(), OnUndecodable::Null, Role::Value);
        assert_eq!(null.prepare("t").unwrap(), Some(DataType::Utf8));
        assert_eq!(null.prepare("none").unwrap(), None);
        let d = null.decode("t", &values).unwrap();
        let s = d.array.as_string::<i32>();
        assert_eq!(s.value(0), r#"{"n": 9007199254740993}"#);
        assert_eq!(
            (d.undecodable, s.null_count(), d.reader_id),
            (2, 3, Some(1))
        );
        let fail = JsonSchemaColumn::new(table.clone(), OnUndecodable::Fail, Role::Value);
        let e = fail.decode("t", &values).unwrap_err();
        assert_eq!(e.row, 2);
        let e = fail.decode("t", &values[3..]).unwrap_err();
        assert!(
            e.error
                .to_string()
                .contains("schema id 1: the value does not decode"),
            "{}",
            e.error
        );
        let avro = framed(2, &[2]);
        let e = null.decode("a", &[Some(&avro)]).unwrap_err();
        assert!(
            e.error
                .to_string()
                .contains("schema id 2: the schema is Avro"),
            "{}",
            e.error
        );
        assert!(null.prepare("a").is_err());
    }
}
