"""The model-risk pack of a model: back-testing, benchmarking against the challenger, human overrides.

Back-testing (outcomes analysis) compares, per period (UTC month or week) of prediction time, the
expected rate of the positive class (the mean score of the labelled rows: the score is the predicted
probability of the positive class) with the realised rate, with two tests computed on DuckDB's sums:

- a two-sided exact **binomial test** of the realised count of positives against the expected rate
  (:func:`scipy.stats.binomtest`);
- the **Hosmer-Lemeshow** test over score deciles of the period (rows split into ``groups`` of equal
  size by score): ``sum((O - E)^2 / (E (1 - E / n)))`` over groups, chi-square with ``groups - 2``
  degrees of freedom (:func:`scipy.stats.chi2`).

A period is *over-predicts* or *under-predicts* when the binomial p-value is below ``alpha`` (setting
``compliance.backtest_alpha``, default 0.05), else *miscalibrated across scores* when the Hosmer-Lemeshow
p-value is, else *consistent*; with fewer than ``min_rows`` labelled rows, *insufficient data*.

Benchmarking reuses :func:`analytics.deployments.compare` with the champion as baseline and the
challenger (the newest version logged as challenger, shadow or canary) as candidate.

Human overrides are read from a declared log column named ``human_decision`` (the decision a human
reviewer finally took, 0 or 1; empty when nobody reviewed the case): an override is a row whose human
decision differs from the model's. With labels, an override *proved right* when the human decision was
the correct one (a favourable decision for a case that turned out negative, or an unfavourable one for a
positive case) and the model's was not. A model whose log has no such column has no override data, and
the pack says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analytics import settings
from analytics.compliance._calendar import review_calendar
from analytics.deployments import DeploymentComparison, compare
from analytics.errors import InvalidInputError
from analytics.logschema import OVERRIDE_COLUMN, quote
from analytics.store import DbLike, run
from analytics.window import Window
from analytics.registry import champion_version, get_model, get_version
from analytics.store import outcomes_view, predictions_view

ALPHA = settings.declare("compliance.backtest_alpha", 0.05, "Significance level of the back-tests (binomial and "
                         "Hosmer-Lemeshow): a period with a p-value below it is flagged", minimum=0.0001,
                         maximum=0.5)
#: The periods a back-test is grouped by (calendar months or weeks, UTC).
BACKTEST_PERIODS: tuple[str, ...] = ("month", "week")
BACKTEST_COLUMNS: tuple[str, ...] = ("period", "labelled", "expected_rate", "realised_rate", "expected_positives",
                                     "realised_positives", "binomial_p", "hl_statistic", "hl_groups", "hl_p",
                                     "verdict")


@dataclass(frozen=True)
class Backtest:
    """Realised against expected by period for one version of a model.

    Attributes
    ----------
    model, version, period : str
    alpha : float
    table : pandas.DataFrame
        One row per period (:data:`BACKTEST_COLUMNS`); ``period`` is the period's first day (UTC).
    predictions, labelled : int
        Rows of the version in the window, and those with an outcome (only these are back-tested).
    start, end : datetime or None
    seconds : float
    """

    model: str
    version: str
    period: str
    alpha: float
    table: pd.DataFrame
    predictions: int
    labelled: int
    start: datetime | None
    end: datetime | None
    seconds: float

    @property
    def flagged(self) -> int:
        """Periods whose tests reject calibration at ``alpha``."""
        if self.table.empty:
            return 0
        return int((~self.table["verdict"].isin(["consistent", "insufficient data"])).sum())


def hosmer_lemeshow(observed: np.ndarray, expected: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """The Hosmer-Lemeshow statistic and p-value of groups (observed positives, expected positives, rows).

    Groups with no rows are dropped; the statistic is chi-square with ``groups - 2`` degrees of freedom
    (NaN with fewer than 3 groups).
    """
    keep = n > 0
    o, e, m = observed[keep].astype(float), expected[keep].astype(float), n[keep].astype(float)
    if len(m) < 3:
        return float("nan"), float("nan")
    variance = e * (1 - e / m)
    terms = np.where(variance > 0, (o - e) ** 2 / np.where(variance > 0, variance, 1.0), 0.0)
    statistic = float(terms.sum())
    return statistic, float(stats.chi2.sf(statistic, len(m) - 2))


def backtest(db: DbLike, model: str, *, window: Window = Window(), period: str = "month", groups: int = 10,
             min_rows: int = 100) -> Backtest:
    """Back-test the window's version of ``model`` (default the champion) per ``period`` of prediction time (UTC).

    Parameters
    ----------
    db : path, connection or None
    model : str
    window : Window
        The prediction times, the version (default the champion) and optionally a segment's rows.
    period : {"month", "week"}
    groups : int, default 10
        Score groups of the Hosmer-Lemeshow test (deciles).
    min_rows : int, default 100
        A period with fewer labelled rows is reported (with its tests) as ``insufficient data``.

    Raises
    ------
    InvalidInputError
        Unknown period, fewer than 3 groups, no version given and no champion.
    """
    if period not in BACKTEST_PERIODS:
        raise InvalidInputError(f"period {period!r} is unknown; use {' or '.join(BACKTEST_PERIODS)}")
    if not isinstance(groups, int) or groups < 3:
        raise InvalidInputError("the Hosmer-Lemeshow test needs at least 3 score groups")
    began = time.perf_counter()

    def work(con: duckdb.DuckDBPyConnection) -> Backtest:
        info = get_model(con, model)
        chosen = window.version or champion_version(con, model)
        if chosen is None:
            raise InvalidInputError(f"{model} has no champion; give the version to back-test")
        get_version(con, model, chosen)
        alpha = float(settings.get(con, ALPHA.key, model=model))
        rows_of = replace(window, version=chosen).where(info.schema)
        pv, ov = predictions_view(info.stem), outcomes_view(info.stem)
        total = con.execute(f"SELECT count(*) FROM {pv} p WHERE {rows_of.sql}", rows_of.params).fetchone()[0]
        cells = con.execute(f"""
            WITH labelled AS (
                SELECT date_trunc('{period}', p.predicted_at) AS period, p.score, o.label,
                       ntile({groups}) OVER (PARTITION BY date_trunc('{period}', p.predicted_at)
                                             ORDER BY p.score, p.prediction_id) AS grp
                FROM {pv} p JOIN {ov} o USING (prediction_id)
                WHERE {rows_of.sql} AND o.label IS NOT NULL AND p.score IS NOT NULL)
            SELECT period, grp, count(*) AS n, sum(score) AS expected, sum(label) AS observed
            FROM labelled GROUP BY ALL ORDER BY period, grp""", rows_of.params).df()
        rows = []
        for when, part in cells.groupby("period", sort=True):
            n, expected, observed = int(part["n"].sum()), float(part["expected"].sum()), int(part["observed"].sum())
            rate = expected / n
            binomial = stats.binomtest(observed, n, min(max(rate, 1e-12), 1 - 1e-12)).pvalue
            hl, hl_p = hosmer_lemeshow(part["observed"].to_numpy(), part["expected"].to_numpy(),
                                       part["n"].to_numpy())
            if n < min_rows:
                verdict = "insufficient data"
            elif binomial < alpha:
                verdict = "under-predicts" if observed > expected else "over-predicts"
            elif hl_p == hl_p and hl_p < alpha:
                verdict = "miscalibrated across scores"
            else:
                verdict = "consistent"
            rows.append({"period": pd.Timestamp(when), "labelled": n, "expected_rate": rate,
                         "realised_rate": observed / n, "expected_positives": expected,
                         "realised_positives": observed, "binomial_p": float(binomial), "hl_statistic": hl,
                         "hl_groups": int(len(part)), "hl_p": hl_p, "verdict": verdict})
        table = pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))
        return Backtest(model, chosen, period, alpha, table, int(total), int(table["labelled"].sum()) if rows else 0,
                        window.start, window.end, time.perf_counter() - began)

    return run(db, work)


@dataclass(frozen=True)
class Benchmark:
    """The champion against its challenger, or why there is no comparison.

    Attributes
    ----------
    champion, challenger : str or None
    comparison : DeploymentComparison or None
        :func:`analytics.deployments.compare` of the two (None without both).
    note : str
        In words: the verdict, or why nothing was compared.
    """

    champion: str | None
    challenger: str | None
    comparison: DeploymentComparison | None
    note: str


def challenger_version(con: duckdb.DuckDBPyConnection, model: str, champion: str | None) -> str | None:
    """The newest version (by its last row) logged as challenger, shadow or canary, other than the champion."""
    info = get_model(con, model)
    row = con.execute(f"SELECT model_version FROM {predictions_view(info.stem)} WHERE deployment_role IN "
                      "('challenger', 'shadow', 'canary') AND model_version IS DISTINCT FROM ? "
                      "GROUP BY model_version ORDER BY max(predicted_at) DESC LIMIT 1", [champion]).fetchone()
    return None if row is None else str(row[0])


def benchmark(db: DbLike, model: str, *, window: Window = Window()) -> Benchmark:
    """Compare the champion of ``model`` with its challenger (:func:`analytics.deployments.compare`) over
    ``window`` (a time span: the comparison names its two versions)."""
    def versions(con):
        champion = champion_version(con, model) if get_model(con, model) else None
        return champion, challenger_version(con, model, champion)

    champion, challenger = run(db, versions)
    if champion is None or challenger is None:
        missing = "no champion" if champion is None else "no challenger, shadow or canary in its log"
        return Benchmark(champion, challenger, None, f"{model} has {missing}: nothing to benchmark against")
    result = compare(db, model, baseline=champion, candidate=challenger, window=window)
    return Benchmark(champion, challenger, result,
                     f"challenger {challenger} against champion {champion} ({result.design}): {result.verdict} — "
                     f"{result.reason}")


@dataclass(frozen=True)
class Overrides:
    """Human overrides of the model's decisions, and how often they proved right.

    Attributes
    ----------
    available : bool
        Whether the model's log holds override data (a ``human_decision`` column).
    note : str
        In words (says plainly when the model has no override data).
    table : pandas.DataFrame
        Per version: rows, reviewed (a human decision logged), overridden, override_rate (of all rows),
        override_rate_reviewed, overridden_labelled, override_right (the human was right, the model wrong),
        override_wrong (the model was right, the human wrong), right_share.
    """

    available: bool
    note: str
    table: pd.DataFrame


def overrides(db: DbLike, model: str, *, window: Window = Window()) -> Overrides:
    """The override rate of human reviewers per version, and how often the overrides proved right, over the
    rows of ``window`` (default: the whole log; its version and segment apply)."""
    def work(con: duckdb.DuckDBPyConnection) -> Overrides:
        info = get_model(con, model)
        if OVERRIDE_COLUMN not in {c.name for c in info.schema.columns}:
            return Overrides(False, f"{model} has no override data: its log declares no '{OVERRIDE_COLUMN}' column, "
                                    "so Vigil cannot tell when a human reviewer overrode a decision.",
                             pd.DataFrame())
        fav = info.schema.favourable_decision
        if fav is None:
            return Overrides(False, f"{model} logs '{OVERRIDE_COLUMN}' but declares no favourable decision, so "
                                    "whether an override proved right cannot be judged.", pd.DataFrame())
        rows_of = window.where(info.schema)
        human = f"CAST(p.{quote(OVERRIDE_COLUMN)} AS INTEGER)"
        # A decision is right when it is unfavourable exactly for the positive (bad) cases.
        right = "(({d}) <> {fav}) = (o.label = 1)"
        table = con.execute(f"""
            SELECT p.model_version AS version, count(*) AS rows, count({human}) AS reviewed,
                   count(*) FILTER (WHERE {human} <> p.decision) AS overridden,
                   count(*) FILTER (WHERE {human} <> p.decision AND o.label IS NOT NULL) AS overridden_labelled,
                   count(*) FILTER (WHERE {human} <> p.decision AND o.label IS NOT NULL
                                    AND {right.format(d=human, fav=fav)}) AS override_right,
                   count(*) FILTER (WHERE {human} <> p.decision AND o.label IS NOT NULL
                                    AND {right.format(d='p.decision', fav=fav)}) AS override_wrong
            FROM {predictions_view(info.stem)} p LEFT JOIN {outcomes_view(info.stem)} o USING (prediction_id)
            WHERE {rows_of.sql} GROUP BY ALL ORDER BY version""", rows_of.params).df()
        table["override_rate"] = table["overridden"] / table["rows"]
        table["override_rate_reviewed"] = table["overridden"] / table["reviewed"].where(table["reviewed"] > 0)
        table["right_share"] = table["override_right"] / table["overridden_labelled"].where(
            table["overridden_labelled"] > 0)
        total = int(table["overridden"].sum())
        return Overrides(True, f"{total:,} decisions of {int(table['rows'].sum()):,} were overridden by a human "
                               f"reviewer; {int(table['override_right'].sum()):,} of the "
                               f"{int(table['overridden_labelled'].sum()):,} with an outcome proved right.", table)

    return run(db, work)


@dataclass(frozen=True)
class ModelRiskPack:
    """Everything of :mod:`analytics.compliance._risk` for one model, plus its review calendar row."""

    model: str
    backtest: Backtest | None
    backtest_note: str
    benchmark: Benchmark
    overrides: Overrides
    review: dict

    def to_dict(self) -> dict:
        """JSON-ready."""
        bt = self.backtest
        return {"model": self.model, "backtest_note": self.backtest_note,
                "backtest": None if bt is None else {
                    "version": bt.version, "period": bt.period, "alpha": bt.alpha, "predictions": bt.predictions,
                    "labelled": bt.labelled, "flagged_periods": bt.flagged,
                    "table": _records(bt.table)},
                "benchmark": {"champion": self.benchmark.champion, "challenger": self.benchmark.challenger,
                              "note": self.benchmark.note,
                              "comparison": None if self.benchmark.comparison is None
                              else self.benchmark.comparison.to_dict()},
                "overrides": {"available": self.overrides.available, "note": self.overrides.note,
                              "table": _records(self.overrides.table)},
                "review": {k: (pd.Timestamp(v).isoformat() + "Z" if isinstance(v, (datetime, pd.Timestamp)) else v)
                           for k, v in self.review.items()}}


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso")) if not frame.empty else []


def model_risk_pack(db: DbLike, model: str, *, period: str = "month", now: datetime | None = None) -> ModelRiskPack:
    """The model-risk pack of ``model``: back-test of the champion, benchmark, overrides, review calendar row."""
    def calendar_row(con):
        get_model(con, model)
        frame = review_calendar(con, now=now)
        return frame[frame["model"] == model].iloc[0].to_dict()

    review = run(db, calendar_row)
    try:
        bt, note = backtest(db, model, period=period), ""
        if bt.labelled == 0:
            note = f"{model} {bt.version} has no labelled prediction yet: nothing to back-test."
    except InvalidInputError as exc:
        bt, note = None, str(exc)
    return ModelRiskPack(model, bt, note, benchmark(db, model), overrides(db, model), review)
