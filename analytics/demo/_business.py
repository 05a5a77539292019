"""The demo portfolio's business case (the demo owns it; :mod:`analytics.business` knows no model): value matrices, targets, budgets and SLAs, entered as an admin would."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb

from analytics import settings
from analytics.business import MONTHLY_BUDGET, SLA_MS, SLA_PERCENTILE, KpiDefinition, add_infra_cost, save_definition
from analytics.demo import _credit as credit
from analytics.roles import Actor


def demo_definitions() -> list[KpiDefinition]:
    """The KPI definitions of the demo models (credit-default from its story's ``VALUE_*`` constants)."""
    return [
        KpiDefinition(
            model=credit.MODEL, currency="NT$", selected_decision=0, selected_label="approved", bad_label=1,
            bad_name="default", amount_column="LIMIT_BAL",
            value_selected_good=credit.VALUE_GOOD_APPROVED, value_selected_bad=credit.VALUE_DEFAULT_APPROVED,
            value_rejected_good=-credit.VALUE_GOOD_APPROVED, value_rejected_bad=0.0, fairness_attribute="SEX",
            targets={"selection_rate": 0.85, "bad_rate_selected": 0.15, "profit_per_decision": 1000.0,
                     "demographic_parity_ratio": 0.8},
            source="demo business case: margin 5% of the credit limit for a good client, loss given default "
                   "25% of the limit, a rejected good client forgoes the margin; four-fifths rule for parity"),
        KpiDefinition(
            model="employment", currency="USD", selected_decision=0, selected_label="offered outreach",
            bad_label=1, bad_name="already employed", amount_column=None,
            value_selected_good=260.0, value_selected_bad=-40.0, value_rejected_good=-300.0, value_rejected_bad=0.0,
            fairness_attribute="SEX",
            targets={"selection_rate": 0.3, "bad_rate_selected": 0.35, "demographic_parity_ratio": 0.8},
            source="demo business case (illustrative): an employment-support programme contacts people predicted "
                   "not employed; outreach costs USD 40, a person without work who is reached is worth USD 300 "
                   "(USD 260 net), one who is missed forgoes it"),
    ]


def seed_business(con: duckdb.DuckDBPyConnection, actor: Actor, at: datetime, models: set[str] | None = None) -> None:
    """Store the demo definitions, budgets, SLAs and a few infrastructure costs (audited, as ``actor``)."""
    for definition in demo_definitions():
        if models is not None and definition.model not in models:
            continue
        save_definition(con, actor, definition, at=at)
    budgets = {"credit-default": 40.0, "employment": 15.0}
    slas = {"credit-default": 100.0, "employment": 60.0}
    for model in budgets:
        if models is not None and model not in models:
            continue
        settings.set_value(con, actor, MONTHLY_BUDGET.key, budgets[model], model=model)
        settings.set_value(con, actor, SLA_MS.key, slas[model], model=model)
        settings.set_value(con, actor, SLA_PERCENTILE.key, "p95", model=model)
        first = date(at.year, at.month, 1)
        for months_back in range(6, -1, -1):
            month_start = (first - timedelta(days=28 * months_back)).replace(day=1)
            month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            add_infra_cost(con, actor, model=model, category="compute", amount_usd=6.0 if model == "credit-default" else 2.5,
                           period_start=month_start, period_end=month_end,
                           description="serving cluster share (demo)", at=at)
