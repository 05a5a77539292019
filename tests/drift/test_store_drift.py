"""Drift of the demo store's windows: pinned to scipy on the same rows, over time, multivariate, the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from analytics import drift, settings
from analytics import store
from analytics.cli import main as vigil
from analytics.demo import _credit as credit
from analytics.roles import Actor
from analytics.window import Window

MODEL = "credit-default"
ADMIN = Actor("cli:tests", "system")


@pytest.fixture(scope="module")
def demo(demo_store):
    start = demo_store.end - timedelta(days=credit.DAYS)
    return demo_store, start


def _rows(db, sql, params=()):
    store.release(db)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(db), read_only=True)
    store.bind_store_folder(con)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def _day(start, n):
    return start + timedelta(days=n)


def test_summary_matches_scipy_on_the_demo(demo):
    summary, start = demo
    a, b = _day(start, 60), _day(start, 90)
    result = drift.drift_summary(summary.db, MODEL, window=Window(start=a, end=b))
    ref = _rows(summary.db, "SELECT * FROM reference_credit_default WHERE model_version = 'v1'")
    cur = _rows(summary.db, "SELECT * FROM predictions_credit_default WHERE model_version = 'v1' "
                            "AND predicted_at >= ? AND predicted_at < ?", [a, b])
    table = result.table.set_index("column")
    assert result.n_reference_rows == len(ref) == 3000 and result.n_current_rows == len(cur)
    for column in ("AGE", "LIMIT_BAL", "score", "BILL_AMT1"):
        row = table.loc[column]
        assert row["method"] == "wasserstein"  # 3,000 reference rows > 1,000: Evidently's rule
        expected = stats.wasserstein_distance(ref[column], cur[column]) / np.std(ref[column])
        if column in ("AGE", "LIMIT_BAL"):  # one value per fine bin: exact
            assert row["tolerance"] == 0 and row["statistic"] == pytest.approx(expected, rel=1e-9)
        else:  # continuous: within the stated bound, and far closer in practice
            assert row["tolerance"] < 0.05 and abs(row["statistic"] - expected) <= row["tolerance"]
            assert row["statistic"] == pytest.approx(expected, abs=2e-3)
    counts = pd.concat([ref["channel"].value_counts(), cur["channel"].value_counts()], axis=1).fillna(0)
    assert table.loc["channel", "method"] == "jensenshannon"
    assert table.loc["channel", "statistic"] == pytest.approx(
        jensenshannon(counts.iloc[:, 0] / counts.iloc[:, 0].sum(), counts.iloc[:, 1] / counts.iloc[:, 1].sum()),
        rel=1e-9)
    # the covariate episode: AGE, LIMIT_BAL and channel drift
    assert {"AGE", "LIMIT_BAL", "channel"} <= set(result.drifted_columns)
    # KS on the store, forced: the same as ks_2samp on the same rows
    ks = drift.drift_summary(summary.db, MODEL, window=Window(start=a, end=b), columns=("AGE",),
                             method="ks").table.iloc[0]
    expected = stats.ks_2samp(ref["AGE"], cur["AGE"])
    assert ks["statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert ks["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)


def test_a_quiet_window_has_no_input_drift(demo):
    summary, start = demo
    result = drift.drift_summary(summary.db, MODEL, window=Window(start=_day(start, 10), end=_day(start, 40)))
    inputs = result.table[result.table["role"].isin(["feature", "segment"])]
    assert not inputs["drifted"].eq(True).any(), inputs[inputs["drifted"].eq(True)]


def test_baseline_window_segment_and_settings(demo, tmp_path):
    summary, start = demo
    window = Window(start=_day(start, 60), end=_day(start, 90), segment="region", segment_value="Taipei")
    result = drift.drift_summary(summary.db, MODEL, window=window, baseline=window.between(_day(start, 20), _day(start, 50)),
                                 columns=("AGE",))
    ref = _rows(summary.db, "SELECT AGE FROM predictions_credit_default WHERE model_version = 'v1' AND region = "
                            "'Taipei' AND predicted_at >= ? AND predicted_at < ?", [_day(start, 20), _day(start, 50)])
    assert result.table.iloc[0]["n_reference"] == len(ref)
    assert "Taipei" in result.current_label
    # a threshold changed by an admin is used (copy the store: the demo is shared)
    db = store.copy_store(summary.db, tmp_path / "copy")
    store.write(lambda con: settings.set_value(con, ADMIN, "drift.wasserstein_threshold", 5.0, model=MODEL), db)
    strict = drift.drift_summary(db, MODEL, window=Window(start=_day(start, 60), end=_day(start, 90)), columns=("AGE",))
    assert strict.table.iloc[0]["threshold"] == 5.0 and strict.table.iloc[0]["drifted"] is False
    store.write(lambda con: settings.set_value(con, ADMIN, "drift.method_overrides", "AGE=psi", model=MODEL), db)
    assert drift.drift_summary(db, MODEL, window=Window(start=_day(start, 60), end=_day(start, 90)),
                               columns=("AGE",)).table.iloc[0]["method"] == "psi"


def test_over_time_shows_when_the_drift_began(demo):
    summary, start = demo
    result = drift.drift_over_time(summary.db, MODEL, window=Window(start=start, end=summary.end), freq="day",
                                   columns=("AGE",))
    table = result.table
    days = (table["period"] - pd.Timestamp(start)).dt.days
    episode = days.between(60, 89)
    assert table.loc[episode, "drifted"].eq(True).all()
    # a day holds ~330 rows in this small demo, so a quiet day crosses the threshold now and then
    assert table.loc[~episode, "drifted"].eq(True).mean() < 0.35
    assert table.loc[episode, "statistic"].min() > 3 * table.loc[~episode, "statistic"].median()
    # one day pinned to scipy
    day = _day(start, 75)
    ref = _rows(summary.db, "SELECT AGE FROM reference_credit_default WHERE model_version = 'v1'")["AGE"]
    cur = _rows(summary.db, "SELECT AGE FROM predictions_credit_default WHERE model_version = 'v1' AND "
                            "predicted_at >= ? AND predicted_at < ?", [day, _day(start, 76)])["AGE"]
    got = table.set_index("period").loc[pd.Timestamp(day), "statistic"]
    assert got == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)


def test_multivariate_drift(demo):
    """Against an earlier quiet window: a quiet window is not told apart, the covariate episode is.

    (Against the reference data the demo is told apart in every window: production amounts are
    jittered and rounded to NT$10 while the reference keeps the raw UCI amounts.)
    """
    summary, start = demo
    base = dict(baseline=Window(_day(start, 0), _day(start, 30)), sample_rows=800)
    quiet = drift.multivariate_drift(summary.db, MODEL, window=Window(start=_day(start, 30), end=_day(start, 60)),
                                     **base)
    shifted = drift.multivariate_drift(summary.db, MODEL, window=Window(start=_day(start, 60), end=_day(start, 90)),
                                       **base)
    assert quiet.n_reference_sample == 800 and quiet.n_current_sample == 800
    assert quiet.domain_auc < 0.55 < shifted.domain_auc and shifted.domain_drifted and not quiet.domain_drifted
    for result in (quiet, shifted):
        assert result.reconstruction_lower <= result.reconstruction_reference_mean <= result.reconstruction_upper
        assert result.reconstruction_drifted == (not result.reconstruction_lower <= result.reconstruction_error
                                                 <= result.reconstruction_upper)
    again = drift.multivariate_drift(summary.db, MODEL, window=Window(start=_day(start, 60), end=_day(start, 90)),
                                     **base)
    assert again.domain_auc == shifted.domain_auc  # seeded: the same sample, the same folds


def test_domain_classifier_is_sklearn_cross_validation():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from analytics.drift import _multivariate

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 3)), rng.normal(0.5, 1, size=(300, 3))
    expected = cross_val_score(HistGradientBoostingClassifier(max_iter=100, random_state=42), np.vstack([a, b]),
                               np.r_[np.zeros(300), np.ones(300)], scoring="roc_auc",
                               cv=StratifiedKFold(5, shuffle=True, random_state=42))
    np.testing.assert_allclose(_multivariate.domain_classifier_auc(a, b, 42), expected)


def test_cli_on_files_and_store(demo, tmp_path, capsys):
    summary, start = demo
    store.release(summary.db)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(summary.db), read_only=True)
    store.bind_store_folder(con)
    try:
        con.execute("COPY (SELECT * EXCLUDE (model_version) FROM reference_credit_default WHERE model_version = 'v1')"
                    f" TO '{tmp_path / 'ref.parquet'}'")
        con.execute(f"COPY (SELECT * FROM predictions_credit_default WHERE predicted_at >= '{_day(start, 60)}' AND "
                    f"predicted_at < '{_day(start, 90)}' AND model_version = 'v1') TO '{tmp_path / 'cur.csv'}'")
    finally:
        con.close()
    code = vigil(["drift", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.csv"), "--columns", "AGE", "channel",
                  "--format", "json", "--fail-on-drift"])
    records = json.loads(capsys.readouterr().out)
    assert code == 1 and [r["column"] for r in records] == ["AGE", "channel"]
    assert all(list(r) == list(drift.JSON_FIELDS) for r in records) and all(r["drifted"] for r in records)
    code = vigil(["drift", str(tmp_path / "ref.parquet"), str(tmp_path / "ref.parquet"), "--fail-on-drift"])
    assert code == 0 and "0 of" in capsys.readouterr().out
    day = f"{_day(start, 60):%Y-%m-%d}"
    code = vigil(["--db", str(summary.db), "drift", "--model", MODEL, "--start", day, "--end",
                  f"{_day(start, 89):%Y-%m-%d}", "--columns", "AGE", "--format", "json"])
    store_records = json.loads(capsys.readouterr().out)
    assert code == 0 and store_records[0]["drifted"] is True and store_records[0]["n_reference"] == 3000
    assert vigil(["drift", "--model", MODEL]) == 2  # wrong usage (issue 13 item 22)
    assert "--start" in capsys.readouterr().err
