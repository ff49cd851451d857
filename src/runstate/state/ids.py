"""Run ids: UUIDv7 (RFC 9562), so ids sort by creation time and prefixes stay short.

The standard library gains ``uuid.uuid7`` only in Python 3.14; this is the RFC layout:
48 bits of Unix milliseconds, version 7, 12 bits of sub-millisecond order, variant 10,
62 random bits. Within one process ids are strictly increasing even within a millisecond.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

__all__ = ["uuid7"]

_lock = threading.Lock()
_last = 0


def uuid7() -> str:
    """A new UUIDv7 as its 36-character string.

    >>> len(uuid7()), uuid7()[14]
    (36, '7')
    """
    global _last
    with _lock:
        now_ns = time.time_ns()
        # 48 bits of milliseconds and 12 bits of the fraction of the millisecond.
        stamp = (now_ns // 1_000_000) << 12 | ((now_ns % 1_000_000) * 4096 // 1_000_000)
        if stamp <= _last:
            stamp = _last + 1
        _last = stamp
    millis, sub = stamp >> 12, stamp & 0xFFF
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (sub << 64) | (0b10 << 62) | rand
    return str(uuid.UUID(int=value))
