"""The leaf encoding of table snapshots, ``runstate.leaf/v1``: rows ``[a, b)`` as one object.

A snapshot (:mod:`runstate.data.snapshot`) cuts a table into content-defined runs of rows
of about two kilobytes ("leaves") and stores each leaf as one object. Leaves are small so
that a scattered change rewrites little; small blocks compress poorly as Arrow IPC + zstd,
so a leaf is laid out for its compressor first, the way Parquet and Blosc do: column by
column, each fixed-width column *byte-shuffled* (all first bytes, then all second bytes,
…), integers *delta-encoded* when they never decrease within the leaf (sorted keys,
timestamps of an append-only log), strings as their lengths (shuffled) then their bytes. On
the benchmark table (bench/snapshots.py) leaves of ~36 rows take ~38 bytes a row this way
against ~47 as Arrow IPC + zstd (a whole zstd Parquet file: 25).

**Object.** ``le32(raw length) ‖ zstd frame of the raw leaf`` (the frame is zstd at level
``ZSTD_LEVEL``; decoding does not depend on the level).

**Raw leaf.** ``le32(rows n) ‖ le32(columns c) ‖ le32(part length) × c ‖ part × c``, one
part per column of the snapshot's schema, in schema order. Every part starts with a flags
byte: bit 0 = a validity bitmap follows (the leaf has nulls in this column), bit 1 =
values are delta-encoded. A validity bitmap is ``ceil(n / 8)`` bytes, Arrow's bit order
(row ``i`` is bit ``i % 8`` of byte ``i // 8``; 1 = valid). What follows depends on the
column's kind, fixed by its Arrow type:

=========  ==================================================================================
kind       payload after flags and validity
=========  ==================================================================================
FIXED      every fixed-width type (integers, floats, decimals, dates, times, timestamps,
           durations, intervals, fixed-size binary) of ``w`` bytes a value: the ``n × w``
           value bytes shuffled — byte ``k`` of row ``i`` at ``k·n + i``. Null slots hold
           zeros. Integer-like types of 4 or 8 bytes (integers, dates, times, timestamps,
           durations) are delta-encoded (flag bit 1) when the values (nulls as 0) never
           decrease, in their own signedness: row 0 keeps its value, row ``i`` stores
           ``v[i] - v[i-1]`` modulo ``2^(8w)``.
BOOL       booleans: ``ceil(n / 8)`` bytes of value bits (null slots 0).
VARBIN     string, binary (``o`` = 4) and large_string, large_binary (``o`` = 8): the value
           lengths as ``o``-byte integers, shuffled (null slots 0), then the bytes of the
           values, in row order.
DICT       a dictionary-encoded column: its indices as FIXED (the dictionary itself is
           stored once per snapshot, see :mod:`runstate.data.snapshot`).
OTHER      anything else (lists, structs, maps, views, unions, null, extension types…):
           the leaf's rows of the column, compacted, as Arrow IPC: the record batch
           message of a one-column batch, or — when the type holds a dictionary, which a
           batch message cannot carry — a whole IPC stream (schema, dictionaries, batch).
=========  ==================================================================================

Encoding is a pure function of the rows' values (null slots are zeroed, sliced buffers are
never written whole), so the same rows make the same leaf wherever they sit in the table —
what deduplication needs. Kernels run over all the leaves of a group at once, so a
million-row table costs a few passes over its buffers rather than a Python call per cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from runstate.data.numba_setup import configure

configure()

import numba  # noqa: E402

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BOOL",
    "DICT",
    "FIXED",
    "OTHER",
    "VARBIN",
    "ZSTD_LEVEL",
    "ColumnPlan",
    "decode_leaves",
    "encode_leaves",
    "plan_for",
    "row_sizes",
]

FIXED, BOOL, VARBIN, DICT, OTHER = 1, 2, 3, 4, 5
ZSTD_LEVEL = 3
_HAS_VALIDITY, _DELTA = 1, 2
_NO_DELTA, _DELTA_UNSIGNED, _DELTA_SIGNED = 0, 1, 2

U8 = np.ndarray[Any, np.dtype[np.uint8]]
I64 = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is encoded: its kind, value (or offset) width and delta rule."""

    kind: int
    width: int = 0
    delta: int = _NO_DELTA


def plan_for(arrow_type: pa.DataType) -> ColumnPlan:
    import pyarrow as pa

    t = arrow_type
    if pa.types.is_dictionary(t):
        return ColumnPlan(DICT, t.index_type.bit_width // 8, _delta_rule(t.index_type))
    if pa.types.is_boolean(t):
        return ColumnPlan(BOOL)
    if pa.types.is_string(t) or pa.types.is_binary(t):
        return ColumnPlan(VARBIN, 4)
    if pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        return ColumnPlan(VARBIN, 8)
    if isinstance(t, pa.BaseExtensionType) or pa.types.is_nested(t):
        return ColumnPlan(OTHER)
    try:
        bits = t.bit_width
    except ValueError:
        return ColumnPlan(OTHER)
    if bits <= 0 or bits % 8 or t.num_buffers != 2:
        return ColumnPlan(OTHER)
    return ColumnPlan(FIXED, bits // 8, _delta_rule(t))


def _delta_rule(t: pa.DataType) -> int:
    import pyarrow as pa

    if t.bit_width not in (32, 64):
        return _NO_DELTA
    if pa.types.is_unsigned_integer(t):
        return _DELTA_UNSIGNED
    if pa.types.is_integer(t) or (
        pa.types.is_temporal(t) and not pa.types.is_interval(t)
    ):  # dates, times, timestamps, durations are signed integers underneath
        return _DELTA_SIGNED
    return _NO_DELTA


# -- buffer views ---------------------------------------------------------------------------

_EMPTY = np.zeros(0, np.uint8)


def _u8(buffer: pa.Buffer | None) -> U8:
    if buffer is None or buffer.size == 0:
        return _EMPTY
    return np.frombuffer(buffer, dtype=np.uint8)


def _validity(arr: pa.Array) -> tuple[U8, int, bool]:
    """(bitmap bytes, bit offset, has nulls) of a top-level array."""
    buffers = arr.buffers()
    if arr.null_count == 0 or buffers[0] is None:
        return _EMPTY, 0, False
    return _u8(buffers[0]), arr.offset, True


def _offsets(arr: pa.Array, width: int) -> np.ndarray[Any, Any]:
    dtype = np.int32 if width == 4 else np.int64
    buffer = arr.buffers()[1]
    if buffer is None or buffer.size == 0:
        return np.zeros(arr.offset + len(arr) + 1, dtype)
    return np.frombuffer(buffer, dtype=dtype)


def _values(arr: pa.Array) -> U8:
    """The value (or index) buffer of a FIXED, BOOL or DICT array."""
    return _u8(arr.buffers()[1])


# -- row sizes (where content-defined cuts may fall) ----------------------------------------


def row_sizes(table: pa.Table) -> I64:
    """Bytes each row occupies, about as a leaf stores it: what leaf sizes are measured in.

    A pure function of each row's own values: FIXED and DICT ``w``, BOOL 1, VARBIN ``o``
    plus the value's length, nested types their elements' sizes plus offsets, other
    types 8 (null type 0).
    """
    sizes = np.zeros(table.num_rows, np.int64)
    for column in table.columns:
        for arr, start in _chunks_with_starts(column):
            sizes[start : start + len(arr)] += _array_sizes(arr)
    return sizes


def _chunks_with_starts(column: pa.ChunkedArray) -> list[tuple[pa.Array, int]]:
    out, start = [], 0
    for chunk in column.chunks:
        out.append((chunk, start))
        start += len(chunk)
    return out


def _array_sizes(arr: pa.Array) -> I64:
    import pyarrow as pa

    n = len(arr)
    t = arr.type
    if n == 0:
        return np.zeros(0, np.int64)
    if isinstance(arr, pa.ExtensionArray):
        return _array_sizes(arr.storage)
    if pa.types.is_dictionary(t):
        return np.full(n, t.index_type.bit_width // 8, np.int64)
    if pa.types.is_null(t):
        return np.zeros(n, np.int64)
    if pa.types.is_boolean(t):
        return np.ones(n, np.int64)
    plan = plan_for(t)
    if plan.kind == FIXED:
        return np.full(n, plan.width, np.int64)
    if plan.kind == VARBIN:
        offsets = _offsets(arr, plan.width)[arr.offset : arr.offset + n + 1].astype(np.int64)
        return np.diff(offsets) + plan.width
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        width = 8 if pa.types.is_large_list(t) else 4
        offsets = _offsets(arr, width)[arr.offset : arr.offset + n + 1].astype(np.int64)
        child = np.concatenate([[0], np.cumsum(_array_sizes(arr.values))]).astype(np.int64)
        return child[offsets[1:]] - child[offsets[:-1]] + width
    if pa.types.is_fixed_size_list(t):
        size = t.list_size
        child = _array_sizes(arr.values)[arr.offset * size : (arr.offset + n) * size]
        return child.reshape(n, size).sum(axis=1) if size else np.zeros(n, np.int64)
    if pa.types.is_struct(t):
        total = np.zeros(n, np.int64)
        for index in range(t.num_fields):
            total += _array_sizes(arr.field(index))
        return total
    return np.full(n, 8, np.int64)


# -- kernels --------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _bit(buf: Any, i: int) -> Any:  # pragma: no cover - compiled
    return (buf[i >> 3] >> (i & 7)) & 1


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _null_counts(
    valid: Any, boff: int, has: bool, starts: Any, ends: Any
) -> Any:  # pragma: no cover
    out = np.zeros(starts.shape[0], np.int64)
    if not has:
        return out
    for j in range(starts.shape[0]):
        count = 0
        for r in range(starts[j], ends[j]):
            if _bit(valid, boff + r) == 0:
                count += 1
        out[j] = count
    return out


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _varbin_data_lengths(
    offsets: Any, aoff: int, valid: Any, boff: int, has: bool, starts: Any, ends: Any
) -> Any:  # pragma: no cover - compiled
    out = np.zeros(starts.shape[0], np.int64)
    for j in range(starts.shape[0]):
        total = 0
        for r in range(starts[j], ends[j]):
            if has and _bit(valid, boff + r) == 0:
                continue
            total += offsets[aoff + r + 1] - offsets[aoff + r]
        out[j] = total
    return out


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _put_validity(
    out: Any, q: int, valid: Any, boff: int, a: int, n: int
) -> int:  # pragma: no cover
    nb = (n + 7) >> 3
    for k in range(nb):
        out[q + k] = 0
    for i in range(n):
        if _bit(valid, boff + a + i):
            out[q + (i >> 3)] |= np.uint8(1 << (i & 7))
    return q + nb


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _load(values: Any, index: int, w: int) -> Any:  # pragma: no cover - compiled
    v = np.uint64(0)
    base = index * w
    for k in range(w):
        v |= np.uint64(values[base + k]) << np.uint64(8 * k)
    return v


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _enc_fixed(
    values: Any,
    voff: int,
    w: int,
    delta: int,
    valid: Any,
    boff: int,
    has: bool,
    starts: Any,
    ends: Any,
    nulls: Any,
    out: Any,
    pos: Any,
) -> None:  # pragma: no cover - compiled
    zero = np.uint64(0)
    for j in range(starts.shape[0]):
        a = starts[j]
        n = ends[j] - a
        p = pos[j]
        q = p + 1
        flags = 0
        with_nulls = has and nulls[j] > 0
        if with_nulls:
            flags |= 1
            q = _put_validity(out, q, valid, boff, a, n)
        if w > 8:
            for i in range(n):
                null = with_nulls and _bit(valid, boff + a + i) == 0
                src = (voff + a + i) * w
                for k in range(w):
                    out[q + k * n + i] = 0 if null else values[src + k]
            out[p] = flags
            continue
        bits = np.uint64(8 * w)
        mask = np.uint64(0xFFFFFFFFFFFFFFFF) if w == 8 else (np.uint64(1) << bits) - np.uint64(1)
        flip = np.uint64(1) << (bits - np.uint64(1)) if delta == 2 else zero
        use_delta = False
        if delta != 0 and n > 1:
            use_delta = True
            prev = zero
            for i in range(n):
                v = zero
                if not (with_nulls and _bit(valid, boff + a + i) == 0):
                    v = _load(values, voff + a + i, w)
                key = v ^ flip
                if i > 0 and key < prev:
                    use_delta = False
                    break
                prev = key
        if use_delta:
            flags |= 2
        prev = zero
        for i in range(n):
            v = zero
            if not (with_nulls and _bit(valid, boff + a + i) == 0):
                v = _load(values, voff + a + i, w)
            d = v
            if use_delta:
                d = (v - prev) & mask
                prev = v
            for k in range(w):
                out[q + k * n + i] = np.uint8((d >> np.uint64(8 * k)) & np.uint64(0xFF))
        out[p] = flags


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _enc_bool(
    values: Any,
    voff: int,
    valid: Any,
    boff: int,
    has: bool,
    starts: Any,
    ends: Any,
    nulls: Any,
    out: Any,
    pos: Any,
) -> None:  # pragma: no cover - compiled
    for j in range(starts.shape[0]):
        a = starts[j]
        n = ends[j] - a
        p = pos[j]
        q = p + 1
        with_nulls = has and nulls[j] > 0
        out[p] = 1 if with_nulls else 0
        if with_nulls:
            q = _put_validity(out, q, valid, boff, a, n)
        nb = (n + 7) >> 3
        for k in range(nb):
            out[q + k] = 0
        for i in range(n):
            if with_nulls and _bit(valid, boff + a + i) == 0:
                continue
            if _bit(values, voff + a + i):
                out[q + (i >> 3)] |= np.uint8(1 << (i & 7))


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _enc_varbin(
    offsets: Any,
    aoff: int,
    ow: int,
    data: Any,
    valid: Any,
    boff: int,
    has: bool,
    starts: Any,
    ends: Any,
    nulls: Any,
    out: Any,
    pos: Any,
) -> None:  # pragma: no cover - compiled
    for j in range(starts.shape[0]):
        a = starts[j]
        n = ends[j] - a
        p = pos[j]
        q = p + 1
        with_nulls = has and nulls[j] > 0
        out[p] = 1 if with_nulls else 0
        if with_nulls:
            q = _put_validity(out, q, valid, boff, a, n)
        d = q + n * ow
        for i in range(n):
            r = aoff + a + i
            length = 0
            if not (with_nulls and _bit(valid, boff + a + i) == 0):
                length = offsets[r + 1] - offsets[r]
                start = offsets[r]
                for b in range(length):
                    out[d + b] = data[start + b]
                d += length
            for k in range(ow):
                out[q + k * n + i] = np.uint8((length >> (8 * k)) & 0xFF)


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _get_validity(raw: Any, q: int, n: int, out: Any, base: int) -> int:  # pragma: no cover
    for i in range(n):
        if _bit(raw[q:], i):
            out[(base + i) >> 3] |= np.uint8(1 << ((base + i) & 7))
    return q + ((n + 7) >> 3)


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _set_valid(out: Any, base: int, n: int) -> None:  # pragma: no cover - compiled
    for i in range(n):
        out[(base + i) >> 3] |= np.uint8(1 << ((base + i) & 7))


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _dec_fixed(
    raw: Any, ppos: Any, counts: Any, w: int, out: Any, out_valid: Any, with_valid: bool
) -> None:  # pragma: no cover - compiled
    base = 0
    zero = np.uint64(0)
    for j in range(ppos.shape[0]):
        n = counts[j]
        p = ppos[j]
        flags = raw[p]
        q = p + 1
        if flags & 1:
            q = _get_validity(raw, q, n, out_valid, base)
        elif with_valid:
            _set_valid(out_valid, base, n)
        if w > 8:
            for i in range(n):
                dst = (base + i) * w
                for k in range(w):
                    out[dst + k] = raw[q + k * n + i]
        else:
            bits = np.uint64(8 * w)
            mask = (
                np.uint64(0xFFFFFFFFFFFFFFFF) if w == 8 else (np.uint64(1) << bits) - np.uint64(1)
            )
            prev = zero
            delta = flags & 2
            for i in range(n):
                v = zero
                for k in range(w):
                    v |= np.uint64(raw[q + k * n + i]) << np.uint64(8 * k)
                if delta:
                    v = (prev + v) & mask
                    prev = v
                dst = (base + i) * w
                for k in range(w):
                    out[dst + k] = np.uint8((v >> np.uint64(8 * k)) & np.uint64(0xFF))
        base += n


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _dec_bool(
    raw: Any, ppos: Any, counts: Any, out: Any, out_valid: Any, with_valid: bool
) -> None:  # pragma: no cover - compiled
    base = 0
    for j in range(ppos.shape[0]):
        n = counts[j]
        p = ppos[j]
        q = p + 1
        if raw[p] & 1:
            q = _get_validity(raw, q, n, out_valid, base)
        elif with_valid:
            _set_valid(out_valid, base, n)
        for i in range(n):
            if _bit(raw[q:], i):
                out[(base + i) >> 3] |= np.uint8(1 << ((base + i) & 7))
        base += n


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _varbin_total(raw: Any, ppos: Any, plen: Any, counts: Any, ow: int) -> int:  # pragma: no cover
    total = 0
    for j in range(ppos.shape[0]):
        n = counts[j]
        header = 1 + (((n + 7) >> 3) if raw[ppos[j]] & 1 else 0) + n * ow
        total += plen[j] - header
    return total


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _dec_varbin(
    raw: Any,
    ppos: Any,
    counts: Any,
    ow: int,
    offsets: Any,
    data: Any,
    out_valid: Any,
    with_valid: bool,
) -> None:  # pragma: no cover - compiled
    base = 0
    cur = 0
    offsets[0] = 0
    for j in range(ppos.shape[0]):
        n = counts[j]
        p = ppos[j]
        q = p + 1
        if raw[p] & 1:
            q = _get_validity(raw, q, n, out_valid, base)
        elif with_valid:
            _set_valid(out_valid, base, n)
        d = q + n * ow
        for i in range(n):
            length = 0
            for k in range(ow):
                length |= np.int64(raw[q + k * n + i]) << (8 * k)
            for b in range(length):
                data[cur + b] = raw[d + b]
            d += length
            cur += length
            offsets[base + i + 1] = cur
        base += n


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _write_headers(out: Any, leaf_pos: Any, rows: Any, sizes: Any) -> None:  # pragma: no cover
    ncols = sizes.shape[1]
    for j in range(leaf_pos.shape[0]):
        p = leaf_pos[j]
        words = np.empty(2 + ncols, np.int64)
        words[0] = rows[j]
        words[1] = ncols
        for c in range(ncols):
            words[2 + c] = sizes[j, c]
        for w in range(2 + ncols):
            value = words[w]
            for k in range(4):
                out[p + 4 * w + k] = np.uint8((value >> (8 * k)) & 0xFF)


# -- encoding -------------------------------------------------------------------------------


def _has_dictionary(t: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return True
    if isinstance(t, pa.BaseExtensionType):
        return _has_dictionary(t.storage_type)
    return any(_has_dictionary(t.field(i).type) for i in range(t.num_fields))


def _other_part(field: pa.Field, arr: pa.Array, start: int, end: int) -> bytes:
    """Rows [start, end) of ``arr``, compacted, as Arrow IPC: a record batch message of a
    one-column batch, or a whole stream (schema, dictionaries, batch) if the type holds
    dictionaries, which a lone batch message cannot carry."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    piece = arr.slice(start, end - start)
    if pa.types.is_string_view(piece.type) or pa.types.is_binary_view(piece.type):
        # No take kernel for views, and IPC writes a slice's data buffers whole: rebuild
        # the view from its values, so the leaf depends on its own rows only.
        plain = pa.string() if pa.types.is_string_view(piece.type) else pa.binary()
        rows = pa.array(np.arange(end - start, dtype=np.int64))
        piece = piece.cast(plain).take(rows).cast(piece.type)  # take: exact-size buffers
    else:
        try:  # compacted: IPC writes some sliced buffers whole (string data)
            piece = piece.take(pa.array(np.arange(end - start, dtype=np.int64)))
        except pa.ArrowNotImplementedError:  # no take kernel: correct, dedups less
            pass
    schema = pa.schema([field])
    batch = pa.RecordBatch.from_arrays([piece], schema=schema)
    if not _has_dictionary(field.type):
        return bytes(batch.serialize())
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue())


def encode_leaves(
    table: pa.Table, plans: list[ColumnPlan], starts: I64, ends: I64
) -> tuple[U8, I64, I64]:
    """Raw leaves for rows ``[starts[j], ends[j])`` of ``table`` (single-chunk columns).

    Returns one buffer holding every raw leaf back to back, each leaf's start in it and each
    leaf's length.
    """
    count = starts.shape[0]
    ncols = len(plans)
    rows = ends - starts
    nb = (rows + 7) >> 3
    sizes = np.zeros((count, ncols), np.int64)
    nulls_of: list[I64] = []
    others: dict[int, list[bytes]] = {}
    for c, plan in enumerate(plans):
        arr = _single(table.column(c))
        valid, boff, has = _validity(arr)
        nulls = _null_counts(valid, boff, has, starts, ends)
        nulls_of.append(nulls)
        bitmap = np.where(nulls > 0, nb, 0)
        if plan.kind in (FIXED, DICT):
            sizes[:, c] = 1 + bitmap + rows * plan.width
        elif plan.kind == BOOL:
            sizes[:, c] = 1 + bitmap + nb
        elif plan.kind == VARBIN:
            lengths = _varbin_data_lengths(
                _offsets(arr, plan.width), arr.offset, valid, boff, has, starts, ends
            )
            sizes[:, c] = 1 + bitmap + rows * plan.width + lengths
        else:
            field = table.schema.field(c)
            parts = [
                _other_part(field, arr, int(a), int(b)) for a, b in zip(starts, ends, strict=True)
            ]
            others[c] = parts
            sizes[:, c] = 1 + np.array([len(p) for p in parts], np.int64)
    header = 8 + 4 * ncols
    lengths_ = header + sizes.sum(axis=1)
    leaf_pos = np.zeros(count, np.int64)
    if count:
        leaf_pos[1:] = np.cumsum(lengths_)[:-1]
    out = np.zeros(int(lengths_.sum()), np.uint8)
    _write_headers(out, leaf_pos, rows, sizes)
    part_pos = leaf_pos[:, None] + header + np.cumsum(sizes, axis=1) - sizes
    for c, plan in enumerate(plans):
        arr = _single(table.column(c))
        valid, boff, has = _validity(arr)
        pos = np.ascontiguousarray(part_pos[:, c])
        if plan.kind in (FIXED, DICT):
            _enc_fixed(
                _values(arr),
                arr.offset,
                plan.width,
                plan.delta,
                valid,
                boff,
                has,
                starts,
                ends,
                nulls_of[c],
                out,
                pos,
            )
        elif plan.kind == BOOL:
            _enc_bool(
                _values(arr), arr.offset, valid, boff, has, starts, ends, nulls_of[c], out, pos
            )
        elif plan.kind == VARBIN:
            _enc_varbin(
                _offsets(arr, plan.width),
                arr.offset,
                plan.width,
                _u8(arr.buffers()[2]),
                valid,
                boff,
                has,
                starts,
                ends,
                nulls_of[c],
                out,
                pos,
            )
        else:
            for j, part in enumerate(others[c]):
                p = int(pos[j])
                out[p] = 0
                out[p + 1 : p + 1 + len(part)] = np.frombuffer(part, np.uint8)
    return out, leaf_pos, lengths_


def _single(column: pa.ChunkedArray) -> pa.Array:
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks()


# -- decoding -------------------------------------------------------------------------------


def decode_leaves(
    raw: U8,
    leaf_pos: I64,
    schema: pa.Schema,
    plans: list[ColumnPlan],
    dictionaries: dict[int, pa.Array],
) -> pa.RecordBatch:
    """One record batch of the raw leaves starting at ``leaf_pos`` in ``raw``, in order."""
    import pyarrow as pa

    ncols = len(plans)
    count = leaf_pos.shape[0]
    header_words = np.empty((count, 2 + ncols), np.int64)
    for j in range(count):
        header_words[j] = np.frombuffer(raw, "<u4", 2 + ncols, int(leaf_pos[j]))
    if count and np.any(header_words[:, 1] != ncols):
        raise ValueError("a leaf's column count differs from its snapshot's schema")
    counts = np.ascontiguousarray(header_words[:, 0])
    sizes = header_words[:, 2:]
    part_pos = leaf_pos[:, None] + 8 + 4 * ncols + np.cumsum(sizes, axis=1) - sizes
    total = int(counts.sum())
    arrays = []
    for c, plan in enumerate(plans):
        field = schema.field(c)
        ppos = np.ascontiguousarray(part_pos[:, c])
        plen = np.ascontiguousarray(sizes[:, c])
        flags = raw[ppos] if count else np.zeros(0, np.uint8)
        with_valid = bool(np.any(flags & _HAS_VALIDITY))
        out_valid = np.zeros((total + 7) >> 3, np.uint8) if with_valid else _EMPTY
        validity = pa.py_buffer(out_valid) if with_valid else None
        if plan.kind in (FIXED, DICT):
            values = np.zeros(total * plan.width, np.uint8)
            _dec_fixed(raw, ppos, counts, plan.width, values, out_valid, with_valid)
            if plan.kind == DICT:
                indices = pa.Array.from_buffers(
                    field.type.index_type, total, [validity, pa.py_buffer(values)]
                )
                arrays.append(
                    pa.DictionaryArray.from_arrays(
                        indices, dictionaries[c], ordered=field.type.ordered
                    )
                )
            else:
                arrays.append(
                    pa.Array.from_buffers(field.type, total, [validity, pa.py_buffer(values)])
                )
        elif plan.kind == BOOL:
            bits = np.zeros((total + 7) >> 3, np.uint8)
            _dec_bool(raw, ppos, counts, bits, out_valid, with_valid)
            arrays.append(pa.Array.from_buffers(field.type, total, [validity, pa.py_buffer(bits)]))
        elif plan.kind == VARBIN:
            data = np.zeros(_varbin_total(raw, ppos, plen, counts, plan.width), np.uint8)
            offsets = np.zeros(total + 1, np.int32 if plan.width == 4 else np.int64)
            _dec_varbin(raw, ppos, counts, plan.width, offsets, data, out_valid, with_valid)
            arrays.append(
                pa.Array.from_buffers(
                    field.type, total, [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
                )
            )
        else:
            arrays.append(_decode_other(raw, ppos, plen, field))
    if not ncols:
        empty = pa.array([{}] * total, pa.struct([]))
        return pa.RecordBatch.from_struct_array(empty)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _decode_other(raw: U8, ppos: I64, plen: I64, field: pa.Field) -> pa.Array:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    schema = pa.schema([field])
    stream = _has_dictionary(field.type)
    pieces = []
    for p, length in zip(ppos, plen, strict=True):
        body = pa.py_buffer(raw[int(p) + 1 : int(p) + int(length)])
        if stream:
            with ipc.open_stream(body) as reader:
                pieces.extend(reader.read_all().column(0).chunks)
        else:
            pieces.append(ipc.read_record_batch(body, schema).column(0))
    if not pieces:
        return pa.array([], field.type)
    return pa.concat_arrays(pieces) if len(pieces) > 1 else pieces[0]
