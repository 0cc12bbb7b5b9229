//! One partition's rows being appended into Arrow buffers, until they make a batch.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, ListBuilder, StringBuilder, StructBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_buffer::{
    ArrowNativeType, Buffer, NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer,
};
use arrow_schema::{ArrowError, SchemaRef};
use kbatch_reader::Record;

use crate::recycle::{Pools, Recycler};
use crate::schema::{header_fields, header_item, TIMESTAMP_UNIT_PER_MS};

/// Why a record could not be appended: its headers did not parse (the decoder has walked them
/// before delivering the record, so this is a bug guard, reported with the record's offset).
#[derive(Debug)]
pub(crate) struct BadHeader {
    pub(crate) offset: i64,
    pub(crate) reason: String,
}

/// A binary or string column being built: the bytes, their end offsets, and which rows are
/// null. Built by hand rather than with arrow's builders so its buffers come from, and go back
/// to, the worker's [`Pools`].
struct ByteColumn {
    offsets: Vec<i32>,
    values: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl ByteColumn {
    fn new(pools: &mut Pools, role: Role, rows: usize, bytes: usize) -> ByteColumn {
        let mut offsets = pools.i32s.take(rows + 1);
        offsets.push(0);
        ByteColumn {
            offsets,
            values: role.pool(pools).take(bytes),
            nulls: NullBufferBuilder::new(rows),
        }
    }

    /// Whether `more` bytes still fit under the 2 GiB that `i32` offsets can address.
    fn fits(&self, more: usize) -> bool {
        self.values.len() + more <= i32::MAX as usize
    }

    /// Append one value; the caller has checked that it [`fits`](Self::fits).
    fn push(&mut self, v: Option<&[u8]>) {
        match v {
            Some(b) => {
                self.values.extend_from_slice(b);
                self.nulls.append_non_null();
            }
            None => self.nulls.append_null(),
        }
        self.offsets.push(self.values.len() as i32);
    }

    /// The column's buffers, leaving this column empty.
    fn finish(
        &mut self,
        pools: &mut Pools,
        role: Role,
    ) -> (OffsetBuffer<i32>, Buffer, Option<NullBuffer>) {
        let (rows, bytes) = (self.offsets.len() - 1, self.values.len());
        let fresh = ByteColumn::new(pools, role, rows, bytes);
        let done = std::mem::replace(self, fresh);
        let mut nulls = done.nulls;
        // The offsets start at 0 and never decrease (each push adds a length).
        let offsets = OffsetBuffer::new(pools.i32s.seal(done.offsets));
        let values = role.pool(pools).seal(done.values).into_inner();
        (offsets, values, nulls.finish())
    }
}

/// Which byte column, so its buffers come from the pool of columns like it.
#[derive(Clone, Copy)]
enum Role {
    Key,
    Value,
    Topic,
}

impl Role {
    fn pool(self, pools: &mut Pools) -> &mut Recycler<u8> {
        match self {
            Role::Key => &mut pools.keys,
            Role::Value => &mut pools.values,
            Role::Topic => &mut pools.topics,
        }
    }
}

/// The columns of one partition's pending rows. `topic` and `partition` are constant per
/// partition, so they are only materialised when the batch is cut.
pub(crate) struct Rows {
    key: ByteColumn,
    value: ByteColumn,
    offset: Vec<i64>,
    timestamp: Vec<i64>,
    timestamp_type: Vec<i32>,
    headers: Option<ListBuilder<StructBuilder>>,
}

impl Rows {
    pub(crate) fn new(pools: &mut Pools, capacity: usize, headers: bool) -> Rows {
        Rows {
            key: ByteColumn::new(pools, Role::Key, capacity, 0),
            value: ByteColumn::new(pools, Role::Value, capacity, 0),
            offset: pools.i64s.take(capacity),
            timestamp: pools.i64s.take(capacity),
            timestamp_type: pools.i32s.take(capacity),
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

    /// Whether `r`'s key and value still fit in this batch's byte columns (2 GiB each, the
    /// reach of `Binary`'s `i32` offsets). When not, the batch must be cut first.
    pub(crate) fn fits(&self, r: &Record<'_>) -> bool {
        self.key.fits(r.key.map_or(0, <[u8]>::len))
            && self.value.fits(r.value.map_or(0, <[u8]>::len))
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
        self.key.push(r.key);
        self.value.push(r.value);
        self.offset.push(r.offset);
        self.timestamp
            .push(r.timestamp.saturating_mul(TIMESTAMP_UNIT_PER_MS));
        self.timestamp_type.push(r.timestamp_type.code());
        Ok(())
    }

    /// Cut the pending rows into a batch of `schema`, leaving this builder empty, with room
    /// for a batch as large (the next batch of this partition is likely so; grown from nothing,
    /// a 64 Ki-row batch of 430-byte values would be reallocated about 25 times).
    pub(crate) fn cut(
        &mut self,
        pools: &mut Pools,
        schema: &SchemaRef,
        topic: &str,
        partition: i32,
    ) -> Result<RecordBatch, ArrowError> {
        let n = self.len();
        let (o, v, nulls) = self.key.finish(pools, Role::Key);
        let key = BinaryArray::try_new(o, v, nulls)?;
        let (o, v, nulls) = self.value.finish(pools, Role::Value);
        let value = BinaryArray::try_new(o, v, nulls)?;
        let mut topics = ByteColumn::new(pools, Role::Topic, n, n * topic.len());
        for _ in 0..n {
            topics.push(Some(topic.as_bytes()));
        }
        let (o, v, _) = topics.finish(pools, Role::Topic);
        let topic = StringArray::try_new(o, v, None)?;
        let mut partitions = pools.i32s.take(n);
        partitions.resize(n, partition);
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(key),
            Arc::new(value),
            Arc::new(topic),
            Arc::new(Int32Array::new(pools.i32s.seal(partitions), None)),
            Arc::new(Int64Array::new(
                reseal(&mut pools.i64s, &mut self.offset, n),
                None,
            )),
            Arc::new(
                TimestampMicrosecondArray::new(
                    reseal(&mut pools.i64s, &mut self.timestamp, n),
                    None,
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Int32Array::new(
                reseal(&mut pools.i32s, &mut self.timestamp_type, n),
                None,
            )),
        ];
        if let Some(list) = &mut self.headers {
            columns.push(Arc::new(list.finish()));
        }
        RecordBatch::try_new(schema.clone(), columns)
    }
}

/// `column` as an Arrow buffer, leaving it empty with room for `n` items.
fn reseal<T: ArrowNativeType>(
    pool: &mut Recycler<T>,
    column: &mut Vec<T>,
    n: usize,
) -> ScalarBuffer<T> {
    let done = std::mem::replace(column, pool.take(n));
    pool.seal(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_columns_hold_up_to_what_i32_offsets_reach_and_keep_nulls_and_order() {
        let mut pools = Pools::default();
        let mut c = ByteColumn::new(&mut pools, Role::Value, 4, 0);
        assert!(c.fits(i32::MAX as usize));
        assert!(!c.fits(i32::MAX as usize + 1));
        c.push(Some(b"ab"));
        c.push(None);
        c.push(Some(b""));
        c.push(Some(b"cde"));
        assert!(!c.fits(i32::MAX as usize - 4));
        let (offsets, values, nulls) = c.finish(&mut pools, Role::Value);
        let a = BinaryArray::try_new(offsets, values, nulls).unwrap();
        let got: Vec<Option<&[u8]>> = a.iter().collect();
        assert_eq!(got, [Some(&b"ab"[..]), None, Some(b""), Some(b"cde")]);
        // The column is empty again, ready for the next batch.
        assert!(c.fits(i32::MAX as usize));
        assert_eq!(c.offsets, [0]);
    }
}
