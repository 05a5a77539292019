"""The days Vigil accepts in a window: far enough back and ahead for any log, near enough to compute with.

pandas keeps times in nanoseconds (1677 to 2262) and a window's edges are shifted by days and weeks
(the baseline before it, the day after its last day), so a day such as ``0001-01-01`` or
``9999-12-31`` would overflow deep inside a computation. Windows are checked against these bounds
where they are made (the command line, the app's URL) and refused with a message instead.
"""

from __future__ import annotations

from datetime import date, datetime

from analytics.errors import InvalidInputError

#: The first and last day a window may name (inclusive).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)


def day_in_range(value: date | datetime) -> bool:
    """Whether ``value`` (a day or a time) falls on a day from :data:`FIRST_DAY` to :data:`LAST_DAY`."""
    day = value.date() if isinstance(value, datetime) else value
    return FIRST_DAY <= day <= LAST_DAY


def check_day(value: date | datetime, what: str) -> date | datetime:
    """``value`` unchanged when :func:`day_in_range`, else :class:`InvalidInputError` naming ``what`` and the range."""
    if not day_in_range(value):
        raise InvalidInputError(f"{what} {value.isoformat()[:10]} is out of range: use a day from "
                                f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")
    return value


#: How a result is grouped in time: ``None`` for the whole window, ``"day"`` per UTC day, ``"week"`` per
#: week starting on Monday.
PERIODS: tuple[str | None, ...] = (None, "day", "week")
#: The label of the one group of a whole window.
WHOLE_WINDOW = "window"


def period_sql(period: str | None, time_column: str) -> str:
    """The SQL expression of a row's group in time: :data:`WHOLE_WINDOW` or the start of its day or week.

    ``time_column`` is a UTC ``TIMESTAMP`` or ``DATE`` column (the log's ``predicted_at``, a summary's
    ``day``); a day or week comes back as a ``TIMESTAMP``.
    """
    if period is None:
        return f"'{WHOLE_WINDOW}'"
    if period not in PERIODS:
        raise InvalidInputError(f"period {period!r} is unknown; use day or week")
    return f"date_trunc('{period}', {time_column})::TIMESTAMP"
