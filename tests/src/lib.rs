//! Holder crate for the end-to-end tests under `e2e/`.
