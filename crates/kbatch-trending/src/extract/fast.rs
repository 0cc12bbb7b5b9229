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
///
/// On CPUs with AVX2 and carry-less multiplication (x86-64 since 2013) the same code runs
/// compiled for them: 32-byte classification and a one-instruction prefix XOR. The check is a
/// load of a cached flag; the static binary still runs on any x86-64.
#[inline]
pub(crate) fn extract(b: &[u8]) -> Option<Result<Found<'_>, Invalid>> {
    #[cfg(target_arch = "x86_64")]
    if wide_available() {
        // SAFETY: the CPU has the features `extract_wide` is compiled for (checked above).
        return unsafe { extract_wide(b) };
    }
    // SAFETY: the narrow form runs on every CPU.
    unsafe { extract_with::<false>(b) }
}

/// Whether this CPU has what [`extract_wide`] (and `WIDE` code generally) is compiled for:
/// detected once, then one load of a cached flag.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn wide_available() -> bool {
    use std::sync::atomic::Ordering;
    match WIDE.load(Ordering::Relaxed) {
        0 => detect_wide(),
        state => state == 2,
    }
}

/// [`wide_available`]'s answer: 0 not yet detected, 1 no, 2 yes.
#[cfg(target_arch = "x86_64")]
static WIDE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The detection behind [`wide_available`], once (out of line: the per-record check stays one
/// load and a compare).
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
fn detect_wide() -> bool {
    let yes = std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("popcnt");
    WIDE.store(1 + u8::from(yes), std::sync::atomic::Ordering::Relaxed);
    yes
}

/// Off x86-64 there is no `WIDE` code.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(crate) fn wide_available() -> bool {
    false
}

/// [`extract_with`] compiled for AVX2, PCLMULQDQ and BMI.
///
/// # Safety
/// The CPU must have those features ([`wide_available`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
pub(crate) unsafe fn extract_wide(b: &[u8]) -> Option<Result<Found<'_>, Invalid>> {
    // SAFETY: this function is compiled with the features, and its caller vouched for them.
    unsafe { extract_with::<true>(b) }
}

/// The fast path; `WIDE` selects the AVX2 and PCLMULQDQ forms of the classifier and prefix
/// XOR (inlined into [`extract_wide`], which is compiled for them).
///
/// # Safety
/// With `WIDE`, the CPU must have the features of [`extract_wide`] ([`wide_available`]).
#[inline(always)]
unsafe fn extract_with<const WIDE: bool>(b: &[u8]) -> Option<Result<Found<'_>, Invalid>> {
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
        let short = Short::new::<WIDE>(b)?;
        if let Some(verdict) = flat::<WIDE>(b, &short) {
            return Some(verdict);
        }
        walk(b, short)
    } else {
        walk(b, Quotes::new(b)?)
    }
}

/// Layouts kept per value length.
const WAYS: usize = 2;

/// Value lengths the cache handles: more than one block (a shorter value would need padding),
/// at most two.
const CACHED: std::ops::RangeInclusive<usize> = BLOCK + 1..=2 * BLOCK;

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
    /// With `WIDE`, the CPU must have the features of [`extract_wide`].
    #[inline(always)]
    unsafe fn recall<'a, const WIDE: bool>(&self, b: &'a [u8]) -> Option<Found<'a>> {
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
                unsafe { (scan::<WIDE>(lo, slo), scan::<WIDE>(hi, shi)) };
            let same = u128::from(same_lo) | u128::from(same_hi >> shift) << 64;
            let bad = u128::from(bad_lo) | u128::from(bad_hi >> shift) << 64;
            if (!same & s.must) | (bad & !s.must) == 0 {
                let field = |(at, len): (u8, u8)| {
                    b.get(usize::from(at)..usize::from(at) + usize::from(len))
                };
                return Some(Found {
                    category: field(s.fields[0])?,
                    product: field(s.fields[1])?,
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
    fn learn(&mut self, b: &[u8], f: Found<'_>) {
        let n = b.len();
        if !CACHED.contains(&n) {
            return;
        }
        let (lo, hi) = (
            classify_portable(b.first_chunk().unwrap()),
            classify_portable(b[n - BLOCK..].first_chunk().unwrap()),
        );
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

/// [`extract`] with a [`Shapes`] cache, handing the fields to `found`: a value of a layout
/// seen before is settled by [`Shapes::recall`]; others take the fast path, and its accepted
/// events teach the cache. `found` runs inside the form chosen for this CPU, so the caller's
/// work on the fields (the job's hash and probe) is compiled into it, with no call between
/// extraction and counting and no verdict passed through memory.
#[inline]
pub(crate) fn with_fields<'a, R, F: FnMut(&'a [u8], &'a [u8]) -> R>(
    b: &'a [u8],
    shapes: &mut Shapes,
    found: &mut F,
) -> Option<Result<R, Invalid>> {
    #[cfg(target_arch = "x86_64")]
    if wide_available() {
        // SAFETY: the CPU has the features `with_fields_wide` is compiled for (checked above).
        return unsafe { with_fields_wide(b, shapes, found) };
    }
    // SAFETY: the narrow form runs on every CPU.
    unsafe { with_fields_in::<false, R, F>(b, shapes, found) }
}

/// [`with_fields_in`] compiled for AVX2, PCLMULQDQ and BMI.
///
/// # Safety
/// The CPU must have those features ([`wide_available`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
unsafe fn with_fields_wide<'a, R, F: FnMut(&'a [u8], &'a [u8]) -> R>(
    b: &'a [u8],
    shapes: &mut Shapes,
    found: &mut F,
) -> Option<Result<R, Invalid>> {
    // SAFETY: this function is compiled with the features, and its caller vouched for them.
    unsafe { with_fields_in::<true, R, F>(b, shapes, found) }
}

/// # Safety
/// With `WIDE`, the CPU must have the features of [`extract_wide`] ([`wide_available`]).
#[inline(always)]
unsafe fn with_fields_in<'a, const WIDE: bool, R, F: FnMut(&'a [u8], &'a [u8]) -> R>(
    b: &'a [u8],
    shapes: &mut Shapes,
    found: &mut F,
) -> Option<Result<R, Invalid>> {
    // SAFETY: passed on from our caller.
    if let Some(f) = unsafe { shapes.recall::<WIDE>(b) } {
        return Some(Ok(found(f.category, f.product)));
    }
    // SAFETY: as above.
    match unsafe { missed::<WIDE>(b, shapes) } {
        Some(Ok(f)) => Some(Ok(found(f.category, f.product))),
        Some(Err(why)) => Some(Err(why)),
        None => None,
    }
}

/// A value no slot recalled: the fast path, and the layout of an accepted event learned. Out
/// of line, so the recall path around it keeps few registers to save.
///
/// # Safety
/// With `WIDE`, the CPU must have the features of [`extract_wide`] ([`wide_available`]).
#[inline(never)]
unsafe fn missed<'a, const WIDE: bool>(
    b: &'a [u8],
    shapes: &mut Shapes,
) -> Option<Result<Found<'a>, Invalid>> {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: passed on from our caller.
    let verdict = unsafe {
        if WIDE {
            extract_wide(b)
        } else {
            extract_with::<false>(b)
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: the narrow form runs on every CPU.
    let verdict = unsafe { extract_with::<false>(b) };
    if let Some(Ok(f)) = verdict {
        shapes.learn(b, f);
    }
    verdict
}

/// Bytes of `block` equal to `sample`'s (bit `k` for byte `k`), and bytes that may not stand
/// inside a recalled value string: quotes and unusual bytes (a backslash, a control character,
/// a non-ASCII byte).
///
/// # Safety
/// With `WIDE`, the CPU must have AVX2.
#[inline(always)]
unsafe fn scan<const WIDE: bool>(block: &[u8; BLOCK], sample: &[u8; BLOCK]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let (mut same, mut bad) = (0u64, 0u64);
        // SAFETY: unaligned loads within the blocks; AVX2 only with `WIDE` (our caller's
        // promise), SSE2 is part of x86-64.
        unsafe {
            if WIDE {
                for k in 0..2 {
                    let v = _mm256_loadu_si256(block[32 * k..].as_ptr().cast::<__m256i>());
                    let t = _mm256_loadu_si256(sample[32 * k..].as_ptr().cast::<__m256i>());
                    let eq = _mm256_cmpeq_epi8(v, t);
                    // Signed: 0x80..=0xFF are negative, so "< 0x20" also flags non-ASCII.
                    let no = _mm256_or_si256(
                        _mm256_or_si256(
                            _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8)),
                            _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)),
                        ),
                        _mm256_cmpgt_epi8(_mm256_set1_epi8(b' ' as i8), v),
                    );
                    same |= u64::from(_mm256_movemask_epi8(eq) as u32) << (32 * k);
                    bad |= u64::from(_mm256_movemask_epi8(no) as u32) << (32 * k);
                }
                return (same, bad);
            }
            for k in 0..4 {
                let v = _mm_loadu_si128(block[16 * k..].as_ptr().cast::<__m128i>());
                let t = _mm_loadu_si128(sample[16 * k..].as_ptr().cast::<__m128i>());
                let eq = _mm_cmpeq_epi8(v, t);
                let no = _mm_or_si128(
                    _mm_or_si128(
                        _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                        _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                    ),
                    _mm_cmplt_epi8(v, _mm_set1_epi8(b' ' as i8)),
                );
                same |= u64::from(_mm_movemask_epi8(eq) as u16) << (16 * k);
                bad |= u64::from(_mm_movemask_epi8(no) as u16) << (16 * k);
            }
            (same, bad)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    scan_portable(block, sample)
}

/// [`scan`] in plain Rust: the one used off x86-64, and the model tests hold the SSE2 and AVX2
/// forms to.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
pub(crate) fn scan_portable(block: &[u8; BLOCK], sample: &[u8; BLOCK]) -> (u64, u64) {
    let (mut same, mut bad) = (0u64, 0u64);
    for (k, (&byte, &want)) in block.iter().zip(sample).enumerate() {
        same |= u64::from(byte == want) << k;
        bad |= u64::from(byte == b'"' || unusual(byte)) << k;
    }
    (same, bad)
}

/// The quotes of a value, in order.
trait Pop {
    /// The next quote's position; `None` when there is none or a block on the way holds an
    /// unusual byte.
    fn pop(&mut self) -> Option<usize>;
}

/// Each bit set from a set bit of `x` up to (not including) the next one, and so on: bit `k`
/// is the parity of the set bits of `x` at or below `k`.
#[inline(always)]
fn prefix_xor<const WIDE: bool>(x: u128) -> u128 {
    #[cfg(target_arch = "x86_64")]
    if WIDE {
        // A carry-less multiply by all ones XORs every lower bit into each bit: one
        // instruction per 64-bit half, the high half then flipped by the low half's parity.
        use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x};
        // SAFETY: `WIDE` is only chosen by `extract_wide`, compiled with PCLMULQDQ.
        let half = |h: u64| unsafe {
            let v = _mm_set_epi64x(-1, h as i64);
            _mm_cvtsi128_si64(_mm_clmulepi64_si128(v, v, 0x10)) as u64
        };
        let lo = half(x as u64);
        let hi = half((x >> 64) as u64) ^ ((lo as i64 >> 63) as u64);
        return u128::from(lo) | u128::from(hi) << 64;
    }
    let mut x = x;
    let mut shift = 1;
    while shift < 128 {
        x ^= x << shift;
        shift <<= 1;
    }
    x
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
#[inline(always)]
pub(crate) fn flat<'a, const WIDE: bool>(
    b: &'a [u8],
    m: &Short,
) -> Option<Result<Found<'a>, Invalid>> {
    let n = b.len();
    // The caller checked `{` and that the value is no bare `{}`; `n` ≤ 128.
    if n < 2 || b[n - 1] != b'}' {
        return None;
    }
    // Bit `n - 2` (the last quote), and from it the last byte and the value's bits.
    let last_quote = 1u128 << (n - 2);
    let last = last_quote << 1;
    let len = (last << 1).wrapping_sub(1);
    let quotes = m.mask;
    let strings = prefix_xor::<WIDE>(quotes); // an opening quote and its string's bytes
    let open = quotes & strings;
    let close = quotes & !strings;
    let outside = len & !(strings | quotes);
    let colons = m.colons & outside;
    let commas = m.commas & outside;
    let seps = colons | commas;
    let keys = prefix_xor::<WIDE>(seps); // from each odd separator up to the next one
    let shape = (outside == seps | 1 | last)
        & (open == seps << 1 | 2)
        & (close == seps >> 1 | last_quote)
        & (seps & keys == colons)
        & (keys & last != 0);
    if !shape {
        return None;
    }
    let key_ends = close & colons >> 1;
    let (product, p_twice) = find_key(b, open & key_ends >> 8, 7, *b"product\"");
    let (category, c_twice) = find_key(b, open & key_ends >> 9, 8, *b"category");
    Some(if p_twice | c_twice {
        Err(Invalid::DuplicateField)
    } else {
        match (product, category) {
            (Some(p), Some(c)) => Ok(Found {
                category: string_at(b, close, c),
                product: string_at(b, close, p),
            }),
            _ => Err(Invalid::MissingField),
        }
    })
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
        let mask = classify_at::<false>(b, 0)?.quotes;
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
            self.mask = classify_at::<false>(self.b, self.start)?.quotes;
        }
        let at = self.start + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// The classes of a value of at most two blocks, classified at once: bit `k` of a mask
/// stands for byte `k` of the value.
pub(crate) struct Short {
    /// Quotes not yet taken.
    mask: u128,
    colons: u128,
    commas: u128,
}

impl Short {
    /// `None` if the value holds an unusual byte.
    #[inline(always)]
    fn new<const WIDE: bool>(b: &[u8]) -> Option<Self> {
        let lo = classify_at::<WIDE>(b, 0)?;
        let hi = if b.len() > BLOCK {
            classify_at::<WIDE>(b, BLOCK)?
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

/// Bit `k` of each mask stands for byte `k` of a block.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Classes {
    pub(crate) quotes: u64,
    pub(crate) colons: u64,
    pub(crate) commas: u64,
    /// The block holds a backslash, a control character or a non-ASCII byte.
    pub(crate) unusual: bool,
}

impl Classes {
    fn shr(self, n: usize) -> Classes {
        Classes {
            quotes: self.quotes >> n,
            colons: self.colons >> n,
            commas: self.commas >> n,
            unusual: self.unusual,
        }
    }
}

/// The classes of the block at `start` (the tail padded with spaces), or `None` if it holds
/// a backslash, a control character or a non-ASCII byte.
#[inline(always)]
fn classify_at<const WIDE: bool>(b: &[u8], start: usize) -> Option<Classes> {
    let classify = |block: &[u8; BLOCK]| {
        #[cfg(target_arch = "x86_64")]
        if WIDE {
            // SAFETY: `WIDE` is only chosen by `extract_wide`, compiled with AVX2.
            return unsafe { classify_wide(block) };
        }
        classify(block)
    };
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

/// The classes of one block, with SSE2 (part of every x86-64).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn classify(block: &[u8; BLOCK]) -> Classes {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut c = Classes::default();
    let mut unusual = 0i32;
    // SAFETY: SSE2 is enabled for this build (the cfg above), and each load reads the 16
    // bytes of one `chunks_exact(16)` lane, with no alignment requirement.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let colon = _mm_set1_epi8(b':' as i8);
        let comma = _mm_set1_epi8(b',' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let space = _mm_set1_epi8(b' ' as i8);
        for (k, lane) in block.chunks_exact(16).enumerate() {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            let bits =
                |class| u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, class)) as u16) << (16 * k);
            c.quotes |= bits(quote);
            c.colons |= bits(colon);
            c.commas |= bits(comma);
            // Signed compare: bytes 0x80..=0xFF are negative, so "< 0x20" also flags non-ASCII.
            unusual |= _mm_movemask_epi8(_mm_or_si128(
                _mm_cmpeq_epi8(v, backslash),
                _mm_cmplt_epi8(v, space),
            ));
        }
    }
    c.unusual = unusual != 0;
    c
}

/// The classes of one block, with AVX2: two 32-byte lanes.
///
/// # Safety
/// The CPU must have AVX2; only code compiled for it (`extract_wide`) calls this, so it
/// inlines there.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn classify_wide(block: &[u8; BLOCK]) -> Classes {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };
    let mut c = Classes::default();
    let mut unusual = 0i32;
    // SAFETY: each load reads the 32 bytes of one `chunks_exact(32)` lane, with no alignment
    // requirement; the caller guarantees AVX2.
    unsafe {
        let quote = _mm256_set1_epi8(b'"' as i8);
        let colon = _mm256_set1_epi8(b':' as i8);
        let comma = _mm256_set1_epi8(b',' as i8);
        let backslash = _mm256_set1_epi8(b'\\' as i8);
        let space = _mm256_set1_epi8(b' ' as i8);
        for (k, lane) in block.chunks_exact(32).enumerate() {
            let v = _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>());
            let bits = |class| {
                u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, class)) as u32) << (32 * k)
            };
            c.quotes |= bits(quote);
            c.colons |= bits(colon);
            c.commas |= bits(comma);
            // Signed compare: bytes 0x80..=0xFF are negative, so "< 0x20" also flags non-ASCII.
            unusual |= _mm256_movemask_epi8(_mm256_or_si256(
                _mm256_cmpeq_epi8(v, backslash),
                _mm256_cmpgt_epi8(space, v),
            ));
        }
    }
    c.unusual = unusual != 0;
    c
}

/// The classes of one block, portably.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
fn classify(block: &[u8; BLOCK]) -> Classes {
    classify_portable(block)
}

/// A byte the fast path does not take inside a string: a backslash (an escape follows), a
/// control character (JSON requires it escaped) or a non-ASCII byte (UTF-8 is the general
/// scanner's to check). The one definition both portable models use, so the vector forms
/// tested against them are tested against the same rule.
fn unusual(byte: u8) -> bool {
    byte == b'\\' || !(b' '..0x80).contains(&byte)
}

/// The classifier in plain Rust: the one used off x86-64, and the model tests hold SSE2 to.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    allow(dead_code)
)]
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

/// The flat tier's verdict alone, for tests.
///
/// # Safety
/// With `WIDE`, the CPU must have the features of [`extract_wide`] ([`wide_available`]).
#[cfg(test)]
pub(crate) unsafe fn flat_only<const WIDE: bool>(b: &[u8]) -> Option<Result<Found<'_>, Invalid>> {
    if b.first() != Some(&b'{') || b.get(1) == Some(&b'}') || b.len() > 2 * BLOCK {
        return None;
    }
    flat::<WIDE>(b, &Short::new::<WIDE>(b)?)
}

impl Shapes {
    /// [`Shapes::recall`] alone, in the form this CPU dispatches to, for tests.
    #[cfg(test)]
    pub(crate) fn recall_for_test<'a>(&self, b: &'a [u8]) -> Option<Found<'a>> {
        #[cfg(target_arch = "x86_64")]
        if wide_available() {
            // SAFETY: the CPU has the features (checked just above).
            return unsafe { recall_wide(self, b) };
        }
        // SAFETY: the narrow form runs on every CPU.
        unsafe { self.recall::<false>(b) }
    }

    /// The narrow (SSE2) form of [`Shapes::recall`], for tests.
    #[cfg(test)]
    pub(crate) fn recall_narrow<'a>(&self, b: &'a [u8]) -> Option<Found<'a>> {
        // SAFETY: the narrow form runs on every CPU.
        unsafe { self.recall::<false>(b) }
    }
}

/// [`Shapes::recall`] compiled for AVX2, for tests.
///
/// # Safety
/// The CPU must have AVX2 ([`wide_available`]).
#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
unsafe fn recall_wide<'a>(shapes: &Shapes, b: &'a [u8]) -> Option<Found<'a>> {
    // SAFETY: compiled with the features; the caller vouched for them.
    unsafe { shapes.recall::<true>(b) }
}

/// [`scan`] in the SSE2 form and, where the CPU has it, the AVX2 form, for tests.
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) fn scan_forms(block: &[u8; BLOCK], sample: &[u8; BLOCK]) -> Vec<(u64, u64)> {
    // SAFETY: the narrow form runs on every CPU.
    let mut forms = vec![unsafe { scan::<false>(block, sample) }];
    if wide_available() {
        // SAFETY: the CPU has the features (checked just above).
        forms.push(unsafe { scan_wide(block, sample) });
    }
    forms
}

/// [`scan`] compiled for AVX2, for tests.
///
/// # Safety
/// The CPU must have AVX2 ([`wide_available`]).
#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2,popcnt")]
unsafe fn scan_wide(block: &[u8; BLOCK], sample: &[u8; BLOCK]) -> (u64, u64) {
    // SAFETY: compiled with the features; the caller vouched for them.
    unsafe { scan::<true>(block, sample) }
}

/// The fast path as the CPUs without AVX2 run it, for tests.
#[cfg(test)]
pub(crate) fn extract_narrow(b: &[u8]) -> Option<Result<Found<'_>, Invalid>> {
    // SAFETY: the narrow form runs on every CPU.
    unsafe { extract_with::<false>(b) }
}

/// The AVX2 classifier, for tests.
///
/// # Safety
/// The CPU must have AVX2 ([`wide_available`]).
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) unsafe fn classify_wide_native(block: &[u8; BLOCK]) -> Classes {
    // SAFETY: passed on from our caller.
    unsafe { classify_wide(block) }
}

/// The classifier this build uses, for tests.
#[cfg(test)]
pub(crate) fn classify_native(block: &[u8; BLOCK]) -> Classes {
    classify(block)
}
