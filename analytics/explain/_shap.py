"""SHAP attributions: local (one prediction), global (a window's sample) and attribution drift.

Attributions are SHAP values in the model's raw output, the log-odds of the positive class, each
format with its explainer (:mod:`analytics.artifacts`): LightGBM's and XGBoost's native TreeSHAP
(which equal shap's ``TreeExplainer``; for LightGBM on numeric splits also shap's own C++
TreeSHAP), shap's ``TreeExplainer`` for gradient-boosted scikit-learn trees, and shap's exact (or
permutation) explainer against reference rows for other models; each is pinned by a test to shap
on the same rows. For each row, ``base_value + sum(contributions) == raw output`` (additivity) and
``sigmoid(raw) == score``. Model-agnostic explainers call the model thousands of times per row, so
their global samples are capped by ``explain.agnostic_sample_rows``.

When a version's artifact cannot be loaded here, attributions logged by the serving system (the
``logged_attributions`` table, one row per prediction and feature) are used instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from analytics import settings
from analytics.errors import InvalidInputError, NotFoundError
from analytics.explain import _attributions as logged
from analytics.explain._model import DbLike, LoadedModel, can_load, load_model, version_info
from analytics.store import run
from analytics.explain._sample import count_window, sample_reference, sample_window

SAMPLE_ROWS = settings.declare(
    "explain.sample_rows", 5000, "Rows of the window sampled (seeded) for global SHAP and attribution drift",
    unit="rows", minimum=100, maximum=50_000)
AGNOSTIC_SAMPLE_ROWS = settings.declare(
    "explain.agnostic_sample_rows", 300, "Rows sampled for global SHAP of a model explained by shap's exact or "
    "permutation explainer (no tree explainer): each row costs thousands of model calls", unit="rows",
    minimum=20, maximum=50_000)
DOMINANCE_SHARE_CHANGE = settings.declare(
    "explain.drift_share_change", 0.10,
    "Attribution drift: a feature is flagged when its share of total mean |SHAP| rises by more than this "
    "(absolute) against the reference, or when it becomes the top feature", minimum=0.0, maximum=1.0)


def sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    """Logistic function: log-odds to probability."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def contributions(model: LoadedModel, frame: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """TreeSHAP values (log-odds) of each row and input, and the base value (expected raw output)."""
    if frame.empty:
        return pd.DataFrame(columns=model.features, dtype=float), float("nan")
    values, base = model.contributions(frame)
    return pd.DataFrame(values, columns=model.features, index=frame.index), base


@dataclass(frozen=True)
class LocalExplanation:
    """One prediction's waterfall: base value, each input's value and contribution, and the check.

    Attributes
    ----------
    table : DataFrame
        ``feature``, ``value`` (as logged), ``contribution`` (log-odds), ``abs_contribution``,
        sorted by decreasing ``abs_contribution``.
    base_value : float
        Expected raw output (log-odds) over the training data.
    raw_output : float
        The model's raw output for this row (log-odds), from the model (or as logged).
    score : float
        ``sigmoid(raw_output)``: the probability of the positive class.
    source : str
        ``"model"`` (computed from the registered artifact) or ``"logged"`` (serving system).
    """

    table: pd.DataFrame
    base_value: float
    raw_output: float
    score: float
    source: str = "model"

    @property
    def additivity_error(self) -> float:
        """``|base_value + sum(contributions) - raw_output|`` (log-odds); about 1e-12 for TreeSHAP."""
        return abs(self.base_value + float(self.table["contribution"].sum()) - self.raw_output)

    @property
    def reconstructed_score(self) -> float:
        """``sigmoid(base_value + sum(contributions))``, to compare with :attr:`score`."""
        return float(sigmoid(self.base_value + float(self.table["contribution"].sum())))

    def waterfall(self, top: int = 12) -> pd.DataFrame:
        """Waterfall steps: the ``top`` largest contributions and the rest grouped, cumulative log-odds."""
        table = self.table
        head = table.head(top)[["feature", "value", "contribution"]].copy()
        rest = table.iloc[top:]
        if not rest.empty:
            head = pd.concat([head, pd.DataFrame([{"feature": f"{len(rest)} other inputs", "value": "",
                                                   "contribution": float(rest["contribution"].sum())}])],
                             ignore_index=True)
        head["end"] = self.base_value + head["contribution"].cumsum()
        head["start"] = head["end"] - head["contribution"]
        return head


def _table(features: list[str], values: pd.Series, contrib: np.ndarray) -> pd.DataFrame:
    table = pd.DataFrame({"feature": features,
                          "value": [values.get(f) for f in features],
                          "contribution": np.asarray(contrib, dtype=float)})
    table["abs_contribution"] = table["contribution"].abs()
    return table.sort_values(["abs_contribution", "feature"], ascending=[False, True]).reset_index(drop=True)


def explain_row(model: LoadedModel, row: pd.DataFrame | pd.Series) -> LocalExplanation:
    """Explain one row of the log (or an edited copy) with the loaded model."""
    frame = row.to_frame().T if isinstance(row, pd.Series) else row
    if len(frame) != 1:
        raise InvalidInputError("explain_row takes exactly one row")
    contrib, base = contributions(model, frame)
    raw = float(model.raw(frame)[0])
    return LocalExplanation(_table(model.features, frame.iloc[0], contrib.iloc[0].to_numpy()), base, raw,
                            float(sigmoid(raw)))


def explain_logged(row: pd.Series, attributions: pd.DataFrame, features: list[str]) -> LocalExplanation:
    """A local explanation from attributions logged by the serving system for this prediction.

    The raw output is taken as ``logit(score)`` of the logged score, so the additivity check tests
    the serving system's attributions against its own logged score.
    """
    if attributions.empty:
        raise NotFoundError(f"no attributions were logged for prediction {row.get('prediction_id')}")
    contrib = attributions.set_index("feature")["contribution"].reindex(features).fillna(0.0)
    base = float(attributions["base_value"].iloc[0])
    score = float(row["score"])
    clipped = min(max(score, 1e-15), 1 - 1e-15)
    return LocalExplanation(_table(features, row, contrib.to_numpy()), base, float(np.log(clipped / (1 - clipped))),
                            score, source="logged")


@dataclass(frozen=True)
class GlobalExplanation:
    """Global attributions on a bounded, seeded sample of a window (or of the reference data).

    Attributes
    ----------
    importance : DataFrame
        ``feature``, ``mean_abs`` (mean |SHAP|, log-odds), ``share`` of the total, ``rank`` (1 = largest),
        ``mean`` (signed mean contribution).
    values : DataFrame
        The SHAP matrix of the sample (rows x inputs), log-odds.
    inputs : DataFrame
        The sampled rows' inputs, aligned with ``values`` (and ``prediction_id`` when from the log).
    base_value : float
        Expected raw output (log-odds).
    rows, window_rows : int
        Rows in the sample, and predictions in the window it was drawn from.
    source : str
        ``"model"``, ``"logged"`` or ``"reference"``.
    """

    importance: pd.DataFrame
    values: pd.DataFrame
    inputs: pd.DataFrame
    base_value: float
    rows: int
    window_rows: int
    source: str
    seed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def beeswarm(self, top: int = 12) -> pd.DataFrame:
        """Long frame for a beeswarm: ``feature``, ``contribution``, ``value`` and ``value_rank`` (0-1).

        ``value_rank`` is the value's percentile rank within the sample (categories by their code), the
        colour of a beeswarm point: low values blue, high values orange.
        """
        features = self.importance["feature"].head(top).tolist()
        parts = []
        for feature in features:
            raw = self.inputs[feature]
            if isinstance(raw.dtype, pd.CategoricalDtype) or raw.dtype == object or pd.api.types.is_string_dtype(raw):
                ranked = raw.astype("category").cat.codes.astype(float).rank(pct=True)
            else:
                ranked = pd.to_numeric(raw, errors="coerce").rank(pct=True)
            parts.append(pd.DataFrame({"feature": feature, "contribution": self.values[feature].to_numpy(),
                                       "value": raw.astype(str).to_numpy(), "value_rank": ranked.to_numpy()}))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["feature", "contribution", "value", "value_rank"])

    def dependence(self, feature: str) -> pd.DataFrame:
        """Dependence plot data for ``feature``: its value and its SHAP value, one row per sampled row."""
        if feature not in self.values.columns:
            raise InvalidInputError(f"{feature!r} is not an input of the model; choose one of "
                                    f"{', '.join(self.values.columns)}")
        return pd.DataFrame({"value": self.inputs[feature].to_numpy(),
                             "contribution": self.values[feature].to_numpy()})


def importance_frame(values: pd.DataFrame) -> pd.DataFrame:
    """Mean |SHAP| ranking of a SHAP matrix: ``feature``, ``mean_abs``, ``share``, ``rank``, ``mean``."""
    mean_abs = values.abs().mean()
    total = float(mean_abs.sum())
    frame = pd.DataFrame({"feature": mean_abs.index, "mean_abs": mean_abs.to_numpy(),
                          "share": mean_abs.to_numpy() / total if total > 0 else np.nan,
                          "mean": values.mean().to_numpy()})
    frame = frame.sort_values(["mean_abs", "feature"], ascending=[False, True]).reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    return frame


def _explain_frame(model: LoadedModel, frame: pd.DataFrame, window_rows: int, source: str,
                   seed: int) -> GlobalExplanation:
    values, base = contributions(model, frame)
    inputs = model.inputs(frame)
    if "prediction_id" in frame:
        inputs = inputs.assign(prediction_id=frame["prediction_id"].to_numpy())
    return GlobalExplanation(importance_frame(values), values.reset_index(drop=True), inputs.reset_index(drop=True),
                             base, len(frame), window_rows, source, seed)


def global_explanation(db: DbLike, model: str, version: str, *, start: datetime | None = None,
                       end: datetime | None = None, sample_rows: int | None = None,
                       seed: int = 0) -> GlobalExplanation:
    """Global SHAP of a version on a seeded sample of its predictions in ``[start, end)``.

    Uses the registered artifact when it can be loaded (hash checked), else the attributions logged
    by the serving system for the sampled predictions.

    Raises
    ------
    NotFoundError
        Neither a loadable artifact nor logged attributions exist.
    InvalidInputError
        The artifact's hash does not match (it is never used then).
    """
    info = version_info(db, model, version)
    loadable = can_load(db, info)
    loaded = load_model(db, model, version, info=info) if loadable else None

    def work(con):
        n = _sample_size(con, model, loaded, sample_rows)
        window_rows = count_window(con, info, start, end)
        if loadable:
            inputs = ["prediction_id", *(c.name for c in info.schema.features)]
            return n, window_rows, sample_window(con, info, start, end, n, seed, columns=inputs), None
        sample = logged.sample_logged(con, info, start, end, n, seed)
        if sample.empty:
            return n, window_rows, sample, None
        return n, window_rows, sample, logged.for_predictions(con, model, sample["prediction_id"].tolist())

    n, window_rows, sample, attributions = run(db, work)
    if loadable:
        return _explain_frame(loaded, sample, window_rows, "model", seed)
    if attributions is None or attributions.empty:
        raise NotFoundError(f"{model}:{version} cannot be loaded here and the serving system logged no "
                            "attributions for its predictions in this window")
    features = [c.name for c in info.schema.features]
    wide = attributions.pivot(index="prediction_id", columns="feature", values="contribution")
    wide = wide.reindex(index=sample["prediction_id"], columns=features).fillna(0.0).reset_index(drop=True)
    inputs = sample[features].assign(prediction_id=sample["prediction_id"].to_numpy()).reset_index(drop=True)
    base = float(attributions["base_value"].mean())
    return GlobalExplanation(importance_frame(wide), wide, inputs, base, len(sample), window_rows, "logged", seed,
                             ("attributions logged by the serving system",))


def reference_explanation(db: DbLike, model: str, version: str, *, sample_rows: int | None = None,
                          seed: int = 0) -> GlobalExplanation:
    """Global SHAP of a version on (a seeded sample of) its reference data."""
    info = version_info(db, model, version)
    loaded = load_model(db, model, version, info=info)

    def work(con):
        return sample_reference(con, info, _sample_size(con, model, loaded, sample_rows), seed)

    frame = run(db, work)
    if frame.empty:
        raise NotFoundError(f"{model}:{version} has no reference data to compare attributions with")
    return _explain_frame(loaded, frame, len(frame), "reference", seed)


def _sample_size(con, model: str, loaded: LoadedModel | None, sample_rows: int | None) -> int:
    """Rows to explain: as asked, else the setting; capped for model-agnostic explainers."""
    n = sample_rows or settings.get(con, SAMPLE_ROWS.key, model=model)
    if loaded is not None and loaded.artifact.needs_background:
        n = min(int(n), int(settings.get(con, AGNOSTIC_SAMPLE_ROWS.key, model=model)))
    return int(n)


@dataclass(frozen=True)
class AttributionDrift:
    """The window's mean |SHAP| ranking against the reference's.

    Attributes
    ----------
    table : DataFrame
        ``feature``, ``rank_reference``, ``rank_window``, ``share_reference``, ``share_window``,
        ``share_change``, ``flagged``, ``reason``; in the window's rank order.
    spearman : float
        Spearman rank correlation of the two mean |SHAP| vectors (scipy.stats.spearmanr).
    top_reference, top_window : str
        The dominant feature of each.
    threshold : float
        The share change above which a feature is flagged.
    """

    table: pd.DataFrame
    spearman: float
    top_reference: str
    top_window: str
    threshold: float

    @property
    def flagged(self) -> bool:
        """Whether any feature is flagged."""
        return bool(self.table["flagged"].any())


def attribution_drift(window: GlobalExplanation, reference: GlobalExplanation, *,
                      threshold: float = DOMINANCE_SHARE_CHANGE.default) -> AttributionDrift:
    """Compare two global rankings; flag a feature that becomes the top one or gains ``threshold`` share."""
    ref = reference.importance.set_index("feature")
    win = window.importance.set_index("feature")
    features = win.index.tolist()
    table = pd.DataFrame({
        "feature": features,
        "rank_reference": ref["rank"].reindex(features).to_numpy(),
        "rank_window": win["rank"].to_numpy(),
        "mean_abs_reference": ref["mean_abs"].reindex(features).to_numpy(),
        "mean_abs_window": win["mean_abs"].to_numpy(),
        "share_reference": ref["share"].reindex(features).to_numpy(),
        "share_window": win["share"].to_numpy(),
    })
    table["share_change"] = table["share_window"] - table["share_reference"]
    top_ref, top_win = reference.importance["feature"].iloc[0], window.importance["feature"].iloc[0]
    became_top = (table["feature"] == top_win) & (top_win != top_ref)
    gained = table["share_change"] > threshold
    table["flagged"] = became_top | gained
    table["reason"] = np.select([became_top & gained, became_top, gained],
                                ["became the top feature and gained share", f"became the top feature (was {top_ref})",
                                 f"share of total rose by more than {threshold:.0%}"], "")
    from scipy import stats

    rho = stats.spearmanr(table["mean_abs_reference"], table["mean_abs_window"]).statistic
    return AttributionDrift(table, float(rho), top_ref, top_win, float(threshold))


@dataclass(frozen=True)
class WindowAttributionDrift:
    """A window's global explanation against its version's reference: both explanations and their drift."""

    window: GlobalExplanation
    reference: GlobalExplanation
    drift: AttributionDrift


def drift_for(db: DbLike, model: str, version: str, *, start: datetime | None = None, end: datetime | None = None,
              sample_rows: int | None = None, seed: int = 0) -> WindowAttributionDrift:
    """The window's and the reference's global explanations and their attribution drift."""
    window = global_explanation(db, model, version, start=start, end=end, sample_rows=sample_rows, seed=seed)
    reference = reference_explanation(db, model, version, sample_rows=sample_rows, seed=seed)
    threshold = attribution_drift_threshold(db, model)
    return WindowAttributionDrift(window, reference, attribution_drift(window, reference, threshold=threshold))


def attribution_drift_threshold(db: DbLike, model: str) -> float:
    """The share change above which :func:`attribution_drift` flags a feature (setting ``explain.drift_share_change``).

    A caller that already holds both explanations (the Explanations page reads each from its cache)
    compares them with this threshold instead of calling :func:`drift_for`, which computes both again.
    """
    return float(run(db, lambda con: settings.get(con, DOMINANCE_SHARE_CHANGE.key, model=model)))
