"""The lifecycle of a model version as a state machine: every legal step, who may take it, and its guards.

::

    draft -> submitted -> in_review -> approved -> shadow / canary / champion -> retired
                 |            |     \\-> rejected (final)
                 v            v
               draft        draft  (withdrawn / returned for changes)

- A step not in :data:`TRANSITIONS` is refused with :class:`IllegalTransitionError`, whoever asks
  (page, CLI, test, the demo builder): the message names the state and the steps open from it.
- Each step needs a capability (:data:`analytics.roles.CAPABILITIES`).
- Four eyes across the version's whole history: nobody who registered, owns, submitted or
  re-submitted a version (:func:`authors`) starts its review, returns, approves or rejects it.
- A submission is withdrawn only by its submitter or an approver.
- A version whose latest evidence pack has a failing check is approved only with an explicit
  ``override_reason``, which is recorded with the approval.
- At most one champion per model; ``retired -> champion`` only for a version that was champion
  before (a roll-back).

:func:`transition` is the single funnel: it checks all of the above, updates the status, writes the
transition row, keeps the deployment history, and appends the audit row, all in the caller's transaction.

:func:`onboard` is the one exception, and says so: a model that already served before Vigil governed
it is *declared* champion from the day it started serving (``draft -> champion``, audit action
``version.onboard``), so that the deployment history matches the log. It is an onboarding
declaration, never an approval: no approval row is written and the step is named as a declaration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from analytics import audit
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, PermissionDeniedError, Refused
from analytics.registry import get_version
from analytics.roles import Actor, require
from analytics.store import DEPLOYED_STATES, apply_transition

#: Lifecycle states of a model version, in their usual order.
STATES: tuple[str, ...] = (
    "draft", "submitted", "in_review", "approved", "rejected", "shadow", "canary", "champion", "retired",
)


class IllegalTransitionError(InvalidInputError):
    """A lifecycle step the state machine does not allow."""


class FourEyesError(PermissionDeniedError):
    """The same person would both submit and review or decide a version."""


@dataclass(frozen=True)
class Step:
    """One legal step: its name (a verb), the capability it needs, and whether four eyes apply."""

    name: str
    capability: str
    four_eyes: bool = False


#: (from, to) -> :class:`Step`. Anything else is illegal.
TRANSITIONS: dict[tuple[str, str], Step] = {
    ("draft", "submitted"): Step("submit", "submit_for_review"),
    ("submitted", "draft"): Step("withdraw", "submit_for_review"),
    ("submitted", "in_review"): Step("start review", "review", four_eyes=True),
    ("in_review", "draft"): Step("return for changes", "review", four_eyes=True),
    ("in_review", "approved"): Step("approve", "approve", four_eyes=True),
    ("in_review", "rejected"): Step("reject", "approve", four_eyes=True),
    ("approved", "shadow"): Step("deploy as shadow", "deploy"),
    ("approved", "canary"): Step("start a canary", "deploy"),
    ("approved", "champion"): Step("promote to champion", "deploy"),
    ("approved", "retired"): Step("retire", "deploy"),
    ("shadow", "canary"): Step("start a canary", "deploy"),
    ("shadow", "champion"): Step("promote to champion", "deploy"),
    ("shadow", "retired"): Step("retire", "deploy"),
    ("canary", "champion"): Step("promote to champion", "deploy"),
    ("canary", "shadow"): Step("end the canary (back to shadow)", "deploy"),
    ("canary", "retired"): Step("retire", "deploy"),
    ("champion", "retired"): Step("retire", "deploy"),
    ("retired", "champion"): Step("roll back to this version", "deploy"),
}


#: The onboarding declaration (:func:`onboard`): not a transition of the approval workflow.
ONBOARD = Step("onboarding declaration (already serving; not an approval)", "register_model")


def next_states(status: str) -> list[str]:
    """The states reachable in one step from ``status``."""
    return [to for (frm, to) in TRANSITIONS if frm == status]


def check_step(status: str, to: str, *, subject: str = "this version") -> Step:
    """Return the :class:`Step` from ``status`` to ``to``, or raise :class:`IllegalTransitionError`."""
    for state in (status, to):
        if state not in STATES:
            raise InvalidInputError(f"status {state!r} is unknown; use one of {', '.join(STATES)}")
    step = TRANSITIONS.get((status, to))
    if step is None:
        options = next_states(status)
        allowed = (f"from {status} it can only become: {', '.join(options)}" if options
                   else f"{status} is final (register a new version instead)")
        raise IllegalTransitionError(f"{subject} is {status} and cannot become {to}; {allowed}")
    return step


def submitter(con: duckdb.DuckDBPyConnection, model: str, version: str) -> str | None:
    """Who submitted the version most recently (None if it was never submitted)."""
    row = con.execute(
        "SELECT actor FROM version_transitions WHERE model_name = ? AND version = ? AND to_status = 'submitted' "
        "ORDER BY audit_seq DESC LIMIT 1", [model, version]).fetchone()
    return row[0] if row else None


def authors(con: duckdb.DuckDBPyConnection, model: str, version: str) -> dict[str, str]:
    """Everyone who had a hand in the version, with how: ``{"ana": "submitted", "cli:ops": "registered"}``.

    Its owner, whoever registered it, and everyone who ever submitted it (a re-submission after it was
    returned adds the new submitter; nobody is forgotten). Four eyes bar all of them from reviewing
    and deciding it.
    """
    hands: dict[str, str] = {}
    for (actor,) in con.execute("SELECT DISTINCT actor FROM version_transitions WHERE model_name = ? AND version = ? "
                                "AND to_status = 'submitted'", [model, version]).fetchall():
        hands[actor] = "submitted"
    registered = con.execute("SELECT actor FROM audit_log WHERE action = 'version.register' AND object_type = "
                             "'model_version' AND object_id = ? ORDER BY seq LIMIT 1", [f"{model}:{version}"]).fetchone()
    if registered:
        hands.setdefault(registered[0], "registered")
    owner = con.execute("SELECT owner FROM model_versions WHERE model_name = ? AND version = ?",
                        [model, version]).fetchone()
    if owner and owner[0]:
        hands.setdefault(owner[0], "owns")
    return hands


def check_four_eyes(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, verb: str, *,
                    who: str = "reviewer") -> None:
    """Raise :class:`FourEyesError` if ``actor`` is one of the version's :func:`authors`."""
    how = authors(con, model, version).get(actor.username)
    if how is not None:
        raise FourEyesError(f"four eyes: {actor.username} {how} {model}:{version} and so may not {verb} it; "
                            f"another {who} must",
                            refused=Refused(actor.username, actor.role, "refused.four_eyes", "model_version",
                                            f"{model}:{version}"))


def failing_checks(con: duckdb.DuckDBPyConnection, model: str, version: str) -> list[str]:
    """Names of the failing checks in the version's latest evidence pack (empty without a pack)."""
    row = con.execute("SELECT checks FROM evidence_packs WHERE model_name = ? AND version = ? "
                      "ORDER BY pack_id DESC LIMIT 1", [model, version]).fetchone()
    if row is None:
        return []
    return [c["title"] for c in json.loads(row[0]) if c.get("status") == "fail"]


def was_champion(con: duckdb.DuckDBPyConnection, model: str, version: str) -> bool:
    """Whether the version has served as champion before."""
    return con.execute("SELECT 1 FROM deployments WHERE model_name = ? AND version = ? AND role = 'champion' "
                       "LIMIT 1", [model, version]).fetchone() is not None


def _guard_override(con: duckdb.DuckDBPyConnection, model: str, version: str, details: dict[str, Any]) -> None:
    """An approval overrides exactly the failing checks of the latest stored pack, and only those.

    With failing checks an override reason is required (and the checks it overrides are recorded);
    without one, an override reason is refused: there is nothing to override, and recording one would
    make the audit trail say a check was set aside when none was.
    """
    subject = f"{model}:{version}"
    failing = failing_checks(con, model, version)
    reason = str(details.get("override_reason") or "").strip()
    if failing and not reason:
        raise InvalidInputError(
            f"{subject} has failing checks in its evidence pack ({', '.join(failing)}); it can be approved "
            "only with an explicit override reason, which is recorded")
    if reason and not failing:
        raise InvalidInputError(
            f"{subject} has no failing check in its stored evidence pack, so there is nothing to override; "
            "leave the override reason empty and put your remarks in the comment")
    if failing:
        details["overridden_checks"] = failing


def _guard(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, status: str, to: str,
           step: Step, details: dict[str, Any]) -> None:
    subject = f"{model}:{version}"
    require(actor, step.capability)
    if step.four_eyes:
        verb = {"start review": "review", "return for changes": "return"}.get(step.name, step.name)
        check_four_eyes(con, actor, model, version, verb,
                        who="reviewer" if step.capability == "review" else "approver")
    if step.name == "withdraw":
        by = submitter(con, model, version)
        if by is not None and by != actor.username and not actor.can("approve"):
            raise PermissionDeniedError(f"{actor.username} may not withdraw {subject}: only its submitter ({by}) "
                                        "or an approver may",
                                        refused=Refused(actor.username, actor.role, "refused.withdraw",
                                                        "model_version", subject))
    if to in ("approved", "rejected") and not str(details.get("comment", "")).strip():
        raise InvalidInputError(f"to {step.name} {subject}, give a comment that explains the decision")
    if to == "approved":
        _guard_override(con, model, version, details)
    if to == "champion":
        current = con.execute("SELECT version FROM model_versions WHERE model_name = ? AND status = 'champion' "
                              "AND version <> ?", [model, version]).fetchone()
        if current:
            raise IllegalTransitionError(
                f"{model} already has a champion ({current[0]}); promote {version} with 'promote', which retires "
                f"{current[0]} in the same step, or retire {current[0]} first")
        if status == "retired" and not was_champion(con, model, version):
            raise IllegalTransitionError(f"{subject} never served as champion, so it cannot be rolled back to")
    if to == "canary":
        share = details.get("traffic_share")
        if share is None or not 0.0 < float(share) < 1.0:
            raise InvalidInputError(f"a canary needs a traffic share strictly between 0 and 1 (got {share!r})")


def transition(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, to: str, *,
               details: dict[str, Any] | None = None, capability: str | None = None,
               at: datetime | None = None) -> int:
    """Move a version to ``to`` if the state machine allows it; return the audit sequence number.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection inside the caller's write transaction.
    actor : Actor
        Who acts; their role must hold the step's capability (and ``capability`` if given).
    model, version : str
        The version.
    to : str
        The new state (one of :data:`STATES`).
    details : dict, optional
        Recorded with the transition and its audit row: ``comment`` (required to approve or reject),
        ``override_reason`` (required to approve with failing checks), ``traffic_share`` (a canary) ...
    capability : str, optional
        An extra capability the caller requires (kept for callers that name one).
    at : datetime, optional
        When (UTC); only when replaying history.

    Raises
    ------
    IllegalTransitionError, FourEyesError, PermissionDeniedError, InvalidInputError, NotFoundError
    """
    row = get_version(con, model, version)
    status = row["status"]
    step = check_step(status, to, subject=f"{model}:{version}")
    if capability is not None:
        require(actor, capability)
    info = dict(details or {})
    _guard(con, actor, model, version, status, to, step, info)
    when = at or utc_now()
    payload = {"from": status, "to": to, "step": step.name, **info}
    return _record(con, actor, model, version, status, to, payload, f"version.{to}", when, when, info.get("traffic_share"))


def _record(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, status: str, to: str,
            payload: dict[str, Any], action: str, when: datetime, effective: datetime,
            share: float | None) -> int:
    """Write a checked step: the status, its audit row (at ``when``), its transition row and the
    deployment history (both from ``effective``)."""
    con.execute("UPDATE model_versions SET status = ? WHERE model_name = ? AND version = ?", [to, model, version])
    seq = audit.record(con, actor, action, "model_version", f"{model}:{version}", payload, at=when)
    con.execute("INSERT INTO version_transitions (model_name, version, occurred_at, actor, role, from_status, "
                "to_status, details, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [model, version, effective, actor.username, actor.role, status, to,
                 json.dumps(payload, sort_keys=True, default=str), seq])
    if to in DEPLOYED_STATES or status in DEPLOYED_STATES:
        apply_transition(con, model, version, to, share, effective, actor.username, seq)
    return seq


def onboard(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, serving_since: datetime, *,
            at: datetime | None = None) -> int:
    """Declare a draft version champion since ``serving_since``: it served before Vigil governed it.

    The audit action is ``version.onboard`` and the transition's step is :data:`ONBOARD`, so the
    declaration is never read as an approval. The deployment history starts at ``serving_since``.

    Raises
    ------
    IllegalTransitionError
        If the version is not a draft, the model already has a champion, or ``serving_since`` lies
        in the future.
    PermissionDeniedError
        If the actor may not register models.
    """
    require(actor, ONBOARD.capability)
    subject = f"{model}:{version}"
    status = get_version(con, model, version)["status"]
    if status != "draft":
        raise IllegalTransitionError(f"{subject} is {status}; only a new (draft) version can be declared as "
                                     "already serving")
    current = con.execute("SELECT version FROM model_versions WHERE model_name = ? AND status = 'champion'",
                          [model]).fetchone()
    if current:
        raise IllegalTransitionError(f"{model} already has a champion ({current[0]}); a newer version goes "
                                     "through review and 'promote' instead of an onboarding declaration")
    when = at or utc_now()
    if serving_since > when:
        raise IllegalTransitionError(f"serving since {serving_since:%Y-%m-%d} lies in the future")
    payload = {"from": status, "to": "champion", "step": ONBOARD.name, "onboarding": True,
               "serving_since": serving_since.isoformat(),
               "note": "declared as already serving when onboarded to Vigil; not an approval"}
    return _record(con, actor, model, version, status, "champion", payload, "version.onboard", when,
                   serving_since, None)
