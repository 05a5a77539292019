"""Which format an artifact file is in, and loading one (its sha256 checked first); the optional formats'
libraries are imported only when such a file is loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analytics.artifacts._base import ModelArtifact, check_features, check_sha256, model_frame
from analytics.artifacts._lightgbm import LightGBMArtifact
from analytics.errors import InvalidInputError
from analytics.logschema import LogSchema

#: The artifact formats Vigil loads, with the file endings that name them.
FORMATS: dict[str, tuple[str, ...]] = {
    "lightgbm": (".txt", ".lgb", ".lightgbm"),
    "xgboost": (".json", ".ubj"),
    "skops": (".skops",),
    "onnx": (".onnx",),
}


def artifact_format(path: str | Path) -> str:
    """The format of an artifact file, from its ending (see :data:`FORMATS`).

    Raises
    ------
    InvalidInputError
        For an ending no format uses (pickle files included: they run code when loaded).
    """
    suffix = Path(path).suffix.lower()
    for name, endings in FORMATS.items():
        if suffix in endings:
            return name
    endings = ", ".join(f"{e} ({n})" for n, es in FORMATS.items() for e in es)
    hint = " Pickle files run code when loaded and are never read; save the model with skops." \
        if suffix in (".pkl", ".pickle", ".joblib") else ""
    raise InvalidInputError(f"{Path(path).name}: unknown model format {suffix or '(no ending)'!r}; use {endings}.{hint}")


def load_artifact(path: str | Path, expected_sha256: str, schema: LogSchema) -> ModelArtifact:
    """Load a model artifact after checking its sha256, and check its inputs against the schema.

    Raises
    ------
    InvalidInputError
        The file is missing, its hash differs from the registry's, it is not a model of its format,
        it would load untrusted types, or its inputs are not the schema's features.
    """
    target = check_sha256(path, expected_sha256)
    kind = artifact_format(target)
    if kind == "lightgbm":
        import lightgbm as lgb

        try:
            artifact = LightGBMArtifact(lgb.Booster(model_file=str(target)))
        except lgb.basic.LightGBMError as exc:
            raise InvalidInputError(f"{target.name} is not a LightGBM text model: {str(exc)[:200]}") from None
    elif kind == "xgboost":
        from analytics.artifacts._xgboost import XGBoostArtifact

        artifact = XGBoostArtifact(target)
    elif kind == "skops":
        from analytics.artifacts._skops import SkopsArtifact

        artifact = SkopsArtifact(target)
    else:
        from analytics.artifacts._onnx import ONNXArtifact

        artifact = ONNXArtifact(target, schema)
    check_features(artifact.features, schema, f"the model in {target.name}")
    return artifact


def predict_proba(booster, frame: pd.DataFrame, schema: LogSchema) -> np.ndarray:
    """Return the probability of the positive class for each row of ``frame`` (a LightGBM booster)."""
    return booster.predict(model_frame(frame, schema))
