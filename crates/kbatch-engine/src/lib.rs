//! kbatch-engine (in progress).
#![deny(missing_docs)]
