//! The short tier, for the shape the project's sample events have: a compact, flat object of
//! at most two blocks (128 bytes), ASCII strings without escapes (and plain numbers or
//! literals), such as
//! `{"customer":"cus01","product":"PD0021","category":"Books","ts":"1516978415"}`.
//!
//! Both blocks are classified up front into masks of quotes, colons and commas and a flag for
//! "anything unusual" (a backslash, a control character, a non-ASCII byte). With no such byte,
//! every string is exactly the bytes between two consecutive quotes: an all-string object is
//! settled from the masks alone ([`flat`]), any other by a walk from quote to quote that checks
//! the few bytes between strings explicitly ([`walk`]). Every byte it accepts is either inside
//! a string of a checked block or compared explicitly, so its acceptance implies the value is
//! valid UTF-8 and valid JSON; anything else it declines.
//!
//! Design and invariants: see `DESIGN.md`, section "The extractor".

use super::isa::Isa;
use super::masks::{prefix_xor128, Classes, BLOCK};
use super::{Found, Verdict};
use crate::extract::{field_of, Invalid, BIG_INTEGER_DIGITS};

/// The short tier's verdict on `b`.
///
/// Typical sample events fit two blocks: both are classified up front and one 128-bit mask is
/// walked, with no refill whose place among the quotes changes from record to record (a
/// branch the predictor cannot learn).
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
pub(crate) unsafe fn extract<I: Isa>(b: &[u8]) -> Verdict<Found<'_>> {
    if b.len() > 2 * BLOCK || b.first() != Some(&b'{') {
        return Verdict::Declined;
    }
    if b.get(1) == Some(&b'}') {
        return if b.len() == 2 {
            Verdict::Invalid(Invalid::MissingField)
        } else {
            Verdict::Declined
        };
    }
    // SAFETY: passed on from our caller.
    let Some(short) = (unsafe { Short::new::<I>(b) }) else {
        return Verdict::Declined;
    };
    // SAFETY: as above.
    let verdict = unsafe { flat::<I>(b, &short) };
    if !verdict.declined() {
        return verdict;
    }
    walk(b, short)
}

/// The flat tier's verdict alone, for tests (so its answers are checked even where the walk
/// would have answered too).
///
/// # Safety
/// The CPU must have the features of `I`.
#[cfg(test)]
pub(crate) unsafe fn flat_only<I: Isa>(b: &[u8]) -> Verdict<Found<'_>> {
    if b.first() != Some(&b'{') || b.get(1) == Some(&b'}') || b.len() > 2 * BLOCK {
        return Verdict::Declined;
    }
    // SAFETY: passed on from our caller.
    unsafe {
        match Short::new::<I>(b) {
            Some(short) => flat::<I>(b, &short),
            None => Verdict::Declined,
        }
    }
}

/// The verdict for an object whose every value is a string (`{"k":"v","k":"v"}`, the shape of
/// the events), settled from the masks alone, with no walk from member to member: `None`
/// when the value has any other shape (a number, a literal, whitespace), for [`walk`].
///
/// With no backslash, quotes pair up in order, so the running parity of the quote mask marks
/// the strings. The value has the shape exactly when the bytes outside strings are `{`, `}`
/// and separators, every separator sits between a closing and an opening quote, and the
/// separators alternate `:`, `,`, `:` and end with `:`. Then a key is a string whose closing
/// quote is followed by `:`, and `product` / `category` are found among the keys of seven and
/// eight bytes (typically one and two candidates) with one 8-byte compare each.
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
unsafe fn flat<'a, I: Isa>(b: &'a [u8], m: &Short) -> Verdict<Found<'a>> {
    let n = b.len();
    // The caller checked `{` and that the value is no bare `{}`; `n` ≤ 128.
    if n < 2 || b[n - 1] != b'}' {
        return Verdict::Declined;
    }
    // Bit `n - 2` (the last quote), and from it the last byte and the value's bits.
    let last_quote = 1u128 << (n - 2);
    let last = last_quote << 1;
    let len = (last << 1).wrapping_sub(1);
    let quotes = m.mask;
    // SAFETY: passed on from our caller.
    let strings = unsafe { prefix_xor128::<I>(quotes) }; // an opening quote and its string's bytes
    let open = quotes & strings;
    let close = quotes & !strings;
    let outside = len & !(strings | quotes);
    let colons = m.colons & outside;
    let commas = m.commas & outside;
    let seps = colons | commas;
    // SAFETY: as above.
    let keys = unsafe { prefix_xor128::<I>(seps) }; // from each odd separator up to the next one
    let shape = (outside == seps | 1 | last)
        & (open == seps << 1 | 2)
        & (close == seps >> 1 | last_quote)
        & (seps & keys == colons)
        & (keys & last != 0);
    if !shape {
        return Verdict::Declined;
    }
    let key_ends = close & colons >> 1;
    let (product, p_twice) = find_key(b, open & key_ends >> 8, 7, *b"product\"");
    let (category, c_twice) = find_key(b, open & key_ends >> 9, 8, *b"category");
    if p_twice | c_twice {
        Verdict::Invalid(Invalid::DuplicateField)
    } else {
        match (product, category) {
            (Some(p), Some(c)) => Verdict::Event(Found {
                category: string_at(b, close, c),
                product: string_at(b, close, p),
                escaped: false,
            }),
            _ => Verdict::Invalid(Invalid::MissingField),
        }
    }
}

/// Among the keys of `key_len` (7 or 8) bytes opening at the bits of `candidates`, the one
/// named `name` (its bytes, then the closing quote if shorter than 8): the position of its
/// value's opening quote, and whether it is there twice.
#[inline(always)]
fn find_key(
    b: &[u8],
    mut candidates: u128,
    key_len: usize,
    name: [u8; 8],
) -> (Option<usize>, bool) {
    let name = u64::from_le_bytes(name);
    let (mut found, mut twice) = (None, false);
    while candidates != 0 {
        let at = candidates.trailing_zeros() as usize;
        candidates &= candidates - 1;
        // The key's closing quote is `b[at + key_len + 1]` and a `:` and a value follow it,
        // so these 8 bytes are inside the value.
        let w = u64::from_le_bytes(b[at + 1..at + 9].try_into().unwrap());
        if w == name {
            twice |= found.is_some();
            // The key, its closing quote, `:`, then the value's opening quote.
            found = Some(at + key_len + 3);
        }
    }
    (found, twice)
}

/// The string whose opening quote is `b[at]`, given the closing quotes: with no backslash,
/// the next quote closes it.
#[inline(always)]
fn string_at(b: &[u8], close: u128, at: usize) -> &[u8] {
    let end = at + 1 + (close >> (at + 1)).trailing_zeros() as usize;
    &b[at + 1..end]
}

/// The walk from quote to quote over a value starting `{"`.
#[inline(always)]
fn walk(b: &[u8], mut quotes: Short) -> Verdict<Found<'_>> {
    walk_or_decline(b, &mut quotes).unwrap_or(Verdict::Declined)
}

/// [`walk`], `None` where it declines.
#[inline(always)]
fn walk_or_decline<'a>(b: &'a [u8], quotes: &mut Short) -> Option<Verdict<Found<'a>>> {
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
        Verdict::Invalid(Invalid::DuplicateField)
    } else if wrong_type {
        Verdict::Invalid(Invalid::WrongType)
    } else {
        match fields {
            [Some(product), Some(category)] => Verdict::Event(Found {
                category,
                product,
                escaped: false,
            }),
            _ => Verdict::Invalid(Invalid::MissingField),
        }
    })
}

/// Which of our two fields the key `b[start..end]` (no escapes) names. One 8-byte load
/// covers both names (a 7-byte key is followed by its closing quote) and the two tests
/// combine without branching on the key's length; values too short for the load take
/// [`field_of`].
#[inline]
pub(crate) fn field_at(b: &[u8], start: usize, end: usize) -> Option<usize> {
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
pub(crate) fn scalar(b: &[u8], mut i: usize) -> Option<usize> {
    let literal = |lit: &[u8]| (b.get(i..i + lit.len())? == lit).then_some(i + lit.len());
    match *b.get(i)? {
        b't' => return literal(b"true"),
        b'f' => return literal(b"false"),
        b'n' => return literal(b"null"),
        b'-' => i += 1,
        _ => {}
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => {
            let end = digits_end(b, i + 1);
            if end - i >= BIG_INTEGER_DIGITS {
                return None;
            }
            i = end;
        }
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits_end(b, i + 1);
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

/// The index of the first byte at or after `i` that is not an ASCII digit (or `b.len()`),
/// eight bytes at a time: timestamps and prices take one or two steps, not a byte loop.
#[inline(always)]
fn digits_end(b: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    while let Some(w) = b.get(i..i + 8) {
        // A byte is a digit when it XOR '0' is below 10; without the top bit, adding 0x76
        // sets it exactly for 10 and above, and no byte carries into the next.
        let t = u64::from_le_bytes(w.try_into().unwrap()) ^ (LO * u64::from(b'0'));
        let non_digit = (((t & (LO * 0x7F)) + LO * 0x76) | t) & (LO * 0x80);
        if non_digit != 0 {
            return i + (non_digit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// The classes of a value of at most two blocks, classified at once: bit `k` of a mask
/// stands for byte `k` of the value.
struct Short {
    /// Quotes not yet taken.
    mask: u128,
    colons: u128,
    commas: u128,
}

impl Short {
    /// `None` if the value holds an unusual byte.
    ///
    /// # Safety
    /// The CPU must have the features of `I`.
    #[inline(always)]
    unsafe fn new<I: Isa>(b: &[u8]) -> Option<Self> {
        // SAFETY: passed on from our caller.
        let lo = unsafe { classify_at::<I>(b, 0)? };
        let hi = if b.len() > BLOCK {
            // SAFETY: as above.
            unsafe { classify_at::<I>(b, BLOCK)? }
        } else {
            Classes::default()
        };
        let join = |lo: u64, hi: u64| u128::from(lo) | u128::from(hi) << BLOCK;
        Some(Short {
            mask: join(lo.quotes, hi.quotes),
            colons: join(lo.colons, hi.colons),
            commas: join(lo.commas, hi.commas),
        })
    }
}

impl Short {
    /// Take the next quote's position; `None` when there is none.
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

/// The classes of the block at `start` (the tail padded with spaces), or `None` if it holds
/// a backslash, a control character or a non-ASCII byte.
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
unsafe fn classify_at<I: Isa>(b: &[u8], start: usize) -> Option<Classes> {
    // SAFETY: passed on from our caller.
    let classify = |block: &[u8; BLOCK]| unsafe { I::classify(block) };
    let rest = &b[start..];
    let c = match rest.first_chunk::<BLOCK>() {
        Some(block) => classify(block),
        // The last, partial block of a long value: classify the 64 bytes that end the value
        // (the earlier ones were seen in the block before, and found usual) and shift them
        // out, with no copy.
        None if b.len() >= BLOCK => {
            classify(b[b.len() - BLOCK..].first_chunk().unwrap()).shr(BLOCK - rest.len())
        }
        None => {
            let mut block = [b' '; BLOCK];
            block[..rest.len()].copy_from_slice(rest);
            classify(&block)
        }
    };
    (!c.unusual).then_some(c)
}
