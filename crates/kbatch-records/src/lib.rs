//! kbatch-records (in progress).
#![deny(missing_docs)]
