"""Table snapshots (retention ``full``): content-defined row chunks in a prolly tree.

A snapshot must restore exactly the rows a run read, in the order it read them, and each
day's snapshot of a slowly changing table must cost about what changed. Scattered changes
are what make that hard: 0.1 % of a million rows updated at random and 0.05 % deleted are
~1,500 places a day, one every ~700 rows, so any chunk of more than a few dozen rows is
rewritten almost every day. Hence (docs/storage.md, "Table snapshots"):

* **Leaves.** The rows, in their original order, are cut into content-defined runs of about
  two kilobytes (``runstate.data.cdc.row_cuts`` over each row's ``runstate.rowfp/v1``
  fingerprint and size): a changed, inserted or deleted row rewrites its own leaf (now
  and then its neighbour too, when a boundary moves), whatever happens elsewhere. Each leaf
  is one object, laid out column by column for zstd (``runstate.data.leafcodec``).
* **Index nodes.** A million-row table has tens of thousands of leaves; one flat list of
  them would be rewritten whole every day (~77 bytes an entry as JSON). So the list is cut
  the same content-defined way (by the leaves' ids) into nodes of about eight entries, and
  those into nodes again, until at most ``ROOT_MAX`` remain: a prolly tree. A change
  rewrites its leaf and the nodes on its path; untouched subtrees are shared with every
  other snapshot that has them.
* **Manifest.** The root: JSON, ``runstate.snapshot/v1`` (docs/schemas/snapshot.schema.json),
  naming the exact Arrow schema, row count, tree height and top entries ``[id, bytes,
  rows]``. Its object id is the snapshot's id (``TableEntry.snapshot_id``). Nodes are JSON
  too (``runstate.snapshot-node/v1``), so ``verify`` and ``gc`` walk the tree with the same
  rules as every other document and skip subtrees already seen.

Everything is a pure function of the table (the same table gives the same manifest id), so
the object store deduplicates across runs with no index of its own. Leaves and nodes are
written inside one ``objects.batch()``, the manifest last; reading re-hashes every object
(BLAKE3) and checks row counts, so a corrupt store fails loudly instead of replaying wrong
rows.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from runstate.errors import IntegrityError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from runstate.store.objects import ObjectStore

__all__ = [
    "FORMAT",
    "LEAF_SIZE",
    "NODE_SCHEMA",
    "NODE_SIZE",
    "ROOT_MAX",
    "SNAPSHOT_SCHEMA",
    "SnapshotRef",
    "SnapshotWriter",
    "iter_snapshot_batches",
    "node_children",
    "read_manifest",
    "read_snapshot",
    "read_snapshot_rows",
    "snapshot_object_ids",
    "write_snapshot",
]

SNAPSHOT_SCHEMA = "runstate.snapshot/v1"
NODE_SCHEMA = "runstate.snapshot-node/v1"
FORMAT = "runstate.leaf/v1"
LEAF_SIZE = (512, 2048, 16384)  # min, average, max raw bytes of a leaf (row_cuts sizes)
NODE_SIZE = (2, 8, 32)  # min, average, max entries of an index node
ROOT_MAX = 64  # the manifest lists at most this many entries
_GROUP_BYTES = 16 << 20  # leaves are encoded and decoded in groups of about this many bytes
_MAX_LEAF = (1 << 32) - 1
_SPAN = 512  # leaves one worker thread compresses and stores (or reads) per task


def _workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


@dataclass(frozen=True)
class SnapshotRef:
    """A stored snapshot: its manifest id and what it holds."""

    id: str
    rows: int
    bytes: int  # stored bytes of its leaves, nodes and dictionaries (shared ones included)
    leaves: int
    nodes: int


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _id_hashes(ids: Sequence[str]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """The first 8 bytes of each object id (hex), as the content hash of an index entry."""
    return np.array([int(object_id[:16], 16) for object_id in ids], dtype=np.uint64)


def _row_hashes(table: pa.Table) -> np.ndarray[Any, Any]:
    from runstate.data.tables import row_fingerprints

    try:
        return row_fingerprints(table) if table.num_columns else np.zeros(table.num_rows, np.uint64)
    except UsageError:  # a type rowfp/v1 refuses: cuts then follow row sizes alone
        return np.zeros(table.num_rows, np.uint64)


def write_snapshot(
    objects: ObjectStore,
    table: pa.Table,
    *,
    leaf_size: tuple[int, int, int] = LEAF_SIZE,
    node_size: tuple[int, int, int] = NODE_SIZE,
) -> SnapshotRef:
    """Store ``table`` as a content-defined snapshot; return its manifest's id and sizes.

    ``leaf_size`` and ``node_size`` (min, average, max) are for benchmarks and tests; the
    defaults are what runstate stores, and changing them changes every leaf's boundaries
    (correct either way, but nothing would deduplicate against older snapshots).
    """
    writer = SnapshotWriter(objects, table.schema, leaf_size=leaf_size, node_size=node_size)
    with objects.batch():
        writer.add(table)
        return writer.finish()


class SnapshotWriter:
    """Write a snapshot batch by batch, in bounded memory: the same snapshot (the same
    manifest id) as :func:`write_snapshot` of the whole table.

    Leaf boundaries depend only on the rows since the previous boundary (the cut rule of
    :func:`runstate.data.cdc.row_cuts` restarts at each cut), so the rows after a batch's
    last boundary are carried into the next batch and cut again there: exactly where the
    whole-table pass would have cut. Dictionary-encoded columns must keep one dictionary for
    the whole table (the snapshot stores it once); a batch with another raises
    :class:`~runstate.errors.UsageError`.

        >>> writer = SnapshotWriter(objects, reader.schema)          # doctest: +SKIP
        >>> for batch in reader.batches():                           # doctest: +SKIP
        ...     writer.add(batch)
        >>> ref = writer.finish()                                    # doctest: +SKIP

    Callers wrap the writer in ``objects.batch()`` so all leaves become durable at once.
    """

    def __init__(
        self,
        objects: ObjectStore,
        schema: pa.Schema,
        *,
        leaf_size: tuple[int, int, int] = LEAF_SIZE,
        node_size: tuple[int, int, int] = NODE_SIZE,
    ) -> None:
        import pyarrow as pa

        from runstate.data import cdc
        from runstate.data.leafcodec import ZSTD_LEVEL, plan_for

        cdc.check_sizes(*leaf_size)
        cdc.check_sizes(*node_size)
        self._objects = objects
        self._schema = schema
        self._leaf_size = leaf_size
        self._node_size = node_size
        self._plans = [plan_for(field.type) for field in schema]
        self._codec = pa.Codec("zstd", compression_level=ZSTD_LEVEL)
        self._carry: pa.Table | None = None  # rows after the last boundary so far
        self._carry_hashes = np.zeros(0, np.uint64)
        self._leaves: list[list[Any]] = []
        self._dictionaries: list[list[Any]] | None = None
        self._dictionary_values: dict[int, Any] = {}
        self._total = 0
        self._rows = 0
        self._pool = ThreadPoolExecutor(_workers(), thread_name_prefix="runstate-snapshot")

    def add(self, batch: pa.Table | pa.RecordBatch, row_hashes: Any = None) -> None:
        """Add rows; ``row_hashes`` (their ``runstate.rowfp/v1`` fingerprints) if known."""
        import pyarrow as pa

        part = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if part.num_rows == 0 and self._rows:
            return
        part = part.combine_chunks() if part.num_columns else part
        hashes = _row_hashes(part) if row_hashes is None else np.asarray(row_hashes, np.uint64)
        self._check_dictionaries(part)
        self._rows += part.num_rows
        if self._carry is not None and self._carry.num_rows:
            part = pa.concat_tables([self._carry, part]).combine_chunks()
            hashes = np.concatenate([self._carry_hashes, hashes])
        self._cut(part, hashes, final=False)

    def finish(self) -> SnapshotRef:
        """Store the last leaves, the index nodes and the manifest; return the snapshot."""
        try:
            if self._carry is not None:
                self._cut(self._carry, self._carry_hashes, final=True)
            elif self._dictionaries is None:  # no rows at all
                self._check_dictionaries(self._schema.empty_table())
        finally:
            self._pool.shutdown()
        assert self._dictionaries is not None
        objects, entries, height, nodes = self._objects, self._leaves, 0, 0
        while len(entries) > ROOT_MAX:
            from runstate.data import cdc

            height += 1
            cuts = cdc.row_cuts(
                _id_hashes([e[0] for e in entries]),
                np.ones(len(entries), np.int64),
                *self._node_size,
            )
            grouped: list[list[Any]] = []
            start = 0
            for end in cuts:
                data = _node_bytes(height, entries[start : int(end)])
                node_id = objects.put_bytes(data)
                grouped.append(
                    [node_id, len(data), sum(int(e[2]) for e in entries[start : int(end)])]
                )
                self._total += len(data)
                nodes += 1
                start = int(end)
            entries = grouped
        from runstate.data.leafcodec import ZSTD_LEVEL

        manifest = {
            "schema": SNAPSHOT_SCHEMA,
            "format": FORMAT,
            "rows": self._rows,
            "arrow_schema": base64.b64encode(self._schema.serialize().to_pybytes()).decode(),
            "height": height,
            "leaves": len(self._leaves),
            "bytes": self._total,
            "chunks": entries,
            "dictionaries": self._dictionaries,
            "chunking": {
                "leaf": list(self._leaf_size),
                "node": list(self._node_size),
                "root_max": ROOT_MAX,
                "zstd_level": ZSTD_LEVEL,
            },
        }
        manifest_id = objects.put_bytes(_dumps(manifest))
        return SnapshotRef(manifest_id, self._rows, self._total, len(self._leaves), nodes)

    def _check_dictionaries(self, part: pa.Table) -> None:
        from runstate.data.leafcodec import DICT

        if self._dictionaries is None:  # the first rows: store each column's dictionary
            self._dictionaries = []
            for c, plan in enumerate(self._plans):
                if plan.kind == DICT:
                    object_id, size, values = _put_dictionary(self._objects, part, c)
                    self._dictionaries.append([c, object_id, size])
                    self._dictionary_values[c] = values
                    self._total += size
            return
        for c, values in self._dictionary_values.items():
            column = part.column(c)
            if column.num_chunks and not column.chunk(0).dictionary.equals(values):
                raise UsageError(
                    f"column {self._schema.field(c).name!r}: its dictionary changes between"
                    " batches; a snapshot stores one dictionary per column"
                )

    def _cut(self, part: pa.Table, hashes: Any, *, final: bool) -> None:
        from runstate.data import cdc
        from runstate.data.leafcodec import encode_leaves, row_sizes

        sizes = row_sizes(part)
        ends = cdc.row_cuts(hashes, sizes, *self._leaf_size)
        if not final and len(ends):
            # The last boundary is the end of the rows seen so far, not a content cut: keep
            # those rows for the next batch, which may extend them.
            keep_from = int(ends[-2]) if len(ends) > 1 else 0
            self._carry = part.slice(keep_from)
            self._carry_hashes = hashes[keep_from:]
            ends = ends[:-1]
            if not len(ends):
                return
            part, sizes = part.slice(0, keep_from).combine_chunks(), sizes[:keep_from]
        else:
            self._carry, self._carry_hashes = None, np.zeros(0, np.uint64)
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64) if len(ends) else ends
        for lo, hi in _groups(ends, sizes):
            raw, leaf_pos, leaf_len = encode_leaves(part, self._plans, starts[lo:hi], ends[lo:hi])
            if int(leaf_len.max()) > _MAX_LEAF:
                raise UsageError("a single row is larger than 4 GiB: cannot snapshot it")
            spans = [(j, min(j + _SPAN, hi - lo)) for j in range(0, hi - lo, _SPAN)]
            work = [(self._objects, self._codec, raw, leaf_pos, leaf_len, span) for span in spans]
            stored = self._pool.map(lambda job: _store_leaves(*job), work)
            for span, done in zip(spans, stored, strict=True):
                for j, (leaf_id, size) in zip(range(*span), done, strict=True):
                    self._leaves.append([leaf_id, size, int(ends[lo + j] - starts[lo + j])])
                    self._total += size


def _store_leaves(
    objects: ObjectStore,
    codec: pa.Codec,
    raw: np.ndarray[Any, Any],
    leaf_pos: np.ndarray[Any, Any],
    leaf_len: np.ndarray[Any, Any],
    span: tuple[int, int],
) -> list[tuple[str, int]]:
    """Compress and store leaves ``span`` of an encoded group: [(id, stored bytes)]."""
    stored = []
    for j in range(*span):
        start, length = int(leaf_pos[j]), int(leaf_len[j])
        body = codec.compress(raw[start : start + length], asbytes=True)
        data = length.to_bytes(4, "little") + body
        stored.append((objects.put_bytes(data), len(data)))
    return stored


def _node_bytes(level: int, entries: list[list[Any]]) -> bytes:
    """An index node: its children's ids packed (base64 of the 32-byte digests) and rows."""
    packed = b"".join(bytes.fromhex(entry[0]) for entry in entries)
    return _dumps(
        {
            "schema": NODE_SCHEMA,
            "level": level,
            "ids": base64.b64encode(packed).decode(),
            "rows": [int(entry[2]) for entry in entries],
        }
    )


def node_children(node: dict[str, Any]) -> list[tuple[str, int]]:
    """(child id, rows) of an index node document, in order; ValueError if malformed."""
    packed = base64.b64decode(node["ids"], validate=True)
    rows = node["rows"]
    if len(packed) != 32 * len(rows):
        raise ValueError("snapshot node: ids and rows differ in number")
    return [(packed[32 * i : 32 * i + 32].hex(), int(rows[i])) for i in range(len(rows))]


def _groups(ends: np.ndarray[Any, Any], sizes: np.ndarray[Any, Any]) -> Iterator[tuple[int, int]]:
    """Leaf index ranges of about ``_GROUP_BYTES`` raw bytes each (bounded memory)."""
    if not len(ends):
        return
    cumulative = np.concatenate([[0], np.cumsum(sizes)])[ends]
    lo = 0
    while lo < len(ends):
        base = cumulative[lo - 1] if lo else 0
        hi = int(np.searchsorted(cumulative, base + _GROUP_BYTES, side="right"))
        hi = max(hi, lo + 1)
        yield lo, hi
        lo = hi


def _put_dictionary(objects: ObjectStore, table: pa.Table, column: int) -> tuple[str, int, Any]:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    column_data = table.column(column)
    arr = column_data.chunk(0) if column_data.num_chunks else None
    dictionary = (
        arr.dictionary
        if arr is not None
        else pa.array([], table.schema.field(column).type.value_type)
    )
    holder = pa.table({"dictionary": dictionary})
    sink = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(compression="zstd")
    with ipc.new_stream(sink, holder.schema, options=options) as writer:
        writer.write_table(holder)
    data = sink.getvalue().to_pybytes()
    return objects.put_bytes(data), len(data), dictionary


# -- reading --------------------------------------------------------------------------------


def _get_verified(objects: ObjectStore, object_id: str) -> bytes:
    import blake3

    data = objects.get_bytes(object_id)
    if blake3.blake3(data).hexdigest() != object_id:
        raise IntegrityError(f"snapshot object {object_id} is corrupt (its bytes changed)")
    return data


def read_manifest(objects: ObjectStore, snapshot_id: str) -> dict[str, Any]:
    """The manifest document of a snapshot; IntegrityError if it is not one."""
    data = _get_verified(objects, snapshot_id)
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("schema") != SNAPSHOT_SCHEMA:
        raise IntegrityError(f"object {snapshot_id} is not a {SNAPSHOT_SCHEMA} manifest")
    if document.get("format") != FORMAT:
        raise IntegrityError(
            f"snapshot {snapshot_id} has format {document.get('format')!r}; this runstate "
            f"reads {FORMAT}"
        )
    return document


def _leaf_entries(
    objects: ObjectStore, entries: list[list[Any]], height: int
) -> Iterator[tuple[str, int]]:
    """(leaf id, rows) in order, walking the index nodes depth first."""
    for object_id, _size, rows in entries:
        if height == 0:
            yield object_id, int(rows)
            continue
        node = json.loads(_get_verified(objects, object_id))
        if node.get("schema") != NODE_SCHEMA or node.get("level") != height:
            raise IntegrityError(f"snapshot node {object_id} is not a level-{height} node")
        try:
            children = node_children(node)
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(f"snapshot node {object_id} is malformed: {exc}") from None
        if sum(child_rows for _, child_rows in children) != int(rows):
            raise IntegrityError(f"snapshot node {object_id} holds a different row count")
        yield from _leaf_entries(
            objects, [[child, 0, child_rows] for child, child_rows in children], height - 1
        )


def snapshot_object_ids(objects: ObjectStore, snapshot_id: str) -> list[str]:
    """Every object of a snapshot: manifest, nodes, leaves, dictionaries (for tests, tools)."""
    manifest = read_manifest(objects, snapshot_id)
    found = [snapshot_id] + [entry[1] for entry in manifest["dictionaries"]]

    def walk(ids: list[str], height: int) -> None:
        for object_id in ids:
            found.append(object_id)
            if height:
                node = json.loads(_get_verified(objects, object_id))
                walk([child for child, _ in node_children(node)], height - 1)

    walk([entry[0] for entry in manifest["chunks"]], int(manifest["height"]))
    return found


def iter_snapshot_batches(objects: ObjectStore, snapshot_id: str) -> Iterator[pa.RecordBatch]:
    """The snapshot's rows as record batches, in order, a group of leaves at a time."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from runstate.data.leafcodec import decode_leaves, plan_for

    manifest = read_manifest(objects, snapshot_id)
    schema = ipc.read_schema(pa.py_buffer(base64.b64decode(manifest["arrow_schema"])))
    plans = [plan_for(field.type) for field in schema]
    dictionaries = {}
    for column, object_id, _size in manifest["dictionaries"]:
        with ipc.open_stream(pa.py_buffer(_get_verified(objects, object_id))) as reader:
            dictionaries[int(column)] = reader.read_all().column(0).combine_chunks()
    codec = pa.Codec("zstd")
    entries = list(_leaf_entries(objects, manifest["chunks"], int(manifest["height"])))
    listed = sum(rows for _, rows in entries)
    if listed != int(manifest["rows"]):
        raise IntegrityError(
            f"snapshot {snapshot_id} lists {listed} rows, its manifest says {manifest['rows']}"
        )

    def load(span: tuple[int, int]) -> list[np.ndarray[Any, Any]]:
        out = []
        for leaf_id, _rows in entries[span[0] : span[1]]:
            data = _get_verified(objects, leaf_id)
            length = int.from_bytes(data[:4], "little")
            raw = codec.decompress(data[4:], decompressed_size=length, asbytes=True)
            out.append(np.frombuffer(raw, np.uint8))
        return out

    # Groups of about _GROUP_BYTES of rows (leaves hold about the average leaf size each):
    # worker threads fetch, verify and decompress a group's leaves, decoded then in order.
    per_group = max(1, _GROUP_BYTES // max(1, int(manifest["chunking"]["leaf"][1])))
    with ThreadPoolExecutor(_workers(), thread_name_prefix="runstate-snapshot") as pool:
        for lo in range(0, max(len(entries), 1), per_group):
            hi = min(lo + per_group, len(entries))
            spans = [(j, min(j + _SPAN, hi)) for j in range(lo, hi, _SPAN)]
            pending = [leaf for loaded in pool.map(load, spans) for leaf in loaded]
            lengths = np.array([len(p) for p in pending], np.int64)
            positions = (np.cumsum(lengths) - lengths).astype(np.int64)
            raw = np.concatenate(pending) if pending else np.zeros(0, np.uint8)
            batch = decode_leaves(raw, positions, schema, plans, dictionaries)
            if batch.num_rows != sum(rows for _, rows in entries[lo:hi]):
                raise IntegrityError(f"snapshot {snapshot_id}: a leaf holds a different row count")
            yield batch


def read_snapshot(objects: ObjectStore, ref_or_id: SnapshotRef | str) -> pa.Table:
    """The table a snapshot holds: the same rows, in the same order, with the same schema.

    Snapshots written before ``runstate.snapshot/v1`` (one Parquet object) are read too.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    snapshot_id = ref_or_id.id if isinstance(ref_or_id, SnapshotRef) else ref_or_id
    with objects.open(snapshot_id) as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        import pyarrow.parquet as pq

        return pq.read_table(pa.py_buffer(_get_verified(objects, snapshot_id)))
    manifest = read_manifest(objects, snapshot_id)
    schema = ipc.read_schema(pa.py_buffer(base64.b64decode(manifest["arrow_schema"])))
    batches = list(iter_snapshot_batches(objects, snapshot_id))
    if not schema:  # no columns: keep the row count
        return pa.Table.from_batches(batches)
    return pa.Table.from_batches(batches, schema=schema)


def _leaves_covering(
    objects: ObjectStore, entries: list[list[Any]], height: int, first: int, wanted: Any
) -> Iterator[tuple[str, int, int]]:
    """(leaf id, first row, rows) of the leaves that hold any row of ``wanted`` (sorted),
    descending only into index nodes whose rows include one."""
    for object_id, _size, rows in entries:
        rows = int(rows)
        lo = int(np.searchsorted(wanted, first))
        if lo < len(wanted) and int(wanted[lo]) < first + rows:
            if height == 0:
                yield object_id, first, rows
            else:
                node = json.loads(_get_verified(objects, object_id))
                if node.get("schema") != NODE_SCHEMA or node.get("level") != height:
                    raise IntegrityError(f"snapshot node {object_id} is not a level-{height} node")
                listed = node_children(node)
                children: list[list[Any]] = [[child, 0, count] for child, count in listed]
                if sum(count for _, count in listed) != rows:
                    raise IntegrityError(f"snapshot node {object_id} holds a different row count")
                yield from _leaves_covering(objects, children, height - 1, first, wanted)
        first += rows


def read_snapshot_rows(objects: ObjectStore, snapshot_id: str, rows: Any) -> pa.Table:
    """Rows ``rows`` (positions in the snapshot, any order, repeats allowed) as a table in
    that order, reading only the index nodes and leaves that hold them: what cell-level
    diffs need (the changed rows), at a fraction of a full read when changes are sparse."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from runstate.data.leafcodec import decode_leaves, plan_for

    positions = np.asarray(rows, dtype=np.int64)
    manifest = read_manifest(objects, snapshot_id)
    schema = ipc.read_schema(pa.py_buffer(base64.b64decode(manifest["arrow_schema"])))
    if positions.size and (int(positions.min()) < 0 or int(positions.max()) >= manifest["rows"]):
        raise UsageError(f"snapshot {snapshot_id} has {manifest['rows']} rows")
    wanted = np.unique(positions)
    leaves = list(_leaves_covering(objects, manifest["chunks"], int(manifest["height"]), 0, wanted))
    plans = [plan_for(field.type) for field in schema]
    dictionaries = {}
    for column, object_id, _size in manifest["dictionaries"]:
        with ipc.open_stream(pa.py_buffer(_get_verified(objects, object_id))) as reader:
            dictionaries[int(column)] = reader.read_all().column(0).combine_chunks()
    codec = pa.Codec("zstd")

    def load(span: tuple[int, int]) -> list[np.ndarray[Any, Any]]:
        out = []
        for leaf_id, _first, _count in leaves[span[0] : span[1]]:
            data = _get_verified(objects, leaf_id)
            length = int.from_bytes(data[:4], "little")
            raw = codec.decompress(data[4:], decompressed_size=length, asbytes=True)
            out.append(np.frombuffer(raw, np.uint8))
        return out

    # A task per span of leaves, not per leaf: thread hand-offs cost more than a leaf.
    spans = [(j, min(j + _SPAN, len(leaves))) for j in range(0, len(leaves), _SPAN)]
    with ThreadPoolExecutor(_workers(), thread_name_prefix="runstate-snapshot") as pool:
        pending = [leaf for loaded in pool.map(load, spans) for leaf in loaded]
    lengths = np.array([len(p) for p in pending], np.int64)
    offsets = (np.cumsum(lengths) - lengths).astype(np.int64)
    raw = np.concatenate(pending) if pending else np.zeros(0, np.uint8)
    batch = decode_leaves(raw, offsets, schema, plans, dictionaries)
    if batch.num_rows != sum(count for _, _, count in leaves):
        raise IntegrityError(f"snapshot {snapshot_id}: a leaf holds a different row count")
    # Where each snapshot row landed in the decoded leaves: leaf start + offset in the leaf.
    starts = np.array([first for _, first, _ in leaves], np.int64)
    counts = np.array([count for _, _, count in leaves], np.int64)
    decoded_at = np.cumsum(counts) - counts
    leaf = np.searchsorted(starts, positions, side="right") - 1
    local = decoded_at[leaf] + (positions - starts[leaf]) if positions.size else positions
    table = pa.Table.from_batches([batch], schema=schema)
    if local.size > 1000:  # below, slices: take would load pyarrow's compute layer (pandas)
        try:
            return table.take(pa.array(local))
        except pa.ArrowNotImplementedError:  # a type without a take kernel (views)
            pass
    parts = [table.slice(int(i), 1) for i in local]
    return pa.concat_tables(parts) if parts else table.slice(0, 0)
