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
    assert at.button(key="approvals_approve_go").label == "Approve churn c1"
    assert at.button(key="approvals_reject_go").label == "Reject churn c1"
    assert not [t for t in at.text_area if t.key == "approvals_override"]   # no failing check: nothing to override
    at.button(key="approvals_approve_go").click().run()     # no comment: refused, explained
    assert not at.exception
    assert any("a comment is required" in str(e.value) for e in at.error)
    at.text_area(key="approvals_comment").input("meets the bar")
    at.button(key="approvals_approve_go").click().run()
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
    at.selectbox(key="approvals_item").select(("churn", "c2")).run()
    at.text_area(key="approvals_comment").input("approving my own")
    at.button(key="approvals_approve_go").click().run()
    assert not at.exception
    assert any("four eyes" in str(e.value) for e in at.error)
    assert store.read(lambda con: registry.get_version(con, "churn", "c2")["status"], vigil_db) == "in_review"


def test_an_analyst_with_nothing_to_do_sees_an_empty_state(vigil_db):
    at = _open("analyst")
    assert any("Nothing waits on your role" in str(i.value) for i in at.info)


def _in_review(db, *versions):
    for version in versions:
        store.write(lambda con: registry.register_version(con, Actor("admin", "admin"), "churn", version,
                                                          threshold=0.5, owner="growth"), db)
        store.write(lambda con: governance.submit(con, Actor("analyst", "analyst"), "churn", version, "retrain"), db)
        store.write(lambda con: governance.start_review(con, Actor("reviewer", "reviewer"), "churn", version), db)


def test_after_an_action_the_page_stays_on_the_version_with_empty_forms(vigil_db):
    """Issue 13 item 10: approving c3 leaves the page on c3 (not on the next queued version), and no typed
    text survives the action or a change of version."""
    _in_review(vigil_db, "c2", "c3")
    at = _open("approver")
    assert at.selectbox(key="approvals_item").value == ("churn", "c1")          # the queue's first
    at.selectbox(key="approvals_item").select(("churn", "c3")).run()
    assert at.button(key="approvals_approve_go").label == "Approve churn c3"
    at.text_area(key="approvals_comment").input("fine for c3")
    at.button(key="approvals_approve_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Approved churn c3" in str(s.value) for s in at.success)
    assert at.selectbox(key="approvals_item").value == ("churn", "c3")          # stays, though c3 left "To decide"
    assert "churn c3 is **approved**" in " ".join(str(c.value) for c in at.caption)
    assert not [b for b in at.button if b.key == "approvals_approve_go"]       # nothing left to decide on c3
    at.selectbox(key="approvals_item").select(("churn", "c2")).run()
    assert at.text_area(key="approvals_comment").value == ""
    assert at.button(key="approvals_approve_go").label == "Approve churn c2"
    # statuses in words, not codes (issue 13 item 19, left alone on this page): queue, history and next steps
    queued = next(t.value for t in at.dataframe if "own_submission" in t.value.columns)   # tables carry no key
    history = next(t.value for t in at.dataframe if "to_status" in t.value.columns)
    assert set(queued["status"]) == {"in review"} and "in review" in history["to_status"].tolist()
    shown = " ".join(str(c.value) for c in at.caption)
    assert "churn c2 is **in review**" in shown and "in_review" not in shown
    assert "in_review" not in " ".join(map(str, [*queued["status"], *history["from_status"], *history["to_status"]]))
    statuses = store.read(lambda con: [registry.get_version(con, "churn", v)["status"] for v in ("c1", "c2", "c3")],
                          vigil_db)
    assert statuses == ["in_review", "in_review", "approved"]


def test_a_reviewer_finding_form_is_emptied_after_it_is_recorded(vigil_db):
    _in_review(vigil_db, "c2")
    at = _open("reviewer")
    at.selectbox(key="approvals_item").select(("churn", "c2")).run()
    at.text_input(key="approvals_topic").input("calibration")
    at.text_area(key="approvals_finding_text").input("scores too high in the south")
    at.button(key="approvals_finding_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="approvals_item").value == ("churn", "c2")
    assert at.text_area(key="approvals_finding_text").value == "" and at.text_input(key="approvals_topic").value == ""
    found = store.read(lambda con: governance.findings(con, "churn", "c2"), vigil_db)
    assert found["finding"].tolist() == ["scores too high in the south"]


def test_an_analyst_submits_a_draft_and_sees_its_stored_pack(vigil_db):
    store.write(lambda con: registry.register_version(con, Actor("admin", "admin"), "churn", "c2", threshold=0.5,
                                                      owner="growth"), vigil_db)
    at = _open("analyst")
    assert at.selectbox(key="approvals_item").value == ("churn", "c2")
    assert any("Not submitted yet" in str(c.value) for c in at.caption)
    at.text_area(key="approvals_justification").input("retrained on last quarter")
    at.button(key="approvals_submit_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="approvals_item").value == ("churn", "c2")     # out of the analyst's queue, still shown
    stored = store.read(lambda con: governance.latest_pack(con, "churn", "c2"), vigil_db)
    assert any(f"Pack #{stored['pack_id']}" in str(c.value) and stored["sha256"][:16] in str(c.value)
               for c in at.caption)
