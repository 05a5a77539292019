"""The KPI rollups kept in the store per UTC day: hourly KPI sums and the what-if's threshold cells.

The in-memory rollups of :mod:`analytics.business._rollup` are one pass over the model's whole log
joined with its outcomes (seconds on 10 M rows). Kept in the store per UTC day, they are built once
and then only for the days that change, and a fresh process reads them instead of the log.

A day's rows depend on three things, recorded with the day in ``kpi_summary_days``:

- the log segments whose time range overlaps the day (segments are immutable: the same set, the
  same predictions), as for the serving summaries (:mod:`analytics.business._serving`);
- the KPI definition and the rollup's dimensions (a hash of both): a changed value matrix rebuilds
  every day;
- the outcomes, which arrive late, for any day: ``outcomes_through`` is the last committed outcome
  ingest of the model when the day was built. A refresh finds the days of the predictions that the
  outcome ingests committed since then label, and rebuilds those days (and only those).

The days are valid as a whole only when none is stale and every day has seen the model's last
outcome ingest; otherwise readers use the log (:func:`ready`), and :func:`ensure` refreshes first
when it may write.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from analytics.logschema import quote
from analytics.errors import StoreBusyError
from analytics.registry import ModelInfo
from analytics.store import outcome_table, outcomes_view, predictions_view
from analytics.store._segments import store_path

#: The what-if grid kept in the store (other grids are computed from the log).
STORED_STEPS = 100


def definition_key(info: ModelInfo, definition) -> str:
    """Hash of the KPI definition and the rollup dimensions the stored rows were computed with."""
    from analytics.business._rollup import rollup_dimensions

    text = json.dumps([definition.to_json(), rollup_dimensions(info, definition), STORED_STEPS])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _outcomes_through(con: duckdb.DuckDBPyConnection, model: str) -> int:
    return int(con.execute("SELECT coalesce(max(ingest_id), 0) FROM ingests WHERE model_name = ? "
                           "AND kind = 'outcomes' AND status = 'committed'", [model]).fetchone()[0])


def _segment_stale(con: duckdb.DuckDBPyConnection, info: ModelInfo, key: str) -> tuple[list, list]:
    """Days whose segments or definition changed (or new), and stored days no segment covers."""
    from analytics.business._serving import _DAY_SEGMENTS

    rows = con.execute(
        f"""
        WITH now_ AS ({_DAY_SEGMENTS}),
             kept AS (SELECT day, segments, definition FROM kpi_summary_days WHERE model_name = ?)
        SELECT coalesce(now_.day, kept.day) AS day, now_.day IS NULL AS orphan
        FROM now_ FULL OUTER JOIN kept ON now_.day = kept.day
        WHERE now_.segments IS DISTINCT FROM kept.segments OR kept.definition IS DISTINCT FROM ?
        ORDER BY 1
        """, [info.name, info.name, key]).fetchall()
    return [r[0] for r in rows if not r[1]], [r[0] for r in rows if r[1]]


def ready(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition) -> bool:
    """Whether the stored rows answer for the model's current log, outcomes and definition."""
    if not con.execute("SELECT count(*) FROM log_segments WHERE model_name = ?", [info.name]).fetchone()[0]:
        return False
    stale, orphans = _segment_stale(con, info, definition_key(info, definition))
    if stale or orphans:
        return False
    through = con.execute("SELECT min(outcomes_through) FROM kpi_summary_days WHERE model_name = ?",
                          [info.name]).fetchone()[0]
    return through is not None and through >= _outcomes_through(con, info.name)


def refresh(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition) -> int:
    """Rebuild the stale days of the model's stored KPI rollups (call inside a write transaction).

    Returns the number of days rebuilt.
    """
    key = definition_key(info, definition)
    stale, orphans = _segment_stale(con, info, key)
    current = _outcomes_through(con, info.name)
    through = con.execute("SELECT min(outcomes_through) FROM kpi_summary_days WHERE model_name = ?",
                          [info.name]).fetchone()[0]
    if through is not None and through < current:
        # Days labelled by outcome ingests committed since the stored days were built.
        labelled = con.execute(
            f"""
            SELECT DISTINCT CAST(p.predicted_at AS DATE) FROM {predictions_view(info.stem)} p
            WHERE p.prediction_id IN (
                SELECT o.prediction_id FROM {outcome_table(info.stem)} o
                WHERE o.ingest_id > ? AND o.ingest_id IN (
                    SELECT ingest_id FROM ingests WHERE model_name = ? AND kind = 'outcomes' AND status = 'committed'))
            """, [through, info.name]).fetchall()
        covered = {r[0] for r in con.execute(
            "SELECT day FROM kpi_summary_days WHERE model_name = ?", [info.name]).fetchall()}
        stale = sorted(set(stale) | ({r[0] for r in labelled} & covered))
    gone = stale + orphans
    if gone:
        for table in ("kpi_hourly", "kpi_cells_daily", "kpi_summary_days"):
            con.execute(f"DELETE FROM {table} WHERE model_name = ? AND list_contains(?, day)", [info.name, gone])
    if stale:
        _insert_days(con, info, definition, key, stale, current)
    # The outcome ingests up to `current` label no other stored day.
    con.execute("UPDATE kpi_summary_days SET outcomes_through = ? WHERE model_name = ? AND outcomes_through < ?",
                [current, info.name, current])
    return len(stale)


def _insert_days(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition, key: str, days: list,
                 through: int) -> None:
    from datetime import datetime

    from analytics.business._kpis import SUM_COLUMNS, _sum_select
    from analytics.business._rollup import rollup_dimensions
    from analytics.business._serving import _DAY_SEGMENTS, days_filter
    from analytics.business._whatif import _cell_select

    dims = rollup_dimensions(info, definition)
    dim_select = "".join(f", coalesce(CAST(p.{quote(d)} AS VARCHAR), '(missing)') AS d{i}" for i, d in enumerate(dims))
    dim_list = "[" + ", ".join(f"d{i}" for i in range(len(dims))) + "]"  # built after grouping: lists hash slowly
    where, where_params = days_filter(days)
    # An outcome is never observed before its prediction: older outcomes cannot match these days.
    join = (f"LEFT JOIN (SELECT prediction_id, label FROM {outcomes_view(info.stem)} WHERE observed_at >= ?) o "
            "ON o.prediction_id = p.prediction_id")
    params = [datetime.combine(min(days), datetime.min.time()), *where_params]
    con.execute(
        f"""
        INSERT INTO kpi_hourly (model_name, day, hour, version, role, dims, n, selected, exp_bad_selected, exp_bad_amount_selected, exp_good_amount_selected, labelled, selected_labelled, selected_bad, amount_selected_good, amount_selected_bad, amount_rejected_good, amount_rejected_bad)
        SELECT ?, CAST(hour AS DATE), hour, version, role, CAST({dim_list} AS VARCHAR[]), {', '.join(SUM_COLUMNS)} FROM (
            SELECT date_trunc('hour', p.predicted_at) AS hour, p.model_version AS version,
                   coalesce(p.deployment_role, '') AS role {dim_select}, {_sum_select(definition)}
            FROM {predictions_view(info.stem)} p {join} WHERE {where} GROUP BY ALL)
        """, [info.name, *params])
    con.execute(
        f"""
        INSERT INTO kpi_cells_daily (model_name, day, version, cell, "group", label, n, amount, exp_bad_amount, exp_good_amount)
        SELECT ?, CAST(date_trunc('day', p.predicted_at) AS DATE), p.model_version, {_cell_select(definition, STORED_STEPS)}
        FROM {predictions_view(info.stem)} p {join} WHERE {where} AND p.score IS NOT NULL GROUP BY ALL
        """, [info.name, *params])
    con.execute(
        f"""
        INSERT INTO kpi_summary_days (model_name, day, definition, segments, outcomes_through, built_at)
        SELECT ?, day, ?, segments, ?, now()::TIMESTAMP FROM ({_DAY_SEGMENTS}) WHERE list_contains(?, day)
        """, [info.name, key, through, info.name, days])


_READY: set[tuple] = set()


def ensure(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition, db: Any) -> bool:
    """Whether the stored rollups answer now, refreshing them first when ``db`` is a path (not a connection).

    Once found current, they stay current until the model's next committed ingest or a new definition
    (only a refresh writes them), so the answer is remembered for the model's data token.
    """
    from analytics.business._rollup import _database_file, model_token

    key = (_database_file(con), model_token(con, info.name), definition_key(info, definition))
    if key in _READY:
        return True
    if _ensure(con, info, definition, db):
        if len(_READY) > 256:
            _READY.clear()
        _READY.add(key)
        return True
    return False


def _ensure(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition, db: Any) -> bool:
    if ready(con, info, definition):
        return True
    if isinstance(db, duckdb.DuckDBPyConnection):
        return False
    if not con.execute("SELECT count(*) FROM log_segments WHERE model_name = ?", [info.name]).fetchone()[0]:
        return False
    from analytics import store

    path = Path(db) if db is not None else store_path(con)
    try:
        store.write(lambda w: refresh(w, info, definition), path)
    except StoreBusyError:  # the log still answers, only slower
        return False
    return ready(con, info, definition)


def hourly(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition) -> pd.DataFrame:
    """The stored hourly KPI sums, shaped as :func:`analytics.business._rollup.hourly` builds them."""
    from analytics.business._kpis import SUM_COLUMNS
    from analytics.business._rollup import rollup_dimensions

    dims = rollup_dimensions(info, definition)
    dim_sql = "".join(f", dims[{i + 1}] AS {quote(d)}" for i, d in enumerate(dims))
    return con.execute(f"SELECT hour, version, role {dim_sql}, {', '.join(SUM_COLUMNS)} FROM kpi_hourly "
                       "WHERE model_name = ?", [info.name]).df()


def daily_cells(con: duckdb.DuckDBPyConnection, info: ModelInfo) -> pd.DataFrame:
    """The stored threshold cells per day and version (grid :data:`STORED_STEPS`)."""
    return con.execute(
        """SELECT CAST(day AS TIMESTAMP) AS day, version, cell, "group", label, n, amount, exp_bad_amount, exp_good_amount
           FROM kpi_cells_daily WHERE model_name = ?""", [info.name]).df()
