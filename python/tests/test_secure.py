"""The secured broker (testkit's start-secure, SASL_SSL): the right password reads, a wrong one
raises AuthError once, and the password never appears in the message."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Dict

import pytest

import kbatch
from conftest import kit


@pytest.fixture(scope="module")
def secure() -> Dict[str, str]:
    home = Path(tempfile.mkdtemp(prefix="kbatch-pytest-secure-"))
    try:
        out = kit("start-secure", "--dir", str(home / "broker"))
        env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        kit("create-topic", "--bootstrap", env["plaintext"], "--topic", "secured", "--partitions", "2")
        kit(
            "produce-trending", "--bootstrap", env["plaintext"], "--topic", "secured",
            "--partitions", "2", "--events", "500",
        )
        yield env
    finally:
        kit("stop", "--dir", str(home / "broker"))
        shutil.rmtree(home, ignore_errors=True)


def sasl(env: Dict[str, str], password: str) -> Dict[str, str]:
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": env["user"],
        "sasl.password": password,
        "ssl.ca.location": env["ca"],
        "request.timeout.ms": "20000",
    }


def test_the_right_password_reads(secure: Dict[str, str]) -> None:
    got = kbatch.count("secured", bootstrap=secure["sasl_ssl"], config=sasl(secure, secure["password"]))
    plain = kbatch.count("secured", bootstrap=secure["plaintext"])
    assert got == plain and got["records"] > 300
    table = kbatch.read("secured", bootstrap=secure["sasl_ssl"], config=sasl(secure, secure["password"]))
    assert table.num_rows == got["records"]


def test_a_wrong_password_raises_auth_error(secure: Dict[str, str]) -> None:
    wrong = "not-" + secure["password"]
    with pytest.raises(kbatch.AuthError) as e:
        kbatch.read("secured", bootstrap=secure["sasl_ssl"], config=sasl(secure, wrong))
    assert isinstance(e.value, kbatch.BrokerError)
    assert "SCRAM-SHA-512" in str(e.value)
    assert wrong not in str(e.value) and secure["password"] not in str(e.value)
