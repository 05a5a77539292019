"""Confidence-based performance estimation (CBPE), as NannyML does, for windows without labels.

1. Calibrate on the reference: an isotonic regression of the label on the score
   (:class:`sklearn.isotonic.IsotonicRegression`, ``out_of_bounds="clip"``), fitted on the
   version's reference data; NannyML does the same when the scores are not already calibrated.
2. Apply it inside DuckDB: the fitted step function (its thresholds, linearly interpolated as
   ``IsotonicRegression.predict`` does) is joined to every row with an ASOF join, giving each row
   the calibrated probability ``p`` that its label is 1.
3. Per window, the expected confusion matrix at the version's threshold (``d`` = the decision):
   ``TP = sum(p d)``, ``FP = sum((1 - p) d)``, ``FN = sum(p (1 - d))``, ``TN = sum((1 - p)(1 - d))``;
   accuracy, precision, recall and F1 follow from it. The expected ROC AUC counts every row as a
   positive of weight ``p`` and a negative of weight ``1 - p`` ranked by its score, which is
   ``roc_auc_score(y=[1]*n + [0]*n, score=[s, s], sample_weight=[p, 1 - p])``.

Where labels exist the realised metrics are returned beside the estimates, with the error
(estimated minus realised), so that a reviewer sees how far to trust the unlabelled windows.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from analytics.errors import InvalidInputError
from analytics.overview import DbLike, _run
from analytics.performance._realised import PERF, _finish, _metrics_sql, load, metrics_from_counts, min_labelled
from analytics.registry import get_model
from analytics.store import reference_table

ESTIMATED: tuple[str, ...] = ("roc_auc", "accuracy", "precision", "recall", "f1")
CAL = "_vigil_calibrator"


def fit_calibrator(scores: np.ndarray, labels: np.ndarray):
    """The isotonic calibrator of a reference's scores (an :class:`~sklearn.isotonic.IsotonicRegression`)."""
    from sklearn.isotonic import IsotonicRegression

    if len(scores) < 2 or len(np.unique(labels)) < 2:
        raise InvalidInputError("CBPE needs reference data with both labels to calibrate on")
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)


def _load_calibrator(con: duckdb.DuckDBPyConnection, calibrator) -> None:
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
    """Each row of the performance table with its calibrated probability ``p`` (clip + interpolation)."""
    return f"""
    SELECT t._period, t._group, t.score, t.d, t.label,
           CASE WHEN c.x IS NULL THEN (SELECT y FROM {CAL} ORDER BY x LIMIT 1)
                WHEN c.nx IS NULL OR c.nx = c.x THEN c.y
                ELSE c.y + (t.score - c.x) * (c.ny - c.y) / (c.nx - c.x) END AS p
    FROM {PERF} t ASOF LEFT JOIN {CAL} c ON t.score >= c.x
    """


def _estimate_sql() -> str:
    return f"""
    WITH cal AS ({_calibrated_sql()}),
    c AS (SELECT _period, _group, count(*) AS rows, sum(p * d) AS etp, sum((1 - p) * d) AS efp,
                 sum(p * (1 - d)) AS efn, sum((1 - p) * (1 - d)) AS etn, sum(p) AS w1, sum(1 - p) AS w0
          FROM cal GROUP BY ALL),
    s AS (SELECT _period, _group, score, sum(p) AS w1, sum(1 - p) AS w0 FROM cal GROUP BY ALL),
    r AS (SELECT _period, _group, w1, w0,
                 coalesce(sum(w0) OVER (PARTITION BY _period, _group ORDER BY score
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS w0_below
          FROM s),
    a AS (SELECT _period, _group, sum(w1 * (w0_below + w0 / 2)) AS auc_num FROM r GROUP BY ALL)
    SELECT c.*, a.auc_num FROM c JOIN a USING (_period, _group) ORDER BY 1, 2
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


def cbpe(db: DbLike, model: str, *, start: datetime | None, end: datetime | None, version: str | None = None,
         freq: str | None = "week", segment: str | None = None, segment_value: str | None = None) -> pd.DataFrame:
    """Estimated performance per period, beside the realised one where labels exist.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``rows``, ``labelled``, ``labelled_share``, for each of :data:`ESTIMATED`
        ``est_<m>`` (estimated), ``<m>`` (realised, NaN without labels) and ``err_<m>``
        (estimated minus realised), ``version`` and ``threshold``.
    """

    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        row = load(con, model, version=version, start=start, end=end, freq=freq, segment=segment,
                   segment_value=segment_value)
        try:
            info = get_model(con, model)
            ref = con.execute(f"SELECT score, label FROM {reference_table(info.stem)} WHERE model_version = ?",
                              [row["version"]]).fetchnumpy()
            calibrator = fit_calibrator(np.asarray(ref["score"], float), np.asarray(ref["label"], float))
            _load_calibrator(con, calibrator)
            estimated = estimate_from_expected(con.execute(_estimate_sql()).df())
            realised = _finish(con.execute(_metrics_sql()).df(), row, min_labelled(con, model))
        finally:
            con.execute(f"DROP TABLE IF EXISTS {PERF}")
            con.execute(f"DROP TABLE IF EXISTS {CAL}")
        estimated = estimated.rename(columns={"_period": "period", "_group": "group"})
        merged = realised.merge(estimated[["period", "group", *(f"est_{m}" for m in ESTIMATED)]],
                                on=["period", "group"], how="left")
        for m in ESTIMATED:
            merged[f"err_{m}"] = merged[f"est_{m}"] - merged[m]
        return merged

    return _run(db, work)


__all__ = ["ESTIMATED", "cbpe", "estimate_from_expected", "fit_calibrator", "metrics_from_counts"]
