//! `kbatch export`: flags mapped onto `kbatch_export::ExportOptions`, and the run's output
//! rendered (warnings and the summary on stderr, the manifest on stdout). The export itself
//! is the `kbatch-export` library's.

use std::time::Instant;

use clap::{Args, ValueEnum};
use kbatch_export::{Export, ExportError, ExportOptions};

use crate::args::{CommonArgs, FormatArgs, UsageError};

/// `kbatch export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// --value-format / --key-format / --on-undecodable, as `dump`'s: decoded columns are
    /// typed (Parquet, Arrow) or natural JSON (jsonl).
    #[command(flatten)]
    pub formats: FormatArgs,
    /// File format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    pub format: Format,
    /// A local directory (created if missing) or an object-store URL (s3://bucket/prefix).
    #[arg(long, value_name = "DIR_OR_URL")]
    pub output: String,
    /// Parquet: snappy, lz4_raw, zstd, zstd:LEVEL (1-22), gzip, gzip:LEVEL (0-9) or none;
    /// arrow: zstd, zstd:LEVEL or none; jsonl: none [default: zstd:3 for parquet, none
    /// otherwise].
    #[arg(long)]
    pub compression: Option<String>,
    /// Start a new file of the partition once this much output is written (K, M, G, KiB,
    /// MiB, GiB or bytes); a file can exceed it by one slice of rows.
    #[arg(long, default_value = "128MiB", value_parser = kbatch_export::options::parse_size)]
    pub max_file_bytes: u64,
    /// Start each partition where this previous export's `_manifest.json` ended
    /// (incremental exports); partitions created since start at earliest. Excludes --from.
    #[arg(long, value_name = "PATH_OR_URL")]
    pub from_manifest: Option<String>,
    /// jsonl: keys and values as base64 instead of UTF-8 text (as `dump --binary`).
    #[arg(long)]
    pub binary: bool,
    /// Rows per Arrow record batch (and most rows per Parquet row group).
    #[arg(long, default_value_t = kbatch_export::options::DEFAULT_BATCH_ROWS)]
    pub batch_rows: usize,
}

/// Output formats of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Apache Parquet, Spark's Kafka schema.
    Parquet,
    /// Arrow IPC file format (Feather v2), Spark's Kafka schema.
    Arrow,
    /// `kbatch dump`'s JSON lines.
    Jsonl,
}

impl From<Format> for kbatch_export::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Parquet => kbatch_export::Format::Parquet,
            Format::Arrow => kbatch_export::Format::Arrow,
            Format::Jsonl => kbatch_export::Format::Jsonl,
        }
    }
}

impl ExportArgs {
    /// The library's options these flags describe.
    pub fn options(&self) -> ExportOptions {
        ExportOptions {
            output: self.output.clone(),
            format: self.format.into(),
            compression: self.compression.clone(),
            max_file_bytes: self.max_file_bytes,
            from_manifest: self.from_manifest.clone(),
            binary: self.binary,
            batch_rows: self.batch_rows,
            threads: self.common.threads,
        }
    }
}

/// The flag an option of the library is set by.
fn flag(option: &str) -> String {
    match option {
        "topic" => "--topic".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// A usage error of the library as the CLI's (flag names, exit code 2); others as they are.
fn cli_error(e: ExportError) -> anyhow::Error {
    match e {
        ExportError::Usage { option, message } => {
            UsageError(format!("{}: {message}", flag(option))).into()
        }
        other => other.into(),
    }
}

/// Run `kbatch export`.
#[allow(clippy::result_large_err)] // kbatch-export's error, returned once per export
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let spec = args.common.spec()?;
    let (config, ignored) = args.common.config()?;
    crate::warn_ignored(&ignored);
    crate::warn_security(&config);
    let decoders = args.formats.decoders(&args.common.client_config()?)?;
    let job = Export::start_decoding(config, spec, &args.options(), decoders).map_err(cli_error)?;
    let progress = job.progress();
    let started = Instant::now();
    let done = crate::progress::while_running(&progress, || job.run()).map_err(cli_error)?;
    for w in &done.warnings {
        eprintln!("kbatch: warning: {w}");
    }
    crate::summary(done.records, None, done.manifest.partitions.len(), started);
    let undecodable: u64 = done.manifest.partitions.iter().map(|p| p.undecodable).sum();
    if undecodable > 0 {
        eprintln!(
            "kbatch: {undecodable} undecodable keys or values written as null \
             (--on-undecodable null; per partition in {})",
            kbatch_export::MANIFEST_NAME
        );
    }
    eprintln!(
        "kbatch: {} files and {} written to {}",
        done.files,
        kbatch_export::MANIFEST_NAME,
        done.location
    );
    crate::write_stdout(&done.manifest.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_named_by_their_flags() {
        let table = [
            ("topic", "--topic"),
            ("from_manifest", "--from-manifest"),
            ("compression", "--compression"),
            ("max_file_bytes", "--max-file-bytes"),
        ];
        for (option, want) in table {
            assert_eq!(flag(option), want);
        }
        let e = cli_error(ExportError::usage("batch_rows", "must be at least 1"));
        assert_eq!(e.to_string(), "--batch-rows: must be at least 1");
        assert!(e.downcast_ref::<UsageError>().is_some());
    }
}
