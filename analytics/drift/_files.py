"""The files side of drift: two Parquet or CSV files compared column by column (the ``vigil drift`` gate).

The same methods and numbers as a store comparison (:func:`analytics.drift._calculator.compute`):
the same reference profiles (kind, range, spread, fine histogram or category counts) and the same
current counts, computed in a way that suits two files of millions of rows:

- **numerical columns**: each file is checked once (:class:`DataFile`), and a Parquet file's integer
  and float columns (found once, from its schema) are read by pyarrow, one column at a time, as the
  doubles DuckDB would give (:func:`doubles`); other columns (CSV, decimals) in one DuckDB query per
  batch of :data:`FETCH_BYTES` as DOUBLE arrays. Each column's finite values are sorted, on
  :data:`SORT_THREADS` threads side by side (:func:`summarise_sorted`),
  and everything is read off the sorted values: size, range, number of distinct values, spread, and
  the fine histogram, whose bins are runs of the sorted array (:func:`sorted_histogram`: each bin's
  start is looked up by its boundary value and checked on both sides with
  :func:`~analytics.drift._binning.bin_numpy`, the libm formula of DuckDB's
  :func:`~analytics.drift._binning.bin_sql`, so every value gets DuckDB's bin).
  A sort of a million doubles costs a few milliseconds; DuckDB's count per distinct value (the store
  side's way, :func:`~analytics.drift._binning.counted_values_sql`) costs about ten times more on a
  column of amounts whose values are nearly all distinct. A file too large for that
  (:data:`FETCH_BYTES` per column) is counted in DuckDB as the store side does;
- **categorical columns**: a Parquet file's integer column with few distinct values (at most
  :data:`~analytics.drift._methods.AUTO_NUMERIC_UNIQUE` in the reference: a flag, a code, a one-hot column)
  is read and sorted as a numerical one is, and its categories are counted off the sorted values
  (:func:`sorted_counts`: the runs of equal values, written as DuckDB writes an integer), on both sides;
  a Parquet file's text column stored with a dictionary in every row group
  (:attr:`DataFile.dictionary_columns`) is counted on the dictionary's indices by pyarrow
  (:func:`dictionary_counts`: a few milliseconds for a million rows, against about fifteen for
  DuckDB's count per category), then kept and pooled as DuckDB does (:func:`most_frequent`,
  :func:`pooled_counts`). Otherwise the reference's :data:`~analytics.drift._binning.MAX_CATEGORIES` most
  frequent categories are fetched (not all of them), and the current side's categories outside the
  reference and beyond the room left in the table arrive already pooled
  (:func:`pooled_category_counts`). A column whose values are all distinct (an id: checked exactly,
  by sorting the 64-bit hashes of its values, after its first :data:`ID_PROBE_ROWS` rows suggest
  it) skips DuckDB's count per category: every category counts one row, so the most frequent ones
  are the first by name (:func:`id_categories`, :func:`pooled_id_counts`). A million ids never
  reach Python.

``tests/drift/test_files.py`` pins every path to the store side's generic one on the same files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.config import cap_threads
from analytics.drift import _binning as binning
from analytics.drift._binning import FineHistogram, Profile, Side
from analytics.drift._calculator import DriftConfig, compute
from analytics.drift._methods import AUTO_NUMERIC_UNIQUE, CATEGORICAL, NUMERICAL
from analytics.drift._result import DriftResult
from analytics.errors import InvalidInputError
from analytics.input_files import check_csv_header, first_line
from analytics.logschema import quote_any, text_literal
from analytics.timebounds import WHOLE_WINDOW

T = TypeVar("T")

NUMERIC_TYPES = ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT",
                 "UINTEGER", "USMALLINT", "UTINYINT")
#: Suffixes of the text files read as CSV (any other file must be Parquet).
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
#: Bytes of numeric values (8 per value) fetched from a file at once: a file's numerical columns are read
#: in batches of this size; a column larger than this on its own is counted in DuckDB instead.
FETCH_BYTES = 64 * 2**20
#: A categorical column whose first rows hold this many values, all distinct, is checked for being an id.
ID_PROBE_ROWS = 10_000
#: Columns sorted and summarised at once (numpy's sort and array arithmetic release the GIL).
SORT_THREADS = max(1, min(4, os.cpu_count() or 1))
#: An integer column of the current file with up to this many distinct values has its categories counted off
#: its sorted values (:func:`sorted_counts`); one with more (ids) is counted in DuckDB.
SORTED_CATEGORIES = 10_000


@dataclass(frozen=True)
class DataFile:
    """One file of a comparison, checked once where it is made (:meth:`of`): it exists, a Parquet file by its
    suffix (else a CSV file, whose header is checked).

    ``arrow_columns`` (a Parquet file's, read from its schema once): its plain top-level integer and float
    columns, which pyarrow reads as the doubles DuckDB would give (:func:`doubles`) for about half the CPU;
    DuckDB reads the others (decimals, every column of a CSV file).
    """

    path: Path
    parquet: bool

    @classmethod
    def of(cls, path: str | Path) -> DataFile:
        """The file at ``path``, checked (:class:`~analytics.errors.InvalidInputError` when it cannot be compared)."""
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such file")
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return cls(path, True)
        if suffix in CSV_SUFFIXES:
            check_csv_header(path)
            return cls(path, False)
        raise InvalidInputError(f"{path}: use a .parquet or .csv file")

    @property
    def side(self) -> Side:
        """The DuckDB side reading the whole file."""
        literal = text_literal(str(self.path))
        return Side(f"read_parquet({literal})" if self.parquet else f"read_csv({literal}, auto_detect = true)")

    @cached_property
    def metadata(self) -> pq.FileMetaData | None:
        """A Parquet file's metadata (schema, row groups); None for a CSV file or one pyarrow cannot read."""
        if not self.parquet:
            return None
        try:
            return pq.read_metadata(self.path)
        except (pa.ArrowException, OSError):
            return None

    @cached_property
    def arrow_columns(self) -> frozenset[str]:
        """The columns pyarrow reads as doubles (see the class docstring)."""
        return self._plain_columns(lambda t: any(ok(t) for ok in _PYARROW_DOUBLES))

    @cached_property
    def integer_columns(self) -> frozenset[str]:
        """The :attr:`arrow_columns` of an integer type: a value's category (``CAST(v AS VARCHAR)``) is its
        decimal digits, which Python writes as DuckDB does (:func:`sorted_counts`)."""
        return self._plain_columns(pa.types.is_integer)

    @cached_property
    def dictionary_columns(self) -> frozenset[str]:
        """A Parquet file's text columns stored with a dictionary in every row group: their categories are
        counted on the dictionary's indices (:func:`dictionary_counts`), without a string compared per row."""
        metadata = self.metadata
        if metadata is None:
            return frozenset()
        chunks = [[metadata.row_group(g).column(i) for g in range(metadata.num_row_groups)]
                  for i in range(metadata.num_columns)]
        stored = {chunk[0].path_in_schema for chunk in chunks if chunk and all(c.has_dictionary_page for c in chunk)}
        text = self._plain_columns(lambda t: pa.types.is_string(t) or pa.types.is_large_string(t))
        return frozenset(text & stored)

    def _plain_columns(self, accepts: Callable[[pa.DataType], bool]) -> frozenset[str]:
        """The file's top-level columns, of a name no other column has, whose Arrow type ``accepts``."""
        if self.metadata is None:
            return frozenset()
        schema = self.metadata.schema.to_arrow_schema()
        return frozenset(name for name in schema.names if "." not in name and schema.names.count(name) == 1
                         and accepts(schema.field(name).type))


def file_relation(path: str | Path) -> str:
    """The DuckDB relation reading a Parquet or CSV file (SQL with the path as a literal)."""
    return DataFile.of(path).side.relation


# --------------------------------------------------------------------------------------------------
# Numerical columns: sorted values


#: Parquet column types whose values pyarrow turns into doubles exactly as DuckDB's ``::DOUBLE`` does
#: (integers round to the nearest double, floats widen exactly); others (decimals) are read by DuckDB.
_PYARROW_DOUBLES = (pa.types.is_integer, lambda t: pa.types.is_float32(t) or pa.types.is_float64(t))


def summarise_sorted(con: duckdb.DuckDBPyConnection, file: DataFile, columns: list[str], rows: int,
                     summarise: Callable[[str, np.ndarray], T]) -> dict[str, T]:
    """``summarise(column, values)`` of each column, ``values`` its finite values as DOUBLE, sorted (NULL, NaN
    and infinities dropped: they are missing values).

    :data:`SORT_THREADS` columns at a time, each read, sorted and summarised on a thread of its own (pyarrow's
    decoding, numpy's sort and array arithmetic release the GIL): the file's :attr:`~DataFile.arrow_columns`
    one by one by pyarrow (:func:`doubles`), the others by DuckDB in one query per batch of :data:`FETCH_BYTES`.
    """
    by_arrow = [c for c in columns if c in file.arrow_columns]
    by_duckdb = [c for c in columns if c not in file.arrow_columns]
    out: dict[str, T] = {}
    with ThreadPoolExecutor(SORT_THREADS) as pool:
        out.update(zip(by_arrow, pool.map(lambda c: summarise(c, finite_sorted(arrow_doubles(file, c))), by_arrow)))
        per_batch = max(1, FETCH_BYTES // max(8 * rows, 1))
        for start in range(0, len(by_duckdb), per_batch):
            batch = by_duckdb[start:start + per_batch]
            arrays = duckdb_doubles(con, file.side, batch)
            out.update(zip(batch, pool.map(lambda c: summarise(c, finite_sorted(arrays.pop(c))), batch)))
    return {c: out[c] for c in columns}


def duckdb_doubles(con: duckdb.DuckDBPyConnection, side: Side, columns: list[str]) -> dict[str, np.ndarray]:
    """Each column's values as doubles, NULL as NaN (``coalesce(c::DOUBLE, 'NaN')``), in one query."""
    picked = ", ".join(f"coalesce({quote_any(c)}::DOUBLE, 'NaN'::DOUBLE) AS c{i}" for i, c in enumerate(columns))
    arrays = con.execute(f"SELECT {picked} {side.source}", list(side.params)).fetchnumpy()
    return {c: np.asarray(arrays.pop(f"c{i}"), dtype=np.float64) for i, c in enumerate(columns)}


def arrow_doubles(file: DataFile, column: str) -> np.ndarray:
    """A Parquet file's integer or float ``column`` read by pyarrow, as :func:`doubles` (a reader of its own, so
    that threads may read columns side by side; the file's metadata read once)."""
    return doubles(_reader(file).read(columns=[column], use_threads=False).column(0))


def _reader(file: DataFile, **options) -> pq.ParquetFile:
    """A reader of a Parquet file on its metadata already read (:attr:`DataFile.metadata`), memory-mapped: the
    column's pages are decompressed straight from the mapped file, without a copy into a read buffer first
    (about a twelfth less CPU reading a column of a million doubles)."""
    return pq.ParquetFile(file.path, metadata=file.metadata, memory_map=True, **options)


def doubles(column: pa.ChunkedArray) -> np.ndarray:
    """A column's values as an array of doubles, NULL as NaN: DuckDB's ``coalesce(c::DOUBLE, 'NaN')`` (integers
    rounded to the nearest double, floats widened; a column of doubles without NULL as pyarrow holds it).

    Each chunk is read off its buffers (:func:`_chunk_doubles`): pyarrow's own conversion of a column of
    several chunks, or with NULL, imports pandas (and ``pyarrow.compute``), a third of a second of the gate's
    start."""
    chunks = [_chunk_doubles(chunk) for chunk in column.chunks]
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks) if chunks else np.zeros(0)


def _chunk_doubles(chunk: pa.Array) -> np.ndarray:
    """An integer or float array's values as a new array of doubles (numpy's cast: to the nearest double),
    NULL as NaN."""
    values, valid = _buffers(chunk)
    out = values.astype(np.float64)
    if valid is not None:
        out[~valid] = math.nan
    return out


def _buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """An integer or float array's values, read-only, as numpy reads its data buffer (a NULL's slot holds any
    value), and which are not NULL (None: none is)."""
    kind = "f" if pa.types.is_floating(chunk.type) else "i" if pa.types.is_signed_integer(chunk.type) else "u"
    dtype = np.dtype(f"{kind}{chunk.type.bit_width // 8}")
    end = chunk.offset + len(chunk)
    validity, data = chunk.buffers()[:2]
    if data is None:  # an empty chunk
        return np.zeros(0, dtype), None
    values = np.frombuffer(data, dtype, count=end)[chunk.offset:]
    if validity is None or not chunk.null_count:
        return values, None
    return values, np.unpackbits(np.frombuffer(validity, np.uint8), count=end, bitorder="little")[chunk.offset:] == 1


def finite_sorted(values: np.ndarray) -> np.ndarray:
    """The finite values of an array of doubles, sorted (in place when the array is writable)."""
    if values.flags.writeable:
        values.sort()  # -inf first, then the finite values, +inf, NaN last
    else:
        values = np.sort(values)
    return values[np.searchsorted(values, -np.inf, side="right"):np.searchsorted(values, np.inf, side="left")]


def _bin_starts(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Where each fine bin starts in the sorted ``values``: ``FINE_BINS + 3`` indices, the starts of
    bins -1 (below ``lo``), 0, ..., ``FINE_BINS`` (above ``hi``) and the end.

    Bin ``k``'s start is first guessed from its boundary value, then checked with :func:`bin_numpy`
    (the value there is in bin ``k`` or above, the one before it below ``k``): the bins grow with the
    values, so the check settles it. A guess that fails (the boundary's value rounded across a value
    of the data) is replaced by the start of the least double in bin ``k``
    (:func:`~analytics.drift._binning.exact_edges`).
    """
    below = int(np.searchsorted(values, lo, side="left"))
    above = int(np.searchsorted(values, hi, side="right"))
    inner = values[below:above]
    wanted = np.arange(1, binning.FINE_BINS)
    at = np.searchsorted(inner, binning.boundary_values(lo, hi, wanted), side="left")
    if len(inner):
        last = len(inner) - 1
        here = binning.bin_numpy(inner[np.minimum(at, last)], lo, hi)
        before = binning.bin_numpy(inner[np.maximum(at - 1, 0)], lo, hi)
        settled = ((at > last) | (here >= wanted)) & ((at == 0) | (before < wanted))
        if not settled.all():
            exact = np.searchsorted(inner, binning.exact_edges(lo, hi)[1:-1], side="left")
            at = np.where(settled, at, exact)
    return np.concatenate([[0, below], below + at, [above, len(values)]])


def sorted_histogram(values: np.ndarray, lo: float, hi: float) -> FineHistogram:
    """The fine histogram on the bins of ``[lo, hi]`` of sorted finite ``values``: every bin's count,
    sum, minimum and maximum, the bins :func:`~analytics.drift._binning.bin_sql` gives each value."""
    starts = _bin_starts(values, lo, hi)
    counts = np.diff(starts)
    kept = np.flatnonzero(counts)
    if not len(kept):
        return FineHistogram()
    first = starts[kept]
    return FineHistogram(bins=(kept - 1).astype(np.int64), n=counts[kept].astype(np.int64),
                         total=np.add.reduceat(values, first), vmin=values[first],
                         vmax=values[starts[kept + 1] - 1])


def sorted_profile(column: str, values: np.ndarray, rows: int) -> Profile | None:
    """:func:`analytics.drift._binning.profile_numeric` read off a column's sorted finite values
    (``rows``: the side's rows, missing values included); None when it is categorical."""
    distinct = int(np.count_nonzero(values[1:] != values[:-1])) + 1 if len(values) else 0
    if distinct <= AUTO_NUMERIC_UNIQUE:
        return None
    lo, hi, count = float(values[0]), float(values[-1]), len(values)
    deviations = values - float(values.sum()) / count
    std = math.sqrt(float(np.square(deviations, out=deviations).sum()) / count)
    hist = sorted_histogram(values, lo, hi)
    return Profile(column, NUMERICAL, True, count, rows - count, std, lo, hi, hist, binning.coarse_edges(hist),
                   integral=_integral(values))


def _integral(values: np.ndarray) -> bool:
    """Every value is a whole number (its first thousand values first: amounts fail there)."""
    return bool(np.all(values[:1000] == np.floor(values[:1000])) and np.all(values == np.floor(values)))


def sorted_counts(values: np.ndarray, limit: int = SORTED_CATEGORIES) -> dict[str, int] | None:
    """The rows of each category of an integer column, read off its sorted finite values (as doubles, from
    :func:`doubles`): DuckDB's counts of ``CAST(v AS VARCHAR)`` (:func:`top_categories`), since Python writes
    an integer's digits as DuckDB does. None (count in DuckDB) beyond ``limit`` distinct values, or when a
    value lies beyond 2**53, where a double no longer holds every integer."""
    if len(values) and max(-values[0], values[-1]) > 2.0**53:
        return None
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if len(values) else np.zeros(0, np.int64)
    if len(starts) > limit:
        return None
    rows = np.diff(np.r_[starts, len(values)])
    return {str(int(v)): n for v, n in zip(values[starts].tolist(), rows.tolist())}


def reference_profile(column: str, values: np.ndarray, rows: int, integer: bool) -> Profile | None:
    """:func:`sorted_profile` of a column's sorted finite values; an ``integer`` column with few distinct values
    is categorical, and its categories are counted here too (:func:`sorted_counts`). None: a categorical
    column left to DuckDB."""
    profile = sorted_profile(column, values, rows)
    counted = sorted_counts(values) if profile is None and integer else None
    if counted is None:
        return profile
    kept = most_frequent(counted)
    return Profile(column, CATEGORICAL, True, len(values), rows - len(values), math.nan,
                   categories=tuple(kept), counts=tuple(kept.values()))


# --------------------------------------------------------------------------------------------------
# Categorical columns


def _smallest(limit: int) -> str:
    """SQL aggregate: the ``limit`` categories with the most rows (ties by name), as a list of ``{c, n}``."""
    if limit <= 0:
        return "[]"
    return f"min_by({{'c': category, 'n': n}}, {{'k': -n, 'c': category}}, {int(limit)})"


def _texts(values: tuple[str, ...]) -> str:
    """A SQL list of texts, written out: a file's queries take no parameter (DuckDB's conversion of one
    imports pandas, see :func:`~analytics.logschema.text_literal`)."""
    return f"[{', '.join(map(text_literal, values))}]::VARCHAR[]"


def top_categories(con: duckdb.DuckDBPyConnection, side: Side, column: str, numeric: bool,
                   limit: int = binning.MAX_CATEGORIES) -> tuple[dict[str, int], int]:
    """The ``limit`` most frequent categories of ``column`` (ties by name) and the count of all present values."""
    counted = binning.categories_sql(side.period, column, numeric, side.source)
    top, present = con.execute(f"SELECT {_smallest(limit)}, sum(n) FROM ({counted})", list(side.params)).fetchone()
    kept = sorted(((d["c"], int(d["n"])) for d in top or ()), key=lambda cn: (-cn[1], cn[0]))
    return dict(kept), int(present or 0)


def pooled_category_counts(con: duckdb.DuckDBPyConnection, side: Side, column: str, numeric: bool,
                           known: tuple[str, ...], room: int) -> dict[str | None, int]:
    """Counts of the ``known`` categories and of the ``room`` most frequent others (ties by name); the rest
    summed under the key None (they are pooled as ``(other)``, see ``_categorical_labels``)."""
    if room <= 0:  # no room for unseen categories: count the known ones, not every category (an id-like column)
        return _known_category_counts(con, side, column, numeric, known)
    counted = binning.categories_sql(side.period, column, numeric, side.source)
    sql = (f"SELECT list({{'c': category, 'n': n}}) FILTER (WHERE known), {_smallest(room)} FILTER (WHERE NOT known), "
           f"sum(n) FILTER (WHERE NOT known) FROM (SELECT *, list_contains({_texts(known)}, category) AS known "
           f"FROM ({counted}))")
    known_counts, top, others = con.execute(sql, list(side.params)).fetchone()
    out: dict[str | None, int] = {d["c"]: int(d["n"]) for d in (*(known_counts or ()), *(top or ()))}
    rest = int(others or 0) - sum(int(d["n"]) for d in top or ())
    if rest:
        out[None] = rest
    return out


def _known_category_counts(con: duckdb.DuckDBPyConnection, side: Side, column: str, numeric: bool,
                           known: tuple[str, ...]) -> dict[str | None, int]:
    """:func:`pooled_category_counts` with no room for unseen categories: the ``known`` categories' counts and
    every other present value under None, in one pass without a count per category (a semi-join with ``known``)."""
    present = "isfinite(v::DOUBLE)" if numeric else "v IS NOT NULL"
    sql = (f"SELECT histogram(category) FILTER (WHERE category IN (SELECT unnest({_texts(known)}))), count(*) FROM "
           f"(SELECT CAST(v AS VARCHAR) AS category FROM (SELECT {quote_any(column)} AS v {side.source}) WHERE {present})")
    counts, total = con.execute(sql, list(side.params)).fetchone()
    out: dict[str | None, int] = {c: int(n) for c, n in (counts or {}).items()}
    rest = int(total) - sum(out.values())
    if rest:
        out[None] = rest
    return out


def dictionary_counts(file: DataFile, column: str) -> dict[str, int]:
    """The rows of each category of one of the file's :attr:`~DataFile.dictionary_columns` (NULL left out),
    counted on each row group's dictionary indices: DuckDB's counts (:func:`top_categories`) of a text column."""
    table = _reader(file, read_dictionary=[column]).read(columns=[column], use_threads=False)
    counts: dict[str, int] = {}
    for chunk in table.column(0).chunks:
        indices, valid = _buffers(chunk.indices)
        rows = np.bincount(indices if valid is None else indices[valid], minlength=len(chunk.dictionary))
        for category, n in zip(chunk.dictionary.to_pylist(), rows.tolist()):
            if n and category is not None:
                counts[category] = counts.get(category, 0) + n
    return counts


def most_frequent(counts: dict[str, int], limit: int = binning.MAX_CATEGORIES) -> dict[str, int]:
    """The ``limit`` most frequent of counted categories (ties by name), as :func:`top_categories` keeps them."""
    return dict(sorted(counts.items(), key=lambda cn: (-cn[1], cn[0]))[:max(limit, 0)])


def pooled_counts(counts: dict[str, int], known: tuple[str, ...], room: int) -> dict[str | None, int]:
    """Counted categories as :func:`pooled_category_counts` pools them: the ``known`` ones, the ``room`` most
    frequent others, and the rest summed under None."""
    seen = set(known)
    others = {c: n for c, n in counts.items() if c not in seen}
    out: dict[str | None, int] = {c: counts[c] for c in known if c in counts}
    top = most_frequent(others, room)
    out.update(top)
    rest = sum(others.values()) - sum(top.values())
    if rest:
        out[None] = rest
    return out


def id_columns(con: duckdb.DuckDBPyConnection, side: Side, columns: list[str]) -> dict[str, int]:
    """The columns whose present values are all distinct (ids), each with its count of present values.

    Only a column whose first :data:`ID_PROBE_ROWS` rows hold more than
    :data:`~analytics.drift._binning.MAX_CATEGORIES` values, all distinct, is checked; the check is
    exact: the 64-bit hashes of its values (as text) are sorted and none repeats (equal values
    share a hash; a hash shared by two different values sends the column the usual way).
    """
    if not columns:
        return {}
    probe = ", ".join(f"count(DISTINCT c{i}), count(c{i})" for i in range(len(columns)))
    picked = ", ".join(f"{quote_any(c)} AS c{i}" for i, c in enumerate(columns))
    counts = con.execute(f"SELECT {probe} FROM (SELECT {picked} {side.source} LIMIT {ID_PROBE_ROWS})",
                         list(side.params)).fetchone()
    out: dict[str, int] = {}
    for i, column in enumerate(columns):
        distinct, present = counts[2 * i], counts[2 * i + 1]
        if present <= binning.MAX_CATEGORIES or distinct < present:
            continue
        text = f"CAST({quote_any(column)} AS VARCHAR)"
        hashes = con.execute(f"SELECT hash({text}) AS h {side.source} AND {text} IS NOT NULL",
                             list(side.params)).fetchnumpy()["h"]
        hashes = np.sort(np.asarray(hashes))
        if not np.any(hashes[1:] == hashes[:-1]):
            out[column] = len(hashes)
    return out


def id_categories(con: duckdb.DuckDBPyConnection, side: Side, column: str, present: int,
                  limit: int = binning.MAX_CATEGORIES) -> dict[str, int]:
    """:func:`top_categories` of an id column (every value distinct): the first ``limit`` values by name."""
    text = f"CAST({quote_any(column)} AS VARCHAR)"
    first = con.execute(f"SELECT min({text}, {int(limit)}) {side.source}", list(side.params)).fetchone()[0]
    return {c: 1 for c in first or ()} if present else {}


def pooled_id_counts(con: duckdb.DuckDBPyConnection, side: Side, column: str, present: int,
                     known: tuple[str, ...], room: int) -> dict[str | None, int]:
    """:func:`pooled_category_counts` of an id column (every value distinct): the ``known`` values present,
    the first ``room`` others by name, and the count of the rest under None."""
    text = f"CAST({quote_any(column)} AS VARCHAR)"
    first = f"min({text}, {int(room + len(known))})"
    seen = {c for (c,) in con.execute(f"SELECT {text} {side.source} AND {text} IN (SELECT unnest({_texts(known)}))",
                                       list(side.params)).fetchall()}
    smallest = con.execute(f"SELECT {first} {side.source}", list(side.params)).fetchone()[0] if room > 0 else []
    others = [c for c in smallest or () if c not in seen][:max(room, 0)]
    out: dict[str | None, int] = {c: 1 for c in (*sorted(seen), *others)}
    rest = present - len(out)
    if rest:
        out[None] = rest
    return out


# --------------------------------------------------------------------------------------------------
# The two sides


def _in_memory(rows: int) -> bool:
    """A file's numerical columns are read off sorted values (else counted in DuckDB, as the store side does)."""
    return 8 * rows <= FETCH_BYTES


def profile_file(con: duckdb.DuckDBPyConnection, file: DataFile, columns: list[tuple[str, bool]],
                 rows: int) -> dict[str, Profile]:
    """:func:`analytics.drift._binning.profile_reference` of a file of ``rows`` rows, its categories cut to the
    most frequent."""
    side = file.side
    numeric = [c for c, is_numeric in columns if is_numeric]
    if _in_memory(rows):
        integers = file.integer_columns
        profiled = summarise_sorted(con, file, numeric, rows,
                                    lambda c, values: reference_profile(c, values, rows, c in integers))
    else:
        profiled = {c: binning.profile_numeric(con, side, c, rows) for c in numeric}
    out: dict[str, Profile] = {c: profile for c, profile in profiled.items() if profile is not None}
    categorical = [(c, is_numeric) for c, is_numeric in columns if c not in out]
    ids = id_columns(con, side, [c for c, is_numeric in categorical
                                 if not is_numeric and c not in file.dictionary_columns])
    for c, is_numeric in categorical:
        if c in file.dictionary_columns:
            counted = dictionary_counts(file, c)
            kept, present = most_frequent(counted), sum(counted.values())
        elif c in ids:
            kept, present = id_categories(con, side, c, ids[c]), ids[c]
        else:
            kept, present = top_categories(con, side, c, is_numeric)
        out[c] = Profile(c, CATEGORICAL, is_numeric, present, rows - present, math.nan,
                         categories=tuple(kept), counts=tuple(kept.values()))
    return out


@dataclass(frozen=True)
class FileCounts:
    """The current file's counts, computed up front: fine histograms on the reference's bins, and
    category counts pooled in DuckDB (see :func:`read_current`)."""

    n_rows: int
    histograms: dict[str, FineHistogram] = field(default_factory=dict)
    category_counts: dict[str, dict[str | None, int]] = field(default_factory=dict)

    def rows(self) -> dict[object, int]:
        return {WHOLE_WINDOW: self.n_rows}

    def numeric(self, column: str, lo: float, hi: float) -> dict[object, FineHistogram]:
        hist = self.histograms[column]
        return {WHOLE_WINDOW: hist} if hist.count else {}

    def categories(self, column: str, numeric: bool) -> dict[object, dict[str | None, int]]:
        counts = self.category_counts[column]
        return {WHOLE_WINDOW: counts} if counts else {}


def read_current(con: duckdb.DuckDBPyConnection, file: DataFile, columns: list[tuple[str, bool]],
                 profiles: dict[str, Profile], rows: int) -> FileCounts:
    """The current file's counts of ``columns`` (name, numeric) on the reference's ``profiles`` (``rows``: the
    file's rows)."""
    side = file.side
    numerical = [c for c, _ in columns if profiles[c].kind != CATEGORICAL]
    categorical = [(c, is_numeric) for c, is_numeric in columns if profiles[c].kind == CATEGORICAL]
    counted: dict[str, dict[str, int] | None] = {}
    if _in_memory(rows):
        integers = [c for c, is_numeric in categorical if is_numeric and c in file.integer_columns]
        summaries = summarise_sorted(con, file, [*numerical, *integers], rows, lambda c, values: (
            sorted_counts(values) if profiles[c].kind == CATEGORICAL
            else sorted_histogram(values, profiles[c].lo, profiles[c].hi)))
        hists = {c: summaries[c] for c in numerical}
        counted = {c: summaries[c] for c in integers}
    else:
        hists = {c: binning.fine_histograms(con, side, c, profiles[c].lo, profiles[c].hi).get(
            WHOLE_WINDOW, FineHistogram()) for c in numerical}
    ids = id_columns(con, side, [c for c, is_numeric in categorical
                                 if not is_numeric and c not in file.dictionary_columns])
    counts: dict[str, dict[str | None, int]] = {}
    for c, is_numeric in categorical:
        known = profiles[c].categories
        room = max(binning.MAX_CATEGORIES - len(known), 0)
        if counted.get(c) is not None:
            counts[c] = pooled_counts(counted[c], known, room)
        elif c in file.dictionary_columns:
            counts[c] = pooled_counts(dictionary_counts(file, c), known, room)
        elif c in ids:
            counts[c] = pooled_id_counts(con, side, c, ids[c], known, room)
        else:
            counts[c] = pooled_category_counts(con, side, c, is_numeric, known, room)
    return FileCounts(rows, hists, counts)


def compare_files(reference: str | Path, current: str | Path, *, columns: list[str] | None = None,
                  config: DriftConfig | None = None, histograms: bool = True) -> DriftResult:
    """Drift of every shared column (or of ``columns``) between two Parquet or CSV files.

    ``histograms``: also return each column's bins (:attr:`DriftResult.histograms`; the command line's
    verdicts need none).

    Runs in a private in-memory DuckDB; the files are read by DuckDB (a Parquet file's numerical
    columns and text columns stored with a dictionary by pyarrow, a column at a time), never into
    pandas; each other categorical column in one aggregate. See the module docstring.
    """
    config = config or DriftConfig()
    ref_file, cur_file = DataFile.of(reference), DataFile.of(current)
    con = cap_threads(duckdb.connect())
    con.execute("SET enable_progress_bar = false")  # stdout carries the JSON of the CI gate
    # Every count here is order-free (values are sorted, categories counted or sorted by name): DuckDB
    # may hand the rows over as its threads finish them (about a tenth less CPU fetching the numbers).
    con.execute("SET preserve_insertion_order = false")
    try:
        ref_side, cur_side = ref_file.side, cur_file.side
        try:
            ref_types, cur_types = (dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                                     f"{side.relation})").fetchall()) for side in (ref_side, cur_side))
        except duckdb.Error as exc:
            raise InvalidInputError(f"cannot read the files: {first_line(exc)}") from None
        shared = [c for c in ref_types if c in cur_types]
        if columns:
            missing = [c for c in columns if c not in shared]
            if missing:
                raise InvalidInputError(f"columns not in both files: {', '.join(missing)}; shared: {', '.join(shared)}")
            shared = list(columns)
        if not shared:
            raise InvalidInputError("the two files share no column")
        spec = [(c, ref_types[c].split("(")[0] in NUMERIC_TYPES or ref_types[c].startswith("DECIMAL"), "column")
                for c in shared]
        wanted = [(c, numeric) for c, numeric, _ in spec]
        n_ref, n_cur = (binning.row_counts(con, side).get(WHOLE_WINDOW, 0) for side in (ref_side, cur_side))
        profiles = profile_file(con, ref_file, wanted, n_ref)
        done = compute(con, spec, config, ref_side, read_current(con, cur_file, wanted, profiles, n_cur),
                       histograms=histograms, profiles=profiles)
    finally:
        con.close()
    return DriftResult(done.rows, done.histograms, str(reference), str(current), n_ref, done.n_current)
