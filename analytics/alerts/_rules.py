"""Alert rules: what a rule watches, its two levels, and how rules are kept (every change audited).

A rule watches one monitored figure (a *metric*, see :data:`METRICS`) of one model, per version and
optionally one segment value, over windows of a day, a week or an hour. Each of its two levels
(``warning``, ``critical``) is static (an absolute bound), dynamic (the mean of the past ``history``
windows plus or minus ``k`` standard deviations, as NannyML's standard-deviation thresholds), or
both: then the window must be anomalous **and** past the absolute bound. A level fires only when the
change against that baseline is at least ``min_effect``; with fewer than ``min_rows`` rows the window
is *insufficient data*, not OK.

Rule file format (JSON, one object or a list; ``vigil rules add FILE``)::

    {"rule_id": "cd-auc", "model": "credit-default", "metric": "performance.roc_auc",
     "direction": "below", "warning": {"k": 3}, "critical": {"bound": 0.70, "k": 3},
     "min_effect": 0.02, "min_rows": 200, "window": "day", "for_windows": 1,
     "runbook": "https://wiki.example/runbooks/auc"}
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from analytics import audit
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, NotFoundError
from analytics.registry import get_model
from analytics.roles import Actor, require

SEVERITIES: tuple[str, ...] = ("warning", "critical")
DIRECTIONS: tuple[str, ...] = ("above", "below")
WINDOWS: tuple[str, ...] = ("hour", "day", "week")
ACTIONS: tuple[str, ...] = ("", "retrain", "end_canary")

#: Metric key (or prefix ending in ``.``) -> (family, what it is, what ``column`` names).
METRICS: dict[str, tuple[str, str, str]] = {
    "drift.share_drifted": ("drift", "share of declared columns whose drift verdict is drifted", ""),
    "drift.statistic": ("drift", "one column's drift statistic (the method's, e.g. PSI or Jensen-Shannon)", "column"),
    "performance.": ("performance", "a realised metric with labels (roc_auc, accuracy, precision, recall, f1) "
                     "or a CBPE estimate without them (est_roc_auc, est_accuracy, ...)", ""),
    "fairness.demographic_parity_ratio": ("fairness", "lowest over highest group approval rate of one attribute",
                                          "attribute"),
    "fairness.equalized_odds_difference": ("fairness", "largest TPR/FPR gap between groups of one attribute",
                                           "attribute"),
    "kpi.": ("kpi", "a business KPI of the model's value matrix (kpi.profit, kpi.selection_rate, ...)", ""),
    "cost.budget_forecast_share": ("cost", "the month's forecast spend over its budget", ""),
    "latency.": ("latency", "a latency percentile in ms (latency.p50_ms, latency.p95_ms, latency.p99_ms)", ""),
    "freshness.minutes": ("freshness", "minutes since the newest prediction at the window's end", ""),
}

_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")


def metric_family(metric: str) -> str:
    """The rule family of a metric key (``drift``, ``performance`` ...), or raise naming the known metrics."""
    for key, (family, _, _) in METRICS.items():
        if metric == key or (key.endswith(".") and metric.startswith(key) and len(metric) > len(key)):
            return family
    raise InvalidInputError(f"metric {metric!r} is unknown; use one of: {', '.join(METRICS)} "
                            "(a key ending in '.' takes a name after it)")


@dataclass(frozen=True)
class Level:
    """One level of a rule: an absolute ``bound``, a dynamic band of ``k`` standard deviations, or both."""

    bound: float | None = None
    k: float | None = None

    def __post_init__(self) -> None:
        if self.bound is None and self.k is None:
            raise InvalidInputError("a level needs a bound, k standard deviations, or both")
        for name in ("bound", "k"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
                raise InvalidInputError(f"a level's {name} must be a finite number, not {value!r}")
        if self.k is not None and self.k <= 0:
            raise InvalidInputError("a level's k (standard deviations) must be positive")


@dataclass(frozen=True)
class Rule:
    """A rule over one monitored figure of one model (see the module docstring for the meaning of each field).

    ``version`` None watches every version serving as champion or canary at the window's end.
    ``action`` opens a retraining request (``"retrain"``) or ends a canary (``"end_canary"``, only
    when the model's setting ``alerts.auto_end_canary`` is on) when the critical level fires.
    """

    rule_id: str
    model: str
    metric: str
    direction: str
    warning: Level | None = None
    critical: Level | None = None
    column: str | None = None
    version: str | None = None
    segment: str | None = None
    segment_value: str | None = None
    window: str = "day"
    history: int = 14
    min_rows: int = 100
    min_effect: float = 0.0
    for_windows: int = 1
    keep_firing_for: int = 0
    runbook: str = ""
    team: str = ""
    action: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not _RULE_ID.match(self.rule_id or ""):
            raise InvalidInputError(f"rule id {self.rule_id!r} must be 1-80 letters, digits, '_', '.', ':' or '-'")
        metric_family(self.metric)
        if self.direction not in DIRECTIONS:
            raise InvalidInputError(f"direction {self.direction!r} is unknown; use above or below")
        if self.warning is None and self.critical is None:
            raise InvalidInputError(f"rule {self.rule_id}: give a warning level, a critical level, or both")
        if self.window not in WINDOWS:
            raise InvalidInputError(f"window {self.window!r} is unknown; use {', '.join(WINDOWS)}")
        if self.action not in ACTIONS:
            raise InvalidInputError(f"action {self.action!r} is unknown; use retrain or end_canary (or none)")
        if (self.segment is None) != (self.segment_value is None):
            raise InvalidInputError("give a segment column and its value together")
        for name, low in (("history", 0), ("min_rows", 0), ("for_windows", 1), ("keep_firing_for", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidInputError(f"{name} must be a whole number of at least {low}, not {value!r}")
        if not (isinstance(self.min_effect, int | float) and self.min_effect >= 0):
            raise InvalidInputError(f"min_effect must be a non-negative number, not {self.min_effect!r}")
        if METRICS.get(self.metric, ("", "", ""))[2] == "column" and not self.column:
            raise InvalidInputError(f"metric {self.metric} needs a column")
        if self.critical is not None and not self.runbook.strip():
            raise InvalidInputError(f"rule {self.rule_id}: a rule with a critical level needs a runbook "
                                    "(Markdown text or a URL) saying what to do")

    @property
    def family(self) -> str:
        """The rule family (``drift``, ``performance``, ``fairness``, ``kpi``, ``cost``, ``latency``, ``freshness``)."""
        return metric_family(self.metric)

    def to_dict(self) -> dict[str, Any]:
        """The rule as the JSON of a rule file."""
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        """A rule from a rule file's object; unknown keys are refused by name."""
        if not isinstance(data, dict):
            raise InvalidInputError("a rule is a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"unknown rule fields: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = dict(data)
        for name in SEVERITIES:
            level = values.get(name)
            if level is not None:
                if not isinstance(level, dict) or set(level) - {"bound", "k"}:
                    raise InvalidInputError(f"{name} is an object with bound and/or k")
                values[name] = Level(**level)
        try:
            return cls(**values)
        except TypeError as exc:
            raise InvalidInputError(f"rule is missing a field: {exc}") from None


def _check_columns(con: duckdb.DuckDBPyConnection, rule: Rule) -> None:
    info = get_model(con, rule.model)
    names = {c.name for c in info.schema.columns}
    if rule.metric == "drift.statistic" and rule.column not in names:
        raise InvalidInputError(f"{rule.column!r} is not a declared column of {rule.model}")
    if rule.segment is not None and rule.segment not in {c.name for c in info.schema.segments}:
        raise InvalidInputError(f"{rule.segment!r} is not a segment column of {rule.model}")


def save_rule(con: duckdb.DuckDBPyConnection, actor: Actor, rule: Rule, *, at: datetime | None = None) -> str:
    """Add a rule, or replace the rule with the same id (admins and approvers). Audited; returns ``added`` or ``edited``."""
    require(actor, "manage_rules")
    _check_columns(con, rule)
    when = at or utc_now()
    before = con.execute("SELECT spec, created_at, created_by, enabled FROM alert_rules WHERE rule_id = ?",
                         [rule.rule_id]).fetchone()
    spec = json.dumps(rule.to_dict(), sort_keys=True)
    if before is None:
        con.execute("INSERT INTO alert_rules (rule_id, model_name, spec, enabled, created_at, created_by, updated_at, updated_by) "
                "VALUES (?, ?, ?, TRUE, ?, ?, ?, ?)",
                    [rule.rule_id, rule.model, spec, when, actor.username, when, actor.username])
        audit.record(con, actor, "rule.add", "alert_rule", rule.rule_id, {"rule": rule.to_dict()}, at=at)
        return "added"
    con.execute("UPDATE alert_rules SET model_name = ?, spec = ?, updated_at = ?, updated_by = ? WHERE rule_id = ?",
                [rule.model, spec, when, actor.username, rule.rule_id])
    audit.record(con, actor, "rule.edit", "alert_rule", rule.rule_id,
                 {"from": json.loads(before[0]), "to": rule.to_dict()}, at=at)
    return "edited"


def set_enabled(con: duckdb.DuckDBPyConnection, actor: Actor, rule_id: str, enabled: bool, *,
                at: datetime | None = None) -> None:
    """Enable or disable a rule (admins and approvers). Audited."""
    require(actor, "manage_rules")
    get_rule(con, rule_id)
    con.execute("UPDATE alert_rules SET enabled = ?, updated_at = ?, updated_by = ? WHERE rule_id = ?",
                [bool(enabled), at or utc_now(), actor.username, rule_id])
    audit.record(con, actor, "rule.enable" if enabled else "rule.disable", "alert_rule", rule_id, {}, at=at)


def get_rule(con: duckdb.DuckDBPyConnection, rule_id: str) -> Rule:
    """One rule by id, or raise :class:`NotFoundError`."""
    row = con.execute("SELECT spec FROM alert_rules WHERE rule_id = ?", [rule_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no rule {rule_id!r}; 'vigil rules list' shows the rules")
    return Rule.from_dict(json.loads(row[0]))


def rules(con: duckdb.DuckDBPyConnection, *, model: str | None = None, enabled_only: bool = False) -> list[Rule]:
    """The stored rules (of one model), by id."""
    where, params = [], []
    if model:
        where.append("model_name = ?")
        params.append(model)
    if enabled_only:
        where.append("enabled")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return [Rule.from_dict(json.loads(s)) for (s,) in con.execute(
        f"SELECT spec FROM alert_rules {clause} ORDER BY rule_id", params).fetchall()]


def rules_table(con: duckdb.DuckDBPyConnection, *, model: str | None = None) -> pd.DataFrame:
    """One row per rule: id, model, family, metric, levels in words, window, enabled, who changed it last."""
    frame = con.execute("SELECT rule_id, enabled, updated_at, updated_by, spec FROM alert_rules "
                        + ("WHERE model_name = ? " if model else "") + "ORDER BY rule_id",
                        [model] if model else []).df()
    out = []
    for row in frame.to_dict("records"):
        rule = Rule.from_dict(json.loads(row["spec"]))
        out.append({"rule_id": rule.rule_id, "model": rule.model, "family": rule.family, "metric": rule.metric,
                    "column": rule.column or "", "direction": rule.direction,
                    "warning": describe_level(rule.warning), "critical": describe_level(rule.critical),
                    "window": rule.window, "min_rows": rule.min_rows, "min_effect": rule.min_effect,
                    "action": rule.action, "runbook": rule.runbook, "enabled": bool(row["enabled"]),
                    "updated_at": row["updated_at"], "updated_by": row["updated_by"]})
    return pd.DataFrame(out, columns=["rule_id", "model", "family", "metric", "column", "direction", "warning",
                                      "critical", "window", "min_rows", "min_effect", "action", "runbook", "enabled",
                                      "updated_at", "updated_by"])


def describe_level(level: Level | None) -> str:
    """A level in words: ``"past 0.7"``, ``"3 sd"``, ``"past 0.7 and 3 sd"``, or ``""``."""
    if level is None:
        return ""
    parts = ([f"past {level.bound:g}"] if level.bound is not None else []) + (
        [f"{level.k:g} sd from the past windows"] if level.k is not None else [])
    return " and ".join(parts)

