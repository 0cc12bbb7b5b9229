//! The fetch policy: what to do with one Fetch response, decided without I/O.
//!
//! The drivers in [`super::driver`] send requests and sleep; every decision about a response
//! — which partitions it really answers, what an error code means, whether data moves the
//! cursor, whether the log was truncated under us — is made here, by pure functions over the
//! cursor and the response, so table-driven tests can replay what a broker would rarely do
//! on cue (duplicate or unrequested partitions, HWM regression, diverging epochs).

use kbatch_engine::Work;
use kbatch_records::AbortedTxn;
use kbatch_wire::{
    codes, kafka_code, ErrorClass, FetchPartitionResponse, FetchResponse, WireError,
};

use super::cursor::{Cause, Cursor};
use crate::ReadError;

/// What to do with one partition after a response.
#[derive(Debug)]
pub(crate) enum Step {
    /// Hand `work` to the engine and move the cursor.
    Deliver {
        /// The complete, CRC-checked batches of the copy of the partition that was judged, with
        /// that copy's aborted transactions: the bytes delivered are the bytes walked.
        work: Work,
        /// The fetch cursor after them.
        next: i64,
        /// Leader epoch of the last of them.
        last_epoch: i32,
    },
    /// Nothing to deliver, nothing wrong yet: ask again (after a backoff if nothing else
    /// progressed). The budget runs.
    Wait(Cause),
    /// A retriable error on this broker: back off and ask it again.
    Retry(Cause),
    /// Leadership moved (or the broker lost it): refresh metadata and follow the leader.
    Reroute(Cause),
    /// Stop the run with this error.
    Fail(ReadError),
}

/// What the policy needs to know besides the cursor and the response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// The broker that answered (for messages).
    pub broker: &'a str,
    /// 1: read_committed (the end is the last stable offset), 0: read_uncommitted.
    pub isolation_level: i8,
}

/// Decide every partition of `resp`, answering the fetch that asked `asked` (cursor index,
/// fetch offset). Partitions asked but absent from the response are not mentioned (nothing
/// happened to them). A partition listed twice counts once: its first copy decides the step
/// and is the one delivered (bytes and aborted list), the others are ignored whatever they
/// hold. One never asked is a protocol violation.
pub(crate) fn response_steps(
    cursors: &[Cursor],
    asked: &[(usize, i64)],
    resp: &FetchResponse,
    ctx: Ctx<'_>,
) -> Result<Vec<(usize, Step)>, ReadError> {
    if resp.error_code != codes::NONE {
        let k = kafka_code(resp.error_code);
        let each = |make: fn(Cause) -> Step| {
            asked
                .iter()
                .map(|&(idx, _)| (idx, make(Cause::Kafka(k.name))))
                .collect()
        };
        return match k.class {
            ErrorClass::LeaderMoved => Ok(each(Step::Reroute)),
            ErrorClass::Retriable => Ok(each(Step::Retry)),
            _ => Err(WireError::Kafka {
                addr: ctx.broker.to_string(),
                api: "Fetch",
                code: resp.error_code,
                name: k.name,
            }
            .into()),
        };
    }
    let mut out: Vec<(usize, Step)> = Vec::new();
    for (topic, parts) in &resp.topics {
        for p in parts {
            let asked_at = cursors
                .iter()
                .find(|c| *c.topic == **topic && c.partition == p.partition)
                .and_then(|c| {
                    asked
                        .iter()
                        .find(|(i, _)| *i == c.idx)
                        .map(|&(_, off)| (c, off))
                });
            let Some((c, off)) = asked_at else {
                return Err(WireError::Protocol {
                    addr: ctx.broker.to_string(),
                    reason: format!(
                        "Fetch response carries {topic}/{}, which was not requested",
                        p.partition
                    ),
                }
                .into());
            };
            if out.iter().any(|(i, _)| *i == c.idx) {
                // The same partition twice in one response: the first answer counts, the
                // copy would hand the same offsets out twice. Nothing of it is used, not even
                // its aborted list: the step below carries the first copy's own bytes.
                tracing::debug!(broker = ctx.broker, %topic, partition = p.partition, "duplicate partition in a Fetch response ignored");
                continue;
            }
            if off != c.next {
                continue; // answers a position the cursor already left
            }
            out.push((c.idx, partition_step(c, p, ctx)));
        }
    }
    Ok(out)
}

/// Decide one partition's part of a response.
pub(crate) fn partition_step(c: &Cursor, p: &FetchPartitionResponse, ctx: Ctx<'_>) -> Step {
    match kafka_code(p.error_code) {
        k if k.class == ErrorClass::None => {}
        k if k.code == codes::OFFSET_OUT_OF_RANGE => {
            let (from, until) = if p.log_start_offset > c.next {
                (c.next, p.log_start_offset.min(c.end))
            } else {
                (p.high_watermark.max(c.next), c.end)
            };
            return Step::Fail(ReadError::MissingRange {
                topic: c.topic.to_string(),
                partition: c.partition,
                from,
                until,
                log_start: p.log_start_offset,
                hwm: p.high_watermark,
            });
        }
        k => {
            return match k.class {
                ErrorClass::LeaderMoved => Step::Reroute(Cause::Kafka(k.name)),
                ErrorClass::Retriable => Step::Retry(Cause::Kafka(k.name)),
                _ => Step::Fail(ReadError::Kafka {
                    topic: Some(c.topic.to_string()),
                    partition: Some(c.partition),
                    broker: None,
                    what: "Fetch",
                    code: k.code,
                    code_name: k.name,
                }),
            };
        }
    }
    if let Some((epoch, end_offset)) = p.diverging_epoch {
        // KIP-320: the leader's log for our last fetched epoch ends below what we already
        // handed on. Re-reading from there would count other records at the same offsets.
        return Step::Fail(ReadError::Truncated {
            topic: c.topic.to_string(),
            partition: c.partition,
            offset: c.next,
            broker: ctx.broker.to_string(),
            detail: format!(
                "the leader's epoch {epoch} ends at offset {end_offset}, below the {} already read (last fetched epoch {})",
                c.next, c.last_epoch
            ),
        });
    }
    if p.preferred_read_replica >= 0 {
        // Only sent to clients that give a rack id, which kbatch does not; records that come
        // with the hint are not trusted to be the leader's.
        return Step::Wait(Cause::PreferredReplica(p.preferred_read_replica));
    }
    let walk = match kbatch_records::walk(&p.records, true) {
        Ok(w) => w,
        Err(source) => {
            return Step::Fail(ReadError::Decode {
                topic: c.topic.to_string(),
                partition: c.partition,
                broker: ctx.broker.to_string(),
                source,
            })
        }
    };
    match walk.next_offset {
        Some(next) if next > c.next && walk.complete_len > 0 => Step::Deliver {
            work: Work {
                partition: c.idx,
                // `walk` counted complete batches of these very bytes: in range.
                bytes: p.records.slice(..walk.complete_len),
                aborted: p
                    .aborted_transactions
                    .iter()
                    .map(|&(producer_id, first_offset)| AbortedTxn {
                        producer_id,
                        first_offset,
                    })
                    .collect(),
            },
            next,
            last_epoch: walk.last_epoch,
        },
        _ => {
            let stable = if ctx.isolation_level == 1 && p.last_stable_offset >= 0 {
                p.last_stable_offset
            } else {
                p.high_watermark
            };
            if p.records.is_empty() && stable >= 0 && stable <= c.next {
                // The range was planned to go further: a new leader whose high watermark
                // still lags, or a truncated log. Wait within the budget; if it never comes
                // back, the budget's error says "truncated".
                Step::Wait(Cause::StableBehind { stable })
            } else {
                Step::Wait(Cause::NoProgress {
                    bytes: p.records.len(),
                })
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
