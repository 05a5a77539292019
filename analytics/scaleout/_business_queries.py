"""The serving and KPI summary queries, written once as Ibis expressions and run by DuckDB or by Spark.

Each function takes Ibis tables over a model's prediction log (and its outcomes) and returns the rows
the store's own builds insert (:mod:`analytics.business._serving`, :mod:`analytics.business._kpi_store`),
on the same columns but for two: a list column (a KPI row's ``dims``) comes back as one column per
item, ``d0, d1, ...``, made a list when the rows are merged (Spark's arrays and DuckDB's lists do not
travel alike), and the day of a KPI hour is taken from the hour when merged.

- :func:`serving_hourly`: predictions, cost, first and last time per hour, version, role and decision;
- :func:`serving_latency`: the exact latency histogram (the count of every distinct ``latency_ms``)
  per UTC day and version. The daily percentiles (``serving_latency_daily``) are computed from these
  rows when merged (:mod:`analytics.scaleout._merge`): Spark's ``percentile`` interpolates with another
  formula than DuckDB's ``quantile_cont`` and can differ in the last bit;
- :func:`kpi_hourly`: the additive KPI sums (:data:`analytics.business.SUM_COLUMNS`) per hour, version,
  role and rollup dimension;
- :func:`kpi_cells`: the what-if's threshold cells per UTC day and version.
"""

from __future__ import annotations

from datetime import date, datetime

import ibis
import ibis.expr.types as ir
from ibis import _

from analytics.business import KpiDefinition
from analytics.scaleout._queries import day_of, rows_of_days

#: The text of a missing dimension value, as the store's build writes it.
MISSING = "(missing)"


def serving_hourly(log: ir.Table, days: list[date]) -> ir.Table:
    """``hour, version, role, decision, predictions, cost_usd, first_at, last_at`` of the log's rows of ``days``."""
    rows = rows_of_days(log, days)
    return (rows.group_by(hour=rows.predicted_at.truncate("h"), version=rows.model_version,
                          role=rows.deployment_role, decision=rows.decision.cast("int64"))
            .aggregate(predictions=_.count(), cost_usd=_.cost.sum(), first_at=_.predicted_at.min(),
                       last_at=_.predicted_at.max()))


def serving_latency(log: ir.Table, days: list[date]) -> ir.Table:
    """``day, version, latency_ms, n``: how many rows of ``days`` took each distinct latency, per day and version."""
    rows = rows_of_days(log, days)
    rows = rows.filter(rows.latency_ms.notnull())
    return (rows.group_by(day=day_of(rows), version=rows.model_version, latency_ms=rows.latency_ms.cast("float64"))
            .aggregate(n=_.count()))


def with_labels(log: ir.Table, outcomes: ir.Table, days: list[date]) -> ir.Table:
    """The log's rows of ``days`` with their outcome's label (NULL when none), as the store's KPI and performance
    builds join them: an outcome is never observed before its prediction, so older outcomes are left out first.

    Parameters
    ----------
    log, outcomes : ibis Table
        The prediction log and the outcomes (``prediction_id``, ``observed_at``, ``label``).
    days : list of date
        UTC days, at least one.

    Returns
    -------
    ibis Table
        The log's columns, ``vigil_outcome_id`` and ``label``.
    """
    rows = rows_of_days(log, days)
    since = outcomes.filter(outcomes.observed_at >= datetime.combine(min(days), datetime.min.time()))
    labels = since.select(vigil_outcome_id=since.prediction_id, label=since.label)
    return rows.left_join(labels, rows.prediction_id == labels.vigil_outcome_id)


def _count_if(condition: ir.BooleanValue) -> ir.IntegerValue:
    """Rows where ``condition`` holds (NULL counts as false; 0 for none, on both engines)."""
    return ibis.ifelse(condition, 1, 0).sum().cast("int64")


def _valued(rows: ir.Table, definition: KpiDefinition) -> ir.Table:
    """``rows`` with the amount (``vigil_amt``) and the probability of bad (``vigil_p_bad``) of each prediction
    (:func:`analytics.business._sums.expressions`)."""
    return rows.mutate(vigil_amt=rows[definition.amount_column].cast("float64") if definition.amount_column else 1.0,
                       vigil_p_bad=rows.score if definition.bad_label == 1 else 1.0 - rows.score)


def _selected(rows: ir.Table, definition: KpiDefinition) -> ir.BooleanValue:
    return rows.decision == int(definition.selected_decision)


def _sums(rows: ir.Table, definition: KpiDefinition) -> dict[str, ir.Value]:
    """The additive KPI sums (:data:`analytics.business.SUM_COLUMNS`, :func:`analytics.business._sums.sum_select`)."""
    sel, amt, p_bad = _selected(rows, definition), rows.vigil_amt, rows.vigil_p_bad
    bad, good = rows.label == int(definition.bad_label), rows.label == 1 - int(definition.bad_label)

    def total(value: ir.NumericValue, where: ir.BooleanValue) -> ir.FloatingValue:
        return value.sum(where=where).fill_null(0.0)

    return {
        "n": rows.count(),
        "selected": _count_if(sel),
        "exp_bad_selected": total(p_bad, sel),
        "exp_bad_amount_selected": total(p_bad * amt, sel),
        "exp_good_amount_selected": total((1.0 - p_bad) * amt, sel),
        "labelled": rows.label.count(),
        "selected_labelled": rows.label.count(where=sel),
        "selected_bad": _count_if(sel & bad),
        "amount_selected_good": total(amt, sel & good),
        "amount_selected_bad": total(amt, sel & bad),
        "amount_rejected_good": total(amt, ~sel & good),
        "amount_rejected_bad": total(amt, ~sel & bad),
    }


def kpi_hourly(log: ir.Table, outcomes: ir.Table, days: list[date], definition: KpiDefinition,
               dims: list[str]) -> ir.Table:
    """``hour, version, role, d0, d1, ..., <SUM_COLUMNS>``: the KPI sums of ``days`` per hour, version, role and
    value of each rollup dimension ``dims`` (text; ``(missing)`` for NULL)."""
    rows = _valued(with_labels(log, outcomes, days), definition)
    keys = {"hour": rows.predicted_at.truncate("h"), "version": rows.model_version,
            "role": rows.deployment_role.fill_null(""),
            **{f"d{i}": rows[d].cast("string").fill_null(MISSING) for i, d in enumerate(dims)}}
    return rows.group_by(**keys).aggregate(**_sums(rows, definition))


def kpi_cells(log: ir.Table, outcomes: ir.Table, days: list[date], definition: KpiDefinition,
              steps: int) -> ir.Table:
    """``day, version, cell, group, label, n, amount, exp_bad_amount, exp_good_amount``: the what-if's threshold
    cells of ``days`` on a grid of ``steps`` (:func:`analytics.business._sums.cell_select`)."""
    rows = with_labels(log, outcomes, days)
    rows = _valued(rows.filter(rows.score.notnull()), definition)
    score = rows.score
    below = (score * steps).floor()
    # floor(score * steps) can be one off near a grid point; compare with the grid values themselves.
    inner = (below.cast("int64") + 1 + ibis.ifelse(score >= (below + 1) / float(steps), 1, 0)
             - ibis.ifelse(score < below / float(steps), 1, 0))
    cell = ibis.cases((score < 0, 0), (score >= 1, steps + 1), else_=inner).cast("int64")
    rows = rows.mutate(vigil_group=rows[definition.fairness_attribute].cast("string").fill_null(MISSING)
                       if definition.fairness_attribute else "(none)")
    return (rows.group_by(day=day_of(rows), version=rows.model_version, cell=cell, group=rows.vigil_group,
                          label=rows.label.cast("int64").fill_null(-1))
            .aggregate(n=rows.count(), amount=rows.vigil_amt.sum(), exp_bad_amount=(rows.vigil_p_bad * rows.vigil_amt).sum(),
                       exp_good_amount=((1.0 - rows.vigil_p_bad) * rows.vigil_amt).sum()))
