//! What an export is asked to do ([`ExportOptions`]), and the pure checks that turn it into
//! the [`Settings`] a run follows. Front ends map their flags or keyword arguments onto
//! [`ExportOptions`]; every rule about them (defaults, codec spellings, exclusions) is here.

use kbatch_reader::{Bound, Position, ReadSpec};

use crate::ExportError;

/// Rows per Arrow record batch (and most rows per Parquet row group) unless told otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 65536;

/// Size at which a partition's file is cut unless told otherwise (128 MiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 128 << 20;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// Apache Parquet, Spark's Kafka schema.
    #[default]
    Parquet,
    /// Arrow IPC file format (Feather v2), Spark's Kafka schema.
    Arrow,
    /// `kbatch dump`'s JSON lines.
    Jsonl,
}

impl Format {
    /// Every format, in the order usage messages list them.
    pub const ALL: [Format; 3] = [Format::Parquet, Format::Arrow, Format::Jsonl];

    /// File name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Arrow => "arrow",
            Format::Jsonl => "jsonl",
        }
    }

    /// Name in the manifest (and as front ends spell it).
    pub fn name(self) -> &'static str {
        self.extension()
    }

    /// The format called `name` (`parquet`, `arrow`, `jsonl`).
    pub fn parse(name: &str) -> Result<Format, ExportError> {
        let name = name.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                ExportError::usage(
                    "format",
                    format!("expected parquet, arrow or jsonl, got {name:?}"),
                )
            })
    }
}

/// A file codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Uncompressed.
    None,
    /// Snappy (Parquet only): Spark's default for Parquet.
    Snappy,
    /// LZ4 without framing (Parquet's `LZ4_RAW`; Parquet only).
    Lz4Raw,
    /// zstd at this level (1..=22).
    Zstd(i32),
    /// gzip at this level (0..=9; Parquet only).
    Gzip(u32),
}

/// zstd's level when none is given (the zstd tool's default).
const ZSTD_LEVEL: i32 = 3;
/// gzip's level when none is given (zlib's default).
const GZIP_LEVEL: u32 = 6;
/// The spellings usage errors list.
const SPELLINGS: &str = "snappy, lz4_raw, zstd, zstd:LEVEL (1-22), gzip, gzip:LEVEL (0-9) or none";

impl Compression {
    /// The codec `text` names for `format`, or the format's default when `None`: zstd (level
    /// 3) for Parquet, none for Arrow IPC and JSON lines. Arrow IPC takes zstd or none (the
    /// IPC format has no other codec the Arrow writer offers), JSON lines only none (readers
    /// of JSON lines expect text).
    pub fn parse(format: Format, text: Option<&str>) -> Result<Compression, ExportError> {
        let bad = |why: String| ExportError::usage("compression", why);
        let c = match text.map(|t| t.trim().to_ascii_lowercase()) {
            None => match format {
                Format::Parquet => Compression::Zstd(ZSTD_LEVEL),
                Format::Arrow | Format::Jsonl => Compression::None,
            },
            Some(t) => {
                let (name, level) = match t.split_once(':') {
                    Some((name, level)) => (name, Some(level)),
                    None => (t.as_str(), None),
                };
                let level_of = |range: std::ops::RangeInclusive<i64>| -> Result<i64, ExportError> {
                    let Some(l) = level else { return Ok(-1) };
                    let n: i64 = l
                        .trim()
                        .parse()
                        .map_err(|_| bad(format!("{name} level {l:?} is not a number")))?;
                    if !range.contains(&n) {
                        return Err(bad(format!(
                            "{name} level {n} is not in {}..={}",
                            range.start(),
                            range.end()
                        )));
                    }
                    Ok(n)
                };
                match name {
                    "none" | "uncompressed" if level.is_none() => Compression::None,
                    "snappy" if level.is_none() => Compression::Snappy,
                    "lz4_raw" if level.is_none() => Compression::Lz4Raw,
                    "zstd" => match level_of(1..=22)? {
                        -1 => Compression::Zstd(ZSTD_LEVEL),
                        // In 1..=22: fits.
                        n => Compression::Zstd(n as i32),
                    },
                    "gzip" => match level_of(0..=9)? {
                        -1 => Compression::Gzip(GZIP_LEVEL),
                        n => Compression::Gzip(n as u32),
                    },
                    _ => return Err(bad(format!("expected {SPELLINGS}, got {t:?}"))),
                }
            }
        };
        match (format, c) {
            (Format::Jsonl, Compression::None) => Ok(c),
            (Format::Jsonl, _) => Err(bad("jsonl files are written uncompressed".into())),
            (Format::Arrow, Compression::None | Compression::Zstd(_)) => Ok(c),
            (Format::Arrow, _) => Err(bad(format!(
                "Arrow IPC files take zstd, zstd:LEVEL or none, not {}",
                c.name()
            ))),
            (Format::Parquet, _) => Ok(c),
        }
    }

    /// Name in the manifest: `none`, `snappy`, `lz4_raw`, `zstd(3)`, `gzip(6)`.
    pub fn name(self) -> String {
        match self {
            Compression::None => "none".into(),
            Compression::Snappy => "snappy".into(),
            Compression::Lz4Raw => "lz4_raw".into(),
            Compression::Zstd(l) => format!("zstd({l})"),
            Compression::Gzip(l) => format!("gzip({l})"),
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

/// What an export writes and where: everything but the connection ([`kbatch_reader::Config`])
/// and the range ([`ReadSpec`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// A local directory (created if missing) or an object-store URL (`s3://bucket/prefix`).
    pub output: String,
    /// File format.
    pub format: Format,
    /// Codec as text ([`Compression::parse`]); `None`: the format's default.
    pub compression: Option<String>,
    /// Start a new file of the partition once this much output is written; a file can
    /// exceed it by one slice of rows.
    pub max_file_bytes: u64,
    /// Start each partition where this previous export's `_manifest.json` ended
    /// (incremental exports); partitions created since start at earliest. Excludes a
    /// `from` bound other than earliest in the spec.
    pub from_manifest: Option<String>,
    /// jsonl: keys and values as base64 instead of UTF-8 text (as `dump --binary`).
    pub binary: bool,
    /// Rows per Arrow record batch (and most rows per Parquet row group).
    pub batch_rows: usize,
    /// Encoder threads (0: one per core this process may run on).
    pub threads: usize,
}

impl ExportOptions {
    /// Options writing Parquet (zstd level 3) to `output`, every other setting its default.
    pub fn new(output: impl Into<String>) -> ExportOptions {
        ExportOptions {
            output: output.into(),
            format: Format::Parquet,
            compression: None,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            from_manifest: None,
            binary: false,
            batch_rows: DEFAULT_BATCH_ROWS,
            threads: 0,
        }
    }

    /// The checked settings of exporting `spec` with these options (usage errors).
    pub fn settings(&self, spec: &ReadSpec) -> Result<Settings, ExportError> {
        let [topic] = spec.topics.as_slice() else {
            return Err(ExportError::usage(
                "topic",
                "export writes one topic per run (one manifest per topic): give one topic",
            ));
        };
        if self.from_manifest.is_some() && spec.from != Bound::all(Position::Earliest) {
            return Err(ExportError::usage(
                "from_manifest",
                "the manifest decides where each partition starts: give no start bound",
            ));
        }
        if self.binary && self.format != Format::Jsonl {
            return Err(ExportError::usage(
                "binary",
                "applies to the jsonl format only",
            ));
        }
        if self.batch_rows == 0 {
            return Err(ExportError::usage("batch_rows", "must be at least 1"));
        }
        if self.max_file_bytes == 0 {
            return Err(ExportError::usage("max_file_bytes", "must be at least 1"));
        }
        let compression = Compression::parse(self.format, self.compression.as_deref())?;
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

/// What the export does, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The one topic.
    pub topic: String,
    /// File format.
    pub format: Format,
    /// Codec.
    pub compression: Compression,
    /// Where a file is cut.
    pub max_file_bytes: u64,
    /// jsonl: base64 keys and values.
    pub binary: bool,
    /// Rows per batch and most rows per row group.
    pub batch_rows: usize,
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
        use Compression::{Gzip, Lz4Raw, Snappy, Zstd};
        use Format::*;
        let plain = Compression::None;
        let cases: &[(Format, Option<&str>, Result<Compression, &str>)] = &[
            (Parquet, None, Ok(Zstd(3))),
            (Arrow, None, Ok(plain)),
            (Jsonl, None, Ok(plain)),
            (Parquet, Some("none"), Ok(plain)),
            (Parquet, Some("uncompressed"), Ok(plain)),
            (Parquet, Some("zstd"), Ok(Zstd(3))),
            (Parquet, Some("zstd:9"), Ok(Zstd(9))),
            (Parquet, Some(" ZSTD:1 "), Ok(Zstd(1))),
            (Parquet, Some("snappy"), Ok(Snappy)),
            (Parquet, Some("lz4_raw"), Ok(Lz4Raw)),
            (Parquet, Some("lz4"), Err("expected snappy")),
            (Parquet, Some("gzip"), Ok(Gzip(6))),
            (Parquet, Some("gzip:0"), Ok(Gzip(0))),
            (Parquet, Some("gzip:9"), Ok(Gzip(9))),
            (Arrow, Some("zstd"), Ok(Zstd(3))),
            (Arrow, Some("none"), Ok(plain)),
            (Parquet, Some("zstd:23"), Err("zstd level 23 is not in 1..=22")),
            (Parquet, Some("zstd:0"), Err("not in 1..=22")),
            (Parquet, Some("zstd:x"), Err("not a number")),
            (Parquet, Some("gzip:10"), Err("gzip level 10 is not in 0..=9")),
            (Parquet, Some("snappy:3"), Err("expected snappy, lz4_raw, zstd")),
            (Parquet, Some("brotli"), Err("expected snappy, lz4_raw, zstd, zstd:LEVEL (1-22), gzip, gzip:LEVEL (0-9) or none, got \"brotli\"")),
            (Parquet, Some(""), Err("expected snappy")),
            (Arrow, Some("snappy"), Err("take zstd, zstd:LEVEL or none, not snappy")),
            (Jsonl, Some("zstd"), Err("uncompressed")),
        ];
        for (format, text, want) in cases {
            match (Compression::parse(*format, *text), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, *w, "{format:?} {text:?}"),
                (Err(e), Err(w)) => {
                    assert_eq!(e.kind(), kbatch_reader::ErrorKind::Usage);
                    let e = e.to_string();
                    assert!(e.starts_with("compression: "), "{e}");
                    assert!(e.contains(w), "{format:?} {text:?}: {e}");
                }
                (got, w) => panic!("{format:?} {text:?}: got {got:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn manifest_names_of_codecs() {
        let table = [
            (Compression::None, "none"),
            (Compression::Snappy, "snappy"),
            (Compression::Lz4Raw, "lz4_raw"),
            (Compression::Zstd(3), "zstd(3)"),
            (Compression::Gzip(6), "gzip(6)"),
        ];
        for (c, name) in table {
            assert_eq!(c.name(), name);
        }
    }

    #[test]
    fn formats_parse_by_name() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()).unwrap(), f);
        }
        assert_eq!(Format::parse(" Parquet ").unwrap(), Format::Parquet);
        let e = Format::parse("csv").unwrap_err().to_string();
        assert_eq!(e, "format: expected parquet, arrow or jsonl, got \"csv\"");
    }

    #[test]
    fn settings_refuse_what_cannot_be_exported() {
        let spec = |topics: &[&str]| ReadSpec::topics(topics.iter().copied());
        let ok = ExportOptions::new("out");
        assert_eq!(
            ok.settings(&spec(&["t"])).unwrap().compression,
            Compression::Zstd(3)
        );
        type Edit = fn(&mut ExportOptions, &mut ReadSpec);
        let cases: [(Edit, &str); 6] = [
            (
                |_, s| s.topics.push("u".into()),
                "topic: export writes one topic",
            ),
            (|_, s| s.topics.clear(), "topic: export writes one topic"),
            (
                |o, s| {
                    o.from_manifest = Some("m".into());
                    s.from = Bound::all(Position::Offset(3));
                },
                "from_manifest: ",
            ),
            (|o, _| o.binary = true, "binary: applies to the jsonl"),
            (|o, _| o.batch_rows = 0, "batch_rows: must be at least 1"),
            (
                |o, _| o.compression = Some("lzo".into()),
                "compression: expected",
            ),
        ];
        for (edit, want) in cases {
            let (mut o, mut s) = (ok.clone(), spec(&["t"]));
            edit(&mut o, &mut s);
            let e = o.settings(&s).unwrap_err().to_string();
            assert!(e.starts_with(want), "{want}: {e}");
        }
        // A manifest with the default start is fine.
        let mut o = ok.clone();
        o.from_manifest = Some("m".into());
        assert!(o.settings(&spec(&["t"])).is_ok());
    }
}
