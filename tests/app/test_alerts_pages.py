"""Monitor > Alerts, Incidents, Service levels and Govern > Rules and channels, on the synthetic store."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import alerts, audit, store
from analytics.alerts import Level, Rule
from analytics.roles import Actor

SYSTEM = Actor("cli:tests", "system")
#: loan-risk's latency is uniform 5-50 ms: its p95 is past 20 ms every day, so the rule fires at once.
RULE = Rule("loan:latency", "loan-risk", "latency.p95_ms", "above", warning=Level(bound=20.0), min_rows=10)


@pytest.fixture
def fired(vigil_db):
    store.write(lambda con: alerts.save_rule(con, SYSTEM, RULE), vigil_db)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    alerts.monitor(vigil_db, at=now, since=now - timedelta(days=3))
    return vigil_db


def _open(role, page):
    at = signed_in(role)
    at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_an_analyst_acknowledges_from_the_inbox(fired):
    at = _open("analyst", "alerts")
    inbox = at.dataframe[0].value
    assert inbox["rule_id"].tolist() == ["loan:latency"] and inbox["state"].tolist() == ["firing"]
    at.button(key="FormSubmitter:alerts_ack-Acknowledge").click().run()  # no comment: refused, explained
    assert not at.exception and any("a comment is required" in str(e.value) for e in at.error)
    at.text_area(key="alerts_comment").input("looking at the pods")
    at.button(key="FormSubmitter:alerts_ack-Acknowledge").click().run()
    assert not at.exception and not at.error
    row = store.read(lambda con: audit.search(con, action="alert.acknowledged"), fired).iloc[0]
    assert row["actor"] == "analyst" and "looking at the pods" in row["details"]


def test_a_viewer_reads_without_forms_and_the_other_pages_render(fired):
    at = _open("viewer", "alerts")
    assert not at.get("form") and at.dataframe[0].value["rule_id"].tolist() == ["loan:latency"]
    at = _open("viewer", "incidents")
    assert at.dataframe[0].value["family"].tolist() == ["latency"]
    at = _open("viewer", "service_levels")
    assert not at.error and int(at.dataframe[0].value["breached"].sum()) >= 1


def test_rules_page_for_approvers_and_channels_for_admins(fired):
    at = _open("approver", "rules")
    assert at.dataframe[0].value["rule_id"].tolist() == ["loan:latency"]
    assert not [f for f in at.get("form") if getattr(f, "form_id", None) == "channels_add"]
    at.button(key="rules_disable").click().run()
    assert not at.exception and not at.error
    assert store.read(lambda con: alerts.rules(con, enabled_only=True), fired) == []
    at = _open("admin", "rules")
    at.text_input(key="channels_name").input("hook")
    at.text_input(key="channels_target").input("ftp://nowhere")
    at.button(key="FormSubmitter:channels_add-Add channel").click().run()
    assert not at.exception and any("not an http(s) URL" in str(e.value) for e in at.error)


def test_an_admin_sends_a_test_notification_to_a_channel(vigil_db):
    """The test send goes through the page's actions (the page holds no store path) and shows the receipt."""
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        store.write(lambda con: alerts.add_channel(con, SYSTEM, "hook", "webhook", url), vigil_db)
        at = _open("admin", "rules")
        at.button(key="channels_test").click().run()
        assert not at.exception and not at.error
        assert [s.value for s in at.success] == ["hook: HTTP 200"]
        assert [body["notice"] for body in received] == ["test"]
    finally:
        server.shutdown()
        server.server_close()
