"""A store that can be moved, copied, backed up and restored (issue 18, section 5).

The views name their log segments relative to the store: a moved store reads its logs where they now
are, and a copy reads its own, never the original's. ``vigil backup`` takes a consistent copy while an
ingest runs in another process; ``vigil restore`` brings it back and its audit trail verifies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from analytics import audit, audit_anchor, backup, store
from analytics.cli import main
from analytics.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from analytics.ingest import ingest
from analytics.roles import Actor

REPO = Path(__file__).resolve().parent.parent


def _visible(db: Path, stem: str = "toy_model") -> int:
    return store.read(lambda con: con.execute(f"SELECT count(*) FROM {store.predictions_view(stem)}").fetchone()[0], db)


def _actions(db: Path) -> list[str]:
    return store.read(lambda con: [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()],
                      db)


@pytest.fixture
def filled(toy):
    """The toy store with 300 predictions in two segments."""
    ingest(toy.name, toy.predictions(300), db=toy.db, batch_rows=200)
    return toy


def test_moved_store_reads_its_logs_and_takes_new_ingests(filled, tmp_path_factory):
    """Moving the store's folder elsewhere: the views read the moved segments (they failed with
    'No files found' when they held absolute paths), and a new ingest lands beside the moved store."""
    moved = tmp_path_factory.mktemp("elsewhere") / "moved"
    filled.db.parent.rename(moved)
    db = moved / filled.db.name
    store.create(db)  # `vigil init` applies the migration (a read never upgrades)
    assert _visible(db) == 300
    ingest(filled.name, filled.predictions(10, prefix="m"), db=db)
    assert _visible(db) == 310


def test_copy_reads_its_own_logs_never_the_originals(filled, tmp_path_factory):
    """A ``cp -a`` copy is independent: changing the original's logs, then deleting the original, leaves
    the copy's answers unchanged (it read the original's files when the views held absolute paths)."""
    copy = tmp_path_factory.mktemp("copies") / "copy"
    subprocess.run(["cp", "-a", str(filled.db.parent), str(copy)], check=True)
    db = copy / filled.db.name
    before = store.read(lambda con: con.execute("SELECT round(sum(score), 6) FROM predictions_toy_model").fetchone()[0], db)
    # Alter the original: its segments are replaced by files with other rows.
    for segment in (filled.db.parent / "vigil.logs" / "toy_model").glob("*.parquet"):
        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{segment}') LIMIT 1) TO '{segment}' (FORMAT parquet)")
    assert _visible(db) == 300
    assert store.read(lambda con: con.execute("SELECT round(sum(score), 6) FROM predictions_toy_model").fetchone()[0],
                      db) == before
    shutil.rmtree(filled.db.parent)
    assert _visible(db) == 300


def test_bare_connection_reads_nothing_until_bound(filled, tmp_path):
    """A connection that did not say where the store is cannot read the views (rather than reading some
    other store's files); store.bind_store_folder makes them readable."""
    copy = store.copy_store(filled.db, tmp_path / "copy")
    con = duckdb.connect(str(copy), read_only=True)
    try:
        with pytest.raises(duckdb.Error, match="NULL"):
            con.execute("SELECT count(*) FROM predictions_toy_model").fetchone()
        assert store.bind_store_folder(con) == copy.parent.resolve()
        assert con.execute("SELECT count(*) FROM predictions_toy_model").fetchone()[0] == 300
    finally:
        con.close()


def test_store_with_absolute_views_is_upgraded_by_its_migration(filled, tmp_path_factory):
    """A store made before migration 20 (views over absolute paths), then moved: opening it applies
    the migration, which re-points the views at the moved segments."""
    con = duckdb.connect(str(filled.db))
    paths = [str(filled.db.parent / p) for (p,) in con.execute("SELECT path FROM log_segments").fetchall()]
    listed = ", ".join(f"'{p}'" for p in paths)
    con.execute(f"CREATE OR REPLACE VIEW predictions_toy_model AS SELECT * FROM read_parquet([{listed}])")
    con.execute("DELETE FROM schema_version WHERE version = 20")
    con.close()
    moved = tmp_path_factory.mktemp("elsewhere") / "moved"
    filled.db.parent.rename(moved)
    db = moved / filled.db.name
    store.create(db)  # `vigil init` applies the migration (a read never upgrades)
    assert _visible(db) == 300
    sql = store.read(lambda con: con.execute(
        "SELECT sql FROM duckdb_views() WHERE view_name = 'predictions_toy_model'").fetchone()[0], db)
    assert str(filled.db.parent) not in sql and "getvariable" in sql


def test_moved_store_without_its_logs_says_what_is_missing(filled, tmp_path):
    """Rebuilding the views of a store moved without its logs names the missing folder."""
    moved = tmp_path / "alone"
    moved.mkdir()
    shutil.copy2(filled.db, moved / filled.db.name)
    with pytest.raises(InvalidInputError, match="moved or copied together with its '<name>.logs' folder"):
        store.write(store.rebuild_views, moved / filled.db.name)


_INGEST_LOOP = r"""
import sys
from pathlib import Path
from analytics.ingest import ingest
db, stop, files = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
for path in files:  # a stream of ingests, until told to stop
    if stop.exists():
        break
    report = ingest("toy-model", path, db=db, batch_rows=250)
    print(report.status, report.rows_loaded, flush=True)
"""
ROWS = 500


def test_backup_during_a_concurrent_ingest_restores_and_verifies(toy, tmp_path):
    """``vigil backup`` while another process ingests: the backup holds whole ingests only (its rows
    match its committed ingests and their audit rows), later ingests land in the source meanwhile,
    and the restored copy reads the same and its audit trail verifies. Both commands are audited."""
    files = []
    for i in range(40):
        path = tmp_path / f"batch{i}.parquet"
        toy.predictions(ROWS, start=i * ROWS).to_parquet(path)
        files.append(str(path))
    stop = tmp_path / "stop"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _INGEST_LOOP, str(toy.db), str(stop), *files],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().split() == ["committed", str(ROWS)]  # the ingests are under way
        assert main(["--db", str(toy.db), "backup", str(tmp_path / "backup")]) == 0
        after = child.stdout.readline().split()  # the stream went on: one more ingest landed after the backup
        stop.touch()
        rest = child.stdout.read()
    finally:
        child.wait(timeout=120)
    assert child.returncode == 0, rest
    assert after == ["committed", str(ROWS)]
    landed = len(rest.splitlines()) + 2
    assert landed < len(files) and _visible(toy.db) == landed * ROWS

    manifest = json.loads((tmp_path / "backup" / backup.MANIFEST).read_text())
    copied = tmp_path / "backup" / toy.db.name
    in_backup = _visible(copied)
    committed = store.read(lambda con: con.execute(
        "SELECT count(*) FROM ingests WHERE status = 'committed'").fetchone()[0], copied)
    assert in_backup == committed * ROWS and 1 <= committed < landed  # whole ingests; some landed after it
    assert _actions(copied).count("ingest.commit") == committed
    assert len(manifest["segments"]) == store.read(lambda con: con.execute(
        "SELECT count(*) FROM log_segments").fetchone()[0], copied)
    assert "store.backup" in _actions(toy.db) and "store.backup" not in _actions(copied)

    restored = tmp_path / "restored" / "vigil.duckdb"
    assert main(["restore", str(tmp_path / "backup"), "--to", str(restored)]) == 0
    assert _visible(restored) == in_backup
    assert main(["--db", str(restored), "audit", "verify"]) == 0
    assert _actions(restored)[-1] == "store.restore"
    status = store.read(audit.verify, restored)
    assert status.intact and status.anchored_seq == status.rows  # the anchor came along and took the restore row


def test_restore_refuses_to_replace_without_force_and_keeps_the_replaced_store(filled, tmp_path, capsys):
    """Restoring over an existing store needs --force; the replaced store is moved aside, not lost."""
    backup.backup(filled.db, tmp_path / "b", filled.actor)
    ingest(filled.name, filled.predictions(5, prefix="late"), db=filled.db)
    assert main(["restore", str(tmp_path / "b")]) == 1
    assert "pass --force" in capsys.readouterr().err
    assert _visible(filled.db) == 305
    assert main(["restore", str(tmp_path / "b"), "--force"]) == 0
    assert _visible(filled.db) == 300
    aside = next(filled.db.parent.glob("vigil.duckdb.before-restore-*"))
    assert _visible(aside / "vigil.duckdb") == 305
    assert store.read(audit.verify, filled.db).intact


def test_restore_under_another_name_never_reads_the_originals_logs(filled, tmp_path):
    """Restored beside the original as other.duckdb, the copy's logs are other.logs, and the original's
    logs can be deleted without the copy noticing."""
    backup.backup(filled.db, tmp_path / "b", filled.actor)
    other = filled.db.parent / "other.duckdb"
    backup.restore(tmp_path / "b", filled.actor, to=other)
    assert (filled.db.parent / "other.logs" / "toy_model").is_dir()
    shutil.rmtree(filled.db.parent / "vigil.logs")
    assert _visible(other) == 300


def test_backup_copies_the_anchor_and_artifacts_but_never_the_audit_key(filled, tmp_path, monkeypatch):
    """The anchor file beside the store and the artifacts beside it are in the backup; the audit key,
    even when kept in the store's folder, is not; nor are the ingest lock or unfinished segments."""
    key = filled.db.parent / "audit.key"
    shutil.copy2(os.environ["VIGIL_AUDIT_KEY_FILE"], key)  # the same key, kept (unwisely) beside the store
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", str(key))
    (filled.db.parent / "vigil.logs" / "toy_model" / "0000000099-00001.parquet.part").write_bytes(b"unfinished")
    anchor = audit_anchor.anchor_path(filled.db)
    assert anchor.is_file()
    artifact = filled.db.parent / "artifacts" / "models" / filled.name / "v1.txt"
    artifact.parent.mkdir(parents=True)
    artifact.write_text("a model")
    store.write(lambda con: con.execute("UPDATE model_versions SET artifact_path = ? WHERE version = 'v1'",
                                        [str(artifact)]), filled.db)
    anchor_bytes = anchor.read_bytes()
    result = backup.backup(filled.db, tmp_path / "b", filled.actor)
    names = {p.relative_to(tmp_path / "b").as_posix() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert names == {"vigil.duckdb", "vigil.duckdb.anchor", "artifacts/models/toy-model/v1.txt", backup.MANIFEST,
                     "vigil.logs/toy_model/0000000001-00001.parquet", "vigil.logs/toy_model/0000000001-00002.parquet"}
    assert (tmp_path / "b" / "vigil.duckdb.anchor").read_bytes() == anchor_bytes
    assert result.manifest.anchor is not None and len(result.manifest.artifacts) == 1


def test_damaged_or_unfinished_backup_is_refused(filled, tmp_path):
    """A backup whose file changed, or that has no manifest, is not restored; the target is untouched."""
    backup.backup(filled.db, tmp_path / "b", filled.actor)
    target = tmp_path / "r" / "vigil.duckdb"
    segment = next((tmp_path / "b" / "vigil.logs" / "toy_model").glob("*.parquet"))
    segment.write_bytes(segment.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(InvalidInputError, match="differs from the backup's manifest"):
        backup.restore(tmp_path / "b", filled.actor, to=target)
    assert not target.exists() and not target.parent.exists() or not any(target.parent.iterdir())
    (tmp_path / "b" / backup.MANIFEST).unlink()
    with pytest.raises(NotFoundError, match="did not finish"):
        backup.restore(tmp_path / "b", filled.actor, to=target)
    with pytest.raises(InvalidInputError, match="not an empty folder"):
        backup.backup(filled.db, tmp_path / "b", filled.actor)


def test_only_an_admin_backs_up_or_restores(filled, tmp_path):
    """Backing up and restoring are admin capabilities."""
    analyst = Actor("ann", "analyst")
    with pytest.raises(PermissionDeniedError):
        backup.backup(filled.db, tmp_path / "b", analyst)
    assert not (tmp_path / "b").exists()
    backup.backup(filled.db, tmp_path / "b", Actor("ada", "admin"))
    with pytest.raises(PermissionDeniedError):
        backup.restore(tmp_path / "b", analyst, to=tmp_path / "r" / "vigil.duckdb")
