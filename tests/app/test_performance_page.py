"""The Performance page: cards against validation, realised vs estimated, concept drift, calibration, segments."""

from __future__ import annotations

import pandas as pd

from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures
from test_drift_page import add_reference


def open_page(role="viewer", **query):
    at = signed_in(role, **query)
    at.switch_page("../pages/performance.py").run()
    assert not at.exception, at.exception
    return at


def test_performance_page(vigil_db):
    add_reference(vigil_db)
    at = open_page(model="loan-risk", version="v2", window="90d")
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Performance"
    assert [m.label for m in at.metric] == ["ROC AUC", "F1", "Brier score", "Log loss"]
    card = at.metric[0]
    assert card.proto.delta_description == "vs validation 0.780" and card.delta, (card.proto, card.delta)
    frames = [d.value for d in at.dataframe]
    assert any("verdict" in f.columns for f in frames)                 # concept-drift table
    assert any("group" in f.columns and set(f["group"]) == {"north", "south"} for f in frames)   # segments
    assert len(at.get("plotly_chart")) >= 3
    # the synthetic store is ingested without a refresh: the window's whole days are read from the log, and said
    assert any("not summarised yet and were read from the log" in c.value for c in at.caption), \
        [c.value for c in at.caption]


def test_without_reference_the_rest_of_the_page_still_works(vigil_db):
    at = open_page(model="loan-risk", version="v2", window="90d")
    assert any("reference" in e.value for e in at.error)
    assert [m.label for m in at.metric][:1] == ["ROC AUC"]


def _period_step(at) -> pd.Timedelta:
    verdicts = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    return verdicts["period"].sort_values().diff().min()


def test_per_day_is_computed_at_once_and_kept_in_the_link(vigil_db):
    """The page computes its numbers before it draws the Per control: a choice there is read on that same run."""
    add_reference(vigil_db)
    at = open_page(model="loan-risk", version="v2", window="90d")
    assert _period_step(at) == pd.Timedelta(days=7)
    at.segmented_control(key="perf_freq").set_value("day").run()
    assert not at.exception, at.exception
    assert _period_step(at) == pd.Timedelta(days=1)
    link = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert link.get("performance_per") == "day"
    opened = open_page(**link)
    assert opened.segmented_control(key="perf_freq").value == "day" and _period_step(opened) == pd.Timedelta(days=1)
