//! kbatch's Kafka wire client: talking to one broker, and to the cluster.
//!
//! * A [`Connection`] is one TCP connection to one broker: length-prefixed frames with a size
//!   limit and guards against peers that are not Kafka (HTTP, TLS), correlation ids, several
//!   requests in flight, a request timeout that *closes* the connection, and ApiVersions
//!   negotiation (the highest version both sides speak of each API kbatch uses).
//! * A [`Cluster`] keeps a bootstrap connection for Metadata and one connection per broker.
//! * `messages::*` encode requests with `kafka-protocol` and decode responses with our own
//!   bounded decoders: no response, however hostile, allocates more than a small multiple of
//!   its own size (the `decode` module).
//! * [`kafka_code`] is the one table of Kafka error codes, with what a reader should do.
//!
//! * Secured clusters: [`Security`] says whether connections use TLS ([`tls`](self) on rustls
//!   with the `ring` provider, hostname verified by default) and SASL (PLAIN, SCRAM-SHA-256/512,
//!   OAUTHBEARER, as pure state machines driven over SaslHandshake v1 + SaslAuthenticate).
//!   Both apply to every connection: bootstrap, brokers, reconnections. Passwords, tokens and
//!   keys are [`Secret`]s, which never print.
//!
//! Connections are generic over the stream ([`Connection::over`]), so tests run over
//! `tokio::io::duplex` without a broker. Host names are resolved without the C library's NSS
//! ([`resolve`]), so a fully static binary resolves `/etc/hosts` and DNS on any host.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cluster;
mod conn;
mod decode;
mod error;
// Public for the fuzz targets (crates/kbatch-wire/fuzz), which decode responses directly.
pub mod messages;
// Public for export's HTTP client, which resolves names as the brokers' connections do.
pub mod resolve;
mod sasl;
mod secret;
mod security;
mod tls;

use std::time::Duration;

pub use cluster::Cluster;
pub use conn::{Connection, Versions};
pub use decode::DecodeError;
pub use error::{codes, kafka_code, ErrorClass, KafkaCode, WireError};
pub use messages::fetch::{
    FetchPartitionRequest, FetchPartitionResponse, FetchRequest, FetchResponse,
};
pub use messages::list_offsets::{ListOffsetsPartition, ListOffsetsRequest, ListOffsetsResponse};
pub use messages::metadata::{BrokerMeta, MetadataResponse, PartitionMeta, TopicMeta};
pub use secret::Secret;
pub use security::{
    check_token_endpoint, CaSource, ClientIdentity, PemSource, Protocol, SaslSettings, ScramHash,
    Security, TlsSettings, TokenCache, MAX_UNSECURED_LIFE,
};
pub use tls::https_client_config;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct WireConfig {
    /// Client id sent with every request.
    pub client_id: String,
    /// Largest response frame accepted (default 100 MiB).
    pub frame_limit: usize,
    /// A request not answered within this closes its connection (default 30 s).
    pub request_timeout: Duration,
    /// Resolving and connecting must finish within this (default 10 s).
    pub connect_timeout: Duration,
    /// TLS and SASL for every connection (default: PLAINTEXT).
    pub security: Security,
}

impl Default for WireConfig {
    fn default() -> Self {
        WireConfig {
            client_id: "kbatch".into(),
            frame_limit: 100 << 20,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            security: Security::default(),
        }
    }
}

#[cfg(test)]
mod tests;
