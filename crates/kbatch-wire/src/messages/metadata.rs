//! Metadata (key 3), versions 9–12 (flexible). v10 added topic ids, v11 dropped
//! `cluster_authorized_operations`, v12 made topic names nullable in requests. We ask for
//! explicit topics (or all) with `allow_auto_topic_creation = false`: a batch read never
//! creates topics.

use bytes::Bytes;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::decode::{DecodeError, Reader};

/// API key.
pub const KEY: i16 = 3;
/// Versions we speak.
pub const VERSIONS: (i16, i16) = (9, 12);

/// A decoded Metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponse {
    /// Live brokers.
    pub brokers: Vec<BrokerMeta>,
    /// Controller node id.
    pub controller_id: i32,
    /// Topics asked for (or all).
    pub topics: Vec<TopicMeta>,
}

/// One broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerMeta {
    /// Node id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, if set.
    pub rack: Option<String>,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    /// Topic-level error (3 = unknown topic).
    pub error_code: i16,
    /// Name.
    pub name: String,
    /// Topic id (zero before v10).
    pub topic_id: [u8; 16],
    /// Internal topic.
    pub is_internal: bool,
    /// Partitions.
    pub partitions: Vec<PartitionMeta>,
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMeta {
    /// Partition-level error.
    pub error_code: i16,
    /// Partition id.
    pub partition: i32,
    /// Leader node id (-1 if none).
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
}

pub(crate) fn request(topics: Option<&[String]>) -> MetadataRequest {
    let mut r = MetadataRequest::default();
    r.topics = topics.map(|ts| {
        ts.iter()
            .map(|t| {
                let mut mt = MetadataRequestTopic::default();
                mt.name = Some(TopicName(StrBytes::from_string(t.clone())));
                mt
            })
            .collect()
    });
    r.allow_auto_topic_creation = false;
    r
}

/// Decode a response body (after the response header).
pub fn decode(version: i16, body: Bytes) -> Result<MetadataResponse, DecodeError> {
    let mut r = Reader::new(&body, "Metadata", version);
    if !(VERSIONS.0..=VERSIONS.1).contains(&version) {
        return Err(r.err("version not spoken"));
    }
    r.i32()?; // throttle_time_ms
    let n = r.compact_array_len(10)?;
    let mut brokers = Vec::with_capacity(n);
    for _ in 0..n {
        let node_id = r.i32()?;
        let host = r.compact_str()?;
        let port = r.i32()?;
        let rack = r.compact_nullable_str()?;
        r.tagged_fields()?;
        brokers.push(BrokerMeta {
            node_id,
            host,
            port,
            rack,
        });
    }
    r.compact_nullable_str()?; // cluster_id
    let controller_id = r.i32()?;
    let n = r.compact_array_len(8)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let error_code = r.i16()?;
        let name = r.compact_nullable_str()?.unwrap_or_default();
        let topic_id = if version >= 10 { r.uuid()? } else { [0; 16] };
        let is_internal = r.bool()?;
        let pn = r.compact_array_len(20)?;
        let mut partitions = Vec::with_capacity(pn);
        for _ in 0..pn {
            let error_code = r.i16()?;
            let partition = r.i32()?;
            let leader = r.i32()?;
            let leader_epoch = r.i32()?;
            let replicas = r.compact_i32_array()?;
            let isr = r.compact_i32_array()?;
            r.compact_i32_array()?; // offline replicas
            r.tagged_fields()?;
            partitions.push(PartitionMeta {
                error_code,
                partition,
                leader,
                leader_epoch,
                replicas,
                isr,
            });
        }
        r.i32()?; // topic_authorized_operations
        r.tagged_fields()?;
        topics.push(TopicMeta {
            error_code,
            name,
            topic_id,
            is_internal,
            partitions,
        });
    }
    if version <= 10 {
        r.i32()?; // cluster_authorized_operations
    }
    r.tagged_fields()?;
    r.finish()?;
    Ok(MetadataResponse {
        brokers,
        controller_id,
        topics,
    })
}
