//! The rolling-restart soak (RELIABILITY.md case 40, bounded): every node of the 3-node
//! cluster is stopped gracefully and restarted in turn, as in a rolling upgrade, while
//! `kbatch dump` reads the replicated topic over and over; every read must be exact. A node
//! stays down (12 s) longer than the reads' `--timeout` (8 s): a read cannot wait for it.
//!
//! Its length is `KBATCH_SOAK_SECS` (unset: one full rolling restart, as in `make test`);
//! `make soak` runs it for 10 minutes and prints the summary line.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn rolling_restart_soak() {
    let secs: u64 = std::env::var("KBATCH_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (mut c, big) = failover_cluster();
    // A node stays down longer than the read's --timeout, so a read that was using it must
    // fail over to the new leaders: waiting for the node to come back cannot save it.
    let args = dump_args(&c, big, 1, "8s");
    let stop = Arc::new(AtomicBool::new(false));
    // (reads, records, lost, duplicated, failures)
    let tally = Arc::new(Mutex::new((0u64, 0u64, 0u64, 0u64, Vec::<String>::new())));
    let reader = {
        let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
        std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            loop {
                let last = stop.load(Ordering::SeqCst);
                let run = kbatch(&args);
                let a = big.audit(&run.stdout);
                let mut t = tally.lock().unwrap();
                t.0 += 1;
                t.1 += a.lines;
                t.2 += a.lost;
                t.3 += a.duplicated;
                if run.code != 0 || !a.clean() {
                    let n = t.0;
                    t.4.push(format!(
                        "read {n}: exit {} after {:?}: {} {a:?}",
                        run.code,
                        run.elapsed,
                        run.stderr.trim()
                    ));
                    stop.store(true, Ordering::SeqCst);
                }
                if last || stop.load(Ordering::SeqCst) {
                    return;
                }
            }
        })
    };
    let started = Instant::now();
    let mut restarts = 0u32;
    'soak: loop {
        for n in 1..=3u32 {
            if stop.load(Ordering::SeqCst) {
                break 'soak;
            }
            c.node_mut(n).terminate().unwrap();
            std::thread::sleep(Duration::from_secs(12));
            c.node_mut(n)
                .restart()
                .unwrap_or_else(|e| panic!("restarting node {n}: {e}"));
            c.wait_in_sync(&big.topic, Duration::from_secs(90))
                .unwrap_or_else(|e| panic!("node {n} did not catch up: {e}\n{}", c.logs(20)));
            // Leadership back on the restarted node, so the next stop hits leaders too.
            c.elect_preferred(&big.topic).unwrap();
            restarts += 1;
        }
        if started.elapsed() >= Duration::from_secs(secs) {
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    reader.join().expect("the reading thread");
    let t = tally.lock().unwrap();
    let summary = format!(
        "soak: {:.0} s, {restarts} node restarts, {} reads, {} records, lost {}, duplicated {}, failed reads {}",
        started.elapsed().as_secs_f64(),
        t.0,
        t.1,
        t.2,
        t.3,
        t.4.len()
    );
    eprintln!("{summary}");
    assert!(t.4.is_empty(), "{summary}\n{}", t.4.join("\n"));
    assert!(restarts >= 3, "{summary}: a full rolling restart");
    assert!(t.0 >= 2, "{summary}: reads overlapped the restarts");
}
