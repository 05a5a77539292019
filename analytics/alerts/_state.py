"""What people do with alerts (acknowledge with an assignee and a comment, resolve with a note, silence),
and the alerts, incidents and knowledge base read back as tidy frames. Every change is audited.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb
import pandas as pd

from analytics import audit
from analytics.alerts import _notify
from analytics.alerts._events import event
from analytics.alerts._monitor import OPEN_STATES, resolve_alert
from analytics.alerts._rules import get_rule, metric_family
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, NotFoundError
from analytics.registry import get_model
from analytics.roles import Actor, require

ALERT_COLUMNS: tuple[str, ...] = (
    "alert_id", "state", "severity", "model", "version", "segment_value", "family", "rule_id", "value", "bound",
    "window_start", "window_end", "opened_at", "fired_at", "assignee", "ack_comment", "acknowledged_at",
    "escalated_at", "resolved_at", "resolution_note", "incident_id", "muted_by", "fingerprint")


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInputError(f"{what} is required")
    if len(text) > 4000:
        raise InvalidInputError(f"{what} is longer than 4,000 characters")
    return text


def get_alert(con: duckdb.DuckDBPyConnection, alert_id: int) -> dict:
    """One alert's row, or raise :class:`NotFoundError`."""
    frame = con.execute("SELECT * FROM alerts WHERE alert_id = ?", [int(alert_id)]).df()
    if frame.empty:
        raise NotFoundError(f"no alert {alert_id}; 'vigil alerts list' shows them")
    return frame.iloc[0].to_dict()


def acknowledge(con: duckdb.DuckDBPyConnection, actor: Actor, alert_id: int, *, assignee: str, comment: str,
                at: datetime | None = None) -> None:
    """Acknowledge a firing alert: someone owns it, and says what they are doing. Audited."""
    require(actor, "acknowledge_alert")
    alert = get_alert(con, alert_id)
    assignee, comment = _text(assignee, "an assignee"), _text(comment, "a comment")
    if alert["state"] != "firing":
        raise InvalidInputError(f"alert {alert_id} is {alert['state']}; only a firing alert can be acknowledged")
    if not con.execute("SELECT 1 FROM users WHERE username = ? AND NOT disabled", [assignee]).fetchone():
        raise InvalidInputError(f"{assignee!r} is not an active user; assign the alert to a user of Vigil")
    when = at or utc_now()
    con.execute("UPDATE alerts SET state = 'acknowledged', assignee = ?, ack_comment = ?, acknowledged_at = ?, "
                "acknowledged_by = ?, updated_at = ? WHERE alert_id = ?",
                [assignee, comment, when, actor.username, when, int(alert_id)])
    event(con, actor, int(alert_id), "acknowledged", when, {"assignee": assignee, "comment": comment})
    if not alert["muted_by"]:
        _notify.enqueue(con, {**alert, "state": "acknowledged"}, get_rule(con, alert["rule_id"]), "acknowledged",
                        when)


def resolve(con: duckdb.DuckDBPyConnection, actor: Actor, alert_id: int, *, note: str,
            at: datetime | None = None) -> None:
    """Resolve an open alert with a resolution note (what fixed it: kept in the knowledge base). Audited."""
    require(actor, "acknowledge_alert")
    alert = get_alert(con, alert_id)
    if alert["state"] not in OPEN_STATES:
        raise InvalidInputError(f"alert {alert_id} is already {alert['state']}")
    resolve_alert(con, actor, int(alert_id), at or utc_now(), _text(note, "a resolution note"))


def silence(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, *, hours: float, reason: str,
            rule_id: str | None = None, at: datetime | None = None) -> int:
    """Mute a model's notifications (of one rule, or all) for ``hours`` with a reason. Audited; returns its id."""
    require(actor, "acknowledge_alert")
    reason = _text(reason, "a reason for the silence")
    if not 0 < float(hours) <= 24 * 30:
        raise InvalidInputError("a silence lasts more than 0 and at most 720 hours")
    get_model(con, model)  # a silence of a model that does not exist mutes nothing and hides a typo
    if rule_id is not None:
        get_rule(con, rule_id)
    when = at or utc_now()
    silence_id = con.execute("SELECT nextval('silence_id_seq')").fetchone()[0]
    con.execute("INSERT INTO silences (silence_id, model_name, rule_id, starts_at, ends_at, reason, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [silence_id, model, rule_id, when, when + timedelta(hours=float(hours)), reason, actor.username])
    audit.record(con, actor, "alert.silence", "model", model,
                 {"silence_id": int(silence_id), "rule_id": rule_id, "hours": float(hours), "reason": reason}, at=at)
    return int(silence_id)


def alerts_table(con: duckdb.DuckDBPyConnection, *, model: str | None = None, states: tuple[str, ...] | None = None,
                 severity: str | None = None, include_unfired: bool = False, limit: int = 10_000) -> pd.DataFrame:
    """Alerts, open ones first (critical first, newest first), then resolved; :data:`ALERT_COLUMNS`.

    Alerts that cleared while pending (never fired) are left out unless ``include_unfired``.
    """
    where, params = ([], []) if include_unfired else (["(fired_at IS NOT NULL OR state = 'pending')"], [])
    if model:
        where.append("model_name = ?")
        params.append(model)
    if states:
        where.append(f"state IN ({', '.join('?' * len(states))})")
        params.extend(states)
    if severity:
        where.append("severity = ?")
        params.append(severity)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    frame = con.execute(
        f"SELECT *, model_name AS model FROM alerts {clause} ORDER BY state = 'resolved', severity <> 'critical', "
        "window_end DESC, alert_id DESC LIMIT ?", [*params, int(limit)]).df()
    return frame.reindex(columns=list(ALERT_COLUMNS))


def timeline(con: duckdb.DuckDBPyConnection, *, alert_id: int | None = None, incident_id: int | None = None) -> pd.DataFrame:
    """Events of an alert, or of every alert of an incident, with notifications, oldest first."""
    if (alert_id is None) == (incident_id is None):
        raise InvalidInputError("give an alert or an incident")
    ids = [int(alert_id)] if alert_id is not None else [r[0] for r in con.execute(
        "SELECT alert_id FROM alerts WHERE incident_id = ?", [int(incident_id)]).fetchall()]
    if not ids:
        return pd.DataFrame(columns=["occurred_at", "alert_id", "kind", "actor", "details"])
    marks = ", ".join("?" * len(ids))
    return con.execute(
        f"SELECT occurred_at, alert_id, kind, actor, CAST(details AS VARCHAR) AS details FROM alert_events "
            f"WHERE alert_id IN ({marks}) "
        f"UNION ALL SELECT coalesce(sent_at, queued_at), alert_id, 'notification ' || kind || ' ' || status, "
        f"channel, coalesce(detail, '') FROM notifications WHERE alert_id IN ({marks}) "
        "ORDER BY 1, 2", [*ids, *ids]).df()


def incidents_table(con: duckdb.DuckDBPyConnection, *, model: str | None = None, text: str | None = None,
                    rule_id: str | None = None, column: str | None = None, resolved_only: bool = False) -> pd.DataFrame:
    """Incidents with their alerts' rules and columns, newest first; the knowledge base when ``resolved_only``.

    ``text`` matches (case-insensitively) the title, the resolution notes and acknowledgement comments
    of its alerts, and the runbooks of their rules.
    """
    frame = con.execute(
        "SELECT i.incident_id, i.model_name AS model, i.family, i.title, i.severity, i.opened_at, i.resolved_at, "
        "i.resolution_note, list(DISTINCT a.rule_id ORDER BY a.rule_id) AS rules, count(a.alert_id) AS alerts, "
        "string_agg(DISTINCT coalesce(a.resolution_note, '') || ' ' || coalesce(a.ack_comment, ''), ' ') AS notes, "
        "string_agg(DISTINCT r.spec, ' ') AS specs "
        "FROM incidents i LEFT JOIN alerts a USING (incident_id) LEFT JOIN alert_rules r ON r.rule_id = a.rule_id "
        "GROUP BY ALL ORDER BY i.opened_at DESC, i.incident_id DESC").df()
    if model:
        frame = frame[frame["model"] == model]
    if resolved_only:
        frame = frame[frame["resolved_at"].notna()]
    if rule_id:
        frame = frame[[rule_id in list(r) for r in frame["rules"]]]
    specs = [[json.loads(s) for s in _split_specs(x)] for x in frame["specs"]]
    if column:
        frame = frame[[any(s.get("column") == column for s in ss) for ss in specs]]
        specs = [[json.loads(s) for s in _split_specs(x)] for x in frame["specs"]]
    frame = frame.assign(runbooks=["; ".join(sorted({s.get("runbook", "") for s in ss} - {""})) for ss in specs])
    if text:
        needle = text.lower()
        hay = (frame["title"].fillna("") + " " + frame["resolution_note"].fillna("") + " " + frame["notes"].fillna("")
               + " " + frame["runbooks"]).str.lower()
        frame = frame[hay.str.contains(needle, regex=False)]
    return frame.drop(columns=["specs"]).reset_index(drop=True)


def _split_specs(joined: str | None) -> list[str]:
    """The rule specs string_agg joined with spaces (each a JSON object: split at '} {')."""
    if not joined or joined != joined:
        return []
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(joined):
        if ch == "{":
            depth += 1
            if depth == 1:
                start = i
        elif ch == "}":
            depth -= 1
            if depth == 0:
                parts.append(joined[start:i + 1])
    return parts


def similar_incidents(con: duckdb.DuckDBPyConnection, alert_id: int, *, limit: int = 5) -> pd.DataFrame:
    """Resolved incidents of the same rule (then same model and family) before this alert, with what fixed them."""
    alert = get_alert(con, alert_id)
    return con.execute(
        "SELECT DISTINCT i.incident_id, i.model_name AS model, i.family, i.opened_at, i.resolved_at, "
        "i.resolution_note, a.rule_id = ? AS same_rule FROM incidents i JOIN alerts a USING (incident_id) "
        "WHERE i.resolved_at IS NOT NULL AND i.model_name = ? AND i.family = ? AND i.incident_id IS DISTINCT FROM ? "
        "ORDER BY same_rule DESC, i.resolved_at DESC LIMIT ?",
        [alert["rule_id"], alert["model_name"], alert["family"],
         None if alert["incident_id"] != alert["incident_id"] else alert["incident_id"], int(limit)]).df()


def noise_report(con: duckdb.DuckDBPyConnection, *, since: datetime) -> pd.DataFrame:
    """Per rule since ``since``: alerts fired, acknowledged, resolved by a person, resolved by themselves (noise)."""
    return con.execute(
        "SELECT rule_id, model_name AS model, count(*) FILTER (WHERE fired_at IS NOT NULL) AS fired, "
        "count(*) FILTER (WHERE acknowledged_at IS NOT NULL) AS acknowledged, "
        "count(*) FILTER (WHERE state = 'resolved' AND resolved_by NOT LIKE 'svc:%') AS resolved_by_people, "
        "count(*) FILTER (WHERE state = 'resolved' AND resolved_by LIKE 'svc:%' AND fired_at IS NOT NULL "
        "AND acknowledged_at IS NULL) AS cleared_without_action "
        "FROM alerts WHERE opened_at >= ? GROUP BY ALL ORDER BY cleared_without_action DESC, fired DESC",
        [since]).df()


#: Rule families that are service levels (the SLA report's default).
SLA_FAMILIES: tuple[str, ...] = ("latency", "freshness")


def service_levels(con: duckdb.DuckDBPyConnection, *, model: str | None = None,
                   families: tuple[str, ...] = SLA_FAMILIES) -> pd.DataFrame:
    """Per model, rule and UTC month: windows evaluated, in breach (warning or critical), without enough data,
    minutes in breach, and whether the level was met (no window in breach)."""
    frame = con.execute(
        "SELECT e.model_name AS model, e.rule_id, json_extract_string(r.spec, '$.metric') AS metric, "
        "date_trunc('month', e.window_start) AS month, count(*) AS windows, "
        "count(*) FILTER (WHERE e.status IN ('warning', 'critical')) AS breached, "
        "count(*) FILTER (WHERE e.status = 'critical') AS critical, "
        "count(*) FILTER (WHERE e.status = 'insufficient') AS insufficient, "
        "coalesce(sum(epoch(e.window_end - e.window_start) / 60) FILTER (WHERE e.status IN ('warning', 'critical')), 0) "
        "AS minutes_in_breach FROM rule_evaluations e JOIN alert_rules r USING (rule_id) "
        + ("WHERE e.model_name = ? " if model else "") + "GROUP BY ALL ORDER BY model, rule_id, month",
        [model] if model else []).df()
    frame.insert(2, "family", [metric_family(m) for m in frame["metric"]])
    frame = frame[frame["family"].isin(families)].reset_index(drop=True)
    frame["met"] = frame["breached"] == 0
    return frame


def evaluations(con: duckdb.DuckDBPyConnection, *, model: str | None = None, rule_id: str | None = None) -> pd.DataFrame:
    """Every evaluated window (value, baseline, bounds, rows, status), oldest first: the history behind the alerts."""
    where, params = [], []
    for clause, value in (("model_name = ?", model), ("rule_id = ?", rule_id)):
        if value:
            where.append(clause)
            params.append(value)
    text = f"WHERE {' AND '.join(where)}" if where else ""
    return con.execute("SELECT rule_id, fingerprint, model_name AS model, version, segment_value, window_start, "
                       "window_end, value, baseline, warning_bound, critical_bound, rows, status, evaluated_at "
                       f"FROM rule_evaluations {text} ORDER BY window_end, rule_id", params).df()
