//! End-to-end tests of the `kbatch` binary against a real Apache Kafka broker (KRaft, started by
//! `kbatch-testkit` on 127.0.0.1, one per test binary). Data is written by Kafka's own Java
//! producer; every expected figure is computed from what the test produced, never from kbatch.
//!
//! The module list is the index:
//! - `compaction`: a partition compacted by the broker's log cleaner (gaps, an empty batch, a
//!   kept tombstone) reads exactly the survivors and completes at the high watermark;
//! - `count_dump`: every codec, uneven partitions: exact counts and the exact record multiset;
//! - `export`: Parquet, Arrow IPC and JSON lines read back exactly (also by pyarrow), the
//!   manifest, incremental `--from-manifest` runs, file cutting, errors, `s3://` on moto's S3
//!   server and a killed export that leaves no complete-looking object;
//! - `ranges`: per-partition offsets, mid-batch starts, timestamps, empty partitions and ranges;
//! - `transactions`: commits, aborts, a commit marker as the last offset, both isolation levels;
//! - `fetch_sizes`: a batch larger than every fetch size, a partition behind a full response,
//!   an aborted transaction spanning many small fetches (cases 3, 4, 13);
//! - `errors`: unknown topic, unreachable broker, out-of-range offsets, hostile "brokers"
//!   (HTTP, 2 GiB length prefix, array-count bomb, a silent broker), usage errors and exit codes;
//! - `security`: TLS (CA file, mutual TLS with every key kind, host name checks), SASL (PLAIN,
//!   SCRAM-SHA-256/512, OAUTHBEARER) over every listener, a Java client.properties unchanged,
//!   the failures (wrong password, unknown user, wrong CA, expired, host name, wrong port,
//!   mechanism not enabled, typo'd key, a hostile SCRAM server), and a read that outlives its
//!   SASL session;
//! - `trending`: the flagship job against an independently computed report;
//! - `top`: nested group paths, field, header, partition and timestamp filters, distinct,
//!   against an independently computed report; old batches skipped undecoded by a timestamp
//!   filter (create and log-append time); usage errors;
//! - `failover`: on a 3-node cluster, leaders killed, stopped or frozen mid-read and during
//!   planning, leader election, reassignment, a client quota: exact reads; a recreated topic:
//!   a clear error;
//! - `faults`: through a TCP fault proxy, responses cut, stalled past the timeout, reset,
//!   slowed, also during planning: exact reads;
//! - `soak`: a rolling restart of the cluster while reads loop (`KBATCH_SOAK_SECS` long).

mod common;

mod compaction;
mod count_dump;
mod errors;
mod export;
mod failover;
mod faults;
mod fetch_sizes;
mod ranges;
mod schema_registry;
mod security;
mod soak;
mod top;
mod transactions;
mod trending;
