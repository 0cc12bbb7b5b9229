//! The builder's precedence and checks, table-driven.

use std::path::{Path, PathBuf};

use super::*;
use crate::config::SecurityWarning;

type Setup = Box<dyn Fn(ClientConfigBuilder) -> ClientConfigBuilder>;

/// Python's spelling of its inputs (as `python/src/options.rs` passes it).
const PY: InputNames = InputNames {
    file: "config file",
    property: "config",
    properties: "config",
    bootstrap: "bootstrap",
    isolation: "isolation",
    fetch_max_bytes: "fetch_max_bytes",
    partition_max_bytes: "partition_max_bytes",
};

fn env(value: &'static str) -> impl Fn(&str) -> Option<String> {
    move |k| (k == BOOTSTRAP_ENV).then(|| value.to_string())
}

/// A scratch directory of this test process, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("kbatch-builder-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn build(setup: &Setup) -> Result<ClientConfig, UsageError> {
    setup(ClientConfig::builder()).build()
}

/// Environment < properties file < keys in order < explicit settings, whatever order the
/// builder's methods were called in.
#[test]
fn precedence_table() {
    let dir = Scratch::new("precedence");
    let file = dir.file(
        "client.properties",
        "bootstrap.servers=file:1\nrequest.timeout.ms=1500\nisolation.level=read_uncommitted\n",
    );
    let f = move || file.clone();
    let rc = Isolation::ReadCommitted;
    let ru = Isolation::ReadUncommitted;
    let rows: Vec<(&str, Setup, &str, u64, Isolation)> = vec![
        ("defaults", Box::new(|b| b), "localhost:9092", 30_000, rc),
        (
            "env",
            Box::new(|b| b.env(env("e:1, e:2"))),
            "e:1,e:2",
            30_000,
            rc,
        ),
        (
            "blank env",
            Box::new(|b| b.env(env("  "))),
            "localhost:9092",
            30_000,
            rc,
        ),
        (
            "other env vars",
            Box::new(|b| b.env(|_| None)),
            "localhost:9092",
            30_000,
            rc,
        ),
        (
            "file over env",
            {
                let f = f.clone();
                Box::new(move |b| b.properties_file(f()).env(env("e:1")))
            },
            "file:1",
            1500,
            ru,
        ),
        (
            "keys over file, in any call order",
            {
                let f = f.clone();
                Box::new(move |b| {
                    b.property("bootstrap.servers", "key:1")
                        .property_arg("request.timeout.ms=2500")
                        .properties_file(f())
                })
            },
            "key:1",
            2500,
            ru,
        ),
        (
            "the last key wins; aliases are the same key",
            Box::new(|b| {
                b.property("bootstrap.servers", "a:1")
                    .property("metadata.broker.list", "b:1")
                    .properties([
                        ("isolation.level", "read_uncommitted"),
                        ("isolation.level", "read_committed"),
                    ])
            }),
            "b:1",
            30_000,
            rc,
        ),
        (
            "flags over keys, in any call order",
            {
                let f = f.clone();
                Box::new(move |b| {
                    b.bootstrap("flag:1")
                        .timeout(Duration::from_secs(5))
                        .isolation(Isolation::ReadCommitted)
                        .property_arg("bootstrap.servers=key:1")
                        .property("isolation.level", "read_uncommitted")
                        .properties_file(f())
                        .env(env("e:1"))
                })
            },
            "flag:1",
            5000,
            rc,
        ),
        (
            "a keyword equal to the key",
            Box::new(|b| {
                b.names(PY)
                    .isolation_keyword("read_uncommitted")
                    .property("isolation.level", "read_uncommitted")
            }),
            "localhost:9092",
            30_000,
            ru,
        ),
        (
            "a keyword without a key",
            Box::new(|b| b.names(PY).isolation_keyword("read_uncommitted")),
            "localhost:9092",
            30_000,
            ru,
        ),
    ];
    for (what, setup, bootstrap, timeout_ms, isolation) in rows {
        let built = build(&setup).unwrap_or_else(|e| panic!("{what}: {e}"));
        let c = &built.config;
        assert_eq!(c.bootstrap.join(","), bootstrap, "{what}");
        assert_eq!(c.timeout, Duration::from_millis(timeout_ms), "{what}");
        assert_eq!(c.isolation, isolation, "{what}");
    }
}

/// Every bad input is a usage error naming the input as the front end spells it, before
/// anything connects; secrets are never quoted.
#[test]
fn usage_errors_table() {
    let dir = Scratch::new("errors");
    let bad_escape = dir.file("bad.properties", "ok=1\nbad=\\u12\n");
    let missing = Path::new("/no/such/kbatch.properties").to_path_buf();
    let bad = bad_escape.display().to_string();
    let rows: Vec<(Setup, String)> = vec![
        (Box::new(|b| b.property_arg("novalue")), "-X expects key=value, got \"novalue\"".into()),
        (
            Box::new(|b| b.property_arg("sasl.password:TOPSECRET")),
            "-X expects key=value, got \"sasl.password\"".into(),
        ),
        (
            Box::new(move |b| b.properties_file(missing.clone())),
            "--config: cannot read /no/such/kbatch.properties: ".into(),
        ),
        (
            Box::new(move |b| b.properties_file(bad_escape.clone())),
            format!("--config {bad}: line 2: malformed \\uXXXX escape"),
        ),
        (
            Box::new(|b| b.property("sasl.mechanizm", "PLAIN")),
            "--config/-X: unknown configuration key \"sasl.mechanizm\" (did you mean sasl.mechanism?)".into(),
        ),
        (
            Box::new(|b| b.names(PY).property("sasl.mechanizm", "PLAIN")),
            "config: unknown configuration key \"sasl.mechanizm\" (did you mean sasl.mechanism?)".into(),
        ),
        (
            Box::new(|b| b.property("sasl.password", "TOPSECRET").property("security.protocol", "sasl_ssl").property("sasl.mechanism", "PLAIN")),
            "PLAIN needs sasl.username".into(),
        ),
        (Box::new(|b| b.bootstrap(" , ")), "--bootstrap is empty".into()),
        (Box::new(|b| b.names(PY).bootstrap("")), "bootstrap is empty".into()),
        (
            Box::new(|b| b.fetch_max_bytes(-1)),
            "--fetch-max-bytes: expected a number of bytes from 1 to 2147483647, got -1".into(),
        ),
        (
            Box::new(|b| b.partition_max_bytes(0)),
            "--partition-max-bytes: expected a number of bytes from 1 to 2147483647, got 0".into(),
        ),
        (Box::new(|b| b.timeout(Duration::ZERO)), "the timeout (--timeout, request.timeout.ms) is 0ns".into()),
        (
            Box::new(|b| b.timeout(Duration::from_secs(3600 * 1_000_000))),
            "it must be between 1 ms and 2147483647 ms".into(),
        ),
        // Half of 1 s is fetch.max.wait.ms: every idle Fetch would time out.
        (Box::new(|b| b.timeout(Duration::from_secs(1))), "must exceed fetch.max.wait.ms (500 ms)".into()),
        (Box::new(|b| b.property_arg("request.timeout.ms=1000")), "must exceed fetch.max.wait.ms".into()),
        (
            Box::new(|b| b.names(PY).isolation_keyword("committed")),
            "isolation=\"committed\": expected \"read_committed\" or \"read_uncommitted\"".into(),
        ),
        (
            Box::new(|b| b.names(PY).isolation_keyword("read_committed").property("isolation.level", "read_uncommitted")),
            "config isolation.level contradicts isolation=\"read_committed\": pass isolation= only".into(),
        ),
    ];
    for (setup, want) in rows {
        let e = build(&setup).unwrap_err().to_string();
        assert!(e.contains(&want), "want {want:?}, got {e:?}");
        assert!(!e.contains("TOPSECRET"), "{e}");
    }
}

/// The frame limit holds the largest Fetch response, however `fetch_max_bytes` was set, and
/// is never lowered.
#[test]
fn frame_limit_table() {
    const MIB: usize = 1 << 20;
    let rows: Vec<(Setup, usize)> = vec![
        (Box::new(|b| b), 100 * MIB),
        (Box::new(|b| b.fetch_max_bytes(1 << 20)), 100 * MIB),
        (Box::new(|b| b.fetch_max_bytes(200 << 20)), 204 * MIB),
        (
            Box::new(|b| b.property("fetch.max.bytes", (200 << 20).to_string())),
            204 * MIB,
        ),
        (
            Box::new(|b| {
                b.property("fetch.max.bytes", (200 << 20).to_string())
                    .fetch_max_bytes(1 << 20)
            }),
            204 * MIB,
        ),
        (
            Box::new(|b| b.fetch_max_bytes(i32::MAX)),
            i32::MAX as usize + 4 * MIB,
        ),
    ];
    for (i, (setup, want)) in rows.into_iter().enumerate() {
        assert_eq!(build(&setup).unwrap().config.frame_limit, want, "row {i}");
    }
}

#[test]
fn engine_settings_and_defaults() {
    let c = ClientConfig::builder()
        .threads(3)
        .channel_depth(0)
        .decompress_cap(1 << 20)
        .build()
        .unwrap()
        .config;
    assert_eq!((c.engine.threads, c.engine.channel_capacity), (3, 1));
    assert_eq!(c.engine.decompress_cap, 1 << 20);
    let d = ClientConfig::builder().build().unwrap().config;
    let default = Config::default();
    assert_eq!(d.engine.channel_capacity, default.engine.channel_capacity);
    assert_eq!(d.engine.decompress_cap, default.engine.decompress_cap);
    assert_eq!(d.client_id, default.client_id);
}

#[test]
fn ignored_keys_and_security_warnings_come_back() {
    let built = ClientConfig::builder()
        .property("group.id", "g")
        .property("security.protocol", "SASL_PLAINTEXT")
        .property("sasl.mechanism", "PLAIN")
        .property("sasl.username", "u")
        .property("sasl.password", "p")
        .property("auto.offset.reset", "earliest")
        .property("group.id", "h")
        .build()
        .unwrap();
    assert_eq!(built.ignored, vec!["group.id", "auto.offset.reset"]);
    assert_eq!(
        built.warnings,
        vec![SecurityWarning::CleartextCredentials { mechanism: "PLAIN" }]
    );
    assert!(ClientConfig::builder().build().unwrap().warnings.is_empty());
}

/// `schema.registry.*` keys are kept for a registry client, from the file and the keys alike,
/// the last value winning; Kafka's configuration never sees them and `Debug` never shows
/// their values.
#[test]
fn schema_registry_keys_are_kept_apart_and_redacted() {
    let dir = Scratch::new("registry");
    let file = dir.file(
        "client.properties",
        "schema.registry.url=http://file:8081\nbootstrap.servers=b:1\n",
    );
    let built = ClientConfig::builder()
        .properties_file(&file)
        .property(" schema.registry.url", "http://r:8081")
        .property("schema.registry.basic.auth.user.info", "u:TOPSECRET")
        .build()
        .unwrap();
    let registry = built.schema_registry().unwrap();
    assert_eq!(registry.urls, vec!["http://r:8081"]);
    assert_eq!(
        registry.basic.as_ref().map(kbatch_wire::Secret::expose),
        Some("u:TOPSECRET")
    );
    assert_eq!(built.config.bootstrap, vec!["b:1"]);
    assert!(built.ignored.is_empty());
    let debug = format!("{built:?}");
    assert!(debug.contains("r:8081"), "{debug}");
    assert!(!debug.contains("TOPSECRET"), "{debug}");
    // Checked when built: a bad registry key is a usage error naming it.
    let e = ClientConfig::builder()
        .property("schema.registry.url", "r:8081")
        .build()
        .unwrap_err();
    assert!(e.0.contains("schema.registry.url"), "{e}");
    assert!(ClientConfig::builder()
        .build()
        .unwrap()
        .schema_registry()
        .is_none());
    // Outside the builder they are no Kafka keys.
    assert!(Config::from_properties([("schema.registry.url", "http://r")]).is_err());
    // A near miss of the prefix is still a typo.
    let e = ClientConfig::builder()
        .property("schema.registy.url", "http://r")
        .build()
        .unwrap_err();
    assert!(e.0.contains("unknown configuration key"), "{e}");
}
