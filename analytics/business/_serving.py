"""Per-day summaries of the serving log (traffic, cost, latency), kept in the store and keyed by its segments.

The prediction log is a set of immutable Parquet segments (:mod:`analytics.store._segments`): once
committed, a segment never changes. A UTC day's summary is therefore valid for as long as the set of
segments whose time range overlaps that day is the same; it is recorded with the day
(``serving_summary_days.segments``), and a day whose set changed (an ingest added rows to it, or a
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

Summaries are refreshed when a reader finds them stale: :func:`ensure` runs :func:`refresh` in its own
short write transaction (one per store at a time in a process), which recomputes only the stale days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics.errors import StoreBusyError
from analytics.window import split_interval, time_bounds
from analytics.registry import ModelInfo
from analytics.store import predictions_view
from analytics.store._segments import store_path

#: The percentiles kept per day and read off the histograms (p50, p95, p99: ``_latency.PERCENTILES``).
QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)

_TABLES = ("serving_hourly", "serving_latency", "serving_latency_daily", "serving_summary_days")


# --------------------------------------------------------------------------------------------------
# Which days are stale


_DAY_SEGMENTS = """
    SELECT CAST(d.day AS DATE) AS day,
           string_agg(CAST(s.ingest_id AS VARCHAR) || ':' || CAST(s.part AS VARCHAR), ',' ORDER BY s.ingest_id, s.part)
               AS segments
    FROM log_segments s,
         LATERAL (SELECT unnest(generate_series(date_trunc('day', s.min_predicted_at),
                                                date_trunc('day', s.max_predicted_at), INTERVAL 1 DAY)) AS day) d
    WHERE s.model_name = ? AND s.rows > 0 AND s.min_predicted_at IS NOT NULL
    GROUP BY ALL
"""


def _has_segments(con: duckdb.DuckDBPyConnection, model: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM log_segments WHERE model_name = ?", [model]).fetchone()[0])


def stale_days(con: duckdb.DuckDBPyConnection, model: str) -> tuple[list[date], list[date]]:
    """Days to summarise (new, or their set of segments changed) and summarised days no segment covers."""
    rows = con.execute(
        f"""
        WITH now_ AS ({_DAY_SEGMENTS}),
             kept AS (SELECT day, segments FROM serving_summary_days WHERE model_name = ?)
        SELECT coalesce(now_.day, kept.day) AS day, now_.day IS NULL AS orphan
        FROM now_ FULL OUTER JOIN kept ON now_.day = kept.day
        WHERE now_.segments IS DISTINCT FROM kept.segments
        ORDER BY 1
        """, [model, model]).fetchall()
    return [r[0] for r in rows if not r[1]], [r[0] for r in rows if r[1]]


def refresh(con: duckdb.DuckDBPyConnection, info: ModelInfo) -> int:
    """Summarise the model's stale days again (call inside a write transaction); return how many.

    Each stale day is replaced whole: its rows of every summary table are deleted and recomputed from
    the log with the segment set it was computed from.
    """
    stale, orphans = stale_days(con, info.name)
    gone = stale + orphans
    if not gone:
        return 0
    for table in _TABLES:
        con.execute(f"DELETE FROM {table} WHERE model_name = ? AND list_contains(?, CAST({_day_column(table)} AS DATE))",
                    [info.name, gone])
    if not stale:
        return 0
    view = predictions_view(info.stem)
    where, params = days_filter(stale)
    con.execute(
        f"""
        INSERT INTO serving_hourly (model_name, hour, version, role, decision, predictions, cost_usd, first_at, last_at)
        SELECT ?, date_trunc('hour', p.predicted_at), p.model_version, p.deployment_role, p.decision,
               count(*), sum(p.cost), min(p.predicted_at), max(p.predicted_at)
        FROM {view} p WHERE {where} GROUP BY ALL
        """, [info.name, *params])
    con.execute(
        f"""
        INSERT INTO serving_latency (model_name, day, version, latency_ms, n)
        SELECT ?, CAST(p.predicted_at AS DATE), p.model_version, p.latency_ms, count(*)
        FROM {view} p WHERE {where} AND p.latency_ms IS NOT NULL GROUP BY ALL
        ORDER BY 2, 3, 4
        """, [info.name, *params])
    con.execute(
        f"""
        INSERT INTO serving_latency_daily (model_name, day, version, n, p50_ms, p95_ms, p99_ms, max_ms)
        SELECT ?, day, version, n, q[1], q[2], q[3], max_ms FROM (
            SELECT CAST(p.predicted_at AS DATE) AS day, p.model_version AS version, count(*) AS n,
                   quantile_cont(p.latency_ms, {list(QUANTILES)}) AS q, max(p.latency_ms) AS max_ms
            FROM {view} p WHERE {where} AND p.latency_ms IS NOT NULL GROUP BY ALL)
        """, [info.name, *params])
    con.execute(
        f"""
        INSERT INTO serving_summary_days (model_name, day, segments, built_at)
        SELECT ?, day, segments, now()::TIMESTAMP FROM ({_DAY_SEGMENTS}) WHERE list_contains(?, day)
        """, [info.name, info.name, stale])
    return len(stale)


def days_filter(days: list[date], alias: str = "p") -> tuple[str, list[Any]]:
    """WHERE clause over the log for the rows of ``days`` (UTC dates): time bounds first, for row-group
    pruning on the segments, then the exact list of days when they are not one unbroken run."""
    low = datetime.combine(min(days), datetime.min.time())
    high = datetime.combine(max(days), datetime.min.time()) + timedelta(days=1)
    sql, params = f"{alias}.predicted_at >= ? AND {alias}.predicted_at < ?", [low, high]
    if len(set(days)) != (high - low).days:
        sql += f" AND CAST({alias}.predicted_at AS DATE) IN (SELECT unnest(CAST(? AS DATE[])))"
        params.append(list(days))
    return sql, params


def _day_column(table: str) -> str:
    return "hour" if table == "serving_hourly" else "day"


_READY: set[tuple] = set()


def ensure(con: duckdb.DuckDBPyConnection, info: ModelInfo, db: Any) -> bool:
    """Whether the summaries answer for this model now, refreshing stale days first when ``db`` is a path.

    False when the model's log is not in segments, or when the caller passed its own connection and
    some days are stale (the caller's unit of work is left alone; the answer then comes from the log).
    Once found current, the summaries stay current until the model's next committed ingest (only a
    refresh writes them), so the answer is remembered for the model's data token.
    """
    from analytics.business._rollup import _database_file, model_token

    key = (_database_file(con), model_token(con, info.name))
    if key in _READY:
        return True
    if _ensure(con, info, db):
        if len(_READY) > 256:
            _READY.clear()
        _READY.add(key)
        return True
    return False


def _ensure(con: duckdb.DuckDBPyConnection, info: ModelInfo, db: Any) -> bool:
    if not _has_segments(con, info.name):
        return False
    stale, orphans = stale_days(con, info.name)
    if not stale and not orphans:
        return True
    if isinstance(db, duckdb.DuckDBPyConnection):
        return False
    from analytics import store

    path = Path(db) if db is not None else store_path(con)
    try:
        store.write(lambda w: refresh(w, info), path)
    except StoreBusyError:  # the log still answers, only slower
        return False
    return True


def refresh_store(db: Any = None, model: str | None = None) -> dict[str, dict[str, int]]:
    """Bring every business summary of the store (or of one model) up to date; return the days rebuilt.

    Per model: ``serving`` days (:func:`refresh`) and, for a model with a KPI definition, ``kpi``
    days (:func:`analytics.business._kpi_store.refresh`). Readers do this themselves when they find
    a summary stale; run it after an ingest (``vigil kpis refresh``) so that no reader waits.
    """
    from analytics import store
    from analytics.business import _kpi_store
    from analytics.business._definitions import get_definition, has_definition
    from analytics.registry import get_model

    def work(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
        names = [model] if model else [r[0] for r in con.execute("SELECT model_name FROM models ORDER BY 1").fetchall()]
        done = {}
        for name in names:
            info = get_model(con, name)
            if not _has_segments(con, name):
                continue
            done[name] = {"serving": refresh(con, info)}
            if has_definition(con, name):
                done[name]["kpi"] = _kpi_store.refresh(con, info, get_definition(con, name))
        return done

    return store.write(work, db)


# --------------------------------------------------------------------------------------------------
# Windows from the summaries


def hourly_source(info: ModelInfo, start: datetime | None, end: datetime | None,
                  version: str | None = None) -> tuple[str, list[Any]]:
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
                       log_filter: str = "") -> tuple[str, list[Any]]:
    """A subquery of ``[start, end)``: its whole hours or days (``unit``, also the summary table's time column)
    from ``summary`` (a ``SELECT ... FROM`` table with ``model_name`` and ``version``), and the partial
    ones at the edges from the log, ``log`` (a ``SELECT`` list, grouped by all), both with ``columns``."""
    units, edges = split_interval(start, end, unit=unit)
    parts: list[tuple[str, list[Any]]] = []
    versions = [version] if version else []
    if units is not None:
        bounds = units if unit == "hour" else tuple(d.date() if d is not None else None for d in units)
        where, params = time_bounds(unit, *bounds)
        parts.append((f"{summary} WHERE model_name = ? AND {where}" + (" AND version = ?" if version else ""),
                      [info.name, *params, *versions]))
    for a, b in edges:
        where, params = time_bounds("predicted_at", a, b)
        parts.append((f"{log} FROM {predictions_view(info.stem)} WHERE {where}"
                      + (" AND model_version = ?" if version else "") + f"{log_filter} GROUP BY ALL",
                      [*params, *versions]))
    return _union(parts, columns)


def _union(parts: list[tuple[str, list[Any]]], columns: tuple[str, ...]) -> tuple[str, list[Any]]:
    names = ", ".join(f"{c}" for c in columns)
    # An empty first branch fixes the column names (and is free).
    head = f"SELECT * FROM (VALUES ({', '.join('NULL' for _ in columns)})) AS t({names}) WHERE FALSE"
    sql = " UNION ALL ".join([head, *(f"({s})" for s, _ in parts)])
    return f"({sql})", [p for _, ps in parts for p in ps]


def latency_daily(con: duckdb.DuckDBPyConnection, info: ModelInfo, start: datetime | None, end: datetime | None,
                  version: str | None = None) -> pd.DataFrame:
    """Per UTC day and version of ``[start, end)``: ``day``, ``version``, ``predictions`` (with a latency),
    ``q`` (``[p50, p95, p99]`` in ms, DuckDB's ``quantile_cont``), ``max_ms``; partial days from the log."""
    sql, params = _whole_and_partial(
        info, start, end, version, unit="day",
        summary="SELECT day, version, n, [p50_ms, p95_ms, p99_ms], max_ms FROM serving_latency_daily",
        log=f"SELECT CAST(predicted_at AS DATE), model_version, count(*), quantile_cont(latency_ms, {list(QUANTILES)}), "
            "max(latency_ms)",
        columns=("day", "version", "predictions", "q", "max_ms"), log_filter=" AND latency_ms IS NOT NULL")
    return con.execute(f"SELECT * FROM {sql} ORDER BY version, day", params).df()


def latency_by_version(con: duckdb.DuckDBPyConnection, info: ModelInfo, start: datetime | None,
                       end: datetime | None, version: str | None = None) -> pd.DataFrame:
    """Per version of ``[start, end)``: ``version``, ``predictions`` (with a latency), ``q`` (p50, p95, p99 in ms)
    and ``max_ms``, read off the merged exact histogram.

    The sorted latencies of a version are the distinct values repeated by their counts; the
    percentile ``q`` interpolates linearly between the values at ranks ``floor(h)`` and
    ``floor(h) + 1`` with ``h = (n - 1) q``, as ``numpy.percentile(method="linear")`` and DuckDB's
    ``quantile_cont`` do.
    """
    sql, params = _whole_and_partial(
        info, start, end, version, unit="day", summary="SELECT version, latency_ms, n FROM serving_latency",
        log="SELECT model_version, latency_ms, count(*)", columns=("version", "latency_ms", "n"),
        log_filter=" AND latency_ms IS NOT NULL")
    hist = con.execute(f"SELECT version, latency_ms, sum(n) AS n FROM {sql} GROUP BY ALL ORDER BY version, latency_ms",
                       params).df()
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
