//! JSON Schema values behind the Confluent prefix: the bytes after the 5-byte prefix are the
//! JSON text itself (confluent-kafka's `JSONSerializer` writes no index list). The Arrow column
//! is that text (utf8), checked to be one JSON value; the registered JSON Schema is not needed
//! to read it (typed columns from the schema would be an addition, not a change).

use arrow_array::builder::{ArrayBuilder as _, StringBuilder};
use arrow_array::StringArray;
use serde::de::IgnoredAny;

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

#[cfg(test)]
mod tests {
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
}
