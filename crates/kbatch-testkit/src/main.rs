//! `kbatch-testkit`: the harness as a command, for the Makefile's demo and benchmarks.
//!
//! ```text
//! kbatch-testkit install
//! kbatch-testkit fixtures --out DIR [--librdkafka-producer BIN]
//!                                           # capture fixtures/ from a fresh broker
//! kbatch-testkit start --dir DIR            # prints the bootstrap address; broker stays up
//! kbatch-testkit start-secure --dir DIR     # the secured broker (testkit::secure), detached;
//!                                           # prints plaintext=, sasl_ssl=, ca=, user=, password=
//! kbatch-testkit start-registry --dir DIR   # a Schema Registry (testkit::registry), detached;
//!                                           # prints its Confluent-compatible API URL
//! kbatch-testkit stop --dir DIR             # a broker or a registry
//! kbatch-testkit create-topic --bootstrap B --topic T --partitions N [--config k=v]...
//! kbatch-testkit produce-trending --bootstrap B --topic T --partitions N --events COUNT
//!                [--seed S] [--compression C] [--invalid K] [--mix flat|nested|serializers]
//!                                           # --mix: realistic events (`events` module), 0.1 % invalid
//! kbatch-testkit produce --bootstrap B --topic T --ops FILE [--compression C]
//!                [--transactional-id ID] [--config k=v]...
//!                                           # Kafka's Java producer runs the JSON-lines ops of
//!                                           # FILE (see `produce_ops`); prints one
//!                                           # {"partition", "offset"} line per record
//! ```
#![deny(missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use kbatch_testkit::{produce_count, Broker, ProducerSettings};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kbatch-testkit: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--name value` flags (repeatable ones collected in order).
fn flags(args: &[String]) -> Result<HashMap<String, Vec<String>>, String> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let name = a
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {a:?}"))?;
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        out.entry(name.to_string()).or_default().push(value.clone());
    }
    Ok(out)
}

fn one<'a>(f: &'a HashMap<String, Vec<String>>, name: &str) -> Result<&'a str, String> {
    f.get(name)
        .and_then(|v| v.last())
        .map(String::as_str)
        .ok_or_else(|| format!("--{name} is required"))
}

fn num<T: std::str::FromStr>(
    f: &HashMap<String, Vec<String>>,
    name: &str,
    default: Option<T>,
) -> Result<T, String> {
    match f.get(name).and_then(|v| v.last()) {
        Some(v) => v.parse().map_err(|_| format!("--{name}: bad number {v:?}")),
        None => default.ok_or_else(|| format!("--{name} is required")),
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let (cmd, rest) = args
        .split_first()
        .ok_or("usage: kbatch-testkit install|start|stop|create-topic|produce-trending ...")?;
    let f = flags(rest)?;
    match cmd.as_str() {
        "install" => kbatch_testkit::install().map_err(|e| e.to_string()),
        "fixtures" => kbatch_testkit::fixtures::make(
            &PathBuf::from(one(&f, "out")?),
            f.get("librdkafka-producer")
                .and_then(|v| v.first())
                .map(PathBuf::from)
                .as_deref(),
        ),
        "start" => {
            let dir = PathBuf::from(one(&f, "dir")?);
            let b = Broker::start_detached(&dir).map_err(|e| e.to_string())?;
            println!("{}", b.bootstrap);
            Ok(())
        }
        "start-secure" => {
            // key=value lines for tests/static/run.sh.
            let dir = PathBuf::from(one(&f, "dir")?);
            let b = kbatch_testkit::secure::SecureBroker::start_detached(&dir)
                .map_err(|e| e.to_string())?;
            println!("plaintext={}", b.broker.bootstrap);
            println!("sasl_ssl={}", b.listeners.sasl_ssl);
            println!("ca={}", b.cert("ca.pem").display());
            println!("user={}", kbatch_testkit::secure::USER);
            println!("password={}", kbatch_testkit::secure::PASSWORD);
            Ok(())
        }
        "start-registry" => {
            let dir = PathBuf::from(one(&f, "dir")?);
            let r = kbatch_testkit::registry::Registry::start_detached(&dir)
                .map_err(|e| e.to_string())?;
            println!("{}", r.url);
            Ok(())
        }
        "stop" => kbatch_testkit::stop_detached(&PathBuf::from(one(&f, "dir")?))
            .map_err(|e| e.to_string()),
        "create-topic" => {
            let bootstrap = one(&f, "bootstrap")?;
            let configs = key_values(&f)?;
            let configs: Vec<(&str, &str)> = configs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            attach(bootstrap)
                .create_topic(one(&f, "topic")?, num(&f, "partitions", None)?, &configs)
                .map_err(|e| e.to_string())
        }
        "produce-trending" => {
            let bootstrap = one(&f, "bootstrap")?;
            let topic = one(&f, "topic")?;
            let partitions: i32 = num(&f, "partitions", None)?;
            let events: u64 = num(&f, "events", None)?;
            let seed: u64 = num(&f, "seed", Some(2018))?;
            let invalid: u64 = num(&f, "invalid", Some(0))?;
            let settings = ProducerSettings {
                compression: f.get("compression").and_then(|v| v.last()).cloned(),
                linger_ms: Some(20),
                batch_size: Some(256 << 10),
                ..ProducerSettings::default()
            };
            let started = std::time::Instant::now();
            let mix = match f.get("mix").and_then(|v| v.last()) {
                Some(name) => Some(
                    kbatch_testkit::events::Mix::from_name(name)
                        .ok_or_else(|| format!("unknown --mix {name:?}"))?,
                ),
                None => None,
            };
            let (total, acked) = match mix {
                Some(mix) => {
                    let (total, lines) =
                        kbatch_testkit::events::lazy_lines(mix, events, partitions, seed);
                    (total, produce_count(bootstrap, topic, &settings, lines))
                }
                None => {
                    let (total, lines) =
                        kbatch_testkit::trending::lazy_lines(events, invalid, partitions, seed);
                    (total, produce_count(bootstrap, topic, &settings, lines))
                }
            };
            let acked = acked.map_err(|e| e.to_string())?;
            if acked != total as u64 {
                return Err(format!("Kafka acknowledged {acked} of {total} records"));
            }
            let what = match mix {
                Some(mix) => format!("the {mix:?} mix, 0.1 % invalid"),
                None => format!("{invalid} invalid"),
            };
            eprintln!(
                "kbatch-testkit: produced {total} records ({what}) to {topic} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        "produce" => {
            let text = std::fs::read_to_string(one(&f, "ops")?)
                .map_err(|e| format!("--ops {}: {e}", one(&f, "ops").unwrap_or_default()))?;
            let ops = produce_ops(&text)?;
            let settings = ProducerSettings {
                compression: f.get("compression").and_then(|v| v.last()).cloned(),
                transactional_id: f.get("transactional-id").and_then(|v| v.last()).cloned(),
                extra: key_values(&f)?,
                ..ProducerSettings::default()
            };
            let landed = kbatch_testkit::produce_lines(
                one(&f, "bootstrap")?,
                one(&f, "topic")?,
                &settings,
                ops.len(),
                ops.iter().map(kbatch_testkit::op_line),
            )
            .map_err(|e| e.to_string())?;
            for p in landed {
                println!(
                    "{}",
                    serde_json::json!({"partition": p.partition, "offset": p.offset})
                );
            }
            Ok(())
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

/// `--config k=v` flags, in order.
fn key_values(f: &HashMap<String, Vec<String>>) -> Result<Vec<(String, String)>, String> {
    f.get("config")
        .into_iter()
        .flatten()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or(format!("--config {kv:?}: expected key=value"))
        })
        .collect()
}

/// Producer ops, one JSON object a line (blank lines skipped), for tests in other languages:
///
/// ```text
/// {"op": "record", "partition": 0, "timestamp": 1700000000000,   # ms; null/absent: now
///  "key": "<base64>" | null, "value": "<base64>" | null,          # absent: null
///  "headers": [["name", "<base64>" | null], ...]}
/// {"op": "begin"} {"op": "commit"} {"op": "abort"} {"op": "flush"}
/// ```
fn produce_ops(text: &str) -> Result<Vec<kbatch_testkit::ProduceOp>, String> {
    use base64::Engine as _;
    use kbatch_testkit::{ProduceOp, ProducedRecord};
    let bytes = |v: &serde_json::Value, line: usize| -> Result<Option<Vec<u8>>, String> {
        match v {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(s) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map(Some)
                .map_err(|e| format!("ops line {line}: bad base64: {e}")),
            other => Err(format!(
                "ops line {line}: expected base64 or null, got {other}"
            )),
        }
    };
    let mut ops = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let n = i + 1;
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("ops line {n}: {e}"))?;
        let null = serde_json::Value::Null;
        ops.push(match v["op"].as_str() {
            Some("begin") => ProduceOp::BeginTxn,
            Some("commit") => ProduceOp::CommitTxn,
            Some("abort") => ProduceOp::AbortTxn,
            Some("flush") => ProduceOp::Flush,
            Some("record") => {
                let mut headers = Vec::new();
                for h in v["headers"].as_array().into_iter().flatten() {
                    let name = h[0]
                        .as_str()
                        .ok_or(format!("ops line {n}: header name must be a string"))?;
                    headers.push((name.to_string(), bytes(h.get(1).unwrap_or(&null), n)?));
                }
                ProduceOp::Record(ProducedRecord {
                    partition: v["partition"].as_i64().unwrap_or(0) as i32,
                    timestamp: v["timestamp"].as_i64(),
                    key: bytes(v.get("key").unwrap_or(&null), n)?,
                    value: bytes(v.get("value").unwrap_or(&null), n)?,
                    headers,
                })
            }
            other => return Err(format!("ops line {n}: unknown op {other:?}")),
        });
    }
    Ok(ops)
}

/// A handle on an already running broker, for the Admin/producer helpers.
fn attach(bootstrap: &str) -> kbatch_testkit::Remote {
    kbatch_testkit::Remote {
        bootstrap: bootstrap.to_string(),
    }
}
