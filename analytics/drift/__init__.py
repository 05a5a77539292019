"""Data drift: univariate drift of every column against a reference, over time, and multivariate.

Public API
----------
:func:`drift_summary`
    Every declared column and the score, a window against the version's reference (or an earlier window).
:func:`drift_over_time`
    The same per day or week, with the thresholds.
:func:`compare_files`
    Two Parquet or CSV files (the ``vigil drift`` CI gate).
:data:`DRIFT_ROLLUPS`, :func:`refresh_rollups`, :func:`rollup_columns`, :class:`RollupColumn`, :data:`ROLLUP_COLUMNS`
    The daily rollups; another engine (Spark, :mod:`analytics.scaleout`) may compute their rows.
:func:`multivariate_drift`, :data:`MULTIVARIATE_SAMPLES`
    Domain classifier (cross-validated ROC AUC) and PCA reconstruction error on bounded, seeded samples;
    the window samples kept per version and UTC day (summary ``multivariate``).
:class:`DriftResult`, :class:`DriftConfig`, :data:`METHOD_KEYS`, :func:`auto_method`
    Results, configuration and the method registry (:mod:`analytics.drift._methods` documents every
    method, its threshold and the automatic choice).

Heavy work runs inside DuckDB: fine histograms of each numerical column (KS D and W1 are read off
them, exact or within a reported tolerance) and category counts; scipy and the vendored exact KS
distribution (:mod:`analytics.drift._ks_exact`) receive those summaries. See
:mod:`analytics.drift._binning`.
"""

from analytics.drift._calculator import (DRIFT_ROLLUPS, DriftConfig, config_for_model, drift_summary, refresh_rollups,
                                         rollup_columns)
from analytics.drift._files import compare_files
from analytics.drift._methods import METHOD_KEYS, auto_method, get_method, ks_p_value, psi
from analytics.drift._multivariate import SAMPLES as MULTIVARIATE_SAMPLES
from analytics.drift._multivariate import MultivariateResult, multivariate_drift
from analytics.drift._over_time import drift_over_time
from analytics.drift._result import JSON_FIELDS, RESULT_COLUMNS, VERDICT_WORDS, DriftResult, verdict_word
from analytics.drift._rollup import ROLLUP_COLUMNS, RollupColumn, drop_rollups

__all__ = [
    "DRIFT_ROLLUPS", "DriftConfig", "DriftResult", "JSON_FIELDS", "METHOD_KEYS", "MULTIVARIATE_SAMPLES", "MultivariateResult", "RESULT_COLUMNS",
    "ROLLUP_COLUMNS", "RollupColumn", "VERDICT_WORDS", "auto_method", "compare_files", "config_for_model", "drift_over_time", "drop_rollups", "drift_summary", "get_method",
    "ks_p_value", "multivariate_drift", "psi", "refresh_rollups", "rollup_columns", "verdict_word",
]
