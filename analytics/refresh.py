"""After an ingest: bring the summaries the pages read up to date, so that no reader waits for them.

The pages read daily drift rollups (:func:`analytics.drift.refresh_rollups`, of the champion), the
serving and KPI summaries (:func:`analytics.business.refresh_summaries`) and the paired summaries of
each shadow and its champion (:func:`analytics.deployments.refresh_paired`, read only, never written by a reader). Each is also refreshed by
the first reader that finds it stale; refreshing right after the ingest's commit moves that wait
out of the pages. ``vigil ingest`` does it unless ``--no-refresh`` is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analytics import business, deployments, drift, registry
from analytics.errors import VigilError
from analytics.store import read


@dataclass(frozen=True)
class RefreshReport:
    """What was brought up to date after an ingest.

    Attributes
    ----------
    drift_segments : int
        Log segments newly rolled up for the champion's drift (0 when current or no champion).
    business_days : dict
        Days rebuilt per summary (``serving``, ``kpi``).
    paired_days : dict
        Days rebuilt per shadow pair (``"v1/v2"``) of the paired comparison summaries.
    skipped : list of str
        Summaries left as they were, each with the reason.
    """

    model: str
    drift_segments: int = 0
    business_days: dict[str, int] = field(default_factory=dict)
    paired_days: dict[str, int] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a terminal."""
        days = ", ".join(f"{name} {n} days" for name, n in self.business_days.items()) or "nothing to rebuild"
        line = (f"summaries of {self.model} brought up to date: drift rollups {self.drift_segments} new segments; "
                f"business summaries: {days}")
        if self.paired_days:
            line += "; shadow comparisons: " + ", ".join(f"{pair} {n} days" for pair, n in self.paired_days.items())
        return line + "".join(f"; {s}" for s in self.skipped)


def refresh_after_ingest(db: str | Path, model: str) -> RefreshReport:
    """Refresh the drift rollups of ``model``'s champion, its business summaries and its shadow comparison
    summaries; return what was done."""
    skipped = []
    segments = 0
    champion = read(lambda con: registry.champion_version(con, model), db)
    if champion is None:
        skipped.append("drift rollups: no champion version yet (pages compute drift from the log)")
    else:
        try:
            segments = drift.refresh_rollups(db, model, version=champion)
        except VigilError as exc:
            skipped.append(f"drift rollups not refreshed: {exc}")
    try:
        days = business.refresh_summaries(db, model).get(model, {})
    except VigilError as exc:
        days = {}
        skipped.append(f"business summaries not refreshed: {exc}")
    try:
        paired = deployments.refresh_paired(db, model).get(model, {})
    except VigilError as exc:
        paired = {}
        skipped.append(f"shadow comparison summaries not refreshed: {exc}")
    return RefreshReport(model, segments, dict(days), dict(paired), tuple(skipped))
