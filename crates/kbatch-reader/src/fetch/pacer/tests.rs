//! The pacer in virtual time: instants are `t0 + ms`, nothing sleeps.

use std::time::{Duration, Instant};

use super::*;

/// Backoff from 100 ms doubling to 800 ms, jitter pinned at × 1.0.
fn pacer() -> Pacer {
    Pacer::new(Backoff::with_rng(
        Duration::from_millis(100),
        Duration::from_millis(800),
        Box::new(|| 2000),
    ))
}

/// What the fetch loop told the pacer: an answer at `at` ms, its throttle, progress or not.
type Answer = (u64, i32, bool);

/// (what, budgets as (since ms, timeout ms), answers, asked at ms, expected)
type Row = (&'static str, Vec<(u64, u64)>, Vec<Answer>, u64, Want);

/// The expected decision, in ms from `t0`.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    Send,
    WaitUntil(u64),
    /// (position, elapsed ms, throttle in force)
    GiveUp(usize, u64, Option<i32>),
}

#[test]
fn decision_table() {
    let never = u64::MAX; // a timeout that never runs out (`Duration::from_millis(u64::MAX)`)
    let one = vec![(0, 1_000)];
    let rows: Vec<Row> = vec![
        ("nothing yet: send", one.clone(), vec![], 0, Want::Send),
        (
            "progress: send at once",
            one.clone(),
            vec![(0, 0, true)],
            0,
            Want::Send,
        ),
        (
            "no progress: back off 100 ms",
            one.clone(),
            vec![(0, 0, false)],
            0,
            Want::WaitUntil(100),
        ),
        (
            "asked again during the backoff",
            one.clone(),
            vec![(0, 0, false)],
            60,
            Want::WaitUntil(100),
        ),
        (
            "the backoff over: send",
            one.clone(),
            vec![(0, 0, false)],
            100,
            Want::Send,
        ),
        (
            "no progress twice: the backoff doubles",
            one.clone(),
            vec![(0, 0, false), (100, 0, false)],
            100,
            Want::WaitUntil(300),
        ),
        (
            "up to its cap",
            vec![(0, 10_000)],
            (0..6).map(|k| (k * 1_000, 0, false)).collect(),
            5_000,
            Want::WaitUntil(5_800),
        ),
        (
            "progress resets the backoff",
            one.clone(),
            vec![
                (0, 0, false),
                (100, 0, false),
                (300, 0, true),
                (400, 0, false),
            ],
            400,
            Want::WaitUntil(500),
        ),
        (
            "the backoff is cut short by the earliest budget",
            vec![(0, 1_000), (0, 50)],
            vec![(0, 0, false)],
            0,
            Want::WaitUntil(50),
        ),
        (
            "a throttle holds even an answer with progress",
            one.clone(),
            vec![(0, 300, true)],
            0,
            Want::WaitUntil(300),
        ),
        (
            "the throttle over: send",
            one.clone(),
            vec![(0, 300, true)],
            300,
            Want::Send,
        ),
        (
            "a throttle longer than the backoff: the throttle",
            one.clone(),
            vec![(0, 300, false)],
            0,
            Want::WaitUntil(300),
        ),
        (
            "a backoff longer than the throttle: the backoff",
            one.clone(),
            vec![(0, 30, false)],
            0,
            Want::WaitUntil(100),
        ),
        (
            "a later answer without throttle lifts it",
            one.clone(),
            vec![(0, 300, true), (300, 0, true)],
            300,
            Want::Send,
        ),
        (
            "a negative throttle is no throttle",
            one.clone(),
            vec![(0, -5, true)],
            0,
            Want::Send,
        ),
        (
            "a throttle past the budget waits to the budget",
            vec![(0, 700)],
            vec![(0, i32::MAX, false)],
            0,
            Want::WaitUntil(700),
        ),
        (
            "then gives up as throttled (RELIABILITY 32)",
            vec![(0, 700)],
            vec![(0, i32::MAX, false)],
            700,
            Want::GiveUp(0, 700, Some(i32::MAX)),
        ),
        (
            "a budget out without a throttle: the first one out, not throttled",
            vec![(0, 1_000), (0, 500), (0, 400)],
            vec![(0, 0, false)],
            600,
            Want::GiveUp(1, 600, None),
        ),
        (
            "a budget out with no answer ever",
            one.clone(),
            vec![],
            1_000,
            Want::GiveUp(0, 1_000, None),
        ),
        (
            "a budget restarted by progress elsewhere in time",
            vec![(900, 1_000)],
            vec![(900, 0, true)],
            1_500,
            Want::Send,
        ),
        (
            "a throttle that is over does not name the give-up",
            vec![(0, 1_000)],
            vec![(0, 200, false)],
            1_000,
            Want::GiveUp(0, 1_000, None),
        ),
        (
            "an endless throttle with a budget that never runs out: the throttle",
            vec![(0, never)],
            vec![(0, i32::MAX, false)],
            0,
            Want::WaitUntil(i32::MAX as u64),
        ),
        (
            "no partitions: only the pacing counts",
            vec![],
            vec![(0, 0, false)],
            0,
            Want::WaitUntil(100),
        ),
    ];
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    for (what, budgets, answers, asked, want) in rows {
        let budgets: Vec<Budget> = budgets
            .iter()
            .map(|&(since, timeout)| Budget::new(at(since), Duration::from_millis(timeout)))
            .collect();
        let mut p = pacer();
        for &(when, throttle, progress) in &answers {
            p.answered(at(when), throttle, progress);
        }
        let got = match p.next(at(asked), &budgets) {
            Pace::Send => Want::Send,
            Pace::WaitUntil(t) => Want::WaitUntil((t - t0).as_millis() as u64),
            Pace::GiveUp(g) => Want::GiveUp(g.at, g.elapsed.as_millis() as u64, g.throttled_ms),
        };
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn the_throttle_in_force_is_reported_until_it_ends() {
    let t0 = Instant::now();
    let mut p = pacer();
    assert_eq!(p.throttled(t0), None);
    p.answered(t0, 250, false);
    assert_eq!(p.throttled(t0), Some(250));
    assert_eq!(p.throttled(t0 + Duration::from_millis(249)), Some(250));
    assert_eq!(p.throttled(t0 + Duration::from_millis(250)), None);
}

#[test]
fn a_throttle_or_backoff_too_long_for_an_instant_saturates() {
    // `Instant + Duration` panics past the representable; here it means "never".
    let t0 = Instant::now();
    let mut p = Pacer::new(Backoff::with_rng(
        Duration::MAX,
        Duration::MAX,
        Box::new(|| 3999),
    ));
    p.answered(t0, i32::MAX, false);
    let never = [Budget::new(t0, Duration::MAX)];
    assert_eq!(
        p.next(t0, &never),
        Pace::WaitUntil(t0 + crate::backoff::NEVER)
    );
}
