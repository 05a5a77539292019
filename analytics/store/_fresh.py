"""A new store in one step: a copy of a store that this process migrated once from nothing.

Running every migration on a new file costs about 0.15 CPU-s (each migration is a transaction of its
own); copying the file they leave costs a few milliseconds. The first new store of a process is
therefore migrated in a private folder from nothing, exactly as an old file would be upgraded (so a
migration added later is in it without anyone listing it here), and that file's bytes are kept; each new
store is a copy of them, finished with what lies outside the database file:

- the migrations' rows in ``schema_version`` say when this store was made (not the template);
- the audit trail's anchor file beside the store starts at the empty trail's head (migration 14's step).

tests/test_store.py checks that a store made this way equals one migrated from nothing: the same
catalogue, the same rows and the same files beside it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import duckdb

from analytics import audit_anchor, config
from analytics.store._migrations import migrate

_template: bytes | None = None
_template_lock = threading.Lock()


def _template_bytes() -> bytes:
    """The bytes of a store migrated from nothing to the current schema, made once per process."""
    global _template
    with _template_lock:
        if _template is None:
            with tempfile.TemporaryDirectory(prefix="vigil-new-store-") as folder:
                path = Path(folder) / "template.duckdb"
                con = config.cap_threads(duckdb.connect(str(path)))
                try:
                    migrate(con)
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
                _template = path.read_bytes()
        return _template


def create_new(path: Path) -> bool:
    """Put a copy of the template at ``path`` unless a file is already there; True when this call did.

    The copy is written aside and linked into place, so no process ever opens a half-written file; when
    another process or thread creates the file first, theirs is kept. The caller opens the store and
    finishes it with :func:`finish_new`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    draft.write_bytes(_template_bytes())
    try:
        os.link(draft, path)
        return True
    except OSError:  # the file exists now (theirs is kept), or this file system has no hard links (migrate it)
        return False
    finally:
        draft.unlink()


def finish_new(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """What a migration from nothing leaves beyond the template's file, for the new store at ``path``: the
    migrations' rows dated now, and the anchor file started at the trail's current head (migration 14)."""
    con.execute("UPDATE schema_version SET applied_at = now()::TIMESTAMP")
    audit_anchor.anchor_head(con, path, create=True)
