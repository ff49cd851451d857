"""Readers: every input kind to Arrow, streamed; every bad input to one clear message."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from runstate.data import readers as readers_module  # noqa: E402
from runstate.data.readers import (  # noqa: E402
    FORMATS,
    TableReader,
    TableSource,
    detect_format,
    open_table,
    to_flavour,
)
from runstate.errors import InputError, InputNotFound, InputUnreadable, UsageError  # noqa: E402

SAMPLE = {"id": [1, 2, 3], "name": ["ann", "bob", None], "score": [0.5, None, 2.25]}


def sample_table() -> Any:
    return pa.table(
        {
            "id": pa.array(SAMPLE["id"], pa.int64()),
            "name": pa.array(SAMPLE["name"], pa.string()),
            "score": pa.array(SAMPLE["score"], pa.float64()),
        }
    )


def assert_sample(reader: TableReader) -> None:
    table = reader.read_all()
    assert table.column_names == ["id", "name", "score"]
    assert table.to_pydict() == SAMPLE
    assert pa.types.is_integer(reader.schema.field("id").type)
    assert pa.types.is_floating(reader.schema.field("score").type)
    assert table.schema == reader.schema


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


# ---------------------------------------------------------------------------------------
# Files


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id,name,score\n1,ann,0.5\n2,bob,\n3,,2.25\n")
    reader = open_table(path)
    table = reader.read_all()
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("score").to_pylist() == [0.5, None, 2.25]
    assert table.column("name").to_pylist() == ["ann", "bob", ""]  # CSV: "" is a string
    assert reader.schema.types == [pa.int64(), pa.string(), pa.float64()]
    assert reader.source == TableSource("file", "csv", str(path), "pandas", f"CSV file {path}")
    assert reader.source.to_dict()["kind"] == "file"
    assert TableSource.from_dict(reader.source.to_dict()) == reader.source


def test_csv_gz_and_tsv(tmp_path: Path) -> None:
    gz = tmp_path / "data.csv.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write("id,name\n1,ann\n2,bob\n")
    assert detect_format(gz) == "csv"
    assert open_table(gz).read_all().to_pydict() == {"id": [1, 2], "name": ["ann", "bob"]}
    tsv = tmp_path / "data.tsv"
    tsv.write_text("id\tname\n1\tann, the first\n")
    assert open_table(tsv).read_all().to_pydict() == {"id": [1], "name": ["ann, the first"]}


def test_csv_with_schema(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id,when\n1,2024-01-02\n2,2024-01-03\n")
    reader = open_table(path, schema={"id": pa.float64(), "when": "date32"})
    assert reader.schema.types == [pa.float64(), pa.date32()]
    when = reader.read_all().column("when").to_pylist()
    assert when == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]


def test_csv_header_only_is_an_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("id,name\n")
    table = open_table(path).read_all()
    assert table.num_rows == 0
    assert table.column_names == ["id", "name"]


def test_csv_streams_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("id,name\n" + "".join(f"{i},name-{i}\n" for i in range(20_000)))
    reader = open_table(path, block_size=16 << 10)
    batches = list(reader.batches())
    assert len(batches) > 10
    assert max(batch.num_rows for batch in batches) < 2_000
    assert sum(batch.num_rows for batch in batches) == 20_000
    assert reader.read_all().column("id").to_pylist() == list(range(20_000))  # re-readable


def test_parquet_file_streams_by_row_group(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    table = pa.table({"id": list(range(10_000)), "group": [i % 7 for i in range(10_000)]})
    pq.write_table(table, path, row_group_size=1_000)
    reader = open_table(path)
    assert reader.source.format == "parquet"
    batches = list(reader.batches())
    assert len(batches) == 10  # one batch per row group: never the whole file at once
    assert all(batch.num_rows == 1_000 for batch in batches)
    assert reader.read_all().equals(table)


def test_parquet_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.int64())}), path)
    table = open_table(path).read_all()
    assert table.num_rows == 0 and table.column_names == ["id"]


def test_hive_partitioned_folder(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": list(range(12)),
            "year": [2023] * 6 + [2024] * 6,
            "region": ["eu", "us", "apac"] * 4,
        }
    )
    folder = tmp_path / "dataset"
    pq.write_to_dataset(table, folder, partition_cols=["year", "region"])
    (folder / "_SUCCESS").write_text("")  # markers are skipped, as pyarrow does
    assert detect_format(folder) == "parquet"
    reader = open_table(folder)
    assert reader.source.kind == "file" and reader.source.format == "parquet"
    read = reader.read_all().sort_by("id")
    assert sorted(read.column_names) == ["id", "region", "year"]
    assert read.column("id").to_pylist() == list(range(12))
    assert read.column("year").to_pylist() == table.column("year").to_pylist()
    assert read.column("region").to_pylist() == table.column("region").to_pylist()
    assert len(list(reader.batches())) == 6  # one file per partition


def test_ipc_file_stream_and_feather(tmp_path: Path) -> None:
    import pyarrow.feather as feather

    table = sample_table()
    batches = table.to_batches(max_chunksize=1)
    file_path = tmp_path / "data.arrow"
    with pa.ipc.new_file(file_path, table.schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    stream_path = tmp_path / "stream.bin"  # no suffix: recognised by its bytes
    with pa.ipc.new_stream(stream_path, table.schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    feather_path = tmp_path / "data.feather"
    feather.write_feather(table, feather_path, compression="zstd")
    for path in (file_path, stream_path, feather_path):
        assert detect_format(path) == "ipc"
        reader = open_table(path)
        assert reader.source.format == "ipc"
        assert_sample(reader)
    assert len(list(open_table(file_path).batches())) == 3
    assert len(list(open_table(stream_path).batches())) == 3


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(
        '{"id": 1, "name": "ann", "score": 0.5}\n'
        '{"id": 2, "name": "bob", "score": null}\n'
        '{"id": 3, "name": null, "score": 2.25}\n'
    )
    assert_sample(open_table(path))
    ndjson = tmp_path / "data.ndjson"
    ndjson.write_text('{"a": 1}\n')
    assert detect_format(ndjson) == "jsonl"


def test_detect_format(tmp_path: Path) -> None:
    parquet = tmp_path / "data.bin"
    pq.write_table(sample_table(), parquet)
    assert detect_format(parquet) == "parquet"  # magic bytes beat a missing suffix
    misnamed = tmp_path / "data.csv"
    pq.write_table(sample_table(), misnamed)
    assert detect_format(misnamed) == "parquet"
    assert open_table(misnamed).read_all().to_pydict() == SAMPLE
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert detect_format(text) is None
    assert detect_format(tmp_path / "missing.xyz") is None
    assert open_table(text, format="csv").read_all().column_names == ["hello"]
    assert set(FORMATS) == {"csv", "tsv", "parquet", "ipc", "jsonl", "delta"}


def test_parquet_with_schema_cast(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(sample_table(), path)
    reader = open_table(path, schema=pa.schema([("id", pa.int32())]))
    assert reader.schema.field("id").type == pa.int32()
    assert reader.read_all().column("id").type == pa.int32()


# ---------------------------------------------------------------------------------------
# In-memory frames and tables


def test_pandas_named_index_becomes_a_column(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(SAMPLE).set_index("id")
    reader = open_table(frame)
    assert reader.source.kind == "dataframe" and reader.source.flavour == "pandas"
    assert reader.read_all().to_pydict() == SAMPLE
    assert frame.index.name == "id"  # the caller's frame is untouched


def test_pandas_positional_index_is_dropped_like_parquet(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(SAMPLE)
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    from_file = open_table(path).read_all()
    from_frame = open_table(frame).read_all()
    assert from_frame.column_names == from_file.column_names == ["id", "name", "score"]
    assert from_frame.to_pydict() == from_file.to_pydict()
    filtered = frame[frame["id"] > 1]  # an integer index left by a filter is positional
    assert open_table(filtered).read_all().column_names == ["id", "name", "score"]
    dated = pd.DataFrame({"x": [1, 2]}, index=pd.to_datetime(["2024-01-01", "2024-01-02"]))
    assert open_table(dated).read_all().column_names == ["index", "x"]


def test_polars_dataframe_and_lazyframe() -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(SAMPLE)
    reader = open_table(frame)
    assert reader.source.flavour == "polars"
    assert_sample(reader)
    lazy = frame.lazy().filter(pl.col("id") >= 2)
    table = open_table(lazy).read_all()
    assert table.column("id").to_pylist() == [2, 3]


def test_arrow_objects() -> None:
    table = sample_table()
    assert_sample(open_table(table))
    assert open_table(table.to_batches()[0]).read_all().to_pydict() == SAMPLE
    stream = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))
    reader = open_table(stream)
    assert len(list(reader.batches())) == 3
    with pytest.raises(UsageError, match="read only once"):
        reader.batches()
    with pytest.raises(UsageError, match=r"cannot read a builtins\.int"):
        open_table(42)


def test_to_flavour() -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    table = sample_table()
    assert to_flavour(table, "arrow") is table
    frame = to_flavour(table, "pandas")
    assert isinstance(frame, pd.DataFrame) and list(frame["id"]) == [1, 2, 3]
    polars_frame = to_flavour(table, "polars")
    assert isinstance(polars_frame, pl.DataFrame) and polars_frame["id"].to_list() == [1, 2, 3]
    with pytest.raises(UsageError, match="unknown flavour"):
        to_flavour(table, "excel")


# ---------------------------------------------------------------------------------------
# SQL


def test_duckdb_in_memory_connection() -> None:
    duckdb = pytest.importorskip("duckdb")
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t (id BIGINT, name VARCHAR, score DOUBLE)")
    connection.execute("INSERT INTO t VALUES (1, 'ann', 0.5), (2, 'bob', NULL), (3, NULL, 2.25)")
    reader = open_table((connection, "SELECT * FROM t ORDER BY id"))
    assert reader.source.kind == "query" and reader.source.format == "duckdb"
    assert reader.source.path is None
    assert "SELECT * FROM t ORDER BY id" in reader.source.description
    assert_sample(reader)
    again = open_table("SELECT count(*) AS n FROM t", sql_connection=connection).read_all()
    assert again.to_pydict() == {"n": [3]}
    assert connection.execute("SELECT 1").fetchall() == [(1,)]  # the connection is free again


def test_duckdb_on_disk_by_connection_and_url(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    database = tmp_path / "warehouse.db"
    with duckdb.connect(str(database)) as connection:
        connection.execute("CREATE TABLE t AS SELECT range AS id, range * 2 AS twice FROM range(5)")
        reader = open_table((connection, "SELECT * FROM t ORDER BY id"))
        assert reader.source.path == str(database)
        assert reader.read_all().column("twice").to_pylist() == [0, 2, 4, 6, 8]
    reader = open_table((f"duckdb:///{database}", "SELECT sum(twice) AS s FROM t"))
    assert reader.source.path == str(database)
    assert reader.read_all().to_pydict() == {"s": [20]}


def test_sqlite_file_by_url(tmp_path: Path) -> None:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE t (id INTEGER, name TEXT, score REAL)")
        connection.executemany(
            "INSERT INTO t VALUES (?, ?, ?)", [(1, "ann", 0.5), (2, "bob", None), (3, None, 2.25)]
        )
    connection.close()
    reader = open_table((f"sqlite:///{database}", "SELECT * FROM t ORDER BY id"))
    assert reader.source.kind == "query" and reader.source.format == "sqlite"
    assert reader.source.path == str(database)
    assert_sample(reader)
    assert reader.schema.types == [pa.int64(), pa.string(), pa.float64()]
    empty = open_table((f"sqlite:///{database}", "SELECT * FROM t WHERE id > 10")).read_all()
    assert empty.num_rows == 0 and empty.column_names == ["id", "name", "score"]


def test_sql_types_resolved_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "loose.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE t (a, b)")  # SQLite: no declared types at all
        connection.executemany("INSERT INTO t VALUES (?, ?)", [(None, "x"), (2, "y"), (3, None)])
    connection.close()
    monkeypatch.setattr(readers_module, "_BATCH_ROWS", 1)  # the first batch has only a null
    reader = open_table((f"sqlite:///{database}", "SELECT a, b FROM t ORDER BY rowid"))
    assert reader.schema.types == [pa.int64(), pa.string()]
    assert [batch.num_rows for batch in reader.batches()] == [1, 1, 1]
    assert reader.read_all().to_pydict() == {"a": [None, 2, 3], "b": ["x", "y", None]}
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO t VALUES ('four', 'z')")
    connection.close()
    with pytest.raises(InputError) as caught:
        open_table((f"sqlite:///{database}", "SELECT a FROM t ORDER BY rowid")).read_all()
    message = one_line(caught.value)
    assert message.startswith(str(database)) and "column 'a'" in message and "str" in message


@pytest.mark.postgres
def test_postgresql_by_url(postgres: Any) -> None:
    import sqlalchemy as sa

    url = postgres.new_database()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE t (id integer, name text, price numeric(10, 2), seen timestamptz,"
                " ok boolean, day date)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO t VALUES (1, 'ann', 1.50, '2024-01-02 03:04:05+00', true,"
                " '2024-01-02'), (2, NULL, NULL, NULL, NULL, NULL)"
            )
        )
    engine.dispose()
    reader = open_table((url, "SELECT * FROM t ORDER BY id"))
    assert reader.source.format == "postgresql"
    schema = reader.schema
    assert schema.field("id").type == pa.int32()
    assert schema.field("name").type == pa.string()
    assert schema.field("seen").type == pa.timestamp("us", tz="UTC")
    assert schema.field("ok").type == pa.bool_()
    assert schema.field("day").type == pa.date32()
    table = reader.read_all()
    assert table.column("price").to_pylist() == [Decimal("1.50"), None]
    assert table.column("name").to_pylist() == ["ann", None]
    with pytest.raises(InputError, match="query failed") as caught:
        open_table((url, "SELECT * FROM missing_table"))
    assert "missing_table" in one_line(caught.value)


# ---------------------------------------------------------------------------------------
# Bad input: one clear message, naming the file and what is wrong


def test_ragged_csv(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n")
    with pytest.raises(InputError) as caught:
        open_table(path).read_all()
    message = one_line(caught.value)
    assert message.startswith(str(path))
    assert "line 3 has 4 fields, expected 3" in message


def test_ragged_csv_far_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n" + "1,2\n" * 50_000 + "3\n")
    with pytest.raises(InputError, match="line 50002 has 1 field, expected 2"):
        open_table(path, block_size=64 << 10).read_all()


def test_csv_bad_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,city\n1,Paris\n2,Malmö\n".encode("latin-1"))
    with pytest.raises(InputError) as caught:
        open_table(path).read_all()
    message = one_line(caught.value)
    assert message.startswith(str(path))
    assert "not valid UTF-8" in message
    assert "byte 0xf6 at offset 22 (line 3)" in message
    assert "encoding=" in message
    table = open_table(path, encoding="latin-1").read_all()
    assert table.column("city").to_pylist() == ["Paris", "Malmö"]


def test_csv_mixed_types_with_schema(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("id,name\n1,ann\n2,bob\nthree,cid\n")
    with pytest.raises(InputError) as caught:
        open_table(path, schema={"id": pa.int64()}).read_all()
    message = one_line(caught.value)
    assert message.startswith(str(path))
    assert "line 4" in message and "'three'" in message and "int64" in message
    assert "schema=" in message


def test_csv_type_change_after_the_first_block(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("id\n" + "".join(f"{i}\n" for i in range(30_000)) + "n/a?\n")
    with pytest.raises(InputError) as caught:
        open_table(path, block_size=32 << 10).read_all()
    message = one_line(caught.value)
    assert "line 30002" in message and "'n/a?'" in message and "pass schema=" in message


def test_jsonl_bad_lines(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"a": 1}\n{"a": 2}\n{"a": "x"}\n')
    with pytest.raises(InputError) as caught:
        open_table(mixed).read_all()
    message = one_line(caught.value)
    assert message.startswith(str(mixed)) and "line 3" in message and "'a'" in message
    with pytest.raises(InputError, match="column 'a' holds a string where schema= says int64"):
        open_table(mixed, schema={"a": pa.int64()}).read_all()
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n{"a": 2,\n')
    with pytest.raises(InputError, match=r"line 2: not valid JSON"):
        open_table(broken).read_all()
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"city": "Malmö"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not valid UTF-8 text: byte 0xf6"):
        open_table(latin).read_all()


def test_truncated_parquet(tmp_path: Path) -> None:
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.table({"id": list(range(1_000))}), whole)
    path = tmp_path / "truncated.parquet"
    path.write_bytes(whole.read_bytes()[:-100])
    with pytest.raises(InputError) as caught:
        open_table(path)
    message = one_line(caught.value)
    assert message.startswith(str(path))
    assert "not a valid Parquet file" in message and "truncated" in message


def test_corrupt_parquet_data(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.parquet"
    table = pa.table({"text": [f"value number {i}" for i in range(5_000)]})
    pq.write_table(table, path, compression="snappy", row_group_size=1_000)
    data = bytearray(path.read_bytes())
    data[200:2_000] = b"\xff" * 1_800  # garbage inside the first row group's pages
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        open_table(path).read_all()
    message = one_line(caught.value)
    assert message.startswith(str(path))
    assert "corrupt Parquet data in row group 1 of 5" in message


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet", "empty.arrow", "empty.jsonl"])
def test_zero_byte_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(InputError) as caught:
        open_table(path)
    message = one_line(caught.value)
    assert message.startswith(str(path)) and "is empty (0 bytes)" in message


def test_symlink_loop(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.symlink_to(second)
    second.symlink_to(first)
    with pytest.raises(InputError) as caught:
        open_table(first)
    message = one_line(caught.value)
    assert message.startswith(str(first)) and "symbolic link loop" in message


def test_folder_with_broken_and_looping_links(tmp_path: Path) -> None:
    folder = tmp_path / "dataset"
    folder.mkdir()
    pq.write_table(sample_table(), folder / "part-0.parquet")
    (folder / "part-1.parquet").symlink_to(tmp_path / "gone.parquet")
    (folder / "part-2.parquet").symlink_to(folder / "part-2.parquet")
    with pytest.raises(InputUnreadable) as caught:
        open_table(folder)
    message = one_line(caught.value)
    assert message.startswith(str(folder))
    assert "2 of 3 files in the folder cannot be read" in message
    assert "part-1.parquet (broken symbolic link" in message
    assert "part-2.parquet (symbolic link loop" in message


def test_folder_with_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "dataset"
    folder.mkdir()
    pq.write_table(sample_table(), folder / "part-0.parquet")
    secret = folder / "part-1.parquet"
    pq.write_table(sample_table(), secret)
    secret.chmod(0)
    try:
        if os.geteuid() == 0:  # root reads anything: refuse this one file as the OS would
            real_open = os.open

            def refusing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
                if os.fspath(path) == str(secret):
                    raise PermissionError(13, "Permission denied", str(secret))
                return real_open(path, flags, *args, **kwargs)

            monkeypatch.setattr(os, "open", refusing_open)
        with pytest.raises(InputUnreadable) as caught:
            open_table(folder)
    finally:
        secret.chmod(0o644)
    message = one_line(caught.value)
    assert message.startswith(str(folder))
    assert "part-1.parquet (permission denied)" in message


def test_folder_with_a_corrupt_file(tmp_path: Path) -> None:
    folder = tmp_path / "dataset"
    folder.mkdir()
    pq.write_table(sample_table(), folder / "part-0.parquet")
    whole = (folder / "part-0.parquet").read_bytes()
    (folder / "part-1.parquet").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError) as caught:
        open_table(folder).read_all()
    message = one_line(caught.value)
    assert message.startswith(f"{folder}: part-1.parquet: not a valid Parquet file")


def test_folder_of_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n")
    with pytest.raises(InputError) as caught:
        open_table(folder)
    message = one_line(caught.value)
    assert message.startswith(str(folder)) and "a.csv" in message and "format=" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no data files"):
        open_table(empty)


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(InputError) as caught:
        open_table(path)
    message = one_line(caught.value)
    assert message.startswith(str(path))
    assert "unknown table format" in message
    assert "CSV" in message and "Parquet" in message and "JSON lines" in message
    assert "format=" in message
    with pytest.raises(UsageError, match="unknown format 'xlsx'"):
        open_table(path, format="xlsx")


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(InputNotFound) as caught:
        open_table(path)
    assert one_line(caught.value) == f"{path}: no such file or folder"
    assert isinstance(caught.value, FileNotFoundError)


def test_schema_naming_a_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(sample_table(), path)
    with pytest.raises(InputError, match="schema= names 1 column the table does not have"):
        open_table(path, schema={"nope": pa.int64()})


def test_failing_queries(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    connection = duckdb.connect()
    with pytest.raises(InputError) as caught:
        open_table((connection, "SELECT * FROM missing_table"))
    message = one_line(caught.value)
    assert "query failed" in message and "missing_table does not exist" in message
    with pytest.raises(InputError, match=r"query failed: .*'x'"):
        open_table((connection, "SELECT CAST('x' AS INTEGER) AS n")).read_all()
    database = tmp_path / "shop.db"
    sqlite3.connect(database).close()
    with pytest.raises(InputError) as caught:
        open_table((f"sqlite:///{database}", "SELECT * FROM missing_table"))
    message = one_line(caught.value)
    assert message.startswith(str(database)) and "no such table: missing_table" in message
    missing = tmp_path / "missing.db"
    with pytest.raises(InputNotFound, match="no such SQLite database file"):
        open_table((f"sqlite:///{missing}", "SELECT 1"))
    assert not missing.exists()  # not created by asking
    with pytest.raises(InputNotFound, match="no such DuckDB database file"):
        open_table((f"duckdb:///{missing}", "SELECT 1"))
    with pytest.raises(UsageError, match="a SQL source is a pair"):
        open_table((connection, "SELECT 1", "extra"))


def test_url_password_never_shown() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(InputError) as caught:
        open_table(("postgresql+psycopg://user:s3cret@127.0.0.1:1/db", "SELECT 1"))
    message = one_line(caught.value)
    assert "s3cret" not in message and "cannot connect" in message
