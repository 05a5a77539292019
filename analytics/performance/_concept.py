"""Concept drift: windows where performance falls while the inputs do not drift, and a change-point view.

Verdict per window (:func:`concept_drift`), from the realised ROC AUC and the univariate drift of
the model's inputs (features and segments; the score is left out, since it moves with either):

==========================================  ======================================================
``concept drift``                           performance falls and no input drifted
``covariate drift, performance falls``      performance falls and some inputs drifted
``covariate drift``                         inputs drifted, performance does not fall
``stable``                                  neither
``no labels``, ``too few labels``,          the window's label state is not ``enough labels``
``not evaluable: all labels are 1``         (:mod:`analytics.performance._sampling`); with inputs
                                            drifted: ``covariate drift (too few labels)`` ...
==========================================  ======================================================

- **Performance falls** when the realised ROC AUC is below the validation ROC AUC by at least the
  tolerance (setting ``performance.auc_drop``, default 0.05) *and* by more than 3 sampling errors
  of a window with that many labels (NannyML's sampling error of ROC AUC, from the version's
  reference data): a small window's AUC moves by chance more than the tolerance.
- **An input drifted** by its method's own threshold; for the p-value methods (KS, chi-square)
  the threshold is shared among the window's inputs (Bonferroni: p below 0.05 divided by their
  number), since with 25 inputs tested at 0.05 a quiet window shows one "drifted" input most of
  the time. The drift is against the baseline of :func:`analytics.drift.drift_over_time`: with a
  segment, the reference rows of that segment.

Change points (:func:`change_points`): the Page-Hinkley test (Page 1954, in the form of Gama et
al. 2013 and river's ``PageHinkley``) on the daily labelled error stream, the daily mean Brier
score of labelled predictions. ``m_t = sum_{i<=t} (x_i - mean_{1..i} - delta)``; an alarm is raised
when ``m_t - min_{i<=t} m_i > lambda``; the change is dated at the day after the minimum.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from analytics import settings
from analytics.drift import drift_over_time
from analytics.store import DbLike, run
from analytics.window import Window
from analytics.performance._realised import (UNSUMMARISED, metrics_from_counts, period_counts, realised_metrics,
                                             resolve_version)
from analytics.performance._sampling import (ENOUGH, SAMPLING_ERROR_RANGE, SINGLE_CLASS, AucSamplingError,
                                             from_reference)
from analytics.registry import get_model
from analytics.settings import declare

AUC_DROP = declare("performance.auc_drop", 0.05,
                   "fall of the realised ROC AUC below the validation ROC AUC that counts as a performance drop",
                   minimum=0.0, maximum=1.0)
PH_DELTA = declare("performance.page_hinkley_delta", 0.025,
                   "Page-Hinkley: magnitude of change of the daily Brier score that is tolerated", minimum=0.0)
PH_LAMBDA = declare("performance.page_hinkley_lambda", 0.1,
                    "Page-Hinkley: alarm threshold on the cumulative deviation of the daily Brier score",
                    minimum=0.0)
INPUT_ROLES = ("feature", "segment")


def reference_auc_sampling_error(db: DbLike, model: str, version: str | None = None) -> AucSamplingError:
    """NannyML's sampling-error components of ROC AUC on a version's reference data (default the champion)."""
    def work(con):
        return from_reference(con, model, resolve_version(con, model, version)["version"], "auc sampling error",
                              lambda labels, scores, _: AucSamplingError.fit(labels, scores))
    return run(db, work)


def drifted_inputs(table: pd.DataFrame) -> pd.Series:
    """Per period, the inputs that drifted (p-value methods Bonferroni-corrected over the period's inputs)."""
    inputs = table[table["role"].isin(INPUT_ROLES) & table["drifted"].notna()]
    if inputs.empty:
        return pd.Series(dtype=object, name="drifted_inputs")
    k = inputs.groupby("period")["column"].transform("count")
    by_p = inputs["p_value"].notna()
    flagged = np.where(by_p, inputs["p_value"] < inputs["threshold"] / k, inputs["drifted"].eq(True))
    return (inputs[flagged].groupby("period")["column"].agg(lambda c: ", ".join(sorted(c)))
            .rename("drifted_inputs"))


def _state_words(state: str, positives: int) -> str:
    return f"not evaluable: all labels are {1 if positives else 0}" if state == SINGLE_CLASS else state


def concept_drift(db: DbLike, model: str, *, window: Window, freq: str = "week") -> pd.DataFrame:
    """Per period of ``window``: realised AUC, its change and sampling error, drifted inputs, and the verdict (module docstring).

    Returns
    -------
    pandas.DataFrame
        ``period``, ``version``, ``rows``, ``labelled``, ``positives``, ``label_state``, ``roc_auc``,
        ``roc_auc_change``, ``sampling_error`` (of the ROC AUC at the window's labels), ``drifted_inputs``,
        ``n_drifted_inputs``, ``performance_falls``, ``verdict`` and ``tolerance``;
        ``attrs["unsummarised_days"]`` as :func:`~analytics.performance.realised_metrics`.
    """
    return concept_verdicts(db, model, window=window, freq=freq,
                            perf=realised_metrics(db, model, window=window, freq=freq))


def concept_verdicts(db: DbLike, model: str, *, window: Window, freq: str, perf: pd.DataFrame) -> pd.DataFrame:
    """The frame of :func:`concept_drift` from the realised metrics of ``window`` per ``freq`` already at hand
    (``perf``, as :func:`~analytics.performance.realised_metrics` returns them; the table of
    :func:`~analytics.performance.cbpe` holds them too)."""
    inputs = run(db, lambda con: tuple(c.name for c in get_model(con, model).schema.columns if c.role in INPUT_ROLES))
    drift = drift_over_time(db, model, window=window, freq=freq, columns=inputs or None).table
    tolerance = run(db, lambda con: float(settings.get(con, AUC_DROP.key, model=model)))
    components = reference_auc_sampling_error(db, model, window.version)
    frame = perf[["period", "version", "rows", "labelled", "positives", "label_state", "roc_auc",
                  "roc_auc_change"]].merge(drifted_inputs(drift), left_on="period", right_index=True, how="left")
    frame["sampling_error"] = components.at(frame["labelled"])
    frame["drifted_inputs"] = frame["drifted_inputs"].fillna("")
    frame["n_drifted_inputs"] = frame["drifted_inputs"].map(lambda s: len(s.split(", ")) if s else 0)
    noise = (SAMPLING_ERROR_RANGE * frame["sampling_error"]).fillna(0.0)
    judged = frame["label_state"].eq(ENOUGH) & frame["roc_auc"].notna()
    falls = judged & (frame["roc_auc_change"] <= -tolerance) & (frame["roc_auc_change"] < -noise)
    shifted = frame["n_drifted_inputs"] > 0
    words = pd.Series([_state_words(s, p) for s, p in zip(frame["label_state"], frame["positives"])],
                      index=frame.index, dtype=object)
    frame["performance_falls"] = falls
    frame["verdict"] = np.select(
        [~judged & shifted, ~judged, falls & ~shifted, falls & shifted, shifted],
        ["covariate drift (" + words + ")", words, "concept drift", "covariate drift, performance falls",
         "covariate drift"], default="stable")
    frame["tolerance"] = tolerance
    frame = frame.reset_index(drop=True)
    frame.attrs[UNSUMMARISED] = perf.attrs[UNSUMMARISED]
    return frame


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


def error_stream(db: DbLike, model: str, *, window: Window) -> pd.DataFrame:
    """The daily labelled error stream of ``window``: per UTC day, labelled rows, Brier score and error rate.

    The daily Brier score and accuracy of :func:`~analytics.performance.realised_metrics`, from the
    confusion counts and summed squared errors of the window's cells (:func:`period_counts`: the ROC AUC
    of each day, which the stream does not use, is not computed).
    """
    return stream_of_counts(period_counts(db, model, window=window, freq="day"))


def stream_of_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """The frame of :func:`error_stream` from the daily counts of a window (:func:`period_counts`)."""
    daily = metrics_from_counts(counts)
    out = daily[["period", "labelled", "brier", "accuracy"]].copy()
    out["error_rate"] = 1 - out["accuracy"]
    out = out.drop(columns="accuracy")
    out.attrs[UNSUMMARISED] = daily.attrs[UNSUMMARISED]
    return out


def change_points(db: DbLike, model: str, *, window: Window) -> dict:
    """Page-Hinkley on the daily Brier score of ``window``: the stream, and the alarm day and start day if any."""
    return change_points_of(db, model, error_stream(db, model, window=window))


def change_points_of(db: DbLike, model: str, stream: pd.DataFrame) -> dict:
    """The result of :func:`change_points` from the daily error stream of a window (:func:`error_stream`)."""
    delta, lam = run(db, lambda con: (float(settings.get(con, PH_DELTA.key, model=model)),
                                       float(settings.get(con, PH_LAMBDA.key, model=model))))
    values = stream["brier"].where(stream["labelled"] > 0).to_numpy(float)
    alarm, began = page_hinkley(values, delta=delta, threshold=lam)
    return {"stream": stream, "delta": delta, "lambda": lam,
            "alarm_at": stream["period"].iloc[alarm] if alarm is not None else None,
            "began_at": stream["period"].iloc[began] if began is not None else None}
