"""The post-market monitoring plan of a version (EU AI Act Art. 72): its shape, its renderings, and how it
is kept per version with its sha256.

The plan is *generated* from the live alert rules, service levels and report schedule by
:func:`analytics.compliance.monitoring_plan` (which reads the alerting tables); this module only holds
the result, renders it (Markdown, HTML, JSON) and records it, so the dossier can show the plan recorded
for a version without importing the alerting package.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from analytics import audit
from analytics.clock import utc_now
from analytics.registry import get_version
from analytics.roles import Actor, require


@dataclass(frozen=True)
class PlanItem:
    """One monitored figure: what, how often, the thresholds, who responds and how.

    Attributes
    ----------
    rule_id, family, metric : str
        The alert rule and what it watches (``performance.roc_auc``, ``latency.p95_ms`` ...).
    what : str
        The figure in words.
    scope : str
        Versions and segment the rule covers.
    frequency : str
        The evaluation window (``every day``), and how many windows in breach fire it.
    warning, critical : str
        The two levels in words (empty when the level is not set).
    minimum_rows : int
        Fewer rows in a window give *insufficient data*, not OK.
    responder : str
        Who responds (the rule's team, else the model owner).
    runbook : str
        What to do.
    action : str
        What Vigil does by itself when the critical level fires (``retrain``, ``end_canary`` or nothing).
    service_level : bool
        Whether the rule is a service level (latency, freshness).
    enabled : bool
    """

    rule_id: str
    family: str
    metric: str
    what: str
    scope: str
    frequency: str
    warning: str
    critical: str
    minimum_rows: int
    responder: str
    runbook: str
    action: str
    service_level: bool
    enabled: bool


@dataclass(frozen=True)
class MonitoringPlan:
    """The post-market monitoring plan of ``model:version``.

    Attributes
    ----------
    model, version : str
    owner : str
        The model owner (responds when a rule names no team).
    risk_tier : str
        The model's risk tier, or ``"not set"``.
    items : tuple of PlanItem
        Every alert rule of the model (disabled ones marked so).
    reports : tuple of dict
        Scheduled reports covering the model (``name``, ``schedule``, ``recipients``, ``sections``); empty when none.
    channels : tuple of dict
        Where notifications go (``name``, ``kind``, ``escalation``); targets are never part of the plan.
    escalation_minutes : float
        A critical alert not acknowledged within this many minutes is escalated.
    review_interval_months : int
        The periodic review interval of the model's risk tier.
    gaps : tuple of str
        What the plan lacks (no performance rule, no channel ...), in words.
    generated_at : datetime
        When the plan was generated (naive UTC); not part of its hash.
    """

    model: str
    version: str
    owner: str
    risk_tier: str
    items: tuple[PlanItem, ...]
    reports: tuple[dict[str, Any], ...]
    channels: tuple[dict[str, Any], ...]
    escalation_minutes: float
    review_interval_months: int
    gaps: tuple[str, ...]
    generated_at: datetime = field(compare=False)

    def content(self) -> dict[str, Any]:
        """The plan as JSON-ready data, without its generation time (what the hash covers)."""
        data = asdict(self)
        data.pop("generated_at")
        data["items"] = [asdict(i) for i in self.items]
        return data

    @property
    def sha256(self) -> str:
        """The sha256 of the plan's canonical JSON (:meth:`content`, keys sorted)."""
        return plan_hash(self.content())

    def to_dict(self) -> dict[str, Any]:
        """The plan, its sha256 and its generation time (UTC), JSON-ready."""
        return {**self.content(), "sha256": self.sha256, "generated_at": self.generated_at.isoformat() + "Z"}

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_markdown(self) -> str:
        """The plan as a Markdown document a reviewer reads."""
        return plan_markdown(self.to_dict())

    def to_html(self) -> str:
        """The plan as an HTML fragment (for the dossier)."""
        return plan_html(self.to_dict())


def plan_hash(content: dict[str, Any]) -> str:
    """The sha256 (hex) of a plan's content as canonical JSON."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _cell(value: Any) -> str:
    return str(value if value not in (None, "") else "—").replace("|", "\\|").replace("\n", " ")


def plan_markdown(plan: dict[str, Any]) -> str:
    """A plan (as :meth:`MonitoringPlan.to_dict` or a stored one) as Markdown."""
    lines = [f"# Post-market monitoring plan: {plan['model']} {plan['version']}", "",
             f"Generated {plan.get('generated_at', '—')} (UTC) by Vigil from the live alert rules, service levels "
             "and report schedule (EU AI Act Art. 72). sha256 `" + plan.get("sha256", plan_hash(
                 {k: v for k, v in plan.items() if k not in ("sha256", "generated_at")})) + "`.", "",
             f"- Model owner: {plan['owner']}", f"- Risk tier: {plan['risk_tier']} (periodic review at least every "
             f"{plan['review_interval_months']} months)",
             f"- Escalation: a critical alert not acknowledged within {plan['escalation_minutes']:g} minutes is "
             "escalated", "", "## What is monitored, how often, thresholds, who responds", ""]
    items = plan["items"]
    if items:
        lines += ["| rule | figure | scope | how often | warning | critical | min rows | responds | action | "
                  "enabled |", "|" + "---|" * 10]
        lines += [f"| {_cell(i['rule_id'])} | {_cell(i['what'])} | {_cell(i['scope'])} | {_cell(i['frequency'])} | "
                  f"{_cell(i['warning'])} | {_cell(i['critical'])} | {i['minimum_rows']} | {_cell(i['responder'])} | "
                  f"{_cell(i['action'])} | {'yes' if i['enabled'] else 'no'} |" for i in items]
    else:
        lines.append("No alert rule watches this model.")
    sla = [i for i in items if i["service_level"]]
    lines += ["", "## Service levels", ""]
    lines += [f"- {i['what']}: {i['critical'] or i['warning']}; evaluated {i['frequency']}" for i in sla] or [
        "No service level (latency or freshness rule) is set."]
    lines += ["", "## Runbooks", ""]
    lines += [f"- {i['rule_id']}: {i['runbook']}" for i in items if i["runbook"]] or ["No runbook is set."]
    lines += ["", "## Scheduled reports", ""]
    lines += [f"- {r['name']}: {r['schedule']} to {r.get('recipients') or '—'}" for r in plan["reports"]] or [
        "No scheduled report covers this model."]
    lines += ["", "## Notification channels", ""]
    lines += [f"- {c['name']} ({c['kind']}){' — escalations' if c['escalation'] else ''}" for c in plan["channels"]] \
        or ["No notification channel is enabled: alerts are only shown in Vigil."]
    lines += ["", "## Gaps", ""]
    lines += [f"- {g}" for g in plan["gaps"]] or ["None found."]
    return "\n".join(lines) + "\n"


def plan_html(plan: dict[str, Any]) -> str:
    """A plan as an HTML fragment: a summary line, the table of monitored figures, reports, channels, gaps."""
    e = html.escape
    head = "".join(f"<th>{h}</th>" for h in ("rule", "figure", "scope", "how often", "warning", "critical",
                                               "min rows", "responds", "runbook", "enabled"))
    rows = "".join(
        "<tr>" + "".join(f"<td>{e(str(v) if v not in (None, '') else '—')}</td>" for v in (
            i["rule_id"], i["what"], i["scope"], i["frequency"], i["warning"], i["critical"], i["minimum_rows"],
            i["responder"], i["runbook"], "yes" if i["enabled"] else "no")) + "</tr>" for i in plan["items"])
    table = (f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>" if plan["items"]
             else "<p class='meta'>No alert rule watches this model.</p>")
    reports = "".join(f"<li>{e(r['name'])}: {e(str(r['schedule']))} to {e(str(r.get('recipients') or '—'))}</li>"
                      for r in plan["reports"]) or "<li>No scheduled report covers this model.</li>"
    channels = "".join(f"<li>{e(c['name'])} ({e(c['kind'])}){' — escalations' if c['escalation'] else ''}</li>"
                       for c in plan["channels"]) or "<li>No notification channel is enabled.</li>"
    gaps = "".join(f"<li>{e(g)}</li>" for g in plan["gaps"]) or "<li>None found.</li>"
    return (f"<p class='meta'>Plan generated {e(str(plan.get('generated_at', '—')))} (UTC); sha256 "
            f"<code>{e(plan.get('sha256', ''))}</code>. Owner {e(plan['owner'])}; risk tier {e(plan['risk_tier'])}; "
            f"review at least every {plan['review_interval_months']} months; critical alerts escalated after "
            f"{plan['escalation_minutes']:g} minutes without acknowledgement.</p>{table}"
            f"<h3>Scheduled reports</h3><ul>{reports}</ul><h3>Notification channels</h3><ul>{channels}</ul>"
            f"<h3>Gaps</h3><ul>{gaps}</ul>")


def record_plan(con: duckdb.DuckDBPyConnection, actor: Actor, plan: MonitoringPlan) -> bool:
    """Keep ``plan`` with its version (approvers and admins); False when the same plan is already kept.

    A new row is written, with its audit row ``plan.record``, only when the plan's content (its sha256)
    differs from every plan kept for the version.
    """
    require(actor, "approve")
    get_version(con, plan.model, plan.version)
    digest = plan.sha256
    if con.execute("SELECT 1 FROM monitoring_plans WHERE model_name = ? AND version = ? AND plan_sha256 = ?",
                   [plan.model, plan.version, digest]).fetchone():
        return False
    seq = audit.record(con, actor, "plan.record", "model_version", f"{plan.model}:{plan.version}",
                       {"sha256": digest, "rules": len(plan.items), "gaps": list(plan.gaps)})
    con.execute("INSERT INTO monitoring_plans (model_name, version, plan_sha256, plan, recorded_at, recorded_by, "
                "audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [plan.model, plan.version, digest, json.dumps(plan.to_dict(), sort_keys=True), utc_now(),
                 actor.username, seq])
    return True


def recorded_plan(con: duckdb.DuckDBPyConnection, model: str, version: str) -> dict[str, Any] | None:
    """The plan last recorded for a version (as :meth:`MonitoringPlan.to_dict`), with ``recorded_at``,
    ``recorded_by`` and ``hash_matches`` (its content still hashes to its stored sha256); None if none."""
    row = con.execute("SELECT plan, plan_sha256, recorded_at, recorded_by FROM monitoring_plans WHERE model_name = ? "
                      "AND version = ? ORDER BY recorded_at DESC, audit_seq DESC LIMIT 1", [model, version]).fetchone()
    if row is None:
        return None
    plan = json.loads(row[0])
    content = {k: v for k, v in plan.items() if k not in ("sha256", "generated_at")}
    return {**plan, "recorded_at": row[2], "recorded_by": row[3], "hash_matches": plan_hash(content) == row[1]}


def plan_section_html(con: duckdb.DuckDBPyConnection, model: str, version: str) -> str:
    """The dossier's section: the plan recorded for the version, who recorded it, whether its hash matches."""
    plan = recorded_plan(con, model, version)
    if plan is None:
        return (f"<p class='meta'>No monitoring plan has been recorded for this version; record it with "
                f"<code>vigil compliance plan --model {html.escape(model)} --version {html.escape(version)} "
                f"--record</code> (or on the Compliance page).</p>")
    check = "matches its content" if plan["hash_matches"] else "DOES NOT MATCH its content"
    return (f"<p class='meta'>Recorded by {html.escape(str(plan['recorded_by']))} at "
            f"{plan['recorded_at']:%Y-%m-%d %H:%M} UTC; its sha256 {check}.</p>" + plan_html(plan))
