"""Ingesting predictions and outcomes: validate, quarantine, de-duplicate, land whole or not at all.

How one ingest runs
-------------------
1. Under an exclusive ingest lock (one ingest per store at a time), rows of any earlier ingest that
   was interrupted are removed, and an ``ingests`` row is opened with status ``running``.
2. The header is checked against the model's declared schema: a missing, extra or misnamed column
   rejects the whole source before any row is read.
3. A first pass reads only the id column and finds ids that appear more than once in the source
   (ids that strictly increase, as serving systems usually write them, cannot repeat; otherwise
   every id is hashed).
4. The main pass streams the source in batches. A batch whose columns already have the declared
   types and certainly pass every check is typed in Arrow (:mod:`analytics.ingest._fast`); any
   other batch is cast and checked in a private in-memory DuckDB (no store lock held), which names
   each failing row, column and problem. Failing rows go to the ``quarantine`` table with their
   reasons; rows whose id is already stored are skipped (a re-sent file does not duplicate rows).
   Good predictions are written as Parquet segments of the model's log (see
   :mod:`analytics.store._segments`; batches go in turn to two segments written on two threads),
   still invisible; good outcomes are appended to the outcome table in a short transaction,
   hidden from readers by the ``outcomes_<stem>`` view while the ingest runs.
5. At the end the ingest is committed (its segments are registered and the predictions view
   redefined over them), or, when rows failed and ``on_error="reject"`` (the default), every row
   and file it wrote is removed and it is marked ``rejected``. Its audit row is written in the same
   transaction, so a reader sees the ingest whole or not at all.
"""

from __future__ import annotations

import difflib
import fcntl
import json
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, fields, make_dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics import audit, config
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, StoreBusyError
from analytics.ingest._checks import Rules, typed_select
from analytics.ingest._roles import RoleCheck, role_check, role_mismatches
from analytics.ingest._fast import first_invalid_text, nothing_to_trim, typed_batch
from analytics.ingest._sources import Source, open_source, with_missing_columns
from analytics.logschema import DEPLOYMENT_ROLES, OPTIONAL_PREDICTION_COLUMNS, OUTCOME_COLUMNS, quote
from analytics.registry import ModelInfo, get_model
from analytics.roles import Actor, require, system_actor
from analytics.store import held, log_table, outcome_table, predictions_view, read, write
from analytics.store import (
    ROW_GROUP_ROWS,
    Segment,
    delete_ingest_files,
    register_segments,
    segments_dir,
    store_path,
    SegmentWriter,
)

Kind = Literal["predictions", "outcomes"]
OnError = Literal["reject", "quarantine"]
DEFAULT_BATCH_ROWS = 2 * ROW_GROUP_ROWS  # 245,760: a batch fills whole row groups of a segment, none small
WRITER_THREADS = 2  # segments written at once: one per core of the machines Vigil targets
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_PROBLEMS_LISTED = 20


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did.

    Attributes
    ----------
    status : {"committed", "rejected"}
        ``committed``: the loaded rows are visible. ``rejected``: nothing was loaded.
    rows_read, rows_loaded, rows_duplicate, rows_quarantined : int
        Rows in the source; rows appended; rows skipped because their id was already stored;
        rows sent to quarantine with their reasons.
    rows_role_mismatch : int
        New predictions whose ``deployment_role`` disagrees with the deployment history at their
        time (loaded, or quarantined, as the setting ``ingest.role_mismatch_policy`` says).
    role_warnings : list of str
        The first of them, naming the row, when they were loaded (policy ``warn``).
    problems : list of str
        The first problems, each naming the row and the column.
    problem_counts : dict
        Every distinct problem (reason without the value) and how many rows had it.
    """

    ingest_id: int
    model: str
    kind: str
    source: str
    status: str = "running"
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    problems: list[str] = field(default_factory=list)
    problem_counts: dict[str, int] = field(default_factory=dict)
    rows_role_mismatch: int = 0
    role_warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the ingest committed and no row was quarantined."""
        return self.status == "committed" and self.rows_quarantined == 0

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of wall time."""
        return self.rows_read / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """A few lines for a terminal or a log."""
        lines = [
            f"ingest {self.ingest_id} of {self.kind} for {self.model} from {self.source}: {self.status.upper()}",
            f"  rows read {self.rows_read:,}, loaded {self.rows_loaded:,}, already stored {self.rows_duplicate:,}, "
            f"quarantined {self.rows_quarantined:,} ({self.seconds:.2f} s, {self.rows_per_second:,.0f} rows/s)",
        ]
        if self.message:
            lines.append(f"  {self.message}")
        if self.rows_role_mismatch:
            kept = "loaded" if self.role_warnings else "quarantined"
            lines.append(f"  warning: {self.rows_role_mismatch:,} rows have a deployment_role that disagrees with "
                         f"the deployment history at their time ({kept}; setting ingest.role_mismatch_policy)")
            lines += [f"    {w}" for w in self.role_warnings[:MAX_PROBLEMS_LISTED]]
        if self.problem_counts:
            lines.append("  problems (rows):")
            lines += [f"    {count:>10,}  {reason}" for reason, count in sorted(
                self.problem_counts.items(), key=lambda kv: -kv[1])[:MAX_PROBLEMS_LISTED]]
            lines.append("  first rows:")
            lines += [f"    {p}" for p in self.problems[:MAX_PROBLEMS_LISTED]]
        return "\n".join(lines)


def _report(tally: object) -> IngestReport:
    """The finished ingest as its frozen report."""
    return IngestReport(**{f.name: getattr(tally, f.name) for f in fields(IngestReport)})


#: The counts of an ingest while it runs: the fields (and defaults) of :class:`IngestReport`, mutable, so the
#: two can never list different fields; ``tally.report()`` makes the frozen report at the end.
_IngestTally = make_dataclass(
    "_IngestTally", [(f.name, f.type, field(default=f.default, default_factory=f.default_factory))
                     for f in fields(IngestReport)], namespace={"report": _report})


# --------------------------------------------------------------------------------------------------
# The ingest lock and recovery of interrupted ingests


@contextmanager
def _ingest_lock(db: Path, wait_seconds: float) -> Iterator[None]:
    db.parent.mkdir(parents=True, exist_ok=True)
    handle = open(f"{db}.ingest.lock", "a+")
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreBusyError(
                        f"another ingest into {db.name} has been running for over {wait_seconds:.0f} s; "
                        "wait for it to finish and try again"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        handle.close()


def recover_interrupted(db: str | Path | None = None, *, lock_wait_seconds: float = 600.0) -> list[int]:
    """Remove the rows of ingests left ``running`` by a process that died; return their ids.

    Takes the ingest lock first, so an ingest still running in another process is waited for, never
    mistaken for an interrupted one (``ingest`` runs the same recovery under its own lock).

    Raises
    ------
    StoreBusyError
        When another ingest holds the lock for longer than ``lock_wait_seconds``.
    """
    target = Path(db) if db is not None else config.db_path()
    with _ingest_lock(target, lock_wait_seconds):
        return _recover_interrupted(target)


def _recover_interrupted(db: Path) -> list[int]:
    """The recovery itself; the caller holds the ingest lock."""

    def work(con: duckdb.DuckDBPyConnection) -> list[int]:
        stale = con.execute("SELECT ingest_id, model_name, kind, source, actor, started_at FROM ingests "
                            "WHERE status = 'running'").fetchall()
        for ingest_id, model_name, kind, source, started_by, started_at in stale:
            stem = con.execute("SELECT table_stem FROM models WHERE model_name = ?", [model_name]).fetchone()
            if stem and kind == "predictions":
                delete_ingest_files(store_path(con), stem[0], ingest_id)
                # Stores upgraded from schema 3 may still hold a running ingest's rows in the table.
                con.execute(f"DELETE FROM {log_table(stem[0])} WHERE ingest_id = ?", [ingest_id])
            elif stem:
                con.execute(f"DELETE FROM {outcome_table(stem[0])} WHERE ingest_id = ?", [ingest_id])
            con.execute(
                "UPDATE ingests SET status = 'failed', finished_at = now()::TIMESTAMP, "
                "message = 'interrupted before it finished; its rows were removed' WHERE ingest_id = ?",
                [ingest_id],
            )
            audit.record(con, system_actor(), "ingest.interrupted", "ingest", str(ingest_id),
                         {"model": model_name, "kind": kind, "source": source, "started_by": started_by,
                          "started_at": started_at, "outcome": "rolled back: its rows were removed"})
        return [s[0] for s in stale]

    return write(work, db)


# --------------------------------------------------------------------------------------------------
# Schema checks


#: A header check names at most this many unexpected columns (a wrong file can have thousands).
_NAMED_AT_MOST = 20


def _check_header(columns: list[str], expected: dict[str, str], model: str, kind: str) -> None:
    present = set(columns)
    missing = [c for c in expected if c not in present]
    extra = [c for c in columns if c not in expected]
    repeated = sorted(name for name, n in Counter(columns).items() if n > 1)
    problems = []
    for name in extra[:_NAMED_AT_MOST]:
        close = difflib.get_close_matches(name, missing, n=1, cutoff=0.6) or [
            m for m in missing if m.lower() == name.lower()]
        hint = f"; did you mean {close[0]!r}?" if close else " (not in the model's declared schema)"
        problems.append(f"unexpected column {name!r}{hint}")
    problems += [f"missing column {name!r}" for name in missing]
    if len(extra) > _NAMED_AT_MOST:
        problems.append(f"and {len(extra) - _NAMED_AT_MOST:,} more unexpected columns")
    problems += [f"column {name!r} appears more than once" for name in repeated[:_NAMED_AT_MOST]]
    if problems:
        raise InvalidInputError(
            f"the {kind} do not match the declared schema of {model!r}: " + "; ".join(problems)
            + f". Expected columns: {', '.join(expected)}"
        )


def _rules(kind: Kind, info: ModelInfo, versions: tuple[str, ...]) -> Rules:
    if kind == "predictions":
        columns = info.schema.prediction_columns()
        required = {"prediction_id", "predicted_at", "model_version", "deployment_role", "score", "decision",
                    "latency_ms"} | {c.name for c in info.schema.columns if not c.nullable}
        return Rules(
            columns=columns,
            required=frozenset(required),
            allowed={"model_version": versions, "deployment_role": DEPLOYMENT_ROLES},
            ranges={"score": (0.0, 1.0), "decision": (0, 1), "latency_ms": (0.0, None), "cost": (0.0, None)},
            not_in_future=frozenset({"predicted_at"}),
        )
    return Rules(
        columns=dict(OUTCOME_COLUMNS),
        required=frozenset({"prediction_id", "observed_at", "label"}),
        ranges={"label": (0, 1)},
        not_in_future=frozenset({"observed_at"}),
    )


# --------------------------------------------------------------------------------------------------
# The run


class _Run:
    """State of one ingest while it streams; see the module docstring for the steps."""

    def __init__(self, db: Path, info: ModelInfo, kind: Kind, source: Source, rules: Rules, report: _IngestTally,
                 on_error: OnError, batch_rows: int, progress: Callable[[int], None] | None) -> None:
        self.db, self.info, self.kind, self.source, self.rules = db, info, kind, source, rules
        self.report, self.on_error, self.batch_rows, self.progress = report, on_error, batch_rows, progress
        self.table = outcome_table(info.stem)
        self.columns = list(rules.columns)
        self.segments: list[Segment] = []
        # Parquet encoding releases the GIL, and it is the largest cost of an ingest: batches go in
        # turn to WRITER_THREADS segments, each written on its own thread while the next batch is read
        # and checked. Each writer has at most one batch waiting.
        directory = segments_dir(db.resolve(), info.stem)
        self.writers = ([SegmentWriter(directory, report.ingest_id, part) for part in range(1, WRITER_THREADS + 1)]
                        if kind == "predictions" else [])
        self._write_threads = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="vigil-segment")
        self._pending: list[Future | None] = [None] * len(self.writers)
        self._turn = 0
        self.stored: list[tuple[Path, str, str]] = []  # committed segments: path, min id, max id
        self.work = config.cap_threads(duckdb.connect())  # private, in memory: validation holds no store lock
        self.work.execute("SET TimeZone = 'UTC'")
        self.latest = utc_now() + FUTURE_TOLERANCE
        self.now_literal = f"TIMESTAMP '{self.latest.isoformat(sep=' ')}'"
        self.rejecting = False
        self.role_check: RoleCheck | None = None

    # -- pass 1: ids that occur more than once in the source ------------------------------------
    def find_repeated_ids(self) -> None:
        self.any_repeated = not self._ids_strictly_increase() and self._hash_ids()
        typed = ", ".join(f"{quote(c)} {t}" for c, t in self.rules.columns.items())
        self.work.execute(f"CREATE TABLE held (__row BIGINT, {typed})")
        # Rows that failed validation but whose id hash repeats: a valid copy of their id is a repeat too.
        self.work.execute("CREATE TABLE held_failed (__row BIGINT, prediction_id VARCHAR)")

    def _ids_strictly_increase(self) -> bool:
        """Whether every id is present, needs no trimming and is greater than the one before: then none repeats.

        Serving systems usually write their ids in order, so this one cheap pass over the id column
        usually spares hashing every id. Any doubt (a missing id, a value to trim, a type other
        than text or integer, one id not above the last) answers False, and the ids are hashed.
        """
        previous = None
        for batch in self.source.batches(["prediction_id"], self.batch_rows):
            ids = batch.column(0)
            if len(ids) == 0:
                continue
            kind = ids.type
            if ids.null_count or not (pa.types.is_integer(kind) or (
                    (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and nothing_to_trim(ids))):
                return False
            if len(ids) > 1 and not pc.all(pc.greater(ids.slice(1), ids.slice(0, len(ids) - 1))).as_py():
                return False
            if previous is not None and not pc.greater(ids[0], previous).as_py():
                return False
            previous = ids[len(ids) - 1]
        return True

    def _hash_ids(self) -> bool:
        """Hash every id of the source and keep the hashes that occur more than once; return whether any does.

        The hashes (8 bytes an id) are sorted in NumPy: a hash aggregate in DuckDB held several
        times as much memory (over 1 GB of peak for 10 M ids).
        """
        chunks = []
        first_row = 1
        for batch in self.source.batches(["prediction_id"], self.batch_rows):
            self._require_utf8(batch, first_row)
            first_row += batch.num_rows
            self.work.register("id_batch", batch)
            chunks.append(self.work.execute(
                "SELECT hash(trim(CAST(prediction_id AS VARCHAR))) AS h FROM id_batch WHERE prediction_id IS NOT NULL"
            ).fetchnumpy()["h"])
            self.work.unregister("id_batch")
        hashes = np.concatenate(chunks) if chunks else np.empty(0, np.uint64)
        del chunks
        hashes.sort()
        repeated = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
        del hashes
        self.work.register("repeated_array", pa.table({"h": pa.array(repeated, pa.uint64())}))
        self.work.execute("CREATE TABLE repeated_hashes AS SELECT h FROM repeated_array")
        self.work.unregister("repeated_array")
        return len(repeated) > 0

    # -- pass 2: validate and land each batch ----------------------------------------------------
    def run_batches(self) -> None:
        start_row = 1
        for batch in self.source.batches(self.columns, self.batch_rows):
            if batch.num_rows == 0:
                continue
            numbered = batch.append_column("__row", pa.array(np.arange(start_row, start_row + batch.num_rows)))
            start_row += batch.num_rows
            self.report.rows_read += batch.num_rows
            self._process(numbered)
            if self.progress:
                self.progress(self.report.rows_read)
        if self.report.rows_read == 0:
            raise InvalidInputError(f"{self.source.description} has a header but no rows: nothing to ingest")
        self._resolve_held()
        self._wait_for_writes()
        # Writers receive batches in turn, so a writer holds rows only if every earlier one does:
        # the parts of the closed segments are 1, 2, ... without a gap.
        self.segments += [s for s in (w.close() for w in self.writers) if s is not None]

    def _process(self, batch: pa.RecordBatch) -> None:
        """Check one batch and land it: its good rows are loaded, its failing rows quarantined.

        A typed batch that certainly passes takes the fast path (:mod:`analytics.ingest._fast`);
        any other batch is checked in a single query and split in Arrow: failing, held, good rows.
        Predictions leave in time order, so each Parquet row group covers a narrow time range
        (pruning); a batch already in time order (as serving logs usually are) is not sorted again.
        """
        fast = None if self.any_repeated else typed_batch(self.rules, batch, latest=self.latest)
        if fast is not None:
            if self.kind == "predictions" and not _in_time_order(fast.column("predicted_at")):
                fast = fast.sort_by("predicted_at")
            self._land(fast, _EMPTY_BAD)
            return
        self._require_utf8(batch, batch.column("__row")[0].as_py())
        self.work.register("batch_src", batch)
        sql = typed_select(self.rules, batch.schema, "batch_src", now_literal=self.now_literal)
        held_flag = ("hash(prediction_id) IN (SELECT h FROM repeated_hashes)" if self.any_repeated
                     else "FALSE")
        needs_sort = self.kind == "predictions" and not _in_time_order(batch.column(batch.schema.get_field_index("predicted_at")))
        order = "ORDER BY predicted_at NULLS LAST" if needs_sort else ""
        checked = self.work.execute(f"SELECT *, {held_flag} AS __held FROM ({sql}) {order}").to_arrow_table()
        self.work.unregister("batch_src")
        failing = pc.greater(pc.list_value_length(checked.column("__reasons")), 0)
        held = checked.column("__held")
        bad = self._with_raw(
            checked.filter(failing).select(["__row", "prediction_id", "__reasons"]).sort_by("__row"), batch)
        good = checked.drop_columns(["__reasons", "__held"])
        if self.any_repeated:
            passing = pc.invert(failing)
            held_good = good.filter(pc.and_(passing, held))
            held_failed = checked.filter(pc.and_(failing, held)).select(["__row", "prediction_id"])
            for table, rows in (("held", held_good), ("held_failed", held_failed)):
                if rows.num_rows:
                    self.work.register("held_rows", rows)
                    names = ", ".join(quote(c) for c in rows.column_names)
                    self.work.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM held_rows "
                                      "WHERE prediction_id IS NOT NULL")
                    self.work.unregister("held_rows")
            good = good.filter(pc.and_(passing, pc.invert(held)))
        elif bad.num_rows:
            good = good.filter(pc.invert(failing))
        self._land(good, bad)

    def _require_utf8(self, batch: pa.RecordBatch, first_row: int) -> None:
        """Reject the source if a text value is not valid UTF-8 (a damaged file, or another encoding)."""
        for name in batch.schema.names:
            column = batch.column(name)
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                index = first_invalid_text(column)
                if index is not None:
                    raise InvalidInputError(
                        f"{self.source.description}: row {first_row + index}, column {name!r}: the value is not valid "
                        "UTF-8 text (is the file damaged, or written in another encoding?)")

    def _with_raw(self, bad: pa.Table, batch: pa.RecordBatch) -> pa.Table:
        """Attach each failing row's original values as JSON, for the quarantine."""
        if bad.num_rows == 0:
            return bad.append_column("raw", pa.array([], pa.string()))
        first = batch.column(batch.num_columns - 1)[0].as_py()
        picked = batch.take(pa.array(np.asarray(bad.column("__row").to_numpy()) - first))
        raws = [json.dumps(r, default=str) for r in picked.drop_columns(["__row"]).to_pylist()]
        return bad.append_column("raw", pa.array(raws, pa.string()))

    def _resolve_held(self) -> None:
        """Rows whose id hash repeats: exact repeats go to quarantine, hash collisions are loaded.

        A valid row whose id also appears on a failing row is a repeat too (the failing copy is
        already quarantined with its own reasons), so that no copy of a repeated id is loaded.
        """
        cols = ", ".join(quote(c) for c in self.columns)
        every_copy = "(SELECT __row, prediction_id FROM held UNION ALL SELECT __row, prediction_id FROM held_failed)"
        repeated = self.work.execute(
            "SELECT h.__row, h.prediction_id, [ 'prediction_id: ''' || h.prediction_id || ''' appears more than "
            "once in this source, in rows ''' || rows || '''' ] AS __reasons "
            "FROM held h JOIN (SELECT prediction_id, string_agg(CAST(__row AS VARCHAR), ', ' ORDER BY __row) AS rows "
            f"FROM {every_copy} GROUP BY prediction_id HAVING count(*) > 1) d USING (prediction_id) "
            "ORDER BY h.__row"
        ).to_arrow_table()
        repeated = repeated.append_column("raw", pa.nulls(repeated.num_rows, pa.string()))
        unique = self.work.execute(
            f"SELECT __row, {cols} FROM held WHERE prediction_id IN "
            f"(SELECT prediction_id FROM {every_copy} GROUP BY prediction_id HAVING count(*) = 1)"
        ).to_arrow_table()
        if repeated.num_rows or unique.num_rows:
            self._land(unique, repeated)

    # -- writing into the store ------------------------------------------------------------------
    def _note(self, bad: pa.Table) -> None:
        """Count the problems of failing rows and keep the first few, naming their rows."""
        for row, reasons in zip(bad.column("__row").to_pylist(), bad.column("__reasons").to_pylist()):
            for reason in reasons:
                key = f"{reason.split(':', 1)[0]}: {_generic(reason)}"
                self.report.problem_counts[key] = self.report.problem_counts.get(key, 0) + 1
            if len(self.report.problems) < MAX_PROBLEMS_LISTED:
                self.report.problems.append(f"row {row}: " + "; ".join(reasons))
        if bad.num_rows and self.on_error == "reject":
            self.rejecting = True

    def _land(self, good: pa.Table, bad: pa.Table) -> None:
        self._note(bad)
        load = good if (good.num_rows and not self.rejecting) else None
        if load is None and bad.num_rows == 0:
            return
        if self.kind == "predictions":
            self._land_predictions(load, bad)
            return
        loaded, duplicate, late_bad = write(lambda con: self._write_batch(con, load, bad), self.db)
        self._note(late_bad)
        self.report.rows_loaded += loaded
        self.report.rows_duplicate += duplicate
        self.report.rows_quarantined += bad.num_rows + late_bad.num_rows

    def _land_predictions(self, load: pa.Table | None, bad: pa.Table) -> None:
        """Quarantine failing rows now; write new good rows as a segment that commit will register.

        New rows are compared with the deployment history (:mod:`analytics.ingest._roles`) first.
        """
        fresh = None
        if load is not None:
            fresh = self._not_yet_stored(load)
            self.report.rows_duplicate += load.num_rows - fresh.num_rows
            if self.role_check is not None and fresh.num_rows:
                fresh, bad = self._check_roles(fresh, bad)
        if bad.num_rows:
            write(lambda con: self._write_batch(con, None, bad), self.db)
            self.report.rows_quarantined += bad.num_rows
        if fresh is None or self.rejecting:
            return
        if fresh.num_rows:
            turn, self._turn = self._turn, (self._turn + 1) % len(self.writers)
            self._wait_for_writes([turn])
            self._pending[turn] = self._write_threads.submit(self.writers[turn].write, fresh.drop_columns(["__row"]))
            self.report.rows_loaded += fresh.num_rows

    def _check_roles(self, fresh: pa.Table, bad: pa.Table) -> tuple[pa.Table, pa.Table]:
        """Count the rows whose role disagrees with the deployment history; quarantine them if the policy says so."""
        mismatched = role_mismatches(self.work, fresh, self.role_check)
        if mismatched.num_rows == 0:
            return fresh, bad
        self.report.rows_role_mismatch += mismatched.num_rows
        if self.role_check.policy == "warn":
            room = MAX_PROBLEMS_LISTED - len(self.report.role_warnings)
            self.report.role_warnings += [f"row {row}: {reasons[0]}" for row, reasons in zip(
                mismatched.column("__row").to_pylist()[:room], mismatched.column("__reasons").to_pylist()[:room])]
            return fresh, bad
        mismatched = mismatched.cast(_EMPTY_BAD.schema)
        self._note(mismatched)
        kept = fresh.filter(pc.invert(pc.is_in(fresh.column("__row"), value_set=mismatched.column("__row"))))
        return kept, pa.concat_tables([bad.cast(_EMPTY_BAD.schema), mismatched])

    def _wait_for_writes(self, turns: list[int] | None = None) -> None:
        """Wait for the batches being written by some writers, or by all (re-raising an error, if any)."""
        for turn in range(len(self._pending)) if turns is None else turns:
            pending, self._pending[turn] = self._pending[turn], None
            if pending is not None:
                pending.result()

    def stop(self) -> None:
        """Release the private DuckDB and the writer threads; abandon unfinished segments."""
        for turn in range(len(self._pending)):
            try:
                self._wait_for_writes([turn])
            except Exception:  # noqa: BLE001 - the ingest is failing already; its files are deleted
                pass
        self._write_threads.shutdown(wait=True)
        self.work.close()
        for writer in self.writers:
            writer.discard()  # a no-op once the segment was closed into place

    def _not_yet_stored(self, load: pa.Table) -> pa.Table:
        """Drop rows whose id is in a committed segment; only segments whose id range overlaps are read."""
        if not self.stored:
            return load
        ids = pc.min_max(load.column("prediction_id"))
        low, high = ids["min"].as_py(), ids["max"].as_py()
        overlapping = [str(path) for path, first, last in self.stored if first <= high and last >= low]
        if not overlapping:
            return load
        self.work.register("load_rows", load)
        # Only stored ids within the batch's range are read (row-group statistics skip the others), so
        # the anti-join holds a batch's worth of ids, not every id of the overlapping segments.
        fresh = self.work.execute(
            "SELECT * FROM load_rows l WHERE NOT EXISTS (SELECT 1 FROM (SELECT prediction_id FROM read_parquet(?) "
            "WHERE prediction_id BETWEEN ? AND ?) s WHERE s.prediction_id = l.prediction_id)",
            [overlapping, low, high]).to_arrow_table()
        self.work.unregister("load_rows")
        return fresh

    def _write_batch(self, con: duckdb.DuckDBPyConnection, load: pa.Table | None,
                     bad: pa.Table) -> tuple[int, int, pa.Table]:
        """One short transaction: quarantine failing rows, append new good rows, update counters.

        Runs again from the start if the transaction is retried, so it changes no Python state.
        """
        late_bad = _EMPTY_BAD
        loaded = duplicate = 0
        if load is not None:
            con.register("good_rows", load)
            if self.kind == "outcomes":
                late_bad = _outcome_problems(con, self.info)
        quarantine_sql = ("INSERT INTO quarantine (ingest_id, model_name, kind, row_number, prediction_id, reasons, raw, quarantined_at) SELECT ?, ?, ?, __row, prediction_id, __reasons, raw, "
                          "now()::TIMESTAMP FROM {}")
        for name, rows in (("bad_rows", bad), ("late_bad_rows", late_bad)):
            if rows.num_rows:
                con.register(name, rows)
                con.execute(quarantine_sql.format(name), [self.report.ingest_id, self.info.name, self.kind])
        if load is not None and not (late_bad.num_rows and self.on_error == "reject"):
            skip_late = "AND g.__row NOT IN (SELECT __row FROM late_bad_rows)" if late_bad.num_rows else ""
            loaded = con.execute(
                f"INSERT INTO {self.table} ({', '.join(quote(c) for c in self.columns)}, ingest_id) "
                f"SELECT {', '.join('g.' + quote(c) for c in self.columns)}, ? "
                f"FROM good_rows g WHERE NOT EXISTS (SELECT 1 FROM {self.table} l "
                f"WHERE l.prediction_id = g.prediction_id) {skip_late}",
                [self.report.ingest_id],
            ).fetchone()[0]
            duplicate = load.num_rows - late_bad.num_rows - loaded
        quarantined = bad.num_rows + late_bad.num_rows
        con.execute(
            "UPDATE ingests SET rows_read = ?, rows_loaded = rows_loaded + ?, rows_duplicate = rows_duplicate + ?, "
            "rows_quarantined = rows_quarantined + ? WHERE ingest_id = ?",
            [self.report.rows_read, loaded, duplicate, quarantined, self.report.ingest_id])
        return loaded, duplicate, late_bad


_EMPTY_BAD = pa.table({"__row": pa.array([], pa.int64()), "prediction_id": pa.array([], pa.string()),
                       "__reasons": pa.array([], pa.list_(pa.string())), "raw": pa.array([], pa.string())})


def _in_time_order(column: pa.Array | pa.ChunkedArray) -> bool:
    """Whether a typed timestamp column has no missing value and never goes back in time."""
    if not pa.types.is_timestamp(column.type) or column.null_count or len(column) < 2:
        return False
    return pc.all(pc.greater_equal(column.slice(1), column.slice(0, len(column) - 1))).as_py()


def _outcome_problems(con: duckdb.DuckDBPyConnection, info: ModelInfo) -> pa.Table:
    """Outcome rows whose prediction is not in the log, or that were observed before the prediction."""
    return con.execute(
        f"SELECT g.__row, g.prediction_id, CASE WHEN p.prediction_id IS NULL THEN "
        f"['prediction_id: ''' || g.prediction_id || ''' has no prediction in the log of {info.name}'] "
        f"ELSE ['observed_at: ''' || CAST(g.observed_at AS VARCHAR) || ''' is before the predicted_at of "
        f"its prediction, ''' || CAST(p.predicted_at AS VARCHAR) || ''''] END AS __reasons "
        f", NULL::VARCHAR AS raw FROM good_rows g LEFT JOIN {predictions_view(info.stem)} p "
        f"ON p.prediction_id = g.prediction_id WHERE p.prediction_id IS NULL OR g.observed_at < p.predicted_at"
    ).to_arrow_table()


def _generic(reason: str) -> str:
    """The reason with its quoted values removed, to count problems of one kind (every reason quotes its values)."""
    text = reason.split(":", 1)[1] if ":" in reason else reason
    parts = text.split("'")
    return " ".join(p for i, p in enumerate(parts) if i % 2 == 0).strip()


def ingest(model: str, data: Any, *, kind: Kind = "predictions", actor: Actor | None = None,
           on_error: OnError = "reject", batch_rows: int = DEFAULT_BATCH_ROWS,
           db: str | Path | None = None, progress: Callable[[int], None] | None = None,
           lock_wait_seconds: float = 600.0) -> IngestReport:
    """Validate and load predictions or outcomes of a model from a file, DataFrame or Arrow table.

    Parameters
    ----------
    model : str
        A registered model.
    data : str, Path, pandas.DataFrame or pyarrow.Table
        A ``.parquet`` or ``.csv`` file, or rows in memory. In a DataFrame, NaN means missing.
    kind : {"predictions", "outcomes"}
        What the rows are.
    actor : Actor, optional
        Who ingests (needs the ``ingest`` capability); defaults to the command-line operator.
    on_error : {"reject", "quarantine"}, default "reject"
        ``reject``: if any row fails, nothing lands (failing rows are still quarantined with their
        reasons). ``quarantine``: good rows land, failing rows are quarantined.
    batch_rows : int
        Rows per streamed batch; bounds memory and how long readers may wait.
    db : str or Path, optional
        The store; defaults to ``VIGIL_DB``.
    progress : callable, optional
        Called with the number of rows read after each batch.

    Returns
    -------
    IngestReport

    Raises
    ------
    InvalidInputError
        When the source cannot be read or does not match the declared schema: nothing lands.
    NotFoundError
        For an unknown model.
    """
    if kind not in ("predictions", "outcomes"):
        raise InvalidInputError(f"kind must be 'predictions' or 'outcomes', not {kind!r}")
    if on_error not in ("reject", "quarantine"):
        raise InvalidInputError(f"on_error must be 'reject' or 'quarantine', not {on_error!r}")
    if batch_rows < 1:
        raise InvalidInputError("batch_rows must be a positive number of rows")
    actor = actor or system_actor()
    require(actor, "ingest")
    target = Path(db) if db is not None else config.db_path()
    started = time.perf_counter()
    source = open_source(data)
    # A source of one batch is a short sequence of units of work: the store instance stays open for it
    # (store.held) instead of being opened for each (~35 ms of CPU each). A longer one lets readers in
    # between its batches.
    short = source.rows is not None and source.rows <= batch_rows
    with _ingest_lock(target, lock_wait_seconds), held(target) if short else nullcontext():
        _recover_interrupted(target)

        def begin(con: duckdb.DuckDBPyConnection) -> tuple[ModelInfo, tuple[str, ...], int, list, RoleCheck | None]:
            info = get_model(con, model)
            versions = tuple(r[0] for r in con.execute(
                "SELECT version FROM model_versions WHERE model_name = ? ORDER BY created_at", [model]).fetchall())
            ingest_id = con.execute("SELECT nextval('ingest_id_seq')").fetchone()[0]
            root = store_path(con).parent
            stored = [(root / p, lo, hi) for p, lo, hi in con.execute(
                "SELECT path, min_id, max_id FROM log_segments WHERE model_name = ? ORDER BY ingest_id, part",
                [model]).fetchall()]
            con.execute(
                "INSERT INTO ingests (ingest_id, model_name, kind, source, actor, started_at, status) "
                "VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP, 'running')",
                [ingest_id, model, kind, source.description[:500], actor.username])
            return info, versions, ingest_id, stored, role_check(con, model) if kind == "predictions" else None

        info, versions, ingest_id, stored, roles = write(begin, target)
        report = _IngestTally(ingest_id, model, kind, source.description)
        rules = _rules(kind, info, versions)
        run = _Run(target, info, kind, source, rules, report, on_error, batch_rows, progress)
        run.stored = stored
        run.role_check = roles
        try:
            if kind == "predictions":
                # An optional column the source leaves out is NULL in every row (and in the segment).
                source = run.source = with_missing_columns(
                    source, {name: pa.string() for name in OPTIONAL_PREDICTION_COLUMNS})
            _check_header(source.columns, rules.columns, model, kind)
            run.find_repeated_ids()
            run.run_batches()
        except BaseException as exc:
            report.status = "rejected"
            report.message = str(exc) if isinstance(exc, InvalidInputError) else f"failed: {exc!r}"
            _finish(target, report, actor, info, run.segments)
            report.seconds = time.perf_counter() - started
            if isinstance(exc, InvalidInputError):
                raise InvalidInputError(f"{report.message} (nothing was loaded; ingest {ingest_id})") from exc
            raise
        finally:
            run.stop()
        if run.rejecting:
            report.status = "rejected"
            report.message = (f"{report.rows_quarantined:,} rows failed validation, so nothing was loaded "
                              "(they are in the quarantine table with their reasons); fix them and send the "
                              "file again, or use on_error='quarantine' to load the valid rows")
        else:
            report.status = "committed"
            if report.rows_quarantined:
                report.message = (f"{report.rows_quarantined:,} rows failed validation and are in the quarantine "
                                  "table with their reasons; the other rows were loaded")
        _finish(target, report, actor, info, run.segments)
        report.seconds = time.perf_counter() - started
        return report.report()


def _finish(db: Path, report: _IngestTally, actor: Actor, info: ModelInfo, segments: list[Segment]) -> None:
    """Commit or roll back the ingest, with its audit row, in one transaction.

    A committed ingest of predictions registers its segments and redefines the predictions view in
    that transaction; a rejected one deletes its files afterwards (no view ever named them).
    """
    committed = report.status == "committed"
    if not committed:
        report.rows_loaded = 0

    def work(con: duckdb.DuckDBPyConnection) -> None:
        if committed and report.kind == "predictions":
            register_segments(con, info.name, info.stem, info.schema, report.ingest_id, segments)
        elif not committed and report.kind == "outcomes":
            con.execute(f"DELETE FROM {outcome_table(info.stem)} WHERE ingest_id = ?", [report.ingest_id])
        con.execute(
            "UPDATE ingests SET status = ?, finished_at = now()::TIMESTAMP, rows_read = ?, rows_loaded = ?, "
            "rows_duplicate = ?, rows_quarantined = ?, message = ? WHERE ingest_id = ?",
            [report.status, report.rows_read, report.rows_loaded, report.rows_duplicate, report.rows_quarantined,
             report.message[:2000], report.ingest_id])
        audit.record(con, actor, f"ingest.{'commit' if report.status == 'committed' else 'reject'}", "ingest",
                     str(report.ingest_id),
                     {"model": report.model, "kind": report.kind, "source": report.source,
                      "rows_read": report.rows_read, "rows_loaded": report.rows_loaded,
                      "rows_duplicate": report.rows_duplicate, "rows_quarantined": report.rows_quarantined,
                      "rows_role_mismatch": report.rows_role_mismatch})

    write(work, db)
    if not committed and report.kind == "predictions":
        delete_ingest_files(db.resolve(), info.stem, report.ingest_id)


def ingest_history(db: str | Path | None = None, model: str | None = None) -> "Any":
    """Return the ingest runs (newest first), optionally of one model, as a DataFrame."""
    clause, params = ("WHERE model_name = ?", [model]) if model else ("", [])
    return read(lambda con: con.execute(
        f"SELECT * FROM ingests {clause} ORDER BY ingest_id DESC", params).df(), db)


def quarantined_rows(ingest_id: int, db: str | Path | None = None) -> "Any":
    """Return the quarantined rows of one ingest with their reasons."""
    return read(lambda con: con.execute(
        "SELECT row_number, prediction_id, reasons, raw FROM quarantine WHERE ingest_id = ? ORDER BY row_number",
        [ingest_id]).df(), db)

