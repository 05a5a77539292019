"""Tables of compliance (migration 17): monitoring plans per version, serious incidents, model reviews,
and the reminders already sent (so ``vigil compliance remind`` tells people once per stage).

- ``monitoring_plans``: the post-market monitoring plan of a version (EU AI Act Art. 72) as JSON with its
  sha256; a new row only when the plan's content changed, with the audit row that recorded it.
- ``serious_incidents``: an incident classified as serious (Art. 73): its category, when the provider
  became aware, the reporting deadline, who classified it and why, and when it was reported.
- ``model_reviews``: periodic reviews of a model (the review calendar), with outcome and note.
- ``compliance_reminders``: one row per reminder stage queued (deadline nearing, review due ...).
"""

from __future__ import annotations

STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE monitoring_plans (
        model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, plan_sha256 VARCHAR NOT NULL, plan JSON NOT NULL,
        recorded_at TIMESTAMP NOT NULL, recorded_by VARCHAR NOT NULL, audit_seq BIGINT NOT NULL,
        PRIMARY KEY (model_name, version, plan_sha256))""",
    """CREATE TABLE serious_incidents (
        incident_id BIGINT PRIMARY KEY, category VARCHAR NOT NULL, aware_at TIMESTAMP NOT NULL,
        deadline_at TIMESTAMP NOT NULL, rationale VARCHAR NOT NULL, classified_at TIMESTAMP NOT NULL,
        classified_by VARCHAR NOT NULL, reported_at TIMESTAMP, reported_by VARCHAR, report_reference VARCHAR)""",
    "CREATE SEQUENCE model_review_id_seq START 1",
    """CREATE TABLE model_reviews (
        review_id BIGINT PRIMARY KEY, model_name VARCHAR NOT NULL, reviewed_at TIMESTAMP NOT NULL,
        reviewer VARCHAR NOT NULL, outcome VARCHAR NOT NULL, note VARCHAR NOT NULL, audit_seq BIGINT NOT NULL)""",
    """CREATE TABLE compliance_reminders (
        reminder_key VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, model_name VARCHAR NOT NULL,
        subject VARCHAR NOT NULL, due_at TIMESTAMP NOT NULL, queued_at TIMESTAMP NOT NULL,
        notifications INTEGER NOT NULL)""",
)
