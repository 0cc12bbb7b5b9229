//! kbatch-wire (in progress).
#![deny(missing_docs)]
