#![no_main]
//! Differential: the extractor against serde_json on arbitrary bytes (duplicates aside, which
//! serde_json's `Value` cannot see; the crate's proptests cover those with a map walk).
use kbatch_trending::{extract, Invalid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let json = serde_json::from_slice::<serde_json::Value>(data);
    match extract(Some(data)) {
        Ok(e) => {
            let v = json.expect("extracted from text serde_json refuses");
            assert_eq!(v["product"].as_str().map(str::as_bytes), Some(&*e.product));
            assert_eq!(v["category"].as_str().map(str::as_bytes), Some(&*e.category));
        }
        Err(Invalid::Empty | Invalid::BadUtf8 | Invalid::BadJson) => assert!(json.is_err()),
        Err(Invalid::Tombstone) => unreachable!(),
        Err(_) => assert!(json.is_ok()),
    }
});
