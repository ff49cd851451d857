"""Compiled kernels of ``runstate.rowfp/v1`` (docs/fingerprints.md): XXH64, cell and row hashes.

Import this module lazily (numba costs ~0.3 s to import and kernels load from its cache on
first use): :mod:`runstate.data.tables` does, and nothing on the start-up path of
``import runstate`` or of a capture may.

Every kernel works on a row range ``[lo, hi)`` of one Arrow array, straight from its buffers
(the validity bitmap, values, offsets and data as NumPy views), and writes row ``i`` to
``out[at + i - lo]``, in one of three modes: SET writes the cell hash; COMBINE folds the
cell into a running row (or struct) hash, and START into the row seed::

    COMBINE: out[j] = mix64(out[j] + (name ^ cell))
    START:   out[j] = mix64(0x9E3779B97F4A7C15 + (name ^ cell))

so a flat column is hashed and combined in one pass, without a temporary array. Offsets
(``off``) are Arrow array offsets: element ``i`` is at index ``off + i`` of the values and
at bit ``off + i`` of the bitmaps, so sliced arrays are read in place.

numba's cache: beside this file (``__pycache__``) when that is writable, else
``NUMBA_CACHE_DIR`` if set and writable, else ``~/.cache/runstate/numba``
(``$XDG_CACHE_HOME`` honoured); with no writable folder the kernels compile in every
process (a few seconds) but nothing fails.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

__all__ = [
    "COMBINE",
    "NAME_SEED",
    "NULL",
    "ROW_SEED",
    "SET",
    "START",
    "SUM1_KEY",
    "SUM2_KEY",
    "T_BINARY",
    "T_BOOL",
    "T_DATE",
    "T_DECIMAL",
    "T_DURATION",
    "T_DURATION_WIDE",
    "T_FLOAT",
    "T_INT",
    "T_LIST",
    "T_STRING",
    "T_STRUCT",
    "T_TIME",
    "T_TIMESTAMP",
    "T_TIMESTAMP_WIDE",
    "T_UINT64_HIGH",
    "mix64",
    "tag",
    "xxh64",
    "xxh64_array",
]

# -- where numba caches (decided before numba is imported) ------------------------------------


def _writable_dir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def _choose_cache_dir() -> tuple[bool, str | None]:
    """(caching possible, folder to force or None for numba's default beside the source)."""
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    if user_dir:
        if _writable_dir(Path(user_dir)):
            return True, user_dir
    elif _writable_dir(Path(__file__).resolve().parent / "__pycache__"):
        return True, None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    fallback = Path(base) / "runstate" / "numba"
    if _writable_dir(fallback):
        return True, str(fallback)
    return False, None


_CACHE, _CACHE_DIR = _choose_cache_dir()

import numba  # noqa: E402  (after the cache folder is known)
from llvmlite import ir  # type: ignore[import-untyped]  # noqa: E402
from numba.core.extending import intrinsic  # noqa: E402

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def _cache_dir() -> Iterator[None]:
    """Point numba at our cache folder while a kernel is decorated (its locator is fixed then).

    Setting ``numba.config.CACHE_DIR`` for the decoration only (rather than the environment
    of the whole process) works whether or not numba was imported before, and leaves the
    user's own numba functions and child processes alone.
    """
    if _CACHE_DIR is None:
        yield
        return
    config: Any = numba.config
    previous = config.CACHE_DIR
    config.CACHE_DIR = _CACHE_DIR
    try:
        yield
    finally:
        config.CACHE_DIR = previous


def _tolerant(dispatcher: Any) -> Any:
    """Make cache I/O failures (disk full, folder gone read-only, a corrupt file) non-fatal.

    numba only tolerates them on Windows; here a failed load is a miss (compile instead) and
    a failed save is skipped. Uses numba's private ``_cache`` when present, else no-op.
    """
    cache = getattr(dispatcher, "_cache", None)
    load = getattr(cache, "load_overload", None)
    save = getattr(cache, "save_overload", None)
    if cache is None or load is None or save is None:
        return dispatcher

    def load_overload(*args: Any, **kwargs: Any) -> Any:
        try:
            return load(*args, **kwargs)
        except Exception:
            return None

    def save_overload(*args: Any, **kwargs: Any) -> None:
        try:
            save(*args, **kwargs)
        except Exception:
            pass

    cache.load_overload = load_overload
    cache.save_overload = save_overload
    return dispatcher


def _jit(fn: F, **options: Any) -> F:
    """``numba.njit(cache=True, nogil=True)``, falling back to no cache if caching fails."""
    if _CACHE:
        try:
            with _cache_dir():
                return cast(F, _tolerant(numba.njit(cache=True, nogil=True, **options)(fn)))
        except Exception:  # no cache locator after all: compile per process instead
            pass
    return cast(F, numba.njit(cache=False, nogil=True, **options)(fn))


def _inline(fn: F) -> F:
    """A kernel helper inlined into its callers (numba IR), so no call sits in a hot loop."""
    return _jit(fn, inline="always")


# -- constants of the specification --------------------------------------------------------

_MASK = (1 << 64) - 1


def _mix64_py(x: int) -> int:
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def tag(t: int) -> int:
    """``TAG(t) = mix64(0x72756E7374617465 + t)``."""
    return _mix64_py(0x72756E7374617465 + t)


T_BOOL, T_INT, T_UINT64_HIGH, T_FLOAT, T_DECIMAL, T_STRING, T_BINARY = 1, 2, 3, 4, 5, 6, 7
T_DATE, T_TIME, T_TIMESTAMP, T_TIMESTAMP_WIDE, T_DURATION = 8, 9, 10, 11, 12
T_LIST, T_STRUCT, T_DURATION_WIDE = 13, 14, 15

NULL = _mix64_py(0x6E756C6C)
SET, COMBINE, START = 0, 1, 2  # kernel modes (see the module docstring)
NAME_SEED = 0x636F6C756D6E
ROW_SEED = 0x9E3779B97F4A7C15
SUM1_KEY = 0x243F6A8885A308D3
SUM2_KEY = 0x13198A2E03707344

# The same, as numba compile-time constants (all arithmetic is on uint64).
_U = np.uint64
_NULL = _U(NULL)
_TAG_BOOL = _U(tag(T_BOOL))
_TAG_INT = _U(tag(T_INT))
_TAG_UINT64_HIGH = _U(tag(T_UINT64_HIGH))
_TAG_FLOAT = _U(tag(T_FLOAT))
_TAG_DECIMAL = _U(tag(T_DECIMAL))
_TAG_LIST = _U(tag(T_LIST))
_SUM1_KEY = _U(SUM1_KEY)
_ROW_SEED = _U(ROW_SEED)
_SUM2_KEY = _U(SUM2_KEY)
_MIX1 = _U(0xBF58476D1CE4E5B9)
_MIX2 = _U(0x94D049BB133111EB)
_P1 = _U(0x9E3779B185EBCA87)
_P2 = _U(0xC2B2AE3D27D4EB4F)
_P3 = _U(0x165667B19E3779F9)
_P4 = _U(0x85EBCA77C2B2AE63)
_P5 = _U(0x27D4EB2F165667C5)
_SIGN = _U(1 << 63)
_EXP_MASK = _U(0x7FF0000000000000)
_FRAC_MASK = _U(0x000FFFFFFFFFFFFF)
_CANONICAL_NAN = _U(0x7FF8000000000000)
_ZERO = _U(0)
_ONE = _U(1)
_B8 = _U(8)
_B16 = _U(16)
_B24 = _U(24)
_B32 = _U(32)
_B40 = _U(40)
_B48 = _U(48)
_B56 = _U(56)
_S1, _S7, _S11, _S12, _S18, _S23, _S27 = _U(1), _U(7), _U(11), _U(12), _U(18), _U(23), _U(27)
_S29, _S30, _S31, _S33, _S63 = _U(29), _U(30), _U(31), _U(33), _U(63)
_L32 = _U(0xFFFFFFFF)
_BYTE = _U(0xFF)
_B3 = _U(3)
_B7 = _U(7)
_B2 = _U(2)
_B4 = _U(4)
_BILLION = _U(1_000_000_000)
_NS_PER_S = 1_000_000_000
_ASCII_0 = 48
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)


# -- scalar building blocks ------------------------------------------------------------------


@_jit
def mix64(x: Any) -> Any:  # pragma: no cover - compiled
    """SplitMix64's finaliser (a bijection on uint64)."""
    x = (x ^ (x >> _S30)) * _MIX1
    x = (x ^ (x >> _S27)) * _MIX2
    return x ^ (x >> _S31)


@_jit
def _rotl(x: Any, r: Any) -> Any:  # pragma: no cover - compiled
    return (x << r) | (x >> (_U(64) - r))


if sys.byteorder == "little":

    def _load64_typer(typingctx: Any, arr: Any, index: Any) -> Any:  # pragma: no cover
        """An unaligned little-endian 64-bit load from ``arr`` (contiguous uint8) at ``index``."""
        signature = numba.types.uint64(arr, index)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            array = context.make_array(sig.args[0])(context, builder, args[0])
            position = context.cast(builder, args[1], sig.args[1], numba.types.intp)
            pointer = builder.bitcast(builder.gep(array.data, [position]), _I64.as_pointer())
            return builder.load(pointer, align=1)

        return signature, codegen

    def _load32_typer(typingctx: Any, arr: Any, index: Any) -> Any:  # pragma: no cover
        """An unaligned little-endian 32-bit load, zero-extended to uint64."""
        signature = numba.types.uint64(arr, index)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            array = context.make_array(sig.args[0])(context, builder, args[0])
            position = context.cast(builder, args[1], sig.args[1], numba.types.intp)
            pointer = builder.bitcast(builder.gep(array.data, [position]), _I32.as_pointer())
            return builder.zext(builder.load(pointer, align=1), _I64)

        return signature, codegen

    _load64: Any = intrinsic(_load64_typer)
    _load32: Any = intrinsic(_load32_typer)

    @_jit
    def _read64(d: Any, p: Any) -> Any:  # pragma: no cover - compiled
        return _load64(d, p)

    @_jit
    def _read32(d: Any, p: Any) -> Any:  # pragma: no cover - compiled
        return _load32(d, p)

else:  # a big-endian host: assemble the bytes (the hash reads little-endian lanes)

    @_jit
    def _read64(d: Any, p: Any) -> Any:  # pragma: no cover - compiled
        return (
            _U(d[p])
            | (_U(d[p + 1]) << _B8)
            | (_U(d[p + 2]) << _B16)
            | (_U(d[p + 3]) << _B24)
            | (_U(d[p + 4]) << _B32)
            | (_U(d[p + 5]) << _B40)
            | (_U(d[p + 6]) << _B48)
            | (_U(d[p + 7]) << _B56)
        )

    @_jit
    def _read32(d: Any, p: Any) -> Any:  # pragma: no cover - compiled
        return _U(d[p]) | (_U(d[p + 1]) << _B8) | (_U(d[p + 2]) << _B16) | (_U(d[p + 3]) << _B24)


@_jit
def _xxh_round(acc: Any, lane: Any) -> Any:  # pragma: no cover - compiled
    acc = acc + lane * _P2
    acc = _rotl(acc, _S31)
    return acc * _P1


@_jit
def _xxh_merge(acc: Any, val: Any) -> Any:  # pragma: no cover - compiled
    acc = acc ^ _xxh_round(_ZERO, val)
    return acc * _P1 + _P4


@_inline
def xxh64(d: Any, start: Any, length: Any, seed: Any) -> Any:  # pragma: no cover - compiled
    """XXH64 of ``d[start:start + length]`` (``d`` a uint8 array), as in xxhash_spec.md."""
    p = start
    end = start + length
    if length >= 32:
        v1 = seed + _P1 + _P2
        v2 = seed + _P2
        v3 = seed
        v4 = seed - _P1
        limit = end - 32
        while p <= limit:
            v1 = _xxh_round(v1, _read64(d, p))
            v2 = _xxh_round(v2, _read64(d, p + 8))
            v3 = _xxh_round(v3, _read64(d, p + 16))
            v4 = _xxh_round(v4, _read64(d, p + 24))
            p += 32
        acc = _rotl(v1, _S1) + _rotl(v2, _S7) + _rotl(v3, _S12) + _rotl(v4, _S18)
        acc = _xxh_merge(acc, v1)
        acc = _xxh_merge(acc, v2)
        acc = _xxh_merge(acc, v3)
        acc = _xxh_merge(acc, v4)
    else:
        acc = seed + _P5
    acc = acc + _U(length)
    while p + 8 <= end:
        acc = acc ^ _xxh_round(_ZERO, _read64(d, p))
        acc = _rotl(acc, _S27) * _P1 + _P4
        p += 8
    if end + 8 <= d.shape[0]:
        # The last 0-7 bytes without branches (their count varies from string to string and
        # mispredicted branches would cost more than the hash): one 8-byte load (it may read
        # past the string, never past the buffer), then the 4-byte and 1-byte steps of the
        # spec, each applied or not through a mask.
        rest = _U(end - p)
        word = _read64(d, p)
        take = _ZERO - (rest >> _B2)  # all ones when 4 <= rest
        stepped = _rotl(acc ^ ((word & _L32) * _P1), _S23) * _P2 + _P3
        acc = (stepped & take) | (acc & ~take)
        word = ((word >> _B32) & take) | (word & ~take)
        rest = rest - (take & _B4)
        for k in range(3):
            take = _ZERO - _U(_U(k) < rest)
            stepped = _rotl(acc ^ (((word >> (_B8 * _U(k))) & _BYTE) * _P5), _S11) * _P1
            acc = (stepped & take) | (acc & ~take)
        p = end
    if p + 4 <= end:
        acc = acc ^ (_read32(d, p) * _P1)
        acc = _rotl(acc, _S23) * _P2 + _P3
        p += 4
    while p < end:
        acc = acc ^ (_U(d[p]) * _P5)
        acc = _rotl(acc, _S11) * _P1
        p += 1
    acc = acc ^ (acc >> _S33)
    acc = acc * _P2
    acc = acc ^ (acc >> _S29)
    acc = acc * _P3
    return acc ^ (acc >> _B32)


@_jit
def xxh64_array(d: Any, seed: Any) -> Any:  # pragma: no cover - compiled
    """XXH64 of a whole uint8 array."""
    return xxh64(d, 0, d.shape[0], seed)


@_jit
def _bit(bitmap: Any, i: Any) -> Any:  # pragma: no cover - compiled
    """Bit ``i`` (uint64) of an Arrow bitmap (LSB first), as 0 or 1 (uint64)."""
    return (_U(bitmap[i >> _B3]) >> (i & _B7)) & _ONE


@_jit
def _keep(valid: Any, i: Any, cell: Any) -> Any:  # pragma: no cover - compiled
    """``cell`` if bit ``i`` of the validity bitmap is set, else NULL (without a branch)."""
    mask = _ZERO - _bit(valid, i)
    return (cell & mask) | (_NULL & ~mask)


@_jit
def _emit(out: Any, j: Any, name: Any, cell: Any, mode: Any) -> None:  # pragma: no cover
    """Write a cell (SET), fold it into ``out[j]`` (COMBINE) or into the row seed (START)."""
    if mode == 1:
        out[j] = mix64(out[j] + (name ^ cell))
    elif mode == 2:
        out[j] = mix64(_ROW_SEED + (name ^ cell))
    else:
        out[j] = cell


# -- cell kernels (flat types) ------------------------------------------------------------------
#
# Signature: (out, at, lo, hi, name, mode, <the array's buffers and parameters>). Row i of
# [lo, hi) goes to out[at + i - lo]; ``mode`` is SET, COMBINE or START (see _emit).
# Indices are uint64 inside the loops: numba then skips its negative-index wraparound,
# which lets LLVM vectorise the loops (AVX-512 has a 64-bit multiply).


@_jit
def k_fill(out: Any, at: Any, lo: Any, hi: Any, value: Any) -> None:  # pragma: no cover
    """``out[at : at + hi - lo] = value`` (struct seeds)."""
    shift = _U(at) - _U(lo)
    for i in range(_U(lo), _U(hi)):
        out[i + shift] = value


@_jit
def k_const(
    out: Any, at: Any, lo: Any, hi: Any, name: Any, mode: Any, cell: Any
) -> None:  # pragma: no cover - compiled
    """Every row has the same cell (a column of the null type)."""
    shift = _U(at) - _U(lo)
    for i in range(_U(lo), _U(hi)):
        _emit(out, i + shift, name, cell, mode)


@_jit
def k_int(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    values: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
    unsigned64: Any,
) -> None:  # pragma: no cover - compiled
    """Integers of any width: ``mix64(v ^ TAG(2))``; uint64 >= 2^63: ``mix64(v ^ TAG(3))``."""
    high_tag = (_TAG_INT ^ _TAG_UINT64_HIGH) & (_ZERO - _U(unsigned64))
    shift, o, vo = _U(at) - _U(lo), _U(off), _U(voff)
    for i in range(_U(lo), _U(hi)):
        v = _U(values[o + i])  # sign-extended: two's complement 64-bit
        cell = mix64(v ^ _TAG_INT ^ (high_tag & (_ZERO - (v >> _S63))))
        if nulls:
            cell = _keep(valid, vo + i, cell)
        _emit(out, i + shift, name, cell, mode)


@_jit
def k_float(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    bits: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
) -> None:  # pragma: no cover - compiled
    """float64 bit patterns (``bits`` a uint64 view): -0.0 -> +0.0, every NaN -> one NaN."""
    shift, o, vo = _U(at) - _U(lo), _U(off), _U(voff)
    for i in range(_U(lo), _U(hi)):
        v = bits[o + i]
        v = v & (_U(v == _SIGN) - _ONE)  # -0.0 -> 0
        nan = _ZERO - _U(((v & _EXP_MASK) == _EXP_MASK) & ((v & _FRAC_MASK) != _ZERO))
        v = (_CANONICAL_NAN & nan) | (v & ~nan)
        cell = mix64(v ^ _TAG_FLOAT)
        if nulls:
            cell = _keep(valid, vo + i, cell)
        _emit(out, i + shift, name, cell, mode)


@_jit
def k_bool(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    bitmap: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
    cells: Any,
) -> None:  # pragma: no cover - compiled
    """Bit-packed booleans: ``cells[v]``, ``cells = [mix64(0 ^ TAG(1)), mix64(1 ^ TAG(1))]``.

    (A table lookup: LLVM turns a select on a random bit into a mispredicted branch.)
    """
    shift, o, vo = _U(at) - _U(lo), _U(off), _U(voff)
    for i in range(_U(lo), _U(hi)):
        cell = cells[_bit(bitmap, o + i)]
        if nulls:
            cell = _keep(valid, vo + i, cell)
        _emit(out, i + shift, name, cell, mode)


@_jit
def k_binary(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    offsets: Any,
    data: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
    seed: Any,
) -> None:  # pragma: no cover - compiled
    """Variable-width strings/binaries (int32 or int64 offsets): ``xxh64(bytes, seed)``."""
    shift, o, vo = _U(at) - _U(lo), _U(off), _U(voff)
    for i in range(_U(lo), _U(hi)):
        if nulls and not _bit(valid, vo + i):
            _emit(out, i + shift, name, _NULL, mode)
            continue
        start = np.int64(offsets[o + i])
        length = np.int64(offsets[o + i + _ONE]) - start
        _emit(out, i + shift, name, xxh64(data, start, length, seed), mode)


@_jit
def k_fixed_binary(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    data: Any,
    width: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
    seed: Any,
) -> None:  # pragma: no cover - compiled
    """fixed_size_binary(width): ``xxh64(bytes, seed)``."""
    shift, vo = _U(at) - _U(lo), _U(voff)
    for i in range(_U(lo), _U(hi)):
        if nulls and not _bit(valid, vo + i):
            _emit(out, i + shift, name, _NULL, mode)
            continue
        start = (off + np.int64(i)) * width
        _emit(out, i + shift, name, xxh64(data, start, width, seed), mode)


@_jit
def k_temporal(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    values: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
    div: Any,
    mult: Any,
    tag_value: Any,
    wide_tag: Any,
    wide: Any,
) -> None:  # pragma: no cover - compiled
    """Dates, times, timestamps, durations as int64 ``v`` (floor ``/ div``, then ``* mult``).

    ``mix64(v ^ tag_value)``; with ``wide``, a value whose ``v * mult`` (nanoseconds) does not
    fit int64 hashes as ``mix64(mix64(s ^ wide_tag) + n)`` (``s`` whole seconds, floor;
    ``n`` the nanoseconds within that second). Without ``wide`` the product wraps.
    """
    shift, o, vo = _U(at) - _U(lo), _U(off), _U(voff)
    # v * mult fits int64 iff low <= v <= high: for mult in (1e3, 1e6, 1e9), which do not
    # divide 2^63, ceil(-2^63 / mult) == -((2^63 - 1) // mult); mult == 1 never overflows.
    high = np.int64(9223372036854775807) // mult
    low = -high
    outside = False
    if wide and mult > 1:  # one cheap pass decides whether the careful loop is needed
        for i in range(_U(lo), _U(hi)):
            v = np.int64(values[o + i])
            outside |= (v > high) | (v < low)
    if div == 1 and not outside:
        for i in range(_U(lo), _U(hi)):
            cell = mix64(_U(np.int64(values[o + i]) * mult) ^ tag_value)
            if nulls:
                cell = _keep(valid, vo + i, cell)
            _emit(out, i + shift, name, cell, mode)
        return
    per_second = np.int64(_NS_PER_S) // mult if mult <= _NS_PER_S else np.int64(1)
    for i in range(_U(lo), _U(hi)):
        if nulls and not _bit(valid, vo + i):
            _emit(out, i + shift, name, _NULL, mode)
            continue
        v = np.int64(values[o + i]) // div  # numba's // floors, as Python's
        if wide and mult > 1 and (v > high or v < low):
            s = v // per_second
            n = (v - s * per_second) * mult
            cell = mix64(mix64(_U(s) ^ wide_tag) + _U(n))
        else:
            cell = mix64(_U(v * mult) ^ tag_value)
        _emit(out, i + shift, name, cell, mode)


@_jit
def k_decimal(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    data: Any,
    width: Any,
    scale: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
) -> None:  # pragma: no cover - compiled
    """Decimals (little-endian two's complement of ``width`` bytes): ``xxh64(text, TAG(5))``.

    The text is the normalised decimal of docs/fingerprints.md, built here from the integer
    (base 10^9 long division over 32-bit limbs), independent of any library's formatting.
    """
    nlimbs = width // 4
    limbs = np.zeros(nlimbs, np.uint64)
    digits = np.zeros(nlimbs * 10 + 9, np.uint8)  # least significant first
    abs_scale = scale if scale >= 0 else -scale
    text = np.zeros(nlimbs * 10 + abs_scale + 12, np.uint8)
    for i in range(lo, hi):
        j = at + i - lo
        if nulls and not _bit(valid, _U(voff + i)):
            _emit(out, j, name, _NULL, mode)
            continue
        base = (off + i) * width
        for k in range(nlimbs):
            limbs[k] = _read32(data, base + 4 * k)
        negative = (data[base + width - 1] & 0x80) != 0
        if negative:  # two's complement negation over the limbs
            carry = _ONE
            for k in range(nlimbs):
                x = (limbs[k] ^ _L32) + carry
                limbs[k] = x & _L32
                carry = x >> _B32
        nd = 0
        top = nlimbs  # limbs at and above top are zero
        while top > 0 and limbs[top - 1] == _ZERO:
            top -= 1
        while top > 0:
            rem = _ZERO
            for k in range(top - 1, -1, -1):
                cur = (rem << _B32) | limbs[k]
                limbs[k] = cur // _BILLION
                rem = cur % _BILLION
            while top > 0 and limbs[top - 1] == _ZERO:
                top -= 1
            for _ in range(9):
                digits[nd] = np.uint8(rem % _U(10))
                rem = rem // _U(10)
                nd += 1
        while nd > 0 and digits[nd - 1] == 0:  # leading zeros (digits are reversed)
            nd -= 1
        t = 0
        if nd == 0:
            text[0] = _ASCII_0
            t = 1
        else:
            if negative:
                text[t] = 45  # "-"
                t += 1
            if scale <= 0:
                for k in range(nd - 1, -1, -1):
                    text[t] = _ASCII_0 + digits[k]
                    t += 1
                for _ in range(-scale):
                    text[t] = _ASCII_0
                    t += 1
            else:
                if nd > scale:
                    for k in range(nd - 1, scale - 1, -1):
                        text[t] = _ASCII_0 + digits[k]
                        t += 1
                else:
                    text[t] = _ASCII_0
                    t += 1
                last = 0  # lowest fraction digit that is not a trailing zero
                while last < scale and (last >= nd or digits[last] == 0):
                    last += 1
                if last < scale:
                    text[t] = 46  # "."
                    t += 1
                    for k in range(scale - 1, last - 1, -1):
                        text[t] = _ASCII_0 + (digits[k] if k < nd else 0)
                        t += 1
        _emit(out, j, name, xxh64(text, 0, t, _TAG_DECIMAL), mode)


# -- cells of nested and encoded types --------------------------------------------------------


@_jit
def k_gather(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    table: Any,
    indices: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
) -> None:  # pragma: no cover - compiled
    """Dictionary arrays: the cell of ``table[indices[i]]`` (the dictionary hashed once)."""
    shift, o, vo = _U(at) - _U(lo), _U(off), _U(voff)
    for i in range(_U(lo), _U(hi)):
        if nulls and not _bit(valid, vo + i):
            _emit(out, i + shift, name, _NULL, mode)
            continue
        _emit(out, i + shift, name, table[_U(indices[o + i])], mode)


@_jit
def k_cells(
    out: Any, at: Any, lo: Any, hi: Any, name: Any, mode: Any, cells: Any, base: Any
) -> None:  # pragma: no cover - compiled
    """Cells computed before (``cells[i - base]``), nulls already applied."""
    shift, back = _U(at) - _U(lo), _U(base)
    for i in range(_U(lo), _U(hi)):
        _emit(out, i + shift, name, cells[i - back], mode)


@_jit
def k_mask(
    out: Any, at: Any, lo: Any, hi: Any, valid: Any, voff: Any
) -> None:  # pragma: no cover - compiled
    """``out[j] = NULL`` where the validity bit of row ``i`` is clear (struct parents)."""
    for i in range(lo, hi):
        if not _bit(valid, _U(voff + i)):
            out[at + i - lo] = _NULL


@_jit
def k_list(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    offsets: Any,
    sizes: Any,
    has_sizes: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
    child: Any,
    child_base: Any,
) -> None:  # pragma: no cover - compiled
    """Lists: ``h = mix64(k ^ TAG(13))``, then ``h = mix64(h + cell(e))`` per element.

    Element ``e`` of row ``i`` starts at ``offsets[off + i]`` (list views: ``sizes`` gives the
    length; lists: the next offset); ``child[p - child_base]`` is its cell hash.
    """
    for i in range(lo, hi):
        j = at + i - lo
        if nulls and not _bit(valid, _U(voff + i)):
            _emit(out, j, name, _NULL, mode)
            continue
        start = np.int64(offsets[off + i])
        k = np.int64(sizes[off + i]) if has_sizes else np.int64(offsets[off + i + 1]) - start
        h = mix64(_U(k) ^ _TAG_LIST)
        p = start - child_base
        for e in range(k):
            h = mix64(h + child[p + e])
        _emit(out, j, name, h, mode)


@_jit
def k_fixed_list(
    out: Any,
    at: Any,
    lo: Any,
    hi: Any,
    name: Any,
    mode: Any,
    width: Any,
    off: Any,
    valid: Any,
    voff: Any,
    nulls: Any,
    child: Any,
    child_base: Any,
) -> None:  # pragma: no cover - compiled
    """fixed_size_list(width): a list of ``width`` elements starting at ``(off + i) * width``."""
    seed = mix64(_U(width) ^ _TAG_LIST)
    for i in range(lo, hi):
        j = at + i - lo
        if nulls and not _bit(valid, _U(voff + i)):
            _emit(out, j, name, _NULL, mode)
            continue
        h = seed
        p = (off + i) * width - child_base
        for e in range(width):
            h = mix64(h + child[p + e])
        _emit(out, j, name, h, mode)


# -- table sums ---------------------------------------------------------------------------------


@_jit
def k_sums(rowfps: Any) -> Any:  # pragma: no cover - compiled
    """``(Σ mix64(r ^ 0x243F…), Σ mix64(r ^ 0x1319…))`` mod 2^64: the multiset hash lanes."""
    s1 = _ZERO
    s2 = _ZERO
    for i in range(rowfps.shape[0]):
        r = rowfps[i]
        s1 += mix64(r ^ _SUM1_KEY)
        s2 += mix64(r ^ _SUM2_KEY)
    return s1, s2
