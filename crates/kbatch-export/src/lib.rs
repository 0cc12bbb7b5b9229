//! `kbatch-export`: a bounded read written as files (Parquet, Arrow IPC or JSON lines), one
//! or more per partition range, to a directory or an object store, then `_manifest.json`.
//! The CLI's `kbatch export` and Python's `kbatch.export` are front ends over [`export`].
//!
//! Roles: [`options`] (what is asked, checked into settings; pure), [`manifest`] (what was
//! exported, pure), `sink` (local directory / `s3://` via `object_store`, uploads completed
//! only when a file is whole), `http` (the stores' HTTP client: ring + kbatch's resolver),
//! `format` (one encoder per format), `files` (a partition range's files and their cutting),
//! [`line`](mod@line) (`kbatch dump`'s JSON line). This module drives them: `kbatch-arrow`'s
//! `BatchStream` reads on a small tokio runtime of the export's own, `encode` routes each
//! partition's batches to one of several encoder threads (one per core by default), and
//! uploads run on the runtime.
//!
//! Order of effects, which makes a run all-or-nothing to a reader of the manifest: every
//! file of a range is completed only after all its rows were encoded; `_manifest.json` is
//! written after every file completed and after the engine confirmed each range whole
//! (its stats); in a local directory each file is on stable storage before it counts as
//! completed, and the manifest replaces the old one atomically and durably. A failed run
//! aborts its open uploads (also one whose completion failed), writes no manifest, and its
//! error names the files it did complete. The next run lists the files such a run left that
//! no manifest names (`orphans` in its manifest, and a warning).
#![forbid(unsafe_code)]
// `ExportError` carries the reader's error and a previous manifest's details by value; it is
// returned once per export, never on a per-record path.
#![allow(clippy::result_large_err)]
#![deny(missing_docs)]

mod encode;
mod error;
mod files;
mod format;
mod http;
pub mod line;
pub mod manifest;
pub mod options;
mod sink;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use kbatch_arrow::{ArrowOptions, BatchStream};
use kbatch_reader::{
    AsyncReader, Config, Isolation, PartitionPlan, PartitionSpec, PartitionStats, Progress,
    ReadSpec,
};
use kbatch_schema::Decoders;

pub use error::ExportError;
pub use files::FileError;
pub use format::EncodeError;
pub use line::Line;
pub use manifest::{FileEntry, Manifest, ManifestError, PartitionEntry, MANIFEST_NAME};
pub use options::{Compression, ExportOptions, Format, Settings};
pub use sink::SinkError;

use files::{FileSpec, PartitionFiles};
use sink::{Location, Sink};

/// What a finished export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The manifest, as written to `_manifest.json` ([`Manifest::to_json`]).
    pub manifest: Manifest,
    /// Where it was written (a directory or `s3://bucket/prefix`).
    pub location: String,
    /// Files written (besides the manifest).
    pub files: usize,
    /// Records exported.
    pub records: u64,
    /// What the caller should tell the user: files of the topic no manifest names, or that
    /// the output could not be listed for them.
    pub warnings: Vec<String>,
}

/// Export `spec` (one topic) read with `config` as `options` say: connect, plan, write, then
/// the manifest. [`Export::start`] and [`Export::run`] in one call.
pub fn export(
    config: Config,
    spec: ReadSpec,
    options: &ExportOptions,
) -> Result<Exported, ExportError> {
    Export::start(config, spec, options)?.run()
}

/// An export connected and planned, not yet reading: its [`Progress`] can be watched (the
/// CLI's progress bar) and it can be stopped from another thread (Python's Ctrl-C) while
/// [`Export::run`] writes.
pub struct Export {
    rt: tokio::runtime::Runtime,
    reader: AsyncReader,
    settings: Settings,
    threads: usize,
    isolation: Isolation,
    sink: Sink,
    previous: Option<Manifest>,
    plan: Vec<PartitionPlan>,
    specs: Vec<PartitionSpec>,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
    decoders: Decoders,
}

/// Stops an [`Export`] from another thread: its run ends with [`ExportError::Stopped`] (open
/// uploads aborted, no manifest) at its next batch.
#[derive(Debug, Clone)]
pub struct Stopper(Arc<AtomicBool>);

impl Stopper {
    /// Stop the export.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Export {
    /// Check the options, connect, read the previous manifest (`from_manifest`), open the
    /// output and plan the ranges. Nothing is written yet.
    pub fn start(
        config: Config,
        spec: ReadSpec,
        options: &ExportOptions,
    ) -> Result<Export, ExportError> {
        Export::start_decoding(config, spec, options, Decoders::default())
    }

    /// [`Export::start`], with the keys and/or values decoded by `decoders` (the typed
    /// columns `kbatch.read` gives; jsonl writes them as `kbatch dump` prints them). The
    /// topic's reader schemas are looked up here when their subjects exist, so every file of
    /// the run has one Arrow schema from its first row on.
    pub fn start_decoding(
        config: Config,
        mut spec: ReadSpec,
        options: &ExportOptions,
        decoders: Decoders,
    ) -> Result<Export, ExportError> {
        let settings = options.settings(&spec)?;
        let location =
            Location::parse(&options.output).map_err(|e| ExportError::usage("output", e))?;
        if let Some(m) = &options.from_manifest {
            Location::parse(m).map_err(|e| ExportError::usage("from_manifest", e))?;
        }
        let isolation = config.isolation;
        let bootstrap = config.bootstrap.join(",");
        // The reader's I/O and the uploads share one small runtime; encoder threads block on it.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kbatch-io")
            .enable_all()
            .build()
            .map_err(|source| ExportError::Start {
                what: "starting the I/O runtime",
                source,
            })?;
        let reader = rt
            .block_on(AsyncReader::connect(config))
            .map_err(|source| ExportError::Connect { bootstrap, source })?;
        let mut previous = None;
        if let Some(m) = &options.from_manifest {
            let bytes =
                rt.block_on(sink::read(m))
                    .map_err(|source| ExportError::PreviousUnreadable {
                        location: m.clone(),
                        source,
                    })?;
            let invalid = |source| ExportError::PreviousInvalid {
                location: m.clone(),
                source,
            };
            let parsed = Manifest::parse(&bytes).map_err(invalid)?;
            spec.from = parsed.resume_from(&settings.topic).map_err(invalid)?;
            previous = Some(parsed);
        }
        let sink = Sink::open(location)?;
        let plan = rt.block_on(reader.plan(&spec))?;
        let specs: Vec<PartitionSpec> = plan.iter().map(|p| p.spec.clone()).collect();
        let progress = Arc::new(Progress::new(&specs));
        Ok(Export {
            rt,
            reader,
            settings,
            threads: encode::threads(options.threads),
            isolation,
            sink,
            previous,
            plan,
            specs,
            progress,
            stop: Arc::new(AtomicBool::new(false)),
            decoders,
        })
    }

    /// The run's progress (records and offsets done of the planned ranges).
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// A handle that stops [`Export::run`] from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.stop.clone())
    }

    /// The checked settings the run follows.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Read every range and write its files, then the manifest; on failure abort what is
    /// open, write no manifest, and say what was completed ([`ExportError::Failed`]).
    pub fn run(self) -> Result<Exported, ExportError> {
        let Export {
            rt,
            reader,
            settings,
            threads,
            isolation,
            sink,
            previous,
            plan,
            specs,
            progress,
            stop,
            decoders,
        } = self;
        let options = ArrowOptions {
            batch_rows: settings.batch_rows,
            // dump's line format has no headers: jsonl does not pay for building them.
            headers: settings.format != Format::Jsonl,
        };
        let mut stream = {
            let _in_runtime = rt.enter();
            BatchStream::start(&reader, plan, options, Some(progress))
        };
        let schema = match decoded_schema(stream.schema(), &settings.topic, &decoders) {
            Ok(schema) => schema,
            Err(e) => {
                drop(stream);
                return Err(e);
            }
        };
        let file_spec = FileSpec {
            format: settings.format,
            compression: settings.compression,
            schema,
            decoders: &decoders,
            batch_rows: settings.batch_rows,
            binary: settings.binary,
            max_file_bytes: settings.max_file_bytes,
        };
        let mut files: Vec<PartitionFiles> = specs
            .iter()
            .map(|s| PartitionFiles::new(s.topic.clone(), s.partition))
            .collect();
        let run = encode::drive(
            &rt,
            &mut stream,
            &sink,
            &file_spec,
            &mut files,
            threads,
            &stop,
        );
        let stats = run.map(|()| stream.stats().map(<[PartitionStats]>::to_vec));
        drop(stream);
        let stats = match stats {
            Ok(Some(stats)) => stats,
            Ok(None) => {
                let e = ExportError::Internal("the read ended without per-partition stats".into());
                return Err(fail(&rt, &sink, &mut files, e));
            }
            Err(e) => return Err(fail(&rt, &sink, &mut files, e)),
        };
        let mut manifest = build_manifest(&settings, isolation, &decoders, &stats, &files)
            .map_err(|e| fail(&rt, &sink, &mut files, e))?;
        let mut warnings = Vec::new();
        manifest.orphans = find_orphans(
            &rt,
            &sink,
            &settings.topic,
            previous.as_ref(),
            &files,
            &mut warnings,
        );
        let json = manifest.to_json();
        rt.block_on(sink.put(MANIFEST_NAME, Bytes::from(json)))
            .map_err(|e| fail(&rt, &sink, &mut files, e.into()))?;
        Ok(Exported {
            records: stats.iter().map(|s| s.records).sum(),
            files: files.iter().map(|f| f.done.len()).sum(),
            location: sink.location().to_string(),
            manifest,
            warnings,
        })
    }
}

/// The manifest of a finished run: the engine's counts per range, the files per range, and a
/// check that they agree (every exported row is in exactly one file).
fn build_manifest(
    settings: &Settings,
    isolation: Isolation,
    decoders: &Decoders,
    stats: &[PartitionStats],
    files: &[PartitionFiles],
) -> Result<Manifest, ExportError> {
    let mut partitions = Vec::with_capacity(stats.len());
    for (s, f) in stats.iter().zip(files) {
        let rows: u64 = f.done.iter().map(|d| d.records).sum();
        if rows != s.records {
            return Err(ExportError::Internal(format!(
                "{} partition {}: {} records read but {rows} written",
                s.topic, s.partition, s.records
            )));
        }
        partitions.push(PartitionEntry {
            partition: s.partition,
            start: s.start,
            end: s.end,
            records: s.records,
            aborted: s.aborted,
            control: s.control,
            undecodable: f.undecodable,
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
        key_format: format_name(decoders.key.as_ref()).to_string(),
        value_format: format_name(decoders.value.as_ref()).to_string(),
        partitions,
        orphans: None,
    };
    manifest
        .check()
        .map_err(|e| ExportError::Internal(e.to_string()))?;
    Ok(manifest)
}

/// The manifest's name of a column's format (`raw` when it is not decoded).
fn format_name(decoder: Option<&kbatch_schema::ColumnDecoder>) -> &'static str {
    decoder
        .map_or(kbatch_schema::ValueFormat::Raw, |d| d.format())
        .name()
}

/// The schema of the files: `read`'s, with each decoded column typed by its topic's reader
/// schema when that is known before the read (its subject exists), else `Null` until the
/// first framed value fixes it ([`encode`] gives every batch this schema's types).
fn decoded_schema(
    read: arrow_schema::SchemaRef,
    topic: &str,
    decoders: &Decoders,
) -> Result<arrow_schema::SchemaRef, ExportError> {
    if !decoders.any() {
        return Ok(read);
    }
    let mut fields: Vec<arrow_schema::FieldRef> = read.fields().iter().cloned().collect();
    for (column, decoder) in [("key", &decoders.key), ("value", &decoders.value)] {
        let Some(decoder) = decoder else { continue };
        let typed = decoder
            .prepare(topic)
            .map_err(|source| ExportError::Schema {
                topic: topic.to_string(),
                source,
            })?
            .unwrap_or(arrow_schema::DataType::Null);
        let index = read
            .index_of(column)
            .map_err(|e| ExportError::Internal(e.to_string()))?;
        fields[index] = Arc::new(decoder.field(column, typed));
    }
    Ok(Arc::new(arrow_schema::Schema::new_with_metadata(
        fields,
        read.metadata().clone(),
    )))
}

/// The files in the output that no manifest names (see [`manifest::orphans`]), with a
/// warning naming them; `None` (and a warning) when the output cannot be listed.
fn find_orphans(
    rt: &tokio::runtime::Runtime,
    sink: &Sink,
    topic: &str,
    previous: Option<&Manifest>,
    files: &[PartitionFiles],
    warnings: &mut Vec<String>,
) -> Option<Vec<String>> {
    let listed = match rt.block_on(sink.list()) {
        Ok(listed) => listed,
        Err(e) => {
            warnings.push(format!(
                "could not look for files no manifest names ({e}); {MANIFEST_NAME} has no \
                 \"orphans\""
            ));
            return None;
        }
    };
    let written: std::collections::BTreeSet<&str> = files
        .iter()
        .flat_map(|f| f.done.iter().map(|d| d.name.as_str()))
        .collect();
    let orphans = manifest::orphans(topic, previous, &written, listed.iter().map(String::as_str));
    if !orphans.is_empty() {
        warnings.push(format!(
            "{} file{} of {topic} in {} named by no manifest (left by a failed run; a glob \
             over the output reads their records twice), listed as \"orphans\" in \
             {MANIFEST_NAME}, not as its files: {}",
            orphans.len(),
            if orphans.len() == 1 { " is" } else { "s are" },
            sink.location(),
            orphans.join(", ")
        ));
    }
    Some(orphans)
}

/// Abort every open upload and say what was completed before the failure.
fn fail(
    rt: &tokio::runtime::Runtime,
    sink: &Sink,
    files: &mut [PartitionFiles],
    cause: ExportError,
) -> ExportError {
    for part in files.iter_mut() {
        rt.block_on(part.abort());
    }
    let done: Vec<String> = files
        .iter()
        .filter_map(PartitionFiles::describe_done)
        .collect();
    let completed = if done.is_empty() {
        "no file was completed".to_string()
    } else {
        format!("completed before the failure: {}", done.join("; "))
    };
    ExportError::Failed {
        location: sink.location().to_string(),
        completed,
        source: Box::new(cause),
    }
}
