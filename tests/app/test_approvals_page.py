"""Govern > Approvals: queues per role, the evidence pack, the decision form, refusals as messages."""

from __future__ import annotations

from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import audit, governance, registry, store
from app import navigation
from analytics.roles import Actor


def _open(role):
    at = signed_in(role)
    at.switch_page("../pages/approvals.py").run()
    assert not at.exception, at.exception
    return at


def test_who_sees_the_page():
    spec = navigation.spec_for("pages/approvals.py")
    assert spec.group == "Govern"
    assert {r for r in ("viewer", "analyst", "reviewer", "approver", "admin") if Actor(r, r).can(spec.capability)} \
        == {"analyst", "reviewer", "approver", "admin"}


def test_an_approver_decides_from_the_queue(vigil_db):
    at = _open("approver")
    assert any("To decide (1)" in t.label for t in at.tabs)
    assert at.dataframe[0].value["version"].tolist() == ["c1"]
    evidence = at.dataframe[1].value
    assert "Reference ROC AUC" in evidence["check"].tolist()
    at.button(key="approvals_decide_go").click().run()     # no comment: refused, explained
    assert not at.exception
    assert any("a comment is required" in str(e.value) for e in at.error)
    at.text_area(key="approvals_comment").input("meets the bar")
    at.button(key="approvals_decide_go").click().run()
    assert not at.exception and not at.error
    assert store.read(lambda con: registry.get_version(con, "churn", "c1")["status"], vigil_db) == "approved"
    row = store.read(lambda con: audit.search(con, action="version.approved"), vigil_db).iloc[0]
    assert row["actor"] == "approver" and "meets the bar" in row["details"]


def test_a_reviewer_records_findings_but_cannot_decide(vigil_db):
    at = _open("reviewer")
    assert not [f for f in at.get("form") if getattr(f, "key", None) == "approvals_decide"]
    at.text_area(key="approvals_finding_text").input("calibration drifts in the south")
    at.selectbox(key="approvals_severity").select("major")
    at.button(key="approvals_finding_go").click().run()
    assert not at.exception and not at.error
    found = store.read(lambda con: governance.findings(con, "churn", "c1"), vigil_db)
    assert found[["reviewer", "severity"]].values.tolist() == [["reviewer", "major"]]


def test_four_eyes_refusal_is_a_message(vigil_db):
    approver = Actor("approver", "approver")
    store.write(lambda con: registry.register_version(con, Actor("admin", "admin"), "churn", "c2", threshold=0.5,
                                                      owner="growth"), vigil_db)
    store.write(lambda con: governance.submit(con, approver, "churn", "c2", "mine"), vigil_db)
    store.write(lambda con: governance.start_review(con, Actor("reviewer", "reviewer"), "churn", "c2"), vigil_db)
    at = _open("approver")
    at.selectbox(key="approvals_item").select("churn:c2 (in_review)").run()
    at.text_area(key="approvals_comment").input("approving my own")
    at.button(key="approvals_decide_go").click().run()
    assert not at.exception
    assert any("four eyes" in str(e.value) for e in at.error)
    assert store.read(lambda con: registry.get_version(con, "churn", "c2")["status"], vigil_db) == "in_review"


def test_an_analyst_with_nothing_to_do_sees_an_empty_state(vigil_db):
    at = _open("analyst")
    assert any("Nothing waits on your role" in str(i.value) for i in at.info)
