//! The portable form: plain Rust, on every CPU. It is the form aarch64 (and any other
//! architecture) runs, and the model the SSE2 and AVX2 forms are tested against, so each
//! primitive here is written for clarity, one byte at a time.

use std::borrow::Cow;

use super::Isa;
use crate::extract::fast::masks::{classify_portable, raw_class, unusual, Classes, Raw, BLOCK};
use crate::extract::fast::{self, Found, Shapes, Verdict};
use crate::extract::paths::{PathTree, Val};
use crate::extract::Invalid;

/// The portable form (any CPU).
pub(crate) struct Portable;

impl Isa for Portable {
    #[inline]
    unsafe fn classify(block: &[u8; BLOCK]) -> Classes {
        classify_portable(block)
    }

    #[inline]
    unsafe fn raw(block: &[u8; BLOCK]) -> Raw {
        let mut r = Raw::default();
        for (k, &byte) in block.iter().enumerate() {
            let c = raw_class(byte);
            let bit = |class: u8| u64::from(c & class != 0) << k;
            r.quote |= bit(1);
            r.backslash |= bit(2);
            r.op |= bit(4);
            r.ws |= bit(8);
            r.control |= bit(16);
            r.high |= bit(32);
        }
        r
    }

    #[inline]
    unsafe fn scan(block: &[u8; BLOCK], sample: &[u8; BLOCK]) -> (u64, u64) {
        let (mut same, mut bad) = (0u64, 0u64);
        for (k, (&byte, &want)) in block.iter().zip(sample).enumerate() {
            same |= u64::from(byte == want) << k;
            bad |= u64::from(byte == b'"' || unusual(byte)) << k;
        }
        (same, bad)
    }

    #[inline]
    unsafe fn prefix_xor(mut x: u64) -> u64 {
        let mut shift = 1;
        while shift < 64 {
            x ^= x << shift;
            shift <<= 1;
        }
        x
    }

    #[inline(never)]
    unsafe fn extract(b: &[u8]) -> Verdict<Found<'_>> {
        // SAFETY: the portable form runs on every CPU.
        unsafe { fast::extract_in::<Portable>(b) }
    }

    #[inline(never)]
    unsafe fn paths<'a>(
        b: &'a [u8],
        tree: &PathTree,
        out: &mut Vec<Val<'a>>,
    ) -> Option<Result<(), Invalid>> {
        // SAFETY: the portable form runs on every CPU.
        unsafe { fast::paths::extract::<Portable>(b, tree, out) }
    }
}

/// The fast path with the layout cache in the portable form (see `fast::with_fields_in`).
pub(crate) fn with_fields<'a, R, F: FnMut(Cow<'a, [u8]>, Cow<'a, [u8]>) -> R>(
    b: &'a [u8],
    shapes: &mut Shapes,
    found: &mut F,
) -> Verdict<R> {
    // SAFETY: the portable form runs on every CPU.
    unsafe { fast::with_fields_in::<Portable, R, F>(b, shapes, found) }
}
