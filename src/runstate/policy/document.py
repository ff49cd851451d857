"""Policy documents: the YAML format, its validation, and the value objects it becomes.

A policy document (``runstate-policy.yaml``, or a version applied to the store) says, per
dataset name or glob, who may read the dataset for which purposes, which rows they see and
how columns are masked. Its JSON Schema is published as
``docs/schemas/policy-document.schema.json`` (``$id`` https://runstate.dev/schemas/policy-document/v1);
this module enforces the same rules (``tests/test_policy_document.py`` keeps the two in step)
and names the YAML line and the field of every problem::

    version: 1
    default: deny              # or allow: what a dataset with no matching rule gets
    groups:                    # optional: group name -> member principals
      risk: [alice, svc-scoring]
    datasets:
      customers:               # the name given to read_table; globs allowed ("crm.*")
        readers:               # optional: absent = anyone may read (filter/masks still apply)
          - principals: [svc-scoring, "group:risk"]
            purposes: [scoring, training]
        row_filter: "consent = true OR region <> 'EU'"
        columns: {ssn: drop, email: hash, name: redact}

PyYAML is imported when a document is parsed, never at ``import runstate``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runstate.errors import PolicyError

__all__ = [
    "COLUMN_ACTIONS",
    "DOCUMENT_SCHEMA",
    "DatasetRule",
    "PolicyDocument",
    "ReaderRule",
    "load_policy_file",
    "parse_policy",
]

DOCUMENT_SCHEMA = "runstate.policy-document/v1"
COLUMN_ACTIONS = ("drop", "redact", "hash", "allow")
DEFAULTS = ("allow", "deny")
_NAME = re.compile(r"^[^\s]+$")
_GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
_TOP_FIELDS = ("schema", "version", "default", "groups", "datasets")
_RULE_FIELDS = ("readers", "row_filter", "columns")
_READER_FIELDS = ("principals", "purposes")


@dataclass(frozen=True)
class ReaderRule:
    """One ``readers`` entry: these principals (names, ``group:<g>``, ``*``) for these
    purposes (``None``: any purpose)."""

    principals: tuple[str, ...] | None
    purposes: tuple[str, ...] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "principals": None if self.principals is None else list(self.principals),
            "purposes": None if self.purposes is None else list(self.purposes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReaderRule:
        principals, purposes = data.get("principals"), data.get("purposes")
        return cls(
            None if principals is None else tuple(principals),
            None if purposes is None else tuple(purposes),
        )


@dataclass(frozen=True)
class DatasetRule:
    """The rule for the datasets whose name matches ``pattern`` (a name or a glob)."""

    pattern: str
    readers: tuple[ReaderRule, ...] | None = None
    row_filter: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    line: int | None = field(default=None, compare=False)

    @property
    def is_glob(self) -> bool:
        return any(ch in self.pattern for ch in "*?[")

    def to_dict(self) -> dict[str, Any]:
        return {
            "readers": None if self.readers is None else [r.to_dict() for r in self.readers],
            "row_filter": self.row_filter,
            "columns": dict(sorted(self.columns.items())),
        }

    @classmethod
    def from_dict(cls, pattern: str, data: Mapping[str, Any]) -> DatasetRule:
        readers = data.get("readers")
        return cls(
            pattern,
            None if readers is None else tuple(ReaderRule.from_dict(r) for r in readers),
            data.get("row_filter"),
            dict(data.get("columns") or {}),
        )


@dataclass(frozen=True)
class PolicyDocument:
    """A validated policy document (``to_dict`` is its canonical, normalised form)."""

    default: str
    datasets: Mapping[str, DatasetRule]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": DOCUMENT_SCHEMA,
            "version": self.version,
            "default": self.default,
            "groups": {g: list(m) for g, m in sorted(self.groups.items())},
            "datasets": {p: r.to_dict() for p, r in sorted(self.datasets.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyDocument:
        return cls(
            default=str(data["default"]),
            datasets={
                p: DatasetRule.from_dict(p, r) for p, r in dict(data.get("datasets", {})).items()
            },
            groups={g: tuple(m) for g, m in dict(data.get("groups") or {}).items()},
            version=int(data.get("version", 1)),
        )

    @property
    def needs_mask_key(self) -> bool:
        return any("hash" in rule.columns.values() for rule in self.datasets.values())


# -- parsing ---------------------------------------------------------------------------------


class _Lines:
    """YAML line (1-based) of every mapping key and sequence item, by path."""

    def __init__(self) -> None:
        self.by_path: dict[tuple[Any, ...], int] = {}

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path:
            if path in self.by_path:
                return self.by_path[path]
            path = path[:-1]
        return self.by_path.get(())


def _walk(node: Any, path: tuple[Any, ...], lines: _Lines, where: str) -> None:
    import yaml

    lines.by_path.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            child = (*path, key)
            if key in seen:
                raise PolicyError(
                    f"{where}:{line}: {_dotted(child)}: duplicate key (first on line {seen[key]})"
                )
            seen[key] = line
            lines.by_path[child] = line
            _walk(value_node, child, lines, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines.by_path[child] = item.start_mark.line + 1
            _walk(item, child, lines, where)


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(document)"


def parse_policy(text: str, where: str = "<policy>") -> PolicyDocument:
    """Parse and validate a policy document; :class:`PolicyError` names the line and field."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PolicyError(f"{where}{line}: invalid YAML: {problem}") from None
    lines = _Lines()
    if node is not None:
        _walk(node, (), lines, where)
    return _validate(data, lines, where)


def load_policy_file(path: str) -> PolicyDocument:
    """Read and parse the policy document at ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such policy file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc})") from None
    return parse_policy(text, path)


def _validate(data: Any, lines: _Lines, where: str) -> PolicyDocument:
    def fail(path: tuple[Any, ...], message: str) -> PolicyError:
        line = lines.line(path)
        at = f"{where}:{line}" if line else where
        return PolicyError(f"{at}: {_dotted(path)}: {message}")

    if not isinstance(data, dict):
        raise fail((), "a policy document is a mapping with version, default and datasets")
    for key in data:
        if key not in _TOP_FIELDS:
            raise fail((key,), f"unknown field (expected one of {', '.join(_TOP_FIELDS)})")
    if "schema" in data and data["schema"] != DOCUMENT_SCHEMA:
        raise fail(("schema",), f"{data['schema']!r}: expected {DOCUMENT_SCHEMA} (or leave it out)")
    for required in ("version", "default", "datasets"):
        if required not in data:
            raise fail((), f"missing required field {required!r}")
    if data["version"] != 1 or isinstance(data["version"], bool):
        raise fail(("version",), f"{data['version']!r} is not a supported version (use 1)")
    if data["default"] not in DEFAULTS:
        raise fail(("default",), f"{data['default']!r} is not one of allow, deny")

    groups: dict[str, tuple[str, ...]] = {}
    raw_groups = data.get("groups")
    if raw_groups is not None:
        if not isinstance(raw_groups, dict):
            raise fail(("groups",), "must be a mapping of group name to a list of principals")
        for group, members in raw_groups.items():
            if not isinstance(group, str) or not _GROUP_NAME.match(group):
                raise fail(("groups", group), "group names are letters, digits, '.', '_', '-'")
            groups[group] = _names(members, ("groups", group), fail, "principal")

    datasets = data["datasets"]
    if not isinstance(datasets, dict):
        raise fail(("datasets",), "must be a mapping of dataset name (or glob) to its rule")
    rules: dict[str, DatasetRule] = {}
    for pattern, body in datasets.items():
        path: tuple[Any, ...] = ("datasets", pattern)
        if not isinstance(pattern, str) or not pattern or not _NAME.match(pattern):
            raise fail(path, "a dataset name or glob is a non-empty string without spaces")
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise fail(path, "a dataset rule is a mapping (readers, row_filter, columns)")
        for key in body:
            if key not in _RULE_FIELDS:
                raise fail(
                    (*path, key), f"unknown field (expected one of {', '.join(_RULE_FIELDS)})"
                )
        readers = _readers(body.get("readers", _ABSENT), path, fail)
        row_filter = body.get("row_filter")
        if row_filter is not None:
            if not isinstance(row_filter, str) or not row_filter.strip():
                raise fail((*path, "row_filter"), "must be a non-empty SQL boolean expression")
            from runstate.policy.enforce import check_filter_syntax

            problem = check_filter_syntax(row_filter)
            if problem:
                raise fail((*path, "row_filter"), f"does not parse: {problem}")
        columns = body.get("columns") or {}
        if not isinstance(columns, dict):
            raise fail((*path, "columns"), "must be a mapping of column name to an action")
        for column, action in columns.items():
            if not isinstance(column, str) or not column:
                raise fail((*path, "columns", column), "column names are non-empty strings")
            if action not in COLUMN_ACTIONS:
                raise fail(
                    (*path, "columns", column),
                    f"{action!r} is not one of {', '.join(COLUMN_ACTIONS)}",
                )
        rules[pattern] = DatasetRule(
            pattern,
            readers,
            row_filter,
            {str(c): str(a) for c, a in columns.items()},
            line=lines.line(path),
        )
    return PolicyDocument(default=data["default"], datasets=rules, groups=groups)


_ABSENT = object()


def _names(value: Any, path: tuple[Any, ...], fail: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise fail(path, f"must be a non-empty list of {what}s")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item or not _NAME.match(item):
            raise fail((*path, index), f"{item!r} is not a {what} (a string without spaces)")
    return tuple(value)


def _readers(value: Any, path: tuple[Any, ...], fail: Any) -> tuple[ReaderRule, ...] | None:
    if value is _ABSENT:
        return None
    where = (*path, "readers")
    if not isinstance(value, list):
        raise fail(where, "must be a list of {principals, purposes} entries ([] = nobody)")
    readers = []
    for index, entry in enumerate(value):
        at = (*where, index)
        if not isinstance(entry, dict):
            raise fail(at, "a readers entry is a mapping with principals and/or purposes")
        for key in entry:
            if key not in _READER_FIELDS:
                raise fail((*at, key), "unknown field (expected principals, purposes)")
        if not entry:
            raise fail(at, "a readers entry names principals and/or purposes")
        principals = entry.get("principals")
        purposes = entry.get("purposes")
        readers.append(
            ReaderRule(
                None
                if principals is None
                else _names(principals, (*at, "principals"), fail, "principal"),
                None if purposes is None else _names(purposes, (*at, "purposes"), fail, "purpose"),
            )
        )
    return tuple(readers)
