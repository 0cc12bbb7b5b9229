#![no_main]
//! Arbitrary Fetch (and Metadata) responses through the fetch supervisor, its loops, the
//! policy and the engine; `kbatch_reader::fuzzing` says what the bytes mean and what is checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kbatch_reader::fuzzing::fetch_responses(data));
