//! The whole exchange over `tokio::io::duplex` against a scripted SASL broker: an honest
//! SCRAM server (which checks our proof with its own arithmetic), and hostile ones that each
//! break one rule of RFC 5802 (RELIABILITY.md case 38). Every failure must be an
//! authentication error that is not retriable and that holds no secret.

use crate::tests::{api_versions_body, framed};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use kafka_protocol::messages::{RequestHeader, SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::Decodable;
use ring::{digest, hmac, pbkdf2};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::*;

const PASSWORD: &str = "s3cret-Pa55";
const APIS: &[(i16, i16, i16)] = &[
    (18, 0, 4),
    (3, 0, 13),
    (2, 1, 10),
    (1, 4, 17),
    (17, 0, 1),
    (36, 0, 2),
];

/// What the fake server does wrong, if anything.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    NonceNotExtended,
    Iterations(u32),
    WrongSignature,
    RefuseCredentials,
    MechanismNotEnabled,
}

/// A SaslAuthenticate v2 response body.
fn auth_response(error: i16, message: Option<&str>, bytes: &[u8], lifetime_ms: i64) -> Vec<u8> {
    let mut b = error.to_be_bytes().to_vec();
    match message {
        None => b.push(0),
        Some(m) => {
            b.push(m.len() as u8 + 1);
            b.extend_from_slice(m.as_bytes());
        }
    }
    b.push(bytes.len() as u8 + 1);
    b.extend_from_slice(bytes);
    b.extend_from_slice(&lifetime_ms.to_be_bytes());
    b.push(0);
    b
}

struct ScramServer {
    fault: Fault,
    salt: Vec<u8>,
    iterations: u32,
    client_first_bare: String,
    server_first: String,
}

impl ScramServer {
    fn first(&mut self, msg: &[u8]) -> Vec<u8> {
        let msg = std::str::from_utf8(msg).unwrap();
        let bare = msg.strip_prefix("n,,").unwrap().to_string();
        let cnonce = bare.split(",r=").nth(1).unwrap().to_string();
        let nonce = if self.fault == Fault::NonceNotExtended {
            "someone-elses-nonce".to_string()
        } else {
            format!("{cnonce}srv")
        };
        if let Fault::Iterations(i) = self.fault {
            self.iterations = i;
        }
        self.client_first_bare = bare;
        self.server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&self.salt),
            self.iterations
        );
        self.server_first.clone().into_bytes()
    }

    fn last(&self, msg: &[u8]) -> Result<Vec<u8>, &'static str> {
        let msg = std::str::from_utf8(msg).unwrap();
        let (without_proof, proof) = msg.split_once(",p=").unwrap();
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let mut salted = [0u8; 64];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA512,
            NonZeroU32::new(self.iterations).unwrap(),
            &self.salt,
            PASSWORD.as_bytes(),
            &mut salted,
        );
        let key = hmac::Key::new(hmac::HMAC_SHA512, &salted);
        let client_key = hmac::sign(&key, b"Client Key");
        let stored = digest::digest(&digest::SHA512, client_key.as_ref());
        let sig = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA512, stored.as_ref()),
            auth_message.as_bytes(),
        );
        let expected: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(sig.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        if B64.decode(proof).unwrap() != expected || self.fault == Fault::RefuseCredentials {
            return Err("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512");
        }
        let server_key = hmac::sign(&key, b"Server Key");
        let mut v = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA512, server_key.as_ref()),
            auth_message.as_bytes(),
        )
        .as_ref()
        .to_vec();
        if self.fault == Fault::WrongSignature {
            v[0] ^= 1;
        }
        Ok(format!("v={}", B64.encode(v)).into_bytes())
    }
}

/// A fake SASL broker over a duplex stream; returns the client end and every SASL message the
/// client sent.
fn scram_broker(fault: Fault) -> (tokio::io::DuplexStream, Arc<Mutex<Vec<Vec<u8>>>>) {
    sasl_broker(fault, "SCRAM-SHA-512")
}

/// [`scram_broker`] for `mechanism`; an OAUTHBEARER message is accepted as it is.
fn sasl_broker(
    fault: Fault,
    mechanism: &'static str,
) -> (tokio::io::DuplexStream, Arc<Mutex<Vec<Vec<u8>>>>) {
    let (client, mut server) = tokio::io::duplex(1 << 16);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut scram = ScramServer {
            fault,
            salt: b"fake-salt".to_vec(),
            iterations: 4096,
            client_first_bare: String::new(),
            server_first: String::new(),
        };
        let mut round = 0;
        loop {
            let mut len = [0u8; 4];
            if server.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut b = vec![0u8; u32::from_be_bytes(len) as usize];
            if server.read_exact(&mut b).await.is_err() {
                return;
            }
            let key = i16::from_be_bytes([b[0], b[1]]);
            let version = i16::from_be_bytes([b[2], b[3]]);
            let id = i32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let mut buf = Bytes::from(b);
            let header_version = if key == 36 && version >= 2 { 2 } else { 1 };
            RequestHeader::decode(&mut buf, header_version).unwrap();
            let out = match key {
                18 => framed(id, false, &api_versions_body(APIS)),
                17 => {
                    let req = SaslHandshakeRequest::decode(&mut buf, version).unwrap();
                    assert_eq!(req.mechanism.as_str(), mechanism);
                    let mut body = if fault == Fault::MechanismNotEnabled {
                        33i16.to_be_bytes().to_vec()
                    } else {
                        vec![0, 0]
                    };
                    body.extend_from_slice(&1i32.to_be_bytes());
                    body.extend_from_slice(&5i16.to_be_bytes());
                    body.extend_from_slice(b"PLAIN");
                    framed(id, false, &body)
                }
                36 => {
                    let req = SaslAuthenticateRequest::decode(&mut buf, version).unwrap();
                    log.lock().unwrap().push(req.auth_bytes.to_vec());
                    round += 1;
                    let body = if mechanism == "OAUTHBEARER" {
                        auth_response(0, None, b"", 0)
                    } else if round == 1 {
                        auth_response(0, None, &scram.first(&req.auth_bytes), 0)
                    } else {
                        match scram.last(&req.auth_bytes) {
                            Ok(v) => auth_response(0, None, &v, 3_600_000),
                            Err(m) => auth_response(58, Some(m), b"", 0),
                        }
                    };
                    framed(id, true, &body)
                }
                _ => return,
            };
            if server.write_all(&out).await.is_err() {
                return;
            }
        }
    });
    (client, seen)
}

fn cfg() -> WireConfig {
    WireConfig {
        request_timeout: Duration::from_secs(5),
        security: Security {
            protocol: Protocol::SaslPlaintext,
            sasl: Some(SaslSettings::Scram {
                hash: ScramHash::Sha512,
                username: "alice".into(),
                password: Secret::new(PASSWORD),
            }),
            ..Security::default()
        },
        ..WireConfig::default()
    }
}

#[tokio::test]
async fn scram_sha_512_against_an_honest_server() {
    let (stream, seen) = scram_broker(Fault::None);
    let conn = Connection::over(stream, "fake:9092".into(), &cfg())
        .await
        .expect("authenticated");
    assert!(!conn.is_closed());
    assert!(conn.reauth_at.is_some(), "session lifetime honoured");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for msg in seen.iter() {
        let text = String::from_utf8_lossy(msg);
        assert!(!text.contains(PASSWORD), "password on the wire: {text}");
    }
}

#[tokio::test]
async fn hostile_and_refusing_servers_fail_authentication() {
    let cases = [
        (Fault::NonceNotExtended, "does not extend"),
        (Fault::Iterations(100), "100 is outside"),
        (Fault::Iterations(10_000_000), "outside"),
        (Fault::WrongSignature, "signature (v=) is wrong"),
        (Fault::RefuseCredentials, "invalid credentials"),
        (Fault::MechanismNotEnabled, "offers PLAIN"),
    ];
    for (fault, needle) in cases {
        let (stream, _) = scram_broker(fault);
        let err = Connection::over(stream, "fake:9092".into(), &cfg())
            .await
            .expect_err("must fail");
        assert!(matches!(err, WireError::Auth { .. }), "{fault:?}: {err:?}");
        assert!(!err.is_retriable(), "{fault:?}: auth failures are final");
        let text = format!("{err} {err:?}");
        assert!(text.contains(needle), "{fault:?}: {text}");
        assert!(
            text.contains("fake:9092"),
            "{fault:?}: names the broker: {text}"
        );
        assert!(text.contains("SCRAM-SHA-512"), "{text}");
        assert!(!text.contains(PASSWORD), "{fault:?}: secret in {text}");
        assert!(
            !text.contains(&B64.encode(PASSWORD)),
            "{fault:?}: secret in {text}"
        );
    }
}

#[tokio::test]
async fn sasl_without_settings_or_support_fails_clearly() {
    let mut c = cfg();
    c.security.sasl = None;
    let (stream, _) = scram_broker(Fault::None);
    let err = Connection::over(stream, "fake:9092".into(), &c)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sasl.mechanism"), "{err}");
    assert!(!err.is_retriable());
}

/// Our SASL response decoders agree with `kafka-protocol` on valid responses, and every
/// truncation of one is an error, not a panic.
#[test]
fn sasl_decoders_agree_with_kafka_protocol() {
    use crate::messages::{sasl_authenticate, sasl_handshake};
    use bytes::BytesMut;
    use kafka_protocol::messages::{SaslAuthenticateResponse, SaslHandshakeResponse};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    let mut auth = SaslAuthenticateResponse::default();
    auth.error_code = 58;
    auth.error_message = Some(StrBytes::from_static_str("Authentication failed"));
    auth.auth_bytes = Bytes::from_static(b"v=abc");
    auth.session_lifetime_ms = 3000;
    for v in 0..=2 {
        let mut b = BytesMut::new();
        auth.encode(&mut b, v).unwrap();
        let b = b.freeze();
        let ours = sasl_authenticate::decode(v, b.clone()).unwrap();
        assert_eq!(ours.error_code, 58);
        assert_eq!(ours.error_message.as_deref(), Some("Authentication failed"));
        assert_eq!(&ours.auth_bytes[..], b"v=abc");
        assert_eq!(ours.session_lifetime_ms, if v >= 1 { 3000 } else { 0 });
        for cut in 0..b.len() {
            assert!(
                sasl_authenticate::decode(v, b.slice(..cut)).is_err(),
                "v{v} cut {cut}"
            );
        }
    }
    let mut hs = SaslHandshakeResponse::default();
    hs.error_code = 33;
    hs.mechanisms = vec![
        StrBytes::from_static_str("PLAIN"),
        StrBytes::from_static_str("SCRAM-SHA-512"),
    ];
    for v in 0..=1 {
        let mut b = BytesMut::new();
        hs.encode(&mut b, v).unwrap();
        let b = b.freeze();
        let ours = sasl_handshake::decode(v, b.clone()).unwrap();
        assert_eq!(ours.error_code, 33);
        assert_eq!(ours.mechanisms, vec!["PLAIN", "SCRAM-SHA-512"]);
        for cut in 0..b.len() {
            assert!(
                sasl_handshake::decode(v, b.slice(..cut)).is_err(),
                "v{v} cut {cut}"
            );
        }
    }
    // An array-count bomb in a tiny handshake response.
    let bomb = Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 1, b'x']);
    assert!(sasl_handshake::decode(1, bomb).is_err());
}

/// OIDC settings for the token endpoint at `url` (https, with the test CA if `https_ca`).
fn oidc_cfg(url: String, https_ca: Option<CaSource>, broker_tls: TlsSettings) -> WireConfig {
    WireConfig {
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        security: Security {
            // SASL over the duplex stream; the brokers' TLS settings are there all the same,
            // as they were handed to the token endpoint before.
            protocol: Protocol::SaslPlaintext,
            tls: broker_tls,
            sasl: Some(SaslSettings::OAuthBearerOidc {
                token_endpoint: url,
                allow_http: false,
                https_ca,
                client_id: "kbatch".into(),
                client_secret: Secret::new(PASSWORD),
                scope: None,
                cache: TokenCache::default(),
            }),
        },
        ..WireConfig::default()
    }
}

/// The brokers' TLS switches and private CA do not reach the token endpoint: with broker
/// certificate checks off, host names unchecked and the IdP's CA as the brokers'
/// `ssl.ca.location`, a token endpoint signed by that CA is still refused (public roots only),
/// and accepted once the CA is in `https.ca.location`. Before, the token endpoint used the
/// brokers' settings, so here it accepted any certificate.
#[tokio::test]
async fn the_brokers_tls_switches_do_not_reach_the_token_endpoint() {
    use crate::sasl::oidc::test_idp;
    let body = r#"{"access_token":"T","expires_in":3600}"#;
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let lax_broker_tls = TlsSettings {
        ca: CaSource::Location(test_idp::ca_file()),
        identity: None,
        verify_hostname: false,
        verify_certificate: false,
    };
    let url = test_idp::serve_https(answer.clone(), "localhost").await;
    let (stream, seen) = sasl_broker(Fault::None, "OAUTHBEARER");
    let err = Connection::over(
        stream,
        "fake:9092".into(),
        &oidc_cfg(url, None, lax_broker_tls.clone()),
    )
    .await
    .expect_err("the token endpoint's certificate is from a private CA");
    let text = err.to_string();
    assert!(matches!(err, WireError::Auth { .. }), "{err:?}");
    assert!(
        text.contains("https.ca.location") && text.contains("token endpoint"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "no token may reach the broker"
    );

    let url = test_idp::serve_https(answer, "localhost").await;
    let (stream, seen) = sasl_broker(Fault::None, "OAUTHBEARER");
    let ca = Some(CaSource::Location(test_idp::ca_file()));
    Connection::over(
        stream,
        "fake:9092".into(),
        &oidc_cfg(url, ca, lax_broker_tls),
    )
    .await
    .expect("the IdP's CA in https.ca.location");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].starts_with(b"n,,\x01auth=Bearer T\x01"),
        "{:?}",
        String::from_utf8_lossy(&seen[0])
    );
}
