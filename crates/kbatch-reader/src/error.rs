//! The reader's one error type: every variant names what failed (broker, topic, partition,
//! offsets) so the CLI can print it as one line.

use kbatch_engine::EngineError;
use kbatch_records::RecordsError;
use kbatch_wire::{ErrorClass, WireError};

use crate::PartitionPlan;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Talking to a broker failed (connect, timeout, framing, protocol). Kafka error codes
    /// never stay here: `From<WireError>` turns them into [`ReadError::Kafka`].
    #[error(transparent)]
    Wire(WireError),
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
    /// Kafka answered with an error code: about one partition, a whole topic, or a request
    /// that concerns neither (then the broker is named). The one way an error code reaches
    /// users: a `WireError::Kafka` becomes this variant on its way out of the wire layer.
    #[error("{}", kafka_line(.topic.as_deref(), *.partition, .broker.as_deref(), .what, .code_name, *.code))]
    Kafka {
        /// Topic, when the answer was about one.
        topic: Option<String>,
        /// Partition, when the answer was about one.
        partition: Option<i32>,
        /// The broker that answered, when no topic is concerned.
        broker: Option<String>,
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
    /// kbatch's own I/O runtime could not be started (threads, timers): nothing the user's
    /// arguments can fix.
    #[error("cannot start kbatch's I/O runtime")]
    Runtime(#[source] std::io::Error),
    /// Code of the read panicked — a bug in kbatch or in the job. The panic was caught where
    /// the task or thread that hit it ended, so the read fails with this error instead of
    /// ending early as if it were complete.
    #[error("{}", panicked_line(.what, .topic.as_deref(), *.partition, .message))]
    Panicked {
        /// What was under way: `connecting`, `planning`, `reading`.
        what: &'static str,
        /// The topic being read, when the read concerned one topic.
        topic: Option<String>,
        /// The partition being read, when the read concerned one partition.
        partition: Option<i32>,
        /// The panic's message.
        message: String,
    },
}

/// What kind of failure a [`ReadError`] is: what every front end decides from (the CLI's exit
/// code, the Python exception class, whether Spark's task retry can help).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A bad argument, SPEC or setting: nothing was (or should have been) asked of a broker.
    Usage,
    /// What was asked for is not in the cluster: an unknown topic or partition, offsets
    /// outside the log, records gone, a topic deleted or recreated during the read.
    Range,
    /// Talking to the cluster failed: unreachable, timed out, protocol, Kafka error codes.
    Broker,
    /// The cluster refused who we are: SASL, TLS verification, authorization.
    Auth,
    /// A record batch in range could not be decoded, or the job refused a record.
    Data,
    /// kbatch itself failed: a panic (a bug), a runtime that could not start or shut down.
    Internal,
}

impl ErrorKind {
    /// The kind's name in lower case (`usage`, `range`, …), as messages and Python show it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Range => "range",
            ErrorKind::Broker => "broker",
            ErrorKind::Auth => "auth",
            ErrorKind::Data => "data",
            ErrorKind::Internal => "internal",
        }
    }
}

fn kafka_line(
    topic: Option<&str>,
    partition: Option<i32>,
    broker: Option<&str>,
    what: &str,
    code_name: &str,
    code: i16,
) -> String {
    match (topic, partition, broker) {
        (Some(t), Some(p), _) => {
            format!("{t}/{p}: {what} failed: {code_name} (Kafka error {code})")
        }
        (Some(t), None, _) => {
            format!("topic {t:?}: {what} failed: {code_name} (Kafka error {code})")
        }
        (None, _, Some(b)) => {
            format!("broker {b}: {what} failed with {code_name} (Kafka error {code})")
        }
        (None, _, None) => format!("{what} failed: {code_name} (Kafka error {code})"),
    }
}

fn panicked_line(what: &str, topic: Option<&str>, partition: Option<i32>, message: &str) -> String {
    let about = match (topic, partition) {
        (Some(t), Some(p)) => format!(" {t}/{p}"),
        (Some(t), None) => format!(" topic {t:?}"),
        (None, _) => String::new(),
    };
    format!(
        "internal error while {what}{about}: kbatch panicked: {message} (a bug; the read did not complete)"
    )
}

/// The message of a caught panic (`panic!`'s text), or a stand-in when it carried none.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

impl From<WireError> for ReadError {
    /// A Kafka error code answered to a request that concerns no partition becomes
    /// [`ReadError::Kafka`] naming the broker: one variant for every error code.
    fn from(e: WireError) -> Self {
        match e {
            WireError::Kafka {
                addr,
                api,
                code,
                name,
            } => ReadError::Kafka {
                topic: None,
                partition: None,
                broker: Some(addr),
                what: api,
                code,
                code_name: name,
            },
            other => ReadError::Wire(other),
        }
    }
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
    /// A panic caught while `what` was under way for `plan`, naming its topic if the plan
    /// reads one topic, and its partition if it reads one partition.
    pub fn panicked(
        what: &'static str,
        plan: &[PartitionPlan],
        payload: &(dyn std::any::Any + Send),
    ) -> ReadError {
        let first = plan.first().map(|p| &p.spec);
        let one_topic = first.filter(|f| plan.iter().all(|p| p.spec.topic == f.topic));
        ReadError::Panicked {
            what,
            topic: one_topic.map(|f| f.topic.to_string()),
            partition: one_topic.filter(|_| plan.len() == 1).map(|f| f.partition),
            message: panic_message(payload),
        }
    }

    /// What kind of failure this is. Decided here once, by an exhaustive match, for every
    /// front end: a new variant does not compile until it has a kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReadError::Config(_) => ErrorKind::Usage,
            ReadError::UnknownTopic { .. }
            | ReadError::UnknownPartition { .. }
            | ReadError::OffsetOutOfRange { .. }
            | ReadError::OpenTransaction { .. }
            | ReadError::StartAfterEnd { .. }
            | ReadError::MissingRange { .. }
            | ReadError::Truncated { .. }
            | ReadError::TopicChanged { .. } => ErrorKind::Range,
            ReadError::Wire(w) => wire_kind(w),
            ReadError::Kafka { code, .. } => code_kind(*code),
            ReadError::RetriesExhausted { .. } | ReadError::PlanRetriesExhausted { .. } => {
                ErrorKind::Broker
            }
            ReadError::Decode { .. } => ErrorKind::Data,
            ReadError::Engine(e) => match &**e {
                EngineError::Decode { .. } | EngineError::Job { .. } => ErrorKind::Data,
                EngineError::Incomplete { .. } => ErrorKind::Internal,
                EngineError::Feed(e) => e.kind(),
            },
            ReadError::Cancelled | ReadError::Runtime(_) | ReadError::Panicked { .. } => {
                ErrorKind::Internal
            }
        }
    }

    /// Trying the same read again later may succeed: the broker was unreachable or kept
    /// answering with a retriable Kafka error (also once this read's own retries ran out), a
    /// leader moved. Usage, range, authentication, data and internal errors are final: the
    /// same read meets them again.
    pub fn retriable(&self) -> bool {
        match self {
            ReadError::Wire(w) => w.is_retriable(),
            ReadError::Kafka { code, .. } => kbatch_wire::kafka_code(*code).retriable,
            ReadError::RetriesExhausted { .. } => true,
            ReadError::PlanRetriesExhausted { last, .. } => last.retriable(),
            ReadError::Engine(e) => match &**e {
                EngineError::Feed(e) => e.retriable(),
                EngineError::Decode { .. }
                | EngineError::Job { .. }
                | EngineError::Incomplete { .. } => false,
            },
            ReadError::Config(_)
            | ReadError::UnknownTopic { .. }
            | ReadError::UnknownPartition { .. }
            | ReadError::OffsetOutOfRange { .. }
            | ReadError::OpenTransaction { .. }
            | ReadError::StartAfterEnd { .. }
            | ReadError::MissingRange { .. }
            | ReadError::Truncated { .. }
            | ReadError::TopicChanged { .. }
            | ReadError::Decode { .. }
            | ReadError::Cancelled
            | ReadError::Runtime(_)
            | ReadError::Panicked { .. } => false,
        }
    }

    /// The topic the failure is about, if it is about one.
    pub fn topic(&self) -> Option<&str> {
        match self {
            ReadError::UnknownTopic { topic }
            | ReadError::UnknownPartition { topic, .. }
            | ReadError::OffsetOutOfRange { topic, .. }
            | ReadError::OpenTransaction { topic, .. }
            | ReadError::StartAfterEnd { topic, .. }
            | ReadError::MissingRange { topic, .. }
            | ReadError::RetriesExhausted { topic, .. }
            | ReadError::Truncated { topic, .. }
            | ReadError::TopicChanged { topic, .. }
            | ReadError::Decode { topic, .. } => Some(topic),
            ReadError::Kafka { topic, .. } | ReadError::Panicked { topic, .. } => topic.as_deref(),
            ReadError::PlanRetriesExhausted { last, .. } => last.topic(),
            ReadError::Engine(e) => match &**e {
                EngineError::Decode { topic, .. }
                | EngineError::Job { topic, .. }
                | EngineError::Incomplete { topic, .. } => Some(topic),
                EngineError::Feed(e) => e.topic(),
            },
            ReadError::Wire(_)
            | ReadError::Cancelled
            | ReadError::Config(_)
            | ReadError::Runtime(_) => None,
        }
    }

    /// The partition the failure is about, if it is about one.
    pub fn partition(&self) -> Option<i32> {
        match self {
            ReadError::UnknownPartition { partition, .. }
            | ReadError::OffsetOutOfRange { partition, .. }
            | ReadError::OpenTransaction { partition, .. }
            | ReadError::StartAfterEnd { partition, .. }
            | ReadError::MissingRange { partition, .. }
            | ReadError::RetriesExhausted { partition, .. }
            | ReadError::Truncated { partition, .. }
            | ReadError::Decode { partition, .. } => Some(*partition),
            ReadError::Kafka { partition, .. } | ReadError::Panicked { partition, .. } => {
                *partition
            }
            ReadError::PlanRetriesExhausted { last, .. } => last.partition(),
            ReadError::Engine(e) => match &**e {
                EngineError::Decode { partition, .. }
                | EngineError::Job { partition, .. }
                | EngineError::Incomplete { partition, .. } => Some(*partition),
                EngineError::Feed(e) => e.partition(),
            },
            ReadError::Wire(_)
            | ReadError::UnknownTopic { .. }
            | ReadError::TopicChanged { .. }
            | ReadError::Cancelled
            | ReadError::Config(_)
            | ReadError::Runtime(_) => None,
        }
    }

    /// Worth retrying within this read (after a metadata refresh): [`ReadError::retriable`]
    /// except for the errors that say the read's own retries already ran out.
    pub(crate) fn is_retriable(&self) -> bool {
        match self {
            ReadError::RetriesExhausted { .. } | ReadError::PlanRetriesExhausted { .. } => false,
            other => other.retriable(),
        }
    }
}

/// The kind of a wire failure: every variant listed, so a new one needs a decision.
fn wire_kind(w: &WireError) -> ErrorKind {
    match w {
        WireError::Auth { .. } | WireError::Tls { .. } => ErrorKind::Auth,
        WireError::Kafka { code, .. } => code_kind(*code),
        WireError::Connect { .. }
        | WireError::Io { .. }
        | WireError::Timeout { .. }
        | WireError::FrameTooLarge { .. }
        | WireError::LooksLikeHttp { .. }
        | WireError::LooksLikeTls { .. }
        | WireError::Protocol { .. }
        | WireError::Decode { .. }
        | WireError::BrokerTooOld { .. }
        | WireError::UnknownBroker { .. } => ErrorKind::Broker,
    }
}

/// The kind of a Kafka error code, from its class in the wire crate's one table.
fn code_kind(code: i16) -> ErrorKind {
    match kbatch_wire::kafka_code(code).class {
        ErrorClass::Auth => ErrorKind::Auth,
        ErrorClass::DataLoss => ErrorKind::Range,
        ErrorClass::Retriable | ErrorClass::LeaderMoved | ErrorClass::Fatal => ErrorKind::Broker,
        // An "error" without an error code is a bug in whoever made it.
        ErrorClass::None => ErrorKind::Internal,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kbatch_engine::EngineError;
    use kbatch_records::RecordsError;
    use kbatch_wire::{codes, WireError};

    use super::{ErrorKind, ReadError};

    fn kafka(topic: Option<&str>, partition: Option<i32>, code: i16) -> ReadError {
        ReadError::Kafka {
            topic: topic.map(str::to_string),
            partition,
            broker: None,
            what: "Fetch",
            code,
            code_name: kbatch_wire::kafka_code(code).name,
        }
    }

    fn wire_kafka(code: i16) -> ReadError {
        WireError::Kafka {
            addr: "b:1".into(),
            api: "Fetch",
            code,
            name: kbatch_wire::kafka_code(code).name,
        }
        .into()
    }

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn kind_retriable_topic_and_partition_of_representative_errors() {
        use ErrorKind::*;
        let t = Some("t");
        // (error, kind, retriable, topic, partition)
        type Row = (
            ReadError,
            ErrorKind,
            bool,
            Option<&'static str>,
            Option<i32>,
        );
        let rows: Vec<Row> = vec![
            (
                ReadError::Config(s("no bootstrap address")),
                Usage,
                false,
                None,
                None,
            ),
            (
                ReadError::UnknownTopic { topic: s("t") },
                Range,
                false,
                t,
                None,
            ),
            (
                ReadError::UnknownPartition {
                    topic: s("t"),
                    partition: 9,
                    count: 3,
                },
                Range,
                false,
                t,
                Some(9),
            ),
            (
                ReadError::MissingRange {
                    topic: s("t"),
                    partition: 1,
                    from: 0,
                    until: 5,
                    log_start: 5,
                    hwm: 9,
                },
                Range,
                false,
                t,
                Some(1),
            ),
            (
                ReadError::TopicChanged {
                    topic: s("t"),
                    what: s("deleted"),
                    planned: s("x"),
                },
                Range,
                false,
                t,
                None,
            ),
            (
                ReadError::Wire(WireError::Connect {
                    addr: s("b:1"),
                    reason: s("refused"),
                }),
                Broker,
                true,
                None,
                None,
            ),
            (
                ReadError::Wire(WireError::Protocol {
                    addr: s("b:1"),
                    reason: s("bad"),
                }),
                Broker,
                false,
                None,
                None,
            ),
            (
                ReadError::Wire(WireError::Tls {
                    addr: s("b:1"),
                    reason: s("unknown CA"),
                }),
                Auth,
                false,
                None,
                None,
            ),
            (
                ReadError::Wire(WireError::Auth {
                    addr: s("b:1"),
                    mechanism: "PLAIN",
                    reason: s("bad password"),
                }),
                Auth,
                false,
                None,
                None,
            ),
            (
                kafka(t, Some(0), codes::NOT_LEADER_OR_FOLLOWER),
                Broker,
                true,
                t,
                Some(0),
            ),
            (
                kafka(t, Some(0), codes::TOPIC_AUTHORIZATION_FAILED),
                Auth,
                false,
                t,
                Some(0),
            ),
            (
                kafka(t, None, codes::INVALID_REQUEST),
                Broker,
                false,
                t,
                None,
            ),
            (
                kafka(t, Some(2), codes::OFFSET_OUT_OF_RANGE),
                Range,
                false,
                t,
                Some(2),
            ),
            (
                wire_kafka(codes::CLUSTER_AUTHORIZATION_FAILED),
                Auth,
                false,
                None,
                None,
            ),
            (
                wire_kafka(codes::REQUEST_TIMED_OUT),
                Broker,
                true,
                None,
                None,
            ),
            (
                ReadError::RetriesExhausted {
                    topic: s("t"),
                    partition: 3,
                    offset: 7,
                    broker: s("node 1"),
                    elapsed_ms: 30_000,
                    last: s("timeout"),
                },
                Broker,
                true,
                t,
                Some(3),
            ),
            (
                ReadError::PlanRetriesExhausted {
                    elapsed_ms: 30_000,
                    last: Box::new(kafka(t, Some(4), codes::LEADER_NOT_AVAILABLE)),
                },
                Broker,
                true,
                t,
                Some(4),
            ),
            (
                ReadError::Decode {
                    topic: s("t"),
                    partition: 5,
                    broker: s("node 1"),
                    source: RecordsError::Crc {
                        base_offset: 0,
                        expected: 1,
                        actual: 2,
                    },
                },
                Data,
                false,
                t,
                Some(5),
            ),
            (
                ReadError::from(EngineError::Job {
                    topic: Arc::from("t"),
                    partition: 6,
                    offset: 10,
                    message: s("not an event"),
                }),
                Data,
                false,
                t,
                Some(6),
            ),
            (
                ReadError::from(EngineError::Incomplete {
                    topic: Arc::from("t"),
                    partition: 7,
                    decoded: 3,
                    end: 9,
                }),
                Internal,
                false,
                t,
                Some(7),
            ),
            (
                ReadError::from(EngineError::<ReadError>::Feed(ReadError::UnknownTopic {
                    topic: s("t"),
                })),
                Range,
                false,
                t,
                None,
            ),
            (ReadError::Cancelled, Internal, false, None, None),
            (
                ReadError::Runtime(std::io::Error::other("no threads")),
                Internal,
                false,
                None,
                None,
            ),
            (
                ReadError::Panicked {
                    what: "reading",
                    topic: Some(s("t")),
                    partition: Some(8),
                    message: s("boom"),
                },
                Internal,
                false,
                t,
                Some(8),
            ),
        ];
        for (e, kind, retriable, topic, partition) in rows {
            assert_eq!(
                (e.kind(), e.retriable(), e.topic(), e.partition()),
                (kind, retriable, topic, partition),
                "{e}"
            );
        }
    }

    #[test]
    fn a_wire_kafka_error_becomes_the_one_kafka_variant() {
        let e = wire_kafka(codes::CLUSTER_AUTHORIZATION_FAILED);
        assert!(
            matches!(&e, ReadError::Kafka { broker: Some(b), topic: None, .. } if b == "b:1"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "broker b:1: Fetch failed with CLUSTER_AUTHORIZATION_FAILED (Kafka error 31)"
        );
        assert_eq!(
            kafka(Some("t"), Some(0), 29).to_string(),
            "t/0: Fetch failed: TOPIC_AUTHORIZATION_FAILED (Kafka error 29)"
        );
        assert_eq!(
            kafka(Some("t"), None, 29).to_string(),
            "topic \"t\": Fetch failed: TOPIC_AUTHORIZATION_FAILED (Kafka error 29)"
        );
    }

    #[test]
    fn exhausted_retries_are_not_retried_within_the_read() {
        let e = ReadError::RetriesExhausted {
            topic: s("t"),
            partition: 0,
            offset: 0,
            broker: s("node 1"),
            elapsed_ms: 1,
            last: s("timeout"),
        };
        assert!(e.retriable() && !e.is_retriable());
        assert!(wire_kafka(codes::REQUEST_TIMED_OUT).is_retriable());
    }

    #[test]
    fn a_panic_message_is_read_from_either_payload() {
        let r = std::panic::catch_unwind(|| panic!("static text")).unwrap_err();
        assert_eq!(super::panic_message(&*r), "static text");
        let n = 3;
        let r = std::panic::catch_unwind(|| panic!("formatted {n}")).unwrap_err();
        assert_eq!(super::panic_message(&*r), "formatted 3");
    }
}
