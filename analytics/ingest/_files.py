"""Ingesting many files at once, and following a landing folder where a serving system drops its logs.

:func:`ingest_files` takes a file, a directory (its ``.parquet``, ``.pq`` and ``.csv`` files, by name)
or a glob pattern, and ingests each file once: the table ``ingested_files`` records each file taken
(path, size, sha256, the ingest and its status), and a file whose content was already committed for
the model is skipped, under any name. :func:`watch` polls a folder and ingests each new file when its
size has stopped changing; it keeps no state of its own besides ``ingested_files``, so it may be
stopped and started again at any time. Files are only read, never moved or deleted.
"""

from __future__ import annotations

import glob
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from analytics import config
from analytics.clock import utc_now
from analytics.errors import InvalidInputError
from analytics.ingest._ingest import DEFAULT_BATCH_ROWS, IngestReport, Kind, OnError, ingest
from analytics.ingest._sources import SUPPORTED_SUFFIXES
from analytics.registry import get_model
from analytics.roles import Actor
from analytics.store import read, write


@dataclass(frozen=True)
class FilesReport:
    """What an ingest of several files did.

    Attributes
    ----------
    reports : list of IngestReport
        One per file ingested now, in order.
    skipped : list of str
        Files whose content was already taken for this model and kind.
    """

    model: str
    kind: str
    reports: list[IngestReport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def committed(self) -> int:
        """Files whose ingest committed."""
        return sum(r.status == "committed" for r in self.reports)

    @property
    def rejected(self) -> int:
        """Files whose ingest was rejected (nothing of them loaded)."""
        return sum(r.status != "committed" for r in self.reports)

    def total(self, attribute: str) -> int:
        """The sum of one row count (``rows_loaded``, ``rows_quarantined``, ...) over the files."""
        return sum(getattr(r, attribute) for r in self.reports)

    def summary(self) -> str:
        """One summary line for every file together, then each file's own summary."""
        head = (f"{len(self.reports) + len(self.skipped)} files of {self.kind} for {self.model}: {self.committed} "
                f"committed, {self.rejected} rejected, {len(self.skipped)} already taken; rows loaded "
                f"{self.total('rows_loaded'):,}, already stored {self.total('rows_duplicate'):,}, quarantined "
                f"{self.total('rows_quarantined'):,}, role disagreements {self.total('rows_role_mismatch'):,}")
        return "\n".join([head, *(r.summary() for r in self.reports), *(f"  skipped (already taken): {s}"
                                                                       for s in self.skipped)])


def resolve_paths(path: str | Path) -> list[Path]:
    """The data files ``path`` names: the file itself, a directory's supported files, or a glob's matches.

    Raises
    ------
    InvalidInputError
        When nothing matches.
    """
    text = str(path)
    target = Path(text)
    if target.is_file():
        return [target]
    if target.is_dir():
        found = sorted(p for p in target.iterdir() if _is_data_file(p))
        if not found:
            raise InvalidInputError(f"folder {text} holds no .parquet or .csv file")
        return found
    if glob.has_magic(text):
        found = sorted(Path(p) for p in glob.glob(text) if _is_data_file(Path(p)))
        if not found:
            raise InvalidInputError(f"no .parquet or .csv file matches {text}")
        return found
    raise InvalidInputError(f"{text} does not exist (give a file, a folder or a glob pattern such as 'logs/*.parquet')")


def _is_data_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith(".")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_files(model: str, path: str | Path, *, kind: Kind = "predictions", actor: Actor | None = None,
                 on_error: OnError = "reject", batch_rows: int = DEFAULT_BATCH_ROWS, db: str | Path | None = None,
                 retry_rejected: bool = True, progress: Callable[[int], None] | None = None) -> FilesReport:
    """Ingest every file ``path`` names (:func:`resolve_paths`), each once; one :class:`FilesReport`.

    A file whose content (sha256) was committed for ``model`` and ``kind`` before is skipped; with
    ``retry_rejected`` False, so is one whose ingest was rejected (the watch does not retry a file that
    cannot pass until it changes). Each file is its own ingest: one rejected file leaves the others.
    """
    target = Path(db) if db is not None else config.db_path()
    read(lambda con: get_model(con, model), target)
    report = FilesReport(model, kind)
    for file in resolve_paths(path):
        _take(model, file, _sha256(file), kind=kind, actor=actor, on_error=on_error, batch_rows=batch_rows,
              db=target, retry_rejected=retry_rejected, report=report, progress=progress)
    return report


def _take(model: str, file: Path, sha256: str, *, kind: Kind, actor: Actor | None, on_error: OnError,
          batch_rows: int, db: Path, retry_rejected: bool, report: FilesReport,
          progress: Callable[[int], None] | None = None) -> None:
    statuses = ("committed",) if retry_rejected else ("committed", "rejected")
    taken = read(lambda con: con.execute(
        "SELECT status FROM ingested_files WHERE model_name = ? AND kind = ? AND sha256 = ?",
        [model, kind, sha256]).fetchone(), db)
    if taken is not None and taken[0] in statuses:
        report.skipped.append(str(file))
        return
    size = file.stat().st_size
    try:
        result = ingest(model, file, kind=kind, actor=actor, on_error=on_error, batch_rows=batch_rows, db=db,
                        progress=progress)
    except InvalidInputError as exc:  # the whole file refused (header, encoding): recorded, the others go on
        result = IngestReport(-1, model, kind, str(file), status="rejected", message=str(exc))
    write(lambda con: con.execute(
        "INSERT OR REPLACE INTO ingested_files (model_name, kind, path, bytes, sha256, ingest_id, status, taken_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [model, kind, str(file.resolve()), size, sha256, None if result.ingest_id < 0 else result.ingest_id,
         result.status, utc_now()]), db)
    report.reports.append(result)


def watch(model: str, folder: str | Path, *, kind: Kind = "predictions", actor: Actor | None = None,
          on_error: OnError = "reject", db: str | Path | None = None, interval: float = 5.0,
          keep_going: Callable[[], bool] = lambda: True,
          on_file: Callable[[IngestReport], None] | None = None) -> FilesReport:
    """Follow a landing folder: ingest each new data file once its size is unchanged over one poll.

    Restart-safe: what was taken is read from ``ingested_files`` (by content), so a restarted watch
    takes only files it has not taken, and a file is never taken twice. Files are never moved or
    deleted. Polls every ``interval`` seconds while ``keep_going()`` is true, calling ``on_file``
    with each file's report; a file being taken when ``keep_going()`` turns false is finished and
    reported first.
    """
    source = Path(folder)
    if not source.is_dir():
        raise InvalidInputError(f"{folder} is not a folder; --watch follows a folder where new files arrive")
    target = Path(db) if db is not None else config.db_path()
    read(lambda con: get_model(con, model), target)
    report = FilesReport(model, kind)
    last_seen: dict[Path, tuple[int, int]] = {}
    hashed: dict[tuple[Path, int, int], str] = {}
    while keep_going():
        for file in sorted(p for p in source.iterdir() if _is_data_file(p)):
            if not keep_going():
                break
            stat = file.stat()
            signature = (stat.st_size, stat.st_mtime_ns)
            settled = last_seen.get(file) == signature
            last_seen[file] = signature
            if not settled or (file, *signature) in hashed:
                continue
            hashed[(file, *signature)] = sha = _sha256(file)
            before = len(report.reports)
            _take(model, file, sha, kind=kind, actor=actor, on_error=on_error, batch_rows=DEFAULT_BATCH_ROWS,
                  db=target, retry_rejected=False, report=report)
            if on_file is not None and len(report.reports) > before:
                on_file(report.reports[-1])
        _pause(interval, keep_going)
    return report


def _pause(seconds: float, keep_going: Callable[[], bool]) -> None:
    """Sleep ``seconds`` in short slices, returning early once ``keep_going()`` turns false."""
    deadline = time.monotonic() + seconds
    while keep_going() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))
