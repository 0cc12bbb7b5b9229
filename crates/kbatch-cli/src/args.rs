//! Flags, and how they map onto the library's `Config` and `ReadSpec`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kbatch_reader::{Bound, ClientConfig, Config, Isolation, Position, ReadSpec};

/// A usage error found after clap parsing (bad SPEC, `--top 0`): exit code 2. The library's
/// one usage error type, which its configuration builder returns too.
pub use kbatch_reader::UsageError;

/// Bounded, exact reads of Kafka topics: offsets, counts, dumps, exports and the trending job.
#[derive(Debug, Parser)]
#[command(name = "kbatch", version, about)]
pub struct Cli {
    /// More logs on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Leader, earliest, latest (high watermark) and last stable offset of each partition.
    Offsets(CommonArgs),
    /// Decode every record in range and count them per partition (JSON on stdout).
    Count(CommonArgs),
    /// One JSON line per data record, in offset order per partition.
    Dump {
        #[command(flatten)]
        common: CommonArgs,
        /// Keys and values as base64 instead of UTF-8 text.
        #[arg(long)]
        binary: bool,
        #[command(flatten)]
        formats: FormatArgs,
    },
    /// Write the read as Parquet, Arrow IPC or JSON-lines files (a directory or s3://), one
    /// or more per partition range, then `_manifest.json`.
    Export(crate::export::ExportArgs),
    /// Views per (category, product) and the top products of every category.
    Trending {
        #[command(flatten)]
        common: CommonArgs,
        /// Keep products whose competition rank is at most N (ties at the cut are all kept).
        #[arg(long, default_value_t = 1)]
        top: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TrendingFormat::Table)]
        format: TrendingFormat,
        /// Fail (exit 1) at the first record that is not a valid event.
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        values: ValueFormatArg,
    },
    /// Rank what you name: items by a metric within groups (and time windows), over the
    /// events that pass every --where.
    Top(TopArgs),
}

/// `kbatch top`: the question as text; `kbatch_trending::TopSpec::parse` reads it.
#[derive(Debug, Args)]
pub struct TopArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Group paths, comma-separated: category, page.category, device.os.name, `tags[0]`,
    /// "a.b" for a key with a dot.
    #[arg(long, required = true, value_name = "PATH[,PATH…]")]
    pub group: String,
    /// The ranked item's path.
    #[arg(long, required = true, value_name = "PATH")]
    pub item: String,
    /// count, sum:PATH (exact), distinct:PATH (exact) or approx_distinct:PATH (HyperLogLog,
    /// about 0.8 % error).
    #[arg(long, default_value = "count")]
    pub metric: String,
    /// A filter, SQL comparison syntax (repeatable; all must hold): PATH = 'text', !=,
    /// PATH in ('a', 'b'), <, <=, >, >= on numbers, exists(PATH); key = 'x',
    /// header.NAME = 'x', partition in (0, 2), timestamp >= '2026-11-24T10:00:00Z' | @ms | -1h.
    #[arg(long = "where", value_name = "EXPR", allow_hyphen_values = true)]
    pub filters: Vec<String>,
    /// Tumbling windows by record timestamp, aligned to the epoch (e.g. 1h, 15m, 1d).
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,
    /// Keep items whose competition rank is at most N per (window, group), or all.
    #[arg(long, default_value = "1", value_name = "N|all")]
    pub top: String,
    /// Output format (csv: the report's columns with RFC 4180 quoting).
    #[arg(long, value_enum, default_value_t = TrendingFormat::Table)]
    pub format: TrendingFormat,
    /// Fail (exit 1) at the first record that is not a valid event.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub values: ValueFormatArg,
}

/// How the values a job reads fields of (`trending`, `top`) are written.
#[derive(Debug, Args)]
pub struct ValueFormatArg {
    /// raw: JSON events (the bytes as they are); avro, protobuf or json-schema:
    /// Confluent-framed values, schemas from the Schema Registry at -X schema.registry.url=...
    /// (paths name the decoded record's fields; a value that is not framed is invalid,
    /// `not_framed`).
    #[arg(long, default_value = "raw", value_parser = parse_format)]
    pub value_format: kbatch_schema::ValueFormat,
}

impl ValueFormatArg {
    /// The values' decoder (none for raw), with the registry keys of `built` (`-X`,
    /// `--config`).
    pub fn decoder(
        &self,
        built: &ClientConfig,
    ) -> Result<Option<kbatch_trending::ValueDecoder>, UsageError> {
        // A body that does not decode is a record's verdict (`undecodable`), so the decoder
        // reports it (the default `fail`) rather than nulling it.
        let formats = kbatch_schema::Formats {
            value: self.value_format,
            ..kbatch_schema::Formats::default()
        };
        let decoders =
            kbatch_schema::Decoders::new(formats, built.schema_registry(), built.config.timeout)
                .map_err(|e| UsageError(e.to_string()))?;
        Ok(decoders.value)
    }
}

/// How keys and values are decoded: `raw` bytes, or registry-framed (`avro`, `protobuf`,
/// `json-schema`) values decoded with schemas from `-X schema.registry.url=...`.
#[derive(Debug, Args)]
pub struct FormatArgs {
    /// How values are written: raw (the bytes), avro, protobuf or json-schema (Confluent-framed,
    /// schemas from the Schema Registry at -X schema.registry.url=...).
    #[arg(long, default_value = "raw", value_parser = parse_format)]
    pub value_format: kbatch_schema::ValueFormat,
    /// How keys are written (as --value-format).
    #[arg(long, default_value = "raw", value_parser = parse_format)]
    pub key_format: kbatch_schema::ValueFormat,
    /// A key or value that cannot be decoded (not framed, a body its schema does not read):
    /// fail naming topic, partition and offset, or print it as null and count it.
    #[arg(long, default_value = "fail", value_parser = parse_undecodable)]
    pub on_undecodable: kbatch_schema::OnUndecodable,
}

impl FormatArgs {
    /// The decoders these flags ask for, with the registry keys of `config` (`-X`,
    /// `--config`).
    pub fn decoders(&self, built: &ClientConfig) -> Result<kbatch_schema::Decoders, UsageError> {
        let formats = kbatch_schema::Formats {
            key: self.key_format,
            value: self.value_format,
            on_undecodable: self.on_undecodable,
        };
        kbatch_schema::Decoders::new(formats, built.schema_registry(), built.config.timeout)
            .map_err(|e| UsageError(e.to_string()))
    }
}

fn parse_format(s: &str) -> Result<kbatch_schema::ValueFormat, String> {
    s.parse()
}

fn parse_undecodable(s: &str) -> Result<kbatch_schema::OnUndecodable, String> {
    s.parse()
}

/// Output formats of `trending`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TrendingFormat {
    /// A bordered table like Spark's `show()`.
    Table,
    /// The full report as one JSON object.
    Json,
    /// `category,product,views,rank` with RFC 4180 quoting.
    Csv,
}

/// Isolation levels.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[allow(clippy::enum_variant_names)]
pub enum IsolationArg {
    /// Committed records only; ranges end at the last stable offset (default).
    #[value(name = "read_committed")]
    ReadCommitted,
    /// Every record, aborted transactions included; ranges end at the high watermark.
    #[value(name = "read_uncommitted")]
    ReadUncommitted,
}

/// Flags every subcommand shares.
///
/// Settings come from, lowest precedence first: `$KBATCH_BOOTSTRAP`, `--config FILE`, each
/// `-X key=value` in order, then the explicit flags (`--bootstrap`, `--isolation`,
/// `--timeout`, `--fetch-max-bytes`, `--partition-max-bytes`).
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Bootstrap brokers, comma-separated host:port [default: bootstrap.servers from --config
    /// or -X, else $KBATCH_BOOTSTRAP, else localhost:9092].
    #[arg(long)]
    pub bootstrap: Option<String>,
    /// A client property, as kcat and librdkafka take it (repeatable): security.protocol,
    /// sasl.mechanism, sasl.username, ssl.ca.location, … (Java client names too).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// A .properties file of client keys (like the Java tools' --command-config), applied
    /// before -X.
    #[arg(long = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Topic to read (repeatable).
    #[arg(long, required = true)]
    pub topic: Vec<String>,
    /// Only these partitions, comma-separated (e.g. 0,2).
    #[arg(long, value_delimiter = ',')]
    pub partitions: Option<Vec<i32>>,
    /// Where ranges start: earliest, latest, 1200, 0:17,2:100, @<ms or RFC 3339>, -24h, Spark JSON.
    #[arg(long, default_value = "earliest", allow_hyphen_values = true)]
    pub from: String,
    /// Where ranges end (exclusive); same grammar as --from.
    #[arg(long, default_value = "latest", allow_hyphen_values = true)]
    pub to: String,
    /// Isolation level [default: isolation.level, else read_committed].
    #[arg(long, value_enum)]
    pub isolation: Option<IsolationArg>,
    /// Bounds connecting and each request's retries (e.g. 30s, 500ms, 2m) [default:
    /// request.timeout.ms, else 30s].
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Decode worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Fetch max_bytes per response [default: fetch.max.bytes, else 8388608].
    #[arg(long)]
    pub fetch_max_bytes: Option<i32>,
    /// Fetch partition_max_bytes [default: max.partition.fetch.bytes, else 1048576].
    #[arg(long)]
    pub partition_max_bytes: Option<i32>,
    /// Fetched chunks queued per decode worker (back-pressure; bounds memory).
    #[arg(long, default_value_t = Config::default().engine.channel_capacity)]
    pub channel_depth: usize,
    /// Largest decompressed batch accepted, in bytes.
    #[arg(long, default_value_t = Config::default().engine.decompress_cap)]
    pub decompress_cap: usize,
}

impl CommonArgs {
    /// The library configuration these flags describe, and the keys that were ignored
    /// (known to Kafka clients, meaningless to a bounded read) for one warning line. Every
    /// flag is checked here, the SPECs too, so a mistake is a usage error before anything
    /// connects.
    pub fn config(&self) -> Result<(Config, Vec<String>), UsageError> {
        let built = self.client_config()?;
        Ok((built.config, built.ignored))
    }

    /// These flags handed to the library's configuration builder, which owns the precedence
    /// (`$KBATCH_BOOTSTRAP`, `--config`, `-X` in order, then the explicit flags) and the
    /// checks; the SPECs are checked first.
    pub fn client_config(&self) -> Result<ClientConfig, UsageError> {
        self.spec()?;
        let mut b = ClientConfig::builder().env(|k| std::env::var(k).ok());
        if let Some(path) = &self.config_file {
            b = b.properties_file(path);
        }
        for x in &self.property {
            b = b.property_arg(x);
        }
        if let Some(bootstrap) = &self.bootstrap {
            b = b.bootstrap(bootstrap);
        }
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        if let Some(i) = self.isolation {
            b = b.isolation(match i {
                IsolationArg::ReadCommitted => Isolation::ReadCommitted,
                IsolationArg::ReadUncommitted => Isolation::ReadUncommitted,
            });
        }
        if let Some(f) = self.fetch_max_bytes {
            b = b.fetch_max_bytes(f);
        }
        if let Some(p) = self.partition_max_bytes {
            b = b.partition_max_bytes(p);
        }
        b.threads(self.threads)
            .channel_depth(self.channel_depth)
            .decompress_cap(self.decompress_cap)
            .build()
    }

    /// The read these flags describe.
    pub fn spec(&self) -> Result<ReadSpec, UsageError> {
        let from = Bound::parse(&self.from, Position::Earliest)
            .map_err(|e| UsageError(format!("--from: {e}")))?;
        let to = Bound::parse(&self.to, Position::Latest)
            .map_err(|e| UsageError(format!("--to: {e}")))?;
        Ok(ReadSpec {
            topics: self.topic.clone(),
            partitions: self.partitions.clone(),
            from,
            to,
        })
    }
}

/// `30s`, `500ms`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: expected a number with ms, s, m or h"))?;
    let secs = |scale: u64| {
        n.checked_mul(scale)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("duration {s:?} is too large"))
    };
    match unit {
        "" | "s" => secs(1),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => secs(60),
        "h" => secs(3600),
        _ => Err(format!("bad duration unit in {s:?} (use ms, s, m, h)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("").is_err());
        // Edge values: no overflow, and zero parses (the configuration then refuses it).
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        let max = u64::MAX;
        assert_eq!(
            parse_duration(&format!("{max}")),
            Ok(Duration::from_secs(max))
        );
        assert_eq!(
            parse_duration(&format!("{max}ms")),
            Ok(Duration::from_millis(max))
        );
        for huge in [
            format!("{max}m"),
            format!("{max}h"),
            format!("{}h", max / 3600 + 1),
        ] {
            let e = parse_duration(&huge).unwrap_err();
            assert!(e.contains("too large"), "{huge}: {e}");
        }
        assert!(parse_duration(&format!("{max}0s")).is_err());
        assert!(parse_duration("-1s").is_err());
    }

    /// Every SPEC, duration and size is checked before anything connects: `config()` (what
    /// every subcommand calls first) refuses them as usage errors naming the flag.
    #[test]
    fn bad_values_are_usage_errors_before_connecting() {
        let rows: &[(&[&str], &str)] = &[
            (&["--from=-99999999999999d"], "--from: "),
            (&["--from=-9223372036854775807m"], "--from: "),
            (&["--to=@-2"], "--to: "),
            (&["--from", "0:1,0:2"], "--from: "),
            (&["--timeout", "0s"], "--timeout"),
            (&["--timeout", "1000000h"], "--timeout"),
            // Half of 1 s is fetch.max.wait.ms: every idle Fetch would time out.
            (&["--timeout", "1s"], "fetch.max.wait.ms"),
            (&["-X", "request.timeout.ms=1000"], "fetch.max.wait.ms"),
            (&["--fetch-max-bytes=-1"], "--fetch-max-bytes"),
            (&["--partition-max-bytes", "0"], "--partition-max-bytes"),
        ];
        for (args, needle) in rows {
            let e = common(args).config().unwrap_err();
            assert!(e.0.contains(needle), "{args:?}: {e}");
        }
        let (c, _) = common(&["--timeout", "2s"]).config().unwrap();
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert!(common(&["--timeout", "1001ms"]).config().is_ok());
    }

    #[test]
    fn flags_map_onto_config() {
        let cli = Cli::try_parse_from([
            "kbatch",
            "count",
            "--topic",
            "t",
            "--bootstrap",
            "a:1,b:2",
            "--threads",
            "3",
            "--isolation",
            "read_uncommitted",
            "--from=-24h",
            "--to",
            "0:5",
        ])
        .unwrap();
        let Command::Count(common) = cli.command else {
            panic!("count")
        };
        let config = common.config().unwrap().0;
        assert_eq!(config.bootstrap, vec!["a:1", "b:2"]);
        assert_eq!(config.engine.threads, 3);
        assert_eq!(config.isolation, Isolation::ReadUncommitted);
        let spec = common.spec().unwrap();
        assert!(matches!(spec.from.default, Position::Timestamp(_)));
        assert_eq!(spec.to.position("t", 0), Position::Offset(5));
        assert_eq!(spec.to.position("t", 1), Position::Latest);
    }

    fn common(args: &[&str]) -> CommonArgs {
        let mut argv = vec!["kbatch", "count", "--topic", "t"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Count(c) => c,
            _ => panic!("count"),
        }
    }

    /// `--config`, then `-X` in order, then explicit flags; the last value of a key wins.
    #[test]
    fn precedence_of_file_x_and_flags() {
        let dir = std::env::temp_dir().join(format!("kbatch-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client.properties");
        std::fs::write(
            &file,
            "bootstrap.servers=file:1\nclient.id=from-file\nrequest.timeout.ms=1500\ngroup.id=g\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let (c, ignored) = common(&["--config", f]).config().unwrap();
        assert_eq!(c.bootstrap, vec!["file:1"]);
        assert_eq!(c.client_id, "from-file");
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(ignored, vec!["group.id"]);
        let (c, _) = common(&[
            "--config",
            f,
            "-X",
            "bootstrap.servers=x:1",
            "-X",
            "bootstrap.servers=x:2",
            "-X",
            "isolation.level=read_uncommitted",
        ])
        .config()
        .unwrap();
        assert_eq!(c.bootstrap, vec!["x:2"]);
        assert_eq!(c.isolation, Isolation::ReadUncommitted);
        let (c, _) = common(&[
            "--config",
            f,
            "-X",
            "bootstrap.servers=x:1",
            "--bootstrap",
            "flag:1",
            "--timeout",
            "5s",
            "--isolation",
            "read_committed",
            "-X",
            "isolation.level=read_uncommitted",
        ])
        .config()
        .unwrap();
        assert_eq!(c.bootstrap, vec!["flag:1"]);
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.isolation, Isolation::ReadCommitted);
        let e = common(&["-X", "sasl.mechanizm=PLAIN"])
            .config()
            .unwrap_err();
        assert!(e.0.contains("did you mean sasl.mechanism?"), "{e}");
        let e = common(&["-X", "novalue"]).config().unwrap_err();
        assert!(e.0.contains("key=value"), "{e}");
        let e = common(&["--config", "/no/such/file"]).config().unwrap_err();
        assert!(e.0.contains("/no/such/file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
