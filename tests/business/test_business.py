"""Business KPIs, threshold what-if, cost and latency: every number pinned to pandas / numpy / fairlearn
computed on the same rows, written with the real ingest into a store in ``tmp_path``."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_ratio

from analytics import audit, business, ingest, registry, settings, store
from analytics.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from analytics.window import Window
from lifecycle_support import put_in_status

SYSTEM = Actor("cli:tests", "system")
ADMIN = Actor("ada", "admin")
VIEWER = Actor("vera", "viewer")
MODEL = "loan"
START = datetime(2025, 1, 1)
DAYS = 20
NOW = START + timedelta(days=DAYS, hours=5)
SCHEMA = LogSchema(
    columns=(
        Column("LIMIT_BAL", "double"),
        Column("region", "categorical", role="segment"),
        Column("SEX", "categorical", role="attribute", sensitive=True),
    ),
    positive_class="default", favourable_decision=0,
)
DEFINITION = business.KpiDefinition(
    model=MODEL, currency="NT$", selected_decision=0, selected_label="approved", bad_label=1, bad_name="default",
    amount_column="LIMIT_BAL", value_selected_good=0.05, value_selected_bad=-0.25, value_rejected_good=-0.05,
    value_rejected_bad=0.0, fairness_attribute="SEX",
    targets={"selection_rate": 0.6, "bad_rate_selected": 0.3, "profit_per_decision": 100.0},
    source="tests")


def _frames(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Champion v1 for 20 days, shadow v2 mirroring days 10-19 (+150 ms); outcomes for ~70% of rows."""
    rng = np.random.default_rng(seed)
    n = 6000
    at = pd.Timestamp(START) + pd.to_timedelta(np.sort(rng.uniform(0, DAYS * 86400, n)), unit="s").round("ms")
    sex = rng.choice(["female", "male"], n, p=[0.45, 0.55])
    score = np.clip(rng.beta(2, 5, n) + np.where(sex == "male", 0.05, 0.0), 0, 1).round(4)
    score[:5] = [0.5, 0.25, 0.0, 0.99, 0.3]  # exact grid points and the edges
    limit = rng.choice([20_000.0, 50_000.0, 120_000.0, 300_000.0], n)
    label = (rng.uniform(0, 1, n) < score).astype("int64")
    champion = pd.DataFrame({
        "prediction_id": [f"c{i:06d}" for i in range(n)], "predicted_at": at, "model_version": "v1",
        "deployment_role": "champion", "score": score, "decision": (score >= 0.5).astype("int64"),
        "latency_ms": np.round(rng.lognormal(np.log(30), 0.4, n), 2), "cost": 0.0004,
        "LIMIT_BAL": limit, "region": rng.choice(["north", "south", "east"], n), "SEX": sex,
    })
    champion.loc[7, "SEX"] = None  # a missing attribute is left out of the parity ratio
    mirrored = champion[champion["predicted_at"] >= pd.Timestamp(START + timedelta(days=10))]
    shadow_score = np.clip(mirrored["score"].to_numpy() + rng.normal(0, 0.05, len(mirrored)), 0, 1).round(4)
    shadow = mirrored.assign(
        prediction_id=[f"s{i:06d}" for i in range(len(mirrored))],
        predicted_at=mirrored["predicted_at"] + pd.Timedelta(milliseconds=150), model_version="v2",
        deployment_role="shadow", score=shadow_score, decision=(shadow_score >= 0.4).astype("int64"),
        latency_ms=np.round(rng.lognormal(np.log(45), 0.4, len(mirrored)), 2), cost=0.0006)
    preds = pd.concat([champion, shadow], ignore_index=True)
    labels = np.concatenate([label, label[mirrored.index.to_numpy()]])
    known = rng.uniform(0, 1, len(preds)) < 0.7
    outcomes = pd.DataFrame({"prediction_id": preds["prediction_id"][known].to_numpy(),
                             "observed_at": (preds["predicted_at"] + pd.Timedelta(days=1))[known].to_numpy(),
                             "label": labels[known], "business_value": 0.0})
    return preds, outcomes


@pytest.fixture(scope="module")
def loan(tmp_path_factory):
    """A store with the loan model, its logs and outcomes, and its KPI definition; and the frames."""
    db = tmp_path_factory.mktemp("business") / "vigil.duckdb"

    def register(con):
        registry.register_model(con, SYSTEM, MODEL, SCHEMA, owner="tests")
        registry.register_version(con, SYSTEM, MODEL, "v1", threshold=0.5, owner="tests",
                                  at=START - timedelta(days=30))
        put_in_status(con, MODEL, "v1", "champion", at=START - timedelta(days=30))
        registry.register_version(con, SYSTEM, MODEL, "v2", threshold=0.4, owner="tests",
                                  at=START)
        put_in_status(con, MODEL, "v2", "shadow", at=START)
        business.save_definition(con, ADMIN, DEFINITION)

    store.write(register, db)
    preds, outcomes = _frames()
    assert ingest.ingest(MODEL, preds, actor=SYSTEM, db=db).ok
    assert ingest.ingest(MODEL, outcomes, kind="outcomes", actor=SYSTEM, db=db).ok
    business.refresh_summaries(db, MODEL)  # as `vigil ingest` does after its commit: readers only read them
    joined = preds.merge(outcomes[["prediction_id", "label"]], on="prediction_id", how="left")
    return db, joined


# --------------------------------------------------------------------------------------------------
# pandas reference computations on the same rows


def _reference_kpis(rows: pd.DataFrame, d: business.KpiDefinition = DEFINITION) -> dict[str, float]:
    sel = rows["decision"] == d.selected_decision
    labelled = rows["label"].notna()
    good, bad = rows["label"] == 1 - d.bad_label, rows["label"] == d.bad_label
    amt = rows[d.amount_column]
    p_bad = rows["score"]
    revenue = d.value_selected_good * amt[sel & good].sum()
    loss = -d.value_selected_bad * amt[sel & bad].sum()
    known = rows["SEX"].notna()
    dpr = demographic_parity_ratio(rows.loc[known, "label"].fillna(0), sel[known].astype(int),
                                   sensitive_features=rows.loc[known, "SEX"])
    return {
        "predictions": len(rows), "selection_rate": sel.mean(),
        "expected_bad_rate_selected": p_bad[sel].mean(),
        "expected_loss": -d.value_selected_bad * (p_bad * amt)[sel].sum(),
        "expected_profit": d.value_selected_good * ((1 - p_bad) * amt)[sel].sum()
        + d.value_selected_bad * (p_bad * amt)[sel].sum(),
        "labelled": labelled.sum(), "bad_rate_selected": (sel & bad).sum() / (sel & labelled).sum(),
        "revenue": revenue, "realised_loss": loss, "profit": revenue - loss,
        "profit_per_decision": (revenue - loss) / labelled.sum(),
        "opportunity_cost": -d.value_rejected_good * amt[~sel & good].sum(),
        "demographic_parity_ratio": dpr,
    }


def _window(rows: pd.DataFrame, start: datetime | None, end: datetime | None, version: str | None = None):
    keep = pd.Series(True, index=rows.index)
    if start is not None:
        keep &= rows["predicted_at"] >= pd.Timestamp(start)
    if end is not None:
        keep &= rows["predicted_at"] < pd.Timestamp(end)
    keep &= (rows["model_version"] == version) if version else (rows["deployment_role"] != "shadow")
    return rows[keep]


# --------------------------------------------------------------------------------------------------
# KPIs


def test_kpis_match_pandas_and_fairlearn_with_previous_period_and_targets(loan):
    db, rows = loan
    start = NOW - timedelta(days=8)
    result = business.kpis(db, MODEL, now=NOW, window=Window(start=start))
    table = result.table.set_index("key")
    expected = _reference_kpis(_window(rows, start, None))
    before = _reference_kpis(_window(rows, start - (NOW - start), start))
    for key, value in expected.items():
        assert table.loc[key, "value"] == pytest.approx(value, rel=1e-9), key
        assert table.loc[key, "previous"] == pytest.approx(before[key], rel=1e-9), key
    assert 0 < expected["demographic_parity_ratio"] < 1
    assert result.rows == expected["predictions"] and result.labelled == expected["labelled"]
    assert table.loc["selection_rate", "target"] == 0.6
    assert table.loc["selection_rate", "vs_target"] == pytest.approx(expected["selection_rate"] - 0.6)
    assert table.loc["selection_rate", "meets_target"] == (expected["selection_rate"] >= 0.6)
    assert table.loc["bad_rate_selected", "meets_target"] == (expected["bad_rate_selected"] <= 0.3)
    assert table.loc["profit", "change"] == pytest.approx(expected["profit"] - before["profit"], rel=1e-9)


def test_kpis_per_segment_and_for_a_shadow_version(loan):
    db, rows = loan
    result = business.kpis(db, MODEL, now=NOW, by="region")
    seg = result.segments.set_index("segment")
    window = _window(rows, None, None)
    assert sorted(seg.index) == ["east", "north", "south"]
    for region, part in window.groupby("region"):
        ref = _reference_kpis(part)
        for key in ("selection_rate", "profit", "expected_loss", "bad_rate_selected", "demographic_parity_ratio"):
            assert seg.loc[region, key] == pytest.approx(ref[key], rel=1e-9), (region, key)
    assert not result.has_previous and np.isnan(result.table.set_index("key").loc["profit", "previous"])
    shadow = business.kpis(db, MODEL, now=NOW, window=Window(version="v2", segment="region", segment_value="north"))
    ref = _reference_kpis(_window(rows, None, None, "v2").query("region == 'north'"))
    assert shadow.value("profit") == pytest.approx(ref["profit"], rel=1e-9)
    assert shadow.value("predictions") == ref["predictions"]


def test_definition_is_kept_in_the_store_changed_by_admins_and_audited(loan, tmp_path):
    db, _ = loan
    assert store.read(lambda con: business.get_definition(con, MODEL), db) == DEFINITION
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: business.save_definition(con, VIEWER, DEFINITION), db)
    with pytest.raises(InvalidInputError, match="negative"):
        business.with_changes(DEFINITION, value_selected_bad=0.25)
    with pytest.raises(InvalidInputError, match="not a column"):
        store.write(lambda con: business.save_definition(con, ADMIN, business.with_changes(
            DEFINITION, amount_column="nope")), db)
    with pytest.raises(NotFoundError, match="no business KPI definition"):
        store.read(lambda con: business.get_definition(con, "other"), db)
    log = store.read(lambda con: audit.entries(con, object_type="kpi_definition"), db)
    assert (log["action"] == "kpi_definition.save").sum() == 1 and log["actor"].iloc[0] == "ada"


def test_changing_the_value_matrix_changes_the_profit(loan, tmp_path):
    db, rows = loan
    path = store.copy_store(db, tmp_path / "s")
    changed = business.with_changes(DEFINITION, value_selected_good=0.1, amount_column=None, currency="USD")
    store.write(lambda con: business.save_definition(con, ADMIN, changed), path)
    got = business.kpis(path, MODEL, now=NOW).value("profit")
    window = _window(rows, None, None)
    sel = window["decision"] == 0
    assert got == pytest.approx(0.1 * (sel & (window["label"] == 0)).sum() - 0.25 * (sel & (window["label"] == 1)).sum())


# --------------------------------------------------------------------------------------------------
# Threshold what-if


def test_threshold_whatif_matches_pandas_and_fairlearn_at_every_grid_threshold(loan):
    db, rows = loan
    result = business.threshold_whatif(db, MODEL)
    window = _window(rows, None, None, "v1")
    assert result.version == "v1" and result.current_threshold == 0.5 and result.rows == len(window)
    profits = {}
    for k in range(0, 101):
        t = k / 100
        selected = window["score"] < t  # approved unless score >= threshold
        good, bad = window["label"] == 0, window["label"] == 1
        realised = 0.05 * window.loc[selected & good, "LIMIT_BAL"].sum() - 0.25 * window.loc[selected & bad, "LIMIT_BAL"].sum()
        profits[t] = realised
        row = result.curve.iloc[k]
        assert row["threshold"] == t
        assert row["selection_rate"] == pytest.approx(selected.mean(), abs=1e-12), t
        assert row["realised_profit"] == pytest.approx(realised, rel=1e-9, abs=1e-6), t
        expected = (0.05 * ((1 - window["score"]) * window["LIMIT_BAL"])[selected].sum()
                    - 0.25 * (window["score"] * window["LIMIT_BAL"])[selected].sum())
        assert row["expected_profit"] == pytest.approx(expected, rel=1e-9, abs=1e-6), t
        if k in (20, 35, 50, 80):
            known = window["SEX"].notna()
            dpr = demographic_parity_ratio(window.loc[known, "label"].fillna(0), selected[known].astype(int),
                                           sensitive_features=window.loc[known, "SEX"])
            assert row["demographic_parity_ratio"] == pytest.approx(dpr, rel=1e-12), t
    best = max(profits.values())
    assert profits[result.best_threshold] == pytest.approx(best)
    assert result.best_basis == "realised"
    # at the current threshold the what-if reproduces the logged decisions
    assert result.at(0.5)["selection_rate"] == pytest.approx((window["decision"] == 0).mean())


# --------------------------------------------------------------------------------------------------
# Cost and budget


def test_cost_per_day_version_and_decision_match_pandas(loan):
    db, rows = loan
    start = NOW - timedelta(days=8)
    result = business.cost(db, MODEL, now=NOW, window=Window(start=start))
    window = rows[rows["predicted_at"] >= pd.Timestamp(start)]
    live_selected = ((window["decision"] == 0) & (window["deployment_role"] != "shadow")).sum()
    s = result.summary
    assert s["predictions"] == len(window)
    assert s["cost_usd"] == pytest.approx(window["cost"].sum())
    assert s["cost_per_1000_usd"] == pytest.approx(window["cost"].sum() / len(window) * 1000)
    assert s["cost_per_selected_usd"] == pytest.approx(window["cost"].sum() / live_selected)
    ref = window.assign(day=window["predicted_at"].dt.floor("D")).groupby(["day", "model_version"])["cost"].agg(["sum", "count"])
    got = result.daily.assign(day=pd.to_datetime(result.daily["day"])).set_index(["day", "version"])
    assert len(got) == len(ref)
    for (day, version), r in ref.iterrows():
        assert got.loc[(day, version), "cost_usd"] == pytest.approx(r["sum"])
        assert got.loc[(day, version), "predictions"] == r["count"]
    v2 = result.by_version.set_index("version").loc["v2"]
    assert v2["cost_per_1000_usd"] == pytest.approx(0.6) and np.isnan(v2["cost_per_selected_usd"])
    prev = rows[(rows["predicted_at"] >= pd.Timestamp(start - (NOW - start))) & (rows["predicted_at"] < pd.Timestamp(start))]
    assert s["cost_usd_previous"] == pytest.approx(prev["cost"].sum())


def test_budget_forecast_and_infrastructure_entries(loan, tmp_path):
    db, rows = loan
    path = store.copy_store(db, tmp_path / "s")
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: business.add_infra_cost(con, VIEWER, model=MODEL, category="compute", amount_usd=1.0,
                                                        period_start=date(2025, 1, 1), period_end=date(2025, 1, 31)), path)
    with pytest.raises(InvalidInputError, match="ends before"):
        store.write(lambda con: business.add_infra_cost(con, ADMIN, model=MODEL, category="compute", amount_usd=1.0,
                                                        period_start=date(2025, 1, 31), period_end=date(2025, 1, 1)), path)
    store.write(lambda con: business.add_infra_cost(con, ADMIN, model=MODEL, category="compute", amount_usd=31.0,
                                                    period_start=date(2025, 1, 1), period_end=date(2025, 1, 31),
                                                    description="cluster"), path)
    store.write(lambda con: settings.set_value(con, ADMIN, business.MONTHLY_BUDGET.key, 20.0, model=MODEL), path)
    b = business.cost(path, MODEL, now=NOW).budget
    month = rows[rows["predicted_at"] < pd.Timestamp(NOW)]
    recent = rows[(rows["predicted_at"] >= pd.Timestamp(NOW - timedelta(days=7))) & (rows["predicted_at"] < pd.Timestamp(NOW))]
    elapsed = (NOW - datetime(2025, 1, 1)).total_seconds() / 86400
    days_left = 31 - elapsed
    assert b["budget_usd"] == 20.0 and b["month"] == date(2025, 1, 1)
    assert b["log_usd"] == pytest.approx(month["cost"].sum())
    assert b["infra_usd"] == pytest.approx(elapsed)  # USD 1 a day so far
    assert b["forecast_usd"] == pytest.approx(month["cost"].sum() + recent["cost"].sum() / 7 * days_left + 31.0)
    assert b["forecast_share"] == pytest.approx(b["forecast_usd"] / 20.0)
    entries = business.infra_costs(path, MODEL)
    assert entries["amount_usd"].tolist() == [31.0] and entries["days"].tolist() == [31]
    log = store.read(lambda con: audit.entries(con, object_type="infra_cost"), path)
    assert log["action"].tolist() == ["infra_cost.add"] and log["actor"].tolist() == ["ada"]
    window = business.cost(path, MODEL, now=NOW, window=Window(start=datetime(2025, 1, 11), end=datetime(2025, 1, 21)))
    assert window.summary["infra_usd"] == pytest.approx(10.0)


# --------------------------------------------------------------------------------------------------
# Latency


def test_latency_percentiles_match_numpy_linear_and_breaches_follow_the_sla(loan, tmp_path):
    db, rows = loan
    result = business.latency(db, MODEL)
    assert result.sla_ms == 100.0 and result.sla_percentile == "p95"  # the declared defaults
    for version, part in rows.groupby("model_version"):
        got = result.by_version.set_index("version").loc[version]
        for q, col in ((50, "p50_ms"), (95, "p95_ms"), (99, "p99_ms")):
            assert got[col] == pytest.approx(np.percentile(part["latency_ms"], q, method="linear"), abs=1e-9)
        hourly = part.groupby(part["predicted_at"].dt.floor("h")).size()
        assert got["peak_per_second"] == pytest.approx(hourly.max() / 3600)
    daily = rows.assign(day=rows["predicted_at"].dt.floor("D"))
    got = result.daily.assign(day=pd.to_datetime(result.daily["day"])).set_index(["day", "version"])
    for (day, version), part in daily.groupby(["day", "model_version"]):
        assert got.loc[(day, version), "p95_ms"] == pytest.approx(np.percentile(part["latency_ms"], 95), abs=1e-9)
    # tighten the SLA to p50 < 40 ms: v2 (median ~45 ms) breaches every day, v1 (~30 ms) none
    path = store.copy_store(db, tmp_path / "s")

    def tighten(con):
        settings.set_value(con, ADMIN, business.SLA_MS.key, 40.0, model=MODEL)
        settings.set_value(con, ADMIN, business.SLA_PERCENTILE.key, "p50", model=MODEL)

    store.write(tighten, path)
    tight = business.latency(path, MODEL)
    assert set(tight.breaches["version"]) == {"v2"} and len(tight.breaches) == 10
    assert (tight.breaches["over_ms"] == tight.breaches["p50_ms"] - 40.0).all()
    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: settings.set_value(con, VIEWER, business.SLA_MS.key, 1.0, model=MODEL), path)


# --------------------------------------------------------------------------------------------------
# Champion against challenger


def test_champion_and_challenger_on_the_same_traffic(loan):
    db, rows = loan
    comp = business.champion_challenger(db, MODEL, now=NOW)
    assert (comp.champion, comp.challenger) == ("v1", "v2")
    shadow = rows[rows["model_version"] == "v2"]
    first_mirrored = shadow["predicted_at"].min() - pd.Timedelta(milliseconds=150)
    assert comp.start == first_mirrored.floor("h")
    shared = rows[(rows["predicted_at"] >= comp.start) & (rows["predicted_at"] < comp.end)]
    table = comp.table.set_index("key")
    for version, column in (("v1", "champion"), ("v2", "challenger")):
        part = shared[shared["model_version"] == version]
        ref = _reference_kpis(part)
        assert comp.rows[version] == len(part)
        for key in ("selection_rate", "profit", "expected_loss", "bad_rate_selected"):
            assert table.loc[key, column] == pytest.approx(ref[key], rel=1e-9), (version, key)
        assert table.loc["cost_per_1000_usd", column] == pytest.approx(part["cost"].mean() * 1000)
    assert table.loc["profit", "difference"] == pytest.approx(table.loc["profit", "challenger"] - table.loc["profit", "champion"])
    # both versions saw the same applicants: the champion's rows of the period are exactly the mirrored ones
    assert comp.rows["v1"] == comp.rows["v2"] == len(shadow)


def test_hourly_rollup_answers_a_mid_hour_window_exactly(loan):
    db, rows = loan
    start, end = NOW - timedelta(days=6, minutes=17, seconds=5), NOW - timedelta(hours=30, minutes=41)

    def sums(use_rollup: bool, by=None, **filters):
        def work(con):
            from analytics.business._common import open_model
            info = open_model(con, MODEL)
            return business.kpi_sums(con, info, DEFINITION, now=NOW, window=Window(start, end, **filters), by=by,
                                     use_rollup=use_rollup)
        return store.read(work, db)

    for kw in ({}, {"by": "region"}, {"version": "v2", "segment": "region", "segment_value": "east"}):
        fast, exact = sums(True, **kw), sums(False, **kw)
        assert fast[["period", "group", "attribute"]].values.tolist() == exact[["period", "group", "attribute"]].values.tolist()
        pd.testing.assert_frame_equal(fast[list(business.SUM_COLUMNS)], exact[list(business.SUM_COLUMNS)], rtol=1e-12)
    result = business.kpis(db, MODEL, now=NOW, window=Window(start=start, end=end))
    ref = _reference_kpis(_window(rows, start, end))
    for key, value in ref.items():
        assert result.value(key) == pytest.approx(value, rel=1e-9), key


def test_daily_rollup_of_the_what_if_equals_the_exact_cells(loan):
    db, _ = loan
    from analytics.business._common import open_model
    from analytics.business._whatif import threshold_cells

    start, end = NOW - timedelta(days=9, hours=3, minutes=2), NOW - timedelta(hours=7)

    def cells(use_rollup):
        def work(con):
            frame = threshold_cells(con, open_model(con, MODEL), DEFINITION, window=Window(start=start, end=end, version="v2"),
                                    use_rollup=use_rollup)
            return frame.sort_values(["cell", "group", "label"]).reset_index(drop=True)
        return store.read(work, db)

    fast, exact = cells(True), cells(False)
    pd.testing.assert_frame_equal(fast, exact, check_dtype=False, rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# Serving summaries (per-day, keyed by the log segments): same answers as the log, refreshed by ingests


def test_histogram_quantile_equals_numpy_linear_with_ties():
    from analytics.business._serving import histogram_quantile

    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 10, 997):
        data = np.round(rng.lognormal(np.log(30), 0.5, n), 1)  # few distinct values: many ties
        values, counts = np.unique(data, return_counts=True)
        for q in (0.0, 0.01, 0.25, 0.5, 0.95, 0.99, 0.999, 1.0):
            assert histogram_quantile(values, counts, q) == pytest.approx(
                np.percentile(data, 100 * q, method="linear"), rel=1e-14, abs=1e-12), (n, q)


def _same(fast, exact):
    for field in fast.__dataclass_fields__:
        a, b = getattr(fast, field), getattr(exact, field)
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, rtol=1e-9, check_exact=False, obj=field)
        elif isinstance(a, dict):
            assert a.keys() == b.keys()
            for key in a:
                if isinstance(a[key], float):
                    assert a[key] == pytest.approx(b[key], rel=1e-9, nan_ok=True), (field, key)
                else:
                    assert a[key] == b[key], (field, key)
        else:
            assert a == b, field


def test_summaries_answer_mid_hour_windows_as_the_log_and_numpy_do(loan):
    db, rows = loan
    windows = [(NOW - timedelta(days=8, hours=3, minutes=17), None, None),
               (NOW - timedelta(days=12, minutes=41), NOW - timedelta(days=2, hours=6, minutes=5), "v2"),
               (None, NOW - timedelta(days=15, minutes=1), None)]
    for start, end, version in windows:
        _same(business.cost(db, MODEL, now=NOW, window=Window(start=start, end=end, version=version)),
              business.cost(db, MODEL, now=NOW, window=Window(start=start, end=end, version=version), use_summaries=False))
        fast = business.latency(db, MODEL, window=Window(start=start, end=end, version=version))
        _same(fast, business.latency(db, MODEL, window=Window(start=start, end=end, version=version), use_summaries=False))
        _same(business.champion_challenger(db, MODEL, now=NOW, window=Window(start=start, end=end)),
              business.champion_challenger(db, MODEL, now=NOW, window=Window(start=start, end=end), use_summaries=False))
        # and both are numpy's percentiles of the window's rows (partial first and last days included)
        window = rows[(rows["predicted_at"] >= pd.Timestamp(start or datetime.min))
                      & (rows["predicted_at"] < pd.Timestamp(end or datetime.max))]
        if version:
            window = window[window["model_version"] == version]
        for v, part in window.groupby("model_version"):
            got = fast.by_version.set_index("version").loc[v]
            for q in (50, 95, 99):
                assert got[f"p{q}_ms"] == pytest.approx(np.percentile(part["latency_ms"], q), abs=1e-9), (v, q)
            assert got["max_ms"] == part["latency_ms"].max() and got["predictions"] == len(part)
            assert got["peak_per_second"] == pytest.approx(
                part.groupby(part["predicted_at"].dt.floor("h")).size().max() / 3600)
            first_day = part[part["predicted_at"].dt.floor("D") == part["predicted_at"].min().floor("D")]
            daily = fast.daily.assign(day=pd.to_datetime(fast.daily["day"])).set_index(["day", "version"])
            assert daily.loc[(first_day["predicted_at"].min().floor("D"), v), "p95_ms"] == pytest.approx(
                np.percentile(first_day["latency_ms"], 95), abs=1e-9)


def test_an_ingest_into_summarised_days_refreshes_only_those_days(loan, tmp_path):
    from analytics import summaries

    db, rows = loan
    path = store.copy_store(db, tmp_path / "s")
    business.refresh_summaries(path, MODEL)  # summarises every day
    built = store.read(lambda con: con.execute(
        "SELECT day, built_at FROM summary_ledger WHERE summary = 'serving' AND model_name = ?", [MODEL]).df(), path)
    assert len(built) == DAYS
    # Late-logged predictions for days already summarised, far slower and dearer than the rest.
    extra = rows[rows["prediction_id"].str.startswith("c")].iloc[:0].copy()
    rng = np.random.default_rng(11)
    at = pd.Timestamp(START + timedelta(days=4, hours=23, minutes=50)) + pd.to_timedelta(
        np.concatenate([rng.uniform(0, 1200, 250), rng.uniform(7 * 86400, 7 * 86400 + 1200, 50)]), unit="s")
    extra = pd.DataFrame({
        "prediction_id": [f"late{i:04d}" for i in range(300)], "predicted_at": at.round("ms"), "model_version": "v1",
        "deployment_role": "champion", "score": 0.2, "decision": 0, "latency_ms": np.round(rng.uniform(500, 900, 300), 2),
        "cost": 0.01, "LIMIT_BAL": 50_000.0, "region": "north", "SEX": "female"})
    # Two ingests (two segments, each overlapping two days): the days to rebuild are not one unbroken run.
    assert ingest.ingest(MODEL, extra.iloc[:250], actor=SYSTEM, db=path).ok
    assert ingest.ingest(MODEL, extra.iloc[250:], actor=SYSTEM, db=path).ok
    touched = {START.date() + timedelta(days=d) for d in (4, 5, 11, 12)}
    assert store.read(lambda con: set(summaries.stale_days(con, "serving", MODEL)[0]), path) == touched
    # Readers never write: the answer then comes from the log, still right.
    via_connection = store.read(lambda con: business.latency(con, MODEL), path)
    from_log = business.latency(path, MODEL)
    assert store.read(lambda con: set(summaries.stale_days(con, "serving", MODEL)[0]), path) == touched
    assert business.refresh_summaries(path, MODEL)[MODEL]["serving"] == len(touched)
    result = business.latency(path, MODEL)
    assert store.read(lambda con: summaries.stale_days(con, "serving", MODEL), path) == ([], [])
    after = store.read(lambda con: con.execute(
        "SELECT day, built_at FROM summary_ledger WHERE summary = 'serving' AND model_name = ?", [MODEL]).df(), path)
    changed = after.merge(built, on="day", suffixes=("", "_before")).query("built_at != built_at_before")
    assert set(pd.to_datetime(changed["day"]).dt.date) == touched
    everything = pd.concat([rows, extra], ignore_index=True)
    for got in (result, via_connection, from_log):
        for version, part in everything.groupby("model_version"):
            row = got.by_version.set_index("version").loc[version]
            for q in (50, 95, 99):
                assert row[f"p{q}_ms"] == pytest.approx(np.percentile(part["latency_ms"], q), abs=1e-9)
        daily = got.daily.assign(day=pd.to_datetime(got.daily["day"])).set_index(["day", "version"])
        for day in touched:
            part = everything[(everything["predicted_at"].dt.date == day) & (everything["model_version"] == "v1")]
            assert daily.loc[(pd.Timestamp(day), "v1"), "p99_ms"] == pytest.approx(np.percentile(part["latency_ms"], 99))
    cost = business.cost(path, MODEL, now=NOW, window=Window(start=START + timedelta(days=4, hours=12)))
    window = everything[everything["predicted_at"] >= pd.Timestamp(START + timedelta(days=4, hours=12))]
    assert cost.summary["cost_usd"] == pytest.approx(window["cost"].sum())
    assert cost.summary["predictions"] == len(window)


def test_window_count_and_newest_hours_equal_pandas_on_mid_hour_windows(loan):
    """A window's count from the serving summary's hours and the log's partial edge hours equals the rows
    pandas counts (a segment filter, or a day not summarised, counts the log); ``newest_hours`` is the latest
    whole hour from which the window holds the rows asked for."""
    db, rows = loan
    start, end = NOW - timedelta(days=6, minutes=17, seconds=5), NOW - timedelta(hours=30, minutes=41)

    def count(window):
        return store.read(lambda con: business.window_count(con, registry.get_model(con, MODEL), window), db)

    for window in (Window(start, end), Window(start, end, version="v2"), Window(version="v1"), Window(end=end),
                   Window(start, end, version="v1", segment="region", segment_value="east"),
                   Window(start, start + timedelta(minutes=20))):
        keep = pd.Series(True, index=rows.index)
        if window.start is not None:
            keep &= rows["predicted_at"] >= pd.Timestamp(window.start)
        if window.end is not None:
            keep &= rows["predicted_at"] < pd.Timestamp(window.end)
        if window.version:
            keep &= rows["model_version"] == window.version
        if window.segment:
            keep &= rows[window.segment] == window.segment_value
        assert count(window) == int(keep.sum()), window
    for n, version, decision in ((1, None, None), (50, "v1", 1), (400, "v2", 0)):
        since = store.read(lambda con: business.newest_hours(con, MODEL, n, version=version, decision=decision,
                                                             start=start, end=end), db)
        part = _window(rows, start, end, version) if version else rows[
            (rows["predicted_at"] >= pd.Timestamp(start)) & (rows["predicted_at"] < pd.Timestamp(end))]
        if decision is not None:
            part = part[part["decision"] == decision]
        hours = part["predicted_at"].dt.floor("h")
        whole = part[(hours >= pd.Timestamp(start)) & (hours + pd.Timedelta(hours=1) <= pd.Timestamp(end))]
        per_hour = whole.groupby(whole["predicted_at"].dt.floor("h")).size().sort_index(ascending=False).cumsum()
        assert pd.Timestamp(since) == per_hour[per_hour >= n].index.max()
    assert store.read(lambda con: business.newest_hours(con, MODEL, 10**9), db) is None


def test_a_segment_filter_is_answered_from_the_log(loan):
    db, rows = loan
    start = NOW - timedelta(days=6, minutes=30)
    got = business.cost(db, MODEL, now=NOW, window=Window(start=start, segment="region", segment_value="north"))
    window = rows[(rows["predicted_at"] >= pd.Timestamp(start)) & (rows["region"] == "north")]
    assert got.summary["cost_usd"] == pytest.approx(window["cost"].sum()) and got.summary["predictions"] == len(window)
    lat = business.latency(db, MODEL, window=Window(start=start, segment="region", segment_value="north"))
    for version, part in window.groupby("model_version"):
        assert lat.by_version.set_index("version").loc[version, "p95_ms"] == pytest.approx(
            np.percentile(part["latency_ms"], 95), abs=1e-9)


def test_late_outcomes_rebuild_the_days_they_label_and_governance_actions_rebuild_nothing(loan, tmp_path):
    from analytics.business import _rollup

    db, rows = loan
    path = store.copy_store(db, tmp_path / "s")
    business.refresh_summaries(path, MODEL)  # builds the rollups kept in the store
    before = business.kpis(path, MODEL, now=NOW)
    stored = store.read(lambda con: con.execute(
        "SELECT day, built_at FROM summary_ledger WHERE summary = 'kpi' AND model_name = ?", [MODEL]).df(), path)
    rollups = {k for k in _rollup._ROLLUPS.keys() if str(path) in k}
    assert rollups  # the window's KPIs were read from a rollup of this store
    # A governance action elsewhere (a setting changed, audited) leaves the model's data, and its rollup, alone.
    store.write(lambda con: settings.set_value(con, ADMIN, business.SLA_MS.key, 80.0, model=MODEL), path)
    again = business.kpis(path, MODEL, now=NOW)
    assert {k for k in _rollup._ROLLUPS.keys() if str(path) in k} == rollups and again.value("profit") == before.value("profit")
    # Outcomes of predictions that had none arrive late: the realised KPIs take them in.
    unlabelled = rows[rows["label"].isna() & (rows["deployment_role"] != "shadow")].iloc[:400]
    late = pd.DataFrame({"prediction_id": unlabelled["prediction_id"].to_numpy(),
                         "observed_at": (unlabelled["predicted_at"] + pd.Timedelta(days=40)).to_numpy(),
                         "label": np.tile([1, 0], 200), "business_value": 0.0})
    assert ingest.ingest(MODEL, late, kind="outcomes", actor=SYSTEM, db=path).ok
    after = business.kpis(path, MODEL, now=NOW)  # read from the log: the stored days have not seen the outcomes
    from analytics.business import _kpi_store
    from analytics.business._common import open_model
    assert not store.read(lambda con: _kpi_store.ready(con, open_model(con, MODEL), DEFINITION), path)
    business.refresh_summaries(path, MODEL)
    # The late outcomes label predictions of some days: those days, and only those, were rebuilt in the store.
    kept = store.read(lambda con: con.execute(
        "SELECT day, built_at FROM summary_ledger WHERE summary = 'kpi' AND model_name = ?", [MODEL]).df(), path)
    rebuilt = kept.merge(stored, on="day", suffixes=("", "_before")).query("built_at != built_at_before")
    assert set(pd.to_datetime(rebuilt["day"]).dt.date) == set(unlabelled["predicted_at"].dt.date)
    assert len(rebuilt) < len(kept) == DAYS
    assert store.read(lambda con: _kpi_store.ready(con, open_model(con, MODEL), DEFINITION), path)
    relabelled = rows.set_index("prediction_id")
    relabelled.loc[late["prediction_id"], "label"] = late["label"].to_numpy()
    expected = _reference_kpis(_window(relabelled.reset_index(), None, None))
    assert after.labelled == before.labelled + 400 == expected["labelled"]
    for key in ("profit", "bad_rate_selected", "revenue", "opportunity_cost"):
        assert after.value(key) == pytest.approx(expected[key], rel=1e-9), key
    # A fresh process reads the rollups from the store: the same KPIs, the same what-if cells as the log's.
    _rollup._ROLLUPS.clear()
    fresh = business.kpis(path, MODEL, now=NOW, window=Window(start=NOW - timedelta(days=9, minutes=20)))
    ref = _reference_kpis(_window(relabelled.reset_index(), NOW - timedelta(days=9, minutes=20), None))
    for key, value in ref.items():
        assert fresh.value(key) == pytest.approx(value, rel=1e-9), key
    from analytics.business._whatif import threshold_cells

    def cells(use_rollup):
        return store.read(lambda con: threshold_cells(
            con, open_model(con, MODEL), DEFINITION, window=Window(version="v1"), use_rollup=use_rollup
        ).sort_values(["cell", "group", "label"]).reset_index(drop=True), path)

    pd.testing.assert_frame_equal(cells(True), cells(False), check_dtype=False, rtol=1e-12)


def test_latency_of_a_window_without_traffic_is_empty_not_an_error(toy):
    """A window before the first prediction (an alert rule's history windows ask for one): no rows, no error.

    Before the fix, merging the per-version day counts of an empty window raised pandas' "'version' is
    both an index level and a column label".
    """
    from analytics.ingest import ingest as ingest_rows

    assert ingest_rows(toy.name, toy.predictions(120), db=toy.db, actor=toy.actor).status == "committed"
    start = toy.predictions(1)["predicted_at"].iloc[0].to_pydatetime() - timedelta(days=3)
    result = business.latency(toy.db, toy.name, window=Window(start=start, end=start + timedelta(days=1), version="v1"))
    assert result.rows == 0 and result.daily.empty and result.by_version.empty
