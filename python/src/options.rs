//! What a Python call asks for, as the library's `Config` and `ReadSpec`: the keyword
//! arguments are handed to the library's configuration builder (`ClientConfig::builder`),
//! which owns the precedence and the checks the CLI's flags get too, so a keyword argument
//! means what its flag means. Pure policy: no Python objects.

use kbatch_reader::{Bound, ClientConfig, InputNames, Position, ReadSpec};

/// A usage error: a bad keyword value (raised as `kbatch.UsageError`); the library's one
/// usage error type.
pub use kbatch_reader::UsageError;

/// How usage errors name the keyword arguments.
const NAMES: InputNames = InputNames {
    file: "config",
    property: "config",
    properties: "config",
    bootstrap: "bootstrap",
    isolation: "isolation",
    fetch_max_bytes: "config fetch.max.bytes",
    partition_max_bytes: "config max.partition.fetch.bytes",
};

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
    /// order, then `bootstrap=` and `isolation=` (as the CLI's `-X` and explicit flags; a
    /// `config` isolation.level that contradicts `isolation=` is refused, since the keyword
    /// always has a value). Also the keys that were ignored (known to Kafka clients,
    /// meaningless to a bounded read), for one warning, and the security warnings.
    pub fn config(&self) -> Result<ClientConfig, UsageError> {
        let mut b = ClientConfig::builder()
            .names(NAMES)
            .env(|k| std::env::var(k).ok())
            .properties(self.config.iter().cloned())
            .isolation_keyword(self.isolation.as_str());
        if let Some(bootstrap) = &self.bootstrap {
            b = b.bootstrap(bootstrap);
        }
        b.build()
    }

    /// The read between `start` and `end` (SPEC strings: the Python layer turned ints,
    /// datetimes and Spark's offsets dicts into SPEC text).
    pub fn spec(&self, start: &str, end: &str) -> Result<ReadSpec, UsageError> {
        let from = Bound::parse(start, Position::Earliest)
            .map_err(|e| UsageError(format!("start: {e}")))?;
        let to =
            Bound::parse(end, Position::Latest).map_err(|e| UsageError(format!("end: {e}")))?;
        if self.topics.is_empty() {
            return Err(UsageError("no topic given".into()));
        }
        Ok(ReadSpec {
            topics: self.topics.clone(),
            partitions: self.partitions.clone(),
            from,
            to,
        })
    }
}
