//! A scriptable Kafka-speaking mock broker (the role of librdkafka's mock cluster and
//! franz-go's `kfake`): real TCP on 127.0.0.1, so a test drives kbatch's real connection,
//! planner, fetch driver and policy, with every answer under the test's control.
//!
//! It serves ApiVersions (v0–3), Metadata (v9–12), ListOffsets (v6–9) and Fetch (v4–12), the
//! versions kbatch speaks, decoding requests and encoding responses with `kafka-protocol`.
//! By default it answers like a one-node cluster (node id 1) holding the topics given to
//! [`MockBroker::add_topic`] in memory, as record batches appended with
//! [`MockBroker::produce`] or [`MockBroker::append`]. Per API, a queue of one-shot entries
//! overrides that, in order:
//!
//! * an edit of the default answer ([`MockBroker::script_fetch`] and its siblings): the closure
//!   gets the decoded request and the response the log would give, and changes it — duplicate
//!   or unrequested partitions, diverging epochs, `throttle_time_ms`, a regressed high
//!   watermark, records cut mid-batch or with a bad CRC or lying lengths;
//! * error codes in sequence ([`MockBroker::push_errors`], like librdkafka's
//!   `rd_kafka_mock_push_request_errors`; 0 answers normally);
//! * a wire fault ([`MockBroker::push_fault`]): close, never answer, cut the frame, or any
//!   body bytes at all.
//!
//! When an API's queue is empty its standing edit, if any ([`MockBroker::script_fetch_always`]
//! …), applies. Scripts run on the mock's thread, under its lock: they must not call the
//! `MockBroker` themselves. A script that panics, an API or version the mock does not serve,
//! and a request that does not decode are answered (an error, or a closed connection) and
//! recorded: [`MockBroker::unexpected`] lists them, so a test can assert nothing unexpected
//! was asked. [`MockBroker::requests`] is the log of every request and how it was answered,
//! for asserting order and pacing by counts, never by wall-clock upper bounds.
//!
//! ```no_run
//! use kbatch_testkit::mock::{codes, Api, MockBroker};
//!
//! let mock = MockBroker::start();
//! mock.add_topic("t", 1);
//! let expected = mock.produce("t", 0, &["a", "b", "c"]); // one batch, offsets 0..3
//! // The first Fetch gets NOT_LEADER_OR_FOLLOWER, the second a 200 ms throttle, the third
//! // its partition twice, the copy with other data.
//! mock.push_errors(Api::Fetch, &[codes::NOT_LEADER_OR_FOLLOWER]);
//! mock.script_fetch(|_req, resp| resp.throttle_time_ms = 200);
//! mock.script_fetch(|_req, resp| {
//!     let mut copy = resp.responses[0].partitions[0].clone();
//!     copy.records = Some(kbatch_testkit::mock::batch(0, &["x", "y", "z"]).into());
//!     resp.responses[0].partitions.push(copy);
//! });
//! // … read from `mock.addr()` with kbatch's `Reader`, then:
//! assert_eq!(mock.scripts_left(Api::Fetch), 0);
//! assert!(mock.unexpected().is_empty());
//! assert_eq!(expected.len(), 3);
//! ```

mod log;
mod script;
mod server;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

pub use kafka_protocol;
pub use kafka_protocol::messages::fetch_response::PartitionData;
pub use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse,
};
pub use kbatch_wire::codes;
pub use log::NODE_ID;
pub use script::{Api, Fault};

use kbatch_records::testenc::{Batch, Rec};
use log::Log;
use script::{Entry, Scripts};

/// One request the mock received, and how it was answered.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When it was answered.
    pub at: Instant,
    /// Which connection it came on (numbered from 1 in accept order).
    pub connection: u64,
    /// Its API key (-1: the frame was too short or too long to have one).
    pub api_key: i16,
    /// Its version.
    pub version: i16,
    /// The decoded request.
    pub request: Request,
    /// What was sent back.
    pub answer: Answer,
}

/// A decoded request.
#[derive(Debug, Clone)]
pub enum Request {
    /// ApiVersions.
    ApiVersions(ApiVersionsRequest),
    /// Metadata.
    Metadata(MetadataRequest),
    /// ListOffsets.
    ListOffsets(ListOffsetsRequest),
    /// Fetch.
    Fetch(FetchRequest),
    /// Something the mock does not serve, a request that did not decode, or a script that
    /// panicked; why.
    Unexpected(String),
}

/// How a request was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A response, with the throttle it asked for.
    Response {
        /// `throttle_time_ms` of the response.
        throttle_time_ms: i32,
    },
    /// A scripted fault.
    Fault(Fault),
    /// An error answer (UNSUPPORTED_VERSION) or a closed connection.
    Unsupported,
}

impl Seen {
    /// For a Fetch: `(topic, partition, fetch_offset)` asked, in request order.
    pub fn fetch_offsets(&self) -> Vec<(String, i32, i64)> {
        match &self.request {
            Request::Fetch(f) => f
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (t.topic.0.to_string(), p.partition, p.fetch_offset))
                })
                .collect(),
            _ => vec![],
        }
    }

    /// `throttle_time_ms` of the answer (0 for faults).
    pub fn throttle_time_ms(&self) -> i32 {
        match self.answer {
            Answer::Response { throttle_time_ms } => throttle_time_ms,
            _ => 0,
        }
    }
}

pub(crate) struct State {
    log: Log,
    scripts: Scripts,
    seen: Vec<Seen>,
}

/// A running mock broker; stops (closing every connection) when dropped.
pub struct MockBroker {
    addr: String,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MockBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockBroker")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for MockBroker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An encoded v2 batch of `values` at `base` (leader epoch 0), for scripts that replace
/// records: the same encoder [`MockBroker::produce`] uses.
pub fn batch(base: i64, values: &[&str]) -> Vec<u8> {
    let recs: Vec<Rec> = (0..values.len())
        .map(|i| Rec::value(i as i32, values[i]))
        .collect();
    Batch::plain(base, &recs).encode()
}

impl MockBroker {
    /// Listen on a free port of 127.0.0.1 and serve from a thread of its own (any test,
    /// async or not, can use it).
    pub fn start() -> MockBroker {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding the mock broker");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let port = listener.local_addr().expect("its address").port();
        let log = Log {
            host: "127.0.0.1".into(),
            port: i32::from(port),
            ..Log::default()
        };
        let state = Arc::new(Mutex::new(State {
            log,
            scripts: Scripts::default(),
            seen: Vec::new(),
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("kbatch-mock-broker".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the mock broker's runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    let accept = async {
                        let mut n = 0u64;
                        while let Ok((stream, _)) = listener.accept().await {
                            n += 1;
                            tokio::spawn(server::serve(stream, n, shared.clone()));
                        }
                    };
                    tokio::select! {
                        _ = stopped => {}
                        _ = accept => {}
                    }
                });
                // Dropping the runtime here ends every connection task.
            })
            .expect("spawning the mock broker's thread");
        MockBroker {
            addr: format!("127.0.0.1:{port}"),
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`, for `bootstrap`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Create `topic` with `partitions` empty partitions (leader epoch 1).
    pub fn add_topic(&self, topic: &str, partitions: i32) {
        self.lock().log.add_topic(topic, partitions);
    }

    /// Append one batch of `values` (uncompressed, written in the partition's leader epoch) at
    /// the end of `topic`/`partition`; returns each record's `(offset, value)`.
    pub fn produce(&self, topic: &str, partition: i32, values: &[&str]) -> Vec<(i64, Vec<u8>)> {
        let mut st = self.lock();
        let base = st.log.next_offset(topic, partition);
        let recs: Vec<Rec> = (0..values.len())
            .map(|i| Rec::value(i as i32, values[i]))
            .collect();
        let mut b = Batch::plain(base, &recs);
        b.partition_leader_epoch = st.log.leader_epoch(topic, partition);
        st.log.append(topic, partition, b.encode());
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (base + i as i64, v.as_bytes().to_vec()))
            .collect()
    }

    /// Append any encoded v2 batch (compressed, transactional, a marker; see
    /// `kbatch_records::testenc`); its base offset must not lie below the partition's end.
    pub fn append(&self, topic: &str, partition: i32, batch: Vec<u8>) {
        self.lock().log.append(topic, partition, batch);
    }

    /// The partition's leader epoch from now on (Metadata, ListOffsets, later batches).
    pub fn set_leader_epoch(&self, topic: &str, partition: i32, epoch: i32) {
        self.lock().log.set_leader_epoch(topic, partition, epoch);
    }

    /// Edit the next unscripted Fetch answer.
    pub fn script_fetch(&self, f: impl FnOnce(&FetchRequest, &mut FetchResponse) + Send + 'static) {
        self.lock()
            .scripts
            .fetch
            .once
            .push_back(Entry::Edit(Box::new(f)));
    }

    /// Edit every Fetch answer that no one-shot entry claims.
    pub fn script_fetch_always(
        &self,
        f: impl FnMut(&FetchRequest, &mut FetchResponse) + Send + 'static,
    ) {
        self.lock().scripts.fetch.always = Some(Box::new(f));
    }

    /// Edit the next unscripted Metadata answer.
    pub fn script_metadata(
        &self,
        f: impl FnOnce(&MetadataRequest, &mut MetadataResponse) + Send + 'static,
    ) {
        self.lock()
            .scripts
            .metadata
            .once
            .push_back(Entry::Edit(Box::new(f)));
    }

    /// Edit every Metadata answer that no one-shot entry claims.
    pub fn script_metadata_always(
        &self,
        f: impl FnMut(&MetadataRequest, &mut MetadataResponse) + Send + 'static,
    ) {
        self.lock().scripts.metadata.always = Some(Box::new(f));
    }

    /// Edit the next unscripted ListOffsets answer.
    pub fn script_list_offsets(
        &self,
        f: impl FnOnce(&ListOffsetsRequest, &mut ListOffsetsResponse) + Send + 'static,
    ) {
        self.lock()
            .scripts
            .list_offsets
            .once
            .push_back(Entry::Edit(Box::new(f)));
    }

    /// Edit every ListOffsets answer that no one-shot entry claims.
    pub fn script_list_offsets_always(
        &self,
        f: impl FnMut(&ListOffsetsRequest, &mut ListOffsetsResponse) + Send + 'static,
    ) {
        self.lock().scripts.list_offsets.always = Some(Box::new(f));
    }

    /// Edit the next unscripted ApiVersions answer.
    pub fn script_api_versions(
        &self,
        f: impl FnOnce(&ApiVersionsRequest, &mut ApiVersionsResponse) + Send + 'static,
    ) {
        self.lock()
            .scripts
            .api_versions
            .once
            .push_back(Entry::Edit(Box::new(f)));
    }

    /// The next `codes.len()` requests of `api` get these error codes in turn: on every
    /// partition (Fetch, with no records; ListOffsets), on every topic (Metadata), or at the
    /// top (ApiVersions). A 0 answers normally.
    pub fn push_errors(&self, api: Api, codes: &[i16]) {
        self.lock().scripts.push_errors(api, codes);
    }

    /// The next unscripted request of `api` gets `fault` instead of an answer.
    pub fn push_fault(&self, api: Api, fault: Fault) {
        self.lock().scripts.push_fault(api, fault);
    }

    /// One-shot entries of `api` not used yet.
    pub fn scripts_left(&self, api: Api) -> usize {
        self.lock().scripts.left(api)
    }

    /// Every request so far, in the order answered.
    pub fn requests(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// The requests of `api` so far.
    pub fn requests_of(&self, api: Api) -> Vec<Seen> {
        self.lock()
            .seen
            .iter()
            .filter(|s| s.api_key == api.key() && !matches!(s.request, Request::Unexpected(_)))
            .cloned()
            .collect()
    }

    /// Requests the mock could not serve (an API or version it does not speak, a request
    /// that did not decode, a script that panicked).
    pub fn unexpected(&self) -> Vec<Seen> {
        self.lock()
            .seen
            .iter()
            .filter(|s| matches!(s.request, Request::Unexpected(_)))
            .cloned()
            .collect()
    }
}

/// The partition `partition` of topic `topic` in a Fetch answer (the first copy), for scripts.
pub fn partition_mut<'a>(
    resp: &'a mut FetchResponse,
    topic: &str,
    partition: i32,
) -> Option<&'a mut PartitionData> {
    resp.responses
        .iter_mut()
        .filter(|t| &*t.topic.0 == topic)
        .flat_map(|t| t.partitions.iter_mut())
        .find(|p| p.partition_index == partition)
}

#[cfg(test)]
mod tests;
