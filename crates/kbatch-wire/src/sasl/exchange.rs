//! Driving a mechanism over a connection: SaslHandshake v1 names the mechanism, then one
//! SaslAuthenticate per message until the mechanism is done. Any failure is
//! [`WireError::Auth`], which is not retriable: the run ends with one line naming the broker,
//! the mechanism and the broker's own explanation.

use std::time::{Duration, Instant, SystemTime};

use crate::messages::api_versions::ApiRange;
use crate::messages::{sasl_authenticate, sasl_handshake};
use crate::sasl::{oidc, Mechanism, Step};
use crate::security::SaslSettings;
use crate::{kafka_code, Connection, WireError};

/// UNSUPPORTED_SASL_MECHANISM: the listener does not enable the mechanism asked for.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;

/// More round trips than any mechanism we speak needs (SCRAM: 2; a refused OAUTHBEARER: 2).
const MAX_ROUNDS: usize = 4;

/// The SaslAuthenticate version to speak, if the broker has SaslHandshake v1 too.
pub(crate) fn version(apis: &[ApiRange]) -> Option<i16> {
    let find = |key| apis.iter().find(|a| a.api_key == key);
    let hs = find(sasl_handshake::KEY)?;
    if !(hs.min..=hs.max).contains(&sasl_handshake::VERSION) {
        return None;
    }
    let auth = find(sasl_authenticate::KEY)?;
    let (lo, hi) = sasl_authenticate::VERSIONS;
    (auth.max >= lo && auth.min <= hi).then(|| auth.max.min(hi))
}

/// When to stop using a session that the broker ends after `lifetime_ms` (counted from
/// `sent`, the moment the last authentication request left): at 80 % of the lifetime, and
/// at least a second early, so a request sent just before is answered before the end. A
/// lifetime past what `Instant` can hold (the broker's `i64` milliseconds reach 2.9e8 years)
/// is no deadline, like none at all.
pub(crate) fn reauth_deadline(sent: Instant, lifetime_ms: i64) -> Option<Instant> {
    let life = Duration::from_millis(u64::try_from(lifetime_ms).ok().filter(|&ms| ms > 0)?);
    let margin = (life / 5).max(Duration::from_secs(1)).min(life / 2);
    sent.checked_add(life - margin)
}

impl Connection {
    /// Authenticate with `settings` (none configured is an error: the protocol says SASL).
    pub(crate) async fn authenticate(
        &mut self,
        settings: Option<&SaslSettings>,
    ) -> Result<(), WireError> {
        let addr = self.addr().to_string();
        let mechanism = settings.map_or("SASL", SaslSettings::mechanism);
        let auth = |reason: String| WireError::Auth {
            addr: addr.clone(),
            mechanism,
            reason,
        };
        let Some(settings) = settings else {
            return Err(auth(
                "security.protocol is SASL but no sasl.mechanism is configured".into(),
            ));
        };
        let Some(version) = self.sasl_version else {
            return Err(auth(
                "the broker does not speak SaslHandshake v1 with SaslAuthenticate v1+".into(),
            ));
        };
        let body = self
            .call(
                "SaslHandshake",
                sasl_handshake::KEY,
                sasl_handshake::VERSION,
                false,
                &sasl_handshake::request(mechanism),
            )
            .await?;
        let hs = self.decoded(sasl_handshake::decode(sasl_handshake::VERSION, body))?;
        if hs.error_code == UNSUPPORTED_SASL_MECHANISM {
            return Err(auth(format!(
                "the listener does not enable {mechanism}; it offers {} (check sasl.mechanism)",
                if hs.mechanisms.is_empty() {
                    "none".to_string()
                } else {
                    hs.mechanisms.join(", ")
                }
            )));
        }
        if hs.error_code != 0 {
            return Err(auth(format!(
                "SaslHandshake failed with {}",
                kafka_code(hs.error_code).name
            )));
        }
        let token = match settings {
            SaslSettings::OAuthBearerOidc {
                token_endpoint,
                allow_http,
                https_ca,
                client_id,
                client_secret,
                scope,
                cache,
            } => {
                // The token endpoint's own settings only: the brokers' `ssl.*` never reach it.
                let client = oidc::Client {
                    url: token_endpoint,
                    client_id,
                    client_secret,
                    scope: scope.as_deref(),
                    cache,
                    allow_http: *allow_http,
                    https_ca: https_ca.as_ref(),
                };
                Some(client.token(self.cfg.connect_timeout).await.map_err(auth)?)
            }
            _ => None,
        };
        let (mut mech, mut msg) =
            Mechanism::start(settings, SystemTime::now(), token.as_ref()).map_err(auth)?;
        for _ in 0..MAX_ROUNDS {
            let sent = Instant::now();
            let body = self
                .call(
                    "SaslAuthenticate",
                    sasl_authenticate::KEY,
                    version,
                    version >= 2,
                    &sasl_authenticate::request(std::mem::take(&mut msg)),
                )
                .await?;
            let resp = self.decoded(sasl_authenticate::decode(version, body))?;
            if resp.error_code != 0 {
                let name = kafka_code(resp.error_code).name;
                let why = mech
                    .refusal()
                    .map(|status| format!("the broker refused the token: {status}"))
                    .or(resp.error_message)
                    .unwrap_or_else(|| "no reason given".into());
                return Err(auth(format!("{why} ({name})")));
            }
            match mech.step(&resp.auth_bytes).map_err(auth)? {
                Step::Send(next) => msg = next,
                Step::Done => {
                    self.reauth_at = reauth_deadline(sent, resp.session_lifetime_ms);
                    tracing::debug!(
                        broker = %addr,
                        mechanism,
                        session_lifetime_ms = resp.session_lifetime_ms,
                        "authenticated"
                    );
                    return Ok(());
                }
            }
        }
        Err(auth(format!(
            "the broker did not finish the exchange in {MAX_ROUNDS} round trips"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let r = |api_key, min, max| ApiRange { api_key, min, max };
        assert_eq!(version(&[r(17, 0, 1), r(36, 0, 2)]), Some(2));
        assert_eq!(version(&[r(17, 0, 1), r(36, 0, 1)]), Some(1));
        assert_eq!(version(&[r(17, 0, 1), r(36, 0, 0)]), None);
        assert_eq!(version(&[r(17, 0, 0), r(36, 0, 2)]), None);
        assert_eq!(version(&[r(36, 0, 2)]), None);
        assert_eq!(version(&[r(17, 0, 1), r(36, 1, 9)]), Some(2));
    }

    #[test]
    fn reauth_deadlines() {
        let t = Instant::now();
        assert_eq!(reauth_deadline(t, 0), None);
        assert_eq!(reauth_deadline(t, -5), None);
        assert_eq!(
            reauth_deadline(t, 3000),
            Some(t + Duration::from_millis(2000))
        );
        assert_eq!(
            reauth_deadline(t, 3_600_000),
            Some(t + Duration::from_secs(2880))
        );
        assert_eq!(
            reauth_deadline(t, 1000),
            Some(t + Duration::from_millis(500))
        );
        // The broker's largest lifetime: a deadline far away or none, never an overflow.
        let far = reauth_deadline(t, i64::MAX);
        assert!(
            far.is_none_or(|d| d > t + Duration::from_secs(1 << 40)),
            "{far:?}"
        );
    }
}
