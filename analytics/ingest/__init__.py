"""Ingestion of prediction logs and outcomes from Parquet, CSV, DataFrames and Arrow tables.

See :func:`ingest` for the guarantees: validation against the declared schema with messages that
name the row and the column, a quarantine for failing rows, no duplicate ids, and an ingest that
lands whole or not at all while streaming large files in batches.
"""

from analytics.ingest._ingest import (
    DEFAULT_BATCH_ROWS,
    IngestReport,
    ingest,
    ingest_history,
    quarantined_rows,
    recover_interrupted,
)
from analytics.ingest._files import FilesReport, ingest_files, resolve_paths, watch
from analytics.ingest._sources import open_source

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "FilesReport",
    "IngestReport",
    "ingest",
    "ingest_files",
    "ingest_history",
    "open_source",
    "quarantined_rows",
    "recover_interrupted",
    "resolve_paths",
    "watch",
]
