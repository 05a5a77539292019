"""Explanations: SHAP against shap, additivity, sampling, drift, logged attributions, tampering, trace."""

from __future__ import annotations

import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap
from scipy import stats

from explain_support import MODEL, SCHEMA, SYSTEM, lite_db, lite_template  # noqa: F401 - fixtures

from analytics import audit, business, explain, store
from analytics.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from analytics.explain import _attributions
from analytics.roles import Actor
from analytics.window import Window

ANALYST, REVIEWER = Actor("ana", "analyst"), Actor("rev", "reviewer")

V1 = Window(version="v1")


def _rows(db, n=200, version="v1"):
    return store.read(lambda con: con.execute(
        "SELECT * FROM predictions_credit_lite WHERE model_version = ? ORDER BY prediction_id LIMIT ?",
        [version, n]).df(), db)


def test_local_additivity_in_log_odds_and_probability(lite_template):
    model = explain.load_model(lite_template, MODEL, "v1")
    rows = _rows(lite_template, 25)
    for i in range(len(rows)):
        local = explain.explain_row(model, rows.iloc[[i]])
        raw = model.artifact.booster.predict(model.inputs(rows.iloc[[i]]), raw_score=True)[0]
        assert local.raw_output == pytest.approx(raw, abs=1e-12)
        assert local.additivity_error < 1e-9
        assert local.base_value + local.table["contribution"].sum() == pytest.approx(raw, abs=1e-9)
        assert local.reconstructed_score == pytest.approx(rows["score"].iloc[i], abs=1e-9)  # logged probability
        steps = local.waterfall(top=3)
        assert steps["end"].iloc[-1] == pytest.approx(raw, abs=1e-9)


def test_values_agree_with_shap_tree_explainer(lite_template):
    model = explain.load_model(lite_template, MODEL, "v1")
    rows = _rows(lite_template, 300)
    ours, base = explain.contributions(model, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.TreeExplainer(model.artifact.booster)
        theirs = explainer.shap_values(model.inputs(rows))
    np.testing.assert_allclose(ours.to_numpy(), np.asarray(theirs), atol=1e-12)
    assert base == pytest.approx(float(np.ravel(explainer.expected_value)[0]), abs=1e-12)
    glob = explain.importance_frame(ours).set_index("feature")
    np.testing.assert_allclose(glob.loc[model.features, "mean_abs"], np.abs(theirs).mean(axis=0), atol=1e-12)


def test_lightgbm_treeshap_equals_shaps_own_algorithm():
    """pred_contrib (what we use) gives the numbers of shap's own C++ TreeSHAP on numeric splits."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5))
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=2000) > 0).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 12, "seed": 1},
                        lgb.Dataset(x, label=y), num_boost_round=40)
    ours = booster.predict(x[:300], pred_contrib=True)
    explainer = shap.TreeExplainer(booster)
    explainer.model.model_type = "internal"  # shap's own tree traversal, not LightGBM's routine
    theirs = explainer.shap_values(x[:300], check_additivity=False)
    np.testing.assert_allclose(ours[:, :-1], np.asarray(theirs), atol=1e-6)


def test_global_sample_is_bounded_seeded_and_in_the_window(lite_template):
    rows = _rows(lite_template, 5000)
    start = rows["predicted_at"].quantile(0.5)
    a = explain.global_explanation(lite_template, MODEL, Window(start, version="v1"), sample_rows=300, seed=4)
    b = explain.global_explanation(lite_template, MODEL, Window(start, version="v1"), sample_rows=300, seed=4)
    c = explain.global_explanation(lite_template, MODEL, Window(start, version="v1"), sample_rows=300, seed=5)
    assert a.rows == 300 and a.window_rows == int((rows["predicted_at"] >= start).sum())
    assert a.inputs["prediction_id"].tolist() == b.inputs["prediction_id"].tolist()
    assert set(a.inputs["prediction_id"]) != set(c.inputs["prediction_id"])
    in_window = set(rows.loc[rows["predicted_at"] >= start, "prediction_id"])
    assert set(a.inputs["prediction_id"]) <= in_window
    assert a.importance["share"].sum() == pytest.approx(1.0)
    swarm = a.beeswarm(top=3)
    assert len(swarm) == 900 and swarm["value_rank"].between(0, 1).all()
    dep = a.dependence("late")
    np.testing.assert_allclose(dep["contribution"], a.values["late"])
    with pytest.raises(InvalidInputError):
        a.dependence("SEX")  # logged attribute, not an input


def _glob(values: dict[str, list[float]]) -> explain.GlobalExplanation:
    frame = pd.DataFrame(values)
    return explain.GlobalExplanation(explain.importance_frame(frame), frame, frame, 0.0, len(frame), len(frame), "x")


def test_attribution_drift_flags_a_feature_that_becomes_dominant():
    reference = _glob({"a": [3, -3, 3], "b": [1, -1, 1], "c": [0.5, 0.5, -0.5]})
    window = _glob({"a": [1, -1, 1], "b": [4, -4, 4], "c": [0.5, 0.5, -0.5]})
    drift = explain.attribution_drift(window, reference, threshold=0.1)
    flagged = drift.table.set_index("feature")["flagged"]
    assert drift.top_reference == "a" and drift.top_window == "b"
    assert flagged["b"] and not flagged["a"] and not flagged["c"]
    assert drift.spearman == pytest.approx(stats.spearmanr([3, 1, 0.5], [1, 4, 0.5]).statistic)
    same = explain.attribution_drift(reference, reference, threshold=0.1)
    assert not same.flagged and same.spearman == pytest.approx(1.0)


def test_window_against_reference_on_the_real_model(lite_template):
    compared = explain.drift_for(lite_template, MODEL, V1, sample_rows=1000)
    reference, drift = compared.reference, compared.drift
    assert reference.source == "reference" and reference.rows == 1000
    assert drift.top_reference == drift.top_window == "late"  # same process: no dominance change
    assert not drift.flagged


def test_logged_attributions_stand_in_for_a_model_that_cannot_be_loaded(lite_template):
    glob = explain.global_explanation(lite_template, MODEL, Window(version="v2"), sample_rows=100)
    assert glob.source == "logged" and glob.rows == 100
    logged = store.read(lambda con: con.execute(
        "SELECT prediction_id, feature, contribution FROM logged_attributions").df(), lite_template)
    wide = logged.pivot(index="prediction_id", columns="feature", values="contribution")
    expected = wide.loc[glob.inputs["prediction_id"]].abs().mean()
    got = glob.importance.set_index("feature")["mean_abs"]
    np.testing.assert_allclose(got[expected.index], expected, atol=1e-12)
    traced = explain.trace(lite_template, MODEL, "cs000007", actor=REVIEWER)
    assert traced.explanation.source == "logged" and traced.explanation.additivity_error < 1e-9
    assert traced.counterfactuals is None and "artifact" in traced.counterfactual_note


def test_no_artifact_and_no_logged_attributions_is_a_clear_error(lite_db):
    store.write(lambda con: con.execute("DROP TABLE logged_attributions"), lite_db)  # a store before migration 8
    with pytest.raises(NotFoundError, match="logged no attributions"):
        explain.global_explanation(lite_db, MODEL, Window(version="v2"), sample_rows=100)
    traced = explain.trace(lite_db, MODEL, "cs000007", actor=REVIEWER)
    assert traced.explanation is None and "no registered model artifact" in traced.explanation_note


def test_recording_attributions_needs_the_ingest_role_and_is_audited(lite_db):
    row = pd.DataFrame([{"prediction_id": "cl000001", "feature": "late", "contribution": 0.1, "base_value": -1.0}])
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: _attributions.record(con, ANALYST, MODEL, row), lite_db)
    with pytest.raises(InvalidInputError, match="not inputs"):
        store.write(lambda con: _attributions.record(con, SYSTEM, MODEL, row.assign(feature="SEX")), lite_db)
    with pytest.raises(InvalidInputError, match="not in the log"):
        store.write(lambda con: _attributions.record(con, SYSTEM, MODEL, row.assign(prediction_id="nope")), lite_db)
    assert store.write(lambda con: _attributions.record(con, SYSTEM, MODEL, row), lite_db) == 1
    entries = store.read(lambda con: audit.entries(con, object_type="model"), lite_db)
    assert entries["action"].iloc[0] == "attributions.ingest"


def test_tampered_artifact_is_refused(lite_db):
    explain.load_model(lite_db, MODEL, "v1")  # loads (and is cached) while intact
    artifact = explain.resolve_artifact(explain.version_info(lite_db, MODEL, "v1"), lite_db)
    assert artifact.is_relative_to(lite_db.parent)  # the private copy's artifact, not the template's
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01  # one changed bit
    artifact.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="sha256"):
        explain.load_model(lite_db, MODEL, "v1")
    with pytest.raises(InvalidInputError, match="sha256"):
        explain.global_explanation(lite_db, MODEL, V1, sample_rows=100)
    traced = explain.trace(lite_db, MODEL, "cl000001", actor=REVIEWER)
    assert traced.explanation is None and "sha256" in traced.explanation_note


def test_artifact_found_beside_a_moved_store(lite_db):
    info = explain.version_info(lite_db, MODEL, "v1")
    assert not str(info.artifact_path).startswith(str(lite_db.parent))  # registered in the template's folder
    assert explain.resolve_artifact(info, lite_db) == lite_db.parent / "artifacts" / "models" / MODEL / "v1.txt"


def test_trace_masks_sensitive_values_for_roles_without_the_right(lite_template):
    rejected = explain.find_predictions(lite_template, MODEL, version="v1", decision=1, labelled=True, limit=1)
    pid = rejected["prediction_id"].iloc[0]
    open_view = explain.trace(lite_template, MODEL, pid, actor=REVIEWER)
    masked = explain.trace(lite_template, MODEL, pid, actor=ANALYST)
    sensitive = {c.name for c in SCHEMA.sensitive}
    raw_values = open_view.inputs.set_index("column")["value"]
    hidden = masked.inputs.set_index("column")["value"]
    assert all(hidden[c] == "•••" for c in sensitive) and all(raw_values[c] != "•••" for c in sensitive)
    assert hidden["income"] == raw_values["income"]
    table = masked.explanation.table.set_index("feature")
    assert (table.loc[["AGE", "EDUCATION", "MARRIAGE"], "value"] == "•••").all()
    assert not open_view.masked and masked.masked
    changes = masked.counterfactuals.changes
    assert (changes.loc[changes["feature"].isin(sensitive), ["before", "after"]] == "•••").all().all()
    record = open_view.record
    assert record["decision"] == 1 and record["threshold"] == 0.5 and record["label"] in (0, 1)
    assert record["rescored_score"] == pytest.approx(record["score"], abs=1e-12)
    assert set(open_view.audit["object_id"]) == {f"{MODEL}:v1"}
    assert {"version.register", "version.reference"} <= set(open_view.audit["action"])


def _newest_from_the_log(db, *, version=None, start=None, end=None, decision=None, score_max=None, labelled=None,
                         limit=100):
    """The plain query: the whole window joined with its outcomes, newest first."""
    where, params = ["TRUE"], []
    for clause, value in (("p.model_version = ?", version), ("p.predicted_at >= ?", start), ("p.predicted_at < ?", end),
                          ("p.decision = ?", decision), ("p.score <= ?", score_max)):
        if value is not None:
            where.append(clause)
            params.append(value)
    if labelled is not None:
        where.append("o.label IS NOT NULL" if labelled else "o.label IS NULL")
    return store.read(lambda con: con.execute(
        "SELECT p.prediction_id, p.predicted_at, p.model_version, p.deployment_role, p.score, p.decision, "
        "p.latency_ms, o.label FROM predictions_credit_lite p LEFT JOIN outcomes_credit_lite o USING (prediction_id) "
        f"WHERE {' AND '.join(where)} ORDER BY p.predicted_at DESC, p.prediction_id LIMIT ?", [*params, limit]).df(), db)


def test_find_predictions_reads_the_newest_hours_the_same_rows_as_the_whole_window(lite_db):
    end = store.read(lambda con: con.execute("SELECT max(predicted_at) FROM predictions_credit_lite").fetchone()[0],
                     lite_db) - pd.Timedelta(days=3, minutes=17)  # mid-hour, rows after it
    start = end - pd.Timedelta(days=20)
    cases = [dict(version="v1", start=start, end=end, decision=1, limit=50),
             dict(start=start, end=end, limit=200), dict(limit=500), dict(version="v2", limit=40),
             dict(version="v1", start=start, end=end, decision=0, score_max=0.3, limit=50),  # fewer: whole window
             dict(version="v1", end=end, labelled=True, limit=30), dict(start=start, labelled=False, limit=100),
             dict(version="v1", start=end - pd.Timedelta(hours=5), end=end, limit=500)]  # fewer than the limit

    def newest():
        return store.read(lambda con: business.newest_hours(con, MODEL, 50, version="v1", decision=1, start=start,
                                                            end=end), lite_db)

    assert newest() is None  # no serving summary yet: the whole window is read
    for summarised in (False, True):
        if summarised:
            business.refresh_summaries(lite_db, MODEL)
            # The serving summary names where the window's newest 50 declined v1 predictions start: only those
            # hours of the log are read.
            assert start < newest() < end
        for case in cases:
            found = explain.find_predictions(lite_db, MODEL, **case)
            expected = _newest_from_the_log(lite_db, **case)
            pd.testing.assert_frame_equal(found, expected, check_dtype=False)
            assert 0 < len(found) <= case["limit"]


def test_find_predictions_filters(lite_template):
    found = explain.find_predictions(lite_template, MODEL, decision=0, score_max=0.3, version="v1", limit=50)
    assert len(found) == 50 and (found["decision"] == 0).all() and (found["score"] <= 0.3).all()
    assert found["predicted_at"].is_monotonic_decreasing
    one = explain.find_predictions(lite_template, MODEL, prediction_id="cl000042")
    assert one["prediction_id"].tolist() == ["cl000042"]
    assert explain.find_predictions(lite_template, MODEL, labelled=False, limit=500)["label"].isna().all()
