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

/// What one column of a batch may hold: bytes of a binary or string column, or items of a
/// list, are addressed by `i32` offsets.
const COLUMN_LIMIT: usize = i32::MAX as usize;

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

    /// Whether `more` bytes still fit under `limit` (2 GiB: what `i32` offsets address).
    fn fits(&self, more: usize, limit: usize) -> bool {
        fits(self.values.len(), more, limit)
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

/// Whether `more` added to `used` stays within `limit`.
fn fits(used: usize, more: usize, limit: usize) -> bool {
    used.checked_add(more).is_some_and(|n| n <= limit)
}

/// What the headers of the pending rows hold in the header list's columns: the key bytes
/// (as UTF-8, after invalid bytes became U+FFFD), the value bytes, and the entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct HeaderSize {
    keys: usize,
    values: usize,
    items: usize,
}

impl HeaderSize {
    /// The headers of `r`; `None` if one does not parse (`push` reports it).
    fn of(r: &Record<'_>) -> Option<HeaderSize> {
        let mut size = HeaderSize::default();
        for h in r.headers() {
            let (k, v) = h.ok()?;
            size.add(k, v);
        }
        Some(size)
    }

    fn add(&mut self, key: &[u8], value: Option<&[u8]>) {
        // Saturating: a sum that large is over every limit anyway.
        self.keys = self.keys.saturating_add(String::from_utf8_lossy(key).len());
        self.values = self.values.saturating_add(value.map_or(0, <[u8]>::len));
        self.items = self.items.saturating_add(1);
    }

    fn fits(&self, more: &HeaderSize, limit: usize) -> bool {
        fits(self.keys, more.keys, limit)
            && fits(self.values, more.values, limit)
            && fits(self.items, more.items, limit)
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
    /// What `headers` holds so far in this batch.
    header_size: HeaderSize,
    /// The most bytes (or header entries) one column of a batch may take.
    limit: usize,
}

impl Rows {
    pub(crate) fn new(pools: &mut Pools, capacity: usize, headers: bool) -> Rows {
        Rows::with_limit(pools, capacity, headers, COLUMN_LIMIT)
    }

    /// [`Rows::new`] with another column limit (tests cut batches at a few bytes).
    fn with_limit(pools: &mut Pools, capacity: usize, headers: bool, limit: usize) -> Rows {
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
            header_size: HeaderSize::default(),
            limit,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.offset.len()
    }

    pub(crate) fn first_offset(&self) -> Option<i64> {
        self.offset.first().copied()
    }

    /// Whether `r`'s key, value and headers (names, values and entries) still fit in this
    /// batch's columns (2 GiB each, the reach of Arrow's `i32` offsets). When not, the batch
    /// must be cut first.
    pub(crate) fn fits(&self, r: &Record<'_>) -> bool {
        let headers_fit = self.headers.is_none()
            || HeaderSize::of(r).is_none_or(|more| self.header_size.fits(&more, self.limit));
        self.key.fits(r.key.map_or(0, <[u8]>::len), self.limit)
            && self.value.fits(r.value.map_or(0, <[u8]>::len), self.limit)
            && headers_fit
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
                self.header_size.add(k, v);
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
            self.header_size = HeaderSize::default();
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
    use arrow_array::Array;
    use kbatch_records::testenc::{Batch, Rec};
    use kbatch_records::{Chunk, Decoder, Isolation};

    use super::*;

    #[test]
    fn byte_columns_hold_up_to_what_i32_offsets_reach_and_keep_nulls_and_order() {
        let mut pools = Pools::default();
        let mut c = ByteColumn::new(&mut pools, Role::Value, 4, 0);
        assert!(c.fits(i32::MAX as usize, COLUMN_LIMIT));
        assert!(!c.fits(i32::MAX as usize + 1, COLUMN_LIMIT));
        c.push(Some(b"ab"));
        c.push(None);
        c.push(Some(b""));
        c.push(Some(b"cde"));
        assert!(!c.fits(i32::MAX as usize - 4, COLUMN_LIMIT));
        let (offsets, values, nulls) = c.finish(&mut pools, Role::Value);
        let a = BinaryArray::try_new(offsets, values, nulls).unwrap();
        let got: Vec<Option<&[u8]>> = a.iter().collect();
        assert_eq!(got, [Some(&b"ab"[..]), None, Some(b""), Some(b"cde")]);
        // The column is empty again, ready for the next batch.
        assert!(c.fits(i32::MAX as usize, COLUMN_LIMIT));
        assert_eq!(c.offsets, [0]);
    }

    /// The pending rows, cut the way `ArrowJob::update` cuts them: before a record that does
    /// not fit, and at `batch_rows`.
    fn cut_at(limit: usize, batch_rows: usize, recs: &[Rec]) -> Vec<RecordBatch> {
        let bytes = Batch::plain(0, recs).encode();
        let chunk = Chunk {
            bytes: &bytes,
            start: 0,
            end: i64::MAX,
            isolation: Isolation::ReadUncommitted,
            aborted: &[],
        };
        let mut pools = Pools::default();
        let schema = crate::schema::schema(true);
        let mut rows = Rows::with_limit(&mut pools, batch_rows, true, limit);
        let mut out = Vec::new();
        Decoder::new(1 << 20)
            .decode(&chunk, |r| {
                if !rows.fits(r) {
                    out.push(rows.cut(&mut pools, &schema, "t", 0).unwrap());
                }
                rows.push(r).unwrap();
                if rows.len() >= batch_rows {
                    out.push(rows.cut(&mut pools, &schema, "t", 0).unwrap());
                }
                Ok::<(), ()>(())
            })
            .unwrap();
        if rows.len() > 0 {
            out.push(rows.cut(&mut pools, &schema, "t", 0).unwrap());
        }
        out
    }

    /// (key bytes, value bytes, entries) of a batch's header column.
    fn header_columns(b: &RecordBatch) -> (usize, usize, usize) {
        let list = b
            .column_by_name(crate::schema::HEADERS_COLUMN)
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::ListArray>()
            .unwrap();
        let items = list
            .values()
            .as_any()
            .downcast_ref::<arrow_array::StructArray>();
        let items = items.unwrap();
        let keys = items.column(0).as_any().downcast_ref::<StringArray>();
        let values = items.column(1).as_any().downcast_ref::<BinaryArray>();
        (
            keys.unwrap().values().len(),
            values.unwrap().values().len(),
            items.len(),
        )
    }

    fn with_headers(delta: i32, headers: Vec<(&[u8], Option<&[u8]>)>) -> Rec {
        Rec {
            offset_delta: delta,
            ts_delta: 0,
            key: Some(b"k".to_vec()),
            value: Some(b"v".to_vec()),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                .collect(),
        }
    }

    /// Header names and values live in columns of their own, with `i32` offsets like keys and
    /// values: a batch is cut before they would pass the limit, not only before keys or
    /// values would (past 2 GiB of header bytes, arrow's builders panic on the offset).
    #[test]
    fn header_bytes_and_entries_are_bounded_like_keys_and_values() {
        const LIMIT: usize = 10;
        let cases: Vec<(&str, Vec<Rec>)> = vec![
            (
                "header values",
                (0..6)
                    .map(|i| with_headers(i, vec![(b"h", Some(b"1234"))]))
                    .collect(),
            ),
            (
                "header names",
                (0..6)
                    .map(|i| with_headers(i, vec![(b"name", None)]))
                    .collect(),
            ),
            (
                // An invalid byte becomes U+FFFD: three bytes in the string column.
                "header names as UTF-8",
                (0..6)
                    .map(|i| with_headers(i, vec![(b"\xff\xff", None)]))
                    .collect(),
            ),
            (
                "header entries",
                (0..6)
                    .map(|i| with_headers(i, vec![(b"", None); 4]))
                    .collect(),
            ),
        ];
        for (what, recs) in cases {
            let batches = cut_at(LIMIT, 1000, &recs);
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            assert_eq!(rows, recs.len(), "{what}: every record once");
            assert!(batches.len() > 1, "{what}: the batch was never cut");
            for b in &batches {
                let (keys, values, items) = header_columns(b);
                assert!(
                    keys <= LIMIT && values <= LIMIT && items <= LIMIT,
                    "{what}: a batch holds {keys} name bytes, {values} value bytes, {items} entries"
                );
            }
        }
        // Without headers in the schema, headers never cut a batch.
        let recs: Vec<Rec> = (0..6)
            .map(|i| with_headers(i, vec![(b"h", Some(b"1234"))]))
            .collect();
        let mut pools = Pools::default();
        let rows = Rows::with_limit(&mut pools, 8, false, LIMIT);
        let bytes = Batch::plain(0, &recs).encode();
        let chunk = Chunk {
            bytes: &bytes,
            start: 0,
            end: i64::MAX,
            isolation: Isolation::ReadUncommitted,
            aborted: &[],
        };
        Decoder::new(1 << 20)
            .decode(&chunk, |r| {
                assert!(rows.fits(r));
                Ok::<(), ()>(())
            })
            .unwrap();
    }
}
