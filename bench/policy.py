"""Access-policy enforcement on a 10,000,000-row Parquet table, against reading the table.

What is measured (wall time, ms, in one process, page cache warm):

* ``read`` — ``pyarrow.parquet.read_table(path)``: reading the table (the baseline);
* ``enforce`` — ``runstate.policy.enforce.apply_decision`` on the table read: the row
  filter ``consent OR region <> 'EU'`` (DuckDB computes the keep mask, Arrow selects the
  rows) and two column masks, ``email: hash`` (HMAC-SHA256, keyed) and ``ssn: redact``,
  plus the fingerprints of the excluded rows that the recorded effect holds — everything
  ``run.read_table`` adds between reading and handing the data over;
* the same enforcement split into its parts (``filter``, ``hash``, ``redact``) and with
  ``ssn: drop`` instead of ``redact``.

The table: 10 columns — customer_id int64, region (EU/US/APAC), consent bool, segment,
amount and score float64, signup timestamp[us], email (unique, ~24 bytes), ssn (11
bytes), name — generated once from a fixed seed into ``bench/.work/policy/`` as Parquet
(pyarrow defaults: snappy). Each measurement runs once to warm up (DuckDB import, the
compiled HMAC kernel load), then ``read`` and ``enforce`` alternate for ``--repeat`` rounds
so a busy machine slows both alike; medians of wall time are reported, with the process CPU
time (all threads) beside them, which a shared machine disturbs less, and the load average.
Target: enforce <= 1.0x read (wall).

Runs in the interpreter that starts it (system python3, where duckdb and numba are
installed): ``python3 bench/policy.py [--rows 10000000] [--repeat 5]``. Writes
``bench/results/policy.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import benchlib
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TARGET_RATIO = 1.0
SEED = 20_261_126
FILTER = "consent OR region <> 'EU'"


def _strings(prefix: str, ids: np.ndarray[Any, Any], suffix: str) -> pa.Array:
    text = pc.binary_join_element_wise(
        pa.array(np.full(len(ids), prefix)), pc.cast(pa.array(ids), pa.string()),
        pa.array(np.full(len(ids), suffix)), "",
    )  # fmt: skip
    return text


def make_table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = rng.permutation(rows).astype(np.int64)
    start = np.datetime64("2015-01-01T00:00:00", "us").astype(np.int64)
    regions = pa.array(np.array(["EU", "US", "APAC"])[rng.integers(0, 3, rows)])
    segments = pa.array(
        np.array(["retail", "sme", "corporate", "private"])[rng.integers(0, 4, rows)]
    )
    ssn = pc.binary_join_element_wise(
        pc.cast(pa.array(rng.integers(100, 1000, rows)), pa.string()),
        pc.cast(pa.array(rng.integers(10, 100, rows)), pa.string()),
        pc.cast(pa.array(rng.integers(1000, 10000, rows)), pa.string()),
        "-",
    )
    return pa.table(
        {
            "customer_id": ids,
            "region": regions,
            "consent": pa.array(rng.random(rows) < 0.7),
            "segment": segments,
            "amount": rng.standard_normal(rows) * 1000,
            "score": rng.random(rows),
            "signup": pa.array(start + rng.integers(0, 10**14, rows), pa.timestamp("us")),
            "email": _strings("user", ids, "@example.com"),
            "ssn": ssn,
            "name": _strings("Customer ", ids, ""),
        }
    )


def timed(fn: Callable[[], Any], cpu: list[float] | None = None) -> float:
    """Wall ms of ``fn()``; its process CPU ms (all threads) appended to ``cpu``."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    if cpu is not None:
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["RUNSTATE_MASK_KEY"] = "bench-mask-key"

    from runstate.policy.enforce import apply_decision, hash_array, redact_array
    from runstate.policy.rules import Decision

    machine = benchlib.machine_info()
    folder = benchlib.WORK_DIR / "policy"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"customers-{args.rows}.parquet"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        pq.write_table(make_table(args.rows, SEED), path)
    size = path.stat().st_size

    def read() -> pa.Table:
        return pq.read_table(path)

    target = Decision("customers", True, "customers", 0, "bench", FILTER,
                      {"email": "hash", "ssn": "redact"})  # fmt: skip
    with_drop = Decision("customers", True, "customers", 0, "bench", FILTER,
                         {"email": "hash", "ssn": "drop"})  # fmt: skip
    only_filter = Decision("customers", True, "customers", 0, "bench", FILTER, {})
    table = read()
    key = b"bench-mask-key"
    cases: dict[str, Callable[[], Any]] = {
        "read": read,
        "enforce": lambda: apply_decision(target, table, key=["customer_id"]),
        "enforce_with_drop": lambda: apply_decision(with_drop, table, key=["customer_id"]),
        "filter": lambda: apply_decision(only_filter, table, key=["customer_id"]),
        "hash": lambda: hash_array(table.column("email"), key),
        "redact": lambda: redact_array(table.column("ssn")),
    }
    warmup = {name: round(timed(fn), 1) for name, fn in cases.items()}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):
        for name, fn in cases.items():
            samples[name].append(timed(fn, cpu[name]))
    enforced = apply_decision(target, table, key=["customer_id"])
    medians = {name: statistics.median(values) for name, values in samples.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    ratio = medians["enforce"] / medians["read"]
    load = os.getloadavg()
    document = {
        "schema": "runstate.bench-policy/v1",
        "machine": benchlib.stamp_end(machine),
        "versions": {p: metadata.version(p) for p in ("pyarrow", "duckdb", "numba", "numpy")},
        "table": {
            "rows": args.rows,
            "columns": table.num_columns,
            "parquet_bytes": size,
            "arrow_bytes": table.nbytes,
            "rows_after_filter": enforced.rows_after,
        },
        "policy": {"row_filter": FILTER, "columns": dict(target.columns)},
        "repeat": args.repeat,
        "warmup_ms": warmup,
        "ms": {name: benchlib.summarise(values) for name, values in samples.items()},
        "cpu_ms": {name: benchlib.summarise(values) for name, values in cpu.items()},
        "load_average_at_end": [round(x, 2) for x in load],
        "ratio_enforce_over_read_cpu": round(cpu_medians["enforce"] / cpu_medians["read"], 3),
        "ratio_enforce_over_read": round(ratio, 3),
        "ratio_enforce_with_drop_over_read": round(
            medians["enforce_with_drop"] / medians["read"], 3
        ),
        "target_ratio": TARGET_RATIO,
        "met": ratio <= TARGET_RATIO,
    }
    benchlib.print_table(
        ["case", "median ms", "p10", "p90", "x read", "CPU ms", "CPU x read"],
        [
            [name, round(medians[name], 1), round(benchlib.summarise(samples[name])["p10"], 1),
             round(benchlib.summarise(samples[name])["p90"], 1),
             round(medians[name] / medians["read"], 3), round(cpu_medians[name], 1),
             round(cpu_medians[name] / cpu_medians["read"], 3)]
            for name in cases
        ],
    )  # fmt: skip
    verdict = benchlib.verdict(ratio <= TARGET_RATIO)
    print(f"enforce / read = {ratio:.3f} (target <= {TARGET_RATIO}): {verdict}; load {load}")
    print(f"wrote {benchlib.write_result('policy', document)}")


if __name__ == "__main__":
    main()
