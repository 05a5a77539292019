"""The KPI rollups kept in the store per UTC day: hourly KPI sums and the what-if's threshold cells.

The in-memory rollups of :mod:`analytics.business._rollup` are one pass over the model's whole log
joined with its outcomes (seconds on 10 M rows). Kept in the store per UTC day, they are built once
and then only for the days that change, and a fresh process reads them instead of the log.

The summary is declared to the summaries engine (:mod:`analytics.summaries`), whose ledger records
with each day what its rows depend on:

- the log segments whose time range overlaps the day (segments are immutable: the same set, the
  same predictions);
- the KPI definition and the rollup's dimensions (a hash of both, :func:`definition_key`): a changed
  value matrix rebuilds every day;
- the outcomes, which arrive late, for any day: the last committed outcome ingest of the model when
  the day was built. A refresh finds the days of the predictions that the outcome ingests committed
  since then label, and rebuilds those days (and only those).

The days answer as a whole only when every one is fresh (:func:`ready`); otherwise readers use the
log. Only the engine's refresh (after an ingest, ``vigil refresh``) writes them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

import duckdb
import pandas as pd

from analytics import summaries
from analytics.business._definitions import get_definition, has_definition
from analytics.business._sums import SUM_COLUMNS, cell_select, rollup_dimensions, sum_select
from analytics.logschema import quote
from analytics.registry import ModelInfo, get_model
from analytics.store import outcomes_view, predictions_view

#: The what-if grid kept in the store (other grids are computed from the log).
STORED_STEPS = 100


def definition_key(info: ModelInfo, definition) -> str:
    """Hash of the KPI definition and the rollup dimensions the stored rows were computed with."""
    text = json.dumps([definition.to_json(), rollup_dimensions(info, definition), STORED_STEPS])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _key(con: duckdb.DuckDBPyConnection, model: str, scope: str) -> str | None:
    """The model's current definition key (None: no KPI definition, nothing kept)."""
    if not has_definition(con, model):
        return None
    return definition_key(get_model(con, model), get_definition(con, model))


def _build(con: duckdb.DuckDBPyConnection, model: str, scope: str, days: list[date]) -> None:
    """Insert the hourly KPI sums and the daily threshold cells of ``days``, computed from the log."""
    info, definition = get_model(con, model), get_definition(con, model)
    dims = rollup_dimensions(info, definition)
    dim_select = "".join(f", coalesce(CAST(p.{quote(d)} AS VARCHAR), '(missing)') AS d{i}" for i, d in enumerate(dims))
    dim_list = "[" + ", ".join(f"d{i}" for i in range(len(dims))) + "]"  # built after grouping: lists hash slowly
    on_days = summaries.days_filter(days)
    # An outcome is never observed before its prediction: older outcomes cannot match these days.
    join = (f"LEFT JOIN (SELECT prediction_id, label FROM {outcomes_view(info.stem)} WHERE observed_at >= ?) o "
            "ON o.prediction_id = p.prediction_id")
    params = [datetime.combine(min(days), datetime.min.time()), *on_days.params]
    con.execute(
        f"""
        INSERT INTO kpi_hourly (model_name, day, hour, version, role, dims, n, selected, exp_bad_selected, exp_bad_amount_selected, exp_good_amount_selected, labelled, selected_labelled, selected_bad, amount_selected_good, amount_selected_bad, amount_rejected_good, amount_rejected_bad)
        SELECT ?, CAST(hour AS DATE), hour, version, role, CAST({dim_list} AS VARCHAR[]), {', '.join(SUM_COLUMNS)} FROM (
            SELECT date_trunc('hour', p.predicted_at) AS hour, p.model_version AS version,
                   coalesce(p.deployment_role, '') AS role {dim_select}, {sum_select(definition)}
            FROM {predictions_view(info.stem)} p {join} WHERE {on_days.sql} GROUP BY ALL)
        """, [info.name, *params])
    con.execute(
        f"""
        INSERT INTO kpi_cells_daily (model_name, day, version, cell, "group", label, n, amount, exp_bad_amount, exp_good_amount)
        SELECT ?, CAST(date_trunc('day', p.predicted_at) AS DATE), p.model_version, {cell_select(definition, STORED_STEPS)}
        FROM {predictions_view(info.stem)} p {join} WHERE {on_days.sql} AND p.score IS NOT NULL GROUP BY ALL
        """, [info.name, *params])


#: The KPI summary, declared to the summaries engine (which keeps its ledger and refreshes it).
KPI = summaries.register(summaries.Declaration(
    name="kpi", tables=(summaries.SummaryTable("kpi_hourly"), summaries.SummaryTable("kpi_cells_daily")),
    build=_build, key=_key, outcomes=True))


def ready(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition) -> bool:
    """Whether the stored rows answer for the model's current log, outcomes and definition (reads only)."""
    if not summaries.has_segments(con, info.name):
        return False
    return summaries.coverage(con, KPI.name, info.name, key=definition_key(info, definition)).complete


def hourly(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition) -> pd.DataFrame:
    """The stored hourly KPI sums, shaped as :func:`analytics.business._rollup.hourly` builds them."""
    dims = rollup_dimensions(info, definition)
    dim_sql = "".join(f", dims[{i + 1}] AS {quote(d)}" for i, d in enumerate(dims))
    return con.execute(f"SELECT hour, version, role {dim_sql}, {', '.join(SUM_COLUMNS)} FROM kpi_hourly "
                       "WHERE model_name = ?", [info.name]).df()


def daily_cells(con: duckdb.DuckDBPyConnection, info: ModelInfo) -> pd.DataFrame:
    """The stored threshold cells per day and version (grid :data:`STORED_STEPS`)."""
    return con.execute(
        """SELECT CAST(day AS TIMESTAMP) AS day, version, cell, "group", label, n, amount, exp_bad_amount, exp_good_amount
           FROM kpi_cells_daily WHERE model_name = ?""", [info.name]).df()
