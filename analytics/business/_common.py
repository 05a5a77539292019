"""Shared pieces of the business package: the window filter, the outcome join, the previous window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from analytics.logschema import quote
from analytics.store import DbLike
from analytics.window import Query, SqlFilter, Window, previous_window
from analytics.registry import ModelInfo, get_model
from analytics.store import outcomes_view, predictions_view

__all__ = ["DbLike", "live_rows", "previous_window", "window_filter", "outcome_join", "get_model",
           "predictions_view", "quote"]


def live_rows(version: str | None, alias: str = "p") -> str:
    """Rows whose decisions count: a chosen version's rows, or else every row not logged in shadow."""
    return "TRUE" if version else f"{alias}.deployment_role IS DISTINCT FROM 'shadow'"


def window_filter(info: ModelInfo, window: Window, *, include_shadow: bool = False) -> SqlFilter:
    """The condition on ``predictions_<stem> p`` of ``window``: its span, version and segment, and unless
    ``include_shadow`` only the rows whose decisions count (:func:`live_rows`)."""
    where = window.where(info.schema)
    if include_shadow:
        return where
    return SqlFilter(f"{where.sql} AND {live_rows(window.version)}", where.params)


def outcome_join(info: ModelInfo, start: datetime | None) -> Query:
    """``LEFT JOIN`` of the outcomes (aliased ``o``) that can belong to predictions made from ``start`` on.

    An outcome is never observed before its prediction, so outcomes observed before ``start`` cannot
    match and are left out of the join's hash table.
    """
    sql = f"SELECT prediction_id, label FROM {outcomes_view(info.stem)}"
    params: list[Any] = []
    if start is not None:
        sql += " WHERE observed_at >= ?"
        params.append(start)
    return Query(f"LEFT JOIN ({sql}) o ON o.prediction_id = p.prediction_id", params)


def open_model(con: duckdb.DuckDBPyConnection, model: str) -> ModelInfo:
    """The registered model (raises NotFoundError with the known names)."""
    return get_model(con, model)
