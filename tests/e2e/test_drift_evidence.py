"""In Chromium, on the demo: a segment's drift leaves the segment column out (issue 13, item 1), and drift
over time is computed against the baseline the user chose, as its chart says (item 2).

The context comes from a link (model, a custom window, region = Kaohsiung); the numbers the chart
draws are read from Plotly's own data in the page and compared with :func:`analytics.drift.drift_over_time`.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from e2e_support import problems, screenshot, settle, sign_in

from analytics import drift, registry, store
from analytics.window import Window

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-own-model")]  # beside the own-model test: balances the browser groups

MODEL = "credit-default"
#: Days 90-119 of the demo (a quiet month); the window before it, days 60-89, is the covariate episode.
START, END = datetime(2026, 8, 3), datetime(2026, 9, 2)
PREVIOUS = (datetime(2026, 7, 4), datetime(2026, 8, 3))
LINK = "model=credit-default&window=custom&start=2026-08-03&end=2026-09-01&segment=region&segment_value=Kaohsiung"

OVER_TIME = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .filter(p => p.layout && p.layout.title && String(p.layout.title.text).includes(' per week, against '))
    .map(p => ({title: String(p.layout.title.text),
                traces: p._fullData.filter(t => t.type === 'scatter').map(t => ({
                    name: t.name,
                    x: Array.from(t.x).map(v => typeof v === 'number' ? new Date(v).toISOString() : String(v)),
                    y: Array.from(t.y)}))}))"""


def _analyst(credentials):
    return next((name, password) for name, (role, password) in credentials.items() if role == "analyst")


def _open_drift_of_kaohsiung(page, server, credentials):
    sign_in(page, server.url, *_analyst(credentials), at="Drift")
    page.evaluate(f"window.history.pushState({{}}, '', window.location.pathname + '?{LINK}')")
    page.evaluate("window.dispatchEvent(new PopStateEvent('popstate'))")
    settle(page)


def test_a_segment_leaves_its_own_column_out_and_drift_over_time_is_against_the_chosen_baseline(
        e2e_store, streamlit_server, page, screenshots):
    """One visit of the page (a browser visit is the costly part): the segment's table first (item 1), then
    the baseline switched to the window just before, and the chart's figures (item 2)."""
    _open_drift_of_kaohsiung(page, streamlit_server, e2e_store.credentials)
    shot = screenshot(page, screenshots, "drift-segment-kaohsiung")
    assert problems(page) == [], shot
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "region is left out" in text and "region is Kaohsiung on both sides" in text, shot
    assert "reference data of v1, region = Kaohsiung" in text, shot
    declared = len(store.read(lambda con: registry.get_model(con, MODEL), e2e_store.db).schema.columns)
    assert f"of {declared}" in page.locator('[data-testid="stMetric"]').first.inner_text()   # + score - region

    page.get_by_text("The window of the same length just before", exact=True).click()
    settle(page)
    shot = screenshot(page, screenshots, "drift-over-time-previous-window")
    assert problems(page) == [], shot
    charts = page.evaluate(OVER_TIME)
    assert charts, f"no drift-over-time chart ({shot})"
    window = Window(start=START, end=END, segment="region", segment_value="Kaohsiung")
    expected = drift.drift_over_time(e2e_store.db, MODEL, window=window, freq="week", baseline=window.between(*PREVIOUS))
    assert "2026-07-04 00:00 to 2026-08-03 00:00 UTC" in expected.reference_label
    table = expected.table.set_index(["column", "period"])
    checked = 0
    for chart in charts:
        assert expected.reference_label in chart["title"], chart["title"]
        for trace in chart["traces"]:
            for x, y in zip(trace["x"], trace["y"]):
                want = table.loc[(trace["name"], datetime.fromisoformat(x[:10])), "statistic"]
                assert y == pytest.approx(want, rel=1e-9), (trace["name"], x)
                checked += 1
    assert checked >= 4
