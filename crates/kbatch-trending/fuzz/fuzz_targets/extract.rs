#![no_main]
//! Differential: the extractor against serde_json on arbitrary bytes (duplicates aside, which
//! serde_json's `Value` cannot see; the crate's proptests cover those with a map walk).
//! The layout-caching `Extractor`, kept across inputs (so it recalls earlier inputs' layouts
//! for later ones), must agree with `extract` on every input.
use std::cell::RefCell;

use kbatch_trending::{extract, Extractor, Invalid};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static EXTRACTOR: RefCell<Extractor> = RefCell::default();
}

fuzz_target!(|data: &[u8]| {
    let json = serde_json::from_slice::<serde_json::Value>(data);
    let verdict = extract(Some(data));
    EXTRACTOR.with_borrow_mut(|ex| assert_eq!(ex.extract(Some(data)), verdict));
    match verdict {
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
