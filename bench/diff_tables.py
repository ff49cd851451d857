"""Keyed row diff of two 10,000,000-row snapshots: runstate versus datacompy.

The pair: snapshot A has 8 columns — ``id`` (int64, the key, 0..N-1 in ascending order, as a
database export would be), ``quantity`` (int64), ``price`` and ``score`` (float64), ``city``
and ``product`` (short strings, 8–12 ASCII letters), ``created`` (``timestamp[us]``) and
``active`` (bool) — generated with NumPy from a fixed seed. Snapshot B is A with 1% of the
rows, picked at random, changed in one or two cells each (the column picked at random among
the 7 non-key ones; every change really changes the value), 200 random keys removed and 300
new keys appended. The generator knows the true counts (changed keys, added, removed, and
changed cells per column); every tool's answer is checked against them.

What is measured (wall time, ms):

* ``runstate_stored_diff`` — the keyed diff **from stored fingerprints**, what ``runstate
  diff`` does for two recorded tables: ``read_fingerprint_table`` x2 from a
  ``LocalObjectStore`` + ``diff_fingerprint_tables(fa, fb, ("id",))``. The fingerprint tables
  are built (``build_fingerprint_table``) and written (``write_fingerprint_table``) once,
  untimed towards the target: that happens when a run records the table (those costs are
  reported as ``capture``). The objects were just written, so they are in the page cache; a
  page-cache-cold variant (``runstate_stored_diff_cold``) is also measured when
  ``/proc/sys/vm/drop_caches`` is writable. Target: <= 1.5 s. Also reported:
  ``runstate_stored_diff_new_process``, the same as the first thing a new Python process does
  (as ``runstate diff`` would run it): imports, numba's start-up and the kernel's load from
  its cache included, timed inside the child from before its first runstate import.
* ``runstate_full_diff`` — ``runstate.data.diff(a, b, key="id")`` on the two in-memory Arrow
  tables: fingerprints of both tables (rows and keys), the merge, and the cell-level old → new
  comparison of every changed key. Reported, no target.
* ``datacompy`` — ``datacompy.PandasCompare(df1, df2, join_columns="id")`` (datacompy 1.x's
  name for the pandas ``Compare``) on the same pair as pandas DataFrames (converted from the
  Arrow tables once, untimed; the conversion is reported), plus reading its counts
  (``count_matching_rows()`` and the unique-rows frames). Target: runstate's stored diff >= 10x
  faster.

datacompy runs in a child process (same interpreter) so that a run that is too slow (more
than ``--limit`` seconds, default 600) or runs out of memory can be stopped without losing the
rest; the child's ``oom_score_adj`` is raised so the kernel picks it, not this process. If
datacompy cannot do ``--rows`` within the limit, both tools are measured at 1 M and 2 M rows
(``--fallback-rows``) and datacompy's time at ``--rows`` is extrapolated linearly (the line
through the two points), which the output says plainly.

Each measurement is warmed up once (numba loads its kernels, pandas its code paths), then
repeated ``--repeat`` times (default 5, median reported), each measurement in a block of
its own (a stored diff right after a full diff, which frees gigabytes, pays extra page
faults). Runs in ``bench/.venv`` like the other benchmarks; the script adds datacompy (and
runstate's current dependencies, numba among them) to it when missing:
``uv pip install --python bench/.venv/bin/python -e . datacompy pandas``.

Usage: ``python bench/diff_tables.py [--rows 10000000] [--repeat 3]``. Writes
``bench/results/diff_tables.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import shutil
import subprocess
import sys
import time
from importlib import metadata
from typing import Any

import benchlib

TARGET_STORED_MS = 1500.0
TARGET_RATIO = 10.0
SEED = 20_261_126
KEY = "id"
VALUE_COLUMNS = ("quantity", "price", "score", "city", "product", "created", "active")
HERE = benchlib.WORK_DIR / "diff_tables"
WORKER_PACKAGES = ("datacompy", "pandas", "numba")


# -- environment ---------------------------------------------------------------------------


def ensure_packages() -> None:
    """Add datacompy (and runstate's current dependencies) to ``bench/.venv`` if missing."""
    benchlib.ensure_venv()
    probe = "import " + ", ".join(WORKER_PACKAGES)
    python = str(benchlib.VENV_PYTHON)
    found = subprocess.run([python, "-c", probe], capture_output=True, check=False)
    if found.returncode == 0:
        return
    command = ["uv", "pip", "install", "--python", python, "-e", str(benchlib.REPO_DIR)]
    command += ["datacompy", "pandas"]
    print("bench: " + " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True)


# -- the data ------------------------------------------------------------------------------


def short_strings(rng: Any, n: int, first: str = "a") -> Any:
    """``n`` random ASCII strings of 8–12 letters from ``first`` on, built as Arrow buffers."""
    import numpy as np
    import pyarrow as pa

    lengths = rng.integers(8, 13, n)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    base = ord(first)
    data = rng.integers(base, base + 26, int(offsets[-1]), dtype=np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def base_table(rng: Any, ids: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    n = len(ids)
    start = np.datetime64("2020-01-01T00:00:00", "us").astype(np.int64)
    return pa.table(
        {
            KEY: pa.array(ids, pa.int64()),
            "quantity": rng.integers(-1000, 1000, n),
            "price": rng.standard_normal(n) * 100,
            "score": rng.random(n),
            "city": short_strings(rng, n),
            "product": short_strings(rng, n),
            "created": pa.array(start + rng.integers(0, 10**14, n), pa.timestamp("us")),
            "active": pa.array(rng.random(n) < 0.5),
        }
    )


def _changed(name: str, column: Any, rows: Any, rng: Any) -> Any:
    """``column`` with the values at ``rows`` replaced by different ones."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    k = len(rows)
    if name in ("city", "product"):  # upper case: never equal to the lower-case originals
        mask = np.zeros(len(column), bool)
        mask[rows] = True
        return pc.replace_with_mask(column, pa.array(mask), short_strings(rng, k, "A"))
    if name == "created":
        values = column.cast(pa.int64()).to_numpy().copy()
        values[rows] += rng.integers(1, 86_400, k) * 1_000_000  # 1 s to 1 day later
        return pa.array(values, pa.timestamp("us"))
    values = column.to_numpy(zero_copy_only=False).copy()
    if name == "active":
        values[rows] = ~values[rows]
    elif name == "quantity":
        values[rows] += rng.integers(1, 1000, k)
    else:  # price, score: + [1, 2), exact in float64 at these magnitudes
        values[rows] += 1.0 + rng.random(k)
    return pa.array(values)


def make_pair(rows: int, seed: int, fraction: float, added: int, removed: int) -> Any:
    """Snapshots A and B and the true differences (see the module docstring)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    a = base_table(rng, np.arange(rows, dtype=np.int64))
    n_changed = round(rows * fraction)
    picked = rng.choice(rows, n_changed + removed, replace=False)
    changed_rows, removed_rows = np.sort(picked[:n_changed]), picked[n_changed:]
    first = rng.integers(0, len(VALUE_COLUMNS), n_changed)
    second = (first + rng.integers(1, len(VALUE_COLUMNS), n_changed)) % len(VALUE_COLUMNS)
    two = rng.random(n_changed) < 0.5
    columns = {name: a.column(name).combine_chunks() for name in a.column_names}
    per_column = {}
    for index, name in enumerate(VALUE_COLUMNS):
        hit = (first == index) | (two & (second == index))
        columns[name] = _changed(name, columns[name], changed_rows[hit], rng)
        per_column[name] = int(hit.sum())
    keep = np.ones(rows, bool)
    keep[removed_rows] = False
    b = pa.table(columns).filter(pa.array(keep))
    extra = base_table(rng, np.arange(rows, rows + added, dtype=np.int64))
    b = pa.concat_tables([b, extra]).combine_chunks()
    truth = {
        "changed": n_changed,
        "added": added,
        "removed": removed,
        "changed_cells_per_column": per_column,
        "rows_with_two_changed_cells": int(two.sum()),
    }
    return a, b, truth


# -- runstate ------------------------------------------------------------------------------


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1e3


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_runstate(a: Any, b: Any, repeat: int, store_root: Any) -> dict[str, Any]:
    from runstate.data import tablediff
    from runstate.data.fpstore import (
        build_fingerprint_table,
        read_fingerprint_table,
        write_fingerprint_table,
    )
    from runstate.data.rowdiff import diff_fingerprint_tables
    from runstate.store.objects import LocalObjectStore

    key = (KEY,)
    load_start = os.getloadavg()
    # capture: what recording the two tables costs (not part of the diff's time)
    started = time.perf_counter()
    build_fingerprint_table(a.slice(0, 1000), key)  # loads the numba kernels
    first_call_ms = _ms(started)
    capture: dict[str, float] = {"first_call_ms": first_call_ms}
    started = time.perf_counter()
    fa = build_fingerprint_table(a, key)
    capture["build_a_ms"] = _ms(started)
    started = time.perf_counter()
    fb = build_fingerprint_table(b, key)
    capture["build_b_ms"] = _ms(started)
    shutil.rmtree(store_root, ignore_errors=True)
    objects = LocalObjectStore(store_root)
    started = time.perf_counter()
    id_a = write_fingerprint_table(objects, fa)
    capture["write_a_ms"] = _ms(started)
    started = time.perf_counter()
    id_b = write_fingerprint_table(objects, fb)
    capture["write_b_ms"] = _ms(started)
    object_bytes = {"a": objects.size(id_a), "b": objects.size(id_b)}
    in_memory_bytes = {"a": fa.nbytes, "b": fb.nbytes}
    del fa, fb

    def stored_diff() -> tuple[dict[str, float], Any]:
        phases = {}
        started = time.perf_counter()
        fa = read_fingerprint_table(objects, id_a)
        phases["read_a"] = _ms(started)
        started = time.perf_counter()
        fb = read_fingerprint_table(objects, id_b)
        phases["read_b"] = _ms(started)
        started = time.perf_counter()
        rows, _, _ = diff_fingerprint_tables(fa, fb, key)
        phases["diff"] = _ms(started)
        phases["total"] = phases["read_a"] + phases["read_b"] + phases["diff"]
        return phases, rows

    def full_diff() -> tuple[float, Any]:
        started = time.perf_counter()
        result = tablediff.diff(a, b, key=KEY)
        return _ms(started), result

    # Each measurement in a block of its own: a full diff allocates and frees gigabytes, and
    # a stored diff run right after one pays ~0.5 s more in page faults (measured; see
    # bench/RESULTS.md), which the new-process figure below shows anyway.
    warm_stored, stored_result = stored_diff()
    stored = [stored_diff()[0] for _ in range(repeat)]
    cold: list[dict[str, float]] = []
    if benchlib.drop_page_cache():
        for _ in range(repeat):
            benchlib.drop_page_cache()
            cold.append(stored_diff()[0])
    stored_in_new_process(store_root, id_a, id_b)  # fills the byte-code cache, unmeasured
    new_process = [stored_in_new_process(store_root, id_a, id_b) for _ in range(repeat)]
    warm_full, full_result = full_diff()
    full = [full_diff()[0] for _ in range(repeat)]
    samples = {
        "runstate_stored_diff": [p["total"] for p in stored],
        "runstate_stored_diff_new_process": [p["total"] for p in new_process],
        "runstate_full_diff": full,
    }
    if cold:
        samples["runstate_stored_diff_cold"] = [p["total"] for p in cold]
    phase_medians = {
        name: benchlib.summarise([p[name] for p in stored])["median"]
        for name in ("read_a", "read_b", "diff")
    }
    shutil.rmtree(store_root, ignore_errors=True)
    return {
        "capture": capture,
        "warmup_ms": {
            "runstate_stored_diff": warm_stored["total"],
            "runstate_full_diff": warm_full,
        },
        "samples_ms": samples,
        "stats_ms": {name: benchlib.summarise(values) for name, values in samples.items()},
        "stored_phases_ms": stored,
        "stored_phases_median_ms": phase_medians,
        "stored_cold_phases_ms": cold,
        "stored_new_process_phases_ms": new_process,
        "fingerprint_table_bytes": {"object_zstd": object_bytes, "in_memory": in_memory_bytes},
        "counts": {
            "stored": _rowdiff_counts(stored_result),
            "full": {
                **_rowdiff_counts(full_result.rows),
                "changed_cells_per_column": dict(full_result.changed_columns),
            },
        },
        "peak_rss_mib_process": _peak_rss_mib(),
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
    }


def stored_in_new_process(store_root: Any, id_a: str, id_b: str) -> dict[str, float]:
    """The stored diff as the first thing a new process does (what ``runstate diff`` pays)."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", "stored"]
    command += ["--store", str(store_root), "--ids", f"{id_a},{id_b}"]
    done = subprocess.run(
        command, env=benchlib.child_env(), capture_output=True, text=True, check=True
    )
    phases: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return phases


def stored_worker(args: argparse.Namespace) -> int:
    """Child: import, read the two fingerprint tables, diff them; phases as one JSON line."""
    started = time.perf_counter()
    from runstate.data.fpstore import read_fingerprint_table
    from runstate.data.rowdiff import diff_fingerprint_tables
    from runstate.store.objects import LocalObjectStore

    phases = {"import": _ms(started)}
    objects = LocalObjectStore(args.store)
    id_a, id_b = args.ids.split(",")
    mark = time.perf_counter()
    fa = read_fingerprint_table(objects, id_a)
    fb = read_fingerprint_table(objects, id_b)
    phases["read"] = _ms(mark)
    mark = time.perf_counter()
    rows, _, _ = diff_fingerprint_tables(fa, fb, (KEY,))
    phases["diff"] = _ms(mark)
    phases["total"] = _ms(started)
    phases["changed"] = rows.changed
    print(json.dumps(phases))
    return 0


def busy_processes() -> list[str]:
    """Other processes using CPU (``ps``, lifetime average %CPU >= 10): machine load notes."""
    try:
        out = subprocess.run(
            ["ps", "-eo", "pid,pcpu,etime,args", "--sort=-pcpu"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    except OSError:
        return []
    busy = []
    for line in out.splitlines()[1:]:
        fields = line.split(None, 3)
        if len(fields) == 4 and int(fields[0]) != os.getpid() and float(fields[1]) >= 10:
            busy.append(" ".join(fields)[:160])
    return busy


def _rowdiff_counts(rows: Any) -> dict[str, int]:
    return {"changed": rows.changed, "added": rows.added, "removed": rows.removed}


# -- datacompy (in a child process) ---------------------------------------------------------


def _emit(event: dict[str, Any]) -> None:
    event["peak_rss_mib"] = _peak_rss_mib()
    event["loadavg"] = os.getloadavg()
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def datacompy_worker(args: argparse.Namespace) -> int:
    """Child: generate the pair, convert to pandas, run PandasCompare; one JSON line per step."""
    import datacompy

    a, b, _ = make_pair(args.rows, args.seed, args.fraction, args.added, args.removed)
    started = time.perf_counter()
    df1 = a.to_pandas()
    df2 = b.to_pandas()
    convert_ms = _ms(started)
    del a, b
    dtypes = {name: str(dtype) for name, dtype in df1.dtypes.items()}
    _emit({"event": "ready", "convert_ms": convert_ms, "dtypes": dtypes})
    warmups = 1
    for index in range(warmups + args.repeat):
        left, right = df1.copy(deep=False), df2.copy(deep=False)  # it renames/rewrites columns
        started = time.perf_counter()
        compare = datacompy.PandasCompare(left, right, join_columns=KEY)
        compare_ms = _ms(started)
        started = time.perf_counter()
        counts = {
            "changed": len(compare.intersect_rows) - int(compare.count_matching_rows()),
            "added": len(compare.df2_unq_rows),
            "removed": len(compare.df1_unq_rows),
            "changed_cells_per_column": {
                str(s["column"]): int(s["unequal_cnt"])
                for s in compare.column_stats
                if s["column"] != KEY
            },
        }
        counts_ms = _ms(started)
        del compare, left, right
        _emit(
            {
                "event": "run",
                "warmup": index < warmups,
                "compare_ms": compare_ms,
                "counts_ms": counts_ms,
                "total_ms": compare_ms + counts_ms,
                "counts": counts,
            }
        )
    return 0


def _raise_oom_score() -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000\n")
    except OSError:
        pass


def run_datacompy(args: argparse.Namespace, rows: int) -> dict[str, Any]:
    """Run the datacompy child for ``rows``; stop it when a step exceeds ``args.limit`` s."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", "datacompy"]
    command += ["--rows", str(rows)]
    command += ["--seed", str(args.seed), "--repeat", str(args.repeat)]
    command += ["--fraction", str(args.fraction), "--added", str(args.added)]
    command += ["--removed", str(args.removed)]
    print(f"[datacompy] {rows:,} rows (limit {args.limit:g} s per step)", file=sys.stderr)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        env=benchlib.child_env(),
        preexec_fn=_raise_oom_score,
    )
    assert process.stdout is not None
    events: list[dict[str, Any]] = []
    status = "ok"
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            if not selector.select(timeout=args.limit):
                status = f"stopped: a step took more than {args.limit:g} s"
                process.kill()
                break
            line = process.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            events.append(event)
            if event["event"] == "run":
                print(
                    "  {}: {:,.0f} ms".format(
                        "warm-up" if event["warmup"] else "run", event["total_ms"]
                    ),
                    file=sys.stderr,
                )
    code = process.wait()
    if status == "ok" and code != 0:
        status = f"exit {code}" + (" (SIGKILL: out of memory?)" if code == -9 else "")
    runs = [e for e in events if e["event"] == "run" and not e["warmup"]]
    if status == "ok" and len(runs) < args.repeat:
        status = "incomplete"
    ready = next((e for e in events if e["event"] == "ready"), {})
    result: dict[str, Any] = {"rows": rows, "status": status, "events": events}
    if runs:
        samples = [e["total_ms"] for e in runs]
        result.update(
            {
                "convert_to_pandas_ms": ready.get("convert_ms"),
                "pandas_dtypes": ready.get("dtypes"),
                "samples_ms": samples,
                "compare_ms": [e["compare_ms"] for e in runs],
                "counts_ms": [e["counts_ms"] for e in runs],
                "stats_ms": benchlib.summarise(samples),
                "warmup_ms": next(e["total_ms"] for e in events if e.get("warmup")),
                "counts": runs[-1]["counts"],
                "peak_rss_mib": max(e["peak_rss_mib"] for e in events),
            }
        )
    return result


# -- one size ------------------------------------------------------------------------------


def agreement(truth: dict[str, Any], answers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Whether every tool's counts equal the generator's (and so each other's)."""
    fields = ("changed", "added", "removed")
    checks = {}
    for tool, counts in answers.items():
        same = all(counts.get(f) == truth[f] for f in fields)
        if "changed_cells_per_column" in counts:
            same = same and counts["changed_cells_per_column"] == {
                name: n for name, n in truth["changed_cells_per_column"].items() if n
            }
        checks[tool] = same
    return {"all_agree": all(checks.values()), "per_tool": checks}


def measure_size(args: argparse.Namespace, rows: int, with_datacompy: bool) -> dict[str, Any]:
    print(f"[generate] {rows:,} rows", file=sys.stderr)
    started = time.perf_counter()
    a, b, truth = make_pair(rows, args.seed, args.fraction, args.added, args.removed)
    generate_ms = _ms(started)
    print(f"[runstate] {rows:,} rows", file=sys.stderr)
    runstate = measure_runstate(a, b, args.repeat, HERE / f"objects-{rows}")
    del a, b
    result: dict[str, Any] = {
        "rows": rows,
        "generate_ms": generate_ms,
        "truth": truth,
        "runstate": runstate,
    }
    answers = {
        "runstate_stored_diff": runstate["counts"]["stored"],
        "runstate_full_diff": runstate["counts"]["full"],
    }
    if with_datacompy:
        result["datacompy"] = run_datacompy(args, rows)
        if "counts" in result["datacompy"]:
            answers["datacompy"] = result["datacompy"]["counts"]
    result["agreement"] = agreement(truth, answers)
    return result


def ratios_at(block: dict[str, Any]) -> dict[str, float] | None:
    if "stats_ms" not in block.get("datacompy", {}):
        return None
    dc = block["datacompy"]["stats_ms"]["median"]
    stats = block["runstate"]["stats_ms"]
    return {
        "datacompy_over_runstate_stored": dc / stats["runstate_stored_diff"]["median"],
        "datacompy_over_runstate_full": dc / stats["runstate_full_diff"]["median"],
    }


def extrapolate(points: list[tuple[int, float]], rows: int) -> dict[str, Any]:
    """The line through two (rows, ms) points, evaluated at ``rows``."""
    (x1, y1), (x2, y2) = points[0], points[-1]
    slope = (y2 - y1) / (x2 - x1)
    return {
        "method": f"line through ({x1:,} rows, {y1:,.0f} ms) and ({x2:,} rows, {y2:,.0f} ms)",
        "ms_per_million_rows": slope * 1e6,
        "intercept_ms": y1 - slope * x1,
        "estimate_ms": y1 + slope * (rows - x1),
        "proportional_estimate_ms": y2 * rows / x2,
    }


# -- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="measured runs per tool (>= 3)")
    parser.add_argument("--fraction", type=float, default=0.01, help="rows changed in B")
    parser.add_argument("--added", type=int, default=300, help="keys added in B")
    parser.add_argument("--removed", type=int, default=200, help="keys removed from B")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--limit", type=float, default=600.0, help="seconds one datacompy step may take"
    )
    parser.add_argument(
        "--fallback-rows",
        default="1000000,2000000",
        help="sizes measured (both tools) when datacompy cannot do --rows",
    )
    parser.add_argument(
        "--always-fallback", action="store_true", help="measure the fallback sizes anyway"
    )
    parser.add_argument(
        "--skip-full-datacompy",
        action="store_true",
        help="do not try datacompy at --rows (go straight to the fallback sizes)",
    )
    parser.add_argument("--output", default="diff_tables", help="bench/results/NAME.json")
    parser.add_argument("--worker", choices=["datacompy", "stored"], help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "datacompy":
        return datacompy_worker(args)
    if args.worker == "stored":
        return stored_worker(args)
    if args.repeat < 3:
        parser.error("--repeat must be >= 3")
    ensure_packages()
    benchlib.reexec_in_venv()

    machine = benchlib.machine_info()
    busy_start = busy_processes()
    sizes: dict[str, Any] = {}
    main_block = measure_size(args, args.rows, with_datacompy=not args.skip_full_datacompy)
    sizes[str(args.rows)] = main_block
    datacompy_ok = main_block.get("datacompy", {}).get("status") == "ok"
    fallback_rows = [int(r) for r in args.fallback_rows.split(",") if r]
    if not datacompy_ok or args.always_fallback:
        for rows in fallback_rows:
            sizes[str(rows)] = measure_size(args, rows, with_datacompy=True)

    summary = summarise(args, sizes, datacompy_ok, fallback_rows)
    document = {
        "schema": "runstate-bench.diff_tables/v1",
        "machine": benchlib.stamp_end(machine),
        "other_busy_processes": {"start": busy_start, "end": busy_processes()},
        "versions": {
            name: _version(name)
            for name in ("datacompy", "pandas", "pyarrow", "numpy", "numba", "runstate")
        },
        "parameters": {
            "rows": args.rows,
            "repeat": args.repeat,
            "seed": args.seed,
            "changed_fraction": args.fraction,
            "added": args.added,
            "removed": args.removed,
            "limit_s": args.limit,
            "fallback_rows": fallback_rows,
            "key": KEY,
            "columns": {
                KEY: "int64",
                "quantity": "int64",
                "price": "double",
                "score": "double",
                "city": "string",
                "product": "string",
                "created": "timestamp[us]",
                "active": "bool",
            },
        },
        "sizes": sizes,
        "summary": summary,
    }
    report(sizes, summary)
    print(f"\nwrote {benchlib.write_result(args.output, document)}")
    return 0


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def summarise(
    args: argparse.Namespace, sizes: dict[str, Any], datacompy_ok: bool, fallback_rows: list[int]
) -> dict[str, Any]:
    main_block = sizes[str(args.rows)]
    stored_ms = main_block["runstate"]["stats_ms"]["runstate_stored_diff"]["median"]
    summary: dict[str, Any] = {
        "runstate_stored_diff_ms": stored_ms,
        "runstate_full_diff_ms": main_block["runstate"]["stats_ms"]["runstate_full_diff"]["median"],
        "ratios_measured": {rows: ratios_at(block) for rows, block in sizes.items()},
        "counts_agree": all(block["agreement"]["all_agree"] for block in sizes.values()),
    }
    if datacompy_ok:
        ratio = ratios_at(main_block)
        assert ratio is not None
        summary["datacompy_ms"] = main_block["datacompy"]["stats_ms"]["median"]
        summary["datacompy_basis"] = f"measured at {args.rows:,} rows"
        summary["ratio_datacompy_over_runstate_stored"] = ratio["datacompy_over_runstate_stored"]
        summary["ratio_datacompy_over_runstate_full"] = ratio["datacompy_over_runstate_full"]
    else:
        points = [
            (rows, sizes[str(rows)]["datacompy"]["stats_ms"]["median"])
            for rows in fallback_rows
            if "stats_ms" in sizes[str(rows)].get("datacompy", {})
        ]
        if len(points) >= 2:
            estimate = extrapolate(points, args.rows)
            summary["datacompy_ms"] = estimate["estimate_ms"]
            summary["datacompy_basis"] = "EXTRAPOLATED linearly: " + estimate["method"]
            summary["datacompy_extrapolation"] = estimate
            summary["ratio_datacompy_over_runstate_stored"] = estimate["estimate_ms"] / stored_ms
            summary["ratio_datacompy_over_runstate_full"] = (
                estimate["estimate_ms"] / summary["runstate_full_diff_ms"]
            )
    ratio = summary.get("ratio_datacompy_over_runstate_stored")
    summary["targets"] = {
        "runstate_stored_diff_ms": {
            "target": f"<= {TARGET_STORED_MS:g}",
            "value": stored_ms,
            "met": stored_ms <= TARGET_STORED_MS,
        },
        "datacompy_over_runstate_stored": {
            "target": f">= {TARGET_RATIO:g}",
            "value": ratio,
            "met": None if ratio is None else ratio >= TARGET_RATIO,
        },
    }
    return summary


def report(sizes: dict[str, Any], summary: dict[str, Any]) -> None:
    rows_out = []
    for rows, block in sizes.items():
        for name, stats in block["runstate"]["stats_ms"].items():
            rows_out.append([name, int(rows), stats["median"], stats["p10"], stats["p90"]])
        dc = block.get("datacompy", {})
        if "stats_ms" in dc:
            s = dc["stats_ms"]
            rows_out.append(["datacompy", int(rows), s["median"], s["p10"], s["p90"]])
        elif "datacompy" in block:
            rows_out.append([f"datacompy ({dc['status']})", int(rows), "-", "-", "-"])
    print()
    benchlib.print_table(["measure", "rows", "median ms", "p10 ms", "p90 ms"], rows_out)
    print()
    for rows, block in sizes.items():
        phases = block["runstate"]["stored_phases_median_ms"]
        capture = block["runstate"]["capture"]
        print(
            f"{int(rows):,} rows: stored diff phases (median ms) read A {phases['read_a']:.0f},"
            f" read B {phases['read_b']:.0f}, merge {phases['diff']:.0f}; capture (untimed):"
            f" build {capture['build_a_ms']:.0f} + {capture['build_b_ms']:.0f},"
            f" write {capture['write_a_ms']:.0f} + {capture['write_b_ms']:.0f}"
        )
        ratio = summary["ratios_measured"].get(rows)
        if ratio:
            print(
                f"  measured: datacompy / runstate stored diff"
                f" {ratio['datacompy_over_runstate_stored']:.1f}x,"
                f" datacompy / runstate full diff {ratio['datacompy_over_runstate_full']:.1f}x"
            )
        print(f"  counts agree with the generator: {block['agreement']['per_tool']}")
    targets = summary["targets"]
    stored = targets["runstate_stored_diff_ms"]
    print(
        f"\nstored diff {stored['value']:,.0f} ms (target {stored['target']} ms):"
        f" {benchlib.verdict(stored['met'])}"
    )
    ratio = targets["datacompy_over_runstate_stored"]
    if ratio["value"] is not None:
        print(
            f"datacompy / runstate stored diff {ratio['value']:.1f}x (target {ratio['target']}x,"
            f" datacompy {summary['datacompy_basis']}): {benchlib.verdict(ratio['met'])}"
        )
        print(
            f"datacompy / runstate full diff (fingerprinting included)"
            f" {summary['ratio_datacompy_over_runstate_full']:.1f}x"
        )
    print(f"all tools agree on the counts: {summary['counts_agree']}")


if __name__ == "__main__":
    sys.exit(main())
