"""``vigil models add-version`` on the law-school model declared from its spec (issue 14, section 2).

Every supported artifact format is registered through the command line, as a user does it; its
attributions are pinned to shap on the same rows and its counterfactuals re-scored by the model.
"""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analytics import explain, registry, store
from analytics.registry import sha256_of_file
from law_support import MODEL, SPEC, law_files, vigil  # noqa: F401 - fixture

THRESHOLD = "0.8"


def _register(db, files, version="v1", *extra) -> int:
    assert vigil(db, "models", "register", SPEC) == 0
    return vigil(db, "models", "add-version", MODEL, version, "--reference", files["reference"],
                 "--artifact", files["model"], "--threshold", THRESHOLD, *extra)


def _shap_reference(fmt: str, model: explain.LoadedModel, rows: pd.DataFrame):
    """shap's own values for ``rows``: TreeExplainer on the native model, else the exact explainer."""
    import shap

    inputs = model.inputs(rows)
    native = getattr(model.artifact, "booster", None) if fmt != "skops" else model.artifact.model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt in ("lightgbm", "xgboost", "xgboost-ubj", "skops"):
            explainer = shap.TreeExplainer(native)
            return np.asarray(explainer.shap_values(inputs), dtype=float), float(np.ravel(explainer.expected_value)[0])
    background = model.inputs(model.background).to_numpy(dtype=float)
    features = model.features

    def f(matrix):
        p = model.artifact.score(pd.DataFrame(matrix, columns=features))
        p = np.clip(p, 1e-15, 1 - 1e-15)
        return np.log(p / (1 - p))

    explanation = shap.explainers.Exact(f, shap.maskers.Independent(background, max_samples=100))(
        inputs.to_numpy(dtype=float))
    return np.asarray(explanation.values, dtype=float), float(np.ravel(explanation.base_values)[0])


#: The formats explained by shap's model-agnostic explainers, whose numba functions compile once per process (about
#: 10 CPU-s): one worker runs both.
_AGNOSTIC = pytest.mark.xdist_group("shap-agnostic")


@pytest.mark.parametrize("fmt", ["lightgbm", "xgboost", "xgboost-ubj", "skops",
                                 pytest.param("skops-linear", marks=_AGNOSTIC), pytest.param("onnx", marks=_AGNOSTIC)])
def test_each_format_registers_reproduces_explains_and_finds_counterfactuals(db, law_files, fmt, capsys):
    files = law_files[fmt]
    assert _register(db, files) == 0
    out = capsys.readouterr().out
    assert "registered law-school:v1 (draft)" in out and "re-scores the reference to within" in out

    row = store.read(lambda con: registry.get_version(con, MODEL, "v1"), db)
    assert row["artifact_sha256"] == sha256_of_file(files["model"])
    reference = pd.read_parquet(files["reference"])
    # validation metrics computed from the reference, equal to scikit-learn's
    assert row["validation_metrics"]["roc_auc"] == pytest.approx(roc_auc_score(reference["label"], reference["score"]),
                                                                 abs=1e-12)
    assert row["validation_metrics"]["n_validation"] == len(reference)

    model = explain.load_model(db, MODEL, "v1")
    rows = reference.head(12)
    ours, base = explain.contributions(model, rows)
    theirs, their_base = _shap_reference(fmt, model, rows)
    np.testing.assert_allclose(ours.to_numpy(), theirs, atol=1e-9)
    assert base == pytest.approx(their_base, abs=1e-9)
    additivity = np.abs(base + ours.sum(axis=1).to_numpy() - model.raw(rows))
    assert additivity.max() < 1e-6

    # a declined applicant: counterfactuals that the model itself re-scores as admitted
    declined = reference[reference["decision"] == 0].head(1)
    space = explain.reference_space(db, MODEL, "v1").space
    found = explain.counterfactuals(model, declined, space, answers=2)
    assert len(found.answers) >= 1 and found.answers["valid"].all()
    assert (model.score(found.rows) >= float(THRESHOLD)).all()


def test_an_artifact_that_does_not_reproduce_the_reference_is_refused(db, law_files, tmp_path, capsys):
    files = law_files["lightgbm"]
    reference = pd.read_parquet(files["reference"])
    shifted = reference.copy()
    shifted.loc[shifted.index[:40], "score"] = (shifted["score"].iloc[:40] * 0.97).to_numpy()
    shifted["decision"] = (shifted["score"] >= float(THRESHOLD)).astype("int64")
    shifted.to_parquet(tmp_path / "reference.parquet")
    assert vigil(db, "models", "register", SPEC) == 0
    code = vigil(db, "models", "add-version", MODEL, "v1", "--reference", tmp_path / "reference.parquet",
                 "--artifact", files["model"], "--threshold", THRESHOLD)
    err = capsys.readouterr().err
    expected = float(np.max(np.abs(shifted["score"] - reference["score"])))
    assert code == 1 and "does not reproduce the reference's scores" in err
    assert f"differ by up to {expected:.3g}" in err and "tolerance 1e-06" in err
    assert store.read(lambda con: registry.list_versions(con, MODEL), db).empty
    assert not list((db.parent / "artifacts").rglob("*.txt"))  # nothing copied either


def test_pickles_and_untrusted_skops_types_are_never_loaded(db, law_files, tmp_path, capsys):
    import pickle

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    files = law_files["skops"]
    reference = pd.read_parquet(files["reference"])
    assert vigil(db, "models", "register", SPEC) == 0
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"not": "loaded"}))
    assert vigil(db, "models", "add-version", MODEL, "v1", "--reference", files["reference"],
                 "--artifact", pickled, "--threshold", THRESHOLD) == 1
    assert "Pickle files run code when loaded and are never read" in capsys.readouterr().err

    model = make_pipeline(FunctionTransformer(_double), LogisticRegression())
    model.fit(reference[["LSAT", "UGPA", "ZFYA"]], reference["label"])
    sio.dump(model, tmp_path / "custom.skops")
    assert vigil(db, "models", "add-version", MODEL, "v1", "--reference", files["reference"],
                 "--artifact", tmp_path / "custom.skops", "--threshold", THRESHOLD) == 1
    err = capsys.readouterr().err
    assert "would load types that are not trusted" in err and "_double" in err
    assert store.read(lambda con: registry.list_versions(con, MODEL), db).empty


def _double(x):
    return x * 2


def test_serving_since_is_an_onboarding_declaration_not_an_approval(db, law_files, capsys):
    files = law_files["lightgbm"]
    assert _register(db, files, "v1", "--serving-since", "2026-08-03") == 0
    assert "onboarding declaration, not an approval" in capsys.readouterr().out

    def facts(con):
        status = registry.get_version(con, MODEL, "v1")["status"]
        deployments = con.execute("SELECT role, started_at, ended_at FROM deployments WHERE model_name = ?",
                                  [MODEL]).fetchall()
        steps = con.execute("SELECT to_status, details FROM version_transitions WHERE model_name = ?",
                            [MODEL]).fetchall()
        actions = [r[0] for r in con.execute("SELECT action FROM audit_log WHERE object_id = ? ORDER BY seq",
                                             [f"{MODEL}:v1"]).fetchall()]
        return status, deployments, steps, actions

    status, deployments, steps, actions = store.read(facts, db)
    assert status == "champion"
    assert deployments == [("champion", pd.Timestamp("2026-08-03").to_pydatetime(), None)]
    assert [s[0] for s in steps] == ["champion"] and json.loads(steps[0][1])["onboarding"] is True
    assert "approved" not in [s[0] for s in steps]
    assert actions == ["version.register", "version.reference", "version.onboard"]
    # a second version does not become champion by declaration: it goes through review
    assert vigil(db, "models", "add-version", MODEL, "v2", "--reference", files["reference"], "--artifact",
                 files["model"], "--threshold", THRESHOLD, "--serving-since", "2026-09-01") == 1
    assert "already has a champion (v1)" in capsys.readouterr().err
    assert store.read(lambda con: registry.list_versions(con, MODEL), db)["version"].tolist() == ["v1"]


def test_reference_is_checked_like_an_ingest(db, law_files, tmp_path, capsys):
    files = law_files["lightgbm"]
    reference = pd.read_parquet(files["reference"])
    assert vigil(db, "models", "register", SPEC) == 0
    bad = reference.astype({"LSAT": object})
    bad.loc[bad.index[:3], "LSAT"] = "n/a"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert vigil(db, "models", "add-version", MODEL, "v1", "--reference", tmp_path / "bad.csv",
                 "--threshold", THRESHOLD) == 1
    assert "LSAT: not a double value in 3 rows" in capsys.readouterr().err
    # decisions that are not score >= threshold are named with their count
    assert vigil(db, "models", "add-version", MODEL, "v1", "--reference", files["reference"]) == 1
    err = capsys.readouterr().err
    assert "decision is not score >= 0.5 (the default threshold" in err
    # without an artifact the version is registered as a draft, and says so
    shutil.copy(files["reference"], tmp_path / "reference.parquet")
    assert vigil(db, "models", "add-version", MODEL, "v1", "--reference", tmp_path / "reference.parquet",
                 "--threshold", THRESHOLD) == 0
    assert "no artifact" in capsys.readouterr().out
    assert store.read(lambda con: registry.get_version(con, MODEL, "v1")["status"], db) == "draft"
