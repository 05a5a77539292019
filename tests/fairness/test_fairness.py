"""Fairness numbers pinned to fairlearn on the same rows, including the counts computed in DuckDB."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame, count, demographic_parity_difference, demographic_parity_ratio, equal_opportunity_difference,
    equalized_odds_difference, false_positive_rate, selection_rate, true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from analytics import audit, fairness, ingest, registry, settings, store
from analytics.cli import main as vigil
from analytics.errors import InvalidInputError, PermissionDeniedError
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from analytics.window import Window
from lifecycle_support import put_in_status

SYSTEM = Actor("cli:tests", "system")
MODEL = "fair-model"
START = datetime(2025, 3, 3)  # a Monday
DAYS = 28
SCHEMA = LogSchema(
    columns=(
        Column("income", "double"),
        Column("SEX", "categorical", role="attribute", sensitive=True),
        Column("AGE", "integer", sensitive=True),
        Column("region", "categorical", role="segment"),
    ),
    positive_class="default", favourable_decision=0,  # adverse: decision 0 (approve) is favourable
)
BANDS = ([0, 25, 35, 45, 60, 200], ["<25", "25-34", "35-44", "45-59", "60+"])


def _rows(n: int = 6000, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male", None], n, p=[0.45, 0.45, 0.10]).astype(object)
    sex[:6] = "rare"      # 6 rows: suppressed
    sex[6:26] = "small"   # 20 rows: too small to judge
    age = rng.integers(18, 80, n)
    # decisions depend on the group, so that disparities exist and change over time
    bias = np.where(sex == "female", 0.12, 0.0) + np.where(age < 25, 0.1, 0.0)
    t = np.sort(rng.integers(0, DAYS * 86_400, n))
    late = t > 14 * 86_400
    score = np.clip(rng.beta(2, 5, n) + bias * late + rng.normal(0, 0.02, n), 0, 0.999)
    preds = pd.DataFrame({
        "prediction_id": [f"f{i:06d}" for i in range(n)],
        "predicted_at": pd.Timestamp(START) + pd.to_timedelta(t, unit="s"),
        "model_version": "v1", "deployment_role": "champion",
        "score": np.round(score, 4), "decision": (score >= 0.4).astype("int64"),
        "latency_ms": 5.0, "cost": 0.001,
        "income": np.round(rng.uniform(1000, 9000, n), 2), "SEX": sex, "AGE": age,
        "region": rng.choice(["north", "south"], n),
    })
    labelled = rng.uniform(0, 1, n) < 0.75
    done = preds[labelled]
    label = (rng.uniform(0, 1, len(done)) < done["score"].to_numpy()).astype("int64")
    approved = done["decision"].to_numpy() == 0
    outs = pd.DataFrame({
        "prediction_id": done["prediction_id"].to_numpy(),
        "observed_at": done["predicted_at"] + pd.Timedelta(days=1),
        "label": label,
        "business_value": np.where(approved & (label == 0), 50.0, np.where(approved, -200.0, 0.0)),
    })
    return preds, outs


@pytest.fixture(scope="module")
def fair_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("fair") / "vigil.duckdb"

    def register(con):
        registry.register_model(con, SYSTEM, MODEL, SCHEMA, owner="tests")
        registry.register_version(con, SYSTEM, MODEL, "v1", threshold=0.4, owner="tests",
                                  at=START - timedelta(days=10))
        put_in_status(con, MODEL, "v1", "champion", at=START - timedelta(days=10))

    store.write(register, path)
    preds, outs = _rows()
    ingest.ingest(MODEL, preds, actor=SYSTEM, db=path)
    ingest.ingest(MODEL, outs, kind="outcomes", actor=SYSTEM, db=path)
    raw = preds.merge(outs, on="prediction_id", how="left")
    raw["SEX"] = raw["SEX"].fillna("(missing)")
    raw["AGE_band"] = pd.cut(raw["AGE"], bins=BANDS[0], labels=BANDS[1], right=False).astype(str)
    raw["y_pred"] = (raw["decision"] == 0).astype(int)  # favourable = approved
    raw["y_true"] = np.where(raw["label"].isna(), -1, (raw["label"] == 0).astype(int))
    raw["week"] = raw["predicted_at"].dt.to_period("W-SUN").dt.start_time
    return path, raw


def _judged(raw: pd.DataFrame, keys: list[str], min_size: int, labelled: bool = False) -> pd.DataFrame:
    frame = raw[raw["y_true"] >= 0] if labelled else raw
    sizes = frame.groupby(keys)["y_pred"].transform("size")
    out = frame[sizes >= min_size]
    if labelled:  # both outcomes present, as the counts path requires for TPR and FPR
        both = out.groupby(keys)["y_true"].transform(lambda s: s.nunique() == 2)
        out = out[both]
    return out


def _sf(frame: pd.DataFrame, keys: list[str]):
    return frame[keys[0]] if len(keys) == 1 else frame[keys]


@pytest.mark.parametrize("keys", [["SEX"], ["AGE_band"], ["SEX", "AGE_band"]])
def test_group_metrics_and_sql_counts_match_fairlearn(fair_store, keys):
    db, raw = fair_store
    report = fairness.assess(db, MODEL, attributes=tuple(k for k in keys), intersections=(), n_boot=0) \
        if len(keys) == 1 else fairness.assess(db, MODEL, attributes=("SEX",), intersections=(tuple(keys),), n_boot=0)
    result = report.result(" × ".join(keys))
    groups = result.groups.set_index(keys)
    assert report.rows == len(raw) and report.labelled == int((raw["y_true"] >= 0).sum())
    every = MetricFrame(metrics={"count": count, "selection_rate": selection_rate}, y_true=raw["y_pred"],
                        y_pred=raw["y_pred"], sensitive_features=_sf(raw, keys)).by_group
    lab = raw[raw["y_true"] >= 0]
    labelled = MetricFrame(
        metrics={"count": count, "tpr": true_positive_rate, "fpr": false_positive_rate,
                 "precision": lambda y, p: precision_score(y, p, zero_division=np.nan), "accuracy": accuracy_score},
        y_true=lab["y_true"], y_pred=lab["y_pred"], sensitive_features=_sf(lab, keys)).by_group
    shown = groups[groups["status"] != "suppressed"]
    assert len(shown) >= 2
    for idx, row in shown.iterrows():
        assert row["count"] == every.loc[idx, "count"]
        assert row["selection_rate"] == pytest.approx(every.loc[idx, "selection_rate"], abs=1e-12)
        assert row["labelled"] == labelled.loc[idx, "count"]
        assert row["true_positive_rate"] == pytest.approx(labelled.loc[idx, "tpr"], abs=1e-12, nan_ok=True)
        assert row["false_positive_rate"] == pytest.approx(labelled.loc[idx, "fpr"], abs=1e-12, nan_ok=True)
        assert row["precision"] == pytest.approx(labelled.loc[idx, "precision"], abs=1e-12, nan_ok=True)
        assert row["accuracy"] == pytest.approx(labelled.loc[idx, "accuracy"], abs=1e-12)
    # the SQL confusion-matrix counts themselves
    sub = lab.assign(tp=(lab.y_true == 1) & (lab.y_pred == 1), fn=(lab.y_true == 1) & (lab.y_pred == 0))
    expected = sub.groupby(keys)[["tp", "fn"]].sum()
    for idx, row in shown.iterrows():
        assert (row["tp"], row["fn"]) == tuple(expected.loc[idx])


@pytest.mark.parametrize("keys", [["SEX"], ["AGE_band"], ["SEX", "AGE_band"]])
def test_disparities_match_fairlearn_on_judged_groups(fair_store, keys):
    db, raw = fair_store
    report = fairness.assess(db, MODEL, attributes=("SEX", "AGE_band"), intersections=(("SEX", "AGE_band"),),
                             n_boot=0)
    d = report.result(" × ".join(keys)).disparity
    size = report.thresholds.min_group_size
    every = _judged(raw, keys, size)
    lab = _judged(raw, keys, size, labelled=True)
    assert d.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(every["y_true"], every["y_pred"], sensitive_features=_sf(every, keys)), abs=1e-12)
    assert d.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(every["y_true"], every["y_pred"], sensitive_features=_sf(every, keys)), abs=1e-12)
    assert d.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(lab["y_true"], lab["y_pred"], sensitive_features=_sf(lab, keys)), abs=1e-12)
    assert d.equal_opportunity_difference == pytest.approx(
        equal_opportunity_difference(lab["y_true"], lab["y_pred"], sensitive_features=_sf(lab, keys)), abs=1e-12)
    expected = "pass" if d.demographic_parity_ratio >= 0.8 else "fail"
    assert d.four_fifths_verdict == expected


def test_small_groups_are_not_judged_and_tiny_ones_suppressed(fair_store):
    db, raw = fair_store
    groups = fairness.assess(db, MODEL, attributes=("SEX",), intersections=(), n_boot=0).result("SEX").groups
    status = dict(zip(groups["SEX"].astype(str), groups["status"]))
    assert status["rare"] == "suppressed" and status["small"] == "too small to judge"
    assert status["female"] == status["male"] == status["(missing)"] == "judged"
    rare = groups[groups["SEX"] == "rare"].iloc[0]
    assert all(pd.isna(rare[c]) for c in ("count", "labelled", "selection_rate", "accuracy", "tp"))
    payload = fairness.assess(db, MODEL, attributes=("SEX",), intersections=(), n_boot=0).to_dict()
    rare_json = next(g for g in payload["attributes"][0]["groups"] if g["group"] == "rare")
    assert rare_json["suppressed"] and rare_json["count"] is None
    # 'small' (20 rows) takes no part in the disparities: a group that large passes the four-fifths rule alone
    d = fairness.assess(db, MODEL, attributes=("SEX",), intersections=(), n_boot=0).result("SEX").disparity
    assert d.judged_groups == 3


def test_over_time_matches_fairlearn_per_week(fair_store):
    db, raw = fair_store
    trend = fairness.assess(db, MODEL, attributes=("SEX",), intersections=(), n_boot=0).result("SEX").over_time
    assert list(trend["window_start"]) == sorted(raw["week"].unique())
    for _, row in trend.iterrows():
        week = raw[raw["week"] == row["window_start"]]
        every, lab = _judged(week, ["SEX"], 30), _judged(week, ["SEX"], 30, labelled=True)
        assert row["rows"] == len(week) and row["labelled"] == int((week["y_true"] >= 0).sum())
        assert row["demographic_parity_ratio"] == pytest.approx(
            demographic_parity_ratio(every["y_true"], every["y_pred"], sensitive_features=every["SEX"]), abs=1e-12)
        assert row["equalized_odds_difference"] == pytest.approx(
            equalized_odds_difference(lab["y_true"], lab["y_pred"], sensitive_features=lab["SEX"]), abs=1e-12)
    # the bias starts in week 3: the disparity appears there
    assert trend["demographic_parity_difference"].iloc[3] > trend["demographic_parity_difference"].iloc[0] + 0.05


def test_window_is_whole_utc_days(fair_store):
    db, raw = fair_store
    report = fairness.assess(db, MODEL, window=Window(start=START + timedelta(days=7, hours=5), end=START + timedelta(days=14)),
                             attributes=("SEX",), intersections=(), n_boot=0)
    inside = raw[(raw["predicted_at"] >= START + timedelta(days=7)) & (raw["predicted_at"] < START + timedelta(days=14))]
    assert report.rows == len(inside)
    assert str(report.first_day) == "2025-03-10" and str(report.last_day) == "2025-03-16"


def test_bootstrap_intervals_match_metricframe_n_boot():
    """The count-level bootstrap resamples rows as MetricFrame(n_boot=...) does: same intervals, up to noise."""
    rng = np.random.default_rng(11)
    n = 400
    frame = pd.DataFrame({"g": rng.choice(["a", "b"], n, p=[0.7, 0.3]), "y_true": rng.integers(0, 2, n)})
    frame["y_pred"] = (rng.uniform(0, 1, n) < np.where(frame["g"] == "a", 0.6, 0.4)).astype(int)
    cells = frame.groupby(["g", "y_true", "y_pred"]).size().rename("n").reset_index().assign(value=0.0)
    cells["g"] = cells["g"].astype("category")
    ours = fairness.bootstrap_intervals(cells, ["g"], n_boot=4000, seed=1).set_index("g")
    mf = MetricFrame(metrics={"selection_rate": selection_rate}, y_true=frame["y_true"], y_pred=frame["y_pred"],
                     sensitive_features=frame["g"], n_boot=60, ci_quantiles=[0.025, 0.975], random_state=3)
    low, high = mf.by_group_ci
    for g in ("a", "b"):
        assert ours.loc[g, "selection_rate_low"] == pytest.approx(low.loc[g, "selection_rate"], abs=0.025)
        assert ours.loc[g, "selection_rate_high"] == pytest.approx(high.loc[g, "selection_rate"], abs=0.025)
    # and the width is the binomial one (a stratified or per-cell scheme would differ)
    p_b, n_b = frame.loc[frame.g == "b", "y_pred"].mean(), (frame.g == "b").sum()
    width = ours.loc["b", "selection_rate_high"] - ours.loc["b", "selection_rate_low"]
    assert width == pytest.approx(2 * 1.96 * np.sqrt(p_b * (1 - p_b) / n_b), rel=0.12)


@pytest.mark.parametrize("constraint", ["demographic_parity", "true_positive_rate_parity"])
def test_what_if_thresholds_reproduce_on_rows(fair_store, constraint):
    db, raw = fair_store
    result = fairness.what_if(db, MODEL, "SEX", constraint=constraint)
    lab = raw[raw["y_true"] >= 0].copy()
    thresholds = result.groups.set_index("group")["threshold"]
    new_raw = lab["decision"].copy()
    for group, t in thresholds.dropna().items():
        rows = lab["SEX"] == group
        new_raw[rows] = (np.floor(lab.loc[rows, "score"] * 1000) >= round(t * 1000)).astype(int)
    lab["y_after"] = (new_raw == 0).astype(int)
    assert result.rows == len(lab)
    assert result.accuracy_before == pytest.approx(accuracy_score(lab["y_true"], lab["y_pred"]), abs=1e-12)
    assert result.accuracy_after == pytest.approx(accuracy_score(lab["y_true"], lab["y_after"]), abs=1e-12)
    rate = selection_rate if constraint == "demographic_parity" else true_positive_rate
    after = MetricFrame(metrics=rate, y_true=lab["y_true"], y_pred=lab["y_after"], sensitive_features=lab["SEX"]).by_group
    before = MetricFrame(metrics=rate, y_true=lab["y_true"], y_pred=lab["y_pred"], sensitive_features=lab["SEX"]).by_group
    table = result.groups.set_index("group")
    for group in table.index:
        assert table.loc[group, "rate_after"] == pytest.approx(after[group], abs=1e-12)
        assert table.loc[group, "rate_before"] == pytest.approx(before[group], abs=1e-12)
    judged = table[table["judged"]]
    assert result.disparity_after < result.disparity_before
    assert result.disparity_after == pytest.approx(judged["rate_after"].max() - judged["rate_after"].min())
    # value: unchanged rows keep theirs; flipped rows get their group's mean value of the new decision and outcome
    assert result.value_before == pytest.approx(lab["business_value"].sum())
    means = lab.groupby(["SEX", "decision", "label"])["business_value"].mean()
    flipped = new_raw != lab["decision"]
    estimate = lab.loc[~flipped, "business_value"].sum() + sum(
        means.loc[(g, d, y)] for g, d, y in zip(lab.loc[flipped, "SEX"], new_raw[flipped], lab.loc[flipped, "label"]))
    assert result.value_after == pytest.approx(estimate, rel=1e-9)


def test_thresholds_are_settings_changed_by_admins_only(fair_store, tmp_path):
    db, _ = fair_store
    path = store.copy_store(db, tmp_path / "copy")
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: settings.set_value(con, Actor("rita", "reviewer"), "fairness.dp_ratio_threshold",
                                                   0.99, model=MODEL), path)
    before = fairness.assess(path, MODEL, attributes=("SEX",), intersections=(), n_boot=0).result("SEX").disparity
    store.write(lambda con: settings.set_value(con, Actor("ada", "admin"), "fairness.dp_ratio_threshold",
                                               0.999, model=MODEL), path)
    after = fairness.assess(path, MODEL, attributes=("SEX",), intersections=(), n_boot=0)
    assert after.thresholds.dp_ratio == 0.999
    assert before.demographic_parity_ratio < 0.999 and after.result("SEX").disparity.four_fifths_verdict == "fail"
    # the pages name the threshold from the result: the four-fifths rule only at its 0.8
    assert (fairness.Thresholds().dp_ratio_rule, after.thresholds.dp_ratio_rule) == (
        "the four-fifths rule", "a ratio of 0.999, stricter than the four-fifths rule (0.8)")
    trail = store.read(lambda con: audit.entries(con, object_type="setting"), path)
    assert trail.iloc[0]["object_id"] == f"{MODEL}:fairness.dp_ratio_threshold"


def test_recommendation_needs_a_reviewer_and_is_audited(fair_store, tmp_path):
    db, _ = fair_store
    path = store.copy_store(db, tmp_path / "rec")
    result = fairness.what_if(path, MODEL, "SEX").to_dict()
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: fairness.attach_recommendation(con, Actor("al", "analyst"), MODEL, "v1", result), path)
    store.write(lambda con: fairness.attach_recommendation(con, Actor("rita", "reviewer"), MODEL, "v1", result,
                                                           note="equalise approval rates"), path)
    recs = store.read(lambda con: fairness.recommendations(con, MODEL), path)
    assert len(recs) == 1 and recs.iloc[0]["actor"] == "rita"
    details = json.loads(recs.iloc[0]["details"])
    assert details["note"] == "equalise approval rates"
    assert details["recommendation"]["accuracy_after"] == pytest.approx(result["accuracy_after"])
    assert store.read(audit.verify, path).intact


def test_unknown_attribute_is_a_clear_error(fair_store):
    db, _ = fair_store
    with pytest.raises(InvalidInputError, match="AGE_band"):
        fairness.assess(db, MODEL, attributes=("AGE",), n_boot=0)


def test_cli_on_a_file_prints_the_issue_fields(tmp_path, capsys, fair_store):
    _, raw = fair_store
    path = tmp_path / "preds.parquet"
    raw[["SEX", "AGE_band", "y_true", "y_pred"]].assign(
        y_true=raw["y_true"].where(raw["y_true"] >= 0)).rename(columns={"y_pred": "y-pred"}).to_parquet(path)
    # A file's own column names are quoted, never refused ("y-pred"); JSON numbers are at full precision.
    code = vigil(["fairness", str(path), "--y-true", "y_true", "--y-pred", "y-pred", "--sensitive", "SEX",
                  "--sensitive", "AGE_band", "--format", "json", "--n-boot", "50"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    names = [a["attribute"] for a in payload["attributes"]]
    assert names == ["SEX", "AGE_band", "SEX × AGE_band"]
    sex = payload["attributes"][0]
    for field in ("groups", "demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
                  "equal_opportunity_difference", "four_fifths_verdict"):
        assert field in sex
    every = _judged(raw, ["SEX"], 30)
    assert sex["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(every["y_true"], every["y_pred"], sensitive_features=every["SEX"]), rel=1e-12)
    assert sex["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(every["y_true"], every["y_pred"], sensitive_features=every["SEX"]), rel=1e-12)
    female = next(g for g in sex["groups"] if g["group"] == "female")
    assert female["count"] == int((raw["SEX"] == "female").sum()) and len(female["selection_rate_ci"]) == 2


def test_cli_on_the_store_and_errors(fair_store, capsys):
    db, raw = fair_store
    assert vigil(["--db", str(db), "fairness", "--model", MODEL, "--n-boot", "0"]) == 0
    out = capsys.readouterr().out
    assert "SEX × AGE_band" in out and f"{len(raw):,} predictions" in out
    assert vigil(["--db", str(db), "fairness", "--model", "nope"]) == 1
    assert vigil(["fairness", "/no/such.parquet", "--y-true", "a", "--y-pred", "b", "--sensitive", "c"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cells_are_recounted_after_an_ingest(tmp_path):
    path = tmp_path / "vigil.duckdb"
    store.write(lambda con: (registry.register_model(con, SYSTEM, MODEL, SCHEMA, owner="t"),
                             registry.register_version(con, SYSTEM, MODEL, "v1", threshold=0.4, owner="t"),
                             put_in_status(con, MODEL, "v1", "champion")), path)
    preds, outs = _rows(800, seed=5)
    ingest.ingest(MODEL, preds.iloc[:400], actor=SYSTEM, db=path)
    assert fairness.assess(path, MODEL, n_boot=0).rows == 400
    ingest.ingest(MODEL, preds.iloc[400:], actor=SYSTEM, db=path)
    assert fairness.assess(path, MODEL, n_boot=0).rows == 800


def test_cli_what_if_on_a_file_with_scores(tmp_path, capsys, fair_store):
    """--score adds a what-if per sensitive column; its numbers reproduce on the rows with fairlearn."""
    _, raw = fair_store
    lab = raw[raw["y_true"] >= 0]
    frame = pd.DataFrame({"SEX": lab["SEX"], "label": lab["y_true"], "score": lab["score"],
                          "decision": (lab["score"] >= 0.4).astype(int)})  # decisions = score >= threshold
    path = tmp_path / "scored.csv"
    frame.to_csv(path, index=False)
    assert vigil(["fairness", str(path), "--y-true", "label", "--y-pred", "decision", "--score", "score",
                  "--sensitive", "SEX", "--format", "json", "--n-boot", "0"]) == 0
    w = json.loads(capsys.readouterr().out)["what_if"]["SEX"]
    thresholds = {g["group"]: g["threshold"] for g in w["groups"]}
    after = frame["decision"].copy()
    for group, t in thresholds.items():
        if t is not None:
            rows = frame["SEX"] == group
            after[rows] = (np.floor(frame.loc[rows, "score"] * 1000) >= round(t * 1000)).astype(int)
    assert w["accuracy_after"] == pytest.approx(accuracy_score(frame["label"], after), abs=1e-12)
    rates = MetricFrame(metrics=selection_rate, y_true=frame["label"], y_pred=after,
                        sensitive_features=frame["SEX"]).by_group
    for g in w["groups"]:
        assert g["rate_after"] == pytest.approx(rates[g["group"]], abs=1e-12)
    assert w["disparity_after"] < w["disparity_before"]
