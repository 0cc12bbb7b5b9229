//! OAUTHBEARER tokens from an OAuth 2 token endpoint with the client-credentials grant
//! (`sasl.oauthbearer.method=oidc`, RFC 6749 section 4.4), as librdkafka and the Java client
//! get them: `POST` `grant_type=client_credentials[&scope=…]` with the client id and secret in
//! HTTP Basic authentication, answered by JSON with `access_token` and `expires_in`.
//!
//! The request goes over kbatch's own resolver, so the static binary can use it. The client
//! secret crosses the network, so the endpoint must be `https://` (plain `http://` only with
//! `sasl.oauthbearer.token.endpoint.allow.http=true`, for test identity providers), and its
//! certificate is always checked, chain and host name, against the public roots plus
//! `https.ca.location` / `https.ca.pem` (librdkafka's keys for HTTPS clients). The broker's TLS
//! settings never apply here: a private `ssl.ca.location` or verification switched off for the
//! brokers says nothing about the identity provider. The response is read up to
//! [`MAX_RESPONSE`] bytes and parsed with checked arithmetic (a hostile endpoint gets an error,
//! never a panic). Tokens are cached (shared by every connection of a `Config`) until shortly
//! before they expire. Errors never contain the secret or the token.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::security::CaSource;
use crate::Secret;

/// The key that allows a plain-HTTP token endpoint.
pub(crate) const ALLOW_HTTP_KEY: &str = "sasl.oauthbearer.token.endpoint.allow.http";

/// The largest token-endpoint response read.
pub(crate) const MAX_RESPONSE: u64 = 1 << 20;

/// A token shared by the connections of one configuration, with when to stop using it.
#[derive(Clone, Default)]
pub struct TokenCache(Arc<Mutex<Option<Cached>>>);

/// A token and the instant to stop using it (`None`: a lifetime too long for the clock to
/// represent, so never).
type Cached = (Secret, Option<Instant>);

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
    fn get(&self, now: Instant) -> Option<Secret> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .filter(|(_, until)| until.is_none_or(|u| now < u))
            .map(|(t, _)| t.clone())
    }

    fn put(&self, token: Secret, expires_in: Duration, now: Instant) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((token, use_until(now, expires_in)));
    }
}

/// When to stop using a token that lives `expires_in` from `now`: at 80 % of its life (at
/// least 10 s early), since a connection made with it must still authenticate before it
/// expires. `None` when that instant is past what `Instant` can hold (an endpoint may say
/// `expires_in` of 10^19 seconds): the token is then used until the broker refuses it.
fn use_until(now: Instant, expires_in: Duration) -> Option<Instant> {
    let margin = (expires_in / 5)
        .max(Duration::from_secs(10))
        .min(expires_in);
    now.checked_add(expires_in.saturating_sub(margin))
}

/// Where the token endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// `https://host[:port]/path`, or `http://…` when `allow_http` (the secret would travel in
/// clear, so only on the explicit key).
pub(crate) fn parse_url(url: &str, allow_http: bool) -> Result<Endpoint, String> {
    let (tls, rest) = if let Some(r) = strip_prefix_ignore_case(url, "https://") {
        (true, r)
    } else if let Some(r) = strip_prefix_ignore_case(url, "http://") {
        if !allow_http {
            return Err(format!(
                "the token endpoint {url} is plain http://: the client secret and the token \
                 would cross the network unencrypted; use https://, or set {ALLOW_HTTP_KEY}=true \
                 for a test identity provider"
            ));
        }
        (false, r)
    } else {
        return Err("the token endpoint URL must start with https://".into());
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

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
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
        // The size is the peer's word: `ffffffffffffffff` must be refused, not overflow.
        let end = size
            .checked_add(2)
            .filter(|&e| e <= b.len())
            .ok_or_else(bad)?;
        if &b[size..end] != b"\r\n" {
            return Err(bad());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[end..];
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
    /// `http://` allowed (tests only).
    pub allow_http: bool,
    /// CA certificates trusted besides the public roots.
    pub https_ca: Option<&'a CaSource>,
}

impl Client<'_> {
    /// A valid token: the cached one, or a new one from the endpoint (within `timeout`).
    /// Only this endpoint's own settings decide how it is reached: no broker TLS setting is
    /// an input.
    pub(crate) async fn token(&self, timeout: Duration) -> Result<Secret, String> {
        if let Some(t) = self.cache.get(Instant::now()) {
            return Ok(t);
        }
        let ep = parse_url(self.url, self.allow_http)?;
        let req = request(&ep, self.client_id, self.client_secret, self.scope);
        let fetch = async {
            let addr = format!("{}:{}", ep.host, ep.port);
            let addrs = crate::resolve::resolve(&addr)
                .await
                .map_err(|e| format!("cannot resolve the token endpoint {}: {e}", ep.host))?;
            let stream = crate::resolve::connect_first(addrs)
                .await
                .map_err(|last| format!("cannot connect to the token endpoint {addr}: {last}"))?;
            if ep.tls {
                let config = crate::tls::token_endpoint_config(self.https_ca)?;
                let s = crate::tls::handshake_with(
                    stream,
                    &addr,
                    config,
                    crate::tls::Peer::TokenEndpoint,
                )
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
        self.cache.put(token.clone(), expires_in, Instant::now());
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
            parse_url("https://idp.example/oauth2/token", false).unwrap(),
            ep(true, "idp.example", 443, "/oauth2/token")
        );
        assert_eq!(
            parse_url("http://127.0.0.1:8080", true).unwrap(),
            ep(false, "127.0.0.1", 8080, "/")
        );
        assert!(parse_url("ftp://x", true).is_err());
        assert!(parse_url("https://:1/x", false).is_err());
        assert!(parse_url("https://h:port/x", false).is_err());
    }

    /// The scheme × the allow key: plain http carries the client secret in clear, so it needs
    /// the key, and the refusal names it.
    #[test]
    fn plain_http_needs_the_allow_key() {
        for (url, allow_http, ok) in [
            ("https://idp/token", false, true),
            ("https://idp/token", true, true),
            ("HTTPS://idp/token", false, true),
            ("http://idp/token", false, false),
            ("HTTP://idp/token", false, false),
            ("http://idp/token", true, true),
            ("ftp://idp/token", true, false),
            ("idp/token", true, false),
        ] {
            let got = parse_url(url, allow_http);
            assert_eq!(got.is_ok(), ok, "{url} allow_http={allow_http}: {got:?}");
            if url.to_ascii_lowercase().starts_with("http://") && !allow_http {
                let e = got.unwrap_err();
                assert!(e.contains(ALLOW_HTTP_KEY) && e.contains("https://"), "{e}");
            }
        }
        assert!(crate::check_token_endpoint("http://idp", false).is_err());
        assert!(crate::check_token_endpoint("http://idp", true).is_ok());
    }

    /// When a token stops being used: 80 % of its life, at least 10 s early, and never for a
    /// life past what the clock can hold (the sum used to overflow `Instant + Duration`).
    #[test]
    fn token_use_ends_early_or_never() {
        let now = Instant::now();
        let secs = Duration::from_secs;
        assert_eq!(use_until(now, secs(300)), Some(now + secs(240)));
        assert_eq!(use_until(now, secs(30)), Some(now + secs(20)));
        assert_eq!(use_until(now, secs(5)), Some(now));
        assert_eq!(use_until(now, Duration::ZERO), Some(now));
        for huge in [12_000_000_000_000_000_000, u64::MAX] {
            assert_eq!(use_until(now, secs(huge)), None, "{huge}");
        }
        let cache = TokenCache::default();
        cache.put(Secret::new("t"), secs(u64::MAX), now);
        assert_eq!(
            cache
                .get(now + secs(1 << 30))
                .map(|t| t.expose().to_string()),
            Some("t".into())
        );
        cache.put(Secret::new("t"), secs(300), now);
        assert!(cache.get(now + secs(239)).is_some());
        assert!(cache.get(now + secs(240)).is_none());
    }

    #[test]
    fn the_request_carries_the_grant_and_basic_credentials() {
        let ep = parse_url("https://idp/token", false).unwrap();
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
            // `size + 2` overflowed usize.
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffe\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            // A chunk longer than its size says.
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n",
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
            allow_http: true,
            https_ca: None,
        };
        for _ in 0..3 {
            let t = client.token(Duration::from_secs(5)).await.unwrap();
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
        let e = down.token(Duration::from_secs(5)).await.unwrap_err();
        assert!(
            e.contains("127.0.0.1") && !e.contains("client-secret-9"),
            "{e}"
        );
    }

    fn client<'a>(url: &'a str, cache: &'a TokenCache, secret: &'a Secret) -> Client<'a> {
        Client {
            url,
            client_id: "kbatch",
            client_secret: secret,
            scope: None,
            cache,
            allow_http: true,
            https_ca: None,
        }
    }

    /// Hostile token endpoints over real TCP, through the whole client: each answer is an
    /// error naming the endpoint's fault, or a token, and never a panic.
    #[tokio::test]
    async fn hostile_token_endpoints_get_errors_not_panics() {
        let secret = Secret::new("client-secret-9");
        let ok = |body: &str| {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        };
        let chunked = |chunks: &str| {
            format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}").into_bytes()
        };
        let cases: Vec<(Vec<u8>, Result<&str, &str>)> = vec![
            (
                chunked("ffffffffffffffff\r\nab"),
                Err("chunked body is malformed"),
            ),
            (
                chunked("ffffffffffffffff;x=1\r\n\r\n0\r\n\r\n"),
                Err("chunked body is malformed"),
            ),
            // Lifetimes past the end of `Instant` (`Instant + Duration` panicked).
            (
                ok(r#"{"access_token":"T1","expires_in":18446744073709551615}"#),
                Ok("T1"),
            ),
            (
                ok(r#"{"access_token":"T2","expires_in":"12000000000000000000"}"#),
                Ok("T2"),
            ),
            (ok(r#"{"access_token":"T3","expires_in":1e300}"#), Ok("T3")),
            (ok(r#"{"access_token":"T4","expires_in":-5}"#), Ok("T4")),
        ];
        for (answer, want) in cases {
            let url = serve_http_once(answer.clone()).await;
            let cache = TokenCache::default();
            let got = client(&url, &cache, &secret)
                .token(Duration::from_secs(5))
                .await;
            let shown = String::from_utf8_lossy(&answer).into_owned();
            match (got, want) {
                (Ok(t), Ok(token)) => {
                    assert_eq!(t.expose(), token, "{shown}");
                    // The endpoint served once: a second token comes from the cache.
                    let again = client(&url, &cache, &secret)
                        .token(Duration::from_secs(5))
                        .await;
                    assert_eq!(
                        again.map(|t| t.expose().to_string()),
                        Ok(token.to_string()),
                        "{shown}"
                    );
                }
                (Err(e), Err(needle)) => {
                    assert!(e.contains(needle), "{shown}: {e}");
                    assert!(!e.contains("client-secret-9"), "{e}");
                }
                (got, want) => panic!("{shown}: got {got:?}, want {want:?}"),
            }
        }
    }

    /// A plain-HTTP endpoint without the allow key is refused before any byte is sent.
    #[tokio::test]
    async fn plain_http_is_refused_before_connecting() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", l.local_addr().unwrap());
        let (cache, secret) = (TokenCache::default(), Secret::new("client-secret-9"));
        let c = Client {
            allow_http: false,
            ..client(&url, &cache, &secret)
        };
        let e = c.token(Duration::from_secs(5)).await.unwrap_err();
        assert!(e.contains(ALLOW_HTTP_KEY), "{e}");
        let accepted = tokio::time::timeout(Duration::from_millis(200), l.accept()).await;
        assert!(accepted.is_err(), "nothing may connect");
    }

    /// An https endpoint with a private CA: refused with the public roots alone, accepted
    /// with the CA in `https.ca.location` or `https.ca.pem`.
    #[tokio::test]
    async fn https_endpoints_are_verified_with_public_roots_plus_https_ca() {
        let body = r#"{"access_token":"TLS-T","expires_in":60}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let secret = Secret::new("client-secret-9");
        let url = test_idp::serve_https(answer.as_bytes().to_vec(), "localhost").await;
        let cache = TokenCache::default();
        let c = Client {
            allow_http: false,
            ..client(&url, &cache, &secret)
        };
        let e = c.token(Duration::from_secs(5)).await.unwrap_err();
        assert!(
            e.contains("https.ca.location") && e.contains("public CA"),
            "{e}"
        );
        for ca in [
            CaSource::Location(test_idp::ca_file()),
            CaSource::Pem(std::fs::read_to_string(test_idp::ca_file()).unwrap()),
        ] {
            let url = test_idp::serve_https(answer.as_bytes().to_vec(), "localhost").await;
            let cache = TokenCache::default();
            let c = Client {
                allow_http: false,
                https_ca: Some(&ca),
                ..client(&url, &cache, &secret)
            };
            assert_eq!(
                c.token(Duration::from_secs(5)).await.unwrap().expose(),
                "TLS-T"
            );
        }
        // The host name is always checked: the certificate names localhost, not this.
        let url = test_idp::serve_https(answer.into_bytes(), "127.0.0.2").await;
        let ca = CaSource::Location(test_idp::ca_file());
        let cache = TokenCache::default();
        let c = Client {
            https_ca: Some(&ca),
            ..client(&url, &cache, &secret)
        };
        let e = c.token(Duration::from_secs(5)).await.unwrap_err();
        assert!(e.contains("not valid for host name 127.0.0.2"), "{e}");
    }

    /// A loopback endpoint that answers one request with `answer` and closes.
    async fn serve_http_once(answer: Vec<u8>) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", l.local_addr().unwrap());
        tokio::spawn(async move {
            if let Ok((mut s, _)) = l.accept().await {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(&answer).await;
            }
        });
        url
    }
}

/// A one-shot https token endpoint with the private test CA of `testdata/`, for the tests here
/// and in `over_duplex`.
#[cfg(test)]
pub(crate) mod test_idp {
    use std::path::PathBuf;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The CA that signed the endpoint's certificate (for `localhost` and 127.0.0.1).
    pub(crate) fn ca_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/idp-ca.pem")
    }

    /// Serve one TLS connection on 127.0.0.1 with `answer`; the URL names the endpoint by
    /// `host` (which must resolve to 127.0.0.1 for the connection to reach it, as `localhost`
    /// and 127.0.0.x do).
    pub(crate) async fn serve_https(answer: Vec<u8>, host: &str) -> String {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("idp-localhost.pem"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(dir.join("idp-localhost.key")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let ip = if host == "localhost" {
            "127.0.0.1"
        } else {
            host
        };
        let l = tokio::net::TcpListener::bind(format!("{ip}:0"))
            .await
            .unwrap();
        let url = format!("https://{host}:{}/token", l.local_addr().unwrap().port());
        tokio::spawn(async move {
            if let Ok((s, _)) = l.accept().await {
                if let Ok(mut s) = acceptor.accept(s).await {
                    let mut buf = vec![0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(&answer).await;
                    let _ = s.shutdown().await;
                }
            }
        });
        url
    }
}
