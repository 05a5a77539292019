"""The DuckDB store: connections for one unit of work, the versioned schema, per-model tables.

Use :func:`read` and :func:`write` (or :func:`connect` with :func:`transaction`) for every access,
so that no process holds the file much longer than one unit of work (its instance lingers a quarter of a
second for the next unit, :func:`release` closes it at once) and lock conflicts are retried.
"""

from analytics.store._connection import (LINGER_SECONDS, DbLike, connect, copy_store, create, data_version, exclusive,
                                        held, read, release, retry, run, transaction, write)
from analytics.store._migrations import LATEST_VERSION, MIGRATIONS, migrate, schema_version
from analytics.store._governance import DEPLOYED_STATES, apply_transition, end_deployment, start_deployment
from analytics.store._segments import (ROW_GROUP_ROWS, Segment, SegmentWriter, bind_store_folder,
                                       define_predictions_view, delete_ingest_files, logs_dir, rebuild_views,
                                       register_segments, rename_logs_folder, segments_dir, store_path)
from analytics.store._tables import (
    create_model_tables,
    log_table,
    outcome_table,
    outcomes_view,
    predictions_view,
    reference_table,
    stem_of,
)

__all__ = [
    "DEPLOYED_STATES",
    "DbLike",
    "LATEST_VERSION",
    "LINGER_SECONDS",
    "MIGRATIONS",
    "ROW_GROUP_ROWS",
    "Segment",
    "SegmentWriter",
    "apply_transition",
    "delete_ingest_files",
    "end_deployment",
    "register_segments",
    "segments_dir",
    "start_deployment",
    "store_path",
    "bind_store_folder",
    "connect",
    "copy_store",
    "create",
    "create_model_tables",
    "data_version",
    "define_predictions_view",
    "exclusive",
    "held",
    "log_table",
    "logs_dir",
    "migrate",
    "outcome_table",
    "outcomes_view",
    "predictions_view",
    "read",
    "release",
    "rebuild_views",
    "rename_logs_folder",
    "reference_table",
    "retry",
    "run",
    "schema_version",
    "stem_of",
    "transaction",
    "write",
]
