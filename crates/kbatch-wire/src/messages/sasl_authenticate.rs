//! SaslAuthenticate (key 36): carries one SASL message each way. We speak v1 and v2: v1 added
//! `session_lifetime_ms` (KIP-368: when the broker will end the session, so a long read must
//! re-authenticate or reconnect before then), v2 is the flexible encoding of the same fields.

use bytes::Bytes;
use kafka_protocol::messages::SaslAuthenticateRequest;

use crate::decode::{DecodeError, Reader};

/// API key.
pub const KEY: i16 = 36;
/// Versions we speak.
pub const VERSIONS: (i16, i16) = (1, 2);

/// A decoded SaslAuthenticate response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslAuthenticateResponse {
    /// Error code (0, SASL_AUTHENTICATION_FAILED, ILLEGAL_SASL_STATE, …).
    pub error_code: i16,
    /// The broker's explanation of an error.
    pub error_message: Option<String>,
    /// The broker's SASL message.
    pub auth_bytes: Bytes,
    /// Milliseconds until the broker ends the session (0: never).
    pub session_lifetime_ms: i64,
}

pub(crate) fn request(auth_bytes: Vec<u8>) -> SaslAuthenticateRequest {
    let mut r = SaslAuthenticateRequest::default();
    r.auth_bytes = Bytes::from(auth_bytes);
    r
}

/// Decode a response body (after the response header: v1 for v2, v0 below).
pub fn decode(version: i16, body: Bytes) -> Result<SaslAuthenticateResponse, DecodeError> {
    let mut r = Reader::new(&body, "SaslAuthenticate", version);
    let flexible = version >= 2;
    let error_code = r.i16()?;
    let (error_message, auth_bytes) = if flexible {
        (r.compact_nullable_str()?, r.compact_bytes()?)
    } else {
        (r.nullable_str16()?, r.bytes32()?)
    };
    let session_lifetime_ms = if version >= 1 { r.i64()? } else { 0 };
    if flexible {
        r.tagged_fields()?;
    }
    r.finish()?;
    Ok(SaslAuthenticateResponse {
        error_code,
        error_message,
        auth_bytes,
        session_lifetime_ms,
    })
}
