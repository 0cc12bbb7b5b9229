//! One partition's rows being appended into Arrow buffers, until they make a batch.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, ListBuilder, StringBuilder, StructBuilder};
use arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, SchemaRef};
use kbatch_reader::Record;

use crate::schema::{header_fields, header_item, TIMESTAMP_UNIT_PER_MS};

/// Why a record could not be appended: its headers did not parse (the decoder has walked them
/// before delivering the record, so this is a bug guard, reported with the record's offset).
#[derive(Debug)]
pub(crate) struct BadHeader {
    pub(crate) offset: i64,
    pub(crate) reason: String,
}

/// The columns of one partition's pending rows. `topic` and `partition` are constant per
/// partition, so they are only materialised when the batch is cut.
pub(crate) struct Rows {
    key: BinaryBuilder,
    value: BinaryBuilder,
    offset: Vec<i64>,
    timestamp: Vec<i64>,
    timestamp_type: Vec<i32>,
    headers: Option<ListBuilder<StructBuilder>>,
}

impl Rows {
    pub(crate) fn new(capacity: usize, headers: bool) -> Rows {
        Rows {
            key: BinaryBuilder::with_capacity(capacity, 0),
            value: BinaryBuilder::with_capacity(capacity, 0),
            offset: Vec::with_capacity(capacity),
            timestamp: Vec::with_capacity(capacity),
            timestamp_type: Vec::with_capacity(capacity),
            headers: headers.then(|| {
                ListBuilder::new(StructBuilder::from_fields(header_fields(), 0))
                    .with_field(header_item())
            }),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.offset.len()
    }

    pub(crate) fn first_offset(&self) -> Option<i64> {
        self.offset.first().copied()
    }

    /// Append one record. On error nothing of it was appended.
    pub(crate) fn push(&mut self, r: &Record<'_>) -> Result<(), BadHeader> {
        if let Some(list) = &mut self.headers {
            // Parse every header first, so a bad one leaves the columns aligned.
            let mut parsed = Vec::new();
            for h in r.headers() {
                parsed.push(h.map_err(|e| BadHeader {
                    offset: r.offset,
                    reason: e.to_string(),
                })?);
            }
            let items = list.values();
            for (k, v) in parsed {
                items
                    .field_builder::<StringBuilder>(0)
                    .expect("header key column")
                    .append_value(String::from_utf8_lossy(k));
                items
                    .field_builder::<BinaryBuilder>(1)
                    .expect("header value column")
                    .append_option(v);
                items.append(true);
            }
            list.append(true);
        }
        self.key.append_option(r.key);
        self.value.append_option(r.value);
        self.offset.push(r.offset);
        self.timestamp
            .push(r.timestamp.saturating_mul(TIMESTAMP_UNIT_PER_MS));
        self.timestamp_type.push(r.timestamp_type.code());
        Ok(())
    }

    /// Cut the pending rows into a batch of `schema`, leaving this builder empty.
    pub(crate) fn cut(
        &mut self,
        schema: &SchemaRef,
        topic: &str,
        partition: i32,
    ) -> Result<RecordBatch, ArrowError> {
        let n = self.len();
        let (key_bytes, value_bytes) = (
            self.key.values_slice().len(),
            self.value.values_slice().len(),
        );
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.key.finish()),
            Arc::new(self.value.finish()),
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(topic, n))),
            Arc::new(Int32Array::from(vec![partition; n])),
            Arc::new(Int64Array::from(std::mem::take(&mut self.offset))),
            Arc::new(
                TimestampMicrosecondArray::from(std::mem::take(&mut self.timestamp))
                    .with_timezone("UTC"),
            ),
            Arc::new(Int32Array::from(std::mem::take(&mut self.timestamp_type))),
        ];
        if let Some(list) = &mut self.headers {
            columns.push(Arc::new(list.finish()));
        }
        // The next batch of this partition is likely as large: keep the capacity. (`finish`
        // leaves the byte builders empty; grown from nothing, a 64 Ki-row batch of 430-byte
        // values would be reallocated about 25 times.)
        self.key = BinaryBuilder::with_capacity(n, key_bytes);
        self.value = BinaryBuilder::with_capacity(n, value_bytes);
        self.offset.reserve(n);
        self.timestamp.reserve(n);
        self.timestamp_type.reserve(n);
        RecordBatch::try_new(schema.clone(), columns)
    }
}
