"""Checks attached to a run: ``runstate run --against RELEASE -- CMD``.

A run that names a baseline is checked against it as soon as it is recorded, and the result
is kept with the run. Run records are immutable once committed, so the result is stored
beside them: the check document (``runstate.check/v1``) as an object, and a small link file
``<store>/checks/<run id>.json`` (written atomically) naming it — a root for ``gc`` and
``verify``, and what ``runstate show`` reads.

The exit status of ``runstate run --against`` is the command's own when it failed (non-zero),
else 1 when a check failed, else 0: a failing job is never reported as a check failure, and a
check failure is never hidden behind a successful job.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from runstate.store.atomic import atomic_write_bytes

if TYPE_CHECKING:
    from runstate.monitor.result import CheckResult
    from runstate.store.store import Store

__all__ = ["LINK_SCHEMA", "attached_checks", "check_and_attach", "exit_status", "link_path"]

LINK_SCHEMA = "runstate.check-link/v1"


def link_path(store: Store, run_id: str) -> str:
    return os.path.join(store.root, "checks", f"{run_id}.json")


def check_and_attach(store: Store, run_id: str, against: str) -> CheckResult:
    """Check run ``run_id`` against release ``against`` and keep the result with the run."""
    from runstate.monitor.engine import check_run

    result = check_run(store, run_id, against)
    document = result.to_dict()
    object_id = store.objects.put_bytes(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    )
    link = {
        "schema": LINK_SCHEMA,
        "run_id": run_id,
        "against": document["release"]["ref"],
        "passed": bool(result.passed),
        "check_id": object_id,
    }
    atomic_write_bytes(link_path(store, run_id), json.dumps(link, sort_keys=True).encode())
    return result


def attached_checks(store: Store, run_id: str) -> dict[str, Any] | None:
    """The link of the check attached to ``run_id``, or None."""
    try:
        with open(link_path(store, run_id), "rb") as handle:
            link: dict[str, Any] = json.loads(handle.read())
    except FileNotFoundError:
        return None
    return link


def exit_status(command_status: int, checks_passed: bool) -> int:
    """The command's own failure first, then a failed check (1), else 0."""
    if command_status != 0:
        return command_status
    return 0 if checks_passed else 1
