"""Serve a run's recorded inputs in the replay sandbox.

By recorded kind and retention:

* **table, retention full** — read through ``run.read_table`` (the Python API): served
  in-process from its snapshot by :mod:`runstate.capture.replayed`, nothing is laid out.
  A table *file* a zero-code run read (its entry is named by its path) is written back at
  its recorded path from the snapshot, in its recorded format (CSV, TSV, Parquet, Arrow
  IPC, JSON lines); the bytes may differ from the original file (quoting, float spelling),
  so the file is read back and its table fingerprint checked: a mismatch is reported.
* **file / folder, retention full** — copied from the object store to the recorded path
  under the sandbox (an input outside the project goes to ``.runstate-inputs/<name>/`` in
  the sandbox and ``run.input`` is given that path). Copies, not hard links: a job that
  writes its input in place would otherwise change the stored object.
* **retention fingerprint** — only fingerprints were kept: the run is not replayable, and
  the reason names the input. **retention reference** (tables) — the external version
  (a git blob, a Delta table version; :mod:`runstate.data.reference`) is fetched from the
  project, checked against the recorded table fingerprint (a mismatch or a vanished version
  stops the replay, naming the input), stored as a snapshot and served like one.

A file already in the sandbox (committed to git) with the recorded content is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runstate.errors import ObjectMissing, ReplayError
from runstate.replay.manifest import ServedInput
from runstate.store.objects import ObjectStore, hash_file

__all__ = ["INPUTS_DIR", "lay_out_inputs", "unreplayable_inputs"]

INPUTS_DIR = ".runstate-inputs"
_WRITERS = ("csv", "tsv", "parquet", "ipc", "jsonl")


def _is_table_file(entry: Mapping[str, Any]) -> bool:
    """A table file a zero-code run read (named by its path), rather than an API read_table."""
    source = entry.get("source") or {}
    return source.get("kind") == "file" and entry["name"] == entry["path"]


def unreplayable_inputs(entries: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """``[{"input", "reason"}]`` for every input whose content was not retained."""
    problems = []
    for name, entry in sorted(entries.items()):
        retention = entry.get("retention")
        reason = None
        if retention == "fingerprint":
            reason = (
                f"input {name!r} was recorded with retention 'fingerprint': only its "
                "fingerprints were kept (diffable, not replayable)"
            )
        elif retention == "reference" and not (
            entry.get("kind") == "table" and entry.get("reference")
        ):
            reason = f"input {name!r} has retention 'reference' but no external version recorded"
        elif (
            retention != "reference"
            and entry.get("kind") == "table"
            and not entry.get("snapshot_id")
        ):
            reason = f"input {name!r}: no snapshot of the table was stored"
        elif entry.get("kind") == "table" and _is_table_file(entry):
            if (entry.get("source") or {}).get("format") not in _WRITERS:
                reason = f"input {name!r}: cannot write format {entry['source'].get('format')!r}"
        elif entry.get("kind") in ("file", "folder") and not entry.get("object_id"):
            reason = f"input {name!r}: its bytes were not stored"
        if reason:
            problems.append({"input": name, "reason": reason})
    return problems


def _target(root: Path, name: str, recorded: str) -> Path:
    if os.path.isabs(recorded):
        return root / INPUTS_DIR / name.replace("/", "_") / os.path.basename(recorded)
    target = Path(os.path.normpath(root / recorded))
    if root not in target.parents:
        raise ReplayError(f"input {name!r}: recorded path {recorded!r} leaves the project")
    return target


def _copy_object(objects: ObjectStore, object_id: str, target: Path, name: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and hash_file(target) == object_id:
        return
    tmp = target.with_name(f".{target.name}.runstate-tmp")
    try:
        local = getattr(objects, "path", None)
        source = local(object_id) if local is not None else None
        if source is not None and os.path.isfile(source):
            shutil.copyfile(source, tmp)
        else:
            with objects.open(object_id) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except (ObjectMissing, FileNotFoundError):
        tmp.unlink(missing_ok=True)
        raise ObjectMissing(
            f"input {name!r}: object {object_id} is missing from the store"
        ) from None
    os.replace(tmp, target)


def _lay_out_folder(objects: ObjectStore, entry: Mapping[str, Any], target: Path) -> None:
    name = str(entry["name"])
    try:
        manifest = json.loads(objects.get_bytes(str(entry["object_id"])))
    except ObjectMissing:
        raise ObjectMissing(
            f"input {name!r}: its folder manifest {entry['object_id']} is missing from the store"
        ) from None
    target.mkdir(parents=True, exist_ok=True)
    for rel, _size, digest in manifest["files"]:
        _copy_object(objects, digest, _target(target, name, rel), name)


def _table_fingerprint(path: Path) -> str | None:
    from runstate.data.readers import open_table
    from runstate.data.tables import table_fingerprint
    from runstate.errors import RunstateError

    try:
        return table_fingerprint(open_table(str(path)).read_all()).fingerprint
    except (RunstateError, OSError):
        return None


def _write_table_file(
    objects: ObjectStore, entry: Mapping[str, Any], target: Path, notes: list[str]
) -> None:
    from runstate.data.snapshot import read_snapshot

    name = str(entry["name"])
    if target.is_file() and _table_fingerprint(target) == entry["fingerprint"]:
        return  # the committed file holds the recorded rows already
    table = read_snapshot(objects, str(entry["snapshot_id"]))
    fmt = (entry.get("source") or {}).get("format")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.runstate-tmp")
    if fmt in ("csv", "tsv"):
        import pyarrow.csv as pacsv

        options = pacsv.WriteOptions(delimiter="\t" if fmt == "tsv" else ",")
        pacsv.write_csv(table, str(tmp), write_options=options)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, str(tmp))
    elif fmt == "ipc":
        import pyarrow.feather as feather

        feather.write_feather(table, str(tmp))
    else:  # jsonl
        with open(tmp, "w", encoding="utf-8") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps(row, default=str) + "\n")
    os.replace(tmp, target)
    if _table_fingerprint(target) != entry["fingerprint"]:
        notes.append(
            f"input {name!r} was rewritten from its snapshot as {fmt} but reads back with "
            "other values (the original file's bytes were not stored)"
        )


def _check_snapshot(objects: ObjectStore, entry: Mapping[str, Any]) -> None:
    """The snapshot's manifest (re-hashed) and dictionaries are in the store.

    Checked before anything runs, cheaply: walking every index node and leaf would cost
    about 5 ms per MB of table (~5 s for 1 GiB) on top of the read. The read itself
    re-hashes every node and leaf; a lost one is then reported by the child through
    :func:`runstate.capture.replayed.serve_table` and turned into the same error.
    """
    import blake3  # not runstate.data.snapshot: it imports NumPy (~0.3 s in a fresh CLI)

    name, snapshot_id = str(entry["name"]), str(entry["snapshot_id"])
    try:
        data = objects.get_bytes(snapshot_id)
    except ObjectMissing as exc:
        raise ObjectMissing(f"input {name!r}: its snapshot is missing ({exc})") from None
    if blake3.blake3(data).hexdigest() != snapshot_id:
        raise ReplayError(f"input {name!r}: its snapshot {snapshot_id} is corrupt")
    if data[:4] == b"PAR1":  # a snapshot from before runstate.snapshot/v1
        return
    try:
        manifest = json.loads(data)
    except ValueError:
        raise ReplayError(f"input {name!r}: object {snapshot_id} is not a snapshot") from None
    for _column, object_id, _size in manifest.get("dictionaries") or []:
        if not objects.has(str(object_id)):
            raise ObjectMissing(
                f"input {name!r}: object {object_id} of its snapshot is missing from the store"
            )


def _restore_reference(
    objects: ObjectStore, entry: Mapping[str, Any], project_root: Path
) -> dict[str, Any]:
    """Fetch a ``reference`` table from its external version, verify it, store it as a
    snapshot; the entry to serve (the recorded one plus that snapshot)."""
    from runstate.data.reference import ExternalVersion, restore_table
    from runstate.data.snapshot import write_snapshot
    from runstate.errors import RunstateError

    name = str(entry["name"])
    try:
        version = ExternalVersion.from_dict(entry["reference"])
        table = restore_table(version, str(project_root), str(entry["fingerprint"]))
    except (RunstateError, OSError) as exc:
        raise ReplayError(f"input {name!r}: {exc}") from None
    return {**entry, "snapshot_id": write_snapshot(objects, table).id}


def lay_out_inputs(
    objects: ObjectStore,
    inputs: Mapping[str, ServedInput],
    root: Path,
    project_root: Path | None = None,
) -> tuple[dict[str, ServedInput], list[str]]:
    """Lay out every replayable input under ``root`` (``project_root``: where the recorded
    project lives, for ``reference`` inputs); (inputs with their paths, notes)."""
    from dataclasses import replace

    served: dict[str, ServedInput] = {}
    notes: list[str] = []
    for name, item in sorted(inputs.items()):
        entry = item.entry
        kind = entry.get("kind")
        if kind == "table" and entry.get("retention") == "reference":
            entry = _restore_reference(objects, entry, project_root or root)
            item = replace(item, entry=entry)
            notes.append(f"input {name!r} fetched from its external version and verified")
        if kind == "table":
            _check_snapshot(objects, entry)
            if _is_table_file(entry) and not os.path.isabs(str(entry["path"])):
                target = _target(root, name, str(entry["path"]))
                _write_table_file(objects, entry, target, notes)
                served[name] = replace(item, served_path=str(target))
            else:
                served[name] = item
            continue
        target = _target(root, name, str(entry["path"]))
        if kind == "folder":
            _lay_out_folder(objects, entry, target)
        else:
            _copy_object(objects, str(entry["object_id"]), target, name)
        served[name] = replace(item, served_path=str(target))
    return served, notes
