#![no_main]
use bytes::Bytes;
use kbatch_wire::messages::{
    api_versions, fetch, list_offsets, metadata, sasl_authenticate, sasl_handshake,
};
use libfuzzer_sys::fuzz_target;

// Every response decoder kbatch uses, at every version it speaks.
fuzz_target!(|data: &[u8]| {
    let b = Bytes::copy_from_slice(data);
    for v in 0..=3 {
        let _ = api_versions::decode(v, b.clone());
    }
    for v in 9..=12 {
        let _ = metadata::decode(v, b.clone());
    }
    for v in 6..=9 {
        let _ = list_offsets::decode(v, b.clone());
    }
    for v in 0..=2 {
        let _ = sasl_authenticate::decode(v, b.clone());
    }
    let _ = sasl_handshake::decode(1, b.clone());
    let _ = fetch::decode(12, b);
});
