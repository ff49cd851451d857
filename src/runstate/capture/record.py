"""Assembling a run: components from captured parts, and the run record that binds them.

Both ways of capturing a run (the Python API and the ``runstate run`` launcher) end here, so
a run recorded either way has the same shape. The record (``runstate.run-record/v1``, see
docs/schemas/run-record.schema.json) is stored as a canonical-JSON object and committed
through the journal; the database rows are an index over it.

Order matters for the no-data-loss promise: every blob and component object is written
before the record that names them, and the record before the journal entry that commits it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from runstate.data.files import PathFingerprint, fingerprint_path
from runstate.data.statcache import StatCache
from runstate.data.tablecapture import TableEntry
from runstate.errors import UsageError
from runstate.state.canonical import canonical_bytes
from runstate.state.code import CodeCapture
from runstate.state.host import current_host, current_user
from runstate.state.model import Component, ExecutionState
from runstate.state.redact import redact_params
from runstate.store.store import Store

__all__ = [
    "RECORD_SCHEMA",
    "Entry",
    "IOEntry",
    "StepRecord",
    "check_params",
    "compose_state",
    "current_host",
    "current_user",
    "entry_from_dict",
    "metric_value",
    "relative_path",
]

RECORD_SCHEMA = "runstate.run-record/v1"
ROLES = ("data", "model", "file")


def relative_path(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """Posix path relative to the project root, or absolute when outside it; a remote URL
    (``s3://…``) as it is."""
    text = os.fspath(path)
    if "://" in text:
        from runstate.data.remote import is_remote_url

        if is_remote_url(text):
            return text
    absolute = os.path.abspath(text)
    root_text = os.path.abspath(os.fspath(root))
    if absolute == root_text or absolute.startswith(root_text + os.sep):
        return os.path.relpath(absolute, root_text).replace(os.sep, "/")
    return absolute


def check_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Params must be canonical-JSON values; a bad one is named in the error."""
    checked: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if not isinstance(key, str):
            raise UsageError(f"param {key!r}: names must be strings")
        try:
            canonical_bytes(value)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"param {key!r}: {exc}") from None
        checked[key] = value
    return checked


def metric_value(key: str, value: Any) -> float | str:
    """Metrics are numbers; non-finite ones are kept as the strings NaN/Infinity/-Infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"metric {key!r}: {value!r} is not a number") from None
    number = float(value)
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    return number


@dataclass(frozen=True)
class IOEntry:
    """One declared or detected input/output file or folder of a run."""

    name: str
    path: str
    role: str
    fingerprint: PathFingerprint
    step: str | None = None

    @property
    def digest(self) -> str:
        return self.fingerprint.fingerprint

    def component_body(self) -> dict[str, Any]:
        return {"path": self.path, **self.fingerprint.to_dict()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "role": self.role,
            "step": self.step,
            **self.fingerprint.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IOEntry:
        return cls(
            str(data["name"]),
            str(data["path"]),
            str(data.get("role", "file")),
            PathFingerprint.from_dict(dict(data)),
            data.get("step"),
        )

    @classmethod
    def capture(
        cls,
        store: Store,
        name: str,
        path: str | os.PathLike[str],
        *,
        role: str = "data",
        retention: str = "full",
        step: str | None = None,
        cache: StatCache | None = None,
    ) -> IOEntry:
        if role not in ROLES:
            raise UsageError(f"input {name!r}: role must be one of {', '.join(ROLES)}")
        fingerprint = fingerprint_path(path, store.objects, cache, retention)
        return cls(name, relative_path(path, store.project_root), role, fingerprint, step)


#: A recorded input or output: a file/folder (:class:`IOEntry`) or a table (``TableEntry``).
Entry: TypeAlias = "IOEntry | TableEntry"


def entry_from_dict(data: Mapping[str, Any]) -> Entry:
    if data.get("kind") == "table":
        return TableEntry.from_dict(data)
    return IOEntry.from_dict(data)


@dataclass
class StepRecord:
    """A named stage of a run, with the fingerprints it read and wrote."""

    name: str
    code_hash: str | None
    started_at: str
    ended_at: str = ""
    duration_ms: int = 0
    status: str = "running"
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "code_hash": self.code_hash,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_ms": self.duration_ms,
            "status": self.status,
            "inputs": dict(sorted(self.inputs.items())),
            "outputs": dict(sorted(self.outputs.items())),
        }


def compose_state(
    store: Store,
    *,
    env: Mapping[str, Any],
    code: CodeCapture,
    params: Mapping[str, Any],
    config_files: Sequence[IOEntry],
    seeds: Mapping[str, Any],
    inputs: Iterable[Entry],
    policy: Mapping[str, Any] | None = None,
) -> tuple[ExecutionState, list[Component]]:
    """Build and store every component of a run; return its state and the components.

    ``policy`` is the body of the ``policy`` component (``runstate.policy-effect/v1``, see
    :mod:`runstate.policy.effect`); None: the run had no policy and no principal/purpose.
    """
    for blob in code.blobs.values():
        store.objects.put_bytes(blob)
    components = [
        Component("env", dict(env)),
        Component("code", dict(code.manifest)),
        Component(
            "config",
            {
                "params": redact_params(params),
                "files": {entry.path: entry.digest for entry in config_files},
            },
        ),
        Component("seeds", dict(seeds)),
    ]
    if policy is not None:
        components.append(Component("policy", dict(policy)))
    for entry in inputs:
        if entry.role in ("data", "model"):
            components.append(Component(f"{entry.role}:{entry.name}", entry.component_body()))
    names = [component.name for component in components]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"input names must be unique within a run: {', '.join(duplicates)}")
    for component in components:
        store.objects.put_bytes(component.canonical())
    return ExecutionState.of(components), components
