//! Profile helper: run the extractor over the values of `fixtures/batches/trending-none.bin`
//! N times (default 20) and print the rate. For `valgrind --tool=callgrind`.
fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/batches/trending-none.bin"
    );
    let bytes = std::fs::read(path).expect("make fixtures");
    let mut values: Vec<Option<Vec<u8>>> = Vec::new();
    let mut d = kbatch_records::Decoder::new(64 << 20);
    let chunk = kbatch_records::Chunk {
        bytes: &bytes,
        start: 0,
        end: i64::MAX,
        isolation: kbatch_records::Isolation::ReadCommitted,
        aborted: &[],
    };
    d.decode(&chunk, |r| {
        values.push(r.value.map(<[u8]>::to_vec));
        Ok::<(), ()>(())
    })
    .unwrap();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let started = std::time::Instant::now();
    let mut valid = 0u64;
    for _ in 0..n {
        for v in &values {
            valid +=
                u64::from(std::hint::black_box(kbatch_trending::extract(v.as_deref())).is_ok());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{valid} valid; {:.1} M values/s",
        (n * values.len()) as f64 / secs / 1e6
    );
}
