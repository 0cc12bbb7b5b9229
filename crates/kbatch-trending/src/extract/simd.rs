//! The instruction-set forms of the fast path: one module per instruction set, each a
//! zero-sized type implementing [`Isa`] (the block primitives) plus the entry points, `unsafe
//! fn`s with `#[target_feature]`, that run the whole fast path compiled for that set:
//! [`portable`] (every CPU, and the model the others are tested against), [`sse2`], [`avx2`] and
//! [`avx512`] (x86-64 only). `extract::dispatch` picks the form once per CPU.
//!
//! Why the tiers are generic and inlined into these entry points: see `DESIGN.md`, section
//! "Trending: `kbatch-trending`", "One binary for every CPU".

pub(crate) use super::fast::isa::Isa;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
pub(crate) mod portable;
#[cfg(target_arch = "x86_64")]
pub(crate) mod sse2;

pub(crate) use portable::Portable;
#[cfg(target_arch = "x86_64")]
pub(crate) use {avx2::Avx2, avx512::Avx512, sse2::Sse2};

/// The table-lookup forms' byte classes by low nibble, for `pshufb`-style lookups, which take
/// each byte's low nibble as an index into the table's 16-byte lane (and give 0 for a byte
/// with the top bit set): `:` `{` `,` `}` at A, B, C, D and 0 elsewhere, which no byte with
/// bit 5 set equals (a byte is compared with bit 5 set, so `[` matches `{` and `]` `}`).
#[cfg(target_arch = "x86_64")]
const OP_NIBBLES: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b':', b'{', b',', b'}', 0, 0];

/// Space, tab, line feed, carriage return at their low nibbles (0, 9, A, D); 0xFF elsewhere,
/// which no byte looked up (below 0x80) equals.
#[cfg(target_arch = "x86_64")]
const SPACE_NIBBLES: [u8; 16] = [
    b' ', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, b'\t', b'\n', 0xFF, 0xFF, b'\r', 0xFF,
    0xFF,
];

/// A 16-entry nibble table repeated in every 16-byte lane of an `N`-byte vector (a lookup
/// stays inside its lane).
#[cfg(target_arch = "x86_64")]
const fn lanes<const N: usize>(t: [u8; 16]) -> [u8; N] {
    let mut all = [0u8; N];
    let mut i = 0;
    while i < N {
        all[i] = t[i % 16];
        i += 1;
    }
    all
}
