"""The explanation sample kept per version and UTC day (summary ``explain``): same rows, same numbers as the log.

The readers draw a window's sample from the kept rows of the days the store has summarised and from the
log for the others. Each test compares with the same reader on the same store with nothing kept
(``explain.kept_rows_per_day = 0``: every row from the log), on windows the kept rows answer alone, windows
that need some days from the log (few rows kept per day, a short window, a partial day, a segment), and
a day not summarised yet.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shap

from shared_build import law_support
from explain_support import MODEL, SYSTEM, lite_db, lite_template  # noqa: F401 - fixtures

from analytics import explain, ingest, settings, store, summaries
from analytics.window import Window

V1 = Window(version="v1")


def _set(db: Path, key: str, value, model: str = MODEL) -> None:
    store.write(lambda con: settings.set_value(con, SYSTEM, key, value, model=model), db)


def _refresh(db: Path, model: str = MODEL) -> dict:
    return summaries.refresh_store(db, model, names=(explain.EXPLAIN_SAMPLE.name,)).of(model)


def _from_log(db: Path, read, model: str = MODEL):
    """``read()`` with nothing kept (every row from the log), then the kept rows restored as they were."""
    before = store.read(lambda con: settings.get(con, explain.KEPT_ROWS.key, model=model), db)
    _set(db, explain.KEPT_ROWS.key, 0, model)
    try:
        return read()
    finally:
        _set(db, explain.KEPT_ROWS.key, before, model)


def _same_explanation(kept: explain.GlobalExplanation, logged: explain.GlobalExplanation) -> None:
    assert not logged.kept and kept.kept
    assert kept.rows == logged.rows and kept.window_rows == logged.window_rows
    assert kept.inputs["prediction_id"].tolist() == logged.inputs["prediction_id"].tolist()  # the same rows
    pd.testing.assert_frame_equal(kept.inputs, logged.inputs)
    np.testing.assert_allclose(kept.values.to_numpy(), logged.values.to_numpy(), rtol=0, atol=1e-12)
    assert kept.base_value == pytest.approx(logged.base_value, abs=1e-12)
    pd.testing.assert_frame_equal(kept.importance, logged.importance, rtol=0, atol=1e-12)


def _bounds(db: Path) -> tuple[datetime, datetime]:
    return store.read(lambda con: con.execute(
        "SELECT min(predicted_at), max(predicted_at) FROM predictions_credit_lite WHERE model_version = 'v1'"
    ).fetchone(), db)


def test_kept_rows_give_the_logs_sample_and_shap_values(lite_db, monkeypatch):
    _set(lite_db, explain.KEPT_ROWS.key, 30)  # ~100 predictions a day: most days keep a third of their rows
    days = store.read(lambda con: con.execute("SELECT count(DISTINCT CAST(predicted_at AS DATE)) "
                                              "FROM predictions_credit_lite WHERE model_version = 'v1'").fetchone()[0],
                      lite_db)
    assert days in (40, 41)  # 40 days of traffic up to the hour the store was built: 40 UTC days only at 00:xx
    assert _refresh(lite_db) == {"explain": days}
    first, last = _bounds(lite_db)
    middle = first + (last - first) / 2
    windows = {
        "all time": (V1, 300),  # ~8 rows a day needed: the kept rows answer alone
        "three days from mid-day": (Window(middle, middle + timedelta(days=3),
                                           version="v1"), 250),  # more than kept: those days from the log
        "one region": (Window(version="v1", segment="region", segment_value="north"), 200),
    }
    explained = []
    real = explain.LoadedModel.contributions
    monkeypatch.setattr(explain.LoadedModel, "contributions",
                        lambda self, frame: explained.append(len(frame)) or real(self, frame))
    for name, (window, n) in windows.items():
        explained.clear()
        kept = explain.global_explanation(lite_db, MODEL, window, sample_rows=n)
        computed_now = list(explained)
        logged = _from_log(lite_db, lambda: explain.global_explanation(lite_db, MODEL, window, sample_rows=n))
        _same_explanation(kept, logged)
        if name == "three days from mid-day":
            assert len(kept.log_days) == 4 and sum(computed_now) == kept.rows  # the short days come from the log
            assert "4 day(s) of the window" in kept.summary_note
        else:
            assert kept.log_days == () and computed_now == []  # no SHAP computed: all kept
            assert "the same rows as from the log" in kept.summary_note


def test_rows_kept_without_shap_values_are_explained_when_read(lite_db, monkeypatch):
    _set(lite_db, explain.KEPT_ROWS.key, 30)
    _set(lite_db, explain.KEPT_SHAP_ROWS.key, 3)  # the all-time window needs ~8 rows a day: ~5 explained when read
    _refresh(lite_db)
    explained = []
    real = explain.LoadedModel.contributions
    monkeypatch.setattr(explain.LoadedModel, "contributions",
                        lambda self, frame: explained.append(len(frame)) or real(self, frame))
    kept = explain.global_explanation(lite_db, MODEL, V1, sample_rows=300)
    assert kept.log_days == () and len(explained) == 1 and 0 < explained[0] < 300
    _same_explanation(kept, _from_log(lite_db, lambda: explain.global_explanation(lite_db, MODEL, V1, sample_rows=300)))


def test_kept_values_are_shaps_own(lite_db):
    _refresh(lite_db)
    kept = explain.global_explanation(lite_db, MODEL, V1, sample_rows=400)
    assert kept.kept and kept.log_days == ()
    model = explain.load_model(lite_db, MODEL, "v1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.TreeExplainer(model.artifact.booster)
        theirs = explainer.shap_values(kept.inputs[model.features])
    np.testing.assert_allclose(kept.values[model.features].to_numpy(), np.asarray(theirs), atol=1e-12)
    assert kept.base_value == pytest.approx(float(np.ravel(explainer.expected_value)[0]), abs=1e-12)


def test_reference_shap_is_kept_once_per_version(lite_db, monkeypatch):
    _refresh(lite_db)
    explained = []
    real = explain.LoadedModel.contributions
    monkeypatch.setattr(explain.LoadedModel, "contributions",
                        lambda self, frame: explained.append(len(frame)) or real(self, frame))
    kept = explain.reference_explanation(lite_db, MODEL, "v1")
    assert explained == []  # read, not computed
    logged = _from_log(lite_db, lambda: explain.reference_explanation(lite_db, MODEL, "v1"))
    assert explained == [1500]
    pd.testing.assert_frame_equal(kept.inputs, logged.inputs)
    np.testing.assert_allclose(kept.values.to_numpy(), logged.values.to_numpy(), rtol=0, atol=1e-12)
    smaller = explain.reference_explanation(lite_db, MODEL, "v1", sample_rows=500)  # another sample: computed
    assert smaller.rows == 500 and explained == [1500, 500]


def test_error_analysis_on_kept_rows_is_the_joins(lite_db):
    _set(lite_db, explain.KEPT_ROWS.key, 60)
    _refresh(lite_db)
    for window, n in ((V1, 1500), (V1, 3000)):  # 3,000 of ~3,000 labelled: most days from the log
        kept = explain.error_analysis(lite_db, MODEL, window, depth=3, seed=0, sample_rows=n)
        logged = _from_log(lite_db, lambda: explain.error_analysis(lite_db, MODEL, window, depth=3, seed=0,
                                                                   sample_rows=n))
        assert kept.kept and not logged.kept
        pd.testing.assert_frame_equal(kept.assignments, logged.assignments)
        pd.testing.assert_frame_equal(kept.leaves, logged.leaves)
        assert kept.error_rate == logged.error_rate and kept.labelled_rows == logged.labelled_rows
    assert kept.log_days  # the second asked for more than the kept rows hold


def test_error_analysis_from_mid_day_samples_the_join_without_a_bound_on_observed_at(lite_db):
    # Both readers skip outcomes observed before the window's start (the ingest refuses an outcome observed before
    # its prediction): the sample is the first labelled rows of the plain join of the window with every outcome.
    _set(lite_db, explain.KEPT_ROWS.key, 30)
    _refresh(lite_db)
    first, last = _bounds(lite_db)
    start = first + (last - first) / 2 + timedelta(hours=7, minutes=13)
    window, n = Window(start, start + timedelta(days=12), version="v1"), 400
    joined = store.read(lambda con: con.execute(
        "SELECT p.prediction_id FROM predictions_credit_lite p JOIN outcomes_credit_lite o USING (prediction_id) "
        "WHERE p.model_version = 'v1' AND p.predicted_at >= ? AND p.predicted_at < ? AND o.label IS NOT NULL "
        "ORDER BY hash(p.prediction_id, 0), p.prediction_id LIMIT ?", [window.start, window.end, n]).df(), lite_db)
    assert len(joined) == n
    kept = explain.error_analysis(lite_db, MODEL, window, depth=3, seed=0, sample_rows=n)
    logged = _from_log(lite_db, lambda: explain.error_analysis(lite_db, MODEL, window, depth=3, seed=0, sample_rows=n))
    assert kept.kept and kept.log_days and not logged.kept  # some days kept, the partial first day from the log
    for result in (kept, logged):
        assert result.assignments["prediction_id"].tolist() == joined["prediction_id"].tolist()


def test_outcomes_arriving_after_an_error_analysis_are_in_the_next(lite_db):
    # The labels of the kept rows are kept in the process while the store's data is unchanged: an outcome ingest
    # changes it, and the next error analysis samples the new labels too.
    _refresh(lite_db)
    before = explain.error_analysis(lite_db, MODEL, V1, depth=3, seed=0, sample_rows=50_000)
    unlabelled = store.read(lambda con: con.execute(
        "SELECT p.prediction_id, p.predicted_at FROM predictions_credit_lite p JOIN explain_sample s USING (prediction_id) "
        "WHERE p.model_version = 'v1' AND p.prediction_id NOT IN (SELECT prediction_id FROM outcomes_credit_lite) "
        "ORDER BY p.prediction_id LIMIT 40").df(), lite_db)
    assert len(unlabelled) == 40
    ingest.ingest(MODEL, pd.DataFrame({"prediction_id": unlabelled["prediction_id"], "observed_at": unlabelled["predicted_at"],
                                       "label": 1, "business_value": 0.0}), kind="outcomes", actor=SYSTEM, db=lite_db)
    after = explain.error_analysis(lite_db, MODEL, V1, depth=3, seed=0, sample_rows=50_000)
    logged = _from_log(lite_db, lambda: explain.error_analysis(lite_db, MODEL, V1, depth=3, seed=0, sample_rows=50_000))
    assert after.kept and after.labelled_rows == before.labelled_rows + 40
    pd.testing.assert_frame_equal(after.assignments, logged.assignments)


def test_a_day_not_summarised_is_read_from_the_log_and_said(lite_db):
    _refresh(lite_db)
    first, _ = _bounds(lite_db)
    day = (first + timedelta(days=5)).date()
    store.write(lambda con: con.execute("DELETE FROM summary_ledger WHERE summary = 'explain' AND day = ?", [day]),
                lite_db)  # as if the day had just been ingested
    kept = explain.global_explanation(lite_db, MODEL, V1, sample_rows=1000)
    assert kept.log_days == (day,) and "not summarised yet" in kept.summary_note
    logged = _from_log(lite_db, lambda: explain.global_explanation(lite_db, MODEL, V1, sample_rows=1000))
    _same_explanation(kept, logged)
    other_seed = explain.global_explanation(lite_db, MODEL, V1, sample_rows=100, seed=3)
    assert not other_seed.kept and "Sampled from the log" in other_seed.summary_note
    assert _refresh(lite_db) == {"explain": 1}  # the refresh builds only that day


_law = law_support("law_support_explain")
law_files = _law.law_files  # the fixture: the example's files, written once per test run


def test_the_law_school_model_declared_from_its_spec_keeps_its_sample_at_ingest(law_files, tmp_path_factory):
    """Onboarded with the command line only: the ingest's refresh kept the champion's days; the readers give the
    log's numbers, with a handful of rows kept per day (so that most windows need some days from the log)."""
    db, _ = _law.law_store_copy(tmp_path_factory, law_files)
    law = _law.MODEL
    kept_days = store.read(lambda con: con.execute(
        "SELECT count(*) FROM summary_ledger WHERE summary = 'explain' AND model_name = ? AND scope = 'v1'",
        [law]).fetchone()[0], db)
    assert kept_days > 80  # built by 'vigil ingest' (90 days of traffic)
    _set(db, explain.KEPT_ROWS.key, 8, model=law)
    assert _refresh(db, law)["explain"] == kept_days
    windows = ((V1, 400), (Window(_law.END - timedelta(days=85), _law.END - timedelta(days=55), version="v1"), 300))

    def read():
        return ([explain.global_explanation(db, law, w, sample_rows=n) for w, n in windows],
                [explain.error_analysis(db, law, w, depth=2, sample_rows=n) for w, n in windows],
                explain.reference_explanation(db, law, "v1"))

    (shap_kept, errors_kept, reference), (shap_log, errors_log, reference_log) = read(), _from_log(db, read, model=law)
    for kept, logged in zip(shap_kept, shap_log):
        _same_explanation(kept, logged)
    for kept, logged in zip(errors_kept, errors_log):
        assert kept.kept and not logged.kept
        pd.testing.assert_frame_equal(kept.assignments, logged.assignments)
        pd.testing.assert_frame_equal(kept.leaves, logged.leaves)
    assert shap_kept[1].log_days  # 300 of ~500 rows in 30 days: more than 8 a day
    np.testing.assert_allclose(reference.values.to_numpy(), reference_log.values.to_numpy(), rtol=0, atol=1e-12)
