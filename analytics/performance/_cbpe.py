"""Confidence-based performance estimation (CBPE), as NannyML does, for windows without labels.

1. Calibrate on the reference, when that helps, as NannyML 0.13 decides
   (``nannyml.calibration.needs_calibration``, :func:`needs_calibration`): 10 stratified shuffle
   splits (10 % held out, seed 42) of the reference; an isotonic regression fitted on each training
   part calibrates its held-out part; when the expected calibration error of all held-out scores (10
   equal-count bins) is lower after calibration, the isotonic regression of the label on the score
   (:class:`sklearn.isotonic.IsotonicRegression`, ``out_of_bounds="clip"``) fitted on the whole
   reference is used; else the scores themselves. :attr:`CBPEResult.calibrated` says which.
2. Apply it inside DuckDB to the window's score cells (:mod:`analytics.performance._cells`: rows per
   fine score bin and decision, with their summed scores): the fitted step function (its thresholds,
   linearly interpolated as ``IsotonicRegression.predict`` does) is joined to each cell's mean score
   with an ASOF join, giving its rows the calibrated probability ``p`` that their label is 1. Where
   the function is linear across a cell this is the rows' own mean ``p``; it differs where a step of
   the calibration falls inside a score bin (tested within 1e-3 of the per-row values).
3. Per window, the expected confusion matrix at the version's threshold (``d`` = the decision):
   ``TP = sum(p d)``, ``FP = sum((1 - p) d)``, ``FN = sum(p (1 - d))``, ``TN = sum((1 - p)(1 - d))``;
   accuracy, precision, recall and F1 follow from it. The expected ROC AUC counts every row as a
   positive of weight ``p`` and a negative of weight ``1 - p`` ranked by its score bin, which is
   ``roc_auc_score(y=[1]*n + [0]*n, score=[s, s], sample_weight=[p, 1 - p])`` with pairs in one bin
   counted as ties.

The fits on the reference (the calibration, the alert thresholds and the sampling error below) are made
once per version's reference in a process (:func:`~analytics.performance._sampling.from_reference`).

Where labels exist the realised metrics are returned beside the estimates, with the error
(estimated minus realised), so that a reviewer sees how far to trust the unlabelled windows.

4. How far an estimate moves by chance, as NannyML shows it: the sampling error of the estimated
   ROC AUC for a window of ``n`` predictions (:class:`~analytics.performance._sampling.AucSamplingError`,
   from the reference) and the confidence band of +/- 3 sampling errors (clipped to [0, 1]); and
   NannyML's alert thresholds per metric: the mean +/- 3 standard deviations of the metric realised
   on the reference cut into 10 chunks in its row order (``DefaultChunker``,
   ``StandardDeviationThreshold``), clipped to [0, 1]. An estimate outside them is an alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from analytics.errors import InvalidInputError
from analytics.store import DbLike, run
from analytics.window import Window
from analytics.performance._realised import (PERF, UNSUMMARISED, Loaded, load, metrics_of_perf,
                                             threshold_metrics)
from analytics.performance._sampling import SAMPLING_ERROR_RANGE, AucSamplingError, from_reference

ESTIMATED: tuple[str, ...] = ("roc_auc", "accuracy", "precision", "recall", "f1")
CAL = "_vigil_calibrator"


def fit_calibrator(scores: np.ndarray, labels: np.ndarray):
    """The isotonic calibrator of a reference's scores (an :class:`~sklearn.isotonic.IsotonicRegression`)."""
    from sklearn.isotonic import IsotonicRegression

    if len(scores) < 2 or len(np.unique(labels)) < 2:
        raise InvalidInputError("CBPE needs reference data with both labels to calibrate on")
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)


REFERENCE_CHUNKS = 10
SPLITS, HELD_OUT, SPLIT_SEED, ECE_BINS = 10, 0.1, 42, 10


def _ece(labels: np.ndarray, scores: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error on equal-count bins of the sorted scores (NannyML's)."""
    n = len(scores)
    if n <= 2 * bins:
        bins = n // 2
    width = n // bins
    edges = np.asarray(range(0, n + 1, width))
    edges[-1] = n
    order = scores.argsort()
    scores, labels = scores[order], labels[order]
    return float(np.sum([(b - a) / n * abs(np.mean(scores[a:b]) - np.mean(labels[a:b]))
                         for a, b in zip(edges[:-1], edges[1:])]))


def needs_calibration(labels: np.ndarray, scores: np.ndarray) -> bool:
    """Whether isotonic calibration lowers the reference's expected calibration error (NannyML's check)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit

    labels, scores = np.asarray(labels, float), np.asarray(scores, float)
    if len(np.unique(labels)) == 1 or roc_auc_score(labels, scores) > 0.999:
        return False
    truth, raw, calibrated = [], [], []
    for train, test in StratifiedShuffleSplit(n_splits=SPLITS, test_size=HELD_OUT,
                                              random_state=SPLIT_SEED).split(scores, labels):
        regression = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(scores[train], labels[train])
        truth.append(labels[test])
        raw.append(scores[test])
        calibrated.append(regression.predict(scores[test]))
    truth_all, raw_all, calibrated_all = np.concatenate(truth), np.concatenate(raw), np.concatenate(calibrated)
    return _ece(truth_all, raw_all) > _ece(truth_all, calibrated_all)


def _chunk_metrics(chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """The :data:`ESTIMATED` metrics of each chunk of (labels, scores, decisions): ROC AUC by
    :func:`sklearn.metrics.roc_auc_score` (NaN with one class), the others from the chunk's confusion
    counts (:func:`~analytics.performance._realised.threshold_metrics`, scikit-learn's formulas)."""
    from sklearn import config_context
    from sklearn.metrics import roc_auc_score

    counts = np.array([[np.sum((d == 1) & (y == 1)), np.sum((d == 1) & (y == 0)), np.sum((d == 0) & (y == 1)),
                        np.sum((d == 0) & (y == 0))] for y, _, d in chunks], float).reshape(-1, 4)
    out = threshold_metrics(*counts.T)
    with config_context(skip_parameter_validation=True):
        out["roc_auc"] = np.array([roc_auc_score(y, s) if len(np.unique(y)) == 2 else np.nan for y, s, _ in chunks])
    return out


def reference_thresholds(labels: np.ndarray, scores: np.ndarray, decisions: np.ndarray
                         ) -> dict[str, tuple[float, float]]:
    """NannyML's alert thresholds per estimated metric: mean +/- 3 std of 10 reference chunks, within [0, 1]."""
    size = len(labels) // REFERENCE_CHUNKS
    if size == 0:
        return {m: (np.nan, np.nan) for m in ESTIMATED}
    chunks = _chunk_metrics([(labels[i:i + size], scores[i:i + size], decisions[i:i + size])
                             for i in range(0, len(labels), size)])
    out = {}
    for m in ESTIMATED:
        values = chunks[m]
        mean, std = np.nanmean(values), np.nanstd(values)
        out[m] = (max(mean - SAMPLING_ERROR_RANGE * std, 0.0), min(mean + SAMPLING_ERROR_RANGE * std, 1.0))
    return out


@dataclass(frozen=True)
class CBPEResult:
    """Estimated performance per period, with its sampling error, confidence band and alert thresholds.

    Attributes
    ----------
    table : pandas.DataFrame
        ``period``, ``group``, ``rows``, ``labelled``, ``label_state``, for each of :data:`ESTIMATED`
        ``est_<m>`` (estimated), ``<m>`` (realised, NaN without labels), ``err_<m>`` (estimated minus
        realised), ``lower_threshold_<m>``, ``upper_threshold_<m>`` and ``alert_<m>`` (the estimate
        outside them); ``sampling_error_roc_auc``, ``lower_confidence_roc_auc`` and
        ``upper_confidence_roc_auc`` (the estimate +/- 3 sampling errors); ``version``, ``threshold``.
    calibrated : bool
        Whether the scores were calibrated (isotonic, on the reference) before estimating.
    thresholds : dict of str to (float, float)
        Per metric, NannyML's alert thresholds from the reference chunks.
    unsummarised_days : tuple of date
        Whole UTC days of the window read from the log because the summary did not hold them yet.
    """

    table: pd.DataFrame
    calibrated: bool
    thresholds: dict[str, tuple[float, float]] = field(default_factory=dict)
    unsummarised_days: tuple[date, ...] = ()

    @property
    def calibration_note(self) -> str:
        """Which scores the estimate used, in words."""
        return ("scores calibrated on the reference (isotonic regression), since calibration lowered its expected "
                "calibration error" if self.calibrated else
                "scores used as they are: isotonic calibration did not lower the reference's expected calibration error")


@dataclass(frozen=True)
class _ReferenceFit:
    """What CBPE takes from a version's reference: the calibrator it applies (None: the scores as they are),
    whether it calibrates, NannyML's alert thresholds and the sampling error of ROC AUC."""

    calibrator: object | None
    calibrated: bool
    thresholds: dict[str, tuple[float, float]]
    sampling: AucSamplingError


def _fit_reference(labels: np.ndarray, scores: np.ndarray, decisions: np.ndarray) -> _ReferenceFit:
    """CBPE's fits of a reference (kept per reference by :func:`from_reference`)."""
    calibrator = fit_calibrator(scores, labels)
    calibrated = needs_calibration(labels, scores)
    return _ReferenceFit(calibrator if calibrated else None, calibrated, reference_thresholds(labels, scores, decisions),
                         AucSamplingError.fit(labels, scores))


def _load_calibrator(con: duckdb.DuckDBPyConnection, calibrator) -> None:
    """Load a fitted isotonic regression (or None: the identity, the scores as they are) as a step table."""
    if calibrator is None:
        x = y = np.array([0.0, 1.0])
    else:
        x = np.asarray(calibrator.X_thresholds_, float)
        y = np.asarray(calibrator.y_thresholds_, float)
    nx = np.r_[x[1:], np.nan]
    ny = np.r_[y[1:], np.nan]
    frame = pd.DataFrame({"x": x, "y": y, "nx": nx, "ny": ny})
    con.execute(f"DROP TABLE IF EXISTS {CAL}")
    con.register("_vigil_cal_frame", frame)
    try:
        con.execute(f"CREATE TEMP TABLE {CAL} AS SELECT * FROM _vigil_cal_frame")
    finally:
        con.unregister("_vigil_cal_frame")


def _calibrated_sql() -> str:
    """Each cell of the performance table with the calibrated probability ``p`` of its mean score (clip +
    interpolation)."""
    return f"""
    SELECT t._period, t._group, t.bin, t.d, t.n,
           CASE WHEN c.x IS NULL THEN (SELECT y FROM {CAL} ORDER BY x LIMIT 1)
                WHEN c.nx IS NULL OR c.nx = c.x THEN c.y
                ELSE c.y + (t.m - c.x) * (c.ny - c.y) / (c.nx - c.x) END AS p
    FROM {PERF} t ASOF LEFT JOIN {CAL} c ON t.m >= c.x
    """


def _estimate_sql() -> str:
    return f"""
    WITH cal AS ({_calibrated_sql()}),
    c AS (SELECT _period, _group, sum(n) AS rows, sum(n * p * d) AS etp, sum(n * (1 - p) * d) AS efp,
                 sum(n * p * (1 - d)) AS efn, sum(n * (1 - p) * (1 - d)) AS etn, sum(n * p) AS w1,
                 sum(n * (1 - p)) AS w0
          FROM cal GROUP BY ALL),
    s AS (SELECT _period, _group, bin, sum(n * p) AS w1, sum(n * (1 - p)) AS w0 FROM cal GROUP BY ALL),
    r AS (SELECT _period, _group, w1, w0,
                 coalesce(sum(w0) OVER (PARTITION BY _period, _group ORDER BY bin
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS w0_below
          FROM s),
    a AS (SELECT _period, _group, sum(w1 * (w0_below + w0 / 2)) AS auc_num FROM r GROUP BY ALL)
    SELECT c.*, a.auc_num FROM c JOIN a ON a._period = c._period AND a._group IS NOT DISTINCT FROM c._group
    ORDER BY 1, 2
    """


def estimate_from_expected(frame: pd.DataFrame) -> pd.DataFrame:
    """Estimated metrics from the expected confusion counts (``etp``, ``efp``, ``efn``, ``etn``, ``auc_num``)."""
    out = frame.copy()
    n = out["etp"] + out["efp"] + out["efn"] + out["etn"]
    out["est_accuracy"] = (out["etp"] + out["etn"]) / n.where(n > 0)
    out["est_precision"] = out["etp"] / (out["etp"] + out["efp"]).where(lambda v: v > 0)
    out["est_recall"] = out["etp"] / (out["etp"] + out["efn"]).where(lambda v: v > 0)
    out["est_f1"] = 2 * out["etp"] / (2 * out["etp"] + out["efp"] + out["efn"]).where(lambda v: v > 0)
    out["est_roc_auc"] = out["auc_num"] / (out["w1"] * out["w0"]).where(lambda v: v > 0)
    return out


def cbpe(db: DbLike, model: str, *, window: Window, freq: str | None = "week") -> CBPEResult:
    """Estimated performance per period of ``window`` (version: default the champion), beside the realised
    one where labels exist.

    Returns
    -------
    CBPEResult
        The table (see :class:`CBPEResult`), whether the scores were calibrated, and the thresholds.
    """

    def work(con: duckdb.DuckDBPyConnection) -> CBPEResult:
        loaded = load(con, model, window=window, freq=freq)
        try:
            return cbpe_of_perf(con, model, loaded)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {PERF}")

    return run(db, work)


def cbpe_of_perf(con: duckdb.DuckDBPyConnection, model: str, loaded: Loaded) -> CBPEResult:
    """The result of :func:`cbpe` from the table :data:`~analytics.performance._realised.PERF` of a window's
    periods (:func:`~analytics.performance._realised.load`), whose realised metrics it holds beside the
    estimates."""
    fit = from_reference(con, model, loaded.version["version"], "cbpe", _fit_reference)
    try:
        _load_calibrator(con, fit.calibrator)
        estimated = estimate_from_expected(con.execute(_estimate_sql()).df())
    finally:
        con.execute(f"DROP TABLE IF EXISTS {CAL}")
    realised = metrics_of_perf(con, model, loaded)
    estimated = estimated.rename(columns={"_period": "period", "_group": "group"})
    merged = realised.merge(estimated[["period", "group", *(f"est_{m}" for m in ESTIMATED)]],
                            on=["period", "group"], how="left")
    thresholds = dict(fit.thresholds)
    for m in ESTIMATED:
        merged[f"err_{m}"] = merged[f"est_{m}"] - merged[m]
        lower, upper = thresholds[m]
        merged[f"lower_threshold_{m}"], merged[f"upper_threshold_{m}"] = lower, upper
        merged[f"alert_{m}"] = (merged[f"est_{m}"] < lower) | (merged[f"est_{m}"] > upper)
    error = fit.sampling.at(merged["rows"])
    merged["sampling_error_roc_auc"] = error
    merged["lower_confidence_roc_auc"] = (merged["est_roc_auc"] - SAMPLING_ERROR_RANGE * error).clip(lower=0.0)
    merged["upper_confidence_roc_auc"] = (merged["est_roc_auc"] + SAMPLING_ERROR_RANGE * error).clip(upper=1.0)
    merged.attrs[UNSUMMARISED] = realised.attrs[UNSUMMARISED]
    return CBPEResult(merged, fit.calibrated, thresholds, realised.attrs[UNSUMMARISED])


__all__ = ["ESTIMATED", "CBPEResult", "cbpe", "needs_calibration", "reference_thresholds", "estimate_from_expected", "fit_calibrator"]
