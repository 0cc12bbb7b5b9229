//! Planning a read: Metadata → ListOffsets → one `[start, end)` range per partition.
//!
//! `latest` is resolved once, here, so a run is bounded even while producers keep writing.
//! Under read_committed it is the last stable offset (ListOffsets with isolation_level 1);
//! under read_uncommitted the high watermark.

use std::collections::BTreeMap;
use std::sync::Arc;

use kbatch_records::Isolation;
use kbatch_wire::{kafka_code, Cluster, ListOffsetsRequest, MetadataResponse};

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
}

const EARLIEST: i64 = -2;
const LATEST: i64 = -1;

/// Topic partitions to read, with their leaders, in (topic order given, partition) order.
pub(crate) fn select(
    meta: &MetadataResponse,
    spec: &ReadSpec,
) -> Result<Vec<(String, i32, i32, i32)>, ReadError> {
    let mut out = Vec::new();
    for topic in &spec.topics {
        let t = meta
            .topics
            .iter()
            .find(|t| &t.name == topic)
            .ok_or_else(|| ReadError::UnknownTopic {
                topic: topic.clone(),
            })?;
        if t.error_code == 3 || t.error_code == 100 {
            return Err(ReadError::UnknownTopic {
                topic: topic.clone(),
            });
        }
        if t.error_code != 0 {
            let code = kafka_code(t.error_code);
            return Err(ReadError::Kafka {
                topic: topic.clone(),
                partition: -1,
                what: "Metadata",
                code: t.error_code,
                code_name: code.name,
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
                out.push((topic.clone(), p.partition, p.leader, p.leader_epoch));
            }
        }
    }
    Ok(out)
}

/// Ask every leader for the given timestamp of each of its partitions; returns offsets keyed by
/// (topic, partition). `-1` offsets (no record at or after a timestamp) are passed through.
pub(crate) async fn list_offsets(
    cluster: &Cluster,
    parts: &[(String, i32, i32, i32)],
    isolation_level: i8,
    timestamp_of: impl Fn(&str, i32) -> Option<i64>,
) -> Result<BTreeMap<(String, i32), i64>, ReadError> {
    let mut by_leader: BTreeMap<i32, BTreeMap<String, Vec<(i32, i64)>>> = BTreeMap::new();
    for (topic, partition, leader, _) in parts {
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
        let conn = cluster.broker(leader).await?;
        let req = ListOffsetsRequest {
            isolation_level,
            topics: topics.into_iter().collect(),
        };
        let resp = conn.list_offsets(&req).await?;
        for (topic, ps) in resp.topics {
            for p in ps {
                if p.error_code != 0 {
                    return Err(ReadError::Kafka {
                        topic,
                        partition: p.partition,
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

/// Earliest, high watermark and last stable offset of every selected partition.
pub(crate) async fn offsets_of(
    cluster: &Cluster,
    parts: &[(String, i32, i32, i32)],
) -> Result<Vec<PartitionOffsets>, ReadError> {
    let earliest = list_offsets(cluster, parts, 0, |_, _| Some(EARLIEST)).await?;
    let hwm = list_offsets(cluster, parts, 0, |_, _| Some(LATEST)).await?;
    let lso = list_offsets(cluster, parts, 1, |_, _| Some(LATEST)).await?;
    let get = |m: &BTreeMap<(String, i32), i64>, t: &str, p: i32, what: &'static str| {
        m.get(&(t.to_string(), p))
            .copied()
            .ok_or_else(|| ReadError::Kafka {
                topic: t.to_string(),
                partition: p,
                what,
                code: -1,
                code_name: "MISSING_IN_RESPONSE",
            })
    };
    parts
        .iter()
        .map(|(t, p, leader, _)| {
            Ok(PartitionOffsets {
                topic: t.clone(),
                partition: *p,
                leader: *leader,
                earliest: get(&earliest, t, *p, "ListOffsets(earliest)")?,
                latest: get(&hwm, t, *p, "ListOffsets(latest)")?,
                last_stable: get(&lso, t, *p, "ListOffsets(last stable)")?,
            })
        })
        .collect()
}

/// Resolve `spec` into one range per partition.
pub(crate) async fn plan(
    cluster: &Cluster,
    config: &Config,
    spec: &ReadSpec,
) -> Result<Vec<PartitionPlan>, ReadError> {
    let meta = cluster.metadata(Some(&spec.topics)).await?;
    let parts = select(&meta, spec)?;
    let offsets = offsets_of(cluster, &parts).await?;
    let committed = config.isolation == Isolation::ReadCommitted;
    let ts_of = |bound: &crate::Bound| {
        let bound = bound.clone();
        move |t: &str, p: i32| match bound.position(t, p) {
            Position::Timestamp(ts) => Some(ts),
            _ => None,
        }
    };
    let level = config.isolation_level();
    let from_ts = list_offsets(cluster, &parts, level, ts_of(&spec.from)).await?;
    let to_ts = list_offsets(cluster, &parts, level, ts_of(&spec.to)).await?;

    let mut plans = Vec::with_capacity(parts.len());
    let mut topics: BTreeMap<String, Arc<str>> = BTreeMap::new();
    for ((topic, partition, leader, epoch), o) in parts.iter().zip(&offsets) {
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
        });
    }
    Ok(plans)
}
