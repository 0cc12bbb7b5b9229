//! `TopSpec`, the typed question of `kbatch top`, and its parsers: paths, `--where`
//! expressions, metrics, windows and `--top`. Pure functions; "now" (for relative times such as
//! `-1h`) is an input.
//!
//! Grammar (what the CLI, Python and Spark take as text):
//!
//! | text | meaning |
//! | --- | --- |
//! | `category`, `page.category`, `device.screen.w`, `tags[0]`, `"a.b"`, `a."x y"[2]` | a path into the JSON value: keys separated by `.`, array indices in `[]`; a key with characters other than letters, digits, `_`, `-`, `$` and `@` is written in double quotes (`\"` and `\\` inside) |
//! | `count`, `sum:PATH`, `distinct:PATH`, `approx_distinct:PATH` | the metric |
//! | `PATH = 'text'`, `PATH != 'text'`, `PATH in ('a', 'b')`, `PATH not in (…)` | text comparisons (strings after unescaping, numbers as written, `true`/`false`); a number literal (`PATH = 5`, `in (1, 2)`) compares numerically |
//! | `PATH < 5`, `<=`, `>`, `>=` | numeric comparisons (exact, on the decimal text) |
//! | `exists(PATH)` | the path leads to a value (any, `null` included) |
//! | `key = 'x'`, `key != 'x'`, `key in (…)`, `exists(key)` | the record key (UTF-8 bytes) |
//! | `header.NAME = 'x'`, `!=`, `in (…)`, `exists(header.NAME)` | the record's last header named NAME (as Kafka's `lastHeader`); `header."a.b"` for a name with a dot |
//! | `partition = 0`, `partition in (0, 2)` | the partitions read (they shape the plan) |
//! | `timestamp >= '2026-11-24T10:00:00Z'`, `> @1700000000000`, `< -1h`, `<=`, `=`, `!=` | the record timestamp, times as `--from` takes them |
//!
//! `key`, `partition`, `timestamp` and `header.…` are the record's own columns in `--where`;
//! a JSON field of one of those names is written quoted (`"timestamp" >= 5`), as SQL quotes an
//! identifier that is a keyword. Keywords (`in`, `not`, `exists`) are case-insensitive.
//!
//! A filter that cannot hold — its path missing, `null`, or a type that does not compare —
//! leaves the event *filtered*, as SQL's `WHERE` treats `NULL`.

use std::fmt;

use kbatch_reader::{Bound, Position};
use kbatch_records::TimeBounds;

/// A spec that does not follow the grammar: names what was given and what was expected (the
/// CLI exits with 2 on it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {text:?}: {why}")]
pub struct SpecError {
    /// Which input: `path`, `--group`, `--item`, `--metric`, `--where`, `--window`, `--top`.
    pub what: &'static str,
    /// The text given.
    pub text: String,
    /// What is wrong, naming the column and what was expected.
    pub why: String,
}

impl SpecError {
    fn new(what: &'static str, text: &str, why: impl Into<String>) -> SpecError {
        SpecError {
            what,
            text: text.to_string(),
            why: why.into(),
        }
    }
}

/// One step of a [`Path`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// An object member, by its (unescaped) key.
    Key(String),
    /// An array element, from 0.
    Index(u32),
}

/// A path into the JSON value: `page.category`, `tags[0]`, `"a.b"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    /// As spelled (trimmed): the report's column name.
    pub name: String,
    /// The steps; the first is always a [`Step::Key`].
    pub steps: Vec<Step>,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl std::str::FromStr for Path {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Path, SpecError> {
        Path::parse(s)
    }
}

impl Path {
    /// A one-key path (`category`), spelled as the key.
    pub fn key(name: &str) -> Path {
        Path {
            name: name.to_string(),
            steps: vec![Step::Key(name.to_string())],
        }
    }

    /// Parse one path.
    pub fn parse(text: &str) -> Result<Path, SpecError> {
        let mut lx = Lexer::new(text);
        lx.ws();
        let p = lx.path().map_err(|why| SpecError::new("path", text, why))?;
        lx.ws();
        if !lx.done() {
            return Err(SpecError::new(
                "path",
                text,
                format!(
                    "unexpected {:?} after {}: expected `.KEY` or `[INDEX]`",
                    lx.rest(),
                    p.name
                ),
            ));
        }
        Ok(p)
    }

    /// Parse a comma-separated list of paths (`--group page.category,device.os`); commas
    /// inside quoted keys belong to the key.
    pub fn parse_list(text: &str) -> Result<Vec<Path>, SpecError> {
        let mut lx = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            lx.ws();
            let p = lx.path().map_err(|why| SpecError::new("path", text, why))?;
            out.push(p);
            lx.ws();
            if lx.done() {
                return Ok(out);
            }
            if !lx.eat(b',') {
                return Err(SpecError::new(
                    "path",
                    text,
                    format!(
                        "unexpected {:?}: expected `,` between paths, `.KEY` or `[INDEX]`",
                        lx.rest()
                    ),
                ));
            }
        }
    }

    /// Whether this is the one-key path `name` (trending's fields).
    pub fn is_key(&self, name: &str) -> bool {
        matches!(self.steps.as_slice(), [Step::Key(k)] if k == name)
    }
}

/// What is ranked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    /// Events per (group, item).
    Count,
    /// The exact sum of a numeric path (integers exactly; decimals exactly, as a decimal of
    /// at most 38 significant digits).
    Sum(Path),
    /// The exact number of distinct values (their text) of a path.
    Distinct(Path),
    /// The number of distinct values estimated by HyperLogLog (relative error about 0.8 %).
    ApproxDistinct(Path),
}

impl Metric {
    /// Parse `count`, `sum:PATH`, `distinct:PATH`, `approx_distinct:PATH`.
    pub fn parse(text: &str) -> Result<Metric, SpecError> {
        let t = text.trim();
        if t == "count" {
            return Ok(Metric::Count);
        }
        let err = |why: String| SpecError::new("--metric", text, why);
        let Some((kind, path)) = t.split_once(':') else {
            return Err(err(
                "expected count, sum:PATH, distinct:PATH or approx_distinct:PATH".into(),
            ));
        };
        let path = Path::parse(path).map_err(|e| err(format!("{kind}: {}", e.why)))?;
        match kind.trim() {
            "sum" => Ok(Metric::Sum(path)),
            "distinct" => Ok(Metric::Distinct(path)),
            "approx_distinct" => Ok(Metric::ApproxDistinct(path)),
            other => Err(err(format!(
                "unknown metric {other:?}: expected count, sum, distinct or approx_distinct"
            ))),
        }
    }

    /// The path the metric reads, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Metric::Count => None,
            Metric::Sum(p) | Metric::Distinct(p) | Metric::ApproxDistinct(p) => Some(p),
        }
    }
}

/// A column a filter tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A path into the JSON value.
    Field(Path),
    /// The record key.
    Key,
    /// The record's last header of this name.
    Header(String),
    /// The partition id (shapes the plan).
    Partition,
    /// The record timestamp, ms since the epoch.
    Timestamp,
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Field(p) => f.write_str(&p.name),
            Column::Key => f.write_str("key"),
            Column::Header(n) => write!(f, "header.{n}"),
            Column::Partition => f.write_str("partition"),
            Column::Timestamp => f.write_str("timestamp"),
        }
    }
}

/// A constant in a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// `'text'` (`''` is a quote): compared with a value's text.
    Text(String),
    /// A JSON number as written (`5`, `-1.25e3`): compared numerically, exactly.
    Number(String),
    /// A partition id or a timestamp in ms (times already resolved).
    Int(i64),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=` (also `==`).
    Eq,
    /// `!=` (also `<>`).
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether `ord` (the column's value compared with the literal) satisfies the operator.
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => ord == Equal,
            Op::Ne => ord != Equal,
            Op::Lt => ord == Less,
            Op::Le => ord != Greater,
            Op::Gt => ord == Greater,
            Op::Ge => ord != Less,
        }
    }
}

/// What a filter asks of its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `exists(COLUMN)`.
    Exists,
    /// `COLUMN OP literal`.
    Cmp(Op, Literal),
    /// `COLUMN in (…)`.
    In(Vec<Literal>),
    /// `COLUMN not in (…)`.
    NotIn(Vec<Literal>),
}

/// One `--where` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The column tested.
    pub column: Column,
    /// The test.
    pub test: Test,
    /// As given (trimmed).
    pub text: String,
}

impl Filter {
    /// Parse one `--where` expression; relative times (`-1h`) count back from now.
    pub fn parse(text: &str) -> Result<Filter, SpecError> {
        Filter::parse_at(text, now_ms())
    }

    /// [`Filter::parse`] with an explicit now, in ms since the epoch.
    pub fn parse_at(text: &str, now_ms: i64) -> Result<Filter, SpecError> {
        let err = |why: String| SpecError::new("--where", text, why);
        let mut lx = Lexer::new(text);
        lx.ws();
        let (column, test) = if lx.keyword("exists") {
            lx.ws();
            if !lx.eat(b'(') {
                return Err(err("exists: expected `(` and a column".into()));
            }
            lx.ws();
            let column = lx.column().map_err(err)?;
            lx.ws();
            if !lx.eat(b')') {
                return Err(err(format!(
                    "exists({column}: expected `)`, found {:?}",
                    lx.rest()
                )));
            }
            if column == Column::Partition || column == Column::Timestamp {
                return Err(err(format!(
                    "exists({column}): every record has a {column}; expected a path, key or header.NAME"
                )));
            }
            (column, Test::Exists)
        } else {
            let column = lx.column().map_err(err)?;
            lx.ws();
            let test = if lx.keyword("in") {
                Test::In(lx.list(&column, now_ms).map_err(err)?)
            } else if lx.keyword("not") {
                lx.ws();
                if !lx.keyword("in") {
                    return Err(err(format!("{column} not: expected `in (…)`")));
                }
                Test::NotIn(lx.list(&column, now_ms).map_err(err)?)
            } else {
                let Some(op) = lx.op() else {
                    return Err(err(format!(
                        "after {column}: expected =, !=, <, <=, >, >=, in (…) or not in (…), found {:?}",
                        lx.rest()
                    )));
                };
                lx.ws();
                let lit = lx.literal(&column, now_ms).map_err(err)?;
                Test::Cmp(op, lit)
            };
            (column, test)
        };
        lx.ws();
        if !lx.done() {
            return Err(err(format!(
                "unexpected {:?} after the expression (one comparison per --where; repeat --where for AND)",
                lx.rest()
            )));
        }
        check_filter(&column, &test).map_err(err)?;
        Ok(Filter {
            column,
            test,
            text: text.trim().to_string(),
        })
    }
}

/// What each column accepts.
fn check_filter(column: &Column, test: &Test) -> Result<(), String> {
    let lits: &[Literal] = match test {
        Test::Exists => &[],
        Test::Cmp(_, l) => std::slice::from_ref(l),
        Test::In(l) | Test::NotIn(l) => l,
    };
    match column {
        Column::Key | Column::Header(_) => {
            if let Test::Cmp(op, _) = test {
                if !matches!(op, Op::Eq | Op::Ne) {
                    return Err(format!(
                        "{column} {}: expected =, !=, in or not in (keys and headers compare as text)",
                        op.as_str()
                    ));
                }
            }
            if lits.iter().any(|l| !matches!(l, Literal::Text(_))) {
                return Err(format!("{column}: expected 'quoted text'"));
            }
        }
        Column::Partition => {
            match test {
                Test::Cmp(Op::Eq, _) | Test::In(_) => {}
                _ => return Err(
                    "partition: expected `= N` or `in (N, …)` (they choose the partitions to read)"
                        .into(),
                ),
            }
            if lits
                .iter()
                .any(|l| !matches!(l, Literal::Int(p) if (0..=i64::from(i32::MAX)).contains(p)))
            {
                return Err("partition: expected partition ids from 0".into());
            }
        }
        Column::Timestamp => {
            if lits.iter().any(|l| !matches!(l, Literal::Int(_))) {
                return Err("timestamp: expected a time".into());
            }
        }
        Column::Field(_) => {
            if let Test::Cmp(op, l) = test {
                if !matches!(op, Op::Eq | Op::Ne) && !matches!(l, Literal::Number(_)) {
                    return Err(format!(
                        "{column} {}: expected a number (ordering compares numbers; use = or in for text)",
                        op.as_str()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Tumbling windows by record timestamp, aligned to the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Width in ms (≥ 1).
    pub size_ms: i64,
}

impl Window {
    /// Parse `500ms`, `30s`, `15m`, `1h`, `1d`.
    pub fn parse(text: &str) -> Result<Window, SpecError> {
        let t = text.trim();
        let err = |why: &str| SpecError::new("--window", text, why);
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: i64 = num
            .parse()
            .map_err(|_| err("expected a number with a unit: ms, s, m, h or d (e.g. 1h)"))?;
        let scale = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(err("expected a unit after the number: ms, s, m, h or d")),
            _ => return Err(err("bad unit: expected ms, s, m, h or d")),
        };
        let size_ms = n
            .checked_mul(scale)
            .ok_or_else(|| err("too large: the width must fit in 2^63 ms"))?;
        if size_ms == 0 {
            return Err(err("expected a width of at least 1 ms"));
        }
        Ok(Window { size_ms })
    }

    /// The start of the window holding `timestamp` (floor to a multiple of the width).
    pub fn start(self, timestamp: i64) -> i64 {
        timestamp.div_euclid(self.size_ms) * self.size_ms
    }
}

/// How many rows per (window, group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Top {
    /// Rows with competition rank ≤ N (ties at the cut kept).
    N(u64),
    /// Every row.
    All,
}

impl Top {
    /// Parse `N` (≥ 1) or `all`.
    pub fn parse(text: &str) -> Result<Top, SpecError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Top::All);
        }
        match t.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Top::N(n)),
            _ => Err(SpecError::new(
                "--top",
                text,
                "expected a rank of at least 1, or all",
            )),
        }
    }

    /// The largest rank kept.
    pub fn limit(self) -> u64 {
        match self {
            Top::N(n) => n,
            Top::All => u64::MAX,
        }
    }
}

/// The question `kbatch top` answers: rank items by a metric within groups (and windows),
/// over the events that pass every filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopSpec {
    /// Group paths (at least one).
    pub group: Vec<Path>,
    /// The ranked item's path.
    pub item: Path,
    /// What is ranked.
    pub metric: Metric,
    /// All must hold.
    pub filters: Vec<Filter>,
    /// Tumbling windows, if any.
    pub window: Option<Window>,
    /// Rows kept per (window, group).
    pub top: Top,
    /// Fail the run at the first invalid record.
    pub strict: bool,
}

/// Output column names that paths may not take unquoted.
const RESERVED: [&str; 3] = ["value", "rank", "window_start"];

impl TopSpec {
    /// Count per (group, item), no filters, no window, top 1.
    pub fn new(group: Vec<Path>, item: Path) -> TopSpec {
        TopSpec {
            group,
            item,
            metric: Metric::Count,
            filters: Vec::new(),
            window: None,
            top: Top::N(1),
            strict: false,
        }
    }

    /// The trending job's question: `--group category --item product`, top `top`.
    pub fn trending(top: u64) -> TopSpec {
        let mut s = TopSpec::new(vec![Path::key("category")], Path::key("product"));
        s.top = Top::N(top.max(1));
        s
    }

    /// The spec from its textual parts, as the CLI, Python and Spark take them
    /// (`group` comma-separated; `metric` defaults to count, `top` to 1).
    pub fn parse(
        group: &str,
        item: &str,
        metric: Option<&str>,
        wheres: &[&str],
        window: Option<&str>,
        top: Option<&str>,
    ) -> Result<TopSpec, SpecError> {
        TopSpec::parse_at(group, item, metric, wheres, window, top, now_ms())
    }

    /// [`TopSpec::parse`] with an explicit now (ms) for relative times.
    pub fn parse_at(
        group: &str,
        item: &str,
        metric: Option<&str>,
        wheres: &[&str],
        window: Option<&str>,
        top: Option<&str>,
        now_ms: i64,
    ) -> Result<TopSpec, SpecError> {
        let rename = |what: &'static str| move |e: SpecError| SpecError { what, ..e };
        let spec = TopSpec {
            group: Path::parse_list(group).map_err(rename("--group"))?,
            item: Path::parse(item).map_err(rename("--item"))?,
            metric: metric
                .map(Metric::parse)
                .transpose()?
                .unwrap_or(Metric::Count),
            filters: wheres
                .iter()
                .map(|w| Filter::parse_at(w, now_ms))
                .collect::<Result<_, _>>()?,
            window: window.map(Window::parse).transpose()?,
            top: top.map(Top::parse).transpose()?.unwrap_or(Top::N(1)),
            strict: false,
        };
        spec.check()?;
        Ok(spec)
    }

    /// Checks that hold across parts: at least one group, distinct column names, none named
    /// like the report's own columns (`value`, `rank`, `window_start`; quote it to use it).
    pub fn check(&self) -> Result<(), SpecError> {
        if self.group.is_empty() {
            return Err(SpecError::new("--group", "", "expected at least one path"));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (what, p) in self
            .group
            .iter()
            .map(|p| ("--group", p))
            .chain([("--item", &self.item)])
        {
            if RESERVED.contains(&p.name.as_str()) {
                return Err(SpecError::new(
                    what,
                    &p.name,
                    format!(
                        "{} is a column of the report; write the path quoted (\"{}\") to use a field of that name",
                        p.name, p.name
                    ),
                ));
            }
            if seen.contains(&p.name.as_str()) {
                return Err(SpecError::new(
                    what,
                    &p.name,
                    "the same path twice among --group and --item: expected distinct paths",
                ));
            }
            seen.push(&p.name);
        }
        if let Top::N(0) = self.top {
            return Err(SpecError::new(
                "--top",
                "0",
                "expected a rank of at least 1",
            ));
        }
        Ok(())
    }

    /// The report's row columns, in order: group paths, item path, `value`, `rank`, then
    /// `window_start` when windowed.
    pub fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = self.group.iter().map(|p| p.name.clone()).collect();
        c.push(self.item.name.clone());
        c.push("value".into());
        c.push("rank".into());
        if self.window.is_some() {
            c.push("window_start".into());
        }
        c
    }

    /// The partitions the filters allow (`partition = N`, `partition in (…)`; several such
    /// filters intersect), if any filter names them.
    pub fn partitions(&self) -> Option<Vec<i32>> {
        let mut out: Option<Vec<i32>> = None;
        for f in &self.filters {
            let ids: Vec<i32> = match (&f.column, &f.test) {
                (Column::Partition, Test::Cmp(Op::Eq, l)) => ints(std::slice::from_ref(l)),
                (Column::Partition, Test::In(l)) => ints(l),
                _ => continue,
            };
            out = Some(match out {
                None => ids,
                Some(prev) => prev.into_iter().filter(|p| ids.contains(p)).collect(),
            });
        }
        if let Some(o) = &mut out {
            o.sort_unstable();
            o.dedup();
        }
        out
    }

    /// The record timestamps the filters allow, both ends inclusive (`>=`, `>`, `<=`, `<`,
    /// `=` and `in` bound them; `!=` and `not in` do not): what the engine uses to skip
    /// whole batches by their header ([`kbatch_records::BatchHeader::may_hold`]). Filters
    /// that cannot hold together give empty bounds (`min > max`).
    pub fn timestamps(&self) -> TimeBounds {
        const EMPTY: TimeBounds = TimeBounds {
            min: i64::MAX,
            max: i64::MIN,
        };
        let mut b = TimeBounds::ANY;
        for f in &self.filters {
            if f.column != Column::Timestamp {
                continue;
            }
            let (lo, hi) = match &f.test {
                Test::Cmp(op, Literal::Int(t)) => match op {
                    Op::Ge => (Some(*t), None),
                    Op::Gt => match t.checked_add(1) {
                        Some(t) => (Some(t), None),
                        None => return EMPTY,
                    },
                    Op::Le => (None, Some(*t)),
                    Op::Lt => match t.checked_sub(1) {
                        Some(t) => (None, Some(t)),
                        None => return EMPTY,
                    },
                    Op::Eq => (Some(*t), Some(*t)),
                    Op::Ne => (None, None),
                },
                Test::In(ls) => {
                    let ts = ls.iter().filter_map(|l| match l {
                        Literal::Int(t) => Some(*t),
                        _ => None,
                    });
                    (ts.clone().min(), ts.max())
                }
                _ => (None, None),
            };
            if let Some(lo) = lo {
                b.min = b.min.max(lo);
            }
            if let Some(hi) = hi {
                b.max = b.max.min(hi);
            }
        }
        if b.min > b.max {
            return EMPTY;
        }
        b
    }

    /// The earliest timestamp an event may have to pass the filters, if any filter sets
    /// one: where a read may start (`--from @T`) without losing one.
    pub fn min_timestamp(&self) -> Option<i64> {
        let b = self.timestamps();
        (b.min != i64::MIN).then_some(b.min)
    }

    /// Narrow a read to what the filters allow, exactly:
    ///
    /// * the partitions of `partition` filters (intersected with those asked);
    /// * a start at the minimum timestamp `T` where the read starts at `earliest` or at an
    ///   earlier time (`--from @T0` becomes `@max(T0, T)`; explicit offsets are the user's
    ///   and stay). ListOffsets returns the first offset whose record timestamp is ≥ `T`,
    ///   so every record before it is older than `T` and would be filtered anyway. When the
    ///   read ends at an explicit offset (which the new start could pass: an error, not an
    ///   empty answer) the start stays; a `--to @E` below `T` moves the start only to `E`.
    ///
    /// An upper bound (`timestamp < T`) never moves the end: a record after the first one
    /// at or after `T` may still be older than `T` (create times come from producers, in any
    /// order), and cutting the range there would lose it. It skips batches instead
    /// ([`TopSpec::timestamps`]): every batch under log-append time, whose records all carry
    /// the header's time.
    pub fn narrow(&self, read: &mut kbatch_reader::ReadSpec) {
        if let Some(ids) = self.partitions() {
            read.partitions = Some(match read.partitions.take() {
                None => ids,
                Some(asked) => asked.into_iter().filter(|p| ids.contains(p)).collect(),
            });
        }
        let Some(mut t) = self.min_timestamp() else {
            return;
        };
        let ends = std::iter::once(&read.to.default).chain(read.to.overrides.iter().map(|o| &o.2));
        for end in ends {
            match end {
                Position::Latest => {}
                Position::Timestamp(e) => t = t.min(*e),
                Position::Offset(_) | Position::Earliest => return,
            }
        }
        // ListOffsets takes negative times as "latest" (-1) and "earliest" (-2).
        if t < 0 {
            return;
        }
        let lift = |p: &mut Position| match *p {
            Position::Earliest => *p = Position::Timestamp(t),
            Position::Timestamp(from) => *p = Position::Timestamp(from.max(t)),
            Position::Offset(_) | Position::Latest => {}
        };
        lift(&mut read.from.default);
        for o in &mut read.from.overrides {
            lift(&mut o.2);
        }
    }
}

fn ints(l: &[Literal]) -> Vec<i32> {
    l.iter()
        .filter_map(|l| match l {
            Literal::Int(i) => i32::try_from(*i).ok(),
            _ => None,
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A time as `--from` takes it (`2026-11-24T10:00:00Z`, `@1700000000000`, `1700000000000`,
/// `-1h`), in ms: the reader's own parser.
fn parse_time(t: &str, now_ms: i64) -> Result<i64, String> {
    let t = t.trim();
    let spec = if t.starts_with('@') || t.starts_with('-') {
        t.to_string()
    } else {
        format!("@{t}")
    };
    match Bound::parse_at(&spec, Position::Earliest, now_ms) {
        Ok(Bound {
            default: Position::Timestamp(ms),
            overrides,
        }) if overrides.is_empty() => Ok(ms),
        Ok(_) => Err(format!(
            "timestamp: expected a time (2026-11-24T10:00:00Z, @ms or -1h), got {t:?}"
        )),
        Err(e) => Err(format!("timestamp: {}", e.why)),
    }
}

/// Bytes allowed in an unquoted key.
fn ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'$' | b'@') || c >= 0x80
}

struct Lexer<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        Lexer { s, i: 0 }
    }

    fn b(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.b().get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// A whole word `kw` (case-insensitive), not a prefix of a longer key.
    fn keyword(&mut self, kw: &str) -> bool {
        let end = self.i + kw.len();
        match self.s.get(self.i..end) {
            Some(w) if w.eq_ignore_ascii_case(kw) => {
                if self.b().get(end).is_some_and(|&c| ident_byte(c)) {
                    return false;
                }
                self.i = end;
                true
            }
            _ => false,
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        let start = self.i;
        while self.peek().is_some_and(ident_byte) {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }

    /// `"…"` with `\"` and `\\`, after the opening quote was seen.
    fn quoted(&mut self) -> Result<String, String> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.s[self.i..];
            let Some(c) = rest.chars().next() else {
                return Err(format!(
                    "unterminated quoted key {:?}: expected a closing \"",
                    &self.s[start..]
                ));
            };
            self.i += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => match self.peek() {
                    Some(e @ (b'"' | b'\\')) => {
                        out.push(e as char);
                        self.i += 1;
                    }
                    _ => {
                        return Err(format!(
                            "in quoted key {:?}: expected \\\" or \\\\ after \\",
                            &self.s[start..]
                        ))
                    }
                },
                c => out.push(c),
            }
        }
    }

    fn key_step(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            _ => match self.ident() {
                Some(k) => Ok(k.to_string()),
                None => Err(match self.peek() {
                    None => "expected a key, found the end".into(),
                    Some(_) => format!(
                        "expected a key (letters, digits, _, -, $, @, or \"quoted\"), found {:?}",
                        self.rest()
                    ),
                }),
            },
        }
    }

    fn path(&mut self) -> Result<Path, String> {
        let start = self.i;
        let mut steps = vec![Step::Key(self.key_step()?)];
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.i += 1;
                    steps.push(Step::Key(self.key_step()?));
                }
                Some(b'[') => {
                    self.i += 1;
                    let ds = self.i;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.i += 1;
                    }
                    let n: u32 = self.s[ds..self.i].parse().map_err(|_| {
                        format!(
                            "after {}: expected an array index from 0 to {} in [ ]",
                            &self.s[start..ds - 1],
                            u32::MAX
                        )
                    })?;
                    if !self.eat(b']') {
                        return Err(format!(
                            "after {}: expected ] to close the index",
                            &self.s[start..self.i]
                        ));
                    }
                    steps.push(Step::Index(n));
                }
                _ => break,
            }
        }
        Ok(Path {
            name: self.s[start..self.i].to_string(),
            steps,
        })
    }

    fn column(&mut self) -> Result<Column, String> {
        if self.peek() != Some(b'"') {
            let save = self.i;
            if let Some(w) = self.ident() {
                let next = self.peek();
                match (w, next) {
                    ("key", n) if n != Some(b'.') && n != Some(b'[') => return Ok(Column::Key),
                    ("partition", n) if n != Some(b'.') && n != Some(b'[') => {
                        return Ok(Column::Partition)
                    }
                    ("timestamp", n) if n != Some(b'.') && n != Some(b'[') => {
                        return Ok(Column::Timestamp)
                    }
                    ("header", Some(b'.')) => {
                        self.i += 1;
                        let name = self.key_step().map_err(|e| format!("header.: {e}"))?;
                        return Ok(Column::Header(name));
                    }
                    ("key" | "partition" | "timestamp" | "header", _) => {
                        return Err(format!(
                            "{w} is a column of the record; write \"{w}\" (quoted) for a JSON field of that name"
                        ))
                    }
                    _ => {}
                }
            }
            self.i = save;
        }
        self.path().map(Column::Field)
    }

    fn op(&mut self) -> Option<Op> {
        let two = self.s.get(self.i..self.i + 2);
        let (op, n) = match two {
            Some("==") => (Op::Eq, 2),
            Some("!=") | Some("<>") => (Op::Ne, 2),
            Some("<=") => (Op::Le, 2),
            Some(">=") => (Op::Ge, 2),
            _ => match self.peek()? {
                b'=' => (Op::Eq, 1),
                b'<' => (Op::Lt, 1),
                b'>' => (Op::Gt, 1),
                _ => return None,
            },
        };
        self.i += n;
        Some(op)
    }

    /// `'text'` with `''` for a quote, after the opening quote was seen.
    fn text(&mut self) -> Result<String, String> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.rest().chars().next() else {
                return Err(format!(
                    "unterminated text {:?}: expected a closing '",
                    &self.s[start..]
                ));
            };
            self.i += c.len_utf8();
            if c == '\'' {
                if self.peek() == Some(b'\'') {
                    self.i += 1;
                    out.push('\'');
                } else {
                    return Ok(out);
                }
            } else {
                out.push(c);
            }
        }
    }

    /// A bare token: up to whitespace, `,` or `)`.
    fn bare(&mut self) -> &'a str {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b',' | b')'))
        {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    fn literal(&mut self, column: &Column, now_ms: i64) -> Result<Literal, String> {
        let quoted = self.peek() == Some(b'\'');
        let (raw, quoted) = if quoted {
            (self.text()?, true)
        } else {
            (self.bare().to_string(), false)
        };
        if raw.is_empty() && !quoted {
            return Err(format!(
                "after {column}: expected a value ('text' or a number), found {:?}",
                self.rest()
            ));
        }
        match column {
            Column::Timestamp => parse_time(&raw, now_ms).map(Literal::Int),
            Column::Partition => {
                if quoted {
                    return Err(format!("partition: expected a partition id, got '{raw}'"));
                }
                raw.parse::<i64>()
                    .map(Literal::Int)
                    .map_err(|_| format!("partition: expected a partition id from 0, got {raw:?}"))
            }
            _ if quoted => Ok(Literal::Text(raw)),
            _ => {
                if is_json_number(&raw) {
                    Ok(Literal::Number(raw))
                } else {
                    Err(format!(
                        "after {column}: expected 'quoted text' or a number, got {raw:?}"
                    ))
                }
            }
        }
    }

    fn list(&mut self, column: &Column, now_ms: i64) -> Result<Vec<Literal>, String> {
        self.ws();
        if !self.eat(b'(') {
            return Err(format!("{column} in: expected ( and a list of values"));
        }
        let mut out = Vec::new();
        loop {
            self.ws();
            out.push(self.literal(column, now_ms)?);
            self.ws();
            if self.eat(b')') {
                return Ok(out);
            }
            if !self.eat(b',') {
                return Err(format!(
                    "{column} in (…): expected `,` or `)`, found {:?}",
                    self.rest()
                ));
            }
        }
    }
}

/// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub(crate) fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}
