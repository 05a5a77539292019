"""Compliance: the post-market monitoring plan (EU AI Act Art. 72), serious incidents and their reporting
clocks (Art. 73), and the model-risk pack (back-testing, benchmarking, overrides, review calendar).

Public API
----------
Monitoring plan
    :func:`monitoring_plan` -> :class:`analytics.governance.MonitoringPlan` (record it per version with
    :func:`analytics.governance.record_plan`; the dossier shows the recorded one), :func:`scheduled_reports`.
Serious incidents
    :data:`CATEGORIES`, :func:`classify_serious`, :func:`record_reported`, :func:`reporting_clocks`,
    :func:`draft_report` -> :class:`AuthorityReport`.
Model-risk pack
    :func:`backtest` -> :class:`Backtest`, :func:`hosmer_lemeshow`, :func:`benchmark` -> :class:`Benchmark`,
    :func:`overrides` -> :class:`Overrides`, :func:`model_risk_pack` -> :class:`ModelRiskPack`.
Review calendar and reminders
    :data:`REVIEW_MONTHS`, :func:`record_review`, :func:`reviews_table`, :func:`review_calendar`,
    :func:`remind` -> list of :class:`Reminder`, :func:`reminders_table`.

Every write checks the actor's role and is audited in the caller's transaction (call them through
:func:`analytics.store.write`). See docs/compliance.md.
"""

from analytics.compliance._calendar import (OUTCOMES, REVIEW_MONTHS, record_review, review_calendar,
                                            review_interval_months, reviews_table)
from analytics.compliance._incidents import (CATEGORIES, AuthorityReport, Category, classify_serious, draft_report,
                                             record_reported, reporting_clocks)
from analytics.compliance._plan import default_version, monitoring_plan, scheduled_reports
from analytics.compliance._reminders import Reminder, remind, reminders_table
from analytics.compliance._risk import (OVERRIDE_COLUMN, Backtest, Benchmark, ModelRiskPack, Overrides, backtest,
                                        benchmark, hosmer_lemeshow, model_risk_pack, overrides)

__all__ = [
    "CATEGORIES", "OUTCOMES", "OVERRIDE_COLUMN", "REVIEW_MONTHS", "AuthorityReport", "Backtest", "Benchmark",
    "Category", "ModelRiskPack", "Overrides", "Reminder", "backtest", "benchmark", "classify_serious",
    "default_version", "draft_report", "hosmer_lemeshow", "model_risk_pack", "monitoring_plan", "overrides",
    "record_reported", "record_review", "remind", "reminders_table", "reporting_clocks", "review_calendar",
    "review_interval_months", "reviews_table", "scheduled_reports",
]
