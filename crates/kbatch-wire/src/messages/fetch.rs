//! Fetch (key 1), version 12 only: the last version with topic *names* (v13 switched to topic
//! ids, KIP-516), flexible. No fetch sessions (KIP-227): `session_id = 0`, `session_epoch = -1`
//! on every request, so every response is a full one (RELIABILITY.md case 34). Records come
//! back as `Bytes` sliced out of the response frame: nothing is copied.

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest as KpRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::decode::{DecodeError, Reader};

/// API key.
pub const KEY: i16 = 1;
/// Versions we speak.
pub const VERSIONS: (i16, i16) = (12, 12);
/// The partition response's tagged field carrying `DivergingEpoch` (KIP-320).
const DIVERGING_EPOCH_TAG: u32 = 0;

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// How long the broker may wait for `min_bytes`.
    pub max_wait_ms: i32,
    /// Bytes the broker waits for.
    pub min_bytes: i32,
    /// Most bytes in the response (a first batch larger than this still comes whole, KIP-74).
    pub max_bytes: i32,
    /// 0 read_uncommitted, 1 read_committed.
    pub isolation_level: i8,
    /// Per topic, its partitions.
    pub topics: Vec<(String, Vec<FetchPartitionRequest>)>,
}

/// One partition to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPartitionRequest {
    /// Partition id.
    pub partition: i32,
    /// Offset to fetch from.
    pub fetch_offset: i64,
    /// Most bytes for this partition.
    pub partition_max_bytes: i32,
    /// Leader epoch we know (-1: no fencing).
    pub current_leader_epoch: i32,
    /// Leader epoch of the last batch fetched (-1: none yet); the leader answers with a
    /// diverging epoch when its log no longer holds that batch (KIP-320).
    pub last_fetched_epoch: i32,
}

/// A decoded Fetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    /// Throttle time the broker asks for.
    pub throttle_time_ms: i32,
    /// Top-level error.
    pub error_code: i16,
    /// Session id (0: no session).
    pub session_id: i32,
    /// Per topic, its partitions.
    pub topics: Vec<(String, Vec<FetchPartitionResponse>)>,
}

/// One partition's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartitionResponse {
    /// Partition id.
    pub partition: i32,
    /// Error code.
    pub error_code: i16,
    /// High watermark.
    pub high_watermark: i64,
    /// Last stable offset.
    pub last_stable_offset: i64,
    /// Log start offset.
    pub log_start_offset: i64,
    /// `(producer_id, first_offset)` of aborted transactions overlapping the data.
    pub aborted_transactions: Vec<(i64, i64)>,
    /// Preferred read replica (-1: none).
    pub preferred_read_replica: i32,
    /// KIP-320: the leader's `(epoch, end_offset)` where our `last_fetched_epoch` diverges
    /// from its log (tagged field 0); `None` when the logs agree.
    pub diverging_epoch: Option<(i32, i64)>,
    /// Record batches, zero-copy; the last one may be truncated.
    pub records: Bytes,
}

pub(crate) fn request(req: &FetchRequest) -> KpRequest {
    let mut r = KpRequest::default();
    r.replica_id = (-1).into();
    r.max_wait_ms = req.max_wait_ms;
    r.min_bytes = req.min_bytes;
    r.max_bytes = req.max_bytes;
    r.isolation_level = req.isolation_level;
    r.session_id = 0;
    r.session_epoch = -1;
    r.topics = req
        .topics
        .iter()
        .map(|(name, parts)| {
            let mut t = FetchTopic::default();
            t.topic = TopicName(StrBytes::from_string(name.clone()));
            t.partitions = parts
                .iter()
                .map(|p| {
                    let mut fp = FetchPartition::default();
                    fp.partition = p.partition;
                    fp.current_leader_epoch = p.current_leader_epoch;
                    fp.fetch_offset = p.fetch_offset;
                    fp.last_fetched_epoch = p.last_fetched_epoch;
                    fp.log_start_offset = -1;
                    fp.partition_max_bytes = p.partition_max_bytes;
                    fp
                })
                .collect();
            t
        })
        .collect();
    r
}

/// Decode a response body (after the response header).
pub fn decode(version: i16, body: Bytes) -> Result<FetchResponse, DecodeError> {
    let mut r = Reader::new(&body, "Fetch", version);
    if !(VERSIONS.0..=VERSIONS.1).contains(&version) {
        return Err(r.err("version not spoken"));
    }
    let throttle_time_ms = r.i32()?;
    let error_code = r.i16()?;
    let session_id = r.i32()?;
    let n = r.compact_array_len(3)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.compact_str()?;
        let pn = r.compact_array_len(36)?;
        let mut parts = Vec::with_capacity(pn);
        for _ in 0..pn {
            let partition = r.i32()?;
            let error_code = r.i16()?;
            let high_watermark = r.i64()?;
            let last_stable_offset = r.i64()?;
            let log_start_offset = r.i64()?;
            let an = r.compact_array_len(17)?;
            let mut aborted_transactions = Vec::with_capacity(an);
            for _ in 0..an {
                let producer_id = r.i64()?;
                let first_offset = r.i64()?;
                r.tagged_fields()?;
                aborted_transactions.push((producer_id, first_offset));
            }
            let preferred_read_replica = r.i32()?;
            let records = r.compact_bytes()?;
            let mut diverging_epoch = None;
            r.tagged_fields_with(|tag, f| {
                if tag == DIVERGING_EPOCH_TAG {
                    let epoch = f.i32()?;
                    let end_offset = f.i64()?;
                    diverging_epoch = Some((epoch, end_offset));
                }
                Ok(())
            })?;
            parts.push(FetchPartitionResponse {
                partition,
                error_code,
                high_watermark,
                last_stable_offset,
                log_start_offset,
                aborted_transactions,
                preferred_read_replica,
                diverging_epoch,
                records,
            });
        }
        r.tagged_fields()?;
        topics.push((name, parts));
    }
    r.tagged_fields()?;
    r.finish()?;
    Ok(FetchResponse {
        throttle_time_ms,
        error_code,
        session_id,
        topics,
    })
}
