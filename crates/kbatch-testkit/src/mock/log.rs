//! The mock broker's data: topics held in memory as record batches, and the answers a
//! well-behaved broker would give from them (the default behaviour scripts start from).

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

/// The mock's node id (it is a cluster of one).
pub const NODE_ID: i32 = 1;

/// API keys and the version ranges the mock advertises: what kbatch speaks, and every version
/// of them that names topics (Fetch v13+ names topic ids and is not served).
pub(crate) const SERVED: &[(i16, i16, i16)] = &[(18, 0, 3), (3, 9, 12), (2, 6, 9), (1, 4, 12)];

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const OFFSET_OUT_OF_RANGE: i16 = 1;

/// One stored record batch.
#[derive(Debug, Clone)]
struct Stored {
    base: i64,
    /// `base + last_offset_delta`.
    last: i64,
    max_timestamp: i64,
    bytes: Bytes,
}

/// One partition's log.
#[derive(Debug, Clone, Default)]
struct Partition {
    batches: Vec<Stored>,
    log_start: i64,
    /// Where the next appended batch starts.
    next: i64,
    leader_epoch: i32,
}

impl Partition {
    fn high_watermark(&self) -> i64 {
        self.next
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Topic {
    id: [u8; 16],
    partitions: Vec<Partition>,
}

/// Topics in memory.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) topics: BTreeMap<String, Topic>,
    pub(crate) host: String,
    pub(crate) port: i32,
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// `base_offset`, `last_offset_delta`, `partition_leader_epoch` and `max_timestamp` of a v2
/// batch header, when at least a header's worth of bytes is there.
fn header_fields(b: &[u8]) -> Option<(i64, i32, i64)> {
    if b.len() < 61 {
        return None;
    }
    let base = i64::from_be_bytes(b[0..8].try_into().ok()?);
    let delta = i32::from_be_bytes(b[23..27].try_into().ok()?);
    let max_ts = i64::from_be_bytes(b[35..43].try_into().ok()?);
    Some((base, delta, max_ts))
}

impl Log {
    pub(crate) fn add_topic(&mut self, topic: &str, partitions: i32) {
        let n = self.topics.len() as u8 + 1;
        self.topics.insert(
            topic.to_string(),
            Topic {
                id: [n; 16],
                partitions: (0..partitions)
                    .map(|_| Partition {
                        leader_epoch: 1,
                        ..Partition::default()
                    })
                    .collect(),
            },
        );
    }

    fn partition(&mut self, topic: &str, p: i32) -> &mut Partition {
        self.topics
            .get_mut(topic)
            .and_then(|t| t.partitions.get_mut(usize::try_from(p).ok()?))
            .unwrap_or_else(|| panic!("the mock broker has no partition {topic}/{p}"))
    }

    pub(crate) fn leader_epoch(&mut self, topic: &str, p: i32) -> i32 {
        self.partition(topic, p).leader_epoch
    }

    pub(crate) fn set_leader_epoch(&mut self, topic: &str, p: i32, epoch: i32) {
        self.partition(topic, p).leader_epoch = epoch;
    }

    pub(crate) fn next_offset(&mut self, topic: &str, p: i32) -> i64 {
        self.partition(topic, p).next
    }

    /// Append one encoded v2 batch; its base offset must not lie below the log's end.
    pub(crate) fn append(&mut self, topic: &str, p: i32, bytes: Vec<u8>) {
        let (base, delta, max_timestamp) =
            header_fields(&bytes).expect("a record batch of at least 61 bytes");
        let part = self.partition(topic, p);
        assert!(
            base >= part.next,
            "batch at {base} appended below the end {} of {topic}/{p}",
            part.next
        );
        let last = base + i64::from(delta);
        if part.batches.is_empty() {
            part.log_start = base;
        }
        part.batches.push(Stored {
            base,
            last,
            max_timestamp,
            bytes: Bytes::from(bytes),
        });
        part.next = last + 1;
    }

    pub(crate) fn api_versions(&self) -> ApiVersionsResponse {
        let mut r = ApiVersionsResponse::default();
        r.api_keys = SERVED
            .iter()
            .map(|&(k, lo, hi)| {
                let mut v = ApiVersion::default();
                v.api_key = k;
                v.min_version = lo;
                v.max_version = hi;
                v
            })
            .collect();
        r
    }

    pub(crate) fn metadata(&self, req: &MetadataRequest) -> MetadataResponse {
        let mut r = MetadataResponse::default();
        let mut b = MetadataResponseBroker::default();
        b.node_id = BrokerId(NODE_ID);
        b.host = StrBytes::from_string(self.host.clone());
        b.port = self.port;
        r.brokers = vec![b];
        r.cluster_id = Some(StrBytes::from_static_str("kbatch-mock"));
        r.controller_id = BrokerId(NODE_ID);
        let asked: Vec<String> = match &req.topics {
            None => self.topics.keys().cloned().collect(),
            Some(ts) => ts
                .iter()
                .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                .collect(),
        };
        for topic in asked {
            let mut t = MetadataResponseTopic::default();
            t.name = Some(name(&topic));
            match self.topics.get(&topic) {
                None => t.error_code = UNKNOWN_TOPIC_OR_PARTITION,
                Some(known) => {
                    t.topic_id = uuid::Uuid::from_bytes(known.id);
                    for (i, p) in known.partitions.iter().enumerate() {
                        let mut m = MetadataResponsePartition::default();
                        m.partition_index = i as i32;
                        m.leader_id = BrokerId(NODE_ID);
                        m.leader_epoch = p.leader_epoch;
                        m.replica_nodes = vec![BrokerId(NODE_ID)];
                        m.isr_nodes = vec![BrokerId(NODE_ID)];
                        t.partitions.push(m);
                    }
                }
            }
            r.topics.push(t);
        }
        r
    }

    fn find(&self, topic: &str, p: i32) -> Option<&Partition> {
        self.topics
            .get(topic)?
            .partitions
            .get(usize::try_from(p).ok()?)
    }

    pub(crate) fn list_offsets(&self, req: &ListOffsetsRequest) -> ListOffsetsResponse {
        let mut r = ListOffsetsResponse::default();
        for t in &req.topics {
            let mut out = ListOffsetsTopicResponse::default();
            out.name = t.name.clone();
            for asked in &t.partitions {
                let mut a = ListOffsetsPartitionResponse::default();
                a.partition_index = asked.partition_index;
                a.timestamp = -1;
                match self.find(&t.name.0, asked.partition_index) {
                    None => {
                        a.error_code = UNKNOWN_TOPIC_OR_PARTITION;
                        a.offset = -1;
                    }
                    Some(p) => {
                        a.leader_epoch = p.leader_epoch;
                        a.offset = match asked.timestamp {
                            -2 => p.log_start,
                            -1 => p.high_watermark(),
                            ts => match p.batches.iter().find(|b| b.max_timestamp >= ts) {
                                Some(b) => {
                                    a.timestamp = b.max_timestamp;
                                    b.base
                                }
                                None => -1,
                            },
                        };
                    }
                }
                out.partitions.push(a);
            }
            r.topics.push(out);
        }
        r
    }

    /// From the batch holding each fetch offset, whole batches up to the partition's and the
    /// request's byte limits, as a broker answers; at least one batch per partition (a broker
    /// gives that only to the first partition of a response, KIP-74).
    pub(crate) fn fetch(&self, req: &FetchRequest) -> FetchResponse {
        let mut r = FetchResponse::default();
        let mut room = i64::from(req.max_bytes.max(0));
        for t in &req.topics {
            let mut out = FetchableTopicResponse::default();
            out.topic = t.topic.clone();
            for asked in &t.partitions {
                let mut d = PartitionData::default();
                d.partition_index = asked.partition;
                d.aborted_transactions = Some(vec![]);
                match self.find(&t.topic.0, asked.partition) {
                    None => d.error_code = UNKNOWN_TOPIC_OR_PARTITION,
                    Some(p) => {
                        let hwm = p.high_watermark();
                        d.high_watermark = hwm;
                        d.last_stable_offset = hwm;
                        d.log_start_offset = p.log_start;
                        if asked.fetch_offset < p.log_start || asked.fetch_offset > hwm {
                            d.error_code = OFFSET_OUT_OF_RANGE;
                        } else {
                            let limit = i64::from(asked.partition_max_bytes.max(0)).min(room);
                            let mut bytes = Vec::new();
                            for b in p.batches.iter().filter(|b| b.last >= asked.fetch_offset) {
                                if !bytes.is_empty() && (bytes.len() + b.bytes.len()) as i64 > limit
                                {
                                    break;
                                }
                                bytes.extend_from_slice(&b.bytes);
                            }
                            room = room.saturating_sub(bytes.len() as i64);
                            d.records = Some(Bytes::from(bytes));
                        }
                    }
                }
                out.partitions.push(d);
            }
            r.responses.push(out);
        }
        r
    }
}
