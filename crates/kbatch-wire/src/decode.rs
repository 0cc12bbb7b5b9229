//! A bounded reader over one response body.
//!
//! Every array count is checked against the bytes left before anything is reserved (each
//! element takes at least one byte), so no response can make kbatch allocate more than a small
//! multiple of its frame — unlike generated decoders that call `Vec::with_capacity(n)` with `n`
//! straight from the wire (RELIABILITY.md case 36).

use bytes::Bytes;

/// A response body that does not decode as the version we asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {api} v{version} response: {what} at byte {at}")]
pub struct DecodeError {
    /// Which API.
    pub api: &'static str,
    /// Which version.
    pub version: i16,
    /// What was wrong.
    pub what: &'static str,
    /// Position in the body.
    pub at: usize,
}

pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    api: &'static str,
    version: i16,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a Bytes, api: &'static str, version: i16) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            api,
            version,
        }
    }

    pub(crate) fn err(&self, what: &'static str) -> DecodeError {
        DecodeError {
            api: self.api,
            version: self.version,
            what,
            at: self.pos,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err("unexpected end of response"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn i8(&mut self) -> Result<i8, DecodeError> {
        Ok(self.take(1)?[0] as i8)
    }

    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.i8()? != 0)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }

    pub(crate) fn uuid(&mut self) -> Result<[u8; 16], DecodeError> {
        Ok(self.take(16)?.try_into().unwrap())
    }

    pub(crate) fn uvarint(&mut self) -> Result<u32, DecodeError> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            if i == 4 && b & 0xf0 != 0 {
                return Err(self.err("unsigned varint overflow"));
            }
            v |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("unsigned varint overflow"))
    }

    /// A compact (flexible-version) length: `None` for null.
    fn compact_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let n = self.uvarint()?;
        Ok(if n == 0 { None } else { Some(n as usize - 1) })
    }

    pub(crate) fn compact_nullable_str(&mut self) -> Result<Option<String>, DecodeError> {
        match self.compact_len()? {
            None => Ok(None),
            Some(n) => {
                let s = self.take(n)?;
                String::from_utf8(s.to_vec())
                    .map(Some)
                    .map_err(|_| self.err("string is not UTF-8"))
            }
        }
    }

    pub(crate) fn compact_str(&mut self) -> Result<String, DecodeError> {
        self.compact_nullable_str()?
            .ok_or_else(|| self.err("null where a string is required"))
    }

    /// Compact nullable bytes, sliced zero-copy out of the frame.
    pub(crate) fn compact_bytes(&mut self) -> Result<Bytes, DecodeError> {
        match self.compact_len()? {
            None => Ok(Bytes::new()),
            Some(n) => {
                let start = self.pos;
                self.take(n)?;
                Ok(self.buf.slice(start..start + n))
            }
        }
    }

    /// Element count of a compact array (null = empty), checked against the bytes left.
    pub(crate) fn compact_array_len(&mut self, min_elem: usize) -> Result<usize, DecodeError> {
        let n = self.compact_len()?.unwrap_or(0);
        self.check_count(n, min_elem)
    }

    /// Element count of a classic (int32-prefixed) array, checked against the bytes left.
    pub(crate) fn array_len(&mut self, min_elem: usize) -> Result<usize, DecodeError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(0);
        }
        self.check_count(n as usize, min_elem)
    }

    fn check_count(&self, n: usize, min_elem: usize) -> Result<usize, DecodeError> {
        if n.saturating_mul(min_elem.max(1)) > self.remaining() {
            return Err(self.err("array count larger than the response"));
        }
        Ok(n)
    }

    pub(crate) fn compact_i32_array(&mut self) -> Result<Vec<i32>, DecodeError> {
        let n = self.compact_array_len(4)?;
        (0..n).map(|_| self.i32()).collect()
    }

    /// Skip a tagged-fields section (flexible versions).
    pub(crate) fn tagged_fields(&mut self) -> Result<(), DecodeError> {
        self.tagged_fields_with(|_, _| Ok(()))
    }

    /// A tagged-fields section, handing each field's tag and a reader over exactly its bytes
    /// to `on` (which may read them or not: the field is skipped either way).
    pub(crate) fn tagged_fields_with(
        &mut self,
        mut on: impl FnMut(u32, &mut Reader<'_>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        let n = self.uvarint()? as usize;
        self.check_count(n, 2)?;
        for _ in 0..n {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let start = self.pos;
            self.take(size)?;
            let field = self.buf.slice(start..self.pos);
            let mut sub = Reader::new(&field, self.api, self.version);
            on(tag, &mut sub)?;
        }
        Ok(())
    }

    /// A classic (int16-length) nullable string.
    pub(crate) fn nullable_str16(&mut self) -> Result<Option<String>, DecodeError> {
        let n = self.i16()?;
        if n < 0 {
            return Ok(None);
        }
        let s = self.take(n as usize)?;
        String::from_utf8(s.to_vec())
            .map(Some)
            .map_err(|_| self.err("string is not UTF-8"))
    }

    /// A classic (int16-length) string.
    pub(crate) fn str16(&mut self) -> Result<String, DecodeError> {
        self.nullable_str16()?
            .ok_or_else(|| self.err("null where a string is required"))
    }

    /// Classic (int32-length) nullable bytes, sliced zero-copy out of the frame.
    pub(crate) fn bytes32(&mut self) -> Result<Bytes, DecodeError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(Bytes::new());
        }
        let start = self.pos;
        self.take(n as usize)?;
        Ok(self.buf.slice(start..start + n as usize))
    }

    /// The whole body must be consumed: trailing bytes mean we misparsed (case 29).
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.remaining() != 0 {
            return Err(self.err("trailing bytes after the response"));
        }
        Ok(())
    }
}
