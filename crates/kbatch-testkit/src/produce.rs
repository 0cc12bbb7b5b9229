//! Records written by Kafka's own Java producer: the settings, the operations and the line
//! protocol the harness's producer program reads.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use base64::Engine as _;

use crate::*;

/// Producer settings (`compression.type`, batching, transactions, anything else).
#[derive(Clone, Debug, Default)]
pub struct ProducerSettings {
    /// `compression.type`: none, gzip, snappy, lz4, zstd.
    pub compression: Option<String>,
    /// `linger.ms` (default 5).
    pub linger_ms: Option<u32>,
    /// `batch.size` (default 65536).
    pub batch_size: Option<u32>,
    /// `transactional.id`: makes the producer transactional.
    pub transactional_id: Option<String>,
    /// Any other producer properties.
    pub extra: Vec<(String, String)>,
}

impl ProducerSettings {
    fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(c) = &self.compression {
            a.push(format!("compression.type={c}"));
        }
        if let Some(l) = self.linger_ms {
            a.push(format!("linger.ms={l}"));
        }
        if let Some(b) = self.batch_size {
            a.push(format!("batch.size={b}"));
        }
        if let Some(t) = &self.transactional_id {
            a.push(format!("transactional.id={t}"));
        }
        a.extend(self.extra.iter().map(|(k, v)| format!("{k}={v}")));
        a
    }
}

/// One producer step.
#[derive(Clone, Debug)]
pub enum ProduceOp {
    /// Send a record.
    Record(ProducedRecord),
    /// `beginTransaction()`.
    BeginTxn,
    /// `commitTransaction()`.
    CommitTxn,
    /// `abortTransaction()`.
    AbortTxn,
    /// `flush()`.
    Flush,
    /// Flush, report, and exit without closing the producer: an open transaction stays open
    /// (until the broker's transaction timeout). Must be the last op.
    ExitWithoutClose,
}

/// A record to send (explicit partition).
#[derive(Clone, Debug, Default)]
pub struct ProducedRecord {
    /// Partition.
    pub partition: i32,
    /// Create timestamp (ms); `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// Key (`None`: null).
    pub key: Option<Vec<u8>>,
    /// Value (`None`: null, a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers; a `None` value is a null header value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Where a record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Produced {
    /// Partition.
    pub partition: i32,
    /// Offset assigned by Kafka.
    pub offset: i64,
}

pub(crate) fn b64(b: &Option<Vec<u8>>) -> String {
    b.as_ref().map_or_else(
        || "-".to_string(),
        |b| base64::engine::general_purpose::STANDARD.encode(b),
    )
}

/// One op as a line of the Java producer's stdin protocol (`java/src/Produce.java`).
pub fn op_line(op: &ProduceOp) -> String {
    match op {
        ProduceOp::BeginTxn => "B".into(),
        ProduceOp::CommitTxn => "C".into(),
        ProduceOp::AbortTxn => "A".into(),
        ProduceOp::Flush => "F".into(),
        ProduceOp::ExitWithoutClose => "X".into(),
        ProduceOp::Record(r) => {
            let mut line = format!(
                "R\t{}\t{}\t{}\t{}",
                r.partition,
                r.timestamp
                    .map_or_else(|| "-".to_string(), |t| t.to_string()),
                b64(&r.key),
                b64(&r.value)
            );
            for (k, v) in &r.headers {
                line.push('\t');
                line.push_str(&base64::engine::general_purpose::STANDARD.encode(k));
                line.push(':');
                line.push_str(&b64(v));
            }
            line
        }
    }
}

/// Run the Java producer over a stream of op lines (see `java/src/Produce.java`).
pub fn produce_lines(
    bootstrap: &str,
    topic: &str,
    settings: &ProducerSettings,
    size_hint: usize,
    lines: impl Iterator<Item = String> + Send,
) -> Result<Vec<Produced>, TestkitError> {
    run_producer(false, bootstrap, topic, settings, size_hint, lines)
}

/// Bulk load: like [`produce_lines`] but keeps nothing per record; returns how many records
/// Kafka acknowledged (for millions of records).
pub fn produce_count(
    bootstrap: &str,
    topic: &str,
    settings: &ProducerSettings,
    lines: impl Iterator<Item = String> + Send,
) -> Result<u64, TestkitError> {
    let out = run_producer(true, bootstrap, topic, settings, 0, lines)?;
    Ok(out.first().map_or(0, |p| p.offset as u64))
}

pub(crate) fn run_producer(
    count_only: bool,
    bootstrap: &str,
    topic: &str,
    settings: &ProducerSettings,
    size_hint: usize,
    lines: impl Iterator<Item = String> + Send,
) -> Result<Vec<Produced>, TestkitError> {
    let mut args = Vec::new();
    if count_only {
        args.push("--count-only".to_string());
    }
    args.extend([bootstrap.to_string(), topic.to_string()]);
    args.extend(settings.args());
    let mut child = java_tool("Produce", &args, false)?
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("starting the Java producer"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (produced, err_text) = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut out = Vec::with_capacity(size_hint);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("count ").and_then(|n| n.parse().ok()) {
                    out.push(Produced {
                        partition: -1,
                        offset: n,
                    });
                    continue;
                }
                let mut f = line.split('\t');
                let p = f.next().and_then(|p| p.parse().ok());
                let o = f.next().and_then(|o| o.parse().ok());
                if let (Some(partition), Some(offset)) = (p, o) {
                    out.push(Produced { partition, offset });
                }
            }
            out
        });
        let err_reader = s.spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut stdin);
            for line in lines {
                if w.write_all(line.as_bytes())
                    .and_then(|_| w.write_all(b"\n"))
                    .is_err()
                {
                    break;
                }
            }
            let _ = w.flush();
        }
        drop(stdin);
        (
            reader.join().unwrap_or_default(),
            err_reader.join().unwrap_or_default(),
        )
    });
    let status = child.wait().map_err(io("waiting for the Java producer"))?;
    if !status.success() {
        return Err(TestkitError::Command {
            what: format!("Java producer to {topic}"),
            detail: tail(&err_text, 20),
        });
    }
    Ok(produced)
}
