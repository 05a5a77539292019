"""The Performance page: one rule for too few labels, in the chart and in the table, stated on the page."""

from __future__ import annotations

import base64
import json

import numpy as np
from app_support import SYSTEM, signed_in, template_store, vigil_db  # noqa: F401 - fixtures
from test_drift_page import add_reference

from analytics import performance, settings, store  # noqa: F401 - performance declares its settings


def _values(y) -> np.ndarray:
    """A Plotly trace's values (plain or binary-encoded)."""
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"])).astype(float)
    return np.array([np.nan if v is None else v for v in y], dtype=float)


def test_too_few_labels_are_neither_drawn_nor_judged(vigil_db):
    add_reference(vigil_db)
    store.write(lambda con: settings.set_value(con, SYSTEM, "performance.min_labelled", 100_000, model="loan-risk"),
                vigil_db)
    at = signed_in("viewer", model="loan-risk", version="v2", window="90d")
    at.switch_page("../pages/performance.py").run()
    assert not at.exception, at.exception
    verdicts = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert set(verdicts["label_state"]) <= {"too few labels", "no labels", "single class"}
    assert not verdicts["verdict"].isin(["concept drift", "stable", "covariate drift, performance falls"]).any()
    chart = next(c for c in at.get("plotly_chart") if "realised vs estimated" in c.proto.spec)
    realised = next(t for t in json.loads(chart.proto.spec)["data"] if t.get("name") == "realised")
    assert len(_values(realised["y"])) and np.isnan(_values(realised["y"])).all(), realised["y"]
    assert any("at least 100,000 labelled" in c.value for c in at.caption)
