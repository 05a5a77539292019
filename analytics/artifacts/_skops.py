"""scikit-learn models saved with skops: loaded with skops' trusted types only, never unpickled.

skops lists the types a file would instantiate beyond its own default trusted set; Vigil trusts
those only when they come from scikit-learn, NumPy or SciPy (:data:`TRUSTED_MODULES`, e.g.
``sklearn.tree._tree.Tree``) and refuses a file naming any other (a user's function, ``builtins.eval``),
with those types named.
Attributions: shap's TreeExplainer for gradient-boosted scikit-learn trees (their raw output is
the log-odds), else shap's exact or permutation explainer on the log-odds of ``predict_proba``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.artifacts._agnostic import agnostic_contributions, explainer_name
from analytics.artifacts._base import logit
from analytics.errors import InvalidInputError

#: Modules whose types a skops file may name beyond skops' default trusted set.
TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.")
#: scikit-learn classifiers whose trees shap's TreeExplainer explains in log-odds.
TREE_LOG_ODDS = ("GradientBoostingClassifier",)


class SkopsArtifact:
    """A scikit-learn binary classifier (or pipeline) as a :class:`~analytics.artifacts.ModelArtifact`."""

    format = "skops"

    def __init__(self, path) -> None:
        import skops.io as sio

        try:
            untrusted = sio.get_untrusted_types(file=path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same answer to the user
            raise InvalidInputError(f"{path.name} is not a skops file: {type(exc).__name__}: {str(exc)[:200]}") from None
        refused = [t for t in untrusted if not t.startswith(TRUSTED_MODULES)]
        if refused:
            raise InvalidInputError(f"{path.name} would load types that are not trusted: {', '.join(refused)}; "
                                    "Vigil loads only types of scikit-learn, NumPy and SciPy from a skops file")
        self.model = sio.load(path, trusted=untrusted)
        if not hasattr(self.model, "predict_proba") or list(getattr(self.model, "classes_", [])) != [0, 1]:
            raise InvalidInputError(f"{path.name}: the model must be a binary classifier with predict_proba "
                                    "and classes 0 and 1")
        names = getattr(self.model, "feature_names_in_", None)
        if names is None:
            raise InvalidInputError(f"{path.name} does not know its feature names: fit it on a pandas DataFrame "
                                    "whose columns are the spec's feature names")
        self.features = [str(n) for n in names]
        self.tree = type(self.model).__name__ in TREE_LOG_ODDS
        self.needs_background = not self.tree
        self.explainer = ("shap's TreeExplainer (log-odds)" if self.tree else explainer_name(len(self.features)))

    def raw(self, inputs: pd.DataFrame) -> np.ndarray:
        if self.tree:
            return np.asarray(self.model.decision_function(inputs[self.features]), dtype=float)
        return logit(self.score(inputs))

    def score(self, inputs: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(inputs[self.features])[:, 1], dtype=float)

    def contributions(self, inputs: pd.DataFrame, background: pd.DataFrame | None) -> tuple[np.ndarray, float]:
        if self.tree:
            import shap

            explainer = shap.TreeExplainer(self.model)
            values = np.asarray(explainer.shap_values(inputs[self.features]), dtype=float)
            return values, float(np.ravel(explainer.expected_value)[0])
        if background is None:
            raise InvalidInputError("explaining this model needs reference rows as background")
        return agnostic_contributions(self.raw, inputs[self.features], background[self.features])

    @property
    def size(self) -> dict[str, int]:
        estimators = getattr(self.model, "estimators_", None)
        if estimators is None:
            return {"estimators": 1}
        trees = np.ravel(estimators)
        return {"trees": len(trees), "leaves": int(sum(t.get_n_leaves() for t in trees))}
