"""The model registry: models with their declared log schema, and versions with their lineage.

Reads take an open connection; writes take an :class:`~analytics.roles.Actor`, check the role, and
write the change and its audit row in the caller's transaction (use :func:`analytics.store.write`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from analytics import audit
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, NotFoundError
from analytics.logschema import LogSchema, check_model_name
from analytics.roles import Actor, require
from analytics.store import create_model_tables, reference_table, stem_of

if TYPE_CHECKING:
    import pandas as pd

#: Lifecycle states of a model version (the transitions are governed by :mod:`analytics.governance`).
LIFECYCLE_STATES = (
    "draft", "submitted", "in_review", "approved", "rejected", "shadow", "canary", "champion", "retired",
)


def status_text(status: str) -> str:
    """A lifecycle status as people read it: ``"in_review"`` -> ``"in review"``; anything else as it is.

    >>> status_text("in_review"), status_text("champion")
    ('in review', 'champion')
    """
    return str(status).replace("_", " ")


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its name, table stem, owner and declared log schema."""

    name: str
    stem: str
    owner: str
    description: str
    schema: LogSchema
    created_at: datetime


def sha256_of_file(path: str | Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def register_model(con: duckdb.DuckDBPyConnection, actor: Actor, name: str, schema: LogSchema, *,
                   owner: str, description: str = "", at: datetime | None = None) -> ModelInfo:
    """Register a model and create its log, outcome and reference tables.

    Raises
    ------
    InvalidInputError
        If the name is malformed or already registered.
    """
    require(actor, "register_model")
    check_model_name(name)
    if con.execute("SELECT 1 FROM models WHERE model_name = ?", [name]).fetchone():
        raise InvalidInputError(f"model {name!r} is already registered")
    stem = stem_of(name)
    created = at or utc_now()
    con.execute(
        "INSERT INTO models (model_name, table_stem, owner, description, log_schema, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [name, stem, owner, description, schema.to_json(), created],
    )
    create_model_tables(con, stem, schema)
    audit.record(con, actor, "model.register", "model", name,
                 {"owner": owner, "columns": [c.name for c in schema.columns]}, at=at)
    return ModelInfo(name, stem, owner, description, schema, created)


def get_model(con: duckdb.DuckDBPyConnection, name: str) -> ModelInfo:
    """Return a registered model, or raise :class:`NotFoundError` naming the known ones."""
    row = con.execute(
        "SELECT model_name, table_stem, owner, description, log_schema, created_at FROM models WHERE model_name = ?",
        [name],
    ).fetchone()
    if row is None:
        known = [r[0] for r in con.execute("SELECT model_name FROM models ORDER BY 1").fetchall()]
        listed = ", ".join(known) if known else "none yet"
        raise NotFoundError(f"model {name!r} is not registered; registered models: {listed} "
                            "(register one with 'vigil models register SPEC.toml')")
    return ModelInfo(row[0], row[1], row[2], row[3], LogSchema.from_json(row[4]), row[5])


def list_models(con: duckdb.DuckDBPyConnection) -> list[ModelInfo]:
    """Return every registered model, by name."""
    names = [r[0] for r in con.execute("SELECT model_name FROM models ORDER BY model_name").fetchall()]
    return [get_model(con, n) for n in names]


def register_version(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str, *,
                     threshold: float, owner: str,
                     parent_version: str | None = None, training_fingerprint: str | None = None,
                     hyperparameters: dict[str, Any] | None = None,
                     validation_metrics: dict[str, float] | None = None,
                     artifact_path: str | None = None, artifact_sha256: str | None = None,
                     description: str = "", at: datetime | None = None) -> None:
    """Register a version of a model with its lineage, decision threshold and artifact hash.

    A version always starts as a ``draft``: its status changes only through the lifecycle's one funnel
    (:func:`analytics.governance.transition`: submit, review, approve, deploy, ...), and a version that
    already served before Vigil governed it is declared with :func:`analytics.governance.onboard`.
    """
    require(actor, "register_model")
    get_model(con, model)
    if not version or not isinstance(version, str) or len(version) > 64:
        raise InvalidInputError("a version needs a name of 1 to 64 characters")
    if not 0.0 <= float(threshold) <= 1.0:
        raise InvalidInputError(f"threshold {threshold} must lie between 0 and 1")
    if con.execute("SELECT 1 FROM model_versions WHERE model_name = ? AND version = ?", [model, version]).fetchone():
        raise InvalidInputError(f"version {version!r} of {model!r} is already registered")
    if parent_version is not None:
        get_version(con, model, parent_version)
    con.execute(
        "INSERT INTO model_versions (model_name, version, created_at, owner, status, threshold, parent_version, training_fingerprint, hyperparameters, validation_metrics, artifact_path, artifact_sha256, description) VALUES (?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?)",
        [model, version, at or utc_now(), owner, float(threshold), parent_version, training_fingerprint,
         json.dumps(hyperparameters or {}, sort_keys=True), json.dumps(validation_metrics or {}, sort_keys=True),
         artifact_path, artifact_sha256, description],
    )
    audit.record(con, actor, "version.register", "model_version", f"{model}:{version}",
                 {"threshold": threshold, "status": "draft", "artifact_sha256": artifact_sha256,
                  "parent_version": parent_version}, at=at)


def get_version(con: duckdb.DuckDBPyConnection, model: str, version: str) -> dict[str, Any]:
    """Return one version's registry row as a dict (JSON fields decoded)."""
    frame = con.execute(
        "SELECT * FROM model_versions WHERE model_name = ? AND version = ?", [model, version]
    ).df()
    if frame.empty:
        known = [r[0] for r in con.execute(
            "SELECT version FROM model_versions WHERE model_name = ? ORDER BY created_at", [model]).fetchall()]
        raise NotFoundError(
            f"version {version!r} of model {model!r} is not registered; known versions: {', '.join(known) or 'none'}"
        )
    row = frame.iloc[0].to_dict()
    for key in ("hyperparameters", "validation_metrics"):
        row[key] = json.loads(row[key]) if row[key] else {}
    return row


def list_versions(con: duckdb.DuckDBPyConnection, model: str | None = None) -> pd.DataFrame:
    """Return the versions of one model (or of all), oldest first."""
    clause, params = ("WHERE model_name = ?", [model]) if model else ("", [])
    return con.execute(
        f"SELECT model_name, version, status, threshold, owner, created_at, parent_version, "
        f"training_fingerprint, artifact_sha256, validation_metrics FROM model_versions {clause} "
        "ORDER BY model_name, created_at, version",
        params,
    ).df()


def champion_version(con: duckdb.DuckDBPyConnection, model: str) -> str | None:
    """Return the version currently in the champion state, if any."""
    row = con.execute(
        "SELECT version FROM model_versions WHERE model_name = ? AND status = 'champion' "
        "ORDER BY created_at DESC LIMIT 1", [model]).fetchone()
    return row[0] if row else None


def reference_frame(con: duckdb.DuckDBPyConnection, model: str, version: str) -> pd.DataFrame:
    """Return the reference (validation) rows of a version."""
    info = get_model(con, model)
    return con.execute(
        f"SELECT * EXCLUDE (model_version) FROM {reference_table(info.stem)} WHERE model_version = ?", [version]
    ).df()


def load_reference(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str,
                   frame: pd.DataFrame, *, at: datetime | None = None) -> int:
    """Store a version's reference data (its validation set with labels and scores); return the row count.

    The frame must hold exactly the declared columns plus ``label``, ``score`` and ``decision``.
    The reference is the baseline for drift, so it is written once per version, whole.

    Raises
    ------
    InvalidInputError
        For missing or extra columns, an empty frame, values that are not of their column's type,
        missing values in a column declared ``nullable = false``, labels or decisions other than 0/1,
        scores outside [0, 1], NaN or infinite numbers, or a version that already has reference data.
    """
    require(actor, "register_model")
    info = get_model(con, model)
    get_version(con, model, version)
    expected = info.schema.reference_columns()
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected]
    if missing or extra:
        raise InvalidInputError(
            f"reference data of {model}:{version} does not match the schema: "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}")
    if frame.empty:
        raise InvalidInputError(f"reference data of {model}:{version} has no rows")
    table = reference_table(info.stem)
    if con.execute(f"SELECT 1 FROM {table} WHERE model_version = ? LIMIT 1", [version]).fetchone():
        raise InvalidInputError(f"{model}:{version} already has reference data; it is written once")
    con.register("reference_frame", frame[list(expected)])
    try:
        casts = ", ".join(f'TRY_CAST("{name}" AS {sql_type}) AS "{name}"' for name, sql_type in expected.items())
        con.execute(f"CREATE OR REPLACE TEMP TABLE reference_typed AS SELECT {casts} FROM reference_frame")
        unreadable = [f'count(*) FILTER (WHERE TRY_CAST("{n}" AS {t}) IS NULL AND "{n}" IS NOT NULL)'
                      for n, t in expected.items()]
        bad_types = con.execute(f"SELECT {', '.join(unreadable)} FROM reference_frame").fetchone()
    finally:
        con.unregister("reference_frame")
    numeric = [n for n, t in expected.items() if t == "DOUBLE"]
    required = [c.name for c in info.schema.columns if not c.nullable]
    checks = [f'count(*) FILTER (WHERE NOT isfinite("{n}"))' for n in numeric]
    checks += [f'count(*) FILTER (WHERE "{n}" IS NULL)' for n in required]
    checks += ["count(*) FILTER (WHERE label NOT IN (0, 1) OR label IS NULL)",
               "count(*) FILTER (WHERE decision NOT IN (0, 1) OR decision IS NULL)",
               "count(*) FILTER (WHERE score < 0 OR score > 1 OR score IS NULL)"]
    counts = con.execute(f"SELECT {', '.join(checks)} FROM reference_typed").fetchone()
    names = [f"{n}: NaN or infinity" for n in numeric] + [f"{n}: missing value (declared nullable = false)"
                                                          for n in required]
    names += ["label not 0/1", "decision not 0/1", "score outside [0, 1]"]
    problems = [f"{name}: not a {expected[name].lower()} value in {count} rows"
                for name, count in zip(expected, bad_types) if count]
    problems += [f"{name} in {count} rows" for name, count in zip(names, counts) if count]
    if problems:
        con.execute("DROP TABLE reference_typed")
        raise InvalidInputError(f"reference data of {model}:{version} rejected: {'; '.join(problems)}")
    names = ", ".join(f'"{name}"' for name in expected)
    con.execute(f"INSERT INTO {table} (model_version, {names}) SELECT ?, {names} FROM reference_typed", [version])
    con.execute("DROP TABLE reference_typed")
    rows = len(frame)
    audit.record(con, actor, "version.reference", "model_version", f"{model}:{version}", {"rows": rows}, at=at)
    return rows
