"""Daily drift rollups: each version's fine histograms and category counts per UTC day, kept in the store.

A drift summary of 30 days of a 10M-row log would read ~1.3M rows on every call; the rollups make
it read ~30 days x 27 columns x a few hundred bins instead, whatever the traffic. The summaries of
:mod:`analytics.drift._binning` are additive, so a window of whole UTC days is the sum of its days,
and the answer is the one the direct query gives (counts and minima exactly; sums up to
floating-point order).

The rollup is a summary of the summaries engine (:mod:`analytics.summaries`; declared by
:mod:`analytics.drift._calculator`), scoped by version and keyed by the bins it was rolled on
(:func:`bins_key`: the version's reference ranges and the binning itself): the engine's ledger says
which days are fresh, its refresh (after an ingest, ``vigil refresh``) rebuilds the stale days with
:func:`summarise_days`, and a reader sums the fresh days (:class:`RollupCounts`) and reads the
others from the log. Rows of ``drift_rollup``: one per (version, day, column, fine bin or category),
plus one per day with ``column_name = '*'`` counting the rows.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from analytics import summaries
from analytics.drift import _binning as binning
from analytics.drift._binning import FineHistogram, Profile
from analytics.drift._methods import CATEGORICAL
from analytics.timebounds import period_sql

if TYPE_CHECKING:
    import pandas as pd

ROWS = "*"
#: Changes whenever the binning changes meaning (then every rollup is rebuilt).
BINNING = f"asinh-{binning.FINE_BINS}-1"
#: The columns of a rollup frame (what :func:`summarise_days` and another engine's summariser return).
ROLLUP_COLUMNS = _COLUMNS = ("model_name", "model_version", "day", "column_name", "bin", "category", "n", "total", "vmin", "vmax")


def bins_key(profiles: dict[str, Profile]) -> str:
    """What the rolled bins depend on: the binning and every column's kind and reference range."""
    spec = [BINNING, *sorted((c, p.kind, repr(p.lo), repr(p.hi)) for c, p in profiles.items())]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RollupColumn:
    """What another engine needs to roll up one column exactly as :func:`summarise_days` does.

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
        The exact left edges of the inner fine bins (:func:`analytics.drift._binning.exact_edges`;
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


def rollup_columns(profiles: dict[str, Profile]) -> tuple[RollupColumn, ...]:
    """The columns a rollup summarises, with their exact bin edges."""
    return tuple(_rollup_column(c, p) for c, p in profiles.items())


def _rollup_column(column: str, profile: Profile) -> RollupColumn:
    if profile.kind == CATEGORICAL:
        return RollupColumn(column, True, profile.numeric, profile.lo, profile.hi)
    edges = tuple(map(float, binning.exact_edges(profile.lo, profile.hi)))
    return RollupColumn(column, False, True, profile.lo, profile.hi, edges, *binning.bin_axis(profile.lo, profile.hi))


def summarise_days(con: duckdb.DuckDBPyConnection, model: str, version: str, relation: str, days: list[date],
                   profiles: dict[str, Profile]) -> pd.DataFrame:
    """The rollup rows of ``version``'s rows of ``relation`` (the model's log) on ``days`` (UTC dates).

    The same aggregates as :func:`analytics.drift._binning.fine_histograms` and
    :func:`~analytics.drift._binning.category_counts`, grouped by UTC day and fetched as frames.
    """
    import pandas as pd

    on_days = summaries.days_filter(days)
    source = f"FROM {relation} p WHERE p.model_version = ? AND {on_days.sql}"
    params = [version, *on_days.params]
    day = "CAST(predicted_at AS DATE)"
    frames = [con.execute(f"SELECT {day} AS day, '{ROWS}' AS column_name, count(*) AS n {source} GROUP BY ALL",
                          params).df()]
    for column, prof in profiles.items():
        name = column.replace("'", "''")
        if prof.kind == CATEGORICAL:
            sql = (f"SELECT p AS day, '{name}' AS column_name, category, n "
                   f"FROM ({binning.categories_sql(day, column, prof.numeric, source)})")
        else:
            sql = (f"SELECT p AS day, '{name}' AS column_name, bin, n, total, vmin, vmax "
                   f"FROM ({binning.histogram_sql(day, column, source, prof.lo, prof.hi)})")
        frames.append(con.execute(sql, params).df())
    filled = [f for f in frames if len(f)]
    if not filled:  # no row of this version on these days (a version not serving yet): nothing to roll up
        return pd.DataFrame(columns=list(_COLUMNS))
    frame = pd.concat(filled, ignore_index=True)
    frame.insert(0, "model_version", version)
    frame.insert(0, "model_name", model)
    return frame.reindex(columns=list(_COLUMNS))


def insert(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> None:
    """Insert rollup rows (:func:`summarise_days`) in the caller's transaction."""
    if frame.empty:
        return
    con.register("_vigil_drift_new", frame)
    try:
        con.execute(f"INSERT INTO drift_rollup ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} FROM _vigil_drift_new")
    finally:
        con.unregister("_vigil_drift_new")


def drop_rollups(con: duckdb.DuckDBPyConnection, model: str) -> int:
    """Drop every version's rollups of ``model`` (in the caller's transaction); return the rows dropped.

    For when log segments are removed (retention): the next refresh rebuilds the days from the
    segments that remain (the engine would find those days stale anyway).
    """
    return summaries.forget(con, "drift", model)


@dataclass
class RollupCounts:
    """Counts of whole UTC days of one version, read from ``drift_rollup`` (one query for all ``columns``),
    of the ``days`` given (the fresh ones, :func:`analytics.summaries.coverage`; None: every kept day)."""

    con: duckdb.DuckDBPyConnection
    model: str
    version: str
    start: datetime | None
    end: datetime | None
    period: str | None = None
    columns: tuple[str, ...] = ()
    days: tuple[date, ...] | None = None
    _frame: pd.DataFrame | None = field(default=None, repr=False)
    _by_column: dict[str, pd.DataFrame] | None = field(default=None, repr=False)

    def _where(self) -> tuple[str, list]:
        start = self.start.date() if self.start else date.min
        end = self.end.date() if self.end else date.max - timedelta(days=1)
        wanted = [ROWS, *self.columns]
        sql = (f"model_name = ? AND model_version = ? AND day >= ? AND day < ? AND column_name IN "
               f"({', '.join('?' * len(wanted))})")
        params = [self.model, self.version, start, end, *wanted]
        if self.days is not None:  # only the days summarised now: the log answers for the others
            sql += " AND list_contains(?, day)"
            params.append(sorted(self.days))
        return sql, params

    def _load(self) -> pd.DataFrame:
        if self._frame is None:
            where, params = self._where()
            self._frame = self.con.execute(
                f"SELECT {period_sql(self.period, 'day')} AS p, column_name, bin, category, sum(n)::BIGINT AS n, sum(total) AS total,"
                f" min(vmin) AS vmin, max(vmax) AS vmax FROM drift_rollup WHERE {where} GROUP BY ALL "
                "ORDER BY column_name, p, bin", params).df()
        return self._frame

    def _column(self, column: str) -> pd.DataFrame:
        """The rows of one column (the frame is split by column once, not filtered again per column)."""
        frame = self._load()
        if self._by_column is None:
            self._by_column = {str(c): part for c, part in frame.groupby("column_name", sort=False)}
        return self._by_column.get(column, frame.iloc[0:0])

    def rows(self) -> dict[object, int]:
        rows = self._column(ROWS)
        return {_period(p): int(n) for p, n in zip(rows["p"], rows["n"])}

    def numeric(self, column: str, lo: float, hi: float) -> dict[object, FineHistogram]:
        part = self._column(column)  # ordered by period, then bin
        periods = part["p"].to_numpy()
        arrays = (part["bin"].to_numpy(np.int64), part["n"].to_numpy(np.int64), part["total"].to_numpy(float),
                  part["vmin"].to_numpy(float), part["vmax"].to_numpy(float))
        starts = np.flatnonzero(np.r_[True, periods[1:] != periods[:-1]]) if len(periods) else np.zeros(0, int)
        ends = np.r_[starts[1:], len(periods)]
        return {_period(part["p"].iloc[a]): FineHistogram(*(x[a:b] for x in arrays)) for a, b in zip(starts, ends)}

    def categories(self, column: str, numeric: bool) -> dict[object, dict[str, int]]:
        out: dict[object, dict[str, int]] = {}
        for p, c, n in self._column(column)[["p", "category", "n"]].itertuples(index=False):
            out.setdefault(_period(p), {})[c] = int(n)
        return out


def _period(p) -> object:
    """A period as the direct queries return it (a naive datetime, or :data:`~analytics.timebounds.WHOLE_WINDOW`)."""
    import pandas as pd  # loaded already: the rollups were fetched as frames

    return p.to_pydatetime() if isinstance(p, pd.Timestamp) else p
