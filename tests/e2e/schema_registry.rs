//! Registry-framed values against a real Schema Registry (the testkit's Apicurio) and the
//! ecosystem's own serializer: confluent-kafka's `AvroSerializer` in the project virtualenv
//! (`registry_producer.py`) writes the records and prints the natural JSON of what it was
//! given; `kbatch dump --value-format avro` must print exactly that.

use std::process::Command;

use kbatch_testkit::registry::shared_registry;
use serde_json::Value;

use crate::common::{broker, create_topic, kbatch, produce, rec, topic};

/// Run the Python producer; the expected natural JSON of each record, in offset order.
fn produce_avro(topic: &str, count: usize) -> Vec<Value> {
    produce_avro_and_json(topic, count, None)
}

/// [`produce_avro`], also writing the same events as JSON text to `json_topic`.
fn produce_avro_and_json(topic: &str, count: usize, json_topic: Option<&str>) -> Vec<Value> {
    let python = kbatch_testkit::s3::venv_bin("python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/registry_producer.py"
    );
    let out = Command::new(&python)
        .arg(script)
        .arg(&broker().bootstrap)
        .arg(&shared_registry().url)
        .arg(topic)
        .arg(count.to_string())
        .args(json_topic)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e} (run `make venv`)", python.display()));
    assert!(
        out.status.success(),
        "the Avro producer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("the producer prints JSON lines"))
        .collect()
}

/// The `value` of each line `dump` printed.
fn value_column(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("dump prints JSON lines")["value"].clone())
        .collect()
}

fn dump_values(args: &[&str]) -> Vec<Value> {
    let run = kbatch(args);
    assert_eq!(run.code, 0, "kbatch dump failed: {}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("dump prints JSON lines"))
        .collect()
}

/// Two versions of one subject interleaved (v2 adds a field with a default), nested record,
/// enum, array, map, nullable union, bytes, decimal and timestamp: every value printed is
/// what the serializer was given, v1 records with v2's default.
#[test]
fn dump_prints_avro_values_as_natural_json() {
    let t = topic("avro");
    create_topic(&t, 1, &[]);
    let expected = produce_avro(&t, 24);
    let url = format!("schema.registry.url={}", shared_registry().url);
    let lines = dump_values(&["dump", "--topic", &t, "--value-format", "avro", "-X", &url]);
    assert_eq!(lines.len(), expected.len());
    for (i, (line, want)) in lines.iter().zip(&expected).enumerate() {
        assert_eq!(line["offset"], i as u64, "{line}");
        assert_eq!(&line["value"], want, "offset {i}");
    }
    // Both versions were registered and used.
    let (status, body) = shared_registry()
        .get(&format!("/subjects/{t}-value/versions"))
        .unwrap();
    assert_eq!((status, body.trim()), (200, "[1,2]"));
}

/// A value that is not framed fails the dump naming topic, partition and offset, unless
/// `--on-undecodable null` (then it is null and counted); an id the registry does not know
/// fails naming the id, whatever the choice.
#[test]
fn unframed_values_and_unknown_ids_fail_naming_the_record() {
    let t = topic("avro-bad");
    create_topic(&t, 1, &[]);
    // Four values: the fourth is the first of v2, so both versions are registered and the
    // values print as v2 reads them (the producer's expected JSON).
    let expected = produce_avro(&t, 4);
    produce(
        &t,
        &Default::default(),
        &[rec(0, None, "{\"not\":\"avro\"}")],
    );
    let url = format!("schema.registry.url={}", shared_registry().url);
    let base = ["dump", "--topic", &t, "--value-format", "avro", "-X", &url];

    let run = kbatch(&base);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&t)
            && run.stderr.contains("offset 4")
            && run.stderr.contains("not framed"),
        "{}",
        run.stderr
    );

    let mut args = base.to_vec();
    args.extend(["--on-undecodable", "null"]);
    let run = kbatch(&args);
    assert_eq!(run.code, 0, "kbatch dump failed: {}", run.stderr);
    assert!(run.stderr.contains("1 undecodable"), "{}", run.stderr);
    let values = value_column(&run.stdout);
    let mut want = expected.clone();
    want.push(Value::Null);
    assert_eq!(values, want);

    let u = topic("avro-unknown");
    create_topic(&u, 1, &[]);
    // Magic byte 0, schema id 987654 (never registered), a body.
    let mut framed = vec![0u8];
    framed.extend(987_654u32.to_be_bytes());
    framed.extend(b"\x02");
    produce(
        &u,
        &Default::default(),
        &[kbatch_testkit::ProduceOp::Record(
            kbatch_testkit::ProducedRecord {
                partition: 0,
                value: Some(framed),
                ..Default::default()
            },
        )],
    );
    args[2] = &u;
    let run = kbatch(&args);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("schema id 987654")
            && run.stderr.contains("not found")
            && run.stderr.contains("offset 0"),
        "{}",
        run.stderr
    );
}

/// Without a registry URL a registry format is a usage error, before anything is read.
#[test]
fn a_registry_format_needs_the_registry_url() {
    let run = kbatch(&["dump", "--topic", "nothing-here", "--value-format", "avro"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("schema.registry.url"), "{}", run.stderr);
}

/// `schema.registry.url` is a failover list: a registry that does not answer is passed over
/// for the next; when none answers, the read fails within `--timeout` naming the schema id,
/// the rounds tried and the last failure.
#[test]
fn registry_urls_fail_over_and_an_unreachable_registry_fails_in_time() {
    let t = topic("avro-failover");
    create_topic(&t, 1, &[]);
    let expected = produce_avro(&t, 4);
    // A port nothing listens on: bind one, note it, close it.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let both = format!("schema.registry.url={dead},{}", shared_registry().url);
    let lines = dump_values(&["dump", "--topic", &t, "--value-format", "avro", "-X", &both]);
    let values: Vec<Value> = lines.iter().map(|l| l["value"].clone()).collect();
    assert_eq!(values, expected);

    let only_dead = format!("schema.registry.url={dead}");
    let args = [
        "dump",
        "--topic",
        &t,
        "--value-format",
        "avro",
        "-X",
        &only_dead,
        "--timeout",
        "3s",
    ];
    let run = kbatch(&args);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("no registry answered")
            && run.stderr.contains("schema id")
            && run.stderr.contains("offset 0"),
        "{}",
        run.stderr
    );
}

/// A registry that is down when the read starts (connections refused, through a fault proxy
/// whose upstream is a dead port) and comes up 2 s later: the client keeps retrying within
/// `--timeout` and the dump prints every value, as if the registry had always been there.
#[test]
fn a_registry_that_is_down_then_up_is_waited_for_within_the_timeout() {
    let t = topic("avro-down-up");
    create_topic(&t, 1, &[]);
    let expected = produce_avro(&t, 4);
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let proxy = kbatch_testkit::proxy::Proxy::start_raw().unwrap();
    proxy.set_upstream(dead);
    let registry = shared_registry();
    let up: std::net::SocketAddr = registry
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let url = format!(
        "schema.registry.url=http://{}/apis/ccompat/v7",
        proxy.addr()
    );
    let started = std::time::Instant::now();
    let run = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(2));
            proxy.set_upstream(up);
        });
        let args = [
            "dump",
            "--topic",
            &t,
            "--value-format",
            "avro",
            "-X",
            &url,
            "--timeout",
            "30s",
        ];
        kbatch(&args)
    });
    assert_eq!(run.code, 0, "kbatch dump failed: {}", run.stderr);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "the dump cannot have decoded before the registry was up"
    );
    let values = value_column(&run.stdout);
    assert_eq!(values, expected);
    // At least one refused attempt before the one that got through.
    assert!(proxy.stats().connections >= 2, "{:?}", proxy.stats());
}

/// `schema.registry.basic.auth.user.info` is sent as HTTP basic authentication on every
/// request (checked by a front that refuses anything else with 401); a wrong password fails
/// naming the key to check, and the secret appears nowhere in the output.
#[test]
fn registry_basic_auth_is_sent_and_never_shown() {
    let t = topic("avro-basic-auth");
    create_topic(&t, 1, &[]);
    let expected = produce_avro(&t, 4);
    let secret = "s3cr3t-Registry-pw";
    let front = kbatch_testkit::registry::BasicAuthFront::start(
        shared_registry(),
        &format!("reader:{secret}"),
    )
    .unwrap();
    let url = format!("schema.registry.url={}", front.url());
    let good = format!("schema.registry.basic.auth.user.info=reader:{secret}");
    let run = kbatch(&[
        "dump",
        "--topic",
        &t,
        "--value-format",
        "avro",
        "-X",
        &url,
        "-X",
        &good,
    ]);
    assert_eq!(run.code, 0, "kbatch dump failed: {}", run.stderr);
    let values = value_column(&run.stdout);
    assert_eq!(values, expected);
    let seen = front.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|a| a.as_deref().is_some_and(|a| a.starts_with("Basic "))),
        "{seen:?}"
    );

    let bad = "schema.registry.basic.auth.user.info=reader:wrong-password";
    let run = kbatch(&[
        "dump",
        "--topic",
        &t,
        "--value-format",
        "avro",
        "-X",
        &url,
        "-X",
        bad,
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("HTTP 401")
            && run.stderr.contains("schema.registry.basic.auth.user.info")
            && run.stderr.contains("schema id"),
        "{}",
        run.stderr
    );
    for out in [&run.stdout, &run.stderr] {
        assert!(
            !out.contains("wrong-password") && !out.contains(secret),
            "{out}"
        );
    }
    // Without credentials: refused too, and said so.
    let run = kbatch(&["dump", "--topic", &t, "--value-format", "avro", "-X", &url]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("HTTP 401"), "{}", run.stderr);
}

/// A schema that uses named types registered under other subjects (schema references,
/// written by confluent-kafka's AvroSerializer): kbatch follows the references and prints
/// every value as the serializer was given it.
#[test]
fn avro_schema_references_are_followed() {
    let t = topic("avro-refs");
    create_topic(&t, 1, &[]);
    let python = kbatch_testkit::s3::venv_bin("python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/registry_refs_producer.py"
    );
    let out = Command::new(&python)
        .args([script, &broker().bootstrap, &shared_registry().url, &t, "6"])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e} (run `make venv`)", python.display()));
    assert!(
        out.status.success(),
        "the producer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(expected.len(), 6);
    let url = format!("schema.registry.url={}", shared_registry().url);
    let lines = dump_values(&["dump", "--topic", &t, "--value-format", "avro", "-X", &url]);
    let values: Vec<Value> = lines.iter().map(|l| l["value"].clone()).collect();
    assert_eq!(values, expected);
}

/// The export's files of a directory, by name (so in offset order within a partition).
fn files_of(dir: &std::path::Path, extension: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

/// `kbatch export --value-format avro`: Parquet files hold the typed `value` column (one
/// Arrow schema for every file), each row's value rendered is what the serializer was given;
/// jsonl is `kbatch dump --value-format avro`'s output line for line; an unframed value fails
/// the export naming its offset, or with `--on-undecodable null` is null and counted per
/// partition in the manifest, which records the formats.
#[test]
fn export_writes_avro_values_as_typed_columns_and_dump_lines() {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let t = topic("avro-export");
    create_topic(&t, 1, &[]);
    let mut expected = produce_avro(&t, 24);
    produce(
        &t,
        &Default::default(),
        &[rec(0, None, "{\"not\":\"avro\"}")],
    );
    expected.push(Value::Null);
    let url = format!("schema.registry.url={}", shared_registry().url);
    let dir = std::env::temp_dir().join(topic("kbatch-export-avro"));
    let out = dir.to_str().unwrap().to_string();
    let base = [
        "export",
        "--topic",
        &t,
        "--value-format",
        "avro",
        "-X",
        &url,
        "--output",
        &out,
    ];

    // Without --on-undecodable null the unframed value (offset 24) fails the export.
    let run = kbatch(&base);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains(&t) && run.stderr.contains("offset 24"),
        "{}",
        run.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);

    // Parquet, cut into several files (batches of 5 rows, a file per batch).
    let mut args = base.to_vec();
    args.extend([
        "--on-undecodable",
        "null",
        "--batch-rows",
        "5",
        "--max-file-bytes",
        "1",
    ]);
    let run = kbatch(&args);
    let manifest = run.json();
    assert_eq!(manifest["value_format"], "avro", "{manifest}");
    assert_eq!(manifest["key_format"], "raw", "{manifest}");
    assert_eq!(manifest["partitions"][0]["records"], 25, "{manifest}");
    assert_eq!(manifest["partitions"][0]["undecodable"], 1, "{manifest}");
    assert!(run.stderr.contains("1 undecodable"), "{}", run.stderr);
    let files = files_of(&dir, "parquet");
    assert!(files.len() >= 3, "{files:?}");
    let mut schemas = Vec::new();
    let mut rows: Vec<(i64, Value)> = Vec::new();
    for f in &files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            schemas.push(batch.schema());
            let offsets = batch
                .column_by_name("offset")
                .unwrap()
                .as_primitive::<arrow_array::types::Int64Type>()
                .clone();
            let value = batch.column_by_name("value").unwrap();
            for row in 0..batch.num_rows() {
                let mut json = Vec::new();
                kbatch_schema::json::write_row(&mut json, value.as_ref(), row).unwrap();
                rows.push((offsets.value(row), serde_json::from_slice(&json).unwrap()));
            }
            assert!(value.len() == batch.num_rows());
        }
    }
    assert!(
        schemas.windows(2).all(|w| w[0] == w[1]),
        "one schema for every file: {schemas:?}"
    );
    let value_type = schemas[0].field_with_name("value").unwrap().data_type();
    assert!(
        matches!(value_type, arrow_schema::DataType::Struct(_)),
        "{value_type}"
    );
    rows.sort_by_key(|(offset, _)| *offset);
    assert_eq!(rows.len(), expected.len());
    for (i, ((offset, got), want)) in rows.iter().zip(&expected).enumerate() {
        assert_eq!(*offset, i as i64);
        assert_eq!(got, want, "offset {i}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    // jsonl: dump's lines.
    let mut args = base.to_vec();
    args.extend(["--on-undecodable", "null", "--format", "jsonl"]);
    let manifest = kbatch(&args).json();
    assert_eq!(manifest["format"], "jsonl", "{manifest}");
    let mut exported = Vec::new();
    for f in files_of(&dir, "jsonl") {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            exported.push(serde_json::from_str::<Value>(line).unwrap());
        }
    }
    let dumped = dump_values(&[
        "dump",
        "--topic",
        &t,
        "--value-format",
        "avro",
        "-X",
        &url,
        "--on-undecodable",
        "null",
    ]);
    assert_eq!(exported.len(), expected.len());
    assert_eq!(exported, dumped);
    let values: Vec<Value> = exported.iter().map(|l| l["value"].clone()).collect();
    assert_eq!(values, expected);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run the Protobuf producer (`registry_producer_protobuf.py`): each record's expected
/// `{"key": ..., "value": ...}` natural JSON, in offset order.
fn produce_protobuf(topic: &str, count: usize, mixed: bool) -> Vec<Value> {
    let python = kbatch_testkit::s3::venv_bin("python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/registry_producer_protobuf.py"
    );
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .arg(&broker().bootstrap)
        .arg(&shared_registry().url)
        .arg(topic)
        .arg(count.to_string());
    if mixed {
        cmd.arg("--mixed");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e} (run `make venv`)", python.display()));
    assert!(
        out.status.success(),
        "the Protobuf producer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("the producer prints JSON lines"))
        .collect()
}

/// Protobuf values (the file's second message type, index [1], with a nested type, an enum,
/// repeated, map, proto3 optional, int64 beyond 2^53, bytes, a message of an imported file
/// registered as a schema reference) and JSON Schema keys, written by confluent-kafka's own
/// serializers: `dump` prints every key and value as what the serializers were given, and
/// `export` writes the typed struct column (Parquet) and dump's lines (jsonl). A topic whose
/// values are two message types, and a Protobuf topic read as Avro, fail naming the ids.
#[test]
fn protobuf_values_and_json_schema_keys_dump_and_export_as_given() {
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let t = topic("protobuf");
    create_topic(&t, 1, &[]);
    let expected = produce_protobuf(&t, 12, false);
    let url = format!("schema.registry.url={}", shared_registry().url);
    let formats = [
        "--value-format",
        "protobuf",
        "--key-format",
        "json-schema",
        "-X",
        &url,
    ];
    let mut args = vec!["dump", "--topic", &t];
    args.extend(formats);
    let lines = dump_values(&args);
    assert_eq!(lines.len(), expected.len());
    for (i, (line, want)) in lines.iter().zip(&expected).enumerate() {
        assert_eq!(line["offset"], i as u64, "{line}");
        assert_eq!(line["key"], want["key"], "key at offset {i}");
        assert_eq!(line["value"], want["value"], "value at offset {i}");
    }
    // 2^53 + 1 survives exactly (a float would round it to 2^53).
    assert_eq!(
        lines[0]["value"]["id"].as_u64(),
        Some(9_007_199_254_740_993)
    );
    // The import was registered as its own subject and referenced.
    let (status, body) = shared_registry()
        .get("/subjects/kbtest%2Fcommon.proto/versions")
        .unwrap();
    assert_eq!((status, body.trim()), (200, "[1]"));

    // Export: Parquet holds the typed columns; jsonl is dump's output line for line.
    let dir = std::env::temp_dir().join(topic("kbatch-export-protobuf"));
    let out = dir.to_str().unwrap().to_string();
    let mut args = vec!["export", "--topic", &t, "--output", &out];
    args.extend(formats);
    let manifest = kbatch(&args).json();
    assert_eq!(
        (&manifest["value_format"], &manifest["key_format"]),
        (&Value::from("protobuf"), &Value::from("json-schema")),
        "{manifest}"
    );
    let mut rows = Vec::new();
    for f in files_of(&dir, "parquet") {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let schema = batch.schema();
            let value = batch.column_by_name("value").unwrap();
            let key = batch.column_by_name("key").unwrap();
            assert!(matches!(
                value.data_type(),
                arrow_schema::DataType::Struct(_)
            ));
            assert_eq!(key.data_type(), &arrow_schema::DataType::Utf8);
            assert!(kbatch_schema::json::is_json_field(
                schema.field_with_name("key").unwrap()
            ));
            for row in 0..batch.num_rows() {
                let mut json = Vec::new();
                kbatch_schema::json::write_row(&mut json, value.as_ref(), row).unwrap();
                let mut k = Vec::new();
                kbatch_schema::json::write_json_text(&mut k, key.as_ref(), row).unwrap();
                rows.push(serde_json::json!({
                    "key": serde_json::from_slice::<Value>(&k).unwrap(),
                    "value": serde_json::from_slice::<Value>(&json).unwrap(),
                }));
            }
        }
    }
    assert_eq!(rows, expected);
    let _ = std::fs::remove_dir_all(&dir);
    args.extend(["--format", "jsonl"]);
    kbatch(&args).json();
    let mut exported = Vec::new();
    for f in files_of(&dir, "jsonl") {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            exported.push(serde_json::from_str::<Value>(line).unwrap());
        }
    }
    assert_eq!(exported, lines);
    let _ = std::fs::remove_dir_all(&dir);

    // The same topic read as Avro: the schema's type is named with its id.
    let run = kbatch(&["dump", "--topic", &t, "--value-format", "avro", "-X", &url]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("schema id") && run.stderr.contains("not Avro"),
        "{}",
        run.stderr
    );

    // Two message types in one topic: the last value is a Header ([0]).
    let m = topic("protobuf-mixed");
    create_topic(&m, 1, &[]);
    produce_protobuf(&m, 3, true);
    let mut args = vec!["dump", "--topic", &m, "--on-undecodable", "null"];
    args.extend(formats);
    let run = kbatch(&args);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("offset 2")
            && run.stderr.contains("kbtest.Header")
            && run.stderr.contains("kbtest.Order"),
        "{}",
        run.stderr
    );
}

/// A job's JSON report on `t`, with the topic's name replaced by `as_topic` (so the reports
/// of two topics holding the same events compare equal).
fn report(args: &[&str], t: &str, as_topic: &str) -> Value {
    let run = kbatch(args);
    assert_eq!(run.code, 0, "kbatch {args:?} failed: {}", run.stderr);
    let text = run
        .stdout
        .replace(&format!("\"{t}\""), &format!("\"{as_topic}\""));
    serde_json::from_str(&text).expect("a JSON report")
}

/// `trending` and `top` on Avro values (two versions interleaved, v2 adding `channel` with a
/// default) give exactly the report of the same events written as JSON: nested record fields,
/// array elements, map keys, enums, longs, the v1 records' default, `--where` on a nested
/// number, distinct and sum; events whose path is missing are `missing_field` in both.
#[test]
fn trending_and_top_on_avro_equal_the_same_events_as_json() {
    let (a, j) = (topic("avro-jobs"), topic("json-jobs"));
    create_topic(&a, 1, &[]);
    create_topic(&j, 1, &[]);
    let events = produce_avro_and_json(&a, 60, Some(&j));
    let url = format!("schema.registry.url={}", shared_registry().url);
    let avro = |args: &[&str]| {
        let mut v: Vec<&str> = args.to_vec();
        v.extend([
            "--topic",
            &a,
            "--format",
            "json",
            "--value-format",
            "avro",
            "-X",
            &url,
        ]);
        report(&v, &a, "T")
    };
    let json = |args: &[&str]| {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(["--topic", &j, "--format", "json"]);
        report(&v, &j, "T")
    };
    let trending = ["trending", "--top", "2"];
    let (ra, rj) = (avro(&trending), json(&trending));
    assert_eq!(ra, rj);
    let rj_trending = rj.clone();
    assert_eq!(ra["records"], 60);
    assert_eq!(ra["invalid"], 0, "{ra}");
    // Views of the top row, from what the producer was given.
    let first = &ra["top"][0];
    let views = events
        .iter()
        .filter(|e| e["category"] == first["category"] && e["product"] == first["product"])
        .count();
    assert_eq!(first["views"], views as u64, "{ra}");

    let queries: [&[&str]; 3] = [
        &[
            "top",
            "--group",
            "channel,kind",
            "--item",
            "category",
            "--where",
            "user.age >= 30",
            "--metric",
            "distinct:product",
            "--top",
            "all",
        ],
        &[
            "top",
            "--group",
            "tags[1]",
            "--item",
            "attrs.k0",
            "--metric",
            "sum:user.age",
            "--top",
            "all",
        ],
        &[
            "top",
            "--group",
            "user.name",
            "--item",
            "id",
            "--where",
            "kind in ('CART', 'BUY')",
            "--window",
            "1h",
            "--top",
            "1",
        ],
    ];
    for q in queries {
        let (ra, rj) = (avro(q), json(q));
        assert_eq!(ra, rj, "{q:?}");
        assert!(!ra["top"].as_array().unwrap().is_empty(), "{q:?}: {ra}");
        // One batch (ten records) per fetch: after the first chunk has resolved both writers,
        // the jobs read values with the field reader instead of decoding columns; the report
        // is the same.
        let mut one_batch = q.to_vec();
        one_batch.extend(["--partition-max-bytes", "1"]);
        assert_eq!(avro(&one_batch), rj, "{one_batch:?}");
    }
    let mut one_batch = trending.to_vec();
    one_batch.extend(["--partition-max-bytes", "1"]);
    assert_eq!(avro(&one_batch), rj_trending, "{one_batch:?}");
    // `channel`: v1 records read with v2's default, as the JSON events carry it.
    let q = avro(&[
        "top", "--group", "channel", "--item", "category", "--top", "all",
    ]);
    let webs: u64 = q["top"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["channel"] == "web")
        .map(|r| r["value"].as_u64().unwrap())
        .sum();
    let want = events.iter().filter(|e| e["channel"] == "web").count() as u64;
    assert_eq!((webs, want > 0), (want, true), "{q}");
    // tags[1] is missing for two thirds of the events: missing_field, with samples.
    let q = avro(queries[1]);
    let missing = events
        .iter()
        .filter(|e| e["tags"].as_array().unwrap().len() < 2)
        .count();
    assert_eq!(q["invalid"], missing as u64, "{q}");
    assert_eq!(q["invalid_samples"][0]["reason"], "missing_field", "{q}");
}

/// Values that are not framed are invalid (`not_framed`), a framed body that does not decode
/// is `undecodable`, each with its offset among the samples, and `--strict` stops at the
/// first; an id the registry does not know is the run's error, not a record's verdict.
#[test]
fn unframed_and_undecodable_values_are_invalid_records() {
    let t = topic("avro-verdicts");
    create_topic(&t, 1, &[]);
    produce_avro(&t, 4);
    let (status, body) = shared_registry()
        .get(&format!("/subjects/{t}-value/versions/latest"))
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_u64()
        .unwrap() as u32;
    let raw = |value: Vec<u8>| {
        kbatch_testkit::ProduceOp::Record(kbatch_testkit::ProducedRecord {
            partition: 0,
            value: Some(value),
            ..Default::default()
        })
    };
    let mut truncated = vec![0u8];
    truncated.extend(id.to_be_bytes());
    truncated.extend(b"\x80"); // a varint that never ends
    produce(
        &t,
        &Default::default(),
        &[
            rec(0, None, "{\"category\":\"shoes\",\"product\":\"p1\"}"),
            raw(vec![0, 0, 1]),
            raw(truncated),
        ],
    );
    let url = format!("schema.registry.url={}", shared_registry().url);
    let base = [
        "trending",
        "--topic",
        &t,
        "--format",
        "json",
        "--value-format",
        "avro",
        "-X",
        &url,
    ];
    let r = report(&base, &t, &t);
    assert_eq!(
        (r["records"].as_u64(), r["invalid"].as_u64()),
        (Some(7), Some(3)),
        "{r}"
    );
    let samples: Vec<(u64, &str)> = r["invalid_samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["offset"].as_u64().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        samples,
        [(4, "not_framed"), (5, "not_framed"), (6, "undecodable")]
    );
    let views: u64 = r["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["views"].as_u64().unwrap())
        .sum();
    // The four Avro events are four distinct pairs, all tied at rank 1.
    assert_eq!(views, 4, "{r}");

    let mut strict = base.to_vec();
    strict.push("--strict");
    let run = kbatch(&strict);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("offset 4") && run.stderr.contains("not_framed"),
        "{}",
        run.stderr
    );

    // top says the same.
    let mut top = vec![
        "top", "--group", "category", "--item", "product", "--top", "all",
    ];
    top.extend(&base[1..]);
    let r = report(&top, &t, &t);
    assert_eq!(r["invalid"], 3, "{r}");
    assert_eq!(r["invalid_samples"][2]["reason"], "undecodable", "{r}");

    let u = topic("avro-unknown-id");
    create_topic(&u, 1, &[]);
    let mut framed = vec![0u8];
    framed.extend(987_655u32.to_be_bytes());
    framed.extend(b"\x02");
    produce(&u, &Default::default(), &[raw(framed)]);
    let mut args = base.to_vec();
    args[2] = &u;
    let run = kbatch(&args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("schema id 987655") && run.stderr.contains("offset 0"),
        "{}",
        run.stderr
    );
}

/// `top --value-format protobuf`: paths over the decoded message (an enum's name, a field of a
/// message from a referenced file, a nested message absent in some values) give the sums and
/// counts computed from what the serializer was given; an absent `header` message is
/// `wrong_type` (a null), as a JSON `null` is.
#[test]
fn top_reads_paths_of_protobuf_values() {
    let t = topic("protobuf-top");
    create_topic(&t, 1, &[]);
    let given = produce_protobuf(&t, 12, false);
    let url = format!("schema.registry.url={}", shared_registry().url);
    let base = [
        "top",
        "--topic",
        &t,
        "--value-format",
        "protobuf",
        "-X",
        &url,
        "--format",
        "json",
        "--top",
        "all",
    ];
    let run = kbatch(
        &[
            &base[..],
            &[
                "--group",
                "status",
                "--item",
                "total.currency",
                "--metric",
                "sum:total.units",
            ],
        ]
        .concat(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut want: std::collections::BTreeMap<String, i64> = Default::default();
    for g in &given {
        let v = &g["value"];
        *want
            .entry(v["status"].as_str().unwrap().to_string())
            .or_default() += v["total"]["units"].as_i64().unwrap();
    }
    let got: std::collections::BTreeMap<String, i64> = r["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            assert_eq!(row["total.currency"], "EUR", "{row}");
            (
                row["status"].as_str().unwrap().to_string(),
                row["value"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(r["records"], 12);

    let run = kbatch(&[&base[..], &["--group", "header.source", "--item", "status"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    let absent = given
        .iter()
        .filter(|g| g["value"]["header"].is_null())
        .count();
    assert!(absent > 0);
    assert_eq!(r["invalid"], absent as u64, "{r}");
    assert!(
        r["invalid_samples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["reason"] == "wrong_type"),
        "{r}"
    );
}

/// `top --value-format json-schema`: values written by confluent-kafka's own JSONSerializer are
/// read as the JSON after the prefix; a value that is not framed is `not_framed`.
#[test]
fn top_reads_json_schema_values() {
    let t = topic("json-schema-top");
    create_topic(&t, 1, &[]);
    let python = kbatch_testkit::s3::venv_bin("python");
    let script = r#"
import json, sys
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
bootstrap, url, topic = sys.argv[1:4]
schema = json.dumps({"type": "object", "title": "Click",
                     "properties": {"page": {"type": "object", "properties": {"section": {"type": "string"}}},
                                    "item": {"type": "string"}, "qty": {"type": "integer"}}})
ser = JSONSerializer(schema, SchemaRegistryClient({"url": url}))
p = Producer({"bootstrap.servers": bootstrap})
ctx = SerializationContext(topic, MessageField.VALUE)
for i in range(20):
    v = {"page": {"section": ["home", "cart"][i % 2]}, "item": f"i{i % 3}", "qty": i}
    p.produce(topic, value=ser(v, ctx), partition=0)
p.produce(topic, value=b'{"page": {"section": "home"}, "item": "i0", "qty": 1}', partition=0)
assert p.flush(30) == 0
"#;
    let out = Command::new(&python)
        .args([
            "-c",
            script,
            &broker().bootstrap,
            &shared_registry().url,
            &t,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = format!("schema.registry.url={}", shared_registry().url);
    let run = kbatch(&[
        "top",
        "--topic",
        &t,
        "--value-format",
        "json-schema",
        "-X",
        &url,
        "--format",
        "json",
        "--top",
        "all",
        "--group",
        "page.section",
        "--item",
        "item",
        "--metric",
        "sum:qty",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut want: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for i in 0..20i64 {
        let key = (
            ["home", "cart"][(i % 2) as usize].to_string(),
            format!("i{}", i % 3),
        );
        *want.entry(key).or_default() += i;
    }
    let got: std::collections::BTreeMap<(String, String), i64> = r["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let key = (
                row["page.section"].as_str().unwrap().to_string(),
                row["item"].as_str().unwrap().to_string(),
            );
            (key, row["value"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        (r["records"].as_u64(), r["invalid"].as_u64()),
        (Some(21), Some(1)),
        "{r}"
    );
    assert_eq!(r["invalid_samples"][0]["reason"], "not_framed", "{r}");
    assert_eq!(r["invalid_samples"][0]["offset"], 20, "{r}");
}
