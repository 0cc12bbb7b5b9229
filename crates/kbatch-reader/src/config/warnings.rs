//! What a configuration that works still exposes: credentials sent in clear, certificate or
//! host-name checks switched off. Not errors (development clusters and test identity
//! providers need these settings), but a user must not have them by accident, so every front
//! end shows them once per run: the CLI on stderr (`warning: …`), Python through
//! `warnings.warn`. A pure function of the resolved [`Config`], so it is table-tested and each
//! front end only prints.

use std::fmt;

use kbatch_wire::{Protocol, SaslSettings};

use super::Config;

/// One risky setting in a resolved [`Config`] (see [`Config::security_warnings`]). `Display`
/// is the sentence to show: what is exposed and the key that does it, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityWarning {
    /// PLAIN or OAUTHBEARER over `SASL_PLAINTEXT`: the password or the bearer token crosses
    /// the network unencrypted, and anyone who sees it can reuse it.
    CleartextCredentials {
        /// `PLAIN` or `OAUTHBEARER`.
        mechanism: &'static str,
    },
    /// `enable.ssl.certificate.verification=false` on a TLS connection: any certificate is
    /// accepted for the brokers, so anyone on the path can read and change the data.
    BrokerCertificateUnchecked,
    /// `ssl.endpoint.identification.algorithm=none` on a TLS connection (the certificate is
    /// still checked): any certificate of a trusted CA passes for any broker.
    BrokerHostNameUnchecked,
    /// `sasl.oauthbearer.token.endpoint.allow.http=true` with an `http://` token endpoint: the
    /// client secret and the token cross the network unencrypted and the identity provider is
    /// not authenticated.
    TokenEndpointPlainHttp,
}

impl fmt::Display for SecurityWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecurityWarning::CleartextCredentials { mechanism } => write!(
                f,
                "security.protocol=SASL_PLAINTEXT with sasl.mechanism={mechanism}: the {} \
                 crosses the network unencrypted; use SASL_SSL",
                if *mechanism == "PLAIN" {
                    "password"
                } else {
                    "bearer token"
                }
            ),
            SecurityWarning::BrokerCertificateUnchecked => f.write_str(
                "enable.ssl.certificate.verification=false: the brokers' certificates are not \
                 checked, so anyone on the network path can pose as a broker",
            ),
            SecurityWarning::BrokerHostNameUnchecked => f.write_str(
                "ssl.endpoint.identification.algorithm=none: the brokers' host names are not \
                 checked against their certificates, so any certificate of a trusted CA passes \
                 for any broker",
            ),
            SecurityWarning::TokenEndpointPlainHttp => f.write_str(
                "sasl.oauthbearer.token.endpoint.allow.http=true: the client secret and the \
                 token go to the token endpoint over plain http, unencrypted and to an \
                 unauthenticated server (for test identity providers only)",
            ),
        }
    }
}

impl Config {
    /// The risky settings of this configuration, in a fixed order, each once: credentials in
    /// clear (PLAIN or OAUTHBEARER over `SASL_PLAINTEXT`, a plain-http token endpoint) and
    /// broker certificate or host-name checks switched off on a TLS connection. Empty for a
    /// configuration with nothing to say. Front ends show each once per run (the CLI as
    /// `warning: …` on stderr, Python with `warnings.warn`); the reader never prints them.
    pub fn security_warnings(&self) -> Vec<SecurityWarning> {
        let security = &self.security;
        let mut out = Vec::new();
        if let Some(sasl) = security.sasl.as_ref().filter(|_| security.protocol.sasl()) {
            let mechanism = sasl.mechanism();
            let cleartext = matches!(
                sasl,
                SaslSettings::Plain { .. }
                    | SaslSettings::OAuthBearerUnsecured { .. }
                    | SaslSettings::OAuthBearerOidc { .. }
            );
            if cleartext && security.protocol == Protocol::SaslPlaintext {
                out.push(SecurityWarning::CleartextCredentials { mechanism });
            }
            if let SaslSettings::OAuthBearerOidc {
                token_endpoint,
                allow_http,
                ..
            } = sasl
            {
                let http = token_endpoint
                    .get(..7)
                    .is_some_and(|s| s.eq_ignore_ascii_case("http://"));
                if *allow_http && http {
                    out.push(SecurityWarning::TokenEndpointPlainHttp);
                }
            }
        }
        if security.protocol.tls() {
            if !security.tls.verify_certificate {
                // Nothing is checked, the host name included: one warning says it all.
                out.push(SecurityWarning::BrokerCertificateUnchecked);
            } else if !security.tls.verify_hostname {
                out.push(SecurityWarning::BrokerHostNameUnchecked);
            }
        }
        out
    }
}
