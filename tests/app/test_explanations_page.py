"""Investigate > Explanations: global SHAP, drift, dependence and error analysis as analytics computes them."""

from __future__ import annotations

import numpy as np
import pytest
from app_support import signed_in
from explain_pages_support import MODEL, lite_db, lite_template, table_with  # noqa: F401 - fixtures

from analytics import explain


def _page(role="analyst"):
    at = signed_in(role, model=MODEL, window="all")
    at.switch_page("../pages/explanations.py").run()
    assert not at.exception, at.exception
    return at


def test_global_importance_matches_analytics(lite_db):
    at = _page()
    assert not at.error
    expected = explain.global_explanation(lite_db, MODEL, "v1", sample_rows=5000, seed=0)
    table = table_with(at, "mean_abs", "share", "rank")
    assert table["feature"].tolist() == expected.importance["feature"].tolist()
    np.testing.assert_allclose(table["mean_abs"], expected.importance["mean_abs"], atol=1e-12)
    caption = " ".join(c.value for c in at.caption)
    assert f"{expected.rows:,}" in caption and "seed 0" in caption


def test_drift_and_error_analysis_render(lite_db):
    at = _page()
    assert any("Rank correlation" in m.label for m in at.metric)
    leaves = table_with(at, "rule", "error_rate")
    expected = explain.error_analysis(lite_db, MODEL, "v1", depth=3, seed=0)
    assert leaves["rows"].sum() == expected.rows
    members = table_with(at, "open", "prediction_id")
    assert members["open"].str.startswith("lookup?").all()
    # An analyst may not see sensitive attributes of single rows: the tree is grown without them (and the
    # page says so), so no leaf whose prediction ids are listed is defined by one (issue 18, section 4).
    sensitive = ("AGE", "EDUCATION", "MARRIAGE", "SEX")
    assert not [rule for rule in leaves["rule"] if any(f"{name} " in rule for name in sensitive)]
    assert "AGE, EDUCATION, MARRIAGE) are left out of the tree's inputs" in " ".join(c.value for c in at.caption)


def test_version_without_artifact_uses_logged_attributions(lite_db):
    at = signed_in("analyst", model=MODEL, window="all", version="v2")
    at.switch_page("../pages/explanations.py").run()
    assert not at.exception and not at.error
    assert "logged by the serving system" in " ".join(c.value for c in at.caption)


@pytest.mark.parametrize("role", ["viewer"])
def test_viewers_cannot_reach_it(lite_db, role):
    at = signed_in(role, model=MODEL)
    with pytest.raises(Exception):
        at.switch_page("../pages/explanations.py")
        at.run()
        assert not at.exception
        assert at.title[0].value != "Explanations"
