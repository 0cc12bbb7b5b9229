//! The `top` path scanner's rate with 1, 2 and 4 user paths over the realistic nested mix
//! (`kbatch_testkit::events`, seed 2026, 20,000 draws, one buffer), no broker: GiB/s of value
//! bytes, best of `N` rounds (default 20), with trending's fixed-field `Extractor` on the same
//! values as the yardstick (its "valid" also needs both fields to be strings; the scanner only
//! judges the JSON, so it counts more values).
//!
//! `extract_paths [MIX] [N]`: MIX is `flat`, `nested` (default) or `serializers`.
use std::hint::black_box;
use std::time::Instant;

use kbatch_trending::{Path, PathScanner};

fn main() {
    let mut args = std::env::args().skip(1);
    let mix = args.next().unwrap_or_else(|| "nested".into());
    let mix = kbatch_testkit::events::Mix::from_name(&mix).expect("flat, nested or serializers");
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let packed = kbatch_testkit::events::Packed::new(mix, 2026, 20_000);
    let values = packed.values();
    let bytes: usize = values.iter().map(|v| v.len()).sum();
    // Paths every mix has at some depth: the nested mix's own first, then its neighbours.
    let sets: [&[&str]; 3] = [
        &["category"],
        &["category", "product"],
        &["category", "product", "customer_id", "device.os.name"],
    ];
    let gib = |secs: f64| bytes as f64 / secs / (1u64 << 30) as f64;
    let mut ex = kbatch_trending::Extractor::new();
    let mut best = f64::MAX;
    let mut valid = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        valid = values
            .iter()
            .filter(|v| black_box(ex.extract(Some(v))).is_ok())
            .count();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{} values, {bytes} bytes ({} B mean); trending's Extractor: {:.2} GiB/s ({valid} valid)",
        values.len(),
        bytes / values.len().max(1),
        gib(best)
    );
    for set in sets {
        let paths: Vec<Path> = set
            .iter()
            .map(|p| Path::parse(p).expect("a path"))
            .collect();
        let sc = PathScanner::new(&paths).expect("a small tree");
        let mut best = f64::MAX;
        let mut found = 0;
        let mut ok = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            found = 0;
            ok = 0;
            for v in &values {
                if let Ok(n) = black_box(sc.scan(v)) {
                    ok += 1;
                    found += n;
                }
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{} path(s) {:?}: {:.2} GiB/s ({ok} scanned without a verdict, {found} values found)",
            set.len(),
            set,
            gib(best)
        );
    }
}
