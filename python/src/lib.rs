//! `kbatch._native`: the Python package's extension module, a thin layer over the library.
//!
//! Roles, in the order a call meets them:
//!
//! * **options** turn the normalised Python arguments into the library's `Config` and
//!   `ReadSpec`, with the CLI's precedence and checks;
//! * the **runtime** is the process's one tokio runtime; every call runs its future there
//!   while the Python thread waits with the GIL released, polling for Ctrl-C;
//! * **jobs** are the CLI's subcommands (`offsets`, `count`, `trending`), returning the CLI's
//!   JSON; **arrow** reads records into Arrow batches that cross into pyarrow through the
//!   Arrow C data interface, without a copy; **export** writes files and a manifest through
//!   `kbatch-export`, as the CLI's `kbatch export`;
//! * **errors** pick the `kbatch.errors` exception of a failure, with the CLI's one line.
//!
//! The pure-Python package (`python/kbatch/`) owns the public signatures, docstrings and
//! argument normalisation (ints, datetimes, Spark's offsets dicts → SPEC text).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod arrow;
mod call;
mod cancel;
mod errors;
mod export;
mod jobs;
mod options;
mod runtime;
mod spark;
mod top;

use pyo3::prelude::*;

/// The module: functions named as the CLI's subcommands.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(jobs::offsets, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::count, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::trending, m)?)?;
    m.add_function(wrap_pyfunction!(arrow::read, m)?)?;
    m.add_function(wrap_pyfunction!(arrow::schema, m)?)?;
    m.add_function(wrap_pyfunction!(export::export, m)?)?;
    m.add_class::<arrow::Stream>()?;
    spark::register(m)?;
    top::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_BATCH_ROWS", kbatch_arrow::DEFAULT_BATCH_ROWS)?;
    Ok(())
}
