"""Reminders through the alerting path: a serious incident's reporting deadline nearing or passed, and a
periodic model review due or overdue.

:func:`remind` queues each stage once (``compliance_reminders`` keeps what was queued) as notifications in
the outbox of :mod:`analytics.alerts` (the channels routed to the model, ``reminder`` notices; the
escalation channels too for a deadline due soon or passed and an overdue review), with one audit row per
reminder; ``vigil compliance remind`` then sends them with :func:`analytics.alerts.dispatch`. Run it from
cron next to ``vigil monitor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from analytics import audit
from analytics.alerts import enqueue_notice
from analytics.clock import utc_now
from analytics.compliance._calendar import review_calendar
from analytics.compliance._incidents import reporting_clocks
from analytics.roles import Actor

SYSTEM = Actor("svc:compliance", "system")


@dataclass(frozen=True)
class Reminder:
    """One reminder queued: its key (kind, subject, stage), model, when the thing is due, notifications queued."""

    key: str
    kind: str
    model: str
    subject: str
    stage: str
    due_at: datetime
    summary: str
    notifications: int


def _queue(con: duckdb.DuckDBPyConnection, now: datetime, *, kind: str, model: str, subject: str, stage: str,
           due_at: datetime, severity: str, summary: str, escalate: bool) -> Reminder | None:
    key = f"{kind}:{subject}:{stage}:{pd.Timestamp(due_at):%Y-%m-%dT%H:%M}"
    if con.execute("SELECT 1 FROM compliance_reminders WHERE reminder_key = ?", [key]).fetchone():
        return None
    body = {"notice": "reminder", "model": model, "severity": severity, "fingerprint": key, "summary": summary,
            "kind": kind, "subject": subject, "stage": stage, "due_at": pd.Timestamp(due_at).isoformat() + "Z",
            "state": stage, "version": "-", "rule": kind, "metric": kind}
    queued = enqueue_notice(con, body, now)
    if escalate:
        queued += enqueue_notice(con, {**body, "notice": "escalation"}, now)
    audit.record(con, SYSTEM, f"compliance.{kind}_reminder", "model", model,
                 {"subject": subject, "stage": stage, "due_at": body["due_at"], "notifications": queued}, at=now)
    con.execute("INSERT INTO compliance_reminders (reminder_key, kind, model_name, subject, due_at, queued_at, "
                "notifications) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [key, kind, model, subject, due_at, now, queued])
    return Reminder(key, kind, model, subject, stage, due_at, summary, queued)


def remind(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> list[Reminder]:
    """Queue the reminders due at ``now`` (naive UTC) that were not queued before; return them.

    - A serious incident not yet reported: ``due soon`` (within ``compliance.report_deadline_warning_days``)
      and ``overdue`` stages, each a critical reminder, escalated.
    - A model review: ``due soon`` (a warning) and ``overdue`` (critical, escalated).
    """
    now = now or utc_now()
    out: list[Reminder] = []
    for row in reporting_clocks(con, now=now).to_dict("records"):
        if row["status"] not in ("due soon", "overdue"):
            continue
        deadline = pd.Timestamp(row["deadline_at"]).to_pydatetime()
        words = "is due" if row["status"] == "due soon" else "was due"
        summary = (f"[SERIOUS INCIDENT] {row['model']}: the report of incident #{row['incident_id']} to the "
                   f"authority ({row['article']}, {row['days']} days) {words} {deadline:%Y-%m-%d %H:%M} UTC")
        out.append(_queue(con, now, kind="incident_report", model=row["model"], subject=str(row["incident_id"]),
                          stage=row["status"], due_at=deadline, severity="critical", summary=summary, escalate=True))
    for row in review_calendar(con, now=now).to_dict("records"):
        if row["status"] not in ("due soon", "overdue"):
            continue
        due = pd.Timestamp(row["due_at"]).to_pydatetime()
        summary = (f"[MODEL REVIEW] {row['model']} (risk tier {row['risk_tier']}, every {row['interval_months']} "
                   f"months): periodic review {'due' if row['status'] == 'due soon' else 'OVERDUE since'} "
                   f"{due:%Y-%m-%d} UTC; last {row['last_review_kind']} {pd.Timestamp(row['last_review_at']):%Y-%m-%d}")
        overdue = row["status"] == "overdue"
        out.append(_queue(con, now, kind="review", model=row["model"], subject=row["model"], stage=row["status"],
                          due_at=due, severity="critical" if overdue else "warning", summary=summary,
                          escalate=overdue))
    return [r for r in out if r is not None]


def reminders_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Reminders queued so far, newest first."""
    return con.execute("SELECT reminder_key, kind, model_name AS model, subject, due_at, queued_at, notifications "
                       "FROM compliance_reminders ORDER BY queued_at DESC, reminder_key").df()
