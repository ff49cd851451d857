"""Fingerprinting a 1 GiB folder of 1,000 files: runstate versus ``dvc add``.

What is measured (wall time, ms):

* ``runstate_fingerprint`` — ``fingerprint_path(folder, objects=None, cache=StatCache(new))``
  in-process, in a fresh ``runstate init`` project: walk, stat and BLAKE3 every byte, build
  the folder manifest. This is what ``retention="fingerprint"`` costs on first sight.
* ``runstate_hash_store`` — the same with ``objects=`` the project's ``LocalObjectStore``:
  hash, then copy every file into the content-addressed store (atomic, fsynced, re-hashed),
  which is what ``run.input(..., retention="full")`` does on first sight.
* ``runstate_recheck`` — the folder unchanged, a *warm* stat cache (re-opened, as a new
  process would): one ``stat`` per file and one cache query, no hashing. Target <= 20 ms.
  ``runstate_recheck_store`` is the same with the object store (each object's mtime is
  freshened so ``gc`` cannot race the run).
* ``dvc_add`` — ``dvc add data`` as a subprocess in a fresh ``git init && dvc init`` repo
  (fresh cache, fresh state database): hash with MD5 and copy into the DVC cache.
  ``dvc_add_unchanged`` re-runs it in the same repo.

Why: users compare "one line of runstate" with versioning the data in DVC; runstate must
record a large input at least 10x faster than ``dvc add`` or capture gets turned off.

The folder (1,000 files, sizes spread around 1 MiB, exactly 1 GiB, pseudo-random bytes from
a seeded BLAKE3 XOF) is generated once into ``bench/.work/fingerprint/data``. For ``dvc
add`` the folder is renamed into each fresh repo and renamed back afterwards (no copy, the
files' inodes and times do not change). Cold measurements are repeated (``--repeat``),
round-robin between the tools. When ``/proc/sys/vm/drop_caches`` is writable, each cold
measurement can start with the OS page cache dropped (``--page-cache cold``); otherwise, or
with ``--page-cache warm``, the data is in RAM for every tool alike.

Usage: ``python bench/fingerprint_folder.py [--repeat 3] [--page-cache both]``. Writes
``bench/results/fingerprint_folder.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib

TARGET_RECHECK_MS = 20.0
TARGET_DVC_RATIO = 10.0
DATASET_SCHEMA = "runstate-bench.dataset/v1"
HERE = benchlib.WORK_DIR / "fingerprint"
DATA = HERE / "data"
MARKER = HERE / "dataset.json"
SCRATCH = HERE / "scratch"


# -- the data set ------------------------------------------------------------------------


def file_sizes(count: int, total: int, seed: int) -> list[int]:
    """``count`` sizes spread uniformly in [0.5, 1.5] x mean, summing to exactly ``total``."""
    rng = random.Random(seed)
    raw = [rng.uniform(0.5, 1.5) for _ in range(count)]
    scale = total / sum(raw)
    sizes = [int(r * scale) for r in raw]
    sizes[-1] += total - sum(sizes)
    return sizes


def relative_names(count: int, shards: int) -> list[str]:
    return [f"shard-{i % shards:02d}/part-{i:04d}.bin" for i in range(count)]


def ensure_dataset(count: int, total: int, seed: int, shards: int) -> dict[str, Any]:
    """Generate the folder unless a complete one with the same parameters is already there."""
    spec = {
        "schema": DATASET_SCHEMA,
        "files": count,
        "total_bytes": total,
        "seed": seed,
        "shards": shards,
    }
    _recover_moved_data()
    if MARKER.exists() and json.loads(MARKER.read_text()) == spec and _complete(spec):
        return spec
    import blake3

    print(f"generating {count} files, {total / (1 << 30):.2f} GiB into {DATA} ...", file=sys.stderr)
    shutil.rmtree(DATA, ignore_errors=True)
    MARKER.unlink(missing_ok=True)
    for name, size in zip(
        relative_names(count, shards), file_sizes(count, total, seed), strict=True
    ):
        path = DATA / name
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = blake3.blake3(f"runstate-bench:{seed}:{name}".encode())
        path.write_bytes(stream.digest(length=size))
    os.sync()
    MARKER.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return spec


def _complete(spec: dict[str, Any]) -> bool:
    names = relative_names(spec["files"], spec["shards"])
    sizes = file_sizes(spec["files"], spec["total_bytes"], spec["seed"])
    try:
        return all((DATA / n).stat().st_size == s for n, s in zip(names, sizes, strict=True))
    except OSError:
        return False


def _recover_moved_data() -> None:
    """Move the folder back if an interrupted run left it inside a scratch DVC repo."""
    if SCRATCH.exists():
        for leftover in SCRATCH.glob("*/data"):
            if not DATA.exists():
                leftover.rename(DATA)
        shutil.rmtree(SCRATCH, ignore_errors=True)


# -- measurements ------------------------------------------------------------------------


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return (time.perf_counter() - started) * 1000.0, value


def fresh_project(label: str) -> Any:
    """A new ``runstate init`` project under the scratch folder; returns its Store."""
    from runstate.store.store import Store

    project = SCRATCH / label
    project.mkdir(parents=True)
    return Store.init(project)


def runstate_cold(label: str, store_bytes: bool, rechecks: int) -> dict[str, Any]:
    """One cold fingerprint (optionally with storing) and ``rechecks`` warm re-checks."""
    from runstate.data.files import fingerprint_path
    from runstate.data.statcache import StatCache

    store = fresh_project(label)
    objects = store.objects if store_bytes else None
    cache_path = store.cache_dir / "stat.sqlite"
    cache = StatCache(cache_path)
    cold_ms, first = timed(lambda: fingerprint_path(DATA, objects=objects, cache=cache))
    cache.close()
    recheck: list[float] = []
    for _ in range(rechecks):

        def again() -> Any:
            warm = StatCache(cache_path)  # re-opened, as the next run's process would
            try:
                return fingerprint_path(DATA, objects=objects, cache=warm)
            finally:
                warm.close()

        ms, result = timed(again)
        if result.fingerprint != first.fingerprint:
            raise SystemExit("fingerprint_folder: re-check gave a different fingerprint")
        recheck.append(ms)
    shutil.rmtree(store.project_root)
    return {
        "cold_ms": cold_ms,
        "recheck_ms": recheck,
        "fingerprint": first.fingerprint,
        "files": first.files,
        "bytes": first.size,
    }


def dvc(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall time in ms of one ``dvc ARGS`` subprocess; raises if it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(benchlib.VENV_BIN / "dvc"), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = (time.perf_counter() - started) * 1000.0
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace")[-2000:]
        command = " ".join(args)
        raise SystemExit(f"fingerprint_folder: dvc {command} exited {done.returncode}:\n{tail}")
    return elapsed


def dvc_cold(label: str, reruns: int, env: dict[str, str], drop: bool) -> dict[str, Any]:
    """``dvc add data`` in a fresh git+DVC repo (fresh cache and state db), then re-runs."""
    repo = SCRATCH / label
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, env=env, check=True)
    dvc(["init", "-q"], repo, env)
    dvc(["config", "--local", "core.site_cache_dir", str(repo / ".dvc" / "site-cache")], repo, env)
    dvc(["config", "--local", "core.analytics", "false"], repo, env)
    DATA.rename(repo / "data")
    try:
        if drop:
            benchlib.drop_page_cache()
        dvc(["--version"], repo, env)  # load DVC's code; only the data stays cold
        cold_ms = dvc(["add", "-q", "data"], repo, env)
        unchanged = [dvc(["add", "-q", "data"], repo, env) for _ in range(reruns)]
    finally:
        (repo / "data").rename(DATA)
    shutil.rmtree(repo)
    return {"cold_ms": cold_ms, "unchanged_ms": unchanged}


def measure(args: argparse.Namespace, modes: list[str]) -> dict[str, Any]:
    env = benchlib.child_env({"DVC_NO_ANALYTICS": "1"})
    shutil.rmtree(SCRATCH, ignore_errors=True)
    dvc_startup = []
    for _ in range(3):
        dvc_startup.append(dvc(["--version"], HERE, env))
    out: dict[str, Any] = {"dvc_startup_ms": dvc_startup}
    for mode in modes:
        drop = mode == "cold"
        raw: dict[str, list[float]] = {
            "runstate_fingerprint": [],
            "runstate_hash_store": [],
            "runstate_recheck": [],
            "runstate_recheck_store": [],
            "dvc_add": [],
            "dvc_add_unchanged": [],
        }
        fingerprints = set()
        if not drop:
            runstate_cold(f"prewarm-{mode}", store_bytes=False, rechecks=0)  # data into RAM
        for rep in range(args.repeat):
            print(f"[{mode} page cache] repeat {rep + 1}/{args.repeat}", file=sys.stderr)
            if drop:
                benchlib.drop_page_cache()
            fp = runstate_cold(f"fp-{mode}-{rep}", store_bytes=False, rechecks=args.rechecks)
            raw["runstate_fingerprint"].append(fp["cold_ms"])
            raw["runstate_recheck"].extend(fp["recheck_ms"])
            fingerprints.add(fp["fingerprint"])
            if drop:
                benchlib.drop_page_cache()
            st = runstate_cold(f"store-{mode}-{rep}", store_bytes=True, rechecks=args.rechecks)
            raw["runstate_hash_store"].append(st["cold_ms"])
            raw["runstate_recheck_store"].extend(st["recheck_ms"])
            fingerprints.add(st["fingerprint"])
            dv = dvc_cold(f"dvc-{mode}-{rep}", args.dvc_reruns, env, drop)
            raw["dvc_add"].append(dv["cold_ms"])
            raw["dvc_add_unchanged"].extend(dv["unchanged_ms"])
            print(
                "  runstate fingerprint {:.0f} ms, hash+store {:.0f} ms, recheck {:.1f} ms;"
                " dvc add {:.0f} ms, unchanged {:.0f} ms".format(
                    fp["cold_ms"],
                    st["cold_ms"],
                    min(fp["recheck_ms"] or [0.0]),
                    dv["cold_ms"],
                    min(dv["unchanged_ms"] or [0.0]),
                ),
                file=sys.stderr,
            )
        if len(fingerprints) != 1:
            raise SystemExit(
                f"fingerprint_folder: runs disagree on the fingerprint: {fingerprints}"
            )
        out[mode] = {"samples_ms": raw, "fingerprint": fingerprints.pop(), **analyse(raw)}
    shutil.rmtree(SCRATCH, ignore_errors=True)
    return out


def analyse(raw: dict[str, list[float]]) -> dict[str, Any]:
    stats = {name: benchlib.summarise(values) for name, values in raw.items() if values}
    med = {name: s["median"] for name, s in stats.items()}
    ratio_fp = med["dvc_add"] / med["runstate_fingerprint"]
    ratio_store = med["dvc_add"] / med["runstate_hash_store"]
    return {
        "stats_ms": stats,
        "ratios": {
            "dvc_add_over_runstate_fingerprint": ratio_fp,
            "dvc_add_over_runstate_hash_store": ratio_store,
            "dvc_add_unchanged_over_runstate_recheck": (
                med["dvc_add_unchanged"] / med["runstate_recheck"]
                if "dvc_add_unchanged" in med
                else None
            ),
        },
        "targets": {
            "runstate_recheck_ms": {
                "target": f"<= {TARGET_RECHECK_MS:g}",
                "value": med["runstate_recheck"],
                "met": med["runstate_recheck"] <= TARGET_RECHECK_MS,
            },
            "dvc_add_over_runstate_fingerprint": {
                "target": f">= {TARGET_DVC_RATIO:g}",
                "value": ratio_fp,
                "met": ratio_fp >= TARGET_DVC_RATIO,
            },
        },
    }


def report(result: dict[str, Any], modes: list[str]) -> None:
    order = [
        "runstate_fingerprint",
        "runstate_hash_store",
        "runstate_recheck",
        "runstate_recheck_store",
        "dvc_add",
        "dvc_add_unchanged",
    ]
    for mode in modes:
        block = result["measurements"][mode]
        stats = block["stats_ms"]
        data = result["dataset"]
        print(
            f"\n{data['total_bytes'] / (1 << 30):.2f} GiB / {data['files']:,} files,"
            f" page cache {mode} (wall ms)\n"
        )
        rows = [
            [name, stats[name]["median"], stats[name]["p10"], stats[name]["p90"], stats[name]["n"]]
            for name in order
            if name in stats
        ]
        benchlib.print_table(["measurement", "median", "p10", "p90", "n"], rows)
        ratios, targets = block["ratios"], block["targets"]
        print(
            f"\ndvc add / runstate fingerprint: {ratios['dvc_add_over_runstate_fingerprint']:.1f}x "
            f"(target >= {TARGET_DVC_RATIO:g}x): "
            f"{benchlib.verdict(targets['dvc_add_over_runstate_fingerprint']['met'])}"
        )
        print(f"dvc add / runstate hash+store: {ratios['dvc_add_over_runstate_hash_store']:.1f}x")
        print(
            f"runstate warm re-check {stats['runstate_recheck']['median']:.1f} ms "
            f"(target <= {TARGET_RECHECK_MS:g} ms): "
            f"{benchlib.verdict(targets['runstate_recheck_ms']['met'])}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold measurements per tool (>= 3)")
    parser.add_argument("--rechecks", type=int, default=10, help="warm re-checks per cold run")
    parser.add_argument("--dvc-reruns", type=int, default=2, help="unchanged dvc add re-runs")
    parser.add_argument(
        "--page-cache",
        choices=["cold", "warm", "both"],
        default="both",
        help="drop the OS page cache before each cold measurement (cold), never (warm), or both",
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--total-mib", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--shards", type=int, default=10, help="subfolders the files spread over")
    parser.add_argument("--output", default="fingerprint_folder", help="bench/results/NAME.json")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.rechecks < 1 or args.files < 1:
        parser.error("--repeat, --rechecks and --files must be >= 1")
    benchlib.reexec_in_venv()

    spec = ensure_dataset(args.files, args.total_mib << 20, args.seed, args.shards)
    can_drop = benchlib.drop_page_cache()
    modes = ["cold", "warm"] if args.page_cache == "both" else [args.page_cache]
    if not can_drop and "cold" in modes:
        print(
            "cannot write /proc/sys/vm/drop_caches: every measurement is page-cache-warm",
            file=sys.stderr,
        )
        modes = ["warm"]
    machine = benchlib.machine_info()
    measurements = measure(args, modes)
    result = {
        "schema": "runstate-bench.fingerprint_folder/v1",
        "machine": benchlib.stamp_end(machine),
        "dataset": {**spec, "path": str(DATA)},
        "settings": {
            "repeat": args.repeat,
            "rechecks": args.rechecks,
            "dvc_reruns": args.dvc_reruns,
            "page_cache_modes": modes,
            "drop_caches_available": can_drop,
            "dvc_cache_type": "default (reflink,copy)",
        },
        "dvc_startup_ms": benchlib.summarise(measurements.pop("dvc_startup_ms")),
        "measurements": measurements,
    }
    report(result, modes)
    path = benchlib.write_result(args.output, result)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
