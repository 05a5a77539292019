"""Bounded, seeded samples of a model's prediction log and reference data, drawn inside DuckDB.

Rows are ordered by ``hash(prediction_id, seed)`` and the first ``n`` kept: the same seed gives the
same rows on every run and every thread count (DuckDB's ``REPEATABLE`` sampling is deterministic
only single-threaded), and the cost is one scan of the window with a top-n.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from analytics.window import time_bounds
from analytics.explain._model import VersionInfo
from analytics.logschema import quote
from analytics.store import outcomes_view, predictions_view, reference_table


def window_filter(info: VersionInfo, start: datetime | None, end: datetime | None,
                  alias: str = "p") -> tuple[str, list]:
    """SQL condition and parameters for one version's predictions in ``[start, end)``."""
    bounds = time_bounds(f"{alias}.predicted_at", start, end)
    return f"{alias}.model_version = ? AND {bounds.sql}", [info.version, *bounds.params]


def count_window(con: duckdb.DuckDBPyConnection, info: VersionInfo, start: datetime | None,
                 end: datetime | None) -> int:
    """Predictions of the version in the window."""
    where, params = window_filter(info, start, end)
    return int(con.execute(f"SELECT count(*) FROM {predictions_view(info.stem)} p WHERE {where}", params).fetchone()[0])


def sample_window(con: duckdb.DuckDBPyConnection, info: VersionInfo, start: datetime | None,
                  end: datetime | None, n: int, seed: int, *, labelled: bool = False,
                  columns: list[str] | None = None) -> pd.DataFrame:
    """Up to ``n`` predictions of the version in the window (with their label when ``labelled``).

    ``columns``: only these columns of the log (default all); the same rows either way, and fewer
    columns to decode for every row of the window (global SHAP needs the inputs and the id only).
    """
    where, params = window_filter(info, start, end)
    picked = "p.*" if columns is None else ", ".join(f"p.{quote(c)}" for c in columns)
    if labelled:
        sql = (f"SELECT {picked}, o.label FROM {predictions_view(info.stem)} p "
               f"JOIN {outcomes_view(info.stem)} o USING (prediction_id) WHERE {where} AND o.label IS NOT NULL "
               "ORDER BY hash(p.prediction_id, ?), p.prediction_id LIMIT ?")
    else:
        sql = (f"SELECT {picked} FROM {predictions_view(info.stem)} p WHERE {where} "
               "ORDER BY hash(p.prediction_id, ?), p.prediction_id LIMIT ?")
    return con.execute(sql, [*params, int(seed), int(n)]).df()


def sample_reference(con: duckdb.DuckDBPyConnection, info: VersionInfo, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` reference rows of the version (all of them when there are fewer), seeded."""
    frame = con.execute(f"SELECT * EXCLUDE (model_version) FROM {reference_table(info.stem)} WHERE model_version = ?",
                        [info.version]).df()
    if len(frame) > n:
        frame = frame.sample(n=n, random_state=seed)
    return frame.reset_index(drop=True)
