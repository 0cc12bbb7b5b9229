//! The reader's one error type: every variant names what failed (broker, topic, partition,
//! offsets) so the CLI can print it as one line.

use kbatch_engine::EngineError;
use kbatch_records::RecordsError;
use kbatch_wire::WireError;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// Kafka answered a request about a whole topic with an error code.
    #[error("topic {topic:?}: {what} failed: {code_name} (Kafka error {code})")]
    TopicKafka {
        /// Topic.
        topic: String,
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
    /// A partition made no progress for the whole time budget (`Config::timeout`): its
    /// broker was unreachable, kept answering with a retriable error, or kept it waiting.
    #[error("{topic}/{partition} at offset {offset}: no progress for {elapsed_ms} ms (broker {broker}); last cause: {last}")]
    RetriesExhausted {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Fetch position.
        offset: i64,
        /// The broker last asked (`node N (host:port)`, or the bootstrap list).
        broker: String,
        /// Time without progress.
        elapsed_ms: u64,
        /// The last cause seen.
        last: String,
    },
    /// Planning (Metadata, ListOffsets) kept failing for the whole time budget.
    #[error("planning the read failed for {elapsed_ms} ms of retries; last cause: {last}")]
    PlanRetriesExhausted {
        /// Time spent retrying.
        elapsed_ms: u64,
        /// The last error.
        #[source]
        last: Box<ReadError>,
    },
    /// Records already read, or still to read, are no longer in the partition's log: its leader
    /// truncated it (an unclean election, or a leader's high watermark that never came back).
    #[error("{topic}/{partition}: log truncated below offset {offset} on broker {broker} ({detail}); nothing was skipped")]
    Truncated {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The fetch position the log no longer reaches.
        offset: i64,
        /// The broker that reported it.
        broker: String,
        /// What showed it (a diverging epoch, a high watermark below the position).
        detail: String,
    },
    /// The topic was deleted, or deleted and created again, while it was read: offsets of
    /// two incarnations must never be mixed.
    #[error("topic {topic:?} was {what} during the read (planned with topic id {planned}); its offsets no longer mean what they did")]
    TopicChanged {
        /// Topic.
        topic: String,
        /// `deleted` or `recreated (topic id now …)`.
        what: String,
        /// The topic id the read was planned with.
        planned: String,
    },
    /// A fetched batch's header or CRC is corrupt (found by the fetch loop's header walk,
    /// before anything of it reached the engine).
    #[error("{topic}/{partition} from broker {broker}: {source}")]
    Decode {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The broker that sent it.
        broker: String,
        /// What the header walk found (it names the batch's base offset).
        #[source]
        source: RecordsError,
    },
    /// A record batch could not be decoded, the job refused a record, or decoding stopped
    /// short: the engine's error, which names topic, partition and offset.
    #[error(transparent)]
    Engine(Box<EngineError<ReadError>>),
    /// The runtime running an [`AsyncReader`](crate::AsyncReader) read shut down under it.
    #[error("the read was cancelled: its runtime shut down")]
    Cancelled,
    /// A setting is unusable (e.g. no bootstrap address).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl From<EngineError<ReadError>> for ReadError {
    /// The reader's own errors travel through the engine as its feed error; they come back
    /// as themselves, not wrapped twice.
    fn from(e: EngineError<ReadError>) -> Self {
        match e {
            EngineError::Feed(e) => e,
            other => ReadError::Engine(Box::new(other)),
        }
    }
}

impl ReadError {
    /// Worth planning again (after a metadata refresh): connection trouble, leader moves and
    /// other retriable Kafka codes. Range errors, unknown topics, authentication are final.
    pub(crate) fn is_retriable(&self) -> bool {
        match self {
            ReadError::Wire(e) => e.is_retriable(),
            ReadError::Kafka { code, .. } | ReadError::TopicKafka { code, .. } => {
                kbatch_wire::kafka_code(*code).retriable
            }
            _ => false,
        }
    }
}

/// One line for a chain of error messages, outermost first (a context, then an error and its
/// `source()`s): each message once — one that an earlier message already contains is dropped,
/// as `thiserror`'s transparent and `{source}` variants repeat their cause — joined by `": "`,
/// newlines flattened. The CLI prints it after `kbatch: `; the Python package's exceptions
/// carry it, so both say the same thing about the same failure.
pub fn one_line<I>(messages: I) -> String
where
    I: IntoIterator,
    I::Item: std::fmt::Display,
{
    let mut parts: Vec<String> = Vec::new();
    for m in messages {
        let s = m.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// `e` and its `source()` chain, outermost first (for [`one_line`]).
pub fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}
