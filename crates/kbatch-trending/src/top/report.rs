//! The `top` report, its rows and renderings (table as Spark's `show()`, CSV; JSON by serde,
//! each row's keys in the order of [`TopReport::columns`]).

use serde::ser::{SerializeMap, SerializeStruct};
use serde::Serialize;

use kbatch_engine::PartitionStats;

use crate::report::{csv_field, show_table, InvalidSample};
use crate::top::decimal::Decimal;

/// A ranked value: a count (events, distinct values, estimated distinct values) or an exact
/// decimal sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricValue {
    /// `count`, `distinct`, `approx_distinct`.
    Count(u64),
    /// `sum`: exact; every row of one report has the same scale.
    Sum(Decimal),
}

impl std::fmt::Display for MetricValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricValue::Count(n) => write!(f, "{n}"),
            MetricValue::Sum(d) => write!(f, "{d}"),
        }
    }
}

impl Serialize for MetricValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MetricValue::Count(n) => s.serialize_u64(*n),
            MetricValue::Sum(d) if d.scale == 0 => s.serialize_i128(d.units),
            // An exact decimal token (`12.50`): no float in between.
            MetricValue::Sum(d) => serde_json::value::RawValue::from_string(d.to_string())
                .map_err(serde::ser::Error::custom)?
                .serialize(s),
        }
    }
}

/// One row: a (window, group, item) with its value and competition rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRow {
    /// The window's start, ms since the epoch (windowed reports only).
    pub window_start: Option<i64>,
    /// The group paths' values (their text), in `--group` order.
    pub group: Vec<String>,
    /// The item path's value (its text).
    pub item: String,
    /// The metric.
    pub value: MetricValue,
    /// Competition rank within (window, group): 1 + items with a strictly greater value.
    pub rank: u64,
}

/// One partition's figures: the engine's counts and, among its records, the invalid and the
/// filtered ones (`records = valid + invalid + filtered`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopPartitionReport {
    /// Range and counts.
    #[serde(flatten)]
    pub counts: PartitionStats,
    /// Records that were not valid events.
    pub invalid: u64,
    /// Records some filter did not hold for.
    pub filtered: u64,
    /// Batches skipped whole, never decompressed, because their header proves that no
    /// record passes the timestamp filters.
    pub skipped_batches: u64,
    /// Their records (counted among `filtered`).
    pub skipped_records: u64,
}

/// The report's row columns, as spelled on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopColumns {
    /// Group paths' names.
    pub group: Vec<String>,
    /// The item path's name.
    pub item: String,
    /// Whether rows carry `window_start`.
    pub windowed: bool,
}

impl TopColumns {
    /// Every column in order: groups, item, `value`, `rank`, `window_start`?
    pub fn names(&self) -> Vec<&str> {
        let mut c: Vec<&str> = self.group.iter().map(String::as_str).collect();
        c.push(&self.item);
        c.push("value");
        c.push("rank");
        if self.windowed {
            c.push("window_start");
        }
        c
    }
}

/// The `top` job's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopReport {
    /// Data records in range (`valid + invalid + filtered`).
    pub records: u64,
    /// Records that were not valid events.
    pub invalid: u64,
    /// Records some filter did not hold for.
    pub filtered: u64,
    /// Per partition, in the run's order (empty for a report made from shards).
    pub partitions: Vec<TopPartitionReport>,
    /// Row column names.
    pub columns: TopColumns,
    /// Rows with rank ≤ top, ordered by window, group, rank, item (byte-wise).
    pub top: Vec<TopRow>,
    /// The lowest invalid offsets of each partition, with reasons.
    pub invalid_samples: Vec<InvalidSample>,
}

impl TopRow {
    /// The row's cells as text, in the columns' order.
    pub fn cells(&self) -> Vec<String> {
        let mut c = self.group.clone();
        c.push(self.item.clone());
        c.push(self.value.to_string());
        c.push(self.rank.to_string());
        if let Some(ws) = self.window_start {
            c.push(rfc3339(ws));
        }
        c
    }
}

struct Rows<'a>(&'a TopReport);
struct Row<'a>(&'a TopColumns, &'a TopRow);

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.top.iter().map(|r| Row(&self.0.columns, r)))
    }
}

impl Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (cols, row) = (self.0, self.1);
        let mut m = s.serialize_map(None)?;
        for (name, v) in cols.group.iter().zip(&row.group) {
            m.serialize_entry(name, v)?;
        }
        m.serialize_entry(&cols.item, &row.item)?;
        m.serialize_entry("value", &row.value)?;
        m.serialize_entry("rank", &row.rank)?;
        if cols.windowed {
            m.serialize_entry("window_start", &row.window_start.map(rfc3339))?;
        }
        m.end()
    }
}

impl Serialize for TopReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TopReport", 6)?;
        st.serialize_field("records", &self.records)?;
        st.serialize_field("invalid", &self.invalid)?;
        st.serialize_field("filtered", &self.filtered)?;
        st.serialize_field("partitions", &self.partitions)?;
        st.serialize_field("top", &Rows(self))?;
        st.serialize_field("invalid_samples", &self.invalid_samples)?;
        st.end()
    }
}

/// A time in ms since the epoch as RFC 3339 UTC: `2026-11-24T10:00:00Z`, with `.mmm` only
/// when it has milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000,
    );
    if milli == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm,
/// the inverse of the reader's `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A bordered table like Spark's `show()`: cells right-aligned, nothing truncated.
pub fn render_top_table(report: &TopReport) -> String {
    let header: Vec<String> = report
        .columns
        .names()
        .into_iter()
        .map(String::from)
        .collect();
    let cells: Vec<Vec<String>> = report.top.iter().map(TopRow::cells).collect();
    show_table(&header, &cells)
}

/// The columns as a header line, then one line per row; RFC 4180 quoting, CRLF line ends.
pub fn render_top_csv(report: &TopReport) -> String {
    let mut out = String::new();
    let line = |cells: Vec<String>| -> String {
        let mut l = cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",");
        l.push_str("\r\n");
        l
    };
    out.push_str(&line(
        report
            .columns
            .names()
            .into_iter()
            .map(String::from)
            .collect(),
    ));
    for r in &report.top {
        out.push_str(&line(r.cells()));
    }
    out
}
