"""The store's versioned schema: ordered migrations, applied in place when an old file is opened.

Each migration is a list of statements applied in one transaction together with its row in
``schema_version``. A file whose version is newer than :data:`LATEST_VERSION` is refused, so an old
Vigil never writes into a layout it does not understand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from analytics import audit_anchor
from analytics.errors import StoreVersionError
from analytics.store import _alerts, _compliance, _deployments, _governance, _reports
from analytics.store._segments import move_table_rows_to_segments, rebuild_views


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its version, a one-line description, its DDL statements, and data
    steps (functions of the connection) run after them in the same transaction."""

    version: int
    description: str
    statements: tuple[str, ...]
    steps: tuple[Callable[[duckdb.DuckDBPyConnection], None], ...] = ()


def _start_anchor(con: duckdb.DuckDBPyConnection) -> None:
    """Start the store's anchor file at its current head (an in-memory database has none)."""
    path = audit_anchor.database_file(con)
    if path is not None:
        audit_anchor.anchor_head(con, path, create=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "model registry, ingest runs and quarantine",
        (
            """CREATE TABLE models (
                model_name   VARCHAR PRIMARY KEY,
                table_stem   VARCHAR NOT NULL UNIQUE,
                owner        VARCHAR NOT NULL,
                description  VARCHAR NOT NULL DEFAULT '',
                log_schema   JSON NOT NULL,
                created_at   TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE model_versions (
                model_name            VARCHAR NOT NULL,
                version               VARCHAR NOT NULL,
                created_at            TIMESTAMP NOT NULL,
                owner                 VARCHAR NOT NULL,
                status                VARCHAR NOT NULL,
                threshold             DOUBLE NOT NULL,
                parent_version        VARCHAR,
                training_fingerprint  VARCHAR,
                hyperparameters       JSON,
                validation_metrics    JSON,
                artifact_path         VARCHAR,
                artifact_sha256       VARCHAR,
                description           VARCHAR NOT NULL DEFAULT '',
                PRIMARY KEY (model_name, version)
            )""",
            "CREATE SEQUENCE ingest_id_seq START 1",
            """CREATE TABLE ingests (
                ingest_id         BIGINT PRIMARY KEY,
                model_name        VARCHAR NOT NULL,
                kind              VARCHAR NOT NULL,
                source            VARCHAR NOT NULL,
                actor             VARCHAR NOT NULL,
                started_at        TIMESTAMP NOT NULL,
                finished_at       TIMESTAMP,
                status            VARCHAR NOT NULL,
                rows_read         BIGINT NOT NULL DEFAULT 0,
                rows_loaded       BIGINT NOT NULL DEFAULT 0,
                rows_duplicate    BIGINT NOT NULL DEFAULT 0,
                rows_quarantined  BIGINT NOT NULL DEFAULT 0,
                message           VARCHAR
            )""",
            """CREATE TABLE quarantine (
                ingest_id       BIGINT NOT NULL,
                model_name      VARCHAR NOT NULL,
                kind            VARCHAR NOT NULL,
                row_number      BIGINT,
                prediction_id   VARCHAR,
                reasons         VARCHAR[] NOT NULL,
                raw             JSON,
                quarantined_at  TIMESTAMP NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "users with roles, and the hash-chained audit trail",
        (
            """CREATE TABLE users (
                username        VARCHAR PRIMARY KEY,
                display_name    VARCHAR NOT NULL,
                email           VARCHAR,
                role            VARCHAR NOT NULL,
                password_hash   VARCHAR,
                disabled        BOOLEAN NOT NULL DEFAULT FALSE,
                created_at      TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE audit_log (
                seq          BIGINT PRIMARY KEY,
                occurred_at  TIMESTAMP NOT NULL,
                actor        VARCHAR NOT NULL,
                role         VARCHAR NOT NULL,
                action       VARCHAR NOT NULL,
                object_type  VARCHAR NOT NULL,
                object_id    VARCHAR NOT NULL,
                details      JSON NOT NULL,
                prev_hash    VARCHAR NOT NULL,
                row_hash     VARCHAR NOT NULL
            )""",
        ),
    ),
    Migration(
        3,
        "sign-in throttling: failed attempts and lock-out per user",
        (
            "ALTER TABLE users ADD COLUMN failed_attempts INTEGER DEFAULT 0",
            "ALTER TABLE users ADD COLUMN locked_until TIMESTAMP",
            "ALTER TABLE users ADD COLUMN last_login_at TIMESTAMP",
        ),
    ),
    Migration(
        4,
        "prediction logs as Parquet segments registered in log_segments",
        (
            """CREATE TABLE log_segments (
                model_name        VARCHAR NOT NULL,
                ingest_id         BIGINT NOT NULL,
                part              INTEGER NOT NULL,
                path              VARCHAR NOT NULL,
                rows              BIGINT NOT NULL,
                min_predicted_at  TIMESTAMP,
                max_predicted_at  TIMESTAMP,
                min_id            VARCHAR,
                max_id            VARCHAR,
                bytes             BIGINT NOT NULL,
                created_at        TIMESTAMP NOT NULL,
                PRIMARY KEY (model_name, ingest_id, part)
            )""",
        ),
        (move_table_rows_to_segments,),
    ),
    Migration(
        5,
        "settings: thresholds and targets per model, changed by admins only",
        (
            """CREATE TABLE settings (
                scope       VARCHAR NOT NULL,
                key         VARCHAR NOT NULL,
                value       JSON NOT NULL,
                updated_at  TIMESTAMP NOT NULL,
                updated_by  VARCHAR NOT NULL,
                PRIMARY KEY (scope, key)
            )""",
        ),
    ),
    Migration(6, "business KPI definitions (value matrix, targets) and infrastructure cost entries", (
        """CREATE TABLE kpi_definitions (model_name VARCHAR PRIMARY KEY, definition JSON NOT NULL, updated_at TIMESTAMP NOT NULL, updated_by VARCHAR NOT NULL)""",
        "CREATE SEQUENCE infra_cost_id_seq START 1",
        """CREATE TABLE infra_costs (entry_id BIGINT PRIMARY KEY, model_name VARCHAR, category VARCHAR NOT NULL, amount_usd DOUBLE NOT NULL, period_start DATE NOT NULL, period_end DATE NOT NULL, description VARCHAR NOT NULL DEFAULT '', entered_at TIMESTAMP NOT NULL, entered_by VARCHAR NOT NULL)""")),
    Migration(7, "governance: lifecycle transitions, review findings, evidence packs, deployments, model cards, risk tiers", _governance.STATEMENTS, (_governance.backfill,)),
    Migration(8, "attributions logged by serving systems, keyed by prediction and feature", (
        """CREATE TABLE logged_attributions (model_name VARCHAR NOT NULL, prediction_id VARCHAR NOT NULL, feature VARCHAR NOT NULL, contribution DOUBLE NOT NULL, base_value DOUBLE NOT NULL, logged_at TIMESTAMP NOT NULL, PRIMARY KEY (model_name, prediction_id, feature))""",)),
    Migration(9, "drift rollups: fine histograms and category counts per UTC day and version, keyed by the log segments", (
        "CREATE TABLE drift_rollup_segments (model_name VARCHAR NOT NULL, model_version VARCHAR NOT NULL, ingest_id BIGINT NOT NULL, part INTEGER NOT NULL, bins_key VARCHAR NOT NULL, rolled_at TIMESTAMP NOT NULL, PRIMARY KEY (model_name, model_version, ingest_id, part))",
        "CREATE TABLE drift_rollup (model_name VARCHAR NOT NULL, model_version VARCHAR NOT NULL, day DATE NOT NULL, column_name VARCHAR NOT NULL, bin INTEGER, category VARCHAR, n BIGINT NOT NULL, total DOUBLE, vmin DOUBLE, vmax DOUBLE)")),
    Migration(10, "business summaries per UTC day keyed by the log segments: serving (traffic and cost per hour, exact latency histograms and percentiles) and KPI rollups (hourly KPI sums, what-if cells)", (
        "CREATE TABLE serving_summary_days (model_name VARCHAR NOT NULL, day DATE NOT NULL, segments VARCHAR NOT NULL, built_at TIMESTAMP NOT NULL, PRIMARY KEY (model_name, day))",
        "CREATE TABLE serving_hourly (model_name VARCHAR NOT NULL, hour TIMESTAMP NOT NULL, version VARCHAR, role VARCHAR, decision BIGINT, predictions BIGINT NOT NULL, cost_usd DOUBLE, first_at TIMESTAMP NOT NULL, last_at TIMESTAMP NOT NULL)",
        "CREATE TABLE serving_latency (model_name VARCHAR NOT NULL, day DATE NOT NULL, version VARCHAR, latency_ms DOUBLE NOT NULL, n BIGINT NOT NULL)",
        "CREATE TABLE serving_latency_daily (model_name VARCHAR NOT NULL, day DATE NOT NULL, version VARCHAR, n BIGINT NOT NULL, p50_ms DOUBLE, p95_ms DOUBLE, p99_ms DOUBLE, max_ms DOUBLE)",
        "CREATE TABLE kpi_summary_days (model_name VARCHAR NOT NULL, day DATE NOT NULL, definition VARCHAR NOT NULL, segments VARCHAR NOT NULL, outcomes_through BIGINT NOT NULL, built_at TIMESTAMP NOT NULL, PRIMARY KEY (model_name, day))",
        "CREATE TABLE kpi_hourly (model_name VARCHAR NOT NULL, day DATE NOT NULL, hour TIMESTAMP NOT NULL, version VARCHAR, role VARCHAR NOT NULL, dims VARCHAR[] NOT NULL, n DOUBLE, selected DOUBLE, exp_bad_selected DOUBLE, exp_bad_amount_selected DOUBLE, exp_good_amount_selected DOUBLE, labelled DOUBLE, selected_labelled DOUBLE, selected_bad DOUBLE, amount_selected_good DOUBLE, amount_selected_bad DOUBLE, amount_rejected_good DOUBLE, amount_rejected_bad DOUBLE)",
        """CREATE TABLE kpi_cells_daily (model_name VARCHAR NOT NULL, day DATE NOT NULL, version VARCHAR, cell BIGINT, "group" VARCHAR, label BIGINT, n BIGINT, amount DOUBLE, exp_bad_amount DOUBLE, exp_good_amount DOUBLE)""")),
    Migration(11, "alerting: rules and their evaluations per window, alerts and their events, incidents, silences, "
              "notification channels and outbox, retraining requests", _alerts.STATEMENTS),
    Migration(12, "guarded rollouts: plans (canary steps, guardrails, promoters) and their audited events",
              _deployments.STATEMENTS),
    Migration(13, "ingested files: which file (path, size, sha256) each ingest took, so a folder is taken once", (
        "CREATE TABLE ingested_files (model_name VARCHAR NOT NULL, kind VARCHAR NOT NULL, path VARCHAR NOT NULL, "
        "bytes BIGINT NOT NULL, sha256 VARCHAR NOT NULL, ingest_id BIGINT, status VARCHAR NOT NULL, "
        "taken_at TIMESTAMP NOT NULL, PRIMARY KEY (model_name, kind, sha256))",)),
    Migration(14, "audit trail authenticated and anchored: each new row carries an HMAC made with a key kept "
                  "outside the store; the anchor file beside the store starts at the current head",
              ("ALTER TABLE audit_log ADD COLUMN row_mac VARCHAR",), (_start_anchor,)),
    Migration(15, "personal API tokens of the CLI: only their sha256 is kept, with an expiry and a revocation", (
        "CREATE SEQUENCE api_token_id_seq START 1",
        "CREATE TABLE api_tokens (token_id BIGINT PRIMARY KEY, username VARCHAR NOT NULL, "
        "secret_sha256 VARCHAR NOT NULL, label VARCHAR NOT NULL DEFAULT '', created_at TIMESTAMP NOT NULL, "
        "created_by VARCHAR NOT NULL, expires_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP, revoked_by VARCHAR)",)),
    Migration(16, "scheduled reports (definitions, rendered periods with manifest hash and delivery) and retention "
              "policies per model", _reports.STATEMENTS),
    Migration(17, "compliance: post-market monitoring plans per version (with their sha256), serious incidents and "
              "their reporting clocks, model reviews, reminders sent", _compliance.STATEMENTS),
    Migration(18, "paired (shadow) comparison summaries per pair of versions and pair of UTC days: decision cells, "
              "fine score bins, value counts and the DeLong sample, keyed by the log segments and outcomes", (
        "CREATE TABLE paired_summary_days (model_name VARCHAR NOT NULL, baseline VARCHAR NOT NULL, candidate VARCHAR "
        "NOT NULL, day DATE NOT NULL, definition VARCHAR NOT NULL, segments VARCHAR NOT NULL, outcomes_through BIGINT "
        "NOT NULL, built_at TIMESTAMP NOT NULL, PRIMARY KEY (model_name, baseline, candidate, day))",
        "CREATE TABLE paired_cells (model_name VARCHAR NOT NULL, baseline VARCHAR NOT NULL, candidate VARCHAR NOT NULL, "
        "day_a DATE NOT NULL, day_b DATE NOT NULL, label BIGINT, dec_a BIGINT, dec_b BIGINT, n BIGINT NOT NULL)",
        "CREATE TABLE paired_scores (model_name VARCHAR NOT NULL, baseline VARCHAR NOT NULL, candidate VARCHAR NOT NULL, "
        "day_a DATE NOT NULL, day_b DATE NOT NULL, side INTEGER NOT NULL, bin INTEGER NOT NULL, n BIGINT NOT NULL)",
        "CREATE TABLE paired_values (model_name VARCHAR NOT NULL, baseline VARCHAR NOT NULL, candidate VARCHAR NOT NULL, "
        "day_a DATE NOT NULL, day_b DATE NOT NULL, value_a DOUBLE NOT NULL, value_b DOUBLE NOT NULL, n BIGINT NOT NULL)",
        "CREATE TABLE paired_sample (model_name VARCHAR NOT NULL, baseline VARCHAR NOT NULL, candidate VARCHAR NOT NULL, "
        "day_a DATE NOT NULL, day_b DATE NOT NULL, h UBIGINT NOT NULL, label BIGINT NOT NULL, score_a DOUBLE, "
        "score_b DOUBLE)")),
    Migration(19, "browser sessions: the SHA-256 of each session token, its user, role at sign-in, method, last "
                  "activity and end, so a session survives reloads and a sign-out ends it in every tab", (
        "CREATE TABLE sessions (token_sha256 VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, role VARCHAR NOT NULL, "
        "method VARCHAR NOT NULL, sign_in_ref VARCHAR NOT NULL DEFAULT '', started_at TIMESTAMP NOT NULL, "
        "last_seen_at TIMESTAMP NOT NULL, ended_at TIMESTAMP, end_reason VARCHAR)",)),
    Migration(20, "prediction views name their segments relative to the store's folder, so a moved or copied "
              "store reads its own logs", (), (rebuild_views,)),
    Migration(21, "one ledger for every summary kept per UTC day (the summaries engine): the segments and key each "
                  "day was built from; the serving and KPI summaries' own day tables move into it", (
        "CREATE TABLE summary_ledger (summary VARCHAR NOT NULL, model_name VARCHAR NOT NULL, scope VARCHAR NOT NULL, "
        "day DATE NOT NULL, segments VARCHAR NOT NULL, key VARCHAR NOT NULL, outcomes_through BIGINT NOT NULL, "
        "built_at TIMESTAMP NOT NULL, PRIMARY KEY (summary, model_name, scope, day))",
        "INSERT INTO summary_ledger (summary, model_name, scope, day, segments, key, outcomes_through, built_at) "
        "SELECT 'serving', model_name, '', day, segments, '', 0, built_at "
        "FROM serving_summary_days",
        "INSERT INTO summary_ledger (summary, model_name, scope, day, segments, key, outcomes_through, built_at) "
        "SELECT 'kpi', model_name, '', day, segments, definition, outcomes_through, built_at "
        "FROM kpi_summary_days",
        "DROP TABLE serving_summary_days",
        "DROP TABLE kpi_summary_days")),
    Migration(22, "the drift rollups' ledger moves into the summaries engine's (a day stays summarised when every "
                  "segment overlapping it had been rolled up for the version; the rows of other days are dropped); "
                  "fairness cells per UTC day, version, group, decision and label kept as a summary", (
        """INSERT INTO summary_ledger (summary, model_name, scope, day, segments, key, outcomes_through, built_at)
           WITH days AS (
               SELECT s.model_name, s.ingest_id, s.part, CAST(d.day AS DATE) AS day
               FROM log_segments s, LATERAL (SELECT unnest(generate_series(date_trunc('day', s.min_predicted_at),
                    date_trunc('day', s.max_predicted_at), INTERVAL 1 DAY)) AS day) d
               WHERE s.rows > 0 AND s.min_predicted_at IS NOT NULL),
                scopes AS (SELECT DISTINCT model_name, model_version, bins_key FROM drift_rollup_segments)
           SELECT 'drift', k.model_name, k.model_version, d.day,
                  string_agg(CAST(d.ingest_id AS VARCHAR) || ':' || CAST(d.part AS VARCHAR), ',' ORDER BY d.ingest_id, d.part),
                  k.bins_key, 0, now()::TIMESTAMP
           FROM days d JOIN scopes k ON k.model_name = d.model_name
           LEFT JOIN drift_rollup_segments r ON r.model_name = d.model_name AND r.model_version = k.model_version
                AND r.ingest_id = d.ingest_id AND r.part = d.part AND r.bins_key = k.bins_key
           GROUP BY k.model_name, k.model_version, k.bins_key, d.day
           HAVING count(r.ingest_id) = count(*)""",
        "DELETE FROM drift_rollup WHERE NOT EXISTS (SELECT 1 FROM summary_ledger l WHERE l.summary = 'drift' "
        "AND l.model_name = drift_rollup.model_name AND l.scope = drift_rollup.model_version AND l.day = drift_rollup.day)",
        "DROP TABLE drift_rollup_segments",
        "CREATE TABLE fairness_cells (model_name VARCHAR NOT NULL, day DATE NOT NULL, version VARCHAR, "
        "groups VARCHAR[] NOT NULL, decision BIGINT, label BIGINT, n BIGINT NOT NULL, value DOUBLE)")),
    Migration(23, "performance cells per UTC day, version, segment value, label, decision and fine score bin, kept as "
                  "a summary (confusion counts, score histogram per label, sums of scores, squared errors and log losses)", (
        "CREATE TABLE performance_cells (model_name VARCHAR NOT NULL, day DATE NOT NULL, version VARCHAR NOT NULL, "
        "segment VARCHAR NOT NULL, segment_value VARCHAR, label TINYINT, decision TINYINT, bin INTEGER, "
        "n BIGINT NOT NULL, score_sum DOUBLE, sq_error_sum DOUBLE, log_loss_sum DOUBLE)",)),
    Migration(24, "the explanation sample kept per version and UTC day (each day's lowest-hash predictions with "
                  "their SHAP values) and the reference sample's SHAP values once per version", (
        "CREATE TABLE explain_versions (model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, key VARCHAR NOT NULL, "
        "columns VARCHAR[] NOT NULL, features VARCHAR[] NOT NULL, explained BOOLEAN NOT NULL, base_value DOUBLE, "
        "reference_fingerprint VARCHAR, built_at TIMESTAMP NOT NULL, PRIMARY KEY (model_name, version))",
        "CREATE TABLE explain_reference (model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, row_no BIGINT NOT NULL, "
        "shap DOUBLE[] NOT NULL)",
        "CREATE TABLE explain_sample (model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, day DATE NOT NULL, "
        "prediction_id VARCHAR NOT NULL, predicted_at TIMESTAMP NOT NULL, hash UBIGINT NOT NULL, "
        "\"values\" VARCHAR[] NOT NULL, shap DOUBLE[])",
        "CREATE TABLE explain_sample_days (model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, day DATE NOT NULL, "
        "rows BIGINT NOT NULL, kept BIGINT NOT NULL, max_hash UBIGINT)")),
    Migration(25, "multivariate drift's window samples kept per version and UTC day: each day's first rows by the "
                  "sample's seeded hash of the prediction id, with the values the domain classifier and the PCA read", (
        "CREATE TABLE multivariate_sample (model_name VARCHAR NOT NULL, version VARCHAR NOT NULL, day DATE NOT NULL, "
        "h UBIGINT NOT NULL, prediction_id VARCHAR NOT NULL, numbers DOUBLE[] NOT NULL, texts VARCHAR[] NOT NULL)",)),
)

LATEST_VERSION = max(m.version for m in MIGRATIONS)
_KNOWN_VERSIONS = {m.version for m in MIGRATIONS}
if sorted(_KNOWN_VERSIONS) != [m.version for m in MIGRATIONS]:
    raise RuntimeError("MIGRATIONS must be listed in increasing version order, each version once")
_migrate_lock = threading.Lock()


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """Return the schema version of the open store (0 for an empty file)."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    if "schema_version" not in tables:
        if tables:
            raise StoreVersionError(
                "this DuckDB file has tables but no Vigil schema_version table: it is not a Vigil "
                "store. Point VIGIL_DB at a Vigil database or at a new file."
            )
        return 0
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    """Return the versions of the migrations already applied to the open store."""
    if schema_version(con) == 0:
        return set()
    return {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}


def migrate(con: duckdb.DuckDBPyConnection, target: int = LATEST_VERSION) -> list[int]:
    """Apply every known migration up to ``target`` that the store lacks, in order; return those applied.

    Every missing version is applied, not only those above the store's highest, so migrations that
    were written in parallel and landed out of order still all reach every store.

    Raises
    ------
    StoreVersionError
        If the store is newer than this Vigil knows.
    """
    with _migrate_lock:
        current = schema_version(con)
        if current > LATEST_VERSION:
            raise StoreVersionError(
                f"this database has schema version {current}, newer than this Vigil understands "
                f"(up to {LATEST_VERSION}). Upgrade Vigil to open it; it was not modified."
            )
        done = applied_versions(con)
        applied = []
        for migration in MIGRATIONS:
            if migration.version not in done and migration.version <= target:
                con.execute("BEGIN TRANSACTION")
                try:
                    if migration.version == 1:
                        con.execute(
                            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                            "applied_at TIMESTAMP NOT NULL, description VARCHAR NOT NULL)"
                        )
                    for statement in migration.statements:
                        con.execute(statement)
                    for step in migration.steps:
                        step(con)
                    con.execute(
                        "INSERT INTO schema_version (version, applied_at, description) VALUES (?, now()::TIMESTAMP, ?)",
                        [migration.version, migration.description],
                    )
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
                applied.append(migration.version)
        return applied


def ensure_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """Upgrade the store in place if it lacks a migration of this Vigil (True: it did); refuse it if it is newer."""
    if applied_versions(con) == _KNOWN_VERSIONS:
        return False
    migrate(con)
    return True


def require_schema(con: duckdb.DuckDBPyConnection) -> None:
    """For a reader: refuse a store that lacks a migration of this Vigil, instead of upgrading it.

    Upgrading is a write: ``vigil init`` does it, and so does the store's first write
    (:func:`ensure_schema`). A database file without Vigil's tables is refused likewise (a read does
    not create a store); a newer store is refused as :func:`migrate` refuses it.
    """
    done = applied_versions(con)
    if done == _KNOWN_VERSIONS:
        return
    current = schema_version(con)
    if current > LATEST_VERSION:
        migrate(con)  # refuses a newer store without touching it
    if current == 0:
        raise StoreVersionError(
            "this database holds no Vigil store yet, and a read does not create one. Run 'vigil init' to "
            "create it (or 'make run' for the demo); it was not modified.")
    missing = sorted(_KNOWN_VERSIONS - done)
    raise StoreVersionError(
        f"this store lacks schema version(s) {', '.join(map(str, missing))} of this Vigil and is not upgraded "
        "by a read. Run 'vigil init' to upgrade it in place (any write, such as signing in, also does); "
        "it was not modified.")

