//! Which instruction-set form runs: detected once per process (or named by `KBATCH_SIMD`),
//! then carried as a [`Form`] (by each `Extractor`) or read from one cached value (by the
//! stateless `extract`). A `Form` is the
//! proof that the CPU has the form's features: it is only made after checking, so calling
//! through it is safe.

use std::borrow::Cow;

use crate::extract::fast::{Found, Shapes, Verdict};
use crate::extract::paths::{PathTree, Val};
#[cfg(target_arch = "x86_64")]
use crate::extract::simd::{avx2, avx512, sse2, Avx2, Avx512, Sse2};
use crate::extract::simd::{portable, Isa, Portable};
use crate::extract::Invalid;

/// An instruction-set form this CPU runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Form(Kind);

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Sse2,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Form {
    /// The form to run: the fastest this CPU has, unless `KBATCH_SIMD` (`portable`, `sse2`,
    /// `avx2`, `avx512`) names another it has (to compare forms end to end, or to fuzz each). Decided
    /// once, then one load of a cached value.
    #[inline]
    pub(crate) fn best() -> Form {
        use std::sync::atomic::Ordering;
        match BEST.load(Ordering::Relaxed) {
            0 => detect(),
            #[cfg(target_arch = "x86_64")]
            2 => Form(Kind::Sse2),
            #[cfg(target_arch = "x86_64")]
            3 => Form(Kind::Avx2),
            #[cfg(target_arch = "x86_64")]
            4 => Form(Kind::Avx512),
            _ => Form(Kind::Portable),
        }
    }

    /// Every form by name, `None` where this CPU (or architecture) lacks it: tests run each
    /// one, whatever [`Form::best`] would choose.
    pub(crate) fn all() -> [(&'static str, Option<Form>); 4] {
        #[cfg(target_arch = "x86_64")]
        let (sse2, avx2, avx512) = (
            Some(Form(Kind::Sse2)),
            avx2_available().then_some(Form(Kind::Avx2)),
            avx512_available().then_some(Form(Kind::Avx512)),
        );
        #[cfg(not(target_arch = "x86_64"))]
        let (sse2, avx2, avx512) = (None, None, None);
        [
            ("portable", Some(Form(Kind::Portable))),
            ("sse2", sse2),
            ("avx2", avx2),
            ("avx512", avx512),
        ]
    }

    /// The form's name, as [`Form::all`] gives it.
    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        match self.0 {
            Kind::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Kind::Sse2 => "sse2",
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => "avx512",
        }
    }

    /// The fast path in this form.
    #[inline]
    pub(crate) fn extract(self, b: &[u8]) -> Verdict<Found<'_>> {
        // SAFETY: a `Form` is only made for a CPU that has its features.
        unsafe {
            match self.0 {
                Kind::Portable => Portable::extract(b),
                #[cfg(target_arch = "x86_64")]
                Kind::Sse2 => Sse2::extract(b),
                #[cfg(target_arch = "x86_64")]
                Kind::Avx2 => Avx2::extract(b),
                #[cfg(target_arch = "x86_64")]
                Kind::Avx512 => Avx512::extract(b),
            }
        }
    }

    /// `top`'s path tier in this form: the paths of `tree` in `b`, or `None` where it
    /// declines (see `fast::paths`).
    #[inline]
    pub(crate) fn paths<'a>(
        self,
        b: &'a [u8],
        tree: &PathTree,
        out: &mut Vec<Val<'a>>,
    ) -> Option<Result<(), Invalid>> {
        // SAFETY: a `Form` is only made for a CPU that has its features.
        unsafe {
            match self.0 {
                Kind::Portable => Portable::paths(b, tree, out),
                #[cfg(target_arch = "x86_64")]
                Kind::Sse2 => Sse2::paths(b, tree, out),
                #[cfg(target_arch = "x86_64")]
                Kind::Avx2 => Avx2::paths(b, tree, out),
                #[cfg(target_arch = "x86_64")]
                Kind::Avx512 => Avx512::paths(b, tree, out),
            }
        }
    }

    /// The fast path with the layout cache in this form (see `fast::with_fields_in`).
    #[inline]
    pub(crate) fn with_fields<'a, R, F: FnMut(Cow<'a, [u8]>, Cow<'a, [u8]>) -> R>(
        self,
        b: &'a [u8],
        shapes: &mut Shapes,
        found: &mut F,
    ) -> Verdict<R> {
        match self.0 {
            Kind::Portable => portable::with_fields(b, shapes, found),
            // SAFETY: a `Form` is only made for a CPU that has its features.
            #[cfg(target_arch = "x86_64")]
            Kind::Sse2 => unsafe { sse2::with_fields(b, shapes, found) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => unsafe { avx2::with_fields(b, shapes, found) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => unsafe { avx512::with_fields(b, shapes, found) },
        }
    }
}

/// Whether this CPU has what the AVX2 form is compiled for. Only asked when the form is chosen
/// (once) and by tests; the standard library caches what the CPU reported.
#[cfg(target_arch = "x86_64")]
fn avx2_available() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("popcnt")
}

/// Whether this CPU runs the AVX-512 form: it has what the form is compiled for (the AVX2
/// form's features and AVX-512F/BW) and is of a generation that does not lower its clock for
/// 512-bit integer work, which AVX-512 VBMI2 marks (Intel since Ice Lake, AMD since Zen 4;
/// the form does not use VBMI2 itself). On Skylake-SP and Cascade Lake, where every 512-bit
/// instruction costs the whole core a clock step, the few percent this form saves would be
/// lost, so they keep the AVX2 form.
#[cfg(target_arch = "x86_64")]
fn avx512_available() -> bool {
    avx2_available()
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vbmi2")
}

/// [`Form::best`]'s answer: 0 not yet decided, then 1 portable, 2 SSE2, 3 AVX2, 4 AVX-512.
static BEST: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The decision behind [`Form::best`], once (out of line: the per-call check stays one load).
#[cold]
#[inline(never)]
fn detect() -> Form {
    let available = Form::all();
    let fastest = available
        .iter()
        .rev()
        .find_map(|(_, f)| *f)
        .unwrap_or(Form(Kind::Portable));
    let chosen = match std::env::var("KBATCH_SIMD") {
        Ok(name) => available
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, f)| *f)
            .unwrap_or(fastest),
        Err(_) => fastest,
    };
    let code = match chosen.0 {
        Kind::Portable => 1,
        #[cfg(target_arch = "x86_64")]
        Kind::Sse2 => 2,
        #[cfg(target_arch = "x86_64")]
        Kind::Avx2 => 3,
        #[cfg(target_arch = "x86_64")]
        Kind::Avx512 => 4,
    };
    BEST.store(code, std::sync::atomic::Ordering::Relaxed);
    chosen
}
