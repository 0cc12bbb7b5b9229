//! The kbatch command-line tool.
#![deny(missing_docs)]
fn main() {}
