"""One rule for windows with too few or one-class labels; ROC AUC's sampling error pinned to NannyML 0.13.1.

On a model registered the way a user does (spec, version with validation metrics, reference data,
ingested predictions and outcomes): week 1 has 600 labelled predictions, week 2 only 150, and
every label of week 3 is 1.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analytics import ingest, performance, registry, settings, store
from analytics.governance import NOT_EVALUATED, assemble
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from analytics.window import Window
from lifecycle_support import put_in_status

SYSTEM = Actor("cli:tests", "system")
MODEL = "label-states"
START = datetime(2026, 3, 2)            # a Monday
SCHEMA = LogSchema(columns=(Column("income", "double"), Column("region", "categorical", role="segment")),
                   positive_class="default")
WEEKS = (600, 150, 300)


def _frame(rng, n):
    score = np.round(rng.uniform(0, 1, n), 3)
    return pd.DataFrame({"income": np.round(rng.normal(4000, 800, n), 2), "region": rng.choice(["north", "south"], n),
                         "score": score, "label": (rng.uniform(0, 1, n) < 0.1 + 0.6 * score).astype("int64")})


def reference_rows() -> pd.DataFrame:
    """The reference data (seeded): labels follow the score."""
    ref = _frame(np.random.default_rng(11), 1500)
    ref["decision"] = (ref["score"] >= 0.5).astype("int64")
    return ref


@pytest.fixture(scope="module")
def user_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("labels") / "vigil.duckdb"
    ref = reference_rows()

    def register(con):
        registry.register_model(con, SYSTEM, MODEL, SCHEMA, owner="risk", description="label states")
        registry.register_version(con, SYSTEM, MODEL, "v1", threshold=0.5, owner="risk",
                                  validation_metrics={"roc_auc": float(roc_auc_score(ref["label"], ref["score"]))},
                                  at=datetime(2026, 1, 1))
        put_in_status(con, MODEL, "v1", "champion", at=datetime(2026, 1, 1))
        registry.load_reference(con, SYSTEM, MODEL, "v1", ref)

    store.write(register, path)
    rng = np.random.default_rng(12)
    parts = []
    for week, n in enumerate(WEEKS):
        part = _frame(rng, n)
        part["predicted_at"] = pd.Timestamp(START + timedelta(days=7 * week)) + pd.to_timedelta(
            np.sort(rng.integers(0, 7 * 86400 - 1, n)), unit="s")
        if week == 2:
            part["label"] = 1
        parts.append(part)
    log = pd.concat(parts, ignore_index=True)
    log["prediction_id"] = [f"l{i:05d}" for i in range(len(log))]
    preds = log.drop(columns="label").assign(model_version="v1", deployment_role="champion",
                                             decision=(log["score"] >= 0.5).astype("int64"), latency_ms=5.0, cost=0.001)
    outs = pd.DataFrame({"prediction_id": log["prediction_id"], "observed_at": log["predicted_at"] + timedelta(days=1),
                         "label": log["label"], "business_value": 0.0})
    for frame, kind in ((preds, "predictions"), (outs, "outcomes")):
        assert ingest.ingest(MODEL, frame, kind=kind, actor=SYSTEM, db=path).status == "committed"
    return path


def test_label_states_of_the_weeks(user_model):
    got = performance.realised_metrics(user_model, MODEL, window=Window(start=START, end=START + timedelta(days=21)),
                                       freq="week")
    assert list(got["labelled"]) == list(WEEKS)
    assert list(got["label_state"]) == [performance.ENOUGH, performance.TOO_FEW, performance.SINGLE_CLASS]
    assert performance.not_evaluable(300, 300, 200) == "not evaluable: all labels are 1 (300 labelled)"
    assert performance.not_evaluable(150, 40, 200).startswith("not evaluable: 150 labelled predictions")
    assert performance.not_evaluable(600, 200, 200) == ""


def test_concept_drift_table_uses_the_same_rule(user_model):
    frame = performance.concept_drift(user_model, MODEL, window=Window(start=START, end=START + timedelta(days=21)),
                                      freq="week")
    assert list(frame["label_state"]) == [performance.ENOUGH, performance.TOO_FEW, performance.SINGLE_CLASS]
    assert frame["verdict"].iloc[1] in ("too few labels", "covariate drift (too few labels)")
    assert frame["verdict"].iloc[2].endswith("not evaluable: all labels are 1") or \
        frame["verdict"].iloc[2] == "covariate drift (not evaluable: all labels are 1)"
    assert not frame["performance_falls"].iloc[1:].any()


def untied_reference_rows() -> pd.DataFrame:
    """:func:`reference_rows` with its scores not rounded: no two rows share a score."""
    rng = np.random.default_rng(11)
    score = rng.uniform(0, 1, 1500)
    rng.normal(size=1500), rng.choice(["north", "south"], 1500)   # the same draws as _frame's
    return pd.DataFrame({"score": score, "label": (rng.uniform(0, 1, 1500) < 0.1 + 0.6 * score).astype("int64")})


#: NannyML 0.13.1 on :func:`untied_reference_rows`: ``auroc_sampling_error_components(label, score)`` and
#: ``auroc_sampling_error(components, data)`` for 600 and 150 rows (its source, run on the same rows).
#: On tied scores NannyML's figure depends on the order ``np.argsort`` gives tied rows, which differs
#: between machines (the rounded :func:`reference_rows` gave 0.254012751 on one, 0.253949668 on another).
NANNYML_COMPONENTS = (0.2539408810478982, 0.36866666666666664)
NANNYML_ERROR = {600: 0.017074188066629754, 150: 0.03414837613325951}


def test_auc_sampling_error_is_nannymls():
    ref = untied_reference_rows()
    assert ref["score"].is_unique and ref.loc[ref["score"].idxmin(), "label"] == 0   # NannyML's exact case
    got = performance.AucSamplingError.fit(ref["label"].to_numpy(), ref["score"].to_numpy())
    assert (got.std, got.fraction) == pytest.approx(NANNYML_COMPONENTS, rel=1e-12)
    for n, expected in NANNYML_ERROR.items():
        assert float(got.at(n)) == pytest.approx(expected, rel=1e-12)


def test_auc_sampling_error_does_not_depend_on_the_order_of_tied_scores():
    ref = reference_rows()
    assert not ref["score"].is_unique
    got = performance.AucSamplingError.fit(ref["label"].to_numpy(), ref["score"].to_numpy())
    for seed in range(5):
        shuffled = ref.sample(frac=1, random_state=seed)
        again = performance.AucSamplingError.fit(shuffled["label"].to_numpy(), shuffled["score"].to_numpy())
        assert (again.std, again.fraction) == pytest.approx((got.std, got.fraction), rel=1e-12)
    # ties count one half, as in ROC AUC: a tied pair sits between the untied neighbours' figures
    assert 0.25 < got.std < 0.26 and got.fraction == pytest.approx(NANNYML_COMPONENTS[1], rel=1e-12)


def test_single_class_window_is_not_evaluable_in_the_evidence_pack(user_model, tmp_path):
    """The recent labelled window is week 3 (all labels 1): the check says so and does not fail."""
    db = store.copy_store(user_model, tmp_path / "copy")
    # the recent labelled window spans 30 days (all three weeks): shorten it to week 3
    store.write(lambda con: settings.set_value(con, SYSTEM, "governance.evidence_window_days", 6, model=MODEL), db)
    pack = store.read(lambda con: assemble(con, MODEL, "v1", checks=("performance.recent",)), db)
    result = pack.results[0]
    assert result.status == NOT_EVALUATED and "all labels are 1" in result.detail, result
    assert result.value is None


#: NannyML 0.13.1, its source run on the same rows: ``needs_calibration(label, score, IsotonicCalibrator())``
#: and ``calculate_threshold_values(StandardDeviationThreshold(), <metric on 10 reference chunks>, 0, 1)``.
NANNYML_NEEDS_CALIBRATION = {"reference_rows": True, "calibrated_rows": False}
NANNYML_THRESHOLDS = {"roc_auc": (0.6068052005127937, 0.7977179933333329),
                      "f1": (0.44404526089665874, 0.7234144213073075),
                      "accuracy": (0.5349527463165151, 0.7583805870168183)}


def _calibrated_rows():
    rng = np.random.default_rng(3)
    score = np.round(rng.uniform(0, 1, 1500), 3)
    return (rng.uniform(0, 1, 1500) < score).astype(int), score


def test_calibration_only_where_nannyml_calibrates():
    ref = reference_rows()
    assert performance.needs_calibration(ref["label"].to_numpy(), ref["score"].to_numpy()) is \
        NANNYML_NEEDS_CALIBRATION["reference_rows"]
    assert performance.needs_calibration(*_calibrated_rows()) is NANNYML_NEEDS_CALIBRATION["calibrated_rows"]


def test_cbpe_band_and_thresholds_are_nannymls(user_model):
    ref = reference_rows()
    result = performance.cbpe(user_model, MODEL, window=Window(start=START, end=START + timedelta(days=21)),
                              freq="week")
    assert result.calibrated is True and "calibrated on the reference" in result.calibration_note
    for metric, expected in NANNYML_THRESHOLDS.items():
        assert result.thresholds[metric] == pytest.approx(expected, rel=1e-12)
    table = result.table
    components = performance.AucSamplingError.fit(ref["label"].to_numpy(), ref["score"].to_numpy())
    np.testing.assert_allclose(table["sampling_error_roc_auc"], components.std / np.sqrt(
        table["rows"] * components.fraction), rtol=1e-12)
    np.testing.assert_allclose(table["upper_confidence_roc_auc"],
                               np.minimum(table["est_roc_auc"] + 3 * table["sampling_error_roc_auc"], 1), rtol=1e-12)
    lower, upper = NANNYML_THRESHOLDS["roc_auc"]
    assert list(table["alert_roc_auc"]) == [not lower <= v <= upper for v in table["est_roc_auc"]]
