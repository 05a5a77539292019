"""The shared context: read from the URL, kept across page switches, written back to the URL; and
the Overview drawn with it (cards, table, charts, empty states)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from app_support import empty_db, signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import store
from app import context

NOW = datetime(2026, 6, 30, 12, 0)
OPTIONS = [
    {"model": "churn", "versions": ["c1"], "segments": [], "statuses": {"c1": "draft"}, "champion": None},
    {"model": "loan-risk", "versions": ["v1", "v2"], "segments": ["region"], "statuses": {}, "champion": "v2"},
]


# --------------------------------------------------------------------------------------------------
# Pure parts


def test_resolve_window():
    assert context.resolve_window("24h", NOW) == (NOW - timedelta(hours=24), None)
    assert context.resolve_window("90d", NOW) == (NOW - timedelta(days=90), None)
    assert context.resolve_window("all", NOW) == (None, None)
    # presets start on the hour, so their costly queries are cached for the hour
    assert context.resolve_window("7d", NOW.replace(minute=41)) == (NOW - timedelta(days=7), None)
    assert context.resolve_window("custom", NOW, date(2026, 5, 1), date(2026, 5, 31)) == (
        datetime(2026, 5, 1), datetime(2026, 6, 1))
    with pytest.raises(ValueError):
        context.resolve_window("custom", NOW)


def test_query_params_round_trip():
    """A context written to the URL and read back is the same context."""
    ctx = context.Context(now=NOW, window="custom", model="loan-risk", version="v2", date_from=date(2026, 5, 1),
                          date_to=date(2026, 5, 31), segment="region", segment_value="north")
    params = ctx.query_params()
    assert params == {"model": "loan-risk", "version": "v2", "window": "custom", "start": "2026-05-01",
                      "end": "2026-05-31", "segment": "region", "segment_value": "north"}
    assert context.from_query_params(params, OPTIONS, NOW) == ctx
    assert ctx.window_label == "2026-05-01 to 2026-05-31 (UTC)" and ctx.previous_label == "vs prior 31 days"
    assert ctx.filter_label == "version v2 · region = north"


def test_changing_the_model_drops_its_version_and_segment():
    ctx = context.Context(now=NOW, model="loan-risk", version="v2", segment="region", segment_value="north")
    assert ctx.query_params(model="churn") == {"model": "churn", "window": "90d"}
    assert ctx.query_params(model="loan-risk")["version"] == "v2"


@pytest.mark.parametrize("params, expected", [
    ({}, dict(model="churn", window="90d", version=None)),
    ({"model": "nope", "window": "bogus", "version": "v9"}, dict(model="churn", window="90d", version=None)),
    ({"model": "churn", "version": "v2"}, dict(model="churn", version=None)),  # v2 belongs to loan-risk
    ({"window": "custom", "start": "2026-05-31", "end": "2026-05-01"}, dict(window="90d", date_from=None)),
    ({"window": "custom", "start": "yesterday"}, dict(window="90d")),
    ({"window": "custom", "start": "1899-12-31", "end": "2026-01-31"}, dict(window="90d", date_from=None)),
    ({"model": "churn", "segment": "region", "segment_value": "north"}, dict(segment=None, segment_value=None)),
    ({"model": "loan-risk", "segment": "region"}, dict(segment=None)),
    ({"model": "loan-risk", "window": "7d", "segment": "region", "segment_value": "x"},
     dict(window="7d", segment="region", segment_value="x")),
])
def test_malformed_parameters_fall_back_to_defaults(params, expected):
    ctx = context.from_query_params(params, OPTIONS, NOW)
    for key, value in expected.items():
        assert getattr(ctx, key) == value, key


def test_no_model_registered():
    ctx = context.from_query_params({"model": "x"}, [], NOW)
    assert ctx.model is None and ctx.query_params() == {"window": "90d"}


# --------------------------------------------------------------------------------------------------
# In the app


def test_a_link_reproduces_the_view(vigil_db):
    """Parameters of a copied link select the model, version, window and segment in the sidebar."""
    at = signed_in("analyst", model="loan-risk", version="v2", window="7d", segment="region",
                   segment_value="north")
    assert at.selectbox(key="ctx_model").value == "loan-risk"
    assert at.selectbox(key="ctx_version").value == "v2"
    assert at.selectbox(key="ctx_window").value == "7d"
    assert at.selectbox(key="ctx_segment").value == "region"
    assert at.selectbox(key="ctx_segment_value").value == "north"
    assert at.query_params == {"model": "loan-risk", "version": "v2", "window": "7d", "segment": "region",
                               "segment_value": "north"}
    assert any("version v2 · region = north" in c for c in [str(x.value) for x in at.caption])


def test_pickers_write_the_url(vigil_db):
    at = signed_in("viewer")
    assert at.query_params == {"model": "churn", "window": "90d"}
    at.selectbox(key="ctx_model").select("loan-risk").run()
    at.selectbox(key="ctx_window").select("all").run()
    assert at.query_params == {"model": "loan-risk", "window": "all"}
    at.selectbox(key="ctx_version").select("v1").run()
    assert at.query_params["version"] == "v1"
    # a version of the old model does not survive a change of model
    at.selectbox(key="ctx_model").select("churn").run()
    assert "version" not in at.query_params and at.selectbox(key="ctx_version").value == ""
    assert not at.exception


def test_custom_range(vigil_db):
    today = context.utc_now().date()
    start = (today - timedelta(days=20)).isoformat()
    end = (today - timedelta(days=5)).isoformat()
    at = signed_in("viewer", model="loan-risk", window="custom", start=start, end=end)
    assert not at.exception
    assert at.date_input(key="ctx_range").value == (date.fromisoformat(start), date.fromisoformat(end))
    assert at.query_params["start"] == start and at.query_params["end"] == end
    assert any(f"{start} to {end} (UTC)" in str(c.value) for c in at.caption)


def test_context_survives_a_page_switch_that_clears_the_url(vigil_db):
    """Switching page in the menu clears the URL's parameters; the session's context puts them back."""
    at = signed_in("admin", model="loan-risk", window="7d")
    at.query_params.clear()  # what the browser does on a menu click
    at.switch_page("../pages/users.py").run()
    assert not at.exception
    assert at.query_params == {"model": "loan-risk", "window": "7d"}
    at.query_params.clear()
    at.switch_page("../pages/overview.py").run()
    assert at.query_params == {"model": "loan-risk", "window": "7d"}
    assert at.selectbox(key="ctx_model").value == "loan-risk"


def test_a_new_link_in_the_same_session_wins(vigil_db):
    """A link with other parameters (e.g. from the Overview's model links) replaces the context."""
    at = signed_in("viewer", model="loan-risk", window="7d")
    at.query_params.clear()
    at.query_params.update({"model": "churn", "window": "24h"})
    at.run()
    assert at.selectbox(key="ctx_model").value == "churn" and at.selectbox(key="ctx_window").value == "24h"


# --------------------------------------------------------------------------------------------------
# The Overview with data, without data, and without models


def test_overview_shows_cards_table_and_charts(vigil_db):
    at = signed_in("viewer", model="loan-risk", window="all")
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Models with a champion", "Predictions", "Last 24 hours", "Share with outcomes"]
    assert at.metric[0].value == "1 of 2"
    assert at.metric[1].value == "3,800"  # every synthetic prediction, in the "all time" window
    assert "ROC AUC of v2" in labels
    table = at.dataframe[0].value
    assert table["model"].tolist() == ["churn", "loan-risk"]
    assert [str(s.value) for s in at.subheader][:3] == ["Models", "Volume over time", "Open a model"]
    assert any("In focus: loan-risk" == str(s.value) for s in at.subheader)


def test_overview_says_how_much_shadow_traffic_its_counts_hold(vigil_db):
    store.write(lambda con: con.execute("UPDATE model_versions SET status = 'shadow' WHERE version = 'c1'"), vigil_db)
    logged = store.read(lambda con: con.execute(
        "SELECT count(*) FROM predictions_churn WHERE model_version = 'c1'").fetchone()[0], vigil_db)
    at = signed_in("viewer", model="loan-risk", window="all")
    assert not at.exception
    shadow = [str(c.value) for c in at.caption if "running in shadow" in str(c.value)]
    assert len(shadow) == 1 and f"churn c1 {logged:,} in the" in shadow[0], shadow


def test_overview_window_without_predictions_says_what_to_do(vigil_db):
    day = (context.utc_now() - timedelta(days=400)).date().isoformat()
    at = signed_in("viewer", model="loan-risk", window="custom", start=day, end=day)
    assert not at.exception
    infos = [str(i.value) for i in at.info]
    assert any("No predictions in the" in i and "longer time window" in i for i in infos), infos
    assert any("No outcomes yet in this window" in str(c.value) for c in at.caption)


def test_overview_without_models(empty_db):
    at = signed_in("admin")
    assert not at.exception
    assert any("No model is registered yet" in str(i.value) for i in at.info)
    assert at.selectbox(key="ctx_model_none").disabled


@pytest.mark.parametrize("start, end", [("0001-01-01", "9999-12-31"), ("2026-01-01", "2100-01-01")])
def test_a_custom_window_out_of_range_is_refused_with_a_message(vigil_db, start, end):
    """Issue 13 item 13: days the picker cannot show (before 1900, after tomorrow) gave an error box."""
    at = signed_in("viewer", model="loan-risk", window="custom", start=start, end=end)
    assert not at.exception and not at.error, [e.value for e in at.error]
    warning = " ".join(str(w.value) for w in at.warning)
    assert f"{start} to {end} is out of range" in warning and "from 1900-01-01" in warning
    assert at.selectbox(key="ctx_window").value == context.DEFAULT_WINDOW
    assert at.query_params["window"] == context.DEFAULT_WINDOW

