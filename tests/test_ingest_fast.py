"""The fast path of ingest validation gives the SQL checks' answer: the same typed values, or none at all.

:func:`analytics.ingest._fast.typed_batch` types a batch in Arrow when every row certainly passes.
For every batch it accepts, its values equal, bit for bit and type for type, those of the SQL casts
(:func:`analytics.ingest._checks.typed_select`); for every bad value the SQL path reports it accepts
nothing, so the ingest still quarantines the row with a reason naming the row and the column. The
pre-pass that finds repeated ids skips hashing only for ids that strictly increase; the ingest
writes its batches in turn to two segments.
"""

from __future__ import annotations

import decimal
from datetime import datetime, timezone

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from analytics import registry, store
from analytics.errors import InvalidInputError
from analytics.ingest import ingest, quarantined_rows
from analytics.ingest._checks import typed_select
from analytics.ingest._fast import first_invalid_text, nothing_to_trim, typed_batch
from analytics.ingest._ingest import FUTURE_TOLERANCE, _rules

N = 12
LATEST = datetime.now(timezone.utc).replace(tzinfo=None) + FUTURE_TOLERANCE


# --------------------------------------------------------------------------------------------------
# helpers


def _rules_of(toy):
    info = store.read(lambda con: registry.get_model(con, toy.name), toy.db)
    return _rules("predictions", info, toy.versions)


def _table(toy, n: int = N) -> pa.Table:
    """Valid toy predictions as an Arrow table with plain types (string, not large_string), with the
    optional ``request_id`` column left out by the source and added as NULL by the ingest."""
    table = pa.Table.from_pandas(toy.predictions(n), preserve_index=False)
    table = table.append_column("request_id", pa.nulls(n, pa.string()))
    return table.cast(pa.schema([pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type)
                                 for f in table.schema]))


def _numbered(table: pa.Table) -> pa.RecordBatch:
    batch = table.combine_chunks().to_batches()[0]
    return batch.append_column("__row", pa.array(np.arange(1, batch.num_rows + 1)))


def _with(table: pa.Table, column: str, values) -> pa.Table:
    """``table`` with one column replaced (an Arrow array, or Python values of the column's type)."""
    array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(
        values, table.schema.field(column).type)
    return table.set_column(table.schema.get_field_index(column), column, array)


def _cell(table: pa.Table, column: str, index: int, value) -> pa.Table:
    values = table.column(column).to_pylist()
    values[index] = value
    return _with(table, column, values)


def _sql_path(rules, batch: pa.RecordBatch) -> pa.Table:
    """What the SQL checks give for the batch: ``__row``, the typed columns and ``__reasons``."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("batch_src", batch)
    now = f"TIMESTAMP '{LATEST.isoformat(sep=' ')}'"
    return con.execute(typed_select(rules, batch.schema, "batch_src", now_literal=now)).to_arrow_table()


def _decimals(n: int, precision: int, scale: int, seed: int, top: int | None = None) -> pa.Array:
    """``n`` random non-negative decimals below ``top`` (unscaled; default: the largest the precision holds)."""
    rng = np.random.default_rng(seed)
    top = top or 10 ** min(precision, 18) - 1
    return pa.array([decimal.Decimal(int(v)).scaleb(-scale) for v in rng.integers(0, top, n)],
                    pa.decimal128(precision, scale))


# --------------------------------------------------------------------------------------------------
# accepted batches: the same values as the SQL path


def _paris(table):
    utc = table.column("predicted_at").cast(pa.timestamp("ns", tz="UTC"))
    return _with(table, "predicted_at", utc.cast(pa.timestamp("ns", tz="Europe/Paris")))


CLEAN_VARIANTS = {
    "types as pandas gives them": lambda t: t,
    "large_string text": lambda t: t.cast(pa.schema([pa.field(f.name, pa.large_string() if f.type == pa.string()
                                                              else f.type) for f in t.schema])),
    "nulls in nullable columns": lambda t: _cell(_cell(_cell(t, "income", 2, None), "region", 4, None), "AGE", 0, None),
    "int32 integer, float32 double, int8 decision": lambda t: _with(_with(_with(
        t, "AGE", t.column("AGE").cast(pa.int32())), "income", t.column("income").cast(pa.float32())),
        "decision", t.column("decision").cast(pa.int8())),
    "integer given for a double": lambda t: _with(t, "income", pa.array(range(N), pa.int64())),
    "timestamps with a time zone": _paris,
    "timestamps in milliseconds": lambda t: _with(t, "predicted_at", t.column("predicted_at").cast(pa.timestamp("ms"))),
    "decimal cost (6, 5)": lambda t: _with(t, "cost", _decimals(N, 6, 5, 1)),
    "decimal cost (18, 4) below 2^53 unscaled": lambda t: _with(t, "cost", _decimals(N, 18, 4, 2, top=2**53 - 1)),
    "decimal cost (12, 2) with a null": lambda t: _cell(_with(t, "cost", _decimals(N, 12, 2, 3)), "cost", 5, None),
    "text with spaces inside and non-ASCII letters": lambda t: _with(
        t, "region", ["Zürich Nord", "café", "日本", "a\tb"] * (N // 4)),
    "out of time order": lambda t: t.take(np.random.default_rng(5).permutation(N)),
}


@pytest.mark.parametrize("variant", list(CLEAN_VARIANTS))
def test_accepted_batch_has_the_values_of_the_sql_path(toy, variant):
    """A clean typed batch is accepted, with the values and types the SQL casts give, bit for bit."""
    rules = _rules_of(toy)
    batch = _numbered(CLEAN_VARIANTS[variant](_table(toy)))
    fast = typed_batch(rules, batch, latest=LATEST)
    assert fast is not None
    slow = _sql_path(rules, batch)
    assert slow.column("__reasons").to_pylist() == [[]] * N
    assert fast.schema == slow.drop_columns(["__reasons"]).schema
    assert fast.equals(slow.drop_columns(["__reasons"])), variant


@pytest.mark.parametrize(("precision", "scale"), [(6, 5), (9, 2), (15, 3), (18, 4), (18, 17)])
def test_decimals_become_the_doubles_duckdb_gives(toy, precision, scale):
    """Arrow's own decimal cast differs from DuckDB's in the last bit for many values; the fast path does not.

    Unscaled values beyond 2^53 (DuckDB converts them another way) send the batch to the SQL path.
    """
    rules = _rules_of(toy)
    n = 5000
    table = _table(toy, n)
    table = _with(table, "cost", _decimals(n, precision, scale, precision * 100 + scale, top=min(10**precision, 2**53)))
    batch = _numbered(table)
    fast = typed_batch(rules, batch, latest=LATEST)
    slow = _sql_path(rules, batch)
    assert fast is not None
    assert np.array_equal(fast.column("cost").to_numpy().view(np.uint64),
                          slow.column("cost").to_numpy().view(np.uint64))


# --------------------------------------------------------------------------------------------------
# declined batches: every problem the SQL path reports, and every value it converts differently

#: case -> (change to a clean table, what the SQL path reports for row 4, or None if the row is valid)
DECLINED = {
    "NaN in a double": (lambda t: _cell(t, "income", 3, float("nan")), "income: 'nan' is not allowed"),
    "inf in a double": (lambda t: _cell(t, "latency_ms", 3, float("inf")), "latency_ms: 'inf' is not allowed"),
    "-inf in a double": (lambda t: _cell(t, "income", 3, float("-inf")), "income: '-inf' is not allowed"),
    "NaN in a float32 double": (
        lambda t: _cell(_with(t, "income", t.column("income").cast(pa.float32())), "income", 3, float("nan")),
        "income: 'nan' is not allowed"),
    "null in a required double": (lambda t: _cell(t, "score", 3, None), "score: missing value"),
    "null in a required id": (lambda t: _cell(t, "prediction_id", 3, None), "prediction_id: missing value"),
    "null in a required timestamp": (lambda t: _cell(t, "predicted_at", 3, None), "predicted_at: missing value"),
    "empty text in a required column": (lambda t: _cell(t, "model_version", 3, ""), "model_version: missing value"),
    "blank text in a required column": (lambda t: _cell(t, "deployment_role", 3, "   "), "deployment_role: missing value"),
    "unknown model version": (lambda t: _cell(t, "model_version", 3, "v9"), "model_version: 'v9' is not one of: v1, v2"),
    "unknown deployment role": (lambda t: _cell(t, "deployment_role", 3, "primary"),
                                "deployment_role: 'primary' is not one of"),
    "future timestamp": (lambda t: _cell(t, "predicted_at", 3, datetime(2099, 1, 1)),
                         "predicted_at: '2099-01-01 00:00:00' is in the future"),
    "future timestamp with a time zone": (
        lambda t: _cell(_paris(t), "predicted_at", 3, datetime(2099, 1, 1, tzinfo=timezone.utc)),
        "predicted_at: '2099-01-01 00:00:00' is in the future"),
    "score above 1": (lambda t: _cell(t, "score", 3, 1.5), "score: '1.5' is outside [0.0, 1.0]"),
    "negative latency": (lambda t: _cell(t, "latency_ms", 3, -1.0), "latency_ms: '-1.0' is outside [0.0, inf]"),
    "decision 2": (lambda t: _cell(t, "decision", 3, 2), "decision: '2' is outside [0, 1]"),
    "decision too large for its type": (lambda t: _cell(t, "decision", 3, 300), "decision: '300' is not a valid 0 or 1"),
    "unsigned integer beyond BIGINT": (
        lambda t: _with(t, "AGE", pa.array([30] * 3 + [2**63] + [30] * (N - 4), pa.uint64())),
        "AGE: '9223372036854775808' is not a valid whole number"),
    # Valid rows whose values the fast path would not convert exactly as DuckDB does:
    "text to trim (space)": (lambda t: _cell(t, "model_version", 3, " v1"), None),
    "text to trim (no-break space)": (lambda t: _cell(t, "region", 3, "north\u00a0"), None),
    "text to trim (ideographic space)": (lambda t: _cell(t, "prediction_id", 3, "\u3000p000003"), None),
    "integer beyond 2^53 given for a double": (
        lambda t: _with(t, "income", pa.array([1] * 3 + [2**53 + 1] + [1] * (N - 4), pa.int64())), None),
    "nanoseconds in a timestamp": (lambda t: _plus_one_nanosecond(t, 3), None),
    "decimal wider than 18 digits": (lambda t: _with(t, "cost", _decimals(N, 38, 10, 7)), None),
    "decimal beyond 2^53 unscaled": (
        lambda t: _with(t, "cost", pa.array([decimal.Decimal(2**53 + 7).scaleb(-4)] * N, pa.decimal128(18, 4))), None),
    "timestamps as text": (lambda t: _with(t, "predicted_at", t.column("predicted_at").cast(pa.string())), None),
    "whole numbers as doubles": (lambda t: _with(t, "AGE", t.column("AGE").cast(pa.float64())), None),
    "booleans as text": (lambda t: _with(t, "is_member", t.column("is_member").cast(pa.string())), None),
    "dictionary-encoded text": (lambda t: _with(t, "region", pc.dictionary_encode(t.column("region"))), None),
}


def _plus_one_nanosecond(table: pa.Table, index: int) -> pa.Table:
    """``table`` with one timestamp a nanosecond later (no longer a whole microsecond)."""
    nanos = table.column("predicted_at").cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy().copy()
    nanos[index] += 1
    return _with(table, "predicted_at", pa.array(nanos).cast(pa.timestamp("ns")))


@pytest.mark.parametrize("case", list(DECLINED))
def test_fast_path_declines_what_it_cannot_vouch_for(toy, case):
    """A bad value, or one the fast path would convert differently, sends the batch to the SQL checks."""
    change, reason = DECLINED[case]
    rules = _rules_of(toy)
    batch = _numbered(change(_table(toy)))
    assert typed_batch(rules, batch, latest=LATEST) is None
    reasons = _sql_path(rules, batch).column("__reasons").to_pylist()
    if reason is None:
        assert reasons == [[]] * N
    else:
        assert [i for i, r in enumerate(reasons) if r] == [3]
        assert any(r.startswith(reason) for r in reasons[3]), reasons[3]


@pytest.mark.parametrize("case", ["NaN in a double", "null in a required id", "future timestamp",
                                  "unknown model version", "decision too large for its type",
                                  "text to trim (no-break space)", "decimal wider than 18 digits"])
def test_typed_parquet_gives_the_same_outcome_as_before(toy, tmp_path, case):
    """Through a Parquet file: bad rows are quarantined naming row 4 and the column; valid doubtful rows land."""
    change, reason = DECLINED[case]
    path = tmp_path / "typed.parquet"
    pq.write_table(change(_table(toy)), path)
    report = ingest(toy.name, path, db=toy.db)
    if reason is None:
        assert (report.status, report.rows_loaded) == ("committed", N)
        return
    assert (report.status, report.rows_loaded, report.rows_quarantined) == ("rejected", 0, 1)
    assert report.problems[0].startswith(f"row 4: {reason}")
    q = quarantined_rows(report.ingest_id, toy.db)
    assert q["row_number"].tolist() == [4]
    assert toy.counts()["log"] == 0


def test_every_space_duckdb_trims_is_seen(toy):
    """Over every Unicode code point: each one DuckDB's trim() removes makes the fast path decline."""
    con = duckdb.connect()
    trimmed = [r[0] for r in con.execute(
        "SELECT i FROM range(1, 1114112) t(i) WHERE (i < 55296 OR i > 57343) "
        "AND (trim(chr(i::INTEGER) || 'a') <> chr(i::INTEGER) || 'a' OR trim('a' || chr(i::INTEGER)) <> 'a' || chr(i::INTEGER))"
    ).fetchall()]
    assert 0x20 in trimmed and 0xA0 in trimmed and 0x3000 in trimmed
    for code in trimmed:
        for text in (chr(code) + "a", "a" + chr(code), chr(code)):
            assert not nothing_to_trim(pa.array(["x", text, "y"])), hex(code)
            assert not nothing_to_trim(pa.array(["x", None, text], pa.large_string())), hex(code)
    assert nothing_to_trim(pa.array(["München", "café", "日本", "a b", "tab\t", None]))
    assert not nothing_to_trim(pa.array(["a", ""]))
    # A sliced array is read from its own offset.
    assert nothing_to_trim(pa.array([" padded", "a", "b"]).slice(1))
    assert not nothing_to_trim(pa.array([" padded", "a", "b"]).slice(0, 2))


# --------------------------------------------------------------------------------------------------
# whole ingests through the fast path, the SQL path and both


def test_batches_of_both_paths_land_in_one_ingest(toy, tmp_path):
    """A file whose middle batch needs trimming (SQL path) and whose others do not (fast path) lands whole."""
    table = _cell(_table(toy, 9), "model_version", 4, " v1 ")
    path = tmp_path / "mixed.parquet"
    pq.write_table(table, path)
    report = ingest(toy.name, path, db=toy.db, batch_rows=3)
    assert (report.status, report.rows_loaded) == ("committed", 9)
    versions = store.read(lambda con: con.execute(
        f"SELECT prediction_id, model_version FROM {store.predictions_view(toy.stem)} ORDER BY 1").fetchall(), toy.db)
    assert versions[4] == ("p000004", "v1")
    assert [v for _, v in versions] == ["v1", "v2"] * 4 + ["v1"]


def test_batches_go_in_turn_to_two_segments(toy):
    """Four batches: parts 1 and 2 get two each, both registered, every row visible once."""
    report = ingest(toy.name, toy.predictions(10), db=toy.db, batch_rows=3)
    assert (report.status, report.rows_loaded) == ("committed", 10)
    segments = store.read(lambda con: con.execute(
        "SELECT part, rows, path FROM log_segments WHERE ingest_id = ? ORDER BY part", [report.ingest_id]).fetchall(),
        toy.db)
    assert [(part, rows) for part, rows, _ in segments] == [(1, 6), (2, 4)]
    assert all(path.endswith(f"{report.ingest_id:010d}-{part:05d}.parquet") for part, _, path in segments)
    assert toy.counts() == {"visible": 10, "log": 10, "outcomes_visible": 0, "outcome_log": 0, "quarantine": 0}
    again = ingest(toy.name, toy.predictions(12), db=toy.db, batch_rows=3)
    assert (again.rows_loaded, again.rows_duplicate) == (2, 10)


# --------------------------------------------------------------------------------------------------
# repeated ids: ids in order skip hashing only when they cannot repeat


def _ids_case(toy, ids: list) -> pa.Table:
    table = _table(toy, len(ids))
    return _with(table, "prediction_id", pa.array(ids))


REPEATS = {
    "adjacent repeat in ordered ids": (["a1", "a2", "a2", "a3", "a4", "a5"], [2, 3]),
    "repeat across a batch boundary": (["a1", "a2", "a3", "a3", "a4", "a5"], [3, 4]),  # batch_rows=3 below
    "same id once padded": (["a1", "a2", "a2 ", "a3", "a4", "a5"], [2, 3]),
    "same id after a no-break space": (["a1", "a2", "a2\u00a0", "a3", "a4", "a5"], [2, 3]),
    "integer ids with a repeat": ([1, 2, 3, 3, 4, 5], [3, 4]),
    "ids going back": (["a1", "a3", "a2", "a4", "a1", "a5"], [1, 5]),
}


@pytest.mark.parametrize("case", list(REPEATS))
def test_repeated_ids_are_found_whatever_their_order(toy, tmp_path, case):
    """Every copy of a repeated id is quarantined, and the others land."""
    ids, rows = REPEATS[case]
    path = tmp_path / "ids.parquet"
    pq.write_table(_ids_case(toy, ids), path)
    report = ingest(toy.name, path, db=toy.db, batch_rows=3, on_error="quarantine")
    assert (report.status, report.rows_loaded, report.rows_quarantined) == ("committed", len(ids) - 2, 2)
    q = quarantined_rows(report.ingest_id, toy.db)
    assert q["row_number"].tolist() == rows
    assert all("appears more than once in this source" in r[0] for r in q["reasons"])


@pytest.mark.parametrize("ids", [["a1", "a2", "a3", "b1", "b2", "c"], [3, 7, 11, 12, 40, 41]])
def test_ordered_unique_ids_land(toy, tmp_path, ids):
    path = tmp_path / "ids.parquet"
    pq.write_table(_ids_case(toy, ids), path)
    report = ingest(toy.name, path, db=toy.db, batch_rows=2)
    assert (report.status, report.rows_loaded) == ("committed", 6)
    stored = store.read(lambda con: con.execute(
        f"SELECT prediction_id FROM {store.predictions_view(toy.stem)} ORDER BY predicted_at").fetchall(), toy.db)
    assert [r[0] for r in stored] == [str(i) for i in ids]


# --------------------------------------------------------------------------------------------------
# text that is not UTF-8: Arrow's Parquet reader lets it through, a segment must not


def _invalid_utf8(values: list[str], index: int) -> pa.Array:
    """A text column whose value at ``index`` is replaced by bytes that are not UTF-8."""
    raw = [v.encode() for v in values]
    raw[index] = b"\xffbad"
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in raw])]).astype(np.int32)
    return pa.Array.from_buffers(pa.string(), len(raw), [None, pa.py_buffer(offsets.tobytes()),
                                                         pa.py_buffer(b"".join(raw))])


@pytest.mark.parametrize("column", ["region", "prediction_id"])
@pytest.mark.parametrize("batch_rows", [100, 5])
def test_text_that_is_not_utf8_rejects_the_file_naming_row_and_column(toy, tmp_path, column, batch_rows):
    """A value that is not UTF-8 rejects the source with a message naming its row and column; nothing lands."""
    table = _table(toy)
    table = _with(table, column, _invalid_utf8(table.column(column).to_pylist(), 6))
    path = tmp_path / "latin1.parquet"
    pq.write_table(table, path)
    assert typed_batch(_rules_of(toy), _numbered(table), latest=LATEST) is None
    with pytest.raises(InvalidInputError, match=f"row 7, column '{column}': the value is not valid UTF-8 text"):
        ingest(toy.name, path, db=toy.db, batch_rows=batch_rows)
    assert toy.counts() == {"visible": 0, "log": 0, "outcomes_visible": 0, "outcome_log": 0, "quarantine": 0}


def test_first_invalid_text_finds_the_value():
    values = ["a", "bb", "ccc", "d", "é", "f", "g", "h", "i"]
    for index in range(len(values)):
        assert first_invalid_text(_invalid_utf8(values, index)) == index
        assert first_invalid_text(_invalid_utf8(values, index).slice(index)) == 0
    assert first_invalid_text(pa.array(values)) is None
