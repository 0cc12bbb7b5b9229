//! Records inside a (decompressed) batch body, parsed lazily straight from the slice.

use crate::{BatchHeader, RecordsError};

/// What a record's timestamp means, decided per batch by the topic's `message.timestamp.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// The producer's create time.
    CreateTime,
    /// The broker's append time (every record of the batch carries the batch's max timestamp).
    LogAppendTime,
}

impl TimestampType {
    /// Kafka's (and Spark's) numbering: 0 create time, 1 log-append time.
    pub fn code(self) -> i32 {
        match self {
            TimestampType::CreateTime => 0,
            TimestampType::LogAppendTime => 1,
        }
    }
}

/// A record: borrowed views into the fetched bytes or into the decoder's scratch buffer.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Absolute offset.
    pub offset: i64,
    /// Timestamp in ms (create time, or the log-append time when the topic says so).
    pub timestamp: i64,
    /// Which of the two `timestamp` is: the batch's attribute bit 3, as Kafka's clients report
    /// it (Spark's `timestampType` column).
    pub timestamp_type: TimestampType,
    /// Key; `None` is a null key.
    pub key: Option<&'a [u8]>,
    /// Value; `None` is a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    headers: &'a [u8],
    header_count: i32,
    base_offset: i64,
}

impl<'a> Record<'a> {
    /// The record's headers, decoded on demand: `(key, value)` pairs, `None` for a null value.
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            rest: self.headers,
            left: self.header_count,
            offset: self.offset,
            base_offset: self.base_offset,
        }
    }
}

/// Iterator over a record's headers.
///
/// The decoder has already walked every header of a record before handing it out (a record is
/// only delivered once all of it parsed), so for records from [`crate::Decoder::decode`] this
/// never yields an error; the `Result` keeps a bad header from ever turning into a panic.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    rest: &'a [u8],
    left: i32,
    offset: i64,
    base_offset: i64,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Result<(&'a [u8], Option<&'a [u8]>), RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left <= 0 {
            return None;
        }
        self.left -= 1;
        let err = |reason| RecordsError::CorruptRecord {
            base_offset: self.base_offset,
            offset: self.offset,
            reason,
        };
        let mut c = Cursor {
            b: self.rest,
            pos: 0,
        };
        let item = c.header();
        match item {
            Ok(kv) => {
                self.rest = &self.rest[c.pos..];
                Some(Ok(kv))
            }
            Err(reason) => {
                self.left = 0;
                Some(Err(err(reason)))
            }
        }
    }
}

pub(crate) enum ForEachError<E> {
    Records(RecordsError),
    Job(E),
}

/// A bounds-checked reader over one record or header section.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A zigzag varlong: at most 10 bytes, the tenth carrying only the top bit.
    #[inline]
    fn varlong(&mut self) -> Result<i64, &'static str> {
        // Most deltas and lengths fit one byte: settle them before the loop.
        match self.b.get(self.pos..self.pos + 2) {
            Some(&[b0, _]) if b0 < 0x80 => {
                self.pos += 1;
                return Ok(i64::from(b0 >> 1) ^ -i64::from(b0 & 1));
            }
            Some(&[b0, b1]) if b1 < 0x80 => {
                self.pos += 2;
                let v = i64::from(b0 & 0x7f) | i64::from(b1) << 7;
                return Ok((v >> 1) ^ -(v & 1));
            }
            _ => {}
        }
        let mut v: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = *self.b.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err("varlong overflow");
            }
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A zigzag varint: at most 5 bytes, the fifth carrying only the top four bits.
    #[inline]
    fn varint(&mut self) -> Result<i32, &'static str> {
        // One or two bytes (values below 8192: lengths of ordinary records) before the loop.
        match self.b.get(self.pos..self.pos + 2) {
            Some(&[b0, _]) if b0 < 0x80 => {
                self.pos += 1;
                return Ok(i32::from(b0 >> 1) ^ -i32::from(b0 & 1));
            }
            Some(&[b0, b1]) if b1 < 0x80 => {
                self.pos += 2;
                let v = i32::from(b0 & 0x7f) | i32::from(b1) << 7;
                return Ok((v >> 1) ^ -(v & 1));
            }
            _ => {}
        }
        let mut v: u32 = 0;
        let mut shift = 0;
        loop {
            let byte = *self.b.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            if shift == 28 && byte & 0xf0 != 0 {
                return Err("varint overflow");
            }
            v |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Ok((v >> 1) as i32 ^ -((v & 1) as i32))
    }

    /// One header: a non-null key, then a value that may be null.
    #[inline]
    fn header(&mut self) -> Result<(&'a [u8], Option<&'a [u8]>), &'static str> {
        let key = self.bytes()?.ok_or("null header key")?;
        let value = self.bytes()?;
        Ok((key, value))
    }

    /// A varint length then that many bytes; -1 is null.
    #[inline]
    fn bytes(&mut self) -> Result<Option<&'a [u8]>, &'static str> {
        let len = self.varint()?;
        if len < 0 {
            return if len == -1 {
                Ok(None)
            } else {
                Err("negative length")
            };
        }
        let end = self
            .pos
            .checked_add(len as usize)
            .ok_or("length overflow")?;
        let s = self
            .b
            .get(self.pos..end)
            .ok_or("length beyond the record")?;
        self.pos = end;
        Ok(Some(s))
    }
}

/// Call `f` for every record of a batch body (after decompression), checking that exactly
/// `record_count` records fill it, that their offsets increase within the batch, and that each
/// record's fields (headers included) fill exactly its length: a record the parser did not
/// fully understand is never delivered as if it were fine.
pub(crate) fn for_each<E>(
    h: &BatchHeader,
    body: &[u8],
    mut f: impl FnMut(&Record<'_>) -> Result<(), E>,
) -> Result<(), ForEachError<E>> {
    let mut outer = Cursor { b: body, pos: 0 };
    let log_append = h.log_append_time();
    let timestamp_type = if log_append {
        TimestampType::LogAppendTime
    } else {
        TimestampType::CreateTime
    };
    // The offset of the record being parsed, as far as known: errors name it.
    let mut offset = h.base_offset;
    let mut prev_delta: Option<i32> = None;
    let corrupt = |offset, reason| {
        ForEachError::Records(RecordsError::CorruptRecord {
            base_offset: h.base_offset,
            offset,
            reason,
        })
    };
    for _ in 0..h.record_count {
        if outer.pos == body.len() {
            return Err(ForEachError::Records(RecordsError::CorruptBatch {
                base_offset: h.base_offset,
                reason: "record count larger than the records present",
            }));
        }
        let len = outer.varint().map_err(|r| corrupt(offset, r))?;
        if len < 0 {
            return Err(corrupt(offset, "negative record length"));
        }
        let end = outer
            .pos
            .checked_add(len as usize)
            .filter(|&e| e <= body.len());
        let Some(end) = end else {
            return Err(corrupt(offset, "record longer than its batch"));
        };
        let mut c = Cursor {
            b: &body[..end],
            pos: outer.pos,
        };
        outer.pos = end;
        let parsed = (|| {
            c.b.get(c.pos).ok_or("truncated record")?; // attributes: unused in v2
            c.pos += 1;
            let ts_delta = c.varlong()?;
            let off_delta = c.varint()?;
            let key = c.bytes()?;
            let value = c.bytes()?;
            let header_count = c.varint()?;
            if header_count < 0 {
                return Err("negative header count");
            }
            let headers_at = c.pos;
            // Every header takes at least two bytes (two varint lengths): this bounds the
            // loop below by the bytes present, whatever the count claims.
            if header_count as usize > (c.b.len() - c.pos) / 2 {
                return Err("header count larger than the record");
            }
            for _ in 0..header_count {
                c.header()?;
            }
            if c.pos != c.b.len() {
                return Err("bytes left after the record's headers");
            }
            let headers = &c.b[headers_at..];
            Ok((ts_delta, off_delta, key, value, header_count, headers))
        })();
        let (ts_delta, off_delta, key, value, header_count, headers) =
            parsed.map_err(|r| corrupt(offset, r))?;
        if off_delta < 0 || off_delta > h.last_offset_delta {
            return Err(corrupt(offset, "offset delta outside the batch"));
        }
        if prev_delta.is_some_and(|p| off_delta <= p) {
            return Err(corrupt(
                h.base_offset + i64::from(off_delta),
                "offset deltas do not increase",
            ));
        }
        prev_delta = Some(off_delta);
        offset = h.base_offset + i64::from(off_delta);
        let timestamp = if log_append {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(ts_delta)
        };
        let r = Record {
            offset,
            timestamp,
            timestamp_type,
            key,
            value,
            headers,
            header_count,
            base_offset: h.base_offset,
        };
        f(&r).map_err(ForEachError::Job)?;
    }
    if outer.pos != body.len() {
        return Err(ForEachError::Records(RecordsError::CorruptBatch {
            base_offset: h.base_offset,
            reason: "bytes left after the last record (record count too small)",
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    fn varint(b: &[u8]) -> Result<i32, &'static str> {
        Cursor { b, pos: 0 }.varint()
    }

    fn varlong(b: &[u8]) -> Result<i64, &'static str> {
        Cursor { b, pos: 0 }.varlong()
    }

    fn enc(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        crate::testenc::zigzag(v, &mut out);
        out
    }

    #[test]
    fn varints_at_the_edges() {
        for v in [
            0,
            -1,
            1,
            63,
            -64,
            64,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
        ] {
            assert_eq!(varint(&enc(v)), Ok(v as i32), "{v}");
        }
        // The one- and two-byte fast paths, and their edges, with and without a byte after.
        for v in [-8192i64, -8191, -65, 8191, 8192, 100, -100, 4000] {
            let mut b = enc(v);
            assert_eq!(varint(&b), Ok(v as i32), "{v}");
            assert_eq!(varlong(&b), Ok(v), "{v}");
            b.push(0x7f);
            assert_eq!(varint(&b), Ok(v as i32), "{v} then a byte");
            assert_eq!(varlong(&b), Ok(v), "{v} then a byte");
        }
        assert_eq!(enc(i64::from(i32::MIN)).len(), 5);
        // One past i32 needs a 33rd bit; six bytes is always too many.
        assert_eq!(varint(&enc(1 << 31)), Err("varint overflow"));
        assert_eq!(
            varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Err("varint overflow")
        );
        assert_eq!(varint(&[0x80, 0x80]), Err("truncated varint"));
        assert_eq!(varint(&[]), Err("truncated varint"));
    }

    proptest::proptest! {
        /// Every value round-trips through the fast paths and the loop alike, with or without
        /// bytes after it.
        #[test]
        fn varints_round_trip(v in proptest::prelude::any::<i64>(), tail in 0usize..3) {
            let mut b = enc(v);
            b.extend(std::iter::repeat_n(0x01, tail));
            proptest::prop_assert_eq!(varlong(&b), Ok(v));
            if let Ok(small) = i32::try_from(v) {
                proptest::prop_assert_eq!(varint(&b), Ok(small));
            }
        }
    }

    #[test]
    fn varlongs_at_the_edges() {
        for v in [0, -1, 1, i64::MAX, i64::MIN, 1 << 40] {
            assert_eq!(varlong(&enc(v)), Ok(v), "{v}");
        }
        assert_eq!(enc(i64::MIN).len(), 10);
        let mut eleven = vec![0xff; 10];
        eleven.push(0);
        assert_eq!(varlong(&eleven), Err("varlong overflow"));
        let mut top = vec![0xff; 9];
        top.push(0x02);
        assert_eq!(varlong(&top), Err("varlong overflow"));
    }

    #[test]
    fn header_lengths_are_bounded_by_the_bytes() {
        let mut c = Cursor {
            b: &[2, b'k', 0x80, 0x80, 0x80, 0x80, 0x07],
            pos: 0,
        };
        assert_eq!(c.header(), Err("length beyond the record"));
        let mut c = Cursor { b: &[1, 0], pos: 0 };
        assert_eq!(c.header(), Err("null header key"));
        let mut c = Cursor { b: &[0, 3], pos: 0 };
        assert_eq!(c.header(), Err("negative length"));
    }
}
