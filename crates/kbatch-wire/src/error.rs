//! `WireError`, and the one table of Kafka error codes.

use std::time::Duration;

use crate::decode::DecodeError;

/// Why talking to a broker failed. Every variant names the broker address.
// Not `non_exhaustive`: the reader decides each variant's kind and retriability by an
// exhaustive match, so a new variant must be given both.
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
            WireError::FrameTooLarge { .. }
            | WireError::LooksLikeHttp { .. }
            | WireError::LooksLikeTls { .. }
            | WireError::Protocol { .. }
            | WireError::Decode { .. }
            | WireError::BrokerTooOld { .. }
            | WireError::Tls { .. }
            | WireError::Auth { .. } => false,
        }
    }
}

/// What a reader should do about a Kafka error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// No error.
    None,
    /// Transient on the same broker: back off and ask again.
    Retriable,
    /// The partition's leadership (or the broker's view of it) moved: refresh metadata, then
    /// ask the partition's leader as metadata now names it.
    LeaderMoved,
    /// Records the read needs are gone (retention, delete-records, truncation): never retried,
    /// never reset; the missing range is reported.
    DataLoss,
    /// Authentication or authorization refused: retrying cannot help, and retrying a bad
    /// password is a lockout risk. Fatal, reported once.
    Auth,
    /// Anything else: a bug or a request the broker will never accept. Fatal.
    Fatal,
}

/// One Kafka error code: its name and what a reader should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaCode {
    /// The code.
    pub code: i16,
    /// Kafka's name for it.
    pub name: &'static str,
    /// What to do about it.
    pub class: ErrorClass,
    /// Trying again (after a backoff, and a metadata refresh for leader moves) may succeed.
    pub retriable: bool,
    /// The partition's leadership may have moved: refresh metadata before retrying.
    pub refresh_metadata: bool,
}

/// Declares every Kafka error code once: a named constant in [`codes`] and a row of the table
/// [`kafka_code`] reads, so a code's number, name and class cannot disagree.
macro_rules! error_codes {
    ($($name:ident = $code:literal => $class:ident;)*) => {
        /// Kafka's error codes by name (the protocol guide's table), so no code is a bare number.
        pub mod codes {
            $(
                #[doc = concat!("Kafka error code ", stringify!($code), ".")]
                pub const $name: i16 = $code;
            )*
        }
        const CODES: &[(i16, &str, ErrorClass)] = &[$(($code, stringify!($name), ErrorClass::$class)),*];
    };
}

// Classes follow the Java client's `RetriableException`/`InvalidMetadataException` split:
// LeaderMoved = the Java client's InvalidMetadataException family (it refreshes metadata);
// Retriable = the other retriable ones; OFFSET_OUT_OF_RANGE is data loss for a bounded read
// (never an automatic reset); authentication and authorization failures are their own class.
error_codes! {
    UNKNOWN_SERVER_ERROR = -1 => Fatal;
    NONE = 0 => None;
    OFFSET_OUT_OF_RANGE = 1 => DataLoss;
    CORRUPT_MESSAGE = 2 => Retriable;
    UNKNOWN_TOPIC_OR_PARTITION = 3 => LeaderMoved;
    INVALID_FETCH_SIZE = 4 => Fatal;
    LEADER_NOT_AVAILABLE = 5 => LeaderMoved;
    NOT_LEADER_OR_FOLLOWER = 6 => LeaderMoved;
    REQUEST_TIMED_OUT = 7 => Retriable;
    BROKER_NOT_AVAILABLE = 8 => Fatal;
    REPLICA_NOT_AVAILABLE = 9 => LeaderMoved;
    MESSAGE_TOO_LARGE = 10 => Fatal;
    STALE_CONTROLLER_EPOCH = 11 => Fatal;
    OFFSET_METADATA_TOO_LARGE = 12 => Fatal;
    NETWORK_EXCEPTION = 13 => LeaderMoved;
    COORDINATOR_LOAD_IN_PROGRESS = 14 => Retriable;
    COORDINATOR_NOT_AVAILABLE = 15 => Retriable;
    NOT_COORDINATOR = 16 => Retriable;
    INVALID_TOPIC_EXCEPTION = 17 => Fatal;
    RECORD_LIST_TOO_LARGE = 18 => Fatal;
    NOT_ENOUGH_REPLICAS = 19 => Retriable;
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20 => Retriable;
    INVALID_REQUIRED_ACKS = 21 => Fatal;
    ILLEGAL_GENERATION = 22 => Fatal;
    INCONSISTENT_GROUP_PROTOCOL = 23 => Fatal;
    INVALID_GROUP_ID = 24 => Fatal;
    UNKNOWN_MEMBER_ID = 25 => Fatal;
    INVALID_SESSION_TIMEOUT = 26 => Fatal;
    REBALANCE_IN_PROGRESS = 27 => Fatal;
    INVALID_COMMIT_OFFSET_SIZE = 28 => Fatal;
    TOPIC_AUTHORIZATION_FAILED = 29 => Auth;
    GROUP_AUTHORIZATION_FAILED = 30 => Auth;
    CLUSTER_AUTHORIZATION_FAILED = 31 => Auth;
    INVALID_TIMESTAMP = 32 => Fatal;
    UNSUPPORTED_SASL_MECHANISM = 33 => Auth;
    ILLEGAL_SASL_STATE = 34 => Auth;
    UNSUPPORTED_VERSION = 35 => Fatal;
    TOPIC_ALREADY_EXISTS = 36 => Fatal;
    INVALID_PARTITIONS = 37 => Fatal;
    INVALID_REPLICATION_FACTOR = 38 => Fatal;
    INVALID_REPLICA_ASSIGNMENT = 39 => Fatal;
    INVALID_CONFIG = 40 => Fatal;
    NOT_CONTROLLER = 41 => LeaderMoved;
    INVALID_REQUEST = 42 => Fatal;
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43 => Fatal;
    POLICY_VIOLATION = 44 => Fatal;
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45 => Fatal;
    DUPLICATE_SEQUENCE_NUMBER = 46 => Fatal;
    INVALID_PRODUCER_EPOCH = 47 => Fatal;
    INVALID_TXN_STATE = 48 => Fatal;
    INVALID_PRODUCER_ID_MAPPING = 49 => Fatal;
    INVALID_TRANSACTION_TIMEOUT = 50 => Fatal;
    CONCURRENT_TRANSACTIONS = 51 => Fatal;
    TRANSACTION_COORDINATOR_FENCED = 52 => Fatal;
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53 => Auth;
    SECURITY_DISABLED = 54 => Fatal;
    OPERATION_NOT_ATTEMPTED = 55 => Fatal;
    KAFKA_STORAGE_ERROR = 56 => LeaderMoved;
    LOG_DIR_NOT_FOUND = 57 => Fatal;
    SASL_AUTHENTICATION_FAILED = 58 => Auth;
    UNKNOWN_PRODUCER_ID = 59 => Fatal;
    REASSIGNMENT_IN_PROGRESS = 60 => Fatal;
    DELEGATION_TOKEN_AUTH_DISABLED = 61 => Fatal;
    DELEGATION_TOKEN_NOT_FOUND = 62 => Fatal;
    DELEGATION_TOKEN_OWNER_MISMATCH = 63 => Fatal;
    DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64 => Fatal;
    DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65 => Fatal;
    DELEGATION_TOKEN_EXPIRED = 66 => Fatal;
    INVALID_PRINCIPAL_TYPE = 67 => Fatal;
    NON_EMPTY_GROUP = 68 => Fatal;
    GROUP_ID_NOT_FOUND = 69 => Fatal;
    FETCH_SESSION_ID_NOT_FOUND = 70 => Retriable;
    INVALID_FETCH_SESSION_EPOCH = 71 => Retriable;
    LISTENER_NOT_FOUND = 72 => LeaderMoved;
    TOPIC_DELETION_DISABLED = 73 => Fatal;
    FENCED_LEADER_EPOCH = 74 => LeaderMoved;
    UNKNOWN_LEADER_EPOCH = 75 => LeaderMoved;
    UNSUPPORTED_COMPRESSION_TYPE = 76 => Fatal;
    STALE_BROKER_EPOCH = 77 => Fatal;
    OFFSET_NOT_AVAILABLE = 78 => LeaderMoved;
    MEMBER_ID_REQUIRED = 79 => Fatal;
    PREFERRED_LEADER_NOT_AVAILABLE = 80 => LeaderMoved;
    GROUP_MAX_SIZE_REACHED = 81 => Fatal;
    FENCED_INSTANCE_ID = 82 => Fatal;
    ELIGIBLE_LEADERS_NOT_AVAILABLE = 83 => Retriable;
    ELECTION_NOT_NEEDED = 84 => Retriable;
    NO_REASSIGNMENT_IN_PROGRESS = 85 => Fatal;
    GROUP_SUBSCRIBED_TO_TOPIC = 86 => Fatal;
    INVALID_RECORD = 87 => Fatal;
    UNSTABLE_OFFSET_COMMIT = 88 => Retriable;
    THROTTLING_QUOTA_EXCEEDED = 89 => Retriable;
    PRODUCER_FENCED = 90 => Fatal;
    RESOURCE_NOT_FOUND = 91 => Fatal;
    DUPLICATE_RESOURCE = 92 => Fatal;
    UNACCEPTABLE_CREDENTIAL = 93 => Auth;
    INCONSISTENT_VOTER_SET = 94 => Fatal;
    INVALID_UPDATE_VERSION = 95 => Fatal;
    FEATURE_UPDATE_FAILED = 96 => Fatal;
    PRINCIPAL_DESERIALIZATION_FAILURE = 97 => Fatal;
    SNAPSHOT_NOT_FOUND = 98 => Fatal;
    POSITION_OUT_OF_RANGE = 99 => Fatal;
    UNKNOWN_TOPIC_ID = 100 => LeaderMoved;
    DUPLICATE_BROKER_REGISTRATION = 101 => Fatal;
    BROKER_ID_NOT_REGISTERED = 102 => Fatal;
    INCONSISTENT_TOPIC_ID = 103 => LeaderMoved;
    INCONSISTENT_CLUSTER_ID = 104 => Fatal;
    TRANSACTIONAL_ID_NOT_FOUND = 105 => Fatal;
    FETCH_SESSION_TOPIC_ID_ERROR = 106 => Retriable;
    INELIGIBLE_REPLICA = 107 => Fatal;
    NEW_LEADER_ELECTED = 108 => Fatal;
    OFFSET_MOVED_TO_TIERED_STORAGE = 109 => Fatal;
    FENCED_MEMBER_EPOCH = 110 => Fatal;
    UNRELEASED_INSTANCE_ID = 111 => Fatal;
    UNSUPPORTED_ASSIGNOR = 112 => Fatal;
    STALE_MEMBER_EPOCH = 113 => Fatal;
    MISMATCHED_ENDPOINT_TYPE = 114 => Fatal;
    UNSUPPORTED_ENDPOINT_TYPE = 115 => Fatal;
    UNKNOWN_CONTROLLER_ID = 116 => Fatal;
    UNKNOWN_SUBSCRIPTION_ID = 117 => Fatal;
    TELEMETRY_TOO_LARGE = 118 => Fatal;
    INVALID_REGISTRATION = 119 => Fatal;
    TRANSACTION_ABORTABLE = 120 => Fatal;
    INVALID_RECORD_STATE = 121 => Fatal;
    SHARE_SESSION_NOT_FOUND = 122 => Retriable;
    INVALID_SHARE_SESSION_EPOCH = 123 => Retriable;
    FENCED_STATE_EPOCH = 124 => Fatal;
    INVALID_VOTER_KEY = 125 => Fatal;
    DUPLICATE_VOTER = 126 => Fatal;
    VOTER_NOT_FOUND = 127 => Fatal;
    INVALID_REGULAR_EXPRESSION = 128 => Fatal;
    REBOOTSTRAP_REQUIRED = 129 => Fatal;
    STREAMS_INVALID_TOPOLOGY = 130 => Fatal;
    STREAMS_INVALID_TOPOLOGY_EPOCH = 131 => Fatal;
    STREAMS_TOPOLOGY_FENCED = 132 => Fatal;
    SHARE_SESSION_LIMIT_REACHED = 133 => Retriable;
}

/// Look up a Kafka error code; unknown codes are fatal.
pub fn kafka_code(code: i16) -> KafkaCode {
    let (name, class) = CODES
        .iter()
        .find(|c| c.0 == code)
        .map_or(("UNKNOWN_ERROR_CODE", ErrorClass::Fatal), |&(_, n, c)| {
            (n, c)
        });
    KafkaCode {
        code,
        name,
        class,
        retriable: matches!(class, ErrorClass::Retriable | ErrorClass::LeaderMoved),
        refresh_metadata: class == ErrorClass::LeaderMoved,
    }
}
