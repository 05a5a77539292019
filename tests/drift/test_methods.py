"""Every drift statistic pinned to scipy on the same data, the SQL-computed ones included.

The files side (:func:`analytics.drift.compare_files`) runs the same SQL as the store side, so
these tests write Parquet/CSV files and compare the JSON-level results with scipy on the raw values.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from analytics import drift
from analytics.drift import _methods
from analytics.errors import InvalidInputError


def _files(tmp_path, ref: pd.DataFrame, cur: pd.DataFrame, fmt: str = "parquet"):
    paths = []
    for name, frame in (("ref", ref), ("cur", cur)):
        path = tmp_path / f"{name}.{fmt}"
        frame.to_parquet(path, index=False) if fmt == "parquet" else frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def _row(result, column):
    return result.table.set_index("column").loc[column]


@pytest.fixture
def samples():
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({
        "x": np.round(rng.normal(50, 10, 800), 1),               # ties (rounded)
        "y": rng.lognormal(0, 1, 800),
        "cat": rng.choice(["a", "b", "c", "d"], 800, p=[0.4, 0.3, 0.2, 0.1]),
        "k": rng.integers(0, 3, 800),                           # numeric, 3 distinct values -> categorical
    })
    cur = pd.DataFrame({
        "x": np.round(rng.normal(53, 12, 650), 1),
        "y": rng.lognormal(0.1, 1, 650),
        "cat": rng.choice(["a", "b", "c", "e"], 650, p=[0.3, 0.3, 0.3, 0.1]),   # "e" unseen, "d" gone
        "k": rng.integers(0, 4, 650),
    })
    return ref, cur


@pytest.mark.parametrize("n_ref, n_cur", [(800, 650), (12_000, 11_000), (800, 3)])
def test_ks_matches_scipy(tmp_path, n_ref, n_cur):
    """D from the SQL fine histograms and the p-value match ks_2samp (exact and asymptotic modes, a 3-row window)."""
    rng = np.random.default_rng(n_ref + n_cur)
    ref = pd.DataFrame({"x": np.round(rng.normal(0, 1, n_ref), 2)})
    cur = pd.DataFrame({"x": np.round(rng.normal(0.05, 1.1, n_cur), 2)})
    result = drift.compare_files(*_files(tmp_path, ref, cur), config=drift.DriftConfig(method="ks"))
    row = _row(result, "x")
    expected = stats.ks_2samp(ref["x"], cur["x"])
    assert row["statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert row["drifted"] == (expected.pvalue < 0.05)
    assert (row["n_reference"], row["n_current"]) == (n_ref, n_cur)


def test_wasserstein_matches_scipy(tmp_path, samples):
    """Exact when no fine bin holds two distinct values (integers); else within the stated tolerance."""
    ref, cur = samples
    ref, cur = ref.assign(i=np.round(ref["x"] * 3)), cur.assign(i=np.round(cur["x"] * 3))
    result = drift.compare_files(*_files(tmp_path, ref, cur), config=drift.DriftConfig(method="wasserstein"))
    i, x, y = _row(result, "i"), _row(result, "x"), _row(result, "y")
    expected_i = stats.wasserstein_distance(ref["i"], cur["i"]) / np.std(ref["i"])
    assert i["tolerance"] == 0 and i["statistic"] == pytest.approx(expected_i, rel=1e-9)
    expected_x = stats.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"])
    assert x["tolerance"] < 1e-3 and abs(x["statistic"] - expected_x) <= x["tolerance"]
    expected_y = stats.wasserstein_distance(ref["y"], cur["y"]) / np.std(ref["y"])
    assert 0 < y["tolerance"] < 0.05  # continuous: a bound, small against the 0.1 threshold
    assert abs(y["statistic"] - expected_y) <= y["tolerance"]
    assert y["statistic"] == pytest.approx(expected_y, abs=1e-3)  # and far tighter in practice


def test_ks_on_continuous_values_is_within_its_tolerance(tmp_path, samples):
    """Continuous values share fine bins: the exact D lies in [D, D + tolerance]."""
    ref, cur = samples
    row = _row(drift.compare_files(*_files(tmp_path, ref, cur), config=drift.DriftConfig(method="ks")), "y")
    expected = stats.ks_2samp(ref["y"], cur["y"]).statistic
    assert 0 < row["tolerance"] < 0.05 and row["statistic"] <= expected + 1e-12 <= row["statistic"] + row["tolerance"]


def test_fine_bins_in_sql_equal_numpy(tmp_path):
    """The SQL bin of every value equals :func:`bin_numpy` (edges, ``hi`` itself, both tails)."""
    import duckdb

    from analytics.drift import _binning

    rng = np.random.default_rng(5)
    lo, hi = -3.7, 12.9
    values = np.r_[rng.uniform(-10, 20, 20_000), lo, hi, lo + (hi - lo) * np.arange(1001) / 1000]
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest(?::DOUBLE[]) AS v", [values.tolist()])
    got = np.array([r[0] for r in con.execute(f"SELECT {_binning.bin_sql('v', lo, hi)} FROM t").fetchall()])
    np.testing.assert_array_equal(got, _binning.bin_numpy(values, lo, hi))
    assert got.min() == -1 and got.max() == _binning.FINE_BINS and _binning.bin_numpy([hi], lo, hi)[0] == 999
    # the boundaries are where the bins change
    k = np.arange(1, _binning.FINE_BINS)
    b = _binning.boundary_values(lo, hi, k)
    assert np.all(_binning.bin_numpy(b + np.abs(b) * 1e-9 + 1e-12, lo, hi) == k)


def test_fine_histogram_and_reference_profile_match_numpy():
    """Rows counted per distinct value, then binned: every bin's count, sum, min and max equal numpy's on
    the raw values; the profile's size, missing count, range and spread equal numpy's; a column
    with six distinct values is numerical, one with five categorical."""
    import duckdb

    from analytics.drift import _binning

    rng = np.random.default_rng(8)
    x = np.r_[rng.lognormal(3, 2, 5_000), np.round(rng.normal(0, 50, 5_000)), -1e6, np.nan, np.inf, -np.inf]
    frame = pd.DataFrame({"x": x, "six": rng.integers(0, 6, len(x)).astype(float),
                          "five": rng.integers(0, 5, len(x)).astype(float)})
    frame.loc[[3, 7], "x"] = None
    con = duckdb.connect()
    con.register("t", frame)
    side = _binning.Side("t")
    finite = frame["x"][np.isfinite(frame["x"])].to_numpy()
    profiles = _binning.profile_reference(con, side, [("x", True), ("six", True), ("five", True)])
    prof = profiles["x"]
    assert (prof.kind, prof.n, prof.missing) == ("numerical", len(finite), len(x) - len(finite))
    assert (prof.lo, prof.hi) == (finite.min(), finite.max()) and prof.std == pytest.approx(np.std(finite), rel=1e-12)
    assert profiles["six"].kind == "numerical" and profiles["five"].kind == "categorical"
    # on another side's bins (values outside them land in the tails)
    lo, hi = -20.0, 400.0
    hist = _binning.fine_histograms(con, side, "x", lo, hi)[_binning.WHOLE_WINDOW]
    bins = _binning.bin_numpy(finite, lo, hi)
    expected = pd.DataFrame({"b": bins, "v": finite}).groupby("b")["v"].agg(["count", "sum", "min", "max"])
    np.testing.assert_array_equal(hist.bins, expected.index.to_numpy())
    np.testing.assert_array_equal(hist.n, expected["count"].to_numpy())
    np.testing.assert_allclose(hist.total, expected["sum"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(hist.vmin, expected["min"].to_numpy())
    np.testing.assert_array_equal(hist.vmax, expected["max"].to_numpy())
    assert hist.bins[0] == _binning.LOW_TAIL and hist.bins[-1] == _binning.FINE_BINS


def test_bins_of_whole_numbers_are_labelled_by_the_numbers_they_hold(tmp_path):
    """A reference of whole numbers gets labels such as '<= 29', '30 to 34', '>= 35', each counting exactly
    the values in that range; other columns keep their interval labels."""
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"age": rng.integers(18, 80, 5_000), "amount": rng.lognormal(8, 1, 5_000)})
    cur = pd.DataFrame({"age": rng.integers(15, 90, 4_000), "amount": rng.lognormal(8, 1, 4_000)})
    result = drift.compare_files(*_files(tmp_path, ref, cur))
    hist = result.histograms["age"]
    for label, ref_count, cur_count in zip(hist["bin"], hist["reference_count"], hist["current_count"]):
        if label.startswith("<= "):
            lo, hi = -np.inf, int(label[3:].replace(",", ""))
        elif label.startswith(">= "):
            lo, hi = int(label[3:].replace(",", "")), np.inf
        else:
            lo, _, hi = label.replace(",", "").partition(" to ")
            lo, hi = int(lo), int(hi or lo)
        assert ref_count == ref["age"].between(lo, hi).sum() and cur_count == cur["age"].between(lo, hi).sum(), label
    assert result.histograms["amount"]["bin"].iloc[1].startswith("[")


def test_psi_on_reference_deciles_matches_numpy(tmp_path, samples):
    """PSI on the reference's deciles snapped to fine-bin boundaries, proportions floored at 1e-4.

    Boundary k for decile q is the first fine boundary below which at least q of the reference
    lies; computed here from the raw values with numpy.
    """
    from analytics.drift._binning import FINE_BINS, bin_numpy, boundary_values

    ref, cur = samples
    result = drift.compare_files(*_files(tmp_path, ref, cur), config=drift.DriftConfig(method="psi"))
    lo, hi = ref["y"].min(), ref["y"].max()
    fine_ref, fine_cur = bin_numpy(ref["y"], lo, hi), bin_numpy(cur["y"], lo, hi)
    below = np.array([(fine_ref < k).mean() for k in range(1, FINE_BINS + 1)])  # share below boundary k
    ks = sorted({int(np.argmax(below >= q - 1e-12)) + 1 for q in np.linspace(0.1, 0.9, 9)})
    # the snapped deciles are deciles: the share of the reference below each is q (to within a bin)
    edges = boundary_values(lo, hi, ks)
    shares = np.array([(ref["y"] < e).mean() for e in edges])
    assert np.all(np.abs(shares - np.linspace(0.1, 0.9, 9)) <= 0.01)
    r = np.bincount(np.searchsorted(ks, fine_ref, side="right"), minlength=len(ks) + 1) / len(ref)
    c = np.bincount(np.searchsorted(ks, fine_cur, side="right"), minlength=len(ks) + 1) / len(cur)
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
    assert _row(result, "y")["statistic"] == pytest.approx(np.sum((c - r) * np.log(c / r)), rel=1e-9)
    hist = result.histograms["y"]
    assert hist["reference_count"].sum() == len(ref) and hist["current_count"].sum() == len(cur)


def test_categorical_methods_match_scipy(tmp_path, samples):
    """Chi-square (chi2_contingency) and Jensen-Shannon on category counts, with an unseen category."""
    ref, cur = samples
    cats = sorted(set(ref["cat"]) | set(cur["cat"]))
    table = np.array([[int((ref["cat"] == k).sum()) for k in cats], [int((cur["cat"] == k).sum()) for k in cats]])
    chi = drift.compare_files(*_files(tmp_path, ref, cur), config=drift.DriftConfig(method="chisquare"))
    expected = stats.chi2_contingency(table)
    assert _row(chi, "cat")["statistic"] == pytest.approx(expected.statistic, rel=1e-9)
    assert _row(chi, "cat")["p_value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert _row(chi, "cat")["unseen_categories"] == "e" and "1 category not in the reference" in _row(chi, "cat")["note"]
    js = drift.compare_files(*_files(tmp_path, ref, cur), config=drift.DriftConfig(method="jensenshannon"))
    assert _row(js, "cat")["statistic"] == pytest.approx(
        jensenshannon(table[0] / table[0].sum(), table[1] / table[1].sum()), rel=1e-9)
    # a low-cardinality numeric column is treated as categorical
    assert _row(js, "k")["kind"] == "categorical"


def test_auto_method_follows_evidently_rules(tmp_path, samples):
    ref, cur = samples
    small = drift.compare_files(*_files(tmp_path, ref, cur))
    assert dict(zip(small.table["column"], small.table["method"])) == {
        "x": "ks", "y": "ks", "cat": "chisquare", "k": "chisquare"}
    big_ref = pd.concat([ref, ref], ignore_index=True)  # 1,600 reference rows > 1,000
    big = drift.compare_files(*_files(tmp_path, big_ref, cur))
    assert dict(zip(big.table["column"], big.table["method"])) == {
        "x": "wasserstein", "y": "wasserstein", "cat": "jensenshannon", "k": "jensenshannon"}
    assert drift.auto_method("numerical", 1000) == "ks" and drift.auto_method("numerical", 1001) == "wasserstein"
    # overrides per column, and a method that does not fit the kind falls back with a note
    cfg = drift.DriftConfig(method="ks", overrides={"x": "psi"})
    mixed = drift.compare_files(*_files(tmp_path, ref, cur), config=cfg)
    assert _row(mixed, "x")["method"] == "psi" and _row(mixed, "y")["method"] == "ks"
    assert _row(mixed, "cat")["method"] == "chisquare" and "needs a numerical" in _row(mixed, "cat")["note"]
    assert _methods.parse_overrides("AGE=psi; channel = chisquare") == {"AGE": "psi", "channel": "chisquare"}
    with pytest.raises(InvalidInputError):
        _methods.parse_overrides("AGE=magic")


def test_edge_cases_are_reported_not_fatal(tmp_path):
    """All-NaN column, a single category, a 3-row window, missing values, CSV input."""
    ref = pd.DataFrame({"empty": [np.nan] * 6, "one": ["a"] * 6, "v": [1.0, 2, 3, 4, 5, np.nan],
                        "w": np.arange(6.0)})
    cur = pd.DataFrame({"empty": [np.nan] * 3, "one": ["a", "a", None], "v": [2.0, np.nan, 9],
                        "w": [1.0, 2.0, 30.0]})
    result = drift.compare_files(*_files(tmp_path, ref, cur, fmt="csv"))
    empty, one, v = _row(result, "empty"), _row(result, "one"), _row(result, "v")
    assert empty["drifted"] is None and "no reference values" in empty["note"]
    assert empty["missing_reference"] == 6 and empty["missing_current"] == 3
    assert one["statistic"] == 0.0 and one["p_value"] == 1.0 and one["drifted"] is False
    assert (one["n_current"], one["missing_current"]) == (2, 1)
    assert (v["n_reference"], v["missing_reference"], v["n_current"], v["missing_current"]) == (5, 1, 2, 1)
    w = _row(result, "w")
    expected = stats.ks_2samp(ref["w"], cur["w"])
    assert w["method"] == "ks" and w["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    records = result.to_records()
    assert all(list(r) == list(drift.JSON_FIELDS) for r in records)
    assert next(r for r in records if r["column"] == "empty")["statistic"] is None


def test_ks_p_value_function_matches_ks_2samp():
    """The vendored exact distribution and the asymptotic one give ks_2samp's p-values, ties included."""
    rng = np.random.default_rng(3)
    for n1, n2 in [(5, 7), (1, 1), (3, 9), (300, 200), (250, 250), (40, 60), (20_000, 15)]:
        a, b = rng.normal(size=n1), rng.normal(0.3, 1, size=n2)
        if n1 == 40:  # heavy ties: a handful of distinct values
            a, b = np.round(a), np.round(b)
        method = "exact" if max(n1, n2) <= 10_000 else "asymp"
        expected = stats.ks_2samp(a, b, method=method)
        assert drift.ks_p_value(expected.statistic, n1, n2) == pytest.approx(expected.pvalue, rel=1e-9)
    tiny = stats.ks_2samp(np.arange(60.0), np.arange(30.0, 110.0), method="exact")  # p ~ 1e-12 keeps its digits
    assert drift.ks_p_value(tiny.statistic, 60, 80) == pytest.approx(tiny.pvalue, rel=1e-9)
    assert math.isnan(drift.ks_p_value(0.5, 0, 10))


def test_bad_input_is_a_clear_error(tmp_path):
    ref = pd.DataFrame({"a": [1.0, 2.0]})
    paths = _files(tmp_path, ref, ref)
    with pytest.raises(InvalidInputError, match="no such file"):
        drift.compare_files(tmp_path / "nope.parquet", paths[1])
    with pytest.raises(InvalidInputError, match="not in both files"):
        drift.compare_files(*paths, columns=["zzz"])
    with pytest.raises(InvalidInputError, match="unknown"):
        drift.DriftConfig(method="magic")


def test_files_pool_many_categories_in_duckdb_as_the_store_side_does(tmp_path):
    """An id-like column (more categories than a table keeps, ties among them, unseen ones beyond the room
    left): the files side pools in DuckDB (issue 15: a million ids never reach Python) and gets the
    same labels, counts and statistics as the generic path, which pools in Python."""
    import duckdb

    from analytics.drift import _binning, _calculator
    from analytics.drift import _files as files_side

    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"id": [f"r{i}" for i in rng.integers(0, 45, 3_000)], "x": rng.normal(size=3_000)})
    cur = pd.DataFrame({"id": [f"r{i}" for i in rng.integers(30, 120, 2_000)] + ["t1", "t2"] * 50,
                        "x": rng.normal(size=2_100)})
    paths = _files(tmp_path, ref, cur)
    pooled = drift.compare_files(*paths, config=drift.DriftConfig(method="chisquare"))
    con = duckdb.connect()
    sides = [_binning.Side(files_side.file_relation(p)) for p in paths]
    spec = [("id", False, "column"), ("x", True, "column")]
    generic = _calculator.compute(con, spec, drift.DriftConfig(method="chisquare"), sides[0],
                                  _calculator.LogCounts(con, sides[1]))
    pd.testing.assert_frame_equal(pooled.histograms["id"], generic.histograms["id"])
    labels = pooled.histograms["id"]["bin"].tolist()
    assert labels[45:47] == ["t1", "t2"] and labels[-1] == _binning.OTHER and len(labels) == 51
    pd.testing.assert_frame_equal(pooled.table.reset_index(drop=True),
                                  drift.DriftResult(generic.rows).table.reset_index(drop=True))
