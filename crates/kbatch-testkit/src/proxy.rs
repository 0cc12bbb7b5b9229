//! A TCP fault proxy between a Kafka client and one broker (RELIABILITY.md's "P" harness).
//!
//! It understands just enough of the Kafka framing (a 4-byte big-endian size before every
//! request and response; a request starts with its API key) to aim a fault at one kind of
//! response: responses on a connection come back in request order, so a per-connection queue
//! of the requests' API keys tells which request each response answers. Faults, all changeable
//! at run time from any thread through [`Proxy`]:
//!
//! * [`Proxy::cut_response`]: close the connection after N bytes of a chosen response (the
//!   client sees a short frame, then EOF);
//! * [`Proxy::stall_response`] holds one response back; [`Proxy::stall_for`] stops all
//!   forwarding for a while (a broker in a GC pause, a black-holed route);
//! * [`Proxy::set_rate`] slows responses down to N bytes per second;
//! * [`Proxy::reset_every_request`] / [`Proxy::reset_every_connection`] answer every k-th
//!   request or connection with a TCP RST (SO_LINGER 0, then close).
//!
//! A *raw* proxy ([`Proxy::start_raw`]) does not read the framing at all — TLS hides it — and
//! forwards bytes as they come; [`Proxy::cut_stream`] then closes a connection after N bytes
//! from the broker counted from its first byte (the TLS handshake, then records carrying the
//! responses), and [`Proxy::stall_for`] and [`Proxy::reset_every_connection`] work as above.
//!
//! Plain threads (two per connection), no async: the proxy must keep working while the code
//! under test is the one doing async I/O, and its timing must not depend on a shared runtime.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Kafka API keys the fault tests aim at.
pub mod api {
    /// Fetch.
    pub const FETCH: i16 = 1;
    /// ListOffsets (planning).
    pub const LIST_OFFSETS: i16 = 2;
    /// Metadata.
    pub const METADATA: i16 = 3;
}

/// Largest request frame the proxy accepts (requests are small; anything bigger is not Kafka).
const MAX_REQUEST: usize = 64 << 20;

/// What the proxy has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Client connections accepted.
    pub connections: u64,
    /// Request frames seen from clients.
    pub requests: u64,
    /// Response frames started towards clients.
    pub responses: u64,
    /// Connections cut by [`Proxy::cut_response`].
    pub cuts: u64,
    /// Responses held by [`Proxy::stall_response`].
    pub stalls: u64,
    /// Connections reset by [`Proxy::reset_every_request`] or
    /// [`Proxy::reset_every_connection`].
    pub resets: u64,
    /// Bytes forwarded from the broker to clients by a raw proxy ([`Proxy::start_raw`]).
    pub raw_bytes: u64,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Cut { after: usize },
    Stall(Duration),
}

/// A fault waiting for its response.
#[derive(Debug)]
struct OneShot {
    api: Option<i16>,
    skip: u32,
    action: Action,
}

#[derive(Debug, Default)]
struct Rules {
    once: Vec<OneShot>,
    stall_until: Option<Instant>,
    rate: Option<u64>,
    /// (k, request count when set).
    reset_requests: Option<(u64, u64)>,
    /// (k, connection count when set).
    reset_connections: Option<(u64, u64)>,
    /// A raw proxy: close the next connection after this many bytes from the broker.
    stream_cut: Option<usize>,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    responses: AtomicU64,
    cuts: AtomicU64,
    stalls: AtomicU64,
    resets: AtomicU64,
    raw_bytes: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    addr: SocketAddr,
    /// Forward bytes without reading Kafka's framing (TLS).
    raw: bool,
    upstream: Mutex<Option<SocketAddr>>,
    rules: Mutex<Rules>,
    counters: Counters,
    closed: AtomicBool,
    conns: Mutex<Vec<Weak<Conn>>>,
}

/// One proxied connection: both sockets and the API keys of requests awaiting responses.
#[derive(Debug)]
struct Conn {
    client: TcpStream,
    server: TcpStream,
    pending: Mutex<VecDeque<i16>>,
    /// Set once the connection is being reset: no FIN may go out after that.
    resetting: AtomicBool,
}

impl Conn {
    /// End both sides. With `rst`, the client gets a TCP RST: SO_LINGER 0 makes the final
    /// close abortive, and only the read half is shut so no FIN goes out first.
    fn kill(&self, rst: bool) {
        if rst || self.resetting.load(Ordering::SeqCst) {
            self.resetting.store(true, Ordering::SeqCst);
            set_linger_zero(&self.client);
            let _ = self.client.shutdown(Shutdown::Read);
        } else {
            let _ = self.client.shutdown(Shutdown::Both);
        }
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

fn set_linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized `linger`.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Reset `s` now (RST instead of FIN).
fn reset(s: TcpStream) {
    set_linger_zero(&s);
    drop(s);
}

/// A running proxy on `127.0.0.1:<random port>`. Dropping it stops accepting and closes
/// every proxied connection.
#[derive(Debug)]
pub struct Proxy {
    inner: Arc<Inner>,
}

impl Proxy {
    /// Listen on a free loopback port. Connections accepted before [`Proxy::set_upstream`]
    /// wait for it (up to 60 s).
    pub fn start() -> io::Result<Proxy> {
        Proxy::listen(false)
    }

    /// A raw proxy: bytes are forwarded as they come, the Kafka framing unread (for TLS
    /// listeners, whose records hide it). Its faults: [`Proxy::cut_stream`],
    /// [`Proxy::stall_for`], [`Proxy::reset_every_connection`].
    pub fn start_raw() -> io::Result<Proxy> {
        Proxy::listen(true)
    }

    fn listen(raw: bool) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let inner = Arc::new(Inner {
            addr: listener.local_addr()?,
            raw,
            upstream: Mutex::new(None),
            rules: Mutex::new(Rules::default()),
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
        });
        let accept = Arc::clone(&inner);
        std::thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(listener, accept))?;
        Ok(Proxy { inner })
    }

    /// Start a proxy in front of `upstream`.
    pub fn to(upstream: SocketAddr) -> io::Result<Proxy> {
        let p = Proxy::start()?;
        p.set_upstream(upstream);
        Ok(p)
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.inner.addr.port()
    }

    /// `127.0.0.1:PORT`, the address clients connect to.
    pub fn addr(&self) -> String {
        self.inner.addr.to_string()
    }

    /// Where new connections are forwarded.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.inner.upstream) = Some(upstream);
    }

    fn rules(&self) -> std::sync::MutexGuard<'_, Rules> {
        lock(&self.inner.rules)
    }

    /// Let `skip` responses to `api` (`None`: any response) through, then forward only the
    /// first `after_bytes` bytes of the next one (its 4-byte size included) and close the
    /// connection. Fires once.
    pub fn cut_response(&self, api: Option<i16>, skip: u32, after_bytes: usize) {
        self.rules().once.push(OneShot {
            api,
            skip,
            action: Action::Cut { after: after_bytes },
        });
    }

    /// Let `skip` responses to `api` through, then hold the next one for `hold` before
    /// forwarding it (if its connection is still open then). Fires once.
    pub fn stall_response(&self, api: Option<i16>, skip: u32, hold: Duration) {
        self.rules().once.push(OneShot {
            api,
            skip,
            action: Action::Stall(hold),
        });
    }

    /// A raw proxy ([`Proxy::start_raw`]): forward only the first `after_bytes` bytes from the
    /// broker on the next connection accepted, then close it. Fires once.
    pub fn cut_stream(&self, after_bytes: usize) {
        self.rules().stream_cut = Some(after_bytes);
    }

    /// Forward nothing, in either direction, for `hold` from now.
    pub fn stall_for(&self, hold: Duration) {
        self.rules().stall_until = Some(Instant::now() + hold);
    }

    /// Forward responses at `bytes_per_sec` at most (`None`: full speed).
    pub fn set_rate(&self, bytes_per_sec: Option<u64>) {
        self.rules().rate = bytes_per_sec.map(|r| r.max(1));
    }

    /// Counting from now, answer every `k`-th request (of any connection) by resetting its
    /// connection instead of forwarding it (`None`: stop).
    pub fn reset_every_request(&self, k: Option<u64>) {
        let now = self.inner.counters.requests.load(Ordering::SeqCst);
        self.rules().reset_requests = k.map(|k| (k.max(1), now));
    }

    /// Counting from now, reset every `k`-th new connection as soon as it is accepted
    /// (`None`: stop).
    pub fn reset_every_connection(&self, k: Option<u64>) {
        let now = self.inner.counters.connections.load(Ordering::SeqCst);
        self.rules().reset_connections = k.map(|k| (k.max(1), now));
    }

    /// Remove every fault (pending one-shots included) and zero [`Proxy::stats`];
    /// connections stay open.
    pub fn clear(&self) {
        let mut rules = self.rules();
        *rules = Rules::default();
        let c = &self.inner.counters;
        for n in [
            &c.connections,
            &c.requests,
            &c.responses,
            &c.cuts,
            &c.stalls,
            &c.resets,
            &c.raw_bytes,
        ] {
            n.store(0, Ordering::SeqCst);
        }
    }

    /// One-shot faults that have not fired yet.
    pub fn pending(&self) -> usize {
        self.rules().once.len()
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.inner.counters;
        ProxyStats {
            connections: c.connections.load(Ordering::SeqCst),
            requests: c.requests.load(Ordering::SeqCst),
            responses: c.responses.load(Ordering::SeqCst),
            cuts: c.cuts.load(Ordering::SeqCst),
            stalls: c.stalls.load(Ordering::SeqCst),
            resets: c.resets.load(Ordering::SeqCst),
            raw_bytes: c.raw_bytes.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `closed`.
        let _ = TcpStream::connect(self.inner.addr);
        for c in lock(&self.inner.conns).drain(..) {
            if let Some(c) = c.upgrade() {
                c.kill(false);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    for client in listener.incoming() {
        if inner.closed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let n = inner.counters.connections.fetch_add(1, Ordering::SeqCst) + 1;
        let reset_now = lock(&inner.rules)
            .reset_connections
            .is_some_and(|(k, base)| (n - base).is_multiple_of(k));
        if reset_now {
            inner.counters.resets.fetch_add(1, Ordering::SeqCst);
            reset(client);
            continue;
        }
        let inner = Arc::clone(&inner);
        let _ = std::thread::Builder::new()
            .name("fault-proxy-conn".into())
            .spawn(move || serve(client, inner));
    }
}

/// Connect upstream and run both directions of one connection.
fn serve(client: TcpStream, inner: Arc<Inner>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let upstream = loop {
        if let Some(u) = *lock(&inner.upstream) {
            break u;
        }
        if Instant::now() > deadline || inner.closed.load(Ordering::SeqCst) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let Ok(server) = TcpStream::connect(upstream) else {
        // The broker is down: the client sees its connection refused-like reset.
        reset(client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let conn = Arc::new(Conn {
        client,
        server,
        pending: Mutex::new(VecDeque::new()),
        resetting: AtomicBool::new(false),
    });
    {
        let mut conns = lock(&inner.conns);
        conns.retain(|w| w.strong_count() > 0);
        conns.push(Arc::downgrade(&conn));
    }
    // A raw connection takes the stream cut, if one is waiting, when it starts.
    let cut = if inner.raw {
        lock(&inner.rules).stream_cut.take()
    } else {
        None
    };
    let up = {
        let (conn, inner) = (Arc::clone(&conn), Arc::clone(&inner));
        std::thread::Builder::new()
            .name("fault-proxy-up".into())
            .spawn(move || {
                if inner.raw {
                    raw_up(c2, &conn, &inner)
                } else {
                    requests(c2, &conn, &inner)
                }
            })
    };
    if inner.raw {
        raw_down(s2, &conn, &inner, cut);
    } else {
        responses(s2, &conn, &inner);
    }
    conn.kill(false);
    if let Ok(up) = up {
        let _ = up.join();
    }
}

/// Wait while a [`Proxy::stall_for`] is in force.
fn honour_stall(inner: &Inner) {
    loop {
        let until = lock(&inner.rules).stall_until;
        match until {
            Some(t) if t > Instant::now() => {
                std::thread::sleep((t - Instant::now()).min(Duration::from_millis(50)))
            }
            _ => return,
        }
    }
}

/// Client → broker: whole request frames, noting each one's API key.
fn requests(mut from: TcpStream, conn: &Conn, inner: &Inner) {
    let mut to = &conn.server;
    loop {
        let mut size = [0u8; 4];
        if from.read_exact(&mut size).is_err() {
            break;
        }
        let len = i32::from_be_bytes(size);
        if len < 2 || len as usize > MAX_REQUEST {
            break;
        }
        let mut body = vec![0u8; len as usize];
        if from.read_exact(&mut body).is_err() {
            break;
        }
        let key = i16::from_be_bytes([body[0], body[1]]);
        let n = inner.counters.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let reset_now = lock(&inner.rules)
            .reset_requests
            .is_some_and(|(k, base)| (n - base).is_multiple_of(k));
        if reset_now {
            inner.counters.resets.fetch_add(1, Ordering::SeqCst);
            conn.kill(true);
            return;
        }
        lock(&conn.pending).push_back(key);
        honour_stall(inner);
        if to
            .write_all(&size)
            .and_then(|()| to.write_all(&body))
            .is_err()
        {
            break;
        }
    }
    conn.kill(false);
}

/// Client → broker on a raw connection: bytes as they come.
fn raw_up(mut from: TcpStream, conn: &Conn, inner: &Inner) {
    let mut to = &conn.server;
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        honour_stall(inner);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    conn.kill(false);
}

/// Broker → client on a raw connection: bytes as they come, and with `cut`, only that many.
fn raw_down(mut from: TcpStream, conn: &Conn, inner: &Inner, cut: Option<usize>) {
    let mut to = &conn.client;
    let mut buf = vec![0u8; 16 << 10];
    let mut left = cut.unwrap_or(usize::MAX);
    if cut.is_some() {
        inner.counters.cuts.fetch_add(1, Ordering::SeqCst);
    }
    while left > 0 {
        let room = left.min(buf.len());
        let n = match from.read(&mut buf[..room]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        honour_stall(inner);
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
        inner
            .counters
            .raw_bytes
            .fetch_add(n as u64, Ordering::SeqCst);
        left -= n;
    }
}

/// The fault (if any) for the next response, to a request with API key `key`.
fn take_action(inner: &Inner, key: Option<i16>) -> Option<Action> {
    let mut rules = lock(&inner.rules);
    let mut fired = None;
    for (i, rule) in rules.once.iter_mut().enumerate() {
        if rule.api.is_some() && rule.api != key {
            continue;
        }
        if rule.skip > 0 {
            rule.skip -= 1;
        } else if fired.is_none() {
            fired = Some(i);
        }
    }
    fired.map(|i| rules.once.remove(i).action)
}

/// Broker → client: response frames, forwarded in chunks (so a cut can land mid-frame and a
/// rate limit is smooth), with the faults applied.
fn responses(mut from: TcpStream, conn: &Conn, inner: &Inner) {
    let mut to = &conn.client;
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let mut size = [0u8; 4];
        if from.read_exact(&mut size).is_err() {
            return;
        }
        let len = i32::from_be_bytes(size);
        if len < 0 {
            return;
        }
        inner.counters.responses.fetch_add(1, Ordering::SeqCst);
        let key = lock(&conn.pending).pop_front();
        let mut limit = usize::MAX;
        match take_action(inner, key) {
            Some(Action::Stall(hold)) => {
                inner.counters.stalls.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(hold);
            }
            Some(Action::Cut { after }) => {
                inner.counters.cuts.fetch_add(1, Ordering::SeqCst);
                limit = after;
            }
            None => {}
        }
        // The frame as a stream of chunks: its size, then the body.
        let total = 4 + len as usize;
        let mut sent = 0usize;
        let mut pending_head: &[u8] = &size;
        while sent < total.min(limit) {
            honour_stall(inner);
            let rate = lock(&inner.rules).rate;
            let room = total.min(limit) - sent;
            let chunk = match rate {
                Some(r) => room.min(buf.len()).min((r as usize / 20).max(1)),
                None => room.min(buf.len()),
            };
            let n = if !pending_head.is_empty() {
                let n = chunk.min(pending_head.len());
                buf[..n].copy_from_slice(&pending_head[..n]);
                pending_head = &pending_head[n..];
                n
            } else {
                match from.read(&mut buf[..chunk]) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                }
            };
            if to.write_all(&buf[..n]).is_err() {
                return;
            }
            sent += n;
            if let Some(r) = rate {
                std::thread::sleep(Duration::from_secs_f64(n as f64 / r as f64));
            }
        }
        if limit != usize::MAX {
            conn.kill(false);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The proxy against a tiny echo server: every request frame comes back as its response,
    //! so what the client reads shows exactly what the proxy forwarded.
    use super::*;

    /// A server that answers every frame with the same frame.
    fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut w = s.try_clone().unwrap();
                    loop {
                        let mut size = [0u8; 4];
                        if s.read_exact(&mut size).is_err() {
                            return;
                        }
                        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
                        if s.read_exact(&mut body).is_err() {
                            return;
                        }
                        if w.write_all(&size)
                            .and_then(|()| w.write_all(&body))
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    /// A request frame: API key, version 0, correlation id, then `pad` bytes of payload.
    fn frame(key: i16, corr: i32, pad: usize) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&key.to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&corr.to_be_bytes());
        body.extend((0..pad).map(|i| i as u8));
        let mut f = (body.len() as i32).to_be_bytes().to_vec();
        f.extend(body);
        f
    }

    fn client(p: &Proxy) -> TcpStream {
        let s = TcpStream::connect(p.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Send a frame and read the whole answer (until the frame ends or the stream does).
    fn roundtrip(s: &mut TcpStream, f: &[u8]) -> io::Result<Vec<u8>> {
        s.write_all(f)?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while got.len() < f.len() {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        Ok(got)
    }

    #[test]
    fn forwards_frames_unchanged() {
        let p = Proxy::to(echo_server()).unwrap();
        let mut s = client(&p);
        for (i, pad) in [0usize, 10, 100_000].into_iter().enumerate() {
            let f = frame(api::FETCH, i as i32, pad);
            assert_eq!(roundtrip(&mut s, &f).unwrap(), f);
        }
        let st = p.stats();
        assert_eq!((st.connections, st.requests, st.responses), (1, 3, 3));
        assert_eq!((st.cuts, st.stalls, st.resets), (0, 0, 0));
    }

    #[test]
    fn cuts_the_chosen_response_after_n_bytes() {
        let p = Proxy::to(echo_server()).unwrap();
        let mut s = client(&p);
        // One Fetch passes, the Metadata is not aimed at; the second Fetch is cut at 37.
        p.cut_response(Some(api::FETCH), 1, 37);
        let f1 = frame(api::FETCH, 1, 500);
        assert_eq!(roundtrip(&mut s, &f1).unwrap(), f1);
        let m = frame(api::METADATA, 2, 500);
        assert_eq!(roundtrip(&mut s, &m).unwrap(), m);
        let f2 = frame(api::FETCH, 3, 500);
        let got = roundtrip(&mut s, &f2).unwrap();
        assert_eq!(got, f2[..37], "exactly 37 bytes, then EOF");
        assert_eq!(p.stats().cuts, 1);
        assert_eq!(p.pending(), 0);
        // A new connection is not affected.
        let mut s = client(&p);
        assert_eq!(roundtrip(&mut s, &f2).unwrap(), f2);
    }

    #[test]
    fn stalls_one_response() {
        let p = Proxy::to(echo_server()).unwrap();
        let mut s = client(&p);
        p.stall_response(Some(api::LIST_OFFSETS), 0, Duration::from_millis(700));
        let f = frame(api::FETCH, 1, 10);
        let t = Instant::now();
        assert_eq!(roundtrip(&mut s, &f).unwrap(), f);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "not aimed at Fetch"
        );
        let l = frame(api::LIST_OFFSETS, 2, 10);
        let t = Instant::now();
        assert_eq!(roundtrip(&mut s, &l).unwrap(), l);
        assert!(
            t.elapsed() >= Duration::from_millis(700),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(p.stats().stalls, 1);
    }

    #[test]
    fn stall_for_holds_everything() {
        let p = Proxy::to(echo_server()).unwrap();
        let mut s = client(&p);
        p.stall_for(Duration::from_millis(600));
        let f = frame(api::FETCH, 1, 10);
        let t = Instant::now();
        assert_eq!(roundtrip(&mut s, &f).unwrap(), f);
        assert!(
            t.elapsed() >= Duration::from_millis(550),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn slows_responses_to_the_rate() {
        let p = Proxy::to(echo_server()).unwrap();
        let mut s = client(&p);
        p.set_rate(Some(200_000));
        let f = frame(api::FETCH, 1, 100_000);
        let t = Instant::now();
        assert_eq!(roundtrip(&mut s, &f).unwrap(), f);
        let e = t.elapsed();
        assert!(
            e >= Duration::from_millis(450),
            "100 kB at 200 kB/s took {e:?}"
        );
        p.set_rate(None);
        let t = Instant::now();
        assert_eq!(roundtrip(&mut s, &f).unwrap(), f);
        assert!(t.elapsed() < Duration::from_millis(400));
    }

    #[test]
    fn resets_every_kth_request() {
        let p = Proxy::to(echo_server()).unwrap();
        p.reset_every_request(Some(3));
        let mut s = client(&p);
        for corr in 1..=2 {
            let f = frame(api::FETCH, corr, 10);
            assert_eq!(roundtrip(&mut s, &f).unwrap(), f);
        }
        let err = roundtrip(&mut s, &frame(api::FETCH, 3, 10)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        // The count goes on over new connections: requests 4 and 5 pass, 6 is reset.
        let mut s = client(&p);
        for corr in 4..=5 {
            let f = frame(api::FETCH, corr, 10);
            assert_eq!(roundtrip(&mut s, &f).unwrap(), f);
        }
        assert!(roundtrip(&mut s, &frame(api::FETCH, 6, 10)).is_err());
        assert_eq!(p.stats().resets, 2);
    }

    #[test]
    fn a_raw_proxy_cuts_the_stream_after_n_bytes_of_a_connection() {
        let p = Proxy::start_raw().unwrap();
        p.set_upstream(echo_server());
        // Not Kafka framing at all: a raw proxy forwards it anyway.
        let junk: Vec<u8> = [0u8, 0, 0, 20].into_iter().chain(0..20).collect();
        let mut s = client(&p);
        assert_eq!(roundtrip(&mut s, &junk).unwrap(), junk);
        p.cut_stream(7);
        let mut s = client(&p);
        assert_eq!(
            roundtrip(&mut s, &junk).unwrap(),
            junk[..7],
            "7 bytes, then EOF"
        );
        let st = p.stats();
        assert_eq!((st.cuts, st.raw_bytes), (1, 24 + 7));
        // One connection only.
        let mut s = client(&p);
        assert_eq!(roundtrip(&mut s, &junk).unwrap(), junk);
    }

    #[test]
    fn resets_every_kth_connection() {
        let p = Proxy::to(echo_server()).unwrap();
        p.reset_every_connection(Some(2));
        let f = frame(api::METADATA, 1, 10);
        let mut a = client(&p);
        assert_eq!(roundtrip(&mut a, &f).unwrap(), f);
        let mut b = client(&p);
        let r = roundtrip(&mut b, &f);
        assert!(
            matches!(&r, Err(e) if e.kind() == io::ErrorKind::ConnectionReset)
                || matches!(&r, Ok(v) if v.is_empty()),
            "{r:?}"
        );
        assert_eq!(p.stats().resets, 1);
        p.clear();
        assert_eq!(p.stats(), ProxyStats::default());
        let mut c = client(&p);
        assert_eq!(roundtrip(&mut c, &f).unwrap(), f);
    }
}
