"""Drift over time: the same statistics per day or per week, each with its threshold.

One aggregate per column answers every period at once: the fine-histogram and category-count
queries of :mod:`analytics.drift._binning` group by the period. An analyst reads off when a drift
began.
"""

from __future__ import annotations

from dataclasses import replace

from analytics.drift._calculator import store_comparison
from analytics.drift._result import DriftResult
from analytics.errors import InvalidInputError
from analytics.store import DbLike
from analytics.window import Window

FREQUENCIES = ("day", "week")


def drift_over_time(db: DbLike, model: str, *, window: Window, freq: str = "week", baseline: Window | None = None,
                    columns: tuple[str, ...] | None = None, method: str = "auto",
                    use_rollups: bool = True) -> DriftResult:
    """Drift of each column of ``window`` per ``freq`` (``"day"`` or ``"week"``, UTC) against the chosen baseline.

    The baseline is the version's reference data (of the segment, see
    :mod:`analytics.drift._segment`), or, given ``baseline``, those rows of the log (the window's
    version and segment over another span): every period is compared with the same baseline as :func:`drift_summary`
    compares the whole window with, and :attr:`DriftResult.reference_label` names it.

    Returns a :class:`DriftResult` whose table has one row per column and period (``period`` is the
    period's first instant, naive UTC) and no histograms. Parameters as
    :func:`analytics.drift.drift_summary`.
    """
    if freq not in FREQUENCIES:
        raise InvalidInputError(f"frequency {freq!r} is unknown; use day or week")
    result = store_comparison(db, model, window=window, baseline=baseline, columns=columns, method=method,
                              use_rollups=use_rollups, period=freq)
    rows = sorted(result.rows, key=lambda row: (row["column"], row["period"] is None, row["period"]))
    return replace(result, rows=tuple(rows),
                   current_label=f"{result.current_label}, per {freq}")
