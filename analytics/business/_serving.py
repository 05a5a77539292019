"""Per-day summaries of the serving log (traffic, cost, latency), kept in the store and keyed by its segments.

The prediction log is a set of immutable Parquet segments (:mod:`analytics.store._segments`): once
committed, a segment never changes. A UTC day's summary is therefore valid for as long as the set of
segments whose time range overlaps that day is the same; the summaries engine records it with the
day (``summary_ledger``, :mod:`analytics.summaries`), and a day whose set changed (an ingest added rows to it, or a
segment was removed) or that is new is summarised again from the log. Nothing here depends on
outcomes, KPI definitions or settings, so late labels, a new value matrix or a changed SLA never make
a summary stale.

Per day the store keeps (migration 10):

- ``serving_hourly``: per hour, version, deployment role and decision, the predictions, their cost,
  the first and last prediction time;
- ``serving_latency``: an exact latency histogram, the count of every distinct ``latency_ms`` value
  per day and version (no binning: the values themselves);
- ``serving_latency_daily``: per day and version, ``quantile_cont`` p50 / p95 / p99 and the maximum.

A window is answered from the whole hours (or days) inside it plus an exact query on the log for the
partial hours (days) at its edges, so the answers equal those of the plain queries on the log (sums
up to floating-point rounding): a percentile over several days is read off the merged histogram at the
ranks numpy's ``method="linear"`` interpolates between. Windows filtered on a segment column, and
stores whose log is not in segments, are answered from the log directly.

The summary is declared to the summaries engine (:mod:`analytics.summaries`), which keeps its ledger
and rebuilds its stale days after an ingest and on ``vigil refresh``; readers only read (:func:`current`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics import summaries
from analytics.registry import ModelInfo, get_model
from analytics.window import Query, Window, split_interval, time_bounds
from analytics.store import predictions_view

#: The percentiles kept per day and read off the histograms (p50, p95, p99: ``_latency.PERCENTILES``).
QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)


def _build(con: duckdb.DuckDBPyConnection, model: str, scope: str, days: list[date]) -> None:
    """Insert the serving rows of ``days`` computed from the log (the engine dropped the old ones)."""
    view = predictions_view(get_model(con, model).stem)
    on_days = summaries.days_filter(days)
    con.execute(
        f"""
        INSERT INTO serving_hourly (model_name, hour, version, role, decision, predictions, cost_usd, first_at, last_at)
        SELECT ?, date_trunc('hour', p.predicted_at), p.model_version, p.deployment_role, p.decision,
               count(*), sum(p.cost), min(p.predicted_at), max(p.predicted_at)
        FROM {view} p WHERE {on_days.sql} GROUP BY ALL
        """, [model, *on_days.params])
    con.execute(
        f"""
        INSERT INTO serving_latency (model_name, day, version, latency_ms, n)
        SELECT ?, CAST(p.predicted_at AS DATE), p.model_version, p.latency_ms, count(*)
        FROM {view} p WHERE {on_days.sql} AND p.latency_ms IS NOT NULL GROUP BY ALL
        ORDER BY 2, 3, 4
        """, [model, *on_days.params])
    con.execute(
        f"""
        INSERT INTO serving_latency_daily (model_name, day, version, n, p50_ms, p95_ms, p99_ms, max_ms)
        SELECT ?, day, version, n, q[1], q[2], q[3], max_ms FROM (
            SELECT CAST(p.predicted_at AS DATE) AS day, p.model_version AS version, count(*) AS n,
                   quantile_cont(p.latency_ms, {list(QUANTILES)}) AS q, max(p.latency_ms) AS max_ms
            FROM {view} p WHERE {on_days.sql} AND p.latency_ms IS NOT NULL GROUP BY ALL)
        """, [model, *on_days.params])


#: The serving summary, declared to the summaries engine (which keeps its ledger and refreshes it).
SERVING = summaries.register(summaries.Declaration(
    name="serving",
    tables=(summaries.SummaryTable("serving_hourly", day="hour"), summaries.SummaryTable("serving_latency"),
            summaries.SummaryTable("serving_latency_daily")),
    build=_build))


def current(con: duckdb.DuckDBPyConnection, info: ModelInfo) -> bool:
    """Whether the serving summaries answer for every day of the model's log now (reads only).

    False when the log is not in segments or some day is not (or no longer) summarised: the caller
    then reads the log, which gives the same answers, slower, until the next refresh (the ingest's, or
    ``vigil refresh``).
    """
    return summaries.has_segments(con, info.name) and summaries.coverage(con, SERVING.name, info.name).complete


def refresh_store(db: Any = None, model: str | None = None) -> dict[str, dict[str, int]]:
    """Bring the business summaries of the store (or of one model) up to date; return the days rebuilt.

    Per model whose log is in segments: ``serving`` days and, for a model with a KPI definition,
    ``kpi`` days, rebuilt by the summaries engine (:func:`analytics.summaries.refresh_store`). The
    ingest does it after its commit and ``vigil refresh`` (or ``vigil kpis refresh``) on demand.
    """
    done = summaries.refresh_store(db, model, names=(SERVING.name, "kpi")).days
    return {name: days for name, days in done.items() if days}


def window_count(con: duckdb.DuckDBPyConnection, info: ModelInfo, window: Window) -> int:
    """Predictions in ``window`` (its span, version and segment): the serving summary's whole hours and the
    log's partial hours at its edges when the summary covers every day of the log and the window has no segment
    filter (the same count), else a count of the log."""
    if window.segment is None and current(con, info):
        hours = hourly_source(info, window.start, window.end, window.version)
        return int(con.execute(f"SELECT coalesce(sum(p.predictions), 0) FROM {hours.sql} p", hours.params).fetchone()[0])
    where = window.where(info.schema)
    return int(con.execute(f"SELECT count(*) FROM {predictions_view(info.stem)} p WHERE {where.sql}",
                           where.params).fetchone()[0])


def newest_hours(con: duckdb.DuckDBPyConnection, model: str, rows: int, *, version: str | None = None,
                 decision: int | None = None, start: datetime | None = None,
                 end: datetime | None = None) -> datetime | None:
    """The latest whole hour ``h`` such that ``[h, end)`` holds at least ``rows`` summarised predictions.

    Counted from ``serving_hourly`` (the whole hours inside ``[start, end)``, of ``version`` and
    ``decision`` when given). A reader that wants the newest ``rows`` predictions of a window reads
    ``[h, end)`` of the log instead of the whole window: when that span gives it ``rows`` predictions,
    they are the window's newest (every other one is older than ``h``); when it gives fewer (the
    summaries are behind the log, or the reader filters on more than version and decision), it reads
    the whole window. None when the summarised hours hold fewer than ``rows``.
    """
    where = time_bounds("hour", start, None)
    clauses, params = ["model_name = ?", where.sql], [model, *where.params]
    if end is not None:
        clauses.append("hour + INTERVAL 1 HOUR <= ?")
        params.append(end)
    for column, value in (("version", version), ("decision", decision)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    row = con.execute(
        f"""SELECT max(hour) FROM (
                SELECT hour, sum(sum(predictions)) OVER (ORDER BY hour DESC) AS since
                FROM serving_hourly WHERE {" AND ".join(clauses)} GROUP BY hour)
            WHERE since >= ?""", [*params, int(rows)]).fetchone()
    return row[0] if row else None


# --------------------------------------------------------------------------------------------------
# Windows from the summaries


def hourly_source(info: ModelInfo, start: datetime | None, end: datetime | None,
                  version: str | None = None) -> Query:
    """A subquery of ``[start, end)`` per hour, version, role and decision, shaped like the log (alias it ``p``).

    Columns ``hour``, ``model_version``, ``deployment_role``, ``decision``, ``predictions``, ``cost``
    (sum; NULL when every cost was NULL), ``first_at``, ``last_at``: whole hours from ``serving_hourly``,
    the partial hours at the edges from the log.
    """
    return _whole_and_partial(
        info, start, end, version, unit="hour",
        summary="SELECT hour, version, role, decision, predictions, cost_usd, first_at, last_at FROM serving_hourly",
        log="SELECT date_trunc('hour', predicted_at), model_version, deployment_role, decision, count(*), sum(cost), "
            "min(predicted_at), max(predicted_at)",
        columns=("hour", "model_version", "deployment_role", "decision", "predictions", "cost", "first_at", "last_at"))


def _whole_and_partial(info: ModelInfo, start: datetime | None, end: datetime | None, version: str | None, *,
                       unit: str, summary: str, log: str, columns: tuple[str, ...],
                       log_filter: str = "") -> Query:
    """A subquery of ``[start, end)``: its whole hours or days (``unit``, also the summary table's time column)
    from ``summary`` (a ``SELECT ... FROM`` table with ``model_name`` and ``version``), and the partial
    ones at the edges from the log, ``log`` (a ``SELECT`` list, grouped by all), both with ``columns``."""
    units, edges = split_interval(start, end, unit=unit)
    parts: list[Query] = []
    versions = [version] if version else []
    if units is not None:
        bounds = units if unit == "hour" else tuple(d.date() if d is not None else None for d in units)
        where = time_bounds(unit, *bounds)
        parts.append(Query(f"{summary} WHERE model_name = ? AND {where.sql}" + (" AND version = ?" if version else ""),
                           [info.name, *where.params, *versions]))
    for a, b in edges:
        where = time_bounds("predicted_at", a, b)
        parts.append(Query(f"{log} FROM {predictions_view(info.stem)} WHERE {where.sql}"
                           + (" AND model_version = ?" if version else "") + f"{log_filter} GROUP BY ALL",
                           [*where.params, *versions]))
    return _union(parts, columns)


def _union(parts: list[Query], columns: tuple[str, ...]) -> Query:
    names = ", ".join(f"{c}" for c in columns)
    # An empty first branch fixes the column names (and is free).
    head = f"SELECT * FROM (VALUES ({', '.join('NULL' for _ in columns)})) AS t({names}) WHERE FALSE"
    sql = " UNION ALL ".join([head, *(f"({part.sql})" for part in parts)])
    return Query(f"({sql})", [p for part in parts for p in part.params])


def latency_daily(con: duckdb.DuckDBPyConnection, info: ModelInfo, start: datetime | None, end: datetime | None,
                  version: str | None = None) -> pd.DataFrame:
    """Per UTC day and version of ``[start, end)``: ``day``, ``version``, ``predictions`` (with a latency),
    ``q`` (``[p50, p95, p99]`` in ms, DuckDB's ``quantile_cont``), ``max_ms``; partial days from the log."""
    source = _whole_and_partial(
        info, start, end, version, unit="day",
        summary="SELECT day, version, n, [p50_ms, p95_ms, p99_ms], max_ms FROM serving_latency_daily",
        log=f"SELECT CAST(predicted_at AS DATE), model_version, count(*), quantile_cont(latency_ms, {list(QUANTILES)}), "
            "max(latency_ms)",
        columns=("day", "version", "predictions", "q", "max_ms"), log_filter=" AND latency_ms IS NOT NULL")
    return con.execute(f"SELECT * FROM {source.sql} ORDER BY version, day", source.params).df()


def latency_by_version(con: duckdb.DuckDBPyConnection, info: ModelInfo, start: datetime | None,
                       end: datetime | None, version: str | None = None) -> pd.DataFrame:
    """Per version of ``[start, end)``: ``version``, ``predictions`` (with a latency), ``q`` (p50, p95, p99 in ms)
    and ``max_ms``, read off the merged exact histogram.

    The sorted latencies of a version are the distinct values repeated by their counts; the
    percentile ``q`` interpolates linearly between the values at ranks ``floor(h)`` and
    ``floor(h) + 1`` with ``h = (n - 1) q``, as ``numpy.percentile(method="linear")`` and DuckDB's
    ``quantile_cont`` do.
    """
    source = _whole_and_partial(
        info, start, end, version, unit="day", summary="SELECT version, latency_ms, n FROM serving_latency",
        log="SELECT model_version, latency_ms, count(*)", columns=("version", "latency_ms", "n"),
        log_filter=" AND latency_ms IS NOT NULL")
    hist = con.execute(f"SELECT version, latency_ms, sum(n) AS n FROM {source.sql} GROUP BY ALL "
                       "ORDER BY version, latency_ms", source.params).df()
    rows = []
    for name, part in hist.groupby("version", sort=True):
        values = part["latency_ms"].to_numpy(float)
        counts = part["n"].to_numpy(np.int64)
        rows.append({"version": name, "predictions": int(counts.sum()),
                     "q": [histogram_quantile(values, counts, q) for q in QUANTILES], "max_ms": float(values[-1])})
    return pd.DataFrame(rows, columns=["version", "predictions", "q", "max_ms"])


def histogram_quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """``numpy.percentile(data, 100 q, method="linear")`` of the data whose sorted distinct ``values`` occur
    ``counts`` times, without expanding it."""
    n = int(counts.sum())
    if n == 0:
        return float("nan")
    upto = np.cumsum(counts)  # values[i] holds ranks upto[i-1] .. upto[i]-1 (0-based)
    h = (n - 1) * q
    low = int(np.floor(h))
    t = h - low
    a = values[int(np.searchsorted(upto, low, side="right"))]
    b = values[int(np.searchsorted(upto, min(low + 1, n - 1), side="right"))]
    # numpy's _lerp, including its switch to the upper end for t >= 0.5
    return float(b - (b - a) * (1 - t)) if t >= 0.5 else float(a + (b - a) * t)
