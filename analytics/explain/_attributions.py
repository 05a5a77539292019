"""Attributions logged by a serving system, for versions whose model cannot be loaded here.

A serving system that computes SHAP values itself (or serves a model Vigil cannot run) logs them
to the ``logged_attributions`` table (migration 8): one row per prediction and input, keyed by
``(model_name, prediction_id, feature)``, with the contribution in the model's raw output units
(log-odds for a binary classifier) and the base value, so that ``base_value + sum(contribution)``
is the raw output the serving system computed. Vigil uses them when a version has no loadable
artifact; the additivity check then compares them with the logged score.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from analytics import audit, registry
from analytics.errors import InvalidInputError
from analytics.explain._sample import window_filter
from analytics.roles import Actor, require
from analytics.store import predictions_view
from analytics.window import Window

TABLE = "logged_attributions"
COLUMNS = ("prediction_id", "feature", "contribution", "base_value")

def present(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store has the attributions table (stores before migration 8 do not)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [TABLE]).fetchone()[0])


def record(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, frame: pd.DataFrame) -> int:
    """Store a serving system's attributions (``prediction_id, feature, contribution, base_value``).

    Checks the ``ingest`` capability, that every value is finite, every feature is an input of the
    model and every prediction id is in its log; writes the rows and their audit row in the
    caller's transaction. Returns the rows written.
    """
    require(actor, "ingest")
    if not present(con):
        raise InvalidInputError("this store has no logged_attributions table yet; upgrade it (migration 8)")
    info = registry.get_model(con, model)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"attributions need the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}")
    if frame.empty:
        return 0
    values = frame[["contribution", "base_value"]].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise InvalidInputError("attributions must be finite numbers (no NaN or infinity)")
    inputs = {c.name for c in info.schema.features}
    unknown = sorted(set(frame["feature"]) - inputs)
    if unknown:
        raise InvalidInputError(f"not inputs of {model}: {', '.join(unknown)}")
    data = frame[list(COLUMNS)].assign(model_name=model)
    con.register("attributions_in", data)
    try:
        orphans = con.execute(
            f"SELECT count(DISTINCT a.prediction_id) FROM attributions_in a ANTI JOIN {predictions_view(info.stem)} p "
            "USING (prediction_id)").fetchone()[0]
        if orphans:
            raise InvalidInputError(f"{orphans} prediction ids are not in the log of {model}; ingest the predictions first")
        con.execute(f"INSERT INTO {TABLE} (model_name, prediction_id, feature, contribution, base_value, logged_at) "
                    "SELECT model_name, prediction_id, feature, contribution, base_value, "
                    "now()::TIMESTAMP FROM attributions_in")
    finally:
        con.unregister("attributions_in")
    audit.record(con, actor, "attributions.ingest", "model", model,
                 {"rows": len(frame), "predictions": int(frame["prediction_id"].nunique())})
    return len(frame)


def for_predictions(con: duckdb.DuckDBPyConnection, model: str, prediction_ids: list[str]) -> pd.DataFrame:
    """Logged attributions of the given predictions (empty when none or no table)."""
    if not present(con) or not prediction_ids:
        return pd.DataFrame(columns=list(COLUMNS))
    ids = pd.DataFrame({"prediction_id": prediction_ids})
    con.register("wanted_ids", ids)
    try:
        return con.execute(
            f"SELECT a.prediction_id, a.feature, a.contribution, a.base_value FROM {TABLE} a "
            "JOIN wanted_ids w USING (prediction_id) WHERE a.model_name = ? ORDER BY 1, 2", [model]).df()
    finally:
        con.unregister("wanted_ids")


def sample_logged(con: duckdb.DuckDBPyConnection, info, window: Window | None, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` predictions of the window that have logged attributions, seeded."""
    if not present(con):
        return pd.DataFrame()
    where = window_filter(info, window)
    return con.execute(
        f"SELECT p.* FROM {predictions_view(info.stem)} p WHERE {where.sql} AND p.prediction_id IN "
        f"(SELECT prediction_id FROM {TABLE} WHERE model_name = ?) "
        "ORDER BY hash(p.prediction_id, ?), p.prediction_id LIMIT ?", [*where.params, info.model, int(seed), int(n)]).df()
