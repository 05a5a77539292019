"""Tables of the guarded rollout (migration 12; see :mod:`analytics.deployments._rollout`): plans and their events."""

from __future__ import annotations

STATEMENTS: tuple[str, ...] = (
    "CREATE SEQUENCE rollout_plan_id_seq START 1",
    """CREATE TABLE rollout_plans (plan_id BIGINT PRIMARY KEY, model_name VARCHAR NOT NULL, version VARCHAR NOT NULL,
        baseline VARCHAR NOT NULL, plan JSON NOT NULL, status VARCHAR NOT NULL, step_index INTEGER NOT NULL,
        step_started_at TIMESTAMP NOT NULL, created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL,
        audit_seq BIGINT NOT NULL)""",
    """CREATE TABLE rollout_events (plan_id BIGINT NOT NULL, occurred_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL,
        step_index INTEGER NOT NULL, decision VARCHAR NOT NULL, share DOUBLE, reason VARCHAR NOT NULL,
        evidence JSON NOT NULL, audit_seq BIGINT NOT NULL)""",
)
