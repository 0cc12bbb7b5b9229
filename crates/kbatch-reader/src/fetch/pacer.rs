//! When a fetch loop may ask its broker again, decided without a clock.
//!
//! Three things hold a request back: the broker's throttle (KIP-219: no request to it before
//! `throttle_time_ms` elapses), the backoff after an answer that moved no partition (so a
//! broker that keeps answering "nothing yet" or a retriable error is not asked in a hot loop),
//! and the partitions' no-progress budgets, which end the waiting with an error. The
//! [`Pacer`] holds the first two and reads the third from the cursors (a budget travels with
//! its partition from loop to loop, so it is not the pacer's to keep). Time is an input: every
//! method takes `now`, and the fetch loop only sleeps until the instant it is told, so the
//! decisions are table-tested without sleeping.

use std::time::{Duration, Instant};

use crate::backoff::{saturating_add, Backoff, Budget};

/// What the fetch loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pace {
    /// Send the next Fetch now.
    Send,
    /// Nothing may go out before this instant (a throttle or a backoff, cut short by the
    /// earliest budget); ask again then.
    WaitUntil(Instant),
    /// A partition's budget ran out: fail the run naming it.
    GiveUp(GiveUp),
}

/// Which budget ran out, and what to say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GiveUp {
    /// Position, among the budgets given, of the first that ran out.
    pub at: usize,
    /// How long that partition went without progress.
    pub elapsed: Duration,
    /// The broker's throttle (as it said it, in ms) when one was still in force: then the
    /// throttle is what kept the partition back, whatever it last saw.
    pub throttled_ms: Option<i32>,
}

/// A broker's throttle: no request before `until`.
#[derive(Debug, Clone, Copy)]
struct Throttle {
    until: Instant,
    ms: i32,
}

/// One fetch loop's pacing state.
#[derive(Debug)]
pub(crate) struct Pacer {
    backoff: Backoff,
    throttle: Option<Throttle>,
    /// After an answer without progress: not before this.
    rest_until: Option<Instant>,
}

impl Pacer {
    /// A pacer that backs off with `backoff` after answers without progress.
    pub(crate) fn new(backoff: Backoff) -> Pacer {
        Pacer {
            backoff,
            throttle: None,
            rest_until: None,
        }
    }

    /// The broker answered at `now`, throttling for `throttle_ms` (≤ 0: not at all);
    /// `progress`: some partition moved. Progress resets the backoff; an answer without it
    /// starts the next backoff step. Both count from `now`, saturating.
    pub(crate) fn answered(&mut self, now: Instant, throttle_ms: i32, progress: bool) {
        self.throttle = u64::try_from(throttle_ms)
            .ok()
            .filter(|&ms| ms > 0)
            .map(|ms| Throttle {
                until: saturating_add(now, Duration::from_millis(ms)),
                ms: throttle_ms,
            });
        if progress {
            self.backoff.reset();
            self.rest_until = None;
        } else {
            self.rest_until = Some(saturating_add(now, self.backoff.next_delay()));
        }
    }

    /// The throttle in force at `now`, in ms as the broker said it.
    pub(crate) fn throttled(&self, now: Instant) -> Option<i32> {
        self.throttle.filter(|t| t.until > now).map(|t| t.ms)
    }

    /// What to do at `now`, given the budgets of the loop's partitions:
    ///
    /// | a budget ran out at `now` | throttle or backoff ends after `now` | decision |
    /// |---|---|---|
    /// | yes (the first one) | either | `GiveUp` (with the throttle if still in force) |
    /// | no | yes, at T | `WaitUntil(min(T, earliest budget deadline))` |
    /// | no | no | `Send` |
    ///
    /// T is the later of the throttle's end and the backoff's: both must pass.
    pub(crate) fn next<'a>(
        &self,
        now: Instant,
        budgets: impl IntoIterator<Item = &'a Budget>,
    ) -> Pace {
        let mut earliest: Option<Instant> = None;
        for (at, b) in budgets.into_iter().enumerate() {
            if let Some(elapsed) = b.exhausted(now) {
                return Pace::GiveUp(GiveUp {
                    at,
                    elapsed,
                    throttled_ms: self.throttled(now),
                });
            }
            let d = b.deadline();
            earliest = Some(earliest.map_or(d, |e| e.min(d)));
        }
        let not_before = self
            .throttle
            .map(|t| t.until)
            .into_iter()
            .chain(self.rest_until)
            .max();
        match not_before {
            Some(t) if t > now => Pace::WaitUntil(earliest.map_or(t, |e| e.min(t))),
            _ => Pace::Send,
        }
    }
}

#[cfg(test)]
mod tests;
