"""Performance metrics pinned to scikit-learn; CBPE pinned to its definition; the demo's concept drift found.

The metrics are read from the performance summary (score cells per UTC day, kept by the demo build's
refresh): counts, accuracy, precision, recall and F1 exactly as scikit-learn, Brier score and log loss
up to the order of summation, ROC AUC within the bound each result states (``roc_auc_bound``, half the
share of positive-negative pairs sharing one of 2,000 score bins: below 1e-3 here).
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression

from analytics import performance, store
from analytics.demo import _credit as credit
from analytics.performance._sampling import from_reference
from analytics.window import Window

MODEL = "credit-default"


@pytest.fixture(scope="module")
def demo(demo_store):
    return demo_store, demo_store.end - timedelta(days=credit.DAYS)


def _labelled(db, a, b, version="v1"):
    store.release(db)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(db), read_only=True)
    store.bind_store_folder(con)
    try:
        return con.execute(
            "SELECT p.predicted_at, p.score, p.region, o.label FROM predictions_credit_default p "
            "JOIN outcomes_credit_default o USING (prediction_id) WHERE p.model_version = ? AND p.predicted_at >= ? "
            "AND p.predicted_at < ?", [version, a, b]).df()
    finally:
        con.close()


def _assert_metrics(row, frame: pd.DataFrame, where, bound: float = 1e-3) -> None:
    """Every metric of a result row against scikit-learn on the same rows: ROC AUC within the stated bound
    (itself at most ``bound``: about half the bin width, 1 / 4,000 for all rows, 1 / 400 per segment value)."""
    for metric, value in _sklearn(frame).items():
        if metric == "roc_auc":
            assert 0 <= row["roc_auc_bound"] <= bound, where
            assert abs(row[metric] - value) <= row["roc_auc_bound"] + 1e-12, (where, metric)  # equal at worst
        else:
            assert row[metric] == pytest.approx(value, rel=1e-9), (where, metric)


def _sklearn(frame: pd.DataFrame, threshold: float = 0.5) -> dict[str, float]:
    y, s = frame["label"].to_numpy(int), frame["score"].to_numpy(float)
    d = (s >= threshold).astype(int)
    return {"roc_auc": metrics.roc_auc_score(y, s), "accuracy": metrics.accuracy_score(y, d),
            "precision": metrics.precision_score(y, d, zero_division=0), "recall": metrics.recall_score(y, d),
            "f1": metrics.f1_score(y, d), "brier": metrics.brier_score_loss(y, s),
            "log_loss": metrics.log_loss(y, s, labels=[0, 1])}


def test_realised_metrics_match_sklearn(demo):
    summary, start = demo
    a, b = start + timedelta(days=100), start + timedelta(days=140)
    got = performance.realised_metrics(summary.db, MODEL, window=Window(start=a, end=b), freq=None)
    rows = _labelled(summary.db, a, b)
    assert got.attrs[performance.UNSUMMARISED] == ()  # whole days, every one summarised by the demo build
    assert len(got) == 1 and got.loc[0, "labelled"] == len(rows)
    _assert_metrics(got.loc[0], rows, "window")
    y, s = rows["label"].to_numpy(int), rows["score"].to_numpy(float)
    for metric in ("accuracy", "precision", "recall", "f1"):  # exact: ratios of the same confusion counts
        assert got.loc[0, metric] == getattr(metrics, f"{metric}_score")(y, (s >= 0.5).astype(int)), metric
    assert 0 < got.loc[0, "labelled_share"] <= 1
    validation = performance.validation_metrics(summary.db, MODEL)
    assert got.loc[0, "roc_auc_change"] == pytest.approx(got.loc[0, "roc_auc"] - validation["roc_auc"])


def test_metrics_per_week_and_segment_match_sklearn(demo):
    summary, start = demo
    a, b = start + timedelta(days=7), start + timedelta(days=35)
    got = performance.realised_metrics(summary.db, MODEL, window=Window(start=a, end=b), freq="week", by="region")
    rows = _labelled(summary.db, a, b)
    rows["period"] = rows["predicted_at"].dt.to_period("W-SUN").dt.start_time
    checked = 0
    for (period, region), part in rows.groupby(["period", "region"]):
        row = got[(got["period"] == period) & (got["group"] == region)].iloc[0]
        _assert_metrics(row, part, (period, region), bound=1e-2)
        checked += 1
    assert checked == len(got) >= 10


def test_calibration_curve_matches_sklearn(demo):
    summary, start = demo
    a, b = start, start + timedelta(days=60)
    got = performance.calibration_curve(summary.db, MODEL, window=Window(start=a, end=b))
    rows = _labelled(summary.db, a, b)
    prob_true, prob_pred = calibration_curve(rows["label"], rows["score"], n_bins=10)
    np.testing.assert_allclose(got["fraction_positive"], prob_true, rtol=1e-9)
    np.testing.assert_allclose(got["mean_predicted"], prob_pred, rtol=1e-9)
    assert got["rows"].sum() == len(rows)


def test_cbpe_is_nannyml_cbpe_on_the_isotonic_calibration(demo):
    """Expected confusion matrix and expected AUC pinned to numpy/sklearn on the same rows, within 1e-3: the
    calibration is applied to each score cell's mean score (exact where it is linear across the cell)."""
    summary, start = demo
    a, b = start + timedelta(days=150), start + timedelta(days=180)   # no labels yet
    result = performance.cbpe(summary.db, MODEL, window=Window(start=a, end=b), freq=None)
    got = result.table
    store.release(summary.db)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(summary.db), read_only=True)
    store.bind_store_folder(con)
    try:
        ref = con.execute("SELECT score, label FROM reference_credit_default WHERE model_version = 'v1'").df()
        cur = con.execute("SELECT score FROM predictions_credit_default WHERE model_version = 'v1' AND "
                          "predicted_at >= ? AND predicted_at < ?", [a, b]).df()
    finally:
        con.close()
    assert result.calibrated == performance.needs_calibration(ref["label"].to_numpy(), ref["score"].to_numpy())
    p = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(ref["score"], ref["label"]).predict(
        cur["score"]) if result.calibrated else cur["score"].to_numpy()
    d = (cur["score"].to_numpy() >= 0.5).astype(float)
    tp, fp, fn, tn = (p * d).sum(), ((1 - p) * d).sum(), (p * (1 - d)).sum(), ((1 - p) * (1 - d)).sum()
    row = got.iloc[0]
    assert row["labelled"] == 0 and np.isnan(row["roc_auc"])
    assert row["est_accuracy"] == pytest.approx((tp + tn) / len(p), abs=1e-3)
    assert row["est_precision"] == pytest.approx(tp / (tp + fp), abs=1e-3)
    assert row["est_recall"] == pytest.approx(tp / (tp + fn), abs=1e-3)
    assert row["est_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-3)
    s = cur["score"].to_numpy()
    expected_auc = metrics.roc_auc_score(np.r_[np.ones(len(s)), np.zeros(len(s))], np.r_[s, s],
                                         sample_weight=np.r_[p, 1 - p])
    assert row["est_roc_auc"] == pytest.approx(expected_auc, abs=1e-3)


def test_cbpe_tracks_realised_before_the_concept_shift_and_misses_it_after(demo):
    summary, start = demo
    got = performance.cbpe(summary.db, MODEL, window=Window(start=start, end=start + timedelta(days=150)),
                           freq="week").table
    before = got[(got["period"] < pd.Timestamp(start + timedelta(days=112))) & (got["labelled"] > 500)]
    assert before["err_roc_auc"].abs().max() < 0.05
    after = got[(got["period"] >= pd.Timestamp(start + timedelta(days=126))) & (got["labelled"] > 300)]
    assert (after["err_roc_auc"] > 0.1).all()  # CBPE assumes no concept drift: it cannot see this one


def test_concept_drift_found_and_covariate_episode_told_apart(demo):
    summary, start = demo
    frame = performance.concept_drift(summary.db, MODEL, window=Window(start=start, end=summary.end), freq="week")
    days = (frame["period"] - pd.Timestamp(start)).dt.days
    concept = frame[frame["verdict"] == "concept drift"]
    assert len(concept) >= 3
    assert ((concept["period"] - pd.Timestamp(start)).dt.days >= 113).all()   # the week holding day 120 on
    covariate = frame[days.between(63, 84)]          # weeks wholly inside days 60-89
    assert (covariate["verdict"] == "covariate drift").all()
    assert covariate["drifted_inputs"].str.contains("AGE").all()
    assert covariate["drifted_inputs"].str.contains("channel").all()
    quiet = frame[days.between(0, 49)]
    assert (quiet["verdict"] == "stable").all()


def test_page_hinkley_dates_the_concept_shift(demo):
    summary, start = demo
    found = performance.change_points(summary.db, MODEL, window=Window(start=start, end=summary.end))
    began = (found["began_at"] - pd.Timestamp(start)).days
    assert 118 <= began <= 123
    assert (found["alarm_at"] - found["began_at"]).days <= 7
    # the test itself
    values = np.r_[np.full(30, 0.1), np.full(10, 0.3)]
    alarm, start_index = performance.page_hinkley(values, delta=0.01, threshold=0.1)
    assert start_index == 30 and alarm == 30
    assert performance.page_hinkley(np.full(50, 0.1), delta=0.01, threshold=0.1) == (None, None)


def test_error_stream_matches_sklearn_per_day(demo):
    """The daily error stream (counted without the ROC AUC) against scikit-learn on each day's labelled rows:
    labelled rows exactly, Brier score up to the order of summation, error rate exactly."""
    summary, start = demo
    a, b = start + timedelta(days=100, hours=7), start + timedelta(days=112)
    got = performance.error_stream(summary.db, MODEL, window=Window(start=a, end=b))
    rows = _labelled(summary.db, a, b)
    rows["period"] = rows["predicted_at"].dt.floor("D")
    assert list(got["period"]) == sorted(rows["period"].unique()) and len(got) == 12
    for (period, part), (_, row) in zip(rows.groupby("period"), got.iterrows()):
        y, s = part["label"].to_numpy(int), part["score"].to_numpy(float)
        assert row["period"] == period and row["labelled"] == len(part)
        assert row["brier"] == pytest.approx(metrics.brier_score_loss(y, s), rel=1e-9)
        assert row["error_rate"] == 1 - metrics.accuracy_score(y, (s >= 0.5).astype(int))


def test_reference_fits_are_kept_per_reference(demo, tmp_path):
    """A fit on a version's reference is computed once per reference in a process, and again for a store with
    other reference data, even at the same path."""
    summary, _ = demo
    calls = []

    def mean_score(labels, scores, decisions):
        calls.append(len(scores))
        return float(scores.mean())

    def fitted(db):
        return store.read(lambda con: from_reference(con, MODEL, "v1", "test: mean score", mean_score), db)

    copy = store.copy_store(summary.db, tmp_path / "store")
    assert fitted(copy) == fitted(copy) and len(calls) == 1
    store.write(lambda con: con.execute("DELETE FROM reference_credit_default WHERE model_version = 'v1' "
                                        "AND rowid % 2 = 0"), copy)
    left = store.read(lambda con: con.execute("SELECT score FROM reference_credit_default WHERE model_version = 'v1'")
                      .fetchnumpy()["score"], copy)
    assert fitted(copy) == pytest.approx(np.mean(left), rel=1e-12) and calls == [calls[0], len(left)]


def test_concept_drift_found_in_a_segment(demo):
    """region = Kaohsiung (~270 rows a week): the segment's rows against the reference rows of Kaohsiung."""
    summary, start = demo
    frame = performance.concept_drift(summary.db, MODEL, window=Window(start=start, end=summary.end, segment="region",
                                                                       segment_value="Kaohsiung"), freq="week")
    days = (frame["period"] - pd.Timestamp(start)).dt.days
    concept = frame[frame["verdict"] == "concept drift"]
    assert len(concept) >= 1 and ((concept["period"] - pd.Timestamp(start)).dt.days >= 113).all()
    assert (frame.loc[days.between(0, 49), "verdict"] == "stable").all()
    assert (frame.loc[days.between(63, 84), "verdict"] == "covariate drift").all()
    assert not frame["drifted_inputs"].str.contains("region").any()


@pytest.mark.parametrize("segment", [None, ("region", "Kaohsiung")])
def test_window_performance_is_the_five_results_from_one_read(demo, segment):
    """One read of the window's cells (with partial edge days from the log) gives what the five functions give,
    which the tests above pin to scikit-learn; up to the order of summation (DuckDB's parallel sums)."""
    summary, start = demo
    name, value = segment or (None, None)
    window = Window(start=start + timedelta(days=100, hours=7), end=summary.end - timedelta(hours=5),
                    segment=name, segment_value=value)
    got = performance.window_performance(summary.db, MODEL, window=window, freq="week")
    assert got.problem is None

    def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
        assert a.attrs == b.attrs

    same(got.whole, performance.realised_metrics(summary.db, MODEL, window=window, freq=None))
    same(got.calibration, performance.calibration_curve(summary.db, MODEL, window=window))
    points = performance.change_points(summary.db, MODEL, window=window)
    same(got.change_points["stream"], points.pop("stream"))
    assert {k: v for k, v in got.change_points.items() if k != "stream"} == points
    cbpe = performance.cbpe(summary.db, MODEL, window=window, freq="week")
    same(got.cbpe.table, cbpe.table)
    assert (got.cbpe.thresholds, got.cbpe.calibrated, got.cbpe.unsummarised_days) == \
        (cbpe.thresholds, cbpe.calibrated, cbpe.unsummarised_days)
    same(got.verdicts, performance.concept_drift(summary.db, MODEL, window=window, freq="week"))


def test_window_performance_of_a_window_without_predictions(demo):
    """Nothing to estimate or judge: CBPE and the verdicts are None, with the reason; the rest is empty."""
    summary, start = demo
    got = performance.window_performance(summary.db, MODEL, window=Window(start=start - timedelta(days=30, hours=5),
                                                                         end=start - timedelta(days=2, hours=3)))
    assert (got.cbpe, got.verdicts, got.problem) == (None, None, "no predictions in this window")
    assert int(got.whole["rows"].sum()) == 0 and got.calibration.empty
    assert got.change_points["alarm_at"] is None
