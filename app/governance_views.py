"""Governance charts, built from the governance results: the Approvals, Deployments, Registry, Compliance
and Service levels pages draw them.

An evidence check's chart and its threshold come from its :class:`analytics.governance.CheckResult`; a
deployment's differences and verdicts from its :class:`analytics.deployments.DeploymentComparison`; the
back-test's flags from its :class:`analytics.compliance.Backtest`.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from analytics import deployments
from analytics.compliance import Backtest
from analytics.deployments import DeploymentComparison
from analytics.governance import CheckResult
from app import theme


def evidence_chart(result: CheckResult) -> go.Figure:
    """The chart an evidence check carries (bars or a line), with the check's threshold dashed when it has one."""
    chart = result.chart
    fig = go.Figure(go.Bar(x=chart["x"], y=chart["y"]) if chart["kind"] == "bars"
                    else go.Scatter(x=chart["x"], y=chart["y"], mode="lines"))
    if chart.get("threshold") is not None:
        fig.add_hline(y=chart["threshold"], line_dash="dash", line_color=theme.BAD,
                      annotation_text=f"threshold {chart['threshold']:.2f}")
    fig.update_layout(title=chart["title"], xaxis_title=chart["x_label"], yaxis_title=chart["y_label"],
                      height=320, showlegend=False)
    return fig


def differences(comparison: DeploymentComparison, *, window_label: str) -> go.Figure | None:
    """Each judged measure's candidate-minus-baseline difference as a share of the baseline, with its interval,
    coloured by verdict; None when no measure is judged."""
    judged = comparison.table[comparison.table["verdict"] != ""]
    if judged.empty:
        return None
    fig = go.Figure()
    shown: set[str] = set()
    for row in judged.itertuples():
        scale = abs(row.baseline) if row.baseline and row.baseline == row.baseline else 1.0
        fig.add_scatter(x=[row.difference / scale * 100], y=[row.measure], mode="markers", name=row.verdict,
                        marker={"size": 11, "color": theme.PALETTE[deployments.VERDICTS.index(row.verdict)
                                                                   % len(theme.PALETTE)]},
                        error_x={"type": "data", "symmetric": False,
                                 "array": [(row.ci_high - row.difference) / scale * 100],
                                 "arrayminus": [(row.difference - row.ci_low) / scale * 100]},
                        showlegend=row.verdict not in shown,
                        hovertemplate=f"{row.measure}: %{{x:.2f}}% of the baseline<extra>{row.verdict}</extra>")
        shown.add(row.verdict)
    fig.add_vline(x=0, line_dash="dot")
    fig.update_layout(height=120 + 45 * len(judged), xaxis_title="Candidate minus baseline, % of the baseline",
                      legend=theme.LEGEND_BELOW,
                      title=theme.chart_title("Differences with their intervals", window=window_label,
                                              rows=int(sum(comparison.rows.values())), unit="rows"))
    return fig


def deployment_timeline(history: pd.DataFrame, *, now: datetime) -> go.Figure:
    """Which version served which role when (``governance.deployment_history``), open periods drawn to ``now``."""
    shown = history.assign(until=history["ended_at"].fillna(pd.Timestamp(now)),
                           label=lambda f: f["version"] + " · " + f["role"])
    fig = px.timeline(shown, x_start="started_at", x_end="until", y="version", color="role",
                      hover_data={"traffic_share": ":.0%", "started_by": True, "ended_by": True},
                      color_discrete_map={"champion": theme.PALETTE[0], "canary": theme.PALETTE[1],
                                          "shadow": theme.PALETTE[4]})
    fig.update_yaxes(autorange="reversed", title="version")
    fig.update_layout(title=f"Which version served which role, {len(history)} periods (UTC; open periods "
                            f"drawn to {now:%Y-%m-%d %H:%M})", xaxis_title="time (UTC)", height=300)
    return fig


def backtest(bt: Backtest) -> go.Figure:
    """Expected (mean score) against realised positive rate per period, the periods the back-test flags marked."""
    fig = go.Figure()
    fig.add_scatter(x=bt.table["period"], y=bt.table["expected_rate"], name="expected (mean score)",
                    mode="lines+markers", line={"color": theme.NEUTRAL, "dash": "dash"})
    fig.add_scatter(x=bt.table["period"], y=bt.table["realised_rate"], name="realised", mode="lines+markers",
                    line={"color": theme.GOOD})
    flagged = bt.table[~bt.table["verdict"].isin(["consistent", "insufficient data"])]
    fig.add_scatter(x=flagged["period"], y=flagged["realised_rate"], name="flagged", mode="markers",
                    marker={"color": theme.BAD, "size": 12, "symbol": "x"})
    fig.update_layout(title=theme.chart_title(f"Expected and realised positive rate per {bt.period}",
                                              window=f"each {bt.period} (UTC)", rows=bt.labelled,
                                              unit="labelled rows"),
                      yaxis_title="share of labelled rows", yaxis_tickformat=".0%")
    return fig


def breach_minutes(report: pd.DataFrame) -> go.Figure:
    """Minutes in breach per month and rule (``alerts.service_levels``)."""
    return px.bar(report, x="month", y="minutes_in_breach", color="rule_id", barmode="group",
                  labels={"month": "Month (UTC)", "minutes_in_breach": "Minutes in breach", "rule_id": "Rule"},
                  title=f"Minutes in breach per month and rule ({int(report['windows'].sum()):,} windows evaluated)")
