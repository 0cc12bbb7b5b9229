//! The extension's one tokio runtime, and the one way Python waits on it.
//!
//! Every call runs its future on this runtime, and the calling Python thread waits for it with
//! the GIL released, waking every [`POLL`] to let Python run its signal handlers: Ctrl-C raises
//! `KeyboardInterrupt` within that time, and the future is dropped (aborted) at once.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors;

/// How often a waiting call looks for Ctrl-C (Python's handlers run only when asked).
pub const POLL: Duration = Duration::from_millis(100);

/// The runtime and the process it was made in.
static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The process's runtime, made on first use. Two workers: the fetch loops only walk batch
/// headers (decoding runs on the engine's own threads), and the machine is shared with Python.
/// A child made by `fork()` (multiprocessing) inherits the parent's runtime without its
/// threads, so a new one is made there; the inherited one is leaked, never dropped (dropping
/// it would wait for threads that do not exist in this process).
pub fn runtime(py: Python<'_>) -> PyResult<Arc<Runtime>> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == pid {
            return Ok(rt.clone());
        }
    }
    if let Some((_, inherited)) = slot.take() {
        std::mem::forget(inherited);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kbatch-io")
        .enable_all()
        .build()
        .map_err(|e| errors::internal(py, format!("cannot start kbatch's I/O runtime: {e}")))?;
    let rt = Arc::new(rt);
    *slot = Some((pid, rt.clone()));
    Ok(rt)
}

/// Run `fut` on the runtime and wait for it with the GIL released. A pending Python signal
/// (Ctrl-C) aborts the task, runs `on_cancel` (for work the task started off the runtime, such
/// as a decode run) and raises the handler's exception (`KeyboardInterrupt`). A task that
/// panicked or was cancelled under us raises `kbatch.InternalError` with the panic's message:
/// it never returns as if it had finished.
pub fn wait<F>(py: Python<'_>, fut: F, on_cancel: impl FnOnce()) -> PyResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = runtime(py)?;
    let mut task = rt.spawn(fut);
    loop {
        let polled =
            py.detach(|| rt.block_on(async { tokio::time::timeout(POLL, &mut task).await }));
        match polled {
            Ok(Ok(out)) => return Ok(out),
            Ok(Err(e)) if e.is_panic() => {
                let message = kbatch_reader::panic_message(&*e.into_panic());
                return Err(errors::internal(
                    py,
                    format!("internal error: kbatch panicked: {message} (a bug; the call did not complete)"),
                ));
            }
            Ok(Err(_)) => {
                return Err(errors::internal(
                    py,
                    "kbatch's I/O runtime shut down during the call".into(),
                ))
            }
            Err(_elapsed) => {
                if let Err(interrupt) = py.check_signals() {
                    task.abort();
                    on_cancel();
                    return Err(interrupt);
                }
            }
        }
    }
}
