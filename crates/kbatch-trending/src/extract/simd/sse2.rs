//! The SSE2 form: 16-byte vectors, four per block. SSE2 is part of every x86-64 CPU, so this is
//! the form x86-64 CPUs without AVX2 run; it has no carry-less multiply, so its prefix XOR is
//! the portable one.

use std::borrow::Cow;

use std::arch::x86_64::{
    __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
    _mm_set1_epi8,
};

use super::{Isa, Portable};
use crate::extract::fast::masks::{Classes, Raw, BLOCK};
use crate::extract::fast::{self, Found, Shapes, Verdict};
use crate::extract::paths::{PathTree, Val};
use crate::extract::Invalid;

/// The SSE2 form (every x86-64 CPU).
pub(crate) struct Sse2;

/// The 16 bytes of `block` at `16 * k`.
///
/// # Safety
/// The CPU must have SSE2.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn lane(block: &[u8; BLOCK], k: usize) -> __m128i {
    let lane = &block[16 * k..16 * k + 16];
    // SAFETY: an unaligned load of the 16 bytes of `lane`.
    unsafe { _mm_loadu_si128(lane.as_ptr().cast::<__m128i>()) }
}

/// Bit `j` set where byte `j` of `v` equals `c`.
///
/// # Safety
/// The CPU must have SSE2.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn eq(v: __m128i, c: u8) -> __m128i {
    _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))
}

/// The movemask of `m` as 16 bits, placed for lane `k`.
///
/// # Safety
/// The CPU must have SSE2.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn bits(m: __m128i, k: usize) -> u64 {
    u64::from(_mm_movemask_epi8(m) as u16) << (16 * k)
}

impl Isa for Sse2 {
    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn classify(block: &[u8; BLOCK]) -> Classes {
        let mut c = Classes::default();
        let mut unusual = 0;
        for k in 0..4 {
            // SAFETY: SSE2, as our caller vouched.
            unsafe {
                let v = lane(block, k);
                c.quotes |= bits(eq(v, b'"'), k);
                c.colons |= bits(eq(v, b':'), k);
                c.commas |= bits(eq(v, b','), k);
                // Signed compare: bytes 0x80..=0xFF are negative, so "< 0x20" also flags
                // non-ASCII.
                unusual |= bits(
                    _mm_or_si128(eq(v, b'\\'), _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))),
                    k,
                );
            }
        }
        c.unusual = unusual != 0;
        c
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn raw(block: &[u8; BLOCK]) -> Raw {
        let mut r = Raw::default();
        for k in 0..4 {
            // SAFETY: SSE2, as our caller vouched.
            unsafe {
                let v = lane(block, k);
                // `[` and `{`, `]` and `}` differ only in bit 5.
                let v20 = _mm_or_si128(v, _mm_set1_epi8(0x20));
                r.quote |= bits(eq(v, b'"'), k);
                r.backslash |= bits(eq(v, b'\\'), k);
                r.op |= bits(
                    _mm_or_si128(
                        _mm_or_si128(eq(v, b':'), eq(v, b',')),
                        _mm_or_si128(eq(v20, b'{'), eq(v20, b'}')),
                    ),
                    k,
                );
                r.ws |= bits(
                    _mm_or_si128(
                        _mm_or_si128(eq(v, b' '), eq(v, b'\t')),
                        _mm_or_si128(eq(v, b'\n'), eq(v, b'\r')),
                    ),
                    k,
                );
                let high = bits(v, k);
                r.high |= high;
                // Signed: "< 0x20" holds for 0x80..=0xFF too, which `high` removes.
                r.control |= bits(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)), k) & !high;
            }
        }
        r
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn scan(block: &[u8; BLOCK], sample: &[u8; BLOCK]) -> (u64, u64) {
        let (mut same, mut bad) = (0u64, 0u64);
        for k in 0..4 {
            // SAFETY: SSE2, as our caller vouched.
            unsafe {
                let (v, t) = (lane(block, k), lane(sample, k));
                same |= bits(_mm_cmpeq_epi8(v, t), k);
                bad |= bits(
                    _mm_or_si128(
                        _mm_or_si128(eq(v, b'"'), eq(v, b'\\')),
                        _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                    ),
                    k,
                );
            }
        }
        (same, bad)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn prefix_xor(x: u64) -> u64 {
        // SAFETY: the portable form runs on every CPU.
        unsafe { Portable::prefix_xor(x) }
    }

    #[inline(never)]
    #[target_feature(enable = "sse2")]
    unsafe fn extract(b: &[u8]) -> Verdict<Found<'_>> {
        // SAFETY: compiled for the form's features; our caller vouched for them.
        unsafe { fast::extract_in::<Sse2>(b) }
    }

    #[inline(never)]
    #[target_feature(enable = "sse2")]
    unsafe fn paths<'a>(
        b: &'a [u8],
        tree: &PathTree,
        out: &mut Vec<Val<'a>>,
    ) -> Option<Result<(), Invalid>> {
        // SAFETY: compiled for the form's features; our caller vouched for them.
        unsafe { fast::paths::extract::<Sse2>(b, tree, out) }
    }
}

/// The fast path with the layout cache, compiled for SSE2.
///
/// # Safety
/// The CPU must have SSE2 (every x86-64 does).
#[target_feature(enable = "sse2")]
pub(crate) unsafe fn with_fields<'a, R, F: FnMut(Cow<'a, [u8]>, Cow<'a, [u8]>) -> R>(
    b: &'a [u8],
    shapes: &mut Shapes,
    found: &mut F,
) -> Verdict<R> {
    // SAFETY: compiled for SSE2; our caller vouched for it.
    unsafe { fast::with_fields_in::<Sse2, R, F>(b, shapes, found) }
}
