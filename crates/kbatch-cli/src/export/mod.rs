//! `kbatch export`: a bounded read written as files (Parquet, Arrow IPC or JSON lines), one
//! or more per partition range, to a directory or an object store, then `_manifest.json`.
//!
//! Roles: [`args`] (flags, checked settings), [`manifest`] (what was exported, pure),
//! [`sink`] (local directory / `s3://` via `object_store`, uploads completed only when a file
//! is whole), [`http`] (the stores' HTTP client: ring + kbatch's resolver), [`format`](mod@format) (one
//! encoder per format), [`files`] (a partition range's files and their cutting). This module
//! drives them: `kbatch-arrow`'s `BatchStream` reads on a tokio runtime, [`encode`] routes
//! each partition's batches to one of several encoder threads (one per core by default,
//! `--threads`), and uploads run on the runtime.
//!
//! Order of effects, which makes a run all-or-nothing to a reader of the manifest: every
//! file of a range is completed only after all its rows were encoded; `_manifest.json` is
//! written after every file completed and after the engine confirmed each range whole
//! (its stats); in a local directory each file is on stable storage before it counts as
//! completed, and the manifest replaces the old one atomically and durably. A failed run
//! aborts its open uploads (also one whose completion failed), writes no manifest, and its
//! error names the files it did complete. The next run lists the files such a run left that
//! no manifest names (`orphans` in its manifest, and on stderr).

pub mod args;
mod encode;
mod files;
mod format;
mod http;
pub mod manifest;
mod sink;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;

use kbatch_arrow::{ArrowOptions, BatchStream};
use kbatch_reader::{AsyncReader, Isolation, PartitionSpec, PartitionStats, Progress};

use crate::args::UsageError;
use args::{ExportArgs, Settings};
use files::{FileSpec, PartitionFiles};
use manifest::{Manifest, PartitionEntry, MANIFEST_NAME};
use sink::{Location, Sink};

/// Run `kbatch export`.
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let location =
        Location::parse(&args.output).map_err(|e| UsageError(format!("--output {e}")))?;
    if let Some(m) = &args.from_manifest {
        Location::parse(m).map_err(|e| UsageError(format!("--from-manifest {e}")))?;
    }
    let mut spec = args.common.spec()?;
    let (config, ignored) = args.common.config()?;
    crate::warn_ignored(&ignored);
    crate::warn_security(&config);
    let isolation = config.isolation;
    let bootstrap = config.bootstrap.join(",");

    // The reader's I/O and the uploads share one small runtime; encoder threads block on it.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kbatch-io")
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    let reader = rt
        .block_on(AsyncReader::connect(config))
        .with_context(|| format!("connecting to {bootstrap}"))?;
    let mut previous = None;
    if let Some(m) = &args.from_manifest {
        let bytes = rt
            .block_on(sink::read(m))
            .with_context(|| format!("--from-manifest {m}"))?;
        let parsed = Manifest::parse(&bytes).with_context(|| format!("--from-manifest {m}"))?;
        spec.from = parsed
            .resume_from(&settings.topic)
            .with_context(|| format!("--from-manifest {m}"))?;
        previous = Some(parsed);
    }
    let sink = Sink::open(location)?;
    let plan = rt.block_on(reader.plan(&spec))?;
    let specs: Vec<PartitionSpec> = plan.iter().map(|p| p.spec.clone()).collect();
    let progress = Arc::new(Progress::new(&specs));
    let options = ArrowOptions {
        batch_rows: settings.batch_rows,
        // dump's line format has no headers: jsonl does not pay for building them.
        headers: settings.format != args::Format::Jsonl,
    };
    let mut stream = {
        let _in_runtime = rt.enter();
        BatchStream::start(&reader, plan, options, Some(progress.clone()))
    };
    let file_spec = FileSpec {
        format: settings.format,
        compression: settings.compression,
        schema: stream.schema(),
        batch_rows: settings.batch_rows,
        binary: settings.binary,
        max_file_bytes: settings.max_file_bytes,
    };
    let mut files: Vec<PartitionFiles> = specs
        .iter()
        .map(|s| PartitionFiles::new(s.topic.clone(), s.partition))
        .collect();
    let encoders = encode::threads(args.common.threads);
    let started = Instant::now();
    let run = crate::progress::while_running(&progress, || {
        encode::drive(&rt, &mut stream, &sink, &file_spec, &mut files, encoders)
    });
    let stats = run.map(|()| stream.stats().map(<[PartitionStats]>::to_vec));
    drop(stream);
    let stats = match stats {
        Ok(Some(stats)) => stats,
        Ok(None) => {
            let e = anyhow::anyhow!("the read ended without per-partition stats");
            return Err(fail(&rt, &sink, &mut files, e));
        }
        Err(e) => return Err(fail(&rt, &sink, &mut files, e)),
    };
    let mut manifest = build_manifest(&settings, isolation, &stats, &files)
        .map_err(|e| fail(&rt, &sink, &mut files, e))?;
    manifest.orphans = find_orphans(&rt, &sink, &settings.topic, previous.as_ref(), &files);
    let json = manifest.to_json();
    rt.block_on(sink.put(MANIFEST_NAME, Bytes::from(json.clone())))
        .map_err(|e| fail(&rt, &sink, &mut files, e.into()))?;
    let records: u64 = stats.iter().map(|s| s.records).sum();
    let file_count: usize = files.iter().map(|f| f.done.len()).sum();
    crate::summary(records, None, stats.len(), started);
    eprintln!(
        "kbatch: {file_count} files and {MANIFEST_NAME} written to {}",
        sink.location()
    );
    crate::write_stdout(&json)
}

/// The manifest of a finished run: the engine's counts per range, the files per range, and a
/// check that they agree (every exported row is in exactly one file).
fn build_manifest(
    settings: &Settings,
    isolation: Isolation,
    stats: &[PartitionStats],
    files: &[PartitionFiles],
) -> anyhow::Result<Manifest> {
    let mut partitions = Vec::with_capacity(stats.len());
    for (s, f) in stats.iter().zip(files) {
        let rows: u64 = f.done.iter().map(|d| d.records).sum();
        anyhow::ensure!(
            rows == s.records,
            "{} partition {}: {} records read but {rows} written",
            s.topic,
            s.partition,
            s.records
        );
        partitions.push(PartitionEntry {
            partition: s.partition,
            start: s.start,
            end: s.end,
            records: s.records,
            aborted: s.aborted,
            control: s.control,
            files: f.done.clone(),
        });
    }
    partitions.sort_by_key(|p| p.partition);
    let manifest = Manifest {
        kbatch_version: env!("CARGO_PKG_VERSION").to_string(),
        topic: settings.topic.clone(),
        format: settings.format.name().to_string(),
        compression: settings.compression.name(),
        isolation: match isolation {
            Isolation::ReadCommitted => "read_committed",
            Isolation::ReadUncommitted => "read_uncommitted",
        }
        .to_string(),
        partitions,
        orphans: None,
    };
    manifest.check()?;
    Ok(manifest)
}

/// The files in the output that no manifest names (see [`manifest::orphans`]), told on
/// stderr; `None` (and a warning) when the output cannot be listed.
fn find_orphans(
    rt: &tokio::runtime::Runtime,
    sink: &Sink,
    topic: &str,
    previous: Option<&Manifest>,
    files: &[PartitionFiles],
) -> Option<Vec<String>> {
    let listed = match rt.block_on(sink.list()) {
        Ok(listed) => listed,
        Err(e) => {
            eprintln!(
                "kbatch: warning: could not look for files no manifest names ({e}); \
                 {MANIFEST_NAME} has no \"orphans\""
            );
            return None;
        }
    };
    let written: std::collections::BTreeSet<&str> = files
        .iter()
        .flat_map(|f| f.done.iter().map(|d| d.name.as_str()))
        .collect();
    let orphans = manifest::orphans(topic, previous, &written, listed.iter().map(String::as_str));
    if !orphans.is_empty() {
        eprintln!(
            "kbatch: warning: {} file{} of {topic} in {} named by no manifest (left by a failed \
             run; a glob over the output reads their records twice), listed as \"orphans\" in \
             {MANIFEST_NAME}, not as its files: {}",
            orphans.len(),
            if orphans.len() == 1 { " is" } else { "s are" },
            sink.location(),
            orphans.join(", ")
        );
    }
    Some(orphans)
}

/// Abort every open upload and say what was completed before the failure.
fn fail(
    rt: &tokio::runtime::Runtime,
    sink: &Sink,
    files: &mut [PartitionFiles],
    cause: anyhow::Error,
) -> anyhow::Error {
    for part in files.iter_mut() {
        rt.block_on(part.abort());
    }
    let done: Vec<String> = files
        .iter()
        .filter_map(PartitionFiles::describe_done)
        .collect();
    let written = if done.is_empty() {
        "no file was completed".to_string()
    } else {
        format!("completed before the failure: {}", done.join("; "))
    };
    cause.context(format!(
        "export to {} failed, {MANIFEST_NAME} not written, {written}",
        sink.location()
    ))
}
