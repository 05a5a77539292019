"""The Drift page: verdicts, distributions, over time and the multivariate view on the synthetic store."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from app_support import SYSTEM, signed_in, template_store, vigil_db  # noqa: F401 - fixtures

from analytics import registry, store


def add_reference(db, model="loan-risk", version="v2", n=1500, shift=0.0):
    """Give a version reference data (the synthetic store has none)."""
    rng = np.random.default_rng(5)
    score = np.round(rng.uniform(0, 1, n), 3)
    frame = pd.DataFrame({"amount": np.round(rng.uniform(100, 5000, n) + shift, 2),
                          "region": rng.choice(["north", "south"], n), "gender": rng.choice(["f", "m"], n),
                          "label": (rng.uniform(0, 1, n) < score).astype(int), "score": score,
                          "decision": (score >= 0.5).astype(int)})
    store.write(lambda con: registry.load_reference(con, SYSTEM, model, version, frame), db)


def open_page(role="viewer", **query):
    at = signed_in(role, **query)
    at.switch_page("../pages/drift.py").run()
    assert not at.exception, at.exception
    return at


def test_verdicts_distributions_and_over_time(vigil_db):
    add_reference(vigil_db, shift=1500.0)   # amounts in the log are lower: amount drifts
    at = open_page(model="loan-risk", version="v2", window="90d")
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Drift"
    verdicts = at.dataframe[0].value
    assert set(verdicts["column"]) == {"amount", "region", "gender", "score"}
    assert verdicts.set_index("column").loc["amount", "verdict"] == "drift"
    assert at.metric[0].value.endswith("of 4")
    assert at.selectbox(key="drift_column").value == "amount"
    assert any("Baseline: reference data of v2" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 2          # distributions and drift over time


def test_multivariate_view_states_its_samples(vigil_db):
    add_reference(vigil_db)
    at = open_page(model="loan-risk", version="v2", window="all")
    at.toggle(key="drift_mv").set_value(True).run(timeout=300)  # fits 5 classifiers; the CI machine is shared
    assert not at.exception and not at.error, [e.value for e in at.error]
    samples = [c.value for c in at.caption if "Samples:" in c.value and "seed 42" in c.value]
    assert samples
    # the synthetic store is ingested without a refresh: no day has its kept sample, each is read from the log
    assert "not summarised yet and were read from the log" in samples[0], samples[0]


def test_a_version_without_reference_is_explained(vigil_db):
    at = open_page(model="churn", version="c1", window="90d")
    assert any("no reference data" in e.value for e in at.error)


def test_an_empty_window_says_what_to_do(vigil_db):
    add_reference(vigil_db)
    at = open_page(model="loan-risk", version="v2", window="custom", start="2001-01-01", end="2001-01-31")
    assert any("No predictions" in str(m.value) for m in at.markdown) or any(
        "No predictions" in str(i.value) for i in at.info)


def _clock_free(text: str) -> str:
    """``text`` with its times of day (HH:MM) masked; dates are kept."""
    return re.sub(r"\b\d{2}:\d{2}\b", "HH:MM", text)


def test_a_copied_link_reproduces_the_pages_own_choices(vigil_db):
    """Issue 13 item 21: the baseline, per day or week and the column are in the URL; a new session opened
    on that URL shows the same view, and the choices survive a visit to another page."""
    add_reference(vigil_db)
    at = open_page(model="loan-risk", version="v2", window="90d")
    at.segmented_control(key="drift_baseline").set_value("previous").run()
    at.segmented_control(key="drift_freq").set_value("day").run()
    at.selectbox(key="drift_column").set_value("region").run()
    assert not at.exception, at.exception
    link = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert {k: link.get(k) for k in ("drift_baseline", "drift_per", "drift_column")} == {
        "drift_baseline": "previous", "drift_per": "day", "drift_column": "region"}
    captions = [c.value for c in at.caption]

    opened = open_page(**link)  # someone else opens the copied link
    assert opened.segmented_control(key="drift_baseline").value == "previous"
    assert opened.segmented_control(key="drift_freq").value == "day"
    assert opened.selectbox(key="drift_column").value == "region"
    # "90 days to now" moves with the clock: the two sessions may sit either side of a minute's turn.
    assert [_clock_free(c.value) for c in opened.caption] == [_clock_free(c) for c in captions]

    at.switch_page("../pages/performance.py").run()
    at.switch_page("../pages/drift.py").run()  # the menu drops the URL's parameters; the session keeps them
    assert at.segmented_control(key="drift_freq").value == "day"
    assert at.selectbox(key="drift_column").value == "region"
