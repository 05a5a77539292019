"""The exact literal edges of the fine bins put every value where DuckDB's libm formula puts it (what lets Spark,
whose asinh rounds differently, write the same histograms)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.drift._binning import bin_numpy, exact_edges


@pytest.mark.parametrize("lo, hi", [(0.0, 1e6), (-5e5, 2e6), (18.0, 75.0), (-3.2, -0.1), (1e-300, 1.0),
                                    (-1e300, 1e300)])
def test_binning_on_the_edges_is_the_formulas_binning(lo, hi):
    edges = exact_edges(lo, hi)
    assert len(edges) == 1001 and edges[0] == lo and edges[-1] == np.nextafter(hi, math.inf)
    assert np.all(np.diff(edges) > 0)
    rng = np.random.default_rng(7)
    inner = edges[1:-1]
    values = np.concatenate([rng.uniform(lo, hi, 20_000) if hi - lo < 1e308 else rng.normal(0, 1e299, 20_000),
                             inner, np.nextafter(inner, -math.inf), [lo, hi]])
    values = values[(values >= lo) & (values <= hi)]
    # Each edge is the first double of its bin: the double just below it is in the bin before.
    np.testing.assert_array_equal(bin_numpy(inner, lo, hi), np.arange(1, 1000))
    np.testing.assert_array_equal(bin_numpy(np.nextafter(inner, -math.inf), lo, hi), np.arange(0, 999))
    np.testing.assert_array_equal(np.searchsorted(edges, values, side="right") - 1, bin_numpy(values, lo, hi))
