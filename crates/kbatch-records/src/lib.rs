//! Kafka record-batch (magic v2) decoding: no I/O, no async, records as borrowed views.
//!
//! Two entry points, for two roles:
//!
//! * [`walk`] is what a fetch loop calls on one partition's record bytes: it reads only the
//!   61-byte batch headers (and verifies each batch's CRC32C), and says how many leading bytes
//!   form complete batches and which offset to fetch next. A truncated trailing batch — normal
//!   at the end of a Fetch response — ends the walk; it is not an error.
//! * [`Decoder::decode`] is what a decode worker calls on those complete batches: it decompresses
//!   into a reusable, capped scratch buffer, drops control records and (under read_committed)
//!   records of aborted transactions, clips to `[start, end)`, and calls a closure for every
//!   data record with a [`Record`] that borrows from the input or the scratch buffer.
//!
//! Nothing from the wire sizes an allocation: lengths and counts are checked against the bytes
//! actually present, and decompression stops at the cap.
//!
//! # What counts as corrupt, and why it is never skipped
//!
//! A batch reader promises that every record in the range is counted exactly once or the run
//! fails naming the offset, so anything the decoder does not fully understand is an error
//! ([`RecordsError`], always carrying the batch's base offset) and nothing at or after it is
//! delivered: a CRC mismatch; a batch length below the 49-byte header or above
//! [`MAX_BATCH_LENGTH`] (such a batch could never arrive, and "need more" would stall the fetch
//! loop); a record count that is negative, larger than the batch's offset span, or different
//! from the records present; offsets that do not increase, within a batch or from one batch to
//! the next (that would deliver duplicates); a record whose fields or headers do not fill its
//! length exactly; a control record without a (version, type) key; unknown codecs and magics;
//! and v0/v1 message sets, which are reported as [`RecordsError::LegacyFormat`] rather than
//! decoded or dropped.
//!
//! # Positions
//!
//! Both entry points report the next offset as the last complete batch's
//! `base_offset + last_offset_delta + 1`, never "last record seen + 1": the last offsets of a
//! range may be transaction markers, aborted records or records removed by compaction, and a
//! reader waiting to *see* them would wait forever.
//!
//! Design and invariants: see `DESIGN.md`, section "Records: `kbatch-records`".
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod codec;
mod header;
mod lz4;
mod record;
mod scratch;
mod txn;

#[cfg(any(test, feature = "testenc"))]
#[doc(hidden)]
pub mod testenc;
#[cfg(test)]
mod tests;

pub use header::{walk, BatchHeader, TimeBounds, Walk, HEADER_LEN, MAX_BATCH_LENGTH};
pub use record::{Headers, Record, TimestampType};

use txn::TxnFilter;

/// Default cap on one batch's decompressed size.
pub const DEFAULT_DECOMPRESS_CAP: usize = 64 << 20;

/// A batch's compression codec (attributes & 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip.
    Gzip,
    /// snappy: raw, or Java's xerial framing.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// zstd.
    Zstd,
}

/// Which records of transactional producers are data records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Records of aborted transactions are data records too.
    ReadUncommitted,
    /// Records of aborted transactions are skipped (and counted as aborted).
    ReadCommitted,
}

/// One aborted transaction from a Fetch response partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer.
    pub producer_id: i64,
    /// Offset of its first record in the aborted transaction.
    pub first_offset: i64,
}

/// Counts for one decode call, all restricted to offsets in `[start, end)`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Data records passed to the closure.
    pub records: u64,
    /// Records of aborted transactions skipped (read_committed only).
    pub aborted: u64,
    /// Control records (transaction markers).
    pub control: u64,
    /// Complete batches holding any offset of the range (control and aborted ones included).
    /// Batches wholly outside the range are not counted, so a refetch that resends batches
    /// already decoded does not count them twice.
    pub batches: u64,
    /// Wire (compressed) bytes of the batches counted in `batches`.
    pub bytes: u64,
    /// Data records of batches skipped whole because their header proves that no record lies
    /// within the decoder's [`TimeBounds`] ([`BatchHeader::may_hold`]): neither decompressed
    /// nor passed to the closure. Only batches wholly inside `[start, end)` are skipped, so
    /// this is their header's record count.
    pub skipped: u64,
    /// Batches skipped that way (also counted in `batches`).
    pub skipped_batches: u64,
    /// Wire bytes of those batches, never decompressed (also counted in `bytes`).
    pub skipped_bytes: u64,
}

/// One partition's bytes from one Fetch response, with the range the caller wants.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// Record bytes (batches; a truncated trailing batch is ignored).
    pub bytes: &'a [u8],
    /// Records below this offset are skipped.
    pub start: i64,
    /// Records at or above this offset are skipped.
    pub end: i64,
    /// Isolation level of the read.
    pub isolation: Isolation,
    /// The response's aborted transactions for this partition (any order).
    pub aborted: &'a [AbortedTxn],
}

/// Why a decode stopped early.
#[derive(Debug)]
pub enum Stop<E> {
    /// The bytes were bad.
    Records(RecordsError),
    /// The closure returned an error.
    Job(E),
}

/// What is wrong with some record bytes. Every variant names the batch's base offset; nothing
/// at or after that batch was delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    /// CRC32C mismatch.
    #[error("batch at offset {base_offset}: CRC32C mismatch (stored {expected:#010x}, computed {actual:#010x}); the data is corrupt")]
    Crc {
        /// Base offset.
        base_offset: i64,
        /// CRC stored in the batch.
        expected: u32,
        /// CRC computed over the bytes.
        actual: u32,
    },
    /// The batch header is inconsistent.
    #[error("batch at offset {base_offset}: corrupt batch: {reason}")]
    CorruptBatch {
        /// Base offset.
        base_offset: i64,
        /// What is wrong.
        reason: &'static str,
    },
    /// Compression codec 5, 6 or 7.
    #[error("batch at offset {base_offset}: unknown compression codec {codec}")]
    UnknownCodec {
        /// Base offset.
        base_offset: i64,
        /// attributes & 7.
        codec: u8,
    },
    /// A magic byte other than 0, 1, 2.
    #[error("batch at offset {base_offset}: unknown record format (magic {magic})")]
    UnknownMagic {
        /// Base offset.
        base_offset: i64,
        /// The magic byte.
        magic: i8,
    },
    /// A v0/v1 message set (pre-0.11 format), which kbatch does not decode.
    #[error("batch at offset {base_offset}: legacy message format (magic {magic}) is not supported; nothing was skipped")]
    LegacyFormat {
        /// Base offset.
        base_offset: i64,
        /// The magic byte (0 or 1).
        magic: i8,
    },
    /// Decompression would exceed the cap.
    #[error(
        "batch at offset {base_offset}: decompressed {codec:?} data exceeds the cap of {cap} bytes"
    )]
    DecompressTooLarge {
        /// Base offset.
        base_offset: i64,
        /// Codec.
        codec: Compression,
        /// The cap.
        cap: usize,
    },
    /// The codec rejected the data.
    #[error("batch at offset {base_offset}: {codec:?} decompression failed: {reason}")]
    Decompress {
        /// Base offset.
        base_offset: i64,
        /// Codec.
        codec: Compression,
        /// The codec's message.
        reason: String,
    },
    /// A record inside the batch is malformed.
    #[error("batch at offset {base_offset}: corrupt record at offset {offset}: {reason}")]
    CorruptRecord {
        /// Base offset.
        base_offset: i64,
        /// The record's offset (as far as it could be read).
        offset: i64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Per-worker decoder: owns a reusable scratch buffer for decompression (capped).
///
/// One per decode worker, reused for every chunk it decodes: the scratch buffer grows to the
/// largest decompressed batch seen (never beyond the cap) and stays, so steady-state decoding
/// allocates nothing.
pub struct Decoder {
    scratch: Vec<u8>,
    /// Codec state reused from batch to batch (zstd's decompression context).
    contexts: codec::Contexts,
    cap: usize,
    verify_crc: bool,
    /// Batches that cannot hold a record within these are skipped whole.
    times: TimeBounds,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the scratch contents: that may be megabytes of somebody's records.
        f.debug_struct("Decoder")
            .field("scratch_len", &self.scratch.len())
            .field("cap", &self.cap)
            .field("verify_crc", &self.verify_crc)
            .field("times", &self.times)
            .finish()
    }
}

impl Decoder {
    /// A decoder whose decompressed batches may not exceed `decompress_cap` bytes.
    pub fn new(decompress_cap: usize) -> Self {
        Decoder {
            scratch: Vec::new(),
            contexts: codec::Contexts::default(),
            cap: decompress_cap,
            verify_crc: true,
            times: TimeBounds::ANY,
        }
    }

    /// Skip, without decompressing, every data batch wholly inside a chunk's range whose header
    /// proves that none of its records has a timestamp within `times` (counted in
    /// [`Tally::skipped`]). The caller must treat a record outside `times` as it treats a
    /// skipped one; records of batches that are decoded are delivered whatever their
    /// timestamp. Default: [`TimeBounds::ANY`], nothing skipped.
    pub fn skip_outside(mut self, times: TimeBounds) -> Self {
        self.times = times;
        self
    }

    /// Verify CRC32C while decoding (default on). The reader's header walk already checks it.
    pub fn verify_crc(mut self, on: bool) -> Self {
        self.verify_crc = on;
        self
    }

    /// Decode every complete batch in `chunk.bytes`, calling `f` for each data record with an
    /// offset in `[start, end)`, in offset order. Returns the tally and the offset after the
    /// last complete batch (`None` if there was none).
    pub fn decode<E>(
        &mut self,
        chunk: &Chunk<'_>,
        mut f: impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(Tally, Option<i64>), Stop<E>> {
        let mut tally = Tally::default();
        let mut next = None;
        let mut txn = TxnFilter::new(chunk.isolation, chunk.aborted);
        let mut rest = chunk.bytes;
        while let Some((h, batch)) =
            header::next_batch(rest, self.verify_crc).map_err(Stop::Records)?
        {
            header::check_order(next, &h).map_err(Stop::Records)?;
            rest = &rest[h.total_len()..];
            next = Some(h.next_offset());
            let last = h.base_offset + i64::from(h.last_offset_delta);
            let in_range = last >= chunk.start && h.base_offset < chunk.end;
            if in_range {
                tally.batches += 1;
                tally.bytes += h.total_len() as u64;
            }
            if h.is_control() {
                // Markers update the transaction state even outside the range: an ABORT
                // marker below `start` still ends that producer's aborted transaction.
                txn.consume_upto(last);
                let body = self.body(&h, batch).map_err(Stop::Records)?;
                let (start, end) = (chunk.start, chunk.end);
                let mut control_in_range = 0;
                record::for_each(&h, body, |r| {
                    if r.offset >= start && r.offset < end {
                        control_in_range += 1;
                    }
                    match control_type(r.key) {
                        Some(CONTROL_ABORT) => txn.abort_marker(h.producer_id),
                        Some(_) => {}
                        None => {
                            return Err(RecordsError::CorruptRecord {
                                base_offset: h.base_offset,
                                offset: r.offset,
                                reason: "control record key is not (version i16, type i16)",
                            })
                        }
                    }
                    Ok(())
                })
                .map_err(|e| match e {
                    record::ForEachError::Records(e) | record::ForEachError::Job(e) => {
                        Stop::Records(e)
                    }
                })?;
                tally.control += control_in_range;
                continue;
            }
            let aborted = h.is_transactional() && txn.is_aborted(h.producer_id, last);
            if !in_range {
                continue;
            }
            // A batch straddling the range's edge is decoded: which of its records lie inside
            // depends on offsets only its body holds (compaction leaves gaps).
            let whole = h.base_offset >= chunk.start && last < chunk.end;
            if !aborted && whole && !h.may_hold(self.times) {
                let n = h.record_count.max(0) as u64;
                tally.skipped += n;
                tally.skipped_batches += 1;
                tally.skipped_bytes += h.total_len() as u64;
                continue;
            }
            let body = self.body(&h, batch).map_err(Stop::Records)?;
            if aborted {
                // Record offsets are dense only without compaction, so count them properly
                // (which also validates the batch like any other).
                let n = count_in_range(&h, body, chunk.start, chunk.end).map_err(Stop::Records)?;
                tally.aborted += n;
                continue;
            }
            let (start, end) = (chunk.start, chunk.end);
            let mut delivered = 0u64;
            record::for_each(&h, body, |r| {
                if r.offset >= start && r.offset < end {
                    delivered += 1;
                    f(r)
                } else {
                    Ok(())
                }
            })
            .map_err(|e| match e {
                record::ForEachError::Records(e) => Stop::Records(e),
                record::ForEachError::Job(e) => Stop::Job(e),
            })?;
            tally.records += delivered;
        }
        Ok((tally, next))
    }

    /// The batch's records section, decompressed into scratch if needed.
    fn body<'a>(&'a mut self, h: &BatchHeader, batch: &'a [u8]) -> Result<&'a [u8], RecordsError> {
        let raw = &batch[HEADER_LEN..];
        match h.compression()? {
            Compression::None => Ok(raw),
            codec => {
                let n = codec::decompress(
                    codec,
                    raw,
                    &mut self.scratch,
                    &mut self.contexts,
                    self.cap,
                    h.base_offset,
                )?;
                Ok(&self.scratch[..n])
            }
        }
    }
}

/// The control record type for an ABORT marker (COMMIT is 1).
const CONTROL_ABORT: i16 = 0;

/// A control record's type, from its key (version i16, type i16); `None` if the key is not one.
fn control_type(key: Option<&[u8]>) -> Option<i16> {
    match key? {
        [_, _, a, b, ..] => Some(i16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

fn count_in_range(h: &BatchHeader, body: &[u8], start: i64, end: i64) -> Result<u64, RecordsError> {
    let mut n = 0;
    record::for_each(h, body, |r| {
        if r.offset >= start && r.offset < end {
            n += 1;
        }
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(|e| match e {
        record::ForEachError::Records(e) => e,
        record::ForEachError::Job(never) => match never {},
    })?;
    Ok(n)
}
