"""Realised performance with labels, computed inside DuckDB from the window's score cells.

The window's rows of one version are counted into score cells (:mod:`analytics.performance._cells`:
the kept summary for whole UTC days, the log for the rest), aggregated once into a temp table per
period, group (a segment column's values), label, decision at the version's threshold and score bin;
every metric is then an aggregate of it:

- accuracy, precision, recall, F1 from the confusion counts at the version's threshold
  (``decision = score >= threshold``), with scikit-learn's convention that an undefined precision,
  recall or F1 (no predicted or no actual positives) is 0: exact;
- ROC AUC read off the score histogram of each label (pairs in one bin count one half, as ties do),
  with ``roc_auc_bound``, the most it can differ from :func:`sklearn.metrics.roc_auc_score` on the
  same rows: half the share of positive-negative pairs that share a bin; undefined (NaN) with a
  single class;
- Brier score ``mean((score - label)^2)`` and log loss with scores clipped to ``[eps, 1 - eps]``
  (``eps`` of float64), as :func:`sklearn.metrics.log_loss`, from the cells' sums;
- the calibration curve on ``n_bins`` equal-width bins, as :func:`sklearn.calibration.calibration_curve`
  (a sum of whole kept bins when ``n_bins`` divides their number).

Only labelled rows enter a metric; ``rows`` and ``labelled`` say how many there were. The whole UTC
days read from the log because the summary did not hold them yet are in the result's
``attrs["unsummarised_days"]`` (:func:`analytics.summaries.unsummarised_note` words them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics import settings
from analytics.errors import InvalidInputError
from analytics.performance._cells import HistogramAuc, WindowCells, auc_sql, kept_bins, window_cells
from analytics.performance._sampling import MIN_LABELLED, label_states
from analytics.registry import champion_version, get_model, get_version
from analytics.store import DbLike, run
from analytics.timebounds import PERIODS, period_sql
from analytics.window import Window

PERF = "_vigil_perf"
#: The temp table of a window's cells read once (:func:`load_cells`).
CELLS = "_vigil_perf_cells"
METRICS: tuple[str, ...] = ("roc_auc", "accuracy", "precision", "recall", "f1", "brier", "log_loss")
#: Whether a higher value is better, per metric.
HIGHER_IS_BETTER = {"roc_auc": True, "accuracy": True, "precision": True, "recall": True, "f1": True,
                    "brier": False, "log_loss": False}
#: Where a result frame names the whole UTC days it read from the log (``frame.attrs[UNSUMMARISED]``).
UNSUMMARISED = "unsummarised_days"
#: Bins of a calibration curve unless asked otherwise (a divisor of the kept score bins, so read off them).
CALIBRATION_BINS = 10


def resolve_version(con: duckdb.DuckDBPyConnection, model: str, version: str | None) -> dict:
    """The registry row of ``version`` (default: the champion)."""
    version = version or champion_version(con, model)
    if version is None:
        raise InvalidInputError(f"{model} has no champion version; choose a version")
    return get_version(con, model, version)


@dataclass(frozen=True)
class Loaded:
    """The window's cells loaded into the temp table :data:`PERF`: the version's registry row and the
    whole UTC days read from the log because the summary did not hold them yet."""

    version: dict
    unsummarised_days: tuple[date, ...] = ()


def load(con: duckdb.DuckDBPyConnection, model: str, *, window: Window, freq: str | None, by: str | None = None,
         bins: int | None = None) -> Loaded:
    """Create the temp table :data:`PERF` of the window's cells of one version (default the champion).

    Its rows: ``_period``, ``_group`` (the value of ``by``, or ``all``), ``label`` (NULL: no outcome
    yet), ``d`` (the decision at the version's threshold), ``bin`` (of ``bins`` score bins), ``n`` (rows),
    ``s`` (summed scores), ``m`` (their mean), ``se`` (summed squared errors), ``ll`` (summed log losses).
    ``bins`` defaults to the kept ones (:func:`analytics.performance.window_cells`).
    """
    row, cells = _version_cells(con, model, window=window, freq=freq, by=by, bins=bins)
    group_by(con, f"({_cell_rows_sql(cells)})", freq, "segment_value" if by else "'all'", cells.params)
    return Loaded(row, cells.unsummarised_days)


def _cell_rows_sql(cells: WindowCells) -> str:
    """The rows of a window's cells as :func:`group_by` reads them (``day``, ``segment_value``, ``label``,
    ``d``, ``bin``, ``n``, ``s``, ``se``, ``ll``)."""
    return (f"SELECT day, segment_value, label, decision AS d, bin, n, score_sum AS s, sq_error_sum AS se, "
            f"log_loss_sum AS ll FROM ({cells.sql})")


def load_cells(con: duckdb.DuckDBPyConnection, model: str, *, window: Window) -> Loaded:
    """Read the window's cells of one version (default the champion) once, into the temp table :data:`CELLS`.

    Its rows are those :func:`group_by` reads (the cells per UTC day, all rows, the kept score bins):
    every table of the window per period (:func:`group_by` into :data:`PERF`) and the daily counts
    (:func:`period_counts_sql` of :data:`CELLS`) are then aggregated from it, without reading the log again.
    """
    row, cells = _version_cells(con, model, window=window, freq=None)
    con.execute(f"DROP TABLE IF EXISTS {CELLS}")
    con.execute(f"CREATE TEMP TABLE {CELLS} AS {_cell_rows_sql(cells)}", cells.params)
    return Loaded(row, cells.unsummarised_days)


def group_by(con: duckdb.DuckDBPyConnection, source: str, freq: str | None, group: str = "'all'",
             params: list | None = None) -> None:
    """Create the temp table :data:`PERF` (see :func:`load`) from the cell rows of ``source`` (a table, or a
    query in parentheses, with ``params``), per period of ``freq`` and ``group`` (an SQL expression)."""
    con.execute(f"DROP TABLE IF EXISTS {PERF}")
    con.execute(
        f"CREATE TEMP TABLE {PERF} AS SELECT {period_sql(freq, 'day')} AS _period, {group} AS _group, label, d, bin, "
        f"sum(n) AS n, sum(s) AS s, sum(s) / sum(n) AS m, sum(se) AS se, sum(ll) AS ll FROM {source} GROUP BY ALL",
        params or [])


def _version_cells(con: duckdb.DuckDBPyConnection, model: str, *, window: Window, freq: str | None,
                   by: str | None = None, bins: int | None = None) -> tuple[dict, WindowCells]:
    """The registry row of the window's version (default the champion) and the window's cells of it."""
    if freq not in PERIODS:
        raise InvalidInputError(f"frequency {freq!r} is unknown; use day, week or none")
    info = get_model(con, model)
    row = resolve_version(con, model, window.version)
    if by is not None and by not in [c.name for c in info.schema.segments]:
        raise InvalidInputError(f"{by!r} is not a segment column of {model}")
    return row, window_cells(con, info, replace(window, version=row["version"]), by=by, bins=bins)


def _counts_sql(source: str) -> str:
    """Per ``_period`` and ``_group`` of ``source`` (columns ``label``, ``d``, ``n``, ``se``, ``ll``): ``rows``,
    ``labelled``, ``positives``, the confusion counts ``tp``, ``fp``, ``fn``, ``tn`` at the version's
    threshold, ``sq_error_sum`` and ``log_loss_sum``."""
    return f"""
      SELECT _period, _group, sum(n) AS rows, coalesce(sum(n) FILTER (WHERE label IS NOT NULL), 0) AS labelled,
             coalesce(sum(n) FILTER (WHERE label = 1), 0) AS positives,
             coalesce(sum(n) FILTER (WHERE d = 1 AND label = 1), 0) AS tp,
             coalesce(sum(n) FILTER (WHERE d = 1 AND label = 0), 0) AS fp,
             coalesce(sum(n) FILTER (WHERE d = 0 AND label = 1), 0) AS fn,
             coalesce(sum(n) FILTER (WHERE d = 0 AND label = 0), 0) AS tn,
             sum(se) AS sq_error_sum, sum(ll) AS log_loss_sum
      FROM {source} GROUP BY ALL"""


def period_counts(db: DbLike, model: str, *, window: Window, freq: str | None) -> pd.DataFrame:
    """The counts and sums behind the threshold metrics, Brier score and log loss, per period of ``window``
    (version: default the champion), aggregated from its cells in one query: no score histogram, no ROC AUC.

    Parameters
    ----------
    db, model
        The store and a registered model.
    window : Window
        The rows counted.
    freq : str or None
        ``"day"``, ``"week"`` or None for the whole window.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``rows``, ``labelled``, ``positives``, ``tp``, ``fp``, ``fn``, ``tn`` (int64),
        ``sq_error_sum`` and ``log_loss_sum``, by period; ``attrs["unsummarised_days"]`` as
        :func:`realised_metrics`.
    """

    def work(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, tuple[date, ...]]:
        _, cells = _version_cells(con, model, window=window, freq=freq)
        return (con.execute(period_counts_sql(f"({_cell_rows_sql(cells)})", freq), cells.params).df(),
                cells.unsummarised_days)

    return finish_counts(*run(db, work))


def period_counts_sql(source: str, freq: str | None) -> str:
    """The query of :func:`period_counts` from the cell rows of ``source`` (see :func:`group_by`)."""
    rows = f"(SELECT {period_sql(freq, 'day')} AS _period, 'all' AS _group, label, d, n, se, ll FROM {source})"
    return f"{_counts_sql(rows)} ORDER BY 1"


def finish_counts(frame: pd.DataFrame, unsummarised: tuple[date, ...]) -> pd.DataFrame:
    """The frame of :func:`period_counts` from its query's result and the window's unsummarised days."""
    frame = frame.drop(columns="_group").rename(columns={"_period": "period"})
    for c in ("rows", "labelled", "positives", "tp", "fp", "fn", "tn"):
        frame[c] = frame[c].fillna(0).astype("int64")
    frame.attrs[UNSUMMARISED] = unsummarised
    return frame


def _metrics_sql() -> str:
    return f"""
    WITH c AS ({_counts_sql(PERF)}),
    a AS ({auc_sql(PERF, "_period, _group")})
    SELECT c.*, a.auc_pairs, a.tied_pairs
    FROM c LEFT JOIN a ON a._period = c._period AND a._group IS NOT DISTINCT FROM c._group ORDER BY 1, 2
    """


def threshold_metrics(tp: Any, fp: Any, fn: Any, tn: Any) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall and F1 from confusion counts (arrays, elementwise), with scikit-learn's
    formulas and its convention that an undefined precision, recall or F1 is 0; every metric is NaN
    without rows."""
    tp, fp, fn, tn = (np.asarray(v, float) for v in (tp, fp, fn, tn))
    n = tp + fp + fn + tn

    def div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0), np.nan)

    return {"accuracy": div(tp + tn, n), "precision": div(tp, tp + fp), "recall": div(tp, tp + fn),
            "f1": div(2 * tp, 2 * tp + fp + fn)}


def metrics_from_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the :data:`METRICS` and ``roc_auc_bound`` to a frame of counts and sums (see :func:`_metrics_sql`);
    of counts without the histogram's sums (``auc_pairs``, ``tied_pairs``: :func:`period_counts`), every
    metric but ROC AUC."""
    out = frame.copy()
    labelled = out["labelled"].astype(float)
    for name, values in threshold_metrics(out["tp"], out["fp"], out["fn"], out["tn"]).items():
        out[name] = values
    if "auc_pairs" in out:
        auc = HistogramAuc.of(out["positives"], labelled - out["positives"], out["auc_pairs"], out["tied_pairs"])
        out["roc_auc"], out["roc_auc_bound"] = auc.auc, auc.bound
    out["brier"] = out["sq_error_sum"].astype(float) / labelled.where(labelled > 0)
    out["log_loss"] = out["log_loss_sum"].astype(float) / labelled.where(labelled > 0)
    return out


def realised_metrics(db: DbLike, model: str, *, window: Window, freq: str | None = "week",
                     by: str | None = None) -> pd.DataFrame:
    """Realised metrics per period (``freq``: ``"day"``, ``"week"`` or None for the whole window).

    Parameters
    ----------
    db, model
        The store and a registered model.
    window : Window
        The rows measured (:class:`analytics.window.Window`); its version defaults to the champion.
    freq : str or None
        ``"day"``, ``"week"`` or None for one row for the whole window.
    by : str, optional
        A segment column: one row per period and value of it (``group``); default one group ``all``.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``group``, ``rows``, ``labelled``, ``labelled_share``, ``positives``,
        ``label_state`` (:func:`analytics.performance.label_states`: a metric is judged only with
        ``enough labels``), the :data:`METRICS`, ``roc_auc_bound`` (the most the ROC AUC read off the
        score histogram can differ from the exact one), ``threshold``, ``version``, and per metric its
        change against the validation metrics of the registry (``<metric>_change``).
        ``attrs["unsummarised_days"]``: the whole UTC days read from the log (not summarised yet).
    """

    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        loaded = load(con, model, window=window, freq=freq, by=by)
        try:
            return metrics_of_perf(con, model, loaded)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {PERF}")

    return run(db, work)


def metrics_of_perf(con: duckdb.DuckDBPyConnection, model: str, loaded: Loaded) -> pd.DataFrame:
    """The frame of :func:`realised_metrics` from the table :data:`PERF` (:func:`load`, :func:`group_by`)."""
    return _finish(con.execute(_metrics_sql()).df(), loaded, min_labelled(con, model))


def min_labelled(con: duckdb.DuckDBPyConnection, model: str) -> int:
    """The labelled rows (of both classes) a window needs to be judged (setting ``performance.min_labelled``)."""
    return int(settings.get(con, MIN_LABELLED.key, model=model))


def min_labelled_of(db: DbLike, model: str) -> int:
    """:func:`min_labelled` of a model in a store (what the Performance page states)."""
    return run(db, lambda con: min_labelled(con, model))


def _finish(counts: pd.DataFrame, loaded: Loaded, minimum: int) -> pd.DataFrame:
    row = loaded.version
    frame = metrics_from_counts(counts).rename(columns={"_period": "period", "_group": "group"})
    frame["labelled_share"] = frame["labelled"] / frame["rows"]
    frame["threshold"] = float(row["threshold"])
    frame["version"] = row["version"]
    validation = row.get("validation_metrics") or {}
    for metric in METRICS:
        ref = validation.get(metric)
        frame[f"{metric}_change"] = frame[metric] - float(ref) if ref is not None else np.nan
    columns = ["period", "group", "version", "rows", "labelled", "labelled_share", "positives", "label_state",
               *METRICS, "roc_auc_bound", "threshold", *(f"{m}_change" for m in METRICS)]
    for c in ("rows", "labelled", "positives"):
        frame[c] = frame[c].fillna(0).astype("int64")
    frame["label_state"] = label_states(frame["labelled"], frame["positives"], minimum)
    out = frame[columns].reset_index(drop=True)
    out.attrs[UNSUMMARISED] = loaded.unsummarised_days
    return out


def validation_metrics(db: DbLike, model: str, version: str | None = None) -> dict[str, float]:
    """The validation metrics the registry holds for a version (default: the champion)."""
    return run(db, lambda con: dict(resolve_version(con, model, version)["validation_metrics"]))


def calibration_curve(db: DbLike, model: str, *, window: Window, n_bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Reliability curve of the labelled rows of ``window`` (version: default the champion): per non-empty
    bin, mean score, share positive, rows.

    Bins as :func:`sklearn.calibration.calibration_curve` (``strategy="uniform"``): ``n_bins``
    equal-width bins on [0, 1]; a score on an inner edge belongs to the lower bin (the edges are the
    doubles nearest to ``k / n_bins``; NumPy's ``linspace`` may put an edge one unit in the last place
    higher, so a score exactly there may fall in the other bin). With ``n_bins`` dividing the number
    of kept score bins (2,000 for all rows, 200 for a segment value), the curve sums whole kept bins;
    otherwise the window is counted from the log on ``n_bins`` bins.
    """
    bins, per = calibration_bins(window.segment, n_bins)

    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        loaded = load(con, model, window=window, freq=None, bins=bins)
        try:
            return calibration_of_perf(con, n_bins, per, loaded.unsummarised_days)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {PERF}")

    return run(db, work)


def calibration_bins(segment: str | None, n_bins: int) -> tuple[int, int]:
    """The score bins :func:`calibration_curve` counts a window on, and how many of them make one of its
    ``n_bins``: the kept ones when ``n_bins`` divides their number, else ``n_bins`` (from the log)."""
    if not 2 <= n_bins <= 100:
        raise InvalidInputError("choose between 2 and 100 calibration bins")
    kept = kept_bins(segment)
    return (kept, kept // n_bins) if kept % n_bins == 0 else (n_bins, 1)


def calibration_of_perf(con: duckdb.DuckDBPyConnection, n_bins: int, per: int,
                        unsummarised: tuple[date, ...]) -> pd.DataFrame:
    """The frame of :func:`calibration_curve` from the whole-window table :data:`PERF` (``per`` of its bins
    to one of the ``n_bins``)."""
    frame = con.execute(
        f"SELECT bin // {per} AS bin, sum(s) / sum(n) AS mean_predicted, sum(n * label) / sum(n) AS "
        f"fraction_positive, sum(n) AS rows FROM {PERF} WHERE label IS NOT NULL GROUP BY 1 ORDER BY 1").df()
    frame.attrs[UNSUMMARISED] = unsummarised
    frame["bin_lower"] = frame["bin"] / n_bins
    frame["bin_upper"] = (frame["bin"] + 1) / n_bins
    return frame


def evaluate_scores(label: np.ndarray, score: np.ndarray, decision: np.ndarray) -> dict[str, float]:
    """Validation metrics of scored, labelled rows, with scikit-learn: what the registry records of a version.

    Parameters
    ----------
    label : array of {0, 1}
        The observed outcomes.
    score : array of float
        The probability of the positive class.
    decision : array of {0, 1}
        The decisions (for threshold metrics).
    """
    from sklearn import metrics

    label, score, decision = (np.asarray(a) for a in (label, score, decision))
    both = len(np.unique(label)) == 2
    return {
        "roc_auc": float(metrics.roc_auc_score(label, score)) if both else float("nan"),
        "accuracy": float(metrics.accuracy_score(label, decision)),
        "precision": float(metrics.precision_score(label, decision, zero_division=0)),
        "recall": float(metrics.recall_score(label, decision, zero_division=0)),
        "f1": float(metrics.f1_score(label, decision, zero_division=0)),
        "brier": float(metrics.brier_score_loss(label, score)),
        "log_loss": float(metrics.log_loss(label, score, labels=[0, 1])),
        "positive_rate": float(decision.mean()),
        "n_validation": int(label.size),
    }
