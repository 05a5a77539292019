"""The timeline of an alert: one row per event in ``alert_events``, state changes audited in the same transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from analytics import audit
from analytics.roles import Actor


def event(con: duckdb.DuckDBPyConnection, actor: Actor, alert_id: int, kind: str, when: datetime,
          details: dict[str, Any], transitions: list[dict[str, Any]] | None = None, *, audited: bool = True) -> None:
    """Record one event of an alert's timeline; a state change (``audited``) also gets its audit row ``alert.<kind>``.

    ``transitions``, when given, collects the event for the caller's report.
    """
    seq = audit.record(con, actor, f"alert.{kind}", "alert", str(alert_id), details, at=when) if audited else None
    con.execute("INSERT INTO alert_events (event_id, alert_id, occurred_at, kind, actor, details, audit_seq) "
                "VALUES (nextval('alert_event_id_seq'), ?, ?, ?, ?, ?, ?)",
                [int(alert_id), when, kind, actor.username, json.dumps(details, default=str, sort_keys=True), seq])
    if transitions is not None:
        transitions.append({"alert_id": int(alert_id), "kind": kind, **details})
