//! The event extractor: one validating pass over a record value, no allocation unless a
//! string holds escapes.
//!
//! A **valid event** is a value that is exactly one JSON object (whitespace around it allowed)
//! whose top-level `product` and `category` are strings. Everything else in it only has to be
//! valid JSON: other fields and nested objects are ignored (a nested `"product"` is not the
//! product). Keys and strings are compared after unescaping (`"\u00c9"` is `"É"`). Anything
//! else is invalid with one [`Invalid`] reason, chosen in this order when several apply:
//! tombstone, empty, bad_utf8, bad_json, not_object, duplicate_field, wrong_type,
//! missing_field — the whole value is scanned before deciding, so a duplicate key followed by
//! broken JSON is `bad_json`.
//!
//! serde_json is the reference for "valid JSON", including its two limits beyond the grammar:
//! nesting deeper than 127 containers is refused (its recursion limit), and so is a number whose
//! magnitude overflows an f64 (`1e400`; `1e-400` is fine, it rounds to zero). The job never
//! reads numbers, but a value is either JSON by the same rules everywhere in kbatch or it is not.

use std::borrow::Cow;

pub(crate) mod fast;

/// Why a record value is not a valid event (a fixed list; `as_str` gives the reported code).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invalid {
    /// Null value (a tombstone).
    Tombstone,
    /// Zero-length value.
    Empty,
    /// Not valid UTF-8.
    BadUtf8,
    /// Not valid JSON (including trailing bytes after the value).
    BadJson,
    /// Valid JSON, but not an object.
    NotObject,
    /// A second top-level `product` or `category`.
    DuplicateField,
    /// `product` or `category` is not a string.
    WrongType,
    /// `product` or `category` is absent.
    MissingField,
}

impl Invalid {
    /// The reason code reported in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Invalid::Tombstone => "tombstone",
            Invalid::Empty => "empty",
            Invalid::BadUtf8 => "bad_utf8",
            Invalid::BadJson => "bad_json",
            Invalid::NotObject => "not_object",
            Invalid::DuplicateField => "duplicate_field",
            Invalid::WrongType => "wrong_type",
            Invalid::MissingField => "missing_field",
        }
    }

    /// Every reason, in precedence order.
    pub const ALL: [Invalid; 8] = [
        Invalid::Tombstone,
        Invalid::Empty,
        Invalid::BadUtf8,
        Invalid::BadJson,
        Invalid::NotObject,
        Invalid::DuplicateField,
        Invalid::WrongType,
        Invalid::MissingField,
    ];
}

/// A valid event's fields, as unescaped UTF-8 bytes (borrowed when the JSON had no escapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The top-level `category`.
    pub category: Cow<'a, [u8]>,
    /// The top-level `product`.
    pub product: Cow<'a, [u8]>,
}

/// Containers that may be open at once, counting the top-level one: serde_json refuses the
/// 128th level (its `remaining_depth` of 128 reaches zero there), and so do we.
const MAX_DEPTH: usize = 127;

/// Integer digits from which a number may overflow an f64 (`f64::MAX` ≈ 1.8e308 has 309); below
/// this, and without an exponent, no number can, so the exact check is skipped.
const BIG_INTEGER_DIGITS: usize = 300;

/// Bytes that end the fast scan of a string: `"`, `\`, and control characters.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

struct Bad;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first byte at or after `i` that ends the fast scan of a string (`"`, `\`, or a
/// control character), or `b.len()`. Eight bytes at a time: the classic "has zero byte" /
/// "has byte less than" tricks, whose *lowest* flagged byte is exact.
#[inline]
fn find_stop(b: &[u8], mut i: usize) -> usize {
    while i + 8 <= b.len() {
        let x = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let quote = x ^ (LO * b'"' as u64);
        let slash = x ^ (LO * b'\\' as u64);
        let flags = (quote.wrapping_sub(LO) & !quote)
            | (slash.wrapping_sub(LO) & !slash)
            | (x.wrapping_sub(LO * 0x20) & !x);
        let flags = flags & HI;
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !STOP[b[i] as usize] {
        i += 1;
    }
    i
}

/// The containers open inside a skipped value, innermost last: one bit each (object = 1), so
/// skipping nested values never allocates. `MAX_DEPTH` < 128 keeps it within the `u128`.
#[derive(Default)]
struct Open {
    bits: u128,
    len: usize,
}

const _: () = assert!(MAX_DEPTH <= 128);

impl Open {
    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn push(&mut self, is_obj: bool) {
        self.bits = (self.bits << 1) | u128::from(is_obj);
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) {
        self.bits >>= 1;
        self.len -= 1;
    }

    #[inline]
    fn last(&self) -> Option<bool> {
        (self.len > 0).then_some(self.bits & 1 == 1)
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn ws(&mut self) {
        // Compact JSON has no whitespace: one comparison settles the common case.
        match self.b.get(self.i) {
            Some(&c) if c > b' ' => return,
            None => return,
            _ => {}
        }
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), Bad> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Bad)
        }
    }

    /// A string starting at `"`; returns its unescaped bytes (borrowed without escapes).
    #[inline]
    fn string(&mut self) -> Result<Cow<'a, [u8]>, Bad> {
        self.expect(b'"')?;
        let start = self.i;
        let b = self.b;
        let i = find_stop(b, start);
        match b.get(i) {
            Some(b'"') => {
                self.i = i + 1;
                Ok(Cow::Borrowed(&b[start..i]))
            }
            Some(b'\\') => {
                let mut out = b[start..i].to_vec();
                self.i = i;
                self.escaped_rest(&mut out)?;
                Ok(Cow::Owned(out))
            }
            _ => Err(Bad), // control character or end of input
        }
    }

    /// Continue a string at a backslash, unescaping into `out`, through the closing quote.
    fn escaped_rest(&mut self, out: &mut Vec<u8>) -> Result<(), Bad> {
        loop {
            let c = self.peek().ok_or(Bad)?;
            self.i += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => {
                    let e = self.peek().ok_or(Bad)?;
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let ch = self.unicode_escape()?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(Bad),
                    }
                }
                c if c < 0x20 => return Err(Bad),
                c => out.push(c),
            }
        }
    }

    /// The character of a `\uXXXX` escape (after the `u`), combining a surrogate pair; a lone
    /// surrogate is invalid JSON text, as serde_json holds.
    fn unicode_escape(&mut self) -> Result<char, Bad> {
        let hi = self.hex4()?;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                return Err(Bad);
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(Bad);
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..0xE000).contains(&hi) {
            return Err(Bad);
        } else {
            hi
        };
        char::from_u32(cp).ok_or(Bad)
    }

    fn hex4(&mut self) -> Result<u32, Bad> {
        let h = self.b.get(self.i..self.i + 4).ok_or(Bad)?;
        let mut v = 0u32;
        for &c in h {
            let d = (c as char).to_digit(16).ok_or(Bad)?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }

    /// An object key, as "which of our two fields is it" (unescaped only when it has escapes).
    #[inline]
    fn key(&mut self) -> Result<Option<usize>, Bad> {
        self.expect(b'"')?;
        let start = self.i;
        let i = find_stop(self.b, start);
        if self.b.get(i) == Some(&b'"') {
            self.i = i + 1;
            return Ok(field_of(&self.b[start..i]));
        }
        self.i = start - 1;
        Ok(field_of(&self.string()?))
    }

    /// Skip a string without unescaping (still validating escapes).
    fn skip_string(&mut self) -> Result<(), Bad> {
        self.expect(b'"')?;
        loop {
            let b = self.b;
            let i = find_stop(b, self.i);
            match b.get(i) {
                Some(b'"') => {
                    self.i = i + 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i = i + 1;
                    match self.peek().ok_or(Bad)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            self.i += 1;
                            self.unicode_escape()?;
                        }
                        _ => return Err(Bad),
                    }
                }
                _ => return Err(Bad),
            }
        }
    }

    fn number(&mut self) -> Result<(), Bad> {
        let b = self.b;
        let start = self.i;
        let digits = |s: &mut Self| {
            let st = s.i;
            while s.i < b.len() && b[s.i].is_ascii_digit() {
                s.i += 1;
            }
            s.i - st
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let mut may_overflow = match self.peek() {
            Some(b'0') => {
                self.i += 1;
                false
            }
            Some(b'1'..=b'9') => digits(self) >= BIG_INTEGER_DIGITS,
            _ => return Err(Bad),
        };
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(Bad);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(Bad);
            }
            may_overflow = true;
        }
        if may_overflow {
            // Rare in events (timestamps and prices have no exponent): ask serde_json's own
            // number parser, so the verdict at the edge of the f64 range (where a fast
            // algorithm and a correctly rounded one can disagree) is exactly the reference's.
            serde_json::from_slice::<f64>(&b[start..self.i]).map_err(|_| Bad)?;
        }
        Ok(())
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), Bad> {
        if self.b.get(self.i..self.i + lit.len()) == Some(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(Bad)
        }
    }

    /// Skip any JSON value (iteratively, with a depth limit: no recursion on hostile input).
    fn skip_value(&mut self, depth: usize) -> Result<(), Bad> {
        // Stack of open containers: true = object, false = array.
        let mut stack = Open::default();
        loop {
            self.ws();
            // Parse one value (scalars return to the container logic below).
            match self.peek().ok_or(Bad)? {
                b'{' => {
                    self.i += 1;
                    if depth + stack.len() + 1 > MAX_DEPTH {
                        return Err(Bad);
                    }
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    } else {
                        stack.push(true);
                        self.skip_string()?;
                        self.ws();
                        self.expect(b':')?;
                        continue;
                    }
                }
                b'[' => {
                    self.i += 1;
                    if depth + stack.len() + 1 > MAX_DEPTH {
                        return Err(Bad);
                    }
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                    } else {
                        stack.push(false);
                        continue;
                    }
                }
                b'"' => self.skip_string()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // After a complete value: close containers or move to the next element.
            loop {
                let Some(is_obj) = stack.last() else {
                    return Ok(());
                };
                self.ws();
                match self.peek().ok_or(Bad)? {
                    b',' => {
                        self.i += 1;
                        if is_obj {
                            self.ws();
                            self.skip_string()?;
                            self.ws();
                            self.expect(b':')?;
                        }
                        break;
                    }
                    b'}' if is_obj => {
                        self.i += 1;
                        stack.pop();
                    }
                    b']' if !is_obj => {
                        self.i += 1;
                        stack.pop();
                    }
                    _ => return Err(Bad),
                }
            }
        }
    }
}

/// Which of the two fields a key names.
#[inline]
fn field_of(key: &[u8]) -> Option<usize> {
    // Fixed-size comparisons compile to a load and a compare each, with no call to `memcmp`;
    // most keys are rejected by their length alone.
    match key.len() {
        7 => (<[u8; 7]>::try_from(key).ok()? == *b"product").then_some(0),
        8 => (<[u8; 8]>::try_from(key).ok()? == *b"category").then_some(1),
        _ => None,
    }
}

/// Classify one record value: the event, or why it is not one.
///
/// Two paths with one meaning: the fast path settles the common shape (a compact, flat, ASCII
/// object without escapes) in one pass that finds every quote sixteen bytes at a time; anything
/// it is not sure of goes to the general scanner, which handles all of JSON. Tests check that
/// whenever the fast path answers, the general scanner gives the same answer.
#[inline]
pub fn extract(value: Option<&[u8]>) -> Result<Event<'_>, Invalid> {
    let b = value.ok_or(Invalid::Tombstone)?;
    match fast::extract(b) {
        Some(verdict) => verdict.map(Event::from),
        None => extract_general(b),
    }
}

impl<'a> From<fast::Found<'a>> for Event<'a> {
    fn from(f: fast::Found<'a>) -> Self {
        Event {
            category: Cow::Borrowed(f.category),
            product: Cow::Borrowed(f.product),
        }
    }
}

/// [`extract`] for a stream of records: the same verdicts, faster when records share a
/// layout (same length, quotes in the same places, same keys), as one producer's events do.
/// It remembers two recent layouts per value length (about 20 KiB); see DESIGN.md, "A record
/// of a layout seen before is settled by comparison, not parsing".
#[derive(Debug, Clone, Default)]
pub struct Extractor {
    shapes: fast::Shapes,
}

impl Extractor {
    /// An extractor that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The event in `value`, exactly as [`extract`] finds it.
    pub fn extract<'a>(&mut self, value: Option<&'a [u8]>) -> Result<Event<'a>, Invalid> {
        let b = value.ok_or(Invalid::Tombstone)?;
        let mut event = |category, product| Event {
            category: Cow::Borrowed(category),
            product: Cow::Borrowed(product),
        };
        match fast::with_fields(b, &mut self.shapes, &mut event) {
            Some(verdict) => verdict,
            None => extract_general(b),
        }
    }

    /// The layout cache, for tests.
    #[cfg(test)]
    pub(crate) fn shapes(&self) -> &fast::Shapes {
        &self.shapes
    }

    /// [`Extractor::extract`] for the job: hands the value and the unescaped (category,
    /// product) to `found` without building an [`Event`] on the fast path. The strings usually
    /// lie inside the value (always on the fast path); unescaped copies do not.
    #[inline]
    pub(crate) fn with_event<R>(
        &mut self,
        value: Option<&[u8]>,
        mut found: impl FnMut(&[u8], &[u8], &[u8]) -> R,
    ) -> Result<R, Invalid> {
        let b = value.ok_or(Invalid::Tombstone)?;
        match fast::with_fields(b, &mut self.shapes, &mut |c, p| found(b, c, p)) {
            Some(verdict) => verdict,
            None => extract_general(b).map(|e| found(b, &e.category, &e.product)),
        }
    }
}

/// The general scanner: every JSON value, every reason, in precedence order.
pub(crate) fn extract_general(b: &[u8]) -> Result<Event<'_>, Invalid> {
    if b.is_empty() {
        return Err(Invalid::Empty);
    }
    if std::str::from_utf8(b).is_err() {
        return Err(Invalid::BadUtf8);
    }
    let mut s = Scanner { b, i: 0 };
    s.ws();
    if s.peek() != Some(b'{') {
        // Valid JSON that is not an object, or not JSON at all.
        return match s.skip_value(0).and_then(|()| {
            s.ws();
            if s.i == b.len() {
                Ok(())
            } else {
                Err(Bad)
            }
        }) {
            Ok(()) => Err(Invalid::NotObject),
            Err(Bad) => Err(Invalid::BadJson),
        };
    }
    let mut fields: [Option<Cow<'_, [u8]>>; 2] = [None, None];
    let mut seen = [false; 2];
    let mut duplicate = false;
    let mut wrong_type = false;
    let scanned: Result<(), Bad> = (|| {
        s.i += 1;
        s.ws();
        if s.peek() == Some(b'}') {
            s.i += 1;
            return Ok(());
        }
        loop {
            s.ws();
            let field = s.key()?;
            s.ws();
            s.expect(b':')?;
            s.ws();
            match field {
                Some(f) => {
                    if seen[f] {
                        duplicate = true;
                    }
                    seen[f] = true;
                    if s.peek() == Some(b'"') {
                        let v = s.string()?;
                        if fields[f].is_none() {
                            fields[f] = Some(v);
                        }
                    } else {
                        wrong_type = true;
                        s.skip_value(1)?;
                    }
                }
                // Most other members are strings or numbers: skip them without the container
                // machinery of `skip_value`.
                None => match s.peek() {
                    Some(b'"') => s.skip_string()?,
                    Some(b'-' | b'0'..=b'9') => s.number()?,
                    _ => s.skip_value(1)?,
                },
            }
            s.ws();
            match s.peek() {
                Some(b',') => s.i += 1,
                Some(b'}') => {
                    s.i += 1;
                    return Ok(());
                }
                _ => return Err(Bad),
            }
        }
    })();
    s.ws();
    if scanned.is_err() || s.i != b.len() {
        return Err(Invalid::BadJson);
    }
    if duplicate {
        return Err(Invalid::DuplicateField);
    }
    if wrong_type {
        return Err(Invalid::WrongType);
    }
    match fields {
        [Some(product), Some(category)] => Ok(Event { category, product }),
        _ => Err(Invalid::MissingField),
    }
}
