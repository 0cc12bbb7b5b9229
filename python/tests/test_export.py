"""kbatch.export: every Parquet codec read back by pyarrow equal to kbatch.read, the same
manifest and files as the CLI's ``kbatch export`` for the same range, and ``s3://`` output on
moto's S3 server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kbatch
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
from conftest import CLI, Dataset

# (compression=, the manifest's name for it, pyarrow's name for the column chunks' codec:
# pyarrow calls the format's LZ4_RAW `LZ4`, and the deprecated Hadoop-framed LZ4 `LZ4_HADOOP`)
CODECS = [
    ("snappy", "snappy", "SNAPPY"),
    ("lz4_raw", "lz4_raw", "LZ4"),
    ("zstd", "zstd(3)", "ZSTD"),
    ("zstd:9", "zstd(9)", "ZSTD"),
    ("gzip", "gzip(6)", "GZIP"),
    ("gzip:1", "gzip(1)", "GZIP"),
    ("none", "none", "UNCOMPRESSED"),
    (None, "zstd(3)", "ZSTD"),
]


def _files(manifest: kbatch.ExportManifest) -> list[str]:
    return [f["name"] for p in manifest["partitions"] for f in p["files"]]


def _table(out: Path, manifest: kbatch.ExportManifest) -> pa.Table:
    """The exported rows, in the manifest's (partition, offset) order."""
    tables = [pq.read_table(out / name) for name in _files(manifest)]
    return pa.concat_tables(tables)


@pytest.mark.parametrize("compression,name,parquet_codec", CODECS)
def test_every_codec_reads_back_as_kbatch_read(
    bootstrap: str, dataset: Dataset, tmp_path: Path, compression: str | None, name: str,
    parquet_codec: str,
) -> None:
    out = tmp_path / "out"
    manifest = kbatch.export(
        dataset.topic, output=str(out), compression=compression, bootstrap=bootstrap
    )
    assert manifest["compression"] == name
    assert manifest["format"] == "parquet" and manifest["topic"] == dataset.topic
    assert json.loads((out / "_manifest.json").read_text()) == manifest
    want = kbatch.read(dataset.topic, bootstrap=bootstrap)
    got = _table(out, manifest)
    assert got.schema.equals(want.schema), got.schema
    assert got.to_pylist() == want.to_pylist()
    assert sum(p["records"] for p in manifest["partitions"]) == want.num_rows
    for f in _files(manifest):
        meta = pq.ParquetFile(out / f).metadata
        codecs = {
            meta.row_group(g).column(c).compression
            for g in range(meta.num_row_groups)
            for c in range(meta.num_columns)
        }
        assert codecs == {parquet_codec}, (f, codecs)


def test_statistics_kept_where_readers_prune(
    bootstrap: str, dataset: Dataset, tmp_path: Path
) -> None:
    """offset, timestamp and partition carry min/max statistics (range pruning); the
    key and value blobs do not, and only values go without a dictionary."""
    out = tmp_path / "out"
    manifest = kbatch.export(dataset.topic, output=str(out), compression="snappy", bootstrap=bootstrap)
    first = manifest["partitions"][0]["files"][0]
    meta = pq.ParquetFile(out / first["name"]).metadata
    columns = {
        meta.row_group(0).column(c).path_in_schema: meta.row_group(0).column(c)
        for c in range(meta.num_columns)
    }
    for name in ("partition", "offset", "timestamp"):
        stats = columns[name].statistics
        assert stats is not None and stats.has_min_max, name
    assert columns["offset"].statistics.min == first["first_offset"]
    assert columns["offset"].statistics.max == first["last_offset"]
    for name in ("key", "value"):
        stats = columns[name].statistics
        assert stats is None or not stats.has_min_max, name
    # Values are written plain (no dictionary); keys and the small columns keep theirs.
    assert not columns["value"].has_dictionary_page
    assert columns["key"].has_dictionary_page and columns["topic"].has_dictionary_page


def test_arrow_and_jsonl_formats(bootstrap: str, dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "arrow"
    manifest = kbatch.export(
        dataset.topic, output=str(out), format="arrow", compression="zstd", bootstrap=bootstrap
    )
    assert manifest["compression"] == "zstd(3)"
    tables = [pa.ipc.open_file(out / n).read_all() for n in _files(manifest)]
    want = kbatch.read(dataset.topic, bootstrap=bootstrap)
    assert pa.concat_tables(tables).to_pylist() == want.to_pylist()
    out = tmp_path / "jsonl"
    manifest = kbatch.export(dataset.topic, output=str(out), format="jsonl", bootstrap=bootstrap)
    lines = [json.loads(line) for n in _files(manifest) for line in (out / n).read_text().splitlines()]
    assert [(line["partition"], line["offset"]) for line in lines] == [
        (r["partition"], r["offset"]) for r in want.to_pylist()
    ]


def _cli_export(bootstrap: str, *args: str) -> dict:
    done = subprocess.run(
        [str(CLI), "export", "--bootstrap", bootstrap, *args],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("compression", ["snappy", "zstd:3"])
def test_equals_the_cli(
    bootstrap: str, dataset: Dataset, tmp_path: Path, compression: str
) -> None:
    """The same range through Python and the CLI: the same manifest and byte-equal files,
    cut into several files per partition (a file is cut between batches of 4 rows)."""
    py_out, cli_out = tmp_path / "py", tmp_path / "cli"
    got = kbatch.export(
        dataset.topic, output=str(py_out), compression=compression, bootstrap=bootstrap,
        start="0:3,1:2", end="5:20", max_file_bytes=1024, batch_rows=4,
    )
    want = _cli_export(
        bootstrap, "--topic", dataset.topic, "--output", str(cli_out), "--compression",
        compression, "--from", "0:3,1:2", "--to", "5:20", "--max-file-bytes", "1024",
        "--batch-rows", "4",
    )
    assert got == want
    assert len(_files(got)) > len(got["partitions"]), "files were cut"
    for name in _files(got):
        assert (py_out / name).read_bytes() == (cli_out / name).read_bytes(), name
    first = got
    # An incremental run from each manifest continues at the same offsets.
    got = kbatch.export(
        dataset.topic, output=str(py_out), from_manifest=str(py_out / "_manifest.json"),
        bootstrap=bootstrap,
    )
    want = _cli_export(
        bootstrap, "--topic", dataset.topic, "--output", str(cli_out), "--from-manifest",
        str(cli_out / "_manifest.json"),
    )
    assert got == want
    ends = {p["partition"]: p["end"] for p in first["partitions"]}
    assert {p["partition"]: p["start"] for p in got["partitions"]} == ends
    assert sum(p["records"] for p in got["partitions"]) > 0


def test_usage_errors_name_what_is_accepted(
    bootstrap: str, dataset: Dataset, tmp_path: Path
) -> None:
    out = str(tmp_path / "x")
    with pytest.raises(kbatch.UsageError, match="expected snappy, lz4_raw, zstd"):
        kbatch.export(dataset.topic, output=out, compression="brotli", bootstrap=bootstrap)
    with pytest.raises(kbatch.UsageError, match="zstd level 30 is not in 1..=22"):
        kbatch.export(dataset.topic, output=out, compression="zstd:30", bootstrap=bootstrap)
    with pytest.raises(kbatch.UsageError, match="format: expected parquet, arrow or jsonl"):
        kbatch.export(dataset.topic, output=out, format="csv", bootstrap=bootstrap)
    with pytest.raises(kbatch.UsageError, match="gs:// is not supported"):
        kbatch.export(dataset.topic, output="gs://b/x", bootstrap=bootstrap)
    with pytest.raises(kbatch.UsageError, match="from_manifest"):
        kbatch.export(
            dataset.topic, output=out, from_manifest=out + "/m.json", start=3, bootstrap=bootstrap
        )
    with pytest.raises(TypeError):
        kbatch.export([dataset.topic], output=out, bootstrap=bootstrap)  # type: ignore[arg-type]
    with pytest.raises(kbatch.RangeError):
        kbatch.export("no-such-topic-export", output=out, bootstrap=bootstrap)
    assert not (tmp_path / "x" / "_manifest.json").exists()


@pytest.fixture(scope="module")
def s3(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3 server on 127.0.0.1 (in this process), the ``AWS_*`` settings export reads
    pointed at it, and a boto3 client on the same server to look at what was written."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }.items():
        monkeypatch_module.setenv(k, v)
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    try:
        yield client
    finally:
        server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_s3_output_reads_back_and_continues(bootstrap: str, dataset: Dataset, s3: Any) -> None:
    """``s3://`` output on a real S3-compatible server: the manifest object equals the
    returned dict, every Parquet object reads back as kbatch.read's rows, and a second run
    from the manifest's URL starts every partition where the first ended."""
    s3.create_bucket(Bucket="exports")
    url = "s3://exports/run1"
    manifest = kbatch.export(dataset.topic, output=url, compression="snappy", bootstrap=bootstrap)
    body = s3.get_object(Bucket="exports", Key="run1/_manifest.json")["Body"].read()
    assert json.loads(body) == manifest
    tables = [
        pq.read_table(pa.BufferReader(s3.get_object(Bucket="exports", Key=f"run1/{name}")["Body"].read()))
        for name in _files(manifest)
    ]
    want = kbatch.read(dataset.topic, bootstrap=bootstrap)
    assert pa.concat_tables(tables).to_pylist() == want.to_pylist()
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket="exports", Prefix="run1/")["Contents"]}
    assert listed == {f"run1/{n}" for n in _files(manifest)} | {"run1/_manifest.json"}
    again = kbatch.export(
        dataset.topic, output="s3://exports/run2", from_manifest=f"{url}/_manifest.json",
        bootstrap=bootstrap,
    )
    ends = {p["partition"]: p["end"] for p in manifest["partitions"]}
    assert {p["partition"]: p["start"] for p in again["partitions"]} == ends
    assert sum(p["records"] for p in again["partitions"]) == 0
