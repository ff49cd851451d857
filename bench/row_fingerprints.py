"""Row fingerprints of a 10,000,000-row table: runstate versus polars ``hash_rows``.

What is measured (wall time, ms, in one process):

* ``runstate_row_fingerprints`` — ``runstate.data.tables.row_fingerprints(table)`` on an
  in-memory Arrow table: the ``runstate.rowfp/v1`` fingerprint of every row
  (docs/fingerprints.md), read in place from the Arrow buffers by the numba kernels.
* ``polars_hash_rows`` — ``polars.DataFrame.hash_rows()`` on the same data (converted once,
  outside the timing, with ``polars.from_arrow``): polars' own 64-bit row hash, which is not
  stable across versions (the reason runstate has its own) but is the fast baseline.
* ``runstate_table_fingerprint`` — ``table_fingerprint(table)``: row fingerprints plus the
  two multiset sums and the BLAKE3 of the canonical document.

The table: 8 columns — 2 int64, 2 float64, 2 short strings (8–12 ASCII letters), a
``timestamp[us]`` and a bool — generated with NumPy from a fixed seed. Each tool is run once
to warm up (numba loads or compiles its kernels; that first call is reported separately as
``warmup_ms``), then the measurements alternate between the tools (``--repeat`` rounds, median
reported) so that a busy machine slows both alike. Target: runstate >= 0.5x polars' rows/s.
A 1,000-row slice is also checked against the pure-Python reference implementation.

Runs in the interpreter that starts it — the **system python3**, where numba, pyarrow and
polars are installed (``bench/.venv`` holds MLflow/DVC for the other benchmarks, not these):
``python3 bench/row_fingerprints.py [--rows 10000000] [--repeat 7]``. Writes
``bench/results/row_fingerprints.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import benchlib
import numpy as np
import pyarrow as pa

TARGET_RATIO = 0.5
SEED = 20_240_601


def short_strings(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random ASCII strings of 8–12 letters, built straight into Arrow buffers."""
    lengths = rng.integers(8, 13, n)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = rng.integers(ord("a"), ord("z") + 1, int(offsets[-1]), dtype=np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def make_table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2020-01-01T00:00:00", "us").astype(np.int64)
    return pa.table(
        {
            "user_id": rng.integers(0, 2**40, rows),
            "quantity": rng.integers(-1000, 1000, rows),
            "price": rng.standard_normal(rows) * 100,
            "score": rng.random(rows),
            "city": short_strings(rng, rows),
            "product": short_strings(rng, rows),
            "created": pa.array(start + rng.integers(0, 10**15, rows), pa.timestamp("us")),
            "active": pa.array(rng.random(rows) < 0.5),
        }
    )


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def check_against_reference(table: pa.Table) -> bool:
    """The first 1,000 rows, fingerprinted by the kernels and by the reference."""
    sys.path.insert(0, str(benchlib.REPO_DIR / "tests"))
    import rowhash_reference
    from runstate.data.tables import row_fingerprints

    sample = table.slice(0, 1000)
    got = [int(x) for x in row_fingerprints(sample)]
    return got == rowhash_reference.row_fingerprints(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="measured rounds (>= 5)")
    args = parser.parse_args()
    repeat = max(5, args.repeat)

    import polars as pl

    machine = benchlib.machine_info()
    started = time.perf_counter()
    table = make_table(args.rows, SEED)
    generate_ms = (time.perf_counter() - started) * 1e3
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)

    import_start = time.perf_counter()
    from runstate.data.tables import row_fingerprints, table_fingerprint

    warmup = {
        "runstate_first_call": (time.perf_counter() - import_start) * 1e3
        + timed(lambda: row_fingerprints(table)),
        "polars_first_call": timed(frame.hash_rows),
    }
    timed(lambda: table_fingerprint(table))
    reference_ok = check_against_reference(table)

    measures: dict[str, Callable[[], Any]] = {
        "runstate_row_fingerprints": lambda: row_fingerprints(table),
        "polars_hash_rows": frame.hash_rows,
        "runstate_table_fingerprint": lambda: table_fingerprint(table),
    }
    samples: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(repeat):
        for name, fn in measures.items():
            samples[name].append(timed(fn))

    # per-column cost of runstate (one column alone), for profiling
    per_column = {}
    for name in table.column_names:
        runs = [timed(lambda n=name: row_fingerprints(table, [n])) for _ in range(3)]
        per_column[name] = statistics.median(runs)

    stats = {name: benchlib.summarise(values) for name, values in samples.items()}
    rows_per_s = {name: args.rows / (s["median"] / 1e3) for name, s in stats.items()}
    ratio = rows_per_s["runstate_row_fingerprints"] / rows_per_s["polars_hash_rows"]

    benchlib.print_table(
        ["measure", "median ms", "p10 ms", "p90 ms", "M rows/s"],
        [
            [name, s["median"], s["p10"], s["p90"], rows_per_s[name] / 1e6]
            for name, s in stats.items()
        ],
    )
    print(
        f"\nrunstate / polars (rows/s): {ratio:.2f}x  (target >= {TARGET_RATIO}x: "
        f"{benchlib.verdict(ratio >= TARGET_RATIO)}); reference check: "
        f"{'ok' if reference_ok else 'MISMATCH'}"
    )
    print(
        "per column (ms, 1 column alone): "
        + ", ".join(f"{name} {ms:.0f}" for name, ms in per_column.items())
    )

    document = {
        "benchmark": "row_fingerprints",
        "machine": benchlib.stamp_end(machine),
        "versions": {
            name: metadata.version(name) for name in ("numba", "pyarrow", "polars", "numpy")
        },
        "parameters": {
            "rows": args.rows,
            "repeat": repeat,
            "seed": SEED,
            "columns": {field.name: str(field.type) for field in table.schema},
            "polars_threads": pl.thread_pool_size(),
        },
        "generate_ms": generate_ms,
        "warmup_ms": warmup,
        "samples_ms": samples,
        "stats_ms": stats,
        "rows_per_second": rows_per_s,
        "per_column_ms": per_column,
        "ratio_runstate_over_polars": ratio,
        "target_ratio": TARGET_RATIO,
        "verdict": benchlib.verdict(ratio >= TARGET_RATIO),
        "reference_check_1000_rows": reference_ok,
    }
    print(f"wrote {benchlib.write_result('row_fingerprints', document)}")


if __name__ == "__main__":
    main()
