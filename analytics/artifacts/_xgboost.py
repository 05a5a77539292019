"""XGBoost models, stored as XGBoost's JSON or UBJSON model (``Booster.save_model``): data, not code.

Attributions are XGBoost's native TreeSHAP (``pred_contribs=True``), pinned by a test to shap's
TreeExplainer on the same rows. Categorical inputs are pandas categories (``enable_categorical``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.errors import InvalidInputError


class XGBoostArtifact:
    """An XGBoost booster (binary logistic objective) as a :class:`~analytics.artifacts.ModelArtifact`."""

    format = "xgboost"
    explainer = "XGBoost's native TreeSHAP (pred_contribs; equals shap's TreeExplainer)"
    needs_background = False

    def __init__(self, path) -> None:
        import xgboost as xgb

        self._xgb = xgb
        self.booster = xgb.Booster()
        try:
            self.booster.load_model(str(path))
        except xgb.core.XGBoostError as exc:
            raise InvalidInputError(f"{path.name} is not an XGBoost JSON or UBJSON model: "
                                    f"{str(exc).splitlines()[0][:200]}") from None
        objective = self.booster.save_config()
        if '"binary:logistic"' not in objective:
            raise InvalidInputError(f"{path.name}: only XGBoost models with objective binary:logistic are "
                                    "supported (the score must be the probability of the positive class)")
        if not self.booster.feature_names:
            raise InvalidInputError(f"{path.name} has no feature names: train it on a pandas DataFrame whose "
                                    "columns are the spec's feature names")
        self.features = list(self.booster.feature_names)

    def _matrix(self, inputs: pd.DataFrame):
        return self._xgb.DMatrix(inputs[self.features], enable_categorical=True)

    def raw(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self._matrix(inputs), output_margin=True).astype(float)

    def score(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self._matrix(inputs)).astype(float)

    def contributions(self, inputs: pd.DataFrame, background: pd.DataFrame | None) -> tuple[np.ndarray, float]:
        values = self.booster.predict(self._matrix(inputs), pred_contribs=True).astype(float)
        return values[:, :-1], float(values[0, -1])

    @property
    def size(self) -> dict[str, int]:
        frame = self.booster.trees_to_dataframe()
        leaves = frame[frame["Feature"] == "Leaf"].groupby("Tree").size()
        return {"trees": int(frame["Tree"].nunique()), "leaves": int(leaves.sum()),
                "max_leaves_per_tree": int(leaves.max()) if len(leaves) else 0}
