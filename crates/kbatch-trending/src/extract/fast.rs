//! The fast path of the extractor: tiers that settle the events producers actually write, each
//! exact, each free to decline (for the general scanner) what it is not sure of.
//!
//! * [`short`]: compact, flat ASCII objects of at most 128 bytes without escapes;
//! * [`structural`]: any other object, simdjson-style;
//! * [`cache`]: in front of both for the job, values of a layout seen before (65–128 bytes).
//!
//! The tiers are written once, generic over the instruction-set form ([`crate::extract::simd`]);
//! `extract::dispatch` chooses the form once per CPU. See `DESIGN.md`, section "The extractor".

pub(crate) mod cache;
pub(crate) mod isa;
pub(crate) mod masks;
pub(crate) mod paths;
pub(crate) mod short;
pub(crate) mod structural;

pub(crate) use cache::Shapes;

use std::borrow::Cow;

use super::general::unescape_at;
use super::Invalid;
use isa::Isa;

/// A valid event's fields as found: the bytes between each string's quotes in the value,
/// still escaped if `escaped` (only the structural tier answers for escaped fields). Plain
/// slices, so the hot path moves no `Cow`; [`Found::fields`] unescapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found<'a> {
    pub(crate) category: &'a [u8],
    pub(crate) product: &'a [u8],
    /// Either string holds an escape.
    pub(crate) escaped: bool,
}

/// (category, product), unescaped.
pub(crate) type Fields<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

impl<'a> Found<'a> {
    /// The fields of `b` (the value they were found in), unescaped where they have escapes;
    /// `None` only if a string is not one of `b`'s (which the tiers never answer).
    #[inline(always)]
    pub(crate) fn fields(self, b: &'a [u8]) -> Option<Fields<'a>> {
        if self.escaped {
            self.unescaped(b)
        } else {
            Some((Cow::Borrowed(self.category), Cow::Borrowed(self.product)))
        }
    }

    /// [`Found::fields`] for escaped strings (out of line: few events have them).
    #[cold]
    #[inline(never)]
    fn unescaped(self, b: &'a [u8]) -> Option<Fields<'a>> {
        // Each string's opening quote is the byte before its inside.
        let open = |inside: &[u8]| (inside.as_ptr() as usize).checked_sub(b.as_ptr() as usize + 1);
        Some((
            unescape_at(b, open(self.category)?)?,
            unescape_at(b, open(self.product)?)?,
        ))
    }
}

/// The fast path's answer on one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict<T> {
    /// A valid event; `T` is what was made of its fields.
    Event(T),
    /// Valid JSON, but not an event, for this reason.
    Invalid(Invalid),
    /// Not sure: the general scanner decides.
    Declined,
}

impl<T> Verdict<T> {
    /// The event (or reason), if the fast path decided.
    #[cfg(test)]
    pub(crate) fn decided(self) -> Option<Result<T, Invalid>> {
        match self {
            Verdict::Event(t) => Some(Ok(t)),
            Verdict::Invalid(why) => Some(Err(why)),
            Verdict::Declined => None,
        }
    }

    /// Whether a tier declined.
    #[inline]
    pub(crate) fn declined(&self) -> bool {
        matches!(self, Verdict::Declined)
    }
}

/// The fast path's tiers in order, in the form `I`.
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
pub(crate) unsafe fn extract_in<I: Isa>(b: &[u8]) -> Verdict<Found<'_>> {
    // SAFETY: passed on from our caller.
    let verdict = unsafe { short::extract::<I>(b) };
    if !verdict.declined() {
        return verdict;
    }
    // SAFETY: as above.
    unsafe { structural::extract::<I>(b) }
}

/// [`extract_in`] with a [`Shapes`] cache, handing the fields to `found`: a value of a layout
/// seen before is settled by [`Shapes::recall`]; others take the tiers (the form's out-of-line
/// entry point), and the short tier's accepted events teach the cache. `found` runs inside
/// the form's code, so the caller's work on the fields (the job's hash and probe) is compiled
/// into it, with no call between extraction and counting and no verdict passed through memory.
///
/// # Safety
/// The CPU must have the features of `I`.
#[inline(always)]
pub(crate) unsafe fn with_fields_in<'a, I: Isa, R, F: FnMut(Cow<'a, [u8]>, Cow<'a, [u8]>) -> R>(
    b: &'a [u8],
    shapes: &mut Shapes,
    found: &mut F,
) -> Verdict<R> {
    // SAFETY: passed on from our caller.
    // (A recalled layout has no escapes: the cache only learns values without them.)
    if let Some(f) = unsafe { shapes.recall::<I>(b) } {
        return Verdict::Event(found(Cow::Borrowed(f.category), Cow::Borrowed(f.product)));
    }
    // SAFETY: as above.
    match unsafe { I::extract(b) } {
        Verdict::Event(f) => {
            if cache::CACHED.contains(&b.len()) {
                shapes.learn(b, f);
            }
            match f.fields(b) {
                Some((category, product)) => Verdict::Event(found(category, product)),
                None => Verdict::Declined,
            }
        }
        Verdict::Invalid(why) => Verdict::Invalid(why),
        Verdict::Declined => Verdict::Declined,
    }
}
