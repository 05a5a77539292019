"""Rows whose ``deployment_role`` disagrees with the model's deployment history at their time.

A prediction logged as ``champion`` by version v2 at 10:00 agrees with the history when v2 served
as champion at 10:00 (``started_at <= predicted_at < ended_at``, an open deployment still serving).
A row that disagrees is counted in the ingest's report and, depending on the setting
``ingest.role_mismatch_policy``, either loaded with a warning (``warn``, the default) or sent to the
quarantine with its reason (``quarantine``). A model without any deployment history is not checked
(nothing to disagree with): declare its serving version with ``vigil models add-version ...
--serving-since``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from analytics import settings

ROLE_MISMATCH_POLICY = settings.declare(
    "ingest.role_mismatch_policy", "warn",
    "What an ingest does with a prediction whose deployment_role disagrees with the deployment history at its "
    "predicted_at: warn (load it, count it in the report) or quarantine (keep it out, with its reason)",
    choices=("warn", "quarantine"))


@dataclass(frozen=True)
class RoleCheck:
    """The deployment history an ingest compares rows against, and what it does with a disagreeing row.

    Attributes
    ----------
    policy : {"warn", "quarantine"}
        The setting ``ingest.role_mismatch_policy`` for the model.
    history : pyarrow.Table
        ``version``, ``role``, ``started_at``, ``ended_at`` (null while serving) of every deployment.
    """

    policy: str
    history: pa.Table


def role_check(con: duckdb.DuckDBPyConnection, model: str) -> RoleCheck | None:
    """The :class:`RoleCheck` of ``model``, or None when it has no deployment history."""
    history = con.execute("SELECT version, role, started_at, ended_at FROM deployments WHERE model_name = ?",
                          [model]).to_arrow_table()
    if history.num_rows == 0:
        return None
    return RoleCheck(str(settings.get(con, ROLE_MISMATCH_POLICY.key, model=model)), history)


def role_mismatches(work: duckdb.DuckDBPyConnection, rows: pa.Table, check: RoleCheck) -> pa.Table:
    """The rows of ``rows`` (typed predictions with ``__row``) that disagree with the history, with reasons.

    Returns a table with ``__row``, ``prediction_id``, ``__reasons`` (one reason a row, naming what
    the history says the version did at that time) and ``raw`` (null), in row order.
    """
    work.register("role_rows", rows)
    work.register("role_history", check.history)
    found = work.execute(
        "SELECT r.__row, r.prediction_id, ['deployment_role: ''' || r.deployment_role || ''' disagrees with the "
        "deployment history: at ''' || strftime(r.predicted_at, '%Y-%m-%d %H:%M:%S') || ''' version ''' "
        "|| r.model_version || ''' was ''' || coalesce((SELECT string_agg(DISTINCT h.role, ', ') FROM role_history h "
        "WHERE h.version = r.model_version AND h.started_at <= r.predicted_at "
        "AND (h.ended_at IS NULL OR r.predicted_at < h.ended_at)), 'not deployed') || ''''] AS __reasons, "
        "NULL::VARCHAR AS raw FROM role_rows r WHERE NOT EXISTS (SELECT 1 FROM role_history h "
        "WHERE h.version = r.model_version AND h.role = r.deployment_role AND h.started_at <= r.predicted_at "
        "AND (h.ended_at IS NULL OR r.predicted_at < h.ended_at)) ORDER BY r.__row").to_arrow_table()
    work.unregister("role_rows")
    work.unregister("role_history")
    return found
