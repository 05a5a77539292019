"""The model-risk pack on a small model registered as a user would: back-testing pinned to scipy, human
overrides counted against pandas, the benchmark against the challenger, and the review calendar."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics import audit, compliance, governance, registry, store
from analytics.errors import InvalidInputError, PermissionDeniedError
from analytics.ingest import ingest
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from lifecycle_support import onboard

OPERATOR = Actor("cli:tests", "system")
MODEL, PLAIN = "loan-risk", "plain-risk"
START = datetime(2025, 1, 1)


def _traffic(rng: np.random.Generator, n: int, month: int, version: str, role: str, lift: float) -> pd.DataFrame:
    at = START.replace(month=month) + pd.to_timedelta(np.arange(n) * 30, unit="min")
    score = np.round(rng.uniform(0.05, 0.6, n), 4)
    decision = (score > 0.3).astype("int64")
    human = np.where(rng.uniform(0, 1, n) < 0.1, 1 - decision, np.nan)
    return pd.DataFrame({
        "prediction_id": [f"{version}-{month}-{i}" for i in range(n)], "predicted_at": at, "model_version": version,
        "deployment_role": role, "score": score, "decision": decision, "latency_ms": 10.0, "cost": 0.001,
        "x": rng.normal(0, 1, n), "human_decision": human,
        "label": (rng.uniform(0, 1, n) < np.minimum(score * lift, 1)).astype("int64")})


@pytest.fixture(scope="module")
def risky(tmp_path_factory):
    """A store with ``loan-risk`` (logs human decisions; calibrated in January, under-predicting in February,
    a challenger v2) and ``plain-risk`` (no override column); returns (path, the rows with their labels)."""
    db = tmp_path_factory.mktemp("risk") / "vigil.duckdb"
    rng = np.random.default_rng(11)
    schema = LogSchema(columns=(Column("x", "double"), Column("human_decision", "integer")),
                       positive_class="default", favourable_decision=0)

    def register(con):
        for name, sch in ((MODEL, schema), (PLAIN, LogSchema(columns=(Column("x", "double"),),
                                                              positive_class="default", favourable_decision=0))):
            registry.register_model(con, OPERATOR, name, sch, owner="credit team", description="test")
            registry.register_version(con, OPERATOR, name, "v1", threshold=0.3, owner="credit team",
                                      at=datetime(2024, 12, 1))
            onboard(con, name, "v1", at=datetime(2024, 12, 1))  # served before Vigil: no approval
        registry.register_version(con, OPERATOR, MODEL, "v2", threshold=0.3, owner="credit team",
                                  at=datetime(2024, 12, 15))

    store.write(register, db)
    rows = pd.concat([_traffic(rng, 700, 1, "v1", "champion", 1.0), _traffic(rng, 700, 2, "v1", "champion", 1.6),
                      _traffic(rng, 300, 2, "v2", "challenger", 1.0)], ignore_index=True)
    for name, frame in ((MODEL, rows), (PLAIN, rows[rows["model_version"] == "v1"].drop(columns="human_decision"))):
        assert ingest(name, frame.drop(columns="label"), db=db, actor=OPERATOR).status == "committed"
        outcomes = pd.DataFrame({"prediction_id": frame["prediction_id"], "label": frame["label"],
                                 "observed_at": frame["predicted_at"] + timedelta(days=40), "business_value": 0.0})
        assert ingest(name, outcomes, kind="outcomes", db=db, actor=OPERATOR).status == "committed"
    return db, rows


def test_backtest_by_month_is_pinned_to_scipy(risky):
    db, rows = risky
    result = compliance.backtest(db, MODEL, period="month")
    assert result.version == "v1" and result.predictions == result.labelled == 1400
    assert list(result.table["verdict"]) == ["consistent", "under-predicts"]
    for (_, row), month in zip(result.table.iterrows(), (1, 2)):
        part = rows[(rows["model_version"] == "v1") & (rows["predicted_at"].dt.month == month)]
        n, k, p = len(part), int(part["label"].sum()), part["score"].mean()
        assert row["period"] == pd.Timestamp(START.replace(month=month))
        assert (row["labelled"], row["realised_positives"]) == (n, k)
        assert row["expected_rate"] == pytest.approx(p, rel=1e-12)
        assert row["binomial_p"] == pytest.approx(stats.binomtest(k, n, p).pvalue, rel=1e-9)
        ordered = part.sort_values(["score", "prediction_id"])
        groups = np.array_split(np.arange(n), 10)  # ntile: equal groups, the first ones one row larger
        o1 = np.array([ordered["label"].iloc[g].sum() for g in groups], dtype=float)
        e1 = np.array([ordered["score"].iloc[g].sum() for g in groups])
        size = np.array([len(g) for g in groups], dtype=float)
        reference = stats.chisquare(np.r_[o1, size - o1], np.r_[e1, size - e1])  # HL = chi-square over 2g cells
        assert row["hl_statistic"] == pytest.approx(reference.statistic, rel=1e-9)
        assert row["hl_p"] == pytest.approx(stats.chi2.sf(reference.statistic, 8), rel=1e-9)
    weekly = compliance.backtest(db, MODEL, period="week", min_rows=200)
    assert weekly.labelled == 1400 and "insufficient data" in set(weekly.table["verdict"])
    with pytest.raises(InvalidInputError, match="period"):
        compliance.backtest(db, MODEL, period="year")


def test_overrides_are_counted_and_judged_against_the_outcomes(risky):
    db, rows = risky
    result = compliance.overrides(db, MODEL)
    assert result.available
    table = result.table.set_index("version")
    for version, part in rows.groupby("model_version"):
        reviewed = part[part["human_decision"].notna()]
        over = reviewed[reviewed["human_decision"] != reviewed["decision"]]
        human_right = ((over["human_decision"] != 0) == (over["label"] == 1)).sum()
        assert table.loc[version, "reviewed"] == len(reviewed) > 0
        assert table.loc[version, "overridden"] == len(over)
        assert table.loc[version, "override_rate"] == pytest.approx(len(over) / len(part))
        assert table.loc[version, "override_right"] == human_right
        assert table.loc[version, "override_right"] + table.loc[version, "override_wrong"] == len(over)
    plain = compliance.overrides(db, PLAIN)
    assert not plain.available and "plain-risk has no override data" in plain.note and plain.table.empty


def test_the_pack_benchmarks_the_challenger_and_the_calendar_reminds_reviews(risky):
    db, _ = risky
    pack = compliance.model_risk_pack(db, MODEL, now=datetime(2025, 3, 1))
    assert pack.benchmark.champion == "v1" and pack.benchmark.challenger == "v2"
    assert pack.benchmark.comparison is not None and pack.benchmark.comparison.design == "unpaired"
    assert json.loads(json.dumps(pack.to_dict()))["backtest"]["flagged_periods"] == 1
    plain = compliance.benchmark(db, PLAIN)
    assert plain.comparison is None and "nothing to benchmark" in plain.note

    # No tier: treated as tier 1 (12 months) from the registration; a low tier waits 36 months.
    store.write(lambda con: governance.set_risk_tier(con, OPERATOR, PLAIN, "low", "internal use only"), db)
    now = datetime.now()
    calendar = store.read(lambda con: compliance.review_calendar(con, now=now), db).set_index("model")
    assert calendar.loc[MODEL, "interval_months"] == 12 and calendar.loc[PLAIN, "interval_months"] == 36
    registered = calendar.loc[MODEL, "last_review_at"]
    assert calendar.loc[MODEL, "last_review_kind"] == "registration"
    assert calendar.loc[MODEL, "due_at"] == registered + pd.DateOffset(months=12)
    soon = (calendar.loc[MODEL, "due_at"] - timedelta(days=10)).to_pydatetime()
    assert store.read(lambda con: compliance.review_calendar(con, now=soon), db).set_index(
        "model").loc[MODEL, "status"] == "due soon"
    queued = store.write(lambda con: compliance.remind(con, now=soon), db)
    assert [(r.subject, r.stage) for r in queued] == [(MODEL, "due soon")]
    assert store.write(lambda con: compliance.remind(con, now=soon + timedelta(hours=1)), db) == []

    with pytest.raises(PermissionDeniedError):
        store.write(lambda con: compliance.record_review(con, Actor("ann", "analyst"), MODEL,
                                                         outcome="satisfactory", note="x"), db)
    at = soon + timedelta(days=1)
    store.write(lambda con: compliance.record_review(con, Actor("rita", "reviewer"), MODEL, outcome="needs_action",
                                                     note="back-test flags February", at=at), db)
    row = store.read(lambda con: compliance.review_calendar(con, now=at), db).set_index("model").loc[MODEL]
    assert (row["last_review_kind"], row["last_reviewer"], row["status"]) == ("review", "rita", "scheduled")
    assert row["due_at"] == pd.Timestamp(at) + pd.DateOffset(months=12)
    trail = store.read(lambda con: audit.entries(con, object_type="model"), db)
    assert {"model.review", "compliance.review_reminder"} <= set(trail["action"])


def test_the_records_export_carries_the_logged_overrides_and_says_so(risky, tmp_path):
    """A model that logs ``human_decision`` exports it, and the manifest names it instead of "not recorded"."""
    from analytics import reports

    db, rows = risky
    window = {"start": datetime(2025, 1, 1), "end": datetime(2025, 3, 1)}
    for name, expected in ((MODEL, reports.OVERRIDES_LOGGED), (PLAIN, reports.OVERRIDES_NOTE)):
        out = tmp_path / name
        reports.export_records(db, OPERATOR, name, out=out, **window)
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["human_overrides"] == expected
    exported = pd.read_parquet(tmp_path / MODEL / "records.parquet")
    logged = rows.set_index("prediction_id")["human_decision"]
    np.testing.assert_array_equal(exported.set_index("prediction_id")["human_decision"].to_numpy(dtype=float),
                                  logged.loc[exported["prediction_id"]].to_numpy(dtype=float))
