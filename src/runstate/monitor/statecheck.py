"""State checks: what changed in the execution state since the release, from ``runstate.compare``.

One item per dimension — ``code``, ``packages``, ``python``, ``policy``, ``seeds``,
``config`` — whose status is its configured severity when that dimension changed
(``warn`` by default, ``config`` ``info``; ``"packages": "fail"`` makes any package change
fail) and ``pass`` when not. The details carry the diff's own change lists; the HTML links
each to the diff component (``code``, ``env``, ``policy``, ``seeds``, ``config``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runstate.monitor.result import CheckItem
from runstate.store.store import Store

__all__ = ["state_checks"]


def _count_packages(packages: Mapping[str, Any]) -> int:
    return sum(len(v) for v in packages.values() if isinstance(v, list))


def state_checks(
    store: Store, base_run: str, run_id: str, rules: Mapping[str, str]
) -> tuple[list[CheckItem], Any]:
    """State check items of ``run_id`` against the release's run ``base_run``, and the
    :class:`~runstate.compare.state.StateDiff` they come from."""
    from runstate.compare.state import diff_runs

    diff = diff_runs(store, base_run, run_id, limit=5)
    components = diff.components

    def item(check: str, component: str, changed: bool, message: str, **details: Any) -> None:
        severity = rules[check]
        if severity == "off":
            return
        items.append(
            CheckItem(
                "state",
                check,
                component,
                severity if changed else "pass",
                message,
                component,
                details=details,
            )
        )

    items: list[CheckItem] = []
    code = components.get("code")
    if code is not None:
        files = list(code.details.get("files", []))
        item(
            "code",
            "code",
            code.changed,
            f"code changed: {len(files)} files" if code.changed else "code unchanged",
            files=[f.get("path") for f in files][:20],
            symbols=list(code.details.get("symbols", []))[:50],
        )
    env = components.get("env")
    if env is not None:
        packages = env.details.get("packages") or {}
        count = _count_packages(packages)
        listed = [
            f"{p['name']} {p.get('old', '')}->{p.get('new', p.get('version', ''))}"
            for kind in ("upgraded", "downgraded", "changed", "added", "removed")
            for p in packages.get(kind, [])
        ]
        item(
            "packages",
            "env",
            count > 0,
            f"{count} package changes: {', '.join(listed[:5])}" if count else "packages unchanged",
            packages=packages,
        )
        python = (env.details.get("settings") or {}).get("python") or []
        item(
            "python",
            "env",
            bool(python),
            "Python changed: "
            + ", ".join(f"{c.get('key')} {c.get('old')}->{c.get('new')}" for c in python[:3])
            if python
            else "Python unchanged",
            changes=python,
        )
    for check in ("policy", "seeds", "config"):
        comp = components.get(check)
        if comp is None:
            continue
        item(
            check,
            check,
            comp.changed,
            f"{check} changed ({comp.status})" if comp.changed else f"{check} unchanged",
            changes=list(comp.details.get("changes", comp.details.get("params", [])))[:20],
        )
    return items, diff
