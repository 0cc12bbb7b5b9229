//! `top`'s job with no broker: the realistic nested mix (`kbatch_testkit::events`, seed 7,
//! `N` events, default 200,000) encoded as uncompressed batches of 1,000 records, decoded and
//! passed through `trending` and `top` questions, best of `R` rounds (default 5): the CPU of
//! the job itself, for profiles (`perf record`) and quick ratios between questions.
//!
//! `top_profile [N] [R] [QUESTION…]`: QUESTION is `trending`, `top`, `nested-count`,
//! `nested-distinct` (default: all four).
use kbatch_engine::Job;
use kbatch_records::testenc::{Batch, Rec};
use kbatch_records::{Chunk, Decoder, Isolation};
use kbatch_trending::{TopJob, TopSpec};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mut questions: Vec<String> = args.collect();
    if questions.is_empty() {
        questions = ["trending", "top", "nested-count", "nested-distinct"]
            .map(String::from)
            .to_vec();
    }
    let packed = kbatch_testkit::events::Packed::new(kbatch_testkit::events::Mix::Nested, 7, n);
    let values = packed.values();
    let batches: Vec<Vec<u8>> = values
        .chunks(1000)
        .enumerate()
        .map(|(k, vs)| {
            let recs: Vec<Rec> = vs
                .iter()
                .enumerate()
                .map(|(j, v)| Rec {
                    offset_delta: j as i32,
                    ts_delta: j as i64,
                    key: None,
                    value: Some(v.to_vec()),
                    headers: vec![],
                })
                .collect();
            Batch::plain((k * 1000) as i64, &recs).encode()
        })
        .collect();
    let bytes: usize = values.iter().map(|v| v.len()).sum();
    println!(
        "{} events, {} B mean",
        values.len(),
        bytes / values.len().max(1)
    );
    for q in &questions {
        let (group, item, metric, wheres): (&str, &str, Option<&str>, &[&str]) = match q.as_str() {
            "trending" | "top" => ("category", "product", None, &[]),
            "nested-count" => (
                "device.os.name,device.browser.name",
                "category",
                None,
                &["quantity >= 2"],
            ),
            "nested-distinct" => (
                "device.os.name,device.browser.name",
                "category",
                Some("distinct:customer_id"),
                &["quantity >= 2"],
            ),
            other => panic!("unknown question {other}"),
        };
        let best = if q == "trending" {
            let job = kbatch_trending::Trending {
                top: 3,
                strict: false,
            };
            time(rounds, &batches, &job, |p| p.pairs().count())
        } else {
            let spec = TopSpec::parse(group, item, metric, wheres, None, Some("3")).unwrap();
            let job = TopJob::new(spec).unwrap();
            time(rounds, &batches, &job, |_| 0)
        };
        println!(
            "{q}: best {:.3} s, {:.0} ns/event",
            best,
            best * 1e9 / values.len() as f64
        );
    }
}

fn time<J: Job>(
    rounds: usize,
    batches: &[Vec<u8>],
    job: &J,
    f: impl Fn(&J::Partial) -> usize,
) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        let mut p = job.partial();
        let mut d = Decoder::new(64 << 20);
        for b in batches {
            let chunk = Chunk {
                bytes: b,
                start: 0,
                end: i64::MAX,
                isolation: Isolation::ReadCommitted,
                aborted: &[],
            };
            d.decode(&chunk, |r| job.update(&mut p, 0, r)).unwrap();
            job.chunk_done(&mut p).unwrap();
        }
        std::hint::black_box(f(&p));
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}
