"""Performance charts, built from the performance results: the Performance page draws them.

Alert thresholds, the validation line and the change point come from the results
(:class:`analytics.performance.CBPEResult`, :func:`analytics.performance.change_points`), so no page
writes a threshold of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analytics import performance
from analytics.performance import CBPEResult
from app import theme

#: Reader's names of the metrics.
LABELS = {"roc_auc": "ROC AUC", "accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1",
          "brier": "Brier score", "log_loss": "Log loss"}
#: Days a period of each frequency covers.
PERIOD_DAYS = {"week": 7, "day": 1}


def realised_and_estimated(cbpe: CBPEResult, verdicts: pd.DataFrame, validation: Mapping[str, float], *,
                           metric: str, freq: str, window_label: str) -> go.Figure:
    """``metric`` per ``freq``: realised where the period has labels enough to judge, estimated by CBPE (with its
    ± 3 sampling errors band for ROC AUC), CBPE's alert thresholds and the validation value dotted, and the
    concept- and covariate-drift periods of ``verdicts`` shaded."""
    estimated = cbpe.table
    judged = estimated["label_state"].eq(performance.ENOUGH)
    fig = go.Figure()
    fig.add_scatter(x=estimated["period"], y=estimated[metric].where(judged), name="realised", mode="lines+markers",
                    line={"color": theme.PALETTE[0]}, customdata=estimated["labelled"],
                    hovertemplate="%{y:.3f} (%{customdata:,} labelled)")
    fig.add_scatter(x=estimated["period"], y=estimated[f"est_{metric}"], name="estimated (CBPE)", mode="lines+markers",
                    line={"color": theme.PALETTE[1], "dash": "dot"}, customdata=estimated["rows"],
                    hovertemplate="%{y:.3f} (%{customdata:,} predictions)")
    if metric == "roc_auc":
        band = estimated[["period", "lower_confidence_roc_auc", "upper_confidence_roc_auc"]].dropna()
        fig.add_scatter(x=list(band["period"]) + list(band["period"])[::-1],
                        y=list(band["upper_confidence_roc_auc"]) + list(band["lower_confidence_roc_auc"])[::-1],
                        fill="toself", fillcolor=theme.PALETTE[1], opacity=0.15, line={"width": 0},
                        name="estimate ± 3 sampling errors", hoverinfo="skip")
    lower, upper = cbpe.thresholds.get(metric, (None, None))
    for value, side in ((lower, "lower"), (upper, "upper")):
        if value is not None and pd.notna(value):
            fig.add_hline(y=value, line_dash="dot", line_color=theme.BAD,
                          annotation_text=f"{side} alert threshold {value:.3f}", annotation_position="top right")
    if validation.get(metric) is not None:
        fig.add_hline(y=validation[metric], line_dash="dash", line_color=theme.NEUTRAL,
                      annotation_text=f"validation {validation[metric]:.3f}", annotation_position="bottom left")
    _shade_episodes(fig, verdicts, freq)
    fig.update_layout(title=theme.chart_title(f"{LABELS[metric]} per {freq}: realised vs estimated · shaded: vermillion "
                                              "= concept drift, sky blue = covariate drift",
                                              window=window_label, rows=int(estimated["rows"].sum()),
                                              unit="predictions"),
                      xaxis_title=f"{freq.capitalize()} (UTC)", yaxis_title=LABELS[metric], height=440,
                      legend=theme.LEGEND_BELOW)
    return fig


def _shade_episodes(fig: go.Figure, verdicts: pd.DataFrame, freq: str) -> None:
    step = pd.Timedelta(days=PERIOD_DAYS[freq])
    for period in verdicts.loc[verdicts["verdict"] == "concept drift", "period"]:
        fig.add_vrect(x0=period, x1=period + step, fillcolor=theme.BAD, opacity=0.12, line_width=0)
    for period in verdicts.loc[verdicts["verdict"].str.startswith("covariate"), "period"]:
        fig.add_vrect(x0=period, x1=period + step, fillcolor=theme.PALETTE[4], opacity=0.12, line_width=0)


def change_point(points: Mapping[str, Any], *, window_label: str) -> go.Figure:
    """The daily Brier score of the labelled predictions with its Page-Hinkley change point (from
    :func:`analytics.performance.change_points`, whose δ and λ the title states)."""
    stream = points["stream"]
    fig = go.Figure()
    fig.add_scatter(x=stream["period"], y=stream["brier"], mode="lines", name="daily Brier score",
                    line={"color": theme.PALETTE[0]}, customdata=stream["labelled"],
                    hovertemplate="%{y:.3f} (%{customdata:,} labelled)")
    if points["began_at"] is not None:
        fig.add_vline(x=points["began_at"], line_dash="dash", line_color=theme.BAD)
        fig.add_annotation(x=points["began_at"], y=1, yref="paper", showarrow=False, xanchor="left",
                           text=f"change began {points['began_at']:%Y-%m-%d} (alarm {points['alarm_at']:%Y-%m-%d})")
    fig.update_layout(title=theme.chart_title(
        f"Labelled error stream and its Page-Hinkley change point (δ {points['delta']:g}, λ {points['lambda']:g})",
        window=window_label, rows=int(stream["labelled"].sum()), unit="labelled predictions"),
        xaxis_title="Day (UTC)", yaxis_title="Brier score (lower is better)", height=340)
    return fig


def calibration(cal: pd.DataFrame, *, window_label: str) -> go.Figure:
    """Reliability diagram: the observed share positive per bin of predicted probability, against the diagonal."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                    line={"color": theme.NEUTRAL, "dash": "dash"})
    fig.add_scatter(x=cal["mean_predicted"], y=cal["fraction_positive"], mode="lines+markers", name="model",
                    line={"color": theme.PALETTE[0]}, customdata=cal["rows"],
                    hovertemplate="%{y:.3f} observed (%{customdata:,} rows)")
    fig.update_layout(title=theme.chart_title("Reliability (10 equal-width bins)", window=window_label,
                                              rows=int(cal["rows"].sum()), unit="labelled"),
                      xaxis_title="Mean predicted probability", yaxis_title="Observed share positive",
                      height=400, hovermode="closest", legend=theme.LEGEND_BELOW)
    return fig
