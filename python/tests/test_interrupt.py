"""Ctrl-C: SIGINT to a process waiting inside kbatch raises KeyboardInterrupt within a second,
drops what the call was doing (its connection is closed), and the process goes on (a new call
works) and exits cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import Dataset

CHILD = textwrap.dedent(
    """
    import sys, time, kbatch
    call, stalled, good, topic = sys.argv[1:]
    print("ready", flush=True)
    try:
        getattr(kbatch, call)(topic, bootstrap=stalled, config={"request.timeout.ms": 120000})
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    # Nothing of the interrupted call is in the way of the next one.
    print("after", kbatch.count(topic, bootstrap=good)["records"], flush=True)
    """
)


@pytest.mark.parametrize("call", ["read", "read_batches", "count", "offsets"])
def test_ctrl_c_interrupts_a_stalled_call(bootstrap: str, dataset: Dataset, call: str) -> None:
    # A "broker" that accepts connections and never answers: the call waits in Rust.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        stalled = "127.0.0.1:%d" % listener.getsockname()[1]
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, call, stalled, bootstrap, dataset.topic],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout.readline().strip() == "ready"
            listener.settimeout(10)
            conn, _ = listener.accept()  # the call is now waiting for an answer
            time.sleep(0.3)
            sent = time.monotonic()
            os.kill(child.pid, signal.SIGINT)
            assert child.stdout.readline().strip() == "interrupted"
            assert time.monotonic() - sent < 1.0
            # The aborted call's connection is closed, not left waiting.
            conn.settimeout(2)
            assert conn.recv(65536, socket.MSG_PEEK) is not None
            while conn.recv(65536):
                pass
            conn.close()
            after = child.stdout.readline().split()
            assert after[0] == "after" and int(after[1]) == len(dataset.rows())
            assert child.wait(timeout=10) == 0, child.stderr.read()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
