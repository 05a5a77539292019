"""Report periods: the last whole UTC day, ISO week (Monday to Monday) or calendar month closed by a moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.errors import InvalidInputError

SCHEDULES: tuple[str, ...] = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class Period:
    """One reporting period ``[start, end)`` in naive UTC, and its schedule.

    Attributes
    ----------
    schedule : str
        ``daily``, ``weekly`` or ``monthly``.
    start, end : datetime
        Midnight UTC at both ends; ``end`` excluded.
    """

    schedule: str
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """``2026-08-31`` (a day), ``2026-W35`` (an ISO week) or ``2026-08`` (a month)."""
        if self.schedule == "weekly":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.schedule == "monthly":
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y-%m-%d}"

    @property
    def words(self) -> str:
        """The period for a reader: ``week 2026-W35, 2026-08-24 to 2026-08-31 00:00 UTC (end excluded)``."""
        return (f"{self.schedule.replace('ly', '').replace('dai', 'day')} {self.label}, {self.start:%Y-%m-%d} 00:00 to "
                f"{self.end:%Y-%m-%d} 00:00 UTC (end excluded)")


def check_schedule(schedule: str) -> str:
    """``schedule`` if it is one of :data:`SCHEDULES`; a clear error otherwise."""
    if schedule not in SCHEDULES:
        raise InvalidInputError(f"schedule {schedule!r} is unknown; use one of {', '.join(SCHEDULES)}")
    return schedule


def last_closed_period(schedule: str, as_of: datetime) -> Period:
    """The latest whole period of ``schedule`` that has ended at ``as_of`` (naive UTC).

    >>> last_closed_period("weekly", datetime(2026, 9, 1, 7, 30)).label
    '2026-W35'
    >>> last_closed_period("monthly", datetime(2026, 9, 1)).start
    datetime.datetime(2026, 8, 1, 0, 0)
    """
    check_schedule(schedule)
    day = datetime(as_of.year, as_of.month, as_of.day)
    if schedule == "daily":
        return Period(schedule, day - timedelta(days=1), day)
    if schedule == "weekly":
        monday = day - timedelta(days=day.weekday())
        return Period(schedule, monday - timedelta(days=7), monday)
    first = day.replace(day=1)
    return Period(schedule, (first - timedelta(days=1)).replace(day=1), first)
