"""Daily drift rollups: each version's fine histograms and category counts per UTC day, kept in the store.

A drift summary of 30 days of a 10M-row log would read ~1.3M rows on every call; the rollups make
it read ~30 days x 27 columns x a few hundred bins instead, whatever the traffic. The summaries of
:mod:`analytics.drift._binning` are additive, so a window of whole UTC days is the sum of its days,
and the answer is the one the direct query gives (counts and minima exactly; sums up to
floating-point order).

Bookkeeping: the prediction log is a set of immutable Parquet segments (``log_segments``); a
segment, once rolled up for a version, is recorded in ``drift_rollup_segments`` with the key of the
bins it was rolled on (:func:`bins_key`: the version's reference ranges and the binning itself).
Before a window is read, the segments overlapping it that are not yet rolled are summarised (one
aggregate per column over those files only) and merged into ``drift_rollup`` in one short write
transaction; a new ingest therefore costs one pass over its own rows, once. If the key changes (a
new binning), the version's rollups are dropped and rebuilt. Rows of ``drift_rollup``: one per
(version, day, column, fine bin or category), plus one per day with ``column_name = '*'`` counting
the rows.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from analytics.drift import _binning as binning
from analytics.drift._binning import FineHistogram, Profile
from analytics.drift._methods import CATEGORICAL
from analytics.store import store_path
from analytics.timebounds import period_sql

ROWS = "*"
#: Changes whenever the binning changes meaning (then every rollup is rebuilt).
BINNING = f"asinh-{binning.FINE_BINS}-1"
#: The columns of a rollup frame (what :func:`summarise_segments` and another engine's summariser return).
ROLLUP_COLUMNS = _COLUMNS = ("model_name", "model_version", "day", "column_name", "bin", "category", "n", "total", "vmin", "vmax")


def bins_key(profiles: dict[str, Profile]) -> str:
    """What the rolled bins depend on: the binning and every column's kind and reference range."""
    spec = [BINNING, *sorted((c, p.kind, repr(p.lo), repr(p.hi)) for c, p in profiles.items())]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


def _segments(con: duckdb.DuckDBPyConnection, model: str, start: datetime | None,
              end: datetime | None) -> pd.DataFrame:
    """The model's committed segments that may hold rows of ``[start, end)``."""
    return con.execute(
        "SELECT ingest_id, part, path FROM log_segments WHERE model_name = ? AND (? IS NULL OR max_predicted_at >= ?) "
        "AND (? IS NULL OR min_predicted_at < ?) ORDER BY ingest_id, part",
        [model, start, start, end, end]).df()


def missing_segments(con: duckdb.DuckDBPyConnection, model: str, version: str, key: str, start: datetime | None,
                     end: datetime | None, *, rebuild: bool = False) -> tuple[pd.DataFrame, bool]:
    """Segments overlapping the window not yet rolled for ``version`` on ``key``; and whether rollups are stale
    (always with ``rebuild``: every segment is rolled again)."""
    stale = rebuild or bool(con.execute("SELECT count(*) FROM drift_rollup_segments WHERE model_name = ? AND model_version = ? "
                             "AND bins_key <> ?", [model, version, key]).fetchone()[0])
    segments = _segments(con, model, None if stale else start, None if stale else end)
    done = set() if stale else set(con.execute(
        "SELECT ingest_id, part FROM drift_rollup_segments WHERE model_name = ? AND model_version = ?",
        [model, version]).fetchall())
    keep = [(int(i), int(p)) not in done for i, p in zip(segments["ingest_id"], segments["part"])]
    return segments[keep].reset_index(drop=True), stale


@dataclass(frozen=True)
class RollupColumn:
    """What another engine needs to roll up one column exactly as :func:`summarise_segments` does.

    Attributes
    ----------
    name : str
        The log's column.
    categorical : bool
        Counted per category (``CAST(value AS VARCHAR)``) rather than binned.
    numeric : bool
        A numeric column (a categorical numeric column counts finite values only).
    lo, hi : float
        The reference's range (numerical columns; NaN otherwise).
    edges : tuple of float
        The literal left edges of the inner fine bins (:func:`analytics.drift._binning.exact_edges`;
        empty for a categorical column): a value ``v`` in ``[lo, hi]`` is in bin ``k`` when
        ``edges[k] <= v < edges[k + 1]``; below ``lo`` is bin -1, above ``hi`` bin ``FINE_BINS``.
    scale, origin, per_unit : float
        The bins' axis (NaN for a categorical column): bin ``k`` is about
        ``floor((asinh(v / scale) - origin) * per_unit)``, which any engine's ``asinh`` gets right
        to within one bin; the edges then settle it exactly.
    """

    name: str
    categorical: bool
    numeric: bool
    lo: float
    hi: float
    edges: tuple[float, ...] = ()
    scale: float = math.nan
    origin: float = math.nan
    per_unit: float = math.nan


#: Another engine's rollup of some segments: ``(model, version, absolute paths, columns) -> frame of ROLLUP_COLUMNS``.
Summariser = Callable[[str, str, list[str], tuple[RollupColumn, ...]], pd.DataFrame]


def rollup_columns(profiles: dict[str, Profile]) -> tuple[RollupColumn, ...]:
    """The columns a rollup summarises, with their literal bin edges."""
    return tuple(_rollup_column(c, p) for c, p in profiles.items())


def _rollup_column(column: str, profile: Profile) -> RollupColumn:
    if profile.kind == CATEGORICAL:
        return RollupColumn(column, True, profile.numeric, profile.lo, profile.hi)
    edges = tuple(map(float, binning.exact_edges(profile.lo, profile.hi)))
    return RollupColumn(column, False, True, profile.lo, profile.hi, edges, *binning.bin_axis(profile.lo, profile.hi))


def segment_files(con: duckdb.DuckDBPyConnection, paths) -> list[str]:
    """The absolute paths of segment files given relative to the store's folder."""
    root = store_path(con).parent
    return [str(root / p) for p in paths]


def summarise_segments(con: duckdb.DuckDBPyConnection, model: str, version: str, paths: list[str],
                       profiles: dict[str, Profile]) -> pd.DataFrame:
    """The rollup rows of ``version``'s rows in the given segment files (relative to the store's folder).

    The same aggregates as :func:`analytics.drift._binning.fine_histograms` and
    :func:`~analytics.drift._binning.category_counts`, grouped by UTC day and fetched as frames.
    """
    root = store_path(con).parent
    files = "[" + ", ".join("'" + str(root / p).replace("'", "''") + "'" for p in paths) + "]"
    source = f"FROM read_parquet({files}) WHERE model_version = ?"
    day = "CAST(predicted_at AS DATE)"
    frames = [con.execute(f"SELECT {day} AS day, '{ROWS}' AS column_name, count(*) AS n {source} GROUP BY ALL",
                          [version]).df()]
    for column, prof in profiles.items():
        name = column.replace("'", "''")
        if prof.kind == CATEGORICAL:
            sql = (f"SELECT p AS day, '{name}' AS column_name, category, n "
                   f"FROM ({binning.categories_sql(day, column, prof.numeric, source)})")
        else:
            sql = (f"SELECT p AS day, '{name}' AS column_name, bin, n, total, vmin, vmax "
                   f"FROM ({binning.histogram_sql(day, column, source, prof.lo, prof.hi)})")
        frames.append(con.execute(sql, [version]).df())
    filled = [f for f in frames if len(f)]
    if not filled:  # no row of this version in these segments (a version not serving yet): nothing to roll up
        return pd.DataFrame(columns=list(_COLUMNS))
    frame = pd.concat(filled, ignore_index=True)
    frame.insert(0, "model_version", version)
    frame.insert(0, "model_name", model)
    return frame.reindex(columns=list(_COLUMNS))


def drop_rollups(con: duckdb.DuckDBPyConnection, model: str) -> int:
    """Drop every version's rollups of ``model`` (in the caller's transaction); return the rows dropped.

    For when log segments are removed (retention): a day's rollup is the sum over the segments that
    covered it, which cannot be un-summed, so the next read (or :func:`analytics.drift.refresh_rollups`)
    rebuilds them from the segments that remain.
    """
    dropped = con.execute("SELECT count(*) FROM drift_rollup WHERE model_name = ?", [model]).fetchone()[0]
    con.execute("DELETE FROM drift_rollup WHERE model_name = ?", [model])
    con.execute("DELETE FROM drift_rollup_segments WHERE model_name = ?", [model])
    return int(dropped)


def merge(con: duckdb.DuckDBPyConnection, model: str, version: str, key: str, segments: pd.DataFrame,
          frame: pd.DataFrame, stale: bool) -> bool:
    """Merge the rows of newly rolled segments (in the caller's transaction); False if another process did it first."""
    if stale:
        con.execute("DELETE FROM drift_rollup WHERE model_name = ? AND model_version = ?", [model, version])
        con.execute("DELETE FROM drift_rollup_segments WHERE model_name = ? AND model_version = ?", [model, version])
    done = set(con.execute("SELECT ingest_id, part FROM drift_rollup_segments WHERE model_name = ? AND "
                           "model_version = ?", [model, version]).fetchall())
    if any((int(i), int(p)) in done for i, p in zip(segments["ingest_id"], segments["part"])):
        return False
    con.register("_vigil_drift_new", frame)
    try:
        days = "SELECT DISTINCT day FROM _vigil_drift_new"
        con.execute(f"CREATE TEMP TABLE _vigil_drift_merged AS SELECT model_name, model_version, day, column_name, bin, "
                    f"category, sum(n)::BIGINT AS n, sum(total) AS total, min(vmin) AS vmin, max(vmax) AS vmax FROM ("
                    f"SELECT * FROM drift_rollup WHERE model_name = ? AND model_version = ? AND day IN ({days}) "
                    f"UNION ALL SELECT {', '.join(_COLUMNS)} FROM _vigil_drift_new) GROUP BY ALL", [model, version])
        con.execute(f"DELETE FROM drift_rollup WHERE model_name = ? AND model_version = ? AND day IN ({days})",
                    [model, version])
        con.execute("INSERT INTO drift_rollup (model_name, model_version, day, column_name, bin, category, n, total, vmin, vmax) SELECT * FROM _vigil_drift_merged")
        con.execute("DROP TABLE _vigil_drift_merged")
    finally:
        con.unregister("_vigil_drift_new")
    con.executemany("INSERT INTO drift_rollup_segments (model_name, model_version, ingest_id, part, bins_key, rolled_at) VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
                    [[model, version, int(i), int(p), key] for i, p in zip(segments["ingest_id"], segments["part"])])
    return True


@dataclass
class RollupSummaries:
    """Summaries of whole UTC days of one version, read from ``drift_rollup`` (one query for all ``columns``)."""

    con: duckdb.DuckDBPyConnection
    model: str
    version: str
    start: datetime | None
    end: datetime | None
    period: str | None = None
    columns: tuple[str, ...] = ()
    _frame: pd.DataFrame | None = field(default=None, repr=False)

    def _where(self) -> tuple[str, list]:
        start = self.start.date() if self.start else date.min
        end = self.end.date() if self.end else date.max - timedelta(days=1)
        wanted = [ROWS, *self.columns]
        return (f"model_name = ? AND model_version = ? AND day >= ? AND day < ? AND column_name IN "
                f"({', '.join('?' * len(wanted))})", [self.model, self.version, start, end, *wanted])

    def _load(self) -> pd.DataFrame:
        if self._frame is None:
            where, params = self._where()
            self._frame = self.con.execute(
                f"SELECT {period_sql(self.period, 'day')} AS p, column_name, bin, category, sum(n)::BIGINT AS n, sum(total) AS total,"
                f" min(vmin) AS vmin, max(vmax) AS vmax FROM drift_rollup WHERE {where} GROUP BY ALL "
                "ORDER BY column_name, p, bin", params).df()
        return self._frame

    def _column(self, column: str) -> pd.DataFrame:
        frame = self._load()
        return frame[frame["column_name"] == column]

    def rows(self) -> dict[object, int]:
        rows = self._column(ROWS)
        return {_period(p): int(n) for p, n in zip(rows["p"], rows["n"])}

    def numeric(self, column: str, lo: float, hi: float) -> dict[object, FineHistogram]:
        out = {}
        for p, g in self._column(column).groupby("p", sort=True):
            out[_period(p)] = FineHistogram(g["bin"].to_numpy(np.int64), g["n"].to_numpy(np.int64),
                                            g["total"].to_numpy(float), g["vmin"].to_numpy(float),
                                            g["vmax"].to_numpy(float))
        return out

    def categories(self, column: str, numeric: bool) -> dict[object, dict[str, int]]:
        out: dict[object, dict[str, int]] = {}
        for p, c, n in self._column(column)[["p", "category", "n"]].itertuples(index=False):
            out.setdefault(_period(p), {})[c] = int(n)
        return out


def _period(p) -> object:
    """A period as the direct queries return it (a naive datetime, or the summary constant)."""
    return p.to_pydatetime() if isinstance(p, pd.Timestamp) else p
