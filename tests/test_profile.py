"""Table profiles: values checked against NumPy/pandas, streaming, merging, size, JSON."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from runstate.data import profile as profile_module  # noqa: E402
from runstate.data.profile import (  # noqa: E402
    PROFILE_SCHEMA,
    ColumnProfile,
    TableProfile,
    _family_of,
    merge_profiles,
    profile_table,
)
from runstate.data.readers import open_table  # noqa: E402
from runstate.errors import UsageError  # noqa: E402

QS = {"p01": 0.01, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99}


def mixed_table(rows: int = 20_000, seed: int = 7) -> Any:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00", "s")
    seconds = rng.integers(0, 30 * 86_400, rows)
    seconds = seconds[(seconds < 4 * 86_400) | (seconds >= 5 * 86_400)]  # no rows on Jan 5
    n = seconds.size
    x = rng.normal(10.0, 3.0, n)
    x[rng.random(n) < 0.01] = np.nan
    x_mask = rng.random(n) < 0.02
    words = np.array(["red", "green", "blue", "cyan", "magenta"])
    word_index = rng.choice(5, n, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    return pa.table(
        {
            "id": pa.array(np.arange(n)),
            "qty": pa.array(rng.integers(-50, 50, n), mask=rng.random(n) < 0.05),
            "x": pa.array(x, mask=x_mask),
            "colour": pa.array(words[word_index]),
            "flag": pa.array(rng.random(n) < 0.25),
            "when": pa.array(start + seconds.astype("timedelta64[s]")).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "day": pa.array((start + seconds.astype("timedelta64[s]")).astype("datetime64[D]")),
        }
    )


def ranks_ok(values: Any, estimates: dict[str, Any], tolerance: float) -> None:
    """Each estimated quantile sits within ``tolerance`` of its rank in the real data."""
    ordered = np.sort(values)
    for name, q in QS.items():
        estimate = float(estimates[name])
        low = np.searchsorted(ordered, estimate, side="left") / ordered.size
        high = np.searchsorted(ordered, estimate, side="right") / ordered.size
        assert low - tolerance <= q <= high + tolerance, (name, estimate, low, high)


# ---------------------------------------------------------------------------------------
# Values against NumPy and pandas


def test_counts_moments_quantiles_match_numpy() -> None:
    pd = pytest.importorskip("pandas")
    table = mixed_table()
    frame = table.to_pandas()
    profile = profile_table(table)
    assert profile.rows == table.num_rows

    qty = profile.column("qty")
    assert (qty.count, qty.nulls) == (int(frame["qty"].count()), int(frame["qty"].isna().sum()))
    values = frame["qty"].dropna().to_numpy()
    assert qty.min == int(values.min()) and qty.max == int(values.max())
    assert qty.mean == pytest.approx(values.mean(), rel=1e-12)
    assert qty.std == pytest.approx(values.std(ddof=1), rel=1e-9)
    assert qty.distinct == len(np.unique(values)) and qty.distinct_exact
    assert qty.quantiles is not None
    for name, q in QS.items():  # one chunk: exact, as numpy's linear interpolation
        assert qty.quantiles[name] == pytest.approx(np.quantile(values, q))

    x = profile.column("x")
    raw = table.column("x").to_numpy(zero_copy_only=False)  # nulls as NaN here
    nulls = table.column("x").null_count
    finite = table.column("x").drop_null().to_numpy()
    finite = finite[~np.isnan(finite)]
    assert x.nulls == nulls and x.count == raw.size - nulls
    assert x.nans == int(np.isnan(table.column("x").drop_null().to_numpy()).sum()) > 0
    assert x.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert x.std == pytest.approx(finite.std(ddof=1), rel=1e-9)
    assert x.min == finite.min() and x.max == finite.max()
    assert x.quantiles is not None
    for name, q in QS.items():
        assert x.quantiles[name] == pytest.approx(np.quantile(finite, q))
    assert x.top_values is None  # floats have no top values

    colour = profile.column("colour")
    counts = frame["colour"].value_counts()
    assert colour.distinct == 5 and colour.distinct_exact
    assert colour.top_values == [[value, int(count)] for value, count in counts.items()]
    assert colour.top_exact
    assert (colour.min, colour.max) == ("blue", "red")

    flag = profile.column("flag")
    assert flag.top_values == [
        [False, int((~frame["flag"]).sum())],
        [True, int(frame["flag"].sum())],
    ]
    assert (flag.min, flag.max, flag.distinct) == (False, True, 2)

    assert profile.column("id").top_values == []  # no value repeats
    assert pd is not None


def test_schema_and_families() -> None:
    table = pa.table(
        {
            "i8": pa.array([1, None], pa.int8()),
            "u64": pa.array([2**64 - 1, 3], pa.uint64()),
            "f": pa.array([1.5, 2.5], pa.float32()),
            "dec": pa.array([Decimal("1.50"), Decimal("-0.25")], pa.decimal128(10, 2)),
            "s": pa.array(["a", "b"], pa.large_string()),
            "bin": pa.array([b"\x00", b"\x01\x02"]),
            "d64": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 3)], pa.date64()),
            "t": pa.array([dt.time(1, 2, 3), dt.time(23, 59, 59)], pa.time64("us")),
            "ts": pa.array([0, 1], pa.timestamp("ns")),
            "dur": pa.array([5, 7], pa.duration("ms")),
            "cat": pa.array(["x", "y"]).dictionary_encode(),
            "lst": pa.array([[1, 2], None], pa.list_(pa.int32())),
            "st": pa.array([{"z": 1, "a": "q"}, None]),
            "nothing": pa.array([None, None], pa.null()),
        },
        schema=pa.schema(
            [
                pa.field("i8", pa.int8(), nullable=False),
                *[
                    pa.field(n, t)
                    for n, t in [
                        ("u64", pa.uint64()),
                        ("f", pa.float32()),
                        ("dec", pa.decimal128(10, 2)),
                        ("s", pa.large_string()),
                        ("bin", pa.binary()),
                        ("d64", pa.date64()),
                        ("t", pa.time64("us")),
                        ("ts", pa.timestamp("ns")),
                        ("dur", pa.duration("ms")),
                        ("cat", pa.dictionary(pa.int32(), pa.string())),
                        ("lst", pa.list_(pa.int32())),
                        ("st", pa.struct([("z", pa.int64()), ("a", pa.string())])),
                        ("nothing", pa.null()),
                    ]
                ],
            ]
        ),
    )
    profile = profile_table(table)
    schema = {
        name: (type_, family, nullable) for name, type_, family, nullable in profile.table_schema
    }
    assert schema["i8"] == ("int8", "int", False)
    assert schema["u64"][1] == "int" and schema["f"][1] == "float"
    assert schema["dec"] == ("decimal128(10, 2)", "decimal", True)
    assert schema["s"][1] == "string" and schema["bin"][1] == "binary"
    assert schema["d64"][1] == "date" and schema["t"][1] == "time"
    assert schema["ts"][1] == "timestamp" and schema["dur"][1] == "duration"
    assert schema["cat"][1] == "string"  # a dictionary is its values
    assert schema["lst"][1] == "list<int>"
    assert schema["st"][1] == "struct<a:string,z:int>"  # fields sorted by name
    assert schema["nothing"][1] == "null"
    assert _family_of(pa.map_(pa.string(), pa.int64())) == "list<struct<key:string,value:int>>"

    assert profile.column("u64").max == 2**64 - 1
    assert profile.column("dec").min == "-0.25" and profile.column("dec").max == "1.50"
    assert profile.column("dec").mean == pytest.approx(0.625)
    assert profile.column("d64").min == "2024-01-01"
    assert profile.column("t").max == "23:59:59.000000"
    assert profile.column("ts").max == "1970-01-01T00:00:00.000000001"
    assert profile.column("dur").mean == pytest.approx(6.0)
    assert profile.column("cat").top_values == []
    assert profile.column("cat").distinct == 2
    assert profile.column("bin").distinct == 2 and profile.column("bin").min is None
    assert profile.column("lst").count == 1 and profile.column("lst").nulls == 1
    assert profile.column("nothing").nulls == 2
    json.dumps(profile.to_dict(), allow_nan=False)


def test_time_coverage_gaps_by_day() -> None:
    table = mixed_table()
    profile = profile_table(table)
    for name in ("when", "day"):
        column = profile.column(name)
        assert column.histogram is not None
        assert column.histogram.width_days == 1
        assert len(column.histogram.counts) == 30
        assert sum(column.histogram.counts) == table.num_rows
        document = column.to_dict()
        assert document["gaps"] == [{"from": "2024-01-05", "to": "2024-01-05", "days": 1}]
        assert document["gap_days"] == 1 and document["histogram"]["start"] == "2024-01-01"
    assert profile.column("when").min.startswith("2024-01-01T") and profile.column(
        "when"
    ).min.endswith("Z")
    days = table.column("day").to_pylist()
    per_day = {day: days.count(day) for day in set(days)}
    histogram = profile.column("day").histogram
    assert histogram is not None
    for index, count in enumerate(histogram.counts):
        assert per_day.get(dt.date(2024, 1, 1) + dt.timedelta(days=index), 0) == count


def test_time_coverage_over_years() -> None:
    days = np.arange(0, 3_000, dtype=np.int64)
    days = days[(days < 1_000) | (days >= 1_200)]  # a 200-day hole
    table = pa.table({"d": pa.array(days.astype("datetime64[D]"))})
    column = profile_table(table, histogram_bins=100).column("d")
    assert column.histogram is not None
    assert column.histogram.width_days == 32  # the smallest power of two giving <= 100 bins
    assert len(column.histogram.counts) <= 100
    assert sum(column.histogram.counts) == days.size
    gaps = column.gaps
    assert gaps and all(first >= 1_000 and last < 1_200 for first, last in gaps)


def test_key_duplicates_and_nulls() -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, 2, 3, 3, 3, None, 4]),
            "region": pa.array(["eu", "eu", "us", "eu", "eu", "eu", "eu", None]),
            "v": pa.array(range(8)),
        }
    )
    single = profile_table(table, key=["id"])
    assert single.key == ("id",) and single.key_nulls == 1
    assert (single.key_duplicates, single.key_duplicate_rows) == (2, 3)
    document = single.to_dict()
    assert document["key_duplicates"] == {"keys": 2, "extra_rows": 3, "exact": True}
    pair = profile_table(table, key=["id", "region"])
    assert pair.key_nulls == 2
    assert (pair.key_duplicates, pair.key_duplicate_rows) == (1, 2)  # (3, "eu") three times
    unique = profile_table(table, key="v")
    assert (unique.key_duplicates, unique.key_duplicate_rows, unique.key_nulls) == (0, 0, 0)
    strings = profile_table(
        pa.table({"k": ["a", "b", "a", "long key " * 5, "long key " * 5]}), key="k"
    )
    assert (strings.key_duplicates, strings.key_duplicate_rows) == (2, 2)
    with pytest.raises(UsageError, match="key column 'nope' is not in the table"):
        profile_table(table, key=["nope"])


def test_key_duplicates_match_pandas_on_many_rows() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 150_000, 200_000)
    names = np.array([f"user-{k}" for k in keys])
    table = pa.table({"k": keys, "name": names})
    frame = table.to_pandas()
    counts = frame["k"].value_counts()
    repeated = counts[counts > 1]
    for key in ("k", "name"):
        profile = profile_table(table, key=key)
        assert profile.key_duplicates == len(repeated)
        assert profile.key_duplicate_rows == int((repeated - 1).sum())
    assert pd is not None


# ---------------------------------------------------------------------------------------
# JSON, size, round trip


def test_json_safe_with_non_finite_values() -> None:
    table = pa.table(
        {
            "f": pa.array([1.0, math.inf, 2.0, -math.inf, math.nan, None]),
            "g": pa.array([math.inf] * 6),
            "empty_strings": pa.array([""] * 6),
        }
    )
    profile = profile_table(table)
    text = json.dumps(profile.to_dict(), allow_nan=False)
    f = profile.column("f")
    assert f.max == "Infinity" and f.min == "-Infinity" and f.nans == 1 and f.nulls == 1
    assert f.mean == "NaN"  # inf - inf
    assert profile.column("g").mean == "Infinity"
    assert TableProfile.from_dict(json.loads(text)) == profile


def test_round_trip_and_document_shape() -> None:
    profile = profile_table(mixed_table(), key=["id"])
    document = json.loads(json.dumps(profile.to_dict(), allow_nan=False))
    assert document["schema"] == PROFILE_SCHEMA
    assert TableProfile.from_dict(document) == profile
    assert ColumnProfile.from_dict(document["columns"][0]) == profile.columns[0]
    with pytest.raises(UsageError):
        TableProfile.from_dict({"schema": "something/v1"})


def test_profile_of_ten_columns_is_small() -> None:
    rng = np.random.default_rng(11)
    n = 100_000
    start = np.datetime64("2023-01-01", "s")
    table = pa.table(
        {
            "id": np.arange(n),
            "a": rng.integers(0, 1_000_000, n),
            "b": rng.integers(0, 20, n),
            "x": rng.normal(size=n),
            "y": rng.exponential(size=n),
            "user": pa.array([f"user-{i}" for i in rng.integers(0, 80_000, n)]),
            "colour": pa.array(rng.choice(["red", "green", "blue"], n)),
            "ok": rng.random(n) < 0.5,
            "when": pa.array(start + rng.integers(0, 365 * 86_400, n).astype("timedelta64[s]")),
            "day": pa.array(
                (start + rng.integers(0, 90, n).astype("timedelta64[D]")).astype("datetime64[D]")
            ),
        }
    )
    profile = profile_table(table, key=["id"])
    size = len(json.dumps(profile.to_dict(), allow_nan=False))
    assert size < 16 * 1024, size


def test_empty_table() -> None:
    table = pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    profile = profile_table(table, key="a")
    assert profile.rows == 0 and profile.key_duplicates == 0 and profile.key_nulls == 0
    assert profile.column("a").count == 0 and profile.column("a").distinct == 0
    json.dumps(profile.to_dict(), allow_nan=False)
    empty_stream = profile_table(iter([]), schema=table.schema)
    assert empty_stream.rows == 0 and [c.name for c in empty_stream.columns] == ["a", "s"]
    with pytest.raises(UsageError, match="no batches"):
        profile_table(iter([]))


# ---------------------------------------------------------------------------------------
# Streaming


def test_streamed_profile_equals_whole_table_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = mixed_table(rows=30_000)
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=2_000)
    whole = profile_table(table)
    monkeypatch.setattr(profile_module, "CHUNK_ROWS", 2_000)  # many small chunks
    reader = open_table(path)
    assert len(list(reader.batches())) == 15
    streamed = profile_table(reader)
    for a, b in zip(whole.columns, streamed.columns, strict=True):
        assert (a.count, a.nulls, a.nans, a.min, a.max) == (b.count, b.nulls, b.nans, b.min, b.max)
        assert (a.distinct, a.top_values, a.histogram) == (b.distinct, b.top_values, b.histogram)
        if a.mean is not None:
            assert a.mean == pytest.approx(b.mean, rel=1e-9)
            assert a.std == pytest.approx(b.std, rel=1e-9)
    values = table.column("x").drop_null().to_numpy()
    ranks_ok(values[~np.isnan(values)], streamed.column("x").quantiles or {}, 0.01)
    qty = table.column("qty").drop_null().to_numpy()
    ranks_ok(qty, streamed.column("qty").quantiles or {}, 0.01)


def test_distinct_beyond_the_exact_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile_module, "EXACT_DISTINCT_LIMIT", 5_000)
    monkeypatch.setattr(profile_module, "CHUNK_ROWS", 10_000)
    rng = np.random.default_rng(5)
    n = 100_000
    hot = np.array([f"hot-{i}" for i in range(5)])
    names = np.where(
        rng.random(n) < 0.2,
        hot[rng.integers(0, 5, n)],
        np.char.add("user-", rng.integers(0, 40_000, n).astype(str)),
    )
    ints = np.where(rng.random(n) < 0.1, 7, rng.integers(0, 10**9, n))
    table = pa.table({"name": names, "n": ints, "f": rng.normal(size=n)})
    profile = profile_table(table)
    truth = {"name": len(np.unique(names)), "n": len(np.unique(ints)), "f": n}
    for name, expected in truth.items():
        column = profile.column(name)
        assert not column.distinct_exact
        assert column.distinct == pytest.approx(expected, rel=0.1), name
    top = profile.column("name").top_values or []
    assert {value for value, _ in top[:5]} == set(hot)
    counts = {value: int((names == value).sum()) for value in hot}
    for value, count in top[:5]:
        assert count == counts[value]  # hot values are in every chunk's top: counted fully
    assert profile.column("n").top_values[0] == [7, int((ints == 7).sum())]  # type: ignore[index]
    assert not profile.column("name").top_exact


# ---------------------------------------------------------------------------------------
# Merging


def test_merge_equals_profile_of_concatenation() -> None:
    table = mixed_table(rows=40_000)
    half = table.num_rows // 2
    a, b = table.slice(0, half), table.slice(half)
    merged = merge_profiles(profile_table(a, key="id"), profile_table(b, key="id"))
    whole = profile_table(table, key="id")
    assert merged.rows == whole.rows and merged.merged
    for m, w in zip(merged.columns, whole.columns, strict=True):
        assert (m.name, m.type, m.family) == (w.name, w.type, w.family)
        assert (m.count, m.nulls, m.nans, m.min, m.max) == (w.count, w.nulls, w.nans, w.min, w.max)
        assert m.histogram == w.histogram
        assert m.distinct == pytest.approx(w.distinct, rel=0.1, abs=1)
        if w.mean is not None:
            assert m.mean == pytest.approx(w.mean, rel=1e-9)
            assert m.std == pytest.approx(w.std, rel=1e-9)
    assert merged.column("colour").top_values == whole.column("colour").top_values
    assert merged.column("flag").top_values == whole.column("flag").top_values
    finite = table.column("x").drop_null().to_numpy()
    ranks_ok(finite[~np.isnan(finite)], merged.column("x").quantiles or {}, 0.01)
    assert merged.key_duplicates == 0 and merged.key_nulls == 0 and not merged.key_exact
    assert merged.to_dict()["key_duplicates"]["exact"] is False
    json.dumps(merged.to_dict(), allow_nan=False)
    again = merge_profiles(TableProfile.from_dict(merged.to_dict()), profile_table(a, key="id"))
    assert again.rows == merged.rows + half


def test_merge_histograms_across_a_wide_span() -> None:
    early = pa.table({"d": pa.array(np.arange(0, 300).astype("datetime64[D]"))})
    late = pa.table({"d": pa.array(np.arange(900, 1_000).astype("datetime64[D]"))})
    merged = merge_profiles(profile_table(early), profile_table(late)).column("d")
    whole = profile_table(pa.concat_tables([early, late])).column("d")
    assert merged.histogram is not None and whole.histogram is not None
    assert sum(merged.histogram.counts) == 400
    assert merged.histogram.width_days == whole.histogram.width_days
    assert merged.histogram == whole.histogram
    assert merged.gaps == whole.gaps


def test_merge_refuses_different_columns() -> None:
    one = profile_table(pa.table({"a": [1]}))
    with pytest.raises(UsageError, match="different columns"):
        merge_profiles(one, profile_table(pa.table({"b": [1]})))
    with pytest.raises(UsageError, match="'a' is int in one and string in the other"):
        merge_profiles(one, profile_table(pa.table({"a": ["x"]})))
