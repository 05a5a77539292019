"""Fairness charts, built from a :class:`analytics.fairness.FairnessReport`: the Fairness page draws them.

The threshold lines and their labels come from the report's thresholds (the ``fairness.*`` settings in
effect for the model), so no page writes a threshold of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from analytics.fairness import FairnessReport
from app import theme

#: Per-group metrics a reader can chart, by column of ``AttributeResult.groups``.
METRICS = {"selection_rate": "Selection rate", "true_positive_rate": "True-positive rate",
           "false_positive_rate": "False-positive rate", "precision": "Precision", "accuracy": "Accuracy"}


@dataclass(frozen=True)
class DisparityTrend:
    """A disparity charted per week: its name, and the threshold it fails against (None: not judged)."""

    label: str
    limit: float | None
    fails: str = ""


def disparity_trends(report: FairnessReport) -> dict[str, DisparityTrend]:
    """The disparities of :attr:`AttributeResult.over_time` a reader can chart, with the report's thresholds."""
    th = report.thresholds
    return {"demographic_parity_ratio": DisparityTrend("Demographic parity ratio", th.dp_ratio, "below"),
            "equalized_odds_difference": DisparityTrend("Equalized odds difference", th.eo_difference, "above"),
            "demographic_parity_difference": DisparityTrend("Demographic parity difference", None),
            "equal_opportunity_difference": DisparityTrend("Equal opportunity difference", None)}


def _days(report: FairnessReport) -> str:
    return f"UTC days {report.first_day} to {report.last_day}"


def groups(report: FairnessReport, name: str, metric: str) -> go.Figure:
    """``metric`` per group of attribute ``name`` (suppressed groups left out) with 95% bootstrap intervals;
    for the selection rate, the parity bar: the report's demographic parity ratio times the highest judged
    group's rate."""
    data = report.result(name).groups
    shown = data[data["status"] != "suppressed"]
    colours = [theme.BAD if s != "judged" else theme.GOOD for s in shown["status"]]
    fig = go.Figure(go.Bar(
        x=shown["group"], y=shown[metric], marker_color=colours,
        error_y={"type": "data", "symmetric": False, "array": shown[f"{metric}_high"] - shown[metric],
                 "arrayminus": shown[metric] - shown[f"{metric}_low"], "color": theme.TEXT},
        customdata=shown[["count", "labelled", "status"]],
        hovertemplate="%{x}: %{y:.3f}<br>%{customdata[0]:,.0f} predictions, %{customdata[1]:,.0f} labelled"
                      "<br>%{customdata[2]}<extra></extra>"))
    ratio = report.thresholds.dp_ratio
    if metric == "selection_rate" and shown["selection_rate"].notna().any():
        bar = ratio * shown.loc[shown["status"] == "judged", "selection_rate"].max()
        if not math.isnan(bar):
            fig.add_hline(y=bar, line_dash="dash", line_color=theme.NEUTRAL,
                          annotation_text=f"{ratio:g} × highest judged group")
    labelled = metric != "selection_rate"
    fig.update_layout(
        title=theme.chart_title(f"{METRICS[metric]} by {name}, with 95% bootstrap intervals", window=_days(report),
                                rows=int(shown["labelled" if labelled else "count"].sum()),
                                unit="labelled predictions" if labelled else "predictions"),
        xaxis_title=name, yaxis_title=f"{METRICS[metric]} (share)", yaxis_range=[0, 1.05], height=380,
        hovermode="closest")
    return fig


def trend(report: FairnessReport, name: str, which: str) -> go.Figure:
    """Disparity ``which`` of attribute ``name`` per UTC week, with its threshold (from the report) dashed."""
    weeks: pd.DataFrame = report.result(name).over_time
    disparity = disparity_trends(report)[which]
    fig = go.Figure(go.Scatter(x=weeks["window_start"], y=weeks[which], mode="lines+markers", name=disparity.label,
                               customdata=weeks[["rows", "labelled"]],
                               hovertemplate="week of %{x|%Y-%m-%d}: %{y:.3f}<br>%{customdata[0]:,} predictions, "
                                             "%{customdata[1]:,} labelled<extra></extra>"))
    if disparity.limit is not None:
        fig.add_hline(y=disparity.limit, line_dash="dash", line_color=theme.BAD,
                      annotation_text=f"threshold {disparity.limit:g} (fails {disparity.fails})")
    fig.update_layout(title=theme.chart_title(f"{disparity.label} of {name} per UTC week (Monday start)",
                                              window=_days(report), rows=int(weeks["rows"].sum()), unit="predictions"),
                      xaxis_title="Week starting (UTC)", yaxis_title=f"{disparity.label} (share)", height=340)
    return fig
