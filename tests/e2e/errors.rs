//! Bad input gets a clear error, the documented exit code, nothing on stdout, and bounded
//! memory: unknown topics, unreachable brokers, offsets out of range, an HTTP server and a
//! 2 GiB length prefix as the "broker" (RELIABILITY.md case 35), an array-count bomb (case 36),
//! usage errors.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use kbatch_testkit::ProducerSettings;

use crate::common::*;

fn assert_fails(run: &Run, code: i32, needle: &str) {
    assert_eq!(run.code, code, "stderr: {}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "stdout must be empty on failure: {}",
        run.stdout
    );
    assert!(
        run.stderr.contains(needle),
        "stderr should mention {needle:?}: {}",
        run.stderr
    );
    assert_eq!(
        run.stderr.trim().lines().count(),
        1,
        "one line on stderr: {}",
        run.stderr
    );
}

#[test]
fn unknown_topic() {
    let r = kbatch(&["count", "--topic", "no-such-topic-here"]);
    assert_fails(&r, 1, "no-such-topic-here");
}

#[test]
fn unreachable_broker_ends_within_the_timeout() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let r = kbatch(&[
        "count",
        "--topic",
        "t",
        "--bootstrap",
        &addr,
        "--timeout",
        "2s",
    ]);
    assert_fails(&r, 1, &addr);
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
}

#[test]
fn offsets_out_of_range_and_bad_ranges() {
    let t = topic("range-errors");
    create_topic(&t, 2, &[]);
    let ops: Vec<_> = (0..10).map(|i| rec(0, None, &format!("{i}"))).collect();
    produce(&t, &ProducerSettings::default(), &ops);

    let r = kbatch(&["count", "--topic", &t, "--from", "0:11"]);
    assert_fails(&r, 1, &format!("{t}/0"));
    assert!(r.stderr.contains("11"), "{}", r.stderr);
    let r = kbatch(&["count", "--topic", &t, "--to", "0:12"]);
    assert_fails(&r, 1, "[0, 10]");
    let r = kbatch(&["count", "--topic", &t, "--from", "0:8", "--to", "0:3"]);
    assert_fails(&r, 1, "after its end");
    let r = kbatch(&["count", "--topic", &t, "--partitions", "7"]);
    assert_fails(&r, 1, "no partition 7");
}

#[test]
fn usage_errors_exit_2() {
    let r = kbatch(&["count", "--topic", "t", "--from", "yesterday"]);
    assert_fails(&r, 2, "yesterday");
    let r = kbatch(&["trending", "--topic", "t", "--top", "0"]);
    assert_fails(&r, 2, "--top");
    let r = kbatch(&["count"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
}

/// SPECs, durations and sizes are checked before anything connects: a usage error (exit 2)
/// naming the flag, even with a bootstrap address where nothing listens.
#[test]
fn bad_values_exit_2_before_connecting() {
    let rows: &[(&[&str], &str)] = &[
        (&["--from=-99999999999999d"], "--from"),
        (&["--from=-9223372036854775807m"], "--from"),
        (&["--to", "9223372036854775808"], "--to"),
        (&["--timeout", "1s"], "fetch.max.wait.ms"),
        (&["--timeout", "1000000h"], "--timeout"),
        (&["--fetch-max-bytes=-5"], "--fetch-max-bytes"),
    ];
    for (extra, needle) in rows {
        for sub in ["offsets", "count", "dump", "trending"] {
            let mut args = vec![sub, "--topic", "t", "--bootstrap", "127.0.0.1:1"];
            args.extend_from_slice(extra);
            let r = kbatch(&args);
            assert_fails(&r, 2, needle);
            assert!(!r.stderr.contains("connect"), "{args:?}: {}", r.stderr);
        }
    }
}

/// A one-connection "broker" that answers every request with `reply(request)`.
fn fake_broker(reply: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
            loop {
                let mut len = [0u8; 4];
                if s.read_exact(&mut len).is_err() {
                    break;
                }
                let mut req = vec![0u8; u32::from_be_bytes(len) as usize];
                if s.read_exact(&mut req).is_err() {
                    break;
                }
                if s.write_all(&reply(&req)).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

fn correlation_id(req: &[u8]) -> [u8; 4] {
    [req[4], req[5], req[6], req[7]]
}

/// A valid ApiVersions v3 response advertising the versions kbatch speaks.
fn api_versions(corr: [u8; 4]) -> Vec<u8> {
    let mut body = corr.to_vec(); // response header v0 for ApiVersions
    body.extend_from_slice(&0i16.to_be_bytes());
    let apis: [(i16, i16, i16); 4] = [(18, 0, 3), (3, 0, 12), (2, 0, 9), (1, 4, 12)];
    body.push(apis.len() as u8 + 1);
    for (key, min, max) in apis {
        body.extend_from_slice(&key.to_be_bytes());
        body.extend_from_slice(&min.to_be_bytes());
        body.extend_from_slice(&max.to_be_bytes());
        body.push(0);
    }
    body.extend_from_slice(&0i32.to_be_bytes());
    body.push(0);
    frame(body)
}

fn frame(body: Vec<u8>) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

#[test]
fn http_server_as_broker() {
    let addr = fake_broker(|_| b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec());
    let r = kbatch(&[
        "count",
        "--topic",
        "t",
        "--bootstrap",
        &addr,
        "--timeout",
        "5s",
    ]);
    assert_fails(&r, 1, "HTTP");
}

#[test]
fn two_gib_length_prefix() {
    let addr = fake_broker(|req| {
        let mut out = 0x7fff_ffffu32.to_be_bytes().to_vec();
        out.extend_from_slice(&correlation_id(req));
        out
    });
    let r = kbatch(&[
        "count",
        "--topic",
        "t",
        "--bootstrap",
        &addr,
        "--timeout",
        "5s",
    ]);
    assert_fails(&r, 1, &addr);
    assert!(r.stderr.contains("2147483647"), "{}", r.stderr);
}

#[test]
fn array_count_bomb_in_a_tiny_metadata_response() {
    let addr = fake_broker(|req| {
        let api_key = i16::from_be_bytes([req[0], req[1]]);
        let corr = correlation_id(req);
        if api_key == 18 {
            return api_versions(corr);
        }
        // Metadata v12 response: header v1 (correlation id, no tags), throttle, then a compact
        // brokers array whose varint length claims 2^32 - 2 elements, in a 16-byte frame.
        let mut body = corr.to_vec();
        body.push(0);
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        body.extend_from_slice(&[0, 0]);
        frame(body)
    });
    let r = kbatch(&[
        "count",
        "--topic",
        "t",
        "--bootstrap",
        &addr,
        "--timeout",
        "5s",
    ]);
    assert_fails(&r, 1, &addr);
}

#[test]
fn silent_broker_ends_within_the_timeout() {
    // Accepts connections and reads requests, never answers: the request timeout closes the
    // connection and the run fails within --timeout instead of hanging.
    let addr = fake_broker(|_| Vec::new());
    let r = kbatch(&[
        "count",
        "--topic",
        "t",
        "--bootstrap",
        &addr,
        "--timeout",
        "2s",
    ]);
    assert_fails(&r, 1, &addr);
    assert!(r.stderr.contains("did not answer"), "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
}

/// Eight bootstrap addresses that accept and never answer: the bootstrap has one deadline,
/// `--timeout`, however many addresses it tries (each one used to get half of it).
#[test]
fn silent_brokers_end_within_one_timeout() {
    let addrs: Vec<String> = (0..8).map(|_| fake_broker(|_| Vec::new())).collect();
    let bootstrap = addrs.join(",");
    let r = kbatch(&[
        "count",
        "--topic",
        "t",
        "--bootstrap",
        &bootstrap,
        "--timeout",
        "2s",
    ]);
    assert_fails(&r, 1, "did not answer");
    // Generous (3× the timeout) for a busy machine; without the one deadline it took 8 s.
    assert!(r.elapsed < Duration::from_secs(6), "took {:?}", r.elapsed);
}
