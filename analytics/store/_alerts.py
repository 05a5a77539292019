"""Tables of alerting (one migration): rules, their evaluations per window, alerts and their events,
incidents, silences, notification channels and the notification outbox, and retraining requests.

- ``alert_rules``: one row per rule; ``spec`` is the rule's JSON (:class:`analytics.alerts.Rule`).
- ``rule_evaluations``: what one rule found for one fingerprint and one window (value, band, status);
  its primary key makes ``vigil monitor`` idempotent per window.
- ``alerts``: one row per episode of a fingerprint (rule, model, version, segment value); at most one
  is open (not resolved) per fingerprint.
- ``alert_events``: the timeline of an alert (every state change with its audit row, and notifications).
- ``incidents``: alerts of one model and rule family grouped while any of them is open.
- ``silences``: mute the notifications of a model (and optionally one rule) for a time, with a reason.
- ``channels``: where notifications go; ``secret`` is never shown back.
- ``notifications``: the outbox, written in the transaction of the state change, sent after it.
- ``retrain_requests``: retraining asked for by a rule, with the evidence of that moment.
"""

from __future__ import annotations

STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE alert_rules (
        rule_id VARCHAR PRIMARY KEY, model_name VARCHAR NOT NULL, spec JSON NOT NULL, enabled BOOLEAN NOT NULL,
        created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL,
        updated_by VARCHAR NOT NULL)""",
    """CREATE TABLE rule_evaluations (
        rule_id VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, window_start TIMESTAMP NOT NULL,
        window_end TIMESTAMP NOT NULL, model_name VARCHAR NOT NULL, version VARCHAR NOT NULL,
        segment_value VARCHAR, value DOUBLE, baseline DOUBLE, rows BIGINT NOT NULL, status VARCHAR NOT NULL,
        warning_bound DOUBLE, critical_bound DOUBLE, evaluated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (rule_id, fingerprint, window_end))""",
    "CREATE SEQUENCE alert_id_seq START 1",
    """CREATE TABLE alerts (
        alert_id BIGINT PRIMARY KEY, fingerprint VARCHAR NOT NULL, rule_id VARCHAR NOT NULL,
        model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, segment_value VARCHAR, family VARCHAR NOT NULL,
        severity VARCHAR NOT NULL, state VARCHAR NOT NULL, value DOUBLE, bound DOUBLE,
        window_start TIMESTAMP NOT NULL, window_end TIMESTAMP NOT NULL, opened_at TIMESTAMP NOT NULL,
        fired_at TIMESTAMP, updated_at TIMESTAMP NOT NULL, breaches INTEGER NOT NULL, clears INTEGER NOT NULL,
        assignee VARCHAR, acknowledged_at TIMESTAMP, acknowledged_by VARCHAR, ack_comment VARCHAR,
        escalated_at TIMESTAMP, resolved_at TIMESTAMP, resolved_by VARCHAR, resolution_note VARCHAR,
        incident_id BIGINT, muted_by VARCHAR)""",
    "CREATE SEQUENCE alert_event_id_seq START 1",
    """CREATE TABLE alert_events (
        event_id BIGINT PRIMARY KEY, alert_id BIGINT NOT NULL, occurred_at TIMESTAMP NOT NULL,
        kind VARCHAR NOT NULL, actor VARCHAR NOT NULL, details JSON NOT NULL, audit_seq BIGINT)""",
    "CREATE SEQUENCE incident_id_seq START 1",
    """CREATE TABLE incidents (
        incident_id BIGINT PRIMARY KEY, model_name VARCHAR NOT NULL, family VARCHAR NOT NULL,
        title VARCHAR NOT NULL, severity VARCHAR NOT NULL, opened_at TIMESTAMP NOT NULL,
        resolved_at TIMESTAMP, resolution_note VARCHAR)""",
    "CREATE SEQUENCE silence_id_seq START 1",
    """CREATE TABLE silences (
        silence_id BIGINT PRIMARY KEY, model_name VARCHAR NOT NULL, rule_id VARCHAR, starts_at TIMESTAMP NOT NULL,
        ends_at TIMESTAMP NOT NULL, reason VARCHAR NOT NULL, created_by VARCHAR NOT NULL)""",
    """CREATE TABLE channels (
        name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, target VARCHAR NOT NULL, secret VARCHAR,
        options JSON NOT NULL, enabled BOOLEAN NOT NULL, failures INTEGER NOT NULL DEFAULT 0,
        created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL)""",
    "CREATE SEQUENCE notification_id_seq START 1",
    """CREATE TABLE notifications (
        notification_id BIGINT PRIMARY KEY, alert_id BIGINT, channel VARCHAR NOT NULL, kind VARCHAR NOT NULL,
        model_name VARCHAR NOT NULL, payload JSON NOT NULL, queued_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TIMESTAMP NOT NULL, sent_at TIMESTAMP,
        detail VARCHAR)""",
    "CREATE SEQUENCE retrain_request_id_seq START 1",
    """CREATE TABLE retrain_requests (
        request_id BIGINT PRIMARY KEY, model_name VARCHAR NOT NULL, version VARCHAR NOT NULL,
        rule_id VARCHAR NOT NULL, alert_id BIGINT, opened_at TIMESTAMP NOT NULL, state VARCHAR NOT NULL,
        evidence JSON NOT NULL, closed_at TIMESTAMP, closed_by VARCHAR, note VARCHAR)""",
)
