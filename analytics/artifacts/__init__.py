"""Model artifacts: saved in a format that runs no code when loaded, and loaded only when their
sha256 matches the registry.

Formats (:data:`FORMATS`):

- ``lightgbm``: LightGBM's text model;
- ``xgboost``: XGBoost's JSON or UBJSON model;
- ``skops``: a scikit-learn model saved with skops, loaded with trusted types only (never pickle);
- ``onnx``: any model exported to ONNX, run by onnxruntime (optional extra ``vigil[onnx]``).

Each loads as a :class:`ModelArtifact`: scores, log-odds and SHAP values the same way whatever the
format, so explanations and counterfactuals work for every one.
"""

from analytics.artifacts._base import ModelArtifact, check_features, check_sha256, logit, model_frame, sigmoid
from analytics.artifacts._lightgbm import load_lightgbm, save_lightgbm
from analytics.artifacts._load import FORMATS, artifact_format, load_artifact, predict_proba

__all__ = [
    "FORMATS", "ModelArtifact", "artifact_format", "check_features", "check_sha256", "load_artifact",
    "load_lightgbm", "logit", "model_frame", "predict_proba", "save_lightgbm", "sigmoid",
]
