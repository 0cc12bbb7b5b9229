//! ListOffsets (key 2), versions 6–9 (flexible). Timestamps -2 (earliest) and -1 (latest) are
//! the special values; with `isolation_level = 1` "latest" is the last stable offset, which is
//! how read_committed ranges end (KIP-98). A timestamp with no record at or after it gives
//! offset -1.

use bytes::Bytes;
use kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition as ReqPartition, ListOffsetsTopic,
};
use kafka_protocol::messages::{ListOffsetsRequest as KpRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::decode::{DecodeError, Reader};

/// API key.
pub const KEY: i16 = 2;
/// Versions we speak.
pub const VERSIONS: (i16, i16) = (6, 9);

/// What to ask: per topic, `(partition, timestamp)` with -2 earliest, -1 latest, or ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsRequest {
    /// 0 read_uncommitted, 1 read_committed.
    pub isolation_level: i8,
    /// Topics and their partitions.
    pub topics: Vec<(String, Vec<(i32, i64)>)>,
}

/// A decoded ListOffsets response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsResponse {
    /// Per topic, its partitions.
    pub topics: Vec<(String, Vec<ListOffsetsPartition>)>,
}

/// One partition's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOffsetsPartition {
    /// Partition id.
    pub partition: i32,
    /// Error code.
    pub error_code: i16,
    /// Timestamp of the found record (-1 for earliest/latest).
    pub timestamp: i64,
    /// The offset (-1 if none).
    pub offset: i64,
    /// Leader epoch.
    pub leader_epoch: i32,
}

pub(crate) fn request(req: &ListOffsetsRequest) -> KpRequest {
    let mut r = KpRequest::default();
    r.replica_id = (-1).into();
    r.isolation_level = req.isolation_level;
    r.topics = req
        .topics
        .iter()
        .map(|(name, parts)| {
            let mut t = ListOffsetsTopic::default();
            t.name = TopicName(StrBytes::from_string(name.clone()));
            t.partitions = parts
                .iter()
                .map(|&(partition, timestamp)| {
                    let mut p = ReqPartition::default();
                    p.partition_index = partition;
                    p.current_leader_epoch = -1;
                    p.timestamp = timestamp;
                    p
                })
                .collect();
            t
        })
        .collect();
    r
}

/// Decode a response body (after the response header).
pub fn decode(version: i16, body: Bytes) -> Result<ListOffsetsResponse, DecodeError> {
    let mut r = Reader::new(&body, "ListOffsets", version);
    if !(VERSIONS.0..=VERSIONS.1).contains(&version) {
        return Err(r.err("version not spoken"));
    }
    r.i32()?; // throttle_time_ms
    let n = r.compact_array_len(3)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.compact_str()?;
        let pn = r.compact_array_len(27)?;
        let mut parts = Vec::with_capacity(pn);
        for _ in 0..pn {
            parts.push(ListOffsetsPartition {
                partition: r.i32()?,
                error_code: r.i16()?,
                timestamp: r.i64()?,
                offset: r.i64()?,
                leader_epoch: r.i32()?,
            });
            r.tagged_fields()?;
        }
        r.tagged_fields()?;
        topics.push((name, parts));
    }
    r.tagged_fields()?;
    r.finish()?;
    Ok(ListOffsetsResponse { topics })
}
