//! Why an export failed, as one `thiserror` enum whose [`ExportError::kind`] is the reader's
//! [`ErrorKind`]: front ends decide from it as from a read's error (the CLI's exit code, the
//! Python exception class).

use kbatch_reader::{ErrorKind, ReadError};

use crate::files::FileError;
use crate::manifest::{ManifestError, MANIFEST_NAME};
use crate::sink::SinkError;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A bad option value (`option` is [`crate::ExportOptions`]' field name, which front ends
    /// may render as their own flag or keyword).
    #[error("{option}: {message}")]
    Usage {
        /// The option's field name (`compression`, `output`, …).
        option: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Connecting to the cluster failed.
    #[error("connecting to {bootstrap}")]
    Connect {
        /// The bootstrap list.
        bootstrap: String,
        /// The reader's error.
        #[source]
        source: ReadError,
    },
    /// Planning or reading the range failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The previous manifest (`from_manifest`) could not be read.
    #[error("from_manifest {location}")]
    PreviousUnreadable {
        /// Where it was looked for.
        location: String,
        /// The store's error.
        #[source]
        source: SinkError,
    },
    /// The previous manifest is not one this export can continue.
    #[error("from_manifest {location}")]
    PreviousInvalid {
        /// Where it was read.
        location: String,
        /// What is wrong with it.
        #[source]
        source: ManifestError,
    },
    /// The output directory or store failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A partition's file could not be written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A thread or the I/O runtime could not be started.
    #[error("{what}")]
    Start {
        /// What was being started.
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A key or value could not be decoded (`key_format` / `value_format`; names topic,
    /// partition and offset).
    #[error(transparent)]
    Decode(#[from] kbatch_arrow::DecodeFailure),
    /// The reader schema of the topic could not be looked up before the read.
    #[error("{topic}: choosing the reader schema")]
    Schema {
        /// The topic.
        topic: String,
        /// The registry's or the schema's error.
        #[source]
        source: kbatch_schema::SchemaError,
    },
    /// The caller stopped the export ([`crate::Export::stopper`]).
    #[error("the export was stopped")]
    Stopped,
    /// The export's own bookkeeping disagrees with the read (a bug).
    #[error("{0}")]
    Internal(String),
    /// A run that failed after it started writing: what it completed, and why it failed. No
    /// manifest was written and its open uploads were aborted.
    #[error("export to {location} failed, {MANIFEST_NAME} not written, {completed}")]
    Failed {
        /// The output.
        location: String,
        /// The files completed before the failure (or that none was).
        completed: String,
        /// The cause.
        #[source]
        source: Box<ExportError>,
    },
}

impl ExportError {
    /// A usage error of `option`.
    pub fn usage(option: &'static str, message: impl Into<String>) -> ExportError {
        ExportError::Usage {
            option,
            message: message.into(),
        }
    }

    /// What kind of failure this is. A store (directory, S3) that fails counts as
    /// [`ErrorKind::Broker`], like the cluster: a service the run depends on failed, and trying
    /// again may help. A previous manifest that cannot be used is [`ErrorKind::Data`] (input
    /// that does not decode as expected); a file the encoder refuses, too.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ExportError::Usage { .. } => ErrorKind::Usage,
            ExportError::Connect { source, .. } => source.kind(),
            ExportError::Read(e) => e.kind(),
            ExportError::PreviousUnreadable { .. } => ErrorKind::Range,
            ExportError::PreviousInvalid { .. } => ErrorKind::Data,
            ExportError::Sink(_) => ErrorKind::Broker,
            ExportError::File(FileError::Sink { .. }) => ErrorKind::Broker,
            ExportError::File(_) => ErrorKind::Data,
            ExportError::Decode(f) => f.error.kind(),
            ExportError::Schema { source, .. } => source.kind(),
            ExportError::Start { .. } | ExportError::Stopped | ExportError::Internal(_) => {
                ErrorKind::Internal
            }
            ExportError::Failed { source, .. } => source.kind(),
        }
    }

    /// The reader's error behind this one, if the read failed (for its topic, partition and
    /// whether it is retriable).
    pub fn read_error(&self) -> Option<&ReadError> {
        match self {
            ExportError::Connect { source, .. } => Some(source),
            ExportError::Read(e) => Some(e),
            ExportError::Failed { source, .. } => source.read_error(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let sink = || SinkError::Location("x".into());
        let table: [(ExportError, ErrorKind); 7] = [
            (ExportError::usage("output", "bad"), ErrorKind::Usage),
            (ReadError::Config("no".into()).into(), ErrorKind::Usage),
            (ExportError::Sink(sink()), ErrorKind::Broker),
            (
                ExportError::PreviousInvalid {
                    location: "m".into(),
                    source: ManifestError::Invalid("x".into()),
                },
                ErrorKind::Data,
            ),
            (ExportError::Internal("x".into()), ErrorKind::Internal),
            (
                ExportError::Failed {
                    location: "o".into(),
                    completed: "no file was completed".into(),
                    source: Box::new(ExportError::Sink(sink())),
                },
                ErrorKind::Broker,
            ),
            (
                ExportError::Failed {
                    location: "o".into(),
                    completed: "no file was completed".into(),
                    source: Box::new(ReadError::Config("no".into()).into()),
                },
                ErrorKind::Usage,
            ),
        ];
        for (e, kind) in table {
            assert_eq!(e.kind(), kind, "{e}");
        }
    }
}
