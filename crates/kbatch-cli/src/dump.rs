//! `kbatch dump`: one JSON line per data record, as a job on the engine.
//!
//! Each worker formats its records into its own buffer and writes the buffer to stdout after
//! every fetched chunk (under stdout's lock, once per chunk, never per record). A partition is
//! owned by one worker and its chunks arrive in offset order, so each partition's lines come
//! out in offset order; lines of different partitions interleave. [`Line`] (kbatch-export's) is
//! the one line format, shared with `export --format jsonl`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kbatch_export::Line;
use kbatch_reader::{Job, JobError, PartitionSpec, PartitionStats, Record};
use kbatch_schema::{ColumnDecoder, Decoders};

use crate::args::{CommonArgs, FormatArgs};

struct Dump {
    names: Vec<(Arc<str>, i32)>,
    binary: bool,
    /// Decoders of registry-framed keys and values (`--key-format`, `--value-format`).
    key: Option<ColumnDecoder>,
    value: Option<ColumnDecoder>,
    /// Values made null by `--on-undecodable null`.
    undecodable: AtomicU64,
}

/// One worker's output buffer, and the records of the current chunk waiting to be decoded
/// together (only when a key or value format is set).
struct Partial {
    buf: Vec<u8>,
    pending: Vec<Pending>,
}

/// A record held until its chunk is decoded (the record borrows the fetched bytes).
struct Pending {
    partition: usize,
    offset: i64,
    timestamp_ms: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

const FLUSH_AT: usize = 1 << 20;
/// Records decoded together at most (a chunk is usually smaller).
const DECODE_AT: usize = 4096;

fn flush(buf: &mut Vec<u8>) -> Result<(), JobError> {
    if buf.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let r = out.write_all(buf).and_then(|()| out.flush());
    buf.clear();
    r.map_err(|_| JobError::Stop)
}

/// One column decoded from `pending`, rendered per row: `None` when no decoder is set.
fn decode_column(
    decoder: Option<&ColumnDecoder>,
    topic: &str,
    pending: &[Pending],
    pick: impl Fn(&Pending) -> Option<&[u8]>,
    what: &str,
    undecodable: &AtomicU64,
) -> Result<Option<Vec<Vec<u8>>>, JobError> {
    let Some(decoder) = decoder else {
        return Ok(None);
    };
    let values: Vec<Option<&[u8]>> = pending.iter().map(pick).collect();
    let decoded = decoder.decode(topic, &values).map_err(|e| JobError::Fail {
        offset: pending[e.row].offset,
        message: format!("cannot decode the {what}: {}", e.error),
    })?;
    undecodable.fetch_add(decoded.undecodable, Ordering::Relaxed);
    let mut rows = Vec::with_capacity(pending.len());
    for (row, p) in pending.iter().enumerate() {
        let mut out = Vec::new();
        decoder
            .write_json(&mut out, decoded.array.as_ref(), row)
            .map_err(|e| JobError::Fail {
                offset: p.offset,
                message: format!("cannot print the {what}: {e}"),
            })?;
        rows.push(out);
    }
    Ok(Some(rows))
}

impl Dump {
    fn decoding(&self) -> bool {
        self.key.is_some() || self.value.is_some()
    }

    /// Decode the pending records and write their lines.
    fn drain(&self, p: &mut Partial) -> Result<(), JobError> {
        if p.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut p.pending);
        // One partition's records: drained at each chunk's end and when the partition changes.
        let topic = &self.names[pending[0].partition].0;
        let keys = decode_column(
            self.key.as_ref(),
            topic,
            &pending,
            |r| r.key.as_deref(),
            "key",
            &self.undecodable,
        )?;
        let values = decode_column(
            self.value.as_ref(),
            topic,
            &pending,
            |r| r.value.as_deref(),
            "value",
            &self.undecodable,
        )?;
        for (row, r) in pending.iter().enumerate() {
            let (topic, partition) = &self.names[r.partition];
            let line = Line {
                topic,
                partition: *partition,
                offset: r.offset,
                timestamp_ms: r.timestamp_ms,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
            };
            line.write_with(
                &mut p.buf,
                self.binary,
                keys.as_ref().map(|k| k[row].as_slice()),
                values.as_ref().map(|v| v[row].as_slice()),
            );
            if p.buf.len() >= FLUSH_AT {
                flush(&mut p.buf)?;
            }
        }
        Ok(())
    }
}

impl Job for Dump {
    type Partial = Partial;
    type Output = ();

    fn partial(&self) -> Partial {
        Partial {
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            pending: Vec::new(),
        }
    }

    fn update(&self, p: &mut Partial, partition: usize, r: &Record<'_>) -> Result<(), JobError> {
        if self.decoding() {
            if p.pending.last().is_some_and(|l| l.partition != partition) {
                self.drain(p)?;
            }
            p.pending.push(Pending {
                partition,
                offset: r.offset,
                timestamp_ms: r.timestamp,
                key: r.key.map(<[u8]>::to_vec),
                value: r.value.map(<[u8]>::to_vec),
            });
            if p.pending.len() >= DECODE_AT {
                self.drain(p)?;
            }
            return Ok(());
        }
        let (topic, part) = &self.names[partition];
        let line = Line {
            topic,
            partition: *part,
            offset: r.offset,
            timestamp_ms: r.timestamp,
            key: r.key,
            value: r.value,
        };
        line.write(&mut p.buf, self.binary);
        if p.buf.len() >= FLUSH_AT {
            flush(&mut p.buf)?;
        }
        Ok(())
    }

    fn chunk_done(&self, p: &mut Partial) -> Result<(), JobError> {
        self.drain(p)?;
        flush(&mut p.buf)
    }

    fn merge(&self, into: &mut Partial, mut other: Partial) {
        let _ = flush(&mut into.buf);
        let _ = flush(&mut other.buf);
    }

    fn finish(&self, mut p: Partial, _: &[PartitionStats]) {
        let _ = flush(&mut p.buf);
    }
}

pub fn dump(common: &CommonArgs, binary: bool, formats: &FormatArgs) -> anyhow::Result<()> {
    let Decoders { key, value } = formats.decoders(&common.client_config()?)?;
    let reader = crate::connect(common)?;
    let plan = reader.plan(&common.spec()?)?;
    let specs: Vec<PartitionSpec> = plan.iter().map(|p| p.spec.clone()).collect();
    let job = Dump {
        names: specs
            .iter()
            .map(|s| (s.topic.clone(), s.partition))
            .collect(),
        binary,
        key,
        value,
        undecodable: AtomicU64::new(0),
    };
    reader.run(&plan, &job, None)?;
    let undecodable = job.undecodable.load(Ordering::Relaxed);
    if undecodable > 0 {
        eprintln!("kbatch: {undecodable} undecodable keys or values printed as null (--on-undecodable null)");
    }
    Ok(())
}
