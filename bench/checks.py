"""Drift checks: speed, false alarms and power of runstate's checks next to Evidently and whylogs.

Data: 10 columns, 6 numeric (normal, log-normal, integer, uniform, exponential, a
mixture) and 4 categorical (3 to 12 categories, skewed shares); every pair is two
independent draws from the same distribution unless a shift is asked for.

* **speed**: one 1 M vs 1 M pair. runstate, as ``runstate check`` does it: the recorded
  profiles and 100 k-row samples of both tables (taken at capture, timed separately) →
  schema, quality and drift checks. Peers on the full frames: Evidently
  ``Report([DataDriftPreset()])``, whylogs profiles + ``calculate_drift_scores``.
* **false alarms**: ``--pairs`` unshifted pairs at ``--rows`` rows: the share of column
  checks flagged (runstate: any drift test of the column flagged; Evidently: the column's
  ``ValueDrift``; whylogs: ``drift_category == "DRIFT"``). Peers are run on
  ``--peer-pairs`` of the same pairs (they are slow at 1 M rows), and on all pairs at
  ``--small-rows``.
* **power**: ``--trials`` pairs at 10 k rows with a 0.5-sd mean shift in one numeric column
  and a +5-point share change of one category: how often each is flagged.

Usage: ``python bench/checks.py [--pairs 100 --rows 1000000 --peer-pairs 5]``; results in
bench/results/checks.json. The peers need bench/.venv-peers (see bench/checks_peers.py);
without it their figures are left out and the output says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

BENCH = Path(__file__).resolve().parent
PEERS = BENCH / ".venv-peers" / "bin" / "python"
NUMERIC = [f"n{i}" for i in range(6)]
CATEGORICAL = [f"c{i}" for i in range(4)]
CATS = [list("abc"), list("abcde"), list("abcdefgh"), [f"k{i}" for i in range(12)]]


def _shares(count: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1)
    return np.asarray(weights / weights.sum())


def make_table(
    rows: int, seed: int, mean_shift: float = 0.0, share_shift: float = 0.0
) -> dict[str, np.ndarray]:
    """One draw; ``mean_shift`` (in sd) moves n0, ``share_shift`` adds to c1's first category."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {
        "n0": rng.normal(mean_shift, 1.0, rows),
        "n1": rng.lognormal(0.0, 0.5, rows),
        "n2": rng.integers(0, 100, rows).astype(np.float64),
        "n3": rng.uniform(-1, 1, rows),
        "n4": rng.exponential(2.0, rows),
        "n5": np.where(rng.random(rows) < 0.3, rng.normal(-2, 1, rows), rng.normal(2, 1, rows)),
    }
    for name, cats in zip(CATEGORICAL, CATS, strict=True):
        p = _shares(len(cats))
        if name == "c1" and share_shift:
            p = p.copy()
            p[0] += share_shift
            p[1:] *= (1 - p[0]) / p[1:].sum()
        out[name] = np.asarray(cats)[rng.choice(len(cats), rows, p=p)]
    return out


def _arrow(data: dict[str, np.ndarray]) -> pa.Table:
    return pa.table({k: pa.array(v) for k, v in data.items()})


def recorded(data: dict[str, np.ndarray], seed: int) -> tuple[dict[str, Any], pa.Table, float]:
    """What capture records of a table: its profile and its sample; and the seconds taken."""
    from runstate.data.profile import profile_table
    from runstate.data.sample import sample_table

    table = _arrow(data)
    start = time.perf_counter()
    profile = profile_table(table).to_dict()
    sample = sample_table(table, f"{seed:016x}")
    assert sample is not None
    return profile, sample, time.perf_counter() - start


def runstate_check(
    profile_a: dict[str, Any], sample_a: pa.Table, profile_b: dict[str, Any], sample_b: pa.Table
) -> tuple[set[str], float, list[Any]]:
    """The checks ``runstate check`` runs on one table pair; the drifted columns."""
    from runstate.monitor.engine import check_tables, drift_items
    from runstate.monitor.quality import TablePair
    from runstate.monitor.settings import normalise

    settings = normalise(None)
    start = time.perf_counter()
    schema = [{"name": f.name, "type": str(f.type), "family": "x", "nullable": True}
              for f in sample_a.schema]  # fmt: skip
    entry = {"schema": schema}
    pair = TablePair("input t", "data:t", entry, entry, profile_a, profile_b, sample_a, sample_b)
    items, tests, _ = check_tables(pair, settings)
    items += drift_items(tests, settings["alpha"])
    seconds = time.perf_counter() - start
    drifted = {i.column for i in items if i.kind == "drift" and i.status == "fail" and i.column}
    return drifted, seconds, items


def peers(tools: list[str], paths: list[str]) -> list[dict[str, Any]]:
    if not PEERS.exists():
        return []
    proc = subprocess.run(
        [str(PEERS), str(BENCH / "checks_peers.py"), ",".join(tools), *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def write_pair(folder: Path, index: int, a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> str:
    path = folder / f"pair{index}.npz"
    np.savez(path, **{f"a_{k}": v for k, v in a.items()}, **{f"b_{k}": v for k, v in b.items()})
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--peer-pairs", type=int, default=5)
    parser.add_argument("--small-rows", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--out", default=str(BENCH / "results" / "checks.json"))
    args = parser.parse_args()
    columns = len(NUMERIC) + len(CATEGORICAL)
    result: dict[str, Any] = {"rows": args.rows, "columns": columns, "peers": PEERS.exists()}
    tmp = Path(tempfile.mkdtemp(prefix="runstate-bench-checks-"))

    # warm-up (imports: scipy, numba kernels of the profile)
    pa_, sa, _ = recorded(make_table(5000, 1), 1)
    runstate_check(pa_, sa, pa_, sa)

    # speed, 1 M vs 1 M
    a, b = make_table(args.rows, 10_001), make_table(args.rows, 10_002)
    prof_a, samp_a, cap_a = recorded(a, 10_001)
    prof_b, samp_b, cap_b = recorded(b, 10_002)
    _, check_s, _ = runstate_check(prof_a, samp_a, prof_b, samp_b)
    speed: dict[str, Any] = {
        "runstate_check_s": check_s,
        "runstate_capture_profile_and_sample_s": [cap_a, cap_b],
        "runstate_total_s": check_s + cap_a + cap_b,
    }
    got = peers(["evidently", "whylogs"], [write_pair(tmp, 0, a, b)])
    if got:
        speed["evidently_s"] = got[0]["evidently"]["seconds"]
        speed["whylogs_s"] = got[0]["whylogs"]["seconds"]
        speed["evidently_over_runstate_check"] = speed["evidently_s"] / check_s
        speed["evidently_over_runstate_total"] = speed["evidently_s"] / speed["runstate_total_s"]
    result["speed"] = speed
    print("speed", json.dumps(speed), flush=True)

    # false alarms
    flagged = 0
    peer_paths: list[str] = []
    for index in range(args.pairs):
        a, b = make_table(args.rows, 2 * index), make_table(args.rows, 2 * index + 1)
        pa_, sa, _ = recorded(a, 2 * index)
        pb, sb, _ = recorded(b, 2 * index + 1)
        drifted, _, _ = runstate_check(pa_, sa, pb, sb)
        flagged += len(drifted)
        if index < args.peer_pairs:
            peer_paths.append(write_pair(tmp, index + 1, a, b))
    fa: dict[str, Any] = {
        "pairs": args.pairs,
        "rows": args.rows,
        "runstate": {
            "flagged": flagged,
            "column_checks": args.pairs * columns,
            "rate": flagged / (args.pairs * columns),
        },
    }
    for row in peers(["evidently", "whylogs"], peer_paths):
        for tool in ("evidently", "whylogs"):
            entry = fa.setdefault(tool, {"pairs": 0, "flagged": 0, "column_checks": 0})
            entry["pairs"] += 1
            entry["flagged"] += len(row[tool]["drifted"])
            entry["column_checks"] += columns
    for tool in ("evidently", "whylogs"):
        if tool in fa:
            fa[tool]["rate"] = fa[tool]["flagged"] / fa[tool]["column_checks"]
    for path in peer_paths:
        Path(path).unlink()
    result["false_alarms"] = fa
    print("false alarms", json.dumps(fa), flush=True)

    # false alarms at small rows (all tools, all pairs) and power at 10 k rows
    small: dict[str, Any] = {"rows": args.small_rows, "pairs": args.pairs}
    power: dict[str, Any] = {"rows": 10_000, "trials": args.trials, "runstate": {}}
    hits_mean = hits_share = small_flagged = other_flagged = 0
    small_paths, power_paths = [], []
    for index in range(max(args.pairs, args.trials)):
        if index < args.pairs:
            a = make_table(args.small_rows, 500_000 + 2 * index)
            b = make_table(args.small_rows, 500_001 + 2 * index)
            pa_, sa, _ = recorded(a, 1)
            pb, sb, _ = recorded(b, 2)
            small_flagged += len(runstate_check(pa_, sa, pb, sb)[0])
            small_paths.append(write_pair(tmp, 1000 + index, a, b))
        if index < args.trials:
            a = make_table(10_000, 900_000 + 2 * index)
            b = make_table(10_000, 900_001 + 2 * index, mean_shift=0.5, share_shift=0.05)
            pa_, sa, _ = recorded(a, 1)
            pb, sb, _ = recorded(b, 2)
            drifted = runstate_check(pa_, sa, pb, sb)[0]
            hits_mean += "n0" in drifted
            hits_share += "c1" in drifted
            other_flagged += len(drifted - {"n0", "c1"})
            power_paths.append(write_pair(tmp, 5000 + index, a, b))
    small["runstate"] = {"flagged": small_flagged, "rate": small_flagged / (args.pairs * columns)}
    for row in peers(["evidently", "whylogs"], small_paths):
        for tool in ("evidently", "whylogs"):
            entry = small.setdefault(tool, {"flagged": 0, "pairs": 0})
            entry["flagged"] += len(row[tool]["drifted"])
            entry["pairs"] += 1
    for tool in ("evidently", "whylogs"):
        if tool in small:
            small[tool]["rate"] = small[tool]["flagged"] / (small[tool]["pairs"] * columns)
    power["runstate"] = {"mean_shift_0.5sd": hits_mean, "share_change_5pt": hits_share,
                         "other_columns_flagged": other_flagged}  # fmt: skip
    for row in peers(["evidently", "whylogs"], power_paths):
        for tool in ("evidently", "whylogs"):
            entry = power.setdefault(tool, {"mean_shift_0.5sd": 0, "share_change_5pt": 0,
                                            "other_columns_flagged": 0})  # fmt: skip
            drifted = set(row[tool]["drifted"])
            entry["mean_shift_0.5sd"] += "n0" in drifted
            entry["share_change_5pt"] += "c1" in drifted
            entry["other_columns_flagged"] += len(drifted - {"n0", "c1"})
    result["false_alarms_small"] = small
    result["power"] = power
    print("small", json.dumps(small), flush=True)
    print("power", json.dumps(power), flush=True)
    for path in tmp.glob("*.npz"):
        path.unlink()
    tmp.rmdir()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
