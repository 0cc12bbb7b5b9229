//! `kbatch dump`: one JSON line per data record, as a job on the engine.
//!
//! Each worker formats its records into its own buffer and writes the buffer to stdout after
//! every fetched chunk (under stdout's lock, once per chunk, never per record). A partition is
//! owned by one worker and its chunks arrive in offset order, so each partition's lines come
//! out in offset order; lines of different partitions interleave.

use std::io::Write;
use std::sync::Arc;

use base64::Engine as _;
use kbatch_reader::{Job, JobError, PartitionSpec, PartitionStats, Record};

use crate::args::CommonArgs;

struct Dump {
    names: Vec<(Arc<str>, i32)>,
    binary: bool,
}

const FLUSH_AT: usize = 1 << 20;

impl Dump {
    fn field(&self, out: &mut Vec<u8>, bytes: Option<&[u8]>) {
        match bytes {
            None => out.extend_from_slice(b"null"),
            Some(b) if self.binary => {
                out.push(b'"');
                out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD
                        .encode(b)
                        .as_bytes(),
                );
                out.push(b'"');
            }
            Some(b) => {
                let text = String::from_utf8_lossy(b);
                // serde_json writes a JSON string with every needed escape.
                let _ = serde_json::to_writer(&mut *out, &*text);
            }
        }
    }

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
        buf.extend_from_slice(b"{\"topic\":");
        let _ = serde_json::to_writer(&mut *buf, &**topic);
        let _ = write!(
            buf,
            ",\"partition\":{p},\"offset\":{},\"timestamp\":{},\"key\":",
            r.offset, r.timestamp
        );
        self.field(buf, r.key);
        buf.extend_from_slice(b",\"value\":");
        self.field(buf, r.value);
        buf.extend_from_slice(b"}\n");
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
