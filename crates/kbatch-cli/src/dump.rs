//! `kbatch dump`: one JSON line per data record, as a job on the engine.
//!
//! Each worker formats its records into its own buffer and writes the buffer to stdout after
//! every fetched chunk (under stdout's lock, once per chunk, never per record). A partition is
//! owned by one worker and its chunks arrive in offset order, so each partition's lines come
//! out in offset order; lines of different partitions interleave. [`Line`] (kbatch-export's) is
//! the one line format, shared with `export --format jsonl`.

use std::io::Write;
use std::sync::Arc;

use kbatch_export::Line;
use kbatch_reader::{Job, JobError, PartitionSpec, PartitionStats, Record};

use crate::args::CommonArgs;

struct Dump {
    names: Vec<(Arc<str>, i32)>,
    binary: bool,
}

const FLUSH_AT: usize = 1 << 20;

impl Dump {
    fn flush(buf: &mut Vec<u8>) -> Result<(), JobError> {
        if buf.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        let r = out.write_all(buf).and_then(|()| out.flush());
        buf.clear();
        r.map_err(|_| JobError::Stop)
    }
}

impl Job for Dump {
    type Partial = Vec<u8>;
    type Output = ();

    fn partial(&self) -> Vec<u8> {
        Vec::with_capacity(FLUSH_AT + 4096)
    }

    fn update(&self, buf: &mut Vec<u8>, partition: usize, r: &Record<'_>) -> Result<(), JobError> {
        let (topic, p) = &self.names[partition];
        let line = Line {
            topic,
            partition: *p,
            offset: r.offset,
            timestamp_ms: r.timestamp,
            key: r.key,
            value: r.value,
        };
        line.write(buf, self.binary);
        if buf.len() >= FLUSH_AT {
            Self::flush(buf)?;
        }
        Ok(())
    }

    fn chunk_done(&self, buf: &mut Vec<u8>) -> Result<(), JobError> {
        Self::flush(buf)
    }

    fn merge(&self, into: &mut Vec<u8>, mut other: Vec<u8>) {
        let _ = Self::flush(into);
        let _ = Self::flush(&mut other);
    }

    fn finish(&self, mut buf: Vec<u8>, _: &[PartitionStats]) {
        let _ = Self::flush(&mut buf);
    }
}

pub fn dump(common: &CommonArgs, binary: bool) -> anyhow::Result<()> {
    let reader = crate::connect(common)?;
    let plan = reader.plan(&common.spec()?)?;
    let specs: Vec<PartitionSpec> = plan.iter().map(|p| p.spec.clone()).collect();
    let job = Dump {
        names: specs
            .iter()
            .map(|s| (s.topic.clone(), s.partition))
            .collect(),
        binary,
    };
    reader.run(&plan, &job, None)?;
    Ok(())
}
