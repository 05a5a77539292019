"""The SQL of the additive KPI sums and the what-if's threshold cells, shared by the readers and the stored rollups.

Kept apart from the readers (:mod:`analytics.business._kpis`, :mod:`analytics.business._whatif`) so
that the KPI summary declared to the summaries engine (:mod:`analytics.business._kpi_store`) and the
in-memory rollups (:mod:`analytics.business._rollup`) import it without importing the readers.
"""

from __future__ import annotations

from analytics.business._definitions import KpiDefinition
from analytics.logschema import quote
from analytics.registry import ModelInfo

#: The additive sums behind every KPI (columns of :func:`kpi_sums` besides the group columns).
SUM_COLUMNS: tuple[str, ...] = (
    "n", "selected", "exp_bad_selected", "exp_bad_amount_selected", "exp_good_amount_selected",
    "labelled", "selected_labelled", "selected_bad", "amount_selected_good", "amount_selected_bad",
    "amount_rejected_good", "amount_rejected_bad",
)


def expressions(definition: KpiDefinition) -> dict[str, str]:
    """SQL of the selected decision, bad and good labels, the amount and the probability of bad (aliases ``p``, ``o``)."""
    amount = f"CAST(p.{quote(definition.amount_column)} AS DOUBLE)" if definition.amount_column else "1.0"
    p_bad = "p.score" if definition.bad_label == 1 else "(1.0 - p.score)"
    return {
        "sel": f"p.decision = {int(definition.selected_decision)}",
        "bad": f"o.label = {int(definition.bad_label)}",
        "good": f"o.label = {1 - int(definition.bad_label)}",
        "amt": amount,
        "p_bad": p_bad,
    }


def sum_select(definition: KpiDefinition) -> str:
    """SELECT list of the additive sums :data:`SUM_COLUMNS` over the log ``p`` joined with its outcomes ``o``."""
    e = expressions(definition)
    sel, bad, good, amt, p_bad = e["sel"], e["bad"], e["good"], e["amt"], e["p_bad"]
    return f"""
        count(*) AS n,
        count(*) FILTER (WHERE {sel}) AS selected,
        coalesce(sum({p_bad}) FILTER (WHERE {sel}), 0) AS exp_bad_selected,
        coalesce(sum({p_bad} * {amt}) FILTER (WHERE {sel}), 0) AS exp_bad_amount_selected,
        coalesce(sum((1.0 - {p_bad}) * {amt}) FILTER (WHERE {sel}), 0) AS exp_good_amount_selected,
        count(o.label) AS labelled,
        count(o.label) FILTER (WHERE {sel}) AS selected_labelled,
        count(*) FILTER (WHERE {sel} AND {bad}) AS selected_bad,
        coalesce(sum({amt}) FILTER (WHERE {sel} AND {good}), 0) AS amount_selected_good,
        coalesce(sum({amt}) FILTER (WHERE {sel} AND {bad}), 0) AS amount_selected_bad,
        coalesce(sum({amt}) FILTER (WHERE NOT ({sel}) AND {good}), 0) AS amount_rejected_good,
        coalesce(sum({amt}) FILTER (WHERE NOT ({sel}) AND {bad}), 0) AS amount_rejected_bad"""


def cell_select(definition: KpiDefinition, steps: int) -> str:
    """SELECT list of the threshold cells: ``cell``, ``group``, ``label`` (-1 unknown) and the sums."""
    e = expressions(definition)
    attribute = (f"coalesce(CAST(p.{quote(definition.fairness_attribute)} AS VARCHAR), '(missing)')"
                 if definition.fairness_attribute else "'(none)'")
    # floor(score * steps) can be one off near a grid point; compare with the grid values themselves.
    cell = f"""CASE WHEN p.score < 0 THEN 0 WHEN p.score >= 1 THEN {steps + 1} ELSE
                 CAST(floor(p.score * {steps}) AS BIGINT) + 1
                 + CASE WHEN p.score >= (floor(p.score * {steps}) + 1) / {steps}.0 THEN 1 ELSE 0 END
                 - CASE WHEN p.score < floor(p.score * {steps}) / {steps}.0 THEN 1 ELSE 0 END END"""
    return f"""{cell} AS cell, {attribute} AS "group", coalesce(o.label, -1) AS label,
               count(*) AS n, sum({e['amt']}) AS amount,
               sum({e['p_bad']} * {e['amt']}) AS exp_bad_amount, sum((1.0 - {e['p_bad']}) * {e['amt']}) AS exp_good_amount"""


def rollup_dimensions(info: ModelInfo, definition) -> list[str]:
    """Columns kept in the rollup: the segment columns and the fairness attribute."""
    dims = [c.name for c in info.schema.segments]
    if definition.fairness_attribute and definition.fairness_attribute not in dims:
        dims.append(definition.fairness_attribute)
    return dims
