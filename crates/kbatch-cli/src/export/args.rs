//! `kbatch export` flags, and the pure checks that turn them into a [`Settings`].

use clap::{Args, ValueEnum};

use crate::args::{CommonArgs, UsageError};

/// `kbatch export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// File format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    pub format: Format,
    /// A local directory (created if missing) or an object-store URL (s3://bucket/prefix).
    #[arg(long, value_name = "DIR_OR_URL")]
    pub output: String,
    /// zstd, zstd:LEVEL (1-22) or none [default: zstd:3 for parquet, none for arrow; jsonl:
    /// none only].
    #[arg(long)]
    pub compression: Option<String>,
    /// Start a new file of the partition once this much output is written (K, M, G, KiB,
    /// MiB, GiB or bytes); a file can exceed it by one slice of rows.
    #[arg(long, default_value = "128MiB", value_parser = parse_size)]
    pub max_file_bytes: u64,
    /// Start each partition where this previous export's `_manifest.json` ended
    /// (incremental exports); partitions created since start at earliest. Excludes --from.
    #[arg(long, value_name = "PATH_OR_URL")]
    pub from_manifest: Option<String>,
    /// jsonl: keys and values as base64 instead of UTF-8 text (as `dump --binary`).
    #[arg(long)]
    pub binary: bool,
    /// Rows per Arrow record batch (and most rows per Parquet row group).
    #[arg(long, default_value_t = 65536)]
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

impl Format {
    /// File name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Arrow => "arrow",
            Format::Jsonl => "jsonl",
        }
    }

    /// Name in the manifest.
    pub fn name(self) -> &'static str {
        self.extension()
    }
}

/// A file codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Uncompressed.
    None,
    /// zstd at this level.
    Zstd(i32),
}

impl Compression {
    /// `--compression` for `format`: the default when absent; jsonl is never compressed
    /// (readers of JSON lines expect text).
    pub fn parse(format: Format, text: Option<&str>) -> Result<Compression, String> {
        let c = match text.map(str::trim) {
            None => match format {
                Format::Parquet => Compression::Zstd(3),
                Format::Arrow | Format::Jsonl => Compression::None,
            },
            Some("none" | "uncompressed") => Compression::None,
            Some("zstd") => Compression::Zstd(3),
            Some(other) => {
                let level = other
                    .strip_prefix("zstd:")
                    .and_then(|l| l.parse::<i32>().ok())
                    .ok_or_else(|| {
                        format!("--compression: expected zstd, zstd:LEVEL or none, got {other:?}")
                    })?;
                if !(1..=22).contains(&level) {
                    return Err(format!(
                        "--compression: zstd level {level} is not in 1..=22"
                    ));
                }
                Compression::Zstd(level)
            }
        };
        if format == Format::Jsonl && c != Compression::None {
            return Err("--compression: jsonl files are written uncompressed".into());
        }
        Ok(c)
    }

    /// Name in the manifest.
    pub fn name(self) -> String {
        match self {
            Compression::None => "none".into(),
            Compression::Zstd(l) => format!("zstd({l})"),
        }
    }
}

/// `128MiB`, `64M`, `500k`, `1G`, `4096`. K/M/G are taken as binary units too: sizes here
/// bound memory and parts, where powers of two are what people mean.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "bad size unit in {s:?} (use K, M, G, KiB, MiB, GiB)"
            ))
        }
    };
    let v = n
        .checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))?;
    if v == 0 {
        return Err("a size of 0 bytes".into());
    }
    Ok(v)
}

/// What the export does, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub topic: String,
    pub format: Format,
    pub compression: Compression,
    pub max_file_bytes: u64,
    pub binary: bool,
    pub batch_rows: usize,
}

impl ExportArgs {
    /// The checked settings (usage errors, exit code 2).
    pub fn settings(&self) -> Result<Settings, UsageError> {
        let [topic] = self.common.topic.as_slice() else {
            return Err(UsageError(
                "export writes one topic per run (one manifest per topic): give --topic once"
                    .into(),
            ));
        };
        if self.from_manifest.is_some() && self.common.from != "earliest" {
            return Err(UsageError(
                "--from-manifest decides where each partition starts: drop --from".into(),
            ));
        }
        if self.binary && self.format != Format::Jsonl {
            return Err(UsageError("--binary applies to --format jsonl only".into()));
        }
        if self.batch_rows == 0 {
            return Err(UsageError("--batch-rows must be at least 1".into()));
        }
        let compression =
            Compression::parse(self.format, self.compression.as_deref()).map_err(UsageError)?;
        Ok(Settings {
            topic: topic.clone(),
            format: self.format,
            compression,
            max_file_bytes: self.max_file_bytes,
            binary: self.binary,
            batch_rows: self.batch_rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("128MiB", Some(128 << 20)),
            ("64M", Some(64 << 20)),
            ("500k", Some(500 << 10)),
            ("1G", Some(1 << 30)),
            ("4096", Some(4096)),
            ("0", None),
            ("12 parsecs", None),
            ("MiB", None),
            ("99999999999999G", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).ok(), *want, "{text}");
        }
    }

    #[test]
    fn compression_defaults_and_choices() {
        use Compression::Zstd;
        use Format::*;
        let plain = Compression::None;
        let cases: &[(Format, Option<&str>, Result<Compression, &str>)] = &[
            (Parquet, None, Ok(Zstd(3))),
            (Arrow, None, Ok(plain)),
            (Jsonl, None, Ok(plain)),
            (Parquet, Some("none"), Ok(plain)),
            (Parquet, Some("zstd:9"), Ok(Zstd(9))),
            (Arrow, Some("zstd"), Ok(Zstd(3))),
            (Parquet, Some("zstd:23"), Err("not in 1..=22")),
            (Parquet, Some("snappy"), Err("expected zstd")),
            (Jsonl, Some("zstd"), Err("uncompressed")),
        ];
        for (format, text, want) in cases {
            match (Compression::parse(*format, *text), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, *w, "{format:?} {text:?}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{format:?} {text:?}: {e}"),
                (got, w) => panic!("{format:?} {text:?}: got {got:?}, want {w:?}"),
            }
        }
    }
}
