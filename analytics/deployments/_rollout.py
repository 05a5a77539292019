"""A guarded rollout: canary steps of traffic share, each judged by the comparison before the next.

A :class:`RolloutPlan` (stored per model and candidate version, audited) lists the steps (share of
traffic, minimum hours and minimum rows of the candidate per step), the guardrail measures with
their margins, and the roles allowed to promote. :func:`evaluate` judges the current step from
:func:`analytics.deployments.compare` on the rows since the step began, as Argo Rollouts' and
Flagger's analysis runs do:

- **roll back** when a guardrail is worse;
- **pause** (inconclusive) on a sample-ratio mismatch, too few hours or rows, or a guardrail still
  collecting;
- **continue** to the next step's share when every guardrail is better or not worse;
- **ready to promote** when the last step passes: only a person of an allowed role promotes
  (:func:`promote`), through the governance funnel, with the evidence attached.

:func:`step` applies an evaluation (a share change, an end of the canary with
:func:`analytics.governance.end_canary`, or a pause), each in the caller's transaction with its
audit row.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime

import duckdb
import pandas as pd

from analytics import audit, governance
from analytics.business import serving_summaries_current
from analytics.clock import utc_now
from analytics.deployments._compare import DeploymentComparison, compare
from analytics.errors import InvalidInputError, NotFoundError, PermissionDeniedError, Refused
from analytics.registry import champion_version, get_model, get_version
from analytics.roles import ROLES, Actor, require
from analytics.store import predictions_view, run, start_deployment
from analytics.window import Window

DECISIONS = ("continue", "pause", "roll back", "ready to promote")



#: The longest a rollout step may wait before it is judged (a year).
MAX_STEP_HOURS = 24.0 * 366


@dataclass(frozen=True)
class RolloutStep:
    """One step: the candidate's share of traffic, and how long and how many of its rows before judging."""

    share: float
    min_hours: float = 24.0
    min_rows: int = 1_000

    def __post_init__(self) -> None:
        if not 0.0 < float(self.share) < 1.0:
            raise InvalidInputError(f"a step's share must be strictly between 0 and 1 (got {self.share!r}); "
                                    "the last step is followed by promotion")
        if not (math.isfinite(self.min_hours) and 0 <= self.min_hours <= MAX_STEP_HOURS) or self.min_rows < 0:
            raise InvalidInputError(f"a step waits 0 to {MAX_STEP_HOURS:g} hours (a year) and a number of rows that "
                                    f"is not negative (got {self.min_hours!r} hours, {self.min_rows!r} rows)")


@dataclass(frozen=True)
class RolloutPlan:
    """Steps of a canary, its guardrail measures (key -> margin in the measure's unit, or None for the
    setting's margin) and who may promote."""

    steps: tuple[RolloutStep, ...]
    guardrails: dict[str, float | None] = field(default_factory=lambda: {"latency_ms": None,
                                                                         "cost_per_decision": None})
    promoters: tuple[str, ...] = ("approver", "admin")

    def __post_init__(self) -> None:
        if not self.steps:
            raise InvalidInputError("a rollout plan needs at least one step")
        shares = [s.share for s in self.steps]
        if shares != sorted(shares) or len(set(shares)) != len(shares):
            raise InvalidInputError(f"the steps' shares must grow from step to step (got {shares})")
        if not self.guardrails:
            raise InvalidInputError("a rollout plan needs at least one guardrail measure")
        unknown = [r for r in self.promoters if r not in ROLES]
        if unknown:
            raise InvalidInputError(f"promoter roles {unknown} are unknown; use some of {', '.join(ROLES)}")

    def to_json(self) -> str:
        """The plan as stored."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RolloutPlan":
        """Read a stored plan."""
        data = json.loads(text)
        return cls(steps=tuple(RolloutStep(**s) for s in data["steps"]), guardrails=dict(data["guardrails"]),
                   promoters=tuple(data["promoters"]))


@dataclass(frozen=True)
class Rollout:
    """A stored plan and where it stands."""

    plan_id: int
    model: str
    version: str
    baseline: str
    plan: RolloutPlan
    status: str
    step_index: int
    step_started_at: datetime

    @property
    def share(self) -> float:
        """The current step's share of traffic."""
        return self.plan.steps[self.step_index].share


@dataclass(frozen=True)
class StepEvaluation:
    """The judgement of the current step: the decision, why, and the comparison behind it."""

    rollout: Rollout
    decision: str
    reasons: tuple[str, ...]
    comparison: DeploymentComparison | None
    hours: float

    def evidence(self) -> dict:
        """What is recorded with the step: the decision, the reasons and the comparison's numbers."""
        return {"decision": self.decision, "reasons": list(self.reasons), "step": self.rollout.step_index + 1,
                "share": self.rollout.share, "hours": round(self.hours, 2),
                "comparison": self.comparison.to_dict() if self.comparison else None}


def active_rollout(con: duckdb.DuckDBPyConnection, model: str) -> Rollout | None:
    """The model's rollout in progress (status ``active`` or ``ready``), if any."""
    row = con.execute("SELECT plan_id, model_name, version, baseline, plan, status, step_index, step_started_at "
                      "FROM rollout_plans WHERE model_name = ? AND status IN ('active', 'ready') "
                      "ORDER BY plan_id DESC LIMIT 1", [model]).fetchone()
    if row is None:
        return None
    return Rollout(row[0], row[1], row[2], row[3], RolloutPlan.from_json(row[4]), row[5], row[6], row[7])


def _require_rollout(con: duckdb.DuckDBPyConnection, model: str) -> Rollout:
    rollout = active_rollout(con, model)
    if rollout is None:
        raise NotFoundError(f"{model} has no rollout in progress; start one with 'vigil deployments plan'")
    return rollout


def _event(con, actor: Actor, rollout: Rollout, decision: str, share: float | None, reason: str, evidence: dict,
           when: datetime, seq: int | None = None) -> int:
    if seq is None:
        seq = audit.record(con, actor, f"rollout.{decision.replace(' ', '_')}", "rollout",
                           f"{rollout.model}:{rollout.version}", {"plan_id": rollout.plan_id, "reason": reason,
                                                                  "share": share, **evidence}, at=when)
    con.execute("INSERT INTO rollout_events (plan_id, occurred_at, actor, step_index, decision, share, reason, evidence, audit_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [rollout.plan_id, when, actor.username, rollout.step_index, decision, share, reason,
                 json.dumps(evidence, sort_keys=True, default=str), seq])
    return seq


def start_rollout(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, plan: RolloutPlan, *,
                  at: datetime | None = None) -> int:
    """Store a plan and start its first step as a canary (in the caller's write transaction); return the plan id."""
    require(actor, "deploy")
    if active_rollout(con, model) is not None:
        raise InvalidInputError(f"{model} already has a rollout in progress; finish or cancel it first")
    baseline = champion_version(con, model)
    if baseline is None:
        raise InvalidInputError(f"{model} has no champion to roll {version} out against; promote a version first")
    status = get_version(con, model, version)["status"]
    when = at or utc_now()
    if status != "canary":
        governance.start_canary(con, actor, model, version, plan.steps[0].share, at=when)
    else:
        _set_share(con, actor, model, version, baseline, plan.steps[0].share, when, None)
    plan_id = con.execute("SELECT nextval('rollout_plan_id_seq')").fetchone()[0]
    seq = audit.record(con, actor, "rollout.plan", "rollout", f"{model}:{version}",
                       {"plan_id": int(plan_id), "baseline": baseline, "plan": json.loads(plan.to_json())}, at=when)
    con.execute("INSERT INTO rollout_plans (plan_id, model_name, version, baseline, plan, status, step_index, step_started_at, created_at, created_by, audit_seq) "
                "VALUES (?, ?, ?, ?, ?, 'active', 0, ?, ?, ?, ?)",
                [plan_id, model, version, baseline, plan.to_json(), when, when, actor.username, seq])
    started = Rollout(int(plan_id), model, version, baseline, plan, "active", 0, when)
    _event(con, actor, started, "plan", plan.steps[0].share, "rollout started at its first step", {}, when, seq)
    return int(plan_id)


def _set_share(con, actor: Actor, model: str, version: str, baseline: str, share: float, when: datetime,
               seq: int | None) -> int:
    if seq is None:
        seq = audit.record(con, actor, "rollout.share", "rollout", f"{model}:{version}",
                           {"share": share, "champion": baseline}, at=when)
    start_deployment(con, model, version, "canary", share, when, actor.username, seq)
    start_deployment(con, model, baseline, "champion", 1.0 - share, when, actor.username, seq)
    return seq


def evaluate(db, model: str, *, now: datetime | None = None) -> StepEvaluation:
    """Judge the current step of ``model``'s rollout on the rows since the step began (read-only)."""
    now = now or utc_now()
    rollout = run(db, lambda con: _require_rollout(con, model))
    step_plan = rollout.plan.steps[rollout.step_index]
    hours = (now - rollout.step_started_at).total_seconds() / 3600
    result = compare(db, model, baseline=rollout.baseline, candidate=rollout.version,
                     window=Window(rollout.step_started_at, now), design="unpaired",
                     margins={k: v for k, v in rollout.plan.guardrails.items() if v is not None})
    reasons: list[str] = []
    if result.ratio is not None and result.ratio.mismatch:
        return StepEvaluation(rollout, "pause", (result.reason,), result, hours)
    by_key = {x.key: x for x in result.measures}
    worse = [by_key[k].label for k in rollout.plan.guardrails if k in by_key and by_key[k].verdict == "worse"]
    if worse:
        return StepEvaluation(rollout, "roll back", tuple(f"guardrail worse: {w}" for w in worse), result, hours)
    rows = result.rows.get(rollout.version, 0)
    if hours < step_plan.min_hours:
        reasons.append(f"the step has run {hours:.1f} h of its {step_plan.min_hours:g} h")
    if rows < step_plan.min_rows:
        reasons.append(f"the canary has {rows:,} rows of the {step_plan.min_rows:,} the step needs")
    for key in rollout.plan.guardrails:
        x = by_key.get(key)
        if x is None:
            reasons.append(f"guardrail {key} has no data yet")
        elif x.verdict not in ("better", "not worse"):
            reasons.append(f"guardrail {x.label}: {x.verdict}")
    if reasons:
        return StepEvaluation(rollout, "pause", tuple(reasons), result, hours)
    last = rollout.step_index == len(rollout.plan.steps) - 1
    verdicts = ", ".join(f"{by_key[k].label} {by_key[k].verdict}" for k in rollout.plan.guardrails)
    return StepEvaluation(rollout, "ready to promote" if last else "continue", (f"guardrails pass: {verdicts}",),
                          result, hours)


def step(con: duckdb.DuckDBPyConnection, actor: Actor, evaluation: StepEvaluation, *,
         at: datetime | None = None) -> str:
    """Apply an evaluation in the caller's write transaction; return what was done, in words.

    ``continue`` moves to the next share, ``roll back`` ends the canary (:func:`governance.end_canary`),
    ``ready to promote`` marks the rollout ready for a promoter, ``pause`` records the pause.
    """
    require(actor, "deploy")
    current = _require_rollout(con, evaluation.rollout.model)
    if (current.plan_id, current.step_index) != (evaluation.rollout.plan_id, evaluation.rollout.step_index):
        raise InvalidInputError("the rollout moved on since this evaluation; evaluate the current step again")
    when = at or utc_now()
    evidence = evaluation.evidence()
    reason = "; ".join(evaluation.reasons)
    r = current
    if evaluation.decision == "roll back":
        seq = governance.end_canary(con, actor, r.model, r.version, reason=f"rollout guardrail: {reason}",
                                    evidence={"plan_id": r.plan_id, "step": r.step_index + 1}, at=when)
        _event(con, actor, r, "roll back", 0.0, reason, evidence, when, seq)
        con.execute("UPDATE rollout_plans SET status = 'rolled_back' WHERE plan_id = ?", [r.plan_id])
        return f"rolled back: {r.model}:{r.version} is a shadow again and the champion serves all traffic ({reason})"
    if evaluation.decision == "continue":
        share = r.plan.steps[r.step_index + 1].share
        seq = _event(con, actor, r, "continue", share, reason, evidence, when)
        _set_share(con, actor, r.model, r.version, r.baseline, share, when, seq)
        con.execute("UPDATE rollout_plans SET step_index = step_index + 1, step_started_at = ? WHERE plan_id = ?",
                    [when, r.plan_id])
        return f"step {r.step_index + 2} of {len(r.plan.steps)}: {r.model}:{r.version} now serves {share:.0%}"
    if evaluation.decision == "ready to promote":
        _event(con, actor, r, "ready to promote", r.share, reason, evidence, when)
        con.execute("UPDATE rollout_plans SET status = 'ready' WHERE plan_id = ?", [r.plan_id])
        return (f"{r.model}:{r.version} passed its last step; a person of role {' or '.join(r.plan.promoters)} "
                "may promote it")
    _event(con, actor, r, "pause", r.share, reason, evidence, when)
    return f"paused at step {r.step_index + 1} ({r.share:.0%}): {reason}"


def promote(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, *, comment: str,
            at: datetime | None = None) -> int:
    """A person of a promoter role promotes a rollout that passed its last step (the evidence attached)."""
    r = _require_rollout(con, model)
    if r.status != "ready":
        raise InvalidInputError(f"the rollout of {model}:{r.version} is at step {r.step_index + 1} and has not passed "
                                "its last step; run 'vigil deployments step' until it is ready to promote")
    if actor.role not in r.plan.promoters:
        raise PermissionDeniedError(f"{actor.username} (role {actor.role}) may not promote this rollout; its plan "
                                    f"names {', '.join(r.plan.promoters)}",
                                    refused=Refused(actor.username, actor.role, "refused.promote", "rollout",
                                                    f"{model}:{r.version}"))
    text = (comment or "").strip()
    if not text:
        raise InvalidInputError("to promote, give a comment that explains the decision")
    last = con.execute("SELECT evidence FROM rollout_events WHERE plan_id = ? AND decision = 'ready to promote' "
                       "ORDER BY occurred_at DESC LIMIT 1", [r.plan_id]).fetchone()
    when = at or utc_now()
    seq = governance.promote(con, actor, model, r.version,
                             reason=f"{text} (rollout plan {r.plan_id}, evidence in the rollout events)", at=when)
    _event(con, actor, r, "promoted", 1.0, text, json.loads(last[0]) if last else {}, when, seq)
    con.execute("UPDATE rollout_plans SET status = 'promoted' WHERE plan_id = ?", [r.plan_id])
    return seq


def cancel(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, *, reason: str,
           at: datetime | None = None) -> int:
    """Cancel a rollout: the canary ends (back to shadow) and the champion serves all traffic."""
    r = _require_rollout(con, model)
    when = at or utc_now()
    seq = governance.end_canary(con, actor, r.model, r.version, reason=f"rollout cancelled: {reason}",
                                evidence={"plan_id": r.plan_id}, at=when)
    _event(con, actor, r, "cancelled", 0.0, reason.strip(), {}, when, seq)
    con.execute("UPDATE rollout_plans SET status = 'cancelled' WHERE plan_id = ?", [r.plan_id])
    return seq


def rollout_history(con: duckdb.DuckDBPyConnection, model: str) -> pd.DataFrame:
    """Every plan of ``model`` with its events, oldest first: the timeline of the page and ``status``."""
    return con.execute(
        "SELECT p.plan_id, p.version, p.baseline, p.status AS plan_status, e.occurred_at, e.actor, "
        "e.step_index + 1 AS step, e.decision, e.share, e.reason FROM rollout_plans p "
        "LEFT JOIN rollout_events e USING (plan_id) WHERE p.model_name = ? ORDER BY p.plan_id, e.occurred_at",
        [model]).df()


def rollout_timeline(db, model: str) -> pd.DataFrame:
    """:func:`rollout_history` on a store path or connection (for the page and the CLI)."""
    return run(db, lambda con: rollout_history(con, model))


def deployable_versions(db, model: str) -> pd.DataFrame:
    """The model's versions with their status and predictions logged, champion first (the page's choices).

    The predictions per version are the serving summaries' hourly counts when they cover every day of the log
    (the same numbers), else a count of the log.
    """
    def work(con):
        info = get_model(con, model)
        summarised = serving_summaries_current(con, info)
        counts = ("SELECT version AS model_version, sum(predictions) AS rows FROM serving_hourly "
                  "WHERE model_name = ? GROUP BY 1" if summarised else
                  f"SELECT model_version, count(*) AS rows FROM {predictions_view(info.stem)} GROUP BY 1")
        return con.execute(
            f"SELECT v.version, v.status, coalesce(n.rows, 0)::BIGINT AS predictions FROM model_versions v "
            f"LEFT JOIN ({counts}) n ON n.model_version = v.version WHERE v.model_name = ? "
            "ORDER BY v.status = 'champion' DESC, predictions DESC, v.version", [model] * (2 if summarised else 1)).df()

    return run(db, work)
