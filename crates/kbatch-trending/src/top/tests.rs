//! `top`: parser tables, the k-path scanner against a serde_json oracle, the job against a
//! serde_json model (filters, windows, metrics, ranking), merge algebra, shards, renderings,
//! and trending's question answered as trending answers it.

use std::sync::Arc;

use kbatch_engine::{Job, JobError, PartitionStats};
use kbatch_records::testenc::{Batch, Rec};
use proptest::prelude::*;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::extract::paths::{extract_paths, extract_paths_general, PathTree, Val};
use crate::extract::Invalid;
use crate::top::*;

const NOW: i64 = 1_800_000_000_000;

// ----- parsers -----

fn key(k: &str) -> Step {
    Step::Key(k.into())
}

#[test]
fn paths_parse() {
    let rows: &[(&str, &str, Vec<Step>)] = &[
        ("category", "category", vec![key("category")]),
        (
            " page.category ",
            "page.category",
            vec![key("page"), key("category")],
        ),
        (
            "device.screen.w",
            "device.screen.w",
            vec![key("device"), key("screen"), key("w")],
        ),
        ("tags[0]", "tags[0]", vec![key("tags"), Step::Index(0)]),
        (
            "a[1][22].b",
            "a[1][22].b",
            vec![key("a"), Step::Index(1), Step::Index(22), key("b")],
        ),
        (r#""a.b""#, r#""a.b""#, vec![key("a.b")]),
        (
            r#"x."y \"z\"\\".w"#,
            r#"x."y \"z\"\\".w"#,
            vec![key("x"), key(r#"y "z"\"#), key("w")],
        ),
        ("Küche_1-$@", "Küche_1-$@", vec![key("Küche_1-$@")]),
    ];
    for (text, name, steps) in rows {
        let p = Path::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&p.name, name, "{text}");
        assert_eq!(&p.steps, steps, "{text}");
    }
    let list = Path::parse_list(r#"page.category, "a,b",tags[0]"#).unwrap();
    let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["page.category", r#""a,b""#, "tags[0]"]);
}

#[test]
fn path_errors_say_what_was_expected() {
    let rows: &[(&str, &str)] = &[
        ("", "expected a key"),
        ("a.", "expected a key"),
        (".a", "expected a key"),
        ("[0]", "expected a key"),
        ("a[x]", "expected an array index"),
        ("a[-1]", "expected an array index"),
        ("a[0", "expected ]"),
        ("a b", "expected `.KEY` or `[INDEX]`"),
        (r#""a"#, "expected a closing \""),
        (r#""a\x""#, r#"expected \" or \\"#),
        ("a[99999999999]", "expected an array index"),
    ];
    for (text, needle) in rows {
        let e = Path::parse(text).unwrap_err();
        assert_eq!(e.what, "path");
        assert!(e.to_string().contains(needle), "{text:?}: {e}");
    }
}

fn w(text: &str) -> Filter {
    Filter::parse_at(text, NOW).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn where_parses() {
    use Literal::*;
    let p = |t: &str| Column::Field(Path::parse(t).unwrap());
    let t = |s: &str| Text(s.into());
    let rows: Vec<(&str, Column, Test)> = vec![
        (
            "category = 'Books'",
            p("category"),
            Test::Cmp(Op::Eq, t("Books")),
        ),
        (
            "category=='Bo''oks'",
            p("category"),
            Test::Cmp(Op::Eq, t("Bo'oks")),
        ),
        (
            "page.category != 'x'",
            p("page.category"),
            Test::Cmp(Op::Ne, t("x")),
        ),
        ("a <> 'x'", p("a"), Test::Cmp(Op::Ne, t("x"))),
        (
            "device.os.name in ('iOS', 'Android')",
            p("device.os.name"),
            Test::In(vec![t("iOS"), t("Android")]),
        ),
        (
            "x NOT IN ('a',2)",
            p("x"),
            Test::NotIn(vec![t("a"), Number("2".into())]),
        ),
        (
            "price >= 10.5",
            p("price"),
            Test::Cmp(Op::Ge, Number("10.5".into())),
        ),
        ("q<-1e3", p("q"), Test::Cmp(Op::Lt, Number("-1e3".into()))),
        ("q <= 0", p("q"), Test::Cmp(Op::Le, Number("0".into()))),
        ("q > 2", p("q"), Test::Cmp(Op::Gt, Number("2".into()))),
        ("q = 2", p("q"), Test::Cmp(Op::Eq, Number("2".into()))),
        ("exists(tags[0])", p("tags[0]"), Test::Exists),
        ("EXISTS ( a.b )", p("a.b"), Test::Exists),
        ("key = 'k1'", Column::Key, Test::Cmp(Op::Eq, t("k1"))),
        (
            "key in ('a','b')",
            Column::Key,
            Test::In(vec![t("a"), t("b")]),
        ),
        ("exists(key)", Column::Key, Test::Exists),
        (
            "header.source = 'web'",
            Column::Header("source".into()),
            Test::Cmp(Op::Eq, t("web")),
        ),
        (
            r#"exists(header."x.y")"#,
            Column::Header("x.y".into()),
            Test::Exists,
        ),
        (
            "partition in (0, 2)",
            Column::Partition,
            Test::In(vec![Int(0), Int(2)]),
        ),
        (
            "partition = 1",
            Column::Partition,
            Test::Cmp(Op::Eq, Int(1)),
        ),
        (
            "timestamp >= '2026-11-24T10:00:00Z'",
            Column::Timestamp,
            Test::Cmp(Op::Ge, Int(1_795_514_400_000)),
        ),
        (
            "timestamp > @1700000000000",
            Column::Timestamp,
            Test::Cmp(Op::Gt, Int(1_700_000_000_000)),
        ),
        (
            "timestamp < -1h",
            Column::Timestamp,
            Test::Cmp(Op::Lt, Int(NOW - 3_600_000)),
        ),
        (
            "timestamp >= 1700000000000",
            Column::Timestamp,
            Test::Cmp(Op::Ge, Int(1_700_000_000_000)),
        ),
        // A JSON field named like a record column, quoted as SQL quotes a keyword.
        (
            r#""timestamp" >= 5"#,
            p(r#""timestamp""#),
            Test::Cmp(Op::Ge, Number("5".into())),
        ),
        ("keyboard = 'x'", p("keyboard"), Test::Cmp(Op::Eq, t("x"))),
        ("key2 = 'x'", p("key2"), Test::Cmp(Op::Eq, t("x"))),
    ];
    for (text, column, test) in rows {
        let f = w(text);
        assert_eq!(f.column, column, "{text}");
        assert_eq!(f.test, test, "{text}");
        assert_eq!(f.text, text.trim());
    }
}

#[test]
fn where_errors_name_the_column_and_what_was_expected() {
    let rows: &[(&str, &str)] = &[
        ("", "expected a key"),
        (
            "category",
            "after category: expected =, !=, <, <=, >, >=, in",
        ),
        ("category = ", "after category: expected a value"),
        (
            "category = Books",
            "after category: expected 'quoted text' or a number",
        ),
        ("category = 'Books", "expected a closing '"),
        ("price > 'ten'", "price >: expected a number"),
        (
            "price >= abc",
            "after price: expected 'quoted text' or a number",
        ),
        ("category in 'a'", "category in: expected ("),
        ("category in ('a' 'b')", "expected `,` or `)`"),
        ("category not 'a'", "category not: expected `in (…)`"),
        ("key < 'a'", "key <: expected =, !=, in or not in"),
        ("key = 5", "key: expected 'quoted text'"),
        ("header.x > 'a'", "header.x >: expected =, !=, in or not in"),
        ("header = 'a'", "header is a column of the record"),
        ("timestamp.x = 1", "timestamp is a column of the record"),
        ("partition != 1", "partition: expected `= N` or `in (N, …)`"),
        ("partition = 'a'", "partition: expected a partition id"),
        (
            "partition in (-1)",
            "partition: expected partition ids from 0",
        ),
        ("timestamp >= 'yesterday'", "timestamp: "),
        ("timestamp >= -99999999999999d", "timestamp: "),
        ("exists(partition)", "every record has a partition"),
        ("exists(a", "exists(a: expected `)`"),
        ("a = 'x' and b = 'y'", "one comparison per --where"),
    ];
    for (text, needle) in rows {
        let e = Filter::parse_at(text, NOW).unwrap_err();
        assert_eq!(e.what, "--where");
        assert!(e.to_string().contains(needle), "{text:?}: {e}");
    }
}

#[test]
fn metrics_windows_and_top_parse() {
    assert_eq!(Metric::parse("count").unwrap(), Metric::Count);
    assert_eq!(
        Metric::parse("sum:order.qty").unwrap(),
        Metric::Sum(Path::parse("order.qty").unwrap())
    );
    assert_eq!(
        Metric::parse("distinct:customer_id").unwrap(),
        Metric::Distinct(Path::key("customer_id"))
    );
    assert_eq!(
        Metric::parse("approx_distinct:tags[0]").unwrap(),
        Metric::ApproxDistinct(Path::parse("tags[0]").unwrap())
    );
    for (bad, needle) in [
        ("avg:x", "unknown metric \"avg\""),
        ("sum", "expected count, sum:PATH"),
        ("sum:", "sum: expected a key"),
        ("distinct:a..b", "distinct: expected a key"),
    ] {
        let e = Metric::parse(bad).unwrap_err();
        assert!(e.to_string().contains(needle), "{bad}: {e}");
    }
    for (t, ms) in [
        ("1h", 3_600_000),
        ("15m", 900_000),
        ("30s", 30_000),
        ("250ms", 250),
        ("1d", 86_400_000),
    ] {
        assert_eq!(Window::parse(t).unwrap().size_ms, ms, "{t}");
    }
    for bad in ["0h", "1", "h", "1w", "-1h", "9999999999999999999d"] {
        let e = Window::parse(bad).unwrap_err();
        assert_eq!(e.what, "--window", "{bad}");
    }
    assert_eq!(Top::parse("3").unwrap(), Top::N(3));
    assert_eq!(Top::parse("ALL").unwrap(), Top::All);
    for bad in ["0", "-1", "x", ""] {
        assert!(Top::parse(bad)
            .unwrap_err()
            .to_string()
            .contains("at least 1"));
    }
}

#[test]
fn windows_are_epoch_aligned_floors() {
    let h = Window::parse("1h").unwrap();
    assert_eq!(h.start(0), 0);
    assert_eq!(h.start(3_599_999), 0);
    assert_eq!(h.start(3_600_000), 3_600_000);
    assert_eq!(h.start(-1), -3_600_000);
    assert_eq!(rfc3339(1_795_514_400_000), "2026-11-24T10:00:00Z");
    assert_eq!(rfc3339(1_795_514_400_123), "2026-11-24T10:00:00.123Z");
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(-3_600_000), "1969-12-31T23:00:00Z");
    assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
}

#[test]
fn spec_checks_columns_and_narrows_reads() {
    let e = TopSpec::parse_at("a,a", "b", None, &[], None, None, NOW).unwrap_err();
    assert!(e.to_string().contains("the same path twice"), "{e}");
    let e = TopSpec::parse_at("a", "a", None, &[], None, None, NOW).unwrap_err();
    assert!(e.to_string().contains("the same path twice"), "{e}");
    let e = TopSpec::parse_at("a", "value", None, &[], None, None, NOW).unwrap_err();
    assert!(e.to_string().contains("write the path quoted"), "{e}");
    assert_eq!(e.what, "--item");
    let s = TopSpec::parse_at("a", r#""value""#, None, &[], None, None, NOW).unwrap();
    assert_eq!(s.columns(), ["a", r#""value""#, "value", "rank"]);
    let e = TopSpec::parse_at("a.", "b", None, &[], None, None, NOW).unwrap_err();
    assert_eq!(e.what, "--group");
    let s = TopSpec::parse_at(
        "page.category,device.os",
        "item_id",
        Some("distinct:customer"),
        &[
            "partition in (0, 2, 3)",
            "partition in (2, 3, 4)",
            "timestamp >= @1000",
            "timestamp > @5000",
        ],
        Some("1h"),
        Some("all"),
        NOW,
    )
    .unwrap();
    assert_eq!(
        s.columns(),
        [
            "page.category",
            "device.os",
            "item_id",
            "value",
            "rank",
            "window_start"
        ]
    );
    assert_eq!(s.partitions(), Some(vec![2, 3]));
    assert_eq!(s.min_timestamp(), Some(5001));
    let mut read = kbatch_reader::ReadSpec::topics(["t"]);
    read.partitions = Some(vec![0, 3]);
    s.narrow(&mut read);
    assert_eq!(read.partitions, Some(vec![3]));
    assert_eq!(
        read.from,
        kbatch_reader::Bound::all(kbatch_reader::Position::Timestamp(5001))
    );
    // An explicit start is the user's: kept (the filter still holds per record).
    let mut read = kbatch_reader::ReadSpec::topics(["t"]);
    read.from = kbatch_reader::Bound::all(kbatch_reader::Position::Offset(7));
    s.narrow(&mut read);
    assert_eq!(
        read.from,
        kbatch_reader::Bound::all(kbatch_reader::Position::Offset(7))
    );
}

// ----- the k-path scanner against serde_json -----

/// JSON as serde_json reads it, keeping every member (duplicates too) in order.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<J, E> {
                Ok(J::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<J, E> {
                Ok(J::Num(n as f64))
            }
            fn visit_i64<E>(self, n: i64) -> Result<J, E> {
                Ok(J::Num(n as f64))
            }
            fn visit_f64<E>(self, n: f64) -> Result<J, E> {
                Ok(J::Num(n))
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(s.into()))
            }
            fn visit_string<E>(self, s: String) -> Result<J, E> {
                Ok(J::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(J::Arr(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = m.next_entry::<String, J>()? {
                    v.push((k, x));
                }
                Ok(J::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a path found, comparable across the scanner and the oracle.
#[derive(Debug, Clone, PartialEq)]
enum Found {
    Missing,
    Blocked,
    Null,
    Object,
    Array,
    Str(String),
    Num(f64),
    Bool(bool),
}

/// The documented semantics, on serde_json's reading: the verdict (with duplicate keys on a
/// path's way), then each path's value.
fn oracle(b: &[u8], paths: &[Path]) -> Result<Vec<Found>, &'static str> {
    if b.is_empty() {
        return Err("empty");
    }
    if std::str::from_utf8(b).is_err() {
        return Err("bad_utf8");
    }
    let j: J = serde_json::from_slice(b).map_err(|_| "bad_json")?;
    if !matches!(j, J::Obj(_)) {
        return Err("not_object");
    }
    let mut out = Vec::new();
    let mut dup = false;
    for p in paths {
        let mut cur = &j;
        let mut found = None;
        for step in &p.steps {
            match (step, cur) {
                (Step::Key(k), J::Obj(members)) => {
                    let mut hits = members.iter().filter(|(mk, _)| mk == k);
                    match hits.next() {
                        Some((_, v)) => {
                            dup |= hits.next().is_some();
                            cur = v;
                        }
                        None => {
                            found = Some(Found::Missing);
                            break;
                        }
                    }
                }
                (Step::Index(i), J::Arr(items)) => match items.get(*i as usize) {
                    Some(v) => cur = v,
                    None => {
                        found = Some(Found::Missing);
                        break;
                    }
                },
                _ => {
                    found = Some(Found::Blocked);
                    break;
                }
            }
        }
        out.push(found.unwrap_or_else(|| match cur {
            J::Null => Found::Null,
            J::Bool(b) => Found::Bool(*b),
            J::Num(n) => Found::Num(*n),
            J::Str(s) => Found::Str(s.clone()),
            J::Arr(_) => Found::Array,
            J::Obj(_) => Found::Object,
        }));
    }
    if dup {
        return Err("duplicate_field");
    }
    Ok(out)
}

/// What the path scanners find: the general scanner's answer, which `extract_paths` (the
/// fast tier in the best form, then the general scanner) and the fast tier in every form this
/// CPU has must give too, whenever they answer.
fn scanned(b: &[u8], paths: &[Path]) -> Result<Vec<Found>, &'static str> {
    let steps: Vec<&[Step]> = paths.iter().map(|p| p.steps.as_slice()).collect();
    let tree = PathTree::new(&steps).unwrap();
    let mut vals = Vec::new();
    let general = extract_paths_general(b, &tree, &mut vals).map(|()| vals.clone());
    let mut vals = Vec::new();
    let best = extract_paths(b, &tree, &mut vals).map(|()| vals.clone());
    assert_eq!(
        best,
        general,
        "extract_paths on {:?}",
        String::from_utf8_lossy(b)
    );
    fast_tiers_agree(b, &tree, &general);
    general.map(|vals| found_of(&vals)).map_err(|e| e.as_str())
}

/// The fast path tier in every form this CPU has gives `general` (values compared exactly:
/// strings unescaped, numbers as written) whenever it answers; whether one answered.
fn fast_tiers_agree(b: &[u8], tree: &PathTree, general: &Result<Vec<Val<'_>>, Invalid>) -> bool {
    let mut answered = false;
    for (name, form) in crate::extract::dispatch::Form::all() {
        let Some(form) = form else { continue };
        let mut vals = Vec::new();
        if let Some(fast) = form.paths(b, tree, &mut vals) {
            answered = true;
            let fast = fast.map(|()| vals.clone());
            assert_eq!(
                &fast,
                general,
                "{name} form on {:?}",
                String::from_utf8_lossy(b)
            );
        }
    }
    answered
}

/// On realistic events (every mix of `kbatch_testkit::events`, with their invalid ones), the
/// fast tier answers for nearly all, and as the general scanner does.
#[test]
fn the_fast_path_tier_settles_realistic_events_as_the_general_scanner() {
    use kbatch_testkit::events::{Mix, Packed};
    let ps = paths(&[
        "category",
        "device.os.name",
        "device.browser.name",
        "customer_id",
        "quantity",
        "price",
        "tags[0]",
        "device.screen.w",
    ]);
    let steps: Vec<&[Step]> = ps.iter().map(|p| p.steps.as_slice()).collect();
    let tree = PathTree::new(&steps).unwrap();
    for mix in [Mix::Flat, Mix::Nested, Mix::Serializers] {
        let packed = Packed::new(mix, 11, 3000);
        let values = packed.values();
        let mut answered = 0;
        for v in &values {
            let mut vals = Vec::new();
            let general = extract_paths_general(v, &tree, &mut vals).map(|()| vals.clone());
            answered += usize::from(fast_tiers_agree(v, &tree, &general));
        }
        assert!(
            answered * 100 >= values.len() * 95,
            "{mix:?}: the fast tier answered {answered} of {}",
            values.len()
        );
    }
}

fn found_of(vals: &[Val<'_>]) -> Vec<Found> {
    vals.iter()
        .map(|v| match v {
            Val::Missing => Found::Missing,
            Val::Blocked => Found::Blocked,
            Val::Null => Found::Null,
            Val::Object => Found::Object,
            Val::Array => Found::Array,
            Val::Str(s) => Found::Str(String::from_utf8(s.to_vec()).unwrap()),
            Val::Num(n) => Found::Num(serde_json::from_slice::<f64>(n).unwrap()),
            Val::Bool(b) => Found::Bool(*b),
        })
        .collect()
}

fn paths(list: &[&str]) -> Vec<Path> {
    list.iter().map(|p| Path::parse(p).unwrap()).collect()
}

#[test]
fn path_scanner_examples() {
    let ps = paths(&[
        "page.category",
        "item_id",
        "tags[1]",
        r#""a.b""#,
        "device.screen.w",
        "n",
    ]);
    let rows: &[(&str, Result<Vec<Found>, &str>)] = &[
        (
            r#"{"page":{"category":"Caf\u00e9"},"item_id":7,"tags":["x",true],"a.b":null,"device":{"screen":{"w":1.5e2}},"n":false}"#,
            Ok(vec![
                Found::Str("Café".into()),
                Found::Num(7.0),
                Found::Bool(true),
                Found::Null,
                Found::Num(150.0),
                Found::Bool(false),
            ]),
        ),
        (
            r#"{"page":"x","tags":{"1":2},"device":{"screen":[1]}}"#,
            Ok(vec![
                Found::Blocked,
                Found::Missing,
                Found::Blocked,
                Found::Missing,
                Found::Blocked,
                Found::Missing,
            ]),
        ),
        (
            r#"{"page":{},"tags":["only"],"device":{"screen":{"w":{}}},"item_id":[]}"#,
            Ok(vec![
                Found::Missing,
                Found::Array,
                Found::Missing,
                Found::Missing,
                Found::Object,
                Found::Missing,
            ]),
        ),
        // Decoys: the same names elsewhere are not the paths.
        (
            r#"{"x":{"page":{"category":"no"}},"category":"no","page":{"x":{"category":"no"},"category":"yes"}}"#,
            Ok(vec![
                Found::Str("yes".into()),
                Found::Missing,
                Found::Missing,
                Found::Missing,
                Found::Missing,
                Found::Missing,
            ]),
        ),
        (
            r#"{"page":{"category":"a","category":"b"}}"#,
            Err("duplicate_field"),
        ),
        (
            r#"{"page":{"category":"a"},"page":{}}"#,
            Err("duplicate_field"),
        ),
        (
            r#"{"p\u0061ge":{"category":"a"},"page":{}}"#,
            Err("duplicate_field"),
        ),
        // Duplicates off the paths are fine; on a path they are found after the whole scan.
        (
            r#"{"x":1,"x":2,"page":{"other":1,"other":2}}"#,
            Ok(vec![Found::Missing; 6]),
        ),
        (
            r#"{"page":{"category":"a","category":"b"}"#,
            Err("bad_json"),
        ),
        (r#"[1]"#, Err("not_object")),
        (r#"{"n":1e400}"#, Err("bad_json")),
        ("", Err("empty")),
    ];
    for (text, want) in rows {
        assert_eq!(&scanned(text.as_bytes(), &ps), want, "{text}");
        assert_eq!(&oracle(text.as_bytes(), &ps), want, "oracle: {text}");
    }
}

fn nested_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"a\"".to_string()),
        Just("\"b\"".to_string()),
        Just("\"\\u0061\"".to_string()),
        Just("\"a.b\"".to_string()),
        Just("\"tags\"".to_string()),
        Just("\"c\"".to_string()),
    ]
}

fn nested_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        crate::tests::json_string(),
        Just("null".to_string()),
        Just("false".to_string()),
        Just("-0.5e3".to_string()),
        Just("12".to_string()),
        Just("1e999".to_string()),
        Just("01".to_string()),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((nested_key(), inner), 0..4).prop_map(|kv| {
                format!(
                    "{{{}}}",
                    kv.into_iter()
                        .map(|(k, v)| format!("{k}:{v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }),
        ]
    })
}

fn nested_object() -> impl Strategy<Value = String> {
    prop::collection::vec((nested_key(), nested_value(), " {0,1}"), 0..5).prop_map(|kv| {
        format!(
            "{{{}}}",
            kv.into_iter()
                .map(|(k, v, ws)| format!("{ws}{k}{ws}:{ws}{v}"))
                .collect::<Vec<_>>()
                .join(",")
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Any object, any of these paths: the scanner's verdict and values are serde_json's.
    #[test]
    fn path_scanner_matches_serde_json(
        obj in nested_object(),
        which in prop::sample::subsequence(
            vec!["a", "b", "a.b", "a.a", r#""a.b""#, "tags[0]", "tags[1].a", "a[0][1]", "c.b.a", "b[2]"],
            1..5,
        ),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let ps = paths(&which);
        let mut b = obj.into_bytes();
        if do_cut && !b.is_empty() {
            b.truncate(cut.index(b.len()));
        }
        prop_assert_eq!(scanned(&b, &ps), oracle(&b, &ps), "{}", String::from_utf8_lossy(&b));
    }

    #[test]
    fn path_scanner_matches_serde_json_on_any_value(v in crate::tests::json_value()) {
        let ps = paths(&["product", "category", "x.product"]);
        prop_assert_eq!(scanned(v.as_bytes(), &ps), oracle(v.as_bytes(), &ps), "{}", v);
    }
}

/// Nesting at serde_json's limit: 127 containers pass, 128 do not, on and off the paths.
#[test]
fn path_scanner_depth_limit_is_serde_jsons() {
    let ps = paths(&["a.a.a", "b"]);
    for depth in [126usize, 127, 128] {
        for on_path in [true, false] {
            let key = if on_path { "a" } else { "z" };
            let mut s = String::new();
            for _ in 0..depth - 1 {
                s.push_str(&format!("{{\"{key}\":"));
            }
            s.push_str("{}");
            for _ in 0..depth - 1 {
                s.push('}');
            }
            assert_eq!(
                scanned(s.as_bytes(), &ps),
                oracle(s.as_bytes(), &ps),
                "depth {depth} on path {on_path}"
            );
        }
    }
}

/// Paths as deep as the fast tier's stack of open containers and deeper: the tier answers up
/// to its depth and declines beyond it, and the answers are serde_json's either way.
#[test]
fn deep_paths_are_answered_past_the_fast_tiers_stack() {
    for steps in [3usize, 15, 16, 17, 40] {
        let path = vec!["a"; steps].join(".");
        let ps = paths(&[&path, "b"]);
        for nesting in [steps - 1, steps, steps + 3] {
            let mut s = String::new();
            for _ in 0..nesting {
                s.push_str("{\"a\":");
            }
            s.push_str("\"leaf\"");
            for _ in 0..nesting {
                s.push('}');
            }
            let want = oracle(s.as_bytes(), &ps);
            assert_eq!(
                scanned(s.as_bytes(), &ps),
                want,
                "{steps} steps, nesting {nesting}"
            );
            let found = want.unwrap();
            assert_eq!(
                found[0] == Found::Str("leaf".into()),
                nesting == steps,
                "{steps} steps, nesting {nesting}: {found:?}"
            );
            if nesting == steps {
                let all: Vec<&[Step]> = ps.iter().map(|p| p.steps.as_slice()).collect();
                let tree = PathTree::new(&all).unwrap();
                let mut vals = Vec::new();
                let general =
                    extract_paths_general(s.as_bytes(), &tree, &mut vals).map(|()| vals.clone());
                // The fast tier answers within its stack (every form this CPU has) and
                // declines beyond it.
                assert_eq!(
                    fast_tiers_agree(s.as_bytes(), &tree, &general),
                    steps <= 16,
                    "{steps} steps"
                );
            }
        }
    }
}

// ----- the job -----

/// One record: partition index, key, value, headers, timestamp.
#[derive(Debug, Clone)]
struct R {
    partition: usize,
    key: Option<&'static str>,
    value: Option<String>,
    headers: Vec<(&'static str, Option<&'static str>)>,
    ts: i64,
}

fn r(value: &str) -> R {
    R {
        partition: 0,
        key: None,
        value: Some(value.to_string()),
        headers: vec![],
        ts: 1000,
    }
}

/// Feed records through a real decoder (one batch per record: base timestamp 1000).
fn feed<J: Job>(job: &J, partial: &mut J::Partial, recs: &[R]) -> Result<(), JobError> {
    for (offset, rec) in recs.iter().enumerate() {
        let batch = Batch::plain(
            offset as i64,
            &[Rec {
                offset_delta: 0,
                ts_delta: rec.ts - 1000,
                key: rec.key.map(|k| k.as_bytes().to_vec()),
                value: rec.value.as_ref().map(|v| v.as_bytes().to_vec()),
                headers: rec
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
                    .collect(),
            }],
        )
        .encode();
        let mut d = kbatch_records::Decoder::new(1 << 20);
        let chunk = kbatch_records::Chunk {
            bytes: &batch,
            start: 0,
            end: i64::MAX,
            isolation: kbatch_records::Isolation::ReadCommitted,
            aborted: &[],
        };
        match d.decode(&chunk, |x| job.update(partial, rec.partition, x)) {
            Ok(_) => {}
            Err(kbatch_records::Stop::Job(e)) => return Err(e),
            Err(kbatch_records::Stop::Records(e)) => panic!("{e}"),
        }
    }
    Ok(())
}

fn stats(recs: &[R]) -> Vec<PartitionStats> {
    let n = recs.iter().map(|r| r.partition + 1).max().unwrap_or(1);
    (0..n)
        .map(|p| PartitionStats {
            records: recs.iter().filter(|r| r.partition == p).count() as u64,
            decoded: recs.len() as i64,
            ..PartitionStats::empty(Arc::from("t"), p as i32, 0, recs.len() as i64)
        })
        .collect()
}

fn spec(
    group: &str,
    item: &str,
    metric: Option<&str>,
    wheres: &[&str],
    window: Option<&str>,
) -> TopSpec {
    TopSpec::parse_at(group, item, metric, wheres, window, Some("all"), NOW).unwrap()
}

fn run(spec: TopSpec, recs: &[R]) -> TopReport {
    let mut job = TopJob::new(spec).unwrap();
    let st = stats(recs);
    let specs: Vec<_> = st
        .iter()
        .map(|s| kbatch_engine::PartitionSpec {
            topic: s.topic.clone(),
            partition: s.partition,
            start: s.start,
            end: s.end,
        })
        .collect();
    job.bind(&specs);
    let mut p = job.partial();
    feed(&job, &mut p, recs).unwrap();
    job.finish(p, &st).unwrap()
}

type Row = (Option<i64>, Vec<String>, String, String, u64);

fn rows(report: &TopReport) -> Vec<Row> {
    report
        .top
        .iter()
        .map(|r| {
            (
                r.window_start,
                r.group.clone(),
                r.item.clone(),
                r.value.to_string(),
                r.rank,
            )
        })
        .collect()
}

fn row(group: &[&str], item: &str, value: &str, rank: u64) -> Row {
    (
        None,
        group.iter().map(|g| g.to_string()).collect(),
        item.into(),
        value.into(),
        rank,
    )
}

/// `records = valid + invalid + filtered` per partition and in total.
fn check_counts(report: &TopReport, valid: u64) {
    let parts: u64 = report.partitions.iter().map(|p| p.counts.records).sum();
    assert_eq!(parts, report.records);
    assert_eq!(report.records, valid + report.invalid + report.filtered);
    assert_eq!(
        report.partitions.iter().map(|p| p.invalid).sum::<u64>(),
        report.invalid
    );
    assert_eq!(
        report.partitions.iter().map(|p| p.filtered).sum::<u64>(),
        report.filtered
    );
}

#[test]
fn nested_groups_filters_and_distinct() {
    let ev = |cat: &str, os: &str, item: &str, cust: &str| {
        r(&format!(
            r#"{{"page":{{"category":"{cat}"}},"device":{{"os":"{os}"}},"item_id":{item},"customer":"{cust}"}}"#
        ))
    };
    let recs = vec![
        ev("Books", "iOS", "1", "c1"),
        ev("Books", "iOS", "1", "c1"),
        ev("Books", "iOS", "1", "c2"),
        ev("Books", "Android", "2", "c1"),
        ev("Books", "iOS", "2", "c3"),
        ev("Books", "iOS", "2", "c4"),
        ev("Books", "Linux", "3", "c5"),
        ev("Toys", "Android", "9", "c1"),
        r(r#"{"page":{"category":"Toys"},"device":{"os":"iOS"},"customer":"c9"}"#),
        r(r#"{"page":{"category":["Toys"]},"device":{"os":"iOS"},"item_id":1,"customer":"c9"}"#),
        r(r#"{"page":{"category":"Toys"},"device":{},"item_id":1,"customer":"c9"}"#),
        r(r#"{"page":{"category":"Toys"},"device":{"os":"iOS","os":"x"},"item_id":1}"#),
        r("not json"),
    ];
    let report = run(
        spec(
            "page.category",
            "item_id",
            Some("distinct:customer"),
            &["device.os in ('iOS', 'Android')"],
            None,
        ),
        &recs,
    );
    assert_eq!(
        rows(&report),
        vec![
            row(&["Books"], "2", "3", 1),
            row(&["Books"], "1", "2", 2),
            row(&["Toys"], "9", "1", 1),
        ]
    );
    // Linux and the event without device.os are filtered; a missing item, an array group,
    // a duplicate key on a path and bad JSON are invalid.
    assert_eq!(report.filtered, 2);
    assert_eq!(report.invalid, 4);
    let reasons: Vec<&str> = report.invalid_samples.iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        ["missing_field", "wrong_type", "duplicate_field", "bad_json"]
    );
    check_counts(&report, 7);
}

#[test]
fn record_filters_run_on_key_headers_timestamp_and_partition() {
    let mut recs = Vec::new();
    let base = r#"{"category":"c","product":"p"}"#;
    for (i, (key, hdr, ts, part)) in [
        (Some("k1"), Some("web"), 5_000, 0),
        (Some("k1"), Some("app"), 5_000, 0),
        (Some("k2"), Some("web"), 5_000, 1),
        (None, Some("web"), 5_000, 0),
        (Some("k1"), None, 5_000, 0),
        (Some("k1"), Some("web"), 4_999, 0),
        (Some("k1"), Some("web"), 6_000, 2),
    ]
    .into_iter()
    .enumerate()
    {
        let _ = i;
        recs.push(R {
            partition: part,
            key,
            value: Some(base.into()),
            headers: hdr
                .map(|h| vec![("src", Some("other")), ("src", Some(h))])
                .unwrap_or_default(),
            ts,
        });
    }
    // A tombstone that is filtered is never invalid.
    recs.push(R {
        partition: 0,
        key: Some("zz"),
        value: None,
        headers: vec![],
        ts: 5_000,
    });
    let count = |wheres: &[&str]| -> (u64, u64) {
        let rep = run(spec("category", "product", None, wheres, None), &recs);
        check_counts(
            &rep,
            rep.top.first().map_or(0, |r| match r.value {
                MetricValue::Count(n) => n,
                _ => unreachable!(),
            }),
        );
        let n = rep.top.first().map_or(0, |r| match r.value {
            MetricValue::Count(n) => n,
            _ => unreachable!(),
        });
        (n, rep.filtered)
    };
    assert_eq!(count(&["key = 'k1'"]), (5, 3));
    // A null key is neither = nor !=; the tombstone's key passes, and then it is invalid.
    assert_eq!(count(&["key != 'k1'"]), (1, 6));
    assert_eq!(count(&["key in ('k2', 'zz')"]), (1, 6));
    assert_eq!(count(&["exists(key)"]), (6, 1));
    assert_eq!(
        count(&["header.src = 'web'"]),
        (5, 3),
        "the last header of a name counts"
    );
    assert_eq!(count(&["header.src = 'other'"]), (0, 8));
    assert_eq!(count(&["exists(header.src)"]), (6, 2));
    assert_eq!(count(&["timestamp >= @5000"]), (6, 1));
    assert_eq!(count(&["timestamp < @5000"]), (1, 7));
    assert_eq!(count(&["timestamp > '1970-01-01T00:00:05Z'"]), (1, 7));
    assert_eq!(count(&["partition in (1, 2)"]), (2, 6));
    assert_eq!(count(&["partition = 0", "key = 'k1'"]), (4, 4));
}

#[test]
fn a_partition_filter_without_bind_fails_rather_than_guess() {
    let job = TopJob::new(spec("category", "product", None, &["partition = 1"], None)).unwrap();
    let mut p = job.partial();
    let e = feed(&job, &mut p, &[r(r#"{"category":"c","product":"p"}"#)]).unwrap_err();
    assert!(matches!(e, JobError::Fail { message, .. } if message.contains("TopJob::bind")));
}

#[test]
fn field_filters_that_cannot_hold_filter_and_compare_numbers_exactly() {
    let recs: Vec<R> = [
        r#"{"c":"x","i":"a","q":5}"#,
        r#"{"c":"x","i":"a","q":5.0}"#,
        r#"{"c":"x","i":"a","q":"5"}"#,
        r#"{"c":"x","i":"a","q":null}"#,
        r#"{"c":"x","i":"a","q":9007199254740993}"#,
        r#"{"c":"x","i":"a","q":true}"#,
        r#"{"c":"x","i":"a"}"#,
        r#"{"c":"x","i":"a","q":[5]}"#,
        r#"{"c":"x","i":"a","q":-1e2}"#,
    ]
    .iter()
    .map(|v| r(v))
    .collect();
    let count = |wh: &str| {
        let rep = run(spec("c", "i", None, &[wh], None), &recs);
        check_counts(&rep, rep.records - rep.filtered - rep.invalid);
        rep.records - rep.filtered
    };
    assert_eq!(count("q = 5"), 2, "numeric: 5 and 5.0");
    assert_eq!(
        count("q = '5'"),
        2,
        "text: 5 as written and the string \"5\""
    );
    assert_eq!(count("q != 5"), 2, "numbers other than 5 only");
    assert_eq!(count("q > 9007199254740992"), 1, "exact beyond 2^53");
    assert_eq!(count("q < 0"), 1);
    assert_eq!(count("q >= -100"), 4);
    assert_eq!(count("q = 'true'"), 1);
    assert_eq!(count("q in (5, 'true')"), 3);
    assert_eq!(
        count("q not in (5, 'true')"),
        2,
        "numbers other than 5; a string or boolean does not compare with the number 5"
    );
    assert_eq!(count("exists(q)"), 8, "null, arrays count as existing");
    assert_eq!(count("exists(q[0])"), 1);
}

#[test]
fn values_are_their_text_and_non_scalars_are_invalid() {
    let recs: Vec<R> = [
        r#"{"g":1,"i":true}"#,
        r#"{"g":"1","i":"true"}"#,
        r#"{"g":1.0,"i":false}"#,
        r#"{"g":"caf\u00e9","i":"x"}"#,
        r#"{"g":"café","i":"x"}"#,
        r#"{"g":null,"i":"x"}"#,
        r#"{"g":{},"i":"x"}"#,
        r#"{"g":"a"}"#,
        r#"{"g":[],"i":null}"#,
    ]
    .iter()
    .map(|v| r(v))
    .collect();
    let rep = run(spec("g", "i", None, &[], None), &recs);
    assert_eq!(
        rows(&rep),
        vec![
            row(&["1"], "true", "2", 1),
            row(&["1.0"], "false", "1", 1),
            row(&["café"], "x", "2", 1),
        ]
    );
    let reasons: Vec<&str> = rep.invalid_samples.iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        ["wrong_type", "wrong_type", "missing_field", "wrong_type"]
    );
}

#[test]
fn sums_are_exact() {
    let recs: Vec<R> = [
        r#"{"c":"x","i":"a","q":0.1}"#,
        r#"{"c":"x","i":"a","q":0.2}"#,
        r#"{"c":"x","i":"b","q":9007199254740993}"#,
        r#"{"c":"x","i":"b","q":1}"#,
        r#"{"c":"x","i":"c","q":1e2}"#,
        r#"{"c":"x","i":"c","q":"7"}"#,
        r#"{"c":"x","i":"c","q":1e400}"#,
        r#"{"c":"x","i":"c","q":1e-39}"#,
        r#"{"c":"x","i":"d"}"#,
    ]
    .iter()
    .map(|v| r(v))
    .collect();
    let rep = run(spec("c", "i", Some("sum:q"), &[], None), &recs);
    assert_eq!(
        rows(&rep),
        vec![
            row(&["x"], "b", "9007199254740994.0", 1),
            row(&["x"], "c", "100.0", 2),
            row(&["x"], "a", "0.3", 3),
        ]
    );
    let reasons: Vec<&str> = rep.invalid_samples.iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        ["wrong_type", "bad_json", "wrong_type", "missing_field"],
        "a string, an f64 overflow, more than 38 decimals, missing"
    );
    let json = serde_json::to_string(&rep).unwrap();
    assert!(json.contains(r#""value":9007199254740994.0"#), "{json}");
    // Integers only: an integer JSON number.
    let ints: Vec<R> = [r#"{"c":"x","i":"a","q":3}"#, r#"{"c":"x","i":"a","q":-5}"#]
        .iter()
        .map(|v| r(v))
        .collect();
    let rep = run(spec("c", "i", Some("sum:q"), &[], None), &ints);
    assert_eq!(rows(&rep), vec![row(&["x"], "a", "-2", 1)]);
    assert!(serde_json::to_string(&rep)
        .unwrap()
        .contains(r#""value":-2,"#));
    // Beyond 38 digits: the report fails, naming the cell.
    let big = format!(r#"{{"c":"x","i":"a","q":{}}}"#, i128::MAX);
    let recs = vec![r(&big), r(&big)];
    let job = TopJob::new(spec("c", "i", Some("sum:q"), &[], None)).unwrap();
    let mut p = job.partial();
    feed(&job, &mut p, &recs).unwrap();
    let e = job.finish(p, &stats(&recs)).unwrap_err();
    assert!(e.to_string().contains("sum:q overflows"), "{e}");
}

#[test]
fn windows_bucket_by_record_timestamp() {
    let h = 3_600_000;
    let t0 = 1_795_514_400_000; // 2026-11-24T10:00:00Z
    let mk = |ts: i64, item: &str| R {
        ts,
        ..r(&format!(r#"{{"c":"x","i":"{item}"}}"#))
    };
    let recs = vec![
        mk(t0, "a"),
        mk(t0 + h - 1, "a"),
        mk(t0 + 5, "b"),
        mk(t0 + h, "b"),
        mk(t0 + h, "b"),
        mk(t0 + h + 1, "a"),
        mk(t0 - 1, "z"),
    ];
    let rep = run(spec("c", "i", None, &[], Some("1h")), &recs);
    let got: Vec<(Option<i64>, String, String, u64)> = rep
        .top
        .iter()
        .map(|r| (r.window_start, r.item.clone(), r.value.to_string(), r.rank))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(t0 - h), "z".into(), "1".into(), 1),
            (Some(t0), "a".into(), "2".into(), 1),
            (Some(t0), "b".into(), "1".into(), 2),
            (Some(t0 + h), "b".into(), "2".into(), 1),
            (Some(t0 + h), "a".into(), "1".into(), 2),
        ]
    );
    let json: serde_json::Value = serde_json::to_value(&rep).unwrap();
    assert_eq!(json["top"][1]["window_start"], "2026-11-24T10:00:00Z");
}

#[test]
fn competition_rank_keeps_ties_and_orders_bytewise() {
    let mut recs = Vec::new();
    for (g, i, n) in [
        ("b", "x", 3),
        ("b", "y", 3),
        ("b", "z", 2),
        ("b", "Z", 1),
        ("a", "é", 2),
        ("a", "e", 2),
        ("a", "f", 1),
        ("A", "q", 1),
    ] {
        for _ in 0..n {
            recs.push(r(&format!(r#"{{"g":"{g}","i":"{i}"}}"#)));
        }
    }
    let all = rows(&run(spec("g", "i", None, &[], None), &recs));
    assert_eq!(
        all,
        vec![
            row(&["A"], "q", "1", 1),
            row(&["a"], "e", "2", 1),
            row(&["a"], "é", "2", 1),
            row(&["a"], "f", "1", 3),
            row(&["b"], "x", "3", 1),
            row(&["b"], "y", "3", 1),
            row(&["b"], "z", "2", 3),
            row(&["b"], "Z", "1", 4),
        ]
    );
    let mut s = spec("g", "i", None, &[], None);
    s.top = Top::N(1);
    let one = rows(&run(s.clone(), &recs));
    assert_eq!(
        one,
        all.iter().filter(|r| r.4 <= 1).cloned().collect::<Vec<_>>()
    );
    s.top = Top::N(2);
    assert_eq!(rows(&run(s, &recs)), one, "no rank 2 after a tie at 1");
}

#[test]
fn approx_distinct_error_is_within_two_percent_at_a_million() {
    for n in [1_000_000u64] {
        let mut h = Hll::new();
        for i in 0..n {
            h.insert(format!("customer-{i}").as_bytes());
        }
        let est = h.estimate() as f64;
        let err = (est - n as f64).abs() / n as f64;
        eprintln!(
            "approx_distinct: {n} distinct → {est} ({:.3} %)",
            err * 100.0
        );
        assert!(err <= 0.02, "{n}: estimate {est}, error {err}");
    }
    // Small sets are exact.
    let mut h = Hll::new();
    for i in 0..100 {
        h.insert(format!("v{i}").as_bytes());
        h.insert(format!("v{i}").as_bytes());
    }
    assert_eq!(h.estimate(), 100);
}

#[test]
fn approx_distinct_in_the_job_merges_sketches() {
    let recs: Vec<R> = (0..3000)
        .map(|i| R {
            partition: i % 3,
            ..r(&format!(r#"{{"g":"x","i":"a","c":"c{}"}}"#, i % 1000))
        })
        .collect();
    let exact = rows(&run(spec("g", "i", Some("distinct:c"), &[], None), &recs));
    assert_eq!(exact, vec![row(&["x"], "a", "1000", 1)]);
    let approx = run(spec("g", "i", Some("approx_distinct:c"), &[], None), &recs);
    let MetricValue::Count(est) = approx.top[0].value else {
        panic!()
    };
    assert!((est as f64 - 1000.0).abs() <= 20.0, "{est}");
    // Split over partials and shards: the same sketch, so the same estimate.
    let sharded = by_shards(
        spec("g", "i", Some("approx_distinct:c"), &[], None),
        &recs,
        &[0, 1000, 2000, 3000],
    );
    assert_eq!(rows(&sharded), rows(&approx));
}

/// Run `recs` as shards split at `cuts`, each serialized to JSON and back, then merged.
fn by_shards(spec: TopSpec, recs: &[R], cuts: &[usize]) -> TopReport {
    let job = TopJob::new(spec).unwrap();
    let shard_job = TopShardJob(job.clone());
    let mut shards = Vec::new();
    for w in cuts.windows(2) {
        let part = &recs[w[0]..w[1]];
        let mut p = shard_job.partial();
        feed(&shard_job, &mut p, part).unwrap();
        let shard = shard_job.finish(p, &stats(part));
        let json = serde_json::to_string(&shard).unwrap();
        let back: TopShard = serde_json::from_str(&json).unwrap();
        assert_eq!(back, shard);
        shards.push(back);
    }
    job.report_from_shards(shards).unwrap()
}

/// A realistic-looking small event for the algebra and model tests.
fn event_strategy() -> impl Strategy<Value = R> {
    (
        0usize..3,
        prop_oneof![Just("Books"), Just("Toys"), Just("Caf\\u00e9"), Just("Café")],
        prop_oneof![Just("iOS"), Just("Android"), Just("Linux")],
        0u32..6,
        0u32..5,
        prop_oneof![Just("3"), Just("1.25"), Just("-2"), Just("\"x\""), Just("0.1")],
        0i64..4,
        0u8..12,
    )
        .prop_map(|(partition, cat, os, item, cust, qty, hour, shape)| {
            let value = match shape {
                0 => "{\"page\":{\"category\":1}".to_string(),
                1 => format!(r#"{{"page":{{"category":"{cat}"}},"item_id":"i{item}"}}"#),
                2 => format!(r#"{{"page":null,"item_id":"i{item}","customer":"c{cust}","qty":{qty}}}"#),
                _ => format!(
                    r#"{{"page":{{"category":"{cat}"}},"device":{{"os":"{os}"}},"item_id":"i{item}","customer":"c{cust}","qty":{qty}}}"#
                ),
            };
            R {
                partition,
                key: None,
                value: Some(value),
                headers: vec![],
                ts: 1_000 + hour * 3_600_000 + i64::from(item),
            }
        })
}

/// The job's question answered from serde_json's reading of each event, by hand.
fn model(spec: &TopSpec, recs: &[R]) -> Vec<Row> {
    use std::collections::{BTreeMap, BTreeSet};
    let get = |v: &serde_json::Value, p: &Path| -> Option<serde_json::Value> {
        let mut cur = v;
        for s in &p.steps {
            cur = match s {
                Step::Key(k) => cur.get(k)?,
                Step::Index(i) => cur.get(*i as usize)?,
            };
        }
        Some(cur.clone())
    };
    let text = |v: &serde_json::Value| -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    #[derive(Default)]
    struct Cell {
        count: u64,
        sum: Option<Decimal>,
        set: BTreeSet<String>,
    }
    let mut cells: BTreeMap<(Option<i64>, Vec<String>, String), Cell> = BTreeMap::new();
    for rec in recs {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(rec.value.as_deref().unwrap()) else {
            continue;
        };
        let pass = spec.filters.iter().all(|f| match (&f.column, &f.test) {
            (Column::Field(p), Test::In(l)) => get(&v, p)
                .and_then(|x| text(&x))
                .is_some_and(|t| l.iter().any(|l| matches!(l, Literal::Text(s) if *s == t))),
            _ => unreachable!("model: only `in` on text"),
        });
        if !pass {
            continue;
        }
        let mut key = Vec::new();
        let mut ok = true;
        for g in &spec.group {
            match get(&v, g).and_then(|x| text(&x)) {
                Some(t) => key.push(t),
                None => ok = false,
            }
        }
        let item = get(&v, &spec.item).and_then(|x| text(&x));
        let metric = spec.metric.path().map(|p| get(&v, p));
        let sum = match (&spec.metric, &metric) {
            (Metric::Sum(_), Some(Some(serde_json::Value::Number(n)))) => {
                Decimal::parse(n.to_string().as_bytes())
            }
            (Metric::Sum(_), _) => None,
            _ => Some(Decimal::default()),
        };
        let mtext = metric.clone().flatten().and_then(|x| text(&x));
        if !ok || item.is_none() || sum.is_none() || (metric.is_some() && mtext.is_none()) {
            continue;
        }
        let ws = spec.window.map(|w| w.start(rec.ts));
        let c = cells.entry((ws, key, item.unwrap())).or_default();
        c.count += 1;
        c.sum = Some(c.sum.unwrap_or_default().checked_add(sum.unwrap()).unwrap());
        if let Some(t) = mtext {
            c.set.insert(t);
        }
    }
    let scale = cells
        .values()
        .filter_map(|c| c.sum)
        .map(|s| s.scale)
        .max()
        .unwrap_or(0);
    type Groups = BTreeMap<(Option<i64>, Vec<String>), Vec<(String, String, Decimal)>>;
    let mut groups: Groups = BTreeMap::new();
    for ((ws, g, i), c) in cells {
        let (shown, ord) = match spec.metric {
            Metric::Count => (
                c.count.to_string(),
                Decimal {
                    units: c.count.into(),
                    scale: 0,
                },
            ),
            Metric::Distinct(_) => (
                c.set.len().to_string(),
                Decimal {
                    units: c.set.len() as i128,
                    scale: 0,
                },
            ),
            Metric::Sum(_) => {
                let d = c.sum.unwrap().rescale(scale).unwrap();
                (d.to_string(), d)
            }
            Metric::ApproxDistinct(_) => unreachable!(),
        };
        groups.entry((ws, g)).or_default().push((i, shown, ord));
    }
    let mut out = Vec::new();
    for ((ws, g), mut items) in groups {
        items.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.as_bytes().cmp(b.0.as_bytes())));
        for (k, (i, shown, ord)) in items.iter().enumerate() {
            let rank = 1 + items.iter().filter(|x| x.2 > *ord).count() as u64;
            let _ = k;
            if rank <= spec.top.limit() {
                out.push((ws, g.clone(), i.clone(), shown.clone(), rank));
            }
        }
    }
    out
}

fn model_specs() -> Vec<TopSpec> {
    let mut out = vec![
        spec("page.category", "item_id", None, &[], None),
        spec(
            "page.category,device.os",
            "item_id",
            Some("distinct:customer"),
            &[],
            None,
        ),
        spec(
            "page.category",
            "item_id",
            Some("sum:qty"),
            &["device.os in ('iOS', 'Android')"],
            None,
        ),
        spec(
            "device.os",
            "item_id",
            Some("distinct:customer"),
            &[],
            Some("1h"),
        ),
    ];
    let mut top2 = spec("page.category", "customer", None, &[], Some("2h"));
    top2.top = Top::N(2);
    out.push(top2);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every query shape equals the serde_json model, and merging partials in any order and
    /// any split (and through shards) gives the same report.
    #[test]
    fn job_matches_the_model_and_merges_in_any_order(
        recs in prop::collection::vec(event_strategy(), 0..60),
        cut1 in any::<prop::sample::Index>(),
        cut2 in any::<prop::sample::Index>(),
    ) {
        for s in model_specs() {
            let single = run(s.clone(), &recs);
            prop_assert_eq!(rows(&single), model(&s, &recs), "{:?}", s);
            check_counts(&single, single.records - single.invalid - single.filtered);
            let job = TopJob::new(s.clone()).unwrap();
            let (mut a, mut b) = (cut1.index(recs.len() + 1), cut2.index(recs.len() + 1));
            if a > b { std::mem::swap(&mut a, &mut b); }
            let parts = [&recs[..a], &recs[a..b], &recs[b..]];
            let partials: Vec<_> = parts.iter().map(|p| {
                let mut x = job.partial();
                feed(&job, &mut x, p).unwrap();
                x
            }).collect();
            for order in [[0usize, 1, 2], [2, 1, 0], [1, 0, 2]] {
                let mut acc = job.partial();
                for &i in &order {
                    job.merge(&mut acc, partials[i].clone());
                }
                let rep = job.finish(acc, &stats(&recs)).unwrap();
                prop_assert_eq!(rows(&rep), rows(&single));
                prop_assert_eq!(rep.invalid, single.invalid);
                prop_assert_eq!(rep.filtered, single.filtered);
            }
            let sharded = by_shards(s.clone(), &recs, &[0, a, b, recs.len()]);
            prop_assert_eq!(rows(&sharded), rows(&single));
            prop_assert_eq!(sharded.records, single.records);
            prop_assert_eq!(sharded.invalid, single.invalid);
            prop_assert_eq!(sharded.filtered, single.filtered);
        }
    }
}

#[test]
fn renderings_follow_the_columns() {
    let recs: Vec<R> = [
        r#"{"page":{"category":"a,b"},"item":"x\"y","q":2}"#,
        r#"{"page":{"category":"a,b"},"item":"z","q":1.5}"#,
    ]
    .iter()
    .map(|v| r(v))
    .collect();
    let rep = run(
        spec("page.category", "item", Some("sum:q"), &[], Some("1d")),
        &recs,
    );
    let json = serde_json::to_string(&rep).unwrap();
    let top_at = json.find(r#""top":"#).unwrap();
    assert!(
        json.starts_with(
            r#"{"records":2,"invalid":0,"filtered":0,"partitions":[{"topic":"t","partition":0,"#
        ),
        "{json}"
    );
    assert_eq!(
        &json[top_at..],
        r#""top":[{"page.category":"a,b","item":"x\"y","value":2.0,"rank":1,"window_start":"1970-01-01T00:00:00Z"},{"page.category":"a,b","item":"z","value":1.5,"rank":2,"window_start":"1970-01-01T00:00:00Z"}],"invalid_samples":[]}"#
    );
    assert_eq!(
        render_top_csv(&rep),
        "page.category,item,value,rank,window_start\r\n\"a,b\",\"x\"\"y\",2.0,1,1970-01-01T00:00:00Z\r\n\"a,b\",z,1.5,2,1970-01-01T00:00:00Z\r\n"
    );
    let table = render_top_table(&rep);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "+-------------+----+-----+----+--------------------+"
    );
    assert_eq!(
        lines[1],
        "|page.category|item|value|rank|        window_start|"
    );
    assert_eq!(
        lines[3],
        "|          a,b| x\"y|  2.0|   1|1970-01-01T00:00:00Z|"
    );
    assert_eq!(lines.len(), 6);
}

// ----- trending's question -----

/// `top --group category --item product` is trending: the same rows, invalid counts and
/// samples on every realistic mix, through the fast path, and the general path agrees.
#[test]
fn trending_question_answers_as_trending() {
    use kbatch_testkit::events::Mix;
    for mix in Mix::ALL {
        let recs: Vec<R> = crate::tests::realistic(mix, 3000)
            .into_iter()
            .enumerate()
            .map(|(i, (v, _))| R {
                partition: i % 2,
                key: None,
                value: v.map(|v| String::from_utf8(v).unwrap_or_default()),
                headers: vec![],
                ts: 1000,
            })
            .filter(|r| r.value.as_deref() != Some(""))
            // A number where trending wants a string (`product` a number) is a value for
            // `top` (its text): the one place the two questions differ, by design.
            .filter(|r| {
                crate::extract(r.value.as_deref().map(str::as_bytes)).err()
                    != Some(crate::Invalid::WrongType)
            })
            .collect();
        for top in [1u32, 3] {
            let trending = crate::Trending { top, strict: false };
            let mut p = trending.partial();
            feed(&trending, &mut p, &recs).unwrap();
            let want = trending.finish(p, &stats(&recs));
            let got = run(
                TopSpec {
                    top: Top::N(u64::from(top)),
                    ..TopSpec::trending(1)
                },
                &recs,
            );
            let want_rows: Vec<(String, String, String, u64)> = want
                .top
                .iter()
                .map(|r| {
                    (
                        r.category.clone(),
                        r.product.clone(),
                        r.views.to_string(),
                        r.rank,
                    )
                })
                .collect();
            let got_rows: Vec<(String, String, String, u64)> = got
                .top
                .iter()
                .map(|r| {
                    (
                        r.group[0].clone(),
                        r.item.clone(),
                        r.value.to_string(),
                        r.rank,
                    )
                })
                .collect();
            assert_eq!(got_rows, want_rows, "{}", mix.name());
            assert_eq!(got.invalid, want.invalid, "{}", mix.name());
            assert_eq!(got.records, want.records);
            assert_eq!(got.filtered, 0);
            let samples = |s: &[crate::InvalidSample]| {
                s.iter().map(|s| (s.offset, s.reason)).collect::<Vec<_>>()
            };
            assert_eq!(
                samples(&got.invalid_samples),
                samples(&want.invalid_samples)
            );
            // The same question with a decoy filter leaves the fast pair table: same rows.
            let general = run(
                TopSpec {
                    top: Top::N(u64::from(top)),
                    filters: vec![w("exists(category)")],
                    ..TopSpec::trending(1)
                },
                &recs,
            );
            assert_eq!(rows(&general), rows(&got), "{}", mix.name());
            assert_eq!(general.invalid + general.filtered, got.invalid);
        }
    }
}

// ----- timestamps: bounds, plan narrowing, batch skipping -----

#[test]
fn timestamp_filters_give_inclusive_bounds() {
    use kbatch_records::TimeBounds;
    let b = |min, max| TimeBounds { min, max };
    let empty = b(i64::MAX, i64::MIN);
    let (lo, hi) = (i64::MIN, i64::MAX);
    // (--where texts, bounds)
    let table: &[(&[&str], TimeBounds)] = &[
        (&[], TimeBounds::ANY),
        (&["category = 'x'", "key = 'k'"], TimeBounds::ANY),
        (&["timestamp >= @1000"], b(1000, hi)),
        (&["timestamp > @1000"], b(1001, hi)),
        (&["timestamp <= @1000"], b(lo, 1000)),
        (&["timestamp < @1000"], b(lo, 999)),
        (&["timestamp = @1000"], b(1000, 1000)),
        (&["timestamp != @1000"], TimeBounds::ANY),
        (&["timestamp in (@30, @10, @20)"], b(10, 30)),
        (&["timestamp not in (@30, @10)"], TimeBounds::ANY),
        (&["timestamp >= @1000", "timestamp < @2000"], b(1000, 1999)),
        (
            &[
                "timestamp >= @1000",
                "timestamp >= @500",
                "timestamp <= @3000",
                "timestamp < @9000",
            ],
            b(1000, 3000),
        ),
        (&["timestamp >= -1h"], b(NOW - 3_600_000, hi)),
        (
            &["timestamp >= '2026-11-24T10:00:00Z'"],
            b(1_795_514_400_000, hi),
        ),
        (&["timestamp > @2000", "timestamp < @1000"], empty),
        (&["timestamp > @1000", "timestamp < @1002"], b(1001, 1001)),
        (&["timestamp > @1000", "timestamp < @1001"], empty),
        (&["timestamp > @9223372036854775807"], empty),
        (&["timestamp < @0"], b(lo, -1)),
    ];
    for (wheres, want) in table {
        let s = TopSpec::parse_at("c", "p", None, wheres, None, None, NOW).unwrap();
        assert_eq!(s.timestamps(), *want, "{wheres:?}");
        let min = (want.min != i64::MIN).then_some(want.min);
        assert_eq!(s.min_timestamp(), min, "{wheres:?}");
    }
}

#[test]
fn narrow_moves_starts_to_the_lower_bound_and_never_cuts_ends() {
    use kbatch_reader::{Bound, Position::*, ReadSpec};
    let t = |p| Bound {
        default: p,
        overrides: vec![
            (None, 1, Earliest),
            (None, 2, Offset(5)),
            (None, 3, Timestamp(9_000)),
        ],
    };
    let narrowed = |wheres: &[&str], from: Bound, to: Bound| {
        let s = TopSpec::parse_at("c", "p", None, wheres, None, None, NOW).unwrap();
        let mut read = ReadSpec::topics(["t"]);
        read.from = from;
        read.to = to;
        s.narrow(&mut read);
        (read.from, read.to)
    };
    let ge = ["timestamp >= @5000"];
    // Earliest and earlier times move to @5000, later times and explicit offsets stay.
    let (from, to) = narrowed(&ge, t(Earliest), Bound::all(Latest));
    assert_eq!(
        from,
        Bound {
            default: Timestamp(5000),
            overrides: vec![
                (None, 1, Timestamp(5000)),
                (None, 2, Offset(5)),
                (None, 3, Timestamp(9_000))
            ],
        }
    );
    assert_eq!(to, Bound::all(Latest), "the end is never moved");
    let (from, _) = narrowed(&ge, Bound::all(Timestamp(4_000)), Bound::all(Latest));
    assert_eq!(from, Bound::all(Timestamp(5000)));
    let (from, _) = narrowed(&ge, Bound::all(Offset(3)), Bound::all(Latest));
    assert_eq!(from, Bound::all(Offset(3)));
    // An upper bound alone moves nothing; `--to @E` below the bound starts at E (empty).
    let (from, to) = narrowed(
        &["timestamp < @5000"],
        Bound::all(Earliest),
        Bound::all(Latest),
    );
    assert_eq!((from, to), (Bound::all(Earliest), Bound::all(Latest)));
    let (from, to) = narrowed(&ge, Bound::all(Earliest), Bound::all(Timestamp(3_000)));
    assert_eq!(
        (from, to),
        (Bound::all(Timestamp(3_000)), Bound::all(Timestamp(3_000)))
    );
    // An explicit end offset could fall below the moved start: the start stays.
    let (from, _) = narrowed(&ge, Bound::all(Earliest), Bound::all(Offset(100)));
    assert_eq!(from, Bound::all(Earliest));
    let end = Bound {
        default: Latest,
        overrides: vec![(None, 0, Offset(100))],
    };
    let (from, _) = narrowed(&ge, Bound::all(Earliest), end);
    assert_eq!(from, Bound::all(Earliest));
}

/// [`TopJob`] without batch skipping: every record decoded and filtered one by one.
struct NoSkip(TopJob);

impl Job for NoSkip {
    type Partial = TopPartial;
    type Output = Result<TopReport, TopError>;
    fn partial(&self) -> TopPartial {
        self.0.partial()
    }
    fn update(
        &self,
        p: &mut TopPartial,
        i: usize,
        r: &kbatch_records::Record<'_>,
    ) -> Result<(), JobError> {
        self.0.update(p, i, r)
    }
    fn merge(&self, into: &mut TopPartial, other: TopPartial) {
        self.0.merge(into, other)
    }
    fn finish(&self, p: TopPartial, stats: &[PartitionStats]) -> Self::Output {
        self.0.finish(p, stats)
    }
}

/// Three partitions of compressed batches, old and new interleaved: create-time batches whose
/// records go back and forth in time, and log-append-time batches. `(batches per partition,
/// every record's (partition, timestamp, value))`.
#[allow(clippy::type_complexity)]
fn old_and_new() -> (Vec<Vec<u8>>, Vec<(usize, i64, String)>) {
    use kbatch_records::Compression::{Lz4, Zstd};
    let mut chunks = Vec::new();
    let mut all = Vec::new();
    for p in 0..3usize {
        let mut bytes = Vec::new();
        let mut offset = 0i64;
        for b in 0..12i64 {
            // eras: 1 old (1000s), 2 new (5000s); batch b of partition p
            let era = if (b + p as i64) % 3 == 0 {
                1_000
            } else {
                5_000
            };
            let base_ts = era + b * 10;
            let log_append = b % 4 == 3;
            let n = 5 + (b % 3) as i32;
            // create time: deltas go back and forth (signed), up to +40
            let deltas: Vec<i64> = (0..n)
                .map(|i| [0, 40, -7, 13, 2, -3, 25][i as usize])
                .collect();
            let recs: Vec<Rec> = (0..n)
                .map(|i| {
                    let v = format!(
                        r#"{{"category":"c{}","product":"p{}","n":{}}}"#,
                        (b + i as i64) % 3,
                        (i as i64 * 7 + b) % 4,
                        i
                    );
                    Rec {
                        offset_delta: i,
                        ts_delta: deltas[i as usize],
                        key: None,
                        value: Some(v.into_bytes()),
                        headers: vec![],
                    }
                })
                .collect();
            let max_delta = *deltas.iter().max().unwrap();
            let codec = if b % 2 == 0 { Lz4 } else { Zstd };
            let mut batch =
                Batch::with(offset, &recs, codec, false).times(base_ts, base_ts + max_delta);
            if log_append {
                batch = batch.log_append();
            }
            for (i, r) in recs.iter().enumerate() {
                let ts = if log_append {
                    base_ts + max_delta
                } else {
                    base_ts + deltas[i]
                };
                all.push((p, ts, String::from_utf8(r.value.clone().unwrap()).unwrap()));
            }
            bytes.extend(batch.encode());
            offset += i64::from(n);
        }
        chunks.push(bytes);
    }
    (chunks, all)
}

fn engine_run<J: Job>(
    job: &J,
    chunks: &[Vec<u8>],
    threads: usize,
) -> (J::Output, Vec<PartitionStats>) {
    let specs: Vec<kbatch_engine::PartitionSpec> = chunks
        .iter()
        .enumerate()
        .map(|(p, c)| kbatch_engine::PartitionSpec {
            topic: Arc::from("t"),
            partition: p as i32,
            start: 0,
            end: kbatch_records::walk(c, true).unwrap().next_offset.unwrap(),
        })
        .collect();
    let config = kbatch_engine::EngineConfig {
        threads,
        ..kbatch_engine::EngineConfig::default()
    };
    let progress = kbatch_engine::Progress::new(&specs);
    let out = kbatch_engine::run(
        &config,
        job,
        &specs,
        kbatch_records::Isolation::ReadCommitted,
        &progress,
        |feeder| {
            for (p, c) in chunks.iter().enumerate() {
                let work = kbatch_engine::Work {
                    partition: p,
                    bytes: bytes::Bytes::from(c.clone()),
                    aborted: vec![],
                };
                feeder.send(work).map_err(|_| "halted")?;
            }
            Ok::<(), &str>(())
        },
    )
    .unwrap();
    (out.output, out.stats)
}

#[test]
fn skipping_batches_by_header_gives_the_answer_of_decoding_them_all() {
    let (chunks, all) = old_and_new();
    type Pass = fn(i64) -> bool;
    let cases: &[(&[&str], Pass)] = &[
        (&["timestamp >= @3000"], |t| t >= 3000),
        (&["timestamp > @5030"], |t| t > 5030),
        (&["timestamp < @3000"], |t| t < 3000),
        (&["timestamp >= @1020", "timestamp <= @5080"], |t| {
            (1020..=5080).contains(&t)
        }),
        (&["timestamp = @5073"], |t| t == 5073),
        (&["timestamp in (@1000, @5113)"], |t| t == 1000 || t == 5113),
        (&["timestamp > @9000"], |t| t > 9000),
        (&["timestamp != @5000"], |t| t != 5000),
    ];
    let mut skipped_any = 0;
    for (wheres, pass) in cases {
        let s =
            TopSpec::parse_at("category", "product", None, wheres, None, Some("all"), NOW).unwrap();
        let job = TopJob::new(s.clone()).unwrap();
        for threads in [1, 2] {
            let (got, stats) = engine_run(&job, &chunks, threads);
            let (want, _) = engine_run(&NoSkip(TopJob::new(s.clone()).unwrap()), &chunks, threads);
            let (got, want) = (got.unwrap(), want.unwrap());
            assert_eq!(got.top, want.top, "{wheres:?}");
            assert_eq!(
                (got.records, got.invalid, got.filtered),
                (want.records, want.invalid, want.filtered),
                "{wheres:?}"
            );
            // An independent count: the records whose timestamp passes.
            let passing = all.iter().filter(|(_, ts, _)| pass(*ts)).count() as u64;
            assert!(
                passing > 0 || wheres == &["timestamp > @9000"],
                "{wheres:?} selects something"
            );
            assert_eq!(got.records, all.len() as u64, "{wheres:?}");
            assert_eq!(
                got.records - got.invalid - got.filtered,
                passing,
                "{wheres:?}"
            );
            for (part, s) in got.partitions.iter().zip(&stats) {
                assert_eq!(part.counts.records as i64, s.end - s.start, "{wheres:?}");
                assert_eq!(part.skipped_records, s.skipped);
                assert!(part.filtered >= part.skipped_records);
            }
            skipped_any += got
                .partitions
                .iter()
                .map(|p| p.skipped_batches)
                .sum::<u64>();
        }
    }
    assert!(skipped_any > 0);
    // The figures of one case, worked out by hand from `old_and_new`: `>= 3000` skips the old
    // batches (eras are by batch, so 4 of 12 per partition), whatever their time type.
    let s = TopSpec::parse_at(
        "category",
        "product",
        None,
        &["timestamp >= @3000"],
        None,
        Some("all"),
        NOW,
    )
    .unwrap();
    let (got, _) = engine_run(&TopJob::new(s).unwrap(), &chunks, 1);
    let got = got.unwrap();
    assert_eq!(
        got.partitions
            .iter()
            .map(|p| p.skipped_batches)
            .collect::<Vec<_>>(),
        [4, 4, 4]
    );
    // `< 3000` skips only the new log-append batches: create-time ones cannot be bounded below.
    let s = TopSpec::parse_at(
        "category",
        "product",
        None,
        &["timestamp < @3000"],
        None,
        Some("all"),
        NOW,
    )
    .unwrap();
    let (got, _) = engine_run(&TopJob::new(s).unwrap(), &chunks, 1);
    let new_log_append: Vec<u64> = (0..3i64)
        .map(|p| {
            (0..12i64)
                .filter(|b| b % 4 == 3 && (b + p) % 3 != 0)
                .count() as u64
        })
        .collect();
    let got: Vec<u64> = got
        .unwrap()
        .partitions
        .iter()
        .map(|p| p.skipped_batches)
        .collect();
    assert_eq!(got, new_log_append);
}
