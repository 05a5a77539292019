"""What an engine computes for each stored summary, and how its rows are merged into the store.

A :class:`Plan` is one declared summary's days to build (the stale ones, or every day on a rebuild),
the Ibis queries that compute their rows from the log (and the outcomes), and the merge that inserts
them into the summary's tables in the summaries engine's refresh. :func:`plans` makes one per summary
the store keeps for a model: the drift rollups of a version, serving, KPI (with a KPI definition),
fairness cells (with sensitive attributes) and performance cells.

The merge is where the two engines' rows become the store's rows: list columns are made from their
items (a KPI row's dimensions, a cell's groups), and each day's latency percentiles are computed from
the exact latency histogram, by DuckDB's own interpolation (:data:`LATENCY_DAILY`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import duckdb
import ibis.expr.types as ir
import pyarrow as pa

from analytics import business, drift, fairness, performance, summaries
from analytics.errors import InvalidInputError
from analytics.logschema import LogSchema
from analytics.registry import champion_version, get_model, list_versions
from analytics.scaleout._business_queries import kpi_cells, kpi_hourly, serving_hourly, serving_latency
from analytics.scaleout._fairness_queries import fairness_cells
from analytics.scaleout._performance_queries import performance_cells
from analytics.scaleout._queries import rollup_query

#: Per table, its rows from an engine's frame ``rows`` (columns of :mod:`analytics.scaleout._business_queries`,
#: :mod:`~analytics.scaleout._fairness_queries`, :mod:`~analytics.scaleout._performance_queries`,
#: :func:`~analytics.scaleout._queries.rollup_query`): ``{lists}`` is replaced by the list columns, parameters
#: are the model (and the version), then the days.
_INSERTS: dict[str, str] = {
    "drift_rollup": "INSERT INTO drift_rollup (model_name, model_version, day, column_name, bin, category, n, total, vmin, vmax) "
                    "SELECT ?, ?, day, column_name, bin, category, n, total, vmin, vmax FROM rows WHERE list_contains(?, day)",
    "serving_hourly": "INSERT INTO serving_hourly (model_name, hour, version, role, decision, predictions, cost_usd, first_at, "
                      "last_at) SELECT ?, hour, version, role, decision, predictions, cost_usd, first_at, last_at FROM rows "
                      "WHERE list_contains(?, CAST(hour AS DATE))",
    "serving_latency": "INSERT INTO serving_latency (model_name, day, version, latency_ms, n) SELECT ?, day, version, "
                       "latency_ms, n FROM rows WHERE list_contains(?, day) ORDER BY day, version, latency_ms",
    "kpi_hourly": f"INSERT INTO kpi_hourly (model_name, day, hour, version, role, dims, {', '.join(business.SUM_COLUMNS)}) "
                  f"SELECT ?, CAST(hour AS DATE), hour, version, role, CAST({{lists}} AS VARCHAR[]), "
                  f"{', '.join(business.SUM_COLUMNS)} FROM rows WHERE list_contains(?, CAST(hour AS DATE))",
    "kpi_cells_daily": 'INSERT INTO kpi_cells_daily (model_name, day, version, cell, "group", label, n, amount, exp_bad_amount, '
                       'exp_good_amount) SELECT ?, day, version, cell, "group", label, n, amount, exp_bad_amount, '
                       'exp_good_amount FROM rows WHERE list_contains(?, day)',
    "fairness_cells": "INSERT INTO fairness_cells (model_name, version, day, groups, decision, label, n, value) "
                      "SELECT ?, version, day, {lists}, decision, label, n, value FROM rows WHERE list_contains(?, day)",
    "performance_cells": f"INSERT INTO performance_cells (model_name, day, version, segment, segment_value, "
                         f"{', '.join(performance.CELL_COLUMNS)}) SELECT ?, day, version, segment, segment_value, "
                         f"{', '.join(performance.CELL_COLUMNS)} FROM rows WHERE list_contains(?, day)",
}


def _latency_daily_sql() -> str:
    """``serving_latency_daily`` of the days ``?`` from the exact latency histogram ``rows`` (parameters: the
    model, the days): each percentile as DuckDB's ``quantile_cont`` computes it on the latencies themselves.

    With ``n`` latencies sorted, ``RN = (n - 1) q``, and the values ``lo``, ``hi`` at 0-based ranks
    ``floor(RN)`` and ``ceil(RN)``: ``lo`` when they are the same rank, else ``lo (1 - d) + hi d`` with
    ``d = RN - floor(RN)``, in doubles, in DuckDB's order of operations. A value's ranks end at the running count of the
    sorted histogram, so the value at rank ``r`` is the least value whose running count exceeds ``r``.
    (Spark's ``percentile`` computes ``(ceil - RN) lo + (RN - floor) hi``, which can differ in the last bit.)
    """
    ranks = ", ".join(f"CAST(n - 1 AS DOUBLE) * CAST({q!r} AS DOUBLE) AS rn{i}"
                      for i, q in enumerate(business.QUANTILES))
    ends = ", ".join(f"min(h.latency_ms) FILTER (WHERE h.upto > floor(r.rn{i})) AS lo{i}, "
                     f"min(h.latency_ms) FILTER (WHERE h.upto > ceil(r.rn{i})) AS hi{i}"
                     for i in range(len(business.QUANTILES)))
    values = ", ".join(f"CASE WHEN floor(rn{i}) = ceil(rn{i}) THEN lo{i} "
                       f"ELSE lo{i} * (1.0 - (rn{i} - floor(rn{i}))) + hi{i} * (rn{i} - floor(rn{i})) END"
                       for i in range(len(business.QUANTILES)))
    return f"""
        INSERT INTO serving_latency_daily (model_name, day, version, n, p50_ms, p95_ms, p99_ms, max_ms)
        WITH h AS (SELECT day, version, latency_ms,
                          sum(n) OVER (PARTITION BY day, version ORDER BY latency_ms
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto
                   FROM rows WHERE list_contains($2, day)),
             r AS (SELECT day, version, n, max_ms, {ranks}
                   FROM (SELECT day, version, CAST(max(upto) AS BIGINT) AS n, max(latency_ms) AS max_ms FROM h GROUP BY ALL))
        SELECT $1, day, version, n, {values}, max_ms FROM (
            SELECT r.day, r.version, r.n, r.max_ms, {', '.join(f'r.rn{i}' for i in range(len(business.QUANTILES)))}, {ends}
            FROM r JOIN h ON h.day = r.day AND h.version IS NOT DISTINCT FROM r.version GROUP BY ALL)
        """


#: The serving summary's daily percentiles, from the merged latency histogram.
LATENCY_DAILY = _latency_daily_sql()

#: The engine's queries of a plan: ``(log, outcomes) -> {table: query}``.
Queries = Callable[[ir.Table, "ir.Table | None"], dict[str, ir.Table]]


@dataclass(frozen=True)
class Plan:
    """One stored summary's days to build on an engine, the queries that compute them, and their merge.

    Attributes
    ----------
    summary : str
        The declaration's name (``drift``, ``serving``, ``kpi``, ``fairness``, ``performance``).
    scope : str
        Its scope (the version for drift, ``''`` otherwise).
    days : tuple of date
        The UTC days to build.
    queries : callable
        ``queries(log, outcomes)``: per table of the summary, the Ibis query of the rows of ``days``.
    outcomes : bool
        The queries read the outcomes.
    params : tuple
        The parameters of the tables' inserts before the days (the model, and the version for drift).
    lists : str
        The SQL of the list column made from the rows' item columns (``[d0, d1]``), if any.
    """

    summary: str
    scope: str
    days: tuple[date, ...]
    queries: Queries
    outcomes: bool = False
    params: tuple = ()
    lists: str = ""

    def merge(self, con: duckdb.DuckDBPyConnection, rows: dict[str, pa.Table], days: list[date]) -> None:
        """Insert the engine's ``rows`` (per table) of ``days`` into the summary's tables (the refresh's transaction)."""
        for table, frame in rows.items():
            _insert(con, _INSERTS[table].replace("{lists}", self.lists), frame, [*self.params, days])
            if table == "serving_latency":
                _insert(con, LATENCY_DAILY, frame, [self.params[0], days])


def _insert(con: duckdb.DuckDBPyConnection, sql: str, frame: pa.Table, params: list) -> None:
    con.register("rows", frame)
    try:
        con.execute(sql, params)
    finally:
        con.unregister("rows")


def _days(con: duckdb.DuckDBPyConnection, summary: str, model: str, scope: str, rebuild: bool) -> tuple[date, ...] | None:
    """The days of ``summary`` to build (None when the model keeps no such summary): the stale ones, or every
    day of the log when rebuilding."""
    if summaries.declaration(summary).key(con, model, scope) is None:
        return None
    if rebuild:
        return tuple(r[0] for r in con.execute(f"SELECT day FROM ({summaries.DAY_SEGMENTS}) ORDER BY 1", [model]).fetchall())
    return tuple(summaries.stale_days(con, summary, model, scope=scope)[0])


def _drift(con: duckdb.DuckDBPyConnection, model: str, version: str | None, rebuild: bool) -> Plan | None:
    chosen = version or champion_version(con, model)
    if chosen is None:
        raise InvalidInputError(f"{model} has no champion version: name one with --version")
    days = _days(con, drift.DRIFT_ROLLUPS.name, model, chosen, rebuild)
    if days is None:
        return None
    columns = drift.rollup_columns(con, model, chosen)
    return Plan(drift.DRIFT_ROLLUPS.name, chosen, days,
                lambda log, _: {"drift_rollup": rollup_query(log, chosen, list(days), columns)}, params=(model, chosen))


def _serving(con: duckdb.DuckDBPyConnection, model: str, rebuild: bool) -> Plan | None:
    days = _days(con, business.SERVING.name, model, "", rebuild)
    if days is None:
        return None
    return Plan(business.SERVING.name, "", days, lambda log, _: {"serving_hourly": serving_hourly(log, list(days)),
                                                                  "serving_latency": serving_latency(log, list(days))},
                params=(model,))


def _kpi(con: duckdb.DuckDBPyConnection, model: str, rebuild: bool) -> Plan | None:
    days = _days(con, business.KPI.name, model, "", rebuild)
    if days is None:
        return None
    definition = business.get_definition(con, model)
    dims = business.rollup_dimensions(get_model(con, model), definition)
    return Plan(business.KPI.name, "", days,
                lambda log, outcomes: {
                    "kpi_hourly": kpi_hourly(log, outcomes, list(days), definition, dims),
                    "kpi_cells_daily": kpi_cells(log, outcomes, list(days), definition, business.STORED_STEPS)},
                outcomes=True, params=(model,), lists="[" + ", ".join(f"d{i}" for i in range(len(dims))) + "]")


def _fairness(con: duckdb.DuckDBPyConnection, model: str, rebuild: bool) -> Plan | None:
    days = _days(con, fairness.FAIRNESS_CELLS.name, model, "", rebuild)
    if days is None:
        return None
    schema = con.execute("SELECT log_schema FROM models WHERE model_name = ?", [model]).fetchone()[0]
    attributes = fairness.sensitive_attributes(LogSchema.from_json(schema))
    return Plan(fairness.FAIRNESS_CELLS.name, "", days,
                lambda log, outcomes: {"fairness_cells": fairness_cells(log, outcomes, list(days), attributes)},
                outcomes=True, params=(model,), lists="[" + ", ".join(f"g{i}" for i in range(len(attributes))) + "]")


def _performance(con: duckdb.DuckDBPyConnection, model: str, rebuild: bool) -> Plan | None:
    days = _days(con, performance.PERFORMANCE_CELLS.name, model, "", rebuild)
    if days is None:
        return None
    versions = list_versions(con, model)
    thresholds = dict(zip(versions["version"], versions["threshold"].astype(float)))
    segments = performance.cell_segments(get_model(con, model).schema)
    return Plan(performance.PERFORMANCE_CELLS.name, "", days,
                lambda log, outcomes: {"performance_cells": performance_cells(log, outcomes, list(days), thresholds,
                                                                              segments)},
                outcomes=True, params=(model,))


def plans(con: duckdb.DuckDBPyConnection, model: str, *, version: str | None = None,
          rebuild: bool = False) -> tuple[Plan, ...]:
    """A plan per summary the store keeps for ``model`` (drift of ``version``, default the champion; serving;
    KPI; fairness cells; performance cells), with the days to build: the stale ones, or every day with
    ``rebuild``. Reads only."""
    made = (_drift(con, model, version, rebuild), _serving(con, model, rebuild), _kpi(con, model, rebuild),
            _fairness(con, model, rebuild), _performance(con, model, rebuild))
    return tuple(p for p in made if p is not None)
