"""Inside a replay: what the Run API serves instead of the live world.

``runstate replay`` starts the recorded command with ``RUNSTATE_REPLAY_MANIFEST`` naming a
JSON replay manifest (``runstate.replay-manifest/v1``, written by
:mod:`runstate.replay.manifest`). In that process the Run API asks this module:

* :func:`attach` — the run's project root is the sandbox (so recorded paths stay relative
  to it), and the params and seed are the recorded ones (over the code's defaults);
* :func:`serve_table` — ``run.read_table(name, …)`` returns the recorded snapshot of input
  ``name`` (rows, order and schema exactly as recorded) instead of reading the live source,
  and records the recorded entry (its fingerprint is the snapshot's, verified on read);
* :func:`input_path` — ``run.input(name, path)`` gets the path where the recorded bytes of
  input ``name`` were laid out in the sandbox;
* :func:`recorded_policy` — the run reads under the *recorded* access policy (the
  manifest's ``policy`` component: its document, principal, purpose and effect), not the
  store's current one: served inputs are already what that policy let through, so they are
  not filtered again, and the replay records the original ``policy`` component.

An input the manifest does not name (new code reading a new input, in a hybrid state) is
read live, as outside a replay. This module imports only :mod:`os` and :mod:`json` at
module level: it is imported by ``runstate.capture.run`` on every ``import runstate``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runstate.capture.run import Run
    from runstate.data.tablecapture import TableEntry
    from runstate.store.store import Store

__all__ = [
    "ACTIVE",
    "MANIFEST_ENV",
    "attach",
    "input_path",
    "manifest",
    "recorded_policy",
    "serve_table",
]

MANIFEST_ENV = "RUNSTATE_REPLAY_MANIFEST"
ACTIVE = bool(os.environ.get(MANIFEST_ENV))
_loaded: dict[str, Any] | None = None


def manifest() -> dict[str, Any] | None:
    """The replay manifest of this process (read once), or None outside a replay."""
    global _loaded
    path = os.environ.get(MANIFEST_ENV)
    if not path:
        return None
    if _loaded is None or _loaded.get("_path") != path:
        with open(path, "rb") as handle:
            document = json.load(handle)
        if document.get("schema") != "runstate.replay-manifest/v1":
            from runstate.errors import UsageError

            raise UsageError(f"{MANIFEST_ENV}={path}: not a runstate.replay-manifest/v1 document")
        document["_path"] = path
        _loaded = document
    return _loaded


def attach(run: Run) -> None:
    """Point a starting run at the sandbox and give it the recorded params and seed."""
    document = manifest()
    if document is None:
        return
    from pathlib import Path

    run.store.project_root = Path(document["project_root"])
    run._params.update(document.get("params") or {})
    if document.get("seed") is not None:
        run.seed = int(document["seed"])


def recorded_policy(store: Store) -> Any:
    """The :class:`~runstate.policy.context.ActivePolicy` of the replayed run (None: it had
    no ``policy`` component). Only meaningful when :func:`manifest` is not None."""
    document = manifest()
    body = None if document is None else document.get("policy")
    if not body:
        return None
    from runstate.policy.context import ActivePolicy

    return ActivePolicy.from_recorded(store, body)


def _served(name: str) -> dict[str, Any] | None:
    document = manifest()
    if document is None:
        return None
    served: dict[str, Any] | None = (document.get("inputs") or {}).get(name)
    return served


def serve_table(store: Store, name: str, step: str | None) -> tuple[TableEntry, Any, str] | None:
    """(recorded entry, Arrow table from its snapshot, flavour) for table input ``name``."""
    served = _served(name)
    if served is None or served["entry"].get("kind") != "table":
        return None
    from dataclasses import replace

    from runstate.data.snapshot import read_snapshot
    from runstate.data.tablecapture import TableEntry

    entry = replace(TableEntry.from_dict(served["entry"]), step=step)
    if not entry.snapshot_id:
        from runstate.errors import UsageError

        raise UsageError(f"input {name!r}: no snapshot was recorded (retention fingerprint)")
    try:
        table = read_snapshot(store.objects, entry.snapshot_id)
    except Exception as exc:  # a lost or corrupt object: tell `runstate replay` which input
        _report_problem(name, f"its snapshot cannot be read: {exc}")
        raise
    flavour = str(entry.source.get("flavour") or "pandas")
    return entry, table, flavour


PROBLEM_FILE = "replay-problem.json"


def _report_problem(name: str, problem: str) -> None:
    """Leave ``{"input", "problem"}`` beside the manifest for the replaying process."""
    path = os.environ.get(MANIFEST_ENV)
    if not path:
        return
    target = os.path.join(os.path.dirname(path), PROBLEM_FILE)
    try:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump({"input": name, "problem": problem}, handle)
    except OSError:
        pass


def input_path(name: str, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """Where the recorded bytes of file/folder input ``name`` were laid out, else ``path``."""
    served = _served(name)
    if served is None or not served.get("served_path"):
        return path
    return str(served["served_path"])
