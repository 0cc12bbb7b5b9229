//! The fast path of the extractor, for the shape nearly every event has: a compact, flat
//! object of ASCII strings without escapes (and plain numbers or literals), such as
//! `{"customer":"cus01","product":"PD0021","category":"Books","ts":"1516978415"}`.
//!
//! One pass classifies the value sixteen bytes at a time into a bit mask of quotes and a flag
//! for "anything unusual inside a block" (a backslash, a control character, a non-ASCII byte).
//! With no such byte, every string is exactly the bytes between two consecutive quotes, so the
//! walk jumps from quote to quote and checks only the few structural bytes between strings
//! (`{`, `:`, `,`, `}`, numbers and literals) explicitly.
//!
//! The fast path never guesses: it answers only when the whole value has been proven to be
//! one such object, and returns `None` for everything else (whitespace, nesting, escapes,
//! exponents, non-ASCII text, bad JSON), which the general scanner then settles. Every byte it
//! accepts is either inside a string of a checked block or compared explicitly, so its
//! acceptance implies the value is valid UTF-8 and valid JSON.

use super::{field_of, Invalid, BIG_INTEGER_DIGITS};

/// A valid event's fields as found: the fast path only answers for strings without escapes,
/// so they are the value's own bytes (no `Cow` to build or drop on the hot path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found<'a> {
    pub(crate) category: &'a [u8],
    pub(crate) product: &'a [u8],
}

/// Bytes classified per block (four 16-byte vectors).
const BLOCK: usize = 64;

/// The verdict on `b` when the fast path can give it, else `None`.
#[inline]
pub(crate) fn extract(b: &[u8]) -> Option<Result<Found<'_>, Invalid>> {
    if b.first() != Some(&b'{') {
        return None;
    }
    if b.get(1) == Some(&b'}') {
        return (b.len() == 2).then_some(Err(Invalid::MissingField));
    }
    // Typical events fit two blocks: classify both up front and walk one 128-bit mask, with
    // no refill whose place among the quotes changes from record to record (a branch the
    // predictor cannot learn).
    if b.len() <= 2 * BLOCK {
        walk(b, Short::new(b)?)
    } else {
        walk(b, Quotes::new(b)?)
    }
}

/// The quotes of a value, in order.
trait Pop {
    /// The next quote's position; `None` when there is none or a block on the way holds an
    /// unusual byte.
    fn pop(&mut self) -> Option<usize>;
}

/// The walk from quote to quote over a value starting `{"`.
#[inline(always)]
fn walk<Q: Pop>(b: &[u8], mut quotes: Q) -> Option<Result<Found<'_>, Invalid>> {
    let mut fields: [Option<&[u8]>; 2] = [None, None];
    let mut seen = [false; 2];
    let mut duplicate = false;
    let mut wrong_type = false;
    let mut i = 1;
    loop {
        // Every byte since the last quote was checked to be no quote, so a quote here is the
        // next one in the mask.
        if *b.get(i)? != b'"' {
            return None;
        }
        quotes.pop()?;
        let key_end = quotes.pop()?;
        let field = field_at(b, i + 1, key_end);
        if *b.get(key_end + 1)? != b':' {
            return None;
        }
        let v = key_end + 2;
        let is_string = *b.get(v)? == b'"';
        let after = if is_string {
            quotes.pop()?;
            quotes.pop()? + 1
        } else {
            scalar(b, v)?
        };
        if let Some(f) = field {
            duplicate |= seen[f];
            seen[f] = true;
            if !is_string {
                wrong_type = true;
            } else if fields[f].is_none() {
                fields[f] = Some(&b[v + 1..after - 1]);
            }
        }
        match *b.get(after)? {
            b',' => i = after + 1,
            b'}' if after + 1 == b.len() => break,
            _ => return None,
        }
    }
    Some(if duplicate {
        Err(Invalid::DuplicateField)
    } else if wrong_type {
        Err(Invalid::WrongType)
    } else {
        match fields {
            [Some(product), Some(category)] => Ok(Found { category, product }),
            _ => Err(Invalid::MissingField),
        }
    })
}

/// Which of our two fields the key `b[start..end]` (no escapes) names. One 8-byte load
/// covers both names (a 7-byte key is followed by its closing quote) and the two tests
/// combine without branching on the key's length; values too short for the load take
/// [`field_of`].
#[inline]
fn field_at(b: &[u8], start: usize, end: usize) -> Option<usize> {
    const PRODUCT: u64 = u64::from_le_bytes(*b"product\0");
    const CATEGORY: u64 = u64::from_le_bytes(*b"category");
    let Some(w) = b.get(start..start + 8) else {
        return field_of(&b[start..end]);
    };
    let w = u64::from_le_bytes(w.try_into().unwrap());
    let len = end - start;
    let product = (len == 7) & (w & 0x00FF_FFFF_FFFF_FFFF == PRODUCT);
    let category = (len == 8) & (w == CATEGORY);
    (product | category).then_some(usize::from(category))
}

/// A number without exponent or a literal starting at `i`; the index after it. `None` for
/// anything else, and for numbers long enough to need the exact f64 range check.
#[inline]
fn scalar(b: &[u8], mut i: usize) -> Option<usize> {
    let literal = |lit: &[u8]| (b.get(i..i + lit.len())? == lit).then_some(i + lit.len());
    match *b.get(i)? {
        b't' => return literal(b"true"),
        b'f' => return literal(b"false"),
        b'n' => return literal(b"null"),
        b'-' => i += 1,
        _ => {}
    }
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => {
            let end = digits(i);
            if end - i >= BIG_INTEGER_DIGITS {
                return None;
            }
            i = end;
        }
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        return None;
    }
    Some(i)
}

/// The quotes of `b` in order, classified one block at a time as the walk moves forward.
struct Quotes<'a> {
    b: &'a [u8],
    /// Start of the classified block.
    start: usize,
    /// Bit `k` set: `b[start + k]` is a quote not yet taken.
    mask: u64,
}

impl<'a> Quotes<'a> {
    /// `None` if the first block holds an unusual byte.
    #[inline]
    fn new(b: &'a [u8]) -> Option<Self> {
        let mask = classify_at(b, 0)?;
        Some(Quotes { b, start: 0, mask })
    }
}

impl Pop for Quotes<'_> {
    /// Take the next quote's position; `None` when there is none or a block on the way holds
    /// an unusual byte.
    #[inline]
    fn pop(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.start += BLOCK;
            if self.start >= self.b.len() {
                return None;
            }
            self.mask = classify_at(self.b, self.start)?;
        }
        let at = self.start + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// The quotes of a value of at most two blocks, classified at once.
struct Short {
    /// Bit `k` set: `b[k]` is a quote not yet taken.
    mask: u128,
}

impl Short {
    /// `None` if the value holds an unusual byte.
    #[inline]
    fn new(b: &[u8]) -> Option<Self> {
        let lo = classify_at(b, 0)?;
        let hi = if b.len() > BLOCK {
            classify_at(b, BLOCK)?
        } else {
            0
        };
        Some(Short {
            mask: u128::from(lo) | u128::from(hi) << BLOCK,
        })
    }
}

impl Pop for Short {
    #[inline]
    fn pop(&mut self) -> Option<usize> {
        if self.mask == 0 {
            return None;
        }
        let at = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// The quote mask of the block at `start` (the tail padded with spaces), or `None` if it holds
/// a backslash, a control character or a non-ASCII byte.
#[inline]
fn classify_at(b: &[u8], start: usize) -> Option<u64> {
    let rest = &b[start..];
    let (quotes, unusual) = match rest.first_chunk::<BLOCK>() {
        Some(block) => classify(block),
        // The last, partial block of a long value: classify the 64 bytes that end the value
        // (the earlier ones were seen in the block before, and found usual) and shift them
        // out, with no copy.
        None if b.len() >= BLOCK => {
            let (quotes, unusual) = classify(b[b.len() - BLOCK..].first_chunk().unwrap());
            (quotes >> (BLOCK - rest.len()), unusual)
        }
        None => {
            let mut block = [b' '; BLOCK];
            block[..rest.len()].copy_from_slice(rest);
            classify(&block)
        }
    };
    (!unusual).then_some(quotes)
}

/// Quote bits and "holds an unusual byte" for one block, with SSE2 (part of every x86-64).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn classify(block: &[u8; BLOCK]) -> (u64, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut quotes = 0u64;
    let mut unusual = 0i32;
    // SAFETY: SSE2 is enabled for this build (the cfg above), and each load reads the 16
    // bytes of one `chunks_exact(16)` lane, with no alignment requirement.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let space = _mm_set1_epi8(b' ' as i8);
        for (k, lane) in block.chunks_exact(16).enumerate() {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            quotes |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u16) << (16 * k);
            // Signed compare: bytes 0x80..=0xFF are negative, so "< 0x20" also flags non-ASCII.
            unusual |= _mm_movemask_epi8(_mm_or_si128(
                _mm_cmpeq_epi8(v, backslash),
                _mm_cmplt_epi8(v, space),
            ));
        }
    }
    (quotes, unusual != 0)
}

/// Quote bits and "holds an unusual byte" for one block, portably.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
fn classify(block: &[u8; BLOCK]) -> (u64, bool) {
    classify_portable(block)
}

/// The classifier in plain Rust: the one used off x86-64, and the model tests hold SSE2 to.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    allow(dead_code)
)]
pub(crate) fn classify_portable(block: &[u8; BLOCK]) -> (u64, bool) {
    let mut quotes = 0u64;
    let mut unusual = false;
    for (k, &c) in block.iter().enumerate() {
        quotes |= u64::from(c == b'"') << k;
        unusual |= c == b'\\' || !(b' '..0x80).contains(&c);
    }
    (quotes, unusual)
}

/// The classifier this build uses, for tests.
#[cfg(test)]
pub(crate) fn classify_native(block: &[u8; BLOCK]) -> (u64, bool) {
    classify(block)
}
