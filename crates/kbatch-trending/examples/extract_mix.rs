//! Profile helper on the realistic event mixes (`kbatch_testkit::events`): run the extractor
//! over 20,000 values of a mix (seed 2026, as the micro benchmark; end to end in one buffer,
//! `events::Packed`) N times and print the rate.
//!
//! `EXTRACT_MIX_VALUES=K` takes the first K values instead (1,000 fit the L2 cache: the
//! extractor's own cost, without the memory traffic of 9 MB of values).
//!
//! `extract_mix MIX [N] [MODE]`: MIX is `flat`, `nested` or `serializers`; MODE `extractor`
//! (default, the job's path), `extract` (stateless) or `serde` (serde_json into a borrowed
//! struct, the yardstick). For `valgrind --tool=callgrind`: run N and N+k and take the
//! difference, so generation drops out. `extract_mix MIX N seeds DIR` writes the first N values
//! to DIR instead (the fuzz target's seeds: `fuzz/seeds/extract/`).
use std::borrow::Cow;
use std::hint::black_box;

/// The two fields, as the serde yardstick reads them.
#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    product: Cow<'a, str>,
    #[serde(borrow)]
    category: Cow<'a, str>,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mix = args.next().unwrap_or_else(|| "flat".into());
    let mix = kbatch_testkit::events::Mix::from_name(&mix).expect("flat, nested or serializers");
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let mode = args.next().unwrap_or_else(|| "extractor".into());
    let packed = kbatch_testkit::events::Packed::new(
        mix,
        2026,
        std::env::var("EXTRACT_MIX_VALUES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000),
    );
    let values = packed.values();
    if mode == "seeds" {
        let dir = args.next().expect("seeds DIR");
        std::fs::create_dir_all(&dir).expect("seed directory");
        for (i, v) in values.iter().take(n).enumerate() {
            std::fs::write(format!("{dir}/{}-{i:03}.json", mix.name()), v).expect("seed file");
        }
        return;
    }
    let bytes = packed.bytes();
    let mut ex = kbatch_trending::Extractor::new();
    let started = std::time::Instant::now();
    let mut acc = 0u64;
    for _ in 0..n {
        for v in &values {
            acc += u64::from(match mode.as_str() {
                "extract" => black_box(kbatch_trending::extract(Some(v))).is_ok(),
                "serde" => black_box(serde_json::from_slice::<Event>(v))
                    .is_ok_and(|e| !e.product.is_empty() || !e.category.is_empty()),
                _ => black_box(ex.extract(Some(v))).is_ok(),
            });
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} {mode}: {acc} valid; {:.0} ns/value, {:.2} GB/s",
        mix.name(),
        secs * 1e9 / (n * values.len()) as f64,
        (n * bytes) as f64 / secs / 1e9
    );
}
