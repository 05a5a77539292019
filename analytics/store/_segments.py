"""The prediction log of each model as immutable Parquet segments registered in the store.

Why segments: on this class of machine (2 cores) DuckDB's own table storage appends a 35-column
log at roughly 300k rows/s, because it compresses every column on the way in, while the whole ingest
must sustain 500k rows/s. An ingest therefore validates in a private in-memory DuckDB and writes
each batch as a zstd Parquet file (about 1M rows/s), holding no lock on the store. At commit, one
short transaction registers the files in ``log_segments`` and redefines the view
``predictions_<stem>`` over exactly the committed files, together with the ingest's status and audit
row. A reader therefore sees an ingest whole or not at all; an ingest that fails or is interrupted
leaves files that no view names, and they are deleted. DuckDB reads the segments as fast as its own
tables for the aggregations Vigil runs (row-group statistics prune time filters).

Paths are relative to the store's folder, in ``log_segments`` and in the views alike: a view names
``getvariable('vigil_store_folder') || '<name>.logs/<stem>/<file>'``, and every connection Vigil opens
sets that variable to the folder of the file it opened (:func:`bind_store_folder`). So a store moved
together with its ``<name>.logs`` folder reads its segments where they now are, and a copy (``cp -a``,
a restored backup) reads its own segments, never the original's. A connection that did not set the
variable (a bare ``duckdb.connect``) cannot read the views at all rather than read someone else's
files: call :func:`bind_store_folder` on it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.errors import InvalidInputError
from analytics.logschema import LogSchema, quote, text_literal
from analytics.store._tables import log_table, predictions_view

ROW_GROUP_ROWS = 122_880  # DuckDB's own row-group size: fine-grained statistics for pruning
# A column chunk falls back from dictionary to plain encoding once its dictionary exceeds this size.
# Arrow's default (1 MiB) holds 122,880 distinct doubles, so a continuous column was dictionary-encoded
# in full: slower to write (about 40% of a segment's time) and larger than plain zstd. At 64 KiB a
# column with many distinct values gives up after 8k of them; low-cardinality columns keep theirs.
DICTIONARY_PAGE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Segment:
    """One written Parquet file of an ingest, with what the registry keeps about it."""

    path: Path
    rows: int
    min_predicted_at: object
    max_predicted_at: object
    min_id: str
    max_id: str
    bytes: int


def store_path(con: duckdb.DuckDBPyConnection) -> Path:
    """Return the file path of the open store (segments live beside it)."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not row or not row[0]:
        raise InvalidInputError("Vigil needs a store on disk (not an in-memory database) to keep prediction logs")
    return Path(row[0]).resolve()


#: The connection variable holding the store's folder (with a trailing separator), read by the views.
STORE_FOLDER_VARIABLE = "vigil_store_folder"


def bind_store_folder(con: duckdb.DuckDBPyConnection) -> Path:
    """Point this connection's prediction views at the segments beside the file it opened; return that folder.

    Vigil's own connections do this when they open the store; call it on a bare ``duckdb.connect`` of a
    store (a script, a notebook) before reading a ``predictions_<stem>`` view.
    """
    folder = store_path(con).parent
    con.execute(f"SET VARIABLE {STORE_FOLDER_VARIABLE} = ?", [str(folder) + "/"])
    return folder


def logs_dir(db: Path) -> Path:
    """Folder of a store's log segments: ``<store folder>/<store name>.logs/``."""
    return db.parent / f"{db.stem}.logs"


def segments_dir(db: Path, stem: str) -> Path:
    """Folder of a model's segments: ``<store folder>/<store name>.logs/<stem>/``."""
    return logs_dir(db) / stem


def segment_name(ingest_id: int, part: int) -> str:
    """File name of one segment; the ingest id leads, so an ingest's files are easy to find."""
    return f"{ingest_id:010d}-{part:05d}.parquet"


class SegmentWriter:
    """Appends batches of typed, validated rows to one Parquet segment, closed into place at the end.

    The file is written as ``<name>.part`` and renamed when closed, so a segment is either complete
    or absent; its row count, time range and id range are gathered as batches arrive.
    """

    def __init__(self, directory: Path, ingest_id: int, part: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.final = directory / segment_name(ingest_id, part)
        self.partial = self.final.with_suffix(".parquet.part")
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0
        self._ranges: list[tuple] = []

    def write(self, table: pa.Table) -> None:
        """Append rows (one or more row groups)."""
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.partial, table.schema, compression="zstd",
                                            dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES)
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.rows += table.num_rows
        times = pc.min_max(table.column("predicted_at"))
        ids = pc.min_max(table.column("prediction_id"))
        self._ranges.append((times["min"].as_py(), times["max"].as_py(), ids["min"].as_py(), ids["max"].as_py()))

    def close(self) -> Segment | None:
        """Finish the file and move it into place; ``None`` if nothing was written."""
        if self._writer is None:
            return None
        self._writer.close()
        self._writer = None
        self.partial.replace(self.final)
        low_t, high_t, low_id, high_id = zip(*self._ranges)
        return Segment(self.final, self.rows, min(low_t), max(high_t), min(low_id), max(high_id),
                       self.final.stat().st_size)

    def discard(self) -> None:
        """Abandon the file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.partial.unlink(missing_ok=True)


def write_segment(table: pa.Table, directory: Path, ingest_id: int, part: int) -> Segment:
    """Write one table of typed, validated rows as a complete segment."""
    writer = SegmentWriter(directory, ingest_id, part)
    writer.write(table)
    return writer.close()


def delete_ingest_files(db: Path, stem: str, ingest_id: int) -> int:
    """Delete every segment file (finished or partial) of one ingest; return how many."""
    directory = segments_dir(db, stem)
    if not directory.is_dir():
        return 0
    files = list(directory.glob(f"{ingest_id:010d}-*.parquet*"))
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def committed_relative_paths(con: duckdb.DuckDBPyConnection, model: str) -> list[str]:
    """Paths of a model's committed segments relative to the store's folder, oldest first."""
    rows = con.execute(
        "SELECT path FROM log_segments WHERE model_name = ? ORDER BY ingest_id, part", [model]).fetchall()
    return [r[0] for r in rows]


def committed_paths(con: duckdb.DuckDBPyConnection, model: str) -> list[Path]:
    """Absolute paths of a model's committed segments where the open store now is, oldest first."""
    root = store_path(con).parent
    return [root / relative for relative in committed_relative_paths(con, model)]


def _segment_list(relative: list[str]) -> str:
    """SQL list of the segments' paths, each the connection's store folder followed by its relative path.

    No lambda (its syntax is changing in DuckDB) and no absolute path: the view is as portable as the store.
    """
    folder = f"getvariable({text_literal(STORE_FOLDER_VARIABLE)})"
    return "[" + ", ".join(f"{folder} || {text_literal(Path(p).as_posix())}" for p in relative) + "]"


def _require_files(paths: list[Path], model: str) -> None:
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InvalidInputError(
            f"{len(missing)} log segment(s) of {model} are missing beside the store, for example {missing[0]}: "
            "a store must be moved or copied together with its '<name>.logs' folder (see docs/backup.md)")


def _table_columns(con: duckdb.DuckDBPyConnection, stem: str, schema: LogSchema) -> str:
    """The log table's prediction columns; an optional column a table made before it existed lacks is NULL."""
    present = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?",
                                         [log_table(stem)]).fetchall()}
    return ", ".join(quote(c) if c in present else f"NULL::{t} AS {quote(c)}"
                     for c, t in schema.prediction_columns().items())


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> set[str]:
    rows = con.execute("SELECT name FROM parquet_schema(?)", [str(path)]).fetchall()
    return {r[0] for r in rows}


def define_predictions_view(con: duckdb.DuckDBPyConnection, model: str, stem: str, schema: LogSchema) -> None:
    """(Re)define ``predictions_<stem>`` over the model's committed segments (in the caller's transaction).

    A column added to the schema after some segments were written (a compatible change of the model
    spec: a new nullable column) reads as NULL in those segments. A schema only grows, so the newest
    segment holds every column any segment has, and the oldest the fewest: their two file footers
    say whether the segments differ, without reading the others.
    """
    relative = committed_relative_paths(con, model)
    paths = [bind_store_folder(con) / p for p in relative]
    declared = schema.prediction_columns()
    if not paths:
        columns = _table_columns(con, stem, schema)
        source = f"{log_table(stem)} WHERE ingest_id NOT IN (SELECT ingest_id FROM ingests WHERE status = 'running')"
        con.execute(f"CREATE OR REPLACE VIEW {predictions_view(stem)} AS SELECT {columns} FROM {source}")
        return
    _require_files([paths[0], paths[-1]], model)
    newest, oldest = _parquet_columns(con, paths[-1]), _parquet_columns(con, paths[0])
    columns = ", ".join(quote(c) if c in newest else f"CAST(NULL AS {sql_type}) AS {quote(c)}"
                        for c, sql_type in declared.items())
    union = ", union_by_name = true" if any(c not in oldest for c in declared if c in newest) else ""
    con.execute(f"CREATE OR REPLACE VIEW {predictions_view(stem)} AS SELECT {columns} "
                f"FROM read_parquet({_segment_list(relative)}{union})")


def register_segments(con: duckdb.DuckDBPyConnection, model: str, stem: str, schema: LogSchema, ingest_id: int,
                      segments: list[Segment]) -> None:
    """Record an ingest's segments and make them visible (call inside the commit transaction)."""
    root = store_path(con).parent
    for part, segment in enumerate(segments, start=1):
        con.execute(
            "INSERT INTO log_segments (model_name, ingest_id, part, path, rows, min_predicted_at, max_predicted_at, min_id, max_id, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [model, ingest_id, part, str(segment.path.relative_to(root)), segment.rows, segment.min_predicted_at,
             segment.max_predicted_at, segment.min_id, segment.max_id, segment.bytes])
    define_predictions_view(con, model, stem, schema)


def rebuild_views(con: duckdb.DuckDBPyConnection) -> int:
    """Redefine every model's predictions view over its committed segments; return the count.

    Migration 20 runs it once on every store made before the views were relative to the store.
    """
    rows = con.execute("SELECT model_name, table_stem, log_schema FROM models").fetchall()
    for model, stem, schema_json in rows:
        define_predictions_view(con, model, stem, LogSchema.from_json(schema_json))
    return len(rows)


def rename_logs_folder(con: duckdb.DuckDBPyConnection, old: str, new: str) -> None:
    """Record that the store's logs folder was renamed from ``old`` to ``new`` (folder names, not paths).

    Segment paths are relative to the store's folder and start with the logs folder's name: they are
    rewritten and the views rebuilt over the renamed files (in the caller's transaction). For a store
    renamed with its logs (a finished demo build, a backup restored under another name).
    """
    con.execute("UPDATE log_segments SET path = ? || substr(path, ?) WHERE starts_with(path, ?)",
                [f"{new}/", len(old) + 2, f"{old}/"])
    rebuild_views(con)


def move_table_rows_to_segments(con: duckdb.DuckDBPyConnection) -> None:
    """Migration step: move committed prediction rows kept in DuckDB tables (schema 3) into segments."""
    db = store_path(con)
    for model, stem, schema_json in con.execute("SELECT model_name, table_stem, log_schema FROM models").fetchall():
        schema = LogSchema.from_json(schema_json)
        columns = _table_columns(con, stem, schema)
        # Only committed ingests move; rows of an ingest still marked running stay in the table,
        # invisible, until recovery removes them.
        ingest_ids = [r[0] for r in con.execute(
            f"SELECT DISTINCT l.ingest_id FROM {log_table(stem)} l JOIN ingests i USING (ingest_id) "
            "WHERE i.status = 'committed' ORDER BY 1").fetchall()]
        for ingest_id in ingest_ids:
            rows = con.execute(
                f"SELECT {columns} FROM {log_table(stem)} WHERE ingest_id = ? ORDER BY predicted_at",
                [ingest_id]).to_arrow_table()
            segment = write_segment(rows, segments_dir(db, stem), ingest_id, 1)
            con.execute(
                "INSERT INTO log_segments (model_name, ingest_id, part, path, rows, min_predicted_at, max_predicted_at, min_id, max_id, bytes, created_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                [model, ingest_id, str(segment.path.relative_to(db.parent)), segment.rows, segment.min_predicted_at,
                 segment.max_predicted_at, segment.min_id, segment.max_id, segment.bytes])
        if ingest_ids:
            con.execute(f"DELETE FROM {log_table(stem)} WHERE ingest_id IN ({', '.join(map(str, ingest_ids))})")
        define_predictions_view(con, model, stem, schema)

