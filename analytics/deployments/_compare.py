"""A baseline version against a candidate in a window, with significance and a verdict per measure.

Two designs, chosen from the log (:func:`compare`):

- **paired** (a shadow: the same requests scored by both versions): rows of the two versions that
  carry the same ``request_id`` are joined. Agreement of decisions, PSI and KS of the two score
  distributions, McNemar on correct decisions, DeLong on ROC AUC, paired bootstrap intervals of the
  difference of F1 and of the value of a decision (the KPI definition's value matrix).
- **unpaired** (a canary, a challenger, an A/B arm: different requests): two-proportion tests of the
  selection rate and the bad rate among the selected, Welch's t-test of the value and the cost of a
  decision, Mann-Whitney with the Hodges-Lehmann shift of latency; a sample-ratio-mismatch check
  against the planned traffic shares (the deployment history) blocks every verdict.

DuckDB aggregates (counts per cell, sums and sums of squares, value counts of latency, fine score
histograms); Python gets summaries, and for DeLong a seeded sample of at most :data:`DELONG_SAMPLE`
labelled pairs (said in the result).

Verdicts (:func:`verdict`) read each measure's interval, oriented so that positive is better, against
its non-inferiority margin ``m``: **better** when the whole interval is above 0 (and the Holm-adjusted
p-value below alpha), **not worse** when it is above ``-m``, **worse** when it is below 0 and reaches
past ``-m`` (adjusted p below alpha), else **keep collecting**. Sequential by default: the interval
is the always-valid confidence sequence and the p-value the always-valid one
(:func:`analytics.deployments.sequential`), so the page may be refreshed at will; ``sequential=False``
gives the fixed-horizon test for a pre-registered sample size.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analytics import settings
from analytics.business import (KpiDefinition, get_definition, has_definition, serving_hourly_source,
                                serving_summaries_current)
from analytics.deployments import _methods as m
from analytics.deployments import _paired as _pairs
from analytics.deployments._paired import amount_sql, value_sql
from analytics.drift import ks_p_value, psi
from analytics.errors import InvalidInputError
from analytics.store import DbLike, run
from analytics.window import SqlFilter, Window, time_bounds
from analytics.registry import ModelInfo, get_model, list_versions
from analytics.store import outcomes_view, predictions_view

ALPHA = settings.declare("deployments.alpha", 0.05, "error rate of a deployment comparison (two-sided, over all looks "
                         "when sequential)", minimum=0.0001, maximum=0.5)
MARGIN = settings.declare("deployments.noninferiority_margin", 0.02,
                          "non-inferiority margin of a measure, as a share of the baseline's value", minimum=0.0,
                          maximum=1.0)
MARGINS = settings.declare("deployments.margins", "",
                           "margins per measure in the measure's unit, overriding the share "
                           "(for example 'latency_ms=5, bad_rate_selected=0.005')")
COVERAGE_MIN = settings.declare("deployments.shadow_coverage_min", 0.9,
                               "share of the baseline's requests a shadow should score while it runs; a paired "
                               "comparison warns below it", minimum=0.0, maximum=1.0)
#: Pairs sampled (the lowest request hashes) for DeLong's test.
DELONG_SAMPLE = _pairs.DELONG_SAMPLE
#: A percentile above p90 gets no verdict on fewer rows than this (per arm).
PERCENTILE_MIN_ROWS = 1_000
#: Fine score bins for PSI and KS.
SCORE_BINS = _pairs.SCORE_BINS

VERDICTS = ("better", "not worse", "worse", "keep collecting")


@dataclass(frozen=True)
class Measure:
    """One measure of a comparison: the test, its sequential interval, margin and verdict."""

    key: str
    label: str
    unit: str
    higher_is_better: bool | None
    result: m.TestResult
    ci_low: float
    ci_high: float
    p_value: float
    margin: float
    adjusted_p: float = float("nan")
    verdict: str = ""


@dataclass(frozen=True)
class ShadowCoverage:
    """What share of the baseline's requests a shadow scored while it ran in the window.

    Attributes
    ----------
    pairs : int
        Requests scored by both versions in the window.
    baseline_rows : int
        Rows of the baseline from the shadow's first to its last row in the window.
    first_at, last_at : datetime or None
        The shadow's first and last row in the window (naive UTC).
    minimum : float
        The share below which the comparison warns (setting ``deployments.shadow_coverage_min``).
    """

    pairs: int
    baseline_rows: int
    first_at: datetime | None
    last_at: datetime | None
    minimum: float

    @property
    def share(self) -> float:
        """Pairs per baseline row of the shadow's period, at most 1 (a shadow's first row, logged just after
        its baseline's, can pair with a baseline row just before the period); NaN without baseline rows."""
        return min(1.0, self.pairs / self.baseline_rows) if self.baseline_rows else float("nan")

    @property
    def low(self) -> bool:
        """Whether the shadow scored less than :attr:`minimum` of the baseline's requests."""
        return math.isfinite(self.share) and self.share < self.minimum

    def message(self) -> str:
        """The coverage in words (a warning when low)."""
        if not math.isfinite(self.share):
            return "no baseline rows while the shadow ran: its coverage is unknown"
        text = (f"the shadow scored {self.share:.1%} of the baseline's requests ({self.pairs:,} pairs of "
                f"{self.baseline_rows:,} baseline rows from {self.first_at:%Y-%m-%d %H:%M} to "
                f"{self.last_at:%Y-%m-%d %H:%M} UTC)")
        if self.low:
            text += (f", below the {self.minimum:.0%} expected: the comparison covers only the requests it scored, "
                     "which may not be like the rest (check the shadow's sampling and errors)")
        return text

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"pairs": self.pairs, "baseline_rows": self.baseline_rows, "share": _finite(self.share),
                "first_at": self.first_at.isoformat() if self.first_at else None,
                "last_at": self.last_at.isoformat() if self.last_at else None, "minimum": self.minimum,
                "low": self.low}


@dataclass(frozen=True)
class DeploymentComparison:
    """The comparison of a baseline and a candidate version of a model in a window.

    Attributes
    ----------
    model, baseline, candidate : str
    design : {"paired", "unpaired"}
    start, end : datetime or None
        The window (naive UTC, end exclusive).
    rows : dict
        Rows of each version in the window (pairs under ``"pairs"`` when paired).
    measures : tuple of Measure
    ratio : RatioCheck or None
        The sample-ratio check (unpaired with a planned split).
    verdict : str
        Overall: better, not worse, worse, keep collecting, or blocked (sample-ratio mismatch).
    reason : str
        The overall verdict in words.
    sequential : bool
    alpha : float
    power : dict
        Rows per arm and days needed to detect the margin of the first rate measure at today's traffic.
    seconds : float
    coverage : ShadowCoverage or None
        Paired: the share of the baseline's requests the shadow scored.
    """

    model: str
    baseline: str
    candidate: str
    design: str
    start: datetime | None
    end: datetime | None
    rows: dict[str, int]
    measures: tuple[Measure, ...]
    ratio: m.RatioCheck | None
    verdict: str
    reason: str
    sequential: bool
    alpha: float
    power: dict = field(default_factory=dict)
    seconds: float = 0.0
    coverage: ShadowCoverage | None = None

    @property
    def table(self) -> pd.DataFrame:
        """One row per measure: baseline, candidate, difference, interval, p-values, margin, verdict."""
        return pd.DataFrame([{
            "key": x.key, "measure": x.label, "unit": x.unit, "method": x.result.method,
            "baseline": x.result.baseline, "candidate": x.result.candidate, "difference": x.result.difference,
            "ci_low": x.ci_low, "ci_high": x.ci_high, "p_value": x.p_value, "adjusted_p": x.adjusted_p,
            "margin": x.margin, "n_baseline": x.result.n_baseline, "n_candidate": x.result.n_candidate,
            "verdict": x.verdict, "note": x.result.note} for x in self.measures])

    def to_dict(self) -> dict:
        """JSON-ready: the overall verdict, the check of the split and the table."""
        table = self.table.replace({np.nan: None})
        return {"model": self.model, "baseline": self.baseline, "candidate": self.candidate, "design": self.design,
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None, "rows": self.rows, "verdict": self.verdict,
                "reason": self.reason, "sequential": self.sequential, "alpha": self.alpha,
                "sample_ratio": None if self.ratio is None else {
                    "observed": list(self.ratio.observed), "expected_share": list(self.ratio.expected_share),
                    "p_value": _finite(self.ratio.p_value), "mismatch": self.ratio.mismatch},
                "power": self.power, "coverage": None if self.coverage is None else self.coverage.to_dict(),
                "measures": table.to_dict("records")}


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


# --------------------------------------------------------------------------------------------------
# verdicts


def verdict(ci_low: float, ci_high: float, p_value: float, *, higher_is_better: bool, margin: float,
            alpha: float) -> str:
    """The verdict of one measure from its interval of the difference (see the module docstring)."""
    if not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return "keep collecting"
    low, high = (ci_low, ci_high) if higher_is_better else (-ci_high, -ci_low)
    significant = math.isfinite(p_value) and p_value < alpha
    if low > 0 and significant:
        return "better"
    if low >= -margin:
        return "not worse"
    if high < 0 and significant:
        return "worse"
    return "keep collecting"


def overall(measures: list[Measure], ratio: m.RatioCheck | None) -> tuple[str, str]:
    """The overall verdict and why, in words."""
    if ratio is not None and ratio.mismatch:
        return "blocked", (f"sample-ratio mismatch: the rows split {' / '.join(f'{o:,}' for o in ratio.observed)} "
                           f"where the plan expects {' / '.join(f'{s:.0%}' for s in ratio.expected_share)} "
                           f"(chi-square p = {ratio.p_value:.2g} < {m.SRM_P}); no verdict until the split is fixed")
    judged = [x for x in measures if x.higher_is_better is not None]
    worse = [x.label for x in judged if x.verdict == "worse"]
    if worse:
        return "worse", f"worse on {', '.join(worse)}"
    if not judged:
        return "keep collecting", "no measure can be judged yet"
    waiting = [x.label for x in judged if x.verdict == "keep collecting"]
    if waiting:
        return "keep collecting", f"not enough evidence yet on {', '.join(waiting)}"
    better = [x.label for x in judged if x.verdict == "better"]
    if better:
        return "better", f"better on {', '.join(better)}, and not worse on the rest"
    return "not worse", "not worse on every measure (within its margin)"


def _margins(con: duckdb.DuckDBPyConnection, model: str) -> tuple[float, dict[str, float]]:
    share = float(settings.get(con, MARGIN.key, model=model))
    text = str(settings.get(con, MARGINS.key, model=model) or "")
    overrides: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        try:
            overrides[key.strip()] = float(value)
        except ValueError:
            raise InvalidInputError(f"setting {MARGINS.key}: {part!r} is not 'measure=number'") from None
    return share, overrides


def _sequential_variance(r: m.TestResult, alpha: float) -> float:
    """The variance of the difference, read off the fixed-horizon interval (normal approximation)."""
    if not (math.isfinite(r.ci_low) and math.isfinite(r.ci_high)):
        return float("nan")
    return ((r.ci_high - r.ci_low) / (2 * m._z(alpha))) ** 2


def _measure(key: str, label: str, unit: str, higher: bool | None, r: m.TestResult, *, sequential: bool,
             alpha: float, margin_share: float, overrides: dict[str, float], variance: float | None = None) -> Measure:
    margin = overrides.get(key, margin_share * abs(r.baseline) if math.isfinite(r.baseline) else float("nan"))
    if higher is None or not sequential:
        return Measure(key, label, unit, higher, r, r.ci_low, r.ci_high, r.p_value, margin)
    var = _sequential_variance(r, alpha) if variance is None else variance
    s = m.sequential(r.difference, var, r.n_baseline + r.n_candidate, alpha=alpha)
    if not math.isfinite(s.ci_low):  # no variance: the fixed answer (a difference of exactly 0, or none)
        return Measure(key, label, unit, higher, r, r.ci_low, r.ci_high, r.p_value, margin)
    return Measure(key, label, unit, higher, r, s.ci_low, s.ci_high, s.p_value, margin)


def _judge(measures: list[Measure], alpha: float) -> list[Measure]:
    judged = [i for i, x in enumerate(measures) if x.higher_is_better is not None]
    adjusted = m.holm([measures[i].p_value for i in judged])
    out = list(measures)
    for i, p in zip(judged, adjusted):
        x = measures[i]
        v = verdict(x.ci_low, x.ci_high, p, higher_is_better=bool(x.higher_is_better), margin=x.margin, alpha=alpha)
        if x.key.startswith("latency_p") and min(x.result.n_baseline, x.result.n_candidate) < PERCENTILE_MIN_ROWS:
            v = "keep collecting"
        out[i] = Measure(**{**x.__dict__, "adjusted_p": p, "verdict": v})
    return out


# --------------------------------------------------------------------------------------------------
# SQL


def _shared_period(con: duckdb.DuckDBPyConnection, info: ModelInfo, baseline: str, candidate: str,
                   start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """The part of ``[start, end)`` in which both versions logged: from the later first row to just after
    the earlier last row (a canary is compared with the champion's rows of its own period)."""
    where = time_bounds("p.predicted_at", start, end)
    row = con.execute(f"SELECT max(first_at), min(last_at), count(*) FROM (SELECT model_version, min(predicted_at) AS "
                      f"first_at, max(predicted_at) AS last_at FROM {predictions_view(info.stem)} p WHERE {where.sql} "
                      "AND p.model_version IN (?, ?) GROUP BY 1)", [*where.params, baseline, candidate]).fetchone()
    if row is None or row[2] < 2:
        return start, end
    first, last = row[0], row[1] + timedelta(microseconds=1)
    return (first if start is None or first > start else start), (last if end is None or last < end else end)


def _has_pairs(con: duckdb.DuckDBPyConnection, info: ModelInfo, baseline: str, candidate: str,
               where: SqlFilter) -> bool:
    row = con.execute(f"SELECT 1 FROM {predictions_view(info.stem)} p WHERE {where.sql} AND p.model_version = ? "
                      "AND p.request_id IS NOT NULL LIMIT 1", [*where.params, candidate]).fetchone()
    return row is not None


def _planned_shares(con: duckdb.DuckDBPyConnection, model: str, baseline: str, candidate: str,
                    start: datetime | None, end: datetime | None) -> tuple[float, float] | None:
    """The traffic shares of the two versions while both served live (the latest overlapping deployments)."""
    rows = con.execute(
        "SELECT version, role, traffic_share FROM deployments WHERE model_name = ? AND version IN (?, ?) "
        "AND role <> 'shadow' AND (? IS NULL OR coalesce(ended_at, TIMESTAMP '9999-01-01') > ?) "
        "AND (? IS NULL OR started_at < ?) ORDER BY started_at", [model, baseline, candidate, start, start, end, end]
    ).fetchall()
    shares = {version: share for version, _, share in rows}
    if baseline in shares and candidate in shares and shares[candidate] < 1.0:
        return float(shares[baseline]), float(shares[candidate])
    return None


# --------------------------------------------------------------------------------------------------
# the two designs


def _paired(con, info: ModelInfo, d: KpiDefinition | None, baseline: str, candidate: str, start: datetime | None,
            end: datetime | None, opts: dict) -> tuple[list[Measure], dict[str, int], ShadowCoverage]:
    summary = (_pairs.stored(con, info, d, baseline, candidate, start, end)
               or _pairs.from_log(con, info, d, baseline, candidate, start, end))
    return (_paired_measures(summary, d, opts), {"pairs": summary.pairs},
            _coverage(con, info, baseline, candidate, start, end, summary.pairs))


def _coverage(con, info: ModelInfo, baseline: str, candidate: str, start: datetime | None, end: datetime | None,
              pairs: int) -> ShadowCoverage:
    """The baseline's rows from the shadow's first to its last row in the window, against the pairs: whole
    hours from the serving summaries when they are current (partial hours from the log), else the log."""
    minimum = float(settings.get(con, COVERAGE_MIN.key, model=info.name))
    if serving_summaries_current(con, info):  # a reader never refreshes
        source = serving_hourly_source(info, start, end, candidate)
        first, last = con.execute(f"SELECT min(first_at), max(last_at) FROM {source.sql} p", source.params).fetchone()
        rows = 0
        if first is not None:
            source = serving_hourly_source(info, first, last + timedelta(microseconds=1), baseline)
            rows = con.execute(f"SELECT coalesce(sum(predictions), 0) FROM {source.sql} p", source.params).fetchone()[0]
        return ShadowCoverage(int(pairs), int(rows), first, last, minimum)
    where = time_bounds("p.predicted_at", start, end)
    view = predictions_view(info.stem)
    first, last, rows = con.execute(
        f"""WITH c AS (SELECT min(predicted_at) AS lo, max(predicted_at) AS hi FROM {view} p
                       WHERE {where.sql} AND p.model_version = ?)
            SELECT lo, hi, (SELECT count(*) FROM {view} p WHERE {where.sql} AND p.model_version = ?
                            AND p.predicted_at >= c.lo AND p.predicted_at <= c.hi) FROM c""",
        [*where.params, candidate, *where.params, baseline]).fetchone()
    return ShadowCoverage(int(pairs), int(rows or 0), first, last, minimum)


def _paired_measures(summary: _pairs.PairedSummary, d: KpiDefinition | None, opts: dict) -> list[Measure]:
    """The paired measures of a window from its summary (the same figures, stored or from the log)."""
    cells, n = summary.cells, summary.pairs
    out: list[Measure] = []
    if n == 0:
        return out
    agree = sum(c[3] for c in cells if c[1] == c[2])
    agreement = m.TestResult("share of pairs with the same decision", 1.0, agree / n, agree / n - 1.0, float("nan"),
                             float("nan"), float("nan"), float("nan"), n, n, f"{n - agree:,} of {n:,} pairs disagree")
    out.append(_measure("agreement", "Decision agreement", "share", None, agreement, **opts))
    fine = np.zeros((2, SCORE_BINS))
    scores = summary.scores
    fine[scores["side"].to_numpy(int), scores["bin"].to_numpy(int)] = scores["n"].to_numpy(float)
    cdf = np.cumsum(fine, axis=1) / n
    d_ks = float(np.max(np.abs(cdf[0] - cdf[1])))
    out.append(_measure("score_ks", "Score distributions: KS distance", "D", None, m.TestResult(
        "two-sample Kolmogorov-Smirnov on 1,000 fine score bins", 0.0, d_ks, d_ks, float("nan"), float("nan"),
        ks_p_value(d_ks, n, n), d_ks, n, n, "D at the fine-bin boundaries (exact when no bin holds two scores)"),
        **opts))
    edges = np.searchsorted(cdf[0], np.arange(1, 10) / 10, side="left")
    cuts = np.unique(np.clip(edges + 1, 1, SCORE_BINS - 1))
    coarse = [np.add.reduceat(fine[i], np.concatenate([[0], cuts])) for i in (0, 1)]
    value = psi(coarse[0], coarse[1])
    out.append(_measure("score_psi", "Score distributions: PSI", "PSI", None, m.TestResult(
        "population stability index on the baseline's score deciles", 0.0, value, value, float("nan"),
        float("nan"), float("nan"), value, n, n, "0.1 moderate, 0.25 large shift"), **opts))
    labelled = [c for c in cells if c[0] is not None]
    if not labelled:
        return out
    correct = {(ca, cb): 0 for ca in (0, 1) for cb in (0, 1)}
    for label, da, db, count in labelled:
        correct[(int(da == label), int(db == label))] += count
    out.append(_measure("accuracy", "Correct decisions (McNemar)", "share", True,
                        m.mcnemar(correct[(1, 0)], correct[(0, 1)], correct[(1, 1)], correct[(0, 0)]), **opts,
                        variance=_paired_share_variance(correct)))
    out.append(_measure("f1", "F1 of the positive decision (paired bootstrap)", "F1", True, _f1_bootstrap(labelled, opts["alpha"]),
                        **opts))
    sample = summary.sample
    auc = m.delong(sample["label"], sample["score_a"], sample["score_b"], alpha=opts["alpha"])
    n_lab = sum(c[3] for c in labelled)
    if n_lab > DELONG_SAMPLE:
        auc = m.TestResult(**{**auc.__dict__, "note": f"{auc.note}; a sample of {DELONG_SAMPLE:,} of {n_lab:,} "
                                                       "labelled pairs (by request hash)"})
    out.append(_measure("roc_auc", "ROC AUC (DeLong)", "AUC", True, auc, **opts,
                        variance=_sequential_variance(auc, opts["alpha"])))
    if d is not None:
        diffs, sums = _value_differences(summary.values)
        if sums[2]:
            low, high = m.bootstrap_counts(diffs.index.to_numpy(float), diffs.to_numpy(float),
                                           lambda v, c: (c * v).sum(axis=-1) / c.sum(axis=-1), alpha=opts["alpha"])
            k = int(sums[2])
            var = float(sums[3] or 0.0) / k
            z = (sums[1] - sums[0]) / math.sqrt(var) if var > 0 else float("nan")
            p = float(2 * stats.norm.sf(abs(z))) if math.isfinite(z) else (1.0 if sums[1] == sums[0] else float("nan"))
            r = m.TestResult("paired bootstrap of the mean difference (2,000 resamples)", float(sums[0]), float(sums[1]),
                             float(sums[1] - sums[0]), low, high, p, z, k, k,
                             f"value matrix of the KPI definition, {d.currency} per labelled decision")
            out.append(_measure("value_per_decision", "Value per decision", d.currency, True, r, **opts,
                                variance=var))
    return out


def _value_differences(values: pd.DataFrame) -> tuple[pd.Series, tuple[float, float, int, float | None]]:
    """Pairs per value difference (sorted), and the mean value of each side, the pairs and the sample
    variance of the difference, from the counts of ``(value_a, value_b)``."""
    counts = values["n"].to_numpy(float)
    k = int(counts.sum())
    if not k:
        return pd.Series(dtype=float), (float("nan"), float("nan"), 0, float("nan"))
    a, b = values["value_a"].to_numpy(float), values["value_b"].to_numpy(float)
    diff = b - a
    per_diff = pd.Series(counts).groupby(diff, sort=True).sum()
    mean = float((counts * diff).sum() / k)
    var = float((counts * (diff - mean) ** 2).sum() / (k - 1)) if k > 1 else None
    return per_diff, (float((counts * a).sum() / k), float((counts * b).sum() / k), k, var)


def _paired_share_variance(correct: dict) -> float:
    n = sum(correct.values())
    b, c = correct[(1, 0)], correct[(0, 1)]
    return ((b + c) / n - ((c - b) / n) ** 2) / n if n else float("nan")


def _f1(values, draws):
    # cells ordered as (label, dec_a, dec_b); F1 of decision 1 against label 1, candidate minus baseline.
    draws = np.asarray(draws, float)
    lab, da, db = values.T
    out = []
    for dec in (da, db):
        tp = (draws * ((lab == 1) & (dec == 1))).sum(axis=-1)
        fp = (draws * ((lab == 0) & (dec == 1))).sum(axis=-1)
        fn = (draws * ((lab == 1) & (dec == 0))).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan))
    return out


def _f1_bootstrap(labelled: list, alpha: float) -> m.TestResult:
    values = np.array([[c[0], c[1], c[2]] for c in labelled], float)
    counts = np.array([c[3] for c in labelled], float)
    f_a, f_b = _f1(values, counts)
    low, high = m.bootstrap_counts(values, counts, lambda v, c: np.subtract(*_f1(v, c)[::-1]), alpha=alpha)
    n = int(counts.sum())
    return m.TestResult("paired bootstrap of the F1 difference (2,000 resamples)", float(f_a), float(f_b),
                        float(f_b - f_a), low, high, float("nan"), float("nan"), n, n,
                        "resampling pairs = drawing counts of the (label, decision, decision) cells")


def _unpaired(con, info: ModelInfo, d: KpiDefinition | None, baseline: str, candidate: str, rows_in: SqlFilter,
              opts: dict) -> tuple[list[Measure], dict[str, int]]:
    where, params = rows_in.sql, rows_in.params
    view = predictions_view(info.stem)
    favourable = info.schema.favourable_decision
    chosen = d.selected_decision if d else (1 if favourable is None else favourable)
    sel = f"p.decision = {int(chosen)}"
    bad = f"o.label = {int(d.bad_label)}" if d else "o.label = 1"
    value = value_sql(d, "p.decision", "o.label", amount_sql(d, "p")) if d else "NULL"
    stats_rows = con.execute(f"""
        SELECT p.model_version, count(*) AS n, count(*) FILTER (WHERE {sel}) AS selected,
               count(o.label) FILTER (WHERE {sel}) AS selected_labelled,
               count(*) FILTER (WHERE {sel} AND {bad}) AS selected_bad,
               count(p.cost), coalesce(sum(p.cost), 0)::DOUBLE, coalesce(sum(p.cost * p.cost), 0)::DOUBLE,
               count({value}), coalesce(sum({value}), 0)::DOUBLE, coalesce(sum(({value}) * ({value})), 0)::DOUBLE
        FROM {view} p
        LEFT JOIN {outcomes_view(info.stem)} o ON o.prediction_id = p.prediction_id
        WHERE {where} AND p.model_version IN (?, ?) GROUP BY 1""", [*params, baseline, candidate]).fetchall()
    by = {r[0]: r for r in stats_rows}
    a, b = by.get(baseline), by.get(candidate)
    rows = {baseline: int(a[1]) if a else 0, candidate: int(b[1]) if b else 0}
    out: list[Measure] = []
    if not a or not b:
        return out, rows
    selected_word = d.selected_label if d else info.schema.decision_text(chosen)
    judged = d is not None or favourable is not None
    out.append(_measure("selection_rate", f"Share {selected_word}", "share", True if judged else None,
                        m.two_proportions(a[2], a[1], b[2], b[1], alpha=opts["alpha"]), **opts))
    bad_word = d.bad_name if d else info.schema.outcome_text(1)
    out.append(_measure("bad_rate_selected", f"{bad_word.capitalize()} rate among {selected_word}", "share", False,
                        m.two_proportions(a[4], a[3], b[4], b[3], alpha=opts["alpha"]), **opts))
    if d is not None:
        out.append(_measure("value_per_decision", "Value per labelled decision", d.currency, True,
                            m.welch(m.Moments(a[8], a[9], a[10]), m.Moments(b[8], b[9], b[10]), alpha=opts["alpha"]),
                            **opts))
    out.append(_measure("cost_per_decision", "Cost per decision", "USD", False,
                        m.welch(m.Moments(a[5], a[6], a[7]), m.Moments(b[5], b[6], b[7]), alpha=opts["alpha"]), **opts))
    lat = con.execute(f"""SELECT p.model_version, p.latency_ms, count(*) AS cnt FROM {view} p
                          WHERE {where} AND p.model_version IN (?, ?) AND p.latency_ms IS NOT NULL
                          GROUP BY 1, 2 ORDER BY 1, 2""", [*params, baseline, candidate]).fetchnumpy()
    arms = {}
    for version in (baseline, candidate):
        mask = lat["model_version"] == version
        arms[version] = (lat["latency_ms"][mask].astype(float), lat["cnt"][mask].astype(float))
    out.append(_measure("latency_ms", "Latency (median shift)", "ms", False,
                        m.mann_whitney(*arms[baseline], *arms[candidate], alpha=opts["alpha"]), **opts))
    for q in (0.9, 0.99):
        qa = m._weighted_quantile(*arms[baseline], q) if arms[baseline][1].sum() else float("nan")
        qb = m._weighted_quantile(*arms[candidate], q) if arms[candidate][1].sum() else float("nan")
        na, nb = int(arms[baseline][1].sum()), int(arms[candidate][1].sum())
        few = min(na, nb) < PERCENTILE_MIN_ROWS and q > 0.9
        note = (f"no verdict on p{round(q * 100)} with fewer than {PERCENTILE_MIN_ROWS:,} rows per arm" if few
                else "descriptive: judged through the median shift")
        out.append(_measure(f"latency_p{round(q * 100)}", f"Latency p{round(q * 100)}", "ms", None, m.TestResult(
            "percentile of each arm", qa, qb, qb - qa, float("nan"), float("nan"), float("nan"), float("nan"), na, nb,
            note), **opts))
    return out, rows


def _power(con, info: ModelInfo, measures: list[Measure], rows: dict[str, int], start, end, alpha: float) -> dict:
    """Rows and days needed to detect the first rate measure's margin at the traffic of the window."""
    rate = next((x for x in measures if x.unit == "share" and x.higher_is_better is not None
                 and math.isfinite(x.result.baseline) and x.margin > 0), None)
    if rate is None:
        return {}
    p1 = rate.result.baseline
    p2 = min(max(p1 - rate.margin if rate.higher_is_better else p1 + rate.margin, 1e-9), 1 - 1e-9)
    n_a, n_b = max(rate.result.n_baseline, 1), max(rate.result.n_candidate, 1)
    ratio = n_b / n_a
    needed = m.rows_needed(m.rate_effect_size(p1, p2), ratio=ratio, alpha=alpha)
    days = float("nan")
    if start is not None and end is not None and end > start:
        span_days = (end - start).total_seconds() / 86_400
        days = needed / (n_a / span_days) if n_a else float("inf")
    return {"measure": rate.key, "baseline_rate": p1, "detectable_difference": abs(p2 - p1),
            "rows_needed_baseline": math.ceil(needed) if math.isfinite(needed) else None,
            "rows_needed_candidate": math.ceil(needed * ratio) if math.isfinite(needed) else None,
            "days_needed_at_current_traffic": _finite(days), "power": 0.8, "alpha": alpha}


def compare(db: DbLike, model: str, *, baseline: str, candidate: str, window: Window = Window(),
            design: str = "auto", sequential: bool = True,
            margins: dict[str, float] | None = None) -> DeploymentComparison:
    """Compare ``candidate`` with ``baseline`` on ``model``'s log in ``window``.

    Parameters
    ----------
    db : path, connection or None
        The store.
    model, baseline, candidate : str
        The model and its two versions.
    window : Window
        The time span (default the whole log); it names no version (``baseline`` and ``candidate`` do)
        and no segment.
    design : {"auto", "paired", "unpaired"}, default "auto"
        ``auto`` pairs the versions when the candidate's rows carry a ``request_id``.
    sequential : bool, default True
        Always-valid intervals and p-values (safe to look at every refresh); False for the fixed-horizon test.
    margins : dict, optional
        Non-inferiority margins by measure key, in the measure's unit (a rollout plan's guardrails);
        they override the settings ``deployments.margins`` and ``deployments.noninferiority_margin``.

    Raises
    ------
    InvalidInputError
        Same versions, an unknown version, a window with a version or a segment, an unknown design.
    """
    if baseline == candidate:
        raise InvalidInputError("baseline and candidate are the same version; compare two different versions")
    if design not in ("auto", "paired", "unpaired"):
        raise InvalidInputError(f"design {design!r} is unknown; use auto, paired or unpaired")
    window.require_no_filter("the deployment comparison")
    start, end = window.start, window.end
    began = time.perf_counter()

    def work(con: duckdb.DuckDBPyConnection) -> DeploymentComparison:
        info = get_model(con, model)
        known = set(list_versions(con, model)["version"])
        for version in (baseline, candidate):
            if version not in known:
                raise InvalidInputError(f"{model} has no version {version!r}; it has {', '.join(sorted(known))}")
        d = get_definition(con, model) if has_definition(con, model) else None
        alpha = float(settings.get(con, ALPHA.key, model=model))
        share, overrides = _margins(con, model)
        overrides = {**overrides, **(margins or {})}
        opts = {"sequential": sequential, "alpha": alpha, "margin_share": share, "overrides": overrides}
        paired = design == "paired" or (design == "auto" and _has_pairs(
            con, info, baseline, candidate, time_bounds("p.predicted_at", start, end)))
        lo, hi = (start, end) if paired else _shared_period(con, info, baseline, candidate, start, end)
        ratio = coverage = None
        if paired:
            measures, rows, coverage = _paired(con, info, d, baseline, candidate, lo, hi, opts)
        else:
            measures, rows = _unpaired(con, info, d, baseline, candidate, time_bounds("p.predicted_at", lo, hi), opts)
            planned = _planned_shares(con, model, baseline, candidate, lo, hi)
            if planned is not None and rows[baseline] + rows[candidate] > 0:
                ratio = m.srm((rows[baseline], rows[candidate]), planned)
        measures = _judge(measures, alpha)
        power = _power(con, info, measures, rows, lo, hi, alpha)
        verdict_, reason = overall(measures, ratio)
        return DeploymentComparison(model, baseline, candidate, "paired" if paired else "unpaired", lo, hi, rows,
                                    tuple(measures), ratio, verdict_, reason, sequential, alpha, power,
                                    time.perf_counter() - began, coverage)

    return run(db, work)
