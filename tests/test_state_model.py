"""Components and execution states: ids pinned by golden vectors and re-derived independently."""

from __future__ import annotations

import blake3
import pytest

from runstate.state.canonical import canonical_bytes
from runstate.state.model import Component, ExecutionState, merkle_root


def _h(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def _leaf(name: str, component_id: str) -> bytes:
    return _h(b"\x00" + name.encode() + b"\x00" + bytes.fromhex(component_id))


def test_component_id_is_blake3_of_its_canonical_document() -> None:
    component = Component("config", {"params": {"threshold": 0.5}})
    document = {
        "schema": "runstate.component/v1",
        "kind": "config",
        "body": {"params": {"threshold": 0.5}},
    }
    assert component.id == blake3.blake3(canonical_bytes(document)).hexdigest()
    assert component.id == "f1b77545c179f7c5c113712119c26380abc084d0d00ff33953e3e398ca26b7e5"


def test_equal_bodies_share_an_id_and_names_of_one_kind_do_not_matter() -> None:
    a = Component("data:customers", {"fingerprint": "ab" * 32})
    b = Component("data:orders", {"fingerprint": "ab" * 32})
    c = Component("model:orders", {"fingerprint": "ab" * 32})
    assert a.id == b.id  # stored once
    assert a.id != c.id  # the kind is part of the document


def test_merkle_root_golden_vectors() -> None:
    assert merkle_root({}) == blake3.blake3(b"\x02").hexdigest()
    one = {"env": "00" * 32}
    assert merkle_root(one) == _leaf("env", "00" * 32).hex()
    three = {"env": "00" * 32, "code": "11" * 32, "config": "22" * 32}
    # sorted names: code, config, env; split at 2 (largest power of two below 3)
    left = _h(b"\x01" + _leaf("code", "11" * 32) + _leaf("config", "22" * 32))
    expected = _h(b"\x01" + left + _leaf("env", "00" * 32)).hex()
    assert merkle_root(three) == expected
    assert expected == "ca6f37f40d261bd7e81213d5b76519912bd699398ecb1d21dde31bd23a43d731"
    five = {f"data:t{i}": f"{i:02x}" * 32 for i in range(5)}
    assert merkle_root(five) == "907315c9e0a406047f5894e1e633fb53cefbbbe822ec7921296072adaeb9d78b"


def test_state_id_ignores_insertion_order_and_changes_with_any_component() -> None:
    base = {"env": "00" * 32, "code": "11" * 32, "config": "22" * 32}
    state = ExecutionState(base)
    assert ExecutionState(dict(reversed(list(base.items())))).id == state.id
    for name in base:
        changed = {**base, name: "33" * 32}
        assert ExecutionState(changed).id != state.id
    assert ExecutionState({**base, "seeds": "44" * 32}).id != state.id


def test_round_trips_and_validation() -> None:
    component = Component("seeds", {"seed": 7})
    assert Component.from_dict(component.to_dict()) == component
    assert Component.from_document("seeds", component.canonical()).id == component.id
    state = ExecutionState.of([component])
    assert ExecutionState.from_dict(state.to_dict()).id == state.id
    with pytest.raises(ValueError, match="kind must be one of"):
        Component("weights", {})
    with pytest.raises(ValueError, match="data:<name>"):
        Component("data", {})
    with pytest.raises(ValueError, match="does not match"):
        Component.from_dict({"name": "seeds", "id": "00" * 32, "body": {"seed": 7}})
    with pytest.raises(ValueError, match="malformed id"):
        ExecutionState({"env": "abc"})
