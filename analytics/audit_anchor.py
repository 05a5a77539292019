"""The audit trail's head, anchored outside the store in an append-only file beside it.

After every write transaction that added audit rows, the new head (last sequence number and its row
hash) is appended, fsync'd, to ``<store>.anchor`` (``data/vigil.duckdb.anchor``), one line each::

    <seq> TAB <row_hash> TAB <anchored_at ISO UTC> TAB <HMAC of the three with the audit key>

Someone who deletes the last rows of the trail leaves an anchored head the store no longer holds, so
the truncation is found. The file is append-only by convention (``chattr +a`` makes it so on Linux);
:func:`export` copies it for keeping somewhere the store's writers cannot reach (a truncated anchor
file is then found against the copy). This module imports nothing from the store package, which calls
:func:`anchor_head` after each commit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from analytics import audit_key
from analytics.clock import utc_now
from analytics.errors import InvalidInputError

#: The head of an empty trail (the genesis hash of :mod:`analytics.audit`).
EMPTY_HEAD = (0, "0" * 64)
_PURPOSE = "anchor"


@dataclass(frozen=True)
class AnchorLine:
    """One anchored head: the trail held rows 1..``seq`` and row ``seq`` had hash ``row_hash``."""

    line_no: int
    seq: int
    row_hash: str
    anchored_at: str
    mac: str

    @property
    def signed_text(self) -> str:
        return f"{self.seq}\t{self.row_hash}\t{self.anchored_at}"


def anchor_path(db: str | Path) -> Path:
    """The anchor file of a store: its path with ``.anchor`` appended (``vigil.duckdb.anchor``)."""
    db = Path(db)
    return db.with_name(db.name + ".anchor")


def database_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file of the open store, or None for an in-memory database."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return Path(row[0]) if row and row[0] else None


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """The trail's last (sequence number, row hash), or :data:`EMPTY_HEAD`."""
    row = con.execute("SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else EMPTY_HEAD


def _last_line(path: Path) -> tuple[int, str] | None:
    """(seq, row_hash) of the file's last complete line, reading only its tail."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            lines = handle.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        parts = line.split("\t")
        if len(parts) == 4 and parts[0].isdigit():
            return int(parts[0]), parts[1]
    return None


def append(db: str | Path, seq: int, row_hash: str, *, create: bool = False) -> bool:
    """Append one head to the store's anchor file (fsync'd) unless it is already its last line.

    Parameters
    ----------
    db : str or Path
        The store.
    seq, row_hash : int, str
        The head.
    create : bool
        Start the file if it does not exist. Only a store's creation or upgrade (migration 14) and
        ``vigil audit anchor restart`` start one: a write never silently re-creates a deleted anchor,
        whose absence ``vigil audit verify`` reports.

    Returns
    -------
    bool
        True when a line was written.
    """
    path = anchor_path(db)
    if not create and not path.exists():
        return False
    if _last_line(path) == (seq, row_hash):
        return False
    key = audit_key.load_or_create()
    at = utc_now().isoformat(timespec="microseconds") + "Z"
    text = f"{seq}\t{row_hash}\t{at}"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{text}\t{key.sign(_PURPOSE, text)}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def anchor_head(con: duckdb.DuckDBPyConnection, db: str | Path, *, create: bool = False) -> bool:
    """Anchor the store's current head; called with the store still open, right after a commit (so
    writers of other processes, which wait for the file, anchor in commit order)."""
    seq, row_hash = head(con)
    return append(db, seq, row_hash, create=create)


def read(path: str | Path) -> list[AnchorLine]:
    """The lines of an anchor file (or of an export of one), in order.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    InvalidInputError
        When a line is not an anchor line.
    """
    out = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 4 or not parts[0].isdigit():
            raise InvalidInputError(f"{path} line {number} is not an anchor line (seq, hash, time, code "
                                    "separated by tabs); was the file edited?")
        out.append(AnchorLine(number, int(parts[0]), parts[1], parts[2], parts[3]))
    return out


def authentic(line: AnchorLine, key: audit_key.AuditKey) -> bool:
    """Whether the line's code was made with ``key``."""
    return key.check(_PURPOSE, line.signed_text, line.mac)


def export(db: str | Path, destination: str | Path) -> int:
    """Copy the store's anchor file to ``destination`` (keep it where the store's writers cannot write);
    ``vigil audit verify --anchor`` checks the store against it later. Returns the lines copied.

    Raises
    ------
    InvalidInputError
        When the store has no anchor file yet.
    """
    source = anchor_path(db)
    if not source.is_file():
        raise InvalidInputError(f"{source} does not exist: the store has not been written since anchoring "
                                "began; run 'vigil init' once to anchor its current head")
    text = source.read_text()
    Path(destination).write_text(text)
    return sum(1 for line in text.splitlines() if line.strip())
