//! One connection to one broker: framing with guards, correlation ids, several requests in
//! flight, a request timeout that closes the connection, version negotiation.
//!
//! Writes go through a mutex-guarded write half; a reader task reads frames and hands each to
//! the request waiting on its correlation id. Any failure of the connection (I/O error, EOF,
//! a frame that breaks the rules, an unknown correlation id, a request timeout) *poisons* it:
//! every in-flight request fails with that error at once, later requests fail immediately,
//! and a late response can never be matched to a new request.
//!
//! With TLS configured, [`Connection::connect`] wraps the TCP stream before anything is sent;
//! with SASL, [`Connection::over`] authenticates right after ApiVersions (the only requests a
//! SASL listener answers before that), so every connection a [`Cluster`](crate::Cluster)
//! makes, first or remade, is secured the same way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::messages::{api_versions, fetch, frame, list_offsets, metadata};
use crate::{
    FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse, MetadataResponse,
    WireConfig, WireError,
};

type Waiter = oneshot::Sender<Result<Bytes, WireError>>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

struct Shared {
    addr: String,
    closed: AtomicBool,
    pending: Mutex<HashMap<i32, (bool, Waiter)>>,
    writer: tokio::sync::Mutex<Option<Writer>>,
    reader_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    poison: Mutex<Option<WireError>>,
}

impl Shared {
    /// Close the connection and fail every in-flight request with `err`.
    fn poison(&self, err: WireError) {
        self.closed.store(true, Ordering::SeqCst);
        {
            let mut slot = self.poison.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(err.clone());
            }
        }
        let waiters: Vec<_> = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.drain().map(|(_, (_, w))| w).collect()
        };
        for w in waiters {
            let _ = w.send(Err(err.clone()));
        }
        if let Some(task) = self
            .reader_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
    }

    fn closed_error(&self) -> WireError {
        self.poison
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| WireError::Io {
                addr: self.addr.clone(),
                reason: "connection closed".into(),
            })
    }
}

/// Which step of setting a connection up is under way, for the error when its time is up.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Connect,
    Tls,
    Negotiate,
    Authenticate,
}

fn set(stage: &Mutex<Stage>, now: Stage) {
    *stage.lock().unwrap_or_else(|e| e.into_inner()) = now;
}

/// Versions negotiated with one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// Metadata version.
    pub metadata: i16,
    /// ListOffsets version.
    pub list_offsets: i16,
    /// Fetch version.
    pub fetch: i16,
}

/// A connection to one broker; share it with `Arc`.
pub struct Connection {
    shared: Arc<Shared>,
    next_id: AtomicI32,
    pub(crate) cfg: WireConfig,
    versions: Versions,
    /// SaslAuthenticate version, when the broker speaks SaslHandshake v1 and SaslAuthenticate
    /// v1 or v2.
    pub(crate) sasl_version: Option<i16>,
    /// KIP-368: the broker ends the SASL session at its lifetime; the connection reports
    /// itself closed a little before, so callers replace it instead of losing a request.
    pub(crate) reauth_at: Option<Instant>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.shared.addr)
            .field("versions", &self.versions)
            .finish()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(task) = self
            .shared
            .reader_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

impl Connection {
    /// Resolve, TCP connect (TCP_NODELAY), TLS, negotiate versions and authenticate, all of
    /// it within `connect_timeout`.
    pub async fn connect(addr: &str, cfg: &WireConfig) -> Result<Connection, WireError> {
        Connection::connect_until(addr, cfg, None).await
    }

    /// [`Connection::connect`], given up at `deadline` if that comes before `connect_timeout`
    /// has passed: the one deadline of a bootstrap that may try several addresses. The whole
    /// setup shares the bound, so a broker that answers each step slowly cannot spend a
    /// timeout per step.
    pub async fn connect_until(
        addr: &str,
        cfg: &WireConfig,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Connection, WireError> {
        let began = tokio::time::Instant::now();
        let own = began.checked_add(cfg.connect_timeout);
        let bound = match (own, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let stage = Mutex::new(Stage::Connect);
        let setup = Connection::setup(addr, cfg, &stage);
        let Some(bound) = bound else {
            return setup.await; // a timeout beyond what the clock can hold
        };
        match tokio::time::timeout_at(bound, setup).await {
            Ok(r) => r,
            Err(_) => {
                let after = bound.saturating_duration_since(began);
                // Whole milliseconds: the bound is the user's timeout, not a clock reading.
                let after =
                    Duration::from_millis(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
                let stage = *stage.lock().unwrap_or_else(|e| e.into_inner());
                Err(match stage {
                    Stage::Connect => WireError::Connect {
                        addr: addr.to_string(),
                        reason: format!("timed out after {after:?}"),
                    },
                    Stage::Tls => WireError::Timeout {
                        addr: addr.to_string(),
                        api: "the TLS handshake",
                        after,
                    },
                    Stage::Negotiate => WireError::Timeout {
                        addr: addr.to_string(),
                        api: "ApiVersions",
                        after,
                    },
                    Stage::Authenticate => WireError::Timeout {
                        addr: addr.to_string(),
                        api: "SASL authentication",
                        after,
                    },
                })
            }
        }
    }

    /// Every step of [`Connection::connect`], noting in `stage` which one is under way.
    async fn setup(
        addr: &str,
        cfg: &WireConfig,
        stage: &Mutex<Stage>,
    ) -> Result<Connection, WireError> {
        let connect_err = |reason: String| WireError::Connect {
            addr: addr.to_string(),
            reason,
        };
        let addrs = crate::resolve::resolve(addr)
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        let stream = crate::resolve::connect_first(addrs)
            .await
            .map_err(connect_err)?;
        let _ = stream.set_nodelay(true);
        if !cfg.security.protocol.tls() {
            return Connection::over_staged(stream, addr.to_string(), cfg, stage).await;
        }
        set(stage, Stage::Tls);
        let tls_err = |reason: String| WireError::Tls {
            addr: addr.to_string(),
            reason,
        };
        let tls = crate::tls::client_config(&cfg.security.tls).map_err(tls_err)?;
        let stream = crate::tls::handshake(stream, addr, tls)
            .await
            .map_err(tls_err)?;
        Connection::over_staged(stream, addr.to_string(), cfg, stage).await
    }

    /// Wrap any stream (tests use `tokio::io::duplex`), negotiate versions, and authenticate
    /// when the security protocol says SASL.
    pub async fn over<S>(stream: S, addr: String, cfg: &WireConfig) -> Result<Connection, WireError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Connection::over_staged(stream, addr, cfg, &Mutex::new(Stage::Negotiate)).await
    }

    async fn over_staged<S>(
        stream: S,
        addr: String,
        cfg: &WireConfig,
        stage: &Mutex<Stage>,
    ) -> Result<Connection, WireError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        set(stage, Stage::Negotiate);
        let (read, write) = tokio::io::split(stream);
        let shared = Arc::new(Shared {
            addr,
            closed: AtomicBool::new(false),
            pending: Mutex::new(HashMap::new()),
            writer: tokio::sync::Mutex::new(Some(Box::new(write))),
            reader_task: Mutex::new(None),
            poison: Mutex::new(None),
        });
        let task = tokio::spawn(read_loop(read, shared.clone(), cfg.frame_limit));
        *shared.reader_task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        let mut conn = Connection {
            shared,
            next_id: AtomicI32::new(1),
            cfg: cfg.clone(),
            versions: Versions {
                metadata: metadata::VERSIONS.1,
                list_offsets: list_offsets::VERSIONS.1,
                fetch: fetch::VERSIONS.1,
            },
            sasl_version: None,
            reauth_at: None,
        };
        conn.negotiate().await?;
        if cfg.security.protocol.sasl() {
            set(stage, Stage::Authenticate);
            conn.authenticate(cfg.security.sasl.as_ref()).await?;
        }
        Ok(conn)
    }

    async fn negotiate(&mut self) -> Result<(), WireError> {
        let body = self
            .call(
                "ApiVersions",
                api_versions::KEY,
                api_versions::VERSION,
                false,
                &api_versions::request(),
            )
            .await?;
        let resp = api_versions::decode(api_versions::VERSION, body).map_err(|source| {
            let e = WireError::Decode {
                addr: self.addr().to_string(),
                source,
            };
            self.shared.poison(e.clone());
            e
        })?;
        if resp.error_code != 0 && resp.error_code != 35 {
            return Err(WireError::Kafka {
                addr: self.addr().to_string(),
                api: "ApiVersions",
                code: resp.error_code,
                name: crate::kafka_code(resp.error_code).name,
            });
        }
        let pick = |api: &'static str, key: i16, ours: (i16, i16)| {
            let theirs = resp.apis.iter().find(|a| a.api_key == key);
            match theirs {
                Some(t) if t.max >= ours.0 && t.min <= ours.1 => Ok(t.max.min(ours.1)),
                _ => Err(WireError::BrokerTooOld {
                    addr: self.addr().to_string(),
                    api,
                    broker_max: theirs.map_or(-1, |t| t.max),
                    need: ours.0,
                }),
            }
        };
        self.versions = Versions {
            metadata: pick("Metadata", metadata::KEY, metadata::VERSIONS)?,
            list_offsets: pick("ListOffsets", list_offsets::KEY, list_offsets::VERSIONS)?,
            fetch: pick("Fetch", fetch::KEY, fetch::VERSIONS)?,
        };
        self.sasl_version = crate::sasl::exchange::version(&resp.apis);
        Ok(())
    }

    /// The broker's address.
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// The versions negotiated.
    pub fn versions(&self) -> Versions {
        self.versions
    }

    /// The connection failed or timed out; make a new one.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
            || self.reauth_at.is_some_and(|t| Instant::now() >= t)
    }

    /// Metadata for `topics` (`None`: all topics).
    pub async fn metadata(&self, topics: Option<&[String]>) -> Result<MetadataResponse, WireError> {
        let v = self.versions.metadata;
        let body = self
            .call(
                "Metadata",
                metadata::KEY,
                v,
                true,
                &metadata::request(topics),
            )
            .await?;
        self.decoded(metadata::decode(v, body))
    }

    /// ListOffsets.
    pub async fn list_offsets(
        &self,
        req: &ListOffsetsRequest,
    ) -> Result<ListOffsetsResponse, WireError> {
        let v = self.versions.list_offsets;
        let body = self
            .call(
                "ListOffsets",
                list_offsets::KEY,
                v,
                true,
                &list_offsets::request(req),
            )
            .await?;
        self.decoded(list_offsets::decode(v, body))
    }

    /// Fetch.
    pub async fn fetch(&self, req: &FetchRequest) -> Result<FetchResponse, WireError> {
        let v = self.versions.fetch;
        let body = self
            .call("Fetch", fetch::KEY, v, true, &fetch::request(req))
            .await?;
        self.decoded(fetch::decode(v, body))
    }

    /// A response that does not decode poisons the connection: what follows it on the wire
    /// cannot be trusted either.
    pub(crate) fn decoded<T>(&self, r: Result<T, crate::DecodeError>) -> Result<T, WireError> {
        r.map_err(|source| {
            let e = WireError::Decode {
                addr: self.addr().to_string(),
                source,
            };
            self.shared.poison(e.clone());
            e
        })
    }

    /// Send one request and wait for its response body (after the response header).
    pub(crate) async fn call<T: kafka_protocol::protocol::Encodable>(
        &self,
        api: &'static str,
        key: i16,
        version: i16,
        flexible_response_header: bool,
        body: &T,
    ) -> Result<Bytes, WireError> {
        if self.is_closed() {
            return Err(self.shared.closed_error());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let framed = frame(key, version, id, &self.cfg.client_id, body).map_err(|reason| {
            WireError::Protocol {
                addr: self.addr().to_string(),
                reason: format!("cannot encode {api} v{version}: {reason}"),
            }
        })?;
        let (tx, rx) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, (flexible_response_header, tx));
        let shared = self.shared.clone();
        let exchange = async move {
            {
                let mut w = shared.writer.lock().await;
                let Some(writer) = w.as_mut() else {
                    return Err(shared.closed_error());
                };
                // A caller that gives up mid-write (a planning deadline) leaves part of a
                // frame on the stream: nothing after it could be parsed by the broker.
                let mut half_written = HalfWritten(Some(&*shared));
                if let Err(e) = writer.write_all(&framed).await {
                    // The alert of a TLS 1.3 server refusing our certificate may come here.
                    let err = io_error(&shared.addr, e);
                    half_written.0 = None;
                    drop(w);
                    shared.poison(err.clone());
                    return Err(err);
                }
                half_written.0 = None;
            }
            match rx.await {
                Ok(r) => r,
                Err(_) => Err(shared.closed_error()),
            }
        };
        match tokio::time::timeout(self.cfg.request_timeout, exchange).await {
            Ok(r) => r,
            Err(_) => {
                let err = WireError::Timeout {
                    addr: self.addr().to_string(),
                    api,
                    after: self.cfg.request_timeout,
                };
                self.shared.poison(err.clone());
                if let Some(mut w) = self.shared.writer.lock().await.take() {
                    let _ = w.shutdown().await;
                }
                Err(err)
            }
        }
    }
}

/// Poisons the connection when dropped while set: a request abandoned part-way through its
/// write.
struct HalfWritten<'a>(Option<&'a Shared>);

impl Drop for HalfWritten<'_> {
    fn drop(&mut self) {
        if let Some(shared) = self.0 {
            shared.poison(WireError::Io {
                addr: shared.addr.clone(),
                reason: "a request was abandoned part-way through its write".into(),
            });
        }
    }
}

/// Read frames until the connection fails; every failure poisons the connection.
async fn read_loop<R: AsyncRead + Unpin>(mut read: R, shared: Arc<Shared>, limit: usize) {
    let err = loop {
        match read_frame(&mut read, &shared.addr, limit).await {
            Ok(frame) => {
                if let Err(e) = dispatch(&shared, frame) {
                    break e;
                }
            }
            Err(e) => break e,
        }
    };
    shared.poison(err);
}

fn dispatch(shared: &Shared, frame: Bytes) -> Result<(), WireError> {
    let protocol = |reason: String| WireError::Protocol {
        addr: shared.addr.clone(),
        reason,
    };
    if frame.len() < 4 {
        return Err(protocol(format!(
            "response of {} bytes has no header",
            frame.len()
        )));
    }
    let id = i32::from_be_bytes(frame[..4].try_into().unwrap());
    let waiter = shared
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    let Some((flexible, waiter)) = waiter else {
        return Err(protocol(format!(
            "response with correlation id {id} matches no request"
        )));
    };
    let mut start = 4;
    if flexible {
        // Response header v1: tagged fields after the correlation id.
        let mut r = crate::decode::Reader::new(&frame, "response header", 1);
        r.i32().ok();
        r.tagged_fields().map_err(|e| protocol(e.to_string()))?;
        start = frame.len() - r.remaining();
    }
    let _ = waiter.send(Ok(frame.slice(start..)));
    Ok(())
}

/// What an I/O error on an established connection means. TLS 1.3 servers judge the client
/// certificate after the client's handshake is done, so their refusal (a TLS alert) arrives on
/// the first write or read instead: it is final, not a connection hiccup.
pub(crate) fn io_error(addr: &str, e: std::io::Error) -> WireError {
    match crate::tls::refusal_after_handshake(&e) {
        Some(reason) => WireError::Tls {
            addr: addr.to_string(),
            reason,
        },
        None => WireError::Io {
            addr: addr.to_string(),
            reason: if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the broker closed the connection".into()
            } else {
                e.to_string()
            },
        },
    }
}

/// Read one length-prefixed frame, refusing lengths that are negative, over the limit, or
/// that look like another protocol, before reserving anything for the body.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    read: &mut R,
    addr: &str,
    limit: usize,
) -> Result<Bytes, WireError> {
    let io = |e| io_error(addr, e);
    let mut len = [0u8; 4];
    read.read_exact(&mut len).await.map_err(io)?;
    if &len == b"HTTP" {
        return Err(WireError::LooksLikeHttp {
            addr: addr.to_string(),
        });
    }
    if (len[0] == 0x15 || len[0] == 0x16) && len[1] == 0x03 {
        return Err(WireError::LooksLikeTls {
            addr: addr.to_string(),
        });
    }
    let size = i32::from_be_bytes(len);
    if size < 0 || size as usize > limit {
        return Err(WireError::FrameTooLarge {
            addr: addr.to_string(),
            size: i64::from(size),
            limit,
        });
    }
    let size = size as usize;
    // The claimed size (already bounded by `limit`) is reserved at once: that is address
    // space, not memory — the allocator maps pages only as the arriving bytes are written, so
    // a length that lies costs nothing until data comes. Growing with the data instead copied
    // every fetched byte once more as the buffer doubled (7 % of a `count`'s CPU).
    let mut buf = BytesMut::with_capacity(size);
    while buf.len() < size {
        let want = size - buf.len();
        let n = (&mut *read)
            .take(want as u64)
            .read_buf(&mut buf)
            .await
            .map_err(io)?;
        if n == 0 {
            return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    Ok(buf.freeze())
}
