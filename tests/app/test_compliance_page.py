"""Govern > Compliance and the serious-incident clock on Monitor > Incidents, on the synthetic store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import alerts, audit, compliance, governance, store
from analytics.alerts import Level, Rule
from analytics.roles import Actor

SYSTEM = Actor("cli:tests", "system")
RULE = Rule("loan:latency", "loan-risk", "latency.p95_ms", "above", warning=Level(bound=20.0), min_rows=10,
            team="platform on-call")


@pytest.fixture
def fired(vigil_db):
    store.write(lambda con: alerts.save_rule(con, SYSTEM, RULE), vigil_db)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    alerts.monitor(vigil_db, at=now, since=now - timedelta(days=2))
    return vigil_db


def _open(role):
    at = signed_in(role)
    at.switch_page("../pages/compliance.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="compliance_model").set_value("loan-risk").run()
    return at


def _section(at, name):
    at.segmented_control(key="compliance_section").set_value(name).run()
    assert not at.exception, at.exception
    return at


def test_an_approver_records_the_plan_and_classifies_a_serious_incident(fired):
    at = _open("approver")
    plan = at.dataframe[0].value
    assert plan["rule_id"].tolist() == ["loan:latency"] and plan["responder"].tolist() == ["platform on-call"]
    at.button(key="compliance_plan_record").click().run()
    assert not at.exception and not at.error
    kept = store.read(lambda con: governance.recorded_plan(con, "loan-risk", "v2"), fired)
    assert kept is not None and kept["recorded_by"] == "approver"

    _section(at, "Serious incidents")
    at.text_area(key="compliance_serious_why").input("applicants were refused while latency was high")
    at.selectbox(key="compliance_serious_category").set_value("widespread")
    at.button(key="FormSubmitter:compliance_serious-Classify as serious").click().run()
    assert not at.exception and not at.error
    clock = store.read(lambda con: compliance.reporting_clocks(con), fired).iloc[0]
    assert clock["article"] == "Art. 73(3)" and clock["classified_by"] == "approver"
    assert (clock["deadline_at"] - clock["aware_at"]) == timedelta(days=2)
    assert store.read(lambda con: audit.search(con, action="incident.serious"), fired).iloc[0]["actor"] == "approver"
    assert at.dataframe[0].value["article"].tolist() == ["Art. 73(3)"]  # the page reran with the clock
    assert {b.label for b in at.get("download_button")} >= {"Report (draft, Markdown)", "Report (draft, HTML)"}
    # The incident page shows the clock with its UTC deadline.
    at.switch_page("../pages/incidents.py").run()
    assert not at.exception
    assert any("Serious incident" in e.value and f"{clock['deadline_at']:%Y-%m-%d %H:%M} UTC" in e.value
               for e in at.error)


def test_a_viewer_reads_the_risk_pack_and_calendar_without_forms(fired):
    at = _section(_open("viewer"), "Model-risk pack")
    assert not at.error and not at.get("form")
    assert any("no override data" in c.value for c in at.caption)
    assert at.dataframe[0].value["labelled"].sum() > 0  # the back-test table
    _section(at, "Review calendar")
    calendar = at.dataframe[0].value
    assert set(calendar["model"]) == {"loan-risk", "churn"} and set(calendar["interval_months"]) == {12}
    assert not at.get("form")
