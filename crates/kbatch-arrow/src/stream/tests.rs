//! A stream ends only on the read's outcome: a read task that panics, is cancelled, or fails
//! after some batches ends the stream with an error, never with `None`. The read task is
//! replaced by a scripted one here; the real reader is exercised by the end-to-end tests.

use std::sync::Arc;

use arrow_array::RecordBatch;
use kbatch_reader::{Outcome, PartitionPlan, PartitionSpec, PartitionStats, ReadError};
use tokio::sync::mpsc;

use super::{collect, BatchStream, PartitionBatch};
use crate::schema::schema;

fn plan(partitions: &[i32]) -> Vec<PartitionPlan> {
    partitions
        .iter()
        .map(|&p| PartitionPlan {
            spec: PartitionSpec {
                topic: Arc::from("t"),
                partition: p,
                start: 0,
                end: 10,
            },
            leader: 1,
            leader_epoch: 0,
            topic_id: [0; 16],
        })
        .collect()
}

fn batch(partition: i32) -> PartitionBatch {
    PartitionBatch {
        index: 0,
        topic: Arc::from("t"),
        partition,
        batch: RecordBatch::new_empty(schema(false)),
        last: false,
    }
}

/// A stream whose read task sends `sent` batches and then does what `end` does.
fn scripted<F>(partitions: &[i32], sent: usize, end: F) -> BatchStream
where
    F: FnOnce() -> Result<Outcome<()>, ReadError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(sent.max(1));
    let p = partitions[0];
    let run = tokio::spawn(async move {
        for _ in 0..sent {
            tx.send(batch(p)).await.expect("stream is listening");
        }
        drop(tx);
        end()
    });
    BatchStream::over(schema(false), rx, run, plan(partitions))
}

fn finished() -> Result<Outcome<()>, ReadError> {
    Ok(Outcome {
        output: (),
        stats: Vec::<PartitionStats>::new(),
        stopped: false,
    })
}

#[tokio::test]
async fn a_read_task_that_panics_ends_the_stream_with_its_message() {
    let mut stream = scripted(&[3], 2, || panic!("decoder exploded at offset 7"));
    assert!(matches!(stream.next().await, Some(Ok(_))));
    assert!(matches!(stream.next().await, Some(Ok(_))));
    let end = stream.next().await;
    let Some(Err(e)) = end else {
        panic!("a panicked read must end in an error, got {end:?}");
    };
    assert!(
        e.to_string().contains("decoder exploded at offset 7"),
        "{e}"
    );
    assert_eq!(e.kind(), kbatch_reader::ErrorKind::Internal);
    assert_eq!((e.topic(), e.partition()), (Some("t"), Some(3)));
    assert!(!e.retriable());
    assert!(stream.next().await.is_none(), "the error is reported once");
    assert!(
        stream.stats().is_none(),
        "no stats: the read did not finish"
    );
}

#[tokio::test]
async fn a_read_task_that_is_aborted_ends_the_stream_with_an_error() {
    let (_tx, rx) = mpsc::channel::<PartitionBatch>(1);
    let run = tokio::spawn(async {
        std::future::pending::<()>().await;
        finished()
    });
    run.abort();
    let mut stream = BatchStream::over(schema(false), rx, run, plan(&[0]));
    // The sender lives on in this test: drop it so the stream looks at the task.
    drop(_tx);
    assert!(matches!(
        stream.next().await,
        Some(Err(ReadError::Cancelled))
    ));
}

#[tokio::test]
async fn a_read_that_finished_ends_the_stream_with_its_stats() {
    let mut stream = scripted(&[0], 1, finished);
    assert!(matches!(stream.next().await, Some(Ok(_))));
    assert!(stream.next().await.is_none());
    assert!(stream.stats().is_some());
}

#[tokio::test]
async fn read_all_fails_when_the_read_task_panics() {
    let stream = scripted(&[0, 1], 3, || panic!("boom in the fetch loop"));
    let e = collect(stream)
        .await
        .expect_err("a panic is not a complete read");
    assert!(e.to_string().contains("boom in the fetch loop"), "{e}");
    // Two partitions of one topic: the topic is named, no partition.
    assert_eq!((e.topic(), e.partition()), (Some("t"), None));
}

#[test]
fn a_blocking_consumer_sees_the_panic_as_an_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let mut stream = rt.block_on(async { scripted(&[0], 1, || panic!("worker died")) });
    assert!(matches!(stream.blocking_next(), Some(Ok(_))));
    match stream.blocking_next() {
        Some(Err(e)) => assert!(e.to_string().contains("worker died"), "{e}"),
        other => panic!("expected the panic as an error, got {other:?}"),
    }
}
