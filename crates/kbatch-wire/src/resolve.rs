//! Host-name resolution that works in a fully static binary.
//!
//! A statically linked glibc cannot load NSS modules on a host that lacks them (an empty
//! container root, a minimal bastion), so `getaddrinfo` fails there even for names in
//! `/etc/hosts`. kbatch resolves names itself: IP literals directly, then `/etc/hosts`, then a
//! plain DNS query (A, then AAAA) over UDP to the nameservers of `/etc/resolv.conf`, each asked
//! in turn with a short timeout. No search domains, no TCP fallback: broker host names in
//! Kafka metadata are normally fully qualified or in `/etc/hosts`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

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

async fn query(server: SocketAddr, host: &str, qtype: u16) -> Result<Vec<IpAddr>, String> {
    let id = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        & 0xffff) as u16;
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
    let mut buf = [0u8; 1500];
    let n = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    parse_answer(&buf[..n], id, qtype)
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

/// Addresses of type `qtype` in a DNS response to query `id`.
pub fn parse_answer(b: &[u8], id: u16, qtype: u16) -> Result<Vec<IpAddr>, String> {
    let u16_at = |i: usize| b.get(i..i + 2).map(|s| u16::from_be_bytes([s[0], s[1]]));
    if u16_at(0) != Some(id) {
        return Err("response id mismatch".into());
    }
    let flags = u16_at(2).ok_or("short response")?;
    match flags & 0x000f {
        0 => {}
        3 => return Ok(Vec::new()),
        rcode => return Err(format!("DNS error code {rcode}")),
    }
    let qd = u16_at(4).ok_or("short response")?;
    let an = u16_at(6).ok_or("short response")?;
    let mut i = 12;
    for _ in 0..qd {
        i = skip_name(b, i).ok_or("bad question")? + 4;
    }
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
    Ok(out)
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

    #[test]
    fn dns_roundtrip() {
        let q = build_query(0x1234, "kafka.example", 1).unwrap();
        // A response: the question echoed, one compressed-name A answer.
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1; // ancount = 1
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 9]);
        assert_eq!(
            parse_answer(&r, 0x1234, 1),
            Ok(vec!["192.0.2.9".parse::<IpAddr>().unwrap()])
        );
        assert!(parse_answer(&r, 0x9999, 1).is_err());
        assert!(
            parse_answer(&r[..20], 0x1234, 1).is_err()
                || parse_answer(&r[..20], 0x1234, 1) == Ok(vec![])
        );
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
