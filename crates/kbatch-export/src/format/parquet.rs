//! Parquet: zstd (level 3) by default, or snappy, lz4_raw, gzip or none; row groups of at most
//! `--batch-rows` rows and about 32 MiB, so an open file holds at most one row group in memory.
//! Dictionary encoding and statistics are chosen per column ([`COLUMNS`]).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as Codec, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
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

/// What the writer builds for one column besides its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Column {
    /// The column's name in Spark's Kafka schema.
    name: &'static str,
    /// Dictionary encoding (parquet's default: on).
    dictionary: bool,
    /// Min/max statistics per chunk and page (parquet's default: per page).
    statistics: EnabledStatistics,
}

/// The columns written otherwise than parquet's defaults (dictionary and page statistics
/// everywhere); the test `parquet_column_choices` measures each choice per codec.
///
/// - `value`: neither. Values are mostly distinct JSON blobs of ~450 bytes, so the dictionary
///   hashes and copies each one only to be dropped when it outgrows its page (1 MiB: about
///   2,000 values into a row group of 65,536), and min/max of JSON text prune nothing while
///   every value is compared twice per page. Without them the writer is faster and the file
///   no larger.
/// - `key`: no statistics (min/max of keys prune nothing: a partition's keys are spread over
///   the whole key space), dictionary kept: keys repeat within a row group (a few thousand
///   distinct ones in the realistic mix), so the dictionary shrinks the column for little work.
///
/// Every other column keeps parquet's defaults: dictionaries (topic, partition,
/// timestampType hold one or a few values) and statistics (partition, offset, timestamp: what
/// readers prune row groups and pages by).
const COLUMNS: &[Column] = &[
    Column {
        name: "key",
        dictionary: true,
        statistics: EnabledStatistics::None,
    },
    Column {
        name: "value",
        dictionary: false,
        statistics: EnabledStatistics::None,
    },
];

/// The writer's properties: `codec` everywhere, row groups of at most `batch_rows` rows and
/// [`ROW_GROUP_BYTES`], and `columns`' own choices.
fn properties(codec: Codec, batch_rows: usize, columns: &[Column]) -> WriterPropertiesBuilder {
    let props = WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_row_count(Some(batch_rows))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_created_by(format!("kbatch {}", env!("CARGO_PKG_VERSION")));
    columns.iter().fold(props, |p, c| {
        let path = ColumnPath::from(c.name);
        p.set_column_dictionary_enabled(path.clone(), c.dictionary)
            .set_column_statistics_enabled(path, c.statistics)
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
        let props = properties(codec(compression)?, batch_rows, COLUMNS).build();
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
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    /// Partitions the realistic mix is produced into by the benchmarks.
    const PARTITIONS: usize = 8;

    /// `rows` rows of one partition of the realistic flat mix as `kbatch-testkit
    /// produce-trending --mix flat --seed 7` writes it (~450-byte JSON values; events
    /// round-robin over [`PARTITIONS`], keyed `C` + the event number modulo 100,000), in
    /// batches of 65,536 rows.
    fn batches(rows: usize) -> Vec<RecordBatch> {
        let schema = kbatch_arrow::schema(false);
        let events: Vec<(String, Vec<u8>)> =
            kbatch_testkit::events::values(kbatch_testkit::events::Mix::Flat, 7)
                .enumerate()
                .step_by(PARTITIONS)
                .take(rows)
                .map(|(i, v)| (format!("C{:08}", i % 100_000), v.unwrap_or_default()))
                .collect();
        events
            .chunks(65536)
            .enumerate()
            .map(|(c, chunk)| {
                let n = chunk.len();
                let first = (c * 65536) as i64;
                let mut key = BinaryBuilder::new();
                let mut value = BinaryBuilder::new();
                let mut topic = StringBuilder::new();
                for (k, v) in chunk {
                    key.append_value(k);
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

    fn write(batches: &[RecordBatch], props: WriterProperties) -> Vec<u8> {
        let mut w = ArrowWriter::try_new(Vec::new(), batches[0].schema(), Some(props)).unwrap();
        for b in batches {
            w.write(b).unwrap();
        }
        w.into_inner().unwrap()
    }

    /// Per column of `file`: (dictionary-encoded in every row group, min/max in every row
    /// group), read back by parquet's own reader.
    fn column_facts(file: Vec<u8>) -> Vec<(String, bool, bool)> {
        let reader = SerializedFileReader::new(bytes::Bytes::from(file)).unwrap();
        let meta = reader.metadata();
        let groups = meta.row_groups();
        assert!(!groups.is_empty());
        (0..groups[0].num_columns())
            .map(|c| {
                let name = groups[0].column(c).column_path().string();
                let dictionary = groups
                    .iter()
                    .all(|g| g.column(c).dictionary_page_offset().is_some());
                let statistics = groups.iter().all(|g| {
                    g.column(c)
                        .statistics()
                        .is_some_and(|s| s.min_bytes_opt().is_some())
                });
                (name, dictionary, statistics)
            })
            .collect()
    }

    /// The file export writes carries what [`COLUMNS`] says and parquet's defaults elsewhere:
    /// no statistics on key and value, no dictionary on value, a dictionary on key; the
    /// pruning columns keep their min/max.
    #[test]
    fn columns_are_written_as_chosen() {
        let data = batches(70_000);
        let file = write(&data, properties(Codec::SNAPPY, 65536, COLUMNS).build());
        let facts = column_facts(file);
        let got = |name: &str| {
            facts
                .iter()
                .find(|f| f.0 == name)
                .map(|f| (f.1, f.2))
                .unwrap_or_else(|| panic!("no column {name} in {facts:?}"))
        };
        assert_eq!(got("key"), (true, false));
        assert_eq!(got("value"), (false, false));
        for pruned in ["partition", "offset", "timestamp"] {
            assert!(got(pruned).1, "{pruned} lost its statistics: {facts:?}");
        }
        assert!(got("topic").0, "topic lost its dictionary: {facts:?}");
        // And parquet's defaults, the other side of the comparison, really differ.
        let defaults = column_facts(write(&data, properties(Codec::SNAPPY, 65536, &[]).build()));
        assert!(defaults.iter().all(|f| f.2), "{defaults:?}");
    }

    /// Dictionary and statistics on one column: what a variant of the measurement sets.
    fn choice(name: &'static str, dictionary: bool, statistics: bool) -> Column {
        Column {
            name,
            dictionary,
            statistics: if statistics {
                EnabledStatistics::Page
            } else {
                EnabledStatistics::None
            },
        }
    }

    /// Records/s of the Parquet writer alone, on one core, per codec and per choice of
    /// dictionary and statistics on key and on value (the other columns keep parquet's
    /// defaults), on one partition's rows of the realistic flat mix, with the bytes written.
    /// Run with `cargo test -p kbatch-export --release --lib parquet_column_choices --
    /// --ignored --nocapture` (`KBATCH_MEASURE_ROWS` rows, default 262,144, best of 3); prints
    /// a Markdown table, asserts only that every variant wrote the same rows.
    #[test]
    #[ignore = "a measurement: run it by name"]
    fn parquet_column_choices() {
        let rows: usize = std::env::var("KBATCH_MEASURE_ROWS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(262_144);
        let data = batches(rows);
        let codecs = [
            ("snappy", Compression::Snappy),
            ("lz4_raw", Compression::Lz4Raw),
            ("zstd(1)", Compression::Zstd(1)),
            ("zstd(3)", Compression::Zstd(3)),
            ("gzip(6)", Compression::Gzip(6)),
            ("none", Compression::None),
        ];
        // (key: dictionary, statistics), (value: dictionary, statistics)
        let variants: [((bool, bool), (bool, bool)); 7] = [
            ((true, true), (true, true)),
            ((true, true), (false, true)),
            ((true, true), (true, false)),
            ((true, true), (false, false)),
            ((true, false), (false, false)),
            ((false, false), (false, false)),
            ((false, true), (false, false)),
        ];
        let on = |b: bool| if b { "on" } else { "off" };
        println!("| codec | key dictionary / statistics | value dictionary / statistics | M records/s | MB/s in | bytes out | ÷ parquet's defaults (records/s) |");
        println!("|---|---|---|---|---|---|---|");
        let input: usize = data.iter().map(|b| b.get_array_memory_size()).sum();
        for (name, c) in codecs {
            let mut defaults = None;
            for ((kd, ks), (vd, vs)) in variants {
                let columns = [choice("key", kd, ks), choice("value", vd, vs)];
                let best = (0..3)
                    .map(|_| {
                        let props = properties(codec(c).unwrap(), 65536, &columns).build();
                        let t = Instant::now();
                        let out = write(&data, props);
                        let secs = t.elapsed().as_secs_f64();
                        let rows: i64 = SerializedFileReader::new(bytes::Bytes::from(out.clone()))
                            .unwrap()
                            .metadata()
                            .file_metadata()
                            .num_rows();
                        assert_eq!(rows, data.iter().map(|b| b.num_rows() as i64).sum::<i64>());
                        (secs, out.len())
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .unwrap();
                let rate = rows as f64 / best.0;
                let base = *defaults.get_or_insert(rate);
                println!(
                    "| {name} | {} / {} | {} / {} | {:.3} | {:.0} | {} | {:.2} |",
                    on(kd),
                    on(ks),
                    on(vd),
                    on(vs),
                    rate / 1e6,
                    input as f64 / best.0 / 1e6,
                    best.1,
                    rate / base,
                );
            }
        }
    }
}
