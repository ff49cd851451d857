"""Applying a decision to an Arrow table: the row filter, then the column rules.

* **Row filter**: a SQL boolean expression, evaluated by DuckDB over the Arrow table (only
  the columns it names are scanned). A row is kept when the expression is true; false and
  NULL exclude it, as in a SQL ``WHERE``. DuckDB computes only the keep/exclude mask: the
  rows are selected with Arrow, so every column keeps its exact Arrow type. The expression
  is checked twice before any data is read: its syntax when the document is parsed
  (:func:`check_filter_syntax`), and the columns it names against the table's schema
  (:func:`check_filter_columns`) once the source is open but not yet read.
* **Column rules**: ``drop`` removes the column; ``redact`` replaces every value with a
  constant (``<redacted>`` for text and binary columns, null for other types; the type is
  kept); ``hash`` replaces every non-null value with the hex HMAC-SHA256 of its bytes (text
  as UTF-8, binary as is, other types as the text Arrow casts them to), keyed by
  ``RUNSTATE_MASK_KEY``, which is read from the environment and never stored: same key,
  same hashes (joins across tables still work); another key, other hashes; ``allow`` keeps
  the column. A rule for a column the table does not have is a warning, not an error.

The excluded rows are fingerprinted (``runstate.rowfp/v1``) after the same column rules,
so a recorded effect can name them without holding anything the policy withheld: by their
key when the run gave one (and the key survives the rules), else by the whole row.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runstate.errors import PolicyError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from runstate.policy.rules import Decision

__all__ = [
    "MASK_KEY_ENV",
    "Enforced",
    "apply_decision",
    "check_filter_columns",
    "check_filter_syntax",
    "filter_columns",
    "hash_array",
    "mask_key",
    "redact_array",
]

MASK_KEY_ENV = "RUNSTATE_MASK_KEY"
_TABLE = "__runstate_rows"
#: Below this many values, ``hmac`` in a loop beats loading the compiled kernel.
_SMALL = 20_000


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise PolicyError("row_filter needs DuckDB: pip install 'runstate[duckdb]'") from None
    return duckdb


def _connect() -> Any:
    duckdb = _duckdb()
    return duckdb.connect(config={"enable_external_access": False})


def _scan(expression: str) -> str | None:
    """Refuse text that would end the expression early: unbalanced parentheses, ``;`` or a
    comment outside string literals."""
    depth = 0
    quote: str | None = None
    i = 0
    while i < len(expression):
        ch = expression[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return "unbalanced ')'"
        elif ch == ";":
            return "';' is not allowed in an expression"
        elif expression.startswith("--", i) or expression.startswith("/*", i):
            return "comments are not allowed in an expression"
        i += 1
    if quote:
        return f"unterminated {quote} string"
    if depth:
        return "unbalanced '('"
    return None


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.replace("\n", " ")


def check_filter_syntax(expression: str) -> str | None:
    """None if ``expression`` parses as one SQL expression, else what is wrong."""
    problem = _scan(expression)
    if problem:
        return problem
    con = _connect()
    try:
        statements = con.extract_statements(f"SELECT ({expression}) AS keep FROM {_TABLE}")
    except Exception as exc:  # duckdb.ParserException and friends
        return _message(exc)
    finally:
        con.close()
    if len(statements) != 1:
        return "not a single expression"
    return None


def _empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def check_filter_columns(expression: str, schema: pa.Schema, where: str) -> None:
    """Bind ``expression`` to ``schema`` (no rows): a missing column or a non-boolean result
    is a :class:`PolicyError` naming ``where`` (rule and dataset)."""
    import pyarrow as pa

    con = _connect()
    try:
        con.register(_TABLE, _empty(schema))
        try:
            result = con.sql(f"SELECT ({expression}) AS keep FROM {_TABLE}").to_arrow_table()
        except Exception as exc:
            raise PolicyError(
                f"{where}: row_filter {expression!r} cannot be evaluated: {_message(exc)} "
                f"(columns: {', '.join(schema.names)})"
            ) from None
    finally:
        con.close()
    kind = result.schema.field(0).type
    if kind != pa.bool_() and not pa.types.is_null(kind):
        raise PolicyError(
            f"{where}: row_filter {expression!r} is not a boolean expression (it gives {kind})"
        )


def filter_columns(expression: str, schema: pa.Schema) -> list[str]:
    """The columns of ``schema`` that ``expression`` reads."""
    import pyarrow as pa

    named = []
    for index, name in enumerate(schema.names):
        reduced = pa.schema([f for i, f in enumerate(schema) if i != index])
        try:
            check_filter_columns(expression, reduced, "")
        except PolicyError:
            named.append(name)
    return named


def mask_key(where: str) -> bytes:
    """The HMAC key from ``RUNSTATE_MASK_KEY``; a :class:`PolicyError` if it is not set."""
    value = os.environ.get(MASK_KEY_ENV)
    if not value:
        raise PolicyError(
            f"{where}: a 'hash' column rule needs the HMAC key in {MASK_KEY_ENV} "
            f"(it is read from the environment and never stored)"
        )
    return value.encode("utf-8")


# -- column rules ------------------------------------------------------------------------------


def redact_array(
    array: pa.Array | pa.ChunkedArray, length: int | None = None
) -> pa.Array | pa.ChunkedArray:
    """``length`` (default: the array's) copies of one constant of the array's type (its
    value type for dictionaries): ``<redacted>`` for text and binary, null for others."""
    import numpy as np
    import pyarrow as pa

    from runstate.state.redact import REDACTED

    kind = array.type
    n = len(array) if length is None else length
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        constant = pa.array([REDACTED], type=pa.string())
    elif (
        pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind)
    ):
        constant = pa.array([REDACTED.encode()], type=pa.binary())
    else:
        return pa.nulls(n, type=kind)
    return constant.take(pa.array(np.zeros(n, dtype=np.int64))).cast(kind)


def _hash_chunk(
    array: pa.Array, key: bytes, rows: np.ndarray[Any, Any] | None, compiled: bool
) -> pa.Array:
    """The hashes of ``array``'s values (those at ``rows`` only, when given)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        hashed_values = _hash_chunk(array.dictionary, key, None, compiled)
        indices = array.indices if rows is None else array.indices.take(pa.array(rows))
        return hashed_values.take(indices)
    if not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        if pa.types.is_string_view(kind) or pa.types.is_binary_view(kind):
            target = pa.large_binary()
        else:
            target = pa.large_string()
        try:
            array = pc.cast(array, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise PolicyError(f"cannot hash values of type {kind}") from None
        kind = target
    n = len(array)
    large = pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64 if large else np.int32)
    offsets = offsets[array.offset : array.offset + n + 1]
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.zeros(0, np.uint8)
    )
    selected = range(n) if rows is None else rows
    count = len(selected)
    if not compiled:
        import hashlib
        import hmac

        text = "".join(
            hmac.new(key, data[offsets[i] : offsets[i + 1]].tobytes(), hashlib.sha256).hexdigest()
            for i in selected
        )
        out = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    else:
        from runstate.policy._hmackernel import hmac_hex

        out = hmac_hex(key, offsets, data, threads=min(os.cpu_count() or 1, 8), rows=rows)
    big = 64 * count >= 2**31
    out_offsets = np.arange(0, 64 * (count + 1), 64, dtype=np.int64 if big else np.int32)
    result = pa.Array.from_buffers(
        pa.large_string() if big else pa.string(),
        count,
        [None, pa.py_buffer(out_offsets), pa.py_buffer(out)],
        null_count=0,
    )
    if array.null_count:
        valid = pc.is_valid(array)
        if rows is not None:
            valid = valid.take(pa.array(rows))
        result = pc.if_else(valid, result, pa.scalar(None, result.type))
    return result


def hash_array(
    array: pa.Array | pa.ChunkedArray, key: bytes, keep: np.ndarray[Any, Any] | None = None
) -> pa.Array | pa.ChunkedArray:
    """Hex HMAC-SHA256 (keyed by ``key``) of every non-null value; nulls stay null. With
    ``keep`` (a boolean array, one per row), only the kept rows' hashes, in order."""
    import numpy as np
    import pyarrow as pa

    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    total = len(array) if keep is None else int(np.count_nonzero(keep))
    compiled = total >= _SMALL
    hashed = []
    start = 0
    for chunk in chunks:
        rows = None
        if keep is not None:
            rows = np.flatnonzero(keep[start : start + len(chunk)])
        start += len(chunk)
        hashed.append(_hash_chunk(chunk, key, rows, compiled))
    if not isinstance(array, pa.ChunkedArray):
        return hashed[0]
    if not hashed:
        return pa.chunked_array([], type=pa.string())
    return pa.chunked_array(hashed, type=hashed[0].type)


def _apply_columns(table: pa.Table, columns: Mapping[str, str], key: bytes | None) -> pa.Table:
    for name, action in sorted(columns.items()):
        if name not in table.column_names or action == "allow":
            continue
        index = table.column_names.index(name)
        if action == "drop":
            table = table.remove_column(index)
            continue
        column = table.column(index)
        if action == "redact":
            masked = redact_array(column)
        else:
            assert key is not None
            masked = hash_array(column, key)
        import pyarrow as pa

        field_ = pa.field(
            name, masked.type, nullable=True, metadata=table.schema.field(index).metadata
        )
        table = table.set_column(index, field_, masked)
    return table


# -- applying a decision -----------------------------------------------------------------------


@dataclass
class Enforced:
    """A table after the policy, and what the policy did to it."""

    table: pa.Table
    rows_before: int
    rows_after: int
    excluded: np.ndarray[Any, Any]
    excluded_by: str
    key: list[str] | None
    columns: dict[str, str] = field(default_factory=dict)
    missing_columns: list[str] = field(default_factory=list)


def missing_columns(decision: Decision, schema: pa.Schema) -> list[str]:
    return sorted(c for c in decision.columns if c not in schema.names)


def check_decision(decision: Decision, schema: pa.Schema, warn: bool = True) -> list[str]:
    """Everything that can be checked before reading: the filter against the schema, the
    mask key; returns (and warns about) column rules naming missing columns."""
    where = f"dataset {decision.dataset!r} ({decision.by})"
    if decision.row_filter is not None:
        check_filter_columns(decision.row_filter, schema, where)
    if "hash" in decision.columns.values():
        mask_key(where)
    missing = missing_columns(decision, schema)
    if missing and warn:
        warnings.warn(
            f"policy {where}: column rule(s) for {', '.join(missing)} but the table has no "
            f"such column (columns: {', '.join(schema.names)})",
            stacklevel=3,
        )
    return missing


def _keep_mask(table: pa.Table, expression: str, where: str) -> pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    con = _connect()
    try:
        con.register(_TABLE, table)
        try:
            result = con.sql(f"SELECT ({expression}) AS keep FROM {_TABLE}").to_arrow_table()
        except Exception as exc:
            raise PolicyError(
                f"{where}: row_filter {expression!r} failed: {_message(exc)}"
            ) from None
    finally:
        con.close()
    mask = result.column(0)
    if len(mask) != table.num_rows:
        raise PolicyError(f"{where}: row_filter {expression!r} did not give one value per row")
    if pa.types.is_null(mask.type):
        mask = pa.chunked_array([pa.array([False] * len(mask), pa.bool_())])
    return pc.fill_null(mask, False)


def sorted_unique(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``np.unique`` by sorting (NumPy 2.4's ``np.unique`` of 1 M uint64s takes ~1.5 s)."""
    import numpy as np

    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _filter(table: pa.Table, mask: Any) -> pa.Table:
    """``table.filter(mask)``, one column per thread on large tables (Arrow's own filter
    works through the columns one after the other)."""
    import pyarrow as pa

    workers = min(os.cpu_count() or 1, table.num_columns, 8)
    if table.num_rows < 1_000_000 or workers < 2:
        return table.filter(mask)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        columns = list(pool.map(lambda column: column.filter(mask), table.columns))
    return pa.Table.from_arrays(columns, schema=table.schema)


def _mask_kept(
    table: pa.Table,
    columns: Mapping[str, str],
    key: bytes | None,
    keep: Any,
    keep_rows: np.ndarray[Any, Any] | None,
) -> pa.Table:
    """The kept rows, masked. Dropped columns are never filtered, and masked ones are
    computed for the kept rows only, straight from the unfiltered column."""
    import pyarrow as pa

    plain = [i for i, f in enumerate(table.schema) if columns.get(f.name) in (None, "allow")]
    kept = table.select(plain)
    if keep is not None:
        kept = _filter(kept, keep)
    rows = kept.num_rows if keep is not None else table.num_rows
    fields, arrays = [], []
    plain_at = {index: n for n, index in enumerate(plain)}
    for index, field_ in enumerate(table.schema):
        action = columns.get(field_.name)
        if action == "drop":
            continue
        if index in plain_at:
            fields.append(field_)
            arrays.append(kept.column(plain_at[index]))
            continue
        if action == "redact":
            masked = redact_array(table.column(index), rows)
        else:
            assert key is not None
            masked = hash_array(table.column(index), key, keep_rows)
        fields.append(pa.field(field_.name, masked.type, nullable=True, metadata=field_.metadata))
        arrays.append(masked)
    if not fields:
        return kept  # every column dropped: keep the row count
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=table.schema.metadata))


def apply_decision(
    decision: Decision,
    table: pa.Table,
    key: Sequence[str] | None = None,
    *,
    missing: list[str] | None = None,
) -> Enforced:
    """Filter and mask ``table`` as ``decision`` says (it must allow the read)."""
    import numpy as np
    import pyarrow.compute as pc

    from runstate.data.tables import row_fingerprints

    assert decision.allowed, "apply_decision needs an allowing decision"
    where = f"dataset {decision.dataset!r} ({decision.by})"
    if missing is None:
        missing = check_decision(decision, table.schema)
    hmac_key = mask_key(where) if "hash" in decision.columns.values() else None
    rows_before = table.num_rows
    applied = {c: a for c, a in sorted(decision.columns.items()) if c not in missing}
    key_list = list(key) if key else None
    by = "key" if key_list and all(applied.get(k) != "drop" for k in key_list) else "row"
    fingerprints = np.zeros(0, dtype=np.uint64)
    keep, keep_rows = None, None
    if decision.row_filter is not None:
        keep = _keep_mask(table, decision.row_filter, where)
        # The excluded rows, masked like the rest: only the key columns when keyed.
        gone = table.select(key_list) if by == "key" and key_list else table
        gone = _apply_columns(gone.filter(pc.invert(keep)), applied, hmac_key)
        if gone.num_rows and by == "key":
            fingerprints = sorted_unique(row_fingerprints(gone, columns=key_list))
        elif gone.num_rows:
            fingerprints = np.sort(row_fingerprints(gone))
        keep_rows = keep.to_numpy(zero_copy_only=False)
    masked = _mask_kept(table, applied, hmac_key, keep, keep_rows)
    return Enforced(
        table=masked,
        rows_before=rows_before,
        rows_after=masked.num_rows,
        excluded=fingerprints,
        excluded_by=by,
        key=key_list if by == "key" else None,
        columns=applied,
        missing_columns=list(missing),
    )
