"""Business > KPIs: cards from the stored value matrix, the threshold what-if, the admin-only definition form."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from app_support import PASSWORD, signed_in, template_store, vigil_db  # noqa: F401 - fixtures
from streamlit.testing.v1 import AppTest

from analytics import audit, business, store
from analytics.roles import Actor
from analytics.window import Window
from app import auth, context, widgets
from app.widgets import fmt_pct

PAGE = str(context.__file__).replace("app/context.py", "pages/kpis.py")
DEFINITION = business.KpiDefinition(
    model="loan-risk", currency="EUR", selected_decision=0, selected_label="approved", bad_label=1,
    bad_name="default", amount_column="amount", value_selected_good=0.04, value_selected_bad=-0.3,
    value_rejected_good=-0.04, fairness_attribute="gender", targets={"selection_rate": 0.4}, source="tests")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, second=0, microsecond=0)


def _page(role: str, ctx: context.Context) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[auth.SESSION_ACTOR] = Actor(role, role)
    at.session_state["ctx_current"] = ctx
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def defined(vigil_db):
    store.write(lambda con: business.save_definition(con, Actor("admin", "admin"), DEFINITION), vigil_db)
    return vigil_db


def test_viewer_sees_the_kpis_of_the_stored_definition(defined):
    ctx = context.Context(now=_now(), window="30d", model="loan-risk")
    at = _page("viewer", ctx)
    result = business.kpis(defined, "loan-risk", now=ctx.now, window=Window(start=ctx.start.replace(minute=0), end=ctx.now.replace(minute=0)))  # as the page: whole hours
    cards = {m.label: m for m in reversed(at.metric)}  # the headline card, not the what-if's of the same name
    assert at.metric[0].label == "Approved rate"
    assert cards["Approved rate"].value == fmt_pct(result.value("selection_rate"))
    profit = cards["Realised profit"]  # a short label; the full name and the exact amount head its help
    assert profit.value == widgets.fmt_compact(result.value("profit"), "EUR")
    assert profit.help.startswith(f"**Profit (realised: revenue minus loss)**: EUR {result.value('profit'):,.0f}.")
    assert any(f"{result.rows:,} predictions" in str(c.value) for c in at.caption)
    assert not at.error
    assert "kpis_definition" not in str(at.main)  # the form is for admins only
    assert all(e.label != "Save" for e in at.button)


def test_threshold_slider_moves_the_what_if(defined):
    ctx = context.Context(now=_now(), window="all", model="loan-risk")
    at = _page("viewer", ctx)
    at.slider(key="kpis_threshold").set_value(0.3).run()
    assert not at.exception
    w = business.threshold_whatif(defined, "loan-risk")
    whatif_card = [m for m in at.metric if m.label == "Approved rate"][-1]  # the what-if card comes last
    assert whatif_card.value == fmt_pct(w.at(0.3)["selection_rate"])
    assert whatif_card.value != fmt_pct(w.at(0.5)["selection_rate"])
    assert w.current_threshold == 0.5


def test_without_a_definition_the_page_says_what_to_do_and_admins_can_enter_one(vigil_db):
    ctx = context.Context(now=_now(), window="90d", model="loan-risk")
    at = _page("viewer", ctx)
    assert any("No business KPI definition" in str(i.value) for i in at.info)
    at = _page("admin", ctx)
    at.text_input(key="kpis_def_amount").input("amount")
    at.text_input(key="kpis_def_fairness").input("gender")
    at.number_input(key="kpis_def_sg").set_value(0.02)
    at.number_input(key="kpis_def_sb").set_value(-0.2)
    at.button(key="kpis_def_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    saved = store.read(lambda con: business.get_definition(con, "loan-risk"), vigil_db)
    assert saved.value_selected_good == 0.02 and saved.amount_column == "amount"
    log = store.read(lambda con: audit.entries(con, object_type="kpi_definition"), vigil_db)
    assert log["actor"].tolist() == ["admin"]


def test_a_wrong_value_matrix_is_explained_not_saved(vigil_db):
    at = _page("admin", context.Context(now=_now(), window="90d", model="loan-risk"))
    at.number_input(key="kpis_def_sb").set_value(0.5)  # a loss entered as a gain
    at.button(key="kpis_def_submit").click().run()
    assert not at.exception
    assert any("negative" in str(e.value) for e in at.error)
    assert store.read(lambda con: business.has_definition(con, "loan-risk"), vigil_db) is False


def test_viewer_reaches_the_page_from_the_navigation(defined):
    at = signed_in("viewer", model="loan-risk")
    at.switch_page("../pages/kpis.py").run()
    assert not at.exception
    assert at.title[0].value == "Business KPIs"


@pytest.mark.parametrize("value, prefix, shown", [
    (-54_902_100, "NT$", "NT$ -54.9 M"), (450_559_428.2, "NT$", "NT$ 450.6 M"), (-1_222.4, "NT$", "NT$ -1,222"),
    (9_999.4, "", "9,999"), (10_000, "", "10.0 k"), (2.5e9, "EUR", "EUR 2.5 bn"), (float("nan"), "EUR", "–"),
])
def test_card_amounts_are_compact(value, prefix, shown):
    assert widgets.fmt_compact(value, prefix) == shown


def _small_groups(db, now: datetime) -> None:
    """Gender groups of 5, 7 (suppressed) and 20 (too small to judge) predictions of v2, all declined."""
    import pandas as pd

    from analytics import ingest
    from app_support import SYSTEM

    sizes = {"x": 5, "y": 7, "z": 20}
    gender = [g for g, n in sizes.items() for _ in range(n)]
    n = len(gender)
    ingest.ingest("loan-risk", pd.DataFrame({
        "prediction_id": [f"small{i:03d}" for i in range(n)],
        "predicted_at": [now - pd.Timedelta(days=3, minutes=i) for i in range(n)], "model_version": "v2",
        "deployment_role": "champion", "score": 0.9, "decision": 1, "latency_ms": 10.0, "cost": 0.001,
        "amount": 1000.0, "region": "north", "gender": gender}), actor=SYSTEM, db=db)


def test_parity_is_the_fairness_pages_with_its_small_group_rule(defined):
    """Issue 13 item 5: one parity, one small-group rule; the KPIs and Fairness pages show the same number,
    which is fairlearn's on the groups large enough to judge (small all-declined groups would give 0)."""
    from app_support import signed_in
    from fairlearn.metrics import demographic_parity_ratio

    from analytics import fairness, registry

    now = _now()
    _small_groups(defined, now)
    report = fairness.assess(defined, "loan-risk", window=Window(version="v2"), n_boot=50)
    parity = report.result("gender").disparity.demographic_parity_ratio
    stem = store.read(lambda con: registry.get_model(con, "loan-risk"), defined).stem
    rows = store.read(lambda con: con.execute(
        f"SELECT gender, decision FROM predictions_{stem} WHERE model_version = 'v2'").df(), defined)
    sizes = rows["gender"].value_counts()
    judged = rows[rows["gender"].map(sizes) >= 30]
    assert set(judged["gender"]) == {"f", "m"}
    expected = demographic_parity_ratio(judged["decision"], (judged["decision"] == 0).astype(int),
                                        sensitive_features=judged["gender"])
    assert parity == pytest.approx(expected, rel=1e-12)
    kpi = business.kpis(defined, "loan-risk", now=now, window=Window(version="v2")).value("demographic_parity_ratio")
    assert kpi == pytest.approx(expected, rel=1e-12)
    groups = report.result("gender").groups.set_index("group")
    assert groups.loc[["x", "y"], ["selection_rate", "selection_rate_low", "selection_rate_high"]].isna().all().all()
    assert groups.loc["z", "status"] == fairness.TOO_SMALL and groups.loc["z", "selection_rate"] == 0

    at = signed_in("viewer", model="loan-risk", version="v2", window="all")
    at.switch_page("../pages/kpis.py").run()
    assert not at.exception, at.exception
    card = next(m for m in at.metric if m.label == "Parity ratio")
    assert card.value == widgets.fmt_num(expected, 2)
    at.switch_page("../pages/fairness.py").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value.set_index("attribute").loc["gender", "demographic_parity_ratio"] == \
        pytest.approx(expected, rel=1e-12)


@pytest.fixture
def card_limits(vigil_db):
    """A model registered as a user would (column titles, decision and outcome words) with a KPI definition
    whose approval-rate target it misses."""
    from app_support import register_card_limits

    register_card_limits(vigil_db)
    return vigil_db


def test_cards_speak_to_a_business_owner(card_limits):
    """Issue 13 item 18: titles not raw column names, counts without decimals, one precision per measure,
    a missed target on the card, realised against expected profit in one sentence."""
    ctx = context.Context(now=_now(), window="30d", model="card-limits")
    at = _page("viewer", ctx)
    visible = [m.label for m in at.metric] + [c.value for c in at.caption] + [str(b.value) for b in at.markdown]
    table = at.dataframe[0].value.set_index("kpi")
    visible += list(table.index)
    assert not [t for t in visible if "LIMIT_BAL" in t or "SEX" in t], visible
    assert "Demographic parity ratio by sex" in table.index
    assert any("credit limit" in c.value for c in at.caption)
    assert table.loc["Predictions", "value"] == "400"
    assert table.loc["Approved rate", "target"] == "99.0%"
    assert not table.loc["Approved rate", "meets_target"]
    assert any("Misses target 99.0%" in str(b.value) for b in at.markdown)
    sentence = next(c.value for c in at.caption if c.value.startswith("Realised profit"))
    assert "400 predictions whose outcome has arrived" in sentence and "expected profit" in sentence
    assert sentence.endswith("is in.") and ". " not in sentence  # one sentence
