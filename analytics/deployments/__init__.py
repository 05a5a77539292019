"""Deployments: champion against shadow, canary, challenger or an A/B arm, with significance.

Public API
----------
Methods (on DuckDB's aggregates, each pinned to scipy or statsmodels by a test)
    :class:`TestResult`, :func:`two_proportions`, :class:`Moments`, :func:`welch`, :func:`mann_whitney`,
    :func:`mcnemar`, :func:`delong`, :func:`sequential`, :func:`srm`, :func:`holm`, :func:`rows_needed`,
    :func:`rate_effect_size`, :func:`bootstrap_counts`.
"""

from analytics.deployments._methods import (MCNEMAR_EXACT_BELOW, SEQUENTIAL_TUNING, SRM_P, Interval, Moments,
                                            RatioCheck, TestResult, bootstrap_counts, delong, holm, mann_whitney,
                                            mcnemar, rate_effect_size, rows_needed, sequential, srm, two_proportions,
                                            welch)

__all__ = [
    "MCNEMAR_EXACT_BELOW", "SEQUENTIAL_TUNING", "SRM_P", "Interval", "Moments", "RatioCheck", "TestResult",
    "bootstrap_counts", "delong", "holm", "mann_whitney", "mcnemar", "rate_effect_size", "rows_needed", "sequential",
    "srm", "two_proportions", "welch",
]
