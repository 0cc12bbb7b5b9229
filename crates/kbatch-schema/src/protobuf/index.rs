//! The message-index list that Confluent's Protobuf framing puts between the 5-byte prefix
//! and the message: which message type of the schema's file the value is.
//!
//! Layout (Confluent's `ProtobufSerializer`, every client): a zig-zag varint count, then that
//! many zig-zag varint indexes. The first index picks a top-level message of the file in
//! declaration order, each next one a nested message of the previous (map-entry types count,
//! they are nested types in the descriptor). The common case `[0]` is written as the single
//! byte `0` (a count of zero), so a count of zero reads as `[0]`.

use super::ProtobufError;

/// Indexes are Java `int`s in the reference implementation; a larger value is corrupt.
const MAX_INDEX: i64 = i32::MAX as i64;

/// The path from the schema's file to one message type: `[i]` is the i-th top-level message,
/// `[i, j]` the j-th nested message of that one. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageIndexes(Vec<u32>);

impl MessageIndexes {
    /// The first message of the file, `[0]` (the single byte `0` on the wire).
    pub fn first() -> Self {
        MessageIndexes(vec![0])
    }

    /// A path given by its indexes; `None` when empty (an empty path names no message).
    pub fn new(indexes: Vec<u32>) -> Option<Self> {
        (!indexes.is_empty()).then_some(MessageIndexes(indexes))
    }

    /// The indexes, outermost first.
    pub fn as_slice(&self) -> &[u32] {
        &self.0
    }

    /// Reads the list at the start of `value` (the bytes after the 5-byte prefix) and returns
    /// it with the offset of the Protobuf message in `value`.
    ///
    /// The count is checked against the bytes left (each index takes at least one byte)
    /// before anything is allocated, so a corrupt count never sizes an allocation.
    pub fn read(value: &[u8]) -> Result<(Self, usize), ProtobufError> {
        let mut indexes = MessageIndexes(Vec::new());
        let offset = indexes.read_into(value)?;
        Ok((indexes, offset))
    }

    /// As [`MessageIndexes::read`], reusing this list's allocation (for a decoding loop).
    /// On error the list is left as `[0]`.
    pub fn read_into(&mut self, value: &[u8]) -> Result<usize, ProtobufError> {
        self.0.clear();
        let mut pos = 0;
        let count = read_zigzag(value, &mut pos, "count")?;
        if count == 0 {
            self.0.push(0);
            return Ok(pos);
        }
        let left = value.len() - pos;
        if count < 0 || count > left as i64 {
            self.0.push(0);
            return Err(ProtobufError::IndexList(format!(
                "a count of {count} indexes, with {left} bytes left in the value"
            )));
        }
        // Bounded by the bytes left, checked above.
        self.0.reserve(count as usize);
        for _ in 0..count {
            match read_zigzag(value, &mut pos, "index") {
                Ok(index @ 0..=MAX_INDEX) => self.0.push(index as u32),
                Ok(index) => {
                    self.0.clear();
                    self.0.push(0);
                    return Err(ProtobufError::IndexList(format!(
                        "index {index} is not a message position (0 to {MAX_INDEX})"
                    )));
                }
                Err(err) => {
                    self.0.clear();
                    self.0.push(0);
                    return Err(err);
                }
            }
        }
        Ok(pos)
    }

    /// The wire form, as Confluent's serializers write it (the `0` shortcut for `[0]`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.0 == [0] {
            out.push(0);
            return out;
        }
        write_zigzag(&mut out, self.0.len() as i64);
        for &index in &self.0 {
            write_zigzag(&mut out, i64::from(index));
        }
        out
    }
}

impl std::fmt::Display for MessageIndexes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// One zig-zag varint (at most 10 bytes, as protobuf's own varints).
fn read_zigzag(buf: &[u8], pos: &mut usize, what: &str) -> Result<i64, ProtobufError> {
    let mut raw: u64 = 0;
    for shift in 0..10u32 {
        let Some(&byte) = buf.get(*pos) else {
            return Err(ProtobufError::IndexList(format!(
                "the value ends inside the {what} varint at byte {pos} (the Protobuf framing \
                 expects a message-index list after the 5-byte prefix)",
                pos = *pos
            )));
        };
        *pos += 1;
        let bits = u64::from(byte & 0x7f);
        if shift == 9 && byte > 1 {
            break;
        }
        raw |= bits << (7 * shift);
        if byte & 0x80 == 0 {
            return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    Err(ProtobufError::IndexList(format!(
        "the {what} varint ending at byte {pos} is longer than 64 bits",
        pos = *pos
    )))
}

fn write_zigzag(out: &mut Vec<u8>, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8 & 0x7f) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lists_confluent_writes() {
        // (bytes after the prefix, expected indexes, payload offset)
        let cases: &[(&[u8], &[u32], usize)] = &[
            (&[0x00, 0x0a], &[0], 1),       // the shortcut for the first message
            (&[0x02, 0x00, 0x0a], &[0], 2), // [0] written in full
            (&[0x02, 0x02], &[1], 2),       // the second message type
            (&[0x04, 0x02, 0x06, 0xff], &[1, 3], 3), // a nested type
            (&[0x02, 0x80, 0x01], &[64], 3), // a two-byte varint
            (&[0x06, 0x00, 0x02, 0x04], &[0, 1, 2], 4),
        ];
        for &(bytes, indexes, offset) in cases {
            let (got, at) = MessageIndexes::read(bytes).unwrap();
            assert_eq!(got.as_slice(), indexes, "{bytes:02x?}");
            assert_eq!(at, offset, "{bytes:02x?}");
        }
    }

    #[test]
    fn encode_is_the_inverse_of_read() {
        for indexes in [vec![0], vec![1], vec![0, 0], vec![2, 5, 1], vec![300, 0]] {
            let list = MessageIndexes::new(indexes.clone()).unwrap();
            let mut bytes = list.encode();
            let n = bytes.len();
            bytes.extend_from_slice(b"rest");
            assert_eq!(MessageIndexes::read(&bytes).unwrap(), (list, n));
        }
        assert_eq!(MessageIndexes::first().encode(), [0]);
        assert_eq!(MessageIndexes::new(vec![1]).unwrap().encode(), [2, 2]);
        assert_eq!(MessageIndexes::new(vec![]), None);
    }

    #[test]
    fn refuses_corrupt_lists_without_allocating_from_them() {
        let cases: &[(&[u8], &str)] = &[
            (&[], "ends inside the count"),
            (&[0x80], "ends inside the count"),
            (&[0x04, 0x02], "a count of 2 indexes, with 1 bytes left"),
            // i64::MAX / 2 indexes claimed: refused before any reservation.
            (
                &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                "a count of",
            ),
            (&[0x01, 0x00], "a count of -1"),
            (&[0x02, 0x01], "index -1 is not"),
            (
                &[0x02, 0x80, 0x80, 0x80, 0x80, 0x10],
                "index 2147483648 is not",
            ),
            (&[0x04, 0x02, 0x80], "ends inside the index"),
            (&[0x80; 12], "longer than 64 bits"),
        ];
        for &(bytes, message) in cases {
            let err = MessageIndexes::read(bytes).unwrap_err().to_string();
            assert!(
                err.contains(message),
                "{bytes:02x?}: {err} (expected {message:?})"
            );
        }
        // i32::MAX itself is a position (whether the file has that many types is checked later).
        let (list, _) = MessageIndexes::read(&[0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f]).unwrap();
        assert_eq!(list.as_slice(), &[i32::MAX as u32]);
    }

    #[test]
    fn read_into_reuses_and_resets() {
        let mut list = MessageIndexes::first();
        assert_eq!(list.read_into(&[0x04, 0x02, 0x04]).unwrap(), 3);
        assert_eq!(list.as_slice(), &[1, 2]);
        assert!(list.read_into(&[0x04]).is_err());
        assert_eq!(list.as_slice(), &[0]);
    }
}
