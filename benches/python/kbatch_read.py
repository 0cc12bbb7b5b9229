"""`kbatch.read` of a whole topic into a pyarrow.Table (or, with --batches, `read_batches`
consumed batch by batch and dropped: the peak-RSS probe). Prints {"records": N, "bytes": value
bytes} as JSON, the same as confluent_read.py, so the harness can check they read the same.

Usage: kbatch_read.py BOOTSTRAP TOPIC [--batches]
"""

import json
import sys

import pyarrow.compute as pc

import kbatch


def main(bootstrap: str, topic: str, batches: bool) -> None:
    if batches:
        records = size = 0
        for batch in kbatch.read_batches(topic, bootstrap=bootstrap):
            records += batch.num_rows
            size += int(pc.sum(pc.binary_length(batch.column("value"))).as_py() or 0)
    else:
        table = kbatch.read(topic, bootstrap=bootstrap)
        records = table.num_rows
        size = int(pc.sum(pc.binary_length(table["value"])).as_py() or 0)
    print(json.dumps({"records": records, "bytes": size}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--batches" in sys.argv[3:])
