"""What every model artifact offers, whatever its format, and the checks every format shares."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from analytics.errors import InvalidInputError
from analytics.logschema import LogSchema
from analytics.registry import sha256_of_file


class ModelArtifact(Protocol):
    """A loaded model of one format, seen the same way by scoring, explanations and counterfactuals.

    Inputs are the model's input frame (:func:`model_frame`: categoricals as pandas categories,
    numbers as float64), columns in :attr:`features` order. Scores follow the log's convention:
    the probability of the positive class; raw output is its log-odds.
    """

    #: ``"lightgbm"``, ``"xgboost"``, ``"skops"`` or ``"onnx"``.
    format: str
    #: The model's input columns, in the order it expects them.
    features: list[str]
    #: How :meth:`contributions` computes attributions, in words (shown beside them).
    explainer: str
    #: Whether :meth:`contributions` needs background rows (model-agnostic explainers do).
    needs_background: bool

    def raw(self, inputs: pd.DataFrame) -> np.ndarray:
        """Raw output: the log-odds of the positive class for each row."""

    def score(self, inputs: pd.DataFrame) -> np.ndarray:
        """The probability of the positive class for each row."""

    def contributions(self, inputs: pd.DataFrame, background: pd.DataFrame | None) -> tuple[np.ndarray, float]:
        """SHAP values in log-odds (rows x features) and the base value: ``base + sum == raw``."""

    @property
    def size(self) -> dict[str, int]:
        """The model's size (trees and leaves, or nodes), stated with every timing."""


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


def check_sha256(path: str | Path, expected_sha256: str) -> Path:
    """Return ``path`` if the file exists and its sha256 is the registered one.

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
    return target


def logit(score: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1 so that they stay finite."""
    p = np.clip(np.asarray(score, dtype=float), 1e-15, 1 - 1e-15)
    return np.log(p / (1 - p))


def sigmoid(raw: np.ndarray) -> np.ndarray:
    """Probabilities of log-odds."""
    return 1.0 / (1.0 + np.exp(-np.asarray(raw, dtype=float)))


def check_features(names: list[str], schema: LogSchema, what: str) -> None:
    """Refuse an artifact whose inputs are not exactly the schema's declared features."""
    declared = [c.name for c in schema.features]
    missing = [n for n in names if n not in declared]
    unused = [n for n in declared if n not in names]
    if missing or unused:
        parts = []
        if missing:
            parts.append(f"expects inputs the spec does not declare as features: {', '.join(missing)}")
        if unused:
            parts.append(f"does not use declared features: {', '.join(unused)}")
        raise InvalidInputError(f"{what} {'; '.join(parts)} (declare its inputs as role = \"feature\", "
                                "and nothing else)")
