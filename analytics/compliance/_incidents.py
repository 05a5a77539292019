"""Serious incidents (EU AI Act Art. 73): classification, the reporting clock, and the draft report.

Regulation (EU) 2024/1689, Art. 73: a provider reports a serious incident to the market surveillance
authority immediately after establishing a causal link (or its reasonable likelihood) and

- paragraph 2: not later than **15 days** after becoming aware of it (the general case);
- paragraph 3: not later than **2 days** after becoming aware of a *widespread infringement* or of a
  serious incident under Art. 3(49)(b) (serious and irreversible disruption of critical infrastructure);
- paragraph 4: not later than **10 days** after becoming aware, in the event of the **death** of a person;
- paragraph 5: an initial, incomplete report may be followed by a complete one.

An approver or admin classifies an incident as serious (category, when the provider became aware, why);
the deadline is ``aware_at`` plus the category's days, in UTC. Every change is audited. The draft report
is assembled from the incident's alerts, their timeline, the model's registry entry and the monitoring
plan recorded for the versions involved; a person completes and sends it, then records it as reported.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from analytics import alerts, audit, settings
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, NotFoundError
from analytics.governance import recorded_plan, risk_tier
from analytics.registry import get_model
from analytics.roles import Actor, require


@dataclass(frozen=True)
class Category:
    """A category of serious incident: its key, what it covers, its reporting limit and the article."""

    key: str
    label: str
    days: int
    article: str


#: The categories of Art. 73 and their reporting limits (days after awareness).
CATEGORIES: dict[str, Category] = {c.key: c for c in (
    Category("general", "serious incident (Art. 3(49)(a), (c) or (d))", 15, "Art. 73(2)"),
    Category("widespread", "widespread infringement, or serious and irreversible disruption of critical "
                           "infrastructure (Art. 3(49)(b))", 2, "Art. 73(3)"),
    Category("death", "death of a person", 10, "Art. 73(4)"),
)}
WARN_DAYS = settings.declare("compliance.report_deadline_warning_days", 3.0, "A serious incident's report to the "
                             "authority is 'due soon', and escalated, this many days before its deadline",
                             unit="days", minimum=0.1, maximum=15)
CLOCK_COLUMNS: tuple[str, ...] = ("incident_id", "model", "title", "category", "article", "days", "aware_at",
                                  "deadline_at", "hours_left", "status", "classified_by", "classified_at",
                                  "rationale", "reported_at", "reported_by", "report_reference")


def _incident(con: duckdb.DuckDBPyConnection, incident_id: int) -> dict[str, Any]:
    frame = con.execute("SELECT * FROM incidents WHERE incident_id = ?", [int(incident_id)]).df()
    if frame.empty:
        raise NotFoundError(f"no incident {incident_id}; the Incidents page or 'vigil alerts list' shows them")
    return frame.iloc[0].to_dict()


def classify_serious(con: duckdb.DuckDBPyConnection, actor: Actor, incident_id: int, *, category: str,
                     rationale: str, aware_at: datetime | None = None, at: datetime | None = None) -> datetime:
    """Classify an incident as serious (approvers and admins); audited. Returns the reporting deadline (UTC).

    Parameters
    ----------
    category : {"general", "widespread", "death"}
        Sets the limit (15, 2 or 10 days; :data:`CATEGORIES`).
    rationale : str
        Why the incident is serious (which harm, which causal link).
    aware_at : datetime, optional
        When the provider became aware (naive UTC); default now. The clock runs from it.

    Raises
    ------
    InvalidInputError
        Unknown category, empty rationale, awareness in the future, or an incident already reported.
    """
    require(actor, "approve")
    incident = _incident(con, incident_id)
    if category not in CATEGORIES:
        raise InvalidInputError(f"category {category!r} is unknown; use one of {', '.join(CATEGORIES)}")
    rationale = (rationale or "").strip()
    if not rationale:
        raise InvalidInputError("a serious incident needs a rationale: the harm and the suspected causal link")
    when = at or utc_now()
    aware = aware_at or when
    if aware > when + timedelta(minutes=5):
        raise InvalidInputError("the provider cannot become aware in the future; give --aware-at in the past (UTC)")
    before = con.execute("SELECT category, aware_at, reported_at FROM serious_incidents WHERE incident_id = ?",
                         [int(incident_id)]).fetchone()
    if before is not None and before[2] is not None:
        raise InvalidInputError(f"incident {incident_id} was reported on {before[2]:%Y-%m-%d %H:%M} UTC; "
                                "its classification can no longer change")
    deadline = aware + timedelta(days=CATEGORIES[category].days)
    audit.record(con, actor, "incident.serious", "incident", str(int(incident_id)),
                 {"model": incident["model_name"], "category": category, "article": CATEGORIES[category].article,
                  "aware_at": aware.isoformat(), "deadline_at": deadline.isoformat(), "rationale": rationale,
                  "from": None if before is None else {"category": before[0], "aware_at": before[1].isoformat()}},
                 at=when)
    con.execute("INSERT OR REPLACE INTO serious_incidents (incident_id, category, aware_at, deadline_at, rationale, "
                "classified_at, classified_by, reported_at, reported_by, report_reference) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                [int(incident_id), category, aware, deadline, rationale, when, actor.username])
    return deadline


def record_reported(con: duckdb.DuckDBPyConnection, actor: Actor, incident_id: int, *, reference: str,
                    at: datetime | None = None) -> None:
    """Record that the report of a serious incident was sent to the authority (approvers, admins). Audited."""
    require(actor, "approve")
    row = con.execute("SELECT reported_at FROM serious_incidents WHERE incident_id = ?", [int(incident_id)]).fetchone()
    if row is None:
        raise InvalidInputError(f"incident {incident_id} is not classified as serious; classify it first")
    if row[0] is not None:
        raise InvalidInputError(f"incident {incident_id} was already recorded as reported")
    reference = (reference or "").strip()
    if not reference:
        raise InvalidInputError("give the authority's reference (or how and to whom the report was sent)")
    when = at or utc_now()
    audit.record(con, actor, "incident.reported", "incident", str(int(incident_id)), {"reference": reference}, at=when)
    con.execute("UPDATE serious_incidents SET reported_at = ?, reported_by = ?, report_reference = ? "
                "WHERE incident_id = ?", [when, actor.username, reference, int(incident_id)])


def clock_status(deadline_at: datetime, reported_at: datetime | None, now: datetime, warn_days: float) -> str:
    """``reported``, ``overdue``, ``due soon`` (within ``warn_days``) or ``running``."""
    if reported_at is not None and not pd.isna(reported_at):
        return "reported on time" if reported_at <= deadline_at else "reported late"
    left = (deadline_at - now).total_seconds() / 86_400
    return "overdue" if left < 0 else "due soon" if left <= warn_days else "running"


def reporting_clocks(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None,
                     incident_id: int | None = None) -> pd.DataFrame:
    """Serious incidents with their reporting clock (:data:`CLOCK_COLUMNS`), most urgent first. Times UTC."""
    now = now or utc_now()
    frame = con.execute(
        "SELECT s.incident_id, i.model_name AS model, i.title, s.category, s.aware_at, s.deadline_at, "
        "s.classified_by, s.classified_at, s.rationale, s.reported_at, s.reported_by, s.report_reference "
        "FROM serious_incidents s JOIN incidents i USING (incident_id) "
        + ("WHERE s.incident_id = ? " if incident_id is not None else "") + "ORDER BY s.deadline_at",
        [int(incident_id)] if incident_id is not None else []).df()
    frame["article"] = [CATEGORIES[c].article for c in frame["category"]]
    frame["days"] = [CATEGORIES[c].days for c in frame["category"]]
    frame["hours_left"] = [None if pd.notna(r) else (d - pd.Timestamp(now)).total_seconds() / 3600
                           for d, r in zip(frame["deadline_at"], frame["reported_at"])]
    frame["status"] = [clock_status(d, r if pd.notna(r) else None, now,
                                    float(settings.get(con, WARN_DAYS.key, model=m)))
                       for d, r, m in zip(frame["deadline_at"], frame["reported_at"], frame["model"])]
    return frame.reindex(columns=list(CLOCK_COLUMNS))


@dataclass(frozen=True)
class AuthorityReport:
    """The draft report of a serious incident to the market surveillance authority (Art. 73).

    Attributes
    ----------
    incident : dict
        The incident (id, model, family, title, severity, opened, resolved, resolution note).
    clock : dict
        Category, article, awareness, deadline, status (UTC).
    model : dict
        Name, owner, description, risk tier.
    versions : tuple of str
        Versions whose alerts belong to the incident.
    alerts : pandas.DataFrame
        The incident's alerts (rule, version, value, bound, windows, states).
    timeline : pandas.DataFrame
        Every event of those alerts, oldest first (state changes, notifications, actions).
    plans : dict
        The sha256 of the monitoring plan recorded for each version (or None).
    drafted_at : datetime
    """

    incident: dict[str, Any]
    clock: dict[str, Any]
    model: dict[str, Any]
    versions: tuple[str, ...]
    alerts: pd.DataFrame
    timeline: pd.DataFrame
    plans: dict[str, str | None]
    drafted_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (times as ISO 8601 UTC)."""
        def plain(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))
        return {"report": "EU AI Act Art. 73 serious incident report (DRAFT)", "drafted_at": _iso(self.drafted_at),
                "incident": {k: _iso(v) for k, v in self.incident.items()},
                "reporting_clock": {k: _iso(v) for k, v in self.clock.items()},
                "ai_system": self.model, "versions": list(self.versions), "monitoring_plans": self.plans,
                "alerts": plain(self.alerts), "timeline": plain(self.timeline),
                "to_complete": list(TO_COMPLETE)}

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)

    def to_markdown(self) -> str:
        """The draft as Markdown."""
        d = self.to_dict()
        c, i = d["reporting_clock"], d["incident"]
        lines = [f"# Serious incident report (DRAFT): incident #{i['incident_id']}, {self.model['name']}", "",
                 f"Drafted by Vigil at {d['drafted_at']} (UTC). Regulation (EU) 2024/1689, {c['article']}: report "
                 f"not later than {c['days']} days after awareness.", "",
                 "## Reporting clock (UTC)", "",
                 f"- Category: {c['category']} ({CATEGORIES[c['category']].label})",
                 f"- Provider aware: {c['aware_at']}", f"- Deadline: **{c['deadline_at']}**",
                 f"- Status: {c['status']}", f"- Classified by {c['classified_by']} at {c['classified_at']}: "
                 f"{c['rationale']}", "",
                 "## AI system", "", f"- Model: {self.model['name']} (owner {self.model['owner']}, risk tier "
                 f"{self.model['risk_tier']})", f"- Description: {self.model['description'] or '—'}",
                 f"- Versions involved: {', '.join(self.versions) or '—'}"]
        lines += [f"- Monitoring plan of {v}: " + (f"sha256 `{h}`" if h else "none recorded")
                  for v, h in self.plans.items()]
        lines += ["", "## Incident", "", f"- Title: {i['title']}", f"- Rule family: {i['family']}; severity "
                  f"{i['severity']}", f"- Opened: {i['opened_at']}; resolved: {i['resolved_at'] or 'not yet'}",
                  f"- Resolution / corrective action so far: {i['resolution_note'] or '—'}", "",
                  f"## Alerts ({len(self.alerts)})", ""]
        lines += [f"- #{a['alert_id']} {a['rule_id']} on {a['version']}: value {a['value']} against bound {a['bound']},"
                  f" window {a['window_start']} to {a['window_end']}, {a['state']}" for a in d["alerts"]] or ["None."]
        lines += ["", f"## Timeline ({len(self.timeline)} events, UTC)", ""]
        lines += [f"- {e['occurred_at']} — alert #{e['alert_id']} {e['kind']} by {e['actor']}: {e['details']}"
                  for e in d["timeline"]] or ["No event recorded."]
        lines += ["", "## To complete before sending", ""] + [f"- {t}" for t in TO_COMPLETE]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """The draft as a self-contained HTML document (Markdown text in a page, escaped)."""
        body = "".join(_md_line_html(line) for line in self.to_markdown().splitlines())
        return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Serious incident report "
                f"(DRAFT) #{self.incident['incident_id']}</title><style>body{{font-family:Helvetica,Arial,sans-serif;"
                "max-width:900px;margin:24px auto;padding:0 16px;font-size:14px;line-height:1.45}}li{{margin:2px 0}}"
                f"</style></head><body>{body}</body></html>")


#: What Vigil cannot know and a person completes (Art. 73 and the Commission's reporting template).
TO_COMPLETE: tuple[str, ...] = (
    "the harm: who was affected, how, and how many people",
    "the causal link between the AI system and the harm, established or suspected",
    "the Member State(s) where the incident occurred and the authority addressed",
    "the provider's identity and the system's EU database registration number",
    "corrective actions taken or planned, and the risk assessment (Art. 73(6))",
)


def _iso(value: Any) -> Any:
    if isinstance(value, (datetime, pd.Timestamp)) and not pd.isna(value):
        return pd.Timestamp(value).isoformat() + "Z"
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _md_line_html(line: str) -> str:
    text = html.escape(line).replace("**", "")
    if line.startswith("# "):
        return f"<h1>{text[2:]}</h1>"
    if line.startswith("## "):
        return f"<h2>{text[3:]}</h2>"
    if line.startswith("- "):
        return f"<li>{text[2:]}</li>"
    return f"<p>{text}</p>" if text else ""


def draft_report(con: duckdb.DuckDBPyConnection, incident_id: int, *, now: datetime | None = None) -> AuthorityReport:
    """Draft the report to the authority of a serious incident from its alerts and their timeline.

    Raises
    ------
    NotFoundError
        No such incident.
    InvalidInputError
        The incident is not classified as serious.
    """
    now = now or utc_now()
    incident = _incident(con, incident_id)
    clocks = reporting_clocks(con, now=now, incident_id=incident_id)
    if clocks.empty:
        raise InvalidInputError(f"incident {incident_id} is not classified as serious; an approver classifies it "
                                "first ('vigil compliance serious')")
    clock = clocks.iloc[0].drop(labels=["incident_id", "model", "title"]).to_dict()
    info = get_model(con, incident["model_name"])
    tier = risk_tier(con, info.name)
    frame = alerts.alerts_table(con, model=info.name, include_unfired=True)
    frame = frame[frame["incident_id"] == int(incident_id)].reset_index(drop=True)
    versions = tuple(sorted(set(frame["version"])))
    plans = {v: (p["sha256"] if (p := recorded_plan(con, info.name, v)) else None) for v in versions}
    return AuthorityReport(
        incident={k: incident[k] for k in ("incident_id", "model_name", "family", "title", "severity", "opened_at",
                                           "resolved_at", "resolution_note")},
        clock=clock, model={"name": info.name, "owner": info.owner, "description": info.description,
                            "risk_tier": tier["risk_tier"] if tier else "not set"},
        versions=versions,
        alerts=frame[["alert_id", "rule_id", "version", "severity", "state", "value", "bound", "window_start",
                      "window_end", "fired_at", "acknowledged_at", "resolved_at"]],
        timeline=alerts.timeline(con, incident_id=int(incident_id)), plans=plans, drafted_at=now)
