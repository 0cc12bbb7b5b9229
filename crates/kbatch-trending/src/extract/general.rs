//! The general scanner: every JSON value, every reason, in precedence order, one byte (or one
//! eight-byte word inside strings) at a time. It is the reference the fast path's tiers are
//! held to, and it settles whatever they decline: invalid UTF-8 or JSON, exponents, escaped
//! keys, nesting deeper than they follow.

use std::borrow::Cow;

use super::{field_of, Event, Invalid, Open, BIG_INTEGER_DIGITS, MAX_DEPTH};

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

pub(crate) struct Bad;

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

pub(crate) struct Scanner<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    pub(crate) fn ws(&mut self) {
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
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    pub(crate) fn expect(&mut self, c: u8) -> Result<(), Bad> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Bad)
        }
    }

    /// A string starting at `"`; returns its unescaped bytes (borrowed without escapes).
    #[inline]
    pub(crate) fn string(&mut self) -> Result<Cow<'a, [u8]>, Bad> {
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
    pub(crate) fn skip_string(&mut self) -> Result<(), Bad> {
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

    pub(crate) fn number(&mut self) -> Result<(), Bad> {
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

    pub(crate) fn literal(&mut self, lit: &[u8]) -> Result<(), Bad> {
        if self.b.get(self.i..self.i + lit.len()) == Some(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(Bad)
        }
    }

    /// Skip any JSON value (iteratively, with a depth limit: no recursion on hostile input).
    pub(crate) fn skip_value(&mut self, depth: usize) -> Result<(), Bad> {
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

/// The string whose opening quote is `b[open]`, unescaped (borrowed when it has no escape);
/// `None` if it is not a valid JSON string. The structural tier's unescaping of keys and
/// fields, so both paths unescape with the same code.
pub(crate) fn unescape_at(b: &[u8], open: usize) -> Option<Cow<'_, [u8]>> {
    Scanner { b, i: open }.string().ok()
}

/// The verdicts every value gets before its object is read: empty, not UTF-8, and valid JSON
/// that is not an object (or not JSON at all). A scanner at the opening brace otherwise.
pub(crate) fn open_object(b: &[u8]) -> Result<Scanner<'_>, Invalid> {
    if b.is_empty() {
        return Err(Invalid::Empty);
    }
    if std::str::from_utf8(b).is_err() {
        return Err(Invalid::BadUtf8);
    }
    let mut s = Scanner { b, i: 0 };
    s.ws();
    if s.peek() != Some(b'{') {
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
    Ok(s)
}

/// The general scanner: every JSON value, every reason, in precedence order.
pub(crate) fn extract_general(b: &[u8]) -> Result<Event<'_>, Invalid> {
    let mut s = open_object(b)?;
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
