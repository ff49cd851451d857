"""HMAC-SHA256 of every value of an Arrow string/binary array, compiled (imported lazily).

``hash`` column rules mask tens of millions of values; ``hmac.new`` per value costs ~1 µs
of interpreter time each. These kernels work on the Arrow buffers directly: the key's inner
and outer SHA-256 states are computed once (the standard HMAC precomputation), so a value
of up to 55 bytes costs two compressions. Output: 64 lowercase hex characters per value,
written into one fixed-width buffer (value ``i`` at ``[64 i, 64 i + 64)``).

Two kernels, the same result (both checked against :mod:`hmac` in the tests):

* on Linux, the SHA-256 of the libcrypto that Python's own ``_hashlib`` loaded (OpenSSL,
  which uses the CPU's SHA instructions), called from compiled code by symbol name (so the
  compiled kernel is cached like any other) for the block compressions only: ~0.2 µs a
  value (CPU time, one thread, 23-byte values);
* elsewhere, SHA-256 written out here in numba: ~1.2 µs a value.
"""

from __future__ import annotations

from typing import Any

from runstate.data.numba_setup import configure

configure()

import numba  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["hmac_hex"]

_K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
        0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
        0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
        0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
        0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
        0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
        0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
        0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
        0xC67178F2,
    ],
    dtype=np.uint64,
)  # fmt: skip
_IV = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB,
     0x5BE0CD19],
    dtype=np.uint64,
)  # fmt: skip
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8).copy()


_M = np.uint64(0xFFFFFFFF)


@numba.njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _rotr(x: Any, n: int) -> Any:  # pragma: no cover
    return ((x >> np.uint64(n)) | (x << np.uint64(32 - n))) & _M


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _compress(state: Any, block: Any, w: Any, k: Any) -> None:  # pragma: no cover
    """One SHA-256 compression of the 64-byte ``block`` into ``state`` (uint64[8] holding
    32-bit words: numba mixes uint32 and int64 into float64, uint64 throughout does not)."""
    for t in range(16):
        w[t] = (
            (np.uint64(block[4 * t]) << np.uint64(24))
            | (np.uint64(block[4 * t + 1]) << np.uint64(16))
            | (np.uint64(block[4 * t + 2]) << np.uint64(8))
            | np.uint64(block[4 * t + 3])
        )
    for t in range(16, 64):
        x = w[t - 15]
        y = w[t - 2]
        s0 = _rotr(x, 7) ^ _rotr(x, 18) ^ (x >> np.uint64(3))
        s1 = _rotr(y, 17) ^ _rotr(y, 19) ^ (y >> np.uint64(10))
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) & _M
    a = state[0]
    b = state[1]
    c = state[2]
    d = state[3]
    e = state[4]
    f = state[5]
    g = state[6]
    h = state[7]
    for t in range(64):
        s1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = (e & f) ^ ((e ^ _M) & g)
        t1 = (h + s1 + ch + k[t] + w[t]) & _M
        s0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        maj = (a & b) ^ (a & c) ^ (b & c)
        h = g
        g = f
        f = e
        e = (d + t1) & _M
        d = c
        c = b
        b = a
        a = (t1 + s0 + maj) & _M
    state[0] = (state[0] + a) & _M
    state[1] = (state[1] + b) & _M
    state[2] = (state[2] + c) & _M
    state[3] = (state[3] + d) & _M
    state[4] = (state[4] + e) & _M
    state[5] = (state[5] + f) & _M
    state[6] = (state[6] + g) & _M
    state[7] = (state[7] + h) & _M


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _finish(
    state: Any, data: Any, start: int, length: int, prefix: int, block: Any, w: Any, k: Any
) -> None:  # pragma: no cover
    """Hash ``data[start:start+length]`` into ``state``, which has already absorbed
    ``prefix`` bytes (a multiple of 64), and pad."""
    pos = 0
    while length - pos >= 64:
        for i in range(64):
            block[i] = data[start + pos + i]
        _compress(state, block, w, k)
        pos += 64
    rest = length - pos
    for i in range(rest):
        block[i] = data[start + pos + i]
    block[rest] = 0x80
    for i in range(rest + 1, 64):
        block[i] = 0
    if rest >= 56:
        _compress(state, block, w, k)
        for i in range(64):
            block[i] = 0
    bits = (prefix + length) * 8
    for i in range(8):
        block[63 - i] = (bits >> (8 * i)) & 0xFF
    _compress(state, block, w, k)


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _hmac_range(
    starts: Any,
    ends: Any,
    data: Any,
    inner: Any,
    outer: Any,
    out: Any,
    lo: int,
    hi: int,
    k: Any,
    hexd: Any,
) -> None:  # pragma: no cover
    state = np.empty(8, np.uint64)
    block = np.empty(64, np.uint8)
    w = np.empty(64, np.uint64)
    digest = np.empty(32, np.uint8)
    for row in range(lo, hi):
        start = starts[row]
        length = ends[row] - start
        for i in range(8):
            state[i] = inner[i]
        _finish(state, data, start, length, 64, block, w, k)
        for i in range(8):
            v = state[i]
            digest[4 * i] = (v >> np.uint64(24)) & np.uint64(0xFF)
            digest[4 * i + 1] = (v >> np.uint64(16)) & np.uint64(0xFF)
            digest[4 * i + 2] = (v >> np.uint64(8)) & np.uint64(0xFF)
            digest[4 * i + 3] = v & np.uint64(0xFF)
        for i in range(8):
            state[i] = outer[i]
        _finish(state, digest, 0, 32, 64, block, w, k)
        base = 64 * row
        for i in range(8):
            v = state[i]
            for j in range(4):
                byte = (v >> np.uint64(24 - 8 * j)) & np.uint64(0xFF)
                out[base + 8 * i + 2 * j] = hexd[byte >> 4]
                out[base + 8 * i + 2 * j + 1] = hexd[byte & 15]


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _key_state(pad: Any, k: Any, iv: Any) -> Any:  # pragma: no cover
    state = iv.copy()
    block = pad.copy()
    w = np.empty(64, np.uint64)
    _compress(state, block, w, k)
    return state


def _libcrypto_path() -> str | None:
    """The libcrypto this Python's ``_hashlib`` uses (Linux only: read from the maps)."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        import _hashlib  # noqa: F401  (loads libcrypto into the process)

        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "/libcrypto" in path and ".so" in path:
                    return path
    except (ImportError, OSError, IndexError):
        return None
    return None


_fast: Any = None


def _fast_kernel() -> Any:
    """The libcrypto kernel, or None when libcrypto cannot be used."""
    global _fast
    if _fast is None:
        _fast = False
        path = _libcrypto_path()
        if path is not None:
            try:
                import ctypes

                import llvmlite.binding as llvm

                lib = ctypes.CDLL(path)
                lib.SHA256_Transform  # noqa: B018  (present, or AttributeError)
                llvm.load_library_permanently(path)
                from runstate.policy import _hmaccrypto

                _fast = (_hmaccrypto.hmac_range, lib)
            except (OSError, AttributeError, ImportError, RuntimeError):
                _fast = False
    return _fast or None


def key_states(key: bytes) -> tuple[Any, Any]:
    """The SHA-256 states after absorbing ``key XOR ipad`` and ``key XOR opad``."""
    import hashlib

    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    padded = np.frombuffer(key.ljust(64, b"\0"), dtype=np.uint8)
    inner = _key_state(padded ^ np.uint8(0x36), _K, _IV)
    outer = _key_state(padded ^ np.uint8(0x5C), _K, _IV)
    return inner, outer


def hmac_hex(key: bytes, offsets: Any, data: Any, threads: int = 1, rows: Any = None) -> Any:
    """uint8[64 n]: the hex HMAC-SHA256 of each value ``data[offsets[i]:offsets[i+1]]``, or
    of the values at ``rows`` only (in that order) when given."""
    import hashlib

    starts, ends = offsets[:-1], offsets[1:]
    if rows is not None:
        starts, ends = starts[rows], ends[rows]
    n = len(starts)
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    out = np.empty(64 * n, np.uint8)
    fast = _fast_kernel()
    if fast is not None:
        kernel, _lib = fast
        inner64, outer64 = key_states(key)
        inner, outer = inner64.astype(np.uint32), outer64.astype(np.uint32)

        def part(lo: int, hi: int) -> None:
            kernel(starts, ends, data, inner, outer, out, lo, hi, _HEX)
    else:
        inner, outer = key_states(key)

        def part(lo: int, hi: int) -> None:
            _hmac_range(starts, ends, data, inner, outer, out, lo, hi, _K, _HEX)

    if threads <= 1 or n < 100_000:
        part(0, n)
        return out
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, n, threads + 1).astype(np.int64)
    with ThreadPoolExecutor(threads) as pool:
        list(
            pool.map(
                lambda i: part(int(bounds[i]), int(bounds[i + 1])),
                range(threads),
            )
        )
    return out
