"""Statistical methods of a deployment comparison, on summaries DuckDB computed (counts, sums, value counts).

Every function takes aggregates, never the log, and returns a :class:`TestResult` (or a small frozen
result). The tests pin each one to its reference implementation on the same data.

=====================  =====================================================  ========================================
function               method                                                 reference
=====================  =====================================================  ========================================
:func:`two_proportions` difference of two rates, z-test with pooled variance,  ``statsmodels.stats.proportion``
                        Wald interval of the difference                        ``proportions_ztest`` and
                                                                               ``confint_proportions_2indep`` (wald)
:func:`welch`          difference of two means, Welch's t-test from sums      :func:`scipy.stats.ttest_ind` (``equal_var=False``)
                        and sums of squares, Welch-Satterthwaite interval
:func:`mann_whitney`   Mann-Whitney U on value counts (ties as midranks,      :func:`scipy.stats.mannwhitneyu`
                        tie-corrected normal approximation with continuity),  (``method="asymptotic"``); the shift
                        Hodges-Lehmann shift with its Lehmann interval         against the pairwise differences
:func:`mcnemar`        paired decisions: exact binomial when the discordant   ``statsmodels.stats.contingency_tables``
                        pairs are fewer than 25, else chi-square with          ``mcnemar``
                        continuity correction
:func:`delong`         difference of two ROC AUCs on the same rows            an independent implementation (Sun and Xu
                        (DeLong, DeLong and Clarke-Pearson 1988; Sun and      2014) and :func:`sklearn.metrics.roc_auc_score`
                        Xu 2014 fast algorithm)
:func:`sequential`     always-valid confidence sequence and p-value of a      GrowthBook gbstats
                        difference (Waudby-Smith et al. 2023, eq. 9, 155,     ``SequentialTwoSidedTTest``, transcribed
                        161: a normal mixture with tuning N = 5,000)
:func:`srm`            sample-ratio mismatch: chi-square goodness of fit      :func:`scipy.stats.chisquare`
                        of the arms' rows against the planned shares
:func:`holm`           Holm's step-down adjustment of a family of p-values    ``statsmodels.stats.multitest.multipletests``
:func:`rows_needed`    rows per arm to detect an effect (two-sided normal     ``statsmodels.stats.power.NormalIndPower``
                        test, power 0.8)
=====================  =====================================================  ========================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

#: The default tuning of the confidence sequence (GrowthBook's ``sequential_tuning_parameter``): the
#: number of rows at which the sequence is tightest.
SEQUENTIAL_TUNING = 5_000
#: Below this many discordant pairs McNemar's test is exact (binomial), as statsmodels suggests.
MCNEMAR_EXACT_BELOW = 25


@dataclass(frozen=True)
class TestResult:
    """One comparison of a measure between a baseline and a candidate (candidate minus baseline).

    Attributes
    ----------
    method : str
        The test's name, as shown to a reader.
    baseline, candidate : float
        The measure in each arm.
    difference : float
        Candidate minus baseline (a shift for Hodges-Lehmann; an AUC or F1 difference when paired).
    ci_low, ci_high : float
        The interval of the difference (NaN when the test has none).
    p_value : float
        Two-sided p-value of "no difference" (NaN when it cannot be computed).
    statistic : float
        The test statistic (z, t, U, chi-square ...).
    n_baseline, n_candidate : int
        Rows behind each arm (pairs for a paired test: both equal).
    note : str
        Why a number is missing, or how it was computed, in words.
    """

    method: str
    baseline: float
    candidate: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    statistic: float
    n_baseline: int
    n_candidate: int
    note: str = ""


_NAN = float("nan")


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _missing(method: str, n1: int, n2: int, note: str, baseline: float = _NAN, candidate: float = _NAN) -> TestResult:
    return TestResult(method, baseline, candidate, candidate - baseline, _NAN, _NAN, _NAN, _NAN, int(n1), int(n2), note)


def two_proportions(x1: int, n1: int, x2: int, n2: int, *, alpha: float = 0.05) -> TestResult:
    """Compare two rates ``x1 / n1`` (baseline) and ``x2 / n2`` (candidate) from different rows.

    The z statistic uses the pooled proportion; the interval of the difference is Wald's.
    """
    method = "two-proportion z-test"
    if n1 <= 0 or n2 <= 0:
        return _missing(method, n1, n2, "an arm has no rows")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    diff = p2 - p1
    if se_pooled == 0:
        return TestResult(method, p1, p2, diff, diff, diff, 1.0 if diff == 0 else _NAN, _NAN, n1, n2,
                          "every row has the same outcome in both arms")
    z = diff / se_pooled
    half = _z(alpha) * se
    return TestResult(method, p1, p2, diff, diff - half, diff + half, float(2 * stats.norm.sf(abs(z))), z, n1, n2)


@dataclass(frozen=True)
class Moments:
    """Count, sum and sum of squares of a measure in one arm (what DuckDB hands over)."""

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float:
        """The arm's mean."""
        return self.total / self.n if self.n else _NAN

    @property
    def variance(self) -> float:
        """The sample variance (``ddof=1``)."""
        if self.n < 2:
            return _NAN
        return max(self.total_sq - self.total * self.total / self.n, 0.0) / (self.n - 1)


def welch(a: Moments, b: Moments, *, alpha: float = 0.05) -> TestResult:
    """Compare the means of two arms with Welch's t-test (unequal variances)."""
    method = "Welch's t-test"
    if a.n < 2 or b.n < 2:
        return _missing(method, a.n, b.n, "an arm has fewer than 2 rows", a.mean, b.mean)
    va, vb = a.variance / a.n, b.variance / b.n
    diff = b.mean - a.mean
    se2 = va + vb
    if se2 == 0:
        return TestResult(method, a.mean, b.mean, diff, diff, diff, 1.0 if diff == 0 else 0.0, _NAN, a.n, b.n,
                          "the measure does not vary within an arm: the difference is certain")
    dof = se2 ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1))
    t = diff / math.sqrt(se2)
    half = float(stats.t.ppf(1 - alpha / 2, dof)) * math.sqrt(se2)
    return TestResult(method, a.mean, b.mean, diff, diff - half, diff + half, float(2 * stats.t.sf(abs(t), dof)), t,
                      a.n, b.n, f"Welch-Satterthwaite degrees of freedom {dof:,.1f}")


def _less_and_ties(x_values: np.ndarray, x_counts: np.ndarray, y_values: np.ndarray, y_counts: np.ndarray
                   ) -> float:
    """Sum over y of (rows of x below y + half the rows of x equal to y), weighted by y's counts."""
    cum = np.concatenate([[0], np.cumsum(x_counts)])
    below = cum[np.searchsorted(x_values, y_values, side="left")]
    at_most = cum[np.searchsorted(x_values, y_values, side="right")]
    return float(np.sum(y_counts * (below + 0.5 * (at_most - below))))


def _weighted_quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    cum = np.cumsum(counts)
    return float(values[np.searchsorted(cum, q * cum[-1], side="left")])


def mann_whitney(x_values: np.ndarray, x_counts: np.ndarray, y_values: np.ndarray, y_counts: np.ndarray, *,
                 alpha: float = 0.05) -> TestResult:
    """Mann-Whitney U of a baseline ``x`` and a candidate ``y`` given as sorted distinct values and counts.

    ``U`` counts the pairs where the candidate is larger (ties count a half), as scipy's statistic of
    its first sample ``y``; the p-value is the tie-corrected normal approximation with continuity
    correction. The Hodges-Lehmann shift is the median of the pairwise differences ``y - x``, found
    as the shift ``d`` at which ``U(y - d, x)`` crosses ``n1 n2 / 2``; its interval inverts the
    test (Lehmann), at the normal quantiles of ``U``. ``baseline``/``candidate`` are the medians.
    """
    method = "Mann-Whitney U, Hodges-Lehmann shift"
    x_values, x_counts = np.asarray(x_values, float), np.asarray(x_counts, float)
    y_values, y_counts = np.asarray(y_values, float), np.asarray(y_counts, float)
    n1, n2 = int(x_counts.sum()), int(y_counts.sum())
    if n1 == 0 or n2 == 0:
        return _missing(method, n1, n2, "an arm has no rows")
    med_x, med_y = _weighted_quantile(x_values, x_counts, 0.5), _weighted_quantile(y_values, y_counts, 0.5)
    u = _less_and_ties(x_values, x_counts, y_values, y_counts)
    values, inverse = np.unique(np.concatenate([x_values, y_values]), return_inverse=True)
    tie_counts = np.bincount(inverse, weights=np.concatenate([x_counts, y_counts]))
    n = n1 + n2
    tie_term = float(np.sum(tie_counts ** 3 - tie_counts))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))) if n > 1 else 0.0
    mu = n1 * n2 / 2
    if sigma == 0:
        return TestResult(method, med_x, med_y, 0.0, 0.0, 0.0, 1.0, u, n1, n2, "every value is the same")
    z = (abs(u - mu) - 0.5) / sigma
    p = float(min(1.0, 2 * stats.norm.sf(max(z, 0.0))))

    def u_at(shift: float) -> float:
        return _less_and_ties(x_values, x_counts, y_values - shift, y_counts)

    span = float(max(y_values.max(), x_values.max()) - min(y_values.min(), x_values.min())) or 1.0
    lo, hi = -span - 1.0, span + 1.0
    # Without ties the untied sigma is the Lehmann interval's; k is the rank of the pairwise difference.
    k = mu - _z(alpha) * math.sqrt(n1 * n2 * (n + 1) / 12)

    def crossing(target: float, *, upper: bool) -> float:
        # U(shift) falls as the shift grows; the smallest shift with U <= target (or < for the upper end).
        a, b = lo, hi
        for _ in range(200):
            mid = (a + b) / 2
            value = u_at(mid)
            if value < target or (not upper and value <= target):
                b = mid
            else:
                a = mid
            if b - a <= 1e-9 * max(1.0, abs(a)):
                break
        return (a + b) / 2

    shift = (crossing(mu, upper=False) + crossing(mu, upper=True)) / 2
    ci_high = crossing(k, upper=False)
    ci_low = crossing(n1 * n2 - k, upper=True)
    return TestResult(method, med_x, med_y, shift, ci_low, ci_high, p, u, n1, n2,
                      "baseline and candidate are medians; the difference is the Hodges-Lehmann shift")


def mcnemar(baseline_only: int, candidate_only: int, both: int, neither: int) -> TestResult:
    """McNemar's test of paired binary outcomes (for example: the decision is correct).

    ``baseline_only`` pairs where only the baseline has the outcome, ``candidate_only`` where only the
    candidate has it. Exact (binomial, two-sided) below :data:`MCNEMAR_EXACT_BELOW` discordant pairs,
    else chi-square with continuity correction. ``baseline``/``candidate`` are the two rates.
    """
    b, c = int(baseline_only), int(candidate_only)
    n = b + c + int(both) + int(neither)
    rate_a, rate_b = ((both + b) / n, (both + c) / n) if n else (_NAN, _NAN)
    diff = rate_b - rate_a
    if b + c == 0:
        return TestResult("McNemar's test", rate_a, rate_b, diff, _NAN, _NAN, 1.0 if n else _NAN, 0.0, n, n,
                          "no discordant pairs" if n else "no pairs")
    if b + c < MCNEMAR_EXACT_BELOW:
        statistic = float(min(b, c))
        p = float(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))
        method = "McNemar's test (exact binomial)"
    else:
        statistic = (abs(b - c) - 1) ** 2 / (b + c)
        p = float(stats.chi2.sf(statistic, 1))
        method = "McNemar's test (chi-square, continuity corrected)"
    return TestResult(method, rate_a, rate_b, diff, _NAN, _NAN, p, statistic, n, n, f"{b + c:,} discordant pairs")


def _midrank(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, method="average")


def delong(label: np.ndarray, score_a: np.ndarray, score_b: np.ndarray, *, alpha: float = 0.05) -> TestResult:
    """DeLong's test of two correlated ROC AUCs (the same labelled rows scored by both versions).

    The fast algorithm of Sun and Xu (2014): placement values from midranks, their covariance across
    the two versions, a normal z of the AUC difference and its interval.
    """
    method = "DeLong's test"
    label = np.asarray(label).astype(bool)
    m, n = int(label.sum()), int((~label).sum())
    if m == 0 or n == 0:
        return _missing(method, m + n, m + n, "the labelled rows have only one class")
    aucs, v10, v01 = [], [], []
    for score in (np.asarray(score_a, float), np.asarray(score_b, float)):
        pos, neg = score[label], score[~label]
        rank_all = _midrank(np.concatenate([pos, neg]))
        rank_pos, rank_neg = _midrank(pos), _midrank(neg)
        aucs.append((rank_all[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((rank_all[:m] - rank_pos) / n)
        v01.append(1 - (rank_all[m:] - rank_neg) / m)
    s10 = np.cov(np.vstack(v10)) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack(v01)) if n > 1 else np.zeros((2, 2))
    cov = s10 / m + s01 / n
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    diff = float(aucs[1] - aucs[0])
    if var <= 0:
        return TestResult(method, float(aucs[0]), float(aucs[1]), diff, diff, diff, 1.0 if diff == 0 else _NAN,
                          _NAN, m + n, m + n, "the two versions rank the rows alike")
    z = diff / math.sqrt(var)
    half = _z(alpha) * math.sqrt(var)
    return TestResult(method, float(aucs[0]), float(aucs[1]), diff, diff - half, diff + half,
                      float(2 * stats.norm.sf(abs(z))), z, m + n, m + n, f"{m:,} positive and {n:,} negative rows")


@dataclass(frozen=True)
class Interval:
    """A difference with its interval (and the p-value where one is defined)."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float = _NAN


def sequential(difference: float, variance: float, n_total: int, *, alpha: float = 0.05,
               tuning: float = SEQUENTIAL_TUNING) -> Interval:
    """Always-valid confidence sequence and p-value of a difference, safe to look at on every refresh.

    Parameters
    ----------
    difference : float
        The point estimate (candidate minus baseline).
    variance : float
        The variance of the estimate (for a difference of means ``var_a / n_a + var_b / n_b``).
    n_total : int
        Rows of both arms together.
    alpha : float, default 0.05
        The error rate over all looks.
    tuning : float, default :data:`SEQUENTIAL_TUNING`
        The rows at which the sequence is tightest.

    Notes
    -----
    The asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas (2023),
    "Time-uniform central limit theory", eq. 9, with the mixing parameter of eq. 161; the p-value is
    the inverse of the mixture e-value (eq. 155). GrowthBook's gbstats ``SequentialTwoSidedTTest``
    computes the same.
    """
    if not n_total or not math.isfinite(variance) or variance <= 0:
        return Interval(difference, _NAN, _NAN, _NAN)
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    s2 = variance * n_total
    tr2p1 = n_total * rho2 + 1
    half = math.sqrt(s2) * math.sqrt(2 * tr2p1 * math.log(math.sqrt(tr2p1) / alpha) / (n_total ** 2 * rho2))
    st2 = difference ** 2 * n_total / variance
    log_e = rho2 * st2 / (2 * tr2p1) - 0.5 * math.log(tr2p1)
    return Interval(difference, difference - half, difference + half, float(min(1.0, math.exp(-log_e))))


@dataclass(frozen=True)
class RatioCheck:
    """Sample-ratio mismatch: the arms' rows against the planned shares."""

    observed: tuple[int, ...]
    expected_share: tuple[float, ...]
    statistic: float
    p_value: float
    mismatch: bool


#: p-value below which the split of rows is a sample-ratio mismatch (GrowthBook's and Optimizely's default).
SRM_P = 0.001


def srm(observed: tuple[int, ...], expected_share: tuple[float, ...], *, threshold: float = SRM_P) -> RatioCheck:
    """Chi-square goodness of fit of the rows per arm to the planned traffic shares."""
    obs = np.asarray(observed, float)
    share = np.asarray(expected_share, float)
    total = obs.sum()
    if total == 0 or len(obs) < 2 or np.any(share <= 0):
        return RatioCheck(tuple(int(o) for o in obs), tuple(float(s) for s in share), _NAN, _NAN, False)
    expected = share / share.sum() * total
    statistic = float(np.sum((obs - expected) ** 2 / expected))
    p = float(stats.chi2.sf(statistic, len(obs) - 1))
    return RatioCheck(tuple(int(o) for o in obs), tuple(float(s) for s in share), statistic, p, p < threshold)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count in the family)."""
    p = np.asarray(p_values, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not ok.size:
        return out.tolist()
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out.tolist()


def _power(effect_size: float, n1: float, ratio: float, alpha: float) -> float:
    crit = _z(alpha)
    shift = abs(effect_size) * math.sqrt(n1 / (1 + 1 / ratio))
    return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


def rows_needed(effect_size: float, *, ratio: float = 1.0, alpha: float = 0.05, power: float = 0.8) -> float:
    """Rows of the baseline arm needed to detect a standardised effect (the candidate gets ``ratio`` times as many).

    ``effect_size`` is the difference divided by the standard deviation of one row (for a rate, use
    :func:`rate_effect_size`). Two-sided normal test, as statsmodels' ``NormalIndPower.solve_power``.
    """
    if effect_size == 0 or not math.isfinite(effect_size):
        return math.inf
    return float(optimize.brentq(lambda n: _power(effect_size, n, ratio, alpha) - power, 1e-6, 1e15))


def rate_effect_size(p1: float, p2: float) -> float:
    """Cohen's h, the standardised difference of two rates (statsmodels' ``proportion_effectsize``)."""
    return float(2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p2)))


def bootstrap_counts(values: np.ndarray, counts: np.ndarray, statistic, *, replicates: int = 2000,
                     alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over rows given as distinct values with counts.

    Resampling rows with replacement is drawing multinomial counts over the distinct values, so the
    bootstrap runs on DuckDB's aggregate instead of the rows. ``statistic`` maps a counts vector
    (one entry per value, shape ``(k,)`` or ``(replicates, k)`` along the last axis) to a number.
    """
    counts = np.asarray(counts, float)
    n = int(counts.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts / n, size=replicates)
    reps = np.asarray(statistic(values, draws), float)
    reps = reps[np.isfinite(reps)]
    if not reps.size:
        return _NAN, _NAN
    return float(np.quantile(reps, alpha / 2)), float(np.quantile(reps, 1 - alpha / 2))
