//! Registry-framed keys and values of a whole read, decoded into typed columns: the `key`
//! and/or `value` binary column becomes the column the schema types (a struct for a record),
//! in place, same name, nullable. The decoder reads every value of a topic with one reader
//! schema chosen for the run (see `kbatch_schema::avro` and `kbatch_schema::protobuf`), so
//! every batch has the same type.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use kbatch_schema::{ColumnDecoder, Decoders, SchemaError};

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

impl std::error::Error for DecodeFailure {}

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
    decoder: &ColumnDecoder,
) -> Result<(SchemaRef, Vec<RecordBatch>, u64), DecodeFailure> {
    let index = schema
        .index_of(column)
        .expect("the read's schema has key and value columns");
    let failure = |b: &RecordBatch, row: usize, error: SchemaError| DecodeFailure {
        topic: b
            .column_by_name("topic")
            .filter(|c| row < c.len())
            .map(|c| c.as_string::<i32>().value(row).to_string())
            .unwrap_or_default(),
        partition: b
            .column_by_name("partition")
            .filter(|c| row < c.len())
            .map(|c| c.as_primitive::<arrow_array::types::Int32Type>().value(row))
            .unwrap_or(-1),
        offset: b
            .column_by_name("offset")
            .filter(|c| row < c.len())
            .map(|c| c.as_primitive::<arrow_array::types::Int64Type>().value(row))
            .unwrap_or(-1),
        column,
        error,
    };
    // Batch by batch (each is one partition's, so one topic's): the decoder's reader schema
    // is fixed per topic for the run, so every batch of a topic decodes to one type.
    let mut undecodable = 0;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batches.len());
    for b in &batches {
        let a = b.column(index).as_binary::<i32>();
        let values: Vec<Option<&[u8]>> = (0..a.len())
            .map(|i| a.is_valid(i).then(|| a.value(i)))
            .collect();
        let topic = b
            .column_by_name("topic")
            .filter(|c| !c.is_empty())
            .map(|c| c.as_string::<i32>().value(0).to_string())
            .unwrap_or_default();
        let decoded = decoder
            .decode(&topic, &values)
            .map_err(|e| failure(b, e.row, e.error))?;
        undecodable += decoded.undecodable;
        columns.push(decoded.array);
    }
    // A batch decoded before its topic's reader schema was known (no value of it carried a
    // schema id) is all nulls: give it the type of the others.
    let typed = columns
        .iter()
        .map(|c| c.data_type())
        .find(|t| **t != DataType::Null)
        .cloned()
        .unwrap_or(DataType::Null);
    for c in &mut columns {
        if c.data_type() == &DataType::Null && typed != DataType::Null {
            *c = new_null_array(&typed, c.len());
        }
    }
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields[index] = Arc::new(decoder.field(column, typed));
    let new_schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let mut out = Vec::with_capacity(batches.len());
    for (b, decoded) in batches.into_iter().zip(columns) {
        let mut cols = b.columns().to_vec();
        cols[index] = decoded;
        let batch = RecordBatch::try_new(new_schema.clone(), cols).map_err(|e| {
            let topics = "the topics' schemas differ: read one topic at a time";
            failure(&b, 0, SchemaError::Arrow(format!("{topics} ({e})")))
        })?;
        out.push(batch);
    }
    Ok((new_schema, out, undecodable))
}
