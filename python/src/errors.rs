//! Which Python exception a failure raises, and its message: the CLI's one line.
//!
//! The exception classes are Python classes (`kbatch/errors.py`, where their docstrings and
//! the multiple inheritance of `UsageError` live), looked up once per process. The class
//! follows the reader's [`ErrorKind`] — the same decision the CLI's exit code follows — and
//! every exception carries `.topic`, `.partition` and `.retriable` from the error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use kbatch_reader::{ErrorKind, ReadError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

use crate::options::UsageError;

/// The classes of `kbatch.errors`, imported on first use.
struct Classes {
    usage: Py<PyType>,
    range: Py<PyType>,
    broker: Py<PyType>,
    auth: Py<PyType>,
    data: Py<PyType>,
    internal: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let m = py.import("kbatch.errors")?;
        let get = |name: &str| -> PyResult<Py<PyType>> {
            Ok(m.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok(Classes {
            usage: get("UsageError")?,
            range: get("RangeError")?,
            broker: get("BrokerError")?,
            auth: get("AuthError")?,
            data: get("DataError")?,
            internal: get("InternalError")?,
        })
    })
}

/// The exception class of a failure of `kind`: every kind has one.
fn class_of(c: &Classes, kind: ErrorKind) -> &Py<PyType> {
    match kind {
        ErrorKind::Usage => &c.usage,
        ErrorKind::Range => &c.range,
        ErrorKind::Broker => &c.broker,
        ErrorKind::Auth => &c.auth,
        ErrorKind::Data => &c.data,
        ErrorKind::Internal => &c.internal,
    }
}

/// What an exception says about its failure besides the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct About {
    /// The topic, if the failure concerns one.
    pub topic: Option<String>,
    /// The partition, if the failure concerns one.
    pub partition: Option<i32>,
    /// Trying the same call again later may succeed.
    pub retriable: bool,
}

impl About {
    fn of(e: &ReadError) -> About {
        About {
            topic: e.topic().map(str::to_string),
            partition: e.partition(),
            retriable: e.retriable(),
        }
    }
}

/// The Python exception of `kind` with `message` and `about`.
pub fn raise(py: Python<'_>, kind: ErrorKind, message: String, about: About) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let class = class_of(classes(py)?, kind).bind(py);
        let kwargs = PyDict::new(py);
        kwargs.set_item("topic", about.topic)?;
        kwargs.set_item("partition", about.partition)?;
        kwargs.set_item("retriable", about.retriable)?;
        Ok(PyErr::from_value(class.call((message,), Some(&kwargs))?))
    })();
    made.unwrap_or_else(|e| e)
}

/// A read error as its exception, the message prefixed with `context` (e.g. `connecting to
/// host:9092`) as the CLI prints it.
pub fn read_error(py: Python<'_>, context: Option<&str>, e: &ReadError) -> PyErr {
    let message = kbatch_reader::one_line(
        context
            .map(str::to_string)
            .into_iter()
            .chain(kbatch_reader::chain(e).map(|c| c.to_string())),
    );
    raise(py, e.kind(), message, About::of(e))
}

/// A usage error as `kbatch.UsageError`.
pub fn usage(py: Python<'_>, e: UsageError) -> PyErr {
    raise(py, ErrorKind::Usage, e.0, About::default())
}

/// kbatch itself failed (its runtime, a caught panic) as `kbatch.InternalError`.
pub fn internal(py: Python<'_>, message: String) -> PyErr {
    raise(py, ErrorKind::Internal, message, About::default())
}

/// Run `f`, turning a panic into `kbatch.InternalError` naming `what` was under way: no
/// panic reaches Python as pyo3's `PanicException`. Every function of the module runs in it.
pub fn guard<T>(py: Python<'_>, what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(internal(
            py,
            format!(
                "internal error while {what}: kbatch panicked: {} (a bug; the call did not complete)",
                kbatch_reader::panic_message(&*payload)
            ),
        )),
    }
}
