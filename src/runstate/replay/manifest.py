"""The replay manifest: which recorded state a replay re-creates, component by component.

A replay re-creates an execution state from recorded runs. Which run each *component* comes
from is a choice (:class:`Sources`): a plain replay takes every component from one run; the
explain work builds HYBRID states — the baseline run with one component (``code``,
``config``, ``seeds``, ``env``, ``data:<name>``, ``model:<name>``) switched to another run's
— with the same machinery. From the chosen sources :func:`build_manifest` makes a
:class:`ReplayManifest` (``runstate.replay-manifest/v1``), written as JSON into the sandbox
and handed to the child process through ``RUNSTATE_REPLAY_MANIFEST``
(:mod:`runstate.capture.replayed` reads it there):

* ``command``/``cwd`` — from the ``code`` source (what was run, and where);
* ``params`` — from the ``config`` source's component (secret-looking params were never
  stored: such a run is not replayable, and the reason names the param);
* ``seed`` and ``pythonhashseed`` — from the ``seeds`` source's component;
* ``policy`` — the ``policy`` source's component: the replay reads under that recorded
  policy (document, principal, purpose) and records it, whatever the store's current
  policy is (:func:`runstate.capture.replayed.recorded_policy`);
* ``inputs`` — per input name, the recorded entry to serve and the run it comes from (a
  ``data:<name>`` / ``model:<name>`` source), plus where it was laid out in the sandbox.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runstate.store.atomic import atomic_write_bytes
from runstate.store.store import Store

__all__ = [
    "MANIFEST_ENV",
    "MANIFEST_SCHEMA",
    "ReplayManifest",
    "ServedInput",
    "Sources",
    "build_manifest",
    "input_component",
]

MANIFEST_SCHEMA = "runstate.replay-manifest/v1"
MANIFEST_ENV = "RUNSTATE_REPLAY_MANIFEST"
REDACTED = "<redacted>"


def input_component(entry: Mapping[str, Any]) -> str:
    """The state component an input entry belongs to: ``data:<name>`` or ``model:<name>``."""
    role = "model" if entry.get("role") == "model" else "data"
    return f"{role}:{entry['name']}"


@dataclass(frozen=True)
class Sources:
    """Which recorded run each component of the replayed state comes from.

    ``base`` supplies every component not named in ``overrides``; an override maps a
    component name (``"code"``, ``"config"``, ``"seeds"``, ``"env"``, ``"data:customers"``)
    to the record of the run whose component to use instead.
    """

    base: Mapping[str, Any]
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Finer hybrids (``runstate.explain``): project files written over the restored code
    #: (project-relative path -> object id of the bytes; None deletes the file) ...
    code_files: Mapping[str, str | None] = field(default_factory=dict)
    #: ... and the params to use instead of the ``config`` source's (None: the source's).
    params: Mapping[str, Any] | None = None

    def record_for(self, component: str) -> Mapping[str, Any]:
        return self.overrides.get(component, self.base)

    def run_for(self, component: str) -> str:
        return str(self.record_for(component)["id"])

    def input_entries(self) -> dict[str, dict[str, Any]]:
        """Input entries by name: the base run's, each replaced or added by its override."""
        entries = {str(e["name"]): dict(e) for e in self.base.get("inputs", [])}
        for component, record in self.overrides.items():
            if not component.startswith(("data:", "model:")):
                continue
            name = component.partition(":")[2]
            found = [e for e in record.get("inputs", []) if e["name"] == name]
            if found:
                entries[name] = dict(found[0])
            else:  # the other run did not read it: the hybrid state lacks it too
                entries.pop(name, None)
        return entries


@dataclass(frozen=True)
class ServedInput:
    """One recorded input served in the replay."""

    name: str
    source_run: str
    entry: dict[str, Any]
    served_path: str | None = None  # laid out here in the sandbox (files and folders)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source_run": self.source_run,
            "entry": self.entry,
            "served_path": self.served_path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServedInput:
        return cls(
            str(data["name"]), str(data["source_run"]), dict(data["entry"]), data.get("served_path")
        )


@dataclass(frozen=True)
class ReplayManifest:
    """What the replayed process is given; see the module docstring."""

    replay_of: str
    name: str
    kind: str  # the original run's kind: "api" (argv of a script) or "command"
    command: list[str]
    cwd: str
    project_root: str
    params: dict[str, Any]
    seed: int | None
    pythonhashseed: str | None
    sources: dict[str, str]  # component name -> id of the run it comes from
    inputs: dict[str, ServedInput]
    policy: dict[str, Any] | None = None  # the recorded policy component (principal, purpose)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": MANIFEST_SCHEMA,
            "replay_of": self.replay_of,
            "name": self.name,
            "kind": self.kind,
            "command": list(self.command),
            "cwd": self.cwd,
            "project_root": self.project_root,
            "params": self.params,
            "seed": self.seed,
            "pythonhashseed": self.pythonhashseed,
            "sources": dict(sorted(self.sources.items())),
            "inputs": {name: served.to_dict() for name, served in sorted(self.inputs.items())},
            "policy": self.policy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplayManifest:
        return cls(
            replay_of=str(data["replay_of"]),
            name=str(data["name"]),
            kind=str(data["kind"]),
            command=[str(a) for a in data["command"]],
            cwd=str(data["cwd"]),
            project_root=str(data["project_root"]),
            params=dict(data.get("params") or {}),
            seed=data.get("seed"),
            pythonhashseed=data.get("pythonhashseed"),
            sources=dict(data.get("sources") or {}),
            inputs={k: ServedInput.from_dict(v) for k, v in (data.get("inputs") or {}).items()},
            policy=data.get("policy"),
        )

    def with_inputs(self, inputs: Mapping[str, ServedInput]) -> ReplayManifest:
        from dataclasses import replace

        return replace(self, inputs=dict(inputs))

    def write(self, path: str | os.PathLike[str]) -> None:
        atomic_write_bytes(path, json.dumps(self.to_dict(), indent=1, sort_keys=True).encode())

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> ReplayManifest:
        with open(path, "rb") as handle:
            return cls.from_dict(json.load(handle))


def _component_body(store: Store, record: Mapping[str, Any], name: str) -> dict[str, Any]:
    component_id = record["state"]["components"].get(name)
    if component_id is None:
        return {}
    body: dict[str, Any] = store.load_json(component_id)["body"]
    return body


def build_manifest(store: Store, sources: Sources, project_root: str) -> ReplayManifest:
    """The manifest of the state ``sources`` describe (inputs not yet laid out)."""
    code_record = sources.record_for("code")
    config = _component_body(store, sources.record_for("config"), "config")
    seeds = _component_body(store, sources.record_for("seeds"), "seeds")
    entries = sources.input_entries()
    component_names = {"code", "config", "seeds", "env", "policy"} | {
        input_component(e) for e in entries.values()
    }
    return ReplayManifest(
        replay_of=str(sources.base["id"]),
        name=str(sources.base["name"]),
        kind=str(code_record.get("kind") or "command"),
        command=[str(a) for a in code_record.get("command") or []],
        cwd=str(code_record.get("cwd") or "."),
        project_root=project_root,
        params=dict(config.get("params") or {}) if sources.params is None else dict(sources.params),
        seed=seeds.get("seed"),
        pythonhashseed=seeds.get("pythonhashseed"),
        sources={name: sources.run_for(name) for name in component_names},
        inputs={
            name: ServedInput(name, sources.run_for(input_component(entry)), entry)
            for name, entry in entries.items()
        },
        policy=_component_body(store, sources.record_for("policy"), "policy") or None,
    )


def redacted_params(manifest: ReplayManifest) -> list[str]:
    """Params whose value was a secret (never stored): a replay cannot restore them."""
    return sorted(k for k, v in manifest.params.items() if v == REDACTED)
