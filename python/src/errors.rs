//! Which Python exception a failure raises, and its message: the CLI's one line.
//!
//! The exception classes are Python classes (`kbatch/errors.py`, where their docstrings and
//! the multiple inheritance of `UsageError` live); this module only picks one.

use kbatch_reader::ReadError;
use kbatch_wire::WireError;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::options::Usage;

/// The exception classes of `kbatch.errors`, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A bad argument, SPEC or config key (the CLI's exit code 2).
    Usage,
    /// What was asked for is not in the cluster: unknown topic or partition, offsets outside
    /// the log, a start after its end, an end inside an open transaction, records gone.
    Range,
    /// Talking to the cluster failed: unreachable, timed out, protocol, Kafka error codes.
    Broker,
    /// The cluster refused who we are: SASL, TLS verification, authorization.
    Auth,
    /// A record batch in range could not be decoded, or a strict job refused a record.
    Data,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Usage => "UsageError",
            Class::Range => "RangeError",
            Class::Broker => "BrokerError",
            Class::Auth => "AuthError",
            Class::Data => "DataError",
        }
    }
}

/// The class of a read's failure.
pub fn class_of(e: &ReadError) -> Class {
    match e {
        ReadError::Config(_) => Class::Usage,
        ReadError::UnknownTopic { .. }
        | ReadError::UnknownPartition { .. }
        | ReadError::OffsetOutOfRange { .. }
        | ReadError::OpenTransaction { .. }
        | ReadError::StartAfterEnd { .. }
        | ReadError::MissingRange { .. }
        | ReadError::Truncated { .. }
        | ReadError::TopicChanged { .. } => Class::Range,
        ReadError::Wire(w) => wire_class(w),
        ReadError::Kafka { code, .. } | ReadError::TopicKafka { code, .. } => code_class(*code),
        ReadError::PlanRetriesExhausted { last, .. } => match class_of(last) {
            Class::Auth => Class::Auth,
            _ => Class::Broker,
        },
        ReadError::Decode { .. } | ReadError::Engine(_) => Class::Data,
        _ => Class::Broker,
    }
}

fn wire_class(w: &WireError) -> Class {
    match w {
        WireError::Auth { .. } | WireError::Tls { .. } => Class::Auth,
        WireError::Kafka { code, .. } => code_class(*code),
        _ => Class::Broker,
    }
}

fn code_class(code: i16) -> Class {
    match kbatch_wire::kafka_code(code).class {
        kbatch_wire::ErrorClass::Auth => Class::Auth,
        _ => Class::Broker,
    }
}

/// The Python exception for `class` with `message`.
pub fn raise(py: Python<'_>, class: Class, message: String) -> PyErr {
    match exception_type(py, class) {
        Ok(t) => PyErr::from_type(t, message),
        Err(e) => e,
    }
}

fn exception_type(py: Python<'_>, class: Class) -> PyResult<Bound<'_, PyType>> {
    Ok(py
        .import("kbatch.errors")?
        .getattr(class.name())?
        .cast_into::<PyType>()?)
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
    raise(py, class_of(e), message)
}

/// A usage error as `kbatch.UsageError`.
pub fn usage(py: Python<'_>, e: Usage) -> PyErr {
    raise(py, Class::Usage, e.0)
}
