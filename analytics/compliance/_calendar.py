"""The review calendar: each model is reviewed again within the interval of its risk tier.

A ``high`` tier (tier 1) model is reviewed at least every 12 months (annual review, as US model-risk
guidance has long expected of material models), ``medium`` every 24, ``low`` every 36; a model without
a tier is treated as ``high`` until someone sets one. The clock runs from the last recorded review, else
the last approval of any of its versions, else the model's registration. A review due within
``compliance.review_due_soon_days`` is *due soon*; past its date, *overdue*. Reminders are queued by
:func:`analytics.compliance.remind`.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from analytics import audit, settings
from analytics.clock import utc_now
from analytics.errors import InvalidInputError
from analytics.registry import get_model
from analytics.roles import Actor, require

#: Months between reviews by risk tier (``None``: no tier set, treated as the strictest).
REVIEW_MONTHS: dict[str | None, int] = {"high": 12, "medium": 24, "low": 36, None: 12}
OUTCOMES: tuple[str, ...] = ("satisfactory", "needs_action", "unsatisfactory")
DUE_SOON = settings.declare("compliance.review_due_soon_days", 30, "A periodic model review is 'due soon' (and "
                            "reminded) this many days before its date", unit="days", minimum=1, maximum=365)
CALENDAR_COLUMNS: tuple[str, ...] = ("model", "owner", "risk_tier", "interval_months", "last_review_at",
                                     "last_review_kind", "last_reviewer", "due_at", "days_left", "status")


def review_interval_months(tier: str | None) -> int:
    """Months between periodic reviews for a risk tier (``None``: no tier set)."""
    if tier not in REVIEW_MONTHS:
        raise InvalidInputError(f"risk tier {tier!r} is unknown; use high, medium or low")
    return REVIEW_MONTHS[tier]


def record_review(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, *, outcome: str, note: str,
                  at: datetime | None = None) -> int:
    """Record a periodic review of a model (reviewers and admins). Audited; returns the review id."""
    require(actor, "review")
    get_model(con, model)
    if outcome not in OUTCOMES:
        raise InvalidInputError(f"review outcome {outcome!r} is unknown; use one of {', '.join(OUTCOMES)}")
    note = (note or "").strip()
    if not note:
        raise InvalidInputError("a review needs a note saying what was reviewed and found")
    when = at or utc_now()
    seq = audit.record(con, actor, "model.review", "model", model, {"outcome": outcome, "note": note}, at=when)
    review_id = con.execute("SELECT nextval('model_review_id_seq')").fetchone()[0]
    con.execute("INSERT INTO model_reviews (review_id, model_name, reviewed_at, reviewer, outcome, note, audit_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [review_id, model, when, actor.username, outcome, note, seq])
    return int(review_id)


def reviews_table(con: duckdb.DuckDBPyConnection, *, model: str | None = None) -> pd.DataFrame:
    """Recorded reviews (of one model), newest first."""
    return con.execute("SELECT review_id, model_name AS model, reviewed_at, reviewer, outcome, note, audit_seq "
                       "FROM model_reviews " + ("WHERE model_name = ? " if model else "") +
                       "ORDER BY reviewed_at DESC, review_id DESC", [model] if model else []).df()


def review_calendar(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> pd.DataFrame:
    """Every model with its tier, interval, last review (or approval, or registration), due date and status.

    ``status`` is ``overdue``, ``due soon`` (within ``compliance.review_due_soon_days``) or ``scheduled``;
    rows are ordered most urgent first. Dates are naive UTC; ``days_left`` is negative when overdue.
    """
    now = now or utc_now()
    frame = con.execute("""
        WITH last_review AS (SELECT model_name, max(reviewed_at) AS at, arg_max(reviewer, reviewed_at) AS who
                             FROM model_reviews GROUP BY ALL),
             last_approval AS (SELECT model_name, max(occurred_at) AS at, arg_max(actor, occurred_at) AS who
                               FROM version_transitions WHERE to_status = 'approved' GROUP BY ALL)
        SELECT m.model_name AS model, m.owner, r.risk_tier,
               CASE WHEN lr.at IS NOT NULL THEN lr.at WHEN la.at IS NOT NULL THEN la.at ELSE m.created_at END
                   AS last_review_at,
               CASE WHEN lr.at IS NOT NULL THEN 'review' WHEN la.at IS NOT NULL THEN 'approval'
                    ELSE 'registration' END AS last_review_kind,
               coalesce(lr.who, la.who, '') AS last_reviewer
        FROM models m LEFT JOIN model_risk r USING (model_name) LEFT JOIN last_review lr USING (model_name)
        LEFT JOIN last_approval la USING (model_name) ORDER BY model""").df()
    soon_days = {m: int(settings.get(con, DUE_SOON.key, model=m)) for m in frame["model"]}
    frame["risk_tier"] = frame["risk_tier"].astype(object).where(frame["risk_tier"].notna(), None)
    frame["interval_months"] = [review_interval_months(t) for t in frame["risk_tier"]]
    frame["due_at"] = [pd.Timestamp(at) + pd.DateOffset(months=int(n))
                       for at, n in zip(frame["last_review_at"], frame["interval_months"])]
    frame["days_left"] = [(due - pd.Timestamp(now)).total_seconds() / 86_400 for due in frame["due_at"]]
    frame["status"] = ["overdue" if left < 0 else "due soon" if left <= soon_days[m] else "scheduled"
                       for m, left in zip(frame["model"], frame["days_left"])]
    frame["risk_tier"] = frame["risk_tier"].fillna("not set")
    order = {"overdue": 0, "due soon": 1, "scheduled": 2}
    frame = frame.sort_values(["status", "days_left"], key=lambda s: s.map(order) if s.name == "status" else s)
    return frame.reindex(columns=list(CALENDAR_COLUMNS)).reset_index(drop=True)
