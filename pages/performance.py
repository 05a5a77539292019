"""Performance: realised metrics over time, realised against estimated (CBPE), calibration, segments,
and the concept-drift episodes marked."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics import overview, performance, settings_catalog
from app import auth, context, queries, theme, widgets
from app.widgets import fmt_int, fmt_num, fmt_pct

auth.require("read")
ctx = context.current()

st.title("Performance")
if not ctx.model:
    widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`, or register a model.")
    st.stop()

filters = dict(window=ctx.as_window())
LABELS = {"roc_auc": "ROC AUC", "accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1",
          "brier": "Brier score", "log_loss": "Log loss"}

whole = queries.query(performance.realised_metrics, ctx.model, freq=None, **filters)
if whole.empty or int(whole["rows"].sum()) == 0:
    widgets.empty_state(f"No predictions of {ctx.model} ({ctx.filter_label}) in the {ctx.window_label}.",
                        hint="Choose a longer time window, or another version or segment, in the sidebar.")
    st.stop()
summary = whole.iloc[0]
validation = queries.query(performance.validation_metrics, ctx.model, ctx.version)
st.caption(f"**{ctx.model}** version {summary['version']} · {ctx.filter_label} · {ctx.window_label}. Metrics at the "
           f"version's threshold {summary['threshold']:g}, on labelled predictions only "
           f"({fmt_int(summary['labelled'])} of {fmt_int(summary['rows'])}, {fmt_pct(summary['labelled_share'])}); "
           "changes are against the validation metrics in the registry. All times UTC.")

# ---- cards --------------------------------------------------------------------------------------
cards = st.columns(4)
for col, metric in zip(cards, ("roc_auc", "f1", "brier", "log_loss")):
    col.metric(LABELS[metric], fmt_num(summary[metric]), border=True,
               delta=widgets.diff(summary[metric], validation.get(metric)),
               delta_description=f"vs validation {fmt_num(validation.get(metric))}",
               delta_color="normal" if performance.HIGHER_IS_BETTER[metric] else "inverse",
               help=f"{LABELS[metric]} of {fmt_int(summary['labelled'])} labelled predictions in the window.")
minimum = int(queries.query(performance.min_labelled_of, ctx.model))
if summary["labelled"] == 0:
    st.info("No outcomes have arrived for this window yet: the estimated performance below (CBPE) is all there is.",
            icon=":material/hourglass_top:")
elif summary["label_state"] != performance.ENOUGH:
    st.info(f"{performance.not_evaluable(int(summary['labelled']), int(summary['positives']), minimum).capitalize()}: "
            "the realised metrics of this window are not judged.", icon=":material/hourglass_top:")

# ---- over time, with the concept-drift episodes -------------------------------------------------
context.adopt("performance_per", "perf_freq", "week", options=["week", "day"])
freq = st.segmented_control("Per", ["week", "day"], key="perf_freq") or "week"
context.remember("performance_per", freq)


def over_time() -> None:
    verdicts = queries.query(performance.concept_drift, ctx.model, freq=freq, **filters)
    cbpe = queries.query(performance.cbpe, ctx.model, freq=freq, **filters)
    estimated = cbpe.table

    def _mark_episodes(fig: go.Figure) -> None:
        step = {"week": 7, "day": 1}[freq]
        for period in verdicts.loc[verdicts["verdict"] == "concept drift", "period"]:
            fig.add_vrect(x0=period, x1=period + pd.Timedelta(days=step), fillcolor=theme.BAD,
                          opacity=0.12, line_width=0)
        for period in verdicts.loc[verdicts["verdict"].str.startswith("covariate"), "period"]:
            fig.add_vrect(x0=period, x1=period + pd.Timedelta(days=step), fillcolor=theme.PALETTE[4],
                          opacity=0.12, line_width=0)

    st.subheader("Realised and estimated performance")
    context.adopt("performance_metric", "perf_metric", next(iter(performance.ESTIMATED)),
                  options=list(performance.ESTIMATED))
    metric = st.selectbox("Metric", list(performance.ESTIMATED), format_func=LABELS.get, key="perf_metric")
    context.remember("performance_metric", metric)
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
    _mark_episodes(fig)
    fig.update_layout(title=theme.chart_title(f"{LABELS[metric]} per {freq}: realised vs estimated · shaded: vermillion "
                                              "= concept drift, sky blue = covariate drift",
                                              window=ctx.window_label, rows=int(estimated["rows"].sum()),
                                              unit="predictions"),
                      xaxis_title=f"{freq.capitalize()} (UTC)", yaxis_title=LABELS[metric], height=440,
                      legend=theme.LEGEND_BELOW)
    widgets.plot(fig, key="perf_realised_estimated")
    labelled = estimated[judged]
    if not labelled.empty:
        st.caption(f"CBPE error where labels exist (estimated minus realised {LABELS[metric]}): mean absolute "
                   f"{fmt_num(labelled[f'err_{metric}'].abs().mean())}, largest {fmt_num(labelled[f'err_{metric}'].abs().max())}. "
                   "CBPE assumes the relation between inputs and outcome is unchanged, so it cannot see concept drift.")
    st.caption(f"CBPE as NannyML 0.13: {cbpe.calibration_note}. The band around the estimated ROC AUC is ± 3 "
               "sampling errors of a window of that many predictions; the dotted lines are NannyML's alert thresholds "
               "(mean ± 3 standard deviations of the metric on 10 chunks of the reference data).")

    st.subheader("Concept drift")
    st.caption(f"Realised metrics are drawn and judged only for a {freq} with at least {fmt_int(minimum)} labelled "
               "predictions of both classes (setting performance.min_labelled); the chart and the table use this one "
               f"rule. A {freq} is flagged **concept drift** when its realised ROC AUC is at least "
               f"{fmt_num(verdicts['tolerance'].iloc[0] if len(verdicts) else queries.query(settings_catalog.thresholds, ctx.model).auc_drop, 2)} below validation and more than 3 "
               "sampling errors of its label count below it (NannyML's sampling error), while no input drifted "
               "(p-value tests corrected for the number of inputs); **covariate drift** when inputs drifted.")
    widgets.table(verdicts, hide_index=True,
                  column_order=["period", "verdict", "roc_auc", "roc_auc_change", "sampling_error", "label_state",
                                "labelled", "rows", "n_drifted_inputs", "drifted_inputs"],
                  column_config={
                      "period": st.column_config.DatetimeColumn(f"{freq.capitalize()} from (UTC)", format="YYYY-MM-DD"),
                      "verdict": st.column_config.TextColumn("Verdict"),
                      "roc_auc": st.column_config.NumberColumn("ROC AUC", format="%.3f"),
                      "roc_auc_change": st.column_config.NumberColumn("Δ vs validation", format="%+.3f"),
                      "sampling_error": st.column_config.NumberColumn(
                          "Sampling error", format="%.3f", help="of the ROC AUC at this many labels (NannyML)"),
                      "label_state": st.column_config.TextColumn("Labels"),
                      "labelled": st.column_config.NumberColumn("Labelled", format="localized"),
                      "rows": st.column_config.NumberColumn("Predictions", format="localized"),
                      "n_drifted_inputs": st.column_config.NumberColumn("Inputs drifted"),
                      "drifted_inputs": st.column_config.TextColumn("Which inputs")})
    st.download_button("Download (CSV)", verdicts.to_csv(index=False), file_name=f"concept-drift-{ctx.model}.csv",
                       mime="text/csv", icon=":material/download:", key="perf_dl_concept")

    points = queries.query(performance.change_points, ctx.model, **filters)
    stream = points["stream"]
    if stream["labelled"].sum() > 0:
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
            window=ctx.window_label, rows=int(stream["labelled"].sum()), unit="labelled predictions"),
            xaxis_title="Day (UTC)", yaxis_title="Brier score (lower is better)", height=340)
        widgets.plot(fig, key="perf_change_points")
        if points["began_at"] is None:
            st.caption("No change point: the daily error stream shows no sustained increase.")


with widgets.error_boundary("realised against estimated performance and concept drift"):
    over_time()

# ---- calibration and segments -------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader("Calibration")
    cal = queries.query(performance.calibration_curve, ctx.model, **filters)
    if cal.empty:
        widgets.empty_state("No labelled predictions in this window.", hint="Outcomes arrive 30-60 days late; "
                            "choose an earlier or longer window.")
    else:
        fig = go.Figure()
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                        line={"color": theme.NEUTRAL, "dash": "dash"})
        fig.add_scatter(x=cal["mean_predicted"], y=cal["fraction_positive"], mode="lines+markers", name="model",
                        line={"color": theme.PALETTE[0]}, customdata=cal["rows"],
                        hovertemplate="%{y:.3f} observed (%{customdata:,} rows)")
        fig.update_layout(title=theme.chart_title("Reliability (10 equal-width bins)", window=ctx.window_label,
                                                  rows=int(cal["rows"].sum()), unit="labelled"),
                          xaxis_title="Mean predicted probability", yaxis_title="Observed share positive",
                          height=400, hovermode="closest", legend=theme.LEGEND_BELOW)
        widgets.plot(fig, key="perf_calibration")
with right:
    st.subheader("Segments")
    options = [o for o in queries.query(overview.context_options) if o["model"] == ctx.model]
    segments = options[0]["segments"] if options else []
    if not segments:
        widgets.empty_state("This model declares no segment column.")
    else:
        by = st.selectbox("By", segments, key="perf_by")
        seg = queries.query(performance.realised_metrics, ctx.model, freq=None, by=by, **filters)
        widgets.table(seg, hide_index=True,
                      column_order=["group", "rows", "labelled_share", "roc_auc", "accuracy", "precision", "recall",
                                    "f1", "brier", "log_loss", "roc_auc_change"],
                      column_config={
                          "group": st.column_config.TextColumn(by, pinned=True),
                          "rows": st.column_config.NumberColumn("Predictions", format="localized"),
                          "labelled_share": st.column_config.ProgressColumn("Labelled", format="percent",
                                                                            min_value=0.0, max_value=1.0),
                          **{m: st.column_config.NumberColumn(LABELS[m], format="%.3f")
                             for m in performance.METRICS},
                          "roc_auc_change": st.column_config.NumberColumn("Δ AUC", format="%+.3f")})
        st.download_button("Download (CSV)", seg.to_csv(index=False), file_name=f"performance-{ctx.model}-{by}.csv",
                           mime="text/csv", icon=":material/download:", key="perf_dl_segments")
