//! Parquet: zstd (level 3) by default, or snappy, lz4_raw, gzip or none; row groups of at most `--batch-rows` rows and about
//! 32 MiB, so an open file holds at most one row group in memory.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as Codec, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::{EncodeError, Encoder};
use crate::options::Compression;

const ROW_GROUP_BYTES: usize = 32 << 20;

/// Parquet's codec for `compression`.
fn codec(compression: Compression) -> Result<Codec, EncodeError> {
    Ok(match compression {
        Compression::None => Codec::UNCOMPRESSED,
        Compression::Snappy => Codec::SNAPPY,
        Compression::Lz4Raw => Codec::LZ4_RAW,
        Compression::Zstd(level) => Codec::ZSTD(ZstdLevel::try_new(level)?),
        Compression::Gzip(level) => Codec::GZIP(GzipLevel::try_new(level)?),
    })
}

/// The columns written without dictionary and statistics: keys and values are mostly
/// distinct blobs (JSON events of ~450 bytes), so a dictionary hashes every one only to be
/// abandoned once it outgrows its page, and min/max of JSON text prune nothing. The other
/// columns keep both: dictionaries (topic, partition, timestampType: one or few values) and
/// statistics (partition, offset, timestamp: what readers prune row groups and pages by).
/// `parquet_column_choices` below measures the choice.
const BLOBS: &[&str] = &["key", "value"];

/// The writer's properties: `codec` everywhere, row groups of at most `batch_rows` rows and
/// [`ROW_GROUP_BYTES`], and neither dictionary nor statistics on the `blobs` columns.
fn properties(
    codec: Codec,
    batch_rows: usize,
    blobs: &[&str],
) -> parquet::file::properties::WriterPropertiesBuilder {
    let props = WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_row_count(Some(batch_rows))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_created_by(format!("kbatch {}", env!("CARGO_PKG_VERSION")));
    blobs.iter().fold(props, |p, c| {
        let c = ColumnPath::from(*c);
        p.set_column_dictionary_enabled(c.clone(), false)
            .set_column_statistics_enabled(c, EnabledStatistics::None)
    })
}

pub struct ParquetEncoder {
    writer: ArrowWriter<Vec<u8>>,
}

impl ParquetEncoder {
    pub fn new(
        schema: SchemaRef,
        compression: Compression,
        batch_rows: usize,
    ) -> Result<ParquetEncoder, EncodeError> {
        let props = properties(codec(compression)?, batch_rows, BLOBS).build();
        Ok(ParquetEncoder {
            writer: ArrowWriter::try_new(Vec::new(), schema, Some(props))?,
        })
    }
}

impl Encoder for ParquetEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), EncodeError> {
        Ok(self.writer.write(batch)?)
    }

    fn take(&mut self) -> Vec<u8> {
        // Only bytes the writer already handed to its sink are taken; its own byte count
        // (the footer's offsets) is kept by the writer, not derived from this buffer.
        std::mem::take(self.writer.inner_mut())
    }

    fn size(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    fn finish(&mut self) -> Result<(), EncodeError> {
        self.writer.finish()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use arrow_array::builder::{BinaryBuilder, StringBuilder};
    use arrow_array::{ArrayRef, Int32Array, Int64Array, TimestampMicrosecondArray};

    use super::*;

    /// `rows` rows of the realistic flat mix (~450-byte JSON values), 8 partitions' worth
    /// of one partition's columns, in batches of 65536 rows.
    fn batches(rows: usize) -> Vec<RecordBatch> {
        let schema = kbatch_arrow::schema(false);
        let values: Vec<Vec<u8>> =
            kbatch_testkit::events::values(kbatch_testkit::events::Mix::Flat, 7)
                .take(rows)
                .map(|v| v.unwrap_or_default())
                .collect();
        values
            .chunks(65536)
            .enumerate()
            .map(|(c, chunk)| {
                let n = chunk.len();
                let first = (c * 65536) as i64;
                let mut key = BinaryBuilder::new();
                let mut value = BinaryBuilder::new();
                let mut topic = StringBuilder::new();
                for (i, v) in chunk.iter().enumerate() {
                    key.append_value(format!("user-{}", (first as usize + i) % 5000));
                    value.append_value(v);
                    topic.append_value("web_stream");
                }
                let columns: Vec<ArrayRef> = vec![
                    Arc::new(key.finish()),
                    Arc::new(value.finish()),
                    Arc::new(topic.finish()),
                    Arc::new(Int32Array::from(vec![3; n])),
                    Arc::new(Int64Array::from_iter_values(first..first + n as i64)),
                    Arc::new(
                        TimestampMicrosecondArray::from_iter_values(
                            (0..n as i64).map(|i| 1_767_225_600_000_000 + (first + i) * 1000),
                        )
                        .with_timezone("UTC"),
                    ),
                    Arc::new(Int32Array::from(vec![0; n])),
                ];
                RecordBatch::try_new(schema.clone(), columns).unwrap()
            })
            .collect()
    }

    fn write(batches: &[RecordBatch], props: WriterProperties) -> usize {
        let mut w = ArrowWriter::try_new(Vec::new(), batches[0].schema(), Some(props)).unwrap();
        for b in batches {
            w.write(b).unwrap();
        }
        w.into_inner().unwrap().len()
    }

    /// Records/s of the Parquet writer alone, on one core, per codec and per column choice:
    /// dictionary and statistics off on key/value (what export writes), on everywhere
    /// (parquet's defaults), and off everywhere (what the small columns would lose). Run with
    /// `cargo test -p kbatch-export --release --lib parquet_column_choices -- --ignored
    /// --nocapture`; prints a table, asserts only that every variant wrote the same rows.
    #[test]
    #[ignore = "a measurement: run it by name"]
    fn parquet_column_choices() {
        let rows = 400_000;
        let data = batches(rows);
        let all = [
            "key",
            "value",
            "topic",
            "partition",
            "offset",
            "timestamp",
            "timestampType",
        ];
        let codecs = [
            ("snappy", Compression::Snappy),
            ("lz4_raw", Compression::Lz4Raw),
            ("zstd(1)", Compression::Zstd(1)),
            ("zstd(3)", Compression::Zstd(3)),
            ("gzip(6)", Compression::Gzip(6)),
            ("none", Compression::None),
        ];
        let variants: [(&str, &[&str]); 3] = [
            ("off on key/value", BLOBS),
            ("on everywhere", &[]),
            ("off everywhere", &all),
        ];
        println!("| codec | dictionary + statistics | M records/s | MB/s in | bytes out |");
        println!("|---|---|---|---|---|");
        let input: usize = data.iter().map(|b| b.get_array_memory_size()).sum();
        for (name, c) in codecs {
            for (what, blobs) in variants {
                let best = (0..3)
                    .map(|_| {
                        let props = properties(codec(c).unwrap(), 65536, blobs).build();
                        let t = Instant::now();
                        let out = write(&data, props);
                        (t.elapsed().as_secs_f64(), out)
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .unwrap();
                println!(
                    "| {name} | {what} | {:.2} | {:.0} | {} |",
                    rows as f64 / best.0 / 1e6,
                    input as f64 / best.0 / 1e6,
                    best.1
                );
                assert!(best.1 > 0);
            }
        }
    }
}
