"""One clock: what "now" is, in naive UTC, for every part of Vigil that stamps or compares times.

Times are stored naive UTC, so :func:`utc_now` returns a naive ``datetime``. Tests (and a replay of
a past day) pin the clock with :func:`pinned` instead of patching each module's own copy of "now".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

_pinned: datetime | None = None


def utc_now() -> datetime:
    """The current time, naive UTC (microseconds kept), or the pinned time inside :func:`pinned`.

    Returns
    -------
    datetime
        A naive ``datetime`` in UTC.
    """
    if _pinned is not None:
        return _pinned
    return datetime.now(timezone.utc).replace(tzinfo=None)


@contextmanager
def pinned(at: datetime) -> Iterator[datetime]:
    """Make :func:`utc_now` return ``at`` (naive UTC, or aware and converted) inside the ``with`` block.

    Parameters
    ----------
    at : datetime
        The time "now" stands for.

    Yields
    ------
    datetime
        The pinned time, naive UTC.
    """
    global _pinned
    previous = _pinned
    _pinned = at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo is not None else at
    try:
        yield _pinned
    finally:
        _pinned = previous
