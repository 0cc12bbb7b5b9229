//! Tests of top.
