//! The AVX-512 form: the whole 64-byte block in one vector, every class compared straight into
//! a 64-bit mask register (AVX-512BW), where the AVX2 form needs two halves, a `movemask` per
//! half and a shift to join them. The prefix XOR is the AVX2 form's (one carry-less
//! multiplication). When it is chosen (`extract::dispatch`) and what it gains: see `DESIGN.md`,
//! section "Trending: `kbatch-trending`", "AVX-512 only where 512-bit work does not slow the
//! core".

use std::borrow::Cow;

use std::arch::x86_64::{
    __m512i, _mm512_cmpeq_epi8_mask, _mm512_cmplt_epu8_mask, _mm512_loadu_si512,
    _mm512_movepi8_mask, _mm512_or_si512, _mm512_set1_epi8, _mm512_shuffle_epi8,
};

use super::{lanes, Avx2, Isa, OP_NIBBLES, SPACE_NIBBLES};
use crate::extract::fast::masks::{Classes, Raw, BLOCK};
use crate::extract::fast::{self, Found, Shapes, Verdict};
use crate::extract::paths::{PathTree, Val};
use crate::extract::Invalid;

/// [`super::OP_NIBBLES`] in all four 16-byte lanes.
static OPS: [u8; 64] = lanes(OP_NIBBLES);

/// [`super::SPACE_NIBBLES`] in all four 16-byte lanes.
static SPACES: [u8; 64] = lanes(SPACE_NIBBLES);

/// The AVX-512 form (AVX-512F/BW with PCLMULQDQ, BMI1/2, POPCNT).
pub(crate) struct Avx512;

/// The 64 bytes of `bytes` as one vector.
///
/// # Safety
/// The CPU must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load(bytes: &[u8; 64]) -> __m512i {
    // SAFETY: an unaligned load of the 64 bytes of `bytes`.
    unsafe { _mm512_loadu_si512(bytes.as_ptr().cast::<__m512i>()) }
}

/// Bit `j` set where byte `j` of `v` equals `c`.
///
/// # Safety
/// The CPU must have AVX-512BW.
#[inline]
#[target_feature(enable = "avx512bw")]
unsafe fn eq(v: __m512i, c: u8) -> u64 {
    _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c as i8))
}

/// Bit `j` set where byte `j` of `v` is a control character (below 0x20, unsigned).
///
/// # Safety
/// The CPU must have AVX-512BW.
#[inline]
#[target_feature(enable = "avx512bw")]
unsafe fn control(v: __m512i) -> u64 {
    _mm512_cmplt_epu8_mask(v, _mm512_set1_epi8(0x20))
}

/// Bit `j` set where byte `j` of `v` is 0x80 or above (its top bit).
///
/// # Safety
/// The CPU must have AVX-512BW.
#[inline]
#[target_feature(enable = "avx512bw")]
unsafe fn high(v: __m512i) -> u64 {
    _mm512_movepi8_mask(v)
}

impl Isa for Avx512 {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn classify(block: &[u8; BLOCK]) -> Classes {
        // SAFETY: AVX-512F/BW, as our caller vouched.
        unsafe {
            let v = load(block);
            Classes {
                quotes: eq(v, b'"'),
                colons: eq(v, b':'),
                commas: eq(v, b','),
                unusual: eq(v, b'\\') | control(v) | high(v) != 0,
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn raw(block: &[u8; BLOCK]) -> Raw {
        // SAFETY: AVX-512F/BW, as our caller vouched.
        unsafe {
            let v = load(block);
            let control = control(v);
            // One table lookup per class, as in the AVX2 form: with bit 5 set, `[` is `{` and
            // `]` is `}`; so are the control bytes 0x0C and 0x1A `,` and `:`, removed below.
            let op = _mm512_cmpeq_epi8_mask(
                _mm512_shuffle_epi8(load(&OPS), v),
                _mm512_or_si512(v, _mm512_set1_epi8(0x20)),
            );
            Raw {
                quote: eq(v, b'"'),
                backslash: eq(v, b'\\'),
                op: op & !control,
                ws: _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(load(&SPACES), v), v),
                control,
                high: high(v),
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn scan(block: &[u8; BLOCK], sample: &[u8; BLOCK]) -> (u64, u64) {
        // SAFETY: AVX-512F/BW, as our caller vouched.
        unsafe {
            let (v, t) = (load(block), load(sample));
            let same = _mm512_cmpeq_epi8_mask(v, t);
            let bad = eq(v, b'"') | eq(v, b'\\') | control(v) | high(v);
            (same, bad)
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn prefix_xor(x: u64) -> u64 {
        // SAFETY: this form's CPUs have the AVX2 form's features (`extract::dispatch` checks both).
        unsafe { Avx2::prefix_xor(x) }
    }

    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512bw,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn extract(b: &[u8]) -> Verdict<Found<'_>> {
        // SAFETY: compiled for the form's features; our caller vouched for them.
        unsafe { fast::extract_in::<Avx512>(b) }
    }

    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512bw,pclmulqdq,bmi1,bmi2,popcnt")]
    unsafe fn paths<'a>(
        b: &'a [u8],
        tree: &PathTree,
        out: &mut Vec<Val<'a>>,
    ) -> Option<Result<(), Invalid>> {
        // SAFETY: compiled for the form's features; our caller vouched for them.
        unsafe { fast::paths::extract::<Avx512>(b, tree, out) }
    }
}

/// The fast path with the layout cache, compiled for AVX-512F/BW, PCLMULQDQ and BMI. The
/// caller's `found` (the job's hash and probe) is compiled into it.
///
/// # Safety
/// The CPU must have those features (`extract::dispatch::Form` checks).
#[target_feature(enable = "avx512f,avx512bw,pclmulqdq,bmi1,bmi2,popcnt")]
pub(crate) unsafe fn with_fields<'a, R, F: FnMut(Cow<'a, [u8]>, Cow<'a, [u8]>) -> R>(
    b: &'a [u8],
    shapes: &mut Shapes,
    found: &mut F,
) -> Verdict<R> {
    // SAFETY: compiled for the features; our caller vouched for them.
    unsafe { fast::with_fields_in::<Avx512, R, F>(b, shapes, found) }
}
