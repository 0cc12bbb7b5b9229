//! A small record-batch v2 encoder for tests (hand-built bytes, every codec, markers, CRC).
//! Shared with other crates' tests through the `testenc` feature, so no crate keeps a copy.
#![allow(missing_docs)]

use std::io::Write;

use crate::Compression;

pub struct Rec {
    pub offset_delta: i32,
    pub ts_delta: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Rec {
    pub fn value(delta: i32, v: &str) -> Rec {
        Rec {
            offset_delta: delta,
            ts_delta: i64::from(delta),
            key: None,
            value: Some(v.as_bytes().to_vec()),
            headers: vec![],
        }
    }
}

pub fn zigzag(v: i64, out: &mut Vec<u8>) {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        if u < 0x80 {
            out.push(u as u8);
            return;
        }
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
}

fn bytes(b: &Option<Vec<u8>>, out: &mut Vec<u8>) {
    match b {
        None => zigzag(-1, out),
        Some(b) => {
            zigzag(b.len() as i64, out);
            out.extend_from_slice(b);
        }
    }
}

pub fn encode_records(recs: &[Rec]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in recs {
        let mut body = vec![0u8];
        zigzag(r.ts_delta, &mut body);
        zigzag(i64::from(r.offset_delta), &mut body);
        bytes(&r.key, &mut body);
        bytes(&r.value, &mut body);
        zigzag(r.headers.len() as i64, &mut body);
        for (k, v) in &r.headers {
            bytes(&Some(k.clone()), &mut body);
            bytes(v, &mut body);
        }
        zigzag(body.len() as i64, &mut out);
        out.extend(body);
    }
    out
}

pub fn compress(codec: Compression, raw: &[u8], xerial: bool) -> Vec<u8> {
    match codec {
        Compression::None => raw.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(raw).unwrap();
            e.finish().unwrap()
        }
        Compression::Snappy => {
            let block = snap::raw::Encoder::new().compress_vec(raw).unwrap();
            if xerial {
                let mut out = b"\x82SNAPPY\x00".to_vec();
                out.extend_from_slice(&1i32.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
                out.extend_from_slice(&(block.len() as i32).to_be_bytes());
                out.extend(block);
                out
            } else {
                block
            }
        }
        Compression::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(raw).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::bulk::compress(raw, 1).unwrap(),
    }
}

pub struct Batch {
    pub base_offset: i64,
    pub last_offset_delta: i32,
    pub attributes: i16,
    pub producer_id: i64,
    pub record_count: i32,
    pub records: Vec<u8>,
    pub partition_leader_epoch: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
}

impl Batch {
    pub fn plain(base_offset: i64, recs: &[Rec]) -> Batch {
        Batch::with(base_offset, recs, Compression::None, false)
    }

    pub fn with(base_offset: i64, recs: &[Rec], codec: Compression, xerial: bool) -> Batch {
        let raw = encode_records(recs);
        Batch {
            base_offset,
            last_offset_delta: recs.iter().map(|r| r.offset_delta).max().unwrap_or(0),
            attributes: Batch::codec_attr(codec),
            producer_id: -1,
            record_count: recs.len() as i32,
            records: compress(codec, &raw, xerial),
            partition_leader_epoch: 0,
            base_timestamp: 1_000,
            max_timestamp: 2_000,
        }
    }

    pub fn codec_attr(codec: Compression) -> i16 {
        match codec {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    pub fn txn(mut self, producer_id: i64) -> Batch {
        self.attributes |= 0x10;
        self.producer_id = producer_id;
        self
    }

    /// A transaction marker batch (ABORT = 0, COMMIT = 1) at `offset`.
    pub fn marker(offset: i64, producer_id: i64, commit: bool) -> Batch {
        let key = [0u8, 0, 0, u8::from(commit)];
        let rec = Rec {
            offset_delta: 0,
            ts_delta: 0,
            key: Some(key.to_vec()),
            value: Some(vec![0, 0, 0, 0, 0, 0]),
            headers: vec![],
        };
        Batch {
            base_offset: offset,
            last_offset_delta: 0,
            attributes: 0x30,
            producer_id,
            record_count: 1,
            records: encode_records(&[rec]),
            partition_leader_epoch: 0,
            base_timestamp: 1_000,
            max_timestamp: 2_000,
        }
    }

    /// The header's base and max timestamps (the records' deltas stay as given).
    pub fn times(mut self, base_timestamp: i64, max_timestamp: i64) -> Batch {
        self.base_timestamp = base_timestamp;
        self.max_timestamp = max_timestamp;
        self
    }

    /// Log-append time: every record carries the header's max timestamp.
    pub fn log_append(mut self) -> Batch {
        self.attributes |= 0x08;
        self
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut after_crc = Vec::new();
        after_crc.extend_from_slice(&self.attributes.to_be_bytes());
        after_crc.extend_from_slice(&self.last_offset_delta.to_be_bytes());
        after_crc.extend_from_slice(&self.base_timestamp.to_be_bytes());
        after_crc.extend_from_slice(&self.max_timestamp.to_be_bytes());
        after_crc.extend_from_slice(&self.producer_id.to_be_bytes());
        after_crc.extend_from_slice(&0i16.to_be_bytes());
        after_crc.extend_from_slice(&0i32.to_be_bytes());
        after_crc.extend_from_slice(&self.record_count.to_be_bytes());
        after_crc.extend_from_slice(&self.records);
        let mut out = Vec::new();
        out.extend_from_slice(&self.base_offset.to_be_bytes());
        out.extend_from_slice(&((after_crc.len() + 9) as i32).to_be_bytes());
        out.extend_from_slice(&self.partition_leader_epoch.to_be_bytes());
        out.push(2);
        out.extend_from_slice(&crc32c::crc32c(&after_crc).to_be_bytes());
        out.extend(after_crc);
        out
    }
}

pub fn concat(batches: &[Batch]) -> Vec<u8> {
    batches.iter().flat_map(Batch::encode).collect()
}
