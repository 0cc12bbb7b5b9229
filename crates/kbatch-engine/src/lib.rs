//! The aggregation runtime of kbatch.
//!
//! Three roles meet here:
//!
//! * a **job** ([`Job`]) says what to compute from records: `update` per record, `merge` of two
//!   partial aggregates, `finish` into an output;
//! * **decode workers** (std threads, one per core by default) each own one job partial and the
//!   partitions routed to them; they decode record batches ([`kbatch_records::Decoder`]) and call
//!   `update` for every data record in range;
//! * a **feeder** ([`Feeder`]) is what the reader's fetch loops hand fetched bytes to: one bounded
//!   crossbeam channel per worker, so the channel capacity times the fetch size bounds the memory
//!   held in flight.
//!
//! The engine knows nothing of sockets or JSON: [`run`] takes a `feed` closure that pushes
//! [`Work`] (one partition's complete batches from one fetch response) and returns when every
//! partition was fed to its end; the engine then waits for the workers, merges the partials once,
//! and calls `finish`.
//!
//! ```
//! use kbatch_engine::{run, Count, EngineConfig, PartitionSpec, Progress};
//! use kbatch_records::Isolation;
//!
//! let specs = vec![PartitionSpec { topic: "t".into(), partition: 0, start: 0, end: 0 }];
//! let progress = Progress::new(&specs);
//! let outcome = run(&EngineConfig::default(), &Count, &specs, Isolation::ReadCommitted, &progress,
//!     |_feeder| Ok::<(), std::convert::Infallible>(())).unwrap();
//! assert_eq!(outcome.stats[0].records, 0);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod job;
mod progress;
mod run;

pub use job::{Count, Job, JobError, PartitionSpec, PartitionStats};
pub use progress::Progress;
pub use run::{run, EngineConfig, EngineError, Feeder, Outcome, SendError, Work};
