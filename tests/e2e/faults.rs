//! Network faults between kbatch and a real broker, through the testkit's fault proxy
//! (RELIABILITY.md's "P" harness, cases 27 and 28, and planning faults): responses cut
//! after N bytes, a response held longer than the request timeout, a reset on every k-th
//! request or connection, a slow link, and the same kinds of faults on ListOffsets and
//! Metadata during planning. The broker advertises the proxy's address, so every connection
//! kbatch makes goes through it. Each read must be exact and exit 0; each test also checks
//! that its fault really fired. TLS streams are cut too, by a raw proxy in front of the
//! secured broker's SSL listener: every read either is exact or fails naming the address.

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use kbatch_testkit::proxy::{api, Proxy};
use kbatch_testkit::{Broker, ProducerSettings};

use crate::common::*;

const PARTITIONS: i32 = 3;
const RECORDS: u64 = 30_000;

/// One broker behind one proxy for this test binary, and the topic its tests read; the
/// guard serialises the tests, and each starts with no fault and zeroed proxy counters.
struct Proxied {
    proxy: Proxy,
    broker: Broker,
    data: Expected,
}

fn proxied() -> MutexGuard<'static, Proxied> {
    static SHARED: OnceLock<Mutex<Proxied>> = OnceLock::new();
    let p = SHARED
        .get_or_init(|| {
            let proxy = Proxy::start().expect("starting the fault proxy");
            let broker = Broker::start_behind(&proxy)
                .unwrap_or_else(|e| panic!("cannot start the broker behind the proxy: {e}"));
            let t = topic("faults");
            broker.create_topic(&t, PARTITIONS, &[]).unwrap();
            let values: Vec<(i32, String)> = (0..RECORDS)
                .map(|id| {
                    let p = (id % PARTITIONS as u64) as i32;
                    (p, id_value(id, p))
                })
                .collect();
            let lines = values.iter().map(|(p, v)| format!("V\t{p}\t{v}"));
            let produced = kbatch_testkit::produce_lines(
                &broker.bootstrap,
                &t,
                &ProducerSettings::default(),
                values.len(),
                lines,
            )
            .unwrap_or_else(|e| panic!("producing {t}: {e}\n{}", broker.log_tail(30)));
            Mutex::new(Proxied {
                proxy,
                broker,
                data: Expected::new(&t, &values, &produced),
            })
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    p.proxy.clear();
    p
}

impl Proxied {
    /// `kbatch dump` of the topic through the proxy, with small fetches (a few hundred
    /// Fetch responses per read) and `--timeout timeout`.
    fn dump(&self, timeout: &str) -> Run {
        let mut args = vec![
            "dump",
            "--topic",
            &self.data.topic,
            "--bootstrap",
            &self.broker.bootstrap,
            "--timeout",
            timeout,
        ];
        args.extend(SMALL_FETCHES);
        kbatch(&args)
    }

    fn check(&self, run: &Run, what: &str) {
        let with_log = format!("{what} (proxy: {:?})", self.proxy.stats());
        self.data.assert_exact(run, &with_log);
    }
}

/// A Fetch response cut after N bytes, for N in the size prefix, the header, the records
/// and near the end of a 64 KiB response: reconnect, fetch again from the last decoded
/// offset, nothing lost or doubled.
#[test]
fn fetch_response_cut_at_many_points() {
    let p = proxied();
    for after in [0, 2, 4, 9, 60, 700, 20_000, 60_000] {
        p.proxy.clear();
        p.proxy.cut_response(Some(api::FETCH), 3, after);
        let run = p.dump("10s");
        p.check(&run, &format!("4th Fetch response cut after {after} bytes"));
        assert_eq!(p.proxy.stats().cuts, 1, "the cut at {after} fired");
    }
}

/// A Fetch response held for 5 s against `--timeout 3s`: the request times out (after half
/// the timeout, 1.5 s), the connection is closed (the late response must never be matched to
/// a new request), and the read resumes on a new connection.
#[test]
fn stall_longer_than_the_request_timeout() {
    let p = proxied();
    p.proxy
        .stall_response(Some(api::FETCH), 5, Duration::from_secs(5));
    let run = p.dump("3s");
    p.check(&run, "6th Fetch response held 5 s with --timeout 3s");
    assert_eq!(p.proxy.stats().stalls, 1);
    assert!(
        run.elapsed >= Duration::from_millis(1500),
        "{:?}",
        run.elapsed
    );
}

/// Every 6th request (of any connection) answered by a TCP reset.
#[test]
fn reset_every_kth_request() {
    let p = proxied();
    p.proxy.reset_every_request(Some(6));
    let run = p.dump("20s");
    p.check(&run, "a reset on every 6th request");
    assert!(p.proxy.stats().resets >= 2, "{:?}", p.proxy.stats());
}

/// Every 2nd new connection reset as soon as it is accepted.
#[test]
fn reset_every_kth_connection() {
    let p = proxied();
    p.proxy.reset_every_connection(Some(2));
    let run = p.dump("20s");
    p.check(&run, "a reset on every 2nd connection");
    assert!(p.proxy.stats().resets >= 1, "{:?}", p.proxy.stats());
}

/// A slow link (500 KiB/s): slower, still exact, and no request timeout fires while bytes
/// keep coming.
#[test]
fn slow_link_completes() {
    let p = proxied();
    p.proxy.set_rate(Some(512 << 10));
    let run = p.dump("10s");
    p.check(&run, "responses at 512 KiB/s");
    assert!(run.elapsed >= Duration::from_secs(1), "{:?}", run.elapsed);
}

/// Planning faults: the ListOffsets response held past the request timeout, then cut
/// mid-frame, then the first Metadata response cut: each retried, the read completes.
#[test]
fn planning_faults_are_retried() {
    let p = proxied();
    p.proxy
        .stall_response(Some(api::LIST_OFFSETS), 0, Duration::from_secs(5));
    let run = p.dump("3s");
    p.check(
        &run,
        "first ListOffsets response held 5 s with --timeout 3s",
    );
    assert_eq!(p.proxy.stats().stalls, 1);

    p.proxy.clear();
    p.proxy.cut_response(Some(api::LIST_OFFSETS), 0, 10);
    let run = p.dump("10s");
    p.check(&run, "first ListOffsets response cut after 10 bytes");
    assert_eq!(p.proxy.stats().cuts, 1);

    p.proxy.clear();
    p.proxy.cut_response(Some(api::METADATA), 0, 10);
    let run = p.dump("10s");
    p.check(&run, "first Metadata response cut after 10 bytes");
    assert_eq!(p.proxy.stats().cuts, 1);
}

/// Where `KBATCH_TLS_CUT_EVERY_BYTE` is unset: every byte of the first 64 and the last 32 of
/// `total`, every 16th in between (about a tenth of them), and a few past the end.
fn tls_cut_points(total: usize) -> Vec<usize> {
    if std::env::var_os("KBATCH_TLS_CUT_EVERY_BYTE").is_some() {
        return (0..total + 4).collect();
    }
    let mut points: Vec<usize> = (0..total.min(64)).collect();
    points.extend((64..total.saturating_sub(32)).step_by(16));
    points.extend(total.saturating_sub(32).max(64)..total + 4);
    points.dedup();
    points
}

/// The broker's SSL listener behind a raw proxy that cuts the broker's bytes of a read's first
/// connection after k bytes, k across the TLS handshake and the first response (what a connect
/// alone receives): a cut must give either the exact count (a retry on a new connection
/// succeeded) or an error naming the address, never a panic or a short success.
#[test]
fn tls_stream_cut_in_the_handshake_or_the_first_response() {
    use std::net::SocketAddr;
    use std::time::Instant;

    use kbatch_reader::{Config, Count, ReadSpec, Reader};

    let sb = kbatch_testkit::secure::shared_secure_broker();
    let t = topic("tls-cut");
    sb.broker
        .create_topic(&t, 2, &[])
        .unwrap_or_else(|e| panic!("creating {t}: {e}\n{}", sb.broker.log_tail(30)));
    let ops: Vec<_> = (0..200)
        .map(|i| rec(i % 2, None, &format!("{{\"id\":{i}}}")))
        .collect();
    let n = sb
        .broker
        .produce(&t, &ProducerSettings::default(), &ops)
        .unwrap_or_else(|e| panic!("producing: {e}\n{}", sb.broker.log_tail(30)))
        .len() as u64;
    let ssl_port: u16 = sb
        .listeners
        .ssl
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let proxy = Proxy::start_raw().expect("starting the raw proxy");
    proxy.set_upstream(SocketAddr::from(([127, 0, 0, 1], ssl_port)));
    // The certificate names localhost; the proxy listens on 127.0.0.1.
    let bootstrap = format!("localhost:{}", proxy.port());
    let ca = sb.cert("ca.pem").display().to_string();
    let config = || {
        let (mut c, _) = Config::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("security.protocol", "SSL"),
            ("ssl.ca.location", ca.as_str()),
        ])
        .expect("TLS settings");
        c.timeout = Duration::from_secs(5);
        c
    };
    let read = || {
        kbatch_reader::read(config(), &ReadSpec::topics([t.as_str()]), &Count)
            .map(|o| o.stats.iter().map(|s| s.records).sum::<u64>())
    };

    // What the handshake and the first response take: the bytes a connect alone receives.
    let reader = Reader::connect(config()).expect("connecting through the raw proxy");
    let first = proxy.stats().raw_bytes as usize;
    drop(reader);
    assert!(first > 100, "a TLS handshake is more than {first} bytes");
    assert_eq!(read().expect("an uncut read"), n);

    let points = tls_cut_points(first);
    let started = Instant::now();
    let (mut exact, mut failed) = (0, 0);
    for &k in &points {
        proxy.clear();
        proxy.cut_stream(k);
        match read() {
            Ok(got) => {
                assert_eq!(got, n, "cut after {k} bytes: a short success");
                exact += 1;
            }
            Err(e) => {
                let line = kbatch_reader::one_line(kbatch_reader::chain(&e));
                assert!(
                    line.contains(&proxy.port().to_string()),
                    "cut after {k} bytes: the error does not name the address: {line}"
                );
                failed += 1;
            }
        }
        assert_eq!(proxy.stats().cuts, 1, "the cut after {k} bytes fired");
    }
    eprintln!(
        "TLS cuts: {} cut points of {first} bytes in {:.1?}: {exact} exact reads, {failed} clear failures",
        points.len(),
        started.elapsed()
    );
}
