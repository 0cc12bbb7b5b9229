//! One partition's fetch position and what the fetch loops know about it.

use std::sync::Arc;
use std::time::Instant;

use crate::backoff::Budget;

/// One partition's fetch state. It travels with the partition from loop to loop when its
/// leader moves, so its position, its epochs and its time budget survive the move.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    /// Index of the partition in the run's plan (the engine's partition index).
    pub idx: usize,
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// The fetch cursor: the offset after the last complete batch handed to the engine.
    pub next: i64,
    /// The range end (exclusive).
    pub end: i64,
    /// Leader epoch from the latest Metadata (sent as `current_leader_epoch`, KIP-320).
    pub leader_epoch: i32,
    /// Leader epoch of the last batch handed on (sent as `last_fetched_epoch`).
    pub last_epoch: i32,
    /// No progress for `timeout` since this fails the run.
    pub budget: Budget,
    /// The last reason it did not progress, for the error when the budget runs out.
    pub cause: Cause,
    /// Reroutes since its last progress (paces metadata refreshes for it).
    pub reroutes: u32,
}

impl Cursor {
    /// Done: the position reached the end (never "the last record was seen").
    pub(crate) fn done(&self) -> bool {
        self.next >= self.end
    }

    /// Progress: move the position, restart the budget.
    pub(crate) fn advance(&mut self, next: i64, last_epoch: i32, now: Instant) {
        self.next = next;
        if last_epoch >= 0 {
            self.last_epoch = last_epoch;
        }
        self.budget.progress(now);
        self.cause = Cause::None;
        self.reroutes = 0;
    }
}

/// Why a partition is not progressing right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Nothing yet.
    None,
    /// A Kafka error code (by name).
    Kafka(&'static str),
    /// The connection to its broker failed.
    Connection(String),
    /// The leader's high watermark (or LSO) is at or below the fetch position although the
    /// range goes further: a new leader catching up, or a truncated log.
    StableBehind {
        /// The stable end the broker reported.
        stable: i64,
    },
    /// Data came back but no complete batch past the position.
    NoProgress {
        /// Bytes returned.
        bytes: usize,
    },
    /// Metadata names no leader, or no reachable broker answered Metadata.
    NoLeader(String),
    /// The topic is missing from Metadata.
    TopicMissing,
    /// The broker asked us to wait.
    Throttled {
        /// Its throttle time.
        ms: i32,
    },
    /// The broker suggested a follower to read from (KIP-392); kbatch reads from leaders.
    PreferredReplica(i32),
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::None => write!(f, "no response yet"),
            Cause::Kafka(name) => write!(f, "{name}"),
            Cause::Connection(e) => write!(f, "{e}"),
            Cause::StableBehind { stable } => {
                write!(f, "the leader's high watermark / last stable offset {stable} stayed at or below the fetch position")
            }
            Cause::NoProgress { bytes } => {
                write!(
                    f,
                    "no complete batch past the fetch position ({bytes} bytes returned)"
                )
            }
            Cause::NoLeader(why) => write!(f, "no leader: {why}"),
            Cause::TopicMissing => write!(f, "the topic is missing from metadata (deleted?)"),
            Cause::Throttled { ms } => write!(f, "throttled by the broker for {ms} ms"),
            Cause::PreferredReplica(n) => {
                write!(f, "the broker keeps redirecting to follower {n} (KIP-392), which kbatch does not follow")
            }
        }
    }
}
