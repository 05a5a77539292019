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

Drift over time per week sums each whole week of fresh days once per process: the sums are kept in
memory (:class:`RollupCounts`) under the ledger's records of the week's days, which an ingest or a
refresh that rebuilds one of them changes.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from analytics import summaries
from analytics.drift import _binning as binning
from analytics.drift._binning import FineHistogram, Profile
from analytics.drift._methods import CATEGORICAL
from analytics.memo import Memo
from analytics.store import store_path
from analytics.timebounds import period_sql

if TYPE_CHECKING:
    import pandas as pd

ROWS = "*"
#: The summary's name in the ledger.
DRIFT = "drift"
#: The period whose whole weeks are kept in memory (:class:`RollupCounts`).
WEEK = "week"
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
    return summaries.forget(con, DRIFT, model)


@dataclass(frozen=True)
class ColumnSums:
    """One column's rollup rows summed per period: ``p`` (the period), ``bin`` or ``category``, and the sums,
    ordered by period, then bin (numpy arrays of one length)."""

    p: np.ndarray
    bin: np.ndarray
    category: np.ndarray
    n: np.ndarray
    total: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray

    @classmethod
    def joined(cls, parts: list[ColumnSums]) -> ColumnSums:
        """The rows of ``parts`` (each on periods of its own, given in the order of their periods), in one."""
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(part, f.name) for part in parts]) for f in fields(cls)))

    def by_period(self) -> list[ColumnSums]:
        """The rows of each period, in order."""
        if not len(self.p):
            return []
        starts = np.flatnonzero(np.r_[True, self.p[1:] != self.p[:-1]])
        ends = np.r_[starts[1:], len(self.p)]
        return [ColumnSums(*(getattr(self, f.name)[a:b] for f in fields(self))) for a, b in zip(starts, ends)]


_EMPTY = ColumnSums(*(np.zeros(0) for _ in fields(ColumnSums)))
#: Each whole week's sums of a version's rollups, every column, kept in this process (:meth:`RollupCounts._load`).
_WEEKS: Memo[dict[str, ColumnSums]] = Memo(64)


@dataclass
class RollupCounts:
    """Counts of whole UTC days of one version, read from ``drift_rollup`` (one query for all ``columns``),
    of the ``days`` given (the fresh ones, :func:`analytics.summaries.coverage`; None: every kept day).

    Per week, the sums of a week whose seven days are all among ``days`` are kept in this process, keyed by
    the store, the version, the week and the ledger's records of its days
    (:func:`analytics.summaries.ledger_days`: the segments and bins they were built from, and when), so
    an ingest or refresh that rebuilds one of its days, or a rebuilt store, sums it again; the other
    days (a window's partial first and last weeks) are summed on every call.
    """

    con: duckdb.DuckDBPyConnection
    model: str
    version: str
    start: datetime | None
    end: datetime | None
    period: str | None = None
    columns: tuple[str, ...] = ()
    days: tuple[date, ...] | None = None
    _by_column: dict[str, ColumnSums] | None = field(default=None, repr=False)

    def _sums(self, days: list[date] | None, columns: tuple[str, ...] | None) -> dict[str, ColumnSums]:
        """The rollup rows of ``days`` (None: every kept day of the span) summed per period, column, bin and
        category, of ``columns`` (None: every column) and the row counts, by column."""
        start = self.start.date() if self.start else date.min
        end = self.end.date() if self.end else date.max - timedelta(days=1)
        if days:  # their span only
            start, end = max(start, min(days)), min(end, max(days) + timedelta(days=1))
        where = "model_name = ? AND model_version = ? AND day >= ? AND day < ?"
        params: list = [self.model, self.version, start, end]
        if columns is not None:
            wanted = [ROWS, *columns]
            where += f" AND column_name IN ({', '.join('?' * len(wanted))})"
            params += wanted
        if days is not None:  # only the days summarised now: the log answers for the others
            where += " AND list_contains(?, day)"
            params.append(sorted(days))
        frame = self.con.execute(
            f"SELECT {period_sql(self.period, 'day')} AS p, column_name, bin, category, sum(n)::BIGINT AS n, "
            f"sum(total) AS total, min(vmin) AS vmin, max(vmax) AS vmax FROM drift_rollup WHERE {where} GROUP BY ALL "
            "ORDER BY column_name, p, bin", params).df()
        return {str(column): ColumnSums(*(part[f.name].to_numpy() for f in fields(ColumnSums)))
                for column, part in frame.groupby("column_name", sort=False)}

    def _whole_weeks(self) -> dict[date, list[date]]:
        """The weeks (by their Monday) whose seven days are all among :attr:`days`, with their days."""
        if self.period != WEEK or self.days is None:
            return {}
        weeks: dict[date, list[date]] = {}
        for day in sorted(self.days):
            weeks.setdefault(_monday(day), []).append(day)
        return {monday: days for monday, days in weeks.items() if len(days) == 7}

    def _week_keys(self, weeks: dict[date, list[date]]) -> dict[date, tuple]:
        """Each whole week's key in the memo: the store, the version, the week and the ledger's records of its days."""
        ledger: dict[date, list[summaries.LedgerDay]] = {}
        for record in summaries.ledger_days(self.con, DRIFT, self.model, scope=self.version, start=min(weeks),
                                            end=max(weeks) + timedelta(days=7)):
            ledger.setdefault(_monday(record.day), []).append(record)
        place = str(store_path(self.con))
        return {monday: (place, self.model, self.version, monday, tuple(ledger.get(monday, ()))) for monday in weeks}

    def _summed_weeks(self, weeks: dict[date, list[date]]) -> dict[date, dict[str, ColumnSums]]:
        """The sums of ``weeks`` by column (every column), in one query (a week without rows: an empty dict)."""
        out: dict[date, dict[str, ColumnSums]] = {monday: {} for monday in weeks}
        if weeks:
            for column, sums in self._sums([d for days in weeks.values() for d in days], None).items():
                for week in sums.by_period():
                    out[_monday(week.p[0])][column] = week
        return out

    def _load(self) -> dict[str, ColumnSums]:
        """Each column's rows (and the row counts, :data:`ROWS`), ordered by period, then bin.

        With whole weeks, one query sums the weeks the memo does not hold (every column, to keep) and the
        other days (the columns asked for); the memo answers for the rest.
        """
        if self._by_column is not None:
            return self._by_column
        weeks = self._whole_weeks()
        rest = None if self.days is None else [d for d in self.days if _monday(d) not in weeks]
        if not weeks:
            self._by_column = self._sums(rest, self.columns) if rest is None or rest else {}
            return self._by_column
        wanted = (ROWS, *self.columns)
        keys = self._week_keys(weeks)
        held = set(_WEEKS.keys())
        missing = {monday: days for monday, days in weeks.items() if keys[monday] not in held}
        summed = self._sums([d for days in missing.values() for d in days] + rest,
                            None if missing else self.columns) if missing or rest else {}
        new: dict[date, dict[str, ColumnSums]] = {monday: {} for monday in missing}
        pieces: dict[str, list[ColumnSums]] = {}
        for column, sums in summed.items():
            for part in sums.by_period():
                monday = _monday(part.p[0])
                if monday in new:
                    new[monday][column] = part
                elif column in wanted:
                    pieces.setdefault(column, []).append(part)

        def compute(monday: date) -> dict[str, ColumnSums]:
            if monday not in new:  # dropped from the memo since it was looked at (other threads' weeks)
                new.update(self._summed_weeks({monday: weeks[monday]}))
            return new[monday]

        for monday in weeks:
            for column, part in _WEEKS.get(keys[monday], lambda monday=monday: compute(monday)).items():
                if column in wanted:
                    pieces.setdefault(column, []).append(part)
        self._by_column = {column: ColumnSums.joined(sorted(pieces[column], key=lambda part: part.p[0]))
                           for column in wanted if column in pieces}
        return self._by_column

    def _column(self, column: str) -> ColumnSums:
        """The rows of one column, ordered by period, then bin (empty when it has none)."""
        return self._load().get(column, _EMPTY)

    def rows(self) -> dict[object, int]:
        rows = self._column(ROWS)
        return {_period(p): int(n) for p, n in zip(rows.p, rows.n)}

    def numeric(self, column: str, lo: float, hi: float) -> dict[object, FineHistogram]:
        part = self._column(column)  # ordered by period, then bin
        return {_period(week.p[0]): FineHistogram(week.bin.astype(np.int64), week.n.astype(np.int64),
                                                  week.total.astype(float), week.vmin.astype(float),
                                                  week.vmax.astype(float))
                for week in part.by_period()}

    def categories(self, column: str, numeric: bool) -> dict[object, dict[str, int]]:
        out: dict[object, dict[str, int]] = {}
        part = self._column(column)
        for p, c, n in zip(part.p, part.category, part.n):
            out.setdefault(_period(p), {})[c] = int(n)
        return out


def _monday(day: date | np.datetime64) -> date:
    """The Monday of the week of a day or of a period's start (as ``date_trunc('week', ...)`` counts weeks)."""
    if isinstance(day, np.datetime64):
        day = day.astype("datetime64[D]").item()
    return day - timedelta(days=day.weekday())


def _period(p) -> object:
    """A period as the direct queries return it (a naive datetime, or :data:`~analytics.timebounds.WHOLE_WINDOW`)."""
    if isinstance(p, np.datetime64):  # a period's start as numpy holds it
        return p.astype("datetime64[us]").item()
    return p
