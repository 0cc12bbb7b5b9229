//! The Schema Registry client: `GET {url}/schemas/ids/{id}`, once per id for the run.
//!
//! Configured with the keys users already have (`schema.registry.url`, comma-separated and
//! tried in order, `schema.registry.basic.auth.user.info`, `schema.registry.bearer.auth.token`).
//! A request that fails on every URL is retried after a backoff while the read's timeout
//! allows; an answer that settles it (found, not found, refused) is never retried. Credentials
//! never appear in `Debug`, errors or logs.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use kbatch_wire::Secret;

use crate::{http, SchemaError};

/// The key naming the registry URLs.
pub const URL_KEY: &str = "schema.registry.url";
/// `user:password` for HTTP basic authentication.
pub const BASIC_KEY: &str = "schema.registry.basic.auth.user.info";
/// A bearer token.
pub const BEARER_KEY: &str = "schema.registry.bearer.auth.token";
/// Where basic credentials come from; only `USER_INFO` (the default) is supported.
pub const BASIC_SOURCE_KEY: &str = "schema.registry.basic.auth.credentials.source";
/// Every registry key starts with this.
pub const PREFIX: &str = "schema.registry.";

/// How to reach the registry. Build it with [`RegistryConfig::from_pairs`].
#[derive(Clone)]
pub struct RegistryConfig {
    /// Base URLs (without a trailing `/`), tried in order.
    pub urls: Vec<String>,
    /// `user:password`.
    pub basic: Option<Secret>,
    /// A bearer token.
    pub bearer: Option<Secret>,
    /// The whole budget of one schema fetch, retries included (the read's timeout).
    pub timeout: Duration,
}

impl fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryConfig")
            .field(
                "urls",
                &self.urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
            )
            .field("basic", &self.basic.as_ref().map(|_| "[redacted]"))
            .field("bearer", &self.bearer.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A URL as it may be printed: any `user:password@` is replaced.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://[redacted]@{}", &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

fn bad(key: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError::Config {
        key: key.to_string(),
        reason: reason.into(),
    }
}

impl RegistryConfig {
    /// The registry configuration in `pairs` (keys other than `schema.registry.*` are skipped;
    /// the last value of a key wins), or `None` when no `schema.registry.url` is given.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        timeout: Duration,
    ) -> Result<Option<RegistryConfig>, SchemaError> {
        let mut urls = None;
        let mut basic = None;
        let mut bearer = None;
        for (key, value) in pairs {
            match key {
                URL_KEY => {
                    let list: Vec<String> = value
                        .split(',')
                        .map(|u| u.trim().trim_end_matches('/').to_string())
                        .filter(|u| !u.is_empty())
                        .collect();
                    for u in &list {
                        let ok = u.parse::<::http::Uri>().is_ok_and(|uri| {
                            matches!(uri.scheme_str(), Some("http" | "https"))
                                && uri.authority().is_some()
                        });
                        if !ok {
                            return Err(bad(
                                key,
                                format!("{:?} is not an http:// or https:// URL", redact_url(u)),
                            ));
                        }
                    }
                    if list.is_empty() {
                        return Err(bad(key, "no URL given"));
                    }
                    urls = Some(list);
                }
                BASIC_KEY => {
                    if !value.contains(':') {
                        return Err(bad(key, "expected user:password"));
                    }
                    basic = Some(Secret::new(value));
                }
                BEARER_KEY => bearer = Some(Secret::new(value)),
                BASIC_SOURCE_KEY => {
                    if !value.eq_ignore_ascii_case("USER_INFO") {
                        return Err(bad(
                            key,
                            format!("{value:?} is not supported (USER_INFO, with {BASIC_KEY})"),
                        ));
                    }
                }
                k if k.starts_with(PREFIX) => {
                    return Err(bad(
                        k,
                        format!(
                            "not a supported registry key (supported: {URL_KEY}, {BASIC_KEY}, {BEARER_KEY}, {BASIC_SOURCE_KEY}; TLS settings for the registry are not supported yet)"
                        ),
                    ))
                }
                _ => {}
            }
        }
        if basic.is_some() && bearer.is_some() {
            return Err(bad(
                BEARER_KEY,
                format!("give either {BASIC_KEY} or {BEARER_KEY}, not both"),
            ));
        }
        let Some(urls) = urls else {
            if basic.is_some() || bearer.is_some() {
                return Err(bad(
                    URL_KEY,
                    "registry credentials are given but no registry URL",
                ));
            }
            return Ok(None);
        };
        Ok(Some(RegistryConfig {
            urls,
            basic,
            bearer,
            timeout,
        }))
    }
}

/// What a schema is written in (`schemaType`; absent means Avro).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaType {
    /// Avro (JSON schema text).
    Avro,
    /// Protobuf (`.proto` text or a base64 `FileDescriptorProto`).
    Protobuf,
    /// JSON Schema.
    Json,
}

/// A reference to a schema of another subject.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Reference {
    /// The name the referring schema uses (an Avro full name, a Protobuf import path).
    pub name: String,
    /// The subject it is registered under.
    pub subject: String,
    /// Its version there.
    pub version: i64,
}

/// A schema as the registry answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySchema {
    /// Its id.
    pub id: u32,
    /// Its type.
    pub schema_type: SchemaType,
    /// The schema text.
    pub schema: String,
    /// Schemas it refers to (not followed yet).
    pub references: Vec<Reference>,
}

#[derive(serde::Deserialize)]
struct Answer {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<Reference>,
}

/// Parse a `GET /schemas/ids/{id}` answer.
pub(crate) fn parse_answer(id: u32, body: &[u8]) -> Result<RegistrySchema, SchemaError> {
    let a: Answer = serde_json::from_slice(body).map_err(|e| SchemaError::BadSchema {
        id,
        reason: format!("the registry's answer is not a schema: {e}"),
    })?;
    let schema_type = match a
        .schema_type
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("AVRO") => SchemaType::Avro,
        Some("PROTOBUF") => SchemaType::Protobuf,
        Some("JSON") => SchemaType::Json,
        Some(other) => {
            return Err(SchemaError::BadSchema {
                id,
                reason: format!("unknown schemaType {other:?} (AVRO, PROTOBUF or JSON)"),
            })
        }
    };
    Ok(RegistrySchema {
        id,
        schema_type,
        schema: a.schema,
        references: a.references,
    })
}

/// What one answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The schema.
    Found,
    /// The registry does not know the id: final.
    Unknown,
    /// The credentials are missing or refused: final.
    Refused,
    /// Try the next URL, then retry the round.
    TryElsewhere,
}

/// How an HTTP status settles a fetch.
pub(crate) fn verdict(status: u16) -> Verdict {
    match status {
        200 => Verdict::Found,
        404 => Verdict::Unknown,
        401 | 403 => Verdict::Refused,
        _ => Verdict::TryElsewhere,
    }
}

/// The first wait between rounds; it doubles up to [`BACKOFF_MAX`].
const BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between rounds.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The wait before round `round` (the second round is 1), or `None` when it would end past
/// `budget` (`elapsed` is the time spent so far).
pub(crate) fn backoff(round: u32, elapsed: Duration, budget: Duration) -> Option<Duration> {
    let wait = BACKOFF
        .checked_mul(
            1u32.checked_shl(round.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .unwrap_or(BACKOFF_MAX)
        .min(BACKOFF_MAX);
    let end = elapsed.checked_add(wait)?;
    (end < budget).then_some(wait)
}

/// A registry client with a schema cache for one run. Cheap to share (`Arc`).
pub struct Registry {
    config: RegistryConfig,
    tls: Arc<rustls::ClientConfig>,
    /// Held across a fetch, so each id is fetched once even when workers ask together.
    cache: Mutex<HashMap<u32, Arc<RegistrySchema>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A client for `config`.
    pub fn new(config: RegistryConfig) -> Registry {
        Registry {
            config,
            tls: http::tls_config(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The schema with id `id`: from the cache, else fetched (blocking; from any thread,
    /// inside a tokio runtime or not).
    pub fn schema(&self, id: u32) -> Result<Arc<RegistrySchema>, SchemaError> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = cache.get(&id) {
            return Ok(s.clone());
        }
        let fetched = Arc::new(block_on(self.fetch(id))??);
        cache.insert(id, fetched.clone());
        Ok(fetched)
    }

    fn headers(&self) -> Vec<(::http::HeaderName, ::http::HeaderValue)> {
        let value = if let Some(b) = &self.config.basic {
            let token = base64::engine::general_purpose::STANDARD.encode(b.expose());
            format!("Basic {token}")
        } else if let Some(t) = &self.config.bearer {
            format!("Bearer {}", t.expose())
        } else {
            return Vec::new();
        };
        match ::http::HeaderValue::from_str(&value) {
            Ok(mut v) => {
                v.set_sensitive(true);
                vec![(::http::header::AUTHORIZATION, v)]
            }
            Err(_) => Vec::new(),
        }
    }

    async fn fetch(&self, id: u32) -> Result<RegistrySchema, SchemaError> {
        let started = Instant::now();
        let budget = self.config.timeout;
        let headers = self.headers();
        let mut last = String::new();
        let mut round = 0u32;
        loop {
            for base in &self.config.urls {
                let shown = redact_url(base);
                let url = format!("{base}/schemas/ids/{id}");
                let uri: ::http::Uri = url.parse().map_err(|e| SchemaError::Config {
                    key: URL_KEY.into(),
                    reason: format!("{shown}: {e}"),
                })?;
                let left = budget.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break;
                }
                match http::get(&uri, &headers, &self.tls, left).await {
                    Ok(r) => match verdict(r.status) {
                        Verdict::Found => return parse_answer(id, &r.body),
                        Verdict::Unknown => return Err(SchemaError::UnknownId { id, url: shown }),
                        Verdict::Refused => {
                            return Err(SchemaError::Refused {
                                id,
                                url: shown,
                                status: r.status,
                            })
                        }
                        Verdict::TryElsewhere => {
                            last = format!(
                                "{shown}: HTTP {}: {}",
                                r.status,
                                String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                            )
                        }
                    },
                    Err(e) => last = format!("{shown}: {e}"),
                }
            }
            round += 1;
            let Some(wait) = backoff(round, started.elapsed(), budget) else {
                return Err(SchemaError::Unreachable {
                    id,
                    waited: started.elapsed(),
                    rounds: round,
                    last,
                });
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Run `f` to completion on a small runtime of its own: here, or — when this thread is inside
/// a tokio runtime, where blocking panics — on a scoped thread.
fn block_on<F>(f: F) -> Result<F::Output, SchemaError>
where
    F: Future + Send,
    F::Output: Send,
{
    let run = move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
            .map_err(|e| SchemaError::Runtime(e.to_string()))
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return run();
    }
    std::thread::scope(|s| match s.spawn(run).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&'static str, &'static str)]) -> Result<Option<RegistryConfig>, SchemaError> {
        RegistryConfig::from_pairs(p.iter().copied(), Duration::from_secs(30))
    }

    #[test]
    fn keys_are_read_and_checked() {
        assert!(pairs(&[("bootstrap.servers", "x:1")]).unwrap().is_none());
        let c = pairs(&[(URL_KEY, "http://a:1/apis/ccompat/v7/, https://b")])
            .unwrap()
            .unwrap();
        assert_eq!(c.urls, ["http://a:1/apis/ccompat/v7", "https://b"]);
        let bad_cases: &[&[(&str, &str)]] = &[
            &[(URL_KEY, "a:1")],
            &[(URL_KEY, " , ")],
            &[(URL_KEY, "http://a"), (BASIC_KEY, "nocolon")],
            &[(URL_KEY, "http://a"), (BASIC_KEY, "u:p"), (BEARER_KEY, "t")],
            &[(BASIC_KEY, "u:p")],
            &[
                (URL_KEY, "http://a"),
                ("schema.registry.ssl.ca.location", "/x"),
            ],
            &[(URL_KEY, "http://a"), (BASIC_SOURCE_KEY, "URL")],
        ];
        for case in bad_cases {
            let got = RegistryConfig::from_pairs(case.iter().copied(), Duration::from_secs(1));
            assert!(
                matches!(got, Err(SchemaError::Config { .. })),
                "{case:?}: {got:?}"
            );
        }
    }

    #[test]
    fn secrets_never_print() {
        let c = pairs(&[
            (URL_KEY, "http://bob:hunter2@a:1"),
            (BASIC_KEY, "alice:s3cret"),
        ])
        .unwrap()
        .unwrap();
        let shown = format!("{c:?} {:?}", Registry::new(c.clone()));
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]@a:1"), "{shown}");
        let e = pairs(&[(URL_KEY, "ftp://bob:hunter2@a")])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn verdicts() {
        let table = [
            (200, Verdict::Found),
            (404, Verdict::Unknown),
            (401, Verdict::Refused),
            (403, Verdict::Refused),
            (500, Verdict::TryElsewhere),
            (503, Verdict::TryElsewhere),
            (302, Verdict::TryElsewhere),
        ];
        for (status, want) in table {
            assert_eq!(verdict(status), want, "{status}");
        }
    }

    #[test]
    fn backoff_doubles_to_a_cap_within_the_budget() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let table = [
            (1, ms(0), s(30), Some(ms(100))),
            (2, ms(0), s(30), Some(ms(200))),
            (4, ms(0), s(30), Some(ms(800))),
            (5, ms(0), s(30), Some(s(1))),
            (60, ms(0), s(30), Some(s(1))),
            (u32::MAX, ms(0), s(30), Some(s(1))),
            (1, ms(950), s(1), None),
            (1, ms(899), s(1), Some(ms(100))),
            (3, ms(29_700), s(30), None),
            (3, s(29), s(30), Some(ms(400))),
        ];
        for (round, elapsed, budget, want) in table {
            assert_eq!(
                backoff(round, elapsed, budget),
                want,
                "{round} {elapsed:?} {budget:?}"
            );
        }
    }

    #[test]
    fn answers_parse() {
        let s = parse_answer(3, br#"{"schema":"\"long\""}"#).unwrap();
        assert_eq!(
            (s.schema_type, s.schema.as_str()),
            (SchemaType::Avro, "\"long\"")
        );
        let s = parse_answer(4, br#"{"schema":"x","schemaType":"PROTOBUF","references":[{"name":"a.proto","subject":"a","version":2}]}"#).unwrap();
        assert_eq!(s.schema_type, SchemaType::Protobuf);
        assert_eq!(s.references[0].version, 2);
        let e = parse_answer(5, b"<html>").unwrap_err().to_string();
        assert!(e.contains("schema id 5"), "{e}");
        let e = parse_answer(6, br#"{"schema":"x","schemaType":"XML"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema id 6") && e.contains("XML"), "{e}");
    }
}
