"""The NumPy merge (distinct keys) agrees with the compiled merge, row for row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runstate.data._mergekernel import merge
from runstate.data.rowdiff import _merge_unique, column_numpy, merge_sorted

keys = st.lists(st.integers(0, 40), max_size=30, unique=True)
rows = st.integers(0, 3)


@settings(max_examples=300, deadline=None)
@given(keys, keys, st.data(), st.booleans())
def test_numpy_merge_equals_the_kernel(
    a: list[int], b: list[int], data: st.DataObject, keyed: bool
) -> None:
    ka = np.array(sorted(a), np.uint64)
    kb = np.array(sorted(b), np.uint64)
    ra = np.array([data.draw(rows) for _ in a], np.uint64) if keyed else ka
    rb = np.array([data.draw(rows) for _ in b], np.uint64) if keyed else kb
    fast = _merge_unique(ka, ra, kb, rb, keyed)
    assert fast is not None
    slow = merge(ka, ra, kb, rb, keyed)
    assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])


def test_repeated_keys_go_to_the_kernel() -> None:
    ka = np.array([1, 1, 2], np.uint64)
    ra = np.array([5, 6, 7], np.uint64)
    kb = np.array([1, 2], np.uint64)
    rb = np.array([5, 8], np.uint64)
    assert _merge_unique(ka, ra, kb, rb, True) is None
    codes_a, codes_b = merge_sorted(ka, ra, kb, rb, True)
    assert codes_a.tolist() == [0, 1, 2] and codes_b.tolist() == [0, 2]


@pytest.mark.parametrize("offset", [0, 3])
def test_column_numpy_is_zero_copy_and_honours_slices(offset: int) -> None:
    values = np.arange(10, dtype=np.uint64) * np.uint64(2**61)
    table = pa.table({"fp": pa.array(values)}).slice(offset)
    got = column_numpy(table, "fp")
    assert got.tolist() == values[offset:].tolist()
    chunked = pa.concat_tables([table, table])
    assert column_numpy(chunked, "fp").tolist() == values[offset:].tolist() * 2
