"""The lifecycle state machine: every legal and illegal transition, the roles per step, four eyes,
the override of failing checks, and that each step writes its transition and audit rows atomically."""

from __future__ import annotations

import itertools
import json

import pytest

from analytics import audit, clock, governance, registry, store
from analytics.errors import InvalidInputError, PermissionDeniedError
from analytics.governance import (STATES, TRANSITIONS, CheckResult, EvidencePack, FourEyesError,
                                  IllegalTransitionError)
from analytics.roles import CAPABILITIES, ROLES, Actor
from analytics.store._governance import end_deployment, start_deployment
from gov_support import MODEL, SCHEMA, SYSTEM, loan_template, person, private_copy  # noqa: F401 - fixture
from lifecycle_support import put_in_status

ALL_PAIRS = list(itertools.product(STATES, STATES))


def _details(to: str) -> dict:
    return {"comment": "because", "traffic_share": 0.2} if to in ("approved", "rejected", "canary") else {}


def _model_in_state(con, name: str, status: str) -> None:
    """A model whose version ``v`` was walked to ``status`` by test people (so SYSTEM is none of its authors)."""
    registrar = Actor("t.registrar", "admin")
    registry.register_model(con, registrar, name, SCHEMA, owner="t")
    registry.register_version(con, registrar, name, "v", threshold=0.5, owner="t")
    put_in_status(con, name, "v", status)


def test_the_table_covers_the_documented_lifecycle():
    assert set(registry.LIFECYCLE_STATES) == set(STATES)
    assert {frm for frm, _ in TRANSITIONS} == set(STATES) - {"rejected"}  # rejected is final
    assert governance.next_states("rejected") == []
    assert sorted(governance.next_states("in_review")) == ["approved", "draft", "rejected"]


@pytest.mark.parametrize("pairs", [ALL_PAIRS[i::3] for i in range(3)], ids=["a", "b", "c"])
def test_every_transition_is_allowed_or_refused_as_the_table_says(db, pairs):
    results = {}

    def work(con):
        for i, (frm, to) in enumerate(pairs):
            name = f"m{i}"
            _model_in_state(con, name, frm)
            if (frm, to) == ("retired", "champion"):  # a roll-back needs a past championship
                start_deployment(con, name, "v", "champion", 1.0, clock.utc_now(), "t", 0)
                end_deployment(con, name, "v", clock.utc_now(), "t", 0)
            try:
                governance.transition(con, SYSTEM, name, "v", to, details=_details(to))
                results[(frm, to)] = registry.get_version(con, name, "v")["status"]
            except IllegalTransitionError as exc:
                results[(frm, to)] = exc

    store.write(work, db)
    for frm, to in pairs:
        outcome = results[(frm, to)]
        if (frm, to) in TRANSITIONS:
            assert outcome == to, f"{frm} -> {to} should be legal: {outcome}"
        else:
            assert isinstance(outcome, IllegalTransitionError), f"{frm} -> {to} should be refused"
            assert f"is {frm} and cannot become {to}" in str(outcome)
            assert ("can only become" in str(outcome)) or ("is final" in str(outcome))


def test_refusal_reaches_every_caller_and_changes_nothing(db):
    store.write(lambda con: _model_in_state(con, "m", "rejected"), db)
    before = store.read(lambda con: con.execute("SELECT count(*) FROM audit_log").fetchone()[0], db)
    with pytest.raises(IllegalTransitionError, match="rejected is final"):
        store.write(lambda con: governance.transition(con, SYSTEM, "m", "v", "approved",
                                                            details={"comment": "x"}), db)
    assert store.read(lambda con: registry.get_version(con, "m", "v")["status"], db) == "rejected"
    assert store.read(lambda con: con.execute("SELECT count(*) FROM audit_log").fetchone()[0], db) == before


@pytest.mark.parametrize("role", ROLES)
def test_each_step_needs_its_capability(db, role):
    actor = Actor(f"someone-{role}", role)
    outcomes = {}

    def work(con):
        for i, ((frm, to), step) in enumerate(TRANSITIONS.items()):
            name = f"m{i}"
            _model_in_state(con, name, frm)
            if frm == "retired":
                start_deployment(con, name, "v", "champion", 1.0, clock.utc_now(), "t", 0)
                end_deployment(con, name, "v", clock.utc_now(), "t", 0)
            try:
                governance.transition(con, actor, name, "v", to, details=_details(to))
                outcomes[(frm, to)] = True
            except PermissionDeniedError as exc:
                assert (step.capability.replace("_", " ") in str(exc) and role in str(exc)) or \
                    "only its submitter (t.author) or an approver may" in str(exc)
                outcomes[(frm, to)] = False

    store.write(work, db)
    for (frm, to), step in TRANSITIONS.items():
        # someone-<role> did not submit: withdrawing someone else's submission needs an approver
        capability = "approve" if step.name == "withdraw" else step.capability
        assert outcomes[(frm, to)] == (role in CAPABILITIES[capability]), (role, frm, to)
    if role == "viewer":
        assert not any(outcomes.values())  # a viewer only reads


def test_decisions_need_a_comment_and_a_canary_a_share(db):
    store.write(lambda con: (_model_in_state(con, "a", "in_review"), _model_in_state(con, "b", "approved")), db)
    with pytest.raises(InvalidInputError, match="give a comment"):
        store.write(lambda con: governance.transition(con, SYSTEM, "a", "v", "rejected"), db)
    for share in (None, 0.0, 1.0, 1.5):
        with pytest.raises(InvalidInputError, match="traffic share strictly between 0 and 1"):
            store.write(lambda con: governance.transition(con, SYSTEM, "b", "v", "canary",
                                                          details={"traffic_share": share}), db)


# ---- four eyes ------------------------------------------------------------------------------------

@pytest.fixture
def loan(tmp_path, loan_template):
    return private_copy(loan_template, tmp_path)


def test_nobody_reviews_or_decides_what_they_submitted(loan):
    store.write(lambda con: governance.submit(con, person("pat"), MODEL, "v1", "retrained"), loan)
    # pat (an approver) submitted: pat may not approve, nor anyone act as reviewer of their own work
    with pytest.raises(FourEyesError, match="pat submitted loan:v1"):
        store.write(lambda con: governance.start_review(con, Actor("pat", "admin"), MODEL, "v1"), loan)
    store.write(lambda con: governance.start_review(con, person("rob"), MODEL, "v1"), loan)
    with pytest.raises(FourEyesError):
        store.write(lambda con: governance.record_finding(con, Actor("pat", "admin"), MODEL, "v1", "fine"), loan)
    store.write(lambda con: governance.record_finding(con, person("rob"), MODEL, "v1", "stable", severity="minor"), loan)
    with pytest.raises(FourEyesError, match="may not approve"):
        store.write(lambda con: governance.approve(con, person("pat"), MODEL, "v1", "ok"), loan)
    with pytest.raises(FourEyesError, match="may not reject"):
        store.write(lambda con: governance.reject(con, person("pat"), MODEL, "v1", "no"), loan)
    store.write(lambda con: governance.approve(con, person("pia"), MODEL, "v1", "ok"), loan)
    history = store.read(lambda con: governance.approval_history(con, MODEL, "v1"), loan)
    assert history[["actor", "to_status"]].values.tolist() == [["pat", "submitted"], ["rob", "in_review"],
                                                               ["pia", "approved"]]
    found = store.read(lambda con: governance.findings(con, MODEL, "v1"), loan)
    assert found[["reviewer", "severity", "finding"]].values.tolist() == [["rob", "minor", "stable"]]


def test_the_system_identity_is_bound_by_four_eyes_too(loan):
    store.write(lambda con: governance.submit(con, SYSTEM, MODEL, "v1", "x"), loan)
    with pytest.raises(FourEyesError):
        store.write(lambda con: governance.start_review(con, SYSTEM, MODEL, "v1"), loan)


def _failing_pack(model: str, version: str) -> EvidencePack:
    ctx = governance.EvidenceContext(model, version, None, None, None, None, None, 0)
    results = [CheckResult("performance.reference", "Reference ROC AUC", "reference", "fail", "too low",
                           "roc_auc", 0.55, 0.7), CheckResult("drift.recent", "Input drift", "recent", "pass", "ok")]
    return EvidencePack(model, version, clock.utc_now(), ctx, results)


def test_a_failing_check_is_approved_only_with_a_recorded_override(loan):
    store.write(lambda con: governance.submit(con, person("ana"), MODEL, "v3", "x",
                                              evidence=_failing_pack(MODEL, "v3")), loan)
    store.write(lambda con: governance.start_review(con, person("rob"), MODEL, "v3"), loan)
    with pytest.raises(InvalidInputError, match=r"failing checks .*Reference ROC AUC.*override reason"):
        store.write(lambda con: governance.approve(con, person("pat"), MODEL, "v3", "fine"), loan)
    with pytest.raises(InvalidInputError, match="override reason"):
        store.write(lambda con: governance.approve(con, person("pat"), MODEL, "v3", "fine", override_reason="  "), loan)
    store.write(lambda con: governance.approve(con, person("pat"), MODEL, "v3", "fine",
                                               override_reason="segment model; AUC floor does not apply"), loan)
    row = store.read(lambda con: audit.search(con, action="version.approved"), loan).iloc[0]
    details = json.loads(row["details"])
    assert details["override_reason"] == "segment model; AUC floor does not apply"
    assert details["overridden_checks"] == ["Reference ROC AUC"]
    assert row["actor"] == "pat"


def test_a_passing_pack_needs_no_override(loan):
    pack = store.read(lambda con: governance.assemble(con, MODEL, "v1"), loan)
    assert not pack.failed
    store.write(lambda con: governance.submit(con, person("ana"), MODEL, "v1", "x", evidence=pack), loan)
    store.write(lambda con: governance.start_review(con, person("rob"), MODEL, "v1"), loan)
    with pytest.raises(InvalidInputError, match=r"no failing check .*nothing to override"):
        store.write(lambda con: governance.approve(con, person("pat"), MODEL, "v1", "fine",
                                                   override_reason="just in case"), loan)
    assert store.read(lambda con: registry.get_version(con, MODEL, "v1")["status"], loan) == "in_review"
    store.write(lambda con: governance.approve(con, person("pat"), MODEL, "v1", "fine"), loan)
    stored = store.read(lambda con: governance.latest_pack(con, MODEL, "v1"), loan)
    assert stored["sha256"] == pack.sha256() and stored["hash_matches"]
    details = json.loads(store.read(lambda con: audit.search(con, action="version.approved"), loan).iloc[0]["details"])
    assert "override_reason" not in details and "overridden_checks" not in details


# ---- deployments ---------------------------------------------------------------------------------

def _approve(db, version):
    store.write(lambda con: governance.submit(con, person("ana"), MODEL, version, "x"), db)
    store.write(lambda con: governance.start_review(con, person("rob"), MODEL, version), db)
    store.write(lambda con: governance.approve(con, person("pat"), MODEL, version, "ok"), db)


def test_promote_canary_and_roll_back_keep_the_deployment_history(loan):
    for v in ("v1", "v2"):
        _approve(loan, v)
    deploy = person("pat")
    store.write(lambda con: governance.promote(con, deploy, MODEL, "v1"), loan)
    store.write(lambda con: governance.start_canary(con, deploy, MODEL, "v2", 0.1), loan)
    open_rows = store.read(lambda con: governance.deployment_history(con, MODEL), loan)
    serving = open_rows[open_rows["ended_at"].isna()].set_index("version")
    assert serving.loc["v1", "role"] == "champion" and serving.loc["v1", "traffic_share"] == pytest.approx(0.9)
    assert serving.loc["v2", "role"] == "canary" and serving.loc["v2", "traffic_share"] == pytest.approx(0.1)
    store.write(lambda con: governance.promote(con, deploy, MODEL, "v2", reason="canary healthy"), loan)
    status = store.read(lambda con: registry.list_versions(con, MODEL), loan).set_index("version")["status"]
    assert status["v1"] == "retired" and status["v2"] == "champion"
    store.write(lambda con: governance.rollback(con, deploy, MODEL, reason="loss spike"), loan)
    status = store.read(lambda con: registry.list_versions(con, MODEL), loan).set_index("version")["status"]
    assert status["v1"] == "champion" and status["v2"] == "retired"
    history = store.read(lambda con: governance.deployment_history(con, MODEL), loan)
    assert history[["version", "role", "traffic_share"]].values.tolist() == [
        ["v1", "champion", 1.0], ["v1", "champion", pytest.approx(0.9)], ["v2", "canary", pytest.approx(0.1)],
        ["v2", "champion", 1.0], ["v1", "champion", 1.0]]
    assert history["ended_at"].isna().tolist() == [False, False, False, False, True]
    actions = store.read(lambda con: audit.search(con, object_id=f"{MODEL}:"), loan)["action"].tolist()[::-1]
    assert actions[-6:] == ["version.champion", "version.canary", "version.retired", "version.champion",
                            "version.retired", "version.champion"]
    assert store.read(audit.verify, loan).intact


def test_a_refused_promotion_retires_nobody(loan):
    _approve(loan, "v1")
    _approve(loan, "v2")
    store.write(lambda con: governance.promote(con, person("pat"), MODEL, "v1"), loan)
    with pytest.raises(IllegalTransitionError, match="is draft and cannot become champion"):
        store.write(lambda con: governance.promote(con, person("pat"), MODEL, "v3"), loan)
    assert store.read(lambda con: registry.champion_version(con, MODEL), loan) == "v1"
    with pytest.raises(IllegalTransitionError, match="already has a champion"):
        store.write(lambda con: governance.transition(con, SYSTEM, MODEL, "v2", "champion"), loan)


def test_roll_back_needs_a_previous_champion_and_the_deploy_role(loan):
    _approve(loan, "v1")
    store.write(lambda con: governance.promote(con, person("pat"), MODEL, "v1"), loan)
    with pytest.raises(Exception, match="no previous champion"):
        store.write(lambda con: governance.rollback(con, person("pat"), MODEL, reason="x"), loan)
    _approve(loan, "v2")
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: governance.promote(con, person("rob"), MODEL, "v2"), loan)


def test_cards_and_risk_tiers_are_role_checked_and_audited(loan):
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: governance.set_risk_tier(con, person("val"), MODEL, "high", "x"), loan)
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: governance.set_model_card(con, person("rob"), MODEL, {"intended_use": "x"}), loan)
    store.write(lambda con: governance.set_risk_tier(con, person("pat"), MODEL, "high", "consumer credit"), loan)
    store.write(lambda con: governance.set_model_card(con, person("adm"), MODEL, {"intended_use": "scoring",
                                                                                   "limitations": "old data"}), loan)
    store.write(lambda con: governance.set_model_card(con, person("adm"), MODEL, {"limitations": "v2 only"},
                                                      version="v2"), loan)
    card = store.read(lambda con: governance.model_card(con, MODEL, "v2"), loan)
    assert card == {"intended_use": "scoring", "limitations": "v2 only"}
    assert store.read(lambda con: governance.risk_tier(con, MODEL), loan)["risk_tier"] == "high"
    with pytest.raises(InvalidInputError, match="unknown model card fields"):
        store.write(lambda con: governance.set_model_card(con, person("adm"), MODEL, {"colour": "red"}), loan)
    actions = set(store.read(lambda con: audit.search(con), loan)["action"])
    assert {"model.risk_tier", "card.update"} <= actions


def test_queues_per_role(loan):
    store.write(lambda con: governance.submit(con, person("ana"), MODEL, "v1", "x"), loan)
    q = store.read(lambda con: governance.queue(con, person("rob")), loan)
    assert q[q["queue"] == "review"]["version"].tolist() == ["v1"]
    own = store.read(lambda con: governance.queue(con, person("ana")), loan)
    assert set(own["queue"]) == {"submit_for_review"}  # an analyst neither reviews nor approves
    assert store.read(lambda con: governance.queue(con, person("val")), loan).empty


def test_end_canary_returns_its_traffic_to_the_champion_and_is_audited(loan):
    _approve(loan, "v1")
    _approve(loan, "v2")
    store.write(lambda con: governance.promote(con, person("pat"), MODEL, "v1"), loan)
    with pytest.raises(InvalidInputError, match="not a canary"):
        store.write(lambda con: governance.end_canary(con, SYSTEM, MODEL, "v2", reason="guardrail"), loan)
    store.write(lambda con: governance.start_canary(con, person("pat"), MODEL, "v2", 0.2), loan)
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: governance.end_canary(con, person("rob"), MODEL, "v2", reason="x"), loan)
    with pytest.raises(InvalidInputError, match="reason"):
        store.write(lambda con: governance.end_canary(con, SYSTEM, MODEL, "v2", reason=" "), loan)
    store.write(lambda con: governance.end_canary(con, SYSTEM, MODEL, "v2", reason="latency guardrail worse",
                                                  evidence={"latency_ms": "worse"}), loan)
    history = store.read(lambda con: governance.deployment_history(con, MODEL), loan)
    serving = history[history["ended_at"].isna()].set_index("version")
    assert serving.loc["v1", "traffic_share"] == pytest.approx(1.0) and serving.loc["v2", "role"] == "shadow"
    last = store.read(lambda con: audit.search(con, object_id=f"{MODEL}:v2"), loan).iloc[0]
    assert last["action"] == "version.shadow" and "latency guardrail worse" in last["details"]
    assert store.read(audit.verify, loan).intact
