"""What every ``vigil`` command shares: exit codes, the store it works on, checked numbers, strict JSON.

Exit codes (documented in the README):

- 0: success (no drift, when a gate was asked for);
- 1: an error or rejected input, or a gate that failed (``--fail-on-drift`` found drift);
- 2: wrong usage (a missing or malformed argument);
- 3: an ingest landed but some rows were quarantined;
- 4: a gate could not be judged (no rows, a column without a value), unless ``--allow-not-computable``;
- 141: the reader of the output went away (``vigil audit export | head``), as a shell reports SIGPIPE.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Any

from analytics import config
from analytics.input_files import check_store_file
from analytics.errors import NotFoundError, VigilError
from analytics.timebounds import FIRST_DAY, LAST_DAY, day_in_range

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_NOT_COMPUTABLE, EXIT_BROKEN_PIPE = 0, 1, 2, 3, 4, 141


class UsageError(VigilError):
    """The command was called wrongly (a missing or contradictory argument): exit code 2."""


def store_path(args: argparse.Namespace, *, must_exist: bool = True) -> Path:
    """The store named by ``--db``, else ``VIGIL_DB``, else ``data/vigil.duckdb``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line (``args.db`` may be None).
    must_exist : bool, default True
        Refuse a store that does not exist: only ``vigil init`` and ``vigil demo`` create one, so a
        mistyped ``--db`` never leaves an empty store behind.

    Raises
    ------
    NotFoundError
        When ``must_exist`` and there is no store file at the path.
    InvalidInputError
        When the path is a directory.
    """
    path = Path(args.db) if getattr(args, "db", None) else config.db_path()
    if path.is_dir():
        raise UsageError(f"--db {path} is a directory; name a store file (for example {path / 'vigil.duckdb'})")
    check_store_file(path)
    if must_exist and not path.exists():
        raise NotFoundError(f"there is no store at {path}: check --db (or VIGIL_DB), or create one with "
                            f"'vigil --db {path} init' (an empty store) or 'vigil --db {path} demo'")
    return path


def _number(text: str, convert: Callable[[str], Any], kind: str) -> Any:
    try:
        value = convert(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _integer(text: str) -> int:
    text = text.strip()
    if not text.lstrip("+-").isdigit():
        raise ValueError(text)
    return int(text)


def checked_int(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number within ``[minimum, maximum]`` (``1e9`` and ``-1`` are refused when out of range)."""
    def parse(text: str) -> int:
        value = _number(text, _integer, "a whole number")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {_range(minimum, maximum)}")
        return value

    parse.__name__ = "whole number"
    parse.checked = True  # type: ignore[attr-defined]
    return parse


def checked_float(minimum: float | None = None, maximum: float | None = None) -> Callable[[str], float]:
    """An argparse type: a finite number within ``[minimum, maximum]`` (``inf`` and ``nan`` are refused)."""
    def parse(text: str) -> float:
        value = _number(text, float, "a number")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{value:g} is out of range: use {_range(minimum, maximum)}")
        return value

    parse.__name__ = "number"
    parse.checked = True  # type: ignore[attr-defined]
    return parse


def checked_time(text: str) -> datetime:
    """An argparse type: a UTC date or time, ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (naive, read as UTC), on a day from
    :data:`~analytics.timebounds.FIRST_DAY` to ``LAST_DAY``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM, "
                                         "UTC)") from None
    if not day_in_range(value):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: use a day from {FIRST_DAY} to {LAST_DAY}")
    return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)


checked_time.__name__ = "UTC date or time"


def _range(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"a value from {minimum} to {maximum}"
    return f"a value of at least {minimum}" if minimum is not None else f"a value of at most {maximum}"


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready Python data: NumPy and pandas scalars unwrapped, NaN and infinities as None."""
    if value.__class__.__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # NumPy scalars and arrays
        return _plain(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def records(frame) -> list[dict]:
    """The rows of a DataFrame as JSON-ready dicts, every number at full precision."""
    return [_plain(row) for row in frame.to_dict("records")]


def write_json(data: Any, stream: IO[str] | None = None) -> None:
    """Write ``data`` as JSON for machines: floats at full precision (never rounded), NaN and infinities as null.

    The output is strict JSON (``allow_nan=False``): a reader never meets ``NaN`` or ``Infinity``.
    """
    out = sys.stdout if stream is None else stream
    json.dump(_plain(data), out, indent=2, allow_nan=False)
    out.write("\n")


def checked_day(text: str) -> date:
    """An argparse type: a day ``YYYY-MM-DD`` from :data:`~analytics.timebounds.FIRST_DAY` to ``LAST_DAY``."""
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None
    if not day_in_range(value):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: use a day from {FIRST_DAY} to {LAST_DAY}")
    return value


checked_day.__name__ = "day"
