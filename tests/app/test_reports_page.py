"""Govern > Reports: approvers define reports (audited), others only read; past reports are listed verified
against the audit trail's manifest hash, altered ones flagged."""

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


def test_an_approver_defines_a_report_a_viewer_reads_it_and_sees_past_reports_verified_or_altered(vigil_db):
    at = _open("approver")
    at.text_input(key="reports_name").input("monthly-loans")
    at.selectbox(key="reports_scope").select("loan-risk")
    at.selectbox(key="reports_schedule").select("monthly")
    at.multiselect(key="reports_sections").set_value(["governance"])
    at.button(key="FormSubmitter:reports_add-Save the definition").click().run()
    assert not at.error, at.error
    assert any("Report monthly-loans saved (audited)" in str(s.value) for s in at.success)
    assert at.dataframe[0].value[["name", "scope", "schedule", "sections"]].values.tolist() == [
        ["monthly-loans", "loan-risk", "monthly", "governance"]]
    actions = store.read(lambda con: [r[0] for r in con.execute(
        "SELECT action FROM audit_log WHERE action LIKE 'report.%'").fetchall()], vigil_db)
    assert actions == ["report.create"]

    [run] = reports.run_reports(vigil_db, Actor("cli:tests", "system"), as_of=datetime(2026, 1, 2), pdf=False)
    viewer = _open("viewer")
    assert viewer.dataframe[0].value["name"].tolist() == ["monthly-loans"]
    assert not any(t.key == "reports_name" for t in viewer.text_input)  # no form: read only
    assert not any(n.key and n.key.startswith("retention_") for n in viewer.number_input)
    runs = viewer.dataframe[1].value
    assert runs[["name", "period_label", "verification"]].values.tolist() == [["monthly-loans", "2025-12", "verified"]]
    assert any("monthly-loans 2025-12: verified" in str(s.value) for s in viewer.success)
    (run.folder / "report.html").write_text("<html>edited</html>")
    viewer.run()
    assert viewer.dataframe[1].value["verification"].tolist() == ["altered"]
    assert any("report.html differs" in str(e.value) for e in viewer.error)
