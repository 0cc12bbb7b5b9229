//! What the block primitives return, and the one definition of each byte class, shared by the
//! portable form and by the tests that hold the vector forms to it.

use super::isa::Isa;

/// Bytes classified per block.
pub(crate) const BLOCK: usize = 64;

/// The flat tier's classes: bit `k` of each mask stands for byte `k` of a block.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Classes {
    pub(crate) quotes: u64,
    pub(crate) colons: u64,
    pub(crate) commas: u64,
    /// The block holds a backslash, a control character or a non-ASCII byte.
    pub(crate) unusual: bool,
}

impl Classes {
    /// The classes of the block `n` bytes further on, for the tail of a value whose last
    /// 64 bytes were classified (the first `n` of them belong to the block before).
    pub(crate) fn shr(self, n: usize) -> Classes {
        Classes {
            quotes: self.quotes >> n,
            colons: self.colons >> n,
            commas: self.commas >> n,
            unusual: self.unusual,
        }
    }
}

/// The structural tier's masks of one block, before any carry from the block before: bit `k`
/// stands for byte `k`. Which bytes are inside strings is decided later, from the quotes
/// and backslashes (`fast::structural`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Raw {
    /// `"`.
    pub(crate) quote: u64,
    /// `\`.
    pub(crate) backslash: u64,
    /// `{`, `}`, `[`, `]`, `:`, `,`.
    pub(crate) op: u64,
    /// Space, tab, line feed, carriage return.
    pub(crate) ws: u64,
    /// Bytes below 0x20 (tab, line feed and carriage return included).
    pub(crate) control: u64,
    /// Bytes 0x80 and above.
    pub(crate) high: u64,
}

impl Raw {
    /// As [`Classes::shr`].
    pub(crate) fn shr(self, n: usize) -> Raw {
        Raw {
            quote: self.quote >> n,
            backslash: self.backslash >> n,
            op: self.op >> n,
            ws: self.ws >> n,
            control: self.control >> n,
            high: self.high >> n,
        }
    }
}

/// A byte the flat tier does not take inside a string: a backslash (an escape follows), a
/// control character (JSON requires it escaped) or a non-ASCII byte (its UTF-8 is another
/// tier's to check).
pub(crate) fn unusual(byte: u8) -> bool {
    byte == b'\\' || !(b' '..0x80).contains(&byte)
}

/// The [`Raw`] classes of one byte, as bits: quote 1, backslash 2, op 4, ws 8, control 16,
/// high 32.
pub(crate) fn raw_class(byte: u8) -> u8 {
    match byte {
        b'"' => 1,
        b'\\' => 2,
        b'{' | b'}' | b'[' | b']' | b':' | b',' => 4,
        b' ' => 8,
        b'\t' | b'\n' | b'\r' => 8 | 16,
        0..0x20 => 16,
        0x80.. => 32,
        _ => 0,
    }
}

/// [`Isa::prefix_xor`] over two blocks: the high half continues the low half's parity.
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
pub(crate) unsafe fn prefix_xor128<I: Isa>(x: u128) -> u128 {
    // SAFETY: passed on from our caller.
    let (lo, hi) = unsafe { (I::prefix_xor(x as u64), I::prefix_xor((x >> 64) as u64)) };
    let hi = hi ^ ((lo as i64 >> 63) as u64);
    u128::from(lo) | u128::from(hi) << 64
}

/// The flat tier's classes of one block, byte by byte: the portable form's `classify`, and
/// what the layout cache keys its ways by on every CPU.
#[inline]
pub(crate) fn classify_portable(block: &[u8; BLOCK]) -> Classes {
    let mut c = Classes::default();
    for (k, &byte) in block.iter().enumerate() {
        c.quotes |= u64::from(byte == b'"') << k;
        c.colons |= u64::from(byte == b':') << k;
        c.commas |= u64::from(byte == b',') << k;
        c.unusual |= unusual(byte);
    }
    c
}
