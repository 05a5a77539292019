"""The fairness summary query (``fairness_cells``), written once as an Ibis expression and run by DuckDB or Spark.

:func:`fairness_cells` returns the rows :mod:`analytics.fairness._cells`' build inserts, but for the
``groups`` list, which comes back as one column per sensitive attribute, ``g0, g1, ...``, made a list
when the rows are merged.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
from ibis import _

from analytics.fairness import AGE_EDGES, AGE_LABELS, MISSING, Attribute
from analytics.scaleout._queries import day_of, rows_of_days


def group_of(rows: ir.Table, attribute: Attribute) -> ir.StringValue:
    """The group label of ``attribute`` (:meth:`analytics.fairness.Attribute.sql`): its value as text, or its age
    band; ``(missing)`` for NULL."""
    column = rows[attribute.column]
    if not attribute.banded:
        return column.cast("string").fill_null(MISSING)
    bands = [(column < edge, label) for edge, label in zip(AGE_EDGES, AGE_LABELS)]
    return ibis.cases((column.isnull(), MISSING), *bands, else_=AGE_LABELS[-1])


def fairness_cells(log: ir.Table, outcomes: ir.Table, days: list[date], attributes: list[Attribute]) -> ir.Table:
    """``version, day, g0, g1, ..., decision, label, n, value``: the log's rows of ``days`` with a decision, joined
    with their outcomes, per version, UTC day, group of each of ``attributes``, decision and label (the rows
    and the summed business value)."""
    rows = rows_of_days(log, days)
    rows = rows.filter(rows.decision.notnull())
    known = outcomes.select(vigil_outcome_id=outcomes.prediction_id, label=outcomes.label,
                            business_value=outcomes.business_value)
    joined = rows.left_join(known, rows.prediction_id == known.vigil_outcome_id)
    keys = {"version": joined.model_version, "day": day_of(joined),
            **{f"g{i}": group_of(joined, a) for i, a in enumerate(attributes)},
            "decision": joined.decision.cast("int64"), "label": joined.label.cast("int64")}
    return joined.group_by(**keys).aggregate(n=_.count(), value=_.business_value.sum())
