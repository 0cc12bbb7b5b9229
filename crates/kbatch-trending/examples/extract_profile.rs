//! Profile helper: run the trending hot path over `fixtures/batches/trending-none.bin` N times
//! (default 20) and print the rate. `MODE` (first argument): `extract` (values pre-decoded,
//! extraction only), `decode`, `decode+extract`, `job` (decode + extract + aggregate).
//! For `valgrind --tool=callgrind`: instruction counts are the stable figure on a noisy host.
use kbatch_engine::Job;
use kbatch_records::{Chunk, Decoder, Isolation};

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/batches/trending-none.bin"
    );
    let bytes = std::fs::read(path).expect("make fixtures");
    let chunk = Chunk {
        bytes: &bytes,
        start: 0,
        end: i64::MAX,
        isolation: Isolation::ReadCommitted,
        aborted: &[],
    };
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "job".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let mut d = Decoder::new(64 << 20);
    let mut values: Vec<Option<Vec<u8>>> = Vec::new();
    d.decode(&chunk, |r| {
        values.push(r.value.map(<[u8]>::to_vec));
        Ok::<(), ()>(())
    })
    .unwrap();
    let job = kbatch_trending::Trending {
        top: 1,
        strict: false,
    };
    let started = std::time::Instant::now();
    let mut acc = 0u64;
    for _ in 0..n {
        match mode.as_str() {
            "extract" => {
                for v in &values {
                    let e = kbatch_trending::extract(v.as_deref());
                    acc += u64::from(std::hint::black_box(e).is_ok());
                }
            }
            "decode" => {
                d.decode(&chunk, |r| {
                    acc += r.value.map_or(0, |v| v.len() as u64);
                    Ok::<(), ()>(())
                })
                .unwrap();
            }
            "two-phase" => {
                let base = bytes.as_ptr() as usize;
                let mut spans: Vec<(usize, usize)> = Vec::with_capacity(values.len());
                d.decode(&chunk, |r| {
                    if let Some(v) = r.value {
                        spans.push((v.as_ptr() as usize - base, v.len()));
                    }
                    Ok::<(), ()>(())
                })
                .unwrap();
                for &(at, len) in &spans {
                    let e = kbatch_trending::extract(Some(&bytes[at..at + len]));
                    acc += u64::from(std::hint::black_box(e).is_ok());
                }
            }
            "decode+extract" => {
                d.decode(&chunk, |r| {
                    let e = kbatch_trending::extract(r.value);
                    acc += u64::from(std::hint::black_box(e).is_ok());
                    Ok::<(), ()>(())
                })
                .unwrap();
            }
            _ => {
                let mut p = job.partial();
                d.decode(&chunk, |r| job.update(&mut p, 0, r)).unwrap();
                acc += p.pairs().count() as u64;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{mode}: {acc}; {:.1} M records/s",
        (n * values.len()) as f64 / secs / 1e6
    );
}
