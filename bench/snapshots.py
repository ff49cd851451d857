"""Snapshot storage: 30 daily ``full`` snapshots of a keyed 1,000,000-row table.

The scenario (the issue's "Snapshot storage" target): a customer table keyed by ``id``
(int64) with two float64 columns (``amount``: money, two decimals; ``score``: a model score
in [0, 1)), two strings (``name``: "First Last 123"; ``status``: five values), a
``timestamp[us, UTC]`` (``updated_at``) and an int32 category (``segment``, 20 values),
generated with NumPy from a fixed seed. Every day after the first, in this order:

* **updates**: 0.1 % of the current rows, chosen at random, get a new ``amount`` and an
  ``updated_at`` in that day, and three in ten of them a new ``status``;
* **deletes**: 0.05 % of the rows, at random, are removed;
* **appends**: 1 % of the initial row count (10,000 rows) with new ids, at the end.

Row order is otherwise kept, as an export of a table or an append-only file keeps it.

Each day's table is written with ``runstate.data.snapshot.write_snapshot`` into one fresh
``LocalObjectStore`` (so later days deduplicate against earlier ones), timed. Baselines,
per day: a standalone zstd Parquet file of the day's table (pyarrow defaults), and the
day's CSV (``pyarrow.csv``): what a file-level tool such as DVC stores for each version of a
Parquet or a CSV input. Reported: total bytes in the store (apparent and allocated on disk)
against 30 whole copies, the ratio (target <= 0.2x of the Parquet copies; ideal ~0.05x),
object counts (leaves, index nodes, manifests, dictionaries), write time per snapshot and
read time (the last and the first snapshot, each checked equal to its table, ordered
fingerprint included).

``--compare`` also measures, in memory, the alternative of one zstd Parquet file per
snapshot written with pyarrow's content-defined chunking and split into FastCDC chunks
(``runstate.data.cdc.byte_cuts``) — the design the snapshot format was chosen against.

Runs in the system python3 (numba, pyarrow): ``python3 bench/snapshots.py [--rows 1000000]
[--days 30] [--compare]``. Writes ``bench/results/snapshots.json`` (``--out`` to rename).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import benchlib
import numpy as np
import pyarrow as pa

TARGET_RATIO = 0.2
IDEAL_RATIO = 0.05
SEED = 20_240_611
DAY_US = 86_400_000_000
T0 = int(np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64))
FIRST = [
    "Anna", "Ben", "Carla", "David", "Eva", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karin",
    "Lukas", "Maria", "Nils", "Olga", "Paul", "Rita", "Sven", "Tina", "Uwe", "Vera", "Walter",
    "Xenia", "Yusuf", "Zoe",
]  # fmt: skip
LAST = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Braun", "Zimmermann",
    "Krause", "Hartmann", "Lange", "Werner", "Krüger", "Schmitt", "Lehmann",
]  # fmt: skip
STATUS = np.array(["active", "pending", "suspended", "closed", "review"], dtype=object)


def _new_rows(rng: np.random.Generator, first_id: int, n: int, day: int) -> dict[str, Any]:
    first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    number = rng.integers(1, 1000, n).astype(str).astype(object)
    return {
        "id": np.arange(first_id, first_id + n, dtype=np.int64),
        "amount": np.round(rng.lognormal(4.0, 1.2, n), 2),
        "score": rng.random(n),
        "name": first + " " + last + " " + number,
        "status": STATUS[rng.choice(len(STATUS), n, p=[0.7, 0.1, 0.05, 0.1, 0.05])],
        "updated_at": T0 + day * DAY_US + rng.integers(0, DAY_US, n),
        "segment": rng.integers(0, 20, n).astype(np.int32),
    }


def _to_table(cols: dict[str, Any]) -> pa.Table:
    return pa.table(
        {
            # copies: the NumPy arrays change on later days, Arrow would share their memory
            "id": pa.array(cols["id"].copy(), pa.int64()),
            "amount": pa.array(cols["amount"].copy(), pa.float64()),
            "score": pa.array(cols["score"].copy(), pa.float64()),
            "name": pa.array(cols["name"], pa.string()),
            "status": pa.array(cols["status"], pa.string()),
            "updated_at": pa.array(cols["updated_at"].copy(), pa.timestamp("us", tz="UTC")),
            "segment": pa.array(cols["segment"].copy(), pa.int32()),
        }
    )


def daily_tables(rows: int, days: int, seed: int) -> Iterator[pa.Table]:
    """The table as it is on each day (see the module docstring)."""
    rng = np.random.default_rng(seed)
    cols = _new_rows(rng, 1, rows, 0)
    cols["updated_at"] = T0 - rng.integers(0, 365 * DAY_US, rows)
    next_id = rows + 1
    for day in range(days):
        if day:
            n = len(cols["id"])
            updated = rng.choice(n, n // 1000, replace=False)
            k = len(updated)
            cols["amount"][updated] = np.round(rng.lognormal(4.0, 1.2, k), 2)
            cols["updated_at"][updated] = T0 + day * DAY_US + rng.integers(0, DAY_US, k)
            restatus = updated[rng.random(k) < 0.3]
            cols["status"][restatus] = STATUS[rng.integers(0, len(STATUS), len(restatus))]
            keep = np.ones(n, bool)
            keep[rng.choice(n, n // 2000, replace=False)] = False
            cols = {name: values[keep] for name, values in cols.items()}
            added = _new_rows(rng, next_id, rows // 100, day)
            next_id += rows // 100
            cols = {name: np.concatenate([cols[name], added[name]]) for name in cols}
        yield _to_table(cols)


def parquet_bytes(table: pa.Table, **options: Any) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", **options)
    return sink.getvalue()


def csv_size(table: pa.Table) -> int:
    import pyarrow.csv as csv

    sink = pa.BufferOutputStream()
    csv.write_csv(table, sink)
    return int(sink.tell())


class StoreScan:
    """New objects and bytes in a LocalObjectStore since the last scan."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.known: dict[str, tuple[int, int]] = {}

    def scan(self) -> tuple[int, int]:
        new_objects = new_bytes = 0
        for fan in os.scandir(self.root):
            if not fan.is_dir() or len(fan.name) != 2:
                continue
            for entry in os.scandir(fan.path):
                object_id = fan.name + entry.name
                if object_id in self.known or entry.name.startswith("."):
                    continue
                st = entry.stat()
                self.known[object_id] = (st.st_size, st.st_blocks * 512)
                new_objects += 1
                new_bytes += st.st_size
        return new_objects, new_bytes

    def kinds(self) -> dict[str, dict[str, int]]:
        """Objects by kind (manifest, node, dictionary, leaf), from their first bytes."""
        out: dict[str, dict[str, int]] = {}
        for object_id, (size, _) in self.known.items():
            path = os.path.join(self.root, object_id[:2], object_id[2:])
            with open(path, "rb") as handle:
                head = handle.read(40)
            if head.startswith(b'{"arrow_schema"'):
                kind = "manifest"
            elif head.startswith(b'{"ids"'):
                kind = "node"
            elif head[:4] == b"\xff\xff\xff\xff":
                kind = "dictionary"
            else:
                kind = "leaf"
            slot = out.setdefault(kind, {"objects": 0, "bytes": 0})
            slot["objects"] += 1
            slot["bytes"] += size
        return out


class MemoryDedup:
    """Unique chunks of an alternative design, counted in memory (``--compare``)."""

    def __init__(self) -> None:
        self.chunks: dict[bytes, int] = {}
        self.manifest_bytes = 0

    def add(self, data: bytes, sizes: tuple[int, int, int]) -> None:
        import blake3

        from runstate.data.cdc import byte_cuts

        start = 0
        entries = 0
        for end in byte_cuts(data, *sizes):
            piece = data[start : int(end)]
            self.chunks[blake3.blake3(piece).digest()] = len(piece)
            start = int(end)
            entries += 1
        self.manifest_bytes += entries * 77  # one [id, size] JSON entry each

    @property
    def total(self) -> int:
        return sum(self.chunks.values()) + self.manifest_bytes


COMPARE = {
    "parquet_cdc_default+fastcdc_64k": ({}, (16384, 65536, 262144)),
    "parquet_cdc_2k-8k+fastcdc_4k": (
        {"min_chunk_size": 2048, "max_chunk_size": 8192},
        (1024, 4096, 16384),
    ),
}


def _sizes(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    low, avg, high = (int(x) for x in text.split(","))
    return low, avg, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--leaf", help="leaf sizes MIN,AVG,MAX in bytes (default: runstate's)")
    parser.add_argument("--node", help="index node sizes MIN,AVG,MAX in entries")
    parser.add_argument("--compare", action="store_true", help="also measure Parquet CDC")
    parser.add_argument("--out", default="snapshots", help="result file name (no .json)")
    args = parser.parse_args()

    from runstate.data import snapshot
    from runstate.data.tables import table_fingerprint
    from runstate.store.objects import LocalObjectStore

    leaf = _sizes(args.leaf) or snapshot.LEAF_SIZE
    node = _sizes(args.node) or snapshot.NODE_SIZE
    machine = benchlib.machine_info()
    root = tempfile.mkdtemp(prefix="runstate-bench-snapshots-")
    objects = LocalObjectStore(os.path.join(root, "objects"))
    scan = StoreScan(objects.root)
    compare = {name: MemoryDedup() for name in COMPARE} if args.compare else {}
    days: list[dict[str, Any]] = []
    refs = []
    first_table = last_table = None
    try:
        # warm-up: numba kernels load (or compile) outside the measured writes
        snapshot.write_snapshot(LocalObjectStore(os.path.join(root, "warm")), pa.table({"x": [1]}))
        for day, table in enumerate(daily_tables(args.rows, args.days, args.seed)):
            started = time.perf_counter()
            ref = snapshot.write_snapshot(objects, table, leaf_size=leaf, node_size=node)
            write_s = time.perf_counter() - started
            refs.append(ref)
            new_objects, new_bytes = scan.scan()
            parquet = parquet_bytes(table)
            for name, (options, sizes) in COMPARE.items() if compare else ():
                cdc_file = parquet_bytes(table, use_content_defined_chunking=options or True)
                compare[name].add(cdc_file, sizes)
            days.append(
                {
                    "day": day,
                    "rows": table.num_rows,
                    "parquet_bytes": len(parquet),
                    "csv_bytes": csv_size(table),
                    "write_s": write_s,
                    "new_objects": new_objects,
                    "new_bytes": new_bytes,
                    "leaves": ref.leaves,
                    "nodes": ref.nodes,
                }
            )
            print(
                f"day {day:2d}: {table.num_rows:,} rows, write {write_s:.2f} s, "
                f"+{new_objects:,} objects, +{new_bytes / 1e6:.2f} MB "
                f"(parquet {len(parquet) / 1e6:.1f} MB)",
                flush=True,
            )
            if day == 0:
                first_table = table
            last_table = table
        assert first_table is not None and last_table is not None
        reads = {}
        for label, ref, table in (("last", refs[-1], last_table), ("first", refs[0], first_table)):
            started = time.perf_counter()
            restored = snapshot.read_snapshot(objects, ref.id)
            read_s = time.perf_counter() - started
            same = restored.equals(table) and table_fingerprint(
                restored, ordered=True
            ) == table_fingerprint(table, ordered=True)
            reads[label] = {"read_s": read_s, "rows": restored.num_rows, "exact": bool(same)}
        kinds = scan.kinds()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    stored = sum(size for size, _ in scan.known.values())
    allocated = sum(blocks for _, blocks in scan.known.values())
    parquet_total = sum(d["parquet_bytes"] for d in days)
    csv_total = sum(d["csv_bytes"] for d in days)
    ratio = stored / parquet_total
    writes = [d["write_s"] for d in days]
    later = [d["new_bytes"] for d in days[1:]] or [0]
    summary = {
        "stored_bytes": stored,
        "stored_bytes_allocated": allocated,
        "objects": len(scan.known),
        "objects_by_kind": kinds,
        "whole_parquet_copies_bytes": parquet_total,
        "whole_csv_copies_bytes": csv_total,
        "ratio_vs_parquet_copies": ratio,
        "ratio_vs_parquet_copies_allocated": allocated / parquet_total,
        "ratio_vs_csv_copies": stored / csv_total,
        "first_snapshot_vs_parquet": days[0]["new_bytes"] / days[0]["parquet_bytes"],
        "later_day_new_bytes_median": statistics.median(later),
        "later_day_new_objects_median": statistics.median(
            [d["new_objects"] for d in days[1:]] or [0]
        ),
        "write_s_median": statistics.median(writes),
        "write_s_first": writes[0],
        "write_s_max": max(writes),
        "parquet_write_s_note": "baseline files are written in memory, untimed",
        "reads": reads,
        "target_ratio": TARGET_RATIO,
        "ideal_ratio": IDEAL_RATIO,
        "target_met": ratio <= TARGET_RATIO,
    }
    if compare:
        summary["compare"] = {
            name: {
                "stored_bytes": dedup.total,
                "chunks": len(dedup.chunks),
                "ratio_vs_parquet_copies": dedup.total / parquet_total,
            }
            for name, dedup in compare.items()
        }
    benchlib.print_table(
        ["measure", "value"],
        [
            [
                "days × rows (first → last)",
                f"{args.days} × {days[0]['rows']:,} → {days[-1]['rows']:,}",
            ],
            ["stored (apparent)", f"{stored / 1e6:,.1f} MB"],
            ["stored (allocated on disk)", f"{allocated / 1e6:,.1f} MB"],
            [f"{args.days} whole Parquet copies", f"{parquet_total / 1e6:,.1f} MB"],
            [f"{args.days} whole CSV copies", f"{csv_total / 1e6:,.1f} MB"],
            [
                "ratio vs Parquet copies",
                f"{ratio:.3f}x ({benchlib.verdict(ratio <= TARGET_RATIO)})",
            ],
            ["ratio vs Parquet, allocated", f"{allocated / parquet_total:.3f}x"],
            ["ratio vs CSV copies", f"{stored / csv_total:.3f}x"],
            ["objects", f"{len(scan.known):,}"],
            [
                "write s/snapshot (median, max)",
                f"{statistics.median(writes):.2f}, {max(writes):.2f}",
            ],
            [
                "read s (last, first)",
                f"{reads['last']['read_s']:.2f}, {reads['first']['read_s']:.2f}",
            ],
            ["exact restore", str(all(r["exact"] for r in reads.values()))],
        ]
        + [
            [f"compare {name}", f"{c['ratio_vs_parquet_copies']:.3f}x, {c['chunks']:,} chunks"]
            for name, c in summary.get("compare", {}).items()
        ],
    )
    document = {
        "schema": "runstate.bench/snapshots",
        "parameters": {
            "rows": args.rows,
            "days": args.days,
            "seed": args.seed,
            "leaf_size": list(leaf),
            "node_size": list(node),
            "root_max": snapshot.ROOT_MAX,
        },
        "summary": summary,
        "days": days,
        "machine": benchlib.stamp_end(machine),
    }
    print(f"wrote {benchlib.write_result(args.out, document)}")
    if not all(r["exact"] for r in reads.values()):
        sys.exit("a restored snapshot differs from its table")


if __name__ == "__main__":
    main()
