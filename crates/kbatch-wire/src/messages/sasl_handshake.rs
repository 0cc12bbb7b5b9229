//! SaslHandshake (key 17): we send v1 (KIP-152), which says that the authentication bytes
//! that follow travel inside SaslAuthenticate requests rather than as raw frames. The broker
//! answers with the mechanisms its listener enables, which name the cause when ours is not
//! among them (UNSUPPORTED_SASL_MECHANISM).

use bytes::Bytes;
use kafka_protocol::messages::SaslHandshakeRequest;
use kafka_protocol::protocol::StrBytes;

use crate::decode::{DecodeError, Reader};

/// API key.
pub const KEY: i16 = 17;
/// The version we send (v0 would mean raw SASL frames).
pub const VERSION: i16 = 1;

/// A decoded SaslHandshake response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeResponse {
    /// Error code (0, or UNSUPPORTED_SASL_MECHANISM).
    pub error_code: i16,
    /// The mechanisms the listener enables.
    pub mechanisms: Vec<String>,
}

pub(crate) fn request(mechanism: &str) -> SaslHandshakeRequest {
    let mut r = SaslHandshakeRequest::default();
    r.mechanism = StrBytes::from_string(mechanism.to_string());
    r
}

/// Decode a v0/v1 response body (after the v0 header).
pub fn decode(version: i16, body: Bytes) -> Result<SaslHandshakeResponse, DecodeError> {
    let mut r = Reader::new(&body, "SaslHandshake", version);
    let error_code = r.i16()?;
    let n = r.array_len(2)?;
    let mut mechanisms = Vec::with_capacity(n);
    for _ in 0..n {
        mechanisms.push(r.str16()?);
    }
    r.finish()?;
    Ok(SaslHandshakeResponse {
        error_code,
        mechanisms,
    })
}
