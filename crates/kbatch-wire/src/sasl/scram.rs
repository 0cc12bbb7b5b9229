//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), client side, as a pure state
//! machine: no I/O, the nonce given by the caller (a CSPRNG's in production, fixed in tests).
//!
//! A server is refused (RELIABILITY.md case 38) when its nonce does not extend ours (a replay
//! or a confused server), when its iteration count is outside [4096, 1,000,000] (below:
//! a downgrade that makes the proof cheap to attack; above: a CPU bomb), or when its final
//! signature `v=` does not prove that it knows the password too (a man in the middle).
//!
//! Kafka sends no channel binding (`n,,` GS2 header, `c=biws`). User names are escaped as the
//! RFC says (`=` → `=3D`, `,` → `=2C`); passwords are used as UTF-8 bytes without SASLprep,
//! which leaves ASCII passwords (and any that SASLprep would not change) exact.

use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::{digest, hmac, pbkdf2};

use crate::security::ScramHash;
use crate::Secret;

/// Fewest iterations accepted (RFC 7677 recommends at least 4096).
pub(crate) const MIN_ITERATIONS: u32 = 4096;
/// Most iterations accepted: more is a CPU bomb, not security.
pub(crate) const MAX_ITERATIONS: u32 = 1_000_000;

struct Algorithms {
    pbkdf2: pbkdf2::Algorithm,
    hmac: hmac::Algorithm,
    digest: &'static digest::Algorithm,
    len: usize,
}

fn algorithms(hash: ScramHash) -> Algorithms {
    match hash {
        ScramHash::Sha256 => Algorithms {
            pbkdf2: pbkdf2::PBKDF2_HMAC_SHA256,
            hmac: hmac::HMAC_SHA256,
            digest: &digest::SHA256,
            len: 32,
        },
        ScramHash::Sha512 => Algorithms {
            pbkdf2: pbkdf2::PBKDF2_HMAC_SHA512,
            hmac: hmac::HMAC_SHA512,
            digest: &digest::SHA512,
            len: 64,
        },
    }
}

enum State {
    /// Waiting for server-first.
    First,
    /// Sent client-final; waiting for server-final, which must carry this signature.
    Final { server_signature: Vec<u8> },
    /// Verified.
    Done,
}

/// One SCRAM exchange.
pub(crate) struct Client {
    hash: ScramHash,
    password: Secret,
    client_first_bare: String,
    nonce: String,
    state: State,
}

/// `=` and `,` are escaped in SCRAM user names.
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

impl Client {
    /// Start an exchange; returns the client-first message. `nonce` must be printable ASCII
    /// without `,` (base64 of CSPRNG bytes is).
    pub(crate) fn new(
        hash: ScramHash,
        username: &str,
        password: &Secret,
        nonce: String,
    ) -> (Client, Vec<u8>) {
        let client_first_bare = format!("n={},r={nonce}", saslname(username));
        let first = format!("n,,{client_first_bare}").into_bytes();
        let client = Client {
            hash,
            password: password.clone(),
            client_first_bare,
            nonce,
            state: State::First,
        };
        (client, first)
    }

    /// A fresh nonce: 24 bytes from the operating system's CSPRNG, base64.
    pub(crate) fn random_nonce() -> Result<String, String> {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; 24];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| "the system's random number generator failed".to_string())?;
        Ok(B64.encode(bytes))
    }

    /// The next message for a server message; `Ok(None)` once the server is verified.
    pub(crate) fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::First => self.server_first(server).map(Some),
            State::Final { server_signature } => {
                self.server_final(server, &server_signature)?;
                Ok(None)
            }
            State::Done => Err("the broker sent a message after SCRAM completed".into()),
        }
    }

    fn server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, String> {
        let msg = std::str::from_utf8(msg)
            .map_err(|_| "the broker's SCRAM server-first message is not UTF-8".to_string())?;
        if let Some(e) = msg.strip_prefix("e=") {
            return Err(format!("the broker refused SCRAM: {e}"));
        }
        if msg.starts_with("m=") {
            return Err("the broker asked for a SCRAM extension kbatch does not know".into());
        }
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attr in msg.split(',') {
            match attr.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v),
                Some(("s=", v)) => salt = Some(v),
                Some(("i=", v)) => iterations = Some(v),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err("the broker's SCRAM server-first message lacks r=, s= or i=".into());
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() <= self.nonce.len() {
            return Err(
                "the broker's SCRAM nonce does not extend kbatch's (refused: replayed or forged exchange)"
                    .into(),
            );
        }
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| "the broker's SCRAM iteration count is not a number".to_string())?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "the broker's SCRAM iteration count {iterations} is outside [{MIN_ITERATIONS}, {MAX_ITERATIONS}] (refused)"
            ));
        }
        let salt = B64
            .decode(salt)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| "the broker's SCRAM salt is not base64".to_string())?;

        let alg = algorithms(self.hash);
        let mut salted = vec![0u8; alg.len];
        let iterations = NonZeroU32::new(iterations).expect("checked above");
        pbkdf2::derive(
            alg.pbkdf2,
            iterations,
            &salt,
            self.password.expose().as_bytes(),
            &mut salted,
        );
        let salted_key = hmac::Key::new(alg.hmac, &salted);
        let client_key = hmac::sign(&salted_key, b"Client Key");
        let stored_key = digest::digest(alg.digest, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{msg},{without_proof}", self.client_first_bare);
        let client_signature = hmac::sign(
            &hmac::Key::new(alg.hmac, stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(client_signature.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac::sign(&salted_key, b"Server Key");
        let server_signature = hmac::sign(
            &hmac::Key::new(alg.hmac, server_key.as_ref()),
            auth_message.as_bytes(),
        );
        self.state = State::Final {
            server_signature: server_signature.as_ref().to_vec(),
        };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    fn server_final(&mut self, msg: &[u8], expected: &[u8]) -> Result<(), String> {
        let msg = std::str::from_utf8(msg)
            .map_err(|_| "the broker's SCRAM server-final message is not UTF-8".to_string())?;
        let first = msg.split(',').next().unwrap_or("");
        if let Some(e) = first.strip_prefix("e=") {
            return Err(format!("the broker refused SCRAM: {e}"));
        }
        let Some(v) = first.strip_prefix("v=") else {
            return Err("the broker's SCRAM server-final message has no signature (v=)".into());
        };
        let got = B64.decode(v).unwrap_or_default();
        if !constant_time_eq(&got, expected) {
            return Err(
                "the broker's SCRAM signature (v=) is wrong: it does not know the password \
                 (refused: possible man in the middle)"
                    .into(),
            );
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: the SCRAM-SHA-256 example exchange.
    #[test]
    fn rfc7677_vector() {
        let (mut c, first) = Client::new(
            ScramHash::Sha256,
            "user",
            &Secret::new("pencil"),
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first =
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = c.step(server_first).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            c.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
                .unwrap(),
            None
        );
    }

    fn started(hash: ScramHash) -> Client {
        Client::new(hash, "u", &Secret::new("p"), "abc".into()).0
    }

    #[test]
    fn hostile_servers_are_refused() {
        let salt = B64.encode(b"salt");
        let cases: &[(&str, &str)] = &[
            ("r=xyz123,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abc,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abcdef,s=c2FsdA==,i=100", "outside"),
            ("r=abcdef,s=c2FsdA==,i=4095", "outside"),
            ("r=abcdef,s=c2FsdA==,i=10000000", "outside"),
            ("r=abcdef,s=c2FsdA==,i=-1", "not a number"),
            ("r=abcdef,s=!!!,i=4096", "salt"),
            ("r=abcdef,i=4096", "lacks"),
            ("e=unknown-user", "unknown-user"),
            ("m=ext,r=abcdef,s=c2FsdA==,i=4096", "extension"),
        ];
        for (msg, needle) in cases {
            for hash in [ScramHash::Sha256, ScramHash::Sha512] {
                let e = started(hash).step(msg.as_bytes()).unwrap_err();
                assert!(e.contains(needle), "{msg}: {e}");
            }
        }
        // Bounds are inclusive.
        for i in [MIN_ITERATIONS, MAX_ITERATIONS] {
            let msg = format!("r=abcdef,s={salt},i={i}");
            assert!(
                started(ScramHash::Sha256).step(msg.as_bytes()).is_ok(),
                "{i}"
            );
        }
        // A wrong, missing or malformed final signature.
        for fin in ["v=AAAA", "v=", "x=1", "e=invalid-proof", "v=!!"] {
            let mut c = started(ScramHash::Sha512);
            c.step(format!("r=abcdef,s={salt},i=4096").as_bytes())
                .unwrap();
            assert!(c.step(fin.as_bytes()).is_err(), "{fin}");
        }
    }

    #[test]
    fn user_names_are_escaped_and_nonces_random() {
        let (_, first) = Client::new(ScramHash::Sha256, "a=b,c", &Secret::new("p"), "n".into());
        assert_eq!(first, b"n,,n=a=3Db=2Cc,r=n");
        let (a, b) = (
            Client::random_nonce().unwrap(),
            Client::random_nonce().unwrap(),
        );
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(!a.contains(','));
    }
}
