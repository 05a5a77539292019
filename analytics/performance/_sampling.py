"""When a window's labels can be judged, and how far its ROC AUC moves by chance.

**Label state** (one rule, used by the Performance table and chart, concept drift and the evidence
pack): a window's realised metrics are judged only with ``enough labels``, at least the minimum
(setting ``performance.min_labelled``) labelled predictions of both classes. Otherwise its state is
``no labels``, ``too few labels`` or ``single class`` (every label the same: ROC AUC is undefined),
and :func:`not_evaluable` says so in words ("not evaluable: all labels are 1").

**Sampling error of ROC AUC**, as NannyML 0.13 computes it
(``nannyml.sampling_error.binary_classification.auroc_sampling_error``): from the reference data,
the standard deviation ``s`` of the Mann-Whitney components of the minority class (ties counted one
half, see :meth:`AucSamplingError.fit`) and its share
``f``; a window of ``n`` rows then has the sampling error ``s / sqrt(n f)``. NannyML draws its
confidence band at +/- 3 sampling errors (``SAMPLING_ERROR_RANGE``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import duckdb
import numpy as np
import pandas as pd

from analytics.memo import Memo
from analytics.registry import get_model
from analytics.settings import declare
from analytics.store import reference_table, store_path

T = TypeVar("T")

ENOUGH, TOO_FEW, NO_LABELS, SINGLE_CLASS = "enough labels", "too few labels", "no labels", "single class"
#: Every label state, in the order of the rule.
LABEL_STATES: tuple[str, ...] = (NO_LABELS, SINGLE_CLASS, TOO_FEW, ENOUGH)
#: NannyML's width of a confidence band, in sampling errors.
SAMPLING_ERROR_RANGE = 3
MIN_LABELLED = declare("performance.min_labelled", 200,
                       "labelled rows (of both classes) a window needs before its realised performance is judged",
                       minimum=1)


def label_states(labelled: pd.Series, positives: pd.Series, minimum: int) -> pd.Series:
    """The label state of each window (see the module docstring) from its labelled rows and positives."""
    labelled = pd.Series(labelled).fillna(0).astype("int64")
    positives = pd.Series(positives).fillna(0).astype("int64").set_axis(labelled.index)
    single = (positives == 0) | (positives == labelled)
    return pd.Series(np.select([labelled == 0, single, labelled < minimum], [NO_LABELS, SINGLE_CLASS, TOO_FEW],
                               default=ENOUGH), index=labelled.index)


def label_state(labelled: int, positives: int, minimum: int) -> str:
    """The label state of one window."""
    return str(label_states(pd.Series([labelled]), pd.Series([positives]), minimum).iloc[0])


def not_evaluable(labelled: int, positives: int, minimum: int) -> str:
    """Why a window's realised performance is not judged, in words; empty with enough labels."""
    state = label_state(labelled, positives, minimum)
    if state == NO_LABELS:
        return "not evaluable: no labels yet"
    if state == SINGLE_CLASS:
        return f"not evaluable: all labels are {1 if positives else 0} ({labelled:,} labelled)"
    if state == TOO_FEW:
        return f"not evaluable: {labelled:,} labelled predictions, a verdict needs {minimum:,} of both classes"
    return ""


@dataclass(frozen=True)
class AucSamplingError:
    """NannyML's sampling-error components of ROC AUC, from reference labels and scores.

    Attributes
    ----------
    std : float
        Standard deviation of the minority class's Mann-Whitney components (NaN without both classes).
    fraction : float
        Share of the minority class in the reference.
    """

    std: float
    fraction: float

    @classmethod
    def fit(cls, labels: np.ndarray, scores: np.ndarray) -> AucSamplingError:
        """The components of a reference (``nannyml...auroc_sampling_error_components``).

        Each minority-class row's Mann-Whitney component is its placement value: the share of the
        other class scored below it, a tie counting one half (so the components' mean is
        ``sklearn.metrics.roc_auc_score``). On scores without ties this is NannyML's value; NannyML
        orders tied scores by ``np.argsort``, whose order among ties differs between machines, and it
        drops a minority row ranked first overall (component 0), which is kept here.
        """
        y = np.asarray(labels, dtype=float)
        s = np.asarray(scores, dtype=float)
        if len(y) == 0 or len(np.unique(y)) < 2:
            return cls(float("nan"), 0.0)
        if np.mean(y) > 0.5:
            y, s = np.abs(y - 1), 1 - s
        minority, other = s[y == 1], np.sort(s[y == 0])
        below = np.searchsorted(other, minority, side="left")
        tied = np.searchsorted(other, minority, side="right") - below
        components = (below + tied / 2) / len(other)
        return cls(float(np.std(components)), float(len(minority) / len(y)))

    def at(self, n: np.ndarray | pd.Series | int) -> np.ndarray:
        """The sampling error of a window of ``n`` rows (NaN for an empty window)."""
        n = np.asarray(n, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, self.std / np.sqrt(n * self.fraction), np.nan)


#: Fits of reference data kept in this process (a few per version: CBPE's, the sampling error's).
_REFERENCE_FITS: Memo[object] = Memo(64)


def from_reference(con: duckdb.DuckDBPyConnection, model: str, version: str, what: str,
                   compute: Callable[[np.ndarray, np.ndarray, np.ndarray], T]) -> T:
    """``compute(labels, scores, decisions)`` of a version's reference rows (in their stored order), computed
    once per reference in this process.

    A version's reference is written once, whole (:func:`analytics.registry.load_reference`), so what is
    fitted on it (an isotonic calibration, NannyML's thresholds and sampling error) is kept, as the drift
    module keeps its reference profiles. The key holds the store's file, the model, the version, ``what``
    (which fit) and the reference's row count and sums of scores, labels and decisions, read in one
    aggregate: a store replaced at the same path by one with other reference data is fitted again.
    ``compute`` must return a value nobody changes (frozen); an error it raises is not kept.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open store.
    model, version : str
        The reference's model and version.
    what : str
        The name of the fit, part of the key.
    compute : callable
        The fit, of float arrays of the labels, scores and decisions.

    Returns
    -------
    object
        What ``compute`` returned, for this reference.
    """
    table = reference_table(get_model(con, model).stem)
    fingerprint = con.execute(f"SELECT count(*), sum(score), sum(label), sum(decision) FROM {table} "
                              "WHERE model_version = ?", [version]).fetchone()
    key = (str(store_path(con)), model, version, what, *fingerprint)

    def fit() -> T:
        ref = con.execute(f"SELECT label, score, decision FROM {table} WHERE model_version = ?", [version]).fetchnumpy()
        return compute(*(np.asarray(ref[c], float) for c in ("label", "score", "decision")))
    return _REFERENCE_FITS.get(key, fit)
