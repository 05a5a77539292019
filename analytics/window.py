"""The window a reader looks at: ``[start, end)``, one version or all, all rows or one segment's value.

A :class:`Window` is made once, where the user's choice enters Vigil (the app's pickers, a command's
options), and validated there: its times are UTC and in order, a segment comes with its value. Made
with :meth:`Window.of_model` it is also checked against the registry (the version is registered,
the segment is a declared segment column of the model). Readers then take the window as one value
and ask it for its SQL filter (:meth:`Window.where`) instead of threading five parameters through
every signature and rebuilding the filter each time.

Conventions
-----------
- Times are naive UTC ``datetime`` values, as stored; an aware time in UTC is accepted and made
  naive, any other offset is refused. ``None`` leaves that side of the window open.
- The *previous window* of ``[start, end)`` is the window of equal length just before it
  (:func:`previous_window`, :meth:`Window.previous`).

The hour and day helpers (:func:`floor_hour`, :func:`ceil_hour`, :func:`split_interval`) cut a window
into whole hours or days, which stored summaries answer, and partial edges, read from the log.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from analytics.errors import InvalidInputError
from analytics.logschema import LogSchema, quote
from analytics.registry import ModelInfo, get_model
from analytics.store import DbLike, run


@dataclass(frozen=True)
class SqlFilter:
    """A parameterised SQL condition: ``sql`` with one ``?`` per entry of ``params``, in order."""

    sql: str
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Query:
    """A parameterised SQL relation or clause (a subquery, a join): ``sql`` with one ``?`` per entry of
    ``params``, in order."""

    sql: str
    params: list[Any] = field(default_factory=list)


def time_bounds(column: str, start: Any = None, end: Any = None) -> SqlFilter:
    """The condition ``column >= ? AND column < ?`` for the bounds given (``TRUE`` when neither)."""
    clauses, params = [], []
    if start is not None:
        clauses.append(f"{column} >= ?")
        params.append(start)
    if end is not None:
        clauses.append(f"{column} < ?")
        params.append(end)
    return SqlFilter(" AND ".join(clauses) or "TRUE", params)


def floor_hour(at: datetime, unit: str = "hour") -> datetime:
    """The whole hour (or day, ``unit="day"``) at or before ``at``."""
    floor = at.replace(minute=0, second=0, microsecond=0)
    return floor.replace(hour=0) if unit == "day" else floor


def ceil_hour(at: datetime, unit: str = "hour") -> datetime:
    """The first whole hour (or day) at or after ``at``."""
    floor = floor_hour(at, unit)
    return floor if floor == at else floor + (timedelta(days=1) if unit == "day" else timedelta(hours=1))


def split_interval(a: datetime | None, b: datetime | None, unit: str = "hour") -> tuple[tuple | None, list[tuple]]:
    """``[a, b)`` as whole hours (or days) ``(first, stop)`` (either None = open; None overall when there
    are none) and the partial edges, to be answered exactly."""
    first = ceil_hour(a, unit) if a is not None else None
    stop = floor_hour(b, unit) if b is not None else None
    if first is not None and stop is not None and stop <= first:
        return None, [(a, b)]
    edges = []
    if a is not None and first != a:
        edges.append((a, first))
    if b is not None and stop != b:
        edges.append((stop, b))
    return (first, stop), edges


def previous_window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime] | None:
    """Return the window of equal length just before ``[start, end)``, or ``None`` when unbounded.

    An open ``end`` stands for ``now``.
    """
    if start is None:
        return None
    stop = end or now
    if stop <= start:
        return None
    return start - (stop - start), start


def segment_columns(schema: LogSchema) -> list[str]:
    """The declared segment columns of a model (role ``segment``), usable as a segment filter."""
    return [c.name for c in schema.segments]


def _utc(value: Any, what: str) -> datetime | None:
    """``value`` as a naive UTC time, or :class:`InvalidInputError` saying what to give instead."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        kind = "a day" if isinstance(value, date) else type(value).__name__
        raise InvalidInputError(f"the window's {what} is {kind} ({value!r}): give a date and time "
                                f"(datetime, UTC), e.g. datetime(2026, 5, 1)")
    if value.tzinfo is not None:
        offset = value.utcoffset()
        if offset != timedelta(0):
            raise InvalidInputError(f"the window's {what} {value.isoformat()} is not in UTC (offset {offset}): "
                                    "give it in UTC, e.g. value.astimezone(timezone.utc)")
        value = value.replace(tzinfo=None)
    return value


def _name(value: Any, what: str) -> str | None:
    """``value`` as a non-empty name, ``None`` when absent or empty (meaning "all")."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"the window's {what} must be text, not {type(value).__name__} ({value!r})")
    return value


@dataclass(frozen=True)
class Window:
    """The rows a reader looks at: predictions made in ``[start, end)`` of one version and one segment value.

    Validated when made; :class:`~analytics.errors.InvalidInputError` says what is wrong and what to do.

    Attributes
    ----------
    start, end : datetime, optional
        The window ``[start, end)``, naive UTC (an aware UTC time is made naive); ``None`` leaves
        that side open. ``start`` must be before ``end``.
    version : str, optional
        One model version; ``None`` (or empty) = all versions.
    segment : str, optional
        A segment column of the model; with it, only rows whose ``segment`` equals
        ``segment_value``. ``None`` (or empty) = all rows.
    segment_value : str, optional
        The segment's value (kept as text, compared with the column cast to text); required with
        ``segment``, refused without it.
    """

    start: datetime | None = None
    end: datetime | None = None
    version: str | None = None
    segment: str | None = None
    segment_value: str | None = None

    def __post_init__(self) -> None:
        start, end = _utc(self.start, "start"), _utc(self.end, "end")
        if start is not None and end is not None and not start < end:
            raise InvalidInputError(f"the window starts at {start.isoformat()} but ends at {end.isoformat()}: "
                                    "choose a start before the end")
        segment = _name(self.segment, "segment")
        value = None if self.segment_value is None else str(self.segment_value)
        if segment is not None and value is None:
            raise InvalidInputError(f"choose a value of the segment {segment!r}, or no segment for all rows")
        if segment is None and value is not None:
            raise InvalidInputError(f"the segment value {value!r} needs its segment column: name the segment, "
                                    "or drop the value for all rows")
        for name, checked in (("start", start), ("end", end), ("version", _name(self.version, "version")),
                              ("segment", segment), ("segment_value", value)):
            object.__setattr__(self, name, checked)

    @classmethod
    def of_model(cls, db: DbLike, model: str, *, start: datetime | None = None, end: datetime | None = None,
                 version: str | None = None, segment: str | None = None,
                 segment_value: str | None = None) -> Window:
        """A window on ``model``'s log, checked against the registry as well.

        Parameters
        ----------
        db : path or connection
            The store.
        model : str
            A registered model.
        start, end, version, segment, segment_value
            As the attributes of :class:`Window`.

        Returns
        -------
        Window
            The validated window.

        Raises
        ------
        InvalidInputError
            Any check of :class:`Window` fails, the version is not registered for the model, or the
            segment is not one of its declared segment columns.
        NotFoundError
            The model is not registered.
        """
        window = cls(start, end, version, segment, segment_value)

        def work(con: duckdb.DuckDBPyConnection) -> Window:
            info = get_model(con, model)
            versions = [r[0] for r in con.execute(
                "SELECT version FROM model_versions WHERE model_name = ? ORDER BY created_at, version",
                [model]).fetchall()]
            return window.checked(info, versions)

        return run(db, work)

    def checked(self, info: ModelInfo, versions: Collection[str]) -> Window:
        """This window, once its version is among ``versions`` and its segment declared by ``info``'s schema.

        Raises
        ------
        InvalidInputError
            Saying which versions or segment columns the model has.
        """
        if self.version is not None and self.version not in versions:
            raise InvalidInputError(f"version {self.version!r} is not registered for {info.name!r}; its versions: "
                                    f"{', '.join(versions) or 'none yet'}")
        self._check_segment(info.schema)
        return self

    def _check_segment(self, schema: LogSchema) -> None:
        if self.segment is not None and self.segment not in segment_columns(schema):
            raise InvalidInputError(
                f"{self.segment!r} is not a segment column of this model; segment columns: "
                f"{', '.join(segment_columns(schema)) or 'none declared'}")

    @property
    def filtered(self) -> bool:
        """Whether the window keeps one version or one segment value (not every row of its time span)."""
        return self.version is not None or self.segment is not None

    def where(self, schema: LogSchema, alias: str = "p") -> SqlFilter:
        """The window as a parameterised condition on the prediction view aliased ``alias``.

        Parameters
        ----------
        schema : LogSchema
            The model's log schema (the segment must be one of its segment columns).
        alias : str
            The alias of the prediction view in the query.

        Returns
        -------
        SqlFilter
            ``TRUE`` with no parameters for an unfiltered, unbounded window.
        """
        self._check_segment(schema)
        bounds = time_bounds(f"{alias}.predicted_at", self.start, self.end)
        clauses, params = ([bounds.sql] if bounds.params else []), list(bounds.params)
        if self.version is not None:
            clauses.append(f"{alias}.model_version = ?")
            params.append(self.version)
        if self.segment is not None:
            clauses.append(f"CAST({alias}.{quote(self.segment)} AS VARCHAR) = ?")
            params.append(self.segment_value)
        return SqlFilter(" AND ".join(clauses) if clauses else "TRUE", params)

    def previous(self, now: datetime) -> Window | None:
        """The window of equal length just before this one, same version and segment (``None`` when unbounded).

        An open ``end`` stands for ``now``.
        """
        before = previous_window(self.start, self.end, now)
        return None if before is None else replace(self, start=before[0], end=before[1])

    def between(self, start: datetime | None, end: datetime | None) -> Window:
        """The same version and segment over ``[start, end)``."""
        return replace(self, start=start, end=end)

    def all_rows(self) -> Window:
        """The same time span and version, every row (no segment filter)."""
        return replace(self, segment=None, segment_value=None)

    def require_no_filter(self, reader: str, *, version_allowed: bool = False) -> Window:
        """This window, once it names no segment (and, unless ``version_allowed``, no version).

        For readers that cannot honour that part of a window (fairness reads every row of a version;
        a comparison of two versions names them itself): a filter they would silently ignore is refused.

        Parameters
        ----------
        reader : str
            What reads the window, in words (``"the fairness assessment"``), for the message.
        version_allowed : bool
            Whether the reader takes the window's version.

        Raises
        ------
        InvalidInputError
            Saying which part of the window the reader cannot apply and what to do.
        """
        if self.segment is not None:
            raise InvalidInputError(f"{reader} reads every row, not one segment: drop the segment filter "
                                    f"({self.segment} = {self.segment_value})")
        if self.version is not None and not version_allowed:
            raise InvalidInputError(f"{reader} names its versions itself: drop the window's version "
                                    f"({self.version})")
        return self
