//! The harness's error type.

/// What went wrong in the harness.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A command failed.
    #[error("{what} failed: {detail}")]
    Command {
        /// What was run.
        what: String,
        /// Its error output or status.
        detail: String,
    },
    /// File-system or process trouble.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The broker did not come up.
    #[error("broker did not start within {secs} s; log tail:\n{log}")]
    Start {
        /// Seconds waited.
        secs: u64,
        /// Tail of the broker log.
        log: String,
    },
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TestkitError {
    let what = what.into();
    move |source| TestkitError::Io { what, source }
}
