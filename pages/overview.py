"""Overview: the portfolio. One row per model, headline cards with deltas, volume over time,
and the model in the context in focus (its version and segment filters applied)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import overview, registry
from app import auth, context, navigation, overview_views, queries, widgets
from app.widgets import fmt_int, fmt_num, fmt_pct, is_missing

actor = auth.require("read")
ctx = context.current()

st.title("Overview")
st.caption(f"Every registered model over the **{ctx.window_label}**, as of {ctx.now:%Y-%m-%d %H:%M} UTC. "
           "The 24-hour and 7-day traffic columns count back from that time. All times are UTC.")

# The costly half (one join per model) depends on the window only and is cached for the hour; the
# traffic half (one scan per model) moves with the minute.
result = overview.combine(queries.query(overview.traffic, now=ctx.now, window=ctx.as_window(filtered=False)),
                          queries.query(overview.window_view, window=ctx.as_window(filtered=False)))
frame = result.models
if frame.empty:
    widgets.empty_state(
        "No model is registered yet.",
        hint="Build the demo portfolio with `vigil demo`, or register a model and ingest its prediction log "
             "with the `vigil` command line; it appears here after the first ingest.",
        icon=":material/inventory_2:")
    st.stop()

totals = overview.totals(frame)


def _metric(column, label: str, value: str, delta: str | None, description: str, help_text: str, *,
            judged: bool = False) -> None:
    """A bordered card; deltas are grey unless up is better (``judged``), since traffic is neither."""
    kwargs = {"delta": delta, "delta_description": description, "delta_color": "normal" if judged else "off"} \
        if delta else {}
    column.metric(label, value, border=True, help=help_text, **kwargs)


# ---- headline cards -----------------------------------------------------------------------------
cards = st.columns(4)
_metric(cards[0], "Models with a champion", f"{totals['with_champion']} of {totals['models']}", None, "",
        "Registered models that have a version in the champion state.")
_metric(cards[1], "Predictions", fmt_int(totals["predictions"]),
        widgets.pct_change(totals["predictions"], totals["predictions_previous"]), ctx.previous_label,
        f"Predictions of all models over the {ctx.window_label}, compared with the window of the same length "
        "just before it.")
_metric(cards[2], "Last 24 hours", fmt_int(totals["predictions_24h"]),
        widgets.pct_change(totals["predictions_24h"], totals["predictions_prev_24h"]), "vs prior 24 h",
        "Predictions of all models in the 24 hours before the time above, compared with the 24 hours before.")
_metric(cards[3], "Share with outcomes", fmt_pct(totals["labelled_share"]), None, "",
        f"{fmt_int(totals['labelled'])} of the window's predictions have an outcome (the true label). Outcomes "
        "arrive weeks after the prediction, so recent windows always have a lower share.")

# ---- the portfolio table ------------------------------------------------------------------------
daily = overview.daily_by_model(result.daily)


def _sparkline(model: str) -> list[int]:
    rows = daily[daily["model"] == model]
    if rows.empty:
        return []
    days = pd.date_range(pd.Timestamp(rows["day"].min()), pd.Timestamp(rows["day"].max()), freq="D")
    return rows.set_index(pd.to_datetime(rows["day"]))["predictions"].reindex(days, fill_value=0).astype(int).tolist()


table = frame.assign(
    volume=[_sparkline(m) for m in frame["model"]],
    latest=[f"{v} · {registry.status_text(s)}" if not is_missing(v) else "–"
            for v, s in zip(frame["latest_version"], frame["latest_status"])],
)
st.subheader("Models")
widgets.table(
    table,
    hide_index=True,
    column_order=["model", "champion_version", "latest", "predictions_24h", "predictions_7d", "predictions",
                   "volume", "labelled_share", "realised_auc", "validation_auc", "auc_delta", "last_prediction_at"],
    column_config={
        "model": st.column_config.TextColumn("Model", pinned=True),
        "champion_version": st.column_config.TextColumn("Champion", width="small",
                                                         help="Version in the champion state"),
        "latest": st.column_config.TextColumn("Latest version", help="The latest version and its lifecycle status"),
        "predictions_24h": st.column_config.NumberColumn("24 h", format="localized", width="small",
                                                          help="Predictions in the last 24 hours"),
        "predictions_7d": st.column_config.NumberColumn("7 d", format="localized", width="small",
                                                         help="Predictions in the last 7 days"),
        "predictions": st.column_config.NumberColumn("Window", format="localized", width="small",
                                                      help=f"Predictions over the {ctx.window_label}"),
        "volume": st.column_config.LineChartColumn("Per day", y_min=0, width="small",
                                                    help=f"Predictions per UTC day over the {ctx.window_label}"),
        "labelled_share": st.column_config.ProgressColumn(
            "Outcomes", format="percent", min_value=0.0, max_value=1.0, width="small",
            help="Share of the window's predictions whose outcome has arrived"),
        "realised_auc": st.column_config.NumberColumn(
            "AUC", format="%.3f", width="small",
            help="Realised ROC AUC of the champion's labelled predictions in the window"),
        "validation_auc": st.column_config.NumberColumn(
            "AUC valid.", format="%.3f", width="small",
            help="The champion's validation ROC AUC (validation_metrics['roc_auc'] in the registry)"),
        "auc_delta": st.column_config.NumberColumn("Δ AUC", format="%+.3f", width="small",
                                                    help="Realised minus validation ROC AUC"),
        "last_prediction_at": st.column_config.DatetimeColumn("Last prediction (UTC)", format="YYYY-MM-DD HH:mm"),
    }
)

# ---- volume over time ---------------------------------------------------------------------------
st.subheader("Volume over time")
if daily.empty:
    widgets.empty_state(f"No predictions in the {ctx.window_label}.",
                        hint="Choose a longer time window in the sidebar, or ingest prediction logs with "
                             "`vigil ingest`.")
else:
    widgets.plot(overview_views.volume_by_model(daily, window_label=ctx.window_label), key="overview_volume")
    statuses = {o["model"]: o["statuses"] for o in queries.query(overview.context_options)}
    shadow = [(m, v, int(n)) for (m, v), n in result.daily.groupby(["model", "version"])["predictions"].sum().items()
              if statuses.get(m, {}).get(v) == "shadow" and n]
    if shadow:
        st.caption("These counts hold every logged prediction, so a version running in shadow counts the same "
                   "requests again: " + ", ".join(f"{m} {v} {fmt_int(n)}" for m, v, n in shadow)
                   + f" in the {ctx.window_label}. The KPIs page counts decisions without shadow traffic.")

# ---- links per model ----------------------------------------------------------------------------
st.subheader("Open a model")
overview_spec = navigation.spec_for("pages/overview.py")
model_pages = [p for p in navigation.visible_pages(actor) if p.per_model]
for model in frame["model"]:
    row = frame[frame["model"] == model].iloc[0]
    st.markdown(f"**{model}** · champion {row['champion_version'] if not is_missing(row['champion_version']) else 'none'}"
                f" · latest {row['latest_version']} ({registry.status_text(row['latest_status'])})")
    links = st.container(horizontal=True, gap="small")  # wraps onto a second row on a narrow screen
    links.page_link(str(overview_spec.file), label="Focus here", icon=":material/center_focus_strong:",
                    query_params=ctx.query_params(model=model))
    for spec in model_pages:
        links.page_link(str(spec.file), label=spec.title, icon=spec.icon, query_params=ctx.query_params(model=model))

# ---- the model in focus -------------------------------------------------------------------------
if ctx.model:
    st.subheader(f"In focus: {ctx.model}")
    st.caption(f"{ctx.filter_label} · {ctx.window_label}. Change the model, version or segment in the sidebar.")
    if ctx.version or ctx.segment:  # filtered: one more pass over this model's log
        focus = overview.combine(
            queries.query(overview.traffic, now=ctx.now, window=ctx.as_window(), model=ctx.model),
            queries.query(overview.window_view, window=ctx.as_window(), model=ctx.model))
    else:  # unfiltered: the portfolio already holds it
        focus = overview.Portfolio(frame[frame["model"] == ctx.model],
                                   result.daily[result.daily["model"] == ctx.model])
    if focus.models.empty:
        st.stop()
    summary = focus.models.iloc[0].to_dict()
    by_version = focus.daily
    cards = st.columns(4)
    _metric(cards[0], "Predictions", fmt_int(summary["predictions"]),
            widgets.pct_change(summary["predictions"], summary["predictions_previous"]), ctx.previous_label,
            f"Predictions of {ctx.model} ({ctx.filter_label}) over the {ctx.window_label}.")
    _metric(cards[1], "Last 7 days", fmt_int(summary["predictions_7d"]), None, "",
            "Predictions in the 7 days before the time above.")
    _metric(cards[2], "Share with outcomes", fmt_pct(summary["labelled_share"]), None, "",
            f"{fmt_int(summary['labelled'])} of {fmt_int(summary['predictions'])} predictions in the window have an "
            "outcome.")
    auc_help = (f"ROC AUC of {fmt_int(summary['auc_rows'])} labelled predictions of version "
                f"{summary['auc_version']} in the window, {fmt_int(summary['auc_positives'])} of them "
                f"positive (read off fine score histograms: within {fmt_num(summary['auc_bound'], 5)} of the exact "
                "value), against the validation ROC AUC recorded in the registry.")
    _metric(cards[3], f"ROC AUC of {summary['auc_version'] or '–'}", fmt_num(summary["realised_auc"]),
            widgets.diff(summary["realised_auc"], summary["validation_auc"]),
            f"vs validation {fmt_num(summary['validation_auc'])}", auc_help, judged=True)
    if summary["auc_rows"] == 0:
        st.caption("No outcomes yet in this window, so there is no realised ROC AUC: outcomes arrive after "
                   "predictions; choose a longer or earlier window in the sidebar.")
    elif is_missing(summary["realised_auc"]):
        st.caption("The labelled rows in this window hold only one class, so the ROC AUC is undefined.")

    if by_version.empty:
        widgets.empty_state(f"No predictions of {ctx.model} ({ctx.filter_label}) in the {ctx.window_label}.",
                            hint="Choose a longer time window or another version or segment in the sidebar.")
    else:
        widgets.plot(overview_views.volume_by_version(by_version, ctx.model, window_label=ctx.window_label),
                     key="overview_focus_volume")
