"""Consistent backups of a live store, and restoring them: ``vigil backup DEST`` / ``vigil restore SRC``.

A store is more than its DuckDB file. A backup copies, into a folder laid out like a store's own:

- the store file (``vigil.duckdb``), checkpointed and copied while the store is held exclusively
  (:func:`analytics.store.exclusive`: no other process can open it, no write of this process runs),
  so it is one committed state, with no write-ahead log;
- the audit anchor file beside it (``vigil.duckdb.anchor``), copied under the same hold, so the copied
  trail and its anchored head agree;
- the log segments that copied state names (``vigil.logs/<model>/*.parquet``): committed segments are
  never changed, so they are copied after the hold is released, while ingests carry on (an ingest's
  new segments are not named by the copy and are not copied);
- the model artifacts registered in it, where they sit beside the store
  (``artifacts/models/<model>/<file>``);
- ``vigil-backup.json``, the manifest, written last: every file's size and sha256. A folder without it
  is not a finished backup.

Never copied: the audit key (kept apart from the store on purpose; back it up separately), the
ingest lock file, unfinished segments (``*.part``) and files no view names, other stores in the same
folder, demo credentials.

Because the views name their segments relative to the store (see :mod:`analytics.store._segments`), the
backup folder is itself a working store (``vigil --db DEST/vigil.duckdb info``). :func:`restore`
checks every file against the manifest, stages the copy beside the target, and moves it into place
(the store file last, atomically); an existing store is replaced only with ``force``, and is then
kept aside in ``<name>.before-restore-<UTC time>/``. Both are audited: a backup in the source store,
a restore in the restored one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from analytics import audit, audit_anchor, config, store
from analytics.errors import InvalidInputError, NotFoundError
from analytics.roles import Actor, require

MANIFEST = "vigil-backup.json"
FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BackupFile:
    """One copied file: its path relative to the backup folder, its size and sha256."""

    path: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class BackupManifest:
    """What a backup holds (``vigil-backup.json``)."""

    taken_at: str
    source: str
    store: BackupFile
    anchor: BackupFile | None
    segments: tuple[BackupFile, ...]
    artifacts: tuple[BackupFile, ...]
    schema_version: int
    audit_rows: int

    @property
    def files(self) -> tuple[BackupFile, ...]:
        """Every file of the backup, the store file last (it is what makes the rest visible)."""
        return (*self.segments, *self.artifacts, *((self.anchor,) if self.anchor else ()), self.store)

    @property
    def total_bytes(self) -> int:
        """Bytes of every file of the backup."""
        return sum(f.bytes for f in self.files)

    def to_json(self) -> str:
        """The manifest as JSON (the file's content)."""
        def entry(f: BackupFile | None) -> dict | None:
            return None if f is None else {"path": f.path, "bytes": f.bytes, "sha256": f.sha256}

        return json.dumps({"format": FORMAT, "taken_at": self.taken_at, "source": self.source,
                           "schema_version": self.schema_version, "audit_rows": self.audit_rows,
                           "store": entry(self.store), "anchor": entry(self.anchor),
                           "segments": [entry(f) for f in self.segments],
                           "artifacts": [entry(f) for f in self.artifacts]}, indent=1)

    @classmethod
    def read(cls, folder: Path) -> "BackupManifest":
        """Read the manifest of the backup in ``folder``.

        Raises
        ------
        NotFoundError
            No backup there, or one that never finished (no manifest).
        InvalidInputError
            A manifest Vigil cannot read.
        """
        path = Path(folder) / MANIFEST
        if not Path(folder).is_dir():
            raise NotFoundError(f"there is no backup folder at {folder}")
        if not path.is_file():
            raise NotFoundError(f"{folder} holds no {MANIFEST}: it is not a Vigil backup, or the backup did not "
                                "finish; take a new one with 'vigil backup'")
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}")

            def entry(d: dict | None) -> BackupFile | None:
                return None if d is None else BackupFile(str(d["path"]), int(d["bytes"]), str(d["sha256"]))

            return cls(str(data["taken_at"]), str(data["source"]), entry(data["store"]), entry(data["anchor"]),
                       tuple(entry(d) for d in data["segments"]), tuple(entry(d) for d in data["artifacts"]),
                       int(data["schema_version"]), int(data["audit_rows"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path} is not a manifest this Vigil can read ({exc}); "
                                    "was the backup taken by a newer Vigil?") from None


@dataclass(frozen=True)
class BackupResult:
    """A finished backup: where, what, and how long the store was held exclusively."""

    destination: Path
    manifest: BackupManifest
    held_seconds: float
    seconds: float

    def summary(self) -> str:
        """One paragraph for the command line."""
        m = self.manifest
        return (f"backed up {m.source} to {self.destination}: store file, "
                f"{'anchor file, ' if m.anchor else 'no anchor file (none beside the store), '}"
                f"{len(m.segments)} log segment(s), {len(m.artifacts)} artifact(s); {m.total_bytes / 1e6:,.1f} MB, "
                f"{m.audit_rows:,} audit rows, in {self.seconds:.2f} s (the store was held for "
                f"{self.held_seconds:.2f} s). The audit key is not in the backup: keep it apart.")


@dataclass(frozen=True)
class RestoreResult:
    """A finished restore: the restored store, where the replaced one went (if any)."""

    target: Path
    source: Path
    manifest: BackupManifest
    replaced: Path | None
    seconds: float

    def summary(self) -> str:
        """One paragraph for the command line."""
        kept = (f" The store it replaced was moved to {self.replaced} (delete it once you are sure)."
                if self.replaced else "")
        return (f"restored {self.target} from the backup taken {self.manifest.taken_at} at {self.source}: "
                f"{len(self.manifest.segments)} log segment(s), {self.manifest.total_bytes / 1e6:,.1f} MB, in "
                f"{self.seconds:.2f} s. Check it with 'vigil --db {self.target} audit verify'.{kept}")


def _copy_file(source: Path, target: Path, relative: str) -> BackupFile:
    """Copy one file (through ``<target>.part``, fsync'd, renamed), hashing it on the way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(partial, "wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    partial.replace(target)
    return BackupFile(relative, size, digest.hexdigest())


def _snapshot(source: Path, target: Path) -> Path:
    """Copy ``source`` to ``<target>.part`` as fast as the system can (no hashing: done after the hold)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(source, partial)
    return partial


def _seal(partial: Path, target: Path, relative: str) -> BackupFile:
    """Hash and fsync a snapshot, then rename it into place."""
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    partial.replace(target)
    return BackupFile(relative, target.stat().st_size, _sha256(target))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _empty_folder(destination: Path) -> Path:
    destination = Path(destination)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise InvalidInputError(f"{destination} exists and is not an empty folder: back up into a new folder "
                                "(for example one named after today's date)")
    destination.mkdir(parents=True, exist_ok=True)
    return destination


def _artifacts(con, root: Path) -> list[str]:
    """Artifacts of the store's versions that sit beside it, relative to its folder."""
    rows = con.execute("SELECT model_name, artifact_path FROM model_versions WHERE artifact_path IS NOT NULL "
                       "ORDER BY model_name, version").fetchall()
    beside = (Path("artifacts") / "models" / model / Path(path).name for model, path in rows)
    return [p.as_posix() for p in beside if (root / p).is_file()]


def backup(db: str | Path, destination: str | Path, actor: Actor) -> BackupResult:
    """Copy the store at ``db`` (file, anchor, log segments, artifacts) into the new folder ``destination``.

    Safe while the app and ingests run: the store file and anchor are copied under
    :func:`analytics.store.exclusive` (others wait, as for any unit of work), the immutable segments
    after it. The backup is audited in the source store (``store.backup``) once it is complete.

    Raises
    ------
    PermissionDeniedError
        ``actor`` may not back up the store.
    InvalidInputError
        ``destination`` exists and is not empty.
    NotFoundError
        No store at ``db``.
    """
    require(actor, "backup_store")
    started = time.perf_counter()
    db = Path(db).resolve()
    if not db.is_file():
        raise NotFoundError(f"there is no store at {db}")
    root = db.parent
    folder = _empty_folder(Path(destination)).resolve()
    if folder == root or folder.is_relative_to(store.logs_dir(db)):
        raise InvalidInputError(f"back up into a folder of its own, not into the store's folder {root}")

    anchor = audit_anchor.anchor_path(db)
    held = time.perf_counter()  # from asking for the store: opening and checkpointing are part of the hold
    with store.exclusive(db) as con:
        store_snapshot = _snapshot(db, folder / db.name)
        anchor_snapshot = _snapshot(anchor, folder / anchor.name) if anchor.is_file() else None
        segments = [(p, b) for p, b in con.execute("SELECT path, bytes FROM log_segments ORDER BY model_name, "
                                                   "ingest_id, part").fetchall()]
        artifacts = _artifacts(con, root)
        version = store.schema_version(con)
        audit_rows = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        held = time.perf_counter() - held

    copied_store = _seal(store_snapshot, folder / db.name, db.name)
    copied_anchor = _seal(anchor_snapshot, folder / anchor.name, anchor.name) if anchor_snapshot else None
    copied_segments = []
    for relative, size in segments:
        if not (root / relative).is_file():
            raise NotFoundError(f"the log segment {root / relative} disappeared during the backup (removed by "
                                f"'vigil retention apply'?); {folder} is unfinished: delete it and back up again")
        copied = _copy_file(root / relative, folder / relative, Path(relative).as_posix())
        if copied.bytes != size:
            raise InvalidInputError(f"the log segment {root / relative} has {copied.bytes} bytes, not the {size} "
                                    "the store registered: it was changed after its ingest; the backup is incomplete")
        copied_segments.append(copied)
    copied_artifacts = [_copy_file(root / p, folder / p, p) for p in artifacts]
    manifest = BackupManifest(datetime.now(timezone.utc).isoformat(timespec="seconds"), str(db), copied_store,
                              copied_anchor, tuple(copied_segments), tuple(copied_artifacts), version, audit_rows)
    (folder / MANIFEST).write_text(manifest.to_json())
    store.write(lambda con: audit.record(con, actor, "store.backup", "store", db.name, {
        "destination": str(folder), "segments": len(copied_segments), "bytes": manifest.total_bytes,
        "store_sha256": copied_store.sha256, "anchor": copied_anchor is not None, "audit_rows": audit_rows}), db)
    return BackupResult(folder, manifest, held, time.perf_counter() - started)


def _damaged(path: Path) -> InvalidInputError:
    return InvalidInputError(f"{path} differs from the backup's manifest (size or sha256): the backup was changed "
                             "or damaged; restore another backup")


def _check(folder: Path, manifest: BackupManifest) -> None:
    """Every file of the manifest is in the backup folder with its size; the artifacts with their sha256
    too (the other files' sha256 is checked as they are staged)."""
    for entry in manifest.files:
        path = folder / entry.path
        if not path.is_file():
            raise InvalidInputError(f"the backup at {folder} lacks {entry.path}: it is incomplete; restore "
                                    "another backup")
        if path.stat().st_size != entry.bytes or (entry in manifest.artifacts and _sha256(path) != entry.sha256):
            raise _damaged(path)


def _store_files(db: Path) -> list[Path]:
    """The paths that make up the store at ``db`` that exist now (file, write-ahead log, logs, anchor)."""
    candidates = (db, db.with_name(db.name + ".wal"), store.logs_dir(db), audit_anchor.anchor_path(db))
    return [p for p in candidates if p.exists()]


def _artifact_clashes(target_root: Path, manifest: BackupManifest) -> list[Path]:
    return [target_root / a.path for a in manifest.artifacts
            if (target_root / a.path).is_file() and _sha256(target_root / a.path) != a.sha256]


def restore(source: str | Path, actor: Actor, *, to: str | Path | None = None, force: bool = False) -> RestoreResult:
    """Bring back the backup in ``source`` as the store at ``to`` (default: where it was taken from).

    Every file is checked against the manifest (size, sha256) before the target is touched. An existing store at the target (or its logs,
    or its anchor file) is replaced only with ``force``; it is then moved aside, not deleted. The
    restore is audited in the restored store (``store.restore``).

    Raises
    ------
    PermissionDeniedError
        ``actor`` may not restore a store.
    NotFoundError
        ``source`` is not a finished backup.
    InvalidInputError
        A file of the backup is missing or changed; or a store exists at the target and ``force`` is
        not given; or an artifact of the same name with other content exists beside the target.
    """
    require(actor, "backup_store")
    started = time.perf_counter()
    folder = Path(source).resolve()
    manifest = BackupManifest.read(folder)
    target = Path(to if to is not None else manifest.source).resolve()
    if target.is_dir():
        raise InvalidInputError(f"{target} is a folder; name the store file to restore (for example "
                                f"{target / Path(manifest.store.path).name})")
    existing = _store_files(target)
    clashes = _artifact_clashes(target.parent, manifest)
    if (existing or clashes) and not force:
        what = ", ".join(str(p) for p in existing + clashes)
        raise InvalidInputError(f"restoring would replace {what}; pass --force to replace them (they are moved "
                                f"aside, not deleted), or restore elsewhere with --to")
    _check(folder, manifest)

    # Stage beside the target (same file system: the moves into place are renames).
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.restoring-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _stage(folder, manifest, staging, target)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = target.parent / f"{target.name}.before-restore-{stamp}" if existing or clashes else None
        _move_into_place(staging, target, aside)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for artifact in manifest.artifacts:
        placed = target.parent / artifact.path
        if placed.is_file() and _sha256(placed) == artifact.sha256:
            continue
        if placed.is_file() and aside is not None:
            (aside / artifact.path).parent.mkdir(parents=True, exist_ok=True)
            placed.replace(aside / artifact.path)
        _copy_file(folder / artifact.path, placed, artifact.path)

    store.write(lambda con: audit.record(con, actor, "store.restore", "store", target.name, {
        "source": str(folder), "backup_taken_at": manifest.taken_at, "backup_of": manifest.source,
        "store_sha256": manifest.store.sha256, "replaced_moved_to": str(aside) if aside else None}), target)
    return RestoreResult(target, folder, manifest, aside, time.perf_counter() - started)


def _stage(folder: Path, manifest: BackupManifest, staging: Path, target: Path) -> None:
    """Copy the backup's store, anchor and segments into ``staging`` under the target's names, checked.

    Segment paths in the store start with its logs folder (``vigil.logs/...``); restored under another
    name (``--to other.duckdb``) they are renamed to ``other.logs/...`` in the staged copy, so the
    restored store never reads another store's logs.
    """
    old_logs, new_logs = store.logs_dir(folder / manifest.store.path).name, store.logs_dir(target).name
    old_prefix, new_prefix = old_logs + "/", new_logs + "/"
    names = {manifest.store.path: target.name}
    if manifest.anchor is not None:
        names[manifest.anchor.path] = audit_anchor.anchor_path(target).name
    for entry in (*manifest.segments, *((manifest.anchor,) if manifest.anchor else ()), manifest.store):
        name = names.get(entry.path) or new_prefix + entry.path.removeprefix(old_prefix)
        if _copy_file(folder / entry.path, staging / name, name).sha256 != entry.sha256:
            raise _damaged(folder / entry.path)
    if old_prefix != new_prefix and manifest.segments:
        # A bare connection: opening through Vigil would first run an older store's migrations, whose
        # view rebuild would look for the segments under their old folder name.
        con = config.cap_threads(duckdb.connect(str(staging / target.name)))
        try:
            with store.transaction(con):
                store.rename_logs_folder(con, old_logs, new_logs)
            con.execute("CHECKPOINT")
        finally:
            con.close()


def _move_into_place(staging: Path, target: Path, aside: Path | None) -> None:
    """Swap the staged store in: logs and anchor first, the store file last (one atomic rename).

    An existing store is held exclusively meanwhile, so no process opens it half-swapped; its files
    move to ``aside``.
    """
    logs = store.logs_dir(target)
    anchor = audit_anchor.anchor_path(target)
    staged_logs, staged_anchor, staged_db = staging / logs.name, staging / anchor.name, staging / target.name

    def swap() -> None:
        if aside is not None:
            aside.mkdir()
        for current, staged in ((logs, staged_logs), (anchor, staged_anchor)):
            if current.exists():
                current.replace(aside / current.name)
            if staged.exists():
                staged.replace(current)
        wal = target.with_name(target.name + ".wal")
        if wal.exists():
            wal.replace(aside / wal.name)
        if target.exists():
            try:
                os.link(target, aside / target.name)
            except OSError:  # a file system without hard links
                shutil.copy2(target, aside / target.name)
        staged_db.replace(target)

    if target.is_file():
        with store.exclusive(target):
            swap()
    else:
        swap()
