"""Drift charts, built from the drift results: the Drift page draws them, it does not build them.

Each builder takes a :class:`analytics.drift.DriftResult` and returns a Plotly figure whose threshold
line and its label come from the result (the threshold in effect for that column and method), so no
page writes a threshold of its own.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from analytics import drift
from analytics.drift import DriftResult
from app import theme
from app.widgets import fmt_num


def distribution(result: DriftResult, column: str, *, window_label: str) -> go.Figure | None:
    """The baseline's and the current window's shares of ``column``'s values side by side, titled with the
    method and its statistic; None when the column has no values to draw."""
    hist = result.histograms.get(column)
    if hist is None or hist.empty:
        return None
    row = result.table.set_index("column").loc[column]
    fig = go.Figure()
    fig.add_bar(x=hist["bin"], y=hist["reference_share"], name="baseline", marker_color=theme.PALETTE[0],
                customdata=hist["reference_count"], hovertemplate="%{y:.1%} (%{customdata:,} values)<extra>baseline</extra>")
    fig.add_bar(x=hist["bin"], y=hist["current_share"], name="current", marker_color=theme.PALETTE[1],
                customdata=hist["current_count"], hovertemplate="%{y:.1%} (%{customdata:,} values)<extra>current</extra>")
    binning = "categories" if row["kind"] == "categorical" else "the baseline's deciles"
    fig.update_layout(
        barmode="group",
        title=theme.chart_title(f"{column}: share of values on {binning} · {row['method']} {fmt_num(row['statistic'], 4)}",
                                window=window_label, rows=int(row["n_current"]), unit="current values"),
        xaxis_title=column, yaxis_title="Share of non-missing values", yaxis_tickformat=".0%", height=380)
    return fig


def over_time(over: DriftResult, *, freq: str, window_label: str) -> dict[str, go.Figure]:
    """One figure per method of ``over`` (from :func:`analytics.drift.drift_over_time`): each chosen column's
    statistic per ``freq``, with the method's threshold as a dashed line labelled with its value."""
    figures = {}
    for method, rows in over.table.groupby("method"):
        figures[method] = _method_over_time(over, method, rows, freq=freq, window_label=window_label)
    return figures


def _method_over_time(over: DriftResult, method: str, rows: pd.DataFrame, *, freq: str,
                      window_label: str) -> go.Figure:
    fig = go.Figure()
    for i, (column, part) in enumerate(rows.groupby("column", sort=False)):
        fig.add_scatter(x=part["period"], y=part["statistic"], name=column, mode="lines+markers",
                        line={"color": theme.PALETTE[i % len(theme.PALETTE)]},
                        customdata=part["n_current"], hovertemplate="%{y:.4f} (%{customdata:,} values)")
    threshold = float(rows["threshold"].iloc[0])
    fig.add_hline(y=threshold, line_dash="dash", line_color=theme.BAD,
                  annotation_text=f"threshold {threshold:g}", annotation_position="top left")
    label = drift.get_method(method).label
    fig.update_layout(title=theme.chart_title(f"{label} per {freq}, against {over.reference_label}",
                                              window=window_label, rows=int(rows["n_current"].sum()), unit="values"),
                      xaxis_title=f"{freq.capitalize()} (UTC)", yaxis_title=label, height=360)
    return fig
