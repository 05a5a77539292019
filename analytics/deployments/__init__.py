"""Deployments: champion against shadow, canary, challenger or an A/B arm, with significance.

Public API
----------
Comparison
    :func:`compare` -> :class:`DeploymentComparison` (its :class:`Measure` rows), :func:`verdict`,
    :data:`VERDICTS`; a shadow's :class:`ShadowCoverage`; :func:`refresh_paired` brings the stored shadow (paired) summaries up to date.
Guarded rollout
    :class:`RolloutPlan`, :class:`RolloutStep`, :func:`start_rollout`, :func:`evaluate` ->
    :class:`StepEvaluation`, :func:`step`, :func:`promote`, :func:`cancel`, :func:`active_rollout`,
    :func:`rollout_history`, :func:`rollout_timeline`, :func:`deployable_versions`.
Methods (on DuckDB's aggregates, each pinned to scipy or statsmodels by a test)
    :class:`TestResult`, :func:`two_proportions`, :class:`Moments`, :func:`welch`, :func:`mann_whitney`,
    :func:`mcnemar`, :func:`delong`, :func:`sequential`, :func:`srm`, :func:`holm`, :func:`rows_needed`,
    :func:`rate_effect_size`, :func:`bootstrap_counts`.
"""

from analytics.deployments._compare import (COVERAGE_MIN, PERCENTILE_MIN_ROWS, VERDICTS, DeploymentComparison, Measure,
                                            ShadowCoverage, compare, verdict)
from analytics.deployments._paired import refresh_store as refresh_paired
from analytics.deployments._rollout import (DECISIONS, Rollout, RolloutPlan, RolloutStep, StepEvaluation,
                                            active_rollout, cancel, deployable_versions, evaluate, promote,
                                            rollout_history, rollout_timeline, start_rollout, step)
from analytics.deployments._methods import (MCNEMAR_EXACT_BELOW, SEQUENTIAL_TUNING, SRM_P, Interval, Moments,
                                            RatioCheck, TestResult, bootstrap_counts, delong, holm, mann_whitney,
                                            mcnemar, rate_effect_size, rows_needed, sequential, srm, two_proportions,
                                            welch)

__all__ = [
    "COVERAGE_MIN", "PERCENTILE_MIN_ROWS", "VERDICTS", "DeploymentComparison", "Measure", "ShadowCoverage", "compare",
    "verdict", "refresh_paired",
    "DECISIONS", "Rollout", "RolloutPlan", "RolloutStep", "StepEvaluation", "active_rollout", "cancel", "evaluate",
    "promote", "rollout_history", "rollout_timeline", "deployable_versions", "start_rollout", "step",
    "MCNEMAR_EXACT_BELOW", "SEQUENTIAL_TUNING", "SRM_P", "Interval", "Moments", "RatioCheck", "TestResult",
    "bootstrap_counts", "delong", "holm", "mann_whitney", "mcnemar", "rate_effect_size", "rows_needed", "sequential",
    "srm", "two_proportions", "welch",
]
