"""Business > Cost and latency: cost and budget cards, latency against the SLA, admin-only cost entries."""

from __future__ import annotations

from datetime import datetime, timezone

from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures
from streamlit.testing.v1 import AppTest

from analytics import audit, business, store
from analytics.roles import Actor
from analytics.window import Window
from app import auth, context

PAGE = str(context.__file__).replace("app/context.py", "pages/cost_latency.py")


def _page(role: str, ctx: context.Context) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[auth.SESSION_ACTOR] = Actor(role, role)
    at.session_state["ctx_current"] = ctx
    at.run()
    assert not at.exception, at.exception
    return at


def _ctx(window: str = "30d") -> context.Context:
    now = datetime.now(timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
    return context.Context(now=now, window=window, model="loan-risk")


def test_viewer_sees_cost_budget_and_latency(vigil_db):
    ctx = _ctx()
    at = _page("viewer", ctx)
    costs = business.cost(vigil_db, "loan-risk", now=ctx.now, window=Window(start=ctx.start))
    lat = business.latency(vigil_db, "loan-risk", window=Window(start=ctx.start))
    cards = {m.label: m for m in at.metric}
    assert cards["Cost per 1,000 predictions"].value == f"USD {costs.summary['cost_per_1000_usd']:,.3f}"
    assert abs(costs.summary["cost_per_1000_usd"] - 1.0) < 1e-9  # every call logged at USD 0.001
    v2 = lat.by_version.set_index("version").loc["v2"]
    assert cards["p95 latency of v2"].value == f"{v2['p95_ms']:,.1f} ms"
    assert any("Budget" in str(p.proto.text) for p in at.get("progress"))
    assert not at.error
    assert all(b.label != "Record" for b in at.button)


def test_admin_records_an_infrastructure_cost(vigil_db):
    at = _page("admin", _ctx())
    at.number_input(key="infra_amount").set_value(12.5)
    at.text_input(key="infra_description").input("GPU node")
    at.button(key="infra_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    entries = business.infra_costs(vigil_db, "loan-risk")
    assert entries["amount_usd"].tolist() == [12.5] and entries["description"].tolist() == ["GPU node"]
    # the rerun after the write says so and shows the entry (PageActions refreshes the cached queries)
    assert any("the entry is in the audit trail" in str(m.value) for m in at.success)
    shown = [d.value for d in at.dataframe if "description" in d.value.columns]
    assert shown and shown[-1]["description"].tolist() == ["GPU node"]
    log = store.read(lambda con: audit.entries(con, object_type="infra_cost"), vigil_db)
    assert log["actor"].tolist() == ["admin"]


def test_admin_tightens_the_sla_and_breaches_appear(vigil_db):
    at = _page("admin", _ctx("all"))
    at.number_input(key="sla_value").set_value(10.0)
    at.button(key="budget_sla_submit").click().run()
    assert not at.exception and not at.error
    assert business.sla(vigil_db, "loan-risk")["ms"] == 10.0
    at = _page("viewer", _ctx("all"))
    assert len(at.dataframe) >= 3  # by version, latency by version, breaches
    breaches = at.dataframe[-1].value
    assert len(breaches) > 0 and (breaches["p95_ms"] > 10.0).all()


def test_viewer_reaches_the_page_from_the_navigation(vigil_db):
    at = signed_in("viewer", model="loan-risk")
    at.switch_page("../pages/cost_latency.py").run()
    assert not at.exception
    assert at.title[0].value == "Cost and latency"
