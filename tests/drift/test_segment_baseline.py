"""A segment's rows against the reference rows of the same segment; drift over time against the chosen baseline.

On a model registered the way a user does (spec, version, reference data, an ingest): incomes
differ by region (north ~3,000, south ~6,000) and are the same in the reference and the log; the
log holds a third region, east, that the reference does not.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics import drift, ingest, registry, store
from analytics.cli import main as vigil
from analytics.errors import InvalidInputError
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from analytics.window import Window
from lifecycle_support import put_in_status

SYSTEM = Actor("cli:tests", "system")
MODEL = "segmented-risk"
START = datetime(2026, 3, 2)            # a Monday: weeks start on it
SCHEMA = LogSchema(columns=(Column("income", "double"), Column("tenure", "integer"),
                            Column("region", "categorical", role="segment")), positive_class="default")
INCOME = {"north": 3000.0, "south": 6000.0, "east": 4500.0}


def _rows(rng, n, regions, p):
    region = rng.choice(regions, n, p=p)
    return pd.DataFrame({"income": np.round(np.array([INCOME[r] for r in region]) + rng.normal(0, 300, n), 2),
                         "tenure": rng.integers(0, 30, n), "region": region})


@pytest.fixture(scope="module")
def user_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("segment") / "vigil.duckdb"
    rng = np.random.default_rng(7)
    reference = _rows(rng, 2000, ["north", "south"], [0.5, 0.5])
    reference["score"] = np.round(rng.uniform(0, 1, len(reference)), 3)
    reference["label"] = (rng.uniform(0, 1, len(reference)) < reference["score"]).astype(int)
    reference["decision"] = (reference["score"] >= 0.5).astype(int)

    def register(con):
        registry.register_model(con, SYSTEM, MODEL, SCHEMA, owner="risk", description="segments")
        registry.register_version(con, SYSTEM, MODEL, "v1", threshold=0.5, owner="risk",
                                  at=datetime(2026, 1, 1))
        put_in_status(con, MODEL, "v1", "champion", at=datetime(2026, 1, 1))
        registry.load_reference(con, SYSTEM, MODEL, "v1", reference)

    store.write(register, path)
    n = 4200
    log = _rows(rng, n, ["north", "south", "east"], [0.3, 0.6, 0.1])
    seconds = np.sort(rng.integers(0, 28 * 86400, n))
    log = pd.DataFrame({
        "prediction_id": [f"s{i:06d}" for i in range(n)],
        "predicted_at": pd.Timestamp(START) + pd.to_timedelta(seconds, unit="s"),
        "model_version": "v1", "deployment_role": "champion",
        "score": np.round(rng.uniform(0, 1, n), 3), "decision": (rng.uniform(0, 1, n) < 0.4).astype("int64"),
        "latency_ms": 10.0, "cost": 0.001, **{c: log[c].to_numpy() for c in log.columns}})
    # weeks 3 and 4: north incomes rise (a real drift inside the segment)
    late = (log["predicted_at"] >= pd.Timestamp(START + timedelta(days=14))) & log["region"].eq("north")
    log.loc[late, "income"] += 900.0
    report = ingest.ingest(MODEL, log, kind="predictions", actor=SYSTEM, db=path)
    assert report.status == "committed", report.summary()
    return path


def _query(db, sql, params=()):
    store.release(db)  # a read-only connection cannot share this process's lingering instance
    con = duckdb.connect(str(db), read_only=True)
    store.bind_store_folder(con)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def _expected(method, ref, cur):
    """scipy's value of the method Vigil chose (KS up to 1,000 baseline rows, normalised Wasserstein above)."""
    if method == "ks":
        return stats.ks_2samp(ref, cur).statistic
    assert method == "wasserstein", method
    return stats.wasserstein_distance(ref, cur) / np.std(ref)


def test_a_segment_is_compared_with_the_reference_rows_of_that_segment(user_model):
    a, b = START, START + timedelta(days=14)
    result = drift.drift_summary(user_model, MODEL, window=Window(start=a, end=b, segment="region",
                                                                  segment_value="north"))
    table = result.table.set_index("column")
    assert "region" not in table.index and "region" in result.left_out
    assert "region = north" in result.reference_label and "on both sides" in result.left_out["region"]
    ref = _query(user_model, "SELECT income FROM reference_segmented_risk WHERE region = 'north'")["income"]
    cur = _query(user_model, "SELECT income FROM predictions_segmented_risk WHERE region = 'north' AND "
                             "predicted_at >= ? AND predicted_at < ?", [a, b])["income"]
    assert result.n_reference_rows == len(ref) and table.loc["income", "n_reference"] == len(ref)
    assert table.loc["income", "statistic"] == pytest.approx(_expected(table.loc["income", "method"], ref, cur),
                                                            abs=table.loc["income", "tolerance"] + 1e-9)
    assert table.loc["income", "drifted"] is False          # the whole reference would say drifted (3,000 vs 3,000/6,000)
    assert not result.any_drift


def test_a_segment_value_the_reference_lacks_is_compared_with_the_whole_reference(user_model):
    result = drift.drift_summary(user_model, MODEL, window=Window(start=START, end=START + timedelta(days=28),
                                                                  segment="region", segment_value="east"))
    assert "region" not in set(result.table["column"])
    assert "no rows of region = east" in result.left_out["region"] and "all of it" in result.reference_label
    assert result.n_reference_rows == 2000


def test_multivariate_drift_of_a_segment_leaves_the_segment_column_out(user_model):
    mv = drift.multivariate_drift(user_model, MODEL, window=Window(start=START, end=START + timedelta(days=14),
                                                                   segment="region", segment_value="north"),
                                  sample_rows=400)
    assert mv.columns == ("income", "tenure") and "region" in mv.left_out
    # NannyML's default band for the domain classifier: drifted below 0.45 or above 0.65
    assert (mv.domain_lower, mv.domain_upper) == (0.45, 0.65)
    assert mv.domain_drifted == (not 0.45 <= mv.domain_auc <= 0.65)
    assert mv.as_frame().loc[0, "threshold"] == "outside [0.45, 0.65]"
    assert mv.n_reference_rows == int(_query(user_model, "SELECT count(*) AS n FROM reference_segmented_risk "
                                                         "WHERE region = 'north'")["n"][0])


def test_drift_over_time_uses_the_chosen_baseline(user_model):
    base = (START, START + timedelta(days=14))
    window = Window(start=START + timedelta(days=14), end=START + timedelta(days=28), segment="region",
                    segment_value="north")
    over = drift.drift_over_time(user_model, MODEL, window=window, freq="week", columns=("income",),
                                 baseline=window.between(*base))
    assert "2026-03-02 00:00 to 2026-03-16 00:00" in over.reference_label and "region = north" in over.reference_label
    whole = drift.drift_summary(user_model, MODEL, window=window, columns=("income",), baseline=window.between(*base))
    assert over.reference_label == whole.reference_label       # the chart's title and the table name one baseline
    ref = _query(user_model, "SELECT income FROM predictions_segmented_risk WHERE region = 'north' AND "
                             "predicted_at >= ? AND predicted_at < ?", list(base))["income"]
    assert (over.table["n_reference"] == len(ref)).all()
    for _, row in over.table.iterrows():
        week = row["period"].to_pydatetime()
        cur = _query(user_model, "SELECT income FROM predictions_segmented_risk WHERE region = 'north' AND "
                                 "predicted_at >= ? AND predicted_at < ?", [week, week + timedelta(days=7)])["income"]
        assert row["statistic"] == pytest.approx(_expected(row["method"], ref, cur), abs=row["tolerance"] + 1e-9)
        assert row["drifted"] is True                          # +900 against the first two weeks


def test_a_baseline_of_other_rows_than_the_windows_is_refused(user_model):
    """A baseline is the window's own version and segment over another span: another one would not be read."""
    window = Window(start=START + timedelta(days=14), end=START + timedelta(days=28), segment="region",
                    segment_value="north")
    for other in (Window(START, START + timedelta(days=14)), window.between(START, None).all_rows(),
                  replace(window, version="v1", start=START, end=START + timedelta(days=14))):
        for read in (drift.drift_summary, drift.drift_over_time, drift.multivariate_drift):
            with pytest.raises(InvalidInputError, match="is not the window's"):
                read(user_model, MODEL, window=window, baseline=other)


def test_cli_segment_option(user_model, capsys):
    code = vigil(["--db", str(user_model), "drift", "--model", MODEL, "--segment", "region=north", "--start",
                  "2026-03-02", "--end", "2026-03-15", "--format", "json", "--fail-on-drift"])
    records = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["column"] for r in records] == ["income", "tenure", "score"]
    assert vigil(["--db", str(user_model), "drift", "--model", MODEL, "--segment", "region", "--start",
                  "2026-03-02", "--end", "2026-03-15"]) != 0
    assert "COLUMN=VALUE" in capsys.readouterr().err
