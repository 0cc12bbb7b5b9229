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

use crate::{http, SchemaError};

pub use kbatch_reader::{redact_url, SchemaRegistryConfig};

/// How to reach the registry: the checked `schema.registry.*` keys
/// ([`kbatch_reader::ClientConfig::schema_registry`]) and the budget of one fetch.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// URLs, credentials, TLS.
    pub keys: SchemaRegistryConfig,
    /// The whole budget of one schema fetch, retries included (the read's timeout).
    pub timeout: Duration,
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

impl RegistrySchema {
    /// `None` when the schema is of type `want`; else the error a decoder of that format gives
    /// (the id, both types): the format given does not match the topic's.
    pub fn not_of(&self, want: SchemaType) -> Option<SchemaError> {
        let name = |t: SchemaType| match t {
            SchemaType::Avro => "Avro",
            SchemaType::Protobuf => "Protobuf",
            SchemaType::Json => "JSON Schema",
        };
        (self.schema_type != want).then(|| SchemaError::BadSchema {
            id: self.id,
            reason: format!(
                "the schema is {}, not {} (choose the format that matches the topic)",
                name(self.schema_type),
                name(want)
            ),
        })
    }
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
    /// Schemas it refers to (Protobuf imports are followed by `protobuf::ProtobufColumn`).
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

/// Parse a `GET /subjects/{subject}/versions/latest` answer (the schema and its `id`).
pub(crate) fn parse_latest(
    subject: &str,
    needed_by: u32,
    body: &[u8],
) -> Result<RegistrySchema, SchemaError> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: u32,
    }
    let Id { id } = serde_json::from_slice(body).map_err(|e| SchemaError::BadSchema {
        id: needed_by,
        reason: format!("the registry's latest version of subject {subject:?} has no id: {e}"),
    })?;
    parse_answer(id, body)
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
    pub fn new(config: RegistryConfig) -> Result<Registry, SchemaError> {
        let tls = kbatch_wire::https_client_config(&config.keys.tls).map_err(|reason| {
            SchemaError::Config {
                key: "schema.registry.ssl.*".into(),
                reason,
            }
        })?;
        Ok(Registry {
            config,
            tls,
            cache: Mutex::new(HashMap::new()),
        })
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
        let path = format!("/schemas/ids/{id}");
        let body = block_on(self.get(&path, id))??.ok_or_else(|| SchemaError::UnknownId {
            id,
            url: self.shown_urls(),
        })?;
        let fetched = Arc::new(parse_answer(id, &body)?);
        cache.insert(id, fetched.clone());
        Ok(fetched)
    }

    /// The latest version of `subject`, or `None` when the registry has no such subject;
    /// `needed_by` is the schema id of the value that asked, for the errors.
    pub fn latest(
        &self,
        subject: &str,
        needed_by: u32,
    ) -> Result<Option<Arc<RegistrySchema>>, SchemaError> {
        let path = format!("/subjects/{}/versions/latest", path_segment(subject));
        let Some(body) = block_on(self.get(&path, needed_by))?? else {
            return Ok(None);
        };
        let latest = Arc::new(parse_latest(subject, needed_by, &body)?);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(Some(cache.entry(latest.id).or_insert(latest).clone()))
    }

    /// Version `version` of `subject` (`GET /subjects/{subject}/versions/{version}`): a
    /// schema reference. `needed_by` is the schema id that refers to it, for the errors; a
    /// reference the registry does not have is a [`SchemaError::BadSchema`] of that id.
    pub fn version(
        &self,
        subject: &str,
        version: i64,
        needed_by: u32,
    ) -> Result<Arc<RegistrySchema>, SchemaError> {
        let path = format!("/subjects/{}/versions/{version}", path_segment(subject));
        let body = block_on(self.get(&path, needed_by))??.ok_or_else(|| {
            SchemaError::BadSchema {
                id: needed_by,
                reason: format!(
                    "its reference subject {subject:?} version {version} is not in the registry at {}",
                    self.shown_urls()
                ),
            }
        })?;
        let found = Arc::new(parse_latest(subject, needed_by, &body)?);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(cache.entry(found.id).or_insert(found).clone())
    }

    /// The subjects schema `id` is registered under (`GET /schemas/ids/{id}/versions`),
    /// without duplicates, in the registry's order; empty when the registry does not say.
    pub fn subjects_of(&self, id: u32) -> Result<Vec<String>, SchemaError> {
        #[derive(serde::Deserialize)]
        struct SubjectVersion {
            subject: String,
        }
        let path = format!("/schemas/ids/{id}/versions");
        let Some(body) = block_on(self.get(&path, id))?? else {
            return Ok(Vec::new());
        };
        let list: Vec<SubjectVersion> =
            serde_json::from_slice(&body).map_err(|e| SchemaError::BadSchema {
                id,
                reason: format!("the registry's list of subjects is not one: {e}"),
            })?;
        let mut subjects: Vec<String> = Vec::new();
        for s in list {
            if !subjects.contains(&s.subject) {
                subjects.push(s.subject);
            }
        }
        Ok(subjects)
    }

    fn shown_urls(&self) -> String {
        self.config.keys.shown_urls()
    }

    fn headers(&self) -> Vec<(::http::HeaderName, ::http::HeaderValue)> {
        let value = if let Some(b) = &self.config.keys.basic {
            let token = base64::engine::general_purpose::STANDARD.encode(b.expose());
            format!("Basic {token}")
        } else if let Some(t) = &self.config.keys.bearer {
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

    /// `GET {url}{path}` on the first URL that settles it: the body, or `None` for 404.
    /// Rounds over every URL are retried after a backoff within the budget; `id` is the
    /// schema id the request is for, for the errors.
    async fn get(&self, path: &str, id: u32) -> Result<Option<bytes::Bytes>, SchemaError> {
        let started = Instant::now();
        let budget = self.config.timeout;
        let headers = self.headers();
        let mut last = String::new();
        let mut round = 0u32;
        loop {
            for base in &self.config.keys.urls {
                let shown = redact_url(base);
                let url = format!("{base}{path}");
                let uri: ::http::Uri = url.parse().map_err(|e| SchemaError::Config {
                    key: "schema.registry.url".into(),
                    reason: format!("{shown}: {e}"),
                })?;
                let left = budget.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break;
                }
                match http::get(&uri, &headers, &self.tls, left).await {
                    Ok(r) => match verdict(r.status) {
                        Verdict::Found => return Ok(Some(r.body)),
                        Verdict::Unknown => return Ok(None),
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

/// A subject name as one URL path segment (percent-encoded outside the unreserved set).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
    fn latest_answers_carry_their_id() {
        let body =
            br#"{"id":2,"subject":"t-value","version":2,"schema":"\"long\"","references":[]}"#;
        let s = parse_latest("t-value", 1, body).unwrap();
        assert_eq!((s.id, s.schema_type), (2, SchemaType::Avro));
        let e = parse_latest("t-value", 7, br#"{"schema":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema id 7") && e.contains("t-value"), "{e}");
    }

    #[test]
    fn subjects_are_one_path_segment() {
        let table = [
            ("orders-value", "orders-value"),
            ("a.b_c~d", "a.b_c~d"),
            ("a/b c", "a%2Fb%20c"),
            ("é", "%C3%A9"),
        ];
        for (subject, want) in table {
            assert_eq!(path_segment(subject), want, "{subject}");
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
