"""Threshold what-if: approval rate, profit and the fairness ratio as the decision threshold moves.

The rows of the window are counted once in DuckDB into *threshold cells*: cell ``c`` holds the rows
whose score lies in ``[t_{c-1}, t_c)`` on the grid ``t_k = k / steps`` (cell 0 below ``t_0 = 0``,
cell ``steps + 1`` at or above 1), per fairness group and outcome. A row is declined at threshold
``t_k`` when its score is at or above ``t_k`` (the serving rule ``decision = score >= threshold``),
so the rows selected at ``t_k`` are whole cells, and every curve is a cumulative sum over cells: the
result is exact at each grid threshold, not an approximation.

The profit-maximising threshold is the grid threshold with the highest realised profit on the
labelled rows (when there are any; otherwise the expected profit over all rows). Ties go to the
threshold nearest the current one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pandas as pd

from analytics.business import _rollup
from analytics.business._common import DbLike, open_model, outcome_join, quote, window_filter
from analytics.store import run
from analytics.business._definitions import KpiDefinition, get_definition
from analytics.business._sums import cell_select, expressions
from analytics.errors import InvalidInputError
from analytics.fairness import SUPPRESSED, Thresholds, demographic_parity, group_status, thresholds_for
from analytics.window import Window, split_interval
from analytics.registry import champion_version, get_version
from analytics.store import predictions_view

#: Columns of :attr:`ThresholdWhatIf.curve`.
CURVE_COLUMNS: tuple[str, ...] = ("threshold", "selection_rate", "selected", "expected_profit", "realised_profit",
                                  "bad_rate_selected", "demographic_parity_ratio")


@dataclass(frozen=True)
class ThresholdWhatIf:
    """The threshold curves of one version over a window.

    Attributes
    ----------
    curve : DataFrame
        One row per grid threshold, :data:`CURVE_COLUMNS` (money in the definition's currency).
    group_rates : DataFrame
        Selection rate per threshold and fairness group (columns ``threshold``, ``group``, ``rate``, ``n``,
        ``status``); a group the small-group rule suppresses (:func:`analytics.fairness.group_status`)
        has neither ``rate`` nor ``n``. The ``demographic_parity_ratio`` of the curve is
        :func:`analytics.fairness.demographic_parity` of the judged groups, as on the Fairness page.
    version : str
        The version whose rows were used.
    current_threshold, best_threshold : float
        The version's threshold in the registry, and the profit-maximising grid threshold.
    best_basis : str
        ``"realised"`` (labelled rows) or ``"expected"`` (all rows, scores as probabilities).
    rows, labelled : int
        Rows of the window, and of them with an outcome.
    """

    definition: KpiDefinition
    curve: pd.DataFrame
    group_rates: pd.DataFrame
    version: str
    current_threshold: float
    best_threshold: float
    best_basis: str
    rows: int
    labelled: int

    def at(self, threshold: float) -> pd.Series:
        """The curve's row nearest ``threshold``."""
        return self.curve.iloc[int((self.curve["threshold"] - threshold).abs().idxmin())]


def threshold_cells(con: duckdb.DuckDBPyConnection, info, definition: KpiDefinition, *, window: Window,
                    steps: int = 100, use_rollup: bool = True) -> pd.DataFrame:
    """Counts and amounts per threshold cell, fairness group and outcome (``label`` -1 when unknown).

    ``window`` names one version and no segment. Whole UTC days come from the in-memory daily rollup
    (:func:`analytics.business._rollup.daily_cells`), partial days at the window's edges from the exact query.
    """
    if not use_rollup:
        return _exact_cells(con, info, definition, window, steps)
    days, edges = split_interval(window.start, window.end, unit="day")
    frames = []
    if days is not None:
        part = _rollup.daily_cells(con, info, definition, steps)
        part = part[part["version"] == window.version]
        if days[0] is not None:
            part = part[part["day"] >= pd.Timestamp(days[0])]
        if days[1] is not None:
            part = part[part["day"] < pd.Timestamp(days[1])]
        frames.append(part.drop(columns=["day", "version"]))
    frames += [_exact_cells(con, info, definition, window.between(a, b), steps) for a, b in edges]
    frames = [f for f in frames if len(f)]
    if not frames:
        return _exact_cells(con, info, definition, window, steps).iloc[:0]
    return pd.concat(frames, ignore_index=True).groupby(["cell", "group", "label"], as_index=False).sum()


def _exact_cells(con, info, definition: KpiDefinition, window: Window, steps: int) -> pd.DataFrame:
    rows = window_filter(info, window)
    join = outcome_join(info, window.start)
    return con.execute(
        f"""
        SELECT {cell_select(definition, steps)}
        FROM {predictions_view(info.stem)} p {join.sql}
        WHERE {rows.sql} AND p.score IS NOT NULL
        GROUP BY ALL
        """,
        [*join.params, *rows.params],
    ).df()


def threshold_whatif(db: DbLike, model: str, *, window: Window = Window(), steps: int = 100) -> ThresholdWhatIf:
    """Approval rate, expected and realised profit, bad rate and demographic parity ratio per threshold.

    Parameters
    ----------
    window : Window
        The rows re-decided at every threshold: the window's version (default: the champion), every
        row of it (a segment is refused: the stored cells have none).
    steps : int, default 100
        Grid of thresholds ``0, 1/steps, ..., 1``.
    """
    if not 10 <= steps <= 1000:
        raise InvalidInputError("steps must be between 10 and 1000")
    window.require_no_filter("the threshold what-if", version_allowed=True)

    def work(con: duckdb.DuckDBPyConnection) -> ThresholdWhatIf:
        info = open_model(con, model)
        definition = get_definition(con, model)
        chosen = window.version or champion_version(con, model)
        if chosen is None:
            raise InvalidInputError(f"{model} has no champion; choose a version for the threshold what-if")
        current = float(get_version(con, model, chosen)["threshold"])
        cells = threshold_cells(con, info, definition, window=replace(window, version=chosen), steps=steps)
        return _curves(cells, definition, chosen, current, steps, thresholds_for(con, model))

    return run(db, work)


def _curves(cells: pd.DataFrame, definition: KpiDefinition, version: str, current: float, steps: int,
            rule: Thresholds) -> ThresholdWhatIf:
    d = definition
    thresholds = np.arange(steps + 1) / steps
    cell_index = np.arange(steps + 2)

    def per_cell(mask: pd.Series, column: str) -> np.ndarray:
        return cells[mask].groupby("cell")[column].sum().reindex(cell_index, fill_value=0).to_numpy(float)

    def selected_sum(values: np.ndarray) -> np.ndarray:
        # Selected at t_k: approved (declined when score >= t_k) -> cells 0..k; else cells k+1..
        below = np.cumsum(values)[:-1]  # cells 0..k for k = 0..steps
        return below if d.selected_decision == 0 else values.sum() - below

    everything = pd.Series(True, index=cells.index)
    good, bad = cells["label"] == 1 - d.bad_label, cells["label"] == d.bad_label
    n = per_cell(everything, "n").sum()
    selected = selected_sum(per_cell(everything, "n"))
    expected = (d.value_selected_good * selected_sum(per_cell(everything, "exp_good_amount"))
                + d.value_selected_bad * selected_sum(per_cell(everything, "exp_bad_amount")))
    realised = (d.value_selected_good * selected_sum(per_cell(good, "amount"))
                + d.value_selected_bad * selected_sum(per_cell(bad, "amount")))
    selected_labelled = selected_sum(per_cell(good | bad, "n"))
    selected_bad = selected_sum(per_cell(bad, "n"))
    labelled = int(per_cell(good | bad, "n").sum())
    group_rows, ratios = [], np.full(len(thresholds), np.nan)
    if d.fairness_attribute:
        groups = sorted(cells["group"].unique())
        totals = np.array([per_cell(cells["group"] == g, "n").sum() for g in groups])
        chosen = np.vstack([selected_sum(per_cell(cells["group"] == g, "n")) for g in groups]) if groups else None
        for i, (g, status) in enumerate(zip(groups, group_status(totals, rule))):
            shown = status != SUPPRESSED  # a suppressed group shows neither its size nor its rate
            rate = chosen[i] / totals[i] if shown else np.full(len(thresholds), np.nan)
            group_rows.append(pd.DataFrame({"threshold": thresholds, "group": g, "rate": rate,
                                            "n": int(totals[i]) if shown else pd.NA, "status": status}))
        if groups:
            ratios = np.array([demographic_parity(totals, chosen[:, k], rule).ratio for k in range(len(thresholds))])
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = pd.DataFrame({
            "threshold": thresholds,
            "selection_rate": selected / n if n else np.nan,
            "selected": selected.astype(int),
            "expected_profit": expected,
            "realised_profit": realised if labelled else np.nan,
            "bad_rate_selected": np.where(selected_labelled > 0, selected_bad / np.maximum(selected_labelled, 1), np.nan),
            "demographic_parity_ratio": ratios,
        })
    basis = "realised" if labelled else "expected"
    target = curve["realised_profit"] if labelled else curve["expected_profit"]
    best_value = target.max()
    candidates = curve.loc[target == best_value, "threshold"] if n else pd.Series([current])
    best = float(candidates.iloc[int((candidates - current).abs().to_numpy().argmin())])
    group_rates = pd.concat(group_rows, ignore_index=True) if group_rows else pd.DataFrame(
        columns=["threshold", "group", "rate", "n", "status"])
    return ThresholdWhatIf(definition, curve, group_rates, version, current, best, basis, int(n), labelled)
