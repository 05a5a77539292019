"""Governance actions: submit, review, decide, deploy, promote, roll back. Each is one call in the
caller's write transaction (use :func:`analytics.store.write`), checked by the state machine and
written with its audit row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from analytics import audit
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, NotFoundError
from analytics.governance._evidence import EvidencePack, assemble, store_pack
from analytics.governance._lifecycle import check_four_eyes, check_step, transition
from analytics.registry import champion_version, get_version
from analytics.roles import Actor, require
from analytics.store import start_deployment

SEVERITIES: tuple[str, ...] = ("observation", "minor", "major", "critical")


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInputError(f"{what} is required")
    if len(text) > 4000:
        raise InvalidInputError(f"{what} is too long ({len(text)} characters; at most 4000)")
    return text


def submit(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, justification: str, *,
           evidence: EvidencePack | None = None, at: datetime | None = None) -> int:
    """Submit a draft version for review with a justification; store its evidence pack; return the pack id.

    Pass ``evidence`` assembled beforehand (with :func:`analytics.store.read`) to keep the write short;
    otherwise it is assembled here.
    """
    require(actor, "submit_for_review")
    text = _text(justification, "a justification")
    pack = evidence or assemble(con, model, version)
    if (pack.model, pack.version) != (model, version):
        raise InvalidInputError(f"the evidence pack is of {pack.model}:{pack.version}, not {model}:{version}")
    pack_id = store_pack(con, pack, actor.username)
    transition(con, actor, model, version, "submitted",
               details={"justification": text, "evidence_pack": pack_id, "evidence_sha256": pack.sha256(),
                        "failing_checks": [r.title for r in pack.failed]}, at=at)
    return pack_id


def start_review(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, *,
                 at: datetime | None = None) -> int:
    """A reviewer takes a submitted version into review."""
    return transition(con, actor, model, version, "in_review", at=at)


def record_finding(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, finding: str, *,
                   severity: str = "observation", topic: str = "", at: datetime | None = None) -> int:
    """A reviewer records a finding on a version in review; return the finding id."""
    require(actor, "review")
    status = get_version(con, model, version)["status"]
    if status != "in_review":
        raise InvalidInputError(f"{model}:{version} is {status}; findings are recorded while it is in_review")
    if severity not in SEVERITIES:
        raise InvalidInputError(f"severity {severity!r} is unknown; use one of {', '.join(SEVERITIES)}")
    check_four_eyes(con, actor, model, version, "review")
    text = _text(finding, "the finding")
    when = at or utc_now()
    seq = audit.record(con, actor, "version.finding", "model_version", f"{model}:{version}",
                       {"severity": severity, "topic": topic.strip(), "finding": text}, at=when)
    finding_id = con.execute("SELECT nextval('finding_id_seq')").fetchone()[0]
    con.execute("INSERT INTO review_findings (finding_id, model_name, version, recorded_at, reviewer, severity, topic, finding, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [finding_id, model, version, when, actor.username, severity, topic.strip(), text, seq])
    return int(finding_id)


def approve(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, comment: str, *,
            override_reason: str | None = None, at: datetime | None = None) -> int:
    """An approver approves a version in review (four eyes; an override reason if a check failed)."""
    details: dict[str, Any] = {"comment": _text(comment, "a comment")}
    if override_reason and override_reason.strip():
        details["override_reason"] = override_reason.strip()
    return transition(con, actor, model, version, "approved", details=details, at=at)


def reject(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, comment: str, *,
           at: datetime | None = None) -> int:
    """An approver rejects a version in review (final)."""
    return transition(con, actor, model, version, "rejected", details={"comment": _text(comment, "a comment")}, at=at)


def deploy_shadow(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, *,
                  at: datetime | None = None) -> int:
    """Deploy an approved version as a shadow: it scores a mirror of the champion's traffic, decides nothing."""
    return transition(con, actor, model, version, "shadow", details={"traffic_share": 1.0,
                                                                       "mode": "mirrors champion traffic"}, at=at)


def start_canary(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, share: float, *,
                 at: datetime | None = None) -> int:
    """Give an approved (or shadow) version ``share`` of live traffic; the champion keeps the rest."""
    champion = champion_version(con, model)
    if champion is None:
        raise InvalidInputError(f"{model} has no champion to share traffic with; promote a version first")
    try:
        share = float(share)
    except (TypeError, ValueError):
        raise InvalidInputError(f"traffic share {share!r} is not a number") from None
    when = at or utc_now()
    seq = transition(con, actor, model, version, "canary", details={"traffic_share": share, "champion": champion},
                     at=when)
    start_deployment(con, model, champion, "champion", 1.0 - share, when, actor.username, seq)
    return seq


def end_canary(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, *, reason: str,
               evidence: dict[str, Any] | None = None, at: datetime | None = None) -> int:
    """End a canary: the version goes back to shadow and its traffic share returns to the champion.

    The one way to stop a canary for a reason (a guardrail worse, an alert, a person's call), used by
    the guarded rollout and by alerting's auto-rollback. Written through the lifecycle's funnel with its
    audit row, in the caller's write transaction.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection inside the caller's write transaction.
    actor : Actor
        Who ends it; needs the ``deploy`` capability (``system`` for an automatic roll-back).
    model, version : str
        The canary version.
    reason : str
        Why (recorded, required).
    evidence : dict, optional
        The numbers behind the decision (a comparison's verdicts), recorded with the audit row.
    at : datetime, optional
        When (UTC); only when replaying history.

    Returns
    -------
    int
        The audit sequence number of the step.
    """
    text = _text(reason, "a reason for ending the canary")
    status = get_version(con, model, version)["status"]
    if status != "canary":
        raise InvalidInputError(f"{model}:{version} is {status}, not a canary; there is no canary to end")
    when = at or utc_now()
    details: dict[str, Any] = {"reason": text, "traffic_share": 1.0, "mode": "mirrors champion traffic"}
    if evidence:
        details["evidence"] = evidence
    seq = transition(con, actor, model, version, "shadow", details=details, at=when)
    _restore_champion_share(con, actor, model, when, seq)
    return seq


def _restore_champion_share(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, when: datetime,
                            seq: int) -> None:
    champion = champion_version(con, model)
    canaries = con.execute("SELECT coalesce(sum(traffic_share), 0) FROM deployments WHERE model_name = ? "
                           "AND role = 'canary' AND ended_at IS NULL", [model]).fetchone()[0]
    if champion is None:
        return
    share = 1.0 - float(canaries)
    current = con.execute("SELECT traffic_share FROM deployments WHERE model_name = ? AND version = ? "
                          "AND ended_at IS NULL", [model, champion]).fetchone()
    if current is None or abs(float(current[0]) - share) > 1e-12:
        start_deployment(con, model, champion, "champion", share, when, actor.username, seq)


def promote(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, *, reason: str = "",
            at: datetime | None = None) -> int:
    """Make a version (approved, shadow or canary) the champion; the current champion is retired in the same step."""
    when = at or utc_now()
    previous = champion_version(con, model)
    if previous == version:
        raise InvalidInputError(f"{model}:{version} is already the champion")
    if previous is not None:
        # Check the promotion is legal before retiring anyone (the transaction would roll back anyway).
        check_step(get_version(con, model, version)["status"], "champion", subject=f"{model}:{version}")
        transition(con, actor, model, previous, "retired", details={"replaced_by": version, "reason": reason},
                   at=when)
    seq = transition(con, actor, model, version, "champion",
                     details={"traffic_share": 1.0, "previous_champion": previous, "reason": reason}, at=when)
    _restore_champion_share(con, actor, model, when, seq)
    return seq


def previous_champion(con: duckdb.DuckDBPyConnection, model: str) -> str | None:
    """The version that was champion before the current one (None if there was none)."""
    current = champion_version(con, model)
    row = con.execute(
        "SELECT version FROM deployments WHERE model_name = ? AND role = 'champion' AND ended_at IS NOT NULL "
        "AND version IS DISTINCT FROM ? ORDER BY ended_at DESC, end_seq DESC LIMIT 1", [model, current]).fetchone()
    return row[0] if row else None


def rollback(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, *, reason: str,
             at: datetime | None = None) -> int:
    """Retire the current champion and restore the previous one, in one step."""
    text = _text(reason, "a reason for the roll-back")
    current = champion_version(con, model)
    if current is None:
        raise InvalidInputError(f"{model} has no champion to roll back")
    target = previous_champion(con, model)
    if target is None:
        raise NotFoundError(f"{model} has no previous champion to roll back to")
    target_status = get_version(con, model, target)["status"]
    if target_status != "retired":
        raise InvalidInputError(f"the previous champion {model}:{target} is {target_status}, not retired; "
                                "promote it instead")
    when = at or utc_now()
    transition(con, actor, model, current, "retired", details={"rolled_back_to": target, "reason": text}, at=when)
    seq = transition(con, actor, model, target, "champion",
                     details={"traffic_share": 1.0, "rollback_of": current, "reason": text}, at=when)
    _restore_champion_share(con, actor, model, when, seq)
    return seq


def retire(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, *, reason: str,
           at: datetime | None = None) -> int:
    """Retire a version (it stops serving); a canary's traffic returns to the champion."""
    when = at or utc_now()
    seq = transition(con, actor, model, version, "retired", details={"reason": _text(reason, "a reason")}, at=when)
    _restore_champion_share(con, actor, model, when, seq)
    return seq
