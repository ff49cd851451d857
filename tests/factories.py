"""Builders of realistic run records for store-level tests (the shape capture produces)."""

from __future__ import annotations

from typing import Any

from runstate.state.ids import uuid7
from runstate.state.model import Component, ExecutionState
from runstate.store.store import Store, utc_now


def make_record(
    store: Store | None = None,
    *,
    name: str = "score",
    status: str = "succeeded",
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A run record whose components (and, with ``store``, their objects) exist."""
    components = [
        Component("config", {"params": params or {"threshold": 0.5}, "files": {}}),
        Component(
            "env", {"python": {"version": "3.11.7"}, "packages": {"numpy": {"version": "2.0.0"}}}
        ),
        Component(
            "seeds", {"seed": 7, "applied": ["random"], "pythonhashseed": None, "determinism": {}}
        ),
    ]
    if store is not None:
        for component in components:
            store.objects.put_bytes(component.canonical())
    state = ExecutionState.of(components)
    now = utc_now()
    return {
        "schema": "runstate.run-record/v1",
        "id": uuid7(),
        "name": name,
        "kind": "api",
        "parent_id": None,
        "status": status,
        "exit_code": None,
        "error": None,
        "command": ["python", "score.py"],
        "cwd": ".",
        "started_at": now,
        "ended_at": now,
        "duration_ms": 12,
        "host": "test-host",
        "user": "tester",
        "pid": 1,
        "state": state.to_dict(),
        "inputs": [],
        "outputs": [],
        "config_files": [],
        "metrics": [
            {"key": k, "value": v, "step": None} for k, v in (metrics or {"auc": 0.9}).items()
        ],
        "steps": [
            {
                "name": "features",
                "code_hash": "cd" * 32,
                "started_at": now,
                "ended_at": now,
                "duration_ms": 3,
                "status": "succeeded",
                "inputs": {},
                "outputs": {},
            }
        ],
        "stderr_tail": None,
    }
