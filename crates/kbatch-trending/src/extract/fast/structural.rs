//! The structural tier, for every object the short tier declines (values longer than two
//! blocks, nesting, whitespace, UTF-8 text, escaped strings), simdjson-style and exact: stage 1
//! turns each 64-byte block into masks of strings and structural bytes ([`Blocks::fill`]),
//! stage 2 walks the tokens ([`object`]; nested values in [`nested`]). It declines whatever it
//! is not sure of (invalid UTF-8 or JSON, exponents, very long integers, nesting beyond
//! serde_json's limit) to the general scanner.
//!
//! How the stages work, and why: see `DESIGN.md`, section "The extractor".

use std::marker::PhantomData;

use super::isa::Isa;
use super::masks::{Raw, BLOCK};
use super::short::scalar;
use super::{Found, Verdict};
use crate::extract::general::unescape_at;
use crate::extract::{field_of, Invalid, Open, MAX_DEPTH};

/// The structural tier's verdict on `b`.
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
pub(crate) unsafe fn extract<I: Isa>(b: &[u8]) -> Verdict<Found<'_>> {
    let mut blocks = Blocks::<I>::new(b);
    // SAFETY: passed on from our caller.
    unsafe { object(&mut blocks) }.unwrap_or(Verdict::Declined)
}

/// Stage 1 over a value, one block at a time as stage 2 asks for tokens, with the carries
/// from block to block.
pub(crate) struct Blocks<'a, I> {
    b: &'a [u8],
    /// Start of the block whose tokens are being taken.
    start: usize,
    /// Start of the next block to classify.
    next: usize,
    /// Tokens of the current block not yet taken.
    tokens: u64,
    /// Closing quotes of the current block (not tokens: a field's end is looked up here).
    closing: u64,
    /// Escaping backslashes of the current block.
    escapes: u64,
    /// Escaping backslashes in the blocks before it.
    escapes_before: u32,
    /// Some block so far had an escaping backslash (most values have none: one test).
    any_escape: bool,
    /// All ones if the block before ended inside a string.
    in_string: u64,
    /// The block before ended with an escaping backslash.
    escaped: bool,
    /// The block before ended with a byte of a number or literal.
    scalar: bool,
    /// The second backslash of a surrogate pair checked with the first.
    pair_at: usize,
    /// The first and last non-ASCII byte.
    pub(crate) high: Option<(usize, usize)>,
    /// A block held something stage 1 declines.
    pub(crate) failed: bool,
    isa: PhantomData<I>,
}

impl<'a, I: Isa> Blocks<'a, I> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Blocks {
            b,
            start: 0,
            next: 0,
            tokens: 0,
            closing: 0,
            escapes: 0,
            escapes_before: 0,
            any_escape: false,
            in_string: 0,
            escaped: false,
            scalar: false,
            pair_at: usize::MAX,
            high: None,
            failed: false,
            isa: PhantomData,
        }
    }

    /// The next token's position; `None` at the end of the value or when a block fails.
    ///
    /// # Safety
    /// The CPU must have the features of `I`.
    #[inline(always)]
    pub(crate) unsafe fn pop(&mut self) -> Option<usize> {
        while self.tokens == 0 {
            // SAFETY: passed on from our caller.
            if !unsafe { self.fill() } {
                return None;
            }
        }
        let at = self.start + self.tokens.trailing_zeros() as usize;
        self.tokens &= self.tokens - 1;
        Some(at)
    }

    /// Escaping backslashes before `at`, a position in the current block: two equal counts
    /// around a string mean it has no escape.
    #[inline(always)]
    pub(crate) fn escapes_upto(&self, at: usize) -> u32 {
        if !self.any_escape {
            // No escape so far (most events have none): no mask to count.
            return 0;
        }
        let below = (1u64 << (at - self.start)) - 1;
        self.escapes_before + (self.escapes & below).count_ones()
    }

    /// Classify the next block; `false` at the end of the value or when it fails.
    ///
    /// # Safety
    /// The CPU must have the features of `I`.
    #[inline(always)]
    unsafe fn fill(&mut self) -> bool {
        let b = self.b;
        let n = b.len();
        if self.next >= n || self.failed {
            return false;
        }
        let start = self.next;
        let rest = n - start;
        let raw: Raw = match b[start..].first_chunk::<BLOCK>() {
            // SAFETY: the CPU has the features of `I`, as our caller promised.
            Some(block) => unsafe { I::raw(block) },
            // The last, partial block of a long value: the 64 bytes that end the value,
            // shifted so that bit 0 is `b[start]` (bytes are classified one by one, so the
            // masks of the bytes already seen simply fall off).
            None if n >= BLOCK => {
                // SAFETY: the CPU has the features of `I`, as our caller promised.
                unsafe { I::raw(b[n - BLOCK..].first_chunk().unwrap()) }.shr(BLOCK - rest)
            }
            None => {
                let mut block = [b' '; BLOCK];
                block[..rest].copy_from_slice(&b[start..]);
                // SAFETY: the CPU has the features of `I`, as our caller promised.
                unsafe { I::raw(&block) }
            }
        };
        let valid = if rest >= BLOCK {
            u64::MAX
        } else {
            (1u64 << rest) - 1
        };
        let (escapes, escaped) = if raw.backslash == 0 && !self.escaped {
            (0, 0)
        } else {
            match self.escapes_of(raw.backslash, start) {
                Some(e) => e,
                None => return self.fail(),
            }
        };
        let quotes = raw.quote & !escaped;
        // Opening quotes and the insides of strings.
        // SAFETY: passed on from our caller.
        let strings = unsafe { I::prefix_xor(quotes) } ^ self.in_string;
        self.in_string = ((strings as i64) >> 63) as u64;
        if (raw.control & strings) | (escapes & !strings) != 0 {
            // A raw control byte in a string, or a backslash outside one.
            return self.fail();
        }
        let outside = !(strings | quotes) & valid;
        let other = outside & !(raw.op | raw.ws);
        let scalar_starts = other & !(other << 1 | u64::from(self.scalar));
        self.scalar = other >> 63 != 0;
        if raw.high != 0 {
            let first = start + raw.high.trailing_zeros() as usize;
            let last = start + 63 - raw.high.leading_zeros() as usize;
            self.high = Some((self.high.map_or(first, |(f, _)| f), last));
        }
        // Opening quotes only: a string's end is found from its start when it is needed.
        self.tokens = (raw.op & outside) | (quotes & strings) | scalar_starts;
        self.closing = quotes & !strings;
        self.escapes_before += self.escapes.count_ones();
        self.escapes = escapes;
        self.any_escape |= escapes != 0;
        self.start = start;
        self.next = start + BLOCK;
        true
    }

    /// The closing quote of the string opening at `open` (the token just taken, so in the
    /// current block), and whether the string has an escape: from the block's masks, without
    /// a loop whose length is the string's (its exit is a branch the predictor misses when
    /// fields vary in length); a byte loop only for a string that leaves the block.
    #[inline(always)]
    pub(crate) fn string_end(&self, open: usize) -> Option<(usize, bool)> {
        let k = open - self.start;
        // Bit `j`: byte `open + 1 + j` (two shifts: `k` may be 63).
        let after = |mask: u64| mask >> k >> 1;
        let closing = after(self.closing);
        if closing == 0 {
            return string_end(self.b, open);
        }
        let len = closing.trailing_zeros();
        let escaped = after(self.escapes) & ((1u64 << len) - 1) != 0;
        Some((open + 1 + len as usize, escaped))
    }

    #[cold]
    fn fail(&mut self) -> bool {
        self.failed = true;
        false
    }

    /// The escaping backslashes of a block with backslashes at `backslash` (bit `k` is
    /// `b[start + k]`), and the bytes they escape; each escape checked to be one of JSON's.
    /// Bit by bit: the first backslash of a run escapes the next byte, which may be the next
    /// backslash. `None` for an escape JSON does not have.
    #[inline(never)]
    fn escapes_of(&mut self, mut backslash: u64, start: usize) -> Option<(u64, u64)> {
        let (mut escapes, mut escaped) = (0u64, 0u64);
        if self.escaped {
            escaped = 1;
            backslash &= !1;
            self.escaped = false;
        }
        while backslash != 0 {
            let k = backslash.trailing_zeros();
            backslash &= backslash - 1;
            escapes |= 1 << k;
            if k == 63 {
                self.escaped = true;
            } else {
                escaped |= 2 << k;
                backslash &= !(2 << k);
            }
            self.check_escape(start + k as usize)?;
        }
        Some((escapes, escaped))
    }

    /// Whether the escape at `b[at]` is one of JSON's: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`,
    /// `\t`, or `\u` with four hex digits naming no lone surrogate (serde_json refuses those).
    fn check_escape(&mut self, at: usize) -> Option<()> {
        let b = self.b;
        if at == self.pair_at {
            return Some(());
        }
        match *b.get(at + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                let hi = hex4(b, at + 2)?;
                if (0xD800..0xDC00).contains(&hi) {
                    if b.get(at + 6..at + 8)? != b"\\u"
                        || !(0xDC00..0xE000).contains(&hex4(b, at + 8)?)
                    {
                        return None;
                    }
                    self.pair_at = at + 6;
                    Some(())
                } else {
                    (!(0xDC00..0xE000).contains(&hi)).then_some(())
                }
            }
            _ => None,
        }
    }
}

/// The four hex digits at `b[at..]`.
fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let mut v = 0;
    for &c in b.get(at..at + 4)? {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// A number or literal starting at `b[at]` and ending where its run of bytes does.
#[inline(always)]
pub(crate) fn scalar_at(b: &[u8], at: usize) -> Option<()> {
    let end = scalar(b, at)?;
    match b.get(end) {
        None => Some(()),
        Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'{' | b'}' | b'[' | b']' | b'"') => {
            Some(())
        }
        _ => None,
    }
}

/// Stage 2: the value as one object, its two fields read at depth 1; `None` where the tier
/// declines.
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
unsafe fn object<'a, I: Isa>(s: &mut Blocks<'a, I>) -> Option<Verdict<Found<'a>>> {
    let b = s.b;
    let mut fields: [Option<&'a [u8]>; 2] = [None, None];
    // Whether the kept field's string holds an escape.
    let mut escaped = [false; 2];
    let mut seen = [false; 2];
    let (mut duplicate, mut wrong_type) = (false, false);
    // SAFETY: the CPU has the features of `I`, as our caller promised.
    if b[unsafe { s.pop()? }] != b'{' {
        return None;
    }
    // SAFETY: the CPU has the features of `I`, as our caller promised.
    let mut t = unsafe { s.pop()? };
    if b[t] != b'}' {
        loop {
            if b[t] != b'"' {
                return None;
            }
            // The token after a key is the colon: only whitespace may follow its closing
            // quote, which is not a token.
            let before = s.escapes_upto(t);
            // SAFETY: the CPU has the features of `I`, as our caller promised.
            let colon = unsafe { s.pop()? };
            if b[colon] != b':' {
                return None;
            }
            let field = if s.escapes_upto(colon) != before {
                // An escaped key: only its unescaped form can be compared.
                escaped_key(b, t)?
            } else {
                key_field(b, t)
            };
            // SAFETY: the CPU has the features of `I`, as our caller promised.
            let v = unsafe { s.pop()? };
            match b[v] {
                b'"' => {
                    if let Some(f) = field {
                        if fields[f].is_none() {
                            let (end, has_escape) = s.string_end(v)?;
                            fields[f] = Some(&b[v + 1..end]);
                            escaped[f] = has_escape;
                        }
                    }
                }
                b'{' | b'[' => {
                    wrong_type |= field.is_some();
                    // SAFETY: the CPU has the features of `I`, as our caller promised.
                    unsafe { nested(s, v, 1)? };
                }
                _ => {
                    wrong_type |= field.is_some();
                    scalar_at(b, v)?;
                }
            }
            if let Some(f) = field {
                duplicate |= seen[f];
                seen[f] = true;
            }
            // SAFETY: the CPU has the features of `I`, as our caller promised.
            match b[unsafe { s.pop()? }] {
                // SAFETY: the CPU has the features of `I`, as our caller promised.
                b',' => t = unsafe { s.pop()? },
                b'}' => break,
                _ => return None,
            }
        }
    }
    // Nothing but whitespace after the object, every block clean, the text valid UTF-8.
    // SAFETY: the CPU has the features of `I`, as our caller promised.
    if unsafe { s.pop() }.is_some() || s.failed {
        return None;
    }
    if let Some((first, last)) = s.high {
        std::str::from_utf8(&b[first..=last]).ok()?;
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
                escaped: escaped[0] | escaped[1],
            }),
            _ => Verdict::Invalid(Invalid::MissingField),
        }
    })
}

/// Which of our two fields the key opening at `b[open]` names, when it has no escape: the key
/// is `product` exactly when `product"` follows its opening quote (that quote follows a
/// letter, so it is not escaped: it closes the key), and likewise `category"`; one 8-byte
/// compare each, and the key's end is never looked for.
#[inline(always)]
fn key_field(b: &[u8], open: usize) -> Option<usize> {
    const PRODUCT: u64 = u64::from_le_bytes(*b"product\"");
    const CATEGORY: u64 = u64::from_le_bytes(*b"category");
    let Some(w) = b.get(open + 1..open + 10) else {
        // Near the end of the value: the slow way.
        let (end, _) = string_end(b, open)?;
        return field_of(&b[open + 1..end]);
    };
    let word = u64::from_le_bytes(w[..8].try_into().unwrap());
    if word == PRODUCT {
        Some(0)
    } else if word == CATEGORY && w[8] == b'"' {
        Some(1)
    } else {
        None
    }
}

/// The closing quote of the string opening at `b[open]`, and whether it has an escape, by a
/// byte loop: for a field that leaves its block ([`Blocks::string_end`] reads the others from
/// the block's mask) and a key near the value's end. The escapes themselves are checked by
/// stage 1.
#[inline]
fn string_end(b: &[u8], open: usize) -> Option<(usize, bool)> {
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        match *b.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => i += 1,
        }
    }
}

/// Which of our fields the escaped key opening at `b[open]` names, once unescaped.
#[cold]
#[inline(never)]
fn escaped_key(b: &[u8], open: usize) -> Option<Option<usize>> {
    Some(field_of(&unescape_at(b, open)?))
}

/// Cross the object or array opening at `b[open]` (a value inside `outer` open containers:
/// 1 for a member of the top-level object), token by token, checking its grammar and
/// serde_json's depth limit; `None` where the tier declines.
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
pub(crate) unsafe fn nested<I: Isa>(
    s: &mut Blocks<'_, I>,
    open: usize,
    outer: usize,
) -> Option<()> {
    let b = s.b;
    let mut stack = Open::default();
    stack.push(b[open] == b'{');
    if outer + stack.len() > MAX_DEPTH {
        return None;
    }
    // SAFETY: the CPU has the features of `I`, as our caller promised.
    let mut t = unsafe { s.pop()? };
    let mut just_opened = true;
    loop {
        let is_obj = stack.last()?;
        if just_opened && b[t] == if is_obj { b'}' } else { b']' } {
            stack.pop();
        } else {
            if is_obj {
                // A key (its opening quote), then the colon.
                // SAFETY: the CPU has the features of `I`, as our caller promised.
                if b[t] != b'"' || b[unsafe { s.pop()? }] != b':' {
                    return None;
                }
                // SAFETY: the CPU has the features of `I`, as our caller promised.
                t = unsafe { s.pop()? };
            }
            match b[t] {
                // A string: its opening quote is its only token.
                b'"' => {}
                b'{' | b'[' => {
                    stack.push(b[t] == b'{');
                    // The containers around it count.
                    if outer + stack.len() > MAX_DEPTH {
                        return None;
                    }
                    // SAFETY: the CPU has the features of `I`, as our caller promised.
                    t = unsafe { s.pop()? };
                    just_opened = true;
                    continue;
                }
                _ => scalar_at(b, t)?,
            }
        }
        // After a value: close containers, or go on to the next element.
        loop {
            let Some(is_obj) = stack.last() else {
                return Some(());
            };
            // SAFETY: the CPU has the features of `I`, as our caller promised.
            match b[unsafe { s.pop()? }] {
                b',' => {
                    // SAFETY: the CPU has the features of `I`, as our caller promised.
                    t = unsafe { s.pop()? };
                    just_opened = false;
                    break;
                }
                b'}' if is_obj => stack.pop(),
                b']' if !is_obj => stack.pop(),
                _ => return None,
            }
        }
    }
}
