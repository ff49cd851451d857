"""``runstate.diff(a, b)``: the Python face of ``runstate diff``."""

from __future__ import annotations

from runstate.compare.state import StateDiff, diff_runs
from runstate.store.store import Store

__all__ = ["StateDiff", "diff"]


def diff(
    a: str,
    b: str | None = None,
    store: Store | None = None,
    *,
    name: str | None = None,
    limit: int | None = 20,
) -> StateDiff:
    """Diff two runs or releases; the result is falsy when they are identical.

    ``a`` and ``b`` are run ids (or unique prefixes), ``NAME@vN``, aliases or
    ``latest``/``latest~K`` (``name`` picks the job). With ``b`` left out, ``a`` is compared
    with the ``production`` alias's run, else with the previous run of the same name.
    ``limit`` caps sampled rows, cells and files per list (None: all).

    >>> d = runstate.diff("latest~1", "latest")               # doctest: +SKIP
    >>> if d: print(d.summary()["text"])                      # doctest: +SKIP
    """
    opened = store is None
    store = Store.open() if store is None else store
    try:
        return diff_runs(store, a, b, name=name, limit=limit)
    finally:
        if opened:
            store.close()
