"""Concept drift: windows where performance falls while the inputs do not drift, and a change-point view.

Verdict per window (:func:`concept_drift`), from the realised ROC AUC and the univariate drift of
the model's inputs (features and segments; the score is left out, since it moves with either):

==========================================  ======================================================
``concept drift``                           AUC below the validation AUC by at least the tolerance
                                            (setting ``performance.auc_drop``, default 0.05) and
                                            no input drifted
``covariate drift, performance falls``      AUC falls and some inputs drifted
``covariate drift``                         inputs drifted, AUC within the tolerance
``stable``                                  neither
``no labels``                               too few labelled rows (``performance.min_labelled``)
==========================================  ======================================================

Change points (:func:`change_points`): the Page-Hinkley test (Page 1954, in the form of Gama et
al. 2013 and river's ``PageHinkley``) on the daily labelled error stream, the daily mean Brier
score of labelled predictions. ``m_t = sum_{i<=t} (x_i - mean_{1..i} - delta)``; an alarm is raised
when ``m_t - min_{i<=t} m_i > lambda``; the change is dated at the day after the minimum.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from analytics.drift import drift_over_time
from analytics.overview import DbLike, _run
from analytics import settings
from analytics.performance._realised import realised_metrics
from analytics.settings import declare

AUC_DROP = declare("performance.auc_drop", 0.05,
                   "fall of the realised ROC AUC below the validation ROC AUC that counts as a performance drop",
                   minimum=0.0, maximum=1.0)
MIN_LABELLED = declare("performance.min_labelled", 200,
                       "labelled rows a window needs before its realised performance is judged", minimum=1)
PH_DELTA = declare("performance.page_hinkley_delta", 0.025,
                   "Page-Hinkley: magnitude of change of the daily Brier score that is tolerated", minimum=0.0)
PH_LAMBDA = declare("performance.page_hinkley_lambda", 0.1,
                    "Page-Hinkley: alarm threshold on the cumulative deviation of the daily Brier score",
                    minimum=0.0)
INPUT_ROLES = ("feature", "segment")


def concept_drift(db: DbLike, model: str, *, start: datetime | None, end: datetime | None,
                  version: str | None = None, freq: str = "week", segment: str | None = None,
                  segment_value: str | None = None) -> pd.DataFrame:
    """Per window: realised AUC and its change, drifted inputs, and the verdict (see module docstring)."""
    perf = realised_metrics(db, model, start=start, end=end, version=version, freq=freq, segment=segment,
                            segment_value=segment_value)
    drift = drift_over_time(db, model, start=start, end=end, version=version, freq=freq, segment=segment,
                            segment_value=segment_value).table
    inputs = drift[drift["role"].isin(INPUT_ROLES)]
    drifted = (inputs[inputs["drifted"].eq(True)].groupby("period")["column"]
               .agg(lambda c: ", ".join(sorted(c))).rename("drifted_inputs"))
    tolerance, min_labelled = _run(db, lambda con: (
        float(settings.get(con, AUC_DROP.key, model=model)), int(settings.get(con, MIN_LABELLED.key, model=model))))
    frame = perf[["period", "version", "rows", "labelled", "roc_auc", "roc_auc_change"]].merge(
        drifted, left_on="period", right_index=True, how="left")
    frame["drifted_inputs"] = frame["drifted_inputs"].fillna("")
    frame["n_drifted_inputs"] = frame["drifted_inputs"].map(lambda s: len(s.split(", ")) if s else 0)
    falls = frame["roc_auc_change"] <= -tolerance
    shifted = frame["n_drifted_inputs"] > 0
    judged = (frame["labelled"] >= min_labelled) & frame["roc_auc"].notna()
    frame["performance_falls"] = falls & judged
    frame["verdict"] = np.select(
        [~judged & shifted, ~judged, falls & ~shifted, falls & shifted, shifted],
        ["covariate drift (no labels yet)", "no labels", "concept drift", "covariate drift, performance falls",
         "covariate drift"], default="stable")
    frame["tolerance"] = tolerance
    return frame.reset_index(drop=True)


def page_hinkley(values: np.ndarray, *, delta: float, threshold: float) -> tuple[int | None, int | None]:
    """Page-Hinkley test for an increase of the mean; return (index of the alarm, index the change began).

    Both are None when no alarm is raised. NaN values are skipped.
    """
    mean, cumulative, minimum, argmin, count = 0.0, 0.0, 0.0, -1, 0
    for i, x in enumerate(np.asarray(values, float)):
        if not np.isfinite(x):
            continue
        count += 1
        mean += (x - mean) / count
        cumulative += x - mean - delta
        if cumulative < minimum:
            minimum, argmin = cumulative, i
        if cumulative - minimum > threshold:
            began = next((j for j in range(argmin + 1, len(values)) if np.isfinite(values[j])), i)
            return i, began
    return None, None


def error_stream(db: DbLike, model: str, *, start: datetime | None, end: datetime | None,
                 version: str | None = None, segment: str | None = None,
                 segment_value: str | None = None) -> pd.DataFrame:
    """The daily labelled error stream: per UTC day, labelled rows, Brier score and error rate."""
    daily = realised_metrics(db, model, start=start, end=end, version=version, freq="day", segment=segment,
                             segment_value=segment_value)
    out = daily[["period", "labelled", "brier", "accuracy"]].copy()
    out["error_rate"] = 1 - out["accuracy"]
    return out.drop(columns="accuracy")


def change_points(db: DbLike, model: str, *, start: datetime | None, end: datetime | None,
                  version: str | None = None, segment: str | None = None,
                  segment_value: str | None = None) -> dict:
    """Page-Hinkley on the daily Brier score: the stream, and the alarm day and start day if any."""
    stream = error_stream(db, model, start=start, end=end, version=version, segment=segment,
                          segment_value=segment_value)
    delta, lam = _run(db, lambda con: (float(settings.get(con, PH_DELTA.key, model=model)),
                                       float(settings.get(con, PH_LAMBDA.key, model=model))))
    values = stream["brier"].where(stream["labelled"] > 0).to_numpy(float)
    alarm, began = page_hinkley(values, delta=delta, threshold=lam)
    return {"stream": stream, "delta": delta, "lambda": lam,
            "alarm_at": stream["period"].iloc[alarm] if alarm is not None else None,
            "began_at": stream["period"].iloc[began] if began is not None else None}
