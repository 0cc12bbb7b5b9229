//! A progress bar on stderr, only when stderr is a terminal: end offsets are fixed when the
//! run starts, so the percentage is exact. Nothing of it reaches pipes or CI logs.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kbatch_reader::Progress;

/// Run `f`, drawing `progress` every 200 ms meanwhile if stderr is a TTY.
pub fn while_running<T>(progress: &Progress, f: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return f();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let started = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                draw(progress, started);
            }
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        });
        let out = f();
        done.store(true, Ordering::Relaxed);
        out
    })
}

fn draw(progress: &Progress, started: Instant) {
    let (done, total) = progress.fraction();
    let frac = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let secs = started.elapsed().as_secs_f64();
    let eta = if frac > 0.0 {
        secs / frac - secs
    } else {
        f64::NAN
    };
    let width = 30;
    let filled = ((frac * width as f64) as usize).min(width);
    eprint!(
        "\r[{}{}] {:5.1}% {} records, ETA {}",
        "#".repeat(filled),
        "-".repeat(width - filled),
        frac * 100.0,
        progress.records(),
        if eta.is_finite() {
            format!("{eta:.0}s")
        } else {
            "?".into()
        }
    );
    let _ = std::io::stderr().flush();
}
