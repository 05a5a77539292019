"""Performance: realised metrics over time, realised against estimated (CBPE), calibration, segments,
and the concept-drift episodes marked."""

from __future__ import annotations

import streamlit as st

from analytics import overview, performance, settings_catalog, summaries
from app import auth, context, performance_views, queries, widgets
from app.widgets import fmt_int, fmt_num, fmt_pct

auth.require("read")
ctx = context.current()

st.title("Performance")
if not ctx.model:
    widgets.empty_state("No model is registered yet.", hint="Build the demo with `vigil demo`, or register a model.")
    st.stop()

filters = dict(window=ctx.as_window())
LABELS = performance_views.LABELS

# the periods of the charts below: chosen there, read here since one call computes the whole page's numbers
context.adopt("performance_per", "perf_freq", "week", options=["week", "day"])
freq = st.session_state.get("perf_freq") or "week"
report = queries.query(performance.window_performance, ctx.model, freq=freq, **filters)
whole = report.whole
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
if log_note := summaries.unsummarised_note(whole.attrs.get(performance.UNSUMMARISED, ())):
    st.caption(log_note)

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
st.segmented_control("Per", ["week", "day"], key="perf_freq")
context.remember("performance_per", freq)


def over_time() -> None:
    if report.problem:
        st.error(report.problem, icon=":material/error:")
        return
    verdicts, cbpe = report.verdicts, report.cbpe
    estimated = cbpe.table

    st.subheader("Realised and estimated performance")
    context.adopt("performance_metric", "perf_metric", next(iter(performance.ESTIMATED)),
                  options=list(performance.ESTIMATED))
    metric = st.selectbox("Metric", list(performance.ESTIMATED), format_func=LABELS.get, key="perf_metric")
    context.remember("performance_metric", metric)
    judged = estimated["label_state"].eq(performance.ENOUGH)
    widgets.plot(performance_views.realised_and_estimated(cbpe, verdicts, validation, metric=metric, freq=freq,
                                                          window_label=ctx.window_label),
                 key="perf_realised_estimated")
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

    points = report.change_points
    stream = points["stream"]
    if stream["labelled"].sum() > 0:
        widgets.plot(performance_views.change_point(points, window_label=ctx.window_label), key="perf_change_points")
        if points["began_at"] is None:
            st.caption("No change point: the daily error stream shows no sustained increase.")


with widgets.error_boundary("realised against estimated performance and concept drift"):
    over_time()

# ---- calibration and segments -------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader("Calibration")
    cal = report.calibration
    if cal.empty:
        widgets.empty_state("No labelled predictions in this window.", hint="Outcomes arrive 30-60 days late; "
                            "choose an earlier or longer window.")
    else:
        widgets.plot(performance_views.calibration(cal, window_label=ctx.window_label), key="perf_calibration")
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
