//! Decompression into a reusable scratch buffer, never past a cap and never sized from a
//! length the data claims.

use std::io::Read;

use crate::{Compression, RecordsError};

const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";

/// Decompress `input` into `out` (cleared first). `out` grows only as data actually comes out,
/// and never beyond `cap` bytes.
pub(crate) fn decompress(
    codec: Compression,
    input: &[u8],
    out: &mut Vec<u8>,
    cap: usize,
    base_offset: i64,
) -> Result<(), RecordsError> {
    out.clear();
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
    match codec {
        Compression::None => {
            if input.len() > cap {
                return Err(too_large);
            }
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => read_capped(flate2::read::GzDecoder::new(input), out, cap)
            .map_err(|e| e.into_error(too_large, fail)),
        Compression::Lz4 => read_capped(lz4_flex::frame::FrameDecoder::new(input), out, cap)
            .map_err(|e| e.into_error(too_large, fail)),
        Compression::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::with_buffer(input).map_err(|e| fail(e.to_string()))?;
            read_capped(decoder, out, cap).map_err(|e| e.into_error(too_large, fail))
        }
        Compression::Snappy => {
            if input.starts_with(XERIAL_MAGIC) {
                xerial(input, out, cap).map_err(|e| e.into_error(too_large, fail))
            } else {
                snappy_block(input, out, cap).map_err(|e| e.into_error(too_large, fail))
            }
        }
    }
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

/// Read a decompressing stream to its end, refusing more than `cap` bytes.
fn read_capped(reader: impl Read, out: &mut Vec<u8>, cap: usize) -> Result<(), CapError> {
    // Ask for one byte more than the cap: getting it means the data is too large.
    let limit = (cap as u64).saturating_add(1);
    let mut limited = reader.take(limit);
    match limited.read_to_end(out) {
        Ok(_) if out.len() > cap => Err(CapError::TooLarge),
        Ok(_) => Ok(()),
        Err(e) => Err(CapError::Codec(e.to_string())),
    }
}

/// One raw snappy block, appended to `out`. The block's declared length is checked against
/// the cap before anything is reserved.
fn snappy_block(input: &[u8], out: &mut Vec<u8>, cap: usize) -> Result<(), CapError> {
    let len = snap::raw::decompress_len(input).map_err(|e| CapError::Codec(e.to_string()))?;
    if len > cap.saturating_sub(out.len()) {
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
    let start = out.len();
    out.resize(start + len, 0);
    snap::raw::Decoder::new()
        .decompress(input, &mut out[start..])
        .map_err(|e| CapError::Codec(e.to_string()))?;
    Ok(())
}

/// Java's xerial framing: magic, version, compatible version, then chunks of
/// `[i32 BE length][raw snappy block]`.
fn xerial(input: &[u8], out: &mut Vec<u8>, cap: usize) -> Result<(), CapError> {
    let mut rest = input
        .get(16..)
        .ok_or_else(|| CapError::Codec("truncated xerial header".into()))?;
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
        snappy_block(chunk, out, cap)?;
        rest = &rest[4 + len as usize..];
    }
    Ok(())
}
