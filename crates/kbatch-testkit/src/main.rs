//! kbatch-testkit command-line entry.
#![deny(missing_docs)]
fn main() {}
