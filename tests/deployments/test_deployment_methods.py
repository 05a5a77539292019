"""The deployment comparison's statistics, each pinned to its reference implementation on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest

from analytics.deployments import _methods as m


def _counts(x):
    values, counts = np.unique(np.asarray(x, float), return_counts=True)
    return values, counts


@pytest.mark.parametrize("x1,n1,x2,n2", [(120, 1000, 150, 1000), (3, 40, 9, 55), (500, 5000, 480, 4000)])
def test_two_proportions_match_statsmodels(x1, n1, x2, n2):
    r = m.two_proportions(x1, n1, x2, n2)
    z, p = proportions_ztest([x2, x1], [n2, n1])
    low, high = confint_proportions_2indep(x2, n2, x1, n1, method="wald", compare="diff")
    assert r.statistic == pytest.approx(z, rel=1e-12) and r.p_value == pytest.approx(p, rel=1e-10)
    assert (r.ci_low, r.ci_high) == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
    assert r.difference == pytest.approx(x2 / n2 - x1 / n1)


def test_two_proportions_edges():
    assert math.isnan(m.two_proportions(0, 0, 3, 10).p_value)
    same = m.two_proportions(0, 10, 0, 20)
    assert same.difference == 0 and same.p_value == 1.0


@pytest.mark.parametrize("seed", [1, 2])
def test_welch_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(10, 3, 300), rng.normal(10.6, 5, 120)
    r = m.welch(m.Moments(a.size, a.sum(), (a * a).sum()), m.Moments(b.size, b.sum(), (b * b).sum()))
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval()
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-9) and r.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert (r.ci_low, r.ci_high) == (pytest.approx(ci.low, rel=1e-9), pytest.approx(ci.high, rel=1e-9))


def test_welch_tiny_and_constant_arms():
    one = m.Moments(1, 5.0, 25.0)
    assert math.isnan(m.welch(one, m.Moments(3, 3.0, 3.0)).p_value)
    flat = m.welch(m.Moments(3, 3.0, 3.0), m.Moments(4, 4.0, 4.0))
    assert flat.p_value == 1.0 and flat.difference == 0


@pytest.mark.parametrize("ties", [False, True])
def test_mann_whitney_and_hodges_lehmann(ties):
    rng = np.random.default_rng(5)
    x = rng.lognormal(3.3, 0.35, 400)
    y = rng.lognormal(3.5, 0.35, 250)
    if ties:
        x, y = np.round(x), np.round(y)
    r = m.mann_whitney(*_counts(x), *_counts(y))
    ref = stats.mannwhitneyu(y, x, method="asymptotic", use_continuity=True)
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    diffs = np.sort(np.subtract.outer(y, x).ravel())
    assert r.difference == pytest.approx(np.median(diffs), abs=1e-6)
    k = int(math.floor(x.size * y.size / 2 - 1.959963984540054 * math.sqrt(x.size * y.size * (x.size + y.size + 1) / 12)))
    if not ties:  # Lehmann's interval: the k-th smallest and largest pairwise differences
        assert r.ci_low == pytest.approx(diffs[k], abs=1e-6) and r.ci_high == pytest.approx(diffs[-k - 1], abs=1e-6)
    assert r.ci_low <= r.difference <= r.ci_high
    assert r.baseline == pytest.approx(np.quantile(x, 0.5, method="inverted_cdf"))


def test_mann_whitney_identical_and_empty():
    same = m.mann_whitney(np.array([5.0]), np.array([10]), np.array([5.0]), np.array([7]))
    assert same.p_value == 1.0 and same.difference == 0
    assert math.isnan(m.mann_whitney(np.array([]), np.array([]), np.array([1.0]), np.array([1])).p_value)


@pytest.mark.parametrize("b,c,both,neither", [(3, 9, 50, 40), (40, 70, 800, 300), (0, 0, 10, 5)])
def test_mcnemar_matches_statsmodels(b, c, both, neither):
    r = m.mcnemar(b, c, both, neither)
    table = [[both, b], [c, neither]]
    ref = sm_mcnemar(table, exact=b + c < m.MCNEMAR_EXACT_BELOW, correction=True)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    if b + c >= m.MCNEMAR_EXACT_BELOW:
        assert r.statistic == pytest.approx(ref.statistic)


def _delong_reference(label, a, b):
    """DeLong by its definition: the structural components from all positive-negative pairs."""
    pos, neg = label == 1, label == 0

    def psi(s):
        d = s[pos][:, None] - s[neg][None, :]
        return (d > 0) + 0.5 * (d == 0)

    comps = [psi(s) for s in (a, b)]
    v10 = np.vstack([c.mean(axis=1) for c in comps])
    v01 = np.vstack([c.mean(axis=0) for c in comps])
    cov = np.cov(v10) / pos.sum() + np.cov(v01) / neg.sum()
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = comps[1].mean() - comps[0].mean()
    return diff, 2 * stats.norm.sf(abs(diff) / math.sqrt(var))


def test_delong_against_its_definition_and_sklearn():
    rng = np.random.default_rng(11)
    label = rng.integers(0, 2, 400)
    a = np.round(np.clip(0.5 + 0.3 * (label - 0.5) + rng.normal(0, 0.25, 400), 0, 1), 2)  # ties
    b = np.clip(a + rng.normal(0, 0.1, 400) + 0.05 * label, 0, 1)
    r = m.delong(label, a, b)
    diff, p = _delong_reference(label, a, b)
    assert r.baseline == pytest.approx(roc_auc_score(label, a)) and r.candidate == pytest.approx(roc_auc_score(label, b))
    assert r.difference == pytest.approx(diff) and r.p_value == pytest.approx(p, rel=1e-9)


def test_delong_edges():
    assert math.isnan(m.delong(np.ones(5), np.linspace(0, 1, 5), np.linspace(0, 1, 5)).p_value)
    same = m.delong(np.array([0, 1, 0, 1]), np.array([.1, .9, .3, .6]), np.array([.1, .9, .3, .6]))
    assert same.difference == 0 and same.p_value == 1.0


def _gbstats_sequential(diff, variance, n, alpha=0.05, tuning=5000):
    """GrowthBook gbstats SequentialTwoSidedTTest (0.8.0), transcribed: confidence_interval, rho, p_value."""
    rho = np.sqrt((-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / tuning)
    s2 = variance * n
    width = np.sqrt(s2) * np.sqrt((2 * (n * rho ** 2 + 1)) * np.log(np.sqrt(n * rho ** 2 + 1) / alpha) / (n * rho) ** 2)
    st2 = diff ** 2 * n / variance
    tr2p1 = n * rho ** 2 + 1
    evalue = np.exp(rho ** 2 * st2 / (2 * tr2p1)) / np.sqrt(tr2p1)
    return diff - width, diff + width, min(1 / evalue, 1)


@pytest.mark.parametrize("diff,variance,n", [(0.01, 1e-5, 20_000), (-0.3, 0.02, 800), (0.0, 0.5, 10)])
def test_sequential_matches_gbstats(diff, variance, n):
    r = m.sequential(diff, variance, n)
    low, high, p = _gbstats_sequential(diff, variance, n)
    assert (r.ci_low, r.ci_high, r.p_value) == (pytest.approx(low), pytest.approx(high), pytest.approx(p))
    fixed = 1.959963984540054 * math.sqrt(variance)
    assert r.ci_high - r.difference > fixed  # wider than the fixed-horizon interval: the price of peeking
    assert (r.p_value < 0.05) == (r.ci_low > 0 or r.ci_high < 0)


def test_sequential_stays_valid_under_peeking():
    """A/A: looking after every 200 rows up to 20,000, the sequence wrongly excludes 0 in < 5% of runs."""
    rng = np.random.default_rng(3)
    runs, wrong = 200, 0
    for _ in range(runs):
        a, b = rng.normal(0, 1, (2, 10_000))
        ca, cb = np.cumsum(a), np.cumsum(b)
        qa, qb = np.cumsum(a * a), np.cumsum(b * b)
        for k in range(200, 10_001, 200):
            va = (qa[k - 1] - ca[k - 1] ** 2 / k) / (k - 1)
            vb = (qb[k - 1] - cb[k - 1] ** 2 / k) / (k - 1)
            if m.sequential(cb[k - 1] / k - ca[k - 1] / k, va / k + vb / k, 2 * k).p_value < 0.05:
                wrong += 1
                break
    assert wrong / runs < 0.05


def test_srm_matches_scipy_and_flags_a_skewed_split():
    r = m.srm((9_050, 950), (0.9, 0.1))
    ref = stats.chisquare([9_050, 950], [9_000, 1_000])
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert not r.mismatch
    assert m.srm((9_400, 600), (0.9, 0.1)).mismatch


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.2, 0.001]
    assert m.holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())
    out = m.holm([0.02, float("nan"), 0.04])
    assert math.isnan(out[1]) and out[0] == pytest.approx(0.04) and out[2] == pytest.approx(0.04)


@pytest.mark.parametrize("p1,p2,ratio", [(0.2, 0.22, 1.0), (0.05, 0.04, 9.0)])
def test_rows_needed_matches_statsmodels(p1, p2, ratio):
    es = m.rate_effect_size(p1, p2)
    assert es == pytest.approx(proportion_effectsize(p1, p2))
    ref = NormalIndPower().solve_power(effect_size=es, alpha=0.05, power=0.8, ratio=ratio)
    assert m.rows_needed(es, ratio=ratio) == pytest.approx(ref, rel=1e-6)
    assert m.rows_needed(0.0) == math.inf


def test_bootstrap_on_counts_matches_scipy_on_rows():
    rng = np.random.default_rng(2)
    rows = rng.choice([-3.0, 0.0, 0.0, 0.0, 2.0, 5.0], 3000)
    values, counts = _counts(rows)
    low, high = m.bootstrap_counts(values, counts, lambda v, c: (c * v).sum(axis=-1) / c.sum(axis=-1),
                                   replicates=4000)
    ref = stats.bootstrap((rows,), np.mean, method="percentile", n_resamples=4000, random_state=1).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.03) and high == pytest.approx(ref.high, abs=0.03)
