//! The trending job end to end: events written by Kafka's Java producer across 5 partitions and
//! several codecs, with escaped and unescaped spellings, nested decoys, ties and invalid values,
//! plus an aborted transaction. The expected report is computed here from what the test
//! generated (plain code that knows each event's meaning), never by kbatch's extractor.

use std::collections::{BTreeMap, HashMap};

use kbatch_testkit::{ProduceOp, ProducedRecord, ProducerSettings};
use serde_json::{json, Value};

use crate::common::*;

/// One generated record and what it means.
#[derive(Clone)]
struct Gen {
    partition: i32,
    value: Option<Vec<u8>>,
    /// `Ok((category, product))` for a valid event, `Err(reason)` otherwise.
    meaning: Result<(String, String), &'static str>,
}

/// Deterministic xorshift, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// JSON-escape every character of `s` as \uXXXX (so the raw bytes differ from `s`).
fn escaped(s: &str) -> String {
    let mut out = String::new();
    for u in s.encode_utf16() {
        out.push_str(&format!("\\u{u:04x}"));
    }
    out
}

fn event(rng: &mut Rng, partition: i32) -> Gen {
    const CATEGORIES: [&str; 4] = ["Books", "Électronique", "Toys, \"Games\"", "日本"];
    let c = CATEGORIES[rng.below(4) as usize];
    // Skewed popularity: product k with weight ~ 1/(k+1); PD0000 and PD0001 tie often.
    let k = {
        let r = rng.below(100);
        if r < 30 {
            0
        } else if r < 60 {
            1
        } else {
            2 + rng.below(8)
        }
    };
    let p = format!("PD{k:04}");
    let cust = format!("cus{:02}", rng.below(50));
    let (cj, pj) = match rng.below(4) {
        0 => (escaped(c), p.clone()),
        1 => (c.replace('"', "\\\""), escaped(&p)),
        _ => (c.replace('"', "\\\""), p.clone()),
    };
    let value = match rng.below(3) {
        0 => format!(
            r#"{{"customer":"{cust}","product":"{pj}","category":"{cj}","ts":"1516978415"}}"#
        ),
        1 => format!(
            r#"{{"meta":{{"product":"DECOY","category":"DECOY"}},"category":"{cj}","list":[{{"product":"x"}}],"product":"{pj}"}}"#
        ),
        _ => {
            format!(r#" {{ "product" : "{pj}" , "category" : "{cj}" , "n": -1.5e3, "ok": true }} "#)
        }
    };
    Gen {
        partition,
        value: Some(value.into_bytes()),
        meaning: Ok((c.to_string(), p)),
    }
}

fn invalid(i: usize, partition: i32) -> Gen {
    let (value, reason): (Option<&[u8]>, &str) = match i % 9 {
        0 => (None, "tombstone"),
        1 => (Some(b""), "empty"),
        2 => (
            Some(b"{\"product\":\"P\xff\",\"category\":\"Books\"}"),
            "bad_utf8",
        ),
        3 => (
            Some(b"{\"product\":\"PD0001\",\"category\":\"Books\"} x"),
            "bad_json",
        ),
        4 => (Some(b"[\"product\",\"category\"]"), "not_object"),
        5 => (Some(b"{\"product\":\"PD0001\"}"), "missing_field"),
        6 => (
            Some(b"{\"product\":null,\"category\":\"Books\"}"),
            "wrong_type",
        ),
        7 => (
            Some(b"{\"product\":\"A\",\"category\":\"Books\",\"product\":\"B\"}"),
            "duplicate_field",
        ),
        _ => (
            Some(b"{\"product\":\"PD0001\",\"category\":\"Books\""),
            "bad_json",
        ),
    };
    Gen {
        partition,
        value: value.map(<[u8]>::to_vec),
        meaning: Err(reason),
    }
}

fn op(g: &Gen) -> ProduceOp {
    ProduceOp::Record(ProducedRecord {
        partition: g.partition,
        key: Some(b"cus01".to_vec()),
        value: g.value.clone(),
        ..ProducedRecord::default()
    })
}

/// The report the job must give, from the generated meanings of records at `(partition, offset)`.
fn expected(
    topic: &str,
    records: &[(Gen, i64, bool)], // (generated, offset, aborted)
    ranges: &BTreeMap<i32, (i64, i64)>,
    read_uncommitted: bool,
    top: u64,
) -> Value {
    let mut counts: BTreeMap<String, HashMap<String, u64>> = BTreeMap::new();
    let mut per_part: BTreeMap<i32, (u64, u64, u64)> = BTreeMap::new(); // records, invalid, aborted
    let mut samples: BTreeMap<i32, Vec<(i64, &str)>> = BTreeMap::new();
    for (g, offset, aborted) in records {
        let (start, end) = ranges[&g.partition];
        if *offset < start || *offset >= end {
            continue;
        }
        let e = per_part.entry(g.partition).or_default();
        if *aborted && !read_uncommitted {
            e.2 += 1;
            continue;
        }
        e.0 += 1;
        match &g.meaning {
            Ok((c, p)) => {
                *counts
                    .entry(c.clone())
                    .or_default()
                    .entry(p.clone())
                    .or_default() += 1
            }
            Err(reason) => {
                e.1 += 1;
                samples
                    .entry(g.partition)
                    .or_default()
                    .push((*offset, reason));
            }
        }
    }
    let mut top_rows = Vec::new();
    for (category, products) in &counts {
        let mut rows: Vec<(u64, &String, u64)> = products
            .iter()
            .map(|(p, &n)| {
                (
                    1 + products.values().filter(|&&m| m > n).count() as u64,
                    p,
                    n,
                )
            })
            .filter(|(rank, _, _)| *rank <= top)
            .collect();
        rows.sort_by(|a, b| (a.0, a.1.as_bytes()).cmp(&(b.0, b.1.as_bytes())));
        for (rank, product, views) in rows {
            top_rows.push(
                json!({"category": category, "product": product, "views": views, "rank": rank}),
            );
        }
    }
    let mut parts = Vec::new();
    let mut inv_samples = Vec::new();
    let (mut total, mut total_invalid) = (0, 0);
    for (&p, &(start, end)) in ranges {
        let (records, invalid, aborted) = per_part.get(&p).copied().unwrap_or_default();
        total += records;
        total_invalid += invalid;
        parts.push(
            json!({"topic": topic, "partition": p, "start": start, "end": end,
            "records": records, "aborted": aborted, "control": 0, "invalid": invalid}),
        );
        let mut s = samples.get(&p).cloned().unwrap_or_default();
        s.sort();
        for (offset, reason) in s.into_iter().take(5) {
            inv_samples
                .push(json!({"topic": topic, "partition": p, "offset": offset, "reason": reason}));
        }
    }
    json!({"records": total, "invalid": total_invalid, "partitions": parts, "top": top_rows,
        "invalid_samples": inv_samples})
}

#[test]
fn trending_matches_an_independent_report() {
    let t = topic("trending");
    create_topic(&t, 5, &[]);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut all: Vec<(Gen, i64, bool)> = Vec::new();

    // Three plain producer runs with different codecs, then one aborted transaction.
    for (round, codec) in ["none", "lz4", "zstd"].into_iter().enumerate() {
        let mut gens = Vec::new();
        for i in 0..1500 {
            let partition = (i % 5) as i32;
            if i % 37 == round {
                gens.push(invalid(i / 37 + round, partition));
            } else {
                gens.push(event(&mut rng, partition));
            }
        }
        let settings = ProducerSettings {
            compression: Some(codec.into()),
            linger_ms: Some(10),
            ..ProducerSettings::default()
        };
        let ops: Vec<_> = gens.iter().map(op).collect();
        let produced = produce(&t, &settings, &ops);
        for (g, p) in gens.into_iter().zip(produced) {
            assert_eq!(p.partition, g.partition);
            all.push((g, p.offset, false));
        }
    }
    let aborted: Vec<Gen> = (0..40).map(|i| event(&mut rng, i % 5)).collect();
    let mut ops = vec![ProduceOp::BeginTxn];
    ops.extend(aborted.iter().map(op));
    ops.push(ProduceOp::AbortTxn);
    let txn = ProducerSettings {
        transactional_id: Some(format!("{t}-tx")),
        compression: Some("gzip".into()),
        ..ProducerSettings::default()
    };
    let produced = produce(&t, &txn, &ops);
    for (g, p) in aborted.into_iter().zip(produced) {
        all.push((g, p.offset, true));
    }

    // Whole range: every partition ends after its abort marker.
    let ends: BTreeMap<i32, i64> = (0..5)
        .map(|p| {
            (
                p,
                all.iter()
                    .filter(|(g, _, _)| g.partition == p)
                    .map(|(_, o, _)| o + 2)
                    .max()
                    .unwrap(),
            )
        })
        .collect();
    let whole: BTreeMap<i32, (i64, i64)> = ends.iter().map(|(&p, &e)| (p, (0, e))).collect();

    // RELIABILITY.md case 11: records = valid + invalid, and every offset in range is a data
    // record, an aborted record or a control record (no compaction here, so no gaps).
    let doc = kbatch(&["trending", "--topic", &t, "--format", "json"]).json();
    let mut invalid_sum = 0;
    for p in doc["partitions"].as_array().unwrap() {
        let n = |f: &str| p[f].as_i64().unwrap();
        assert_eq!(
            n("records") + n("aborted") + n("control"),
            n("end") - n("start"),
            "{p}"
        );
        invalid_sum += n("invalid");
    }
    assert_eq!(doc["invalid"].as_i64(), Some(invalid_sum));

    for top in [1u64, 3] {
        let run = kbatch(&[
            "trending",
            "--topic",
            &t,
            "--format",
            "json",
            "--top",
            &top.to_string(),
        ]);
        let mut want = expected(&t, &all, &whole, false, top);
        // Control records: one abort marker per partition.
        for p in want["partitions"].as_array_mut().unwrap() {
            p["control"] = json!(1);
        }
        assert_eq!(run.json(), want, "top {top}");
    }

    // read_uncommitted counts the aborted events; threads 1 and 4 agree.
    let mut want = expected(&t, &all, &whole, true, 2);
    for p in want["partitions"].as_array_mut().unwrap() {
        p["control"] = json!(1);
    }
    for threads in ["1", "4"] {
        let run = kbatch(&[
            "trending",
            "--topic",
            &t,
            "--format",
            "json",
            "--top",
            "2",
            "--isolation",
            "read_uncommitted",
            "--threads",
            threads,
        ]);
        assert_eq!(run.json(), want, "read_uncommitted, {threads} threads");
    }

    // Ranges that start and end mid-partition (no marker inside: control stays 0).
    let mut mid = whole.clone();
    mid.insert(0, (7, 700));
    mid.insert(3, (250, 251));
    let run = kbatch(&[
        "trending",
        "--topic",
        &t,
        "--format",
        "json",
        "--top",
        "3",
        "--from",
        "0:7,3:250",
        "--to",
        "0:700,3:251",
    ]);
    let mut want = expected(&t, &all, &mid, false, 3);
    for p in want["partitions"].as_array_mut().unwrap() {
        if p["partition"] != json!(0) && p["partition"] != json!(3) {
            p["control"] = json!(1);
        }
    }
    assert_eq!(run.json(), want, "mid-partition ranges");

    // --strict fails at an invalid record, naming it.
    let strict = kbatch(&["trending", "--topic", &t, "--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.stderr);
    assert!(strict.stdout.is_empty());
    assert!(strict.stderr.contains("offset"), "{}", strict.stderr);

    // CSV and table carry the same rows.
    let csv = kbatch(&["trending", "--topic", &t, "--format", "csv"]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let want1 = expected(&t, &all, &whole, false, 1);
    assert_eq!(
        csv.stdout.lines().count(),
        1 + want1["top"].as_array().unwrap().len()
    );
    assert_eq!(
        csv.stdout.lines().next(),
        Some("category,product,views,rank")
    );
    assert!(
        csv.stdout.contains("\"Toys, \"\"Games\"\"\""),
        "{}",
        csv.stdout
    );
    let table = kbatch(&["trending", "--topic", &t]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    for row in want1["top"].as_array().unwrap() {
        assert!(table.stdout.contains(row["product"].as_str().unwrap()));
        assert!(table.stdout.contains(row["category"].as_str().unwrap()));
    }
    assert!(
        table.stderr.contains("records"),
        "summary on stderr: {}",
        table.stderr
    );
}
