"""Compliance on a model with real alerts (``churn-scorer``): its post-market monitoring plan, serious
incidents with their Art. 73 reporting clocks, the draft report, and reminders sent to a local receiver."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from analytics import alerts, audit, compliance, governance, registry, reports, store, users
from analytics.alerts import Level, Rule
from analytics.cli import main
from analytics.errors import InvalidInputError, PermissionDeniedError
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from lifecycle_support import put_in_status

MODEL = "churn-scorer"
OPERATOR = Actor("cli:tests", "system")
APPROVER = Actor("paula", "approver")
END = datetime(2025, 3, 9)
LATENCY = Rule("churn:latency", MODEL, "latency.p95_ms", "above", warning=Level(bound=100.0),
               critical=Level(bound=200.0), min_rows=50, runbook="Scale the serving pods or roll back.",
               team="serving on-call")
DRIFT = Rule("churn:drift", MODEL, "drift.statistic", "above", column="tenure", warning=Level(k=3), min_rows=100,
             window="week", for_windows=2)


def _setup(db, http_receiver) -> None:
    """Two rules, a hook and an escalation channel."""
    def setup(con):
        for rule in (LATENCY, DRIFT):
            alerts.save_rule(con, OPERATOR, rule)
        alerts.add_channel(con, OPERATOR, "hook", "webhook", f"{http_receiver.url}/hook")
        alerts.add_channel(con, OPERATOR, "boss", "webhook", f"{http_receiver.url}/escalation",
                           options={"escalation": True})
    store.write(setup, db)


@pytest.fixture
def incident(churn, http_receiver):
    """churn-scorer monitored over 03-05 to 03-07 (latency is 300 ms on 03-06): one latency incident."""
    _setup(churn, http_receiver)
    alerts.monitor(churn, at=datetime(2025, 3, 8), since=datetime(2025, 3, 5))
    found = store.read(lambda con: alerts.incidents_table(con, model=MODEL), churn)
    return int(found[found["family"] == "latency"]["incident_id"].iloc[0])


@pytest.fixture
def registered(db):
    """churn-scorer registered (as the ``churn`` fixture, without its traffic: a plan needs none)."""
    schema = LogSchema(columns=(Column("tenure", "double"), Column("plan", "categorical", role="segment"),
                                Column("region", "categorical", role="attribute", sensitive=True)),
                       positive_class="churn", favourable_decision=0)

    def register(con):
        registry.register_model(con, OPERATOR, MODEL, schema, owner="retention team", description="churn")
        registry.register_version(con, OPERATOR, MODEL, "v1", threshold=0.5, owner="retention team",
                                  at=datetime(2025, 1, 1))
        put_in_status(con, MODEL, "v1", "champion", at=datetime(2025, 1, 1))
    store.write(register, db)
    return db


def test_the_plan_lists_rules_with_frequency_thresholds_and_responder_and_is_kept_per_version(registered,
                                                                                            http_receiver):
    churn = registered
    _setup(churn, http_receiver)
    store.write(lambda con: reports.save_definition(con, OPERATOR, reports.ReportDefinition(
        "weekly-churn", MODEL, "weekly", ("drift", "performance"))), churn)
    plan = store.read(lambda con: compliance.monitoring_plan(con, MODEL, now=END), churn)
    assert plan.version == "v1" and [i.rule_id for i in plan.items] == ["churn:drift", "churn:latency"]
    latency = plan.items[1]
    assert latency.frequency == "every day (UTC)" and latency.service_level
    assert latency.warning == "above — past 100" and latency.critical == "above — past 200"
    assert latency.responder == "serving on-call" and plan.items[0].responder == "model owner (retention team)"
    assert plan.items[0].frequency == "every week (UTC); fires after 2 windows in breach"
    assert [c["name"] for c in plan.channels] == ["boss", "hook"] and plan.channels[0]["escalation"]
    assert plan.escalation_minutes == 60 and plan.review_interval_months == 12
    assert [(r["name"], r["schedule"]) for r in plan.reports] == [("weekly-churn", "weekly")]
    assert any("no enabled performance rule" in g for g in plan.gaps)
    assert any("sensitive attributes" in g for g in plan.gaps)  # region is a sensitive attribute
    text = plan.to_markdown()
    assert "| churn:latency |" in text and "- weekly-churn: weekly" in text and plan.sha256 in text and json.loads(plan.to_json())["sha256"] == plan.sha256

    # Recording is for approvers, audited, and only when the content changed.
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: governance.record_plan(con, Actor("ann", "analyst"), plan), churn)
    assert store.write(lambda con: governance.record_plan(con, APPROVER, plan), churn) is True
    later = store.read(lambda con: compliance.monitoring_plan(con, MODEL, now=END + timedelta(days=1)), churn)
    assert later.sha256 == plan.sha256  # the generation time is not part of the plan
    assert store.write(lambda con: governance.record_plan(con, APPROVER, later), churn) is False
    store.write(lambda con: alerts.set_enabled(con, OPERATOR, "churn:drift", False), churn)
    changed = store.read(lambda con: compliance.monitoring_plan(con, MODEL), churn)
    assert changed.sha256 != plan.sha256 and "disabled rules: churn:drift" in changed.gaps
    assert store.write(lambda con: governance.record_plan(con, APPROVER, changed), churn) is True
    kept = store.read(lambda con: governance.recorded_plan(con, MODEL, "v1"), churn)
    assert kept["sha256"] == changed.sha256 and kept["hash_matches"] and kept["recorded_by"] == "paula"
    trail = store.read(lambda con: audit.entries(con), churn)
    assert (trail["action"] == "plan.record").sum() == 2
    # The dossier's section shows the recorded plan.
    html = store.read(lambda con: governance.plan_section_html(con, MODEL, "v1"), churn)
    assert "Recorded by paula" in html and changed.sha256 in html and "matches its content" in html
    assert "<td>churn:latency</td>" in html


def test_a_serious_incident_gets_its_article_73_clock_report_and_escalation(churn, incident, http_receiver, capsys,
                                                                         tmp_path, as_person):
    aware = datetime(2025, 3, 10, 9, 30)
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: compliance.classify_serious(con, Actor("ann", "analyst"), incident,
                                                            category="general", rationale="x"), churn)
    with pytest.raises(InvalidInputError, match="rationale"):
        store.write(lambda con: compliance.classify_serious(con, APPROVER, incident, category="general",
                                                            rationale=" "), churn)
    for category, days in (("general", 15), ("death", 10), ("widespread", 2)):
        deadline = store.write(lambda con: compliance.classify_serious(
            con, APPROVER, incident, category=category, rationale="applicants refused during the outage",
            aware_at=aware, at=aware + timedelta(hours=1)), churn)
        assert deadline == aware + timedelta(days=days)
    clocks = store.read(lambda con: compliance.reporting_clocks(con, now=aware + timedelta(hours=2)), churn)
    row = clocks.iloc[0]
    assert (row["article"], row["days"], row["status"]) == ("Art. 73(3)", 2, "due soon")
    assert row["hours_left"] == pytest.approx(46.0)
    trail = store.read(lambda con: audit.entries(con, object_type="incident"), churn)
    assert list(trail.sort_values("seq")["action"]) == ["incident.serious"] * 3

    report = store.read(lambda con: compliance.draft_report(con, incident, now=aware + timedelta(hours=3)), churn)
    data = json.loads(report.to_json())
    assert data["reporting_clock"]["deadline_at"] == "2025-03-12T09:30:00Z"
    assert data["versions"] == ["v1"] and data["alerts"] and data["timeline"]
    assert any(e["kind"].startswith("notification firing") for e in data["timeline"])
    assert "Deadline: **2025-03-12T09:30:00Z**" in report.to_markdown()
    assert report.to_html().startswith("<!DOCTYPE html>") and "Art. 73(3)" in report.to_html()

    # Escalation: the deadline is near, so a reminder goes to the hook and an escalation to the boss, once.
    http_receiver.posts.clear()
    queued = store.write(lambda con: compliance.remind(con, now=aware + timedelta(hours=2)), churn)
    incident_reminders = [r for r in queued if r.kind == "incident_report"]
    assert [(r.stage, r.notifications) for r in incident_reminders] == [("due soon", 2)]
    alerts.dispatch(churn, now=aware + timedelta(hours=2))
    bodies = [(p["path"], p["body"]["notice"]) for p in http_receiver.posts if "SERIOUS" in p["body"]["summary"]]
    assert sorted(bodies) == [("/escalation", "escalation"), ("/hook", "reminder")]
    again = store.write(lambda con: compliance.remind(con, now=aware + timedelta(hours=3)), churn)
    assert [r for r in again if r.kind == "incident_report"] == []
    overdue = store.write(lambda con: compliance.remind(con, now=aware + timedelta(days=3)), churn)
    assert [r.stage for r in overdue if r.kind == "incident_report"] == ["overdue"]

    store.write(lambda con: compliance.record_reported(con, APPROVER, incident, reference="MSA-2025-17",
                                                       at=aware + timedelta(days=3)), churn)
    done = store.read(lambda con: compliance.reporting_clocks(con, now=aware + timedelta(days=4)), churn)
    assert done.iloc[0]["status"] == "reported late"
    with pytest.raises(InvalidInputError, match="reported"):
        store.write(lambda con: compliance.classify_serious(con, APPROVER, incident, category="general",
                                                            rationale="again"), churn)


    # The same through ``vigil compliance``: a write acts for a proven person (here paula's API token).
    store.write(lambda con: users.add_user(con, OPERATOR, "paula", "approver", password="correct-horse-battery"),
                churn)
    paula = as_person(churn, "paula")
    capsys.readouterr()
    assert main(["--db", str(churn), "compliance", "plan", "--model", MODEL, "--format", "json", "--record"]) != 0
    assert "acts for a person" in capsys.readouterr().err  # no identity given: refused
    assert main(["--db", str(churn), "compliance", "plan", "--model", MODEL, "--format", "json", "--record",
                 *paula]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["model"] == MODEL and len(printed["items"]) == 2
    assert main(["--db", str(churn), "compliance", "clocks", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["report_reference"] == "MSA-2025-17"
    out = tmp_path / "report.html"
    assert main(["--db", str(churn), "compliance", "report", str(incident), "--format", "html", "--output",
                 str(out)]) == 0
    assert "Art. 73(3)" in out.read_text() and "MSA" not in out.read_text().split("To complete")[1]
    assert main(["--db", str(churn), "compliance", "serious", str(incident), "--category", "death", "--rationale",
                 "a death was linked to a refusal", "--aware-at", "2025-03-10T08:00", *paula]) != 0
    assert "can no longer change" in capsys.readouterr().err
    assert main(["--db", str(churn), "compliance", "report", "999"]) != 0
    assert "no incident 999" in capsys.readouterr().err
