"""Alert rules, ``vigil monitor`` and notifications on a model registered as a user would (``churn-scorer``).

The receivers are real local servers (http.server, aiosmtpd); the clock is the ``at`` of each pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics import alerts, audit, store, users
from analytics.alerts import Level, Rule
from analytics.cli import main
from analytics.errors import InvalidInputError, PermissionDeniedError
from analytics.roles import Actor
from analytics.window import Window
from lifecycle_support import put_in_status

MODEL = "churn-scorer"
OPERATOR = Actor("cli:tests", "system")
END = datetime(2025, 3, 9)

LATENCY = Rule("churn:latency", MODEL, "latency.p95_ms", "above", warning=Level(bound=100.0),
               critical=Level(bound=200.0), min_rows=50, runbook="Scale the serving pods or roll back.")
FRESHNESS = Rule("churn:freshness", MODEL, "freshness.minutes", "above", warning=Level(bound=180.0), window="hour",
                 min_rows=0)
DRIFT = Rule("churn:drift", MODEL, "drift.statistic", "above", column="tenure", warning=Level(bound=0.3), min_rows=100)


def _save(db, *rules):
    store.write(lambda con: [alerts.save_rule(con, OPERATOR, r) for r in rules], db)


# --- one window's verdict ---------------------------------------------------------------------------------


def test_classify_is_anomalous_and_past_the_absolute_bound():
    """Dynamic bound = mean - k * sample sd of the past windows (statistics.stdev); both conditions must hold."""
    past = np.array([0.80, 0.82, 0.79, 0.81, 0.80])
    rule = Rule("r", MODEL, "performance.roc_auc", "below", warning=Level(k=3.0),
                critical=Level(bound=0.7, k=3.0), min_rows=10, runbook="x")
    dynamic = statistics.mean(past) - 3 * statistics.stdev(past)
    verdict = alerts.classify(rule, 0.75, 100, past)
    assert verdict.warning_bound == pytest.approx(dynamic) and verdict.critical_bound == pytest.approx(0.7)
    assert verdict.baseline == pytest.approx(statistics.mean(past))
    assert verdict.status == "warning"  # anomalous, but not past 0.7
    assert alerts.classify(rule, 0.69, 100, past).status == "critical"
    assert alerts.classify(rule, 0.69, 9, past).status == "insufficient"  # under min_rows: not OK either
    assert alerts.classify(rule, float("nan"), 100, past).status == "insufficient"
    # Past 0.7 but not anomalous against a noisy history: no alert.
    noisy = np.array([0.9, 0.6, 0.95, 0.55, 0.8])
    assert alerts.classify(rule, 0.69, 100, noisy).status == "ok"
    # The minimum effect: anomalous against a flat history, yet a change too small to matter.
    small = Rule("s", MODEL, "performance.roc_auc", "below", warning=Level(k=3.0), min_effect=0.05, min_rows=1)
    assert alerts.classify(small, 0.78, 100, past).status == "ok"
    assert alerts.classify(small, 0.74, 100, past).status == "warning"


def test_rules_are_checked_and_every_change_audited(churn):
    with pytest.raises(InvalidInputError, match="runbook"):
        Rule("x", MODEL, "latency.p95_ms", "above", critical=Level(bound=1.0))
    with pytest.raises(InvalidInputError, match="metric 'latency' is unknown"):
        Rule("x", MODEL, "latency", "above", warning=Level(bound=1.0))
    with pytest.raises(InvalidInputError, match="unknown rule fields: colour"):
        Rule.from_dict({"rule_id": "x", "model": MODEL, "metric": "drift.share_drifted", "direction": "above",
                        "warning": {"bound": 0.3}, "colour": "red"})
    with pytest.raises(InvalidInputError, match="not a declared column"):
        _save(churn, Rule("x", MODEL, "drift.statistic", "above", column="nope", warning=Level(bound=0.1)))
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: alerts.save_rule(con, Actor("arthur", "analyst"), LATENCY), churn)
    _save(churn, LATENCY)
    store.write(lambda con: alerts.save_rule(con, Actor("paul", "approver"), Rule.from_dict(
        {**LATENCY.to_dict(), "min_rows": 60})), churn)
    store.write(lambda con: alerts.set_enabled(con, OPERATOR, LATENCY.rule_id, False), churn)
    trail = store.read(lambda con: audit.search(con, object_type="alert_rule"), churn)
    assert list(trail["action"])[::-1] == ["rule.add", "rule.edit", "rule.disable"]
    assert json.loads(trail["details"].iloc[1])["to"]["min_rows"] == 60
    assert store.read(lambda con: alerts.rules(con, enabled_only=True), churn) == []


# --- the monitor pass ---------------------------------------------------------------------------------------


def test_replay_fires_resolves_groups_and_audits_each_change(churn):
    _save(churn, LATENCY, FRESHNESS, DRIFT)
    report = alerts.monitor(churn, at=END, since=datetime(2025, 3, 1))
    table = store.read(lambda con: alerts.alerts_table(con, include_unfired=True), churn)
    by_rule = {r: table[table["rule_id"] == r] for r in table["rule_id"].unique()}
    latency = by_rule["churn:latency"].iloc[0]
    # 03-06 had 300 ms: critical for the window ending 03-07, clear again the next day.
    assert latency["severity"] == "critical" and latency["state"] == "resolved"
    assert latency["fired_at"] == datetime(2025, 3, 7) and latency["resolved_at"] == datetime(2025, 3, 8)
    assert latency["value"] == pytest.approx(store.read(lambda con: con.execute(
        "SELECT quantile_cont(latency_ms, 0.95) FROM predictions_churn_scorer WHERE predicted_at >= '2025-03-06' "
        "AND predicted_at < '2025-03-07'").fetchone()[0], churn), rel=1e-3)
    # tenure shifted on 03-04 and 03-05 (its KS D is 0.87 and 0.81, about 0.06 on the other days).
    drift = by_rule["churn:drift"].iloc[0]
    assert drift["fired_at"] == datetime(2025, 3, 5) and drift["resolved_at"] == datetime(2025, 3, 7)
    # Traffic stopped on 03-08 at 05:54: stale from 08:54 on, still firing at the end.
    fresh = by_rule["churn:freshness"].iloc[0]
    assert fresh["state"] == "firing" and fresh["fired_at"] == datetime(2025, 3, 8, 9)
    incidents = store.read(lambda con: alerts.incidents_table(con), churn)
    assert sorted(incidents["family"]) == ["drift", "freshness", "latency"]
    # Every state change has its audit row, written in the same transaction; the chain is intact.
    events = store.read(lambda con: con.execute("SELECT kind, audit_seq FROM alert_events WHERE kind IN "
                                                "('pending', 'firing', 'resolved', 'escalated')").fetchall(), churn)
    seqs = [s for _, s in events]
    assert None not in seqs
    rows = store.read(lambda con: audit.search(con, action="alert."), churn)
    assert set(seqs) <= set(rows["seq"]) and len(rows) == len(seqs) == len(report.transitions)
    assert store.read(audit.verify, churn).intact
    # Twice in a row changes nothing.
    again = alerts.monitor(churn, at=END, since=datetime(2025, 3, 1))
    assert again.evaluated == 0 and again.transitions == []
    assert store.read(lambda con: alerts.evaluations(con, rule_id="churn:latency"), churn)["status"].tolist()[-4:] == [
        "ok", "critical", "ok", "ok"]


def test_acknowledge_resolve_silence_and_knowledge_base(churn):
    _save(churn, FRESHNESS)
    alerts.monitor(churn, at=datetime(2025, 3, 8, 12), since=datetime(2025, 3, 8))
    alert_id = int(store.read(lambda con: alerts.alerts_table(con), churn)["alert_id"].iloc[0])
    analyst = Actor("arthur", "analyst")
    store.write(lambda con: con.execute("INSERT INTO users VALUES ('arthur', 'Arthur', NULL, 'analyst', NULL, FALSE, "
                                        "now()::TIMESTAMP, 0, NULL, NULL)"), churn)
    with pytest.raises(InvalidInputError, match="comment is required"):
        store.write(lambda con: alerts.acknowledge(con, analyst, alert_id, assignee="arthur", comment=" "), churn)
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: alerts.acknowledge(con, Actor("vera", "viewer"), alert_id, assignee="arthur",
                                                   comment="mine"), churn)
    store.write(lambda con: alerts.acknowledge(con, analyst, alert_id, assignee="arthur",
                                               comment="gateway restarting", at=datetime(2025, 3, 8, 12, 5)), churn)
    # Still stale 25 hours after the acknowledgement: it fires again (alerts.refire_after_hours = 24).
    alerts.monitor(churn, at=datetime(2025, 3, 9, 14))
    alert = store.read(lambda con: alerts.get_alert(con, alert_id), churn)
    assert alert["state"] == "firing" and alert["assignee"] == "arthur"
    store.write(lambda con: alerts.resolve(con, analyst, alert_id, note="log shipper restarted; backlog replayed"),
                churn)
    silence = store.write(lambda con: alerts.silence(con, analyst, MODEL, hours=2, reason="maintenance"), churn)
    assert silence == 1
    kinds = store.read(lambda con: alerts.timeline(con, alert_id=alert_id), churn)["kind"].tolist()
    assert kinds[:2] == ["pending", "firing"] and "acknowledged" in kinds and "refired" in kinds
    assert kinds[-1] == "resolved"
    found = store.read(lambda con: alerts.incidents_table(con, text="SHIPPER", resolved_only=True), churn)
    assert len(found) == 1 and found["model"].iloc[0] == MODEL
    assert store.read(lambda con: alerts.incidents_table(con, text="no such words"), churn).empty


# --- notifications to real receivers -----------------------------------------------------------------------------


def _channels(db, http, smtp_port):
    def work(con):
        alerts.add_channel(con, OPERATOR, "hook", "webhook", f"{http.url}/hook", secret="s3cret")
        alerts.add_channel(con, OPERATOR, "slack", "slack", f"{http.url}/slack/T000/B000/XXXX")
        alerts.add_channel(con, OPERATOR, "pager", "pagerduty", f"{http.url}/pd", secret="routing-key",
                           options={"min_severity": "critical"})
        alerts.add_channel(con, OPERATOR, "oncall-lead", "webhook", f"{http.url}/escalation",
                           options={"escalation": True})
        alerts.add_channel(con, OPERATOR, "mail", "email", "team@example.org",
                           options={"host": "127.0.0.1", "port": smtp_port, "sender": "vigil@example.org"})

    store.write(work, db)


def test_notifications_arrive_once_with_resolved_notice_and_escalation(churn, http_receiver, smtp_receiver):
    port, mails = smtp_receiver
    _channels(churn, http_receiver, port)
    _save(churn, LATENCY)
    first = alerts.monitor(churn, at=END, since=datetime(2025, 3, 1))
    hooks = http_receiver.bodies("/hook")
    assert [b["notice"] for b in hooks] == ["firing", "resolved"]  # first failure only, then the resolved notice
    post = next(p for p in http_receiver.posts if p["path"] == "/hook")
    expected = "sha256=" + hmac.new(b"s3cret", post["raw"], hashlib.sha256).hexdigest()
    assert post["headers"]["X-Vigil-Signature"] == expected
    assert hooks[0]["severity"] == "critical" and hooks[0]["model"] == MODEL and hooks[0]["runbook"]
    assert [b["text"].split("]")[0] for b in http_receiver.bodies("/slack/T000/B000/XXXX")] == ["[FIRING", "[RESOLVED"]
    pd_events = http_receiver.bodies("/pd")
    assert [e["event_action"] for e in pd_events] == ["trigger", "resolve"]
    assert {e["dedup_key"] for e in pd_events} == {"churn:latency:churn-scorer:v1"}
    assert pd_events[0]["routing_key"] == "routing-key" and pd_events[0]["payload"]["severity"] == "critical"
    # Not acknowledged within 60 minutes of firing: escalated (the next window is the next day in this replay).
    assert [b["notice"] for b in http_receiver.bodies("/escalation")] == ["escalation"]
    assert len(mails) == 2 and mails[0]["to"] == ["team@example.org"] and "FIRING" in mails[0]["text"]
    assert first.sent == len(http_receiver.posts) + len(mails) == 9
    # A second pass sends nothing twice.
    second = alerts.monitor(churn, at=END)
    assert second.sent == 0 and len(http_receiver.posts) == 7 and len(mails) == 2


def test_a_failing_channel_is_retried_then_disabled_and_the_cap_throttles(churn, http_receiver):
    http_receiver.fail = True
    store.write(lambda con: alerts.add_channel(con, OPERATOR, "hook", "webhook", f"{http_receiver.url}/hook"), churn)
    _save(churn, LATENCY, FRESHNESS)
    alerts.monitor(churn, at=END, since=datetime(2025, 3, 1))
    outbox = store.read(lambda con: alerts.notifications_table(con), churn)
    assert set(outbox["status"]) == {"queued"} and (outbox["attempts"] == 1).all()
    assert "HTTP Error 500" in outbox["detail"].iloc[0]
    # Retries with back-off: due again 1 minute later, then 2, 4, 8; the channel is disabled at 10 failures.
    now = END
    for _ in range(4):
        now += timedelta(minutes=10)
        alerts.dispatch(churn, now=now)
    channels = store.read(lambda con: alerts.channels_table(con, OPERATOR), churn)
    assert not channels["enabled"].iloc[0] and channels["failures"].iloc[0] >= 10
    trail = store.read(lambda con: audit.search(con, action="channel.disable"), churn)
    assert len(trail) == 1
    # The cap: one notification per model and day, the rest throttled.
    store.write(lambda con: con.execute("UPDATE channels SET enabled = TRUE, failures = 0"), churn)
    store.write(lambda con: con.execute("UPDATE notifications SET status = 'queued', attempts = 0, "
                                        "next_attempt_at = queued_at"), churn)
    http_receiver.fail = False
    from analytics import settings

    store.write(lambda con: settings.set_value(con, OPERATOR, "alerts.max_notifications_per_model_day", 1), churn)
    result = alerts.dispatch(churn, now=now)
    per_day = store.read(lambda con: con.execute(
        "SELECT CAST(queued_at AS DATE) d, count(*) FILTER (WHERE status = 'sent') FROM notifications GROUP BY 1"
    ).fetchall(), churn)
    assert all(n <= 1 for _, n in per_day) and result.throttled >= 1


def test_secrets_are_never_shown_and_targets_only_to_admins(churn, http_receiver):
    store.write(lambda con: alerts.add_channel(con, OPERATOR, "slack", "slack",
                                               f"{http_receiver.url}/services/T0/B0/secretpath", secret="k"), churn)
    admin = store.read(lambda con: alerts.channels_table(con, Actor("ada", "admin")), churn)
    viewer = store.read(lambda con: alerts.channels_table(con, Actor("vera", "viewer")), churn)
    assert "secret" not in admin.columns and admin["has_secret"].iloc[0]
    assert "secretpath" in admin["target"].iloc[0] and "secretpath" not in viewer["target"].iloc[0]
    details = store.read(lambda con: audit.search(con, action="channel.add"), churn)["details"].iloc[0]
    assert "secretpath" not in details and '"k"' not in details
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: alerts.add_channel(con, Actor("paul", "approver"), "x", "slack", http_receiver.url),
                    churn)


def test_vigil_monitor_rules_and_channels_commands(churn, tmp_path, capsys, http_receiver, monkeypatch, act_as):
    store.write(lambda con: users.add_user(con, OPERATOR, "ada", "admin"), churn)
    act_as(churn, "ada")  # rules and channels are changed by a proven admin; monitor runs as the service
    rule_file = tmp_path / "rules.json"
    rule_file.write_text(json.dumps([LATENCY.to_dict(), FRESHNESS.to_dict()]))
    assert main(["rules", "add", str(rule_file)]) == 0
    monkeypatch.setenv("HOOK_SECRET", "abc")
    assert main(["channels", "add", "hook", "--kind", "webhook", "--target", f"{http_receiver.url}/h",
                 "--secret-env", "HOOK_SECRET"]) == 0
    assert main(["channels", "test", "hook"]) == 0 and http_receiver.bodies("/h")[0]["notice"] == "test"
    assert main(["monitor", "--replay", "2025-03-01", "2025-03-09"]) == 0
    out = capsys.readouterr().out
    assert "added rule churn:latency" in out and "notifications: 3 sent" in out  # latency firing and resolved, freshness firing
    assert main(["monitor", "--at", "2025-03-09"]) == 0
    assert "evaluated 0 rule windows" in capsys.readouterr().out
    assert main(["channels", "list"]) == 0
    assert "abc" not in capsys.readouterr().out
    assert main(["rules", "edit", "churn:latency", "--set", "warning={\"bound\": -1}", "--set", "nope=1"]) == 1
    assert "unknown rule fields: nope" in capsys.readouterr().err
    assert main(["alerts", "list"]) == 0
    assert "churn:freshness" in capsys.readouterr().out


# --- intervention ---------------------------------------------------------------------------------------------


def test_a_critical_rule_opens_one_retraining_request_with_its_evidence(churn):
    _save(churn, Rule.from_dict({**LATENCY.to_dict(), "rule_id": "churn:retrain", "action": "retrain"}))
    alerts.monitor(churn, at=END, since=datetime(2025, 3, 1))
    requests = store.read(lambda con: alerts.retrain_requests(con), churn)
    assert len(requests) == 1 and requests["state"].iloc[0] == "open" and requests["rule_id"].iloc[0] == "churn:retrain"
    evidence = json.loads(requests["evidence"].iloc[0])
    assert evidence["value"] > 200 and evidence["rule"]["action"] == "retrain"
    assert len(store.read(lambda con: audit.search(con, action="retrain.request"), churn)) == 1
    with pytest.raises(InvalidInputError, match="needs a note"):
        store.write(lambda con: alerts.close_retrain_request(con, OPERATOR, int(requests["request_id"].iloc[0]), ""),
                    churn)


@pytest.mark.parametrize("automatic", [False, True])
def test_a_failed_guardrail_ends_the_canary_only_when_the_model_allows_it(churn, churn_traffic, automatic):
    from analytics import governance, registry, settings
    from analytics.ingest import ingest

    def canary(con):
        registry.register_version(con, OPERATOR, MODEL, "v2", threshold=0.5, owner="retention team",
                                  at=datetime(2025, 3, 1))
        put_in_status(con, MODEL, "v2", "approved", at=datetime(2025, 3, 1))
        governance.start_canary(con, OPERATOR, MODEL, "v2", 0.2, at=datetime(2025, 3, 5))
        if automatic:
            settings.set_value(con, OPERATOR, "alerts.auto_end_canary", True, model=MODEL)

    store.write(canary, churn)
    rows = churn_traffic()
    rows = rows[rows["predicted_at"].dt.day == 6].head(100).copy()  # 03-06, the slow day, served by v2 too
    rows["prediction_id"] = "c-" + rows["prediction_id"]
    rows["model_version"], rows["deployment_role"] = "v2", "canary"
    assert ingest(MODEL, rows, db=churn, actor=OPERATOR).status == "committed"
    guard = Rule("churn:guard", MODEL, "latency.p95_ms", "above", critical=Level(bound=200.0), version="v2",
                 min_rows=20, runbook="The canary is slower than the SLA: end it.", action="end_canary")
    _save(churn, guard)
    alerts.monitor(churn, at=END, since=datetime(2025, 3, 5))
    status = store.read(lambda con: registry.get_version(con, MODEL, "v2")["status"], churn)
    assert status == ("shadow" if automatic else "canary")
    ended = store.read(lambda con: audit.search(con, action="version.shadow"), churn)
    assert len(ended) == int(automatic)
    if automatic:
        assert "churn:guard" in ended["details"].iloc[0] and ended["actor"].iloc[0] == "svc:monitor"


def test_the_default_fairness_rule_reads_the_models_parity_threshold(churn):
    """The default fairness rule's bound is the model's ``fairness.dp_ratio_threshold``, not a written 0.8."""
    from analytics import settings

    def fairness_rule():
        rules = store.read(lambda con: alerts.default_rules(con, MODEL), churn)
        return next(r for r in rules if r.rule_id == f"{MODEL}:fairness")

    assert (fairness_rule().warning.bound, fairness_rule().description) == (0.8, "the four-fifths rule on region")
    store.write(lambda con: settings.set_value(con, Actor("ada", "admin"), "fairness.dp_ratio_threshold", 0.9,
                                               model=MODEL), churn)
    rule = fairness_rule()
    assert (rule.warning.bound, rule.column) == (0.9, "region")
    assert rule.description == "a ratio of 0.9, stricter than the four-fifths rule (0.8) on region"


def test_weekly_fairness_of_one_pass_equals_the_assessment_of_each_week(churn):
    """The bulk weekly disparities a rule reads are fairness.assess's value for that one week."""
    from analytics import fairness

    rule = Rule("churn:fair", MODEL, "fairness.demographic_parity_ratio", "below", column="region",
                warning=Level(bound=0.8), window="week", min_rows=10)
    cache = alerts.SeriesCache(churn)
    ends = [datetime(2025, 3, 3), datetime(2025, 3, 10)]
    frame = alerts.series(cache, rule, "v1", ends)
    for end, value, rows in zip(frame["window_end"], frame["value"], frame["rows"]):
        week = fairness.assess(churn, MODEL, window=Window(start=end - timedelta(days=7), end=end, version="v1"),
                               attributes=("region",), intersections=(), n_boot=0)
        assert value == pytest.approx(week.verdicts()["demographic_parity_ratio"].iloc[0]) and rows == week.rows
    assert len(frame) == 2


def test_a_live_pass_reads_its_baseline_from_the_stored_evaluations(churn):
    """After a replay, the next pass computes only its own window; the verdict is the one a full recompute gives."""
    rule = Rule("churn:dyn", MODEL, "latency.p95_ms", "above", warning=Level(k=3.0), min_rows=50, history=4)
    _save(churn, rule)
    alerts.monitor(churn, at=datetime(2025, 3, 6), since=datetime(2025, 3, 1))
    plan = store.read(lambda con: alerts._monitor.plan(con, at=datetime(2025, 3, 7), model=MODEL, since=None), churn)
    (_, _, ends, stored), = plan
    assert ends == [datetime(2025, 3, 7)] and len(stored) == 6  # windows ending 03-01 (no data yet) to 03-06
    cache = alerts.SeriesCache(churn)
    from_store = alerts._monitor.evaluate(cache, rule, "v1", ends, stored)[0].verdict
    recomputed = alerts._monitor.evaluate(alerts.SeriesCache(churn), rule, "v1", ends)[0].verdict
    assert from_store == recomputed and from_store.status == "warning"  # 03-06's 300 ms against ~58 ms
    assert [k[0] for k in cache.frames] == ["latency"] and all(k[3] >= datetime(2025, 3, 6) for k in cache.frames)


def test_performance_is_read_in_parts_of_whole_days_with_the_same_figures(churn, monkeypatch):
    """A replay asks CBPE for its span in parts of at most PERFORMANCE_PART_ROWS rows (memory bounded by a part,
    not the log): cut at day starts, each day's rows in one part, and the same figures as one call over the span."""
    from analytics.alerts import _metrics

    rule = Rule("churn:est", MODEL, "performance.est_roc_auc", "below", warning=Level(k=3.0), min_rows=1)
    span = Window(datetime(2025, 3, 1, 12), END, "v1")
    monkeypatch.setattr(_metrics, "PERFORMANCE_PART_ROWS", 500)  # two days of 240 rows per part
    parts = _metrics.performance_parts(churn, rule, span)
    assert [(p.start, p.end) for p in parts] == [
        (datetime(2025, 3, 1, 12), datetime(2025, 3, 3)), (datetime(2025, 3, 3), datetime(2025, 3, 5)),
        (datetime(2025, 3, 5), datetime(2025, 3, 7)), (datetime(2025, 3, 7), END)]
    in_parts = _metrics._performance(churn, rule, span)
    monkeypatch.setattr(_metrics, "PERFORMANCE_PART_ROWS", 10_000)
    assert len(_metrics.performance_parts(churn, rule, span)) == 1
    whole = _metrics._performance(churn, rule, span)
    assert len(whole) and whole["value"].notna().any()
    pd.testing.assert_frame_equal(in_parts, whole, check_exact=False, rtol=1e-12)
