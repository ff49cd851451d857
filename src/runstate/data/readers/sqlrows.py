"""DB-API rows to Arrow batches: column types from the cursor, else learnt from the rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from runstate.data.readers.schema import _cast_batch, _target_schema
from runstate.data.readers.source import _Stream
from runstate.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


# PostgreSQL type OIDs (as psycopg reports them in cursor.description) → Arrow types.
def _postgres_types() -> dict[int, pa.DataType]:
    import pyarrow as pa

    return {
        16: pa.bool_(),
        17: pa.binary(),
        18: pa.string(),
        19: pa.string(),
        20: pa.int64(),
        21: pa.int16(),
        23: pa.int32(),
        25: pa.string(),
        26: pa.int64(),
        114: pa.string(),
        700: pa.float32(),
        701: pa.float64(),
        1042: pa.string(),
        1043: pa.string(),
        1082: pa.date32(),
        1083: pa.time64("us"),
        1114: pa.timestamp("us"),
        1184: pa.timestamp("us", tz="UTC"),
        1186: pa.duration("us"),
        2950: pa.string(),
        3802: pa.string(),
    }


def _hinted_types(description: Sequence[Any], dbapi: Any, dialect: str) -> list[Any]:
    """Arrow types from what the cursor reports (None where it does not say enough)."""
    import pyarrow as pa

    oids = _postgres_types() if dialect.startswith("postgres") else {}
    string_type = getattr(dbapi, "STRING", None)
    binary_type = getattr(dbapi, "BINARY", None)
    hints: list[Any] = []
    for column in description:
        code = column[1]
        hint = None
        if isinstance(code, int) and code in oids:
            hint = oids[code]
        elif code is not None and string_type is not None and code == string_type:
            hint = pa.string()
        elif code is not None and binary_type is not None and code == binary_type:
            hint = pa.binary()
        hints.append(hint)
    return hints


def _as_text(value: Any) -> Any:
    import json

    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _column_array(where: str, name: str, values: Sequence[Any], type_: Any) -> pa.Array:
    import pyarrow as pa

    errors = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)
    try:
        return pa.array(values, type=type_, from_pandas=False)
    except errors:
        if type_ is not None and (pa.types.is_string(type_) or pa.types.is_large_string(type_)):
            return pa.array([_as_text(value) for value in values], type=type_)
        kinds = sorted({type(value).__name__ for value in values if value is not None})
        if type_ is None or len(kinds) > 1:
            raise InputError(
                f"{where}: column {name!r} mixes values of types {', '.join(kinds)}; cast it"
                " to one type in the query"
            ) from None
        raise InputError(
            f"{where}: column {name!r} holds {kinds[0]} values after rows of type {type_};"
            " cast it to one type in the query"
        ) from None


class _RowBatcher:
    """Turns DB-API rows into Arrow batches with one schema for the whole result."""

    def __init__(self, where: str, names: list[str], hints: list[Any]) -> None:
        self.where = where
        self.names = names
        self.types: list[Any] = list(hints)

    def resolved(self) -> bool:
        import pyarrow as pa

        return all(t is not None and not pa.types.is_null(t) for t in self.types)

    def batch(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        import pyarrow as pa

        columns = list(zip(*rows, strict=True)) if rows else [() for _ in self.names]
        arrays = []
        for index, values in enumerate(columns):
            type_ = self.types[index]
            if type_ is not None and pa.types.is_null(type_) and any(v is not None for v in values):
                type_ = None
            array = _column_array(self.where, self.names[index], values, type_)
            if self.types[index] is None or pa.types.is_null(self.types[index]):
                self.types[index] = array.type
            arrays.append(array)
        return pa.RecordBatch.from_arrays(arrays, names=self.names)

    def schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema(
            [
                pa.field(n, t if t is not None else pa.null())
                for n, t in zip(self.names, self.types, strict=True)
            ]
        )


def _rows_reader(
    where: str,
    names: list[str],
    hints: list[Any],
    fetch: Callable[[], Sequence[Sequence[Any]]],
    done: Callable[[], None],
    wanted: dict[str, pa.DataType] | None,
    fail: Callable[[BaseException], InputError],
    errors: tuple[type[BaseException], ...],
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Schema and batches of a DB-API result: rows are buffered until every type is known."""
    batcher = _RowBatcher(where, names, hints)
    pending: list[Sequence[Sequence[Any]]] = []
    exhausted = False
    try:
        while not batcher.resolved():
            rows = fetch()
            if not rows:
                exhausted = True
                break
            pending.append(rows)
            batcher.batch(rows)  # learns the types; the batches are rebuilt below
    except errors as exc:
        done()
        raise fail(exc) from None
    except InputError:
        done()
        raise
    schema = batcher.schema()
    target = _target_schema(where, schema, wanted)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for rows in pending:
                yield _cast_batch(where, batcher.batch(rows).cast(schema), target)
            while not exhausted:
                try:
                    rows = fetch()
                except errors as exc:
                    raise fail(exc) from None
                if not rows:
                    break
                yield _cast_batch(where, batcher.batch(rows).cast(schema), target)
        finally:
            done()

    return target, _Stream(batches(), done)
