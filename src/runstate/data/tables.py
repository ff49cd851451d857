"""Row and table fingerprints of Arrow data: ``runstate.rowfp/v1`` (docs/fingerprints.md).

* :func:`row_fingerprints` — one uint64 per row, from the logical values of the named
  columns (all of them by default; a subset gives *key* fingerprints);
* :func:`table_fingerprint` / :class:`TableHasher` — the table fingerprint (order-independent,
  or ``ordered=True``), computed batch by batch so a large Parquet file is streamed;
* :func:`logical_family` — the family of an Arrow type that the table fingerprint records;
* :func:`warm_up` — pay numba's one-off start-up cost early (optionally in the background).

Every Arrow array is read in place, from its buffers (validity bitmaps, offsets, data), by
the compiled kernels of :mod:`runstate.data.rowhash`, which is imported on first use only
(numba costs ~0.3 s to import). Rows are cut into blocks that threads hash concurrently
(the kernels release the GIL); a block folds every column into its row hashes while they
are in cache.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from runstate.errors import UsageError
from runstate.state.canonical import canonical_bytes, content_id

__all__ = [
    "ROWFP_SCHEMA",
    "TABLE_FINGERPRINT_SCHEMA",
    "TableFingerprint",
    "TableHasher",
    "fingerprint_from_rowfps",
    "logical_family",
    "row_fingerprints",
    "table_fingerprint",
    "warm_up",
]

ROWFP_SCHEMA = "runstate.rowfp/v1"
TABLE_FINGERPRINT_SCHEMA = "runstate.table-fingerprint/v1"

U64Array = npt.NDArray[np.uint64]
TableLike: TypeAlias = pa.Table | pa.RecordBatch

_MASK = (1 << 64) - 1
_BLOCK_ROWS = 1 << 16  # most rows hashed per block (fewer for nested columns)
_MIN_BLOCK_ROWS = 256
_BLOCK_CELLS = 1 << 20  # a block touches about this many cells (list elements count)
_ZERO = np.uint64(0)
_SET, _COMBINE, _START = 0, 1, 2  # kernel modes (runstate.data.rowhash)
_EMPTY_U8 = np.zeros(8, np.uint8)


# -- the kernels, loaded on first use ---------------------------------------------------------

_rowhash: ModuleType | None = None
_rowhash_lock = threading.Lock()


def _kernels() -> ModuleType:
    global _rowhash
    if _rowhash is None:
        with _rowhash_lock:
            from runstate.data import rowhash

            _rowhash = rowhash
    return _rowhash


def warm_up(background: bool = False) -> threading.Thread | None:
    """Import the kernels and initialise numba now (about 0.5–1 s once per process).

    The first fingerprint in a process pays for importing numba and initialising its
    compiler, even when every kernel is cached. A caller that knows a table is coming (say,
    while pyarrow reads a Parquet file, which releases the GIL) can start this in a
    ``background`` thread; the returned thread may be joined, or ignored.
    """

    def run() -> None:
        rh = _kernels()
        rh.k_sums(np.zeros(1, np.uint64))
        _name_hash("")

    if not background:
        run()
        return None
    thread = threading.Thread(target=run, name="runstate-rowhash-warm-up", daemon=True)
    thread.start()
    return thread


@lru_cache(maxsize=4096)
def _name_hash(name: str) -> np.uint64:
    """``NAME(name) = xxh64(utf8(name), 0x636F6C756D6E)``."""
    rh = _kernels()
    data = np.frombuffer(name.encode("utf-8"), np.uint8)
    value: np.uint64 = np.uint64(int(rh.xxh64_array(data, np.uint64(rh.NAME_SEED))))
    return value


def _utf8_order(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda name: name.encode("utf-8"))


# -- logical families ---------------------------------------------------------------------------


def logical_family(arrow_type: pa.DataType) -> str:
    """The logical family of an Arrow type (docs/fingerprints.md, "Table fingerprint").

    ``int``, ``float``, ``string``, … for flat types (widths, units and time zones dropped);
    a dictionary or run-end encoded type has its value type's family; ``list<F>`` and
    ``struct<"name":F,…>`` (fields in UTF-8 order of their names) for nested types, a map
    being ``list<struct<"key":K,"value":V>>``. Unsupported types raise
    :class:`~runstate.errors.UsageError`.
    """
    return _family(arrow_type, "type")


def _quote(name: str) -> str:
    return canonical_bytes(name).decode("utf-8")


def _unsupported(arrow_type: pa.DataType, where: str) -> UsageError:
    return UsageError(
        f"{where}: Arrow type {arrow_type} is not supported by {ROWFP_SCHEMA} "
        "(see docs/fingerprints.md; cast the column to a supported type first)"
    )


def _struct_fields(arrow_type: pa.DataType, where: str) -> list[tuple[int, str]]:
    """(index, name) of a struct type's fields in UTF-8 order; duplicate names refused."""
    names = [arrow_type.field(i).name for i in range(arrow_type.num_fields)]
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        raise UsageError(
            f"{where}: struct field name(s) {', '.join(map(repr, repeated))} occur more than "
            "once; fields are matched by name, so they must be unique"
        )
    return sorted(enumerate(names), key=lambda item: item[1].encode("utf-8"))


def _family(t: pa.DataType, where: str) -> str:
    types = pa.types
    if isinstance(t, pa.BaseExtensionType):
        raise _unsupported(t, where)
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
    if types.is_date(t):
        return "date"
    if types.is_time(t):
        return "time"
    if types.is_timestamp(t):
        return "timestamp"
    if types.is_duration(t):
        return "duration"
    if types.is_dictionary(t) or types.is_run_end_encoded(t):
        return _family(t.value_type, where)
    if types.is_map(t):
        key = _family(t.key_type, f"{where} map key")
        item = _family(t.item_type, f"{where} map value")
        return f"list<struct<{_quote('key')}:{key},{_quote('value')}:{item}>>"
    if (
        types.is_list(t)
        or types.is_large_list(t)
        or types.is_fixed_size_list(t)
        or types.is_list_view(t)
        or types.is_large_list_view(t)
    ):
        return f"list<{_family(t.value_type, f'{where} list element')}>"
    if types.is_struct(t):
        parts = [
            f"{_quote(name)}:{_family(t.field(index).type, f'{where} field {name!r}')}"
            for index, name in _struct_fields(t, where)
        ]
        return f"struct<{','.join(parts)}>"
    raise _unsupported(t, where)


# -- operations: one per (nested) array, each hashing a row range with a kernel --------------


class _Op:
    """Hashes rows ``[lo, hi)`` of one array into ``out[at:]`` (see rowhash's docstring)."""

    weight = 1.0  # cells touched per row (list elements count)

    def run(self, out: U64Array, at: int, lo: int, hi: int, name: np.uint64, mode: int) -> None:
        raise NotImplementedError


class _KernelOp(_Op):
    """``kernel(out, at, lo, hi, name, mode, *args)``."""

    def __init__(self, kernel: Any, *args: Any) -> None:
        self.kernel = kernel
        self.args = args

    def run(self, out: U64Array, at: int, lo: int, hi: int, name: np.uint64, mode: int) -> None:
        self.kernel(out, at, lo, hi, name, mode, *self.args)


class _ListOp(_Op):
    """list / large_list / map: child cells of the block's element range, then fold them."""

    def __init__(self, offsets: Any, off: int, validity: tuple[Any, int, bool], child: _Op):
        self.offsets = offsets
        self.off = off
        self.validity = validity
        self.child = child
        self.kernel = _kernels().k_list

    def run(self, out: U64Array, at: int, lo: int, hi: int, name: np.uint64, mode: int) -> None:
        clo = int(self.offsets[self.off + lo])
        chi = int(self.offsets[self.off + hi])
        cells = np.empty(chi - clo, np.uint64)
        if chi > clo:
            self.child.run(cells, 0, clo, chi, _ZERO, _SET)
        valid, voff, nulls = self.validity
        self.kernel(
            out,
            at,
            lo,
            hi,
            name,
            mode,
            self.offsets,
            self.offsets,
            False,
            self.off,
            valid,
            voff,
            nulls,
            cells,
            clo,
        )


class _FixedListOp(_Op):
    """fixed_size_list(width): child cells of ``[(off + lo) * width, (off + hi) * width)``."""

    def __init__(self, width: int, off: int, validity: tuple[Any, int, bool], child: _Op):
        self.width = width
        self.off = off
        self.validity = validity
        self.child = child
        self.kernel = _kernels().k_fixed_list

    def run(self, out: U64Array, at: int, lo: int, hi: int, name: np.uint64, mode: int) -> None:
        clo = (self.off + lo) * self.width
        chi = (self.off + hi) * self.width
        cells = np.empty(chi - clo, np.uint64)
        if chi > clo:
            self.child.run(cells, 0, clo, chi, _ZERO, _SET)
        valid, voff, nulls = self.validity
        self.kernel(
            out, at, lo, hi, name, mode, self.width, self.off, valid, voff, nulls, cells, clo
        )


class _StructOp(_Op):
    """struct: ``h = TAG(14)``, fold each field's cell by name, NULL where the struct is null."""

    def __init__(self, fields: list[tuple[np.uint64, _Op]], validity: tuple[Any, int, bool]):
        rh = _kernels()
        self.fields = fields
        self.validity = validity
        self.seed = np.uint64(rh.tag(rh.T_STRUCT))
        self.k_fill, self.k_mask, self.k_cells = rh.k_fill, rh.k_mask, rh.k_cells

    def _cells(self, out: U64Array, at: int, lo: int, hi: int) -> None:
        self.k_fill(out, at, lo, hi, self.seed)
        for field_name, op in self.fields:
            op.run(out, at, lo, hi, field_name, _COMBINE)
        valid, voff, nulls = self.validity
        if nulls:
            self.k_mask(out, at, lo, hi, valid, voff)

    def run(self, out: U64Array, at: int, lo: int, hi: int, name: np.uint64, mode: int) -> None:
        if mode == _SET:
            self._cells(out, at, lo, hi)
            return
        cells = np.empty(hi - lo, np.uint64)
        self._cells(cells, 0, lo, hi)
        self.k_cells(out, at, lo, hi, name, mode, cells, lo)


class _Context:
    """State shared while building the operations of one call: dictionaries hashed once."""

    def __init__(self) -> None:
        self.dictionaries: dict[tuple[Any, ...], U64Array] = {}
        self.lock = threading.Lock()


def _validity(arr: pa.Array) -> tuple[Any, int, bool]:
    """(bitmap as uint8, bit offset, has nulls) of an array; a dummy when there are no nulls."""
    if arr.null_count == 0:
        return _EMPTY_U8, 0, False
    buffer = arr.buffers()[0]
    return np.frombuffer(buffer, np.uint8), arr.offset, True


def _view(buffer: pa.Buffer | None, dtype: Any, count: int) -> Any:
    """``count`` items of ``buffer`` as a NumPy view (a dummy when empty)."""
    if buffer is None or count <= 0 or buffer.size == 0:
        return np.zeros(1, dtype)
    return np.frombuffer(buffer, dtype=dtype, count=count)


def _int_dtype(t: pa.DataType) -> np.dtype[Any]:
    """The NumPy dtype of an Arrow integer type (any width, signed or not)."""
    kind = "i" if pa.types.is_signed_integer(t) else "u"
    return np.dtype(f"{kind}{t.bit_width // 8}")


def _cells_of(op: _Op, n: int) -> U64Array:
    cells = np.empty(n, np.uint64)
    if n:
        op.run(cells, 0, 0, n, _ZERO, _SET)
    return cells


@lru_cache(maxsize=1)
def _bool_cells() -> U64Array:
    """``[cell(false), cell(true)]``: the bool kernel looks its cells up."""
    rh = _kernels()
    tag = rh.tag(rh.T_BOOL)
    return np.array([rh._mix64_py(0 ^ tag), rh._mix64_py(1 ^ tag)], np.uint64)


_UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def _op_for(arr: pa.Array, where: str, ctx: _Context) -> _Op:
    rh = _kernels()
    t = arr.type
    types = pa.types
    n = len(arr)
    off = arr.offset
    buffers = arr.buffers()
    if isinstance(t, pa.BaseExtensionType):
        raise _unsupported(t, where)
    if types.is_null(t):
        return _KernelOp(rh.k_const, np.uint64(rh.NULL))
    validity = _validity(arr)
    if types.is_boolean(t):
        bits = _view(buffers[1], np.uint8, (off + n + 7) // 8)
        return _KernelOp(rh.k_bool, bits, off, *validity, _bool_cells())
    if types.is_integer(t):
        values = _view(buffers[1], _int_dtype(t), off + n)
        return _KernelOp(rh.k_int, values, off, *validity, bool(types.is_uint64(t)))
    if types.is_floating(t):
        if types.is_float64(t):
            bits = _view(buffers[1], np.uint64, off + n)
            return _KernelOp(rh.k_float, bits, off, *validity)
        narrow = np.float32 if types.is_float32(t) else np.float16
        with np.errstate(invalid="ignore"):  # widening is exact; NaNs are normalised later
            wide = _view(buffers[1], narrow, off + n)[off : off + n].astype(np.float64)
        return _KernelOp(rh.k_float, wide.view(np.uint64), 0, *validity)
    if types.is_decimal(t):
        data = _view(buffers[1], np.uint8, (off + n) * t.byte_width)
        return _KernelOp(rh.k_decimal, data, t.byte_width, t.scale, off, *validity)
    if (
        types.is_string(t)
        or types.is_binary(t)
        or types.is_large_string(t)
        or types.is_large_binary(t)
    ):
        large = types.is_large_string(t) or types.is_large_binary(t)
        offsets = _view(buffers[1], np.int64 if large else np.int32, off + n + 1)
        data = _view(buffers[2], np.uint8, buffers[2].size if buffers[2] is not None else 0)
        text = types.is_string(t) or types.is_large_string(t)
        seed = np.uint64(rh.tag(rh.T_STRING if text else rh.T_BINARY))
        return _KernelOp(rh.k_binary, offsets, data, off, *validity, seed)
    if types.is_string_view(t):
        return _op_for(arr.cast(pa.large_string()), where, ctx)
    if types.is_binary_view(t):
        return _op_for(arr.cast(pa.large_binary()), where, ctx)
    if types.is_fixed_size_binary(t):
        width = t.byte_width
        data = _view(buffers[1], np.uint8, (off + n) * width)
        return _KernelOp(
            rh.k_fixed_binary, data, width, off, *validity, np.uint64(rh.tag(rh.T_BINARY))
        )
    if types.is_temporal(t) and not types.is_interval(t):
        return _temporal_op(arr, where)
    if types.is_dictionary(t):
        table = _dictionary_cells(arr.dictionary, where, ctx)
        indices = arr.indices
        values = _view(indices.buffers()[1], _int_dtype(indices.type), indices.offset + n)
        return _KernelOp(rh.k_gather, table, values, indices.offset, *_validity(indices))
    if types.is_run_end_encoded(t):
        import pyarrow.compute as pc

        return _op_for(pc.run_end_decode(arr), where, ctx)
    if types.is_map(t):
        offsets = _view(buffers[1], np.int32, off + n + 1)
        entries = arr.values
        child = _StructOp(
            [
                (_name_hash("key"), _op_for(entries.field(0), f"{where} map key", ctx)),
                (_name_hash("value"), _op_for(entries.field(1), f"{where} map value", ctx)),
            ],
            _validity(entries),
        )
        return _weighted(_ListOp(offsets, off, validity, child), offsets, off, n)
    if types.is_list(t) or types.is_large_list(t):
        offsets = _view(buffers[1], np.int64 if types.is_large_list(t) else np.int32, off + n + 1)
        child_op = _op_for(arr.values, f"{where} list element", ctx)
        return _weighted(_ListOp(offsets, off, validity, child_op), offsets, off, n)
    if types.is_fixed_size_list(t):
        width = t.list_size
        fixed = _FixedListOp(
            width, off, validity, _op_for(arr.values, f"{where} list element", ctx)
        )
        fixed.weight = 1.0 + width * fixed.child.weight
        return fixed
    if types.is_list_view(t) or types.is_large_list_view(t):
        index: Any = np.int64 if types.is_large_list_view(t) else np.int32
        offsets = _view(buffers[1], index, off + n)
        sizes = _view(buffers[2], index, off + n)
        values = arr.values
        cells = _cells_of(_op_for(values, f"{where} list element", ctx), len(values))
        view_op = _KernelOp(rh.k_list, offsets, sizes, True, off, *validity, cells, 0)
        view_op.weight = 1.0 + len(values) / max(n, 1)
        return view_op
    if types.is_struct(t):
        fields = [
            (_name_hash(name), _op_for(arr.field(index), f"{where} field {name!r}", ctx))
            for index, name in _struct_fields(t, where)
        ]
        struct = _StructOp(fields, validity)
        struct.weight = 1.0 + sum(op.weight for _, op in fields)
        return struct
    raise _unsupported(t, where)


def _weighted(op: _ListOp, offsets: Any, off: int, n: int) -> _ListOp:
    elements = int(offsets[off + n]) - int(offsets[off]) if n else 0
    op.weight = 1.0 + elements / max(n, 1) * op.child.weight
    return op


def _temporal_op(arr: pa.Array, where: str) -> _Op:
    rh = _kernels()
    t = arr.type
    types = pa.types
    n, off = len(arr), arr.offset
    buffer = arr.buffers()[1]
    div, mult, wide, wide_tag = 1, 1, False, 0
    if types.is_date32(t):
        values, tag_number = _view(buffer, np.int32, off + n), rh.T_DATE
    elif types.is_date64(t):
        values, tag_number, div = _view(buffer, np.int64, off + n), rh.T_DATE, 86_400_000
    elif types.is_time32(t) or types.is_time64(t):
        dtype = np.int32 if types.is_time32(t) else np.int64
        values, tag_number, mult = _view(buffer, dtype, off + n), rh.T_TIME, _UNIT_NS[t.unit]
    elif types.is_timestamp(t):
        values, tag_number, mult = (
            _view(buffer, np.int64, off + n),
            rh.T_TIMESTAMP,
            _UNIT_NS[t.unit],
        )
        wide, wide_tag = True, rh.tag(rh.T_TIMESTAMP_WIDE)
    elif types.is_duration(t):
        values, tag_number, mult = _view(buffer, np.int64, off + n), rh.T_DURATION, _UNIT_NS[t.unit]
        wide, wide_tag = True, rh.tag(rh.T_DURATION_WIDE)
    else:
        raise _unsupported(t, where)
    return _KernelOp(
        rh.k_temporal,
        values,
        off,
        *_validity(arr),
        div,
        mult,
        np.uint64(rh.tag(tag_number)),
        np.uint64(wide_tag),
        wide,
    )


def _dictionary_cells(dictionary: pa.Array, where: str, ctx: _Context) -> U64Array:
    """Cell hashes of a dictionary's values, computed once per distinct dictionary."""
    key = (
        str(dictionary.type),
        dictionary.offset,
        len(dictionary),
        tuple(b.address if b is not None else 0 for b in dictionary.buffers()),
    )
    with ctx.lock:
        cached = ctx.dictionaries.get(key)
    if cached is None:
        cached = _cells_of(_op_for(dictionary, f"{where} dictionary", ctx), len(dictionary))
        with ctx.lock:
            ctx.dictionaries[key] = cached
    return cached


# -- column selection and the block engine ------------------------------------------------------


def _selected(schema: pa.Schema, columns: Sequence[str] | None) -> list[str]:
    """The columns to hash, in UTF-8 order of their names; unknown or ambiguous names refused."""
    if isinstance(columns, str):
        columns = [columns]
    names = list(schema.names) if columns is None else list(columns)
    counts = Counter(schema.names)
    asked = Counter(names)
    repeated = sorted(name for name, count in asked.items() if count > 1)
    if repeated:
        raise UsageError(f"column(s) {', '.join(map(repr, repeated))} named more than once")
    missing = [name for name in names if name not in counts]
    if missing:
        raise UsageError(
            f"column(s) {', '.join(map(repr, missing))} not in the table "
            f"(columns: {', '.join(map(repr, schema.names))})"
        )
    ambiguous = sorted(name for name in names if counts[name] > 1)
    if ambiguous:
        raise UsageError(
            f"column name(s) {', '.join(map(repr, ambiguous))} occur more than once in the "
            "table; columns are matched by name, so they must be unique"
        )
    return _utf8_order(names)


def _columns(schema: pa.Schema, names: Sequence[str]) -> list[list[str]]:
    """``[[name, family], …]`` of the selected columns, in UTF-8 order of the names."""
    return [[name, _family(schema.field(name).type, f"column {name!r}")] for name in names]


def _schema_of(data: TableLike) -> pa.Schema:
    if not isinstance(data, (pa.Table, pa.RecordBatch)):
        raise UsageError(
            f"expected a pyarrow Table or RecordBatch, got {type(data).__name__} "
            "(convert pandas/polars data to Arrow first)"
        )
    return data.schema


def _batches(data: TableLike, names: Sequence[str]) -> list[pa.RecordBatch]:
    if isinstance(data, pa.RecordBatch):
        return [data.select(list(names))]
    return [b for b in data.select(list(names)).to_batches() if b.num_rows]


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_Plan = list[tuple[_Op, np.uint64]]
_Item = tuple[_Plan, int, int, int]  # plan, at (row in out), lo, hi (rows of the batch)


def _plan(batch: pa.RecordBatch, names: Sequence[str], ctx: _Context) -> _Plan:
    return [
        (_op_for(batch.column(i), f"column {name!r}", ctx), _name_hash(name))
        for i, name in enumerate(names)
    ]


def _hash_into(
    batches: Sequence[pa.RecordBatch], names: Sequence[str], out: U64Array, sums: bool
) -> tuple[int, int]:
    """Row fingerprints of ``batches`` (one after the other) into ``out``; their two sums."""
    rh = _kernels()
    ctx = _Context()
    items: list[_Item] = []
    at = 0
    for batch in batches:
        plan = _plan(batch, names, ctx)
        weight = sum(op.weight for op, _ in plan) or 1.0
        block = int(max(_MIN_BLOCK_ROWS, min(_BLOCK_ROWS, _BLOCK_CELLS / weight)))
        rows = batch.num_rows
        for lo in range(0, rows, block):
            items.append((plan, at + lo, lo, min(rows, lo + block)))
        at += rows
    k_sums = rh.k_sums

    def work(share: Sequence[_Item]) -> tuple[int, int]:
        s1 = s2 = 0
        for plan, start, lo, hi in share:
            mode = _START  # the first column folds into the row seed
            for op, name in plan:
                op.run(out, start, lo, hi, name, mode)
                mode = _COMBINE
            if sums:
                a, b = k_sums(out[start : start + hi - lo])
                s1 += int(a)
                s2 += int(b)
        return s1 & _MASK, s2 & _MASK

    workers = min(_threads(), len(items))
    if workers <= 1:
        return work(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runstate-rowfp") as pool:
        results = list(pool.map(work, [items[w::workers] for w in range(workers)]))
    return sum(r[0] for r in results) & _MASK, sum(r[1] for r in results) & _MASK


def _hash_table(data: TableLike, names: Sequence[str], sums: bool) -> tuple[U64Array, int, int]:
    n = data.num_rows
    out = np.empty(n, np.uint64)
    if not names:  # no columns: every row is the seed
        out.fill(np.uint64(_kernels().ROW_SEED))
        if not sums:
            return out, 0, 0
        s1, s2 = _kernels().k_sums(out)
        return out, int(s1), int(s2)
    s1, s2 = _hash_into(_batches(data, names), names, out, sums)
    return out, s1, s2


def row_fingerprints(table: TableLike, columns: Sequence[str] | None = None) -> U64Array:
    """The ``runstate.rowfp/v1`` fingerprint of every row of ``table``, as uint64.

    ``columns`` (default: all) names the columns to hash, in any order — they are always
    combined in UTF-8 order of their names, so a subset gives key fingerprints. Works on
    sliced and chunked data in place; unsupported column types raise
    :class:`~runstate.errors.UsageError` naming the column.
    """
    schema = _schema_of(table)
    names = _selected(schema, columns)
    _columns(schema, names)  # refuse unsupported types before any work
    return _hash_table(table, names, sums=False)[0]


# -- table fingerprints -------------------------------------------------------------------------


def _hex16(value: int) -> str:
    return f"{value & _MASK:016x}"


@dataclass(frozen=True)
class TableFingerprint:
    """The fingerprint of a table and what it was computed from.

    ``sum1``/``sum2`` are the two multiset lanes over the row fingerprints (kept for either
    variant); ``ordered`` is the BLAKE3 of the row fingerprints in order (64 hex digits) for
    an ordered fingerprint, else None. ``fingerprint`` is the BLAKE3 of :meth:`document`.
    """

    fingerprint: str
    rows: int
    sum1: int
    sum2: int
    columns: list[list[str]]
    ordered: str | None = None

    def document(self) -> dict[str, Any]:
        """The canonical-JSON document whose BLAKE3 is the fingerprint."""
        return _document(self.columns, self.rows, self.sum1, self.sum2, self.ordered)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "rows": self.rows,
            "sum1": _hex16(self.sum1),
            "sum2": _hex16(self.sum2),
            "columns": [list(c) for c in self.columns],
            "ordered": self.ordered,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableFingerprint:
        def lane(value: Any) -> int:
            return int(value, 16) if isinstance(value, str) else int(value)

        return cls(
            fingerprint=str(data["fingerprint"]),
            rows=int(data["rows"]),
            sum1=lane(data["sum1"]),
            sum2=lane(data["sum2"]),
            columns=[[str(name), str(family)] for name, family in data["columns"]],
            ordered=None if data.get("ordered") is None else str(data["ordered"]),
        )


def _document(
    columns: list[list[str]], rows: int, sum1: int, sum2: int, ordered: str | None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": TABLE_FINGERPRINT_SCHEMA,
        "columns": columns,
        "rows": rows,
    }
    if ordered is None:
        document["sum"] = _hex16(sum1)
        document["sum2"] = _hex16(sum2)
    else:
        document["ordered"] = ordered
    return document


def _finish(
    columns: list[list[str]], rows: int, sum1: int, sum2: int, ordered: str | None
) -> TableFingerprint:
    fingerprint = content_id(_document(columns, rows, sum1, sum2, ordered))
    return TableFingerprint(fingerprint, rows, sum1 & _MASK, sum2 & _MASK, columns, ordered)


def _le_bytes(rowfps: U64Array) -> Any:
    if sys.byteorder == "little":
        return np.ascontiguousarray(rowfps).view(np.uint8)
    return rowfps.astype("<u8").view(np.uint8)


class TableHasher:
    """Streams batches into a table fingerprint: ``update(batch)`` …, then ``finish()``.

    The sums do not depend on how rows are split into batches nor (unless ``ordered``) on
    their order. ``columns`` selects columns as in :func:`row_fingerprints`; ``schema``
    (optional) fixes the columns up front, so a stream with no batch still has them. Every
    batch must have the same column names and families.
    """

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        *,
        ordered: bool = False,
        schema: pa.Schema | None = None,
    ) -> None:
        self._requested = None if columns is None else list(columns)
        self._ordered = ordered
        self._names: list[str] | None = None
        self._columns: list[list[str]] | None = None
        self._rows = 0
        self._sum1 = 0
        self._sum2 = 0
        self._digest: Any = None
        if ordered:
            import blake3

            self._digest = blake3.blake3()
        if schema is not None:
            self._bind(schema)

    def _bind(self, schema: pa.Schema) -> list[str]:
        names = _selected(schema, self._requested)
        columns = _columns(schema, names)
        if self._columns is None:
            self._names, self._columns = names, columns
        elif columns != self._columns:
            raise UsageError(
                f"batch columns {columns} differ from the first batch's {self._columns}"
            )
        return names

    def update(self, batch: TableLike) -> U64Array:
        """Add a batch (or table); returns its row fingerprints."""
        names = self._bind(_schema_of(batch))
        rowfps, s1, s2 = _hash_table(batch, names, sums=True)
        self._rows += len(rowfps)
        self._sum1 = (self._sum1 + s1) & _MASK
        self._sum2 = (self._sum2 + s2) & _MASK
        if self._digest is not None and len(rowfps):
            self._digest.update(_le_bytes(rowfps))
        return rowfps

    def update_rowfps(self, schema: pa.Schema, rowfps: U64Array) -> None:
        """Add rows whose fingerprints are already known (of ``schema``'s selected columns)."""
        self._bind(schema)
        rowfps = np.asarray(rowfps, dtype=np.uint64)
        s1, s2 = _kernels().k_sums(rowfps)
        self._rows += len(rowfps)
        self._sum1 = (self._sum1 + int(s1)) & _MASK
        self._sum2 = (self._sum2 + int(s2)) & _MASK
        if self._digest is not None and len(rowfps):
            self._digest.update(_le_bytes(rowfps))

    def finish(self) -> TableFingerprint:
        if self._columns is None:
            raise UsageError("no batch and no schema: nothing to fingerprint")
        ordered = self._digest.hexdigest() if self._digest is not None else None
        return _finish(self._columns, self._rows, self._sum1, self._sum2, ordered)


def table_fingerprint(
    data: TableLike | pa.RecordBatchReader | Iterable[pa.RecordBatch],
    columns: Sequence[str] | None = None,
    *,
    ordered: bool = False,
) -> TableFingerprint:
    """The table fingerprint of ``data`` (docs/fingerprints.md, "Table fingerprint").

    ``data`` is a Table or RecordBatch, or a stream of batches (a ``RecordBatchReader``,
    e.g. ``pyarrow.parquet.ParquetFile(path).iter_batches()``), hashed batch by batch.
    """
    schema = getattr(data, "schema", None)
    hasher = TableHasher(columns, ordered=ordered, schema=schema)
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        hasher.update(data)
    else:
        for batch in data:
            hasher.update(batch)
    return hasher.finish()


def fingerprint_from_rowfps(
    schema: pa.Schema,
    rowfps: U64Array,
    *,
    columns: Sequence[str] | None = None,
    ordered: bool = False,
) -> TableFingerprint:
    """The table fingerprint of rows whose fingerprints are known (from ``row_fingerprints``)."""
    hasher = TableHasher(columns, ordered=ordered, schema=schema)
    hasher.update_rowfps(schema, rowfps)
    return hasher.finish()
