//! ApiVersions (key 18): we send v3 and read the broker's ranges to pick, per API, the highest
//! version both sides speak. The response header is always v0 for ApiVersions (KIP-511), even
//! for flexible versions. A broker that does not speak v3 answers UNSUPPORTED_VERSION (35) with
//! a v0-format body listing its ranges, which is all we need.

use bytes::Bytes;
use kafka_protocol::messages::ApiVersionsRequest;
use kafka_protocol::protocol::StrBytes;

use crate::decode::{DecodeError, Reader};

/// API key.
pub const KEY: i16 = 18;
/// The version we send.
pub const VERSION: i16 = 3;

/// One API's version range, as the broker advertises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    /// API key.
    pub api_key: i16,
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

/// A decoded ApiVersions response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    /// Error code (0, or 35 with v0-format ranges).
    pub error_code: i16,
    /// Ranges of every API the broker speaks.
    pub apis: Vec<ApiRange>,
}

pub(crate) fn request() -> ApiVersionsRequest {
    let mut r = ApiVersionsRequest::default();
    r.client_software_name = StrBytes::from_static_str("kbatch");
    r.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
    r
}

/// Decode a response body (after the v0 header). `version` is what we asked for; an error 35
/// body is read as v0 whatever we asked.
pub fn decode(version: i16, body: Bytes) -> Result<ApiVersionsResponse, DecodeError> {
    let mut r = Reader::new(&body, "ApiVersions", version);
    let error_code = r.i16()?;
    let flexible = version >= 3 && error_code != 35;
    let n = if flexible {
        r.compact_array_len(6)?
    } else {
        r.array_len(6)?
    };
    let mut apis = Vec::with_capacity(n);
    for _ in 0..n {
        apis.push(ApiRange {
            api_key: r.i16()?,
            min: r.i16()?,
            max: r.i16()?,
        });
        if flexible {
            r.tagged_fields()?;
        }
    }
    if error_code == 35 {
        // Whatever else the broker put after the ranges is of a version we did not ask for.
        return Ok(ApiVersionsResponse { error_code, apis });
    }
    if version >= 1 {
        r.i32()?; // throttle_time_ms
    }
    if flexible {
        r.tagged_fields()?;
    }
    r.finish()?;
    Ok(ApiVersionsResponse { error_code, apis })
}
