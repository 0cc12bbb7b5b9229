"""Each failure raises its documented exception, with the CLI's one-line message."""

from __future__ import annotations

import subprocess

import pytest

import kbatch
from conftest import CLI, Dataset


def cli_error(*args: str) -> str:
    done = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("kbatch: ")
    return line[len("kbatch: "):]


def test_hierarchy() -> None:
    assert issubclass(kbatch.UsageError, kbatch.KbatchError)
    assert issubclass(kbatch.UsageError, ValueError)
    assert issubclass(kbatch.AuthError, kbatch.BrokerError)
    assert issubclass(kbatch.InternalError, RuntimeError)
    for e in (kbatch.RangeError, kbatch.BrokerError, kbatch.DataError, kbatch.InternalError):
        assert issubclass(e, kbatch.KbatchError)


def test_every_error_has_topic_partition_and_retriable() -> None:
    import pickle

    e = kbatch.UsageError("top must be at least 1")
    assert (e.topic, e.partition, e.retriable) == (None, None, False)
    e = kbatch.BrokerError("no progress", topic="t", partition=3, retriable=True)
    # Spark sends an executor's exception to the driver pickled: the attributes survive.
    back = pickle.loads(pickle.dumps(e))
    assert (type(back), str(back), back.topic, back.partition, back.retriable) == (
        kbatch.BrokerError, "no progress", "t", 3, True)


def test_errors_name_their_topic_and_partition(bootstrap: str, dataset: Dataset) -> None:
    with pytest.raises(kbatch.RangeError) as e:
        kbatch.count(dataset.topic, bootstrap=bootstrap, partitions=[0], start=1000)
    assert (e.value.topic, e.value.partition, e.value.retriable) == (dataset.topic, 0, False)
    with pytest.raises(kbatch.RangeError) as e:
        kbatch.read("no-such-topic", bootstrap=bootstrap)
    assert (e.value.topic, e.value.partition) == ("no-such-topic", None)


def test_unreachable_broker_is_retriable() -> None:
    with pytest.raises(kbatch.BrokerError) as e:
        # 2 s: the request timeout (half of it) must exceed fetch.max.wait.ms (500 ms).
        kbatch.count("mixed", bootstrap="127.0.0.1:1", config={"request.timeout.ms": 2000})
    assert e.value.retriable
    assert (e.value.topic, e.value.partition) == (None, None)


def test_credentials_in_clear_warn_before_connecting() -> None:
    # PLAIN over SASL_PLAINTEXT sends the password unencrypted: the same warning as the CLI's,
    # through Python's warnings, before anything connects (nothing listens on port 1).
    config = {
        "request.timeout.ms": 2000,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "user",
        "sasl.password": "not-shown",
    }
    with pytest.warns(UserWarning, match="SASL_PLAINTEXT with sasl.mechanism=PLAIN") as seen:
        with pytest.raises(kbatch.BrokerError):
            kbatch.count("mixed", bootstrap="127.0.0.1:1", config=config)
    assert all("not-shown" not in str(w.message) for w in seen)


def test_a_panic_mid_stream_raises_internal_error_not_a_short_read(
    bootstrap: str, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # KBATCH_TEST_PANIC_AFTER is a test-only fault: read_batches' pump panics after that many
    # batches, as a reader task dying mid-read would. The read must fail, never end early.
    monkeypatch.setenv("KBATCH_TEST_PANIC_AFTER", "2")
    reader = kbatch.read_batches(dataset.topic, bootstrap=bootstrap, batch_rows=1)
    got = 0
    with pytest.raises(kbatch.InternalError, match="the test hook panics after 2 batches"):
        for batch in reader:
            got += batch.num_rows
    assert got <= 2


def test_a_panic_in_a_decode_worker_raises_internal_error(
    bootstrap: str, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same test-only fault in count's job: it panics at its 3rd record on a decode worker.
    monkeypatch.setenv("KBATCH_TEST_PANIC_AFTER", "3")
    with pytest.raises(kbatch.InternalError, match="the test hook panics at record 3") as e:
        kbatch.count(dataset.topic, bootstrap=bootstrap)
    assert e.value.topic == dataset.topic
    assert not e.value.retriable


def test_unknown_topic(bootstrap: str) -> None:
    with pytest.raises(kbatch.RangeError) as e:
        kbatch.read("no-such-topic", bootstrap=bootstrap)
    assert str(e.value) == cli_error("count", "--bootstrap", bootstrap, "--topic", "no-such-topic")
    assert "no-such-topic" in str(e.value)
    with pytest.raises(kbatch.RangeError):
        kbatch.offsets("no-such-topic", bootstrap=bootstrap)
    with pytest.raises(kbatch.RangeError):
        kbatch.read_batches("no-such-topic", bootstrap=bootstrap)


def test_offsets_outside_the_log(bootstrap: str, dataset: Dataset) -> None:
    with pytest.raises(kbatch.RangeError, match=r"mixed/0: offset 1000 is outside"):
        kbatch.count(dataset.topic, bootstrap=bootstrap, partitions=[0], start=1000)
    with pytest.raises(kbatch.RangeError, match="no partition 9"):
        kbatch.read(dataset.topic, bootstrap=bootstrap, partitions=[9])


def test_bad_spec_and_arguments(bootstrap: str) -> None:
    with pytest.raises(kbatch.UsageError) as e:
        kbatch.read("mixed", bootstrap=bootstrap, start="0:x")
    assert str(e.value) == 'start: bad offset spec "0:x": bad offset "x": expected an offset from 0 to 9223372036854775807'
    with pytest.raises(kbatch.UsageError, match="end: bad offset spec"):
        kbatch.count("mixed", bootstrap=bootstrap, end=-5)
    with pytest.raises(kbatch.UsageError, match="Spark"):
        kbatch.count("mixed", bootstrap=bootstrap, end={"mixed": 3})
    with pytest.raises(kbatch.UsageError, match="bad offset"):
        kbatch.count("mixed", bootstrap=bootstrap, end={"mixed": {"0": -3}})
    with pytest.raises(kbatch.UsageError, match="naive datetime"):
        import datetime

        kbatch.count("mixed", bootstrap=bootstrap, start=datetime.datetime(2026, 1, 1))
    with pytest.raises(kbatch.UsageError, match="isolation"):
        kbatch.count("mixed", bootstrap=bootstrap, isolation="committed")
    with pytest.raises(kbatch.UsageError, match="top must be at least 1"):
        kbatch.trending("mixed", bootstrap=bootstrap, top=0)
    with pytest.raises(TypeError):
        kbatch.count("mixed", bootstrap=bootstrap, start=1.5)  # type: ignore[arg-type]


def test_config_keys(bootstrap: str, dataset: Dataset) -> None:
    with pytest.raises(kbatch.UsageError) as e:
        kbatch.count("mixed", bootstrap=bootstrap, config={"sasl.mechanizm": "PLAIN"})
    assert str(e.value) == 'config: unknown configuration key "sasl.mechanizm" (did you mean sasl.mechanism?)'
    with pytest.raises(kbatch.UsageError, match="contradicts"):
        kbatch.count("mixed", bootstrap=bootstrap, config={"isolation.level": "read_uncommitted"})
    with pytest.warns(UserWarning, match="group.id"):
        kbatch.count(dataset.topic, bootstrap=bootstrap, config={"group.id": "g", "request.timeout.ms": 20000})


def test_unreachable_broker() -> None:
    # Nothing listens on port 1: refused at once, then retried until the 2 s budget is spent.
    # (1 s would be refused: half of it does not exceed fetch.max.wait.ms.)
    with pytest.raises(kbatch.BrokerError) as e:
        kbatch.read("mixed", bootstrap="127.0.0.1:1", config={"request.timeout.ms": 2000})
    assert not isinstance(e.value, kbatch.AuthError)
    assert str(e.value).startswith("connecting to 127.0.0.1:1: ")
    assert str(e.value) == cli_error("count", "--bootstrap", "127.0.0.1:1", "--topic", "mixed", "--timeout", "2s")


def test_strict_trending_raises_data_error(bootstrap: str, dataset: Dataset) -> None:
    # The mixed topic's values are JSON, but not browsing events.
    with pytest.raises(kbatch.DataError) as e:
        kbatch.trending(dataset.topic, bootstrap=bootstrap, strict=True, partitions=[0])
    assert str(e.value) == cli_error(
        "trending", "--bootstrap", bootstrap, "--topic", dataset.topic, "--partitions", "0", "--strict"
    )
    assert "mixed/0 offset 0" in str(e.value)


def test_the_gil_is_released_while_waiting() -> None:
    import socket
    import threading
    import time

    # A broker that never answers: the call waits in Rust for its 2 s budget.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        stalled = "127.0.0.1:%d" % listener.getsockname()[1]
        failed = []

        waited = []

        def call() -> None:
            began = time.monotonic()
            try:
                kbatch.count("t", bootstrap=stalled, config={"request.timeout.ms": 2000})
            except kbatch.BrokerError as e:
                failed.append(e)
            waited.append(time.monotonic() - began)

        worker = threading.Thread(target=call)
        worker.start()
        ticks = 0
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            ticks += 1  # pure Python: runs only while the worker does not hold the GIL
        worker.join(timeout=30)
        assert failed, "the stalled call did not fail within its budget"
        assert str(failed[0]).startswith(f"connecting to {stalled}: ")
        assert waited[0] > 0.9  # the worker was inside kbatch for the whole loop
        assert ticks > 100_000
