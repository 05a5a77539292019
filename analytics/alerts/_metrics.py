"""The monitored figures a rule reads, per window, from the features' own functions (never recomputed here).

:func:`series` answers one rule's metric for a list of windows of one model version: a frame of
``window_end``, ``value`` and ``rows`` (the rows behind the value: labelled rows for realised
performance). Drift, performance, latency and freshness answer every window of a pass with one
call per model, version and segment (drift over time and CBPE per day or week, fairness per UTC
week, the latency summary per day, one grouped query for the newest prediction); KPIs, cost, and
fairness or latency over other windows are asked once per window. :class:`SeriesCache` keeps what one pass computed, so rules that share a call share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import business, drift, fairness, performance, store
from analytics.alerts._rules import Rule
from analytics.registry import get_model
from analytics.timebounds import period_sql
from analytics.window import Window

SERIES_COLUMNS: tuple[str, ...] = ("window_end", "value", "rows")
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}


def window_length(window: str) -> timedelta:
    """The length of a window kind (``hour``, ``day``, ``week``)."""
    return _STEP[window]


def window_end_at(window: str, at: datetime) -> datetime:
    """The end of the last complete window at ``at`` (naive UTC): the hour, the day, or the Monday 00:00."""
    if window == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if window == "week" else day


@dataclass
class SeriesCache:
    """What a monitor pass computed, keyed by the call (so two rules on one call pay once).

    With a ``span`` (a replay in several passes, as the demo's), the bulk calls cover the whole span
    once and every pass within it reads its windows from them.
    """

    db: Path
    span: tuple[datetime, datetime] | None = None
    frames: dict[tuple, pd.DataFrame] = field(default_factory=dict)

    firsts: dict[str, datetime | None] = field(default_factory=dict)

    def get(self, key: tuple, compute) -> pd.DataFrame:
        """The frame of ``key``, computed once."""
        if key not in self.frames:
            self.frames[key] = compute()
        return self.frames[key]

    def first_prediction(self, model: str) -> datetime | None:
        """When the model's log begins (None without predictions): windows before it are not asked for."""
        if model not in self.firsts:
            def work(con):
                info = get_model(con, model)
                return con.execute(f"SELECT min(predicted_at) FROM {store.predictions_view(info.stem)}").fetchone()[0]

            self.firsts[model] = store.read(work, self.db)
        return self.firsts[model]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"window_end": pd.Series(dtype="datetime64[us]"), "value": pd.Series(dtype=float),
                         "rows": pd.Series(dtype="int64")})


def _frame(ends, values, rows) -> pd.DataFrame:
    out = pd.DataFrame({"window_end": pd.to_datetime(list(ends)), "value": np.asarray(list(values), dtype=float),
                        "rows": np.asarray(list(rows), dtype="int64")})
    return out.sort_values("window_end", ignore_index=True)


def series(cache: SeriesCache, rule: Rule, version: str, ends: list[datetime]) -> pd.DataFrame:
    """The rule's metric for the version over the windows ending at ``ends`` (missing windows: no row).

    Returns
    -------
    pandas.DataFrame
        :data:`SERIES_COLUMNS`, one row per window with data, oldest first.
    """
    step = _STEP[rule.window]
    first = cache.first_prediction(rule.model)
    ends = [] if first is None else [e for e in ends if e > first]
    if not ends:
        return _empty()
    start, end = min(ends) - step, max(ends)
    if cache.span is not None and cache.span[0] <= start and end <= cache.span[1]:
        start, end = cache.span
    family, metric = rule.family, rule.metric
    seg = (rule.segment, rule.segment_value)
    span = Window(start, end, version, rule.segment, rule.segment_value)
    if family == "drift":
        frame = cache.get(("drift", rule.model, version, seg, rule.window, start, end),
                          lambda: _drift(cache.db, rule, span))
        return _pick(frame, ends, step, column=rule.column if metric == "drift.statistic" else "*")
    if family == "performance":
        frame = cache.get(("performance", rule.model, version, seg, rule.window, start, end),
                          lambda: _performance(cache.db, rule, span))
        name = metric.split(".", 1)[1]
        return _pick(frame, ends, step, column=name)
    if family == "fairness" and rule.window == "week":
        frame = cache.get(("fairness", rule.model, version, rule.column, start, end),
                          lambda: _fairness(cache.db, rule, span))
        return _pick(frame, ends, step, column=metric.split(".", 1)[1])
    if family == "latency" and rule.window == "day" and rule.segment is None:
        frame = cache.get(("latency", rule.model, version, start, end),
                          lambda: _latency(cache.db, rule, span))
        return _pick(frame, ends, step, column=metric.split(".", 1)[1])
    if family == "freshness":
        newest = cache.get(("freshness", rule.model, seg, start, end), lambda: _newest(cache.db, rule, span))
        return _freshness(newest, ends)
    values = [cache.get((metric, rule.model, version, seg, rule.column, e - step, e),
                        lambda e=e: _one_window(cache.db, rule, span.between(e - step, e))) for e in ends]
    return pd.concat([v for v in values if len(v)], ignore_index=True) if any(len(v) for v in values) else _empty()


def _pick(frame: pd.DataFrame, ends: list[datetime], step: timedelta, *, column: str) -> pd.DataFrame:
    """Rows of a long frame (``period`` start, ``column``, ``value``, ``rows``) for one column, as window ends."""
    if frame.empty:
        return _empty()
    part = frame[frame["column"] == column]
    wanted = set(pd.to_datetime(ends))
    out = _frame(pd.to_datetime(part["period"]) + step, part["value"], part["rows"])
    return out[out["window_end"].isin(wanted)].reset_index(drop=True)


def _drift(db: Path, rule: Rule, window: Window) -> pd.DataFrame:
    result = drift.drift_over_time(db, rule.model, window=window, freq=rule.window)
    table = result.table
    if table.empty:
        return pd.DataFrame(columns=["period", "column", "value", "rows"])
    per_column = pd.DataFrame({"period": table["period"], "column": table["column"],
                               "value": table["statistic"].astype(float), "rows": table["n_current"].fillna(0)})
    judged = table[table["drifted"].notna()]
    share = judged.groupby("period").agg(value=("drifted", lambda s: float(np.mean(s.astype(bool)))),
                                         rows=("n_current", "max")).reset_index()
    share["column"] = "*"
    return pd.concat([per_column, share[["period", "column", "value", "rows"]]], ignore_index=True)


#: Rows of the log one CBPE call of a pass reads at most (whole periods; a period with more rows is read alone):
#: CBPE joins a window's rows with their outcomes in DuckDB, so a replay over a long log asks for its span in
#: parts and its memory follows the rows of a part, not of the log.
PERFORMANCE_PART_ROWS = 1_000_000


def performance_parts(db: Path, rule: Rule, window: Window, limit: int | None = None) -> list[Window]:
    """``window`` cut at the starts of its periods (``rule.window``: day or week, UTC) into consecutive windows of
    at most ``limit`` rows each (default :data:`PERFORMANCE_PART_ROWS`; a period with more rows alone): every
    period's rows fall in exactly one part."""
    limit = PERFORMANCE_PART_ROWS if limit is None else limit

    def work(con):
        info = get_model(con, rule.model)
        rows = window.where(info.schema)
        return con.execute(f"SELECT {period_sql(rule.window, 'p.predicted_at')} AS period, count(*) "
                           f"FROM {store.predictions_view(info.stem)} p WHERE {rows.sql} GROUP BY 1 ORDER BY 1",
                           rows.params).fetchall()

    periods = store.read(work, db)
    if not periods:
        return [window]
    cuts, held = [], 0
    for period, n in periods:
        if held and held + n > limit:
            cuts.append(period)
            held = 0
        held += n
    edges = [window.start, *cuts, window.end]
    return [window.between(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _performance(db: Path, rule: Rule, window: Window) -> pd.DataFrame:
    """CBPE and the realised metrics per period, one part of the window at a time (:func:`performance_parts`)."""
    tables = [performance.cbpe(db, rule.model, window=part, freq=rule.window).table
              for part in performance_parts(db, rule, window)]
    frame = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    parts = []
    for name in [c for c in frame.columns if c in performance.METRICS or c.startswith("est_")]:
        rows = frame["rows"] if name.startswith("est_") else frame["labelled"]
        parts.append(pd.DataFrame({"period": frame["period"], "column": name, "value": frame[name].astype(float),
                                   "rows": rows}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["period", "column", "value", "rows"])


def _fairness(db: Path, rule: Rule, window: Window) -> pd.DataFrame:
    """Both disparities of one attribute per UTC week (Monday to Sunday) from one assessment of the span
    (every row of the version: fairness takes no segment)."""
    report = fairness.assess(db, rule.model, window=window.all_rows(), attributes=(rule.column,),
                             intersections=(), n_boot=0)
    if not report.results or report.results[0].over_time.empty:  # no row of this version in the span
        return pd.DataFrame(columns=["period", "column", "value", "rows"])
    weekly = report.results[0].over_time
    return pd.concat([pd.DataFrame({"period": pd.to_datetime(weekly["window_start"]), "column": name,
                                    "value": weekly[name].astype(float), "rows": weekly[rows]})
                      for name, rows in (("demographic_parity_ratio", "rows"),
                                         ("equalized_odds_difference", "labelled"))], ignore_index=True)


def _latency(db: Path, rule: Rule, window: Window) -> pd.DataFrame:
    daily = business.latency(db, rule.model, window=window).daily
    daily = daily[daily["version"] == window.version]
    parts = [pd.DataFrame({"period": pd.to_datetime(daily["day"]), "column": name,
                           "value": daily[name].astype(float), "rows": daily["predictions"]})
             for name in ("p50_ms", "p95_ms", "p99_ms")]
    return pd.concat(parts, ignore_index=True)


def _newest(db: Path, rule: Rule, window: Window) -> np.ndarray:
    """The newest prediction time of each UTC hour of ``window`` and the 30 days before it (any version)."""

    def work(con):
        info = get_model(con, rule.model)
        rows = replace(window, start=window.start - timedelta(days=30), version=None).where(info.schema)
        return con.execute(f"SELECT max(p.predicted_at) AS newest FROM {store.predictions_view(info.stem)} p "
                           f"WHERE {rows.sql} GROUP BY date_trunc('hour', p.predicted_at) ORDER BY 1", rows.params).df()

    hours = store.read(work, db)
    return pd.to_datetime(hours["newest"]).to_numpy() if len(hours) else np.array([], dtype="datetime64[us]")


def _freshness(newest: np.ndarray, ends: list[datetime]) -> pd.DataFrame:
    """Minutes from each window end to the newest prediction before it."""
    out_ends, values = [], []
    for e in sorted(ends):
        at = np.datetime64(e)
        k = int(np.searchsorted(newest, at, side="left"))
        if k:
            out_ends.append(e)
            values.append((at - newest[k - 1]) / np.timedelta64(1, "m"))
    return _frame(out_ends, values, [1] * len(values))


def _one_window(db: Path, rule: Rule, window: Window) -> pd.DataFrame:
    family, end = rule.family, window.end
    if family == "fairness":
        report = fairness.assess(db, rule.model, window=window.all_rows(), attributes=(rule.column,),
                                 intersections=(), n_boot=0)
        verdicts = report.verdicts()
        name = rule.metric.split(".", 1)[1]
        value = float(verdicts[name].iloc[0]) if len(verdicts) else float("nan")
        return _frame([end], [value], [report.rows])
    if family == "kpi":
        result = business.kpis(db, rule.model, now=end, window=window)
        return _frame([end], [result.value(rule.metric.split(".", 1)[1])], [result.rows])
    if family == "cost":
        result = business.cost(db, rule.model, now=end, window=Window(window.start, window.end))
        return _frame([end], [float(result.budget.get("forecast_share", float("nan")))],
                      [int(result.summary.get("predictions", 0))])
    if family == "latency":
        result = business.latency(db, rule.model, window=window)
        row = result.by_version[result.by_version["version"] == window.version]
        if row.empty:
            return _empty()
        return _frame([end], [float(row[rule.metric.split(".", 1)[1]].iloc[0])], [int(row["predictions"].iloc[0])])
    raise ValueError(f"no provider for {rule.metric}")
