//! kbatch-reader (in progress).
#![deny(missing_docs)]
