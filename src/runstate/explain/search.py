"""The search: which hybrids to replay, within the budget, to attribute A -> B's change.

1. **Reproducibility** — A itself (no factor switched) and A with every factor switched
   (≈ B) are replayed, together with every single-factor hybrid (one parallel batch). If
   the replay of A differs from A, the run is nondeterministic: the units and metrics that
   moved are *noise* and left out of every count (the tolerance is the replay's own spread).
2. **Single switches** — each factor's effect alone: its value ``v({i})`` and, per changed
   output unit, whether switching it alone reproduces B's value there.
3. **ddmin** — when the single effects do not reconstruct B (some changed unit reproduced by
   no single factor, or by two, or metrics not adding up): if every changed unit is
   reproduced by some single factor, the factors with an effect alone are switched together
   first (one replay); when that does what switching all factors does, no search is needed.
   Otherwise Zeller's delta debugging finds a minimal set of factors whose hybrid reproduces
   what switching all of them does.
4. **Shapley values** of each candidate factor (those with an effect alone, or in the
   minimal set; the others are held at A) on ``v``: exact when the ``2^m`` subsets fit the
   remaining budget, else a permutation-sampling estimate with its standard error. When the
   singles reconstruct B exactly and touch disjoint units, the game is additive on what was
   measured and the Shapley values are the single effects (no further replays).

Budget: ``max_replays`` replays actually run (cache hits are free). With fewer than
``factors + 2``, factors are switched in groups, and the members of a group that has an
effect are reported as *confounded*.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runstate.explain.distance import Measure, OutputView, metric_values
from runstate.explain.factors import Factor
from runstate.explain.hybrid import HybridResult, HybridRunner

__all__ = ["Group", "SearchResult", "run_search"]

EPS = 1e-9


@dataclass(frozen=True)
class Group:
    """One switchable unit of the search: a factor, or factors the budget cannot separate."""

    factors: tuple[Factor, ...]

    @property
    def name(self) -> str:
        return " + ".join(f.name for f in self.factors)


@dataclass
class Evaluated:
    subset: frozenset[int]
    result: HybridResult
    views: dict[str, OutputView] | None = None
    metrics: dict[str, Any] | None = None
    value: float | None = None


@dataclass
class SearchResult:
    groups: list[Group]
    evaluated: dict[frozenset[int], Evaluated] = field(default_factory=dict)
    nondeterministic: bool = False
    mismatch: str | None = None  # a replay of A differs from A: nondeterminism | environment
    repeat: HybridResult | None = None  # the second replay of A that told which
    noise: dict[str, int] = field(default_factory=dict)
    noisy_metrics: list[str] = field(default_factory=list)
    full_value: float | None = None
    additive: bool = False
    minimal: list[int] | None = None
    shapley: dict[int, float] = field(default_factory=dict)
    shapley_se: dict[int, float] = field(default_factory=dict)
    shapley_method: str = "none"
    candidates: list[int] = field(default_factory=list)
    stopped: str | None = None  # why the search stopped early (budget)
    failure: HybridResult | None = None  # the replay of A itself failed

    def single(self, index: int) -> Evaluated | None:
        return self.evaluated.get(frozenset([index]))


class _Search:
    def __init__(
        self,
        runner: HybridRunner,
        measure: Measure,
        groups: list[Group],
        budget: int,
        objects: Any,
        rng: random.Random,
    ) -> None:
        self.runner, self.measure, self.groups = runner, measure, groups
        self.budget, self.objects, self.rng = budget, objects, rng
        self.out = SearchResult(groups)

    @property
    def left(self) -> int:
        return self.budget - self.runner.replays

    def _spec(self, subset: frozenset[int]) -> Any:
        return self.runner.spec(f for i in sorted(subset) for f in self.groups[i].factors)

    def evaluate(self, subsets: Sequence[frozenset[int]]) -> list[Evaluated | None]:
        """Replay the subsets not yet known, as many as the budget allows (in order)."""
        specs, allowed = [], self.left
        chosen: list[frozenset[int]] = []
        seen: set[str] = set()
        for subset in subsets:
            if subset in self.out.evaluated:
                continue
            spec = self._spec(subset)
            unknown = self.runner.known(spec) is None and spec.state_id not in seen
            if unknown:
                if allowed <= 0:
                    continue
                allowed -= 1
                seen.add(spec.state_id)
            specs.append(spec)
            chosen.append(subset)
        for subset, result in zip(chosen, self.runner.run(specs), strict=True):
            self.out.evaluated[subset] = Evaluated(subset, result)
        found = []
        for subset in subsets:
            item = self.out.evaluated.get(subset)
            if item is not None and item.result.ok and item.views is None:
                item.views = self.measure.views(item.result.outputs)
                item.metrics = metric_values(item.result.metrics)
            found.append(item)
        return found

    def value(self, subset: frozenset[int]) -> float | None:
        item = self.out.evaluated.get(subset)
        if item is None or not item.result.ok or item.views is None:
            return None
        if item.value is None:
            item.value = self.measure.value(item.views, item.metrics or {})
        return item.value

    # -- 1 and 2 -----------------------------------------------------------------------

    def start(self) -> bool:
        n = len(self.groups)
        empty: frozenset[int] = frozenset()
        full = frozenset(range(n))
        batch = [empty, full] + [frozenset([i]) for i in range(n) if n > 1]
        self.evaluate(batch)
        base = self.out.evaluated.get(empty)
        if base is None or not base.result.ok:
            self.out.failure = base.result if base is not None else None
            return False
        assert base.views is not None
        self.measure.add_noise(base.views, base.metrics or {})
        if self.measure.noise or self.measure.metric_noise:
            self.out.mismatch = self._why_a_differs(base)
            self.out.nondeterministic = self.out.mismatch == "nondeterminism"
            self.out.noise = {k: len(v) for k, v in self.measure.noise.items()}
            self.out.noisy_metrics = sorted(self.measure.metric_noise)
        for item in self.out.evaluated.values():
            item.value = None  # the noise changes every value
        if n == 1 and full in self.out.evaluated:
            self.out.evaluated[frozenset([0])] = self.out.evaluated[full]
        self.out.full_value = self.value(full)
        return True

    def _why_a_differs(self, base: Evaluated) -> str:
        """A replay of A differs from A: replay A once more. Two replays that differ from
        each other: nondeterminism; that agree: the replay's environment (``--env
        current``) is not A's."""
        from runstate.explain.distance import diff_units

        if self.left <= 0:
            return "nondeterminism"  # cannot tell: the budget is spent
        (again,) = self.runner.run([self.runner.spec([], repeat=1)])
        self.out.repeat = again
        if not again.ok:
            return "nondeterminism"
        views = self.measure.views(again.outputs)
        metrics = metric_values(again.metrics)
        assert base.views is not None
        for name in set(views) | set(base.views):
            if len(diff_units(views.get(name), base.views.get(name))):
                return "nondeterminism"
        return "nondeterminism" if metrics != (base.metrics or {}) else "environment"

    def covered(self) -> bool:
        """Is every changed output unit reproduced by some factor switched alone?"""
        import numpy as np

        for name, units in self.measure.changed.items():
            covered = np.zeros(len(units), bool)
            for i in range(len(self.groups)):
                single = self.out.single(i)
                if single is None or single.views is None:
                    continue
                view = single.views.get(name)
                covered |= self.measure.reproduced(name, view) & self.measure.moved(name, view)
            if not covered.all():
                return False
        return True

    def reconstructs(self) -> bool:
        """Do the single effects add up to B (see the module docstring)?"""
        import numpy as np

        n = len(self.groups)
        full = self.out.full_value
        if full is None or full < 1.0 - EPS:
            return False
        singles = [self.out.single(i) for i in range(n)]
        if any(s is None or s.views is None for s in singles):
            return False
        for name, units in self.measure.changed.items():
            covered = np.zeros(len(units), bool)
            reproduced_by = np.zeros(len(units), int)
            for s in singles:
                assert s is not None
                view = s.views.get(name) if s.views else None
                rep = self.measure.reproduced(name, view)
                mov = self.measure.moved(name, view)
                covered |= rep & mov
                reproduced_by += rep & mov
            if not covered.all() or (reproduced_by > 1).any():
                return False
        for key in self.measure.metrics_changed:
            a, b = self.measure.metrics_a.get(key), self.measure.metrics_b.get(key)
            if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
                continue
            total = 0.0
            for s in singles:
                assert s is not None and s.metrics is not None
                x = s.metrics.get(key)
                if not isinstance(x, (int, float)):
                    return False
                total += float(x) - float(a)
            spread = self.measure.metric_noise.get(key, 0.0)
            if abs(total - (float(b) - float(a))) > 1e-9 * max(1.0, abs(b - a)) + spread:
                return False
        return True

    # -- 3: ddmin -------------------------------------------------------------------------

    def passes(self, subset: frozenset[int]) -> bool | None:
        v, full = self.value(subset), self.out.full_value
        if v is None or full is None:
            return None
        return v >= full - 1e-6

    def ddmin(self) -> list[int] | None:
        """Zeller's ddmin over the groups: a 1-minimal subset that passes like the full set."""
        current = list(range(len(self.groups)))
        n = 2
        while len(current) >= 2:
            size = math.ceil(len(current) / n)
            chunks = [current[i : i + size] for i in range(0, len(current), size)]
            subsets = [frozenset(c) for c in chunks]
            complements = [frozenset(current) - s for s in subsets] if n > 2 else []
            self.evaluate(subsets + complements)
            reduced = False
            for s in subsets:
                if self.passes(s):
                    current, n, reduced = sorted(s), 2, True
                    break
            if not reduced:
                for c in complements:
                    if self.passes(c):
                        current, n, reduced = sorted(c), max(n - 1, 2), True
                        break
            if not reduced:
                if any(
                    self.out.evaluated.get(s) is None for s in subsets + complements
                ):  # the budget ran out
                    self.out.stopped = "the budget ran out during ddmin"
                    return current
                if n >= len(current):
                    break
                n = min(len(current), 2 * n)
        if len(current) == 1 and not self.passes(frozenset(current)):
            return current  # one factor but it does not pass alone: still the minimal set
        return current

    # -- 4: Shapley -----------------------------------------------------------------------

    def shapley(self, candidates: list[int]) -> None:
        m = len(candidates)
        out = self.out
        out.candidates = candidates
        if m == 0:
            return
        subsets = [
            frozenset(c) for r in range(m + 1) for c in itertools.combinations(candidates, r)
        ]
        unknown = sum(1 for s in subsets if s not in out.evaluated)
        if unknown <= self.left:
            self.evaluate(subsets)
            values = {s: self.value(s) for s in subsets}
            if all(v is not None for v in values.values()):
                for i in candidates:
                    total = 0.0
                    others = [c for c in candidates if c != i]
                    for r in range(m):
                        weight = math.factorial(r) * math.factorial(m - r - 1) / math.factorial(m)
                        for combo in itertools.combinations(others, r):
                            s = frozenset(combo)
                            total += weight * (values[s | {i}] - values[s])  # type: ignore[operator]
                    out.shapley[i] = total
                out.shapley_method = "exact"
                return
        # sampled permutations, as many as the budget allows
        marginals: dict[int, list[float]] = {i: [] for i in candidates}
        for _ in range(200):
            order = candidates[:]
            self.rng.shuffle(order)
            chain = [frozenset(order[:k]) for k in range(m + 1)]
            self.evaluate(chain)
            chain_values = [self.value(s) for s in chain]
            known = [v for v in chain_values if v is not None]
            if len(known) != len(chain_values):
                break
            for k, i in enumerate(order):
                marginals[i].append(known[k + 1] - known[k])
            if self.left <= 0:
                break
        if not marginals[candidates[0]]:
            out.shapley_method = "none"
            return
        for i in candidates:
            xs = marginals[i]
            mean = sum(xs) / len(xs)
            out.shapley[i] = mean
            if len(xs) > 1:
                var = sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)
                out.shapley_se[i] = math.sqrt(var / len(xs))
            else:
                out.shapley_se[i] = math.inf
        out.shapley_method = f"sampled ({len(marginals[candidates[0]])} permutations)"


def make_groups(factors: Sequence[Factor], budget: int) -> list[Group]:
    """One group per factor, or fewer groups when ``budget - 2`` replays cannot test each."""
    slots = max(1, budget - 2)
    if len(factors) <= slots:
        return [Group((f,)) for f in factors]
    size = math.ceil(len(factors) / slots)
    return [Group(tuple(factors[i : i + size])) for i in range(0, len(factors), size)]


def run_search(
    runner: HybridRunner,
    measure: Measure,
    factors: Sequence[Factor],
    budget: int,
    objects: Any,
    seed: int = 0,
    on_phase: Callable[[str], None] | None = None,
) -> SearchResult:
    groups = make_groups(factors, budget)
    search = _Search(runner, measure, groups, budget, objects, random.Random(seed))
    say = on_phase or (lambda _msg: None)
    say("replaying A, B's factors on A, and each factor alone")
    if not search.start():
        return search.out
    try:
        return _attribute_search(search, say)
    finally:
        for subset in list(search.out.evaluated):
            search.value(subset)  # every hybrid's value, for the report


def _attribute_search(search: _Search, say: Callable[[str], None]) -> SearchResult:
    groups, measure = search.groups, search.measure
    n = len(groups)
    out = search.out
    if not measure.items:  # nothing changed beyond the noise: nothing to attribute
        return out
    effective = [
        i
        for i in range(n)
        if ((v := search.value(frozenset([i]))) is not None and abs(v) > EPS)
        or _moves_anything(search, i)
    ]
    if search.reconstructs():
        out.additive = True
        for i in range(n):
            v = search.value(frozenset([i]))
            out.shapley[i] = v if v is not None else 0.0
        out.candidates = effective
        out.shapley_method = "additive"
        return out
    every = frozenset(range(n))
    known = frozenset(effective)
    if n > 1 and out.full_value is not None and search.covered() and known and known != every:
        # Every changed row is reproduced by some factor alone: no row needs a combination,
        # so the factors with an effect alone should do what all of them do. One replay
        # checks it; ddmin only runs if it does not.
        say("checking the factors with an effect together")
        search.evaluate([known])
        if not search.passes(known):
            say("ddmin: a minimal set of factors that reproduces B")
            out.minimal = search.ddmin()
    elif n > 1 and out.full_value is not None:
        say("ddmin: a minimal set of factors that reproduces B")
        out.minimal = search.ddmin()
    candidates = sorted(set(effective) | set(out.minimal or []))
    if len(candidates) == 1 and out.full_value is not None:
        v = search.value(frozenset(candidates))
        out.shapley = {candidates[0]: v if v is not None else 0.0}
        out.candidates, out.shapley_method = candidates, "exact"
        return out
    say("Shapley values")
    search.shapley(candidates)
    return out


def _moves_anything(search: _Search, index: int) -> bool:
    item = search.out.single(index)
    if item is None or item.views is None:
        return item is not None and not item.result.ok  # a failure is an effect
    for name in search.measure.changed:
        if search.measure.moved(name, item.views.get(name)).any():
            return True
    return False
