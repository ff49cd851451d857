"""A slow, pure-Python reference of ``runstate.rowfp/v1``, written from docs/fingerprints.md.

It shares no code with ``runstate.data.rowhash``/``runstate.data.tables``: its own XXH64
(from xxhash_spec.md), its own mix64, tags, decimal text, families and canonical JSON. It
works from Python values (``to_pylist()``: ints, floats, ``decimal.Decimal``, str, bytes,
dicts, lists) plus the Arrow type. Temporal values are taken as their integer storage,
because Python's ``datetime`` cannot hold nanoseconds nor years past 9999; the unit comes
from the type.
Nested arrays are taken apart by hand (offsets, children), not by pyarrow casts.

Every function below follows one line of the specification; speed is not a goal.
"""

from __future__ import annotations

import decimal
import json
import struct
from itertools import pairwise
from typing import Any

import blake3
import pyarrow as pa
import pyarrow.compute as pc

MASK = (1 << 64) - 1

# -- notation -------------------------------------------------------------------------------


def mix64(x: int) -> int:
    x &= MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


P1 = 0x9E3779B185EBCA87
P2 = 0xC2B2AE3D27D4EB4F
P3 = 0x165667B19E3779F9
P4 = 0x85EBCA77C2B2AE63
P5 = 0x27D4EB2F165667C5


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & MASK


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * P2) & MASK
    acc = _rotl(acc, 31)
    return (acc * P1) & MASK


def _merge(acc: int, val: int) -> int:
    acc ^= _round(0, val)
    return (acc * P1 + P4) & MASK


def xxh64(data: bytes, seed: int) -> int:
    """XXH64 as in xxhash_spec.md (v0.1.1), one step per paragraph of the spec."""
    n = len(data)
    p = 0
    if n >= 32:
        v1 = (seed + P1 + P2) & MASK
        v2 = (seed + P2) & MASK
        v3 = seed & MASK
        v4 = (seed - P1) & MASK
        while p + 32 <= n:
            v1 = _round(v1, int.from_bytes(data[p : p + 8], "little"))
            v2 = _round(v2, int.from_bytes(data[p + 8 : p + 16], "little"))
            v3 = _round(v3, int.from_bytes(data[p + 16 : p + 24], "little"))
            v4 = _round(v4, int.from_bytes(data[p + 24 : p + 32], "little"))
            p += 32
        acc = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & MASK
        for v in (v1, v2, v3, v4):
            acc = _merge(acc, v)
    else:
        acc = (seed + P5) & MASK
    acc = (acc + n) & MASK
    while p + 8 <= n:
        acc ^= _round(0, int.from_bytes(data[p : p + 8], "little"))
        acc = (_rotl(acc, 27) * P1 + P4) & MASK
        p += 8
    if p + 4 <= n:
        acc ^= (int.from_bytes(data[p : p + 4], "little") * P1) & MASK
        acc = (_rotl(acc, 23) * P2 + P3) & MASK
        p += 4
    while p < n:
        acc ^= (data[p] * P5) & MASK
        acc = (_rotl(acc, 11) * P1) & MASK
        p += 1
    acc ^= acc >> 33
    acc = (acc * P2) & MASK
    acc ^= acc >> 29
    acc = (acc * P3) & MASK
    return acc ^ (acc >> 32)


def TAG(t: int) -> int:
    return mix64(0x72756E7374617465 + t)


NULL = mix64(0x6E756C6C)


def NAME(name: str) -> int:
    return xxh64(name.encode("utf-8"), 0x636F6C756D6E)


# -- cell hashes ----------------------------------------------------------------------------

UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def decimal_text(value: decimal.Decimal) -> str:
    """'-' if negative, integer digits without leading zeros, '.' and the fraction digits
    that remain after dropping trailing zeros."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    magnitude = int("".join(map(str, digits)) or "0")
    if magnitude == 0:
        return "0"
    prefix = "-" if sign else ""
    if exponent >= 0:
        return prefix + str(magnitude * 10**exponent)
    whole, fraction = divmod(magnitude, 10 ** (-exponent))
    fraction_text = str(fraction).rjust(-exponent, "0").rstrip("0")
    return prefix + str(whole) + ("." + fraction_text if fraction_text else "")


def fixed(v: int, t: int) -> int:
    return mix64((v & MASK) ^ TAG(t))


def wide_instant(ns: int, t: int) -> int:
    s, n = divmod(ns, 10**9)  # floor seconds, 0 <= n < 1e9
    return mix64(mix64((s & MASK) ^ TAG(t)) + n)


def float_bits(value: float) -> int:
    bits: int = struct.unpack("<Q", struct.pack("<d", float(value)))[0]
    if value != value:  # NaN
        return 0x7FF8000000000000
    if bits == 0x8000000000000000:  # -0.0
        return 0
    return bits


def cell(value: Any, t: pa.DataType) -> int:
    types = pa.types
    if value is None or types.is_null(t):
        return NULL
    if types.is_dictionary(t) or types.is_run_end_encoded(t):
        return cell(value, t.value_type)
    if types.is_boolean(t):
        return fixed(1 if value else 0, 1)
    if types.is_integer(t):
        v = int(value)
        return fixed(v, 3) if v >= 2**63 else fixed(v, 2)
    if types.is_floating(t):
        return fixed(float_bits(value), 4)
    if types.is_decimal(t):
        return xxh64(decimal_text(value).encode("ascii"), TAG(5))
    if types.is_string(t) or types.is_large_string(t) or types.is_string_view(t):
        return xxh64(value.encode("utf-8"), TAG(6))
    if (
        types.is_binary(t)
        or types.is_large_binary(t)
        or types.is_fixed_size_binary(t)
        or types.is_binary_view(t)
    ):
        return xxh64(bytes(value), TAG(7))
    if types.is_date32(t):
        return fixed(int(value), 8)
    if types.is_date64(t):
        return fixed(int(value) // 86_400_000, 8)
    if types.is_time(t):
        return fixed(int(value) * UNIT_NS[t.unit], 9)
    if types.is_timestamp(t):
        ns = int(value) * UNIT_NS[t.unit]
        return fixed(ns, 10) if -(2**63) <= ns < 2**63 else wide_instant(ns, 11)
    if types.is_duration(t):
        ns = int(value) * UNIT_NS[t.unit]
        return fixed(ns, 12) if -(2**63) <= ns < 2**63 else wide_instant(ns, 15)
    if types.is_map(t):
        entry = pa.struct([("key", t.key_type), ("value", t.item_type)])
        entries = [{"key": k, "value": v} for k, v in value]
        return cell(entries, pa.list_(entry))
    if (
        types.is_list(t)
        or types.is_large_list(t)
        or types.is_fixed_size_list(t)
        or types.is_list_view(t)
        or types.is_large_list_view(t)
    ):
        h = mix64(len(value) ^ TAG(13))
        for element in value:
            h = mix64(h + cell(element, t.value_type))
        return h
    if types.is_struct(t):
        fields = sorted((t.field(i) for i in range(t.num_fields)), key=lambda f: f.name.encode())
        h = TAG(14)
        for f in fields:
            h = mix64(h + (NAME(f.name) ^ cell(value[f.name], f.type)))
        return h
    raise TypeError(f"reference: unsupported type {t}")


# -- tables ---------------------------------------------------------------------------------


def storage_values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """Python values of a column (``to_pylist()``), temporal leaves as their storage integers.

    Nested arrays are taken apart here, from their offsets and children, rather than cast
    (pyarrow cannot cast every nested type, and its list_view cast is broken in places).
    """
    if isinstance(column, pa.ChunkedArray):
        return [v for chunk in column.chunks for v in storage_values(chunk)]
    t = column.type
    types = pa.types
    if types.is_run_end_encoded(t):
        return storage_values(pc.run_end_decode(column))
    if types.is_dictionary(t):
        dictionary = storage_values(column.dictionary)
        return [None if i is None else dictionary[i] for i in column.indices.to_pylist()]
    # (is_valid() of a dictionary<null> array crashes pyarrow 26: keep it below the branch)
    valid = column.is_valid().to_pylist() if not types.is_null(t) else [False] * len(column)
    if types.is_struct(t):
        fields = {t.field(i).name: storage_values(column.field(i)) for i in range(t.num_fields)}
        return [
            {name: values[row] for name, values in fields.items()} if valid[row] else None
            for row in range(len(column))
        ]
    if types.is_map(t):
        entries = column.values
        keys, items = storage_values(entries.field(0)), storage_values(entries.field(1))
        bounds = column.offsets.to_pylist()
        return [
            list(zip(keys[a:b], items[a:b], strict=True)) if valid[row] else None
            for row, (a, b) in enumerate(pairwise(bounds))
        ]
    if types.is_list(t) or types.is_large_list(t):
        children = storage_values(column.values)
        bounds = column.offsets.to_pylist()
        return [
            children[a:b] if valid[row] else None for row, (a, b) in enumerate(pairwise(bounds))
        ]
    if types.is_fixed_size_list(t):
        size = t.list_size
        children = storage_values(column.values)
        first = column.offset * size
        return [
            children[first + row * size : first + (row + 1) * size] if valid[row] else None
            for row in range(len(column))
        ]
    if types.is_list_view(t) or types.is_large_list_view(t):
        children = storage_values(column.values)
        starts, sizes = column.offsets.to_pylist(), column.sizes.to_pylist()
        return [
            children[start : start + size] if ok else None
            for start, size, ok in zip(starts, sizes, valid, strict=True)
        ]
    if types.is_date32(t) or types.is_time32(t):
        return list(column.cast(pa.int32()).to_pylist())
    if types.is_date64(t) or types.is_time64(t) or types.is_timestamp(t) or types.is_duration(t):
        return list(column.cast(pa.int64()).to_pylist())
    return list(column.to_pylist())


def row_fingerprints(
    table: pa.Table | pa.RecordBatch, columns: list[str] | None = None
) -> list[int]:
    names = sorted(columns if columns is not None else table.schema.names, key=str.encode)
    values = {name: storage_values(table.column(name)) for name in names}
    types = {name: table.schema.field(name).type for name in names}
    out = []
    for row in range(table.num_rows):
        r = 0x9E3779B97F4A7C15
        for name in names:
            r = mix64(r + (NAME(name) ^ cell(values[name][row], types[name])))
        out.append(r)
    return out


def family(t: pa.DataType) -> str:
    types = pa.types
    if types.is_null(t):
        return "null"
    if types.is_boolean(t):
        return "bool"
    if types.is_integer(t):
        return "int"
    if types.is_floating(t):
        return "float"
    if types.is_decimal(t):
        return "decimal"
    if types.is_string(t) or types.is_large_string(t) or types.is_string_view(t):
        return "string"
    if (
        types.is_binary(t)
        or types.is_large_binary(t)
        or types.is_fixed_size_binary(t)
        or types.is_binary_view(t)
    ):
        return "binary"
    for name in ("date", "time", "timestamp", "duration"):
        if getattr(types, f"is_{name}")(t):
            return name
    if types.is_dictionary(t) or types.is_run_end_encoded(t):
        return family(t.value_type)
    if types.is_map(t):
        return f'list<struct<"key":{family(t.key_type)},"value":{family(t.item_type)}>>'
    if (
        types.is_list(t)
        or types.is_large_list(t)
        or types.is_fixed_size_list(t)
        or types.is_list_view(t)
        or types.is_large_list_view(t)
    ):
        return f"list<{family(t.value_type)}>"
    if types.is_struct(t):
        fields = sorted(t, key=lambda f: f.name.encode())
        inner = ",".join(
            f"{json.dumps(f.name, ensure_ascii=False)}:{family(f.type)}" for f in fields
        )
        return f"struct<{inner}>"
    raise TypeError(f"reference: unsupported type {t}")


def canonical_json(value: Any) -> bytes:
    # Enough for the fingerprint document: strings, integers, lists and one flat object.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def table_fingerprint(
    table: pa.Table | pa.RecordBatch, columns: list[str] | None = None, ordered: bool = False
) -> dict[str, Any]:
    names = sorted(columns if columns is not None else table.schema.names, key=str.encode)
    rowfps = row_fingerprints(table, names)
    cols = [[name, family(table.schema.field(name).type)] for name in names]
    s1 = sum(mix64(r ^ 0x243F6A8885A308D3) for r in rowfps) & MASK
    s2 = sum(mix64(r ^ 0x13198A2E03707344) for r in rowfps) & MASK
    document: dict[str, Any] = {
        "schema": "runstate.table-fingerprint/v1",
        "columns": cols,
        "rows": len(rowfps),
    }
    if ordered:
        document["ordered"] = blake3.blake3(
            b"".join(r.to_bytes(8, "little") for r in rowfps)
        ).hexdigest()
    else:
        document["sum"] = f"{s1:016x}"
        document["sum2"] = f"{s2:016x}"
    return {
        "fingerprint": blake3.blake3(canonical_json(document)).hexdigest(),
        "rows": len(rowfps),
        "sum1": s1,
        "sum2": s2,
        "columns": cols,
        "ordered": document.get("ordered"),
    }
