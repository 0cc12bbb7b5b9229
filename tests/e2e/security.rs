//! Secured clusters (issue 11; RELIABILITY.md cases 35, 37, 38, 39): one broker with SSL,
//! mutual-TLS, SASL_SSL, SASL_PLAINTEXT, expired-certificate and short-session listeners
//! (`kbatch_testkit::secure`). Data is produced over PLAINTEXT by Kafka's Java producer; every
//! read through a secured listener must give the exact count. Every failure must be the
//! documented exit code and one line naming the broker and the cause, within the timeout, with
//! no secret on stderr even at `-vv`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kbatch_testkit::secure::{shared_secure_broker, SecureBroker, PASSWORD, REAUTH_MS, USER};
use kbatch_testkit::ProducerSettings;

use crate::common::*;

fn sb() -> &'static SecureBroker {
    shared_secure_broker()
}

/// A topic of 3 partitions on the secured broker, produced once; its record count.
fn data() -> (&'static str, u64) {
    static DATA: OnceLock<(String, u64)> = OnceLock::new();
    let (t, n) = DATA.get_or_init(|| {
        let t = topic("secured");
        sb().broker
            .create_topic(&t, 3, &[])
            .unwrap_or_else(|e| panic!("creating {t}: {e}\n{}", sb().broker.log_tail(30)));
        let ops: Vec<_> = (0..600)
            .map(|i| rec(i % 3, None, &format!("{{\"id\":{i}}}")))
            .collect();
        let settings = ProducerSettings {
            compression: Some("lz4".into()),
            batch_size: Some(2048),
            ..ProducerSettings::default()
        };
        let produced = sb()
            .broker
            .produce(&t, &settings, &ops)
            .unwrap_or_else(|e| panic!("producing: {e}\n{}", sb().broker.log_tail(30)));
        (t, produced.len() as u64)
    });
    (t.as_str(), *n)
}

fn cert(name: &str) -> String {
    sb().cert(name).display().to_string()
}

/// `kbatch count` of the shared topic through `bootstrap` with `extra` arguments.
fn count(bootstrap: &str, extra: &[&str]) -> Run {
    let (t, _) = data();
    let mut args = vec![
        "count",
        "--topic",
        t,
        "--bootstrap",
        bootstrap,
        "--timeout",
        "15s",
    ];
    args.extend_from_slice(extra);
    kbatch(&args)
}

fn assert_counts(run: &Run, what: &str) {
    let (_, n) = data();
    assert_eq!(run.code, 0, "{what}: {}", run.stderr);
    assert_eq!(run.json()["records"].as_u64(), Some(n), "{what}");
}

/// No secret in a run's output, in any form the password might take on the wire.
fn assert_no_secret(run: &Run, what: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let forms = [
        PASSWORD.to_string(),
        b64.encode(PASSWORD),
        b64.encode(format!("\0{USER}\0{PASSWORD}")),
        "wrong-Pa55".to_string(),
    ];
    for form in &forms {
        assert!(
            !run.stderr.contains(form.as_str()) && !run.stdout.contains(form.as_str()),
            "{what}: a secret ({form}) in the output:\n{}",
            run.stderr
        );
    }
}

fn sasl(mechanism: &str, protocol: &str, password: &str) -> Vec<String> {
    [
        format!("security.protocol={protocol}"),
        format!("sasl.mechanism={mechanism}"),
        format!("sasl.username={USER}"),
        format!("sasl.password={password}"),
        format!("ssl.ca.location={}", cert("ca.pem")),
    ]
    .into_iter()
    .flat_map(|x| ["-X".to_string(), x])
    .collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn tls_with_a_ca_file_every_subcommand() {
    let ca = format!("ssl.ca.location={}", cert("ca.pem"));
    let x = ["-X", "security.protocol=ssl", "-X", &ca];
    assert_counts(&count(&sb().listeners.ssl, &x), "count over SSL");
    let (t, n) = data();
    let base = ["--topic", t, "--bootstrap", &sb().listeners.ssl];
    let r = kbatch(&[&["offsets"][..], &base, &x].concat());
    let doc = r.json();
    let latest: i64 = doc["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["latest"].as_i64().unwrap())
        .sum();
    assert_eq!(latest as u64, n, "offsets over SSL: {doc}");
    let r = kbatch(&[&["dump"][..], &base, &x].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count() as u64, n, "dump over SSL");
    let r = kbatch(&[&["trending", "--format", "json"][..], &base, &x].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["records"].as_u64(), Some(n), "trending over SSL");
    // Host name checks off: the bootstrap address 127.0.0.1 is not in the certificate.
    let ip = sb().listeners.ssl.replace("localhost", "127.0.0.1");
    let mut x = x.to_vec();
    x.extend(["-X", "ssl.endpoint.identification.algorithm=none"]);
    assert_counts(&count(&ip, &x), "SSL by IP, hostname verification off");
    // Certificate checks off (development only): even a CA that signed nothing here passes.
    let other = format!("ssl.ca.location={}", cert("other-ca.pem"));
    let off = [
        "-X",
        "security.protocol=ssl",
        "-X",
        &other,
        "-X",
        "enable.ssl.certificate.verification=false",
    ];
    assert_counts(&count(&ip, &off), "SSL with certificate verification off");
}

#[test]
fn mutual_tls_with_each_key_kind() {
    // PKCS#8, PKCS#1 (RSA), SEC1 (EC), and PKCS#8 encrypted with ssl.key.password (which the
    // plain keys ignore).
    for kind in ["pkcs8", "pkcs1", "sec1", "encrypted"] {
        let mut args = vec![
            "-X".to_string(),
            "ssl.key.password=key-Pa55".into(),
            "-vv".into(),
        ];
        args.extend([
            "-X".to_string(),
            "security.protocol=SSL".into(),
            "-X".into(),
            format!("ssl.ca.location={}", cert("ca.pem")),
            "-X".into(),
            format!(
                "ssl.certificate.location={}",
                cert(&format!("client-{kind}.pem"))
            ),
            "-X".into(),
            format!("ssl.key.location={}", cert(&format!("client-{kind}.key"))),
        ]);
        let r = count(&sb().listeners.mtls, &refs(&args));
        assert_counts(&r, kind);
        assert!(
            !r.stderr.contains("key-Pa55"),
            "{kind}: key password in {}",
            r.stderr
        );
    }
    // Without a client certificate the listener refuses us: one clear line, exit 1.
    let ca = format!("ssl.ca.location={}", cert("ca.pem"));
    let r = count(
        &sb().listeners.mtls,
        &["-X", "security.protocol=ssl", "-X", &ca],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&sb().listeners.mtls), "{}", r.stderr);
    assert!(r.stderr.contains("client certificate"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
}

#[test]
fn java_client_properties_work_unchanged() {
    let dir = std::env::temp_dir().join(format!("kbatch-e2e-props-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mtls = dir.join("mtls.properties");
    std::fs::write(
        &mtls,
        format!(
            "# a Java client.properties for mutual TLS with PEM stores\n\
             security.protocol=SSL\n\
             ssl.truststore.type=PEM\n\
             ssl.truststore.location={}\n\
             ssl.keystore.type=PEM\n\
             ssl.keystore.location={}\n\
             group.id=analytics\n\
             auto.offset.reset=earliest\n",
            cert("ca.pem"),
            cert("client-keystore.pem")
        ),
    )
    .unwrap();
    let r = count(&sb().listeners.mtls, &["--config", mtls.to_str().unwrap()]);
    assert_counts(&r, "client.properties, mutual TLS");
    assert!(
        r.stderr.contains("ignoring keys") && r.stderr.contains("group.id, auto.offset.reset"),
        "one warning line: {}",
        r.stderr
    );
    let scram = dir.join("scram.properties");
    std::fs::write(
        &scram,
        format!(
            "bootstrap.servers={}\n\
             security.protocol=SASL_SSL\n\
             sasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n\
             \x20   username=\"{USER}\" password=\"{PASSWORD}\";\n\
             ssl.truststore.type=PEM\n\
             ssl.truststore.location={}\n",
            sb().listeners.sasl_ssl,
            cert("ca.pem")
        ),
    )
    .unwrap();
    let (t, _) = data();
    let r = kbatch(&[
        "count",
        "--topic",
        t,
        "--config",
        scram.to_str().unwrap(),
        // common::kbatch adds the PLAINTEXT broker unless --bootstrap is given: give the
        // file's own address, as a user would get from bootstrap.servers.
        "--bootstrap",
        &sb().listeners.sasl_ssl,
        "-vv",
    ]);
    assert_counts(&r, "client.properties, SASL_SSL SCRAM-SHA-512");
    assert_no_secret(&r, "client.properties at -vv");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_sasl_mechanism_over_both_listeners() {
    let l = &sb().listeners;
    for (listener, protocol) in [
        (&l.sasl_ssl, "sasl_ssl"),
        (&l.sasl_plaintext, "SASL_PLAINTEXT"),
    ] {
        for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
            let mut args = sasl(mechanism, protocol, PASSWORD);
            args.push("-vv".into());
            let r = count(listener, &refs(&args));
            let what = format!("{mechanism} over {protocol}");
            assert_counts(&r, &what);
            assert_no_secret(&r, &what);
        }
    }
}

#[test]
fn oauthbearer_unsecured_token() {
    let r = count(
        &sb().listeners.sasl_plaintext,
        &[
            "-X",
            "security.protocol=sasl_plaintext",
            "-X",
            "sasl.mechanism=OAUTHBEARER",
            "-X",
            "sasl.oauthbearer.config=principal=alice lifeSeconds=600",
        ],
    );
    assert_counts(&r, "OAUTHBEARER");
}

#[test]
fn oauthbearer_oidc_client_credentials() {
    use kbatch_testkit::oidc::{CLIENT_ID, CLIENT_SECRET};
    let x = |secret: &str| -> Vec<String> {
        [
            "security.protocol=sasl_plaintext".to_string(),
            "sasl.mechanism=OAUTHBEARER".into(),
            "sasl.oauthbearer.method=oidc".into(),
            format!(
                "sasl.oauthbearer.token.endpoint.url={}",
                sb().auth.token_url()
            ),
            // The test IdP speaks plain http (the broker fetches its JWKS over it too).
            kbatch_testkit::oidc::ALLOW_HTTP.into(),
            format!("sasl.oauthbearer.client.id={CLIENT_ID}"),
            format!("sasl.oauthbearer.client.secret={secret}"),
            "sasl.oauthbearer.scope=kafka".into(),
            "-vv".into(),
        ]
        .into_iter()
        .flat_map(|x| {
            if x == "-vv" {
                vec![x]
            } else {
                vec!["-X".to_string(), x]
            }
        })
        .collect()
    };
    let r = count(&sb().listeners.oidc, &refs(&x(CLIENT_SECRET)));
    assert_counts(
        &r,
        "OAUTHBEARER oidc, JWT validated by the broker through JWKS",
    );
    assert!(
        !r.stderr.contains(CLIENT_SECRET),
        "client secret in {}",
        r.stderr
    );
    assert!(!r.stderr.contains("eyJ"), "a JWT in {}", r.stderr);
    // Said once each: the token over SASL_PLAINTEXT, the secret over plain http.
    for warning in [
        "kbatch: warning: security.protocol=SASL_PLAINTEXT with sasl.mechanism=OAUTHBEARER",
        "kbatch: warning: sasl.oauthbearer.token.endpoint.allow.http=true",
    ] {
        assert_eq!(
            r.stderr.matches(warning).count(),
            1,
            "{warning}: {}",
            r.stderr
        );
    }
    // Without the allow key, a plain-http token endpoint is a usage error naming the key,
    // before anything is sent.
    let mut no_allow = x(CLIENT_SECRET);
    let at = no_allow
        .iter()
        .position(|a| a.contains("allow.http"))
        .unwrap();
    no_allow.drain(at - 1..=at);
    let r = count(&sb().listeners.oidc, &refs(&no_allow));
    assert_eq!(r.code, 2, "plain http without the key: {}", r.stderr);
    assert!(
        r.stderr
            .contains("sasl.oauthbearer.token.endpoint.allow.http"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(CLIENT_SECRET), "{}", r.stderr);
    // The listener really validates signatures: an unsigned development token is refused.
    let unsigned = [
        "-X",
        "security.protocol=sasl_plaintext",
        "-X",
        "sasl.mechanism=OAUTHBEARER",
        "-X",
        "sasl.oauthbearer.config=principal=kbatch-client",
    ];
    let r = count(&sb().listeners.oidc, &unsigned);
    assert_eq!(r.code, 1, "an unsigned token must be refused: {}", r.stderr);
    assert!(r.stderr.contains("refused the token"), "{}", r.stderr);
    // A wrong client secret: the token endpoint's refusal, exit 1, the secret never shown.
    let mut wrong = x("wrong-Pa55");
    wrong.pop();
    assert_fails_clearly(
        &sb().listeners.oidc,
        &wrong,
        1,
        "invalid_client",
        &sb().listeners.oidc,
    );
}

/// A failure: exit `code`, one line naming `broker` and containing `needle`, within the
/// timeout; and the same run at `-vv` shows no secret.
fn assert_fails_clearly(bootstrap: &str, args: &[String], code: i32, needle: &str, broker: &str) {
    data(); // the shared broker and topic are ready before the clock starts
    let started = Instant::now();
    let r = count(bootstrap, &refs(args));
    assert_eq!(r.code, code, "{needle}: {}", r.stderr);
    assert!(r.stdout.is_empty(), "{needle}: {}", r.stdout);
    // One line besides the security warnings (PLAIN or OAUTHBEARER over SASL_PLAINTEXT).
    assert_eq!(
        r.stderr
            .trim()
            .lines()
            .filter(|l| !l.starts_with("kbatch: warning:"))
            .count(),
        1,
        "{needle}: one line: {}",
        r.stderr
    );
    assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    assert!(
        r.stderr.contains(broker),
        "{needle}: names {broker}: {}",
        r.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "{needle}: took {:?}",
        started.elapsed()
    );
    let mut loud = args.to_vec();
    loud.push("-vv".into());
    let r = count(bootstrap, &refs(&loud));
    assert_eq!(r.code, code, "{needle} at -vv: {}", r.stderr);
    assert_no_secret(&r, needle);
}

#[test]
fn failures_are_one_clear_line_without_secrets() {
    let l = &sb().listeners;
    let x = |pairs: &[String]| -> Vec<String> {
        pairs
            .iter()
            .flat_map(|p| ["-X".to_string(), p.clone()])
            .collect()
    };
    let ssl_with = |ca: &str| {
        x(&[
            "security.protocol=ssl".into(),
            format!("ssl.ca.location={}", cert(ca)),
        ])
    };
    // Wrong password and unknown user: authentication errors, not retried.
    assert_fails_clearly(
        &l.sasl_ssl,
        &sasl("SCRAM-SHA-256", "sasl_ssl", "wrong-Pa55"),
        1,
        "authentication with SCRAM-SHA-256",
        &l.sasl_ssl,
    );
    let mut unknown = sasl("PLAIN", "sasl_plaintext", "wrong-Pa55");
    unknown.extend(x(&["sasl.username=mallory".into()]));
    assert_fails_clearly(
        &l.sasl_plaintext,
        &unknown,
        1,
        "authentication with PLAIN",
        &l.sasl_plaintext,
    );
    // A CA that signed nothing here; an expired certificate; a host name not in it.
    assert_fails_clearly(
        &l.ssl,
        &ssl_with("other-ca.pem"),
        1,
        "not signed by a trusted CA",
        &l.ssl,
    );
    // The system's CA bundle (librdkafka's `probe`) does not hold the test CA either.
    let probe = x(&[
        "security.protocol=ssl".into(),
        "ssl.ca.location=probe".into(),
    ]);
    assert_fails_clearly(&l.ssl, &probe, 1, "not signed by a trusted CA", &l.ssl);
    assert_fails_clearly(
        &l.expired,
        &ssl_with("ca.pem"),
        1,
        "has expired",
        &l.expired,
    );
    let ip = l.ssl.replace("localhost", "127.0.0.1");
    assert_fails_clearly(
        &ip,
        &ssl_with("ca.pem"),
        1,
        "not valid for host name 127.0.0.1",
        &ip,
    );
    // TLS against the PLAINTEXT port, and PLAINTEXT against a TLS port.
    let plain = &sb().broker.bootstrap;
    assert_fails_clearly(plain, &ssl_with("ca.pem"), 1, "PLAINTEXT listener", plain);
    assert_fails_clearly(&l.ssl, &[], 1, "security.protocol=ssl", &l.ssl);
    // A mechanism the listener does not enable.
    let oauth = x(&[
        "security.protocol=sasl_ssl".into(),
        "sasl.mechanism=OAUTHBEARER".into(),
        "sasl.oauthbearer.config=principal=alice".into(),
        format!("ssl.ca.location={}", cert("ca.pem")),
    ]);
    assert_fails_clearly(
        &l.sasl_ssl,
        &oauth,
        1,
        "does not enable OAUTHBEARER",
        &l.sasl_ssl,
    );
    // An expired OAUTHBEARER token: the broker's refusal, and the token never printed.
    let expired = x(&[
        "security.protocol=sasl_plaintext".into(),
        "sasl.mechanism=OAUTHBEARER".into(),
        "sasl.oauthbearer.config=principal=alice lifeSeconds=0".into(),
    ]);
    assert_fails_clearly(
        &l.sasl_plaintext,
        &expired,
        1,
        "refused the token",
        &l.sasl_plaintext,
    );
    let mut loud = expired.clone();
    loud.push("-vv".into());
    let r = count(&l.sasl_plaintext, &refs(&loud));
    // The JWT header {"alg":"none"} in base64url starts every token kbatch makes.
    assert!(
        !r.stderr.contains("eyJhbGciOiJub25lIn0"),
        "token in {}",
        r.stderr
    );
    assert!(!r.stderr.contains("auth=Bearer"), "token in {}", r.stderr);
    // A typo'd key: a usage error naming the right key.
    let r = count(&l.sasl_ssl, &["-X", "sasl.mechanizm=PLAIN"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("did you mean sasl.mechanism?"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
}

/// A job that takes its time, so a read outlives the listener's SASL sessions (KIP-368); it
/// keeps the ids it saw so duplicates and losses show.
struct Slow;

impl kbatch_reader::Job for Slow {
    type Partial = Vec<u64>;
    type Output = Vec<u64>;

    fn partial(&self) -> Vec<u64> {
        Vec::new()
    }

    fn update(
        &self,
        ids: &mut Vec<u64>,
        _: usize,
        record: &kbatch_reader::Record<'_>,
    ) -> Result<(), kbatch_reader::JobError> {
        std::thread::sleep(Duration::from_millis(12));
        let v: serde_json::Value = serde_json::from_slice(record.value.unwrap()).unwrap();
        ids.push(v["id"].as_u64().unwrap());
        Ok(())
    }

    fn merge(&self, into: &mut Vec<u64>, other: Vec<u64>) {
        into.extend(other);
    }

    fn finish(&self, mut ids: Vec<u64>, _: &[kbatch_reader::PartitionStats]) -> Vec<u64> {
        ids.sort_unstable();
        ids
    }
}

#[test]
fn a_read_longer_than_the_sasl_session_is_exact() {
    let (t, n) = data();
    let (mut config, _) = kbatch_reader::Config::from_properties([
        ("bootstrap.servers", sb().listeners.reauth.as_str()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.username", USER),
        ("sasl.password", PASSWORD),
        ("max.partition.fetch.bytes", "512"),
        ("fetch.max.bytes", "1024"),
    ])
    .unwrap();
    config.engine.threads = 1;
    config.engine.channel_capacity = 1;
    let started = Instant::now();
    let outcome = kbatch_reader::read(config, &kbatch_reader::ReadSpec::topics([t]), &Slow)
        .unwrap_or_else(|e| panic!("read over REAUTH: {e}\n{}", sb().broker.log_tail(30)));
    let elapsed = started.elapsed();
    assert!(
        elapsed > Duration::from_millis(2 * REAUTH_MS),
        "the read must outlive two sessions ({elapsed:?})"
    );
    let want: Vec<u64> = (0..n).collect();
    assert_eq!(outcome.output, want, "every record once, none lost");
}

/// A one-connection-at-a-time fake SASL "broker" on loopback that plays SCRAM-SHA-256 badly in
/// one way (RELIABILITY.md case 38): `first` builds its server-first message from the client's
/// nonce, `last` is its server-final message.
fn hostile_scram_broker(first: fn(&str) -> String, last: &'static str) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
            let mut rounds = 0;
            loop {
                let mut len = [0u8; 4];
                if s.read_exact(&mut len).is_err() {
                    break;
                }
                let mut req = vec![0u8; u32::from_be_bytes(len) as usize];
                if s.read_exact(&mut req).is_err() {
                    break;
                }
                let key = i16::from_be_bytes([req[0], req[1]]);
                let corr = &req[4..8];
                let mut body = corr.to_vec();
                match key {
                    18 => {
                        // ApiVersions v3: what kbatch needs, and SASL.
                        body.extend_from_slice(&0i16.to_be_bytes());
                        let apis: [(i16, i16, i16); 6] = [
                            (18, 0, 3),
                            (3, 0, 12),
                            (2, 0, 9),
                            (1, 4, 12),
                            (17, 0, 1),
                            (36, 0, 2),
                        ];
                        body.push(apis.len() as u8 + 1);
                        for (k, lo, hi) in apis {
                            for v in [k, lo, hi] {
                                body.extend_from_slice(&v.to_be_bytes());
                            }
                            body.push(0);
                        }
                        body.extend_from_slice(&0i32.to_be_bytes());
                        body.push(0);
                    }
                    17 => {
                        body.extend_from_slice(&0i16.to_be_bytes());
                        body.extend_from_slice(&1i32.to_be_bytes());
                        body.extend_from_slice(&13i16.to_be_bytes());
                        body.extend_from_slice(b"SCRAM-SHA-256");
                    }
                    36 => {
                        // Request header v2: client id (int16 length), tags; then compact bytes.
                        let id_len = i16::from_be_bytes([req[8], req[9]]) as usize;
                        let at = 10 + id_len + 1;
                        let n = req[at] as usize - 1;
                        let msg = String::from_utf8_lossy(&req[at + 1..at + 1 + n]).into_owned();
                        rounds += 1;
                        let reply = if rounds == 1 {
                            let nonce = msg.rsplit("r=").next().unwrap_or_default();
                            first(nonce)
                        } else {
                            last.to_string()
                        };
                        body.push(0); // response header v1: no tags
                        body.extend_from_slice(&0i16.to_be_bytes());
                        body.push(0); // null error message
                        body.push(reply.len() as u8 + 1);
                        body.extend_from_slice(reply.as_bytes());
                        body.extend_from_slice(&0i64.to_be_bytes());
                        body.push(0);
                    }
                    _ => break,
                }
                let mut out = (body.len() as u32).to_be_bytes().to_vec();
                out.extend(body);
                if s.write_all(&out).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

#[test]
fn a_hostile_scram_server_is_refused() {
    type ServerFirst = fn(&str) -> String;
    let cases: [(ServerFirst, &str, &str); 3] = [
        (
            |_| "r=not-your-nonce,s=c2FsdA==,i=4096".into(),
            "v=AAAA",
            "does not extend",
        ),
        (
            |n| format!("r={n}srv,s=c2FsdA==,i=100"),
            "v=AAAA",
            "iteration count 100",
        ),
        (
            |n| format!("r={n}srv,s=c2FsdA==,i=4096"),
            "v=bm90IHRoZSBzaWduYXR1cmU=",
            "signature (v=) is wrong",
        ),
    ];
    for (first, last, needle) in cases {
        let addr = hostile_scram_broker(first, last);
        let args: Vec<String> = [
            "security.protocol=sasl_plaintext".to_string(),
            "sasl.mechanism=SCRAM-SHA-256".into(),
            format!("sasl.username={USER}"),
            format!("sasl.password={PASSWORD}"),
        ]
        .into_iter()
        .flat_map(|x| ["-X".to_string(), x])
        .collect();
        assert_fails_clearly(&addr, &args, 1, needle, &addr);
    }
}
