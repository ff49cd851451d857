"""Distinct values and top values of a column: exact counts up to a limit, then
HyperLogLog registers and a capped counter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runstate.data.profile.hashing import _hash_numbers
from runstate.data.profile.hll import _hll_add, _hll_estimate, _hll_new

if TYPE_CHECKING:
    from runstate.data.profile.hashing import U64


TOP_CAP = 1_000  # values kept by the approximate top-value counter


def _runs(ordered: Any) -> tuple[Any, Any]:
    """Distinct values of a sorted array and how often each occurs."""
    import numpy as np

    if ordered.size == 0:
        return ordered, np.zeros(0, dtype=np.int64)
    change = np.empty(ordered.size, dtype=bool)
    change[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    counts = np.diff(np.append(starts, ordered.size))
    return ordered[starts], counts


def _small_range(values: Any) -> tuple[int, int] | None:
    """(low, high) when an integer array is dense enough to count with bincount."""
    if values.dtype.kind not in "iu" or values.size == 0:
        return None
    low, high = int(values.min()), int(values.max())
    span = high - low
    if span < max(values.size // 2, 1 << 16):
        return low, high
    return None


def _counted(values: Any, low: int) -> tuple[Any, Any]:
    import numpy as np

    shifted = (values - np.asarray(low, dtype=values.dtype)).astype(np.intp)
    counts = np.bincount(shifted)
    present = np.flatnonzero(counts)
    distinct = (present + low).astype(values.dtype)
    return distinct, counts[present]


class _Distinct:
    """Distinct keys (values, or 64-bit hashes for strings, binaries and decimals) and their
    counts: exact up to ``limit`` distinct keys, then HyperLogLog registers and
    a counter capped at TOP_CAP keys for the top values."""

    def __init__(self, keep_top: bool, hashed: bool, limit: int) -> None:
        self.keep_top = keep_top
        self.limit = limit
        self.hashed = hashed
        self.exact = True
        self.keys: Any = None  # sorted distinct keys (exact mode)
        self.counts: Any = None
        self.registers: Any = None  # HyperLogLog mode
        self.top: dict[Any, int] = {}
        self.names: dict[int, Any] = {}  # hashed keys → a value that has them (top candidates)

    def _hashes(self, keys: Any) -> U64:
        import numpy as np

        return keys.astype(np.uint64, copy=True) if self.hashed else _hash_numbers(keys)

    def add_hashes(self, values: Any) -> None:
        """HyperLogLog mode only: fold keys (duplicates allowed) without counting them."""
        _hll_add(self.registers, self._hashes(values))

    def add(self, keys: Any, counts: Any) -> None:
        """Merge a chunk's distinct sorted ``keys`` and their ``counts``."""
        import numpy as np

        if not self.exact:
            _hll_add(self.registers, self._hashes(keys), ordered=self.hashed)
            if self.keep_top:
                self._merge_top(keys, counts)
            return
        if self.keys is None:
            self.keys, self.counts = keys, counts.astype(np.int64)
        else:
            position = np.searchsorted(self.keys, keys)
            found = position < self.keys.size
            found[found] = self.keys[position[found]] == keys[found]
            self.counts[position[found]] += counts[found]  # keys are distinct: no repeats
            new = ~found
            if new.any():
                self.keys = np.insert(self.keys, position[new], keys[new])
                self.counts = np.insert(self.counts, position[new], counts[new])
        if self.keys.size > self.limit:
            self.exact = False
            self.registers = _hll_new()
            _hll_add(self.registers, self._hashes(self.keys), ordered=self.hashed)
            if self.keep_top:
                self._merge_top(self.keys, self.counts)
            self.keys = self.counts = None

    def candidates(self, keys: Any, counts: Any) -> Any:
        """The keys of a chunk worth naming: its TOP_CAP most frequent that repeat."""
        import numpy as np

        repeated = np.flatnonzero(counts > 1)
        if repeated.size > TOP_CAP:
            best = np.argpartition(counts[repeated], -TOP_CAP)[-TOP_CAP:]
            repeated = repeated[best]
        return keys[repeated]

    def _merge_top(self, keys: Any, counts: Any) -> None:
        import numpy as np

        if keys.size > TOP_CAP:
            best = np.argpartition(counts, -TOP_CAP)[-TOP_CAP:]
            keys, counts = keys[best], counts[best]
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            self.top[key] = self.top.get(key, 0) + count
        if len(self.top) > 2 * TOP_CAP:
            kept = sorted(self.top.items(), key=lambda item: (-item[1], item[0]))[:TOP_CAP]
            self.top = dict(kept)

    def trim_names(self) -> None:
        """Once more than 20 × TOP_CAP values are named, forget those of keys that are no
        longer among the TOP_CAP most frequent."""
        import numpy as np

        if len(self.names) <= 20 * TOP_CAP:
            return

        if self.exact and self.keys is not None:
            best = self.keys
            if self.keys.size > TOP_CAP:
                best = self.keys[np.argpartition(self.counts, -TOP_CAP)[-TOP_CAP:]]
            keep = set(best.tolist())
        else:
            keep = set(self.top)
        self.names = {key: value for key, value in self.names.items() if key in keep}

    def finish(self, top_k: int) -> tuple[int, bool, Any, list[tuple[Any, int]]]:
        """(distinct, exact, registers, the top_k (key, count) pairs that repeat)."""
        import numpy as np

        if self.exact:
            registers = _hll_new()
            if self.keys is None:
                return 0, True, registers, []
            _hll_add(registers, self._hashes(self.keys), ordered=self.hashed)
            pairs: list[tuple[Any, int]] = []
            if self.keep_top and top_k:
                repeated = np.flatnonzero(self.counts > 1)
                if repeated.size > top_k:  # the top_k counts and every tie of the last one
                    threshold = np.partition(self.counts[repeated], -top_k)[-top_k]
                    repeated = repeated[self.counts[repeated] >= threshold]
                keys, counts = self.keys[repeated], self.counts[repeated]
                order = np.lexsort((keys, -counts))[:top_k]  # ties: the smaller key first
                pairs = list(zip(keys[order].tolist(), counts[order].tolist(), strict=True))
            return int(self.keys.size), True, registers, pairs
        ranked = sorted(self.top.items(), key=lambda item: (-item[1], item[0]))
        pairs = [(key, count) for key, count in ranked if count > 1][:top_k]
        return _hll_estimate(self.registers), False, self.registers, pairs
