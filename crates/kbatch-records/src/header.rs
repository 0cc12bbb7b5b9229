//! The fixed v2 batch header and the header walk.

use crate::{Compression, RecordsError};

/// Bytes of the v2 batch header, up to and including the record count.
pub const HEADER_LEN: usize = 61;

/// `batch_length` counts the bytes after the length field: the header from
/// `partition_leader_epoch` on (49 bytes) plus the records.
const MIN_BATCH_LENGTH: i32 = (HEADER_LEN - 12) as i32;

/// The largest `batch_length` taken for a batch still arriving rather than for corrupt bytes.
///
/// A batch travels whole in one Fetch response, and responses are refused far below this
/// (kbatch's frame cap defaults to 100 MiB; brokers cap `message.max.bytes` the same way), so
/// a longer batch can never complete: calling it "need more" would make the fetch loop wait for
/// bytes that will never come. Calling it corrupt names the offset instead.
pub const MAX_BATCH_LENGTH: i32 = 1 << 30;

/// The smallest encoded record: a one-byte length, then attributes, timestamp delta, offset
/// delta, key length, value length and header count of one byte each.
const MIN_RECORD_LEN: usize = 7;

/// Record timestamps a reader wants, in ms, both ends inclusive; `min > max` is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBounds {
    /// The smallest timestamp wanted.
    pub min: i64,
    /// The largest timestamp wanted.
    pub max: i64,
}

impl TimeBounds {
    /// Every timestamp.
    pub const ANY: TimeBounds = TimeBounds {
        min: i64::MIN,
        max: i64::MAX,
    };

    /// Whether these bounds take every timestamp.
    pub fn is_any(&self) -> bool {
        *self == TimeBounds::ANY
    }
}

/// The fixed 61-byte v2 batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after this field.
    pub batch_length: i32,
    /// Leader epoch when written.
    pub partition_leader_epoch: i32,
    /// Format version (2).
    pub magic: i8,
    /// CRC32C of everything from `attributes` to the end of the batch.
    pub crc: u32,
    /// Codec (bits 0-2), timestamp type (3), transactional (4), control (5).
    pub attributes: i16,
    /// Offset of the last record relative to `base_offset` (kept even when compaction removed it).
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp (the log-append time when bit 3 is set).
    pub max_timestamp: i64,
    /// Producer id (-1 if none).
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Sequence of the first record.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// The offset after this batch: `base_offset + last_offset_delta + 1`.
    pub fn next_offset(&self) -> i64 {
        // `next_batch` refuses headers where this would overflow; saturate all the same.
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
            .saturating_add(1)
    }

    /// Bytes of the whole batch: `12 + batch_length`.
    pub fn total_len(&self) -> usize {
        // Headers from `walk` never have a negative length; a hand-made one must not panic.
        12 + self.batch_length.max(0) as usize
    }

    /// Part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    /// Holds transaction markers, not data.
    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    /// Record timestamps are the broker's append time (`max_timestamp`).
    pub fn log_append_time(&self) -> bool {
        self.attributes & 0x08 != 0
    }

    /// Can a record of this batch have a timestamp within `bounds`? Decided from the header
    /// alone, so a batch that cannot is skipped without decompressing it:
    ///
    /// * log-append time: every record carries `max_timestamp`, so the answer is exact;
    /// * create time: `max_timestamp` is the largest record timestamp (the broker sets it
    ///   when it validates a batch, and rebuilds it when compaction removes records), so a
    ///   batch below `min` holds no match. Nothing bounds the *smallest* one:
    ///   `base_timestamp` is the first record's, and later records may carry earlier
    ///   timestamps (their deltas are signed), so `max` never skips a create-time batch.
    ///
    /// Control batches hold no data records; the decoder never asks about them.
    pub fn may_hold(&self, bounds: TimeBounds) -> bool {
        if bounds.min > bounds.max {
            return false;
        }
        if self.log_append_time() {
            (bounds.min..=bounds.max).contains(&self.max_timestamp)
        } else {
            self.max_timestamp >= bounds.min
        }
    }

    /// The batch's codec.
    pub fn compression(&self) -> Result<Compression, RecordsError> {
        Ok(match self.attributes & 7 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            codec => {
                return Err(RecordsError::UnknownCodec {
                    base_offset: self.base_offset,
                    codec: codec as u8,
                })
            }
        })
    }

    fn parse(b: &[u8]) -> BatchHeader {
        let i64_at = |i: usize| i64::from_be_bytes(b[i..i + 8].try_into().unwrap());
        let i32_at = |i: usize| i32::from_be_bytes(b[i..i + 4].try_into().unwrap());
        let i16_at = |i: usize| i16::from_be_bytes(b[i..i + 2].try_into().unwrap());
        BatchHeader {
            base_offset: i64_at(0),
            batch_length: i32_at(8),
            partition_leader_epoch: i32_at(12),
            magic: b[16] as i8,
            crc: u32::from_be_bytes(b[17..21].try_into().unwrap()),
            attributes: i16_at(21),
            last_offset_delta: i32_at(23),
            base_timestamp: i64_at(27),
            max_timestamp: i64_at(35),
            producer_id: i64_at(43),
            producer_epoch: i16_at(51),
            base_sequence: i32_at(53),
            record_count: i32_at(57),
        }
    }
}

/// Result of walking only the batch headers of one partition's record bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// Leading bytes that form complete batches.
    pub complete_len: usize,
    /// Complete batches.
    pub batches: usize,
    /// Offset after the last complete batch.
    pub next_offset: Option<i64>,
    /// `partition_leader_epoch` of the last complete batch (-1 when none): what a fetcher sends
    /// as `last_fetched_epoch` so the leader can tell it whether its log diverged (KIP-320).
    pub last_epoch: i32,
}

/// Walk the complete batches of `bytes` (verifying CRC32C when `verify_crc`). A truncated
/// trailing batch ends the walk quietly: it is "need more", and the next fetch starts at its
/// base offset. A corrupt header, a legacy or unknown magic, or a CRC mismatch is an error
/// naming the batch's base offset.
pub fn walk(bytes: &[u8], verify_crc: bool) -> Result<Walk, RecordsError> {
    let mut w = Walk {
        complete_len: 0,
        batches: 0,
        next_offset: None,
        last_epoch: -1,
    };
    let mut rest = bytes;
    while let Some((h, _)) = next_batch(rest, verify_crc)? {
        check_order(w.next_offset, &h)?;
        rest = &rest[h.total_len()..];
        w.complete_len += h.total_len();
        w.batches += 1;
        w.next_offset = Some(h.next_offset());
        w.last_epoch = h.partition_leader_epoch;
    }
    Ok(w)
}

/// Batches of one partition come in offset order. A batch starting below the previous batch's
/// next offset would hand the same offsets out twice, so it is corrupt, not a quirk to smooth
/// over.
pub(crate) fn check_order(prev_next: Option<i64>, h: &BatchHeader) -> Result<(), RecordsError> {
    match prev_next {
        Some(prev) if h.base_offset < prev => Err(RecordsError::CorruptBatch {
            base_offset: h.base_offset,
            reason: "batch starts below the previous batch's last offset (offsets go backwards)",
        }),
        _ => Ok(()),
    }
}

/// The next complete batch at the front of `b`, or `None` if `b` holds no complete batch.
pub(crate) fn next_batch(
    b: &[u8],
    verify_crc: bool,
) -> Result<Option<(BatchHeader, &[u8])>, RecordsError> {
    if b.len() < 17 {
        return Ok(None);
    }
    let base_offset = i64::from_be_bytes(b[0..8].try_into().unwrap());
    let batch_length = i32::from_be_bytes(b[8..12].try_into().unwrap());
    let magic = b[16] as i8;
    match magic {
        2 => {}
        0 | 1 => return Err(RecordsError::LegacyFormat { base_offset, magic }),
        _ => return Err(RecordsError::UnknownMagic { base_offset, magic }),
    }
    if batch_length < MIN_BATCH_LENGTH {
        return Err(RecordsError::CorruptBatch {
            base_offset,
            reason: "batch length shorter than a batch header",
        });
    }
    if batch_length > MAX_BATCH_LENGTH {
        return Err(RecordsError::CorruptBatch {
            base_offset,
            reason: "batch length over 1 GiB, larger than any Fetch response can carry",
        });
    }
    let total = 12 + batch_length as usize;
    if b.len() < total {
        return Ok(None); // truncated trailing batch: need more
    }
    let batch = &b[..total];
    let h = BatchHeader::parse(batch);
    // CRC first: when the bytes are damaged, "CRC mismatch" is the truer diagnosis than
    // whichever field the damage happened to hit.
    if verify_crc {
        let actual = crc32c::crc32c(&batch[21..]);
        if actual != h.crc {
            return Err(RecordsError::Crc {
                base_offset,
                expected: h.crc,
                actual,
            });
        }
    }
    if h.last_offset_delta < 0 {
        return Err(RecordsError::CorruptBatch {
            base_offset,
            reason: "negative last offset delta",
        });
    }
    if base_offset < 0
        || base_offset
            .checked_add(i64::from(h.last_offset_delta) + 1)
            .is_none()
    {
        return Err(RecordsError::CorruptBatch {
            base_offset,
            reason: "base offset negative or offsets overflow",
        });
    }
    if h.record_count < 0 {
        return Err(RecordsError::CorruptBatch {
            base_offset,
            reason: "negative record count",
        });
    }
    // Offsets inside a batch are distinct and within [base, base + last_offset_delta], so a
    // larger count is a lie; checking it here means no count ever drives a long loop.
    if i64::from(h.record_count) > i64::from(h.last_offset_delta) + 1 {
        return Err(RecordsError::CorruptBatch {
            base_offset,
            reason: "record count larger than the batch's offset span",
        });
    }
    // Uncompressed records are all present: each takes at least MIN_RECORD_LEN bytes.
    if h.attributes & 7 == 0 && h.record_count as usize > (total - HEADER_LEN) / MIN_RECORD_LEN {
        return Err(RecordsError::CorruptBatch {
            base_offset,
            reason: "record count larger than the records present",
        });
    }
    Ok(Some((h, batch)))
}
