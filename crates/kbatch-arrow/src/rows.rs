//! A batch's rows as owned values: for tests and checks that compare what was read with what
//! was produced (every column, nulls and headers included). It copies every key and value, so
//! it is not a way to consume batches at speed.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};

use crate::schema::HEADERS_COLUMN;

/// A header as owned values: key, and value (`None` for a null value).
pub type OwnedHeader = (String, Option<Vec<u8>>);

/// One row of a batch of [`crate::schema`], in column order (so rows sort by topic,
/// partition, offset).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OwnedRow {
    /// `topic`.
    pub topic: String,
    /// `partition`.
    pub partition: i32,
    /// `offset`.
    pub offset: i64,
    /// `key` (`None` for a null key).
    pub key: Option<Vec<u8>>,
    /// `value` (`None` for a null value, a tombstone).
    pub value: Option<Vec<u8>>,
    /// `timestamp` in µs since the epoch (UTC).
    pub timestamp_us: i64,
    /// `timestampType`: 0 create time, 1 log-append time.
    pub timestamp_type: i32,
    /// `headers` in record order; empty when the batch has no headers column.
    pub headers: Vec<OwnedHeader>,
}

/// Every row of `batch`, found by column name. Panics on a batch without the schema's
/// columns (a check failing loudly is what a test wants).
pub fn owned_rows(batch: &RecordBatch) -> Vec<OwnedRow> {
    let col = |name: &str| -> ArrayRef {
        batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("the batch has no {name} column"))
            .clone()
    };
    let (key, value, topic) = (col("key"), col("value"), col("topic"));
    let (key, value, topic) = (
        key.as_binary::<i32>(),
        value.as_binary::<i32>(),
        topic.as_string::<i32>(),
    );
    let (partition, offset) = (col("partition"), col("offset"));
    let (partition, offset) = (
        partition.as_primitive::<Int32Type>(),
        offset.as_primitive::<Int64Type>(),
    );
    let (ts, ts_type) = (col("timestamp"), col("timestampType"));
    let ts = ts.as_primitive::<TimestampMicrosecondType>();
    let ts_type = ts_type.as_primitive::<Int32Type>();
    let headers = batch.column_by_name(HEADERS_COLUMN).cloned();
    let bytes = |a: &arrow_array::BinaryArray, i: usize| a.is_valid(i).then(|| a.value(i).to_vec());
    (0..batch.num_rows())
        .map(|i| OwnedRow {
            topic: topic.value(i).to_string(),
            partition: partition.value(i),
            offset: offset.value(i),
            key: bytes(key, i),
            value: bytes(value, i),
            timestamp_us: ts.value(i),
            timestamp_type: ts_type.value(i),
            headers: headers.as_ref().map_or_else(Vec::new, |h| {
                let hs = h.as_list::<i32>().value(i);
                let hs = hs.as_struct();
                let (hk, hv) = (
                    hs.column(0).as_string::<i32>(),
                    hs.column(1).as_binary::<i32>(),
                );
                (0..hs.len())
                    .map(|j| (hk.value(j).to_string(), bytes(hv, j)))
                    .collect()
            }),
        })
        .collect()
}
