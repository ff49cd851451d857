"""``explain(store, A, B)``: why did B's outputs change from A's? See :mod:`runstate.explain`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runstate.errors import UsageError
from runstate.store.store import Store

__all__ = ["ExplainOptions", "explain"]


@dataclass(frozen=True)
class ExplainOptions:
    max_replays: int = 32
    factors: tuple[str, ...] = ()  # restrict to these factors (names or prefixes)
    env: str = "current"
    parallel: int | None = None  # worker processes (default: the number of cores)
    sample: int = 5
    progress: bool = False  # a progress bar on stderr
    on_event: Callable[[str], None] | None = field(default=None, compare=False)

    def check(self) -> None:
        if self.max_replays < 2:
            raise UsageError(
                f"--max-replays {self.max_replays}: at least 2 (A and B's factors on A)"
            )
        if self.env not in ("current", "exact"):
            raise UsageError(f"--env {self.env!r}: expected current or exact")


class _Progress:
    """A rich progress bar on stderr (replays done / budget), or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.bar: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("explain"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("", total=total)

    def phase(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=text)

    def done(self, result: Any) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _state_diff(store: Store, side_a: Any, side_b: Any) -> Any:
    """The diff of A and B's state components only: the factors come from it, and the
    outputs are measured from their fingerprint tables (:mod:`.distance`), so the output
    sections of ``runstate diff`` (cells read from snapshots) are not computed."""
    from runstate.compare.state import StateDiff, _Builder

    builder = _Builder(store, side_a, side_b, 20)
    builder.run_warnings()
    builder.state_components()
    return StateDiff(
        side_a.summary(),
        side_b.summary(),
        builder.components,
        tuple(dict.fromkeys(builder.warnings)),
        tuple(dict.fromkeys(builder.missing)),
        20,
    )


def explain(store: Store, a: str, b: str, options: ExplainOptions | None = None) -> dict[str, Any]:
    """The ``runstate.explain/v1`` document for runs ``a`` -> ``b`` (refs as for diff)."""
    from runstate.compare.resolve import resolve_side
    from runstate.explain.attribution import attribute
    from runstate.explain.distance import Measure
    from runstate.explain.factors import find_factors, select_factors
    from runstate.explain.hybrid import HybridRunner
    from runstate.explain.report import build_document
    from runstate.explain.search import run_search

    options = options or ExplainOptions()
    options.check()
    started = time.perf_counter()
    side_a, side_b = resolve_side(store, a), resolve_side(store, b)
    diff = _state_diff(store, side_a, side_b)
    record_a, record_b = side_a.record, side_b.record
    factors, notes = find_factors(store, diff, options.env)
    factors = select_factors(factors, options.factors)
    testable = [f for f in factors if f.testable]
    untestable = [f for f in factors if not f.testable]
    warnings = list(diff.warnings)
    entry_a = (record_a.get("code") or {}), (record_b.get("code") or {})
    if record_a.get("command") != record_b.get("command"):
        notes.append(
            "A and B ran different commands: hybrids run A's command; a change of entry point "
            "is switched with the code"
        )
    del entry_a
    measure = Measure.build(
        store.objects,
        record_a.get("outputs") or [],
        record_b.get("outputs") or [],
        record_a.get("metrics") or [],
        record_b.get("metrics") or [],
    )
    parallel = max(1, options.parallel or (os.cpu_count() or 1))
    progress = _Progress(options.progress, options.max_replays)
    runner = HybridRunner(store, record_a, record_b, options.env, parallel, progress.done)
    search = None
    causes: list[Any] = []
    rows: list[Any] = []
    status, reason = None, None
    try:
        search = run_search(
            runner, measure, testable, options.max_replays, store.objects, on_phase=progress.phase
        )
        if search.failure is not None or frozenset() not in search.evaluated:
            failure = search.failure
            status = "not_replayable"
            reason = f"A ({side_a.run_id[:12]}) cannot be replayed: " + (
                (failure.reason or failure.status) if failure else "budget exhausted"
            )
        else:
            causes, rows = attribute(search, measure, record_a, record_b, options.sample)
    finally:
        runner.close()
        progress.close()
    if search is not None and search.nondeterministic:
        notes.append("a replay of A differs from A: the run is nondeterministic")
    if search is not None and search.full_value is not None and search.full_value < 1 - 1e-6:
        notes.append(
            f"switching every factor reproduces {100 * max(0.0, search.full_value):.0f}% of the "
            "change: the rest comes from what a replay cannot switch (environment settings, "
            "untestable factors, nondeterminism)"
        )
    return build_document(
        side_a=side_a.summary(),
        side_b=side_b.summary(),
        factors=factors,
        untestable=untestable,
        search=search,
        causes=causes,
        rows=rows,
        measure=measure,
        diff_components=diff.components,
        notes=notes,
        warnings=warnings,
        replays=runner.replays,
        cache_hits=runner.cache_hits,
        max_replays=options.max_replays,
        parallel=parallel,
        seconds=time.perf_counter() - started,
        status_override=status,
        reason=reason,
    )
