//! Natural JSON from the rows of a decoded column, for `dump`: the schema's field names, every
//! field present (defaults were filled in by schema resolution), 64-bit integers as JSON
//! numbers, enums as their symbols, bytes and fixed as base64, unions without a type wrapper,
//! decimals as exact JSON numbers, dates as `YYYY-MM-DD`, timestamps as RFC 3339 in UTC
//! (`2024-05-01T12:00:00.123456Z`), maps as objects.
//!
//! Written by hand: `arrow-json` is not in the tree, and its writer renders binary as hex.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::temporal_conversions::{as_date, as_datetime};
use arrow_array::types::*;
use arrow_array::Array;
use arrow_schema::{DataType, Field, TimeUnit};
use base64::Engine as _;

/// A type the renderer does not know.
#[derive(Debug, thiserror::Error)]
#[error("cannot render Arrow type {0} as JSON")]
pub struct Unsupported(pub String);

/// The metadata key of an Arrow extension type's name.
const EXTENSION_NAME: &str = "ARROW:extension:name";
/// Arrow's canonical extension type of utf8 JSON text.
const ARROW_JSON: &str = "arrow.json";

/// `field` marked as Arrow's canonical `arrow.json` extension (utf8 holding JSON text).
pub fn as_json_field(field: Field) -> Field {
    let mut metadata = field.metadata().clone();
    metadata.insert(EXTENSION_NAME, ARROW_JSON);
    field.with_metadata(metadata)
}

/// Whether `field` is utf8 JSON text (`arrow.json`): written as its text, not as a string.
pub fn is_json_field(field: &Field) -> bool {
    field.extension_type_name() == Some(ARROW_JSON)
}

/// Append row `row` of a utf8 column of JSON text to `out` as that JSON (null as `null`), on
/// one line: a raw line break in valid JSON is whitespace between tokens (strings cannot hold
/// one), so it becomes a space and nothing else changes.
pub fn write_json_text(
    out: &mut Vec<u8>,
    array: &dyn Array,
    row: usize,
) -> Result<(), Unsupported> {
    if array.is_null(row) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let Some(text) = array.as_string_opt::<i32>() else {
        return Err(Unsupported(format!("{} as JSON text", array.data_type())));
    };
    out.extend(
        text.value(row)
            .bytes()
            .map(|b| if matches!(b, b'\n' | b'\r') { b' ' } else { b }),
    );
    Ok(())
}

/// Append row `row` of `array` as JSON to `out`.
pub fn write_row(out: &mut Vec<u8>, array: &dyn Array, row: usize) -> Result<(), Unsupported> {
    if array.is_null(row) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    macro_rules! num {
        ($t:ty) => {{
            let _ = write!(out, "{}", array.as_primitive::<$t>().value(row));
        }};
    }
    macro_rules! float {
        ($t:ty) => {{
            let v = array.as_primitive::<$t>().value(row);
            if v.is_finite() {
                let _ = serde_json::to_writer(&mut *out, &v);
            } else {
                // JSON has no NaN or infinity: their names, as strings.
                let _ = serde_json::to_writer(&mut *out, &v.to_string());
            }
        }};
    }
    match array.data_type() {
        DataType::Null => out.extend_from_slice(b"null"),
        DataType::Boolean => {
            let v = array.as_boolean().value(row);
            out.extend_from_slice(if v { b"true" } else { b"false" });
        }
        DataType::Int8 => num!(Int8Type),
        DataType::Int16 => num!(Int16Type),
        DataType::Int32 => num!(Int32Type),
        DataType::Int64 => num!(Int64Type),
        DataType::UInt8 => num!(UInt8Type),
        DataType::UInt16 => num!(UInt16Type),
        DataType::UInt32 => num!(UInt32Type),
        DataType::UInt64 => num!(UInt64Type),
        DataType::Float32 => float!(Float32Type),
        DataType::Float64 => float!(Float64Type),
        DataType::Utf8 => {
            let _ = serde_json::to_writer(&mut *out, array.as_string::<i32>().value(row));
        }
        DataType::LargeUtf8 => {
            let _ = serde_json::to_writer(&mut *out, array.as_string::<i64>().value(row));
        }
        DataType::Utf8View => {
            let _ = serde_json::to_writer(&mut *out, array.as_string_view().value(row));
        }
        DataType::Binary => base64(out, array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => base64(out, array.as_binary::<i64>().value(row)),
        DataType::FixedSizeBinary(_) => base64(out, array.as_fixed_size_binary().value(row)),
        DataType::Decimal128(_, _) => {
            let a = array.as_primitive::<Decimal128Type>();
            out.extend_from_slice(a.value_as_string(row).as_bytes());
        }
        DataType::Decimal256(_, _) => {
            let a = array.as_primitive::<Decimal256Type>();
            out.extend_from_slice(a.value_as_string(row).as_bytes());
        }
        DataType::Date32 => {
            let v = array.as_primitive::<Date32Type>().value(row);
            match as_date::<Date32Type>(i64::from(v)) {
                Some(d) => {
                    let _ = write!(out, "\"{}\"", d.format("%Y-%m-%d"));
                }
                None => {
                    let _ = write!(out, "{v}");
                }
            }
        }
        DataType::Timestamp(unit, _) => {
            let (v, dt) = match unit {
                TimeUnit::Second => {
                    let v = array.as_primitive::<TimestampSecondType>().value(row);
                    (v, as_datetime::<TimestampSecondType>(v))
                }
                TimeUnit::Millisecond => {
                    let v = array.as_primitive::<TimestampMillisecondType>().value(row);
                    (v, as_datetime::<TimestampMillisecondType>(v))
                }
                TimeUnit::Microsecond => {
                    let v = array.as_primitive::<TimestampMicrosecondType>().value(row);
                    (v, as_datetime::<TimestampMicrosecondType>(v))
                }
                TimeUnit::Nanosecond => {
                    let v = array.as_primitive::<TimestampNanosecondType>().value(row);
                    (v, as_datetime::<TimestampNanosecondType>(v))
                }
            };
            match dt {
                Some(dt) => {
                    let _ = write!(out, "\"{}\"", dt.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
                }
                None => {
                    let _ = write!(out, "{v}");
                }
            }
        }
        DataType::Time32(TimeUnit::Millisecond) => num!(Time32MillisecondType),
        DataType::Time64(TimeUnit::Microsecond) => num!(Time64MicrosecondType),
        DataType::Struct(fields) => {
            let s = array.as_struct();
            out.push(b'{');
            for (i, (f, c)) in fields.iter().zip(s.columns()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, f.name());
                out.push(b':');
                write_row(out, c.as_ref(), row)?;
            }
            out.push(b'}');
        }
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            let items = l.value(row);
            out.push(b'[');
            for i in 0..items.len() {
                if i > 0 {
                    out.push(b',');
                }
                write_row(out, items.as_ref(), i)?;
            }
            out.push(b']');
        }
        DataType::Map(_, _) => {
            let m = array.as_map();
            let entries = m.value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push(b'{');
            for i in 0..entries.len() {
                if i > 0 {
                    out.push(b',');
                }
                // Avro map keys are strings; anything else is quoted after rendering.
                if keys.data_type() == &DataType::Utf8 {
                    let _ = serde_json::to_writer(&mut *out, keys.as_string::<i32>().value(i));
                } else {
                    let mut k = Vec::new();
                    write_row(&mut k, keys.as_ref(), i)?;
                    let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(&k));
                }
                out.push(b':');
                write_row(out, values.as_ref(), i)?;
            }
            out.push(b'}');
        }
        other => return Err(Unsupported(other.to_string())),
    }
    Ok(())
}

fn base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .as_bytes(),
    );
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use arrow_array::StringArray;

    use super::*;

    #[test]
    fn json_text_is_written_as_it_is_on_one_line() {
        let column = StringArray::from(vec![
            Some("{\"a\": [1,\n 2],\r\n \"b\": \"x\\ny\"}"),
            None,
            Some("9007199254740993"),
        ]);
        let mut out = Vec::new();
        for row in 0..column.len() {
            write_json_text(&mut out, &column, row).unwrap();
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"a\": [1,  2],   \"b\": \"x\\ny\"}|null|9007199254740993|"
        );
        let field = as_json_field(Field::new("key", DataType::Utf8, true));
        assert!(is_json_field(&field));
        assert!(!is_json_field(&Field::new("key", DataType::Utf8, true)));
        let ints = arrow_array::Int32Array::from(vec![1]);
        assert!(write_json_text(&mut Vec::new(), &ints, 0).is_err());
    }
}
