//! The mock broker through kbatch's own wire client.

use std::time::Duration;

use kbatch_wire::{Cluster, FetchPartitionRequest, FetchRequest, WireConfig};

use super::*;

fn wire() -> WireConfig {
    WireConfig {
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        ..WireConfig::default()
    }
}

fn fetch_req(offset: i64) -> FetchRequest {
    FetchRequest {
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level: 1,
        topics: vec![(
            "t".into(),
            vec![FetchPartitionRequest {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                current_leader_epoch: -1,
                last_fetched_epoch: -1,
            }],
        )],
    }
}

#[tokio::test]
async fn serves_the_log_then_scripted_answers_in_order() {
    let mock = MockBroker::start();
    mock.add_topic("t", 2);
    mock.produce("t", 0, &["a", "b"]);
    mock.produce("t", 0, &["c"]);
    mock.push_errors(Api::Fetch, &[0, codes::NOT_LEADER_OR_FOLLOWER]);
    mock.script_fetch(|_, r| r.throttle_time_ms = 7);
    let cluster = Cluster::connect(&[mock.addr().to_string()], wire())
        .await
        .unwrap();
    let meta = cluster.metadata(Some(&["t".into()])).await.unwrap();
    assert_eq!(
        meta.brokers[0].port.to_string(),
        mock.addr().split(':').nth(1).unwrap()
    );
    assert_eq!(meta.topics[0].partitions.len(), 2);
    let conn = cluster.broker(NODE_ID).await.unwrap();
    let first = conn.fetch(&fetch_req(0)).await.unwrap();
    let p = &first.topics[0].1[0];
    assert_eq!((p.error_code, p.high_watermark), (0, 3));
    let walk = kbatch_records::walk(&p.records, true).unwrap();
    assert_eq!(walk.next_offset, Some(3));
    let second = conn.fetch(&fetch_req(0)).await.unwrap();
    assert_eq!(
        second.topics[0].1[0].error_code,
        codes::NOT_LEADER_OR_FOLLOWER
    );
    assert!(second.topics[0].1[0].records.is_empty());
    let third = conn.fetch(&fetch_req(2)).await.unwrap();
    assert_eq!(third.throttle_time_ms, 7);
    assert_eq!(mock.scripts_left(Api::Fetch), 0);
    let fetches = mock.requests_of(Api::Fetch);
    assert_eq!(fetches.len(), 3);
    assert_eq!(fetches[2].fetch_offsets(), vec![("t".to_string(), 0, 2)]);
    assert_eq!(fetches[2].throttle_time_ms(), 7);
    assert!(mock.unexpected().is_empty());
}

#[tokio::test]
async fn faults_and_unserved_requests_are_recorded() {
    let mock = MockBroker::start();
    mock.add_topic("t", 1);
    mock.produce("t", 0, &["a"]);
    mock.push_fault(Api::Fetch, Fault::CutAfter(10));
    mock.script_fetch(|_, _| panic!("a script bug"));
    let cluster = Cluster::connect(&[mock.addr().to_string()], wire())
        .await
        .unwrap();
    let conn = cluster.broker(NODE_ID).await.unwrap();
    let cut = conn.fetch(&fetch_req(0)).await.unwrap_err();
    assert!(cut.to_string().contains("closed"), "{cut}");
    let conn = cluster.broker(NODE_ID).await.unwrap();
    conn.fetch(&fetch_req(0)).await.unwrap_err();
    let unexpected = mock.unexpected();
    assert_eq!(unexpected.len(), 1);
    assert!(
        matches!(&unexpected[0].request, Request::Unexpected(why) if why.contains("a script bug")),
        "{unexpected:?}"
    );
    let faults: Vec<Answer> = mock
        .requests_of(Api::Fetch)
        .into_iter()
        .map(|s| s.answer)
        .collect();
    assert_eq!(faults, vec![Answer::Fault(Fault::CutAfter(10))]);
}

#[test]
fn an_unserved_api_gets_an_error_answer_and_is_recorded() {
    use std::io::{Read, Write};
    let mock = MockBroker::start();
    let mut s = std::net::TcpStream::connect(mock.addr()).unwrap();
    // Produce (key 0) v9, correlation id 77, no client id: a header and nothing else.
    let mut req = Vec::new();
    req.extend_from_slice(&0i16.to_be_bytes());
    req.extend_from_slice(&9i16.to_be_bytes());
    req.extend_from_slice(&77i32.to_be_bytes());
    req.extend_from_slice(&(-1i16).to_be_bytes());
    let mut frame = (req.len() as i32).to_be_bytes().to_vec();
    frame.extend(req);
    s.write_all(&frame).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    assert_eq!(&body[..4], &77i32.to_be_bytes());
    assert!(body.ends_with(&35i16.to_be_bytes()), "{body:?}");
    let unexpected = mock.unexpected();
    assert_eq!((unexpected[0].api_key, unexpected[0].version), (0, 9));
}
