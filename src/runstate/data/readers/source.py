"""A table as a re-iterable stream of Arrow record batches, and where it came from."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runstate.errors import InputError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


KINDS = ("file", "dataframe", "query")


@dataclass(frozen=True)
class TableSource:
    """Where a table came from: recorded with the input, never with credentials."""

    kind: str  # "file" | "dataframe" | "query"
    format: str | None  # file format; "pandas"/"polars"/"arrow"; "duckdb"/SQL dialect name
    path: str | None  # file or folder; the database file of a query, when it has one
    flavour: str  # what the caller gets back by default: "pandas" | "polars" | "arrow"
    description: str
    version: str | None = None  # the external version read (a Delta table's version)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "format": self.format,
            "path": self.path,
            "flavour": self.flavour,
            "description": self.description,
        }
        if self.version is not None:
            data["version"] = self.version
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSource:
        return cls(
            str(data["kind"]),
            None if data.get("format") is None else str(data["format"]),
            None if data.get("path") is None else str(data["path"]),
            str(data["flavour"]),
            str(data["description"]),
            None if data.get("version") is None else str(data["version"]),
        )


Opener = Callable[[], "tuple[pa.Schema, Iterator[pa.RecordBatch]]"]


class _Stream(Iterator["pa.RecordBatch"]):
    """Batches from a generator, with a ``close`` that also releases the resource behind it
    (an open file, a query's result) when the generator was never started."""

    def __init__(self, batches: Iterator[pa.RecordBatch], release: Callable[[], None]) -> None:
        self._batches = batches
        self._release = release

    def __next__(self) -> pa.RecordBatch:
        return next(self._batches)

    def close(self) -> None:
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()
        self._release()


def _batch_stream(
    read_next: Callable[[], pa.RecordBatch],
    errors: tuple[type[BaseException], ...],
    fail: Callable[[BaseException], InputError],
    release: Callable[[], None],
    convert: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None,
) -> _Stream:
    """The batches ``read_next`` returns until it raises ``StopIteration``, as a stream.

    An error of ``errors`` while reading becomes ``fail(error)``; each batch goes out through
    ``convert`` (a cast to the target schema, a check) when given; ``release`` frees the
    resource read (a file, a query's result) when the stream ends, fails or is closed.
    """

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            while True:
                try:
                    batch = read_next()
                except StopIteration:
                    return
                except errors as exc:
                    raise fail(exc) from None
                yield batch if convert is None else convert(batch)
        finally:
            release()

    return _Stream(batches(), release)


class TableReader:
    """A table as a re-iterable stream of Arrow record batches with a known schema.

    :meth:`batches` may be called again to re-read the source from the start — except for a
    one-shot source (a ``pyarrow.RecordBatchReader`` given by the caller), which can be
    iterated once. A query is executed when the reader is opened (to know its schema); a
    second :meth:`batches` runs it again.
    """

    def __init__(self, source: TableSource, opener: Opener, *, reopenable: bool = True) -> None:
        self.source = source
        schema, iterator = opener()
        self.schema: pa.Schema = schema
        self._opener = opener
        self._primed: Iterator[pa.RecordBatch] | None = iterator
        self._reopenable = reopenable

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, batch by batch (each batch has :attr:`schema`)."""
        if self._primed is not None:
            iterator, self._primed = self._primed, None
        elif self._reopenable:
            iterator = self._opener()[1]
        else:
            raise UsageError(f"{self.source.description}: a one-shot stream can be read only once")
        return iterator

    def read_all(self) -> pa.Table:
        """The whole table in memory."""
        import pyarrow as pa

        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def close(self) -> None:
        """Release what an unread first pass holds (an open file, a query's cursor)."""
        primed, self._primed = self._primed, None
        close = getattr(primed, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TableReader({self.source.description!r}, {len(self.schema)} columns)"
