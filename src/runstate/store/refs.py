"""Resolving what users type into a run id.

Accepted everywhere a run is expected (``show``, ``release create --run``, later ``diff``):

* a run id or a unique prefix of one (at least 4 characters): ``01a2b3c4``;
* a release ``NAME@vN``: the run it froze;
* an alias (``production``): the run of the release it points at;
* ``latest`` or ``latest~K`` (K runs before the latest), optionally restricted to a job
  name: ``resolve_run(store, "latest", name="score-daily")``. Derived runs — replays and
  explain's hybrid replays, recorded with a parent — are skipped: ``latest`` is the newest
  run someone ran (name a replay by its id).
"""

from __future__ import annotations

import re

from runstate.errors import AliasNotFound, RunNotFound
from runstate.store.releases import get_release
from runstate.store.store import Store

__all__ = ["resolve_run"]

_LATEST = re.compile(r"^latest(?:~(?P<back>[0-9]+))?$")
_HEX_PREFIX = re.compile(r"^[0-9a-fA-F-]{4,36}$")


def resolve_run(store: Store, ref: str, name: str | None = None) -> str:
    """The full run id ``ref`` names; raises a :class:`~runstate.errors.NotFound` if none."""
    ref = ref.strip()
    latest = _LATEST.match(ref)
    if latest:
        back = int(latest["back"] or 0)
        rows = store.reader.list_runs(name=name, limit=1, offset=back, roots_only=True)
        if not rows:
            scope = f" named {name!r}" if name else ""
            raise RunNotFound(f"{ref}: there are not {back + 1} runs{scope}")
        return str(rows[0]["id"])
    if "@" in ref:
        return get_release(store, ref).run_id
    if _HEX_PREFIX.match(ref):
        try:
            return store.reader.resolve_run(ref)
        except RunNotFound:
            if store.reader.alias(ref) is None:
                raise
    alias = store.reader.alias(ref)
    if alias is None:
        raise AliasNotFound(f"{ref!r} is not a run id, a release (NAME@vN), an alias or 'latest'")
    return get_release(store, f"{alias['release_name']}@v{alias['release_version']}").run_id
