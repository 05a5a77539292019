"""Serving latency against the SLA, and throughput, per window, day and version.

Percentiles interpolate linearly between the two nearest ranks, numpy's default
``method="linear"`` (DuckDB's ``quantile_cont``). Per UTC day they are kept in the store's serving
summaries (computed with ``quantile_cont`` when the day is summarised); over a window, per version,
they are read off the merged exact latency histograms of its days (every distinct value with its
count, so nothing is binned or approximated); the partial days at the window's edges, and any
window filtered on a segment, come from the log (:mod:`analytics.business._serving`). The SLA is a
latency target for one percentile (settings ``business.latency_sla_ms`` and
``business.latency_sla_percentile``, per model; admins change them, audited); a *breach* is a UTC day
and version whose percentile exceeds it. Throughput is predictions per second: the mean over the
day, and the busiest hour of the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from analytics import settings
from analytics.business import _serving
from analytics.business._common import DbLike, open_model, window_filter
from analytics.store import run
from analytics.store import predictions_view
from analytics.window import Window

SLA_MS = settings.declare("business.latency_sla_ms", 100.0,
                          "latency target of the serving SLA, for the percentile below", unit="ms", minimum=0.0)
SLA_PERCENTILE = settings.declare("business.latency_sla_percentile", "p95",
                                  "latency percentile the SLA target applies to", choices=("p50", "p95", "p99"))
PERCENTILES: dict[str, float] = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True)
class LatencyResult:
    """Latency of one model over a window.

    Attributes
    ----------
    by_version : DataFrame
        Per version: ``version``, ``role``, ``predictions``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms``,
        ``mean_per_second`` (predictions per second over the window's days with traffic),
        ``peak_per_second`` (busiest UTC hour), ``breach`` (its SLA percentile above the target).
    daily : DataFrame
        Per UTC day and version: ``day``, ``version``, ``predictions``, ``p50_ms``, ``p95_ms``,
        ``p99_ms``, ``per_second`` (mean), ``breach``.
    breaches : DataFrame
        The rows of ``daily`` in breach, worst first, with ``over_ms`` (percentile minus target).
    sla_ms : float
        The target.
    sla_percentile : str
        ``p50``, ``p95`` or ``p99``.
    """

    by_version: pd.DataFrame
    daily: pd.DataFrame
    breaches: pd.DataFrame
    sla_ms: float
    sla_percentile: str

    @property
    def rows(self) -> int:
        """Predictions behind the figures."""
        return int(self.by_version["predictions"].sum()) if len(self.by_version) else 0


def latency(db: DbLike, model: str, *, window: Window = Window(), use_summaries: bool = True) -> LatencyResult:
    """Latency percentiles per version and per day of ``window`` against the model's SLA, and throughput.

    Every row of the window counts (shadow included). Unless the window has a segment (or ``use_summaries`` is false), whole days and hours come from the
    serving summaries (:mod:`analytics.business._serving`: per-day percentiles, exact per-day latency
    histograms merged for the window's percentiles, hourly counts) and only the partial days and
    hours at the window's edges from the log.
    """

    def work(con: duckdb.DuckDBPyConnection) -> LatencyResult:
        info = open_model(con, model)
        sla = float(settings.get(con, SLA_MS.key, model=model))
        which = str(settings.get(con, SLA_PERCENTILE.key, model=model))
        if use_summaries and window.segment is None and _serving.current(con, info):
            start, end, version = window.start, window.end, window.version
            per_day = _serving.latency_daily(con, info, start, end, version)
            overall = _serving.latency_by_version(con, info, start, end, version)
            hours = _serving.hourly_source(info, start, end, version)
            roles = con.execute(f"SELECT model_version AS version, any_value(deployment_role) AS role FROM {hours.sql} p "
                                "GROUP BY ALL", hours.params).df()
            peaks = con.execute(
                f"""SELECT version, max(n) / 3600.0 AS peak_per_second FROM (
                        SELECT p.model_version AS version, p.hour, sum(p.predictions) AS n FROM {hours.sql} p GROUP BY ALL)
                    GROUP BY version""", hours.params).df()
            overall = roles.merge(overall, on="version")[["version", "role", "predictions", "q", "max_ms"]]
            per_day = per_day[["day", "version", "predictions", "q"]]
        else:
            per_day, overall, peaks = _from_log(con, info, window)
        per_day = per_day.sort_values(["day", "version"])
        days = per_day.groupby("version").size().rename("days").reset_index()  # a frame: an empty window merges too
        overall = overall.merge(days, on="version").merge(peaks, on="version", how="left")
        per_day, overall = per_day.reset_index(drop=True), overall.sort_values("version").reset_index(drop=True)
        return _result(per_day, overall, sla, which)

    return run(db, work)


def _from_log(con: duckdb.DuckDBPyConnection, info, window: Window):
    """Per-day and per-version percentiles and the busiest hour, straight from the log."""
    rows = window_filter(info, window, include_shadow=True)
    where, params = rows.sql, rows.params
    view = predictions_view(info.stem)
    # One scan for the percentiles per day and version and per version (grouping sets), one
    # count-only scan for the busiest hour.
    both = con.execute(
        f"""
        SELECT CAST(date_trunc('day', p.predicted_at) AS DATE) AS day, p.model_version AS version,
               any_value(p.deployment_role) AS role, count(*) AS predictions,
               quantile_cont(p.latency_ms, [0.5, 0.95, 0.99]) AS q, max(p.latency_ms) AS max_ms,
               GROUPING(CAST(date_trunc('day', p.predicted_at) AS DATE)) AS overall
        FROM {view} p WHERE {where} AND p.latency_ms IS NOT NULL
        GROUP BY GROUPING SETS ((CAST(date_trunc('day', p.predicted_at) AS DATE), p.model_version), (p.model_version))
        ORDER BY version, day
        """, params).df()
    peaks = con.execute(
        f"""
        SELECT version, max(n) / 3600.0 AS peak_per_second FROM (
            SELECT p.model_version AS version, date_trunc('hour', p.predicted_at) AS hour, count(*) AS n
            FROM {view} p WHERE {where} GROUP BY ALL) GROUP BY version
        """, params).df()
    per_day = both[both["overall"] == 0][["day", "version", "predictions", "q"]]
    overall = both[both["overall"] == 1].drop(columns=["day", "overall"])
    return per_day, overall, peaks


def _split_quantiles(frame: pd.DataFrame) -> pd.DataFrame:
    q = frame.pop("q")
    for i, name in enumerate(("p50_ms", "p95_ms", "p99_ms")):
        frame[name] = [float(v[i]) if v is not None else float("nan") for v in q]
    return frame


def _result(per_day: pd.DataFrame, overall: pd.DataFrame, sla: float, which: str) -> LatencyResult:
    column = f"{which}_ms"
    daily = _split_quantiles(per_day)
    daily["per_second"] = daily["predictions"] / 86400.0
    daily["breach"] = daily[column] > sla
    by_version = _split_quantiles(overall)
    by_version["mean_per_second"] = by_version["predictions"] / (by_version["days"] * 86400.0)
    by_version["breach"] = by_version[column] > sla
    by_version = by_version.drop(columns="days")
    breaches = daily[daily["breach"]].assign(over_ms=lambda f: f[column] - sla).sort_values(
        "over_ms", ascending=False).reset_index(drop=True)
    return LatencyResult(by_version, daily, breaches, sla, which)


def sla(db: DbLike, model: str) -> dict[str, Any]:
    """The model's SLA: ``{"ms": target, "percentile": "p95"}``."""
    return run(db, lambda con: {"ms": float(settings.get(con, SLA_MS.key, model=model)),
                                 "percentile": str(settings.get(con, SLA_PERCENTILE.key, model=model))})
