"""Business KPIs of a model per window and segment, from one DuckDB aggregation over its log.

The aggregation (:func:`kpi_sums`) joins the window's predictions with their outcomes once and
returns *additive* sums (counts, amounts per value-matrix cell, expected amounts) per period
(``current`` / ``previous``), segment value and fairness group. Every KPI is a ratio or a weighted
sum of those (:func:`kpis_from_sums`), so totals, segments and the demographic parity ratio all come
from the same few hundred rows.

Which rows count: the decisions the business acted on, i.e. every row not logged in ``shadow``
mode, unless a version is chosen (then that version's rows, shadow or not: what it *would* have done).
Expected KPIs use every prediction (the score as the probability of the positive label); realised
KPIs use only predictions whose outcome has arrived, and say how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from analytics.business import _rollup
from analytics.business._common import (
    DbLike,
    open_model,
    outcome_join,
    quote,
    window_filter,
)
from analytics.business._definitions import TARGET_KPIS, KpiDefinition, get_definition
from analytics.business._sums import SUM_COLUMNS, rollup_dimensions, sum_select
from analytics.errors import InvalidInputError
from analytics.fairness import Thresholds, demographic_parity, thresholds_for
from analytics.logschema import LogSchema
from analytics.window import Window, split_interval
from analytics.registry import ModelInfo
from analytics.store import predictions_view, run

#: KPI key -> (kind of unit, higher is better or None when neither, basis of the value).
KPI_META: dict[str, tuple[str, bool | None, str]] = {
    "predictions": ("count", None, "all predictions"),
    "selection_rate": ("share", True, "all predictions"),
    "expected_bad_rate_selected": ("share", False, "all predictions (score as probability)"),
    "expected_loss": ("money", False, "all predictions (score as probability)"),
    "expected_profit": ("money", True, "all predictions (score as probability)"),
    "labelled": ("count", None, "predictions with an outcome"),
    "bad_rate_selected": ("share", False, "predictions with an outcome"),
    "revenue": ("money", True, "predictions with an outcome"),
    "realised_loss": ("money", False, "predictions with an outcome"),
    "profit": ("money", True, "predictions with an outcome"),
    "profit_per_decision": ("money", True, "predictions with an outcome"),
    "opportunity_cost": ("money", False, "predictions with an outcome"),
    "demographic_parity_ratio": ("ratio", True, "all predictions"),
}


def kpi_label(key: str, definition: KpiDefinition, schema: LogSchema) -> str:
    """The KPI's name in the words of the model's business (``'Approved rate'``, ``'Default rate among approved'``),
    columns by their titles in ``schema`` (``'Demographic parity ratio by sex'``, not ``SEX``)."""
    sel, bad = definition.selected_label, definition.bad_name
    return {
        "predictions": "Predictions",
        "selection_rate": f"{sel.capitalize()} rate",
        "expected_bad_rate_selected": f"Expected {bad} rate among {sel}",
        "expected_loss": f"Expected loss ({bad} among {sel})",
        "expected_profit": "Expected profit",
        "labelled": "Predictions with an outcome",
        "bad_rate_selected": f"{bad.capitalize()} rate among {sel}",
        "revenue": "Revenue (realised)",
        "realised_loss": f"Loss (realised, {bad} among {sel})",
        "profit": "Profit (realised: revenue minus loss)",
        "profit_per_decision": "Profit per decision (realised)",
        "opportunity_cost": "Opportunity cost (good cases rejected)",
        "demographic_parity_ratio": f"Demographic parity ratio by {schema.display_name(definition.fairness_attribute or '')}",
    }[key]


def kpi_unit(key: str, definition: KpiDefinition) -> str:
    """The unit a KPI is shown in."""
    kind = KPI_META[key][0]
    return {"count": "predictions", "share": "%", "money": definition.currency, "ratio": "min/max"}[kind]


# --------------------------------------------------------------------------------------------------
# The aggregation


def kpi_sums(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition: KpiDefinition, *, now: datetime,
             window: Window, by: str | None = None, with_previous: bool = True,
             use_rollup: bool = True) -> pd.DataFrame:
    """The additive sums of :data:`SUM_COLUMNS` per ``period``, ``group`` (values of ``by``) and ``attribute``.

    ``period`` is ``current`` for ``window`` and ``previous`` for the window of equal length before it
    (when ``with_previous`` and the window is bounded). ``attribute`` holds the definition's fairness
    attribute (``'(none)'`` when it has none; ``'(missing)'`` for NULL). Whole hours come from the
    hourly rollup (:mod:`analytics.business._rollup`) unless ``use_rollup`` is false or ``by`` is not
    one of its columns; partial hours from the exact query.
    """
    if by is not None and by not in {c.name for c in info.schema.columns}:
        raise InvalidInputError(f"{by!r} is not a column of {info.name}")
    previous = window.previous(now) if with_previous else None
    periods = [("current", window)] + ([("previous", previous)] if previous else [])
    dims = rollup_dimensions(info, definition)
    if not use_rollup or (by is not None and by not in dims):
        return _combine([_exact_sums(con, info, definition, name, period, by) for name, period in periods])
    attribute, segment = definition.fairness_attribute, window.segment
    if segment:
        window.where(info.schema)  # validates the segment
    roll = _rollup.hourly_by(con, info, definition, [d for d in dict.fromkeys((by, segment, attribute)) if d])
    hour = roll["hour"].to_numpy()
    frames = []
    for name, period in periods:
        hours, edges = split_interval(period.start, period.end)
        if hours is not None:
            lo = 0 if hours[0] is None else int(hour.searchsorted(np.datetime64(hours[0]), side="left"))
            hi = len(hour) if hours[1] is None else int(hour.searchsorted(np.datetime64(hours[1]), side="left"))
            part = roll.iloc[lo:hi]
            keep = part["version"] == window.version if window.version else part["role"] != "shadow"
            if segment:
                keep &= part[segment] == window.segment_value
            part = part[keep]
            part = part.assign(period=name, group=part[by] if by else "(all)",
                               attribute=part[attribute] if attribute else "(none)")
            frames.append(part[["period", "group", "attribute", *SUM_COLUMNS]])
        frames += [_exact_sums(con, info, definition, name, period.between(a, b), by) for a, b in edges]
    return _combine(frames)


def _combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["period", "group", "attribute", *SUM_COLUMNS]).astype(
            {c: float for c in SUM_COLUMNS})
    return (pd.concat(frames, ignore_index=True).groupby(["period", "group", "attribute"], as_index=False)
            [list(SUM_COLUMNS)].sum().sort_values(["period", "group", "attribute"]).reset_index(drop=True))


def _exact_sums(con: duckdb.DuckDBPyConnection, info: ModelInfo, definition: KpiDefinition, period: str,
                window: Window, by: str | None) -> pd.DataFrame:
    """The sums of one period (``window``) straight from the log joined with its outcomes."""
    where = window_filter(info, window)
    join = outcome_join(info, window.start)
    group = f"coalesce(CAST(p.{quote(by)} AS VARCHAR), '(missing)')" if by else "'(all)'"
    attribute = (f"coalesce(CAST(p.{quote(definition.fairness_attribute)} AS VARCHAR), '(missing)')"
                 if definition.fairness_attribute else "'(none)'")
    frame = con.execute(
        f"""
        SELECT ? AS period, {group} AS "group", {attribute} AS attribute, {sum_select(definition)}
        FROM {predictions_view(info.stem)} p {join.sql}
        WHERE {where.sql}
        GROUP BY ALL
        """,
        [period, *join.params, *where.params],
    ).df()
    for column in SUM_COLUMNS:
        frame[column] = frame[column].astype(float)
    return frame


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def kpis_from_sums(sums: pd.DataFrame, definition: KpiDefinition, thresholds: Thresholds) -> dict[str, float]:
    """KPI values from the sums of one group (any number of ``attribute`` rows; they are added up).

    Parameters
    ----------
    sums : DataFrame
        Rows of :func:`kpi_sums` (one period, one segment value).
    definition : KpiDefinition
        The value matrix.
    thresholds : Thresholds
        The model's fairness thresholds (:func:`analytics.fairness.thresholds_for`): the demographic
        parity ratio is :func:`analytics.fairness.demographic_parity` of the selection rates of the
        attribute's groups, with the Fairness page's small-group rule; NaN with fewer than two
        groups large enough to judge.
    """
    # numpy rather than pandas: called once per segment and period on frames of a few rows.
    values = sums[list(SUM_COLUMNS)].to_numpy(dtype=float)
    s = dict(zip(SUM_COLUMNS, values.sum(axis=0)))
    d = definition
    revenue = d.value_selected_good * s["amount_selected_good"]
    loss = -d.value_selected_bad * s["amount_selected_bad"]
    expected_loss = -d.value_selected_bad * s["exp_bad_amount_selected"]
    expected_revenue = d.value_selected_good * s["exp_good_amount_selected"]
    dpr = float("nan")
    if d.fairness_attribute and len(sums):
        groups, index = np.unique(sums["attribute"].to_numpy().astype(str), return_inverse=True)
        selected = np.bincount(index, weights=values[:, SUM_COLUMNS.index("selected")], minlength=len(groups))
        n = np.bincount(index, weights=values[:, SUM_COLUMNS.index("n")], minlength=len(groups))
        dpr = demographic_parity(n, selected, thresholds).ratio
    return {
        "predictions": float(s["n"]),
        "selection_rate": _ratio(s["selected"], s["n"]),
        "expected_bad_rate_selected": _ratio(s["exp_bad_selected"], s["selected"]),
        "expected_loss": float(expected_loss),
        "expected_profit": float(expected_revenue - expected_loss),
        "labelled": float(s["labelled"]),
        "bad_rate_selected": _ratio(s["selected_bad"], s["selected_labelled"]),
        "revenue": float(revenue),
        "realised_loss": float(loss),
        "profit": float(revenue - loss),
        "profit_per_decision": _ratio(revenue - loss, s["labelled"]),
        "opportunity_cost": float(-(d.value_rejected_good * s["amount_rejected_good"]
                                    + d.value_rejected_bad * s["amount_rejected_bad"])),
        "demographic_parity_ratio": float(dpr),
    }


# --------------------------------------------------------------------------------------------------
# The KPI table of a window, with its previous period, targets and segments


#: Columns of :attr:`KpiResult.table`.
TABLE_COLUMNS: tuple[str, ...] = ("key", "kpi", "unit", "value", "previous", "change", "target", "vs_target",
                                  "meets_target", "higher_is_better", "basis")


@dataclass(frozen=True)
class KpiResult:
    """Business KPIs of one model over a window.

    Attributes
    ----------
    definition : KpiDefinition
        The value matrix and targets used.
    table : DataFrame
        One row per KPI, :data:`TABLE_COLUMNS`. ``change`` is value minus previous-period value;
        ``vs_target`` value minus target; ``meets_target`` whether it is on the right side of it.
    segments : DataFrame
        With ``by``: one row per value of the segment column, the KPI values of the window
        (columns are KPI keys) and ``selection_rate_previous`` / ``profit_previous``.
    rows, labelled, previous_rows : int
        Predictions in the window, of them with an outcome, and predictions in the previous period.
    has_previous : bool
        Whether a previous period was compared (bounded windows only).
    """

    definition: KpiDefinition
    table: pd.DataFrame
    segments: pd.DataFrame
    rows: int
    labelled: int
    previous_rows: int
    has_previous: bool

    def value(self, key: str) -> float:
        """The window's value of one KPI."""
        return float(self.table.set_index("key").loc[key, "value"])

    def why_not_computable(self, key: str) -> str | None:
        """Why the window's value of one KPI could not be computed (None when it was), in one phrase."""
        if not np.isnan(self.value(key)):
            return None
        basis = KPI_META[key][2]
        if self.rows == 0:
            return "no predictions in the window"
        if basis == "predictions with an outcome" and self.labelled == 0:
            return "no prediction in the window has an outcome yet"
        if key == "demographic_parity_ratio":
            return (f"fewer than two groups of {self.definition.fairness_attribute} are large enough to compare "
                    "(the fairness module's small-group rule)")
        labelled = " with an outcome" if basis == "predictions with an outcome" else ""
        return f"no {self.definition.selected_label} predictions{labelled} to base it on"


def _table(current: dict[str, float], previous: dict[str, float] | None, definition: KpiDefinition,
           schema: LogSchema) -> pd.DataFrame:
    rows = []
    for key, (_, higher, basis) in KPI_META.items():
        if key == "demographic_parity_ratio" and not definition.fairness_attribute:
            continue
        value = current[key]
        before = previous[key] if previous else float("nan")
        target = definition.targets.get(key, float("nan"))
        meets = None
        if not np.isnan(target) and not np.isnan(value):
            meets = bool(value >= target) if TARGET_KPIS[key] else bool(value <= target)
        rows.append({"key": key, "kpi": kpi_label(key, definition, schema), "unit": kpi_unit(key, definition),
                     "value": value, "previous": before, "change": value - before, "target": target,
                     "vs_target": value - target, "meets_target": meets, "higher_is_better": higher,
                     "basis": basis})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def kpis(db: DbLike, model: str, *, now: datetime, window: Window = Window(), by: str | None = None) -> KpiResult:
    """Business KPIs of ``model`` over ``window``, against the previous period and the targets.

    Parameters
    ----------
    db : path or connection
        The store.
    model : str
        A model with a stored :class:`KpiDefinition`.
    now : datetime
        Naive UTC "now": the end of an open window, for the previous period.
    window : Window
        The rows (:class:`analytics.window.Window`; default the whole log): its version's rows (even in
        shadow), or with no version every row not logged in shadow; with a segment, only its value's rows.
    by : str, optional
        A column (a segment or attribute) to break the KPIs down by, in :attr:`KpiResult.segments`.
    """

    def work(con: duckdb.DuckDBPyConnection) -> KpiResult:
        info = open_model(con, model)
        definition = get_definition(con, model)
        sums = kpi_sums(con, info, definition, now=now, window=window, by=by)
        has_previous = window.previous(now) is not None
        rule = thresholds_for(con, model)
        current = sums[sums["period"] == "current"]
        previous = sums[sums["period"] == "previous"]
        table = _table(kpis_from_sums(current, definition, rule),
                       kpis_from_sums(previous, definition, rule) if has_previous else None, definition, info.schema)
        segments = pd.DataFrame()
        if by:
            rows = []
            for value in sorted(set(current["group"]) | set(previous["group"])):
                now_kpis = kpis_from_sums(current[current["group"] == value], definition, rule)
                before = kpis_from_sums(previous[previous["group"] == value], definition, rule)
                rows.append({"segment": value, **now_kpis, "selection_rate_previous": before["selection_rate"],
                             "profit_previous": before["profit"] if has_previous else float("nan")})
            segments = pd.DataFrame(rows)
        return KpiResult(definition, table, segments, int(current["n"].sum()), int(current["labelled"].sum()),
                         int(previous["n"].sum()), has_previous)

    return run(db, work)


def breakdown_columns(db: DbLike, model: str) -> list[str]:
    """Columns the KPIs can be broken down by: the model's segment columns, then its attribute columns."""

    def work(con: duckdb.DuckDBPyConnection) -> list[str]:
        schema = open_model(con, model).schema
        return [c.name for c in schema.segments] + [c.name for c in schema.columns if c.role == "attribute"]

    return run(db, work)
