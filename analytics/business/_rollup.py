"""Hourly rollup of the KPI sums and daily threshold cells of the what-if, held in process memory.

The KPI sums (:data:`analytics.business._sums.SUM_COLUMNS`) are additive, so any window can be
answered from hourly sums: whole hours inside the window from the rollup, and the partial hours at
its edges (a window that starts "90 days before now" starts mid-hour) by the exact query on those
few minutes of log. The rollup is grouped by hour, version, deployment role, every segment column
and the fairness attribute; :func:`hourly_by` sums it further to the few dimensions a query needs
(a window's KPIs without a breakdown need only the attribute), sorted by hour so that a window is a
binary search and a slice.

The frames are loaded from the rollups kept in the store per UTC day
(:mod:`analytics.business._kpi_store`) when those are current, and otherwise computed in one pass
over the model's log joined with its outcomes. They are kept in memory for the model's own data token
(:func:`model_token`: its committed prediction and outcome ingests) and its KPI definition, so an
ingest of its predictions, late outcomes or a changed value matrix reload them, while other models'
ingests and governance actions (approvals, settings) leave them alone. The answer is the same as the
exact query's (sums in a different order: equal to floating-point rounding), which the tests check.
"""

from __future__ import annotations


import duckdb
import pandas as pd

from analytics.business import _kpi_store
from analytics.business._sums import SUM_COLUMNS, cell_select, rollup_dimensions, sum_select
from analytics.logschema import quote
from analytics.memo import Memo
from analytics.registry import ModelInfo
from analytics.store import predictions_view, store_path

_ROLLUPS: Memo[pd.DataFrame] = Memo(16)


def model_token(con: duckdb.DuckDBPyConnection, model: str) -> str:
    """The model's data token: how many of its ingests (predictions and outcomes) are committed, and the last.

    The rollups read only the model's prediction segments and outcome rows, and those change only
    when one of its ingests commits.
    """
    count, last = con.execute("SELECT count(*), coalesce(max(ingest_id), 0) FROM ingests "
                              "WHERE model_name = ? AND status = 'committed'", [model]).fetchone()
    return f"{count}-{last}"


def hourly(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition) -> pd.DataFrame:
    """The model's hourly KPI sums (built once per data version and definition)."""
    key = (str(store_path(con)), model_token(con, info.name), info.stem, definition.to_json())
    return _ROLLUPS.get(key, lambda: _hourly(con, info, definition))


def _hourly(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition) -> pd.DataFrame:
    if _kpi_store.ready(con, info, definition):
        frame = _kpi_store.hourly(con, info, definition)
    else:
        dims = rollup_dimensions(info, definition)
        dim_sql = "".join(f", coalesce(CAST(p.{quote(d)} AS VARCHAR), '(missing)') AS {quote(d)}" for d in dims)
        frame = con.execute(
            f"""
            SELECT date_trunc('hour', p.predicted_at) AS hour, p.model_version AS version,
                   coalesce(p.deployment_role, '') AS role {dim_sql}, {sum_select(definition)}
            FROM {predictions_view(info.stem)} p
            LEFT JOIN (SELECT prediction_id, label FROM outcomes_{info.stem}) o ON o.prediction_id = p.prediction_id
            GROUP BY ALL
            """).df()
    for column in SUM_COLUMNS:
        frame[column] = frame[column].astype(float)
    frame["hour"] = pd.to_datetime(frame["hour"])
    return frame


def hourly_by(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition, dims: list[str]) -> pd.DataFrame:
    """The hourly rollup summed over every dimension but ``dims`` (a subset of :func:`rollup_dimensions`),
    sorted by hour (built once per data version, definition and ``dims``).

    A window's KPIs without a breakdown need only the fairness attribute, so they read a frame a
    fraction of the full rollup's size, sliced by hour with a binary search.
    """
    key = ("by", str(store_path(con)), model_token(con, info.name), info.stem, definition.to_json(), tuple(dims))

    def summed() -> pd.DataFrame:
        keys = ["hour", "version", "role", *dims]
        return (hourly(con, info, definition).groupby(keys, sort=True, dropna=False, observed=True)[list(SUM_COLUMNS)]
                .sum().reset_index())
    return _ROLLUPS.get(key, summed)


def daily_cells(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition, steps: int) -> pd.DataFrame:
    """The threshold cells of the what-if per UTC day and version (built once per data version)."""
    key = ("cells", str(store_path(con)), model_token(con, info.name), info.stem, definition.to_json(), steps)
    return _ROLLUPS.get(key, lambda: _daily_cells(con, info, definition, steps))


def _daily_cells(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition, steps: int) -> pd.DataFrame:
    if steps == _kpi_store.STORED_STEPS and _kpi_store.ready(con, info, definition):
        frame = _kpi_store.daily_cells(con, info)
    else:
        frame = con.execute(
            f"""
            SELECT date_trunc('day', p.predicted_at) AS day, p.model_version AS version, {cell_select(definition, steps)}
            FROM {predictions_view(info.stem)} p
            LEFT JOIN (SELECT prediction_id, label FROM outcomes_{info.stem}) o ON o.prediction_id = p.prediction_id
            WHERE p.score IS NOT NULL
            GROUP BY ALL
            """).df()
    frame["day"] = pd.to_datetime(frame["day"])
    return frame
