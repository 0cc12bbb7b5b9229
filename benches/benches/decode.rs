//! Micro-benchmarks, one core, no broker, on record-batch bytes: the fixtures captured from a
//! real broker (`fixtures/batches/trending-<codec>.bin`, see `fixtures/README.md`) when they
//! exist, else batches made in-process by `kbatch_benches::gen` (set `KBATCH_BENCH_EVENTS=N` to
//! use N generated events even when the fixtures exist).
//!
//! For none, lz4 and zstd, on the same bytes:
//! - `kbatch decode`: `kbatch_records::Decoder` with CRC32C verification, every record walked;
//! - `kbatch decode+extract`: plus `kbatch_trending::Extractor` (what the job uses: `extract`
//!   with the layout cache) on every value;
//! - `kbatch decode+extract+aggregate`: plus the trending job's `update` on a partial (the
//!   engine's `Job` trait), i.e. the whole per-record work of `kbatch trending`;
//! - `kafka-protocol decode`: `RecordBatchDecoder::decode` alone (a `Vec<Record>` per batch);
//! - `naive kafka-protocol+serde_json+hashbrown`: the baseline the 4× floor is against:
//!   the decoder above, serde_json into a borrowed struct, a hashbrown map probed with a
//!   borrowed key ([`kbatch_benches::count_serde`], the same code the rdkafka reader runs).
//!
//! And once, on the values of the uncompressed input (no decoding), the extraction alone next
//! to the JSON parsers a user might reach for, as a yardstick of what validating ~100-byte
//! JSON costs (`extract-reference`):
//! - `kbatch extract`: `kbatch_trending::extract` (validates, finds both fields; no state);
//! - `kbatch Extractor`: the same verdicts with the layout cache the job uses (records of a
//!   layout seen before are settled by comparison with a sample);
//! - `serde_json validate`: `serde_json::from_slice::<IgnoredAny>` (validates only);
//! - `simd-json tape`: `simd_json::to_tape_with_buffers` (the SIMD parser, validates and builds
//!   its tape, buffers reused; each value first copied into a scratch buffer, since simd-json
//!   rewrites its input).
//!
//! And on the realistic event mixes (`kbatch_testkit::events`: flat ~460-byte events, nested
//! ones, four serializers; 20,000 values each, seed 2026, the same generator `bench_e2e --mix`
//! produces, laid end to end in one buffer as a decompressed batch holds them:
//! `events::Packed`), the extraction alone, GB/s of JSON (`extract-<mix>`), same core, same run:
//! - `kbatch Extractor` (the job's path) and `kbatch extract` (stateless);
//! - `serde_json struct`: `serde_json::from_slice` into the borrowed [`kbatch_benches::Event`]
//!   (validates the whole value, keeps the two fields), what `rdkafka_trending` runs;
//! - `simd-json struct`: `simd_json::serde::from_slice` into the same struct (each value first
//!   copied into a scratch buffer, since simd-json rewrites its input);
//! - `sonic-rs struct`: `sonic_rs::from_slice` into the same struct.
//!
//! Before measuring, all five must agree on how many values are valid events.
//!
//! Throughput is reported per record and per byte of record-batch input (compressed bytes for
//! lz4 and zstd). Before measuring, the set-up checks that both decoders see the same records
//! and that kbatch's extractor and the serde baseline agree on how many are valid, so `cargo
//! bench --bench decode -- --test` (the smoke run in `make test`) also catches a broken path.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_protocol::records::RecordBatchDecoder;
use kbatch_benches::gen::{self, Codec};
use kbatch_benches::{count_serde, Counts};
use kbatch_engine::Job;
use kbatch_records::{Chunk, Decoder, Isolation};

/// The bytes to decode for `codec` and where they came from.
fn input(codec: &str) -> (Vec<u8>, String) {
    let generated = |n: usize| {
        let c = Codec::by_name(codec).expect("a codec gen knows");
        (gen::events(n, 2_000, c), format!("{n} generated events"))
    };
    if let Some(n) = std::env::var("KBATCH_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        return generated(n);
    }
    let path = format!(
        "{}/../fixtures/batches/trending-{codec}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    match std::fs::read(&path) {
        Ok(b) => (b, format!("fixtures/batches/trending-{codec}.bin")),
        Err(_) => generated(20_000),
    }
}

fn chunk(bytes: &[u8]) -> Chunk<'_> {
    Chunk {
        bytes,
        start: 0,
        end: i64::MAX,
        isolation: Isolation::ReadCommitted,
        aborted: &[],
    }
}

/// kbatch's count of (records, valid events).
fn kbatch_counts(d: &mut Decoder, bytes: &[u8]) -> (u64, u64) {
    let (mut records, mut valid) = (0u64, 0u64);
    d.decode(&chunk(bytes), |r| {
        records += 1;
        valid += u64::from(kbatch_trending::extract(r.value).is_ok());
        Ok::<(), ()>(())
    })
    .expect("kbatch decodes the benchmark bytes");
    (records, valid)
}

/// The naive baseline: (records, valid events, the counts).
fn naive(bytes: &Bytes) -> (u64, u64, Counts) {
    let mut buf = bytes.clone();
    let mut counts = Counts::new();
    let (mut records, mut valid) = (0u64, 0u64);
    while !buf.is_empty() {
        let set = RecordBatchDecoder::decode(&mut buf)
            .expect("kafka-protocol decodes the benchmark bytes");
        for r in &set.records {
            records += 1;
            valid += u64::from(count_serde(&mut counts, r.value.as_deref()));
        }
    }
    (records, valid, counts)
}

/// The values of the records in `bytes`, copied out.
fn values(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut d = Decoder::new(kbatch_records::DEFAULT_DECOMPRESS_CAP);
    let mut out = Vec::new();
    d.decode(&chunk(bytes), |r| {
        out.extend(r.value.map(<[u8]>::to_vec));
        Ok::<(), ()>(())
    })
    .expect("kbatch decodes the benchmark bytes");
    out
}

fn reference(c: &mut Criterion) {
    let (bytes, _) = input("none");
    let values = values(&bytes);
    let ours = values
        .iter()
        .filter(|v| kbatch_trending::extract(Some(v)).is_ok())
        .count();
    let serde = values
        .iter()
        .filter(|v| serde_json::from_slice::<serde::de::IgnoredAny>(v).is_ok())
        .count();
    // Every value of the fixture that is a valid event is valid JSON (the rest are tombstones
    // or invalid on purpose): both must see at least those.
    assert!(
        serde >= ours && ours > 0,
        "serde_json {serde}, kbatch {ours}"
    );
    let mut g = c.benchmark_group("extract-reference");
    g.throughput(Throughput::ElementsAndBytes {
        elements: values.len() as u64,
        bytes: values.iter().map(|v| v.len() as u64).sum(),
    });
    g.bench_function("kbatch extract", |b| {
        b.iter(|| {
            values
                .iter()
                .filter(|v| black_box(kbatch_trending::extract(Some(v))).is_ok())
                .count()
        })
    });
    g.bench_function("kbatch Extractor", |b| {
        b.iter(|| {
            let mut ex = kbatch_trending::Extractor::new();
            values
                .iter()
                .filter(|v| black_box(ex.extract(Some(v))).is_ok())
                .count()
        })
    });
    g.bench_function("serde_json validate", |b| {
        b.iter(|| {
            values
                .iter()
                .filter(|v| serde_json::from_slice::<serde::de::IgnoredAny>(v).is_ok())
                .count()
        })
    });
    let mut scratch = Vec::new();
    let mut buffers = simd_json::Buffers::default();
    g.bench_function("simd-json tape", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for v in &values {
                scratch.clear();
                scratch.extend_from_slice(v);
                ok += usize::from(
                    black_box(simd_json::to_tape_with_buffers(&mut scratch, &mut buffers)).is_ok(),
                );
            }
            ok
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    for codec in ["none", "lz4", "zstd"] {
        let (bytes, source) = input(codec);
        let frozen = Bytes::from(bytes.clone());
        let mut d = Decoder::new(kbatch_records::DEFAULT_DECOMPRESS_CAP).verify_crc(true);

        let (records, valid) = kbatch_counts(&mut d, &bytes);
        let (n_records, n_valid, _) = naive(&frozen);
        assert_eq!(
            records, n_records,
            "{codec}: kbatch and kafka-protocol decode different record counts"
        );
        assert_eq!(
            valid, n_valid,
            "{codec}: kbatch's extractor and serde_json disagree on valid events"
        );
        assert!(records > 0, "{codec}: no records in {source}");
        eprintln!(
            "{codec}: {source}, {} bytes, {records} records ({valid} valid)",
            bytes.len()
        );

        let mut g = c.benchmark_group(format!("trending-{codec}"));
        g.throughput(Throughput::ElementsAndBytes {
            elements: records,
            bytes: bytes.len() as u64,
        });
        g.bench_function("kbatch decode", |b| {
            b.iter(|| {
                let mut n = 0u64;
                d.decode(&chunk(&bytes), |r| {
                    n += r.value.map_or(0, |v| v.len() as u64);
                    Ok::<(), ()>(())
                })
                .unwrap();
                black_box(n)
            })
        });
        g.bench_function("kbatch decode+extract", |b| {
            b.iter(|| {
                let mut valid = 0u64;
                let mut ex = kbatch_trending::Extractor::new();
                d.decode(&chunk(&bytes), |r| {
                    valid += u64::from(black_box(ex.extract(r.value)).is_ok());
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
                d.decode(&chunk(&bytes), |r| job.update(&mut partial, 0, r))
                    .unwrap();
                job.chunk_done(&mut partial).unwrap();
                black_box(partial)
            })
        });
        g.bench_function("kafka-protocol decode", |b| {
            b.iter(|| {
                let mut buf = frozen.clone();
                let mut n = 0u64;
                while !buf.is_empty() {
                    let set = RecordBatchDecoder::decode(&mut buf).unwrap();
                    n += set
                        .records
                        .iter()
                        .map(|r| r.value.as_ref().map_or(0, |v| v.len() as u64))
                        .sum::<u64>();
                }
                black_box(n)
            })
        });
        g.bench_function("naive kafka-protocol+serde_json+hashbrown", |b| {
            b.iter(|| black_box(naive(&frozen)))
        });
        g.finish();
    }
}

/// Extraction alone on the realistic mixes, next to the JSON parsers (see the module doc).
fn mixes(c: &mut Criterion) {
    use kbatch_benches::Event;
    use kbatch_testkit::events::{Mix, Packed};
    let n: usize = std::env::var("KBATCH_BENCH_MIX_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    for mix in Mix::ALL {
        let packed = Packed::new(mix, 2026, n);
        let values = packed.values();
        let bytes = packed.bytes() as u64;
        let kbatch = values
            .iter()
            .filter(|v| kbatch_trending::extract(Some(v)).is_ok())
            .count();
        let serde = values
            .iter()
            .filter(|v| kbatch_benches::count_serde(&mut Default::default(), Some(v)))
            .count();
        let simd = values
            .iter()
            .filter(|v| simd_json::serde::from_slice::<Event>(&mut v.to_vec()).is_ok())
            .count();
        let sonic = values
            .iter()
            .filter(|v| sonic_rs::from_slice::<Event>(v).is_ok())
            .count();
        assert!(kbatch > 0, "{}: no valid events", mix.name());
        assert_eq!(
            [serde, simd, sonic],
            [kbatch; 3],
            "{}: valid events by serde_json, simd-json, sonic-rs vs kbatch",
            mix.name()
        );
        eprintln!(
            "extract-{}: {} values, {bytes} bytes, {kbatch} valid",
            mix.name(),
            values.len()
        );
        let mut g = c.benchmark_group(format!("extract-{}", mix.name()));
        g.throughput(Throughput::ElementsAndBytes {
            elements: values.len() as u64,
            bytes,
        });
        g.bench_function("kbatch Extractor", |b| {
            let mut ex = kbatch_trending::Extractor::new();
            b.iter(|| {
                values
                    .iter()
                    .filter(|v| black_box(ex.extract(Some(v))).is_ok())
                    .count()
            })
        });
        g.bench_function("kbatch extract", |b| {
            b.iter(|| {
                values
                    .iter()
                    .filter(|v| black_box(kbatch_trending::extract(Some(v))).is_ok())
                    .count()
            })
        });
        g.bench_function("serde_json struct", |b| {
            b.iter(|| {
                values
                    .iter()
                    .filter(|v| black_box(serde_json::from_slice::<Event>(v)).is_ok())
                    .count()
            })
        });
        let mut scratch = Vec::new();
        g.bench_function("simd-json struct", |b| {
            b.iter(|| {
                let mut ok = 0usize;
                for v in &values {
                    scratch.clear();
                    scratch.extend_from_slice(v);
                    ok += usize::from(
                        black_box(simd_json::serde::from_slice::<Event>(&mut scratch)).is_ok(),
                    );
                }
                ok
            })
        });
        g.bench_function("sonic-rs struct", |b| {
            b.iter(|| {
                values
                    .iter()
                    .filter(|v| black_box(sonic_rs::from_slice::<Event>(v)).is_ok())
                    .count()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, mixes, bench, reference);
criterion_main!(benches);
