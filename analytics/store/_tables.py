"""Per-model tables: the wide, typed prediction log, outcomes and reference data of one model.

Each model gets its own tables, named from its *table stem* (the model name with hyphens turned
into underscores):

``log_<stem>`` / ``outcome_log_<stem>``
    Physical tables. Every row carries the ``ingest_id`` of the ingest that wrote it.
``predictions_<stem>`` / ``outcomes_<stem>``
    Views over them that hide rows of an ingest still running, so a reader sees an ingest whole or
    not at all even though a large one commits in several batches. Read these.
``reference_<stem>``
    The reference (validation) data of each version: the declared columns, label, score, decision.
"""

from __future__ import annotations

import duckdb

from analytics.logschema import OUTCOME_COLUMNS, LogSchema, quote


def stem_of(model_name: str) -> str:
    """Return the table stem of a model name (``credit-default`` -> ``credit_default``)."""
    return model_name.replace("-", "_")


def log_table(stem: str) -> str:
    """Physical prediction table of a model."""
    return f"log_{stem}"


def outcome_table(stem: str) -> str:
    """Physical outcome table of a model."""
    return f"outcome_log_{stem}"


def predictions_view(stem: str) -> str:
    """Committed predictions of a model (read this, not the physical table)."""
    return f"predictions_{stem}"


def outcomes_view(stem: str) -> str:
    """Committed outcomes of a model."""
    return f"outcomes_{stem}"


def reference_table(stem: str) -> str:
    """Reference data of a model's versions."""
    return f"reference_{stem}"


_VISIBLE = "WHERE ingest_id NOT IN (SELECT ingest_id FROM ingests WHERE status = 'running')"


def create_model_tables(con: duckdb.DuckDBPyConnection, stem: str, schema: LogSchema) -> None:
    """Create the log, outcome and reference tables of a model, and its visibility views."""
    log_cols = ",\n  ".join(f"{quote(n)} {t}" for n, t in schema.prediction_columns().items())
    con.execute(f"CREATE TABLE {log_table(stem)} (\n  {log_cols},\n  ingest_id BIGINT NOT NULL\n)")
    out_cols = ",\n  ".join(f"{quote(n)} {t}" for n, t in OUTCOME_COLUMNS.items())
    con.execute(f"CREATE TABLE {outcome_table(stem)} (\n  {out_cols},\n  ingest_id BIGINT NOT NULL\n)")
    ref_cols = ",\n  ".join(f"{quote(n)} {t}" for n, t in schema.reference_columns().items())
    con.execute(f"CREATE TABLE {reference_table(stem)} (\n  model_version VARCHAR NOT NULL,\n  {ref_cols}\n)")
    con.execute(
        f"CREATE VIEW {predictions_view(stem)} AS SELECT * EXCLUDE (ingest_id) FROM {log_table(stem)} {_VISIBLE}"
    )
    con.execute(
        f"CREATE VIEW {outcomes_view(stem)} AS SELECT * EXCLUDE (ingest_id) FROM {outcome_table(stem)} {_VISIBLE}"
    )
