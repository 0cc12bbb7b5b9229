//! The AVX2 form: 32-byte vectors, two per block, and the prefix XOR as one carry-less
//! multiplication (PCLMULQDQ). Chosen at run time on CPUs that have AVX2, PCLMULQDQ, BMI1/2
//! and POPCNT (x86-64 since 2013); the static binary still runs on any x86-64.

use std::borrow::Cow;

use std::arch::x86_64::{
    __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
    _mm256_or_si256, _mm256_set1_epi8, _mm256_shuffle_epi8, _mm_clmulepi64_si128,
    _mm_cvtsi128_si64, _mm_set_epi64x,
};

use super::{lanes, Isa, OP_NIBBLES, SPACE_NIBBLES};
use crate::extract::fast::masks::{Classes, Raw, BLOCK};
use crate::extract::fast::{self, Found, Shapes, Verdict};
use crate::extract::paths::{PathTree, Val};
use crate::extract::Invalid;

/// [`super::OP_NIBBLES`] in both 16-byte lanes.
static OPS: [u8; 32] = lanes(OP_NIBBLES);

/// [`super::SPACE_NIBBLES`] in both 16-byte lanes.
static SPACES: [u8; 32] = lanes(SPACE_NIBBLES);

/// A table as a vector.
///
/// # Safety
/// The CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load(t: &[u8; 32]) -> __m256i {
    // SAFETY: an unaligned load of the table's 32 bytes.
    unsafe { _mm256_loadu_si256(t.as_ptr().cast::<__m256i>()) }
}

/// The AVX2 form (with PCLMULQDQ, BMI1/2, POPCNT).
pub(crate) struct Avx2;

/// The 32 bytes of `block` at `32 * k`.
///
/// # Safety
/// The CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn lane(block: &[u8; BLOCK], k: usize) -> __m256i {
    let lane = &block[32 * k..32 * k + 32];
    // SAFETY: an unaligned load of the 32 bytes of `lane`.
    unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) }
}

/// Byte `j` all ones where byte `j` of `v` equals `c`.
///
/// # Safety
/// The CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn eq(v: __m256i, c: u8) -> __m256i {
    _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8))
}

/// Byte `j` all ones where byte `j` of `v`, read as signed, is below 0x20: control characters
/// and every byte 0x80..=0xFF.
///
/// # Safety
/// The CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn below_space(v: __m256i) -> __m256i {
    _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v)
}

/// The movemask of `m` as 32 bits, placed for lane `k`.
///
/// # Safety
/// The CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn bits(m: __m256i, k: usize) -> u64 {
    u64::from(_mm256_movemask_epi8(m) as u32) << (32 * k)
}

impl Isa for Avx2 {
    #[inline]
    #[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn classify(block: &[u8; BLOCK]) -> Classes {
        let mut c = Classes::default();
        let mut unusual = 0;
        for k in 0..2 {
            // SAFETY: AVX2, as our caller vouched.
            unsafe {
                let v = lane(block, k);
                c.quotes |= bits(eq(v, b'"'), k);
                c.colons |= bits(eq(v, b':'), k);
                c.commas |= bits(eq(v, b','), k);
                unusual |= bits(_mm256_or_si256(eq(v, b'\\'), below_space(v)), k);
            }
        }
        c.unusual = unusual != 0;
        c
    }

    #[inline]
    #[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn raw(block: &[u8; BLOCK]) -> Raw {
        let mut r = Raw::default();
        for k in 0..2 {
            // SAFETY: AVX2, as our caller vouched.
            unsafe {
                let v = lane(block, k);
                r.quote |= bits(eq(v, b'"'), k);
                r.backslash |= bits(eq(v, b'\\'), k);
                // One table lookup per class (as simdjson classifies): the low nibble of
                // every byte of the class is distinct, and the table holds the byte at its
                // nibble. With bit 5 set, `[` is `{` and `]` is `}`; so are the control bytes
                // 0x0C and 0x1A `,` and `:`, which `control` removes below.
                let op = _mm256_cmpeq_epi8(
                    _mm256_shuffle_epi8(load(&OPS), v),
                    _mm256_or_si256(v, _mm256_set1_epi8(0x20)),
                );
                r.op |= bits(op, k);
                r.ws |= bits(
                    _mm256_cmpeq_epi8(_mm256_shuffle_epi8(load(&SPACES), v), v),
                    k,
                );
                let high = bits(v, k);
                r.high |= high;
                r.control |= bits(below_space(v), k) & !high;
            }
        }
        r.op &= !r.control;
        r
    }

    #[inline]
    #[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn scan(block: &[u8; BLOCK], sample: &[u8; BLOCK]) -> (u64, u64) {
        let (mut same, mut bad) = (0u64, 0u64);
        for k in 0..2 {
            // SAFETY: AVX2, as our caller vouched.
            unsafe {
                let (v, t) = (lane(block, k), lane(sample, k));
                same |= bits(_mm256_cmpeq_epi8(v, t), k);
                bad |= bits(
                    _mm256_or_si256(_mm256_or_si256(eq(v, b'"'), eq(v, b'\\')), below_space(v)),
                    k,
                );
            }
        }
        (same, bad)
    }

    #[inline]
    #[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn prefix_xor(x: u64) -> u64 {
        // A carry-less multiply by all ones XORs every lower bit into each bit.
        let v = _mm_set_epi64x(-1, x as i64);
        _mm_cvtsi128_si64(_mm_clmulepi64_si128(v, v, 0x10)) as u64
    }

    #[inline(never)]
    #[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn extract(b: &[u8]) -> Verdict<Found<'_>> {
        // SAFETY: compiled for the form's features; our caller vouched for them.
        unsafe { fast::extract_in::<Avx2>(b) }
    }

    #[inline(never)]
    #[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn paths<'a>(
        b: &'a [u8],
        tree: &PathTree,
        out: &mut Vec<Val<'a>>,
    ) -> Option<Result<(), Invalid>> {
        // SAFETY: compiled for the form's features; our caller vouched for them.
        unsafe { fast::paths::extract::<Avx2>(b, tree, out) }
    }
}

/// The fast path with the layout cache, compiled for AVX2, PCLMULQDQ and BMI. The caller's
/// `found` (the job's hash and probe) is compiled into it.
///
/// # Safety
/// The CPU must have those features (`extract::dispatch::Form` checks).
#[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
pub(crate) unsafe fn with_fields<'a, R, F: FnMut(Cow<'a, [u8]>, Cow<'a, [u8]>) -> R>(
    b: &'a [u8],
    shapes: &mut Shapes,
    found: &mut F,
) -> Verdict<R> {
    // SAFETY: compiled for the features; our caller vouched for them.
    unsafe { fast::with_fields_in::<Avx2, R, F>(b, shapes, found) }
}
