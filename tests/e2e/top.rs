//! `kbatch top` end to end: nested events written by Kafka's Java producer over 3 partitions
//! with create timestamps and headers; a question with two nested group paths, a field filter,
//! a header filter, a partition filter, a timestamp filter (which narrows the planned ranges)
//! and `distinct`; the expected report is computed here from what the test generated, never by
//! kbatch's extractor. Usage errors name the column and exit 2. Timestamp filters: old batches
//! skipped by their header (create time, zstd) give the answer of the same filter on the
//! event's own field; an upper bound skips log-append batches and keeps the planned end.

use std::collections::{BTreeMap, BTreeSet};

use kbatch_testkit::{ProduceOp, ProducedRecord, ProducerSettings};
use serde_json::{json, Value};

use crate::common::*;

struct Ev {
    partition: i32,
    ts: i64,
    src: &'static str,
    category: &'static str,
    os: &'static str,
    item: u64,
    customer: u64,
}

#[test]
fn top_nested_groups_filters_and_distinct() {
    let t = topic("top");
    create_topic(&t, 3, &[]);
    const CATS: [&str; 3] = ["Books", "Café & Thé", "Toys"];
    const OS: [&str; 3] = ["iOS", "Android", "Linux"];
    let t0: i64 = 1_795_514_400_000; // 2026-11-24T10:00:00Z
    let mut evs = Vec::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for i in 0..600i64 {
        evs.push(Ev {
            partition: (i % 3) as i32,
            // Increasing per partition, so `--from @T` starts exactly at the first passing one.
            ts: t0 + i * 1_000,
            src: if next(5) == 0 { "app" } else { "web" },
            category: CATS[next(3) as usize],
            os: OS[next(3) as usize],
            item: next(6),
            customer: next(40),
        });
    }
    let ops: Vec<ProduceOp> = evs
        .iter()
        .map(|e| {
            // The category's non-ASCII letters escaped in half the events: compared unescaped.
            let cat = if e.item % 2 == 0 {
                e.category.replace('é', "\\u00e9")
            } else {
                e.category.to_string()
            };
            let value = format!(
                r#"{{"page":{{"category":"{cat}","url":"/x"}},"device":{{"os":{{"name":"{}"}}}},"item_id":{},"customer":"c{}","category":"decoy"}}"#,
                e.os, e.item, e.customer
            );
            ProduceOp::Record(ProducedRecord {
                partition: e.partition,
                timestamp: Some(e.ts),
                key: None,
                value: Some(value.into_bytes()),
                headers: vec![("src".into(), Some(e.src.as_bytes().to_vec()))],
            })
        })
        .collect();
    let settings = ProducerSettings {
        compression: Some("lz4".into()),
        linger_ms: Some(10),
        ..ProducerSettings::default()
    };
    produce(&t, &settings, &ops);

    let from = t0 + 150 * 1_000;
    let wheres = [
        "device.os.name in ('iOS', 'Android')",
        "header.src = 'web'",
        "partition in (0, 2)",
    ];
    let time = format!("timestamp >= @{from}");
    let mut args = vec![
        "top",
        "--topic",
        &t,
        "--group",
        "page.category,device.os.name",
        "--item",
        "item_id",
        "--metric",
        "distinct:customer",
        "--top",
        "all",
        "--format",
        "json",
    ];
    for w in wheres.iter().copied().chain([time.as_str()]) {
        args.push("--where");
        args.push(w);
    }
    let doc = kbatch(&args).json();

    // Expected: the ranges start at the first record at or after `from` in partitions 0 and 2.
    let in_range: Vec<&Ev> = evs
        .iter()
        .filter(|e| e.partition != 1 && e.ts >= from)
        .collect();
    let mut cells: BTreeMap<(String, String), BTreeMap<String, BTreeSet<u64>>> = BTreeMap::new();
    let mut filtered = 0u64;
    for e in &in_range {
        if e.os == "Linux" || e.src != "web" {
            filtered += 1;
            continue;
        }
        cells
            .entry((e.category.to_string(), e.os.to_string()))
            .or_default()
            .entry(e.item.to_string())
            .or_default()
            .insert(e.customer);
    }
    let mut rows = Vec::new();
    for ((cat, os), items) in &cells {
        let mut v: Vec<(u64, &String)> = items.iter().map(|(i, s)| (s.len() as u64, i)).collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.as_bytes().cmp(b.1.as_bytes())));
        for (value, item) in &v {
            let rank = 1 + v.iter().filter(|(n, _)| n > value).count();
            rows.push(
                json!({"page.category": cat, "device.os.name": os, "item_id": item,
                "value": value, "rank": rank}),
            );
        }
    }
    assert_eq!(doc["top"], Value::Array(rows));
    assert_eq!(doc["records"], json!(in_range.len()));
    assert_eq!(doc["filtered"], json!(filtered));
    assert_eq!(doc["invalid"], json!(0));
    let parts: Vec<i64> = doc["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["partition"].as_i64().unwrap())
        .collect();
    assert_eq!(parts, [0, 2], "partition in (0, 2) shapes the plan");
    for p in doc["partitions"].as_array().unwrap() {
        let n = |f: &str| p[f].as_u64().unwrap();
        assert_eq!(n("records"), n("end") - n("start"));
        let valid: u64 = in_range
            .iter()
            .filter(|e| i64::from(e.partition) == p["partition"].as_i64().unwrap())
            .filter(|e| e.os != "Linux" && e.src == "web")
            .count() as u64;
        assert_eq!(n("records"), valid + n("invalid") + n("filtered"), "{p}");
    }

    // The same question as CSV: the same columns, spelled as given.
    let csv_args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "json" { "csv" } else { a })
        .collect();
    let csv = kbatch(&csv_args);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    assert!(
        csv.stdout
            .starts_with("page.category,device.os.name,item_id,value,rank\r\n"),
        "{}",
        csv.stdout
    );
    assert_eq!(
        csv.stdout.lines().count(),
        1 + doc["top"].as_array().unwrap().len()
    );
}

#[test]
fn top_usage_errors_name_the_column_and_exit_2() {
    for (args, needle) in [
        (
            vec![
                "--group",
                "category",
                "--item",
                "product",
                "--where",
                "price > 'ten'",
            ],
            "price >: expected a number",
        ),
        (
            vec!["--group", "page.", "--item", "product"],
            "--group \"page.\": expected a key",
        ),
        (
            vec!["--group", "c", "--item", "p", "--metric", "avg:x"],
            "unknown metric \"avg\"",
        ),
        (
            vec!["--group", "c", "--item", "p", "--window", "1w"],
            "--window \"1w\": bad unit",
        ),
    ] {
        let mut a = vec!["top", "--topic", "unused"];
        a.extend(args.iter().copied());
        // Refused before connecting: an address nothing listens on is never dialled.
        a.extend(["--bootstrap", "127.0.0.1:9"]);
        let run = kbatch(&a);
        assert_eq!(run.code, 2, "{a:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{a:?}: {}", run.stderr);
    }
}

/// `(category, product)` → events, from what the test produced.
fn counted<'a>(evs: impl Iterator<Item = &'a (i32, i64, String, String)>) -> Value {
    let mut cells: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (_, _, c, p) in evs {
        *cells.entry((c.clone(), p.clone())).or_default() += 1;
    }
    let mut rows = Vec::new();
    let cats: BTreeSet<&String> = cells.keys().map(|(c, _)| c).collect();
    for cat in cats {
        let mut v: Vec<(u64, &String)> = cells
            .iter()
            .filter(|((c, _), _)| c == cat)
            .map(|((_, p), n)| (*n, p))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.as_bytes().cmp(b.1.as_bytes())));
        for (value, item) in &v {
            let rank = 1 + v.iter().filter(|(n, _)| n > value).count();
            rows.push(json!({"category": cat, "product": item, "value": value, "rank": rank}));
        }
    }
    Value::Array(rows)
}

fn top_json(t: &str, wheres: &[&str]) -> Value {
    let mut args = vec![
        "top",
        "--topic",
        t,
        "--group",
        "category",
        "--item",
        "product",
        "--top",
        "all",
        "--format",
        "json",
        "--threads",
        "2",
    ];
    for w in wheres {
        args.extend(["--where", w]);
    }
    kbatch(&args).json()
}

fn sum(doc: &Value, field: &str) -> u64 {
    doc["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[field].as_u64().unwrap())
        .sum()
}

/// Every partition's records are its range, and `records = valid + invalid + filtered`.
fn assert_accounted(doc: &Value, valid: u64) {
    for p in doc["partitions"].as_array().unwrap() {
        let n = |f: &str| p[f].as_u64().unwrap();
        assert_eq!(n("records"), n("end") - n("start"), "{p}");
        assert!(n("filtered") >= n("skipped_records"), "{p}");
    }
    let n = |f: &str| doc[f].as_u64().unwrap();
    assert_eq!(n("records"), valid + n("invalid") + n("filtered"));
    assert_eq!(n("records"), sum(doc, "records"));
    assert_eq!(n("filtered"), sum(doc, "filtered"));
}

#[test]
fn top_timestamp_filter_skips_old_batches_undecoded() {
    // Create time, zstd: new events, a backfill of old ones, new again, old again (each phase
    // flushed into its own batches). `timestamp >= T` starts at the first new event at or
    // after T and skips the old batches after it by their header, never decompressing them.
    let t = topic("top-skip");
    create_topic(&t, 2, &[("retention.ms", "-1")]);
    let (t_old, t_new) = (1_600_000_000_000i64, 1_795_514_400_000i64);
    let cut = t_new + 40_000;
    let mut evs: Vec<(i32, i64, String, String)> = Vec::new();
    let mut ops = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for (phase, n) in [(0, 200i64), (1, 300), (2, 200), (3, 150)] {
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let partition = (i % 2) as i32;
            let ts = match phase {
                0 => t_new + i * 1_000,
                2 => t_new + 300_000 + i * 1_000 - (x % 5) as i64 * 1_000, // a little out of order
                _ => t_old + phase * 1_000_000 + i,
            };
            let (cat, prod) = (format!("c{}", x % 3), format!("p{}", (x >> 8) % 5));
            let value = format!(r#"{{"category":"{cat}","product":"{prod}","ts":{ts}}}"#);
            ops.push(ProduceOp::Record(ProducedRecord {
                partition,
                timestamp: Some(ts),
                key: None,
                value: Some(value.into_bytes()),
                headers: vec![],
            }));
            evs.push((partition, ts, cat, prod));
        }
        ops.push(ProduceOp::Flush);
    }
    let settings = ProducerSettings {
        compression: Some("zstd".into()),
        linger_ms: Some(50),
        batch_size: Some(2_000),
        ..ProducerSettings::default()
    };
    produce(&t, &settings, &ops);

    let want = counted(evs.iter().filter(|e| e.1 >= cut));
    let valid = evs.iter().filter(|e| e.1 >= cut).count() as u64;
    let skipping = top_json(&t, &[&format!("timestamp >= @{cut}")]);
    // The same question on the event's own `ts` field: no narrowing, no skipping.
    let field = top_json(&t, &[&format!("ts >= {cut}")]);
    assert_eq!(skipping["top"], want);
    assert_eq!(field["top"], want);
    assert_accounted(&skipping, valid);
    assert_accounted(&field, valid);
    assert_eq!(
        field["records"],
        json!(evs.len()),
        "a field filter reads everything"
    );
    assert_eq!(sum(&field, "skipped_batches"), 0);
    // The start moved to the first event at or after the cut (phase 0 is in time order)...
    let before_cut = evs[..200].iter().filter(|e| e.1 < cut).count();
    assert_eq!(skipping["records"], json!(evs.len() - before_cut));
    // ...and every old batch after it was skipped: phases 1 and 3, 450 records.
    assert!(sum(&skipping, "skipped_batches") >= 4, "{skipping}");
    assert_eq!(sum(&skipping, "skipped_records"), 450, "{skipping}");
}

#[test]
fn top_upper_time_bound_skips_log_append_batches_and_keeps_the_end() {
    // Log-append time: every record carries the broker's time, its batch header's max. A
    // cut taken between two phases splits them exactly.
    let t = topic("top-lat");
    create_topic(&t, 2, &[("message.timestamp.type", "LogAppendTime")]);
    let settings = ProducerSettings {
        compression: Some("lz4".into()),
        ..ProducerSettings::default()
    };
    let phase = |tag: &str, n: usize| -> Vec<(i32, i64, String, String)> {
        let evs: Vec<(i32, i64, String, String)> = (0..n)
            .map(|i| {
                (
                    (i % 2) as i32,
                    0,
                    format!("{tag}{}", i % 2),
                    format!("p{}", i % 3),
                )
            })
            .collect();
        let ops: Vec<ProduceOp> = evs
            .iter()
            .map(|(p, _, c, pr)| {
                let v = format!(r#"{{"category":"{c}","product":"{pr}"}}"#);
                ProduceOp::Record(ProducedRecord {
                    partition: *p,
                    value: Some(v.into_bytes()),
                    ..ProducedRecord::default()
                })
            })
            .collect();
        produce(&t, &settings, &ops);
        evs
    };
    let first = phase("a", 120);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let cut = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = phase("b", 80);

    let before = top_json(&t, &[&format!("timestamp < @{cut}")]);
    assert_eq!(before["top"], counted(first.iter()));
    assert_accounted(&before, first.len() as u64);
    assert_eq!(
        before["records"],
        json!(first.len() + second.len()),
        "the end stays"
    );
    assert_eq!(sum(&before, "skipped_records"), second.len() as u64);

    let after = top_json(&t, &[&format!("timestamp >= @{cut}")]);
    assert_eq!(after["top"], counted(second.iter()));
    assert_accounted(&after, second.len() as u64);
    assert_eq!(
        after["records"],
        json!(second.len()),
        "the start moved to the cut"
    );
}
