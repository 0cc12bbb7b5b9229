//! `WireError`, and the one table of Kafka error codes.

use std::time::Duration;

use crate::decode::DecodeError;

/// Why talking to a broker failed. Every variant names the broker address.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WireError {
    /// TCP connect failed or timed out.
    #[error("cannot connect to broker {addr}: {reason}")]
    Connect {
        /// Broker address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Reading or writing failed, or the broker closed the connection.
    #[error("connection to broker {addr} failed: {reason}")]
    Io {
        /// Broker address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// No response within the request timeout; the connection was closed.
    #[error("broker {addr} did not answer {api} within {after:?}; connection closed")]
    Timeout {
        /// Broker address.
        addr: String,
        /// The request.
        api: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// A response frame larger than the limit (or negative).
    #[error("broker {addr} sent a response of {size} bytes, over the limit of {limit} bytes (is this a Kafka broker?)")]
    FrameTooLarge {
        /// Broker address.
        addr: String,
        /// The size the frame claims.
        size: i64,
        /// The limit.
        limit: usize,
    },
    /// The peer speaks HTTP.
    #[error("{addr} answered like an HTTP server, not a Kafka broker")]
    LooksLikeHttp {
        /// Address.
        addr: String,
    },
    /// The peer speaks TLS.
    #[error("{addr} answered with TLS to a plaintext connection: set security.protocol=ssl (or sasl_ssl)")]
    LooksLikeTls {
        /// Address.
        addr: String,
    },
    /// The broker broke the protocol (wrong correlation id, undecodable response).
    #[error("protocol error from broker {addr}: {reason}")]
    Protocol {
        /// Broker address.
        addr: String,
        /// What happened.
        reason: String,
    },
    /// A response did not decode.
    #[error("broker {addr}: {source}")]
    Decode {
        /// Broker address.
        addr: String,
        /// Decoder error.
        #[source]
        source: DecodeError,
    },
    /// The broker does not speak a version we need.
    #[error("broker {addr} is too old: it speaks {api} up to v{broker_max}, kbatch needs v{need} or later")]
    BrokerTooOld {
        /// Broker address.
        addr: String,
        /// The API.
        api: &'static str,
        /// Highest version the broker speaks (-1: not at all).
        broker_max: i16,
        /// Lowest version we speak.
        need: i16,
    },
    /// The broker answered with an error code where no partition is involved.
    #[error("broker {addr}: {api} failed with {name} (Kafka error {code})")]
    Kafka {
        /// Broker address.
        addr: String,
        /// The request.
        api: &'static str,
        /// Error code.
        code: i16,
        /// Its name.
        name: &'static str,
    },
    /// TLS could not be set up (CA file, client key) or the handshake failed (unknown CA,
    /// expired certificate, host name mismatch, not a TLS port). Not retriable: trying again
    /// meets the same certificate.
    #[error("TLS with broker {addr} failed: {reason}")]
    Tls {
        /// Broker address.
        addr: String,
        /// The cause, in words (never key material).
        reason: String,
    },
    /// SASL authentication failed: wrong credentials, a mechanism the listener does not
    /// enable, or a broker that could not prove itself (SCRAM). Not retriable: retrying wrong
    /// credentials only locks accounts and floods the broker's log.
    #[error("authentication with {mechanism} to broker {addr} failed: {reason}")]
    Auth {
        /// Broker address.
        addr: String,
        /// The SASL mechanism.
        mechanism: &'static str,
        /// The cause, in words (never a password or token).
        reason: String,
    },
    /// A broker id from metadata that is not in the broker list.
    #[error("no address known for broker node {node_id}")]
    UnknownBroker {
        /// Node id.
        node_id: i32,
    },
}

impl WireError {
    /// Connection-level trouble (connect, I/O, timeout, closed) is worth a retry on a new
    /// connection; protocol violations and version mismatches are not.
    pub fn is_retriable(&self) -> bool {
        match self {
            WireError::Connect { .. } | WireError::Io { .. } | WireError::Timeout { .. } => true,
            WireError::Kafka { code, .. } => kafka_code(*code).retriable,
            WireError::UnknownBroker { .. } => true,
            _ => false,
        }
    }
}

/// One Kafka error code: its name and what a reader should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaCode {
    /// The code.
    pub code: i16,
    /// Kafka's name for it.
    pub name: &'static str,
    /// Trying again (after a backoff) may succeed.
    pub retriable: bool,
    /// The partition's leadership may have moved: refresh metadata before retrying.
    pub refresh_metadata: bool,
}

/// (code, name, retriable, refresh metadata): the Kafka protocol guide's error table; the
/// refresh flag marks the codes that mean a partition's leadership or metadata moved.
const CODES: &[(i16, &str, bool, bool)] = &[
    (0, "NONE", false, false),
    (-1, "UNKNOWN_SERVER_ERROR", false, false),
    (0, "NONE", false, false),
    (1, "OFFSET_OUT_OF_RANGE", false, false),
    (2, "CORRUPT_MESSAGE", true, false),
    (3, "UNKNOWN_TOPIC_OR_PARTITION", true, true),
    (4, "INVALID_FETCH_SIZE", false, false),
    (5, "LEADER_NOT_AVAILABLE", true, true),
    (6, "NOT_LEADER_OR_FOLLOWER", true, true),
    (7, "REQUEST_TIMED_OUT", true, false),
    (8, "BROKER_NOT_AVAILABLE", false, false),
    (9, "REPLICA_NOT_AVAILABLE", true, true),
    (10, "MESSAGE_TOO_LARGE", false, false),
    (11, "STALE_CONTROLLER_EPOCH", false, false),
    (12, "OFFSET_METADATA_TOO_LARGE", false, false),
    (13, "NETWORK_EXCEPTION", true, true),
    (14, "COORDINATOR_LOAD_IN_PROGRESS", true, false),
    (15, "COORDINATOR_NOT_AVAILABLE", true, false),
    (16, "NOT_COORDINATOR", true, false),
    (17, "INVALID_TOPIC_EXCEPTION", false, false),
    (18, "RECORD_LIST_TOO_LARGE", false, false),
    (19, "NOT_ENOUGH_REPLICAS", true, false),
    (20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, false),
    (21, "INVALID_REQUIRED_ACKS", false, false),
    (22, "ILLEGAL_GENERATION", false, false),
    (23, "INCONSISTENT_GROUP_PROTOCOL", false, false),
    (24, "INVALID_GROUP_ID", false, false),
    (25, "UNKNOWN_MEMBER_ID", false, false),
    (26, "INVALID_SESSION_TIMEOUT", false, false),
    (27, "REBALANCE_IN_PROGRESS", false, false),
    (28, "INVALID_COMMIT_OFFSET_SIZE", false, false),
    (29, "TOPIC_AUTHORIZATION_FAILED", false, false),
    (30, "GROUP_AUTHORIZATION_FAILED", false, false),
    (31, "CLUSTER_AUTHORIZATION_FAILED", false, false),
    (32, "INVALID_TIMESTAMP", false, false),
    (33, "UNSUPPORTED_SASL_MECHANISM", false, false),
    (34, "ILLEGAL_SASL_STATE", false, false),
    (35, "UNSUPPORTED_VERSION", false, false),
    (36, "TOPIC_ALREADY_EXISTS", false, false),
    (37, "INVALID_PARTITIONS", false, false),
    (38, "INVALID_REPLICATION_FACTOR", false, false),
    (39, "INVALID_REPLICA_ASSIGNMENT", false, false),
    (40, "INVALID_CONFIG", false, false),
    (41, "NOT_CONTROLLER", true, true),
    (42, "INVALID_REQUEST", false, false),
    (43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, false),
    (44, "POLICY_VIOLATION", false, false),
    (45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, false),
    (46, "DUPLICATE_SEQUENCE_NUMBER", false, false),
    (47, "INVALID_PRODUCER_EPOCH", false, false),
    (48, "INVALID_TXN_STATE", false, false),
    (49, "INVALID_PRODUCER_ID_MAPPING", false, false),
    (50, "INVALID_TRANSACTION_TIMEOUT", false, false),
    (51, "CONCURRENT_TRANSACTIONS", false, false),
    (52, "TRANSACTION_COORDINATOR_FENCED", false, false),
    (53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false, false),
    (54, "SECURITY_DISABLED", false, false),
    (55, "OPERATION_NOT_ATTEMPTED", false, false),
    (56, "KAFKA_STORAGE_ERROR", true, true),
    (57, "LOG_DIR_NOT_FOUND", false, false),
    (58, "SASL_AUTHENTICATION_FAILED", false, false),
    (59, "UNKNOWN_PRODUCER_ID", false, false),
    (60, "REASSIGNMENT_IN_PROGRESS", false, false),
    (61, "DELEGATION_TOKEN_AUTH_DISABLED", false, false),
    (62, "DELEGATION_TOKEN_NOT_FOUND", false, false),
    (63, "DELEGATION_TOKEN_OWNER_MISMATCH", false, false),
    (64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false, false),
    (65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false, false),
    (66, "DELEGATION_TOKEN_EXPIRED", false, false),
    (67, "INVALID_PRINCIPAL_TYPE", false, false),
    (68, "NON_EMPTY_GROUP", false, false),
    (69, "GROUP_ID_NOT_FOUND", false, false),
    (70, "FETCH_SESSION_ID_NOT_FOUND", true, false),
    (71, "INVALID_FETCH_SESSION_EPOCH", true, false),
    (72, "LISTENER_NOT_FOUND", true, true),
    (73, "TOPIC_DELETION_DISABLED", false, false),
    (74, "FENCED_LEADER_EPOCH", true, true),
    (75, "UNKNOWN_LEADER_EPOCH", true, true),
    (76, "UNSUPPORTED_COMPRESSION_TYPE", false, false),
    (77, "STALE_BROKER_EPOCH", false, false),
    (78, "OFFSET_NOT_AVAILABLE", true, true),
    (79, "MEMBER_ID_REQUIRED", false, false),
    (80, "PREFERRED_LEADER_NOT_AVAILABLE", true, true),
    (81, "GROUP_MAX_SIZE_REACHED", false, false),
    (82, "FENCED_INSTANCE_ID", false, false),
    (83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true, false),
    (84, "ELECTION_NOT_NEEDED", true, false),
    (85, "NO_REASSIGNMENT_IN_PROGRESS", false, false),
    (86, "GROUP_SUBSCRIBED_TO_TOPIC", false, false),
    (87, "INVALID_RECORD", false, false),
    (88, "UNSTABLE_OFFSET_COMMIT", true, false),
    (89, "THROTTLING_QUOTA_EXCEEDED", true, false),
    (90, "PRODUCER_FENCED", false, false),
    (91, "RESOURCE_NOT_FOUND", false, false),
    (92, "DUPLICATE_RESOURCE", false, false),
    (93, "UNACCEPTABLE_CREDENTIAL", false, false),
    (94, "INCONSISTENT_VOTER_SET", false, false),
    (95, "INVALID_UPDATE_VERSION", false, false),
    (96, "FEATURE_UPDATE_FAILED", false, false),
    (97, "PRINCIPAL_DESERIALIZATION_FAILURE", false, false),
    (98, "SNAPSHOT_NOT_FOUND", false, false),
    (99, "POSITION_OUT_OF_RANGE", false, false),
    (100, "UNKNOWN_TOPIC_ID", true, true),
    (101, "DUPLICATE_BROKER_REGISTRATION", false, false),
    (102, "BROKER_ID_NOT_REGISTERED", false, false),
    (103, "INCONSISTENT_TOPIC_ID", true, true),
    (104, "INCONSISTENT_CLUSTER_ID", false, false),
    (105, "TRANSACTIONAL_ID_NOT_FOUND", false, false),
    (106, "FETCH_SESSION_TOPIC_ID_ERROR", true, false),
    (107, "INELIGIBLE_REPLICA", false, false),
    (108, "NEW_LEADER_ELECTED", false, false),
    (109, "OFFSET_MOVED_TO_TIERED_STORAGE", false, false),
    (110, "FENCED_MEMBER_EPOCH", false, false),
    (111, "UNRELEASED_INSTANCE_ID", false, false),
    (112, "UNSUPPORTED_ASSIGNOR", false, false),
    (113, "STALE_MEMBER_EPOCH", false, false),
    (114, "MISMATCHED_ENDPOINT_TYPE", false, false),
    (115, "UNSUPPORTED_ENDPOINT_TYPE", false, false),
    (116, "UNKNOWN_CONTROLLER_ID", false, false),
    (117, "UNKNOWN_SUBSCRIPTION_ID", false, false),
    (118, "TELEMETRY_TOO_LARGE", false, false),
    (119, "INVALID_REGISTRATION", false, false),
    (120, "TRANSACTION_ABORTABLE", false, false),
    (121, "INVALID_RECORD_STATE", false, false),
    (122, "SHARE_SESSION_NOT_FOUND", true, false),
    (123, "INVALID_SHARE_SESSION_EPOCH", true, false),
    (124, "FENCED_STATE_EPOCH", false, false),
    (125, "INVALID_VOTER_KEY", false, false),
    (126, "DUPLICATE_VOTER", false, false),
    (127, "VOTER_NOT_FOUND", false, false),
    (128, "INVALID_REGULAR_EXPRESSION", false, false),
    (129, "REBOOTSTRAP_REQUIRED", false, false),
    (130, "STREAMS_INVALID_TOPOLOGY", false, false),
    (131, "STREAMS_INVALID_TOPOLOGY_EPOCH", false, false),
    (132, "STREAMS_TOPOLOGY_FENCED", false, false),
    (133, "SHARE_SESSION_LIMIT_REACHED", true, false),
];

/// Look up a Kafka error code; unknown codes are not retriable.
pub fn kafka_code(code: i16) -> KafkaCode {
    CODES.iter().find(|c| c.0 == code).map_or(
        KafkaCode {
            code,
            name: "UNKNOWN_ERROR_CODE",
            retriable: false,
            refresh_metadata: false,
        },
        |&(code, name, retriable, refresh_metadata)| KafkaCode {
            code,
            name,
            retriable,
            refresh_metadata,
        },
    )
}
