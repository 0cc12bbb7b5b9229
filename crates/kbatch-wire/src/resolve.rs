//! Host-name resolution that works in a fully static binary.
//!
//! A statically linked glibc cannot load NSS modules on a host that lacks them (an empty
//! container root, a minimal bastion), so `getaddrinfo` fails there even for names in
//! `/etc/hosts`. kbatch resolves names itself: IP literals directly, then `/etc/hosts`, then a
//! plain DNS query (A, then AAAA) over UDP to the nameservers of `/etc/resolv.conf`, each asked
//! in turn with a short timeout. No search domains, no TCP fallback: broker host names in
//! Kafka metadata are normally fully qualified or in `/etc/hosts`.
//!
//! A forged answer would send the client secret and every read to another host, so queries
//! are hard to answer blind (RFC 5452): a random transaction id from the operating system's
//! generator (`getrandom`) and a random source port (the kernel's ephemeral port), on a socket
//! connected to the nameserver (the kernel drops datagrams from elsewhere). A datagram is the
//! answer only if its id, its QR bit and its one question (name, type, class) match what was
//! asked; anything else is ignored and the wait goes on until the timeout, as the C library's
//! stub resolvers (glibc `res_send`, musl) do, so a spoofed datagram cannot even cut a lookup
//! short.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long one nameserver has to answer one question.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// The class asked for: IN.
const CLASS_IN: u16 = 1;

/// Why a name could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve {host:?}: {why}")]
pub struct ResolveError {
    /// The name.
    pub host: String,
    /// What was tried.
    pub why: String,
}

/// Split `host:port` (`[v6]:port` for IPv6 literals).
pub fn split_host_port(addr: &str) -> Option<(&str, u16)> {
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host, port.parse().ok()?));
    }
    let (host, port) = addr.rsplit_once(':')?;
    if host.is_empty() || host.contains(':') {
        return None;
    }
    Some((host, port.parse().ok()?))
}

/// Resolve `host:port` to socket addresses, without NSS.
pub async fn resolve(addr: &str) -> Result<Vec<SocketAddr>, ResolveError> {
    let (host, port) = split_host_port(addr).ok_or_else(|| ResolveError {
        host: addr.to_string(),
        why: "expected host:port".into(),
    })?;
    let ips = resolve_host(host).await?;
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// A TCP connection to the first of `addrs` that accepts one, in order; otherwise the last
/// address's error ("address: reason"), or "no address" when there were none.
pub(crate) async fn connect_first(addrs: Vec<SocketAddr>) -> Result<tokio::net::TcpStream, String> {
    let mut last = String::from("no address");
    for sa in addrs {
        match tokio::net::TcpStream::connect(sa).await {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("{sa}: {e}"),
        }
    }
    Err(last)
}

async fn resolve_host(host: &str) -> Result<Vec<IpAddr>, ResolveError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if host.eq_ignore_ascii_case("localhost") {
        if let Some(ips) = from_hosts(host) {
            return Ok(ips);
        }
        return Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
    }
    if let Some(ips) = from_hosts(host) {
        return Ok(ips);
    }
    let servers = nameservers();
    if servers.is_empty() {
        return Err(ResolveError {
            host: host.to_string(),
            why: "not in /etc/hosts and no nameserver in /etc/resolv.conf".into(),
        });
    }
    let mut last = String::new();
    for server in servers {
        for qtype in [1u16, 28u16] {
            match query(server, host, qtype).await {
                Ok(ips) if !ips.is_empty() => return Ok(ips),
                Ok(_) => last = format!("{server}: no address records"),
                Err(e) => last = format!("{server}: {e}"),
            }
        }
    }
    Err(ResolveError {
        host: host.to_string(),
        why: format!("not in /etc/hosts; DNS: {last}"),
    })
}

fn from_hosts(host: &str) -> Option<Vec<IpAddr>> {
    let text = std::fs::read_to_string("/etc/hosts").ok()?;
    let ips = hosts_lookup(&text, host);
    (!ips.is_empty()).then_some(ips)
}

/// Addresses of `host` in an `/etc/hosts` text (IPv4 first, in file order).
pub fn hosts_lookup(text: &str, host: &str) -> Vec<IpAddr> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(ip) = fields.next().and_then(|f| f.parse::<IpAddr>().ok()) else {
            continue;
        };
        if fields.any(|name| name.eq_ignore_ascii_case(host)) {
            match ip {
                IpAddr::V4(_) => v4.push(ip),
                IpAddr::V6(_) => v6.push(ip),
            }
        }
    }
    v4.extend(v6);
    v4
}

fn nameservers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some("nameserver"))
                .then(|| f.next())
                .flatten()
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .collect()
}

/// A transaction id nobody off the path can guess.
fn random_id() -> Result<u16, String> {
    let mut b = [0u8; 2];
    getrandom::getrandom(&mut b)
        .map_err(|e| format!("the system's random number generator failed: {e}"))?;
    Ok(u16::from_be_bytes(b))
}

async fn query(server: SocketAddr, host: &str, qtype: u16) -> Result<Vec<IpAddr>, String> {
    let id = random_id()?;
    let packet = build_query(id, host, qtype)?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| e.to_string())?;
    sock.connect(server).await.map_err(|e| e.to_string())?;
    sock.send(&packet).await.map_err(|e| e.to_string())?;
    let wait = async {
        let mut buf = [0u8; 1500];
        let mut ignored = 0u32;
        loop {
            let n = sock.recv(&mut buf).await.map_err(|e| e.to_string())?;
            match parse_answer(&buf[..n], id, host, qtype)? {
                Reply::Answer(ips) => return Ok(ips),
                Reply::NotOurs(why) => {
                    ignored = ignored.saturating_add(1);
                    tracing::debug!(%server, host, why, ignored, "DNS datagram ignored");
                }
            }
        }
    };
    tokio::time::timeout(QUERY_TIMEOUT, wait)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// A DNS query packet: header (recursion desired), one question.
pub fn build_query(id: u16, host: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut p = Vec::with_capacity(32 + host.len());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in host.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("bad host name {host:?}"));
        }
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    Ok(p)
}

fn skip_name(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let len = *b.get(i)? as usize;
        if len == 0 {
            return Some(i + 1);
        }
        if len & 0xc0 == 0xc0 {
            return Some(i + 2);
        }
        i += 1 + len;
    }
}

/// What a datagram received on a query's socket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The answer to the question: its addresses of the type asked (none for NXDOMAIN or a
    /// name without such records).
    Answer(Vec<IpAddr>),
    /// Not an answer to the question asked (another id, not a response, another question):
    /// ignored, and the wait goes on. Says why, for the debug log.
    NotOurs(&'static str),
}

/// Whether the question of response `b` (at offset 12, uncompressed as every server echoes
/// it) is `host`, `qtype`, class IN; the offset after it if so. Names compare
/// case-insensitively (servers may echo a 0x20-mixed case).
fn question_matches(b: &[u8], host: &str, qtype: u16) -> Option<usize> {
    let mut i = 12usize;
    for label in host.trim_end_matches('.').split('.') {
        let len = usize::from(*b.get(i)?);
        let got = b.get(i.checked_add(1)?..i.checked_add(1 + len)?)?;
        if len != label.len() || !got.eq_ignore_ascii_case(label.as_bytes()) {
            return None;
        }
        i += 1 + len;
    }
    if *b.get(i)? != 0 {
        return None;
    }
    let tail = b.get(i + 1..i + 5)?;
    let (t, c) = (
        u16::from_be_bytes([tail[0], tail[1]]),
        u16::from_be_bytes([tail[2], tail[3]]),
    );
    (t == qtype && c == CLASS_IN).then_some(i + 5)
}

/// What datagram `b` is to the query `id` for `host`, type `qtype`: the answer only if the id,
/// the QR bit and the one question all match; a matching answer with an error code or a
/// malformed answer section is an error.
pub fn parse_answer(b: &[u8], id: u16, host: &str, qtype: u16) -> Result<Reply, String> {
    let u16_at = |i: usize| b.get(i..i + 2).map(|s| u16::from_be_bytes([s[0], s[1]]));
    if u16_at(0) != Some(id) {
        return Ok(Reply::NotOurs("another transaction id"));
    }
    let Some(flags) = u16_at(2) else {
        return Ok(Reply::NotOurs("shorter than a DNS header"));
    };
    if flags & 0x8000 == 0 {
        return Ok(Reply::NotOurs("a query, not a response"));
    }
    if u16_at(4) != Some(1) {
        return Ok(Reply::NotOurs("not exactly one question"));
    }
    let Some(mut i) = question_matches(b, host, qtype) else {
        return Ok(Reply::NotOurs("another question"));
    };
    match flags & 0x000f {
        0 => {}
        3 => return Ok(Reply::Answer(Vec::new())),
        rcode => return Err(format!("DNS error code {rcode}")),
    }
    let an = u16_at(6).ok_or("short response")?;
    let mut out = Vec::new();
    for _ in 0..an {
        i = skip_name(b, i).ok_or("bad answer")?;
        let rtype = u16_at(i).ok_or("bad answer")?;
        let rdlen = u16_at(i + 8).ok_or("bad answer")? as usize;
        let data = b.get(i + 10..i + 10 + rdlen).ok_or("bad answer")?;
        match (rtype, qtype, rdlen) {
            (1, 1, 4) => out.push(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            ))),
            (28, 28, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(data);
                out.push(IpAddr::V6(Ipv6Addr::from(a)));
            }
            _ => {}
        }
        i += 10 + rdlen;
    }
    Ok(Reply::Answer(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file() {
        let text =
            "127.0.0.1 localhost\n# comment\n10.0.0.7  kafka-1 kafka-1.example  # x\n::1 kafka-1\n";
        assert_eq!(
            hosts_lookup(text, "kafka-1"),
            vec![
                "10.0.0.7".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(
            hosts_lookup(text, "KAFKA-1.example"),
            vec!["10.0.0.7".parse::<IpAddr>().unwrap()]
        );
        assert!(hosts_lookup(text, "kafka").is_empty());
    }

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("a.b:9092"), Some(("a.b", 9092)));
        assert_eq!(split_host_port("[::1]:9092"), Some(("::1", 9092)));
        assert_eq!(split_host_port("nohost"), None);
        assert_eq!(split_host_port("::1:9092"), None);
    }

    /// A response to `build_query(id, host, qtype)`: the question echoed, one compressed-name
    /// A answer for 192.0.2.9.
    fn response(id: u16, host: &str, qtype: u16) -> Vec<u8> {
        let mut r = build_query(id, host, qtype).unwrap();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1; // ancount = 1
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 9]);
        r
    }

    fn addr() -> IpAddr {
        "192.0.2.9".parse().unwrap()
    }

    #[test]
    fn dns_roundtrip() {
        let r = response(0x1234, "kafka.example", 1);
        assert_eq!(
            parse_answer(&r, 0x1234, "kafka.example", 1),
            Ok(Reply::Answer(vec![addr()]))
        );
        // A server may echo the name in another case (0x20 randomization).
        let upper = response(0x1234, "KAFKA.Example", 1);
        assert_eq!(
            parse_answer(&upper, 0x1234, "kafka.example.", 1),
            Ok(Reply::Answer(vec![addr()]))
        );
        for cut in 0..r.len() {
            // Every truncation is ignored or an error, never a panic.
            let _ = parse_answer(&r[..cut], 0x1234, "kafka.example", 1);
        }
        assert!(parse_answer(&r[..r.len() - 1], 0x1234, "kafka.example", 1).is_err());
    }

    /// Forged or stray datagrams are not the answer: another id, a query rather than a
    /// response, another name, type or class, two questions. The old parser took any of
    /// these but the first as the answer (the question was skipped, not compared).
    #[test]
    fn forged_answers_are_not_ours() {
        let (id, host) = (0x1234, "kafka.example");
        let not_ours = |r: &[u8]| match parse_answer(r, id, host, 1) {
            Ok(Reply::NotOurs(why)) => why,
            other => panic!("taken as the answer: {other:?}"),
        };
        assert_eq!(
            not_ours(&response(0x1235, host, 1)),
            "another transaction id"
        );
        let mut query = response(id, host, 1);
        query[2] &= 0x7f;
        assert_eq!(not_ours(&query), "a query, not a response");
        assert_eq!(
            not_ours(&response(id, "evil.example", 1)),
            "another question"
        );
        assert_eq!(
            not_ours(&response(id, "kafka.example.evil", 1)),
            "another question"
        );
        assert_eq!(not_ours(&response(id, "kafka", 1)), "another question");
        assert_eq!(not_ours(&response(id, host, 28)), "another question");
        let mut chaos = response(id, host, 1);
        let class = chaos.len() - 16 - 1;
        chaos[class] = 3; // class CH
        assert_eq!(not_ours(&chaos), "another question");
        let mut two = response(id, host, 1);
        two[5] = 2;
        assert_eq!(not_ours(&two), "not exactly one question");
        assert_eq!(not_ours(&[0x12, 0x34]), "shorter than a DNS header");
    }

    /// Over real UDP: a nameserver that first sends forged answers (wrong id, wrong
    /// question) and then the real one. The lookup must ignore the forgeries and return the
    /// real address; the old code took the first datagram, so the wrong-id forgery failed the
    /// lookup and the wrong-question one would have been believed.
    #[tokio::test]
    async fn forged_datagrams_are_ignored_and_the_real_answer_waited_for() {
        let ns = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = ns.local_addr().unwrap();
        let forger = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, from) = ns.recv_from(&mut buf).await.unwrap();
            let q = &buf[..n];
            let id = u16::from_be_bytes([q[0], q[1]]);
            let host = "kafka.example";
            let mut wrong_question = response(id, "evil.example", 1);
            *wrong_question.last_mut().unwrap() = 66; // 192.0.2.66
            for forged in [response(id.wrapping_add(1), host, 1), wrong_question] {
                ns.send_to(&forged, from).await.unwrap();
            }
            ns.send_to(&response(id, host, 1), from).await.unwrap();
            id
        });
        let ips = query(server, "kafka.example", 1).await.unwrap();
        assert_eq!(ips, vec![addr()]);
        forger.await.unwrap();
    }

    /// Transaction ids come from the system's generator: two queries a nanosecond apart do
    /// not share one (the clock's nanoseconds made them predictable and often equal).
    #[test]
    fn transaction_ids_are_random() {
        let ids: std::collections::HashSet<u16> = (0..64).map(|_| random_id().unwrap()).collect();
        assert!(ids.len() > 48, "{} distinct ids of 64", ids.len());
    }

    #[tokio::test]
    async fn literals_and_localhost() {
        assert_eq!(
            resolve("127.0.0.1:9").await.unwrap(),
            vec!["127.0.0.1:9".parse().unwrap()]
        );
        assert!(!resolve("localhost:9").await.unwrap().is_empty());
    }
}
