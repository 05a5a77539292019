"""Model artifacts: saved in a format that runs no code when loaded, and loaded only when their
sha256 matches the registry.

LightGBM models are stored as LightGBM's own text model (``Booster.save_model``), which is parsed,
never executed. Categorical inputs are passed as pandas categories; LightGBM keeps the category
lists inside the text model, so a loaded model maps new data exactly as in training.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analytics.errors import InvalidInputError
from analytics.logschema import LogSchema
from analytics.registry import sha256_of_file

if TYPE_CHECKING:  # LightGBM is imported where a model is loaded, not by every command that imports this module
    import lightgbm as lgb


def model_frame(frame: pd.DataFrame, schema: LogSchema) -> pd.DataFrame:
    """Return the model's input columns of ``frame``, categoricals as pandas categories."""
    columns = {}
    for column in schema.features:
        values = frame[column.name]
        if column.dtype == "categorical":
            columns[column.name] = values.astype("string").astype("category")
        else:
            columns[column.name] = pd.to_numeric(values).astype("float64")
    return pd.DataFrame(columns, index=frame.index)


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
    target = Path(path)
    if not target.is_file():
        raise InvalidInputError(f"model artifact {target} is missing")
    actual = sha256_of_file(target)
    if actual != expected_sha256:
        raise InvalidInputError(
            f"model artifact {target.name} has sha256 {actual[:12]}..., but the registry expects "
            f"{expected_sha256[:12]}...: it was changed after registration, so it is not loaded"
        )
    import lightgbm as lgb

    return lgb.Booster(model_file=str(target))


def predict_proba(booster: lgb.Booster, frame: pd.DataFrame, schema: LogSchema) -> np.ndarray:
    """Return the probability of the positive class for each row of ``frame``."""
    return booster.predict(model_frame(frame, schema))
