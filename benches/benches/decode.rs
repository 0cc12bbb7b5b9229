//! Micro-benchmarks on record bytes captured from a real broker (`fixtures/batches/`), one core,
//! no broker: decode only; decode + extraction; decode + extraction + aggregation (the trending
//! job's `update`); and the naive baseline on the same bytes: kafka-protocol's
//! `RecordBatchDecoder` + serde_json into a borrowed struct + a hashbrown map.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_protocol::records::RecordBatchDecoder;
use kbatch_engine::Job;
use kbatch_records::{Chunk, Decoder, Isolation};

fn fixture(codec: &str) -> Vec<u8> {
    let path = format!(
        "{}/../fixtures/batches/trending-{codec}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run `make fixtures`)"))
}

fn decode_only(d: &mut Decoder, bytes: &[u8]) -> u64 {
    let chunk = Chunk {
        bytes,
        start: 0,
        end: i64::MAX,
        isolation: Isolation::ReadCommitted,
        aborted: &[],
    };
    let mut n = 0u64;
    d.decode(&chunk, |r| {
        n += r.value.map_or(0, |v| v.len() as u64);
        Ok::<(), ()>(())
    })
    .unwrap();
    n
}

fn bench(c: &mut Criterion) {
    for codec in ["none", "lz4", "zstd"] {
        let bytes = fixture(codec);
        let mut d = Decoder::new(64 << 20);
        let records = {
            let chunk = Chunk {
                bytes: &bytes,
                start: 0,
                end: i64::MAX,
                isolation: Isolation::ReadCommitted,
                aborted: &[],
            };
            d.decode(&chunk, |_| Ok::<(), ()>(())).unwrap().0.records
        };
        let mut g = c.benchmark_group(format!("trending-{codec}"));
        g.throughput(Throughput::Elements(records));
        g.bench_function("kbatch decode", |b| {
            b.iter(|| black_box(decode_only(&mut d, &bytes)))
        });
        g.bench_function("kbatch decode+extract", |b| {
            b.iter(|| {
                let chunk = Chunk {
                    bytes: &bytes,
                    start: 0,
                    end: i64::MAX,
                    isolation: Isolation::ReadCommitted,
                    aborted: &[],
                };
                let mut valid = 0u64;
                d.decode(&chunk, |r| {
                    valid += u64::from(kbatch_trending::extract(r.value).is_ok());
                    Ok::<(), ()>(())
                })
                .unwrap();
                black_box(valid)
            })
        });
        let job = kbatch_trending::Trending {
            top: 1,
            strict: false,
        };
        g.bench_function("kbatch decode+extract+aggregate", |b| {
            b.iter(|| {
                let mut partial = job.partial();
                let chunk = Chunk {
                    bytes: &bytes,
                    start: 0,
                    end: i64::MAX,
                    isolation: Isolation::ReadCommitted,
                    aborted: &[],
                };
                d.decode(&chunk, |r| job.update(&mut partial, 0, r))
                    .unwrap();
                black_box(partial)
            })
        });
        let frozen = Bytes::from(bytes.clone());
        g.bench_function("kafka-protocol decode", |b| {
            b.iter(|| {
                let mut buf = frozen.clone();
                let mut n = 0u64;
                while !buf.is_empty() {
                    let set = RecordBatchDecoder::decode(&mut buf).unwrap();
                    n += set.records.iter().map(|r| r.value.as_ref().map_or(0, |v| v.len() as u64)).sum::<u64>();
                }
                black_box(n)
            })
        });
        g.bench_function("naive kafka-protocol+serde_json+hashbrown", |b| {
            b.iter(|| {
                let mut buf = frozen.clone();
                let mut counts: hashbrown::HashMap<(String, String), u64> =
                    hashbrown::HashMap::new();
                let mut invalid = 0u64;
                while !buf.is_empty() {
                    let set = RecordBatchDecoder::decode(&mut buf).unwrap();
                    for r in &set.records {
                        if !kbatch_benches::count_serde(&mut counts, r.value.as_deref()) {
                            invalid += 1;
                        }
                    }
                }
                black_box((counts, invalid))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
