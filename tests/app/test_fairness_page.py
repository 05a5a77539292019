"""AppTest: the Fairness page draws the verdicts and groups from analytics, runs the what-if and lets a
reviewer (only) attach it to a review as an audited recommendation."""

from __future__ import annotations

import pytest
from app_support import signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import audit, fairness, store
from analytics.window import Window

PAGE = "../pages/fairness.py"


def _open(role: str, model: str = "loan-risk"):
    at = signed_in(role, model=model)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Fairness"]
    return at


def _button(at, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def test_verdicts_and_groups_match_analytics(vigil_db):
    at = _open("viewer")
    report = fairness.assess(vigil_db, "loan-risk", window=Window(version="v2"))
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) >= {"Fail", "Pass", "Too small to judge"}
    verdicts = at.dataframe[0].value
    assert list(verdicts["attribute"]) == ["gender"]
    # the page's window is the last 90 days, which holds the whole synthetic log
    assert verdicts.loc[0, "demographic_parity_ratio"] == pytest.approx(
        report.result("gender").disparity.demographic_parity_ratio)
    groups = at.dataframe[1].value
    assert set(groups["group"]) == {"f", "m"} and "prediction_id" not in groups.columns
    assert groups["count"].sum() == report.rows
    assert any("Aggregates only" in c.value for c in at.caption)


def test_reviewer_runs_the_what_if_and_attaches_it(vigil_db):
    at = _open("reviewer")
    _button(at, "Run the what-if").click().run()
    assert not at.exception, at.exception
    assert "Accuracy" in [m.label for m in at.metric]
    at.text_area(key="fair_note").input("equalise approval rates")
    _button(at, "Attach to the review").click().run()
    assert not at.exception, at.exception
    assert any("recommendation (audited)" in s.value for s in at.success)
    recs = store.read(lambda con: fairness.recommendations(con, "loan-risk"), vigil_db)
    assert len(recs) == 1 and recs.iloc[0]["actor"] == "reviewer" and recs.iloc[0]["object_id"] == "loan-risk:v2"
    assert store.read(audit.verify, vigil_db).intact


def test_analyst_sees_the_what_if_but_cannot_attach(vigil_db):
    at = _open("analyst")
    _button(at, "Run the what-if").click().run()
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.label.startswith("Attach")]
    assert any("Reviewers can attach" in c.value for c in at.caption)


def test_model_without_outcomes_explains_instead_of_failing(vigil_db):
    at = _open("reviewer", model="churn")
    verdicts = at.dataframe[0].value
    assert verdicts.loc[0, "equalized_odds_verdict"] == "too small to judge"
    _button(at, "Run the what-if").click().run()
    assert not at.exception, at.exception
    assert any("needs outcomes" in e.value for e in at.error)
