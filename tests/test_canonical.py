"""Canonical JSON: the byte encoding every id is computed over. Golden vectors never change."""

from __future__ import annotations

import math

import blake3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runstate.state.canonical import canonical_bytes, content_id, hash_bytes

GOLDEN = [
    ({}, b"{}"),
    ([], b"[]"),
    ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
    ({"a": "é"}, b'{"a":"\xc3\xa9"}'),
    ({"x": 1.0, "y": 1}, b'{"x":1.0,"y":1}'),
    ({"f": 0.1, "g": 1e-07, "h": 1e22, "z": -0.0}, b'{"f":0.1,"g":1e-07,"h":1e+22,"z":0.0}'),
    ({"big": 10**20, "neg": -5}, b'{"big":100000000000000000000,"neg":-5}'),
    ({"t": (1, 2), "n": None, "b": [True, False]}, b'{"b":[true,false],"n":null,"t":[1,2]}'),
    ({"q": 'say "hi"\n', "ctl": "\x01"}, b'{"ctl":"\\u0001","q":"say \\"hi\\"\\n"}'),
    # keys sort by UTF-8 bytes: "Z" (0x5a) < "a" (0x61) < "é" (0xc3 0xa9)
    ({"é": 1, "a": 2, "Z": 3}, b'{"Z":3,"a":2,"\xc3\xa9":1}'),
]


@pytest.mark.parametrize(("value", "expected"), GOLDEN)
def test_golden_encodings(value: object, expected: bytes) -> None:
    assert canonical_bytes(value) == expected


def test_golden_content_id() -> None:
    value = {"b": [1, 2.0, None, True], "a": "é"}
    assert content_id(value) == "ddd46be2f132b9532cfca44e031edff685f349cc7a523af4356e7b0fb06a41a7"
    assert content_id(value) == blake3.blake3(canonical_bytes(value)).hexdigest()
    assert hash_bytes(b"") == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match=r"\$\.x"):
        canonical_bytes({"x": bad})


def test_unencodable_types_name_their_path() -> None:
    with pytest.raises(TypeError, match=r"\$\.a\[1\]: set"):
        canonical_bytes({"a": [1, {2}]})
    with pytest.raises(TypeError, match="key 1"):
        canonical_bytes({1: "x"})
    with pytest.raises(TypeError):
        canonical_bytes({"b": b"bytes"})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_order_of_keys_never_changes_the_bytes(value: object) -> None:
    import json

    encoded = canonical_bytes(value)
    # Round trip: decoding and re-encoding yields the same bytes (a fixed point).
    assert canonical_bytes(json.loads(encoded)) == encoded
    if isinstance(value, dict):
        reordered = dict(reversed(list(value.items())))
        assert canonical_bytes(reordered) == encoded
