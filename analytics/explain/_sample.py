"""Bounded, seeded samples of a model's prediction log and reference data, drawn inside DuckDB.

Rows are ordered by ``hash(prediction_id, seed)`` (then ``prediction_id``) and the first ``n`` kept:
the same seed gives the same rows on every run and every thread count (DuckDB's ``REPEATABLE``
sampling is deterministic only single-threaded), and the cost is one scan of the window with a
top-n. Because the order is a property of each row, the first ``n`` rows of a window are among the
first ``n`` rows of each of its days: the kept sample (:mod:`analytics.explain._kept`) stores each
day's lowest-hash rows and draws a window's sample from them, the same rows as from the log.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time

import duckdb
import pandas as pd

from analytics import business, registry, settings
from analytics.explain._model import VersionInfo
from analytics.logschema import quote
from analytics.store import outcomes_view, predictions_view, reference_table
from analytics.summaries import days_filter
from analytics.window import SqlFilter, Window

SAMPLE_ROWS = settings.declare(
    "explain.sample_rows", 5000, "Rows of the window sampled (seeded) for global SHAP and attribution drift",
    unit="rows", minimum=100, maximum=50_000)
AGNOSTIC_SAMPLE_ROWS = settings.declare(
    "explain.agnostic_sample_rows", 300, "Rows sampled for global SHAP of a model explained by shap's exact or "
    "permutation explainer (no tree explainer): each row costs thousands of model calls", unit="rows",
    minimum=20, maximum=50_000)
#: The column of a sampled frame holding each row's ``hash(prediction_id, seed)``, its place in the sample order.
HASH = "sample_hash"


def version_window(info: VersionInfo, window: Window | None) -> Window:
    """``window`` (default: all time) on the version being explained."""
    return replace(window or Window(), version=info.version)


def window_filter(info: VersionInfo, window: Window | None, alias: str = "p",
                  days: list[date] | None = None) -> SqlFilter:
    """The version's predictions in ``window`` (its span and segment), optionally only on ``days`` (UTC)."""
    where = version_window(info, window).where(info.schema, alias=alias)
    if days is None:
        return where
    on_days = days_filter(days, alias)
    return SqlFilter(f"{where.sql} AND {on_days.sql}", [*where.params, *on_days.params])


def observed_from(window: Window | None, days: list[date] | None = None) -> datetime | None:
    """The earliest time an outcome of the window's rows (on ``days`` when given) can have been observed.

    The ingest refuses an outcome observed before its prediction (and one of no logged prediction), so the
    outcomes of rows predicted from the window's start (and on ``days``) were observed from then on: the
    bound prunes the outcome log's older row groups and matches the same rows. None: no bound.
    """
    bounds = [] if window is None or window.start is None else [window.start]
    if days:
        bounds.append(datetime.combine(min(days), time()))
    return max(bounds) if bounds else None


def count_window(con: duckdb.DuckDBPyConnection, info: VersionInfo, window: Window | None) -> int:
    """Predictions of the version in the window (from the serving summary where it answers: the same count)."""
    return business.window_count(con, registry.get_model(con, info.model), version_window(info, window))


def sample_window(con: duckdb.DuckDBPyConnection, info: VersionInfo, window: Window | None, n: int, seed: int, *,
                  labelled: bool = False, columns: list[str] | None = None,
                  days: list[date] | None = None) -> pd.DataFrame:
    """Up to ``n`` predictions of the version in the window (with their label when ``labelled``), in sample order.

    Parameters
    ----------
    columns : list of str, optional
        Only these columns of the log (default all); the same rows either way, and fewer columns to
        decode for every row of the window (global SHAP needs the inputs and the id only).
    days : list of date, optional
        Only the window's rows on these UTC days (the days a kept sample does not answer).

    Returns
    -------
    DataFrame
        :data:`HASH` (the sample order), the columns, and ``label`` when ``labelled``.
    """
    where = window_filter(info, window, days=days)
    picked = "p.*" if columns is None else ", ".join(f"p.{quote(c)}" for c in columns)
    source = f"{predictions_view(info.stem)} p"
    if labelled:
        picked += ", o.label"
        source += f" JOIN {outcomes_view(info.stem)} o USING (prediction_id)"
        where = SqlFilter(f"{where.sql} AND o.label IS NOT NULL", where.params)
        since = observed_from(window, days)
        if since is not None:
            where = SqlFilter(f"{where.sql} AND o.observed_at >= ?", [*where.params, since])
    sql = (f"SELECT hash(p.prediction_id, ?) AS {HASH}, {picked} FROM {source} WHERE {where.sql} "
           f"ORDER BY {HASH}, p.prediction_id LIMIT ?")
    return con.execute(sql, [int(seed), *where.params, int(n)]).df()


def sample_reference(con: duckdb.DuckDBPyConnection, info: VersionInfo, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` reference rows of the version (all of them when there are fewer), seeded."""
    frame = con.execute(f"SELECT * EXCLUDE (model_version) FROM {reference_table(info.stem)} WHERE model_version = ?",
                        [info.version]).df()
    if len(frame) > n:
        frame = frame.sample(n=n, random_state=seed)
    return frame.reset_index(drop=True)


def sample_size(con: duckdb.DuckDBPyConnection, model: str, sample_rows: int | None, *, agnostic: bool) -> int:
    """Rows to explain: as asked, else the setting; capped for model-agnostic explainers (``agnostic``)."""
    n = sample_rows or settings.get(con, SAMPLE_ROWS.key, model=model)
    if agnostic:
        n = min(int(n), int(settings.get(con, AGNOSTIC_SAMPLE_ROWS.key, model=model)))
    return int(n)
