//! The trending job: "the top products of every category" from web-browsing events.
//!
//! Roles, in the order records meet them:
//!
//! * the **extractor** ([`extract`]) reads one record value and returns the event's category
//!   and product (unescaped), or an [`Invalid`] reason from a fixed list;
//! * the **partial** ([`Partial`]), one per engine worker, is the interner and the counters in
//!   one map: each distinct (category, product) pair is stored once, as unescaped bytes, with
//!   its count, and a record that repeats a pair is counted by a borrowed probe (no copy, no
//!   allocation); invalid records are counted per partition with their lowest offsets (and
//!   reasons) as samples;
//! * the **job** ([`Trending`]) implements `kbatch_engine::Job`: `update` per record, `merge`
//!   of partials (strings come back here), `finish` into a [`Report`] whose `top` rows carry
//!   the competition rank (1 + products with strictly more views), so `top = 1` keeps every
//!   product tied at the maximum, like the Spark SQL join on `max(count)` it replaces;
//! * the **shard** job ([`Shard`]) runs the same counting over one range and returns the
//!   partial itself as plain data ([`ShardPartial`]: pairs, records, invalid by reason), for
//!   engines that merge shards elsewhere (`kbatch.spark`'s pushdown merges them in Spark);
//! * **renderers** ([`render_table`], [`render_csv`]; JSON is the `Report`'s serde form);
//! * **top** ([`top`]): the same machinery for the user's own question — a [`TopSpec`] of
//!   group and item paths, a metric, filters and windows, run by [`TopJob`]; trending's
//!   question runs there on trending's fast path.
//!
//! Design and invariants: see `DESIGN.md`, section "Trending: `kbatch-trending`".
#![deny(missing_docs)]

mod extract;
mod invalids;
mod job;
mod report;
mod shard;
pub mod top;

#[doc(hidden)]
pub use extract::paths::PathScanner;
pub use extract::{extract, Event, Extractor, Invalid};
pub use invalids::{PartitionInvalid, SAMPLES_PER_PARTITION};
pub use job::{pair_hash, Partial, Trending};
pub use report::{rank, render_csv, render_table, InvalidSample, PartitionReport, Report, TopRow};
pub use shard::{Shard, ShardPartial};
pub use top::{
    render_top_csv, render_top_table, Metric, MetricValue, Path, SpecError, Top, TopError, TopJob,
    TopReport, TopShard, TopShardJob, TopSpec, ValueDecoder, Window,
};

#[cfg(test)]
mod tests;
