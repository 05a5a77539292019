"""Files a user hands to Vigil or asks it to write, checked so that a bad one gets a message, not a traceback.

Each helper raises :class:`~analytics.errors.InvalidInputError` naming the file, what is wrong with it
and what to do: a missing file, a folder where a file was meant, text that is not UTF-8, JSON that does
not parse, a table file that is not Parquet or CSV, a CSV whose header line is absurdly long, an output
path inside a folder that does not exist, a ``--db`` that is not a DuckDB store.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

#: A CSV header line longer than this is refused before parsing (DuckDB's own limit of a line is 2 MB).
MAX_HEADER_BYTES = 1_000_000
#: A DuckDB database file holds these four bytes at offset 8.
_DUCKDB_MAGIC = b"DUCK"


def existing_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path, refused unless it names an existing file (not a folder)."""
    target = Path(path)
    if target.is_dir():
        raise InvalidInputError(f"{what} {target} is a folder; name a file")
    if not target.is_file():
        raise InvalidInputError(f"{what} {target} does not exist; check the path")
    return target


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of the file ``what`` (for example "KPI definition file").

    Raises
    ------
    InvalidInputError
        When the file is missing, a folder, unreadable or not UTF-8 text.
    """
    target = existing_file(path, what)
    try:
        return target.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{what} {target} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                "save it as UTF-8") from None
    except OSError as exc:
        raise InvalidInputError(f"{what} {target} cannot be read: {exc.strerror or exc}") from None


def read_json_object(path: str | Path, what: str) -> dict[str, Any]:
    """The JSON object (``{...}``) held by the file ``what``.

    Raises
    ------
    InvalidInputError
        When the file cannot be read, is not valid JSON (line and column named) or holds something
        other than one object.
    """
    text = read_text(path, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{what} {path} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
                                f"{exc.colno}") from None
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string"}.get(type(data), f"a {type(data).__name__}")
        raise InvalidInputError(f"{what} {path} holds {kind}; it must hold one JSON object ({{\"field\": value, ...}})")
    return data


def check_csv_header(path: Path) -> None:
    """Refuse a CSV file whose first line is longer than :data:`MAX_HEADER_BYTES` (not a real header)."""
    with open(path, "rb") as handle:
        head = handle.readline(MAX_HEADER_BYTES + 1)
    if len(head) > MAX_HEADER_BYTES and not head.endswith(b"\n"):
        raise InvalidInputError(f"the header line of {path.name} is longer than {MAX_HEADER_BYTES:,} bytes "
                                f"(about {head.count(b',') + 1:,} columns in its first {MAX_HEADER_BYTES:,} bytes): "
                                "it is not a CSV file with a header line; check the file or export it again")


def read_table(path: str | Path, what: str) -> pd.DataFrame:
    """A .parquet or .csv file as a DataFrame.

    Raises
    ------
    InvalidInputError
        When the file is missing, has another ending, a header line that is not one, or cannot be parsed.
    """
    target = existing_file(path, what)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InvalidInputError(f"{what} {target} is neither .parquet nor .csv; give a Parquet or CSV file")
    if suffix == ".csv":
        check_csv_header(target)
    import pandas as pd

    try:
        return pd.read_parquet(target) if suffix == ".parquet" else pd.read_csv(target, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{what} {target} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow and pandas raise many kinds for a broken file
        raise InvalidInputError(f"{what} {target} cannot be read as {suffix[1:].upper()}: "
                                f"{first_line(exc)} (is it truncated, or another format?)") from None


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, at most ``limit`` characters (DuckDB's run to pages)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def output_file(path: str | Path, what: str) -> Path:
    """``path`` checked as a file to write: not a folder, and in a folder that exists."""
    target = Path(path)
    if target.is_dir():
        raise InvalidInputError(f"{what} {target} is a folder; name a file (a new one, or one to replace)")
    if not target.parent.is_dir():
        raise InvalidInputError(f"cannot write {what} {target}: the folder {target.parent} does not exist; "
                                "create it first or name another path")
    return target


def check_store_file(path: Path) -> None:
    """Refuse an existing ``--db`` file that is not a DuckDB database (a typo naming another file)."""
    if not path.is_file():
        return
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[8:12] != _DUCKDB_MAGIC:
        raise InvalidInputError(f"{path} is not a Vigil store (not a DuckDB database file): check --db (or VIGIL_DB); "
                                f"'vigil --db NEW.duckdb init' creates a new store")


def os_error_text(exc: OSError) -> str:
    """A sentence for an operating-system error on a file: what happened to which file and what to do."""
    name = exc.filename or "a file the command reads or writes"
    advice = {
        errno.ENOENT: "it or its folder does not exist; check the path",
        errno.EISDIR: "it is a folder; name a file",
        errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
        errno.EACCES: "permission denied; choose a path you may use",
        errno.EPERM: "permission denied; choose a path you may use",
        errno.ENOSPC: "the disk is full; free some space",
        errno.EROFS: "the file system is read-only; choose another path",
    }.get(exc.errno, exc.strerror or str(exc))
    return f"cannot use {name}: {advice}"
