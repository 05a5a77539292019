"""Counterfactuals (every constraint, real validity) and the error-analysis tree (leaves checked by hand)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from explain_support import EDUCATION, MODEL, lite_template  # noqa: F401 - fixtures

from analytics import explain, store
from analytics.artifacts import model_frame
from analytics.errors import InvalidInputError
from analytics.explain._counterfactual import _Encoder
from analytics.window import Window


V1 = Window(version="v1")

def _reference(db):
    return store.read(lambda con: con.execute(
        "SELECT * FROM reference_credit_lite WHERE model_version = 'v1'").df(), db)


def test_every_counterfactual_respects_every_constraint_and_really_flips(lite_template):
    ref = explain.reference_space(lite_template, MODEL, "v1")
    model, space = ref.model, ref.space
    reference = _reference(lite_template)
    rejected = explain.find_predictions(lite_template, MODEL, version="v1", decision=1, limit=40)
    answered = 0
    for pid in rejected["prediction_id"]:
        row = explain.prediction_row(lite_template, MODEL, pid)
        result = explain.counterfactuals(model, row, space, answers=3)
        answered += bool(len(result.answers))
        for answer, cf in result.rows.iterrows():
            # immutable inputs unchanged
            assert cf["MARRIAGE"] == row["MARRIAGE"]
            # increase-only inputs never fall (education by its declared order)
            assert cf["AGE"] >= row["AGE"]
            assert EDUCATION.index(cf["EDUCATION"]) >= EDUCATION.index(row["EDUCATION"])
            for name in ("income", "debt", "late", "AGE"):
                if cf[name] != row[name]:  # a changed input stays within the reference's range
                    assert reference[name].min() <= cf[name] <= reference[name].max()
            assert float(cf["late"]) == round(float(cf["late"])) and float(cf["AGE"]) == round(float(cf["AGE"]))
            # validity, re-scored here straight from the booster on the full row
            edited = row.copy()
            for name in model.features:
                edited[name] = cf[name]
            score = model.artifact.booster.predict(model_frame(edited.to_frame().T, model.info.schema)[model.features])[0]
            listed = result.answers.set_index("answer").loc[answer]
            assert listed["score"] == pytest.approx(score, abs=1e-12)
            assert bool(listed["valid"]) == (score < 0.5) and listed["valid"]
            assert listed["violations"] == 0
            changed = result.changes[result.changes["answer"] == answer]
            assert listed["changed"] == len(changed) >= 1
            assert listed["distance"] == pytest.approx(explain.distance(space, row, edited))
    assert answered >= 0.95 * len(rejected)


def test_the_constraint_checker_catches_each_breach(lite_template):
    ref = explain.reference_space(lite_template, MODEL, "v1")
    model, space = ref.model, ref.space
    row = explain.prediction_row(lite_template, MODEL, "cl000003")
    cases = {
        "MARRIAGE": ("others" if row["MARRIAGE"] != "others" else "single", "immutable"),
        "AGE": (row["AGE"] - 1, "may only increase"),
        "income": (10 ** 9, "outside the reference range"),
        "late": (1.5, "not an integer"),
    }
    for name, (value, message) in cases.items():
        edited = row.copy()
        edited[name] = value
        assert any(message in v for v in explain.violations(space, row, edited)), name
    edited = row.copy()
    edited["EDUCATION"] = "unknown" if row["EDUCATION"] != "unknown" else "university"
    problems = explain.violations(space, row, edited)
    assert (row["EDUCATION"] == "unknown") == (not problems)


def test_what_if_scores_the_edited_row(lite_template):
    ref = explain.reference_space(lite_template, MODEL, "v1")
    model, space = ref.model, ref.space
    row = explain.prediction_row(lite_template, MODEL, "cl000010")
    result = explain.what_if(model, row, {"late": -1, "debt": 100.0}, space)
    edited = row.copy()
    edited["late"], edited["debt"] = -1, 100.0
    expected = model.artifact.booster.predict(model_frame(edited.to_frame().T, model.info.schema)[model.features])[0]
    assert result.score == pytest.approx(expected, abs=1e-12)
    assert result.decision == int(expected >= 0.5)
    assert result.explanation.additivity_error < 1e-9
    with pytest.raises(InvalidInputError):
        explain.what_if(model, row, {"SEX": "male"})


def test_the_searchs_row_matrix_scores_as_the_logged_rows(lite_template):
    model = explain.load_model(lite_template, MODEL, "v1")
    rows = store.read(lambda con: con.execute("SELECT * FROM predictions_credit_lite LIMIT 200").df(), lite_template)
    encoder = _Encoder(model)
    matrix = np.vstack([encoder.row(rows.iloc[i]) for i in range(len(rows))])
    booster = model.artifact.booster
    np.testing.assert_allclose(encoder.raw(matrix), booster.predict(model.inputs(rows), raw_score=True), atol=1e-12)


_CONDITION = re.compile(r"^(\w+) (≤|>|=|≠) (.+?)( or missing)?$")


def _holds(frame: pd.DataFrame, condition: str) -> pd.Series:
    name, op, value, missing = _CONDITION.match(condition).groups()
    column = frame[name]
    if op in ("=", "≠"):
        equal = column.astype("string").fillna("(missing)") == value
        return equal if op == "=" else ~equal
    numbers = pd.to_numeric(column)
    hit = numbers <= float(value) if op == "≤" else numbers > float(value)
    return hit | (numbers.isna() if missing else False)


@pytest.mark.parametrize("target", ["error", "false_negative"])
def test_error_tree_leaves_match_their_rules_and_the_labels(lite_template, target):
    result = explain.error_analysis(lite_template, MODEL, V1, target=target, depth=3, seed=2)
    labelled = store.read(lambda con: con.execute(
        "SELECT p.*, o.label FROM predictions_credit_lite p JOIN outcomes_credit_lite o USING (prediction_id) "
        "WHERE p.model_version = 'v1'").df(), lite_template).set_index("prediction_id")
    scope = labelled if target == "error" else labelled[labelled["label"] == 1]
    error = (scope["decision"] != scope["label"]).astype(int)
    assert result.rows == len(scope) and result.error_rate == pytest.approx(error.mean())
    assert result.leaves["rows"].sum() == len(scope) and result.leaves["errors"].sum() == error.sum()
    for leaf in result.leaves.itertuples():
        members = pd.Series(True, index=scope.index)
        for condition in leaf.rule.split(" and "):
            members &= _holds(scope, condition)
        assert sorted(result.predictions(leaf.leaf)) == sorted(scope.index[members])  # the rule is the leaf
        assert leaf.errors == error[members].sum() and leaf.error_rate == pytest.approx(error[members].mean())
    assert result.leaves["error_rate"].iloc[0] >= result.error_rate
    with pytest.raises(InvalidInputError):
        result.predictions(-5)
