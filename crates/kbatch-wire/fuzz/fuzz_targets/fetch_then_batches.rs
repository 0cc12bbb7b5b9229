#![no_main]
use bytes::Bytes;
use kbatch_records::{walk, AbortedTxn, Chunk, Decoder, Isolation};
use libfuzzer_sys::fuzz_target;

// A Fetch response, then the batch decoder over each partition's records (case 36).
fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = kbatch_wire::messages::fetch::decode(12, Bytes::copy_from_slice(data)) {
        for (_, parts) in resp.topics {
            for p in parts {
                let _ = walk(&p.records, true);
                let aborted: Vec<AbortedTxn> = p.aborted_transactions.iter().map(|&(producer_id, first_offset)| AbortedTxn { producer_id, first_offset }).collect();
                let chunk = Chunk { bytes: &p.records, start: 0, end: i64::MAX, isolation: Isolation::ReadCommitted, aborted: &aborted };
                let _ = Decoder::new(1 << 20).decode(&chunk, |_| Ok::<(), ()>(()));
            }
        }
    }
});
