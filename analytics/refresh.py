"""After an ingest: bring the summaries the pages read up to date, so that no reader reads the log for them.

Every summary declared to the summaries engine (:mod:`analytics.summaries`: the daily drift rollups of
the champion, the serving and KPI summaries, the champion's explanation sample) is refreshed, each in its own short write transaction,
and so are the paired summaries of each shadow and its champion
(:func:`analytics.deployments.refresh_paired`). Readers never write: until this runs, they read the
days not yet summarised from the log and say so. ``vigil ingest`` runs it after its commit unless
``--no-refresh`` is given, and ``vigil refresh`` runs it on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analytics import business, deployments, drift, explain, fairness, performance, summaries  # noqa: F401 - importing a feature declares its summaries
from analytics.errors import VigilError


@dataclass(frozen=True)
class RefreshReport:
    """What was brought up to date after an ingest.

    Attributes
    ----------
    model : str
        The model.
    days : dict
        UTC days rebuilt per summary of the engine (``drift``, ``serving``, ``kpi``).
    paired_days : dict
        Days rebuilt per shadow pair (``"v1/v2"``) of the paired comparison summaries.
    skipped : tuple of str
        Summaries left as they were, each with the reason.
    """

    model: str
    days: dict[str, int] = field(default_factory=dict)
    paired_days: dict[str, int] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a terminal."""
        days = ", ".join(f"{name} {n} days" for name, n in self.days.items()) or "nothing kept for this model"
        line = f"summaries of {self.model} brought up to date: {days}"
        if self.paired_days:
            line += "; shadow comparisons: " + ", ".join(f"{pair} {n} days" for pair, n in self.paired_days.items())
        return line + "".join(f"; {s}" for s in self.skipped)


def refresh_after_ingest(db: str | Path, model: str) -> RefreshReport:
    """Refresh every declared summary of ``model`` and its shadow comparison summaries; return what was done."""
    skipped = []
    days: dict[str, int] = {}
    for declared in summaries.declarations():
        try:
            days.update(summaries.refresh_store(db, model, names=(declared.name,)).of(model))
        except VigilError as exc:
            skipped.append(f"{declared.name} summaries not refreshed: {exc} (pages read the log)")
    try:
        paired = deployments.refresh_paired(db, model).get(model, {})
    except VigilError as exc:
        paired = {}
        skipped.append(f"shadow comparison summaries not refreshed: {exc}")
    return RefreshReport(model, days, dict(paired), tuple(skipped))
