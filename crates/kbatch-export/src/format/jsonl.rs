//! JSON lines, byte for byte `kbatch dump`'s (the same [`crate::line::Line`] writes them),
//! from the Arrow columns: timestamps go back from µs to the record's ms exactly (they were
//! ms × 1000). A decoded key or value column (`key_format` / `value_format`) is written as
//! the natural JSON `kbatch dump` prints for it (`kbatch_schema::json`).

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

/// A key or value column: its bytes (raw), the column to render as JSON (decoded), or JSON
/// text to write as it is (a JSON Schema column, `arrow.json`).
enum Cells<'a> {
    Bytes(&'a arrow_array::BinaryArray),
    Decoded(&'a dyn Array),
    JsonText(&'a dyn Array),
}

impl<'a> Cells<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> Result<Cells<'a>, EncodeError> {
        let array = column(batch, name)?;
        let json_text = batch
            .schema_ref()
            .field_with_name(name)
            .is_ok_and(kbatch_schema::json::is_json_field);
        Ok(match array.as_binary_opt::<i32>() {
            Some(bytes) => Cells::Bytes(bytes),
            None if json_text => Cells::JsonText(array),
            None => Cells::Decoded(array),
        })
    }

    /// The row's bytes (raw), or `None` with its JSON in `json` (decoded).
    fn get(
        &self,
        row: usize,
        json: &mut Vec<u8>,
        name: &str,
    ) -> Result<(Option<&'a [u8]>, bool), EncodeError> {
        match self {
            Cells::Bytes(b) => Ok((b.is_valid(row).then(|| b.value(row)), false)),
            Cells::Decoded(a) | Cells::JsonText(a) => {
                json.clear();
                let written = match self {
                    Cells::JsonText(_) => kbatch_schema::json::write_json_text(json, *a, row),
                    _ => kbatch_schema::json::write_row(json, *a, row),
                };
                written.map_err(|e| EncodeError::Schema(format!("the {name} column: {}", e.0)))?;
                Ok((None, true))
            }
        }
    }
}

impl Encoder for JsonlEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), EncodeError> {
        let key = Cells::of(batch, "key")?;
        let value = Cells::of(batch, "value")?;
        let topic = column(batch, "topic")?.as_string_opt::<i32>();
        let partition = column(batch, "partition")?.as_primitive_opt::<Int32Type>();
        let offset = column(batch, "offset")?.as_primitive_opt::<Int64Type>();
        let timestamp = column(batch, "timestamp")?.as_primitive_opt::<TimestampMicrosecondType>();
        let (Some(topic), Some(partition), Some(offset), Some(timestamp)) =
            (topic, partition, offset, timestamp)
        else {
            return Err(EncodeError::Schema(
                "columns are not Spark's Kafka types".into(),
            ));
        };
        let before = self.buf.len();
        let (mut key_json, mut value_json) = (Vec::new(), Vec::new());
        for row in 0..batch.num_rows() {
            let (key_bytes, key_decoded) = key.get(row, &mut key_json, "key")?;
            let (value_bytes, value_decoded) = value.get(row, &mut value_json, "value")?;
            let line = Line {
                topic: topic.value(row),
                partition: partition.value(row),
                offset: offset.value(row),
                timestamp_ms: timestamp.value(row) / 1000,
                key: key_bytes,
                value: value_bytes,
            };
            line.write_with(
                &mut self.buf,
                self.binary,
                key_decoded.then_some(key_json.as_slice()),
                value_decoded.then_some(value_json.as_slice()),
            );
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
