"""The libcrypto HMAC kernel of :mod:`runstate.policy._hmackernel` (import it only after
``llvmlite.binding.load_library_permanently`` has loaded libcrypto: ``SHA256_Transform`` is
bound by symbol name, so the compiled kernel can be cached).

Only the compression function is borrowed from OpenSSL (which uses the CPU's SHA
instructions); padding, the HMAC construction and the hex encoding are done here, so a value
of up to 55 bytes costs exactly two block compressions and no library bookkeeping.
``SHA256_CTX`` starts with the eight 32-bit state words ``h[8]``, native byte order.
"""

from __future__ import annotations

from typing import Any

from runstate.data.numba_setup import configure

configure()

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import types  # noqa: E402

__all__ = ["hmac_range"]

_transform: Any = types.ExternalFunction("SHA256_Transform", types.void(types.intp, types.intp))


@numba.njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _absorb_tail(
    ctx_addr: int, block: Any, block_addr: int, data: Any, start: int, length: int
) -> None:  # pragma: no cover
    """Hash ``data[start:start+length]`` (after one 64-byte key block) and pad."""
    pos = 0
    while length - pos >= 64:
        for i in range(64):
            block[i] = data[start + pos + i]
        _transform(ctx_addr, block_addr)
        pos += 64
    rest = length - pos
    for i in range(rest):
        block[i] = data[start + pos + i]
    block[rest] = 0x80
    for i in range(rest + 1, 64):
        block[i] = 0
    if rest >= 56:
        _transform(ctx_addr, block_addr)
        for i in range(64):
            block[i] = 0
    bits = (64 + length) * 8
    for i in range(8):
        block[63 - i] = (bits >> (8 * i)) & 0xFF
    _transform(ctx_addr, block_addr)


@numba.njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _bswap32(v: Any) -> Any:  # pragma: no cover
    return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | ((v >> 24) & 0xFF)


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def hmac_range(
    starts: Any, ends: Any, data: Any, inner: Any, outer: Any, out: Any, lo: int, hi: int, hexd: Any
) -> None:  # pragma: no cover
    """Hex HMAC-SHA256 of values ``lo..hi``; ``inner``/``outer`` are the uint32 states
    after the key's ipad/opad blocks. (x86-64 and other little-endian CPUs.)"""
    ctx = np.zeros(128, np.uint8)
    h = ctx[:32].view(np.uint32)
    block = np.zeros(64, np.uint8)
    outer_block = np.zeros(64, np.uint8)
    outer_block[32] = 0x80
    outer_block[62] = 0x03  # (64 + 32) * 8 = 768 bits, big-endian
    outer_words = outer_block.view(np.uint32)
    ctx_addr = ctx.ctypes.data
    block_addr = block.ctypes.data
    outer_addr = outer_block.ctypes.data
    pairs = np.zeros(256, np.uint16)  # byte -> its two hex digits, as stored (little-endian)
    for b in range(256):
        pairs[b] = np.uint16(hexd[b >> 4]) | (np.uint16(hexd[b & 15]) << np.uint16(8))
    out16 = out.view(np.uint16)
    for row in range(lo, hi):
        start = starts[row]
        length = ends[row] - start
        for i in range(8):
            h[i] = inner[i]
        _absorb_tail(ctx_addr, block, block_addr, data, start, length)
        for i in range(8):
            outer_words[i] = _bswap32(h[i])
            h[i] = outer[i]
        _transform(ctx_addr, outer_addr)
        at = 32 * row
        for i in range(8):
            v = h[i]
            out16[at + 4 * i] = pairs[(v >> 24) & 0xFF]
            out16[at + 4 * i + 1] = pairs[(v >> 16) & 0xFF]
            out16[at + 4 * i + 2] = pairs[(v >> 8) & 0xFF]
            out16[at + 4 * i + 3] = pairs[v & 0xFF]
