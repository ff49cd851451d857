"""Peak memory of fingerprinting a Parquet file: streamed (runstate) versus loaded whole.

The issue's goal: fingerprinting a Parquet file larger than half the machine's memory must
work. A file that large (12 GiB here) takes longer to generate than the measurement, so this
benchmark measures what decides it, on a file of a few GiB in memory: the peak resident set
of a process that fingerprints and profiles the file the way ``runstate run`` does for big
table files (``capture_table_streaming``: batch by batch), against a process that reads the
file whole with ``pyarrow.parquet.read_table`` (what any in-memory tool needs at least).

Each measurement is a fresh subprocess; its peak RSS comes from ``resource.getrusage``
(``ru_maxrss`` of the child). Streaming memory grows with the per-row fingerprints kept for
the sorted fingerprint table (16–24 bytes a row), not with the data: the script reports
bytes per row and the ratio to the in-memory read.

``python3 bench/streaming_memory.py [--rows 40000000]``; writes
``bench/results/streaming_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "streaming"

STREAM = """
import sys, time
from runstate.data.readers import open_table
from runstate.data.tablecapture import capture_table_streaming
from runstate.store.objects import LocalObjectStore
started = time.perf_counter()
entry = capture_table_streaming(LocalObjectStore(sys.argv[2]), "t", open_table(sys.argv[1]),
                                path="t", key=["id"])
import resource
print(entry.rows, entry.fingerprint, time.perf_counter() - started,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

WHOLE = """
import sys, time
import pyarrow.parquet as pq
started = time.perf_counter()
table = pq.read_table(sys.argv[1])
import resource
print(table.num_rows, table.nbytes, time.perf_counter() - started,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_file(path: Path, rows: int) -> None:
    rng = np.random.default_rng(20_241_126)
    writer = None
    step = 2_000_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        batch = pa.table(
            {
                "id": np.arange(start, start + n, dtype=np.int64),
                "a": rng.integers(0, 1 << 40, n),
                "x": rng.random(n),
                "y": rng.random(n),
                "label": pa.array(rng.integers(0, 1000, n).astype(str)),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, batch.schema, compression="zstd")
        writer.write_table(batch, row_group_size=1_000_000)
    assert writer is not None
    writer.close()


def measure(script: str, *args: str) -> tuple[list[str], int, float]:
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    fields = child.stdout.split()
    return fields, int(fields[-1]) * 1024, wall  # the child's own ru_maxrss (KiB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000_000)
    options = parser.parse_args()
    machine = benchlib.machine_info()
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"t{options.rows}.parquet"
    if not path.exists():
        make_file(path, options.rows)
    size = path.stat().st_size
    with tempfile.TemporaryDirectory(dir=WORK) as objects:
        stream_out, stream_peak, stream_wall = measure(STREAM, str(path), objects)
    whole_out, whole_peak, whole_wall = measure(WHOLE, str(path))
    rows = int(stream_out[0])
    result = {
        "schema": "runstate.bench/streaming_memory",
        "machine": machine,
        "file": {"rows": rows, "bytes": size, "in_memory_bytes": int(whole_out[1])},
        "streamed": {"peak_rss_bytes": stream_peak, "wall_s": stream_wall},
        "whole_read": {"peak_rss_bytes": whole_peak, "wall_s": whole_wall},
        "streamed_bytes_per_row": stream_peak / rows,
        "ratio_peak_streamed_vs_whole": stream_peak / whole_peak,
    }
    out = HERE / "results" / "streaming_memory.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    gib = 1 << 30
    print(
        f"{rows:,} rows, file {size / gib:.2f} GiB, {int(whole_out[1]) / gib:.2f} GiB in memory\n"
        f"streamed fingerprint+profile: peak {stream_peak / gib:.2f} GiB, {stream_wall:.1f} s\n"
        f"read whole (pyarrow):        peak {whole_peak / gib:.2f} GiB, {whole_wall:.1f} s\n"
        f"ratio {stream_peak / whole_peak:.2f}x; {stream_peak / rows:.1f} bytes/row streamed"
    )
    print(f"wrote {os.path.relpath(out)}")


if __name__ == "__main__":
    main()
