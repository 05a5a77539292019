"""Put a registered (draft) version of a test store in any lifecycle status, through the lifecycle's funnel.

A version always starts as a draft (:func:`analytics.registry.register_version`); a fixture that needs a
champion, a shadow or a version in review walks it there with :func:`analytics.governance.transition`,
one legal step at a time, each taken by a different test person (four eyes hold) and audited. A champion
is declared with :func:`analytics.governance.onboard` when asked for (``onboarded=True``): it then served
since ``at``, as a model that predates Vigil.
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from analytics import governance
from analytics.roles import Actor

AUTHOR = Actor("t.author", "analyst")
REVIEWER = Actor("t.reviewer", "reviewer")
APPROVER = Actor("t.approver", "approver")

_WAY: dict[str, tuple[str, ...]] = {
    "draft": (), "submitted": ("submitted",), "in_review": ("submitted", "in_review"),
    "approved": ("submitted", "in_review", "approved"), "rejected": ("submitted", "in_review", "rejected"),
    "shadow": ("submitted", "in_review", "approved", "shadow"),
    "canary": ("submitted", "in_review", "approved", "canary"),
    "champion": ("submitted", "in_review", "approved", "champion"),
    "retired": ("submitted", "in_review", "approved", "retired"),
}
_BY = {"submitted": AUTHOR, "in_review": REVIEWER}


def put_in_status(con: duckdb.DuckDBPyConnection, model: str, version: str, status: str, *,
                  at: datetime | None = None) -> None:
    """Walk a draft ``model:version`` to ``status`` (every step at ``at``, UTC; default now)."""
    for to in _WAY[status]:
        details = {"comment": "fixture"} if to in ("approved", "rejected") else {}
        if to == "canary":
            details["traffic_share"] = 0.2
        governance.transition(con, _BY.get(to, APPROVER), model, version, to, details=details, at=at)


def onboard(con: duckdb.DuckDBPyConnection, model: str, version: str, *, at: datetime | None = None) -> None:
    """Declare a draft version champion since ``at`` (an onboarding declaration by an admin)."""
    when = at or datetime.now(timezone.utc).replace(tzinfo=None)
    governance.onboard(con, Actor("t.admin", "admin"), model, version, when, at=when)
