"""One window's performance as the Performance page shows it, from one read of the window's cells.

:func:`window_performance` reads the window's cells once (:func:`~analytics.performance._realised.load_cells`)
and aggregates from them what :func:`~analytics.performance.realised_metrics` (the whole window),
:func:`~analytics.performance.calibration_curve`, :func:`~analytics.performance.change_points`,
:func:`~analytics.performance.cbpe` and :func:`~analytics.performance.concept_drift` return for it, each
computed once: the concept-drift verdicts take the realised metrics per period from CBPE's table, which
holds them. The numbers are those of the five functions (the same cells, the same aggregates).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from analytics.errors import VigilError
from analytics.performance._cbpe import CBPEResult, cbpe_of_perf
from analytics.performance._concept import change_points_of, concept_verdicts, stream_of_counts
from analytics.performance._realised import (CALIBRATION_BINS, CELLS, PERF, calibration_bins, calibration_of_perf,
                                             finish_counts, group_by, load_cells, metrics_of_perf, period_counts_sql)
from analytics.store import DbLike, run
from analytics.window import Window


#: :attr:`WindowPerformance.problem` of a window without predictions (nothing to estimate or judge).
NO_ROWS = "no predictions in this window"


@dataclass(frozen=True)
class WindowPerformance:
    """A window's realised, estimated and drifting performance (:func:`window_performance`).

    Attributes
    ----------
    whole : pandas.DataFrame
        The realised metrics of the whole window (:func:`~analytics.performance.realised_metrics`, ``freq=None``).
    calibration : pandas.DataFrame
        Its reliability curve on :data:`CALIBRATION_BINS` bins (:func:`~analytics.performance.calibration_curve`).
    change_points : dict
        Page-Hinkley on its daily error stream (:func:`~analytics.performance.change_points`).
    cbpe : CBPEResult or None
        The estimated beside the realised performance per period (:func:`~analytics.performance.cbpe`);
        None when it cannot be computed (``problem`` says why).
    verdicts : pandas.DataFrame or None
        The concept-drift verdicts per period (:func:`~analytics.performance.concept_drift`); None with ``cbpe``.
    problem : str or None
        Why ``cbpe`` and ``verdicts`` are missing: the version has no reference data, say, or the window no
        predictions (:data:`NO_ROWS`).
    """

    whole: pd.DataFrame
    calibration: pd.DataFrame
    change_points: dict
    cbpe: CBPEResult | None
    verdicts: pd.DataFrame | None
    problem: str | None = None


def window_performance(db: DbLike, model: str, *, window: Window, freq: str = "week") -> WindowPerformance:
    """The realised metrics, calibration curve, change points, CBPE and concept-drift verdicts of ``window``.

    Parameters
    ----------
    db, model
        The store and a registered model.
    window : Window
        The rows measured; its version defaults to the champion.
    freq : str
        ``"day"`` or ``"week"``: the periods of CBPE and the concept-drift verdicts.

    Returns
    -------
    WindowPerformance
        What the five functions return for the window; CBPE and the verdicts are None, with the reason,
        when they cannot be computed (a version without reference data, a window without predictions),
        and the rest is still there.
    """
    _, per = calibration_bins(window.segment, CALIBRATION_BINS)

    def work(con: duckdb.DuckDBPyConnection) -> WindowPerformance:
        loaded = load_cells(con, model, window=window)
        try:
            group_by(con, CELLS, None)
            whole = metrics_of_perf(con, model, loaded)
            calibration = calibration_of_perf(con, CALIBRATION_BINS, per, loaded.unsummarised_days)
            daily = finish_counts(con.execute(period_counts_sql(CELLS, "day")).df(), loaded.unsummarised_days)
            points = change_points_of(con, model, stream_of_counts(daily))
            if whole.empty or int(whole["rows"].sum()) == 0:
                return WindowPerformance(whole, calibration, points, None, None, NO_ROWS)
            group_by(con, CELLS, freq)
            try:
                estimated = cbpe_of_perf(con, model, loaded)
                verdicts = concept_verdicts(con, model, window=window, freq=freq, perf=estimated.table)
            except VigilError as exc:
                return WindowPerformance(whole, calibration, points, None, None, str(exc))
            return WindowPerformance(whole, calibration, points, estimated, verdicts)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {PERF}")
            con.execute(f"DROP TABLE IF EXISTS {CELLS}")

    return run(db, work)
