"""``schema=``: the types a caller fixes, checked against a table and cast batch by batch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from runstate.data.readers.messages import _arrow_message, _plural
from runstate.errors import InputError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


def _schema_mapping(schema: Any) -> dict[str, pa.DataType] | None:
    if schema is None:
        return None
    import pyarrow as pa

    if isinstance(schema, pa.Schema):
        return {field.name: field.type for field in schema}
    if isinstance(schema, Mapping):
        result: dict[str, pa.DataType] = {}
        for name, value in schema.items():
            if isinstance(value, pa.DataType):
                result[str(name)] = value
                continue
            try:
                result[str(name)] = pa.type_for_alias(str(value))
            except (ValueError, KeyError):
                raise UsageError(
                    f"schema=: column {name!r} has an unknown Arrow type {value!r}"
                ) from None
        return result
    raise UsageError("schema= must be a pyarrow.Schema or a mapping of column name to type")


def _target_schema(
    where: str, schema: pa.Schema, wanted: Mapping[str, pa.DataType] | None
) -> pa.Schema:
    """``schema`` with the types ``wanted`` names; a named column the table lacks is an error."""
    if not wanted:
        return schema
    import pyarrow as pa

    missing = [name for name in wanted if schema.get_field_index(name) < 0]
    if missing:
        raise InputError(
            f"{where}: schema= names {_plural(len(missing), 'column')} the table does not have"
            f" ({', '.join(map(repr, missing))}; its columns: {', '.join(schema.names)})"
        )
    return pa.schema(
        [
            pa.field(f.name, wanted[f.name], nullable=True) if f.name in wanted else f
            for f in schema
        ],
        metadata=schema.metadata,
    )


def _cast_batch(where: str, batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(target):
        return batch
    import pyarrow as pa

    columns = []
    for index, field in enumerate(target):
        column = batch.column(index)
        if not column.type.equals(field.type):
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise InputError(
                    f"{where}: column {field.name!r} ({column.type}) cannot be converted to"
                    f" {field.type}, the type schema= gives it: {_arrow_message(exc)}"
                ) from None
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=target)


def _cast_stream(
    where: str, batches: Iterator[pa.RecordBatch], target: pa.Schema
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield _cast_batch(where, batch, target)
