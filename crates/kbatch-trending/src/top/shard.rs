//! A `top` partial as plain data, for engines that merge shards elsewhere (Spark).
//!
//! A shard's cells carry *mergeable* state, never a finished number: counts and sums add,
//! `distinct` keeps the set of values, `approx_distinct` the HyperLogLog sketch (its registers
//! merge by maximum). So merging shards in any order and any split of the partitions gives the
//! partial of one run over their union, and [`crate::TopJob::report_from_shards`] ranks it into
//! that run's rows. The serde form (JSON) is what crosses process boundaries.

use serde::{Deserialize, Serialize};

use crate::top::job::Hll;

/// The mergeable state of one (window, group, item) cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellState {
    /// `count`: events.
    Count(u64),
    /// `sum`: exactly `units × 10^-scale` (`units` is an `i128` in decimal text).
    Sum {
        /// Decimal text of an `i128`.
        units: String,
        /// Digits after the point.
        scale: u32,
    },
    /// `sum` that already left the exact range: the merged report fails.
    SumOverflow,
    /// `distinct`: every value's text, sorted.
    Distinct(Vec<String>),
    /// `approx_distinct`: the sketch (cardinality-estimator's serde form).
    ApproxDistinct(Hll),
}

impl PartialEq for CellState {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (CellState::Count(a), CellState::Count(b)) => a == b,
            (
                CellState::Sum { units, scale },
                CellState::Sum {
                    units: u2,
                    scale: s2,
                },
            ) => units == u2 && scale == s2,
            (CellState::SumOverflow, CellState::SumOverflow) => true,
            (CellState::Distinct(a), CellState::Distinct(b)) => a == b,
            (CellState::ApproxDistinct(a), CellState::ApproxDistinct(b)) => {
                a.estimate() == b.estimate()
            }
            _ => false,
        }
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardCell {
    /// Window start (ms since the epoch) when windowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<i64>,
    /// Group values (text), in `--group` order.
    pub group: Vec<String>,
    /// Item value (text).
    pub item: String,
    /// Mergeable metric state.
    pub state: CellState,
}

/// One shard's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopShard {
    /// Data records in the shard's ranges (`valid + invalid + filtered`).
    pub records: u64,
    /// Records some filter did not hold for.
    pub filtered: u64,
    /// Invalid records by reason code (only reasons that occurred), in precedence order.
    pub invalid: Vec<(String, u64)>,
    /// Cells ordered by window, group, item.
    pub cells: Vec<ShardCell>,
}
