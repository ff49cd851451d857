"""Factors: the state changes between runs A and B that ``explain`` can switch one by one.

A factor is the smallest change a hybrid state can take from B while keeping the rest of A:

* ``data:<name>`` / ``model:<name>`` — one input (B's recorded snapshot served instead of A's);
* ``policy`` — the access policy (B's recorded policy component; the rows it let through are
  B's snapshots, so an input whose change is *entirely* the policy's doing — same rows
  before the filter, row counts moved by exactly the excluded rows — is switched with it
  and not listed as a factor of its own);
* ``code:<path>`` — one changed project file (B's bytes written over A's restored sources);
  ``code`` as a whole when the code component differs but no imported file does (e.g. the
  command line);
* ``config:<key>`` — one changed param (dotted key; B's value, or removed), and
  ``config:files`` for the config files the run read;
* ``seeds`` — the seed and ``PYTHONHASHSEED``;
* ``env:python`` / ``env:package:<name>`` — only switchable with ``--env exact`` (a
  rebuilt environment); with ``--env current`` they are listed as *untestable*.

Environment settings that no replay can change (host, CPU, variables) are not factors;
they are noted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runstate.compare.changes import flatten

if TYPE_CHECKING:
    from runstate.compare.state import StateDiff

__all__ = ["Factor", "apply_params", "find_factors", "select_factors"]

_MISSING = {"__runstate_missing__": True}


@dataclass(frozen=True)
class Factor:
    """One switchable difference between A and B."""

    name: str
    kind: str  # data | model | policy | code | config | seeds | env
    section: str  # the diff component that shows it ("code", "config", "data:customers")
    summary: str  # one line: what changed
    components: tuple[str, ...] = ()  # whole components taken from B
    code_files: Mapping[str, str | None] = field(default_factory=dict)  # path -> B's blob
    params: Mapping[str, Any] = field(default_factory=dict)  # dotted key -> B's value
    testable: bool = True
    reason: str | None = None  # why not testable

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "section": self.section,
            "summary": self.summary,
            "components": list(self.components),
            "testable": self.testable,
            "reason": self.reason,
        }


def apply_params(params_a: Mapping[str, Any], chosen: Mapping[str, Any]) -> dict[str, Any]:
    """A's params with each dotted key in ``chosen`` set to B's value (or removed)."""
    import copy

    out: dict[str, Any] = copy.deepcopy(dict(params_a))
    for dotted, value in sorted(chosen.items()):
        if dotted in out or "." not in dotted:  # a flat key (possibly containing dots)
            if value == _MISSING:
                out.pop(dotted, None)
            else:
                out[dotted] = copy.deepcopy(value)
            continue
        parts = dotted.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        if value == _MISSING:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = copy.deepcopy(value)
    return out


def _short(value: Any) -> str:
    text = value if isinstance(value, str) and " " in value else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _data_summary(name: str, details: Mapping[str, Any], status: str) -> str:
    if status in ("added", "removed"):
        return f"input {name} {'only in B' if status == 'added' else 'only in A'}"
    rows = ((details.get("diff") or {}).get("rows")) or details.get("rows") or {}
    if isinstance(rows, Mapping) and "rows_a" in rows:
        parts = [f"{rows['rows_a']} -> {rows['rows_b']} rows"]
        for label, sign in (("removed", "-"), ("added", "+"), ("changed", "~")):
            if rows.get(label):
                parts.append(f"{sign}{rows[label]} {label}")
        return f"{name}: " + ", ".join(parts)
    return f"{name}: content changed"


def _table_rows(details: Mapping[str, Any]) -> Mapping[str, Any]:
    rows = ((details.get("diff") or {}).get("rows")) or details.get("rows") or {}
    return rows if isinstance(rows, Mapping) else {}


def _policy_datasets(diff: StateDiff, store: Any) -> tuple[list[str], str]:
    """Inputs whose change is the policy's doing (see the module docstring), and a summary."""
    comp = diff.components.get("policy")
    if comp is None or not comp.changed:
        return [], ""
    bodies = []
    for component_id in (comp.id_a, comp.id_b):
        try:
            bodies.append(store.load_json(component_id)["body"] if component_id else {})
        except Exception:
            bodies.append({})
    a, b = bodies
    merged, notes = [], []
    for name, effect_b in sorted((b.get("datasets") or {}).items()):
        effect_a = (a.get("datasets") or {}).get(name) or {}
        data = diff.components.get(f"data:{name}")
        excluded_b = int(((effect_b.get("excluded") or {}).get("count")) or 0)
        excluded_a = int(((effect_a.get("excluded") or {}).get("count")) or 0)
        if excluded_a != excluded_b:
            notes.append(f"{name}: {excluded_a} -> {excluded_b} rows excluded")
        if data is None or not data.changed:
            continue
        rows = _table_rows(data.details)
        same_before = effect_a.get("rows_before") == effect_b.get("rows_before")
        moved = int(rows.get("removed") or 0) - int(rows.get("added") or 0)
        if same_before and not rows.get("changed") and moved == excluded_b - excluded_a:
            merged.append(f"data:{name}")

    def version(body: Mapping[str, Any]) -> Any:
        return (body.get("policy") or {}).get("version")

    head = f"policy v{version(a)} -> v{version(b)}" if version(a) != version(b) else ""
    parts = [*_rule_texts(comp.details), *([head] if head else []), *notes]
    return merged, "; ".join(parts) or "policy"


def _rule_texts(details: Mapping[str, Any]) -> list[str]:
    """Each changed rule, by the dataset it decided, with the share of rows it excludes
    in B: "rule for dataset `customers` now filters `region <> 'EU'` (excludes 2.1% of
    rows)" (from the diff's policy details, see runstate.compare.seeds.diff_policy)."""
    effects = {str(d["dataset"]): d for d in details.get("datasets") or []}
    texts = []
    for rule in details.get("rules") or []:
        names: list[str | None] = [str(d["dataset"]) for d in rule.get("datasets") or []]
        for name in names or [None]:
            target = f"rule for dataset `{name}`" if name else f"rule `{rule['rule']}`"
            row_filter = rule.get("row_filter") or {}
            if rule["change"] == "removed":
                what = "removed"
            elif row_filter.get("b"):
                what = f"now filters `{row_filter['b']}`"
            elif rule.get("row_filter"):
                what = f"no longer filters rows (was `{row_filter.get('a')}`)"
            elif rule.get("columns"):
                what = "now " + ", ".join(
                    f"{column}: {v.get('b') or 'no rule'}" for column, v in rule["columns"].items()
                )
            else:
                what = "readers changed" if rule.get("readers") else str(rule["change"])
            effect = effects.get(name or "") or {}
            rows = (effect.get("rows") or {}).get("b")
            excluded = (effect.get("excluded") or {}).get("b")
            share = ""
            if rows and excluded is not None:
                x = int(excluded) / int(rows)
                share = f" (excludes {100 * x:.1f}% of rows)"
            texts.append(f"{target} {what}{share}")
    return texts


def find_factors(
    store: Any, diff: StateDiff, env_mode: str = "current"
) -> tuple[list[Factor], list[str]]:
    """The factors of ``diff`` (A -> B) and notes on differences that are not factors."""
    factors: list[Factor] = []
    notes: list[str] = []
    merged, policy_summary = _policy_datasets(diff, store)
    for name, comp in diff.components.items():
        if not comp.changed:
            continue
        kind = comp.kind
        if kind in ("data", "model"):
            if name in merged:
                continue
            factors.append(
                Factor(name, kind, name, _data_summary(name, comp.details, comp.status), (name,))
            )
        elif kind == "policy":
            factors.append(
                Factor("policy", "policy", "policy", policy_summary, ("policy", *merged))
            )
        elif kind == "seeds":
            changes = comp.details.get("changes") or []
            text = ", ".join(
                f"{c['key']} {_short(c['old'])} -> {_short(c['new'])}" for c in changes
            )
            factors.append(Factor("seeds", "seeds", "seeds", f"seeds: {text}", ("seeds",)))
        elif kind == "config":
            for change in comp.details.get("params") or []:
                key = str(change["key"])
                value = _MISSING if change["change"] == "removed" else change["new"]
                factors.append(
                    Factor(
                        f"config:{key}",
                        "config",
                        "config",
                        f"param {key}: {_short(change['old'])} -> {_short(change['new'])}",
                        params={key: value},
                    )
                )
            files = comp.details.get("files") or []
            if files:
                factors.append(
                    Factor(
                        "config:files",
                        "config",
                        "config",
                        "config files: " + ", ".join(str(f["key"]) for f in files),
                        ("config",),
                    )
                )
        elif kind == "code":
            factors.extend(_code_factors(store, comp))
        elif kind == "env":
            env_factors, env_notes = _env_factors(comp.details, env_mode)
            factors.extend(env_factors)
            notes.extend(env_notes)
    return factors, notes


def _code_factors(store: Any, comp: Any) -> list[Factor]:
    from runstate.compare.code import _files

    bodies = [store.load_json(i)["body"] if i else {} for i in (comp.id_a, comp.id_b)]
    files_a, files_b = _files(bodies[0]), _files(bodies[1])
    changed = sorted(p for p in files_a.keys() | files_b.keys() if files_a.get(p) != files_b.get(p))
    shown = {f["path"]: f for f in comp.details.get("files") or []}
    symbols = {path: f.get("symbols") or [] for path, f in shown.items()}
    out = []
    for path in changed:
        names = [f"{s['name']}() {s['change']}" for s in symbols.get(path, [])]
        change = "added" if path not in files_a else "removed" if path not in files_b else "edited"
        lines = shown.get(path) or {}
        counted = (
            f" (+{lines.get('lines_added', 0)} -{lines.get('lines_removed', 0)} lines)"
            if lines.get("diff")
            else ""
        )
        text = f"{path} {change}{counted}" + (f": {', '.join(names[:3])}" if names else "")
        if not names and lines.get("diff"):
            text += _one_line_change(str(lines["diff"]))
        out.append(
            Factor(f"code:{path}", "code", "code", text, code_files={path: files_b.get(path)})
        )
    if not out:
        git = comp.details.get("git") or []
        what = ", ".join(str(c["key"]) for c in git) or "code component"
        out.append(Factor("code", "code", "code", f"code: {what} changed", ("code",)))
    return out


def _one_line_change(diff: str) -> str:
    """``: AGE_MAX = 75 -> AGE_MAX = 65`` when a diff changes one line (comments dropped)."""
    removed = [
        ln[1:] for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")
    ]
    added = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    if len(removed) != 1 or len(added) != 1:
        return ""
    old, new = (line.split("#", 1)[0].strip() for line in (removed[0], added[0]))
    if not old or not new or old == new:
        return ""
    if len(old) > 60 or len(new) > 60:  # long lines: the part that differs, with context
        start = 0
        while start < min(len(old), len(new)) and old[start] == new[start]:
            start += 1
        end = 0
        while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
            end += 1
        lo = max(0, start - 20)

        def middle(text: str) -> str:
            cut = text[lo : len(text) - max(0, end - 10)]
            return ("…" if lo else "") + cut + ("…" if end > 10 else "")

        old, new = middle(old), middle(new)
    return f": {_short(old)} -> {_short(new)}"


def _env_factors(details: Mapping[str, Any], env_mode: str) -> tuple[list[Factor], list[str]]:
    factors: list[Factor] = []
    exact = env_mode == "exact"
    reason = None if exact else "needs --env exact (a rebuilt environment) to switch"
    packages = details.get("packages") or {}
    for group in ("upgraded", "downgraded", "changed", "added", "removed"):
        for item in packages.get(group) or []:
            old = item.get("old") or (item.get("version") if group == "removed" else None)
            new = item.get("new") or (item.get("version") if group == "added" else None)
            factors.append(
                Factor(
                    f"env:package:{item['name']}",
                    "env",
                    "env",
                    f"package {item['name']} {old} -> {new}",
                    ("env",),
                    testable=exact,
                    reason=reason,
                )
            )
    settings = details.get("settings") or {}
    python = [c for c in settings.get("python") or [] if c["key"] in ("version", "implementation")]
    if python:
        factors.append(
            Factor(
                "env:python",
                "env",
                "env",
                "Python " + ", ".join(f"{_short(c['old'])} -> {_short(c['new'])}" for c in python),
                ("env",),
                testable=exact,
                reason=reason,
            )
        )
    others = sorted(g for g in settings if g != "python")
    notes = (
        [f"environment settings differ ({', '.join(others)}): not switchable by a replay"]
        if others
        else []
    )
    if exact and len(factors) > 1:  # one rebuilt environment per hybrid: switched together
        names = [f.name for f in factors]
        factors = [
            Factor(
                "env",
                "env",
                "env",
                "environment: " + "; ".join(f.summary for f in factors),
                ("env",),
            )
        ]
        notes.append("packages are switched together as one environment (" + ", ".join(names) + ")")
    return factors, notes


def select_factors(factors: Sequence[Factor], wanted: Sequence[str]) -> list[Factor]:
    """The factors named (or prefixed) by ``wanted`` (``--factors code,config:threshold``)."""
    if not wanted:
        return list(factors)
    from runstate.errors import UsageError

    chosen = []
    for factor in factors:
        if any(factor.name == w or factor.name.startswith(w.rstrip(":") + ":") for w in wanted):
            chosen.append(factor)
    unknown = [
        w
        for w in wanted
        if not any(f.name == w or f.name.startswith(w.rstrip(":") + ":") for f in factors)
    ]
    if unknown:
        raise UsageError(
            f"--factors {','.join(unknown)}: no such factor (factors: "
            + ", ".join(f.name for f in factors)
            + ")"
        )
    return chosen


def flat_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    return flatten(params or {})
