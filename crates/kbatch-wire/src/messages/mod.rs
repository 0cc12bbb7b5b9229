//! The APIs kbatch speaks: request encoding (with `kafka-protocol`) and bounded response
//! decoding (our own), one file per API.

pub mod api_versions;
pub mod fetch;
pub mod list_offsets;
pub mod metadata;
pub mod sasl_authenticate;
pub mod sasl_handshake;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::RequestHeader;
use kafka_protocol::protocol::{encode_request_header_into_buffer, Encodable, StrBytes};

/// Encode one framed request (length prefix, header, body).
pub(crate) fn frame<T: Encodable>(
    api_key: i16,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &T,
) -> Result<Bytes, String> {
    let mut header = RequestHeader::default();
    header.request_api_key = api_key;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(StrBytes::from_string(client_id.to_string()));
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    encode_request_header_into_buffer(&mut buf, &header).map_err(|e| e.to_string())?;
    body.encode(&mut buf, version).map_err(|e| e.to_string())?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}
