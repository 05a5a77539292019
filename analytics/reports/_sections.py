"""The sections of a scheduled report, each computed for one model and period by the engine the pages use
(the same numbers as the app and the CLI), and rendered as HTML with the dossier's table helper.

A section that cannot be computed for a model (no KPI definition, no sensitive attribute, no label yet)
says so in the report instead of failing the whole report; :attr:`Section.problem` holds why.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd

from analytics import alerts, audit, business, fairness, store
from analytics.drift import drift_summary, verdict_word
from analytics.errors import VigilError
from analytics.governance import html_table
from analytics.performance import realised_metrics
from analytics.registry import champion_version, get_version
from analytics.reports._definitions import SECTIONS
from analytics.reports._periods import Period
from analytics.window import Window

#: Weeks of realised performance shown before the period's end (labels arrive late: back-testing looks back).
BACKTEST_WEEKS = 12


@dataclass(frozen=True)
class Section:
    """One section of one model's part of a report.

    Attributes
    ----------
    key, title : str
        Its key in :data:`SECTIONS` and heading.
    summary : str
        One plain sentence (also the e-mail body's line for the section).
    html : str
        The section's body (tables), without its heading.
    problem : str or None
        Why it could not be computed, if it could not.
    """

    key: str
    title: str
    summary: str
    html: str
    problem: str | None = None


def _drift(db: Path, model: str, period: Period) -> tuple[str, str]:
    result = drift_summary(db, model, window=Window(period.start, period.end))
    table = result.table.assign(verdict=[verdict_word(d) for d in result.table["drifted"]])
    drifted = int((table["verdict"] == "drift").sum())
    summary = (f"{drifted} of {len(table)} columns drifted ({result.current_label} against "
               f"{result.reference_label}; {result.n_current_rows:,} rows in the period).")
    return summary, html_table(table, ["column", "role", "method", "statistic", "p_value", "threshold", "verdict",
                                       "n_current"], empty="No column was compared.")


def _performance(db: Path, model: str, period: Period) -> tuple[str, str]:
    columns = ["period", "version", "rows", "labelled", "labelled_share", "roc_auc", "accuracy", "precision", "recall",
               "brier", "threshold"]
    now = realised_metrics(db, model, window=Window(period.start, period.end), freq=None)
    back = realised_metrics(db, model, window=Window(period.end - timedelta(weeks=BACKTEST_WEEKS), period.end),
                            freq="week")
    expected = store.read(lambda con: _validation_auc(con, model), db)
    labelled = int(now["labelled"].sum()) if len(now) else 0
    summary = (f"{labelled:,} of {int(now['rows'].sum()) if len(now) else 0:,} predictions of the period have an "
               f"outcome so far; the champion's validation ROC AUC (expected) is {_number(expected)}.")
    body = (html_table(now, [c for c in columns if c in now], empty="No prediction in the period.") +
            f"<h4>Back-testing: realised performance by week over the {BACKTEST_WEEKS} weeks to the period's end "
            "(outcomes arrive late, so earlier weeks are the settled ones)</h4>" +
            html_table(back, [c for c in columns if c in back], empty="No labelled prediction in these weeks."))
    return summary, body


def _validation_auc(con, model: str) -> float | None:
    version = champion_version(con, model)
    if version is None:
        return None
    return (get_version(con, model, version).get("validation_metrics") or {}).get("roc_auc")


def _fairness(db: Path, model: str, period: Period) -> tuple[str, str]:
    report = fairness.assess(db, model, window=Window(period.start, period.end), n_boot=0)
    verdicts = report.verdicts()
    failing = int((verdicts["verdict"] == fairness.FAIL).sum()) if len(verdicts) else 0
    summary = (f"{failing} of {len(verdicts)} attributes and intersections fail (demographic parity ratio below "
               f"{report.thresholds.dp_ratio:g} or equalized odds difference above "
               f"{report.thresholds.eo_difference:g}); {report.rows:,} predictions, {report.labelled:,} labelled.")
    return summary, html_table(verdicts, empty="No attribute was assessed.")


def _kpis(db: Path, model: str, period: Period) -> tuple[str, str]:
    result = business.kpis(db, model, now=period.end, window=Window(period.start, period.end))
    table = result.table
    missed = int((table["meets_target"] == False).sum())  # noqa: E712 - None means no target
    summary = f"{len(table)} KPIs over {result.rows:,} predictions ({result.labelled:,} labelled); {missed} miss their target."
    return summary, html_table(table, ["kpi", "unit", "value", "previous", "change", "target", "meets_target", "basis"])


def _cost_sla(db: Path, model: str, period: Period) -> tuple[str, str]:
    window = Window(period.start, period.end)
    cost = business.cost(db, model, now=period.end, window=window)
    latency = business.latency(db, model, window=window)
    breaches = int(latency.by_version["breach"].sum()) if len(latency.by_version) else 0
    keys = ("predictions", "cost_usd", "cost_per_1000_usd", "infra_usd", "total_usd")
    money = pd.DataFrame([{"measure": k.replace("_", " "), "period": cost.summary.get(k),
                           "previous period": cost.summary.get(f"{k}_previous")} for k in keys])
    summary = (f"Total cost {_number(cost.summary.get('total_usd'))} USD; latency SLA {latency.sla_percentile} "
               f"≤ {latency.sla_ms:g} ms breached by {breaches} of {len(latency.by_version)} versions.")
    return summary, (html_table(money) + html_table(latency.by_version, ["version", "role", "predictions", "p50_ms",
                                                                         "p95_ms", "p99_ms", "max_ms", "breach"]))


def _overlaps(frame: pd.DataFrame, opened: str, closed: str, period: Period) -> pd.DataFrame:
    """Rows active at some time in the period (opened before its end, not closed before its start)."""
    if frame.empty:
        return frame
    opened_at, closed_at = pd.to_datetime(frame[opened]), pd.to_datetime(frame[closed])
    keep = (opened_at < period.end) & (closed_at.isna() | (closed_at >= period.start))
    return frame[keep.fillna(False)]


def _alerts(db: Path, model: str, period: Period) -> tuple[str, str]:
    def work(con):
        return (alerts.alerts_table(con, model=model), alerts.incidents_table(con, model=model))

    fired, incidents = store.read(work, db)
    fired = _overlaps(fired[fired["fired_at"].notna()], "fired_at", "resolved_at", period)
    incidents = _overlaps(incidents, "opened_at", "resolved_at", period)
    summary = f"Open during the period: {len(fired)} alert(s), {len(incidents)} incident(s)."
    return summary, (html_table(fired, ["alert_id", "state", "severity", "version", "rule_id", "value", "bound",
                                        "fired_at", "resolved_at", "incident_id"], empty="No alert was open.") +
                     html_table(incidents, ["incident_id", "title", "severity", "opened_at", "resolved_at",
                                            "resolution_note"], empty="No incident was open."))


def _governance(db: Path, model: str, period: Period) -> tuple[str, str]:
    trail = store.read(lambda con: audit.search(con, object_id=model, since=period.start, until=period.end), db)
    trail = trail[trail["object_id"].str.split(":").str[0] == model].sort_values("seq")
    summary = f"{len(trail)} governance action(s) recorded on {model} and its versions."
    return summary, html_table(trail.assign(details=trail["details"].map(audit.details_text)),
                               ["seq", "occurred_at", "actor", "role", "action", "object_id", "details"],
                               empty="No governance action was recorded in the period.")


_BUILDERS: dict[str, Callable[[Path, str, Period], tuple[str, str]]] = {
    "drift": _drift, "performance": _performance, "fairness": _fairness, "kpis": _kpis, "cost_sla": _cost_sla,
    "alerts": _alerts, "governance": _governance,
}


def build_section(db: Path, key: str, model: str, period: Period) -> Section:
    """Compute one section for one model and period; a section that cannot be computed says why."""
    title = SECTIONS[key]
    try:
        summary, body = _BUILDERS[key](db, model, period)
    except VigilError as exc:
        return Section(key, title, f"Not available: {exc}", f"<p class='meta'>Not available: {html.escape(str(exc))}</p>",
                       str(exc))
    return Section(key, title, summary, body)


def _number(value: float | None) -> str:
    """A number for a sentence: four significant figures, "not known" when missing."""
    return "not known" if value is None or pd.isna(value) else f"{float(value):.4g}"
