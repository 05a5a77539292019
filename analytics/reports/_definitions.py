"""Report definitions: what a scheduled report covers (one model or the portfolio), how often, which
sections, and who receives it. Created and edited by approvers and admins; every change audited in its
own transaction."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from analytics import audit
from analytics.addresses import check_email_address
from analytics.alerts import email_channel
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, NotFoundError
from analytics.registry import get_model
from analytics.reports._periods import check_schedule
from analytics.roles import Actor, require

#: Sections a report may hold, in report order, with their headings.
SECTIONS: dict[str, str] = {
    "drift": "Data drift",
    "performance": "Performance and back-testing",
    "fairness": "Fairness",
    "kpis": "Business KPIs",
    "cost_sla": "Cost and service level",
    "alerts": "Alerts and incidents",
    "governance": "Governance changes",
}
PORTFOLIO = "portfolio"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class ReportDefinition:
    """One scheduled report.

    Attributes
    ----------
    name : str
        Its key (lower case, digits, ``-`` and ``_``).
    model : str or None
        The model it covers; None for the whole portfolio (every registered model).
    schedule : str
        ``daily``, ``weekly`` or ``monthly``.
    sections : tuple of str
        Keys of :data:`SECTIONS`, in report order.
    recipients : tuple of str
        E-mail addresses; empty: the report is kept but not sent.
    channel : str or None
        The e-mail channel (see ``vigil channels``) whose SMTP server sends it.
    enabled : bool
        Disabled definitions are not run.
    """

    name: str
    model: str | None
    schedule: str
    sections: tuple[str, ...]
    recipients: tuple[str, ...] = ()
    channel: str | None = None
    enabled: bool = True
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def scope(self) -> str:
        """The model's name, or ``portfolio``."""
        return self.model or PORTFOLIO

    def to_dict(self) -> dict:
        """The definition as plain JSON-ready values (audit details, the manifest)."""
        return {"name": self.name, "scope": self.scope, "schedule": self.schedule, "sections": list(self.sections),
                "recipients": list(self.recipients), "channel": self.channel, "enabled": self.enabled}


def _check(con: duckdb.DuckDBPyConnection, definition: ReportDefinition) -> ReportDefinition:
    if not _NAME.fullmatch(definition.name or ""):
        raise InvalidInputError(f"report name {definition.name!r}: use 1 to 64 lower-case letters, digits, '-' or "
                                "'_', starting with a letter or digit")
    if definition.model is not None:
        get_model(con, definition.model)  # NotFoundError names the registered models
    check_schedule(definition.schedule)
    sections = tuple(dict.fromkeys(definition.sections))
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown or not sections:
        raise InvalidInputError(f"sections {', '.join(unknown) or '(none)'}: choose one or more of "
                                f"{', '.join(SECTIONS)}")
    for recipient in definition.recipients:
        check_email_address(recipient)
    if definition.recipients and not definition.channel:
        raise InvalidInputError("recipients need an e-mail channel to send through: name one with --channel "
                                "(an email channel of 'vigil channels list')")
    if definition.channel:
        email_channel(con, definition.channel)
    ordered = tuple(s for s in SECTIONS if s in sections)
    return ReportDefinition(definition.name, definition.model, definition.schedule, ordered,
                            tuple(dict.fromkeys(definition.recipients)), definition.channel, bool(definition.enabled))


def save_definition(con: duckdb.DuckDBPyConnection, actor: Actor, definition: ReportDefinition, *,
                    at: datetime | None = None) -> ReportDefinition:
    """Create or replace a report definition (approvers and admins), audited in the caller's transaction.

    Raises
    ------
    PermissionDeniedError
        When ``actor`` may not manage reports.
    InvalidInputError, NotFoundError
        An unknown model, schedule, section or channel, or a malformed name or address.
    """
    require(actor, "manage_reports")
    checked = _check(con, definition)
    when = at or utc_now()
    before = _get(con, checked.name)
    values = [checked.model, checked.schedule, json.dumps(list(checked.sections)), json.dumps(list(checked.recipients)),
              checked.channel, checked.enabled, when, actor.username]
    if before is None:
        con.execute("INSERT INTO report_definitions (model_name, schedule, sections, recipients, channel, enabled, "
                    "updated_at, updated_by, created_at, created_by, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [*values, when, actor.username, checked.name])
    else:
        con.execute("UPDATE report_definitions SET model_name = ?, schedule = ?, sections = ?, recipients = ?, "
                    "channel = ?, enabled = ?, updated_at = ?, updated_by = ? WHERE name = ?", [*values, checked.name])
    details = checked.to_dict() if before is None else {"before": before.to_dict(), "after": checked.to_dict()}
    audit.record(con, actor, "report.create" if before is None else "report.update", "report", checked.name, details,
                 at=at)
    return _get(con, checked.name)


def delete_definition(con: duckdb.DuckDBPyConnection, actor: Actor, name: str) -> None:
    """Remove a report definition (approvers and admins); its past reports and their files stay. Audited."""
    require(actor, "manage_reports")
    definition = get_definition(con, name)
    con.execute("DELETE FROM report_definitions WHERE name = ?", [name])
    audit.record(con, actor, "report.delete", "report", name, definition.to_dict())


def _from_row(row: tuple) -> ReportDefinition:
    name, model, schedule, sections, recipients, channel, enabled, updated_at, updated_by = row
    return ReportDefinition(name, model, schedule, tuple(json.loads(sections)), tuple(json.loads(recipients)), channel,
                            bool(enabled), updated_at, updated_by)


_SELECT = ("SELECT name, model_name, schedule, sections, recipients, channel, enabled, updated_at, updated_by "
           "FROM report_definitions")


def _get(con: duckdb.DuckDBPyConnection, name: str) -> ReportDefinition | None:
    row = con.execute(f"{_SELECT} WHERE name = ?", [name]).fetchone()
    return None if row is None else _from_row(row)


def get_definition(con: duckdb.DuckDBPyConnection, name: str) -> ReportDefinition:
    """The definition called ``name``; :class:`NotFoundError` naming the defined reports otherwise."""
    found = _get(con, name)
    if found is None:
        known = ", ".join(d.name for d in list_definitions(con)) or "none yet"
        raise NotFoundError(f"no report definition {name!r} (defined: {known}); 'vigil reports add' creates one")
    return found


def list_definitions(con: duckdb.DuckDBPyConnection) -> list[ReportDefinition]:
    """Every report definition, by name."""
    return [_from_row(r) for r in con.execute(f"{_SELECT} ORDER BY name").fetchall()]


def definitions_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The definitions as a table: name, scope, schedule, sections, recipients, channel, enabled, last change."""
    rows = [{"name": d.name, "scope": d.scope, "schedule": d.schedule, "sections": ", ".join(d.sections),
             "recipients": ", ".join(d.recipients), "channel": d.channel, "enabled": d.enabled,
             "updated_at": d.updated_at, "updated_by": d.updated_by} for d in list_definitions(con)]
    return pd.DataFrame(rows, columns=["name", "scope", "schedule", "sections", "recipients", "channel", "enabled",
                                       "updated_at", "updated_by"])
