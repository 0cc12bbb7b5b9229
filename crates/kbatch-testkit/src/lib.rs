//! Dev-only harness: a real Apache Kafka broker for kbatch's tests, benchmarks and demo.
//!
//! * [`kafka_libs`] finds (or, once, installs through Maven) the jars of one Kafka version
//!   into a git-ignored cache;
//! * [`Broker::start`] formats KRaft storage in a fresh directory and starts a combined
//!   broker+controller on 127.0.0.1 free ports, in its own process group, with its log in a
//!   file; a watchdog kills it within a second of the test process exiting for any reason
//!   (a Rust `static` is never dropped, so [`shared_broker`] relies on it);
//! * [`Broker::create_topic`] and [`Broker::produce`] drive Kafka's own Java `Admin` and
//!   `KafkaProducer` (two short programs under `java/src`), so test data is written by an
//!   independent producer: explicit partitions, timestamps, null keys and values, headers,
//!   transactions that commit or abort.
//! * [`Cluster`] and [`shared_cluster`] run three nodes set up for failover tests (replication
//!   factor 3, min ISR 2, no unclean election, fast fencing); [`Broker::kill`],
//!   [`Broker::terminate`], [`Broker::pause`], [`Broker::resume`] and [`Broker::restart`]
//!   control one node of it;
//! * [`proxy::Proxy`] is a TCP fault proxy (cut, stall, slow down, reset) in front of a broker
//!   that advertises the proxy's address ([`Broker::start_behind`]).
//! * [`mock::MockBroker`] is a scriptable Kafka-speaking mock broker (no JVM): real TCP, an
//!   in-memory log, and per-request scripted answers and faults.
//! * [`secure`] starts a broker with SSL, mutual TLS and SASL listeners and certificates of
//!   its own, for the TLS and SASL tests.
#![deny(missing_docs)]

mod broker;
mod cluster;
mod error;
pub mod events;
pub mod fixtures;
mod install;
pub mod mock;
mod node;
pub mod oidc;
mod ports;
mod process;
mod produce;
pub mod proxy;
pub mod registry;
pub mod rng;
pub mod s3;
pub mod secure;
pub mod trending;

pub use cluster::{shared_cluster, Cluster, PartitionLeader};
pub use node::NodeState;

pub(crate) use broker::*;
pub use broker::{shared_broker, Broker, Remote};
pub(crate) use error::io;
pub use error::TestkitError;
pub(crate) use install::*;
pub use install::{install, kafka_libs, workspace_root, KAFKA_VERSION};
pub(crate) use ports::free_port;
pub(crate) use process::watchdog;
pub use process::{record_process_group, stop_detached, BROKER_MARK, RUN_PGIDS_ENV};
pub use produce::*;
