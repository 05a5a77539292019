"""Generate the post-market monitoring plan of a version (EU AI Act Art. 72) from what Vigil really runs:
the model's alert rules (what, how often, thresholds, who responds, runbooks), its service levels, the
escalation setting, the notification channels routed to it, the scheduled reports covering it (when
the store holds report definitions), and the review interval of its risk tier.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from analytics import settings
from analytics.alerts import SLA_FAMILIES, Rule, describe_level, rules
from analytics.alerts import ESCALATE_MINUTES, METRICS
from analytics.clock import utc_now
from analytics.compliance._calendar import review_interval_months
from analytics.errors import InvalidInputError
from analytics.governance import MonitoringPlan, PlanItem, risk_tier
from analytics.registry import champion_version, get_model, get_version, list_versions
from analytics.reports import list_definitions

_WINDOW_WORDS = {"hour": "every hour", "day": "every day (UTC)", "week": "every week (UTC)"}


def _metric_words(rule: Rule) -> str:
    for key, (_, words, _) in METRICS.items():
        if rule.metric == key or (key.endswith(".") and rule.metric.startswith(key)):
            column = f" of {rule.column}" if rule.column else ""
            return f"{rule.metric}{column}: {words}"
    return rule.metric


def _level_words(rule: Rule, level) -> str:
    words = describe_level(level)
    return f"{rule.direction} — {words}" if words else ""


def plan_item(rule: Rule, owner: str, enabled: bool) -> PlanItem:
    """One alert rule as a line of the plan."""
    scope = f"version {rule.version}" if rule.version else "every version serving as champion or canary"
    if rule.segment:
        scope += f", segment {rule.segment} = {rule.segment_value}"
    frequency = _WINDOW_WORDS[rule.window]
    if rule.for_windows > 1:
        frequency += f"; fires after {rule.for_windows} windows in breach"
    return PlanItem(rule_id=rule.rule_id, family=rule.family, metric=rule.metric,
                    what=rule.description or _metric_words(rule), scope=scope, frequency=frequency,
                    warning=_level_words(rule, rule.warning), critical=_level_words(rule, rule.critical),
                    minimum_rows=rule.min_rows, responder=rule.team or f"model owner ({owner})",
                    runbook=rule.runbook, action=rule.action, service_level=rule.family in SLA_FAMILIES,
                    enabled=enabled)


def _channels(con: duckdb.DuckDBPyConnection, model: str) -> tuple[dict[str, Any], ...]:
    out = []
    for name, kind, options in con.execute("SELECT name, kind, options FROM channels WHERE enabled ORDER BY name"
                                           ).fetchall():
        opts = json.loads(options)
        if opts.get("models") and model not in opts["models"]:
            continue
        out.append({"name": name, "kind": kind, "escalation": opts.get("escalation") is True,
                    "min_severity": opts.get("min_severity", "warning")})
    return tuple(out)


def scheduled_reports(con: duckdb.DuckDBPyConnection, model: str) -> tuple[dict[str, Any], ...]:
    """The enabled scheduled reports covering ``model`` (its own and the portfolio's; :mod:`analytics.reports`),
    each as ``name``, ``schedule``, ``recipients`` (addresses, comma-separated) and ``sections``."""
    return tuple({"name": d.name, "schedule": d.schedule, "recipients": ", ".join(d.recipients),
                  "sections": list(d.sections)}
                 for d in list_definitions(con) if d.enabled and d.model in (None, model))


def _gaps(items: tuple[PlanItem, ...], channels: tuple, has_sensitive: bool, tier: str) -> tuple[str, ...]:
    enabled = {i.family for i in items if i.enabled}
    gaps = []
    for family, why in (("performance", "no enabled performance rule: outcomes (or CBPE estimates) are not watched"),
                        ("drift", "no enabled drift rule: the inputs are not watched"),
                        ("latency", "no enabled latency rule: no latency service level"),
                        ("freshness", "no enabled freshness rule: a silent stop of the traffic would go unnoticed")):
        if family not in enabled:
            gaps.append(why)
    if has_sensitive and "fairness" not in enabled:
        gaps.append("the model logs sensitive attributes but no enabled fairness rule watches them")
    if not channels:
        gaps.append("no notification channel is enabled for this model: nobody is told when a rule fires")
    elif not any(c["escalation"] for c in channels):
        gaps.append("no escalation channel: unacknowledged critical alerts are escalated to nobody")
    disabled = [i.rule_id for i in items if not i.enabled]
    if disabled:
        gaps.append(f"disabled rules: {', '.join(disabled)}")
    if tier == "not set":
        gaps.append("no risk tier is set: the review interval defaults to the strictest (12 months)")
    return tuple(gaps)


def default_version(con: duckdb.DuckDBPyConnection, model: str) -> str:
    """The version a plan is for by default: the champion, else the newest registered version."""
    champion = champion_version(con, model)
    if champion:
        return champion
    versions = list_versions(con, model)
    if versions.empty:
        raise InvalidInputError(f"{model} has no registered version; register one before planning its monitoring")
    return str(versions.sort_values("created_at")["version"].iloc[-1])


def monitoring_plan(con: duckdb.DuckDBPyConnection, model: str, version: str | None = None, *,
                    now: datetime | None = None) -> MonitoringPlan:
    """Generate the post-market monitoring plan of ``model`` (``version``: default the champion).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open store.
    model : str
        A registered model.
    version : str, optional
        The version the plan is for; rules watching another version only are left out.
    now : datetime, optional
        The generation time (naive UTC); not part of the plan's hash.

    Returns
    -------
    MonitoringPlan
        Every rule of the model that covers the version (enabled or not), its channels, reports, gaps.

    Raises
    ------
    NotFoundError
        The model or version is not registered.
    """
    info = get_model(con, model)
    version = version or default_version(con, model)
    get_version(con, model, version)
    enabled_ids = {r.rule_id for r in rules(con, model=model, enabled_only=True)}
    items = tuple(plan_item(r, info.owner, r.rule_id in enabled_ids) for r in rules(con, model=model)
                  if r.version in (None, version))
    tier_row = risk_tier(con, model)
    tier = tier_row["risk_tier"] if tier_row else "not set"
    channels = _channels(con, model)
    has_sensitive = any(c.sensitive for c in info.schema.columns)
    return MonitoringPlan(
        model=model, version=version, owner=info.owner, risk_tier=tier, items=items,
        reports=scheduled_reports(con, model), channels=channels,
        escalation_minutes=float(settings.get(con, ESCALATE_MINUTES.key, model=model)),
        review_interval_months=review_interval_months(tier_row["risk_tier"] if tier_row else None),
        gaps=_gaps(items, channels, has_sensitive, tier),
        generated_at=now or utc_now())
