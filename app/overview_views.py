"""Overview charts, built from the portfolio's frames (:class:`analytics.overview.Portfolio`): the Overview
page draws them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from app import theme


def volume_by_model(daily: pd.DataFrame, *, window_label: str) -> go.Figure:
    """Predictions per UTC day, one line per model (``Portfolio.daily``)."""
    fig = go.Figure()
    for model, rows in daily.groupby("model", sort=True):
        fig.add_scatter(x=rows["day"], y=rows["predictions"], name=model,
                        mode="lines+markers" if len(rows) <= 45 else "lines",
                        hovertemplate="%{y:,} predictions<extra>" + model + "</extra>")
    fig.update_layout(
        title=theme.chart_title("Predictions per day, by model", window=window_label,
                                rows=int(daily["predictions"].sum()), unit="predictions"),
        xaxis_title="Day (UTC)", yaxis_title="Predictions per day (count)", height=360)
    return fig


def volume_by_version(by_version: pd.DataFrame, model: str, *, window_label: str) -> go.Figure:
    """Predictions per UTC day of one model, stacked by version."""
    fig = go.Figure()
    for version, rows in by_version.groupby("version", sort=True):
        fig.add_bar(x=rows["day"], y=rows["predictions"], name=str(version),
                    hovertemplate="%{y:,} predictions<extra>" + str(version) + "</extra>")
    fig.update_layout(
        barmode="stack",
        title=theme.chart_title(f"Predictions per day of {model}, by version", window=window_label,
                                rows=int(by_version["predictions"].sum()), unit="predictions"),
        xaxis_title="Day (UTC)", yaxis_title="Predictions per day (count)", height=340)
    return fig
