"""Value objects of the execution state: components and the state that groups them.

A *component* is one dimension of a run's state (``code``, ``env``, ``config``, ``seeds``,
``policy``, ``data:<name>``, ``model:<name>``). Its id is the BLAKE3 of its canonical
document ``{"schema": "runstate.component/v1", "kind": ..., "body": ...}``, so the id is
also the id of the object that stores it: two runs with the same environment share one
stored ``env`` object.

An *execution state* maps component names to ids. Its id is a Merkle root over the sorted
``(name, id)`` pairs, in the shape of RFC 6962 (Certificate Transparency) trees, so a later
version can prove that one component belongs to a state without shipping the others:

* leaf   = BLAKE3(0x00 || utf8(name) || 0x00 || raw 32-byte component id)
* node   = BLAKE3(0x01 || left || right)
* root of n leaves: the leaf itself for n = 1; for n > 1 split at k, the largest power of
  two below n: node(root(first k), root(rest)); the root of no leaves is BLAKE3(0x02).

Golden vectors in ``tests/test_state_model.py`` pin both algorithms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import blake3

from runstate.state.canonical import canonical_bytes, hash_bytes

__all__ = ["COMPONENT_KINDS", "Component", "ExecutionState", "merkle_root"]

COMPONENT_KINDS = ("code", "config", "data", "env", "model", "policy", "seeds")
COMPONENT_SCHEMA = "runstate.component/v1"


def _kind_of(name: str) -> str:
    kind, _, sub = name.partition(":")
    if kind not in COMPONENT_KINDS:
        raise ValueError(f"component {name!r}: kind must be one of {', '.join(COMPONENT_KINDS)}")
    if kind in ("data", "model") and not sub:
        raise ValueError(f"component {name!r}: {kind} components are named '{kind}:<name>'")
    return kind


@dataclass(frozen=True)
class Component:
    """One dimension of state, identified by the hash of its canonical document.

    >>> Component("config", {"params": {"threshold": 0.5}}).id[:12]
    'f1b77545c179'
    """

    name: str
    body: Mapping[str, Any]
    id: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        _kind_of(self.name)
        object.__setattr__(self, "id", hash_bytes(self.canonical()))

    @property
    def kind(self) -> str:
        return self.name.partition(":")[0]

    def document(self) -> dict[str, Any]:
        return {"schema": COMPONENT_SCHEMA, "kind": self.kind, "body": self.body}

    def canonical(self) -> bytes:
        return canonical_bytes(self.document())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "body": dict(self.body)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Component:
        component = cls(str(data["name"]), dict(data["body"]))
        if "id" in data and data["id"] != component.id:
            raise ValueError(f"component {component.name}: id does not match its content")
        return component

    @classmethod
    def from_document(cls, name: str, raw: bytes) -> Component:
        """Rebuild a component from its stored canonical bytes (as read from the store)."""
        import json

        document = json.loads(raw)
        if document.get("schema") != COMPONENT_SCHEMA:
            raise ValueError(f"component {name}: not a {COMPONENT_SCHEMA} document")
        return cls(name, document["body"])


def _leaf(name: str, component_id: str) -> bytes:
    return blake3.blake3(
        b"\x00" + name.encode("utf-8") + b"\x00" + bytes.fromhex(component_id)
    ).digest()


def _root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return blake3.blake3(b"\x01" + _root(leaves[:split]) + _root(leaves[split:])).digest()


def merkle_root(components: Mapping[str, str]) -> str:
    """The state id of ``{component name: component id}`` (see the module docstring)."""
    if not components:
        return blake3.blake3(b"\x02").hexdigest()
    leaves = [_leaf(name, components[name]) for name in sorted(components, key=str.encode)]
    return _root(leaves).hex()


@dataclass(frozen=True)
class ExecutionState:
    """The components of one run, by name; ``id`` is their Merkle root."""

    components: Mapping[str, str]
    id: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        for name, component_id in self.components.items():
            _kind_of(name)
            if len(component_id) != 64:
                raise ValueError(f"state: component {name} has a malformed id {component_id!r}")
        object.__setattr__(self, "components", dict(sorted(self.components.items())))
        object.__setattr__(self, "id", merkle_root(self.components))

    @classmethod
    def of(cls, components: list[Component]) -> ExecutionState:
        return cls({component.name: component.id for component in components})

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "components": dict(self.components)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecutionState:
        state = cls(dict(data["components"]))
        if "id" in data and data["id"] != state.id:
            raise ValueError("state: id does not match its components")
        return state
