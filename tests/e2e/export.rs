//! `kbatch export` (issue 14): Parquet, Arrow IPC and JSON lines read back equal to what
//! Kafka's Java producer wrote (every column: nulls, headers with a null value, create
//! timestamps in µs), `jsonl` equals `dump`, the manifest names exactly what was written,
//! `--from-manifest` continues where the last run ended, `--max-file-bytes` cuts files,
//! errors; then `s3://` on a real S3-compatible server (moto), including a run killed
//! mid-export that leaves no complete-looking object and no manifest.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, TimeUnit};
use base64::Engine as _;
use kbatch_arrow::rows::{owned_rows, OwnedRow};
use kbatch_testkit::s3::S3Server;
use kbatch_testkit::{ProduceOp, ProducedRecord, ProducerSettings};
use serde_json::Value;

use crate::common::*;

/// One row as Spark's Kafka source has it (timestamp in µs).
type Row = OwnedRow;

/// Create timestamps of the produced records: an hour ago, so the broker's retention (7 days
/// by record time) never deletes them under the test.
fn base_ms() -> i64 {
    static BASE: OnceLock<i64> = OnceLock::new();
    *BASE.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        now.as_millis() as i64 - 3_600_000
    })
}

/// A topic with every codec, null keys and values, headers (duplicate keys, a null value),
/// and a transaction that aborts before one that commits; the rows kbatch must export under
/// read_committed, built from what the producer acknowledged.
struct Mixed {
    topic: String,
    rows: Vec<Row>,
}

fn record(topic: &str, partition: i32, i: usize) -> (ProducedRecord, Row) {
    let key = (!i.is_multiple_of(5)).then(|| format!("k{i}").into_bytes());
    let value =
        (i % 7 != 3).then(|| format!(r#"{{"id":{i},"p":{partition},"é":"ü"}}"#).into_bytes());
    let headers: Vec<(String, Option<Vec<u8>>)> = match i % 3 {
        0 => vec![("h".into(), Some(b"v".to_vec())), ("n".into(), None)],
        1 => vec![
            ("dup".into(), Some(b"1".to_vec())),
            ("dup".into(), Some(vec![0, 255])),
        ],
        _ => vec![],
    };
    let ts = base_ms() + i as i64;
    let produced = ProducedRecord {
        partition,
        timestamp: Some(ts),
        key: key.clone(),
        value: value.clone(),
        headers: headers.clone(),
    };
    let row = Row {
        partition,
        offset: -1,
        topic: topic.to_string(),
        key,
        value,
        timestamp_us: ts * 1000,
        timestamp_type: 0,
        headers,
    };
    (produced, row)
}

fn mixed() -> &'static Mixed {
    static MIXED: OnceLock<Mixed> = OnceLock::new();
    MIXED.get_or_init(|| {
        let t = topic("export-mixed");
        create_topic(&t, 3, &[]);
        let mut rows = Vec::new();
        let mut i = 0;
        let mut send = |ops_for: &[(i32, usize)], codec: &str, rows: &mut Vec<Row>| {
            let mut ops = Vec::new();
            let mut pending = Vec::new();
            for &(p, n) in ops_for {
                for _ in 0..n {
                    i += 1;
                    let (r, row) = record(&t, p, i);
                    ops.push(ProduceOp::Record(r));
                    pending.push(row);
                }
            }
            let settings = ProducerSettings {
                compression: Some(codec.into()),
                linger_ms: Some(20),
                ..ProducerSettings::default()
            };
            for (mut row, at) in pending.into_iter().zip(produce(&t, &settings, &ops)) {
                assert_eq!(row.partition, at.partition);
                row.offset = at.offset;
                rows.push(row);
            }
        };
        send(&[(0, 40), (1, 10)], "lz4", &mut rows);
        send(&[(1, 40), (2, 10)], "zstd", &mut rows);
        send(&[(2, 40), (0, 10)], "gzip", &mut rows);
        send(&[(0, 10), (1, 10), (2, 10)], "snappy", &mut rows);
        // A transaction that aborts (5 records to partition 1), then one that commits.
        let txn = ProducerSettings {
            transactional_id: Some(format!("{t}-tx")),
            ..ProducerSettings::default()
        };
        let mut ops = vec![ProduceOp::BeginTxn];
        for _ in 0..5 {
            i += 1;
            ops.push(ProduceOp::Record(record(&t, 1, i).0));
        }
        ops.push(ProduceOp::AbortTxn);
        ops.push(ProduceOp::BeginTxn);
        let mut committed = Vec::new();
        for p in [1, 2] {
            for _ in 0..3 {
                i += 1;
                let (r, row) = record(&t, p, i);
                ops.push(ProduceOp::Record(r));
                committed.push(row);
            }
        }
        ops.push(ProduceOp::CommitTxn);
        let produced = produce(&t, &txn, &ops);
        // The producer reports records only (5 aborted, then 6 committed).
        assert_eq!(produced.len(), 11);
        for (mut row, at) in committed.into_iter().zip(&produced[5..]) {
            row.offset = at.offset;
            rows.push(row);
        }
        rows.sort();
        Mixed { topic: t, rows }
    })
}

fn tempdir(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(topic(&format!("kbatch-export-{what}")));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Run kbatch with extra environment variables.
fn kbatch_env(args: &[&str], env: &[(&str, String)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbatch"));
    cmd.args(args).arg("--bootstrap").arg(&broker().bootstrap);
    cmd.env_remove("KBATCH_BOOTSTRAP");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd.output().expect("running kbatch");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

fn rows_of(batch: &RecordBatch) -> Vec<Row> {
    owned_rows(batch)
}

/// The schema is Spark's Kafka source's, with plain (not Large/View) types.
fn check_schema(schema: &arrow_schema::Schema) {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "key",
            "value",
            "topic",
            "partition",
            "offset",
            "timestamp",
            "timestampType",
            "headers"
        ]
    );
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(types[0], &DataType::Binary);
    assert_eq!(types[2], &DataType::Utf8);
    assert_eq!(
        types[5],
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert!(matches!(types[7], DataType::List(_)), "{:?}", types[7]);
}

/// Rows of one exported file.
fn read_file(bytes: Vec<u8>, format: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    match format {
        "parquet" => {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                bytes::Bytes::from(bytes),
            )
            .expect("a complete Parquet file")
            .build()
            .unwrap();
            check_schema(&reader.schema());
            for b in reader {
                rows.extend(rows_of(&b.unwrap()));
            }
        }
        "arrow" => {
            let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None)
                .expect("a complete Arrow IPC file");
            check_schema(&reader.schema());
            for b in reader {
                rows.extend(rows_of(&b.unwrap()));
            }
        }
        other => panic!("{other}"),
    }
    rows
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn manifest(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("_manifest.json")).expect("_manifest.json");
    serde_json::from_str(&text).unwrap()
}

/// Every file the manifest names exists with its size, holds `records` rows from
/// `first_offset` to `last_offset`, and nothing else (but the manifest) is in `dir`.
fn check_manifest_files(dir: &Path, m: &Value, format: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut named = vec!["_manifest.json".to_string()];
    for p in m["partitions"].as_array().unwrap() {
        let mut in_partition = 0;
        for f in p["files"].as_array().unwrap() {
            let name = f["name"].as_str().unwrap();
            named.push(name.to_string());
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert_eq!(bytes.len() as u64, f["bytes"].as_u64().unwrap(), "{name}");
            let got = if format == "jsonl" {
                jsonl_rows(&bytes)
            } else {
                read_file(bytes, format)
            };
            assert_eq!(got.len() as u64, f["records"].as_u64().unwrap(), "{name}");
            assert_eq!(
                got.first().unwrap().offset,
                f["first_offset"].as_i64().unwrap()
            );
            assert_eq!(
                got.last().unwrap().offset,
                f["last_offset"].as_i64().unwrap()
            );
            in_partition += got.len() as u64;
            rows.extend(got);
        }
        assert_eq!(in_partition, p["records"].as_u64().unwrap(), "{p}");
    }
    named.sort();
    assert_eq!(files_in(dir), named, "only complete, named files");
    rows.sort();
    rows
}

/// Rows of a jsonl file, as far as dump's format carries them (no headers, ms timestamps).
fn jsonl_rows(bytes: &[u8]) -> Vec<Row> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().map(|s| s.as_bytes().to_vec());
            Row {
                partition: v["partition"].as_i64().unwrap() as i32,
                offset: v["offset"].as_i64().unwrap(),
                topic: v["topic"].as_str().unwrap().into(),
                key: s("key"),
                value: s("value"),
                timestamp_us: v["timestamp"].as_i64().unwrap() * 1000,
                timestamp_type: 0,
                headers: vec![],
            }
        })
        .collect()
}

fn without_headers(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .map(|r| Row {
            headers: vec![],
            ..r.clone()
        })
        .collect()
}

#[test]
fn every_format_reads_back_exactly_with_its_manifest() {
    let m = mixed();
    for format in ["parquet", "arrow", "jsonl"] {
        let dir = tempdir(format);
        let run = kbatch(&[
            "export",
            "--topic",
            &m.topic,
            "--format",
            format,
            "--output",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 0, "{format}: {}", run.stderr);
        let man = manifest(&dir);
        assert_eq!(serde_json::from_str::<Value>(&run.stdout).unwrap(), man);
        assert_eq!(man["topic"].as_str(), Some(m.topic.as_str()));
        assert_eq!(man["format"].as_str(), Some(format));
        assert_eq!(man["isolation"].as_str(), Some("read_committed"));
        assert_eq!(
            man["kbatch_version"].as_str(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        let expected_compression = if format == "parquet" {
            "zstd(3)"
        } else {
            "none"
        };
        assert_eq!(man["compression"].as_str(), Some(expected_compression));
        // Per partition: the count figures agree with `count`, and cover the range.
        let count = kbatch(&["count", "--topic", &m.topic]).json();
        let parts: Vec<_> = man["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["partition"].as_i64().unwrap(),
                    p["start"].as_i64().unwrap(),
                    p["end"].as_i64().unwrap(),
                    p["records"].as_u64().unwrap(),
                    p["aborted"].as_u64().unwrap(),
                    p["control"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(parts, partitions(&count), "{man}");
        assert_eq!(parts[1].4, 5, "partition 1's aborted transaction");
        assert_eq!((parts[1].5, parts[2].5), (2, 1), "markers");
        let got = check_manifest_files(&dir, &man, format);
        if format == "jsonl" {
            assert_eq!(got, without_headers(&m.rows));
            // Byte for byte dump's lines.
            let dump = kbatch(&["dump", "--topic", &m.topic]);
            assert_eq!(dump.code, 0, "{}", dump.stderr);
            let mut dumped: Vec<&str> = dump.stdout.lines().collect();
            let mut exported = String::new();
            for f in files_in(&dir).iter().filter(|n| n.ends_with(".jsonl")) {
                exported.push_str(&std::fs::read_to_string(dir.join(f)).unwrap());
            }
            let mut exported: Vec<&str> = exported.lines().collect();
            dumped.sort();
            exported.sort();
            assert_eq!(exported, dumped);
        } else {
            assert_eq!(got, m.rows, "{format}");
        }
        if format == "parquet" {
            pyarrow_reads_the_same(&dir, &m.rows);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// pyarrow (the project virtualenv's) reads the Parquet files to the same rows.
fn pyarrow_reads_the_same(dir: &Path, rows: &[Row]) {
    let python = kbatch_testkit::s3::venv_bin("python");
    let script = r#"
import base64, json, sys, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet").to_table()
assert str(t.schema.field("timestamp").type) == "timestamp[us, tz=UTC]", t.schema
b = lambda x: None if x is None else base64.b64encode(x).decode()
for r in t.to_pylist():
    print(json.dumps([r["partition"], r["offset"], b(r["key"]), b(r["value"]),
        int(r["timestamp"].timestamp() * 1_000_000), r["timestampType"],
        [[h["key"], b(h["value"])] for h in r["headers"]]]))
"#;
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(dir)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{} ({e}): run `make venv`", python.display()));
    assert!(out.status.success(), "pyarrow failed");
    let b = |x: &Option<Vec<u8>>| {
        x.as_ref()
            .map(|x| base64::engine::general_purpose::STANDARD.encode(x))
    };
    let mut got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut want: Vec<String> = rows
        .iter()
        .map(|r| {
            let hs: Vec<(String, Option<String>)> =
                r.headers.iter().map(|(k, v)| (k.clone(), b(v))).collect();
            serde_json::json!([
                r.partition,
                r.offset,
                b(&r.key),
                b(&r.value),
                r.timestamp_us,
                r.timestamp_type,
                hs
            ])
            .to_string()
        })
        .collect();
    let norm = |v: &mut Vec<String>| {
        for s in v.iter_mut() {
            *s = serde_json::from_str::<Value>(s).unwrap().to_string();
        }
        v.sort();
    };
    norm(&mut got);
    norm(&mut want);
    assert_eq!(got, want, "pyarrow's reading");
}

fn values(ids: std::ops::Range<u64>, p: i32) -> Vec<ProduceOp> {
    ids.map(|i| rec(p, None, &id_value(i, p))).collect()
}

#[test]
fn from_manifest_exports_only_what_is_new() {
    let t = topic("export-incr");
    create_topic(&t, 2, &[]);
    let mut ops = values(0..20, 0);
    ops.extend(values(20..25, 1));
    produce(&t, &ProducerSettings::default(), &ops);
    let (a, b, c) = (tempdir("incr-a"), tempdir("incr-b"), tempdir("incr-c"));
    let export = |dir: &Path, from: Option<&Path>| {
        let mut args = vec![
            "export".to_string(),
            "--topic".into(),
            t.clone(),
            "--format".into(),
            "jsonl".into(),
            "--output".into(),
            dir.display().to_string(),
        ];
        if let Some(m) = from {
            args.push("--from-manifest".into());
            args.push(m.join("_manifest.json").display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = kbatch(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let man = manifest(dir);
        let rows = check_manifest_files(dir, &man, "jsonl");
        (man, rows)
    };
    let (m1, r1) = export(&a, None);
    assert_eq!(r1.len(), 25);
    let mut ops = values(100..110, 0);
    ops.extend(values(110..113, 1));
    produce(&t, &ProducerSettings::default(), &ops);
    let (m2, r2) = export(&b, Some(&a));
    let ids = |rows: &[Row]| -> Vec<u64> {
        let mut ids: Vec<u64> = rows
            .iter()
            .map(|r| {
                serde_json::from_slice::<Value>(r.value.as_ref().unwrap()).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&r2),
        (100..113).collect::<Vec<_>>(),
        "exactly the new records"
    );
    for (p1, p2) in m1["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(m2["partitions"].as_array().unwrap())
    {
        assert_eq!(p2["start"], p1["end"], "{p1} → {p2}");
    }
    // Nothing new: empty ranges, no files, a manifest all the same.
    let (m3, r3) = export(&c, Some(&b));
    assert!(r3.is_empty());
    for p in m3["partitions"].as_array().unwrap() {
        assert_eq!(p["start"], p["end"]);
        assert_eq!(p["files"], serde_json::json!([]));
    }
    // A manifest of another topic is refused.
    let other = mixed();
    let run = kbatch(&[
        "export",
        "--topic",
        &other.topic,
        "--output",
        c.join("x").to_str().unwrap(),
        "--from-manifest",
        c.join("_manifest.json").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("is of topic"), "{}", run.stderr);
    assert!(!c.join("x").join("_manifest.json").exists());
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// A run that fails after completing files (here: its manifest cannot be written) leaves them
/// with no manifest naming them, and a `*.jsonl` glob over the output would read their
/// records twice once the run is repeated. The repeated run lists the ones it did not write
/// again, on stderr and as `orphans` in its manifest, never among its files.
#[test]
fn files_no_manifest_names_are_listed_as_orphans() {
    let t = topic("export-orphans");
    create_topic(&t, 2, &[]);
    let mut ops = values(0..20, 0);
    ops.extend(values(20..25, 1));
    produce(&t, &ProducerSettings::default(), &ops);
    let (a, b) = (tempdir("orphans-a"), tempdir("orphans-b"));
    let export = |dir: &Path, from: Option<&Path>, extra: &[&str]| {
        let mut args = vec![
            "export".to_string(),
            "--topic".into(),
            t.clone(),
            "--format".into(),
            "jsonl".into(),
            "--output".into(),
            dir.display().to_string(),
        ];
        if let Some(m) = from {
            args.push("--from-manifest".into());
            args.push(m.join("_manifest.json").display().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kbatch(&args)
    };
    let run = export(&a, None, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        manifest(&a)["orphans"],
        serde_json::json!([]),
        "a fresh output"
    );
    let mut ops = values(100..160, 0);
    ops.extend(values(160..170, 1));
    produce(&t, &ProducerSettings::default(), &ops);

    // The incremental run fails after its (small) files completed: a directory holds the
    // manifest's name.
    std::fs::create_dir_all(b.join("_manifest.json").join("x")).unwrap();
    let small = ["--max-file-bytes", "1K", "--batch-rows", "7"];
    let run = export(&b, Some(&a), &small);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("_manifest.json not written"),
        "{}",
        run.stderr
    );
    std::fs::remove_dir_all(b.join("_manifest.json")).unwrap();
    let left = files_in(&b);
    assert!(left.len() >= 3, "the failed run completed files: {left:?}");

    // Run again (one file per partition this time): the failed run's first file of each
    // partition has the name of this run's and is replaced; its others are orphans.
    let run = export(&b, Some(&a), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let man = manifest(&b);
    let files: Vec<String> = man["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["files"].as_array().unwrap().clone())
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(files.len(), 2, "{man}");
    let want: Vec<String> = left
        .iter()
        .filter(|n| !files.contains(n))
        .cloned()
        .collect();
    assert!(!want.is_empty(), "{left:?} {files:?}");
    let orphans: Vec<String> = man["orphans"]
        .as_array()
        .unwrap_or_else(|| panic!("no orphans in {man}"))
        .iter()
        .map(|o| o.as_str().unwrap().to_string())
        .collect();
    assert_eq!(orphans, want);
    assert!(
        run.stderr.contains("named by no manifest"),
        "{}",
        run.stderr
    );
    for o in &orphans {
        assert!(run.stderr.contains(o.as_str()), "{o}: {}", run.stderr);
    }
    // The manifest's own files hold exactly the new records; the orphans hold some of them again.
    let mut named = files.clone();
    named.push("_manifest.json".into());
    named.extend(orphans.iter().cloned());
    named.sort();
    assert_eq!(files_in(&b), named);
    let mut ids: Vec<u64> = files
        .iter()
        .flat_map(|f| jsonl_rows(&std::fs::read(b.join(f)).unwrap()))
        .map(|r| {
            serde_json::from_slice::<Value>(r.value.as_ref().unwrap()).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, (100..170).collect::<Vec<_>>());

    // The next run back into `a` (a chain of runs into one directory): the first run's files
    // there lie below where `b`'s manifest ended, so they are the chain's, not orphans.
    let run = export(&a, Some(&b), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        manifest(&a)["orphans"],
        serde_json::json!([]),
        "{}",
        run.stderr
    );
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn max_file_bytes_cuts_files_in_offset_order() {
    let m = mixed();
    for format in ["jsonl", "parquet"] {
        let dir = tempdir("split");
        let run = kbatch(&[
            "export",
            "--topic",
            &m.topic,
            "--format",
            format,
            "--output",
            dir.to_str().unwrap(),
            "--max-file-bytes",
            "1K",
            "--batch-rows",
            "7",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let man = manifest(&dir);
        let rows = check_manifest_files(&dir, &man, format);
        if format == "jsonl" {
            assert_eq!(rows, without_headers(&m.rows));
        } else {
            assert_eq!(rows, m.rows);
        }
        for p in man["partitions"].as_array().unwrap() {
            let files = p["files"].as_array().unwrap();
            assert!(files.len() >= 3, "{format}: {p}");
            for pair in files.windows(2) {
                assert!(pair[0]["last_offset"].as_i64() < pair[1]["first_offset"].as_i64());
                assert!(pair[0]["name"].as_str() < pair[1]["name"].as_str());
            }
            if format == "jsonl" {
                // A file is cut once it reaches the limit: at most one slice (7 rows) over.
                for f in files {
                    assert!(f["bytes"].as_u64().unwrap() < 1024 + 7 * 200, "{f}");
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn export_errors_are_clear_and_leave_no_manifest() {
    let m = mixed();
    let dir = tempdir("errors");
    let out = dir.to_str().unwrap();
    let run = kbatch(&["export", "--topic", "no-such-topic-export", "--output", out]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("no-such-topic-export"),
        "{}",
        run.stderr
    );
    assert!(!dir.join("_manifest.json").exists());
    let run = kbatch(&["export", "--topic", &m.topic, "--output", "gs://bucket/x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("gs:// is not supported"),
        "{}",
        run.stderr
    );
    let run = kbatch(&["export", "--topic", &m.topic, "--output", "s3:///x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = kbatch(&[
        "export",
        "--topic",
        &m.topic,
        "--output",
        out,
        "--format",
        "jsonl",
        "--compression",
        "zstd",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    // A failure half-way: partition 2's first file cannot be completed (a directory holds
    // its name). The run fails naming it, aborts what is open, writes no manifest; whatever
    // completed is named in the error and is whole.
    std::fs::create_dir_all(dir.join(format!("{}.2.{:020}.jsonl", m.topic, 0)).join("x")).unwrap();
    let run = kbatch(&[
        "export", "--topic", &m.topic, "--format", "jsonl", "--output", out,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("partition 2"), "{}", run.stderr);
    assert!(
        run.stderr.contains("_manifest.json not written"),
        "{}",
        run.stderr
    );
    assert!(!dir.join("_manifest.json").exists());
    for name in files_in(&dir) {
        if name.ends_with(".jsonl") && !name.contains(".2.") {
            assert!(
                run.stderr.contains(&name),
                "{name} is complete but not named: {}",
                run.stderr
            );
            let rows = jsonl_rows(&std::fs::read(dir.join(&name)).unwrap());
            let p = rows[0].partition;
            let want: Vec<Row> = without_headers(&m.rows)
                .into_iter()
                .filter(|r| r.partition == p)
                .collect();
            assert_eq!(rows, want, "{name} is whole");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn s3() -> &'static S3Server {
    static S3: OnceLock<S3Server> = OnceLock::new();
    S3.get_or_init(|| S3Server::start().unwrap_or_else(|e| panic!("S3 test server: {e}")))
}

#[test]
fn s3_export_reads_back_and_a_killed_export_leaves_nothing_complete_looking() {
    let m = mixed();
    let s3 = s3();
    let bucket = "kbatch-export";
    s3.create_bucket(bucket).unwrap();
    let env = s3.env();
    let url = format!("s3://{bucket}/run1/mixed");
    let run = kbatch_env(
        &[
            "export",
            "--topic",
            &m.topic,
            "--output",
            &url,
            "--max-file-bytes",
            "4K",
            "--batch-rows",
            "16",
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed = s3.list(bucket, "run1/mixed/").unwrap();
    let man: Value =
        serde_json::from_slice(&s3.get(bucket, "run1/mixed/_manifest.json").unwrap()).unwrap();
    let mut rows = Vec::new();
    let mut named = vec![("run1/mixed/_manifest.json".to_string(), 0)];
    for p in man["partitions"].as_array().unwrap() {
        for f in p["files"].as_array().unwrap() {
            let key = format!("run1/mixed/{}", f["name"].as_str().unwrap());
            let bytes = s3.get(bucket, &key).unwrap();
            assert_eq!(bytes.len() as u64, f["bytes"].as_u64().unwrap());
            named.push((key, bytes.len() as u64));
            rows.extend(read_file(bytes, "parquet"));
        }
    }
    rows.sort();
    assert_eq!(rows, m.rows);
    let keys: Vec<&String> = listed.iter().map(|(k, _)| k).collect();
    let mut want: Vec<&String> = named.iter().map(|(k, _)| k).collect();
    want.sort();
    assert_eq!(keys, want);
    // --from-manifest from the store: nothing new, empty ranges.
    let run = kbatch_env(
        &[
            "export",
            "--topic",
            &m.topic,
            "--output",
            &format!("s3://{bucket}/run1/next"),
            "--from-manifest",
            &format!("{url}/_manifest.json"),
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(s3.list(bucket, "run1/next/").unwrap().len(), 1);

    // Killed mid-export: many small files of a larger topic; kill -9 once some are visible.
    let t = topic("export-kill");
    create_topic(&t, 2, &[]);
    let mut ops = Vec::new();
    for p in 0..2 {
        ops.extend(
            (0..20_000u64).map(|i| rec(p, None, &format!("{}{}", id_value(i, p), "y".repeat(150)))),
        );
    }
    produce(
        &t,
        &ProducerSettings {
            linger_ms: Some(50),
            ..ProducerSettings::default()
        },
        &ops,
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbatch"));
    cmd.args([
        "export",
        "--topic",
        &t,
        "--format",
        "jsonl",
        "--output",
        &format!("s3://{bucket}/killed"),
        "--max-file-bytes",
        "16K",
        "--batch-rows",
        "50",
        "--bootstrap",
        &broker().bootstrap,
    ]);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while s3.list(bucket, "killed/").unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "no object appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the export finished before the kill: make it larger"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let listed = s3.list(bucket, "killed/").unwrap();
    assert!(
        !listed.iter().any(|(k, _)| k.ends_with("_manifest.json")),
        "{listed:?}"
    );
    assert!(listed.len() >= 3);
    // Every visible object is a whole file: complete lines, consecutive records of one partition.
    for (key, _) in &listed {
        let rows = jsonl_rows(&s3.get(bucket, key).unwrap());
        assert!(!rows.is_empty(), "{key}");
        let name = key.trim_start_matches("killed/");
        let p = rows[0].partition;
        assert_eq!(name, format!("{t}.{p}.{:020}.jsonl", rows[0].offset));
        for w in rows.windows(2) {
            assert_eq!((w[1].partition, w[1].offset), (p, w[0].offset + 1), "{key}");
        }
    }
}
