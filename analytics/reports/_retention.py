"""Record-keeping: a retention policy per model, and its enforcement by removing whole expired segments.

What the law asks (Regulation (EU) 2024/1689, the AI Act): a high-risk AI system records events
automatically over its lifetime (Art. 12); providers keep the logs under their control for a period
appropriate to the system's intended purpose, **of at least six months**, unless Union or national law
says otherwise (Art. 19(1)); deployers likewise (Art. 26(6)). Financial institutions keep them as part of
the documentation their financial-services law requires (Art. 19(2), Art. 26(6) second subparagraph).

A policy keeps, per model, prediction logs, outcomes and the audit trail for a number of days.
:data:`LEGAL_FLOOR_DAYS` (184: six calendar months are at most 184 days) is the least any of them may
be, unless an admin overrides it with a reason (another law that requires erasure sooner, for example)
that is kept with the policy and in the audit trail. Without a stored policy, :data:`DEFAULTS` apply.

:func:`apply` removes only **whole** expired units: a prediction segment (one Parquet file) whose newest
prediction is older than the cutoff, and an outcome ingest whose newest outcome is. A unit that still
holds one row inside the period is kept whole. It never deletes audit rows (the audit trail's period is
a promise that nothing shortens it, and is reported, not enforced by deletion), and it records what it
removed in the audit trail in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from analytics import audit, store
from analytics.clock import utc_now
from analytics.errors import InvalidInputError
from analytics.refresh import refresh_after_ingest
from analytics.registry import get_model, list_models
from analytics.roles import Actor, require
from analytics.store import define_predictions_view

#: Six calendar months are at most 184 days (July to December: 31 + 31 + 30 + 31 + 30 + 31).
LEGAL_FLOOR_DAYS = 184
#: Kept when no policy is stored: 13 months of logs and outcomes (a year-on-year comparison and an annual
#: review stay possible), ten years of audit trail (the AI Act's period for technical documentation, Art. 18(1)).
DEFAULTS = {"predictions_days": 396, "outcomes_days": 396, "audit_days": 3653}
KINDS = ("predictions_days", "outcomes_days", "audit_days")


@dataclass(frozen=True)
class RetentionPolicy:
    """How long one model's records are kept, in days.

    Attributes
    ----------
    model : str
    predictions_days, outcomes_days, audit_days : int
    override_reason : str or None
        Why a period is under :data:`LEGAL_FLOOR_DAYS` (an admin's override), if one is.
    stored : bool
        False when :data:`DEFAULTS` apply.
    """

    model: str
    predictions_days: int
    outcomes_days: int
    audit_days: int
    override_reason: str | None = None
    stored: bool = False
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class ModelRemoval:
    """What :func:`apply` removes (or, dry, would remove) for one model.

    Attributes
    ----------
    model : str
    predictions_cutoff, outcomes_cutoff : datetime
        Records older than these are expired.
    segments : DataFrame
        Expired prediction segments: ``ingest_id``, ``part``, ``path``, ``rows``, ``min_predicted_at``,
        ``max_predicted_at``.
    outcome_ingests : DataFrame
        Expired outcome ingests: ``ingest_id``, ``rows``, ``min_observed_at``, ``max_observed_at``.
    audit_seq : int or None
        The audit row that records the removal (None when dry or nothing was removed).
    """

    model: str
    predictions_cutoff: datetime
    outcomes_cutoff: datetime
    segments: pd.DataFrame
    outcome_ingests: pd.DataFrame
    audit_seq: int | None = None

    @property
    def prediction_rows(self) -> int:
        return int(self.segments["rows"].sum()) if len(self.segments) else 0

    @property
    def outcome_rows(self) -> int:
        return int(self.outcome_ingests["rows"].sum()) if len(self.outcome_ingests) else 0

    def line(self, dry_run: bool) -> str:
        """One line for the command line."""
        verb = "would remove" if dry_run else "removed"
        return (f"{self.model}: {verb} {len(self.segments)} prediction segments ({self.prediction_rows:,} rows, "
                f"newest before {self.predictions_cutoff:%Y-%m-%d %H:%M} UTC) and {len(self.outcome_ingests)} outcome "
                f"ingests ({self.outcome_rows:,} rows, before {self.outcomes_cutoff:%Y-%m-%d %H:%M} UTC)"
                + (f"; audit row {self.audit_seq}" if self.audit_seq else ""))


def get_policy(con: duckdb.DuckDBPyConnection, model: str) -> RetentionPolicy:
    """The policy of ``model`` (the stored one, else :data:`DEFAULTS`)."""
    get_model(con, model)
    row = con.execute("SELECT predictions_days, outcomes_days, audit_days, override_reason, updated_at, updated_by "
                      "FROM retention_policies WHERE model_name = ?", [model]).fetchone()
    if row is None:
        return RetentionPolicy(model, **DEFAULTS)
    return RetentionPolicy(model, int(row[0]), int(row[1]), int(row[2]), row[3], True, row[4], row[5])


def set_policy(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, *, predictions_days: int,
               outcomes_days: int, audit_days: int, override_reason: str | None = None) -> RetentionPolicy:
    """Store the retention policy of ``model`` (admins), audited in the caller's transaction.

    Raises
    ------
    InvalidInputError
        A period under one day, or under :data:`LEGAL_FLOOR_DAYS` without an override reason.
    PermissionDeniedError
        When ``actor`` is not an admin (nor the system identity).
    """
    require(actor, "manage_retention")
    before = get_policy(con, model)
    days = {"predictions_days": predictions_days, "outcomes_days": outcomes_days, "audit_days": audit_days}
    for kind, value in days.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 36_525:
            raise InvalidInputError(f"{kind.replace('_', ' ')}: {value!r} is not a whole number of days from 1 to 36525")
    under = [f"{k.replace('_days', '')} {v} days" for k, v in days.items() if v < LEGAL_FLOOR_DAYS]
    reason = (override_reason or "").strip() or None
    if under and reason is None:
        raise InvalidInputError(
            f"{', '.join(under)}: under the legal floor of {LEGAL_FLOOR_DAYS} days (six months: EU AI Act Art. 19(1) "
            "and 26(6) require logs of high-risk systems to be kept at least six months). Choose at least "
            f"{LEGAL_FLOOR_DAYS} days, or, as an admin, give the reason for a shorter period (--override-reason)")
    if reason is not None and not under:
        reason = None  # nothing is overridden: keep no stale reason
    con.execute("INSERT OR REPLACE INTO retention_policies (model_name, predictions_days, outcomes_days, audit_days, "
                "override_reason, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [model, predictions_days, outcomes_days, audit_days, reason, utc_now(), actor.username])
    audit.record(con, actor, "retention.set", "model", model,
                 {**days, "override_reason": reason, "below_legal_floor": under,
                  "before": {k: getattr(before, k) for k in KINDS} | {"stored": before.stored}})
    return get_policy(con, model)


def policies_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every model's policy: the three periods in days, whether stored or default, override reason, last change."""
    rows = [vars(get_policy(con, info.name)) for info in list_models(con)]
    return pd.DataFrame(rows, columns=["model", *KINDS, "override_reason", "stored", "updated_at", "updated_by"])


def _expired(con: duckdb.DuckDBPyConnection, policy: RetentionPolicy, now: datetime) -> ModelRemoval:
    info = get_model(con, policy.model)
    predictions_cutoff = now - timedelta(days=policy.predictions_days)
    outcomes_cutoff = now - timedelta(days=policy.outcomes_days)
    segments = con.execute(
        "SELECT ingest_id, part, path, rows, min_predicted_at, max_predicted_at FROM log_segments "
        "WHERE model_name = ? AND max_predicted_at < ? ORDER BY ingest_id, part",
        [policy.model, predictions_cutoff]).df()
    outcome_ingests = con.execute(
        f"SELECT ingest_id, count(*) AS rows, min(observed_at) AS min_observed_at, max(observed_at) AS max_observed_at "
        f"FROM {store.outcome_table(info.stem)} GROUP BY ingest_id HAVING max(observed_at) < ? ORDER BY ingest_id",
        [outcomes_cutoff]).df()
    return ModelRemoval(policy.model, predictions_cutoff, outcomes_cutoff, segments, outcome_ingests)


def _remove(con: duckdb.DuckDBPyConnection, actor: Actor, policy: RetentionPolicy, now: datetime) -> ModelRemoval:
    """Remove one model's expired units from the store (files are deleted after the commit) and audit it."""
    found = _expired(con, policy, now)
    if found.segments.empty and found.outcome_ingests.empty:
        return found
    info = get_model(con, policy.model)
    for ingest_id, part in zip(found.segments["ingest_id"], found.segments["part"]):
        con.execute("DELETE FROM log_segments WHERE model_name = ? AND ingest_id = ? AND part = ?",
                    [policy.model, int(ingest_id), int(part)])
    if len(found.segments):
        define_predictions_view(con, info.name, info.stem, info.schema)
    for ingest_id in found.outcome_ingests["ingest_id"]:
        con.execute(f"DELETE FROM {store.outcome_table(info.stem)} WHERE ingest_id = ?", [int(ingest_id)])
    seq = audit.record(con, actor, "retention.apply", "model", policy.model, {
        "policy": {k: getattr(policy, k) for k in KINDS} | {"override_reason": policy.override_reason},
        "predictions_cutoff": found.predictions_cutoff, "outcomes_cutoff": found.outcomes_cutoff,
        "prediction_rows": found.prediction_rows, "outcome_rows": found.outcome_rows,
        "segments": [{"path": p, "rows": int(r), "first": str(a), "last": str(b)} for p, r, a, b in zip(
            found.segments["path"], found.segments["rows"], found.segments["min_predicted_at"],
            found.segments["max_predicted_at"])],
        "outcome_ingests": [{"ingest_id": int(i), "rows": int(r), "last": str(b)} for i, r, b in zip(
            found.outcome_ingests["ingest_id"], found.outcome_ingests["rows"],
            found.outcome_ingests["max_observed_at"])],
        "audit_trail": "kept whole (never deleted by retention)"})
    return ModelRemoval(found.model, found.predictions_cutoff, found.outcomes_cutoff, found.segments,
                        found.outcome_ingests, seq)


def apply(db: Path, actor: Actor, *, dry_run: bool = False, now: datetime | None = None) -> list[ModelRemoval]:
    """Enforce every model's policy: remove whole expired prediction segments and outcome ingests.

    Each model's removal is one transaction with its ``retention.apply`` audit row; the segment files are deleted after it commits (a crash in between
    leaves files no view names, as a failed ingest does), then the summaries the pages read are
    rebuilt from what remains (:func:`analytics.refresh.refresh_after_ingest`: the summaries engine finds
    the days whose segments changed). The audit trail is
    never touched beyond the new rows. ``dry_run`` reports without changing anything.
    """
    require(actor, "manage_retention")
    moment = now or utc_now()
    policies = store.read(lambda con: [get_policy(con, m.name) for m in list_models(con)], db)
    results = []
    for policy in policies:
        if dry_run:
            results.append(store.read(lambda con: _expired(con, policy, moment), db))
            continue
        removal = store.write(lambda con: _remove(con, actor, policy, moment), db)
        for path in removal.segments["path"]:
            (db.parent / path).unlink(missing_ok=True)
        if len(removal.segments) or len(removal.outcome_ingests):
            refresh_after_ingest(db, policy.model)  # the pages' summaries now cover only what is kept
        results.append(removal)
    return results
