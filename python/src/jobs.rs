//! `offsets`, `count` and `trending`: the CLI's subcommands, returning the CLI's JSON text
//! (the same serde types print it), which the Python layer loads into dicts.

use kbatch_reader::{Count, CountReport};
use kbatch_trending::Trending;
use pyo3::prelude::*;

use crate::call::{self, Failed};
use crate::errors;
use crate::options::{Common, UsageError};
use crate::runtime;

/// `kbatch offsets`: the JSON list of partitions (leader, earliest, latest, last_stable).
#[pyfunction]
pub fn offsets(py: Python<'_>, common: Common) -> PyResult<String> {
    let config = call::config(py, &common)?;
    common
        .spec("earliest", "latest")
        .map_err(|e| errors::usage(py, e))?;
    let (topics, partitions) = (common.topics, common.partitions);
    let got = runtime::wait(
        py,
        async move {
            let reader = call::connect(config).await?;
            Ok::<_, Failed>(reader.offsets(&topics, partitions.as_deref()).await?)
        },
        || {},
    )?;
    let offsets = got.map_err(|f| f.into_py(py))?;
    Ok(serde_json::to_string(&offsets).expect("offsets serialise"))
}

/// `kbatch count`: `{"records", "partitions": [...]}`.
#[pyfunction]
pub fn count(py: Python<'_>, common: Common, start: &str, end: &str) -> PyResult<String> {
    let outcome = call::run_job(py, &common, start, end, Count)?;
    let report = CountReport::from_stats(&outcome.stats);
    Ok(serde_json::to_string(&report).expect("count serialises"))
}

/// `kbatch trending --format json`: the report. `value_format`: `raw` (JSON events) or
/// `avro` (registry-framed values, counted by trending's question run as `top`).
#[pyfunction]
#[pyo3(signature = (common, start, end, top, strict, value_format = "raw"))]
pub fn trending(
    py: Python<'_>,
    common: Common,
    start: &str,
    end: &str,
    top: u32,
    strict: bool,
    value_format: &str,
) -> PyResult<String> {
    if top == 0 {
        return Err(errors::usage(
            py,
            UsageError("top must be at least 1".into()),
        ));
    }
    if let Some(decoder) = crate::top::value_decoder(py, &common, value_format)? {
        let job = kbatch_trending::TopJob::trending(top, strict, decoder);
        let report = crate::top::run(py, &common, start, end, job, |j| j)?
            .map_err(|e| crate::top::top_error(py, e))?;
        let report = kbatch_trending::Report::from_top(report);
        return Ok(serde_json::to_string(&report).expect("report serialises"));
    }
    let outcome = call::run_job(py, &common, start, end, Trending { top, strict })?;
    Ok(serde_json::to_string(&outcome.output).expect("report serialises"))
}
