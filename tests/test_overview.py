"""The portfolio overview (analytics.overview): every figure against pandas / scikit-learn on the same rows.

A small store is built once per module in a temporary folder from seeded synthetic data: model
``alpha-risk`` (v1 retired, v2 champion, outcomes for about 60% of rows, tied scores) and model
``beta-churn`` (one draft version, no outcomes). ``NOW`` is fixed, so every number is deterministic.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analytics import clock, governance, ingest, overview, performance, registry, store, summaries, users
from analytics.errors import InvalidInputError, NotFoundError
from analytics.window import Window
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from lifecycle_support import put_in_status

SYSTEM = Actor("cli:overview-tests", "system")
NOW = datetime(2026, 6, 30, 12, 0, 0)
START = NOW - timedelta(days=90)

ALPHA_SCHEMA = LogSchema(
    columns=(
        Column("income", "double"),
        Column("tenure", "integer"),
        Column("region", "categorical", role="segment"),
        Column("channel", "categorical", role="segment"),
        Column("gender", "categorical", role="attribute", sensitive=True),
    ),
    positive_class="default", favourable_decision=0,
)
BETA_SCHEMA = LogSchema(columns=(Column("usage", "double"),), positive_class="churn", favourable_decision=0)


def _predictions(rng: np.random.Generator, n: int, prefix: str, versions: list[str], roles: list[str],
                 extra: dict) -> pd.DataFrame:
    seconds = np.sort(rng.integers(0, int((NOW - START).total_seconds()) - 60, size=n))
    which = rng.integers(0, len(versions), size=n)
    return pd.DataFrame({
        "prediction_id": [f"{prefix}{i:06d}" for i in range(n)],
        "predicted_at": pd.Timestamp(START) + pd.to_timedelta(seconds, unit="s"),
        "model_version": np.array(versions, dtype=object)[which],
        "deployment_role": np.array(roles, dtype=object)[which],
        # two decimals: many tied scores, to pin the tie handling of the SQL ROC AUC
        "score": np.round(rng.uniform(0, 1, n), 2),
        "decision": (rng.uniform(0, 1, n) < 0.3).astype("int64"),
        "latency_ms": np.round(rng.uniform(5, 80, n), 2),
        "cost": np.full(n, 0.001),
        **{k: v(n) for k, v in extra.items()},
    })


def _alpha_predictions(rng: np.random.Generator, n: int, prefix: str) -> pd.DataFrame:
    return _predictions(rng, n, prefix, ["v1", "v2"], ["challenger", "champion"], {
        "income": lambda n: np.round(rng.uniform(1000, 9000, n), 2),
        "tenure": lambda n: rng.integers(0, 30, n),
        "region": lambda n: rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        "channel": lambda n: rng.choice(["web", "branch"], n),
        "gender": lambda n: rng.choice(["f", "m"], n),
    })


def _build(path: Path) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(20260630)

    def register(con):
        registry.register_model(con, SYSTEM, "alpha-risk", ALPHA_SCHEMA, owner="risk-team", description="alpha")
        registry.register_version(con, SYSTEM, "alpha-risk", "v1", threshold=0.5, owner="risk-team",
                                  validation_metrics={"roc_auc": 0.81}, at=datetime(2026, 1, 1))
        put_in_status(con, "alpha-risk", "v1", "retired", at=datetime(2026, 1, 1))
        registry.register_version(con, SYSTEM, "alpha-risk", "v2", threshold=0.45, owner="risk-team",
                                  parent_version="v1", validation_metrics={"roc_auc": 0.77, "accuracy": 0.7}, at=datetime(2026, 2, 1))
        put_in_status(con, "alpha-risk", "v2", "champion", at=datetime(2026, 2, 1))
        registry.register_model(con, SYSTEM, "beta-churn", BETA_SCHEMA, owner="growth", description="beta")
        registry.register_version(con, SYSTEM, "beta-churn", "b1", threshold=0.5, owner="growth",
                                  at=datetime(2026, 3, 1))

    store.write(register, path)
    alpha = _alpha_predictions(rng, 6000, "a")
    beta = _predictions(rng, 1500, "b", ["b1"], ["shadow"], {"usage": lambda n: np.round(rng.uniform(0, 5, n), 3)})
    labelled = alpha[rng.uniform(0, 1, len(alpha)) < 0.6]
    outcomes = pd.DataFrame({
        "prediction_id": labelled["prediction_id"].to_numpy(),
        "observed_at": labelled["predicted_at"] + pd.Timedelta(minutes=30),
        # labels follow the score, with noise, so the AUC is well inside (0.5, 1)
        "label": (rng.uniform(0, 1, len(labelled)) < labelled["score"].to_numpy() * 0.8 + 0.1).astype("int64"),
        "business_value": np.round(rng.normal(0, 50, len(labelled)), 2),
    })
    for model, frame, kind in (("alpha-risk", alpha, "predictions"), ("beta-churn", beta, "predictions"),
                               ("alpha-risk", outcomes, "outcomes")):
        report = ingest.ingest(model, frame, kind=kind, actor=SYSTEM, db=path)
        assert report.status == "committed" and report.rows_loaded == len(frame), report.summary()
    return {"alpha": alpha, "beta": beta, "outcomes": outcomes}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    path = tmp_path_factory.mktemp("overview") / "vigil.duckdb"
    return path, _build(path)


@pytest.fixture
def db(built) -> Path:
    return built[0]


@pytest.fixture(scope="module")
def refreshed(built, tmp_path_factory) -> Path:
    """A copy of the store whose summaries are brought up to date (the store itself has none)."""
    copy = store.copy_store(built[0], tmp_path_factory.mktemp("overview-refreshed") / "store")
    summaries.refresh_store(copy, names=(performance.PERFORMANCE_CELLS.name,))
    return copy


#: The newest whole day, logged again after the refresh of :func:`stale_newest_day`.
NEWEST_DAY = datetime(2026, 6, 29)


@pytest.fixture(scope="module")
def stale_newest_day(built, tmp_path_factory) -> Path:
    """A refreshed copy of the store that then logged more predictions on its newest whole day (and the
    partial day after it): the summary does not hold that day fresh any more."""
    copy = store.copy_store(built[0], tmp_path_factory.mktemp("overview-stale") / "store")
    summaries.refresh_store(copy, names=(performance.PERFORMANCE_CELLS.name,))
    late = _alpha_predictions(np.random.default_rng(29), 400, "late")
    late["predicted_at"] = pd.Timestamp(NEWEST_DAY) + pd.to_timedelta(
        np.sort(np.random.default_rng(30).integers(0, 35 * 3600, size=len(late))), unit="s")
    report = ingest.ingest("alpha-risk", late, kind="predictions", actor=SYSTEM, db=copy)
    assert report.status == "committed" and report.rows_loaded == len(late), report.summary()
    return copy


@pytest.fixture
def frames(built) -> dict[str, pd.DataFrame]:
    return built[1]


def _joined(frames) -> pd.DataFrame:
    return frames["alpha"].merge(frames["outcomes"][["prediction_id", "label"]], on="prediction_id", how="left")


def _in(frame: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    if start is not None:
        mask &= frame["predicted_at"] >= pd.Timestamp(start)
    if end is not None:
        mask &= frame["predicted_at"] < pd.Timestamp(end)
    return frame[mask]


# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 7, 30, None])
def test_portfolio_matches_pandas(db, frames, days):
    """Traffic, outcome coverage and previous-window counts equal a pandas count on the same rows."""
    start = NOW - timedelta(days=days) if days else None
    result = overview.portfolio(db, now=NOW, window=Window(start=start)).models.set_index("model")
    assert list(result.index) == ["alpha-risk", "beta-churn"]
    assert list(overview.portfolio(db, now=NOW,
                                   window=Window(start=start)).models.columns) == list(overview.PORTFOLIO_COLUMNS)
    joined = _joined(frames)
    for name, preds in (("alpha-risk", joined), ("beta-churn", frames["beta"].assign(label=np.nan))):
        row = result.loc[name]
        at = preds["predicted_at"]
        assert row["predictions_24h"] == (at >= pd.Timestamp(NOW - timedelta(hours=24))).sum()
        assert row["predictions_prev_24h"] == ((at >= pd.Timestamp(NOW - timedelta(hours=48)))
                                               & (at < pd.Timestamp(NOW - timedelta(hours=24)))).sum()
        assert row["predictions_7d"] == (at >= pd.Timestamp(NOW - timedelta(days=7))).sum()
        window = _in(preds, start, None)
        assert row["predictions"] == len(window)
        assert row["labelled"] == window["label"].notna().sum()
        if len(window):
            assert row["labelled_share"] == pytest.approx(window["label"].notna().mean())
        assert row["last_prediction_at"] == at.max()
        if start is None:
            assert math.isnan(row["predictions_previous"])
        else:
            prev = _in(preds, start - (NOW - start), start)
            assert row["predictions_previous"] == len(prev)


def test_last_prediction_when_nothing_is_recent(db, frames):
    """With no prediction in the last 7 days the last prediction time still comes from the whole log."""
    later = NOW + timedelta(days=40)
    row = overview.traffic(db, now=later).set_index("model").loc["alpha-risk"]
    assert row["predictions_7d"] == 0 and row["last_prediction_at"] == frames["alpha"]["predicted_at"].max()


def test_registry_columns(db):
    """Champion, latest version and status, version count and validation AUC come from the registry."""
    result = overview.portfolio(db, now=NOW).models.set_index("model")
    alpha, beta = result.loc["alpha-risk"], result.loc["beta-churn"]
    assert (alpha["champion_version"], alpha["latest_version"], alpha["latest_status"], alpha["versions"]) == (
        "v2", "v2", "champion", 2)
    assert alpha["owner"] == "risk-team" and alpha["auc_version"] == "v2"
    assert alpha["validation_auc"] == pytest.approx(0.77)
    assert pd.isna(beta["champion_version"]) and beta["latest_status"] == "draft" and beta["auc_version"] == "b1"
    # no outcomes and no validation figure: undefined, not zero
    assert math.isnan(beta["realised_auc"]) and math.isnan(beta["validation_auc"]) and beta["auc_rows"] == 0
    assert math.isnan(beta["labelled_share"]) is False and beta["labelled_share"] == 0.0


@pytest.mark.parametrize("days", [7, 30, None])
def test_realised_auc_matches_sklearn(db, frames, days):
    """The SQL ROC AUC of the champion's labelled rows equals roc_auc_score, tied scores included."""
    start = NOW - timedelta(days=days) if days else None
    row = overview.portfolio(db, now=NOW, window=Window(start=start)).models.set_index("model").loc["alpha-risk"]
    joined = _joined(frames)
    rows = _in(joined[(joined["model_version"] == "v2") & joined["label"].notna()], start, None)
    assert rows["score"].duplicated().any(), "the data should contain tied scores"
    expected = roc_auc_score(rows["label"].astype(int), rows["score"])
    assert row["realised_auc"] == pytest.approx(expected, abs=1e-12)
    assert row["auc_rows"] == len(rows) and row["auc_positives"] == int(rows["label"].sum())
    assert row["auc_delta"] == pytest.approx(expected - 0.77, abs=1e-12)


def test_window_read_from_the_summary_equals_the_log(db, refreshed, frames):
    """After a refresh the whole days come from the performance summary, the edges from the log: the same
    figures as the log alone; the AUC lies within its bound of roc_auc_score on every labelled row."""
    window = Window(start=NOW - timedelta(days=60, hours=5), end=NOW - timedelta(days=2, hours=3))
    read = {path: store.read(lambda con: performance.window_cells(con, registry.get_model(con, "alpha-risk"), window),
                             path) for path in (db, refreshed)}
    assert len(read[db].unsummarised_days) == 57 and "performance_cells" not in read[db].sql
    assert not read[refreshed].unsummarised_days and "performance_cells" in read[refreshed].sql
    from_log = overview.window_view(db, window=window)
    summarised = overview.window_view(refreshed, window=window)
    pd.testing.assert_frame_equal(from_log.daily, summarised.daily)
    log_row, row = (p.models.set_index("model").loc["alpha-risk"] for p in (from_log, summarised))
    for column in ("predictions", "labelled", "auc_rows", "auc_positives"):
        assert row[column] == log_row[column], column
    assert row["realised_auc"] == pytest.approx(log_row["realised_auc"], abs=1e-12)
    joined = _joined(frames)
    labelled = _in(joined[(joined["model_version"] == "v2") & joined["label"].notna()], window.start, window.end)
    assert row["auc_rows"] == len(labelled)
    assert 0 <= row["auc_bound"] < 0.1
    assert abs(row["realised_auc"] - roc_auc_score(labelled["label"].astype(int), labelled["score"])) <= row["auc_bound"] + 1e-12
    assert overview.daily_volume(refreshed, window=window, by_version=True).equals(
        overview.daily_volume(db, window=window, by_version=True))


def test_model_summary_filters(db, frames):
    """Version and segment filters restrict every figure; the AUC follows the chosen version."""
    start = NOW - timedelta(days=30)
    got = overview.model_summary(db, "alpha-risk", now=NOW, window=Window(start=start, version="v1", segment="region",
                                                                          segment_value="north"))
    joined = _joined(frames)
    rows = joined[(joined["model_version"] == "v1") & (joined["region"] == "north")]
    window = _in(rows, start, None)
    assert got["predictions"] == len(window)
    assert got["labelled"] == window["label"].notna().sum()
    assert got["predictions_7d"] == (rows["predicted_at"] >= pd.Timestamp(NOW - timedelta(days=7))).sum()
    labelled = window[window["label"].notna()]
    assert got["auc_version"] == "v1" and got["validation_auc"] == pytest.approx(0.81)
    assert got["realised_auc"] == pytest.approx(roc_auc_score(labelled["label"].astype(int), labelled["score"]))


def test_custom_window_with_end(db, frames):
    """A closed window [start, end) counts only its rows; its previous window has the same length."""
    start, end = datetime(2026, 5, 1), datetime(2026, 5, 15)
    got = overview.model_summary(db, "alpha-risk", now=NOW, window=Window(start=start, end=end))
    joined = _joined(frames)
    assert got["predictions"] == len(_in(joined, start, end))
    assert got["predictions_previous"] == len(_in(joined, datetime(2026, 4, 17), start))
    assert got["labelled"] == _in(joined, start, end)["label"].notna().sum()


def _log_count(path: Path, start: datetime, end: datetime | None, version: str | None = None,
               region: str | None = None) -> int:
    """A plain count of alpha-risk's predictions in ``[start, end)`` over its log (no summary)."""
    sql = "SELECT count(*) FROM predictions_alpha_risk WHERE predicted_at >= ?"
    params: list = [start]
    for clause, value in (("predicted_at < ?", end), ("model_version = ?", version), ("region = ?", region)):
        if value is not None:
            sql += f" AND {clause}"
            params.append(value)
    return store.read(lambda con: con.execute(sql, params).fetchone()[0], path)


@pytest.mark.parametrize("end", [None, datetime(2026, 7, 1)], ids=["open-ended", "ends tomorrow"])
def test_today_is_not_named_among_the_whole_days_read_from_the_log(db, end):
    """A window that reaches now holds today only in part: today is read from the log (every row counted) but
    is not named among the whole days read from the log because the summary did not hold them."""
    window = Window(start=NOW - timedelta(days=10), end=end)
    with clock.pinned(NOW):
        cells = store.read(lambda con: performance.window_cells(con, registry.get_model(con, "alpha-risk"), window),
                           db)
        got = performance.realised_metrics(db, "alpha-risk", window=window, freq=None)
        versions = overview.window_view(db, window=window, model="alpha-risk").daily
    whole = tuple((NOW - timedelta(days=k)).date() for k in range(9, 0, -1))  # 2026-06-21 to 2026-06-29
    assert cells.unsummarised_days == got.attrs[performance.UNSUMMARISED] == whole
    assert summaries.unsummarised_note(got.attrs[performance.UNSUMMARISED]).startswith(
        "9 day(s) of this window (2026-06-21 to 2026-06-29, UTC)")
    assert int(versions["predictions"].sum()) == _log_count(db, window.start, None)
    assert got.loc[0, "rows"] == _log_count(db, window.start, None, "v2")


#: Windows whose previous window is counted: not day-aligned and open-ended, filtered by a version, by a
#: segment value, by both, and two whose previous window holds the newest whole day (one filtered).
PREVIOUS_CASES = [
    dict(start=NOW - timedelta(days=30, hours=5)),
    dict(start=NOW - timedelta(days=20, minutes=7), version="v1"),
    dict(start=NOW - timedelta(days=45), segment="region", segment_value="north"),
    dict(start=NOW - timedelta(days=9, hours=1), version="v2", segment="region", segment_value="east"),
    dict(start=NEWEST_DAY + timedelta(days=1), end=NOW + timedelta(hours=36)),
    dict(start=NEWEST_DAY + timedelta(days=1, hours=3), end=NOW + timedelta(days=2), version="v2", segment="region",
         segment_value="north"),
]


@pytest.mark.parametrize("case", PREVIOUS_CASES, ids=range(len(PREVIOUS_CASES)))
@pytest.mark.parametrize("which", ["log only", "refreshed", "newest day stale"])
def test_previous_window_count_is_the_log_count(built, refreshed, stale_newest_day, case, which):
    """The previous window's count, read from score cells (summary and log), and the 24-hour and 7-day
    counts equal a plain count over the log: unsummarised, refreshed, and refreshed before more rows of the
    newest whole day were logged."""
    path = {"log only": built[0], "refreshed": refreshed, "newest day stale": stale_newest_day}[which]
    window = Window(**case)
    got = overview.traffic(path, now=NOW, window=window, model="alpha-risk").iloc[0]
    before = window.previous(NOW)
    region = case.get("segment_value")
    assert got["predictions_previous"] == _log_count(path, before.start, before.end, window.version, region)
    assert got["predictions_24h"] == _log_count(path, NOW - timedelta(hours=24), None, window.version, region)
    assert got["predictions_prev_24h"] == _log_count(path, NOW - timedelta(hours=48), NOW - timedelta(hours=24),
                                                     window.version, region)
    assert got["predictions_7d"] == _log_count(path, NOW - timedelta(days=7), None, window.version, region)
    cells = store.read(lambda con: performance.window_cells(con, registry.get_model(con, "alpha-risk"), before), path)
    assert ("performance_cells" in cells.sql) == (which != "log only")
    if which == "newest day stale" and before.start <= NEWEST_DAY and before.end >= NEWEST_DAY + timedelta(days=1):
        assert cells.unsummarised_days == (NEWEST_DAY.date(),)


@pytest.mark.parametrize("case", [PREVIOUS_CASES[0], PREVIOUS_CASES[3]], ids=["all rows", "version and segment"])
def test_window_count_reads_the_kept_cells_for_whole_days(refreshed, case):
    """performance.window_count takes the whole days' counts from the kept cells and the edges' from the
    log: a kept cell of a whole day changed (in a transaction rolled back) moves the count by as much,
    one of a day outside the window does not."""
    window = Window(**case).previous(NOW)
    inside, outside = window.start.date() + timedelta(days=2), window.start.date() - timedelta(days=2)
    logged = _log_count(refreshed, window.start, window.end, window.version, window.segment_value)
    with store.connect(refreshed) as con:
        info = registry.get_model(con, "alpha-risk")
        before = performance.window_count(con, info, window)
        assert before == logged
        con.execute("BEGIN")
        try:
            for day, extra in ((inside, 1000), (outside, 1)):
                changed = con.execute(
                    "UPDATE performance_cells SET n = n + ? WHERE rowid = (SELECT min(rowid) FROM performance_cells "
                    "WHERE model_name = 'alpha-risk' AND day = ? AND segment = ? AND segment_value = ? "
                    "AND version = coalesce(?, version))",
                    [extra, day, window.segment or "", window.segment_value or "", window.version]).fetchone()[0]
                assert changed == 1
            assert performance.window_count(con, info, window) == before + 1000
        finally:
            con.execute("ROLLBACK")
        assert performance.window_count(con, info, window) == before


def test_realised_auc_undefined_with_one_class(tmp_path):
    """With only positives (or no labelled rows) the AUC is NaN, as roc_auc_score refuses it."""
    path = tmp_path / "one.duckdb"

    def register(con):
        registry.register_model(con, SYSTEM, "gamma", BETA_SCHEMA, owner="o")
        registry.register_version(con, SYSTEM, "gamma", "g1", threshold=0.5, owner="o")
        put_in_status(con, "gamma", "g1", "champion")

    store.write(register, path)
    preds = pd.DataFrame({
        "prediction_id": ["g1", "g2"], "predicted_at": [datetime(2026, 1, 1), datetime(2026, 1, 2)],
        "model_version": ["g1", "g1"], "deployment_role": ["champion", "champion"], "score": [0.2, 0.9],
        "decision": [0, 1], "latency_ms": [1.0, 2.0], "cost": [0.0, 0.0], "usage": [1.0, 2.0]})
    ingest.ingest("gamma", preds, actor=SYSTEM, db=path)
    ingest.ingest("gamma", pd.DataFrame({"prediction_id": ["g1", "g2"], "observed_at": [datetime(2026, 2, 1)] * 2,
                                         "label": [1, 1], "business_value": [0.0, 0.0]}),
                  kind="outcomes", actor=SYSTEM, db=path)
    got = overview.model_summary(path, "gamma", now=datetime(2026, 3, 1))
    assert math.isnan(got["realised_auc"]) and got["auc_rows"] == 2 and got["auc_positives"] == 2


def test_daily_volume_matches_pandas(db, frames):
    """Daily counts per model (and per version) equal a pandas group-by on the same rows."""
    start = NOW - timedelta(days=30)
    got = overview.daily_volume(db, window=Window(start=start))
    joined = pd.concat([_joined(frames).assign(model="alpha-risk"), frames["beta"].assign(model="beta-churn", label=np.nan)])
    window = _in(joined, start, None)
    expected = (window.assign(day=window["predicted_at"].dt.floor("D"))
                .groupby(["model", "day"]).agg(predictions=("prediction_id", "size"), labelled=("label", "count"))
                .reset_index())
    got_sorted = got.sort_values(["model", "day"]).reset_index(drop=True)
    assert list(got.columns) == ["day", "model", "predictions", "labelled"]
    assert got_sorted["model"].tolist() == expected["model"].tolist()
    assert (pd.to_datetime(got_sorted["day"]) == expected["day"]).all()
    assert got_sorted["predictions"].tolist() == expected["predictions"].tolist()
    assert got_sorted["labelled"].tolist() == expected["labelled"].tolist()
    assert got["predictions"].sum() == len(window)

    by_version = overview.daily_volume(db, model="alpha-risk", window=Window(start=start, segment="channel",
                                                                             segment_value="web"), by_version=True)
    alpha = _in(_joined(frames), start, None)
    alpha = alpha[alpha["channel"] == "web"]
    exp = alpha.assign(day=alpha["predicted_at"].dt.floor("D")).groupby(["day", "model_version"]).size()
    assert list(by_version.columns) == ["day", "model", "version", "predictions", "labelled"]
    assert by_version.set_index([pd.to_datetime(by_version["day"]), "version"])["predictions"].sort_index().tolist() == \
        exp.sort_index().tolist()


@pytest.mark.parametrize("days", [30, None])
def test_portfolio_daily_matches_pandas_and_daily_volume(db, frames, days):
    """The portfolio's daily frame (by version) equals pandas, and daily_volume, on the same rows."""
    start = NOW - timedelta(days=days) if days else None
    daily = overview.portfolio(db, now=NOW, window=Window(start=start)).daily
    assert list(daily.columns) == list(overview.DAILY_COLUMNS)
    joined = pd.concat([_joined(frames).assign(model="alpha-risk"),
                        frames["beta"].assign(model="beta-churn", label=np.nan)])
    window = _in(joined, start, None)
    expected = (window.assign(day=window["predicted_at"].dt.floor("D"))
                .groupby(["model", "day", "model_version"])
                .agg(predictions=("prediction_id", "size"), labelled=("label", "count")).reset_index())
    assert daily["predictions"].tolist() == expected["predictions"].tolist()
    assert daily["labelled"].tolist() == expected["labelled"].tolist()
    assert daily["version"].tolist() == expected["model_version"].tolist()
    by_model = overview.daily_by_model(daily)
    pd.testing.assert_frame_equal(by_model.reset_index(drop=True),
                                  overview.daily_volume(db, window=Window(start=start)).reset_index(drop=True),
                                  check_dtype=False)


def test_model_view_is_the_summary_and_its_daily_volume(db):
    """model_view gives model_summary's row and daily_volume's by-version frame, from one pass."""
    start = NOW - timedelta(days=45)
    view = overview.model_view(db, "alpha-risk", now=NOW, window=Window(start=start, segment="region",
                                                                        segment_value="east"))
    summary = overview.model_summary(db, "alpha-risk", now=NOW, window=Window(start=start, segment="region",
                                                                              segment_value="east"))
    assert view.models.iloc[0]["predictions"] == summary["predictions"] == view.daily["predictions"].sum()
    volume = overview.daily_volume(db, model="alpha-risk", window=Window(start=start, segment="region",
                                                                         segment_value="east"), by_version=True)
    assert view.daily["predictions"].tolist() == volume["predictions"].tolist()
    assert view.daily["labelled"].tolist() == volume["labelled"].tolist()


def test_the_two_halves_combine_into_the_portfolio(db):
    """traffic (moves with now) + window_view (depends on the window) == portfolio, whatever now is."""
    start = NOW.replace(minute=0) - timedelta(days=30)
    later = NOW + timedelta(minutes=17)
    window = overview.window_view(db, window=Window(start=start))
    assert window.models[["predictions_24h", "predictions_7d"]].isna().all().all()
    halves = overview.combine(overview.traffic(db, now=later, window=Window(start=start)), window)
    whole = overview.portfolio(db, now=later, window=Window(start=start))
    pd.testing.assert_frame_equal(halves.models, whole.models)
    pd.testing.assert_frame_equal(halves.daily, whole.daily)
    assert list(overview.traffic(db, now=NOW).columns) == list(overview.TRAFFIC_COLUMNS)
    with pytest.raises(InvalidInputError, match="needs a model"):
        overview.traffic(db, now=NOW, window=Window(version="v1"))


def test_totals(db):
    """Portfolio totals sum the per-model counts; shares are ratios of the sums."""
    frame = overview.portfolio(db, now=NOW, window=Window(start=NOW - timedelta(days=30))).models
    t = overview.totals(frame)
    assert t["models"] == 2 and t["with_champion"] == 1
    assert t["predictions"] == frame["predictions"].sum()
    assert t["predictions_previous"] == frame["predictions_previous"].sum()
    assert t["labelled_share"] == pytest.approx(frame["labelled"].sum() / frame["predictions"].sum())
    empty = overview.totals(overview.portfolio(db, now=NOW).models.iloc[0:0])
    assert empty["models"] == 0 and math.isnan(empty["labelled_share"])
    assert math.isnan(overview.totals(overview.portfolio(db, now=NOW).models)["predictions_previous"])


def test_context_options_and_segment_values(db, frames):
    """Models list their versions, champion and segment columns; segment values come by frequency."""
    options = {o["model"]: o for o in overview.context_options(db)}
    assert options["alpha-risk"]["versions"] == ["v1", "v2"] and options["alpha-risk"]["champion"] == "v2"
    assert options["alpha-risk"]["segments"] == ["region", "channel"]
    assert options["beta-churn"]["segments"] == [] and options["beta-churn"]["champion"] is None
    assert overview.segment_values(db, "alpha-risk", "region") == \
        frames["alpha"]["region"].value_counts().index.tolist()
    with pytest.raises(InvalidInputError, match="not a segment column"):
        overview.segment_values(db, "alpha-risk", "gender")
    with pytest.raises(InvalidInputError, match="not a segment column"):
        overview.model_summary(db, "alpha-risk", now=NOW, window=Window(segment="income; DROP TABLE models",
                                                                        segment_value="x"))
    with pytest.raises(NotFoundError):
        overview.model_summary(db, "no-such-model", now=NOW)


def test_functions_accept_an_open_connection(db):
    """Every query takes a path or an open connection and gives the same answer."""
    with store.connect(db) as con:
        via_con = overview.portfolio(con, now=NOW)
    via_path = overview.portfolio(db, now=NOW)
    pd.testing.assert_frame_equal(via_con.models, via_path.models)
    pd.testing.assert_frame_equal(via_con.daily, via_path.daily)


def test_empty_store(tmp_path):
    """A store without models gives empty frames with the documented columns."""
    path = tmp_path / "empty.duckdb"
    store.create(path)  # vigil init: a read never creates a store
    result = overview.portfolio(path, now=NOW)
    assert result.models.empty and list(result.models.columns) == list(overview.PORTFOLIO_COLUMNS)
    assert result.daily.empty and list(result.daily.columns) == list(overview.DAILY_COLUMNS)
    assert overview.daily_by_model(result.daily).empty
    volume = overview.daily_volume(path)
    assert volume.empty and list(volume.columns) == ["day", "model", "predictions", "labelled"]
    assert overview.context_options(path) == []


def test_data_version_changes_after_ingest_not_after_sign_in(tmp_path):
    """The cache token moves with committed ingests and governance changes, not with sign-ins."""
    path = tmp_path / "token.duckdb"

    def register(con):
        registry.register_model(con, SYSTEM, "gamma", BETA_SCHEMA, owner="o")
        registry.register_version(con, SYSTEM, "gamma", "g1", threshold=0.5, owner="o")

    store.write(register, path)
    before = store.data_version(path)
    users.record_sign_in(Actor("someone", "viewer"), "oidc", db=path)
    assert store.data_version(path) == before
    preds = pd.DataFrame({
        "prediction_id": ["x1"], "predicted_at": [datetime(2026, 1, 1)], "model_version": ["g1"],
        "deployment_role": ["champion"], "score": [0.5], "decision": [1], "latency_ms": [1.0], "cost": [0.0],
        "usage": [1.0]})
    ingest.ingest("gamma", preds, actor=SYSTEM, db=path)
    after = store.data_version(path)
    assert after != before
    store.write(lambda con: governance.transition(con, SYSTEM, "gamma", "g1", "submitted"), path)
    assert store.data_version(path) != after
