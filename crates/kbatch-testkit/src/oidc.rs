//! A tiny OAuth 2 authorization server of the tests' own, for OAUTHBEARER with
//! `sasl.oauthbearer.method=oidc`: `POST /token` grants the client-credentials flow to one
//! client and answers with an RS256-signed JWT; `GET /jwks` publishes the public key, which the
//! broker's `OAuthBearerValidatorCallbackHandler` fetches to validate those tokens. Plain HTTP
//! on 127.0.0.1 (the broker allows the URL through `org.apache.kafka.sasl.oauthbearer.allowed.urls`),
//! so kbatch, which requires `https://` for a token endpoint, must be given
//! `sasl.oauthbearer.token.endpoint.allow.http=true` ([`ALLOW_HTTP`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rsa::PublicKeyComponents;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};

use crate::{io, TestkitError};

/// The one client the server knows.
pub const CLIENT_ID: &str = "kbatch-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "client-Secret-3c1d";
const KID: &str = "kbatch-test-key";
/// The client key a kbatch run needs to use this plain-HTTP token endpoint.
pub const ALLOW_HTTP: &str = "sasl.oauthbearer.token.endpoint.allow.http=true";

/// A running token endpoint + JWKS server (it serves until the process exits).
#[derive(Debug, Clone)]
pub struct AuthServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl AuthServer {
    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    /// Serve with the PKCS#8 PEM RSA key in `key_file`, on a thread.
    pub fn start(key_file: &Path) -> Result<AuthServer, TestkitError> {
        let pem = std::fs::read_to_string(key_file).map_err(io("reading the JWT signing key"))?;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body).map_err(|e| TestkitError::Command {
            what: "decoding the JWT signing key".into(),
            detail: e.to_string(),
        })?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|e| TestkitError::Command {
            what: "loading the JWT signing key".into(),
            detail: e.to_string(),
        })?;
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(io("binding the token endpoint"))?;
        let base = format!(
            "http://{}",
            listener
                .local_addr()
                .map_err(io("token endpoint address"))?
        );
        let key = Arc::new(key);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let key = key.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &key);
                });
            }
        });
        Ok(AuthServer { base })
    }
}

fn serve(mut s: TcpStream, key: &RsaKeyPair) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut request_line = String::new();
    r.read_line(&mut request_line)?;
    let mut auth = None;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("authorization: basic ") {
            auth = Some(line["authorization: basic ".len()..].trim().to_string());
        }
    }
    let mut body = vec![0u8; length.min(1 << 16)];
    r.read_exact(&mut body)?;
    let (status, json) = if request_line.starts_with("GET /jwks") {
        let c: PublicKeyComponents<Vec<u8>> = key.public().into();
        let jwks = serde_json::json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
            "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e),
        }]});
        ("200 OK", jwks.to_string())
    } else if request_line.starts_with("POST /token") {
        let expected = STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
        let grant = String::from_utf8_lossy(&body).contains("grant_type=client_credentials");
        if auth.as_deref() == Some(expected.as_str()) && grant {
            let token = jwt(key);
            let answer = serde_json::json!({
                "access_token": token, "token_type": "Bearer", "expires_in": 300,
            });
            ("200 OK", answer.to_string())
        } else {
            (
                "401 Unauthorized",
                r#"{"error":"invalid_client"}"#.to_string(),
            )
        }
    } else {
        ("404 Not Found", r#"{"error":"not_found"}"#.to_string())
    };
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )?;
    s.flush()
}

fn jwt(key: &RsaKeyPair) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": KID});
    let claims = serde_json::json!({
        "sub": CLIENT_ID, "iat": now, "exp": now + 300, "scope": "kafka", "iss": "kbatch-testkit",
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .expect("RSA signing");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}
