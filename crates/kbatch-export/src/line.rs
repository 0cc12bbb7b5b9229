//! `kbatch dump`'s JSON line: one record as one line, the format `dump` prints and the jsonl
//! export writes (byte for byte the same).

use std::io::Write;

use base64::Engine as _;

/// One record as `dump` prints it (and `export --format jsonl` writes it).
pub struct Line<'a> {
    /// Topic name.
    pub topic: &'a str,
    /// Partition id.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Record timestamp, ms since the epoch.
    pub timestamp_ms: i64,
    /// Key (`None`: null).
    pub key: Option<&'a [u8]>,
    /// Value (`None`: null, a tombstone).
    pub value: Option<&'a [u8]>,
}

impl Line<'_> {
    /// Append the JSON line (with its newline) to `out`: keys and values as UTF-8 text
    /// (invalid bytes replaced by U+FFFD), or base64 when `binary`.
    pub fn write(&self, out: &mut Vec<u8>, binary: bool) {
        self.write_with(out, binary, None, None);
    }

    /// [`Line::write`], with the key and/or the value given as JSON already rendered (a
    /// decoded registry value) instead of their bytes.
    pub fn write_with(
        &self,
        out: &mut Vec<u8>,
        binary: bool,
        key_json: Option<&[u8]>,
        value_json: Option<&[u8]>,
    ) {
        out.extend_from_slice(b"{\"topic\":");
        let _ = serde_json::to_writer(&mut *out, self.topic);
        let _ = write!(
            out,
            ",\"partition\":{},\"offset\":{},\"timestamp\":{},\"key\":",
            self.partition, self.offset, self.timestamp_ms
        );
        match key_json {
            Some(j) => out.extend_from_slice(j),
            None => field(out, self.key, binary),
        }
        out.extend_from_slice(b",\"value\":");
        match value_json {
            Some(j) => out.extend_from_slice(j),
            None => field(out, self.value, binary),
        }
        out.extend_from_slice(b"}\n");
    }
}

fn field(out: &mut Vec<u8>, bytes: Option<&[u8]>, binary: bool) {
    match bytes {
        None => out.extend_from_slice(b"null"),
        Some(b) if binary => {
            out.push(b'"');
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(b)
                    .as_bytes(),
            );
            out.push(b'"');
        }
        Some(b) => {
            let text = String::from_utf8_lossy(b);
            // serde_json writes a JSON string with every needed escape.
            let _ = serde_json::to_writer(&mut *out, &*text);
        }
    }
}
