//! File encoders, one per format, all with one shape: Arrow record batches in, file bytes
//! out, drained as they are produced so the sink can upload while the file grows.

mod ipc;
mod jsonl;
mod parquet;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::options::{Compression, Format};

/// Why a batch could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Arrow (IPC) refused the batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Parquet refused the batch.
    #[error("parquet: {0}")]
    Parquet(#[from] ::parquet::errors::ParquetError),
    /// A codec the format has not.
    #[error("{0}")]
    Codec(String),
    /// A batch without the Spark Kafka columns jsonl needs.
    #[error("jsonl: {0}")]
    Schema(String),
}

/// One file being encoded.
pub trait Encoder: Send {
    /// Encode rows.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), EncodeError>;
    /// Bytes ready to upload since the last call (in file order).
    fn take(&mut self) -> Vec<u8>;
    /// The file's size so far, including rows encoded but still buffered (what
    /// `--max-file-bytes` is compared with).
    fn size(&self) -> u64;
    /// End the file; its last bytes are returned by the next [`Encoder::take`].
    fn finish(&mut self) -> Result<(), EncodeError>;
}

/// A fresh encoder for one file of `format`.
pub fn encoder(
    format: Format,
    compression: Compression,
    schema: SchemaRef,
    batch_rows: usize,
    binary: bool,
) -> Result<Box<dyn Encoder>, EncodeError> {
    Ok(match format {
        Format::Parquet => Box::new(parquet::ParquetEncoder::new(
            schema,
            compression,
            batch_rows,
        )?),
        Format::Arrow => Box::new(ipc::IpcEncoder::new(&schema, compression)?),
        Format::Jsonl => Box::new(jsonl::JsonlEncoder::new(binary)),
    })
}
