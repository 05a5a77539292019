"""LightGBM models, stored as LightGBM's own text model (``Booster.save_model``): parsed, never executed.

Categorical inputs are passed as pandas categories; LightGBM keeps the category lists inside the
text model, so a loaded model maps new data exactly as in training. Attributions are LightGBM's
native TreeSHAP (``pred_contrib=True``), which equals shap's TreeExplainer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analytics.artifacts._base import check_sha256
from analytics.registry import sha256_of_file

if TYPE_CHECKING:  # LightGBM is imported where a model is loaded, not by every command that imports this module
    import lightgbm as lgb


def save_lightgbm(booster: lgb.Booster, path: str | Path) -> str:
    """Save a booster as a LightGBM text model and return its sha256."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(target))
    return sha256_of_file(target)


def load_lightgbm(path: str | Path, expected_sha256: str) -> lgb.Booster:
    """Load a LightGBM text model after checking its sha256 against the registry.

    Raises
    ------
    InvalidInputError
        If the file is missing or its hash differs (the artifact was changed or replaced).
    """
    target = check_sha256(path, expected_sha256)
    import lightgbm as lgb

    return lgb.Booster(model_file=str(target))


class LightGBMArtifact:
    """A LightGBM booster as a :class:`~analytics.artifacts.ModelArtifact`."""

    format = "lightgbm"
    explainer = "LightGBM's native TreeSHAP (pred_contrib; equals shap's TreeExplainer)"
    needs_background = False

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        self.features = list(booster.feature_name())

    def raw(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(inputs, raw_score=True)

    def score(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(inputs)

    def contributions(self, inputs: pd.DataFrame, background: pd.DataFrame | None) -> tuple[np.ndarray, float]:
        values = self.booster.predict(inputs, pred_contrib=True)
        return values[:, :-1], float(values[0, -1])

    @property
    def size(self) -> dict[str, int]:
        trees = self.booster.dump_model()["tree_info"]
        return {"trees": len(trees), "leaves": int(sum(t["num_leaves"] for t in trees)),
                "max_leaves_per_tree": int(max((t["num_leaves"] for t in trees), default=0))}
