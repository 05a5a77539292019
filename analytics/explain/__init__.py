"""Explanations and investigation: SHAP, counterfactuals, error analysis and the prediction trace.

Models are loaded from their registered artifact only when its sha256 matches (:func:`load_model`).

- :func:`global_explanation`, :func:`reference_explanation`, :func:`drift_for` -> global SHAP on a
  seeded sample of a window (an :class:`analytics.window.Window`; version default the champion), and
  attribution drift against the reference;
  :func:`explain_row` -> one prediction's waterfall with the additivity check.
- :func:`feature_space`, :func:`counterfactuals`, :func:`what_if` -> constrained counterfactuals.
- :func:`error_analysis` -> a shallow decision tree on the model's errors, leaf by leaf.
- :func:`find_predictions`, :func:`trace` -> a prediction's full record for an investigation.
- :mod:`analytics.explain._attributions` -> attributions logged by a serving system (migration 8).
- :data:`EXPLAIN_SAMPLE` -> the explanation sample kept per version and UTC day with its SHAP values
  (summary ``explain``, migration 24; see docs/summaries.md), from which the readers above draw a
  window's sample: the same rows and numbers as from the log.
"""

from analytics.explain._attributions import record as record_attributions
from analytics.explain._counterfactual import (
    CounterfactualSet,
    FeatureSpace,
    EditedRowWhatIf,
    counterfactuals,
    distance,
    feature_space,
    violations,
    what_if,
)
from analytics.explain._errors import TARGETS as ERROR_TARGETS
from analytics.explain._errors import ErrorAnalysis, error_analysis
from analytics.explain._kept import EXPLAIN_SAMPLE, KEPT_ROWS, KEPT_SHAP_ROWS
from analytics.explain._model import (
    LoadedModel,
    VersionInfo,
    default_version,
    load_model,
    resolve_artifact,
    version_info,
)
from analytics.explain._shap import (
    AttributionDrift,
    WindowAttributionDrift,
    GlobalExplanation,
    LocalExplanation,
    attribution_drift,
    attribution_drift_threshold,
    contributions,
    drift_for,
    explain_logged,
    explain_row,
    global_explanation,
    importance_frame,
    reference_explanation,
    sigmoid,
)
from analytics.explain._trace import (
    PredictionTrace,
    ReferenceSpace,
    counterfactuals_for,
    find_predictions,
    mask_counterfactuals,
    mask_sensitive,
    prediction_row,
    reference_space,
    trace,
)

__all__ = [
    "ERROR_TARGETS",
    "EXPLAIN_SAMPLE",
    "KEPT_ROWS",
    "KEPT_SHAP_ROWS",
    "AttributionDrift",
    "WindowAttributionDrift",
    "CounterfactualSet",
    "ErrorAnalysis",
    "FeatureSpace",
    "GlobalExplanation",
    "LoadedModel",
    "LocalExplanation",
    "PredictionTrace",
    "ReferenceSpace",
    "VersionInfo",
    "EditedRowWhatIf",
    "attribution_drift",
    "attribution_drift_threshold",
    "contributions",
    "counterfactuals",
    "counterfactuals_for",
    "mask_counterfactuals",
    "default_version",
    "distance",
    "drift_for",
    "error_analysis",
    "explain_logged",
    "explain_row",
    "feature_space",
    "find_predictions",
    "global_explanation",
    "importance_frame",
    "load_model",
    "mask_sensitive",
    "prediction_row",
    "record_attributions",
    "reference_explanation",
    "reference_space",
    "resolve_artifact",
    "sigmoid",
    "trace",
    "version_info",
    "violations",
    "what_if",
]
