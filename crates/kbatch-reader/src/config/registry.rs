//! The Schema Registry's keys (`schema.registry.*`), the names Confluent's clients use: one
//! place that reads, checks and redacts them, so the CLI (`-X`, `--config`), Python's
//! `config=` and Spark's options configure the registry client the same way. Kafka's
//! configuration never sees them.
//!
//! * `schema.registry.url`: comma-separated, tried in order (failover);
//! * `schema.registry.basic.auth.user.info` (`user:password`) or
//!   `schema.registry.bearer.auth.token`: secrets, never printed;
//! * `schema.registry.ssl.ca.location`, `.certificate.location`, `.key.location`,
//!   `.key.password`: the registry's TLS (a private CA, mutual TLS), apart from the brokers'.

use std::collections::BTreeMap;
use std::fmt;

use kbatch_wire::{CaSource, ClientIdentity, PemSource, Secret, TlsSettings};

use super::ConfigError;

/// The registry URLs.
pub const URL_KEY: &str = "schema.registry.url";
/// `user:password` for HTTP basic authentication.
pub const BASIC_KEY: &str = "schema.registry.basic.auth.user.info";
/// A bearer token.
pub const BEARER_KEY: &str = "schema.registry.bearer.auth.token";
/// Where basic credentials come from; only `USER_INFO` (the default) is supported.
pub const BASIC_SOURCE_KEY: &str = "schema.registry.basic.auth.credentials.source";
/// CA certificates (a PEM file or directory) trusted for the registry, instead of the public roots.
pub const CA_KEY: &str = "schema.registry.ssl.ca.location";
/// The client certificate (PEM) for mutual TLS.
pub const CERT_KEY: &str = "schema.registry.ssl.certificate.location";
/// The client certificate's private key (PEM).
pub const KEY_KEY: &str = "schema.registry.ssl.key.location";
/// The password of an encrypted private key.
pub const KEY_PASSWORD_KEY: &str = "schema.registry.ssl.key.password";

const KNOWN: &[&str] = &[
    URL_KEY,
    BASIC_KEY,
    BEARER_KEY,
    BASIC_SOURCE_KEY,
    CA_KEY,
    CERT_KEY,
    KEY_KEY,
    KEY_PASSWORD_KEY,
];

/// How to reach the Schema Registry, checked; built by [`crate::ClientConfig::builder`]
/// ([`crate::ClientConfig::schema_registry`]). `Debug` shows no secret and no URL credentials.
#[derive(Clone)]
pub struct SchemaRegistryConfig {
    /// Base URLs (no trailing `/`), tried in order.
    pub urls: Vec<String>,
    /// `user:password`.
    pub basic: Option<Secret>,
    /// A bearer token.
    pub bearer: Option<Secret>,
    /// The registry's TLS: CA, client identity (host name and chain always verified).
    pub tls: TlsSettings,
}

impl fmt::Debug for SchemaRegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistryConfig")
            .field(
                "urls",
                &self.urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
            )
            .field("basic", &self.basic)
            .field("bearer", &self.bearer)
            .field("tls", &self.tls)
            .finish()
    }
}

impl SchemaRegistryConfig {
    /// The URLs as they may be printed, comma-separated.
    pub fn shown_urls(&self) -> String {
        self.urls
            .iter()
            .map(|u| redact_url(u))
            .collect::<Vec<_>>()
            .join(",")
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

fn bad(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::BadValue {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Whether `url` is an absolute http(s) URL with a host.
fn is_http_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        && !host.is_empty()
        && !host.starts_with(':')
        && !host.contains(char::is_whitespace)
}

/// The registry configuration of `keys` (every `schema.registry.*` key given, the last value
/// of each), or `None` when none is given. Values of secret keys are never quoted.
pub(crate) fn from_keys(
    keys: &BTreeMap<String, String>,
) -> Result<Option<SchemaRegistryConfig>, ConfigError> {
    if keys.is_empty() {
        return Ok(None);
    }
    for k in keys.keys() {
        if !KNOWN.contains(&k.as_str()) {
            return Err(ConfigError::UnknownKey {
                key: k.clone(),
                suggestion: KNOWN
                    .iter()
                    .copied()
                    .min_by_key(|known| super::keys::distance(k, known))
                    .filter(|known| super::keys::distance(k, known) <= 3),
            });
        }
    }
    let get = |k: &str| keys.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let Some(list) = get(URL_KEY) else {
        return Err(bad(
            URL_KEY,
            "other schema.registry.* keys are given but no registry URL",
        ));
    };
    let urls: Vec<String> = list
        .split(',')
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Err(bad(URL_KEY, "no URL given"));
    }
    if let Some(u) = urls.iter().find(|u| !is_http_url(u)) {
        return Err(bad(
            URL_KEY,
            format!("{:?} is not an http:// or https:// URL", redact_url(u)),
        ));
    }
    let basic = match keys.get(BASIC_KEY) {
        Some(v) if !v.contains(':') => return Err(bad(BASIC_KEY, "expected user:password")),
        Some(v) => Some(Secret::new(v.as_str())),
        None => None,
    };
    let bearer = keys.get(BEARER_KEY).map(|v| Secret::new(v.as_str()));
    if basic.is_some() && bearer.is_some() {
        return Err(ConfigError::Invalid(format!(
            "give either {BASIC_KEY} or {BEARER_KEY}, not both"
        )));
    }
    if let Some(v) = get(BASIC_SOURCE_KEY) {
        if !v.eq_ignore_ascii_case("USER_INFO") {
            return Err(bad(
                BASIC_SOURCE_KEY,
                format!("{v:?} is not supported (USER_INFO, with {BASIC_KEY})"),
            ));
        }
    }
    let mut tls = TlsSettings::default();
    if let Some(ca) = get(CA_KEY) {
        tls.ca = CaSource::Location(ca.into());
    }
    tls.identity = match (get(CERT_KEY), get(KEY_KEY)) {
        (Some(c), Some(k)) => Some(ClientIdentity {
            certificate: PemSource::File(c.into()),
            key: PemSource::File(k.into()),
            key_password: keys.get(KEY_PASSWORD_KEY).map(|p| Secret::new(p.as_str())),
        }),
        (None, None) if keys.contains_key(KEY_PASSWORD_KEY) => {
            return Err(ConfigError::Invalid(format!(
                "{KEY_PASSWORD_KEY} is given without {KEY_KEY}"
            )))
        }
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::Invalid(format!(
                "a registry client certificate ({CERT_KEY}) needs its private key ({KEY_KEY})"
            )))
        }
        (None, Some(_)) => {
            return Err(ConfigError::Invalid(format!(
                "a registry private key ({KEY_KEY}) needs its certificate ({CERT_KEY})"
            )))
        }
    };
    Ok(Some(SchemaRegistryConfig {
        urls,
        basic,
        bearer,
        tls,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn good_keys_become_a_config() {
        assert!(from_keys(&keys(&[])).unwrap().is_none());
        let c = from_keys(&keys(&[(
            URL_KEY,
            " http://a:1/apis/ccompat/v7/ , https://b ",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(c.urls, ["http://a:1/apis/ccompat/v7", "https://b"]);
        assert_eq!((c.basic.clone(), c.bearer.clone()), (None, None));
        assert_eq!(c.tls.ca, CaSource::BuiltIn);
        assert!(c.tls.identity.is_none());
        let c = from_keys(&keys(&[
            (URL_KEY, "https://r"),
            (BASIC_KEY, "u:p:w"),
            (BASIC_SOURCE_KEY, "user_info"),
            (CA_KEY, "/ca.pem"),
            (CERT_KEY, "/c.pem"),
            (KEY_KEY, "/k.pem"),
            (KEY_PASSWORD_KEY, "kp"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.basic.as_ref().map(Secret::expose), Some("u:p:w"));
        assert_eq!(c.tls.ca, CaSource::Location("/ca.pem".into()));
        let id = c.tls.identity.unwrap();
        assert_eq!(id.certificate, PemSource::File("/c.pem".into()));
        assert_eq!(id.key, PemSource::File("/k.pem".into()));
        assert_eq!(id.key_password.as_ref().map(Secret::expose), Some("kp"));
        let c = from_keys(&keys(&[(URL_KEY, "http://r"), (BEARER_KEY, "tok")]))
            .unwrap()
            .unwrap();
        assert_eq!(c.bearer.as_ref().map(Secret::expose), Some("tok"));
    }

    /// Each bad configuration, and the key its error names.
    #[test]
    fn bad_keys_are_refused_naming_the_key() {
        let table: &[(&[(&str, &str)], &str)] = &[
            (&[(URL_KEY, "a:1")], URL_KEY),
            (&[(URL_KEY, "http://")], URL_KEY),
            (&[(URL_KEY, "ftp://a")], URL_KEY),
            (&[(URL_KEY, " , ")], URL_KEY),
            (&[(URL_KEY, "http://a,b:1")], URL_KEY),
            (&[(BASIC_KEY, "u:p")], URL_KEY),
            (&[(URL_KEY, "http://a"), (BASIC_KEY, "nocolon")], BASIC_KEY),
            (
                &[(URL_KEY, "http://a"), (BASIC_KEY, "u:p"), (BEARER_KEY, "t")],
                BEARER_KEY,
            ),
            (
                &[(URL_KEY, "http://a"), (BASIC_SOURCE_KEY, "URL")],
                BASIC_SOURCE_KEY,
            ),
            (&[(URL_KEY, "http://a"), (CERT_KEY, "/c")], KEY_KEY),
            (&[(URL_KEY, "http://a"), (KEY_KEY, "/k")], CERT_KEY),
            (&[(URL_KEY, "http://a"), (KEY_PASSWORD_KEY, "x")], KEY_KEY),
            (
                &[
                    (URL_KEY, "http://a"),
                    ("schema.registry.ssl.ca.locaton", "/x"),
                ],
                "schema.registry.ssl.ca.locaton",
            ),
        ];
        for (case, key) in table {
            let err = from_keys(&keys(case)).unwrap_err().to_string();
            assert!(err.contains(key), "{case:?}: {err}");
        }
        let typo = from_keys(&keys(&[
            (URL_KEY, "http://a"),
            ("schema.registry.urll", "x"),
        ]));
        assert!(
            matches!(&typo, Err(ConfigError::UnknownKey { suggestion: Some(s), .. }) if *s == URL_KEY),
            "{typo:?}"
        );
    }

    /// No secret reaches `Debug` or an error: basic and bearer credentials, a key password,
    /// a password in a URL.
    #[test]
    fn secrets_never_print() {
        let table: &[&[(&str, &str)]] = &[
            &[
                (URL_KEY, "http://bob:SECRET1@a:1"),
                (BASIC_KEY, "alice:SECRET2"),
            ],
            &[(URL_KEY, "https://a"), (BEARER_KEY, "SECRET3")],
            &[
                (URL_KEY, "https://a"),
                (CERT_KEY, "/c"),
                (KEY_KEY, "/k"),
                (KEY_PASSWORD_KEY, "SECRET4"),
            ],
        ];
        for case in table {
            let c = from_keys(&keys(case)).unwrap().unwrap();
            let shown = format!("{c:?} {}", c.shown_urls());
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
        }
        let errors: &[&[(&str, &str)]] = &[
            &[(URL_KEY, "ftp://bob:SECRET5@a")],
            &[(URL_KEY, "http://a"), (BASIC_KEY, "SECRET6")],
            &[
                (URL_KEY, "http://a"),
                (BASIC_KEY, "u:SECRET7"),
                (BEARER_KEY, "SECRET8"),
            ],
        ];
        for case in errors {
            let e = from_keys(&keys(case)).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
        }
    }

    #[test]
    fn urls_are_redacted() {
        let table = [
            ("http://a:1/x", "http://a:1/x"),
            ("http://u:p@a:1/x", "http://[redacted]@a:1/x"),
            ("https://u@a", "https://[redacted]@a"),
            ("http://a/p@q", "http://a/p@q"),
            ("nourl", "nourl"),
        ];
        for (url, want) in table {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
