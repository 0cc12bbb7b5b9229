//! `top`: rank what the user names — paths into the event, filters, windows, sums and distinct
//! counts — with the extractor's exact verdicts. Trending is `top --group category --item
//! product`.
//!
//! * `spec`: [`TopSpec`] and its parsers (paths, `--where`, metrics, windows, `--top`);
//! * `job`: [`TopJob`], the engine job, and [`TopShardJob`], its shard form;
//! * `report`: [`TopReport`] and its renderings; `shard`: [`TopShard`], the partial as data;
//! * `decimal`: exact number comparisons and sums.

pub(crate) mod decimal;
pub(crate) mod distinct;
pub(crate) mod framed;
pub(crate) mod job;
pub(crate) mod report;
pub(crate) mod shard;
pub(crate) mod spec;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod walk_tests;

pub use decimal::{Decimal, MAX_SCALE};
pub use framed::ValueDecoder;
pub use job::{Hll, TopError, TopJob, TopPartial, TopShardJob};
pub use report::{
    render_top_csv, render_top_table, rfc3339, MetricValue, TopColumns, TopPartitionReport,
    TopReport, TopRow,
};
pub use shard::{CellState, ShardCell, TopShard};
pub use spec::{
    Column, Filter, Literal, Metric, Op, Path, SpecError, Step, Test, Top, TopSpec, Window,
};
