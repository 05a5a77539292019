"""The exact null distribution of the two-sample Kolmogorov-Smirnov statistic (two-sided).

Under the null hypothesis every interleaving of the two sorted samples is equally likely: it is a
uniformly drawn lattice path from (0, 0) to (m, n), one step right per reference row and one step up
per current row. ``D >= h / lcm(m, n)`` exactly when the path touches ``|n' x - m' y| >= h`` with
``n' = n / g``, ``m' = m / g`` (``g = gcd(m, n)``), so the p-value is the probability that the path
leaves that band (Hodges, "The significance probability of the Smirnov two-sample test", 1958).

The walk is followed one anti-diagonal (``x + y = s``) at a time: a path at (x, y) steps right with
probability ``(m - x) / (m + n - s)`` and up with ``(n - y) / (m + n - s)``, which makes every path
equally likely. The probability that leaves the band is summed as it leaves (positive terms only, so
a p-value of 1e-35 keeps its digits, as Viehmann's recursion does in scipy); each step is one
vector operation over the cells inside the band. ``tests/drift/test_methods.py`` pins it to
:func:`scipy.stats.ks_2samp` (``method="exact"``), ties included.
"""

from __future__ import annotations

import math

import numpy as np


def ks_exact_p_value(d: float, m: int, n: int) -> float:
    """Two-sided exact p-value ``P(D >= d)`` of the KS statistic ``d`` for samples of ``m`` and ``n`` rows.

    ``d`` is rounded to the nearest attainable value ``h / lcm(m, n)``, as :func:`scipy.stats.ks_2samp`
    does. Cost: ``m + n`` vector steps over at most ``min(m, n) + 1`` cells (0.2 s for 1,000 against
    10,000 rows here).
    """
    g = math.gcd(m, n)
    m_g, n_g = m // g, n // g
    h = round(d * m_g * n)
    if h <= 0:
        return 1.0
    xs = np.arange(m + 1, dtype=float)
    first, mass, escaped = 0, np.ones(1), 0.0  # mass[i]: probability at x = first + i on diagonal s - 1
    for s in range(1, m + n + 1):
        k = len(mass)
        x = xs[first:first + k]
        moved = np.zeros(k + 1)
        moved[:k] = mass * (n - (s - 1 - x))  # a step up keeps x
        moved[1:] += mass * (m - x)  # a step right
        moved /= m + n - s + 1
        # The cells of diagonal s inside the band |n_g x - m_g (s - x)| < h, and inside the grid.
        lo = max((m_g * s - h) // (m_g + n_g) + 1, s - n, 0)
        hi = min(-(-(m_g * s + h) // (m_g + n_g)) - 1, s, m)
        a, b = lo - first, hi - first + 1
        if b <= a:
            return min(escaped + float(moved.sum()), 1.0)
        escaped += float(moved[:a].sum()) + float(moved[b:].sum())
        first, mass = lo, moved[a:b]
    return min(escaped, 1.0)
