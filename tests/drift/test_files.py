"""The files side's own counts (sorted values, id columns) against the store side's generic SQL path.

:func:`analytics.drift.compare_files` reads a file's numerical columns into sorted arrays and an id
column by its hashes (issue 15: the ``vigil drift`` gate); the store side computes the same counts
in DuckDB (:func:`analytics.drift._calculator.compute` with :class:`~analytics.drift._calculator.LogCounts`). Both must
give the same result: the same kinds, methods, bins, labels and counts, the statistics to the last
few bits (the per-bin sums are added in another order), and ``tests/drift/test_methods.py`` pins the
statistics themselves to scipy.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics import drift
from analytics.drift import _binning, _calculator
from analytics.drift import _files as files_side


def _write(tmp_path, ref: pd.DataFrame, cur: pd.DataFrame, *, dictionary: bool = True) -> list:
    """Both frames as Parquet files; ``dictionary=False``: no column stored with a dictionary (every text
    column then counted by DuckDB, not on its dictionary's indices)."""
    paths = [tmp_path / "ref.parquet", tmp_path / "cur.parquet"]
    ref.to_parquet(paths[0], index=False, use_dictionary=dictionary)
    cur.to_parquet(paths[1], index=False, use_dictionary=dictionary)
    return paths


def _generic(paths, config: drift.DriftConfig):
    """The store side's path on the two files: every count an aggregate in DuckDB."""
    con = duckdb.connect()
    sides = [_binning.Side(files_side.file_relation(p)) for p in paths]
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {sides[0].relation})")
                 .fetchall())
    spec = [(c, t.split("(")[0] in files_side.NUMERIC_TYPES, "column") for c, t in types.items()]
    done = _calculator.compute(con, spec, config, sides[0], _calculator.LogCounts(con, sides[1]))
    return drift.DriftResult(done.rows).table, done.histograms


def _assert_same(result: drift.DriftResult, table: pd.DataFrame, hists: dict) -> None:
    got, want = result.table.reset_index(drop=True), table.reset_index(drop=True)
    numbers = ["statistic", "p_value", "tolerance"]
    pd.testing.assert_frame_equal(got.drop(columns=numbers), want.drop(columns=numbers))
    np.testing.assert_allclose(got[numbers].to_numpy(float), want[numbers].to_numpy(float), rtol=1e-12, atol=1e-15)
    assert set(result.histograms) == set(hists)
    for column, frame in hists.items():
        pd.testing.assert_frame_equal(result.histograms[column], frame, check_exact=True, obj=column)


@pytest.fixture
def mixed():
    """Numeric and categorical columns, missing values of every kind, a constant, a five-valued integer
    (categorical), whole numbers, ties, heavy tails, values beyond the reference's range, an id column."""
    rng = np.random.default_rng(15)

    def frame(n: int, shift: float) -> pd.DataFrame:
        amount = np.round(rng.lognormal(8 + shift, 1.5, n), 2)
        amount[rng.random(n) < 0.05] = np.nan
        spiky = rng.normal(shift, 1, n)
        spiky[:3] = [np.inf, -np.inf, np.nan]
        return pd.DataFrame({
            "amount": amount,
            "spiky": spiky,
            "age": rng.integers(18, 80, n).astype(np.int64),
            "grade": rng.integers(0, 5, n),                                     # five values: categorical
            "constant": np.full(n, 7.0),
            "negative": -rng.exponential(3, n) + shift * 3,
            "nullable_int": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 1000, n)), dtype="Int64"),
            "channel": rng.choice(["web", "branch", "phone", None], n, p=[0.5, 0.3, 0.15, 0.05]),
            "request_id": [f"req-{shift}-{i:06d}" for i in rng.permutation(n)],
            "all_missing": np.full(n, np.nan),
        })

    return frame(1_500, 0.0), frame(1_200, 0.3)


@pytest.mark.parametrize("method", ["auto", "ks", "psi"])
def test_sorted_values_give_the_generic_paths_result(tmp_path, mixed, method):
    """Numerical, categorical, null-containing, constant and id columns: the files side's result is the
    store side's (bins, labels, counts and histograms exactly; statistics within 1e-12)."""
    paths = _write(tmp_path, *mixed)
    config = drift.DriftConfig(method=method)
    result = drift.compare_files(*paths, config=config)
    _assert_same(result, *_generic(paths, config))
    assert {"channel", "request_id"} <= files_side.DataFile.of(paths[1]).dictionary_columns  # counted by pyarrow
    kinds = dict(zip(result.table["column"], result.table["kind"]))
    assert kinds["amount"] == kinds["age"] == kinds["nullable_int"] == "numerical"
    assert kinds["grade"] == kinds["constant"] == kinds["channel"] == kinds["request_id"] == "categorical"


def test_the_duckdb_way_for_a_file_too_large_to_sort_and_batches_of_one_column(tmp_path, mixed, monkeypatch):
    """A file whose columns do not fit :data:`FETCH_BYTES` is counted in DuckDB; columns are fetched
    in batches when a few fit: the same result either way."""
    paths = _write(tmp_path, *mixed)
    expected = _generic(paths, drift.DriftConfig())
    monkeypatch.setattr(files_side, "FETCH_BYTES", 8 * 1_500)  # one column of the reference at a time
    _assert_same(drift.compare_files(*paths), *expected)
    monkeypatch.setattr(files_side, "FETCH_BYTES", 8)
    _assert_same(drift.compare_files(*paths), *expected)


def test_sorted_histogram_bins_every_value_as_sql_does():
    """Values on, and one double either side of, every fine-bin boundary, both tails and ``hi`` itself: the
    bins, counts, minima and maxima of :func:`sorted_histogram` are those of the SQL histogram; so they are
    when every boundary guess fails and the exact edges settle the bins."""
    lo, hi = -3.7, 12.9
    boundaries = _binning.boundary_values(lo, hi, np.arange(1, _binning.FINE_BINS))
    rng = np.random.default_rng(2)
    values = np.sort(np.r_[boundaries, np.nextafter(boundaries, -np.inf), np.nextafter(boundaries, np.inf),
                           _binning.exact_edges(lo, hi), rng.uniform(-10, 20, 5_000), lo, hi, lo, hi])
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest(?::DOUBLE[]) AS v", [values.tolist()])
    sql = _binning.fine_histograms(con, _binning.Side("t"), "v", lo, hi)[_binning.WHOLE_WINDOW]

    def same(hist):
        np.testing.assert_array_equal(hist.bins, sql.bins)
        np.testing.assert_array_equal(hist.n, sql.n)
        np.testing.assert_array_equal(hist.vmin, sql.vmin)
        np.testing.assert_array_equal(hist.vmax, sql.vmax)
        np.testing.assert_allclose(hist.total, sql.total, rtol=1e-12)

    same(files_side.sorted_histogram(values, lo, hi))
    real = _binning.boundary_values
    try:
        _binning.boundary_values = lambda lo_, hi_, k: real(lo_, hi_, k) + 1e-3  # every guess misses
        same(files_side.sorted_histogram(values, lo, hi))
    finally:
        _binning.boundary_values = real
    assert len(files_side.sorted_histogram(values[:0], lo, hi).bins) == 0


@pytest.mark.parametrize("dictionary", [False, True])
def test_id_columns_are_checked_exactly_and_pooled_as_the_generic_path_pools(tmp_path, dictionary):
    """An id column takes the short way only when every value is distinct (one repeated value sends it the
    usual way); a window of new ids against a reference of a few categories keeps the room left in the
    table for the first unseen ones by name, and pools the rest, as the generic path does; a current side
    with no room left (a reference of ids, a window of repeated ids) counts only the known categories.
    Text columns stored with a dictionary are counted on its indices instead: the same result."""
    rng = np.random.default_rng(4)
    ids = [f"id{i:05d}" for i in rng.permutation(4_000)]
    ref = pd.DataFrame({"unique": ids[:2_000], "repeated": ids[:1_999] + ids[:1], "few": rng.choice(list("abc"), 2_000),
                        "again": ids[:2_000]})
    cur = pd.DataFrame({"unique": ids[1_000:3_000], "repeated": ids[1_000:3_000],
                        "few": [f"n{i}" for i in range(2_000)],
                        "again": ids[:1_000] + ids[500:1_500]})  # some ids twice: not an id column
    paths = _write(tmp_path, ref, cur, dictionary=dictionary)
    texts = {"unique", "repeated", "few", "again"} if dictionary else set()
    assert files_side.DataFile.of(paths[0]).dictionary_columns == files_side.DataFile.of(paths[1]).dictionary_columns == texts
    con = duckdb.connect()
    sides = [_binning.Side(files_side.file_relation(p)) for p in paths]
    assert files_side.id_columns(con, sides[0], ["unique", "repeated", "few"]) == {"unique": 2_000}
    assert files_side.id_columns(con, sides[1], ["unique", "repeated", "few"]) == {
        "unique": 2_000, "repeated": 2_000, "few": 2_000}
    config = drift.DriftConfig(method="jensenshannon")
    result = drift.compare_files(*paths, config=config)
    _assert_same(result, *_generic(paths, config))
    labels = result.histograms["few"]["bin"].tolist()
    assert sorted(labels[:3]) == ["a", "b", "c"] and labels[3:5] == ["n0", "n1"] and labels[-1] == _binning.OTHER


def test_parquet_columns_read_by_pyarrow_are_duckdbs_doubles(tmp_path):
    """A Parquet file's integer and float columns read by pyarrow give DuckDB's ``coalesce(c::DOUBLE, 'NaN')``
    values: integers beyond 2**53 rounded alike, float32 widened, NULL as missing; a decimal column is read by
    DuckDB (decided once for the file, from its schema). Every finite value, compared bit for bit after sorting."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from decimal import Decimal

    big = 2**53
    table = pa.table({
        "big": pa.array([big + 1, big + 3, -(big + 1), 2**63 - 1, None, 0], pa.int64()),
        "unsigned": pa.array([2**64 - 1, 2**63 + 1, 1, None, 5, 7], pa.uint64()),
        "whole": pa.array([big + 1, big + 3, -(big + 1), 2**63 - 1, -(2**63), 0], pa.int64()),  # no NULL: no fill
        "whole_unsigned": pa.array([2**64 - 1, 2**63 + 1, 2**63 + 2**11 + 1, big + 1, 5, 7], pa.uint64()),
        "small": pa.array([1, -2, None, 127, -128, 0], pa.int8()),
        "single": pa.array([0.1, float("nan"), float("inf"), None, -3.3, 1e-40], pa.float32()),
        "double": pa.array([0.1, None, -float("inf"), 2.5, float("nan"), 1e308], pa.float64()),
        "money": pa.array([Decimal("0.10"), Decimal("1.05"), None, Decimal("-7.33"), Decimal("3.00"),
                           Decimal("12345678.91")], pa.decimal128(12, 2)),
    })
    path = tmp_path / "types.parquet"
    pq.write_table(table, path, row_group_size=4)  # two row groups: chunked columns
    file = files_side.DataFile.of(path)
    columns = ["big", "unsigned", "whole", "whole_unsigned", "small", "single", "double", "money"]
    assert file.arrow_columns == set(columns) - {"money"}  # the decimal is DuckDB's
    con = duckdb.connect()
    ours = files_side.summarise_sorted(con, file, columns, 6, lambda column, values: values)
    for column in columns:
        duck = con.execute(f"SELECT coalesce({column}::DOUBLE, 'NaN'::DOUBLE) AS v FROM {file.side.relation}").fetchnumpy()["v"]
        duck = np.sort(duck[np.isfinite(duck)])
        np.testing.assert_array_equal(ours[column].view(np.int64), duck.view(np.int64), err_msg=column)


def test_integer_categories_are_counted_off_the_sorted_values_as_duckdb_counts_them(tmp_path, monkeypatch):
    """An integer column with few distinct values (categorical) has its categories counted off its sorted values,
    on both sides: negative values, NULLs, categories unseen in the reference, a current side whose values are
    nearly all distinct (too many to count in Python: DuckDB's way) and values beyond 2**53 (a double no longer
    holds every integer: DuckDB's way) give the generic path's labels and counts."""
    rng = np.random.default_rng(7)
    big = 2**62
    ref = pd.DataFrame({
        "code": rng.integers(-2, 3, 3_000),
        "flag": pd.array(np.where(rng.random(3_000) < 0.1, None, rng.integers(0, 2, 3_000)), dtype="Int64"),
        "turned_id": rng.integers(0, 4, 3_000),
        "huge": rng.choice([big, big + 1, -big], 3_000),
    })
    cur = pd.DataFrame({
        "code": rng.integers(-4, 9, 2_500),                    # unseen categories, ten and more in the room left
        "flag": pd.array(np.where(rng.random(2_500) < 0.3, None, rng.integers(0, 2, 2_500)), dtype="Int64"),
        "turned_id": rng.permutation(2_500),                   # 2,500 distinct values: more than the limit below
        "huge": rng.choice([big, big + 1, big + 2], 2_500),
    })
    paths = _write(tmp_path, ref, cur)
    monkeypatch.setattr(files_side, "SORTED_CATEGORIES", 1_000)
    for method in ("auto", "psi"):
        config = drift.DriftConfig(method=method)
        result = drift.compare_files(*paths, config=config)
        _assert_same(result, *_generic(paths, config))
    assert set(result.table["kind"]) == {"categorical"}
    values = np.sort(cur["code"].to_numpy(float))
    assert files_side.sorted_counts(values) == {str(k): int(n) for k, n in cur["code"].value_counts().items()}
    assert files_side.sorted_counts(values, limit=5) is None
    assert files_side.sorted_counts(np.array([2.0**53 + 2])) is None


def test_doubles_of_chunks_with_nulls_and_offsets():
    """A chunk with NULL is read off its buffers: its offset (a slice), its validity bits and its type's width
    give pyarrow's values as doubles, NULL as NaN."""
    import pyarrow as pa

    for kind, values in ((pa.int64(), [2**53 + 1, None, -(2**63), 7, None, 2**63 - 1, 0, 1, None, 3]),
                         (pa.uint64(), [2**64 - 1, None, 5, 2**63 + 1, None, 1, 2, 3, None, 9]),
                         (pa.int8(), [1, None, -128, 127, None, 0, 5, -5, None, 2]),
                         (pa.float32(), [0.1, None, float("nan"), -3.3, None, 1e-40, 2.5, 7.0, None, 1.0])):
        array = pa.array(values, kind)
        column = pa.chunked_array([array.slice(3), array.slice(1, 4), array[:0], array])
        want = np.array([np.nan if v is None else v for part in (values[3:], values[1:5], values) for v in part],
                        dtype=np.float32 if kind == pa.float32() else np.float64).astype(np.float64)
        got = files_side.doubles(column)
        np.testing.assert_array_equal(got.view(np.int64)[~np.isnan(got)], want.view(np.int64)[~np.isnan(want)],
                                      err_msg=str(kind))
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=str(kind))
