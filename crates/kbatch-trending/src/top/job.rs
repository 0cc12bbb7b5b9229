//! `TopJob`: the engine job behind `kbatch top`.
//!
//! Per record, in this order (each step ends the record's journey when it decides):
//!
//! 0. a batch wholly in range whose header proves no record passes the timestamp filters is
//!    skipped undecoded by the engine ([`Job::timestamps`]) → its records filtered;
//! 1. record filters (partition, timestamp, key, headers), before any JSON is read → filtered;
//! 2. the value's verdict (tombstone, empty, bad_utf8, bad_json, not_object, duplicate_field)
//!    → invalid;
//! 3. field filters → filtered (a missing path or a type that does not compare included);
//! 4. the group, item and metric paths: an object, array, `null` or a path blocked on the way
//!    → `wrong_type`; else a missing one → `missing_field` (invalid); for `sum`, a value that
//!    is not a number, or not summable exactly, → `wrong_type`;
//! 5. the (window, group, item) cell's metric state is updated.
//!
//! Trending's question (`--group category --item product`, counted, no field filter, no window)
//! runs on trending's own fast path and table; records the fast path does not settle as valid
//! are scanned again by the general path scanner, whose verdicts are the reference.

use std::borrow::Cow;
use std::io::Write as _;

use cardinality_estimator::CardinalityEstimator;
use kbatch_engine::{Job, JobError, PartitionSpec, PartitionStats};
use kbatch_records::{Record, TimeBounds};
use kbatch_schema::avro::{Field, Walk, Walker};

use crate::extract::paths::{extract_paths, PathTree, Val};
use crate::extract::{Extractor, Invalid};
use crate::invalids::Invalids;
use crate::job::{Counts, Key};
use crate::top::decimal::{cmp_number_texts, Decimal};
use crate::top::distinct::DistinctSets;
use crate::top::framed::{self, Pending, Resolved, ValueDecoder};
use crate::top::report::{MetricValue, TopColumns, TopPartitionReport, TopReport, TopRow};
use crate::top::shard::{CellState, ShardCell, TopShard};
use crate::top::spec::{Column, Literal, Metric, Op, Path, SpecError, Step, Test, TopSpec};

/// What the cells need of a record once its paths are found (a record, or a buffered framed
/// one).
#[derive(Debug, Clone, Copy)]
struct At<'v> {
    offset: i64,
    timestamp: i64,
    /// The bytes the paths' strings usually lie in (a hint for the table's keys; may be empty).
    value: &'v [u8],
}

impl<'v> At<'v> {
    fn of(record: &Record<'v>) -> At<'v> {
        At {
            offset: record.offset,
            timestamp: record.timestamp,
            value: record.value.unwrap_or_default(),
        }
    }
}

/// `v` emptied, as a vector of values of another lifetime: the same allocation (an empty
/// vector's elements are never read, and collecting into a type of the same layout reuses the
/// buffer), so a partial can keep it between records whose values borrow each record.
fn recycle<'b>(mut v: Vec<Val<'_>>) -> Vec<Val<'b>> {
    v.clear();
    v.into_iter().map(|_| unreachable!("emptied")).collect()
}

/// HyperLogLog++ with 2^14 registers of 6 bits (12 KiB once dense; exact below 128 values):
/// relative standard error 1.04 / √16384 ≈ 0.81 %.
pub type Hll = CardinalityEstimator<[u8], wyhash::WyHash, 14, 6>;

/// Why a `top` report could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopError {
    /// A sum left the exact range (38 significant digits).
    #[error(
        "sum:{path} overflows 38 significant digits for group {group:?}, item {item:?}; the sum is exact or not reported"
    )]
    SumOverflow {
        /// The summed path.
        path: String,
        /// The group values.
        group: Vec<String>,
        /// The item.
        item: String,
    },
    /// A shard's partial does not belong to this question.
    #[error("shard partial does not match the spec: {0}")]
    Shard(String),
}

/// A compiled `TopSpec`, run by the engine.
#[derive(Debug, Clone)]
pub struct TopJob {
    spec: TopSpec,
    tree: PathTree,
    /// Slot of each group path, the item, the metric path.
    group: Vec<usize>,
    item: usize,
    metric: Option<usize>,
    /// Field filters by slot.
    fields: Vec<(usize, Test)>,
    /// Record filters (partition filters are `allowed`).
    records: Vec<(Column, Test)>,
    /// Partition filter, by partition index, once bound to a run's specs.
    allowed: Option<Vec<bool>>,
    partitions: Option<Vec<i32>>,
    /// Every path is top-level `category` or `product`: (slot of category, slot of product).
    fast: Option<(Option<usize>, Option<usize>)>,
    /// Exactly trending's counting: the fast path straight into the pair table.
    pairs: bool,
    /// The group key is the one group value itself (one group path, no window).
    raw_group: bool,
    /// Registry-framed values: decoded per fetched chunk, paths read from the decoded record.
    framed: Option<std::sync::Arc<ValueDecoder>>,
    /// Each slot's steps (for framed values; JSON uses `tree`).
    steps: Vec<Vec<Step>>,
    /// The topic of each partition index of the run ([`TopJob::bind`]).
    topics: Vec<std::sync::Arc<str>>,
    /// Group and item values must be strings (trending's question, which calls a number
    /// `wrong_type`).
    strings_only: bool,
    /// JSON Schema values: the JSON after the Confluent prefix, read by the JSON scanner (a
    /// value that is not framed is `not_framed`).
    json_after_prefix: bool,
    /// Avro values: the paths as record field names, for the schema crate's field reader
    /// (`None`: a path has an index step, and every value is decoded).
    pub(crate) walk_paths: Option<Vec<Vec<String>>>,
}

/// Per-metric cell tables: each (window+group, item) is one entry of the trending table.
#[derive(Debug, Clone)]
enum Cells {
    Count(Counts<u64>),
    Sum(Counts<Option<Decimal>>),
    /// Each cell's number in the sets, and the sets.
    Distinct(Counts<u32>, DistinctSets),
    Approx(Counts<Box<Hll>>),
}

/// One worker's state for [`TopJob`].
#[derive(Debug, Clone)]
pub struct TopPartial {
    cells: Cells,
    invalid: Invalids,
    filtered: Vec<u64>,
    extractor: Extractor,
    /// Reused per record: the paths' values are borrowed from the record, so only the
    /// allocation is kept (as `Val<'static>`, always empty between records).
    scratch: Vec<u8>,
    /// The allocation of the paths' values, reused from record to record (empty between
    /// records: the values borrow the record, see [`recycle`]).
    vals: Vec<Val<'static>>,
    /// Records counted into a partial made from a shard (`finish` takes the engine's).
    shard_records: u64,
    shard_filtered: u64,
    /// Framed values of the current chunk, decoded at `chunk_done`.
    pending: Pending,
    /// Avro field readers by (partition, writer id); `None`: that writer's values are decoded.
    pub(crate) walkers: Vec<(usize, u32, Option<std::sync::Arc<Walker>>)>,
    /// Reused per walked record (always empty between records, so any lifetime fits).
    fields: Vec<Field<'static>>,
    /// Reused per walked record: the text of its integers.
    text: Vec<u8>,
}

impl TopJob {
    /// Compile a spec (checked again here; its paths are fixed from now on).
    pub fn new(spec: TopSpec) -> Result<TopJob, SpecError> {
        spec.check()?;
        // One slot per distinct path, whatever its roles.
        fn slot<'s>(p: &'s Path, paths: &mut Vec<&'s Path>) -> usize {
            match paths.iter().position(|q| q.steps == p.steps) {
                Some(i) => i,
                None => {
                    paths.push(p);
                    paths.len() - 1
                }
            }
        }
        let mut paths: Vec<&Path> = Vec::new();
        let group: Vec<usize> = spec.group.iter().map(|p| slot(p, &mut paths)).collect();
        let item = slot(&spec.item, &mut paths);
        let metric = spec.metric.path().map(|p| slot(p, &mut paths));
        let mut fields = Vec::new();
        let mut records = Vec::new();
        for f in &spec.filters {
            match &f.column {
                Column::Field(p) => fields.push((slot(p, &mut paths), f.test.clone())),
                Column::Partition => {}
                c => records.push((c.clone(), f.test.clone())),
            }
        }
        let steps: Vec<&[crate::top::spec::Step]> =
            paths.iter().map(|p| p.steps.as_slice()).collect();
        let tree = PathTree::new(&steps).ok_or_else(|| SpecError {
            what: "path",
            text: paths
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            why: format!(
                "expected at most {} distinct keys under one object and paths at most {} steps deep",
                crate::extract::paths::MAX_FANOUT,
                crate::extract::MAX_DEPTH
            ),
        })?;
        let fast = if paths
            .iter()
            .all(|p| p.is_key("category") || p.is_key("product"))
        {
            let find = |k: &str| paths.iter().position(|p| p.is_key(k));
            Some((find("category"), find("product")))
        } else {
            None
        };
        let raw_group = spec.group.len() == 1 && spec.window.is_none();
        let pairs = fast.is_some()
            && spec.group.len() == 1
            && spec.group[0].is_key("category")
            && spec.item.is_key("product")
            && spec.metric == Metric::Count
            && fields.is_empty()
            && spec.window.is_none();
        let partitions = spec.partitions();
        let steps = paths.iter().map(|p| p.steps.clone()).collect();
        Ok(TopJob {
            spec,
            tree,
            group,
            item,
            metric,
            fields,
            records,
            allowed: None,
            partitions,
            fast,
            pairs,
            raw_group,
            framed: None,
            steps,
            topics: Vec::new(),
            strings_only: false,
            json_after_prefix: false,
            walk_paths: None,
        })
    }

    /// Read registry-framed values (`--value-format avro`) with `decoder`: each fetched
    /// chunk's values are decoded at once and the paths read from the decoded records (see
    /// `framed`); only the top-level fields the paths start with are decoded. Needs
    /// [`TopJob::bind`] (the decoder works per topic).
    pub fn with_decoder(mut self, decoder: ValueDecoder) -> TopJob {
        if decoder.format() == kbatch_schema::ValueFormat::JsonSchema {
            // Its values are JSON: the prefix is split off per record and the JSON path runs
            // (the registry is not asked; the JSON is judged as any event is).
            self.json_after_prefix = true;
            return self;
        }
        let mut fields: Vec<String> = Vec::new();
        for steps in &self.steps {
            if let Some(Step::Key(k)) = steps.first() {
                if !fields.contains(k) {
                    fields.push(k.clone());
                }
            }
        }
        if decoder.format() == kbatch_schema::ValueFormat::Avro {
            self.walk_paths = self
                .steps
                .iter()
                .map(|steps| {
                    steps
                        .iter()
                        .map(|s| match s {
                            Step::Key(k) => Some(k.clone()),
                            Step::Index(_) => None,
                        })
                        .collect::<Option<Vec<String>>>()
                })
                .collect();
        }
        self.framed = Some(std::sync::Arc::new(framed::project(decoder, fields)));
        self
    }

    /// Trending's question on framed values: [`TopSpec::trending`], with a group or item that
    /// is not a string (a number, a boolean) `wrong_type`, as trending's JSON extractor says.
    pub fn trending(top: u32, strict: bool, decoder: ValueDecoder) -> TopJob {
        let mut spec = TopSpec::trending(u64::from(top));
        spec.strict = strict;
        let mut job = TopJob::new(spec)
            .expect("trending's spec is valid")
            .with_decoder(decoder);
        job.strings_only = true;
        job
    }

    /// The question.
    pub fn spec(&self) -> &TopSpec {
        &self.spec
    }

    /// Tell the job which partition each index of a run is, so `partition` filters hold per
    /// record too. Needed only when the spec has partition filters and the run's plan was not
    /// narrowed by [`TopSpec::narrow`]; without it, such a spec fails the run at its first
    /// record rather than guess.
    pub fn bind(&mut self, specs: &[PartitionSpec]) {
        self.topics = specs.iter().map(|s| s.topic.clone()).collect();
        if let Some(ids) = &self.partitions {
            self.allowed = Some(specs.iter().map(|s| ids.contains(&s.partition)).collect());
        }
    }

    fn cells(&self) -> Cells {
        match self.spec.metric {
            Metric::Count => Cells::Count(Counts::default()),
            Metric::Sum(_) => Cells::Sum(Counts::default()),
            Metric::Distinct(_) => Cells::Distinct(Counts::default(), DistinctSets::default()),
            Metric::ApproxDistinct(_) => Cells::Approx(Counts::default()),
        }
    }

    /// Record-level filters: partition, timestamp, key, headers.
    #[inline]
    fn record_passes(&self, partition: usize, record: &Record<'_>) -> Result<bool, JobError> {
        if self.partitions.is_some() {
            match &self.allowed {
                Some(a) => {
                    if !a.get(partition).copied().unwrap_or(false) {
                        return Ok(false);
                    }
                }
                None => {
                    return Err(JobError::Fail {
                        offset: record.offset,
                        message: "a partition filter needs TopJob::bind (or a plan narrowed by TopSpec::narrow)".into(),
                    })
                }
            }
        }
        for (column, test) in &self.records {
            let pass = match column {
                Column::Timestamp => int_test(record.timestamp, test),
                Column::Key => bytes_test(record.key.map(Some), test),
                Column::Header(name) => {
                    let mut last = None;
                    for (k, v) in record.headers().flatten() {
                        if k == name.as_bytes() {
                            last = Some(v);
                        }
                    }
                    bytes_test(last, test)
                }
                Column::Partition | Column::Field(_) => true,
            };
            if !pass {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn fail(&self, offset: i64, why: Invalid) -> JobError {
        JobError::Fail {
            offset,
            message: format!("invalid event ({})", why.as_str()),
        }
    }

    /// The general path: every slot's value, then filters, roles and the metric.
    fn update_vals(
        &self,
        p: &mut TopPartial,
        partition: usize,
        record: At<'_>,
        vals: &[Val<'_>],
    ) -> Result<(), JobError> {
        for (slot, test) in &self.fields {
            if !field_test(&vals[*slot], test) {
                p.filtered_mut(partition);
                return Ok(());
            }
        }
        let required = self.group.iter().chain([&self.item]).chain(&self.metric);
        let mut missing = false;
        for &s in required {
            match &vals[s] {
                Val::Missing => missing = true,
                Val::Blocked | Val::Null | Val::Object | Val::Array => {
                    return self.invalid(p, partition, record.offset, Invalid::WrongType)
                }
                // Trending's question on framed values: category and product are strings.
                Val::Num(_) | Val::Bool(_) if self.strings_only && self.metric != Some(s) => {
                    return self.invalid(p, partition, record.offset, Invalid::WrongType)
                }
                _ => {}
            }
        }
        let sum = match (&self.spec.metric, self.metric) {
            (Metric::Sum(_), Some(m)) => match &vals[m] {
                Val::Num(t) => match Decimal::parse(t) {
                    Some(d) => Some(d),
                    None => return self.invalid(p, partition, record.offset, Invalid::WrongType),
                },
                Val::Missing => None,
                _ => return self.invalid(p, partition, record.offset, Invalid::WrongType),
            },
            _ => None,
        };
        if missing {
            return self.invalid(p, partition, record.offset, Invalid::MissingField);
        }
        let text = |s: usize| vals[s].text().unwrap_or_default();
        let value = record.value;
        let mut scratch = std::mem::take(&mut p.scratch);
        let group: &[u8] = if self.raw_group {
            text(self.group[0])
        } else {
            scratch.clear();
            if let Some(w) = self.spec.window {
                scratch.extend_from_slice(&w.start(record.timestamp).to_be_bytes());
            }
            for &g in &self.group {
                let t = text(g);
                scratch.extend_from_slice(&(t.len() as u32).to_le_bytes());
                scratch.extend_from_slice(t);
            }
            &scratch
        };
        let (g, i) = (
            Key::within(value, group),
            Key::within(value, text(self.item)),
        );
        match &mut p.cells {
            Cells::Count(c) => c.count(g, i, 1),
            Cells::Sum(c) => {
                let acc = c.entry(g, i, || Some(Decimal::default()));
                *acc = acc.and_then(|a| a.checked_add(sum.unwrap_or_default()));
            }
            Cells::Distinct(c, sets) => {
                let next = c.len() as u32;
                let cell = *c.entry(g, i, || next);
                sets.insert(cell, text(self.metric.unwrap_or(self.item)));
            }
            Cells::Approx(c) => {
                c.entry(g, i, || Box::new(Hll::new()))
                    .insert(text(self.metric.unwrap_or(self.item)));
            }
        }
        p.scratch = scratch;
        Ok(())
    }

    fn invalid(
        &self,
        p: &mut TopPartial,
        partition: usize,
        offset: i64,
        why: Invalid,
    ) -> Result<(), JobError> {
        if self.spec.strict {
            return Err(self.fail(offset, why));
        }
        p.invalid.note(partition, offset, why);
        Ok(())
    }

    /// Records counted and the figures of a merged partial, ranked.
    fn rank(&self, p: &mut TopPartial) -> Result<Vec<TopRow>, TopError> {
        p.seal();
        let p = &*p;
        let windowed = self.spec.window.is_some();
        let decode = |g: &[u8]| -> (Option<i64>, Vec<Vec<u8>>) {
            if self.raw_group {
                return (None, vec![g.to_vec()]);
            }
            let mut rest = g;
            let mut ws = None;
            if windowed {
                let (w, r) = rest.split_at(8);
                ws = Some(i64::from_be_bytes(w.try_into().expect("8 bytes")));
                rest = r;
            }
            let mut out = Vec::with_capacity(self.group.len());
            while !rest.is_empty() {
                let (n, r) = rest.split_at(4);
                let n = u32::from_le_bytes(n.try_into().expect("4 bytes")) as usize;
                out.push(r[..n].to_vec());
                rest = &r[n..];
            }
            (ws, out)
        };
        type Cell = (Option<i64>, Vec<Vec<u8>>, Vec<u8>, MetricValue);
        let mut cells: Vec<Cell> = Vec::new();
        let mut push = |g: &[u8], i: &[u8], v: MetricValue| {
            let (ws, group) = decode(g);
            cells.push((ws, group, i.to_vec(), v));
        };
        match &p.cells {
            Cells::Count(c) => c
                .iter()
                .for_each(|(g, i, n)| push(g, i, MetricValue::Count(*n))),
            Cells::Distinct(c, sets) => c
                .iter()
                .for_each(|(g, i, cell)| push(g, i, MetricValue::Count(sets.size(*cell)))),
            Cells::Approx(c) => c
                .iter()
                .for_each(|(g, i, h)| push(g, i, MetricValue::Count(h.estimate() as u64))),
            Cells::Sum(c) => {
                let mut scale = 0;
                for (g, i, s) in c.iter() {
                    let Some(s) = s else {
                        let (_, group) = decode(g);
                        return Err(self.overflow(group, i));
                    };
                    scale = scale.max(s.scale);
                }
                for (g, i, s) in c.iter() {
                    let d = s.and_then(|s| s.rescale(scale));
                    let Some(d) = d else {
                        let (_, group) = decode(g);
                        return Err(self.overflow(group, i));
                    };
                    push(g, i, MetricValue::Sum(d));
                }
            }
        }
        // Window, group (byte-wise, path by path), value descending, item (byte-wise).
        cells.sort_unstable_by(|a, b| {
            (a.0, &a.1)
                .cmp(&(b.0, &b.1))
                .then(b.3.cmp(&a.3))
                .then(a.2.cmp(&b.2))
        });
        let top = self.spec.top.limit();
        let mut rows = Vec::new();
        let mut k = 0;
        while k < cells.len() {
            let mut end = k;
            while end < cells.len() && cells[end].0 == cells[k].0 && cells[end].1 == cells[k].1 {
                end += 1;
            }
            let mut rank = 0u64;
            let mut prev = None;
            for (j, c) in cells[k..end].iter().enumerate() {
                if prev != Some(c.3) {
                    rank = j as u64 + 1;
                    prev = Some(c.3);
                }
                if rank > top {
                    break;
                }
                rows.push(TopRow {
                    window_start: c.0,
                    group: c.1.iter().map(|g| lossless(g)).collect(),
                    item: lossless(&c.2),
                    value: c.3,
                    rank,
                });
            }
            k = end;
        }
        Ok(rows)
    }

    /// A framed record judged as it comes: its verdict before decoding (tombstone, empty,
    /// not_framed), or its paths read from the Avro binary by the schema crate's field
    /// reader, which answers exactly as the decoded column would or declines. `false`: the
    /// record must wait for `chunk_done`'s decoder (no reader for its writer id yet, or a
    /// declined value).
    fn walk(
        &self,
        decoder: &ValueDecoder,
        p: &mut TopPartial,
        partition: usize,
        record: &Record<'_>,
    ) -> Result<bool, JobError> {
        let value = match record.value {
            None => Err(Invalid::Tombstone),
            Some([]) => Err(Invalid::Empty),
            Some(v) => Ok(v),
        };
        let framed = value.and_then(|v| {
            kbatch_schema::framing::split(v)
                .map(|f| (v, f))
                .map_err(|_| Invalid::NotFramed)
        });
        let (value, f) = match framed {
            Ok(vf) => vf,
            Err(why) => {
                self.invalid(p, partition, record.offset, why)?;
                return Ok(true);
            }
        };
        let (Some(paths), kbatch_schema::ColumnDecoder::Avro(avro)) = (&self.walk_paths, decoder)
        else {
            return Ok(false);
        };
        let known = p
            .walkers
            .iter()
            .find(|(pt, id, _)| *pt == partition && *id == f.id)
            .map(|(_, _, w)| w.clone());
        let walker = match known {
            Some(w) => w,
            None => {
                let Some(topic) = self.topics.get(partition) else {
                    return Ok(false);
                };
                let w = match avro.walker(topic, f.id, paths) {
                    Walk::NotYet => return Ok(false),
                    Walk::Unsupported => None,
                    Walk::Ready(w) => Some(w),
                };
                p.walkers.push((partition, f.id, w.clone()));
                w
            }
        };
        let Some(walker) = walker else {
            return Ok(false);
        };
        let mut fields: Vec<Field<'_>> = std::mem::take(&mut p.fields)
            .into_iter()
            .map(|_| unreachable!("kept empty"))
            .collect();
        let read = walker.read(f.body, &mut fields);
        let done = if read {
            let at = At::of(record);
            self.walked(p, partition, at, value, &fields).map(|()| true)
        } else {
            Ok(false)
        };
        fields.clear();
        p.fields = fields
            .into_iter()
            .map(|_| unreachable!("cleared"))
            .collect();
        done
    }

    /// A walked record's paths (`fields`, by slot) into the cells, as `decode_pending` puts
    /// a decoded one.
    fn walked(
        &self,
        p: &mut TopPartial,
        partition: usize,
        at: At<'_>,
        value: &[u8],
        fields: &[Field<'_>],
    ) -> Result<(), JobError> {
        if let (Cells::Count(counts), true, [Field::Str(a), Field::Str(b)]) =
            (&mut p.cells, self.pairs, fields)
        {
            // Trending's question: both strings, straight into the pair table.
            let (g, i) = if self.group[0] == 0 { (a, b) } else { (b, a) };
            counts.count(Key::within(value, g), Key::within(value, i), 1);
            return Ok(());
        }
        let mut text = std::mem::take(&mut p.text);
        text.clear();
        let mut ends = Vec::with_capacity(fields.len());
        for f in fields {
            if let Field::Int(n) = f {
                let _ = write!(text, "{n}");
            }
            ends.push(text.len());
        }
        let vals: Vec<Val<'_>> = fields
            .iter()
            .enumerate()
            .map(|(k, f)| match *f {
                Field::Missing => Val::Missing,
                Field::Blocked => Val::Blocked,
                Field::Null => Val::Null,
                Field::Object => Val::Object,
                Field::Array => Val::Array,
                Field::Str(s) => Val::Str(Cow::Borrowed(s)),
                Field::Bool(b) => Val::Bool(b),
                Field::Int(_) => {
                    let start = if k == 0 { 0 } else { ends[k - 1] };
                    Val::Num(&text[start..ends[k]])
                }
            })
            .collect();
        let r = self.update_vals(p, partition, at, &vals);
        drop(vals);
        p.text = text;
        r
    }

    /// The chunk's framed values: decoded at once, then each record, in offset order, gets
    /// its verdict or its cells, as `update` gives a JSON record.
    fn decode_pending(&self, p: &mut TopPartial) -> Result<(), JobError> {
        let Some(decoder) = &self.framed else {
            return Ok(());
        };
        let pending = std::mem::take(&mut p.pending);
        let Some(first) = pending.rows.first() else {
            p.pending = pending;
            return Ok(());
        };
        let topic = self
            .topics
            .get(first.partition)
            .ok_or_else(|| JobError::Fail {
                offset: first.offset,
                message: "framed values need TopJob::bind (the decoder works per topic)".into(),
            })?;
        let values = pending.values();
        let framed_rows: Vec<usize> = (0..pending.rows.len())
            .filter(|&i| pending.rows[i].verdict.is_none())
            .collect();
        let decoded = if values.is_empty() {
            None
        } else {
            Some(
                framed::decode_framed(decoder, topic, &values).map_err(|(i, e)| {
                    JobError::Fail {
                        offset: pending.rows[framed_rows[i]].offset,
                        message: e.to_string(),
                    }
                })?,
            )
        };
        // Each segment's paths, resolved once.
        let resolved: Vec<Option<Vec<Resolved<'_, '_>>>> = decoded
            .as_ref()
            .map(|d| {
                d.segments
                    .iter()
                    .map(|a| {
                        framed::is_object(a.as_ref()).then(|| {
                            self.steps
                                .iter()
                                .map(|s| Resolved::new(a.as_ref(), s))
                                .collect()
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut arena = Vec::new();
        let mut found = Vec::with_capacity(self.steps.len());
        let mut vals_buf: Vec<Val<'static>> = Vec::with_capacity(self.steps.len());
        let mut k = 0;
        for row in &pending.rows {
            if let Some(why) = row.verdict {
                self.invalid(p, row.partition, row.offset, why)?;
                continue;
            }
            let place = decoded.as_ref().and_then(|d| d.place[k]);
            k += 1;
            let Some((seg, r)) = place else {
                self.invalid(p, row.partition, row.offset, Invalid::Undecodable)?;
                continue;
            };
            let segment = &decoded.as_ref().expect("placed").segments[seg];
            let Some(paths) = resolved[seg].as_ref().filter(|_| !segment.is_null(r)) else {
                // A value that is not a record (or map) is no object, as in JSON.
                self.invalid(p, row.partition, row.offset, Invalid::NotObject)?;
                continue;
            };
            arena.clear();
            found.clear();
            let mut verdict = Ok(());
            for path in paths {
                match path.get(r, &mut arena) {
                    Ok(f) => found.push(f),
                    Err(why) => {
                        verdict = Err(why);
                        break;
                    }
                }
            }
            if let Err(why) = verdict {
                self.invalid(p, row.partition, row.offset, why)?;
                continue;
            }
            // The allocation of the last row's values, reused (empty, so any lifetime fits).
            let mut vals: Vec<Val<'_>> = std::mem::take(&mut vals_buf)
                .into_iter()
                .map(|_| unreachable!("kept empty"))
                .collect();
            vals.extend(found.drain(..).map(|f| f.val(&arena)));
            match (&mut p.cells, self.pairs, vals.as_slice()) {
                // Trending's question: both strings, straight into the pair table.
                (Cells::Count(counts), true, [Val::Str(a), Val::Str(b)]) => {
                    let (g, i) = if self.group[0] == 0 { (a, b) } else { (b, a) };
                    counts.count(Key::within(g, g), Key::within(i, i), 1);
                }
                _ => {
                    let at = At {
                        offset: row.offset,
                        timestamp: row.timestamp,
                        value: &[],
                    };
                    self.update_vals(p, row.partition, at, &vals)?;
                }
            }
            vals.clear();
            vals_buf = vals.into_iter().map(|_| unreachable!("cleared")).collect();
        }
        p.pending = pending;
        p.pending.clear();
        Ok(())
    }

    fn overflow(&self, group: Vec<Vec<u8>>, item: &[u8]) -> TopError {
        TopError::SumOverflow {
            path: self
                .spec
                .metric
                .path()
                .map_or_else(String::new, |p| p.name.clone()),
            group: group.iter().map(|g| lossless(g)).collect(),
            item: lossless(item),
        }
    }

    fn columns(&self) -> TopColumns {
        TopColumns {
            group: self.spec.group.iter().map(|p| p.name.clone()).collect(),
            item: self.spec.item.name.clone(),
            windowed: self.spec.window.is_some(),
        }
    }

    /// The merged partial as plain data (see [`TopShard`]).
    pub fn shard(&self, mut p: TopPartial, stats: &[PartitionStats]) -> TopShard {
        p.seal();
        let windowed = self.spec.window.is_some();
        let raw = self.raw_group;
        let decode = move |g: &[u8]| -> (Option<i64>, Vec<String>) {
            if raw {
                return (None, vec![lossless(g)]);
            }
            let mut rest = g;
            let mut ws = None;
            if windowed {
                let (w, r) = rest.split_at(8);
                ws = Some(i64::from_be_bytes(w.try_into().expect("8 bytes")));
                rest = r;
            }
            let mut out = Vec::new();
            while !rest.is_empty() {
                let (n, r) = rest.split_at(4);
                let n = u32::from_le_bytes(n.try_into().expect("4 bytes")) as usize;
                out.push(lossless(&r[..n]));
                rest = &r[n..];
            }
            (ws, out)
        };
        let mut cells = Vec::new();
        let mut push = |g: &[u8], item: &[u8], state: CellState| {
            let (window_start, group) = decode(g);
            cells.push(ShardCell {
                window_start,
                group,
                item: lossless(item),
                state,
            });
        };
        match p.cells {
            Cells::Count(c) => c
                .iter()
                .for_each(|(g, i, n)| push(g, i, CellState::Count(*n))),
            Cells::Sum(c) => c.iter().for_each(|(g, i, s)| {
                push(
                    g,
                    i,
                    match s {
                        Some(d) => CellState::Sum {
                            units: d.units.to_string(),
                            scale: d.scale,
                        },
                        None => CellState::SumOverflow,
                    },
                )
            }),
            Cells::Distinct(c, sets) => {
                let by_cell = sets.by_cell();
                c.iter().for_each(|(g, i, cell)| {
                    let mut v: Vec<String> = by_cell
                        .get(*cell as usize)
                        .map(|vs| vs.iter().map(|b| lossless(b)).collect())
                        .unwrap_or_default();
                    v.sort_unstable();
                    push(g, i, CellState::Distinct(v))
                })
            }
            Cells::Approx(c) => c
                .iter()
                .for_each(|(g, i, h)| push(g, i, CellState::ApproxDistinct((**h).clone()))),
        }
        cells.sort_unstable_by(|a, b| {
            (a.window_start, &a.group, &a.item).cmp(&(b.window_start, &b.group, &b.item))
        });
        // Records of batches skipped by their header failed the timestamp filters.
        let skipped: u64 = stats.iter().map(|s| s.skipped).sum();
        let records = if stats.is_empty() {
            p.shard_records
        } else {
            stats.iter().map(|s| s.records).sum::<u64>() + skipped
        };
        TopShard {
            records,
            filtered: p.filtered.iter().sum::<u64>() + p.shard_filtered + skipped,
            invalid: p
                .invalid
                .by_reason()
                .filter(|&(_, n)| n > 0)
                .map(|(w, n)| (w.as_str().to_string(), n))
                .collect(),
            cells,
        }
    }

    /// A partial holding a shard's figures, to merge with others.
    pub fn partial_from_shard(&self, shard: &TopShard) -> Result<TopPartial, TopError> {
        let mut p = self.partial();
        p.shard_records = shard.records;
        p.shard_filtered = shard.filtered;
        for (reason, n) in &shard.invalid {
            let why = Invalid::ALL
                .iter()
                .find(|w| w.as_str() == reason)
                .ok_or_else(|| TopError::Shard(format!("unknown reason {reason:?}")))?;
            p.invalid.add_reason(*why, *n);
        }
        let windowed = self.spec.window.is_some();
        let mut key = Vec::new();
        for c in &shard.cells {
            if c.group.len() != self.group.len() || c.window_start.is_some() != windowed {
                return Err(TopError::Shard(format!(
                    "a cell with {} group values{} for a spec with {}{}",
                    c.group.len(),
                    if c.window_start.is_some() {
                        " and a window"
                    } else {
                        ""
                    },
                    self.group.len(),
                    if windowed { " and a window" } else { "" },
                )));
            }
            key.clear();
            if self.raw_group {
                key.extend_from_slice(c.group[0].as_bytes());
            } else {
                if let Some(w) = c.window_start {
                    key.extend_from_slice(&w.to_be_bytes());
                }
                for g in &c.group {
                    key.extend_from_slice(&(g.len() as u32).to_le_bytes());
                    key.extend_from_slice(g.as_bytes());
                }
            }
            let (g, i) = (
                Key::within(&key, &key),
                Key::within(c.item.as_bytes(), c.item.as_bytes()),
            );
            match (&mut p.cells, &c.state) {
                (Cells::Count(t), CellState::Count(n)) => t.count(g, i, *n),
                (Cells::Sum(t), CellState::Sum { units, scale }) => {
                    let d = units
                        .parse::<i128>()
                        .ok()
                        .filter(|_| *scale <= crate::top::decimal::MAX_SCALE)
                        .map(|units| Decimal {
                            units,
                            scale: *scale,
                        })
                        .ok_or_else(|| TopError::Shard(format!("bad sum {units:?}")))?;
                    let acc = t.entry(g, i, || Some(Decimal::default()));
                    *acc = acc.and_then(|a| a.checked_add(d));
                }
                (Cells::Sum(t), CellState::SumOverflow) => {
                    *t.entry(g, i, || None) = None;
                }
                (Cells::Distinct(t, sets), CellState::Distinct(vs)) => {
                    let next = t.len() as u32;
                    let cell = *t.entry(g, i, || next);
                    for v in vs {
                        sets.insert(cell, v.as_bytes());
                    }
                }
                (Cells::Approx(t), CellState::ApproxDistinct(h)) => {
                    t.entry(g, i, || Box::new(Hll::new())).merge(h);
                }
                _ => {
                    return Err(TopError::Shard(format!(
                        "a cell's state does not fit the metric {:?}",
                        self.spec.metric
                    )))
                }
            }
        }
        Ok(p)
    }

    /// Merge shards' partials (any order, any split) and rank them: the report of one run
    /// over their union, without per-partition figures and samples.
    pub fn report_from_shards(
        &self,
        shards: impl IntoIterator<Item = TopShard>,
    ) -> Result<TopReport, TopError> {
        let mut acc = self.partial();
        for s in shards {
            let p = self.partial_from_shard(&s)?;
            self.merge(&mut acc, p);
        }
        let top = self.rank(&mut acc)?;
        Ok(TopReport {
            records: acc.shard_records,
            invalid: acc.invalid.total_by_reason(),
            filtered: acc.shard_filtered,
            partitions: Vec::new(),
            columns: self.columns(),
            top,
            invalid_samples: Vec::new(),
        })
    }
}

/// Category and product as the fast path found them.
type Both<'v> = (Cow<'v, [u8]>, Cow<'v, [u8]>);

/// `s` as a slice of `value` when it is one (the extractor's strings without escapes),
/// else a copy (unescaped strings).
fn borrow_in<'v>(value: &'v [u8], s: &[u8]) -> Cow<'v, [u8]> {
    let at = (s.as_ptr() as usize).wrapping_sub(value.as_ptr() as usize);
    match value.get(at..).and_then(|rest| rest.get(..s.len())) {
        Some(inside) if inside.as_ptr() == s.as_ptr() => Cow::Borrowed(inside),
        _ => Cow::Owned(s.to_vec()),
    }
}

/// The extractor validated the whole value as UTF-8, and unescaping makes UTF-8: nothing is
/// ever replaced here.
fn lossless(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn text_eq(v: &[u8], l: &Literal) -> Option<bool> {
    match l {
        Literal::Text(t) => Some(v == t.as_bytes()),
        Literal::Number(_) | Literal::Int(_) => None,
    }
}

/// A value compared with a literal: `None` if they do not compare (SQL's NULL).
fn val_cmp(v: &Val<'_>, l: &Literal) -> Option<std::cmp::Ordering> {
    match l {
        Literal::Text(t) => {
            let text = v.text()?;
            Some(if text == t.as_bytes() {
                std::cmp::Ordering::Equal
            } else {
                text.cmp(t.as_bytes())
            })
        }
        Literal::Number(n) => match v {
            Val::Num(x) => cmp_number_texts(x, n.as_bytes()),
            _ => None,
        },
        Literal::Int(_) => None,
    }
}

/// A field filter on a path's value.
fn field_test(v: &Val<'_>, test: &Test) -> bool {
    match test {
        Test::Exists => v.exists(),
        Test::Cmp(op, l) => val_cmp(v, l).is_some_and(|o| op.holds(o)),
        Test::In(ls) => ls
            .iter()
            .any(|l| val_cmp(v, l) == Some(std::cmp::Ordering::Equal)),
        Test::NotIn(ls) => ls
            .iter()
            .all(|l| val_cmp(v, l).is_some_and(|o| o != std::cmp::Ordering::Equal)),
    }
}

/// A key or header test: `None` absent, `Some(None)` present with a null value.
fn bytes_test(v: Option<Option<&[u8]>>, test: &Test) -> bool {
    match test {
        Test::Exists => v.is_some(),
        _ => {
            let Some(Some(b)) = v else { return false };
            match test {
                Test::Cmp(Op::Eq, l) => text_eq(b, l) == Some(true),
                Test::Cmp(Op::Ne, l) => text_eq(b, l) == Some(false),
                Test::In(ls) => ls.iter().any(|l| text_eq(b, l) == Some(true)),
                Test::NotIn(ls) => ls.iter().all(|l| text_eq(b, l) == Some(false)),
                _ => false,
            }
        }
    }
}

fn int_test(v: i64, test: &Test) -> bool {
    let int = |l: &Literal| match l {
        Literal::Int(i) => Some(*i),
        _ => None,
    };
    match test {
        Test::Exists => true,
        Test::Cmp(op, l) => int(l).is_some_and(|i| op.holds(v.cmp(&i))),
        Test::In(ls) => ls.iter().any(|l| int(l) == Some(v)),
        Test::NotIn(ls) => ls.iter().all(|l| int(l).is_some_and(|i| i != v)),
    }
}

impl TopPartial {
    /// Distinct sets made readable (see [`DistinctSets::seal`]): before ranking or shipping.
    fn seal(&mut self) {
        if let Cells::Distinct(_, sets) = &mut self.cells {
            sets.seal();
        }
    }

    fn filtered_mut(&mut self, partition: usize) {
        if self.filtered.len() <= partition {
            self.filtered.resize(partition + 1, 0);
        }
        self.filtered[partition] += 1;
    }

    /// Cells counted so far.
    pub fn cells(&self) -> usize {
        match &self.cells {
            Cells::Count(c) => c.len(),
            Cells::Sum(c) => c.len(),
            Cells::Distinct(c, _) => c.len(),
            Cells::Approx(c) => c.len(),
        }
    }
}

impl Job for TopJob {
    type Partial = TopPartial;
    type Output = Result<TopReport, TopError>;

    fn partial(&self) -> TopPartial {
        TopPartial {
            cells: self.cells(),
            invalid: Invalids::default(),
            filtered: Vec::new(),
            extractor: Extractor::new(),
            scratch: Vec::new(),
            vals: Vec::new(),
            shard_records: 0,
            shard_filtered: 0,
            pending: Pending::default(),
            walkers: Vec::new(),
            fields: Vec::new(),
            text: Vec::new(),
        }
    }

    /// The timestamp filters' bounds: a record outside fails them, as a skipped one would.
    fn timestamps(&self) -> TimeBounds {
        self.spec.timestamps()
    }

    #[inline]
    fn update(
        &self,
        p: &mut TopPartial,
        partition: usize,
        record: &Record<'_>,
    ) -> Result<(), JobError> {
        if (self.partitions.is_some() || !self.records.is_empty())
            && !self.record_passes(partition, record)?
        {
            p.filtered_mut(partition);
            return Ok(());
        }
        if let Some(decoder) = &self.framed {
            // Judged at once when nothing of the chunk waits before it (offset order).
            if p.pending.rows.is_empty() && self.walk(decoder, p, partition, record)? {
                return Ok(());
            }
            p.pending
                .push(partition, record.offset, record.timestamp, record.value);
            return Ok(());
        }
        let mut body;
        let record = match record.value {
            Some(v) if self.json_after_prefix && !v.is_empty() => {
                match kbatch_schema::framing::split(v) {
                    Ok(f) => {
                        body = *record;
                        body.value = Some(f.body);
                        &body
                    }
                    Err(_) => return self.invalid(p, partition, record.offset, Invalid::NotFramed),
                }
            }
            _ => record,
        };
        let Some(value) = record.value else {
            return self.invalid(p, partition, record.offset, Invalid::Tombstone);
        };
        if let Some((cs, ps)) = self.fast {
            if self.pairs {
                if let Cells::Count(counts) = &mut p.cells {
                    let done = p.extractor.with_event(Some(value), |v, c, pr| {
                        counts.count(Key::within(v, c), Key::within(v, pr), 1)
                    });
                    match done {
                        Ok(()) => return Ok(()),
                        Err(why) if settled(why) => {
                            return self.invalid(p, partition, record.offset, why)
                        }
                        Err(_) => {}
                    }
                }
            } else {
                // Both strings found: the general path's answer, without its scan.
                let mut both: Option<Both<'_>> = None;
                let r = p.extractor.with_event(Some(value), |_, c, pr| {
                    both = Some((borrow_in(value, c), borrow_in(value, pr)));
                });
                match r {
                    Ok(()) => {
                        let (c, pr) = both.expect("set on success");
                        let mut vals = vec![Val::Missing; self.tree.slots()];
                        if let Some(s) = cs {
                            vals[s] = Val::Str(c);
                        }
                        if let Some(s) = ps {
                            vals[s] = Val::Str(pr);
                        }
                        return self.update_vals(p, partition, At::of(record), &vals);
                    }
                    Err(why) if settled(why) => {
                        return self.invalid(p, partition, record.offset, why)
                    }
                    Err(_) => {}
                }
            }
        }
        let mut vals = recycle(std::mem::take(&mut p.vals));
        let done = match extract_paths(value, &self.tree, &mut vals) {
            Ok(()) => self.update_vals(p, partition, At::of(record), &vals),
            Err(why) => self.invalid(p, partition, record.offset, why),
        };
        p.vals = recycle(vals);
        done
    }

    fn chunk_done(&self, p: &mut TopPartial) -> Result<(), JobError> {
        if self.framed.is_some() {
            self.decode_pending(p)?;
        }
        Ok(())
    }

    fn merge(&self, into: &mut TopPartial, other: TopPartial) {
        match (&mut into.cells, other.cells) {
            (Cells::Count(a), Cells::Count(b)) => {
                for (g, i, n) in b.iter() {
                    a.count(Key::within(g, g), Key::within(i, i), *n);
                }
            }
            (Cells::Sum(a), Cells::Sum(b)) => {
                for (g, i, s) in b.iter() {
                    let acc = a.entry(Key::within(g, g), Key::within(i, i), || {
                        Some(Decimal::default())
                    });
                    *acc = match (*acc, s) {
                        (Some(x), Some(y)) => x.checked_add(*y),
                        _ => None,
                    };
                }
            }
            (Cells::Distinct(a, into), Cells::Distinct(b, mut sets)) => {
                sets.seal();
                // `other`'s cell numbers, in `into`'s numbering.
                let mut cells = vec![0u32; b.len()];
                for (g, i, cell) in b.iter() {
                    let next = a.len() as u32;
                    cells[*cell as usize] = *a.entry(Key::within(g, g), Key::within(i, i), || next);
                }
                for (cell, v) in sets.iter() {
                    into.insert(cells[cell as usize], &v);
                }
            }
            (Cells::Approx(a), Cells::Approx(b)) => {
                for (g, i, h) in b.iter() {
                    a.entry(
                        Key::within(g, g),
                        Key::within(i, i),
                        || Box::new(Hll::new()),
                    )
                    .merge(h);
                }
            }
            _ => unreachable!("partials of one job have one metric"),
        }
        into.invalid.merge(other.invalid);
        for (i, n) in other.filtered.into_iter().enumerate() {
            if n > 0 {
                if into.filtered.len() <= i {
                    into.filtered.resize(i + 1, 0);
                }
                into.filtered[i] += n;
            }
        }
        into.shard_records += other.shard_records;
        into.shard_filtered += other.shard_filtered;
    }

    fn finish(&self, mut p: TopPartial, stats: &[PartitionStats]) -> Result<TopReport, TopError> {
        let top = self.rank(&mut p)?;
        let mut partitions = Vec::with_capacity(stats.len());
        for (i, s) in stats.iter().enumerate() {
            // Records of batches skipped by their header failed the timestamp filters.
            let mut counts = s.clone();
            counts.records += s.skipped;
            partitions.push(TopPartitionReport {
                counts,
                invalid: p.invalid.count(i),
                filtered: p.filtered.get(i).copied().unwrap_or(0) + s.skipped,
                skipped_batches: s.skipped_batches,
                skipped_records: s.skipped,
            });
        }
        let invalid_samples = p.invalid.samples(stats);
        let skipped: u64 = stats.iter().map(|s| s.skipped).sum();
        Ok(TopReport {
            records: stats.iter().map(|s| s.records).sum::<u64>() + skipped,
            invalid: p.invalid.total(),
            filtered: p.filtered.iter().sum::<u64>() + skipped,
            partitions,
            columns: self.columns(),
            top,
            invalid_samples,
        })
    }
}

/// Verdicts on the value itself, the same for any paths: the fast path's word is final. The
/// others (wrong_type, missing_field) depend on what `top` accepts (numbers, booleans) and on
/// filters, so the general path scanner decides them.
fn settled(why: Invalid) -> bool {
    matches!(
        why,
        Invalid::Tombstone
            | Invalid::Empty
            | Invalid::BadUtf8
            | Invalid::BadJson
            | Invalid::NotObject
            | Invalid::DuplicateField
    )
}

/// The shard job: [`TopJob`]'s counting, finishing with the merged partial as plain data.
#[derive(Debug, Clone)]
pub struct TopShardJob(pub TopJob);

impl Job for TopShardJob {
    type Partial = TopPartial;
    type Output = TopShard;

    fn partial(&self) -> TopPartial {
        self.0.partial()
    }

    fn timestamps(&self) -> TimeBounds {
        self.0.timestamps()
    }

    #[inline]
    fn update(
        &self,
        p: &mut TopPartial,
        partition: usize,
        record: &Record<'_>,
    ) -> Result<(), JobError> {
        self.0.update(p, partition, record)
    }

    fn chunk_done(&self, p: &mut TopPartial) -> Result<(), JobError> {
        self.0.chunk_done(p)
    }

    fn merge(&self, into: &mut TopPartial, other: TopPartial) {
        self.0.merge(into, other)
    }

    fn finish(&self, p: TopPartial, stats: &[PartitionStats]) -> TopShard {
        self.0.shard(p, stats)
    }
}
