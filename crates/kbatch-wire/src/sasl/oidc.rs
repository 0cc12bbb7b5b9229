//! OAUTHBEARER tokens from an OAuth 2 token endpoint with the client-credentials grant
//! (`sasl.oauthbearer.method=oidc`, RFC 6749 section 4.4), as librdkafka and the Java client
//! get them: `POST` `grant_type=client_credentials[&scope=…]` with the client id and secret in
//! HTTP Basic authentication, answered by JSON with `access_token` and `expires_in`.
//!
//! The request goes over kbatch's own resolver and, for `https://`, the same TLS settings as
//! the brokers (CA, host name check), so the static binary can use it. The response is read up
//! to [`MAX_RESPONSE`] bytes. Tokens are cached (shared by every connection of a `Config`) until
//! shortly before they expire. Errors never contain the secret or the token.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::security::TlsSettings;
use crate::Secret;

/// The largest token-endpoint response read.
pub(crate) const MAX_RESPONSE: u64 = 1 << 20;

/// A token shared by the connections of one configuration, with when to stop using it.
#[derive(Clone, Default)]
pub struct TokenCache(Arc<Mutex<Option<(Secret, Instant)>>>);

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache")
    }
}

/// Caches do not make two configurations different.
impl PartialEq for TokenCache {
    fn eq(&self, _: &TokenCache) -> bool {
        true
    }
}

impl Eq for TokenCache {}

impl TokenCache {
    fn get(&self) -> Option<Secret> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(t, _)| t.clone())
    }

    fn put(&self, token: Secret, expires_in: Duration) {
        // Stop using a token at 80 % of its life (at least 10 s early): a connection made
        // with it must still authenticate before it expires.
        let margin = (expires_in / 5)
            .max(Duration::from_secs(10))
            .min(expires_in);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((token, Instant::now() + expires_in - margin));
    }
}

/// Where the token endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// `http://host[:port]/path` or `https://…`.
pub(crate) fn parse_url(url: &str) -> Result<Endpoint, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err("the token endpoint URL must start with https:// or http://".into());
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h,
            p.parse()
                .map_err(|_| "the token endpoint URL has a bad port".to_string())?,
        ),
        _ => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err("the token endpoint URL has no host".into());
    }
    Ok(Endpoint {
        tls,
        host: host.to_string(),
        port,
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
    })
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The HTTP request (the client id and secret form-encoded, then Basic, per RFC 6749 2.3.1).
pub(crate) fn request(
    ep: &Endpoint,
    client_id: &str,
    secret: &Secret,
    scope: Option<&str>,
) -> Vec<u8> {
    let mut body = "grant_type=client_credentials".to_string();
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        body.push_str("&scope=");
        body.push_str(&form(scope));
    }
    let basic = B64.encode(format!("{}:{}", form(client_id), form(secret.expose())));
    format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        ep.path,
        ep.host,
        body.len()
    )
    .into_bytes()
}

/// The token and its lifetime from a complete HTTP response.
pub(crate) fn parse_response(raw: &[u8]) -> Result<(Secret, Duration), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the token endpoint's response has no HTTP header")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("the token endpoint did not answer HTTP")?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    }
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| format!("the token endpoint answered HTTP {status} without JSON"))?;
    if status != 200 {
        let error = json["error"].as_str().unwrap_or("unknown error");
        let description = json["error_description"].as_str().unwrap_or("");
        return Err(format!(
            "the token endpoint refused the client credentials: HTTP {status}, {error} {description}"
        )
        .trim_end()
        .to_string());
    }
    let token = json["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or("the token endpoint's answer has no access_token")?;
    let expires_in = json["expires_in"]
        .as_u64()
        .or_else(|| json["expires_in"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(3600);
    Ok((Secret::new(token), Duration::from_secs(expires_in)))
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "the token endpoint's chunked body is malformed".to_string();
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size_text = String::from_utf8_lossy(&b[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad())?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err(bad());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    req: &[u8],
) -> Result<Vec<u8>, String> {
    let io = |e: std::io::Error| format!("talking to the token endpoint failed: {e}");
    s.write_all(req).await.map_err(io)?;
    s.flush().await.map_err(io)?;
    let mut raw = Vec::new();
    (&mut s)
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .await
        .map_err(io)?;
    Ok(raw)
}

/// The settings of one token endpoint.
pub(crate) struct Client<'a> {
    pub url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a Secret,
    pub scope: Option<&'a str>,
    pub cache: &'a TokenCache,
}

impl Client<'_> {
    /// A valid token: the cached one, or a new one from the endpoint (within `timeout`).
    pub(crate) async fn token(
        &self,
        tls: &TlsSettings,
        timeout: Duration,
    ) -> Result<Secret, String> {
        if let Some(t) = self.cache.get() {
            return Ok(t);
        }
        let ep = parse_url(self.url)?;
        let req = request(&ep, self.client_id, self.client_secret, self.scope);
        let fetch = async {
            let addr = format!("{}:{}", ep.host, ep.port);
            let addrs = crate::resolve::resolve(&addr)
                .await
                .map_err(|e| format!("cannot resolve the token endpoint {}: {e}", ep.host))?;
            let mut last = String::from("no address");
            let mut stream = None;
            for sa in addrs {
                match tokio::net::TcpStream::connect(sa).await {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) => last = format!("{sa}: {e}"),
                }
            }
            let stream = stream
                .ok_or_else(|| format!("cannot connect to the token endpoint {addr}: {last}"))?;
            if ep.tls {
                let config = crate::tls::client_config(tls)?;
                let s = crate::tls::handshake(stream, &addr, config)
                    .await
                    .map_err(|e| format!("TLS with the token endpoint {addr} failed: {e}"))?;
                exchange(s, &req).await
            } else {
                exchange(stream, &req).await
            }
        };
        let raw = tokio::time::timeout(timeout, fetch)
            .await
            .map_err(|_| format!("the token endpoint did not answer within {timeout:?}"))??;
        let (token, expires_in) = parse_response(&raw)?;
        self.cache.put(token.clone(), expires_in);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let ep = |tls, host: &str, port, path: &str| Endpoint {
            tls,
            host: host.into(),
            port,
            path: path.into(),
        };
        assert_eq!(
            parse_url("https://idp.example/oauth2/token").unwrap(),
            ep(true, "idp.example", 443, "/oauth2/token")
        );
        assert_eq!(
            parse_url("http://127.0.0.1:8080").unwrap(),
            ep(false, "127.0.0.1", 8080, "/")
        );
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("https://:1/x").is_err());
        assert!(parse_url("https://h:port/x").is_err());
    }

    #[test]
    fn the_request_carries_the_grant_and_basic_credentials() {
        let ep = parse_url("https://idp/token").unwrap();
        let req =
            String::from_utf8(request(&ep, "id 1", &Secret::new("s:é"), Some("a b"))).unwrap();
        assert!(
            req.starts_with("POST /token HTTP/1.1\r\nHost: idp\r\n"),
            "{req}"
        );
        let basic = B64.encode("id+1:s%3A%C3%A9");
        assert!(
            req.contains(&format!("Authorization: Basic {basic}\r\n")),
            "{req}"
        );
        assert!(
            req.ends_with("\r\n\r\ngrant_type=client_credentials&scope=a+b"),
            "{req}"
        );
    }

    #[test]
    fn responses() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"access_token\":\"T0K\",\"expires_in\":300,\"token_type\":\"Bearer\"}";
        let (t, life) = parse_response(ok).unwrap();
        assert_eq!((t.expose(), life), ("T0K", Duration::from_secs(300)));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"acc\r\n1A\r\ness_token\":\"T\",\"expires_in\r\n6\r\n\":\"60\"\r\n1\r\n}\r\n0\r\n\r\n";
        let (t, life) = parse_response(chunked).unwrap();
        assert_eq!((t.expose(), life), ("T", Duration::from_secs(60)));
        let refused = b"HTTP/1.1 401 Unauthorized\r\n\r\n{\"error\":\"invalid_client\"}";
        let e = parse_response(refused).unwrap_err();
        assert!(e.contains("401") && e.contains("invalid_client"), "{e}");
        for bad in [
            &b"garbage"[..],
            b"HTTP/1.1 200 OK\r\n\r\nnot json",
            b"HTTP/1.1 200 OK\r\n\r\n{\"token_type\":\"Bearer\"}",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nab",
        ] {
            assert!(
                parse_response(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// A loopback token endpoint: the first call fetches, the second comes from the cache.
    #[tokio::test]
    async fn tokens_are_fetched_once_and_cached() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", l.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let server = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap();
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let body = r#"{"access_token":"tok-1","expires_in":3600}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(resp.as_bytes()).await.unwrap();
            }
        });
        let cache = TokenCache::default();
        let secret = Secret::new("client-secret-9");
        let client = Client {
            url: &url,
            client_id: "kbatch",
            client_secret: &secret,
            scope: Some("kafka"),
            cache: &cache,
        };
        let tls = TlsSettings::default();
        for _ in 0..3 {
            let t = client.token(&tls, Duration::from_secs(5)).await.unwrap();
            assert_eq!(t.expose(), "tok-1");
        }
        server.abort();
        {
            let requests = requests.lock().unwrap();
            assert_eq!(requests.len(), 1, "the cache answers after the first fetch");
            assert!(requests[0].contains("grant_type=client_credentials&scope=kafka"));
        }
        // An unreachable endpoint fails with the URL's host, never the secret.
        let cold = TokenCache::default();
        let down = Client {
            url: "http://127.0.0.1:1/token",
            cache: &cold,
            ..client
        };
        let e = down.token(&tls, Duration::from_secs(5)).await.unwrap_err();
        assert!(
            e.contains("127.0.0.1") && !e.contains("client-secret-9"),
            "{e}"
        );
    }
}
