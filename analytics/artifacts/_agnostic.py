"""Model-agnostic SHAP values for models without a tree explainer (scikit-learn non-trees, ONNX).

shap's exact explainer (up to :data:`EXACT_MAX_FEATURES` inputs; the permutation explainer above)
explains the log-odds of the positive class against background rows of the reference. shap masks
numeric matrices, so categorical inputs are coded as their position in the background's categories
and decoded back before the model is called.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

#: Above this many inputs the exact explainer (2^M coalitions) gives way to the permutation explainer.
EXACT_MAX_FEATURES = 12
#: Background rows drawn from the reference (seeded), shap's usual size for an independent masker.
BACKGROUND_ROWS = 100


class _Codec:
    """Input frames <-> float matrices (categoricals as codes of the background's categories)."""

    def __init__(self, background: pd.DataFrame, inputs: pd.DataFrame) -> None:
        self.columns = list(background.columns)
        self.categories: dict[str, list] = {}
        for name in self.columns:
            if isinstance(background[name].dtype, pd.CategoricalDtype) or background[name].dtype == object:
                values = pd.concat([background[name], inputs[name]]).astype("string").dropna().unique()
                self.categories[name] = sorted(values)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.columns)), dtype=float)
        for j, name in enumerate(self.columns):
            if name in self.categories:
                codes = {v: float(i) for i, v in enumerate(self.categories[name])}
                out[:, j] = [codes.get(v, np.nan) if not pd.isna(v) else np.nan for v in frame[name].astype("string")]
            else:
                out[:, j] = frame[name].to_numpy(dtype=float)
        return out

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        columns = {}
        for j, name in enumerate(self.columns):
            if name in self.categories:
                cats = self.categories[name]
                values = [cats[int(v)] if not np.isnan(v) else None for v in matrix[:, j]]
                columns[name] = pd.Series(values, dtype="string").astype("category")
            else:
                columns[name] = matrix[:, j]
        return pd.DataFrame(columns)


def agnostic_contributions(raw: Callable[[pd.DataFrame], np.ndarray], inputs: pd.DataFrame,
                           background: pd.DataFrame) -> tuple[np.ndarray, float]:
    """SHAP values (log-odds) of ``inputs`` by shap's exact (or permutation) explainer, and the base value."""
    import shap

    codec = _Codec(background, inputs)
    masker = shap.maskers.Independent(codec.encode(background), max_samples=BACKGROUND_ROWS)

    def f(matrix: np.ndarray) -> np.ndarray:
        return raw(codec.decode(np.asarray(matrix, dtype=float)))

    if len(codec.columns) <= EXACT_MAX_FEATURES:
        explainer = shap.explainers.Exact(f, masker)
        explanation = explainer(codec.encode(inputs))
    else:
        explainer = shap.explainers.Permutation(f, masker, seed=0)
        explanation = explainer(codec.encode(inputs), max_evals=2 * len(codec.columns) + 1, silent=True)
    base = float(np.ravel(explanation.base_values)[0])
    return np.asarray(explanation.values, dtype=float), base


def explainer_name(features: int) -> str:
    """The name of the model-agnostic explainer used for a model with ``features`` inputs."""
    kind = "exact" if features <= EXACT_MAX_FEATURES else "permutation"
    return f"shap's {kind} explainer (log-odds, {BACKGROUND_ROWS} reference rows as background)"
