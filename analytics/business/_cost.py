"""Cost of serving a model: per prediction, per 1,000, per day and version, against a monthly budget.

The per-call cost is the ``cost`` column of the prediction log (USD, as the serving gateway reports
it); recorded infrastructure costs (compute, storage ...) are entries in ``infra_costs``, entered by
admins and audited, spread evenly over the days of their period. Shadow rows cost money but make no
decision: *cost per selected decision* divides the cost of every row (shadow included) by the
decisions acted on (rows not in shadow whose decision is the definition's ``selected_decision``).

Month-end forecast: spend so far this month (log and infrastructure, up to ``now``) plus the run
rate of the last :data:`RUN_RATE_DAYS` days times the days left in the month.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import duckdb
import pandas as pd

from analytics import audit, settings
from analytics.business import _serving
from analytics.business._common import DbLike, live_rows, open_model, window_filter
from analytics.store import run
from analytics.business._definitions import get_definition, has_definition
from analytics.errors import InvalidInputError
from analytics.roles import Actor, require
from analytics.window import Window
from analytics.store import predictions_view

MONTHLY_BUDGET = settings.declare(
    "business.monthly_budget_usd", 1000.0,
    "monthly serving budget of the model (prediction cost plus recorded infrastructure cost)",
    unit="USD", minimum=0.0)
RUN_RATE_DAYS = 7
INFRA_CATEGORIES: tuple[str, ...] = ("compute", "storage", "network", "licence", "other")


# --------------------------------------------------------------------------------------------------
# Infrastructure cost entries


def add_infra_cost(con: duckdb.DuckDBPyConnection, actor: Actor, *, category: str, amount_usd: float,
                   period_start: date, period_end: date, model: str | None = None, description: str = "",
                   at: datetime | None = None) -> int:
    """Record an infrastructure cost (admins only; audited in the caller's transaction); return its id.

    Parameters
    ----------
    category : str
        One of :data:`INFRA_CATEGORIES`.
    amount_usd : float
        Amount for the whole period, in USD (>= 0).
    period_start, period_end : date
        First and last day covered (inclusive, UTC).
    model : str, optional
        The model it is charged to; None for a shared cost (not charged to any model's budget).
    """
    require(actor, "change_settings")
    if category not in INFRA_CATEGORIES:
        raise InvalidInputError(f"category {category!r} is unknown; use one of {', '.join(INFRA_CATEGORIES)}")
    if not amount_usd >= 0:
        raise InvalidInputError("the amount must be zero or more (USD)")
    if period_end < period_start:
        raise InvalidInputError("the period ends before it starts")
    if model is not None:
        open_model(con, model)
    entry_id = con.execute("SELECT nextval('infra_cost_id_seq')").fetchone()[0]
    when = (at or datetime.now(timezone.utc)).replace(tzinfo=None)
    con.execute("INSERT INTO infra_costs (entry_id, model_name, category, amount_usd, period_start, period_end, description, entered_at, entered_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [entry_id, model, category, float(amount_usd), period_start, period_end, description, when,
                 actor.username])
    audit.record(con, actor, "infra_cost.add", "infra_cost", str(entry_id),
                 {"model": model, "category": category, "amount_usd": float(amount_usd),
                  "period_start": period_start.isoformat(), "period_end": period_end.isoformat(),
                  "description": description}, at=at)
    return int(entry_id)


def delete_infra_cost(con: duckdb.DuckDBPyConnection, actor: Actor, entry_id: int) -> None:
    """Remove a wrongly entered infrastructure cost (admins only; audited with what it held)."""
    require(actor, "change_settings")
    row = con.execute("SELECT model_name, category, amount_usd, period_start, period_end, description "
                      "FROM infra_costs WHERE entry_id = ?", [entry_id]).fetchone()
    if row is None:
        raise InvalidInputError(f"no infrastructure cost entry {entry_id}")
    con.execute("DELETE FROM infra_costs WHERE entry_id = ?", [entry_id])
    audit.record(con, actor, "infra_cost.delete", "infra_cost", str(entry_id),
                 dict(zip(("model", "category", "amount_usd", "period_start", "period_end", "description"), row)))


def infra_costs(db: DbLike, model: str | None = None) -> pd.DataFrame:
    """Infrastructure cost entries (of one model and the shared ones, or all), newest period first."""
    clause, params = ("WHERE model_name = ? OR model_name IS NULL", [model]) if model else ("", [])
    return run(db, lambda con: con.execute(
        f"SELECT entry_id, model_name, category, amount_usd, period_start, period_end, "
        f"datediff('day', period_start, period_end) + 1 AS days, description, entered_at, entered_by "
        f"FROM infra_costs {clause} ORDER BY period_start DESC, entry_id DESC", params).df())


def _infra_between(con: duckdb.DuckDBPyConnection, model: str, start: datetime | None, end: datetime) -> float:
    """The model's infrastructure cost falling in ``[start, end)``, spread evenly over each entry's days."""
    lower = start or datetime(1970, 1, 1)
    value = con.execute(
        """
        SELECT coalesce(sum(amount_usd / (datediff('day', period_start, period_end) + 1) * greatest(0,
               epoch(least(CAST(period_end AS TIMESTAMP) + INTERVAL 1 DAY, ?::TIMESTAMP))
               - epoch(greatest(CAST(period_start AS TIMESTAMP), ?::TIMESTAMP))) / 86400.0), 0)
        FROM infra_costs WHERE model_name = ?
        """, [end, lower, model]).fetchone()[0]
    return float(value)


# --------------------------------------------------------------------------------------------------
# Cost of the log


#: Columns of :attr:`CostResult.daily`.
DAILY_COLUMNS: tuple[str, ...] = ("day", "version", "role", "predictions", "cost_usd", "cost_per_1000_usd",
                                  "selected")


@dataclass(frozen=True)
class CostResult:
    """Cost of one model over a window.

    Attributes
    ----------
    summary : dict
        ``predictions``, ``cost_usd``, ``cost_per_prediction_usd``, ``cost_per_1000_usd``,
        ``selected`` (decisions acted on and selected), ``cost_per_selected_usd``, ``infra_usd``
        (recorded infrastructure cost in the window), ``total_usd``, and the same ``*_previous``
        for the previous period (NaN for an unbounded window).
    daily : DataFrame
        :data:`DAILY_COLUMNS` per UTC day and version.
    by_version : DataFrame
        Per version: role, predictions, cost, cost per 1,000, selected, cost per selected decision.
    budget : dict
        ``month`` (first day), ``budget_usd``, ``spend_usd`` (month to date), ``log_usd``,
        ``infra_usd``, ``run_rate_usd_per_day`` (prediction cost per day over the last
        :data:`RUN_RATE_DAYS` days), ``forecast_usd``, ``forecast_share`` (of the budget),
        ``days_left``.
    selected_label : str
        What a selected decision is called ("approved").
    """

    summary: dict[str, Any]
    daily: pd.DataFrame
    by_version: pd.DataFrame
    budget: dict[str, Any]
    selected_label: str


def _selected_expr(con: duckdb.DuckDBPyConnection, model: str, version: str | None) -> tuple[str, str]:
    if has_definition(con, model):
        d = get_definition(con, model)
        return f"p.decision = {int(d.selected_decision)} AND {live_rows(version)}", d.selected_label
    return "FALSE", "selected"


def cost(db: DbLike, model: str, *, now: datetime, window: Window = Window(),
         use_summaries: bool = True) -> CostResult:
    """Prediction and infrastructure cost of ``model`` over ``window``, per day and version, and its budget.

    Every row of the window counts (shadow included: it was paid for). The budget is that of the month
    of ``now`` (setting ``business.monthly_budget_usd``), for the whole model whatever the filters.
    Unless the window has a segment (or ``use_summaries`` is false), whole hours come from the serving
    summaries (:mod:`analytics.business._serving`) and only the partial hours at the edges from the log.
    """

    def work(con: duckdb.DuckDBPyConnection) -> CostResult:
        info = open_model(con, model)
        selected, selected_label = _selected_expr(con, model, window.version)
        previous = window.previous(now)
        summarised = use_summaries and _serving.current(con, info)
        if summarised and window.segment is None:
            daily = _daily_from_summaries(con, info, selected, window, previous)
        else:
            daily = _daily_from_log(con, info, selected, window, previous)
        cur, prev = daily[daily["period"] == "current"], daily[daily["period"] == "previous"]
        stop = window.end or now
        summary = {**_summary(cur, _infra_between(con, model, window.start, stop)),
                   **{f"{k}_previous": v for k, v in _summary(
                       prev, _infra_between(con, model, previous.start, previous.end) if previous else 0.0).items()}}
        if previous is None:
            summary.update({k: float("nan") for k in summary if k.endswith("_previous")})
        cur = cur.drop(columns="period").reset_index(drop=True)
        cur["cost_per_1000_usd"] = cur["cost_usd"] / cur["predictions"] * 1000
        by_version = cur.groupby("version", as_index=False).agg(
            role=("role", "last"), predictions=("predictions", "sum"), cost_usd=("cost_usd", "sum"),
            selected=("selected", "sum"))
        by_version["cost_per_1000_usd"] = by_version["cost_usd"] / by_version["predictions"] * 1000
        by_version["cost_per_selected_usd"] = by_version["cost_usd"] / by_version["selected"].where(
            by_version["selected"] > 0)
        budget = _budget(con, info, model, now, summarised)
        return CostResult(summary, cur[list(DAILY_COLUMNS)], by_version, budget, selected_label)

    return run(db, work)


def _daily_from_log(con: duckdb.DuckDBPyConnection, info, selected: str, window: Window,
                    previous: Window | None) -> pd.DataFrame:
    """Predictions, cost and selected decisions per period, day and version, straight from the log."""
    both = window.between(previous.start, window.end) if previous else window
    where = window_filter(info, both, include_shadow=True)
    period = "CASE WHEN p.predicted_at >= ? THEN 'current' ELSE 'previous' END" if previous else "'current'"
    return con.execute(
        f"""
        SELECT {period} AS period, CAST(date_trunc('day', p.predicted_at) AS DATE) AS day,
               p.model_version AS version, any_value(p.deployment_role) AS role,
               count(*) AS predictions, coalesce(sum(p.cost), 0) AS cost_usd,
               count(*) FILTER (WHERE {selected}) AS selected
        FROM {predictions_view(info.stem)} p WHERE {where.sql}
        GROUP BY ALL ORDER BY day, version
        """, [*([window.start] if previous else []), *where.params]).df()


def _daily_from_summaries(con: duckdb.DuckDBPyConnection, info, selected: str, window: Window,
                          previous: Window | None) -> pd.DataFrame:
    """The same frame as :func:`_daily_from_log`, from the hourly serving summary (and the partial hours)."""
    periods = [("current", window)] + ([("previous", previous)] if previous else [])
    sources, params = [], []
    for name, period in periods:
        source = _serving.hourly_source(info, period.start, period.end, period.version)
        sources.append(f"SELECT '{name}' AS period, * FROM {source.sql}")
        params += source.params
    return con.execute(
        f"""
        SELECT period, CAST(date_trunc('day', p.hour) AS DATE) AS day,
               p.model_version AS version, any_value(p.deployment_role) AS role,
               CAST(sum(p.predictions) AS BIGINT) AS predictions, coalesce(sum(p.cost), 0) AS cost_usd,
               CAST(coalesce(sum(p.predictions) FILTER (WHERE {selected}), 0) AS BIGINT) AS selected
        FROM ({' UNION ALL '.join(sources)}) p
        GROUP BY ALL ORDER BY day, version
        """, params).df()


def _summary(daily: pd.DataFrame, infra: float) -> dict[str, float]:
    n, spend, selected = float(daily["predictions"].sum()), float(daily["cost_usd"].sum()), float(daily["selected"].sum())
    nan = float("nan")
    return {"predictions": n, "cost_usd": spend, "cost_per_prediction_usd": spend / n if n else nan,
            "cost_per_1000_usd": spend / n * 1000 if n else nan, "selected": selected,
            "cost_per_selected_usd": spend / selected if selected else nan, "infra_usd": infra,
            "total_usd": spend + infra}


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """First instant of the month of ``now`` and of the next month (naive UTC)."""
    first = datetime(now.year, now.month, 1)
    days = calendar.monthrange(now.year, now.month)[1]
    return first, first + timedelta(days=days)


def _budget(con: duckdb.DuckDBPyConnection, info, model: str, now: datetime, use_summaries: bool) -> dict[str, Any]:
    first, following = month_bounds(now)
    run_from = now - timedelta(days=RUN_RATE_DAYS)
    if use_summaries:
        mtd, recent = _serving.hourly_source(info, first, now), _serving.hourly_source(info, run_from, now)
        log_mtd, log_recent = con.execute(
            f"SELECT (SELECT coalesce(sum(cost), 0) FROM {mtd.sql}), (SELECT coalesce(sum(cost), 0) FROM {recent.sql})",
            [*mtd.params, *recent.params]).fetchone()
    else:
        log_mtd, log_recent = con.execute(
            f"""SELECT coalesce(sum(cost) FILTER (WHERE predicted_at >= ?), 0), coalesce(sum(cost) FILTER (WHERE predicted_at >= ?), 0)
                FROM {predictions_view(info.stem)} WHERE predicted_at >= ? AND predicted_at < ?""",
            [first, run_from, min(first, run_from), now]).fetchone()
    infra_mtd = _infra_between(con, model, first, now)
    run_rate = float(log_recent) / RUN_RATE_DAYS
    days_left = (following - now).total_seconds() / 86400
    # Infrastructure already booked for the rest of the month is known, not forecast.
    infra_rest = _infra_between(con, model, now, following)
    log_forecast = float(log_mtd) + run_rate * days_left
    forecast = log_forecast + infra_mtd + infra_rest
    budget = float(settings.get(con, MONTHLY_BUDGET.key, model=model))
    return {"month": first.date(), "budget_usd": budget, "log_usd": float(log_mtd), "infra_usd": infra_mtd,
            "spend_usd": float(log_mtd) + infra_mtd, "run_rate_usd_per_day": run_rate,
            "forecast_usd": forecast, "forecast_share": forecast / budget if budget else float("nan"),
            "spend_share": (float(log_mtd) + infra_mtd) / budget if budget else float("nan"),
            "days_left": days_left}
