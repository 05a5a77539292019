"""Investigate > Counterfactuals: answers re-scored by the model, what-if editor, sensitive masking."""

from __future__ import annotations

from app_support import signed_in
from explain_pages_support import MODEL, lite_db, lite_template, table_with  # noqa: F401 - fixtures

from analytics import explain


def _page(role, pid):
    at = signed_in(role, model=MODEL, window="all", prediction_id=pid)
    at.switch_page("../pages/counterfactuals.py").run()
    assert not at.exception, at.exception
    return at


def _rejected(db):
    return explain.find_predictions(db, MODEL, version="v1", decision=1, limit=1)["prediction_id"].iloc[0]


def test_answers_are_those_of_analytics_and_all_flip(lite_db):
    pid = _rejected(lite_db)
    at = _page("reviewer", pid)
    assert not at.error
    answers = table_with(at, "answer", "valid", "distance")
    expected = explain.counterfactuals_for(lite_db, MODEL, pid, answers=3)
    assert answers["distance"].round(9).tolist() == expected.answers["distance"].round(9).tolist()
    assert answers["valid"].all()


def test_analyst_sees_no_raw_sensitive_values(lite_db):
    pid = _rejected(lite_db)
    at = _page("analyst", pid)
    changes = table_with(at, "feature", "before", "after")
    sensitive = changes["feature"].isin(["AGE", "EDUCATION", "MARRIAGE"])
    assert (changes.loc[sensitive, ["before", "after"]] == "•••").all().all()
    editor = at.data_editor[0].value
    assert not set(editor.columns) & {"AGE", "EDUCATION", "MARRIAGE"} and "income" in editor.columns
    reviewer = _page("reviewer", pid).data_editor[0].value
    assert {"AGE", "EDUCATION", "MARRIAGE"} <= set(reviewer.columns)


def test_what_if_scores_the_unchanged_row_as_logged(lite_db):
    pid = _rejected(lite_db)
    at = _page("reviewer", pid)
    score = float(next(m for m in at.metric if m.label == "New score").value)
    logged = explain.prediction_row(lite_db, MODEL, pid)["score"]
    assert abs(score - logged) < 1e-4
