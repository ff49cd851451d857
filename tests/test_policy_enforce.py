"""Enforcement on Arrow tables: row filters, each column rule, excluded-row fingerprints."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pyarrow as pa
import pytest

from runstate.data.tables import row_fingerprints
from runstate.errors import PolicyError
from runstate.policy.enforce import (
    apply_decision,
    check_decision,
    filter_columns,
    hash_array,
    redact_array,
)
from runstate.policy.rules import Decision
from runstate.state.redact import REDACTED


def _table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "region": pa.array(["EU", "EU", "US", None, "US"]),
            "consent": pa.array([True, False, False, True, None]),
            "email": pa.array(["a@x", "b@x", "c@x", None, "e@x"], pa.large_string()),
            "ssn": pa.array(["111", "222", "333", "444", "555"]),
            "age": pa.array([30, 40, 50, 60, 70], pa.int32()),
            "ts": pa.array([1, 2, 3, 4, 5], pa.timestamp("ms", tz="UTC")),
        }
    )


def _decision(row_filter: str | None = None, **columns: str) -> Decision:
    return Decision("customers", True, "customers", 0, "test", row_filter, columns)


def _hmac(key: bytes, value: bytes) -> str:
    return hmac.new(key, value, hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNSTATE_MASK_KEY", "key-one")


def test_row_filter_keeps_true_rows_only_with_types_unchanged() -> None:
    table = _table()
    result = apply_decision(_decision("consent OR region <> 'EU'"), table, key=["id"])
    # row 2: EU without consent -> false; row 4: NULL region, consent true -> true;
    # row 5: consent NULL, region US -> true; row 3: US -> true.
    assert result.table.column("id").to_pylist() == [1, 3, 4, 5]
    assert result.table.schema == table.schema  # every Arrow type kept
    assert (result.rows_before, result.rows_after) == (5, 4)
    excluded = table.filter(pa.array([False, True, False, False, False]))
    assert result.excluded_by == "key" and result.key == ["id"]
    assert list(result.excluded) == list(row_fingerprints(excluded, columns=["id"]))


def test_null_filter_result_excludes_the_row() -> None:
    result = apply_decision(_decision("consent"), _table())
    assert result.table.column("id").to_pylist() == [1, 4]  # NULL consent is excluded
    assert result.excluded_by == "row" and len(result.excluded) == 3


def test_drop_redact_and_allow() -> None:
    result = apply_decision(_decision(None, ssn="drop", region="redact", age="redact", id="allow"),
                            _table())  # fmt: skip
    table = result.table
    assert "ssn" not in table.column_names
    assert table.column("region").to_pylist() == [REDACTED] * 5
    assert table.schema.field("region").type == pa.string()
    assert table.column("age").to_pylist() == [None] * 5  # non-text: null, same type
    assert table.schema.field("age").type == pa.int32()
    assert table.column("id").to_pylist() == [1, 2, 3, 4, 5]
    assert result.columns == {"ssn": "drop", "region": "redact", "age": "redact", "id": "allow"}


def test_hash_is_keyed_deterministic_and_matches_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    first = apply_decision(_decision(None, email="hash", age="hash"), _table()).table
    again = apply_decision(_decision(None, email="hash", age="hash"), _table()).table
    assert first.equals(again)
    emails = first.column("email").to_pylist()
    assert emails[0] == _hmac(b"key-one", b"a@x")
    assert emails[3] is None  # nulls stay null
    assert first.column("age").to_pylist()[0] == _hmac(b"key-one", b"30")  # text form
    monkeypatch.setenv("RUNSTATE_MASK_KEY", "key-two")
    other = apply_decision(_decision(None, email="hash"), _table()).table
    assert other.column("email").to_pylist()[0] == _hmac(b"key-two", b"a@x")
    assert other.column("email").to_pylist()[0] != emails[0]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.binary()])
def test_compiled_hash_kernel_matches_hmac(kind: pa.DataType) -> None:
    n = 30_000  # above the size where the compiled kernel takes over
    values = [f"user{i}@example.com" * (1 + i % 5) for i in range(n)]  # 17 to 110 bytes
    raw = [v.encode() for v in values]
    array = pa.array(raw if kind == pa.binary() else values, kind)
    array = pa.concat_arrays([array, pa.nulls(3, kind)]).slice(1)  # offset and nulls
    hashed = hash_array(array, b"k" * 70).to_pylist()  # a key longer than a block
    assert hashed[-1] is None
    key = hashlib.sha256(b"k" * 70).digest()
    for i in (0, 1, 2, 3, 4, 12345, n - 2):
        assert hashed[i] == hmac.new(key, raw[i + 1], hashlib.sha256).hexdigest()


def test_hash_of_dictionary_and_chunked_columns() -> None:
    array = pa.chunked_array(
        [pa.array(["a", "b", "a"]).dictionary_encode(), pa.array(["b"]).dictionary_encode()]
    )
    hashed = hash_array(array, b"k")
    assert hashed.to_pylist() == [_hmac(b"k", v) for v in (b"a", b"b", b"a", b"b")]


def test_redact_keeps_binary_and_length() -> None:
    out = redact_array(pa.array([b"x", None], pa.binary()))
    assert out.type == pa.binary() and out.to_pylist() == [REDACTED.encode()] * 2


def test_missing_mask_key_is_an_error_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNSTATE_MASK_KEY")
    with pytest.raises(PolicyError, match="RUNSTATE_MASK_KEY"):
        check_decision(_decision(None, email="hash"), _table().schema)


def test_filter_naming_a_missing_column_is_an_error_on_the_schema_alone() -> None:
    with pytest.raises(PolicyError, match=r"dataset 'customers' \(rule 'customers'\).*nope"):
        check_decision(_decision("nope = 1"), _table().schema)
    with pytest.raises(PolicyError, match="not a boolean expression"):
        check_decision(_decision("region"), _table().schema)


def test_column_rule_for_a_missing_column_is_a_warning() -> None:
    with pytest.warns(UserWarning, match="column rule.*phone"):
        missing = check_decision(_decision(None, phone="drop"), _table().schema)
    assert missing == ["phone"]
    result = apply_decision(_decision(None, phone="drop"), _table(), missing=missing)
    assert result.missing_columns == ["phone"] and result.columns == {}


def test_excluded_rows_are_fingerprinted_after_masks() -> None:
    table = _table()
    result = apply_decision(_decision("region = 'US'", email="hash", ssn="drop"), table)
    gone = apply_decision(_decision("NOT (region = 'US') OR region IS NULL", email="hash",
                                    ssn="drop"), table).table  # fmt: skip
    assert sorted(result.excluded) == sorted(row_fingerprints(gone))
    keyed_by_dropped = apply_decision(_decision("region = 'US'", id="drop"), table, key=["id"])
    assert keyed_by_dropped.excluded_by == "row"  # the key did not survive


def test_filter_columns_lists_what_the_expression_reads() -> None:
    assert filter_columns("consent OR region <> 'EU'", _table().schema) == ["region", "consent"]


def test_large_filter_keeps_order() -> None:
    n = 1_100_000  # above the size where columns are filtered in parallel
    table = pa.table({"i": np.arange(n), "v": np.arange(n) % 7})
    result = apply_decision(_decision("v <> 3"), table)
    kept = result.table.column("i").to_numpy()
    assert len(kept) == n - len(range(3, n, 7)) and np.all(np.diff(kept) > 0)


def test_portable_hash_kernel_gives_the_same_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from runstate.policy import _hmackernel

    values = [f"v{i}".encode() * (i % 40) for i in range(300)]  # 0 to 156 bytes
    offsets = np.cumsum([0] + [len(v) for v in values]).astype(np.int64)
    data = np.frombuffer(b"".join(values), np.uint8)
    fast = _hmackernel.hmac_hex(b"key", offsets, data).tobytes()
    monkeypatch.setattr(_hmackernel, "_fast", False)  # as where libcrypto is unavailable
    portable = _hmackernel.hmac_hex(b"key", offsets, data).tobytes()
    assert portable == fast
    expected = "".join(hmac.new(b"key", v, hashlib.sha256).hexdigest() for v in values)
    assert portable.decode() == expected


def test_masks_are_computed_for_kept_rows_only_in_order() -> None:
    n = 50_000  # the compiled kernel, over several chunks
    emails = [f"u{i}@x" if i % 9 else None for i in range(n)]
    table = pa.Table.from_batches(
        pa.table(
            {
                "i": np.arange(n),
                "email": pa.array(emails),
                "tag": pa.array(["t"] * n).dictionary_encode(),
            }
        ).to_batches(max_chunksize=7_000)
    )
    result = apply_decision(_decision("i % 3 = 0", email="hash", tag="hash"), table)
    kept = [i for i in range(n) if i % 3 == 0]
    assert result.table.column("i").to_pylist() == kept
    hashed = result.table.column("email").to_pylist()
    for position in (0, 1, 2, 3, len(kept) - 1):
        i = kept[position]
        expected = None if emails[i] is None else _hmac(b"key-one", emails[i].encode())
        assert hashed[position] == expected
    assert set(result.table.column("tag").to_pylist()) == {_hmac(b"key-one", b"t")}
    everything = apply_decision(_decision("i % 3 = 0", i="drop", email="drop", tag="drop"), table)
    assert everything.table.num_columns == 0 and everything.rows_after == len(kept)
