//! Any bounded read of Kafka as Arrow [`RecordBatch`]es, in the column names, types and order
//! of Spark's Kafka source ([`schema`]), so queries written for Spark carry over and Spark can
//! take the batches as they are.
//!
//! The batches are built by a job on kbatch's engine ([`BatchStream`]): each decode worker
//! appends the records of the partitions it owns straight from the fetched (or decompressed)
//! bytes into Arrow buffers — one copy, no allocation per row — and hands a batch over a small
//! channel whenever it holds `batch_rows` rows of one partition, or that partition's range is
//! done. A consumer that stops taking batches stops the workers, and so the fetches: memory is
//! bounded by the engine's back-pressure, not by the size of the read.
//!
//! ```no_run
//! # async fn f() -> Result<(), kbatch_reader::ReadError> {
//! use kbatch_arrow::{ArrowOptions, BatchStream};
//! use kbatch_reader::{AsyncReader, Config, ReadSpec};
//!
//! let config = Config { bootstrap: vec!["127.0.0.1:9092".into()], ..Config::default() };
//! let reader = AsyncReader::connect(config).await?;
//! let plan = reader.plan(&ReadSpec::topics(["web_stream"])).await?;
//! let mut batches = BatchStream::start(&reader, plan, ArrowOptions::default(), None);
//! while let Some(batch) = batches.next().await {
//!     let batch = batch?;
//!     println!("{}/{}: {} rows", batch.topic, batch.partition, batch.batch.num_rows());
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod builder;
mod decode;
mod job;
mod recycle;
#[cfg(feature = "rows")]
pub mod rows;
mod schema;
mod stream;

pub use arrow_array::RecordBatch;
pub use arrow_schema::SchemaRef;
pub use decode::{decode_batches, DecodeFailure};
pub use job::PartitionBatch;
pub use schema::{schema, HEADERS_COLUMN, TIMESTAMP_UNIT_PER_MS};
pub use stream::{read_all, ArrowOptions, BatchStream, DEFAULT_BATCH_ROWS};
