//! Connection and decoder tests over `tokio::io::duplex` with a scripted fake broker
//! (RELIABILITY.md cases 29, 34, 35, 36), and cross-checks of our decoders against
//! `kafka-protocol` on valid responses.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{self as kp, BrokerId, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::messages::{fetch, list_offsets, metadata};
use crate::*;

fn cfg() -> WireConfig {
    WireConfig {
        request_timeout: Duration::from_millis(500),
        frame_limit: 1 << 20,
        ..WireConfig::default()
    }
}

/// An ApiVersions v3 response body for the given (key, min, max) ranges.
pub(crate) fn api_versions_body(apis: &[(i16, i16, i16)]) -> Vec<u8> {
    let mut b = vec![0, 0];
    b.push(apis.len() as u8 + 1);
    for (k, lo, hi) in apis {
        b.extend_from_slice(&k.to_be_bytes());
        b.extend_from_slice(&lo.to_be_bytes());
        b.extend_from_slice(&hi.to_be_bytes());
        b.push(0);
    }
    b.extend_from_slice(&0i32.to_be_bytes());
    b.push(0);
    b
}

const KAFKA4: &[(i16, i16, i16)] = &[(18, 0, 4), (3, 0, 13), (2, 1, 10), (1, 4, 17)];

struct Req {
    key: i16,
    id: i32,
}

async fn read_req(s: &mut DuplexStream) -> Option<Req> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let mut b = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut b).await.ok()?;
    Some(Req {
        key: i16::from_be_bytes([b[0], b[1]]),
        id: i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    })
}

/// A response frame: size prefix, correlation id, (flexible: empty header tags), body.
pub(crate) fn framed(id: i32, flexible: bool, body: &[u8]) -> Vec<u8> {
    let mut f = id.to_be_bytes().to_vec();
    if flexible {
        f.push(0);
    }
    f.extend_from_slice(body);
    let mut out = (f.len() as u32).to_be_bytes().to_vec();
    out.extend(f);
    out
}

/// A fake broker that answers ApiVersions with `apis`, then hands every other request to
/// `script`, which returns raw bytes to write (or nothing).
fn fake(
    apis: &'static [(i16, i16, i16)],
    mut script: impl FnMut(Req) -> Vec<u8> + Send + 'static,
) -> DuplexStream {
    let (client, mut server) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        while let Some(req) = read_req(&mut server).await {
            let out = if req.key == 18 {
                framed(req.id, false, &api_versions_body(apis))
            } else {
                script(req)
            };
            if server.write_all(&out).await.is_err() {
                return;
            }
        }
    });
    client
}

fn encode<T: Encodable>(msg: &T, version: i16) -> Bytes {
    let mut b = BytesMut::new();
    msg.encode(&mut b, version).unwrap();
    b.freeze()
}

fn sample_metadata() -> kp::MetadataResponse {
    let mut m = kp::MetadataResponse::default();
    let mut b = kp::metadata_response::MetadataResponseBroker::default();
    b.node_id = BrokerId(1);
    b.host = StrBytes::from_static_str("127.0.0.1");
    b.port = 9092;
    b.rack = Some(StrBytes::from_static_str("r1"));
    m.brokers = vec![b];
    m.controller_id = BrokerId(1);
    let mut t = kp::metadata_response::MetadataResponseTopic::default();
    t.name = Some(TopicName(StrBytes::from_static_str("web_stream")));
    t.topic_id = uuid_of(7);
    for i in 0..3 {
        let mut p = kp::metadata_response::MetadataResponsePartition::default();
        p.partition_index = i;
        p.leader_id = BrokerId(1);
        p.leader_epoch = 4;
        p.replica_nodes = vec![BrokerId(1)];
        p.isr_nodes = vec![BrokerId(1)];
        t.partitions.push(p);
    }
    m.topics = vec![t];
    m
}

fn uuid_of(b: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([b; 16])
}

#[test]
fn metadata_decoder_agrees_with_kafka_protocol() {
    let m = sample_metadata();
    for v in metadata::VERSIONS.0..=metadata::VERSIONS.1 {
        let ours = metadata::decode(v, encode(&m, v)).unwrap();
        assert_eq!(ours.brokers.len(), 1);
        assert_eq!(ours.brokers[0].host, "127.0.0.1");
        assert_eq!(ours.brokers[0].rack.as_deref(), Some("r1"));
        assert_eq!(ours.controller_id, 1);
        let t = &ours.topics[0];
        assert_eq!(t.name, "web_stream");
        assert_eq!(t.topic_id, if v >= 10 { [7; 16] } else { [0; 16] });
        assert_eq!(
            t.partitions
                .iter()
                .map(|p| (p.partition, p.leader, p.leader_epoch))
                .collect::<Vec<_>>(),
            vec![(0, 1, 4), (1, 1, 4), (2, 1, 4)]
        );
    }
}

#[test]
fn list_offsets_decoder_agrees_with_kafka_protocol() {
    let mut r = kp::ListOffsetsResponse::default();
    let mut t = kp::list_offsets_response::ListOffsetsTopicResponse::default();
    t.name = TopicName(StrBytes::from_static_str("t"));
    for i in 0..2 {
        let mut p = kp::list_offsets_response::ListOffsetsPartitionResponse::default();
        p.partition_index = i;
        p.error_code = if i == 1 { 6 } else { 0 };
        p.timestamp = 1_700_000_000_000;
        p.offset = 42 + i64::from(i);
        p.leader_epoch = 3;
        t.partitions.push(p);
    }
    r.topics = vec![t];
    for v in list_offsets::VERSIONS.0..=list_offsets::VERSIONS.1 {
        let ours = list_offsets::decode(v, encode(&r, v)).unwrap();
        assert_eq!(ours.topics[0].0, "t");
        assert_eq!(
            ours.topics[0].1,
            vec![
                ListOffsetsPartition {
                    partition: 0,
                    error_code: 0,
                    timestamp: 1_700_000_000_000,
                    offset: 42,
                    leader_epoch: 3
                },
                ListOffsetsPartition {
                    partition: 1,
                    error_code: 6,
                    timestamp: 1_700_000_000_000,
                    offset: 43,
                    leader_epoch: 3
                },
            ]
        );
    }
}

fn sample_fetch(records: &'static [u8]) -> kp::FetchResponse {
    let mut r = kp::FetchResponse::default();
    r.throttle_time_ms = 5;
    let mut t = kp::fetch_response::FetchableTopicResponse::default();
    t.topic = TopicName(StrBytes::from_static_str("web_stream"));
    let mut p = kp::fetch_response::PartitionData::default();
    p.partition_index = 2;
    p.high_watermark = 100;
    p.last_stable_offset = 90;
    p.log_start_offset = 1;
    let mut a = kp::fetch_response::AbortedTransaction::default();
    a.producer_id = 7.into();
    a.first_offset = 50;
    p.aborted_transactions = Some(vec![a]);
    p.records = Some(Bytes::from_static(records));
    t.partitions = vec![p];
    r.responses = vec![t];
    r
}

#[test]
fn fetch_decoder_agrees_with_kafka_protocol() {
    let r = sample_fetch(b"0123456789");
    let ours = fetch::decode(12, encode(&r, 12)).unwrap();
    assert_eq!(ours.throttle_time_ms, 5);
    let (name, parts) = &ours.topics[0];
    assert_eq!(name, "web_stream");
    let p = &parts[0];
    assert_eq!(
        (
            p.partition,
            p.high_watermark,
            p.last_stable_offset,
            p.log_start_offset
        ),
        (2, 100, 90, 1)
    );
    assert_eq!(p.aborted_transactions, vec![(7, 50)]);
    assert_eq!(p.preferred_read_replica, -1);
    assert_eq!(p.diverging_epoch, None);
    assert_eq!(&p.records[..], b"0123456789");
}

#[test]
fn a_diverging_epoch_is_decoded_from_its_tagged_field() {
    // KIP-320: the leader tells a fetcher whose last fetched epoch diverges from its log.
    let mut r = sample_fetch(b"");
    let mut d = kp::fetch_response::EpochEndOffset::default();
    d.epoch = 4;
    d.end_offset = 33;
    r.responses[0].partitions[0].diverging_epoch = d;
    let ours = fetch::decode(12, encode(&r, 12)).unwrap();
    assert_eq!(ours.topics[0].1[0].diverging_epoch, Some((4, 33)));
}

#[test]
fn fetch_requests_carry_epochs_and_no_session() {
    // RELIABILITY case 34: no fetch sessions, so every response is a full one; KIP-320's
    // epochs go out as the reader knows them.
    let req = FetchRequest {
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level: 1,
        topics: vec![(
            "t".into(),
            vec![FetchPartitionRequest {
                partition: 3,
                fetch_offset: 42,
                partition_max_bytes: 4096,
                current_leader_epoch: 7,
                last_fetched_epoch: 6,
            }],
        )],
    };
    let kp = fetch::request(&req);
    assert_eq!((kp.session_id, kp.session_epoch), (0, -1));
    let p = &kp.topics[0].partitions[0];
    assert_eq!(
        (
            p.partition,
            p.fetch_offset,
            p.current_leader_epoch,
            p.last_fetched_epoch
        ),
        (3, 42, 7, 6)
    );
}

#[test]
fn case36_array_count_bombs_are_decode_errors() {
    // Compact array length 2^32 - 1 (count 2^32 - 2) in a tiny body.
    let mut m = 0i32.to_be_bytes().to_vec();
    m.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0]);
    assert!(metadata::decode(12, Bytes::from(m.clone())).is_err());
    let mut f = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    f.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(fetch::decode(12, Bytes::from(f)).is_err());
    assert!(list_offsets::decode(7, Bytes::from(m)).is_err());
    // Classic int32 count 0x7FFFFFFF (ApiVersions v0).
    let a = [0u8, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0];
    assert!(crate::messages::api_versions::decode(0, Bytes::copy_from_slice(&a)).is_err());
}

#[test]
fn trailing_bytes_are_an_error() {
    let r = sample_fetch(b"x");
    let mut body = encode(&r, 12).to_vec();
    body.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7]);
    let err = fetch::decode(12, Bytes::from(body)).unwrap_err();
    assert!(err.to_string().contains("trailing"), "{err}");
}

#[tokio::test]
async fn negotiation_picks_the_highest_common_version() {
    let conn = Connection::over(fake(KAFKA4, |_| vec![]), "fake:1".into(), &cfg())
        .await
        .unwrap();
    assert_eq!(
        conn.versions(),
        Versions {
            metadata: 12,
            list_offsets: 9,
            fetch: 12
        }
    );
    let old: &'static [(i16, i16, i16)] = &[(18, 0, 3), (3, 0, 12), (2, 0, 7), (1, 0, 11)];
    let err = Connection::over(fake(old, |_| vec![]), "old:1".into(), &cfg())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            WireError::BrokerTooOld {
                api: "Fetch",
                broker_max: 11,
                need: 12,
                ..
            }
        ),
        "{err}"
    );
}

async fn first_error(reply: Vec<u8>) -> WireError {
    let (client, mut server) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let _ = read_req(&mut server).await;
        let _ = server.write_all(&reply).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    Connection::over(client, "peer:1".into(), &cfg())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn case35_frame_guards() {
    assert!(matches!(
        first_error((-1i32).to_be_bytes().to_vec()).await,
        WireError::FrameTooLarge { size: -1, .. }
    ));
    let e = first_error(0x7fff_ffffu32.to_be_bytes().to_vec()).await;
    assert!(
        matches!(
            e,
            WireError::FrameTooLarge {
                size: 2147483647,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("2147483647"));
    assert!(matches!(
        first_error(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()).await,
        WireError::LooksLikeHttp { .. }
    ));
    assert!(matches!(
        first_error(vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]).await,
        WireError::LooksLikeTls { .. }
    ));
}

#[tokio::test]
async fn case29_wrong_correlation_id_poisons_the_connection() {
    let conn = Connection::over(
        fake(KAFKA4, |req| framed(req.id + 100, true, &[0; 8])),
        "fake:1".into(),
        &cfg(),
    )
    .await
    .unwrap();
    let err = conn.metadata(None).await.unwrap_err();
    assert!(matches!(err, WireError::Protocol { .. }), "{err}");
    assert!(conn.is_closed());
    assert!(conn.metadata(None).await.is_err());
}

#[tokio::test]
async fn timeout_closes_the_connection() {
    let conn = Connection::over(fake(KAFKA4, |_| vec![]), "silent:1".into(), &cfg())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = conn.metadata(None).await.unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Timeout {
                api: "Metadata",
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(conn.is_closed());
    assert!(err.is_retriable());
}

#[tokio::test]
async fn two_requests_in_flight_answered_out_of_order() {
    let mut held: Option<Req> = None;
    let stream = fake(KAFKA4, move |req| {
        let body = |id: i32| {
            let m = sample_metadata();
            framed(id, true, &encode(&m, 12))
        };
        match held.take() {
            None => {
                held = Some(req);
                vec![]
            }
            Some(first) => {
                let mut out = body(req.id);
                out.extend(body(first.id));
                out
            }
        }
    });
    let conn = Connection::over(stream, "fake:1".into(), &cfg())
        .await
        .unwrap();
    let topics = ["x".to_string()];
    let (a, b) = tokio::join!(conn.metadata(None), conn.metadata(Some(&topics)));
    assert_eq!(a.unwrap().topics[0].name, "web_stream");
    assert_eq!(b.unwrap().brokers[0].port, 9092);
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn eof_fails_in_flight_requests() {
    let conn = Connection::over(fake(KAFKA4, |_| vec![0, 0]), "eof:1".into(), &cfg()).await;
    // The fake writes two bytes of a length then nothing more; the request times out or the
    // peer hangs up: either way an error, never a hang.
    let conn = conn.unwrap();
    assert!(conn.metadata(None).await.is_err());
}

#[test]
fn error_table() {
    use crate::{codes, ErrorClass};
    // (code, name, class, retriable, refresh metadata): the rows a reader's policy leans on.
    let rows: &[(i16, &str, ErrorClass, bool, bool)] = &[
        (codes::NONE, "NONE", ErrorClass::None, false, false),
        (
            codes::OFFSET_OUT_OF_RANGE,
            "OFFSET_OUT_OF_RANGE",
            ErrorClass::DataLoss,
            false,
            false,
        ),
        (
            codes::CORRUPT_MESSAGE,
            "CORRUPT_MESSAGE",
            ErrorClass::Retriable,
            true,
            false,
        ),
        (
            codes::UNKNOWN_TOPIC_OR_PARTITION,
            "UNKNOWN_TOPIC_OR_PARTITION",
            ErrorClass::LeaderMoved,
            true,
            true,
        ),
        (
            codes::LEADER_NOT_AVAILABLE,
            "LEADER_NOT_AVAILABLE",
            ErrorClass::LeaderMoved,
            true,
            true,
        ),
        (
            codes::NOT_LEADER_OR_FOLLOWER,
            "NOT_LEADER_OR_FOLLOWER",
            ErrorClass::LeaderMoved,
            true,
            true,
        ),
        (
            codes::REQUEST_TIMED_OUT,
            "REQUEST_TIMED_OUT",
            ErrorClass::Retriable,
            true,
            false,
        ),
        (
            codes::REPLICA_NOT_AVAILABLE,
            "REPLICA_NOT_AVAILABLE",
            ErrorClass::LeaderMoved,
            true,
            true,
        ),
        (
            codes::KAFKA_STORAGE_ERROR,
            "KAFKA_STORAGE_ERROR",
            ErrorClass::LeaderMoved,
            true,
            true,
        ),
        (
            codes::FENCED_LEADER_EPOCH,
            "FENCED_LEADER_EPOCH",
            ErrorClass::LeaderMoved,
            true,
            true,
        ),
        (
            codes::UNKNOWN_LEADER_EPOCH,
            "UNKNOWN_LEADER_EPOCH",
            ErrorClass::LeaderMoved,
            true,
            true,
        ),
        (
            codes::OFFSET_NOT_AVAILABLE,
            "OFFSET_NOT_AVAILABLE",
            ErrorClass::LeaderMoved,
            true,
            true,
        ),
        (
            codes::UNKNOWN_TOPIC_ID,
            "UNKNOWN_TOPIC_ID",
            ErrorClass::LeaderMoved,
            true,
            true,
        ),
        (
            codes::FETCH_SESSION_ID_NOT_FOUND,
            "FETCH_SESSION_ID_NOT_FOUND",
            ErrorClass::Retriable,
            true,
            false,
        ),
        (
            codes::TOPIC_AUTHORIZATION_FAILED,
            "TOPIC_AUTHORIZATION_FAILED",
            ErrorClass::Auth,
            false,
            false,
        ),
        (
            codes::SASL_AUTHENTICATION_FAILED,
            "SASL_AUTHENTICATION_FAILED",
            ErrorClass::Auth,
            false,
            false,
        ),
        (
            codes::UNSUPPORTED_VERSION,
            "UNSUPPORTED_VERSION",
            ErrorClass::Fatal,
            false,
            false,
        ),
        (
            codes::UNKNOWN_SERVER_ERROR,
            "UNKNOWN_SERVER_ERROR",
            ErrorClass::Fatal,
            false,
            false,
        ),
        (12345, "UNKNOWN_ERROR_CODE", ErrorClass::Fatal, false, false),
    ];
    for &(code, name, class, retriable, refresh) in rows {
        let k = kafka_code(code);
        assert_eq!(
            (k.code, k.name, k.class, k.retriable, k.refresh_metadata),
            (code, name, class, retriable, refresh),
            "code {code}"
        );
    }
    // The numbers are the protocol guide's.
    assert_eq!(
        (codes::NOT_LEADER_OR_FOLLOWER, codes::FENCED_LEADER_EPOCH),
        (6, 74)
    );
    assert_eq!(codes::SHARE_SESSION_LIMIT_REACHED, 133);
}

proptest::proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), v in 0i16..14) {
        let b = Bytes::from(bytes);
        let _ = metadata::decode(v, b.clone());
        let _ = list_offsets::decode(v, b.clone());
        let _ = fetch::decode(12, b.clone());
        let _ = crate::messages::api_versions::decode(v.min(3), b);
    }
}

/// An I/O error on an established connection, as `conn::io_error` names it: a TLS alert (a
/// TLS 1.3 server refusing our certificate after the handshake, on whichever of the first
/// write or read meets it) is a final TLS error naming the client certificate; a closed
/// socket says so; anything else stays an I/O error with its own words.
#[test]
fn io_errors_on_an_established_connection() {
    use std::io::{Error, ErrorKind};
    let alert = |a| Error::other(rustls::Error::AlertReceived(a));
    let cases: Vec<(Error, &str, &str)> = vec![
        (
            alert(rustls::AlertDescription::BadCertificate),
            "tls",
            "client certificate",
        ),
        (
            alert(rustls::AlertDescription::CertificateRequired),
            "tls",
            "client certificate",
        ),
        (
            Error::new(ErrorKind::UnexpectedEof, "eof"),
            "io",
            "the broker closed the connection",
        ),
        (
            Error::new(ErrorKind::ConnectionReset, "reset by peer"),
            "io",
            "reset by peer",
        ),
        (Error::other(rustls::Error::DecryptError), "io", "decrypt"),
    ];
    for (e, class, words) in cases {
        let what = format!("{e:?}");
        let err = crate::conn::io_error("b1:9093", e);
        let got = match &err {
            crate::WireError::Tls { .. } => "tls",
            crate::WireError::Io { .. } => "io",
            other => panic!("{what}: {other:?}"),
        };
        assert_eq!(got, class, "{what}");
        let text = err.to_string();
        assert!(
            text.contains("b1:9093") && text.contains(words),
            "{what}: {text}"
        );
    }
}
