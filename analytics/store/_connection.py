"""Opening the DuckDB store for one unit of work, with bounded back-off on lock conflicts.

DuckDB lets one process hold a database file for writing, and while it does no other process may
open the file at all. Vigil's processes (the app, ``vigil ingest``, ``vigil monitor``) therefore hold
the file only for one unit of work and retry a conflicting open with exponential back-off and
jitter, up to ``VIGIL_LOCK_TIMEOUT`` seconds, instead of showing a lock error to the user.

Within one process (the app serves every session from threads of one process), connections to a
file share one DuckDB database, where two write transactions may race: both read the last audit
sequence number and one then fails on the primary key. :func:`write` therefore runs one write
transaction per store at a time in a process.

Opening the file is not free: DuckDB creates a database instance (registering its built-in functions)
and reads the catalog and its statistics, ~35-45 ms of CPU, while a connection to an instance the process
already has open costs ~0.3 ms. A unit of work therefore leaves the instance open for
:data:`LINGER_SECONDS` after it ends, for the next unit of this process (another process waits that much
longer for the file); a sequence that belongs together (one run of an app page, the demo build) runs
inside :func:`held`, which keeps it open for the whole sequence. Each unit still gets its own connection
and transaction, and what a write committed is checkpointed into the file when the last unit or block
lets go, so that the file alone is always the committed state, as if the instance had been closed.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

from analytics import audit, audit_anchor, config
from analytics.errors import NotFoundError, PermissionDeniedError, StoreBusyError
from analytics.store._fresh import create_new, finish_new
from analytics.store._migrations import ensure_schema, require_schema, schema_version
from analytics.store._segments import bind_store_folder

T = TypeVar("T")

#: Where a unit of work runs: a store path (``None`` = the configured store) or an open connection.
DbLike = str | Path | duckdb.DuckDBPyConnection | None

_LOCK_MESSAGES = ("could not set lock", "conflicting lock", "database is locked")
_CONFLICT_MESSAGES = ("write-write conflict", "conflict on", "transactioncontext error")


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and any(m in str(exc).lower() for m in _LOCK_MESSAGES)


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) or any(
        m in str(exc).lower() for m in _CONFLICT_MESSAGES
    )


def retry(action: Callable[[], T], *, is_transient: Callable[[BaseException], bool], what: str,
          timeout: float | None = None) -> T:
    """Run ``action`` until it succeeds, retrying transient failures with bounded back-off.

    Parameters
    ----------
    action : callable
        The work to attempt.
    is_transient : callable
        Predicate telling whether an exception is worth another try.
    what : str
        What is being attempted, for the error message.
    timeout : float, optional
        Total seconds to keep trying; defaults to :func:`analytics.config.lock_timeout_seconds`.

    Raises
    ------
    StoreBusyError
        When the failures persist past ``timeout``.
    """
    limit = config.lock_timeout_seconds() if timeout is None else timeout
    deadline = time.monotonic() + limit
    delay = 0.01
    while True:
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - filtered by is_transient
            if not is_transient(exc):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreBusyError(
                    f"{what}: the store is busy (another Vigil process is using it) and stayed busy "
                    f"for {limit:g} s. Try again in a moment; if it persists, "
                    f"check for a long-running 'vigil ingest'. Detail: {exc}"
                ) from exc
            # The last wait ends at the deadline, so the whole timeout is used before giving up.
            time.sleep(min(delay * (0.5 + random.random()), remaining))
            delay = min(delay * 2, 0.5)


def _waiting_mark(path: Path) -> Path:
    return path.with_name(f"{path.name}.waiting")


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = config.cap_threads(duckdb.connect(str(path)))
    except duckdb.Error as exc:
        if _is_lock_error(exc):
            # Tell the process that has the file that someone waits: it then closes the instance after each
            # unit of work instead of keeping it for the next (see _let_go).
            with suppress(OSError):
                _waiting_mark(path).touch()
        raise
    try:
        con.execute("SET TimeZone = 'UTC'")
        # Log segments are immutable files: their footers are read once per connection, not once per query.
        con.execute("SET parquet_metadata_cache = true")
        # The views name segments relative to the store's folder: this file's folder, wherever it now is.
        bind_store_folder(con)
    except Exception:
        con.close()
        raise
    return con


#: Seconds a store's DuckDB instance stays open after the last unit of work of this process ended, for the
#: next unit to reuse. Opening the file costs ~35-45 ms of CPU (DuckDB registers its functions and reads the
#: catalog and its statistics); a connection to an open instance ~0.3 ms. Another process that finds the file
#: locked marks that it waits (a ``<store>.waiting`` file beside it); while the mark is fresh
#: (:data:`WAITING_SECONDS`), units of work close the instance when they end, as without lingering, so a
#: process that works without pause never keeps the others out.
LINGER_SECONDS = 0.25
WAITING_SECONDS = 2.0


@dataclass
class _Hold:
    """A store instance this process keeps open: its root connection, the file it opened (device and inode),
    how many blocks hold it now, whether a unit of work has found its schema current (it cannot change while
    held: no other process can write), whether a write committed since the last checkpoint, and the timer
    that closes it once nobody holds it."""

    root: duckdb.DuckDBPyConnection
    identity: tuple[int, int]
    holders: int = 1
    current: bool = False
    written: bool = False
    closing: threading.Timer | None = None


_held: dict[str, _Hold] = {}
_held_guard = threading.Lock()


def _key(path: Path) -> str:
    return str(path.resolve())


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


def _close(key: str, hold: _Hold) -> None:
    """Close a held instance (the caller has the guard)."""
    del _held[key]
    if hold.closing is not None:
        hold.closing.cancel()
    hold.root.close()


def _acquire(target: Path) -> str | None:
    """Hold the store's instance (opening it if this process has none): the key to let go of, or None when
    there is no file or another process has it (then each unit of work opens the file as usual)."""
    identity = _identity(target)
    if identity is None:
        return None
    key = _key(target)
    with _held_guard:
        hold = _held.get(key)
        if hold is not None and hold.identity != identity:
            if hold.holders:
                return None  # the file was replaced under a running unit of work: no reuse until it ends
            _close(key, hold)  # the file was replaced or moved: that instance belongs to the old one
            hold = None
        if hold is not None:
            hold.holders += 1
            if hold.closing is not None:
                hold.closing.cancel()
                hold.closing = None
            return key
        try:
            _held[key] = _Hold(_open(target), identity)
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise
            return None
    return key


def _close_if_idle(key: str, hold: _Hold | None = None) -> None:
    """Close the instance held under ``key`` (if given, only when it is still ``hold``) unless a unit of work uses it."""
    with _held_guard:
        current = _held.get(key)
        if current is not None and (hold is None or current is hold) and not current.holders:
            _close(key, current)


def _let_go(key: str) -> None:
    with _held_guard:
        hold = _held[key]
        hold.holders -= 1
        if hold.holders:
            return
        if hold.written:
            # What was committed goes into the file itself now, as closing the instance would do: while the
            # instance lingers, the file alone is the committed state (no write-ahead log to go with it).
            try:
                hold.root.execute("CHECKPOINT")
                hold.written = False
            except duckdb.Error:  # a transaction of this process still runs: the close checkpoints
                pass
        if LINGER_SECONDS <= 0 or _someone_waits(Path(key)):
            _close(key, hold)
            return
        hold.closing = threading.Timer(LINGER_SECONDS, _close_if_idle, (key, hold))
        hold.closing.daemon = True
        hold.closing.start()


def _someone_waits(path: Path) -> bool:
    """Whether another process found the store locked in the last :data:`WAITING_SECONDS`."""
    try:
        return time.time() - _waiting_mark(path).stat().st_mtime < WAITING_SECONDS
    except OSError:
        return False


def _note_write(target: Path) -> None:
    """A write committed on the store: checkpoint it when the last holder lets go."""
    with _held_guard:
        hold = _held.get(_key(target))
        if hold is not None:
            hold.written = True


def release(path: str | Path | None = None) -> None:
    """Close this process's instance of the store now, unless a unit of work of this process uses it now.

    Units of work keep the instance open for :data:`LINGER_SECONDS` after they end; call this before the
    file is copied, moved or replaced by other means than Vigil's own (``exclusive`` does it itself).
    """
    _close_if_idle(_key(Path(path) if path is not None else config.db_path()))


def _close_all() -> None:
    with _held_guard:
        for key, hold in list(_held.items()):
            _close(key, hold)


def _forget_inherited() -> None:
    """In a child made by fork: the parent's instances are not this process's to use or close."""
    _inherited.extend(_held.values())
    _held.clear()


_inherited: list[_Hold] = []
atexit.register(_close_all)
os.register_at_fork(after_in_child=_forget_inherited)


@contextmanager
def held(path: str | Path | None = None) -> Iterator[None]:
    """Keep the store's DuckDB instance open in this process for the block (nested and concurrent holds share it).

    Every unit of work (:func:`read`, :func:`write`, :func:`connect`, from any thread) holds the instance
    for itself and leaves it open for :data:`LINGER_SECONDS` after, so a unit that follows soon opens a
    connection to it instead of opening the file; a block keeps it open for a longer sequence (one run of
    an app page, the demo build). The price is that the file stays locked against other processes for the
    whole block: hold it for a sequence that belongs together and ends soon, never for a loop that waits
    on something else.

    Holding is an optimisation only: when there is no file at the path, or another process holds it,
    the block runs without the hold and every unit of work opens the file (and waits its turn) as usual.
    Nothing is created or upgraded here; each unit of work still does that.

    Parameters
    ----------
    path : str or Path, optional
        The DuckDB file; defaults to :func:`analytics.config.db_path`.
    """
    target = Path(path) if path is not None else config.db_path()
    key = _acquire(target)
    try:
        yield
    finally:
        if key is not None:
            _let_go(key)


@contextmanager
def connect(path: str | Path | None = None, *, upgrade: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store for one unit of work, upgraded to the current schema, and close it after.

    Parameters
    ----------
    path : str or Path, optional
        The DuckDB file; defaults to :func:`analytics.config.db_path`.
    upgrade : bool, default True
        Create a missing store and upgrade an older one in place; False (a reader) refuses both
        instead, saying to run ``vigil init`` (:func:`analytics.store._migrations.require_schema`).

    Yields
    ------
    duckdb.DuckDBPyConnection
        A connection with the session time zone set to UTC.

    Raises
    ------
    NotFoundError
        When ``upgrade`` is False and there is no file at the path.
    StoreBusyError
        When another process held the file for longer than ``VIGIL_LOCK_TIMEOUT``.
    StoreVersionError
        When the file was written by a newer Vigil.
    """
    target = Path(path) if path is not None else config.db_path()
    if not upgrade and not target.exists():
        raise NotFoundError(f"there is no store at {target}: a read does not create one. Create it with "
                            f"'vigil --db {target} init' (an empty store) or 'vigil --db {target} demo' "
                            "('make run' builds the demo and serves the app), or point VIGIL_DB at an existing store")
    created = not target.exists() and create_new(target)
    key = _acquire(target)
    try:
        con = retry(lambda: _open(target), is_transient=_is_lock_error, what=f"opening {target}")
        try:
            if created:
                finish_new(con, target)
            hold = _held.get(key) if key is not None else None
            if hold is None or not hold.current:
                migrated = False
                if upgrade:
                    migrated = ensure_schema(con)
                else:
                    require_schema(con)
                if hold is not None:
                    hold.current = True
                    hold.written = hold.written or created or migrated  # checkpointed at let-go too
            yield con
        finally:
            con.close()
    finally:
        if key is not None:
            _let_go(key)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction: everything in it lands, or nothing does."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(path: str | Path | None) -> threading.RLock:
    """The lock that serialises this process's write transactions on one store file."""
    key = str(Path(path if path is not None else config.db_path()).resolve())
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.RLock())


def write(work: Callable[[duckdb.DuckDBPyConnection], T], path: str | Path | None = None) -> T:
    """Open the store, run ``work(con)`` in one transaction, close; retry on lock or write conflicts.

    ``work`` may run more than once, so it must not have side effects outside the store. Write
    transactions of one process on one store run one at a time (other threads wait their turn).
    After the commit, with the store still held, the audit trail's new head (if any) is appended to
    the anchor file beside the store (:mod:`analytics.audit_anchor`). A permission denial or a
    four-eyes refusal raised by ``work`` is rolled back, then recorded in the audit trail in a
    transaction of its own (rate-limited, :func:`analytics.audit.record_refusal`), and re-raised.
    """
    lock = _write_lock(path)
    target = Path(path) if path is not None else config.db_path()

    def attempt() -> T:
        with lock, connect(target) as con:
            try:
                with transaction(con):
                    result = work(con)
            except PermissionDeniedError as exc:
                if exc.refused is not None:
                    with transaction(con):
                        audit.record_refusal(con, exc.refused, str(exc))
                    audit_anchor.anchor_head(con, target)
                raise
            audit_anchor.anchor_head(con, target)
            _note_write(target)
            return result

    return retry(attempt, is_transient=lambda e: _is_lock_error(e) or _is_conflict(e), what="writing to the store")


@contextmanager
def exclusive(path: str | Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Hold the store so that nobody writes it, with everything committed checkpointed into its file.

    Takes this process's write lock and opens the file (DuckDB's lock keeps every other process out;
    they wait and retry as for any unit of work), then checkpoints: inside the block the file on disk
    is one committed state with no write-ahead log, and stays so. For copying or swapping the file
    (``vigil backup`` / ``vigil restore``); keep the block short.

    Yields
    ------
    duckdb.DuckDBPyConnection
        The connection holding the store (read from it; do not write).
    """
    try:
        with _write_lock(path), connect(path) as con:
            con.execute("CHECKPOINT")
            yield con
    finally:
        release(path)  # the file may have been copied or swapped: no instance of it lingers


def create(path: str | Path) -> int:
    """Create the store at ``path`` (and its folder) at the current schema, or upgrade an existing one.

    Only ``vigil init`` and ``vigil demo`` create a store; the other commands refuse a missing one
    (see :func:`analytics.cli_support.store_path`).

    Returns
    -------
    int
        The store's schema version.
    """
    with connect(path) as con:
        return schema_version(con)


def read(work: Callable[[duckdb.DuckDBPyConnection], T], path: str | Path | None = None) -> T:
    """Open the store, run ``work(con)``, close. Lock conflicts are retried by :func:`connect`.

    A reader never creates or upgrades the store: a missing store is refused with a
    :class:`~analytics.errors.NotFoundError`, one that lacks a migration of this Vigil with a
    :class:`~analytics.errors.StoreVersionError`, each saying to run ``vigil init`` (a write upgrades
    a store too).
    """
    with connect(path, upgrade=False) as con:
        return work(con)


def run(db: DbLike, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run one unit of reading work on the store, whichever way the caller holds it.

    Parameters
    ----------
    db : str, Path, DuckDBPyConnection or None
        An open connection (``work`` runs on it, inside whatever transaction the caller holds), or
        the path of a store (``None``: the configured one), opened with :func:`read` for this unit
        of work (lock conflicts retried, the file released afterwards).
    work : callable
        ``work(con)``: the queries to run.

    Returns
    -------
    object
        What ``work`` returns.
    """
    if isinstance(db, duckdb.DuckDBPyConnection):
        return work(db)
    return read(work, db)


def data_version(db: DbLike = None) -> str:
    """A token that changes whenever the data or the governance state behind a page changes.

    It combines the highest committed ingest id with the highest audit sequence number of
    non-sign-in actions (registrations, approvals, deployments, role changes ...), so a cache keyed
    on it refreshes after an ingest or a lifecycle change but not after every sign-in.

    Parameters
    ----------
    db : str, Path, DuckDBPyConnection or None
        The store (see :func:`run`).

    Returns
    -------
    str
        ``i<ingest id>-a<audit sequence number>``.
    """

    def work(con: duckdb.DuckDBPyConnection) -> str:
        ingest = con.execute("SELECT coalesce(max(ingest_id), 0) FROM ingests WHERE status = 'committed'").fetchone()[0]
        seq = con.execute(
            "SELECT coalesce(max(seq), 0) FROM audit_log WHERE NOT starts_with(action, 'auth.')").fetchone()[0]
        return f"i{ingest}-a{seq}"

    return run(db, work)


def copy_store(db: Path, folder: Path) -> Path:
    """Copy a store's folder (the file, its log segments, artifacts beside it) into ``folder``; return the copy.

    For a store nobody is writing (tests, fixtures): a live store is copied with ``vigil backup``. The
    copy reads its own segments (the views are relative to the store), so it is independent of the
    original: writing to it (a sign-in audits) never touches the source.
    """
    release(db)  # no instance of this process lingers on the file while it is copied
    shutil.copytree(Path(db).parent, folder)
    return Path(folder) / Path(db).name
