"""The logical family of an Arrow type (``int``, ``string``, ``list<int>``, …): the names
the table fingerprint uses, and which statistics a column gets."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


_TOP_FAMILIES = ("int", "string", "bool")
_NUMERIC = ("int", "float", "decimal", "duration")


def _family_of(arrow_type: pa.DataType) -> str:
    """The logical family of an Arrow type, as docs/fingerprints.md names it."""
    import pyarrow as pa

    t = pa.types
    if isinstance(arrow_type, pa.ExtensionType):
        return _family_of(arrow_type.storage_type)
    if t.is_dictionary(arrow_type):
        return _family_of(arrow_type.value_type)
    if t.is_boolean(arrow_type):
        return "bool"
    if t.is_integer(arrow_type):
        return "int"
    if t.is_floating(arrow_type):
        return "float"
    if t.is_decimal(arrow_type):
        return "decimal"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or _is(arrow_type, "string_view"):
        return "string"
    if (
        t.is_binary(arrow_type)
        or t.is_large_binary(arrow_type)
        or t.is_fixed_size_binary(arrow_type)
        or _is(arrow_type, "binary_view")
    ):
        return "binary"
    if t.is_date(arrow_type):
        return "date"
    if t.is_time(arrow_type):
        return "time"
    if t.is_timestamp(arrow_type):
        return "timestamp"
    if t.is_duration(arrow_type):
        return "duration"
    if t.is_map(arrow_type):
        key, item = _family_of(arrow_type.key_type), _family_of(arrow_type.item_type)
        return f"list<struct<key:{key},value:{item}>>"
    if (
        t.is_list(arrow_type)
        or t.is_large_list(arrow_type)
        or t.is_fixed_size_list(arrow_type)
        or _is(arrow_type, "list_view")
        or _is(arrow_type, "large_list_view")
    ):
        return f"list<{_family_of(arrow_type.value_type)}>"
    if t.is_struct(arrow_type):
        fields = sorted(
            (arrow_type.field(i) for i in range(arrow_type.num_fields)),
            key=lambda f: f.name.encode("utf-8"),
        )
        return "struct<" + ",".join(f"{f.name}:{_family_of(f.type)}" for f in fields) + ">"
    if t.is_null(arrow_type):
        return "null"
    return str(arrow_type)


def _is(arrow_type: pa.DataType, name: str) -> bool:
    import pyarrow as pa

    check = getattr(pa.types, f"is_{name}", None)
    return bool(check(arrow_type)) if check is not None else False
