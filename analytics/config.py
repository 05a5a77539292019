"""Where Vigil keeps its files, read from the environment.

``VIGIL_DB`` names the DuckDB file (default ``data/vigil.duckdb`` under the repository);
``VIGIL_DATA_DIR`` the folder for cached public data, artifacts and demo credentials;
``VIGIL_AUDIT_KEY_FILE`` the secret that authenticates the audit trail (kept outside ``data/``).
"""

from __future__ import annotations

import os
from pathlib import Path

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
