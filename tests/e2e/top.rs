//! `kbatch top` end to end: nested events written by Kafka's Java producer over 3 partitions
//! with create timestamps and headers; a question with two nested group paths, a field filter,
//! a header filter, a partition filter, a timestamp filter (which narrows the planned ranges)
//! and `distinct`; the expected report is computed here from what the test generated, never by
//! kbatch's extractor. Usage errors name the column and exit 2.

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
