"""Terminal rendering of a ``runstate.diff/v1`` document (rich: colours, tables).

A summary line first, then one section per component that differs (``show_all``: the
unchanged ones too, one line each). Every list is capped at ``cap`` items with a count of
what was left out, so a diff of two very different runs still fits on a screen or two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_diff"]


def _esc(value: Any) -> str:
    from rich.markup import escape

    return escape(value if isinstance(value, str) else _fmt(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "∅"
    if isinstance(value, str):
        return value if len(value) <= 80 else value[:77] + "…"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _pair(old: Any, new: Any) -> str:
    """``old → new``, with enough digits that two different floats never print the same."""
    left, right = _fmt(old), _fmt(new)
    if left == right and isinstance(old, float) and isinstance(new, float):
        left, right = repr(old), repr(new)
    from rich.markup import escape

    return f"{escape(left)} → {escape(right)}"


class _Writer:
    def __init__(self, out: Any, cap: int) -> None:
        self.out, self.cap = out, cap

    def line(self, text: str, indent: int = 4) -> None:
        self.out.print(" " * indent + text)

    def capped(self, items: Sequence[Any], total: int | None = None) -> Sequence[Any]:
        return items[: self.cap]

    def more(self, shown: int, total: int, what: str, indent: int = 4) -> None:
        if total > shown:
            self.line(f"[dim]… and {total - shown} more {what}[/]", indent)

    def changes(self, changes: Sequence[Mapping[str, Any]], indent: int = 4) -> None:
        for change in self.capped(changes):
            key = _esc(change["key"])
            if change["change"] == "added":
                self.line(f"[green]+ {key} = {_esc(change['new'])}[/]", indent)
            elif change["change"] == "removed":
                self.line(f"[red]- {key} = {_esc(change['old'])}[/]", indent)
            else:
                self.line(
                    f"[yellow]~[/] {key}: {_esc(change['old'])} [bold]→[/] {_esc(change['new'])}",
                    indent,
                )
        self.more(min(len(changes), self.cap), len(changes), "settings", indent)


def _config(w: _Writer, c: Mapping[str, Any]) -> None:
    if c["params"]:
        w.line("params:", 4)
        w.changes(c["params"], 6)
    if c["files"]:
        w.line("config files:", 4)
        w.changes(c["files"], 6)


def _env(w: _Writer, c: Mapping[str, Any]) -> None:
    packages = c["packages"]
    rows = (
        [("green", "+", p["name"], f"{p['version']}") for p in packages["added"]]
        + [("red", "-", p["name"], f"{p['version']}") for p in packages["removed"]]
        + [("cyan", "↑", p["name"], f"{p['old']} → {p['new']}") for p in packages["upgraded"]]
        + [("magenta", "↓", p["name"], f"{p['old']} → {p['new']}") for p in packages["downgraded"]]
        + [("yellow", "~", p["name"], f"{p['old']} → {p['new']}") for p in packages["changed"]]
    )
    if rows:
        counts = ", ".join(f"{len(packages[k])} {k}" for k in packages if packages[k])
        w.line(f"packages ({counts}):", 4)
        for style, mark, name, text in w.capped(rows):
            w.line(f"[{style}]{mark} {_esc(name)} {_esc(text)}[/]", 6)
        w.more(min(len(rows), w.cap), len(rows), "packages", 6)
    for group, changes in c["settings"].items():
        w.line(f"{_esc(group)}:", 4)
        w.changes(changes, 6)


def _code(w: _Writer, c: Mapping[str, Any]) -> None:
    if c["git"]:
        w.line("git:", 4)
        w.changes(c["git"], 6)
    if c["symbols"]:
        shown = c["symbols"][: w.cap]
        w.line("changed functions/classes: " + ", ".join(_esc(s) for s in shown), 4)
        w.more(len(shown), len(c["symbols"]), "names", 4)
    for f in c["files"]:
        mark = {"added": "[green]A[/]", "removed": "[red]D[/]", "modified": "[yellow]M[/]"}
        stats = "binary" if f["binary"] else f"+{f['lines_added']} -{f['lines_removed']}"
        w.line(f"{mark[f['change']]} {_esc(f['path'])}  [dim]{stats}[/]", 4)
        lines = (f["diff"] or "").splitlines()
        limit = max(w.cap * 3, 20)
        for text in lines[:limit]:
            style = (
                "bold" if text.startswith(("+++", "---"))
                else "green" if text.startswith("+")
                else "red" if text.startswith("-")
                else "cyan" if text.startswith("@@")
                else "dim"
            )  # fmt: skip
            w.line(f"[{style}]{_esc(text)}[/]", 6)
        w.more(min(len(lines), limit), len(lines), "diff lines", 6)
        if f["diff_truncated"]:
            w.line("[dim](diff cut at the stored limit)[/]", 6)
    if c["files_omitted"]:
        w.line(f"[dim]… and {c['files_omitted']} more changed files[/]", 4)


def _entry(w: _Writer, c: Mapping[str, Any]) -> None:
    fp = c["fingerprint"]
    if c["path"]:
        w.line(f"path: {_esc(c['path']['old'])} → {_esc(c['path']['new'])}", 4)
    if c["status"] in ("added", "removed"):
        w.line(f"{c['entry_kind']} {c['status']} ({_esc((fp['new'] or fp['old'] or '')[:12])})", 4)
        return
    retention = c["retention"]
    if retention["old"] != retention["new"]:
        w.line(f"retention {_esc(retention['old'])} → {_esc(retention['new'])}", 4)
    rows = c.get("rows")
    if rows:
        key = f"key {', '.join(rows['key'])}" if rows["key"] else "no key"
        parts = [f"[green]+{rows['added']:,} added[/]", f"[red]-{rows['removed']:,} removed[/]"]
        if rows["key"]:
            parts.append(f"[yellow]~{rows['changed']:,} changed[/]")
        w.line(f"rows {rows['rows_a']:,} → {rows['rows_b']:,} ({key}): " + ", ".join(parts), 4)
        if rows["duplicates_introduced"]:
            w.line(f"[red]duplicate keys introduced: {rows['duplicates_introduced']}[/]", 6)
        for kind in ("added", "removed", "changed"):
            sample = rows["samples"].get(kind) or []
            if sample:
                shown = ", ".join(_esc(_fmt_key(s)) for s in sample[: w.cap])
                w.line(f"[dim]{kind}:[/] {shown}", 6)
                w.more(min(len(sample), w.cap), int(rows[kind]), f"{kind} rows", 6)
    schema = c.get("schema_changes")
    if schema:
        for col in schema["added"]:
            w.line(f"[green]+ column {_esc(col['name'])} ({_esc(col.get('type'))})[/]", 4)
        for col in schema["dropped"]:
            w.line(f"[red]- column {_esc(col['name'])} ({_esc(col.get('type'))})[/]", 4)
        for col in schema["retyped"]:
            w.line(f"[yellow]~ column {_esc(col['name'])}: {col['old']} → {col['new']}[/]", 4)
        for col in schema["renamed"]:
            w.line(f"[yellow]~ column renamed {_esc(col['old'])} → {_esc(col['new'])}[/]", 4)
    cells = c.get("cells")
    if cells and (cells["changed_columns"] or not cells["available"]):
        if not cells["available"]:
            w.line(f"[dim]cells unavailable: {_esc(cells['reason'])}[/]", 4)
        if cells["changed_columns"]:
            counts = ", ".join(f"{_esc(k)} {v}" for k, v in cells["changed_columns"].items())
            w.line(f"changed cells per column: {counts}", 4)
        samples = cells["samples"]
        for sample in samples[: w.cap]:
            changes = "; ".join(
                f"{_esc(col)} {_esc(old)} → {_esc(new)}"
                for col, (old, new) in sample["changes"].items()
            )
            w.line(f"{_esc(_fmt_key(sample['key']))}: {changes}", 6)
        if cells["available"]:
            total = rows["changed"] if rows else len(samples)
            w.more(min(len(samples), w.cap), total, "changed rows", 6)
    for shift in (c.get("profile") or [])[: w.cap]:
        moved = "; ".join(
            f"{_esc(ch['key'])} {_pair(ch['old'], ch['new'])}" for ch in shift["changes"]
        )
        w.line(f"profile {_esc(shift['column'])}: {moved}", 4)
    w.more(min(len(c.get("profile") or []), w.cap), len(c.get("profile") or []), "columns", 4)
    for cov in c.get("coverage") or []:
        for gap in cov["new_gaps"][: w.cap]:
            w.line(
                f"[red]new gap in {_esc(cov['column'])}: {gap['from']} … {gap['to']}"
                f"{' (' + str(gap['days']) + ' days)' if gap.get('days') else ''}[/]",
                4,
            )
        new = cov["new"] or {}
        old = cov["old"] or {}
        if (old.get("min"), old.get("max")) != (new.get("min"), new.get("max")):
            w.line(
                f"coverage {_esc(cov['column'])}: {_esc(old.get('min'))}…{_esc(old.get('max'))}"
                f" → {_esc(new.get('min'))}…{_esc(new.get('max'))}",
                4,
            )
    files = c.get("files")
    if files:
        if not files["available"]:
            w.line("[dim]folder manifests not stored: only the fingerprints differ[/]", 4)
        for item in files["added"]:
            w.line(f"[green]+ {_esc(item['path'])}[/]", 4)
        for item in files["removed"]:
            w.line(f"[red]- {_esc(item['path'])}[/]", 4)
        for item in files["changed"]:
            w.line(f"[yellow]~ {_esc(item['path'])}[/]", 4)
        if files["omitted"]:
            w.line(f"[dim]… and {files['omitted']} more files[/]", 4)
    if not rows and not files and c["changed"]:
        w.line(f"fingerprint {_esc((fp['old'] or '')[:12])} → {_esc((fp['new'] or '')[:12])}", 4)


def _fmt_key(key: Mapping[str, Any]) -> str:
    if len(key) == 1:
        return _fmt(next(iter(key.values())))
    return "(" + ", ".join(f"{k}={_fmt(v)}" for k, v in key.items()) + ")"


def _metrics(w: _Writer, c: Mapping[str, Any]) -> None:
    changed = [m for m in c["metrics"] if m["change"] != "unchanged"]
    for m in w.capped(changed):
        if m["change"] == "added":
            w.line(f"[green]+ {_esc(m['key'])} = {_esc(m['new'])}[/]", 4)
        elif m["change"] == "removed":
            w.line(f"[red]- {_esc(m['key'])} = {_esc(m['old'])}[/]", 4)
        else:
            delta = "" if m["delta"] is None else f"  (Δ {m['delta']:+.6g}"
            if m["delta"] is not None and m["rel_delta"] is not None:
                delta += f", {m['rel_delta']:+.2%}"
            delta += ")" if delta else ""
            w.line(f"~ {_esc(m['key'])}: {_esc(m['old'])} → {_esc(m['new'])}{delta}", 4)
    w.more(min(len(changed), w.cap), len(changed), "metrics", 4)


def _steps(w: _Writer, c: Mapping[str, Any]) -> None:
    first = c["first_divergence"]
    if first:
        w.line(
            f"[bold red]first divergence: step {_esc(first['name'])}[/] ({_esc(first['reason'])})",
            4,
        )
    for step in w.capped(c["steps"]):
        if step["index_a"] is None:
            w.line(f"[green]+ {_esc(step['name'])}[/]", 4)
        elif step["index_b"] is None:
            w.line(f"[red]- {_esc(step['name'])}[/]", 4)
        else:
            notes = []
            if step["code_changed"]:
                notes.append("code changed")
            if step["inputs_equal"] is False:
                notes.append("inputs differ")
            if step["outputs_equal"] is False:
                notes.append("outputs differ")
            status = step["status"]
            if status["old"] != status["new"]:
                notes.append(f"status {status['old']} → {status['new']}")
            w.line(f"{_esc(step['name'])}: {', '.join(notes) or 'same'}", 4)
    w.more(min(len(c["steps"]), w.cap), len(c["steps"]), "steps", 4)


def _policy(w: _Writer, c: Mapping[str, Any]) -> None:
    versions = c.get("versions")
    if not versions:  # the rules could not be compared: the settings that differ
        w.changes(c.get("changes") or [], 4)
        return
    if versions["a"] != versions["b"]:
        w.line(f"{_esc(versions['a'])} [bold]→[/] {_esc(versions['b'])}", 4)
    if c.get("default"):
        w.line(f"[yellow]~[/] default: {_pair(c['default']['a'], c['default']['b'])}", 4)
    for rule in w.capped(c.get("rules") or []):
        mark = {"added": "[green]+[/]", "removed": "[red]-[/]"}.get(rule["change"], "[yellow]~[/]")
        w.line(f"{mark} {_esc(rule['summary'])}", 4)
        for d in rule.get("datasets") or []:
            w.line(
                f"{_esc(d['dataset'])}: [red]{d['newly_excluded']} rows newly excluded[/], "
                f"[green]{d['let_in']} let in[/]",
                6,
            )
    w.more(min(len(c.get("rules") or []), w.cap), len(c.get("rules") or []), "rules", 4)
    for d in w.capped(c.get("datasets") or []):
        excluded = d["excluded"]
        rows = d.get("rows") or {}
        of = f" of {rows['b']}" if rows.get("b") is not None else ""
        note = "" if d["comparable"] else " [dim](fingerprinted differently: not compared)[/]"
        w.line(
            f"dataset {_esc(d['dataset'])}: excluded {excluded['a']} → {excluded['b']}{of} rows "
            f"(+{d['newly_excluded']} excluded, -{d['let_in']} let in){note}",
            4,
        )
    identity = [
        ch for ch in c.get("changes") or [] if ch["key"] in ("principal", "purpose", "groups")
    ]
    w.changes(identity, 4)


_RENDER = {
    "config": _config,
    "policy": _policy,
    "env": _env,
    "code": _code,
    "data": _entry,
    "model": _entry,
    "output": _entry,
    "metrics": _metrics,
    "steps": _steps,
}


def render_diff(
    document: Mapping[str, Any], out: Any, show_all: bool = False, cap: int = 20
) -> None:
    """Print ``document`` (runstate.diff/v1) on the rich console ``out``."""
    w = _Writer(out, max(1, cap))
    a, b = document["a"], document["b"]
    summary = document["summary"]
    style = "green" if document["identical"] else "yellow"
    out.print(f"[bold {style}]{_esc(summary['text'])}[/]")
    for label, side in (("A", a), ("B", b)):
        release = f" ({_esc(side['release'])})" if side.get("release") else ""
        out.print(
            f"  {label}: {side['id'][:13]}{release}  {_esc(side['name'])}  {side['status']}  "
            f"{side['started_at'][:19].replace('T', ' ')}  [dim]state {side['state_id'][:12]}[/]"
        )
    for warning in document["warnings"]:
        out.print(f"[yellow]warning:[/] {_esc(warning)}")
    for missing in document["missing"]:
        out.print(f"[yellow]missing:[/] {_esc(missing)}")
    for name, comp in document["components"].items():
        if not comp["changed"]:
            if show_all:
                out.print(f"[dim]  {_esc(name)}: unchanged[/]")
            continue
        out.print(f"\n[bold]{_esc(name)}[/]  [yellow]{comp['status']}[/]")
        if comp.get("missing"):
            w.line(f"[dim]{_esc(comp['missing'])}[/]", 4)
        render = _RENDER.get(comp["kind"])
        if render is not None:
            render(w, comp)
        else:
            w.changes(comp.get("changes") or [], 4)
