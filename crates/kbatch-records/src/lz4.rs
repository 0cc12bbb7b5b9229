//! LZ4 frames (the format Kafka's `lz4` codec uses) decoded straight into the decoder's
//! scratch buffer, block by block, with lz4_flex's block decompressor and every check the frame
//! format defines. Anything else (legacy or skippable frames, dictionary ids, reserved bits, a
//! checksum mismatch, a block over the cap) returns `None`, and the caller decodes the batch
//! again with `FrameDecoder`, which gives the data or the error: this module adds speed, never a
//! verdict of its own. Why: see `DESIGN.md`, section "Records: `kbatch-records`".

use twox_hash::XxHash32;

use crate::scratch::ensure_len;

const MAGIC: u32 = 0x184D_2204;

/// The bytes of the LZ4 frame that `input` starts with, decompressed into `scratch` (see the
/// module comment); how many of its leading bytes hold them. `None`: decode with
/// `FrameDecoder`. As `FrameDecoder` does, bytes after the first frame are not read (Kafka's
/// producers write one frame per batch), and empty input is empty output.
pub(crate) fn decompress(input: &[u8], scratch: &mut Vec<u8>, cap: usize) -> Option<usize> {
    if input.is_empty() {
        return Some(0);
    }
    frame(input, scratch, 0, cap)
}

/// The frame at the start of `input`, written to `scratch` from `start`: the end of its output.
fn frame(input: &[u8], scratch: &mut Vec<u8>, start: usize, cap: usize) -> Option<usize> {
    if u32::from_le_bytes(*input.first_chunk()?) != MAGIC {
        return None;
    }
    let (&flg, &bd) = (input.get(4)?, input.get(5)?);
    // Version 01; no reserved bit; no dictionary id.
    if flg >> 6 != 0b01 || flg & 0b11 != 0 || bd & 0x8F != 0 {
        return None;
    }
    let linked = flg & 0x20 == 0;
    let block_checksums = flg & 0x10 != 0;
    let has_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    let max_block = match (bd >> 4) & 0x7 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return None,
    };
    let descriptor_end = 6 + if has_size { 8 } else { 0 };
    let descriptor = input.get(4..descriptor_end)?;
    // The header checksum: the second byte of the descriptor's xxHash32.
    if *input.get(descriptor_end)? != (XxHash32::oneshot(0, descriptor) >> 8) as u8 {
        return None;
    }
    let declared = has_size.then(|| u64::from_le_bytes(descriptor[2..10].try_into().unwrap()));
    let mut rest = &input[descriptor_end + 1..];
    let mut hasher = content_checksum.then(|| XxHash32::with_seed(0));
    let mut end = start;
    loop {
        let word = u32::from_le_bytes(*rest.first_chunk()?);
        rest = &rest[4..];
        if word == 0 {
            break;
        }
        let stored = word & 0x8000_0000 != 0;
        let len = (word & 0x7FFF_FFFF) as usize;
        if len > max_block {
            return None;
        }
        let block = rest.get(..len)?;
        rest = &rest[len..];
        if block_checksums {
            let sum = u32::from_le_bytes(*rest.first_chunk()?);
            rest = &rest[4..];
            if XxHash32::oneshot(0, block) != sum {
                return None;
            }
        }
        // Room for a whole block, but never past the cap (then a block that does not fit
        // fails here, and `FrameDecoder` says the data is too large).
        let room = (end + max_block).min(cap);
        ensure_len(scratch, room, cap);
        if end > room {
            return None;
        }
        let (before, after) = scratch.split_at_mut(end);
        let out = &mut after[..room - end];
        let n = if stored {
            out.get_mut(..len)?.copy_from_slice(block);
            len
        } else if linked && end > start {
            // Matches may reach back into the frame's earlier blocks (64 KiB at most).
            let dict = &before[start.max(end.saturating_sub(64 << 10))..];
            lz4_flex::block::decompress_into_with_dict(block, out, dict).ok()?
        } else {
            lz4_flex::block::decompress_into(block, out).ok()?
        };
        if let Some(h) = hasher.as_mut() {
            std::hash::Hasher::write(h, &out[..n]);
        }
        end += n;
    }
    if declared.is_some_and(|size| size != (end - start) as u64) {
        return None;
    }
    if let Some(h) = hasher {
        if h.finish_32() != u32::from_le_bytes(*rest.first_chunk()?) {
            return None;
        }
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
    use proptest::prelude::*;

    use super::decompress as frames;

    /// Text whose repeats reach across block boundaries (so linked blocks refer back into
    /// earlier ones), with a counter so that it is not one repeated byte.
    fn data(len: usize, period: usize) -> Vec<u8> {
        (0..len)
            .map(|i| {
                let j = i % period.max(1);
                (j.wrapping_mul(2_654_435_761) >> 7) as u8 ^ (i / 100_000) as u8
            })
            .collect()
    }

    fn encode(raw: &[u8], info: FrameInfo) -> Vec<u8> {
        let mut e = FrameEncoder::with_frame_info(info, Vec::new());
        e.write_all(raw).unwrap();
        e.finish().unwrap()
    }

    /// What lz4_flex's `FrameDecoder` makes of `input`, the reference.
    fn reference(input: &[u8]) -> Result<Vec<u8>, ()> {
        let mut out = Vec::new();
        FrameDecoder::new(input)
            .read_to_end(&mut out)
            .map(|_| out)
            .map_err(|_| ())
    }

    fn infos() -> Vec<FrameInfo> {
        let mut all = Vec::new();
        for mode in [BlockMode::Independent, BlockMode::Linked] {
            for size in [BlockSize::Max64KB, BlockSize::Max256KB] {
                for checksums in [false, true] {
                    all.push(
                        FrameInfo::new()
                            .block_mode(mode)
                            .block_size(size)
                            .block_checksums(checksums)
                            .content_checksum(checksums),
                    );
                }
            }
        }
        all
    }

    /// Every frame kind lz4_flex writes, with and without a declared content size, decodes
    /// here to what `FrameDecoder` gives; so does a frame followed by another (which neither
    /// reads).
    #[test]
    fn every_frame_kind_decodes_as_frame_decoder_does() {
        for info in infos() {
            for (len, period) in [
                (0, 1),
                (1, 1),
                (5_000, 700),
                (300_000, 40_000),
                (1_100_000, 70_000),
            ] {
                let raw = data(len, period);
                let sized = info.clone().content_size(Some(len as u64));
                for input in [
                    encode(&raw, info.clone()),
                    encode(&raw, sized),
                    [encode(&raw, info.clone()), encode(b"tail", info.clone())].concat(),
                ] {
                    let mut scratch = Vec::new();
                    let n = frames(&input, &mut scratch, 1 << 24);
                    let n = n.unwrap_or_else(|| panic!("declined {info:?} {len}"));
                    assert_eq!(
                        Ok(scratch[..n].to_vec()),
                        reference(&input),
                        "{info:?} {len}"
                    );
                }
            }
        }
    }

    /// Legacy frames are left to `FrameDecoder`; a wrong header checksum, content size or
    /// content checksum, a truncated frame or a block past the cap are declined.
    #[test]
    fn declines_what_it_does_not_take() {
        let raw = data(200_000, 30_000);
        let info = FrameInfo::new()
            .content_checksum(true)
            .content_size(Some(raw.len() as u64));
        let good = encode(&raw, info);
        let mut scratch = Vec::new();
        assert!(frames(&good, &mut scratch, 1 << 20).is_some());
        let mut legacy = good.clone();
        legacy[..4].copy_from_slice(&0x184C_2102u32.to_le_bytes());
        assert!(frames(&legacy, &mut scratch, 1 << 20).is_none());
        // Byte 6 starts the 8-byte content size; the header checksum follows it.
        for at in [6, 14, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            assert!(frames(&bad, &mut scratch, 1 << 20).is_none(), "byte {at}");
            assert!(reference(&bad).is_err(), "byte {at}");
        }
        assert!(frames(&good[..good.len() / 2], &mut scratch, 1 << 20).is_none());
        assert!(frames(&good, &mut scratch, raw.len() - 1).is_none());
        assert!(scratch.capacity() <= 1 << 20);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any frame with any few bytes changed: whenever this decodes it, `FrameDecoder`
        /// decodes it to the same bytes (the caller falls back to it otherwise).
        #[test]
        fn never_disagrees_with_frame_decoder(
            len in 0usize..200_000,
            period in 1usize..50_000,
            which in 0usize..8,
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        ) {
            let mut input = encode(&data(len, period), infos()[which].clone());
            for (at, byte) in edits {
                let i = at.index(input.len());
                input[i] = byte;
            }
            let mut scratch = Vec::new();
            if let Some(n) = frames(&input, &mut scratch, 1 << 20) {
                prop_assert_eq!(Ok(scratch[..n].to_vec()), reference(&input));
            }
        }
    }
}
