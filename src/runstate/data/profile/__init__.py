"""Table profiles: schema and per-column statistics, small, JSON-safe, streaming, mergeable.

A :class:`TableProfile` is computed batch by batch (:func:`profile_table`) without holding the
table: batches are gathered into chunks of about a million rows and each chunk is reduced,
with NumPy sorts and counts (no per-row Python), into per-column summaries that merge;
columns are reduced on a few threads. It records:

* the **schema**: per column its name, Arrow type, logical family (``int``, ``string``,
  ``timestamp``, ``list<int>``, …; the same names as the table fingerprint) and nullability;
* per column: ``count`` (non-null values) and ``nulls`` (``count + nulls`` = rows), ``nans``
  for floats; ``distinct``; ``min``/``max``; for numbers and durations ``mean``/``std``
  (sample standard deviation, ``ddof=1``) and ``quantiles`` p01…p99; ``top_values`` for
  strings, integers and booleans; for dates and timestamps a time-coverage ``histogram`` by
  day (by blocks of 2^k days when the data spans more than 400 days) and its ``gaps``;
* for the key (one or more columns): ``key_nulls`` (rows with a null in a key column) and
  ``key_duplicates``: how many key values occur more than once and how many extra rows
  they bring (rows with a null key are left out of the duplicate count).

NaN is a value of a float column (counted in ``count`` and ``nans``) but is left out of
min/max, mean/std, quantiles, distinct and top values. Non-finite results are written as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` so that every profile is valid JSON
(``json.dumps(..., allow_nan=False)``); timestamps are ISO 8601 strings (UTC ``Z`` for
zone-aware columns), dates ``YYYY-MM-DD``; strings longer than 100 characters are cut and end
with ``…``.

Exact and approximate — what a profile promises:

* exact: rows, count, nulls, nans, min, max, mean/std (up to float rounding), histogram
  counts and gaps, key nulls, and key duplicates (counted over 64-bit hashes of the key
  values: a collision — about 1 in 3·10^7 for 10^6 rows — could only add a duplicate; an
  integer key is hashed by a bijection, so it is exact);
* ``distinct`` is exact (``distinct_exact``) while the column has at most 1,000,000 distinct
  values (strings, binaries and decimals are told apart by 64-bit hashes), else a
  HyperLogLog estimate (2^10 registers: about 3% standard error);
* ``top_values`` (the values that occur more than once, most frequent first) are exact
  (``top_exact``) under the same limit; beyond it, each chunk's 1,000 most frequent values
  are merged into a counter capped at 1,000 values: a value frequent overall but never
  among a chunk's 1,000 most frequent is missed, and counts are lower bounds. A string
  is named from the chunks where it repeats: one that never repeats within a chunk (but
  does across chunks) cannot be named and is left out (``top_exact`` false);
* ``quantiles`` (linear interpolation, as NumPy's default) are exact for a table that fits
  in one chunk; across chunks (and in :func:`merge_profiles`) each chunk's quantile function
  is kept at 33 ranks (denser in the tails) and the mixture of them is inverted: typically
  within 0.5% of rank of the exact value.

After :func:`merge_profiles`: distinct always comes from the union of the HyperLogLog
registers (approximate), top values are merged from each side's list (approximate),
quantiles from the sketches (approximate), key duplicates become a lower bound
(``exact: false``: a key may occur once on each side); everything else stays exact.

The HyperLogLog hash (``runstate.hll/v1``) is written here with NumPy — a mix of the 64-bit
value for fixed-width types, a word-at-a-time mix of the UTF-8 bytes for strings — so
registers from two profiles merge whatever pyarrow or NumPy version computed them.

The package, one concept a module: :mod:`.model` (the value objects), :mod:`.families`
(logical type families), :mod:`.codec` (JSON-safe values), :mod:`.stream` (input batches and
chunks), :mod:`.column` (one column's statistics), :mod:`.distinct` (distinct and top
values), :mod:`.hashing` and :mod:`.hll` (the value hash and HyperLogLog), :mod:`.sketch`
(quantiles), :mod:`.moments` (mean and std), :mod:`.coverage` (time coverage), :mod:`.keys`
(key nulls and duplicates) and :mod:`.merge`. This module is the public API, and holds the
chunking and exactness limits that :func:`profile_table` reads at each call.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from runstate.data.profile.codec import STRING_CAP as STRING_CAP
from runstate.data.profile.column import _ColumnAccumulator
from runstate.data.profile.coverage import DAILY_SPAN as DAILY_SPAN
from runstate.data.profile.coverage import MAX_BINS, Histogram
from runstate.data.profile.distinct import TOP_CAP as TOP_CAP
from runstate.data.profile.families import _family_of as _family_of
from runstate.data.profile.hll import HLL_P as HLL_P
from runstate.data.profile.hll import HLL_SCHEMA as HLL_SCHEMA
from runstate.data.profile.keys import _KeyAccumulator
from runstate.data.profile.merge import merge_profiles
from runstate.data.profile.model import MAX_GAPS as MAX_GAPS
from runstate.data.profile.model import PROFILE_SCHEMA, ColumnProfile, TableProfile
from runstate.data.profile.sketch import GRID as GRID
from runstate.data.profile.sketch import QUANTILES as QUANTILES
from runstate.data.profile.stream import _as_batches, _chunks
from runstate.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


__all__ = [
    "PROFILE_SCHEMA",
    "ColumnProfile",
    "Histogram",
    "TableProfile",
    "merge_profiles",
    "profile_table",
]


EXACT_DISTINCT_LIMIT = 1_000_000  # distinct values counted exactly, per column
CHUNK_ROWS = 1 << 20  # rows reduced at a time (or CHUNK_BYTES bytes, whichever comes first)
CHUNK_BYTES = 256 << 20


def profile_table(
    data: Any,
    key: Sequence[str] | str | None = None,
    *,
    top_k: int = 10,
    histogram_bins: int = 100,
    schema: pa.Schema | None = None,
    threads: int | None = None,
) -> TableProfile:
    """Profile a table given as an Arrow Table/RecordBatch/RecordBatchReader, a
    :class:`~runstate.data.readers.TableReader`, or an iterable of record batches.

    ``key`` names the column(s) whose duplicates and nulls are counted. ``top_k`` values are
    kept per column (at most 100); ``histogram_bins`` caps the time-coverage bins when a date
    or timestamp column spans more than 400 days (at most 400). ``schema`` is needed only
    for an empty iterable of batches. Columns are profiled on ``threads`` threads (default:
    the CPU count, at most 4).
    """
    import os

    if not 0 <= top_k <= 100:
        raise UsageError(f"top_k must be between 0 and 100, got {top_k}")
    if not 1 <= histogram_bins <= MAX_BINS:
        raise UsageError(f"histogram_bins must be between 1 and {MAX_BINS}, got {histogram_bins}")
    table_schema, batches = _as_batches(data, schema, CHUNK_ROWS)
    key_columns: list[str] | None = [key] if isinstance(key, str) else (list(key) if key else None)
    if key_columns is not None:
        missing = [name for name in key_columns if table_schema.get_field_index(name) < 0]
        if missing:
            raise UsageError(
                f"key column {missing[0]!r} is not in the table (columns:"
                f" {', '.join(table_schema.names)})"
            )
    columns = [_ColumnAccumulator(f, top_k, EXACT_DISTINCT_LIMIT) for f in table_schema]
    keys = _KeyAccumulator(key_columns, table_schema) if key_columns else None
    rows = 0
    workers = threads if threads is not None else min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for chunk in _chunks(batches, table_schema, CHUNK_ROWS, CHUNK_BYTES):
            rows += chunk.num_rows
            jobs = [pool.submit(acc.add, chunk.column(i)) for i, acc in enumerate(columns)]
            if keys is not None:
                jobs.append(pool.submit(keys.add, chunk))
            for job in jobs:
                job.result()
        finished = list(pool.map(lambda acc: acc.finish(histogram_bins), columns))
    key_nulls = key_dups = key_rows = None
    if keys is not None:
        key_nulls, key_dups, key_rows = keys.finish()
    return TableProfile(
        rows=rows,
        columns=tuple(finished),
        key=tuple(key_columns) if key_columns else None,
        key_nulls=key_nulls,
        key_duplicates=key_dups,
        key_duplicate_rows=key_rows,
        key_exact=True,
    )
