//! How connections reach a secured cluster: the security protocol, TLS settings and SASL
//! credentials, as plain data.
//!
//! These are the typed form of the client keys Kafka users already write
//! (`security.protocol`, `ssl.*`, `sasl.*`); `kbatch-reader`'s `Config::from_properties`
//! builds them from key/value pairs. Secrets are [`Secret`]s, so `{:?}` of any of these types
//! prints no password, token or private key.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::sasl::oidc::TokenCache;
use crate::Secret;

/// `security.protocol`: whether connections use TLS, SASL, both or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Plain TCP (default).
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl Protocol {
    /// Parse librdkafka's and Java's names, case-insensitively.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plaintext" => Some(Protocol::Plaintext),
            "ssl" => Some(Protocol::Ssl),
            "sasl_plaintext" => Some(Protocol::SaslPlaintext),
            "sasl_ssl" => Some(Protocol::SaslSsl),
            _ => None,
        }
    }

    /// Connections are wrapped in TLS.
    pub fn tls(self) -> bool {
        matches!(self, Protocol::Ssl | Protocol::SaslSsl)
    }

    /// Connections authenticate with SASL before any other request.
    pub fn sasl(self) -> bool {
        matches!(self, Protocol::SaslPlaintext | Protocol::SaslSsl)
    }

    /// Kafka's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Plaintext => "PLAINTEXT",
            Protocol::Ssl => "SSL",
            Protocol::SaslPlaintext => "SASL_PLAINTEXT",
            Protocol::SaslSsl => "SASL_SSL",
        }
    }
}

/// Everything security-related a connection needs.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// TLS, SASL, both or neither.
    pub protocol: Protocol,
    /// Used when `protocol` has TLS.
    pub tls: TlsSettings,
    /// Used when `protocol` has SASL (required then).
    pub sasl: Option<SaslSettings>,
}

/// How the broker's certificate is checked, and the client's own certificate. Brokers only:
/// the OAuth token endpoint is always fully verified, against the public roots plus its own
/// `https_ca` ([`SaslSettings::OAuthBearerOidc`]).
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Where trusted CA certificates come from.
    pub ca: CaSource,
    /// A client certificate and key, for listeners with `ssl.client.auth=required`.
    pub identity: Option<ClientIdentity>,
    /// Check that the certificate names the broker's advertised host (default true;
    /// `ssl.endpoint.identification.algorithm=none` or empty turns it off).
    pub verify_hostname: bool,
    /// Check the certificate at all (default true; `enable.ssl.certificate.verification`).
    pub verify_certificate: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            ca: CaSource::BuiltIn,
            identity: None,
            verify_hostname: true,
            verify_certificate: true,
        }
    }
}

/// Trusted CA certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CaSource {
    /// The Mozilla roots compiled into the binary (works in an empty root).
    #[default]
    BuiltIn,
    /// A PEM file, or a directory of PEM files (`ssl.ca.location`, `ssl.truststore.location`).
    Location(PathBuf),
    /// PEM text (`ssl.ca.pem`, `ssl.truststore.certificates`).
    Pem(String),
    /// The system's usual CA bundle files and directories (`ssl.ca.location=probe`).
    Probe,
}

/// PEM data in a file, or inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A file path.
    File(PathBuf),
    /// The PEM text itself (a private key inline is a secret).
    Inline(Secret),
}

/// A client certificate chain and its private key (mutual TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub certificate: PemSource,
    /// The private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key: PemSource,
    /// The password of an encrypted PKCS#8 key (`ssl.key.password`); unused for plain keys.
    pub key_password: Option<Secret>,
}

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

/// The SASL mechanism and its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslSettings {
    /// PLAIN: user name and password, sent as they are (use it over TLS).
    Plain {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// SCRAM-SHA-256 or SCRAM-SHA-512 (RFC 5802/7677).
    Scram {
        /// Which hash.
        hash: ScramHash,
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// OAUTHBEARER with an unsecured development JWT (`sasl.oauthbearer.config`), as
    /// librdkafka makes it: accepted by Kafka's unsecured validator only.
    OAuthBearerUnsecured {
        /// The `sub` claim.
        principal: String,
        /// The `scope` claim.
        scope: Vec<String>,
        /// Token lifetime (`lifeSeconds`, default 3600 s; at most [`MAX_UNSECURED_LIFE`]).
        life: Duration,
        /// SASL extensions (`extension_NAME=value`).
        extensions: Vec<(String, String)>,
    },
    /// OAUTHBEARER with tokens from an OAuth 2 token endpoint, client-credentials grant
    /// (`sasl.oauthbearer.method=oidc`).
    OAuthBearerOidc {
        /// The token endpoint (`https://…`; `http://` only with `allow_http`).
        token_endpoint: String,
        /// Plain `http://` allowed for the token endpoint
        /// (`sasl.oauthbearer.token.endpoint.allow.http`, default false): the client secret
        /// then crosses the network unencrypted, so only for test identity providers.
        allow_http: bool,
        /// CA certificates trusted for the token endpoint besides the public roots
        /// (`https.ca.location` / `https.ca.pem`). The brokers' TLS settings never apply to it.
        https_ca: Option<CaSource>,
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: Secret,
        /// The scope asked for, if any.
        scope: Option<String>,
        /// The token, shared by the connections made with these settings.
        cache: TokenCache,
    },
}

/// The longest `lifeSeconds` of an unsecured development token: its `exp` claim, in
/// milliseconds, must still fit the signed 64-bit numbers Kafka's validator reads it into,
/// for as long as anyone will run this.
pub const MAX_UNSECURED_LIFE: Duration = Duration::from_secs(1 << 40);

/// Whether `url` may be the token endpoint: `https://`, or `http://` when `allow_http`
/// (`sasl.oauthbearer.token.endpoint.allow.http=true`). The error names that key.
pub fn check_token_endpoint(url: &str, allow_http: bool) -> Result<(), String> {
    crate::sasl::oidc::parse_url(url, allow_http).map(|_| ())
}

impl SaslSettings {
    /// The mechanism's name on the wire.
    pub fn mechanism(&self) -> &'static str {
        match self {
            SaslSettings::Plain { .. } => "PLAIN",
            SaslSettings::Scram {
                hash: ScramHash::Sha256,
                ..
            } => "SCRAM-SHA-256",
            SaslSettings::Scram {
                hash: ScramHash::Sha512,
                ..
            } => "SCRAM-SHA-512",
            SaslSettings::OAuthBearerUnsecured { .. } | SaslSettings::OAuthBearerOidc { .. } => {
                "OAUTHBEARER"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols() {
        for (text, p) in [
            ("plaintext", Protocol::Plaintext),
            ("SSL", Protocol::Ssl),
            ("Sasl_Plaintext", Protocol::SaslPlaintext),
            (" sasl_ssl ", Protocol::SaslSsl),
        ] {
            assert_eq!(Protocol::parse(text), Some(p), "{text}");
            assert_eq!(Protocol::parse(p.name()), Some(p));
        }
        assert_eq!(Protocol::parse("tls"), None);
        assert!(Protocol::SaslSsl.tls() && Protocol::SaslSsl.sasl());
        assert!(!Protocol::Ssl.sasl() && !Protocol::SaslPlaintext.tls());
    }

    #[test]
    fn debug_has_no_secrets() {
        let s = Security {
            protocol: Protocol::SaslSsl,
            tls: TlsSettings {
                identity: Some(ClientIdentity {
                    certificate: PemSource::File("c.pem".into()),
                    key: PemSource::Inline(Secret::new("-----BEGIN PRIVATE KEY-----xyz")),
                    key_password: Some(Secret::new("keypass")),
                }),
                ..TlsSettings::default()
            },
            sasl: Some(SaslSettings::Scram {
                hash: ScramHash::Sha512,
                username: "alice".into(),
                password: Secret::new("pa55word"),
            }),
        };
        let text = format!("{s:?} {s:#?}");
        for secret in ["pa55word", "keypass", "BEGIN PRIVATE KEY"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("alice"));
    }
}
