"""Spark Kafka source options → kbatch request: table-driven, no Spark, no broker."""

import pytest

from kbatch.spark.options import Bound, OptionError, parse

B = {"kafka.bootstrap.servers": "127.0.0.1:9092"}


def opts(**kw):
    out = dict(B)
    out.update({k.replace("__", "."): v for k, v in kw.items()})
    return out


# (options, attribute, expected)
ACCEPTED = [
    (opts(subscribe="a, b"), "topics", ("a", "b")),
    (opts(subscribe="a"), "mode", "subscribe"),
    (opts(assign='{"t": [1, 0, 1]}'), "assign", (("t", (0, 1)),)),
    (opts(subscribePattern="web_.*"), "pattern", "web_.*"),
    (opts(subscribe="t"), "start", Bound("spec", "earliest", "earliest")),
    (opts(subscribe="t"), "end", Bound("spec", "latest", "latest")),
    (opts(subscribe="t", startingOffsets="EARLIEST"), "start", Bound("spec", "earliest", "earliest")),
    (opts(subscribe="t", startingOffsets="-24h"), "start", Bound("spec", "-24h", "earliest")),
    (opts(subscribe="t", endingOffsets="@2026-11-24T10:00:00Z"), "end", Bound("spec", "@2026-11-24T10:00:00Z", "latest")),
    (opts(subscribe="t", startingOffsets='{"t": {"0": 23, "1": -2}}'), "start",
     Bound("offsets", {"t": {0: 23, 1: -2}}, "earliest")),
    (opts(subscribe="t", endingOffsets='{"t": {"0": -1}}'), "end", Bound("offsets", {"t": {0: -1}}, "latest")),
    (opts(subscribe="t", startingTimestamp="1700000000000"), "start", Bound("spec", "@1700000000000", "earliest")),
    (opts(subscribe="t", endingOffsetsByTimestamp='{"t": {"2": 5}}'), "end", Bound("timestamps", {"t": {2: 5}}, "latest")),
    # Spark's precedence: the global timestamp beats the per-partition ones, which beat offsets.
    (opts(subscribe="t", startingTimestamp="7", startingOffsetsByTimestamp='{"t": {"0": 5}}', startingOffsets="3"),
     "start", Bound("spec", "@7", "earliest")),
    (opts(subscribe="t", startingOffsetsByTimestamp='{"t": {"0": 5}}', startingOffsets="3"),
     "start", Bound("timestamps", {"t": {0: 5}}, "earliest")),
    (opts(subscribe="t"), "isolation", "read_committed"),
    (opts(subscribe="t", kafka__isolation__level="read_uncommitted"), "isolation", "read_uncommitted"),
    (opts(subscribe="t", minPartitions="8"), "min_partitions", 8),
    (opts(subscribe="t", maxRecordsPerPartition="1000"), "max_records", 1000),
    (opts(subscribe="t"), "headers", False),
    (opts(subscribe="t", includeHeaders="TRUE"), "headers", True),
    (opts(subscribe="t"), "fail_on_data_loss", True),
    (opts(subscribe="t", failOnDataLoss="false"), "fail_on_data_loss", False),
    (opts(subscribe="t", **{"kafka.security.protocol": "SASL_SSL", "kafka.sasl.mechanism": "PLAIN"}), "config",
     (("sasl.mechanism", "PLAIN"), ("security.protocol", "SASL_SSL"))),
    # bootstrap, isolation and the consumer's group are not passed on as client keys
    (opts(subscribe="t", kafka__isolation__level="read_committed", kafka__group__id="g"), "config", ()),
    (opts(subscribe="t", **{"kbatch.job": "Trending"}), "job", "trending"),
    (opts(subscribe="t", **{"kbatch.batchRows": "100"}), "batch_rows", 100),
    # Spark lower-cases option names; either spelling is the same option
    ({"KAFKA.BOOTSTRAP.SERVERS": "h:1", "Subscribe": "t", "STARTINGOFFSETS": "5"}, "start", Bound("spec", "5", "earliest")),
]


@pytest.mark.parametrize("options,attr,expected", ACCEPTED)
def test_accepted(options, attr, expected):
    assert getattr(parse(options), attr) == expected


# (options, words the message must contain)
REFUSED = [
    ({"subscribe": "t"}, ["kafka.bootstrap.servers", "required"]),
    (opts(), ["exactly one of", "subscribe"]),
    (opts(subscribe="t", assign='{"t": [0]}'), ["exactly one of", "subscribe, assign"]),
    (opts(subscribe=" , "), ["subscribe", "no topic"]),
    (opts(assign="[0]"), ["assign", "JSON object"]),
    (opts(assign='{"t": 0}'), ["assign", "list of partitions"]),
    (opts(assign='{"t": [-1]}'), ["assign", "≥ 0"]),
    (opts(assign="{"), ["assign", "not valid JSON"]),
    (opts(subscribePattern="("), ["subscribePattern", "regular expression"]),
    (opts(subscribe="t", startingOffsets="latest"), ["startingOffsets", "'latest' is not allowed"]),
    (opts(subscribe="t", endingOffsets="earliest"), ["endingOffsets", "'earliest' is not allowed"]),
    (opts(subscribe="t", startingOffsets='{"t": {"0": -1}}'), ["startingOffsets", "t-0", "-1"]),
    (opts(subscribe="t", endingOffsets='{"t": {"0": -2}}'), ["endingOffsets", "t-0", "-2"]),
    (opts(subscribe="t", startingOffsets='{"t": {"x": 1}}'), ["startingOffsets", "bad partition 'x'"]),
    (opts(subscribe="t", startingOffsets='{"t": {"0": "1"}}'), ["startingOffsets", "t-0", "integer"]),
    (opts(subscribe="t", startingTimestamp="yesterday"), ["startingTimestamp", "epoch milliseconds"]),
    (opts(subscribe="t", minPartitions="0"), ["minPartitions", "positive integer"]),
    (opts(subscribe="t", maxRecordsPerPartition="lots"), ["maxRecordsPerPartition", "positive integer"]),
    (opts(subscribe="t", includeHeaders="yes"), ["includeHeaders", "true or false"]),
    (opts(subscribe="t", failOnDataLoss="1"), ["failOnDataLoss", "true or false"]),
    (opts(subscribe="t", kafka__isolation__level="serializable"), ["kafka.isolation.level", "serializable"]),
    (opts(subscribe="t", **{"kbatch.job": "wordcount"}), ["kbatch.job", "wordcount"]),
    (opts(subscribe="t", kafka__auto__offset__reset="earliest"), ["kafka.auto.offset.reset", "startingOffsets"]),
    (opts(subscribe="t", kafka__value__deserializer="x"), ["kafka.value.deserializer", "bytes"]),
    # every unknown option is named, in the documented spelling where there is one
    (opts(subscribe="t", startingOffset="1", topic="t", path="/x"),
     ["unknown option", "path", "startingoffset", "topic"]),
]


@pytest.mark.parametrize("options,words", REFUSED)
def test_refused(options, words):
    with pytest.raises(OptionError) as e:
        parse(options)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


WARNED = [
    ("kafkaConsumer.pollTimeoutMs", "512"),
    ("fetchOffset.numRetries", "3"),
    ("groupIdPrefix", "x"),
    ("kafka.group.id", "g"),
    ("startingOffsetsByTimestampStrategy", "latest"),
    ("maxOffsetsPerTrigger", "10"),
]


@pytest.mark.parametrize("key,value", WARNED)
def test_consumer_only_options_warn(key, value):
    r = parse(opts(subscribe="t", **{key: value}))
    assert len(r.warnings) == 1 and key in r.warnings[0], r.warnings
    assert parse(opts(subscribe="t")).warnings == ()


SPECS = [
    # (bound, topic, partition, SPEC)
    (Bound("spec", "-24h", "earliest"), "t", 3, "-24h"),
    (Bound("offsets", {"t": {0: 23, 1: -2, 2: -1}}, "earliest"), "t", 0, "23"),
    (Bound("offsets", {"t": {0: 23, 1: -2, 2: -1}}, "earliest"), "t", 1, "earliest"),
    (Bound("offsets", {"t": {0: 23, 1: -2, 2: -1}}, "latest"), "t", 2, "latest"),
    (Bound("offsets", {"t": {0: 23}}, "earliest"), "t", 5, "earliest"),
    (Bound("offsets", {"t": {0: 23}}, "latest"), "u", 0, "latest"),
    (Bound("timestamps", {"t": {0: 1700}}, "latest"), "t", 0, "@1700"),
    (Bound("timestamps", {"t": {0: 1700}}, "latest"), "t", 1, "latest"),
]


@pytest.mark.parametrize("bound,topic,partition,spec", SPECS)
def test_spec_for(bound, topic, partition, spec):
    assert bound.spec_for(topic, partition) == spec


def test_readme_table_matches_the_option_lists():
    """The README's option-compatibility table says what this module does: every option of
    each list in the row of its kind, and no row naming an option the module treats otherwise."""
    import re
    from pathlib import Path

    from kbatch.spark import options as o

    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    table = text[text.index("| Spark Kafka option | kbatch | notes |"):].split("\n\n", 1)[0]
    kinds = {}
    for line in table.splitlines()[2:]:
        first, kind = [c.strip() for c in line.strip("|").split("|")[:2]]
        for name in re.findall(r"`([^`]+)`", first):
            kinds[name.lower()] = kind
    want = {k: "accepted with a warning" for k in o.CONSUMER_ONLY}
    want.update({k: "error" for k in o.SPARK_REFUSED})
    want.update({k: "kbatch's own" if k.startswith("kbatch.") else "supported" for k in o._SOURCE})
    assert {k: kinds.get(k) for k in want} == want
    # the rest are examples of client keys passed on
    assert {k: v for k, v in kinds.items() if k not in want and not (k.startswith("kafka.") and v == "supported")} == {}


def test_option_error_is_a_usage_error():
    import kbatch

    assert issubclass(OptionError, kbatch.UsageError)
    assert issubclass(OptionError, ValueError)
    with pytest.raises(kbatch.UsageError):
        parse({"subscribe": "t"})


SECRETS = {
    "kafka.sasl.password": "pw-SECRET-1",
    "kafka.sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="pw-SECRET-2";',
    "kafka.sasl.oauthbearer.client.secret": "pw-SECRET-3",
    "kafka.ssl.key.pem": "-----BEGIN PRIVATE KEY-----pw-SECRET-4",
    "kafka.ssl.key.password": "pw-SECRET-5",
    "schema.registry.basic.auth.user.info": "u:pw-SECRET-6",
    "schema.registry.bearer.auth.token": "pw-SECRET-7",
}


def test_request_repr_redacts_secrets():
    r = parse(opts(subscribe="t", kafka__sasl__username="alice", **{k.replace(".", "__"): v for k, v in SECRETS.items()}))
    for text in (repr(r), str(r), f"{r}"):
        assert "pw-SECRET" not in text
        assert "[redacted]" in text
        assert "alice" in text  # not a secret
    assert r.config_dict()["sasl.password"] == "pw-SECRET-1"  # the value itself is kept
    # Registry keys go to the client configuration as they are (no kafka. to strip).
    assert r.config_dict()["schema.registry.basic.auth.user.info"] == "u:pw-SECRET-6"
