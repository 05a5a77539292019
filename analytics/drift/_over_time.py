"""Drift over time: the same statistics per day or per week, each with its threshold.

One aggregate per column answers every period at once: the fine-histogram and category-count
queries of :mod:`analytics.drift._binning` group by the period. An analyst reads off when a drift
began.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from analytics.drift._calculator import _refresh_quietly, _use_rollups, config_for_model, store_drift, store_sides
from analytics.drift._result import DriftResult
from analytics.errors import InvalidInputError
from analytics.overview import DbLike, _run

FREQUENCIES = ("day", "week")


def drift_over_time(db: DbLike, model: str, *, start: datetime | None, end: datetime | None, freq: str = "week",
                    version: str | None = None, segment: str | None = None, segment_value: str | None = None,
                    columns: tuple[str, ...] | None = None, method: str = "auto",
                    use_rollups: bool = True) -> DriftResult:
    """Drift of each column per ``freq`` (``"day"`` or ``"week"``, UTC) against the version's reference.

    Returns a :class:`DriftResult` whose table has one row per column and period (``period`` is the
    period's first instant, naive UTC) and no histograms. Parameters as
    :func:`analytics.drift.drift_summary`.
    """
    if freq not in FREQUENCIES:
        raise InvalidInputError(f"frequency {freq!r} is unknown; use day or week")

    rollups = use_rollups and _use_rollups(None, segment)
    if rollups:
        _refresh_quietly(db, model, version, start, end)

    def work(con: duckdb.DuckDBPyConnection) -> DriftResult:
        config = config_for_model(con, model, method)
        sides = store_sides(con, model, version=version, start=start, end=end, segment=segment,
                            segment_value=segment_value, columns=list(columns) if columns else None, period=freq)
        table, _, n_ref, n_cur = store_drift(con, sides, config, histograms=False, rollups=rollups, start=start,
                                             end=end, period=freq)
        return DriftResult(table.sort_values(["column", "period"], ignore_index=True), {}, sides.reference_label,
                           f"{sides.current_label}, per {freq}", n_ref, n_cur)

    return _run(db, work)
