//! kbatch-testkit (in progress).
#![deny(missing_docs)]
