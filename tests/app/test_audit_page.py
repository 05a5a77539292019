"""Govern > Audit trail: who may see it, filters, exports, and chain verification on request."""

from __future__ import annotations

import duckdb
from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics.roles import ROLES, Actor
from app import navigation


def _open(role="reviewer"):
    at = signed_in(role)
    at.switch_page("../pages/audit_trail.py").run()
    assert not at.exception, at.exception
    return at


def test_reviewers_approvers_and_admins_see_it():
    spec = navigation.spec_for("pages/audit_trail.py")
    assert {r for r in ROLES if Actor(r, r).can(spec.capability)} == {"reviewer", "approver", "admin"}


def test_filters_by_actor_and_action(vigil_db):
    at = _open("approver")
    everything = at.dataframe[0].value
    assert everything["seq"].is_monotonic_decreasing
    at.selectbox(key="audit_action").select("user.add").run()
    rows = at.dataframe[0].value
    assert set(rows["action"]) == {"user.add"} and len(rows) == 5
    at.text_input(key="audit_object").input("review").run()
    assert at.dataframe[0].value["object_id"].tolist() == ["reviewer"]
    assert not at.get("data_editor")  # nothing on the page edits a row


def test_verify_on_request_reports_intact_then_broken(vigil_db):
    at = _open("admin")
    at.button(key="audit_verify").click().run()
    assert any("Intact" in str(s.value) for s in at.success)
    con = duckdb.connect(str(vigil_db))
    con.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    con.close()
    at.button(key="audit_verify").click().run()
    assert any("BROKEN at row 2" in str(e.value) for e in at.error)
