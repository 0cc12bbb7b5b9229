//! Where `arrow-avro`'s types differ from Spark's `from_avro`, make them Spark's:
//!
//! | Avro                      | arrow-avro                  | here (Spark)               |
//! |---------------------------|-----------------------------|----------------------------|
//! | enum                      | dictionary<int32, utf8>     | utf8 (the symbol)          |
//! | timestamp-millis          | timestamp(ms, "+00:00")     | timestamp(µs, "UTC")       |
//! | timestamp-micros          | timestamp(µs, "+00:00")     | timestamp(µs, "UTC")       |
//! | array                     | list, item named `item`     | list, item named `element` |
//!
//! Everything else is kept as arrow-avro builds it (record → struct, `[null, T]` → nullable
//! T, map → map<utf8, T>, bytes → binary, fixed → fixed_size_binary, decimal → decimal128,
//! date → date32, int/long → int32/int64, float/double, string → utf8). Nested types are
//! rebuilt around their converted children, and every field's metadata is dropped, so the
//! column type depends on the reader schema only.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, ListArray, MapArray, PrimitiveArray, StructArray};
use arrow_schema::{DataType, Field, Fields, TimeUnit};

use crate::SchemaError;

const UTC: &str = "UTC";

fn arrow(e: arrow_schema::ArrowError) -> SchemaError {
    SchemaError::Arrow(format!("converting a decoded column: {e}"))
}

/// `array` with Spark's types (see the module's table).
pub(crate) fn normalize(array: ArrayRef) -> Result<ArrayRef, SchemaError> {
    match array.data_type().clone() {
        DataType::Dictionary(key, value) if *key == DataType::Int32 && *value == DataType::Utf8 => {
            let dict = array.as_dictionary::<Int32Type>();
            arrow_select::take::take(dict.values().as_ref(), dict.keys(), None).map_err(arrow)
        }
        DataType::Timestamp(TimeUnit::Millisecond, Some(_)) => {
            let ms = array.as_primitive::<TimestampMillisecondType>();
            let us: PrimitiveArray<TimestampMicrosecondType> = ms
                .try_unary(|v| {
                    v.checked_mul(1000).ok_or_else(|| {
                        arrow_schema::ArrowError::ComputeError(format!(
                            "timestamp-millis {v} is out of the microsecond range"
                        ))
                    })
                })
                .map_err(arrow)?;
            Ok(Arc::new(us.with_timezone(UTC)))
        }
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if &*tz != UTC => {
            let us = array.as_primitive::<TimestampMicrosecondType>().clone();
            Ok(Arc::new(us.with_timezone(UTC)))
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut children = Vec::with_capacity(fields.len());
            let mut new_fields = Vec::with_capacity(fields.len());
            for (f, c) in fields.iter().zip(s.columns()) {
                let c = normalize(c.clone())?;
                new_fields.push(retype(f, c.data_type()));
                children.push(c);
            }
            let out = StructArray::try_new(Fields::from(new_fields), children, s.nulls().cloned())
                .map_err(arrow)?;
            Ok(Arc::new(out))
        }
        DataType::List(item) => {
            let l = array.as_list::<i32>();
            let values = normalize(l.values().clone())?;
            let item = Arc::new(Field::new(
                "element",
                values.data_type().clone(),
                item.is_nullable(),
            ));
            let out = ListArray::try_new(item, l.offsets().clone(), values, l.nulls().cloned())
                .map_err(arrow)?;
            Ok(Arc::new(out))
        }
        DataType::Map(entries_field, ordered) => {
            let m = array.as_map();
            let entries = normalize(Arc::new(m.entries().clone()))?;
            let entries_field = Arc::new(retype(&entries_field, entries.data_type()));
            let out = MapArray::try_new(
                entries_field,
                m.offsets().clone(),
                entries.as_struct().clone(),
                m.nulls().cloned(),
                ordered,
            )
            .map_err(arrow)?;
            Ok(Arc::new(out))
        }
        _ => Ok(array),
    }
}

/// `f` with type `dt` and no metadata: `arrow-avro` records Avro details (defaults, the
/// writer's names) in field metadata, which differ between versions of one subject and would
/// make their columns different types.
fn retype(f: &Field, dt: &DataType) -> Field {
    Field::new(f.name(), dt.clone(), f.is_nullable())
}
