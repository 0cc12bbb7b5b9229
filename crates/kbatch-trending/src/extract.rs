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
//!
//! Design and invariants: see `DESIGN.md`, section "The extractor".

use std::borrow::Cow;

pub(crate) mod dispatch;
pub(crate) mod fast;
pub(crate) mod general;
pub(crate) mod paths;
pub(crate) mod simd;

pub(crate) use general::extract_general;

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
    /// A registry format (`--value-format avro`) and a value that is not in the Confluent
    /// wire format (first byte not 0, or fewer than 5 bytes).
    NotFramed,
    /// A registry format and a framed value whose body does not decode with its schema.
    Undecodable,
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
            Invalid::NotFramed => "not_framed",
            Invalid::Undecodable => "undecodable",
        }
    }

    /// Every reason, in precedence order (the last two are only given to framed values, which
    /// are never read as JSON: tombstone, empty, not_framed, undecodable, then wrong_type,
    /// missing_field).
    pub const ALL: [Invalid; 10] = [
        Invalid::Tombstone,
        Invalid::Empty,
        Invalid::BadUtf8,
        Invalid::BadJson,
        Invalid::NotObject,
        Invalid::DuplicateField,
        Invalid::WrongType,
        Invalid::MissingField,
        Invalid::NotFramed,
        Invalid::Undecodable,
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
pub(crate) const MAX_DEPTH: usize = 127;

/// Integer digits from which a number may overflow an f64 (`f64::MAX` ≈ 1.8e308 has 309); below
/// this, and without an exponent, no number can, so the exact check is skipped.
pub(crate) const BIG_INTEGER_DIGITS: usize = 300;

/// The containers open inside a skipped value, innermost last: one bit each (object = 1), so
/// skipping nested values never allocates. `MAX_DEPTH` < 128 keeps it within the `u128`.
#[derive(Default)]
pub(crate) struct Open {
    bits: u128,
    len: usize,
}

const _: () = assert!(MAX_DEPTH <= 128);

impl Open {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn push(&mut self, is_obj: bool) {
        self.bits = (self.bits << 1) | u128::from(is_obj);
        self.len += 1;
    }

    #[inline]
    pub(crate) fn pop(&mut self) {
        self.bits >>= 1;
        self.len -= 1;
    }

    #[inline]
    pub(crate) fn last(&self) -> Option<bool> {
        (self.len > 0).then_some(self.bits & 1 == 1)
    }
}

/// Which of the two fields a key names.
#[inline]
pub(crate) fn field_of(key: &[u8]) -> Option<usize> {
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
/// Two paths with one meaning: the fast path (`fast`: masks of 64-byte blocks, in the
/// instruction-set form this CPU runs best) settles the objects producers write; anything it
/// is not sure of goes to the general scanner, which handles all of JSON. Tests
/// check that whenever the fast path answers, in any form, the general scanner and serde_json
/// give the same answer.
#[inline]
pub fn extract(value: Option<&[u8]>) -> Result<Event<'_>, Invalid> {
    let b = value.ok_or(Invalid::Tombstone)?;
    match dispatch::Form::best().extract(b) {
        fast::Verdict::Event(f) => match f.fields(b) {
            Some((category, product)) => Ok(Event { category, product }),
            None => extract_general(b),
        },
        fast::Verdict::Invalid(why) => Err(why),
        fast::Verdict::Declined => extract_general(b),
    }
}

/// [`extract`] for a stream of records: the same verdicts, faster when records share a
/// layout (same length, quotes in the same places, same keys), as one producer's events do.
/// It remembers two recent layouts per value length (about 20 KiB); see DESIGN.md, "A record
/// of a layout seen before is settled by comparison, not parsing".
#[derive(Debug, Clone)]
pub struct Extractor {
    shapes: fast::Shapes,
    /// The instruction-set form it runs, chosen when it is made.
    form: dispatch::Form,
}

impl Default for Extractor {
    fn default() -> Self {
        Extractor {
            shapes: fast::Shapes::default(),
            form: dispatch::Form::best(),
        }
    }
}

impl Extractor {
    /// An extractor that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// An extractor running `form` (tests run every form this CPU has).
    #[cfg(test)]
    pub(crate) fn with_form(form: dispatch::Form) -> Self {
        Extractor {
            shapes: fast::Shapes::default(),
            form,
        }
    }

    /// The event in `value`, exactly as [`extract`] finds it.
    pub fn extract<'a>(&mut self, value: Option<&'a [u8]>) -> Result<Event<'a>, Invalid> {
        let b = value.ok_or(Invalid::Tombstone)?;
        let mut event = |category, product| Event { category, product };
        match self.form.with_fields(b, &mut self.shapes, &mut event) {
            fast::Verdict::Event(e) => Ok(e),
            fast::Verdict::Invalid(why) => Err(why),
            fast::Verdict::Declined => extract_general(b),
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
        match self.form.with_fields(
            b,
            &mut self.shapes,
            &mut |c: Cow<'_, [u8]>, p: Cow<'_, [u8]>| found(b, &c, &p),
        ) {
            fast::Verdict::Event(r) => Ok(r),
            fast::Verdict::Invalid(why) => Err(why),
            fast::Verdict::Declined => {
                extract_general(b).map(|e| found(b, &e.category, &e.product))
            }
        }
    }
}
