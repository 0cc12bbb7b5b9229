//! `export`: the CLI's `kbatch export` through the `kbatch-export` library, returning the
//! manifest's JSON (the text `_manifest.json` holds), which the Python layer loads into a dict.
//!
//! The export runs on a thread of its own (it owns a small runtime and its encoder threads);
//! the Python thread waits with the GIL released and looks for Ctrl-C every
//! [`runtime::POLL`]: a pending signal stops the export at its next batch (open uploads
//! aborted, no manifest written), and the handler's exception (`KeyboardInterrupt`) is raised
//! once the export has ended.

use std::ffi::CString;
use std::sync::mpsc;

use kbatch_export::{Export, ExportError, ExportOptions, Exported, Format};
use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;

use crate::call;
use crate::errors::{self, About};
use crate::options::Common;
use crate::runtime;

/// `export`'s own keyword arguments, as the Python layer normalised them (a dict).
#[derive(pyo3::FromPyObject)]
#[pyo3(from_item_all)]
pub struct Options {
    /// `output=`: a directory or `s3://bucket/prefix`.
    pub output: String,
    /// `format=`: `parquet`, `arrow` or `jsonl`.
    pub format: String,
    /// `compression=`, or the format's default.
    pub compression: Option<String>,
    /// `max_file_bytes=`.
    pub max_file_bytes: u64,
    /// `from_manifest=`.
    pub from_manifest: Option<String>,
    /// `binary=`.
    pub binary: bool,
    /// `batch_rows=`.
    pub batch_rows: usize,
    /// `threads=` (0: one per core).
    pub threads: usize,
    /// `value_format=`: `raw`, `avro`, `protobuf` or `json-schema`.
    pub value_format: String,
    /// `key_format=`.
    pub key_format: String,
    /// `on_undecodable=`: `fail` or `null`.
    pub on_undecodable: String,
}

/// An export's failure as its `kbatch.errors` exception, with the CLI's one line.
fn raise(py: Python<'_>, e: &ExportError) -> PyErr {
    let message = kbatch_reader::one_line(kbatch_reader::chain(e));
    let about = e.read_error().map_or_else(About::default, |r| About {
        topic: r.topic().map(str::to_string),
        partition: r.partition(),
        retriable: r.retriable(),
    });
    errors::raise(py, e.kind(), message, about)
}

/// What the export thread reports.
#[allow(clippy::large_enum_variant)] // two messages per export
enum Msg {
    /// Planned: this stops it.
    Started(kbatch_export::Stopper),
    /// Ended.
    Done(Result<Exported, ExportError>),
}

/// `kbatch export`: the manifest's JSON; warnings (files no manifest names) as `UserWarning`.
#[pyfunction]
#[allow(clippy::result_large_err)] // kbatch-export's error, returned once per export
pub fn export(
    py: Python<'_>,
    common: Common,
    start: &str,
    end: &str,
    options: Options,
) -> PyResult<String> {
    errors::guard(py, "exporting", || {
        let config = call::config(py, &common)?;
        let spec = common.spec(start, end).map_err(|e| errors::usage(py, e))?;
        let format = Format::parse(&options.format).map_err(|e| raise(py, &e))?;
        let decoders = crate::arrow::decoders(
            py,
            &common,
            config.timeout,
            &options.value_format,
            &options.key_format,
            &options.on_undecodable,
        )?;
        let options = ExportOptions {
            output: options.output,
            format,
            compression: options.compression,
            max_file_bytes: options.max_file_bytes,
            from_manifest: options.from_manifest,
            binary: options.binary,
            batch_rows: options.batch_rows,
            threads: options.threads,
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("kbatch-export".into())
            .spawn(move || {
                let done =
                    Export::start_decoding(config, spec, &options, decoders).and_then(|job| {
                        let _ = tx.send(Msg::Started(job.stopper()));
                        job.run()
                    });
                let _ = tx.send(Msg::Done(done));
            })
            .map_err(|e| errors::internal(py, format!("starting the export thread: {e}")))?;
        // `detach` wants what it borrows to be shareable; a receiver is not, its mutex is.
        let rx = std::sync::Mutex::new(rx);
        let mut stopper = None;
        let mut interrupt = None;
        let done = loop {
            let got = py.detach(|| {
                rx.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .recv_timeout(runtime::POLL)
            });
            match got {
                Ok(Msg::Started(s)) => {
                    if interrupt.is_some() {
                        s.stop();
                    }
                    stopper = Some(s);
                }
                Ok(Msg::Done(done)) => break Some(done),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if interrupt.is_none() {
                        if let Err(e) = py.check_signals() {
                            if let Some(s) = &stopper {
                                s.stop();
                            }
                            interrupt = Some(e);
                        }
                    }
                }
                // The thread ended without a word: it panicked (joined below).
                Err(mpsc::RecvTimeoutError::Disconnected) => break None,
            }
        };
        let joined = py.detach(|| thread.join());
        if let Some(interrupt) = interrupt {
            return Err(interrupt);
        }
        let done = match (done, joined) {
            (Some(done), _) => done,
            (None, Err(panic)) => {
                return Err(errors::internal(
                    py,
                    format!(
                        "internal error while exporting: kbatch panicked: {} (a bug; the call did not complete)",
                        kbatch_reader::panic_message(&*panic)
                    ),
                ))
            }
            (None, Ok(())) => {
                return Err(errors::internal(
                    py,
                    "the export thread ended without a result".into(),
                ))
            }
        };
        let done = done.map_err(|e| raise(py, &e))?;
        for w in &done.warnings {
            let text = CString::new(format!("kbatch: {w}")).unwrap_or_default();
            PyErr::warn(py, &py.get_type::<PyUserWarning>(), &text, 2)?;
        }
        Ok(done.manifest.to_json())
    })
}
