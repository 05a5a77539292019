"""``vigil drift`` as a CI gate on a user's own files (issue 13 items 6, 7, 9, 22)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics.cli import main


def _strict(text: str):
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def files(tmp_path):
    """UCI-style column names: a hyphenated label and a name with a space."""
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"default-payment-next-month": rng.integers(0, 2, 400).astype(str),
                        "LIMIT BAL": rng.normal(size=400), "AGE": rng.normal(size=400)})
    cur = pd.DataFrame({"default-payment-next-month": rng.integers(0, 2, 300).astype(str),
                        "LIMIT BAL": rng.normal(size=300) + 0.5, "AGE": np.full(300, np.nan)})
    paths = {name: tmp_path / f"{name}.parquet" for name in ("ref", "cur", "empty")}
    ref.to_parquet(paths["ref"])
    cur.to_parquet(paths["cur"])
    ref.iloc[:0].to_parquet(paths["empty"])
    return ref, cur, paths


def test_any_file_column_name_full_precision_and_null_not_nan(files, capsys):
    ref, cur, paths = files
    assert main(["drift", str(paths["ref"]), str(paths["cur"]), "--format", "json"]) == 0
    rows = {r["column"]: r for r in _strict(capsys.readouterr().out)}
    assert set(rows) == {"default-payment-next-month", "LIMIT BAL", "AGE"}
    expected = stats.ks_2samp(ref["LIMIT BAL"], cur["LIMIT BAL"])
    assert rows["LIMIT BAL"]["statistic"] == pytest.approx(expected.statistic, rel=1e-12)  # not rounded to 6 places
    assert rows["AGE"]["statistic"] is None and rows["AGE"]["drifted"] is None


def test_the_gate_fails_on_drift_and_on_what_it_cannot_judge(files, capsys):
    _, _, paths = files
    ref, cur, empty = (str(paths[k]) for k in ("ref", "cur", "empty"))
    assert main(["drift", ref, cur, "--columns", "LIMIT BAL", "--fail-on-drift"]) == 1
    assert "LIMIT BAL" in capsys.readouterr().out
    assert main(["drift", ref, empty, "--fail-on-drift"]) == 4
    assert "has no rows" in capsys.readouterr().err
    assert main(["drift", ref, cur, "--columns", "AGE", "default-payment-next-month", "--fail-on-drift"]) == 4
    captured = capsys.readouterr()
    assert "no values to compare in: AGE" in captured.err
    assert "not computable" in captured.out and "no drift" in captured.out  # the app's words
    assert main(["drift", ref, cur, "--columns", "AGE", "--fail-on-drift", "--allow-not-computable"]) == 0
    assert "warning" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["drift", "--model", "m", "--start", "2026-01-01"],
                                  ["drift", "a.parquet", "b.parquet", "--model", "m"],
                                  ["drift", "a.parquet"],
                                  ["drift", "--model", "m", "--start", "someday", "--end", "2026-01-02"]])
def test_wrong_usage_exits_2(argv, capsys):
    assert main(argv) == 2
    assert "vigil drift --help" in capsys.readouterr().err


def test_the_gate_on_two_parquet_files_imports_neither_pandas_nor_scipy(tmp_path):
    """``vigil drift a.parquet b.parquet`` runs without pandas (a quarter of a second of its start), scipy,
    scikit-learn, ``pyarrow.compute`` or ``numpy.ma`` (``np.unique`` imports it): every path of a Parquet file's columns (integers with NULL in several
    row groups, a few-valued integer and float, amounts, text with and without a dictionary, an id column)."""
    import subprocess
    import sys

    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(8)
    for name, n, shift in (("ref", 3_000, 0.0), ("cur", 2_000, 0.4)):
        count = pa.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 90, n)).tolist(), pa.int64())
        table = pa.table({
            "amount": np.round(rng.lognormal(7 + shift, 1, n), 2), "count": count,
            "flag": rng.integers(0, 2, n), "cost": rng.choice([0.5, 1.25, 2.0], n),
            "channel": rng.choice(["web", "branch", "it's"], n), "region": rng.choice(["north", "south"], n),
            "request_id": [f"{name}-{i}" for i in range(n)],
        })
        pq.write_table(table, tmp_path / f"{name}.parquet", row_group_size=700, use_dictionary=["channel"])
    code = ("import contextlib, io, json, sys\n"
            "from analytics.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    code = main(['drift', *sys.argv[1:], '--format', 'json'])\n"
            "print(json.dumps({'code': code, 'columns': len(json.loads(out.getvalue())), 'modules': sorted(\n"
            "    m for m in ('pandas', 'scipy', 'sklearn', 'pyarrow.compute', 'numpy.ma') if m in sys.modules)}))\n")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet")],
                         capture_output=True, text=True, check=True)
    assert json.loads(run.stdout) == {"code": 0, "columns": 7, "modules": []}


def test_the_console_script_ends_the_file_gate_with_its_whole_output_and_code(files, capsys):
    """``vigil drift REFERENCE CURRENT`` run as the console script (:func:`analytics.cli.run`, which ends the file
    gate without Python's teardown) writes all of its output through a pipe and exits with :func:`main`'s code."""
    import subprocess
    import sys

    _, _, paths = files
    argv = ["drift", str(paths["ref"]), str(paths["cur"]), "--format", "json", "--fail-on-drift"]
    expected = main(argv)
    expected_out = capsys.readouterr().out
    run = subprocess.run([sys.executable, "-c", "from analytics.cli import run; run()", *argv],
                         capture_output=True, text=True)
    assert expected == 1  # LIMIT BAL drifted
    assert (run.returncode, run.stdout) == (expected, expected_out)
    assert len(_strict(run.stdout)) == 3
    missing = subprocess.run([sys.executable, "-c", "from analytics.cli import run; run()",
                              "drift", str(paths["ref"]), str(paths["ref"].with_name("absent.parquet"))],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "absent.parquet: no such file" in missing.stderr
