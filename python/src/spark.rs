//! What `kbatch.spark` needs beyond the package's public calls: the topic list (for
//! `subscribePattern`), the planner's resolved ranges (the driver fixes `latest` and
//! timestamps to offsets once per load), and one shard's trending partial (the pushdown).
//! Each returns JSON text, which `kbatch/spark/` loads.

use kbatch_trending::Shard;
use pyo3::prelude::*;

use crate::call::{self, Failed};
use crate::errors;
use crate::options::Common;
use crate::runtime;

/// The cluster's topic names (internal ones left out), sorted: a JSON list.
#[pyfunction]
pub fn spark_topics(py: Python<'_>, common: Common) -> PyResult<String> {
    let config = call::config(py, &common)?;
    let got = runtime::wait(
        py,
        async move {
            let reader = call::connect(config).await?;
            Ok::<_, Failed>(reader.topics().await?)
        },
        || {},
    )?;
    let names = got.map_err(|f| f.into_py(py))?;
    Ok(serde_json::to_string(&names).expect("names serialise"))
}

/// The ranges `[start, end)` kbatch's planner resolves now, every bound a fixed offset: a JSON
/// list of `{"topic", "partition", "start", "end"}`.
#[pyfunction]
pub fn spark_plan(py: Python<'_>, common: Common, start: &str, end: &str) -> PyResult<String> {
    let config = call::config(py, &common)?;
    let spec = common.spec(start, end).map_err(|e| errors::usage(py, e))?;
    let got = runtime::wait(
        py,
        async move {
            let reader = call::connect(config).await?;
            Ok::<_, Failed>(reader.plan(&spec).await?)
        },
        || {},
    )?;
    let plan = got.map_err(|f| f.into_py(py))?;
    let ranges: Vec<serde_json::Value> = plan
        .iter()
        .map(|p| {
            serde_json::json!({
                "topic": &*p.spec.topic,
                "partition": p.spec.partition,
                "start": p.spec.start,
                "end": p.spec.end,
            })
        })
        .collect();
    Ok(serde_json::Value::Array(ranges).to_string())
}

/// The trending job's partial over `[start, end)`: `{"pairs": [[category, product, views]],
/// "records": N, "invalid": [[reason, count]]}` (kbatch_trending::ShardPartial).
///
/// `value_format` `avro`: registry-framed values, counted by trending's question run as `top`
/// (`TopShard`, converted).
#[pyfunction]
#[pyo3(signature = (common, start, end, value_format = "raw"))]
pub fn spark_trending_shard(
    py: Python<'_>,
    common: Common,
    start: &str,
    end: &str,
    value_format: &str,
) -> PyResult<String> {
    if let Some(decoder) = crate::top::value_decoder(py, &common, value_format)? {
        let job = kbatch_trending::TopJob::trending(1, false, decoder);
        let shard = crate::top::run(py, &common, start, end, job, kbatch_trending::TopShardJob)?;
        let partial = kbatch_trending::ShardPartial::from_top(shard);
        return Ok(serde_json::to_string(&partial).expect("partial serialises"));
    }
    let outcome = call::run_job(py, &common, start, end, Shard)?;
    Ok(serde_json::to_string(&outcome.output).expect("partial serialises"))
}

/// Add the functions above to the module (one call from `lib.rs`).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(spark_topics, m)?)?;
    m.add_function(wrap_pyfunction!(spark_plan, m)?)?;
    m.add_function(wrap_pyfunction!(spark_trending_shard, m)?)?;
    Ok(())
}
