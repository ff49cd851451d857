"""Canonical JSON: the one byte encoding that every id in runstate is computed over.

Ids must not depend on dict order, whitespace, float formatting or the JSON library in use,
or the same state would get a new id after an upgrade. The encoding is ours and written
down here (and in docs/state.md), pinned by golden vectors in ``tests/test_canonical.py``:

* UTF-8, no whitespace, object keys sorted by their UTF-8 bytes, no duplicate keys;
* strings escaped as JSON requires and nothing more (``ensure_ascii=False``), so ``"é"`` is
  the two bytes ``c3 a9``, not ``\\u00e9``;
* integers in decimal (arbitrary size); ``True``/``False``/``None`` as ``true/false/null``;
* floats are allowed only when finite, and are written with Python's shortest round-trip
  ``repr`` (the same algorithm every release since 3.1 uses); a float with an integral value
  is written with its ``.0`` (``1.0``) so it stays distinct from the integer ``1``;
  ``-0.0`` is written as ``0.0`` (they compare equal, so they must not hash apart);
  NaN and infinities are rejected: a manifest that needs them stores them as strings;
* tuples are encoded as arrays; any other type is a ``TypeError`` naming the path to it.

Component ids are ``BLAKE3(canonical bytes)`` as 64 hex characters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import blake3

__all__ = ["canonical_bytes", "content_id", "hash_bytes"]

_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def hash_bytes(data: bytes) -> str:
    """BLAKE3 of ``data`` as 64 lowercase hex characters: the id of every stored object."""
    return blake3.blake3(data).hexdigest()


def canonical_bytes(value: Any) -> bytes:
    """Encode ``value`` canonically; see the module docstring for the rules.

    >>> canonical_bytes({"b": [1, 2.0, None], "a": "é"})
    b'{"a":"\\xc3\\xa9","b":[1,2.0,null]}'
    """
    parts: list[str] = []
    _encode(value, parts, "$")
    return "".join(parts).encode("utf-8")


def content_id(value: Any) -> str:
    """The id of a JSON-able value: BLAKE3 of its canonical bytes."""
    return hash_bytes(canonical_bytes(value))


def _encode(value: Any, out: list[str], path: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value!r} is not allowed in canonical JSON")
        out.append("0.0" if value == 0.0 else float.__repr__(value))
    elif isinstance(value, Mapping):
        items = []
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{path}: object key {key!r} is not a string")
            items.append((key.encode("utf-8"), key))
        items.sort()
        out.append("{")
        for index, (_, key) in enumerate(items):
            if index:
                out.append(",")
            out.append(_encode_str(key))
            out.append(":")
            _encode(value[key], out, f"{path}.{key}")
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out, f"{path}[{index}]")
        out.append("]")
    else:
        raise TypeError(f"{path}: {type(value).__name__} is not canonical-JSON encodable")
