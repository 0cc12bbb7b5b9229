//! Client keys → `Config`, table-driven.

use std::path::PathBuf;

use super::*;

fn from(pairs: &[(&str, &str)]) -> Result<(Config, Applied), ConfigError> {
    Config::from_properties(pairs.iter().copied())
}

fn ok(pairs: &[(&str, &str)]) -> Config {
    from(pairs).unwrap_or_else(|e| panic!("{pairs:?}: {e}")).0
}

#[test]
fn general_keys() {
    let c = ok(&[
        ("bootstrap.servers", "a:1, b:2"),
        ("isolation.level", "READ_UNCOMMITTED"),
        ("fetch.max.bytes", "1048576"),
        ("max.partition.fetch.bytes", "65536"),
        ("client.id", "me"),
        ("request.timeout.ms", "1500"),
    ]);
    assert_eq!(c.bootstrap, vec!["a:1", "b:2"]);
    assert_eq!(c.isolation, Isolation::ReadUncommitted);
    assert_eq!(c.fetch_max_bytes, 1 << 20);
    assert_eq!(c.partition_max_bytes, 65536);
    assert_eq!(c.client_id, "me");
    assert_eq!(c.timeout, Duration::from_millis(1500));
    assert_eq!(c.security.protocol, Protocol::Plaintext);
    // The last value of a key wins; an alias is the same key.
    let c = ok(&[
        ("metadata.broker.list", "x:1"),
        ("bootstrap.servers", "y:2"),
    ]);
    assert_eq!(c.bootstrap, vec!["y:2"]);
}

#[test]
fn sasl_settings_from_librdkafka_and_java_names() {
    let scram = |hash| SaslSettings::Scram {
        hash,
        username: "alice".into(),
        password: Secret::new("pw\"1"),
    };
    let plain = SaslSettings::Plain {
        username: "alice".into(),
        password: Secret::new("pw\"1"),
    };
    let jaas_scram = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="pw\"1";"#;
    let jaas_plain = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="pw\"1";"#;
    type Case<'a> = (Vec<(&'a str, &'a str)>, SaslSettings, Protocol);
    let mut cases: Vec<Case> = vec![
        (
            vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", "SCRAM-SHA-256"),
                ("sasl.username", "alice"),
                ("sasl.password", "pw\"1"),
            ],
            scram(ScramHash::Sha256),
            Protocol::SaslSsl,
        ),
        (
            vec![
                ("security.protocol", "sasl_plaintext"),
                ("sasl.mechanism", "scram-sha-512"),
                ("sasl.jaas.config", jaas_scram),
            ],
            scram(ScramHash::Sha512),
            Protocol::SaslPlaintext,
        ),
        (
            vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.jaas.config", jaas_plain),
            ],
            plain.clone(),
            Protocol::SaslSsl,
        ),
        (
            vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", "alice"),
                ("sasl.password", "pw\"1"),
            ],
            plain,
            Protocol::SaslSsl,
        ),
        (
            vec![
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "OAUTHBEARER"),
                (
                    "sasl.oauthbearer.config",
                    "principal=admin scope=a,b lifeSeconds=60 extension_trace=7",
                ),
            ],
            SaslSettings::OAuthBearerUnsecured {
                principal: "admin".into(),
                scope: vec!["a".into(), "b".into()],
                life: Duration::from_secs(60),
                extensions: vec![("trace".into(), "7".into())],
            },
            Protocol::SaslPlaintext,
        ),
    ];
    let oidc = |id: &str| SaslSettings::OAuthBearerOidc {
        token_endpoint: "https://idp/token".into(),
        allow_http: false,
        https_ca: None,
        client_id: id.into(),
        client_secret: Secret::new("pw\"1"),
        scope: Some("kafka".into()),
        cache: TokenCache::default(),
    };
    cases.push((
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
            ("sasl.oauthbearer.method", "OIDC"),
            ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
            ("sasl.oauthbearer.client.id", "kbatch"),
            ("sasl.oauthbearer.client.secret", "pw\"1"),
            ("sasl.oauthbearer.scope", "kafka"),
        ],
        oidc("kbatch"),
        Protocol::SaslSsl,
    ));
    // Java's names: the endpoint URL, and the client in the JAAS line.
    cases.push((
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
            ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="java" clientSecret="pw\"1" scope="kafka";"#,
            ),
        ],
        oidc("java"),
        Protocol::SaslSsl,
    ));
    for (pairs, want, protocol) in cases {
        let c = ok(&pairs);
        assert_eq!(c.security.protocol, protocol, "{pairs:?}");
        assert_eq!(c.security.sasl.as_ref(), Some(&want), "{pairs:?}");
    }
}

#[test]
fn tls_settings() {
    let c = ok(&[
        ("security.protocol", "ssl"),
        ("ssl.ca.location", "/ca.pem"),
        ("ssl.certificate.location", "/c.pem"),
        ("ssl.key.location", "/k.pem"),
        ("ssl.key.password", "kp"),
        ("ssl.endpoint.identification.algorithm", "none"),
    ]);
    let tls = &c.security.tls;
    assert_eq!(tls.ca, CaSource::Location(PathBuf::from("/ca.pem")));
    assert!(!tls.verify_hostname && tls.verify_certificate);
    let id = tls.identity.as_ref().unwrap();
    assert_eq!(id.certificate, PemSource::File("/c.pem".into()));
    assert_eq!(id.key, PemSource::File("/k.pem".into()));
    assert!(!format!("{c:?}").contains("kp\""));

    // A Java client.properties with PEM stores.
    let c = ok(&[
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", "/t.pem"),
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.location", "/ks.pem"),
        ("ssl.endpoint.identification.algorithm", ""),
        ("ssl.truststore.password", "ignored"),
    ]);
    let tls = &c.security.tls;
    assert_eq!(tls.ca, CaSource::Location(PathBuf::from("/t.pem")));
    assert!(!tls.verify_hostname);
    let id = tls.identity.as_ref().unwrap();
    assert_eq!(id.certificate, PemSource::File("/ks.pem".into()));
    assert_eq!(id.key, PemSource::File("/ks.pem".into()));

    for (pairs, ca, host, cert) in [
        (
            vec![("ssl.ca.location", "probe")],
            CaSource::Probe,
            true,
            true,
        ),
        (
            vec![("ssl.ca.pem", "PEM")],
            CaSource::Pem("PEM".into()),
            true,
            true,
        ),
        (
            vec![("enable.ssl.certificate.verification", "false")],
            CaSource::BuiltIn,
            true,
            false,
        ),
        (
            vec![("ssl.endpoint.identification.algorithm", "HTTPS")],
            CaSource::BuiltIn,
            true,
            true,
        ),
    ] {
        let mut pairs = pairs;
        pairs.push(("security.protocol", "ssl"));
        let c = ok(&pairs);
        assert_eq!(c.security.tls.ca, ca, "{pairs:?}");
        assert_eq!(c.security.tls.verify_hostname, host, "{pairs:?}");
        assert_eq!(c.security.tls.verify_certificate, cert, "{pairs:?}");
    }
}

#[test]
fn bad_keys_and_values_are_usage_errors_without_secrets() {
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("sasl.mechanizm", "PLAIN")],
            "did you mean sasl.mechanism?",
        ),
        (
            vec![("colour", "blue")],
            "unknown configuration key \"colour\"",
        ),
        (vec![("security.protocol", "tls")], "security.protocol"),
        (vec![("isolation.level", "dirty")], "read_committed"),
        (vec![("fetch.max.bytes", "-1")], "positive"),
        (
            vec![("security.protocol", "sasl_ssl")],
            "needs sasl.mechanism",
        ),
        (
            vec![
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "SCRAM-SHA-256"),
                ("sasl.password", "TOPSECRET"),
            ],
            "needs sasl.username",
        ),
        (
            vec![
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "GSSAPI"),
            ],
            "Kerberos",
        ),
        (
            vec![
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "OAUTHBEARER"),
                ("sasl.oauthbearer.method", "oidc"),
                ("sasl.oauthbearer.client.secret", "TOPSECRET"),
            ],
            "needs sasl.oauthbearer.token.endpoint.url",
        ),
        (
            vec![
                ("security.protocol", "ssl"),
                ("ssl.truststore.type", "JKS"),
                ("ssl.truststore.location", "/t.jks"),
            ],
            "keytool -importkeystore",
        ),
        (
            vec![
                ("security.protocol", "ssl"),
                ("ssl.keystore.type", "PKCS12"),
            ],
            "openssl pkcs12",
        ),
        (
            vec![
                ("security.protocol", "ssl"),
                ("ssl.certificate.location", "/c"),
            ],
            "ssl.key.location",
        ),
        (
            vec![
                ("security.protocol", "sasl_ssl"),
                ("sasl.jaas.config", "X required password=\"TOPSECRET"),
            ],
            "not closed",
        ),
        (
            vec![("ssl.endpoint.identification.algorithm", "dns")],
            "https",
        ),
    ];
    for (pairs, needle) in cases {
        let e = from(&pairs).unwrap_err().to_string();
        assert!(e.contains(needle), "{pairs:?}: {e}");
        assert!(!e.contains("TOPSECRET"), "{pairs:?}: {e}");
    }
}

#[test]
fn known_but_irrelevant_keys_are_listed_once() {
    let (c, applied) = from(&[
        ("group.id", "g"),
        ("auto.offset.reset", "earliest"),
        ("group.id", "h"),
        ("sasl.login.callback.handler.class", "x"),
        ("client.id", "c"),
    ])
    .unwrap();
    assert_eq!(
        applied.ignored,
        vec![
            "group.id",
            "auto.offset.reset",
            "sasl.login.callback.handler.class"
        ]
    );
    assert_eq!(c.client_id, "c");
}

#[test]
fn a_java_client_properties_file_works_unchanged() {
    let text = r#"
# client.properties as the Java tools take it
bootstrap.servers=localhost:9095
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
    username="alice" \
    password="alice-secret";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/ca.pem
group.id=ignored
"#;
    let pairs = parse_properties(text).unwrap();
    let (c, applied) = Config::from_properties(pairs).unwrap();
    assert_eq!(c.bootstrap, vec!["localhost:9095"]);
    assert_eq!(
        c.security.sasl,
        Some(SaslSettings::Scram {
            hash: ScramHash::Sha512,
            username: "alice".into(),
            password: Secret::new("alice-secret"),
        })
    );
    assert_eq!(applied.ignored, vec!["group.id"]);
    assert!(!format!("{c:?}").contains("alice-secret"));
}

/// OIDC with every key: the token endpoint's scheme against the allow key, and its CA from
/// librdkafka's `https.ca.*` only.
fn oidc_pairs<'a>(url: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.oauthbearer.method", "oidc"),
        ("sasl.oauthbearer.token.endpoint.url", url),
        ("sasl.oauthbearer.client.id", "kbatch"),
        ("sasl.oauthbearer.client.secret", "TOPSECRET"),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

fn oidc_of(c: &Config) -> (bool, Option<CaSource>) {
    match c.security.sasl.as_ref() {
        Some(SaslSettings::OAuthBearerOidc {
            allow_http,
            https_ca,
            ..
        }) => (*allow_http, https_ca.clone()),
        other => panic!("not OIDC: {other:?}"),
    }
}

#[test]
fn a_plain_http_token_endpoint_needs_the_allow_key() {
    let key = "sasl.oauthbearer.token.endpoint.allow.http";
    for (url, allow, ok_) in [
        ("https://idp/token", None, true),
        ("https://idp/token", Some("true"), true),
        ("http://idp/token", None, false),
        ("http://idp/token", Some("false"), false),
        ("http://idp/token", Some("true"), true),
        ("HTTP://idp/token", Some("TRUE"), true),
        ("ftp://idp/token", Some("true"), false),
    ] {
        let mut extra = vec![];
        if let Some(v) = allow {
            extra.push((key, v));
        }
        let got = from(&oidc_pairs(url, &extra));
        assert_eq!(got.is_ok(), ok_, "{url} {allow:?}: {got:?}");
        match got {
            Ok((c, _)) => assert_eq!(
                oidc_of(&c).0,
                allow.is_some_and(|v| v.eq_ignore_ascii_case("true"))
            ),
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("sasl.oauthbearer.token.endpoint.url"), "{e}");
                if url.starts_with("http") {
                    assert!(e.contains(key), "the error names the key: {e}");
                }
                assert!(!e.contains("TOPSECRET"), "{e}");
            }
        }
    }
    let e = from(&oidc_pairs("http://idp/token", &[(key, "maybe")])).unwrap_err();
    assert!(e.to_string().contains(key), "{e}");
}

#[test]
fn the_token_endpoint_trusts_https_ca_keys_never_the_brokers_ssl_keys() {
    // The brokers' switches and private CA: none of them reaches the token endpoint.
    let broker_tls = [
        ("ssl.ca.location", "/private/broker-ca.pem"),
        ("ssl.endpoint.identification.algorithm", "none"),
        ("enable.ssl.certificate.verification", "false"),
    ];
    let c = ok(&oidc_pairs("https://idp/token", &broker_tls));
    assert!(!c.security.tls.verify_certificate && !c.security.tls.verify_hostname);
    assert_eq!(oidc_of(&c), (false, None), "public roots only");
    let c = ok(&oidc_pairs(
        "https://idp/token",
        &[("https.ca.location", " /idp/ca.pem "), broker_tls[0]],
    ));
    assert_eq!(
        oidc_of(&c).1,
        Some(CaSource::Location(PathBuf::from("/idp/ca.pem")))
    );
    assert_eq!(
        c.security.tls.ca,
        CaSource::Location("/private/broker-ca.pem".into())
    );
    let c = ok(&oidc_pairs(
        "https://idp/token",
        &[("https.ca.location", "probe")],
    ));
    assert_eq!(oidc_of(&c).1, Some(CaSource::Probe));
    let c = ok(&oidc_pairs(
        "https://idp/token",
        &[
            ("https.ca.location", "/x"),
            ("https.ca.pem", "-----BEGIN CERTIFICATE-----"),
        ],
    ));
    assert_eq!(
        oidc_of(&c).1,
        Some(CaSource::Pem("-----BEGIN CERTIFICATE-----".into()))
    );
}

/// `lifeSeconds` is bounded where it is read (it overflowed `iat + life` when the token was
/// made, at connection time).
#[test]
fn unsecured_token_lives_are_bounded() {
    let pairs = |life: &'static str| {
        vec![
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "OAUTHBEARER"),
            ("sasl.oauthbearer.config", life),
        ]
    };
    for bad_life in [
        "principal=a lifeSeconds=18446744073709551615",
        "principal=a lifeSeconds=12000000000000000000",
        "principal=a lifeSeconds=1099511627777",
    ] {
        let e = from(&pairs(bad_life)).unwrap_err().to_string();
        assert!(
            e.contains("lifeSeconds") && e.contains("longer"),
            "{bad_life}: {e}"
        );
    }
    ok(&pairs("principal=a lifeSeconds=1099511627776"));
    ok(&pairs("principal=a lifeSeconds=0"));
}

#[test]
fn security_warnings_table() {
    use SecurityWarning as W;
    let sasl = |protocol: &'static str, mechanism: &'static str| {
        let mut p = vec![
            ("security.protocol", protocol),
            ("sasl.mechanism", mechanism),
        ];
        match mechanism {
            "OAUTHBEARER" => p.push(("sasl.oauthbearer.config", "principal=a")),
            _ => p.extend([("sasl.username", "u"), ("sasl.password", "TOPSECRET")]),
        }
        p
    };
    let allow = ("sasl.oauthbearer.token.endpoint.allow.http", "true");
    let no_host = ("ssl.endpoint.identification.algorithm", "none");
    let no_cert = ("enable.ssl.certificate.verification", "false");
    let mut oidc_http = oidc_pairs("http://idp/token", &[allow]);
    oidc_http[0].1 = "SASL_PLAINTEXT";
    type Pairs<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Pairs, Vec<W>)> = vec![
        (vec![], vec![]),
        (vec![("security.protocol", "ssl")], vec![]),
        (sasl("SASL_SSL", "PLAIN"), vec![]),
        (sasl("SASL_SSL", "OAUTHBEARER"), vec![]),
        (sasl("SASL_PLAINTEXT", "SCRAM-SHA-512"), vec![]),
        (
            sasl("SASL_PLAINTEXT", "PLAIN"),
            vec![W::CleartextCredentials { mechanism: "PLAIN" }],
        ),
        (
            sasl("SASL_PLAINTEXT", "OAUTHBEARER"),
            vec![W::CleartextCredentials {
                mechanism: "OAUTHBEARER",
            }],
        ),
        (
            oidc_http,
            vec![
                W::CleartextCredentials {
                    mechanism: "OAUTHBEARER",
                },
                W::TokenEndpointPlainHttp,
            ],
        ),
        // The allow key with an https endpoint exposes nothing.
        (oidc_pairs("https://idp/token", &[allow]), vec![]),
        (
            vec![("security.protocol", "ssl"), no_host],
            vec![W::BrokerHostNameUnchecked],
        ),
        (
            vec![("security.protocol", "ssl"), no_cert],
            vec![W::BrokerCertificateUnchecked],
        ),
        (
            vec![("security.protocol", "ssl"), no_cert, no_host],
            vec![W::BrokerCertificateUnchecked],
        ),
        (
            [sasl("SASL_SSL", "SCRAM-SHA-256"), vec![no_host]].concat(),
            vec![W::BrokerHostNameUnchecked],
        ),
        // TLS switches without TLS change nothing on the wire.
        (vec![no_cert, no_host], vec![]),
        (
            [sasl("SASL_PLAINTEXT", "SCRAM-SHA-256"), vec![no_cert]].concat(),
            vec![],
        ),
    ];
    for (pairs, want) in cases {
        let c = ok(&pairs);
        let got = c.security_warnings();
        assert_eq!(got, want, "{pairs:?}");
        for w in &got {
            let text = w.to_string();
            assert!(!text.contains("TOPSECRET"), "{text}");
            assert!(text.contains('='), "names the setting: {text}");
        }
    }
}
