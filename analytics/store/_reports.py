"""Schema of scheduled reports and retention (migration 16): report definitions, the reports rendered
for each period with their manifest hashes and delivery, and a retention policy per model."""

from __future__ import annotations

STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE report_definitions (
        name         VARCHAR PRIMARY KEY,
        model_name   VARCHAR,
        schedule     VARCHAR NOT NULL,
        sections     JSON NOT NULL,
        recipients   JSON NOT NULL,
        channel      VARCHAR,
        enabled      BOOLEAN NOT NULL DEFAULT TRUE,
        created_at   TIMESTAMP NOT NULL,
        created_by   VARCHAR NOT NULL,
        updated_at   TIMESTAMP NOT NULL,
        updated_by   VARCHAR NOT NULL
    )""",
    """CREATE TABLE report_runs (
        name             VARCHAR NOT NULL,
        period_start     TIMESTAMP NOT NULL,
        period_label     VARCHAR NOT NULL,
        period_end       TIMESTAMP NOT NULL,
        generated_at     TIMESTAMP NOT NULL,
        generated_by     VARCHAR NOT NULL,
        folder           VARCHAR NOT NULL,
        manifest_sha256  VARCHAR NOT NULL,
        audit_seq        BIGINT NOT NULL,
        delivery_status  VARCHAR NOT NULL,
        delivered_at     TIMESTAMP,
        delivery_detail  VARCHAR,
        PRIMARY KEY (name, period_start)
    )""",
    """CREATE TABLE retention_policies (
        model_name       VARCHAR PRIMARY KEY,
        predictions_days INTEGER NOT NULL,
        outcomes_days    INTEGER NOT NULL,
        audit_days       INTEGER NOT NULL,
        override_reason  VARCHAR,
        updated_at       TIMESTAMP NOT NULL,
        updated_by       VARCHAR NOT NULL
    )""",
)
