//! Encoding on several cores: the partition ranges are dealt round-robin into groups (index
//! `i` to group `i % groups`), one encoder thread per group, and this (calling) thread routes
//! each Arrow batch of the stream to its group's thread through a two-slot channel.
//!
//! Why round-robin and not contiguous groups: the engine's workers fill every partition's
//! builder at about the same pace, so full batches leave the stream in partition order. With
//! contiguous groups the first half of that order all goes to the first thread, whose two slots
//! fill while the router waits and the other threads idle; dealt round-robin, consecutive
//! partitions go to different threads.
//!
//! Why threads per group of partitions and not per batch: a partition's rows must reach its
//! file in offset order and a Parquet writer is not shareable, so a partition is owned by one
//! thread for the whole run. The two-slot channels keep the engine's back-pressure: a slow
//! encoder blocks the router, which stops taking batches, which blocks the engine's workers.
//!
//! A run ends in one of two ways, told apart by an explicit [`Msg::End`]: every thread gets
//! `End` and closes its open files (the read was whole), or a channel closes without it (the
//! read or another thread failed) and the thread leaves its files open for the caller to
//! abort. So a failure never completes a file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use std::sync::Arc;

use arrow_array::{new_null_array, RecordBatch};
use arrow_schema::{DataType, FieldRef, Schema, SchemaRef};
use kbatch_arrow::{BatchStream, PartitionBatch};

use crate::files::{FileSpec, PartitionFiles};
use crate::sink::Sink;
use crate::ExportError;

/// What a group's thread receives.
enum Msg {
    Batch(PartitionBatch),
    /// The stream ended whole: close every file of the group.
    End,
}

/// How many groups (threads) `partitions` are dealt into: `threads`, at least one, never more
/// than there are partitions.
fn group_count(partitions: usize, threads: usize) -> usize {
    threads.clamp(1, partitions.max(1))
}

/// The group of partition index `index` and its place within the group.
fn place(index: usize, groups: usize) -> (usize, usize) {
    (index % groups, index / groups)
}

/// Encoder threads for `requested` (0 = one per core this process may run on).
pub fn threads(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Feed every batch of `stream` into its partition's files on `threads` encoder threads; a
/// range's file closes with its last batch, every file once the stream ended whole. `stop`
/// ends the routing at the next batch with [`ExportError::Stopped`].
pub fn drive(
    rt: &tokio::runtime::Runtime,
    stream: &mut BatchStream,
    sink: &Sink,
    spec: &FileSpec<'_>,
    files: &mut [PartitionFiles],
    threads: usize,
    stop: &AtomicBool,
) -> Result<(), ExportError> {
    let groups = group_count(files.len(), threads);
    let mut dealt: Vec<Vec<&mut PartitionFiles>> = (0..groups).map(|_| Vec::new()).collect();
    for (index, part) in files.iter_mut().enumerate() {
        dealt[place(index, groups).0].push(part);
    }
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for (group, members) in dealt.into_iter().enumerate() {
            let (tx, rx) = sync_channel::<Msg>(2);
            let handle = std::thread::Builder::new()
                .name(format!("kbatch-encode-{group}"))
                .spawn_scoped(scope, move || encode(rt, sink, spec, members, groups, rx))
                .map_err(|source| ExportError::Start {
                    what: "starting an encoder thread",
                    source,
                })?;
            senders.push(tx);
            handles.push(handle);
        }
        let fed = route(stream, &senders, stop);
        if let Ok(true) = fed {
            for tx in &senders {
                // A thread that already stopped has its own error to report below.
                let _ = tx.send(Msg::End);
            }
        }
        drop(senders);
        // A thread's error is the cause when routing stopped because its channel closed.
        let mut first: Option<ExportError> = None;
        for handle in handles {
            let result = match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            if let Err(e) = result {
                first.get_or_insert(e);
            }
        }
        match (first, fed) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(true)) => Ok(()),
            (None, Ok(false)) => Err(ExportError::Internal(
                "an encoder thread stopped early".into(),
            )),
        }
    })
}

/// Route each batch to its group: true once the stream ended whole, false when a channel
/// closed (that thread failed and says why), or the stream's error.
fn route(
    stream: &mut BatchStream,
    senders: &[SyncSender<Msg>],
    stop: &AtomicBool,
) -> Result<bool, ExportError> {
    while let Some(next) = stream.blocking_next() {
        if stop.load(Ordering::Relaxed) {
            return Err(ExportError::Stopped);
        }
        let batch = next?;
        let tx = senders
            .get(place(batch.index, senders.len()).0)
            .ok_or_else(|| {
                ExportError::Internal(format!(
                    "a batch of an unplanned partition index {}",
                    batch.index
                ))
            })?;
        if tx.send(Msg::Batch(batch)).is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One group's thread: `files` are its partitions, the one of index `i` at `place(i, groups).1`.
fn encode(
    rt: &tokio::runtime::Runtime,
    sink: &Sink,
    spec: &FileSpec<'_>,
    mut files: Vec<&mut PartitionFiles>,
    groups: usize,
    rx: Receiver<Msg>,
) -> Result<(), ExportError> {
    while let Ok(msg) = rx.recv() {
        let batch = match msg {
            Msg::Batch(batch) => batch,
            Msg::End => {
                // Ranges whose last batch carried no flag (nothing in range): nothing is
                // open, but be sure.
                for part in files.iter_mut() {
                    rt.block_on(part.close())?;
                }
                return Ok(());
            }
        };
        let part = files.get_mut(place(batch.index, groups).1).ok_or_else(|| {
            ExportError::Internal(format!(
                "a batch of partition index {} routed wrong",
                batch.index
            ))
        })?;
        if batch.batch.num_rows() > 0 {
            let (rows, undecodable) = decode(spec, batch.batch)?;
            part.undecodable += undecodable;
            rt.block_on(part.write(sink, spec, &rows))?;
        }
        if batch.last {
            rt.block_on(part.close())?;
        }
    }
    Ok(())
}

/// `batch` with its key and/or value decoded (on this encoder thread, so decoding runs on as
/// many cores as encoding), and how many were made null as undecodable.
fn decode(spec: &FileSpec<'_>, batch: RecordBatch) -> Result<(RecordBatch, u64), ExportError> {
    if !spec.decoders.any() {
        return Ok((batch, 0));
    }
    let (_, mut decoded, undecodable) =
        kbatch_arrow::decode_batches(batch.schema(), vec![batch], spec.decoders)?;
    let batch = decoded
        .pop()
        .ok_or_else(|| ExportError::Internal("decoding lost a batch".into()))?;
    Ok((typed_as(&spec.schema, batch)?, undecodable))
}

/// `batch` with each column of type `Null` (decoded before its reader schema was known: no
/// value of it was framed) given the type `schema` has for it, so every file has one schema.
fn typed_as(schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch, ExportError> {
    let mut fields: Vec<FieldRef> = batch.schema().fields().iter().cloned().collect();
    let mut columns = batch.columns().to_vec();
    let mut changed = false;
    for (i, field) in fields.iter_mut().enumerate() {
        if field.data_type() != &DataType::Null {
            continue;
        }
        let Ok(want) = schema.field_with_name(field.name()) else {
            continue;
        };
        if want.data_type() != &DataType::Null {
            columns[i] = new_null_array(want.data_type(), batch.num_rows());
            *field = Arc::new(want.clone());
            changed = true;
        }
    }
    if !changed {
        return Ok(batch);
    }
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        batch.schema().metadata().clone(),
    ));
    RecordBatch::try_new(schema, columns).map_err(|e| ExportError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_schema::Field;

    #[test]
    fn partitions_are_dealt_round_robin_over_at_most_threads_groups() {
        // (partitions, threads, groups)
        let table = [
            (8, 2, 2),
            (8, 3, 3),
            (8, 1, 1),
            (8, 0, 1),
            (3, 8, 3),
            (1, 2, 1),
            (0, 2, 1),
            (7, 2, 2),
        ];
        for (partitions, threads, want) in table {
            let groups = group_count(partitions, threads);
            assert_eq!(groups, want, "{partitions} partitions on {threads} threads");
            // Every index has one place, and no two indexes share it.
            let mut sizes = vec![0usize; groups];
            for index in 0..partitions {
                let (group, at) = place(index, groups);
                assert!(group < groups, "{index} of {partitions}: group {group}");
                assert_eq!(at, sizes[group], "{index}: places fill in index order");
                sizes[group] += 1;
            }
            assert_eq!(sizes.iter().sum::<usize>(), partitions);
            assert!(
                sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
                "{partitions} on {threads}: {sizes:?}"
            );
            // Neighbours go to different threads whenever there are two.
            if groups > 1 {
                for index in 1..partitions {
                    assert_ne!(place(index, groups).0, place(index - 1, groups).0);
                }
            }
        }
    }

    #[test]
    fn null_columns_take_the_files_type() {
        let typed = DataType::Struct(vec![Field::new("n", DataType::Int64, true)].into());
        let files: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Binary, true),
            Field::new("value", typed.clone(), true),
        ]));
        let batch = |value: DataType| {
            let schema = Arc::new(Schema::new(vec![
                Field::new("key", DataType::Binary, true),
                Field::new("value", value.clone(), true),
            ]));
            RecordBatch::try_new(
                schema,
                vec![
                    new_null_array(&DataType::Binary, 2),
                    new_null_array(&value, 2),
                ],
            )
            .unwrap()
        };
        // A batch of all-null values decoded before the reader was known.
        let fixed = typed_as(&files, batch(DataType::Null)).unwrap();
        assert_eq!(fixed.schema(), files);
        assert_eq!(fixed.column(1).null_count(), 2);
        // A typed batch is left as it is.
        assert_eq!(typed_as(&files, batch(typed)).unwrap().schema(), files);
        // A type not known before the read stays Null.
        let unknown: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Binary, true),
            Field::new("value", DataType::Null, true),
        ]));
        let kept = typed_as(&unknown, batch(DataType::Null)).unwrap();
        assert_eq!(kept.schema().field(1).data_type(), &DataType::Null);
    }

    #[test]
    fn zero_threads_means_one_per_core() {
        assert!(threads(0) >= 1);
        assert_eq!(threads(3), 3);
    }
}
