//! TLS for every connection (bootstrap, brokers, reconnections): rustls on the `ring`
//! provider, chosen explicitly so the binary holds one crypto provider and builds statically.
//!
//! * Trust: a CA file or directory, inline PEM, the system's bundle (`probe`), or by default
//!   the Mozilla roots compiled in (`webpki-roots`), so a static binary in an empty root can
//!   still verify a public CA.
//! * The host name verified (and sent as SNI) is the one kbatch connects to: the bootstrap
//!   address, then each broker's *advertised* host from Metadata, as the Java client does.
//! * `verify_hostname = false` still verifies the chain; `verify_certificate = false` verifies
//!   nothing but the handshake signatures (development only).
//! * Client certificates (mutual TLS) from PEM: PKCS#8, PKCS#1 and SEC1 keys; encrypted PKCS#8
//!   (PBES2, as `openssl pkcs8 -topk8` writes it) with `ssl.key.password`. Legacy
//!   `Proc-Type: ENCRYPTED` keys are refused with the `openssl` command that converts them.
//!
//! * The OAuth token endpoint ([`token_endpoint_config`]) gets a configuration of its own:
//!   always chain and host name checked, against the public roots plus `https.ca.location` /
//!   `https.ca.pem`, never the brokers' `ssl.*` settings.
//!
//! Handshake failures are turned into one sentence naming the cause (unknown CA, expired, host
//! name mismatch, not a TLS port), because rustls' own messages name ASN.1 details.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::security::{CaSource, ClientIdentity, PemSource, TlsSettings};
use crate::Secret;

/// Files and directories `ssl.ca.location=probe` looks at, as librdkafka does.
const PROBE_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/openssl/cert.pem",
];
const PROBE_DIRS: &[&str] = &[
    "/etc/ssl/certs",
    "/etc/pki/tls/certs",
    "/system/etc/security/cacerts",
];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client configuration for `settings`. Errors are sentences naming the file or
/// setting at fault (never a key's content).
pub(crate) fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = if settings.verify_certificate {
        let roots = Arc::new(roots(&settings.ca, "ssl.ca.pem")?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| format!("TLS setup: {e}"))?;
        if settings.verify_hostname {
            webpki
        } else {
            Arc::new(AnyHostName(webpki))
        }
    } else {
        Arc::new(NoVerification(provider))
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &settings.identity {
        None => builder.with_no_client_auth(),
        Some(id) => {
            let (chain, key) = identity(id)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key do not fit: {e}"))?
        }
    };
    Ok(Arc::new(config))
}

/// The rustls configuration of an HTTPS client other than a broker's connection (the Schema
/// Registry's): the same checks and sources as the brokers' ([`TlsSettings`]), its own values.
pub fn https_client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
    client_config(settings)
}

/// The rustls configuration for the OAuth token endpoint: the public roots compiled in, plus
/// the CA certificates of `extra` (`https.ca.location` / `https.ca.pem`), chain and host name
/// always verified, no client certificate. Nothing of the brokers' [`TlsSettings`] is an input,
/// so `ssl.endpoint.identification.algorithm=none`, `enable.ssl.certificate.verification=false`
/// or a private `ssl.ca.location` cannot loosen or replace the identity provider's checks.
pub(crate) fn token_endpoint_config(extra: Option<&CaSource>) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let mut store = roots(&CaSource::BuiltIn, "")?;
    if let Some(ca) = extra.filter(|ca| **ca != CaSource::BuiltIn) {
        store.roots.extend(roots(ca, "https.ca.pem")?.roots);
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_webpki_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn roots(ca: &CaSource, pem_key: &str) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let certs = match ca {
        CaSource::BuiltIn => {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            return Ok(store);
        }
        CaSource::Pem(text) => certs_in(text.as_bytes(), pem_key)?,
        CaSource::Location(path) if path.is_dir() => certs_in_dir(path)?,
        CaSource::Location(path) => certs_in(&read(path, "CA file")?, &path.display().to_string())?,
        CaSource::Probe => probe()?,
    };
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "no usable CA certificate in {}",
            describe_ca(ca, pem_key)
        ));
    }
    Ok(store)
}

fn describe_ca(ca: &CaSource, pem_key: &str) -> String {
    match ca {
        CaSource::BuiltIn => "the built-in roots".into(),
        CaSource::Pem(_) => pem_key.into(),
        CaSource::Location(p) => p.display().to_string(),
        CaSource::Probe => "the system's CA locations".into(),
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

fn certs_in(pem: &[u8], origin: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{origin} is not valid PEM: {e}"))
}

/// Every PEM certificate in the files of `dir`; files that hold none are skipped (hash
/// links and other clutter live in CA directories).
fn certs_in_dir(dir: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read CA directory {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        if let Ok(bytes) = std::fs::read(&path) {
            out.extend(CertificateDer::pem_slice_iter(&bytes).filter_map(Result::ok));
        }
    }
    Ok(out)
}

fn probe() -> Result<Vec<CertificateDer<'static>>, String> {
    for f in PROBE_FILES {
        if let Ok(bytes) = std::fs::read(f) {
            let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
                .filter_map(Result::ok)
                .collect();
            if !certs.is_empty() {
                return Ok(certs);
            }
        }
    }
    for d in PROBE_DIRS {
        let certs = certs_in_dir(Path::new(d)).unwrap_or_default();
        if !certs.is_empty() {
            return Ok(certs);
        }
    }
    Err("ssl.ca.location=probe found no CA bundle on this system".into())
}

fn pem_bytes(src: &PemSource, what: &str) -> Result<(Vec<u8>, String), String> {
    match src {
        PemSource::File(p) => Ok((read(p, what)?, p.display().to_string())),
        PemSource::Inline(s) => Ok((s.expose().as_bytes().to_vec(), format!("the inline {what}"))),
    }
}

fn identity(
    id: &ClientIdentity,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let (cert_pem, cert_origin) = pem_bytes(&id.certificate, "client certificate")?;
    let chain = certs_in(&cert_pem, &cert_origin)?;
    if chain.is_empty() {
        return Err(format!("no certificate in {cert_origin}"));
    }
    let (key_pem, key_origin) = pem_bytes(&id.key, "private key")?;
    let key = private_key(&key_pem, &key_origin, id.key_password.as_ref())?;
    Ok((chain, key))
}

/// The private key in `pem`: PKCS#8 (encrypted too, with `password`), PKCS#1 or SEC1. Legacy
/// encrypted keys get the command that converts them (the key's bytes never go into the
/// message).
pub(crate) fn private_key(
    pem: &[u8],
    origin: &str,
    password: Option<&Secret>,
) -> Result<PrivateKeyDer<'static>, String> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "{origin} is a legacy encrypted PEM key (Proc-Type: ENCRYPTED); convert it with \
             `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8.pem`"
        ));
    }
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let Some(password) = password else {
            return Err(format!(
                "{origin} is an encrypted PKCS#8 key: set ssl.key.password"
            ));
        };
        let der = pem_section(&text, "ENCRYPTED PRIVATE KEY")
            .ok_or_else(|| format!("the encrypted key in {origin} is not valid PEM"))?;
        return decrypt_pkcs8(&der, password)
            .map_err(|why| format!("cannot decrypt {origin}: {why}"));
    }
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|_| format!("no PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key found in {origin}"))
}

/// The base64 body of the first `label` section of a PEM text, decoded.
fn pem_section(text: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Decrypt an `EncryptedPrivateKeyInfo` (PBES2: PBKDF2 or scrypt, AES-CBC).
fn decrypt_pkcs8(der: &[u8], password: &Secret) -> Result<PrivateKeyDer<'static>, String> {
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der)
        .map_err(|_| "it is not a valid encrypted PKCS#8 key".to_string())?;
    let doc = info.decrypt(password.expose().as_bytes()).map_err(|_| {
        "wrong ssl.key.password, or a cipher kbatch does not know (PBES2 with AES-CBC is \
         supported; re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`)"
            .to_string()
    })?;
    Ok(PrivateKeyDer::Pkcs8(
        rustls::pki_types::PrivatePkcs8KeyDer::from(doc.as_bytes().to_vec()),
    ))
}

/// The host part of `host:port` (`[v6]:port` too), as verified and sent as SNI.
pub(crate) fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Whose certificate a handshake checks: the words and the settings its failures name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// A Kafka broker (`ssl.*`).
    Broker,
    /// The OAuth token endpoint (`https.ca.*`).
    TokenEndpoint,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Broker => "the broker",
            Peer::TokenEndpoint => "the token endpoint",
        }
    }
}

/// The TLS handshake with a broker over `stream`, verifying `host`.
pub(crate) async fn handshake<S>(
    stream: S,
    addr: &str,
    config: Arc<ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    handshake_with(stream, addr, config, Peer::Broker).await
}

/// The TLS handshake with `peer` over `stream`, verifying `host`.
pub(crate) async fn handshake_with<S>(
    stream: S,
    addr: &str,
    config: Arc<ClientConfig>,
    peer: Peer,
) -> Result<tokio_rustls::client::TlsStream<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let host = host_of(addr);
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host:?} is not a valid TLS server name"))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| failure(&e, host, peer))
}

/// One sentence for a failed handshake with `peer`: what was wrong and which setting is
/// involved.
fn failure(e: &std::io::Error, host: &str, peer: Peer) -> String {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return match (e.kind(), peer) {
            (std::io::ErrorKind::UnexpectedEof, Peer::Broker) => {
                "the broker closed the connection during the TLS handshake: is this a \
                 PLAINTEXT listener? (check security.protocol)"
                    .into()
            }
            (std::io::ErrorKind::UnexpectedEof, Peer::TokenEndpoint) => {
                "the token endpoint closed the connection during the TLS handshake: does it \
                 speak https?"
                    .into()
            }
            _ => format!("TLS handshake failed: {e}"),
        };
    };
    match peer {
        Peer::Broker => describe(tls, host),
        Peer::TokenEndpoint => describe_token_endpoint(tls, host),
    }
}

/// [`describe`] for the token endpoint, whose settings are `https.ca.*` and which has no
/// switch to turn checks off.
fn describe_token_endpoint(e: &rustls::Error, host: &str) -> String {
    use CertificateError as C;
    let who = Peer::TokenEndpoint.name();
    match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => format!(
            "{who}'s certificate is not signed by a public CA nor one in https.ca.location / \
             https.ca.pem (the brokers' ssl.* settings do not apply to it)"
        ),
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => format!("{who}'s certificate is not valid for host name {host}"),
        rustls::Error::InvalidMessage(_) => {
            format!("{who} did not answer with TLS: does it speak https?")
        }
        other => describe(other, host).replacen("the broker", who, 1),
    }
}

/// A TLS alert received on an established connection (a client certificate refused after
/// a TLS 1.3 handshake), in words; `None` for any other I/O error.
pub(crate) fn refusal_after_handshake(e: &std::io::Error) -> Option<String> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(format!(
            "the broker ended the TLS session ({alert:?}): does the listener require a client \
             certificate (ssl.certificate.location) that it did not get or did not trust?"
        )),
        _ => None,
    }
}

fn describe(e: &rustls::Error, host: &str) -> String {
    use CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the broker's certificate is not signed by a trusted CA \
                 (check ssl.ca.location)"
                .into(),
            C::Expired | C::ExpiredContext { .. } => "the broker's certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the broker's certificate is not valid yet".into()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                "the broker's certificate is not valid for host name {host} (it must name the \
                 advertised host; ssl.endpoint.identification.algorithm=none turns the check off)"
            ),
            other => format!("the broker's certificate was refused: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "the broker refused the TLS handshake ({alert:?}): does the listener require a \
             client certificate (ssl.certificate.location), or a TLS version or cipher kbatch \
             does not offer?"
        ),
        rustls::Error::InvalidMessage(_) => {
            "the broker did not answer with TLS: is this a PLAINTEXT listener? (check \
             security.protocol)"
                .into()
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

/// Verifies the chain like the default verifier but accepts any host name
/// (`ssl.endpoint.identification.algorithm=none`).
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The chain, validity and OCSP checks come before the name check, so a name error
        // means everything else passed.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Accepts any certificate (`enable.ssl.certificate.verification=false`) but still checks
/// that the handshake is signed by the key in it.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for (addr, host) in [
            ("localhost:9093", "localhost"),
            ("127.0.0.1:1", "127.0.0.1"),
            ("[::1]:9092", "::1"),
            ("broker-1.example.com:9094", "broker-1.example.com"),
        ] {
            assert_eq!(host_of(addr), host, "{addr}");
        }
    }

    #[test]
    fn legacy_encrypted_keys_are_refused_with_a_conversion_and_no_key_bytes() {
        let legacy = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nSECRETBYTES\n-----END RSA PRIVATE KEY-----\n";
        let e = private_key(legacy, "k.pem", None).unwrap_err();
        assert!(e.contains("openssl pkcs8"), "{e}");
        assert!(!e.contains("SECRETBYTES"));
        let p8 = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nSECRETBYTES\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = private_key(p8, "k.pem", None).unwrap_err();
        assert!(e.contains("ssl.key.password"), "{e}");
        let e = private_key(p8, "k.pem", Some(&Secret::new("pw"))).unwrap_err();
        assert!(!e.contains("SECRETBYTES") && !e.contains("pw\""), "{e}");
        let e = private_key(b"not a key", "k.pem", None).unwrap_err();
        assert!(e.contains("PKCS#8"), "{e}");
    }

    #[test]
    fn built_in_roots_and_missing_files() {
        assert!(client_config(&TlsSettings::default()).is_ok());
        let missing = TlsSettings {
            ca: CaSource::Location("/no/such/ca.pem".into()),
            ..TlsSettings::default()
        };
        let e = client_config(&missing).unwrap_err();
        assert!(e.contains("/no/such/ca.pem"), "{e}");
        let empty = TlsSettings {
            ca: CaSource::Pem("no certificates here".into()),
            ..TlsSettings::default()
        };
        assert!(client_config(&empty).is_err());
    }

    #[test]
    fn failures_read_as_causes() {
        let e = describe(
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            "h",
        );
        assert!(e.contains("trusted CA"), "{e}");
        let e = describe(
            &rustls::Error::InvalidCertificate(CertificateError::Expired),
            "h",
        );
        assert!(e.contains("expired"), "{e}");
        let e = describe(
            &rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
            "broker.example",
        );
        assert!(e.contains("broker.example"), "{e}");
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert!(failure(&eof, "h", Peer::Broker).contains("PLAINTEXT"));
        let e = failure(&eof, "h", Peer::TokenEndpoint);
        assert!(
            e.contains("token endpoint") && !e.contains("PLAINTEXT"),
            "{e}"
        );
        let e = describe_token_endpoint(
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            "idp",
        );
        assert!(
            e.contains("https.ca.location") && !e.contains("(check ssl"),
            "{e}"
        );
        assert_eq!(refusal_after_handshake(&eof), None);
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired),
        );
        let e = refusal_after_handshake(&alert).unwrap();
        assert!(
            e.contains("CertificateRequired") && e.contains("client"),
            "{e}"
        );
    }

    /// An EC key encrypted by `openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:test-only`
    /// (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC), made for this test and used nowhere else.
    const ENCRYPTED: &str = include_str!("../testdata/encrypted-pkcs8.pem");
    const PLAIN: &str = include_str!("../testdata/plain-pkcs8.pem");

    #[test]
    fn encrypted_pkcs8_keys_decrypt_with_the_password() {
        let key = private_key(
            ENCRYPTED.as_bytes(),
            "k.pem",
            Some(&Secret::new("test-only")),
        )
        .unwrap();
        let plain = private_key(PLAIN.as_bytes(), "p.pem", None).unwrap();
        assert_eq!(key.secret_der(), plain.secret_der());
        let e =
            private_key(ENCRYPTED.as_bytes(), "k.pem", Some(&Secret::new("wrong"))).unwrap_err();
        assert!(e.contains("wrong ssl.key.password"), "{e}");
        assert!(!e.contains("test-only"));
    }
}
