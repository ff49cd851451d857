"""Golden vectors of ``runstate.rowfp/v1``: a fixed table with a column of every supported type.

These values are a contract; never change them. A failure here means the algorithm changed.

The literals were generated once with the pure-Python reference (tests/rowhash_reference.py)
and the compiled kernels were confirmed to agree. If a test here fails, the fix is in the
code, not in this file: a fingerprint recorded today must equal the one computed next year.
"""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.compute as pc

import rowhash_reference as ref
from runstate.data.tables import row_fingerprints, table_fingerprint

D = decimal.Decimal
N = None
YEAR_3000 = int(dt.datetime(3000, 1, 1, tzinfo=dt.timezone.utc).timestamp())  # > 2262: tag 11


def golden_table() -> pa.Table:
    """8 rows; every supported Arrow type, with nulls; nested, dictionary and encoded columns."""
    columns: dict[str, pa.Array] = {
        "bool": pa.array([True, False, N, True, False, True, N, False]),
        "int8": pa.array([0, -1, 127, -128, N, 1, 2, 3], pa.int8()),
        "int16": pa.array([0, -1, 32767, -32768, N, 1, 2, 3], pa.int16()),
        "int32": pa.array([0, -1, 2**31 - 1, -(2**31), N, 1, 2, 3], pa.int32()),
        "int64": pa.array([0, -1, 2**63 - 1, -(2**63), N, 1, 2, 3], pa.int64()),
        "uint8": pa.array([0, 1, 255, N, 7, 8, 9, 10], pa.uint8()),
        "uint16": pa.array([0, 1, 65535, N, 7, 8, 9, 10], pa.uint16()),
        "uint32": pa.array([0, 1, 2**32 - 1, N, 7, 8, 9, 10], pa.uint32()),
        "uint64": pa.array([0, 2**63 - 1, 2**63, 2**64 - 1, N, 1, 2, 3], pa.uint64()),
        "float16": pa.array(
            [1.5, -0.0, N, float("nan"), float("inf"), 0.0, -2.0, 65504.0], pa.float16()
        ),
        "float32": pa.array(
            [1.5, -0.0, N, float("nan"), float("-inf"), 0.1, -2.0, 3.0], pa.float32()
        ),
        "float64": pa.array([1.5, -0.0, N, float("nan"), float("inf"), 0.1, 1e300, -5e-324]),
        "decimal32": pa.array(
            [D("1.50"), D("-0.10"), N, D("0.00"), D("99.99"), D("-99.99"), D("0.01"), D("10.00")],
            pa.decimal32(4, 2),
        ),
        "decimal64": pa.array(
            [D("1.5"), D("-0.1"), N, D("0"), D("12345678.9"), D("-1"), D("0.1"), D("10")],
            pa.decimal64(9, 1),
        ),
        "decimal128": pa.array(
            [
                D("1.50"),
                D("-0.10"),
                N,
                D("0.00"),
                D("123456789012345678901234567890123456.78"),
                D("-1.00"),
                D("0.01"),
                D("100.00"),
            ],
            pa.decimal128(38, 2),
        ),
        "decimal256": pa.array(
            [
                D("1.5"),
                D("-" + "9" * 70 + ".12345"),
                N,
                D("0"),
                D("9" * 70 + ".12345"),
                D("-1"),
                D("0.00001"),
                D("100"),
            ],
            pa.decimal256(75, 5),
        ),
        "decimal_negative_scale": pa.array(
            [
                D("1.23E+4"),
                D("-1E+2"),
                N,
                D("0"),
                D("5E+2"),
                D("1E+2"),
                D("9.99E+4"),
                D("-9.99E+4"),
            ],
            pa.decimal128(3, -2),
        ),
        "string": pa.array(
            ["a", "", N, "héllo wörld", "日本語", "a longer string of 40 bytes!!!!!!!", "\x00", "Z"]
        ),
        "large_string": pa.array(["a", "", N, "x" * 33, "é", "b", "c", "d"], pa.large_string()),
        "string_view": pa.array(
            ["a", "", N, "a string longer than 12", "é", "b", "c", "d"], pa.string_view()
        ),
        "binary": pa.array([b"a", b"", N, b"\x00\xff", b"abc", b"\x80", b"x" * 40, b"z"]),
        "large_binary": pa.array(
            [b"a", b"", N, b"\x00\xff", b"abc", b"\x80", b"q", b"z"], pa.large_binary()
        ),
        "binary_view": pa.array(
            [b"a", b"", N, b"\x00" * 20, b"abc", b"\x80", b"q", b"z"], pa.binary_view()
        ),
        "fixed_binary": pa.array(
            [
                b"abcd",
                b"\x00\x00\x00\x00",
                N,
                b"wxyz",
                b"1234",
                b"5678",
                b"\xff\xff\xff\xff",
                b"abce",
            ],
            pa.binary(4),
        ),
        "date32": pa.array([0, -1, N, 19_723, -719_162, 2_932_896, 1, 2], pa.date32()),
        "date64": pa.array(
            [0, -86_400_000, N, 1_704_067_200_000, 86_399_999, -1, 1, 2], pa.date64()
        ),
        "time32_s": pa.array([0, 1, N, 86_399, 3_600, 60, 2, 3], pa.time32("s")),
        "time32_ms": pa.array([0, 1, N, 86_399_999, 3_600_000, 60, 2, 3], pa.time32("ms")),
        "time64_us": pa.array([0, 1, N, 86_399_999_999, 3_600_000_000, 60, 2, 3], pa.time64("us")),
        "time64_ns": pa.array(
            [0, 1, N, 86_399_999_999_999, 3_600_000_000_000, 60, 2, 3], pa.time64("ns")
        ),
        "timestamp_s": pa.array(
            [0, -1, N, YEAR_3000, -YEAR_3000, 1_700_000_000, 2**62, -(2**62)], pa.timestamp("s")
        ),
        "timestamp_ms_tz": pa.array(
            [0, -1, N, 1_700_000_000_123, 10**17, -(10**17), 1, 2],
            pa.timestamp("ms", tz="Europe/Paris"),
        ),
        "timestamp_us_utc": pa.array(
            [0, -1, N, 1_700_000_000_123_456, 1, 2, 3, 4], pa.timestamp("us", tz="UTC")
        ),
        "timestamp_ns": pa.array(
            [0, -1, N, 1_700_000_000_123_456_789, 2**63 - 1, -(2**63), 5, 6], pa.timestamp("ns")
        ),
        "duration_s": pa.array([0, -1, N, 86_400, 10**12, -(10**12), 1, 2], pa.duration("s")),
        "duration_ns": pa.array([0, -1, N, 86_400 * 10**9, 1, 2, 3, 4], pa.duration("ns")),
        "null": pa.nulls(8),
        "dictionary": pa.DictionaryArray.from_arrays(
            pa.array([0, 1, N, 0, 2, 2, 1, 0], pa.int8()), pa.array(["red", "green", N])
        ),
        "list": pa.array([[1, 2], [], N, [N], [3], [1, 2, 3], [-1], [0]], pa.list_(pa.int64())),
        "large_list": pa.array(
            [["a"], [], N, ["", N], ["b", "c"], ["d"], ["e"], ["f"]], pa.large_list(pa.string())
        ),
        "fixed_list": pa.array(
            [[1.0, 2.0], [0.0, -0.0], N, [N, 1.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [9.0, 10.0]],
            pa.list_(pa.float64(), 2),
        ),
        "list_view": pa.ListViewArray.from_arrays(
            pa.array([4, 0, 0, 2, 1, 5, 0, 3], pa.int32()),
            pa.array([2, 0, 0, 1, 3, 1, 6, 2], pa.int32()),
            pa.array([10, 20, N, 30, 40, 50], pa.int32()),
            mask=pa.array([False, False, True, False, False, False, False, False]),
        ),
        "map": pa.array(
            [
                [("a", 1)],
                [],
                N,
                [("b", N), ("c", 3)],
                [("a", 1)],
                [("z", 0)],
                [("y", -1)],
                [("x", 2)],
            ],
            pa.map_(pa.string(), pa.int64()),
        ),
        "struct": pa.array(
            [
                {"b": 1, "a": "x", "nested": {"t": [1, 2]}},
                {"b": N, "a": N, "nested": N},
                N,
                {"b": 3, "a": "", "nested": {"t": []}},
                {"b": 4, "a": "é", "nested": {"t": N}},
                {"b": 5, "a": "y", "nested": {"t": [N]}},
                {"b": 6, "a": "z", "nested": {"t": [7]}},
                {"b": 7, "a": "w", "nested": {"t": [8, 9]}},
            ],
            pa.struct(
                [
                    ("b", pa.int32()),
                    ("a", pa.string()),
                    ("nested", pa.struct([("t", pa.list_(pa.int16()))])),
                ]
            ),
        ),
        "run_end_encoded": pc.run_end_encode(
            pa.array(["r", "r", N, N, "s", "s", "s", "t"]), run_end_type=pa.int32()
        ),
    }
    return pa.table(columns)


# -- the contract -------------------------------------------------------------------------------
# These values are a contract; never change them. A failure here means the algorithm changed.

ROW_FINGERPRINTS = [
    0xAC2E178ADD263923,
    0x480105DEB1BD53AC,
    0xB733839C756CD51E,
    0x614318B92801EE44,
    0xC32AC8658AB3065A,
    0x78A11D663FD6DC1C,
    0x6B8DF8563259368F,
    0x760091DC19F47EB0,
]
COLUMNS = [
    ["binary", "binary"],
    ["binary_view", "binary"],
    ["bool", "bool"],
    ["date32", "date"],
    ["date64", "date"],
    ["decimal128", "decimal"],
    ["decimal256", "decimal"],
    ["decimal32", "decimal"],
    ["decimal64", "decimal"],
    ["decimal_negative_scale", "decimal"],
    ["dictionary", "string"],
    ["duration_ns", "duration"],
    ["duration_s", "duration"],
    ["fixed_binary", "binary"],
    ["fixed_list", "list<float>"],
    ["float16", "float"],
    ["float32", "float"],
    ["float64", "float"],
    ["int16", "int"],
    ["int32", "int"],
    ["int64", "int"],
    ["int8", "int"],
    ["large_binary", "binary"],
    ["large_list", "list<string>"],
    ["large_string", "string"],
    ["list", "list<int>"],
    ["list_view", "list<int>"],
    ["map", 'list<struct<"key":string,"value":int>>'],
    ["null", "null"],
    ["run_end_encoded", "string"],
    ["string", "string"],
    ["string_view", "string"],
    ["struct", 'struct<"a":string,"b":int,"nested":struct<"t":list<int>>>'],
    ["time32_ms", "time"],
    ["time32_s", "time"],
    ["time64_ns", "time"],
    ["time64_us", "time"],
    ["timestamp_ms_tz", "timestamp"],
    ["timestamp_ns", "timestamp"],
    ["timestamp_s", "timestamp"],
    ["timestamp_us_utc", "timestamp"],
    ["uint16", "int"],
    ["uint32", "int"],
    ["uint64", "int"],
    ["uint8", "int"],
]
TABLE_FINGERPRINT = "50ef6d6f8f00d0ca9c1bfdd244be9a0f26239923e4199e977ae46606e777eab4"
ORDERED_FINGERPRINT = "cbc30b643729b34da9fda0a1f30b2e3c942795c5f2cc5a599c8c8f8af3c69eaf"
SUMS = ("3cba741f366c7147", "7c6306761590b5f3")

# docs/fingerprints.md, "Test vectors": the small table {"b": ["x", null], "a": [1, 2]}
DOC_ROWS = [0xC1540E77A7CD55C3, 0xE3B32B27DB34AFC1]
DOC_TABLE = "3bec8749046c2b76b3b2930ce004db33f55d46b1920a868a276374434ba63083"
DOC_ORDERED = "0e8984257c358a567af13dd89b7f1e74df2d968b1d02c8cde7a8fc72e904f379"


def test_golden_row_fingerprints() -> None:
    table = golden_table()
    assert [int(x) for x in row_fingerprints(table)] == ROW_FINGERPRINTS
    assert ref.row_fingerprints(table) == ROW_FINGERPRINTS


def test_golden_table_fingerprints() -> None:
    table = golden_table()
    unordered = table_fingerprint(table)
    assert unordered.columns == COLUMNS
    assert (f"{unordered.sum1:016x}", f"{unordered.sum2:016x}") == SUMS
    assert unordered.fingerprint == TABLE_FINGERPRINT
    assert table_fingerprint(table, ordered=True).fingerprint == ORDERED_FINGERPRINT
    assert ref.table_fingerprint(table)["fingerprint"] == TABLE_FINGERPRINT
    assert ref.table_fingerprint(table, ordered=True)["fingerprint"] == ORDERED_FINGERPRINT


def test_golden_per_column() -> None:
    """Each column alone, so a failure names the type whose hash changed."""
    table = golden_table()
    for name in table.column_names:
        assert [int(x) for x in row_fingerprints(table, [name])] == ref.row_fingerprints(
            table, [name]
        ), name


def test_golden_slices_and_chunks() -> None:
    table = golden_table()
    assert [int(x) for x in row_fingerprints(table.slice(3))] == ROW_FINGERPRINTS[3:]
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=3))
    assert table_fingerprint(rechunked).fingerprint == TABLE_FINGERPRINT


def test_doc_vectors() -> None:
    table = pa.table({"b": pa.array(["x", None]), "a": pa.array([1, 2], pa.int32())})
    assert [int(x) for x in row_fingerprints(table)] == DOC_ROWS
    assert table_fingerprint(table).fingerprint == DOC_TABLE
    assert table_fingerprint(table, ordered=True).fingerprint == DOC_ORDERED
    from runstate.data import rowhash

    assert rowhash.NULL == 0xE166071E7FB45925
    assert rowhash.tag(2) == 0x31AEC8FD1A3F6382
