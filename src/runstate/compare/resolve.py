"""What the two sides of a diff are: run ids, releases, aliases, latest~K, or "the baseline".

``runstate diff A B``: each side is resolved with :func:`runstate.store.refs.resolve_run`
(run id or unique prefix — an ambiguous prefix lists the runs it matches —, ``NAME@vN``,
an alias, ``latest``/``latest~K``, optionally within ``--name``). ``runstate diff RUN``:
the baseline is the run the ``production`` alias points at (when there is one and it is
another run), else the previous run of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runstate.errors import RunNotFound, RunstateError
from runstate.store.refs import resolve_run
from runstate.store.releases import get_release
from runstate.store.store import Store

__all__ = ["BASELINE_ALIAS", "Side", "resolve_pair", "resolve_side"]

BASELINE_ALIAS = "production"


@dataclass(frozen=True)
class Side:
    """One side of a diff: what was typed, the run it names, and its record."""

    ref: str
    run_id: str
    release: str | None
    record: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        r = self.record
        return {
            "ref": self.ref,
            "id": r["id"],
            "name": r["name"],
            "kind": r.get("kind", "api"),
            "status": r["status"],
            "state_id": r["state"]["id"],
            "started_at": r["started_at"],
            "ended_at": r["ended_at"],
            "release": self.release,
        }


def _release_of(store: Store, ref: str) -> str | None:
    ref = ref.strip()
    if "@" in ref:
        from runstate.store.releases import parse_release_ref

        name, version = parse_release_ref(ref)
        return f"{name}@v{version}"
    if ref.startswith("latest"):
        return None
    alias = store.reader.alias(ref)
    if alias is None:
        return None
    return f"{alias['release_name']}@v{alias['release_version']}"


def _load(store: Store, ref: str, run_id: str, release: str | None) -> Side:
    row = store.reader.run(run_id)
    if row is None:
        raise RunNotFound(f"{ref}: no run {run_id}")
    return Side(ref, run_id, release, store.load_record(row["record_id"]))


def resolve_side(store: Store, ref: str, name: str | None = None) -> Side:
    run_id = resolve_run(store, ref, name=name)
    release = None
    if store.reader.run(ref.strip()) is None:  # a full run id is never a release
        try:
            release = _release_of(store, ref)
            if release is not None and get_release(store, release).run_id != run_id:
                release = None  # a run id prefix that happens to be an alias name too
        except RunstateError:  # naming the release is a nicety only
            release = None
    return _load(store, ref, run_id, release)


def _previous_run(store: Store, side: Side) -> str | None:
    """The run of the same name started just before ``side`` (newest first listing)."""
    offset, page = 0, 200
    seen = False
    roots = side.record.get("parent_id") is None  # a run someone ran: skip replays of others
    while True:
        rows = store.reader.list_runs(
            name=side.record["name"], limit=page, offset=offset, roots_only=roots
        )
        for row in rows:
            if seen:
                return str(row["id"])
            if row["id"] == side.run_id:
                seen = True
        if len(rows) < page:
            return None
        offset += page


def resolve_pair(
    store: Store, a: str, b: str | None = None, name: str | None = None
) -> tuple[Side, Side]:
    """The (A, B) sides; with ``b`` None, A is the baseline of the run ``a`` names."""
    if b is not None:
        return resolve_side(store, a, name), resolve_side(store, b, name)
    new = resolve_side(store, a, name)
    alias = store.reader.alias(BASELINE_ALIAS)
    if alias is not None:
        base = resolve_side(store, BASELINE_ALIAS)
        if base.run_id != new.run_id:
            return base, new
    previous = _previous_run(store, new)
    if previous is None:
        raise RunNotFound(
            f"{a}: nothing to compare with: no '{BASELINE_ALIAS}' alias and no earlier run "
            f"named {new.record['name']!r} (give two runs: runstate diff A B)"
        )
    return _load(store, f"{a}~previous", previous, None), new
