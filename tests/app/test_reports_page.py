"""Govern > Reports: approvers define reports (audited), others only read; past reports are listed verified
against the audit trail's manifest hash, altered ones flagged; admins set retention policies."""

from __future__ import annotations

from datetime import datetime

from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import reports, store
from analytics.roles import Actor


def _open(role: str):
    at = signed_in(role)
    at.switch_page("../pages/reports.py").run()
    assert not at.exception, at.exception
    return at


def test_an_approver_defines_a_report_and_a_viewer_only_reads(vigil_db):
    at = _open("approver")
    at.text_input(key="reports_name").input("weekly-loans")
    at.selectbox(key="reports_scope").select("loan-risk")
    at.multiselect(key="reports_sections").set_value(["drift", "governance"])
    at.button(key="FormSubmitter:reports_add-Save the definition").click().run()
    assert not at.error, at.error
    assert any("Report weekly-loans saved (audited)" in str(s.value) for s in at.success)
    table = at.dataframe[0].value
    assert table[["name", "scope", "schedule", "sections"]].values.tolist() == [
        ["weekly-loans", "loan-risk", "weekly", "drift, governance"]]
    actions = store.read(lambda con: [r[0] for r in con.execute(
        "SELECT action FROM audit_log WHERE action LIKE 'report.%'").fetchall()], vigil_db)
    assert actions == ["report.create"]

    viewer = _open("viewer")
    assert viewer.dataframe[0].value["name"].tolist() == ["weekly-loans"]
    assert not any(t.key == "reports_name" for t in viewer.text_input)
    assert not any(n.key and n.key.startswith("retention_") for n in viewer.number_input)


def test_past_reports_are_verified_and_an_altered_one_is_flagged(vigil_db):
    definition = reports.ReportDefinition("gov", "loan-risk", "monthly", ("governance",))
    store.write(lambda con: reports.save_definition(con, Actor("cli:tests", "system"), definition), vigil_db)
    [run] = reports.run_reports(vigil_db, Actor("cli:tests", "system"), as_of=datetime(2026, 1, 2), pdf=False)
    at = _open("reviewer")
    runs = at.dataframe[1].value
    assert runs[["name", "period_label", "verification"]].values.tolist() == [["gov", "2025-12", "verified"]]
    assert any("gov 2025-12: verified" in str(s.value) for s in at.success)
    (run.folder / "report.html").write_text("<html>edited</html>")
    at.run()
    assert at.dataframe[1].value["verification"].tolist() == ["altered"]
    assert any("report.html differs" in str(e.value) for e in at.error)
