"""The ``runstate.hll/v1`` value hash, written with NumPy so that it never changes: a
64-bit mix of fixed-width values, a word-at-a-time mix of the UTF-8 bytes of strings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa  # type: ignore[import-untyped]

    U64 = npt.NDArray[np.uint64]


_SEED_LENGTH = 0x9E3779B97F4A7C15
_SEED_VALUE = 0x243F6A8885A308D3
_WORD_MULTIPLIER = 0xFF51AFD7ED558CCD


_BLOCK = 1 << 16  # values per step of the hashing loops: temporaries stay in cache


def _mix64_inplace(x: U64) -> U64:
    """SplitMix64's finaliser over a uint64 array, in place (wrapping arithmetic)."""
    import numpy as np

    shifted = np.empty(min(x.size, _BLOCK), dtype=np.uint64)
    for low in range(0, x.size, _BLOCK):
        part = x[low : low + _BLOCK]
        scratch = shifted[: part.size]
        np.right_shift(part, np.uint64(30), out=scratch)
        np.bitwise_xor(part, scratch, out=part)
        np.multiply(part, np.uint64(0xBF58476D1CE4E5B9), out=part)
        np.right_shift(part, np.uint64(27), out=scratch)
        np.bitwise_xor(part, scratch, out=part)
        np.multiply(part, np.uint64(0x94D049BB133111EB), out=part)
        np.right_shift(part, np.uint64(31), out=scratch)
        np.bitwise_xor(part, scratch, out=part)
    return x


def _hash_numbers(values: Any) -> U64:
    """64-bit hashes of int64/uint64/float64 values (floats: -0.0 already made +0.0)."""
    import numpy as np

    if values.dtype.kind == "f":
        values = values + 0.0  # -0.0 → +0.0 (NaN never reaches here)
    bits = np.ascontiguousarray(values).view(np.uint64) ^ np.uint64(_SEED_VALUE)
    return _mix64_inplace(bits)


def _hash_bytes_array(array: pa.Array) -> U64:
    """64-bit hashes of the values of a string/binary array without nulls.

    ``h = len * K0``; then for each 8-byte little-endian word ``w`` of the value (the last
    one zero-padded): ``h = (h ^ w) * K1; h ^= h >> 29``; finally SplitMix64's finaliser.
    Vectorised over blocks of values, one step per word position.
    """
    import numpy as np
    import pyarrow as pa

    if not pa.types.is_large_binary(array.type):
        array = array.cast(pa.large_binary())
    n = len(array)
    hashes = np.empty(n, dtype=np.uint64)
    if n == 0:
        return hashes
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else None
    scratch = np.zeros(0, dtype=np.uint8)
    for low in range(0, n, _BLOCK):
        bounds = offsets[low : low + _BLOCK + 1]
        first, last = int(bounds[0]), int(bounds[-1])
        if scratch.size < last - first + 8:
            scratch = np.zeros(max(last - first + 8, 2 * scratch.size), dtype=np.uint8)
        if data is not None and last > first:
            scratch[: last - first] = data[first:last]
        scratch[last - first : last - first + 8] = 0
        words = np.ndarray(
            shape=(last - first + 1,), dtype="<u8", buffer=scratch.data, offset=0, strides=(1,)
        )
        _hash_block(words, bounds[:-1] - first, np.diff(bounds), hashes[low : low + _BLOCK])
    return _mix64_inplace(hashes)


def _hash_block(words: Any, starts: Any, lengths: Any, out: U64) -> None:
    import numpy as np

    np.multiply(lengths.astype(np.uint64), np.uint64(_SEED_LENGTH), out=out)
    nwords = (lengths + 7) >> 3
    multiplier = np.uint64(_WORD_MULTIPLIER)
    for position in range(int(nwords.max()) if nwords.size else 0):
        active = nwords > position
        index = None if active.all() else np.flatnonzero(active)
        begin = starts if index is None else starts[index]
        remaining = (lengths if index is None else lengths[index]) - 8 * position
        word = words[begin + 8 * position]
        # keep the low `remaining` bytes of a last, partial word: shift the others out and back
        drop = (np.uint64(8) * (np.uint64(8) - np.minimum(remaining, 8).astype(np.uint64))).astype(
            np.uint64
        )
        word <<= drop
        word >>= drop
        current = out if index is None else out[index]
        current ^= word
        current *= multiplier
        current ^= current >> np.uint64(29)
        if index is not None:
            out[index] = current


def _hashes_of_chunks(values: pa.ChunkedArray) -> U64:
    import numpy as np

    parts = [_hash_bytes_array(chunk) for chunk in values.chunks if len(chunk)]
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
