//! One partition range's files: opened at its first row, cut at `--max-file-bytes`, closed
//! when the range's last batch was written. A file's name carries its first offset, so it is
//! known when the upload starts (object stores cannot rename).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use kbatch_schema::Decoders;

use crate::format::{self, EncodeError, Encoder};
use crate::manifest::{file_name, FileEntry};
use crate::options::{Compression, Format};
use crate::sink::{Sink, SinkError, Upload};

/// Rows encoded between two size checks: how far a file can overshoot `--max-file-bytes`.
const SLICE_ROWS: usize = 4096;

/// How every file of this export is written.
#[derive(Debug, Clone)]
pub struct FileSpec<'a> {
    pub format: Format,
    pub compression: Compression,
    /// The files' schema; a decoded column typed `Null` here takes the type of its first
    /// decoded batch.
    pub schema: SchemaRef,
    /// Decoders of the key and value columns (none: raw bytes).
    pub decoders: &'a Decoders,
    pub batch_rows: usize,
    pub binary: bool,
    pub max_file_bytes: u64,
}

/// Why a partition's file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Encoding failed.
    #[error("{topic} partition {partition} at offset {offset}: {source}")]
    Encode {
        /// Topic.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// First offset of the rows that failed.
        offset: i64,
        /// The encoder's error.
        #[source]
        source: EncodeError,
    },
    /// The store failed.
    #[error("{topic} partition {partition}: {source}")]
    Sink {
        /// Topic.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// The sink's error (names the file).
        #[source]
        source: SinkError,
    },
}

struct OpenFile {
    name: String,
    encoder: Box<dyn Encoder>,
    upload: Upload,
    records: u64,
    bytes: u64,
    first: i64,
    last: i64,
}

/// The files of one partition range.
pub struct PartitionFiles {
    topic: Arc<str>,
    partition: i32,
    open: Option<OpenFile>,
    /// Completed files, in offset order.
    pub done: Vec<FileEntry>,
    /// Keys or values written as null because they could not be decoded.
    pub undecodable: u64,
}

impl PartitionFiles {
    pub fn new(topic: Arc<str>, partition: i32) -> PartitionFiles {
        PartitionFiles {
            topic,
            partition,
            open: None,
            done: Vec::new(),
            undecodable: 0,
        }
    }

    fn sink_error(&self, source: SinkError) -> FileError {
        FileError::Sink {
            topic: self.topic.clone(),
            partition: self.partition,
            source,
        }
    }

    fn encode_error(&self, offset: i64, source: EncodeError) -> FileError {
        FileError::Encode {
            topic: self.topic.clone(),
            partition: self.partition,
            offset,
            source,
        }
    }

    /// Write the rows of `batch` (this partition's, in offset order).
    pub async fn write(
        &mut self,
        sink: &Sink,
        spec: &FileSpec<'_>,
        batch: &RecordBatch,
    ) -> Result<(), FileError> {
        let offsets = batch
            .column_by_name("offset")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| {
                self.encode_error(-1, EncodeError::Schema("no int64 offset column".into()))
            })?
            .clone();
        let mut at = 0;
        while at < batch.num_rows() {
            let n = SLICE_ROWS.min(batch.num_rows() - at);
            let slice = batch.slice(at, n);
            let (first, last) = (offsets.value(at), offsets.value(at + n - 1));
            if self.open.is_none() {
                self.open = Some(self.start(sink, spec, slice.schema(), first).await?);
            }
            let file = self.open.as_mut().expect("opened above");
            if let Err(e) = file.encoder.write(&slice) {
                return Err(self.encode_error(first, e));
            }
            file.records += n as u64;
            file.last = last;
            let bytes = file.encoder.take();
            file.bytes += bytes.len() as u64;
            let written = file.upload.write(&bytes).await;
            let full = file.encoder.size() >= spec.max_file_bytes;
            written.map_err(|e| self.sink_error(e))?;
            if full {
                self.close().await?;
            }
            at += n;
        }
        Ok(())
    }

    async fn start(
        &self,
        sink: &Sink,
        spec: &FileSpec<'_>,
        schema: SchemaRef,
        first: i64,
    ) -> Result<OpenFile, FileError> {
        let name = file_name(&self.topic, self.partition, first, spec.format.extension());
        let encoder = format::encoder(
            spec.format,
            spec.compression,
            schema,
            spec.batch_rows,
            spec.binary,
        )
        .map_err(|e| self.encode_error(first, e))?;
        let upload = sink.create(&name).await.map_err(|e| self.sink_error(e))?;
        Ok(OpenFile {
            name,
            encoder,
            upload,
            records: 0,
            bytes: 0,
            first,
            last: first,
        })
    }

    /// Finish the open file (if any): after this it is complete and visible.
    pub async fn close(&mut self) -> Result<(), FileError> {
        let Some(mut file) = self.open.take() else {
            return Ok(());
        };
        if let Err(e) = file.encoder.finish() {
            file.upload.abort().await;
            return Err(self.encode_error(file.first, e));
        }
        let tail = file.encoder.take();
        file.bytes += tail.len() as u64;
        // Aborts the upload if it cannot be completed.
        file.upload
            .finish(&tail)
            .await
            .map_err(|e| self.sink_error(e))?;
        self.done.push(FileEntry {
            name: file.name,
            records: file.records,
            bytes: file.bytes,
            first_offset: file.first,
            last_offset: file.last,
        });
        Ok(())
    }

    /// Drop the open file, unfinished (the export failed).
    pub async fn abort(&mut self) {
        if let Some(file) = self.open.take() {
            file.upload.abort().await;
        }
    }

    /// What of this partition is complete, for the error of a failed export.
    pub fn describe_done(&self) -> Option<String> {
        let (first, last) = (self.done.first()?, self.done.last()?);
        let records: u64 = self.done.iter().map(|f| f.records).sum();
        Some(format!(
            "partition {} offsets {}..={} ({records} records in {} file{}, {} .. {})",
            self.partition,
            first.first_offset,
            last.last_offset,
            self.done.len(),
            if self.done.len() == 1 { "" } else { "s" },
            first.name,
            last.name
        ))
    }
}
