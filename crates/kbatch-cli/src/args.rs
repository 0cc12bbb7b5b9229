//! Flags, and how they map onto the library's `Config` and `ReadSpec`.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kbatch_reader::{Bound, Config, Isolation, Position, ReadSpec};

/// A usage error found after clap parsing (bad SPEC, `--top 0`): exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Bounded, exact reads of Kafka topics: offsets, counts, dumps and the trending job.
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
    },
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
    },
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
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Bootstrap brokers, comma-separated host:port.
    #[arg(long, env = "KBATCH_BOOTSTRAP", default_value = "localhost:9092")]
    pub bootstrap: String,
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
    /// Isolation level.
    #[arg(long, value_enum, default_value_t = IsolationArg::ReadCommitted)]
    pub isolation: IsolationArg,
    /// Bounds connecting and each request's retries (e.g. 30s, 500ms, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Decode worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Fetch max_bytes per response.
    #[arg(long, default_value_t = Config::default().fetch_max_bytes)]
    pub fetch_max_bytes: i32,
    /// Fetch partition_max_bytes.
    #[arg(long, default_value_t = Config::default().partition_max_bytes)]
    pub partition_max_bytes: i32,
    /// Fetched chunks queued per decode worker (back-pressure; bounds memory).
    #[arg(long, default_value_t = Config::default().engine.channel_capacity)]
    pub channel_depth: usize,
    /// Largest decompressed batch accepted, in bytes.
    #[arg(long, default_value_t = Config::default().engine.decompress_cap)]
    pub decompress_cap: usize,
}

impl CommonArgs {
    /// The library configuration these flags describe.
    pub fn config(&self) -> Result<Config, UsageError> {
        let bootstrap: Vec<String> = self
            .bootstrap
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if bootstrap.is_empty() {
            return Err(UsageError("--bootstrap is empty".into()));
        }
        let mut config = Config {
            bootstrap,
            timeout: self.timeout,
            isolation: match self.isolation {
                IsolationArg::ReadCommitted => Isolation::ReadCommitted,
                IsolationArg::ReadUncommitted => Isolation::ReadUncommitted,
            },
            fetch_max_bytes: self.fetch_max_bytes,
            partition_max_bytes: self.partition_max_bytes,
            ..Config::default()
        };
        config.frame_limit = config
            .frame_limit
            .max(self.fetch_max_bytes.max(0) as usize + (4 << 20));
        config.engine.threads = self.threads;
        config.engine.channel_capacity = self.channel_depth.max(1);
        config.engine.decompress_cap = self.decompress_cap;
        Ok(config)
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
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    Ok(match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("bad duration unit in {s:?} (use ms, s, m, h)")),
    })
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
        let config = common.config().unwrap();
        assert_eq!(config.bootstrap, vec!["a:1", "b:2"]);
        assert_eq!(config.engine.threads, 3);
        assert_eq!(config.isolation, Isolation::ReadUncommitted);
        let spec = common.spec().unwrap();
        assert!(matches!(spec.from.default, Position::Timestamp(_)));
        assert_eq!(spec.to.position("t", 0), Position::Offset(5));
        assert_eq!(spec.to.position("t", 1), Position::Latest);
    }
}
