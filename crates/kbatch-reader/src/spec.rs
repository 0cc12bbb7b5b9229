//! What to read: topics, partitions, and the `--from` / `--to` bounds.
//!
//! A bound is a default position for every partition plus per-partition overrides. The textual
//! grammar (shared by the CLI and embedders) is:
//!
//! | text | meaning |
//! | --- | --- |
//! | `earliest` | the log start offset |
//! | `latest` | the last stable offset (read_committed) or the high watermark (read_uncommitted), resolved once |
//! | `1200` | that offset, in every partition |
//! | `0:17,2:100` / `web_stream:0:17` | per partition; the others keep the default |
//! | `@1700000000000`, `@2026-11-24T10:00:00Z` | the first offset whose record timestamp is ≥ it (none → latest) |
//! | `-24h` (units s, m, h, d) | a timestamp relative to now |
//! | `{"web_stream":{"0":23,"1":-2}}` | Spark's JSON offsets: -2 earliest, -1 latest |
//!
//! Times select offset *ranges* from Kafka record timestamps; nothing inside a range is filtered
//! by time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where a range starts or ends in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The log start offset.
    Earliest,
    /// The last stable offset (read_committed) or the high watermark (read_uncommitted).
    Latest,
    /// An explicit offset; must lie within `[earliest, latest]`.
    Offset(i64),
    /// The first offset whose record timestamp (ms since the epoch) is ≥ this; none → latest.
    Timestamp(i64),
}

/// One side of a range: a default and per-partition overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// Position for partitions without an override.
    pub default: Position,
    /// `(topic or None for every topic, partition, position)`.
    pub overrides: Vec<(Option<String>, i32, Position)>,
}

impl Bound {
    /// A bound with no overrides.
    pub fn all(default: Position) -> Bound {
        Bound {
            default,
            overrides: Vec::new(),
        }
    }

    /// The position for one partition. A topic-specific override wins over a topic-less one.
    pub fn position(&self, topic: &str, partition: i32) -> Position {
        let mut found = None;
        for (t, p, pos) in &self.overrides {
            if *p != partition {
                continue;
            }
            match t {
                Some(t) if t == topic => return *pos,
                None => found = Some(*pos),
                Some(_) => {}
            }
        }
        found.unwrap_or(self.default)
    }

    /// Parse the SPEC grammar; `default` is what partitions without an override get
    /// (`earliest` for `--from`, `latest` for `--to`).
    pub fn parse(text: &str, default: Position) -> Result<Bound, SpecError> {
        Self::parse_at(text, default, now_ms())
    }

    /// [`Bound::parse`] with an explicit "now" for relative times (tests).
    pub fn parse_at(text: &str, default: Position, now_ms: i64) -> Result<Bound, SpecError> {
        let t = text.trim();
        let err = |why: &str| SpecError {
            spec: text.to_string(),
            why: why.to_string(),
        };
        if t.is_empty() {
            return Err(err("empty"));
        }
        match t {
            "earliest" => return Ok(Bound::all(Position::Earliest)),
            "latest" => return Ok(Bound::all(Position::Latest)),
            _ => {}
        }
        if t.starts_with('{') {
            return parse_spark(t, default).map_err(|why| err(&why));
        }
        if let Some(rest) = t.strip_prefix('@') {
            let ms = parse_time(rest).map_err(|why| err(&why))?;
            return Ok(Bound::all(Position::Timestamp(ms)));
        }
        if let Some(rest) = t.strip_prefix('-') {
            if rest.ends_with(['s', 'm', 'h', 'd']) {
                let ms = parse_duration_ms(rest).map_err(|why| err(&why))?;
                let at = now_ms
                    .checked_sub(ms)
                    .filter(|at| *at >= 0)
                    .ok_or_else(|| {
                        err("a relative time must not reach before 1970-01-01 (use earliest for the log start)")
                    })?;
                return Ok(Bound::all(Position::Timestamp(at)));
            }
            return Err(err(
                "negative offsets are not positions; relative times need a unit (s, m, h, d)",
            ));
        }
        if let Ok(o) = t.parse::<i64>() {
            return Ok(Bound::all(Position::Offset(o)));
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(&format!("expected an offset from 0 to {}", i64::MAX)));
        }
        let mut overrides = Vec::new();
        for item in t.split(',') {
            let parts: Vec<&str> = item.trim().split(':').collect();
            let (topic, p, o) = match parts.as_slice() {
                [p, o] => (None, *p, *o),
                [topic, p, o] if !topic.is_empty() => (Some(topic.to_string()), *p, *o),
                _ => return Err(err("expected PARTITION:OFFSET or TOPIC:PARTITION:OFFSET")),
            };
            let p: i32 = p
                .parse()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| err(&format!("bad partition {p:?}")))?;
            let o: i64 = o.parse().ok().filter(|o| *o >= 0).ok_or_else(|| {
                err(&format!(
                    "bad offset {o:?}: expected an offset from 0 to {}",
                    i64::MAX
                ))
            })?;
            // One position per partition: with two, which one holds would be a guess.
            if overrides.iter().any(|(t, q, _)| *t == topic && *q == p) {
                return Err(err(&format!("partition {p} is given twice")));
            }
            overrides.push((topic, p, Position::Offset(o)));
        }
        Ok(Bound { default, overrides })
    }
}

fn parse_spark(t: &str, default: Position) -> Result<Bound, String> {
    let v: serde_json::Value = serde_json::from_str(t).map_err(|e| format!("bad JSON: {e}"))?;
    let topics = v.as_object().ok_or("expected an object of topics")?;
    let mut overrides = Vec::new();
    for (topic, parts) in topics {
        let parts = parts
            .as_object()
            .ok_or_else(|| format!("topic {topic:?}: expected an object of partitions"))?;
        for (p, o) in parts {
            let p: i32 = p
                .parse()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| format!("bad partition {p:?}"))?;
            let pos = match o.as_i64() {
                Some(-2) => Position::Earliest,
                Some(-1) => Position::Latest,
                Some(o) if o >= 0 => Position::Offset(o),
                _ => return Err(format!("{topic}:{p}: bad offset {o}")),
            };
            overrides.push((Some(topic.clone()), p, pos));
        }
    }
    Ok(Bound { default, overrides })
}

fn parse_duration_ms(t: &str) -> Result<i64, String> {
    let (num, unit) = t.split_at(t.len() - 1);
    let n: i64 = num
        .parse()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("bad duration {t:?}: expected a number of s, m, h or d"))?;
    let scale = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("bad unit in {t:?}")),
    };
    n.checked_mul(scale).ok_or_else(|| {
        format!(
            "duration {t:?} is too large (it must fit in {} ms)",
            i64::MAX
        )
    })
}

/// `1700000000000` (ms) or an RFC 3339 UTC time `2026-11-24T10:00:00Z` (fractional seconds and
/// `+hh:mm` offsets accepted).
/// Times before 1970 are refused: Kafka reads negative timestamps in ListOffsets as
/// requests for other things (-1 latest, -2 earliest, -3 the largest timestamp).
fn parse_time(t: &str) -> Result<i64, String> {
    let ms = parse_any_time(t)?;
    if ms < 0 {
        return Err(format!(
            "time {t:?} is before 1970-01-01, where record timestamps start (use earliest for the log start)"
        ));
    }
    Ok(ms)
}

fn parse_any_time(t: &str) -> Result<i64, String> {
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || format!("bad time {t:?}: expected milliseconds or YYYY-MM-DDTHH:MM:SSZ");
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        t.get(r).and_then(|s| s.parse().ok()).ok_or_else(bad)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    if h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let mut rest = &t[19..];
    let mut frac_ms = 0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let ms_digits = &r[..digits.min(3)];
        frac_ms =
            ms_digits.parse::<i64>().map_err(|_| bad())? * 10i64.pow(3 - ms_digits.len() as u32);
        rest = &r[digits..];
    }
    let offset_ms = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let oh: i64 = o[1..3].parse().map_err(|_| bad())?;
            let om: i64 = o[4..6].parse().map_err(|_| bad())?;
            sign * (oh * 3_600_000 + om * 60_000)
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(y, mo, d);
    Ok(days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1_000 + frac_ms - offset_ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A SPEC that does not follow the grammar (the CLI exits with 2 on it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad offset spec {spec:?}: {why}")]
pub struct SpecError {
    /// The text given.
    pub spec: String,
    /// What is wrong with it.
    pub why: String,
}

/// Everything that says what to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSpec {
    /// Topics to read (all their partitions unless `partitions` is set).
    pub topics: Vec<String>,
    /// Only these partition ids (of every topic), if set.
    pub partitions: Option<Vec<i32>>,
    /// Where ranges start (inclusive).
    pub from: Bound,
    /// Where ranges end (exclusive).
    pub to: Bound,
}

impl ReadSpec {
    /// Whole topics, earliest to latest.
    pub fn topics<I: IntoIterator<Item = S>, S: Into<String>>(topics: I) -> ReadSpec {
        ReadSpec {
            topics: topics.into_iter().map(Into::into).collect(),
            partitions: None,
            from: Bound::all(Position::Earliest),
            to: Bound::all(Position::Latest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn p(text: &str) -> Bound {
        Bound::parse_at(text, Position::Earliest, NOW).unwrap()
    }

    #[test]
    fn grammar_examples() {
        assert_eq!(p("earliest"), Bound::all(Position::Earliest));
        assert_eq!(p("latest"), Bound::all(Position::Latest));
        assert_eq!(p("1200"), Bound::all(Position::Offset(1200)));
        let b = p("0:17,2:100");
        assert_eq!(b.position("t", 0), Position::Offset(17));
        assert_eq!(b.position("t", 1), Position::Earliest);
        assert_eq!(b.position("t", 2), Position::Offset(100));
        let b = p("web_stream:0:17");
        assert_eq!(b.position("web_stream", 0), Position::Offset(17));
        assert_eq!(b.position("other", 0), Position::Earliest);
        assert_eq!(
            p("@1700000000000"),
            Bound::all(Position::Timestamp(1_700_000_000_000))
        );
        assert_eq!(
            p("@2026-11-24T10:00:00Z"),
            Bound::all(Position::Timestamp(1_795_514_400_000))
        );
        assert_eq!(
            p("@2026-11-24T11:00:00.5+01:00"),
            Bound::all(Position::Timestamp(1_795_514_400_500))
        );
        assert_eq!(p("-24h"), Bound::all(Position::Timestamp(NOW - 86_400_000)));
        assert_eq!(p("-90s"), Bound::all(Position::Timestamp(NOW - 90_000)));
        let b = p(r#"{"web_stream":{"0":23,"1":-2,"2":-1}}"#);
        assert_eq!(b.position("web_stream", 0), Position::Offset(23));
        assert_eq!(b.position("web_stream", 1), Position::Earliest);
        assert_eq!(b.position("web_stream", 2), Position::Latest);
        assert_eq!(b.position("web_stream", 3), Position::Earliest);
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "",
            "-5",
            "0:",
            "a:b",
            "x:1:2:3",
            "@yesterday",
            "-3w",
            "{",
            r#"{"t":{"0":-3}}"#,
            "@2026-13-01T00:00:00Z",
            "0:-1",
            "-1:5",
        ] {
            assert!(
                Bound::parse_at(bad, Position::Latest, NOW).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    /// The grammar's edge values: the extremes of offsets and durations, zero, and times
    /// that would leave the range of record timestamps. Every one is decided here, before
    /// anything connects.
    #[test]
    fn edge_values_are_range_checked() {
        let max = i64::MAX.to_string();
        let min = i64::MIN.to_string();
        let max_per_partition = format!("0:{max}");
        let over_max = format!("{}0", i64::MAX);
        let at_max = format!("@{max}");
        // (text, the position of partition 0, or the part of the error)
        let rows: Vec<(&str, Result<Position, &str>)> = vec![
            ("0", Ok(Position::Offset(0))),
            ("0:0", Ok(Position::Offset(0))),
            (&max, Ok(Position::Offset(i64::MAX))),
            (&max_per_partition, Ok(Position::Offset(i64::MAX))),
            (&min, Err("negative offsets are not positions")),
            (&over_max, Err("expected an offset from 0 to")),
            ("0:-9223372036854775808", Err("bad offset")),
            ("0:9223372036854775808", Err("expected an offset from 0 to")),
            ("0:1,0:2", Err("partition 0 is given twice")),
            ("t:0:1,t:0:2", Err("partition 0 is given twice")),
            ("-0s", Ok(Position::Timestamp(NOW))),
            ("-0d", Ok(Position::Timestamp(NOW))),
            ("-1800000000s", Ok(Position::Timestamp(0))),
            ("-1800000001s", Err("before 1970-01-01")),
            ("-99999999999999d", Err("too large")),
            ("-9223372036854775807m", Err("too large")),
            ("-9223372036854775807s", Err("too large")),
            ("-106751991167d", Err("before 1970-01-01")),
            ("-9223372036854775808s", Err("bad duration")),
            ("--5s", Err("bad duration")),
            ("@0", Ok(Position::Timestamp(0))),
            (&at_max, Ok(Position::Timestamp(i64::MAX))),
            ("@-1", Err("before 1970-01-01")),
            ("@-2", Err("before 1970-01-01")),
            ("@1969-12-31T23:59:59Z", Err("before 1970-01-01")),
            ("@1970-01-01T00:00:00Z", Ok(Position::Timestamp(0))),
            (
                "@9999-12-31T23:59:59Z",
                Ok(Position::Timestamp(253_402_300_799_000)),
            ),
            (
                r#"{"t":{"0":9223372036854775807}}"#,
                Ok(Position::Offset(i64::MAX)),
            ),
            (r#"{"t":{"0":9223372036854775808}}"#, Err("bad offset")),
            (r#"{"t":{"0":-9223372036854775808}}"#, Err("bad offset")),
            (r#"{"t":{"0":0.5}}"#, Err("bad offset")),
        ];
        for (text, want) in rows {
            let got = Bound::parse_at(text, Position::Latest, NOW);
            match (got, want) {
                (Ok(b), Ok(pos)) => assert_eq!(b.position("t", 0), pos, "{text}"),
                (Err(e), Err(needle)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(needle), "{text}: {msg}");
                    assert_eq!(e.spec, text, "the error quotes the SPEC");
                }
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
    }
}
