"""The guarded rollout on the spec-declared churn model: plan, step (roll back, continue, ready), promote, cancel,
each audited; and the ``vigil deployments`` commands."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from analytics import audit, deployments, registry, store
from analytics.cli import main
from analytics.errors import InvalidInputError, PermissionDeniedError
from test_compare import DAYS, MODEL, START, _person, churn_template  # noqa: F401 - fixture

CANARY = START + timedelta(days=10)
END = START + timedelta(days=DAYS)


@pytest.fixture
def churn(churn_template, tmp_path):
    return store.copy_store(churn_template[0], tmp_path / "s")


def _plan(db, steps, guardrails):
    plan = deployments.RolloutPlan(steps=tuple(deployments.RolloutStep(s, 1.0, 10) for s in steps),
                                   guardrails=guardrails)
    return store.write(lambda con: deployments.start_rollout(con, _person("pat"), MODEL, "v3", plan, at=CANARY), db)


def test_a_worse_guardrail_rolls_the_canary_back(churn):
    _plan(churn, [0.1, 0.5], {"latency_ms": None})
    evaluation = deployments.evaluate(churn, MODEL, now=END)
    assert evaluation.decision == "roll back" and "Latency" in evaluation.reasons[0]
    said = store.write(lambda con: deployments.step(con, _person("pat"), evaluation, at=END), churn)
    assert "rolled back" in said
    status = store.read(lambda con: registry.list_versions(con, MODEL), churn).set_index("version")["status"]
    assert status["v3"] == "shadow" and status["v1"] == "champion"
    history = store.read(lambda con: deployments.rollout_history(con, MODEL), churn)
    assert history["decision"].tolist() == ["plan", "roll back"] and history["plan_status"].iloc[0] == "rolled_back"
    actions = store.read(lambda con: audit.search(con, object_id=f"{MODEL}:v3"), churn)["action"].tolist()
    assert actions[0] == "version.shadow" and "rollout.plan" in actions
    assert store.read(audit.verify, churn).intact


def test_steps_continue_then_a_promoter_promotes_with_the_evidence(churn):
    _plan(churn, [0.1, 0.2], {"latency_ms": 50.0, "cost_per_decision": 0.01})
    early = deployments.evaluate(churn, MODEL, now=CANARY + timedelta(minutes=30))
    assert early.decision == "pause" and any("h of its" in r for r in early.reasons)
    first = deployments.evaluate(churn, MODEL, now=START + timedelta(days=15))
    assert first.decision == "continue", first.reasons
    assert "now serves 20%" in store.write(lambda con: deployments.step(con, _person("pat"), first,
                                                                         at=START + timedelta(days=15)), churn)
    with pytest.raises(InvalidInputError, match="moved on"):
        store.write(lambda con: deployments.step(con, _person("pat"), first), churn)
    # the split of the second step's rows is still 90/10, not the 80/20 now planned: a sample-ratio mismatch
    second = deployments.evaluate(churn, MODEL, now=END)
    assert second.decision == "pause" and "sample-ratio mismatch" in second.reasons[0]
    with pytest.raises(InvalidInputError, match="has not passed its last step"):
        store.write(lambda con: deployments.promote(con, _person("pat"), MODEL, comment="ok"), churn)


def test_ready_rollout_is_promoted_only_by_a_promoter_role(churn):
    _plan(churn, [0.1], {"latency_ms": 50.0, "cost_per_decision": 0.01})
    evaluation = deployments.evaluate(churn, MODEL, now=END)
    assert evaluation.decision == "ready to promote", evaluation.reasons
    store.write(lambda con: deployments.step(con, _person("pat"), evaluation, at=END), churn)
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: deployments.promote(con, _person("adm").__class__("rob", "reviewer"), MODEL,
                                                    comment="ok"), churn)
    store.write(lambda con: deployments.promote(con, _person("pat"), MODEL, comment="guardrails held", at=END), churn)
    assert store.read(lambda con: registry.champion_version(con, MODEL), churn) == "v3"
    last = store.read(lambda con: audit.search(con, object_id=f"{MODEL}:v3", action="version.champion"), churn)
    assert "rollout plan" in last["details"].iloc[0]
    assert store.read(lambda con: deployments.active_rollout(con, MODEL), churn) is None


def test_vigil_deployments_commands(churn, capsys, as_person):
    db = str(churn)
    assert main(["--db", db, "deployments", "compare", MODEL, "--baseline", "v1", "--candidate", "v3"]) == 1
    out = capsys.readouterr().out
    assert "VERDICT: WORSE" in out and "Latency (median shift)" in out
    assert main(["--db", db, "deployments", "compare", MODEL, "--baseline", "v1", "--candidate", "v2",
                 "--format", "json", "--fixed-horizon"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["design"] == "paired" and {m["key"] for m in data["measures"]} >= {"roc_auc", "accuracy", "f1"}
    assert data["coverage"]["pairs"] == data["rows"]["pairs"] and data["coverage"]["low"] is False
    assert main(["--db", db, "deployments", "refresh", MODEL]) == 0
    assert f"{MODEL}: shadow comparison summaries up to date: v1/v2 " in capsys.readouterr().out
    assert main(["--db", db, "deployments", "compare", MODEL, "--baseline", "v1", "--candidate", "v1"]) == 1
    assert "same version" in capsys.readouterr().err
    assert main(["--db", db, "deployments", "plan", MODEL, "v3", "--steps", "0.1:0:10,0.5", *as_person(db, "pat")]) == 0
    assert "step 1 of 2" in capsys.readouterr().out
    assert main(["--db", db, "deployments", "step", MODEL, "--dry-run", *as_person(db, "pat")]) == 0
    assert "PAUSE" in capsys.readouterr().out  # the plan starts now: no canary rows yet
    assert main(["--db", db, "deployments", "cancel", MODEL, "--reason", "enough seen", *as_person(db, "pat")]) == 0
    assert main(["--db", db, "deployments", "status", MODEL]) == 0
    out = capsys.readouterr().out
    assert "cancelled" in out and "plan" in out
    assert main(["--db", db, "deployments", "plan", MODEL, "v3", "--steps", "0.5,0.1", *as_person(db, "pat")]) == 1
    assert "must grow" in capsys.readouterr().err
    for steps in ("0.1:inf:1", "0.1:nan", "nan", "0.1:-1"):
        assert main(["--db", db, "deployments", "plan", MODEL, "v3", "--steps", steps, *as_person(db, "pat")]) == 1
        assert "a step" in capsys.readouterr().err, steps
