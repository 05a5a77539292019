"""Investigate > Prediction lookup: the trace of one prediction, masking, filters."""

from __future__ import annotations

from app_support import signed_in
from explain_pages_support import MODEL, lite_db, lite_template, table_with  # noqa: F401 - fixtures

from analytics import explain


def _page(role, **query):
    at = signed_in(role, model=MODEL, window="all", **query)
    at.switch_page("../pages/lookup.py").run()
    assert not at.exception, at.exception
    return at


def test_trace_shows_record_explanation_and_audit(lite_db):
    found = explain.find_predictions(lite_db, MODEL, version="v1", labelled=True, limit=1)
    pid = found["prediction_id"].iloc[0]
    at = _page("reviewer", prediction_id=pid)
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    row = explain.prediction_row(lite_db, MODEL, pid)
    schema = explain.version_info(lite_db, MODEL, "v1").schema
    # in the model's words (issue 13 item 19)
    assert metrics["Score"] == f"{row['score']:.4f}" and metrics["Decision"] == schema.decision_text(row["decision"])
    assert metrics["Outcome"] == schema.outcome_text(int(row["label"]))
    contrib = table_with(at, "feature", "contribution")
    assert abs(contrib["contribution"].sum() - sum(explain.explain_row(
        explain.load_model(lite_db, MODEL, "v1"), row.to_frame().T).table["contribution"])) < 1e-9
    audit = table_with(at, "object_id", "action")
    assert set(audit["object_id"]) == {f"{MODEL}:v1"}
    inputs = table_with(at, "column", "sensitive", "value").set_index("column")
    assert inputs.loc["SEX", "value"] != "•••"


def test_analyst_sees_sensitive_values_masked(lite_db):
    at = _page("analyst", prediction_id="cl000005")
    inputs = table_with(at, "column", "sensitive", "value").set_index("column")
    assert (inputs.loc[["SEX", "AGE", "EDUCATION", "MARRIAGE"], "value"] == "•••").all()
    assert inputs.loc["income", "value"] != "•••"


def test_filters_list_predictions(lite_db):
    at = _page("analyst")
    at.selectbox(key="lk_decision").select("1").run()
    table = table_with(at, "prediction_id", "decision", "score")
    schema = explain.version_info(lite_db, MODEL, "v1").schema
    assert len(table) == 200 and (table["decision"] == schema.decision_text(1)).all()


def test_unknown_id_is_a_clear_message(lite_db):
    at = _page("analyst", prediction_id="nope")
    assert any("no prediction 'nope'" in e.value for e in at.error)
