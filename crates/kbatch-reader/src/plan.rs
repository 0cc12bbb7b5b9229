//! Planning a read: Metadata → ListOffsets → one `[start, end)` range per partition.
//!
//! `latest` is resolved once, here, so a run is bounded even while producers keep writing.
//! Under read_committed it is the last stable offset (ListOffsets with isolation_level 1);
//! under read_uncommitted the high watermark.
//!
//! Planning is a few steps (Metadata, then ListOffsets for earliest, high watermark, last
//! stable offset and any timestamps), each retried on its own when a broker fails or
//! leadership moves (with the leaders looked up again), so a fault that recurs every few
//! requests cannot keep the whole plan from ever completing. All steps share one deadline,
//! `Config::timeout` after planning began: no request, connection setup or retry outlives it.
//!
//! A partition's offsets and its selection are planned as one [`Planned`], keyed by topic and
//! partition: a later step that looks the leaders up again (and may see partitions the topic
//! gained meanwhile) updates the leaders of the partitions planned, and nothing is ever
//! matched by position.
//! What brokers answer is checked before it becomes a range: offsets are non-negative and
//! `earliest ≤ last stable ≤ high watermark`, or the broker is named in a protocol error.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kbatch_records::Isolation;
use kbatch_wire::{codes, kafka_code, ListOffsetsRequest, MetadataResponse, WireError};
use tokio::time::Instant;

use crate::backoff::Backoff;
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

/// One selected partition, as Metadata named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selected {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// Leader's node id.
    pub(crate) leader: i32,
    pub(crate) leader_epoch: i32,
    /// All zero from brokers without topic ids.
    pub(crate) topic_id: [u8; 16],
}

impl Selected {
    fn key(&self) -> (String, i32) {
        (self.topic.clone(), self.partition)
    }
}

/// A partition's offsets together with the selection they were asked of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    pub(crate) selected: Selected,
    pub(crate) offsets: PartitionOffsets,
}

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
                out.push(Selected {
                    topic: topic.clone(),
                    partition: p.partition,
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    topic_id: t.topic_id,
                });
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
    for s in parts {
        if let Some(ts) = timestamp_of(&s.topic, s.partition) {
            by_leader
                .entry(s.leader)
                .or_default()
                .entry(s.topic.clone())
                .or_default()
                .push((s.partition, ts));
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

/// When planning that starts at `now` must be done.
pub(crate) fn deadline(now: Instant, config: &Config) -> Instant {
    // A timeout too large for the clock (the configuration refuses them) never runs out.
    now.checked_add(config.timeout)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

/// Metadata, then the partitions of `spec` with their leaders: one step, retried.
pub(crate) async fn selected<C: Client>(
    client: &C,
    config: &Config,
    spec: &ReadSpec,
    deadline: Instant,
) -> Result<Vec<Selected>, ReadError> {
    retrying(config, deadline, "Metadata", || async {
        let meta = client.metadata(&spec.topics).await?;
        select(&meta, spec)
    })
    .await
}

/// Leader, earliest, high watermark and last stable offset of each partition of `spec`:
/// selection and offsets within one deadline.
pub(crate) async fn offsets<C: Client>(
    client: &C,
    config: &Config,
    spec: &ReadSpec,
) -> Result<Vec<PartitionOffsets>, ReadError> {
    let deadline = deadline(Instant::now(), config);
    let mut parts = selected(client, config, spec, deadline).await?;
    let planned = offsets_of(client, config, spec, &mut parts, deadline).await?;
    Ok(planned.into_iter().map(|p| p.offsets).collect())
}

/// One ListOffsets step ([`list_offsets`]), retried on its own so the steps done before it
/// stand: after a failure (a leader that moved or died, a connection reset) the leaders are
/// looked up again before the next try. `parts` ends with the leaders that answered.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn list_offsets_step<C: Client>(
    client: &C,
    config: &Config,
    spec: &ReadSpec,
    parts: &mut Vec<Selected>,
    deadline: Instant,
    what: &'static str,
    isolation_level: i8,
    timestamp_of: impl Fn(&str, i32) -> Option<i64>,
) -> Result<Answers, ReadError> {
    let state = std::sync::Mutex::new((parts.clone(), true));
    let timestamp_of = &timestamp_of;
    let out = retrying(config, deadline, what, || async {
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
    deadline: Instant,
) -> Result<Vec<Planned>, ReadError> {
    let mut backoff = Backoff::new(config.retry_backoff, config.retry_backoff_max);
    loop {
        let earliest = list_offsets_step(
            client,
            config,
            spec,
            parts,
            deadline,
            "ListOffsets (earliest)",
            0,
            |_, _| Some(EARLIEST),
        )
        .await?;
        let lso = list_offsets_step(
            client,
            config,
            spec,
            parts,
            deadline,
            "ListOffsets (last stable)",
            1,
            |_, _| Some(LATEST),
        )
        .await?;
        let hwm = list_offsets_step(
            client,
            config,
            spec,
            parts,
            deadline,
            "ListOffsets (latest)",
            0,
            |_, _| Some(LATEST),
        )
        .await?;
        match assemble(client, parts, &earliest, &hwm, &lso) {
            Err(e @ ReadError::Wire(WireError::Protocol { .. })) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "inconsistent offsets; asking again");
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(backoff.next_delay().min(left)).await;
            }
            other => return other,
        }
    }
}

/// ListOffsets answers of one step, keyed by (topic, partition).
type Answers = BTreeMap<(String, i32), i64>;

/// The answer for `s` in `m`, or a protocol error naming its leader: an answer that lacks a
/// partition asked for is never read as "none".
fn answer<C: Client>(client: &C, s: &Selected, m: &Answers, what: &str) -> Result<i64, ReadError> {
    m.get(&s.key()).copied().ok_or_else(|| {
        ReadError::Wire(WireError::Protocol {
            addr: client.broker_name(s.leader),
            reason: format!(
                "ListOffsets ({what}) answer lacks {}/{}",
                s.topic, s.partition
            ),
        })
    })
}

fn assemble<C: Client>(
    client: &C,
    parts: &[Selected],
    earliest: &Answers,
    hwm: &Answers,
    lso: &Answers,
) -> Result<Vec<Planned>, ReadError> {
    parts
        .iter()
        .map(|s| {
            let o = PartitionOffsets {
                topic: s.topic.clone(),
                partition: s.partition,
                leader: s.leader,
                earliest: answer(client, s, earliest, "earliest")?,
                latest: answer(client, s, hwm, "latest")?,
                last_stable: answer(client, s, lso, "last stable")?,
            };
            check_offsets(&o).map_err(|reason| {
                ReadError::Wire(WireError::Protocol {
                    addr: client.broker_name(s.leader),
                    reason,
                })
            })?;
            Ok(Planned {
                selected: s.clone(),
                offsets: o,
            })
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

/// Run `attempt` (the step `what`) until it succeeds, fails for good, or `deadline` passes:
/// what planning steps do when a leader dies or moves between Metadata and ListOffsets. An
/// attempt still waiting at the deadline (a broker that never answers, connections being set
/// up one after another) is given up there.
pub(crate) async fn retrying<T, F, Fut>(
    config: &Config,
    deadline: Instant,
    what: &'static str,
    mut attempt: F,
) -> Result<T, ReadError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ReadError>>,
{
    let began = Instant::now();
    let mut backoff = Backoff::new(config.retry_backoff, config.retry_backoff_max);
    let mut last = None;
    loop {
        let outcome = tokio::time::timeout_at(deadline, attempt()).await;
        let e = match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) if e.is_retriable() => e,
            Ok(Err(e)) => return Err(e),
            Err(_) => last.take().unwrap_or_else(|| {
                ReadError::Wire(WireError::Timeout {
                    addr: config.bootstrap.join(","),
                    api: what,
                    after: config.timeout,
                })
            }),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(ReadError::PlanRetriesExhausted {
                elapsed_ms: u64::try_from(now.saturating_duration_since(began).as_millis())
                    .unwrap_or(u64::MAX),
                last: Box::new(e),
            });
        }
        tracing::debug!(error = %e, "planning failed; retrying with fresh metadata");
        let wait = backoff
            .next_delay()
            .min(deadline.saturating_duration_since(now));
        last = Some(e);
        tokio::time::sleep(wait).await;
    }
}

/// Resolve `spec` into one range per partition.
pub(crate) async fn plan<C: Client>(
    client: &C,
    config: &Config,
    spec: &ReadSpec,
) -> Result<Vec<PartitionPlan>, ReadError> {
    let deadline = deadline(Instant::now(), config);
    let mut parts = selected(client, config, spec, deadline).await?;
    let planned = offsets_of(client, config, spec, &mut parts, deadline).await?;
    let committed = config.isolation == Isolation::ReadCommitted;
    let ts_of = |bound: &crate::Bound| {
        let bound = bound.clone();
        move |t: &str, p: i32| match bound.position(t, p) {
            Position::Timestamp(ts) => Some(ts),
            _ => None,
        }
    };
    let level = config.isolation_level();
    let (from, to) = ("ListOffsets (--from time)", "ListOffsets (--to time)");
    let from_ts = list_offsets_step(
        client,
        config,
        spec,
        &mut parts,
        deadline,
        from,
        level,
        ts_of(&spec.from),
    )
    .await?;
    let to_ts = list_offsets_step(
        client,
        config,
        spec,
        &mut parts,
        deadline,
        to,
        level,
        ts_of(&spec.to),
    )
    .await?;
    // The timestamp steps may have looked the leaders up again: fresher leaders for the
    // partitions planned. A partition the topic gained since its offsets were asked is not
    // part of this plan (its offsets were never asked).
    let fresh: BTreeMap<(String, i32), Selected> =
        parts.into_iter().map(|s| (s.key(), s)).collect();

    let mut plans = Vec::with_capacity(planned.len());
    let mut topics: BTreeMap<String, Arc<str>> = BTreeMap::new();
    for Planned {
        selected,
        offsets: o,
    } in &planned
    {
        let s = match fresh.get(&selected.key()) {
            Some(now) if now.topic_id != selected.topic_id => {
                return Err(ReadError::TopicChanged {
                    topic: selected.topic.clone(),
                    what: format!("recreated (topic id now {})", hex(&now.topic_id)),
                    planned: hex(&selected.topic_id),
                })
            }
            Some(now) => now,
            None => selected,
        };
        let (topic, partition) = (&s.topic, &s.partition);
        let latest = if committed { o.last_stable } else { o.latest };
        let resolve = |pos: Position, ts: &Answers, is_end: bool| match pos {
            Position::Earliest => Ok(o.earliest),
            Position::Latest => Ok(latest),
            Position::Timestamp(_) => {
                let what = if is_end { "--to time" } else { "--from time" };
                let off = answer(client, s, ts, what)?;
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
            leader: s.leader,
            leader_epoch: s.leader_epoch,
            topic_id: s.topic_id,
        });
    }
    Ok(plans)
}

fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use kbatch_wire::{
        BrokerMeta, FetchRequest, FetchResponse, ListOffsetsPartition, ListOffsetsResponse,
        PartitionMeta, TopicMeta,
    };

    use super::*;
    use crate::Bound;

    /// A planner's cluster held in memory: topics, their partitions' earliest and latest
    /// offsets (all led by node 1), and partitions that appear from a given Metadata call on.
    struct Scripted {
        /// (topic, partition, earliest, latest, from which Metadata call (1-based) it exists)
        partitions: Vec<(&'static str, i32, i64, i64, usize)>,
        /// ListOffsets calls (1-based) answered with a connection error.
        failing: Vec<usize>,
        /// Metadata is never answered (a broker that accepted the request and went silent).
        silent: bool,
        calls: Mutex<(usize, usize)>,
    }

    impl Client for Scripted {
        async fn metadata(&self, topics: &[String]) -> Result<MetadataResponse, WireError> {
            let call = {
                let mut c = self.calls.lock().unwrap();
                c.0 += 1;
                c.0
            };
            if self.silent {
                std::future::pending::<()>().await;
            }
            let topics = topics
                .iter()
                .map(|t| TopicMeta {
                    error_code: codes::NONE,
                    name: t.clone(),
                    topic_id: [1; 16],
                    is_internal: false,
                    partitions: self
                        .partitions
                        .iter()
                        .filter(|(topic, _, _, _, from)| topic == t && *from <= call)
                        .map(|&(_, partition, ..)| PartitionMeta {
                            error_code: codes::NONE,
                            partition,
                            leader: 1,
                            leader_epoch: 0,
                            replicas: vec![1],
                            isr: vec![1],
                        })
                        .collect(),
                })
                .collect();
            Ok(MetadataResponse {
                brokers: vec![BrokerMeta {
                    node_id: 1,
                    host: "scripted".into(),
                    port: 1,
                    rack: None,
                }],
                controller_id: 1,
                topics,
            })
        }

        async fn list_offsets(
            &self,
            _node: i32,
            req: &ListOffsetsRequest,
        ) -> Result<ListOffsetsResponse, WireError> {
            let call = {
                let mut c = self.calls.lock().unwrap();
                c.1 += 1;
                c.1
            };
            if self.failing.contains(&call) {
                return Err(WireError::Io {
                    addr: "scripted:1".into(),
                    reason: "connection reset".into(),
                });
            }
            let offset = |topic: &str, partition: i32, ts: i64| {
                let &(_, _, earliest, latest, _) = self
                    .partitions
                    .iter()
                    .find(|(t, p, ..)| *t == topic && *p == partition)
                    .expect("a partition Metadata named");
                match ts {
                    EARLIEST => earliest,
                    LATEST => latest,
                    // The first record at or after a time: 5 records into the partition.
                    _ => earliest + 5,
                }
            };
            Ok(ListOffsetsResponse {
                topics: req
                    .topics
                    .iter()
                    .map(|(t, ps)| {
                        let ps = ps
                            .iter()
                            .map(|&(partition, ts)| ListOffsetsPartition {
                                partition,
                                error_code: codes::NONE,
                                timestamp: -1,
                                offset: offset(t, partition, ts),
                                leader_epoch: 0,
                            })
                            .collect();
                        (t.clone(), ps)
                    })
                    .collect(),
            })
        }

        async fn fetch(&self, _: i32, _: &FetchRequest) -> Result<FetchResponse, WireError> {
            unreachable!("planning never fetches")
        }

        fn broker_name(&self, node: i32) -> String {
            format!("node {node}")
        }
    }

    /// Topic `a` gains a partition while the `--from` timestamp step is retried (its first
    /// ListOffsets is reset; the retry looks the leaders up again and sees `a/2`). Every
    /// partition planned keeps its own offsets: matched by position, `a/2` took `b/0`'s
    /// range and `b/0` was dropped without a word.
    #[tokio::test]
    async fn a_partition_added_during_a_timestamp_step_does_not_shift_ranges() {
        let client = Scripted {
            partitions: vec![
                ("a", 0, 0, 10, 1),
                ("a", 1, 100, 110, 1),
                ("a", 2, 200, 210, 2),
                ("b", 0, 1000, 1010, 1),
            ],
            // earliest, last stable, latest, then the --from timestamps.
            failing: vec![4],
            silent: false,
            calls: Mutex::new((0, 0)),
        };
        let config = Config {
            retry_backoff: Duration::from_millis(1),
            retry_backoff_max: Duration::from_millis(1),
            ..Config::default()
        };
        let spec = ReadSpec {
            topics: vec!["a".into(), "b".into()],
            partitions: None,
            from: Bound::all(Position::Timestamp(1_700_000_000_000)),
            to: Bound::all(Position::Latest),
        };
        let plans = plan(&client, &config, &spec).await.unwrap();
        let got: Vec<(&str, i32, i64, i64)> = plans
            .iter()
            .map(|p| {
                let s = &p.spec;
                (&*s.topic, s.partition, s.start, s.end)
            })
            .collect();
        assert_eq!(
            got,
            [("a", 0, 5, 10), ("a", 1, 105, 110), ("b", 0, 1005, 1010)]
        );
        assert_eq!(
            *client.calls.lock().unwrap(),
            (2, 5),
            "the step was retried"
        );
    }

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

    /// Planning has one deadline, `timeout` after it began: a request that is never answered
    /// is given up there (the client's own request timeout may be longer, or the request may
    /// be one of several), and the error says what was waited for and for how long.
    #[tokio::test(start_paused = true)]
    async fn planning_ends_at_its_one_deadline() {
        let client = Scripted {
            partitions: vec![("a", 0, 0, 10, 1)],
            failing: vec![],
            silent: true,
            calls: Mutex::new((0, 0)),
        };
        let config = Config {
            timeout: Duration::from_secs(2),
            bootstrap: vec!["silent:9092".into()],
            ..Config::default()
        };
        let began = Instant::now();
        // Virtual time: the clock is paused and jumps to the next timer.
        let planned = tokio::time::timeout(
            Duration::from_secs(60),
            plan(&client, &config, &ReadSpec::topics(["a"])),
        )
        .await
        .expect("planning ended");
        let elapsed = began.elapsed();
        assert_eq!(elapsed, Duration::from_secs(2));
        let err = planned.unwrap_err();
        let ReadError::PlanRetriesExhausted { elapsed_ms, last } = &err else {
            panic!("not the planning budget: {err}");
        };
        assert_eq!(*elapsed_ms, 2000);
        assert!(
            matches!(**last, ReadError::Wire(WireError::Timeout { after, api: "Metadata", .. }) if after == Duration::from_secs(2)),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("silent:9092 did not answer Metadata within 2s"),
            "{err}"
        );
    }
}
