//! What an instruction-set form provides: the block primitives the tiers are generic over.
//! The forms themselves live in `extract::simd`; this crate's fast path depends only on the
//! trait, never on a form.

use super::masks::{Classes, Raw, BLOCK};
use super::{Found, Verdict};
use crate::extract::paths::{PathTree, Val};
use crate::extract::Invalid;

/// The block primitives of one instruction-set form. Every method is the same function of
/// its input in every form (tests hold the vector forms to `Portable` byte for byte); only
/// the instructions differ.
///
/// # Safety
/// Each method may only be called on a CPU that has the form's features (for `Portable`:
/// any CPU). `extract::dispatch::Form` is the proof that it does.
pub(crate) trait Isa {
    /// The flat tier's classes of one block: quotes, colons, commas, and whether any byte is
    /// unusual (a backslash, a control character or a non-ASCII byte).
    ///
    /// # Safety
    /// The CPU must have the form's features.
    unsafe fn classify(block: &[u8; BLOCK]) -> Classes;

    /// The structural tier's raw masks of one block (see [`Raw`]).
    ///
    /// # Safety
    /// The CPU must have the form's features.
    unsafe fn raw(block: &[u8; BLOCK]) -> Raw;

    /// The layout cache's pass: bytes of `block` equal to `sample`'s, and bytes that may not
    /// stand inside a recalled value string (quotes and unusual bytes).
    ///
    /// # Safety
    /// The CPU must have the form's features.
    unsafe fn scan(block: &[u8; BLOCK], sample: &[u8; BLOCK]) -> (u64, u64);

    /// Bit `k` of the result is the parity of the set bits of `x` at or below `k`: with `x`
    /// the quotes of a block, the bits of the strings' opening quotes and insides.
    ///
    /// # Safety
    /// The CPU must have the form's features.
    unsafe fn prefix_xor(x: u64) -> u64;

    /// The whole fast path (every tier, in order) compiled for this form: the form's entry
    /// point, out of line so the layout cache's recall path around it stays small.
    ///
    /// # Safety
    /// The CPU must have the form's features.
    unsafe fn extract(b: &[u8]) -> Verdict<Found<'_>>;

    /// `top`'s path tier (`fast::paths`) compiled for this form, out of line: the paths of
    /// `tree` in `b`, or `None` where the tier declines.
    ///
    /// # Safety
    /// The CPU must have the form's features.
    unsafe fn paths<'a>(
        b: &'a [u8],
        tree: &PathTree,
        out: &mut Vec<Val<'a>>,
    ) -> Option<Result<(), Invalid>>;
}
