//! The layout cache: recently seen event layouts, so the next record of the same layout is
//! settled by comparing it with a sample in one vector pass instead of parsing it.

use super::isa::Isa;
use super::masks::classify_portable;
use super::masks::BLOCK;
use super::Found;

/// Layouts kept per value length.
const WAYS: usize = 2;

/// Value lengths the cache handles: more than one block (a shorter value would need padding),
/// at most two.
pub(crate) const CACHED: std::ops::RangeInclusive<usize> = BLOCK + 1..=2 * BLOCK;

/// Recently seen event layouts, so the next record of the same layout is settled by comparing
/// it with a sample in one vector pass instead of the mask algebra (speculation on the
/// previous records' structure, as in Mison, VLDB 2017, made exact).
///
/// A slot holds a value the fast path accepted, of 65 to 128 bytes, with no unusual byte (so
/// its quotes alone determine its strings), and `must`: every byte except the insides of
/// strings that directly follow a `:` (the values). Another value of the same length whose
/// `must` bytes equal the sample's, and whose other bytes hold no quote and no unusual byte,
/// differs from the sample only inside value strings, by printable ASCII with no quote or
/// backslash: it is valid JSON with the same members in the same places (its quotes are the
/// sample's), and its fields are at the sample's positions. Nothing else is assumed: a value
/// that differs anywhere else misses and takes the fast path as before.
///
/// Slots are found by the value's length alone ([`WAYS`] per length), so the slot is known
/// before the value's bytes are looked at: the pass over the bytes only decides a branch the
/// predictor gets right, and nothing the rest of the record's work waits for.
#[derive(Clone)]
pub(crate) struct Shapes {
    /// `WAYS` slots per length in [`CACHED`], most recently learned first.
    slots: Box<[Shape]>,
}

#[derive(Clone, Copy)]
struct Shape {
    /// The sample's length; 0 for an empty slot.
    n: usize,
    must: u128,
    /// Start and length of the category, then of the product, in the sample.
    fields: [(u8, u8); 2],
    sample: [u8; 2 * BLOCK],
}

const EMPTY: Shape = Shape {
    n: 0,
    must: 0,
    fields: [(0, 0); 2],
    sample: [0; 2 * BLOCK],
};

impl Default for Shapes {
    fn default() -> Self {
        Shapes {
            slots: vec![EMPTY; WAYS * CACHED.count()].into_boxed_slice(),
        }
    }
}

impl std::fmt::Debug for Shapes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self.slots.iter().filter(|s| s.n != 0).count();
        f.debug_struct("Shapes").field("used", &used).finish()
    }
}

impl Shapes {
    /// The slots for values of `n` bytes (in [`CACHED`]).
    fn ways(&self, n: usize) -> &[Shape] {
        let at = (n - *CACHED.start()) * WAYS;
        &self.slots[at..at + WAYS]
    }

    /// The fields of `b` if a slot holds its layout (see [`Shapes`]).
    ///
    /// # Safety
    /// The CPU must have the features of `I`.
    #[inline(always)]
    pub(crate) unsafe fn recall<'a, I: Isa>(&self, b: &'a [u8]) -> Option<Found<'a>> {
        let n = b.len();
        if !CACHED.contains(&n) {
            return None;
        }
        // The first block and the one ending the value; the second's bits for bytes the
        // first already covered are shifted out.
        let shift = 2 * BLOCK - n;
        let lo = b.first_chunk::<BLOCK>()?;
        let hi = b[n - BLOCK..].first_chunk::<BLOCK>()?;
        for s in self.ways(n) {
            if s.n != n {
                break;
            }
            let (slo, shi) = (
                s.sample.first_chunk::<BLOCK>()?,
                s.sample[n - BLOCK..].first_chunk::<BLOCK>()?,
            );
            // SAFETY: passed on from our caller.
            let ((same_lo, bad_lo), (same_hi, bad_hi)) =
                unsafe { (I::scan(lo, slo), I::scan(hi, shi)) };
            let same = u128::from(same_lo) | u128::from(same_hi >> shift) << 64;
            let bad = u128::from(bad_lo) | u128::from(bad_hi >> shift) << 64;
            if (!same & s.must) | (bad & !s.must) == 0 {
                let field = |(at, len): (u8, u8)| {
                    b.get(usize::from(at)..usize::from(at) + usize::from(len))
                };
                return Some(Found {
                    category: field(s.fields[0])?,
                    product: field(s.fields[1])?,
                    escaped: false,
                });
            }
        }
        None
    }

    /// Keep the layout of `b`, which the fast path found to be the event `f` (whose strings lie
    /// inside `b`), unless it is outside the lengths [`Shapes::recall`] handles or holds an
    /// unusual byte; it takes the first way of its length, the others move down one. Portable
    /// code: this runs once per new layout.
    #[cold]
    #[inline(never)]
    pub(crate) fn learn(&mut self, b: &[u8], f: Found<'_>) {
        let n = b.len();
        // A recalled value's fields are read as they stand, so escaped ones are never kept.
        if !CACHED.contains(&n) || f.escaped {
            return;
        }
        let lo = classify_portable(b.first_chunk().unwrap());
        let hi = classify_portable(b[n - BLOCK..].first_chunk().unwrap());
        if lo.unusual || hi.unusual {
            return;
        }
        let quotes = u128::from(lo.quotes) | u128::from(hi.quotes >> (2 * BLOCK - n)) << 64;
        let mut must = u128::MAX >> (2 * BLOCK - n);
        let mut q = quotes;
        while q != 0 {
            let open = q.trailing_zeros() as usize;
            q &= q - 1;
            let close = q.trailing_zeros() as usize;
            q &= q.wrapping_sub(1);
            if open > 0 && b[open - 1] == b':' && close < n {
                // A value string: its inside may change from record to record.
                must &= !((1u128 << close) - (2u128 << open));
            }
        }
        let at = |s: &[u8]| {
            let start = (s.as_ptr() as usize).wrapping_sub(b.as_ptr() as usize);
            // `n` ≤ 128, so both fit a byte.
            let inside = start.checked_add(s.len()).is_some_and(|end| end <= n);
            inside.then_some((start as u8, s.len() as u8))
        };
        let (Some(category), Some(product)) = (at(f.category), at(f.product)) else {
            return;
        };
        let mut sample = [0u8; 2 * BLOCK];
        sample[..n].copy_from_slice(b);
        let at = (n - *CACHED.start()) * WAYS;
        let ways = &mut self.slots[at..at + WAYS];
        ways.rotate_right(1);
        ways[0] = Shape {
            n,
            must,
            fields: [category, product],
            sample,
        };
    }
}
