//! OAUTHBEARER (RFC 7628) with librdkafka's unsecured development token
//! (`sasl.oauthbearer.config=principal=… scope=… lifeSeconds=…`): a JWT with `"alg":"none"`
//! and no signature, which only Kafka's unsecured validator accepts. It exists for development
//! clusters; production token endpoints (`sasl.oauthbearer.method=oidc`) are not spoken yet.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;

/// `s` as a JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An unsigned JWT for `principal` (claim `sub`), valid from `now` for `life`. A `life` whose
/// end (in milliseconds, as Kafka reads `exp`) does not fit a signed 64-bit number is refused.
pub(crate) fn unsecured_jwt(
    principal: &str,
    scope: &[String],
    life: Duration,
    now: SystemTime,
) -> Result<String, String> {
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let exp = iat
        .checked_add(life.as_secs())
        .filter(|exp| {
            exp.checked_mul(1000)
                .is_some_and(|ms| ms <= i64::MAX as u64)
        })
        .ok_or_else(|| {
            format!(
                "lifeSeconds={} in sasl.oauthbearer.config is too long: the token's expiry \
                 time does not fit a 64-bit number",
                life.as_secs()
            )
        })?;
    let mut claims = format!(
        "{{\"sub\":{},\"iat\":{iat},\"exp\":{exp}",
        json_str(principal)
    );
    if !scope.is_empty() {
        let list: Vec<String> = scope.iter().map(|s| json_str(s)).collect();
        claims.push_str(&format!(",\"scope\":[{}]", list.join(",")));
    }
    claims.push('}');
    Ok(format!(
        "{}.{}.",
        B64URL.encode(br#"{"alg":"none"}"#),
        B64URL.encode(claims)
    ))
}

/// The client's initial response: GS2 header, `auth=Bearer <token>`, extensions, each ended
/// by `\x01`, and a final `\x01`.
pub(crate) fn initial_response(token: &str, extensions: &[(String, String)]) -> Vec<u8> {
    let mut msg = format!("n,,\x01auth=Bearer {token}\x01");
    for (k, v) in extensions {
        msg.push_str(&format!("{k}={v}\x01"));
    }
    msg.push('\x01');
    msg.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_claims() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let jwt = unsecured_jwt(
            "ad\"min",
            &["a".into(), "b".into()],
            Duration::from_secs(60),
            now,
        )
        .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "");
        assert_eq!(B64URL.decode(parts[0]).unwrap(), br#"{"alg":"none"}"#);
        let claims = String::from_utf8(B64URL.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            r#"{"sub":"ad\"min","iat":1000,"exp":1060,"scope":["a","b"]}"#
        );
        let msg = initial_response("T", &[("traceId".into(), "7".into())]);
        assert_eq!(msg, b"n,,\x01auth=Bearer T\x01traceId=7\x01\x01");
    }

    /// `iat + lifeSeconds` overflowed (a panic in debug builds, a wrapped `exp` in release).
    #[test]
    fn a_life_past_the_end_of_time_is_refused_not_overflowed() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for secs in [u64::MAX, u64::MAX - 1_000_000_000, i64::MAX as u64 / 1000] {
            let e = unsecured_jwt("a", &[], Duration::from_secs(secs), now).unwrap_err();
            assert!(e.contains("lifeSeconds") && e.contains("too long"), "{e}");
        }
        assert!(unsecured_jwt("a", &[], crate::MAX_UNSECURED_LIFE, now).is_ok());
    }
}
