"""Automated intervention when a rule's critical level fires: a retraining request, or ending a canary.

- ``action="retrain"``: opens a retraining request for the model with the evidence of that moment
  (the alert, the rule, the value against its bound), at most one open request per model and none
  within ``alerts.retrain_cooldown_days`` of the last one; it is audited and its notification goes
  to the routed channels like any alert (a webhook channel is the hook).
- ``action="end_canary"``: when the alert's version is serving as a canary and the model's setting
  ``alerts.auto_end_canary`` is on (off by default), the canary is ended through the governance
  funnel (:func:`analytics.governance.end_canary`), audited with the rule and the evidence; an
  approver may start it again. Vigil never promotes automatically.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from analytics import audit, governance, settings
from analytics.alerts._events import event
from analytics.alerts._rules import Rule
from analytics.clock import utc_now
from analytics.errors import InvalidInputError
from analytics.roles import Actor, require

COOLDOWN = settings.declare("alerts.retrain_cooldown_days", 7, "Days after a retraining request before a rule may "
                            "open another for the same model", unit="days", minimum=0)
AUTO_END_CANARY = settings.declare("alerts.auto_end_canary", False, "End a canary automatically when a critical "
                                   "guardrail rule with action end_canary fires on it")


def _evidence(alert: dict[str, Any], rule: Rule) -> dict[str, Any]:
    return {"alert_id": int(alert["alert_id"]), "fingerprint": alert["fingerprint"], "rule": rule.to_dict(),
            "value": None if alert["value"] != alert["value"] else alert["value"], "bound": alert["bound"],
            "window_end": str(pd.Timestamp(alert["window_end"]))}


def act(con: duckdb.DuckDBPyConnection, actor: Actor, alert: dict[str, Any], rule: Rule, when: datetime) -> str | None:
    """Carry out the rule's action for a critical alert (in the caller's transaction); say what was done."""
    if rule.action == "retrain":
        open_or_recent = con.execute(
            "SELECT request_id FROM retrain_requests WHERE model_name = ? AND (state = 'open' OR opened_at > ?)",
            [rule.model, when - timedelta(days=int(settings.get(con, COOLDOWN.key, model=rule.model)))]).fetchone()
        if open_or_recent:
            return None
        request = con.execute("SELECT nextval('retrain_request_id_seq')").fetchone()[0]
        evidence = _evidence(alert, rule)
        con.execute("INSERT INTO retrain_requests (request_id, model_name, version, rule_id, alert_id, opened_at, state, evidence, closed_at, closed_by, note) "
                "VALUES (?, ?, ?, ?, ?, ?, 'open', ?, NULL, NULL, NULL)",
                    [request, rule.model, alert["version"], rule.rule_id, int(alert["alert_id"]), when,
                     json.dumps(evidence, default=str)])
        audit.record(con, actor, "retrain.request", "model", rule.model, {"request_id": int(request), **evidence},
                     at=when)
        event(con, actor, int(alert["alert_id"]), "retrain_requested", when, {"request_id": int(request)},
              audited=False)
        return f"retraining request {request} opened for {rule.model}"
    if rule.action == "end_canary":
        status = con.execute("SELECT status FROM model_versions WHERE model_name = ? AND version = ?",
                             [rule.model, alert["version"]]).fetchone()
        if not status or status[0] != "canary" or not settings.get(con, AUTO_END_CANARY.key, model=rule.model):
            return None
        governance.end_canary(con, actor, rule.model, alert["version"],
                              reason=f"critical guardrail rule {rule.rule_id} fired (alert {alert['alert_id']})",
                              evidence=_evidence(alert, rule), at=when)
        event(con, actor, int(alert["alert_id"]), "canary_ended", when, {"version": alert["version"]}, audited=False)
        return f"canary {rule.model}:{alert['version']} ended"
    return None


def retrain_requests(con: duckdb.DuckDBPyConnection, *, model: str | None = None) -> pd.DataFrame:
    """Retraining requests, newest first, with their evidence."""
    clause, params = ("WHERE model_name = ?", [model]) if model else ("", [])
    return con.execute("SELECT request_id, model_name AS model, version, rule_id, alert_id, opened_at, state, "
                       f"evidence, closed_at, closed_by, note FROM retrain_requests {clause} ORDER BY request_id DESC",
                       params).df()


def close_retrain_request(con: duckdb.DuckDBPyConnection, actor: Actor, request_id: int, note: str) -> None:
    """Close a retraining request with a note (approvers and admins). Audited."""
    require(actor, "manage_rules")
    if not (note or "").strip():
        raise InvalidInputError("closing a retraining request needs a note (what was done)")
    row = con.execute("SELECT model_name, state FROM retrain_requests WHERE request_id = ?", [request_id]).fetchone()
    if row is None or row[1] != "open":
        raise InvalidInputError(f"retraining request {request_id} is not open")
    now = utc_now()
    con.execute("UPDATE retrain_requests SET state = 'closed', closed_at = ?, closed_by = ?, note = ? "
                "WHERE request_id = ?", [now, actor.username, note.strip(), request_id])
    audit.record(con, actor, "retrain.close", "model", row[0], {"request_id": request_id, "note": note.strip()})
