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
from datetime import date

import numpy as np
import pandas as pd

from analytics import settings
from analytics.artifacts import model_frame
from analytics.errors import InvalidInputError, NotFoundError
from analytics.explain import _attributions as logged
from analytics.explain._kept import kept_reference_shap, kept_version, sample_note, window_sample
from analytics.explain._model import (DbLike, LoadedModel, VersionInfo, can_load, default_version, load_model,
                                      verify_artifact, version_info)
from analytics.explain._sample import count_window, sample_reference, sample_size
from analytics.store import run
from analytics.window import Window
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
    seed : int
        The sample's seed.
    notes : tuple of str
        What a reader should know about how it was computed.
    version : str
        The version explained.
    kept : bool
        Whether the version keeps an explanation sample for this seed (summary ``explain``): the
        window's sample was then taken from the kept rows of the days the store has summarised.
    log_days : tuple of date
        With :attr:`kept`: the UTC days of the window whose rows were read from the log and explained
        now (not summarised yet, or with too few rows kept for this window).
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
    version: str = ""
    kept: bool = False
    log_days: tuple[date, ...] = ()

    @property
    def summary_note(self) -> str:
        """Where the window's sample came from: the kept sample, the log, or both (empty for logged attributions)."""
        return sample_note(self.kept, self.log_days) if self.source == "model" else ""

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


def _explanation(values: pd.DataFrame, inputs: pd.DataFrame, base: float, window_rows: int, source: str, seed: int,
                 **extra) -> GlobalExplanation:
    values, inputs = values.reset_index(drop=True), inputs.reset_index(drop=True)
    return GlobalExplanation(importance_frame(values), values, inputs, float(base), len(values), window_rows, source,
                             seed, **extra)


def _inputs(info: VersionInfo, features: list[str], frame: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs of sampled rows (as :meth:`LoadedModel.inputs`), with ``prediction_id`` when from the log."""
    inputs = model_frame(frame, info.schema)[features]
    if "prediction_id" in frame:
        inputs = inputs.assign(prediction_id=frame["prediction_id"].to_numpy())
    return inputs


def global_explanation(db: DbLike, model: str, window: Window | None = None, *, sample_rows: int | None = None,
                       seed: int = 0) -> GlobalExplanation:
    """Global SHAP of a version on a seeded sample of its predictions in a window.

    Uses the registered artifact when it can be loaded (hash checked), else the attributions logged
    by the serving system for the sampled predictions. The sample is taken from the explanation sample
    the store keeps per day (:mod:`analytics.explain._kept`) for the days it has summarised, and from
    the log for the others: the same rows, and the same SHAP values, as from the log alone.

    Parameters
    ----------
    window : Window, optional
        Its span and segment; its version (default: the champion, :func:`default_version`).
    sample_rows : int, optional
        Rows sampled (default: the setting ``explain.sample_rows``).
    seed : int
        The sample's seed.

    Raises
    ------
    NotFoundError
        Neither a loadable artifact nor logged attributions exist.
    InvalidInputError
        The artifact's hash does not match (it is never used then).
    """
    def work(con):  # one connection for the whole read
        info = version_info(con, model, default_version(con, model, window.version if window else None))
        if not can_load(con, info):
            return info, None, None, None
        verify_artifact(con, info)
        kept = kept_version(con, info, seed)
        loaded = None if kept is not None and kept.explained else load_model(con, model, info.version, info=info)
        n = sample_size(con, model, sample_rows, agnostic=loaded is not None and loaded.artifact.needs_background)
        inputs = [c.name for c in info.schema.features]
        return info, loaded, count_window(con, info, window), window_sample(con, info, window, n, seed,
                                                                            columns=inputs, with_shap=True)

    info, loaded, window_rows, sample = run(db, work)
    version = info.version
    if sample is None:
        return _logged_explanation(db, info, window, sample_rows, seed)
    rows, shap, base = sample.rows, sample.shap, sample.base_value
    features = list(sample.features)
    missing = sample.unexplained
    if missing.any():
        loaded = loaded or load_model(db, model, version, info=info)
        computed, base = loaded.contributions(rows[missing])
        features = loaded.features
        if shap is None:
            shap = np.asarray(computed, dtype=float)
        else:
            shap[missing] = computed
    if not features:  # an empty sample of a version that keeps none
        features = (loaded or load_model(db, model, version, info=info)).features
        shap = np.empty((0, len(features)))
    values = pd.DataFrame(shap, columns=features)
    return _explanation(values, _inputs(info, features, rows), base if base is not None else float("nan"),
                        window_rows, "model", seed, version=version, kept=sample.kept, log_days=sample.log_days)


def _logged_explanation(db: DbLike, info: VersionInfo, window: Window | None, sample_rows: int | None,
                        seed: int) -> GlobalExplanation:
    """Global attributions from those the serving system logged for the sampled predictions."""
    model, version = info.model, info.version

    def work(con):
        n = sample_size(con, model, sample_rows, agnostic=False)
        sample = logged.sample_logged(con, info, window, n, seed)
        attributions = None if sample.empty else logged.for_predictions(con, model, sample["prediction_id"].tolist())
        return count_window(con, info, window), sample, attributions

    window_rows, sample, attributions = run(db, work)
    if attributions is None or attributions.empty:
        raise NotFoundError(f"{model}:{version} cannot be loaded here and the serving system logged no "
                            "attributions for its predictions in this window")
    features = [c.name for c in info.schema.features]
    wide = attributions.pivot(index="prediction_id", columns="feature", values="contribution")
    wide = wide.reindex(index=sample["prediction_id"], columns=features).fillna(0.0)
    inputs = sample[features].assign(prediction_id=sample["prediction_id"].to_numpy())
    return _explanation(wide, inputs, float(attributions["base_value"].mean()), window_rows, "logged", seed,
                        notes=("attributions logged by the serving system",), version=version)


def reference_explanation(db: DbLike, model: str, version: str, *, sample_rows: int | None = None,
                          seed: int = 0) -> GlobalExplanation:
    """Global SHAP of a version on (a seeded sample of) its reference data.

    The SHAP values of the reference sample are kept once per version (summary ``explain``) and read
    when the sample is the one they were computed on (same rows, checked by their fingerprint).
    """
    def work(con):  # one connection for the whole read
        info = version_info(con, model, version)
        verify_artifact(con, info)
        kept = kept_version(con, info, seed)
        if kept is not None and kept.explained:
            frame = sample_reference(con, info, sample_size(con, model, sample_rows, agnostic=False), seed)
            shap = kept_reference_shap(con, info, kept, frame)
            if shap is not None:
                return info, frame, pd.DataFrame(shap, columns=list(kept.features)), kept.base_value
        return info, None, None, None

    info, frame, values, base = run(db, work)
    if values is None:
        loaded = load_model(db, model, version, info=info)
        frame = run(db, lambda con: sample_reference(
            con, info, sample_size(con, model, sample_rows, agnostic=loaded.artifact.needs_background), seed))
        if not frame.empty:
            values, base = contributions(loaded, frame)
    if frame.empty:
        raise NotFoundError(f"{model}:{version} has no reference data to compare attributions with")
    return _explanation(values, _inputs(info, list(values.columns), frame), base, len(frame), "reference", seed,
                        version=version)


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


def drift_for(db: DbLike, model: str, window: Window | None = None, *, sample_rows: int | None = None,
              seed: int = 0) -> WindowAttributionDrift:
    """The window's and the reference's global explanations and their attribution drift.

    ``window``: as for :func:`global_explanation` (its version defaults to the champion).
    """
    explained = global_explanation(db, model, window, sample_rows=sample_rows, seed=seed)
    reference = reference_explanation(db, model, explained.version, sample_rows=sample_rows, seed=seed)
    threshold = attribution_drift_threshold(db, model)
    return WindowAttributionDrift(explained, reference, attribution_drift(explained, reference, threshold=threshold))


def attribution_drift_threshold(db: DbLike, model: str) -> float:
    """The share change above which :func:`attribution_drift` flags a feature (setting ``explain.drift_share_change``).

    A caller that already holds both explanations (the Explanations page reads each from its cache)
    compares them with this threshold instead of calling :func:`drift_for`, which computes both again.
    """
    return float(run(db, lambda con: settings.get(con, DOMINANCE_SHARE_CHANGE.key, model=model)))
