"""Ingestion: every bad input ends in a clear message and a store unchanged apart from quarantined rows.

Row-level problems give a report (status ``rejected`` by default, failing rows quarantined with
reasons naming the row and the column); source-level problems (file type, header, unreadable file)
raise InvalidInputError before any row lands.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import audit, registry, store
from analytics.errors import InvalidInputError, NotFoundError, PermissionDeniedError, StoreBusyError
from analytics.ingest import ingest, ingest_history, quarantined_rows, recover_interrupted
from analytics.ingest._ingest import _ingest_lock
from analytics.roles import Actor

N = 6


# --------------------------------------------------------------------------------------------------
# helpers


def _with_value(frame: pd.DataFrame, column: str, index: int, value) -> pd.DataFrame:
    """Copy of ``frame`` with one cell replaced, the column turned to text if needed to hold it."""
    out = frame.copy()
    if isinstance(value, str) and out[column].dtype != object:
        out[column] = out[column].astype(str).astype(object)
    out.loc[index, column] = value
    return out


def _parquet_with_double(path, frame: pd.DataFrame, column: str, index: int, value: float):
    """Write ``frame`` to Parquet with a real IEEE value (NaN, inf) in one cell, not a null."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    values = table.column(column).to_pylist()
    values[index] = value
    table = table.set_column(table.schema.get_field_index(column), column, pa.array(values, pa.float64()))
    assert table.column(column).null_count == 0
    pq.write_table(table, path)
    return path


def _csv_with_cell(path, frame: pd.DataFrame, column: str, index: int, text: str):
    """Write ``frame`` to CSV with the literal ``text`` in one cell."""
    out = frame.astype({column: object})
    out.loc[index, column] = text
    out.to_csv(path, index=False)
    return path


def _history(db):
    return ingest_history(db).set_index("ingest_id")


def _assert_rejected(toy, report, *, rows: list[int], column: str, text: str) -> None:
    """The ingest was rejected, loaded nothing, and quarantined exactly ``rows`` with the reason."""
    assert report.status == "rejected"
    assert report.rows_loaded == 0
    assert report.rows_quarantined == len(rows)
    assert "nothing was loaded" in report.message
    q = quarantined_rows(report.ingest_id, toy.db)
    assert q["row_number"].tolist() == rows
    for reasons in q["reasons"]:
        assert any(r.startswith(f"{column}: ") and text in r for r in reasons), list(reasons)
    assert report.problems[0].startswith(f"row {rows[0]}: {column}: ")
    assert text in report.problems[0]
    assert _history(toy.db).loc[report.ingest_id, "status"] == "rejected"


# --------------------------------------------------------------------------------------------------
# the happy path


def test_an_optional_column_given_lands_and_older_segments_read_it_as_null(toy):
    """``request_id`` lands when the source has it; segments written without it read NULL through the view."""
    first = toy.predictions(N)
    ingest(toy.name, first.iloc[: N // 2], db=toy.db)
    ingest(toy.name, first.iloc[N // 2:].assign(request_id=[f"r{i}" for i in range(N - N // 2)]), db=toy.db)
    stored = store.read(lambda con: con.execute(
        f"SELECT request_id FROM {store.predictions_view(toy.stem)} ORDER BY prediction_id").df(), toy.db)
    assert stored["request_id"].isna().tolist() == [True] * (N // 2) + [False] * (N - N // 2)


def test_valid_frame_lands_whole(toy):
    """A valid DataFrame is loaded, visible through the view, counted in the report and audited."""
    frame = toy.predictions(N)
    report = ingest(toy.name, frame, db=toy.db)
    assert (report.status, report.rows_read, report.rows_loaded, report.rows_duplicate, report.rows_quarantined) == (
        "committed", N, N, 0, 0)
    assert report.ok
    assert toy.counts() == {"visible": N, "log": N, "outcomes_visible": 0, "outcome_log": 0, "quarantine": 0}
    stored = store.read(lambda con: con.execute(
        f"SELECT * FROM {store.predictions_view(toy.stem)} ORDER BY prediction_id").df(), toy.db)
    assert stored.pop("request_id").isna().all()  # optional, left out by the source
    pd.testing.assert_frame_equal(stored, frame, check_dtype=False)
    history = _history(toy.db).loc[report.ingest_id]
    assert (history["status"], history["rows_read"], history["rows_loaded"]) == ("committed", N, N)
    assert history["actor"].startswith("cli:")
    last = store.read(lambda con: audit.entries(con, object_type="ingest"), toy.db).iloc[0]
    assert (last["action"], last["object_id"]) == ("ingest.commit", str(report.ingest_id))


def test_resent_file_loads_nothing_new(toy, tmp_path):
    """Sending the same file twice: the second ingest loads 0 rows and counts all as duplicates."""
    path = tmp_path / "preds.parquet"
    toy.predictions(N).to_parquet(path)
    first = ingest(toy.name, path, db=toy.db)
    second = ingest(toy.name, path, db=toy.db)
    assert (first.rows_loaded, first.rows_duplicate) == (N, 0)
    assert (second.status, second.rows_loaded, second.rows_duplicate) == ("committed", 0, N)
    assert toy.counts()["log"] == N


def test_overlapping_file_loads_only_new_rows(toy):
    """A file that overlaps the store loads only the ids not stored yet."""
    ingest(toy.name, toy.predictions(4), db=toy.db)
    report = ingest(toy.name, toy.predictions(6, start=2), db=toy.db)
    assert (report.rows_loaded, report.rows_duplicate) == (4, 2)
    assert toy.counts()["visible"] == 8


def test_multi_batch_file_lands_whole(toy, tmp_path):
    """A file streamed in many small batches lands entirely, under one ingest id, without repeats."""
    path = tmp_path / "big.parquet"
    toy.predictions(1000).to_parquet(path, row_group_size=100)
    seen = []
    report = ingest(toy.name, path, db=toy.db, batch_rows=64, progress=seen.append)
    assert (report.status, report.rows_read, report.rows_loaded) == ("committed", 1000, 1000)
    assert seen[-1] == 1000 and len(seen) >= 1000 // 64
    ids, distinct = store.read(lambda con: con.execute(
        f"SELECT count(*), count(DISTINCT prediction_id) FROM {store.predictions_view(toy.stem)}").fetchone(), toy.db)
    assert (ids, distinct) == (1000, 1000)
    assert toy.counts()["log"] == 1000
    assert _history(toy.db)["status"].tolist() == ["committed"]


def test_multi_batch_csv_lands_whole(toy, tmp_path):
    """The same holds for CSV, read as text and typed row by row."""
    path = tmp_path / "big.csv"
    toy.predictions(500).to_csv(path, index=False)
    report = ingest(toy.name, path, db=toy.db, batch_rows=50)
    assert (report.status, report.rows_loaded) == ("committed", 500)
    row = store.read(lambda con: con.execute(
        f"SELECT prediction_id, predicted_at, AGE, is_member, decision FROM {store.predictions_view(toy.stem)} "
        "WHERE prediction_id = 'p000003'").fetchone(), toy.db)
    assert row == ("p000003", datetime(2025, 3, 1, 8, 3), 23, True, 1)


def test_timezone_aware_parquet_is_converted_to_utc(toy, tmp_path):
    """Timestamps with a time zone are stored as UTC (Paris 09:00 in March is 08:00 UTC)."""
    frame = toy.predictions(3)
    frame["predicted_at"] = pd.to_datetime(["2025-03-01 09:00", "2025-07-01 09:00", "2025-03-01 00:30"]).tz_localize(
        "Europe/Paris")
    path = tmp_path / "tz.parquet"
    frame.to_parquet(path)
    assert pq.read_schema(path).field("predicted_at").type.tz == "Europe/Paris"
    assert ingest(toy.name, path, db=toy.db).rows_loaded == 3
    stored = store.read(lambda con: con.execute(
        f"SELECT predicted_at FROM {store.predictions_view(toy.stem)} ORDER BY prediction_id").fetchall(), toy.db)
    assert [r[0] for r in stored] == [datetime(2025, 3, 1, 8, 0), datetime(2025, 7, 1, 7, 0),
                                      datetime(2025, 2, 28, 23, 30)]


def test_text_timestamps_with_offsets_are_converted_to_utc(toy, tmp_path):
    """ISO 8601 text with an offset (CSV, or a pandas str column) is converted to UTC; naive text is UTC."""
    frame = toy.predictions(3)
    frame["predicted_at"] = ["2025-03-01T09:00:00+01:00", "2025-03-01T09:00:00Z", "2025-03-01 09:00:00"]
    path = tmp_path / "offsets.csv"
    frame.to_csv(path, index=False)
    assert ingest(toy.name, path, db=toy.db).rows_loaded == 3
    assert ingest(toy.name, frame.assign(prediction_id=["q1", "q2", "q3"]), db=toy.db).rows_loaded == 3
    stored = store.read(lambda con: con.execute(
        f"SELECT predicted_at FROM {store.predictions_view(toy.stem)} ORDER BY prediction_id").fetchall(), toy.db)
    assert [r[0] for r in stored] == [datetime(2025, 3, 1, 8), datetime(2025, 3, 1, 9), datetime(2025, 3, 1, 9)] * 2


def test_nan_in_a_dataframe_means_missing(toy):
    """In a DataFrame NaN is a missing value: stored as NULL in a nullable column."""
    frame = toy.predictions(N)
    frame.loc[2, "income"] = np.nan
    report = ingest(toy.name, frame, db=toy.db)
    assert (report.status, report.rows_loaded) == ("committed", N)
    income = store.read(lambda con: con.execute(
        f"SELECT income FROM {store.predictions_view(toy.stem)} WHERE prediction_id = 'p000002'").fetchone(), toy.db)
    assert income == (None,)


def test_nan_in_a_required_dataframe_column_is_a_missing_value(toy):
    """NaN in a required column of a DataFrame is reported as a missing value of that column."""
    frame = toy.predictions(N)
    frame.loc[4, "score"] = np.nan
    report = ingest(toy.name, frame, db=toy.db)
    _assert_rejected(toy, report, rows=[5], column="score", text="missing value")


def test_csv_with_byte_order_mark_and_padded_header(toy, tmp_path):
    """A CSV saved with a UTF-8 byte-order mark and spaces around header names is read normally."""
    path = tmp_path / "excel.csv"
    text = toy.predictions(N).to_csv(index=False)
    header, rest = text.split("\n", 1)
    path.write_text("\ufeff" + header.replace("AGE", " AGE ") + "\n" + rest, encoding="utf-8")
    report = ingest(toy.name, path, db=toy.db)
    assert (report.status, report.rows_loaded) == ("committed", N)


# --------------------------------------------------------------------------------------------------
# bad rows, default on_error="reject"


def _text_in_number_csv(tmp_path, frame):
    return _csv_with_cell(tmp_path / "text.csv", frame, "cost", 2, "abc")


ROW_CASES = {
    "text in a numeric column (CSV)": (_text_in_number_csv, [3], "cost", "'abc' is not a valid number"),
    "text in a numeric column (DataFrame)": (
        lambda p, frame: _with_value(frame, "score", 2, "high"), [3], "score", "'high' is not a valid number"),
    "NaN in a double column (Parquet)": (
        lambda p, frame: _parquet_with_double(p / "nan.parquet", frame, "income", 1, float("nan")),
        [2], "income", "'nan' is not allowed"),
    "inf in a double column (Parquet)": (
        lambda p, frame: _parquet_with_double(p / "inf.parquet", frame, "latency_ms", 3, float("inf")),
        [4], "latency_ms", "'inf' is not allowed"),
    "NaN in a double column (CSV)": (
        lambda p, frame: _csv_with_cell(p / "nan.csv", frame, "income", 0, "NaN"), [1], "income",
        "'nan' is not allowed"),
    "inf in a double column (CSV)": (
        lambda p, frame: _csv_with_cell(p / "inf.csv", frame, "income", 5, "inf"), [6], "income",
        "'inf' is not allowed"),
    "-inf in a DataFrame": (
        lambda p, frame: _with_value(frame, "income", 1, float("-inf")), [2], "income", "'-inf' is not allowed"),
    "unknown model version": (
        lambda p, frame: _with_value(frame, "model_version", 4, "v9"), [5], "model_version",
        "'v9' is not one of: v1, v2"),
    "unparseable timestamp (DataFrame text)": (
        lambda p, frame: _with_value(frame.astype({"predicted_at": str}), "predicted_at", 1, "yesterday"),
        [2], "predicted_at", "'yesterday' is not a valid timestamp"),
    "unparseable timestamp (CSV)": (
        lambda p, frame: _csv_with_cell(p / "ts.csv", frame, "predicted_at", 3, "2025-13-45 25:00"),
        [4], "predicted_at", "'2025-13-45 25:00' is not a valid timestamp"),
    "future timestamp": (
        lambda p, frame: _with_value(frame, "predicted_at", 5, pd.Timestamp("2099-01-01 00:00:00")),
        [6], "predicted_at", "'2099-01-01 00:00:00' is in the future"),
    "integer given as 3.5": (
        lambda p, frame: _with_value(frame.astype({"AGE": float}), "AGE", 3, 3.5), [4], "AGE",
        "'3.5' is not a valid whole number"),
    "integer given as 3.5 (CSV)": (
        lambda p, frame: _csv_with_cell(p / "int.csv", frame, "AGE", 0, "3.5"), [1], "AGE",
        "'3.5' is not a valid whole number"),
    "decision not 0/1": (
        lambda p, frame: _with_value(frame, "decision", 2, 2), [3], "decision", "'2' is outside [0, 1]"),
    "score above 1": (
        lambda p, frame: _with_value(frame, "score", 0, 1.5), [1], "score", "'1.5' is outside [0.0, 1.0]"),
    "missing required value": (
        lambda p, frame: _with_value(frame, "prediction_id", 2, None), [3], "prediction_id", "missing value"),
    "unknown deployment role": (
        lambda p, frame: _with_value(frame, "deployment_role", 1, "primary"), [2], "deployment_role",
        "'primary' is not one of: champion, challenger, shadow, canary"),
}


@pytest.mark.parametrize("case", list(ROW_CASES))
def test_bad_rows_reject_the_whole_ingest(toy, tmp_path, case):
    """One bad row rejects the ingest: nothing lands, the row is quarantined with a reason naming it."""
    build, rows, column, text = ROW_CASES[case]
    before = toy.counts()
    report = ingest(toy.name, build(tmp_path, toy.predictions(N)), db=toy.db)
    _assert_rejected(toy, report, rows=rows, column=column, text=text)
    assert toy.counts() == {**before, "quarantine": before["quarantine"] + len(rows)}


@pytest.mark.parametrize("case", ["NaN in a double column (Parquet)", "text in a numeric column (CSV)",
                                  "unknown model version", "future timestamp", "integer given as 3.5"])
def test_on_error_quarantine_loads_the_good_rows(toy, tmp_path, case):
    """on_error='quarantine': the good rows land, the bad ones are quarantined with their raw values."""
    build, rows, column, text = ROW_CASES[case]
    report = ingest(toy.name, build(tmp_path, toy.predictions(N)), db=toy.db, on_error="quarantine")
    assert (report.status, report.rows_loaded, report.rows_quarantined) == ("committed", N - 1, 1)
    assert not report.ok
    assert toy.counts() == {"visible": N - 1, "log": N - 1, "outcomes_visible": 0, "outcome_log": 0,
                              "quarantine": 1}
    q = quarantined_rows(report.ingest_id, toy.db)
    assert q["row_number"].tolist() == rows
    assert q["prediction_id"].tolist() == [f"p{rows[0] - 1:06d}"]
    assert text in q["reasons"][0][0]
    assert f'"prediction_id": "p{rows[0] - 1:06d}"' in q["raw"][0]
    stored = store.read(lambda con: con.execute(
        f"SELECT prediction_id FROM {store.predictions_view(toy.stem)} ORDER BY 1").fetchall(), toy.db)
    assert [r[0] for r in stored] == [f"p{i:06d}" for i in range(N) if i != rows[0] - 1]


def test_reject_removes_rows_of_earlier_batches(toy):
    """A bad row in the last batch rejects rows already written by earlier batches: nothing remains."""
    frame = _with_value(toy.predictions(10), "income", 9, float("inf"))
    report = ingest(toy.name, frame, db=toy.db, batch_rows=3)
    _assert_rejected(toy, report, rows=[10], column="income", text="'inf' is not allowed")
    assert toy.counts() == {"visible": 0, "log": 0, "outcomes_visible": 0, "outcome_log": 0, "quarantine": 1}


def test_row_with_several_problems_lists_them_all(toy):
    """Every problem of a row is kept, in column order."""
    frame = _with_value(_with_value(toy.predictions(N), "score", 1, -0.5), "model_version", 1, "v7")
    report = ingest(toy.name, frame, db=toy.db)
    assert report.problems == ["row 2: model_version: 'v7' is not one of: v1, v2; score: '-0.5' is outside [0.0, 1.0]"]
    assert report.problem_counts == {"model_version: is not one of: v1, v2": 1, "score: is outside [0.0, 1.0]": 1}


@pytest.mark.parametrize("batch_rows", [100, 3])
def test_duplicate_ids_in_one_file_are_quarantined(toy, batch_rows):
    """An id repeated in the file (in one batch, or in different batches) quarantines every copy."""
    frame = toy.predictions(8)
    frame.loc[6, "prediction_id"] = frame.loc[1, "prediction_id"]
    report = ingest(toy.name, frame, db=toy.db, batch_rows=batch_rows)
    _assert_rejected(toy, report, rows=[2, 7], column="prediction_id",
                     text="'p000001' appears more than once in this source, in rows '2, 7'")
    assert toy.counts()["log"] == 0

    report = ingest(toy.name, frame, db=toy.db, batch_rows=batch_rows, on_error="quarantine")
    assert (report.status, report.rows_loaded, report.rows_quarantined) == ("committed", 6, 2)
    assert toy.counts()["visible"] == 6


def test_repeated_id_with_one_failing_copy_loads_no_copy(toy):
    """When one copy of a repeated id fails validation, the valid copy is quarantined as a repeat, not loaded."""
    frame = toy.predictions(8)
    frame.loc[6, "prediction_id"] = frame.loc[1, "prediction_id"]
    frame.loc[6, "score"] = 7.0
    report = ingest(toy.name, frame, db=toy.db, batch_rows=3, on_error="quarantine")
    assert (report.status, report.rows_loaded, report.rows_quarantined) == ("committed", 6, 2)
    q = quarantined_rows(report.ingest_id, toy.db)
    assert q["row_number"].tolist() == [2, 7]
    assert [list(r) for r in q["reasons"]] == [
        ["prediction_id: 'p000001' appears more than once in this source, in rows '2, 7'"],
        ["score: '7.0' is outside [0.0, 1.0]"]]
    assert store.read(lambda con: con.execute(
        f"SELECT count(*) FROM {store.predictions_view(toy.stem)} WHERE prediction_id = 'p000001'").fetchone(), toy.db) == (0,)


def test_problems_of_one_kind_are_counted_together(toy):
    """problem_counts groups reasons without their values: three different bad scores are one problem."""
    frame = toy.predictions(N)
    for i, score in ((0, 1.5), (2, 2.5), (4, -3.0)):
        frame.loc[i, "score"] = score
    frame.loc[5, "prediction_id"] = frame.loc[3, "prediction_id"]
    report = ingest(toy.name, frame, db=toy.db)
    assert report.problem_counts == {"score: is outside [0.0, 1.0]": 3,
                                     "prediction_id: appears more than once in this source, in rows": 2}
    assert report.rows_quarantined == 5
    assert report.problems == [
        "row 1: score: '1.5' is outside [0.0, 1.0]",
        "row 3: score: '2.5' is outside [0.0, 1.0]",
        "row 5: score: '-3.0' is outside [0.0, 1.0]",
        "row 4: prediction_id: 'p000003' appears more than once in this source, in rows '4, 6'",
        "row 6: prediction_id: 'p000003' appears more than once in this source, in rows '4, 6'",
    ]
    assert "problems (rows):" in report.summary() and "row 1: score: '1.5'" in report.summary()


def test_model_without_versions_refuses_every_row(toy):
    """A model with no registered version accepts no model_version at all."""
    store.write(lambda con: registry.register_model(con, toy.actor, "bare-model", toy.schema, owner="tests"), toy.db)
    report = ingest("bare-model", toy.predictions(2), db=toy.db)
    assert report.status == "rejected"
    assert report.problems == ["row 1: model_version: 'v1' is not one of: none registered",
                               "row 2: model_version: 'v2' is not one of: none registered"]
    assert store.read(lambda con: con.execute("SELECT count(*) FROM log_bare_model").fetchone()[0], toy.db) == 0


# --------------------------------------------------------------------------------------------------
# bad sources: an error before any row lands


def _assert_store_unchanged(toy, before) -> None:
    assert toy.counts() == before


@pytest.mark.parametrize("name,content", [("preds.xlsx", b"PK\x03\x04 not really a workbook"),
                                          ("preds.json", b'[{"prediction_id": "p1"}]'),
                                          ("preds", b"prediction_id\np1\n")])
def test_unsupported_file_type(toy, tmp_path, name, content):
    """Only .parquet and .csv files are read; others are refused by their type."""
    path = tmp_path / name
    path.write_bytes(content)
    before = toy.counts()
    suffix = path.suffix or "(none)"
    message = f"{name}: file type '{suffix}' is not supported; give a .parquet or .csv file"
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        ingest(toy.name, path, db=toy.db)
    _assert_store_unchanged(toy, before)
    assert _history(toy.db).empty


def test_missing_file(toy, tmp_path):
    """A path that does not exist is named in the error."""
    with pytest.raises(InvalidInputError, match="nowhere.csv does not exist"):
        ingest(toy.name, tmp_path / "nowhere.csv", db=toy.db)


HEADER_CASES = {
    "missing column": (lambda f: f.drop(columns=["income"]), r"missing column 'income'\."),
    "extra column": (lambda f: f.assign(shoe_size=42),
                     r"unexpected column 'shoe_size' \(not in the model's declared schema\)"),
    "misnamed column (case)": (lambda f: f.rename(columns={"AGE": "age"}),
                               r"unexpected column 'age'; did you mean 'AGE'\?; missing column 'AGE'"),
    "misnamed column (typo)": (lambda f: f.rename(columns={"latency_ms": "latncy_ms"}),
                               r"unexpected column 'latncy_ms'; did you mean 'latency_ms'\?; "
                               r"missing column 'latency_ms'"),
}


@pytest.mark.parametrize("case", list(HEADER_CASES))
@pytest.mark.parametrize("fmt", ["frame", "csv", "parquet"])
def test_header_problems_reject_before_reading_rows(toy, tmp_path, case, fmt):
    """A missing, extra or misnamed column rejects the source, naming the column; nothing lands."""
    change, pattern = HEADER_CASES[case]
    frame = change(toy.predictions(N))
    data = frame
    if fmt == "csv":
        data = tmp_path / "bad.csv"
        frame.to_csv(data, index=False)
    elif fmt == "parquet":
        data = tmp_path / "bad.parquet"
        frame.to_parquet(data)
    before = toy.counts()
    with pytest.raises(InvalidInputError, match="do not match the declared schema of 'toy-model': ") as info:
        ingest(toy.name, data, db=toy.db)
    assert re.search(pattern, str(info.value)), str(info.value)
    assert "nothing was loaded" in str(info.value)
    _assert_store_unchanged(toy, before)
    assert _history(toy.db)["status"].tolist() == ["rejected"]


def test_unknown_model(toy):
    """An unknown model is named, with the registered ones; no ingest row is left behind."""
    with pytest.raises(NotFoundError, match="model 'no-such-model' is not registered; registered models: toy-model"):
        ingest("no-such-model", toy.predictions(N), db=toy.db)
    assert _history(toy.db).empty


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet"])
def test_zero_byte_file(toy, tmp_path, name):
    """A 0-byte file is refused as empty."""
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(InvalidInputError, match=rf"{name} is empty \(0 bytes\)"):
        ingest(toy.name, path, db=toy.db)
    assert toy.counts()["log"] == 0


def test_header_only_csv(toy, tmp_path):
    """A CSV with a header and no rows has nothing to ingest; the run is recorded as rejected."""
    path = tmp_path / "header.csv"
    toy.predictions(0).to_csv(path, index=False)
    with pytest.raises(InvalidInputError, match="header.csv has a header but no rows: nothing to ingest"):
        ingest(toy.name, path, db=toy.db)
    assert toy.counts()["log"] == 0
    assert _history(toy.db)["status"].tolist() == ["rejected"]


def test_truncated_parquet(toy, tmp_path):
    """A Parquet file cut in half is reported as unreadable (truncated), nothing lands."""
    full = tmp_path / "full.parquet"
    toy.predictions(2000).to_parquet(full)
    data = full.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInputError, match=r"could not read cut.parquet as PARQUET \(is the file truncated"):
        ingest(toy.name, cut, db=toy.db)
    assert toy.counts() == {"visible": 0, "log": 0, "outcomes_visible": 0, "outcome_log": 0, "quarantine": 0}


def test_role_without_ingest_capability(toy):
    """A viewer may not ingest: PermissionDeniedError, and no ingest is opened."""
    with pytest.raises(PermissionDeniedError, match=r"v \(role viewer\) may not ingest; this needs one of: admin"):
        ingest(toy.name, toy.predictions(N), db=toy.db, actor=Actor("v", "viewer"))
    assert _history(toy.db).empty
    assert toy.counts()["log"] == 0


def test_admin_ingest_is_attributed(toy):
    """The ingest row and its audit row name the acting user."""
    report = ingest(toy.name, toy.predictions(2), db=toy.db, actor=Actor("ada", "admin"))
    assert _history(toy.db).loc[report.ingest_id, "actor"] == "ada"
    last = store.read(lambda con: audit.entries(con, object_type="ingest"), toy.db).iloc[0]
    assert (last["actor"], last["role"], last["action"]) == ("ada", "admin", "ingest.commit")


@pytest.mark.parametrize("kwargs,message", [({"kind": "labels"}, "kind must be 'predictions' or 'outcomes'"),
                                            ({"on_error": "skip"}, "on_error must be 'reject' or 'quarantine'"),
                                            ({"batch_rows": 0}, "batch_rows must be a positive number")])
def test_invalid_arguments(toy, kwargs, message):
    """Bad arguments are refused at the boundary."""
    with pytest.raises(InvalidInputError, match=message):
        ingest(toy.name, toy.predictions(1), db=toy.db, **kwargs)


# --------------------------------------------------------------------------------------------------
# outcomes


def test_outcomes_land_and_are_not_duplicated(toy):
    """Valid outcomes are loaded once; a re-sent batch loads nothing new."""
    preds = toy.predictions(N)
    ingest(toy.name, preds, db=toy.db)
    first = ingest(toy.name, toy.outcomes(preds), kind="outcomes", db=toy.db)
    again = ingest(toy.name, toy.outcomes(preds), kind="outcomes", db=toy.db)
    assert (first.status, first.rows_loaded, first.rows_duplicate) == ("committed", N, 0)
    assert (again.status, again.rows_loaded, again.rows_duplicate) == ("committed", 0, N)
    c = toy.counts()
    assert (c["outcomes_visible"], c["outcome_log"]) == (N, N)
    labels = store.read(lambda con: con.execute(
        f"SELECT prediction_id, label FROM {store.outcomes_view(toy.stem)} ORDER BY 1").fetchall(), toy.db)
    assert labels == [(f"p{i:06d}", i % 2) for i in range(N)]


def test_outcomes_of_unknown_predictions_are_quarantined(toy):
    """An outcome whose prediction id is not in the log is quarantined, naming the id."""
    preds = toy.predictions(N)
    ingest(toy.name, preds, db=toy.db)
    out = toy.outcomes(preds)
    out.loc[1, "prediction_id"] = "nobody"
    report = ingest(toy.name, out, kind="outcomes", db=toy.db)
    _assert_rejected(toy, report, rows=[2], column="prediction_id",
                     text="'nobody' has no prediction in the log of toy-model")
    assert toy.counts()["outcome_log"] == 0

    report = ingest(toy.name, out, kind="outcomes", db=toy.db, on_error="quarantine")
    assert (report.status, report.rows_loaded, report.rows_quarantined) == ("committed", N - 1, 1)
    assert toy.counts()["outcomes_visible"] == N - 1


def test_outcome_observed_before_its_prediction_is_quarantined(toy):
    """observed_at earlier than the prediction's predicted_at is quarantined with both times."""
    preds = toy.predictions(N)
    ingest(toy.name, preds, db=toy.db)
    out = toy.outcomes(preds)
    out.loc[3, "observed_at"] = preds.loc[3, "predicted_at"] - timedelta(hours=1)
    report = ingest(toy.name, out, kind="outcomes", db=toy.db, on_error="quarantine")
    assert (report.status, report.rows_loaded, report.rows_quarantined) == ("committed", N - 1, 1)
    q = quarantined_rows(report.ingest_id, toy.db)
    assert q["row_number"].tolist() == [4]
    assert list(q["reasons"][0]) == [
        "observed_at: '2025-03-01 07:03:00' is before the predicted_at of its prediction, '2025-03-01 08:03:00'"]
    assert report.problem_counts == {"observed_at: is before the predicted_at of its prediction,": 1}


def test_outcome_label_must_be_0_or_1(toy):
    """A label other than 0/1 is refused, naming the row."""
    preds = toy.predictions(N)
    ingest(toy.name, preds, db=toy.db)
    out = toy.outcomes(preds)
    out.loc[0, "label"] = 3
    report = ingest(toy.name, out, kind="outcomes", db=toy.db)
    _assert_rejected(toy, report, rows=[1], column="label", text="'3' is outside [0, 1]")


# --------------------------------------------------------------------------------------------------
# visibility of running ingests, and recovery


def _fake_running_ingest(toy, ingest_id: int = 999) -> None:
    """Leave behind what a process killed mid-ingest leaves: a 'running' ingest row and its log rows."""
    rows = toy.predictions(3, prefix="crash")

    def work(con):
        con.execute("INSERT INTO ingests (ingest_id, model_name, kind, source, actor, started_at, status) "
                    "VALUES (?, ?, 'predictions', 'crashed.parquet', 'cli:tests', now()::TIMESTAMP, 'running')",
                    [ingest_id, toy.name])
        con.register("crash_rows", rows)
        con.execute(f"INSERT INTO {store.log_table(toy.stem)} BY NAME SELECT *, ? AS ingest_id FROM crash_rows",
                    [ingest_id])

    store.write(work, toy.db)


def test_rows_of_a_running_ingest_are_invisible(toy):
    """Rows of an ingest still 'running' are in the log table but not in the predictions view."""
    ingest(toy.name, toy.predictions(N), db=toy.db)
    _fake_running_ingest(toy)
    assert toy.counts() == {"visible": N, "log": N + 3, "outcomes_visible": 0, "outcome_log": 0, "quarantine": 0}


def test_recover_interrupted_removes_rows_and_marks_failed(toy):
    """recover_interrupted deletes the rows of a 'running' ingest and marks it 'failed'."""
    ingest(toy.name, toy.predictions(N), db=toy.db)
    _fake_running_ingest(toy)
    assert recover_interrupted(toy.db) == [999]
    assert toy.counts() == {"visible": N, "log": N, "outcomes_visible": 0, "outcome_log": 0, "quarantine": 0}
    row = _history(toy.db).loc[999]
    assert row["status"] == "failed"
    assert row["message"] == "interrupted before it finished; its rows were removed"
    assert recover_interrupted(toy.db) == []
    audited = store.read(lambda con: con.execute("SELECT action, object_id, details FROM audit_log "
                                                 "WHERE action = 'ingest.interrupted'").fetchall(), toy.db)
    assert [(a, o) for a, o, _ in audited] == [("ingest.interrupted", "999")]  # once, by the recovery
    assert json.loads(audited[0][2])["outcome"] == "rolled back: its rows were removed"


def test_recovery_waits_for_an_ingest_that_is_still_running(toy):
    """recover_interrupted takes the ingest lock: while an ingest holds it, nothing is removed."""
    ingest(toy.name, toy.predictions(N), db=toy.db)
    _fake_running_ingest(toy)
    with _ingest_lock(toy.db, 5):  # what a live ingest in another process holds
        with pytest.raises(StoreBusyError, match="another ingest into vigil.duckdb has been running"):
            recover_interrupted(toy.db, lock_wait_seconds=0.2)
    assert _history(toy.db).loc[999, "status"] == "running"
    assert toy.counts()["log"] == N + 3
    assert recover_interrupted(toy.db) == [999]


def _ingest_then_die(db: str, source: str) -> None:
    """Child process: start an ingest and die (no clean-up at all) once its first batch is written."""
    ingest("toy-model", source, db=db, batch_rows=50, progress=lambda rows: os._exit(3))


def test_ingest_killed_midway_stays_invisible_and_is_recovered(toy, tmp_path):
    """A process killed after its first batch leaves a 'running' ingest whose rows no reader sees;
    recover_interrupted removes what it wrote, marks it 'failed', and the file can be sent again."""
    ingest(toy.name, toy.predictions(N, prefix="kept"), db=toy.db)
    before = toy.counts()
    source = tmp_path / "killed.parquet"
    toy.predictions(200).to_parquet(source)
    child = multiprocessing.get_context("spawn").Process(target=_ingest_then_die, args=(str(toy.db), str(source)))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 3

    history = _history(toy.db)
    killed = int(history.index.max())
    assert history.loc[killed, "status"] == "running"
    after_kill = toy.counts()
    assert after_kill["visible"] == before["visible"] == N
    # The first batch was on its way into the ingest's segment: at most a partial file that no view names.
    folder = toy.db.parent / f"{toy.db.stem}.logs" / toy.stem
    assert {p.name for p in folder.glob(f"{killed:010d}-*")} <= {f"{killed:010d}-00001.parquet.part"}
    assert after_kill["log"] == N

    assert recover_interrupted(toy.db) == [killed]
    assert _history(toy.db).loc[killed, "status"] == "failed"
    assert list(folder.glob(f"{killed:010d}-*")) == []
    assert toy.counts() == before
    report = ingest(toy.name, source, db=toy.db)
    assert (report.status, report.rows_loaded, report.rows_duplicate) == ("committed", 200, 0)


def test_next_ingest_recovers_an_interrupted_one(toy):
    """A new ingest first cleans up after a crashed one, so its ids can be sent again."""
    _fake_running_ingest(toy)
    report = ingest(toy.name, toy.predictions(3, prefix="crash"), db=toy.db)
    assert (report.status, report.rows_loaded, report.rows_duplicate) == ("committed", 3, 0)
    assert _history(toy.db).loc[999, "status"] == "failed"
    assert toy.counts()["visible"] == 3


def test_segments_are_written_in_time_order(toy):
    """Rows reach the Parquet segment in time order, whether or not the source was (row groups prune by time)."""
    import pyarrow.parquet as pq

    ordered = toy.predictions(N)
    shuffled = toy.predictions(N, prefix="s").sample(frac=1.0, random_state=3)
    assert not shuffled["predicted_at"].is_monotonic_increasing
    for frame in (ordered, shuffled):
        report = ingest(toy.name, frame, db=toy.db)
        assert report.status == "committed"
        folder = toy.db.parent / f"{toy.db.stem}.logs" / toy.stem
        segment = folder / f"{report.ingest_id:010d}-00001.parquet"
        times = pq.read_table(segment, columns=["predicted_at"]).column("predicted_at").to_pandas()
        assert times.is_monotonic_increasing and len(times) == N
