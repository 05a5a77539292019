"""Business charts, built from the KPI, cost and latency results: the KPIs and Cost pages draw them.

The what-if charts take the result of :func:`analytics.business.threshold_whatif` (its curve, the
current and the profit-maximising thresholds) and the model's fairness thresholds
(:func:`analytics.fairness.thresholds_for`); the latency chart the SLA of the latency result. So the
lines and their labels come from the settings in effect, not from the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from analytics.business import CostResult, LatencyResult
from analytics.fairness import Thresholds
from app import theme


@dataclass(frozen=True)
class ThresholdMark:
    """A vertical line of a what-if chart: where, its label, its dash and where the label sits."""

    x: float
    label: str
    dash: str
    position: str


def threshold_marks(current: float, best: float | None, chosen: float) -> list[ThresholdMark]:
    """The what-if charts' vertical lines, each labelled once, on alternate sides so labels do not overlap."""
    best_left = best is not None and best <= current  # the two top labels point away from each other
    marks = [ThresholdMark(current, "current" + (" = chosen" if chosen == current else ""), "dash",
                           "top right" if best is None or best_left else "top left")]
    if best is not None:
        marks.append(ThresholdMark(best, "profit-max", "dot", "top left" if best_left else "top right"))
    if chosen != current:
        marks.append(ThresholdMark(chosen, "chosen", "solid", "bottom right"))
    return marks


def _mark(fig: go.Figure, marks: list[ThresholdMark]) -> None:
    for m in marks:
        fig.add_vline(x=m.x, line_dash=m.dash, line_color=theme.NEUTRAL, annotation_text=m.label,
                      annotation_position=m.position)


def profit_curve(whatif: Any, *, chosen: float, currency: str, window_label: str) -> go.Figure:
    """Expected (and, with outcomes, realised) profit by threshold, with the current, profit-maximising and
    chosen thresholds marked; ``whatif`` is a :func:`analytics.business.threshold_whatif` result."""
    curve = whatif.curve
    fig = go.Figure()
    fig.add_scatter(x=curve["threshold"], y=curve["expected_profit"], name="expected (all rows)")
    if whatif.labelled:
        fig.add_scatter(x=curve["threshold"], y=curve["realised_profit"], name="realised (with outcome)")
    _mark(fig, threshold_marks(whatif.current_threshold, whatif.best_threshold, chosen))
    fig.update_layout(title=theme.chart_title(f"Profit by threshold ({currency})", window=window_label,
                                              rows=whatif.rows, unit="predictions"),
                      xaxis_title="Threshold (decline when score ≥ threshold)", yaxis_title=f"Profit ({currency})",
                      yaxis_rangemode="normal", height=400, legend=theme.LEGEND_BELOW)
    return fig


def rate_curve(whatif: Any, parity: Thresholds, *, chosen: float, selected_label: str,
               window_label: str) -> go.Figure:
    """The selection rate and the demographic parity ratio by threshold, with the model's parity threshold
    (``parity.dp_ratio``) dotted and the current and chosen thresholds marked."""
    curve = whatif.curve
    fig = go.Figure()
    fig.add_scatter(x=curve["threshold"], y=curve["selection_rate"], name=f"{selected_label} rate")
    fig.add_scatter(x=curve["threshold"], y=curve["demographic_parity_ratio"], name="parity ratio")
    fig.add_hline(y=parity.dp_ratio, line_dash="dot", line_color=theme.BAD,
                  annotation_text=f"fairness threshold ({parity.dp_ratio:g})")
    _mark(fig, threshold_marks(whatif.current_threshold, None, chosen))
    fig.update_layout(title=theme.chart_title(f"{selected_label.capitalize()} rate and parity ratio",
                                              window=window_label, rows=whatif.rows, unit="predictions"),
                      xaxis_title="Threshold", yaxis_title="Share (0-1)", yaxis_range=[0, 1.02], height=400,
                      legend=theme.LEGEND_BELOW)
    return fig


def daily_cost(costs: CostResult, *, window_label: str) -> go.Figure:
    """Logged prediction cost per UTC day, stacked by version (its deployment role in the legend)."""
    daily = costs.daily
    fig = go.Figure()
    for version, rows in daily.groupby("version", sort=True):
        fig.add_bar(x=rows["day"], y=rows["cost_usd"], name=f"{version} ({rows['role'].iloc[-1]})",
                    hovertemplate="USD %{y:,.2f}<extra>" + str(version) + "</extra>")
    fig.update_layout(barmode="stack", height=340, xaxis_title="Day (UTC)", yaxis_title="Cost per day (USD)",
                      title=theme.chart_title("Prediction cost per day, by version (USD)", window=window_label,
                                              rows=int(daily["predictions"].sum()), unit="predictions"))
    return fig


def daily_latency(latency: LatencyResult, *, window_label: str) -> go.Figure:
    """The SLA percentile's latency per UTC day and version, against the model's SLA (from the result)."""
    col = f"{latency.sla_percentile}_ms"
    fig = go.Figure()
    for version, rows in latency.daily.groupby("version", sort=True):
        fig.add_scatter(x=rows["day"], y=rows[col], name=str(version), mode="lines",
                        hovertemplate="%{y:.1f} ms<extra>" + str(version) + "</extra>")
    fig.add_hline(y=latency.sla_ms, line_dash="dash", line_color=theme.BAD,
                  annotation_text=f"SLA {latency.sla_ms:g} ms")
    fig.update_layout(height=340, xaxis_title="Day (UTC)", yaxis_title=f"{latency.sla_percentile} latency (ms)",
                      title=theme.chart_title(f"Daily {latency.sla_percentile} latency by version against the SLA (ms)",
                                              window=window_label, rows=latency.rows, unit="predictions"))
    return fig
