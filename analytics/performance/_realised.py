"""Realised performance with labels, computed inside DuckDB from confusion counts and score ranks.

The window's predictions of one version are joined with their outcomes once into a temp table
(period, group, score, decision at the version's threshold, label); every metric is then an
aggregate of it, per period and per group (a segment column's values):

- accuracy, precision, recall, F1 from the confusion counts at the version's threshold
  (``decision = score >= threshold``), with scikit-learn's convention that an undefined precision,
  recall or F1 (no predicted or no actual positives) is 0;
- ROC AUC from the rank-sum identity with tied scores given their average rank
  (:func:`sklearn.metrics.roc_auc_score`); undefined (NaN) with a single class;
- Brier score ``mean((score - label)^2)`` and log loss with scores clipped to
  ``[eps, 1 - eps]`` (``eps`` of float64), as :func:`sklearn.metrics.log_loss`;
- the calibration curve on 10 equal-width bins, as :func:`sklearn.calibration.calibration_curve`.

Only labelled rows enter a metric; ``rows`` and ``labelled`` say how many there were.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd

from analytics import settings
from analytics.errors import InvalidInputError
from analytics.logschema import quote
from analytics.store import DbLike, run
from analytics.window import Window
from analytics.performance._sampling import MIN_LABELLED, label_states
from analytics.registry import champion_version, get_model, get_version
from analytics.store import outcomes_view, predictions_view
from analytics.timebounds import PERIODS, period_sql

PERF = "_vigil_perf"
EPS = float(np.finfo(np.float64).eps)
METRICS: tuple[str, ...] = ("roc_auc", "accuracy", "precision", "recall", "f1", "brier", "log_loss")
#: Whether a higher value is better, per metric.
HIGHER_IS_BETTER = {"roc_auc": True, "accuracy": True, "precision": True, "recall": True, "f1": True,
                    "brier": False, "log_loss": False}


def resolve_version(con: duckdb.DuckDBPyConnection, model: str, version: str | None) -> dict:
    """The registry row of ``version`` (default: the champion)."""
    version = version or champion_version(con, model)
    if version is None:
        raise InvalidInputError(f"{model} has no champion version; choose a version")
    return get_version(con, model, version)


def load(con: duckdb.DuckDBPyConnection, model: str, *, window: Window, freq: str | None, by: str | None = None,
         labelled_only: bool = False) -> dict:
    """Create the temp table of the window's rows with labels; return the version's registry row."""
    if freq not in PERIODS:
        raise InvalidInputError(f"frequency {freq!r} is unknown; use day, week or none")
    info = get_model(con, model)
    row = resolve_version(con, model, window.version)
    rows = replace(window, version=row["version"]).where(info.schema)
    where, params = rows.sql, rows.params
    if by is not None and by not in [c.name for c in info.schema.segments]:
        raise InvalidInputError(f"{by!r} is not a segment column of {model}")
    group = f"CAST(p.{quote(by)} AS VARCHAR)" if by else "'all'"
    join = "JOIN" if labelled_only else "LEFT JOIN"
    con.execute(f"DROP TABLE IF EXISTS {PERF}")
    con.execute(
        f"CREATE TEMP TABLE {PERF} AS SELECT {period_sql(freq, 'p.predicted_at')} AS _period, {group} AS _group, p.score, "
        f"(p.score >= {float(row['threshold'])!r})::INTEGER AS d, o.label::INTEGER AS label "
        f"FROM {predictions_view(info.stem)} p {join} (SELECT prediction_id, any_value(label) AS label "
        f"FROM {outcomes_view(info.stem)} GROUP BY ALL) o USING (prediction_id) WHERE {where}", params)
    return row


def _metrics_sql() -> str:
    return f"""
    WITH c AS (
      SELECT _period, _group, count(*) AS rows, count(label) AS labelled, sum(label) AS positives,
             sum(d * label) AS tp, sum(d * (1 - label)) AS fp, sum((1 - d) * label) AS fn,
             sum((1 - d) * (1 - label)) AS tn,
             avg(CASE WHEN label IS NOT NULL THEN (score - label) ^ 2 END) AS brier,
             -avg(CASE WHEN label IS NOT NULL THEN label * ln(greatest(least(score, 1 - {EPS!r}), {EPS!r}))
                  + (1 - label) * ln(1 - greatest(least(score, 1 - {EPS!r}), {EPS!r})) END) AS log_loss
      FROM {PERF} GROUP BY ALL),
    s AS (SELECT _period, _group, score, count(*) AS n, sum(label) AS pos FROM {PERF}
          WHERE label IS NOT NULL GROUP BY ALL),
    r AS (SELECT _period, _group, pos,
                 sum(n) OVER (PARTITION BY _period, _group ORDER BY score
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - n + (n + 1) / 2.0 AS avg_rank
          FROM s),
    a AS (SELECT _period, _group, sum(pos * avg_rank) AS rank_sum FROM r GROUP BY ALL)
    SELECT c.*, a.rank_sum FROM c LEFT JOIN a USING (_period, _group) ORDER BY 1, 2
    """


def _div(a: pd.Series, b: pd.Series) -> pd.Series:
    a, b = a.astype(float), b.astype(float)
    return (a / b.where(b > 0)).fillna(0.0)


def metrics_from_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Add accuracy, precision, recall, F1 and ROC AUC to a frame of counts (tp, fp, fn, tn, rank_sum ...)."""
    out = frame.copy()
    labelled = out["labelled"].astype(float)
    out["accuracy"] = ((out["tp"] + out["tn"]) / labelled.where(labelled > 0)).astype(float)
    out["precision"] = _div(out["tp"], out["tp"] + out["fp"])
    out["recall"] = _div(out["tp"], out["tp"] + out["fn"])
    out["f1"] = _div(2 * out["tp"], 2 * out["tp"] + out["fp"] + out["fn"])
    positives = out["positives"].astype(float)
    negatives = labelled - positives
    both = (positives > 0) & (negatives > 0)
    auc = (out["rank_sum"].astype(float) - positives * (positives + 1) / 2) / (positives * negatives)
    out["roc_auc"] = auc.where(both)
    for col in ("accuracy", "precision", "recall", "f1"):
        out[col] = out[col].where(labelled > 0)
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
        ``enough labels``), the :data:`METRICS`, ``threshold``, ``version``, and per metric its
        change against the validation metrics of the registry (``<metric>_change``).
    """

    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        row = load(con, model, window=window, freq=freq, by=by)
        try:
            counts = con.execute(_metrics_sql()).df()
        finally:
            con.execute(f"DROP TABLE IF EXISTS {PERF}")
        return _finish(counts, row, min_labelled(con, model))

    return run(db, work)


def min_labelled(con: duckdb.DuckDBPyConnection, model: str) -> int:
    """The labelled rows (of both classes) a window needs to be judged (setting ``performance.min_labelled``)."""
    return int(settings.get(con, MIN_LABELLED.key, model=model))


def min_labelled_of(db: DbLike, model: str) -> int:
    """:func:`min_labelled` of a model in a store (what the Performance page states)."""
    return run(db, lambda con: min_labelled(con, model))


def _finish(counts: pd.DataFrame, row: dict, minimum: int) -> pd.DataFrame:
    frame = metrics_from_counts(counts).rename(columns={"_period": "period", "_group": "group"})
    frame["labelled_share"] = frame["labelled"] / frame["rows"]
    frame["threshold"] = float(row["threshold"])
    frame["version"] = row["version"]
    validation = row.get("validation_metrics") or {}
    for metric in METRICS:
        ref = validation.get(metric)
        frame[f"{metric}_change"] = frame[metric] - float(ref) if ref is not None else np.nan
    columns = ["period", "group", "version", "rows", "labelled", "labelled_share", "positives", "label_state",
               *METRICS, "threshold", *(f"{m}_change" for m in METRICS)]
    for c in ("rows", "labelled", "positives"):
        frame[c] = frame[c].fillna(0).astype("int64")
    frame["label_state"] = label_states(frame["labelled"], frame["positives"], minimum)
    return frame[columns]


def validation_metrics(db: DbLike, model: str, version: str | None = None) -> dict[str, float]:
    """The validation metrics the registry holds for a version (default: the champion)."""
    return run(db, lambda con: dict(resolve_version(con, model, version)["validation_metrics"]))


def calibration_curve(db: DbLike, model: str, *, window: Window, n_bins: int = 10) -> pd.DataFrame:
    """Reliability curve of the labelled rows of ``window`` (version: default the champion): per non-empty
    bin, mean score, share positive, rows.

    Bins as :func:`sklearn.calibration.calibration_curve` (``strategy="uniform"``): ``n_bins``
    equal-width bins on [0, 1]; a score on an inner edge belongs to the lower bin.
    """
    if not 2 <= n_bins <= 100:
        raise InvalidInputError("choose between 2 and 100 calibration bins")
    inner = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    index = " + ".join(f"(score > {float(e)!r})::INTEGER" for e in inner)

    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        load(con, model, window=window, freq=None, labelled_only=True)
        try:
            return con.execute(
                f"SELECT {index} AS bin, avg(score) AS mean_predicted, avg(label) AS fraction_positive, "
                f"count(*) AS rows FROM {PERF} GROUP BY ALL ORDER BY bin").df()
        finally:
            con.execute(f"DROP TABLE IF EXISTS {PERF}")

    frame = run(db, work)
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
