"""Row and table fingerprints (docs/fingerprints.md): the kernels against the reference.

``tests/rowhash_reference.py`` is an independent, pure-Python implementation of the spec;
hypothesis draws random tables of every supported type (nulls, empty strings, unicode,
sliced arrays, several chunks, nested lists and structs, dictionaries) and the compiled
kernels must agree with it bit for bit. The rest checks the promises of the spec: what the
fingerprint does not depend on (row order, chunking, column order, the library the data
came from, physical widths) and what it must notice.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rowhash_reference as ref
from runstate.data import tables
from runstate.data.tables import (
    TableFingerprint,
    TableHasher,
    fingerprint_from_rowfps,
    logical_family,
    row_fingerprints,
    table_fingerprint,
)
from runstate.errors import UsageError

REPO = Path(__file__).resolve().parent.parent
SETTINGS = settings(
    max_examples=int(os.environ.get("RUNSTATE_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # `blocks` is the same for every example
    ],
)


def kernel(table: pa.Table | pa.RecordBatch, columns: list[str] | None = None) -> list[int]:
    return [int(x) for x in row_fingerprints(table, columns)]


@pytest.fixture(params=["one block", "tiny blocks, threads"])
def blocks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run a test as is, and again with 3-row blocks spread over 3 threads."""
    if request.param != "one block":
        monkeypatch.setattr(tables, "_BLOCK_ROWS", 3)
        monkeypatch.setattr(tables, "_MIN_BLOCK_ROWS", 1)
        monkeypatch.setattr(tables, "_threads", lambda: 3)
    yield


# -- XXH64 ------------------------------------------------------------------------------------


@SETTINGS
@given(
    data=st.binary(max_size=300),
    seed=st.integers(0, 2**64 - 1),
    before=st.integers(0, 9),
    after=st.integers(0, 9),
)
def test_xxh64_matches_xxhash(data: bytes, seed: int, before: int, after: int) -> None:
    from runstate.data import rowhash

    expected = xxhash.xxh64_intdigest(data, seed)
    # exact-size buffer (the tail read byte by byte) ...
    exact = np.frombuffer(data, np.uint8) if data else np.zeros(0, np.uint8)
    assert int(rowhash.xxh64_array(exact, np.uint64(seed))) == expected
    # ... and inside a larger buffer (the branch-free tail may read past the range)
    padded = np.frombuffer(b"\xa5" * before + data + b"\x5a" * after, np.uint8)
    got = rowhash.xxh64(padded, before, len(data), np.uint64(seed))
    assert int(got) == expected
    assert ref.xxh64(data, seed) == expected


def test_xxh64_spec_vectors() -> None:
    from runstate.data import rowhash

    empty = np.zeros(0, np.uint8)
    assert int(rowhash.xxh64_array(empty, np.uint64(0))) == 0xEF46DB3751D8E999
    abc = np.frombuffer(b"abc", np.uint8)
    assert int(rowhash.xxh64_array(abc, np.uint64(0))) == 0x44BC2CF5AD770999


# -- random tables: kernel == reference ---------------------------------------------------------

Gen = tuple[pa.DataType, st.SearchStrategy[Any]]


def _int_range(bits: int, signed: bool) -> st.SearchStrategy[int]:
    if signed:
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return st.integers(0, 2**bits - 1)


def _decimals(precision: int, scale: int) -> st.SearchStrategy[decimal.Decimal]:
    limit = 10**precision - 1
    return st.integers(-limit, limit).map(lambda n: decimal.Decimal(f"{n}E{-scale}"))  # exact


def _float_bits(width: int) -> st.SearchStrategy[float]:
    specials = st.sampled_from([0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1.0])
    return st.one_of(specials, st.floats(width=width, allow_nan=True, allow_infinity=True))


INT64 = _int_range(64, True)
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)

SCALARS: list[Gen] = [
    (pa.bool_(), st.booleans()),
    *[(pa.int8(), _int_range(8, True)), (pa.int16(), _int_range(16, True))],
    *[(pa.int32(), _int_range(32, True)), (pa.int64(), INT64)],
    *[(pa.uint8(), _int_range(8, False)), (pa.uint16(), _int_range(16, False))],
    *[(pa.uint32(), _int_range(32, False)), (pa.uint64(), _int_range(64, False))],
    (pa.float16(), _float_bits(16)),
    (pa.float32(), _float_bits(32)),
    (pa.float64(), _float_bits(64)),
    (pa.decimal32(7, 3), _decimals(7, 3)),
    (pa.decimal64(15, 0), _decimals(15, 0)),
    (pa.decimal128(38, 10), _decimals(38, 10)),
    (pa.decimal128(5, -3), _decimals(5, -3)),
    (pa.decimal256(76, 30), _decimals(76, 30)),
    (pa.decimal128(8, 8), _decimals(8, 8)),
    (pa.string(), TEXT),
    (pa.large_string(), TEXT),
    (pa.string_view(), TEXT),
    (pa.binary(), st.binary(max_size=40)),
    (pa.large_binary(), st.binary(max_size=40)),
    (pa.binary_view(), st.binary(max_size=40)),
    (pa.binary(3), st.binary(min_size=3, max_size=3)),
    (pa.date32(), _int_range(32, True)),
    (pa.date64(), INT64),
    (pa.time32("s"), st.integers(0, 86_399)),
    (pa.time32("ms"), st.integers(0, 86_399_999)),
    (pa.time64("us"), st.integers(0, 86_399_999_999)),
    (pa.time64("ns"), st.integers(0, 86_399_999_999_999)),
    *[(pa.timestamp(u), INT64) for u in ("s", "ms", "us", "ns")],
    (pa.timestamp("s", tz="Europe/Paris"), INT64),
    (pa.timestamp("ns", tz="UTC"), INT64),
    *[(pa.duration(u), INT64) for u in ("s", "ms", "us", "ns")],
    (pa.null(), st.none()),
]


def _nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


@st.composite
def _generators(draw: st.DrawFn, depth: int = 2) -> Gen:
    kind = draw(
        st.sampled_from(["scalar"] * 4 + ["list", "struct", "map"] if depth else ["scalar"])
    )
    if kind == "scalar":
        return draw(st.sampled_from(SCALARS))
    if kind == "list":
        inner_type, inner = draw(_generators(depth - 1))
        make = draw(st.sampled_from(["list", "large", "fixed", "view", "large_view"]))
        if make == "fixed":
            size = draw(st.integers(0, 3))
            values = st.lists(_nullable(inner), min_size=size, max_size=size)
            return pa.list_(inner_type, size), values
        list_type = {
            "list": pa.list_,
            "large": pa.large_list,
            "view": pa.list_view,
            "large_view": pa.large_list_view,
        }[make](inner_type)
        return list_type, st.lists(_nullable(inner), max_size=4)
    if kind == "struct":
        names = draw(st.lists(st.sampled_from(["a", "b", "é", "Z", "a b", ""]), unique=True))
        fields = [(name, *draw(_generators(depth - 1))) for name in names]
        struct_type = pa.struct([(name, t) for name, t, _ in fields])
        values = st.fixed_dictionaries({name: _nullable(g) for name, _, g in fields})
        return struct_type, values
    key_type, keys = draw(
        st.sampled_from([(pa.string(), TEXT), (pa.int32(), _int_range(32, True))])
    )
    item_type, items = draw(_generators(depth - 1))
    entries = st.lists(st.tuples(keys, _nullable(items)), max_size=3)
    return pa.map_(key_type, item_type), entries


def _array(values: list[Any], arrow_type: pa.DataType) -> pa.Array:
    if pa.types.is_list_view(arrow_type) or pa.types.is_large_list_view(arrow_type):
        # children stored in reverse row order, so offsets are not monotonic
        large = pa.types.is_large_list_view(arrow_type)
        index_type = pa.int64() if large else pa.int32()
        children: list[Any] = []
        offsets, sizes = [0] * len(values), [0] * len(values)
        for row in reversed(range(len(values))):
            offsets[row] = len(children)
            sizes[row] = len(values[row] or [])
            children.extend(values[row] or [])
        make = pa.LargeListViewArray if large else pa.ListViewArray
        return make.from_arrays(
            pa.array(offsets, index_type),
            pa.array(sizes, index_type),
            pa.array(children, arrow_type.value_type),
            mask=pa.array([v is None for v in values], pa.bool_()),
        )
    return pa.array(values, arrow_type)


@st.composite
def columns(draw: st.DrawFn, n: int) -> tuple[pa.DataType, pa.ChunkedArray | pa.Array]:
    """One column of ``n`` rows: maybe sliced, maybe chunked, maybe dictionary-encoded."""
    arrow_type, values = draw(_generators())
    before = draw(st.lists(_nullable(values), max_size=3))
    rows = draw(st.lists(_nullable(values), min_size=n, max_size=n))
    after = draw(st.lists(_nullable(values), max_size=3))
    full = _array(before + rows + after, arrow_type)
    if draw(st.booleans()) and not pa.types.is_null(arrow_type):
        try:  # dictionary-encode (with nulls in the indices, unused dictionary entries)
            full = full.dictionary_encode()
        except pa.ArrowNotImplementedError:
            pass
    sliced = full.slice(len(before), n)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    if not cuts:
        return arrow_type, sliced
    bounds = [0, *cuts, n]
    chunks = [sliced.slice(a, b - a) for a, b in pairwise(bounds)]
    return arrow_type, pa.chunked_array(chunks, type=sliced.type)


@st.composite
def tables_(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 12))
    names = draw(st.lists(st.text(max_size=4), min_size=1, max_size=4, unique=True))
    return pa.table({name: draw(columns(n))[1] for name in names})


@SETTINGS
@given(table=tables_())
def test_kernel_matches_reference(table: pa.Table, blocks: None) -> None:
    assert kernel(table) == ref.row_fingerprints(table)
    for name in table.column_names:
        assert kernel(table, [name]) == ref.row_fingerprints(table, [name])
    got = table_fingerprint(table)
    expected = ref.table_fingerprint(table)
    assert got.columns == expected["columns"]
    assert (got.sum1, got.sum2, got.rows) == (expected["sum1"], expected["sum2"], expected["rows"])
    assert got.fingerprint == expected["fingerprint"]
    ordered = table_fingerprint(table, ordered=True)
    assert ordered.fingerprint == ref.table_fingerprint(table, ordered=True)["fingerprint"]


@SETTINGS
@given(
    indices=st.lists(st.one_of(st.none(), st.integers(0, 3)), max_size=20),
    dictionary=st.lists(st.one_of(st.none(), TEXT), min_size=4, max_size=4),
    index_type=st.sampled_from([pa.int8(), pa.uint8(), pa.int16(), pa.int32(), pa.uint64()]),
    start=st.integers(0, 3),
)
def test_dictionary_arrays(
    indices: list[int | None], dictionary: list[str | None], index_type: pa.DataType, start: int
) -> None:
    """Nulls in the indices and in the dictionary, unused and repeated entries, slices."""
    array = pa.DictionaryArray.from_arrays(pa.array(indices, index_type), pa.array(dictionary))
    array = array.slice(min(start, len(array)))
    table = pa.table({"d": array})
    plain = pa.table({"d": array.cast(pa.string())})
    assert kernel(table) == ref.row_fingerprints(table) == kernel(plain)


@SETTINGS
@given(runs=st.lists(st.tuples(st.integers(1, 4), st.one_of(st.none(), INT64)), max_size=6))
def test_run_end_encoded(runs: list[tuple[int, int | None]]) -> None:
    values = [v for length, v in runs for _ in range(length)]
    import pyarrow.compute as pc

    encoded = pc.run_end_encode(pa.array(values, pa.int64()))
    for start in (0, 1):
        table = pa.table({"r": encoded.slice(min(start, len(encoded)))})
        plain = pa.table({"r": pa.array(values[start:], pa.int64())})
        assert kernel(table) == kernel(plain) == ref.row_fingerprints(table)


def test_list_view_out_of_order() -> None:
    """List views whose elements are not stored in order, overlap, or are shared."""
    values = pa.array([1, 2, 3, None, 5])
    offsets = pa.array([3, 0, 1, 0, 4], pa.int32())
    sizes = pa.array([2, 2, 0, 5, 1], pa.int32())
    view = pa.ListViewArray.from_arrays(offsets, sizes, values)
    expected = [[None, 5], [1, 2], [], [1, 2, 3, None, 5], [5]]
    table = pa.table({"l": view})
    assert table.column("l").to_pylist() == expected
    assert kernel(table) == kernel(pa.table({"l": pa.array(expected, pa.list_(pa.int64()))}))
    assert kernel(table) == ref.row_fingerprints(table)
    assert kernel(table.slice(2)) == ref.row_fingerprints(table.slice(2))


def test_extreme_temporal_values() -> None:
    """The int64 nanosecond boundary, either side, in every unit (tags 10/11 and 12/15)."""
    top, bottom = 2**63 - 1, -(2**63)
    for unit, scale in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        edge_hi, edge_lo = top // scale, -(top // scale)
        values = [edge_hi, edge_hi + 1, edge_lo, edge_lo - 1, top, bottom, 0, -1, None]
        for arrow_type in (pa.timestamp(unit), pa.duration(unit)):
            table = pa.table({"t": pa.array(values, arrow_type)})
            assert kernel(table) == ref.row_fingerprints(table)
    ns = pa.table({"t": pa.array([top, bottom, None], pa.timestamp("ns"))})
    assert kernel(ns) == ref.row_fingerprints(ns)
    # the same instant in seconds and in nanoseconds hashes alike, inside the ns range
    seconds = pa.table({"t": pa.array([1_700_000_000, -5], pa.timestamp("s"))})
    nanos = pa.table({"t": pa.array([1_700_000_000 * 10**9, -5 * 10**9], pa.timestamp("ns"))})
    assert kernel(seconds) == kernel(nanos)
    # outside it, the same instant in seconds and milliseconds still hashes alike
    far_s = pa.table({"t": pa.array([10**12, -(10**12)], pa.timestamp("s"))})
    far_ms = pa.table({"t": pa.array([10**15, -(10**15)], pa.timestamp("ms"))})
    assert kernel(far_s) == kernel(far_ms)


def test_decimal_text() -> None:
    cases = {
        ("1.50", 5, 2): "1.5",
        ("-0.10", 5, 2): "-0.1",
        ("100", 5, 0): "100",
        ("0.00", 5, 2): "0",
        ("-5E-8", 8, 8): "-0.00000005",
        ("1.23E+4", 5, -2): "12300",
    }
    from runstate.data import rowhash

    tag = rowhash.tag(rowhash.T_DECIMAL)
    for (text, precision, scale), normal in cases.items():
        value = decimal.Decimal(text)
        assert ref.decimal_text(value) == normal
        array = pa.array([value], pa.decimal128(precision, scale))
        expected = ref.xxh64(normal.encode(), tag)
        cell = ref.mix64(0x9E3779B97F4A7C15 + (ref.NAME("d") ^ expected))
        assert kernel(pa.table({"d": array})) == [cell]
    # every width gives the same cell for the same value
    value = decimal.Decimal("-12.340")
    widths = [pa.decimal32(9, 3), pa.decimal64(9, 3), pa.decimal128(9, 3), pa.decimal256(9, 3)]
    cells = {kernel(pa.table({"d": pa.array([value], t)}))[0] for t in widths}
    assert len(cells) == 1
    assert cells == {kernel(pa.table({"d": pa.array([value], pa.decimal128(20, 8))}))[0]}
    biggest = [decimal.Decimal(sign + "9" * 76) for sign in ("-", "")]  # no context rounding
    table = pa.table({"d": pa.array(biggest, pa.decimal256(76, 0))})
    assert kernel(table) == ref.row_fingerprints(table)


# -- what the fingerprint must not depend on --------------------------------------------------


def _sample_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], pa.int64()),
            "name": ["a", "b", None, "", "é", "f", "g", "h", "i", "j", "k"],
            "score": [0.5, -0.0, None, float("nan"), 1e300, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            "tags": [["x"], [], None, ["y", None], ["z"], [], [], ["q"], [], [], ["w"]],
        }
    )


@SETTINGS
@given(permutation=st.permutations(list(range(11))))
def test_row_order_does_not_matter(permutation: list[int]) -> None:
    table = _sample_table()
    shuffled = table.take(pa.array(permutation))
    assert table_fingerprint(shuffled) == table_fingerprint(table)
    assert sorted(kernel(shuffled)) == sorted(kernel(table))
    if permutation != sorted(permutation):
        ordered = table_fingerprint(shuffled, ordered=True)
        assert ordered.fingerprint != table_fingerprint(table, ordered=True).fingerprint


@pytest.mark.parametrize("size", [1, 2, 7, 100])
def test_chunking_does_not_matter(size: int, blocks: None) -> None:
    table = _sample_table()
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=size))
    assert kernel(rechunked) == kernel(table)
    assert table_fingerprint(rechunked) == table_fingerprint(table)
    hasher = TableHasher()
    streamed = np.concatenate([hasher.update(b) for b in table.to_batches(max_chunksize=size)])
    assert [int(x) for x in streamed] == kernel(table)
    assert hasher.finish() == table_fingerprint(table)
    for ordered in (False, True):
        whole = table_fingerprint(table, ordered=ordered)
        assert table_fingerprint(table.to_batches(max_chunksize=size), ordered=ordered) == whole
        assert table_fingerprint(rechunked.to_reader(), ordered=ordered) == whole


def test_misaligned_chunks() -> None:
    """Columns chunked at different rows (a Table allows it)."""
    a = pa.chunked_array([[1, 2, 3], [4], [5, 6]])
    b = pa.chunked_array([["x"], ["y", "z", "w", "v", "u"]])
    table = pa.table({"a": a, "b": b})
    assert kernel(table) == ref.row_fingerprints(table)
    assert kernel(table) == kernel(table.combine_chunks())


def test_column_order_does_not_matter() -> None:
    table = _sample_table()
    reordered = table.select(list(reversed(table.column_names)))
    assert kernel(reordered) == kernel(table)
    assert table_fingerprint(reordered) == table_fingerprint(table)
    assert kernel(table, ["name", "id"]) == kernel(table, ["id", "name"])


def test_sources_agree(tmp_path: Path) -> None:
    """CSV with a schema, Parquet, pandas, polars, DuckDB and Arrow: one fingerprint."""
    import duckdb
    import pandas as pd
    import polars as pl

    ids = [1, 2, 3, None]
    names = ["a", "", None, "é"]
    scores = [0.5, -0.0, None, 2.0]
    flags = [True, False, None, True]
    when = [dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone.utc), None] * 2
    days = [dt.date(2024, 1, 1), None, dt.date(1969, 12, 31), dt.date(2262, 5, 1)]
    arrow = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": pa.array(names, pa.string()),
            "score": pa.array(scores, pa.float64()),
            "flag": pa.array(flags, pa.bool_()),
            "when": pa.array(when, pa.timestamp("us", tz="UTC")),
            "day": pa.array(days, pa.date32()),
        }
    )
    expected = table_fingerprint(arrow)
    assert expected.columns == [
        ["day", "date"],
        ["flag", "bool"],
        ["id", "int"],
        ["name", "string"],
        ["score", "float"],
        ["when", "timestamp"],
    ]

    # CSV, read with an explicit schema (int32 ids, second timestamps, date64 days)
    csv = "id,name,score,flag,when,day\n"
    csv += '1,a,0.5,true,2024-01-01T12:00:00Z,2024-01-01\n2,"",-0.0,false,,\n'
    csv += "3,,,,2024-01-01T12:00:00Z,1969-12-31\n,é,2.0,true,,2262-05-01\n"
    convert = pacsv.ConvertOptions(
        column_types={
            "id": pa.int32(),
            "name": pa.string(),
            "score": pa.float64(),
            "flag": pa.bool_(),
            "when": pa.timestamp("s", tz="UTC"),
            "day": pa.date64(),
        },
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    from_csv = pacsv.read_csv(io.BytesIO(csv.encode()), convert_options=convert)
    assert table_fingerprint(from_csv) == expected

    path = tmp_path / "t.parquet"
    pq.write_table(arrow, path, row_group_size=2)
    assert table_fingerprint(pq.read_table(path)) == expected
    streamed = table_fingerprint(pq.ParquetFile(path).iter_batches(batch_size=3))
    assert streamed == expected

    frame = pd.DataFrame(
        {
            "id": pd.array(ids, dtype="Int64"),
            "name": pd.array(names, dtype=object),
            "score": pd.array(scores, dtype="Float64"),
            "flag": pd.array(flags, dtype="boolean"),
            "when": pd.to_datetime(when, utc=True),
            "day": pd.array(days, dtype=object),
        }
    )
    from_pandas = pa.Table.from_pandas(frame, preserve_index=False)
    assert table_fingerprint(from_pandas) == expected

    polars_frame = pl.DataFrame(
        {"id": ids, "name": names, "score": scores, "flag": flags, "when": when, "day": days},
        schema={
            "id": pl.Int32,
            "name": pl.String,
            "score": pl.Float64,
            "flag": pl.Boolean,
            "when": pl.Datetime("ns", "UTC"),
            "day": pl.Date,
        },
    )
    assert table_fingerprint(polars_frame.to_arrow()) == expected

    con = duckdb.connect()
    con.register("arrow_table", arrow)
    from_duckdb = con.sql("select * from arrow_table").to_arrow_table()
    assert table_fingerprint(from_duckdb) == expected


def _one(values: list[Any], arrow_type: pa.DataType) -> list[int]:
    return kernel(pa.table({"c": pa.array(values, arrow_type)}))


def test_logical_equalities_and_differences() -> None:
    ints = [1, -2, None, 3]
    assert _one(ints, pa.int32()) == _one(ints, pa.int64()) == _one(ints, pa.int8())
    assert _one([1, 2], pa.uint8()) == _one([1, 2], pa.int64())
    assert _one([1.0], pa.float64()) != _one([1], pa.int64())
    assert _one([1.5, None], pa.float32()) == _one([1.5, None], pa.float64())
    assert _one([1.5], pa.float16()) == _one([1.5], pa.float64())
    assert _one([None], pa.string()) != _one([""], pa.string())
    assert _one([None], pa.string()) == _one([None], pa.int64()) == _one([None], pa.null())
    assert _one([""], pa.string()) != _one([b""], pa.binary())
    assert _one(["ab"], pa.string()) == _one(["ab"], pa.large_string())
    assert _one(["ab"], pa.string()) == _one(["ab"], pa.string_view())
    assert _one([b"ab"], pa.binary()) == _one([b"ab"], pa.binary(2))
    assert _one([-0.0], pa.float64()) == _one([0.0], pa.float64())
    assert _one([True], pa.bool_()) != _one([1], pa.int64())
    assert _one([[]], pa.list_(pa.int64())) != _one([None], pa.list_(pa.int64()))
    assert _one([[None]], pa.list_(pa.int64())) != _one([[]], pa.list_(pa.int64()))
    assert _one([[1, 2]], pa.list_(pa.int64())) != _one([[2, 1]], pa.list_(pa.int64()))
    assert _one([[1, 2]], pa.list_(pa.int32())) == _one([[1, 2]], pa.list_(pa.int64(), 2))
    assert _one([[1, 2]], pa.list_(pa.int32())) == _one([[1, 2]], pa.large_list(pa.int16()))
    assert _one([0], pa.uint64()) != _one([2**63], pa.uint64())
    assert _one([2**63], pa.uint64()) != _one([-(2**63)], pa.int64())
    assert _one([1, 2], pa.date32()) == _one([86_400_000, 2 * 86_400_000 + 5], pa.date64())
    assert _one([1], pa.time32("s")) == _one([10**9], pa.time64("ns"))
    assert _one([1], pa.duration("s")) == _one([10**6], pa.duration("us"))
    assert _one([1], pa.duration("s")) != _one([1], pa.timestamp("s"))
    utc = _one([0, 1], pa.timestamp("ms", tz="UTC"))
    assert (
        utc == _one([0, 1], pa.timestamp("ms")) == _one([0, 1], pa.timestamp("ms", tz="Asia/Tokyo"))
    )
    struct_ab = pa.struct([("a", pa.int64()), ("b", pa.string())])
    struct_ba = pa.struct([("b", pa.string()), ("a", pa.int32())])
    row = {"a": 1, "b": "x"}
    assert _one([row], struct_ab) == _one([row], struct_ba)
    assert _one([None], struct_ab) != _one([{"a": None, "b": None}], struct_ab)


def test_every_nan_is_one_nan() -> None:
    payloads = np.array(
        [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0x7FFFFFFFFFFFFFFF],
        np.uint64,
    )
    nans = pa.array(payloads.view(np.float64))
    cells = set(kernel(pa.table({"f": nans})))
    assert len(cells) == 1
    nan32 = np.array([0x7FC00000, 0xFFC00001, 0x7F800001], np.uint32).view(np.float32)
    assert set(kernel(pa.table({"f": pa.array(nan32)}))) == cells
    assert set(kernel(pa.table({"f": pa.array(np.array([np.nan], np.float16))}))) == cells


def test_changed_cell_changes_only_its_row() -> None:
    table = _sample_table()
    before = kernel(table)
    names = table.column("name").to_pylist()
    names[4] = "changed"
    changed = table.set_column(1, "name", pa.array(names))
    after = kernel(changed)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [4]
    assert table_fingerprint(changed) != table_fingerprint(table)


def test_swapping_columns_changes_the_row() -> None:
    table = pa.table({"a": [1, 2], "b": [2, 1]})
    swapped = pa.table({"a": [2, 1], "b": [1, 2]})
    assert kernel(table)[0] != kernel(swapped)[0]
    assert kernel(table)[0] == kernel(swapped)[1]  # same values in the same columns
    reordered = pa.table({"b": [2, 1], "a": [1, 2]})
    assert kernel(reordered) == kernel(table)


def test_duplicate_rows_count() -> None:
    table = pa.table({"a": [1, 2]})
    doubled = pa.table({"a": [1, 2, 2]})
    assert table_fingerprint(doubled) != table_fingerprint(table)
    assert table_fingerprint(pa.table({"a": [2, 2, 1]})) == table_fingerprint(doubled)
    four = pa.table({"a": [1, 1, 2, 2]})
    assert table_fingerprint(four) != table_fingerprint(pa.table({"a": [1, 2, 1, 1]}))


def test_key_fingerprints() -> None:
    table = _sample_table()
    key = kernel(table, ["id"])
    assert key == kernel(pa.table({"id": table.column("id")}))
    assert kernel(table, ["name", "id"]) == ref.row_fingerprints(table, ["id", "name"])
    assert kernel(table, "id") == key  # type: ignore[arg-type]


# -- the API around it ----------------------------------------------------------------------


def test_table_fingerprint_dict_round_trip() -> None:
    table = _sample_table()
    for ordered in (False, True):
        fp = table_fingerprint(table, ordered=ordered)
        assert TableFingerprint.from_dict(fp.to_dict()) == fp
        from runstate.state.canonical import content_id

        assert content_id(fp.document()) == fp.fingerprint
        assert fingerprint_from_rowfps(table.schema, row_fingerprints(table), ordered=ordered) == fp
    unordered, ordered_fp = table_fingerprint(table), table_fingerprint(table, ordered=True)
    assert unordered.fingerprint != ordered_fp.fingerprint
    assert (unordered.sum1, unordered.sum2) == (ordered_fp.sum1, ordered_fp.sum2)
    assert ordered_fp.ordered is not None and len(ordered_fp.ordered) == 64
    assert unordered.to_dict()["sum1"] == f"{unordered.sum1:016x}"


def test_empty_tables() -> None:
    empty = pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())})
    assert row_fingerprints(empty).shape == (0,)
    fp = table_fingerprint(empty)
    assert fp.rows == 0 and (fp.sum1, fp.sum2) == (0, 0)
    assert fp.fingerprint == ref.table_fingerprint(empty)["fingerprint"]
    with pytest.raises(UsageError, match="nothing to fingerprint"):
        table_fingerprint(iter([]))
    hasher = TableHasher(schema=empty.schema)
    assert hasher.finish() == fp
    no_columns = pa.table({"a": [1, 2, 3]}).select([])
    assert kernel(no_columns) == [0x9E3779B97F4A7C15] * no_columns.num_rows


def test_record_batch_and_slices() -> None:
    table = _sample_table()
    batch = table.combine_chunks().to_batches()[0]
    assert kernel(batch) == kernel(table)
    assert kernel(batch.slice(3, 5)) == kernel(table)[3:8]
    assert kernel(table.slice(5)) == kernel(table)[5:]


def test_streaming_refuses_a_different_schema() -> None:
    hasher = TableHasher()
    hasher.update(pa.table({"a": [1]}))
    hasher.update(pa.table({"a": pa.array([2], pa.int8())}))  # same family: fine
    with pytest.raises(UsageError, match="differ"):
        hasher.update(pa.table({"a": ["x"]}))


def test_families() -> None:
    assert logical_family(pa.int8()) == "int"
    assert logical_family(pa.dictionary(pa.int32(), pa.large_string())) == "string"
    assert logical_family(pa.timestamp("s", tz="UTC")) == "timestamp"
    assert logical_family(pa.list_(pa.float32(), 3)) == "list<float>"
    assert logical_family(pa.null()) == "null"
    nested = pa.struct([("b", pa.list_(pa.string())), ("a", pa.int8()), ("é", pa.decimal128(3, 1))])
    assert logical_family(nested) == 'struct<"a":int,"b":list<string>,"é":decimal>'
    mapped = pa.map_(pa.string(), pa.struct([("x", pa.bool_())]))
    assert logical_family(mapped) == 'list<struct<"key":string,"value":struct<"x":bool>>>'
    tricky = pa.struct([('a":int,"b', pa.string())])
    assert logical_family(tricky) == 'struct<"a\\":int,\\"b":string>'
    for t in (pa.int8(), nested, mapped, tricky, pa.large_list_view(pa.date64())):
        assert logical_family(t) == ref.family(t)


def test_unsupported_types_are_refused() -> None:
    union = pa.UnionArray.from_sparse(
        pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])]
    )
    table = pa.table({"ok": [1, 2], "u": union})
    with pytest.raises(UsageError, match=r"column 'u'.*union"):
        row_fingerprints(table)
    assert kernel(table, ["ok"]) == kernel(pa.table({"ok": [1, 2]}))
    interval = pa.array([pa.MonthDayNano([1, 2, 3])], pa.month_day_nano_interval())
    with pytest.raises(UsageError, match="month_day_nano_interval"):
        table_fingerprint(pa.table({"i": interval}))
    uuid = pa.ExtensionArray.from_storage(pa.uuid(), pa.array([b"0" * 16], pa.binary(16)))
    with pytest.raises(UsageError, match=r"column 'id'.*uuid"):
        row_fingerprints(pa.table({"id": uuid}))
    with pytest.raises(UsageError):
        logical_family(pa.list_(pa.month_day_nano_interval()))


def test_ambiguous_and_unknown_columns_are_refused() -> None:
    twice = pa.Table.from_arrays([pa.array([1]), pa.array([2]), pa.array([3])], ["a", "a", "b"])
    with pytest.raises(UsageError, match="more than once"):
        row_fingerprints(twice)
    assert kernel(twice, ["b"]) == kernel(pa.table({"b": [3]}))
    with pytest.raises(UsageError, match="not in the table"):
        row_fingerprints(pa.table({"a": [1]}), ["missing"])
    with pytest.raises(UsageError, match="named more than once"):
        row_fingerprints(pa.table({"a": [1]}), ["a", "a"])
    struct = pa.StructArray.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    with pytest.raises(UsageError, match="struct field"):
        row_fingerprints(pa.table({"s": struct}))
    with pytest.raises(UsageError, match="Table or RecordBatch"):
        row_fingerprints({"a": [1]})  # type: ignore[arg-type]


# -- start-up cost and the numba cache ----------------------------------------------------------


def _python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_numba_is_imported_lazily() -> None:
    code = (
        "import sys, runstate, runstate.data, runstate.data.tables\n"
        "print('numba' in sys.modules, 'runstate.data.rowhash' in sys.modules)"
    )
    assert _python(code) == "False False"


def test_numba_cache_folder_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from runstate.data import rowhash

    writable: dict[str, bool] = {}

    def fake_writable(path: Path) -> bool:
        return writable.get(str(path), False)

    monkeypatch.setattr(rowhash, "_writable_dir", fake_writable)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    package_cache = str(Path(rowhash.__file__).resolve().parent / "__pycache__")
    user_cache = str(tmp_path / "xdg" / "runstate" / "numba")

    writable[package_cache] = True
    assert rowhash._choose_cache_dir() == (True, None)  # numba's default, beside the source
    writable[package_cache] = False
    writable[user_cache] = True
    assert rowhash._choose_cache_dir() == (True, user_cache)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    writable[str(tmp_path / "mine")] = True
    assert rowhash._choose_cache_dir() == (True, str(tmp_path / "mine"))
    writable.clear()
    assert rowhash._choose_cache_dir() == (False, None)  # no cache: compile, do not fail


def test_kernels_work_without_a_writable_cache(tmp_path: Path) -> None:
    """A read-only package folder and no writable home: kernels still run (uncached)."""
    code = (
        "import runstate.data.rowhash as rh\n"
        "rh_ok = rh._CACHE\n"
        "import pyarrow as pa\n"
        "from runstate.data.tables import row_fingerprints\n"
        "print(rh_ok, len(row_fingerprints(pa.table({'a': [1, 2]}))))"
    )
    sitecustom = tmp_path / "site"
    sitecustom.mkdir()
    # every probe of a folder (ours and numba's) writes a temporary file: make them all fail
    (sitecustom / "sitecustomize.py").write_text(
        "import tempfile\n"
        "def _read_only(*args, **kwargs):\n"
        "    raise PermissionError('read-only file system')\n"
        "tempfile.TemporaryFile = _read_only\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(sitecustom), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "False 2"


def test_public_api_is_callable_with_columns_any_order(blocks: None) -> None:
    table = _sample_table()
    hasher: Callable[..., Any] = table_fingerprint
    assert hasher(table, ["tags", "id"]) == hasher(table, ["id", "tags"])
    assert hasher(table, ["id"]).columns == [["id", "int"]]


def test_cache_failures_are_not_fatal() -> None:
    from runstate.data import rowhash

    class BrokenCache:
        def load_overload(self, *args: Any) -> Any:
            raise OSError("corrupt cache file")

        def save_overload(self, *args: Any) -> None:
            raise OSError("no space left on device")

    class Dispatcher:
        _cache = BrokenCache()

    dispatcher = rowhash._tolerant(Dispatcher())
    assert dispatcher._cache.load_overload("sig", "context") is None
    dispatcher._cache.save_overload("sig", "data")  # no exception
    assert rowhash._tolerant(object()) is not None  # nothing to wrap: unchanged


def test_warm_up() -> None:
    tables.warm_up()
    thread = tables.warm_up(background=True)
    assert thread is not None
    thread.join(timeout=60)
    assert not thread.is_alive()
