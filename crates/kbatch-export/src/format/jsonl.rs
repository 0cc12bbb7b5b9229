//! JSON lines, byte for byte `kbatch dump`'s (the same [`crate::line::Line`] writes them),
//! from the Arrow columns: timestamps go back from µs to the record's ms exactly (they were
//! ms × 1000).

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};

use super::{EncodeError, Encoder};
use crate::line::Line;

pub struct JsonlEncoder {
    binary: bool,
    buf: Vec<u8>,
    size: u64,
}

impl JsonlEncoder {
    pub fn new(binary: bool) -> JsonlEncoder {
        JsonlEncoder {
            binary,
            buf: Vec::new(),
            size: 0,
        }
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, EncodeError> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| EncodeError::Schema(format!("no column {name:?}")))
}

impl Encoder for JsonlEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), EncodeError> {
        let key = column(batch, "key")?.as_binary_opt::<i32>();
        let value = column(batch, "value")?.as_binary_opt::<i32>();
        let topic = column(batch, "topic")?.as_string_opt::<i32>();
        let partition = column(batch, "partition")?.as_primitive_opt::<Int32Type>();
        let offset = column(batch, "offset")?.as_primitive_opt::<Int64Type>();
        let timestamp = column(batch, "timestamp")?.as_primitive_opt::<TimestampMicrosecondType>();
        let (Some(key), Some(value), Some(topic), Some(partition), Some(offset), Some(timestamp)) =
            (key, value, topic, partition, offset, timestamp)
        else {
            return Err(EncodeError::Schema(
                "columns are not Spark's Kafka types".into(),
            ));
        };
        let before = self.buf.len();
        for row in 0..batch.num_rows() {
            let line = Line {
                topic: topic.value(row),
                partition: partition.value(row),
                offset: offset.value(row),
                timestamp_ms: timestamp.value(row) / 1000,
                key: key.is_valid(row).then(|| key.value(row)),
                value: value.is_valid(row).then(|| value.value(row)),
            };
            line.write(&mut self.buf, self.binary);
        }
        self.size += (self.buf.len() - before) as u64;
        Ok(())
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn finish(&mut self) -> Result<(), EncodeError> {
        Ok(())
    }
}
