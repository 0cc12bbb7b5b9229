//! Parquet: zstd (level 3) by default; row groups of at most `--batch-rows` rows and about
//! 32 MiB, so an open file holds at most one row group in memory.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as Codec, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::{EncodeError, Encoder};
use crate::export::args::Compression;

const ROW_GROUP_BYTES: usize = 32 << 20;

pub struct ParquetEncoder {
    writer: ArrowWriter<Vec<u8>>,
}

impl ParquetEncoder {
    pub fn new(
        schema: SchemaRef,
        compression: Compression,
        batch_rows: usize,
    ) -> Result<ParquetEncoder, EncodeError> {
        let codec = match compression {
            Compression::None => Codec::UNCOMPRESSED,
            Compression::Zstd(level) => Codec::ZSTD(ZstdLevel::try_new(level)?),
        };
        let props = WriterProperties::builder()
            .set_compression(codec)
            .set_max_row_group_row_count(Some(batch_rows))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .set_created_by(format!("kbatch {}", env!("CARGO_PKG_VERSION")));
        // Keys and values are mostly distinct blobs (JSON events): a dictionary would hash every
        // one only to be abandoned once it outgrows its page, and min/max statistics of JSON
        // text prune nothing. Both cost more than the zstd pass itself; the other columns keep
        // dictionaries (topic, partition) and statistics (offset, timestamp: range pruning).
        let props = ["key", "value"].into_iter().fold(props, |p, c| {
            let c = ColumnPath::from(c);
            p.set_column_dictionary_enabled(c.clone(), false)
                .set_column_statistics_enabled(c, EnabledStatistics::None)
        });
        let props = props.build();
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
