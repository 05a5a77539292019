"""Model performance: realised with labels, estimated without them (CBPE), and concept drift.

Public API
----------
:func:`realised_metrics`
    ROC AUC, accuracy, precision, recall, F1, Brier and log loss per window and segment, at the
    version's threshold, with the labelled share and the change against the registry's validation metrics.
:func:`calibration_curve`
    Reliability curve of the labelled rows.
:func:`cbpe`
    Confidence-based performance estimation (NannyML's CBPE) beside the realised metrics.
:func:`concept_drift`, :func:`change_points`, :func:`page_hinkley`
    Windows where performance falls while the inputs are stable; Page-Hinkley on the daily error stream.
:func:`window_performance`, :class:`WindowPerformance`
    What the Performance page shows of a window (the whole window's metrics, calibration, change points,
    CBPE and concept drift), from one read of its cells, each computed once.
:func:`window_cells`, :func:`auc_sql`, :class:`HistogramAuc`
    A window's score cells (kept summary and log) and the ROC AUC read off them, for other readers
    (the Overview).
:data:`PERFORMANCE_CELLS`, :data:`BINS`, :data:`SEGMENT_BINS`, :data:`CELL_COLUMNS`, :data:`EPS`, :func:`cell_segments`
    What the kept cells are, for another engine that computes them (:mod:`analytics.scaleout`).
:func:`label_states`, :func:`not_evaluable`, :class:`AucSamplingError`
    The one rule for when a window's labels can be judged, and NannyML's sampling error of ROC AUC.

Every metric is aggregated inside DuckDB from score cells per UTC day (:data:`PERFORMANCE_CELLS`, a
summary kept by the summaries engine: confusion counts and a fine score histogram per label, see
:mod:`analytics.performance._cells`); tests pin each to scikit-learn, ROC AUC within the bound the
result states (``roc_auc_bound``).
"""

from analytics.performance._cbpe import (ESTIMATED, CBPEResult, cbpe, estimate_from_expected, fit_calibrator,
                                         needs_calibration, reference_thresholds)
from analytics.performance._concept import (change_points, concept_drift, drifted_inputs, error_stream, page_hinkley,
                                            reference_auc_sampling_error)
from analytics.performance._cells import (BINS, CELL_COLUMNS, EPS, PERFORMANCE_CELLS, SEGMENT_BINS, HistogramAuc,
                                          WindowCells, auc_sql, cell_segments, window_cells, window_count)
from analytics.performance._realised import (HIGHER_IS_BETTER, METRICS, UNSUMMARISED, calibration_curve,
                                             evaluate_scores, min_labelled_of, realised_metrics,
                                             validation_metrics)
from analytics.performance._window import WindowPerformance, window_performance
from analytics.performance._sampling import (ENOUGH, LABEL_STATES, MIN_LABELLED, NO_LABELS, SAMPLING_ERROR_RANGE,
                                             SINGLE_CLASS, TOO_FEW, AucSamplingError, label_state, label_states,
                                             not_evaluable)

__all__ = [
    "BINS", "CELL_COLUMNS", "EPS", "PERFORMANCE_CELLS", "SEGMENT_BINS", "UNSUMMARISED", "HistogramAuc", "WindowCells",
    "auc_sql", "cell_segments", "window_cells", "window_count",
    "ENOUGH", "LABEL_STATES", "MIN_LABELLED", "NO_LABELS", "SAMPLING_ERROR_RANGE", "SINGLE_CLASS", "TOO_FEW",
    "AucSamplingError", "CBPEResult", "needs_calibration", "reference_thresholds", "drifted_inputs", "label_state", "label_states", "min_labelled_of", "not_evaluable",
    "reference_auc_sampling_error",
    "ESTIMATED", "HIGHER_IS_BETTER", "METRICS", "calibration_curve", "cbpe", "change_points", "concept_drift",
    "error_stream", "estimate_from_expected", "evaluate_scores", "fit_calibrator", "page_hinkley", "realised_metrics",
    "validation_metrics", "WindowPerformance", "window_performance",
]
