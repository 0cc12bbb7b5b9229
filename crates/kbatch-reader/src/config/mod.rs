//! The library's one configuration struct; every CLI flag maps onto a field, and so does every
//! client key Kafka users already write ([`Config::from_properties`]: librdkafka's names and
//! the Java client's `client.properties` names, side by side).
//!
//! * `builder`: [`ClientConfig::builder`], what front ends hand their inputs to: one
//!   precedence (environment, properties file, keys, explicit flags), one set of checks, one
//!   usage error;
//! * `keys`: which keys are honoured, which are known but irrelevant (a warning), and the
//!   typo suggestion for the rest;
//! * `properties`: the `.properties` file grammar;
//! * `registry`: the Schema Registry's `schema.registry.*` keys, checked and redacted;
//! * `jaas`: the `sasl.jaas.config` one-liner of Java clients;
//! * `warnings`: what a working configuration still exposes ([`Config::security_warnings`]).
//!
//! Values of secret keys (passwords, inline keys, client secrets) go straight into
//! [`Secret`]s and are never quoted in an error.

mod builder;
mod jaas;
mod keys;
mod properties;
mod registry;
mod warnings;

use std::collections::HashMap;
use std::time::Duration;

use kbatch_engine::EngineConfig;
use kbatch_records::Isolation;
use kbatch_wire::{
    CaSource, ClientIdentity, PemSource, Protocol, SaslSettings, ScramHash, Secret, Security,
    TlsSettings, TokenCache, WireConfig,
};

pub use builder::{
    ClientConfig, ClientConfigBuilder, InputNames, UsageError, BOOTSTRAP_ENV,
    SCHEMA_REGISTRY_PREFIX,
};
pub use properties::{parse_properties, PropertiesError};
pub use registry::{redact_url, SchemaRegistryConfig};
pub use warnings::SecurityWarning;

/// How to read. `Config::default()` is what the CLI uses without flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bootstrap addresses (`host:port`); the first that answers is used.
    pub bootstrap: Vec<String>,
    /// The no-progress budget: planning, or a partition, that makes no progress for this long
    /// fails, naming the partition, the broker and the last cause; progress restarts it
    /// (default 30 s; the client key `request.timeout.ms` sets it).
    pub timeout: Duration,
    /// read_committed (default, like librdkafka and the Java consumer) or read_uncommitted.
    pub isolation: Isolation,
    /// Fetch `max_bytes`: the most one Fetch response may carry (default 8 MiB). The fetch
    /// sizes bound memory together with `engine.channel_capacity` (the chunks that may wait per
    /// worker), so they are kept small: on loopback 1 MiB / 8 MiB reads as fast as
    /// 8 MiB / 32 MiB did, at about a third of the peak RSS (measured in `benches/`).
    pub fetch_max_bytes: i32,
    /// Fetch `partition_max_bytes` (default 1 MiB). A batch bigger than this is still returned
    /// whole (KIP-74).
    pub partition_max_bytes: i32,
    /// Fetch `max_wait_ms` (default 500).
    pub fetch_max_wait_ms: i32,
    /// Largest response frame accepted (default 100 MiB); must exceed `fetch_max_bytes`.
    pub frame_limit: usize,
    /// First retry backoff (default 100 ms; doubles up to `retry_backoff_max`, with jitter).
    pub retry_backoff: Duration,
    /// Longest retry backoff (default 1 s, as the Java client's and librdkafka's
    /// `retry.backoff.max.ms`).
    pub retry_backoff_max: Duration,
    /// Decode workers (0 = one per core), queued chunks per worker, decompression cap.
    pub engine: EngineConfig,
    /// Client id sent to brokers.
    pub client_id: String,
    /// TLS and SASL for every connection (default PLAINTEXT).
    pub security: Security,
    /// A request not answered within this closes its connection and counts as that broker
    /// failing (its partitions are rerouted). `None`: half of `timeout`, so a stalled broker
    /// leaves time within the budget to find the partition's next leader.
    pub request_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        // The fetch loop's header walk verifies every batch's CRC before handing it over.
        let engine = EngineConfig {
            verify_crc: false,
            ..EngineConfig::default()
        };
        Config {
            bootstrap: vec!["localhost:9092".into()],
            timeout: Duration::from_secs(30),
            isolation: Isolation::ReadCommitted,
            fetch_max_bytes: 8 << 20,
            partition_max_bytes: 1 << 20,
            fetch_max_wait_ms: 500,
            frame_limit: 100 << 20,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            engine,
            client_id: "kbatch".into(),
            security: Security::default(),
            request_timeout: None,
        }
    }
}

/// What a response frame may hold beyond `fetch_max_bytes` (headers, and a batch past the
/// limit that KIP-74 still returns whole).
const FRAME_HEADROOM: usize = 4 << 20;

impl Config {
    /// Raise `frame_limit` to hold the largest Fetch response: at least `fetch_max_bytes`
    /// plus 4 MiB. Applied whenever `fetch.max.bytes` or its flag is set, so a larger fetch
    /// size never makes every response too large to accept.
    pub fn fit_frame_limit(&mut self) {
        let fetch = usize::try_from(self.fetch_max_bytes).unwrap_or(0);
        self.frame_limit = self.frame_limit.max(fetch.saturating_add(FRAME_HEADROOM));
    }

    pub(crate) fn wire(&self) -> WireConfig {
        let request = self
            .request_timeout
            .unwrap_or(self.timeout / 2)
            .min(self.timeout)
            .max(Duration::from_millis(1));
        WireConfig {
            client_id: self.client_id.clone(),
            frame_limit: self.frame_limit,
            request_timeout: request,
            connect_timeout: request,
            security: self.security.clone(),
        }
    }

    /// Refuse timeouts that cannot work, before anything connects: the budget and the
    /// request timeout must lie within 1 ms and `i32::MAX` ms (what `request.timeout.ms`
    /// holds), and the request timeout must exceed `fetch.max.wait.ms`, as the Java client
    /// requires, or every Fetch of an idle partition (held by the broker for that long)
    /// would time out.
    pub fn check(&self) -> Result<(), ConfigError> {
        let max = Duration::from_millis(i32::MAX as u64);
        let within = |d: Duration| !d.is_zero() && d <= max;
        if !within(self.timeout) {
            return Err(ConfigError::Invalid(format!(
                "the timeout (--timeout, request.timeout.ms) is {:?}: it must be between 1 ms and {} ms",
                self.timeout,
                i32::MAX
            )));
        }
        if let Some(r) = self.request_timeout.filter(|r| !within(*r)) {
            return Err(ConfigError::Invalid(format!(
                "the request timeout is {r:?}: it must be between 1 ms and {} ms",
                i32::MAX
            )));
        }
        let request = self.wire().request_timeout;
        let wait = u64::try_from(self.fetch_max_wait_ms).unwrap_or(0);
        if self.fetch_max_wait_ms < 0 || request <= Duration::from_millis(wait) {
            let derived = match self.request_timeout {
                Some(_) => "",
                None => ", half of the timeout (--timeout, request.timeout.ms)",
            };
            return Err(ConfigError::Invalid(format!(
                "the request timeout ({request:?}{derived}) must exceed fetch.max.wait.ms ({} ms), \
                 which a broker may hold a Fetch for",
                self.fetch_max_wait_ms
            )));
        }
        Ok(())
    }

    pub(crate) fn isolation_level(&self) -> i8 {
        match self.isolation {
            Isolation::ReadUncommitted => 0,
            Isolation::ReadCommitted => 1,
        }
    }
}

/// Client keys that could not become a [`Config`]: a usage error (the CLI exits 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither librdkafka nor the Java client knows this key.
    #[error("unknown configuration key {key:?}{}", did_you_mean(*.suggestion))]
    UnknownKey {
        /// The key.
        key: String,
        /// The known key it is closest to.
        suggestion: Option<&'static str>,
    },
    /// A key's value is not one it takes (secret values are never quoted).
    #[error("{key}: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Keys that do not fit together, or that ask for what kbatch does not do.
    #[error("{0}")]
    Invalid(String),
}

fn did_you_mean(s: Option<&'static str>) -> String {
    s.map_or(String::new(), |s| format!(" (did you mean {s}?)"))
}

/// What applying keys did besides setting fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Keys the Kafka clients know that mean nothing to a bounded read, in first-seen order.
    pub ignored: Vec<String>,
}

/// Keys that are other names for a canonical one.
const ALIASES: &[(&str, &str)] = &[
    ("sasl.mechanisms", "sasl.mechanism"),
    ("metadata.broker.list", "bootstrap.servers"),
    (
        "sasl.oauthbearer.client.credentials.client.id",
        "sasl.oauthbearer.client.id",
    ),
    (
        "sasl.oauthbearer.client.credentials.client.secret",
        "sasl.oauthbearer.client.secret",
    ),
];

/// Look keys up in `map`; the values outlive the lookups.
fn getter<'a>(map: &'a HashMap<&'static str, String>) -> impl Fn(&str) -> Option<&'a str> + 'a {
    move |k| map.get(k).map(String::as_str)
}

/// Look options up in a parsed `sasl.jaas.config`, if there is one.
fn jaas_getter<'a>(jaas: Option<&'a jaas::Jaas>) -> impl Fn(&str) -> Option<&'a str> + 'a {
    move |k| jaas.and_then(|j| j.get(k))
}

fn bad(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::BadValue {
        key: key.into(),
        reason: reason.into(),
    }
}

fn positive_i32(key: &str, v: &str) -> Result<i32, ConfigError> {
    v.trim()
        .parse::<i32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad(key, format!("{v:?} is not a positive 32-bit number")))
}

fn boolean(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(key, format!("{v:?} is not true or false"))),
    }
}

impl Config {
    /// A configuration from client key/value pairs over the defaults; see
    /// [`Config::apply_properties`].
    pub fn from_properties<K, V>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(Config, Applied), ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Config::default();
        let applied = config.apply_properties(pairs)?;
        Ok((config, applied))
    }

    /// Apply client keys, librdkafka's or the Java client's names, in order (the last value of
    /// a key wins). Honoured: `bootstrap.servers`, `isolation.level`, `fetch.max.bytes`,
    /// `max.partition.fetch.bytes`, `client.id`, `request.timeout.ms`, and the security keys
    /// (`security.protocol`, `ssl.*`, `sasl.*`), which are resolved together: pass them in one
    /// call. Keys the clients know but a bounded read does not use are returned in
    /// [`Applied::ignored`]; any other key is [`ConfigError::UnknownKey`].
    pub fn apply_properties<K, V>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Applied, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut map: HashMap<&'static str, String> = HashMap::new();
        let mut applied = Applied::default();
        for (k, v) in pairs {
            let key = k.as_ref().trim();
            match keys::classify(key) {
                keys::Known::Unknown => {
                    return Err(ConfigError::UnknownKey {
                        key: key.to_string(),
                        suggestion: keys::suggest(key),
                    })
                }
                keys::Known::Ignored => {
                    if !applied.ignored.iter().any(|i| i == key) {
                        applied.ignored.push(key.to_string());
                    }
                }
                keys::Known::Honoured => {
                    let canonical = keys::HONOURED
                        .iter()
                        .find(|h| **h == key)
                        .copied()
                        .unwrap_or_default();
                    let canonical = ALIASES
                        .iter()
                        .find(|(alias, _)| *alias == canonical)
                        .map_or(canonical, |(_, c)| c);
                    map.insert(canonical, v.as_ref().to_string());
                }
            }
        }
        let get = getter(&map);
        if let Some(v) = get("bootstrap.servers") {
            let list = builder::split_bootstrap(v);
            if list.is_empty() {
                return Err(bad("bootstrap.servers", "is empty"));
            }
            self.bootstrap = list;
        }
        if let Some(v) = get("isolation.level") {
            self.isolation = match v.trim().to_ascii_lowercase().as_str() {
                "read_committed" => Isolation::ReadCommitted,
                "read_uncommitted" => Isolation::ReadUncommitted,
                _ => {
                    return Err(bad(
                        "isolation.level",
                        format!("{v:?} is not read_committed or read_uncommitted"),
                    ))
                }
            };
        }
        if let Some(v) = get("fetch.max.bytes") {
            self.fetch_max_bytes = positive_i32("fetch.max.bytes", v)?;
            self.fit_frame_limit();
        }
        if let Some(v) = get("max.partition.fetch.bytes") {
            self.partition_max_bytes = positive_i32("max.partition.fetch.bytes", v)?;
        }
        if let Some(v) = get("client.id") {
            self.client_id = v.to_string();
        }
        if let Some(v) = get("request.timeout.ms") {
            let ms = positive_i32("request.timeout.ms", v)?;
            self.timeout = Duration::from_millis(ms as u64);
        }
        if map.keys().any(|k| {
            k.starts_with("ssl.")
                || k.starts_with("sasl.")
                || k.starts_with("security.")
                || k.starts_with("enable.ssl")
        }) {
            self.security = security(&get)?;
        }
        Ok(applied)
    }
}

/// JKS and PKCS12 stores are Java formats: say how to convert them.
fn store_type(key: &str, v: Option<&str>) -> Result<(), ConfigError> {
    match v.map(|t| t.trim().to_ascii_uppercase()).as_deref() {
        None | Some("PEM") => Ok(()),
        Some(t @ ("JKS" | "PKCS12")) => Err(bad(
            key,
            format!(
                "kbatch reads PEM only; convert the {t} store with `keytool -importkeystore -srckeystore STORE -destkeystore store.p12 -deststoretype PKCS12` \
                 then `openssl pkcs12 -in store.p12 -nodes -out store.pem`, and set {key}=PEM"
            ),
        )),
        Some(t) => Err(bad(key, format!("unknown store type {t:?} (kbatch reads PEM)"))),
    }
}

fn security<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> Result<Security, ConfigError> {
    let protocol = match get("security.protocol") {
        None => Protocol::Plaintext,
        Some(v) => Protocol::parse(v).ok_or_else(|| {
            bad(
                "security.protocol",
                format!("{v:?} is not plaintext, ssl, sasl_plaintext or sasl_ssl"),
            )
        })?,
    };
    Ok(Security {
        protocol,
        tls: tls(get)?,
        sasl: if protocol.sasl() {
            Some(sasl(get, protocol)?)
        } else {
            None
        },
    })
}

fn tls<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> Result<TlsSettings, ConfigError> {
    let mut tls = TlsSettings::default();
    store_type("ssl.truststore.type", get("ssl.truststore.type"))?;
    store_type("ssl.keystore.type", get("ssl.keystore.type"))?;
    if let Some(pem) = get("ssl.ca.pem").or_else(|| get("ssl.truststore.certificates")) {
        tls.ca = CaSource::Pem(pem.to_string());
    } else if let Some(loc) = get("ssl.ca.location").or_else(|| get("ssl.truststore.location")) {
        tls.ca = if loc.trim().eq_ignore_ascii_case("probe") {
            CaSource::Probe
        } else {
            CaSource::Location(loc.trim().into())
        };
    }
    let keystore = get("ssl.keystore.location").map(|p| PemSource::File(p.trim().into()));
    let certificate = get("ssl.certificate.location")
        .map(|p| PemSource::File(p.trim().into()))
        .or_else(|| get("ssl.certificate.pem").map(|p| PemSource::Inline(Secret::new(p))))
        .or_else(|| {
            get("ssl.keystore.certificate.chain").map(|p| PemSource::Inline(Secret::new(p)))
        })
        .or_else(|| keystore.clone());
    let key = get("ssl.key.location")
        .map(|p| PemSource::File(p.trim().into()))
        .or_else(|| get("ssl.key.pem").map(|p| PemSource::Inline(Secret::new(p))))
        .or_else(|| get("ssl.keystore.key").map(|p| PemSource::Inline(Secret::new(p))))
        .or(keystore);
    tls.identity = match (certificate, key) {
        (Some(certificate), Some(key)) => Some(ClientIdentity {
            certificate,
            key,
            key_password: get("ssl.key.password").map(Secret::new),
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::Invalid(
                "a client certificate needs its private key (ssl.key.location)".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::Invalid(
                "a private key needs its certificate (ssl.certificate.location)".into(),
            ))
        }
    };
    if let Some(v) = get("ssl.endpoint.identification.algorithm") {
        tls.verify_hostname = match v.trim().to_ascii_lowercase().as_str() {
            "https" => true,
            "none" | "" => false,
            _ => {
                return Err(bad(
                    "ssl.endpoint.identification.algorithm",
                    format!("{v:?} is not https, none or empty"),
                ))
            }
        };
    }
    if let Some(v) = get("enable.ssl.certificate.verification") {
        tls.verify_certificate = boolean("enable.ssl.certificate.verification", v)?;
    }
    Ok(tls)
}

fn sasl<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    protocol: Protocol,
) -> Result<SaslSettings, ConfigError> {
    let jaas = get("sasl.jaas.config")
        .map(jaas::parse_jaas)
        .transpose()
        .map_err(|why| bad("sasl.jaas.config", why))?;
    let mechanism = match get("sasl.mechanism") {
        Some(m) => m.trim().to_ascii_uppercase(),
        None => match jaas.as_ref().map(|j| j.module.as_str()) {
            Some("PlainLoginModule") => "PLAIN".into(),
            Some("OAuthBearerLoginModule") => "OAUTHBEARER".into(),
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "security.protocol={} needs sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)",
                    protocol.name().to_ascii_lowercase()
                )))
            }
        },
    };
    let jaas_opt = jaas_getter(jaas.as_ref());
    let credentials = || -> Result<(String, Secret), ConfigError> {
        let user = get("sasl.username").or_else(|| jaas_opt("username"));
        let pass = get("sasl.password").or_else(|| jaas_opt("password"));
        match (user, pass) {
            (Some(u), Some(p)) => Ok((u.to_string(), Secret::new(p))),
            _ => Err(ConfigError::Invalid(format!(
                "{mechanism} needs sasl.username and sasl.password (or sasl.jaas.config with username and password)"
            ))),
        }
    };
    Ok(match mechanism.as_str() {
        "PLAIN" => {
            let (username, password) = credentials()?;
            SaslSettings::Plain { username, password }
        }
        "SCRAM-SHA-256" | "SCRAM-SHA-512" => {
            let (username, password) = credentials()?;
            SaslSettings::Scram {
                hash: if mechanism.ends_with("256") {
                    ScramHash::Sha256
                } else {
                    ScramHash::Sha512
                },
                username,
                password,
            }
        }
        "OAUTHBEARER" => oauthbearer(get, &jaas_opt)?,
        "GSSAPI" => {
            return Err(ConfigError::Invalid(
                "sasl.mechanism=GSSAPI (Kerberos) is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER".into(),
            ))
        }
        other => {
            return Err(bad(
                "sasl.mechanism",
                format!("unknown mechanism {other:?} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)"),
            ))
        }
    })
}

fn oauthbearer<'a, 'b>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    jaas_opt: &dyn Fn(&str) -> Option<&'b str>,
) -> Result<SaslSettings, ConfigError> {
    let oidc = get("sasl.oauthbearer.method")
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("oidc"))
        || get("sasl.oauthbearer.token.endpoint.url").is_some()
        || jaas_opt("clientId").is_some();
    if oidc {
        let need = |v: Option<&str>, what: &str| {
            v.map(str::to_string).ok_or_else(|| {
                ConfigError::Invalid(format!("sasl.oauthbearer.method=oidc needs {what}"))
            })
        };
        let url_key = "sasl.oauthbearer.token.endpoint.url";
        let token_endpoint = need(get(url_key), url_key)?.trim().to_string();
        let allow_key = "sasl.oauthbearer.token.endpoint.allow.http";
        let allow_http = get(allow_key)
            .map(|v| boolean(allow_key, v))
            .transpose()?
            .unwrap_or(false);
        kbatch_wire::check_token_endpoint(&token_endpoint, allow_http)
            .map_err(|why| bad(url_key, why))?;
        // librdkafka's keys for HTTPS clients; the brokers' ssl.* never apply to the IdP.
        let https_ca = if let Some(pem) = get("https.ca.pem") {
            Some(CaSource::Pem(pem.to_string()))
        } else {
            get("https.ca.location").map(|loc| {
                if loc.trim().eq_ignore_ascii_case("probe") {
                    CaSource::Probe
                } else {
                    CaSource::Location(loc.trim().into())
                }
            })
        };
        return Ok(SaslSettings::OAuthBearerOidc {
            token_endpoint,
            allow_http,
            https_ca,
            client_id: need(
                get("sasl.oauthbearer.client.id").or_else(|| jaas_opt("clientId")),
                "sasl.oauthbearer.client.id",
            )?,
            client_secret: Secret::new(need(
                get("sasl.oauthbearer.client.secret").or_else(|| jaas_opt("clientSecret")),
                "sasl.oauthbearer.client.secret",
            )?),
            scope: get("sasl.oauthbearer.scope")
                .or_else(|| jaas_opt("scope"))
                .map(str::to_string),
            cache: TokenCache::default(),
        });
    }
    if let Some(config) = get("sasl.oauthbearer.config") {
        return unsecured_token(config);
    }
    if let Some(sub) = jaas_opt("unsecuredLoginStringClaim_sub") {
        return Ok(SaslSettings::OAuthBearerUnsecured {
            principal: sub.to_string(),
            scope: Vec::new(),
            life: Duration::from_secs(3600),
            extensions: Vec::new(),
        });
    }
    Err(ConfigError::Invalid(
        "OAUTHBEARER needs sasl.oauthbearer.config (principal=NAME [scope=A,B] [lifeSeconds=N])"
            .into(),
    ))
}

/// librdkafka's `sasl.oauthbearer.config`: `principal=… scope=a,b lifeSeconds=… extension_K=V`.
fn unsecured_token(config: &str) -> Result<SaslSettings, ConfigError> {
    let key = "sasl.oauthbearer.config";
    let (mut principal, mut scope, mut life, mut extensions) =
        (None, Vec::new(), Duration::from_secs(3600), Vec::new());
    for part in config.split_whitespace() {
        let Some((k, v)) = part.split_once('=') else {
            return Err(bad(key, format!("{part:?} is not name=value")));
        };
        match k {
            "principal" => principal = Some(v.to_string()),
            "principalClaimName" | "scopeClaimName" => {}
            "scope" => {
                scope = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            "lifeSeconds" => {
                let secs: u64 = v
                    .parse()
                    .map_err(|_| bad(key, format!("lifeSeconds {v:?} is not a number")))?;
                life = Duration::from_secs(secs);
                if life > kbatch_wire::MAX_UNSECURED_LIFE {
                    return Err(bad(
                        key,
                        format!(
                            "lifeSeconds {secs} is longer than the {} seconds a token's expiry \
                             time can express",
                            kbatch_wire::MAX_UNSECURED_LIFE.as_secs()
                        ),
                    ));
                }
            }
            _ => match k.strip_prefix("extension_") {
                Some(name) if !name.is_empty() => {
                    extensions.push((name.to_string(), v.to_string()))
                }
                _ => return Err(bad(key, format!("unknown setting {k:?}"))),
            },
        }
    }
    let principal = principal.ok_or_else(|| bad(key, "principal=NAME is required"))?;
    Ok(SaslSettings::OAuthBearerUnsecured {
        principal,
        scope,
        life,
        extensions,
    })
}

#[cfg(test)]
mod tests;
