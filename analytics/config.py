"""Where Vigil keeps its files, read from the environment.

``VIGIL_DB`` names the DuckDB file (default ``data/vigil.duckdb`` under the repository);
``VIGIL_DATA_DIR`` the folder for cached public data, artifacts and demo credentials;
``VIGIL_AUDIT_KEY_FILE`` the secret that authenticates the audit trail (kept outside ``data/``);
``VIGIL_DUCKDB_THREADS`` caps the threads of each DuckDB connection (default: DuckDB's, one per core).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from analytics.errors import InvalidInputError

if TYPE_CHECKING:
    import duckdb

REPO_ROOT = Path(__file__).resolve().parent.parent


def share_cores() -> None:
    """Let idle OpenMP threads (LightGBM, scikit-learn) sleep instead of spinning, unless the environment says
    otherwise: a process that shares the cores (the app beside an ingest, two test workers) is then not
    slowed down threefold by another's waiting threads. Call it before LightGBM is first imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def data_dir() -> Path:
    """Return the data folder (``VIGIL_DATA_DIR``, default ``<repo>/data``)."""
    return Path(os.environ.get("VIGIL_DATA_DIR", REPO_ROOT / "data"))


def db_path() -> Path:
    """Return the path of the DuckDB store (``VIGIL_DB``, default ``<data dir>/vigil.duckdb``)."""
    env = os.environ.get("VIGIL_DB")
    return Path(env) if env else data_dir() / "vigil.duckdb"


def lock_timeout_seconds() -> float:
    """Return how long a unit of work waits for another process's lock (``VIGIL_LOCK_TIMEOUT``, 60 s)."""
    return float(os.environ.get("VIGIL_LOCK_TIMEOUT", "60"))


def cap_threads(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Cap the threads of a DuckDB connection's database at ``VIGIL_DUCKDB_THREADS``, if set (else DuckDB uses one
    per core), and return the connection: every DuckDB connection Vigil opens goes through it (the Spark
    engine's Ibis backend, :mod:`analytics.scaleout`, keeps DuckDB's default).

    Cap it where several processes share the cores (app servers beside an ingest, test workers): a query's threads
    then do not wait on each other for a core. A ``SET`` after connecting, not a connect option, so that a plain
    ``duckdb.connect`` of the same file in the process still shares the open database.

    Raises
    ------
    InvalidInputError
        When ``VIGIL_DUCKDB_THREADS`` is not a positive whole number.
    """
    value = os.environ.get("VIGIL_DUCKDB_THREADS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise InvalidInputError(f"VIGIL_DUCKDB_THREADS is {value!r}: set it to a positive whole number of "
                                    "threads (or unset it to let DuckDB use one per core)")
        con.execute(f"SET threads = {int(value)}")
    return con


def audit_key_path() -> Path:
    """Return the file holding the audit trail's secret key (``VIGIL_AUDIT_KEY_FILE``, default
    ``$XDG_CONFIG_HOME/vigil/audit.key``, that is ``~/.config/vigil/audit.key``).

    It lives outside ``data/`` on purpose: someone who can write the store file should not also hold
    the key (see docs/security.md).
    """
    env = os.environ.get("VIGIL_AUDIT_KEY_FILE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "vigil" / "audit.key"
