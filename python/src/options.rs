//! What a Python call asks for, as the library's `Config` and `ReadSpec`: the same precedence
//! and the same checks as the CLI's flags (`crates/kbatch-cli/src/args.rs`), so a keyword
//! argument means what its flag means. Pure policy: no I/O, no Python objects.

use kbatch_reader::{Bound, Config, Isolation, Position, ReadSpec};

/// A usage error: a bad keyword value (raised as `kbatch.UsageError`).
#[derive(Debug)]
pub struct Usage(pub String);

/// The arguments every call shares, as the Python layer normalised them (a dict).
#[derive(pyo3::FromPyObject)]
#[pyo3(from_item_all)]
pub struct Common {
    /// Topic names.
    pub topics: Vec<String>,
    /// Only these partitions.
    pub partitions: Option<Vec<i32>>,
    /// `bootstrap=`, comma-separated `host:port`s.
    pub bootstrap: Option<String>,
    /// `config=` as `(key, value)` strings, in the dict's order.
    pub config: Vec<(String, String)>,
    /// `isolation=`.
    pub isolation: String,
}

impl Common {
    /// The configuration, lowest precedence first: `$KBATCH_BOOTSTRAP`, the `config` keys in
    /// order, then `bootstrap=` and `isolation=` (as the CLI's `-X` and explicit flags). Also
    /// returns the keys that were ignored (known to Kafka clients, meaningless to a bounded
    /// read), for one warning.
    pub fn config(&self) -> Result<(Config, Vec<String>), Usage> {
        let mut config = Config::default();
        let env = std::env::var("KBATCH_BOOTSTRAP").ok();
        if let Some(b) = env.filter(|b| !b.trim().is_empty()) {
            config.bootstrap = split_bootstrap(&b);
        }
        let applied = config
            .apply_properties(self.config.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| Usage(format!("config: {e}")))?;
        if let Some(b) = &self.bootstrap {
            config.bootstrap = split_bootstrap(b);
        }
        if config.bootstrap.is_empty() {
            return Err(Usage("bootstrap is empty".into()));
        }
        let isolation = match self.isolation.as_str() {
            "read_committed" => Isolation::ReadCommitted,
            "read_uncommitted" => Isolation::ReadUncommitted,
            other => {
                return Err(Usage(format!(
                    "isolation={other:?}: expected \"read_committed\" or \"read_uncommitted\""
                )))
            }
        };
        // The keyword has a default, so a config key that says otherwise would be silently
        // overruled by a value the caller never wrote: refuse the contradiction instead.
        let keyed = self
            .config
            .iter()
            .any(|(k, _)| k.trim() == "isolation.level");
        if keyed && config.isolation != isolation {
            return Err(Usage(format!(
                "config isolation.level contradicts isolation={:?}: pass isolation= only",
                self.isolation
            )));
        }
        config.isolation = isolation;
        // As the CLI: a larger fetch.max.bytes raises the frame limit with it.
        config.frame_limit = config
            .frame_limit
            .max(config.fetch_max_bytes.max(0) as usize + (4 << 20));
        Ok((config, applied.ignored))
    }

    /// The read between `start` and `end` (SPEC strings: the Python layer turned ints,
    /// datetimes and Spark's offsets dicts into SPEC text).
    pub fn spec(&self, start: &str, end: &str) -> Result<ReadSpec, Usage> {
        let from =
            Bound::parse(start, Position::Earliest).map_err(|e| Usage(format!("start: {e}")))?;
        let to = Bound::parse(end, Position::Latest).map_err(|e| Usage(format!("end: {e}")))?;
        if self.topics.is_empty() {
            return Err(Usage("no topic given".into()));
        }
        Ok(ReadSpec {
            topics: self.topics.clone(),
            partitions: self.partitions.clone(),
            from,
            to,
        })
    }
}

fn split_bootstrap(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}
