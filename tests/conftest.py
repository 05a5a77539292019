"""Shared fixtures: a private DuckDB store per test, a small registered toy model, row builders.

Every test gets its own store under ``tmp_path`` (and ``VIGIL_DB`` points at it), so tests are
independent and run in parallel under pytest-xdist.

Test modules reach the helpers through fixtures (``toy.predictions(n)``, ``toy.counts()``, ...), not
with ``from conftest import``: pytest swaps the module called ``conftest`` when another folder has
its own conftest.py, and spawned child processes would import whichever comes first on sys.path.
"""

from __future__ import annotations

import os
import socket

# Two test workers share two cores. LightGBM's OpenMP threads spin while they wait by default, and two
# spinning processes slow each other down threefold (two demo builds: 97 s instead of 31 s). Waiting
# threads sleep instead (as analytics.config.share_cores sets for the app and the CLI); set before any
# worker loads the OpenMP runtime (workers inherit it).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Three workers, their app servers, Chromium and Spark share two cores: each DuckDB connection runs one thread
# (analytics.config.cap_threads), since a query's second thread only waits for a core the others hold
# (the same tests took ~12% fewer CPU-s and less time, measured in alternating runs on 2 cores, 2026-12-07).
os.environ.setdefault("VIGIL_DUCKDB_THREADS", "1")

import atexit  # noqa: E402
import functools  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

# The audit trail's key is generated on first use; tests (and the app and CLI processes they start, which
# inherit the environment) keep theirs in a private temporary folder, never in the home directory. The
# workers of one xdist run share one key, so that the demo store one worker builds verifies in the others
# (see ``demo_store``); it is published whole (written aside, then linked into place), never half-written.
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID")
if _RUN:
    _AUDIT_KEY_DIR = os.path.join(tempfile.gettempdir(), f"vigil-test-key-{_RUN}")
    os.makedirs(_AUDIT_KEY_DIR, mode=0o700, exist_ok=True)
else:
    _AUDIT_KEY_DIR = tempfile.mkdtemp(prefix="vigil-test-key-")
    atexit.register(shutil.rmtree, _AUDIT_KEY_DIR, ignore_errors=True)
AUDIT_KEY_FILE = os.path.join(_AUDIT_KEY_DIR, "audit.key")
os.environ["VIGIL_AUDIT_KEY_FILE"] = AUDIT_KEY_FILE
if not os.path.exists(AUDIT_KEY_FILE):
    import secrets  # noqa: E402

    _draft = f"{AUDIT_KEY_FILE}.{os.getpid()}"
    with open(os.open(_draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as _handle:
        _handle.write(secrets.token_hex(32) + "\n")
    try:
        os.link(_draft, AUDIT_KEY_FILE)
    except FileExistsError:  # another worker published first: use theirs
        pass
    os.unlink(_draft)

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from argon2 import PasswordHasher, profiles

from analytics import registry, store, users
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor

#: The acting identity of fixtures (a command-line operator).
SYSTEM = Actor("cli:tests", "system")
TOY_MODEL = "toy-model"
TOY_STEM = "toy_model"
TOY_VERSIONS = ("v1", "v2")
#: Predictions of the toy model start here (well in the past, so never "in the future").
BASE_TIME = datetime(2025, 3, 1, 8, 0, 0)

TOY_SCHEMA = LogSchema(
    columns=(
        Column("AGE", "integer", description="age in years"),
        Column("income", "double"),
        Column("region", "categorical", role="segment"),
        Column("is_member", "boolean"),
        Column("gender", "categorical", role="attribute", sensitive=True),
    ),
    positive_class="default", favourable_decision=0,
)


#: The application's password hasher (argon2id, 64 MiB, 3 passes, 4 lanes: ~0.2 CPU-s per hash or check).
_PRODUCTION_HASHER = users._hasher


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """argon2id at argon2's cheapest parameters (its profile for tests) in the test process: every sign-in
    and user in the suite would otherwise cost ~0.2 CPU-s. A hash carries its parameters, so hashes made
    either way verify; :func:`production_hasher` pins the application's parameters."""
    patch = pytest.MonkeyPatch()
    patch.setattr(users, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    yield
    patch.undo()


@pytest.fixture(scope="session", autouse=True)
def one_component_scan_per_process():
    """Streamlit's scan of every installed distribution for v2 components, made once per test process.

    Each new ``AppTest`` scans the metadata of all installed packages for component manifests (Streamlit
    1.67, ``BidiComponentManager.discover_and_register_components``): ~0.7 CPU-s per AppTest, ~150 CPU-s
    over the suite. The installed packages do not change while the tests run, so the first scan's answer
    serves the others; the app servers the browser tests start scan once each, as in production."""
    from streamlit.components.v2 import manifest_scanner

    patch = pytest.MonkeyPatch()
    patch.setattr(manifest_scanner, "scan_component_manifests",
                  functools.cache(manifest_scanner.scan_component_manifests))
    yield
    patch.undo()


#: How many tests that need no demo store run before the Spark group is handed out (see the ordering below).
_BEFORE_SPARK = 100


def _group(item: pytest.Item) -> str | None:
    marks = [m.args[0] for m in item.iter_markers("xdist_group") if m.args]
    return marks[0] if marks else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the tests so that two cores stay busy while one worker builds the shared demo store.

    ``make test`` runs ``pytest -n 3 --dist loadgroup --no-loadscope-reorder``: xdist hands out groups and
    single tests in this order. The browser page walks come first (their first test builds the demo, ~90
    CPU-s), then the onboarded model's browser group (its first test needs no demo), then the model-agnostic
    SHAP group, then tests that need no demo; the Spark and governance browser groups, which start by waiting
    for the demo, are handed out once about a hundred of those have run, and the tests that read the demo
    come last, when it is built. By xdist's default order (largest group first) every group waited for the
    demo at once and a core stood idle for two minutes.
    """
    def needs_demo(item: pytest.Item) -> bool:
        return "demo_store" in getattr(item, "fixturenames", ())

    by_group: dict[str, list[pytest.Item]] = {}
    single: list[pytest.Item] = []
    for item in items:
        group = _group(item)
        (by_group.setdefault(group, []) if group else single).append(item)
    own_model = by_group.get("e2e-own-model", [])
    own_model.sort(key=lambda item: item.path.name != "test_own_model_browser.py")  # needs no demo: first
    free = [item for item in single if not needs_demo(item)]
    reading = [item for item in single if needs_demo(item)]
    first = ["e2e", "e2e-own-model", "shap-agnostic"]
    then = ["spark", "e2e-governance"]
    ordered = [item for name in first for item in by_group.pop(name, [])]
    ordered += free[:_BEFORE_SPARK]
    ordered += [item for name in then for item in by_group.pop(name, [])]
    ordered += free[_BEFORE_SPARK:] + [item for rest in by_group.values() for item in rest] + reading
    assert len(ordered) == len(items)
    items[:] = ordered


@pytest.fixture
def production_hasher(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """The application's own argon2 hasher, put back in place for one test."""
    monkeypatch.setattr(users, "_hasher", _PRODUCTION_HASHER)
    return _PRODUCTION_HASHER


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Path of a store file not created yet in ``tmp_path`` (see :func:`created_db`); ``VIGIL_DB`` points at it, ``VIGIL_AUDIT_KEY_FILE`` at the
    test session's audit key (outside the home directory)."""
    path = tmp_path / "vigil.duckdb"
    monkeypatch.setenv("VIGIL_DB", str(path))
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", AUDIT_KEY_FILE)
    monkeypatch.setenv("VIGIL_LOCK_TIMEOUT", "60")
    return path


@pytest.fixture
def created_db(db: Path) -> Path:
    """``db`` created at the current schema, as ``vigil init`` leaves it: for a test that reads before it
    writes (a read never creates a store)."""
    store.create(db)
    return db


@dataclass(frozen=True)
class ToyModel:
    """The registered toy model: its store, name, table stem and versions, with row builders."""

    db: Path
    name: str = TOY_MODEL
    stem: str = TOY_STEM
    versions: tuple[str, ...] = TOY_VERSIONS
    schema: LogSchema = TOY_SCHEMA
    actor: Actor = SYSTEM

    def predictions(self, n: int, *, start: int = 0, prefix: str = "p") -> pd.DataFrame:
        """``n`` valid prediction rows (see :func:`predictions`)."""
        return predictions(n, start=start, prefix=prefix)

    def outcomes(self, preds: pd.DataFrame, *, delay: timedelta = timedelta(days=30)) -> pd.DataFrame:
        """One valid outcome per prediction row (see :func:`outcomes`)."""
        return outcomes(preds, delay=delay)

    def counts(self) -> dict[str, int]:
        """Row counts of the views, physical tables and quarantine (see :func:`counts`)."""
        return counts(self.db, self.stem)


def register_toy_model(path: Path) -> ToyModel:
    """Register the toy model and its versions v1 (threshold 0.5) and v2 (0.4, child of v1)."""

    def work(con):
        registry.register_model(con, SYSTEM, TOY_MODEL, TOY_SCHEMA, owner="tests", description="toy")
        registry.register_version(con, SYSTEM, TOY_MODEL, "v1", threshold=0.5, owner="tests",
                                  at=datetime(2025, 1, 1))
        registry.register_version(con, SYSTEM, TOY_MODEL, "v2", threshold=0.4, owner="tests",
                                  parent_version="v1", at=datetime(2025, 2, 1))

    store.write(work, path)
    return ToyModel(path)


@pytest.fixture(scope="session")
def toy_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy model's store, registered once per test process (a fresh store and its registration cost
    ~0.12 CPU-s; copying the folder ~2 ms). Tests get private copies through :func:`toy`."""
    return register_toy_model(tmp_path_factory.mktemp("toy") / "vigil.duckdb").db


@pytest.fixture
def toy(db: Path, toy_template: Path) -> ToyModel:
    """A store holding the registered toy model with versions v1 and v2: a private copy of
    :func:`toy_template` at ``db`` (the store file and its audit anchor beside it)."""
    shutil.copytree(toy_template.parent, db.parent, dirs_exist_ok=True)
    return ToyModel(db)


def predictions(n: int, *, start: int = 0, prefix: str = "p") -> pd.DataFrame:
    """Return ``n`` valid, deterministic prediction rows of the toy model (ids ``p000000``...).

    Rows alternate between v1 (champion) and v2 (challenger); timestamps advance one minute a row
    from :data:`BASE_TIME`. Column dtypes are exactly the declared ones (no NaN anywhere).
    """
    idx = np.arange(start, start + n)
    rng = np.random.default_rng(1234 + start)
    return pd.DataFrame({
        "prediction_id": pd.Series(idx).map(lambda i: f"{prefix}{i:06d}").to_numpy(dtype=object),
        "predicted_at": pd.Timestamp(BASE_TIME) + pd.to_timedelta(idx, unit="min"),
        "model_version": np.where(idx % 2 == 0, "v1", "v2"),
        "deployment_role": np.where(idx % 2 == 0, "champion", "challenger"),
        "score": np.round(rng.uniform(0, 1, n), 6),
        "decision": (idx % 3 == 0).astype("int64"),
        "latency_ms": np.round(rng.uniform(1, 50, n), 3),
        "cost": np.full(n, 0.002),
        "AGE": (20 + idx % 50).astype("int64"),
        "income": np.round(rng.uniform(1000, 9000, n), 2),
        "region": np.where(idx % 4 == 0, "north", "south"),
        "is_member": idx % 2 == 1,
        "gender": np.where(idx % 3 == 0, "f", "m"),
    })


def outcomes(preds: pd.DataFrame, *, delay: timedelta = timedelta(days=30)) -> pd.DataFrame:
    """Return one valid outcome per prediction row, observed ``delay`` after the prediction."""
    n = len(preds)
    return pd.DataFrame({
        "prediction_id": preds["prediction_id"].to_numpy(),
        "observed_at": preds["predicted_at"] + delay,
        "label": (np.arange(n) % 2).astype("int64"),
        "business_value": np.round(np.linspace(-100.0, 100.0, n), 2),
    })


def segment_rows(path: Path, stem: str = TOY_STEM) -> int:
    """Rows in Parquet files kept beside the store for a model (``<store>.logs/<stem>/``), if any."""
    folder = path.parent / f"{path.stem}.logs" / stem
    return sum(pq.ParquetFile(f).metadata.num_rows for f in sorted(folder.glob("*.parquet"))) if folder.is_dir() else 0


def counts(path: Path, stem: str = TOY_STEM) -> dict[str, int]:
    """Rows visible through the views, physically stored, and quarantined.

    ``log`` counts every prediction row physically kept for the model, whatever the layout: the
    ``log_<stem>`` table plus any Parquet segment files beside the store. It shows rows that a
    rejected or interrupted ingest would have left behind.
    """

    def work(con):
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "visible": one(f"SELECT count(*) FROM {store.predictions_view(stem)}"),
            "log": one(f"SELECT count(*) FROM {store.log_table(stem)}") + segment_rows(path, stem),
            "outcomes_visible": one(f"SELECT count(*) FROM {store.outcomes_view(stem)}"),
            "outcome_log": one(f"SELECT count(*) FROM {store.outcome_table(stem)}"),
            "quarantine": one("SELECT count(*) FROM quarantine"),
        }

    return store.read(work, path)


def issue_token_file(path: Path, username: str, folder: Path) -> Path:
    """Issue a personal API token of ``username`` in the store at ``path`` and write it to a file in ``folder``."""
    from analytics import tokens

    issued = store.write(lambda con: tokens.issue_token(con, SYSTEM, username, label="tests"), path)
    file = folder / f"token-{issued.token_id}-{username}"
    file.write_text(issued.text + "\n")
    return file


@pytest.fixture
def as_person(tmp_path: Path):
    """``as_person(db, username)`` -> ``["--token-file", FILE]``: CLI arguments proving ``username``.

    Governance and admin commands act for a proven person (``analytics.cli_identity``); append these
    to such a command: ``main(["--db", db, "governance", "approve", ..., *as_person(db, "pat")])``. One
    token per store and user, issued on first use.
    """
    issued: dict[tuple[str, str], Path] = {}

    def arguments(path: str | Path, username: str) -> list[str]:
        key = (str(path), username)
        if key not in issued:
            issued[key] = issue_token_file(Path(path), username, tmp_path)
        return ["--token-file", str(issued[key])]

    return arguments


@pytest.fixture
def act_as(as_person, monkeypatch: pytest.MonkeyPatch):
    """``act_as(db, username)``: every later CLI command of the test acts for ``username`` (``VIGIL_TOKEN``)."""

    def use(path: str | Path, username: str) -> None:
        monkeypatch.setenv("VIGIL_TOKEN", Path(as_person(path, username)[1]).read_text().strip())

    return use


@pytest.fixture(scope="session")
def toy_schema() -> LogSchema:
    """The declared log schema of the toy model."""
    return TOY_SCHEMA


@pytest.fixture(scope="session")
def make_predictions():
    """Builder of valid prediction frames: ``make_predictions(n, start=0)``."""
    return predictions


@pytest.fixture(scope="session")
def make_outcomes():
    """Builder of valid outcome frames for given predictions."""
    return outcomes


@pytest.fixture
def store_counts():
    """``store_counts(db)`` -> row counts of the toy model's views, tables and the quarantine."""
    return counts


#: End of the production window of the test demo: fixed, so the demo's data are the same every run.
DEMO_END = datetime(2026, 11, 1)
DEMO_ROWS = 60_000
#: Store-wide settings of the test demo: 20 SHAP values kept per version and day instead of 250 (the kept SHAP
#: values were 90 of the build's 145 CPU-s; the Explanations page computes the others a window needs) and global
#: SHAP on 1,000 sampled rows instead of 5,000 (the reference sample's SHAP values: 79 -> 71 CPU-s of the build, and
#: less for every page and test that explains a window).
DEMO_SETTINGS = {"explain.kept_shap_rows_per_day": 20, "explain.sample_rows": 1000}


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory):
    """A demo portfolio (60,000 credit-default rows, window ending 2026-11-01, :data:`DEMO_SETTINGS`), built once
    per test run.

    The first worker that needs it builds it (``shared_build.built_once``; ~30 s) and every worker gets
    its own copy of the built store folder. Returns the :class:`analytics.demo.DemoSummary` (``.db``,
    ``.credentials``, ``.end``) of the copy. Treat the store as read-only: other tests share it.
    """
    from analytics.demo import DemoSummary, build_demo
    from analytics.demo._build import credentials_path
    from shared_build import built_once

    def build(folder: Path) -> dict:
        summary = build_demo(folder / "vigil.duckdb", rows=DEMO_ROWS, end=DEMO_END, setting_values=DEMO_SETTINGS)
        return {"seed": summary.seed, "rows": summary.rows, "outcomes": summary.outcomes,
                "credentials": summary.credentials}

    folder, facts = built_once(tmp_path_factory, "demo", build)
    db = store.copy_store(folder / "vigil.duckdb", tmp_path_factory.mktemp("demo") / "store")
    return DemoSummary(db=db, end=DEMO_END, seed=facts["seed"], rows=facts["rows"], outcomes=facts["outcomes"],
                       credentials={u: tuple(v) for u, v in facts["credentials"].items()},
                       credentials_file=credentials_path(db))


@pytest.fixture
def smtp_receiver():
    """An aiosmtpd server on a free local port; yields (port, messages) with each message's envelope and text."""
    from aiosmtpd.controller import Controller

    messages: list[dict] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                             "text": envelope.content.decode("utf8", "replace")})
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd checks its port by connecting to it, so it cannot take port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, messages
    controller.stop()
