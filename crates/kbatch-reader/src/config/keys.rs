//! Which client keys kbatch knows: the ones it honours (librdkafka's names and the Java
//! client's, side by side), and the ones those clients know that mean nothing to a bounded
//! read (accepted with a warning, so existing files work unchanged). Anything else is a typo
//! until proven otherwise: refused, with the closest known key suggested.

/// Keys that change what kbatch does.
pub(crate) const HONOURED: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "isolation.level",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "client.id",
    "request.timeout.ms",
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.oauthbearer.scope",
    "sasl.oauthbearer.client.credentials.client.id",
    "sasl.oauthbearer.client.credentials.client.secret",
    "sasl.oauthbearer.token.endpoint.allow.http",
    "https.ca.location",
    "https.ca.pem",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "enable.ssl.certificate.verification",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
];

/// Keys librdkafka or the Java client know that do not apply to a bounded read.
pub(crate) const IGNORED: &[&str] = &[
    "acks",
    "allow.auto.create.topics",
    "api.version.request",
    "auto.commit.interval.ms",
    "auto.offset.reset",
    "batch.size",
    "broker.version.fallback",
    "buffer.memory",
    "check.crcs",
    "client.dns.lookup",
    "client.rack",
    "compression.type",
    "connections.max.idle.ms",
    "debug",
    "default.api.timeout.ms",
    "delivery.timeout.ms",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.idempotence",
    "enable.partition.eof",
    "exclude.internal.topics",
    "fetch.min.bytes",
    "fetch.max.wait.ms",
    "fetch.wait.max.ms",
    "group.id",
    "group.instance.id",
    "group.protocol",
    "heartbeat.interval.ms",
    "interceptor.classes",
    "key.deserializer",
    "key.serializer",
    "linger.ms",
    "log_level",
    "max.block.ms",
    "max.in.flight.requests.per.connection",
    "max.poll.interval.ms",
    "max.poll.records",
    "message.max.bytes",
    "metadata.max.age.ms",
    "partition.assignment.strategy",
    "queued.max.messages.kbytes",
    "queued.min.messages",
    "receive.buffer.bytes",
    "retries",
    "sasl.client.callback.handler.class",
    "sasl.login.callback.handler.class",
    "sasl.login.class",
    "security.providers",
    "send.buffer.bytes",
    "session.timeout.ms",
    "ssl.cipher.suites",
    "ssl.curves.list",
    "ssl.enabled.protocols",
    "ssl.engine.factory.class",
    "ssl.keymanager.algorithm",
    "ssl.keystore.password",
    "ssl.protocol",
    "ssl.provider",
    "ssl.secure.random.implementation",
    "ssl.sigalgs.list",
    "ssl.trustmanager.algorithm",
    "ssl.truststore.password",
    "statistics.interval.ms",
    "transactional.id",
    "value.deserializer",
    "value.serializer",
];

/// Families of keys those clients know (login refresh, Kerberos, metrics, socket and retry
/// tuning), all irrelevant here.
pub(crate) const IGNORED_PREFIXES: &[&str] = &[
    "sasl.kerberos.",
    "sasl.login.",
    "metric.",
    "metrics.",
    "reconnect.backoff",
    "retry.backoff",
    "socket.",
    "topic.metadata.",
    "queue.buffering.",
];

/// How a key is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    Honoured,
    Ignored,
    Unknown,
}

pub(crate) fn classify(key: &str) -> Known {
    if HONOURED.contains(&key) {
        Known::Honoured
    } else if IGNORED.contains(&key) || IGNORED_PREFIXES.iter().any(|p| key.starts_with(p)) {
        Known::Ignored
    } else {
        Known::Unknown
    }
}

/// The known key closest to `key`, if it is close enough to be a typo of it.
pub(crate) fn suggest(key: &str) -> Option<&'static str> {
    let (best, d) = HONOURED
        .iter()
        .chain(IGNORED)
        .map(|k| (*k, distance(key, k)))
        .min_by_key(|&(_, d)| d)?;
    (d <= 3 && d * 4 <= key.len()).then_some(best)
}

/// Levenshtein distance in characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_right_key() {
        for (typo, want) in [
            ("sasl.mechanizm", Some("sasl.mechanism")),
            ("security.protocl", Some("security.protocol")),
            ("ssl.ca.locaton", Some("ssl.ca.location")),
            ("bootstrap.server", Some("bootstrap.servers")),
            ("sasl.pasword", Some("sasl.password")),
            ("colour", None),
            ("x", None),
        ] {
            assert_eq!(suggest(typo), want, "{typo}");
        }
    }

    #[test]
    fn classes() {
        assert_eq!(classify("sasl.mechanisms"), Known::Honoured);
        assert_eq!(classify("group.id"), Known::Ignored);
        assert_eq!(classify("sasl.login.refresh.window.factor"), Known::Ignored);
        assert_eq!(classify("sasl.mechanizm"), Known::Unknown);
        for k in HONOURED {
            assert!(!IGNORED.contains(k), "{k} is in both lists");
        }
    }
}
