//! What every call does around its read: turn the Python arguments into a `Config` (warning
//! once about ignored keys) and a `ReadSpec`, connect with the CLI's error context, and turn
//! a failure into its exception.

use std::ffi::CString;
use std::sync::Arc;

use kbatch_reader::{AsyncReader, Config, Job, Outcome, ReadError};
use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;

use crate::cancel::Cancellable;
use crate::errors;
use crate::options::Common;
use crate::runtime;

/// A read that failed, with the context the CLI would print before it.
pub struct Failed {
    context: Option<String>,
    error: ReadError,
}

impl From<ReadError> for Failed {
    fn from(error: ReadError) -> Self {
        Failed {
            context: None,
            error,
        }
    }
}

impl Failed {
    /// As its Python exception.
    pub fn into_py(self, py: Python<'_>) -> PyErr {
        errors::read_error(py, self.context.as_deref(), &self.error)
    }
}

/// The configuration of `common`; ignored keys become one `UserWarning`, as the CLI's one
/// warning line, and each of `Config::security_warnings` one more.
pub fn config(py: Python<'_>, common: &Common) -> PyResult<Config> {
    let built = common.config().map_err(|e| errors::usage(py, e))?;
    let ignored = built.ignored;
    if !ignored.is_empty() {
        let text = format!(
            "kbatch: ignoring keys that mean nothing to a bounded read: {}",
            ignored.join(", ")
        );
        let text = CString::new(text).unwrap_or_default();
        PyErr::warn(py, &py.get_type::<PyUserWarning>(), &text, 2)?;
    }
    // The CLI's security warnings (credentials in clear, checks switched off), as warnings.
    for warning in built.warnings {
        let text = CString::new(format!("kbatch: {warning}")).unwrap_or_default();
        PyErr::warn(py, &py.get_type::<PyUserWarning>(), &text, 2)?;
    }
    Ok(built.config)
}

/// Connect, naming the bootstrap list on failure as the CLI does.
pub async fn connect(config: Config) -> Result<AsyncReader, Failed> {
    let bootstrap = config.bootstrap.join(",");
    AsyncReader::connect(config).await.map_err(|error| Failed {
        context: Some(format!("connecting to {bootstrap}")),
        error,
    })
}

/// Plan `[start, end)` of `common` and run `job` over it with the GIL released; Ctrl-C stops
/// the decode run as well as the task. What `count`, `trending` and a Spark shard share.
pub fn run_job<J>(
    py: Python<'_>,
    common: &Common,
    start: &str,
    end: &str,
    job: J,
) -> PyResult<Outcome<J::Output>>
where
    J: Job + Send + Sync + 'static,
    J::Output: Send + 'static,
{
    let config = config(py, common)?;
    let spec = common.spec(start, end).map_err(|e| errors::usage(py, e))?;
    let (job, stop) = Cancellable::new(job);
    let job = Arc::new(job);
    let got = runtime::wait(
        py,
        async move {
            let reader = connect(config).await?;
            let plan = reader.plan(&spec).await?;
            Ok::<_, Failed>(reader.run(plan, job, None).await?)
        },
        || stop.stop(),
    )?;
    got.map_err(|f| f.into_py(py))
}
