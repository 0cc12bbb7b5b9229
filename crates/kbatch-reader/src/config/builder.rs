//! [`ClientConfig::builder`]: every front end's inputs (the environment, a properties file,
//! client keys, explicit flags or keywords) turned into one checked [`Config`], with one
//! precedence, one set of checks and one wording of usage errors. The CLI and the Python
//! module only hand their inputs over; what they print stays theirs.
//!
//! Precedence, lowest first, whatever order the builder's methods were called in:
//!
//! 1. the defaults ([`Config::default`]);
//! 2. `$KBATCH_BOOTSTRAP` ([`BOOTSTRAP_ENV`]), if not blank;
//! 3. the properties file's keys, in file order;
//! 4. the other client keys, in the order given (the last value of a key wins);
//! 5. the explicit settings (`bootstrap`, `timeout`, `isolation`, fetch sizes, engine).
//!
//! Then the frame limit is raised to hold the largest Fetch response
//! ([`Config::fit_frame_limit`]) and [`Config::check`] refuses what cannot work, so a mistake
//! is a usage error before anything connects.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use kbatch_records::Isolation;

use super::{parse_properties, Config, SchemaRegistryConfig, SecurityWarning};

/// The environment variable whose value, if not blank, is the bootstrap list below every key
/// and flag.
pub const BOOTSTRAP_ENV: &str = "KBATCH_BOOTSTRAP";

/// Keys with this prefix are not Kafka's: they are kept apart, for a Schema Registry client
/// ([`ClientConfig::schema_registry`]), instead of being refused as unknown.
pub const SCHEMA_REGISTRY_PREFIX: &str = "schema.registry.";

/// A usage error: an input that cannot be used, named as the user wrote it (the CLI exits 2,
/// Python raises `kbatch.UsageError`). The one usage error type of every front end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// How a front end spells its inputs, so that usage errors name what the user wrote.
/// [`InputNames::default`] is the CLI's spelling (which [`Config::check`]'s messages use too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputNames {
    /// The properties file (`--config`).
    pub file: &'static str,
    /// One `key=value` argument (`-X`).
    pub property: &'static str,
    /// The client keys together, file and arguments (`--config/-X`; Python's `config`).
    pub properties: &'static str,
    /// The explicit bootstrap list (`--bootstrap`).
    pub bootstrap: &'static str,
    /// The explicit isolation level (`--isolation`).
    pub isolation: &'static str,
    /// The explicit Fetch `max_bytes` (`--fetch-max-bytes`).
    pub fetch_max_bytes: &'static str,
    /// The explicit Fetch `partition_max_bytes` (`--partition-max-bytes`).
    pub partition_max_bytes: &'static str,
}

impl Default for InputNames {
    fn default() -> Self {
        InputNames {
            file: "--config",
            property: "-X",
            properties: "--config/-X",
            bootstrap: "--bootstrap",
            isolation: "--isolation",
            fetch_max_bytes: "--fetch-max-bytes",
            partition_max_bytes: "--partition-max-bytes",
        }
    }
}

/// An isolation level as given: a value, or a name still to parse.
#[derive(Debug, Clone)]
enum IsolationInput {
    Level(Isolation),
    Name(String),
}

/// A configuration built from a front end's inputs (see [`ClientConfig::builder`]).
#[derive(Clone)]
pub struct ClientConfig {
    /// The checked configuration to read with.
    pub config: Config,
    /// Keys the Kafka clients know that mean nothing to a bounded read, in first-seen order;
    /// front ends warn once, naming them.
    pub ignored: Vec<String>,
    /// The risky settings of `config` ([`Config::security_warnings`]); front ends show each
    /// once per run.
    pub warnings: Vec<SecurityWarning>,
    /// The Schema Registry, from the `schema.registry.*` keys.
    schema_registry: Option<SchemaRegistryConfig>,
}

impl ClientConfig {
    /// A builder with nothing set: [`ClientConfigBuilder::build`] then gives
    /// [`Config::default`].
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder::default()
    }

    /// The Schema Registry configured by the `schema.registry.*` keys (checked; `None` when
    /// none is given). Kafka's configuration never sees them; `Debug` shows no secret.
    pub fn schema_registry(&self) -> Option<&SchemaRegistryConfig> {
        self.schema_registry.as_ref()
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("config", &self.config)
            .field("ignored", &self.ignored)
            .field("warnings", &self.warnings)
            .field("schema_registry", &self.schema_registry)
            .finish()
    }
}

/// The inputs of one [`ClientConfig`]; setters never fail, [`build`](Self::build) checks.
#[derive(Debug, Clone, Default)]
pub struct ClientConfigBuilder {
    names: InputNames,
    env_bootstrap: Option<String>,
    file: Option<PathBuf>,
    /// Client keys in order; `Err` holds a `key=value` argument without `=`.
    properties: Vec<Result<(String, String), String>>,
    bootstrap: Option<String>,
    timeout: Option<Duration>,
    isolation: Option<IsolationInput>,
    isolation_refuses_keys: bool,
    fetch_max_bytes: Option<i32>,
    partition_max_bytes: Option<i32>,
    threads: Option<usize>,
    channel_depth: Option<usize>,
    decompress_cap: Option<usize>,
}

impl ClientConfigBuilder {
    /// How usage errors name the inputs (default: the CLI's flags).
    pub fn names(mut self, names: InputNames) -> Self {
        self.names = names;
        self
    }

    /// Read the environment through `lookup` (`|k| std::env::var(k).ok()` for the process's):
    /// `$KBATCH_BOOTSTRAP` ([`BOOTSTRAP_ENV`]), if not blank, is the lowest-precedence
    /// bootstrap list.
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        self.env_bootstrap = lookup(BOOTSTRAP_ENV).filter(|b| !b.trim().is_empty());
        self
    }

    /// A `.properties` file of client keys (the Java tools' `--command-config`), applied
    /// below every other key; read by [`build`](Self::build).
    pub fn properties_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// One client key (librdkafka's or the Java client's name), after the file's and the
    /// keys given before it.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push(Ok((key.into(), value.into())));
        self
    }

    /// Client keys, in order (see [`property`](Self::property)).
    pub fn properties<K, V>(mut self, pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in pairs {
            self = self.property(k, v);
        }
        self
    }

    /// One `key=value` argument as kcat and librdkafka take it (the CLI's `-X`); one without
    /// `=` is a usage error.
    pub fn property_arg(mut self, arg: &str) -> Self {
        self.properties.push(match arg.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
            None => Err(arg.to_string()),
        });
        self
    }

    /// Explicit bootstrap addresses, comma-separated `host:port`s: above every key.
    pub fn bootstrap(mut self, list: impl Into<String>) -> Self {
        self.bootstrap = Some(list.into());
        self
    }

    /// The explicit no-progress budget ([`Config::timeout`]): above `request.timeout.ms`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// An explicit isolation level: above `isolation.level`.
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = Some(IsolationInput::Level(isolation));
        self.isolation_refuses_keys = false;
        self
    }

    /// An isolation level by name (`read_committed` or `read_uncommitted`) that the front end
    /// always passes, its default included (Python's `isolation=` keyword). It applies, but an
    /// `isolation.level` key that says otherwise is a usage error: it would otherwise be
    /// overruled by a value the caller may never have written.
    pub fn isolation_keyword(mut self, name: impl Into<String>) -> Self {
        self.isolation = Some(IsolationInput::Name(name.into()));
        self.isolation_refuses_keys = true;
        self
    }

    /// The explicit Fetch `max_bytes` (1 to `i32::MAX`): above `fetch.max.bytes`.
    pub fn fetch_max_bytes(mut self, bytes: i32) -> Self {
        self.fetch_max_bytes = Some(bytes);
        self
    }

    /// The explicit Fetch `partition_max_bytes` (1 to `i32::MAX`): above
    /// `max.partition.fetch.bytes`.
    pub fn partition_max_bytes(mut self, bytes: i32) -> Self {
        self.partition_max_bytes = Some(bytes);
        self
    }

    /// Decode worker threads (0: one per core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Fetched chunks queued per decode worker (at least 1).
    pub fn channel_depth(mut self, depth: usize) -> Self {
        self.channel_depth = Some(depth);
        self
    }

    /// Largest decompressed batch accepted, in bytes.
    pub fn decompress_cap(mut self, bytes: usize) -> Self {
        self.decompress_cap = Some(bytes);
        self
    }

    /// The checked configuration, the ignored keys, the security warnings and the
    /// `schema.registry.*` keys; or the first usage error, naming its input.
    pub fn build(self) -> Result<ClientConfig, UsageError> {
        let names = self.names;
        let mut config = Config::default();
        if let Some(b) = &self.env_bootstrap {
            config.bootstrap = split_bootstrap(b);
        }
        let mut pairs = Vec::new();
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                UsageError(format!(
                    "{}: cannot read {}: {e}",
                    names.file,
                    path.display()
                ))
            })?;
            pairs.extend(
                parse_properties(&text)
                    .map_err(|e| UsageError(format!("{} {}: {e}", names.file, path.display())))?,
            );
        }
        for p in self.properties {
            match p {
                Ok(pair) => pairs.push(pair),
                Err(arg) => {
                    // Only the text before a `:` is quoted: the rest may be a secret.
                    return Err(UsageError(format!(
                        "{} expects key=value, got {:?}",
                        names.property,
                        arg.split(':').next().unwrap_or_default()
                    )));
                }
            }
        }
        let keyed_isolation = pairs.iter().any(|(k, _)| k.trim() == "isolation.level");
        let mut schema_registry = BTreeMap::new();
        let kafka: Vec<(String, String)> = pairs
            .into_iter()
            .filter_map(|(k, v)| {
                if k.trim().starts_with(SCHEMA_REGISTRY_PREFIX) {
                    schema_registry.insert(k.trim().to_string(), v);
                    None
                } else {
                    Some((k, v))
                }
            })
            .collect();
        let applied = config
            .apply_properties(kafka)
            .map_err(|e| UsageError(format!("{}: {e}", names.properties)))?;
        if let Some(b) = &self.bootstrap {
            config.bootstrap = split_bootstrap(b);
        }
        if config.bootstrap.is_empty() {
            return Err(UsageError(format!("{} is empty", names.bootstrap)));
        }
        if let Some(t) = self.timeout {
            config.timeout = t;
        }
        if let Some(i) = self.isolation {
            let isolation = match i {
                IsolationInput::Level(level) => level,
                IsolationInput::Name(name) => parse_isolation(&name).ok_or_else(|| {
                    UsageError(format!(
                        "{}={name:?}: expected \"read_committed\" or \"read_uncommitted\"",
                        names.isolation
                    ))
                })?,
            };
            if self.isolation_refuses_keys && keyed_isolation && config.isolation != isolation {
                return Err(UsageError(format!(
                    "{} isolation.level contradicts {}={:?}: pass {}= only",
                    names.properties,
                    names.isolation,
                    isolation_name(isolation),
                    names.isolation
                )));
            }
            config.isolation = isolation;
        }
        if let Some(f) = self.fetch_max_bytes {
            config.fetch_max_bytes = positive(names.fetch_max_bytes, f)?;
        }
        if let Some(p) = self.partition_max_bytes {
            config.partition_max_bytes = positive(names.partition_max_bytes, p)?;
        }
        config.fit_frame_limit();
        if let Some(t) = self.threads {
            config.engine.threads = t;
        }
        if let Some(d) = self.channel_depth {
            config.engine.channel_capacity = d.max(1);
        }
        if let Some(c) = self.decompress_cap {
            config.engine.decompress_cap = c;
        }
        config.check().map_err(|e| UsageError(e.to_string()))?;
        let schema_registry = super::registry::from_keys(&schema_registry)
            .map_err(|e| UsageError(format!("{}: {e}", names.properties)))?;
        let warnings = config.security_warnings();
        Ok(ClientConfig {
            config,
            ignored: applied.ignored,
            warnings,
            schema_registry,
        })
    }
}

fn parse_isolation(name: &str) -> Option<Isolation> {
    match name {
        "read_committed" => Some(Isolation::ReadCommitted),
        "read_uncommitted" => Some(Isolation::ReadUncommitted),
        _ => None,
    }
}

fn isolation_name(i: Isolation) -> &'static str {
    match i {
        Isolation::ReadCommitted => "read_committed",
        Isolation::ReadUncommitted => "read_uncommitted",
    }
}

fn positive(name: &str, n: i32) -> Result<i32, UsageError> {
    if n > 0 {
        Ok(n)
    } else {
        Err(UsageError(format!(
            "{name}: expected a number of bytes from 1 to {}, got {n}",
            i32::MAX
        )))
    }
}

/// A comma-separated bootstrap list, blanks dropped.
pub(crate) fn split_bootstrap(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
