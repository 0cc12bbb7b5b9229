//! Decompression into a reusable scratch buffer, never past a cap and never sized from a
//! length the data claims.
//!
//! The scratch `Vec` is kept *initialised* up to its length (its high-water mark) and the
//! decompressed batch is its first `n` bytes: codecs write straight into it, and reusing it for
//! the next batch costs neither a copy nor a fresh zero-fill. It grows by doubling, with
//! `reserve_exact` so that its capacity never exceeds `cap + 1` bytes (the one extra byte is
//! how a stream that is too large gets noticed).
//!
//! zstd's decompression context is kept too ([`Contexts`]), so a batch does not pay for setting
//! one up and allocating its window buffer.

use std::io::Read;

use zstd::zstd_safe::DCtx;

use crate::scratch::ensure_len;
use crate::{Compression, RecordsError};

const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";

/// Codec state kept from batch to batch by one decoder.
#[derive(Default)]
pub(crate) struct Contexts {
    /// Made at the first zstd batch. Its session is reset before every batch (so a batch that
    /// failed halfway leaves nothing behind); its buffers stay, as large as the largest window
    /// seen (a producer's frames declare a few MB at most; libzstd refuses windows over
    /// 128 MB, as it did with a context per batch).
    zstd: Option<DCtx<'static>>,
}

/// Decompress `input` into `scratch`, returning how many of its leading bytes hold the result.
pub(crate) fn decompress(
    codec: Compression,
    input: &[u8],
    scratch: &mut Vec<u8>,
    contexts: &mut Contexts,
    cap: usize,
    base_offset: i64,
) -> Result<usize, RecordsError> {
    let fail = |reason: String| RecordsError::Decompress {
        base_offset,
        codec,
        reason,
    };
    let too_large = RecordsError::DecompressTooLarge {
        base_offset,
        codec,
        cap,
    };
    let out = match codec {
        Compression::None => {
            if input.len() > cap {
                return Err(too_large);
            }
            ensure_len(scratch, input.len(), cap);
            scratch[..input.len()].copy_from_slice(input);
            Ok(input.len())
        }
        // Multi-member: Java's GZIPInputStream reads concatenated members too, and trailing
        // bytes that are not a member become an error rather than being ignored.
        Compression::Gzip => read_capped(flate2::read::MultiGzDecoder::new(input), scratch, cap),
        // Straight into scratch; `FrameDecoder` for whatever that declines (and its errors).
        Compression::Lz4 => match crate::lz4::decompress(input, scratch, cap) {
            Some(n) => Ok(n),
            None => read_capped(lz4_flex::frame::FrameDecoder::new(input), scratch, cap),
        },
        Compression::Zstd => {
            // The streaming decoder never trusts the frame's declared content size.
            let context = contexts.zstd.get_or_insert_with(DCtx::create);
            read_capped(
                zstd::stream::read::Decoder::with_context(input, context),
                scratch,
                cap,
            )
        }
        Compression::Snappy => {
            if input.starts_with(XERIAL_MAGIC) {
                xerial(input, scratch, cap)
            } else {
                snappy_block(input, scratch, 0, cap)
            }
        }
    };
    out.map_err(|e| e.into_error(too_large, fail))
}

enum CapError {
    TooLarge,
    Codec(String),
}

impl CapError {
    fn into_error(
        self,
        too_large: RecordsError,
        fail: impl Fn(String) -> RecordsError,
    ) -> RecordsError {
        match self {
            CapError::TooLarge => too_large,
            CapError::Codec(reason) => fail(reason),
        }
    }
}

/// Read a decompressing stream to its end into `scratch`, refusing more than `cap` bytes.
fn read_capped(
    mut reader: impl Read,
    scratch: &mut Vec<u8>,
    cap: usize,
) -> Result<usize, CapError> {
    // Where growth starts for a fresh scratch: small batches stay small.
    const FIRST: usize = 16 << 10;
    let limit = cap.saturating_add(1);
    let mut filled = 0;
    loop {
        if filled == scratch.len() {
            if filled > cap {
                return Err(CapError::TooLarge);
            }
            // Room for one byte past the cap: getting it means the data is too large.
            ensure_len(scratch, (filled + 1).max(FIRST.min(limit)), cap);
        }
        let room = (limit - filled).min(scratch.len() - filled);
        match reader.read(&mut scratch[filled..filled + room]) {
            Ok(0) => return Ok(filled),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CapError::Codec(e.to_string())),
        }
        if filled > cap {
            return Err(CapError::TooLarge);
        }
    }
}

/// One raw snappy block, written to `scratch` at `at`; returns the end of the output. The
/// block's declared length is checked against the room left under the cap before anything is
/// reserved.
fn snappy_block(
    input: &[u8],
    scratch: &mut Vec<u8>,
    at: usize,
    cap: usize,
) -> Result<usize, CapError> {
    let len = snap::raw::decompress_len(input).map_err(|e| CapError::Codec(e.to_string()))?;
    if len > cap.saturating_sub(at) {
        return Err(CapError::TooLarge);
    }
    // A valid block of `len` bytes needs at least len / 64 input bytes (the densest copy op
    // writes 64 bytes from 3); a claim beyond that is a lie we refuse before allocating.
    if len / 64 > input.len() + 16 {
        return Err(CapError::Codec(format!(
            "snappy block claims {len} bytes from {} input bytes",
            input.len()
        )));
    }
    let end = at + len;
    ensure_len(scratch, end, cap);
    snap::raw::Decoder::new()
        .decompress(input, &mut scratch[at..end])
        .map_err(|e| CapError::Codec(e.to_string()))?;
    Ok(end)
}

/// Java's xerial framing: magic, version, compatible version, then chunks of
/// `[i32 BE length][raw snappy block]`.
fn xerial(input: &[u8], scratch: &mut Vec<u8>, cap: usize) -> Result<usize, CapError> {
    let mut rest = input
        .get(16..)
        .ok_or_else(|| CapError::Codec("truncated xerial header".into()))?;
    let mut end = 0;
    while !rest.is_empty() {
        let len_bytes = rest
            .get(..4)
            .ok_or_else(|| CapError::Codec("truncated xerial chunk length".into()))?;
        let len = i32::from_be_bytes(len_bytes.try_into().unwrap());
        if len < 0 {
            return Err(CapError::Codec(format!(
                "negative xerial chunk length {len}"
            )));
        }
        let chunk = rest
            .get(4..4 + len as usize)
            .ok_or_else(|| CapError::Codec(format!("xerial chunk length {len} beyond the data")))?;
        end = snappy_block(chunk, scratch, end, cap)?;
        rest = &rest[4 + len as usize..];
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testenc::compress;

    /// `decompress` with a context of its own, as a decoder's first batch has.
    fn fresh(
        codec: Compression,
        input: &[u8],
        scratch: &mut Vec<u8>,
        cap: usize,
        base_offset: i64,
    ) -> Result<usize, RecordsError> {
        decompress(
            codec,
            input,
            scratch,
            &mut Contexts::default(),
            cap,
            base_offset,
        )
    }

    const CODECS: [(Compression, bool); 5] = [
        (Compression::Gzip, false),
        (Compression::Snappy, false),
        (Compression::Snappy, true),
        (Compression::Lz4, false),
        (Compression::Zstd, false),
    ];

    #[test]
    fn exactly_the_cap_fits_one_more_byte_does_not() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for (codec, xerial) in CODECS {
            let input = compress(codec, &data, xerial);
            let mut scratch = Vec::new();
            let n = fresh(codec, &input, &mut scratch, data.len(), 0).unwrap();
            assert_eq!(&scratch[..n], &data[..], "{codec:?}");
            let err = fresh(codec, &input, &mut scratch, data.len() - 1, 7).unwrap_err();
            assert!(
                matches!(err, RecordsError::DecompressTooLarge { base_offset: 7, cap, .. } if cap == data.len() - 1),
                "{codec:?}: {err}"
            );
        }
    }

    #[test]
    fn scratch_capacity_never_exceeds_the_cap() {
        let zeros = vec![0u8; 4 << 20];
        let cap = 300_000;
        for (codec, xerial) in CODECS {
            let input = compress(codec, &zeros, xerial);
            let mut scratch = Vec::new();
            assert!(fresh(codec, &input, &mut scratch, cap, 0).is_err());
            assert!(
                scratch.capacity() <= cap + 1,
                "{codec:?}: {}",
                scratch.capacity()
            );
        }
    }

    #[test]
    fn scratch_is_reused_without_stale_bytes() {
        let mut scratch = Vec::new();
        let big = compress(Compression::Lz4, &[7u8; 50_000], false);
        let small = compress(Compression::Lz4, b"abc", false);
        assert_eq!(
            fresh(Compression::Lz4, &big, &mut scratch, 1 << 20, 0),
            Ok(50_000)
        );
        let n = fresh(Compression::Lz4, &small, &mut scratch, 1 << 20, 0).unwrap();
        assert_eq!(&scratch[..n], b"abc");
    }

    #[test]
    fn garbage_is_a_codec_error_naming_the_batch() {
        for (codec, _) in CODECS {
            let err = fresh(
                codec,
                b"\x01\x02not compressed at all",
                &mut Vec::new(),
                1 << 20,
                42,
            )
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    RecordsError::Decompress {
                        base_offset: 42,
                        ..
                    }
                ),
                "{codec:?}: {err}"
            );
        }
    }

    /// One zstd context serves every batch: a batch that fails halfway (corrupt, or cut off
    /// mid-frame) leaves nothing behind for the next.
    #[test]
    fn zstd_context_is_reused_across_failed_batches() {
        let a: Vec<u8> = (0..70_000u32).map(|i| (i % 13) as u8).collect();
        let b: Vec<u8> = (0..50_000u32).map(|i| (i % 7 + 100) as u8).collect();
        let (za, zb) = (
            compress(Compression::Zstd, &a, false),
            compress(Compression::Zstd, &b, false),
        );
        let mut contexts = Contexts::default();
        let mut scratch = Vec::new();
        let mut run = |input: &[u8]| {
            decompress(
                Compression::Zstd,
                input,
                &mut scratch,
                &mut contexts,
                1 << 20,
                3,
            )
            .map(|n| scratch[..n].to_vec())
        };
        assert_eq!(run(&za).unwrap(), a);
        assert!(run(&za[..za.len() / 2]).is_err(), "a frame cut in half");
        assert_eq!(run(&zb).unwrap(), b);
        let mut corrupt = za.clone();
        corrupt[za.len() / 2] ^= 0xff;
        // An error, or (no checksum in these frames) other bytes: never `a` again.
        assert!(run(&corrupt).map_or(true, |out| out != a));
        assert_eq!(run(&zb).unwrap(), b);
        // Two frames in one batch are both read, as before.
        let both = [za.as_slice(), zb.as_slice()].concat();
        assert_eq!(run(&both).unwrap(), [a.as_slice(), b.as_slice()].concat());
    }

    #[test]
    fn concatenated_gzip_members_are_all_read() {
        let mut two = compress(Compression::Gzip, b"hello ", false);
        two.extend(compress(Compression::Gzip, b"world", false));
        let mut scratch = Vec::new();
        let n = fresh(Compression::Gzip, &two, &mut scratch, 100, 0).unwrap();
        assert_eq!(&scratch[..n], b"hello world");
    }

    #[test]
    fn xerial_with_several_chunks() {
        let mut x = XERIAL_MAGIC.to_vec();
        x.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        for part in [&b"first,"[..], b"second"] {
            let block = snap::raw::Encoder::new().compress_vec(part).unwrap();
            x.extend_from_slice(&(block.len() as i32).to_be_bytes());
            x.extend(block);
        }
        let mut scratch = Vec::new();
        let n = fresh(Compression::Snappy, &x, &mut scratch, 100, 0).unwrap();
        assert_eq!(&scratch[..n], b"first,second");
        // The cap counts the chunks together, not each on its own.
        assert!(matches!(
            fresh(Compression::Snappy, &x, &mut scratch, 8, 0),
            Err(RecordsError::DecompressTooLarge { .. })
        ));
    }
}
