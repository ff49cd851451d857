"""Diffing two runs: the :class:`StateDiff` of every component, output, metric and step.

``diff_runs(store, "latest~1", "latest")`` resolves both sides (see
:mod:`runstate.compare.resolve`), compares each state component (``config``, ``code``,
``env``, ``seeds``, ``policy``, ``data:<name>``, ``model:<name>``), each output
(``output:<name>``), the metrics and the steps, and returns a :class:`StateDiff` — falsy
when the two runs are identical. ``to_dict()`` is the ``runstate.diff/v1`` document
(docs/diff.md, docs/schemas/diff.schema.json).

What is compared is the recorded state, never the live files: a diff of two runs recorded
a year ago gives the same answer today.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runstate.compare.config import diff_config
from runstate.compare.data import diff_entry
from runstate.compare.env import diff_env
from runstate.compare.outputs import diff_metrics
from runstate.compare.resolve import Side, resolve_pair, resolve_side
from runstate.compare.seeds import diff_policy, diff_seeds
from runstate.compare.steps import diff_steps
from runstate.errors import RunstateError
from runstate.store.store import Store

__all__ = ["DIFF_SCHEMA", "ComponentDiff", "StateDiff", "diff_runs"]

DIFF_SCHEMA = "runstate.diff/v1"
_ORDER = ("config", "code", "env", "seeds", "policy", "data", "model", "output", "metrics", "steps")


@dataclass(frozen=True)
class ComponentDiff:
    """How one component differs; falsy when it does not."""

    name: str
    kind: str
    changed: bool
    status: str  # unchanged | changed | added | removed | missing
    id_a: str | None
    id_b: str | None
    missing: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.changed

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "changed": self.changed,
            "status": self.status,
            "ids": {"a": self.id_a, "b": self.id_b},
            "missing": self.missing,
            **self.details,
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ComponentDiff:
        common = ("kind", "changed", "status", "ids", "missing")
        return cls(
            name,
            str(data["kind"]),
            bool(data["changed"]),
            str(data["status"]),
            data["ids"]["a"],
            data["ids"]["b"],
            data.get("missing"),
            {k: v for k, v in data.items() if k not in common},
        )


@dataclass(frozen=True)
class StateDiff:
    """The diff of two runs; falsy when their states and outputs are identical.

    >>> d = runstate.diff("latest~1", "latest")          # doctest: +SKIP
    >>> bool(d), d.changed, d["config"].details["params"]  # doctest: +SKIP
    """

    a: Mapping[str, Any]
    b: Mapping[str, Any]
    components: Mapping[str, ComponentDiff]
    warnings: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    limit: int | None = 20

    @property
    def identical(self) -> bool:
        return not any(self.components.values()) and self.a["status"] == self.b["status"]

    def __bool__(self) -> bool:
        return not self.identical

    def __getitem__(self, name: str) -> ComponentDiff:
        return self.components[name]

    @property
    def changed(self) -> list[str]:
        """Names of the components that differ, in display order."""
        return [name for name, comp in self.components.items() if comp.changed]

    def summary(self) -> dict[str, Any]:
        sections: dict[str, dict[str, int]] = {}
        for comp in self.components.values():
            counts = sections.setdefault(comp.kind, {"changed": 0, "unchanged": 0})
            counts["changed" if comp.changed else "unchanged"] += 1
        changed = self.changed
        total = len(self.components)
        if self.identical:
            text = f"identical: {total} components compared, none differ"
        elif not changed:
            text = f"states and outputs equal; run status {self.a['status']} -> {self.b['status']}"
        else:
            text = f"{len(changed)} of {total} components differ: {', '.join(changed)}"
        return {
            "components": total,
            "changed": len(changed),
            "changed_components": changed,
            "sections": sections,
            "text": text,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": DIFF_SCHEMA,
            "identical": self.identical,
            "a": dict(self.a),
            "b": dict(self.b),
            "summary": self.summary(),
            "components": {name: comp.to_dict() for name, comp in self.components.items()},
            "warnings": list(self.warnings),
            "missing": list(self.missing),
            "limit": self.limit,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateDiff:
        if data.get("schema") != DIFF_SCHEMA:
            raise ValueError(f"not a {DIFF_SCHEMA} document")
        return cls(
            dict(data["a"]),
            dict(data["b"]),
            {n: ComponentDiff.from_dict(n, c) for n, c in data["components"].items()},
            tuple(data.get("warnings", ())),
            tuple(data.get("missing", ())),
            data.get("limit"),
        )


def _sort_key(name: str) -> tuple[int, str]:
    kind = name.partition(":")[0]
    return (_ORDER.index(kind) if kind in _ORDER else len(_ORDER), name)


def _body(store: Store, component_id: str | None) -> tuple[Mapping[str, Any] | None, str | None]:
    if component_id is None:
        return None, None
    try:
        body: Mapping[str, Any] = store.load_json(component_id)["body"]
        return body, None
    except (OSError, LookupError, ValueError, RunstateError) as exc:
        return None, f"component object {component_id[:12]} unreadable ({exc})"


def _entries(record: Mapping[str, Any], key: str) -> dict[str, Mapping[str, Any]]:
    return {str(e["name"]): e for e in record.get(key) or []}


class _Builder:
    def __init__(self, store: Store, a: Side, b: Side, limit: int | None) -> None:
        self.store, self.a, self.b, self.limit = store, a, b, limit
        self.components: dict[str, ComponentDiff] = {}
        self.warnings: list[str] = []
        self.missing: list[str] = []

    def _absent(self, name: str, side: Side) -> str | None:
        """Why ``name`` is absent from ``side`` when that side did not finish."""
        if side.record["status"] == "succeeded":
            return None
        label = "A" if side is self.a else "B"
        return f"run {label} {side.record['status']} before recording {name}"

    def add(
        self,
        name: str,
        kind: str,
        id_a: str | None,
        id_b: str | None,
        details: Mapping[str, Any],
        changed: bool,
        missing: str | None = None,
    ) -> None:
        if id_a is None and id_b is None and not changed:
            status = "unchanged"
        elif id_a is None and name not in ("metrics", "steps"):
            status, changed = "added", True
            missing = missing or self._absent(name, self.a)
        elif id_b is None and name not in ("metrics", "steps"):
            status, changed = "removed", True
            missing = missing or self._absent(name, self.b)
        else:
            status = "changed" if changed else "unchanged"
        if missing:
            self.missing.append(missing)
        self.components[name] = ComponentDiff(
            name, kind, changed, status, id_a, id_b, missing, details
        )

    def state_components(self) -> None:
        comps_a: Mapping[str, str] = self.a.record["state"]["components"]
        comps_b: Mapping[str, str] = self.b.record["state"]["components"]
        inputs_a = _entries(self.a.record, "inputs")
        inputs_b = _entries(self.b.record, "inputs")
        for name in sorted(comps_a.keys() | comps_b.keys(), key=_sort_key):
            kind, _, sub = name.partition(":")
            id_a, id_b = comps_a.get(name), comps_b.get(name)
            if kind in ("data", "model"):
                label = name
                details, changed, missing, warnings = diff_entry(
                    self.store.objects, label, inputs_a.get(sub), inputs_b.get(sub), self.limit
                )
                self.warnings.extend(warnings)
                self.add(name, kind, id_a, id_b, details, changed or id_a != id_b, missing)
                continue
            same = id_a == id_b
            body_a, err_a = (None, None) if same else _body(self.store, id_a)
            body_b, err_b = (None, None) if same else _body(self.store, id_b)
            missing = err_a or err_b
            if kind == "config":
                details = diff_config(body_a, body_b)
            elif kind == "env":
                details = diff_env(body_a, body_b)
            elif kind == "code":
                from runstate.compare.code import diff_code

                details = diff_code(self.store.objects, body_a, body_b, self.limit)
            elif kind == "seeds":
                details = diff_seeds(body_a, body_b)
            else:
                details = diff_policy(body_a, body_b, self.store.objects)
            self.add(name, kind, id_a, id_b, details, not same, missing)

    def outputs(self) -> None:
        out_a = _entries(self.a.record, "outputs")
        out_b = _entries(self.b.record, "outputs")
        for sub in sorted(out_a.keys() | out_b.keys()):
            name = f"output:{sub}"
            ea, eb = out_a.get(sub), out_b.get(sub)
            details, changed, missing, warnings = diff_entry(
                self.store.objects, name, ea, eb, self.limit
            )
            self.warnings.extend(warnings)
            self.add(
                name,
                "output",
                None if ea is None else str(ea.get("fingerprint")),
                None if eb is None else str(eb.get("fingerprint")),
                details,
                changed,
                missing,
            )

    def metrics_and_steps(self) -> None:
        ma, mb = self.a.record.get("metrics") or [], self.b.record.get("metrics") or []
        if ma or mb:
            metrics, changed = diff_metrics(ma, mb)
            self.add("metrics", "metrics", None, None, {"metrics": metrics}, changed)
        sa, sb = self.a.record.get("steps") or [], self.b.record.get("steps") or []
        if sa or sb:
            details, changed = diff_steps(sa, sb)
            self.add("steps", "steps", None, None, details, changed)

    def run_warnings(self) -> None:
        ra, rb = self.a.record, self.b.record
        if ra["id"] == rb["id"]:
            self.warnings.append("A and B are the same run")
        if ra["name"] != rb["name"]:
            self.warnings.append(
                f"comparing runs of different names: {ra['name']!r} and {rb['name']!r}"
            )
        for label, record in (("A", ra), ("B", rb)):
            if record["status"] != "succeeded":
                why = f": {record['error']}" if record.get("error") else ""
                self.warnings.append(
                    f"run {label} {record['status']}{why}; comparing what it recorded"
                )


def diff_runs(
    store: Store,
    a: str | Side,
    b: str | Side | None = None,
    *,
    name: str | None = None,
    limit: int | None = 20,
) -> StateDiff:
    """Diff two runs (run ids, prefixes, ``NAME@vN``, aliases, ``latest~K``).

    With ``b`` None, ``a`` is compared with its baseline: the ``production`` alias's run,
    else the previous run of the same name. ``limit`` caps sampled rows, cells and files per
    list (None: all).
    """
    if limit is not None and limit < 0:
        from runstate.errors import UsageError

        raise UsageError(f"limit must be >= 0, not {limit}")
    if isinstance(a, Side) and isinstance(b, Side):
        side_a, side_b = a, b
    elif isinstance(a, str) and (b is None or isinstance(b, str)):
        side_a, side_b = resolve_pair(store, a, b, name)
    else:
        side_a = a if isinstance(a, Side) else resolve_side(store, a, name)
        assert b is not None
        side_b = b if isinstance(b, Side) else resolve_side(store, b, name)
    builder = _Builder(store, side_a, side_b, limit)
    builder.run_warnings()
    builder.state_components()
    builder.outputs()
    builder.metrics_and_steps()
    if side_a.record["status"] != side_b.record["status"] and not any(builder.components.values()):
        builder.warnings.append("the recorded state and outputs are equal; only the status differs")
    return StateDiff(
        side_a.summary(),
        side_b.summary(),
        builder.components,
        tuple(dict.fromkeys(builder.warnings)),
        tuple(dict.fromkeys(builder.missing)),
        limit,
    )
