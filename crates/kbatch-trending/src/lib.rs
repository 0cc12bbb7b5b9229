//! kbatch-trending (in progress).
#![deny(missing_docs)]
