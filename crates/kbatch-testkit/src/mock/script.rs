//! Scripted answers: per API, a queue of one-shot entries (edits of the default answer, error
//! codes, wire faults) and an optional standing edit applied when the queue is empty.

use std::collections::VecDeque;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse,
};

/// The APIs the mock broker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// ApiVersions (18).
    ApiVersions,
    /// Metadata (3).
    Metadata,
    /// ListOffsets (2).
    ListOffsets,
    /// Fetch (1).
    Fetch,
}

impl Api {
    /// Its API key.
    pub fn key(self) -> i16 {
        match self {
            Api::ApiVersions => 18,
            Api::Metadata => 3,
            Api::ListOffsets => 2,
            Api::Fetch => 1,
        }
    }

    pub(crate) fn of_key(key: i16) -> Option<Api> {
        [
            Api::ApiVersions,
            Api::Metadata,
            Api::ListOffsets,
            Api::Fetch,
        ]
        .into_iter()
        .find(|a| a.key() == key)
    }
}

/// An answer that is not a (possibly edited) response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection instead of answering.
    Close,
    /// Never answer; the connection stays open (the client's request timeout fires).
    Silent,
    /// Answer with these bytes as the response body, after a correct response header and
    /// length prefix: anything at all, for decoders and fuzzing.
    Body(Bytes),
    /// Write only the first `n` bytes of the default answer's frame (length prefix
    /// included), then close the connection: a response cut mid-way.
    CutAfter(usize),
}

/// A one-shot edit of the default answer: the request, and the response to change in place.
pub(crate) type Edit<Q, R> = Box<dyn FnOnce(&Q, &mut R) + Send>;
/// A standing edit.
pub(crate) type Standing<Q, R> = Box<dyn FnMut(&Q, &mut R) + Send>;

pub(crate) enum Entry<Q, R> {
    Edit(Edit<Q, R>),
    Fault(Fault),
}

/// One API's script.
pub(crate) struct Queue<Q, R> {
    pub(crate) once: VecDeque<Entry<Q, R>>,
    pub(crate) always: Option<Standing<Q, R>>,
}

impl<Q, R> Default for Queue<Q, R> {
    fn default() -> Self {
        Queue {
            once: VecDeque::new(),
            always: None,
        }
    }
}

impl<Q, R> Queue<Q, R> {
    /// Answer `req`: the next one-shot entry, else the standing edit, else `default` as is.
    pub(crate) fn answer(&mut self, req: &Q, mut default: R) -> Result<R, Fault> {
        match self.once.pop_front() {
            Some(Entry::Edit(f)) => f(req, &mut default),
            Some(Entry::Fault(f)) => return Err(f),
            None => {
                if let Some(f) = self.always.as_mut() {
                    f(req, &mut default);
                }
            }
        }
        Ok(default)
    }
}

/// Every API's script.
#[derive(Default)]
pub(crate) struct Scripts {
    pub(crate) api_versions: Queue<ApiVersionsRequest, ApiVersionsResponse>,
    pub(crate) metadata: Queue<MetadataRequest, MetadataResponse>,
    pub(crate) list_offsets: Queue<ListOffsetsRequest, ListOffsetsResponse>,
    pub(crate) fetch: Queue<FetchRequest, FetchResponse>,
}

impl Scripts {
    pub(crate) fn push_fault(&mut self, api: Api, fault: Fault) {
        match api {
            Api::ApiVersions => self.api_versions.once.push_back(Entry::Fault(fault)),
            Api::Metadata => self.metadata.once.push_back(Entry::Fault(fault)),
            Api::ListOffsets => self.list_offsets.once.push_back(Entry::Fault(fault)),
            Api::Fetch => self.fetch.once.push_back(Entry::Fault(fault)),
        }
    }

    /// One entry per code; 0 leaves the default answer as it is.
    pub(crate) fn push_errors(&mut self, api: Api, codes: &[i16]) {
        for &code in codes {
            match api {
                Api::ApiVersions => self
                    .api_versions
                    .once
                    .push_back(Entry::Edit(Box::new(move |_, r| set_api_versions(r, code)))),
                Api::Metadata => self
                    .metadata
                    .once
                    .push_back(Entry::Edit(Box::new(move |_, r| set_metadata(r, code)))),
                Api::ListOffsets => self
                    .list_offsets
                    .once
                    .push_back(Entry::Edit(Box::new(move |_, r| set_list_offsets(r, code)))),
                Api::Fetch => self
                    .fetch
                    .once
                    .push_back(Entry::Edit(Box::new(move |_, r| set_fetch(r, code)))),
            }
        }
    }

    pub(crate) fn left(&self, api: Api) -> usize {
        match api {
            Api::ApiVersions => self.api_versions.once.len(),
            Api::Metadata => self.metadata.once.len(),
            Api::ListOffsets => self.list_offsets.once.len(),
            Api::Fetch => self.fetch.once.len(),
        }
    }
}

fn set_api_versions(r: &mut ApiVersionsResponse, code: i16) {
    if code != 0 {
        r.error_code = code;
    }
}

fn set_metadata(r: &mut MetadataResponse, code: i16) {
    if code != 0 {
        for t in &mut r.topics {
            t.error_code = code;
            t.partitions.clear();
        }
    }
}

fn set_list_offsets(r: &mut ListOffsetsResponse, code: i16) {
    if code != 0 {
        for p in r.topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
            p.error_code = code;
            p.offset = -1;
        }
    }
}

/// Every partition answers with `code` and no records (a broker sends none with an error).
fn set_fetch(r: &mut FetchResponse, code: i16) {
    if code != 0 {
        for p in r.responses.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
            p.error_code = code;
            p.records = Some(Bytes::new());
        }
    }
}
