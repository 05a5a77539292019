"""Business view of a model: KPIs from a value matrix kept in the store, threshold what-if, cost and latency.

- :class:`KpiDefinition`, :func:`get_definition`, :func:`save_definition`: the value matrix of a
  model's decisions and the targets of its business case, one row per model in ``kpi_definitions``.
- :func:`kpis`: KPIs over a window and segment, against the previous period and the targets.
- :func:`threshold_whatif`: approval rate, profit and demographic parity ratio per threshold.
- :func:`cost`: cost per prediction, per 1,000, per day and version, per selected decision, budget.
- :func:`add_infra_cost`, :func:`infra_costs`: recorded infrastructure costs (admin-entered, audited).
- :func:`latency`: p50 / p95 / p99 per window, day and version against the SLA; breaches; throughput.
- :func:`champion_challenger`: both versions' KPIs, cost and latency on the same traffic.

- :func:`refresh_summaries`: bring the per-day summaries kept in the store up to date (readers do it
  themselves when they find a day stale; ``vigil kpis refresh`` does it after an ingest).
- :data:`SERVING`, :data:`KPI`, :data:`QUANTILES`, :data:`STORED_STEPS`, :func:`rollup_dimensions`: the
  serving and KPI summaries declared to the summaries engine, what they keep (the daily latency
  percentiles, the what-if grid) and the KPI rollup's dimensions, for another engine that computes
  their rows (Spark, :mod:`analytics.scaleout`).
- :func:`newest_hours`: where a window's newest predictions start, counted on the serving summary (the
  prediction lookup reads only those hours of the log); :func:`window_count`: a window's predictions, from
  the serving summary where it answers.

Every aggregation runs in DuckDB; the functions take the store (path or connection) first and
return small frames, so the app caches them with ``app.queries.query``. Windows are answered from
per-day summaries kept in the store and keyed by the immutable log segments (serving traffic, cost
and exact latency histograms in :mod:`~analytics.business._serving`; KPI sums and what-if cells,
which also follow late outcomes, in :mod:`~analytics.business._kpi_store`), plus exact queries on
the log for the partial hours or days at a window's edges.
"""

from analytics.business._compare import Comparison, champion_challenger
from analytics.business._cost import (
    INFRA_CATEGORIES,
    MONTHLY_BUDGET,
    RUN_RATE_DAYS,
    CostResult,
    add_infra_cost,
    cost,
    delete_infra_cost,
    infra_costs,
    month_bounds,
)
from analytics.business._definitions import (
    TARGET_KPIS,
    KpiDefinition,
    definition_models,
    get_definition,
    has_definition,
    save_definition,
    with_changes,
)
from analytics.business._format import NOT_COMPUTABLE, format_measure
from analytics.business._kpis import (
    KPI_META,
    SUM_COLUMNS,
    KpiResult,
    breakdown_columns,
    kpi_label,
    kpi_sums,
    kpis,
    kpis_from_sums,
)
from analytics.business._kpi_store import KPI, STORED_STEPS
from analytics.business._serving import QUANTILES, SERVING
from analytics.business._serving import current as serving_summaries_current
from analytics.business._serving import hourly_source as serving_hourly_source
from analytics.business._serving import newest_hours, window_count
from analytics.business._serving import refresh_store as refresh_summaries
from analytics.business._latency import PERCENTILES, SLA_MS, SLA_PERCENTILE, LatencyResult, latency, sla
from analytics.business._sums import rollup_dimensions
from analytics.business._whatif import CURVE_COLUMNS, ThresholdWhatIf, threshold_whatif

__all__ = [
    "CURVE_COLUMNS", "INFRA_CATEGORIES", "KPI", "KPI_META", "QUANTILES", "SERVING", "STORED_STEPS", "MONTHLY_BUDGET", "PERCENTILES", "RUN_RATE_DAYS", "SLA_MS",
    "SLA_PERCENTILE", "SUM_COLUMNS", "TARGET_KPIS", "Comparison", "CostResult", "KpiDefinition", "KpiResult",
    "LatencyResult", "ThresholdWhatIf", "add_infra_cost", "champion_challenger", "cost", "definition_models",
    "breakdown_columns", "delete_infra_cost", "get_definition", "has_definition", "infra_costs", "kpi_label",
    "NOT_COMPUTABLE", "format_measure", "kpi_sums", "kpis", "kpis_from_sums", "latency", "month_bounds", "refresh_summaries",
    "newest_hours", "rollup_dimensions", "save_definition",
    "serving_hourly_source", "serving_summaries_current", "sla",
    "threshold_whatif", "window_count", "with_changes",
]

