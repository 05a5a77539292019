"""docs/own-model.md end to end: the law-school example onboarded with the command line only on a fresh
store, then every page for that model in AppTest, fairness with the spec's favourable decision against
fairlearn, and a drift statistic against scipy on the same rows (issue 14, section 5).
The same store in Chromium: tests/e2e/test_own_model_browser.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_ratio, selection_rate
from scipy import stats
from sklearn import metrics
from sklearn.calibration import calibration_curve
from streamlit.testing.v1 import AppTest

from analytics import overview, performance
from analytics.roles import Actor
from analytics.window import Window
from app import navigation
from law_support import END, MODEL, law_files, law_store_copy, vigil  # noqa: F401 - fixture

MAIN = navigation.__file__.replace("navigation.py", "main.py")


@pytest.fixture(scope="module")
def law_store(law_files, tmp_path_factory):
    return law_store_copy(tmp_path_factory, law_files)


@pytest.fixture
def law_env(law_store, monkeypatch):
    db, password = law_store
    monkeypatch.setenv("VIGIL_DB", str(db))
    monkeypatch.setenv("VIGIL_DATA_DIR", str(db.parent))
    monkeypatch.setenv("VIGIL_AUTH", "local")
    return db, password


def _signed_in(password: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update({"model": MODEL, "window": "90d"})
    at.run()
    at.text_input(key="vigil_sign_in_username").input("ada")
    at.text_input(key="vigil_sign_in_password").input(password)
    at.button(key="vigil_sign_in_submit").click().run()
    assert not at.exception, at.exception
    return at


def test_every_page_renders_for_the_onboarded_model(law_env):
    _, password = law_env
    at = _signed_in(password)
    admin = Actor("ada", "admin")
    for spec in navigation.PAGES:
        if not admin.can(spec.capability):
            continue
        at.switch_page(f"../{spec.path}").run()
        assert not at.exception, (spec.path, at.exception)
        errors = [str(e.value) for e in at.error if "Sorry" in str(e.value) or "Traceback" in str(e.value)]
        assert not errors, (spec.path, errors)
        assert at.title, f"{spec.path} drew no title"
        if spec.per_model:
            assert at.query_params.get("model") in (MODEL, [MODEL]), spec.path


def test_fairness_uses_the_spec_favourable_decision_and_matches_fairlearn(law_env, law_files, capsys):
    db, _ = law_env
    assert vigil(db, "fairness", "--model", MODEL, "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["favourable_decision"] == 1  # declared in law-school.toml: decision 1 = admitted
    log = pd.read_parquet(law_files["lightgbm"]["predictions"])
    assert report["rows"] == len(log)
    race = next(a for a in report["attributes"] if a["attribute"] == "race")
    judged = {g["group"]: g["selection_rate"] for g in race["groups"] if g["status"] == "judged"}
    assert len(judged) >= 3
    rows = log[log["race"].isin(judged)]  # groups too small to judge are left out of the ratio
    y_pred = (rows["decision"] == 1).astype(int)  # favourable = admitted, from the spec
    frame = MetricFrame(metrics=selection_rate, y_true=y_pred, y_pred=y_pred, sensitive_features=rows["race"])
    for group, rate in frame.by_group.items():
        assert judged[group] == pytest.approx(rate, abs=1e-6), group
    ratio = demographic_parity_ratio(y_pred, y_pred, sensitive_features=rows["race"])
    assert race["demographic_parity_ratio"] == pytest.approx(ratio, abs=1e-6)
    # read with decision 0 as favourable (what the old name list would have guessed), the ratio differs
    flipped = demographic_parity_ratio(1 - y_pred, 1 - y_pred, sensitive_features=rows["race"])
    assert abs(flipped - ratio) > 0.05


def test_drift_statistic_matches_scipy_on_the_same_rows(law_env, law_files, capsys):
    db, _ = law_env
    start = f"{END - pd.Timedelta(days=90):%Y-%m-%d}"
    assert vigil(db, "drift", "--model", MODEL, "--version", "v1", "--start", start, "--end", f"{END:%Y-%m-%d}",
                 "--method", "ks", "--format", "json", "--columns", "LSAT") == 0
    result = json.loads(capsys.readouterr().out)
    (lsat,) = [r for r in result if r["column"] == "LSAT"]
    reference = pd.read_parquet(law_files["lightgbm"]["reference"])["LSAT"]
    current = pd.read_parquet(law_files["lightgbm"]["predictions"])["LSAT"]
    expected = stats.ks_2samp(reference.to_numpy(), current.to_numpy())
    assert lsat["n_current"] == len(current) and lsat["n_reference"] == len(reference)
    assert lsat["statistic"] == pytest.approx(expected.statistic, abs=1e-9)
    assert lsat["p_value"] == pytest.approx(expected.pvalue, rel=1e-6)
    assert np.isfinite(lsat["statistic"])


def test_performance_read_from_the_summary_matches_sklearn(law_env, law_files):
    """The ingest's refresh kept the performance cells: counts exact, ROC AUC within its stated bound."""
    db, _ = law_env
    files = law_files["lightgbm"]
    log = pd.read_parquet(files["predictions"]).merge(pd.read_parquet(files["outcomes"])[["prediction_id", "label"]],
                                                      on="prediction_id")
    window = Window(version="v1")
    got = performance.realised_metrics(db, MODEL, window=window, freq=None)
    assert got.attrs[performance.UNSUMMARISED] == ()  # every day from the summary
    row = got.iloc[0]
    y, s = log["label"].to_numpy(int), log["score"].to_numpy(float)
    d = (s >= 0.8).astype(int)  # v1's threshold (law_support)
    assert row["labelled"] == len(log) and row["positives"] == y.sum()
    assert row["accuracy"] == metrics.accuracy_score(y, d) and row["f1"] == metrics.f1_score(y, d)
    assert row["precision"] == metrics.precision_score(y, d) and row["recall"] == metrics.recall_score(y, d)
    assert row["brier"] == pytest.approx(metrics.brier_score_loss(y, s), rel=1e-9)
    assert row["log_loss"] == pytest.approx(metrics.log_loss(y, s), rel=1e-9)
    assert abs(row["roc_auc"] - metrics.roc_auc_score(y, s)) <= row["roc_auc_bound"] + 1e-12 <= 1e-3
    curve = performance.calibration_curve(db, MODEL, window=window)
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10)
    np.testing.assert_allclose(curve["fraction_positive"], prob_true, rtol=1e-9)
    np.testing.assert_allclose(curve["mean_predicted"], prob_pred, rtol=1e-9)
    summary = overview.model_summary(db, MODEL, now=END, window=window)
    assert summary["labelled"] == len(log) and summary["auc_rows"] == len(log)
    assert summary["realised_auc"] == pytest.approx(row["roc_auc"], abs=1e-12)


def test_compliance_records_and_backup_work_on_the_onboarded_model(law_files, tmp_path_factory, tmp_path,
                                                                   as_person, capsys, monkeypatch):
    """The governance records of a model declared from a spec: its monitoring plan knows its sensitive
    attributes, its back-test is scipy's binomial test on its own labelled rows, its records export
    carries its columns with the spec's meanings, and a backup of its store restores to a store whose
    audit trail verifies."""
    db, _ = law_store_copy(tmp_path_factory, law_files)
    monkeypatch.setenv("VIGIL_DB", str(db))
    capsys.readouterr()
    assert vigil(db, "compliance", "plan", "--model", MODEL, "--format", "json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["model"], plan["version"]) == (MODEL, "v1")
    assert "the model logs sensitive attributes but no enabled fairness rule watches them" in plan["gaps"]

    assert vigil(db, "compliance", "risk", "--model", MODEL, "--format", "json") == 0
    backtest = json.loads(capsys.readouterr().out)["backtest"]
    log = pd.read_parquet(law_files["lightgbm"]["predictions"])
    labelled = log.merge(pd.read_parquet(law_files["lightgbm"]["outcomes"]), on="prediction_id")
    labelled = labelled[labelled["label"].notna()]
    assert backtest["predictions"] == len(log) and backtest["labelled"] == len(labelled)
    month = labelled["predicted_at"].dt.to_period("M")
    for row in backtest["table"]:
        part = labelled[month == pd.Timestamp(row["period"]).to_period("M")]
        expected = stats.binomtest(int(part["label"].sum()), len(part), part["score"].mean()).pvalue
        assert row["labelled"] == len(part) and row["binomial_p"] == pytest.approx(expected, rel=1e-9)

    start, end = f"{END - pd.Timedelta(days=90):%Y-%m-%d}", f"{END:%Y-%m-%d}"
    assert vigil(db, "records", "export", "--model", MODEL, "--start", start, "--end", end,
                 "--out", str(tmp_path / "export"), *as_person(db, "ada")) == 0
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    in_window = log[(log["predicted_at"] >= pd.Timestamp(start)) & (log["predicted_at"] < pd.Timestamp(end))]
    assert manifest["rows"] == len(in_window) == len(pd.read_parquet(tmp_path / "export" / "records.parquet"))
    columns = {c["name"]: c for c in manifest["columns"]}
    assert columns["LSAT"]["meaning"].startswith("Law School Admission Test score")  # the spec's words
    assert {name for name, c in columns.items() if c.get("sensitive")} == {"race", "sex"}

    assert vigil(db, "backup", str(tmp_path / "backup")) == 0
    assert "6 artifact(s)" in capsys.readouterr().out  # every version's model file
    restored = tmp_path / "restored" / "vigil.duckdb"
    assert vigil(db, "restore", str(tmp_path / "backup"), "--to", str(restored)) == 0
    capsys.readouterr()
    assert vigil(restored, "audit", "verify") == 0
    assert "audit trail intact" in capsys.readouterr().out
    assert vigil(restored, "drift", "--model", MODEL, "--version", "v1", "--start", start, "--end", end,
                 "--method", "ks", "--format", "json", "--columns", "LSAT") == 0
    assert json.loads(capsys.readouterr().out)[0]["n_current"] == len(in_window)  # the log came back too
