//! Arrow IPC file format (what `pyarrow.ipc.open_file`, Polars' `read_ipc` and DuckDB's
//! arrow extension read); uncompressed by default, zstd on request.

use arrow_array::RecordBatch;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_ipc::CompressionType;
use arrow_schema::Schema;

use super::{EncodeError, Encoder};
use crate::options::Compression;

pub struct IpcEncoder {
    writer: FileWriter<Vec<u8>>,
    taken: u64,
}

impl IpcEncoder {
    pub fn new(schema: &Schema, compression: Compression) -> Result<IpcEncoder, EncodeError> {
        let options = match compression {
            Compression::None => IpcWriteOptions::default(),
            Compression::Zstd(level) => IpcWriteOptions::default()
                .try_with_compression(Some(CompressionType::ZSTD))?
                .try_with_compression_level(Some(level))?,
            // `Compression::parse` allows only the two above for Arrow IPC.
            other => {
                return Err(EncodeError::Codec(format!(
                    "Arrow IPC files cannot be compressed with {}",
                    other.name()
                )))
            }
        };
        Ok(IpcEncoder {
            writer: FileWriter::try_new_with_options(Vec::new(), schema, options)?,
            taken: 0,
        })
    }
}

impl Encoder for IpcEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), EncodeError> {
        Ok(self.writer.write(batch)?)
    }

    fn take(&mut self) -> Vec<u8> {
        let out = std::mem::take(self.writer.get_mut());
        self.taken += out.len() as u64;
        out
    }

    fn size(&self) -> u64 {
        // The writer is unbuffered: everything written is in the buffer or taken.
        self.taken + self.writer.get_ref().len() as u64
    }

    fn finish(&mut self) -> Result<(), EncodeError> {
        Ok(self.writer.finish()?)
    }
}
