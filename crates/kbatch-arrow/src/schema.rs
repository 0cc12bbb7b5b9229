//! The schema of Spark's Kafka source, as Arrow types Spark's own Arrow reader accepts.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// Name of the optional last column (Spark adds it only with `includeHeaders`).
pub const HEADERS_COLUMN: &str = "headers";

/// Kafka timestamps are milliseconds; Spark's `TimestampType` is microseconds.
pub const TIMESTAMP_UNIT_PER_MS: i64 = 1000;

/// The fields of one header: `key` string (a key that is not UTF-8 is replaced lossily, with
/// U+FFFD), `value` binary (null for a null header value).
pub(crate) fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, true),
        Field::new("value", DataType::Binary, true),
    ])
}

/// The item field of the `headers` list. Spark names an array's Arrow item `element`, and
/// compares nested field names when it takes Arrow data, so ours match.
pub(crate) fn header_item() -> Arc<Field> {
    Arc::new(Field::new(
        "element",
        DataType::Struct(header_fields()),
        true,
    ))
}

/// Spark's Kafka source schema: `key` binary, `value` binary, `topic` string, `partition`
/// int32, `offset` int64, `timestamp` timestamp(µs, UTC), `timestampType` int32 (0 create
/// time, 1 log-append time), and with `headers` the list<struct<key string, value binary>>.
///
/// Every field is nullable, as in Spark's (a schema that differs only in nullability is a
/// different schema to Spark). Only the plain `Utf8`, `Binary` and `List` types: Spark's Arrow
/// reader refuses the `Large` and `View` forms.
pub fn schema(headers: bool) -> SchemaRef {
    let mut fields = vec![
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("topic", DataType::Utf8, true),
        Field::new("partition", DataType::Int32, true),
        Field::new("offset", DataType::Int64, true),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("timestampType", DataType::Int32, true),
    ];
    if headers {
        fields.push(Field::new(
            HEADERS_COLUMN,
            DataType::List(header_item()),
            true,
        ));
    }
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_and_order_are_sparks() {
        let s = schema(true);
        let got: Vec<(String, String)> = s
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect();
        let want = [
            ("key", "Binary"),
            ("value", "Binary"),
            ("topic", "Utf8"),
            ("partition", "Int32"),
            ("offset", "Int64"),
            ("timestamp", "Timestamp(µs, \"UTC\")"),
            ("timestampType", "Int32"),
            (
                "headers",
                "List(Struct(\"key\": Utf8, \"value\": Binary), field: 'element')",
            ),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        assert_eq!(got, want);
        assert!(s.fields().iter().all(|f| f.is_nullable()));
        let DataType::List(item) = s.field(7).data_type() else {
            panic!("headers is not a list")
        };
        let DataType::Struct(kv) = item.data_type() else {
            panic!("a header is not a struct")
        };
        assert!(item.is_nullable() && kv.iter().all(|f| f.is_nullable()));
        assert_eq!(schema(false).fields().len(), 7);
    }
}
