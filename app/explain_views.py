"""Charts and tables shared by the Explanations, Counterfactuals and Prediction lookup pages.

Figures only: every number comes from :mod:`analytics.explain`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from collections.abc import Callable

from analytics.explain import AttributionDrift, CounterfactualSet, GlobalExplanation, LocalExplanation
from analytics.logschema import LogSchema
from app import theme, widgets


def waterfall_labels(features: pd.Series, values: pd.Series, schema: LogSchema, width: int = 32) -> list[str]:
    """Waterfall row labels: the input's title and its value as a reader wants it, cut to ``width`` characters
    with an ellipsis so a long one is not clipped by the chart (the hover shows it whole)."""
    labels = []
    for feature, value in zip(features, values):
        text = schema.display_name(feature) + ("" if value == "" else f" = {widgets.fmt_value(value)}")
        labels.append(text if len(text) <= width else text[: width - 1] + "…")
    return labels


def waterfall(explanation: LocalExplanation, *, title: str, key: str, schema: LogSchema, top: int = 12) -> None:
    """A SHAP waterfall (log-odds) from the base value to the model's output, with the additivity check."""
    steps = explanation.waterfall(top=top)
    labels = waterfall_labels(steps["feature"], steps["value"], schema)
    fig = go.Figure(go.Waterfall(
        orientation="h", base=explanation.base_value, x=steps["contribution"], y=labels,
        measure=["relative"] * len(steps), increasing={"marker": {"color": theme.BAD}},
        decreasing={"marker": {"color": theme.GOOD}},
        customdata=[f"{f} = {v}" if v != "" else f for f, v in zip(steps["feature"], steps["value"])],
        hovertemplate="%{customdata}<br>contribution %{x:+.3f} log-odds<extra></extra>"))
    fig.add_vline(x=explanation.base_value, line_dash="dot", line_color=theme.NEUTRAL,
                  annotation_text=f"base {explanation.base_value:.3f}")
    fig.update_layout(title=title, xaxis_title="Model output (log-odds of the positive class)",
                      yaxis={"autorange": "reversed", "rangemode": "normal", "automargin": True}, height=120 + 28 * len(steps),
                      hovermode="closest", showlegend=False)
    widgets.plot(fig, key=key)
    total = explanation.base_value + explanation.table["contribution"].sum()
    st.caption(
        f"Source: {'the registered model (TreeSHAP)' if explanation.source == 'model' else 'attributions logged by the serving system'}. "
        f"Additivity: base {explanation.base_value:.4f} + contributions {explanation.table['contribution'].sum():+.4f} "
        f"= {total:.4f} log-odds; model output {explanation.raw_output:.4f} (difference "
        f"{explanation.additivity_error:.1e}). As a probability: sigmoid({total:.4f}) = "
        f"{explanation.reconstructed_score:.4f}; score {explanation.score:.4f}. "
        "Orange raises the score (towards the positive class), blue lowers it.")


def contributions_table(explanation: LocalExplanation, *, key: str) -> None:
    """The local explanation as a sortable, downloadable table."""
    widgets.table(explanation.table.assign(value=explanation.table["value"].astype(str)), hide_index=True, key=key,
                  column_config={"feature": "Input", "value": "Value",
                                 "contribution": st.column_config.NumberColumn("SHAP (log-odds)", format="%+.4f"),
                                 "abs_contribution": st.column_config.NumberColumn("|SHAP|", format="%.4f")})


def counterfactual_tables(result: CounterfactualSet, *, key: str, schema: LogSchema) -> None:
    """Answers (changed inputs, distance, re-scored validity) and what each changes, decisions and inputs in the
    model's words."""
    if result.answers.empty:
        widgets.empty_state("No change within the declared constraints flips this decision.",
                            hint="Immutable inputs stay, increase-only inputs only rise, and values stay within the "
                                 "reference data's range; try the what-if editor to explore further.")
        return
    answers = result.answers
    if "decision" in answers:
        answers = answers.assign(decision=answers["decision"].map(schema.decision_text))
    widgets.table(answers, hide_index=True, key=f"{key}_answers", column_config={
        "answer": st.column_config.NumberColumn("Answer", width="small"),
        "changed": st.column_config.NumberColumn("Inputs changed", help="Number of inputs this answer changes"),
        "distance": st.column_config.NumberColumn("Distance", format="%.2f",
                                                   help="L1 distance, each numeric change divided by the input's median "
                                                        "absolute deviation in the reference data; 1 per category"),
        "score": st.column_config.NumberColumn("Re-scored", format="%.4f", help="The model's score of the changed row"),
        "decision": st.column_config.TextColumn("Decision"),
        "valid": st.column_config.CheckboxColumn("Flips", help="Re-scored by the model: the decision really changes"),
        "violations": st.column_config.NumberColumn("Constraint breaches", width="small")})
    changes = result.changes.assign(before=result.changes["before"].map(widgets.fmt_value),
                                    after=result.changes["after"].map(widgets.fmt_value),
                                    feature=result.changes["feature"].map(schema.display_name))
    widgets.table(changes, hide_index=True, key=f"{key}_changes",
                  column_config={"answer": "Answer", "feature": "Input", "before": "Now", "after": "Change to"})


def beeswarm(frame: pd.DataFrame, *, title: str, key: str) -> None:
    """Beeswarm-style strip: one point per sampled row and input, coloured by the value's rank."""
    order = list(dict.fromkeys(frame["feature"]))
    rng = np.random.default_rng(0)
    y = frame["feature"].map({f: i for i, f in enumerate(order)}).to_numpy() + rng.uniform(-0.3, 0.3, len(frame))
    fig = go.Figure(go.Scattergl(
        x=frame["contribution"], y=y, mode="markers", text=frame["feature"] + " = " + frame["value"],
        marker={"size": 4, "color": frame["value_rank"], "colorscale": [[0, theme.GOOD], [1, theme.PALETTE[1]]],
                "colorbar": {"title": "value rank", "tickvals": [0, 1], "ticktext": ["low", "high"]}},
        hovertemplate="%{text}<br>SHAP %{x:+.3f}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="SHAP value (log-odds)", height=120 + 32 * len(order),
                      yaxis={"tickvals": list(range(len(order))), "ticktext": order, "autorange": "reversed",
                             "rangemode": "normal"}, hovermode="closest")
    widgets.plot(fig, key=key)


def importance_bars(explained: GlobalExplanation, *, name: Callable[[str], str], window: str, key: str,
                    top: int = 15) -> None:
    """Mean |SHAP| of the ``top`` inputs (named by ``name``, e.g. their titles in the model's spec), largest on top."""
    imp = explained.importance.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(x=imp["mean_abs"], y=imp["feature"].map(name), orientation="h", marker_color=theme.PALETTE[0],
                           hovertemplate="%{y}: %{x:.4f} log-odds<extra></extra>"))
    fig.update_layout(title=theme.chart_title("Mean |SHAP| by input", window=window, rows=explained.rows,
                                              unit="sampled rows"),
                      xaxis_title="Mean |SHAP value| (log-odds)", height=120 + 24 * len(imp), hovermode="closest",
                      yaxis={"rangemode": "normal"})
    widgets.plot(fig, key=key)


def attribution_drift_bars(drift: AttributionDrift, *, name: Callable[[str], str], window: str, rows: int, key: str,
                           top: int = 12) -> None:
    """Each input's share of the total mean |SHAP|, reference against window, for the window's ``top`` inputs."""
    head = drift.table.head(top).iloc[::-1]
    fig = go.Figure()
    fig.add_bar(x=head["share_reference"], y=head["feature"].map(name), orientation="h", name="reference",
                marker_color=theme.NEUTRAL)
    fig.add_bar(x=head["share_window"], y=head["feature"].map(name), orientation="h", name="window",
                marker_color=theme.PALETTE[0])
    fig.update_layout(title=theme.chart_title("Share of total mean |SHAP|: reference vs window", window=window,
                                              rows=rows, unit="share"),
                      barmode="group", xaxis_title="Share of total mean |SHAP|", xaxis_tickformat=".0%",
                      height=160 + 36 * len(head), hovermode="y unified", yaxis={"rangemode": "normal"})
    widgets.plot(fig, key=key)


def dependence_scatter(explained: GlobalExplanation, feature: str, *, name: Callable[[str], str], window: str,
                       key: str) -> None:
    """The SHAP value of ``feature`` against its value, one point per sampled row."""
    dep = explained.dependence(feature)
    title = name(feature)
    fig = go.Figure(go.Scattergl(x=dep["value"].astype(str) if dep["value"].dtype == object else dep["value"],
                                 y=dep["contribution"], mode="markers",
                                 marker={"size": 5, "opacity": 0.5, "color": theme.PALETTE[0]},
                                 hovertemplate=f"{title} = %{{x}}<br>SHAP %{{y:+.3f}}<extra></extra>"))
    fig.update_layout(title=theme.chart_title(f"Dependence: SHAP value of {title} against its value",
                                              window=window, rows=len(dep), unit="sampled rows"),
                      xaxis_title=title, yaxis_title=f"SHAP value of {title} (log-odds)",
                      yaxis={"rangemode": "normal"}, hovermode="closest", height=420)
    widgets.plot(fig, key=key)
