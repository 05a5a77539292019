"""Model cards, risk tiers, and the governance records read back as tidy frames (history, queues)."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

from analytics import audit
from analytics.clock import utc_now
from analytics.errors import InvalidInputError
from analytics.registry import get_model, get_version
from analytics.roles import Actor, require

#: Risk tiers, from most to least material (as in a model inventory under SR 11-7).
RISK_TIERS: tuple[str, ...] = ("high", "medium", "low")
#: Fields of a model card (Mitchell et al., "Model Cards for Model Reporting", 2019, condensed).
CARD_FIELDS: tuple[str, ...] = ("intended_use", "out_of_scope", "limitations", "data", "evaluation",
                                "ethical_considerations")
MODEL_LEVEL = "*"


def set_model_card(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, card: dict[str, Any], *,
                   version: str | None = None, at=None) -> None:
    """Write the model card of a model (or of one version, which then overrides the model's). Audited.

    ``card`` holds any of :data:`CARD_FIELDS`: text, except ``data``, a list of dicts
    (``name``, ``source``, ``licence``, ``role``, ``rows``).
    """
    require(actor, "register_model")
    get_model(con, model)
    if version is not None:
        get_version(con, model, version)
    unknown = sorted(set(card) - set(CARD_FIELDS))
    if unknown:
        raise InvalidInputError(f"unknown model card fields: {', '.join(unknown)}; use {', '.join(CARD_FIELDS)}")
    if "data" in card and not isinstance(card["data"], list):
        raise InvalidInputError("the card's data is a list of sources (name, source, licence, role)")
    scope = version or MODEL_LEVEL
    text = json.dumps(card, sort_keys=True)
    con.execute("INSERT OR REPLACE INTO model_cards (model_name, version, card, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?, ?)",
                [model, scope, text, at or utc_now(), actor.username])
    audit.record(con, actor, "card.update", "model_card", f"{model}:{scope}", {"fields": sorted(card)}, at=at)


def model_card(con: duckdb.DuckDBPyConnection, model: str, version: str | None = None) -> dict[str, Any]:
    """The card of a version: the model's card with the version's fields over it ({} if none)."""
    rows = dict(con.execute("SELECT version, card FROM model_cards WHERE model_name = ?", [model]).fetchall())
    card = json.loads(rows[MODEL_LEVEL]) if MODEL_LEVEL in rows else {}
    if version is not None and version in rows:
        card.update(json.loads(rows[version]))
    return card


def set_risk_tier(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, tier: str, rationale: str, *,
                  at=None) -> None:
    """Set a model's risk tier with its rationale (admins and approvers). Audited."""
    require(actor, "approve")
    get_model(con, model)
    if tier not in RISK_TIERS:
        raise InvalidInputError(f"risk tier {tier!r} is unknown; use one of {', '.join(RISK_TIERS)}")
    if not rationale.strip():
        raise InvalidInputError("a risk tier needs a rationale")
    before = risk_tier(con, model)
    con.execute("INSERT OR REPLACE INTO model_risk (model_name, risk_tier, rationale, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?, ?)",
                [model, tier, rationale.strip(), at or utc_now(), actor.username])
    audit.record(con, actor, "model.risk_tier", "model", model,
                 {"from": before["risk_tier"] if before else None, "to": tier, "rationale": rationale.strip()}, at=at)


def risk_tier(con: duckdb.DuckDBPyConnection, model: str) -> dict[str, Any] | None:
    """A model's risk tier, rationale, and who set it when (None if unset)."""
    row = con.execute("SELECT risk_tier, rationale, updated_at, updated_by FROM model_risk WHERE model_name = ?",
                      [model]).fetchone()
    return None if row is None else dict(zip(("risk_tier", "rationale", "updated_at", "updated_by"), row))


def registry_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every version with its model's owner and risk tier, status, lineage, ROC AUC and current deployment."""
    return con.execute(
        "SELECT v.model_name AS model, v.version, v.status, r.risk_tier, m.owner AS model_owner, v.owner, "
        "v.created_at, v.parent_version, v.threshold, "
        "TRY_CAST(json_extract(v.validation_metrics, '$.roc_auc') AS DOUBLE) AS validation_roc_auc, "
        "d.role AS serving_role, d.traffic_share, d.started_at AS serving_since, v.training_fingerprint, "
        "v.artifact_sha256, v.description FROM model_versions v JOIN models m USING (model_name) "
        "LEFT JOIN model_risk r USING (model_name) "
        "LEFT JOIN deployments d ON d.model_name = v.model_name AND d.version = v.version AND d.ended_at IS NULL "
        "ORDER BY v.model_name, v.created_at, v.version").df()


def deployment_history(con: duckdb.DuckDBPyConnection, model: str | None = None) -> pd.DataFrame:
    """Which version served which role with which traffic share, from when until when (open: ``ended_at`` NaT)."""
    clause, params = ("WHERE model_name = ?", [model]) if model else ("", [])
    return con.execute(
        "SELECT model_name AS model, version, role, traffic_share, started_at, ended_at, started_by, ended_by, "
        f"start_seq, end_seq FROM deployments {clause} ORDER BY model_name, started_at, start_seq, version",
        params).df()


def approval_history(con: duckdb.DuckDBPyConnection, model: str, version: str | None = None) -> pd.DataFrame:
    """Every lifecycle step of a model's versions (or one), oldest first, with who, role and details."""
    clause, params = ("AND version = ?", [model, version]) if version else ("", [model])
    frame = con.execute(
        "SELECT model_name AS model, version, occurred_at, actor, role, from_status, to_status, details, audit_seq "
        f"FROM version_transitions WHERE model_name = ? {clause} ORDER BY audit_seq", params).df()
    frame["comment"] = [_summary(d) for d in frame["details"]]
    return frame


def _summary(details: str) -> str:
    info = json.loads(details) if isinstance(details, str) else (details or {})
    keys = ("justification", "findings", "comment", "override_reason", "reason", "traffic_share", "replaced_by",
            "previous_champion", "rollback_of", "rolled_back_to")
    return "; ".join(f"{k.replace('_', ' ')}: {info[k]}" for k in keys if info.get(k) not in (None, ""))


def findings(con: duckdb.DuckDBPyConnection, model: str, version: str | None = None) -> pd.DataFrame:
    """Review findings of a model (or one version), oldest first."""
    clause, params = ("AND version = ?", [model, version]) if version else ("", [model])
    return con.execute(
        "SELECT finding_id, model_name AS model, version, recorded_at, reviewer, severity, topic, finding, audit_seq "
        f"FROM review_findings WHERE model_name = ? {clause} ORDER BY finding_id", params).df()


#: Which lifecycle states wait on which capability.
QUEUES: dict[str, tuple[str, ...]] = {
    "submit_for_review": ("draft",),
    "review": ("submitted", "in_review"),
    "approve": ("in_review",),
    "deploy": ("approved", "shadow", "canary"),
}


def queue(con: duckdb.DuckDBPyConnection, actor: Actor) -> pd.DataFrame:
    """The versions waiting on ``actor``: per capability they hold, the versions in the states it acts on.

    A version the actor submitted is listed for review or decision with ``own_submission`` True (they
    may see it but four eyes forbid acting).
    """
    rows = []
    for capability, states in QUEUES.items():
        if not actor.can(capability):
            continue
        frame = con.execute(
            "SELECT v.model_name AS model, v.version, v.status, v.owner, v.created_at, "
            "(SELECT t.actor FROM version_transitions t WHERE t.model_name = v.model_name AND t.version = v.version "
            " AND t.to_status = 'submitted' ORDER BY t.audit_seq DESC LIMIT 1) AS submitted_by, "
            "(SELECT max(t.occurred_at) FROM version_transitions t WHERE t.model_name = v.model_name "
            " AND t.version = v.version) AS since "
            f"FROM model_versions v WHERE v.status IN ({', '.join('?' * len(states))}) "
            "ORDER BY since NULLS FIRST, v.model_name, v.version", list(states)).df()
        frame.insert(0, "queue", capability)
        rows.append(frame)
    if not rows:
        return pd.DataFrame(columns=["queue", "model", "version", "status", "owner", "created_at", "submitted_by",
                                     "since", "own_submission"])
    out = pd.concat(rows, ignore_index=True)
    out["own_submission"] = out["submitted_by"] == actor.username
    return out
