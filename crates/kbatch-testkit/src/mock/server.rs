//! The mock broker's TCP side: one task per connection reads a request frame, has it
//! answered under the state lock, and writes the answer (or the scripted fault).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, FetchRequest, ListOffsetsRequest, MetadataRequest, ResponseHeader,
};
use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::log::SERVED;
use super::script::{Api, Fault, Queue};
use super::{Answer, Request, Seen, State};

/// Largest request frame read (kbatch's requests are a few KiB).
const MAX_REQUEST: usize = 16 << 20;

/// What to do on the wire.
enum Reply {
    Frame(Bytes),
    Cut(Bytes),
    Close,
    Silent,
}

pub(crate) async fn serve(mut stream: TcpStream, connection: u64, state: Arc<Mutex<State>>) {
    let _ = stream.set_nodelay(true);
    loop {
        let mut len = [0u8; 4];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let len = i32::from_be_bytes(len);
        let Some(len) = usize::try_from(len)
            .ok()
            .filter(|n| (8..=MAX_REQUEST).contains(n))
        else {
            note(
                &state,
                connection,
                -1,
                -1,
                format!("request frame length {len}"),
            );
            return;
        };
        let mut body = vec![0u8; len];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let reply = answer(&state, connection, Bytes::from(body));
        let written = match reply {
            Reply::Frame(b) => stream.write_all(&b).await,
            Reply::Cut(b) => {
                let _ = stream.write_all(&b).await;
                return;
            }
            Reply::Close => return,
            Reply::Silent => std::future::pending().await,
        };
        if written.is_err() {
            return;
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Record a request the mock could not serve.
fn note(state: &Mutex<State>, connection: u64, api_key: i16, version: i16, why: String) {
    lock(state).seen.push(Seen {
        at: Instant::now(),
        connection,
        api_key,
        version,
        request: Request::Unexpected(why),
        answer: Answer::Unsupported,
    });
}

/// A frame: length, response header of the right version, body.
fn frame(api_key: i16, version: i16, correlation_id: i32, body: &[u8]) -> Bytes {
    let header_version = ApiKey::try_from(api_key)
        .map(|k| k.response_header_version(version))
        .unwrap_or(0);
    let mut h = ResponseHeader::default();
    h.correlation_id = correlation_id;
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    h.encode(&mut buf, header_version)
        .expect("a response header encodes");
    buf.put_slice(body);
    let n = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&n.to_be_bytes());
    buf.freeze()
}

fn answer(state: &Mutex<State>, connection: u64, mut body: Bytes) -> Reply {
    let api_key = (&body[0..2]).get_i16();
    let version = (&body[2..4]).get_i16();
    let correlation_id = (&body[4..8]).get_i32();
    let served = Api::of_key(api_key).filter(|_| {
        SERVED
            .iter()
            .any(|&(k, lo, hi)| k == api_key && (lo..=hi).contains(&version))
    });
    let Some(api) = served else {
        note(
            state,
            connection,
            api_key,
            version,
            format!("API key {api_key} version {version} is not served by the mock broker"),
        );
        // UNSUPPORTED_VERSION as the body's first field: ApiVersions reads it as such; any
        // other API fails to decode, which the client must report as a broken response.
        return Reply::Frame(frame(
            api_key,
            version,
            correlation_id,
            &35i16.to_be_bytes(),
        ));
    };
    if let Err(e) = decode_request_header_from_buffer(&mut body) {
        note(
            state,
            connection,
            api_key,
            version,
            format!("bad request header: {e}"),
        );
        return Reply::Close;
    }
    let mut st = lock(state);
    let st = &mut *st;
    // A script that panics (test code) is recorded as unexpected, not left to kill the task
    // silently: the client sees the connection close.
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        respond(st, api, version, &mut body)
    }));
    let (request, result) = match run {
        Ok(Ok(r)) => r,
        Ok(Err(why)) => (Request::Unexpected(why), Err(Fault::Close)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a non-string panic".into());
            (
                Request::Unexpected(format!("a script panicked: {msg}")),
                Err(Fault::Close),
            )
        }
    };
    let (answer, reply) = match result {
        Ok((throttle_time_ms, body)) => (
            Answer::Response { throttle_time_ms },
            Reply::Frame(frame(api_key, version, correlation_id, &body)),
        ),
        Err(fault) => {
            let reply = match &fault {
                Fault::Close => Reply::Close,
                Fault::Silent => Reply::Silent,
                Fault::Body(b) => Reply::Frame(frame(api_key, version, correlation_id, b)),
                Fault::CutAfter(n) => {
                    // The default answer, cut.
                    let full = match encode_default(st, api, version, &request) {
                        Some(b) => frame(api_key, version, correlation_id, &b),
                        None => Bytes::new(),
                    };
                    Reply::Cut(full.slice(..(*n).min(full.len())))
                }
            };
            (Answer::Fault(fault), reply)
        }
    };
    st.seen.push(Seen {
        at: Instant::now(),
        connection,
        api_key,
        version,
        request,
        answer,
    });
    reply
}

type Encoded = Result<(i32, Vec<u8>), Fault>;

/// Decode the request, answer it through its script; `Err` when it does not decode.
fn respond(
    st: &mut State,
    api: Api,
    version: i16,
    body: &mut Bytes,
) -> Result<(Request, Encoded), String> {
    let bad = |e: &dyn std::fmt::Display| format!("{api:?} v{version} does not decode: {e}");
    Ok(match api {
        Api::ApiVersions => {
            let req = ApiVersionsRequest::decode(body, version).map_err(|e| bad(&e))?;
            let default = st.log.api_versions();
            let r = run(&mut st.scripts.api_versions, &req, default, version, |r| {
                r.throttle_time_ms
            });
            (Request::ApiVersions(req), r)
        }
        Api::Metadata => {
            let req = MetadataRequest::decode(body, version).map_err(|e| bad(&e))?;
            let default = st.log.metadata(&req);
            let r = run(&mut st.scripts.metadata, &req, default, version, |r| {
                r.throttle_time_ms
            });
            (Request::Metadata(req), r)
        }
        Api::ListOffsets => {
            let req = ListOffsetsRequest::decode(body, version).map_err(|e| bad(&e))?;
            let default = st.log.list_offsets(&req);
            let r = run(&mut st.scripts.list_offsets, &req, default, version, |r| {
                r.throttle_time_ms
            });
            (Request::ListOffsets(req), r)
        }
        Api::Fetch => {
            let req = FetchRequest::decode(body, version).map_err(|e| bad(&e))?;
            let default = st.log.fetch(&req);
            let r = run(&mut st.scripts.fetch, &req, default, version, |r| {
                r.throttle_time_ms
            });
            (Request::Fetch(req), r)
        }
    })
}

fn run<Q, R: Encodable>(
    queue: &mut Queue<Q, R>,
    req: &Q,
    default: R,
    version: i16,
    throttle: impl Fn(&R) -> i32,
) -> Encoded {
    let r = queue.answer(req, default)?;
    let mut buf = BytesMut::new();
    // A scripted answer that cannot exist at this version (a null where none may be) is the
    // script's bug: reported like a panicking script.
    if let Err(e) = r.encode(&mut buf, version) {
        panic!("the answer does not encode at version {version}: {e}");
    }
    Ok((throttle(&r), buf.to_vec()))
}

/// The default answer to `request` (for [`Fault::CutAfter`]).
fn encode_default(st: &State, api: Api, version: i16, request: &Request) -> Option<Vec<u8>> {
    let mut buf = BytesMut::new();
    let ok = match (api, request) {
        (Api::ApiVersions, _) => st.log.api_versions().encode(&mut buf, version),
        (Api::Metadata, Request::Metadata(q)) => st.log.metadata(q).encode(&mut buf, version),
        (Api::ListOffsets, Request::ListOffsets(q)) => {
            st.log.list_offsets(q).encode(&mut buf, version)
        }
        (Api::Fetch, Request::Fetch(q)) => st.log.fetch(q).encode(&mut buf, version),
        _ => return None,
    };
    ok.ok().map(|()| buf.to_vec())
}
