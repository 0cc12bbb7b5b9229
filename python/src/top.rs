//! `kbatch.top` and its Spark pushdown: the `top` job over a read, as `kbatch top --format json`
//! prints it; one shard's mergeable partial (`TopShard`, JSON); and the merge of such partials
//! into the report of one run over their union. The question arrives as the CLI's text (paths,
//! `--where` expressions, metric, window, top), parsed by the library's one parser.

use std::sync::Arc;

use kbatch_reader::{ErrorKind, Job};
use kbatch_trending::{SpecError, TopError, TopJob, TopShard, TopShardJob, TopSpec, ValueDecoder};
use pyo3::prelude::*;

use crate::call::{self, Failed};
use crate::cancel::Cancellable;
use crate::errors;
use crate::options::{Common, UsageError};
use crate::runtime;

/// The question, as the Python layer normalised it (a dict of the CLI's texts).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Question {
    /// Group paths, each as `--group` spells one.
    pub group: Vec<String>,
    /// The item path.
    pub item: String,
    /// `count`, `sum:PATH`, `distinct:PATH`, `approx_distinct:PATH`.
    pub metric: String,
    /// `--where` expressions; all must hold.
    pub wheres: Vec<String>,
    /// `--window`, if any.
    pub window: Option<String>,
    /// `N` or `all`.
    pub top: String,
    /// Fail at the first invalid record.
    pub strict: bool,
}

impl Question {
    /// The typed spec, or the parser's message (a usage error).
    pub fn spec(&self) -> Result<TopSpec, UsageError> {
        let wheres: Vec<&str> = self.wheres.iter().map(String::as_str).collect();
        // One comma-separated list, as `--group` takes it: commas inside quoted keys stay
        // in their key.
        let mut spec = TopSpec::parse(
            &self.group.join(","),
            &self.item,
            Some(&self.metric),
            &wheres,
            self.window.as_deref(),
            Some(&self.top),
        )
        .map_err(usage)?;
        spec.strict = self.strict;
        Ok(spec)
    }
}

fn usage(e: SpecError) -> UsageError {
    UsageError(e.to_string())
}

/// A report that cannot be made: a sum beyond 38 significant digits is the data's
/// (`kbatch.DataError`); a shard partial that does not fit the question is kbatch's own bug.
pub fn top_error(py: Python<'_>, e: TopError) -> PyErr {
    let kind = match e {
        TopError::SumOverflow { .. } => ErrorKind::Data,
        _ => ErrorKind::Internal,
    };
    errors::raise(py, kind, e.to_string(), errors::About::default())
}

/// The decoder of `value_format=` (`raw`: none; `avro`: registry-framed values, schemas from
/// `config`'s `schema.registry.*` keys).
pub fn value_decoder(
    py: Python<'_>,
    common: &Common,
    value_format: &str,
) -> PyResult<Option<ValueDecoder>> {
    let timeout = call::config(py, common)?.timeout;
    // A body that does not decode is a record's verdict (`undecodable`): the decoder reports
    // it (`fail`) rather than nulling it.
    let decoders = crate::arrow::decoders(py, common, timeout, value_format, "raw", "fail")?;
    Ok(decoders.value)
}

/// `spec`'s job, reading values as `value_format` says.
fn job(py: Python<'_>, common: &Common, spec: TopSpec, value_format: &str) -> PyResult<TopJob> {
    let job = TopJob::new(spec).map_err(|e| errors::usage(py, usage(e)))?;
    Ok(match value_decoder(py, common, value_format)? {
        Some(d) => job.with_decoder(d),
        None => job,
    })
}

/// Plan `[start, end)` narrowed by the spec's partition and timestamp filters (as the CLI
/// does), bind the job to the plan, and run it with the GIL released; Ctrl-C stops it.
pub fn run<J, F>(
    py: Python<'_>,
    common: &Common,
    start: &str,
    end: &str,
    mut job: TopJob,
    make: F,
) -> PyResult<J::Output>
where
    J: Job + Send + Sync + 'static,
    J::Output: Send + 'static,
    F: FnOnce(TopJob) -> J,
{
    let config = call::config(py, common)?;
    let mut read = common.spec(start, end).map_err(|e| errors::usage(py, e))?;
    job.spec().narrow(&mut read);
    let planned = runtime::wait(
        py,
        async move {
            let reader = call::connect(config).await?;
            let plan = reader.plan(&read).await?;
            Ok::<_, Failed>((reader, plan))
        },
        || {},
    )?;
    let (reader, plan) = planned.map_err(|f| f.into_py(py))?;
    let specs: Vec<_> = plan.iter().map(|p| p.spec.clone()).collect();
    job.bind(&specs);
    let (job, stop) = Cancellable::new(make(job));
    let job = Arc::new(job);
    let got = runtime::wait(
        py,
        async move { Ok::<_, Failed>(reader.run(plan, job, None).await?) },
        || stop.stop(),
    )?;
    Ok(got.map_err(|f| f.into_py(py))?.output)
}

/// `kbatch top --format json`: the report. `value_format`: `raw` (JSON events) or `avro`.
#[pyfunction]
#[pyo3(signature = (common, start, end, question, value_format = "raw"))]
pub fn top(
    py: Python<'_>,
    common: Common,
    start: &str,
    end: &str,
    question: Question,
    value_format: &str,
) -> PyResult<String> {
    let spec = question.spec().map_err(|e| errors::usage(py, e))?;
    let job = job(py, &common, spec, value_format)?;
    let report = run(py, &common, start, end, job, |j| j)?;
    let report = report.map_err(|e| top_error(py, e))?;
    Ok(serde_json::to_string(&report).expect("report serialises"))
}

/// One shard's mergeable partial over `[start, end)` (`TopShard` as JSON: records, filtered,
/// invalid by reason, and every (window, group, item) cell's state: counts and sums to add,
/// distinct values as sets, approx_distinct as HyperLogLog sketches).
#[pyfunction]
#[pyo3(signature = (common, start, end, question, value_format = "raw"))]
pub fn spark_top_shard(
    py: Python<'_>,
    common: Common,
    start: &str,
    end: &str,
    question: Question,
    value_format: &str,
) -> PyResult<String> {
    let spec = question.spec().map_err(|e| errors::usage(py, e))?;
    let job = job(py, &common, spec, value_format)?;
    let shard = run(py, &common, start, end, job, TopShardJob)?;
    Ok(serde_json::to_string(&shard).expect("shard serialises"))
}

/// Merge shards' partials (JSON texts of `TopShard`, any order, any split) and rank them: the
/// report of one run over their union (no per-partition figures, no samples), as JSON.
#[pyfunction]
pub fn spark_top_merge(
    py: Python<'_>,
    question: Question,
    shards: Vec<String>,
) -> PyResult<String> {
    let spec = question.spec().map_err(|e| errors::usage(py, e))?;
    let job = TopJob::new(spec).map_err(|e| errors::usage(py, usage(e)))?;
    let parsed = shards
        .iter()
        .map(|s| serde_json::from_str::<TopShard>(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            let message = format!("a top shard's partial is not readable: {e}");
            errors::internal(py, message)
        })?;
    // Merging large sets and sketches is pure CPU: without the GIL.
    let report = errors::guard(py, "merging top shards", || {
        Ok(py.detach(|| job.report_from_shards(parsed)))
    })?
    .map_err(|e| top_error(py, e))?;
    Ok(serde_json::to_string(&report).expect("report serialises"))
}

/// Check a question without reading anything (the Spark driver does, at `load()`).
#[pyfunction]
pub fn top_check(py: Python<'_>, question: Question) -> PyResult<Vec<String>> {
    let spec = question.spec().map_err(|e| errors::usage(py, e))?;
    let columns = spec.columns();
    TopJob::new(spec).map_err(|e| errors::usage(py, usage(e)))?;
    Ok(columns)
}

/// Add the functions above to the module (one call from `lib.rs`).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(top, m)?)?;
    m.add_function(wrap_pyfunction!(top_check, m)?)?;
    m.add_function(wrap_pyfunction!(spark_top_shard, m)?)?;
    m.add_function(wrap_pyfunction!(spark_top_merge, m)?)?;
    Ok(())
}
