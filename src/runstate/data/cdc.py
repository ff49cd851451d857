"""Content-defined chunking (FastCDC with a gear hash): compiled kernels, boundaries pinned.

A content-defined chunker puts chunk boundaries where the *content* says so, not at fixed
offsets, so an insertion or deletion moves only the boundaries next to it: the chunks
before and after it keep their bytes, and a content-addressed store keeps one copy of them.
runstate's table snapshots use it to store each day's snapshot of a slowly changing table
at about the cost of what changed (``runstate.data.snapshot``; docs/storage.md, "Table
snapshots"). Two kernels, one rule:

* :func:`byte_cuts` — FastCDC (Xia et al., USENIX ATC 2016) over a byte buffer, with a gear
  rolling hash and normalised chunking (level 2);
* :func:`row_cuts` — the same algorithm over a sequence of *rows*, where each row is one
  symbol with a 64-bit content hash (its ``runstate.rowfp/v1`` fingerprint) and a size in
  bytes: a boundary can only fall between rows, and a row of ``s`` bytes is as likely to end
  a chunk as ``s`` bytes of a byte stream are.

Boundaries are a pure function of the input and the three sizes, written down here and
pinned by golden tests (``tests/test_snapshot.py``): the store deduplicates only if next
year's runstate cuts yesterday's data where this one did. Changing anything below is a
format change (a new ``runstate.snapshot`` version), never a silent one.

**Constants.** ``mix64`` is SplitMix64's finaliser (docs/fingerprints.md). The gear table
is ``GEAR[b] = mix64(0x6765617274616273 + b)`` for ``b`` in 0…255 (the constant is ASCII
``"geartabs"``). All arithmetic is on unsigned 64-bit integers, wrapping.

**Sizes.** ``min_size < avg_size < max_size``, ``avg_size`` a power of two ``2^k`` with
``3 <= k <= 60``. Normalised chunking makes a cut harder before ``avg_size`` bytes and
easier after it: with ``MASK(j)`` the ``j`` *top* bits of a 64-bit word set (the top bits of
a gear hash depend on the last 64 bytes, the low bits on the last few only),
``MASK_S = MASK(k + 2)`` and ``MASK_L = MASK(k - 2)``.

**byte_cuts.** A chunk starting at offset ``s`` of an ``n``-byte buffer::

    left = n - s
    if left <= min_size: the chunk ends at n
    end    = min(left, max_size)
    center = min(avg_size, end)
    h = 0
    for i in min_size … end-1:                 # bytes before min_size are never hashed
        h = (h << 1) + GEAR[data[s + i]]
        mask = MASK_S if i < center else MASK_L
        if h & mask == 0: the chunk ends at s + i + 1 (the byte i is its last)
    otherwise the chunk ends at s + end

**row_cuts.** Rows ``0 … n-1`` with hashes ``r[j]`` and sizes ``z[j] >= 0`` (bytes). A
chunk starting at row ``s`` accumulates ``acc`` = the sizes of its rows so far; after adding
row ``j``::

    if acc >= max_size: the chunk ends after row j
    elif acc >= min_size:
        x = mix64(r[j] ^ 0x726F776375747321)               # ASCII "rowcuts!"
        shift = 64 - (k + 2) if acc - z[j] < avg_size else 64 - (k - 2)
        t = z[j] << shift, or 2^64 - 1 if that overflows (or z[j] >= 2^(64 - shift))
        if x < t: the chunk ends after row j
    the last chunk ends after row n-1

so a row of ``z`` bytes ends a chunk with probability ``z / 2^(k+2)`` while the chunk is
shorter than ``avg_size`` and ``z / 2^(k-2)`` after — the byte kernel's odds per byte, summed
over the row. A row's decision depends on its own hash and size and on the sizes since
the last boundary only, so a changed, inserted or deleted row moves at most the boundaries
up to the next one that both sequences share (usually the next one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runstate.data.numba_setup import configure

configure()

import numba  # noqa: E402

__all__ = ["GEAR", "GEAR_SEED", "ROW_SEED", "byte_cuts", "check_sizes", "gear", "row_cuts"]

_MASK64 = (1 << 64) - 1
GEAR_SEED = 0x6765617274616273  # ASCII "geartabs"
ROW_SEED = 0x726F776375747321  # ASCII "rowcuts!"


def _mix64_py(x: int) -> int:
    x &= _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def gear() -> np.ndarray[Any, np.dtype[np.uint64]]:
    """The gear table: ``GEAR[b] = mix64(GEAR_SEED + b)``."""
    return np.array([_mix64_py(GEAR_SEED + b) for b in range(256)], dtype=np.uint64)


GEAR = gear()


def check_sizes(min_size: int, avg_size: int, max_size: int) -> int:
    """Validate the three sizes; return ``k`` with ``avg_size == 2**k``."""
    k = avg_size.bit_length() - 1
    if avg_size != 1 << k or not 3 <= k <= 60:
        raise ValueError(f"avg_size must be a power of two from 8 to 2**60, not {avg_size}")
    if not 0 <= min_size < avg_size < max_size:
        raise ValueError(
            f"chunk sizes must satisfy 0 <= min < avg < max, got {min_size}, {avg_size}, {max_size}"
        )
    return k


def _top_mask(bits: int) -> Any:
    """``MASK(bits)``: the top ``bits`` bits of a 64-bit word set (a numpy uint64)."""
    return np.uint64((_MASK64 << (64 - bits)) & _MASK64)


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _byte_kernel(
    data: Any, gear: Any, min_size: int, avg_size: int, max_size: int, mask_s: Any, mask_l: Any
) -> Any:  # pragma: no cover - compiled
    n = data.shape[0]
    cuts = np.empty(n // max(min_size, 1) + 2, np.int64)
    count = 0
    start = 0
    zero = np.uint64(0)
    one = np.uint64(1)
    while start < n:
        left = n - start
        cut = n
        if left > min_size:
            end = left if left < max_size else max_size
            center = avg_size if avg_size < end else end
            h = zero
            cut = start + end
            i = min_size
            while i < end:
                h = (h << one) + gear[data[start + i]]
                if h & (mask_s if i < center else mask_l) == zero:
                    cut = start + i + 1
                    break
                i += 1
        if count == cuts.shape[0]:
            bigger = np.empty(cuts.shape[0] * 2, np.int64)
            bigger[:count] = cuts[:count]
            cuts = bigger
        cuts[count] = cut
        count += 1
        start = cut
    return cuts[:count]


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _row_kernel(
    hashes: Any, sizes: Any, min_size: int, avg_size: int, max_size: int, k: int, seed: Any
) -> Any:  # pragma: no cover - compiled
    n = hashes.shape[0]
    cuts = np.empty(n + 1, np.int64)
    count = 0
    acc = 0
    all_ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    s30 = np.uint64(30)
    s27 = np.uint64(27)
    s31 = np.uint64(31)
    m1 = np.uint64(0xBF58476D1CE4E5B9)
    m2 = np.uint64(0x94D049BB133111EB)
    for j in range(n):
        z = sizes[j]
        before = acc
        acc += z
        if acc >= max_size:
            cuts[count] = j + 1
            count += 1
            acc = 0
            continue
        if acc < min_size:
            continue
        x = hashes[j] ^ seed
        x = (x ^ (x >> s30)) * m1
        x = (x ^ (x >> s27)) * m2
        x = x ^ (x >> s31)
        shift = 64 - (k + 2) if before < avg_size else 64 - (k - 2)
        t = all_ones if z >= (1 << (64 - shift)) else np.uint64(z) << np.uint64(shift)
        if x < t:
            cuts[count] = j + 1
            count += 1
            acc = 0
    if n > 0 and (count == 0 or cuts[count - 1] != n):
        cuts[count] = n
        count += 1
    return cuts[:count]


def byte_cuts(data: Any, min_size: int, avg_size: int, max_size: int) -> np.ndarray[Any, Any]:
    """End offsets of the FastCDC chunks of ``data`` (bytes-like), in order; see above.

    The last offset is ``len(data)``; an empty buffer has no chunks.
    """
    k = check_sizes(min_size, avg_size, max_size)
    view = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if view.shape[0] == 0:
        return np.empty(0, np.int64)
    result: np.ndarray[Any, Any] = _byte_kernel(
        view, GEAR, min_size, avg_size, max_size, _top_mask(k + 2), _top_mask(k - 2)
    )
    return result


def row_cuts(
    hashes: np.ndarray[Any, Any],
    sizes: np.ndarray[Any, Any],
    min_size: int,
    avg_size: int,
    max_size: int,
) -> np.ndarray[Any, Any]:
    """End rows (exclusive) of the content-defined row chunks; see above.

    ``hashes`` are uint64 row hashes, ``sizes`` the rows' sizes in bytes (int64, >= 0). The
    last end is ``len(hashes)``; no rows, no chunks.
    """
    k = check_sizes(min_size, avg_size, max_size)
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    if hashes.shape != sizes.shape:
        raise ValueError("hashes and sizes must have the same length")
    if sizes.shape[0] and int(sizes.min()) < 0:
        raise ValueError("row sizes must be >= 0")
    result: np.ndarray[Any, Any] = _row_kernel(
        hashes, sizes, min_size, avg_size, max_size, k, np.uint64(ROW_SEED)
    )
    return result
