"""Drift methods: registered by key and by the column kinds they accept, as NannyML does.

Every method turns the counts that DuckDB computed (fine histograms and the KS and W1 distances
read off them, counts on fixed bins, category counts) into a statistic, a p-value where it has
one, and a verdict against its threshold. The statistics themselves come from scipy wherever scipy takes counts; KS D and Wasserstein W1
come from fine histograms (:mod:`analytics.drift._binning`): exact when no fine bin holds two
distinct values, otherwise within a tolerance reported with each result; the tests pin both to scipy.

===============  =============  ==================================================  ===========================
key              kinds          statistic                                           drifted when
===============  =============  ==================================================  ===========================
``ks``           numerical      two-sample Kolmogorov-Smirnov D, p-value as          p < 0.05
                                :func:`scipy.stats.ks_2samp` (``method="auto"``);
                                D at the 1,000 fine-bin boundaries
``wasserstein``  numerical      W1 (:func:`scipy.stats.wasserstein_distance`)        statistic >= 0.1
                                divided by the reference standard deviation
                                (population, floored at 0.001, as Evidently);
                                each fine bin's rows at the bin's mean
``psi``          both           population stability index on the reference's       statistic >= 0.25
                                deciles snapped to fine-bin boundaries
                                (numerical) or categories, proportions
                                floored at ``1e-4``
``chisquare``    both           chi-square test of homogeneity of the 2 x k table    p < 0.05
                                of counts (:func:`scipy.stats.chi2_contingency`)
``jensenshannon``both           Jensen-Shannon distance of the two frequency         statistic >= 0.1
                                vectors (:func:`scipy.spatial.distance.jensenshannon`,
                                natural log), on the same bins as PSI
===============  =============  ==================================================  ===========================

Automatic choice (:func:`auto_method`), Evidently's rules (``evidently.legacy.calculations.
stattests.registry``: ``get_stattest``): a *numerical* column (numeric type with more than 5
distinct reference values) gets KS up to 1,000 reference rows and normalised Wasserstein above; a
*categorical* column (text, boolean, or numeric with at most 5 distinct values) gets chi-square up to
1,000 reference rows and Jensen-Shannon above.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analytics.drift._ks_exact import ks_exact_p_value
from analytics.errors import InvalidInputError
from analytics.settings import declare

NUMERICAL, CATEGORICAL = "numerical", "categorical"
#: Evidently's cut-offs for the automatic choice.
AUTO_REFERENCE_ROWS = 1_000
AUTO_NUMERIC_UNIQUE = 5
#: Floor of a bin's proportion in PSI (Evidently and NannyML use 1e-4 as well).
PSI_EPSILON = 1e-4
#: Floor of the reference standard deviation in the normalised Wasserstein distance (Evidently).
WASSERSTEIN_STD_FLOOR = 1e-3

PSI_THRESHOLD = declare("drift.psi_threshold", 0.25, "PSI at or above which a column has drifted "
                        "(0.1-0.25 is a moderate shift, shown as a warning)", minimum=0.0)
PSI_WARNING = declare("drift.psi_warning", 0.1, "PSI at or above which a column shows a moderate shift",
                      minimum=0.0)
KS_P = declare("drift.ks_p_value", 0.05, "KS p-value below which a column has drifted", minimum=0.0, maximum=1.0)
CHI2_P = declare("drift.chisquare_p_value", 0.05, "chi-square p-value below which a column has drifted",
                 minimum=0.0, maximum=1.0)
JS_THRESHOLD = declare("drift.jensenshannon_threshold", 0.1,
                       "Jensen-Shannon distance at or above which a column has drifted", minimum=0.0, maximum=1.0)
WASSERSTEIN_THRESHOLD = declare("drift.wasserstein_threshold", 0.1,
                                "normalised Wasserstein distance (W1 / reference std) at or above which a "
                                "column has drifted", minimum=0.0)
METHOD_OVERRIDES = declare("drift.method_overrides", "",
                           "per-column method, e.g. 'AGE=psi, channel=chisquare' (empty: automatic)")


@dataclass(frozen=True, kw_only=True)
class ColumnComparison:
    """One column of the reference and of the window side by side, as DuckDB counted them: every method's input.

    ``ref_counts``/``cur_counts`` are counts on the reference's coarse bins (numerical) or on the
    union of categories (categorical, labelled by ``labels``); ``ks_d``/``w1`` are the distances
    from the fine histograms and ``ks_tolerance``/``w1_tolerance`` their bounds (numerical only);
    ``n_*`` count non-missing values.
    """

    kind: str
    n_reference: int
    n_current: int
    ref_counts: np.ndarray
    cur_counts: np.ndarray
    labels: tuple[str, ...] = ()
    ks_d: float = math.nan
    w1: float = math.nan
    ref_std: float = math.nan
    ks_tolerance: float = 0.0
    w1_tolerance: float = 0.0


@dataclass(frozen=True)
class Method:
    """A drift method: its key, the kinds it accepts, how it computes, and its threshold setting.

    ``compute(comparison) -> (statistic, p_value)``; a method without a p-value returns NaN for it.
    ``p_value`` methods drift when the p-value falls below the threshold, the others when the
    statistic reaches it. ``tolerance(comparison)`` bounds the distance of the statistic to its exact
    value (zero when exact).
    """

    key: str
    label: str
    kinds: frozenset[str]
    threshold: object  # an analytics.settings.Setting
    uses_p_value: bool
    compute: Callable[[ColumnComparison], tuple[float, float]]
    tolerance: Callable[[ColumnComparison], float] = lambda comparison: 0.0

    def drifted(self, statistic: float, p_value: float, threshold: float) -> bool | None:
        """The verdict, or None when the statistic is undefined (no rows to compare)."""
        value = p_value if self.uses_p_value else statistic
        if value is None or not math.isfinite(value):
            return None
        return bool(value < threshold) if self.uses_p_value else bool(value >= threshold)


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (by its key) and return it."""
    _REGISTRY[method.key] = method
    return method


def get_method(key: str) -> Method:
    """The registered method called ``key``."""
    try:
        return _REGISTRY[key]
    except KeyError:
        raise InvalidInputError(f"drift method {key!r} is unknown; use auto or one of {', '.join(METHOD_KEYS)}") \
            from None


def auto_method(kind: str, n_reference: int) -> str:
    """Evidently's automatic choice by column kind and reference size (see the module docstring)."""
    small = n_reference <= AUTO_REFERENCE_ROWS
    if kind == NUMERICAL:
        return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def parse_overrides(text: str) -> dict[str, str]:
    """Parse ``'AGE=psi, channel=chisquare'`` into a column -> method mapping (methods checked)."""
    result: dict[str, str] = {}
    for part in (text or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        column, sep, key = part.partition("=")
        if not sep or not column.strip():
            raise InvalidInputError(f"method override {part.strip()!r} is not of the form column=method")
        get_method(key.strip())
        result[column.strip()] = key.strip()
    return result


# --------------------------------------------------------------------------------------------------
# The statistics


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of a KS statistic ``d`` for samples of ``n1`` and ``n2``, as ``ks_2samp`` computes it.

    ``method="auto"``: the exact distribution (:func:`analytics.drift._ks_exact.ks_exact_p_value`)
    when both samples have at most 10,000 rows, else Smirnov's asymptotic formula
    (``scipy.stats.kstwo.sf(d, round(n1 n2 / (n1 + n2)))``).
    """
    if n1 == 0 or n2 == 0 or not math.isfinite(d):
        return math.nan
    if max(n1, n2) <= 10_000:
        return ks_exact_p_value(float(d), n1, n2)
    from scipy import stats

    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.full(len(counts), np.nan)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """PSI = sum((c - r) * ln(c / r)) over bins, proportions floored at ``epsilon``."""
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return math.nan
    r = np.maximum(_shares(np.asarray(ref_counts, float)), epsilon)
    c = np.maximum(_shares(np.asarray(cur_counts, float)), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def jensenshannon_distance(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) of two count vectors, as
    :func:`scipy.spatial.distance.jensenshannon` computes it on their shares."""
    p, q = _shares(np.asarray(p_counts, float)), _shares(np.asarray(q_counts, float))
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        divergence = np.where(p > 0, p * np.log(p / m), 0.0).sum() + np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(np.sqrt(max(divergence, 0.0) / 2))


def _ks(s: ColumnComparison) -> tuple[float, float]:
    return s.ks_d, ks_p_value(s.ks_d, s.n_reference, s.n_current)


def _wasserstein(s: ColumnComparison) -> tuple[float, float]:
    if not s.n_reference or not s.n_current:
        return math.nan, math.nan
    return s.w1 / max(s.ref_std, WASSERSTEIN_STD_FLOOR), math.nan


def _wasserstein_tolerance(s: ColumnComparison) -> float:
    return s.w1_tolerance / max(s.ref_std, WASSERSTEIN_STD_FLOOR)


def _psi(s: ColumnComparison) -> tuple[float, float]:
    return psi(s.ref_counts, s.cur_counts), math.nan


def _chisquare(s: ColumnComparison) -> tuple[float, float]:
    if not s.n_reference or not s.n_current:
        return math.nan, math.nan
    table = np.vstack([s.ref_counts, s.cur_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    from scipy import stats

    result = stats.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def _jensenshannon(s: ColumnComparison) -> tuple[float, float]:
    if not s.n_reference or not s.n_current:
        return math.nan, math.nan
    return jensenshannon_distance(s.ref_counts, s.cur_counts), math.nan


BOTH = frozenset({NUMERICAL, CATEGORICAL})
register(Method("ks", "Kolmogorov-Smirnov", frozenset({NUMERICAL}), KS_P, True, _ks, lambda s: s.ks_tolerance))
register(Method("wasserstein", "normalised Wasserstein", frozenset({NUMERICAL}), WASSERSTEIN_THRESHOLD, False,
                _wasserstein, _wasserstein_tolerance))
register(Method("psi", "PSI", BOTH, PSI_THRESHOLD, False, _psi))
register(Method("chisquare", "chi-square", BOTH, CHI2_P, True, _chisquare))
register(Method("jensenshannon", "Jensen-Shannon", BOTH, JS_THRESHOLD, False, _jensenshannon))
METHOD_KEYS: tuple[str, ...] = tuple(_REGISTRY)
