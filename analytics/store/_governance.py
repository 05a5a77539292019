"""Tables of governance (migration 7) and the one primitive that keeps the deployment history.

- ``version_transitions``: every lifecycle step of a version (from, to, who, when, details, audit row);
  the approval history is read from it.
- ``review_findings``: what a reviewer found, with a severity.
- ``evidence_packs``: the evidence assembled for a version (check results as JSON, with their sha256).
- ``deployments``: which version served which role (shadow, canary, champion) with which traffic
  share, from when until when (``ended_at`` NULL while it serves).
- ``model_cards``: intended use, limitations, data, evaluation per model (``version = '*'``) or per version.
- ``model_risk``: a model's risk tier and why.

The migration back-fills ``version_transitions`` and ``deployments`` from the audit trail, so a store
whose history was written before migration 7 shows it. This module imports nothing from the
governance package (the store is imported first).
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

#: States in which a version serves (or mirrors) traffic.
DEPLOYED_STATES = ("shadow", "canary", "champion")

STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE version_transitions (
        model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, occurred_at TIMESTAMP NOT NULL,
        actor VARCHAR NOT NULL, role VARCHAR NOT NULL, from_status VARCHAR NOT NULL, to_status VARCHAR NOT NULL,
        details JSON NOT NULL, audit_seq BIGINT NOT NULL)""",
    "CREATE SEQUENCE finding_id_seq START 1",
    """CREATE TABLE review_findings (
        finding_id BIGINT PRIMARY KEY, model_name VARCHAR NOT NULL, version VARCHAR NOT NULL,
        recorded_at TIMESTAMP NOT NULL, reviewer VARCHAR NOT NULL, severity VARCHAR NOT NULL,
        topic VARCHAR NOT NULL, finding VARCHAR NOT NULL, audit_seq BIGINT NOT NULL)""",
    "CREATE SEQUENCE evidence_id_seq START 1",
    """CREATE TABLE evidence_packs (
        pack_id BIGINT PRIMARY KEY, model_name VARCHAR NOT NULL, version VARCHAR NOT NULL,
        assembled_at TIMESTAMP NOT NULL, assembled_by VARCHAR NOT NULL, checks JSON NOT NULL,
        failed INTEGER NOT NULL, pack_sha256 VARCHAR NOT NULL)""",
    """CREATE TABLE deployments (
        model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, role VARCHAR NOT NULL,
        traffic_share DOUBLE NOT NULL, started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP,
        started_by VARCHAR NOT NULL, ended_by VARCHAR, start_seq BIGINT NOT NULL, end_seq BIGINT)""",
    """CREATE TABLE model_cards (
        model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, card JSON NOT NULL,
        updated_at TIMESTAMP NOT NULL, updated_by VARCHAR NOT NULL, PRIMARY KEY (model_name, version))""",
    """CREATE TABLE model_risk (
        model_name VARCHAR PRIMARY KEY, risk_tier VARCHAR NOT NULL, rationale VARCHAR NOT NULL,
        updated_at TIMESTAMP NOT NULL, updated_by VARCHAR NOT NULL)""",
)


def end_deployment(con: duckdb.DuckDBPyConnection, model: str, version: str, at: datetime, actor: str,
                   seq: int) -> None:
    """Close the open deployment rows of a version."""
    con.execute("UPDATE deployments SET ended_at = ?, ended_by = ?, end_seq = ? "
                "WHERE model_name = ? AND version = ? AND ended_at IS NULL", [at, actor, seq, model, version])


def start_deployment(con: duckdb.DuckDBPyConnection, model: str, version: str, role: str, share: float,
                     at: datetime, actor: str, seq: int) -> None:
    """Close the version's open deployment (if any) and open a new one in ``role`` with ``share``."""
    end_deployment(con, model, version, at, actor, seq)
    con.execute("INSERT INTO deployments (model_name, version, role, traffic_share, started_at, ended_at, started_by, ended_by, start_seq, end_seq) VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, ?, NULL)",
                [model, version, role, float(share), at, actor, seq])


def apply_transition(con: duckdb.DuckDBPyConnection, model: str, version: str, to_status: str,
                     share: float | None, at: datetime, actor: str, seq: int) -> None:
    """Keep the deployment history in step with one lifecycle transition."""
    if to_status in DEPLOYED_STATES:
        start_deployment(con, model, version, to_status, 1.0 if share is None else share, at, actor, seq)
    else:
        end_deployment(con, model, version, at, actor, seq)


def backfill(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild transitions and deployments from the audit trail's ``version.<status>`` rows."""
    statuses = ("draft", "submitted", "in_review", "approved", "rejected", "shadow", "canary", "champion", "retired")
    rows = con.execute(
        "SELECT seq, occurred_at, actor, role, action, object_id, details FROM audit_log "
        f"WHERE object_type = 'model_version' AND action IN ({', '.join('?' * len(statuses))}) ORDER BY seq",
        [f"version.{s}" for s in statuses]).fetchall()
    for seq, at, actor, role, action, object_id, details in rows:
        model, _, version = object_id.rpartition(":")
        info = json.loads(details)
        to_status = action.split(".", 1)[1]
        con.execute("INSERT INTO version_transitions (model_name, version, occurred_at, actor, role, from_status, to_status, details, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [model, version, at, actor, role, info.get("from", ""), to_status, details, seq])
        apply_transition(con, model, version, to_status, info.get("traffic_share"), at, actor, seq)
    open_rows = con.execute(
        "SELECT v.model_name, v.version, v.status, v.created_at, v.owner FROM model_versions v "
        "WHERE list_contains(?, v.status) AND NOT EXISTS (SELECT 1 FROM deployments d WHERE "
        "d.model_name = v.model_name AND d.version = v.version AND d.ended_at IS NULL)",
        [list(DEPLOYED_STATES)]).fetchall()
    for model, version, status, created, owner in open_rows:
        start_deployment(con, model, version, status, 1.0, created, owner, 0)
