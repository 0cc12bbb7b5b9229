//! Planning a read: Metadata → ListOffsets → one `[start, end)` range per partition.
//!
//! `latest` is resolved once, here, so a run is bounded even while producers keep writing.
//! Under read_committed it is the last stable offset (ListOffsets with isolation_level 1);
//! under read_uncommitted the high watermark.
//!
//! Planning is a few steps (Metadata, then ListOffsets for earliest, high watermark, last
//! stable offset and any timestamps), each retried on its own within `Config::timeout` when a
//! broker fails or leadership moves (with the leaders looked up again), so a fault that
//! recurs every few requests cannot keep the whole plan from ever completing.
//! What brokers answer is checked before it becomes a range: offsets are non-negative and
//! `earliest ≤ last stable ≤ high watermark`, or the broker is named in a protocol error.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use kbatch_records::Isolation;
use kbatch_wire::{codes, kafka_code, ListOffsetsRequest, MetadataResponse, WireError};

use crate::backoff::{Backoff, Budget};
use crate::client::Client;
use crate::{Config, Position, ReadError, ReadSpec};

/// What a partition holds right now, and who leads it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionOffsets {
    /// Topic.
    pub topic: String,
    /// Partition id.
    pub partition: i32,
    /// Leader's node id.
    pub leader: i32,
    /// Log start offset.
    pub earliest: i64,
    /// High watermark.
    pub latest: i64,
    /// Last stable offset (≤ high watermark; below it while a transaction is open).
    pub last_stable: i64,
}

/// One partition's planned range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionPlan {
    /// The range, as the engine sees it.
    pub spec: kbatch_engine::PartitionSpec,
    /// Leader node id when planned.
    pub leader: i32,
    /// Leader epoch when planned (sent with fetches so a stale leader is detected).
    pub leader_epoch: i32,
    /// The topic's id when planned (all zero from brokers without topic ids): a topic deleted
    /// and created again under the same name gets a new one.
    pub topic_id: [u8; 16],
}

/// One selected partition: topic, partition, leader, leader epoch, topic id.
pub(crate) type Selected = (String, i32, i32, i32, [u8; 16]);

const EARLIEST: i64 = -2;
const LATEST: i64 = -1;

/// Topic partitions to read, with their leaders, in (topic order given, partition) order.
pub(crate) fn select(meta: &MetadataResponse, spec: &ReadSpec) -> Result<Vec<Selected>, ReadError> {
    let mut out = Vec::new();
    for topic in &spec.topics {
        let t = meta
            .topics
            .iter()
            .find(|t| &t.name == topic)
            .ok_or_else(|| ReadError::UnknownTopic {
                topic: topic.clone(),
            })?;
        if t.error_code == codes::UNKNOWN_TOPIC_OR_PARTITION
            || t.error_code == codes::UNKNOWN_TOPIC_ID
        {
            return Err(ReadError::UnknownTopic {
                topic: topic.clone(),
            });
        }
        if t.error_code != codes::NONE {
            return Err(ReadError::Kafka {
                topic: Some(topic.clone()),
                partition: None,
                broker: None,
                what: "Metadata",
                code: t.error_code,
                code_name: kafka_code(t.error_code).name,
            });
        }
        let mut parts: Vec<_> = t.partitions.iter().collect();
        parts.sort_by_key(|p| p.partition);
        let wanted: Vec<i32> = match &spec.partitions {
            Some(ps) => {
                for p in ps {
                    if !parts.iter().any(|q| q.partition == *p) {
                        return Err(ReadError::UnknownPartition {
                            topic: topic.clone(),
                            partition: *p,
                            count: parts.len(),
                        });
                    }
                }
                ps.clone()
            }
            None => parts.iter().map(|p| p.partition).collect(),
        };
        for p in parts {
            if wanted.contains(&p.partition) {
                if p.leader < 0 || p.error_code != codes::NONE {
                    // Leaderless right now (an election under way): planning is retried.
                    let code = if p.error_code == codes::NONE {
                        codes::LEADER_NOT_AVAILABLE
                    } else {
                        p.error_code
                    };
                    return Err(ReadError::Kafka {
                        topic: Some(topic.clone()),
                        partition: Some(p.partition),
                        broker: None,
                        what: "Metadata",
                        code,
                        code_name: kafka_code(code).name,
                    });
                }
                out.push((
                    topic.clone(),
                    p.partition,
                    p.leader,
                    p.leader_epoch,
                    t.topic_id,
                ));
            }
        }
    }
    Ok(out)
}

/// Ask every leader for the given timestamp of each of its partitions; returns offsets keyed by
/// (topic, partition). `-1` offsets (no record at or after a timestamp) are passed through.
pub(crate) async fn list_offsets<C: Client>(
    client: &C,
    parts: &[Selected],
    isolation_level: i8,
    timestamp_of: impl Fn(&str, i32) -> Option<i64>,
) -> Result<BTreeMap<(String, i32), i64>, ReadError> {
    let mut by_leader: BTreeMap<i32, BTreeMap<String, Vec<(i32, i64)>>> = BTreeMap::new();
    for (topic, partition, leader, _, _) in parts {
        if let Some(ts) = timestamp_of(topic, *partition) {
            by_leader
                .entry(*leader)
                .or_default()
                .entry(topic.clone())
                .or_default()
                .push((*partition, ts));
        }
    }
    let mut out = BTreeMap::new();
    for (leader, topics) in by_leader {
        let req = ListOffsetsRequest {
            isolation_level,
            topics: topics.into_iter().collect(),
        };
        let resp = client.list_offsets(leader, &req).await?;
        for (topic, ps) in resp.topics {
            for p in ps {
                if p.error_code != codes::NONE {
                    return Err(ReadError::Kafka {
                        topic: Some(topic),
                        partition: Some(p.partition),
                        broker: None,
                        what: "ListOffsets",
                        code: p.error_code,
                        code_name: kafka_code(p.error_code).name,
                    });
                }
                out.insert((topic.clone(), p.partition), p.offset);
            }
        }
    }
    Ok(out)
}

/// Metadata, then the partitions of `spec` with their leaders: one step, retried.
pub(crate) async fn selected<C: Client>(
    client: &C,
    config: &Config,
    spec: &ReadSpec,
) -> Result<Vec<Selected>, ReadError> {
    retrying(config, || async {
        let meta = client.metadata(&spec.topics).await?;
        select(&meta, spec)
    })
    .await
}

/// One ListOffsets step ([`list_offsets`]), retried on its own so the steps done before it
/// stand: after a failure (a leader that moved or died, a connection reset) the leaders are
/// looked up again before the next try. `parts` ends with the leaders that answered.
pub(crate) async fn list_offsets_step<C: Client>(
    client: &C,
    config: &Config,
    spec: &ReadSpec,
    parts: &mut Vec<Selected>,
    isolation_level: i8,
    timestamp_of: impl Fn(&str, i32) -> Option<i64>,
) -> Result<BTreeMap<(String, i32), i64>, ReadError> {
    let state = std::sync::Mutex::new((parts.clone(), true));
    let timestamp_of = &timestamp_of;
    let out = retrying(config, || async {
        let (mut ps, first) = state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !first {
            let meta = client.metadata(&spec.topics).await?;
            ps = select(&meta, spec)?;
        }
        let r = list_offsets(client, &ps, isolation_level, timestamp_of).await;
        *state.lock().unwrap_or_else(|e| e.into_inner()) = (ps, false);
        r
    })
    .await;
    *parts = state.into_inner().unwrap_or_else(|e| e.into_inner()).0;
    out
}

/// Earliest, high watermark and last stable offset of every selected partition.
///
/// Asked in that order — earliest, last stable, high watermark — so records written while
/// the three requests go out can only raise the later answers: `earliest ≤ LSO ≤ HWM` holds
/// on a live topic. A broker whose answers still break it is retried within the budget (a
/// new leader's high watermark may briefly lag the old leader's LSO) and then named in a
/// protocol error.
pub(crate) async fn offsets_of<C: Client>(
    client: &C,
    config: &Config,
    spec: &ReadSpec,
    parts: &mut Vec<Selected>,
) -> Result<Vec<PartitionOffsets>, ReadError> {
    let budget = Budget::new(Instant::now(), config.timeout);
    let mut backoff = Backoff::new(config.retry_backoff, config.retry_backoff_max);
    loop {
        let earliest =
            list_offsets_step(client, config, spec, parts, 0, |_, _| Some(EARLIEST)).await?;
        let lso = list_offsets_step(client, config, spec, parts, 1, |_, _| Some(LATEST)).await?;
        let hwm = list_offsets_step(client, config, spec, parts, 0, |_, _| Some(LATEST)).await?;
        match assemble(client, parts, &earliest, &hwm, &lso) {
            Err(e @ ReadError::Wire(WireError::Protocol { .. }))
                if budget.exhausted(Instant::now()).is_none() =>
            {
                tracing::debug!(error = %e, "inconsistent offsets; asking again");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            other => return other,
        }
    }
}

type Answers = BTreeMap<(String, i32), i64>;

fn assemble<C: Client>(
    client: &C,
    parts: &[Selected],
    earliest: &Answers,
    hwm: &Answers,
    lso: &Answers,
) -> Result<Vec<PartitionOffsets>, ReadError> {
    parts
        .iter()
        .map(|(t, p, leader, _, _)| {
            let broker = || client.broker_name(*leader);
            let get = |m: &Answers, what: &str| {
                m.get(&(t.to_string(), *p)).copied().ok_or_else(|| {
                    ReadError::Wire(WireError::Protocol {
                        addr: broker(),
                        reason: format!("ListOffsets ({what}) answer lacks {t}/{p}"),
                    })
                })
            };
            let o = PartitionOffsets {
                topic: t.clone(),
                partition: *p,
                leader: *leader,
                earliest: get(earliest, "earliest")?,
                latest: get(hwm, "latest")?,
                last_stable: get(lso, "last stable")?,
            };
            check_offsets(&o).map_err(|reason| {
                ReadError::Wire(WireError::Protocol {
                    addr: broker(),
                    reason,
                })
            })?;
            Ok(o)
        })
        .collect()
}

/// A broker's offsets for one partition must be ordered and non-negative; anything else
/// would turn into a negative or overflowing range downstream.
pub(crate) fn check_offsets(o: &PartitionOffsets) -> Result<(), String> {
    let ok = o.earliest >= 0 && o.earliest <= o.last_stable && o.last_stable <= o.latest;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "ListOffsets for {}/{} gave earliest {}, last stable {}, high watermark {}: not 0 ≤ earliest ≤ last stable ≤ high watermark",
            o.topic, o.partition, o.earliest, o.last_stable, o.latest
        ))
    }
}

/// Run `attempt` until it succeeds, fails for good, or `timeout` passes: what planning
/// steps do when a leader dies or moves between Metadata and ListOffsets.
pub(crate) async fn retrying<T, F, Fut>(config: &Config, mut attempt: F) -> Result<T, ReadError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ReadError>>,
{
    let budget = Budget::new(Instant::now(), config.timeout);
    let mut backoff = Backoff::new(config.retry_backoff, config.retry_backoff_max);
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retriable() => match budget.exhausted(Instant::now()) {
                Some(elapsed) => {
                    return Err(ReadError::PlanRetriesExhausted {
                        elapsed_ms: elapsed.as_millis() as u64,
                        last: Box::new(e),
                    })
                }
                None => {
                    tracing::debug!(error = %e, "planning failed; retrying with fresh metadata");
                    let wait = backoff.next_delay();
                    let left = budget.deadline().saturating_duration_since(Instant::now());
                    tokio::time::sleep(wait.min(left)).await;
                }
            },
            Err(e) => return Err(e),
        }
    }
}

/// Resolve `spec` into one range per partition.
pub(crate) async fn plan<C: Client>(
    client: &C,
    config: &Config,
    spec: &ReadSpec,
) -> Result<Vec<PartitionPlan>, ReadError> {
    let mut parts = selected(client, config, spec).await?;
    let offsets = offsets_of(client, config, spec, &mut parts).await?;
    let committed = config.isolation == Isolation::ReadCommitted;
    let ts_of = |bound: &crate::Bound| {
        let bound = bound.clone();
        move |t: &str, p: i32| match bound.position(t, p) {
            Position::Timestamp(ts) => Some(ts),
            _ => None,
        }
    };
    let level = config.isolation_level();
    let from_ts =
        list_offsets_step(client, config, spec, &mut parts, level, ts_of(&spec.from)).await?;
    let to_ts = list_offsets_step(client, config, spec, &mut parts, level, ts_of(&spec.to)).await?;

    let mut plans = Vec::with_capacity(parts.len());
    let mut topics: BTreeMap<String, Arc<str>> = BTreeMap::new();
    for ((topic, partition, leader, epoch, topic_id), o) in parts.iter().zip(&offsets) {
        let latest = if committed { o.last_stable } else { o.latest };
        let resolve = |pos: Position, ts: &BTreeMap<(String, i32), i64>, is_end: bool| match pos {
            Position::Earliest => Ok(o.earliest),
            Position::Latest => Ok(latest),
            Position::Timestamp(_) => {
                let off = ts.get(&(topic.clone(), *partition)).copied().unwrap_or(-1);
                Ok(if off < 0 { latest } else { off.min(latest) })
            }
            Position::Offset(off) => {
                if is_end && committed && off > o.last_stable && off <= o.latest {
                    return Err(ReadError::OpenTransaction {
                        topic: topic.clone(),
                        partition: *partition,
                        end: off,
                        lso: o.last_stable,
                        hwm: o.latest,
                    });
                }
                if off < o.earliest || off > latest {
                    return Err(ReadError::OffsetOutOfRange {
                        topic: topic.clone(),
                        partition: *partition,
                        offset: off,
                        earliest: o.earliest,
                        latest,
                    });
                }
                Ok(off)
            }
        };
        let start = resolve(spec.from.position(topic, *partition), &from_ts, false)?;
        let end = resolve(spec.to.position(topic, *partition), &to_ts, true)?;
        if start > end {
            return Err(ReadError::StartAfterEnd {
                topic: topic.clone(),
                partition: *partition,
                start,
                end,
            });
        }
        let name = topics
            .entry(topic.clone())
            .or_insert_with(|| Arc::from(topic.as_str()))
            .clone();
        plans.push(PartitionPlan {
            spec: kbatch_engine::PartitionSpec {
                topic: name,
                partition: *partition,
                start,
                end,
            },
            leader: *leader,
            leader_epoch: *epoch,
            topic_id: *topic_id,
        });
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_offsets_are_checked() {
        let o = |earliest, last_stable, latest| PartitionOffsets {
            topic: "t".into(),
            partition: 0,
            leader: 1,
            earliest,
            latest,
            last_stable,
        };
        // (earliest, LSO, HWM, accepted)
        let rows = [
            (0, 0, 0, true),
            (5, 7, 9, true),
            (5, 5, 5, true),
            (-1, 0, 10, false),
            (6, 5, 10, false),
            (0, 11, 10, false),
            (0, i64::MAX, i64::MIN, false),
        ];
        for (e, l, h, ok) in rows {
            let got = check_offsets(&o(e, l, h));
            assert_eq!(got.is_ok(), ok, "{e} {l} {h}: {got:?}");
        }
        let msg = check_offsets(&o(6, 5, 10)).unwrap_err();
        assert!(
            msg.contains("t/0 gave earliest 6, last stable 5, high watermark 10"),
            "{msg}"
        );
    }
}
