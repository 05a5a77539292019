"""Training and evaluating the demo's LightGBM models, saved as LightGBM text models."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from analytics.artifacts import model_frame, save_lightgbm
from analytics.logschema import LogSchema
from analytics.performance import evaluate_scores


@dataclass(frozen=True)
class TrainedModel:
    """A trained booster with what the registry records about it."""

    booster: lgb.Booster
    artifact_path: Path
    artifact_sha256: str
    hyperparameters: dict
    training_fingerprint: str
    validation_metrics: dict
    reference: pd.DataFrame  # the validation rows with label, score and decision


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of a training frame's content (row order included), to record its lineage."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return "sha256:" + hashlib.sha256(hashed.tobytes()).hexdigest()


def evaluate(label: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """Validation metrics at the decision threshold (:func:`analytics.performance.evaluate_scores`)."""
    return evaluate_scores(label, score, (np.asarray(score) >= threshold).astype(int))


def train(train_frame: pd.DataFrame, validation: pd.DataFrame, label: str, schema: LogSchema, *,
          params: dict, rounds: int, threshold: float, artifact_path: Path, seed: int) -> TrainedModel:
    """Train a LightGBM binary classifier, save it as text, and score the validation rows."""
    full_params = {"objective": "binary", "verbose": -1, "seed": seed, "deterministic": True,
                   "num_threads": 2, "force_col_wise": True, **params}
    dataset = lgb.Dataset(model_frame(train_frame, schema), label=train_frame[label].to_numpy())
    booster = lgb.train(full_params, dataset, num_boost_round=rounds)
    sha = save_lightgbm(booster, artifact_path)
    score = booster.predict(model_frame(validation, schema))
    reference = validation[[c.name for c in schema.columns]].copy()
    reference["label"] = validation[label].to_numpy().astype(np.int8)
    reference["score"] = score
    reference["decision"] = (score >= threshold).astype(np.int8)
    return TrainedModel(
        booster=booster,
        artifact_path=artifact_path,
        artifact_sha256=sha,
        hyperparameters={**full_params, "num_boost_round": rounds},
        training_fingerprint=fingerprint(train_frame),
        validation_metrics=evaluate(reference["label"].to_numpy(), score, threshold),
        reference=reference,
    )
