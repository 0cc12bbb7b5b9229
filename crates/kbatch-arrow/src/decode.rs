//! Registry-framed keys and values of a whole read, decoded into typed columns: the `key`
//! and/or `value` binary column becomes the column the schema types (a struct for a record),
//! in place, same name, nullable. One decode over every batch, so the reader schema is the
//! newest schema id in the whole read and every batch has the same type.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use kbatch_schema::avro::AvroDecoder;
use kbatch_schema::{Decoders, SchemaError};

/// A key or value that failed, and where.
#[derive(Debug)]
pub struct DecodeFailure {
    /// The record's topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// `"key"` or `"value"`.
    pub column: &'static str,
    /// Why.
    pub error: SchemaError,
}

impl std::fmt::Display for DecodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} offset {}: cannot decode the {}: {}",
            self.topic, self.partition, self.offset, self.column, self.error
        )
    }
}

/// The batches of a read (in [`crate::schema`]'s columns) with their `key` / `value`
/// columns decoded by `decoders`; returns the new schema, the batches, and how many keys or
/// values were made null as undecodable.
pub fn decode_batches(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    decoders: &Decoders,
) -> Result<(SchemaRef, Vec<RecordBatch>, u64), DecodeFailure> {
    let mut schema = schema;
    let mut batches = batches;
    let mut undecodable = 0;
    for (column, decoder) in [("key", &decoders.key), ("value", &decoders.value)] {
        if let Some(decoder) = decoder {
            let (s, b, n) = decode_column(&schema, batches, column, decoder)?;
            schema = s;
            batches = b;
            undecodable += n;
        }
    }
    Ok((schema, batches, undecodable))
}

fn decode_column(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    column: &'static str,
    decoder: &AvroDecoder,
) -> Result<(SchemaRef, Vec<RecordBatch>, u64), DecodeFailure> {
    let index = schema
        .index_of(column)
        .expect("the read's schema has key and value columns");
    let values: Vec<Option<&[u8]>> = batches
        .iter()
        .flat_map(|b| {
            let a = b.column(index).as_binary::<i32>();
            (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i)))
        })
        .collect();
    let decoded = decoder.decode(&values).map_err(|e| {
        let (batch, row) = locate(&batches, e.row);
        let b = &batches[batch];
        DecodeFailure {
            topic: b
                .column_by_name("topic")
                .map(|c| c.as_string::<i32>().value(row).to_string())
                .unwrap_or_default(),
            partition: b
                .column_by_name("partition")
                .map(|c| c.as_primitive::<arrow_array::types::Int32Type>().value(row))
                .unwrap_or(-1),
            offset: b
                .column_by_name("offset")
                .map(|c| c.as_primitive::<arrow_array::types::Int64Type>().value(row))
                .unwrap_or(-1),
            column,
            error: e.error,
        }
    })?;
    let array: ArrayRef = decoded.array;
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields[index] = Arc::new(Field::new(column, array.data_type().clone(), true));
    let new_schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let mut out = Vec::with_capacity(batches.len());
    let mut start = 0;
    for b in batches {
        let mut columns = b.columns().to_vec();
        columns[index] = array.slice(start, b.num_rows());
        start += b.num_rows();
        let batch =
            RecordBatch::try_new(new_schema.clone(), columns).map_err(|e| DecodeFailure {
                topic: String::new(),
                partition: -1,
                offset: -1,
                column,
                error: SchemaError::Arrow(e.to_string()),
            })?;
        out.push(batch);
    }
    Ok((new_schema, out, decoded.undecodable))
}

/// Batch and row of the `n`-th row of all of `batches`.
fn locate(batches: &[RecordBatch], mut n: usize) -> (usize, usize) {
    for (i, b) in batches.iter().enumerate() {
        if n < b.num_rows() {
            return (i, n);
        }
        n -= b.num_rows();
    }
    (batches.len().saturating_sub(1), 0)
}
