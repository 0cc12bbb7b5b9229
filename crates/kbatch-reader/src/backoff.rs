//! Retry pacing: exponential backoff with jitter, and the "no progress for `timeout`" budget.
//!
//! Jitter keeps many partitions (and many kbatch processes) that failed together from
//! retrying in lockstep against a broker that is coming back. The random source is injected
//! so tests can pin it; by default it is seeded from the OS's entropy (std's `RandomState`
//! keys come from the OS), not from a clock, whose low bits between two reads barely vary.
//!
//! Durations here come from the user (`--timeout`, `retry.backoff.ms`) or the broker
//! (`throttle_time_ms`), so the arithmetic saturates: a time too far away to represent means
//! "never", not a panic.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// The clock the fetch drivers pace themselves by: tokio's, so a test on a paused runtime
/// (`start_paused`) runs budgets, throttles and backoffs in virtual time. Outside a runtime,
/// or on one not paused, it is the monotonic clock.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// How far away "never" is: beyond any run, and far enough below the largest `Instant` that
/// a timer can still add to it (tokio rounds a deadline up by a millisecond with a plain `+`).
pub(crate) const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `from + d`, with `d` capped at [`NEVER`]: a timeout or a throttle of centuries means
/// "never", where `Instant + Duration` would panic.
pub(crate) fn saturating_add(from: Instant, d: Duration) -> Instant {
    let mut d = d.min(NEVER);
    loop {
        if let Some(t) = from.checked_add(d) {
            return t; // `d` reaches zero within 96 halvings, and `from + 0` is `from`
        }
        d /= 2;
    }
}

/// A source of random `u64`s for jitter.
pub(crate) type Rng = Box<dyn FnMut() -> u64 + Send>;

/// A xorshift generator seeded from the OS's entropy.
pub(crate) fn entropy_rng() -> Rng {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    let mut s = h.finish() | 1;
    Box::new(move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    })
}

/// Exponential backoff: `first`, doubling up to `max`, each step scaled by a random factor in
/// [0.8, 1.2).
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
    rng: Rng,
}

impl std::fmt::Debug for Backoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backoff").field("next", &self.next).finish()
    }
}

impl Backoff {
    /// Backoff from `first` up to `max`, jittered from the OS's entropy.
    pub(crate) fn new(first: Duration, max: Duration) -> Backoff {
        Backoff::with_rng(first, max, entropy_rng())
    }

    /// Backoff with an injected random source (tests).
    pub(crate) fn with_rng(first: Duration, max: Duration, rng: Rng) -> Backoff {
        Backoff {
            first,
            max: max.max(first),
            next: first,
            rng,
        }
    }

    /// Back to the first step (after progress).
    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }

    /// The delay before try `attempt` (0-based) of a sequence this backoff does not track
    /// itself: `first × 2^attempt`, capped, jittered.
    pub(crate) fn delay_for(&mut self, attempt: u32) -> Duration {
        let base = self
            .first
            .checked_mul(1u32 << attempt.min(16))
            .unwrap_or(self.max)
            .min(self.max);
        self.jittered(base)
    }

    /// `d` scaled by a random factor in [0.8, 1.2), saturating (`Duration::mul_f64` panics
    /// past `Duration::MAX`, which a user's maximum backoff may approach).
    fn jittered(&mut self, d: Duration) -> Duration {
        let factor = 0.8 + ((self.rng)() % 4000) as f64 / 10_000.0;
        Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
    }

    /// The next delay; the one after it doubles.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.jittered(self.next);
        self.next = self.next.saturating_mul(2).min(self.max);
        d
    }
}

/// The time budget of one step: it fails once `timeout` has passed since the last progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    since: Instant,
    timeout: Duration,
}

impl Budget {
    /// A budget running from `now`.
    pub(crate) fn new(now: Instant, timeout: Duration) -> Budget {
        Budget {
            since: now,
            timeout,
        }
    }

    /// Progress: the whole budget again.
    pub(crate) fn progress(&mut self, now: Instant) {
        self.since = now;
    }

    /// Time the step could not have used (waiting on the consumer) does not count.
    pub(crate) fn extend(&mut self, by: Duration, now: Instant) {
        self.since = saturating_add(self.since, by).min(now);
    }

    /// When it runs out: saturated, so a timeout too long to represent as an instant is a
    /// deadline that never comes rather than a panic.
    pub(crate) fn deadline(&self) -> Instant {
        saturating_add(self.since, self.timeout)
    }

    /// `Some(elapsed)` once it ran out at `now`.
    pub(crate) fn exhausted(&self, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.since);
        (elapsed >= self.timeout).then_some(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(values: Vec<u64>) -> Rng {
        let mut i = 0;
        Box::new(move || {
            let v = values[i % values.len()];
            i += 1;
            v
        })
    }

    #[test]
    fn doubles_up_to_the_cap_with_jitter_in_range() {
        // rng 0 → factor 0.8; 3999 → 1.1999.
        let mut b = Backoff::with_rng(
            Duration::from_millis(100),
            Duration::from_secs(2),
            fixed(vec![0, 3999]),
        );
        let got: Vec<u128> = (0..7).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, vec![80, 239, 320, 959, 1280, 2399, 1600]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 119); // back to 100 ms (rng 3999 next)
                                                     // delay_for: attempt n → first × 2^n, capped, with the same jitter.
        let mut b = Backoff::with_rng(
            Duration::from_millis(100),
            Duration::from_secs(2),
            fixed(vec![0]),
        );
        let got: Vec<u128> = [0, 1, 4, 5, 40]
            .iter()
            .map(|&n| b.delay_for(n).as_millis())
            .collect();
        assert_eq!(got, vec![80, 160, 1280, 1600, 1600]);
    }

    #[test]
    fn entropy_seeds_differ() {
        // Two generators made back to back must not replay one sequence (the old seed, a
        // clock read, nearly always did).
        let (mut a, mut b) = (entropy_rng(), entropy_rng());
        let sa: Vec<u64> = (0..4).map(|_| a()).collect();
        let sb: Vec<u64> = (0..4).map(|_| b()).collect();
        assert_ne!(sa, sb);
        let mut j = Backoff::new(Duration::from_millis(1000), Duration::from_secs(2));
        let d = j.next_delay();
        assert!(
            d >= Duration::from_millis(800) && d < Duration::from_millis(1200),
            "{d:?}"
        );
    }

    #[test]
    fn budget_restarts_on_progress() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0, Duration::from_secs(10));
        assert_eq!(b.exhausted(t0 + Duration::from_secs(9)), None);
        assert_eq!(
            b.exhausted(t0 + Duration::from_secs(10)),
            Some(Duration::from_secs(10))
        );
        b.progress(t0 + Duration::from_secs(9));
        assert_eq!(b.exhausted(t0 + Duration::from_secs(18)), None);
        assert_eq!(b.deadline(), t0 + Duration::from_secs(19));
        // 5 s blocked on a slow consumer do not count; never beyond now.
        b.extend(Duration::from_secs(5), t0 + Duration::from_secs(20));
        assert_eq!(b.deadline(), t0 + Duration::from_secs(24));
        b.extend(Duration::from_secs(60), t0 + Duration::from_secs(20));
        assert_eq!(b.deadline(), t0 + Duration::from_secs(30));
    }

    #[test]
    fn a_timeout_too_long_for_an_instant_is_a_deadline_that_never_comes() {
        // `Instant + Duration::MAX` panics; the budget saturates instead.
        let t0 = Instant::now();
        let mut b = Budget::new(t0, Duration::MAX);
        let far = b.deadline();
        assert_eq!(far, t0 + NEVER);
        assert_eq!(b.exhausted(t0 + Duration::from_secs(1 << 40)), None);
        b.extend(Duration::MAX, t0 + Duration::from_secs(5));
        assert_eq!(b.exhausted(t0 + Duration::from_secs(6)), None);
        // saturating_add: exact when it fits, never below `from`, never a panic.
        let d = Duration::from_millis(1500);
        assert_eq!(saturating_add(t0, d), t0 + d);
        assert_eq!(saturating_add(t0, Duration::MAX), far);
        assert_eq!(saturating_add(t0, Duration::ZERO), t0);
    }

    /// The longest duration that can be added to `from` (found by bisection).
    fn longest_addable(from: Instant) -> Duration {
        let (mut ok, mut too_far) = (Duration::ZERO, Duration::MAX);
        while too_far - ok > Duration::from_nanos(1) {
            let mid = ok + (too_far - ok) / 2;
            if from.checked_add(mid).is_some() {
                ok = mid;
            } else {
                too_far = mid;
            }
        }
        ok
    }

    #[tokio::test(start_paused = true)]
    async fn never_is_a_deadline_the_timer_accepts() {
        // tokio adds a millisecond to a deadline with a plain `+`: a timeout that just fits in
        // an `Instant` must not become a deadline the timer overflows on. Paused clock: the
        // timeout below elapses in virtual time.
        let t0 = now();
        let edge = longest_addable(t0);
        for d in [edge, Duration::MAX] {
            let never = saturating_add(t0, d);
            assert_eq!(never, t0 + NEVER);
            let slept = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::time::sleep_until(tokio::time::Instant::from_std(never)),
            )
            .await;
            assert!(slept.is_err(), "woke before never");
        }
    }

    #[test]
    fn a_backoff_near_duration_max_saturates() {
        // rng 3999 → factor 1.1999: jitter above 1 on `Duration::MAX`, and doubling it, used
        // to panic in `mul_f64` and `Duration * 2`.
        let mut b = Backoff::with_rng(Duration::MAX / 3, Duration::MAX, fixed(vec![3999]));
        for _ in 0..4 {
            assert!(b.next_delay() >= Duration::MAX / 3);
        }
        assert_eq!(b.delay_for(40), Duration::MAX);
        let mut b = Backoff::with_rng(Duration::MAX, Duration::MAX, fixed(vec![0]));
        let d = b.next_delay();
        assert!(d < Duration::MAX && d > Duration::MAX / 2, "{d:?}");
    }
}
