#![no_main]
use kbatch_records::{walk, AbortedTxn, Chunk, Decoder, Isolation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = walk(data, true);
    let aborted = [AbortedTxn { producer_id: 1, first_offset: 0 }];
    let chunk = Chunk { bytes: data, start: 0, end: i64::MAX, isolation: Isolation::ReadCommitted, aborted: &aborted };
    let _ = Decoder::new(1 << 20).verify_crc(false).decode(&chunk, |r| { let _ = r.headers().count(); Ok::<(), ()>(()) });
});
