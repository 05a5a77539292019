"""Governance charts, built from the governance results: the Approvals and Deployments pages draw them.

An evidence check's chart and its threshold come from its :class:`analytics.governance.CheckResult`; a
deployment's differences and verdicts from its :class:`analytics.deployments.DeploymentComparison`.
"""

from __future__ import annotations

import plotly.graph_objects as go

from analytics import deployments
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
