//! The reader's one error type: every variant names what failed (broker, topic, partition,
//! offsets) so the CLI can print it as one line.

use std::sync::Arc;

use kbatch_engine::EngineError;
use kbatch_records::RecordsError;
use kbatch_wire::WireError;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Talking to a broker failed (connect, timeout, framing, protocol).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The topic does not exist on the cluster.
    #[error("topic {topic:?} does not exist (UNKNOWN_TOPIC_OR_PARTITION)")]
    UnknownTopic {
        /// Topic.
        topic: String,
    },
    /// A requested partition does not exist.
    #[error("topic {topic:?} has no partition {partition} (it has {count})")]
    UnknownPartition {
        /// Topic.
        topic: String,
        /// Requested partition.
        partition: i32,
        /// How many partitions the topic has.
        count: usize,
    },
    /// Kafka answered a request about one partition with an error code.
    #[error("{topic}/{partition}: {what} failed: {code_name} (Kafka error {code})")]
    Kafka {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The request.
        what: &'static str,
        /// Kafka error code.
        code: i16,
        /// Its name.
        code_name: &'static str,
    },
    /// An explicit offset outside what the partition holds.
    #[error("{topic}/{partition}: offset {offset} is outside the partition's offsets [{earliest}, {latest}]")]
    OffsetOutOfRange {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The offset asked for.
        offset: i64,
        /// Log start offset.
        earliest: i64,
        /// Latest offset for the isolation level.
        latest: i64,
    },
    /// An explicit end beyond the last stable offset under read_committed.
    #[error("{topic}/{partition}: end offset {end} is beyond the last stable offset {lso} (high watermark {hwm}): a transaction is still open; end at {lso} or read with --isolation read_uncommitted")]
    OpenTransaction {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The requested end.
        end: i64,
        /// Last stable offset.
        lso: i64,
        /// High watermark.
        hwm: i64,
    },
    /// The start of a range lies after its end.
    #[error("{topic}/{partition}: range start {start} is after its end {end}")]
    StartAfterEnd {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Start.
        start: i64,
        /// End.
        end: i64,
    },
    /// Records of the range are gone from the log (retention or delete-records) or the log was
    /// truncated below the range: the missing range is named, nothing is reset.
    #[error("{topic}/{partition}: offsets [{from}, {until}) of the range are no longer in the log (log start {log_start}, high watermark {hwm}); nothing was skipped")]
    MissingRange {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// First missing offset.
        from: i64,
        /// First offset past the missing ones.
        until: i64,
        /// The partition's log start offset as last reported.
        log_start: i64,
        /// The partition's high watermark as last reported.
        hwm: i64,
    },
    /// Retries of a retriable error ran out of time.
    #[error(
        "{topic}/{partition} at offset {offset}: gave up after {elapsed_ms} ms of retries: {last}"
    )]
    RetriesExhausted {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Fetch position.
        offset: i64,
        /// Time spent retrying.
        elapsed_ms: u64,
        /// The last error seen.
        last: String,
    },
    /// A record batch could not be decoded.
    #[error("{topic}/{partition}: {source}")]
    Decode {
        /// Topic.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// What the decoder found.
        #[source]
        source: RecordsError,
    },
    /// The job refused a record.
    #[error("{topic}/{partition} offset {offset}: {message}")]
    Job {
        /// Topic.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// The record's offset.
        offset: i64,
        /// Why.
        message: String,
    },
    /// Internal consistency check: a partition's decoding stopped short of its end.
    #[error(
        "{topic}/{partition}: decoding stopped at offset {decoded}, before the range end {end}"
    )]
    Incomplete {
        /// Topic.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// Where decoding stopped.
        decoded: i64,
        /// The range end.
        end: i64,
    },
    /// A setting is unusable (e.g. no bootstrap address).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl From<EngineError<ReadError>> for ReadError {
    fn from(e: EngineError<ReadError>) -> Self {
        match e {
            EngineError::Decode {
                topic,
                partition,
                source,
            } => ReadError::Decode {
                topic,
                partition,
                source,
            },
            EngineError::Job {
                topic,
                partition,
                offset,
                message,
            } => ReadError::Job {
                topic,
                partition,
                offset,
                message,
            },
            EngineError::Incomplete {
                topic,
                partition,
                decoded,
                end,
            } => ReadError::Incomplete {
                topic,
                partition,
                decoded,
                end,
            },
            EngineError::Feed(e) => e,
        }
    }
}
