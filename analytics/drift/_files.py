"""The files side of drift: two Parquet or CSV files compared column by column (the ``vigil drift`` gate).

The same methods and numbers as a store comparison (:func:`analytics.drift._calculator.compute`),
with two differences in how the files are read, both for speed on wide files of millions of rows:

- every column is read once per file: a numerical column by one aggregate that counts its rows per
  distinct value (:func:`analytics.drift._binning.counted_values_sql`), a categorical column by one
  aggregate that counts its categories;
- a categorical column keeps in DuckDB what a comparison never shows: the reference's
  :data:`~analytics.drift._binning.MAX_CATEGORIES` most frequent categories are fetched (not all of
  them), and the current side's categories outside the reference and beyond the room left in the
  table arrive already pooled (:func:`pooled_category_counts`). A free-text or id column of a
  million distinct values no longer reaches Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb

from analytics.drift import _binning as binning
from analytics.drift._binning import FineHistogram, Profile, Side
from analytics.drift._calculator import DriftConfig, LogCounts, compute
from analytics.drift._methods import CATEGORICAL
from analytics.drift._result import DriftResult
from analytics.errors import InvalidInputError
from analytics.input_files import check_csv_header, first_line
from analytics.timebounds import WHOLE_WINDOW

NUMERIC_TYPES = ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT",
                 "UINTEGER", "USMALLINT", "UTINYINT")


def file_relation(path: str | Path) -> str:
    """The DuckDB relation reading a Parquet or CSV file (SQL with the path as a literal)."""
    suffix = Path(path).suffix.lower()
    literal = "'" + str(path).replace("'", "''") + "'"
    if suffix == ".parquet":
        return f"read_parquet({literal})"
    if suffix in (".csv", ".tsv", ".txt"):
        return f"read_csv({literal}, auto_detect = true)"
    raise InvalidInputError(f"{path}: use a .parquet or .csv file")


def _smallest(limit: int) -> str:
    """SQL aggregate: the ``limit`` categories with the most rows (ties by name), as a list of ``{c, n}``."""
    if limit <= 0:
        return "[]"
    return f"min_by({{'c': category, 'n': n}}, {{'k': -n, 'c': category}}, {int(limit)})"


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
    counted = binning.categories_sql(side.period, column, numeric, side.source)
    sql = (f"SELECT list({{'c': category, 'n': n}}) FILTER (WHERE known), {_smallest(room)} FILTER (WHERE NOT known), "
           f"sum(n) FILTER (WHERE NOT known) FROM (SELECT *, list_contains(?::VARCHAR[], category) AS known "
           f"FROM ({counted}))")
    if room <= 0:
        sql = sql.replace("[] FILTER (WHERE NOT known)", "[]")
    known_counts, top, others = con.execute(sql, [*side.params, list(known)]).fetchone()
    out: dict[str | None, int] = {d["c"]: int(d["n"]) for d in (*(known_counts or ()), *(top or ()))}
    rest = int(others or 0) - sum(int(d["n"]) for d in top or ())
    if rest:
        out[None] = rest
    return out


def profile_file(con: duckdb.DuckDBPyConnection, side: Side, columns: list[tuple[str, bool]]) -> dict[str, Profile]:
    """:func:`analytics.drift._binning.profile_reference` of a file, its categories cut to the most frequent."""
    rows = binning.row_counts(con, side).get(WHOLE_WINDOW, 0)
    out: dict[str, Profile] = {}
    for c, is_numeric in columns:
        numerical = binning.profile_numeric(con, side, c, rows) if is_numeric else None
        if numerical is not None:
            out[c] = numerical
            continue
        kept, present = top_categories(con, side, c, is_numeric)
        out[c] = Profile(c, CATEGORICAL, is_numeric, present, rows - present, math.nan,
                         categories=tuple(kept), counts=tuple(kept.values()))
    return out


@dataclass(frozen=True)
class FileCounts:
    """The current file's counts: fine histograms as a store side's, categories pooled in DuckDB."""

    con: duckdb.DuckDBPyConnection
    side: Side
    profiles: dict[str, Profile]

    def rows(self) -> dict[object, int]:
        return binning.row_counts(self.con, self.side)

    def numeric(self, column: str, lo: float, hi: float) -> dict[object, FineHistogram]:
        return LogCounts(self.con, self.side).numeric(column, lo, hi)

    def categories(self, column: str, numeric: bool) -> dict[object, dict[str | None, int]]:
        known = self.profiles[column].categories
        room = max(binning.MAX_CATEGORIES - len(known), 0)
        counts = pooled_category_counts(self.con, self.side, column, numeric, known, room)
        return {WHOLE_WINDOW: counts} if counts else {}


def compare_files(reference: str | Path, current: str | Path, *, columns: list[str] | None = None,
                  config: DriftConfig | None = None) -> DriftResult:
    """Drift of every shared column (or of ``columns``) between two Parquet or CSV files.

    Runs in a private in-memory DuckDB; the files are read by DuckDB (only the aggregates reach
    Python), never into pandas; each column once per file.
    """
    config = config or DriftConfig()
    for path in (reference, current):
        if not Path(path).is_file():
            raise InvalidInputError(f"{path}: no such file")
        if Path(path).suffix.lower() != ".parquet":
            check_csv_header(Path(path))
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # stdout carries the JSON of the CI gate
    try:
        ref_side, cur_side = Side(file_relation(reference)), Side(file_relation(current))
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
        profiles = profile_file(con, ref_side, [(c, numeric) for c, numeric, _ in spec])
        done = compute(con, spec, config, ref_side, FileCounts(con, cur_side, profiles), profiles=profiles)
        n_ref = binning.row_counts(con, ref_side).get(WHOLE_WINDOW, 0)
    finally:
        con.close()
    return DriftResult(done.table, done.histograms, str(reference), str(current), n_ref, done.n_current)
