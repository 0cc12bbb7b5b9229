//! SASL mechanisms as pure state machines: each turns the broker's last message into the next
//! one to send, with no I/O. The exchange itself (SaslHandshake v1, then SaslAuthenticate
//! requests carrying these messages) is driven by [`exchange`], over an ordinary
//! [`Connection`](crate::Connection), so it is tested over `tokio::io::duplex` like every other
//! request.
//!
//! * PLAIN (RFC 4616): one message, `\0user\0password`.
//! * SCRAM-SHA-256/512 ([`scram`]): two round trips; the broker must prove it knows the
//!   password too.
//! * OAUTHBEARER (RFC 7628) with an unsecured development JWT ([`oauth`]): one message; a
//!   refusal comes back as a JSON status, which the client acknowledges with `\x01` before the
//!   broker fails the exchange.
//!
//! None of these messages is ever logged: they carry the password or the token.

pub(crate) mod exchange;
pub(crate) mod oauth;
pub(crate) mod oidc;
#[cfg(test)]
mod over_duplex;
pub(crate) mod scram;

use std::time::SystemTime;

use crate::security::SaslSettings;

/// What to do after a broker message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send this in the next SaslAuthenticate.
    Send(Vec<u8>),
    /// Authenticated.
    Done,
}

/// A mechanism in progress.
pub(crate) enum Mechanism {
    /// PLAIN: the broker answers the one message with an empty one.
    Plain,
    /// SCRAM.
    Scram(scram::Client),
    /// OAUTHBEARER; `refusal` holds the broker's error status once acknowledged.
    OAuthBearer {
        /// The broker's JSON error status, after we acknowledged it.
        refusal: Option<String>,
    },
}

impl Mechanism {
    /// Start `settings`' mechanism: the mechanism and the first message to send. `token` is
    /// the token-endpoint token, for OAUTHBEARER with `oidc`.
    pub(crate) fn start(
        settings: &SaslSettings,
        now: SystemTime,
        token: Option<&crate::Secret>,
    ) -> Result<(Mechanism, Vec<u8>), String> {
        Ok(match settings {
            SaslSettings::Plain { username, password } => {
                let mut msg = Vec::with_capacity(username.len() + password.expose().len() + 2);
                msg.push(0);
                msg.extend_from_slice(username.as_bytes());
                msg.push(0);
                msg.extend_from_slice(password.expose().as_bytes());
                (Mechanism::Plain, msg)
            }
            SaslSettings::Scram {
                hash,
                username,
                password,
            } => {
                let (client, first) =
                    scram::Client::new(*hash, username, password, scram::Client::random_nonce()?);
                (Mechanism::Scram(client), first)
            }
            SaslSettings::OAuthBearerUnsecured {
                principal,
                scope,
                life,
                extensions,
            } => {
                let token = oauth::unsecured_jwt(principal, scope, *life, now)?;
                (
                    Mechanism::OAuthBearer { refusal: None },
                    oauth::initial_response(&token, extensions),
                )
            }
            SaslSettings::OAuthBearerOidc { .. } => {
                let token = token.ok_or("no token from the token endpoint")?;
                (
                    Mechanism::OAuthBearer { refusal: None },
                    oauth::initial_response(token.expose(), &[]),
                )
            }
        })
    }

    /// The next step after the broker's message `server` (sent with error code 0).
    pub(crate) fn step(&mut self, server: &[u8]) -> Result<Step, String> {
        match self {
            Mechanism::Plain if server.is_empty() => Ok(Step::Done),
            Mechanism::Plain => Err("the broker sent an unexpected PLAIN challenge".into()),
            Mechanism::Scram(c) => Ok(match c.step(server)? {
                Some(msg) => Step::Send(msg),
                None => Step::Done,
            }),
            Mechanism::OAuthBearer { refusal } => {
                if server.is_empty() && refusal.is_none() {
                    return Ok(Step::Done);
                }
                if let Some(status) = refusal.take() {
                    return Err(format!("the broker refused the token: {status}"));
                }
                // RFC 7628 3.2.3: the client answers an error status with a lone %x01.
                *refusal = Some(String::from_utf8_lossy(server).into_owned());
                Ok(Step::Send(vec![1]))
            }
        }
    }

    /// The broker's OAUTHBEARER refusal, if one was acknowledged (it names why better than
    /// the broker's final error code does).
    pub(crate) fn refusal(&self) -> Option<&str> {
        match self {
            Mechanism::OAuthBearer { refusal } => refusal.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Secret;

    #[test]
    fn plain_is_one_message() {
        let s = SaslSettings::Plain {
            username: "alice".into(),
            password: Secret::new("pw"),
        };
        let (mut m, first) = Mechanism::start(&s, SystemTime::now(), None).unwrap();
        assert_eq!(first, b"\0alice\0pw");
        assert_eq!(m.step(b""), Ok(Step::Done));
        assert!(Mechanism::start(&s, SystemTime::now(), None)
            .unwrap()
            .0
            .step(b"x")
            .is_err());
    }

    #[test]
    fn oauthbearer_acknowledges_a_refusal_then_fails_with_it() {
        let s = SaslSettings::OAuthBearerUnsecured {
            principal: "admin".into(),
            scope: vec![],
            life: Duration::from_secs(60),
            extensions: vec![],
        };
        let (mut m, first) = Mechanism::start(&s, SystemTime::now(), None).unwrap();
        assert!(first.starts_with(b"n,,\x01auth=Bearer "));
        assert_eq!(m.step(b""), Ok(Step::Done));
        let (mut m, _) = Mechanism::start(&s, SystemTime::now(), None).unwrap();
        assert_eq!(
            m.step(br#"{"status":"invalid_token"}"#),
            Ok(Step::Send(vec![1]))
        );
        assert_eq!(m.refusal(), Some(r#"{"status":"invalid_token"}"#));
        assert!(m.step(b"").unwrap_err().contains("invalid_token"));
    }
}
