"""A deployment comparison on a model declared from a spec as a user does: shadow (paired by request) and
canary (different requests), every number pinned to scipy, statsmodels or scikit-learn on the same rows."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import f1_score, roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportions_ztest

from analytics import business, deployments, governance, registry, settings, store, users
from analytics.cli import main
from analytics.deployments import _paired as _pairs
from analytics.errors import InvalidInputError
from analytics.ingest import ingest
from analytics.roles import Actor
from analytics.window import Window

SPEC = """\
name = "churn-risk"
description = "Probability that a subscriber cancels within 90 days."
owner = "retention team"
positive_class = "churn"
favourable_decision = 0
decision_labels = {0 = "no outreach", 1 = "outreach"}

[[columns]]
name = "tenure"
type = "integer"

[[columns]]
name = "plan"
type = "categorical"
role = "segment"
"""
MODEL = "churn-risk"
SYSTEM = Actor("cli:dep-tests", "system")
PEOPLE = {"ana": "analyst", "rob": "reviewer", "pat": "approver", "adm": "admin"}
START = datetime(2026, 1, 1)
DAYS = 20
N = 3000  # champion requests
CANARY_FROM = 10


def _person(name: str) -> Actor:
    return Actor(name, PEOPLE[name])


def _rows(ids, version, role, score, rng, t, latency, request_ids=None):
    frame = pd.DataFrame({
        "prediction_id": [f"{version}-{i:05d}" for i in ids], "predicted_at": t, "model_version": version,
        "deployment_role": role, "score": np.round(score, 4), "decision": (np.round(score, 4) >= 0.5).astype(int),
        "latency_ms": np.round(rng.lognormal(np.log(latency), 0.3, len(ids)), 1), "cost": 0.001 if version == "v1" else 0.0012,
        "tenure": rng.integers(1, 60, len(ids)), "plan": rng.choice(["basic", "pro"], len(ids))})
    if request_ids is not None:
        frame["request_id"] = request_ids
    return frame


@pytest.fixture(scope="session")
def churn_template(tmp_path_factory):
    """The churn model registered from its spec; v1 champion, v2 shadow on every request (request_id), v3 a
    10% canary from day 10; labels for every row."""
    db = tmp_path_factory.mktemp("churn") / "churn.duckdb"
    spec = db.parent / "churn.toml"
    spec.write_text(SPEC)
    assert main(["--db", str(db), "models", "register", str(spec)]) == 0
    rng = np.random.default_rng(4)

    def setup(con):
        for name, role in PEOPLE.items():
            users.add_user(con, SYSTEM, name, role, password="correct-horse-battery")
        for i, v in enumerate(("v1", "v2", "v3")):
            registry.register_version(con, SYSTEM, MODEL, v, threshold=0.5, owner="ana", at=START - timedelta(days=60 - i))
        for v in ("v1", "v2", "v3"):
            governance.submit(con, _person("ana"), MODEL, v, "x", at=START - timedelta(days=30))
            governance.start_review(con, _person("rob"), MODEL, v, at=START - timedelta(days=29))
            governance.approve(con, _person("pat"), MODEL, v, "ok", at=START - timedelta(days=28))
        governance.promote(con, _person("pat"), MODEL, "v1", at=START - timedelta(days=1))
        governance.deploy_shadow(con, _person("pat"), MODEL, "v2", at=START)
        governance.start_canary(con, _person("pat"), MODEL, "v3", 0.1, at=START + timedelta(days=CANARY_FROM))

    store.write(setup, db)
    t = pd.Timestamp(START) + pd.to_timedelta(np.sort(rng.integers(0, DAYS * 86_400, N)), unit="s")
    label = rng.integers(0, 2, N)
    s1 = np.clip(0.5 + 0.25 * (label - 0.5) + rng.normal(0, 0.22, N), 0, 1)
    s2 = np.clip(s1 + 0.06 * (label - 0.5) + rng.normal(0, 0.08, N), 0, 1)
    ids = np.arange(N)
    requests = [f"r{i:05d}" for i in ids]
    champion = _rows(ids, "v1", "champion", s1, rng, t, 20.0, requests)
    shadow = _rows(ids, "v2", "shadow", s2, rng, t + pd.Timedelta(milliseconds=100), 26.0, requests)
    # the canary: 10% of the requests from day 10 (one in ten), scored by v3 instead of v1; no request_id
    late = np.flatnonzero(t >= pd.Timestamp(START + timedelta(days=CANARY_FROM)))
    moved = late[::10]
    canary = _rows(moved, "v3", "canary", np.clip(s1[moved] - 0.05, 0, 1), rng, t[moved], 30.0)
    champion = champion.drop(index=moved)
    frames = [champion, shadow, canary]
    for frame in frames:
        assert ingest(MODEL, frame, actor=SYSTEM, db=db).ok
    outcomes = pd.concat([pd.DataFrame({"prediction_id": f["prediction_id"], "observed_at": f["predicted_at"]
                                        + pd.Timedelta(days=1), "label": label[f.index], "business_value": np.nan})
                          for f in frames])
    assert ingest(MODEL, outcomes, kind="outcomes", actor=SYSTEM, db=db).ok
    return db, {"champion": champion.assign(label=label[champion.index]), "shadow": shadow.assign(label=label),
                "canary": canary.assign(label=label[moved]), "s1": s1, "s2": s2, "label": label}


def _row(result, key):
    return next(x for x in result.measures if x.key == key)


def test_shadow_is_paired_by_request_and_pinned_to_the_libraries(churn_template):
    db, data = churn_template
    r = deployments.compare(db, MODEL, baseline="v1", candidate="v2", sequential=False)
    idx = data["champion"].index  # the shadow's requests the champion served (not the canary's)
    assert r.design == "paired" and r.rows == {"pairs": len(idx)}
    label, s1, s2 = data["label"][idx], np.round(data["s1"], 4)[idx], np.round(data["s2"], 4)[idx]
    d1, d2 = (s1 >= 0.5).astype(int), (s2 >= 0.5).astype(int)
    assert _row(r, "agreement").result.candidate == pytest.approx(np.mean(d1 == d2))
    c1, c2 = d1 == label, d2 == label
    ref = mcnemar([[np.sum(c1 & c2), np.sum(c1 & ~c2)], [np.sum(~c1 & c2), np.sum(~c1 & ~c2)]], exact=False,
                  correction=True)
    assert _row(r, "accuracy").p_value == pytest.approx(ref.pvalue, rel=1e-9)
    auc = _row(r, "roc_auc").result
    assert auc.baseline == pytest.approx(roc_auc_score(label, s1)) and auc.candidate == pytest.approx(roc_auc_score(label, s2))
    f1 = _row(r, "f1").result
    assert f1.difference == pytest.approx(f1_score(label, d2) - f1_score(label, d1))
    assert f1.ci_low < f1.difference < f1.ci_high
    ks = _row(r, "score_ks").result
    # scores have 4 decimals: the 1,000 fine bins hold several, so D is within one bin's mass of scipy's
    ref_ks = stats.ks_2samp(s1, s2)
    assert ks.candidate == pytest.approx(ref_ks.statistic, abs=0.01)
    assert r.verdict in deployments.VERDICTS


def test_canary_is_unpaired_with_a_sample_ratio_check_pinned_to_the_libraries(churn_template):
    db, data = churn_template
    start = START + timedelta(days=CANARY_FROM)
    r = deployments.compare(db, MODEL, baseline="v1", candidate="v3", window=Window(start=start, end=START + timedelta(days=DAYS)),
                            sequential=False)
    # the shared period: from the canary's first row to just after the earlier of the two last rows
    assert r.start >= start and r.end <= START + timedelta(days=DAYS)
    inside = lambda f: f[(f["predicted_at"] >= pd.Timestamp(r.start)) & (f["predicted_at"] < pd.Timestamp(r.end))]  # noqa: E731
    champ, canary = inside(data["champion"]), inside(data["canary"])
    assert r.design == "unpaired" and r.rows == {"v1": len(champ), "v3": len(canary)}
    assert r.ratio is not None and r.ratio.expected_share == (pytest.approx(0.9), pytest.approx(0.1))
    assert r.ratio.p_value == pytest.approx(stats.chisquare([len(champ), len(canary)],
                                                            np.array([0.9, 0.1]) * (len(champ) + len(canary))).pvalue)
    sel = _row(r, "selection_rate")  # favourable decision 0: no outreach
    z, p = proportions_ztest([(canary["decision"] == 0).sum(), (champ["decision"] == 0).sum()], [len(canary), len(champ)])
    assert sel.p_value == pytest.approx(p) and sel.label == "Share no outreach"
    cost = _row(r, "cost_per_decision").result
    assert cost.difference == pytest.approx(0.0002)
    lat = _row(r, "latency_ms")
    ref = stats.mannwhitneyu(canary["latency_ms"], champ["latency_ms"], method="asymptotic")
    assert lat.p_value == pytest.approx(ref.pvalue, rel=1e-9) and lat.result.difference > 0
    assert lat.verdict == "worse"  # 30 ms against 20 ms
    assert r.verdict == "worse" and "Latency" in r.reason
    p99 = _row(r, "latency_p99")
    assert p99.verdict == "" and "no verdict" in p99.result.note  # fewer than 1,000 canary rows
    assert r.power["rows_needed_baseline"] > 0


def test_sequential_intervals_are_wider_and_a_margin_setting_applies(churn_template, tmp_path):
    db, _ = churn_template
    fixed = deployments.compare(db, MODEL, baseline="v1", candidate="v3", sequential=False)
    seq = deployments.compare(db, MODEL, baseline="v1", candidate="v3")
    a, b = _row(fixed, "cost_per_decision"), _row(seq, "cost_per_decision")
    assert b.ci_low < a.ci_low and b.ci_high > a.ci_high and b.p_value >= a.p_value
    copy = store.copy_store(db, tmp_path / "s")
    store.write(lambda con: settings.set_value(con, SYSTEM, "deployments.margins", "latency_ms=50", model=MODEL), copy)
    relaxed = deployments.compare(copy, MODEL, baseline="v1", candidate="v3")
    assert _row(relaxed, "latency_ms").verdict == "not worse"


def test_bad_requests_say_what_to_do(churn_template):
    db, _ = churn_template
    with pytest.raises(InvalidInputError, match="same version"):
        deployments.compare(db, MODEL, baseline="v1", candidate="v1")
    with pytest.raises(InvalidInputError, match="no version 'v9'"):
        deployments.compare(db, MODEL, baseline="v1", candidate="v9")
    empty = deployments.compare(db, MODEL, baseline="v1", candidate="v3", window=Window(end=START))
    assert empty.verdict == "keep collecting" and empty.measures == ()


def test_low_shadow_coverage_warns():
    low = deployments.ShadowCoverage(620, 1000, datetime(2026, 1, 1), datetime(2026, 1, 9), 0.9)
    assert low.share == pytest.approx(0.62) and low.low and "62.0%" in low.message() and "below the 90%" in low.message()
    ok = deployments.ShadowCoverage(950, 1000, datetime(2026, 1, 1), datetime(2026, 1, 9), 0.9)
    assert not ok.low and "below" not in ok.message()
    assert math.isnan(deployments.ShadowCoverage(0, 0, None, None, 0.9).share)


def test_verdict_rules():
    v = deployments.verdict
    assert v(0.01, 0.03, 0.001, higher_is_better=True, margin=0.01, alpha=0.05) == "better"
    assert v(-0.005, 0.03, 0.2, higher_is_better=True, margin=0.01, alpha=0.05) == "not worse"
    assert v(-0.05, -0.02, 0.001, higher_is_better=True, margin=0.01, alpha=0.05) == "worse"
    assert v(-0.05, 0.02, 0.3, higher_is_better=True, margin=0.01, alpha=0.05) == "keep collecting"
    assert v(-0.03, -0.01, 0.001, higher_is_better=False, margin=0.01, alpha=0.05) == "better"
    assert v(math.nan, math.nan, math.nan, higher_is_better=True, margin=0.01, alpha=0.05) == "keep collecting"


# --------------------------------------------------------------------------------------------------
# the shadow comparison from the per-day summaries kept in the store


def _same(a, b):
    """Two comparisons report the same figures (the time taken aside)."""
    x, y = a.to_dict(), b.to_dict()
    assert x == y


@pytest.fixture(scope="module")
def summarised(churn_template, tmp_path_factory):
    """A copy of the churn store with the shadow's paired summaries built (the original has none)."""
    db, _ = churn_template
    copy = store.copy_store(db, tmp_path_factory.mktemp("paired") / "s")
    done = deployments.refresh_paired(copy, MODEL)
    assert done == {MODEL: {"v1/v2": DAYS}}
    business.refresh_summaries(copy, MODEL)  # the shadow's coverage then counts whole hours from the serving summaries
    return copy


def test_shadow_from_the_stored_summaries_gives_the_log_s_figures(churn_template, summarised):
    db, data = churn_template
    assert store.read(lambda con: con.execute("SELECT count(*) FROM paired_summary_days").fetchone()[0], db) == 0
    # the whole log (every day from the store) and a window with partial edge days (those from the log)
    for start, end in [(None, None), (START + timedelta(days=2, hours=7), START + timedelta(days=15, hours=3))]:
        from_log = deployments.compare(db, MODEL, baseline="v1", candidate="v2", window=Window(start=start, end=end), sequential=False)
        stored = deployments.compare(summarised, MODEL, baseline="v1", candidate="v2", window=Window(start=start, end=end),
                                     sequential=False)
        assert stored.to_dict() == from_log.to_dict()
    # the stored path is pinned to the libraries as the log's is (the last window: days 2-15)
    inside = data["champion"][(data["champion"]["predicted_at"] >= pd.Timestamp(start))
                              & (data["champion"]["predicted_at"] < pd.Timestamp(end))].index
    label, s1, s2 = data["label"][inside], np.round(data["s1"], 4)[inside], np.round(data["s2"], 4)[inside]
    c1, c2 = (s1 >= 0.5) == label, (s2 >= 0.5) == label
    ref = mcnemar([[np.sum(c1 & c2), np.sum(c1 & ~c2)], [np.sum(~c1 & c2), np.sum(~c1 & ~c2)]], exact=False,
                  correction=True)
    assert stored.rows == {"pairs": len(inside)}
    # coverage: the champion's rows from the shadow's first to its last row in the window (the shadow logs 100 ms later)
    shadow_t = data["shadow"]["predicted_at"]
    shadow_t = shadow_t[(shadow_t >= pd.Timestamp(start)) & (shadow_t < pd.Timestamp(end))]
    t = data["champion"]["predicted_at"]
    assert stored.coverage.pairs == len(inside) and stored.coverage.first_at == shadow_t.min()
    assert stored.coverage.baseline_rows == int(t.between(shadow_t.min(), shadow_t.max()).sum())
    assert stored.coverage.share == 1.0 and not stored.coverage.low
    assert _row(stored, "accuracy").p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert _row(stored, "roc_auc").result.candidate == pytest.approx(roc_auc_score(label, s2), rel=1e-12)


def _both(db, start=None, end=None):
    """The paired summary from the store (None when no stored day answers) and from the log alone."""
    def work(con):
        info = registry.get_model(con, MODEL)
        return (_pairs.stored(con, info, None, "v1", "v2", start, end),
                _pairs.from_log(con, info, None, "v1", "v2", start, end))
    return store.read(work, db)


def _assert_same(a, b):
    assert a.cells == b.cells
    for name in ("scores", "values", "sample"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_dtype=False)


def _with_a_pair_across_midnight(summarised, tmp_path):
    """A copy of the summarised store with one more request, scored by v1 just before midnight (end of day 5)
    and by the shadow just after it; the copy and v1's time."""
    db = store.copy_store(summarised, tmp_path / "s")
    at = pd.Timestamp(START + timedelta(days=6)) - pd.Timedelta(milliseconds=40)
    rng = np.random.default_rng(9)
    pair = pd.concat([_rows([90_000], "v1", "champion", np.array([0.71]), rng, [at], 20.0, ["late-1"]),
                      _rows([90_000], "v2", "shadow", np.array([0.32]), rng, [at + pd.Timedelta(milliseconds=80)],
                            26.0, ["late-1"])])
    assert ingest(MODEL, pair, actor=SYSTEM, db=db).ok
    return db, at


def test_stored_summaries_follow_new_rows_late_labels_and_pairs_across_midnight(churn_template, summarised, tmp_path):
    data = churn_template[1]
    db, at = _with_a_pair_across_midnight(summarised, tmp_path)
    fresh, from_log = _both(db)  # days 5 and 6 changed: read from the log, the other 18 from the store
    assert fresh.stored_days == DAYS - 2 and fresh.pairs == from_log.pairs == len(data["champion"]) + 1
    _assert_same(fresh, from_log)
    label = pd.DataFrame({"prediction_id": ["v1-90000"], "observed_at": [at + pd.Timedelta(days=1)], "label": [1],
                          "business_value": [np.nan]})
    assert ingest(MODEL, label, kind="outcomes", actor=SYSTEM, db=db).ok
    assert _both(db)[0] is None  # a late label may change any day: the log answers until a refresh
    assert deployments.refresh_paired(db, MODEL) == {MODEL: {"v1/v2": 2}}  # days 5 and 6 (the label's day is 5)
    pairs = {}
    for start, end in [(None, None), (START + timedelta(days=5), START + timedelta(days=9)),
                       (START + timedelta(days=6), START + timedelta(days=9))]:
        stored, from_log = _both(db, start, end)
        assert stored.stored_days == ((end - start).days if start else DAYS)
        _assert_same(stored, from_log)
        pairs[start] = stored.pairs
    day5 = data["champion"]["predicted_at"].between(pd.Timestamp(START + timedelta(days=5)),
                                                    pd.Timestamp(START + timedelta(days=6)), inclusive="left")
    # the pair across midnight counts in a window holding both days, not in one holding only the shadow's day
    assert pairs[START + timedelta(days=5)] - pairs[START + timedelta(days=6)] == day5.sum() + 1
    # partial edge days: an edge inside a stored day pairs only with the days its stored summary names (day 5's
    # baseline rows with days 5 and 6, for the pair across midnight), and the figures are the log's
    for start, end in [(START + timedelta(days=5, hours=23), START + timedelta(days=9)),
                       (START + timedelta(days=3), START + timedelta(days=6, hours=1))]:
        stored, from_log = _both(db, start, end)
        assert stored.stored_days == 3
        _assert_same(stored, from_log)
    edge = (START + timedelta(days=5, hours=23), START + timedelta(days=6))
    run = (START + timedelta(days=6), START + timedelta(days=9))
    parts = store.read(lambda con: _pairs._edge_parts(con, MODEL, "v1", "v2", (edge[0], run[1]), [run], [edge],
                                                       {(START + timedelta(days=i)).date() for i in range(DAYS)},
                                                       [(START + timedelta(days=i)).date() for i in range(DAYS)]), db)
    # the candidate's rows on days 5 and 6 within the window, not the whole window
    assert parts == [(edge, (edge[0], START + timedelta(days=7)))]


def test_stored_summaries_built_a_day_at_a_time_count_a_pair_across_midnight_once(churn_template, summarised, tmp_path):
    """A refresh builds its stale days in parts (summaries.build_part_rows); a pair whose rows lie in two parts
    is counted by the part of its baseline row only."""
    db, _ = _with_a_pair_across_midnight(summarised, tmp_path)
    store.write(lambda con: settings.set_value(con, SYSTEM, "summaries.build_part_rows", 1), db)  # a day per part
    assert deployments.refresh_paired(db, MODEL) == {MODEL: {"v1/v2": 2}}  # days 5 and 6, one part each
    for start, end in [(None, None), (START + timedelta(days=5), START + timedelta(days=7)),
                       (START + timedelta(days=6), START + timedelta(days=7))]:
        stored, from_log = _both(db, start, end)
        assert stored.stored_days == ((end - start).days if start else DAYS)
        _assert_same(stored, from_log)


def test_deployable_versions_count_from_the_serving_summaries_as_from_the_log(churn_template, summarised, monkeypatch):
    """The page's version picker counts each version's predictions from the serving summaries (every day
    summarised) with the log's numbers."""
    from analytics.deployments import _rollout

    data = churn_template[1]
    assert store.read(lambda con: business.serving_summaries_current(con, registry.get_model(con, MODEL)), summarised)
    from_summaries = deployments.deployable_versions(summarised, MODEL)
    monkeypatch.setattr(_rollout, "serving_summaries_current", lambda con, info: False)
    from_log = deployments.deployable_versions(summarised, MODEL)
    pd.testing.assert_frame_equal(from_summaries, from_log)
    counts = dict(zip(from_log["version"], from_log["predictions"]))
    assert counts["v1"] == len(data["champion"]) and counts["v2"] == len(data["shadow"]) and counts["v3"] > 0
